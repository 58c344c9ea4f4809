//! The MQTT connections of the provider, one per `client.connect` name, shared by every client
//! of that name, and the waits of the blocking `wasi:messaging` calls on them.
//!
//! WASI 0.2 calls are synchronous: a `send` returns once its publish completed, so the call
//! drives the connection (reads, writes, keep-alive, reconnection: the WASI driver) until the
//! session reports that completion. Whatever else happens meanwhile is kept for whoever waits
//! for it: other completions (only those someone waits for), responses, and the messages of
//! the subscriptions, which `messaging-consumer.receive` takes.
//!
//! **Bounds.** Inbound QoS 1/2 messages are acknowledged by the runner (the core's manual
//! acknowledgements), so the broker sends at most [`RECEIVE_MAXIMUM`] of them before their
//! acknowledgements (v5 MQTT-3.3.4-9); QoS 0 messages beyond the core's
//! [`Qos0Budget::DEFAULT_MAX`] waiting are dropped (at most once: the rule of QoS 0), and
//! counted ([`session::Qos0Budget`], the rule every driver with a queue of its own follows).

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use core::cell::RefCell;
use std::collections::HashMap;

use wasmqtt::broker::Broker;
use wasmqtt::codec::{ProtocolVersion, ReasonCode};
use wasmqtt::session::{
    self, CompletionKey, Completions, Event, Outcome, PublishId, Qos0Budget, ReceivedMessage,
    RequestId, ResponseError, ResponseId, State,
};

use crate::mapping;
use crate::Error;

/// The Receive Maximum the provider announces: the most QoS 1/2 messages the broker sends
/// before the runner acknowledged them.
pub const RECEIVE_MAXIMUM: u16 = 256;

/// How long `messaging-consumer.subscribe` waits for its SUBACK.
const SUBACK_TIMEOUT_MS: u64 = 30_000;

/// One connection, shared by the clients of its name.
pub type Shared = Rc<RefCell<Conn>>;

thread_local! {
    static CONNECTIONS: RefCell<HashMap<String, Shared>> = RefCell::new(HashMap::new());
}

/// An MQTT connection and what its waits took out of it.
pub struct Conn {
    name: String,
    /// Clients of this name not disconnected yet.
    users: usize,
    pub client: wasmqtt_wasi::Client,
    /// The messages of the subscriptions, for `receive`.
    inbox: VecDeque<ReceivedMessage>,
    /// The QoS 0 messages of the inbox, and those dropped because too many were waiting.
    qos0: Qos0Budget,
    /// The publishes and subscribes someone waits for, and their outcomes once settled.
    waiting: Completions<()>,
    settled: BTreeMap<CompletionKey, Outcome>,
    waiting_responses: BTreeSet<ResponseId>,
    responses: BTreeMap<ResponseId, Result<ReceivedMessage, ResponseError>>,
}

/// The connection of `name`: the open one, or a new one (connected before this returns).
pub fn acquire(name: &str) -> Result<Shared, Error> {
    let open = CONNECTIONS.with(|c| c.borrow().get(name).cloned());
    let conn = match open {
        Some(c) if c.borrow().client.session_ref().state() != State::Closed => c,
        _ => {
            let c = Rc::new(RefCell::new(Conn::open(name)?));
            CONNECTIONS.with(|m| m.borrow_mut().insert(name.to_string(), c.clone()));
            c
        }
    };
    conn.borrow_mut().users += 1;
    Ok(conn)
}

/// One client of the connection is gone: the last one sends DISCONNECT and closes it.
pub fn release(conn: &Shared) {
    let mut c = conn.borrow_mut();
    c.users = c.users.saturating_sub(1);
    if c.users > 0 {
        return;
    }
    if c.client.session_ref().state() != State::Closed {
        let now = c.client.now_ms();
        c.client.session().disconnect(now);
        c.client.flush();
    }
    let name = c.name.clone();
    drop(c);
    CONNECTIONS.with(|m| {
        let mut m = m.borrow_mut();
        if m.get(&name).is_some_and(|open| Rc::ptr_eq(open, conn)) {
            m.remove(&name);
        }
    });
}

