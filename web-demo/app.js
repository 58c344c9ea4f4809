// wasmqtt dashboard: a live view of an MQTT broker over WebSocket, on wasmqtt's browser build.
//
// Query parameters preset the form: ?url=ws://127.0.0.1:8080/&sub=meter/%23&connect=1
import init, { connect, topicMatches, validateTopicFilter } from './pkg/wasmqtt.js';
import { LiveChart, formatValue } from './chart.js';

const $ = (id) => document.getElementById(id);
const MAX_ROWS = 300;
const decoder = new TextDecoder('utf-8', { fatal: true });

const ui = {
  state: $('state'), stateText: $('state-text'), brokerLabel: $('broker-label'),
  connectForm: $('connect-form'), connectBtn: $('connect-btn'), disconnectBtn: $('disconnect-btn'), connectError: $('connect-error'),
  subForm: $('sub-form'), subFilter: $('sub-filter'), subQos: $('sub-qos'), subBtn: $('sub-btn'), subError: $('sub-error'), subList: $('sub-list'),
  pubForm: $('pub-form'), pubTopic: $('pub-topic'), pubPayload: $('pub-payload'), pubQos: $('pub-qos'), pubRetain: $('pub-retain'), pubBtn: $('pub-btn'), pubResult: $('publish-result'),
  simBtn: $('sim-btn'),
  rows: document.querySelector('#messages tbody'), messagesEmpty: $('messages-empty'), msgFilter: $('msg-filter'), pauseBtn: $('pause-btn'), clearBtn: $('clear-btn'),
  tree: $('tree'), retained: document.querySelector('#retained tbody'), retainedEmpty: $('retained-empty'),
  legend: $('legend'), chartEmpty: $('chart-empty'), windowSeg: $('window-seg'), log: $('event-log'),
  statRate: $('stat-rate'), statReceived: $('stat-received'), statPublished: $('stat-published'), statTopics: $('stat-topics'),
};

const app = {
  client: null,
  subs: new Map(),      // filter -> { qos, granted, count, li }
  topics: new Map(),    // topic -> { count, last, numeric }
  retained: new Map(),  // topic -> text
  pending: [],          // messages waiting for the next frame
  paused: false,
  received: 0,
  published: 0,
  arrivals: [],         // timestamps of the last second's messages
  sim: null,
};
window.dashboard = app; // for the console and the end-to-end test

const chart = new LiveChart($('chart'), { windowSeconds: 60 });
const legendItems = new Map();

// ------------------------------------------------------------------------------------ helpers

function logEvent(text, kind = '') {
  const li = document.createElement('li');
  if (kind) li.className = kind;
  const when = document.createElement('span');
  when.className = 'when';
  when.textContent = new Date().toLocaleTimeString([], { hour12: false });
  li.append(when, text);
  ui.log.prepend(li);
  while (ui.log.children.length > 60) ui.log.lastChild.remove();
}

function setState(state, text) {
  ui.state.dataset.state = state;
  ui.stateText.textContent = text ?? state;
  const live = state === 'connected' || state === 'reconnecting' || state === 'connecting';
  ui.connectBtn.disabled = live;
  ui.disconnectBtn.disabled = !live;
  for (const b of [ui.subBtn, ui.pubBtn, ui.simBtn]) b.disabled = !app.client || state === 'closed' || state === 'idle';
}

