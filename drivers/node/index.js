// wasmqtt for Node.js: the provider component (components/provider, WIT world `provider`,
// interface `wasmqtt:mqtt/client`) transpiled by jco, behind the Promise API of the browser build
// (drivers/browser; its TypeScript definitions, ./pkg/wasmqtt.d.ts, are the types of both).
//
// The component's calls are synchronous (WASI 0.2): `client.connect` waits for CONNACK, and
// `poll-events(max, timeout)` makes progress. jco's WASI shim (@bytecodealliance/preview2-shim)
// runs the sockets in a worker thread and answers every WASI call through Atomics.wait, so a
// blocking wait would block the event loop. The driver therefore never waits inside the
// component: it calls `poll-events(max, 0)` (one socket read through the worker when nothing is
// there, ~0.1 ms), then schedules the next call with setImmediate while anything is in flight
// (a publish, subscribe, request unanswered; events came) and with a timer while idle, backing
// off from 1 ms to `pollInterval` (default 50 ms, option `pollInterval`) and never past
// `next-deadline` (keep-alive, reconnection). A message that arrives while idle is therefore
// seen within `pollInterval`.
// What differs from the browser build is listed in README.md.
import { client as wit } from './provider/wasmqtt_provider.js';

// The longest the idle loop waits between two polls. Each idle poll costs ~1 ms of CPU (the
// component's read, a round trip to preview2-shim's I/O worker, two thread wake-ups): 50 ms is
// ~2 % of a core while idle (10 ms was ~10 %), and a message arriving after a quiet spell is seen
// within 50 ms; while anything is in flight the loop polls on every turn.
const DEFAULT_POLL_INTERVAL_MS = 50;
const POLL_MAX_EVENTS = 1024;
// Messages handed to the component per `publish-batch` call; the loop hands over one batch per
// turn (10 000 publishes at once then block the event loop ~4 ms at a time, not 40 ms).
const PUBLISH_BATCH = 256;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Every rejected Promise and `error` event carries one: an `Error` with a `code`. */
export class MqttError extends Error {
  constructor(code, message, reasonCode) {
    super(message);
    this.name = 'MqttError';
    this.code = code;
    if (reasonCode !== undefined) this.reasonCode = reasonCode;
  }
}

const invalid = (message) => new MqttError('INVALID_ARGUMENT', message);

/**
 * The component's `error` variant ({ tag, val }) as an MqttError. `where` says what failed, for
 * the variants whose code depends on it (`refused`, `timeout`, `unsupported`).
 */
function witError(e, where = '') {
  const tag = e?.tag;
  const val = e?.val;
  switch (tag) {
    case 'invalid-topic': return new MqttError('INVALID_TOPIC', val);
    case 'invalid-filter': return new MqttError('INVALID_FILTER', val);
    case 'invalid-argument': return new MqttError('INVALID_ARGUMENT', val);
    case 'queue-full': return new MqttError('QUEUE_FULL', 'the queue of waiting messages is full');
    case 'would-block': return new MqttError('WOULD_BLOCK', 'the write buffer is full');
    case 'too-large': return new MqttError('TOO_LARGE', val);
    case 'refused': {
      const code = where === 'connect' ? 'CONNECTION_REFUSED'
        : where === 'response' ? 'SUBSCRIPTION_REFUSED' : 'REJECTED';
      return new MqttError(code, `${where === 'connect' ? 'the broker refused the connection' : 'refused'}: ${val.text}`, val.code);
    }
    case 'timeout':
      return where === 'connect'
        ? new MqttError('CONNECT_TIMEOUT', 'no CONNACK within the connect timeout')
        : new MqttError('RESPONSE_TIMEOUT', 'no response within the timeout');
    case 'network': return new MqttError('CONNECTION_LOST', val);
    case 'protocol': return new MqttError('PROTOCOL_ERROR', val);
    case 'closed': return new MqttError('SESSION_CLOSED', 'the client is closed');
    case 'invalid-url': return new MqttError('INVALID_URL', val);
    case 'handshake': return new MqttError(val.code, val.detail);
    case 'unreadable-file': return new MqttError('INVALID_ARGUMENT', `cannot read ${val.path}: ${val.reason}`);
    case 'unsupported':
      return new MqttError(where === 'request' ? 'NOT_SUPPORTED_IN_V311' : 'INVALID_URL', val);
    case 'store': return new MqttError(val.code, val.detail);
    case 'ack': return new MqttError(`ACK_${val.replace('-', '_').toUpperCase()}`, `ack refused: ${val}`);
    default: return new MqttError('INVALID_ARGUMENT', String(val ?? tag ?? e));
  }
}

