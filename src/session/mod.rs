//! The client session: the whole MQTT client protocol as a deterministic sans-I/O state machine.
//!
//! A driver owns the transport and the clock; the session owns everything else. The driver
//! feeds it what happened ([`Session::handle_connected`], [`Session::handle_bytes`],
//! [`Session::handle_disconnected_with`] (or [`Session::handle_disconnected`]),
//! [`Session::handle_timeout`], [`Session::handle_write_blocked`] and
//! [`Session::handle_writable`]) with the current time in milliseconds from any monotonic
//! clock, and drains [`Session::poll_output`] until it answers [`Output::Wait`]. That drain is
//! the only loop a driver needs: the session decides when to connect, give up or retry, how
//! long an attempt may take, how bytes are batched, and what the connection state is
//! ([`Session::connection_state`]); [`Completions`] keeps what the driver owes the
//! application per publish and request.
//!
//! ```
//! use wasmqtt::session::{random_client_id, Completions, Options, Output, Session};
//!
//! let seed = 0x5eed; // from the platform's randomness (see `seed_from_entropy`)
//! let options = Options::new(random_client_id(seed)).random_seed(seed);
//! let mut session = Session::new(options);
//! let mut pending: Completions<&str> = Completions::new();
//! session.start();
//! let mut now = 0;
//! loop {
//!     match session.poll_output() {
//!         Output::OpenTransport => { /* open TCP/WebSocket, then: */ session.handle_connected(now); }
//!         // A write that does not finish at once: `handle_write_blocked()`, then
//!         // `handle_writable(now)` when it did.
//!         Output::Transmit(bytes) => { /* write bytes */ let _ = bytes; }
//!         Output::CloseTransport => { /* close it (or abandon the open) */ }
//!         Output::Event(event) => match pending.settle(&event) {
//!             Some((waiter, outcome)) => { /* answer the waiter */ let _ = (waiter, outcome); }
//!             None => { /* hand the event to the application */ }
//!         },
//!         Output::Wait(deadline) => {
//!             // sleep until the transport is readable or writable, `deadline`, or an
//!             // application call; then handle_bytes / handle_timeout / ... Here we stop.
//!             let _ = deadline;
//!             break;
//!         }
//!     }
//!     now += 1;
//! }
//! ```
//!
//! Rules the session keeps (each covered by the simulation tests in `tests/`):
//! - **Keep-alive**: PINGREQ when nothing was sent, or nothing received, for the keep-alive
//!   period; the connection is dead when nothing arrives within the ping timeout after it
//!   (default: half the keep-alive, so a silent broker is noticed within 1.5 × the keep-alive;
//!   plus a short grace, once, when the driver wakes up long after that deadline: see
//!   [`LATE_WAKE_MS`]).
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
//! - **First connection**: a failure before the first accepted CONNACK (of every broker of
//!   the list, once) closes the session with its reason ([`FirstConnect::GiveUp`], the
//!   default) or is retried ([`FirstConnect::Retry`]).
//! - **Connect deadline**: [`Options::connect_timeout_ms`] covers the transport open and
//!   CONNACK, from the request to open.
//! - **Reconnect** with exponential back-off and jitter; a refusal that retrying cannot fix
//!   (bad credentials, not authorized, banned, invalid client id, unsupported version, a will
//!   whose QoS or retain flag the broker does not support, ...) closes the session instead.
//! - **Failover** across [`Options::brokers`] (the driver opens [`Session::broker`]): every
//!   failed attempt (transport, handshake, connect timeout, a retried refusal, a connection
//!   lost after CONNACK) moves on to the next broker; within a round through the list the
//!   next one is asked for at once, and the back-off applies after a whole round without an
//!   accepted CONNACK, growing per round (a lost connection is the first failure of a new
//!   round). [`FirstConnect::GiveUp`] gives up after the first whole round, with the last
//!   failure's reason. Credentials in a broker's URL replace the options' ones in the CONNECT
//!   sent to it; [`ConnectionInfo::broker`] names the broker in use. Messages in flight
//!   survive a failover as they survive a reconnect (resend or the requeue rule).
//! - **Manual acknowledgements** ([`Options::manual_acks`]): PUBACK / PUBREC of an inbound
//!   QoS 1/2 message go out on [`Session::ack`], in arrival order (v5 and v3.1.1
//!   MQTT-4.6.0-2, MQTT-4.6.0-3), bounded in v5 by the Receive Maximum announced; a message
//!   not acknowledged when its connection ends is delivered again when the broker resends it.
//!   See [`AckId`].
//! - **Write coalescing** ([`Options::write_coalescing`], on by default): the transmit of a
//!   drain after [`Session::handle_bytes`] is held, Nagle-like, while fewer than a quarter of
//!   the inflight window's packets arrived since the last transmit, less than
//!   [`Options::max_transmit_bytes`] waits, and more messages are in flight than arrived (one
//!   awaits only the broker); any other input, or the hold's deadline in
//!   [`Session::poll_timeout`] (1 ms by default), releases it. CONNECT, DISCONNECT and
//!   PINGREQ are never held. See [`WriteCoalescing`].
//! - **Request/response** (v5, [`Session::request`], [`Session::respond`]): one response
//!   subscription per session, made lazily and renewed with the others; responses matched by
//!   Correlation Data; a deadline per request; typed [`ResponseError`]s.
//! - **Message expiry** (v5): a message that waited in the queue sends what is left of its
//!   Message Expiry Interval; one whose interval ran out fails with
//!   [`PublishError::Expired`] instead of being sent.
//!
//! # Durable session state
//!
//! Off by default. With [`Options::durable`] every change of the session's durable state
//! (QoS 1/2 messages accepted and not completed, with stage and packet identifier; inbound
//! QoS 2 identifiers awaiting PUBREL; subscriptions to renew; client identifier, session
//! expiry, counters) becomes a [`StoreOp`] on opaque, versioned records ([`RECORD_FORMAT`])
//! the core encodes and decodes itself. The session emits operations instead of calling a
//! store: a synchronous store trait called from inside the state machine would block it on
//! I/O and cannot sit on an asynchronous store (IndexedDB answers in a later task), so the
//! core stays sans-I/O, a file store answers at once, IndexedDB when its transaction
//! completes, and the session keeps running meanwhile. What accumulates between two takes is
//! one batch (group commit), changes of one key coalesce.
//!
//! The driver's loop gains one step. After each `poll_output` drain that ends in `Wait`
//! (and after `handle_timeout`), while [`Session::take_store_ops`] hands out a
//! [`StoreBatch`]: apply its operations **atomically** (one transaction, one checksummed log
//! frame), sync first if [`StoreBatch::sync`], then [`Session::handle_stored`] with its
//! ticket (now, or when the asynchronous store answers), take the publishes admitted with
//! [`Session::take_admitted`] (resolve their "admitted" promises), and drain again. On start,
//! [`Session::resume`] with every record of the store instead of [`Session::new`]. Before
//! dropping a session (after [`Session::disconnect`], say), store until
//! [`Session::has_store_ops`] is false: the last completions wait for their deletions too.
//!
//! ```
//! use std::collections::BTreeMap;
//! use wasmqtt::session::{Options, Output, Session, StoreOp, SyncPolicy};
//!
//! // What the store holds (a file, IndexedDB, ...): empty on the very first start.
//! let mut store: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
//! let options = Options::new("meter-7")
//!     .session_expiry_interval(3600)
//!     .durable(Some(SyncPolicy::EveryMessage));
//! let mut session = Session::resume(options, store.clone()).expect("a readable store");
//! session.start();
//! let (mut ops, mut admitted) = (Vec::new(), Vec::new());
//! let now = 0;
//! loop {
//!     match session.poll_output() {
//!         Output::Wait(_) => {}
//!         _ => continue, // handled as in the loop above
//!     }
//!     // The drain is over: store what changed, then drain again.
//!     let Some(batch) = session.take_store_ops(&mut ops) else {
//!         break; // sleep until the next input, as above
//!     };
//!     for op in ops.drain(..) {
//!         match op {
//!             StoreOp::Put { key, value } => { store.insert(key, value); }
//!             StoreOp::Delete { key } => { store.remove(&key); }
//!         }
//!     }
//!     if batch.sync { /* fsync, or a strict IndexedDB transaction */ }
//!     session.handle_stored(batch.ticket, now);
//!     session.take_admitted(&mut admitted); // resolve these publishes' "admitted" promises
//! }
//! assert!(store.contains_key(&[0u8][..]), "the session record");
//! ```
//!
//! **The admission rule.** Nothing that depends on a change leaves the session before the
//! change is stored: a PUBLISH waits for its record, PUBREL for the record of its PUBREC,
//! PUBREC for the inbound identifier, PUBCOMP for its deletion; events pushed after a change
//! (a received QoS 2 message, a completion) wait the same way. A crash before the batch is
//! stored therefore loses nothing the broker or the application saw: a QoS 1/2 publish is
//! *admitted* once its record is stored, and every admitted message completes (at most once:
//! a completion whose deletion was stored but not yet handed out when the process died is not
//! reported again; the broker had acknowledged the message). QoS 0 messages are not stored,
//! nor are subscribe and unsubscribe requests not yet answered. An inbound QoS 1 message is
//! acknowledged on arrival unless [`Options::manual_acks`] is on: acknowledge it after
//! processing to survive a crash in between.
//!
//! **Sync policies** ([`SyncPolicy`]; a process crash loses nothing admitted with either,
//! the operating system keeps what was written):
//! - [`SyncPolicy::EveryMessage`]: every batch is synced before it is reported stored:
//!   nothing admitted is lost on power loss either; one sync per batch.
//! - [`SyncPolicy::Batched`]: batches are written and reported at once, and a sync is asked
//!   for with the batch that brings the unsynced records to `max_messages`, or `max_delay_ms`
//!   after the first unsynced change ([`Session::poll_timeout`] carries that deadline). A
//!   power loss can lose the changes of that window: fewer than `max_messages` admitted
//!   messages, none older than `max_delay_ms` (possibly sent already), an
//!   inbound QoS 2 identifier (its message may be delivered again), a completion (its message
//!   may be sent again: a duplicate at QoS 1 or 2).

