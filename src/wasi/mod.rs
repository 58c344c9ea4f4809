//! The WASI 0.2 driver: the session over `wasi:sockets` TCP, timed by `wasi:clocks` and
//! waiting through `wasi:io/poll`. Blocking, as WASI 0.2 calls are; used by the provider
//! component and by the `wasmqtt-cli` command component.

mod net;

use crate::session::{DisconnectReason, Event, Options, Output, Session};
use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use net::Transport;
use thiserror::Error;
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll::{self, Pollable};

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

/// One MQTT connection driven over WASI: owns the session, the socket and the clock.
pub struct Connection {
    session: Session,
    host: String,
    port: u16,
    transport: Option<Transport>,
    epoch_ns: u64,
    events: VecDeque<Event>,
    last_network_error: Option<String>,
}

impl Connection {
    /// A connection to `host:port` (not yet opened: see [`Connection::connect`]).
    pub fn new(host: &str, port: u16, options: Options) -> Self {
        Connection {
            session: Session::new(options),
            host: host.to_string(),
            port,
            transport: None,
            epoch_ns: monotonic_clock::now(),
            events: VecDeque::new(),
            last_network_error: None,
        }
    }

    /// Milliseconds since the connection was made, from the monotonic clock.
    pub fn now_ms(&self) -> u64 {
        monotonic_clock::now().saturating_sub(self.epoch_ns) / 1_000_000
    }

    /// The session, for publish / subscribe / unsubscribe / disconnect. Whatever those calls
    /// produce is written by the next [`Connection::poll_event`] or [`Connection::flush`].
    pub fn session(&mut self) -> &mut Session {
        &mut self.session
    }

    /// Connects and waits for CONNACK (at most `timeout_ms`). Events other than the
    /// connection's own stay queued for [`Connection::poll_event`].
    pub fn connect(&mut self, timeout_ms: u64) -> Result<crate::session::ConnectionInfo, ConnectError> {
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

    /// Writes what the session produced, without waiting for anything else.
    pub fn flush(&mut self) {
        if let Some(e) = self.drive(0) {
            self.events.push_back(e);
        }
    }

    /// The last network failure (lookup, connect, read, write), for error messages.
    pub fn last_network_error(&self) -> Option<&str> {
        self.last_network_error.as_deref()
    }

    /// A pollable ready when [`Connection::poll_event`] has something to do right away.
    pub fn ready(&self) -> Pollable {
        let due = self
            .session
            .poll_timeout()
            .is_some_and(|d| d <= self.now_ms());
        if !self.events.is_empty() || due || self.session.pending_write_bytes() > 0 {
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
        loop {
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
                return None;
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
        let now = self.now_ms();
        self.session.handle_disconnected(now);
    }
}