/** Calls a component function; a result error (jco's ComponentError) becomes an MqttError. */
function call(where, f) {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === 'object' && 'payload' in e && e.payload?.tag) throw witError(e.payload, where);
    throw e;
  }
}

// ------------------------------------------------------------------------------ values in

const QOS_IN = ['at-most-once', 'at-least-once', 'exactly-once'];
const QOS_OUT = { 'at-most-once': 0, 'at-least-once': 1, 'exactly-once': 2 };

function qosOf(o) {
  const q = o?.qos ?? 0;
  if (q !== 0 && q !== 1 && q !== 2) throw new MqttError('INVALID_QOS', 'qos must be 0, 1 or 2');
  return QOS_IN[q];
}

function bytesOf(v, what) {
  if (v === undefined || v === null) return new Uint8Array(0);
  if (typeof v === 'string') return encoder.encode(v);
  if (v instanceof Uint8Array) return v;
  if (v instanceof ArrayBuffer) return new Uint8Array(v);
  if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  throw invalid(`${what} must be a string, a Uint8Array or an ArrayBuffer`);
}

function uint(o, name, min, max) {
  const v = o?.[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw invalid(`${name} must be a whole number from ${min} to ${max}`);
  }
  return v;
}

function propertiesIn(p) {
  if (p === undefined || p === null) return undefined;
  const userProperties = [];
  for (const [key, value] of Object.entries(p.userProperties ?? {})) {
    for (const v of Array.isArray(value) ? value : [value]) userProperties.push({ key, value: String(v) });
  }
  return {
    payloadFormatUtf8: p.payloadFormatIndicator,
    messageExpiryInterval: p.messageExpiryInterval,
    contentType: p.contentType,
    responseTopic: p.responseTopic,
    correlationData: p.correlationData === undefined ? undefined : bytesOf(p.correlationData, 'correlationData'),
    userProperties,
    subscriptionIdentifiers: p.subscriptionIdentifiers ?? [],
  };
}

function messageIn(topic, payload, options) {
  if (typeof topic !== 'string') throw new MqttError('INVALID_TOPIC', 'the topic must be a string');
  return {
    topic,
    payload: bytesOf(payload, 'the payload'),
    qos: qosOf(options),
    retain: options?.retain === true,
    properties: propertiesIn(options?.properties),
  };
}

/** A broker of `servers` / `brokers` as a URL string for the component. */
function brokerUrl(s, scheme) {
  if (typeof s === 'string') return s;
  if (s && typeof s === 'object' && typeof s.host === 'string') {
    const protocol = s.protocol ?? scheme ?? 'mqtt';
    const port = s.port !== undefined ? `:${s.port}` : '';
    const path = protocol === 'ws' || protocol === 'wss' ? (s.path ?? '') : '';
    return `${protocol}://${s.host.includes(':') ? `[${s.host}]` : s.host}${port}${path}`;
  }
  throw new MqttError('INVALID_URL', 'a broker must be a URL string or { host, port, protocol, path }');
}

function randomClientId() {
  let s = '';
  for (let i = 0; i < 13; i++) s += Math.floor(Math.random() * 36).toString(36);
  return `wasmqtt${s}`;
}

const pem = (v, what) => {
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  return list.map((x) => {
    if (typeof x === 'string') return x;
    if (x instanceof Uint8Array) return decoder.decode(x);
    throw invalid(`${what} must be PEM text (a string or a Buffer)`);
  }).join('\n');
};

/**
 * Node only (MQTT.js's and node:tls's names): `ca`, `cert`, `key` (PEM, strings or Buffers),
 * `rejectUnauthorized` (false: accept any certificate, for tests), `servername`, `ALPNProtocols`,
 * as the WIT's `tls-options`; none of them: the provider's built-in roots.
 */
