//! Conversions between JavaScript values and the core's types, and the driver's typed errors.
//!
//! Everything that comes from JavaScript is checked here: a wrong type, a QoS of 3 or an invalid
//! topic becomes an [`MqttError`]-shaped `Error` (with `code` and `message`), never a panic.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use js_sys::{Array, ArrayBuffer, Function, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasmqtt::broker::Broker;
use wasmqtt::codec::{ProtocolVersion, QoS, ReasonCode, RetainHandling, SubscriptionOptions};
use wasmqtt::session::{
    random_client_id, seed_from_entropy, DisconnectReason, FirstConnect, LastWill, Message,
    MessageProperties, Options, OptionsError, PublishError, ReceivedMessage, ReconnectPolicy,
    RequestError, WriteCoalescing,
};

#[wasm_bindgen(inline_js = r#"
const decoder = new TextDecoder();
export function makeMessage(topic, payload, qos, retain, dup, properties) {
    return {
        topic, payload, qos, retain, dup, properties,
        get text() { return decoder.decode(this.payload); },
    };
}
export function makeError(code, message, reasonCode) {
    const e = new Error(message);
    e.name = 'MqttError';
    e.code = code;
    if (reasonCode !== undefined) e.reasonCode = reasonCode;
    return e;
}
export function taskPoster(f) {
    const ch = new MessageChannel();
    ch.port1.onmessage = f;
    return ch.port2;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = makeMessage)]
    fn make_message(
        topic: &str,
        payload: Uint8Array,
        qos: u8,
        retain: bool,
        dup: bool,
        properties: JsValue,
    ) -> JsValue;
    #[wasm_bindgen(js_name = makeError)]
    fn make_error(code: &str, message: &str, reason_code: Option<u8>) -> JsValue;
    /// A `MessagePort` whose `postMessage` queues a task that calls `f` (a task without the
    /// clamping of nested `setTimeout`s).
    #[wasm_bindgen(js_name = taskPoster)]
    pub(crate) fn task_poster(f: &Function) -> TaskPort;

    /// One end of a `MessageChannel`.
    pub(crate) type TaskPort;
    #[wasm_bindgen(method, js_name = postMessage)]
    pub(crate) fn post_message(this: &TaskPort, v: &JsValue);
    #[wasm_bindgen(method)]
    pub(crate) fn close(this: &TaskPort);
}

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(callback: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub(crate) fn clear_timeout(handle: &JsValue);
    #[wasm_bindgen(js_name = queueMicrotask)]
    pub(crate) fn queue_microtask(callback: &Function);
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub(crate) fn console_error(a: &JsValue, b: &JsValue);
}

/// Whether `n` is a whole number (`f64::fract` is std's): false for NaN and infinities; a value
/// beyond `i64` saturates and compares unequal, which the range checks that follow reject anyway.
fn is_whole(n: f64) -> bool {
    n == (n as i64) as f64
}

/// The driver's clock: `performance.now()` in whole milliseconds (monotonic, in windows and
/// workers alike).
pub(crate) fn now_ms() -> u64 {
    let t = performance_now();
    if t.is_finite() && t > 0.0 {
        t as u64
    } else {
        0
    }
}

/// A JavaScript `Error` with `name = "MqttError"`, a `code` and, when the broker gave one, the
/// MQTT `reasonCode`.
pub(crate) struct MqttError {
    pub code: &'static str,
    pub message: String,
    pub reason_code: Option<u8>,
}

impl MqttError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        MqttError {
            code,
            message: message.into(),
            reason_code: None,
        }
    }

    pub fn reason(mut self, code: ReasonCode) -> Self {
        self.reason_code = Some(code.0);
        self
    }

    pub fn into_js(self) -> JsValue {
        make_error(self.code, &self.message, self.reason_code)
    }
}

impl From<MqttError> for JsValue {
    fn from(e: MqttError) -> JsValue {
        e.into_js()
    }
}

pub(crate) type JsResult<T> = Result<T, MqttError>;

fn invalid(message: impl Into<String>) -> MqttError {
    MqttError::new("INVALID_ARGUMENT", message)
}

// The codes come from the core (`code()` on each error type): one table for every driver.

pub(crate) fn publish_error(e: &PublishError) -> MqttError {
    let err = MqttError::new(e.code(), e.to_string());
    match e {
        PublishError::Rejected(rc) => err.reason(*rc),
        _ => err,
    }
}

pub(crate) fn request_error(e: &RequestError) -> MqttError {
    MqttError::new(e.code(), e.to_string())
}

