//! The browser build: MQTT over WebSocket, with a Promise API for JavaScript.
//!
//! Built for `wasm32-unknown-unknown` and bound with wasm-bindgen (`wasm-bindgen --target web`
//! emits the ES module and its TypeScript typings). The API follows MQTT.js's Promise API:
//!
//! ```js
//! import init, { connect } from './pkg/wasmqtt.js';
//! await init();
//! const client = await connect('ws://127.0.0.1:8080', { clientId: 'dash', keepalive: 30 });
//! client.on('message', (m) => console.log(m.topic, m.text));
//! const granted = await client.subscribe('meter/+/watts', { qos: 1 });
//! await client.publish('meter/1/watts', '1234', { qos: 1, retain: true });
//! await client.end();
//!
//! // Failover: the URL first, then `servers` (MQTT.js's name and shapes); `client.broker` and the
//! // `connect` / `close` events name the broker in use.
//! const c2 = await connect('wss://a.example.com/mqtt', {
//!   servers: ['wss://user:pw@b.example.com:8443/mqtt', { host: 'c.example.com', port: 443, protocol: 'wss' }],
//! });
//! ```
//!
//! The brokers (`brokers.rs`) go into the session's `Options::brokers`; on every
//! `Output::OpenTransport` the driver opens the WebSocket of `Session::broker()`: which broker,
//! when, and after which failure is the session's failover policy, not the driver's.
//!
//! The driver ([`driver`]) is the same small loop as every other wasmqtt driver: the session
//! decides everything (reconnect back-off, keep-alive, resubscription, retransmission); the
//! driver owns a `WebSocket` (subprotocol `mqtt`, binary frames: the session reassembles packets
//! split across frames or packed into one) and one `setTimeout` timer set to the session's next
//! deadline. It also hands the session the clock on every incoming frame and whenever the page
//! becomes visible or resumes, so background-tab timer throttling cannot delay a due PINGREQ
//! while data flows nor, after a freeze, fire a stale keep-alive timeout before the queued
//! PINGRESP is read (the session gives a late wake-up a short grace for that).

#![allow(unsafe_code)] // wasm-bindgen glue
#![warn(missing_docs)]
#![no_std]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// The shipped build's allocator (feature `standalone`; with `std`, std's).
#[cfg(all(feature = "standalone", not(feature = "std"), target_family = "wasm"))]
#[global_allocator]
static TALC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// The shipped build's panic handler (feature `standalone`): a trap, without formatting the
/// message (nothing in a page could read it; the trap surfaces as a `RuntimeError` in JavaScript).
#[cfg(all(feature = "standalone", not(feature = "std"), target_family = "wasm"))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}

mod brokers;
mod driver;
mod js;
mod store;

use alloc::rc::Rc;
use alloc::string::{String, ToString};
use core::cell::RefCell;
use driver::{promise, rejected, Shared};
use js::MqttError;
use js_sys::Promise;
use wasm_bindgen::prelude::*;
use wasmqtt::session::Session;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = r#"
/**
 * One broker of `ConnectOptions.servers`: a `ws://` or `wss://` URL (credentials in it go into
 * CONNECT and replace `username` / `password` for that broker), or MQTT.js's object.
 */
export type ServerOption = string | {
  host: string;
  /** Default: 80 for `ws`, 443 for `wss`. */
  port?: number;
  /** `ws` or `wss` (default: the scheme of `connect`'s URL, else `ws`). `mqtt` / `mqtts` are refused with `INVALID_URL`: a page can only open WebSockets. */
  protocol?: 'ws' | 'wss';
  /** WebSocket path (default `/mqtt`). */
  path?: string;
};

