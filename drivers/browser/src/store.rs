//! Durable session state in IndexedDB, and manual acknowledgement, for the browser driver.
//!
//! `connect(url, { store: { indexedDb: 'name', sync } })` opens (or creates) the database
//! `name` with one object store, `records`, holding the session's records as the core encodes
//! them (binary keys, `Uint8Array` values: see `wasmqtt::session`'s durable state). What it
//! holds is read in one transaction and given to [`Session::resume`]: a non-empty store resumes
//! the session (its client identifier, subscriptions, inbound QoS 2 identifiers, every accepted
//! message not completed). The messages resumed are also decoded here for the application
//! (`client.resumed`), so that it does not publish again what the store already holds.
//!
//! **Applying batches.** After every drain of the session ([`turn`]) the driver takes the next
//! batch ([`Session::take_store_ops`]) and writes it in one `readwrite` transaction; at most one
//! is in flight (meanwhile the session records the next one: group commit). Its `complete`
//! event, IndexedDB's durability point, reports it ([`Session::handle_stored`]); then the
//! publishes [`Session::take_admitted`] names resolve their `publish()` Promise. The
//! transaction's `durability` hint is `strict` for a batch the policy says to sync (every batch
//! with `every-message`) and `relaxed` otherwise: in Chromium `strict` makes `complete` wait for
//! the write to be flushed to disk, `relaxed` lets it fire once the browser has the data
//! (which survives a page reload, a tab crash or a killed renderer, not a power loss or an
//! operating system crash). A transaction that aborts (quota exceeded, the database closed or
//! deleted under the page) ends the client: nothing more is admitted, what waits fails, and the
//! store still holds everything admitted.
//!
//! **Manual acknowledgement** (`manualAcks: true`): every received QoS 1/2 message gets
//! `message.ack()`, which hands its id to [`Session::ack`]; the core sends the PUBACK / PUBREC
//! in the order the messages arrived, bounded by `receiveMaximum`.

