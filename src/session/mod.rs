//! The client session: the whole MQTT client protocol as a deterministic sans-I/O state machine.
//!
//! A driver owns the transport and the clock; the session owns everything else. The driver
//! feeds it what happened ([`Session::handle_connected`], [`Session::handle_bytes`],
//! [`Session::handle_disconnected`], [`Session::handle_timeout`]) with the current time in
//! milliseconds from any monotonic clock, and drains [`Session::poll_output`] until it answers
//! [`Output::Wait`]:
//!
//! ```
//! use wasmqtt::session::{Options, Output, Session};
//!
//! let mut session = Session::new(Options::new("meter-1"));
//! session.connect(0);
//! let mut now = 0;
//! loop {
//!     match session.poll_output() {
//!         Output::OpenTransport => { /* open TCP/WebSocket, then: */ session.handle_connected(now); }
//!         Output::Transmit(bytes) => { /* write bytes */ let _ = bytes; }
//!         Output::CloseTransport => { /* close it */ }
//!         Output::Event(event) => { /* hand to the application */ let _ = event; }
//!         Output::Wait(deadline) => {
//!             // sleep until the transport is readable, `deadline`, or an application call;
//!             // then handle_bytes / handle_timeout. Here we simply stop.
//!             let _ = deadline;
//!             break;
//!         }
//!     }
//!     now += 1;
//! }
//! ```
//!
//! Rules the session keeps (each covered by the simulation tests in `tests/`):
//! - **Keep-alive**: PINGREQ when nothing was sent for the keep-alive period; the connection is
//!   dead when nothing arrives within the ping timeout after it (plus a short grace, once, when
//!   the driver wakes up long after that deadline: see [`LATE_WAKE_MS`]).
//! - **Outbound QoS 1/2** use a window of `min(max_inflight, broker receive maximum)`; the rest
//!   wait in a queue bounded in messages and bytes, offline or not.
//! - **Resumed session** (CONNACK session present): unacknowledged PUBLISH are sent again with
//!   DUP, PUBREL again for those already PUBREC'd, in their original order.
//! - **Lost session** (no session present on a reconnection): the requeue rule — messages never
//!   acknowledged at all (no PUBACK / PUBREC) go back to the front of the queue, in order, and
//!   are sent again as new messages; a QoS 2 message already PUBREC'd completes as delivered
//!   (the broker took ownership of it); every recorded subscription is sent again.
//! - **Inbound QoS 2** is delivered once: the packet identifier is remembered from PUBLISH
//!   until PUBREL, and a redelivery in between is acknowledged but not delivered.
//! - **Reconnect** with exponential back-off and jitter; a refusal that retrying cannot fix
//!   (bad credentials, not authorized, banned, invalid client id, unsupported version) closes
//!   the session instead.

mod alias;
mod backoff;
mod event;
mod message;
mod options;

pub use backoff::ReconnectPolicy;
pub use event::{
    ConnectionInfo, DisconnectReason, Event, ProtocolViolation, PublishError, PublishId,
    RequestError, RequestId,
};
pub use message::{Message, MessageProperties, ReceivedMessage};
pub use options::{LastWill, Options};

use crate::codec::{
    self, Auth, ConnAck, Connect, Decoder, Disconnect, EncodeError, Packet, PacketType, PubResp,
    Publish, QoS, ReasonCode, Seq, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};
use crate::topic::{validate_topic_filter, validate_topic_name};
use alias::{InboundAliases, OutboundAliases};
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use backoff::Rng;

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a transport to the broker, then call [`Session::handle_connected`] (or
    /// [`Session::handle_disconnected`] if that fails).
    OpenTransport,
    /// Write these bytes to the transport, in order.
    Transmit(Vec<u8>),
    /// Close the transport (after writing what was transmitted).
    CloseTransport,
    /// Hand this event to the application.
    Event(Event),
    /// Nothing to do until this time (ms), new bytes, or an application call. `None`: no deadline.
    Wait(Option<u64>),
}

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started: call [`Session::connect`].
    Idle,
    /// Waiting for the driver to open the transport.
    Opening,
    /// CONNECT sent, waiting for CONNACK.
    AwaitingConnAck,
    /// Connected.
    Connected,
    /// Waiting to reconnect at this time.
    Reconnecting(u64),
    /// Closed for good (disconnect, a fatal refusal, or reconnection disabled).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
/// The acknowledgement an inflight message waits for.
enum Stage {
    /// QoS 1, waiting for PUBACK.
    Qos1Sent,
    /// QoS 2, waiting for PUBREC.
    Qos2Sent,
    /// QoS 2, PUBREL sent, waiting for PUBCOMP.
    Qos2Released,
}

#[derive(Debug)]
struct Inflight {
    id: PublishId,
    msg: Message,
    stage: Stage,
    seq: u64,
}

#[derive(Debug)]
struct Queued {
    id: PublishId,
    msg: Message,
}

#[derive(Debug, Clone)]
enum Request {
    Subscribe {
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
    },
    Unsubscribe {
        filters: Vec<String>,
    },
}

#[derive(Debug, Clone)]
struct PendingRequest {
    /// `None` for the session's own resubscriptions.
    id: Option<RequestId>,
    request: Request,
    /// The packet identifier it was last sent with: a request sent again after a reconnection
    /// keeps it (v3.1.1 MQTT-2.3.1-3), and no other packet takes it meanwhile.
    packet_id: Option<u16>,
}

/// Limits the broker announced in CONNACK.
#[derive(Debug, Clone, Copy)]
struct ServerLimits {
    receive_maximum: u16,
    max_packet_size: u32,
    topic_alias_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            receive_maximum: u16::MAX,
            max_packet_size: codec::MAX_PACKET_SIZE,
            topic_alias_maximum: 0,
            maximum_qos: QoS::ExactlyOnce,
            retain_available: true,
        }
    }
}

