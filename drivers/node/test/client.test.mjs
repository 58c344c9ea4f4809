// The Node.js entry against a mosquitto of its own: connect, subscribe, publish and receive at
// QoS 0/1/2 (from itself and from MQTT.js, and the other way round), unsubscribe, typed errors
// of bad URLs, refused connections and refused brokers, request/response, end. No sleeps: every
// wait is for an event, bounded by a timeout that fails the test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqtt from 'mqtt';
import { connect, MqttError, topicMatches, validateTopicFilter, validateTopicName } from '../index.js';
import { Broker, freePort, collector, deferred, waitFor, scriptedBroker } from './support.mjs';

let broker;
before(async () => { broker = await Broker.start(); });
after(async () => { await broker?.close(); });

/** Every byte value, then some: a binary payload that must arrive unchanged. */
const binary = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 3) % 256);

async function mqttjs(options = {}) {
  const c = mqtt.connect(broker.url, { protocolVersion: 5, reconnectPeriod: 0, ...options });
  await new Promise((res, rej) => { c.once('connect', res); c.once('error', rej); });
  return c;
}

test('connect resolves with a connected client naming its broker', async () => {
  const states = [];
  const connected = deferred();
  const c = await connect(broker.url, { clientId: 'node-connect', on: { state: (s) => states.push(s), connect: connected.resolve } });
  try {
    assert.equal(c.connected, true);
    assert.equal(c.state, 'connected');
    assert.equal(c.clientId, 'node-connect');
    assert.equal(c.broker, `mqtt://127.0.0.1:${broker.port}`);
    const info = await connected.promise;
    assert.equal(info.sessionPresent, false);
    assert.equal(info.broker, c.broker);
    assert.deepEqual(states, ['connected']);
  } finally {
    await c.end();
  }
});

test('subscribe, then publish QoS 0, 1 and 2 to itself: every message arrives intact at its QoS', async () => {
  const c = await connect(broker.url, { clientId: 'node-self' });
  try {
    const got = collector(3);
    assert.equal(await c.subscribe('self/#', { qos: 2 }, (m) => got.push(m)), 2);
    const results = await Promise.all([
      c.publish('self/0', 'zero \u00e9\u4e2d', { qos: 0 }),
      c.publish('self/1', binary, { qos: 1 }),
      c.publish('self/2', binary.buffer, { qos: 2 }),
    ]);
    assert.deepEqual(results, [{ reasonCode: 0 }, { reasonCode: 0 }, { reasonCode: 0 }]);
    const ms = (await got.done).sort((a, b) => a.topic.localeCompare(b.topic));
    assert.deepEqual(ms.map((m) => [m.topic, m.qos, m.retain]), [['self/0', 0, false], ['self/1', 1, false], ['self/2', 2, false]]);
    assert.equal(ms[0].text, 'zero \u00e9\u4e2d');
    assert.deepEqual(ms[1].payload, binary);
    assert.deepEqual(ms[2].payload, binary);
  } finally {
    await c.end();
  }
});

test('the granted QoS caps what arrives; the message event sees every message', async () => {
  const c = await connect(broker.url, { clientId: 'node-cap' });
  try {
    const got = collector(2);
    c.on('message', (m) => got.push(m));
    assert.equal(await c.subscribe('cap/#', { qos: 1 }), 1);
    await c.publish('cap/2', 'two', { qos: 2 });
    await c.publish('cap/2b', 'two again', { qos: 2 });
    const ms = await got.done;
    assert.deepEqual(ms.map((m) => [m.topic, m.qos, m.text]), [['cap/2', 1, 'two'], ['cap/2b', 1, 'two again']]);
  } finally {
    await c.end();
  }
});

