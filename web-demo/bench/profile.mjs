// Where the time of one QoS 1 throughput run goes, inside the page (a diagnostic, not a test).
//
//   cd web-demo && INFLIGHT=100 LIB=wasmqtt node bench/profile.mjs
//
// Counts, for one run of N_QOS1 publishes after WARMUP runs: WebSocket frames sent and received
// (and their bytes), setTimeout calls (by requested delay), timer callbacks fired, queueMicrotask
// calls, MessagePort posts, WebSocket message events; then a CPU profile of another run (top
// functions by self time). PROFILE=0 skips the profile.
import { Broker, serve, launchChromium } from '../test/support.mjs';

const N = Number(process.env.N_QOS1 ?? 20_000);
const INFLIGHT = Number(process.env.INFLIGHT ?? 100);
const LIB = process.env.LIB ?? 'wasmqtt';
const WARMUP = Number(process.env.WARMUP ?? 2);
const PROFILE = process.env.PROFILE !== '0';

// Installed before the page's scripts: counts the event-loop machinery every library uses.
const counters = () => {
  const c = (window.__counts = { setTimeout: 0, timerFired: 0, delays: {}, microtask: 0, portPost: 0, wsSend: 0, wsSendBytes: 0, wsMessage: 0, wsMessageBytes: 0 });
  const st = window.setTimeout;
  window.setTimeout = function (f, ms, ...a) {
    c.setTimeout++;
    const k = String(ms ?? 0);
    c.delays[k] = (c.delays[k] ?? 0) + 1;
    return st.call(this, function () { c.timerFired++; return typeof f === 'function' ? f.apply(this, arguments) : undefined; }, ms, ...a);
  };
  const qm = window.queueMicrotask;
  window.queueMicrotask = function (f) { c.microtask++; return qm.call(this, f); };
  const pm = MessagePort.prototype.postMessage;
  MessagePort.prototype.postMessage = function (...a) { c.portPost++; return pm.apply(this, a); };
  const send = WebSocket.prototype.send;
  const T = (window.__timeline = []);
  WebSocket.prototype.send = function (d) { const b = d.byteLength ?? d.length ?? 0; c.wsSend++; c.wsSendBytes += b; if (window.__tl) T.push([performance.now(), b, 0]); return send.call(this, d); };
  const desc = Object.getOwnPropertyDescriptor(WebSocket.prototype, 'onmessage');
  Object.defineProperty(WebSocket.prototype, 'onmessage', {
    get() { return desc.get.call(this); },
    set(f) { desc.set.call(this, f && function (ev) { c.wsMessage++; c.wsMessageBytes += ev.data.byteLength ?? 0; if (window.__tl) T.push([performance.now(), 0, ev.data.byteLength]); return f.call(this, ev); }); },
  });
  const ael = WebSocket.prototype.addEventListener;
  WebSocket.prototype.addEventListener = function (t, f, o) {
    if (t !== 'message') return ael.call(this, t, f, o);
    return ael.call(this, t, function (ev) { c.wsMessage++; c.wsMessageBytes += ev.data.byteLength ?? 0; return (typeof f === 'function' ? f : f.handleEvent.bind(f)).call(this, ev); }, o);
  };
  window.__resetCounts = () => { T.length = 0; window.__tl = true; for (const k of Object.keys(c)) c[k] = k === 'delays' ? {} : 0; };
};

// utime+stime (clock ticks, 10 ms) of mosquitto, each Chromium process (by its --type) and node.
function cpuTimes(brokerPid) {
  const fs = require('node:fs');
  const t = {};
  const add = (k, pid) => {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
      t[k] = (t[k] ?? 0) + Number(f[11]) + Number(f[12]);
    } catch {}
  };
  add('mosquitto', brokerPid);
  add('node', process.pid);
  for (const pid of fs.readdirSync('/proc').filter((d) => /^[0-9]+$/.test(d))) {
    let cmd;
    try { cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8'); } catch { continue; }
    if (!cmd.includes('wasmqtt-chromium-')) continue;
    const type = /--type=([a-z-]+)/.exec(cmd)?.[1] ?? 'browser';
    const sub = /--utility-sub-type=([a-zA-Z.]+)/.exec(cmd)?.[1];
    add(sub ? `${type}:${sub.split('.').pop()}` : type, pid);
  }
  return t;
}
const { createRequire } = await import('node:module');
const require = createRequire(import.meta.url);

