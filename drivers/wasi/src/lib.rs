//! The WASI 0.2 driver: the session over `wasi:sockets` TCP, timed by `wasi:clocks` and
//! waiting through `wasi:io/poll`. Blocking, as WASI 0.2 calls are; used by the provider
//! component and by the `wasmqtt-cli` command component.
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
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod net;

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use net::{Open, Transport};
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{self, Pollable};
use wasmqtt::session::{
    ConnectionInfo, DisconnectReason, Event, Options, OptionsError, Output, Session, State,
};

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
    transport: Option<Transport>,
    epoch_ns: u64,
    /// Events the drain took out of the session, for [`Client::poll_event`].
    events: VecDeque<Event>,
    /// Bytes the session handed out that the stream did not take yet (the session is told
    /// the write is blocked while there are any).
    unwritten: Vec<u8>,
    /// The application used the session since the last drain.
    undrained: bool,
}

impl Client {
    /// A client of the broker at `host:port` (not yet opened: see [`Client::connect`]).
    ///
    /// Fails with the core's [`OptionsError`] when [`Options::validate`] refuses `options`. A
    /// `random_seed` of 0 is replaced by [`random_seed`].
    pub fn new(host: &str, port: u16, mut options: Options) -> Result<Self, OptionsError> {
        options.validate()?;
        if options.random_seed == 0 {
            options.random_seed = random_seed();
        }
        Ok(Client {
            session: Session::new(options),
            host: host.to_string(),
            port,
            transport: None,
            epoch_ns: monotonic_clock::now(),
            events: VecDeque::new(),
            unwritten: Vec::new(),
            undrained: false,
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
            self.drive(u64::MAX);
            while seen < self.events.len() {
                match &self.events[seen] {
                    Event::Connected(info) => {
                        let info = info.clone();
                        self.events.remove(seen);
                        return Ok(info);
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
            self.drive(timeout_ms);
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
                Output::Transmit(bytes) => {
                    self.unwritten.extend_from_slice(&bytes);
                    self.write();
                }
                Output::CloseTransport => self.close(),
                Output::Event(e) => self.events.push_back(e),
                Output::Wait(_) => return,
            }
        }
    }

    /// A pollable ready when [`Client::poll_event`] has something to do right away.
    pub fn ready(&self) -> Pollable {
        let due = self
            .session
            .poll_timeout()
            .is_some_and(|d| d <= self.now_ms());
        if !self.events.is_empty() || due || self.undrained {
            return monotonic_clock::subscribe_duration(0);
        }
        match &self.transport {
            Some(t) if !self.unwritten.is_empty() => t.output.subscribe(),
            Some(t) => t.input.subscribe(),
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

    /// The loop: drain the session, then wait for the socket or a deadline, until an event
    /// is queued or `timeout_ms` has passed (then what already arrived or is due is still
    /// handled, once).
    fn drive(&mut self, timeout_ms: u64) {
        let until = self.now_ms().saturating_add(timeout_ms);
        loop {
            self.flush();
            if !self.events.is_empty() {
                return;
            }
            let now = self.now_ms();
            let last = now >= until;
            let deadline = self.session.poll_timeout();
            if !last {
                let wake = deadline.map_or(until, |d| d.min(until));
                let timer = monotonic_clock::subscribe_instant(self.instant_ns(wake));
                let mut waits = alloc::vec![timer];
                if let Some(t) = &self.transport {
                    waits.push(t.input.subscribe());
                    if !self.unwritten.is_empty() {
                        waits.push(t.output.subscribe());
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

    /// Hands what arrived to the session.
    fn read(&mut self) {
        let Some(t) = &self.transport else { return };
        match t.read_available() {
            Ok(bytes) if !bytes.is_empty() => {
                let now = self.now_ms();
                self.session.handle_bytes(&bytes, now);
            }
            Ok(_) => {}
            Err(e) => self.lost(e),
        }
    }

    /// Writes what the stream takes now of `unwritten`; tells the session whether the
    /// stream is blocked.
    fn write(&mut self) {
        let Some(t) = &self.transport else {
            self.unwritten.clear();
            return;
        };
        if self.unwritten.is_empty() {
            return;
        }
        match t.write_some(&self.unwritten) {
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
            Err(e) => self.lost(e),
        }
    }

    /// Opens the transport; the session's connect deadline bounds the open.
    fn open(&mut self) {
        self.transport = None;
        self.unwritten.clear();
        let deadline = self.session.poll_timeout().map(|ms| self.instant_ns(ms));
        match Transport::connect(&self.host, self.port, deadline) {
            Open::Connected(t) => {
                self.transport = Some(t);
                let now = self.now_ms();
                self.session.handle_connected(now);
            }
            Open::Failed(e) => {
                log::warn!("connecting to {}:{} failed: {e}", self.host, self.port);
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

    /// Closes the transport after writing the session's last bytes (a DISCONNECT).
    fn close(&mut self) {
        if let Some(t) = self.transport.take() {
            if !self.unwritten.is_empty() {
                let _ = t.write_all(&self.unwritten);
            }
        }
        self.unwritten.clear();
    }

    fn lost(&mut self, error: String) {
        log::info!("connection lost: {error}");
        self.transport = None;
        self.unwritten.clear();
        let now = self.now_ms();
        self.session.handle_disconnected_with(now, error);
    }
}