/// The MQTT client session. See the [module documentation](self).
#[derive(Debug)]
pub struct Session {
    opts: Options,
    state: State,
    rng: Rng,
    decoder: Decoder,
    // Connection-scoped.
    rx: Vec<u8>,
    tx: Vec<u8>,
    open_transport: bool,
    close_transport: bool,
    last_sent: u64,
    ping_sent: Option<u64>,
    /// Set when a keep-alive timeout was first seen on a late wake-up (see `LATE_WAKE_MS`): the
    /// time until which the answer to the PINGREQ may still arrive.
    late_wake_grace: Option<u64>,
    connack_deadline: Option<u64>,
    keep_alive: u16,
    server: ServerLimits,
    out_aliases: OutboundAliases,
    in_aliases: InboundAliases,
    // Session-scoped.
    connected_before: bool,
    attempt: u32,
    next_packet_id: u16,
    next_seq: u64,
    next_publish_id: u64,
    next_request_id: u64,
    inflight: BTreeMap<u16, Inflight>,
    /// Inflight PUBLISH of a resumed session still to be sent again, in order, when the new
    /// connection's window has room (v5 MQTT-3.3.4-7).
    to_resend: VecDeque<u16>,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    inbound_qos2: BTreeSet<u16>,
    subscriptions: BTreeMap<String, (SubscriptionOptions, Option<u32>)>,
    requests_sent: BTreeMap<u16, PendingRequest>,
    requests_waiting: VecDeque<PendingRequest>,
    events: VecDeque<Event>,
}

/// A keep-alive deadline handled this much later than it fell (ms) means the driver itself was
/// not running (a frozen or throttled browser tab, a suspended process), not that the broker is
/// silent: the timeout then waits [`LATE_WAKE_GRACE_MS`] more, once per PINGREQ, so that packets
/// queued behind the wake-up are read first. A driver whose timers fire on time never sees it.
pub const LATE_WAKE_MS: u64 = 2_000;
/// See [`LATE_WAKE_MS`].
pub const LATE_WAKE_GRACE_MS: u64 = 1_000;

/// Whether a client may send `code` in a v5 DISCONNECT (Table 3-10, "Sent by": Client).
fn client_disconnect_code(code: ReasonCode) -> bool {
    const CLIENT: [u8; 14] = [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
    ];
    CLIENT.contains(&code.0)
}

/// Most subscribe/unsubscribe requests that may be unanswered (sent or waiting) at once.
const MAX_WAITING_REQUESTS: usize = 1024;

impl Session {
    /// A new, idle session.
    pub fn new(opts: Options) -> Self {
        let decoder = Decoder::new(opts.version).with_max_packet_size(opts.max_packet_size);
        Session {
            rng: Rng::new(opts.random_seed),
            decoder,
            state: State::Idle,
            rx: Vec::new(),
            tx: Vec::new(),
            open_transport: false,
            close_transport: false,
            last_sent: 0,
            ping_sent: None,
            late_wake_grace: None,
            connack_deadline: None,
            keep_alive: opts.keep_alive,
            server: ServerLimits::default(),
            out_aliases: OutboundAliases::default(),
            in_aliases: InboundAliases::default(),
            connected_before: false,
            attempt: 0,
            next_packet_id: 1,
            next_seq: 0,
            next_publish_id: 1,
            next_request_id: 1,
            inflight: BTreeMap::new(),
            to_resend: VecDeque::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            inbound_qos2: BTreeSet::new(),
            subscriptions: BTreeMap::new(),
            requests_sent: BTreeMap::new(),
            requests_waiting: VecDeque::new(),
            events: VecDeque::new(),
            opts,
        }
    }

    /// The options the session was made with.
    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// Where the session stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// Whether CONNACK accepted the current connection.
    pub fn is_connected(&self) -> bool {
        self.state == State::Connected
    }

    /// Outbound QoS 1/2 messages sent and not yet completed.
    pub fn inflight_len(&self) -> usize {
        self.inflight.len()
    }

    /// Messages waiting to be sent, and their bytes.
    pub fn queued(&self) -> (usize, usize) {
        (self.queue.len(), self.queued_bytes)
    }

    /// Bytes produced for writing that the driver has not taken yet.
    pub fn pending_write_bytes(&self) -> usize {
        self.tx.len()
    }

    // ---------------------------------------------------------------- driver side

    /// Starts connecting (from [`State::Idle`] or [`State::Closed`]).
    pub fn connect(&mut self, _now: u64) {
        if matches!(self.state, State::Idle | State::Closed) {
            self.state = State::Opening;
            self.open_transport = true;
        }
    }

    /// The transport is open: the session writes CONNECT.
    pub fn handle_connected(&mut self, now: u64) {
        if self.state != State::Opening {
            return;
        }
        self.rx.clear();
        self.tx.clear();
        self.ping_sent = None;
        self.server = ServerLimits::default();
        self.out_aliases.reset(0);
        self.in_aliases.reset();
        self.keep_alive = self.opts.keep_alive;
        let clean_start = self.clean_start_flag();
        match self.write_connect(clean_start, now) {
            Ok(()) => {
                self.state = State::AwaitingConnAck;
                self.connack_deadline = Some(now.saturating_add(self.opts.connect_timeout_ms));
            }
            Err(e) => {
                // Options that cannot be encoded can never connect.
                self.tx.clear();
                self.close_transport = true;
                self.close_for_good(DisconnectReason::Refused {
                    code: ReasonCode::IMPLEMENTATION_SPECIFIC_ERROR,
                    reason: Some(alloc::format!("invalid connect options: {e}")),
                });
            }
        }
    }

    /// The transport closed or could not be opened.
    pub fn handle_disconnected(&mut self, now: u64) {
        if matches!(
            self.state,
            State::Opening | State::AwaitingConnAck | State::Connected
        ) {
            self.tx.clear();
            self.connection_lost(DisconnectReason::ConnectionLost, now);
        }
    }

