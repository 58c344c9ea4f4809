#!/usr/bin/env bash
# The browser dashboard: builds wasmqtt for the browser and serves web-demo/ on loopback.
#
#   ./scripts/web-demo.sh                  build, start a mosquitto with a WebSocket listener,
#                                          serve the page on http://127.0.0.1:8000/
#   ./scripts/web-demo.sh --broker ws://HOST:PORT/   use that broker instead of starting one
#   ./scripts/web-demo.sh --port 9000      serve the page on another port
#   ./scripts/web-demo.sh build            only build web-demo/pkg/ (the wasm and its JS glue)
#
# The build: `cargo build --profile wasm --target wasm32-unknown-unknown -p wasmqtt-browser
# --no-default-features --features standalone` (drivers/browser/: no std, talc, a trapping panic
# handler), then `wasm-bindgen --target web --out-name wasmqtt` into web-demo/pkg/
# (wasm-bindgen-cli is installed at the Cargo.lock version if missing), then binaryen's wasm-opt
# on the .wasm and esbuild on the JS glue (both from web-demo's npm packages: `npm ci` if missing).
# The broker: Debian's mosquitto with `protocol websockets` on a free loopback port (and a plain
# MQTT listener beside it, for mosquitto_pub/sub), in a temporary directory removed on exit.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi

# wasm-bindgen-cli must be exactly the wasm-bindgen version in Cargo.lock.
wasm_bindgen_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$ROOT/Cargo.lock"
}

ensure_wasm_bindgen_cli() {
    local want have=""
    want=$(wasm_bindgen_version)
    if command -v wasm-bindgen >/dev/null 2>&1; then
        have=$(wasm-bindgen --version | awk '{ print $2 }')
    fi
    if [ "$have" != "$want" ]; then
        echo "installing wasm-bindgen-cli $want (found: ${have:-none})"
        cargo install wasm-bindgen-cli --version "$want"
    fi
}

# web-demo's npm packages: binaryen's wasm-opt and esbuild post-process the build.
ensure_node_tools() {
    if [ ! -x "$ROOT/web-demo/node_modules/.bin/wasm-opt" ] || [ ! -x "$ROOT/web-demo/node_modules/.bin/esbuild" ]; then
        (cd "$ROOT/web-demo" && npm ci --no-audit --no-fund)
    fi
}

build() {
    ensure_wasm_bindgen_cli
    ensure_node_tools
    rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown ||
        rustup target add wasm32-unknown-unknown
    # The `wasm` profile (opt-level "s", LTO, panic=abort) with two overrides: strip=false, as
    # wasm-bindgen reads the target_features section (it strips the names itself), and
    # opt-level "z", which makes the gzipped .wasm ~7% smaller here.
    CARGO_INCREMENTAL=0 CARGO_PROFILE_WASM_STRIP=false CARGO_PROFILE_WASM_OPT_LEVEL=z \
        cargo build -p wasmqtt-browser --lib --profile wasm --target wasm32-unknown-unknown \
        --no-default-features --features standalone
    rm -rf "$ROOT/web-demo/pkg"
    wasm-bindgen --target web --remove-name-section --remove-producers-section --out-name wasmqtt \
        --out-dir "$ROOT/web-demo/pkg" "$ROOT/target/wasm32-unknown-unknown/wasm/wasmqtt_browser.wasm"
    # -Oz without inlining functions into their one caller (-ocimfs 0): with it the .wasm gets
    # smaller raw but larger gzipped. The features are those rustc enables for this target.
    # binaryen from npm (web-demo/package.json): Debian bookworm's binaryen 108 writes the
    # externref table as `anyref`, which the browser then refuses to fill.
    local bin="$ROOT/web-demo/node_modules/.bin" pkg="$ROOT/web-demo/pkg"
    "$bin/wasm-opt" -Oz -ocimfs 0 --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
        --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
        "$pkg/wasmqtt_bg.wasm" -o "$pkg/wasmqtt_bg.wasm"
    # The JS glue, minified (its exports and the .d.ts stay as wasm-bindgen wrote them).
    local js
    for js in "$pkg/wasmqtt.js" "$pkg"/snippets/*/*.js; do
        "$bin/esbuild" "$js" --minify --format=esm --log-level=warning --allow-overwrite --outfile="$js"
    done
    local raw=0 gz=0 f
    for f in "$pkg/wasmqtt_bg.wasm" "$pkg/wasmqtt.js" "$pkg"/snippets/*/*.js; do
        raw=$((raw + $(wc -c <"$f")))
        gz=$((gz + $(gzip -9c "$f" | wc -c)))
    done
    echo "built web-demo/pkg/: $(wc -c <"$pkg/wasmqtt_bg.wasm") bytes of wasm," \
        "$(gzip -9c "$pkg/wasmqtt_bg.wasm" | wc -c) gzipped; wasm + JS glue: $raw bytes, $gz gzipped (-9, file by file)"
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

find_mosquitto() {
    command -v mosquitto 2>/dev/null || ls /usr/sbin/mosquitto /usr/local/sbin/mosquitto 2>/dev/null | head -n1
}

if [ "${1:-}" = build ]; then
    build
    exit 0
fi

BROKER=""
HTTP_PORT=8000
while [ $# -gt 0 ]; do
    case "$1" in
    --broker) BROKER=$2; shift 2 ;;
    --port) HTTP_PORT=$2; shift 2 ;;
    -h | --help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done

build

PIDS=()
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wasmqtt-web-demo.XXXXXX")
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

if [ -z "$BROKER" ]; then
    MOSQUITTO=$(find_mosquitto)
    if [ -z "$MOSQUITTO" ]; then
        echo "mosquitto not found: apt-get install mosquitto mosquitto-clients, or pass --broker ws://HOST:PORT/" >&2
        exit 1
    fi
    WS_PORT=$(free_port)
    MQTT_PORT=$(free_port)
    # A plain listener beside the WebSocket one (mosquitto 2.0 will not start without one);
    # `user root` keeps a root-started broker able to write its log in $TMP.
    cat >"$TMP/mosquitto.conf" <<EOF
user root
listener $WS_PORT 127.0.0.1
protocol websockets
socket_domain ipv4
listener $MQTT_PORT 127.0.0.1
allow_anonymous true
persistence false
log_dest file $TMP/mosquitto.log
EOF
    "$MOSQUITTO" -c "$TMP/mosquitto.conf" &
    PIDS+=($!)
    for _ in $(seq 100); do
        if (exec 3<>/dev/tcp/127.0.0.1/"$WS_PORT") 2>/dev/null; then break; fi
        sleep 0.1
    done
    BROKER="ws://127.0.0.1:$WS_PORT/"
    echo "mosquitto: WebSocket $BROKER, MQTT 127.0.0.1:$MQTT_PORT (try: mosquitto_pub -p $MQTT_PORT -t meter/1/watts -m 1234)"
fi

python3 -m http.server "$HTTP_PORT" --bind 127.0.0.1 --directory "$ROOT/web-demo" >"$TMP/http.log" 2>&1 &
PIDS+=($!)
echo
echo "dashboard: http://127.0.0.1:$HTTP_PORT/?url=$BROKER"
echo "(Ctrl-C stops the server and the broker)"
wait