/// Why a request got no response, or a response could not be sent: the core's code (a
/// publish failure is the publish's own error).
pub(crate) fn response_error(e: &wasmqtt::session::ResponseError) -> MqttError {
    use wasmqtt::session::ResponseError as R;
    match e {
        R::Publish(p) => publish_error(p),
        R::SubscriptionRefused(rc) => MqttError::new(e.code(), e.to_string()).reason(*rc),
        _ => MqttError::new(e.code(), e.to_string()),
    }
}

/// `request(topic, payload, options)`: the message and the timeout (ms, default 30 s).
pub(crate) fn request_of(
    topic: &JsValue,
    payload: &JsValue,
    options: &JsValue,
) -> JsResult<(Message, u64)> {
    let msg = message_of(topic, payload, options)?;
    let obj = options_object(options, "request options")?;
    let timeout = opt_uint(obj.as_ref(), "timeout", 0.0, MAX_SAFE)?.map_or(30_000, |n| n as u64);
    Ok((msg, timeout))
}

/// `respond(request, payload)`: the received request (an `MqttMessage`: its topic, QoS and
/// properties, the response topic and correlation data among them) for the session.
pub(crate) fn received_of(request: &JsValue) -> JsResult<ReceivedMessage> {
    let obj = options_object(request, "the request")?;
    let o = obj.as_ref();
    let topic = field(o, "topic")?.unwrap_or(JsValue::UNDEFINED);
    let message = message_of(
        &topic,
        &JsValue::from(js_sys::Uint8Array::new_with_length(0)),
        request,
    )?;
    Ok(ReceivedMessage {
        message,
        dup: false,
        ack: None,
    })
}

/// A SUBACK that refused the subscription: `SUBSCRIBE_FAILED`, the code named as `version`
/// names it in SUBACK (3.1.1: 0x80 "Failure", v3.1.1 §3.9.3; v5: its reason code's name).
pub(crate) fn subscribe_failed(code: ReasonCode, version: ProtocolVersion) -> MqttError {
    MqttError::new("SUBSCRIBE_FAILED", subscribe_failed_text(code, version)).reason(code)
}

/// The message of [`subscribe_failed`].
pub(crate) fn subscribe_failed_text(code: ReasonCode, version: ProtocolVersion) -> String {
    alloc::format!(
        "the broker refused the subscription: {}",
        code.named(version, wasmqtt::codec::PacketType::SubAck)
    )
}

/// Options the core refused ([`Options::validate`]).
pub(crate) fn options_error(e: &OptionsError) -> MqttError {
    MqttError::new(e.code(), alloc::format!("invalid options: {e}"))
}

/// The error a connection loss carries (the `close` event, a rejected `connect`): the core's
/// code and text (a transport failure carries the WebSocket's close code and reason), and the
/// MQTT reason code when the broker gave one.
pub(crate) fn disconnect_error(reason: &DisconnectReason) -> MqttError {
    let err = MqttError::new(reason.code(), reason.to_string());
    match reason {
        DisconnectReason::Refused { code, .. } | DisconnectReason::ByServer { code, .. } => {
            err.reason(*code)
        }
        DisconnectReason::ProtocolError(v) => err.reason(v.reason_code()),
        _ => err,
    }
}

// ------------------------------------------------------------------------------ reading values

fn is_absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// `options` must be absent or a plain object.
pub(crate) fn options_object(v: &JsValue, what: &str) -> JsResult<Option<Object>> {
    if is_absent(v) {
        return Ok(None);
    }
    if !v.is_object() || v.is_function() || Array::is_array(v) {
        return Err(invalid(alloc::format!("{what} must be an object")));
    }
    Ok(Some(v.clone().unchecked_into()))
}

pub(crate) fn field(obj: Option<&Object>, key: &str) -> JsResult<Option<JsValue>> {
    let Some(obj) = obj else { return Ok(None) };
    let v = Reflect::get(obj, &JsValue::from_str(key))
        .map_err(|_| invalid(alloc::format!("could not read option '{key}'")))?;
    Ok((!is_absent(&v)).then_some(v))
}

pub(crate) fn opt_string(obj: Option<&Object>, key: &str) -> JsResult<Option<String>> {
    match field(obj, key)? {
        None => Ok(None),
        Some(v) => v
            .as_string()
            .map(Some)
            .ok_or_else(|| invalid(alloc::format!("option '{key}' must be a string"))),
    }
}

