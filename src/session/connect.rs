//! Connecting: CONNECT when the transport opens, and what CONNACK says.

use super::connection::{Connection, ServerLimits};
use super::{ConnectionInfo, DisconnectReason, Event, ProtocolViolation, Session, State};
use crate::codec::{
    self, ConnAck, Connect, Decoder, EncodeError, Packet, ProtocolVersion, QoS, ReasonCode, Seq,
    Will,
};
use alloc::boxed::Box;
use alloc::string::ToString;
use alloc::vec::Vec;

/// Whether a CONNACK refusal is one that connecting again with the same options cannot fix:
/// the session then closes for good instead of retrying.
///
/// v5: Malformed Packet (0x81) and Protocol Error (0x82) in our CONNECT, Unsupported Protocol
/// Version (0x84), Client Identifier not valid (0x85), Bad User Name or Password (0x86), Not
/// authorized (0x87), Banned (0x8A), Bad authentication method (0x8C), Packet too large (0x95),
/// Payload format invalid (0x99), Retain not supported (0x9A) and QoS not supported (0x9B) for
/// the will, Server moved (0x9D). The rest (Unspecified error, Implementation specific error,
/// Server unavailable, Server busy, Quota exceeded, Use another server, Connection rate
/// exceeded, and codes we do not know) may pass and are retried with back-off.
/// 3.1.1: every return code but 3 (Server unavailable).
pub(super) fn refusal_is_permanent(version: ProtocolVersion, code: ReasonCode) -> bool {
    if version.is_v5() {
        matches!(
            code.0,
            0x81 | 0x82
                | 0x84
                | 0x85
                | 0x86
                | 0x87
                | 0x8A
                | 0x8C
                | 0x95
                | 0x99
                | 0x9A
                | 0x9B
                | 0x9D
        )
    } else {
        matches!(code.0, 1 | 2 | 4 | 5)
    }
}

impl Session {
    /// The transport is open: the session writes CONNECT.
    pub fn handle_connected(&mut self, now: u64) {
        self.observe(now);
        if self.state != State::Opening {
            return;
        }
        // A new connection: nothing of the previous one carries over.
        self.conn = Connection::new(&self.opts, now);
        self.conn.first_ack_id = self.next_ack_id;
        self.clear_tx();
        let clean_start = self.clean_start_flag();
        match self.write_connect(clean_start, now) {
            Ok(()) => {
                // The connect deadline still counts from the request to open (see `start`).
                self.state = State::AwaitingConnAck;
            }
            Err(e) => {
                // Options that cannot be encoded can never connect.
                self.clear_tx();
                self.close_transport = true;
                self.close_for_good(DisconnectReason::Refused {
                    code: ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
                    version: ProtocolVersion::V5,
                    reason: Some(alloc::format!("invalid connect options: {e}")),
                });
            }
        }
    }

    /// The Clean Start (v5) / Clean Session (3.1.1) flag of this connection's CONNECT.
    pub(super) fn clean_start_flag(&self) -> bool {
        if self.connected_before && self.opts.version.is_v5() {
            false
        } else {
            self.opts.clean_start
        }
    }

    pub(super) fn write_connect(&mut self, clean_start: bool, now: u64) -> Result<(), EncodeError> {
        let (username, password) = self.credentials();
        let o = &self.opts;
        let v5 = o.version.is_v5();
        let users: Vec<(&str, &str)> = o
            .user_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let will_users = o
            .will
            .as_ref()
            .map(|w| w.properties.borrowed_users())
            .unwrap_or_default();
        let mut c = Connect {
            protocol: o.version,
            clean_start,
            keep_alive: o.keep_alive,
            properties: Default::default(),
            client_id: &o.client_id,
            will: o.will.as_ref().map(|w| {
                let mut properties = if v5 {
                    w.properties.to_wire(&will_users)
                } else {
                    Default::default()
                };
                if v5 {
                    properties.will_delay_interval = w.delay_interval;
                }
                Will {
                    topic: &w.topic,
                    payload: &w.payload,
                    qos: w.qos,
                    retain: w.retain,
                    properties,
                }
            }),
            username,
            password,
        };
        if v5 {
            let p = &mut c.properties;
            p.session_expiry_interval = o.session_expiry_interval;
            p.receive_maximum = (o.receive_maximum != u16::MAX).then_some(o.receive_maximum.max(1));
            p.maximum_packet_size =
                (o.max_packet_size < codec::MAX_PACKET_SIZE).then_some(o.max_packet_size.max(1));
            p.topic_alias_maximum = (o.topic_alias_maximum > 0).then_some(o.topic_alias_maximum);
            p.request_problem_information = o.request_problem_information;
            p.request_response_information = o.request_response_information;
            p.user_properties = Seq::from_slice(&users);
            p.authentication_method = o.authentication_method.as_deref();
            p.authentication_data = o.authentication_data.as_deref();
        }
        let mut buf = Vec::new();
        Packet::Connect(c).encode(o.version, &mut buf)?;
        self.tx.extend_from_slice(&buf);
        self.conn.last_sent = now;
        Ok(())
    }

