//! The driver task: the session's run loop over a tokio `TcpStream` and a
//! [`wasmqtt_transport::Stream`] (TLS, WebSocket, both or neither, as the broker's scheme says).
//!
//! The session lives in [`Shared`], behind a mutex the driver task and [`super::Client`] both
//! take: a publish is handed to the session by the caller itself (no round trip through the
//! driver task), and [`Shared::wake`] tells the driver there is something new to write. Every
//! other request goes through the command channel. The lock is never held across an `await`.
//!
//! The loop is the one every wasmqtt driver is: feed the session what happened, drain
//! [`Session::poll_output`] until it says wait, then wait for the next of (socket readable or
//! written, the session's deadline, an application call). A write in progress is the
//! session's backpressure input ([`Session::handle_write_blocked`] /
//! [`Session::handle_writable`]); the session decides when to connect, how long an attempt may
//! take, whether a failed first attempt is retried, and how bytes are batched.
//!
//! The transport stream sits between the session and the socket: bytes read go through
//! [`Stream::receive`] and [`Stream::read_mqtt`] to [`Session::handle_bytes`]; every
//! `Output::Transmit` goes through [`Stream::send_mqtt`] and [`Stream::take_network`] to the
//! socket. The session is told it is connected as soon as TCP is (the stream holds the MQTT
//! bytes until its handshakes are done), so the handshakes count in the session's connect
//! deadline. A handshake failure goes to [`Session::handle_handshake_failed`], typed.
//!
//! **Durable state.** With a store ([`ClientBuilder::durable`](super::ClientBuilder::durable))
//! the session was resumed from its records, and after every drain the driver takes the next
//! batch ([`Session::take_store_ops`]), applies it with the lock released (publishers keep
//! adding to the next batch meanwhile: group commit), reports it
//! ([`Session::handle_stored`]) and answers the publishes [`Session::take_admitted`] names,
//! which is when `Client::publish` resolves. A batch that needs no sync is a `write` into the
//! page cache (microseconds) and is applied inline; a batch that must be synced goes to
//! `spawn_blocking`, so an `fsync` (milliseconds on a disk) never stalls a runtime worker. The
//! driver waits for the batch either way: nothing the session would do meanwhile could leave
//! (output after a change is held until its batch is stored) except reading, which waits one
//! sync. A store that fails ends the driver (like [`super::Client::abort`]): nothing more is
//! admitted, the waiting publishes fail with `SessionClosed`, and the store, opened again,
//! holds everything that was admitted.

use super::events::EventSender;
use super::{Command, Error, Reply};
use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::Instant;
use wasmqtt::broker::Broker;
use wasmqtt::codec::QoS;
use wasmqtt::codec::ReasonCode;
use wasmqtt::session::{
    seed_from_entropy, Completions, ConnectionState, Event, Message, Outcome, Output, PublishError,
    PublishId, ReceivedMessage, RequestError, ResponseError, ResponseId, Session, State, StoreOp,
    StoreTicket,
};
use wasmqtt_store::{Store, StoreError};
use wasmqtt_transport::{Connector, Stream, TransportError};

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 64 * 1024;
/// How long a transport the session closed may take to write its last bytes (DISCONNECT).
const LINGER: Duration = Duration::from_secs(5);

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// Who waits for a publish or a request to complete.
#[derive(Debug)]
pub(super) enum Waiter {
    Publish(Reply<Result<ReasonCode, PublishError>>),
    Request(Reply<Result<Vec<ReasonCode>, RequestError>>),
}

impl Waiter {
    fn answer(self, outcome: Outcome) {
        match self {
            Waiter::Publish(done) => {
                let r = outcome.into_publish_result();
                let _ = done.send(r.unwrap_or(Err(PublishError::SessionClosed)));
            }
            Waiter::Request(reply) => {
                let r = outcome.into_request_result();
                let _ = reply.send(r.unwrap_or(Err(RequestError::SessionClosed)));
            }
        }
    }
}