fn opt_bool(obj: Option<&Object>, key: &str) -> JsResult<Option<bool>> {
    match field(obj, key)? {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| invalid(alloc::format!("option '{key}' must be a boolean"))),
    }
}

/// A whole number in `min..=max`.
pub(crate) fn opt_uint(
    obj: Option<&Object>,
    key: &str,
    min: f64,
    max: f64,
) -> JsResult<Option<f64>> {
    match field(obj, key)? {
        None => Ok(None),
        Some(v) => match v.as_f64() {
            Some(n) if is_whole(n) && n >= min && n <= max => Ok(Some(n)),
            _ => Err(invalid(alloc::format!(
                "option '{key}' must be a whole number from {} to {}",
                // As integers: formatting an f64 would pull float printing into the .wasm.
                min as u64,
                max as u64
            ))),
        },
    }
}

/// QoS 0, 1 or 2; absent means 0.
pub(crate) fn qos_of(obj: Option<&Object>) -> JsResult<QoS> {
    match field(obj, "qos")? {
        None => Ok(QoS::AtMostOnce),
        Some(v) => v
            .as_f64()
            .filter(|n| is_whole(*n) && (0.0..=2.0).contains(n))
            .and_then(|n| QoS::from_u8(n as u8))
            .ok_or_else(|| MqttError::new("INVALID_QOS", "qos must be 0, 1 or 2")),
    }
}

/// A payload: a string (sent as UTF-8), a Uint8Array, an ArrayBuffer, any other ArrayBuffer
/// view, or null/undefined for an empty payload.
pub(crate) fn bytes_of(v: &JsValue, what: &str) -> JsResult<Vec<u8>> {
    if is_absent(v) {
        return Ok(Vec::new());
    }
    if let Some(s) = v.as_string() {
        return Ok(s.into_bytes());
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Ok(a.to_vec());
    }
    if let Some(b) = v.dyn_ref::<ArrayBuffer>() {
        return Ok(Uint8Array::new(b).to_vec());
    }
    if ArrayBuffer::is_view(v) {
        let buf = Reflect::get(v, &"buffer".into()).unwrap_or(JsValue::UNDEFINED);
        let off = Reflect::get(v, &"byteOffset".into())
            .ok()
            .and_then(|x| x.as_f64())
            .unwrap_or(0.0);
        let len = Reflect::get(v, &"byteLength".into())
            .ok()
            .and_then(|x| x.as_f64())
            .unwrap_or(0.0);
        if let Some(b) = buf.dyn_ref::<ArrayBuffer>() {
            return Ok(
                Uint8Array::new_with_byte_offset_and_length(b, off as u32, len as u32).to_vec(),
            );
        }
    }
    Err(invalid(alloc::format!(
        "{what} must be a string, a Uint8Array or an ArrayBuffer"
    )))
}

/// A topic name or filter given by JavaScript: must be a string (validated by the session).
pub(crate) fn topic_string(
    v: &JsValue,
    what: &'static str,
    code: &'static str,
) -> JsResult<String> {
    v.as_string()
        .ok_or_else(|| MqttError::new(code, alloc::format!("{what} must be a string")))
}

/// `subscribe`'s first argument: one filter or an array of them.
pub(crate) fn filters_of(v: &JsValue) -> JsResult<(Vec<String>, bool)> {
    if let Some(s) = v.as_string() {
        return Ok((alloc::vec![s], true));
    }
    if Array::is_array(v) {
        let arr: &Array = v.unchecked_ref();
        let mut out = Vec::with_capacity(arr.length() as usize);
        for item in arr.iter() {
            out.push(topic_string(&item, "every topic filter", "INVALID_FILTER")?);
        }
        if out.is_empty() {
            return Err(MqttError::new("INVALID_FILTER", "no topic filter given"));
        }
        return Ok((out, false));
    }
    Err(MqttError::new(
        "INVALID_FILTER",
        "a topic filter must be a string or an array of strings",
    ))
}

fn user_properties(v: Option<JsValue>) -> JsResult<Vec<(String, String)>> {
    let Some(v) = v else { return Ok(Vec::new()) };
    let obj = options_object(&v, "userProperties")?.expect("present");
    let mut out = Vec::new();
    for entry in Object::entries(&obj).iter() {
        let pair: Array = entry.unchecked_into();
        let k = pair.get(0).as_string().unwrap_or_default();
        let val = pair.get(1);
        if let Some(s) = val.as_string() {
            out.push((k, s));
        } else if Array::is_array(&val) {
            for x in val.unchecked_ref::<Array>().iter() {
                let s = x
                    .as_string()
                    .ok_or_else(|| invalid("user property values must be strings"))?;
                out.push((k.clone(), s));
            }
        } else {
            return Err(invalid("user property values must be strings"));
        }
    }
    Ok(out)
}