    /// Bytes arrived from the broker.
    pub fn handle_bytes(&mut self, bytes: &[u8], now: u64) {
        if !matches!(self.state, State::AwaitingConnAck | State::Connected) {
            return;
        }
        let mut rx = core::mem::take(&mut self.rx);
        let mut start = 0;
        let data: &[u8] = if rx.is_empty() {
            bytes
        } else {
            rx.extend_from_slice(bytes);
            &rx
        };
        let mut failure = None;
        loop {
            match self.decoder.decode(&data[start..]) {
                Ok(Some((packet, used))) => {
                    start += used;
                    self.ping_sent = None;
                    if let Err(v) = self.handle_packet(packet, now) {
                        failure = Some(v);
                        break;
                    }
                    if !matches!(self.state, State::AwaitingConnAck | State::Connected) {
                        // The packet ended the connection (refusal, server DISCONNECT).
                        start = data.len();
                        break;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    failure = Some(ProtocolViolation::Malformed(e));
                    break;
                }
            }
        }
        if let Some(v) = failure {
            rx.clear();
            self.rx = rx;
            self.protocol_error(v, now);
            return;
        }
        let rest = &data[start..];
        let mut kept = Vec::new();
        if !rest.is_empty() {
            if rx.is_empty() {
                kept.extend_from_slice(rest);
            } else {
                rx.drain(..start);
                kept = rx;
            }
        } else {
            rx.clear();
            kept = rx;
        }
        if matches!(self.state, State::AwaitingConnAck | State::Connected) {
            self.rx = kept;
        }
    }

    /// Time passed: fire whatever deadline is due.
    pub fn handle_timeout(&mut self, now: u64) {
        match self.state {
            State::Reconnecting(at) if now >= at => {
                self.state = State::Opening;
                self.open_transport = true;
            }
            State::AwaitingConnAck if self.connack_deadline.is_some_and(|d| now >= d) => {
                self.close_transport = true;
                self.connection_lost(DisconnectReason::ConnectTimeout, now);
            }
            State::Connected => {
                if let Some(sent) = self.ping_sent {
                    let deadline = self.ping_deadline(sent);
                    if now >= deadline {
                        if self.late_wake_grace.is_none() && now - deadline > LATE_WAKE_MS {
                            // The driver woke up long after the deadline (a frozen or throttled
                            // browser tab, a suspended process): the broker's answer may be
                            // waiting unread behind this wake-up. Give it a moment, once.
                            self.late_wake_grace = Some(now.saturating_add(LATE_WAKE_GRACE_MS));
                        } else {
                            self.close_transport = true;
                            self.connection_lost(DisconnectReason::KeepAliveTimeout, now);
                        }
                    }
                } else if self.keep_alive > 0 && now >= self.ping_due() {
                    self.write_packet(&Packet::PingReq, now);
                    self.ping_sent = Some(now);
                    self.late_wake_grace = None;
                }
            }
            _ => {}
        }
    }

    /// The next deadline, if any.
    pub fn poll_timeout(&self) -> Option<u64> {
        match self.state {
            State::Reconnecting(at) => Some(at),
            State::AwaitingConnAck => self.connack_deadline,
            State::Connected => match self.ping_sent {
                Some(sent) => Some(self.ping_deadline(sent)),
                None if self.keep_alive > 0 => Some(self.ping_due()),
                None => None,
            },
            _ => None,
        }
    }

    /// Bytes to write, all that is pending in one buffer.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.tx.is_empty() {
            None
        } else {
            let bytes = core::mem::take(&mut self.tx);
            // The write buffer has room again: QoS 0 messages that waited for it move on
            // (nothing else would wake them). The time of the last write stands in for "now":
            // at worst the next PINGREQ comes a little early, never late.
            self.fill_window(self.last_sent);
            Some(bytes)
        }
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next thing the driver should do.
    pub fn poll_output(&mut self) -> Output {
        if let Some(bytes) = self.poll_transmit() {
            return Output::Transmit(bytes);
        }
        if core::mem::take(&mut self.close_transport) {
            return Output::CloseTransport;
        }
        if core::mem::take(&mut self.open_transport) {
            return Output::OpenTransport;
        }
        if let Some(e) = self.poll_event() {
            return Output::Event(e);
        }
        Output::Wait(self.poll_timeout())
    }

    // ---------------------------------------------------------------- application side

    /// Publishes a message. Returns its handle; an [`Event::PublishComplete`] with that handle
    /// follows when it is acknowledged (QoS 1: PUBACK, QoS 2: PUBCOMP), written (QoS 0), or failed.
    ///
    /// When offline or while the inflight window is full, the message waits in the queue; past
    /// the queue's budget the call fails with [`PublishError::QueueFull`], and a QoS 0 message
    /// that finds the write buffer full fails with [`PublishError::WouldBlock`].
    pub fn publish(&mut self, msg: Message, now: u64) -> Result<PublishId, PublishError> {
        if self.state == State::Closed {
            return Err(PublishError::SessionClosed);
        }
        validate_topic_name(&msg.topic).map_err(PublishError::InvalidTopic)?;
        self.check_publishable(&msg)?;
        let connected = self.state == State::Connected;
        if connected && msg.qos == QoS::AtMostOnce && self.queue.is_empty() {
            if self.tx.len() >= self.opts.max_pending_write_bytes {
                return Err(PublishError::WouldBlock);
            }
            let id = self.next_publish_id();
            self.send_qos0(id, &msg, now);
            return Ok(id);
        }
        if connected && self.queue.is_empty() && self.inflight.len() < self.window() {
            let id = self.next_publish_id();
            self.send_new(id, msg, now);
            return Ok(id);
        }
        let cost = msg.cost();
        if self.queue.len() >= self.opts.max_queued_messages
            || self.queued_bytes + cost > self.opts.max_queued_bytes
        {
            return Err(PublishError::QueueFull {
                messages: self.queue.len(),
                bytes: self.queued_bytes,
            });
        }
        let id = self.next_publish_id();
        self.queued_bytes += cost;
        self.queue.push_back(Queued { id, msg });
        Ok(id)
    }