use super::driver::{pump, Inner, Settle, Shared};
use super::js::{self, JsResult, MqttError};
use alloc::collections::BTreeMap;
use alloc::rc::Weak;
use alloc::string::String;
use alloc::vec::Vec;
use js_sys::{Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasmqtt::codec::{Decoder, Packet, ProtocolVersion, QoS, MAX_PACKET_SIZE};
use wasmqtt::session::{AckId, Options, PublishId, Session, StoreOp, StoreTicket, SyncPolicy};

#[wasm_bindgen(inline_js = r#"
const STORE = 'records';
function storeError(code, message, cause) {
    const e = new Error(cause && cause.message ? `${message}: ${cause.name}: ${cause.message}` : message);
    e.name = 'MqttError';
    e.code = code;
    return e;
}
function idbError(e, what) {
    const name = e && e.name;
    const code = name === 'QuotaExceededError' ? 'STORE_QUOTA'
        : name === 'InvalidStateError' ? 'STORE_CLOSED' : 'STORE_FAILED';
    return storeError(code, `IndexedDB ${what} failed`, e);
}
// Diagnostics (console.warn, prefixed): a blocked open, a closed connection, a slow write.
const warn = (...a) => { try { console.warn('wasmqtt store:', ...a); } catch {} };
// A write not finished after this long is reported (again every such period) with what it holds.
const SLOW_WRITE_MS = 5000;
export function idbOpen(name) {
    return new Promise((res, rej) => {
        const idb = globalThis.indexedDB;
        if (!idb) {
            rej(storeError('STORE_UNAVAILABLE', 'IndexedDB is not available here'));
            return;
        }
        let settled = false;
        const failed = (e) => { if (!settled) { settled = true; rej(storeError('STORE_UNAVAILABLE', 'IndexedDB could not open the database', e)); } };
        const open = (version, then) => {
            let req;
            try { req = version === undefined ? idb.open(name) : idb.open(name, version); } catch (e) { failed(e); return; }
            req.onupgradeneeded = () => {
                try {
                    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
                } catch (e) { failed(e); }
            };
            // Another connection (an earlier page, another tab) has not closed yet: the open
            // goes on once it has (every connection this driver makes closes on versionchange).
            req.onblocked = (ev) => warn(`opening '${name}' (version ${ev.newVersion}) waits for another connection to close`);
            req.onerror = (ev) => { ev.preventDefault?.(); failed(req.error); };
            req.onsuccess = () => then(req.result);
        };
        // Opened again one version up: the upgrade waits until every other connection to the
        // database is closed, so whatever a previous page (or tab) was still writing has
        // committed or aborted before the records are read, and that page writes nothing more.
        open(undefined, (probe) => {
            const version = probe.version + 1;
            probe.onversionchange = () => probe.close();
            probe.close();
            open(version, (db) => {
                // A newer client opening this store: this one lets it (its writes then fail
                // STORE_CLOSED: a transaction on a closed connection cannot be made).
                db.onversionchange = () => { warn(`'${name}': another connection opens a newer version: closing this one`); db.close(); };
                // Closed by the browser (storage cleared, disk failure): a write in flight aborts.
                db.onclose = () => warn(`'${name}': the connection was closed by the browser`);
                let tx;
                try { tx = db.transaction(STORE, 'readonly'); } catch (e) { db.close(); settled = true; rej(idbError(e, 'reading')); return; }
                const s = tx.objectStore(STORE);
                const k = s.getAllKeys();
                const v = s.getAll();
                tx.oncomplete = () => { settled = true; res([db, k.result, v.result]); };
                tx.onerror = (ev) => ev.preventDefault?.();
                tx.onabort = () => { db.close(); settled = true; rej(idbError(tx.error, 'reading')); };
            });
        });
    });
}
// One batch in one transaction; `done(ticket, error)` is called exactly once: on `complete`,
// on `abort` (every failed request aborts it too), or when the transaction cannot be made. The
// callback returns false when the client was busy (a re-entrant call): it is called again in a
// task of its own, so no outcome is ever dropped.
export function idbApply(db, keys, values, strict, ticket, done) {
    let finished = false;
    const t0 = performance.now();
    let slow;
    const finish = (err) => {
        if (finished) return;
        finished = true;
        if (slow !== undefined) clearTimeout(slow);
        const ms = performance.now() - t0;
        if (ms > SLOW_WRITE_MS) warn(`write ${ticket} (${keys.length} records) ended after ${Math.round(ms)} ms${err ? ': ' + err.message : ''}`);
        const call = () => { if (done(ticket, err) === false) setTimeout(call, 0); };
        call();
    };
    let tx;
    try {
        tx = db.transaction(STORE, 'readwrite', { durability: strict ? 'strict' : 'relaxed' });
        tx.oncomplete = () => finish(undefined);
        tx.onabort = () => finish(idbError(tx.error, 'write'));
        // A failed request aborts the transaction (its abort event reports it).
        tx.onerror = (ev) => ev.stopPropagation?.();
        const s = tx.objectStore(STORE);
        for (let i = 0; i < keys.length; i++) {
            if (values[i] === undefined) s.delete(keys[i]); else s.put(values[i], keys[i]);
        }
    } catch (e) {
        try { tx && tx.abort(); } catch {}
        const err = idbError(e, 'write');
        queueMicrotask(() => finish(err));
        return;
    }
    const report = () => {
        if (finished) return;
        warn(`write ${ticket} (${keys.length} records, ${strict ? 'strict' : 'relaxed'}) not finished after ${Math.round(performance.now() - t0)} ms`);
        slow = setTimeout(report, SLOW_WRITE_MS);
    };
    slow = setTimeout(report, SLOW_WRITE_MS);
}
export function idbClose(db) { try { db.close(); } catch {} }
export function afterPromise(p, ok, err) { p.then(ok, err); }
export function attachAck(msg, ack, id) {
    msg.ack = () => { const e = ack(id); if (e !== undefined) throw e; };
    return msg;
}
export function silence(p) { p.catch(() => {}); return p; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = idbOpen)]
    fn idb_open(name: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = idbApply)]
    fn idb_apply(
        db: &JsValue,
        keys: &Array,
        values: &Array,
        strict: bool,
        ticket: f64,
        done: &js_sys::Function,
    );
    #[wasm_bindgen(js_name = idbClose)]
    fn idb_close(db: &JsValue);
    #[wasm_bindgen(js_name = afterPromise)]
    fn after_promise(p: &js_sys::Promise, ok: &JsValue, err: &JsValue);
    #[wasm_bindgen(js_name = attachAck)]
    fn attach_ack(msg: &JsValue, ack: &js_sys::Function, id: f64) -> JsValue;
    #[wasm_bindgen(js_name = silence)]
    pub(crate) fn silence(p: &js_sys::Promise) -> js_sys::Promise;
}

