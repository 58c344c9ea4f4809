//! Small value types shared by every packet: protocol version, QoS, reason codes, packet kinds.

use core::fmt;

/// The MQTT protocol version a connection speaks.
///
/// The codec is one tree parameterised by this value: fields that exist only in 5.0
/// (properties, most reason codes) are written and read only when it is [`ProtocolVersion::V5`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    /// MQTT 3.1.1 (protocol level 4).
    V311,
    /// MQTT 5.0 (protocol level 5).
    V5,
}

impl ProtocolVersion {
    /// The protocol level byte carried in CONNECT.
    pub const fn level(self) -> u8 {
        match self {
            ProtocolVersion::V311 => 4,
            ProtocolVersion::V5 => 5,
        }
    }

    /// The version for a CONNECT protocol level byte, if this codec speaks it.
    pub const fn from_level(level: u8) -> Option<Self> {
        match level {
            4 => Some(ProtocolVersion::V311),
            5 => Some(ProtocolVersion::V5),
            _ => None,
        }
    }

    /// Whether this is MQTT 5.0.
    pub const fn is_v5(self) -> bool {
        matches!(self, ProtocolVersion::V5)
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ProtocolVersion::V311 => "3.1.1",
            ProtocolVersion::V5 => "5.0",
        })
    }
}

/// Quality of service of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum QoS {
    /// At most once (0).
    #[default]
    AtMostOnce = 0,
    /// At least once (1).
    AtLeastOnce = 1,
    /// Exactly once (2).
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for its wire value, `None` for 3 or more.
    pub const fn from_u8(v: u8) -> Option<QoS> {
        match v {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

impl TryFrom<u8> for QoS {
    type Error = u8;
    fn try_from(v: u8) -> Result<Self, u8> {
        QoS::from_u8(v).ok_or(v)
    }
}

/// Retain handling option of a v5 subscription (MQTT 5.0 §3.8.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// Send retained messages at the time of the subscribe (0).
    #[default]
    SendAtSubscribe = 0,
    /// Send retained messages only if the subscription did not exist (1).
    SendIfNew = 1,
    /// Do not send retained messages (2).
    DoNotSend = 2,
}

impl RetainHandling {
    /// The retain handling for its wire value, `None` for 3.
    pub const fn from_u8(v: u8) -> Option<Self> {
        match v {
            0 => Some(RetainHandling::SendAtSubscribe),
            1 => Some(RetainHandling::SendIfNew),
            2 => Some(RetainHandling::DoNotSend),
            _ => None,
        }
    }
}

/// The kind of an MQTT control packet (the high nibble of the first byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PacketType {
    /// CONNECT (1)
    Connect = 1,
    /// CONNACK (2)
    ConnAck = 2,
    /// PUBLISH (3)
    Publish = 3,
    /// PUBACK (4)
    PubAck = 4,
    /// PUBREC (5)
    PubRec = 5,
    /// PUBREL (6)
    PubRel = 6,
    /// PUBCOMP (7)
    PubComp = 7,
    /// SUBSCRIBE (8)
    Subscribe = 8,
    /// SUBACK (9)
    SubAck = 9,
    /// UNSUBSCRIBE (10)
    Unsubscribe = 10,
    /// UNSUBACK (11)
    UnsubAck = 11,
    /// PINGREQ (12)
    PingReq = 12,
    /// PINGRESP (13)
    PingResp = 13,
    /// DISCONNECT (14)
    Disconnect = 14,
    /// AUTH (15, MQTT 5.0 only)
    Auth = 15,
}

impl PacketType {
    /// The packet type for a high nibble, `None` for the reserved value 0.
    pub const fn from_nibble(n: u8) -> Option<Self> {
        use PacketType::*;
        Some(match n {
            1 => Connect,
            2 => ConnAck,
            3 => Publish,
            4 => PubAck,
            5 => PubRec,
            6 => PubRel,
            7 => PubComp,
            8 => Subscribe,
            9 => SubAck,
            10 => Unsubscribe,
            11 => UnsubAck,
            12 => PingReq,
            13 => PingResp,
            14 => Disconnect,
            15 => Auth,
            _ => return None,
        })
    }