/// What the driver task and every [`super::Client`] share.
#[derive(Debug)]
pub(super) struct Shared {
    core: Mutex<Core>,
    /// Wakes the driver: a publish gave the session something to do.
    wake: Notify,
    /// The session's clock starts here.
    start: Instant,
}

/// The session and who waits for what it accepted.
#[derive(Debug)]
pub(super) struct Core {
    pub(super) session: Session,
    pending: Completions<Waiter>,
    /// Publishes waiting for their record to be stored (durable state only).
    admitting: BTreeMap<PublishId, Reply<Result<(), PublishError>>>,
    /// Requests waiting for their response ([`super::Client::request`]).
    responses: BTreeMap<ResponseId, Reply<Result<ReceivedMessage, ResponseError>>>,
    /// The driver has ended: nothing drives the session any more.
    ended: bool,
    /// The messages resumed from the store, with the receivers of their completions, until
    /// the application takes them ([`super::Client::resumed`]).
    pub(super) resumed: Vec<(PublishId, Message, PublishDone)>,
}

/// The receiving end of a publish's completion.
pub(super) type PublishDone = oneshot::Receiver<Result<ReasonCode, PublishError>>;

impl Shared {
    /// Shares `session` (made from validated options with a random seed). The messages it
    /// resumed from a store ([`Session::unfinished`]) get a waiter each, like a live publish:
    /// their completions are answered through [`super::Client::resumed`]'s handles, never as
    /// events, so an application that reads no events does not stall on them (the event
    /// channel is bounded).
    pub(super) fn new(session: Session) -> Arc<Self> {
        let mut pending = Completions::new();
        let resumed = session
            .unfinished()
            .into_iter()
            .map(|(id, message)| {
                let (done, rx) = oneshot::channel();
                pending.insert_publish(id, Waiter::Publish(done));
                (id, message.clone(), rx)
            })
            .collect();
        Arc::new(Shared {
            core: Mutex::new(Core {
                session,
                pending,
                admitting: BTreeMap::new(),
                responses: BTreeMap::new(),
                ended: false,
                resumed,
            }),
            wake: Notify::new(),
            start: Instant::now(),
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since the driver started: the session's clock.
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The connection's state as the session sees it.
    pub(super) fn connection_state(&self) -> ConnectionState {
        self.lock().session.connection_state()
    }

    /// Hands a message to the session; `done` is answered when it completes. With durable
    /// state, a QoS 1/2 message also gets the receiver answered once its record is stored.
    #[allow(clippy::type_complexity)]
    pub(super) fn publish(
        &self,
        message: Message,
        done: Reply<Result<ReasonCode, PublishError>>,
    ) -> Result<
        (
            PublishId,
            Option<oneshot::Receiver<Result<(), PublishError>>>,
        ),
        PublishError,
    > {
        let mut core = self.lock();
        if core.ended {
            return Err(PublishError::SessionClosed);
        }
        let stored = core.session.is_durable() && message.qos != QoS::AtMostOnce;
        let id = core.session.publish(message, self.now())?;
        core.pending.insert_publish(id, Waiter::Publish(done));
        let admitted = stored.then(|| {
            let (tx, rx) = oneshot::channel();
            core.admitting.insert(id, tx);
            rx
        });
        drop(core);
        self.wake.notify_one();
        Ok((id, admitted))
    }

    /// Hands a request to the session; `reply` is answered with its response or why none came.
    pub(super) fn request(
        &self,
        message: Message,
        timeout_ms: u64,
        reply: Reply<Result<ReceivedMessage, ResponseError>>,
    ) -> Result<(), ResponseError> {
        let mut core = self.lock();
        if core.ended {
            return Err(ResponseError::SessionClosed);
        }
        let id = core.session.request(message, timeout_ms, self.now())?;
        core.responses.insert(id, reply);
        drop(core);
        self.wake.notify_one();
        Ok(())
    }

    /// Publishes the response to `request`; `done` is answered when it completes.
    pub(super) fn respond(
        &self,
        request: &ReceivedMessage,
        payload: Vec<u8>,
        done: Reply<Result<ReasonCode, PublishError>>,
    ) -> Result<PublishId, ResponseError> {
        let mut core = self.lock();
        if core.ended {
            return Err(ResponseError::SessionClosed);
        }
        let id = core.session.respond(request, payload, self.now())?;
        core.pending.insert_publish(id, Waiter::Publish(done));
        drop(core);
        self.wake.notify_one();
        Ok(id)
    }

    /// Acknowledges a received message (manual acknowledgement).
    pub(super) fn ack(&self, id: wasmqtt::session::AckId) -> Result<(), Error> {
        let mut core = self.lock();
        if core.ended {
            return Err(Error::Closed);
        }
        core.session.ack(id, self.now())?;
        drop(core);
        self.wake.notify_one();
        Ok(())
    }
}

/// An open transport and the bytes handed out that are not written yet.
struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
    /// TLS / WebSocket (or neither) between the session and the socket.
    stream: Stream,
    /// Bytes for the socket (what the stream produced) not written yet, from `written` on.
    out: Vec<u8>,
    written: usize,
    /// The session closed this transport: it goes once `out` is written, or at this time.
    closing: Option<Instant>,
}

/// What woke the driver up.
enum Wake {
    Opened(io::Result<TcpStream>),
    Read(io::Result<usize>),
    Wrote(io::Result<usize>),
    EventSlot,
    Deadline,
    Lingered,
    Command(Option<Command>),
    Published,
    /// The session has a batch for the store: its turn.
    StoreDue,
    /// A batch was applied to the store (and synced if it asked).
    Stored(StoreTicket, Result<(), StoreError>),
}

pub(super) struct Driver {
    shared: Arc<Shared>,
    /// The broker to open when the session names none (its list is empty).
    fallback: Broker,
    /// The broker of the attempt or connection in progress.
    broker: Broker,
    /// Starts the transport stream of each connection.
    connector: Connector,
    /// MQTT bytes the stream decoded, on their way to the session.
    mqtt_in: Vec<u8>,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    events: EventSender,
    /// Events on their way to the application: handed over after each drain, all at once;
    /// what its full channel could not take yet waits here (the socket is not read meanwhile).
    undelivered: VecDeque<Event>,
    /// Answers `Client::connect` at the first CONNACK, or when the session closes before one.
    first: Option<Reply<Result<(), Error>>>,
    /// The kind of the last transport error (its text is the session's
    /// `last_transport_error`), for the first connection's [`Error::Io`].
    io_error: Option<io::ErrorKind>,
    /// Dropped when the driver ends: resolves `Client::disconnect`.
    disconnecting: Vec<Reply<()>>,
    connecting: Option<Connecting>,
    conn: Option<Conn>,
    /// Where durable state goes (`None`: memory only); `None` too while a batch is applied
    /// by `spawn_blocking`.
    store: Option<Box<dyn Store>>,
    /// The operations of the batch being applied.
    store_ops: Vec<StoreOp>,
    admitted: Vec<PublishId>,
    store_failed: bool,
    /// Whether the next batch may be applied now (see `run`).
    store_turn: bool,
}

impl Drop for Driver {
    /// However the driver ends (closed, aborted), the session is driven no more: later
    /// publishes are refused and the ones waiting fail with `SessionClosed` (their replies drop).
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.ended = true;
        core.admitting.clear();
        for (waiter, outcome) in core.pending.fail_all() {
            waiter.answer(outcome);
        }
        for (_, reply) in std::mem::take(&mut core.responses) {
            let _ = reply.send(Err(ResponseError::SessionClosed));
        }
    }
}

impl Driver {
    pub(super) fn new(
        shared: Arc<Shared>,
        fallback: Broker,
        connector: Connector,
        commands: mpsc::Receiver<Command>,
        events: EventSender,
        first: oneshot::Sender<Result<(), Error>>,
        store: Option<Box<dyn Store>>,
    ) -> Self {
        Driver {
            shared,
            broker: fallback.clone(),
            fallback,
            connector,
            mqtt_in: Vec::new(),
            commands,
            commands_open: true,
            events,
            undelivered: VecDeque::new(),
            first: Some(first),
            io_error: None,
            disconnecting: Vec::new(),
            connecting: None,
            conn: None,
            store,
            store_ops: Vec::new(),
            admitted: Vec::new(),
            store_failed: false,
            store_turn: true,
        }
    }

