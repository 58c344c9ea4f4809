// End-to-end: the dashboard in Debian's headless Chromium (playwright-core) against mosquitto's
// WebSocket listener, with mosquitto_pub / mosquitto_sub as the native peers.
//
//   node --test test/          (from web-demo/, after ./scripts/web-demo.sh build)
//
// Every wait is bounded and waits for a state (page DOM, a client's output), never for time.
// The screenshot goes to target/web-demo/e2e.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Broker, serve, launchChromium, run, start, waitFor, freePort, ROOT } from './support.mjs';
import { THROTTLE_TIMERS } from './throttle.mjs';

const STEP = 15_000;
let broker, server, browser, page;
const pageErrors = [];

before(async () => {
  broker = await Broker.start();
  server = await serve();
  browser = await launchChromium();
  page = await browser.context.newPage();
  page.setDefaultTimeout(STEP);
  page.on('pageerror', (e) => pageErrors.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error') pageErrors.push(m.text()); });
});

after(async () => {
  await browser?.close();
  await server?.close();
  await broker?.close();
});

const pub = (topic, message, ...flags) =>
  run('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-m', message, ...flags]);

/** A native subscriber for one message; resolves once its SUBACK arrived. */
async function nativeSubscriber(topic) {
  // stdbuf: mosquitto_sub's stdout is a pipe here, so line-buffer it to see SUBACK when it comes.
  const sub = start('stdbuf', ['-oL', 'mosquitto_sub', '-h', '127.0.0.1', '-p', String(broker.port), '-q', '1', '-t', topic, '-C', '1', '-W', '20', '-d']);
  await waitFor('mosquitto_sub to be subscribed', () => sub.output().includes('SUBACK'), STEP);
  return sub;
}

const row = (topic, payload) => page.locator(`#messages tbody tr[data-topic="${topic}"]`, { hasText: payload }).first();

async function publishFromPage(topic, payload, qos = '1') {
  await page.fill('#pub-topic', topic);
  await page.fill('#pub-payload', payload);
  await page.selectOption('#pub-qos', qos);
  await page.click('#pub-btn');
  await page.waitForFunction(() => /acknowledged|sent/.test(document.getElementById('publish-result').textContent));
}

test('the page connects through the form and subscribes', async () => {
  await page.goto(`${server.url}/?url=${encodeURIComponent(broker.wsUrl)}&keepalive=5`);
  await page.waitForSelector('body[data-ready="1"]');
  await page.click('#connect-btn');
  await page.waitForSelector('#state[data-state="connected"]');
  await page.fill('#sub-filter', 'e2e/#');
  await page.selectOption('#sub-qos', '1');
  await page.click('#sub-btn');
  await page.waitForSelector('#sub-list li[data-filter="e2e/#"][data-granted="1"]');
});

test('a message from a native client shows up in the table, the tree and the chart', async () => {
  await pub('e2e/native', 'hello from mosquitto_pub');
  await row('e2e/native', 'hello from mosquitto_pub').waitFor();
  await pub('e2e/meter/watts', '1234');
  await row('e2e/meter/watts', '1234').waitFor();
  await page.waitForSelector('#tree li[data-path="e2e/meter/watts"]');
  await page.waitForSelector('#legend .item[data-topic="e2e/meter/watts"]');
  assert.match(await page.textContent('#legend .item[data-topic="e2e/meter/watts"] .value'), /1234 W/);
});

test('retained messages are listed', async () => {
  await pub('e2e/retained/config', 'kept', '-r');
  await page.waitForSelector('#retained tr[data-topic="e2e/retained/config"]');
});

test('a message published by the page reaches a native subscriber', async () => {
  const sub = await nativeSubscriber('e2e/from-browser');
  await publishFromPage('e2e/from-browser', 'hello from wasmqtt');
  assert.equal(await sub.exited, 0, sub.output());
  assert.match(sub.output(), /hello from wasmqtt/);
});

test('bad input is refused with a typed error, not a crash', async () => {
  await page.fill('#pub-topic', 'bad/+/topic');
  await page.click('#pub-btn');
  await page.waitForFunction(() => document.getElementById('publish-result').textContent.startsWith('INVALID_TOPIC'));
  const codes = await page.evaluate(async () => {
    const c = window.dashboard.client;
    const codeOf = (p) => p.then(() => 'resolved', (e) => e.code);
    return [
      await codeOf(c.publish('ok/topic', 'x', { qos: 3 })),
      await codeOf(c.publish('ok/topic', 42)),
      await codeOf(c.subscribe('a/#/b')),
      await codeOf(c.subscribe(7)),
    ];
  });
  assert.deepEqual(codes, ['INVALID_QOS', 'INVALID_ARGUMENT', 'INVALID_FILTER', 'INVALID_FILTER']);
});

