//! Streaming decoder: a buffer in, "need more bytes" or one borrowed packet and its length out.

use super::error::DecodeError;
use super::packet::*;
use super::properties::{Properties, PropertyContext};
use super::seq::Seq;
use super::types::{PacketType, ProtocolVersion, QoS, ReasonCode};
use super::wire::{check_topic_name, utf8};
use super::wire::{read_var_int, Reader};
use crate::topic::parse_shared;

pub use super::wire::MAX_PACKET_SIZE;

/// A parsed fixed header (MQTT §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedHeader {
    /// The packet type.
    pub packet_type: PacketType,
    /// The low nibble of the first byte.
    pub flags: u8,
    /// The remaining length: bytes after the fixed header.
    pub remaining_len: usize,
    /// Size of the fixed header itself (2 to 5 bytes).
    pub header_len: usize,
}

impl FixedHeader {
    /// Total size of the packet.
    pub fn packet_len(&self) -> usize {
        self.header_len + self.remaining_len
    }

    /// Parses the fixed header at the start of `buf`; `Ok(None)` when more bytes are needed.
    ///
    /// Reserved packet types and flag bits are rejected here, before the body has arrived.
    pub fn parse(buf: &[u8], version: ProtocolVersion) -> Result<Option<Self>, DecodeError> {
        let Some(&first) = buf.first() else {
            return Ok(None);
        };
        let nibble = first >> 4;
        let flags = first & 0x0F;
        let packet_type = match PacketType::from_nibble(nibble) {
            Some(PacketType::Auth) if !version.is_v5() => {
                return Err(DecodeError::ReservedPacketType(nibble))
            }
            Some(t) => t,
            None => return Err(DecodeError::ReservedPacketType(nibble)),
        };
        if packet_type == PacketType::Publish {
            let qos = (flags >> 1) & 3;
            if qos == 3 {
                return Err(DecodeError::InvalidQoS(3));
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(DecodeError::DupOnQoS0);
            }
        } else if flags != packet_type.required_flags() {
            return Err(DecodeError::InvalidFlags {
                packet: packet_type,
                flags,
            });
        }
        match read_var_int(&buf[1..])? {
            None => Ok(None),
            Some((remaining, n)) => Ok(Some(FixedHeader {
                packet_type,
                flags,
                remaining_len: remaining as usize,
                header_len: 1 + n,
            })),
        }
    }
}

/// Decodes packets of one protocol version, refusing any larger than a maximum packet size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    /// The protocol version of the connection.
    pub version: ProtocolVersion,
    /// The largest packet accepted, fixed header included.
    pub max_packet_size: u32,
}

impl Decoder {
    /// A decoder for `version` that accepts packets up to the protocol's limit.
    pub const fn new(version: ProtocolVersion) -> Self {
        Decoder {
            version,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// The same decoder with a maximum packet size (MQTT 5.0 Maximum Packet Size).
    pub const fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// Decodes the packet at the start of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` holds less than a whole packet (nothing is consumed), or the
    /// packet and the number of bytes it took. The size limit is checked as soon as the fixed
    /// header is complete, so an oversized packet is refused before its body is buffered.
    /// Strings and payloads in the packet borrow from `buf`; nothing is allocated.
    #[inline(always)]
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Decoded<'a> {
        // The packet (a large value) is decoded in place, into the caller's own local: this
        // wrapper is inlined, the work is not. Returned by value from the work, it would be
        // built on the work's stack and copied out.
        let mut out = Ok(None);
        self.decode_slot(buf, &mut out);
        out
    }

    /// [`Decoder::decode`] into `out`, which must be `Ok(None)`: for a caller that matches on
    /// the result where it lies (a `match` on the value [`Decoder::decode`] returns copies the
    /// whole packet once more).
    #[inline(always)]
    pub(crate) fn decode_into<'a>(&self, buf: &'a [u8], out: &mut Decoded<'a>) {
        debug_assert!(matches!(out, Ok(None)));
        self.decode_slot(buf, out);
    }

