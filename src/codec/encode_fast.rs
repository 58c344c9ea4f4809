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
use super::wire::{
    be16, plain_valid_filter, put_word, str_ok, topic_name_ok, var_int_len, var_int_word, Sink,
    MAX_VAR_INT,
};
use alloc::vec::Vec;

/// What a fast path's check found: the packet's size, its remaining length and the lengths of
/// its property blocks (CONNECT: the will's too). Enough to write the packet without looking
/// at a rule again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Plan {
    pub(super) size: usize,
    remaining: usize,
    props: usize,
    will_props: usize,
}

impl Plan {
    /// The plan of a packet whose body is `remaining` bytes, if it is within `max` and what a
    /// remaining length can express.
    #[inline(always)]
    fn new(remaining: usize, max: u32, props: usize, will_props: usize) -> Option<Plan> {
        Some(Plan {
            size: total(remaining, max)?,
            remaining,
            props,
            will_props,
        })
    }
}

/// The fast paths' dispatch: `$arm!(plan_fn, write_fn, packet, version)` for each packet with a
/// fast path, with the version a constant, so that each fast path is inlined once per version
/// and the 3.1.1 code carries nothing of 5.0's (CONNECT goes by its own `protocol`); `$other`
/// for the rest.
macro_rules! by_packet {
    ($p:expr, $v:expr, $arm:ident, $other:expr) => {{
        use ProtocolVersion::{V311, V5};
        match ($p, $v) {
            (Packet::Publish(p), V311) => $arm!(plan_publish, write_publish, p, V311),
            (Packet::Publish(p), V5) => $arm!(plan_publish, write_publish, p, V5),
            (Packet::Subscribe(s), V311) => $arm!(plan_subscribe, write_subscribe, s, V311),
            (Packet::Subscribe(s), V5) => $arm!(plan_subscribe, write_subscribe, s, V5),
            (Packet::Connect(c), _) => match c.protocol {
                V311 => $arm!(plan_connect, write_connect, c, V311),
                V5 => $arm!(plan_connect, write_connect, c, V5),
            },
            _ => $other,
        }
    }};
}

/// Appends `p` to `out` and returns its size, if `p` is a packet with a fast path and breaks no
/// rule; otherwise writes nothing and returns `None`.
#[inline(always)]
pub(super) fn encode(
    p: &Packet<'_>,
    v: ProtocolVersion,
    max: u32,
    out: &mut Vec<u8>,
) -> Option<usize> {
    // Each packet's check and write side by side, under one match.
    macro_rules! fused {
        ($plan:ident, $write:ident, $p:expr, $v:expr) => {{
            let plan = $plan($p, $v, max)?;
            out.reserve(plan.size);
            $write($p, $v, &plan, out);
            Some(plan.size)
        }};
    }
    by_packet!(p, v, fused, None)
}

/// Checks and sizes `p`, if it is a packet with a fast path and breaks no rule.
#[inline(always)]
pub(super) fn plan(p: &Packet<'_>, v: ProtocolVersion, max: u32) -> Option<Plan> {
    macro_rules! plan_only {
        ($plan:ident, $write:ident, $p:expr, $v:expr) => {
            $plan($p, $v, max)
        };
    }
    by_packet!(p, v, plan_only, None)
}

/// Writes `p`, which [`plan`] accepted at `v` giving `plan`, without checking anything.
#[inline(always)]
pub(super) fn write(p: &Packet<'_>, v: ProtocolVersion, plan: &Plan, out: &mut Vec<u8>) {
    out.reserve(plan.size);
    macro_rules! write_only {
        ($plan:ident, $write:ident, $p:expr, $v:expr) => {
            $write($p, $v, plan, out)
        };
    }
    // `plan` accepts no other packet.
    by_packet!(p, v, write_only, ())
}

#[inline(always)]
fn plan_publish(p: &Publish<'_>, v: ProtocolVersion, max: u32) -> Option<Plan> {
    let v5 = v.is_v5();
    let topic = p.topic.as_bytes();
    let qos0 = p.qos == QoS::AtMostOnce;
    // v5 MQTT-3.3.1-2, v3.1.1 MQTT-3.3.1-2 (DUP only with QoS > 0); a packet identifier is
    // non-zero (v5 MQTT-2.2.1-3); an empty topic (v5 with a topic alias) takes the general
    // path.
    if (p.dup & qos0) | (!qos0 & (p.packet_id == 0)) || !topic_name_ok(topic) {
        return None;
    }
    let id = if qos0 { 0 } else { 2 };
    let props = props_len(&p.properties, v, PropertyContext::Publish)?;
    let remaining = 2 + topic.len() + id + props_field(v5, props) + p.payload.len();
    Plan::new(remaining, max, props, 0)
}

#[inline(always)]
fn write_publish(p: &Publish<'_>, v: ProtocolVersion, plan: &Plan, out: &mut Vec<u8>) {
    let v5 = v.is_v5();
    let topic = p.topic.as_bytes();
    let qos0 = p.qos == QoS::AtMostOnce;
    let first = 0x30 | (p.dup as u8) << 3 | (p.qos as u8) << 1 | p.retain as u8;
    // The fixed header and the topic's length, then the packet identifier and the property
    // length: two small writes.
    let (h, n) = fixed_header(first, plan.remaining);
    put_word(out, h | u64::from(be16(topic.len())) << (8 * n), n + 2);
    out.extend_from_slice(topic);
    let mut mid = 0u64;
    let mut m = 0;
    if !qos0 {
        mid = u64::from(be16(usize::from(p.packet_id)));
        m = 2;
    }
    if v5 {
        let (w, k) = var_int_word(plan.props as u32);
        mid |= w << (8 * m);
        m += k;
    }
    put_word(out, mid, m);
    if plan.props > 0 {
        p.properties.write_checked(PropertyContext::Publish, out);
    }
    out.extend_from_slice(p.payload);
}