/// v5 message properties from `{ contentType, responseTopic, correlationData,
/// messageExpiryInterval, payloadFormatIndicator, userProperties }`.
fn message_properties(v: Option<JsValue>) -> JsResult<MessageProperties> {
    let Some(v) = v else {
        return Ok(MessageProperties::default());
    };
    let obj = options_object(&v, "properties")?;
    let o = obj.as_ref();
    Ok(MessageProperties {
        payload_format_indicator: opt_bool(o, "payloadFormatIndicator")?,
        message_expiry_interval: opt_uint(o, "messageExpiryInterval", 0.0, u32::MAX as f64)?
            .map(|n| n as u32),
        content_type: opt_string(o, "contentType")?,
        response_topic: opt_string(o, "responseTopic")?,
        correlation_data: match field(o, "correlationData")? {
            Some(v) => Some(bytes_of(&v, "correlationData")?),
            None => None,
        },
        user_properties: user_properties(field(o, "userProperties")?)?,
        subscription_identifiers: Vec::new(),
    })
}

/// `publish(topic, payload, options)` → a message for the session.
pub(crate) fn message_of(
    topic: &JsValue,
    payload: &JsValue,
    options: &JsValue,
) -> JsResult<Message> {
    let topic = topic_string(topic, "the topic", "INVALID_TOPIC")?;
    let payload = bytes_of(payload, "the payload")?;
    let obj = options_object(options, "publish options")?;
    let o = obj.as_ref();
    Ok(Message {
        topic,
        payload,
        qos: qos_of(o)?,
        retain: opt_bool(o, "retain")?.unwrap_or(false),
        properties: message_properties(field(o, "properties")?)?.into(),
    })
}

/// `subscribe(filter, { qos, noLocal, retainAsPublished, retainHandling })`.
pub(crate) fn subscription_options_of(options: &JsValue) -> JsResult<SubscriptionOptions> {
    let obj = options_object(options, "subscribe options")?;
    let o = obj.as_ref();
    let mut s = SubscriptionOptions::qos(qos_of(o)?);
    s.no_local = opt_bool(o, "noLocal")?.unwrap_or(false);
    s.retain_as_published = opt_bool(o, "retainAsPublished")?.unwrap_or(false);
    s.retain_handling = match opt_uint(o, "retainHandling", 0.0, 2.0)? {
        None | Some(0.0) => RetainHandling::SendAtSubscribe,
        Some(1.0) => RetainHandling::SendIfNew,
        Some(_) => RetainHandling::DoNotSend,
    };
    Ok(s)
}

/// The events of `Client.on` (and of the `on` connect option).
pub(crate) const EVENTS: [&str; 8] = [
    "message",
    "connect",
    "reconnect",
    "close",
    "end",
    "error",
    "state",
    "resubscribe",
];

/// One of [`EVENTS`].
pub(crate) fn event_name(v: &JsValue) -> JsResult<&'static str> {
    let s = v.as_string().unwrap_or_default();
    EVENTS.iter().copied().find(|e| *e == s).ok_or_else(|| {
        invalid(alloc::format!(
            "unknown event {s:?}; events are {}",
            EVENTS.join(", ")
        ))
    })
}

/// What `connect` takes besides the session options.
pub(crate) struct DriverOptions {
    /// Listeners to register before the first attempt (`on: { state, close, ... }`).
    pub listeners: Vec<(String, Function)>,
}

/// The largest whole number a JavaScript number holds exactly (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE: f64 = 9_007_199_254_740_991.0;
const U16: f64 = u16::MAX as f64;
const U32: f64 = u32::MAX as f64;