    /// Subscribes to `filters`, with an optional v5 subscription identifier. An
    /// [`Event::Subscribed`] follows with one reason code per filter. The subscriptions are
    /// remembered and sent again if the broker loses the session.
    pub fn subscribe(
        &mut self,
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
        now: u64,
    ) -> Result<RequestId, RequestError> {
        if filters.is_empty() {
            return Err(RequestError::Empty);
        }
        for (f, o) in &filters {
            validate_topic_filter(f).map_err(RequestError::InvalidFilter)?;
            if self.opts.version.is_v5()
                && o.no_local
                && matches!(crate::topic::parse_shared(f), Ok(Some(_)))
            {
                return Err(RequestError::Invalid(
                    EncodeError::NoLocalOnSharedSubscription,
                ));
            }
        }
        if subscription_id.is_some_and(|i| i == 0 || i > codec::MAX_VAR_INT) {
            return Err(RequestError::Invalid(EncodeError::InvalidPropertyValue {
                property: codec::properties::id::SUBSCRIPTION_IDENTIFIER,
                value: subscription_id.unwrap_or(0),
            }));
        }
        self.request(
            Request::Subscribe {
                filters,
                subscription_id,
            },
            now,
        )
    }

    /// Unsubscribes from `filters`. An [`Event::Unsubscribed`] follows.
    pub fn unsubscribe(
        &mut self,
        filters: Vec<String>,
        now: u64,
    ) -> Result<RequestId, RequestError> {
        if filters.is_empty() {
            return Err(RequestError::Empty);
        }
        for f in &filters {
            validate_topic_filter(f).map_err(RequestError::InvalidFilter)?;
        }
        self.request(Request::Unsubscribe { filters }, now)
    }

    /// Ends the session: sends DISCONNECT (Normal disconnection) if connected, closes the
    /// transport, and fails every message and request still waiting with `SessionClosed`.
    pub fn disconnect(&mut self, now: u64) {
        self.disconnect_with(ReasonCode::NORMAL_DISCONNECTION, now);
    }

