// mqtts:// in Node.js: the provider's TLS (rustls) through preview2-shim's TCP, against a
// mosquitto TLS listener whose CA is made at test time.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, MqttError } from '../index.js';
import { Broker, collector, makeCertificates } from './support.mjs';

let broker;
before(async () => { broker = await Broker.start({ tls: true }); });
after(async () => { await broker?.close(); });

test('mqtts:// with the test CA: connect, QoS 1 round trip', async () => {
  const c = await connect(broker.tlsUrl, { clientId: 'node-tls', ca: readFileSync(broker.certificates.ca) });
  try {
    assert.equal(c.broker, broker.tlsUrl);
    const got = collector(1);
    await c.subscribe('tls/t', { qos: 1 }, (m) => got.push(m.text));
    await c.publish('tls/t', 'over TLS', { qos: 1 });
    assert.deepEqual(await got.done, ['over TLS']);
  } finally {
    await c.end();
  }
});

test('mqtts:// with another CA rejects with TLS_UNKNOWN_ISSUER; rejectUnauthorized: false connects', async () => {
  const other = mkdtempSync(join(tmpdir(), 'wasmqtt-node-ca-'));
  try {
    // A CA of another name: the broker's issuer is unknown. (One of the same name fails the
    // signature check instead: TLS_BAD_CERTIFICATE.)
    const { ca } = makeCertificates(other, 'another CA');
    const err = await connect(broker.tlsUrl, { reconnectPeriod: 0, ca: readFileSync(ca, 'utf8') }).then(() => null, (e) => e);
    assert.ok(err instanceof MqttError, String(err));
    assert.equal(err.code, 'TLS_UNKNOWN_ISSUER', err.message);
  } finally {
    rmSync(other, { recursive: true, force: true });
  }
  const c = await connect(broker.tlsUrl, { clientId: 'node-tls-any', rejectUnauthorized: false });
  assert.equal(c.connected, true);
  await c.end();
});

test('a certificate for another name rejects with TLS_NAME_MISMATCH', async () => {
  const err = await connect(broker.tlsUrl, { reconnectPeriod: 0, ca: readFileSync(broker.certificates.ca), servername: 'wrong.example' })
    .then(() => null, (e) => e);
  assert.ok(err instanceof MqttError, String(err));
  assert.equal(err.code, 'TLS_NAME_MISMATCH', err.message);
});

test('mqtts:// without TLS options rejects with INVALID_ARGUMENT (the default provider has no built-in roots)', async () => {
  const err = await connect(broker.tlsUrl, { reconnectPeriod: 0 }).then(() => null, (e) => e);
  assert.equal(err?.code, 'INVALID_ARGUMENT', err?.message);
});
