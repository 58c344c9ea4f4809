// wasmqtt against MQTT.js, in the same headless Chromium against the same mosquitto (WebSocket).
//
//   ./scripts/web-demo.sh build && (cd web-demo && npm ci && node bench/bench.mjs)
//
// INFLIGHT=65535 gives wasmqtt no outbound window, like MQTT.js (default: wasmqtt's 100).
// Prints publish throughput (QoS 0 and QoS 1, 100-byte messages), publish→receive round-trip
// latency (p50/p99), and the gzipped size of each library as a page loads it, with the ratios.
// A benchmark, not a test: it asserts nothing. ROUNDS (default 5) runs alternate the libraries
// (odd rounds wasmqtt first, even rounds MQTT.js first); each figure is the median round with the
// range of all rounds (min–max), and the ratio is of the medians. WORKLOADS (default
// `qos0,qos1,rtt`) picks what runs.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { Broker, serve, launchChromium, WEB_DEMO } from '../test/support.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const WORKLOADS = new Set((process.env.WORKLOADS ?? 'qos0,qos1,rtt').split(','));
const N_QOS0 = Number(process.env.N_QOS0 ?? 100_000);
const N_QOS1 = Number(process.env.N_QOS1 ?? 20_000);
const N_RTT = Number(process.env.N_RTT ?? 2_000);
const LIBS = ['wasmqtt', 'MQTT.js'];
// wasmqtt's outbound QoS 1/2 window (its default is 100); 65535 sends without a window, as MQTT.js does.
const INFLIGHT = Number(process.env.INFLIGHT ?? 100);

function gz(files) {
  let raw = 0, zipped = 0;
  for (const f of files) {
    const b = readFileSync(f);
    raw += b.length;
    zipped += gzipSync(b, { level: 9 }).length;
  }
  return { raw, zipped };
}

function filesUnder(dir) {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
const fmt = (n, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

// ------------------------------------------------------------------------------- sizes

const pkg = join(WEB_DEMO, 'pkg');
const ours = gz(filesUnder(pkg).filter((f) => /\.(wasm|js)$/.test(f)));
const theirs = gz([join(WEB_DEMO, 'node_modules/mqtt/dist/mqtt.min.js')]);
const mqttVersion = JSON.parse(readFileSync(join(WEB_DEMO, 'node_modules/mqtt/package.json'), 'utf8')).version;

// ------------------------------------------------------------------------------- speed

const broker = await Broker.start({ extraConfig: ['max_inflight_messages 100', 'max_queued_messages 1000000'] });
const server = await serve();
const browser = await launchChromium();
const results = { qos0: {}, qos1: {}, rtt: {} };
for (const l of LIBS) { results.qos0[l] = []; results.qos1[l] = []; results.rtt[l] = []; }
try {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(120_000);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(`${server.url}/bench/bench.html?inflight=${INFLIGHT}`);
  await page.waitForSelector('body[data-ready="1"]');
  const url = broker.wsUrl;
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 ? [...LIBS].reverse() : LIBS;
    for (const lib of order) {
      if (WORKLOADS.has('qos0')) results.qos0[lib].push(await page.evaluate(([l, u, n]) => window.throughput(l, u, 0, n), [lib, url, N_QOS0]));
      if (WORKLOADS.has('qos1')) results.qos1[lib].push(await page.evaluate(([l, u, n]) => window.throughput(l, u, 1, n), [lib, url, N_QOS1]));
      if (WORKLOADS.has('rtt')) results.rtt[lib].push(await page.evaluate(([l, u, n]) => window.roundTrip(l, u, n), [lib, url, N_RTT]));
    }
    process.stderr.write(`round ${round + 1}/${ROUNDS} done\n`);
  }
} finally {
  await browser.close();
  await server.close();
  await broker.close();
}

const median = (runs, k) => [...runs].sort((a, b) => a[k] - b[k])[Math.floor(runs.length / 2)][k];
const range = (runs, k, f) => `${f(Math.min(...runs.map((r) => r[k])))}–${f(Math.max(...runs.map((r) => r[k])))}`;

const chromium = (await import('node:child_process')).execFileSync('/usr/bin/chromium', ['--version'], { stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim();
console.log(`\nwasmqtt vs MQTT.js ${mqttVersion} — ${chromium}, mosquitto over WebSocket on loopback, MQTT 3.1.1, 100-byte payloads`);
console.log(`wasmqtt maxInflight ${INFLIGHT} (MQTT.js has no window); median of ${ROUNDS} rounds (min–max in brackets)\n`);
const rows = [];
for (const [name, key, n] of [['publish QoS 0', 'qos0', N_QOS0], ['publish QoS 1', 'qos1', N_QOS1]]) {
  if (!WORKLOADS.has(key)) continue;
  const [ra, rb] = [results[key].wasmqtt, results[key]['MQTT.js']];
  const a = median(ra, 'perSecond'), b = median(rb, 'perSecond');
  const cell = (runs, m) => `${fmt(m)} msg/s (${range(runs, 'perSecond', fmt)})`;
  rows.push([`${name} (${fmt(n)} msgs)`, cell(ra, a), cell(rb, b), `${(a / b).toFixed(2)}× throughput`]);
}
for (const k of WORKLOADS.has('rtt') ? ['p50', 'p99'] : []) {
  const a = median(results.rtt.wasmqtt, k), b = median(results.rtt['MQTT.js'], k);
  const ms = (x) => x.toFixed(3);
  const cell = (runs, m) => `${ms(m)} ms (${range(runs, k, ms)})`;
  rows.push([`round trip ${k} (${fmt(N_RTT)})`, cell(results.rtt.wasmqtt, a), cell(results.rtt['MQTT.js'], b), `${(b / a).toFixed(2)}× (MQTT.js / wasmqtt)`]);
}
rows.push(['size: raw', kb(ours.raw), kb(theirs.raw), `${(ours.raw / theirs.raw).toFixed(2)}× (wasmqtt / MQTT.js)`]);
rows.push(['size: gzip -9', kb(ours.zipped), kb(theirs.zipped), `${(ours.zipped / theirs.zipped).toFixed(2)}× (wasmqtt / MQTT.js)`]);
const head = ['', 'wasmqtt', 'MQTT.js', 'ratio'];
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('   ');
console.log(line(head));
console.log(w.map((x) => '-'.repeat(x)).join('   '));
for (const r of rows) console.log(line(r));
for (const key of ['qos0', 'qos1']) {
  if (!WORKLOADS.has(key)) continue;
  const per = results[key].wasmqtt.map((r, i) => (r.perSecond / results[key]['MQTT.js'][i].perSecond).toFixed(2));
  console.log(`${key} ratio per round (same round): ${per.join(' ')}`);
}
console.log(`\nwasmqtt = web-demo/pkg/ (.wasm + JS glue + snippets); MQTT.js = mqtt/dist/mqtt.min.js`);
console.log('raw runs:', JSON.stringify(results));
