//! The browser driver's loop: a WebSocket, one `setTimeout` timer, and the session.
//!
//! Every wake-up (a WebSocket event, the timer, an application call, the page becoming visible
//! again) feeds the session what happened with `performance.now()`, then [`pump`] drains
//! `poll_output()`: bytes go to the socket, `OpenTransport` opens a new socket, `CloseTransport`
//! closes it, events settle Promises and call listeners, and `Wait(deadline)` re-arms the timer.
//! Nothing here decides anything about MQTT: reconnect timing, keep-alive, resubscription and
//! retransmission all come from the session.

use super::js::{self, MqttError};
use alloc::collections::BTreeMap;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasmqtt::session::{
    ConnectionInfo, DisconnectReason, Event, Output, PublishId, RequestId, Session,
};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

pub(crate) type Shared = Rc<RefCell<Inner>>;

/// The two halves of a pending Promise.
pub(crate) struct Settle {
    resolve: Function,
    reject: Function,
}

impl Settle {
    fn resolve(self, v: &JsValue) {
        let _ = self.resolve.call1(&JsValue::UNDEFINED, v);
    }
    fn reject(self, e: MqttError) {
        let _ = self.reject.call1(&JsValue::UNDEFINED, &e.into_js());
    }
}

/// A new Promise and its resolve/reject functions.
pub(crate) fn promise() -> (Promise, Settle) {
    let mut parts = None;
    let p = Promise::new(&mut |resolve, reject| parts = Some(Settle { resolve, reject }));
    (p, parts.expect("the Promise executor runs synchronously"))
}

pub(crate) fn rejected(e: MqttError) -> Promise {
    Promise::reject(&e.into_js())
}

enum RequestKind {
    /// `subscribe(filter)`: resolves with the granted QoS.
    SubscribeOne,
    /// `subscribe([filters])`: resolves with the reason codes.
    SubscribeMany,
    Unsubscribe(Vec<String>),
}

struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    fn detach_and_close(self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
        let _ = self.ws.close_with_code(1000);
    }
}

/// Application-facing connection state (`client.state`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ConnState {
    Connecting,
    Connected,
    Reconnecting,
    Closed,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Connected => "connected",
            ConnState::Reconnecting => "reconnecting",
            ConnState::Closed => "closed",
        }
    }
}

pub(crate) struct Handler {
    pub id: u32,
    pub filter: String,
    pub f: Function,
}

#[derive(Default)]
pub(crate) struct Listeners {
    pub map: BTreeMap<String, Vec<Function>>,
}

pub(crate) struct Inner {
    pub session: Session,
    url: String,
    socket: Option<Socket>,
    socket_gen: u64,
    /// Why the last socket closed (code and reason), for error messages.
    last_close: Option<String>,
    timer: Option<(JsValue, u64)>,
    /// Whether the armed timer was set from inside the timer callback (a chained timer).
    timer_chained: bool,
    /// True while the timer callback runs.
    in_timer: bool,
    timer_cb: Option<Closure<dyn FnMut()>>,
    visibility_cb: Option<Closure<dyn FnMut()>>,
    flush_cb: Option<Closure<dyn FnMut()>>,
    flush_scheduled: bool,
    rx_buf: Vec<u8>,
    publishes: BTreeMap<u64, Settle>,
    requests: BTreeMap<u64, (Settle, RequestKind)>,
    connect_waiter: Option<Settle>,
    retry_initial: bool,
    pub state: ConnState,
    pub info: Option<ConnectionInfo>,
    pub handlers: Vec<Handler>,
    pub next_handler_id: u32,
    pub listeners: Listeners,
    /// The client keeps itself alive while it may still connect, as an open WebSocket does in
    /// JavaScript: the callbacks hold it weakly, this holds it strongly until it is closed for
    /// good ([`Inner::release`]).
    self_ref: Option<Shared>,
}

impl Inner {
    pub fn new(session: Session, url: String, retry_initial: bool) -> Self {
        Inner {
            session,
            url,
            socket: None,
            socket_gen: 0,
            last_close: None,
            timer: None,
            timer_chained: false,
            in_timer: false,
            timer_cb: None,
            visibility_cb: None,
            flush_cb: None,
            flush_scheduled: false,
            rx_buf: Vec::new(),
            publishes: BTreeMap::new(),
            requests: BTreeMap::new(),
            connect_waiter: None,
            retry_initial,
            state: ConnState::Connecting,
            info: None,
            handlers: Vec::new(),
            next_handler_id: 1,
            listeners: Listeners::default(),
            self_ref: None,
        }
    }

