// The workloads, run inside the page by bench.mjs. Both libraries get the same broker, the same
// protocol version, the same messages and the same measurement.
import init, { connect as wasmqttConnect } from '../pkg/wasmqtt.js';

await init();

const payload = new Uint8Array(100).fill(0x61);
let seq = 0;
const unique = (p) => `${p}-${Date.now().toString(36)}-${seq++}`;

// A uniform face over the two clients.
async function open(lib, url, opts = {}) {
  const clientId = unique(lib);
  if (lib === 'wasmqtt') {
    // MQTT.js buffers without bound (the queue and, for QoS 0, the WebSocket): budgets as large here.
    const c = await wasmqttConnect(url, { clientId, protocolVersion: 4, keepalive: 60, maxInflight: Number(new URLSearchParams(location.search).get("inflight") ?? 100), maxQueuedMessages: 1_000_000, maxQueuedBytes: 1 << 30, maxPendingWriteBytes: 1 << 30 });
    return {
      publish: (t, p, qos) => c.publish(t, p, { qos }),
      subscribe: (f, qos) => c.subscribe(f, { qos }),
      onMessage: (fn) => c.on('message', (m) => fn(m.topic, m.payload)),
      end: () => c.end(),
    };
  }
  const c = await window.mqtt.connectAsync(url, { clientId, protocolVersion: 4, keepalive: 60, reconnectPeriod: 0 });
  return {
    publish: (t, p, qos) => c.publishAsync(t, p, { qos }),
    subscribe: async (f, qos) => (await c.subscribeAsync(f, { qos }))[0].qos,
    onMessage: (fn) => c.on('message', (t, p) => fn(t, p)),
    end: () => c.endAsync(),
  };
}

// Publish throughput: n messages of 100 B at `qos`, all handed over in one go; for QoS 0 a final
// QoS 1 message is awaited too, so the time covers the broker having taken all of them.
window.throughput = async (lib, url, qos, n) => {
  const c = await open(lib, url);
  const topic = unique('bench/tp');
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < n; i++) all.push(c.publish(topic, payload, qos));
  await Promise.all(all);
  if (qos === 0) await c.publish(topic, payload, 1);
  const ms = performance.now() - t0;
  await c.end();
  return { ms, perSecond: (n / ms) * 1000 };
};

// Round trip: publish (QoS 0) to a topic the same client subscribes to, wait for it, repeat.
window.roundTrip = async (lib, url, n) => {
  const c = await open(lib, url);
  const topic = unique('bench/rtt');
  await c.subscribe(topic, 0);
  let wake = null;
  c.onMessage(() => wake && wake());
  const samples = [];
  for (let i = 0; i < n + 50; i++) {
    const got = new Promise((r) => (wake = r));
    const t0 = performance.now();
    c.publish(topic, payload, 0);
    await got;
    if (i >= 50) samples.push(performance.now() - t0); // the first 50 warm up
  }
  await c.end();
  samples.sort((a, b) => a - b);
  const q = (p) => samples[Math.min(samples.length - 1, Math.floor(p * samples.length))];
  return { p50: q(0.5), p99: q(0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
};

document.body.dataset.ready = '1';