test('MQTT.js publishes, wasmqtt receives at QoS 0/1/2; wasmqtt publishes, MQTT.js receives', async () => {
  const ours = await connect(broker.url, { clientId: 'node-interop' });
  const theirs = await mqttjs({ clientId: 'mqttjs-interop' });
  try {
    const got = collector(3);
    await ours.subscribe('in/#', { qos: 2 }, (m) => got.push(m));
    for (const qos of [0, 1, 2]) await theirs.publishAsync(`in/${qos}`, Buffer.from(binary), { qos });
    const ms = (await got.done).sort((a, b) => a.topic.localeCompare(b.topic));
    assert.deepEqual(ms.map((m) => [m.topic, m.qos]), [['in/0', 0], ['in/1', 1], ['in/2', 2]]);
    for (const m of ms) assert.deepEqual(m.payload, binary);

    const back = collector(3);
    theirs.on('message', (topic, payload, packet) => back.push({ topic, payload, qos: packet.qos }));
    await theirs.subscribeAsync('out/#', { qos: 2 });
    for (const qos of [0, 1, 2]) await ours.publish(`out/${qos}`, binary, { qos });
    const bs = (await back.done).sort((a, b) => a.topic.localeCompare(b.topic));
    assert.deepEqual(bs.map((m) => [m.topic, m.qos]), [['out/0', 0], ['out/1', 1], ['out/2', 2]]);
    for (const m of bs) assert.deepEqual(new Uint8Array(m.payload), binary);
  } finally {
    await ours.end();
    await theirs.endAsync();
  }
});

test('MQTT 5.0 properties and MQTT 3.1.1 both work', async () => {
  const v5 = await connect(broker.url, { clientId: 'node-props' });
  const v311 = await connect(broker.url, { clientId: 'node-311', protocolVersion: 4 });
  try {
    const got = collector(1);
    await v5.subscribe('props/t', { qos: 1 }, (m) => got.push(m));
    await v5.publish('props/t', '{}', {
      qos: 1,
      properties: { contentType: 'application/json', userProperties: { a: '1', b: ['2', '3'] }, messageExpiryInterval: 60 },
    });
    const [m] = await got.done;
    assert.equal(m.properties.contentType, 'application/json');
    assert.deepEqual(m.properties.userProperties, { a: '1', b: ['2', '3'] });
    assert.ok(m.properties.messageExpiryInterval > 0 && m.properties.messageExpiryInterval <= 60);

    const old = collector(2);
    await v311.subscribe('old/#', { qos: 2 }, (x) => old.push(x));
    await v311.publish('old/1', 'one', { qos: 1 });
    await v311.publish('old/2', 'two', { qos: 2 });
    assert.deepEqual((await old.done).map((x) => [x.topic, x.qos, x.text]), [['old/1', 1, 'one'], ['old/2', 2, 'two']]);
  } finally {
    await v5.end();
    await v311.end();
  }
});

test('over WebSocket (ws://) as well', async () => {
  const c = await connect(broker.wsUrl, { clientId: 'node-ws' });
  try {
    assert.match(c.broker, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/);
    const got = collector(1);
    await c.subscribe('ws/t', { qos: 1 }, (m) => got.push(m));
    await c.publish('ws/t', binary, { qos: 1 });
    assert.deepEqual((await got.done)[0].payload, binary);
  } finally {
    await c.end();
  }
});

test('unsubscribe: no more messages on that filter (the later marker proves it)', async () => {
  const c = await connect(broker.url, { clientId: 'node-unsub' });
  const peer = await mqttjs({ clientId: 'mqttjs-unsub' });
  try {
    const seen = [];
    const marker = deferred();
    await c.subscribe('gone/t', { qos: 1 }, (m) => seen.push(m.topic));
    await c.subscribe('kept/marker', { qos: 1 }, (m) => marker.resolve(m.text));
    await peer.publishAsync('gone/t', 'before', { qos: 1 });
    await waitFor('the message before unsubscribing', () => seen.length === 1);
    await c.unsubscribe('gone/t');
    // One publisher, QoS 1, one subscriber: the broker delivers in order, so once the marker
    // (published after) arrived, a message on `gone/t` would have arrived before it.
    await peer.publishAsync('gone/t', 'after', { qos: 1 });
    await peer.publishAsync('kept/marker', 'marker', { qos: 1 });
    assert.equal(await marker.promise, 'marker');
    assert.deepEqual(seen, ['gone/t']);
  } finally {
    await c.end();
    await peer.endAsync();
  }
});