    /// Like [`Session::disconnect`] with a v5 reason code (0x04 asks the broker to publish the will).
    pub fn disconnect_with(&mut self, reason: ReasonCode, now: u64) {
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

    /// v5 enhanced authentication: answers an [`Event::AuthChallenge`] (or starts
    /// re-authentication) with AUTH.
    pub fn auth(
        &mut self,
        reason_code: ReasonCode,
        data: Option<Vec<u8>>,
        now: u64,
    ) -> Result<(), EncodeError> {
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
        Packet::Auth(a).encode_limited(self.opts.version, self.server.max_packet_size, &mut buf)?;
        self.tx.extend_from_slice(&buf);
        self.last_sent = now;
        Ok(())
    }

    // ---------------------------------------------------------------- internals

    fn next_publish_id(&mut self) -> PublishId {
        let id = PublishId(self.next_publish_id);
        self.next_publish_id += 1;
        id
    }

    /// The Clean Start (v5) / Clean Session (3.1.1) flag of this connection's CONNECT.
    fn clean_start_flag(&self) -> bool {
        if self.connected_before && self.opts.version.is_v5() {
            false
        } else {
            self.opts.clean_start
        }
    }

    fn window(&self) -> usize {
        usize::from(
            self.opts
                .max_inflight
                .max(1)
                .min(self.server.receive_maximum),
        )
        .min(usize::from(u16::MAX) - MAX_WAITING_REQUESTS)
    }

    fn ping_due(&self) -> u64 {
        self.last_sent
            .saturating_add(u64::from(self.keep_alive) * 1000)
    }

    /// When the connection is declared dead after a PINGREQ sent at `sent`.
    fn ping_deadline(&self, sent: u64) -> u64 {
        self.late_wake_grace
            .unwrap_or_else(|| sent.saturating_add(self.ping_timeout()))
    }

    fn ping_timeout(&self) -> u64 {
        self.opts
            .ping_timeout_ms
            .unwrap_or_else(|| (u64::from(self.keep_alive) * 1000).clamp(1000, 30_000))
    }

    fn check_publishable(&self, msg: &Message) -> Result<(), PublishError> {
        if self.state == State::Connected && self.opts.version.is_v5() {
            if msg.qos > self.server.maximum_qos {
                return Err(PublishError::QoSNotSupported(self.server.maximum_qos));
            }
            if msg.retain && !self.server.retain_available {
                return Err(PublishError::RetainNotSupported);
            }
        }
        let users = msg.properties.borrowed_users();
        let p = Publish {
            dup: false,
            qos: msg.qos,
            retain: msg.retain,
            topic: &msg.topic,
            packet_id: 1,
            // 3.1.1 has no properties: they are left out when sending (see `write_publish`).
            properties: if self.opts.version.is_v5() {
                msg.properties.to_wire(&users)
            } else {
                Default::default()
            },
            payload: &msg.payload,
        };
        let size = Packet::Publish(p)
            .encoded_len(self.opts.version)
            .map_err(|e| match e {
                EncodeError::PacketTooLarge { .. } => PublishError::TooLarge(e),
                e => PublishError::Invalid(e),
            })?;
        if size > self.server.max_packet_size as usize {
            return Err(PublishError::TooLarge(EncodeError::PacketTooLarge {
                size,
                max: self.server.max_packet_size,
            }));
        }
        Ok(())
    }

    fn alloc_packet_id(&mut self) -> u16 {
        loop {
            let id = self.next_packet_id;
            self.next_packet_id = self.next_packet_id.checked_add(1).unwrap_or(1);
            if !self.inflight.contains_key(&id)
                && !self.requests_sent.contains_key(&id)
                && !self
                    .requests_waiting
                    .iter()
                    .any(|r| r.packet_id == Some(id))
            {
                return id;
            }
        }
    }

    fn write_packet(&mut self, p: &Packet<'_>, now: u64) {
        // Packets built by the session itself are valid by construction; a failure here is a
        // bug, reported in debug builds and otherwise dropped rather than sent malformed.
        let r = p.encode_limited(self.opts.version, self.server.max_packet_size, &mut self.tx);
        debug_assert!(r.is_ok(), "session built an invalid packet: {r:?}");
        self.last_sent = now;
    }

    fn write_connect(&mut self, clean_start: bool, now: u64) -> Result<(), EncodeError> {
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
            username: o.username.as_deref(),
            password: o.password.as_deref(),
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
        self.last_sent = now;
        Ok(())
    }

    fn request(&mut self, request: Request, now: u64) -> Result<RequestId, RequestError> {
        if self.state == State::Closed {
            return Err(RequestError::SessionClosed);
        }
        // Unanswered requests are bounded, and the publish window leaves them this many packet
        // identifiers, so identifiers can never run out.
        if self.requests_sent.len() + self.requests_waiting.len() >= MAX_WAITING_REQUESTS {
            return Err(RequestError::QueueFull);
        }
        let id = RequestId(self.next_request_id);
        self.next_request_id += 1;
        let pending = PendingRequest {
            id: Some(id),
            request,
            packet_id: None,
        };
        if self.state == State::Connected {
            self.send_request(pending, now)
                .map_err(RequestError::Invalid)?;
        } else {
            self.requests_waiting.push_back(pending);
        }
        Ok(id)
    }

    fn send_request(&mut self, mut pending: PendingRequest, now: u64) -> Result<(), EncodeError> {
        // A request sent before is sent again with its identifier (v3.1.1 MQTT-2.3.1-3).
        let pid = match pending.packet_id {
            Some(p) if !self.inflight.contains_key(&p) && !self.requests_sent.contains_key(&p) => p,
            _ => self.alloc_packet_id(),
        };
        pending.packet_id = Some(pid);
        let mut buf = Vec::new();
        match &pending.request {
            Request::Subscribe {
                filters,
                subscription_id,
            } => {
                let subs: Vec<Subscription<'_>> = filters
                    .iter()
                    .map(|(f, o)| Subscription {
                        filter: f,
                        options: *o,
                    })
                    .collect();
                let ids = subscription_id.map(|i| [i]);
                let mut s = Subscribe {
                    packet_id: pid,
                    properties: Default::default(),
                    subscriptions: Seq::from_slice(&subs),
                };
                if self.opts.version.is_v5() {
                    if let Some(ids) = &ids {
                        s.properties.subscription_identifiers = Seq::from_slice(ids);
                    }
                }
                Packet::Subscribe(s).encode_limited(
                    self.opts.version,
                    self.server.max_packet_size,
                    &mut buf,
                )?;
            }
            Request::Unsubscribe { filters } => {
                let fs: Vec<&str> = filters.iter().map(String::as_str).collect();
                let u = Unsubscribe {
                    packet_id: pid,
                    properties: Default::default(),
                    filters: Seq::from_slice(&fs),
                };
                Packet::Unsubscribe(u).encode_limited(
                    self.opts.version,
                    self.server.max_packet_size,
                    &mut buf,
                )?;
            }
        }
        self.tx.extend_from_slice(&buf);
        self.last_sent = now;
        self.requests_sent.insert(pid, pending);
        Ok(())
    }

    fn send_qos0(&mut self, id: PublishId, msg: &Message, now: u64) {
        let result = self.write_publish(msg, 0, false, true, now);
        self.events.push_back(Event::PublishComplete {
            id,
            result: result.map(|()| ReasonCode::SUCCESS),
        });
    }

    /// Sends a QoS 1/2 message for the first time (the window has room).
    fn send_new(&mut self, id: PublishId, msg: Message, now: u64) {
        if msg.qos == QoS::AtMostOnce {
            self.send_qos0(id, &msg, now);
            return;
        }
        let pid = self.alloc_packet_id();
        if let Err(e) = self.write_publish(&msg, pid, false, true, now) {
            self.events
                .push_back(Event::PublishComplete { id, result: Err(e) });
            return;
        }
        let stage = if msg.qos == QoS::AtLeastOnce {
            Stage::Qos1Sent
        } else {
            Stage::Qos2Sent
        };
        let seq = self.next_seq;
        self.next_seq += 1;
        self.inflight.insert(
            pid,
            Inflight {
                id,
                msg,
                stage,
                seq,
            },
        );
    }

    fn write_publish(
        &mut self,
        msg: &Message,
        pid: u16,
        dup: bool,
        use_alias: bool,
        now: u64,
    ) -> Result<(), PublishError> {
        let users = msg.properties.borrowed_users();
        let mut p = Publish {
            dup,
            qos: msg.qos,
            retain: msg.retain,
            topic: &msg.topic,
            packet_id: pid,
            properties: if self.opts.version.is_v5() {
                msg.properties.to_wire(&users)
            } else {
                Default::default()
            },
            payload: &msg.payload,
        };
        let mut new_alias = false;
        if use_alias && self.opts.version.is_v5() && self.opts.outbound_topic_aliases {
            if let Some((alias, send_topic)) = self.out_aliases.assign(&msg.topic) {
                p.properties.topic_alias = Some(alias);
                new_alias = send_topic;
                if !send_topic {
                    p.topic = "";
                }
            }
        }
        let mut r = Packet::Publish(p).encode_limited(
            self.opts.version,
            self.server.max_packet_size,
            &mut self.tx,
        );
        if p.properties.topic_alias.is_some()
            && matches!(r, Err(EncodeError::PacketTooLarge { .. }))
        {
            // The alias property pushed it over the broker's limit (`check_publishable` counts
            // none): send it without, and free an alias the broker never learnt.
            if new_alias {
                self.out_aliases.release(&msg.topic);
            }
            p.properties.topic_alias = None;
            p.topic = &msg.topic;
            r = Packet::Publish(p).encode_limited(
                self.opts.version,
                self.server.max_packet_size,
                &mut self.tx,
            );
        }
        self.last_sent = now;
        match r {
            Ok(_) => Ok(()),
            Err(e @ EncodeError::PacketTooLarge { .. }) => Err(PublishError::TooLarge(e)),
            Err(e) => Err(PublishError::Invalid(e)),
        }
    }

    /// Sends an inflight PUBLISH of a resumed session again (DUP, same identifier), unless the
    /// broker's new limits forbid it (v5 MQTT-3.2.2-11, MQTT-3.2.2-14, MQTT-3.2.2-15): then it
    /// fails. Whether it was sent.
    fn resend_publish(&mut self, pid: u16, now: u64) -> bool {
        let Some(f) = self.inflight.get(&pid) else {
            return false;
        };
        let msg = f.msg.clone();
        let r = self
            .check_publishable(&msg)
            .and_then(|()| self.write_publish(&msg, pid, true, false, now));
        match r {
            Ok(()) => true,
            Err(e) => {
                let f = self.inflight.remove(&pid).expect("present");
                self.events.push_back(Event::PublishComplete {
                    id: f.id,
                    result: Err(e),
                });
                false
            }
        }
    }

    /// Moves queued messages into the window while it has room: first the PUBLISH of a resumed
    /// session still to be sent again, then new ones.
    fn fill_window(&mut self, now: u64) {
        if !self.to_resend.is_empty() {
            // Only what is still inflight (an acknowledgement may have settled one meanwhile).
            let inflight = &self.inflight;
            self.to_resend.retain(|pid| inflight.contains_key(pid));
        }
        while self.state == State::Connected
            && self.inflight.len().saturating_sub(self.to_resend.len()) < self.window()
        {
            let Some(pid) = self.to_resend.pop_front() else {
                break;
            };
            self.resend_publish(pid, now);
        }
        while self.state == State::Connected {
            let Some(front) = self.queue.front() else {
                break;
            };
            if front.msg.qos != QoS::AtMostOnce && self.inflight.len() >= self.window() {
                break;
            }
            if front.msg.qos == QoS::AtMostOnce
                && self.tx.len() >= self.opts.max_pending_write_bytes
            {
                break;
            }
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= q.msg.cost();
            if let Err(e) = self.check_publishable(&q.msg) {
                self.events.push_back(Event::PublishComplete {
                    id: q.id,
                    result: Err(e),
                });
                continue;
            }
            self.send_new(q.id, q.msg, now);
        }
    }

    fn complete(&mut self, id: PublishId, code: ReasonCode) {
        let result = if code.is_error() {
            Err(PublishError::Rejected(code))
        } else {
            Ok(code)
        };
        self.events.push_back(Event::PublishComplete { id, result });
    }

    fn handle_packet(&mut self, packet: Packet<'_>, now: u64) -> Result<(), ProtocolViolation> {
        let v5 = self.opts.version.is_v5();
        if self.state == State::AwaitingConnAck {
            return match packet {
                Packet::ConnAck(c) => {
                    if c.is_accepted() {
                        // v5 MQTT-3.2.2-4 (v5 MQTT-3.2.2-2, v3.1.1 MQTT-3.2.2-1): a client that
                        // started clean has no session to resume.
                        if c.session_present && self.clean_start_flag() {
                            return Err(ProtocolViolation::SessionPresentAfterCleanStart);
                        }
                        // v5 MQTT-4.12.0-5 / MQTT-4.12.0-6: the method of CONNECT, or none.
                        if v5
                            && c.properties.authentication_method
                                != self.opts.authentication_method.as_deref()
                        {
                            return Err(ProtocolViolation::AuthenticationMethod);
                        }
                    }
                    self.on_connack(c, now);
                    Ok(())
                }
                Packet::Auth(a) => self.on_auth(a),
                Packet::Disconnect(d) => {
                    self.on_server_disconnect(d, now);
                    Ok(())
                }
                p => Err(ProtocolViolation::UnexpectedPacket(p.packet_type())),
            };
        }
        match packet {
            Packet::Publish(p) => self.on_publish(p, now)?,
            Packet::PubAck(r) => match self.inflight.get(&r.packet_id) {
                Some(f) if f.stage == Stage::Qos1Sent => {
                    let f = self.inflight.remove(&r.packet_id).expect("present");
                    self.complete(f.id, r.reason_code);
                    self.fill_window(now);
                }
                _ => log::debug!("PUBACK for unknown packet id {}", r.packet_id),
            },
            Packet::PubRec(r) => match self.inflight.get_mut(&r.packet_id) {
                Some(f) if f.stage != Stage::Qos1Sent => {
                    if r.reason_code.is_error() {
                        let f = self.inflight.remove(&r.packet_id).expect("present");
                        self.complete(f.id, r.reason_code);
                        self.fill_window(now);
                    } else {
                        f.stage = Stage::Qos2Released;
                        self.write_packet(&Packet::PubRel(PubResp::new(r.packet_id)), now);
                    }
                }
                _ => {
                    let mut rel = PubResp::new(r.packet_id);
                    if v5 {
                        rel.reason_code = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                    }
                    self.write_packet(&Packet::PubRel(rel), now);
                }
            },
            Packet::PubComp(r) => match self.inflight.get(&r.packet_id) {
                Some(f) if f.stage == Stage::Qos2Released => {
                    let f = self.inflight.remove(&r.packet_id).expect("present");
                    self.complete(f.id, r.reason_code);
                    self.fill_window(now);
                }
                _ => log::debug!("PUBCOMP for unknown packet id {}", r.packet_id),
            },
            Packet::PubRel(r) => {
                let mut comp = PubResp::new(r.packet_id);
                if !self.inbound_qos2.remove(&r.packet_id) && v5 {
                    comp.reason_code = ReasonCode::PACKET_IDENTIFIER_NOT_FOUND;
                }
                self.write_packet(&Packet::PubComp(comp), now);
            }
            Packet::SubAck(s) => self.on_suback(s)?,
            Packet::UnsubAck(u) => self.on_unsuback(u)?,
            Packet::PingResp => {}
            Packet::Disconnect(d) => self.on_server_disconnect(d, now),
            Packet::Auth(a) => self.on_auth(a)?,
            p @ (Packet::Connect(_)
            | Packet::ConnAck(_)
            | Packet::Subscribe(_)
            | Packet::Unsubscribe(_)
            | Packet::PingReq) => return Err(ProtocolViolation::UnexpectedPacket(p.packet_type())),
        }
        Ok(())
    }

    fn on_connack(&mut self, c: ConnAck<'_>, now: u64) {
        self.connack_deadline = None;
        if !c.is_accepted() {
            let code = c.reason_code;
            let reason = DisconnectReason::Refused {
                code,
                reason: c.properties.reason_string.map(str::to_string),
            };
            self.close_transport = true;
            let fatal = if self.opts.version.is_v5() {
                matches!(code.0, 0x84 | 0x85 | 0x86 | 0x87 | 0x8A | 0x8C)
            } else {
                matches!(code.0, 1 | 2 | 4 | 5)
            };
            if fatal {
                self.close_for_good(reason);
            } else {
                self.connection_lost(reason, now);
            }
            return;
        }
        let p = &c.properties;
        self.server = ServerLimits {
            receive_maximum: p.receive_maximum.unwrap_or(u16::MAX),
            max_packet_size: p.maximum_packet_size.unwrap_or(codec::MAX_PACKET_SIZE),
            topic_alias_maximum: p.topic_alias_maximum.unwrap_or(0),
            maximum_qos: p.maximum_qos.unwrap_or(QoS::ExactlyOnce),
            retain_available: p.retain_available.unwrap_or(true),
        };
        if let Some(k) = p.server_keep_alive {
            self.keep_alive = k;
        }
        if let Some(id) = p.assigned_client_identifier {
            // Reconnections resume the session the broker created under this identifier.
            self.opts.client_id = id.to_string();
        }
        self.out_aliases.reset(if self.opts.outbound_topic_aliases {
            self.server.topic_alias_maximum
        } else {
            0
        });
        self.state = State::Connected;
        self.attempt = 0;
        let info = ConnectionInfo {
            session_present: c.session_present,
            assigned_client_id: p.assigned_client_identifier.map(str::to_string),
            keep_alive: self.keep_alive,
            inflight_window: self.window() as u16,
            max_packet_size: p.maximum_packet_size,
            topic_alias_maximum: self.server.topic_alias_maximum,
            maximum_qos: self.server.maximum_qos,
            retain_available: self.server.retain_available,
            response_information: p.response_information.map(str::to_string),
            reason_string: p.reason_string.map(str::to_string),
        };
        self.events.push_back(Event::Connected(info));
        let mut order: Vec<(u64, u16)> = self.inflight.iter().map(|(k, f)| (f.seq, *k)).collect();
        order.sort_unstable();
        self.to_resend.clear();
        if c.session_present {
            // Resend in original order: PUBLISH with DUP, or PUBREL (MQTT-4.4.0-1). PUBLISH
            // beyond the new window waits for room (v5 MQTT-3.3.4-7; a PUBREC'd message counts
            // until its PUBCOMP): `fill_window` sends it, before any new message.
            let mut unacked = self
                .inflight
                .values()
                .filter(|f| f.stage == Stage::Qos2Released)
                .count();
            for (_, pid) in order {
                let Some(f) = self.inflight.get(&pid) else {
                    continue;
                };
                if f.stage == Stage::Qos2Released {
                    self.write_packet(&Packet::PubRel(PubResp::new(pid)), now);
                } else if unacked < self.window() {
                    if self.resend_publish(pid, now) {
                        unacked += 1;
                    }
                } else {
                    self.to_resend.push_back(pid);
                }
            }
        } else {
            // The broker has no session: apply the requeue rule (see module docs).
            self.inbound_qos2.clear();
            for (_, pid) in order.into_iter().rev() {
                let f = self.inflight.remove(&pid).expect("present");
                if f.stage == Stage::Qos2Released {
                    self.events.push_back(Event::PublishComplete {
                        id: f.id,
                        result: Ok(ReasonCode::SUCCESS),
                    });
                } else {
                    self.queued_bytes += f.msg.cost();
                    self.queue.push_front(Queued {
                        id: f.id,
                        msg: f.msg,
                    });
                }
            }
            if self.connected_before && !self.subscriptions.is_empty() {
                self.resubscribe(now);
            }
        }
        self.connected_before = true;
        // Requests that waited go now, those sent but not answered on the lost connection first
        // (`connection_lost` put them back at the front). `requests_sent` holds only the
        // renewed subscriptions just written: sending it again would duplicate them.
        // One at a time: those still waiting keep their identifiers reserved meanwhile.
        while let Some(r) = self.requests_waiting.pop_front() {
            let id = r.id;
            if let Err(e) = self.send_request(r, now) {
                if let Some(id) = id {
                    self.events.push_back(Event::RequestFailed {
                        id,
                        error: RequestError::Invalid(e),
                    });
                }
            }
        }
        self.fill_window(now);
    }

    fn resubscribe(&mut self, now: u64) {
        let mut groups: BTreeMap<Option<u32>, Vec<(String, SubscriptionOptions)>> = BTreeMap::new();
        for (f, (o, sid)) in &self.subscriptions {
            groups.entry(*sid).or_default().push((f.clone(), *o));
        }
        self.events.push_back(Event::Resubscribing {
            filters: self.subscriptions.len(),
        });
        for (subscription_id, filters) in groups {
            let r = PendingRequest {
                id: None,
                packet_id: None,
                request: Request::Subscribe {
                    filters,
                    subscription_id,
                },
            };
            if let Err(e) = self.send_request(r, now) {
                log::warn!("could not renew subscriptions: {e}");
            }
        }
    }

    fn on_publish(&mut self, p: Publish<'_>, now: u64) -> Result<(), ProtocolViolation> {
        let mut topic = String::new();
        if let Some(alias) = p.properties.topic_alias {
            if alias == 0 || alias > self.opts.topic_alias_maximum {
                return Err(ProtocolViolation::TopicAlias(alias));
            }
            if p.topic.is_empty() {
                let known = self.in_aliases.get(alias);
                topic = known
                    .ok_or(ProtocolViolation::UnknownTopicAlias(alias))?
                    .to_string();
            } else {
                self.in_aliases.set(alias, p.topic);
            }
        }
        if topic.is_empty() {
            topic = p.topic.to_string();
        }
        match p.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => {
                self.write_packet(&Packet::PubAck(PubResp::new(p.packet_id)), now);
            }
            QoS::ExactlyOnce => {
                if self.inbound_qos2.contains(&p.packet_id) {
                    // A redelivery of a message already delivered: acknowledge again only.
                    self.write_packet(&Packet::PubRec(PubResp::new(p.packet_id)), now);
                    return Ok(());
                }
                if self.inbound_qos2.len() >= usize::from(self.opts.receive_maximum.max(1)) {
                    return Err(ProtocolViolation::ReceiveMaximumExceeded);
                }
                self.inbound_qos2.insert(p.packet_id);
                self.write_packet(&Packet::PubRec(PubResp::new(p.packet_id)), now);
            }
        }
        self.events
            .push_back(Event::Message(ReceivedMessage::from_publish(&p, &topic)));
        Ok(())
    }