#[wasm_bindgen(typescript_custom_section)]
const TS_STORE_TYPES: &'static str = r#"
/** Where the session's durable state lives (`ConnectOptions.store`); see the README. */
export interface StoreOption {
  /** The IndexedDB database's name (one per client: it holds one session). */
  indexedDb: string;
  /**
   * When a batch is made durable: `'every-message'` (the default: every transaction is
   * `strict`) or `{ batched }`: transactions are `relaxed`, and the one that brings the
   * unsynced records to `maxMessages` (default 64), or that runs once `maxDelayMs` (default 100)
   * passed since the first unsynced change, is `strict`.
   */
  sync?: 'every-message' | { batched: { maxMessages?: number; maxDelayMs?: number } };
}

export interface ConnectOptions {
  /** Durable session state in IndexedDB (default: memory only). `connect` then resumes the stored session, if any. */
  store?: StoreOption;
  /** Manual acknowledgement: received QoS 1/2 messages get `ack()`, and their PUBACK / PUBREC waits for it (default false). */
  manualAcks?: boolean;
  /** The Receive Maximum announced to the broker (v5; default 65535): at most this many QoS 1/2 messages unacknowledged at once. */
  receiveMaximum?: number;
}

export interface MqttMessage {
  /**
   * With `manualAcks`, on QoS 1/2 messages: acknowledges the message (PUBACK / PUBREC go out in
   * arrival order). Throws an `MqttError`: `ACK_ALREADY_ACKED`, `ACK_CONNECTION_LOST` (its
   * connection ended: it will be delivered again), `ACK_UNKNOWN`.
   */
  ack?: () => void;
}

/** What `publish` resolves with for a QoS 1/2 message when the client has a `store`: the message's record is in IndexedDB. */
export interface PublishAdmitted {
  admitted: true;
  /** Settles as `publish` does without a store: PUBACK / PUBCOMP, or the failure. */
  done: Promise<PublishResult>;
}

/** A message `Client.resumed` lists: read back from the store at `connect`, sent by the client. */
export interface ResumedMessage {
  topic: string;
  payload: Uint8Array;
  qos: QoS;
  retain: boolean;
}

/** The codes of store and acknowledgement failures. */
export type StoreErrorCode =
  | 'STORE_UNAVAILABLE' | 'STORE_QUOTA' | 'STORE_CLOSED' | 'STORE_FAILED' | 'STORE_CORRUPT'
  | 'STORE_UNKNOWN_KEY' | 'STORE_UNSUPPORTED_FORMAT'
  | 'ACK_UNKNOWN' | 'ACK_ALREADY_ACKED' | 'ACK_CONNECTION_LOST';
"#;

/// The `store` option of `connect`.
pub(crate) struct StoreConfig {
    /// The IndexedDB database's name.
    name: String,
}

/// The IndexedDB store of one client (in [`Inner::store`]).
pub(crate) struct IdbStore {
    db: JsValue,
    /// A batch is being written.
    busy: bool,
    /// The store failed: nothing more is written.
    failed: bool,
    ops: Vec<StoreOp>,
    admitted: Vec<PublishId>,
    /// Publishes waiting for their record to be stored: their `publish()` Promise, and the
    /// Promise of their completion it resolves with.
    admitting: BTreeMap<PublishId, (Settle, js_sys::Promise)>,
    /// Called once by every transaction's `complete` / `abort` with its ticket; false: the
    /// client was busy, call again later.
    done_cb: Option<Closure<dyn FnMut(f64, JsValue) -> bool>>,
    /// The messages read back from the store at connect: `client.resumed`.
    resumed: Array,
}