#[inline(always)]
fn plan_subscribe(p: &Subscribe<'_>, v: ProtocolVersion, max: u32) -> Option<Plan> {
    let subs = p.subscriptions.as_slice()?;
    if subs.is_empty() || p.packet_id == 0 {
        return None;
    }
    let v5 = v.is_v5();
    let props = props_len(&p.properties, v, PropertyContext::Subscribe)?;
    // Packet identifier, properties, and per subscription a length and an options byte.
    let mut remaining = 2 + props_field(v5, props) + 3 * subs.len();
    for s in subs {
        // A plain valid filter is no shared subscription, so No Local is allowed on it
        // (v5 MQTT-3.8.3-4); 3.1.1 has the QoS alone (v3.1.1 §3.8.3.1).
        if !plain_valid_filter(s.filter.as_bytes())
            || (!v5 && s.options != SubscriptionOptions::qos(s.options.qos))
        {
            return None;
        }
        remaining += s.filter.len();
    }
    Plan::new(remaining, max, props, 0)
}

#[inline(always)]
fn write_subscribe(p: &Subscribe<'_>, v: ProtocolVersion, plan: &Plan, out: &mut Vec<u8>) {
    // `plan_subscribe` accepted only a slice of at least one subscription.
    let subs = p.subscriptions.as_slice().unwrap_or_default();
    let Some((first_sub, _)) = subs.split_first() else {
        return;
    };
    let v5 = v.is_v5();
    let (h, n) = fixed_header(0x82, plan.remaining);
    put_word(
        out,
        h | u64::from(be16(usize::from(p.packet_id))) << (8 * n),
        n + 2,
    );
    if v5 {
        put_props(out, &p.properties, PropertyContext::Subscribe, plan.props);
    }
    // Each filter, then its options byte with the next filter's length: one small write
    // between two filters.
    put_word(out, u64::from(be16(first_sub.filter.len())), 2);
    let mut rest = subs;
    while let Some((s, tail)) = rest.split_first() {
        out.extend_from_slice(s.filter.as_bytes());
        let opts = if v5 {
            s.options.to_byte()
        } else {
            s.options.qos as u8
        };
        match tail.first() {
            Some(t) => put_word(
                out,
                u64::from(opts) | u64::from(be16(t.filter.len())) << 8,
                3,
            ),
            None => out.push(opts),
        }
        rest = tail;
    }
}

#[inline(always)]
fn plan_connect(c: &Connect<'_>, v: ProtocolVersion, max: u32) -> Option<Plan> {
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
    Plan::new(remaining, max, props, will_props)
}

#[inline(always)]
fn write_connect(c: &Connect<'_>, v: ProtocolVersion, plan: &Plan, out: &mut Vec<u8>) {
    let v5 = v.is_v5();
    header(out, 0x10, plan.remaining);
    let mut flags = (c.clean_start as u8) << 1;
    if let Some(w) = &c.will {
        flags |= 0b100 | (w.qos as u8) << 3 | (w.retain as u8) << 5;
    }
    flags |= (c.password.is_some() as u8) << 6 | (c.username.is_some() as u8) << 7;
    let [ka_hi, ka_lo] = c.keep_alive.to_be_bytes();
    out.extend_from_slice(&[0, 4, b'M', b'Q', b'T', b'T', v.level(), flags, ka_hi, ka_lo]);
    if v5 {
        put_props(out, &c.properties, PropertyContext::Connect, plan.props);
    }
    put_str(out, c.client_id);
    if let Some(w) = &c.will {
        if v5 {
            put_props(out, &w.properties, PropertyContext::Will, plan.will_props);
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
}

/// The length of a property block after checking it (`Some(0)` when empty): in 3.1.1, where
/// packets carry none, `None` unless it is empty.
#[inline(always)]
fn props_len(p: &Properties<'_>, v: ProtocolVersion, ctx: PropertyContext) -> Option<usize> {
    if !v.is_v5() {
        return if p.is_empty() { Some(0) } else { None };
    }
    // (An empty block measures 0.) The length prefix must fit a variable byte integer.
    match p.checked_len(ctx) {
        Some(n) if n <= MAX_VAR_INT as usize => Some(n),
        _ => None,
    }
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

/// The fixed header (first byte, remaining length) as the low bytes of a little-endian word,
/// and how many bytes it takes (2 to 5).
#[inline(always)]
fn fixed_header(first: u8, remaining: usize) -> (u64, usize) {
    let (w, k) = var_int_word(remaining as u32);
    (u64::from(first) | w << 8, 1 + k)
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
fn put_props(out: &mut Vec<u8>, p: &Properties<'_>, ctx: PropertyContext, len: usize) {
    // Cannot fail: `props_len` checked the length fits.
    let _ = out.put_var_int(len as u32);
    if len > 0 {
        p.write_checked(ctx, out);
    }
}
