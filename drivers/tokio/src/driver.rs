//! The driver task: the session's run loop over a tokio `TcpStream`.
//!
//! The session lives in [`Shared`], behind a mutex the driver task and [`super::Client`] both
//! take: a publish is handed to the session by the caller itself (no round trip through the
//! driver task), and [`Shared::wake`] tells the driver there is something new to write. Every
//! other request goes through the command channel. The lock is never held across an `await`.

use super::{Command, Error, Reply};
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
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
use wasmqtt::codec::ReasonCode;
use wasmqtt::session::{
    Event, Message, Options, Output, PublishError, PublishId, RequestError, RequestId, Session,
    State,
};

/// Bytes read from the socket at a time.
const READ_BUFFER: usize = 64 * 1024;
/// How long a transport the session closed may take to write its last bytes (DISCONNECT).
const LINGER: Duration = Duration::from_secs(5);

type Connecting = Pin<Box<dyn Future<Output = io::Result<TcpStream>> + Send>>;

/// What the driver task and every [`super::Client`] share.
#[derive(Debug)]
pub(super) struct Shared {
    core: Mutex<Core>,
    /// Wakes the driver: a publish gave the session something to do.
    wake: Notify,
    /// The session's clock starts here.
    start: Instant,
}

/// The session and the completions of the messages it accepted.
#[derive(Debug)]
struct Core {
    session: Session,
    publishes: HashMap<PublishId, Reply<Result<ReasonCode, PublishError>>>,
    /// The driver has ended: nothing drives the session any more.
    ended: bool,
}