/// `connect(url, options)`'s options → session options (names follow MQTT.js where it has one).
///
/// Only the JavaScript types are checked here (a whole number that fits the field); what the
/// values may be is the core's rule ([`Options::validate`]), reported with its code.
pub(crate) fn connect_options_of(
    options: &JsValue,
    brokers: Vec<Broker>,
) -> JsResult<(Options, DriverOptions)> {
    let obj = options_object(options, "connect options")?;
    let o = obj.as_ref();
    let seed = random_seed();
    let mut opts = Options {
        client_id: match opt_string(o, "clientId")? {
            Some(id) => id,
            None => random_client_id(seed),
        },
        version: match opt_uint(o, "protocolVersion", 4.0, 5.0)? {
            Some(4.0) => ProtocolVersion::V311,
            _ => ProtocolVersion::V5,
        },
        random_seed: seed,
        ..Options::default()
    };
    if let Some(k) = opt_uint(o, "keepalive", 0.0, U16)? {
        opts.keep_alive = k as u16;
    }
    if let Some(c) = opt_bool(o, "clean")? {
        opts.clean_start = c;
    }
    opts.username = opt_string(o, "username")?;
    opts.password = match field(o, "password")? {
        Some(v) => Some(bytes_of(&v, "password")?),
        None => None,
    };
    opts.session_expiry_interval =
        opt_uint(o, "sessionExpiryInterval", 0.0, U32)?.map(|n| n as u32);
    if let Some(w) = field(o, "will")? {
        let wobj = options_object(&w, "will")?;
        let wo = wobj.as_ref();
        let topic = opt_string(wo, "topic")?
            .ok_or_else(|| MqttError::new("INVALID_TOPIC", "will.topic must be a string"))?;
        let payload = match field(wo, "payload")? {
            Some(p) => bytes_of(&p, "will.payload")?,
            None => Vec::new(),
        };
        let mut will = LastWill::new(topic, payload)
            .qos(qos_of(wo)?)
            .retain(opt_bool(wo, "retain")?.unwrap_or(false));
        will.delay_interval = opt_uint(wo, "delayInterval", 0.0, U32)?.map(|n| n as u32);
        will.properties = message_properties(field(wo, "properties")?)?;
        opts.will = Some(will);
    }
    if let Some(ms) = opt_uint(o, "connectTimeout", 0.0, MAX_SAFE)? {
        opts.connect_timeout_ms = ms as u64;
    }
    let mut reconnect = ReconnectPolicy::default();
    if let Some(ms) = opt_uint(o, "reconnectPeriod", 0.0, MAX_SAFE)? {
        if ms == 0.0 {
            reconnect.enabled = false;
        } else {
            reconnect.initial_delay_ms = ms as u64;
        }
    }
    if let Some(ms) = opt_uint(o, "maxReconnectDelay", 0.0, MAX_SAFE)? {
        reconnect.max_delay_ms = ms as u64;
    }
    opts.reconnect = reconnect;
    if opt_bool(o, "retryInitialConnection")?.unwrap_or(false) {
        opts.first_connect = FirstConnect::Retry;
    }
    if let Some(n) = opt_uint(o, "maxInflight", 0.0, U16)? {
        opts.max_inflight = n as u16;
    }
    if let Some(n) = opt_uint(o, "maxQueuedMessages", 0.0, U32)? {
        opts.max_queued_messages = n as usize;
    }
    if let Some(n) = opt_uint(o, "maxQueuedBytes", 0.0, U32)? {
        opts.max_queued_bytes = n as usize;
    }
    if let Some(n) = opt_uint(o, "maxPendingWriteBytes", 0.0, U32)? {
        opts.max_pending_write_bytes = n as usize;
    }
    // The session's write coalescing (on by default in the core): `coalesceWrites: false`
    // turns it off, `true` restores the core's default hold.
    match opt_bool(o, "coalesceWrites")? {
        Some(false) => opts.write_coalescing = None,
        Some(true) => opts.write_coalescing = Some(WriteCoalescing::default()),
        None => {}
    }
    if let Some(n) = opt_uint(o, "maxPacketSize", 0.0, U32)? {
        opts.max_packet_size = n as u32;
    }
    if let Some(n) = opt_uint(o, "topicAliasMaximum", 0.0, U16)? {
        opts.topic_alias_maximum = n as u16;
    }
    // The failover list: the session picks the broker of every attempt (`Session::broker`).
    opts.brokers = brokers;
    opts.validate().map_err(|e| options_error(&e))?;
    let mut listeners = Vec::new();
    if let Some(on) = field(o, "on")? {
        let on = options_object(&on, "the 'on' option")?.expect("present");
        for entry in Object::entries(&on).iter() {
            let pair: Array = entry.unchecked_into();
            let name = event_name(&pair.get(0))?;
            let f = pair
                .get(1)
                .dyn_into::<Function>()
                .map_err(|_| invalid(alloc::format!("on.{name} must be a function")))?;
            listeners.push((String::from(name), f));
        }
    }
    Ok((opts, DriverOptions { listeners }))
}

