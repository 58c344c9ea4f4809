//! What the session tells the application, and its errors.

use super::message::ReceivedMessage;
use crate::codec::{DecodeError, EncodeError, PacketType, ProtocolVersion, ReasonCode};
use crate::topic::TopicError;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use thiserror::Error;

/// Identifies one publish from [`super::Session::publish`] to its completion event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishId(pub u64);

/// Identifies one subscribe or unsubscribe request to its completion event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

/// What the broker said when it accepted the connection (v5 CONNACK properties).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectionInfo {
    /// Whether the broker resumed a session.
    pub session_present: bool,
    /// v5: client identifier the broker assigned.
    pub assigned_client_id: Option<String>,
    /// The keep-alive in force (the broker's if it imposed one).
    pub keep_alive: u16,
    /// Outbound window in force: min(our max_inflight, the broker's receive maximum).
    pub inflight_window: u16,
    /// v5: the broker's maximum packet size.
    pub max_packet_size: Option<u32>,
    /// v5: the broker's topic alias maximum.
    pub topic_alias_maximum: u16,
    /// v5: the highest QoS the broker supports.
    pub maximum_qos: crate::codec::QoS,
    /// v5: whether retained messages are available.
    pub retain_available: bool,
    /// v5: response information.
    pub response_information: Option<String>,
    /// v5: reason string.
    pub reason_string: Option<String>,
    /// The broker of [`Options::brokers`](super::Options::brokers) that accepted this
    /// connection ([`Session::broker`](super::Session::broker) then); `None` with an empty
    /// list (the driver's own address).
    pub broker: Option<crate::broker::Broker>,
}

/// Why the connection ended.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The transport closed or failed ([`super::Session::handle_disconnected`]).
    #[error("connection lost")]
    ConnectionLost,
    /// The transport closed or failed, or could not be opened, with the driver's description
    /// (an I/O error, a WebSocket close code and reason, a denied network policy:
    /// [`super::Session::handle_disconnected_with`]).
    #[error("connection lost: {0}")]
    Transport(String),
    /// The TLS or WebSocket handshake failed: the transport opened but the broker could not
    /// be trusted, refused us, or does not speak what the URL says
    /// ([`super::Session::handle_handshake_failed`]).
    #[error("{failure}: {detail}")]
    Handshake {
        /// What failed, typed.
        failure: HandshakeFailure,
        /// The TLS library's or the WebSocket layer's description.
        detail: String,
    },
    /// The broker refused CONNECT. The text names the code as `version` does: a 3.1.1 return
    /// code with its 3.1.1 meaning (v3.1.1 §3.2.2.3, table 3.1: `connection refused: 0x04
    /// (Connection refused: bad user name or password)`), a v5 reason code with its v5 name
    /// (`connection refused: 0x86 (Bad User Name or Password)`).
    #[error("connection refused: {}{}", code.named(*version, PacketType::ConnAck), reason.as_deref().map(|r| alloc::format!(" ({r})")).unwrap_or_default())]
    Refused {
        /// Reason (v5) or return code (3.1.1).
        code: ReasonCode,
        /// The protocol version whose table defines `code`: the connection's for a broker's
        /// CONNACK; [`ProtocolVersion::V5`] for the two codes the session picks itself (0x83
        /// Implementation specific error when our CONNECT cannot be encoded, 0x84 Unsupported
        /// Protocol Version when a broker answered a v5 CONNECT in 3.1.1).
        version: ProtocolVersion,
        /// v5 reason string.
        reason: Option<String>,
    },
    /// The broker sent DISCONNECT.
    #[error("disconnected by the broker: {code}{}", reason.as_deref().map(|r| alloc::format!(" ({r})")).unwrap_or_default())]
    ByServer {
        /// Reason code.
        code: ReasonCode,
        /// Reason string.
        reason: Option<String>,
        /// v5 server reference (another server to use).
        server_reference: Option<String>,
    },
    /// The transport did not open, or CONNACK did not arrive, within
    /// [`Options::connect_timeout_ms`](super::Options::connect_timeout_ms) of the request to
    /// open it.
    #[error("no CONNACK within the connect timeout")]
    ConnectTimeout,
    /// Nothing arrived after a PINGREQ in time.
    #[error("keep-alive timeout: the broker stopped answering")]
    KeepAliveTimeout,
    /// The broker broke the protocol; the session closed the connection (v5: with DISCONNECT).
    #[error("protocol error from the broker: {0}")]
    ProtocolError(ProtocolViolation),
    /// The application called disconnect.
    #[error("disconnected by the application")]
    ByClient,
}

