//! Validating encoder: each packet's layout is written once, run first against a counter that
//! checks every sender rule, then against the output buffer.

use super::encode_fast::Plan;
use super::error::EncodeError;
use super::packet::*;
use super::properties::{Properties, PropertyContext};
use super::subscription::SubscriptionOptions;
use super::types::{PacketType, ProtocolVersion, QoS, ReasonCode};
use super::wire::{
    check_topic_filter, check_topic_name, var_int_len, CheckedCounter, Sink, Sizer, Writer,
    MAX_PACKET_SIZE, MAX_VAR_INT,
};
use crate::topic::parse_shared;
use alloc::vec::Vec;

/// A packet that broke no sender rule when [`Packet::check`] looked at it, with its size: it
/// borrows the packet, which therefore cannot change until this is dropped, so it is encoded
/// without another look at the rules.
#[derive(Debug, Clone, Copy)]
pub struct Checked<'p, 'a> {
    packet: &'p Packet<'a>,
    version: ProtocolVersion,
    max_packet_size: u32,
    /// What the fast path found; `None` for a packet the general encoder writes.
    plan: Option<Plan>,
    size: usize,
}

impl<'p, 'a> Checked<'p, 'a> {
    /// The packet checked.
    pub fn packet(&self) -> &'p Packet<'a> {
        self.packet
    }

    /// The protocol version it was checked for.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The size of the encoded packet in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Appends the encoded packet to `out` and returns its size: the bytes
    /// [`Packet::encode_limited`] writes, without checking the rules again. PUBLISH, SUBSCRIBE
    /// and CONNECT are written straight out; other packets (small, and rarely sent twice)
    /// go through the general encoder, which checks them again.
    #[inline]
    pub fn encode(&self, out: &mut Vec<u8>) -> usize {
        match &self.plan {
            Some(plan) => {
                super::encode_fast::write(self.packet, self.version, plan, out);
                plan.size
            }
            None => {
                let written = self
                    .packet
                    .encode_general(self.version, self.max_packet_size, out);
                // The packet, borrowed since it was checked, has not changed.
                debug_assert!(written.is_ok(), "a checked packet failed to encode");
                written.unwrap_or(0)
            }
        }
    }
}

/// The remaining length and the whole size of a packet whose body is `remaining` bytes
/// (`usize::MAX` when the body is too long for any packet).
fn sizes(remaining: usize) -> (usize, usize) {
    let size = if remaining > MAX_VAR_INT as usize {
        usize::MAX
    } else {
        1 + var_int_len(remaining as u32) + remaining
    };
    (remaining, size)
}

impl<'a> Packet<'a> {
    /// Appends the encoded packet to `out` and returns its size.
    ///
    /// `version` selects the 3.1.1 or 5.0 layout (CONNECT uses its own `protocol` field). Every
    /// rule the specification sets for the sender is checked first; on error nothing is written.
    #[inline]
    pub fn encode(
        &self,
        version: ProtocolVersion,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        self.encode_limited(version, MAX_PACKET_SIZE, out)
    }

    /// Like [`Packet::encode`], refusing a packet larger than `max_packet_size` bytes (the
    /// peer's MQTT 5.0 Maximum Packet Size).
    pub fn encode_limited(
        &self,
        version: ProtocolVersion,
        max_packet_size: u32,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        // PUBLISH, SUBSCRIBE and CONNECT breaking no rule: checked and sized in one pass,
        // written in a second.
        if let Some(size) = super::encode_fast::encode(self, version, max_packet_size, out) {
            return Ok(size);
        }
        self.encode_general(version, max_packet_size, out)
    }