    /// [`Decoder::decode`] into `out`, which starts as `Ok(None)`.
    #[inline(never)]
    fn decode_slot<'a>(&self, buf: &'a [u8], out: &mut Decoded<'a>) {
        if let Err(e) = self.decode_to(buf, out) {
            *out = Err(e);
        }
    }

    /// [`Decoder::decode`] into `out` (which starts as `Ok(None)`); an error is returned
    /// instead of being stored.
    #[inline(always)]
    fn decode_to<'a>(&self, buf: &'a [u8], out: &mut Decoded<'a>) -> Result<(), DecodeError> {
        if let Some(&first) = buf.first() {
            if first >> 4 == PacketType::Publish as u8 {
                return self.decode_publish(first, buf, out);
            }
        }
        let Some(h) = FixedHeader::parse(buf, self.version)? else {
            return Ok(());
        };
        let size = h.packet_len();
        if size > self.max_packet_size as usize {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        if buf.len() < size {
            return Ok(());
        }
        let body = &buf[h.header_len..size];
        *out = Ok(Some((Packet::PingReq, size)));
        let Ok(Some((p, _))) = out else {
            return Ok(());
        };
        decode_body(h.packet_type, h.flags, body, self.version, p)
    }
}

/// What [`Decoder::decode`] answers: an error, `None` (more bytes are needed), or a packet and
/// the number of bytes it took.
pub type Decoded<'a> = Result<Option<(Packet<'a>, usize)>, DecodeError>;

impl Decoder {
    /// [`Decoder::decode`] of a PUBLISH (first byte `first`), the packet received most: the
    /// same checks in the same order, the packet built where it is returned.
    #[inline]
    fn decode_publish<'a>(
        &self,
        first: u8,
        buf: &'a [u8],
        out: &mut Decoded<'a>,
    ) -> Result<(), DecodeError> {
        // As `FixedHeader::parse` checks a PUBLISH's flags.
        let flags = first & 0x0F;
        let qos = match (flags >> 1) & 3 {
            0 if flags & 0b1000 != 0 => return Err(DecodeError::DupOnQoS0),
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            2 => QoS::ExactlyOnce,
            _ => return Err(DecodeError::InvalidQoS(3)),
        };
        let Some((remaining, n)) = read_var_int(buf.get(1..).unwrap_or_default())? else {
            return Ok(());
        };
        let size = 1 + n + remaining as usize;
        if size > self.max_packet_size as usize {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        let Some(body) = buf.get(1 + n..size) else {
            return Ok(());
        };
        let mut r = Reader::new(body, PacketType::Publish);
        let (topic, suspect) = r.topic("topic name")?;
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            packet_id(&mut r)?
        };
        let v5 = self.version.is_v5();
        let no_props = match r.buf.split_first() {
            _ if !v5 => true,
            Some((0, rest)) => {
                r.buf = rest;
                true
            }
            _ => false,
        };
        if no_props {
            // No property, the common case: only the topic to check.
            if topic.is_empty() {
                return Err(DecodeError::EmptyTopicName);
            } else if suspect {
                check_topic_name(topic).map_err(DecodeError::InvalidTopicName)?;
            }
        }
        // Decoded field by field into the return slot: building the packet whole and
        // returning it would copy its (large) properties twice.
        *out = Ok(Some((Packet::Publish(Publish::empty()), size)));
        let Ok(Some((Packet::Publish(p), _))) = out else {
            return Ok(());
        };
        if !no_props {
            p.properties.decode_into(&mut r, PropertyContext::Publish)?;
            if topic.is_empty() {
                if p.properties.topic_alias.is_none() {
                    return Err(DecodeError::EmptyTopicName);
                }
            } else if suspect {
                check_topic_name(topic).map_err(DecodeError::InvalidTopicName)?;
            }
        }
        set_publish_fields(p, flags, qos, topic, packet_id, r.rest());
        Ok(())
    }
}

/// Decodes one whole packet from `buf` at `version`; see [`Decoder::decode`].
pub fn decode(buf: &[u8], version: ProtocolVersion) -> Decoded<'_> {
    Decoder::new(version).decode(buf)
}

