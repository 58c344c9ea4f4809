#!/usr/bin/env bash
# Builds the WebAssembly components into target/wasm32-wasip2/wasm/:
#   wasmqtt_provider.wasm  the provider (crate wasmqtt-provider: exports wasmqtt:mqtt/client)
#   wasmqtt-cli.wasm       the command component (crate wasmqtt-cli: pub / sub)
#   power-meter.wasm       the example app (imports wasmqtt:mqtt/client)
#   meter.wasm             power-meter composed with the provider by `wac plug` (when wac is installed)
# Each is a crate of its own with an output file of its own, so the order does not matter.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/wasm32-wasip2/wasm
CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 \
  -p wasmqtt-provider -p wasmqtt-cli -p power-meter
if command -v wac >/dev/null 2>&1; then
  wac plug "$out/power-meter.wasm" --plug "$out/wasmqtt_provider.wasm" -o "$out/meter.wasm"
else
  echo "wac not found: skipping meter.wasm (cargo install wac-cli --version 0.12.0 --locked)" >&2
fi
ls -l "$out"/*.wasm