impl DisconnectReason {
    /// Whether the broker refused the protocol version: a v5 refusal with Unsupported Protocol
    /// Version (0x84), a 3.1.1 one with return code 1, or a broker that answered a v5 CONNECT
    /// with a 3.1.1 CONNACK (reported as 0x84, with a reason starting with
    /// [`BROKER_LACKS_V5`](super::BROKER_LACKS_V5)).
    pub fn is_unsupported_protocol_version(&self) -> bool {
        match self {
            DisconnectReason::Refused { code, version, .. } if version.is_v5() => {
                *code == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION
            }
            DisconnectReason::Refused { code, .. } => code.0 == 1,
            _ => false,
        }
    }
}

/// Why a TLS or WebSocket handshake failed: each a case an application can tell its user about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Error)]
#[non_exhaustive]
pub enum HandshakeFailure {
    /// The broker's certificate chain does not lead to a trusted CA.
    #[error("TLS: the broker's certificate was issued by an unknown or untrusted CA")]
    UnknownIssuer,
    /// The broker's certificate is not valid for the host name (or the server-name override).
    #[error("TLS: the broker's certificate is not valid for this host name")]
    NameMismatch,
    /// The broker's certificate has expired (or is not valid yet).
    #[error("TLS: the broker's certificate has expired or is not yet valid")]
    CertificateExpired,
    /// Another problem with the broker's certificate (revoked, bad signature, wrong usage, ...).
    #[error("TLS: the broker's certificate is invalid")]
    BadCertificate,
    /// The broker asked for a client certificate and got none, or refused the one it got.
    #[error("TLS: the broker requires a (valid) client certificate")]
    ClientCertificateRequired,
    /// The broker's port did not answer in TLS (a plain-text MQTT or HTTP port).
    #[error("TLS: the broker did not answer in TLS (is this a plain-text port?)")]
    NotTls,
    /// Any other TLS failure: no common protocol version, cipher suite or ALPN protocol, an
    /// alert from the broker, ...
    #[error("TLS handshake failed")]
    Tls,
    /// The HTTP upgrade to WebSocket was refused (a status other than 101, a missing or wrong
    /// `Sec-WebSocket-Accept`, no `mqtt` subprotocol).
    #[error("WebSocket upgrade refused")]
    WebSocketUpgrade,
    /// The WebSocket connection broke its protocol, or the broker closed it.
    #[error("WebSocket protocol error")]
    WebSocket,
}

impl HandshakeFailure {
    /// A stable, machine-readable code: `TLS_UNKNOWN_ISSUER`, `TLS_NAME_MISMATCH`,
    /// `TLS_CERTIFICATE_EXPIRED`, `TLS_BAD_CERTIFICATE`, `TLS_CLIENT_CERTIFICATE_REQUIRED`,
    /// `TLS_NOT_TLS`, `TLS_HANDSHAKE`, `WEBSOCKET_UPGRADE` or `WEBSOCKET`.
    pub fn code(self) -> &'static str {
        match self {
            HandshakeFailure::UnknownIssuer => "TLS_UNKNOWN_ISSUER",
            HandshakeFailure::NameMismatch => "TLS_NAME_MISMATCH",
            HandshakeFailure::CertificateExpired => "TLS_CERTIFICATE_EXPIRED",
            HandshakeFailure::BadCertificate => "TLS_BAD_CERTIFICATE",
            HandshakeFailure::ClientCertificateRequired => "TLS_CLIENT_CERTIFICATE_REQUIRED",
            HandshakeFailure::NotTls => "TLS_NOT_TLS",
            HandshakeFailure::Tls => "TLS_HANDSHAKE",
            HandshakeFailure::WebSocketUpgrade => "WEBSOCKET_UPGRADE",
            HandshakeFailure::WebSocket => "WEBSOCKET",
        }
    }
}