    pub fn add_publish(&mut self, id: PublishId, s: Settle) {
        self.publishes.insert(id.0, s);
    }

    fn add_request(&mut self, id: RequestId, s: Settle, kind: RequestKind) {
        self.requests.insert(id.0, (s, kind));
    }

    pub fn add_subscribe(&mut self, id: RequestId, s: Settle, single: bool) {
        let kind = if single {
            RequestKind::SubscribeOne
        } else {
            RequestKind::SubscribeMany
        };
        self.add_request(id, s, kind);
    }

    pub fn add_unsubscribe(&mut self, id: RequestId, s: Settle, filters: Vec<String>) {
        self.add_request(id, s, RequestKind::Unsubscribe(filters));
    }

    fn send(&mut self, bytes: &[u8]) {
        if let Some(s) = &self.socket {
            if s.ws.ready_state() == WebSocket::OPEN {
                // A failed send means the socket is going away; its close event follows.
                let _ = s.ws.send_with_u8_array(bytes);
            }
        }
    }

    fn close_socket(&mut self) {
        if let Some(s) = self.socket.take() {
            s.detach_and_close();
        }
        self.socket_gen += 1;
    }

    fn arm_timer(&mut self, deadline: Option<u64>, now: u64) {
        if let (Some((_, at)), Some(d)) = (&self.timer, deadline) {
            // A timer already set for this deadline or an earlier one stays: every write moves
            // the keep-alive deadline a little later, and re-setting the timer for each would
            // cost more than the one early wake-up (which finds nothing due and re-arms).
            // Except a chained timer (set from the timer callback) when we are not in one: Chrome
            // throttles a hidden page's timers to one wake-up a minute once they chain 5 deep,
            // which would make PINGREQs late. Re-setting it from a network task (the PINGRESP
            // that answers each PINGREQ) starts a new chain every keep-alive period.
            if *at <= d && (self.in_timer || !self.timer_chained) {
                return;
            }
        }
        if let Some((h, _)) = self.timer.take() {
            js::clear_timeout(&h);
        }
        let (Some(d), Some(cb)) = (deadline, &self.timer_cb) else {
            return;
        };
        let delay = d.saturating_sub(now).min(i32::MAX as u64) as f64;
        let h = js::set_timeout(cb.as_ref().unchecked_ref(), delay);
        self.timer = Some((h, d));
        self.timer_chained = self.in_timer;
    }

    /// Drops every JavaScript callback the client holds, so nothing keeps it alive.
    fn release(&mut self) {
        if let Some((h, _)) = self.timer.take() {
            js::clear_timeout(&h);
        }
        self.close_socket();
        if let Some(cb) = self.visibility_cb.take() {
            let doc = js_sys::Reflect::get(&js_sys::global(), &"document".into())
                .unwrap_or(JsValue::UNDEFINED);
            if let Some(t) = doc.dyn_ref::<web_sys::EventTarget>() {
                let f: &Function = cb.as_ref().unchecked_ref();
                let _ = t.remove_event_listener_with_callback("visibilitychange", f);
                let _ = t.remove_event_listener_with_callback("resume", f);
            }
        }
        // The timer and flush callbacks stay until the client itself goes: a microtask already
        // queued may still call the flush callback, which then finds nothing to do.
        self.self_ref = None;
    }
}

/// Sets up the timer, the deferred flush and the page-visibility hook; starts connecting.
pub(crate) fn start(rc: &Shared, waiter: Settle) {
    let weak = Rc::downgrade(rc);
    let timer_cb = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(rc) = weak.upgrade() {
                if let Ok(mut inner) = rc.try_borrow_mut() {
                    inner.timer = None;
                    inner.in_timer = true;
                    inner.session.handle_timeout(js::now_ms());
                }
                pump(&rc);
                if let Ok(mut inner) = rc.try_borrow_mut() {
                    inner.in_timer = false;
                }
            }
        }
    });
    let flush_cb = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(rc) = weak.upgrade() {
                if let Ok(mut inner) = rc.try_borrow_mut() {
                    inner.flush_scheduled = false;
                }
                pump(&rc);
            }
        }
    });
    // Throttled or frozen background tabs fire timers late. Coming back to the foreground (or
    // out of a freeze) is a wake-up like any other: let the session look at the clock now.
    let visibility_cb = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            if let Some(rc) = weak.upgrade() {
                wake(&rc);
            }
        }
    });
    let doc =
        js_sys::Reflect::get(&js_sys::global(), &"document".into()).unwrap_or(JsValue::UNDEFINED);
    let mut visibility = None;
    if let Some(t) = doc.dyn_ref::<web_sys::EventTarget>() {
        let f: &Function = visibility_cb.as_ref().unchecked_ref();
        let _ = t.add_event_listener_with_callback("visibilitychange", f);
        let _ = t.add_event_listener_with_callback("resume", f);
        visibility = Some(visibility_cb);
    }
    {
        let mut inner = rc.borrow_mut();
        inner.timer_cb = Some(timer_cb);
        inner.flush_cb = Some(flush_cb);
        inner.visibility_cb = visibility;
        inner.self_ref = Some(rc.clone());
        inner.connect_waiter = Some(waiter);
        inner.session.connect(js::now_ms());
    }
    pump(rc);
}

