// Shared by the tests and the benchmark: a mosquitto of its own on free loopback ports.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A test CA and a server certificate it signed for 127.0.0.1 and localhost, made in `dir` with
 * the openssl CLI (EC P-256, valid two days); `caName` is the CA's common name.
 */
export function makeCertificates(dir, caName = 'wasmqtt test CA') {
  const f = (name) => join(dir, name);
  const openssl = (...args) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const key = (out) => openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', out);
  key(f('ca.key'));
  openssl('req', '-x509', '-new', '-key', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', `/CN=${caName}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  key(f('server.key'));
  openssl('req', '-new', '-key', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=127.0.0.1');
  writeFileSync(f('server.ext'), [
    'subjectAltName=IP:127.0.0.1,DNS:localhost', 'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature', 'extendedKeyUsage=serverAuth', '',
  ].join('\n'));
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.crt'), '-days', '2', '-extfile', f('server.ext'));
  return { ca: f('ca.crt'), cert: f('server.crt'), key: f('server.key') };
}

/** Resolves once `check()` returns a truthy value; rejects after `ms` with `what` in the message. */
export async function waitFor(what, check, ms = 10_000, every = 20) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, every));
  }
}

/** A loopback port nothing listens on (bound, read and released). */
export function freePort() {
  return freePorts(1).then(([p]) => p);
}

/** `n` distinct loopback ports nothing listens on (all bound at once, then released). */
export async function freePorts(n) {
  const servers = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = createServer();
      servers.push(s);
      await new Promise((res, rej) => { s.once('error', rej); s.listen(0, '127.0.0.1', res); });
    }
    return servers.map((s) => s.address().port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((res) => s.close(() => res()))));
  }
}

function findMosquitto() {
  for (const p of [process.env.MOSQUITTO, '/usr/sbin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/bin/mosquitto']) {
    if (p && existsSync(p)) return p;
  }
  try { return execFileSync('sh', ['-c', 'command -v mosquitto']).toString().trim(); } catch { return null; }
}

/**
 * mosquitto with three loopback listeners: `port` (MQTT, anonymous), `wsPort` (MQTT over
 * WebSocket, anonymous) and `closedPort` (MQTT, anonymous clients refused: CONNACK 0x87 / 5);
 * with `tls: true` also `tlsPort` (MQTT over TLS, a certificate for 127.0.0.1 from a CA made
 * here: `certificates.ca`).
 */
export class Broker {
  static async start({ extraConfig = [], tls = false } = {}) {
    // A port found free can be taken before mosquitto binds it (by another process's outgoing
    // connection, which draws from the same range): mosquitto then exits, and a new set of
    // ports is tried.
    for (let attempt = 1; ; attempt++) {
      const b = Broker.prepare({ extraConfig, tls, ports: await freePorts(tls ? 4 : 3) });
      try {
        await b.spawn();
        return b;
      } catch (e) {
        if (!e.portTaken || attempt >= 5) throw e;
      }
    }
  }

  static prepare({ extraConfig, tls, ports }) {
    const b = new Broker();
    b.program = findMosquitto();
    if (!b.program) throw new Error('mosquitto not found (apt-get install mosquitto)');
    b.dir = mkdtempSync(join(tmpdir(), 'wasmqtt-node-'));
    [b.port, b.wsPort, b.closedPort, b.tlsPort] = ports;
    const tlsListener = [];
    if (tls) {
      b.certificates = makeCertificates(b.dir);
      const { ca, cert, key } = b.certificates;
      tlsListener.push(`listener ${b.tlsPort} 127.0.0.1`, 'allow_anonymous true', `cafile ${ca}`, `certfile ${cert}`, `keyfile ${key}`);
    }
    // `user root` (ignored unless run as root): a root-started mosquitto would otherwise drop
    // to `mosquitto`, who cannot write its log in this private directory.
    writeFileSync(join(b.dir, 'mosquitto.conf'), [
      'user root', 'per_listener_settings true', 'persistence false',
      `log_dest file ${join(b.dir, 'mosquitto.log')}`, 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information',
      'connection_messages true',
      `listener ${b.port} 127.0.0.1`, 'allow_anonymous true', ...extraConfig,
      `listener ${b.wsPort} 127.0.0.1`, 'protocol websockets', 'socket_domain ipv4', 'allow_anonymous true', ...extraConfig,
      `listener ${b.closedPort} 127.0.0.1`, 'allow_anonymous false', ...tlsListener, '',
    ].join('\n'));
    return b;
  }

  get url() { return `mqtt://127.0.0.1:${this.port}`; }

  get wsUrl() { return `ws://127.0.0.1:${this.wsPort}`; }

  get tlsUrl() { return `mqtts://127.0.0.1:${this.tlsPort}`; }

  /**
   * Starts mosquitto and resolves once it says it runs (every listener bound; read from its
   * stderr, which is unbuffered: its log file is written in blocks). Polling the ports instead
   * can connect a port to itself (a loopback connect whose source port is the port it dials),
   * which then keeps mosquitto from binding it. Rejects with `portTaken` set when mosquitto
   * could not bind a listener.
   */
  async spawn() {
    const child = spawn(this.program, ['-c', join(this.dir, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exited = new Promise((res) => child.once('exit', res));
    let running = false;
    let partial = '';
    child.stderr.setEncoding('utf8');
    // Read to the end (a pipe nobody reads would stall mosquitto once full).
    child.stderr.on('data', (d) => {
      const lines = (partial + d).split('\n');
      partial = lines.pop();
      if (lines.some((l) => / running$/.test(l))) running = true;
    });
    await waitFor('mosquitto to listen', async () => {
      if (child.exitCode !== null) {
        const log = this.log();
        const e = new Error(`mosquitto exited ${child.exitCode}: ${log}`);
        e.portTaken = /Unable to create|Address already in use/.test(log);
        throw e;
      }
      return running;
    });
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

/** A promise with its resolve and reject outside. */
export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => { resolve = res; reject = rej; });
  return { promise, resolve, reject };
}

/** Resolves with the first `n` values `push` receives (rejects after `ms`). */
export function collector(n, ms = 10_000, what = `${n} messages`) {
  const items = [];
  const d = deferred();
  const t = setTimeout(() => d.reject(new Error(`timed out waiting for ${what}; got ${items.length}`)), ms);
  return {
    items,
    push(v) {
      items.push(v);
      if (items.length === n) { clearTimeout(t); d.resolve(items); }
    },
    done: d.promise,
  };
}

/**
 * A scripted broker on a free loopback port, for what mosquitto will not do: it accepts every
 * CONNECT (3.1.1 or 5.0), answers every SUBSCRIBE with `subackCode` for each filter (0x80 in
 * 3.1.1), PINGREQ
 * with PINGRESP, and ignores the rest. It runs in a child process (test/scripted-broker.mjs).
 */
export async function scriptedBroker({ subackCode }) {
  const child = spawn(process.execPath, [join(dirname(fileURLToPath(import.meta.url)), 'scripted-broker.mjs'), String(subackCode)],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((res) => child.once('exit', res));
  const port = await new Promise((res, rej) => {
    let out = '';
    child.stdout.on('data', (d) => { out += d; if (out.includes('\n')) res(Number(out.trim())); });
    child.once('exit', (code) => rej(new Error(`the scripted broker exited ${code}`)));
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    close: async () => { child.kill('SIGTERM'); await exited; },
  };
}
