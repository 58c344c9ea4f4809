//! Streaming decoder: a buffer in, "need more bytes" or one borrowed packet and its length out.

use super::error::DecodeError;
use super::packet::*;
use super::properties::{Properties, PropertyContext};
use super::seq::Seq;
use super::types::{PacketType, ProtocolVersion, QoS, ReasonCode};
use super::wire::{read_var_int, Reader, MAX_VAR_INT};
use crate::topic::{parse_shared, validate_topic_filter, validate_topic_name};

/// The largest packet MQTT can express: 1 type byte, 4 length bytes, 268 435 455 bytes of body.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + MAX_VAR_INT;

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
    pub fn decode<'a>(&self, buf: &'a [u8]) -> Result<Option<(Packet<'a>, usize)>, DecodeError> {
        let Some(h) = FixedHeader::parse(buf, self.version)? else {
            return Ok(None);
        };
        let size = h.packet_len();
        if size > self.max_packet_size as usize {
            return Err(DecodeError::PacketTooLarge {
                size,
                max: self.max_packet_size,
            });
        }
        if buf.len() < size {
            return Ok(None);
        }
        let body = &buf[h.header_len..size];
        let packet = decode_body(h.packet_type, h.flags, body, self.version)?;
        Ok(Some((packet, size)))
    }
}

/// Decodes one whole packet from `buf` at `version`; see [`Decoder::decode`].
pub fn decode(
    buf: &[u8],
    version: ProtocolVersion,
) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    Decoder::new(version).decode(buf)
}

fn decode_body<'a>(
    t: PacketType,
    flags: u8,
    body: &'a [u8],
    v: ProtocolVersion,
) -> Result<Packet<'a>, DecodeError> {
    let mut r = Reader::new(body, t);
    let p = match t {
        PacketType::Connect => Packet::Connect(connect(&mut r)?),
        PacketType::ConnAck => Packet::ConnAck(connack(&mut r, v)?),
        PacketType::Publish => Packet::Publish(publish(&mut r, flags, v)?),
        PacketType::PubAck => Packet::PubAck(pub_resp(&mut r, v, PropertyContext::PubAck)?),
        PacketType::PubRec => Packet::PubRec(pub_resp(&mut r, v, PropertyContext::PubRec)?),
        PacketType::PubRel => Packet::PubRel(pub_resp(&mut r, v, PropertyContext::PubRel)?),
        PacketType::PubComp => Packet::PubComp(pub_resp(&mut r, v, PropertyContext::PubComp)?),
        PacketType::Subscribe => Packet::Subscribe(subscribe(&mut r, v)?),
        PacketType::SubAck => Packet::SubAck(suback(&mut r, v)?),
        PacketType::Unsubscribe => Packet::Unsubscribe(unsubscribe(&mut r, v)?),
        PacketType::UnsubAck => Packet::UnsubAck(unsuback(&mut r, v)?),
        PacketType::PingReq => Packet::PingReq,
        PacketType::PingResp => Packet::PingResp,
        PacketType::Disconnect => Packet::Disconnect(disconnect(&mut r, v)?),
        PacketType::Auth => Packet::Auth(auth(&mut r)?),
    };
    if !r.is_empty() {
        return Err(DecodeError::TrailingBytes {
            packet: t,
            extra: r.remaining(),
        });
    }
    Ok(p)
}

fn packet_id(r: &mut Reader<'_>) -> Result<u16, DecodeError> {
    match r.u16("packet identifier")? {
        0 => Err(DecodeError::ZeroPacketId(r.packet)),
        id => Ok(id),
    }
}

fn props<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    ctx: PropertyContext,
) -> Result<Properties<'a>, DecodeError> {
    if v.is_v5() {
        Properties::decode(r, ctx)
    } else {
        Ok(Properties::default())
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

fn connect<'a>(r: &mut Reader<'a>) -> Result<Connect<'a>, DecodeError> {
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
    let keep_alive = r.u16("keep alive")?;
    let properties = props(r, protocol, PropertyContext::Connect)?;
    let client_id = r.string("client identifier")?;
    let will = if has_will {
        let properties = props(r, protocol, PropertyContext::Will)?;
        let topic = r.string("will topic")?;
        validate_topic_name(topic).map_err(DecodeError::InvalidTopicName)?;
        let payload = r.binary("will payload")?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        Some(r.string("user name")?)
    } else {
        None
    };
    let password = if has_password {
        Some(r.binary("password")?)
    } else {
        None
    };
    Ok(Connect {
        protocol,
        clean_start: flags & 0b10 != 0,
        keep_alive,
        properties,
        client_id,
        will,
        username,
        password,
    })
}