mod alias;
mod auth;
mod backoff;
mod coalesce;
mod completions;
mod connect;
mod connection;
mod durable;
mod event;
mod expiry;
mod failover;
mod identity;
mod inbound;
mod keep_alive;
mod lifecycle;
mod manual_ack;
mod message;
mod options;
mod outbound;
mod qos0_budget;
mod receive;
mod record;
mod request_response;
mod requests;
mod transmit;
mod validate;

pub use backoff::ReconnectPolicy;
pub use coalesce::WriteCoalescing;
pub use completions::{CompletionKey, Completions, Outcome};
pub use connect::BROKER_LACKS_V5;
pub use durable::{StoreBatch, StoreOp, StoreTicket, SyncPolicy};
pub use event::{
    ConnectionInfo, DisconnectReason, Event, HandshakeFailure, ProtocolViolation, PublishError,
    PublishId, RequestError, RequestId,
};
pub use failover::MAX_BROKERS;
pub use identity::{
    random_client_id, random_client_id_with_prefix, seed_from_entropy, CLIENT_ID_PREFIX,
    MAX_PORTABLE_CLIENT_ID,
};
pub use keep_alive::{default_ping_timeout_ms, LATE_WAKE_GRACE_MS, LATE_WAKE_MS};
pub use manual_ack::{AckError, AckId};
pub use message::{BoxedProperties, Message, MessageProperties, ReceivedMessage};
pub use options::{FirstConnect, LastWill, Options};
pub use qos0_budget::Qos0Budget;
pub use record::{ResumeError, RECORD_FORMAT};
pub use request_response::{
    ResponseError, ResponseId, DEFAULT_RESPONSE_TOPIC_PREFIX, MAX_PENDING_RESPONSES,
};
pub use transmit::DEFAULT_MAX_TRANSMIT_BYTES;
pub use validate::{OptionsError, MIN_PACKET_SIZE};

