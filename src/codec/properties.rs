//! MQTT 5.0 properties (§2.2.2): one struct for every packet, with the table of which property
//! each packet may carry enforced on both decode and encode.

use super::error::{DecodeError, EncodeError};
use super::seq::Seq;
use super::types::QoS;
use super::wire::{check_topic_name, read_var_int, CheckedCounter, Counter, Reader, Sink};
use core::fmt;

/// Property identifiers (MQTT 5.0 §2.2.2.2).
#[allow(missing_docs)]
pub mod id {
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    pub const CONTENT_TYPE: u8 = 0x03;
    pub const RESPONSE_TOPIC: u8 = 0x08;
    pub const CORRELATION_DATA: u8 = 0x09;
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    pub const SERVER_REFERENCE: u8 = 0x1C;
    pub const REASON_STRING: u8 = 0x1F;
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    pub const TOPIC_ALIAS: u8 = 0x23;
    pub const MAXIMUM_QOS: u8 = 0x24;
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    pub const USER_PROPERTY: u8 = 0x26;
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
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
    const fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// Whether MQTT 5.0 allows property `id` in `ctx` (table in §2.2.2.2). `None`: unknown id.
pub fn property_allowed(id: u8, ctx: PropertyContext) -> Option<bool> {
    use PropertyContext as C;
    const fn set(list: &[PropertyContext]) -> u16 {
        let mut m = 0;
        let mut i = 0;
        while i < list.len() {
            m |= list[i].bit();
            i += 1;
        }
        m
    }
    const MSG: u16 = set(&[C::Publish, C::Will]);
    const CONN: u16 = set(&[C::Connect, C::ConnAck]);
    const ACKS: u16 = set(&[
        C::ConnAck,
        C::PubAck,
        C::PubRec,
        C::PubRel,
        C::PubComp,
        C::SubAck,
        C::UnsubAck,
        C::Disconnect,
        C::Auth,
    ]);
    let mask: u16 = match id {
        0x01 | 0x02 | 0x03 | 0x08 | 0x09 => MSG,
        0x0B => set(&[C::Publish, C::Subscribe]),
        0x11 => set(&[C::Connect, C::ConnAck, C::Disconnect]),
        0x12 | 0x13 | 0x1A | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => C::ConnAck.bit(),
        0x15 | 0x16 => set(&[C::Connect, C::ConnAck, C::Auth]),
        0x17 | 0x19 => C::Connect.bit(),
        0x18 => C::Will.bit(),
        0x1C => set(&[C::ConnAck, C::Disconnect]),
        0x1F => ACKS,
        0x21 | 0x22 | 0x27 => CONN,
        0x23 => C::Publish.bit(),
        0x26 => u16::MAX,
        _ => return None,
    };
    Some(mask & ctx.bit() != 0)
}

/// The properties of one packet (or of a will). Every field is optional; a packet may carry only
/// the ones MQTT 5.0 allows for it, which both the decoder and the encoder enforce.
///
/// In MQTT 3.1.1 packets carry no properties: decoding yields the empty default, and encoding a
/// non-empty one is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Properties<'a> {
    /// 0x01: `Some(true)` when the payload is UTF-8 (PUBLISH, will).
    pub payload_format_indicator: Option<bool>,
    /// 0x02: lifetime of the message in seconds (PUBLISH, will).
    pub message_expiry_interval: Option<u32>,
    /// 0x03: content type of the payload (PUBLISH, will).
    pub content_type: Option<&'a str>,
    /// 0x08: topic for a response (PUBLISH, will); a topic name, no wildcards.
    pub response_topic: Option<&'a str>,
    /// 0x09: correlation data of a request/response (PUBLISH, will).
    pub correlation_data: Option<&'a [u8]>,
    /// 0x0B: subscription identifiers (several in PUBLISH, one in SUBSCRIBE), 1..=268 435 455.
    pub subscription_identifiers: Seq<'a, u32>,
    /// 0x11: session expiry interval in seconds (CONNECT, CONNACK, DISCONNECT).
    pub session_expiry_interval: Option<u32>,
    /// 0x12: client identifier assigned by the server (CONNACK).
    pub assigned_client_identifier: Option<&'a str>,
    /// 0x13: keep-alive the server imposes, in seconds (CONNACK).
    pub server_keep_alive: Option<u16>,
    /// 0x15: enhanced authentication method (CONNECT, CONNACK, AUTH).
    pub authentication_method: Option<&'a str>,
    /// 0x16: enhanced authentication data (CONNECT, CONNACK, AUTH).
    pub authentication_data: Option<&'a [u8]>,
    /// 0x17: whether the server may send reason strings and user properties on failures (CONNECT).
    pub request_problem_information: Option<bool>,
    /// 0x18: delay before the will is published, in seconds (will).
    pub will_delay_interval: Option<u32>,
    /// 0x19: whether the server should send response information (CONNECT).
    pub request_response_information: Option<bool>,
    /// 0x1A: basis for response topics (CONNACK).
    pub response_information: Option<&'a str>,
    /// 0x1C: another server to use (CONNACK, DISCONNECT).
    pub server_reference: Option<&'a str>,
    /// 0x1F: human-readable reason (acknowledgements, DISCONNECT, AUTH).
    pub reason_string: Option<&'a str>,
    /// 0x21: how many QoS 1/2 publishes the sender will process at once, non-zero (CONNECT, CONNACK).
    pub receive_maximum: Option<u16>,
    /// 0x22: highest topic alias the sender accepts (CONNECT, CONNACK).
    pub topic_alias_maximum: Option<u16>,
    /// 0x23: topic alias, non-zero (PUBLISH).
    pub topic_alias: Option<u16>,
    /// 0x24: highest QoS the server supports, 0 or 1 (CONNACK).
    pub maximum_qos: Option<QoS>,
    /// 0x25: whether the server supports retained messages (CONNACK).
    pub retain_available: Option<bool>,
    /// 0x26: user properties, in order (every packet).
    pub user_properties: Seq<'a, (&'a str, &'a str)>,
    /// 0x27: largest packet the sender accepts, non-zero (CONNECT, CONNACK).
    pub maximum_packet_size: Option<u32>,
    /// 0x28: whether wildcard subscriptions are supported (CONNACK).
    pub wildcard_subscription_available: Option<bool>,
    /// 0x29: whether subscription identifiers are supported (CONNACK).
    pub subscription_identifiers_available: Option<bool>,
    /// 0x2A: whether shared subscriptions are supported (CONNACK).
    pub shared_subscription_available: Option<bool>,
}