    /// The fixed-header flags every packet but PUBLISH must carry (MQTT 3.1.1 and 5.0 §2.1.3).
    pub const fn required_flags(self) -> u8 {
        match self {
            PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
            _ => 0,
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PacketType::*;
        f.write_str(match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            PingReq => "PINGREQ",
            PingResp => "PINGRESP",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        })
    }
}

/// A reason code as carried on the wire.
///
/// In MQTT 5.0 it is the reason code of CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK,
/// UNSUBACK, DISCONNECT and AUTH. In MQTT 3.1.1 the same type carries the CONNACK return code
/// (0–5) and the SUBACK return codes (0, 1, 2, 0x80), whose values mean other things: use
/// [`ReasonCode::is_error`] rather than comparing against the v5 constants there.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ReasonCode(pub u8);

#[allow(missing_docs)]
impl ReasonCode {
    pub const SUCCESS: ReasonCode = ReasonCode(0x00);
    pub const NORMAL_DISCONNECTION: ReasonCode = ReasonCode(0x00);
    pub const GRANTED_QOS_0: ReasonCode = ReasonCode(0x00);
    pub const GRANTED_QOS_1: ReasonCode = ReasonCode(0x01);
    pub const GRANTED_QOS_2: ReasonCode = ReasonCode(0x02);
    pub const DISCONNECT_WITH_WILL_MESSAGE: ReasonCode = ReasonCode(0x04);
    pub const NO_MATCHING_SUBSCRIBERS: ReasonCode = ReasonCode(0x10);
    pub const NO_SUBSCRIPTION_EXISTED: ReasonCode = ReasonCode(0x11);
    pub const CONTINUE_AUTHENTICATION: ReasonCode = ReasonCode(0x18);
    pub const RE_AUTHENTICATE: ReasonCode = ReasonCode(0x19);
    pub const UNSPECIFIED_ERROR: ReasonCode = ReasonCode(0x80);
    pub const MALFORMED_PACKET: ReasonCode = ReasonCode(0x81);
    pub const PROTOCOL_ERROR: ReasonCode = ReasonCode(0x82);
    pub const IMPLEMENTATION_SPECIFIC_ERROR: ReasonCode = ReasonCode(0x83);
    pub const UNSUPPORTED_PROTOCOL_VERSION: ReasonCode = ReasonCode(0x84);
    pub const CLIENT_IDENTIFIER_NOT_VALID: ReasonCode = ReasonCode(0x85);
    pub const BAD_USER_NAME_OR_PASSWORD: ReasonCode = ReasonCode(0x86);
    pub const NOT_AUTHORIZED: ReasonCode = ReasonCode(0x87);
    pub const SERVER_UNAVAILABLE: ReasonCode = ReasonCode(0x88);
    pub const SERVER_BUSY: ReasonCode = ReasonCode(0x89);
    pub const BANNED: ReasonCode = ReasonCode(0x8A);
    pub const SERVER_SHUTTING_DOWN: ReasonCode = ReasonCode(0x8B);
    pub const BAD_AUTHENTICATION_METHOD: ReasonCode = ReasonCode(0x8C);
    pub const KEEP_ALIVE_TIMEOUT: ReasonCode = ReasonCode(0x8D);
    pub const SESSION_TAKEN_OVER: ReasonCode = ReasonCode(0x8E);
    pub const TOPIC_FILTER_INVALID: ReasonCode = ReasonCode(0x8F);
    pub const TOPIC_NAME_INVALID: ReasonCode = ReasonCode(0x90);
    pub const PACKET_IDENTIFIER_IN_USE: ReasonCode = ReasonCode(0x91);
    pub const PACKET_IDENTIFIER_NOT_FOUND: ReasonCode = ReasonCode(0x92);
    pub const RECEIVE_MAXIMUM_EXCEEDED: ReasonCode = ReasonCode(0x93);
    pub const TOPIC_ALIAS_INVALID: ReasonCode = ReasonCode(0x94);
    pub const PACKET_TOO_LARGE: ReasonCode = ReasonCode(0x95);
    pub const MESSAGE_RATE_TOO_HIGH: ReasonCode = ReasonCode(0x96);
    pub const QUOTA_EXCEEDED: ReasonCode = ReasonCode(0x97);
    pub const ADMINISTRATIVE_ACTION: ReasonCode = ReasonCode(0x98);
    pub const PAYLOAD_FORMAT_INVALID: ReasonCode = ReasonCode(0x99);
    pub const RETAIN_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9A);
    pub const QOS_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9B);
    pub const USE_ANOTHER_SERVER: ReasonCode = ReasonCode(0x9C);
    pub const SERVER_MOVED: ReasonCode = ReasonCode(0x9D);
    pub const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: ReasonCode = ReasonCode(0x9E);
    pub const CONNECTION_RATE_EXCEEDED: ReasonCode = ReasonCode(0x9F);
    pub const MAXIMUM_CONNECT_TIME: ReasonCode = ReasonCode(0xA0);
    pub const SUBSCRIPTION_IDENTIFIERS_NOT_SUPPORTED: ReasonCode = ReasonCode(0xA1);
    pub const WILDCARD_SUBSCRIPTIONS_NOT_SUPPORTED: ReasonCode = ReasonCode(0xA2);
}

