// The package has one TypeScript definition for both entries (pkg/wasmqtt.d.ts, the browser
// build's): the Node.js entry must export every function it declares and give Client every
// method and property it declares. Needs pkg/ (npm run build after ./scripts/web-demo.sh build).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import * as node from '../index.js';

const dts = new URL('../pkg/wasmqtt.d.ts', import.meta.url);
const skip = existsSync(dts) ? false : 'no pkg/wasmqtt.d.ts: run ./scripts/web-demo.sh build, then npm run build';

test('the Node.js entry exports every function of the shared .d.ts', { skip }, () => {
  const text = readFileSync(dts, 'utf8');
  const functions = [...text.matchAll(/^export function (\w+)/gm)].map((m) => m[1]);
  assert.ok(functions.includes('connect') && functions.length >= 4, functions.join());
  for (const f of functions) assert.equal(typeof node[f], 'function', `export ${f}`);
  assert.match(text, /^export default function/m);
  assert.equal(typeof node.default, 'function');
});

test('Client has every method and property of the shared .d.ts', { skip }, () => {
  const text = readFileSync(dts, 'utf8');
  const body = text.slice(text.indexOf('export class Client {'), text.indexOf('\n}\n', text.indexOf('export class Client {')));
  const methods = [...body.matchAll(/^ {4}(\w+)\(/gm)].map((m) => m[1]).filter((m) => m !== 'constructor');
  const props = [...body.matchAll(/^ {4}readonly (\w+):/gm)].map((m) => m[1]);
  assert.ok(methods.includes('publish') && methods.includes('subscribe') && props.includes('state'), `${methods} ${props}`);
  const proto = node.Client.prototype;
  for (const m of methods) assert.equal(typeof proto[m], 'function', `Client.${m}()`);
  for (const p of props) assert.ok(Object.getOwnPropertyDescriptor(proto, p)?.get, `Client.${p}`);
  assert.equal(typeof proto[Symbol.dispose], 'function');
});

test('the error codes Node.js gives are in the shared MqttErrorCode type, but for the TLS ones', { skip }, () => {
  const text = readFileSync(dts, 'utf8');
  const src = readFileSync(new URL('../index.js', import.meta.url), 'utf8');
  const declared = new Set([...text.matchAll(/'([A-Z_0-9]+)'/g)].map((m) => m[1]));
  const used = new Set([...src.matchAll(/new MqttError\('([A-Z_0-9]+)'/g), ...src.matchAll(/\? '([A-Z_]+)'/g), ...src.matchAll(/: '([A-Z_]+)'/g)]
    .map((m) => m[1]).filter((c) => /^[A-Z][A-Z_]+$/.test(c)));
  assert.ok(used.size >= 15, [...used].join());
  const missing = [...used].filter((c) => !declared.has(c));
  assert.deepEqual(missing, []);
});
