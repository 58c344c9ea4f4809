// Shared by the end-to-end test and the benchmark: a mosquitto with a WebSocket listener, a static
// file server for web-demo/, and Debian's headless Chromium driven by playwright-core.
import { spawn, execFileSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer as netServer, connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, extname, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const WEB_DEMO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = resolve(WEB_DEMO, '..');

/** Resolves once `check()` returns a truthy value; rejects after `ms` with `what` in the message. */
export async function waitFor(what, check, ms = 10_000, every = 50) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

export async function freePort() {
  return new Promise((res, rej) => {
    const s = netServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => res(port)); });
  });
}

function portOpen(port) {
  return new Promise((res) => {
    const c = netConnect({ host: '127.0.0.1', port });
    c.once('connect', () => { c.destroy(); res(true); });
    c.once('error', () => res(false));
  });
}

export function findMosquitto() {
  for (const p of [process.env.MOSQUITTO, '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) {
    if (p && existsSync(p)) return p;
  }
  try { return execFileSync('sh', ['-c', 'command -v mosquitto']).toString().trim(); } catch { return null; }
}

/**
 * A test CA and a server certificate it signed for 127.0.0.1 and localhost, made in `dir` with
 * the openssl CLI (EC P-256, valid two days). `spki` is the server key's SHA-256 SPKI hash in
 * base64, what Chromium's `--ignore-certificate-errors-spki-list` takes.
 */
export function makeCertificates(dir) {
  const f = (name) => join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (out) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);
  key(f('ca.key'));
  openssl('req', '-x509', '-new', '-key', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=wasmqtt test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  key(f('server.key'));
  openssl('req', '-new', '-key', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', '',
  ].join('\n'));
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext'));
  const der = new X509Certificate(readFileSync(f('server.crt'))).publicKey.export({ type: 'spki', format: 'der' });
  return {
    ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key'),
    spki: createHash('sha256').update(der).digest('base64'),
  };
}

/**
 * mosquitto with a WebSocket listener and a plain MQTT listener on free loopback ports; with
 * `wss: true` also a WebSocket-over-TLS listener (`wssPort`, `wssUrl`) whose certificate
 * (`certificates`, see makeCertificates) is made for this broker.
 */
export class Broker {
  static async start({ extraConfig = [], wss = false } = {}) {
    const b = new Broker();
    b.program = findMosquitto();
    if (!b.program) throw new Error('mosquitto not found (apt-get install mosquitto mosquitto-clients)');
    b.dir = mkdtempSync(join(tmpdir(), 'wasmqtt-e2e-'));
    b.wsPort = await freePort();
    b.port = await freePort();
    const tls = [];
    if (wss) {
      b.certificates = makeCertificates(b.dir);
      b.wssPort = await freePort();
      const { ca, cert, key } = b.certificates;
      tls.push(`listener ${b.wssPort} 127.0.0.1`, 'protocol websockets', 'socket_domain ipv4',
        `cafile ${ca}`, `certfile ${cert}`, `keyfile ${key}`);
    }
    // mosquitto 2.0 needs a plain listener beside the WebSocket one; `user root` (ignored unless
    // run as root) keeps it able to write its log in this private directory, and to read the
    // private key (0600): without it a root-started mosquitto drops to `mosquitto` and fails
    // with "Unable to create websockets listener".
    writeFileSync(join(b.dir, 'mosquitto.conf'), [
      'user root', `listener ${b.wsPort} 127.0.0.1`, 'protocol websockets', 'socket_domain ipv4',
      ...tls, `listener ${b.port} 127.0.0.1`,
      'allow_anonymous true', 'persistence false',
      `log_dest file ${join(b.dir, 'mosquitto.log')}`, 'log_type error', 'log_type warning', 'log_type notice',
      ...extraConfig, '',
    ].join('\n'));
    await b.spawn();
    return b;
  }

  get wsUrl() { return `ws://127.0.0.1:${this.wsPort}`; }

  get wssUrl() { return `wss://127.0.0.1:${this.wssPort}`; }