    /// The general encoder: every packet, every rule, the exact error.
    #[inline(never)]
    fn encode_general(
        &self,
        version: ProtocolVersion,
        max_packet_size: u32,
        out: &mut Vec<u8>,
    ) -> Result<usize, EncodeError> {
        // First pass: sizes only. The rules are checked while writing (second pass), so a
        // valid packet is walked twice, not three times. A PUBLISH without properties, the
        // common case, is sized without a pass.
        let (first, c) = match self.publish_size(version) {
            Some(known) => known,
            None => {
                let mut c = Sizer::default();
                (self.body(version, &mut c)?, c)
            }
        };
        let (remaining, size) = sizes(c.n);
        if size > max_packet_size as usize {
            // A broken rule is reported before the size, as if the rules came first.
            self.checked_body(version)?;
            return Err(EncodeError::PacketTooLarge {
                size,
                max: max_packet_size,
            });
        }
        let start = out.len();
        out.reserve(size);
        out.push(first);
        out.put_var_int(remaining as u32)?;
        let mut w = Writer::new(out, &c);
        if let Err(e) = self.body(version, &mut w) {
            // Nothing is written when a rule is broken.
            out.truncate(start);
            return Err(e);
        }
        debug_assert_eq!(out.len() - start, size);
        Ok(size)
    }

    /// Checks the packet against every rule [`Packet::encode_limited`] checks, once, and returns
    /// it ready to be encoded any number of times without checking again: for a packet sent
    /// more than once (a retransmission, the same message to many connections) or encoded
    /// long after it was built.
    ///
    /// ```
    /// use wasmqtt::codec::{Packet, Properties, ProtocolVersion, Publish, QoS, MAX_PACKET_SIZE};
    ///
    /// let publish = Packet::Publish(Publish {
    ///     dup: false,
    ///     qos: QoS::AtLeastOnce,
    ///     retain: false,
    ///     topic: "meter/1/watts",
    ///     packet_id: 7,
    ///     properties: Properties::EMPTY,
    ///     payload: b"1234",
    /// });
    /// let checked = publish.check(ProtocolVersion::V5, MAX_PACKET_SIZE).unwrap();
    /// let mut wire = Vec::new();
    /// assert_eq!(checked.encode(&mut wire), checked.size());
    /// let mut again = Vec::new();
    /// publish.encode(ProtocolVersion::V5, &mut again).unwrap();
    /// assert_eq!(wire, again);
    /// ```
    pub fn check(
        &self,
        version: ProtocolVersion,
        max_packet_size: u32,
    ) -> Result<Checked<'_, 'a>, EncodeError> {
        let plan = super::encode_fast::plan(self, version, max_packet_size);
        let size = match &plan {
            Some(plan) => plan.size,
            None => self.measure(version, max_packet_size)?.2,
        };
        Ok(Checked {
            packet: self,
            version,
            max_packet_size,
            plan,
            size,
        })
    }