const broker = await Broker.start({ extraConfig: ['max_inflight_messages 100', 'max_queued_messages 1000000'] });
const server = await serve();
const browser = await launchChromium();
try {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(120_000);
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.addInitScript(counters);
  await page.goto(`${server.url}/bench/bench.html?inflight=${INFLIGHT}`);
  await page.waitForSelector('body[data-ready="1"]');
  const run = () => page.evaluate(([l, u, n]) => window.throughput(l, u, 1, n), [LIB, broker.wsUrl, N]);
  for (let i = 0; i < WARMUP; i++) console.log('warm-up', (await run()).perSecond.toFixed(0), 'msg/s');
  await page.evaluate(() => window.__resetCounts());
  const cpu0 = cpuTimes(broker.child.pid);
  const w0 = performance.now();
  const r = await run();
  const cpu1 = cpuTimes(broker.child.pid);
  const wall = performance.now() - w0;
  const parts = Object.keys(cpu1).map((k) => `${k} ${(cpu1[k] - (cpu0[k] ?? 0)) * 10} ms`).join(', ');
  const sum = Object.keys(cpu1).reduce((a, k) => a + (cpu1[k] - (cpu0[k] ?? 0)) * 10, 0);
  console.log(`  CPU during the run (wall ${wall.toFixed(0)} ms): ${parts}; total ${sum} ms = ${(sum / wall).toFixed(2)} cores`);
  const c = await page.evaluate(() => window.__counts);
  console.log(`${LIB}, inflight ${INFLIGHT}: ${r.perSecond.toFixed(0)} msg/s (${r.ms.toFixed(0)} ms)`);
  const tl = await page.evaluate(() => window.__timeline);
  if (process.env.TIMELINE) (await import('node:fs')).writeFileSync(process.env.TIMELINE, JSON.stringify(tl));
  {
    // Messages sent but not acknowledged yet, sampled at every event, weighted by time.
    let sent = 0, acked = 0, last = tl[0]?.[0] ?? 0;
    const hist = new Array(11).fill(0);
    let gapsIdle = 0;
    for (const [t, out, inb] of tl) {
      const k = Math.min(10, Math.floor(((sent - acked) / INFLIGHT) * 10));
      hist[k] += t - last;
      last = t;
      sent += Math.round(out / 125); acked += inb / 4;
    }
    const tot = hist.reduce((a, b) => a + b, 0);
    console.log('  time by in-flight (x window/10):', hist.map((h) => `${(100 * h / tot).toFixed(0)}%`).join(' '));
  }
  const per = (k) => `${c[k]} (${(c[k] / N).toFixed(3)}/msg)`;
  for (const k of ['wsSend', 'wsSendBytes', 'wsMessage', 'wsMessageBytes', 'setTimeout', 'timerFired', 'microtask', 'portPost']) console.log(`  ${k.padEnd(15)} ${per(k)}`);
  console.log('  setTimeout delays:', JSON.stringify(c.delays));
  if (PROFILE) {
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Profiler.enable');
    await cdp.send('Profiler.setSamplingInterval', { interval: 100 });
    await cdp.send('Profiler.start');
    const p = await run();
    const { profile } = await cdp.send('Profiler.stop');
    console.log(`profiled run: ${p.perSecond.toFixed(0)} msg/s (${p.ms.toFixed(0)} ms)`);
    const self = new Map();
    const dt = profile.timeDeltas;
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    let total = 0;
    profile.samples.forEach((id, i) => {
      const n = byId.get(id);
      const f = n.callFrame;
      const key = `${f.functionName || '(anon)'} ${f.url.split('/').pop()}:${f.lineNumber}`;
      const d = dt[i + 1] ?? 0;
      total += d;
      self.set(key, (self.get(key) ?? 0) + d);
    });
    const top = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25));
    console.log(`  total sampled ${(total / 1000).toFixed(0)} ms; top self time:`);
    for (const [k, v] of top) console.log(`  ${(v / 1000).toFixed(1).padStart(8)} ms ${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
  }
} finally {
  await browser.close();
  await server.close();
  await broker.close();
}