/// A protocol violation detected in what the broker sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A malformed packet.
    #[error("{0}")]
    Malformed(DecodeError),
    /// A packet a client must never receive (CONNECT, SUBSCRIBE, …) or received out of order.
    #[error("unexpected {0} packet")]
    UnexpectedPacket(crate::codec::PacketType),
    /// A topic alias that is 0 or above our maximum (v5 §3.3.4: DISCONNECT 0x94).
    #[error("invalid topic alias {0}")]
    TopicAlias(u16),
    /// An empty topic name with a topic alias that was never set on this connection (v5 §3.3.4:
    /// a Protocol Error, DISCONNECT 0x82).
    #[error("unknown topic alias {0}")]
    UnknownTopicAlias(u16),
    /// More inbound QoS 2 messages in flight than our receive maximum.
    #[error("receive maximum exceeded")]
    ReceiveMaximumExceeded,
    /// CONNACK with Session Present 1 answering a CONNECT with Clean Start (Clean Session) 1:
    /// the client has no session to resume (v5 MQTT-3.2.2-4, v3.1.1 MQTT-3.2.2-1).
    #[error("session present on a connection that started clean")]
    SessionPresentAfterCleanStart,
    /// SUBACK or UNSUBACK whose number of reason codes differs from the number of topic filters
    /// of the request it answers (v5 MQTT-3.8.4-6, MQTT-3.11.3-2; v3.1.1 MQTT-3.8.4-5).
    #[error("{packet} with {got} reason codes for {expected} topic filters")]
    ReasonCodeCount {
        /// SUBACK or UNSUBACK.
        packet: crate::codec::PacketType,
        /// Topic filters in the request.
        expected: usize,
        /// Reason codes received.
        got: usize,
    },
    /// v5 enhanced authentication: an Authentication Method in AUTH or in a successful CONNACK
    /// that differs from the one in CONNECT, or is missing, or is present although CONNECT had
    /// none (v5 MQTT-4.12.0-5, MQTT-4.12.0-6).
    #[error("authentication method differs from the one in CONNECT")]
    AuthenticationMethod,
    /// v5: AUTH with a reason code the server may not send at that point: Re-authenticate
    /// ever, Success before CONNACK (v5 MQTT-4.12.0-2).
    #[error("AUTH with reason code {0} from the server")]
    AuthReasonCode(ReasonCode),
}

impl ProtocolViolation {
    /// The v5 reason code the session's DISCONNECT carries.
    pub fn reason_code(&self) -> ReasonCode {
        match self {
            // v5 §3.3.4: "A Topic Alias value of 0 … is a Protocol Error, the receiver uses
            // DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)"; the codec rejects 0.
            ProtocolViolation::Malformed(DecodeError::InvalidPropertyValue {
                property: crate::codec::properties::id::TOPIC_ALIAS,
                ..
            }) => ReasonCode::TOPIC_ALIAS_INVALID,
            // A topic filter only comes in SUBSCRIBE or UNSUBSCRIBE, which a client never
            // accepts; 0x8F (Topic Filter invalid) is a DISCONNECT code only a server may send
            // (v5 MQTT-3.14.2-1, Table 3-10).
            ProtocolViolation::Malformed(DecodeError::InvalidTopicFilter(_)) => {
                ReasonCode::PROTOCOL_ERROR
            }
            ProtocolViolation::Malformed(e) => e.reason_code(),
            ProtocolViolation::UnexpectedPacket(_) => ReasonCode::PROTOCOL_ERROR,
            ProtocolViolation::TopicAlias(_) => ReasonCode::TOPIC_ALIAS_INVALID,
            ProtocolViolation::UnknownTopicAlias(_) => ReasonCode::PROTOCOL_ERROR,
            ProtocolViolation::ReceiveMaximumExceeded => ReasonCode::RECEIVE_MAXIMUM_EXCEEDED,
            ProtocolViolation::SessionPresentAfterCleanStart
            | ProtocolViolation::ReasonCodeCount { .. }
            | ProtocolViolation::AuthenticationMethod
            | ProtocolViolation::AuthReasonCode(_) => ReasonCode::PROTOCOL_ERROR,
        }
    }
}

