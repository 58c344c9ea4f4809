//! Checking [`Options`] before use, and the stable error codes of the session's error types.
//!
//! Drivers check (or clamp) what their callers give them today, each in its own words; this is
//! the one rule set they can share: [`Options::validate`] answers a typed [`OptionsError`], and
//! every error type of the core has a stable, machine-readable [`code`](OptionsError::code)
//! (the strings the browser driver already hands to JavaScript).

use super::{DisconnectReason, Options, PublishError, RequestError};
use crate::codec::MAX_PACKET_SIZE;
use crate::topic::{validate_topic_name, TopicError};
use thiserror::Error;

/// The smallest `max_packet_size` accepted: room for any CONNACK, PUBACK or PINGRESP.
pub const MIN_PACKET_SIZE: u32 = 16;

/// Why [`Options`] cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum OptionsError {
    /// `max_inflight` is 0: no QoS 1/2 message could ever be sent.
    #[error("max_inflight must be at least 1")]
    MaxInflightZero,
    /// `receive_maximum` is 0 (in v5 a Receive Maximum of 0 is a Protocol Error).
    #[error("receive_maximum must be at least 1")]
    ReceiveMaximumZero,
    /// `max_queued_messages` is 0.
    #[error("max_queued_messages must be at least 1")]
    QueueMessagesZero,
    /// `max_queued_bytes` is 0.
    #[error("max_queued_bytes must be at least 1")]
    QueueBytesZero,
    /// `max_pending_write_bytes` is 0: every QoS 0 publish would answer `WouldBlock`.
    #[error("max_pending_write_bytes must be at least 1")]
    PendingWriteBytesZero,
    /// `max_packet_size` is outside [`MIN_PACKET_SIZE`]..=[`MAX_PACKET_SIZE`].
    #[error("max_packet_size must be from {MIN_PACKET_SIZE} to {MAX_PACKET_SIZE}, not {0}")]
    MaxPacketSize(u32),
    /// `connect_timeout_ms` is 0.
    #[error("connect_timeout_ms must be at least 1")]
    ConnectTimeoutZero,
    /// `ping_timeout_ms` is `Some(0)`.
    #[error("ping_timeout_ms must be at least 1 (or None for half the keep-alive)")]
    PingTimeoutZero,
    /// The back-off multiplier is 0.
    #[error("reconnect multiplier must be at least 1")]
    BackoffMultiplierZero,
    /// The back-off jitter is over 100 %.
    #[error("reconnect jitter_percent must be 0-100, not {0}")]
    JitterOver100(u8),
    /// The back-off cap is below the first delay.
    #[error("reconnect max_delay_ms ({max}) is below initial_delay_ms ({initial})")]
    BackoffCapBelowInitial {
        /// `initial_delay_ms`.
        initial: u64,
        /// `max_delay_ms`.
        max: u64,
    },
    /// The will's topic is not a valid topic name.
    #[error("will topic: {0}")]
    WillTopic(TopicError),
    /// 3.1.1: an empty client identifier needs a clean session (v3.1.1 MQTT-3.1.3-7).
    #[error("an empty client id needs clean start in MQTT 3.1.1")]
    EmptyClientIdWithoutCleanStart,
    /// 3.1.1: a password needs a user name (v3.1.1 MQTT-3.1.2-22).
    #[error("a password needs a user name in MQTT 3.1.1")]
    PasswordWithoutUsername,
    /// More than [`MAX_BROKERS`](super::MAX_BROKERS) brokers in `brokers`.
    #[error("at most {max} brokers, not {0}", max = super::MAX_BROKERS)]
    TooManyBrokers(usize),
    /// v5: authentication data needs an authentication method.
    #[error("authentication_data needs an authentication_method")]
    AuthenticationDataWithoutMethod,
    /// `durable` is set in a build of the core without its `durable` feature.
    #[error("durable session state needs wasmqtt's `durable` feature, which this build lacks")]
    DurableNotBuilt,
}

