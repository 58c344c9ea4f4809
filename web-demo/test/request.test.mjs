// MQTT 5.0 request/response in the browser build (headless Chromium against mosquitto over
// WebSocket): `client.request(topic, payload, { timeout })` resolves with the response,
// `client.respond(message, payload)` answers a request; a timeout, a client that ends, 3.1.1,
// `topicAliasMaximum: 0`, and a session taken over by a second client with the same client id
// reaching the `close` event with its reason while the client keeps reconnecting.
//
//   node --test test/request.test.mjs     (from web-demo/, after ./scripts/web-demo.sh build)
//
// Every wait is bounded and waits for a state, never for time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker, serve, launchChromium } from './support.mjs';

const STEP = 15_000;
let broker, server, browser;
const pageErrors = [];

async function newPage() {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${server.url}/test/scenario.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  return page;
}

before(async () => {
  broker = await Broker.start();
  server = await serve();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await broker?.close();
  assert.deepEqual(pageErrors, [], 'no uncaught errors in the page');
});

test('request/response: a responder answers, concurrent requests match, timeout, end, 3.1.1', async () => {
  const page = await newPage();
  const r = await page.evaluate(async (url) => {
    const responder = await within(10_000, 'responder', wasmqtt.connect(url, { clientId: 'rr-responder' }));
    await responder.subscribe('svc/reverse/#', { qos: 1 }, (m) => {
      responder.respond(m, [...m.text].reverse().join('')).catch(() => {});
    });
    const requester = await within(10_000, 'requester', wasmqtt.connect(url, { clientId: 'rr-requester' }));
    const [a, b] = await within(10_000, 'two responses', Promise.all([
      requester.request('svc/reverse/a', 'abc', { timeout: 10_000 }),
      requester.request('svc/reverse/b', '12345', { timeout: 10_000, qos: 1 }),
    ]));
    const out = {
      a: a.text, b: b.text, topic: a.topic, sameTopic: a.topic === b.topic,
      correlated: a.properties?.correlationData instanceof Uint8Array,
    };
    out.timeout = await requester.request('svc/nobody', '?', { timeout: 300 }).then(() => 'resolved', (e) => e.code);
    const pending = requester.request('svc/nobody', '?', { timeout: 60_000 }).then(() => 'resolved', (e) => e.code);
    await requester.end();
    out.closed = await within(5_000, 'the pending request', pending);
    out.after = await requester.request('svc/nobody', '?').then(() => 'resolved', (e) => e.code);
    const plain = await new Promise((res) => {
      responder.onMessage('plain/#', res);
      responder.subscribe('plain/#').then(() => responder.publish('plain/x', 'no response topic'));
    });
    out.noTopic = await responder.respond(plain, 'x').then(() => 'resolved', (e) => e.code);
    await responder.end();
    const old = await within(10_000, 'a 3.1.1 client', wasmqtt.connect(url, { clientId: 'rr-old', protocolVersion: 4 }));
    out.v311 = await old.request('svc/reverse/a', 'abc').then(() => 'resolved', (e) => e.code);
    await old.end();
    return out;
  }, broker.wsUrl);
  assert.equal(r.a, 'cba');
  assert.equal(r.b, '54321');
  assert.match(r.topic, /\/rr-requester\/resp$/, 'the session\'s response topic');
  assert.ok(r.sameTopic, 'one response topic per client');
  assert.ok(r.correlated, 'the response carries the correlation data');
  assert.equal(r.timeout, 'RESPONSE_TIMEOUT');
  assert.equal(r.closed, 'SESSION_CLOSED');
  assert.equal(r.after, 'SESSION_CLOSED');
  assert.equal(r.noTopic, 'NO_RESPONSE_TOPIC');
  assert.equal(r.v311, 'NOT_SUPPORTED_IN_V311');
  await page.close();
});

test('topicAliasMaximum: 0 connects and delivers', async () => {
  const page = await newPage();
  const r = await page.evaluate(async (url) => {
    const c = await within(10_000, 'connect', wasmqtt.connect(url, { clientId: 'rr-noalias', topicAliasMaximum: 0 }));
    const got = new Promise((res) => c.onMessage('alias/zero', (m) => res(m.text)));
    await c.subscribe('alias/zero', { qos: 1 });
    await c.publish('alias/zero', 'x', { qos: 1 });
    const text = await within(5_000, 'the message back', got);
    const bad = await wasmqtt.connect(url, { clientId: 'rr-badalias', topicAliasMaximum: 70_000 }).then(() => 'resolved', (e) => e.code);
    await c.end();
    return { text, bad };
  }, broker.wsUrl);
  assert.deepEqual(r, { text: 'x', bad: 'INVALID_ARGUMENT' });
  await page.close();
});

test('a session taken over reaches the close event with its reason, and the client reconnects', async () => {
  const page = await newPage();
  const r = await page.evaluate(async (url) => {
    const closes = [];
    const back = when(() => closes.length >= 1 && first?.state === 'connected');
    let first;
    first = await within(10_000, 'first', wasmqtt.connect(url, {
      clientId: 'rr-taken', reconnectPeriod: 100,
      on: { close: (c) => { closes.push(c); back.poke(); }, connect: () => back.poke(), reconnect: () => back.poke() },
    }));
    const secondCloses = [];
    const secondEnd = when(() => secondCloses.length >= 1);
    const second = await within(10_000, 'second', wasmqtt.connect(url, {
      clientId: 'rr-taken', reconnectPeriod: 0,
      on: { close: (c) => { secondCloses.push(c); secondEnd.poke(); } },
    }));
    await within(10_000, 'the first to be kicked and come back', back.p);
    await within(10_000, 'the second to be kicked', secondEnd.p);
    const out = {
      first: closes.map((c) => ({ code: c.code, message: c.message, reasonCode: c.reasonCode, again: c.reconnectIn !== undefined })),
      second: secondCloses.map((c) => ({ code: c.code, message: c.message, again: c.reconnectIn !== undefined })),
      state: first.state,
    };
    await first.end();
    await second.end();
    return out;
  }, broker.wsUrl);
  const kicked = r.first[0];
  assert.ok(kicked.again, `the first keeps reconnecting: ${JSON.stringify(r)}`);
  assert.ok(kicked.message.length > 0, 'with a message');
  // mosquitto 2.0.11 closes the connection (newer ones send DISCONNECT 0x8E first).
  if (kicked.code === 'DISCONNECTED_BY_BROKER') assert.equal(kicked.reasonCode, 0x8e);
  else assert.equal(kicked.code, 'CONNECTION_LOST', JSON.stringify(r));
  assert.equal(r.second[0].again, false, 'reconnectPeriod 0: closed');
  assert.equal(r.state, 'connected');
});