/// `manualAcks`, `receiveMaximum` and `store`: the durable-state options of `connect`.
pub(crate) fn durable_options_of(
    options: &JsValue,
    opts: &mut Options,
) -> JsResult<Option<StoreConfig>> {
    let obj = js::options_object(options, "connect options")?;
    let o = obj.as_ref();
    if let Some(v) = js::field(o, "manualAcks")? {
        opts.manual_acks = v.as_bool().ok_or_else(|| {
            MqttError::new("INVALID_ARGUMENT", "option 'manualAcks' must be a boolean")
        })?;
    }
    if let Some(n) = js::opt_uint(o, "receiveMaximum", 1.0, u16::MAX as f64)? {
        opts.receive_maximum = n as u16;
    }
    let Some(store) = js::field(o, "store")? else {
        return Ok(None);
    };
    let sobj = js::options_object(&store, "the 'store' option")?;
    let so = sobj.as_ref();
    let name = js::opt_string(so, "indexedDb")?.ok_or_else(|| {
        MqttError::new(
            "INVALID_ARGUMENT",
            "store.indexedDb must name the IndexedDB database",
        )
    })?;
    let policy = match js::field(so, "sync")? {
        None => SyncPolicy::EveryMessage,
        Some(v) if v.as_string().as_deref() == Some("every-message") => SyncPolicy::EveryMessage,
        Some(v) => {
            let batched = js::options_object(&v, "store.sync")
                .ok()
                .flatten()
                .and_then(|b| js::field(Some(&b), "batched").ok().flatten())
                .and_then(|b| js::options_object(&b, "store.sync.batched").ok().flatten())
                .ok_or_else(|| {
                    MqttError::new(
                        "INVALID_ARGUMENT",
                        "store.sync must be 'every-message' or { batched: { maxMessages, maxDelayMs } }",
                    )
                })?;
            let b = Some(&batched);
            SyncPolicy::Batched {
                max_messages: js::opt_uint(b, "maxMessages", 1.0, u32::MAX as f64)?.unwrap_or(64.0)
                    as usize,
                max_delay_ms: js::opt_uint(b, "maxDelayMs", 0.0, 86_400_000.0)?.unwrap_or(100.0)
                    as u64,
            }
        }
    };
    opts.durable = Some(policy);
    Ok(Some(StoreConfig { name }))
}

/// Opens the store, resumes the session from it and starts the client; the Promise settles as
/// `connect`'s does (and rejects with a `STORE_*` code when the store cannot be used).
pub(crate) fn connect_durable(
    config: StoreConfig,
    opts: Options,
    start: impl FnOnce(Session, Option<IdbStore>) -> js_sys::Promise + 'static,
) -> js_sys::Promise {
    let open = idb_open(&config.name);
    let (p, settle) = super::driver::promise();
    let settle = alloc::rc::Rc::new(core::cell::RefCell::new(Some(settle)));
    let on_err = Closure::once_into_js({
        let settle = settle.clone();
        move |e: JsValue| {
            if let Some(s) = settle.borrow_mut().take() {
                s.reject_js(&e);
            }
        }
    });
    let on_ok = Closure::once_into_js(move |loaded: JsValue| {
        let Some(s) = settle.borrow_mut().take() else {
            return;
        };
        let loaded: Array = loaded.unchecked_into();
        let db = loaded.get(0);
        match records_of(&loaded.get(1), &loaded.get(2)) {
            Err(e) => s.reject(e),
            Ok(records) => match Session::resume(opts, records.iter().map(|(k, v)| (k, v))) {
                Err(e) => s.reject(MqttError::new(
                    e.code(),
                    alloc::format!("cannot resume the stored session: {e}"),
                )),
                Ok(session) => {
                    let store = IdbStore {
                        db,
                        busy: false,
                        failed: false,
                        ops: Vec::new(),
                        admitted: Vec::new(),
                        admitting: BTreeMap::new(),
                        done_cb: None,
                        resumed: resumed_messages(&records),
                    };
                    s.forward(&start(session, Some(store)));
                }
            },
        }
    });
    after_promise(&open, &on_ok, &on_err);
    p
}

