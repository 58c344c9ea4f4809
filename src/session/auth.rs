//! v5 enhanced authentication: AUTH in both directions (v5 section 4.12).

use super::{Event, ProtocolViolation, Session, State};
use crate::codec::{Auth, EncodeError, Packet, PacketType, ReasonCode};
use alloc::string::ToString;
use alloc::vec::Vec;

impl Session {
    /// v5 enhanced authentication: answers an [`Event::AuthChallenge`] (or starts
    /// re-authentication) with AUTH.
    pub fn auth(
        &mut self,
        reason_code: ReasonCode,
        data: Option<Vec<u8>>,
        now: u64,
    ) -> Result<(), EncodeError> {
        self.release_hold();
        if !self.opts.version.is_v5() {
            return Err(EncodeError::NotInVersion {
                packet: PacketType::Auth,
                version: self.opts.version,
            });
        }
        // v5 MQTT-4.12.0-7: no AUTH without an Authentication Method in CONNECT; and only on a
        // connection that sent CONNECT.
        if self.opts.authentication_method.is_none()
            || !matches!(self.state, State::AwaitingConnAck | State::Connected)
        {
            return Err(EncodeError::UnexpectedAuth);
        }
        // v5 MQTT-3.15.2-1, MQTT-4.12.0-3, MQTT-4.12.1-1: a client sends Continue authentication
        // (0x18), or Re-authenticate (0x19) once CONNACK has arrived.
        let allowed = reason_code == ReasonCode::CONTINUE_AUTHENTICATION
            || (reason_code == ReasonCode::RE_AUTHENTICATE && self.state == State::Connected);
        if !allowed {
            return Err(EncodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code: reason_code.0,
            });
        }
        let mut a = Auth {
            reason_code,
            ..Auth::default()
        };
        a.properties.authentication_method = self.opts.authentication_method.as_deref();
        a.properties.authentication_data = data.as_deref();
        let mut buf = Vec::new();
        Packet::Auth(a).encode_limited(
            self.opts.version,
            self.conn.server.max_packet_size,
            &mut buf,
        )?;
        self.tx.extend_from_slice(&buf);
        self.conn.last_sent = now;
        Ok(())
    }

    /// AUTH from the broker: a challenge (or the end of re-authentication) for the application.
    pub(super) fn on_auth(&mut self, a: Auth<'_>) -> Result<(), ProtocolViolation> {
        let Some(method) = self.opts.authentication_method.as_deref() else {
            // v5 MQTT-4.12.0-6: no AUTH unless CONNECT asked for enhanced authentication.
            return Err(ProtocolViolation::UnexpectedPacket(PacketType::Auth));
        };
        // v5 MQTT-4.12.0-5: every AUTH carries the method of CONNECT.
        if a.properties.authentication_method != Some(method) {
            return Err(ProtocolViolation::AuthenticationMethod);
        }
        // v5 MQTT-4.12.0-2: before CONNACK the server continues (0x18); after it, it continues
        // or reports success; Re-authenticate comes only from a client.
        let allowed = match self.state {
            State::AwaitingConnAck => a.reason_code == ReasonCode::CONTINUE_AUTHENTICATION,
            _ => a.reason_code != ReasonCode::RE_AUTHENTICATE,
        };
        if !allowed {
            return Err(ProtocolViolation::AuthReasonCode(a.reason_code));
        }
        self.events.push_back(Event::AuthChallenge {
            reason_code: a.reason_code,
            method: a.properties.authentication_method.map(str::to_string),
            data: a.properties.authentication_data.map(<[u8]>::to_vec),
        });
        Ok(())
    }
}