fn connack<'a>(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<ConnAck<'a>, DecodeError> {
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
    Ok(ConnAck {
        session_present,
        reason_code: code,
        properties: props(r, v, PropertyContext::ConnAck)?,
    })
}

fn publish<'a>(
    r: &mut Reader<'a>,
    flags: u8,
    v: ProtocolVersion,
) -> Result<Publish<'a>, DecodeError> {
    let qos = QoS::from_u8((flags >> 1) & 3).ok_or(DecodeError::InvalidQoS(3))?;
    let topic = r.string("topic name")?;
    let packet_id = if qos == QoS::AtMostOnce {
        0
    } else {
        packet_id(r)?
    };
    let properties = props(r, v, PropertyContext::Publish)?;
    if topic.is_empty() {
        if properties.topic_alias.is_none() {
            return Err(DecodeError::EmptyTopicName);
        }
    } else {
        validate_topic_name(topic).map_err(DecodeError::InvalidTopicName)?;
    }
    Ok(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 1 != 0,
        topic,
        packet_id,
        properties,
        payload: r.rest(),
    })
}

fn pub_resp<'a>(
    r: &mut Reader<'a>,
    v: ProtocolVersion,
    ctx: PropertyContext,
) -> Result<PubResp<'a>, DecodeError> {
    let packet_id = packet_id(r)?;
    let mut resp = PubResp {
        packet_id,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties::default(),
    };
    if v.is_v5() && !r.is_empty() {
        resp.reason_code = reason(r)?;
        if !r.is_empty() {
            resp.properties = Properties::decode(r, ctx)?;
        }
    }
    Ok(resp)
}

fn subscribe<'a>(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Subscribe<'a>, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = props(r, v, PropertyContext::Subscribe)?;
    let start = r.buf;
    let mut count = 0;
    while !r.is_empty() {
        let filter = r.string("topic filter")?;
        validate_topic_filter(filter).map_err(DecodeError::InvalidTopicFilter)?;
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
    Ok(Subscribe {
        packet_id,
        properties,
        subscriptions: Seq::packed(start, count),
    })
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

fn suback<'a>(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<SubAck<'a>, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = props(r, v, PropertyContext::SubAck)?;
    let reason_codes = if v.is_v5() {
        reason_codes(r, |c| ReasonCode(c).allowed_in(PacketType::SubAck))?
    } else {
        reason_codes(r, |c| matches!(c, 0 | 1 | 2 | 0x80))?
    };
    Ok(SubAck {
        packet_id,
        properties,
        reason_codes,
    })
}

fn unsubscribe<'a>(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Unsubscribe<'a>, DecodeError> {
    let packet_id = packet_id(r)?;
    let properties = props(r, v, PropertyContext::Unsubscribe)?;
    let start = r.buf;
    let mut count = 0;
    while !r.is_empty() {
        let filter = r.string("topic filter")?;
        validate_topic_filter(filter).map_err(DecodeError::InvalidTopicFilter)?;
        count += 1;
    }
    if count == 0 {
        return Err(DecodeError::EmptyUnsubscribe);
    }
    Ok(Unsubscribe {
        packet_id,
        properties,
        filters: Seq::packed(start, count),
    })
}

fn unsuback<'a>(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<UnsubAck<'a>, DecodeError> {
    let packet_id = packet_id(r)?;
    if !v.is_v5() {
        return Ok(UnsubAck {
            packet_id,
            properties: Properties::default(),
            reason_codes: Seq::empty(),
        });
    }
    let properties = Properties::decode(r, PropertyContext::UnsubAck)?;
    let reason_codes = reason_codes(r, |c| ReasonCode(c).allowed_in(PacketType::UnsubAck))?;
    Ok(UnsubAck {
        packet_id,
        properties,
        reason_codes,
    })
}

fn disconnect<'a>(r: &mut Reader<'a>, v: ProtocolVersion) -> Result<Disconnect<'a>, DecodeError> {
    let mut d = Disconnect::default();
    if v.is_v5() && !r.is_empty() {
        d.reason_code = reason(r)?;
        if !r.is_empty() {
            d.properties = Properties::decode(r, PropertyContext::Disconnect)?;
        }
    }
    Ok(d)
}

fn auth<'a>(r: &mut Reader<'a>) -> Result<Auth<'a>, DecodeError> {
    let mut a = Auth::default();
    if !r.is_empty() {
        a.reason_code = reason(r)?;
        if !r.is_empty() {
            a.properties = Properties::decode(r, PropertyContext::Auth)?;
        }
    }
    Ok(a)
}
