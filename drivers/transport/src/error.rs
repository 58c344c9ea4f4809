//! The errors of the transport layer.

use wasmqtt::session::HandshakeFailure;

/// A configuration that cannot work, found by [`Connector::new`](crate::Connector::new) or
/// [`Connector::start`](crate::Connector::start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A PEM input could not be parsed.
    #[error("{what}: invalid PEM: {detail}")]
    Pem {
        /// Which input: "CA bundle", "client certificate", "client key".
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// A PEM input held no certificate (or no key).
    #[error("{what}: no {expected} found in the PEM data")]
    Empty {
        /// Which input.
        what: &'static str,
        /// What was looked for: "certificate", "private key".
        expected: &'static str,
    },
    /// A CA certificate that cannot be used as a trust anchor.
    #[error("CA bundle: unusable certificate: {0}")]
    CaCertificate(String),
    /// The client certificate and key do not go together (or only one of them was given).
    #[error("client certificate: {0}")]
    ClientCertificate(String),
    /// An ALPN protocol name that is empty or longer than 255 bytes.
    #[error("ALPN protocol {0:?} must be 1 to 255 bytes long")]
    Alpn(String),
    /// `min_version` is newer than `max_version`.
    #[error("TLS min_version is newer than max_version")]
    TlsVersions,
    /// TLS 1.2 was asked for (`min_version` or `max_version`), but this build speaks TLS 1.3
    /// only (feature `tls12` off).
    #[error("TLS 1.2 was asked for, but this build speaks TLS 1.3 only (feature `tls12` off)")]
    Tls12Unsupported,
    /// A TLS broker, but nothing to trust: no CA bundle and no built-in roots.
    #[error("no CA certificates to verify the broker with: set a CA bundle (ca_pem) or enable the built-in roots (webpki_roots)")]
    NoRootCertificates,
    /// The broker host (or the `server_name` override) is not a valid DNS name or IP address.
    #[error("invalid TLS server name {0:?}")]
    ServerName(String),
    /// A WebSocket header name or value that HTTP does not allow.
    #[error("invalid WebSocket header {0:?}")]
    Header(String),
    /// The broker's path or host cannot form a WebSocket request.
    #[error("invalid WebSocket request: {0}")]
    Request(String),
    /// The broker's scheme needs a feature this build lacks (`tls` or `websocket`).
    #[error("{scheme}:// brokers need wasmqtt-transport's `{feature}` feature")]
    Unsupported {
        /// The scheme, e.g. "mqtts".
        scheme: &'static str,
        /// The missing cargo feature.
        feature: &'static str,
    },
}

/// Why a [`Stream`](crate::Stream) failed. After an error the stream is dead: every later call
/// returns an error too (MQTT bytes decoded before it can still be read).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The TLS or WebSocket layer failed: during its handshake, or later (then `failure` is
    /// [`HandshakeFailure::Tls`] or [`HandshakeFailure::WebSocket`]).
    #[error("{failure}: {detail}")]
    Handshake {
        /// The kind of failure, for [`wasmqtt::session::Session::handle_handshake_failed`].
        failure: HandshakeFailure,
        /// What the TLS / WebSocket library said.
        detail: String,
    },
    /// The broker closed the WebSocket with a close frame.
    #[error("the broker closed the WebSocket (code {code}{}{reason})", if reason.is_empty() { "" } else { ": " })]
    Closed {
        /// The close code (1005 when the frame had none).
        code: u16,
        /// The reason text, possibly empty.
        reason: String,
    },
    /// More MQTT bytes were sent before the handshakes finished than
    /// [`TransportOptions::max_handshake_buffer`](crate::TransportOptions::max_handshake_buffer).
    #[error("more than {limit} MQTT bytes buffered while the handshake is running")]
    BufferFull {
        /// The limit.
        limit: usize,
    },
    /// The stream was already closed (by [`Stream::close`](crate::Stream::close) or the peer).
    #[error("the transport is closed")]
    AlreadyClosed,
}

impl TransportError {
    /// The handshake failure to report to the session
    /// (`session.handle_handshake_failed(now, failure, detail)`), when there is one; `None` for
    /// errors that are not about the broker's TLS or WebSocket answer.
    pub fn failure(&self) -> Option<HandshakeFailure> {
        match self {
            TransportError::Handshake { failure, .. } => Some(*failure),
            TransportError::Closed { .. } => Some(HandshakeFailure::WebSocket),
            TransportError::BufferFull { .. } | TransportError::AlreadyClosed => None,
        }
    }

    #[cfg_attr(not(any(feature = "tls13", feature = "websocket")), allow(dead_code))]
    pub(crate) fn handshake(failure: HandshakeFailure, detail: impl Into<String>) -> Self {
        TransportError::Handshake {
            failure,
            detail: detail.into(),
        }
    }
}