/// One seed per client, for the reconnect jitter and a generated client id: 8 bytes of
/// `crypto.getRandomValues` (two `Math.random()` halves where there is no `crypto`), folded by
/// the core's [`seed_from_entropy`].
fn random_seed() -> u64 {
    let bytes = Uint8Array::new_with_length(8);
    let crypto = Reflect::get(&js_sys::global(), &"crypto".into()).unwrap_or(JsValue::UNDEFINED);
    let filled = Reflect::get(&crypto, &"getRandomValues".into())
        .ok()
        .and_then(|f| f.dyn_into::<Function>().ok())
        .is_some_and(|f| f.call1(&crypto, &bytes).is_ok());
    let mut entropy = [0u8; 8];
    if filled {
        bytes.copy_to(&mut entropy);
    } else {
        let hi = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        let lo = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        entropy[..4].copy_from_slice(&hi.to_le_bytes());
        entropy[4..].copy_from_slice(&lo.to_le_bytes());
    }
    seed_from_entropy(&entropy)
}

// ------------------------------------------------------------------------------ making values

/// A received message as the plain object handlers get (see `MqttMessage` in the typings).
pub(crate) fn message_to_js(m: &ReceivedMessage) -> JsValue {
    let msg = &m.message;
    let p = &msg.properties;
    let props = if p == &MessageProperties::default() {
        JsValue::UNDEFINED
    } else {
        let o = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
        };
        if let Some(x) = p.payload_format_indicator {
            set("payloadFormatIndicator", x.into());
        }
        if let Some(x) = p.message_expiry_interval {
            set("messageExpiryInterval", x.into());
        }
        if let Some(x) = &p.content_type {
            set("contentType", x.into());
        }
        if let Some(x) = &p.response_topic {
            set("responseTopic", x.into());
        }
        if let Some(x) = &p.correlation_data {
            set("correlationData", Uint8Array::from(&x[..]).into());
        }
        if !p.user_properties.is_empty() {
            let u = Object::new();
            for (k, v) in &p.user_properties {
                let _ = Reflect::set(&u, &k.into(), &v.into());
            }
            set("userProperties", u.into());
        }
        if !p.subscription_identifiers.is_empty() {
            let a: Array = p
                .subscription_identifiers
                .iter()
                .map(|i| JsValue::from(*i))
                .collect();
            set("subscriptionIdentifiers", a.into());
        }
        o.into()
    };
    make_message(
        &msg.topic,
        Uint8Array::from(&msg.payload[..]),
        msg.qos as u8,
        msg.retain,
        m.dup,
        props,
    )
}

/// `{ key: value, ... }` from pairs.
pub(crate) fn object(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = Object::new();
    for (k, v) in pairs {
        let _ = Reflect::set(&o, &JsValue::from_str(k), v);
    }
    o.into()
}

pub(crate) fn opt_str(s: &Option<String>) -> JsValue {
    s.as_deref().map_or(JsValue::UNDEFINED, JsValue::from_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_311_refusal_reads_with_its_311_meaning() {
        let e = disconnect_error(&DisconnectReason::Refused {
            code: ReasonCode(4),
            version: ProtocolVersion::V311,
            reason: None,
        });
        assert_eq!(
            (e.code, e.message.as_str(), e.reason_code),
            (
                "CONNECTION_REFUSED",
                "connection refused: 0x04 (Connection refused: bad user name or password)",
                Some(4)
            )
        );
        let e = disconnect_error(&DisconnectReason::Refused {
            code: ReasonCode(0x86),
            version: ProtocolVersion::V5,
            reason: None,
        });
        assert_eq!(
            e.message,
            "connection refused: 0x86 (Bad User Name or Password)"
        );
    }

    #[test]
    fn a_311_suback_failure_is_failure() {
        let e = subscribe_failed(ReasonCode(0x80), ProtocolVersion::V311);
        assert_eq!(
            (e.code, e.message.as_str(), e.reason_code),
            (
                "SUBSCRIBE_FAILED",
                "the broker refused the subscription: 0x80 (Failure)",
                Some(0x80)
            )
        );
        assert_eq!(
            subscribe_failed_text(ReasonCode(0x87), ProtocolVersion::V5),
            "the broker refused the subscription: 0x87 (Not authorized)"
        );
        assert_eq!(
            subscribe_failed_text(ReasonCode(0x80), ProtocolVersion::V5),
            "the broker refused the subscription: 0x80 (Unspecified error)"
        );
    }
}