    pub(super) async fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        {
            let mut core = shared.lock();
            core.session.handle_timeout(shared.now());
            core.session.start();
        }
        let mut buf = vec![0u8; READ_BUFFER];
        let mut wake = None;
        loop {
            let deadline = {
                let mut core = shared.lock();
                let core = &mut *core;
                if let Some(wake) = wake.take() {
                    self.handle(core, wake, &buf);
                }
                let mut deadline = self.drain(core);
                self.events.send_from(&mut self.undelivered);
                // Reading is held back while the application's channel is full: the session
                // must not take the unread PINGRESP behind it for a dead broker.
                let holding = self.conn.is_some() && !self.undelivered.is_empty();
                if holding != core.session.is_read_paused() {
                    let now = shared.now();
                    if holding {
                        core.session.handle_read_paused(now);
                    } else {
                        core.session.handle_read_resumed(now);
                    }
                    deadline = self.drain(core);
                    self.events.send_from(&mut self.undelivered);
                }
                // One batch, then one turn of the select below, and so on: a steady stream
                // of publishes must not keep the socket from being read.
                let batch = match self.store {
                    Some(_) if self.store_turn => core.session.take_store_ops(&mut self.store_ops),
                    _ => None,
                };
                let store_due = batch.is_none() && core.session.has_store_ops();
                if batch.is_none() && !store_due && self.finished(core) {
                    break;
                }
                (deadline, batch, store_due)
            };
            let (deadline, batch, store_due) = deadline;
            if let Some(batch) = batch {
                // The lock is released: publishes keep coming into the next batch.
                let stored = self.apply(batch.sync).await;
                self.store_turn = false;
                wake = Some(Wake::Stored(batch.ticket, stored));
                continue;
            }
            self.store_turn = true;
            wake = Some({
                let (reader, writer, out, closing) = match self.conn.as_mut() {
                    Some(c) => (
                        Some(&mut c.reader),
                        Some(&mut c.writer),
                        &c.out[c.written..],
                        c.closing,
                    ),
                    None => (None, None, &[][..], None),
                };
                let can_write = !out.is_empty();
                let can_read = reader.is_some() && closing.is_none() && self.undelivered.is_empty();
                let sleep = deadline.map(|ms| shared.start + Duration::from_millis(ms));
                tokio::select! {
                    r = or_pending(self.connecting.as_mut()) => Wake::Opened(r),
                    r = or_pending(reader.map(|r| r.read(&mut buf))), if can_read => Wake::Read(r),
                    r = or_pending(writer.map(|w| w.write(out))), if can_write => Wake::Wrote(r),
                    _ = self.events.room(), if !self.undelivered.is_empty() => Wake::EventSlot,
                    _ = or_pending(sleep.map(tokio::time::sleep_until)) => Wake::Deadline,
                    _ = or_pending(closing.map(tokio::time::sleep_until)) => Wake::Lingered,
                    c = self.commands.recv(), if self.commands_open => Wake::Command(c),
                    _ = shared.wake.notified() => Wake::Published,
                    _ = std::future::ready(()), if store_due => Wake::StoreDue,
                }
            });
        }
        log::debug!("driver for {} ended", self.broker);
    }

