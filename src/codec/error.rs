//! Typed errors of the codec: one variant per rule a packet can break.

use super::types::{PacketType, PropertyContext};
use crate::topic::TopicError;
use thiserror::Error;

/// Why bytes received from the network are not a valid MQTT packet.
///
/// Every variant is a Malformed Packet or Protocol Error in the sense of the specification; a
/// v5 session answers them with DISCONNECT and the reason code [`DecodeError::reason_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The packet type nibble is reserved (0, or 15 in MQTT 3.1.1).
    #[error("reserved packet type {0}")]
    ReservedPacketType(u8),
    /// The fixed-header flags differ from the ones the packet type requires.
    #[error("invalid fixed header flags {flags:#06b} for {packet}")]
    InvalidFlags {
        /// The packet type.
        packet: PacketType,
        /// The flags found.
        flags: u8,
    },
    /// A variable byte integer (remaining length or property) runs past 4 bytes.
    #[error("variable byte integer longer than 4 bytes")]
    MalformedVarInt,
    /// A variable byte integer used more bytes than its value needs.
    #[error("variable byte integer not in its shortest encoding")]
    NonMinimalVarInt,
    /// The packet is larger than the configured maximum packet size.
    #[error("packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge {
        /// Total packet size, fixed header included.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// A field runs past the end of the packet (its remaining length).
    #[error("{packet} ends in the middle of its {field}")]
    Truncated {
        /// The packet type.
        packet: PacketType,
        /// The field being read.
        field: &'static str,
    },
    /// Bytes are left over after the last field.
    #[error("{extra} bytes left over after the end of the {packet} packet")]
    TrailingBytes {
        /// The packet type.
        packet: PacketType,
        /// How many bytes were left.
        extra: usize,
    },
    /// QoS 3 in a PUBLISH, a will or a subscription.
    #[error("QoS {0} does not exist")]
    InvalidQoS(u8),
    /// PUBLISH with QoS 0 and the DUP flag set (MQTT 5.0 MQTT-3.3.1-2, 3.1.1 MQTT-3.3.1-2).
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    /// Packet identifier 0 where a non-zero one is required.
    #[error("packet identifier 0 in {0}")]
    ZeroPacketId(PacketType),
    /// A UTF-8 string field is not well-formed UTF-8.
    #[error("string is not well-formed UTF-8")]
    InvalidUtf8,
    /// A UTF-8 string field contains U+0000.
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// A topic name is not valid.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// A topic filter is not valid.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// An empty topic name in a PUBLISH without a topic alias.
    #[error("empty topic name without a topic alias")]
    EmptyTopicName,
    /// A property identifier that MQTT 5.0 does not define.
    #[error("unknown property identifier {0:#04x}")]
    UnknownProperty(u32),
    /// A property that is not allowed in this packet.
    #[error("property {property:#04x} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property identifier.
        property: u8,
        /// Where it was found.
        context: PropertyContext,
    },
    /// A property given more than once where only once is allowed.
    #[error("property {0:#04x} given more than once")]
    DuplicateProperty(u8),
    /// A property value outside its allowed range (a zero receive maximum, a byte not 0/1, …).
    #[error("invalid value {value} for property {property:#04x}")]
    InvalidPropertyValue {
        /// The property identifier.
        property: u8,
        /// The value found.
        value: u32,
    },
    /// SUBSCRIBE without any topic filter.
    #[error("SUBSCRIBE without topic filters")]
    EmptySubscribe,
    /// UNSUBSCRIBE without any topic filter.
    #[error("UNSUBSCRIBE without topic filters")]
    EmptyUnsubscribe,
    /// SUBACK or UNSUBACK (v5) without reason codes.
    #[error("{0} without reason codes")]
    EmptyReasonCodes(PacketType),
    /// Reserved bits set in subscription options (or in the 3.1.1 requested-QoS byte).
    #[error("reserved bits set in subscription options {0:#010b}")]
    ReservedSubscriptionOptions(u8),
    /// Retain handling 3 in a v5 subscription.
    #[error("retain handling 3 is reserved")]
    InvalidRetainHandling,
    /// No Local set on a shared subscription (v5 MQTT-3.8.3-4).
    #[error("No Local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// The CONNECT protocol name is not "MQTT".
    #[error("protocol name is not \"MQTT\"")]
    InvalidProtocolName,
    /// The CONNECT protocol level is neither 4 (3.1.1) nor 5 (5.0).
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// The reserved bit 0 of the CONNECT flags is set.
    #[error("reserved bit set in CONNECT flags")]
    ConnectReservedFlag,
    /// Will QoS or Will Retain set while the Will Flag is not.
    #[error("will QoS or will retain set without the will flag")]
    WillFlagsWithoutWill,
    /// Password flag without user name flag (MQTT 3.1.1 MQTT-3.1.2-22).
    #[error("password flag set without the user name flag")]
    PasswordWithoutUsername,
    /// Reserved bits set in the CONNACK acknowledge flags.
    #[error("reserved bits set in CONNACK flags {0:#010b}")]
    InvalidConnAckFlags(u8),
    /// Session Present set on a CONNACK that refuses the connection.
    #[error("session present set on a refused CONNACK")]
    SessionPresentOnRefusal,
    /// A reason (or return) code the packet may not carry.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The code found.
        code: u8,
    },
}