/// Why a publish was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The topic name is not valid.
    #[error("invalid topic name: {0}")]
    InvalidTopic(TopicError),
    /// The queue is at its message or byte budget.
    #[error("queue full ({messages} messages, {bytes} bytes queued)")]
    QueueFull {
        /// Messages queued.
        messages: usize,
        /// Bytes queued.
        bytes: usize,
    },
    /// The driver has not taken the bytes already written: try again after it drains.
    #[error("would block: the write buffer is full")]
    WouldBlock,
    /// The encoded message exceeds the broker's (or the protocol's) maximum packet size.
    #[error("message too large: {0}")]
    TooLarge(EncodeError),
    /// The message breaks a rule for senders (see the error).
    #[error("invalid message: {0}")]
    Invalid(EncodeError),
    /// The broker supports at most this QoS (v5 Maximum QoS).
    #[error("QoS not supported by the broker (maximum {0:?})")]
    QoSNotSupported(crate::codec::QoS),
    /// The broker does not support retained messages.
    #[error("retained messages are not supported by the broker")]
    RetainNotSupported,
    /// The broker answered with a failure reason code.
    #[error("rejected by the broker: {0}")]
    Rejected(ReasonCode),
    /// The session ended (disconnect, or reconnection disabled) before the message was acknowledged.
    #[error("session closed before the message was acknowledged")]
    SessionClosed,
    /// v5: the message's Message Expiry Interval ran out while it waited in the session's
    /// queue (offline, or behind a full inflight window): it was not sent.
    #[error(
        "message expired after waiting {waited_ms} ms in the queue (expiry interval {interval} s)"
    )]
    Expired {
        /// The Message Expiry Interval it had when it was queued (seconds).
        interval: u32,
        /// How long it waited (ms).
        waited_ms: u64,
    },
}

/// Why a subscribe or unsubscribe was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum RequestError {
    /// A topic filter is invalid.
    #[error("invalid topic filter: {0}")]
    InvalidFilter(TopicError),
    /// No filter given.
    #[error("no topic filter given")]
    Empty,
    /// The request breaks a rule for senders.
    #[error("invalid request: {0}")]
    Invalid(EncodeError),
    /// Too many requests waiting.
    #[error("too many requests waiting")]
    QueueFull,
    /// The session ended first.
    #[error("session closed")]
    SessionClosed,
}

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// CONNACK accepted the connection (boxed: the rest of the events, messages first, stay a
    /// quarter of its size).
    Connected(Box<ConnectionInfo>),
    /// The connection ended; `reconnect_at` is when the session will try again, if it will.
    Disconnected {
        /// Why.
        reason: DisconnectReason,
        /// Time (ms, driver clock) of the next attempt, `None` when the session is closed.
        reconnect_at: Option<u64>,
    },
    /// A message arrived (QoS 2 exactly once, even when the broker redelivers it).
    Message(ReceivedMessage),
    /// A publish completed: acknowledged (the v5 reason code, Success in 3.1.1), sent (QoS 0), or failed.
    PublishComplete {
        /// The handle `publish` returned.
        id: PublishId,
        /// Outcome.
        result: Result<ReasonCode, PublishError>,
    },
    /// SUBACK arrived: one code per filter (granted QoS or failure).
    Subscribed {
        /// The handle `subscribe` returned.
        id: RequestId,
        /// Reason codes.
        reason_codes: Vec<ReasonCode>,
    },
    /// UNSUBACK arrived (v5 reason codes; empty in 3.1.1).
    Unsubscribed {
        /// The handle `unsubscribe` returned.
        id: RequestId,
        /// Reason codes.
        reason_codes: Vec<ReasonCode>,
    },
    /// A request failed without an answer.
    RequestFailed {
        /// The handle.
        id: RequestId,
        /// Why.
        error: RequestError,
    },
    /// The broker lost the session: these subscriptions were sent again.
    Resubscribing {
        /// How many filters.
        filters: usize,
    },
    /// A request of [`super::Session::request`] ended: its response (not delivered as an
    /// [`Event::Message`]), or why none came.
    Response {
        /// The handle `request` returned.
        id: super::ResponseId,
        /// The response message, or why there is none.
        result: Result<ReceivedMessage, super::ResponseError>,
    },
    /// v5 enhanced authentication: the broker sent AUTH; answer with [`super::Session::auth`].
    AuthChallenge {
        /// Reason code (Continue authentication or Re-authenticate).
        reason_code: ReasonCode,
        /// Authentication method.
        method: Option<String>,
        /// Authentication data.
        data: Option<Vec<u8>>,
    },
}