use crate::codec::{self, Decoder, Packet};
use crate::vec_map::VecMap;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::String;
use alloc::vec::Vec;
use backoff::Rng;
use connection::Connection;
use outbound::{Inflight, Queued};
use requests::PendingRequest;

/// What the driver should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Open a transport to [`Session::broker`] (the driver's own single address when that is
    /// `None`: [`Options::brokers`] is empty), then call [`Session::handle_connected`] (or
    /// [`Session::handle_disconnected`] if that fails). The connect deadline
    /// ([`Options::connect_timeout_ms`]) runs from here; when it passes first, a
    /// [`Output::CloseTransport`] says to abandon the open.
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

/// The connection's state as an application sees it (the browser's `client.state`): a
/// coarser [`State`] that tells a first connection from the ones after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionState {
    /// Not started ([`Session::start`]).
    Idle,
    /// The first attempt since [`Session::start`] is in progress.
    Connecting,
    /// CONNACK accepted the connection.
    Connected,
    /// A connection or an attempt failed and the session will try (or is trying) again.
    Reconnecting,
    /// Closed for good.
    Closed,
}

impl ConnectionState {
    /// `idle`, `connecting`, `connected`, `reconnecting` or `closed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Idle => "idle",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Reconnecting => "reconnecting",
            ConnectionState::Closed => "closed",
        }
    }
}