/** Options of `connect`. Names follow MQTT.js where it has one. */
export interface ConnectOptions {
  /**
   * More brokers, tried after `connect`'s URL (which may then be left out: `connect({ servers })`).
   * Every failed attempt, and a connection lost, moves on to the next one at once; after a whole
   * round without success the reconnect back-off applies. At most 64 in all.
   */
  servers?: ServerOption[];
  /** Alias of `servers` (give one of the two). */
  brokers?: ServerOption[];
  /** Client identifier (default: `wasmqtt` and 13 random base-36 digits). */
  clientId?: string;
  /** 4 for MQTT 3.1.1, 5 for MQTT 5.0 (default 5). */
  protocolVersion?: 4 | 5;
  /** Keep-alive in seconds (default 60; 0 turns it off). */
  keepalive?: number;
  /** Clean start / clean session (default true). */
  clean?: boolean;
  username?: string;
  password?: string | Uint8Array;
  /** v5 session expiry interval in seconds. */
  sessionExpiryInterval?: number;
  will?: {
    topic: string;
    payload?: string | Uint8Array | ArrayBuffer;
    qos?: QoS;
    retain?: boolean;
    /** v5 will delay interval in seconds. */
    delayInterval?: number;
    properties?: MessageProperties;
  };
  /** Milliseconds a connection attempt may take, WebSocket open and CONNACK together (default 10000; at least 1). */
  connectTimeout?: number;
  /** First reconnect delay in ms (default 500, doubling with jitter); 0 disables reconnecting. */
  reconnectPeriod?: number;
  /** Cap of the reconnect delay in ms (default 30000; not below `reconnectPeriod`). */
  maxReconnectDelay?: number;
  /** Keep retrying when the first attempt fails instead of rejecting `connect` (default false). */
  retryInitialConnection?: boolean;
  /** Most outbound QoS 1/2 messages in flight (default 100, at least 1; the broker's receive maximum also bounds it). */
  maxInflight?: number;
  /** Most messages waiting while offline or while the window is full (default 10000; at least 1). */
  maxQueuedMessages?: number;
  /** Most bytes waiting (default 16 MiB; at least 1). */
  maxQueuedBytes?: number;
  /** Most bytes of QoS 0 messages held while the WebSocket's buffer is full; past it `publish` rejects with `WOULD_BLOCK` (default 4 MiB; at least 1). */
  maxPendingWriteBytes?: number;
  /** Hold what is written after WebSocket messages for up to 1 ms while acknowledgements keep coming, so that the publishes they release go out in one frame (the core's write coalescing; default true). */
  coalesceWrites?: boolean;
  /** Largest packet accepted from the broker (default 1 MiB; 16 to 268435455). */
  maxPacketSize?: number;
  /** v5 Topic Alias Maximum announced to the broker (default 64; 0 announces none: CONNECT carries no Topic Alias Maximum, for brokers that mishandle aliases). */
  topicAliasMaximum?: number;
  /** Listeners registered before the first attempt, as with `Client.on` (so a `connect` that keeps retrying can be watched). */
  on?: { [E in ClientEvent]?: ClientEvents[E] };
}

export type QoS = 0 | 1 | 2;

/** MQTT 5.0 message properties (ignored in 3.1.1). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  messageExpiryInterval?: number;
  contentType?: string;
  responseTopic?: string;
  correlationData?: string | Uint8Array;
  userProperties?: Record<string, string | string[]>;
  /** On received messages: the identifiers of the matching subscriptions. */
  subscriptionIdentifiers?: number[];
}

export interface PublishOptions {
  qos?: QoS;
  retain?: boolean;
  properties?: MessageProperties;
}

/** Options of `Client.request` (MQTT 5.0): a publish's, and how long to wait for the response. */
export interface RequestOptions extends PublishOptions {
  /** Milliseconds to wait for the response (default 30000); past it the Promise rejects with `RESPONSE_TIMEOUT`. */
  timeout?: number;
}

export interface SubscribeOptions {
  qos?: QoS;
  /** v5: do not receive this client's own messages. */
  noLocal?: boolean;
  /** v5: keep the retain flag as published. */
  retainAsPublished?: boolean;
  /** v5: 0 send retained messages, 1 only for a new subscription, 2 never. */
  retainHandling?: 0 | 1 | 2;
}

/** A received message. `text` decodes the payload as UTF-8. */
export interface MqttMessage {
  topic: string;
  payload: Uint8Array;
  readonly text: string;
  qos: QoS;
  retain: boolean;
  dup: boolean;
  properties?: MessageProperties;
}

/** How a publish was acknowledged: PUBACK/PUBCOMP's reason code (0 for QoS 0 and in 3.1.1). */
export interface PublishResult {
  reasonCode: number;
}

/** What the broker said in CONNACK (the `connect` and `reconnect` events). */
export interface ConnectionInfo {
  /** The broker connected to, as its URL without the password (`wss://host:443/mqtt`). */
  broker?: string;
  sessionPresent: boolean;
  assignedClientId?: string;
  keepAlive: number;
  inflightWindow: number;
  maxPacketSize?: number;
  topicAliasMaximum: number;
  maximumQos: QoS;
  retainAvailable: boolean;
  reasonString?: string;
}

