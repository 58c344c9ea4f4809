//! The WASI 0.2 driver: the session over `wasi:sockets` TCP, timed by `wasi:clocks` and
//! waiting through `wasi:io/poll`. Blocking, as WASI 0.2 calls are; used by the provider
//! component and by the `wasmqtt-cli` command component.
//!
//! Brokers: on `Output::OpenTransport` the driver opens [`Session::broker`] (the failover list
//! of [`Options::brokers`]; the address given to [`Client::new`] when it is empty): TCP first,
//! then, for `mqtts://`, `ws://` and `wss://`, `wasmqtt-transport`'s TLS and WebSocket layers
//! (cargo features `tls` and `websocket`; without them those schemes are refused by
//! `Client::new` with [`ClientError::Unsupported`], and the build carries no transport code).
//! `Session::handle_connected` comes right after TCP, so the handshakes count in the connect
//! timeout; a failed handshake is `Session::handle_handshake_failed` with the
//! core's typed [`HandshakeFailure`](wasmqtt::session::HandshakeFailure).
//!
//! [`Client`] owns the session, the socket and the clock. It is the loop every wasmqtt driver
//! is: hand the session what happened with the time, drain
//! [`Session::poll_output`] until it says wait (events go to a queue), then wait for the
//! socket or the session's deadline. The session decides everything else: the connect
//! deadline (transport open plus CONNACK, [`Options::connect_timeout_ms`]), whether a failed
//! first attempt is retried ([`Options::first_connect`]), how writes are batched
//! ([`Options::max_transmit_bytes`]) and what a stream that cannot take more bytes means
//! ([`Session::handle_write_blocked`]).
//!
//! [`Client::connect`] waits for the first CONNACK, [`Client::session`] takes application
//! requests (publish, subscribe, …), [`Client::flush`] writes what they produced, and
//! [`Client::poll_event`] runs the loop until the next event.
//!
//! Durable state (feature `durable`): `Client::durable` keeps the session in a
//! `wasmqtt-store` `FileStore` in a granted directory and resumes from it; every drain then
//! applies the session's store batches inline (see the `durable` module).
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

#[cfg(feature = "durable")]
mod durable;
mod layer;
mod net;

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use layer::{Failure, Layer, Layers};
use net::{Open, ReadError, Tcp};
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{self, Pollable};
use wasmqtt::broker::Broker;
use wasmqtt::session::{
    ConnectionInfo, DisconnectReason, Event, Options, OptionsError, Output, Session, State,
};

/// `wasmqtt-store`'s errors (feature `durable`).
#[cfg(feature = "durable")]
pub use wasmqtt_store::StoreError;

/// `wasmqtt-transport`'s options and errors (features `tls`, `websocket`).
#[cfg(any(feature = "tls", feature = "websocket"))]
pub use wasmqtt_transport as transport;

