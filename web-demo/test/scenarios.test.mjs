// The shared driver scenario table (S1–S5, docs: the scenario table of issue 10) for the browser
// build in headless Chromium: every outcome is the core's (first-connect policy, connect deadline,
// write budgets, options validation, reconnection). Prints `scenario browser SID OUTCOME` per
// scenario and asserts that outcome.
//
//   node --test test/scenarios.test.mjs     (from web-demo/, after ./scripts/web-demo.sh build)
//
// Peers: mosquitto's WebSocket listener (support.mjs's Broker), a loopback port with nothing
// listening, a listener that accepts and stays silent, and a TCP proxy in front of mosquitto
// (FaultProxy) that pauses the client's writes or cuts the connection. Every wait is bounded and
// waits for a state, never for time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker, FaultProxy, serve, launchChromium, freePort, silentListener, start, waitFor } from './support.mjs';

const STEP = 15_000;
let broker, proxy, server, browser;
const pageErrors = [];

function report(sid, outcome) {
  console.log(`scenario browser ${sid} ${outcome}`);
}

async function newPage() {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.goto(`${server.url}/test/scenario.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  return page;
}

before(async () => {
  broker = await Broker.start();
  proxy = await FaultProxy.start(broker.wsPort);
  server = await serve();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await proxy?.close();
  await broker?.close();
});

test('S1: first connect refused: rejects with the transport error and is not retried (GiveUp)', async () => {
  const url = `ws://127.0.0.1:${await freePort()}/`;
  const page = await newPage();
  const r = await page.evaluate(async (url) => {
    const states = [], closes = [];
    let ended = false;
    const t0 = performance.now();
    const done = when(() => ended);
    const on = { state: (s) => states.push(s), close: (c) => closes.push(c), end: () => { ended = true; done.poke(); } };
    let code, message;
    try {
      await within(10_000, 'connect to settle', wasmqtt.connect(url, { reconnectPeriod: 100, on }));
    } catch (e) { code = e.code; message = e.message; }
    const ms = performance.now() - t0;
    await within(5_000, 'the end event', done.p);
    return { code, message, ms, states, closes: closes.map((c) => ({ code: c.code, reconnectIn: c.reconnectIn ?? null })) };
  }, url);
  assert.equal(r.code, 'CONNECTION_LOST', JSON.stringify(r));
  assert.match(r.message, /WebSocket closed \(code 1006/, 'the transport error carries the close code');
  assert.ok(r.ms < 5_000, `failed promptly (${r.ms} ms)`);
  assert.deepEqual(r.closes, [{ code: 'CONNECTION_LOST', reconnectIn: null }], 'one attempt, closed for good');
  assert.deepEqual(r.states, ['closed']);
  report('S1', r.code);
  await page.close();
});

test('S1-retry: with retryInitialConnection the client stays reconnecting', async () => {
  const url = `ws://127.0.0.1:${await freePort()}/`;
  const page = await newPage();
  const r = await page.evaluate(async (url) => {
    const states = [], closes = [];
    const enough = when(() => closes.length >= 3);
    const on = { state: (s) => states.push(s), close: (c) => { closes.push(c); enough.poke(); } };
    let settled = false;
    wasmqtt.connect(url, { reconnectPeriod: 50, maxReconnectDelay: 100, retryInitialConnection: true, on })
      .then(() => { settled = true; }, () => { settled = true; });
    await within(10_000, 'three failed attempts', enough.p);
    return { settled, states, closes: closes.map((c) => ({ code: c.code, again: c.reconnectIn !== undefined })) };
  }, url);
  assert.equal(r.settled, false, 'connect still pending');
  assert.deepEqual(r.states, ['reconnecting']);
  for (const c of r.closes) assert.deepEqual(c, { code: 'CONNECTION_LOST', again: true });
  report('S1-retry', r.states.at(-1));
  await page.close(); // ends the retrying client with its page
});

test('S2: a broker silent while the transport opens: CONNECT_TIMEOUT, the open abandoned', async () => {
  const silent = await silentListener();
  const page = await newPage();
  try {
    const r = await page.evaluate(async (url) => {
      try {
        await within(10_000, 'connect to settle', wasmqtt.connect(url, { connectTimeout: 1000 }));
        return { code: 'resolved' };
      } catch (e) { return { code: e.code, message: e.message }; }
    }, silent.wsUrl);
    assert.equal(r.code, 'CONNECT_TIMEOUT', JSON.stringify(r));
    assert.equal(silent.accepted, 1, 'one attempt reached the listener');
    // Output::CloseTransport: the client closed the WebSocket that was still connecting (Chrome
    // keeps the TCP connection of an abandoned handshake open for a while: judge the WebSocket).
    await page.waitForFunction(() => window.sockets.length === 1 && window.sockets[0].readyState === WebSocket.CLOSED);
    report('S2', r.code);
  } finally {
    await page.close();
    await silent.close();
  }
});

test('S4: invalid options are rejected at once with the core\'s code; nothing is sent', async () => {
  const page = await newPage();
  const before = proxy.accepted;
  const r = await page.evaluate(async (url) => {
    const out = [];
    for (const options of [{ maxInflight: 0 }, { reconnectPeriod: 1000, maxReconnectDelay: 500 }]) {
      const p = wasmqtt.connect(url, options);
      // Rejected at once: already settled when a task later looks at it.
      const first = await Promise.race([p.then(() => 'resolved', (e) => e), new Promise((r) => setTimeout(() => r('pending'), 0))]);
      out.push(typeof first === 'string' ? { code: first } : { code: first.code, message: first.message });
    }
    return out;
  }, proxy.wsUrl);
  assert.equal(r[0].code, 'INVALID_ARGUMENT', JSON.stringify(r));
  assert.match(r[0].message, /max_inflight/);
  assert.equal(r[1].code, 'INVALID_ARGUMENT', JSON.stringify(r));
  assert.match(r[1].message, /max_delay_ms/);
  // A valid client through the same proxy is the only connection it ever sees from here.
  const ok = await page.evaluate(async (url) => {
    const c = await within(10_000, 'connect', wasmqtt.connect(url));
    await c.end();
    return c.state;
  }, proxy.wsUrl);
  assert.equal(ok, 'closed');
  assert.equal(proxy.accepted, before + 1, 'the invalid options opened no connection');
  report('S4', r[0].code);
  await page.close();
});

test('S3: writes blocked then unblocked: within budgets while blocked, every admitted publish completes and arrives once', async () => {
  const page = await newPage();
  const budget = { maxQueuedMessages: 1000, maxQueuedBytes: 1 << 20 };
  // The subscriber: mosquitto_sub on the plain listener, each payload `INDEX xxx…` on a line of
  // its own (mosquitto 2.0.11's WebSocket listener sends a 64 KiB message to any browser client,
  // MQTT.js too, in about a second: a subscriber there would take half a minute).
  const sub = start('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', 's3/#', '-d', '-W', '60']);
  await waitFor('mosquitto_sub to be subscribed', () => sub.output().includes('SUBACK'), STEP);
  await page.evaluate(async ({ via, budget }) => {
    window.s3 = { client: await within(10_000, 'publisher', wasmqtt.connect(via, { clientId: 's3-pub', ...budget })) };
  }, { via: proxy.wsUrl, budget });
  proxy.pauseClientWrites();
  const r = await page.evaluate(async (budget) => {
    const c = window.s3.client;
    const filler = 'x'.repeat(64 * 1024);
    const admitted = [];
    let refusal = null, maxBuffered = 0, blockedSeen = false, bytes = 0;
    const over = [];
    while (bytes < 4 * 1024 * 1024) {
      const i = admitted.length;
      const p = c.publish('s3/load', `${i} ${filler}`, { qos: 1 });
      // A refusal is immediate; an admitted publish is still pending a task later.
      const first = await Promise.race([p.then(() => 'done', (e) => e), new Promise((r) => setTimeout(() => r('pending'), 0))]);
      if (typeof first !== 'string') { refusal = first.code; break; }
      admitted.push(p.then((x) => x.reasonCode, (e) => e.code));
      bytes += filler.length;
      const s = c.pending;
      maxBuffered = Math.max(maxBuffered, s.bufferedAmount);
      blockedSeen ||= s.writeBlocked;
      if (s.queued > budget.maxQueuedMessages || s.queuedBytes > budget.maxQueuedBytes) over.push(s);
    }
    window.s3.admitted = admitted;
    return { refusal, admitted: admitted.length, maxBuffered, blockedSeen, over, pending: c.pending };
  }, budget);
  proxy.resumeClientWrites();
  // What the browser buffers is at most the bound (max_transmit_bytes, 64 KiB) plus one transmit
  // (at most the bound plus one packet): see drivers/browser/src/driver.rs.
  const packet = 64 * 1024 + 64;
  assert.ok(r.maxBuffered <= 2 * 64 * 1024 + packet, `bufferedAmount ${r.maxBuffered} within the bound`);
  assert.deepEqual(r.over, [], 'the queue stayed within its budgets');
  assert.ok(r.refusal === 'QUEUE_FULL' || r.refusal === 'WOULD_BLOCK' || r.refusal === null, JSON.stringify(r));
  assert.ok(r.admitted > 0);
  const done = await page.evaluate(async () => {
    const codes = await within(30_000, 'every admitted publish to complete', Promise.all(window.s3.admitted));
    await window.s3.client.end();
    return { codes: [...new Set(codes)] };
  });
  const received = () => sub.output().split('\n').map((l) => /^(\d+) x/.exec(l)?.[1]).filter(Boolean);
  try {
    await waitFor('mosquitto_sub to receive every admitted message', () => new Set(received()).size >= r.admitted, 30_000);
  } finally {
    sub.kill();
  }
  const ids = received();
  done.received = new Set(ids).size;
  done.once = ids.length === done.received;
  assert.deepEqual(done.codes, [0], 'every admitted publish acknowledged with success');
  assert.equal(done.received, r.admitted);
  assert.ok(done.once, 'each received once');
  console.log(`# S3: ${r.admitted} admitted, refusal ${r.refusal}, max bufferedAmount ${r.maxBuffered}, write blocked seen: ${r.blockedSeen}`);
  report('S3', r.refusal ?? 'BOUND');
  await page.close();
});