/// The keys and values read back, as bytes.
fn records_of(keys: &JsValue, values: &JsValue) -> JsResult<Vec<(Vec<u8>, Vec<u8>)>> {
    let corrupt = || {
        MqttError::new(
            "STORE_CORRUPT",
            "the IndexedDB store holds a record that is not bytes",
        )
    };
    let (Some(keys), Some(values)) = (keys.dyn_ref::<Array>(), values.dyn_ref::<Array>()) else {
        return Err(corrupt());
    };
    if keys.length() != values.length() {
        return Err(corrupt());
    }
    let bytes = |v: JsValue| -> JsResult<Vec<u8>> {
        if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
            return Ok(Uint8Array::new(b).to_vec());
        }
        v.dyn_ref::<Uint8Array>()
            .map(Uint8Array::to_vec)
            .ok_or_else(corrupt)
    };
    let mut out = Vec::with_capacity(keys.length() as usize);
    for (k, v) in keys.iter().zip(values.iter()) {
        out.push((bytes(k)?, bytes(v)?));
    }
    Ok(out)
}

/// The accepted messages among the records (key tag 1, value: format byte and the MQTT 5.0
/// PUBLISH that carries the message), in publish order, as `{ topic, payload, qos, retain }`.
fn resumed_messages(records: &[(Vec<u8>, Vec<u8>)]) -> Array {
    let mut found: Vec<(&[u8], JsValue)> = Vec::new();
    let decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(MAX_PACKET_SIZE);
    for (k, v) in records {
        if k.first() != Some(&1) || v.len() < 2 {
            continue;
        }
        if let Ok(Some((Packet::Publish(p), _))) = decoder.decode(&v[1..]) {
            let m = js::object(&[
                ("topic", p.topic.into()),
                ("payload", Uint8Array::from(p.payload).into()),
                ("qos", (p.qos as u8).into()),
                ("retain", p.retain.into()),
            ]);
            found.push((&k[1..], m));
        }
    }
    // Keys are big-endian publish ids: byte order is publish order.
    found.sort_unstable_by(|a, b| a.0.cmp(b.0)); // keys are unique
    found.into_iter().map(|(_, m)| m).collect()
}

impl IdbStore {
    /// A transaction is being written (`client.pending.storing`).
    pub(crate) fn storing(&self) -> bool {
        self.busy
    }

    /// `client.resumed`.
    pub(crate) fn resumed(&self) -> JsValue {
        self.resumed.clone().into()
    }

    /// A QoS 1/2 publish waits for its record: `settle` resolves with `{ admitted: true, done }`
    /// once it is stored.
    pub(crate) fn admitting(&mut self, id: PublishId, settle: Settle, done: js_sys::Promise) {
        self.admitting.insert(id, (settle, done));
    }

    /// A publish completed (or failed) before it was admitted.
    pub(crate) fn take_admitting(&mut self, id: PublishId) -> Option<Settle> {
        self.admitting.remove(&id).map(|(s, _)| s)
    }
}

/// The client is closed for good: the database connection closes once its last transaction
/// completed (so that the page can delete or reopen the database).
pub(crate) fn close(store: Option<&IdbStore>) {
    if let Some(st) = store {
        idb_close(&st.db);
    }
}

/// Whether publishes wait for the store (`publish()` resolves on admission).
pub(crate) fn is_durable(inner: &Inner) -> bool {
    inner.store.is_some()
}