/// The broker URLs of a client name (see the crate docs).
fn broker_urls(name: &str) -> Result<String, Error> {
    if name.contains("://") {
        return Ok(name.to_string());
    }
    let key: String = name
        .chars()
        .map(|c| match c.is_ascii_alphanumeric() {
            true => c.to_ascii_uppercase(),
            false => '_',
        })
        .collect();
    let var = alloc::format!("WASMQTT_BROKER_{key}");
    std::env::var(&var)
        .or_else(|_| std::env::var("WASMQTT_BROKER"))
        .map_err(|_| {
            Error::Other(alloc::format!(
                "client name '{name}' is no broker URL and neither {var} nor WASMQTT_BROKER is \
                 set (give a URL such as mqtt://host:1883, or set one of them)"
            ))
        })
}

impl Conn {
    fn open(name: &str) -> Result<Conn, Error> {
        let urls = broker_urls(name)?;
        let brokers = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(|u| {
                Broker::parse(u).map_err(|e| Error::Other(alloc::format!("broker URL '{u}': {e}")))
            })
            .collect::<Result<alloc::vec::Vec<_>, _>>()?;
        let Some(first) = brokers.first().cloned() else {
            return Err(Error::Other(alloc::format!(
                "client name '{name}': no broker URL in '{urls}'"
            )));
        };
        let client_id = std::env::var("WASMQTT_CLIENT_ID").unwrap_or_default();
        let mut opts = session::Options::new(client_id)
            .version(ProtocolVersion::V5)
            .brokers(brokers);
        opts.manual_acks = true;
        opts.receive_maximum = RECEIVE_MAXIMUM;
        let transport = transport_options();
        let client =
            wasmqtt_wasi::Client::with_transport(&first.host, first.port, opts, &transport)
                .map_err(|e| Error::Other(e.to_string()))?;
        let mut conn = Conn {
            name: name.to_string(),
            users: 0,
            client,
            inbox: VecDeque::new(),
            qos0: Qos0Budget::default(),
            waiting: Completions::new(),
            settled: BTreeMap::new(),
            waiting_responses: BTreeSet::new(),
            responses: BTreeMap::new(),
        };
        conn.client.connect().map_err(mapping::connect_error)?;
        Ok(conn)
    }

    /// Files one event of the session where its waiter (or `receive`) finds it.
    fn file(&mut self, event: Event) {
        if let Some(((), outcome)) = self.waiting.settle(&event) {
            let key = match &event {
                Event::PublishComplete { id, .. } => CompletionKey::Publish(*id),
                Event::Subscribed { id, .. }
                | Event::Unsubscribed { id, .. }
                | Event::RequestFailed { id, .. } => CompletionKey::Request(*id),
                _ => return,
            };
            self.settled.insert(key, outcome);
            return;
        }
        match event {
            Event::Message(m) => {
                if !self.qos0.admit(m.message.qos) {
                    log::warn!(
                        "{} QoS 0 messages waiting for receive: one dropped ({} in all)",
                        self.qos0.queued(),
                        self.qos0.dropped()
                    );
                    return;
                }
                self.inbox.push_back(m);
            }
            Event::Response { id, result } if self.waiting_responses.remove(&id) => {
                self.responses.insert(id, result);
            }
            Event::Disconnected { reason, .. } => log::info!("disconnected: {reason}"),
            _ => {}
        }
    }

    /// Drives the connection for at most `timeout_ms` (or until one event came) and files
    /// what came.
    fn pump(&mut self, timeout_ms: u64) {
        if let Some(e) = self.client.poll_event(timeout_ms) {
            self.file(e);
        }
    }

    /// The session closed for good: files every event it left, then says why.
    fn closed_error(&mut self) -> Option<Error> {
        if self.client.session_ref().state() != State::Closed {
            return None;
        }
        while let Some(e) = self.client.poll_event(0) {
            self.file(e);
        }
        Some(Error::Connection(
            "the connection is closed (the session ended)".to_string(),
        ))
    }