/// Decodes the body of a packet of type `t` into `out`. Each packet is first set to its
/// empty form, then filled in place.
#[inline(always)]
fn decode_body<'a>(
    t: PacketType,
    flags: u8,
    body: &'a [u8],
    v: ProtocolVersion,
    out: &mut Packet<'a>,
) -> Result<(), DecodeError> {
    let mut r = Reader::new(body, t);
    let r = &mut r;
    macro_rules! fill {
        ($variant:ident, $empty:expr, |$x:ident| $decode:expr) => {{
            *out = Packet::$variant($empty);
            if let Packet::$variant($x) = out {
                $decode?;
            }
        }};
    }
    match t {
        PacketType::Connect => fill!(Connect, empty_connect(), |c| connect(r, c)),
        PacketType::ConnAck => fill!(ConnAck, empty_connack(), |c| connack(r, v, c)),
        // The payload takes the rest: no trailing bytes to check.
        PacketType::Publish => {
            fill!(Publish, Publish::empty(), |p| publish(r, flags, v, p));
            return Ok(());
        }
        PacketType::PubAck => fill!(PubAck, PubResp::new(0), |p| pub_resp(
            r,
            v,
            PropertyContext::PubAck,
            p
        )),
        PacketType::PubRec => fill!(PubRec, PubResp::new(0), |p| pub_resp(
            r,
            v,
            PropertyContext::PubRec,
            p
        )),
        PacketType::PubRel => fill!(PubRel, PubResp::new(0), |p| pub_resp(
            r,
            v,
            PropertyContext::PubRel,
            p
        )),
        PacketType::PubComp => fill!(PubComp, PubResp::new(0), |p| pub_resp(
            r,
            v,
            PropertyContext::PubComp,
            p
        )),
        PacketType::Subscribe => fill!(Subscribe, empty_subscribe(), |s| subscribe(r, v, s)),
        PacketType::SubAck => fill!(SubAck, empty_suback(), |s| suback(r, v, s)),
        PacketType::Unsubscribe => {
            fill!(Unsubscribe, empty_unsubscribe(), |u| unsubscribe(r, v, u))
        }
        PacketType::UnsubAck => fill!(UnsubAck, empty_unsuback(), |u| unsuback(r, v, u)),
        PacketType::PingReq => *out = Packet::PingReq,
        PacketType::PingResp => *out = Packet::PingResp,
        PacketType::Disconnect => fill!(Disconnect, Disconnect::default(), |d| disconnect(r, v, d)),
        PacketType::Auth => fill!(Auth, Auth::default(), |a| auth(r, a)),
    }
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes {
            packet: t,
            extra: r.remaining(),
        });
    }
    Ok(())
}

fn empty_connect() -> Connect<'static> {
    Connect {
        protocol: ProtocolVersion::V311,
        clean_start: false,
        keep_alive: 0,
        properties: Properties::default(),
        client_id: "",
        will: None,
        username: None,
        password: None,
    }
}

fn empty_connack() -> ConnAck<'static> {
    ConnAck {
        session_present: false,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties::default(),
    }
}

fn empty_subscribe() -> Subscribe<'static> {
    Subscribe {
        packet_id: 0,
        properties: Properties::default(),
        subscriptions: Seq::empty(),
    }
}

fn empty_suback() -> SubAck<'static> {
    SubAck {
        packet_id: 0,
        properties: Properties::default(),
        reason_codes: Seq::empty(),
    }
}

fn empty_unsubscribe() -> Unsubscribe<'static> {
    Unsubscribe {
        packet_id: 0,
        properties: Properties::default(),
        filters: Seq::empty(),
    }
}

fn empty_unsuback() -> UnsubAck<'static> {
    UnsubAck {
        packet_id: 0,
        properties: Properties::default(),
        reason_codes: Seq::empty(),
    }
}

fn packet_id(r: &mut Reader<'_>) -> Result<u16, DecodeError> {
    match r.u16("packet identifier")? {
        0 => Err(DecodeError::ZeroPacketId(r.packet)),
        id => Ok(id),
    }
}

/// Decodes a property block into `p` (empty) in v5; 3.1.1 has none.
#[inline]
fn props<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    ctx: PropertyContext,
    p: &mut Properties<'a>,
) -> Result<(), DecodeError> {
    if v.is_v5() {
        p.decode_into(r, ctx)
    } else {
        Ok(())
    }
}

fn reason(r: &mut Reader<'_>) -> Result<ReasonCode, DecodeError> {
    let code = ReasonCode(r.u8("reason code")?);
    if !code.allowed_in(r.packet) {
        return Err(DecodeError::InvalidReasonCode {
            packet: r.packet,
            code: code.0,
        });
    }
    Ok(code)
}