test('after a broker restart the page reconnects, resubscribes and keeps working', async () => {
  await broker.stop();
  await page.waitForSelector('#state[data-state="reconnecting"]');
  await broker.spawn(); // same ports; no persistence: the broker has lost the session
  await page.waitForSelector('#state[data-state="connected"]', { timeout: 45_000 });
  await page.waitForSelector('#event-log li:has-text("renewed 1 subscription")');
  // Resubscribed: a native message reaches the page again…
  await waitFor('the resubscription to be in place', async () => {
    await pub('e2e/after-restart', 'still here');
    return (await row('e2e/after-restart', 'still here').count()) > 0;
  }, STEP, 500);
  // …and the page's messages reach native subscribers again.
  const sub = await nativeSubscriber('e2e/from-browser');
  await publishFromPage('e2e/from-browser', 'after the restart');
  assert.equal(await sub.exited, 0, sub.output());
  assert.match(sub.output(), /after the restart/);
});

test('the dashboard is worth looking at (screenshot saved as an artifact)', async () => {
  await page.fill('#sub-filter', 'meter/#');
  await page.click('#sub-btn');
  await page.waitForSelector('#sub-list li[data-filter="meter/#"][data-granted="1"]');
  await page.click('#sim-btn');
  await page.waitForFunction(() => window.dashboard.topics.has('meter/solar/watts') && window.dashboard.received > 20, null, { timeout: 20_000 });
  await page.waitForSelector('#retained tr[data-topic="meter/solar/info"]');
  const dir = join(ROOT, 'target', 'web-demo');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, 'e2e.png') });
  await page.click('#sim-btn');
  // Chrome itself logs a reconnect attempt that found the restarted broker not yet listening.
  assert.deepEqual(pageErrors.filter((e) => !/^WebSocket connection to .* failed: .*ERR_CONNECTION_REFUSED/.test(e)), []);
});

// Keep-alive under background-tab timer throttling. Headless Chromium never hides a page, so the
// throttling is put in by THROTTLE_TIMERS (test/throttle.mjs), which follows Chrome's documented
// policy for hidden pages: timers aligned to 1 s, and to a long period (scaled down here from
// 1 min to 10 s) once a timer chain is 5 deep. The broker's own keep-alive check is the judge:
// with keep-alive 4 s, mosquitto drops a client that sends nothing for 6 s. (Scaled down: a real
// keep-alive of 60 s has 30 s of slack for the 1 s alignment, not 2 s.)
async function throttledPage(mode, sub) {
  const p = await browser.context.newPage();
  p.setDefaultTimeout(STEP);
  await p.addInitScript(THROTTLE_TIMERS, mode);
  await p.goto(`${server.url}/?url=${encodeURIComponent(broker.wsUrl)}&keepalive=4&connect=1&sub=${encodeURIComponent(sub)}`);
  await p.waitForSelector('#state[data-state="connected"]');
  await p.waitForSelector(`#sub-list li[data-filter="${sub}"][data-granted="1"]`);
  return p;
}

const closes = (p) => p.evaluate(() => [...document.querySelectorAll('#event-log li')].map((li) => li.textContent).filter((t) => /closed/.test(t)));

test('keep-alive: an idle page under Chrome-style throttling keeps its connection', async () => {
  const p = await throttledPage('chrome', 'ka/idle');
  // Four PINGREQs (16 s) on an idle connection: each answered, none late enough for the broker.
  await p.waitForFunction(() => window.__pings >= 4, null, { timeout: 30_000 });
  assert.deepEqual(await closes(p), []);
  // wasmqtt's timers never form a chain long enough for intensive throttling: every PINGRESP
  // (a network task) re-arms the timer from outside any timer callback.
  const depth = await p.evaluate(() => window.__maxTimerNesting);
  assert.ok(depth < 5, `timer nesting reached ${depth}`);
  await p.close();
});

test('keep-alive: with every timer 10 s late, incoming messages still drive the pings', async () => {
  const p = await throttledPage('all', 'ka/busy');
  // A native publisher sends a reading every 500 ms (QoS 0: nothing for the page to answer).
  const feed = start('mosquitto_pub', ['-h', '127.0.0.1', '-p', String(broker.port), '-t', 'ka/busy', '-l'], { stdin: true });
  const ticker = setInterval(() => feed.proc.stdin.write(`${Date.now() % 10000}\n`), 500);
  try {
    await p.waitForFunction(() => window.__pings >= 4, null, { timeout: 30_000 });
    assert.deepEqual(await closes(p), []);
  } finally {
    clearInterval(ticker);
    feed.proc.stdin.end();
    feed.kill();
    await p.close();
  }
});

test('the form takes several broker URLs: a dead one first, the page fails over to mosquitto', async () => {
  const dead = `ws://127.0.0.1:${await freePort()}/`;
  const p = await browser.context.newPage();
  p.setDefaultTimeout(STEP);
  await p.goto(`${server.url}/?url=${encodeURIComponent(`${dead} ${broker.wsUrl}`)}&connect=1`);
  await p.waitForSelector('#state[data-state="connected"]');
  const live = `ws://127.0.0.1:${broker.wsPort}/mqtt`;
  assert.equal(await p.textContent('#broker-label'), live);
  await p.waitForSelector(`#event-log li:has-text("connected to ${live}")`);
  await p.close();
});
