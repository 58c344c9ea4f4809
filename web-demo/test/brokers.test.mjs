// Broker lists, failover and wss:// for the browser build in headless Chromium: `connect`'s URL
// and its `servers` option become the session's Options::brokers, the session picks the broker
// of every attempt (Session::broker), the driver opens the one it names.
//
//   node --test test/brokers.test.mjs     (from web-demo/, after ./scripts/web-demo.sh build)
//
// Peers: mosquitto with a WebSocket listener, a WebSocket-over-TLS listener whose CA and server
// certificate are made at test time (support.mjs's makeCertificates, the openssl CLI) and a plain
// listener for mosquitto_sub; a loopback port with nothing listening (the dead broker); a TCP
// proxy in front of the WebSocket listener (FaultProxy) that goes away mid-session. Every wait is
// bounded and waits for a state, never for time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Broker, FaultProxy, serve, launchChromium, freePort, start, waitFor } from './support.mjs';

const STEP = 15_000;
let broker, server, browser;
const pageErrors = [];

async function newPage(b = browser) {
  const page = await b.context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
  await page.goto(`${server.url}/test/scenario.html`);
  await page.waitForSelector('body[data-ready="1"]', { state: 'attached' });
  return page;
}

before(async () => {
  broker = await Broker.start({ wss: true });
  server = await serve();
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  await server?.close();
  await broker?.close();
});

/** The core names a broker by its URL without the password, with the port and path filled in. */
const named = (port, scheme = 'ws') => `${scheme}://127.0.0.1:${port}/mqtt`;

/** mosquitto_sub on the plain listener; resolves once its SUBACK came. `ids()`: the INDEX of every `INDEX …` line. */
async function nativeSubscriber(topic) {
  const sub = start('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-d', '-W', '60']);
  await waitFor('mosquitto_sub to be subscribed', () => sub.output().includes('SUBACK'), STEP);
  sub.ids = () => sub.output().split('\n').map((l) => /^(\d+) m/.exec(l)?.[1]).filter(Boolean).map(Number);
  return sub;
}

