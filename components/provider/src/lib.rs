//! The provider component: exports `wasmqtt:mqtt/client` (wit/mqtt.wit) on top of the WASI
//! driver. Everything here converts between WIT values and the core's types; the protocol
//! lives in the session.
//!
//! Broker URLs (`connect-options.brokers`) are parsed by the core's `Broker::parse` into
//! `Options::brokers` (the session's failover list) and the `tls-options` files read through
//! `wasi:filesystem` into `wasmqtt-transport`'s options (module `endpoints`); the WASI driver
//! opens the broker the session names. `connection-info.broker` is the core's
//! `ConnectionInfo::broker`.
//!
//! Features (both on by default): `tls` (`mqtts://`, `wss://`) and `websocket` (`ws://`,
//! `wss://`); a broker whose scheme this build lacks fails `connect` with `unsupported`.
//! `webpki-roots` adds Mozilla's roots for `connect-options` without a CA.
//!
//! Durable state (feature `durable`, on by default): `connect-options.store` opens the WASI
//! driver's `FileStore` in the directory named (it must lie in a directory the host granted
//! read-write) and resumes the session it holds; `publish` of a QoS 1/2 message then returns
//! once the message is in the store. `manual-acks` and `client.ack` are the core's manual
//! acknowledgement (`Options::manual_acks`, `Session::ack`).
//!
//! Built with `cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider` (the TLS
//! and WebSocket build; `--no-default-features` for the plain one) into
//! `target/wasm32-wasip2/wasm/wasmqtt_provider.wasm`.

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;
use wasmqtt::codec::{
    PacketType, ProtocolVersion, QoS, ReasonCode, RetainHandling, SubscriptionOptions,
};
use wasmqtt::session::{
    self, BoxedProperties, DisconnectReason, Event as CoreEvent, Message as CoreMessage,
    MessageProperties, OptionsError, PublishError, ReconnectPolicy, RequestError, ResponseError,
};

wit_bindgen::generate!({
    path: "../../wit",
    world: "provider",
    with: {
        "wasi:io/poll@0.2.12": wasip2::io::poll,
    },
});

use exports::wasmqtt::mqtt::client::{Client, Guest, GuestClient, Pollable};
use exports::wasmqtt::mqtt::types as t;

mod endpoints;
use endpoints::Endpoints;

struct Provider;

impl Guest for Provider {
    type Client = ClientResource;
}

/// The `client` resource: one connection and its session.
struct ClientResource {
    conn: RefCell<wasmqtt_wasi::Client>,
    /// The last connection's info (`connection-info`), updated by every `connected` event.
    info: RefCell<t::ConnectionInfo>,
}

fn connection_info(info: session::ConnectionInfo) -> t::ConnectionInfo {
    t::ConnectionInfo {
        session_present: info.session_present,
        assigned_client_id: info.assigned_client_id,
        keep_alive_secs: info.keep_alive,
        inflight_window: info.inflight_window,
        broker: info.broker.map(|b| b.to_string()),
    }
}

/// The driver's refusal of the brokers or the transport options.
fn client_error(e: wasmqtt_wasi::ClientError) -> t::Error {
    match e {
        wasmqtt_wasi::ClientError::Options(e) => options_error(e),
        e @ wasmqtt_wasi::ClientError::Unsupported { .. } => t::Error::Unsupported(e.to_string()),
        #[cfg(feature = "durable")]
        wasmqtt_wasi::ClientError::Store(e) => store_error(&e),
        #[cfg(feature = "durable")]
        wasmqtt_wasi::ClientError::Resume(e) => t::Error::Store(t::StoreError {
            code: e.code().to_string(),
            detail: e.to_string(),
        }),
        e => t::Error::InvalidArgument(e.to_string()),
    }
}

#[cfg(feature = "durable")]
fn store_error(e: &wasmqtt_wasi::StoreError) -> t::Error {
    t::Error::Store(t::StoreError {
        code: e.code().to_string(),
        detail: e.to_string(),
    })
}

