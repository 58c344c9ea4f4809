// A/B of wasmqtt builds (web-demo/v-NAME/pkg) and MQTT.js, alternating, one page each.
import { Broker, serve, launchChromium } from '../test/support.mjs';
const VARIANTS = (process.env.VARIANTS ?? 'base,A').split(',');
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const N = Number(process.env.N_QOS1 ?? 20_000);
const INFLIGHT = Number(process.env.INFLIGHT ?? 100);
const broker = await Broker.start({ extraConfig: ['max_inflight_messages 100', 'max_queued_messages 1000000'] });
const server = await serve();
const browser = await launchChromium();
const res = {};
try {
  const pages = {};
  for (const v of [...VARIANTS, 'MQTT.js']) {
    const p = await browser.context.newPage();
    p.setDefaultTimeout(120_000);
    const dir = v === 'MQTT.js' ? `v-${VARIANTS[0]}` : `v-${v}`;
    await p.goto(`${server.url}/${dir}/bench/bench.html?inflight=${INFLIGHT}`);
    await p.waitForSelector('body[data-ready="1"]');
    pages[v] = p; res[v] = [];
  }
  const names = Object.keys(pages);
  for (let r = 0; r < ROUNDS; r++) {
    const order = names.map((_, i) => names[(i + r) % names.length]);
    for (const v of order) {
      const lib = v === 'MQTT.js' ? 'MQTT.js' : 'wasmqtt';
      const x = await pages[v].evaluate(([l, u, n]) => window.throughput(l, u, 1, n), [lib, broker.wsUrl, N]);
      res[v].push(x.perSecond);
    }
    process.stderr.write(`round ${r + 1}\n`);
  }
} finally { await browser.close(); await server.close(); await broker.close(); }
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
const m = med(res['MQTT.js']);
for (const [v, a] of Object.entries(res)) console.log(`${v.padEnd(8)} median ${med(a).toFixed(0)} (${Math.min(...a).toFixed(0)}–${Math.max(...a).toFixed(0)})  ratio ${(med(a) / m).toFixed(2)}  runs ${a.map((x) => x.toFixed(0)).join(' ')}`);
