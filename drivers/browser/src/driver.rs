//! The browser driver's loop: a WebSocket, one `setTimeout` timer, and the session.
//!
//! Every wake-up (a WebSocket event, the timer, an application call, the page becoming visible
//! again) feeds the session what happened with `performance.now()`, then [`pump`] drains
//! `poll_output()`: bytes go to the socket, `OpenTransport` opens a new socket to the broker
//! the session names (`Session::broker()`: failover is the session's), `CloseTransport`
//! closes it (a socket still connecting too: that is how the core's connect timeout ends an
//! open), events settle Promises through [`Completions`] and call listeners, and
//! `Wait(deadline)` re-arms the timer. Nothing here decides anything about MQTT: the first
//! connect policy, the connect timeout, reconnect timing, keep-alive, write batching,
//! resubscription, retransmission and the connection state all come from the session.
//!
//! **After WebSocket messages** the drain runs in a task of its own (a `MessageChannel` post),
//! queued behind the messages already waiting, so that a burst of acknowledgements is handled
//! before anything is written, unless the session says a write is due
//! ([`Session::transmit_due`]: a quarter of the window's acknowledgements came): then the drain
//! runs at once, inside the burst. Chromium dispatches all the frames it has read in one task,
//! up to a whole window of PUBACKs; a drain only after them left the broker without a publish
//! while the page read them (with a window of 100, batches of up to 100 and in-flight below
//! half the window a fifth of the time). What that drain writes may be held back briefly while
//! acknowledgements keep coming: that is the session's write coalescing
//! ([`Options::write_coalescing`](wasmqtt::session::Options), on by default in the core; the
//! `coalesceWrites` option turns it off), released by any other wake-up or by the session's own deadline
//! through the ordinary timer. With the inflight window full each PUBACK releases one publish,
//! and a WebSocket frame per publish costs the browser and the broker far more than the bytes.
//!
//! **Write backpressure.** `WebSocket.send` never blocks: it appends to the socket's
//! `bufferedAmount`. The driver maps that onto the session's backpressure inputs with the
//! session's own batch bound, [`Options::max_transmit_bytes`](wasmqtt::session::Options):
//! after a transmit that leaves `bufferedAmount` at or above it, the driver calls
//! `handle_write_blocked()`, so the session holds what it writes next (within its budgets:
//! QoS 0 publishes answer `WOULD_BLOCK` past `max_pending_write_bytes`, QoS 1/2 wait in the
//! bounded queue). The WebSocket has no "drained" event, so `bufferedAmount` is checked again at
//! the start of every drain (every WebSocket event, timer, application call) and, while
//! blocked, on a short timer ([`WRITE_POLL_MS`]); once it is below the bound the driver calls
//! `handle_writable(now)`. What the browser buffers is thus at most the bound plus one
//! transmit (itself at most the bound, or one packet larger than it).