fn connect<'a>(r: &mut Reader<'a>, c: &mut Connect<'a>) -> Result<(), DecodeError> {
    if r.binary("protocol name")? != b"MQTT" {
        return Err(DecodeError::InvalidProtocolName);
    }
    let level = r.u8("protocol level")?;
    let protocol =
        ProtocolVersion::from_level(level).ok_or(DecodeError::UnsupportedProtocolLevel(level))?;
    let flags = r.u8("connect flags")?;
    if flags & 1 != 0 {
        return Err(DecodeError::ConnectReservedFlag);
    }
    let has_will = flags & 0b100 != 0;
    let will_qos_bits = (flags >> 3) & 3;
    let will_retain = flags & 0b10_0000 != 0;
    let has_password = flags & 0b100_0000 != 0;
    let has_username = flags & 0b1000_0000 != 0;
    let will_qos = QoS::from_u8(will_qos_bits).ok_or(DecodeError::InvalidQoS(will_qos_bits))?;
    if !has_will && (will_qos_bits != 0 || will_retain) {
        return Err(DecodeError::WillFlagsWithoutWill);
    }
    if !protocol.is_v5() && has_password && !has_username {
        return Err(DecodeError::PasswordWithoutUsername);
    }
    c.protocol = protocol;
    c.clean_start = flags & 0b10 != 0;
    c.keep_alive = r.u16("keep alive")?;
    props(r, protocol, PropertyContext::Connect, &mut c.properties)?;
    c.client_id = r.string("client identifier")?;
    if has_will {
        let w = c.will.insert(Will {
            topic: "",
            payload: &[],
            qos: will_qos,
            retain: will_retain,
            properties: Properties::default(),
        });
        props(r, protocol, PropertyContext::Will, &mut w.properties)?;
        let topic = r.string("will topic")?;
        check_topic_name(topic).map_err(DecodeError::InvalidTopicName)?;
        w.topic = topic;
        w.payload = r.binary("will payload")?;
    }
    if has_username {
        c.username = Some(r.string("user name")?);
    }
    if has_password {
        c.password = Some(r.binary("password")?);
    }
    Ok(())
}

fn connack<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    c: &mut ConnAck<'a>,
) -> Result<(), DecodeError> {
    let flags = r.u8("acknowledge flags")?;
    if flags & 0xFE != 0 {
        return Err(DecodeError::InvalidConnAckFlags(flags));
    }
    let code = ReasonCode(r.u8("reason code")?);
    let valid = if v.is_v5() {
        code.allowed_in(PacketType::ConnAck)
    } else {
        code.0 <= 5
    };
    if !valid {
        return Err(DecodeError::InvalidReasonCode {
            packet: PacketType::ConnAck,
            code: code.0,
        });
    }
    let session_present = flags & 1 != 0;
    if session_present && code.0 != 0 {
        return Err(DecodeError::SessionPresentOnRefusal);
    }
    c.session_present = session_present;
    c.reason_code = code;
    props(r, v, PropertyContext::ConnAck, &mut c.properties)
}

/// Decodes a PUBLISH into `p` (which starts as [`Publish::empty()`]).
#[inline(always)]
fn publish<'a>(
    r: &mut Reader<'a>,
    flags: u8,
    v: ProtocolVersion,
    p: &mut Publish<'a>,
) -> Result<(), DecodeError> {
    let qos = QoS::from_u8((flags >> 1) & 3).ok_or(DecodeError::InvalidQoS(3))?;
    let (topic, suspect) = r.topic("topic name")?;
    p.packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        packet_id(r)?
    };
    if v.is_v5() {
        p.properties.decode_into(r, PropertyContext::Publish)?;
    }
    if topic.is_empty() {
        if p.properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicName);
        }
    } else if suspect {
        check_topic_name(topic).map_err(DecodeError::InvalidTopicName)?;
    }
    let id = p.packet_id;
    set_publish_fields(p, flags, qos, topic, id, r.rest());
    Ok(())
}

/// The fixed-header flags, topic, packet identifier and payload of a decoded PUBLISH, written
/// into `p` in place (inlined: the fast path writes straight into the return slot).
#[inline(always)]
fn set_publish_fields<'a>(
    p: &mut Publish<'a>,
    flags: u8,
    qos: QoS,
    topic: &'a str,
    packet_id: u16,
    payload: &'a [u8],
) {
    p.dup = flags & 0b1000 != 0;
    p.qos = qos;
    p.retain = flags & 1 != 0;
    p.topic = topic;
    p.packet_id = packet_id;
    p.payload = payload;
}