  async spawn() {
    this.child = spawn(this.program, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.exited = new Promise((res) => this.child.once('exit', res));
    const ports = [this.wsPort, this.port, ...(this.wssPort ? [this.wssPort] : [])];
    await waitFor('mosquitto to listen', async () => {
      if (this.child.exitCode !== null) throw new Error(`mosquitto exited ${this.child.exitCode}: ${this.log()}`);
      for (const p of ports) if (!(await portOpen(p))) return false;
      return true;
    }, 10_000);
  }

  async stop() {
    if (!this.child || this.child.exitCode !== null) return;
    this.child.kill('SIGTERM');
    const t = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    await this.exited;
    clearTimeout(t);
  }

  async restart() {
    await this.stop();
    await this.spawn();
  }

  log() {
    try { return readFileSync(join(this.dir, 'mosquitto.log'), 'utf8'); } catch { return ''; }
  }

  async close() {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json', '.png': 'image/png' };

/** Serves `root` on a free loopback port; extra maps URL paths to files outside it. */
export async function serve(root = WEB_DEMO, extra = {}) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    const file = extra[path] ?? join(root, path.endsWith('/') ? path + 'index.html' : path);
    if (!extra[path] && !resolve(file).startsWith(resolve(root))) { res.writeHead(403).end(); return; }
    try {
      const body = await readFile(file);
      res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream', 'cache-control': 'no-store' });
      res.end(body);
    } catch {
      res.writeHead(404).end('not found');
    }
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

export const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

/** Debian's Chromium through playwright-core (never a downloaded browser). */
export async function launchChromium(extraArgs = []) {
  const { chromium } = await import('playwright-core');
  const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(executablePath)) throw new Error(`${executablePath} not found (apt-get install chromium)`);
  const userDataDir = mkdtempSync(join(tmpdir(), 'wasmqtt-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath, headless: true, args: [...CHROMIUM_ARGS, ...extraArgs], viewport: { width: 1440, height: 1000 },
  });
  return {
    context,
    async close() { await context.close(); rmSync(userDataDir, { recursive: true, force: true }); },
  };
}

/** Runs a native mosquitto client to completion (bounded by `ms`), returning its stdout. */
export function run(cmd, args, ms = 15_000) {
  return new Promise((res, rej) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    const t = setTimeout(() => { p.kill('SIGKILL'); rej(new Error(`${cmd} ${args.join(' ')}: no exit within ${ms} ms`)); }, ms);
    p.once('exit', (code) => { clearTimeout(t); code === 0 ? res(out) : rej(new Error(`${cmd} exited ${code}: ${err}`)); });
  });
}

/** Starts a native mosquitto client in the background; `output()` is what it printed so far. */
export function start(cmd, args, { stdin = false } = {}) {
  const p = spawn(cmd, args, { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (out += d));
  const exited = new Promise((res) => p.once('exit', (code) => res(code)));
  return { proc: p, output: () => out, exited, kill: () => { if (p.exitCode === null) p.kill('SIGKILL'); } };
}

/**
 * A loopback TCP proxy in front of `targetPort` (mosquitto's WebSocket listener), the JavaScript
 * counterpart of wasmqtt_testkit::proxy::Proxy: counts the connections it accepted, can stop
 * reading what the client writes (the client's writes back up: TCP backpressure) and resume, and
 * can cut every connection.
 */
export class FaultProxy {
  static async start(targetPort) {
    const p = new FaultProxy();
    p.pairs = new Set();
    p.accepted = 0;
    p.paused = false;
    p.server = netServer((client) => {
      p.accepted++;
      const upstream = netConnect({ host: '127.0.0.1', port: targetPort });
      const pair = { client, upstream };
      p.pairs.add(pair);
      if (p.paused) client.pause();
      client.on('data', (d) => upstream.write(d));
      upstream.on('data', (d) => client.write(d));
      const end = () => { client.destroy(); upstream.destroy(); p.pairs.delete(pair); };
      for (const s of [client, upstream]) { s.on('close', end); s.on('error', end); }
    });
    await new Promise((r) => p.server.listen(0, '127.0.0.1', r));
    p.port = p.server.address().port;
    return p;
  }

  get wsUrl() { return `ws://127.0.0.1:${this.port}`; }

  /** Stops reading from the clients: what they write stays in their buffers. */
  pauseClientWrites() { this.paused = true; for (const { client } of this.pairs) client.pause(); }

  resumeClientWrites() { this.paused = false; for (const { client } of this.pairs) client.resume(); }

  /** Closes every connection (both sides) at once. */
  cut() { for (const { client, upstream } of [...this.pairs]) { client.destroy(); upstream.destroy(); } this.pairs.clear(); }

  async close() { this.cut(); await new Promise((r) => this.server.close(r)); }
}

/** A loopback TCP listener that accepts and never sends a byte; `closed` counts the connections the client closed. */
export async function silentListener() {
  const sockets = new Set();
  const l = { accepted: 0, closed: 0 };
  l.server = netServer((s) => {
    l.accepted++;
    sockets.add(s);
    s.on('error', () => {});
    s.on('close', () => { l.closed++; sockets.delete(s); });
  });
  await new Promise((r) => l.server.listen(0, '127.0.0.1', r));
  l.port = l.server.address().port;
  l.wsUrl = `ws://127.0.0.1:${l.port}`;
  l.close = () => { for (const s of sockets) s.destroy(); return new Promise((r) => l.server.close(r)); };
  return l;
}