    /// The size the encoded packet would have, after checking it as [`Packet::encode`] does.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        // The general encoder's checking pass. (Through `check`'s fast paths it is faster per
        // packet, but a second copy of them costs 1.3 KB in the components and 8.2 KB in the
        // browser build, for no difference measured in the session's throughput.)
        Ok(self.measure(version, MAX_PACKET_SIZE)?.2)
    }

    /// What the sizing pass gives for a PUBLISH without properties, worked out directly: the
    /// same sums as [`publish`] makes against a [`Sizer`].
    #[inline]
    fn publish_size(&self, v: ProtocolVersion) -> Option<(u8, Sizer)> {
        let Packet::Publish(p) = self else {
            return None;
        };
        let v5 = v.is_v5();
        // (3.1.1 never sizes properties: a non-empty block is refused while writing.)
        if v5 && !p.properties.is_empty() {
            return None;
        }
        let id = if p.qos == QoS::AtMostOnce { 0 } else { 2 };
        let n = 2 + p.topic.len() + id + v5 as usize + p.payload.len();
        Some((publish_first_byte(p), Sizer::known(n, v5)))
    }

    /// Checks every rule, writing nothing: the first byte and the size of the body.
    fn checked_body(&self, version: ProtocolVersion) -> Result<(u8, usize), EncodeError> {
        let mut c = CheckedCounter::default();
        let first = self.body(version, &mut c)?;
        Ok((first, c.0))
    }

    /// Checks every rule and sizes the packet, writing nothing.
    fn measure(
        &self,
        version: ProtocolVersion,
        max: u32,
    ) -> Result<(u8, usize, usize), EncodeError> {
        let (first, body) = self.checked_body(version)?;
        let (remaining, size) = sizes(body);
        if size > max as usize {
            return Err(EncodeError::PacketTooLarge { size, max });
        }
        Ok((first, remaining, size))
    }

    /// Writes the variable header and payload; returns the first byte of the fixed header.
    fn body<S: Sink>(&self, v: ProtocolVersion, s: &mut S) -> Result<u8, EncodeError> {
        let t = self.packet_type();
        let first = (t as u8) << 4 | t.required_flags();
        match self {
            Packet::Connect(c) => connect(c, s)?,
            Packet::ConnAck(c) => connack(c, v, s)?,
            Packet::Publish(p) => return publish(p, v, s),
            Packet::PubAck(r) => pub_resp(r, v, t, PropertyContext::PubAck, s)?,
            Packet::PubRec(r) => pub_resp(r, v, t, PropertyContext::PubRec, s)?,
            Packet::PubRel(r) => pub_resp(r, v, t, PropertyContext::PubRel, s)?,
            Packet::PubComp(r) => pub_resp(r, v, t, PropertyContext::PubComp, s)?,
            Packet::Subscribe(p) => subscribe(p, v, s)?,
            Packet::SubAck(p) => suback(p, v, s)?,
            Packet::Unsubscribe(p) => unsubscribe(p, v, s)?,
            Packet::UnsubAck(p) => unsuback(p, v, s)?,
            Packet::PingReq | Packet::PingResp => {}
            Packet::Disconnect(d) => reason_and_props(
                d.reason_code,
                &d.properties,
                v,
                t,
                PropertyContext::Disconnect,
                s,
            )?,
            Packet::Auth(a) => {
                if S::CHECK && !v.is_v5() {
                    return Err(EncodeError::NotInVersion {
                        packet: t,
                        version: v,
                    });
                }
                reason_and_props(a.reason_code, &a.properties, v, t, PropertyContext::Auth, s)?
            }
        }
        Ok(first)
    }
}

fn props<S: Sink>(
    p: &Properties<'_>,
    v: ProtocolVersion,
    ctx: PropertyContext,
    s: &mut S,
) -> Result<(), EncodeError> {
    if v.is_v5() {
        p.encode(ctx, s)
    } else if S::CHECK {
        p.require_empty(ctx)
    } else {
        Ok(())
    }
}

fn nonzero_id<S: Sink>(id: u16, t: PacketType, s: &mut S) -> Result<(), EncodeError> {
    if S::CHECK && id == 0 {
        return Err(EncodeError::ZeroPacketId(t));
    }
    s.put_u16(id);
    Ok(())
}

fn check_reason<S: Sink>(
    code: ReasonCode,
    v: ProtocolVersion,
    t: PacketType,
) -> Result<(), EncodeError> {
    let ok = if v.is_v5() {
        code.allowed_in(t)
    } else {
        code == ReasonCode::SUCCESS
    };
    if S::CHECK && !ok {
        return Err(EncodeError::InvalidReasonCode {
            packet: t,
            code: code.0,
        });
    }
    Ok(())
}