    /// Hands what woke the driver up to the session (locked).
    fn handle(&mut self, core: &mut Core, wake: Wake, buf: &[u8]) {
        let now = self.shared.now();
        match wake {
            Wake::Opened(Ok(socket)) => {
                self.connecting = None;
                log::debug!("TCP connection to {} open", self.broker);
                if let Err(e) = socket.set_nodelay(true) {
                    log::debug!("set_nodelay: {e}");
                }
                // The broker was checked before the driver started; a failure here is one
                // attempt's (the session decides what comes next).
                let stream = match self.connector.start(&self.broker) {
                    Ok(stream) => stream,
                    Err(e) => {
                        log::warn!("cannot start the transport to {}: {e}", self.broker);
                        self.io_error = None;
                        core.session.handle_disconnected_with(now, e.to_string());
                        return;
                    }
                };
                let (reader, writer) = socket.into_split();
                self.conn = Some(Conn {
                    reader,
                    writer,
                    stream,
                    out: Vec::new(),
                    written: 0,
                    closing: None,
                });
                // At once: the stream holds the CONNECT until its handshakes are done.
                core.session.handle_connected(now);
                self.pump(core, now);
            }
            Wake::Opened(Err(e)) => {
                self.connecting = None;
                log::info!("cannot connect to {}: {e}", self.broker);
                self.transport_failed(core, e, now);
            }
            Wake::Read(Ok(n)) if n > 0 => {
                let Some(c) = self.conn.as_mut() else { return };
                let received = c.stream.receive(&buf[..n]);
                // What was decoded before an error still reaches the session.
                self.pump(core, now);
                if let Err(e) = received {
                    self.stream_failed(core, e, now);
                }
            }
            Wake::Read(r) => {
                let e = r.err().unwrap_or_else(|| {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the broker closed the connection",
                    )
                });
                // The end of the socket in the middle of a handshake is the handshake's failure
                // (a plain-text port, a refused client certificate, ...).
                match self.conn.as_mut().map(|c| c.stream.receive_eof()) {
                    Some(Err(te)) if te.failure().is_some() => {
                        self.pump(core, now);
                        self.stream_failed(core, te, now);
                    }
                    _ => self.transport_failed(core, e, now),
                }
            }
            Wake::Wrote(Ok(n)) if n > 0 => {
                let Some(c) = self.conn.as_mut() else { return };
                c.written += n;
                if c.written == c.out.len() {
                    c.out.clear();
                    c.written = 0;
                    if c.closing.is_some() {
                        // Everything (the close frame, close_notify) is written: dropping the
                        // halves shuts the write side down and closes the socket.
                        self.conn = None;
                    } else {
                        core.session.handle_writable(now);
                    }
                }
            }
            Wake::Wrote(r) => {
                let e = r.err().unwrap_or_else(|| io::ErrorKind::WriteZero.into());
                self.transport_failed(core, e, now);
            }
            // Dropped `Events` too: `send_from` then discards what waits (nobody wants it).
            Wake::EventSlot => self.events.send_from(&mut self.undelivered),
            Wake::Deadline => core.session.handle_timeout(now),
            Wake::Lingered => {
                log::debug!("dropping a closed transport that did not take its last bytes");
                self.conn = None;
            }
            Wake::Command(Some(cmd)) => self.command(core, cmd, now),
            Wake::Command(None) => {
                log::debug!("every Client was dropped: disconnecting");
                self.commands_open = false;
                core.session.disconnect(now);
            }
            // The session has it already: `drain` takes what it produced.
            Wake::Published | Wake::StoreDue => {}
            Wake::Stored(ticket, Ok(())) => {
                core.session.handle_stored(ticket, now);
                core.session.take_admitted(&mut self.admitted);
                for id in self.admitted.drain(..) {
                    if let Some(tx) = core.admitting.remove(&id) {
                        let _ = tx.send(Ok(()));
                    }
                }
            }
            Wake::Stored(_, Err(e)) => {
                log::error!("the session store failed, ending the client: {e}");
                self.store_failed = true;
            }
        }
    }

    /// Applies the operations taken to the store (see the module docs for inline or
    /// `spawn_blocking`).
    async fn apply(&mut self, sync: bool) -> Result<(), StoreError> {
        let Some(mut store) = self.store.take() else {
            return Err(StoreError::Poisoned);
        };
        let mut ops = std::mem::take(&mut self.store_ops);
        let result = if sync {
            let joined = tokio::task::spawn_blocking(move || {
                let r = store.apply(&ops, true);
                (store, ops, r)
            })
            .await;
            match joined {
                Ok((s, o, r)) => {
                    store = s;
                    ops = o;
                    r
                }
                // The blocking task panicked (a store bug): the store is gone.
                Err(_) => return Err(StoreError::Poisoned),
            }
        } else {
            store.apply(&ops, false)
        };
        ops.clear();
        self.store_ops = ops;
        self.store = Some(store);
        result
    }

    /// Whether the session is closed and everything it said was done (or the store failed).
    fn finished(&self, core: &Core) -> bool {
        self.store_failed
            || core.session.state() == State::Closed
                && self.conn.is_none()
                && self.connecting.is_none()
                && (self.undelivered.is_empty() || self.events.is_closed())
    }

    fn transport_failed(&mut self, core: &mut Core, e: io::Error, now: u64) {
        log::info!("connection to {} lost: {e}", self.broker);
        self.conn = None;
        self.io_error = Some(e.kind());
        core.session.handle_disconnected_with(now, e.to_string());
    }

    /// The transport stream failed: a TLS or WebSocket failure is the session's typed
    /// handshake failure, anything else a lost transport.
    fn stream_failed(&mut self, core: &mut Core, e: TransportError, now: u64) {
        log::info!("transport to {} failed: {e}", self.broker);
        self.conn = None;
        self.io_error = None;
        match e.failure() {
            Some(failure) => {
                let detail = match e {
                    TransportError::Handshake { detail, .. } => detail,
                    other => other.to_string(),
                };
                core.session.handle_handshake_failed(now, failure, detail);
            }
            None => core.session.handle_disconnected_with(now, e.to_string()),
        }
    }

    /// Moves what the stream produced on: decoded MQTT bytes to the session, bytes for the
    /// socket behind the ones waiting to be written (the session holds back while any wait).
    fn pump(&mut self, core: &mut Core, now: u64) {
        let Some(c) = self.conn.as_mut() else { return };
        c.stream.take_network(&mut c.out);
        if c.written < c.out.len() {
            core.session.handle_write_blocked();
        }
        c.stream.read_mqtt(&mut self.mqtt_in);
        if !self.mqtt_in.is_empty() {
            core.session.handle_bytes(&self.mqtt_in, now);
            self.mqtt_in.clear();
        }
    }

    /// Does what the session asks until it says wait; returns its deadline.
    fn drain(&mut self, core: &mut Core) -> Option<u64> {
        loop {
            match core.session.poll_output() {
                Output::Transmit(bytes) => match self.conn.as_mut() {
                    Some(c) if c.closing.is_none() => {
                        let now = self.shared.now();
                        match c.stream.send_mqtt(&bytes) {
                            // One write at a time: the rest waits in the session (its budgets).
                            Ok(()) => self.pump(core, now),
                            Err(e) => self.stream_failed(core, e, now),
                        }
                    }
                    _ => log::debug!("{} bytes to write without a transport", bytes.len()),
                },
                Output::CloseTransport => {
                    self.connecting = None;
                    if let Some(c) = self.conn.as_mut() {
                        // WebSocket close frame, TLS close_notify: written before the socket
                        // is shut down.
                        c.stream.close();
                        c.stream.take_network(&mut c.out);
                    }
                    match self.conn.as_mut() {
                        Some(c) if c.written < c.out.len() => {
                            c.closing = Some(Instant::now() + LINGER)
                        }
                        _ => self.conn = None,
                    }
                }
                Output::OpenTransport => {
                    self.conn = None;
                    self.broker = core.session.broker().unwrap_or(&self.fallback).clone();
                    log::debug!("connecting to {}", self.broker);
                    let (host, port) = (self.broker.host.clone(), self.broker.port);
                    // No timeout here: the session's connect deadline covers the open.
                    self.connecting = Some(Box::pin(async move {
                        TcpStream::connect((host.as_str(), port)).await
                    }));
                }
                Output::Event(e) => self.route(core, e),
                Output::Wait(deadline) => return deadline,
            }
        }
    }

    fn command(&mut self, core: &mut Core, cmd: Command, now: u64) {
        match cmd {
            Command::Subscribe {
                filters,
                subscription_id,
                reply,
            } => match core.session.subscribe(filters, subscription_id, now) {
                Ok(id) => {
                    core.pending.insert_request(id, Waiter::Request(reply));
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Unsubscribe { filters, reply } => {
                match core.session.unsubscribe(filters, now) {
                    Ok(id) => {
                        core.pending.insert_request(id, Waiter::Request(reply));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Command::Auth {
                reason_code,
                data,
                reply,
            } => {
                let _ = reply.send(core.session.auth(reason_code, data, now));
            }
            Command::Disconnect { reason_code, done } => {
                self.disconnecting.push(done);
                core.session.disconnect_with(reason_code, now);
            }
        }
    }

    /// Completions answer their waiters; everything else goes to the application.
    fn route(&mut self, core: &mut Core, event: Event) {
        if let Event::Response { id, result } = &event {
            if let Some(reply) = core.responses.remove(id) {
                let _ = reply.send(result.clone());
                return;
            }
        }
        if let Some((waiter, outcome)) = core.pending.settle(&event) {
            // Completed before it was ever stored (expired, refused, the session closed): the
            // publish call answers with the failure.
            if let Event::PublishComplete { id, .. } = &event {
                if let Some(tx) = core.admitting.remove(id) {
                    let r = outcome.clone().into_publish_result();
                    let _ = tx.send(r.unwrap_or(Err(PublishError::SessionClosed)).map(|_| ()));
                }
            }
            waiter.answer(outcome);
            return;
        }
        match &event {
            Event::Connected(info) => {
                log::debug!(
                    "connected to {} (session present: {})",
                    self.broker,
                    info.session_present
                );
                self.io_error = None;
                if let Some(first) = self.first.take() {
                    let _ = first.send(Ok(()));
                }
            }
            Event::Disconnected { reason, .. } => {
                log::debug!("disconnected from {}: {reason}", self.broker);
                // The session gave up before its first CONNACK (`FirstConnect::GiveUp`).
                if core.session.state() == State::Closed {
                    if let Some(first) = self.first.take() {
                        let error =
                            match (self.io_error.take(), core.session.last_transport_error()) {
                                (Some(kind), Some(text)) if reason.code() == "CONNECTION_LOST" => {
                                    Error::Io(io::Error::new(kind, text.to_string()))
                                }
                                _ => Error::Connection(reason.clone()),
                            };
                        let _ = first.send(Err(error));
                    }
                }
            }
            _ => {}
        }
        self.deliver(event);
    }

    /// Queues an event for the application; `run` hands the queue over after each drain.
    fn deliver(&mut self, event: Event) {
        self.undelivered.push_back(event);
    }
}

/// The future's output, or never when there is none.
async fn or_pending<F: Future>(f: Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// A seed for the reconnect jitter (and a random client id): the process's random hasher keys
/// and the time, folded by the core's [`seed_from_entropy`].
pub(super) fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    seed_from_entropy(&h.finish().to_le_bytes())
}