impl<'a> Properties<'a> {
    /// No properties.
    pub const EMPTY: Properties<'static> = Properties {
        payload_format_indicator: None,
        message_expiry_interval: None,
        content_type: None,
        response_topic: None,
        correlation_data: None,
        subscription_identifiers: Seq::empty(),
        session_expiry_interval: None,
        assigned_client_identifier: None,
        server_keep_alive: None,
        authentication_method: None,
        authentication_data: None,
        request_problem_information: None,
        will_delay_interval: None,
        request_response_information: None,
        response_information: None,
        server_reference: None,
        reason_string: None,
        receive_maximum: None,
        topic_alias_maximum: None,
        topic_alias: None,
        maximum_qos: None,
        retain_available: None,
        user_properties: Seq::empty(),
        maximum_packet_size: None,
        wildcard_subscription_available: None,
        subscription_identifiers_available: None,
        shared_subscription_available: None,
    };

    /// Whether no property is set.
    #[inline]
    pub fn is_empty(&self) -> bool {
        // The same as `*self == Properties::EMPTY`, field by field, stopping at the first set.
        self.payload_format_indicator.is_none()
            && self.message_expiry_interval.is_none()
            && self.content_type.is_none()
            && self.response_topic.is_none()
            && self.correlation_data.is_none()
            && self.subscription_identifiers.is_empty()
            && self.session_expiry_interval.is_none()
            && self.assigned_client_identifier.is_none()
            && self.server_keep_alive.is_none()
            && self.authentication_method.is_none()
            && self.authentication_data.is_none()
            && self.request_problem_information.is_none()
            && self.will_delay_interval.is_none()
            && self.request_response_information.is_none()
            && self.response_information.is_none()
            && self.server_reference.is_none()
            && self.reason_string.is_none()
            && self.receive_maximum.is_none()
            && self.topic_alias_maximum.is_none()
            && self.topic_alias.is_none()
            && self.maximum_qos.is_none()
            && self.retain_available.is_none()
            && self.user_properties.is_empty()
            && self.maximum_packet_size.is_none()
            && self.wildcard_subscription_available.is_none()
            && self.subscription_identifiers_available.is_none()
            && self.shared_subscription_available.is_none()
    }

    /// Writes the property length and the properties (MQTT 5.0 only).
    pub(crate) fn encode<S: Sink>(
        &self,
        ctx: PropertyContext,
        s: &mut S,
    ) -> Result<(), EncodeError> {
        if let Some(len) = s.known_props() {
            // Writing pass: the sizing pass measured this block.
            s.put_var_int(len as u32)?;
            return if len == 0 { Ok(()) } else { self.write(ctx, s) };
        }
        if self.is_empty() {
            // No property: a zero length (nothing to check either).
            s.measured_props(0);
            s.put_u8(0);
            return Ok(());
        }
        // The length prefix comes first: measure the block without checking it (a writing
        // sink checks while it writes), or, for a checking counter, check it while measuring
        // and account for it without a second walk.
        let len = if S::CHECK && !S::WRITES {
            let mut c = CheckedCounter::default();
            self.write(ctx, &mut c)?;
            c.0
        } else {
            let mut c = Counter::default();
            self.write(ctx, &mut c)?;
            c.0
        };
        s.measured_props(len);
        s.put_var_int(len as u32)?;
        if S::WRITES {
            self.write(ctx, s)
        } else {
            s.skip(len);
            Ok(())
        }
    }

    /// Fails when any property is set: for MQTT 3.1.1, which has none.
    pub(crate) fn require_empty(&self, ctx: PropertyContext) -> Result<(), EncodeError> {
        if self.is_empty() {
            return Ok(());
        }
        let mut c = FirstId(None);
        let _ = self.write(ctx, &mut c);
        Err(EncodeError::PropertyNotAllowed {
            property: c.0.unwrap_or(0),
            context: ctx,
        })
    }

    fn write<S: Sink>(&self, ctx: PropertyContext, s: &mut S) -> Result<(), EncodeError> {
        fn head<S: Sink>(s: &mut S, id: u8, ctx: PropertyContext) -> Result<(), EncodeError> {
            if S::CHECK && property_allowed(id, ctx) != Some(true) {
                return Err(EncodeError::PropertyNotAllowed {
                    property: id,
                    context: ctx,
                });
            }
            s.put_u8(id);
            Ok(())
        }
        fn nonzero<S: Sink>(id: u8, v: u32) -> Result<(), EncodeError> {
            if S::CHECK && v == 0 {
                return Err(EncodeError::InvalidPropertyValue {
                    property: id,
                    value: 0,
                });
            }
            Ok(())
        }
        macro_rules! byte {
            ($field:ident, $id:expr) => {
                if let Some(v) = self.$field {
                    head(s, $id, ctx)?;
                    s.put_u8(v as u8);
                }
            };
        }
        macro_rules! u16p {
            ($field:ident, $id:expr, $nz:expr) => {
                if let Some(v) = self.$field {
                    head(s, $id, ctx)?;
                    if $nz {
                        nonzero::<S>($id, v.into())?;
                    }
                    s.put_u16(v);
                }
            };
        }
        macro_rules! u32p {
            ($field:ident, $id:expr, $nz:expr) => {
                if let Some(v) = self.$field {
                    head(s, $id, ctx)?;
                    if $nz {
                        nonzero::<S>($id, v)?;
                    }
                    s.put_u32(v);
                }
            };
        }
        macro_rules! strp {
            ($field:ident, $id:expr) => {
                if let Some(v) = self.$field {
                    head(s, $id, ctx)?;
                    s.put_str(v)?;
                }
            };
        }
        macro_rules! binp {
            ($field:ident, $id:expr) => {
                if let Some(v) = self.$field {
                    head(s, $id, ctx)?;
                    s.put_binary(v)?;
                }
            };
        }
        byte!(payload_format_indicator, id::PAYLOAD_FORMAT_INDICATOR);
        u32p!(message_expiry_interval, id::MESSAGE_EXPIRY_INTERVAL, false);
        strp!(content_type, id::CONTENT_TYPE);
        if let Some(t) = self.response_topic {
            if S::CHECK {
                check_topic_name(t).map_err(EncodeError::InvalidTopicName)?;
            }
        }
        strp!(response_topic, id::RESPONSE_TOPIC);
        binp!(correlation_data, id::CORRELATION_DATA);
        if S::CHECK && ctx == PropertyContext::Subscribe && self.subscription_identifiers.len() > 1
        {
            return Err(EncodeError::DuplicateProperty(id::SUBSCRIPTION_IDENTIFIER));
        }
        self.subscription_identifiers.try_each(|v| {
            head(s, id::SUBSCRIPTION_IDENTIFIER, ctx)?;
            nonzero::<S>(id::SUBSCRIPTION_IDENTIFIER, v)?;
            s.put_var_int(v)
        })?;
        u32p!(session_expiry_interval, id::SESSION_EXPIRY_INTERVAL, false);
        strp!(assigned_client_identifier, id::ASSIGNED_CLIENT_IDENTIFIER);
        u16p!(server_keep_alive, id::SERVER_KEEP_ALIVE, false);
        strp!(authentication_method, id::AUTHENTICATION_METHOD);
        binp!(authentication_data, id::AUTHENTICATION_DATA);
        byte!(request_problem_information, id::REQUEST_PROBLEM_INFORMATION);
        u32p!(will_delay_interval, id::WILL_DELAY_INTERVAL, false);
        byte!(
            request_response_information,
            id::REQUEST_RESPONSE_INFORMATION
        );
        strp!(response_information, id::RESPONSE_INFORMATION);
        strp!(server_reference, id::SERVER_REFERENCE);
        strp!(reason_string, id::REASON_STRING);
        u16p!(receive_maximum, id::RECEIVE_MAXIMUM, true);
        u16p!(topic_alias_maximum, id::TOPIC_ALIAS_MAXIMUM, false);
        u16p!(topic_alias, id::TOPIC_ALIAS, true);
        if let Some(q) = self.maximum_qos {
            head(s, id::MAXIMUM_QOS, ctx)?;
            if S::CHECK && q == QoS::ExactlyOnce {
                return Err(EncodeError::InvalidPropertyValue {
                    property: id::MAXIMUM_QOS,
                    value: 2,
                });
            }
            s.put_u8(q as u8);
        }
        byte!(retain_available, id::RETAIN_AVAILABLE);
        self.user_properties.try_each(|(k, v)| {
            head(s, id::USER_PROPERTY, ctx)?;
            s.put_str(k)?;
            s.put_str(v)
        })?;
        u32p!(maximum_packet_size, id::MAXIMUM_PACKET_SIZE, true);
        byte!(
            wildcard_subscription_available,
            id::WILDCARD_SUBSCRIPTION_AVAILABLE
        );
        byte!(
            subscription_identifiers_available,
            id::SUBSCRIPTION_IDENTIFIER_AVAILABLE
        );
        byte!(
            shared_subscription_available,
            id::SHARED_SUBSCRIPTION_AVAILABLE
        );
        Ok(())
    }

    /// Reads a property block (length prefix included) and checks it against the rules for `ctx`.
    ///
    /// Decodes into `self`, which must be empty: decoding straight into the packet being
    /// built saves moving this large struct around.
    #[inline]
    pub(crate) fn decode_into(
        &mut self,
        r: &mut Reader<'a>,
        ctx: PropertyContext,
    ) -> Result<(), DecodeError> {
        let len = r.var_int("property length")? as usize;
        if len == 0 {
            return Ok(());
        }
        let block = r.take(len, "properties")?;
        let mut b = Reader::new(block, r.packet);
        let p = self;
        let mut seen: u64 = 0;
        let mut users = 0usize;
        let mut sub_ids = 0usize;
        while !b.is_empty() {
            let pid = b.var_int("property identifier")?;
            let id8 = u8::try_from(pid).map_err(|_| DecodeError::UnknownProperty(pid))?;
            match property_allowed(id8, ctx) {
                None => return Err(DecodeError::UnknownProperty(pid)),
                Some(false) => {
                    return Err(DecodeError::PropertyNotAllowed {
                        property: id8,
                        context: ctx,
                    })
                }
                Some(true) => {}
            }
            let repeatable = id8 == id::USER_PROPERTY
                || (id8 == id::SUBSCRIPTION_IDENTIFIER && ctx == PropertyContext::Publish);
            if !repeatable {
                let bit = 1u64 << id8;
                if seen & bit != 0 {
                    return Err(DecodeError::DuplicateProperty(id8));
                }
                seen |= bit;
            }
            let bad = |value: u32| DecodeError::InvalidPropertyValue {
                property: id8,
                value,
            };
            let flag = |b: &mut Reader<'a>| -> Result<bool, DecodeError> {
                match b.u8("property value")? {
                    0 => Ok(false),
                    1 => Ok(true),
                    v => Err(bad(v.into())),
                }
            };
            let nz16 = |b: &mut Reader<'a>| -> Result<u16, DecodeError> {
                match b.u16("property value")? {
                    0 => Err(bad(0)),
                    v => Ok(v),
                }
            };
            const F: &str = "property value";
            match id8 {
                id::PAYLOAD_FORMAT_INDICATOR => p.payload_format_indicator = Some(flag(&mut b)?),
                id::MESSAGE_EXPIRY_INTERVAL => p.message_expiry_interval = Some(b.u32(F)?),
                id::CONTENT_TYPE => p.content_type = Some(b.string(F)?),
                id::RESPONSE_TOPIC => {
                    let t = b.string(F)?;
                    check_topic_name(t).map_err(DecodeError::InvalidTopicName)?;
                    p.response_topic = Some(t);
                }
                id::CORRELATION_DATA => p.correlation_data = Some(b.binary(F)?),
                id::SUBSCRIPTION_IDENTIFIER => {
                    if b.var_int(F)? == 0 {
                        return Err(bad(0));
                    }
                    sub_ids += 1;
                }
                id::SESSION_EXPIRY_INTERVAL => p.session_expiry_interval = Some(b.u32(F)?),
                id::ASSIGNED_CLIENT_IDENTIFIER => p.assigned_client_identifier = Some(b.string(F)?),
                id::SERVER_KEEP_ALIVE => p.server_keep_alive = Some(b.u16(F)?),
                id::AUTHENTICATION_METHOD => p.authentication_method = Some(b.string(F)?),
                id::AUTHENTICATION_DATA => p.authentication_data = Some(b.binary(F)?),
                id::REQUEST_PROBLEM_INFORMATION => {
                    p.request_problem_information = Some(flag(&mut b)?)
                }
                id::WILL_DELAY_INTERVAL => p.will_delay_interval = Some(b.u32(F)?),
                id::REQUEST_RESPONSE_INFORMATION => {
                    p.request_response_information = Some(flag(&mut b)?)
                }
                id::RESPONSE_INFORMATION => p.response_information = Some(b.string(F)?),
                id::SERVER_REFERENCE => p.server_reference = Some(b.string(F)?),
                id::REASON_STRING => p.reason_string = Some(b.string(F)?),
                id::RECEIVE_MAXIMUM => p.receive_maximum = Some(nz16(&mut b)?),
                id::TOPIC_ALIAS_MAXIMUM => p.topic_alias_maximum = Some(b.u16(F)?),
                id::TOPIC_ALIAS => p.topic_alias = Some(nz16(&mut b)?),
                id::MAXIMUM_QOS => {
                    p.maximum_qos = Some(match b.u8(F)? {
                        0 => QoS::AtMostOnce,
                        1 => QoS::AtLeastOnce,
                        v => return Err(bad(v.into())),
                    })
                }
                id::RETAIN_AVAILABLE => p.retain_available = Some(flag(&mut b)?),
                id::USER_PROPERTY => {
                    b.string(F)?;
                    b.string(F)?;
                    users += 1;
                }
                id::MAXIMUM_PACKET_SIZE => match b.u32(F)? {
                    0 => return Err(bad(0)),
                    v => p.maximum_packet_size = Some(v),
                },
                id::WILDCARD_SUBSCRIPTION_AVAILABLE => {
                    p.wildcard_subscription_available = Some(flag(&mut b)?)
                }
                id::SUBSCRIPTION_IDENTIFIER_AVAILABLE => {
                    p.subscription_identifiers_available = Some(flag(&mut b)?)
                }
                id::SHARED_SUBSCRIPTION_AVAILABLE => {
                    p.shared_subscription_available = Some(flag(&mut b)?)
                }
                _ => return Err(DecodeError::UnknownProperty(pid)),
            }
        }
        if users > 0 {
            p.user_properties = Seq::property(block, users, id::USER_PROPERTY);
        }
        if sub_ids > 0 {
            p.subscription_identifiers = Seq::property(block, sub_ids, id::SUBSCRIPTION_IDENTIFIER);
        }
        Ok(())
    }
}

/// Skips the value of an already-validated property.
pub(crate) fn skip_property(id: u8, buf: &mut &[u8]) {
    let n = match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => 1,
        0x13 | 0x21 | 0x22 | 0x23 => 2,
        0x02 | 0x11 | 0x18 | 0x27 => 4,
        0x0B => match read_var_int(buf) {
            Ok(Some((_, n))) => n,
            _ => buf.len(),
        },
        0x26 => {
            let k = 2 + u16::from_be_bytes([buf[0], buf[1]]) as usize;
            k + 2 + u16::from_be_bytes([buf[k], buf[k + 1]]) as usize
        }
        _ => 2 + u16::from_be_bytes([buf[0], buf[1]]) as usize,
    };
    *buf = &buf[n.min(buf.len())..];
}

/// Records the first property identifier written.
struct FirstId(Option<u8>);

impl Sink for FirstId {
    const CHECK: bool = false;
    const WRITES: bool = true;
    fn skip(&mut self, _: usize) {}
    fn put_u8(&mut self, v: u8) {
        if self.0.is_none() {
            self.0 = Some(v);
        }
    }
    fn put_slice(&mut self, v: &[u8]) {
        if self.0.is_none() {
            self.0 = v.first().copied();
        }
    }
}