    fn on_suback(&mut self, s: SubAck<'_>) -> Result<(), ProtocolViolation> {
        let Some(pending) = self.requests_sent.remove(&s.packet_id) else {
            log::debug!("SUBACK for unknown packet id {}", s.packet_id);
            return Ok(());
        };
        let codes: Vec<ReasonCode> = s.reason_codes.iter().collect();
        // One reason code per topic filter, in order (v5 MQTT-3.8.4-6, v3.1.1 MQTT-3.8.4-5).
        let violation = match &pending.request {
            Request::Subscribe { filters, .. } if codes.len() != filters.len() => {
                Some(ProtocolViolation::ReasonCodeCount {
                    packet: PacketType::SubAck,
                    expected: filters.len(),
                    got: codes.len(),
                })
            }
            Request::Subscribe { .. } => None,
            Request::Unsubscribe { .. } => {
                Some(ProtocolViolation::UnexpectedPacket(PacketType::SubAck))
            }
        };
        if let Some(v) = violation {
            // The request is sent again on the next connection.
            self.requests_sent.insert(s.packet_id, pending);
            return Err(v);
        }
        if let Request::Subscribe {
            filters,
            subscription_id,
        } = &pending.request
        {
            for (i, (f, o)) in filters.iter().enumerate() {
                match codes.get(i) {
                    Some(c) if !c.is_error() => {
                        self.subscriptions.insert(f.clone(), (*o, *subscription_id));
                    }
                    _ => {
                        self.subscriptions.remove(f);
                    }
                }
            }
        }
        if let Some(id) = pending.id {
            self.events.push_back(Event::Subscribed {
                id,
                reason_codes: codes,
            });
        }
        Ok(())
    }