    /// CONNACK: the connection is accepted (limits, resend or requeue, waiting requests) or
    /// refused (retried or closed for good).
    pub(super) fn on_connack(&mut self, c: ConnAck<'_>, now: u64) -> Result<(), ProtocolViolation> {
        if c.is_accepted() {
            // v5 MQTT-3.2.2-4 (v5 MQTT-3.2.2-2, v3.1.1 MQTT-3.2.2-1): a client that started
            // clean has no session to resume.
            if c.session_present && self.clean_start_flag() {
                return Err(ProtocolViolation::SessionPresentAfterCleanStart);
            }
            // v5 MQTT-4.12.0-5 / MQTT-4.12.0-6: the method of CONNECT, or none.
            if self.opts.version.is_v5()
                && c.properties.authentication_method != self.opts.authentication_method.as_deref()
            {
                return Err(ProtocolViolation::AuthenticationMethod);
            }
        }
        self.connect_deadline = None;
        if !c.is_accepted() {
            let code = c.reason_code;
            let reason = DisconnectReason::Refused {
                code,
                version: self.opts.version,
                reason: c.properties.reason_string.map(str::to_string),
            };
            self.close_transport = true;
            if refusal_is_permanent(self.opts.version, code) {
                self.close_for_good(reason);
            } else {
                self.connection_lost(reason, now);
            }
            return Ok(());
        }
        let p = &c.properties;
        self.conn.server = ServerLimits {
            receive_maximum: p.receive_maximum.unwrap_or(u16::MAX),
            max_packet_size: p.maximum_packet_size.unwrap_or(codec::MAX_PACKET_SIZE),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: p.retain_available.unwrap_or(true),
        };
        if let Some(k) = p.server_keep_alive {
            self.conn.keep_alive = k;
        }
        if let Some(id) = p.assigned_client_identifier {
            // Reconnections resume the session the broker created under this identifier.
            self.opts.client_id = id.to_string();
        }
        self.conn
            .out_aliases
            .reset(if self.opts.outbound_topic_aliases {
                self.conn.server.topic_alias_maximum
            } else {
                0
            });
        self.state = State::Connected;
        self.attempt = 0;
        self.failover_connected();
        self.last_transport_error = None;
        let info = ConnectionInfo {
            session_present: c.session_present,
            assigned_client_id: p.assigned_client_identifier.map(str::to_string),
            keep_alive: self.conn.keep_alive,
            inflight_window: self.window() as u16,
            max_packet_size: p.maximum_packet_size,
            topic_alias_maximum: self.conn.server.topic_alias_maximum,
            maximum_qos: self.conn.server.maximum_qos,
            retain_available: self.conn.server.retain_available,
            response_information: p.response_information.map(str::to_string),
            reason_string: p.reason_string.map(str::to_string),
            broker: self.broker().cloned(),
        };
        self.retrying = false;
        self.connections += 1;
        self.info = Some(info.clone());
        self.events.push_back(Event::Connected(Box::new(info)));
        if c.session_present {
            self.resume_inflight(now);
        } else {
            // The broker has no session: apply the requeue rule (see module docs).
            self.forget_inbound_qos2();
            self.requeue_inflight();
            if self.connected_before && !self.subscriptions.is_empty() {
                self.resubscribe(now);
            }
        }
        self.connected_before = true;
        self.send_waiting_requests(now);
        self.fill_window(now);
        Ok(())
    }

    /// A 3.1.1 CONNACK (return code `code`) answered our v5 CONNECT: the broker does not
    /// support MQTT 5.0. With [`Options::fallback_to_v311`](super::Options::fallback_to_v311)
    /// the session connects again in 3.1.1; otherwise it closes for good (retrying cannot help).
    pub(super) fn on_v311_connack(&mut self, code: u8, now: u64) {
        self.close_transport = true;
        let fallback = self.opts.fallback_to_v311;
        let reason =
            DisconnectReason::Refused {
                code: ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
                version: ProtocolVersion::V5,
                reason: Some(alloc::format!(
                "{BROKER_LACKS_V5}: it answered with an MQTT 3.1.1 CONNACK (return code {code}){}",
                if fallback { "; connecting again with MQTT 3.1.1" } else { "" }
            )),
            };
        if fallback {
            self.opts.version = ProtocolVersion::V311;
            self.decoder =
                Decoder::new(ProtocolVersion::V311).with_max_packet_size(self.opts.max_packet_size);
            // Falling back is the answer to this failure, first connection or not.
            self.schedule_reconnect(reason, now);
        } else {
            self.close_for_good(reason);
        }
    }
}

/// The start of the reason string of a refusal because the broker does not speak MQTT 5.0 (see
/// [`DisconnectReason::is_unsupported_protocol_version`]).
pub const BROKER_LACKS_V5: &str = "the broker does not support MQTT 5.0";
