// Crash tests of the browser build's durable session state (IndexedDB) in headless Chromium,
// against a real mosquitto (WebSocket listener for the page, plain listener for mosquitto_sub and
// an MQTT.js publisher in Node; `max_queued_messages 0`: it queues without a limit):
//
// - a publisher page with an IndexedDB store sends 10 000 QoS 1 messages (every-message sync)
//   and, separately, 10 000 QoS 2 messages (batched sync), and is reloaded at several seeded
//   random points (page.reload: the page's script, its WebSockets and its wasm are gone; the
//   store stays). After each reload it continues on the same store: it publishes only what
//   it neither saw admitted (its own bookkeeping, localStorage) nor finds in `client.resumed`
//   (what the store held: the client sends those itself; the page records them as admitted).
//   mosquitto_sub (persistent session) must receive every message the page saw admitted and,
//   at QoS 2, none twice;
// - a manual-ack subscriber page with a store, reloaded mid-stream, processes every message.
//
//   node --test test/durable.test.mjs      (from web-demo/, after ./scripts/web-demo.sh build)
//
// DURABLE_SEED=n replays a run's reload points (the seed is printed). DURABLE_FIRST_RELOAD=lo-hi
// draws the first reload point in lo..hi; DURABLE_UNREPORTED=K makes the first publisher page
// record no admission after the K-th (a page reloaded after a transaction completed, before its
// outcome reached it: the store holds messages the page never saw admitted; with K = the first
// reload point this replays, every time, the QoS 2 duplicates a page that did not record its
// resumed messages caused); DURABLE_DEBUG=1 logs what each page found at load. Reloads are
// triggered by the page's own reports (how many admitted / processed), never by time; every
// wait is bounded.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import { Broker, serve, launchChromium, start, waitFor } from './support.mjs';

// 4 000 by default (DURABLE_MESSAGES=10000 for the issue's full count): a QoS 2 message needs
// two IndexedDB transactions and mosquitto admits 20 in flight, so 10 000 took 25-50 s a test on
// a loaded 2-core machine, too close to its bound.
const MESSAGES = Number(process.env.DURABLE_MESSAGES ?? 4_000);
const SUB_MESSAGES = 2_000;
// How far the subscriber's publisher runs ahead of what the page processed.
const SUB_AHEAD = 200;
const RELOADS = Number(process.env.DURABLE_RELOADS ?? 4);
// The subscriber's QoS and, if set, the Receive Maximum it announces (default 65535; see the
// README: with 20, mosquitto 2.0.11 and QoS 2 the client sees "receive maximum exceeded").
const SUB_QOS = process.env.DURABLE_SUB_QOS ?? '2';
const RECEIVE_MAXIMUM = process.env.DURABLE_RECEIVE_MAXIMUM ? { rm: process.env.DURABLE_RECEIVE_MAXIMUM } : {};
// Safety bounds, not timings: a test takes 5-25 s.
const TEST_MS = 90_000;
const STEP = 45_000;

let broker, server, browser;

before(async () => {
  broker = await Broker.start({ extraConfig: ['max_queued_messages 0'] });
  server = await serve();
  // The browser's profile (its IndexedDB) in memory when /dev/shm exists: a page reload is the
  // crash tested here, and a strict transaction's fsync on a disk shared with builds took
  // seconds, which made the every-message test's time depend on the machine's other work.
  const tmp = process.env.TMPDIR;
  if (!process.env.DURABLE_DISK && existsSync('/dev/shm')) process.env.TMPDIR = '/dev/shm';
  browser = await launchChromium();
  if (tmp === undefined) delete process.env.TMPDIR; else process.env.TMPDIR = tmp;
});

after(async () => {
  await browser?.close();
  await server?.close();
  await broker?.close();
});

function seed(what) {
  const s = Number(process.env.DURABLE_SEED ?? (Date.now() % 2 ** 31));
  console.log(`# ${what}: DURABLE_SEED=${s}`);
  return s;
}

