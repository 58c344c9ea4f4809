// wasmqtt in Node.js (the provider component through jco) against MQTT.js in Node.js: the same
// mosquitto, the same process, QoS 1 publish throughput of 100-byte messages.
//
//   cd drivers/node && npm ci && npm run build && node bench/bench.mjs
//
// Each round connects a fresh client, publishes N messages at once (N Promises), waits for every
// PUBACK, and disconnects; the figure is N / (last PUBACK - first publish). ROUNDS (default 5)
// alternate the libraries (odd rounds wasmqtt first); each library's figure is the median round
// with the range of all rounds (min–max); the ratio is of the medians. mosquitto announces a
// Receive Maximum of 100 (max_inflight_messages), the window of both. Also printed, since the
// component's calls are synchronous: how long the event loop went without running a timer while
// the messages were out (a setTimeout(0) chain runs beside the publishes; the gaps between its
// callbacks, p50 / p99 / max over the counted rounds), for both libraries. A benchmark: it
// asserts nothing.
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { connect } from '../index.js';
import { Broker } from '../test/support.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = Number(process.env.N ?? 10_000);
const SIZE = 100;
const INFLIGHT = Number(process.env.INFLIGHT ?? 100);
const payload = new Uint8Array(SIZE).fill(0x61);

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n) => Math.round(n).toLocaleString('en-US');

const broker = await Broker.start({ extraConfig: ['max_inflight_messages 100', 'max_queued_messages 1000000'] });
const gaps = { wasmqtt: [], 'MQTT.js': [] };

/** Records the gaps between the callbacks of a setTimeout(0) chain into `into` until stopped. */
function watchLoop(into) {
  let last = performance.now();
  let running = true;
  const tick = () => {
    const now = performance.now();
    into.push(now - last);
    last = now;
    if (running) setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  return () => { running = false; };
}

async function wasmqttRound(round, loop = []) {
  const c = await connect(broker.url, { clientId: `bench-wasmqtt-${round}`, maxInflight: INFLIGHT, maxQueuedMessages: N + 1 });
  const stop = watchLoop(loop);
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < N; i++) all.push(c.publish('bench/wasmqtt', payload, { qos: 1 }));
  await Promise.all(all);
  const dt = performance.now() - t0;
  stop();
  await c.end();
  return (N / dt) * 1000;
}

async function mqttjsRound(round, loop = []) {
  const c = mqtt.connect(broker.url, { clientId: `bench-mqttjs-${round}`, protocolVersion: 5, reconnectPeriod: 0 });
  await new Promise((res, rej) => { c.once('connect', res); c.once('error', rej); });
  const stop = watchLoop(loop);
  const t0 = performance.now();
  const all = [];
  const buf = Buffer.from(payload);
  for (let i = 0; i < N; i++) all.push(c.publishAsync('bench/mqttjs', buf, { qos: 1 }));
  await Promise.all(all);
  const dt = performance.now() - t0;
  stop();
  await c.endAsync();
  return (N / dt) * 1000;
}

const results = { wasmqtt: [], 'MQTT.js': [] };
try {
  // One warm-up round each (JIT, the component's first instantiation), not counted.
  await wasmqttRound('warmup');
  await mqttjsRound('warmup');
  for (let r = 1; r <= ROUNDS; r++) {
    const order = r % 2 ? ['wasmqtt', 'MQTT.js'] : ['MQTT.js', 'wasmqtt'];
    for (const lib of order) {
      const rate = lib === 'wasmqtt' ? await wasmqttRound(r, gaps[lib]) : await mqttjsRound(r, gaps[lib]);
      results[lib].push(rate);
      console.log(`round ${r} ${lib}: ${fmt(rate)} msg/s`);
    }
  }
} finally {
  await broker.close();
}

const mqttVersion = JSON.parse(readFileSync(new URL('../node_modules/mqtt/package.json', import.meta.url), 'utf8')).version;
console.log(`\nQoS 1, ${SIZE} B, ${fmt(N)} messages per round, ${ROUNDS} rounds, mosquitto on loopback, Node.js ${process.version}, MQTT.js ${mqttVersion}, wasmqtt window ${INFLIGHT}`);
for (const lib of Object.keys(results)) {
  const xs = results[lib];
  console.log(`${lib.padEnd(8)} median ${fmt(median(xs))} msg/s (${fmt(Math.min(...xs))}–${fmt(Math.max(...xs))})`);
}
console.log(`wasmqtt / MQTT.js: ${(median(results.wasmqtt) / median(results['MQTT.js'])).toFixed(2)}`);
const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))];
for (const lib of Object.keys(gaps)) {
  const g = gaps[lib];
  console.log(`${lib.padEnd(8)} event loop gaps while publishing: p50 ${pct(g, 50).toFixed(1)} ms, p99 ${pct(g, 99).toFixed(1)} ms, max ${Math.max(...g).toFixed(1)} ms (${g.length} timer callbacks)`);
}
