//! Between `wasi:messaging` messages and errors and the core's.
//!
//! **Sending** (`producer.send`, `request-reply.request` and `reply`): the message's data is the
//! payload and its content type the MQTT 5.0 Content Type. Two metadata keys are MQTT's and are
//! not sent as such:
//! - `mqtt-qos`: `0`, `1` or `2` (default `1`: at least once, so that `send` returning `Ok`
//!   means the broker has the message; a `reply` defaults to its request's QoS);
//! - `mqtt-retain`: `true` or `false` (default `false`).
//!
//! Any other value of these two is refused (`error.other`, nothing sent). Every other metadata
//! entry becomes an MQTT 5.0 user property, in order.
//!
//! **Receiving**: a message carries its topic, its data, its Content Type, and as metadata its
//! user properties followed by `mqtt-qos` (the QoS it was delivered at) and `mqtt-retain`
//! (`true` for a retained message), so a received message sent on again keeps its QoS.
//!
//! **Errors**: a broker refusal with reason code 0x87 (not authorized) or 0x86 (bad user name
//! or password) is `permission-denied`; a network failure, a lost or closed connection is
//! `connection`; a deadline is `timeout`; everything else (invalid topics, refusals, bad
//! metadata) is `other`, with the core's text and the reason code.

use alloc::rc::Weak;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use wasmqtt::codec::QoS;
use wasmqtt::session::{
    DisconnectReason, Message, MessageProperties, PublishError, ReceivedMessage, RequestError,
    ResponseError,
};

use crate::connection::Conn;
use crate::exports::wasmqtt::mqtt::messaging_consumer as consumer;
use crate::Error;

/// The metadata key of the QoS.
pub const QOS_KEY: &str = "mqtt-qos";
/// The metadata key of the retain flag.
pub const RETAIN_KEY: &str = "mqtt-retain";

/// What a message resource holds.
pub struct MessageData {
    pub data: Vec<u8>,
    pub topic: Option<String>,
    pub content_type: Option<String>,
    pub metadata: Vec<(String, String)>,
    /// Of a received message: what `reply` needs.
    pub qos: QoS,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    /// Of a received message: the connection it came on.
    pub origin: Option<Weak<RefCell<Conn>>>,
}

impl MessageData {
    /// A message made by the app.
    pub fn new(data: Vec<u8>) -> Self {
        MessageData {
            data,
            topic: None,
            content_type: None,
            metadata: Vec::new(),
            qos: QoS::AtLeastOnce,
            response_topic: None,
            correlation_data: None,
            origin: None,
        }
    }

    /// A message received on `origin`.
    pub fn received(m: ReceivedMessage, origin: Weak<RefCell<Conn>>) -> Self {
        let m = m.message;
        let p = m.properties.into_inner();
        let mut metadata = p.user_properties;
        metadata.push((QOS_KEY.to_string(), (m.qos as u8).to_string()));
        metadata.push((RETAIN_KEY.to_string(), m.retain.to_string()));
        MessageData {
            data: m.payload,
            topic: Some(m.topic),
            content_type: p.content_type,
            metadata,
            qos: m.qos,
            response_topic: p.response_topic,
            correlation_data: p.correlation_data,
            origin: Some(origin),
        }
    }

    /// The request `reply` answers: refused when this message carries no response topic.
    pub fn as_request(&self) -> Result<ReceivedMessage, Error> {
        let Some(topic) = self.response_topic.clone() else {
            return Err(Error::Other(
                "reply-to carries no response topic: only a received MQTT 5.0 request \
                 (a message with a Response Topic) can be replied to"
                    .to_string(),
            ));
        };
        let mut m = Message::new(self.topic.clone().unwrap_or_default(), Vec::new()).qos(self.qos);
        m.properties.response_topic = Some(topic);
        m.properties.correlation_data = self.correlation_data.clone();
        Ok(ReceivedMessage {
            message: m,
            dup: false,
            ack: None,
        })
    }
}

/// The core message to publish on `topic` (see the module docs); `default_qos` when the
/// metadata names none (`None`: at least once).
pub fn outgoing(
    d: &MessageData,
    topic: String,
    default_qos: Option<QoS>,
) -> Result<Message, Error> {
    let mut qos = default_qos.unwrap_or(QoS::AtLeastOnce);
    let mut retain = false;
    let mut user_properties = Vec::new();
    for (k, v) in &d.metadata {
        match k.as_str() {
            QOS_KEY => {
                qos = match v.as_str() {
                    "0" => QoS::AtMostOnce,
                    "1" => QoS::AtLeastOnce,
                    "2" => QoS::ExactlyOnce,
                    _ => {
                        return Err(Error::Other(alloc::format!(
                            "metadata {QOS_KEY} must be 0, 1 or 2, not '{v}'"
                        )))
                    }
                }
            }
            RETAIN_KEY => {
                retain = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => {
                        return Err(Error::Other(alloc::format!(
                            "metadata {RETAIN_KEY} must be true or false, not '{v}'"
                        )))
                    }
                }
            }
            _ => user_properties.push((k.clone(), v.clone())),
        }
    }
    let properties = MessageProperties {
        content_type: d.content_type.clone(),
        user_properties,
        ..MessageProperties::default()
    };
    let mut m = Message::new(topic, d.data.clone()).qos(qos);
    m.retain = retain;
    m.properties = properties.into();
    Ok(m)
}

/// `permission-denied` for the refusals that mean it, `other` for the rest.
pub fn refused(code: u8, text: String) -> Error {
    match code {
        0x86 | 0x87 => Error::PermissionDenied(text),
        _ => Error::Other(text),
    }
}

pub fn publish_error(e: PublishError) -> Error {
    match e {
        PublishError::Rejected(code) => refused(
            code.0,
            alloc::format!(
                "the broker refused the message: {} (0x{:02x})",
                code.name().unwrap_or("failure"),
                code.0
            ),
        ),
        PublishError::SessionClosed => Error::Connection(e.to_string()),
        e => Error::Other(e.to_string()),
    }
}

pub fn request_error(e: RequestError) -> Error {
    match e {
        RequestError::SessionClosed => Error::Connection(e.to_string()),
        e => Error::Other(e.to_string()),
    }
}

pub fn response_error(e: ResponseError) -> Error {
    match e {
        ResponseError::Timeout(_) => Error::Timeout,
        ResponseError::SessionClosed => Error::Connection(e.to_string()),
        ResponseError::Publish(e) => publish_error(e),
        ResponseError::SubscriptionRefused(code) => refused(code.0, e.to_string()),
        e => Error::Other(e.to_string()),
    }
}

/// Why the first connection failed.
pub fn connect_error(reason: DisconnectReason) -> Error {
    match reason {
        DisconnectReason::ConnectTimeout => Error::Timeout,
        DisconnectReason::Refused { code, .. } => refused(code.0, reason.to_string()),
        DisconnectReason::Transport(_) | DisconnectReason::ConnectionLost => {
            Error::Connection(reason.to_string())
        }
        other => Error::Connection(other.to_string()),
    }
}

pub fn consumer_qos(q: consumer::Qos) -> QoS {
    match q {
        consumer::Qos::AtMostOnce => QoS::AtMostOnce,
        consumer::Qos::AtLeastOnce => QoS::AtLeastOnce,
        consumer::Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}