test('a subscription the broker refuses rejects with SUBSCRIBE_FAILED and its reason code', async () => {
  // mosquitto 2.0 grants every subscription (its ACLs apply at delivery): a scripted broker
  // answers every filter with 0x87 (Not authorized) in 5.0, 0x80 (Failure) in 3.1.1.
  const fake = await scriptedBroker({ subackCode: 0x87 });
  const c = await connect(fake.url, { clientId: 'node-refused-sub', reconnectPeriod: 0 });
  const c4 = await connect(fake.url, { clientId: 'node-refused-sub-311', protocolVersion: 4, reconnectPeriod: 0 });
  try {
    const err = await c.subscribe('denied/x', { qos: 1 }).then(() => null, (e) => e);
    assert.ok(err instanceof MqttError, String(err));
    assert.equal(err.code, 'SUBSCRIBE_FAILED');
    assert.equal(err.reasonCode, 0x87);
    const err4 = await c4.subscribe('denied/x', { qos: 1 }).then(() => null, (e) => e);
    assert.equal(err4?.code, 'SUBSCRIBE_FAILED');
    assert.equal(err4.reasonCode, 0x80);
    // An array resolves with one code per filter instead.
    assert.deepEqual(await c.subscribe(['a/x', 'b/y'], { qos: 1 }), [0x87, 0x87]);
  } finally {
    await c.end();
    await c4.end();
    await fake.close();
  }
});

test('bad URLs reject with INVALID_URL', async () => {
  for (const url of ['foo://127.0.0.1:1883', 'not a url', 'mqtt://']) {
    const err = await connect(url).then(() => null, (e) => e);
    assert.ok(err instanceof MqttError, `${url}: ${err}`);
    assert.equal(err.name, 'MqttError');
    assert.equal(err.code, 'INVALID_URL', `${url}: ${err.code} ${err.message}`);
  }
  const none = await connect(undefined, {}).then(() => null, (e) => e);
  assert.equal(none?.code, 'INVALID_URL');
});

test('a refused TCP connection rejects with CONNECTION_LOST', async () => {
  const port = await freePort();
  const err = await connect(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 }).then(() => null, (e) => e);
  assert.ok(err instanceof MqttError, String(err));
  assert.equal(err.code, 'CONNECTION_LOST');
  assert.match(err.message, /refused/);
});

test('a broker that refuses the client rejects with CONNECTION_REFUSED and the reason code', async () => {
  const v5 = await connect(`mqtt://127.0.0.1:${broker.closedPort}`, { reconnectPeriod: 0 }).then(() => null, (e) => e);
  assert.ok(v5 instanceof MqttError, String(v5));
  assert.equal(v5.code, 'CONNECTION_REFUSED');
  assert.equal(v5.reasonCode, 0x87); // Not authorized
  const v311 = await connect(`mqtt://127.0.0.1:${broker.closedPort}`, { reconnectPeriod: 0, protocolVersion: 4 }).then(() => null, (e) => e);
  assert.equal(v311?.code, 'CONNECTION_REFUSED');
  assert.equal(v311.reasonCode, 5); // 3.1.1: not authorized
});

test('options the component refuses, and options Node.js does not have, reject with their codes', async () => {
  const cases = [
    // The core's Options::validate, inside the component.
    [{ maxInflight: 0 }, 'INVALID_ARGUMENT'],
    [{ maxQueuedMessages: 0 }, 'INVALID_ARGUMENT'],
    [{ connectTimeout: 0 }, 'INVALID_ARGUMENT'],
    [{ reconnectPeriod: 1000, maxReconnectDelay: 10 }, 'INVALID_ARGUMENT'],
    [{ will: { topic: 'a/#' } }, 'INVALID_TOPIC'],
    // The JavaScript types, and what Node.js cannot do.
    [{ keepalive: -1 }, 'INVALID_ARGUMENT'],
    [{ maxInflight: 'x' }, 'INVALID_ARGUMENT'],
    [{ will: { topic: 'w', qos: 3 } }, 'INVALID_QOS'],
    [{ on: { nosuchevent: () => {} } }, 'INVALID_ARGUMENT'],
    [{ store: { indexedDb: 'x' } }, 'INVALID_ARGUMENT'],
    [{ retryInitialConnection: true }, 'INVALID_ARGUMENT'],
  ];
  for (const [options, code] of cases) {
    const err = await connect(broker.url, options).then((c) => { void c.end(); return null; }, (e) => e);
    assert.equal(err?.code, code, `${JSON.stringify(options)}: ${err?.message}`);
  }
});

