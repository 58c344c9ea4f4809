#!/usr/bin/env bash
# Builds the WebAssembly components into target/wasm32-wasip2/wasm/:
#   wasmqtt-cli.wasm   the command component (pub / sub)
#   power-meter.wasm   the example app (imports wasmqtt:mqtt/client)
#   wasmqtt.wasm       the provider (exports wasmqtt:mqtt/client)
#   meter.wasm         power-meter composed with the provider by `wac plug` (when wac is installed)
# Order matters: the provider is the crate's cdylib built with the `provider` feature, and any
# other build of the crate for this target rewrites wasmqtt.wasm without it, so it comes last.
set -euo pipefail
cd "$(dirname "$0")/.."
out=target/wasm32-wasip2/wasm
CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 --bin wasmqtt-cli
CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p power-meter
CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 --lib --features provider
if command -v wac >/dev/null 2>&1; then
  wac plug "$out/power-meter.wasm" --plug "$out/wasmqtt.wasm" -o "$out/meter.wasm"
else
  echo "wac not found: skipping meter.wasm (cargo install wac-cli --version 0.12.0 --locked)" >&2
fi
ls -l "$out"/*.wasm