function describePayload(bytes) {
  try {
    const text = decoder.decode(bytes);
    return { text, binary: false };
  } catch {
    const hex = Array.from(bytes.subarray(0, 48), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return { text: hex + (bytes.length > 48 ? ' …' : ''), binary: true };
  }
}

// A number in the payload: plain ("1234", "12.5 W") or the first numeric field of a JSON object
// ({"watts": 1234}; fields named watts/power/value first).
function numericValue(text) {
  const t = text.trim();
  if (!t) return null;
  const m = /^(-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*[a-zA-Z%°]*$/.exec(t);
  if (m) return Number(m[1]);
  if (t[0] === '{') {
    try {
      const o = JSON.parse(t);
      for (const k of ['watts', 'power', 'value', 'w']) if (typeof o[k] === 'number') return o[k];
      for (const v of Object.values(o)) if (typeof v === 'number') return v;
    } catch { /* not JSON */ }
  }
  return null;
}

function errorText(e) {
  return e && e.code ? `${e.code}: ${e.message}` : String(e);
}

// ------------------------------------------------------------------------------------ connection

async function doConnect(event) {
  event?.preventDefault();
  ui.connectError.textContent = '';
  // Several URLs (space or comma separated): the first is tried first, the rest are failover
  // brokers (`servers`); the client moves to the next one when a connection fails or is lost.
  const urls = $('url').value.trim();
  const [url, ...servers] = urls.split(/[\s,]+/).filter(Boolean);
  const options = {
    protocolVersion: Number($('version').value),
    keepalive: Number($('keepalive').value || 30),
    clean: $('clean').checked,
    retryInitialConnection: false,
  };
  if (servers.length) options.servers = servers;
  const id = $('client-id').value.trim();
  if (id) options.clientId = id;
  if ($('username').value) options.username = $('username').value;
  if ($('password').value) options.password = $('password').value;
  localStorage.setItem('wasmqtt-dashboard', JSON.stringify({ url: urls, id, version: $('version').value, keepalive: $('keepalive').value }));

  for (const s of app.subs.values()) s.li?.remove();
  app.subs.clear();
  setState('connecting', 'connecting…');
  ui.brokerLabel.textContent = urls;
  logEvent(`connecting to ${urls}`);
  let client;
  try {
    client = await connect(url, options);
  } catch (e) {
    setState('closed', 'not connected');
    ui.connectError.textContent = errorText(e);
    logEvent(`connect failed: ${errorText(e)}`, 'bad');
    return;
  }
  app.client = client;
  client.on('message', onMessage);
  client.on('state', (s) => setState(s, s === 'reconnecting' ? 'reconnecting…' : s));
  client.on('connect', (info) => {
    ui.brokerLabel.textContent = info.broker;
    logEvent(`connected to ${info.broker}${info.sessionPresent ? ' (session resumed)' : ''}, keep-alive ${info.keepAlive}s`, 'ok');
  });
  client.on('reconnect', () => logEvent('reconnected', 'ok'));
  client.on('close', (c) => {
    const again = c.reconnectIn !== undefined ? `, retrying in ${(c.reconnectIn / 1000).toFixed(1)}s` : '';
    logEvent(`connection to ${c.broker ?? 'the broker'} closed: ${c.message}${again}`, c.code === 'CLOSED' ? '' : 'warn');
    for (const s of app.subs.values()) if (c.reconnectIn === undefined) s.li.dataset.granted = 'closed';
  });
  client.on('resubscribe', (n) => logEvent(`broker lost the session: renewed ${n} subscription(s)`, 'warn'));
  client.on('error', (e) => logEvent(`error: ${errorText(e)}`, 'bad'));
  client.on('end', () => { setState('closed', 'disconnected'); stopSim(); });
  setState('connected', 'connected');
  ui.brokerLabel.textContent = client.broker;
  logEvent(`connected to ${client.broker} as ${client.clientId}`, 'ok');
  for (const filter of app.initialSubs ?? []) subscribe(filter, 1);
  app.initialSubs = [];
}

async function doDisconnect() {
  stopSim();
  const c = app.client;
  if (c) await c.end();
  logEvent('disconnected');
}

// ------------------------------------------------------------------------------------ subscriptions

function renderSub(filter) {
  const s = app.subs.get(filter);
  if (!s.li) {
    s.li = document.createElement('li');
    s.li.dataset.filter = filter;
    const name = document.createElement('span');
    name.className = 'filter';
    name.textContent = filter;
    s.badge = document.createElement('span');
    s.badge.className = 'badge';
    const x = document.createElement('button');
    x.textContent = '×';
    x.title = 'unsubscribe';
    x.onclick = () => unsubscribe(filter);
    s.li.append(name, s.badge, x);
    ui.subList.append(s.li);
  }
  s.li.dataset.granted = s.granted ?? 'pending';
  s.badge.textContent = `${s.granted === undefined ? 'QoS ' + s.qos + '…' : 'QoS ' + s.granted} · ${s.count}`;
}

async function subscribe(filter, qos) {
  ui.subError.textContent = '';
  if (app.subs.has(filter)) return;
  // The core's filter rules (wasmqtt::topic), from the wasm build: refused before it is listed.
  try { validateTopicFilter(filter); } catch (e) { ui.subError.textContent = errorText(e); return; }
  app.subs.set(filter, { qos, granted: undefined, count: 0, li: null });
  renderSub(filter);
  try {
    // v5: keep the retain flag on live messages too, so the retained panel stays current.
    const v5 = $('version').value === '5';
    const granted = await app.client.subscribe(filter, { qos, retainAsPublished: v5 });
    app.subs.get(filter).granted = granted;
    renderSub(filter);
    logEvent(`subscribed to ${filter} (granted QoS ${granted})`, 'ok');
  } catch (e) {
    app.subs.get(filter)?.li.remove();
    app.subs.delete(filter);
    ui.subError.textContent = errorText(e);
    logEvent(`subscribe ${filter} failed: ${errorText(e)}`, 'bad');
  }
}

async function unsubscribe(filter) {
  try {
    await app.client.unsubscribe(filter);
    app.subs.get(filter)?.li.remove();
    app.subs.delete(filter);
    logEvent(`unsubscribed from ${filter}`);
  } catch (e) {
    ui.subError.textContent = errorText(e);
  }
}

// ------------------------------------------------------------------------------------ messages

function onMessage(m) {
  app.received++;
  const now = Date.now();
  app.arrivals.push(now);
  const { text, binary } = describePayload(m.payload);
  const entry = { topic: m.topic, text, binary, qos: m.qos, retain: m.retain, dup: m.dup, at: now, size: m.payload.length };
  let t = app.topics.get(m.topic);
  if (!t) { t = { count: 0, last: '', numeric: false }; app.topics.set(m.topic, t); treeAdd(m.topic); }
  t.count++;
  t.last = text;
  for (const [filter, s] of app.subs) if (topicMatches(filter, m.topic)) s.count++;
  if (m.retain) {
    if (m.payload.length) app.retained.set(m.topic, text); else app.retained.delete(m.topic);
    app.retainedDirty = true;
  }
  const v = binary ? null : numericValue(text);
  if (v !== null && Number.isFinite(v)) { chart.add(m.topic, now, v); t.numeric = true; legendUpdate(m.topic, v); }
  if (!app.paused) app.pending.push(entry);
  t.dirty = true;
}

// topicMatches: the core's matcher (wasmqtt::topic::matches) from the wasm build.

function flushRows() {
  if (!app.pending.length) return;
  const filter = ui.msgFilter.value.trim();
  const batch = app.pending.splice(0);
  const frag = document.createDocumentFragment();
  for (let i = batch.length - 1; i >= 0; i--) {
    const e = batch[i];
    if (filter && !e.topic.includes(filter)) continue;
    const tr = document.createElement('tr');
    tr.className = 'fresh';
    tr.dataset.topic = e.topic;
    const cells = [
      ['t', new Date(e.at).toLocaleTimeString([], { hour12: false }) + '.' + String(e.at % 1000).padStart(3, '0')],
      ['topic', e.topic],
      ['q', String(e.qos)],
      ['flags', ''],
      ['payload' + (e.binary ? ' bin' : ''), e.text.length > 300 ? e.text.slice(0, 300) + ' …' : e.text],
    ];
    for (const [cls, text] of cells) {
      const td = document.createElement('td');
      td.className = cls;
      td.textContent = text;
      tr.append(td);
    }
    const flags = tr.children[3];
    if (e.retain) flags.insertAdjacentHTML('beforeend', '<span title="retained">R</span>');
    if (e.dup) flags.insertAdjacentHTML('beforeend', '<span title="duplicate">D</span>');
    tr.title = `${e.size} bytes`;
    frag.append(tr);
  }
  ui.rows.prepend(frag);
  while (ui.rows.children.length > MAX_ROWS) ui.rows.lastChild.remove();
  ui.messagesEmpty.hidden = ui.rows.children.length > 0;
}

// ------------------------------------------------------------------------------------ topic tree

const treeRoot = { children: new Map(), ul: null };

function treeAdd(topic) {
  if (!treeRoot.ul) {
    ui.tree.textContent = '';
    treeRoot.ul = document.createElement('ul');
    ui.tree.append(treeRoot.ul);
  }
  let node = treeRoot, path = '';
  for (const part of topic.split('/')) {
    path = path ? path + '/' + part : part;
    let child = node.children.get(part);
    if (!child) {
      child = { name: part, path, children: new Map(), li: document.createElement('li'), ul: null };
      const row = document.createElement('div');
      row.className = 'node';
      child.twisty = document.createElement('span');
      child.twisty.className = 'twisty';
      const name = document.createElement('span');
      name.className = 'seg-name';
      name.textContent = part === '' ? '(empty)' : part;
      child.val = document.createElement('span');
      child.val.className = 'val';
      child.cnt = document.createElement('span');
      child.cnt.className = 'cnt';
      row.append(child.twisty, name, child.val, child.cnt);
      row.onclick = () => { if (child.ul) { child.li.classList.toggle('closed'); child.twisty.textContent = child.li.classList.contains('closed') ? '▸' : '▾'; } };
      child.row = row;
      child.li.dataset.path = path;
      child.li.append(row);
      // Keep siblings sorted by name.
      const parentUl = node.ul ?? (node.ul = ensureUl(node));
      const after = [...node.children.keys()].filter((k) => k > part).sort()[0];
      if (after !== undefined) parentUl.insertBefore(child.li, node.children.get(after).li); else parentUl.append(child.li);
      node.children.set(part, child);
    }
    node = child;
  }
}

function ensureUl(node) {
  const ul = document.createElement('ul');
  node.li.append(ul);
  node.row.classList.add('branch');
  node.twisty.textContent = '▾';
  return ul;
}

function treeRefresh() {
  for (const [topic, t] of app.topics) {
    if (!t.dirty) continue;
    t.dirty = false;
    let node = treeRoot;
    for (const part of topic.split('/')) node = node.children.get(part);
    node.val.textContent = t.last.length > 40 ? t.last.slice(0, 40) + '…' : t.last;
    node.cnt.textContent = t.count;
  }
}

// ------------------------------------------------------------------------------------ retained, legend

function retainedRefresh() {
  if (!app.retainedDirty) return;
  app.retainedDirty = false;
  ui.retained.textContent = '';
  for (const [topic, text] of [...app.retained].sort()) {
    const tr = document.createElement('tr');
    tr.dataset.topic = topic;
    const a = document.createElement('td'); a.className = 'topic'; a.textContent = topic;
    const b = document.createElement('td'); b.className = 'payload'; b.textContent = text.length > 60 ? text.slice(0, 60) + '…' : text;
    const c = document.createElement('td');
    const x = document.createElement('button'); x.textContent = 'clear'; x.title = 'publish an empty retained message';
    x.onclick = () => app.client?.publish(topic, '', { qos: 1, retain: true }).catch((e) => logEvent(errorText(e), 'bad'));
    c.append(x);
    tr.append(a, b, c);
    ui.retained.append(tr);
  }
  ui.retainedEmpty.hidden = app.retained.size > 0;
}

function legendUpdate(topic, v) {
  let item = legendItems.get(topic);
  if (!item) {
    const s = chart.series.get(topic);
    item = document.createElement('div');
    item.className = 'item';
    item.dataset.topic = topic;
    item.innerHTML = '<span class="swatch"></span><span class="name"></span><span class="value"></span>';
    item.querySelector('.swatch').style.background = s.color;
    item.querySelector('.name').textContent = topic;
    item.onclick = () => item.classList.toggle('off', chart.toggle(topic).hidden);
    ui.legend.append(item);
    legendItems.set(topic, item);
    ui.chartEmpty.hidden = true;
  }
  const unit = /watt|power|\/w$/i.test(topic) ? ' W' : '';
  item.querySelector('.value').textContent = formatValue(v) + unit;
}

// ------------------------------------------------------------------------------------ publish, simulator

async function doPublish(event) {
  event.preventDefault();
  const topic = ui.pubTopic.value.trim();
  const qos = Number(ui.pubQos.value);
  const t0 = performance.now();
  ui.pubResult.textContent = 'publishing…';
  try {
    const r = await app.client.publish(topic, ui.pubPayload.value, { qos, retain: ui.pubRetain.checked });
    app.published++;
    const ms = (performance.now() - t0).toFixed(1);
    ui.pubResult.textContent = qos === 0 ? `sent (QoS 0) in ${ms} ms` : `acknowledged (reason ${r.reasonCode}) in ${ms} ms`;
    ui.pubResult.className = 'small ok';
  } catch (e) {
    ui.pubResult.textContent = errorText(e);
    ui.pubResult.className = 'error';
  }
}

function startSim() {
  const meters = [
    { name: 'house', base: 650, swing: 420 },
    { name: 'heatpump', base: 1400, swing: 900 },
    { name: 'solar', base: 2100, swing: 1500 },
  ];
  for (const m of meters) {
    app.client.publish(`meter/${m.name}/info`, JSON.stringify({ unit: 'W', meter: m.name }), { qos: 1, retain: true }).catch(() => {});
  }
  let k = 0;
  const tick = () => {
    k++;
    for (const [i, m] of meters.entries()) {
      const w = m.base + m.swing * Math.sin(k / (9 + 4 * i)) + (Math.random() - 0.5) * m.swing * 0.25;
      app.client.publish(`meter/${m.name}/watts`, String(Math.max(0, Math.round(w))), { qos: 0 }).then(() => app.published++).catch(() => {});
    }
  };
  tick();
  app.sim = setInterval(tick, 1000);
  ui.simBtn.textContent = 'Stop power meters';
  ui.simBtn.classList.add('on');
  logEvent('power meter simulator started (meter/+/watts)');
}

function stopSim() {
  if (!app.sim) return;
  clearInterval(app.sim);
  app.sim = null;
  ui.simBtn.textContent = 'Start power meters';
  ui.simBtn.classList.remove('on');
}

// ------------------------------------------------------------------------------------ frame loop

function frame() {
  flushRows();
  treeRefresh();
  retainedRefresh();
  for (const [filter, s] of app.subs) if (s.li && s.shown !== s.count) { s.shown = s.count; renderSub(filter); }
  const now = Date.now();
  while (app.arrivals.length && app.arrivals[0] < now - 1000) app.arrivals.shift();
  ui.statRate.textContent = app.arrivals.length;
  ui.statReceived.textContent = app.received;
  ui.statPublished.textContent = app.published;
  ui.statTopics.textContent = app.topics.size;
  chart.draw(now);
  requestAnimationFrame(frame);
}

// ------------------------------------------------------------------------------------ wiring

ui.connectForm.addEventListener('submit', doConnect);
ui.disconnectBtn.addEventListener('click', doDisconnect);
ui.subForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const f = ui.subFilter.value.trim();
  if (f) subscribe(f, Number(ui.subQos.value));
});
ui.pubForm.addEventListener('submit', doPublish);
ui.simBtn.addEventListener('click', () => (app.sim ? stopSim() : startSim()));
ui.pauseBtn.addEventListener('click', () => {
  app.paused = !app.paused;
  ui.pauseBtn.textContent = app.paused ? 'Resume' : 'Pause';
  ui.pauseBtn.classList.toggle('on', app.paused);
});
ui.clearBtn.addEventListener('click', () => { ui.rows.textContent = ''; ui.messagesEmpty.hidden = false; });
ui.windowSeg.addEventListener('click', (e) => {
  const b = e.target.closest('button');
  if (!b) return;
  for (const x of ui.windowSeg.children) x.classList.toggle('on', x === b);
  chart.setWindow(Number(b.dataset.window));
});

const saved = JSON.parse(localStorage.getItem('wasmqtt-dashboard') || '{}');
const params = new URLSearchParams(location.search);
if (saved.url) $('url').value = saved.url;
if (saved.id) $('client-id').value = saved.id;
if (saved.version) $('version').value = saved.version;
if (saved.keepalive) $('keepalive').value = saved.keepalive;
if (params.get('url')) $('url').value = params.get('url');
if (params.get('keepalive')) $('keepalive').value = params.get('keepalive');
app.initialSubs = params.getAll('sub');

setState('idle', 'not connected');
await init();
document.body.dataset.ready = '1';
requestAnimationFrame(frame);
if (params.get('connect') === '1') doConnect();