impl core::fmt::Display for ConnectionState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The MQTT client session. See the [module documentation](self).
///
/// The work is split by concern over the submodules: `connect` (CONNECT and CONNACK),
/// `outbound` (publish, the inflight window, resend and requeue), `inbound` (PUBLISH in, QoS 2
/// receive state), `requests` (SUBSCRIBE, UNSUBSCRIBE, resubscription), `keep_alive`, `auth`,
/// `lifecycle` (connect, disconnect, back-off, connection lost) and `receive` (decoding and
/// dispatch of what arrives).
#[derive(Debug)]
pub struct Session {
    opts: Options,
    state: State,
    rng: Rng,
    decoder: Decoder,
    /// Connection-scoped state, replaced whenever a transport opens.
    conn: Connection,
    // Driver-facing: what to write and whether to open or close the transport.
    tx: Vec<u8>,
    /// The driver cannot write now ([`Session::handle_write_blocked`]): no `Transmit` until
    /// [`Session::handle_writable`].
    write_blocked: bool,
    open_transport: bool,
    close_transport: bool,
    // Session-scoped.
    /// The latest time any input carried: the session's idea of "now" for what it starts on
    /// its own (the connect deadline of [`Session::start`]). `None` until the first one.
    clock: Option<u64>,
    /// When the attempt in progress (transport open plus CONNACK) is overdue; counted from the
    /// request to open the transport.
    connect_deadline: Option<u64>,
    /// The attempt started before the session knew the time: its deadline is counted from the
    /// first input that carries one.
    connect_deadline_unarmed: bool,
    connected_before: bool,
    /// A connection or an attempt failed since the last start or accepted CONNACK.
    retrying: bool,
    /// How many CONNACKs accepted a connection.
    connections: u64,
    /// What the last accepted CONNACK said.
    info: Option<ConnectionInfo>,
    /// See [`Session::last_transport_error`].
    last_transport_error: Option<String>,
    /// Back-off step: rounds through the broker list that failed since the last accepted
    /// CONNACK.
    attempt: u32,
    /// Position in [`Options::brokers`] of the broker the current or next attempt targets.
    broker_index: usize,
    /// Attempts that failed in the current round through the broker list.
    round_failures: usize,
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
    subscriptions: VecMap<String, (codec::SubscriptionOptions, Option<u32>)>,
    requests_sent: VecMap<u16, PendingRequest>,
    requests_waiting: VecDeque<PendingRequest>,
    events: VecDeque<Event>,
    /// The next [`AckId`] (manual acknowledgements).
    next_ack_id: u64,
    /// Durable state ([`Options::durable`]); `None`: memory only.
    durable: durable::Slot,
    /// Write coalescing across acknowledgements ([`Options::write_coalescing`]).
    hold: coalesce::Hold,
    /// Request/response ([`Session::request`]).
    rr: request_response::Requests,
}