fn ack_error(e: session::AckError) -> t::Error {
    t::Error::Ack(match e {
        session::AckError::AlreadyAcked => t::AckError::AlreadyAcked,
        session::AckError::ConnectionLost => t::AckError::ConnectionLost,
        _ => t::AckError::Unknown,
    })
}

fn message_out(m: CoreMessage, ack_id: Option<u64>) -> t::Message {
    t::Message {
        topic: m.topic,
        payload: m.payload,
        qos: wit_qos(m.qos),
        retain: m.retain,
        properties: props_out(m.properties),
        ack_id,
    }
}

fn qos(q: t::Qos) -> QoS {
    match q {
        t::Qos::AtMostOnce => QoS::AtMostOnce,
        t::Qos::AtLeastOnce => QoS::AtLeastOnce,
        t::Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn wit_qos(q: QoS) -> t::Qos {
    match q {
        QoS::AtMostOnce => t::Qos::AtMostOnce,
        QoS::AtLeastOnce => t::Qos::AtLeastOnce,
        QoS::ExactlyOnce => t::Qos::ExactlyOnce,
    }
}

fn props_in(p: Option<t::MessageProperties>) -> MessageProperties {
    let Some(p) = p else {
        return MessageProperties::default();
    };
    MessageProperties {
        payload_format_indicator: p.payload_format_utf8,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p.content_type,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data,
        user_properties: p
            .user_properties
            .into_iter()
            .map(|u| (u.key, u.value))
            .collect(),
        subscription_identifiers: p.subscription_identifiers,
    }
}

fn props_out(p: BoxedProperties) -> Option<t::MessageProperties> {
    if p.is_empty() {
        return None;
    }
    let p = p.into_inner();
    Some(t::MessageProperties {
        payload_format_utf8: p.payload_format_indicator,
        message_expiry_interval: p.message_expiry_interval,
        content_type: p.content_type,
        response_topic: p.response_topic,
        correlation_data: p.correlation_data,
        user_properties: p
            .user_properties
            .into_iter()
            .map(|(key, value)| t::UserProperty { key, value })
            .collect(),
        subscription_identifiers: p.subscription_identifiers,
    })
}

fn reason(code: ReasonCode) -> t::Reason {
    t::Reason {
        code: code.0,
        text: code.name().unwrap_or("unknown").to_string(),
    }
}

fn publish_error(e: PublishError) -> t::Error {
    match e {
        PublishError::InvalidTopic(e) => t::Error::InvalidTopic(e.to_string()),
        PublishError::QueueFull { .. } => t::Error::QueueFull,
        PublishError::WouldBlock => t::Error::WouldBlock,
        PublishError::TooLarge(e) => t::Error::TooLarge(e.to_string()),
        PublishError::Rejected(code) => t::Error::Refused(reason(code)),
        PublishError::SessionClosed => t::Error::Closed,
        e => t::Error::InvalidArgument(e.to_string()),
    }
}

/// The core's [`OptionsError`], by its [`code`](OptionsError::code): `INVALID_TOPIC` is
/// `invalid-topic`, `INVALID_ARGUMENT` is `invalid-argument`; the text is the core's.
fn options_error(e: OptionsError) -> t::Error {
    match e.code() {
        "INVALID_TOPIC" => t::Error::InvalidTopic(e.to_string()),
        _ => t::Error::InvalidArgument(e.to_string()),
    }
}

/// A CONNACK refusal in the WIT terms: the broker's reason string, or else the code's name as
/// `version` names it (a 3.1.1 return code with its 3.1.1 meaning, v3.1.1 §3.2.2.3).
fn refusal(code: ReasonCode, version: ProtocolVersion, text: Option<String>) -> t::Reason {
    t::Reason {
        code: code.0,
        text: text.unwrap_or_else(|| {
            code.name_for(version, PacketType::ConnAck)
                .unwrap_or("refused")
                .to_string()
        }),
    }
}

/// Why the first connection failed, from the session's reason.
fn connect_error(reason: DisconnectReason) -> t::Error {
    match reason {
        DisconnectReason::Transport(text) => t::Error::Network(text),
        DisconnectReason::ConnectionLost => t::Error::Network(reason.to_string()),
        DisconnectReason::ConnectTimeout => t::Error::Timeout,
        DisconnectReason::Refused {
            code,
            version,
            reason: text,
        } => t::Error::Refused(refusal(code, version, text)),
        DisconnectReason::Handshake { failure, detail } => {
            t::Error::Handshake(t::HandshakeFailure {
                code: failure.code().to_string(),
                detail,
            })
        }
        other => t::Error::Protocol(other.to_string()),
    }
}

fn request_error(e: RequestError) -> t::Error {
    match e {
        RequestError::InvalidFilter(e) => t::Error::InvalidFilter(e.to_string()),
        RequestError::QueueFull => t::Error::QueueFull,
        RequestError::SessionClosed => t::Error::Closed,
        e => t::Error::InvalidArgument(e.to_string()),
    }
}

/// A request/response refusal or failure in the WIT `error` terms.
fn response_error(e: ResponseError) -> t::Error {
    match e {
        ResponseError::SessionClosed => t::Error::Closed,
        ResponseError::Timeout(_) => t::Error::Timeout,
        ResponseError::NotSupportedInV311 => t::Error::Unsupported(e.to_string()),
        ResponseError::Publish(e) => publish_error(e),
        ResponseError::SubscriptionRefused(code) => t::Error::Refused(reason(code)),
        ResponseError::InvalidResponseTopic { .. } => t::Error::InvalidTopic(e.to_string()),
        ResponseError::TooMany => t::Error::QueueFull,
        e => t::Error::InvalidArgument(e.to_string()),
    }
}

fn message_in(m: t::Message) -> CoreMessage {
    CoreMessage {
        topic: m.topic,
        payload: m.payload,
        qos: qos(m.qos),
        retain: m.retain,
        properties: props_in(m.properties).into(),
    }
}

fn disconnect_info(reason: &DisconnectReason, will_reconnect: bool) -> t::DisconnectInfo {
    let reason_code = match reason {
        DisconnectReason::Refused { code, .. } | DisconnectReason::ByServer { code, .. } => {
            Some(code.0)
        }
        DisconnectReason::ProtocolError(v) => Some(v.reason_code().0),
        _ => None,
    };
    t::DisconnectInfo {
        reason: reason.to_string(),
        code: reason.code().to_string(),
        reason_code,
        will_reconnect,
    }
}

fn event_out(e: CoreEvent) -> Option<t::Event> {
    Some(match e {
        CoreEvent::Connected(info) => t::Event::Connected(connection_info(*info)),
        CoreEvent::Disconnected {
            reason,
            reconnect_at,
        } => t::Event::Disconnected(disconnect_info(&reason, reconnect_at.is_some())),
        CoreEvent::Message(m) => t::Event::Message(message_out(m.message, m.ack.map(|a| a.0))),
        CoreEvent::PublishComplete { id, result } => t::Event::PublishComplete((
            id.0,
            match result {
                Ok(code) => t::Delivery::Acknowledged(code.0),
                Err(e) => t::Delivery::Failed(publish_error(e)),
            },
        )),
        CoreEvent::Subscribed { id, reason_codes } => {
            t::Event::Subscribed((id.0, reason_codes.iter().map(|c| c.0).collect()))
        }
        CoreEvent::Unsubscribed { id, reason_codes } => {
            t::Event::Unsubscribed((id.0, reason_codes.iter().map(|c| c.0).collect()))
        }
        CoreEvent::RequestFailed { id, error } => {
            t::Event::RequestFailed((id.0, request_error(error)))
        }
        CoreEvent::Response { id, result } => t::Event::Response((
            id.0,
            match result {
                Ok(m) => t::ResponseOutcome::Response(message_out(m.message, None)),
                Err(ResponseError::Timeout(_)) => t::ResponseOutcome::Timeout,
                Err(e) => t::ResponseOutcome::Failed(response_error(e)),
            },
        )),
        // Internal or v5-auth events have no WIT form yet.
        _ => return None,
    })
}

/// The core's options from the WIT record; the core checks them ([`session::Options::validate`]
/// in [`wasmqtt_wasi::Client::new`]). The broker fields are [`Endpoints`]'.
fn options(o: &t::ConnectOptions) -> Result<session::Options, t::Error> {
    let mut opts = session::Options::new(o.client_id.clone())
        .version(match o.protocol {
            t::ProtocolVersion::V311 => wasmqtt::codec::ProtocolVersion::V311,
            t::ProtocolVersion::V5 => wasmqtt::codec::ProtocolVersion::V5,
        })
        .keep_alive(o.keep_alive_secs)
        .clean_start(o.clean_start);
    opts.username = o.username.clone();
    opts.password = o.password.clone();
    opts.session_expiry_interval = o.session_expiry_interval;
    if let Some(w) = &o.will {
        let mut will = session::LastWill::new(w.topic.clone(), w.payload.clone())
            .qos(qos(w.qos))
            .retain(w.retain);
        will.delay_interval = w.delay_interval;
        will.properties = props_in(w.properties.clone());
        opts.will = Some(will);
    }
    if let Some(r) = o.reconnect {
        opts.reconnect = ReconnectPolicy {
            enabled: r.enabled,
            initial_delay_ms: r.initial_delay_ms,
            max_delay_ms: r.max_delay_ms,
            multiplier: r.multiplier,
            jitter_percent: r.jitter_percent,
        };
    }
    if let Some(n) = o.max_inflight {
        opts.max_inflight = n;
    }
    if let Some(n) = o.max_queued_messages {
        opts.max_queued_messages = n as usize;
    }
    if let Some(ms) = o.connect_timeout_ms {
        opts.connect_timeout_ms = ms;
    }
    if let Some(n) = o.topic_alias_maximum {
        opts.topic_alias_maximum = n;
    }
    opts.manual_acks = o.manual_acks.unwrap_or(false);
    Ok(opts)
}

impl GuestClient for ClientResource {
    fn connect(o: t::ConnectOptions) -> Result<Client, t::Error> {
        // Everything is checked before anything is sent: URLs, files, then what this build
        // can reach.
        let endpoints = Endpoints::from_options(&o)?;
        // The session fails over across the brokers and uses a URL's credentials itself.
        let opts = options(&o)?.brokers(endpoints.brokers.iter().cloned());
        let first = &endpoints.brokers[0];
        #[cfg(any(feature = "tls", feature = "websocket"))]
        let conn = wasmqtt_wasi::Client::with_transport(
            &first.host,
            first.port,
            opts,
            &endpoints.transport_options(),
        );
        #[cfg(not(any(feature = "tls", feature = "websocket")))]
        let conn = wasmqtt_wasi::Client::new(&first.host, first.port, opts);
        let mut conn = conn.map_err(client_error)?;
        if let Some(store) = &o.store {
            conn = durable(conn, store)?;
        }
        let info = conn.connect().map_err(connect_error)?;
        Ok(Client::new(ClientResource {
            conn: RefCell::new(conn),
            info: RefCell::new(connection_info(info)),
        }))
    }

    fn publish(&self, m: t::Message) -> Result<t::DeliveryId, t::Error> {
        let mut conn = self.conn.borrow_mut();
        let now = conn.now_ms();
        let (id, stored) = publish_one(&mut conn, message_in(m), now)?;
        // With a store, admitted once its record is stored (synced as the policy says).
        if stored {
            store_now(&mut conn)?;
        }
        Ok(id)
    }

    fn publish_batch(&self, messages: Vec<t::Message>) -> Vec<Result<t::DeliveryId, t::Error>> {
        let mut conn = self.conn.borrow_mut();
        let mut messages = messages.into_iter();
        publish_each(&mut conn, messages.len(), |conn, now| {
            let m = messages.next().expect("one message per index");
            publish_one(conn, message_in(m), now)
        })
    }

    fn publish_packed(
        &self,
        topic: String,
        payloads: Vec<u8>,
        lengths: Vec<u32>,
        qos_: t::Qos,
        retain: bool,
        properties: Option<t::MessageProperties>,
    ) -> Vec<Result<t::DeliveryId, t::Error>> {
        let total: u64 = lengths.iter().map(|&n| u64::from(n)).sum();
        if total != payloads.len() as u64 {
            let e = t::Error::InvalidArgument(alloc::format!(
                "publish-packed: the lengths add up to {total} bytes, the payloads hold {}",
                payloads.len()
            ));
            return lengths.iter().map(|_| Err(e.clone())).collect();
        }
        let mut conn = self.conn.borrow_mut();
        // One message, its payload replaced each time: the session copies it only when it
        // keeps it (QoS 1/2, or queued).
        let mut msg = CoreMessage {
            topic,
            payload: Vec::new(),
            qos: qos(qos_),
            retain,
            properties: props_in(properties).into(),
        };
        let mut rest = &payloads[..];
        let mut lengths = lengths.iter();
        publish_each(&mut conn, lengths.len(), |conn, now| {
            let n = *lengths.next().expect("one length per index") as usize;
            let (payload, after) = rest.split_at(n);
            rest = after;
            msg.payload.clear();
            msg.payload.extend_from_slice(payload);
            publish_ref(conn, &msg, now)
        })
    }

    fn subscribe(
        &self,
        subscriptions: Vec<t::Subscription>,
        subscription_id: Option<u32>,
    ) -> Result<t::RequestId, t::Error> {
        let filters: Vec<(String, SubscriptionOptions)> = subscriptions
            .into_iter()
            .map(|s| {
                (
                    s.filter,
                    SubscriptionOptions {
                        qos: qos(s.qos),
                        no_local: s.no_local,
                        retain_as_published: s.retain_as_published,
                        retain_handling: match s.retain_handling {
                            t::RetainHandling::SendAtSubscribe => RetainHandling::SendAtSubscribe,
                            t::RetainHandling::SendIfNew => RetainHandling::SendIfNew,
                            t::RetainHandling::DoNotSend => RetainHandling::DoNotSend,
                        },
                    },
                )
            })
            .collect();
        let mut conn = self.conn.borrow_mut();
        let now = conn.now_ms();
        let id = conn
            .session()
            .subscribe(filters, subscription_id, now)
            .map_err(request_error)?;
        conn.flush();
        Ok(id.0)
    }

    fn unsubscribe(&self, filters: Vec<String>) -> Result<t::RequestId, t::Error> {
        let mut conn = self.conn.borrow_mut();
        let now = conn.now_ms();
        let id = conn
            .session()
            .unsubscribe(filters, now)
            .map_err(request_error)?;
        conn.flush();
        Ok(id.0)
    }

    fn request(&self, message: t::Message, timeout_ms: u64) -> Result<t::ResponseId, t::Error> {
        let mut conn = self.conn.borrow_mut();
        let now = conn.now_ms();
        let id = conn
            .session()
            .request(message_in(message), timeout_ms, now)
            .map_err(response_error)?;
        conn.flush();
        Ok(id.0)
    }

    fn respond(&self, request: t::Message, payload: Vec<u8>) -> Result<t::DeliveryId, t::Error> {
        let mut conn = self.conn.borrow_mut();
        let now = conn.now_ms();
        let request = session::ReceivedMessage {
            message: message_in(request),
            dup: false,
            ack: None,
        };
        let id = conn
            .session()
            .respond(&request, payload, now)
            .map_err(response_error)?;
        conn.flush();
        Ok(id.0)
    }

    fn poll_event(&self, timeout_ms: u64) -> Result<Option<t::Event>, t::Error> {
        let mut conn = self.conn.borrow_mut();
        // A failed store admits nothing more: the application hears why.
        #[cfg(feature = "durable")]
        if let Some(e) = conn.store_error() {
            return Err(store_error(e));
        }
        self.next_event(&mut conn, timeout_ms)
    }

    fn poll_events(&self, max: u32, timeout_ms: u64) -> Result<Vec<t::Event>, t::Error> {
        let mut conn = self.conn.borrow_mut();
        #[cfg(feature = "durable")]
        if let Some(e) = conn.store_error() {
            return Err(store_error(e));
        }
        let max = max.max(1) as usize;
        let mut events = Vec::new();
        // The first waits up to the timeout; the rest only take what is ready.
        let mut wait = timeout_ms;
        while events.len() < max {
            match self.next_event(&mut conn, wait) {
                Ok(Some(e)) => events.push(e),
                Ok(None) => break,
                // Closed with every event delivered: `closed` only when there is none.
                Err(e) if events.is_empty() => return Err(e),
                Err(_) => break,
            }
            wait = 0;
        }
        Ok(events)
    }

    fn ready(&self) -> Pollable {
        self.conn.borrow().ready()
    }

    fn next_deadline(&self) -> Option<u64> {
        self.conn.borrow().next_deadline_ns()
    }

    fn is_connected(&self) -> bool {
        self.conn.borrow().session_ref().is_connected()
    }

    fn connection_info(&self) -> t::ConnectionInfo {
        self.info.borrow().clone()
    }

    fn ack(&self, id: t::AckId) -> Result<(), t::Error> {
        let mut conn = self.conn.borrow_mut();
        let now = conn.now_ms();
        conn.session()
            .ack(session::AckId(id), now)
            .map_err(ack_error)?;
        // Written now (after the store, for a QoS 2 one): an acknowledgement left waiting
        // behind a burst of queued events would be lost by a crash, and the broker would send
        // the message again although the application was done with it.
        conn.flush();
        Ok(())
    }

    fn resumed(&self) -> Vec<(t::DeliveryId, t::Message)> {
        resumed(&self.conn.borrow())
    }

    fn disconnect(&self) -> Result<(), t::Error> {
        let mut conn = self.conn.borrow_mut();
        if conn.session_ref().state() == session::State::Closed {
            return Err(t::Error::Closed);
        }
        let now = conn.now_ms();
        conn.session().disconnect(now);
        conn.flush();
        Ok(())
    }
}

/// `count` publishes in one call (`publish-batch`, `publish-packed`): `one(conn, now)` makes
/// each, in order. Once flow control refuses one, the rest get the same error without being
/// tried, so what is admitted keeps its order; with a store, the admitted QoS 1/2 records are
/// stored together before the call returns (a store failure is the error of each of them).
fn publish_each(
    conn: &mut wasmqtt_wasi::Client,
    count: usize,
    mut one: impl FnMut(&mut wasmqtt_wasi::Client, u64) -> Result<(t::DeliveryId, bool), t::Error>,
) -> Vec<Result<t::DeliveryId, t::Error>> {
    // One clock read for the batch: the calls take microseconds, deadlines milliseconds.
    let now = conn.now_ms();
    let mut results = Vec::with_capacity(count);
    let mut any_stored = false;
    let mut stored = Vec::new();
    let mut refused: Option<t::Error> = None;
    for _ in 0..count {
        // Flow control refused one: the rest wait too, so the admitted keep their order.
        if let Some(e) = &refused {
            results.push(Err(e.clone()));
            continue;
        }
        match one(conn, now) {
            Ok((id, s)) => {
                any_stored |= s;
                stored.push(s);
                results.push(Ok(id));
            }
            Err(e) => {
                if matches!(e, t::Error::QueueFull | t::Error::WouldBlock) {
                    refused = Some(e.clone());
                }
                stored.push(false);
                results.push(Err(e));
            }
        }
    }
    if any_stored {
        if let Err(e) = store_now(conn) {
            for (r, s) in results.iter_mut().zip(&stored) {
                if *s {
                    *r = Err(e.clone());
                }
            }
        }
    }
    results
}

/// One publish: the core's message (moved from the WIT one, not copied), handed to the
/// session; written once the session holds a full batch (or at the next `poll-event`). The
/// id, and whether the message goes to the store.
fn publish_one(
    conn: &mut wasmqtt_wasi::Client,
    msg: CoreMessage,
    now: u64,
) -> Result<(t::DeliveryId, bool), t::Error> {
    let stored = msg.qos != QoS::AtMostOnce && conn.session_ref().is_durable();
    let id = conn.session().publish(msg, now).map_err(publish_error)?;
    coalesced_flush(conn);
    Ok((id.0, stored))
}

/// [`publish_one`] of a message the caller keeps (`Session::publish_ref`: copied only if the
/// session keeps it).
fn publish_ref(
    conn: &mut wasmqtt_wasi::Client,
    msg: &CoreMessage,
    now: u64,
) -> Result<(t::DeliveryId, bool), t::Error> {
    let stored = msg.qos != QoS::AtMostOnce && conn.session_ref().is_durable();
    let id = conn
        .session()
        .publish_ref(msg, now)
        .map_err(publish_error)?;
    coalesced_flush(conn);
    Ok((id.0, stored))
}

/// Coalesces a burst: writes once the session holds a full batch (or at `poll-event`).
fn coalesced_flush(conn: &mut wasmqtt_wasi::Client) {
    if conn.session_ref().transmit_ready() {
        conn.flush();
    }
}

/// Opens the store of `connect-options.store` and resumes its session.
#[cfg(feature = "durable")]
fn durable(
    conn: wasmqtt_wasi::Client,
    store: &t::StoreOptions,
) -> Result<wasmqtt_wasi::Client, t::Error> {
    let policy = match store.sync {
        t::SyncPolicy::EveryMessage => session::SyncPolicy::EveryMessage,
        t::SyncPolicy::Batched(b) => {
            if b.max_messages == 0 {
                return Err(t::Error::InvalidArgument(
                    "store.sync: batched max-messages must be at least 1".to_string(),
                ));
            }
            session::SyncPolicy::Batched {
                max_messages: b.max_messages as usize,
                max_delay_ms: b.max_delay_ms,
            }
        }
    };
    conn.durable(&store.path, policy).map_err(client_error)
}

#[cfg(not(feature = "durable"))]
fn durable(
    _conn: wasmqtt_wasi::Client,
    _store: &t::StoreOptions,
) -> Result<wasmqtt_wasi::Client, t::Error> {
    Err(t::Error::Unsupported(
        "connect-options.store: this build has no durable state (built without the `durable` feature)"
            .to_string(),
    ))
}

#[cfg(feature = "durable")]
fn store_now(conn: &mut wasmqtt_wasi::Client) -> Result<(), t::Error> {
    conn.store_now().map_err(store_error)
}

#[cfg(not(feature = "durable"))]
fn store_now(_conn: &mut wasmqtt_wasi::Client) -> Result<(), t::Error> {
    Ok(())
}

#[cfg(feature = "durable")]
fn resumed(conn: &wasmqtt_wasi::Client) -> Vec<(t::DeliveryId, t::Message)> {
    conn.resumed()
        .iter()
        .map(|(id, m)| (id.0, message_out(m.clone(), None)))
        .collect()
}

#[cfg(not(feature = "durable"))]
fn resumed(_conn: &wasmqtt_wasi::Client) -> Vec<(t::DeliveryId, t::Message)> {
    Vec::new()
}

impl ClientResource {
    /// The next WIT event, waiting for one at most `timeout_ms` (`poll-event`).
    fn next_event(
        &self,
        conn: &mut wasmqtt_wasi::Client,
        timeout_ms: u64,
    ) -> Result<Option<t::Event>, t::Error> {
        // No clock reads for a call that does not wait.
        let until = (timeout_ms != 0).then(|| conn.now_ms().saturating_add(timeout_ms));
        loop {
            if conn.session_ref().state() == session::State::Closed {
                // Deliver what is left (completions, the final Disconnected), then `closed`.
                return match conn.poll_event(0) {
                    Some(e) => match self.event_out(e) {
                        Some(e) => Ok(Some(e)),
                        None => continue,
                    },
                    None => Err(t::Error::Closed),
                };
            }
            let left = until.map_or(0, |u| u.saturating_sub(conn.now_ms()));
            match conn.poll_event(left) {
                Some(e) => {
                    if let Some(e) = self.event_out(e) {
                        return Ok(Some(e));
                    }
                }
                None => return Ok(None),
            }
        }
    }

    /// The WIT form of a core event; a `connected` one also becomes `connection-info`.
    fn event_out(&self, e: CoreEvent) -> Option<t::Event> {
        let e = event_out(e)?;
        if let t::Event::Connected(info) = &e {
            *self.info.borrow_mut() = info.clone();
        }
        Some(e)
    }
}

export!(Provider);
