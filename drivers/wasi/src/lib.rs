//! The WASI 0.2 driver: the session over `wasi:sockets` TCP, timed by `wasi:clocks` and
//! waiting through `wasi:io/poll`. Blocking, as WASI 0.2 calls are; used by the provider
//! component and by the `wasmqtt-cli` command component.
//!
//! [`Client`] owns the session, the socket and the clock: [`Client::connect`] opens the
//! connection and waits for CONNACK, [`Client::session`] takes application requests (publish,
//! subscribe, …) and [`Client::poll_event`] runs the driver loop until the next event.
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod net;

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use net::Transport;
use thiserror::Error;
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{self, Pollable};
use wasmqtt::session::{DisconnectReason, Event, Options, Output, Session};

/// Why connecting failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConnectError {
    /// The broker refused the connection (or a transient refusal outlasted the timeout).
    #[error("{0}")]
    Refused(DisconnectReason),
    /// No CONNACK within the timeout.
    #[error("no CONNACK within the connect timeout")]
    Timeout,
    /// Name lookup, TCP connect, or the host's network policy failed.
    #[error("network: {0}")]
    Network(String),
}

/// An MQTT client driven over WASI: owns the session, the socket and the clock.
pub struct Client {
    session: Session,
    host: String,
    port: u16,
    transport: Option<Transport>,
    epoch_ns: u64,
    events: VecDeque<Event>,
    last_network_error: Option<String>,
    /// Bytes taken from the session that the stream did not take yet.
    unwritten: alloc::vec::Vec<u8>,
}

impl Client {
    /// A client of the broker at `host:port` (not yet opened: see [`Client::connect`]).
    pub fn new(host: &str, port: u16, options: Options) -> Self {
        Client {
            session: Session::new(options),
            host: host.to_string(),
            port,
            transport: None,
            epoch_ns: monotonic_clock::now(),
            events: VecDeque::new(),
            last_network_error: None,
            unwritten: alloc::vec::Vec::new(),
        }
    }

    /// Milliseconds since the connection was made, from the monotonic clock.
    pub fn now_ms(&self) -> u64 {
        monotonic_clock::now().saturating_sub(self.epoch_ns) / 1_000_000
    }

    /// The session, for publish / subscribe / unsubscribe / disconnect. Whatever those calls
    /// produce is written by the next [`Client::poll_event`] or [`Client::flush`].
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Connects and waits for CONNACK (at most `timeout_ms`). Events other than the
    /// connection's own stay queued for [`Client::poll_event`].
    pub fn connect(
        &mut self,
        timeout_ms: u64,
    ) -> Result<wasmqtt::session::ConnectionInfo, ConnectError> {
        let now = self.now_ms();
        self.session.connect(now);
        let until = now.saturating_add(timeout_ms);
        loop {
            let remaining = until.saturating_sub(self.now_ms());
            match self.drive(remaining) {
                Some(Event::Connected(info)) => return Ok(info),
                Some(Event::Disconnected { reason, .. }) => {
                    return Err(match reason {
                        DisconnectReason::ConnectionLost => ConnectError::Network(
                            self.last_network_error
                                .clone()
                                .unwrap_or_else(|| "connection lost".to_string()),
                        ),
                        DisconnectReason::ConnectTimeout => ConnectError::Timeout,
                        r => ConnectError::Refused(r),
                    })
                }
                Some(other) => self.events.push_back(other),
                None => return Err(ConnectError::Timeout),
            }
        }
    }

    /// Makes progress and returns the next event, waiting at most `timeout_ms` for one.
    pub fn poll_event(&mut self, timeout_ms: u64) -> Option<Event> {
        if let Some(e) = self.events.pop_front() {
            return Some(e);
        }
        self.drive(timeout_ms)
    }

    /// Writes what the session produced as far as the stream takes it without waiting. While
    /// an earlier write is still in progress the bytes stay with the session, so messages
    /// published in a burst go out together; [`Client::poll_event`] writes the rest.
    pub fn flush(&mut self) {
        if self.transport.is_none() || !self.unwritten.is_empty() && !self.write_unwritten() {
            return;
        }
        if let Some(bytes) = self.session.poll_transmit() {
            self.unwritten = bytes;
            self.write_unwritten();
        }
    }

    /// Writes everything the session produced, waiting for the stream as long as it takes (for
    /// a DISCONNECT and what precedes it), and handles what is already due.
    pub fn flush_all(&mut self) {
        if let Some(e) = self.drive(0) {
            self.events.push_back(e);
        }
    }

    /// Like [`Client::flush`], but only once at least `threshold` bytes are waiting: a
    /// burst of small publishes then costs one write instead of one each. What stays behind
    /// goes out with the next [`Client::poll_event`].
    pub fn flush_batched(&mut self, threshold: usize) {
        if self.session.pending_write_bytes() >= threshold {
            self.flush();
        }
    }