/** Why a connection ended (the `close` event). `reconnectIn` (ms) is absent when the client is closed for good. */
export interface CloseInfo {
  /** The broker of the connection (or attempt) that ended, as its URL without the password. */
  broker?: string;
  code: MqttErrorCode;
  message: string;
  reasonCode?: number;
  reconnectIn?: number;
}

export type ClientState = 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** What the client holds that is not yet acknowledged or written (`Client.pending`). */
export interface PendingInfo {
  /** QoS 1/2 messages sent and not yet acknowledged. */
  inflight: number;
  /** Messages waiting to be sent. */
  queued: number;
  /** Their bytes. */
  queuedBytes: number;
  /** The WebSocket's `bufferedAmount`: bytes handed to the browser and not yet sent. */
  bufferedAmount: number;
  /** Whether the client holds its writes back until `bufferedAmount` drains (see the README). */
  writeBlocked: boolean;
  /** With a `store`: whether an IndexedDB transaction is being written. */
  storing: boolean;
  /** With a `store`: whether changes wait for the next transaction. */
  storeOpsWaiting: boolean;
}

export type MqttErrorCode =
  | 'INVALID_ARGUMENT' | 'INVALID_URL' | 'INVALID_TOPIC' | 'INVALID_FILTER' | 'INVALID_QOS'
  | 'INVALID_MESSAGE' | 'INVALID_REQUEST' | 'QUEUE_FULL' | 'WOULD_BLOCK' | 'TOO_LARGE'
  | 'QOS_NOT_SUPPORTED' | 'RETAIN_NOT_SUPPORTED' | 'REJECTED' | 'SESSION_CLOSED'
  | 'SUBSCRIBE_FAILED' | 'UNSUBSCRIBE_FAILED' | 'CONNECTION_LOST' | 'CONNECTION_REFUSED'
  | 'DISCONNECTED_BY_BROKER' | 'CONNECT_TIMEOUT' | 'KEEPALIVE_TIMEOUT' | 'PROTOCOL_ERROR'
  | 'CLOSED' | 'AUTH_NOT_SUPPORTED' | 'PUBLISH_FAILED' | 'REQUEST_FAILED' | 'DISCONNECTED'
  | 'RESPONSE_TIMEOUT' | 'NOT_SUPPORTED_IN_V311' | 'SUBSCRIPTION_REFUSED' | 'INVALID_RESPONSE_TOPIC'
  | 'NO_RESPONSE_TOPIC' | 'TOO_MANY_REQUESTS'
  | StoreErrorCode;

/** Every rejected Promise and `error` event carries one: an `Error` with a `code`. */
export interface MqttError extends Error {
  name: 'MqttError';
  code: MqttErrorCode;
  /** The MQTT reason code (v5) or return code (3.1.1), when the broker gave one. */
  reasonCode?: number;
}

/** The events of `Client.on` and their listener's argument. */
export interface ClientEvents {
  message: (message: MqttMessage) => void;
  connect: (info: ConnectionInfo) => void;
  reconnect: (info: ConnectionInfo) => void;
  close: (info: CloseInfo) => void;
  end: () => void;
  error: (error: MqttError) => void;
  state: (state: ClientState) => void;
  resubscribe: (filters: number) => void;
}
export type ClientEvent = keyof ClientEvents;
"#;