use super::brokers;
use super::js::{self, MqttError};
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use js_sys::{Array, Function, Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasmqtt::broker::Broker;
use wasmqtt::session::{
    Completions, ConnectionInfo, ConnectionState, DisconnectReason, Event, Outcome, Output,
    PublishId, RequestId, Session,
};
use web_sys::{BinaryType, CloseEvent, MessageEvent, WebSocket};

pub(crate) type Shared = Rc<RefCell<Inner>>;

/// While writing is blocked, how often the driver looks at `bufferedAmount` again when nothing
/// else wakes it.
pub(crate) const WRITE_POLL_MS: u64 = 5;

/// The two halves of a pending Promise.
pub(crate) struct Settle {
    resolve: Function,
    reject: Function,
}

impl Settle {
    pub(crate) fn resolve(self, v: &JsValue) {
        let _ = self.resolve.call1(&JsValue::UNDEFINED, v);
    }
    pub(crate) fn reject(self, e: MqttError) {
        let _ = self.reject.call1(&JsValue::UNDEFINED, &e.into_js());
    }
    /// Rejects with a value made elsewhere (an `MqttError` from JavaScript).
    pub(crate) fn reject_js(self, e: &JsValue) {
        let _ = self.reject.call1(&JsValue::UNDEFINED, e);
    }
    /// Resolves with another Promise: settles as it does.
    pub(crate) fn forward(self, p: &Promise) {
        let _ = self.resolve.call1(&JsValue::UNDEFINED, p);
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

/// What a pending publish or request resolves with.
pub(crate) enum Waiter {
    /// `publish`: resolves with `{ reasonCode }`.
    Publish(Settle),
    /// `subscribe(filter)`: resolves with the granted QoS.
    SubscribeOne(Settle),
    /// `subscribe([filters])`: resolves with the reason codes.
    SubscribeMany(Settle),
    /// `unsubscribe`: resolves when UNSUBACK came; removes the handlers of these filters.
    Unsubscribe(Settle, Vec<String>),
}

/// `ws.bufferedAmount`, read as a property: a stand-in for `WebSocket` without it reads 0.
fn buffered_amount(ws: &WebSocket) -> u32 {
    js_sys::Reflect::get(ws, &JsValue::from_str("bufferedAmount"))
        .ok()
        .and_then(|v| v.as_f64())
        .map_or(0, |n| n.clamp(0.0, u32::MAX as f64) as u32)
}

struct Socket {
    ws: WebSocket,
    /// The broker it was opened to.
    broker: Broker,
    _on_open: Closure<dyn FnMut()>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

pub(crate) struct Handler {
    pub id: u32,
    pub filter: String,
    pub f: Function,
}

pub(crate) struct Inner {
    pub session: Session,
    /// The broker of the last WebSocket that ended (closed by either side, or failed to be
    /// created), until the `close` event of that connection names it.
    ended: Option<Broker>,
    socket: Option<Socket>,
    socket_gen: u64,
    timer: Option<(JsValue, u64)>,
    /// Whether the armed timer was set from inside the timer callback (a chained timer).
    timer_chained: bool,
    /// True while the timer callback runs.
    in_timer: bool,
    timer_cb: Option<Closure<dyn FnMut()>>,
    visibility_cb: Option<Closure<dyn FnMut()>>,
    flush_cb: Option<Closure<dyn FnMut()>>,
    flush_scheduled: bool,
    /// Posts the drain task that follows WebSocket messages (see [`drain_soon`]).
    task_port: Option<js::TaskPort>,
    task_scheduled: bool,
    rx_buf: Vec<u8>,
    pending: Completions<Waiter>,
    /// `request` Promises waiting for their response.
    responses: alloc::collections::BTreeMap<wasmqtt::session::ResponseId, Settle>,
    connect_waiter: Option<Settle>,
    /// The connection state last announced with a `state` event.
    announced: ConnectionState,
    pub handlers: Vec<Handler>,
    pub next_handler_id: u32,
    pub listeners: Vec<(String, Function)>,
    /// The client keeps itself alive while it may still connect, as an open WebSocket does in
    /// JavaScript: the callbacks hold it weakly, this holds it strongly until it is closed for
    /// good ([`Inner::release`]).
    self_ref: Option<Shared>,
    /// The IndexedDB store (`store` option; `None`: memory only). See [`super::store`].
    pub store: Option<super::store::IdbStore>,
    /// What every `message.ack()` calls (`manualAcks`).
    pub ack_fn: Option<Closure<dyn FnMut(f64) -> JsValue>>,
}

impl Inner {
    pub fn new(session: Session) -> Self {
        Inner {
            announced: session.connection_state(),
            session,
            ended: None,
            socket: None,
            socket_gen: 0,
            timer: None,
            timer_chained: false,
            in_timer: false,
            timer_cb: None,
            visibility_cb: None,
            flush_cb: None,
            flush_scheduled: false,
            task_port: None,
            task_scheduled: false,
            rx_buf: Vec::new(),
            pending: Completions::new(),
            responses: alloc::collections::BTreeMap::new(),
            connect_waiter: None,
            handlers: Vec::new(),
            next_handler_id: 1,
            listeners: Vec::new(),
            self_ref: None,
            store: None,
            ack_fn: None,
        }
    }

    pub fn add_publish(&mut self, id: PublishId, s: Settle) {
        self.pending.insert_publish(id, Waiter::Publish(s));
    }

    pub fn add_request(&mut self, id: RequestId, w: Waiter) {
        self.pending.insert_request(id, w);
    }

    pub fn add_response(&mut self, id: wasmqtt::session::ResponseId, s: Settle) {
        self.responses.insert(id, s);
    }

    /// The socket's `bufferedAmount` (0 without a socket, or from a `WebSocket` stand-in that
    /// has none).
    pub fn buffered_amount(&self) -> u32 {
        self.socket.as_ref().map_or(0, |s| buffered_amount(&s.ws))
    }

    fn write_bound(&self) -> u32 {
        self.session.options().max_transmit_bytes.max(1) as u32
    }

    /// Writes a transmit; tells the session when the socket's buffer reached the bound.
    fn send(&mut self, bytes: &[u8]) {
        let Some(s) = &self.socket else { return };
        if s.ws.ready_state() != WebSocket::OPEN {
            return;
        }
        // A failed send means the socket is going away; its close event follows.
        let _ = s.ws.send_with_u8_array(bytes);
        if buffered_amount(&s.ws) >= self.write_bound() {
            self.session.handle_write_blocked();
        }
    }

    /// While blocked: whether the socket's buffer drained below the bound.
    fn check_writable(&mut self, now: u64) {
        if self.session.is_write_blocked() && self.buffered_amount() < self.write_bound() {
            self.session.handle_writable(now);
        }
    }

    /// The broker of the current WebSocket (open or opening).
    pub fn broker(&self) -> Option<&Broker> {
        self.socket.as_ref().map(|s| &s.broker)
    }

    fn close_socket(&mut self) {
        if let Some(s) = self.socket.take() {
            s.ws.set_onopen(None);
            s.ws.set_onmessage(None);
            s.ws.set_onclose(None);
            let _ = s.ws.close_with_code(1000);
            self.ended = Some(s.broker);
        }
        self.socket_gen += 1;
    }

    fn arm_timer(&mut self, deadline: Option<u64>, now: u64) {
        // While writing is blocked, look at `bufferedAmount` again soon (see the module docs).
        let deadline = if self.session.is_write_blocked() {
            let poll = now.saturating_add(WRITE_POLL_MS);
            Some(deadline.map_or(poll, |d| d.min(poll)))
        } else {
            deadline
        };
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
        if let Some(p) = self.task_port.take() {
            p.close();
        }
        super::store::close(self.store.as_ref());
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
                    inner.task_scheduled = false;
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
        // The same drain serves both: either finding the other's flag cleared costs one extra
        // drain that finds nothing to do.
        inner.task_port = Some(js::task_poster(flush_cb.as_ref().unchecked_ref()));
        inner.flush_cb = Some(flush_cb);
        inner.visibility_cb = visibility;
        inner.self_ref = Some(rc.clone());
        inner.connect_waiter = Some(waiter);
        // The clock first, so the connect deadline counts from now.
        inner.session.handle_timeout(js::now_ms());
        inner.session.start();
        // `connecting`: the state a client starts in, not announced.
        inner.announced = inner.session.connection_state();
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

/// Drains now if the session has a full batch to write, and otherwise at the end of the current
/// task: many `publish` calls in one task go out together (the session coalesces them).
pub(crate) fn flush_soon(rc: &Shared) {
    let mut inner = rc.borrow_mut();
    if inner.session.transmit_ready() {
        drop(inner);
        pump(rc);
        return;
    }
    if inner.flush_scheduled {
        return;
    }
    if let Some(cb) = &inner.flush_cb {
        js::queue_microtask(cb.as_ref().unchecked_ref());
        inner.flush_scheduled = true;
    }
}

/// After a WebSocket message: drains in a task of its own, queued behind the messages that
/// already wait, so that a burst of acknowledgements releases its publishes in one write.
fn drain_soon(inner: &mut Inner) {
    if inner.task_scheduled {
        return;
    }
    if let Some(p) = &inner.task_port {
        p.post_message(&JsValue::UNDEFINED);
        inner.task_scheduled = true;
    }
}

/// `WebSocket closed (code N: reason)`, the text the session's transport error carries.
fn close_text(ev: &CloseEvent) -> String {
    let reason = ev.reason();
    if reason.is_empty() {
        alloc::format!("WebSocket closed (code {})", ev.code())
    } else {
        alloc::format!("WebSocket closed (code {}: {reason})", ev.code())
    }
}

fn open_socket(rc: &Shared, inner: &mut Inner) {
    inner.close_socket();
    let gen = inner.socket_gen;
    // The session decides which broker (failover across `Options::brokers`).
    let Some(broker) = inner.session.broker().cloned() else {
        // `connect` always gives the session a broker: nothing to open means a bug, reported
        // as a failed attempt rather than a panic.
        inner
            .session
            .handle_disconnected_with(js::now_ms(), "no broker to connect to");
        return;
    };
    let ws = match WebSocket::new_with_str(&brokers::websocket_url(&broker), "mqtt") {
        Ok(ws) => ws,
        Err(e) => {
            let text = e
                .dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
                .unwrap_or_else(|| String::from("the WebSocket could not be created"));
            inner.ended = Some(broker);
            inner.session.handle_disconnected_with(js::now_ms(), text);
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
                    inner.close_socket();
                    inner
                        .session
                        .handle_disconnected_with(js::now_ms(), "the broker sent a text frame");
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
                if !inner.session.transmit_due() {
                    drain_soon(&mut inner);
                    return;
                }
            } else {
                return;
            }
            // A quarter of the window came (the session's write coalescing lets go): write now,
            // within the burst, rather than after all of it.
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
                inner.close_socket();
                inner
                    .session
                    .handle_disconnected_with(js::now_ms(), close_text(&ev));
            }
            pump(&rc);
        }
    });
    ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
    ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
    inner.socket = Some(Socket {
        ws,
        broker,
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
            inner.check_writable(js::now_ms());
            loop {
                match inner.session.poll_output() {
                    Output::Transmit(bytes) => inner.send(&bytes),
                    Output::OpenTransport => open_socket(rc, &mut inner),
                    Output::CloseTransport => inner.close_socket(),
                    Output::Event(e) => {
                        // A connection's end names its broker (taken now: the next
                        // broker's WebSocket may already be opening).
                        let ended = match e {
                            Event::Disconnected { .. } => inner.ended.take(),
                            _ => None,
                        };
                        events.push((e, ended));
                    }
                    Output::Wait(deadline) => {
                        inner.arm_timer(deadline, js::now_ms());
                        super::store::turn(rc, &mut inner);
                        break;
                    }
                }
            }
        }
        if events.is_empty() {
            announce_state(rc);
            return;
        }
        for (e, ended) in events {
            dispatch(rc, e, ended);
        }
    }
}

/// Calls the listeners registered for `name` with `arg`; a listener that throws is reported on
/// the console and does not disturb the client.
pub(crate) fn emit(rc: &Shared, name: &str, arg: &JsValue) {
    let fs: Vec<Function> = rc
        .borrow()
        .listeners
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, f)| f.clone())
        .collect();
    for f in fs {
        if let Err(e) = f.call1(&JsValue::UNDEFINED, arg) {
            js::console_error(&JsValue::from_str("wasmqtt: a listener threw"), &e);
        }
    }
}

/// Emits `state` when the session's connection state differs from the one last announced.
fn announce_state(rc: &Shared) {
    let state = {
        let Ok(mut inner) = rc.try_borrow_mut() else {
            return;
        };
        let state = inner.session.connection_state();
        if inner.announced == state {
            return;
        }
        inner.announced = state;
        state
    };
    emit(rc, "state", &JsValue::from_str(state.as_str()));
}

/// The `connect` / `reconnect` events' argument, with the broker connected to.
fn connection_info_js(c: &ConnectionInfo) -> JsValue {
    js::object(&[
        (
            "broker",
            c.broker
                .as_ref()
                .map_or(JsValue::UNDEFINED, brokers::broker_name),
        ),
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

/// Settles a publish's or a request's Promise with its outcome.
fn settle(rc: &Shared, waiter: Waiter, outcome: Outcome) {
    match (waiter, outcome) {
        (Waiter::Publish(s), Outcome::Published(Ok(code))) => {
            s.resolve(&js::object(&[("reasonCode", code.0.into())]))
        }
        (Waiter::Publish(s), Outcome::Published(Err(e))) => s.reject(js::publish_error(&e)),
        (Waiter::SubscribeOne(s), Outcome::Subscribed(codes)) => match codes.first() {
            Some(c) if !c.is_error() => s.resolve(&JsValue::from(c.0)),
            Some(c) => {
                // A 3.1.1 0x80 is "Failure", not v5's "Unspecified error".
                let version = rc.borrow().session.options().version;
                s.reject(js::subscribe_failed(*c, version))
            }
            None => s.reject(MqttError::new("SUBSCRIBE_FAILED", "empty SUBACK")),
        },
        (Waiter::SubscribeMany(s), Outcome::Subscribed(codes)) => {
            let a: Array = codes.iter().map(|c| JsValue::from(c.0)).collect();
            s.resolve(&a);
        }
        (Waiter::Unsubscribe(s, filters), Outcome::Unsubscribed(codes)) => {
            rc.borrow_mut()
                .handlers
                .retain(|h| !filters.contains(&h.filter));
            match codes.iter().find(|c| c.is_error()) {
                Some(c) => s.reject(
                    MqttError::new(
                        "UNSUBSCRIBE_FAILED",
                        alloc::format!("the broker refused to unsubscribe: {c}"),
                    )
                    .reason(*c),
                ),
                None => s.resolve(&JsValue::UNDEFINED),
            }
        }
        (
            Waiter::Publish(s)
            | Waiter::SubscribeOne(s)
            | Waiter::SubscribeMany(s)
            | Waiter::Unsubscribe(s, _),
            outcome,
        ) => match outcome {
            Outcome::RequestFailed(e) => s.reject(js::request_error(&e)),
            // An outcome of the other kind for this id: cannot happen (ids are per kind).
            _ => s.reject(MqttError::new("REQUEST_FAILED", "unexpected completion")),
        },
    }
}

/// Delivers one event; `ended` is the broker of the connection a `Disconnected` ended.
fn dispatch(rc: &Shared, event: Event, ended: Option<Broker>) {
    if let Event::Response { id, result } = &event {
        let waiter = rc.borrow_mut().responses.remove(id);
        if let Some(s) = waiter {
            match result {
                Ok(m) => s.resolve(&js::message_to_js(m)),
                Err(e) => s.reject(js::response_error(e)),
            }
        }
        return;
    }
    if let Event::PublishComplete { id, result } = &event {
        // Completed (failed) before its record was stored: `publish()` fails as `done` does.
        let admit = rc
            .borrow_mut()
            .store
            .as_mut()
            .and_then(|s| s.take_admitting(*id));
        if let Some(s) = admit {
            match result {
                Err(e) => s.reject(js::publish_error(e)),
                Ok(_) => s.resolve(&js::object(&[("admitted", true.into())])),
            }
        }
    }
    let settled = rc.borrow_mut().pending.settle(&event);
    if let Some((waiter, outcome)) = settled {
        settle(rc, waiter, outcome);
        return;
    }
    match event {
        Event::Message(m) => {
            let msg = super::store::with_ack(js::message_to_js(&m), &rc.borrow(), m.ack);
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
        Event::Connected(info) => {
            let js_info = connection_info_js(&info);
            let (waiter, reconnected) = {
                let mut inner = rc.borrow_mut();
                (inner.connect_waiter.take(), inner.session.connections() > 1)
            };
            announce_state(rc);
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
        } => on_disconnected(rc, reason, reconnect_at, ended),
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
        // Completions of nothing kept here, and kinds of event this driver does not know yet
        // (the enum is non-exhaustive).
        _ => {}
    }
}

/// A connection ended. The session decided what follows (first-connect policy, back-off, or
/// closed for good): `reconnect_at` says which.
fn on_disconnected(
    rc: &Shared,
    reason: DisconnectReason,
    reconnect_at: Option<u64>,
    ended: Option<Broker>,
) {
    let err = js::disconnect_error(&reason);
    let closed = reconnect_at.is_none();
    let detail = js::object(&[
        ("code", err.code.into()),
        ("message", err.message.as_str().into()),
        (
            "reasonCode",
            err.reason_code.map_or(JsValue::UNDEFINED, JsValue::from),
        ),
        (
            "reconnectIn",
            reconnect_at.map_or(JsValue::UNDEFINED, |at| {
                JsValue::from(at.saturating_sub(js::now_ms()) as f64)
            }),
        ),
        (
            "broker",
            ended
                .as_ref()
                .map_or(JsValue::UNDEFINED, brokers::broker_name),
        ),
    ]);
    let waiter = if closed {
        rc.borrow_mut().connect_waiter.take()
    } else {
        None
    };
    if let Some(w) = waiter {
        w.reject(js::disconnect_error(&reason));
    }
    announce_state(rc);
    emit(rc, "close", &detail);
    if closed {
        if !matches!(reason, DisconnectReason::ByClient) {
            emit(rc, "error", &err.into_js());
        }
        emit(rc, "end", &JsValue::UNDEFINED);
        // Nothing else can happen to this client: drop the callbacks that keep it alive.
        rc.borrow_mut().release();
    }
}
