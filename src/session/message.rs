//! Owned application messages and their MQTT 5.0 properties.

use crate::codec::{Properties, Publish, QoS, Seq};
use alloc::boxed::Box;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;
use core::ops::{Deref, DerefMut};

/// The MQTT 5.0 properties an application message carries (ignored in 3.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageProperties {
    /// `Some(true)` when the payload is UTF-8 text.
    pub payload_format_indicator: Option<bool>,
    /// Lifetime of the message in seconds.
    pub message_expiry_interval: Option<u32>,
    /// Content type (a MIME type, say).
    pub content_type: Option<String>,
    /// Topic a responder should publish its response to.
    pub response_topic: Option<String>,
    /// Data that ties a response to its request.
    pub correlation_data: Option<Vec<u8>>,
    /// User properties, in order.
    pub user_properties: Vec<(String, String)>,
    /// On received messages: the identifiers of the subscriptions that matched.
    pub subscription_identifiers: Vec<u32>,
}

impl BoxedProperties {
    pub(crate) fn from_wire(p: &Properties<'_>) -> Self {
        if p.is_empty() {
            // Every 3.1.1 message and most v5 ones: no walk over the empty lists.
            return BoxedProperties(None);
        }
        MessageProperties::from_wire(p).into()
    }
}

impl MessageProperties {
    pub(crate) fn from_wire(p: &Properties<'_>) -> Self {
        MessageProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            content_type: p.content_type.map(str::to_string),
            response_topic: p.response_topic.map(str::to_string),
            correlation_data: p.correlation_data.map(<[u8]>::to_vec),
            user_properties: p
                .user_properties
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            subscription_identifiers: p.subscription_identifiers.iter().collect(),
        }
    }

    /// Borrows these properties for the codec; `users` must hold the borrowed user properties.
    pub(crate) fn to_wire<'a>(&'a self, users: &'a [(&'a str, &'a str)]) -> Properties<'a> {
        Properties {
            payload_format_indicator: self.payload_format_indicator,
            message_expiry_interval: self.message_expiry_interval,
            content_type: self.content_type.as_deref(),
            response_topic: self.response_topic.as_deref(),
            correlation_data: self.correlation_data.as_deref(),
            user_properties: Seq::from_slice(users),
            ..Properties::default()
        }
    }

    pub(crate) fn borrowed_users(&self) -> Vec<(&str, &str)> {
        self.user_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    pub(crate) fn wire_size(&self) -> usize {
        self.content_type.as_ref().map_or(0, |s| s.len() + 3)
            + self.response_topic.as_ref().map_or(0, |s| s.len() + 3)
            + self.correlation_data.as_ref().map_or(0, |s| s.len() + 3)
            + self
                .user_properties
                .iter()
                .map(|(k, v)| k.len() + v.len() + 5)
                .sum::<usize>()
            + 16
    }
}

/// A message's [`MessageProperties`], kept out of line: a message without any (every 3.1.1
/// message, most v5 ones) holds no allocation and only a pointer's room, so that messages and
/// events stay small as they move through queues.
///
/// It reads and writes as the properties themselves (it dereferences to
/// [`MessageProperties`]; the first write through `&mut` allocates), and converts from them:
///
/// ```
/// use wasmqtt::session::{Message, MessageProperties};
/// let mut m = Message::new("t", "x");
/// assert_eq!(m.properties.content_type, None);
/// m.properties.content_type = Some("text/plain".into());
/// m.properties = MessageProperties::default().into();
/// assert_eq!(m.properties, MessageProperties::default());
/// ```
#[derive(Clone, Default)]
pub struct BoxedProperties(Option<Box<MessageProperties>>);

/// The properties of [`BoxedProperties`] when there are none (what
/// [`MessageProperties::default`] gives).
static NO_PROPERTIES: MessageProperties = MessageProperties {
    payload_format_indicator: None,
    message_expiry_interval: None,
    content_type: None,
    response_topic: None,
    correlation_data: None,
    user_properties: Vec::new(),
    subscription_identifiers: Vec::new(),
};

impl BoxedProperties {
    /// Whether no property is set (no allocation is held then, unless one was written through
    /// `&mut` and emptied again).
    pub fn is_empty(&self) -> bool {
        self.0.as_deref().is_none_or(|p| *p == NO_PROPERTIES)
    }

    /// The properties, moved out.
    pub fn into_inner(self) -> MessageProperties {
        self.0.map_or_else(MessageProperties::default, |b| *b)
    }
}

impl Deref for BoxedProperties {
    type Target = MessageProperties;
    fn deref(&self) -> &MessageProperties {
        self.0.as_deref().unwrap_or(&NO_PROPERTIES)
    }
}

impl DerefMut for BoxedProperties {
    fn deref_mut(&mut self) -> &mut MessageProperties {
        self.0.get_or_insert_with(Box::default)
    }
}

impl From<MessageProperties> for BoxedProperties {
    fn from(p: MessageProperties) -> Self {
        BoxedProperties((p != NO_PROPERTIES).then(|| Box::new(p)))
    }
}

impl From<BoxedProperties> for MessageProperties {
    fn from(p: BoxedProperties) -> Self {
        p.into_inner()
    }
}

impl PartialEq for BoxedProperties {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl Eq for BoxedProperties {}

impl PartialEq<MessageProperties> for BoxedProperties {
    fn eq(&self, other: &MessageProperties) -> bool {
        **self == *other
    }
}

impl fmt::Debug for BoxedProperties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// An application message, to publish or as received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Message {
    /// Topic name.
    pub topic: String,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Quality of service.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// MQTT 5.0 properties (read and written as [`MessageProperties`]; see
    /// [`BoxedProperties`]).
    pub properties: BoxedProperties,
}

impl Message {
    /// A message with default QoS 0, not retained, without properties.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        Message {
            topic: topic.into(),
            payload: payload.into(),
            ..Message::default()
        }
    }

    /// The same message at `qos`.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// The same message with the retain flag set to `retain`.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }

    /// The same message with these properties.
    pub fn properties(mut self, properties: MessageProperties) -> Self {
        self.properties = properties.into();
        self
    }

    /// Approximate memory the message holds, used for the queue's byte budget.
    pub(crate) fn cost(&self) -> usize {
        self.topic.len() + self.payload.len() + self.properties.wire_size()
    }
}

/// A message received from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMessage {
    /// The message (topic resolved from a topic alias when one was used).
    pub message: Message,
    /// Whether the broker flagged it as a possible redelivery.
    pub dup: bool,
    /// With [`Options::manual_acks`](super::Options::manual_acks), the id to pass to
    /// [`Session::ack`](super::Session::ack) once the application is done with a QoS 1/2
    /// message; `None` otherwise (QoS 0, or acknowledged on arrival).
    pub ack: Option<super::AckId>,
}

impl ReceivedMessage {
    pub(crate) fn from_publish(p: &Publish<'_>, topic: String) -> Self {
        ReceivedMessage {
            message: Message {
                topic,
                payload: p.payload.to_vec(),
                qos: p.qos,
                retain: p.retain,
                properties: BoxedProperties::from_wire(&p.properties),
            },
            dup: p.dup,
            ack: None,
        }
    }
}