impl ReasonCode {
    /// Whether the code reports a failure (0x80 or above), in both versions.
    ///
    /// For a 3.1.1 CONNACK, use [`crate::codec::ConnAck::is_accepted`] instead: its refusals are 1–5.
    pub const fn is_error(self) -> bool {
        self.0 >= 0x80
    }

    /// The MQTT 5.0 name of this code, or `None` for a value 5.0 does not define.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "Success",
            0x01 => "Granted QoS 1",
            0x02 => "Granted QoS 2",
            0x04 => "Disconnect with Will Message",
            0x10 => "No matching subscribers",
            0x11 => "No subscription existed",
            0x18 => "Continue authentication",
            0x19 => "Re-authenticate",
            0x80 => "Unspecified error",
            0x81 => "Malformed Packet",
            0x82 => "Protocol Error",
            0x83 => "Implementation specific error",
            0x84 => "Unsupported Protocol Version",
            0x85 => "Client Identifier not valid",
            0x86 => "Bad User Name or Password",
            0x87 => "Not authorized",
            0x88 => "Server unavailable",
            0x89 => "Server busy",
            0x8A => "Banned",
            0x8B => "Server shutting down",
            0x8C => "Bad authentication method",
            0x8D => "Keep Alive timeout",
            0x8E => "Session taken over",
            0x8F => "Topic Filter invalid",
            0x90 => "Topic Name invalid",
            0x91 => "Packet Identifier in use",
            0x92 => "Packet Identifier not found",
            0x93 => "Receive Maximum exceeded",
            0x94 => "Topic Alias invalid",
            0x95 => "Packet too large",
            0x96 => "Message rate too high",
            0x97 => "Quota exceeded",
            0x98 => "Administrative action",
            0x99 => "Payload format invalid",
            0x9A => "Retain not supported",
            0x9B => "QoS not supported",
            0x9C => "Use another server",
            0x9D => "Server moved",
            0x9E => "Shared Subscriptions not supported",
            0x9F => "Connection rate exceeded",
            0xA0 => "Maximum connect time",
            0xA1 => "Subscription Identifiers not supported",
            0xA2 => "Wildcard Subscriptions not supported",
            _ => return None,
        })
    }

    /// The name of this code as `version` defines it in a packet of type `packet`: in MQTT
    /// 3.1.1 the CONNACK return codes 0–5 (v3.1.1 §3.2.2.3: 1 is "unacceptable protocol
    /// version", 4 "bad user name or password", ...) and the SUBACK return codes (0–2 granted
    /// QoS, 0x80 failure), which are not the 5.0 names of the same values; in MQTT 5.0
    /// [`ReasonCode::name`]. `None` for a value the version does not define there.
    pub const fn name_for(
        self,
        version: ProtocolVersion,
        packet: PacketType,
    ) -> Option<&'static str> {
        if version.is_v5() {
            return self.name();
        }
        Some(match (packet, self.0) {
            (PacketType::ConnAck, 0) => "Connection accepted",
            (PacketType::ConnAck, 1) => "Connection refused: unacceptable protocol version",
            (PacketType::ConnAck, 2) => "Connection refused: identifier rejected",
            (PacketType::ConnAck, 3) => "Connection refused: server unavailable",
            (PacketType::ConnAck, 4) => "Connection refused: bad user name or password",
            (PacketType::ConnAck, 5) => "Connection refused: not authorized",
            (PacketType::SubAck, 0) => "Success - Maximum QoS 0",
            (PacketType::SubAck, 1) => "Success - Maximum QoS 1",
            (PacketType::SubAck, 2) => "Success - Maximum QoS 2",
            (PacketType::SubAck, 0x80) => "Failure",
            _ => return None,
        })
    }

    /// Displays as `0x04 (Connection refused: bad user name or password)`: the code in hex and
    /// its name as `version` defines it in a packet of type `packet` ([`ReasonCode::name_for`]),
    /// or the code alone for a value the version does not define there.
    pub const fn named(self, version: ProtocolVersion, packet: PacketType) -> NamedCode {
        NamedCode {
            code: self,
            version,
            packet,
        }
    }

    /// Whether MQTT 5.0 allows this code in a packet of the given type (§2.4, table 2-6).
    pub fn allowed_in(self, packet: PacketType) -> bool {
        let allowed: &[u8] = match packet {
            PacketType::ConnAck => &[
                0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
                0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
            ],
            PacketType::PubAck | PacketType::PubRec => {
                &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
            }
            PacketType::PubRel | PacketType::PubComp => &[0x00, 0x92],
            PacketType::SubAck => &[
                0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
            ],
            PacketType::UnsubAck => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
            PacketType::Disconnect => &[
                0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
                0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1,
                0xA2,
            ],
            PacketType::Auth => &[0x00, 0x18, 0x19],
            _ => &[],
        };
        allowed.contains(&self.0)
    }
}

