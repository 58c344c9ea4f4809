//! The session's life: connect, disconnect, the connection lost (handed to `failover.rs`,
//! which picks the next broker and schedules the reconnect back-off), and closing for good.

use super::{DisconnectReason, Event, ProtocolViolation, Session, State};
use crate::codec::{Disconnect, Packet, ReasonCode};
use alloc::string::ToString;

/// Whether a client may send `code` in a v5 DISCONNECT (Table 3-10, "Sent by": Client).
fn client_disconnect_code(code: ReasonCode) -> bool {
    const CLIENT: [u8; 14] = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
    ];
    CLIENT.contains(&code.0)
}

impl Session {
    /// Starts connecting (from [`State::Idle`] or [`State::Closed`]): the next
    /// [`Session::poll_output`] asks for [`Output::OpenTransport`](super::Output::OpenTransport).
    ///
    /// The connect deadline ([`Options::connect_timeout_ms`](super::Options::connect_timeout_ms),
    /// covering the transport open and CONNACK) counts from the latest time an input carried; a
    /// new session that has seen none counts it from the first one (see
    /// [`Session::poll_timeout`]).
    pub fn start(&mut self) {
        self.release_hold();
        if matches!(self.state, State::Idle | State::Closed) {
            self.retrying = false;
            self.restart_failover();
            self.begin_attempt();
        }
    }

    /// Starts connecting at `now`: [`Session::start`] with the time the driver has, so the
    /// connect deadline counts from `now`.
    pub fn connect(&mut self, now: u64) {
        self.observe(now);
        self.start();
    }

    /// A connection attempt begins: the driver is asked to open a transport, and the connect
    /// deadline starts.
    pub(super) fn begin_attempt(&mut self) {
        self.state = State::Opening;
        self.open_transport = true;
        match self.clock {
            Some(now) => {
                self.connect_deadline = Some(now.saturating_add(self.opts.connect_timeout_ms));
                self.connect_deadline_unarmed = false;
            }
            None => {
                self.connect_deadline = None;
                self.connect_deadline_unarmed = true;
            }
        }
    }

    /// The transport closed or could not be opened (no description: the reason is
    /// [`DisconnectReason::ConnectionLost`]).
    pub fn handle_disconnected(&mut self, now: u64) {
        self.transport_ended(None, now);
    }

    /// The transport closed or could not be opened, and `error` says why (the I/O error, the
    /// WebSocket close code and reason, ...): the reason the session reports is
    /// [`DisconnectReason::Transport`] with it, and [`Session::last_transport_error`] keeps it.
    pub fn handle_disconnected_with(&mut self, now: u64, error: impl Into<alloc::string::String>) {
        self.transport_ended(Some(error.into()), now);
    }

    /// The TLS or WebSocket handshake on the open transport failed: like
    /// [`Session::handle_disconnected_with`], with the typed reason
    /// [`DisconnectReason::Handshake`]. The driver closes the transport itself.
    pub fn handle_handshake_failed(
        &mut self,
        now: u64,
        failure: super::HandshakeFailure,
        detail: impl Into<alloc::string::String>,
    ) {
        let detail = detail.into();
        self.observe(now);
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck | State::Connected
        ) {
            self.clear_tx();
            self.last_transport_error = Some(alloc::format!("{failure}: {detail}"));
            self.connection_lost(DisconnectReason::Handshake { failure, detail }, now);
        }
    }

    /// The description of the last transport failure given to
    /// [`Session::handle_disconnected_with`], until a CONNACK accepts a new connection: for
    /// messages about an attempt that failed later for another reason (a connect timeout).
    pub fn last_transport_error(&self) -> Option<&str> {
        self.last_transport_error.as_deref()
    }

    fn transport_ended(&mut self, error: Option<alloc::string::String>, now: u64) {
        self.observe(now);
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck | State::Connected
        ) {
            self.clear_tx();
            let reason = match error {
                Some(e) => {
                    self.last_transport_error = Some(e.clone());
                    DisconnectReason::Transport(e)
                }
                None => DisconnectReason::ConnectionLost,
            };
            self.connection_lost(reason, now);
        }
    }

    /// Ends the session: sends DISCONNECT (Normal disconnection) if connected, closes the
    /// transport, and fails every message and request still waiting with `SessionClosed`.
    pub fn disconnect(&mut self, now: u64) {
        self.disconnect_with(ReasonCode::NORMAL_DISCONNECTION, now);
    }

    /// Like [`Session::disconnect`] with a v5 reason code (0x04 asks the broker to publish the will).
    pub fn disconnect_with(&mut self, reason: ReasonCode, now: u64) {
        self.release_hold();
        match self.state {
            State::Connected => {
                let d = Disconnect {
                    reason_code: if !self.opts.version.is_v5() {
                        ReasonCode::SUCCESS
                    } else if client_disconnect_code(reason) {
                        reason
                    } else {
                        // v5 MQTT-3.14.2-1: only a DISCONNECT reason code a client may send.
                        log::warn!("{reason} is not a client DISCONNECT reason code: sending 0x80");
                        ReasonCode::UNSPECIFIED_ERROR
                    },
                    ..Disconnect::default()
                };
                self.write_packet(&Packet::Disconnect(d), now);
                self.close_transport = true;
            }
            State::AwaitingConnAck | State::Opening => self.close_transport = true,
            State::Closed => return,
            _ => {}
        }
        self.open_transport = false;
        self.close_for_good(DisconnectReason::ByClient);
    }

    /// DISCONNECT from the broker.
    pub(super) fn on_server_disconnect(&mut self, d: Disconnect<'_>, now: u64) {
        self.close_transport = true;
        self.connection_lost(
            DisconnectReason::ByServer {
                code: d.reason_code,
                reason: d.properties.reason_string.map(str::to_string),
                server_reference: d.properties.server_reference.map(str::to_string),
            },
            now,
        );
    }

    /// The broker broke the protocol: DISCONNECT (v5) with the matching reason code and close.
    pub(super) fn protocol_error(&mut self, v: ProtocolViolation, now: u64) {
        log::warn!("closing the connection: {v}");
        if self.opts.version.is_v5() {
            let d = Disconnect {
                reason_code: v.reason_code(),
                ..Disconnect::default()
            };
            self.write_packet(&Packet::Disconnect(d), now);
        }
        self.close_transport = true;
        self.connection_lost(DisconnectReason::ProtocolError(v), now);
    }

    /// The connection ended: keep the session, fail over to the next broker, schedule a
    /// reconnection, or close for good (see `failover.rs`).
    ///
    /// Nothing of the connection is reset here: its state counts only while connecting or
    /// connected, and the next transport gets a fresh one (see `connection.rs`).
    ///
    /// Before the first accepted CONNACK, [`Options::first_connect`](super::Options) decides:
    /// [`FirstConnect::GiveUp`](super::FirstConnect::GiveUp) closes the session for good with
    /// this reason once every broker of the list failed.
    pub(super) fn connection_lost(&mut self, reason: DisconnectReason, now: u64) {
        self.drop_pending_acks();
        self.connection_failed(reason, now);
    }

    /// The session ends: everything still waiting fails with `SessionClosed`.
    pub(super) fn close_for_good(&mut self, reason: DisconnectReason) {
        self.state = State::Closed;
        self.drop_pending_acks();
        self.fail_all_messages();
        self.fail_all_requests();
        self.fail_all_responses();
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at: None,
        });
    }
}