/** mulberry32: `RELOADS` distinct points in 1..limit-1, ascending. */
function points(s, limit) {
  let a = s >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const set = new Set();
  while (set.size < RELOADS) set.add(1 + Math.floor(next() * (limit - 1)));
  return [...set].sort((x, y) => x - y);
}

/** A page of durable.html whose reports go to `onReport`; `errors` collects page errors. */
async function durablePage(params, onReport) {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(STEP);
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (process.env.DURABLE_DEBUG) page.on('console', (m) => console.log(`# page: ${m.text()}`));
  await page.exposeFunction('report', (...a) => { if (a[0] === 'error') errors.push(a[1]); onReport(...a); });
  const qs = new URLSearchParams({ url: broker.wsUrl, ...params, ...(process.env.DURABLE_DEBUG ? { debug: '1' } : {}),
    ...(process.env.DURABLE_UNREPORTED ? { unreported: process.env.DURABLE_UNREPORTED } : {}) });
  const url = `${server.url}/test/durable.html?${qs}`;
  await page.goto(url);
  return { page, errors };
}

/** mosquitto_sub with a persistent session, on the plain listener; resolves once subscribed. */
async function nativeSubscriber(topic, qos, id) {
  const sub = start('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(broker.port), '-q', String(qos),
    '-c', '-i', id, '-t', topic, '-d']);
  await waitFor('mosquitto_sub to be subscribed', () => sub.output().includes('SUBACK'), STEP);
  sub.lines = () => sub.output().split('\n').filter((l) => /^(\d+|END)$/.test(l));
  return sub;
}

