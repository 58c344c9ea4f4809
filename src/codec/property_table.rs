//! The MQTT 5.0 property table (§2.2.2.2), written once: identifier, constant name, field,
//! wire type and the packets that may carry it. [`property_table!`] hands the rows to a macro
//! of the caller's, which generates what it needs from them: here the identifiers, the
//! allowed-packet rule and the value skipper; in [`super::properties`] the [`Properties`]
//! struct, its emptiness test, encoder and decoder.
//!
//! Wire types (the rows' `= Kind`): `Flag` (a byte 0 or 1), `MaxQoS` (a byte 0 or 1, as
//! [`QoS`](super::QoS)), `U16`, `NzU16` (non-zero), `U32`, `NzU32` (non-zero), `Str` (UTF-8
//! string), `Topic` (UTF-8 string that is a valid topic name), `Bin` (binary data), `SubIds`
//! (variable byte integers 1..=268 435 455, repeatable in PUBLISH) and `Users` (string pairs,
//! repeatable everywhere).
//!
//! [`Properties`]: super::Properties

use super::types::PropertyContext;
use super::wire::read_var_int;

/// Calls `$then! { rows }` with every MQTT 5.0 property, in identifier order (the order in
/// which they are encoded).
macro_rules! property_table {
    ($then:ident) => {
        $then! {
            /// 0x01: `Some(true)` when the payload is UTF-8 (PUBLISH, will).
            0x01 PAYLOAD_FORMAT_INDICATOR payload_format_indicator: Option<bool> = Flag [Publish, Will];
            /// 0x02: lifetime of the message in seconds (PUBLISH, will).
            0x02 MESSAGE_EXPIRY_INTERVAL message_expiry_interval: Option<u32> = U32 [Publish, Will];
            /// 0x03: content type of the payload (PUBLISH, will).
            0x03 CONTENT_TYPE content_type: Option<&'a str> = Str [Publish, Will];
            /// 0x08: topic for a response (PUBLISH, will); a topic name, no wildcards.
            0x08 RESPONSE_TOPIC response_topic: Option<&'a str> = Topic [Publish, Will];
            /// 0x09: correlation data of a request/response (PUBLISH, will).
            0x09 CORRELATION_DATA correlation_data: Option<&'a [u8]> = Bin [Publish, Will];
            /// 0x0B: subscription identifiers (several in PUBLISH, one in SUBSCRIBE), 1..=268 435 455.
            0x0B SUBSCRIPTION_IDENTIFIER subscription_identifiers: Seq<'a, u32> = SubIds [Publish, Subscribe];
            /// 0x11: session expiry interval in seconds (CONNECT, CONNACK, DISCONNECT).
            0x11 SESSION_EXPIRY_INTERVAL session_expiry_interval: Option<u32> = U32 [Connect, ConnAck, Disconnect];
            /// 0x12: client identifier assigned by the server (CONNACK).
            0x12 ASSIGNED_CLIENT_IDENTIFIER assigned_client_identifier: Option<&'a str> = Str [ConnAck];
            /// 0x13: keep-alive the server imposes, in seconds (CONNACK).
            0x13 SERVER_KEEP_ALIVE server_keep_alive: Option<u16> = U16 [ConnAck];
            /// 0x15: enhanced authentication method (CONNECT, CONNACK, AUTH).
            0x15 AUTHENTICATION_METHOD authentication_method: Option<&'a str> = Str [Connect, ConnAck, Auth];
            /// 0x16: enhanced authentication data (CONNECT, CONNACK, AUTH).
            0x16 AUTHENTICATION_DATA authentication_data: Option<&'a [u8]> = Bin [Connect, ConnAck, Auth];
            /// 0x17: whether the server may send reason strings and user properties on failures (CONNECT).
            0x17 REQUEST_PROBLEM_INFORMATION request_problem_information: Option<bool> = Flag [Connect];
            /// 0x18: delay before the will is published, in seconds (will).
            0x18 WILL_DELAY_INTERVAL will_delay_interval: Option<u32> = U32 [Will];
            /// 0x19: whether the server should send response information (CONNECT).
            0x19 REQUEST_RESPONSE_INFORMATION request_response_information: Option<bool> = Flag [Connect];
            /// 0x1A: basis for response topics (CONNACK).
            0x1A RESPONSE_INFORMATION response_information: Option<&'a str> = Str [ConnAck];
            /// 0x1C: another server to use (CONNACK, DISCONNECT).
            0x1C SERVER_REFERENCE server_reference: Option<&'a str> = Str [ConnAck, Disconnect];
            /// 0x1F: human-readable reason (acknowledgements, DISCONNECT, AUTH).
            0x1F REASON_STRING reason_string: Option<&'a str> = Str
                [ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth];
            /// 0x21: how many QoS 1/2 publishes the sender will process at once, non-zero (CONNECT, CONNACK).
            0x21 RECEIVE_MAXIMUM receive_maximum: Option<u16> = NzU16 [Connect, ConnAck];
            /// 0x22: highest topic alias the sender accepts (CONNECT, CONNACK).
            0x22 TOPIC_ALIAS_MAXIMUM topic_alias_maximum: Option<u16> = U16 [Connect, ConnAck];
            /// 0x23: topic alias, non-zero (PUBLISH).
            0x23 TOPIC_ALIAS topic_alias: Option<u16> = NzU16 [Publish];
            /// 0x24: highest QoS the server supports, 0 or 1 (CONNACK).
            0x24 MAXIMUM_QOS maximum_qos: Option<QoS> = MaxQoS [ConnAck];
            /// 0x25: whether the server supports retained messages (CONNACK).
            0x25 RETAIN_AVAILABLE retain_available: Option<bool> = Flag [ConnAck];
            /// 0x26: user properties, in order (every packet).
            0x26 USER_PROPERTY user_properties: Seq<'a, (&'a str, &'a str)> = Users
                [Connect, ConnAck, Publish, Will, PubAck, PubRec, PubRel, PubComp, Subscribe,
                 SubAck, Unsubscribe, UnsubAck, Disconnect, Auth];
            /// 0x27: largest packet the sender accepts, non-zero (CONNECT, CONNACK).
            0x27 MAXIMUM_PACKET_SIZE maximum_packet_size: Option<u32> = NzU32 [Connect, ConnAck];
            /// 0x28: whether wildcard subscriptions are supported (CONNACK).
            0x28 WILDCARD_SUBSCRIPTION_AVAILABLE wildcard_subscription_available: Option<bool> = Flag [ConnAck];
            /// 0x29: whether subscription identifiers are supported (CONNACK).
            0x29 SUBSCRIPTION_IDENTIFIER_AVAILABLE subscription_identifiers_available: Option<bool> = Flag [ConnAck];
            /// 0x2A: whether shared subscriptions are supported (CONNACK).
            0x2A SHARED_SUBSCRIPTION_AVAILABLE shared_subscription_available: Option<bool> = Flag [ConnAck];
        }
    };
}
pub(crate) use property_table;

