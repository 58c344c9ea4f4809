//! The MQTT control packets, borrowing their strings and payloads.

use super::properties::Properties;
use super::seq::Seq;
use super::subscription::Subscription;
use super::types::{PacketType, ProtocolVersion, QoS, ReasonCode};

/// A will message, sent by the server when the client goes away uncleanly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Will<'a> {
    /// Topic name of the will message.
    pub topic: &'a str,
    /// Its payload.
    pub payload: &'a [u8],
    /// Its QoS.
    pub qos: QoS,
    /// Whether it is retained.
    pub retain: bool,
    /// v5 will properties (delay, expiry, content type, …).
    pub properties: Properties<'a>,
}

/// CONNECT (MQTT 3.1.1 §3.1, 5.0 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Connect<'a> {
    /// The protocol version the client asks for; the encoder writes this version's packet.
    pub protocol: ProtocolVersion,
    /// Clean Start (v5) / Clean Session (3.1.1).
    pub clean_start: bool,
    /// Keep alive in seconds; 0 turns it off.
    pub keep_alive: u16,
    /// v5 CONNECT properties.
    pub properties: Properties<'a>,
    /// Client identifier; empty asks the server to assign one.
    pub client_id: &'a str,
    /// The will, if any.
    pub will: Option<Will<'a>>,
    /// User name, if any.
    pub username: Option<&'a str>,
    /// Password, if any (binary data).
    pub password: Option<&'a [u8]>,
}

/// CONNACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// Whether the server resumed a session.
    pub session_present: bool,
    /// v5 reason code, or the 3.1.1 return code (0–5).
    pub reason_code: ReasonCode,
    /// v5 CONNACK properties.
    pub properties: Properties<'a>,
}

impl ConnAck<'_> {
    /// Whether the connection was accepted (code 0 in both versions).
    pub fn is_accepted(&self) -> bool {
        self.reason_code.0 == 0
    }
}

/// PUBLISH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Publish<'a> {
    /// Redelivery flag.
    pub dup: bool,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// Topic name (may be empty in v5 when a topic alias is set).
    pub topic: &'a str,
    /// Packet identifier; non-zero for QoS 1 and 2, ignored (and decoded as 0) for QoS 0.
    pub packet_id: u16,
    /// v5 PUBLISH properties.
    pub properties: Properties<'a>,
    /// Application message.
    pub payload: &'a [u8],
}

impl Publish<'_> {
    /// A QoS 0 PUBLISH with an empty topic, no properties and an empty payload: a start for
    /// building one in place.
    #[inline(always)]
    pub(crate) fn empty() -> Publish<'static> {
        Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "",
            packet_id: 0,
            properties: Properties::default(),
            payload: &[],
        }
    }
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP: a packet identifier with a v5 reason code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PubResp<'a> {
    /// Packet identifier of the PUBLISH this answers.
    pub packet_id: u16,
    /// v5 reason code (always Success in 3.1.1).
    pub reason_code: ReasonCode,
    /// v5 properties (reason string, user properties).
    pub properties: Properties<'a>,
}

impl PubResp<'_> {
    /// A successful acknowledgement of `packet_id` without properties.
    pub const fn new(packet_id: u16) -> Self {
        PubResp {
            packet_id,
            reason_code: ReasonCode::SUCCESS,
            properties: Properties::EMPTY,
        }
    }
}

/// SUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// v5 properties (subscription identifier, user properties).
    pub properties: Properties<'a>,
    /// At least one subscription.
    pub subscriptions: Seq<'a, Subscription<'a>>,
}

/// SUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier of the SUBSCRIBE.
    pub packet_id: u16,
    /// v5 properties.
    pub properties: Properties<'a>,
    /// One code per subscription: granted QoS (0, 1, 2) or a failure (≥ 0x80).
    pub reason_codes: Seq<'a, ReasonCode>,
}

/// UNSUBSCRIBE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier.
    pub packet_id: u16,
    /// v5 properties (user properties).
    pub properties: Properties<'a>,
    /// At least one topic filter.
    pub filters: Seq<'a, &'a str>,
}

/// UNSUBACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsubAck<'a> {
    /// Packet identifier of the UNSUBSCRIBE.
    pub packet_id: u16,
    /// v5 properties.
    pub properties: Properties<'a>,
    /// v5: one reason code per filter. Always empty in 3.1.1.
    pub reason_codes: Seq<'a, ReasonCode>,
}

/// DISCONNECT (v5 reason code and properties; 3.1.1 has neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Disconnect<'a> {
    /// Reason code (Normal disconnection in 3.1.1).
    pub reason_code: ReasonCode,
    /// v5 properties.
    pub properties: Properties<'a>,
}

/// AUTH (MQTT 5.0 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Auth<'a> {
    /// Success, Continue authentication or Re-authenticate.
    pub reason_code: ReasonCode,
    /// Properties (authentication method and data, reason string, user properties).
    pub properties: Properties<'a>,
}

/// Any MQTT control packet.
///
/// CONNECT is much larger than the rest (two property blocks); boxing it would make decoding
/// allocate, and packets are short-lived views of a buffer, so the size difference is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs, clippy::large_enum_variant)]
pub enum Packet<'a> {
    Connect(Connect<'a>),
    ConnAck(ConnAck<'a>),
    Publish(Publish<'a>),
    PubAck(PubResp<'a>),
    PubRec(PubResp<'a>),
    PubRel(PubResp<'a>),
    PubComp(PubResp<'a>),
    Subscribe(Subscribe<'a>),
    SubAck(SubAck<'a>),
    Unsubscribe(Unsubscribe<'a>),
    UnsubAck(UnsubAck<'a>),
    PingReq,
    PingResp,
    Disconnect(Disconnect<'a>),
    Auth(Auth<'a>),
}

impl Packet<'_> {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Packet::Connect(_) => PacketType::Connect,
            Packet::ConnAck(_) => PacketType::ConnAck,
            Packet::Publish(_) => PacketType::Publish,
            Packet::PubAck(_) => PacketType::PubAck,
            Packet::PubRec(_) => PacketType::PubRec,
            Packet::PubRel(_) => PacketType::PubRel,
            Packet::PubComp(_) => PacketType::PubComp,
            Packet::Subscribe(_) => PacketType::Subscribe,
            Packet::SubAck(_) => PacketType::SubAck,
            Packet::Unsubscribe(_) => PacketType::Unsubscribe,
            Packet::UnsubAck(_) => PacketType::UnsubAck,
            Packet::PingReq => PacketType::PingReq,
            Packet::PingResp => PacketType::PingResp,
            Packet::Disconnect(_) => PacketType::Disconnect,
            Packet::Auth(_) => PacketType::Auth,
        }
    }
}