test('S5: the broker side closes mid-session: close event, reconnect, round trip on the renewed subscription', async () => {
  const page = await newPage();
  await page.evaluate(async (url) => {
    const s = { states: [], closes: [], got: [], resub: 0 };
    window.s5 = s;
    s.client = await within(10_000, 'connect', wasmqtt.connect(url, { reconnectPeriod: 100, on: {
      state: (x) => { s.states.push(x); s.poke?.(); },
      close: (c) => s.closes.push({ code: c.code, message: c.message, again: c.reconnectIn !== undefined }),
      resubscribe: (n) => { s.resub += n; },
    } }));
    await s.client.subscribe('s5/echo', { qos: 1 }, (m) => { s.got.push(m.text); s.poke?.(); });
  }, proxy.wsUrl);
  assert.deepEqual(await page.evaluate(() => window.s5.states), ['connected']);
  proxy.cut();
  const r = await page.evaluate(async () => {
    const s = window.s5;
    const back = when(() => s.states.length >= 3 && s.states.at(-1) === 'connected');
    s.poke = back.poke;
    back.poke();
    await within(15_000, 'reconnected', back.p);
    const echo = when(() => s.got.includes('after the cut'));
    s.poke = echo.poke;
    const ack = await s.client.publish('s5/echo', 'after the cut', { qos: 1 });
    await within(10_000, 'the message back on the renewed subscription', echo.p);
    await s.client.end();
    return { states: s.states, closes: s.closes, resub: s.resub, ack: ack.reasonCode };
  });
  assert.deepEqual(r.closes[0].code, 'CONNECTION_LOST', JSON.stringify(r));
  assert.equal(r.closes[0].again, true, 'reconnecting');
  assert.deepEqual(r.states.slice(1, 3), ['reconnecting', 'connected']);
  assert.equal(r.resub, 1, 'the broker lost the session: one subscription renewed');
  assert.equal(r.ack, 0);
  report('S5', r.closes[0].code);
  await page.close();
});

test('the page saw no errors, and the dashboard\'s matcher is the core\'s', async () => {
  const page = await newPage();
  const m = await page.evaluate(() => [
    wasmqtt.topicMatches('a/+/c', 'a/b/c'), wasmqtt.topicMatches('#', '$SYS/x'),
    wasmqtt.topicMatches('$share/g/a/#', 'a/b'), wasmqtt.topicMatches('a/b', 'a/b/c'),
    (() => { try { wasmqtt.validateTopicFilter('a/#/b'); return 'ok'; } catch (e) { return e.code; } })(),
    (() => { try { wasmqtt.validateTopicName('a/+'); return 'ok'; } catch (e) { return e.code; } })(),
  ]);
  assert.deepEqual(m, [true, false, true, false, 'INVALID_FILTER', 'INVALID_TOPIC']);
  await page.close();
  // Chrome logs each refused WebSocket (S1) and the missing favicon.
  assert.deepEqual(pageErrors.filter((e) => !/WebSocket|404 \(Not Found\)/.test(e)), []);
});