/// Connects to a broker over WebSocket (`ws://` or `wss://`, subprotocol `mqtt`). Resolves with
/// the client once CONNACK accepted the connection; rejects with an `MqttError` when the URL or
/// an option is invalid (the core's `Options::validate`, with its code), or when the first
/// attempt fails (unless `retryInitialConnection`: the core's first-connect policy).
///
/// Several brokers: `options.servers` (MQTT.js's name; `options.brokers` is an alias) lists
/// more, as URL strings or `{ host, port, protocol, path }` objects, tried after the URL (which
/// may then be left out: `connect({ servers })`). The session picks the broker of every
/// attempt (failover); the driver opens the one it names.
///
/// Durable state: `options.store = { indexedDb: 'name', sync }` keeps the session in that
/// IndexedDB database and resumes it when it holds one (see `store.rs`); `connect` then also
/// rejects with `STORE_UNAVAILABLE` (no IndexedDB, or it refused to open) or `STORE_CORRUPT` /
/// `STORE_UNKNOWN_KEY` / `STORE_UNSUPPORTED_FORMAT` (records it cannot resume from).
/// `options.manualAcks` gives received QoS 1/2 messages `ack()`.
#[wasm_bindgen(js_name = connect, unchecked_return_type = "Promise<Client>")]
pub fn connect(
    #[wasm_bindgen(unchecked_param_type = "string | ConnectOptions | null | undefined")]
    url: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "ConnectOptions")] options: Option<
        js_sys::Object,
    >,
) -> Promise {
    let (url, options) = brokers::split_arguments(url, options);
    let obj = match js::options_object(&options, "connect options") {
        Ok(o) => o,
        Err(e) => return rejected(e),
    };
    let list = match brokers::brokers_of(&url, obj.as_ref()) {
        Ok(l) => l,
        Err(e) => return rejected(e),
    };
    let (mut opts, driver_opts) = match js::connect_options_of(&options, list) {
        Ok(o) => o,
        Err(e) => return rejected(e),
    };
    let store = match store::durable_options_of(&options, &mut opts) {
        Ok(s) => s,
        Err(e) => return rejected(e),
    };
    if let Err(e) = opts.validate() {
        return rejected(js::options_error(&e));
    }
    let listeners = driver_opts.listeners;
    match store {
        None => start_client(Session::new(opts), None, listeners),
        Some(config) => store::connect_durable(config, opts, move |session, store| {
            start_client(session, store, listeners)
        }),
    }
}

/// Starts the driver of a new (or resumed) session; the Promise is `connect`'s.
fn start_client(
    session: Session,
    store: Option<store::IdbStore>,
    listeners: alloc::vec::Vec<(String, js_sys::Function)>,
) -> Promise {
    let manual_acks = session.options().manual_acks;
    let mut inner = driver::Inner::new(session);
    inner.listeners = listeners;
    inner.store = store;
    let rc: Shared = Rc::new(RefCell::new(inner));
    if manual_acks {
        let f = store::ack_function(&rc);
        rc.borrow_mut().ack_fn = Some(f);
    }
    let (p, settle) = promise();
    driver::start(&rc, settle);
    p
}

/// A connected (or reconnecting) MQTT client. Get one from `connect`.
#[wasm_bindgen]
pub struct Client {
    inner: Shared,
}

impl Client {
    pub(crate) fn wrap(inner: Shared) -> JsValue {
        Client { inner }.into()
    }
}