function tlsOptionsOf(o) {
  const names = ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername', 'ALPNProtocols'];
  if (!names.some((n) => o[n] !== undefined)) return undefined;
  if (o.ALPNProtocols !== undefined && (!Array.isArray(o.ALPNProtocols) || o.ALPNProtocols.some((p) => typeof p !== 'string'))) {
    throw invalid('ALPNProtocols must be an array of strings');
  }
  if (o.servername !== undefined && typeof o.servername !== 'string') throw invalid('servername must be a string');
  return {
    caPem: pem(o.ca, 'ca'),
    caFile: undefined,
    clientCertificatePem: pem(o.cert, 'cert'),
    clientKeyPem: pem(o.key, 'key'),
    clientCertificateFile: undefined,
    clientKeyFile: undefined,
    alpn: o.ALPNProtocols ?? [],
    serverName: o.servername,
    tlsVersion: undefined,
    dangerousSkipHostnameVerification: false,
    dangerousAcceptAnyCertificate: o.rejectUnauthorized === false,
  };
}

const EVENTS = ['message', 'connect', 'reconnect', 'close', 'end', 'error', 'state', 'resubscribe'];

/** `connect(url, options)`'s arguments as the component's `connect-options`. */
function connectOptionsOf(url, options) {
  if (url !== null && typeof url === 'object') {
    options = url;
    url = undefined;
  }
  const o = options ?? {};
  if (typeof o !== 'object') throw invalid('connect options must be an object');
  if (o.store !== undefined) throw invalid('store (IndexedDB) is not available in Node.js');
  if (o.retryInitialConnection) throw invalid('retryInitialConnection is not supported in Node.js');
  const servers = o.servers ?? o.brokers ?? [];
  if (!Array.isArray(servers)) throw new MqttError('INVALID_URL', 'servers must be an array');
  const scheme = typeof url === 'string' ? /^([a-z]+):\/\//i.exec(url)?.[1] : undefined;
  const brokers = [];
  if (url !== undefined && url !== null) {
    if (typeof url !== 'string') throw new MqttError('INVALID_URL', 'the URL must be a string');
    brokers.push(url);
  }
  for (const s of servers) brokers.push(brokerUrl(s, scheme));
  if (brokers.length === 0) throw new MqttError('INVALID_URL', 'no broker URL given');
  const reconnectPeriod = uint(o, 'reconnectPeriod', 0, Number.MAX_SAFE_INTEGER);
  const maxReconnectDelay = uint(o, 'maxReconnectDelay', 0, Number.MAX_SAFE_INTEGER);
  let reconnect;
  if (reconnectPeriod !== undefined || maxReconnectDelay !== undefined) {
    reconnect = {
      enabled: reconnectPeriod !== 0,
      initialDelayMs: BigInt(reconnectPeriod || 500),
      maxDelayMs: BigInt(maxReconnectDelay ?? 30_000),
      multiplier: 2,
      jitterPercent: 50,
    };
  }
  let will;
  if (o.will !== undefined && o.will !== null) {
    if (typeof o.will.topic !== 'string') throw new MqttError('INVALID_TOPIC', 'will.topic must be a string');
    will = {
      topic: o.will.topic,
      payload: bytesOf(o.will.payload, 'will.payload'),
      qos: qosOf(o.will),
      retain: o.will.retain === true,
      delayInterval: uint(o.will, 'delayInterval', 0, 0xffffffff),
      properties: propertiesIn(o.will.properties),
    };
  }
  const connectTimeout = uint(o, 'connectTimeout', 0, Number.MAX_SAFE_INTEGER);
  const tls = tlsOptionsOf(o);
  const version = uint(o, 'protocolVersion', 4, 5);
  return {
    host: '',
    port: 0,
    brokers,
    tls,
    websocketHeaders: [],
    clientId: o.clientId ?? randomClientId(),
    username: o.username,
    password: o.password === undefined ? undefined : bytesOf(o.password, 'password'),
    keepAliveSecs: uint(o, 'keepalive', 0, 0xffff) ?? 60,
    cleanStart: o.clean ?? true,
    will,
    protocol: version === 4 ? 'v311' : 'v5',
    sessionExpiryInterval: uint(o, 'sessionExpiryInterval', 0, 0xffffffff),
    reconnect,
    maxInflight: uint(o, 'maxInflight', 0, 0xffff),
    maxQueuedMessages: uint(o, 'maxQueuedMessages', 0, 0xffffffff),
    connectTimeoutMs: connectTimeout === undefined ? undefined : BigInt(connectTimeout),
    topicAliasMaximum: uint(o, 'topicAliasMaximum', 0, 0xffff),
    store: undefined,
    manualAcks: o.manualAcks === true ? true : undefined,
  };
}

