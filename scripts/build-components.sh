#!/usr/bin/env bash
# Builds the WebAssembly components into target/wasm32-wasip2/wasm/:
#   wasmqtt_provider.wasm  the provider (crate wasmqtt-provider: exports wasmqtt:mqtt/client)
#   wasmqtt-cli.wasm       the command component (crate wasmqtt-cli: pub / sub)
#   power-meter.wasm       the example app (imports wasmqtt:mqtt/client)
#   wasmqtt_messaging.wasm the wasi:messaging provider (crate wasmqtt-messaging)
#   wasmqtt-messaging-runner.wasm  its runner (calls an app's wasi:messaging/incoming-handler)
#   messaging_echo.wasm    the example wasi:messaging app (examples/messaging-echo)
#   wasmqtt_provider_p3.wasm  the WASI 0.3 provider (crate wasmqtt-provider-p3: exports
#                          wasmqtt:mqtt/client@0.2.0, async functions and streams)
#   p3_roundtrip.wasm      the example WASI 0.3 app (examples/p3-roundtrip)
# Each is a crate of its own with an output file of its own, so the order does not matter.
# The provider's and the command component's core modules go through binaryen's `wasm-opt -Oz`
# before they become components (components/wasm_opt_link.rs): web-demo's npm binaryen, which
# this installs (`npm ci` in web-demo/) when it is missing, or $WASM_OPT.
# The app composed with the provider is made by `wasmqtt-host compose` (the wac-graph library):
#   cargo run --release -p wasmqtt-host -- compose target/wasm32-wasip2/wasm/power-meter.wasm \
#     --plug target/wasm32-wasip2/wasm/wasmqtt_provider.wasm -o meter.wasm
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/wasm32-wasip2/wasm
if [ -z "${WASM_OPT:-}" ] && [ ! -x web-demo/node_modules/.bin/wasm-opt ]; then
  (cd web-demo && npm ci --no-audit --no-fund)
fi
CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 \
  -p wasmqtt-provider -p wasmqtt-cli -p power-meter \
  -p wasmqtt-messaging -p wasmqtt-messaging-runner -p messaging-echo \
  -p wasmqtt-provider-p3 -p p3-roundtrip
ls -l "$out"/*.wasm