impl Shared {
    pub(super) fn new(mut options: Options) -> Arc<Self> {
        if options.random_seed == 0 {
            options.random_seed = random_seed();
        }
        Arc::new(Shared {
            core: Mutex::new(Core {
                session: Session::new(options),
                publishes: HashMap::new(),
                ended: false,
            }),
            wake: Notify::new(),
            start: Instant::now(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Milliseconds since the driver started: the session's clock.
    fn now(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Hands a message to the session; `done` is answered when it completes.
    pub(super) fn publish(
        &self,
        message: Message,
        done: Reply<Result<ReasonCode, PublishError>>,
    ) -> Result<PublishId, PublishError> {
        let mut core = self.lock();
        if core.ended {
            return Err(PublishError::SessionClosed);
        }
        let id = core.session.publish(message, self.now())?;
        core.publishes.insert(id, done);
        drop(core);
        self.wake.notify_one();
        Ok(id)
    }
}

/// An open transport and the bytes the session handed out that are not written yet.
struct Conn {
    reader: OwnedReadHalf,
    writer: OwnedWriteHalf,
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
}

pub(super) struct Driver {
    shared: Arc<Shared>,
    addr: String,
    commands: mpsc::Receiver<Command>,
    commands_open: bool,
    events: mpsc::Sender<Event>,
    /// Events the application's full channel could not take yet (the socket is not read meanwhile).
    undelivered: VecDeque<Event>,
    requests: HashMap<RequestId, Reply<Result<Vec<ReasonCode>, RequestError>>>,
    /// Answers `Client::connect` at the first CONNACK or the first failure.
    first: Option<Reply<Result<(), Error>>>,
    /// Why the last transport failed, for the first connection's error.
    io_error: Option<io::Error>,
    /// Dropped when the driver ends: resolves `Client::disconnect`.
    disconnecting: Vec<Reply<()>>,
    connecting: Option<Connecting>,
    conn: Option<Conn>,
}

impl Drop for Driver {
    /// However the driver ends (closed, aborted), the session is driven no more: later
    /// publishes are refused and the ones waiting fail with `SessionClosed` (their replies drop).
    fn drop(&mut self) {
        let mut core = self.shared.lock();
        core.ended = true;
        core.publishes.clear();
    }
}

impl Driver {
    pub(super) fn new(
        shared: Arc<Shared>,
        addr: String,
        commands: mpsc::Receiver<Command>,
        events: mpsc::Sender<Event>,
        first: oneshot::Sender<Result<(), Error>>,
    ) -> Self {
        Driver {
            shared,
            addr,
            commands,
            commands_open: true,
            events,
            undelivered: VecDeque::new(),
            requests: HashMap::new(),
            first: Some(first),
            io_error: None,
            disconnecting: Vec::new(),
            connecting: None,
            conn: None,
        }
    }

    pub(super) async fn run(mut self) {
        let shared = Arc::clone(&self.shared);
        shared.lock().session.connect(shared.now());
        let mut buf = vec![0u8; READ_BUFFER];
        let mut wake = None;
        loop {
            let deadline = {
                let mut core = shared.lock();
                let core = &mut *core;
                if let Some(wake) = wake.take() {
                    self.handle(core, wake, &buf);
                }
                let deadline = self.drain(core);
                if self.finished(core) {
                    break;
                }
                deadline
            };
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
                    _ = self.events.reserve(), if !self.undelivered.is_empty() => Wake::EventSlot,
                    _ = or_pending(sleep.map(tokio::time::sleep_until)) => Wake::Deadline,
                    _ = or_pending(closing.map(tokio::time::sleep_until)) => Wake::Lingered,
                    c = self.commands.recv(), if self.commands_open => Wake::Command(c),
                    _ = shared.wake.notified() => Wake::Published,
                }
            });
        }
        log::debug!("driver for {} ended", self.addr);
    }

    /// Handles what woke the driver up (with the session locked).
    fn handle(&mut self, core: &mut Core, wake: Wake, buf: &[u8]) {
        let now = self.shared.now();
        match wake {
            Wake::Opened(r) => {
                self.connecting = None;
                match r {
                    Ok(stream) => {
                        log::debug!("TCP connection to {} open", self.addr);
                        if let Err(e) = stream.set_nodelay(true) {
                            log::debug!("set_nodelay: {e}");
                        }
                        let (reader, writer) = stream.into_split();
                        self.conn = Some(Conn {
                            reader,
                            writer,
                            out: Vec::new(),
                            written: 0,
                            closing: None,
                        });
                        core.session.handle_connected(now);
                    }
                    Err(e) => {
                        log::info!("cannot connect to {}: {e}", self.addr);
                        self.io_error = Some(e);
                        core.session.handle_disconnected(now);
                    }
                }
            }
            Wake::Read(Ok(n)) if n > 0 => core.session.handle_bytes(&buf[..n], now),
            Wake::Read(r) => {
                let e = r
                    .err()
                    .unwrap_or_else(|| io::ErrorKind::UnexpectedEof.into());
                self.transport_failed(core, e, now);
            }
            Wake::Wrote(Ok(n)) if n > 0 => {
                if let Some(c) = self.conn.as_mut() {
                    c.written += n;
                    if c.written == c.out.len() {
                        c.out.clear();
                        c.written = 0;
                        if c.closing.is_some() {
                            self.conn = None;
                        }
                    }
                }
            }
            Wake::Wrote(r) => {
                let e = r.err().unwrap_or_else(|| io::ErrorKind::WriteZero.into());
                self.transport_failed(core, e, now);
            }
            Wake::EventSlot => {
                while let Some(e) = self.undelivered.pop_front() {
                    match self.events.try_send(e) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(e)) => {
                            self.undelivered.push_front(e);
                            break;
                        }
                        // The application dropped `Events`: nobody wants these.
                        Err(mpsc::error::TrySendError::Closed(_)) => self.undelivered.clear(),
                    }
                }
            }
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
            Wake::Published => {}
        }
    }

    /// Whether the session is closed and everything it said was done.
    fn finished(&self, core: &Core) -> bool {
        core.session.state() == State::Closed
            && self.conn.is_none()
            && self.connecting.is_none()
            && (self.undelivered.is_empty() || self.events.is_closed())
    }

    fn transport_failed(&mut self, core: &mut Core, e: io::Error, now: u64) {
        log::info!("connection to {} lost: {e}", self.addr);
        self.conn = None;
        self.io_error = Some(e);
        core.session.handle_disconnected(now);
    }