    /// Drives the connection until `done` finds what it waits for, `timeout_ms` passed
    /// (`Error::Timeout`), or the session closed (`Error::Connection`, after `done` had one more
    /// look at what the session left).
    fn wait_until<T>(
        &mut self,
        timeout_ms: u64,
        mut done: impl FnMut(&mut Conn) -> Option<T>,
    ) -> Result<T, Error> {
        let until = self.client.now_ms().saturating_add(timeout_ms);
        loop {
            if let Some(t) = done(self) {
                return Ok(t);
            }
            if let Some(e) = self.closed_error() {
                return done(self).ok_or(e);
            }
            let now = self.client.now_ms();
            if now >= until {
                return Err(Error::Timeout);
            }
            self.pump(until - now);
        }
    }

    /// Waits for publish `id` to complete (no deadline of its own: the session fails it when it
    /// closes, and keeps it queued while it reconnects).
    pub fn wait_publish(&mut self, id: PublishId) -> Result<(), Error> {
        let key = CompletionKey::Publish(id);
        self.waiting.insert_publish(id, ());
        let r = self.wait_until(u64::MAX, |c| c.settled.remove(&key));
        self.waiting.remove(key);
        match r?.into_publish_result() {
            Some(Ok(code)) if code.0 < 0x80 => Ok(()),
            Some(Ok(code)) => Err(refusal(code)),
            Some(Err(e)) => Err(mapping::publish_error(e)),
            None => Err(Error::Other("unexpected completion".to_string())),
        }
    }

    /// Waits for the SUBACK (or failure) of request `id`: its reason codes.
    pub fn wait_request(&mut self, id: RequestId) -> Result<alloc::vec::Vec<ReasonCode>, Error> {
        let key = CompletionKey::Request(id);
        self.waiting.insert_request(id, ());
        let r = self.wait_until(SUBACK_TIMEOUT_MS, |c| c.settled.remove(&key));
        self.waiting.remove(key);
        match r?.into_request_result() {
            Some(Ok(codes)) => Ok(codes),
            Some(Err(e)) => Err(mapping::request_error(e)),
            None => Err(Error::Other("unexpected completion".to_string())),
        }
    }

    /// Waits for the response of request `id` (the session owns its deadline).
    pub fn wait_response(
        &mut self,
        id: ResponseId,
    ) -> Result<Result<ReceivedMessage, ResponseError>, Error> {
        self.waiting_responses.insert(id);
        let r = self.wait_until(u64::MAX, |c| c.responses.remove(&id));
        self.waiting_responses.remove(&id);
        r
    }

    /// Waits at most `timeout_ms` for a message in the inbox; `Ok` also when none came.
    pub fn wait_inbox(&mut self, timeout_ms: u64) -> Result<(), Error> {
        match self.wait_until(timeout_ms, |c| (!c.inbox.is_empty()).then_some(())) {
            Ok(()) | Err(Error::Timeout) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Takes the next inbox message.
    pub fn take(&mut self) -> Option<ReceivedMessage> {
        let m = self.inbox.pop_front()?;
        self.qos0.release(m.message.qos);
        Some(m)
    }
}

/// A publish the broker acknowledged with a failure code.
fn refusal(code: ReasonCode) -> Error {
    mapping::refused(
        code.0,
        alloc::format!(
            "the broker refused the message: {} (0x{:02x})",
            code.name().unwrap_or("failure"),
            code.0
        ),
    )
}

/// TLS settings for `mqtts://` and `wss://`: the CA certificates (PEM) of `$WASMQTT_CA_PEM`.
fn transport_options() -> wasmqtt_wasi::transport::TransportOptions {
    let mut o = wasmqtt_wasi::transport::TransportOptions::default();
    if let Ok(pem) = std::env::var("WASMQTT_CA_PEM") {
        o.tls.ca_pem = Some(pem.into_bytes());
    }
    o
}