impl fmt::Debug for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "ReasonCode(0x{:02X} {n})", self.0),
            None => write!(f, "ReasonCode(0x{:02X})", self.0),
        }
    }
}

impl fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(n) => write!(f, "0x{:02X} ({n})", self.0),
            None => write!(f, "0x{:02X}", self.0),
        }
    }
}

/// A reason code (v5) or return code (3.1.1) with the name its version gives it in one packet
/// type ([`ReasonCode::named`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NamedCode {
    /// The code.
    pub code: ReasonCode,
    /// The version whose table names it.
    pub version: ProtocolVersion,
    /// The packet it came in (CONNACK, SUBACK, ...).
    pub packet: PacketType,
}

impl fmt::Display for NamedCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.code.name_for(self.version, self.packet) {
            Some(n) => write!(f, "0x{:02X} ({n})", self.code.0),
            None => write!(f, "0x{:02X}", self.code.0),
        }
    }
}

/// Where a property block stands: a packet type, or the will properties of CONNECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum PropertyContext {
    Connect,
    ConnAck,
    Publish,
    Will,
    PubAck,
    PubRec,
    PubRel,
    PubComp,
    Subscribe,
    SubAck,
    Unsubscribe,
    UnsubAck,
    Disconnect,
    Auth,
}

impl fmt::Display for PropertyContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use PropertyContext::*;
        f.write_str(match self {
            Connect => "CONNECT",
            ConnAck => "CONNACK",
            Publish => "PUBLISH",
            Will => "will properties",
            PubAck => "PUBACK",
            PubRec => "PUBREC",
            PubRel => "PUBREL",
            PubComp => "PUBCOMP",
            Subscribe => "SUBSCRIBE",
            SubAck => "SUBACK",
            Unsubscribe => "UNSUBSCRIBE",
            UnsubAck => "UNSUBACK",
            Disconnect => "DISCONNECT",
            Auth => "AUTH",
        })
    }
}

impl PropertyContext {
    /// This context's bit in the property table's masks.
    pub(crate) const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}