fn connect<S: Sink>(c: &Connect<'_>, s: &mut S) -> Result<(), EncodeError> {
    let v = c.protocol;
    if S::CHECK && !v.is_v5() {
        if c.password.is_some() && c.username.is_none() {
            return Err(EncodeError::PasswordWithoutUsername);
        }
        if c.client_id.is_empty() && !c.clean_start {
            return Err(EncodeError::EmptyClientIdWithoutCleanSession);
        }
    }
    s.put_str("MQTT")?;
    s.put_u8(v.level());
    let mut flags = (c.clean_start as u8) << 1;
    if let Some(w) = &c.will {
        flags |= 0b100 | (w.qos as u8) << 3 | (w.retain as u8) << 5;
    }
    if c.password.is_some() {
        flags |= 0b100_0000;
    }
    if c.username.is_some() {
        flags |= 0b1000_0000;
    }
    s.put_u8(flags);
    s.put_u16(c.keep_alive);
    props(&c.properties, v, PropertyContext::Connect, s)?;
    s.put_str(c.client_id)?;
    if let Some(w) = &c.will {
        props(&w.properties, v, PropertyContext::Will, s)?;
        if S::CHECK {
            check_topic_name(w.topic).map_err(EncodeError::InvalidTopicName)?;
        }
        s.put_checked_str(w.topic);
        s.put_binary(w.payload)?;
    }
    if let Some(u) = c.username {
        s.put_str(u)?;
    }
    if let Some(p) = c.password {
        s.put_binary(p)?;
    }
    Ok(())
}

fn connack<S: Sink>(c: &ConnAck<'_>, v: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
    if S::CHECK {
        let ok = if v.is_v5() {
            c.reason_code.allowed_in(PacketType::ConnAck)
        } else {
            c.reason_code.0 <= 5
        };
        if !ok {
            return Err(EncodeError::InvalidReasonCode {
                packet: PacketType::ConnAck,
                code: c.reason_code.0,
            });
        }
        if c.session_present && c.reason_code.0 != 0 {
            return Err(EncodeError::SessionPresentOnRefusal);
        }
    }
    s.put_u8(c.session_present as u8);
    s.put_u8(c.reason_code.0);
    props(&c.properties, v, PropertyContext::ConnAck, s)
}

fn publish<S: Sink>(p: &Publish<'_>, v: ProtocolVersion, s: &mut S) -> Result<u8, EncodeError> {
    if S::CHECK {
        // v5 MQTT-3.3.1-2, v3.1.1 MQTT-3.3.1-2.
        if p.dup && p.qos == QoS::AtMostOnce {
            return Err(EncodeError::DupOnQoS0);
        }
        if p.topic.is_empty() {
            if !v.is_v5() || p.properties.topic_alias.is_none() {
                return Err(EncodeError::InvalidTopicName(
                    crate::topic::TopicError::Empty,
                ));
            }
        } else {
            check_topic_name(p.topic).map_err(EncodeError::InvalidTopicName)?;
        }
    }
    s.put_checked_str(p.topic);
    if p.qos != QoS::AtMostOnce {
        nonzero_id(p.packet_id, PacketType::Publish, s)?;
    }
    props(&p.properties, v, PropertyContext::Publish, s)?;
    s.put_slice(p.payload);
    Ok(publish_first_byte(p))
}

/// The fixed header's first byte of a PUBLISH (DUP with QoS 0 is refused by [`publish`]).
#[inline]
fn publish_first_byte(p: &Publish<'_>) -> u8 {
    0x30 | (p.dup as u8) << 3 | (p.qos as u8) << 1 | p.retain as u8
}

fn pub_resp<S: Sink>(
    r: &PubResp<'_>,
    v: ProtocolVersion,
    t: PacketType,
    ctx: PropertyContext,
    s: &mut S,
) -> Result<(), EncodeError> {
    nonzero_id(r.packet_id, t, s)?;
    reason_and_props(r.reason_code, &r.properties, v, t, ctx, s)
}

/// The tail shared by PUBACK…PUBCOMP, DISCONNECT and AUTH: in v5 the reason code and the
/// properties, each left out when it holds nothing (Success, no properties); in 3.1.1 nothing.
fn reason_and_props<S: Sink>(
    code: ReasonCode,
    p: &Properties<'_>,
    v: ProtocolVersion,
    t: PacketType,
    ctx: PropertyContext,
    s: &mut S,
) -> Result<(), EncodeError> {
    check_reason::<S>(code, v, t)?;
    if !v.is_v5() {
        return props(p, v, ctx, s);
    }
    let no_props = p.is_empty();
    if code == ReasonCode::SUCCESS && no_props {
        return Ok(());
    }
    s.put_u8(code.0);
    if no_props {
        return Ok(());
    }
    p.encode(ctx, s)
}