/// Lets the session check its deadlines against the clock now (the timer may be late).
pub(crate) fn wake(rc: &Shared) {
    if let Ok(mut inner) = rc.try_borrow_mut() {
        inner.session.handle_timeout(js::now_ms());
    }
    pump(rc);
}

/// Runs [`pump`] at the end of the current task: many `publish` calls in one task go out in one
/// WebSocket frame.
pub(crate) fn schedule_flush(rc: &Shared) {
    let mut inner = rc.borrow_mut();
    if inner.flush_scheduled {
        return;
    }
    if let Some(cb) = &inner.flush_cb {
        js::queue_microtask(cb.as_ref().unchecked_ref());
        inner.flush_scheduled = true;
    }
}

fn open_socket(rc: &Shared, inner: &mut Inner) {
    inner.close_socket();
    let gen = inner.socket_gen;
    let ws = match WebSocket::new_with_str(&inner.url, "mqtt") {
        Ok(ws) => ws,
        Err(e) => {
            inner.last_close = Some(
                e.dyn_ref::<js_sys::Error>()
                    .map(|e| String::from(e.message()))
                    .unwrap_or_else(|| String::from("the WebSocket could not be created")),
            );
            inner.session.handle_disconnected(js::now_ms());
            return;
        }
    };
    ws.set_binary_type(BinaryType::Arraybuffer);
    let weak = Rc::downgrade(rc);
    let on_open = Closure::<dyn FnMut()>::new({
        let weak = weak.clone();
        move || {
            let Some(rc) = weak.upgrade() else { return };
            if let Ok(mut inner) = rc.try_borrow_mut() {
                if inner.socket_gen != gen {
                    return;
                }
                inner.session.handle_connected(js::now_ms());
            }
            pump(&rc);
        }
    });
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new({
        let weak = weak.clone();
        move |ev: MessageEvent| {
            let Some(rc) = weak.upgrade() else { return };
            if let Ok(mut inner) = rc.try_borrow_mut() {
                if inner.socket_gen != gen {
                    return;
                }
                let data = ev.data();
                let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() else {
                    // MQTT over WebSocket is binary only (MQTT 5.0 §6.0): a text frame breaks it.
                    inner.last_close = Some(String::from("the broker sent a text frame"));
                    inner.close_socket();
                    inner.session.handle_disconnected(js::now_ms());
                    drop(inner);
                    pump(&rc);
                    return;
                };
                let view = Uint8Array::new(buf);
                let mut rx = core::mem::take(&mut inner.rx_buf);
                rx.resize(view.length() as usize, 0);
                view.copy_to(&mut rx);
                let now = js::now_ms();
                inner.session.handle_bytes(&rx, now);
                // Every arrival is also a clock check: a late (throttled) timer must not delay
                // a due PINGREQ while data flows.
                inner.session.handle_timeout(now);
                rx.clear();
                inner.rx_buf = rx;
            }
            pump(&rc);
        }
    });
    let on_close = Closure::<dyn FnMut(CloseEvent)>::new({
        let weak = weak.clone();
        move |ev: CloseEvent| {
            let Some(rc) = weak.upgrade() else { return };
            if let Ok(mut inner) = rc.try_borrow_mut() {
                if inner.socket_gen != gen {
                    return;
                }
                let reason = ev.reason();
                inner.last_close = Some(if reason.is_empty() {
                    alloc::format!("WebSocket closed (code {})", ev.code())
                } else {
                    alloc::format!("WebSocket closed (code {}: {reason})", ev.code())
                });
                if let Some(s) = inner.socket.take() {
                    s.detach_and_close();
                }
                inner.socket_gen += 1;
                inner.session.handle_disconnected(js::now_ms());
            }
            pump(&rc);
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    inner.socket = Some(Socket {
        ws,
        _on_open: on_open,
        _on_message: on_message,
        _on_close: on_close,
    });
}

/// Does everything the session asks for until it says "wait", then delivers its events.
pub(crate) fn pump(rc: &Shared) {
    loop {
        let mut events = Vec::new();
        {
            let Ok(mut inner) = rc.try_borrow_mut() else {
                // Called from inside a pump (a listener calling into the client): the outer
                // pump loops again after its listeners return.
                return;
            };
            loop {
                match inner.session.poll_output() {
                    Output::Transmit(bytes) => inner.send(&bytes),
                    Output::OpenTransport => open_socket(rc, &mut inner),
                    Output::CloseTransport => inner.close_socket(),
                    Output::Event(e) => events.push(e),
                    Output::Wait(deadline) => {
                        inner.arm_timer(deadline, js::now_ms());
                        break;
                    }
                }
            }
        }
        if events.is_empty() {
            return;
        }
        for e in events {
            dispatch(rc, e);
        }
    }
}

/// Calls the listeners registered for `name` with `arg`; a listener that throws is reported on
/// the console and does not disturb the client.
pub(crate) fn emit(rc: &Shared, name: &str, arg: &JsValue) {
    let fs: Vec<Function> = match rc.borrow().listeners.map.get(name) {
        Some(v) if !v.is_empty() => v.clone(),
        _ => return,
    };
    for f in fs {
        if let Err(e) = f.call1(&JsValue::UNDEFINED, arg) {
            js::console_error(&JsValue::from_str("wasmqtt: a listener threw"), &e);
        }
    }
}

fn set_state(rc: &Shared, state: ConnState) {
    {
        let mut inner = rc.borrow_mut();
        if inner.state == state {
            return;
        }
        inner.state = state;
    }
    emit(rc, "state", &JsValue::from_str(state.as_str()));
}

fn connection_info_js(c: &ConnectionInfo) -> JsValue {
    js::object(&[
        ("sessionPresent", c.session_present.into()),
        ("assignedClientId", js::opt_str(&c.assigned_client_id)),
        ("keepAlive", c.keep_alive.into()),
        ("inflightWindow", c.inflight_window.into()),
        (
            "maxPacketSize",
            c.max_packet_size.map_or(JsValue::UNDEFINED, JsValue::from),
        ),
        ("topicAliasMaximum", c.topic_alias_maximum.into()),
        ("maximumQos", (c.maximum_qos as u8).into()),
        ("retainAvailable", c.retain_available.into()),
        ("reasonString", js::opt_str(&c.reason_string)),
    ])
}

fn dispatch(rc: &Shared, event: Event) {
    match event {
        Event::Message(m) => {
            let msg = js::message_to_js(&m);
            let topic = &m.message.topic;
            let handlers: Vec<Function> = rc
                .borrow()
                .handlers
                .iter()
                .filter(|h| wasmqtt::topic::matches(&h.filter, topic))
                .map(|h| h.f.clone())
                .collect();
            for f in handlers {
                if let Err(e) = f.call1(&JsValue::UNDEFINED, &msg) {
                    js::console_error(&JsValue::from_str("wasmqtt: a message handler threw"), &e);
                }
            }
            emit(rc, "message", &msg);
        }
        Event::PublishComplete { id, result } => {
            let settle = rc.borrow_mut().publishes.remove(&id.0);
            if let Some(s) = settle {
                match result {
                    Ok(code) => s.resolve(&js::object(&[("reasonCode", code.0.into())])),
                    Err(e) => s.reject(js::publish_error(&e)),
                }
            }
        }
        Event::Subscribed { id, reason_codes } => {
            let pending = rc.borrow_mut().requests.remove(&id.0);
            match pending {
                Some((s, RequestKind::SubscribeOne)) => match reason_codes.first() {
                    Some(c) if !c.is_error() => s.resolve(&JsValue::from(c.0)),
                    Some(c) => s.reject(
                        MqttError::new(
                            "SUBSCRIBE_FAILED",
                            alloc::format!(
                                "the broker refused the subscription: {}",
                                js::reason_text(*c)
                            ),
                        )
                        .reason(*c),
                    ),
                    None => s.reject(MqttError::new("SUBSCRIBE_FAILED", "empty SUBACK")),
                },
                Some((s, _)) => {
                    let a: Array = reason_codes.iter().map(|c| JsValue::from(c.0)).collect();
                    s.resolve(&a);
                }
                None => {}
            }
        }
        Event::Unsubscribed { id, reason_codes } => {
            let pending = rc.borrow_mut().requests.remove(&id.0);
            if let Some((s, kind)) = pending {
                if let RequestKind::Unsubscribe(filters) = kind {
                    rc.borrow_mut()
                        .handlers
                        .retain(|h| !filters.contains(&h.filter));
                }
                match reason_codes.iter().find(|c| c.is_error()) {
                    Some(c) => s.reject(
                        MqttError::new(
                            "UNSUBSCRIBE_FAILED",
                            alloc::format!(
                                "the broker refused to unsubscribe: {}",
                                js::reason_text(*c)
                            ),
                        )
                        .reason(*c),
                    ),
                    None => s.resolve(&JsValue::UNDEFINED),
                }
            }
        }
        Event::RequestFailed { id, error } => {
            let pending = rc.borrow_mut().requests.remove(&id.0);
            if let Some((s, _)) = pending {
                s.reject(js::request_error(&error));
            }
        }
        Event::Connected(info) => {
            let js_info = connection_info_js(&info);
            let (waiter, reconnected) = {
                let mut inner = rc.borrow_mut();
                let reconnected = inner.info.is_some();
                inner.info = Some(info);
                (inner.connect_waiter.take(), reconnected)
            };
            set_state(rc, ConnState::Connected);
            if let Some(w) = waiter {
                w.resolve(&super::Client::wrap(rc.clone()));
            }
            emit(
                rc,
                if reconnected { "reconnect" } else { "connect" },
                &js_info,
            );
            if reconnected {
                emit(rc, "connect", &js_info);
            }
        }
        Event::Disconnected {
            reason,
            reconnect_at,
        } => on_disconnected(rc, reason, reconnect_at),
        Event::Resubscribing { filters } => {
            emit(rc, "resubscribe", &JsValue::from(filters as u32));
        }
        Event::AuthChallenge { .. } => {
            // Enhanced authentication is not offered by this driver: refuse it cleanly.
            let e = MqttError::new(
                "AUTH_NOT_SUPPORTED",
                "the broker asked for enhanced authentication",
            );
            emit(rc, "error", &e.into_js());
        }
        // A kind of event this driver does not know yet (the enum is non-exhaustive).
        _ => {}
    }
}

fn on_disconnected(rc: &Shared, reason: DisconnectReason, reconnect_at: Option<u64>) {
    let (err, first_failure) = {
        let inner = rc.borrow();
        let detail = inner.last_close.clone();
        (
            js::disconnect_error(&reason, detail.as_deref()),
            inner.connect_waiter.is_some() && !inner.retry_initial,
        )
    };
    if first_failure && reconnect_at.is_some() {
        // `connect` was not asked to keep trying: give up now and reject it.
        let waiter = rc.borrow_mut().connect_waiter.take();
        {
            let mut inner = rc.borrow_mut();
            inner.session.disconnect(js::now_ms());
        }
        if let Some(w) = waiter {
            w.reject(err);
        }
        // The session's own "closed by client" event follows through the pump.
        return;
    }
    let closed = reconnect_at.is_none();
    let code = err.code;
    let message = err.message.clone();
    let reason_code = err.reason_code;
    let detail = js::object(&[
        ("code", code.into()),
        ("message", message.as_str().into()),
        (
            "reasonCode",
            reason_code.map_or(JsValue::UNDEFINED, JsValue::from),
        ),
        (
            "reconnectIn",
            reconnect_at.map_or(JsValue::UNDEFINED, |at| {
                JsValue::from(at.saturating_sub(js::now_ms()) as f64)
            }),
        ),
    ]);
    let waiter = if closed {
        rc.borrow_mut().connect_waiter.take()
    } else {
        None
    };
    if let Some(w) = waiter {
        w.reject(err);
    }
    set_state(
        rc,
        if closed {
            ConnState::Closed
        } else {
            ConnState::Reconnecting
        },
    );
    emit(rc, "close", &detail);
    if closed {
        if !matches!(reason, DisconnectReason::ByClient) {
            emit(
                rc,
                "error",
                &MqttError {
                    code,
                    message,
                    reason_code,
                }
                .into_js(),
            );
        }
        emit(rc, "end", &JsValue::UNDEFINED);
        // Nothing else can happen to this client: drop the callbacks that keep it alive.
        rc.borrow_mut().release();
    }
}