impl Options {
    /// Checks the options before a [`Session`](super::Session) uses them: every rule the
    /// drivers check today (back-off multiplier and jitter, inflight window, an empty client id
    /// in 3.1.1, the will's topic) and every value the session could only use by clamping or
    /// that would make it useless (zero budgets and timeouts, packet size out of range), and at
    /// most [`MAX_BROKERS`](super::MAX_BROKERS) brokers to fail over across.
    pub fn validate(&self) -> Result<(), OptionsError> {
        use OptionsError as E;
        let r = &self.reconnect;
        let checks = [
            (self.max_inflight == 0, E::MaxInflightZero),
            (self.receive_maximum == 0, E::ReceiveMaximumZero),
            (self.max_queued_messages == 0, E::QueueMessagesZero),
            (self.max_queued_bytes == 0, E::QueueBytesZero),
            (self.max_pending_write_bytes == 0, E::PendingWriteBytesZero),
            (
                !(MIN_PACKET_SIZE..=MAX_PACKET_SIZE).contains(&self.max_packet_size),
                E::MaxPacketSize(self.max_packet_size),
            ),
            (self.connect_timeout_ms == 0, E::ConnectTimeoutZero),
            (self.ping_timeout_ms == Some(0), E::PingTimeoutZero),
            (r.multiplier == 0, E::BackoffMultiplierZero),
            (r.jitter_percent > 100, E::JitterOver100(r.jitter_percent)),
            (
                r.max_delay_ms < r.initial_delay_ms,
                E::BackoffCapBelowInitial {
                    initial: r.initial_delay_ms,
                    max: r.max_delay_ms,
                },
            ),
            (
                !self.version.is_v5() && self.client_id.is_empty() && !self.clean_start,
                E::EmptyClientIdWithoutCleanStart,
            ),
            (
                !self.version.is_v5() && self.password.is_some() && self.username.is_none(),
                E::PasswordWithoutUsername,
            ),
            (
                self.authentication_data.is_some() && self.authentication_method.is_none(),
                E::AuthenticationDataWithoutMethod,
            ),
            (
                self.brokers.len() > super::MAX_BROKERS,
                E::TooManyBrokers(self.brokers.len()),
            ),
            (
                self.durable.is_some() && !cfg!(feature = "durable"),
                E::DurableNotBuilt,
            ),
        ];
        if let Some((_, e)) = checks.into_iter().find(|(bad, _)| *bad) {
            return Err(e);
        }
        if let Some(w) = &self.will {
            validate_topic_name(&w.topic).map_err(E::WillTopic)?;
        }
        Ok(())
    }
}

impl OptionsError {
    /// A stable, machine-readable code: `INVALID_TOPIC` for the will's topic,
    /// `INVALID_ARGUMENT` for the rest (as the browser driver reports option errors).
    pub fn code(&self) -> &'static str {
        match self {
            OptionsError::WillTopic(_) => "INVALID_TOPIC",
            _ => "INVALID_ARGUMENT",
        }
    }
}

impl PublishError {
    /// A stable, machine-readable code (`QUEUE_FULL`, `INVALID_TOPIC`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            PublishError::InvalidTopic(_) => "INVALID_TOPIC",
            PublishError::QueueFull { .. } => "QUEUE_FULL",
            PublishError::WouldBlock => "WOULD_BLOCK",
            PublishError::TooLarge(_) => "TOO_LARGE",
            PublishError::Invalid(_) => "INVALID_MESSAGE",
            PublishError::QoSNotSupported(_) => "QOS_NOT_SUPPORTED",
            PublishError::RetainNotSupported => "RETAIN_NOT_SUPPORTED",
            PublishError::Rejected(_) => "REJECTED",
            PublishError::SessionClosed => "SESSION_CLOSED",
            PublishError::Expired { .. } => "EXPIRED",
        }
    }
}

impl RequestError {
    /// A stable, machine-readable code (`INVALID_FILTER`, `QUEUE_FULL`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::InvalidFilter(_) | RequestError::Empty => "INVALID_FILTER",
            RequestError::Invalid(_) => "INVALID_REQUEST",
            RequestError::QueueFull => "QUEUE_FULL",
            RequestError::SessionClosed => "SESSION_CLOSED",
        }
    }
}

impl DisconnectReason {
    /// A stable, machine-readable code (`CONNECTION_LOST`, `KEEPALIVE_TIMEOUT`, ...).
    pub fn code(&self) -> &'static str {
        match self {
            DisconnectReason::ConnectionLost | DisconnectReason::Transport(_) => "CONNECTION_LOST",
            DisconnectReason::Handshake { failure, .. } => failure.code(),
            DisconnectReason::Refused { .. } => "CONNECTION_REFUSED",
            DisconnectReason::ByServer { .. } => "DISCONNECTED_BY_BROKER",
            DisconnectReason::ConnectTimeout => "CONNECT_TIMEOUT",
            DisconnectReason::KeepAliveTimeout => "KEEPALIVE_TIMEOUT",
            DisconnectReason::ProtocolError(_) => "PROTOCOL_ERROR",
            DisconnectReason::ByClient => "CLOSED",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Options, OptionsError};
    use crate::session::SyncPolicy;

    /// Durable state is refused exactly when the build lacks it (`cargo test -p wasmqtt
    /// --no-default-features --lib` runs the other half).
    #[test]
    fn durable_state_needs_the_durable_feature() {
        let o = Options {
            durable: Some(SyncPolicy::EveryMessage),
            ..Options::new("c")
        };
        let want = match cfg!(feature = "durable") {
            true => Ok(()),
            false => Err(OptionsError::DurableNotBuilt),
        };
        assert_eq!(o.validate(), want);
        assert_eq!(Options::new("c").validate(), Ok(()));
    }
}