/// After a drain: writes the next batch if none is being written.
pub(crate) fn turn(rc: &Shared, inner: &mut Inner) {
    let Inner { store, session, .. } = inner;
    let Some(st) = store.as_mut() else { return };
    if st.busy || st.failed {
        return;
    }
    let Some(batch) = session.take_store_ops(&mut st.ops) else {
        return;
    };
    if st.done_cb.is_none() {
        let weak: Weak<_> = alloc::rc::Rc::downgrade(rc);
        st.done_cb = Some(Closure::new(move |ticket: f64, err: JsValue| -> bool {
            match weak.upgrade() {
                Some(rc) => stored(&rc, ticket, err),
                None => true,
            }
        }));
    }
    let keys = Array::new();
    let values = Array::new();
    for op in st.ops.drain(..) {
        match op {
            StoreOp::Put { key, value } => {
                keys.push(&Uint8Array::from(&key[..]));
                values.push(&Uint8Array::from(&value[..]));
            }
            StoreOp::Delete { key } => {
                keys.push(&Uint8Array::from(&key[..]));
                values.push(&JsValue::UNDEFINED);
            }
        }
    }
    st.busy = true;
    let cb = st
        .done_cb
        .as_ref()
        .map(|c| c.as_ref().unchecked_ref::<js_sys::Function>().clone());
    if let Some(cb) = cb {
        idb_apply(
            &st.db,
            &keys,
            &values,
            batch.sync,
            batch.ticket.0 as f64,
            &cb,
        );
    }
}

/// A transaction ended: admits what it held, or ends the client if it aborted. False when the
/// client is borrowed (called from inside the driver): the caller calls again in a later task
/// (dropping the outcome would leave `busy` set and the session waiting for ever).
fn stored(rc: &Shared, ticket: f64, err: JsValue) -> bool {
    let mut settled: Vec<(Settle, js_sys::Promise)> = Vec::new();
    let mut failure = None;
    {
        let Ok(mut inner) = rc.try_borrow_mut() else {
            return false;
        };
        let now = js::now_ms();
        let inner = &mut *inner;
        let Some(st) = inner.store.as_mut() else {
            return true;
        };
        st.busy = false;
        if err.is_undefined() {
            inner.session.handle_stored(StoreTicket(ticket as u64), now);
            inner.session.take_admitted(&mut st.admitted);
            for id in st.admitted.drain(..) {
                if let Some(s) = st.admitting.remove(&id) {
                    settled.push(s);
                }
            }
        } else {
            st.failed = true;
            failure = Some(err);
            // Nothing more can be admitted: end the client (what waits fails SESSION_CLOSED).
            inner.session.disconnect(now);
        }
    }
    for (s, done) in settled {
        s.resolve(&js::object(&[
            ("admitted", true.into()),
            ("done", done.into()),
        ]));
    }
    if let Some(e) = failure {
        super::driver::emit(rc, "error", &e);
        let admitting: Vec<(Settle, js_sys::Promise)> = rc
            .borrow_mut()
            .store
            .as_mut()
            .map(|st| core::mem::take(&mut st.admitting).into_values().collect())
            .unwrap_or_default();
        for (s, _) in admitting {
            s.reject_js(&e);
        }
    }
    pump(rc);
    true
}

/// The function every `message.ack()` of one client calls (made once per client).
pub(crate) fn ack_function(rc: &Shared) -> Closure<dyn FnMut(f64) -> JsValue> {
    let weak = alloc::rc::Rc::downgrade(rc);
    Closure::new(move |id: f64| -> JsValue {
        let Some(rc) = weak.upgrade() else {
            return MqttError::new("CLOSED", "the client is gone").into_js();
        };
        let r = match rc.try_borrow_mut() {
            Ok(mut inner) => inner.session.ack(AckId(id as u64), js::now_ms()),
            Err(_) => return MqttError::new("INVALID_ARGUMENT", "re-entrant call").into_js(),
        };
        match r {
            Ok(()) => {
                super::driver::flush_soon(&rc);
                JsValue::UNDEFINED
            }
            Err(e) => MqttError::new(e.code(), alloc::string::ToString::to_string(&e)).into_js(),
        }
    })
}

/// Gives a received message its `ack()` (manual acknowledgement of a QoS 1/2 message).
pub(crate) fn with_ack(msg: JsValue, inner: &Inner, ack: Option<AckId>) -> JsValue {
    match (ack, &inner.ack_fn) {
        (Some(id), Some(f)) => attach_ack(&msg, f.as_ref().unchecked_ref(), id.0 as f64),
        _ => msg,
    }
}

/// Whether `qos` is stored (QoS 0 messages are not).
pub(crate) fn stored_qos(qos: QoS) -> bool {
    qos != QoS::AtMostOnce
}