async function publisherRun(qos, sync) {
  const s = seed(`QoS ${qos} publisher`);
  // Within the first 90 %: a page that finishes with messages in doubt (resumed, never seen
  // admitted) may never report the last few admitted.
  const reloadAt = points(s, Math.floor(MESSAGES * 0.9));
  // DURABLE_FIRST_RELOAD=lo-hi: the first reload point drawn in lo..hi instead (an early
  // reload, e.g. 50-130: every QoS 2 duplicate batch seen so far followed one).
  if (process.env.DURABLE_FIRST_RELOAD) {
    const [lo, hi] = process.env.DURABLE_FIRST_RELOAD.split('-').map(Number);
    reloadAt[0] = lo + (s % (hi - lo + 1));
    reloadAt.sort((x, y) => x - y);
  }
  console.log(`# reloads after ${reloadAt.join(', ')} admitted`);
  const tag = `q${qos}-${s}`;
  const topic = `durable/${tag}`;
  const sub = await nativeSubscriber(topic, qos, `sub-${tag}`);
  const admitted = new Set();
  let finished = false, starts = [], due = false;
  const t0 = Date.now();
  const { page, errors } = await durablePage({ role: 'publisher', db: `pub-${tag}`, topic, qos: String(qos), n: String(MESSAGES), sync },
    (kind, a, b) => {
      if (kind === 'admitted') {
        for (const i of a) admitted.add(i);
        if (reloadAt.length && admitted.size >= reloadAt[0]) due = true;
      } else if (kind === 'start') starts.push({ resumed: a, skipped: b });
      else if (kind === 'finished') finished = true;
    });
  try {
    let reloads = 0;
    while (!finished) {
      await waitFor(`the page to finish or reach a reload point (${admitted.size} admitted)`, () => finished || due || errors.length, STEP, 10)
        .catch(async (e) => {
          const state = await page.evaluate(() => JSON.stringify({ step: window.step, progress: window.progress, state: window.client?.state, pending: window.client?.pending })).catch((x) => String(x));
          const log = broker.log().split('\n').filter((l) => l.includes(`pub-${tag}`) || /error|warn/i.test(l)).slice(-12).join('\n');
          throw new Error(`${e.message}; page: ${state}; broker log:\n${log}`);
        });
      assert.deepEqual(errors, []);
      if (due && !finished) {
        reloadAt.shift();
        due = false;
        console.log(`# reload at ${admitted.size} admitted (${Date.now() - t0} ms)`);
        await page.reload();
        reloads++;
        // A point already passed (the reloaded page may report no new admission: all were).
        due = reloadAt.length > 0 && admitted.size >= reloadAt[0];
      }
    }
    await waitFor('END at mosquitto_sub', () => sub.lines().includes('END'), STEP);
    // The page's own bookkeeping is the truth (a report may be cut off by a reload).
    const seen = await page.evaluate(([db, n]) => { const s = []; for (let i = 0; i < n; i++) if (localStorage.getItem(`${db}:${i}`)) s.push(i); return s; }, [`pub-${tag}`, MESSAGES]);
    assert.ok(seen.length >= admitted.size);
    for (const i of seen) admitted.add(i);
    const got = sub.lines().filter((l) => l !== 'END').map(Number);
    const distinct = new Set(got);
    const lost = [...admitted].filter((i) => !distinct.has(i));
    const dups = got.length - distinct.size;
    if (dups) {
      const count = new Map();
      for (const i of got) count.set(i, (count.get(i) ?? 0) + 1);
      const twice = [...count].filter(([, c]) => c > 1).map(([i]) => i);
      console.log(`# received more than once: ${twice.length} [${Math.min(...twice)}..${Math.max(...twice)}] ${JSON.stringify(twice.slice(0, 80))}`);
    }
    console.log(`# QoS ${qos}: ${reloads} reloads, ${admitted.size} admitted, ${got.length} received, ${distinct.size} distinct, ` +
      `${dups} duplicates; per load (resumed, skipped): ${starts.map((x) => `(${x.resumed}, ${x.skipped})`).join(' ')}`);
    assert.equal(reloads, RELOADS);
    // Admitted or not, every message reached the broker: published again by the page, or
    // resumed from the store (a publish in flight at a reload whose transaction completed).
    assert.equal(distinct.size, MESSAGES);
    assert.deepEqual(lost, [], 'admitted and never received');
    if (qos === 2) assert.equal(dups, 0, 'QoS 2 duplicates');
    assert.deepEqual(errors, []);
  } finally {
    sub.kill();
    await page.close();
  }
}

test('a QoS 1 publisher page reloaded mid-stream loses nothing it saw admitted (IndexedDB, every-message)', { timeout: TEST_MS }, () =>
  publisherRun(1, 'every-message'));

test('a QoS 2 publisher page reloaded mid-stream loses nothing and duplicates nothing (IndexedDB, batched)', { timeout: TEST_MS }, () =>
  publisherRun(2, 'batched'));