    /// Does what the session asks until it says wait; returns its deadline.
    ///
    /// While the session uses the connection and earlier bytes are still being written, new
    /// bytes stay with the session (so its write budget holds) and only its events are taken.
    /// Once the session has given the connection up, its last bytes (DISCONNECT) follow the
    /// earlier ones and the transport closes when they are written, or after [`LINGER`].
    fn drain(&mut self, core: &mut Core) -> Option<u64> {
        loop {
            let writing = self.conn.as_ref().is_some_and(|c| !c.out.is_empty());
            let live = matches!(
                core.session.state(),
                State::Connected | State::AwaitingConnAck
            );
            if writing && live {
                while let Some(e) = core.session.poll_event() {
                    self.route(core, e);
                }
                return core.session.poll_timeout();
            }
            match core.session.poll_output() {
                Output::Transmit(bytes) => match self.conn.as_mut() {
                    Some(c) if c.out.is_empty() => c.out = bytes,
                    Some(c) => c.out.extend_from_slice(&bytes),
                    None => log::debug!("{} bytes to write without a transport", bytes.len()),
                },
                Output::CloseTransport => {
                    self.connecting = None;
                    match self.conn.as_mut() {
                        Some(c) if !c.out.is_empty() => c.closing = Some(Instant::now() + LINGER),
                        _ => self.conn = None,
                    }
                }
                Output::OpenTransport => {
                    self.conn = None;
                    let addr = self.addr.clone();
                    let timeout = Duration::from_millis(core.session.options().connect_timeout_ms);
                    log::debug!("connecting to {addr}");
                    self.connecting = Some(Box::pin(async move {
                        match tokio::time::timeout(timeout, TcpStream::connect(addr.as_str())).await
                        {
                            Ok(r) => r,
                            Err(_) => Err(io::Error::new(
                                io::ErrorKind::TimedOut,
                                format!("no TCP connection within {timeout:?}"),
                            )),
                        }
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
                    self.requests.insert(id, reply);
                }
                Err(e) => {
                    let _ = reply.send(Err(e));
                }
            },
            Command::Unsubscribe { filters, reply } => {
                match core.session.unsubscribe(filters, now) {
                    Ok(id) => {
                        self.requests.insert(id, reply);
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

    /// Completions resolve their handles; everything else goes to the application.
    fn route(&mut self, core: &mut Core, event: Event) {
        match event {
            Event::PublishComplete { id, result } => {
                if let Some(done) = core.publishes.remove(&id) {
                    let _ = done.send(result);
                }
            }
            Event::Subscribed { id, reason_codes } | Event::Unsubscribed { id, reason_codes } => {
                if let Some(reply) = self.requests.remove(&id) {
                    let _ = reply.send(Ok(reason_codes));
                }
            }
            Event::RequestFailed { id, error } => {
                if let Some(reply) = self.requests.remove(&id) {
                    let _ = reply.send(Err(error));
                }
            }
            Event::Connected(info) => {
                log::debug!(
                    "connected to {} (session present: {})",
                    self.addr,
                    info.session_present
                );
                self.io_error = None;
                if let Some(first) = self.first.take() {
                    let _ = first.send(Ok(()));
                }
                self.deliver(Event::Connected(info));
            }
            Event::Disconnected {
                reason,
                reconnect_at,
            } => {
                log::debug!("disconnected from {}: {reason}", self.addr);
                if let Some(first) = self.first.take() {
                    // The first connection failed: `Client::connect` fails and the driver ends.
                    let error = match self.io_error.take() {
                        Some(e) => Error::Io(e),
                        None => Error::Connection(reason),
                    };
                    let _ = first.send(Err(error));
                    core.session.disconnect(self.shared.now());
                    return;
                }
                self.deliver(Event::Disconnected {
                    reason,
                    reconnect_at,
                });
            }
            e => self.deliver(e),
        }
    }

    fn deliver(&mut self, event: Event) {
        if !self.undelivered.is_empty() {
            self.undelivered.push_back(event);
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(e)) => self.undelivered.push_back(e),
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

/// The future's output, or never when there is none.
async fn or_pending<F: Future>(f: Option<F>) -> F::Output {
    match f {
        Some(f) => f.await,
        None => std::future::pending().await,
    }
}

/// A seed for the reconnect jitter: the process's random hasher keys and the time.
fn random_seed() -> u64 {
    let mut h = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    h.write_u128(nanos);
    h.finish() | 1
}