fn pub_resp<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    ctx: PropertyContext,
    resp: &mut PubResp<'a>,
) -> Result<(), DecodeError> {
    resp.packet_id = packet_id(r)?;
    if v.is_v5() && !r.is_empty() {
        resp.reason_code = reason(r)?;
        if !r.is_empty() {
            resp.properties.decode_into(r, ctx)?;
        }
    }
    Ok(())
}

fn subscribe<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    s: &mut Subscribe<'a>,
) -> Result<(), DecodeError> {
    s.packet_id = packet_id(r)?;
    props(r, v, PropertyContext::Subscribe, &mut s.properties)?;
    let start = r.buf;
    let text = utf8(start);
    let mut count = 0;
    while !r.is_empty() {
        let filter = r.topic_filter(start, text)?;
        let o = r.u8("subscription options")?;
        let reserved = if v.is_v5() { 0b1100_0000 } else { 0b1111_1100 };
        if o & reserved != 0 {
            return Err(DecodeError::ReservedSubscriptionOptions(o));
        }
        if o & 3 == 3 {
            return Err(DecodeError::InvalidQoS(3));
        }
        if (o >> 4) & 3 == 3 {
            return Err(DecodeError::InvalidRetainHandling);
        }
        if o & 0b100 != 0 && matches!(parse_shared(filter), Ok(Some(_))) {
            return Err(DecodeError::NoLocalOnSharedSubscription);
        }
        count += 1;
    }
    if count == 0 {
        return Err(DecodeError::EmptySubscribe);
    }
    s.subscriptions = Seq::packed(start, count);
    Ok(())
}

fn reason_codes<'a>(
    r: &mut Reader<'a>,
    valid: impl Fn(u8) -> bool,
) -> Result<Seq<'a, ReasonCode>, DecodeError> {
    let codes = r.rest();
    if codes.is_empty() {
        return Err(DecodeError::EmptyReasonCodes(r.packet));
    }
    if let Some(&bad) = codes.iter().find(|&&c| !valid(c)) {
        return Err(DecodeError::InvalidReasonCode {
            packet: r.packet,
            code: bad,
        });
    }
    Ok(Seq::packed(codes, codes.len()))
}

fn suback<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    s: &mut SubAck<'a>,
) -> Result<(), DecodeError> {
    s.packet_id = packet_id(r)?;
    props(r, v, PropertyContext::SubAck, &mut s.properties)?;
    s.reason_codes = if v.is_v5() {
        reason_codes(r, |c| ReasonCode(c).allowed_in(PacketType::SubAck))?
    } else {
        reason_codes(r, |c| matches!(c, 0 | 1 | 2 | 0x80))?
    };
    Ok(())
}

fn unsubscribe<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    u: &mut Unsubscribe<'a>,
) -> Result<(), DecodeError> {
    u.packet_id = packet_id(r)?;
    props(r, v, PropertyContext::Unsubscribe, &mut u.properties)?;
    let start = r.buf;
    let text = utf8(start);
    let mut count = 0;
    while !r.is_empty() {
        r.topic_filter(start, text)?;
        count += 1;
    }
    if count == 0 {
        return Err(DecodeError::EmptyUnsubscribe);
    }
    u.filters = Seq::packed(start, count);
    Ok(())
}

fn unsuback<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    u: &mut UnsubAck<'a>,
) -> Result<(), DecodeError> {
    u.packet_id = packet_id(r)?;
    if !v.is_v5() {
        return Ok(());
    }
    u.properties.decode_into(r, PropertyContext::UnsubAck)?;
    u.reason_codes = reason_codes(r, |c| ReasonCode(c).allowed_in(PacketType::UnsubAck))?;
    Ok(())
}

fn disconnect<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    d: &mut Disconnect<'a>,
) -> Result<(), DecodeError> {
    if v.is_v5() && !r.is_empty() {
        d.reason_code = reason(r)?;
        if !r.is_empty() {
            d.properties.decode_into(r, PropertyContext::Disconnect)?;
        }
    }
    Ok(())
}

fn auth<'a>(r: &mut Reader<'a>, a: &mut Auth<'a>) -> Result<(), DecodeError> {
    if !r.is_empty() {
        a.reason_code = reason(r)?;
        if !r.is_empty() {
            a.properties.decode_into(r, PropertyContext::Auth)?;
        }
    }
    Ok(())
}