impl DecodeError {
    /// The MQTT 5.0 reason code a DISCONNECT sent in answer should carry.
    pub fn reason_code(&self) -> super::ReasonCode {
        use super::ReasonCode as R;
        match self {
            DecodeError::PacketTooLarge { .. } => R::PACKET_TOO_LARGE,
            DecodeError::InvalidTopicName(_) | DecodeError::EmptyTopicName => R::TOPIC_NAME_INVALID,
            DecodeError::InvalidTopicFilter(_) => R::TOPIC_FILTER_INVALID,
            DecodeError::DuplicateProperty(_)
            | DecodeError::PropertyNotAllowed { .. }
            | DecodeError::InvalidPropertyValue { .. }
            | DecodeError::NoLocalOnSharedSubscription
            | DecodeError::ZeroPacketId(_) => R::PROTOCOL_ERROR,
            _ => R::MALFORMED_PACKET,
        }
    }
}

/// Why a packet cannot be encoded: it would break a rule the specification sets for senders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// A UTF-8 string field is longer than 65 535 bytes.
    #[error("string of {0} bytes is longer than 65535")]
    StringTooLong(usize),
    /// A binary field is longer than 65 535 bytes.
    #[error("binary data of {0} bytes is longer than 65535")]
    BinaryTooLong(usize),
    /// A UTF-8 string field contains U+0000.
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// The encoded packet would exceed the maximum (268 435 460 bytes, or the peer's maximum).
    #[error("packet of {size} bytes exceeds the maximum packet size of {max}")]
    PacketTooLarge {
        /// Size the packet would have.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// A variable byte integer value above 268 435 455.
    #[error("value {0} does not fit a variable byte integer")]
    VarIntTooLarge(u32),
    /// Packet identifier 0 where a non-zero one is required.
    #[error("packet identifier 0 in {0}")]
    ZeroPacketId(PacketType),
    /// An invalid topic name.
    #[error("invalid topic name: {0}")]
    InvalidTopicName(TopicError),
    /// An invalid topic filter.
    #[error("invalid topic filter: {0}")]
    InvalidTopicFilter(TopicError),
    /// A property not allowed in this packet (or any property in MQTT 3.1.1).
    #[error("property {property:#04x} is not allowed in {context}")]
    PropertyNotAllowed {
        /// The property identifier.
        property: u8,
        /// Where it was given.
        context: PropertyContext,
    },
    /// A property value outside its allowed range.
    #[error("invalid value {value} for property {property:#04x}")]
    InvalidPropertyValue {
        /// The property identifier.
        property: u8,
        /// The value given.
        value: u32,
    },
    /// More than one subscription identifier in SUBSCRIBE.
    #[error("property {0:#04x} given more than once")]
    DuplicateProperty(u8),
    /// A reason code the packet may not carry in this version.
    #[error("reason code {code:#04x} is not valid in {packet}")]
    InvalidReasonCode {
        /// The packet type.
        packet: PacketType,
        /// The code given.
        code: u8,
    },
    /// SUBSCRIBE with no topic filter.
    #[error("SUBSCRIBE without topic filters")]
    EmptySubscribe,
    /// DUP set on a QoS 0 PUBLISH (MQTT 5.0 MQTT-3.3.1-2, 3.1.1 MQTT-3.3.1-2: "The DUP flag
    /// MUST be set to 0 for all QoS 0 messages").
    #[error("DUP flag set on a QoS 0 PUBLISH")]
    DupOnQoS0,
    /// A 3.1.1 UNSUBACK with reason codes: in 3.1.1 it is the packet identifier alone
    /// (§3.11.3: "The UNSUBACK Packet has no payload").
    #[error("reason codes in an MQTT 3.1.1 UNSUBACK, which has no payload")]
    ReasonCodesNotInVersion(PacketType),
    /// UNSUBSCRIBE with no topic filter.
    #[error("UNSUBSCRIBE without topic filters")]
    EmptyUnsubscribe,
    /// SUBACK or UNSUBACK (v5) with no reason code.
    #[error("{0} without reason codes")]
    EmptyReasonCodes(PacketType),
    /// The packet does not exist in this protocol version (AUTH in 3.1.1).
    #[error("{packet} does not exist in MQTT {version}")]
    NotInVersion {
        /// The packet type.
        packet: PacketType,
        /// The version asked for.
        version: super::ProtocolVersion,
    },
    /// No Local on a shared subscription (v5 MQTT-3.8.3-4).
    #[error("No Local set on a shared subscription")]
    NoLocalOnSharedSubscription,
    /// No Local, Retain As Published or Retain Handling other than 0 in an MQTT 3.1.1
    /// SUBSCRIBE: those options exist only in MQTT 5.0 (v5 §3.8.3.1); in 3.1.1 the upper six
    /// bits of the Requested QoS byte are reserved and must be 0 (v3.1.1 §3.8.3.1, a server
    /// treats them set as malformed). Refused rather than silently dropped.
    #[error("No Local, Retain As Published or Retain Handling set in an MQTT 3.1.1 SUBSCRIBE")]
    SubscriptionOptionsNotInVersion,
    /// A 3.1.1 password without a user name (MQTT 3.1.1 MQTT-3.1.2-22).
    #[error("password without a user name is not allowed in MQTT 3.1.1")]
    PasswordWithoutUsername,
    /// Session Present set on a refusing CONNACK.
    #[error("session present set on a refused CONNACK")]
    SessionPresentOnRefusal,
    /// A 3.1.1 client id that is empty while clean session is off (MQTT 3.1.1 MQTT-3.1.3-7).
    #[error("an empty client identifier requires clean session in MQTT 3.1.1")]
    EmptyClientIdWithoutCleanSession,
    /// An AUTH the client may not send: CONNECT carried no Authentication Method (MQTT 5.0
    /// MQTT-4.12.0-7), or there is no connection awaiting or past CONNACK to send it on.
    #[error("AUTH is not allowed: no authentication method in CONNECT, or no connection")]
    UnexpectedAuth,
}