    fn on_unsuback(&mut self, u: UnsubAck<'_>) -> Result<(), ProtocolViolation> {
        let Some(pending) = self.requests_sent.remove(&u.packet_id) else {
            log::debug!("UNSUBACK for unknown packet id {}", u.packet_id);
            return Ok(());
        };
        // v5: one reason code per topic filter, in order (v5 MQTT-3.11.3-2); 3.1.1 has none.
        let violation = match &pending.request {
            Request::Unsubscribe { filters }
                if self.opts.version.is_v5() && u.reason_codes.len() != filters.len() =>
            {
                Some(ProtocolViolation::ReasonCodeCount {
                    packet: PacketType::UnsubAck,
                    expected: filters.len(),
                    got: u.reason_codes.len(),
                })
            }
            Request::Unsubscribe { .. } => None,
            Request::Subscribe { .. } => {
                Some(ProtocolViolation::UnexpectedPacket(PacketType::UnsubAck))
            }
        };
        if let Some(v) = violation {
            self.requests_sent.insert(u.packet_id, pending);
            return Err(v);
        }
        if let Request::Unsubscribe { filters } = &pending.request {
            for f in filters {
                self.subscriptions.remove(f);
            }
        }
        if let Some(id) = pending.id {
            self.events.push_back(Event::Unsubscribed {
                id,
                reason_codes: u.reason_codes.iter().collect(),
            });
        }
        Ok(())
    }