    /// Writes what it can of `unwritten` without waiting; true when all of it went.
    fn write_unwritten(&mut self) -> bool {
        let Some(t) = &self.transport else {
            return false;
        };
        match t.write_some(&self.unwritten) {
            Ok(n) => {
                self.unwritten.drain(..n);
                self.unwritten.is_empty()
            }
            Err(e) => {
                self.lost(e);
                false
            }
        }
    }

    /// The last network failure (lookup, connect, read, write), for error messages.
    pub fn last_network_error(&self) -> Option<&str> {
        self.last_network_error.as_deref()
    }

    /// A pollable ready when [`Client::poll_event`] has something to do right away.
    pub fn ready(&self) -> Pollable {
        let due = self
            .session
            .poll_timeout()
            .is_some_and(|d| d <= self.now_ms());
        if !self.events.is_empty()
            || due
            || self.session.pending_write_bytes() > 0
            || !self.unwritten.is_empty()
        {
            return monotonic_clock::subscribe_duration(0);
        }
        match &self.transport {
            Some(t) => t.input.subscribe(),
            // Not connected and nothing due: never ready by itself; the deadline says when.
            None => monotonic_clock::subscribe_duration(u64::MAX),
        }
    }

    /// The monotonic-clock instant (ns) of the session's next deadline.
    pub fn next_deadline_ns(&self) -> Option<u64> {
        self.session
            .poll_timeout()
            .map(|ms| self.epoch_ns.saturating_add(ms.saturating_mul(1_000_000)))
    }

    /// The driver loop: perform outputs, and wait for input or deadlines until an event
    /// comes out or `timeout_ms` has passed.
    fn drive(&mut self, timeout_ms: u64) -> Option<Event> {
        let until = self.now_ms().saturating_add(timeout_ms);
        // Rounds of catching up once `until` has passed: bounded, so a call never spins.
        let mut catch_up = 0u32;
        loop {
            if !self.unwritten.is_empty() {
                let bytes = core::mem::take(&mut self.unwritten);
                let failed = self
                    .transport
                    .as_ref()
                    .and_then(|t| t.write_all(&bytes).err());
                if let Some(e) = failed {
                    self.lost(e);
                }
            }
            let deadline = loop {
                match self.session.poll_output() {
                    Output::OpenTransport => self.open(),
                    Output::Transmit(bytes) => {
                        let failed = match &self.transport {
                            Some(t) => t.write_all(&bytes).err(),
                            None => None,
                        };
                        if let Some(e) = failed {
                            self.lost(e);
                        }
                    }
                    Output::CloseTransport => self.transport = None,
                    Output::Event(e) => return Some(e),
                    Output::Wait(d) => break d,
                }
            };
            let now = self.now_ms();
            if now >= until {
                // No more waiting, but take what already arrived and what is already due.
                let mut progressed = false;
                if let Some(t) = &self.transport {
                    match t.read_available() {
                        Ok(bytes) if !bytes.is_empty() => {
                            self.session.handle_bytes(&bytes, now);
                            progressed = true;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            self.lost(e);
                            progressed = true;
                        }
                    }
                }
                if deadline.is_some_and(|d| d <= now) {
                    self.session.handle_timeout(now);
                    progressed = true;
                }
                catch_up += 1;
                if !progressed || catch_up > 64 {
                    return None;
                }
                continue;
            }
            let wake = deadline.map_or(until, |d| d.min(until));
            let timer =
                monotonic_clock::subscribe_instant(self.epoch_ns + wake.saturating_mul(1_000_000));
            let readable = self.transport.as_ref().map(|t| t.input.subscribe());
            let mut list: alloc::vec::Vec<&Pollable> = alloc::vec![&timer];
            if let Some(r) = &readable {
                list.push(r);
            }
            poll::poll(&list);
            drop(readable);
            drop(timer);
            let now = self.now_ms();
            if let Some(t) = &self.transport {
                match t.read_available() {
                    Ok(bytes) if !bytes.is_empty() => self.session.handle_bytes(&bytes, now),
                    Ok(_) => {}
                    Err(e) => self.lost(e),
                }
            }
            self.session.handle_timeout(self.now_ms());
        }
    }

    fn open(&mut self) {
        self.transport = None;
        self.unwritten.clear();
        match Transport::connect(&self.host, self.port) {
            Ok(t) => {
                self.transport = Some(t);
                let now = self.now_ms();
                self.session.handle_connected(now);
            }
            Err(e) => {
                log::warn!("connecting to {}:{} failed: {e}", self.host, self.port);
                self.last_network_error = Some(e);
                let now = self.now_ms();
                self.session.handle_disconnected(now);
            }
        }
    }

    fn lost(&mut self, error: String) {
        log::info!("connection lost: {error}");
        self.last_network_error = Some(error);
        self.transport = None;
        self.unwritten.clear();
        let now = self.now_ms();
        self.session.handle_disconnected(now);
    }
}