test(`a manual-ack subscriber page reloaded mid-stream loses nothing (IndexedDB, QoS ${SUB_QOS})`, { timeout: TEST_MS }, async () => {
  const s = seed('manual-ack subscriber');
  const reloadAt = points(s, SUB_MESSAGES - 2 * SUB_AHEAD);
  console.log(`# reloads after ${reloadAt.join(', ')} distinct messages processed`);
  const tag = `s-${s}`;
  const topic = `durable/${tag}`;
  const processed = [], distinct = new Set();
  let subscribed = 0, due = false;
  const { page, errors } = await durablePage({ role: 'subscriber', db: `sub-${tag}`, topic, qos: SUB_QOS, n: '0', ...RECEIVE_MAXIMUM },
    (kind, a) => {
      if (kind === 'processed') {
        for (const i of a) { processed.push(Number(i)); distinct.add(Number(i)); }
        if (reloadAt.length && distinct.size >= reloadAt[0]) due = true;
      } else if (kind === 'subscribed') subscribed++;
    });
  let pub;
  try {
    await waitFor('the page to subscribe', () => subscribed > 0 || errors.length, STEP, 10);
    assert.deepEqual(errors, []);
    // The publisher: MQTT.js in Node over TCP. (mosquitto_pub -l at QoS 2 stalls: 2.0.11, given
    // 2 000 lines at once, publishes 20, its inflight window, and no more; the paced feed below
    // hit the same stall now and then near the end: 3 of 17 runs stopped 120-160 short.)
    // At most PUB_WINDOW unacknowledged: mosquitto 2.0.11 closes a 3.1.1 client that has far
    // more QoS 2 messages in flight (MQTT.js has no window of its own).
    pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${broker.port}`, { clientId: `pub-${tag}`, reconnectPeriod: 0 });
    const PUB_WINDOW = 10;
    let acked = 0, next = 0, unacked = 0;
    const pubErrors = [];
    const pump = () => {
      while (unacked < PUB_WINDOW && next < sent) {
        const i = next++;
        unacked++;
        pub.publishAsync(topic, String(i), { qos: Number(SUB_QOS) }).then(
          () => { acked++; unacked--; pump(); },
          (e) => { pubErrors.push(String(e?.message ?? e)); unacked--; });
      }
    };
    // Paced: the publisher sends the next messages only while the page is at most SUB_AHEAD
    // messages behind, and none while a reload is due; a reload point is at most
    // SUB_MESSAGES - 2 * SUB_AHEAD, so every reload happens with messages not yet published.
    let sent = 0;
    const feed = () => {
      const to = Math.min(SUB_MESSAGES, distinct.size + SUB_AHEAD);
      if (to <= sent) return;
      sent = to;
      pump();
    };
    let reloads = 0, midStream = 0;
    const all = () => distinct.size === SUB_MESSAGES;
    const hungry = () => sent < SUB_MESSAGES && distinct.size + SUB_AHEAD >= sent + SUB_AHEAD / 4;
    while (!all()) {
      await waitFor(`every message processed, or a reload point (${processed.length} processed, ${sent} published)`,
        () => all() || due || hungry() || errors.length, STEP, 10)
        .catch(async (e) => {
          const state = await page.evaluate(() => JSON.stringify({
            state: window.client?.state, pending: window.client?.pending, progress: window.progress,
          })).catch((x) => String(x));
          const missing = [];
          for (let i = 0; i < sent; i++) if (!distinct.has(i)) missing.push(i);
          const span = missing.length ? `${missing.length} [${missing[0]}..${missing[missing.length - 1]}]` : '0';
          const log = broker.log().split('\n').filter((l) => /drop|Warning|Error/i.test(l)).slice(-10).join(' | ');
          throw new Error(`${e.message}; missing ${span} ${JSON.stringify(missing.slice(0, 20))}; page: ${state}; ` +
            `publisher: ${acked} of ${sent} acknowledged ${JSON.stringify(pubErrors.slice(0, 3))}; broker: ${log}`);
        });
      assert.deepEqual(errors, []);
      assert.deepEqual(pubErrors, []);
      if (due && !all()) {
        reloadAt.shift();
        due = false;
        if (sent < SUB_MESSAGES) midStream++;
        console.log(`# reload at ${distinct.size} processed, ${sent} published`);
        await page.reload();
        reloads++;
        due = reloadAt.length > 0 && distinct.size >= reloadAt[0];
      } else if (!due) feed();
    }
    await waitFor('the publisher\'s last acknowledgements', () => acked === SUB_MESSAGES || pubErrors.length, STEP, 10);
    assert.deepEqual(pubErrors, []);
    console.log(`# subscriber: ${reloads} reloads, ${processed.length} processed, ${distinct.size} distinct, ` +
      `${processed.length - distinct.size} processed again`);
    assert.equal(distinct.size, SUB_MESSAGES);
    assert.equal(reloads, RELOADS);
    assert.equal(midStream, RELOADS, 'every reload mid-stream (messages not yet published)');
    assert.deepEqual(errors, []);
  } finally {
    await pub?.endAsync(true).catch(() => {});
    await page.close();
  }
});

