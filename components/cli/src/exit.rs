//! How the command ends: every failure's exit code and message.
//!
//! The exit codes are mosquitto's where it has one (its `MOSQ_ERR_*` values, and the CONNACK
//! code when the broker refuses, as mosquitto_sub returns it):
//!
//! | exit | when |
//! |---|---|
//! | 0 | done |
//! | 1 | another error: a file that cannot be read, options the session refuses, ... |
//! | 2 | the flags are wrong (the usage follows); or the broker broke the protocol (`MOSQ_ERR_PROTOCOL`) |
//! | 1–5 | 3.1.1: the broker refused the connection with this CONNACK return code |
//! | 128–162 | 5.0: the broker refused the connection with this CONNACK reason code |
//! | 7 | the connection was lost or the broker closed it, or sent DISCONNECT (`MOSQ_ERR_CONN_LOST`) |
//! | 8 | the TLS or WebSocket handshake failed (`MOSQ_ERR_TLS`) |
//! | 12 | a publish or a subscription was refused (`MOSQ_ERR_ACL_DENIED`) |
//! | 19 | keep-alive timeout: the broker stopped answering (`MOSQ_ERR_KEEPALIVE`) |
//! | 27 | timed out: `-W`, or no CONNACK within the connect timeout (`MOSQ_ERR_TIMEOUT`) |
//!
//! The message is one line on stderr: `Error: CODE: text`, `CODE` the core's stable code
//! ([`DisconnectReason::code`], ...) and every reason code with its name in the connection's
//! protocol version ([`ReasonCode::name_for`]).

use core::fmt;
use wasmqtt::codec::{PacketType, ProtocolVersion, ReasonCode};
use wasmqtt::session::DisconnectReason;

/// Exit code: another error.
pub const OTHER: i32 = 1;
/// Exit code: bad flags (and usage printed).
pub const USAGE: i32 = 2;
/// Exit code: the broker broke the protocol (mosquitto's `MOSQ_ERR_PROTOCOL`).
pub const PROTOCOL: i32 = 2;
/// Exit code: connection lost or closed by the broker (`MOSQ_ERR_CONN_LOST`).
pub const CONN_LOST: i32 = 7;
/// Exit code: TLS or WebSocket handshake failed (`MOSQ_ERR_TLS`).
pub const TLS: i32 = 8;
/// Exit code: a publish or subscription refused (`MOSQ_ERR_ACL_DENIED`).
pub const DENIED: i32 = 12;
/// Exit code: keep-alive timeout (`MOSQ_ERR_KEEPALIVE`).
pub const KEEPALIVE: i32 = 19;
/// Exit code: timed out (`MOSQ_ERR_TIMEOUT`).
pub const TIMEOUT: i32 = 27;

/// Why the command failed: the core's code, the exit code and what to tell the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The stable code (`CONNECTION_REFUSED`, `PROTOCOL_ERROR`, `TIMEOUT`, ...).
    pub code: &'static str,
    /// The process exit code.
    pub exit: i32,
    /// The message.
    pub text: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.text)
    }
}

impl Failure {
    /// A failure with this code, exit code and text.
    pub fn new(code: &'static str, exit: i32, text: impl fmt::Display) -> Failure {
        Failure {
            code,
            exit,
            text: text.to_string(),
        }
    }

    /// `-W` passed.
    pub fn timeout(what: &str) -> Failure {
        Failure::new("TIMEOUT", TIMEOUT, format!("timed out {what}"))
    }

    /// A connection loss or refusal, reason codes named as `version` names them (a refusal's
    /// as the version it carries does: [`DisconnectReason::Refused`]'s text).
    pub fn disconnected(r: &DisconnectReason, version: ProtocolVersion) -> Failure {
        use DisconnectReason as D;
        let exit = match r {
            D::Refused { code, .. } if code.0 != 0 => i32::from(code.0),
            D::Refused { .. } => OTHER,
            D::ProtocolError(_) => PROTOCOL,
            D::Handshake { .. } => TLS,
            D::KeepAliveTimeout => KEEPALIVE,
            D::ConnectTimeout => TIMEOUT,
            D::ConnectionLost | D::Transport(_) | D::ByServer { .. } => CONN_LOST,
            _ => OTHER,
        };
        let with_reason = |head: &str, code: &ReasonCode, packet, reason: &Option<String>| {
            let mut t = format!("{head}: {}", code_text(*code, version, packet));
            if let Some(r) = reason {
                t.push_str(&format!(" ({r})"));
            }
            t
        };
        let text = match r {
            // The core's text names the code as the refusal's own version does (a 3.1.1
            // return code with its 3.1.1 meaning).
            D::Refused { .. } => r.to_string(),
            D::ByServer { code, reason, .. } => with_reason(
                "disconnected by the broker",
                code,
                PacketType::Disconnect,
                reason,
            ),
            D::Handshake { failure, detail } => format!("{failure}: {detail}"),
            r => r.to_string(),
        };
        Failure::new(r.code(), exit, text)
    }

    /// SUBACK refused a filter.
    pub fn subscription_refused(
        filter: &str,
        code: ReasonCode,
        version: ProtocolVersion,
    ) -> Failure {
        Failure::new(
            "SUBSCRIPTION_REFUSED",
            DENIED,
            format!(
                "subscription to '{filter}' refused: {}",
                code_text(code, version, PacketType::SubAck)
            ),
        )
    }
}

/// `0x04 (Connection refused: bad user name or password)`: the code in hex and its name in
/// `version` for `packet`.
pub fn code_text(code: ReasonCode, version: ProtocolVersion, packet: PacketType) -> String {
    code.named(version, packet).to_string()
}