#[wasm_bindgen]
impl Client {
    /// Publishes a message. The Promise settles when the message is acknowledged (QoS 1: PUBACK,
    /// QoS 2: PUBCOMP) or written (QoS 0), and rejects with an `MqttError` when it is refused
    /// (invalid topic, QoS, payload; queue full) or fails (rejected by the broker, client ended).
    /// While offline, messages wait in a bounded queue and go out after reconnecting.
    ///
    /// With a `store`, a QoS 1/2 message's Promise resolves once its record is in IndexedDB (its
    /// transaction completed), with `{ admitted: true, done }`: `done` settles on PUBACK /
    /// PUBCOMP as the Promise does without a store.
    #[wasm_bindgen(unchecked_return_type = "Promise<PublishResult | PublishAdmitted>")]
    pub fn publish(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")]
        payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "PublishOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Promise {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let msg = match js::message_of(&topic, &payload, &options) {
            Ok(m) => m,
            Err(e) => return rejected(e),
        };
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return rejected(MqttError::new("INVALID_ARGUMENT", "re-entrant call"));
        };
        let admitting = store::is_durable(&inner) && store::stored_qos(msg.qos);
        match inner.session.publish(msg, js::now_ms()) {
            Err(e) => rejected(js::publish_error(&e)),
            Ok(id) => {
                let (p, settle) = promise();
                inner.add_publish(id, settle);
                let p = match inner.store.as_mut() {
                    // With a store: resolves once admitted, with the completion as `done`.
                    Some(st) if admitting => {
                        let (admitted, settle) = promise();
                        st.admitting(id, settle, store::silence(&p));
                        admitted
                    }
                    _ => p,
                };
                drop(inner);
                driver::flush_soon(&self.inner);
                p
            }
        }
    }

    /// MQTT 5.0 request/response: publishes `payload` to `topic` as a request and resolves
    /// with the response message, or rejects with `RESPONSE_TIMEOUT` when none came within
    /// `options.timeout` ms (default 30000), `SESSION_CLOSED` when the client ends first,
    /// `NOT_SUPPORTED_IN_V311` in MQTT 3.1.1, or as `publish` would. The client sets the
    /// response topic (one shared response subscription, made at the first request and renewed
    /// when the broker loses the session) and the correlation data.
    #[wasm_bindgen(unchecked_return_type = "Promise<MqttMessage>")]
    pub fn request(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] topic: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")]
        payload: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RequestOptions")] options: Option<
            js_sys::Object,
        >,
    ) -> Promise {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (msg, timeout) = match js::request_of(&topic, &payload, &options) {
            Ok(r) => r,
            Err(e) => return rejected(e),
        };
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return rejected(MqttError::new("INVALID_ARGUMENT", "re-entrant call"));
        };
        match inner.session.request(msg, timeout, js::now_ms()) {
            Err(e) => rejected(js::response_error(&e)),
            Ok(id) => {
                let (p, settle) = promise();
                inner.add_response(id, settle);
                drop(inner);
                driver::flush_soon(&self.inner);
                p
            }
        }
    }

    /// Answers a request received as `request` (an `MqttMessage` with a response topic):
    /// publishes `payload` to its response topic with its correlation data, at its QoS.
    /// Settles as `publish` does; rejects with `NO_RESPONSE_TOPIC` when the message is no
    /// request.
    #[wasm_bindgen(unchecked_return_type = "Promise<PublishResult>")]
    pub fn respond(
        &self,
        #[wasm_bindgen(unchecked_param_type = "MqttMessage")] request: JsValue,
        #[wasm_bindgen(unchecked_param_type = "string | Uint8Array | ArrayBuffer")]
        payload: JsValue,
    ) -> Promise {
        let (request, payload) = match (
            js::received_of(&request),
            js::bytes_of(&payload, "the payload"),
        ) {
            (Ok(r), Ok(p)) => (r, p),
            (Err(e), _) | (_, Err(e)) => return rejected(e),
        };
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return rejected(MqttError::new("INVALID_ARGUMENT", "re-entrant call"));
        };
        match inner.session.respond(&request, payload, js::now_ms()) {
            Err(e) => rejected(js::response_error(&e)),
            Ok(id) => {
                let (p, settle) = promise();
                inner.add_publish(id, settle);
                drop(inner);
                driver::flush_soon(&self.inner);
                p
            }
        }
    }

    /// Subscribes to a filter (resolves with the granted QoS) or to an array of filters (resolves
    /// with one reason code per filter; 128 and above are refusals). A refused single filter
    /// rejects with `SUBSCRIBE_FAILED`. `handler`, if given, is registered with `onMessage` first,
    /// so it also sees the retained messages that arrive right after SUBACK. Subscriptions are
    /// renewed by the client when the broker lost the session.
    #[wasm_bindgen(unchecked_return_type = "Promise<number | number[]>")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | string[]")] filter: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "SubscribeOptions")] options: Option<
            js_sys::Object,
        >,
        #[wasm_bindgen(unchecked_optional_param_type = "(message: MqttMessage) => void")]
        handler: Option<js_sys::Function>,
    ) -> Promise {
        let options: JsValue = options.map_or(JsValue::UNDEFINED, Into::into);
        let (filters, single) = match js::filters_of(&filter) {
            Ok(f) => f,
            Err(e) => return rejected(e),
        };
        let sub_opts = match js::subscription_options_of(&options) {
            Ok(o) => o,
            Err(e) => return rejected(e),
        };
        if handler.as_ref().is_some_and(|h| !h.is_function()) {
            return rejected(MqttError::new(
                "INVALID_ARGUMENT",
                "the handler must be a function",
            ));
        }
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return rejected(MqttError::new("INVALID_ARGUMENT", "re-entrant call"));
        };
        let list = filters.iter().map(|f| (f.clone(), sub_opts)).collect();
        match inner.session.subscribe(list, None, js::now_ms()) {
            Err(e) => rejected(js::request_error(&e)),
            Ok(id) => {
                if let Some(f) = handler {
                    for filter in &filters {
                        let hid = inner.next_handler_id;
                        inner.next_handler_id += 1;
                        inner.handlers.push(driver::Handler {
                            id: hid,
                            filter: filter.clone(),
                            f: f.clone(),
                        });
                    }
                }
                let (p, settle) = promise();
                inner.add_request(
                    id,
                    if single {
                        driver::Waiter::SubscribeOne(settle)
                    } else {
                        driver::Waiter::SubscribeMany(settle)
                    },
                );
                drop(inner);
                driver::pump(&self.inner);
                p
            }
        }
    }

    /// Unsubscribes from a filter or an array of filters, and removes the message handlers
    /// registered for exactly those filters.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn unsubscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | string[]")] filter: JsValue,
    ) -> Promise {
        let (filters, _) = match js::filters_of(&filter) {
            Ok(f) => f,
            Err(e) => return rejected(e),
        };
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return rejected(MqttError::new("INVALID_ARGUMENT", "re-entrant call"));
        };
        match inner.session.unsubscribe(filters.clone(), js::now_ms()) {
            Err(e) => rejected(js::request_error(&e)),
            Ok(id) => {
                let (p, settle) = promise();
                inner.add_request(id, driver::Waiter::Unsubscribe(settle, filters));
                drop(inner);
                driver::pump(&self.inner);
                p
            }
        }
    }

    /// Calls `handler` for every message whose topic matches `filter` (wildcards allowed; a
    /// shared subscription matches as its inner filter). Returns an id for `offMessage`.
    /// Registering does not subscribe.
    #[wasm_bindgen(js_name = onMessage)]
    pub fn on_message(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string")] filter: JsValue,
        #[wasm_bindgen(unchecked_param_type = "(message: MqttMessage) => void")] handler: JsValue,
    ) -> Result<u32, JsValue> {
        let filter = js::topic_string(&filter, "the topic filter", "INVALID_FILTER")?;
        wasmqtt::topic::validate_topic_filter(&filter).map_err(|e| {
            MqttError::new(
                "INVALID_FILTER",
                alloc::format!("invalid topic filter: {e}"),
            )
        })?;
        let f = function_of(handler)?;
        let mut inner = self.inner.borrow_mut();
        let id = inner.next_handler_id;
        inner.next_handler_id += 1;
        inner.handlers.push(driver::Handler { id, filter, f });
        Ok(id)
    }

    /// Removes a handler registered with `onMessage` (or by `subscribe`). Returns whether it existed.
    #[wasm_bindgen(js_name = offMessage)]
    pub fn off_message(&self, id: u32) -> bool {
        let mut inner = self.inner.borrow_mut();
        let before = inner.handlers.len();
        inner.handlers.retain(|h| h.id != id);
        inner.handlers.len() != before
    }

    /// Adds a listener: `message` (every message), `connect` and `reconnect` (CONNACK accepted),
    /// `close` (a connection ended, with the reason and when the next attempt is), `end` (closed
    /// for good), `error` (a failure no Promise reports), `state`, `resubscribe`.
    pub fn on(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ClientEvent")] event: JsValue,
        #[wasm_bindgen(unchecked_param_type = "(arg: any) => void")] listener: JsValue,
    ) -> Result<(), JsValue> {
        let name = js::event_name(&event)?;
        let f = function_of(listener)?;
        self.inner
            .borrow_mut()
            .listeners
            .push((String::from(name), f));
        Ok(())
    }

    /// Removes a listener added with `on`.
    pub fn off(
        &self,
        #[wasm_bindgen(unchecked_param_type = "ClientEvent")] event: JsValue,
        #[wasm_bindgen(unchecked_param_type = "(arg: any) => void")] listener: JsValue,
    ) -> Result<(), JsValue> {
        let name = js::event_name(&event)?;
        self.inner
            .borrow_mut()
            .listeners
            .retain(|(n, f)| n != name || !JsValue::from(f.clone()).eq(&listener));
        Ok(())
    }

    /// Ends the client: sends DISCONNECT when connected, closes the WebSocket, stops
    /// reconnecting, and rejects everything still pending with `SESSION_CLOSED`.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn end(&self) -> Promise {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            inner.session.disconnect(js::now_ms());
        }
        driver::pump(&self.inner);
        Promise::resolve(&JsValue::UNDEFINED)
    }

    /// `connecting`, `connected`, `reconnecting` or `closed` (the session's connection state).
    #[wasm_bindgen(getter, unchecked_return_type = "ClientState")]
    pub fn state(&self) -> String {
        String::from(self.inner.borrow().session.connection_state().as_str())
    }

    /// The broker of the current connection or connection attempt, as its URL without the
    /// password (`wss://user@host:443/mqtt`); `undefined` while there is none (waiting to
    /// reconnect, closed).
    #[wasm_bindgen(getter)]
    pub fn broker(&self) -> Option<String> {
        self.inner.borrow().broker().map(|b| b.to_string())
    }

    /// Whether the client is connected right now.
    #[wasm_bindgen(getter)]
    pub fn connected(&self) -> bool {
        self.inner.borrow().session.is_connected()
    }

    /// The client identifier in use (the broker's, if it assigned one).
    #[wasm_bindgen(getter, js_name = clientId)]
    pub fn client_id(&self) -> String {
        self.inner.borrow().session.options().client_id.clone()
    }

    /// With a `store`: the QoS 1/2 messages the store held at `connect` (accepted by an earlier
    /// page and not completed), in the order they were published, as `{ topic, payload, qos,
    /// retain }`. The client sends them (they need no `publish`); an application that keeps its
    /// own progress learns from this what it must not publish again, and records them as
    /// admitted now: a page reloaded after a batch's transaction completed but before its
    /// `publish()` Promises resolved never saw those messages admitted, and once this client
    /// completes them they leave the store, so a later `connect` no longer lists them (an
    /// application relying on `resumed` alone would publish them again: duplicates). Empty
    /// without a store.
    #[wasm_bindgen(getter, unchecked_return_type = "ResumedMessage[]")]
    pub fn resumed(&self) -> JsValue {
        match &self.inner.borrow().store {
            Some(s) => s.resumed(),
            None => js_sys::Array::new().into(),
        }
    }

    /// Outbound messages in flight and waiting, and the write backpressure:
    /// `{ inflight, queued, queuedBytes, bufferedAmount, writeBlocked }`.
    #[wasm_bindgen(getter, unchecked_return_type = "PendingInfo")]
    pub fn pending(&self) -> JsValue {
        let inner = self.inner.borrow();
        let (queued, bytes) = inner.session.queued();
        js::object(&[
            ("inflight", (inner.session.inflight_len() as u32).into()),
            ("queued", (queued as u32).into()),
            ("queuedBytes", (bytes as f64).into()),
            ("bufferedAmount", inner.buffered_amount().into()),
            ("writeBlocked", inner.session.is_write_blocked().into()),
            (
                "storing",
                inner.store.as_ref().is_some_and(|s| s.storing()).into(),
            ),
            ("storeOpsWaiting", inner.session.has_store_ops().into()),
        ])
    }
}