test('invalid topics, filters and QoS reject with their codes; the client stays usable', async () => {
  const c = await connect(broker.url, { clientId: 'node-invalid' });
  try {
    assert.equal((await c.publish('a/+', 'x').catch((e) => e)).code, 'INVALID_TOPIC');
    assert.equal((await c.publish('', 'x').catch((e) => e)).code, 'INVALID_TOPIC');
    assert.equal((await c.publish('a', 'x', { qos: 3 }).catch((e) => e)).code, 'INVALID_QOS');
    assert.equal((await c.subscribe('a/#/b').catch((e) => e)).code, 'INVALID_FILTER');
    assert.equal((await c.subscribe([]).catch((e) => e)).code, 'INVALID_FILTER');
    const got = collector(1);
    await c.subscribe('still/ok', { qos: 1 }, (m) => got.push(m.text));
    await c.publish('still/ok', 'yes', { qos: 1 });
    assert.deepEqual(await got.done, ['yes']);
  } finally {
    await c.end();
  }
});

test('request/response (MQTT 5.0): respond answers request', async () => {
  const server = await connect(broker.url, { clientId: 'node-responder' });
  const caller = await connect(broker.url, { clientId: 'node-requester' });
  try {
    await server.subscribe('svc/echo', { qos: 1 }, (m) => { server.respond(m, `echo ${m.text}`); });
    const reply = await caller.request('svc/echo', 'hi', { qos: 1, timeout: 10_000 });
    assert.equal(reply.text, 'echo hi');
    const none = await caller.request('svc/nobody', 'hi', { qos: 1, timeout: 200 }).catch((e) => e);
    assert.equal(none.code, 'RESPONSE_TIMEOUT');
  } finally {
    await server.end();
    await caller.end();
  }
});

test('end sends DISCONNECT, closes, and later calls reject with SESSION_CLOSED', async () => {
  const c = await connect(broker.url, { clientId: 'node-end', will: { topic: 'will/t', payload: 'gone' } });
  const events = [];
  const ended = deferred();
  c.on('close', (i) => events.push(['close', i.code]));
  c.on('state', (s) => events.push(['state', s]));
  c.on('end', () => { events.push(['end']); ended.resolve(); });
  await c.end();
  await ended.promise;
  assert.equal(c.connected, false);
  assert.equal(c.state, 'closed');
  assert.equal(c.broker, undefined);
  assert.deepEqual(events, [['state', 'closed'], ['close', 'CLOSED'], ['end']]);
  assert.equal((await c.publish('x', 'y').catch((e) => e)).code, 'SESSION_CLOSED');
  assert.equal((await c.subscribe('x').catch((e) => e)).code, 'SESSION_CLOSED');
  await c.end(); // twice is fine
  // The broker saw a DISCONNECT (mosquitto logs "Client <id> disconnected." for one, and
  // "closed its connection" or "disconnected, not authorised" otherwise).
  await waitFor('mosquitto to log the DISCONNECT', () => /Client node-end disconnected\./.test(broker.log()));
  assert.doesNotMatch(broker.log(), /Client node-end closed its connection/);
});

test('publishes pending at end reject with SESSION_CLOSED or complete; none is left unsettled', async () => {
  const c = await connect(broker.url, { clientId: 'node-end-pending', maxInflight: 1 });
  const all = [];
  for (let i = 0; i < 50; i++) all.push(c.publish('pending/t', 'x', { qos: 1 }).then(() => 'ok', (e) => e.code));
  await c.end();
  const settled = await Promise.all(all);
  assert.equal(settled.length, 50);
  for (const s of settled) assert.ok(s === 'ok' || s === 'SESSION_CLOSED', s);
  assert.ok(settled.includes('SESSION_CLOSED'), 'with one in flight, some of 50 must still wait at end');
});