/// Why a [`Client`] was not made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The core refused the options ([`Options::validate`]).
    #[error(transparent)]
    Options(#[from] OptionsError),
    /// A broker's scheme needs a cargo feature this build lacks.
    #[error(
        "{broker}: this build has no {feature} support (built without the `{feature}` feature)"
    )]
    Unsupported {
        /// The broker's URL (without its password).
        broker: String,
        /// `tls` or `websocket`.
        feature: &'static str,
    },
    /// The transport options cannot work, or cannot work for one of the brokers (bad PEM, no
    /// CA for a TLS broker, a host that is no valid TLS server name, ...).
    #[cfg(any(feature = "tls", feature = "websocket"))]
    #[error("{}{error}", broker.as_ref().map(|b| alloc::format!("{b}: ")).unwrap_or_default())]
    Transport {
        /// The broker it is about, when it is about one.
        broker: Option<String>,
        /// What `wasmqtt-transport` said.
        error: wasmqtt_transport::ConfigError,
    },
    /// The session store could not be opened or read (feature `durable`).
    #[cfg(feature = "durable")]
    #[error("session store: {0}")]
    Store(#[from] wasmqtt_store::StoreError),
    /// The session store holds records this version cannot resume from (feature `durable`).
    #[cfg(feature = "durable")]
    #[error("cannot resume the stored session: {0}")]
    Resume(#[from] wasmqtt::session::ResumeError),
}

/// One open connection: the TCP socket and the TLS / WebSocket layer on it.
struct Connection {
    tcp: Tcp,
    layer: Layer,
}

/// A seed from the platform's randomness (`wasi:random`), for [`Options::random_seed`] and
/// [`wasmqtt::session::random_client_id`].
pub fn random_seed() -> u64 {
    wasip2::random::random::get_random_u64()
}

/// An MQTT client driven over WASI: owns the session, the socket and the clock.
pub struct Client {
    session: Session,
    host: String,
    port: u16,
    layers: Layers,
    conn: Option<Connection>,
    epoch_ns: u64,
    /// Events the drain took out of the session, for [`Client::poll_event`].
    events: VecDeque<Event>,
    /// Bytes the session handed out that the stream did not take yet (the session is told
    /// the write is blocked while there are any).
    unwritten: Vec<u8>,
    /// The application used the session since the last drain.
    undrained: bool,
    /// The options the session was made with (a durable session is made again from them).
    #[cfg_attr(not(feature = "durable"), allow(dead_code))]
    options: Options,
    /// The store, with durable state.
    #[cfg(feature = "durable")]
    durable: Option<durable::Durable>,
}

impl Client {
    /// A client of the brokers of [`Options::brokers`], or of the plain-TCP broker at
    /// `host:port` when that list is empty (not yet opened: see [`Client::connect`]), with the
    /// default transport options (no CA: a TLS broker needs `Client::with_transport`, features
    /// `tls` and `websocket`).
    ///
    /// Fails with the core's [`OptionsError`] when [`Options::validate`] refuses `options`, and
    /// as `Client::with_transport` does (a broker whose scheme this build lacks is
    /// [`ClientError::Unsupported`]). A `random_seed` of 0 is replaced by [`random_seed`].
    pub fn new(host: &str, port: u16, options: Options) -> Result<Self, ClientError> {
        #[cfg(any(feature = "tls", feature = "websocket"))]
        let layers = Layers::new(&transport::TransportOptions::default());
        #[cfg(not(any(feature = "tls", feature = "websocket")))]
        let layers = Ok::<_, core::convert::Infallible>(Layers);
        Self::build(host, port, options, layers)
    }

    /// Like [`Client::new`], with the TLS and WebSocket settings of `transport`. Every broker
    /// is checked now, before anything is sent: a scheme this build cannot speak is
    /// [`ClientError::Unsupported`], a configuration that cannot work for a broker (bad PEM,
    /// nothing to trust, an invalid server name) is [`ClientError::Transport`].
    #[cfg(any(feature = "tls", feature = "websocket"))]
    pub fn with_transport(
        host: &str,
        port: u16,
        options: Options,
        transport: &transport::TransportOptions,
    ) -> Result<Self, ClientError> {
        Self::build(host, port, options, Layers::new(transport))
    }

    fn build<E>(
        host: &str,
        port: u16,
        mut options: Options,
        layers: Result<Layers, E>,
    ) -> Result<Self, ClientError>
    where
        E: IntoClientError,
    {
        options.validate()?;
        if options.random_seed == 0 {
            options.random_seed = random_seed();
        }
        let layers = layers.map_err(|e| e.into_client_error(None))?;
        let fallback = [Broker::tcp(host, port)];
        let brokers = match options.brokers.is_empty() {
            true => &fallback[..],
            false => &options.brokers[..],
        };
        for b in brokers {
            if let Some(feature) = layer::missing_feature(b.scheme) {
                return Err(ClientError::Unsupported {
                    broker: b.to_string(),
                    feature,
                });
            }
            // A stream started now and dropped: the check of everything a connection to this
            // broker needs (trust anchors, server name, WebSocket request).
            layers
                .start(b)
                .map_err(|e| e.into_client_error(Some(b.to_string())))?;
        }
        Ok(Client {
            session: Session::new(options.clone()),
            options,
            host: host.to_string(),
            port,
            layers,
            conn: None,
            epoch_ns: monotonic_clock::now(),
            events: VecDeque::new(),
            unwritten: Vec::new(),
            undrained: false,
            #[cfg(feature = "durable")]
            durable: None,
        })
    }

    /// Milliseconds since the client was made, from the monotonic clock.
    pub fn now_ms(&self) -> u64 {
        monotonic_clock::now().saturating_sub(self.epoch_ns) / 1_000_000
    }

    /// The session, for publish / subscribe / unsubscribe / disconnect. Whatever those calls
    /// produce is written by the next [`Client::flush`] or [`Client::poll_event`].
    pub fn session(&mut self) -> &mut Session {
        self.undrained = true;
        &mut self.session
    }

    /// The session, to read its state.
    pub fn session_ref(&self) -> &Session {
        &self.session
    }

    /// Starts the session and waits until the first attempt is decided: the connection's
    /// info at CONNACK, or the reason the session gave up (a transport error, a refusal, the
    /// connect deadline; see [`Options::first_connect`]). Other events stay queued for
    /// [`Client::poll_event`].
    pub fn connect(&mut self) -> Result<ConnectionInfo, DisconnectReason> {
        let now = self.now_ms();
        self.session.handle_timeout(now);
        self.session.start();
        let mut seen = 0;
        loop {
            // Until an event beyond those already looked at: a failover's `Disconnected`
            // (the next broker is tried at once) stays queued for `poll_event`.
            self.drive(u64::MAX, seen);
            while seen < self.events.len() {
                match &self.events[seen] {
                    Event::Connected(info) => {
                        let info = info.clone();
                        self.events.remove(seen);
                        return Ok(*info);
                    }
                    Event::Disconnected { reason, .. } if self.session.state() == State::Closed => {
                        let reason = reason.clone();
                        self.events.remove(seen);
                        return Err(reason);
                    }
                    _ => seen += 1,
                }
            }
        }
    }

    /// Makes progress and returns the next event, waiting at most `timeout_ms` for one.
    pub fn poll_event(&mut self, timeout_ms: u64) -> Option<Event> {
        if self.events.is_empty() {
            self.drive(timeout_ms, 0);
        }
        self.events.pop_front()
    }

    /// Does what the session asks without waiting for the network: writes what the stream
    /// takes now (the rest when it has room: [`Client::poll_event`]), opens and closes the
    /// transport, and queues the events. Call it after application requests; to coalesce a
    /// burst of publishes, call it only once [`Session::transmit_ready`] says a full batch
    /// waits.
    pub fn flush(&mut self) {
        self.undrained = false;
        loop {
            match self.session.poll_output() {
                Output::OpenTransport => self.open(),
                Output::Transmit(bytes) => self.transmit(&bytes),
                Output::CloseTransport => self.close(),
                Output::Event(e) => self.events.push_back(e),
                Output::Wait(_) => {
                    // A batch stored releases what waited behind it: drain again.
                    #[cfg(feature = "durable")]
                    if let Some(d) = self.durable.as_mut() {
                        let now = monotonic_clock::now().saturating_sub(self.epoch_ns) / 1_000_000;
                        if d.apply(&mut self.session, now) {
                            continue;
                        }
                    }
                    return;
                }
            }
        }
    }

    /// A pollable ready when [`Client::poll_event`] has something to do right away.
    pub fn ready(&self) -> Pollable {
        let due = self
            .session
            .poll_timeout()
            .is_some_and(|d| d <= self.now_ms());
        if !self.events.is_empty() || due || self.undrained || self.session.has_store_ops() {
            return monotonic_clock::subscribe_duration(0);
        }
        match &self.conn {
            Some(c) if !self.unwritten.is_empty() => c.tcp.output.subscribe(),
            Some(c) => c.tcp.input.subscribe(),
            // Not connected and nothing due: never ready by itself; the deadline says when.
            None => monotonic_clock::subscribe_duration(u64::MAX),
        }
    }

    /// The monotonic-clock instant (ns) of the session's next deadline.
    pub fn next_deadline_ns(&self) -> Option<u64> {
        self.session.poll_timeout().map(|ms| self.instant_ns(ms))
    }

    fn instant_ns(&self, ms: u64) -> u64 {
        self.epoch_ns.saturating_add(ms.saturating_mul(1_000_000))
    }

    /// The loop: drain the session, then wait for the socket or a deadline, until more than
    /// `known` events are queued or `timeout_ms` has passed (then what already arrived or is
    /// due is still handled, once).
    fn drive(&mut self, timeout_ms: u64, known: usize) {
        let until = self.now_ms().saturating_add(timeout_ms);
        loop {
            self.flush();
            if self.events.len() > known {
                return;
            }
            let now = self.now_ms();
            let last = now >= until;
            let deadline = self.session.poll_timeout();
            if !last {
                let wake = deadline.map_or(until, |d| d.min(until));
                let timer = monotonic_clock::subscribe_instant(self.instant_ns(wake));
                let mut waits = alloc::vec![timer];
                if let Some(c) = &self.conn {
                    waits.push(c.tcp.input.subscribe());
                    if !self.unwritten.is_empty() {
                        waits.push(c.tcp.output.subscribe());
                    }
                }
                poll::poll(&waits.iter().collect::<Vec<_>>());
            }
            self.read();
            self.write();
            let now = self.now_ms();
            if self.session.poll_timeout().is_some_and(|d| d <= now) {
                self.session.handle_timeout(now);
            }
            if last {
                self.flush();
                return;
            }
        }
    }

    /// Hands what arrived to the session, through the layer.
    fn read(&mut self) {
        let Some(c) = &mut self.conn else { return };
        let result = match c.tcp.read_available() {
            Ok(bytes) if bytes.is_empty() => return,
            Ok(bytes) => c.layer.receive(&bytes),
            // End of file or a reset: a layer still handshaking makes that its failure (a
            // plain-text port resets the connection after a ClientHello).
            Err(e) => match c.layer.receive_eof() {
                Err(f) => Err(f),
                Ok(()) => Err(Failure::Lost(match e {
                    ReadError::Closed => "closed by the broker".to_string(),
                    ReadError::Failed(e) => e,
                })),
            },
        };
        // What the layer decoded before a failure still goes to the session.
        let mut mqtt = Vec::new();
        c.layer.read_mqtt(&mut mqtt);
        c.layer.take_network(&mut self.unwritten);
        if !mqtt.is_empty() {
            let now = self.now_ms();
            self.session.handle_bytes(&mqtt, now);
        }
        match result {
            Ok(()) => self.write(),
            Err(f) => self.fail(f),
        }
    }

    /// MQTT bytes from the session: through the layer, then to the socket.
    fn transmit(&mut self, bytes: &[u8]) {
        let Some(c) = &mut self.conn else { return };
        match c.layer.send_mqtt(bytes) {
            Ok(()) => {
                c.layer.take_network(&mut self.unwritten);
                self.write();
            }
            Err(f) => self.fail(f),
        }
    }

    /// Writes what the stream takes now of `unwritten`; tells the session whether the
    /// stream is blocked.
    fn write(&mut self) {
        let Some(c) = &self.conn else {
            self.unwritten.clear();
            return;
        };
        if self.unwritten.is_empty() {
            return;
        }
        match c.tcp.write_some(&self.unwritten) {
            Ok(n) => {
                self.unwritten.drain(..n);
                if self.unwritten.is_empty() {
                    if self.session.is_write_blocked() {
                        let now = self.now_ms();
                        self.session.handle_writable(now);
                    }
                } else if !self.session.is_write_blocked() {
                    self.session.handle_write_blocked();
                }
            }
            Err(e) => self.fail(Failure::Lost(e)),
        }
    }

    /// Opens [`Session::broker`] (the client's own address without a broker list): TCP, then
    /// the layer; the session's connect deadline bounds the TCP connect, and, since the
    /// session hears of the connection right after TCP, the handshakes too.
    fn open(&mut self) {
        self.conn = None;
        self.unwritten.clear();
        let broker = match self.session.broker() {
            Some(b) => b.clone(),
            None => Broker::tcp(self.host.clone(), self.port),
        };
        let deadline = self.session.poll_timeout().map(|ms| self.instant_ns(ms));
        match Tcp::connect(&broker.host, broker.port, deadline) {
            Open::Connected(tcp) => {
                let mut layer = match self.layers.start(&broker) {
                    Ok(l) => l,
                    // Checked when the client was made: not expected here.
                    Err(e) => {
                        let now = self.now_ms();
                        self.session
                            .handle_disconnected_with(now, alloc::format!("{broker}: {e}"));
                        return;
                    }
                };
                // The ClientHello or the HTTP upgrade request.
                layer.take_network(&mut self.unwritten);
                self.conn = Some(Connection { tcp, layer });
                let now = self.now_ms();
                self.session.handle_connected(now);
                self.write();
            }
            Open::Failed(e) => {
                log::warn!("connecting to {broker} failed: {e}");
                let now = self.now_ms();
                self.session.handle_disconnected_with(now, e);
            }
            // The session's deadline passed: its `handle_timeout` says so.
            Open::Deadline => {
                let now = self.now_ms();
                self.session.handle_timeout(now);
            }
        }
    }

    /// Closes the transport after writing the session's last bytes (a DISCONNECT) and the
    /// layer's goodbye (WebSocket close frame, TLS close_notify).
    fn close(&mut self) {
        if let Some(mut c) = self.conn.take() {
            c.layer.close();
            c.layer.take_network(&mut self.unwritten);
            if !self.unwritten.is_empty() {
                let _ = c.tcp.write_all(&self.unwritten);
            }
        }
        self.unwritten.clear();
    }

    /// The connection failed: the session hears why, typed when it is a handshake failure.
    fn fail(&mut self, failure: Failure) {
        self.conn = None;
        self.unwritten.clear();
        let now = self.now_ms();
        match failure {
            #[cfg(any(feature = "tls", feature = "websocket"))]
            Failure::Handshake(f, detail) => {
                log::info!("handshake failed: {f}: {detail}");
                self.session.handle_handshake_failed(now, f, detail);
            }
            Failure::Lost(error) => {
                log::info!("connection lost: {error}");
                self.session.handle_disconnected_with(now, error);
            }
        }
    }
}

/// How a layer's configuration error becomes a [`ClientError`].
trait IntoClientError {
    fn into_client_error(self, broker: Option<String>) -> ClientError;
}

impl IntoClientError for core::convert::Infallible {
    fn into_client_error(self, _broker: Option<String>) -> ClientError {
        match self {}
    }
}

#[cfg(any(feature = "tls", feature = "websocket"))]
impl IntoClientError for wasmqtt_transport::ConfigError {
    fn into_client_error(self, broker: Option<String>) -> ClientError {
        ClientError::Transport {
            broker,
            error: self,
        }
    }
}