fn function_of(v: JsValue) -> Result<js_sys::Function, JsValue> {
    use wasm_bindgen::JsCast;
    v.dyn_into::<js_sys::Function>().map_err(|_| {
        MqttError::new("INVALID_ARGUMENT", "the listener must be a function").into_js()
    })
}

/// Whether a topic name matches a topic filter (`+`, `#`, `$`-topics, `$share/group/filter`
/// matches as its inner filter): the core's rule, the same the client uses for `onMessage`.
#[wasm_bindgen(js_name = topicMatches)]
pub fn topic_matches(filter: &str, topic: &str) -> bool {
    wasmqtt::topic::matches(filter, topic)
}

/// Checks a topic name (for `publish`); throws an `MqttError` with code `INVALID_TOPIC`.
#[wasm_bindgen(js_name = validateTopicName)]
pub fn validate_topic_name(topic: &str) -> Result<(), JsValue> {
    wasmqtt::topic::validate_topic_name(topic).map_err(|e| {
        MqttError::new("INVALID_TOPIC", alloc::format!("invalid topic name: {e}")).into_js()
    })
}

/// Checks a topic filter (for `subscribe`); throws an `MqttError` with code `INVALID_FILTER`.
#[wasm_bindgen(js_name = validateTopicFilter)]
pub fn validate_topic_filter(filter: &str) -> Result<(), JsValue> {
    wasmqtt::topic::validate_topic_filter(filter).map_err(|e| {
        MqttError::new(
            "INVALID_FILTER",
            alloc::format!("invalid topic filter: {e}"),
        )
        .into_js()
    })
}