test('the event loop keeps running while 5000 QoS 1 publishes complete', async () => {
  const c = await connect(broker.url, { clientId: 'node-loop' });
  try {
    let turns = 0;
    let running = true;
    const spin = () => { turns++; if (running) setImmediate(spin); };
    setImmediate(spin);
    const payload = new Uint8Array(100);
    const all = [];
    for (let i = 0; i < 5000; i++) all.push(c.publish('loop/t', payload, { qos: 1 }));
    const results = await Promise.all(all);
    running = false;
    assert.equal(results.length, 5000);
    // Nobody subscribes: mosquitto answers 0x10 (No matching subscribers), a success.
    assert.deepEqual([...new Set(results.map((r) => r.reasonCode))], [0x10]);
    // The driver polls with timeout 0 and yields between polls: other callbacks run meanwhile.
    assert.ok(turns >= 20, `only ${turns} event loop turns ran during 5000 publishes`);
  } finally {
    await c.end();
  }
});

test('a lost connection emits close with reconnectIn, then reconnect; subscriptions come back', async () => {
  const c = await connect(broker.url, { clientId: 'node-reconnect', reconnectPeriod: 100, maxReconnectDelay: 200, clean: false, sessionExpiryInterval: 0 });
  try {
    await c.subscribe('re/t', { qos: 1 });
    const closed = deferred();
    const reconnected = deferred();
    c.on('close', closed.resolve);
    c.on('reconnect', reconnected.resolve);
    await broker.restart();
    const info = await closed.promise;
    assert.equal(info.code, 'CONNECTION_LOST');
    assert.equal(typeof info.reconnectIn, 'number');
    const again = await reconnected.promise;
    assert.equal(again.sessionPresent, false);
    assert.equal(c.state, 'connected');
    const got = collector(1);
    c.on('message', (m) => got.push(m.text));
    await waitFor('the subscription to be renewed', async () => {
      await c.publish('re/t', 'back', { qos: 1 });
      return got.items.length > 0;
    }, 10_000, 100);
    assert.equal(got.items[0], 'back');
  } finally {
    await c.end();
  }
});

test('an idle client keeps its connection: the loop wakes for the keep-alive deadline', async () => {
  // Keep-alive 1 s: mosquitto 2.0 drops a client silent for 1.5 s (its check runs every few
  // seconds: it logged the drop 5 s after CONNECT when the loop ignored the deadline). The idle
  // loop's waits double up to pollInterval (5 s here): 1, 2, 4 ... 1024, 2048, 4096 ms, too late
  // for the PINGREQs alone; next-deadline wakes it.
  const c = await connect(broker.url, { clientId: 'node-keepalive', keepalive: 1, pollInterval: 5000 });
  try {
    const closes = [];
    c.on('close', (i) => closes.push(i.code));
    // The property is about time passing with nothing to do: the wait is the test, not a sync.
    await new Promise((r) => setTimeout(r, 7000));
    assert.deepEqual(closes, []);
    assert.equal(c.connected, true);
    assert.doesNotMatch(broker.log(), /node-keepalive.*(exceeded timeout|disconnected)/);
    const got = collector(1);
    await c.subscribe('ka/t', { qos: 1 }, (m) => got.push(m.text));
    await c.publish('ka/t', 'alive', { qos: 1 });
    assert.deepEqual(await got.done, ['alive']);
  } finally {
    await c.end();
  }
});

test('topicMatches, validateTopicFilter, validateTopicName', () => {
  assert.equal(topicMatches('a/+/c', 'a/b/c'), true);
  assert.equal(topicMatches('a/#', 'a'), true);
  assert.equal(topicMatches('a/#', 'a/b/c'), true);
  assert.equal(topicMatches('a/+', 'a/b/c'), false);
  assert.equal(topicMatches('#', '$SYS/x'), false);
  assert.equal(topicMatches('$SYS/#', '$SYS/x'), true);
  assert.equal(topicMatches('$share/g/a/+', 'a/b'), true);
  assert.equal(topicMatches('a/b', 'a/c'), false);
  assert.throws(() => validateTopicFilter('a/#/b'), (e) => e.code === 'INVALID_FILTER');
  assert.throws(() => validateTopicFilter('a+'), (e) => e.code === 'INVALID_FILTER');
  assert.doesNotThrow(() => validateTopicFilter('a/+/#'));
  assert.throws(() => validateTopicName('a/+'), (e) => e.code === 'INVALID_TOPIC');
  assert.throws(() => validateTopicName(''), (e) => e.code === 'INVALID_TOPIC');
  assert.doesNotThrow(() => validateTopicName('a/b'));
});