/// The number of bytes of a value on the wire, by wire type, given the bytes that start with it.
macro_rules! value_len {
    (Flag, $b:ident) => {
        1
    };
    (MaxQoS, $b:ident) => {
        1
    };
    (U16, $b:ident) => {
        2
    };
    (NzU16, $b:ident) => {
        2
    };
    (U32, $b:ident) => {
        4
    };
    (NzU32, $b:ident) => {
        4
    };
    (Str, $b:ident) => {
        prefixed($b, 0)
    };
    (Topic, $b:ident) => {
        prefixed($b, 0)
    };
    (Bin, $b:ident) => {
        prefixed($b, 0)
    };
    (SubIds, $b:ident) => {
        match read_var_int($b) {
            Ok(Some((_, n))) => n,
            _ => $b.len(),
        }
    };
    (Users, $b:ident) => {{
        let k = prefixed($b, 0);
        k + prefixed($b, k)
    }};
}

macro_rules! generate {
    ($( $(#[$doc:meta])* $id:literal $name:ident $field:ident : $ty:ty = $kind:ident
        [$($ctx:ident),* $(,)?]; )*) => {
        /// Property identifiers (MQTT 5.0 §2.2.2.2).
        #[allow(missing_docs)]
        pub mod id {
            $( pub const $name: u8 = $id; )*
        }

        /// Which contexts may carry each property identifier, as a [`PropertyContext::bit`]
        /// mask; 0 for an unknown identifier.
        pub(crate) static ALLOWED: [u16; 64] = {
            let mut t = [0u16; 64];
            $( t[$id] = 0 $( | PropertyContext::$ctx.bit() )*; )*
            t
        };

        /// The identifiers each context may carry, one bit per identifier, indexed by
        /// `PropertyContext as usize`.
        pub(crate) const ALLOWED_IDS: [u64; 16] = {
            let mut t = [0u64; 16];
            $( $( t[PropertyContext::$ctx as usize] |= 1u64 << $id; )* )*
            t
        };

        /// Skips the value of an already-validated property.
        pub(crate) fn skip_value(id: u8, buf: &mut &[u8]) {
            let b: &[u8] = buf;
            let n = match id {
                $( $id => value_len!($kind, b), )*
                _ => b.len(),
            };
            *buf = &buf[n.min(buf.len())..];
        }
    };
}
property_table!(generate);

/// Whether MQTT 5.0 allows property `id` in `ctx` (table in §2.2.2.2). `None`: unknown id.
#[inline]
pub fn property_allowed(id: u8, ctx: PropertyContext) -> Option<bool> {
    match ALLOWED.get(usize::from(id)) {
        Some(&mask) if mask != 0 => Some(mask & ctx.bit() != 0),
        _ => None,
    }
}

/// The length of the two-byte-length-prefixed field at `at`, prefix included (0 past the end).
#[inline]
fn prefixed(b: &[u8], at: usize) -> usize {
    match b.get(at..at + 2) {
        Some(&[hi, lo]) => 2 + usize::from(u16::from_be_bytes([hi, lo])),
        _ => b.len(),
    }
}
