// Builds the package's generated parts (both git-ignored):
//   provider/  the provider component (target/wasm32-wasip2/wasm/wasmqtt_provider.wasm, built by
//              scripts/build-components.sh) transpiled by jco: its core module and the JS that
//              instantiates it against @bytecodealliance/preview2-shim (the Node.js entry's engine)
//   pkg/       the browser build (web-demo/pkg/, made by scripts/web-demo.sh build): the browser
//              entry and the TypeScript definitions of both entries, copied when it is there
// WASMQTT_PROVIDER=path overrides the component; WASMQTT_BROWSER_PKG=dir the browser build.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync, statSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const root = resolve(here, '../..');
const component = process.env.WASMQTT_PROVIDER ?? join(root, 'target/wasm32-wasip2/wasm/wasmqtt_provider.wasm');
const browserPkg = process.env.WASMQTT_BROWSER_PKG ?? join(root, 'web-demo/pkg');

if (!existsSync(component)) {
  console.error(`${component} is missing: build it with ./scripts/build-components.sh (or set WASMQTT_PROVIDER)`);
  process.exit(1);
}
const out = join(here, 'provider');
rmSync(out, { recursive: true, force: true });
// -m: minified JS (462 KB instead of 874 KB). -q: no summary table. The WASI imports
// (wasi:*@0.2.12) map to @bytecodealliance/preview2-shim by default. jco 1.35 writes the WIT's
// .d.ts files even with --no-typescript: they are removed, the package's types being the browser
// build's (pkg/wasmqtt.d.ts).
execFileSync(process.execPath, [join(here, 'node_modules/@bytecodealliance/jco/dist/jco.js'), 'transpile', component,
  '-o', out, '--name', 'wasmqtt_provider', '-m', '-q'], { stdio: 'inherit' });
rmSync(join(out, 'interfaces'), { recursive: true, force: true });
rmSync(join(out, 'wasmqtt_provider.d.ts'), { force: true });
const files = readdirSync(out).map((f) => [f, statSync(join(out, f)).size]);
for (const [f, n] of files) console.log(`provider/${f} ${n} bytes`);

if (existsSync(join(browserPkg, 'wasmqtt.js'))) {
  rmSync(join(here, 'pkg'), { recursive: true, force: true });
  cpSync(browserPkg, join(here, 'pkg'), { recursive: true });
  console.log(`pkg/ copied from ${browserPkg}`);
} else {
  console.log(`no browser build at ${browserPkg} (./scripts/web-demo.sh build): pkg/ (browser entry, types) not updated`);
}