// ------------------------------------------------------------------------------ values out

function propertiesOut(p) {
  if (!p) return undefined;
  const out = {};
  if (p.payloadFormatUtf8 !== undefined) out.payloadFormatIndicator = p.payloadFormatUtf8;
  if (p.messageExpiryInterval !== undefined) out.messageExpiryInterval = p.messageExpiryInterval;
  if (p.contentType !== undefined) out.contentType = p.contentType;
  if (p.responseTopic !== undefined) out.responseTopic = p.responseTopic;
  if (p.correlationData !== undefined) out.correlationData = p.correlationData;
  if (p.userProperties.length > 0) {
    const u = {};
    for (const { key, value } of p.userProperties) {
      if (key in u) u[key] = [].concat(u[key], value);
      else u[key] = value;
    }
    out.userProperties = u;
  }
  if (p.subscriptionIdentifiers.length > 0) out.subscriptionIdentifiers = p.subscriptionIdentifiers;
  return out;
}

class Message {
  constructor(m) {
    this.topic = m.topic;
    this.payload = m.payload;
    this.qos = QOS_OUT[m.qos];
    this.retain = m.retain;
    this.dup = false;
    const p = propertiesOut(m.properties);
    if (p) this.properties = p;
  }

  get text() {
    return decoder.decode(this.payload);
  }
}

function connectionInfo(i) {
  return {
    broker: i.broker,
    sessionPresent: i.sessionPresent,
    assignedClientId: i.assignedClientId,
    keepAlive: i.keepAliveSecs,
    inflightWindow: i.inflightWindow,
  };
}

// ------------------------------------------------------------------------------ topics

function utf8Length(s) {
  return Buffer.byteLength(s, 'utf8');
}