impl Session {
    /// A new, idle session.
    pub fn new(opts: Options) -> Self {
        let decoder = Decoder::new(opts.version).with_max_packet_size(opts.max_packet_size);
        Session {
            rng: Rng::new(opts.random_seed),
            decoder,
            state: State::Idle,
            conn: Connection::new(&opts, 0),
            tx: Vec::new(),
            write_blocked: false,
            open_transport: false,
            close_transport: false,
            clock: None,
            connect_deadline: None,
            connect_deadline_unarmed: false,
            connected_before: false,
            retrying: false,
            connections: 0,
            info: None,
            last_transport_error: None,
            attempt: 0,
            broker_index: 0,
            round_failures: 0,
            next_packet_id: 1,
            next_seq: 0,
            next_publish_id: 1,
            next_request_id: 1,
            inflight: BTreeMap::new(),
            to_resend: VecDeque::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            inbound_qos2: BTreeSet::new(),
            subscriptions: VecMap::new(),
            requests_sent: VecMap::new(),
            requests_waiting: VecDeque::new(),
            events: VecDeque::new(),
            next_ack_id: 1,
            hold: coalesce::Hold::default(),
            rr: request_response::Requests::default(),
            durable: durable::Slot::new(opts.durable),
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

    /// Where the connection stands for the application: connecting (the first attempt),
    /// connected, reconnecting (after a failure, until a CONNACK accepts a connection), closed.
    pub fn connection_state(&self) -> ConnectionState {
        match self.state {
            State::Idle => ConnectionState::Idle,
            State::Opening | State::AwaitingConnAck if !self.retrying => {
                ConnectionState::Connecting
            }
            State::Opening | State::AwaitingConnAck | State::Reconnecting(_) => {
                ConnectionState::Reconnecting
            }
            State::Connected => ConnectionState::Connected,
            State::Closed => ConnectionState::Closed,
        }
    }

    /// What the broker said when it accepted the current connection, or the last one while
    /// not connected; `None` before the first.
    pub fn connection_info(&self) -> Option<&ConnectionInfo> {
        self.info.as_ref()
    }

    /// How many connections a CONNACK accepted so far: 1 while handling the first
    /// [`Event::Connected`], more for a reconnection.
    pub fn connections(&self) -> u64 {
        self.connections
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

    /// Time passed: fire whatever deadline is due.
    pub fn handle_timeout(&mut self, now: u64) {
        let (hold, tx_len) = (self.hold_state(), self.tx.len());
        self.observe(now);
        self.store_timeout(now);
        self.response_timeouts(now);
        match self.state {
            State::Reconnecting(at) if now >= at => self.begin_attempt(),
            State::Opening | State::AwaitingConnAck
                if self.connect_deadline.is_some_and(|d| now >= d) =>
            {
                // The transport did not open, or CONNACK did not come, in time: abandon the
                // attempt (the driver closes what it was opening) and count it as failed.
                self.open_transport = false;
                self.close_transport = true;
                self.clear_tx();
                self.connection_lost(DisconnectReason::ConnectTimeout, now);
            }
            State::Connected => self.keep_alive_timeout(now),
            _ => {}
        }
        self.keep_hold(hold, tx_len, now);
    }

    /// The next deadline, if any.
    ///
    /// With durable state and [`SyncPolicy::Batched`], the sync deadline counts too, and so
    /// does the end of a write hold ([`Options::write_coalescing`]), and the deadline of a
    /// request waiting for its response ([`Session::request`]).
    ///
    /// While connecting (from the request to open the transport until CONNACK) this is the
    /// connect deadline, [`Options::connect_timeout_ms`] after the request. A session started
    /// ([`Session::start`]) before it saw any time answers `Some(0)` until an input tells it the
    /// time: the driver's next `handle_timeout(now)` counts the deadline from `now`.
    pub fn poll_timeout(&self) -> Option<u64> {
        let session = match self.state {
            State::Reconnecting(at) => Some(at),
            State::Opening | State::AwaitingConnAck if self.connect_deadline_unarmed => Some(0),
            State::Opening | State::AwaitingConnAck => self.connect_deadline,
            State::Connected => self.keep_alive_deadline(),
            _ => None,
        };
        [
            self.store_deadline(),
            self.hold_deadline(),
            self.response_deadline(),
        ]
        .into_iter()
        .fold(session, |a, b| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        })
    }

    /// An input carried the time `now`: the session's clock moves on (never back), and an
    /// attempt started before any time was known gets its deadline.
    ///
    /// Every input but bytes from the broker releases a write hold ([`Options::write_coalescing`]).
    pub(super) fn observe(&mut self, now: u64) {
        self.release_hold();
        let now = self.clock.map_or(now, |c| c.max(now));
        self.clock = Some(now);
        if core::mem::take(&mut self.connect_deadline_unarmed) {
            self.connect_deadline = Some(now.saturating_add(self.opts.connect_timeout_ms));
        }
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
        let r = p.encode_limited(
            self.opts.version,
            self.conn.server.max_packet_size,
            &mut self.tx,
        );
        debug_assert!(r.is_ok(), "session built an invalid packet: {r:?}");
        self.conn.last_sent = now;
    }
}