test('URLs and servers: what a browser cannot open is refused with INVALID_URL, saying why', async () => {
  const page = await newPage();
  const dead = await freePort();
  const r = await page.evaluate(async (dead) => {
    const cases = [
      ['mqtt://127.0.0.1:1883', undefined],
      ['mqtts://127.0.0.1:8883', undefined],
      ['tcp://127.0.0.1', undefined],
      ['127.0.0.1:1883', undefined],
      ['ws://127.0.0.1:99999/', undefined],
      ['ws://127.0.0.1/#frag', undefined],
      [undefined, undefined],
      [undefined, { servers: [] }],
      [{ servers: [{ host: '127.0.0.1', port: 1883, protocol: 'mqtt' }] }, undefined],
      [`ws://127.0.0.1:${dead}/`, { servers: ['mqtts://u:secret@127.0.0.1'] }],
      [`ws://127.0.0.1:${dead}/`, { servers: [{ host: '' }] }],
      [`ws://127.0.0.1:${dead}/`, { servers: [{ host: '127.0.0.1', port: 0 }] }],
      [`ws://127.0.0.1:${dead}/`, { servers: 'ws://127.0.0.1/' }],
      [`ws://127.0.0.1:${dead}/`, { servers: [42] }],
      [`ws://127.0.0.1:${dead}/`, { servers: ['ws://127.0.0.1/'], brokers: ['ws://127.0.0.1/'] }],
      // The core's limit (Options::validate, MAX_BROKERS = 64), with its code.
      [`ws://127.0.0.1:${dead}/`, { brokers: Array(64).fill(`ws://127.0.0.1:${dead}/`) }],
    ];
    const out = [];
    for (const [url, options] of cases) {
      const p = wasmqtt.connect(url, options);
      // Refused at once: already settled when a task later looks at it.
      const first = await Promise.race([p.then(() => 'resolved', (e) => e), new Promise((r) => setTimeout(() => r('pending'), 0))]);
      out.push(typeof first === 'string' ? { code: first } : { code: first.code, message: first.message });
    }
    return { out, sockets: window.sockets.length };
  }, dead);
  const codes = r.out.map((x) => x.code);
  assert.deepEqual(codes, [
    'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL',
    'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL', 'INVALID_URL',
    'INVALID_ARGUMENT', 'INVALID_ARGUMENT',
  ], JSON.stringify(r.out, null, 1));
  const msg = r.out.map((x) => x.message);
  assert.match(msg[0], /a browser can only open WebSockets: use ws:\/\/ or wss:\/\/ instead of mqtt:\/\//);
  assert.match(msg[1], /instead of mqtts:\/\//);
  assert.match(msg[2], /instead of mqtt:\/\//, 'tcp:// is the core\'s alias of mqtt://');
  assert.match(msg[3], /has no scheme/, 'the core\'s UrlError text');
  assert.match(msg[4], /invalid port `99999`/, 'the core\'s UrlError text');
  assert.match(msg[5], /cannot open a WebSocket/);
  assert.match(msg[6], /no broker/);
  assert.match(msg[8], /instead of mqtt:\/\//);
  assert.doesNotMatch(msg[9], /secret/, 'the password stays out of the message');
  assert.match(msg[9], /mqtts:\/\/u@127\.0\.0\.1:8883/);
  assert.match(msg[9], /^servers\[0\]: /, 'the message names the entry');
  assert.match(msg[10], /^servers\[0\]: 'host' must be/);
  assert.match(msg[11], /^servers\[0\]: option 'port' must be a whole number from 1 to 65535/);
  assert.match(msg[13], /^servers\[0\]: must be a URL string or an object/);
  assert.match(msg[14], /not both/);
  assert.match(msg[15], /at most 64 brokers, not 65/);
  assert.equal(r.sockets, 0, 'nothing was opened');
  await page.close();
});

test('failover at connect: servers [a dead port, mosquitto] connects to the second and says so', async () => {
  const dead = await freePort();
  const page = await newPage();
  const r = await page.evaluate(async ({ dead, live }) => {
    const closes = [], connects = [];
    const on = { close: (c) => closes.push(c), connect: (i) => connects.push(i.broker) };
    // MQTT.js's shapes: an object without a protocol, then a URL string.
    const c = await within(10_000, 'connect', wasmqtt.connect({
      servers: [{ host: '127.0.0.1', port: dead }, `ws://127.0.0.1:${live}/`], reconnectPeriod: 5_000, on,
    }));
    const out = {
      closes: closes.map((x) => ({ code: x.code, broker: x.broker, reconnectIn: x.reconnectIn })),
      connects, broker: c.broker, state: c.state,
      opened: window.sockets.map((s) => s.url),
    };
    await c.end();
    return out;
  }, { dead, live: broker.wsPort });
  assert.equal(r.state, 'connected');
  // The object has no path (so /mqtt); the URL asks for path / (src/broker.rs).
  const live = `ws://127.0.0.1:${broker.wsPort}/`;
  assert.deepEqual(r.connects, [live], 'the connect event names the broker in use');
  assert.equal(r.broker, live, 'client.broker names it');
  assert.deepEqual(r.opened, [`ws://127.0.0.1:${dead}/mqtt`, live], 'one WebSocket per broker, in order');
  assert.equal(r.closes.length, 1, JSON.stringify(r));
  assert.equal(r.closes[0].code, 'CONNECTION_LOST');
  assert.equal(r.closes[0].broker, named(dead), 'the close event names the dead broker');
  // Within a round the next broker is tried at once, not after reconnectPeriod.
  assert.ok(r.closes[0].reconnectIn < 1_000, `next broker at once (reconnectIn ${r.closes[0].reconnectIn})`);
  // Every broker dead: the first connect gives up after one round (FirstConnect::GiveUp), with
  // one close event per broker.
  const dead2 = await freePort();
  const all = await page.evaluate(async (urls) => {
    const closes = [];
    const [url, ...servers] = urls;
    try {
      await within(10_000, 'connect to settle', wasmqtt.connect(url, { servers, on: { close: (c) => closes.push({ broker: c.broker, again: c.reconnectIn !== undefined }) } }));
      return { code: 'resolved' };
    } catch (e) { return { code: e.code, closes }; }
  }, [`ws://127.0.0.1:${dead}/`, `ws://127.0.0.1:${dead2}/`]);
  const slash = (port) => `ws://127.0.0.1:${port}/`;
  assert.deepEqual(all, { code: 'CONNECTION_LOST', closes: [{ broker: slash(dead), again: true }, { broker: slash(dead2), again: false }] });
  await page.close();
});

test('failover mid-session: the broker in use goes away, the client moves on and every QoS 1 message (in flight, published meanwhile, offline) arrives', async () => {
  const proxy = await FaultProxy.start(broker.wsPort);
  const sub = await nativeSubscriber('fo/#');
  const page = await newPage();
  try {
    await page.evaluate(async ({ first, second }) => {
      const s = { connects: [], closes: [], states: [] };
      window.fo = s;
      s.acks = [];
      s.client = await within(10_000, 'connect', wasmqtt.connect(first, {
        clientId: 'fo-pub', servers: [second], reconnectPeriod: 5_000,
        on: {
          connect: (i) => { s.connects.push(i.broker); s.poke?.(); },
          close: (c) => {
            s.closes.push({ code: c.code, broker: c.broker, reconnectIn: c.reconnectIn, state: s.client.state, connected: s.client.connected });
            // Published while offline, between the two brokers (not after `end`).
            if (s.closes.length === 1) for (let i = 40; i < 50; i++) s.acks.push(s.client.publish('fo/load', `${i} msg`, { qos: 1 }));
          },
          state: (x) => s.states.push(x),
        },
      }));
    }, { first: proxy.wsUrl, second: broker.wsUrl });
    // Messages in flight when the broker goes away: the proxy holds what the client writes.
    proxy.pauseClientWrites();
    await page.evaluate(() => {
      const s = window.fo;
      for (let i = 0; i < 20; i++) s.acks.push(s.client.publish('fo/load', `${i} msg`, { qos: 1 }));
      s.inflightAtCut = s.client.pending.inflight;
    });
    // The first broker goes away: every connection cut, the port closed.
    await proxy.close();
    const r = await page.evaluate(async () => {
      const s = window.fo;
      // Published meanwhile (the client is reconnecting or already on the second broker).
      const stateThen = s.client.state;
      for (let i = 20; i < 40; i++) s.acks.push(s.client.publish('fo/load', `${i} msg`, { qos: 1 }));
      const back = when(() => s.connects.length >= 2);
      s.poke = back.poke;
      back.poke();
      await within(10_000, 'connected to the second broker', back.p);
      const codes = await within(15_000, 'every publish acknowledged', Promise.all(s.acks.map((p) => p.then((x) => x.reasonCode, (e) => e.code))));
      const out = { stateThen, inflightAtCut: s.inflightAtCut, codes: [...new Set(codes)], n: codes.length, connects: s.connects, closes: s.closes, states: s.states, broker: s.client.broker };
      await s.client.end();
      return out;
    });
    assert.deepEqual(r.connects, [named(proxy.port), named(broker.wsPort)], JSON.stringify(r));
    assert.equal(r.broker, named(broker.wsPort));
    assert.equal(r.closes[0].code, 'CONNECTION_LOST', JSON.stringify(r));
    assert.equal(r.closes[0].broker, named(proxy.port), 'the close event names the broker that went away');
    assert.ok(r.closes[0].reconnectIn < 1_000, `the next broker at once (reconnectIn ${r.closes[0].reconnectIn})`);
    assert.equal(r.closes[0].connected, false, 'offline when the close listener published');
    assert.equal(r.inflightAtCut, 20, 'the first 20 were in flight (unacknowledged) at the cut');
    assert.equal(r.n, 50);
    assert.deepEqual(r.codes, [0], 'every publish acknowledged with success');
    await waitFor('mosquitto_sub to receive all 50 messages', () => new Set(sub.ids()).size >= 50, 15_000);
    assert.deepEqual([...new Set(sub.ids())].sort((a, b) => a - b), [...Array(50).keys()]);
    console.log(`# failover mid-session: ${r.inflightAtCut} in flight at the cut, state then ${r.stateThen}, close seen in state ${r.closes[0].state}; ${sub.ids().length} deliveries of 50 messages (QoS 1: at least once)`);
  } finally {
    sub.kill();
    await page.close();
  }
});

test('credentials in a server URL go into that broker\'s CONNECT', async () => {
  const page = await newPage();
  const r = await page.evaluate(async (url) => {
    const c = await within(10_000, 'connect', wasmqtt.connect({ servers: [url], clientId: 'cred-check', username: 'other' }));
    const out = { broker: c.broker, opened: window.sockets.map((s) => s.url) };
    await c.end();
    return out;
  }, `ws://meter:s3cret@127.0.0.1:${broker.wsPort}/`);
  assert.equal(r.broker, `ws://meter@127.0.0.1:${broker.wsPort}/`, 'named without the password');
  assert.deepEqual(r.opened, [`ws://127.0.0.1:${broker.wsPort}/`], 'the WebSocket URL carries no credentials');
  // mosquitto logs the CONNECT's user name: the URL's, not the options' one.
  await waitFor('mosquitto to log the connection', () => /as cred-check .*u'meter'/.test(broker.log()), STEP);
  await page.close();
});

test('wss://: a QoS 1 round trip over WebSocket-over-TLS with a certificate made at test time', async () => {
  const page = await newPage();
  // The test's Chromium does not know the test CA: the TLS handshake fails, which shows the
  // listener really speaks TLS with that certificate.
  const refused = await page.evaluate(async (url) => {
    try { await within(10_000, 'connect', wasmqtt.connect(url)); return 'resolved'; } catch (e) { return e.code; }
  }, broker.wssUrl);
  assert.equal(refused, 'CONNECTION_LOST', 'an untrusted certificate fails the connection');
  await page.close();
  // A Chromium of its own for this test, accepting exactly the test server's key.
  const trusting = await launchChromium([`--ignore-certificate-errors-spki-list=${broker.certificates.spki}`]);
  try {
    const tp = await newPage(trusting);
    const r = await tp.evaluate(async (url) => {
      const connects = [];
      const c = await within(10_000, 'connect over wss', wasmqtt.connect(url, { on: { connect: (i) => connects.push(i.broker) } }));
      const got = when(() => c.got);
      await c.subscribe('wss/echo', { qos: 1 }, (m) => { c.got = { text: m.text, qos: m.qos }; got.poke(); });
      const ack = await within(10_000, 'PUBACK', c.publish('wss/echo', 'over TLS', { qos: 1 }));
      const echo = await within(10_000, 'the message back', got.p);
      const out = { connects, broker: c.broker, ack: ack.reasonCode, echo, opened: window.sockets.map((s) => s.url) };
      await c.end();
      return out;
    }, broker.wssUrl);
    assert.deepEqual(r.connects, [named(broker.wssPort, 'wss')]);
    assert.equal(r.broker, named(broker.wssPort, 'wss'));
    assert.deepEqual(r.opened, [`wss://127.0.0.1:${broker.wssPort}/mqtt`]);
    assert.equal(r.ack, 0);
    assert.deepEqual(r.echo, { text: 'over TLS', qos: 1 });
    await tp.close();
  } finally {
    await trusting.close();
  }
});

test('the pages saw no errors but Chrome\'s own log of the refused WebSockets', async () => {
  assert.deepEqual(pageErrors.filter((e) => !/WebSocket|404 \(Not Found\)/.test(e)), []);
});
