#!/usr/bin/env bash
# Builds every shipped artifact (what is not built yet) and prints one line each:
#   size NAME RAW_BYTES GZIP9_BYTES
# NAME:
#   provider      the provider component, plain build (`--no-default-features`: mqtt:// only, no
#                 TLS, no WebSocket, no durable store): the smallest build a user can ship
#   provider-tls  the provider component, default build (tls, tls12, websocket, durable)
#   cli           the command component, plain build (`--no-default-features`: mqtt:// only)
#   browser       web-demo/pkg/ as scripts/web-demo.sh builds it: wasmqtt_bg.wasm + wasmqtt.js +
#                 the snippets' JS glue (RAW and GZIP9 are sums over the files, each gzipped alone)
# GZIP9_BYTES is `gzip -9c FILE | wc -c`.
# The plain builds go to target/sizes/ (a target dir of their own, so they never replace the
# default builds in target/wasm32-wasip2/wasm/ that the tests run); the default provider is
# target/wasm32-wasip2/wasm/wasmqtt_provider.wasm (scripts/build-components.sh). Cargo builds
# nothing that is up to date; the browser build runs only if web-demo/pkg/ is missing.
#   ./scripts/sizes.sh --built   builds nothing: measures what scripts/test.sh's host-runner and
#                                browser steps built (target/wasm32-wasip2/wasm/plain/ for the
#                                plain builds); fails if a file is missing
set -euo pipefail
cd "$(dirname "$0")/.."

line() { # NAME FILE...
    local name=$1 raw=0 gz=0 f
    shift
    for f in "$@"; do
        [ -f "$f" ] || { echo "sizes.sh: $f is missing (build it, or run without --built)" >&2; exit 1; }
        raw=$((raw + $(wc -c <"$f")))
        gz=$((gz + $(gzip -9c "$f" | wc -c)))
    done
    echo "size $name $raw $gz"
}

build_wasip2() { # TARGET_DIR CARGO_ARGS...
    local dir=$1
    shift
    CARGO_INCREMENTAL=0 cargo build --quiet --profile wasm --target wasm32-wasip2 \
        --target-dir "$dir" "$@" >&2
}

plain=target/sizes/wasm32-wasip2/wasm
if [ "${1:-}" = --built ]; then
    plain=target/wasm32-wasip2/wasm/plain
else
    # binaryen's wasm-opt for the components' build scripts (components/wasm_opt_link.rs).
    if [ -z "${WASM_OPT:-}" ] && [ ! -x web-demo/node_modules/.bin/wasm-opt ]; then
        (cd web-demo && npm ci --no-audit --no-fund >&2)
    fi
    build_wasip2 target/sizes -p wasmqtt-provider --no-default-features
    build_wasip2 target/sizes -p wasmqtt-cli --no-default-features
    build_wasip2 target -p wasmqtt-provider
    [ -f web-demo/pkg/wasmqtt_bg.wasm ] || ./scripts/web-demo.sh build >&2
fi

line provider "$plain/wasmqtt_provider.wasm"
line provider-tls target/wasm32-wasip2/wasm/wasmqtt_provider.wasm
line cli "$plain/wasmqtt-cli.wasm"
shopt -s nullglob
line browser web-demo/pkg/wasmqtt_bg.wasm web-demo/pkg/wasmqtt.js web-demo/pkg/snippets/*/*.js