test('store and acknowledgement failures are typed; publish resolves once admitted', { timeout: TEST_MS }, async () => {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(STEP);
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${server.url}/test/scenario.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  try {
    const r = await page.evaluate(async (url) => {
      const { connect } = window.wasmqtt;
      const code = (p) => p.then(() => 'resolved', (e) => e.code);
      const out = {};
      out.noName = await code(connect(url, { store: {} }));
      out.badSync = await code(connect(url, { store: { indexedDb: 'x', sync: 'sometimes' } }));
      out.badBatch = await code(connect(url, { store: { indexedDb: 'x', sync: { batched: { maxMessages: 0 } } } }));
      // Records connect cannot resume from: nothing is sent, connect rejects.
      // A connection of its own per write, closed at once: connect waits for every other
      // connection to the database to close (see store.rs, "One writer").
      const put = (k, v) => new Promise((res, rej) => {
        const q = indexedDB.open('corrupt');
        q.onupgradeneeded = () => q.result.createObjectStore('records');
        q.onerror = () => rej(q.error);
        q.onsuccess = () => {
          const db = q.result;
          const tx = db.transaction('records', 'readwrite');
          tx.objectStore('records').put(v, k);
          tx.oncomplete = () => { db.close(); res(); };
        };
      });
      await put(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1]), new Uint8Array([1, 0x30, 0x01]));
      out.corrupt = await code(connect(url, { store: { indexedDb: 'corrupt' } }));
      await put(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1]), 'not bytes');
      out.notBytes = await code(connect(url, { store: { indexedDb: 'corrupt' } }));
      await put(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1]), new Uint8Array([9, 0x30, 0x01]));
      out.format = await code(connect(url, { store: { indexedDb: 'corrupt' } }));
      // With a store: QoS 1 resolves admitted (its record stored), `done` on PUBACK; QoS 0 as before.
      const c = await connect(url, { store: { indexedDb: 'typed' }, manualAcks: true });
      out.resumed = c.resumed.length;
      const got = [];
      let both;
      const arrived = new Promise((res) => (both = res));
      await c.subscribe('durable/typed', { qos: 1 }, (m) => { got.push(m); if (got.length === 2) both(); });
      const p1 = await c.publish('durable/typed', 'one', { qos: 1 });
      out.admitted = p1.admitted;
      out.done = (await p1.done).reasonCode;
      out.qos0 = JSON.stringify(await c.publish('durable/typed', 'zero', { qos: 0 }));
      await window.within(10_000, 'both messages', arrived);
      const m = got.find((x) => x.text === 'one');
      out.qos0HasAck = typeof got.find((x) => x.text === 'zero').ack;
      m.ack();
      try { m.ack(); out.double = 'accepted'; } catch (e) { out.double = e.code; }
      await c.end();
      // IndexedDB missing (private modes, some workers).
      Object.defineProperty(globalThis, 'indexedDB', { value: undefined, configurable: true });
      out.unavailable = await code(connect(url, { store: { indexedDb: 'typed' } }));
      return out;
    }, broker.wsUrl);
    assert.deepEqual(r, {
      noName: 'INVALID_ARGUMENT', badSync: 'INVALID_ARGUMENT', badBatch: 'INVALID_ARGUMENT',
      corrupt: 'STORE_CORRUPT', notBytes: 'STORE_CORRUPT', format: 'STORE_UNSUPPORTED_FORMAT',
      resumed: 0, admitted: true, done: 0, qos0: '{"reasonCode":0}', qos0HasAck: 'undefined',
      double: 'ACK_ALREADY_ACKED', unavailable: 'STORE_UNAVAILABLE',
    });
    assert.deepEqual(pageErrors, []);
  } finally {
    await page.close();
  }
});
