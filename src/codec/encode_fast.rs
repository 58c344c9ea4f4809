//! Fast paths of the encoder for the packets a client sends most: PUBLISH, SUBSCRIBE and
//! CONNECT.
//!
//! Each one checks every rule the general encoder ([`super::encode`]) checks for its packet, in
//! one pass that also sizes the packet, then writes the packet into space reserved once,
//! without checking again. A fast path only ever accepts: when a rule looks broken (or the
//! packet has a shape it does not handle, such as a list decoded off the wire) it answers
//! `None` having written nothing, and the general encoder runs instead and reports the exact
//! error. Errors, and which of several comes first, are therefore the general encoder's.

use super::packet::{Connect, Packet, Publish, Subscribe};
use super::properties::{Properties, PropertyContext};
use super::subscription::SubscriptionOptions;
use super::types::{ProtocolVersion, QoS};
use super::wire::{plain_valid_filter, str_ok, topic_name_ok, var_int_len, Sink, MAX_VAR_INT};
use alloc::vec::Vec;

/// Appends `p` to `out` and returns its size, if `p` is a packet with a fast path and breaks no
/// rule; otherwise writes nothing and returns `None`.
#[inline]
pub(super) fn encode(
    p: &Packet<'_>,
    v: ProtocolVersion,
    max: u32,
    out: &mut Vec<u8>,
) -> Option<usize> {
    match p {
        Packet::Publish(p) => publish(p, v, max, out),
        Packet::Subscribe(s) => subscribe(s, v, max, out),
        Packet::Connect(c) => connect(c, max, out),
        _ => None,
    }
}

#[inline]
fn publish(p: &Publish<'_>, v: ProtocolVersion, max: u32, out: &mut Vec<u8>) -> Option<usize> {
    let v5 = v.is_v5();
    // v5 MQTT-3.3.1-2, v3.1.1 MQTT-3.3.1-2 (DUP only with QoS > 0); an empty topic (v5 with a
    // topic alias) takes the general path.
    if (p.dup && p.qos == QoS::AtMostOnce) || !topic_name_ok(p.topic.as_bytes()) {
        return None;
    }
    let id = match (p.qos, p.packet_id) {
        (QoS::AtMostOnce, _) => 0,
        (_, 0) => return None,
        _ => 2,
    };
    let props = props_len(&p.properties, v, PropertyContext::Publish)?;
    let remaining = 2 + p.topic.len() + id + props_field(v5, props) + p.payload.len();
    let size = total(remaining, max)?;
    out.reserve(size);
    let first = 0x30 | (p.dup as u8) << 3 | (p.qos as u8) << 1 | p.retain as u8;
    header(out, first, remaining);
    put_str(out, p.topic);
    if id != 0 {
        out.extend_from_slice(&p.packet_id.to_be_bytes());
    }
    if v5 {
        put_props(out, &p.properties, props);
    }
    out.extend_from_slice(p.payload);
    Some(size)
}

#[inline]
fn subscribe(p: &Subscribe<'_>, v: ProtocolVersion, max: u32, out: &mut Vec<u8>) -> Option<usize> {
    let subs = p.subscriptions.as_slice()?;
    if subs.is_empty() || p.packet_id == 0 {
        return None;
    }
    let v5 = v.is_v5();
    let props = props_len(&p.properties, v, PropertyContext::Subscribe)?;
    let mut remaining = 2 + props_field(v5, props);
    for s in subs {
        // A plain valid filter is no shared subscription, so No Local is allowed on it
        // (v5 MQTT-3.8.3-4); 3.1.1 has the QoS alone (v3.1.1 §3.8.3.1).
        if !plain_valid_filter(s.filter.as_bytes())
            || (!v5 && s.options != SubscriptionOptions::qos(s.options.qos))
        {
            return None;
        }
        remaining += 3 + s.filter.len();
    }
    let size = total(remaining, max)?;
    out.reserve(size);
    header(out, 0x82, remaining);
    out.extend_from_slice(&p.packet_id.to_be_bytes());
    if v5 {
        put_props(out, &p.properties, props);
    }
    for s in subs {
        put_str(out, s.filter);
        out.push(if v5 {
            s.options.to_byte()
        } else {
            s.options.qos as u8
        });
    }
    Some(size)
}