/** Checks a topic name (for `publish`); throws an `MqttError` with code `INVALID_TOPIC`. */
export function validateTopicName(topic) {
  const bad = (why) => new MqttError('INVALID_TOPIC', `invalid topic name: ${why}`);
  if (typeof topic !== 'string') throw bad('not a string');
  if (topic.length === 0) throw bad('empty');
  if (utf8Length(topic) > 65535) throw bad('longer than 65535 bytes');
  if (topic.includes('\u0000')) throw bad('contains U+0000');
  if (/[+#]/.test(topic)) throw bad('contains a wildcard');
}

function filterError(filter) {
  if (typeof filter !== 'string') return 'not a string';
  if (filter.length === 0) return 'empty';
  if (utf8Length(filter) > 65535) return 'longer than 65535 bytes';
  if (filter.includes('\u0000')) return 'contains U+0000';
  let inner = filter;
  if (filter.startsWith('$share/')) {
    const rest = filter.slice(7);
    const slash = rest.indexOf('/');
    if (slash <= 0) return 'a shared subscription needs $share/{group}/{filter}';
    const group = rest.slice(0, slash);
    if (/[+#]/.test(group)) return 'a share name cannot contain wildcards';
    inner = rest.slice(slash + 1);
    if (inner.length === 0) return 'a shared subscription needs a filter';
  }
  const levels = inner.split('/');
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    if (l.includes('#') && (l !== '#' || i !== levels.length - 1)) return '# must be the whole last level';
    if (l.includes('+') && l !== '+') return '+ must be a whole level';
  }
  return null;
}

/** Checks a topic filter (for `subscribe`); throws an `MqttError` with code `INVALID_FILTER`. */
export function validateTopicFilter(filter) {
  const why = filterError(filter);
  if (why) throw new MqttError('INVALID_FILTER', `invalid topic filter: ${why}`);
}

/** Whether a topic name matches a topic filter (`$share/group/f` matches as `f`). */
export function topicMatches(filter, topic) {
  if (filterError(filter) !== null || typeof topic !== 'string' || topic.length === 0) return false;
  if (filter.startsWith('$share/')) filter = filter.slice(filter.indexOf('/', 7) + 1);
  const f = filter.split('/');
  const t = topic.split('/');
  // Wildcards at the first level do not match topics that start with `$` (v5 §4.7.2).
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

// ------------------------------------------------------------------------------ the client

/**
 * A connected (or reconnecting) MQTT client. Get one from `connect`.
 */
export class Client {
  #c;
  #state = 'connected';
  #clientId;
  #info;
  #listeners = new Map();
  #handlers = new Map();
  #nextHandler = 1;
  /** Messages `publish` took and the component has not yet: flushed by `publish-batch`. */
  #outbox = [];
  /** delivery id (bigint) → { resolve, reject } */
  #deliveries = new Map();
  /** request id → { resolve, reject, single, filters } */
  #requests = new Map();
  /** response id → { resolve, reject } */
  #responses = new Map();
  #immediate = null;
  #timer = null;
  #idleDelay = 1;
  #pollInterval;
  #ending = null;
  #closed = false;

  /** @internal */
  constructor(c, listeners, clientId, pollInterval) {
    this.#c = c;
    this.#clientId = clientId;
    this.#pollInterval = pollInterval;
    this.#info = call('connect', () => c.connectionInfo());
    if (this.#info.assignedClientId) this.#clientId = this.#info.assignedClientId;
    for (const [e, f] of listeners) this.on(e, f);
    this.#emit('state', 'connected');
    this.#emit('connect', connectionInfo(this.#info));
    this.#schedule(true);
  }

  // --------------------------------------------------------------------- events

  on(event, listener) {
    if (!EVENTS.includes(event)) throw invalid(`unknown event ${JSON.stringify(event)}; events are ${EVENTS.join(', ')}`);
    if (typeof listener !== 'function') throw invalid('the listener must be a function');
    if (!this.#listeners.has(event)) this.#listeners.set(event, []);
    this.#listeners.get(event).push(listener);
  }

  off(event, listener) {
    const l = this.#listeners.get(event);
    if (!l) return;
    const i = l.indexOf(listener);
    if (i >= 0) l.splice(i, 1);
  }

  onMessage(filter, handler) {
    validateTopicFilter(filter);
    if (typeof handler !== 'function') throw invalid('the handler must be a function');
    const id = this.#nextHandler++;
    this.#handlers.set(id, { filter, handler });
    return id;
  }

  offMessage(id) {
    return this.#handlers.delete(id);
  }

  #emit(event, arg) {
    const l = this.#listeners.get(event);
    if (!l) return;
    for (const f of [...l]) {
      try {
        f(arg);
      } catch (e) {
        queueMicrotask(() => { throw e; });
      }
    }
  }

  #setState(s) {
    if (this.#state === s) return;
    this.#state = s;
    this.#emit('state', s);
  }

  // --------------------------------------------------------------------- properties

  get broker() {
    return this.#state === 'connected' || this.#state === 'connecting' ? this.#info?.broker : undefined;
  }

  get clientId() {
    return this.#clientId;
  }

  get connected() {
    return this.#state === 'connected';
  }

  get state() {
    return this.#state;
  }

  /** What the driver knows: QoS 1/2 and QoS 0 publishes not yet completed, and those it holds. */
  get pending() {
    return {
      inflight: this.#deliveries.size,
      queued: this.#outbox.length,
      queuedBytes: this.#outbox.reduce((n, m) => n + m.message.payload.length, 0),
      bufferedAmount: 0,
      writeBlocked: false,
      storing: false,
      storeOpsWaiting: false,
    };
  }

  get resumed() {
    return [];
  }

  // --------------------------------------------------------------------- operations

  #checkOpen() {
    if (this.#closed || this.#ending) throw new MqttError('SESSION_CLOSED', 'the client is closed');
  }

  publish(topic, payload, options) {
    try {
      this.#checkOpen();
      const message = messageIn(topic, payload, options);
      return new Promise((resolve, reject) => {
        this.#outbox.push({ message, resolve, reject });
        this.#schedule(true);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Hands what `publish` took to the component, in order, PUBLISH_BATCH at a time: all of it,
   * or (`once`, the loop's turn) one batch.
   */
  #flush(once = false) {
    while (this.#outbox.length > 0) {
      const batch = this.#outbox.splice(0, PUBLISH_BATCH);
      let results;
      try {
        results = this.#c.publishBatch(batch.map((b) => b.message));
      } catch (e) {
        for (const b of batch) b.reject(e);
        continue;
      }
      for (let i = 0; i < batch.length; i++) {
        const r = results[i];
        if (r.tag === 'ok') this.#deliveries.set(r.val, batch[i]);
        else batch[i].reject(witError(r.val, 'publish'));
      }
      if (once) break;
    }
  }

  subscribe(filter, options, handler) {
    try {
      this.#checkOpen();
      const single = !Array.isArray(filter);
      const filters = single ? [filter] : filter;
      if (filters.length === 0) throw new MqttError('INVALID_FILTER', 'no topic filter given');
      for (const f of filters) if (typeof f !== 'string') throw new MqttError('INVALID_FILTER', 'every topic filter must be a string');
      const qos = qosOf(options);
      const rh = uint(options, 'retainHandling', 0, 2) ?? 0;
      const subs = filters.map((f) => ({
        filter: f,
        qos,
        noLocal: options?.noLocal === true,
        retainAsPublished: options?.retainAsPublished === true,
        retainHandling: ['send-at-subscribe', 'send-if-new', 'do-not-send'][rh],
      }));
      let handlerIds = [];
      if (handler !== undefined) {
        if (typeof handler !== 'function') throw invalid('the handler must be a function');
        handlerIds = filters.map((f) => this.onMessage(f, handler));
      }
      this.#flush();
      let id;
      try {
        id = call('subscribe', () => this.#c.subscribe(subs, undefined));
      } catch (e) {
        for (const h of handlerIds) this.#handlers.delete(h);
        throw e;
      }
      return new Promise((resolve, reject) => {
        this.#requests.set(id, { resolve, reject, single, handlerIds });
        this.#schedule(true);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  unsubscribe(filter) {
    try {
      this.#checkOpen();
      const filters = Array.isArray(filter) ? filter : [filter];
      if (filters.length === 0) throw new MqttError('INVALID_FILTER', 'no topic filter given');
      this.#flush();
      const id = call('unsubscribe', () => this.#c.unsubscribe(filters));
      for (const [h, { filter: f }] of this.#handlers) if (filters.includes(f)) this.#handlers.delete(h);
      return new Promise((resolve, reject) => {
        this.#requests.set(id, { resolve: () => resolve(), reject, unsubscribe: true });
        this.#schedule(true);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  request(topic, payload, options) {
    try {
      this.#checkOpen();
      const message = messageIn(topic, payload, options);
      const timeout = uint(options, 'timeout', 0, Number.MAX_SAFE_INTEGER) ?? 30_000;
      this.#flush();
      const id = call('request', () => this.#c.request(message, BigInt(timeout)));
      return new Promise((resolve, reject) => {
        this.#responses.set(id, { resolve, reject });
        this.#schedule(true);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  respond(request, payload) {
    try {
      this.#checkOpen();
      if (!request || typeof request !== 'object') throw invalid('the request must be a message');
      if (!request.properties?.responseTopic) {
        throw new MqttError('NO_RESPONSE_TOPIC', 'the message carries no response topic');
      }
      const message = messageIn(request.topic, new Uint8Array(0), request);
      this.#flush();
      const id = call('respond', () => this.#c.respond(message, bytesOf(payload, 'the payload')));
      return new Promise((resolve, reject) => {
        this.#deliveries.set(id, { resolve, reject });
        this.#schedule(true);
      });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Ends the client: sends DISCONNECT when connected, stops reconnecting, and rejects
   * everything still pending with `SESSION_CLOSED`.
   */
  end() {
    if (this.#ending) return this.#ending;
    this.#ending = new Promise((resolve) => {
      this.#flush();
      try {
        this.#c.disconnect();
      } catch {
        // already closed
      }
      // What disconnect completed (as failed) comes out of poll-events, up to `closed`.
      for (let i = 0; i < 1000 && !this.#closed; i++) this.#pollOnce();
      this.#close({ code: 'CLOSED', message: 'the client ended' });
      resolve();
    });
    return this.#ending;
  }

  free() {
    void this.end();
  }

  [Symbol.dispose]() {
    this.free();
  }

  // --------------------------------------------------------------------- the loop

  /** Polls now-ish (`soon`: setImmediate) or after the idle delay. */
  #schedule(soon) {
    if (this.#closed) return;
    if (soon) {
      if (this.#immediate) return;
      if (this.#timer) {
        clearTimeout(this.#timer);
        this.#timer = null;
      }
      this.#idleDelay = 1;
      this.#immediate = setImmediate(() => this.#tick());
      return;
    }
    if (this.#immediate || this.#timer) return;
    let delay = this.#idleDelay;
    this.#idleDelay = Math.min(this.#idleDelay * 2, this.#pollInterval);
    const deadline = this.#c.nextDeadline();
    if (deadline !== undefined) {
      const now = process.hrtime.bigint();
      // The component's monotonic clock is preview2-shim's: process.hrtime.bigint().
      const untilMs = Number((deadline - now) / 1_000_000n);
      delay = Math.max(0, Math.min(delay, untilMs + 1));
    }
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.#tick();
    }, delay);
  }

  #busy() {
    return this.#outbox.length > 0 || this.#deliveries.size > 0 || this.#requests.size > 0 || this.#responses.size > 0;
  }

  #tick() {
    this.#immediate = null;
    if (this.#closed || this.#ending) return;
    this.#flush(true);
    const n = this.#pollOnce();
    if (this.#closed) return;
    this.#schedule(n > 0 || this.#busy());
  }

  /** One `poll-events(max, 0)`: handles what came, returns how many events. */
  #pollOnce() {
    let events;
    try {
      events = this.#c.pollEvents(POLL_MAX_EVENTS, 0n);
    } catch (e) {
      const err = e?.payload?.tag ? witError(e.payload) : e;
      if (err.code === 'SESSION_CLOSED') {
        this.#close({ code: 'CLOSED', message: 'the client is closed' });
      } else {
        this.#emit('error', err);
      }
      return 0;
    }
    for (const ev of events) this.#handle(ev);
    return events.length;
  }

  #handle(ev) {
    switch (ev.tag) {
      case 'message': {
        const m = new Message(ev.val);
        if (ev.val.ackId !== undefined) {
          const ackId = ev.val.ackId;
          m.ack = () => call('ack', () => this.#c.ack(ackId));
        }
        this.#emit('message', m);
        for (const { filter, handler } of [...this.#handlers.values()]) {
          if (topicMatches(filter, m.topic)) {
            try {
              handler(m);
            } catch (e) {
              queueMicrotask(() => { throw e; });
            }
          }
        }
        break;
      }
      case 'publish-complete': {
        const [id, delivery] = ev.val;
        const d = this.#deliveries.get(id);
        if (!d) break;
        this.#deliveries.delete(id);
        if (delivery.tag === 'acknowledged') d.resolve({ reasonCode: delivery.val });
        else d.reject(witError(delivery.val, 'publish'));
        break;
      }
      case 'subscribed': {
        const [id, codes] = ev.val;
        const r = this.#requests.get(id);
        if (!r) {
          // A renewal of the subscriptions after the broker lost the session.
          this.#emit('resubscribe', codes.length);
          break;
        }
        this.#requests.delete(id);
        if (!r.single) {
          r.resolve([...codes]);
        } else if (codes[0] >= 0x80) {
          for (const h of r.handlerIds) this.#handlers.delete(h);
          r.reject(new MqttError('SUBSCRIBE_FAILED', `the broker refused the subscription: reason code ${codes[0]}`, codes[0]));
        } else {
          r.resolve(codes[0]);
        }
        break;
      }
      case 'unsubscribed': {
        const [id] = ev.val;
        const r = this.#requests.get(id);
        if (!r) break;
        this.#requests.delete(id);
        r.resolve();
        break;
      }
      case 'request-failed': {
        const [id, err] = ev.val;
        const r = this.#requests.get(id);
        if (!r) break;
        this.#requests.delete(id);
        const e = witError(err, 'request');
        if (e.code !== 'SESSION_CLOSED') e.code = r.unsubscribe ? 'UNSUBSCRIBE_FAILED' : 'SUBSCRIBE_FAILED';
        r.reject(e);
        break;
      }
      case 'response': {
        const [id, outcome] = ev.val;
        const r = this.#responses.get(id);
        if (!r) break;
        this.#responses.delete(id);
        if (outcome.tag === 'response') r.resolve(new Message(outcome.val));
        else if (outcome.tag === 'timeout') r.reject(new MqttError('RESPONSE_TIMEOUT', 'no response within the timeout'));
        else r.reject(witError(outcome.val, 'response'));
        break;
      }
      case 'connected': {
        this.#info = ev.val;
        if (ev.val.assignedClientId) this.#clientId = ev.val.assignedClientId;
        this.#setState('connected');
        this.#emit('reconnect', connectionInfo(ev.val));
        break;
      }
      case 'disconnected': {
        const d = ev.val;
        const info = { broker: this.#info?.broker, code: d.code, message: d.reason };
        if (d.reasonCode !== undefined) info.reasonCode = d.reasonCode;
        if (d.willReconnect) {
          const deadline = this.#c.nextDeadline();
          if (deadline !== undefined) {
            info.reconnectIn = Math.max(0, Number((deadline - process.hrtime.bigint()) / 1_000_000n));
          }
          this.#setState('reconnecting');
          this.#emit('close', info);
        } else if (!this.#ending) {
          this.#close(info);
        }
        break;
      }
      default:
        break;
    }
  }

  /** Closed for good: rejects what is pending, emits `close` and `end`, drops the resource. */
  #close(info) {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#immediate) clearImmediate(this.#immediate);
    if (this.#timer) clearTimeout(this.#timer);
    this.#immediate = this.#timer = null;
    const closed = () => new MqttError('SESSION_CLOSED', 'the client is closed');
    for (const b of this.#outbox.splice(0)) b.reject(closed());
    for (const m of [this.#deliveries, this.#requests, this.#responses]) {
      for (const r of m.values()) r.reject(closed());
      m.clear();
    }
    this.#setState('closed');
    this.#emit('close', info);
    this.#emit('end');
    try {
      this.#c[Symbol.dispose]();
    } catch {
      // dropped already
    }
  }
}

/**
 * Connects to a broker: `mqtt://` / `tcp://`, `mqtts://` / `ssl://` / `tls://`, `ws://`, `wss://`
 * (the provider's transports). Resolves with the client once CONNACK accepted the connection;
 * rejects with an `MqttError` when the URL or an option is invalid or the first attempt fails.
 * The component's connect is synchronous: the event loop waits for it (the TCP, TLS and
 * WebSocket handshakes and CONNACK, at most `connectTimeout`).
 */
export function connect(url, options) {
  return new Promise((resolve, reject) => {
    // After the caller's synchronous code, as the browser's connect.
    setImmediate(() => {
      try {
        const o = url !== null && typeof url === 'object' ? url : options ?? {};
        const listeners = [];
        if (o.on !== undefined) {
          if (typeof o.on !== 'object' || o.on === null) throw invalid("the 'on' option must be an object");
          for (const [e, f] of Object.entries(o.on)) {
            if (!EVENTS.includes(e)) throw invalid(`unknown event ${JSON.stringify(e)}; events are ${EVENTS.join(', ')}`);
            if (typeof f !== 'function') throw invalid(`on.${e} must be a function`);
            listeners.push([e, f]);
          }
        }
        const pollInterval = uint(o, 'pollInterval', 1, 60_000) ?? DEFAULT_POLL_INTERVAL_MS;
        const opts = connectOptionsOf(url, options);
        const c = call('connect', () => wit.Client.connect(opts));
        resolve(new Client(c, listeners, opts.clientId, pollInterval));
      } catch (e) {
        reject(e);
      }
    });
  });
}

/** The browser build's initialiser; nothing to do in Node.js (the component loads on import). */
export default async function init() {
  return {};
}

/** The browser build's synchronous initialiser; nothing to do in Node.js. */
export function initSync() {
  return {};
}