fn subscribe<S: Sink>(p: &Subscribe<'_>, v: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
    if S::CHECK && p.subscriptions.is_empty() {
        return Err(EncodeError::EmptySubscribe);
    }
    nonzero_id(p.packet_id, PacketType::Subscribe, s)?;
    props(&p.properties, v, PropertyContext::Subscribe, s)?;
    p.subscriptions.try_each(|sub| {
        if S::CHECK {
            check_topic_filter(sub.filter).map_err(EncodeError::InvalidTopicFilter)?;
            if v.is_v5() && sub.options.no_local && matches!(parse_shared(sub.filter), Ok(Some(_)))
            {
                return Err(EncodeError::NoLocalOnSharedSubscription);
            }
            // 3.1.1 has only the QoS: No Local, Retain As Published and Retain Handling do not
            // exist there, and the upper six bits of its Requested QoS byte are reserved
            // (v3.1.1 §3.8.3.1). Asked for, they are refused, not dropped.
            if !v.is_v5() && sub.options != SubscriptionOptions::qos(sub.options.qos) {
                return Err(EncodeError::SubscriptionOptionsNotInVersion);
            }
        }
        s.put_checked_str(sub.filter);
        if v.is_v5() {
            s.put_u8(sub.options.to_byte());
        } else {
            s.put_u8(sub.options.qos as u8);
        }
        Ok(())
    })
}

fn suback<S: Sink>(p: &SubAck<'_>, v: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
    nonzero_id(p.packet_id, PacketType::SubAck, s)?;
    props(&p.properties, v, PropertyContext::SubAck, s)?;
    if S::CHECK && p.reason_codes.is_empty() {
        return Err(EncodeError::EmptyReasonCodes(PacketType::SubAck));
    }
    p.reason_codes.try_each(|code| {
        if S::CHECK {
            let ok = if v.is_v5() {
                code.allowed_in(PacketType::SubAck)
            } else {
                matches!(code.0, 0 | 1 | 2 | 0x80)
            };
            if !ok {
                return Err(EncodeError::InvalidReasonCode {
                    packet: PacketType::SubAck,
                    code: code.0,
                });
            }
        }
        s.put_u8(code.0);
        Ok(())
    })
}

fn unsubscribe<S: Sink>(
    p: &Unsubscribe<'_>,
    v: ProtocolVersion,
    s: &mut S,
) -> Result<(), EncodeError> {
    if S::CHECK && p.filters.is_empty() {
        return Err(EncodeError::EmptyUnsubscribe);
    }
    nonzero_id(p.packet_id, PacketType::Unsubscribe, s)?;
    props(&p.properties, v, PropertyContext::Unsubscribe, s)?;
    p.filters.try_each(|f| {
        if S::CHECK {
            check_topic_filter(f).map_err(EncodeError::InvalidTopicFilter)?;
        }
        s.put_checked_str(f);
        Ok(())
    })
}

fn unsuback<S: Sink>(p: &UnsubAck<'_>, v: ProtocolVersion, s: &mut S) -> Result<(), EncodeError> {
    nonzero_id(p.packet_id, PacketType::UnsubAck, s)?;
    if !v.is_v5() {
        // MQTT 3.1.1 UNSUBACK is the packet identifier alone (§3.11.3).
        if S::CHECK && !p.reason_codes.is_empty() {
            return Err(EncodeError::ReasonCodesNotInVersion(PacketType::UnsubAck));
        }
        return props(&p.properties, v, PropertyContext::UnsubAck, s);
    }
    props(&p.properties, v, PropertyContext::UnsubAck, s)?;
    if S::CHECK && p.reason_codes.is_empty() {
        return Err(EncodeError::EmptyReasonCodes(PacketType::UnsubAck));
    }
    p.reason_codes.try_each(|code| {
        check_reason::<S>(code, v, PacketType::UnsubAck)?;
        s.put_u8(code.0);
        Ok(())
    })
}