#[inline]
fn connect(c: &Connect<'_>, max: u32, out: &mut Vec<u8>) -> Option<usize> {
    let v = c.protocol;
    let v5 = v.is_v5();
    if !v5
        && ((c.password.is_some() && c.username.is_none())
            || (c.client_id.is_empty() && !c.clean_start))
    {
        return None;
    }
    let props = props_len(&c.properties, v, PropertyContext::Connect)?;
    if !str_ok(c.client_id) {
        return None;
    }
    // Protocol name (6), level, flags, keep alive (2).
    let mut remaining = 10 + props_field(v5, props) + 2 + c.client_id.len();
    let mut will_props = 0;
    if let Some(w) = &c.will {
        will_props = props_len(&w.properties, v, PropertyContext::Will)?;
        if !topic_name_ok(w.topic.as_bytes()) || w.payload.len() > usize::from(u16::MAX) {
            return None;
        }
        remaining += props_field(v5, will_props) + 4 + w.topic.len() + w.payload.len();
    }
    if let Some(u) = c.username {
        if !str_ok(u) {
            return None;
        }
        remaining += 2 + u.len();
    }
    if let Some(pw) = c.password {
        if pw.len() > usize::from(u16::MAX) {
            return None;
        }
        remaining += 2 + pw.len();
    }
    let size = total(remaining, max)?;
    out.reserve(size);
    header(out, 0x10, remaining);
    let mut flags = (c.clean_start as u8) << 1;
    if let Some(w) = &c.will {
        flags |= 0b100 | (w.qos as u8) << 3 | (w.retain as u8) << 5;
    }
    flags |= (c.password.is_some() as u8) << 6 | (c.username.is_some() as u8) << 7;
    let [ka_hi, ka_lo] = c.keep_alive.to_be_bytes();
    out.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', v.level(), flags, ka_hi, ka_lo]);
    if v5 {
        put_props(out, &c.properties, props);
    }
    put_str(out, c.client_id);
    if let Some(w) = &c.will {
        if v5 {
            put_props(out, &w.properties, will_props);
        }
        put_str(out, w.topic);
        put_bin(out, w.payload);
    }
    if let Some(u) = c.username {
        put_str(out, u);
    }
    if let Some(pw) = c.password {
        put_bin(out, pw);
    }
    Some(size)
}

/// The length of a property block after checking it (`Some(0)` when empty): in 3.1.1, where
/// packets carry none, `None` unless it is empty.
#[inline(always)]
fn props_len(p: &Properties<'_>, v: ProtocolVersion, ctx: PropertyContext) -> Option<usize> {
    if p.is_empty() {
        return Some(0);
    }
    if !v.is_v5() {
        return None;
    }
    // The length prefix must fit a variable byte integer.
    p.checked_len(ctx).filter(|&n| n <= MAX_VAR_INT as usize)
}

/// The bytes a property block of `len` bytes takes with its length prefix (none in 3.1.1).
#[inline(always)]
fn props_field(v5: bool, len: usize) -> usize {
    if v5 {
        var_int_len(len as u32) + len
    } else {
        0
    }
}

/// The whole size of a packet whose body is `remaining` bytes, if it is within `max` and what
/// a remaining length can express.
#[inline(always)]
fn total(remaining: usize, max: u32) -> Option<usize> {
    if remaining > MAX_VAR_INT as usize {
        return None;
    }
    let size = 1 + var_int_len(remaining as u32) + remaining;
    (size <= max as usize).then_some(size)
}

/// The first byte and the remaining length.
#[inline(always)]
fn header(out: &mut Vec<u8>, first: u8, remaining: usize) {
    let r = remaining as u32;
    let b = |shift: u32, more: bool| (r >> shift) as u8 & 0x7F | (more as u8) << 7;
    if r < 0x80 {
        out.extend_from_slice(&[first, r as u8]);
    } else if r < 0x4000 {
        out.extend_from_slice(&[first, b(0, true), b(7, false)]);
    } else if r < 0x20_0000 {
        out.extend_from_slice(&[first, b(0, true), b(7, true), b(14, false)]);
    } else {
        out.extend_from_slice(&[first, b(0, true), b(7, true), b(14, true), b(21, false)]);
    }
}

#[inline(always)]
fn put_str(out: &mut Vec<u8>, s: &str) {
    put_bin(out, s.as_bytes());
}

#[inline(always)]
fn put_bin(out: &mut Vec<u8>, b: &[u8]) {
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// A checked property block of `len` bytes, with its length prefix.
#[inline(always)]
fn put_props(out: &mut Vec<u8>, p: &Properties<'_>, len: usize) {
    // Cannot fail: `props_len` checked the length fits.
    let _ = out.put_var_int(len as u32);
    if len > 0 {
        p.write_checked(out);
    }
}