    fn on_auth(&mut self, a: Auth<'_>) -> Result<(), ProtocolViolation> {
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

    fn on_server_disconnect(&mut self, d: Disconnect<'_>, now: u64) {
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

    fn protocol_error(&mut self, v: ProtocolViolation, now: u64) {
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

    /// The connection ended: keep the session, schedule a reconnection (or close for good).
    fn connection_lost(&mut self, reason: DisconnectReason, now: u64) {
        self.rx.clear();
        self.ping_sent = None;
        self.connack_deadline = None;
        if !self.opts.reconnect.enabled {
            self.close_for_good(reason);
            return;
        }
        let at = now.saturating_add(backoff::delay(
            &self.opts.reconnect,
            self.attempt,
            &mut self.rng,
        ));
        self.attempt = self.attempt.saturating_add(1);
        self.state = State::Reconnecting(at);
        // Requests sent on the lost connection go again on the next one.
        let sent: Vec<PendingRequest> = core::mem::take(&mut self.requests_sent)
            .into_values()
            .collect();
        for r in sent.into_iter().rev() {
            self.requests_waiting.push_front(r);
        }
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at: Some(at),
        });
    }

    /// The session ends: everything still waiting fails with `SessionClosed`.
    fn close_for_good(&mut self, reason: DisconnectReason) {
        self.state = State::Closed;
        self.rx.clear();
        self.ping_sent = None;
        self.connack_deadline = None;
        self.to_resend.clear();
        let mut inflight: Vec<Inflight> =
            core::mem::take(&mut self.inflight).into_values().collect();
        inflight.sort_by_key(|f| f.seq);
        for f in inflight {
            self.events.push_back(Event::PublishComplete {
                id: f.id,
                result: Err(PublishError::SessionClosed),
            });
        }
        for q in core::mem::take(&mut self.queue) {
            self.events.push_back(Event::PublishComplete {
                id: q.id,
                result: Err(PublishError::SessionClosed),
            });
        }
        self.queued_bytes = 0;
        let sent: Vec<PendingRequest> = core::mem::take(&mut self.requests_sent)
            .into_values()
            .collect();
        for r in sent
            .into_iter()
            .chain(core::mem::take(&mut self.requests_waiting))
        {
            if let Some(id) = r.id {
                self.events.push_back(Event::RequestFailed {
                    id,
                    error: RequestError::SessionClosed,
                });
            }
        }
        self.events.push_back(Event::Disconnected {
            reason,
            reconnect_at: None,
        });
    }
}
