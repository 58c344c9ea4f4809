#!/usr/bin/env bash
# The test command of wasmqtt: every check the project has, in named steps.
#
#   ./scripts/test.sh              run every step, stop at the first failure
#   ./scripts/test.sh STEP...      run only the named steps (see `./scripts/test.sh --list`)
#   KEEP_GOING=1 ./scripts/test.sh run every step even after a failure
#   SKIP_INSTALL=1 ./scripts/test.sh  do not install OS packages or Rust targets
#
# It installs what is missing (mosquitto via apt when root, the wasm targets via rustup), then
# runs rustfmt, clippy (every crate on its target), the native tests (unit, integration against
# a real mosquitto, examples, doctests), builds the core and the drivers for both wasm targets,
# and checks that the core (crate `wasmqtt`) is no_std with nothing but the core in its tree.
# The host-runner step builds the provider and command components and runs the wasmtime host's
# tests against them (release profile only); the node step runs the provider in Node.js (jco).
#
# The crates (see the README's layout): the core `wasmqtt` (src/), the drivers wasmqtt-tokio,
# wasmqtt-wasi and wasmqtt-browser (drivers/), the components wasmqtt-provider and wasmqtt-cli
# (components/), wasmqtt-host (host-runner/), power-meter (examples/) and wasmqtt-testkit
# (tests/support/).
#
# To add a step: write a function, then add "<name> <function>" to STEPS at the bottom.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
# HOST_CRATES, node_test_files, start_ws_broker
. "$ROOT/scripts/lib/common.sh"

if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
if [ "${CI:-}" = "true" ]; then
    # A fresh clone builds everything once: incremental state would only cost time.
    export CARGO_INCREMENTAL=0
fi

WASM_TARGETS=(wasm32-wasip2 wasm32-unknown-unknown)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wasmqtt-test.XXXXXX")
TEST_LOG="$WORK/cargo-test.log"
: >"$TEST_LOG"

# ---------------------------------------------------------------------------------------------
# Step runner
# ---------------------------------------------------------------------------------------------

SELECTED=("$@")
SUMMARY=()
FAILED=()
T_START=$SECONDS

log() { printf '%s\n' "$*"; }
if [ -t 1 ]; then
    BOLD=$'\033[1m' RED=$'\033[1;31m' RESET=$'\033[0m'
else
    BOLD='' RED='' RESET=''
fi

selected() {
    [ ${#SELECTED[@]} -eq 0 ] && return 0
    local s
    for s in "${SELECTED[@]}"; do [ "$s" = "$1" ] && return 0; done
    return 1
}

# run_step NAME COMMAND [ARGS...]: runs COMMAND (a function or a program) under `set -e` in a
# subshell, times it and records the result. Stops the script on failure unless KEEP_GOING=1.
run_step() {
    local name=$1
    shift
    if [ "${LIST_ONLY:-}" = 1 ]; then
        log "$name"
        return 0
    fi
    if ! selected "$name"; then
        return 0
    fi
    if [ ${#FAILED[@]} -gt 0 ] && [ "${KEEP_GOING:-}" != 1 ]; then
        SUMMARY+=("$(printf '  %-22s %-8s' "$name" "skipped")")
        return 0
    fi
    printf '\n%s==> [%s] %s%s\n' "$BOLD" "$name" "$*" "$RESET"
    local t0=$SECONDS rc=0
    set +e
    (
        set -euo pipefail
        "$@"
    )
    rc=$?
    set -e
    local took=$((SECONDS - t0))
    if [ $rc -eq 0 ]; then
        SUMMARY+=("$(printf '  %-22s %-8s %4ss' "$name" "ok" "$took")")
    else
        SUMMARY+=("$(printf '  %-22s %-8s %4ss  (exit %s)' "$name" "FAILED" "$took" "$rc")")
        FAILED+=("$name")
        printf '%s==> [%s] failed (exit %s)%s\n' "$RED" "$name" "$rc" "$RESET"
    fi
}

# Adds up the `test result:` lines of every cargo test run of this script.
test_counts() {
    awk '
        /^test result: / {
            for (i = 1; i <= NF; i++) {
                if ($(i) ~ /^passed;?$/)  passed  += $(i - 1)
                if ($(i) ~ /^failed;?$/)  failed  += $(i - 1)
                if ($(i) ~ /^ignored;?$/) ignored += $(i - 1)
            }
            runs++
        }
        END { printf "%d %d %d %d\n", passed, failed, ignored, runs }
    ' "$TEST_LOG"
}

summary() {
    local rc=$?
    if [ "${LIST_ONLY:-}" = 1 ]; then
        rm -rf "$WORK"
        return
    fi
    local passed failed ignored runs
    read -r passed failed ignored runs < <(test_counts)
    printf '\n%s==> summary%s\n' "$BOLD" "$RESET"
    local line
    for line in "${SUMMARY[@]}"; do log "$line"; done
    if [ "$runs" -gt 0 ]; then
        log "  test binaries run: $runs"
        log "tests: $passed passed, $failed failed, $ignored skipped"
    fi
    log "  total time: $((SECONDS - T_START))s"
    rm -rf "$WORK"
    if [ ${#FAILED[@]} -gt 0 ]; then
        log "test.sh: FAILED (${FAILED[*]})"
        exit 1
    elif [ $rc -ne 0 ]; then
        log "test.sh: FAILED (exit $rc)"
        exit "$rc"
    fi
    log "test.sh: OK"
}
trap summary EXIT

# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------

have_mosquitto() {
    command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || [ -x /usr/local/sbin/mosquitto ]
}

apt_update_once() {
    if [ "${WASMQTT_APT_UPDATED:-}" != 1 ]; then
        apt-get update
        export WASMQTT_APT_UPDATED=1
    fi
}

# The package may start a system-wide broker on port 1883; the tests start their own brokers on
# free ports, so keep it from running.
stop_system_mosquitto() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        systemctl stop mosquitto.service >/dev/null 2>&1 || true
        systemctl disable mosquitto.service >/dev/null 2>&1 || true
    else
        if command -v service >/dev/null 2>&1 && [ -x /etc/init.d/mosquitto ]; then
            service mosquitto stop >/dev/null 2>&1 || true
        fi
        if command -v update-rc.d >/dev/null 2>&1; then
            update-rc.d mosquitto disable >/dev/null 2>&1 || true
        fi
    fi
}

install_os_packages() {
    if [ "${SKIP_INSTALL:-}" = 1 ]; then
        log "SKIP_INSTALL=1: not installing anything"
        return 0
    fi
    # clang: ring (rustls' crypto provider) compiles C for wasm32-wasip2 with it.
    local want=()
    have_mosquitto || want+=(mosquitto)
    # mosquitto_pub, mosquitto_sub and mosquitto_rr: the CLI tests check ours against them.
    command -v mosquitto_rr >/dev/null 2>&1 || want+=(mosquitto-clients)
    command -v clang >/dev/null 2>&1 || want+=(clang)
    if [ ${#want[@]} -eq 0 ]; then
        log "mosquitto: present ($(command -v mosquitto || ls /usr/sbin/mosquitto /usr/local/sbin/mosquitto 2>/dev/null | head -n1)); clang: present"
        return 0
    fi
    if [ "$(id -u)" != 0 ]; then
        log "missing and this is not root: install with" >&2
        log "  sudo apt-get install ${want[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package's maintainer scripts from starting the service (Debian's policy-rc.d).
    local own_policy=0 rc=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        own_policy=1
    fi
    {
        apt_update_once &&
            apt-get install -y --no-install-recommends "${want[@]}"
    } || rc=$?
    if [ $own_policy = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
    [ $rc -eq 0 ] || return $rc
    stop_system_mosquitto
    have_mosquitto && command -v mosquitto_rr >/dev/null 2>&1 && command -v clang >/dev/null 2>&1
}

ensure_rust_targets() {
    if [ "${SKIP_INSTALL:-}" = 1 ]; then
        log "SKIP_INSTALL=1: not adding Rust targets"
        return 0
    fi
    rustc --version
    if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
        rustup component add rustfmt clippy
    fi
    local installed missing=() t
    installed=$(rustup target list --installed)
    for t in "${WASM_TARGETS[@]}"; do
        grep -qx "$t" <<<"$installed" || missing+=("$t")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        rustup target add "${missing[@]}"
    else
        log "targets present: ${WASM_TARGETS[*]}"
    fi
}

fmt_check() {
    cargo fmt --all -- --check
}

# The crates for wasm32-wasip2 (wasmqtt-cli again: its binary is the command component). The
# core comes first in both lists (`${LIST[@]:2}` drops it).
WASI_CRATES=(-p wasmqtt -p wasmqtt-wasi -p wasmqtt-provider -p wasmqtt-cli -p power-meter
    -p wasmqtt-messaging -p wasmqtt-messaging-runner -p messaging-echo
    -p wasmqtt-provider-p3 -p p3-roundtrip)
BROWSER_CRATES=(-p wasmqtt -p wasmqtt-browser)

# Every crate on its target (CARGO_INCREMENTAL=0 for the wasm targets: see wasm_build). On the
# wasm targets the core is linted as a library only: its tests and benches are host programs
# (their dev-dependencies, tokio with `net` and rumqttd, do not build for wasm32).
clippy() {
    export CARGO_INCREMENTAL=0
    log "--- cargo clippy ${HOST_CRATES[*]} --all-targets -- -D warnings"
    cargo clippy "${HOST_CRATES[@]}" --all-targets -- -D warnings
    local t
    for t in "${WASM_TARGETS[@]}"; do
        log "--- cargo clippy -p wasmqtt --lib --target $t -- -D warnings"
        cargo clippy -p wasmqtt --lib --target "$t" -- -D warnings
    done
    log "--- cargo clippy ${WASI_CRATES[*]:2} --all-targets --target wasm32-wasip2 -- -D warnings"
    cargo clippy "${WASI_CRATES[@]:2}" --all-targets --target wasm32-wasip2 -- -D warnings
    log "--- cargo clippy ${BROWSER_CRATES[*]:2} --all-targets --target wasm32-unknown-unknown -- -D warnings"
    cargo clippy "${BROWSER_CRATES[@]:2}" --all-targets --target wasm32-unknown-unknown -- -D warnings
}

# Unit tests, integration tests (a real mosquitto), examples. The criterion bench is built,
# not run (see build_benches).
native_tests() {
    cargo test --no-fail-fast "${HOST_CRATES[@]}" --lib --bins --tests --examples | tee -a "$TEST_LOG"
    # The core without its default `durable` feature, as the plain components build it.
    cargo test --no-fail-fast -p wasmqtt --no-default-features --lib | tee -a "$TEST_LOG"
}

doc_tests() {
    cargo test --doc "${HOST_CRATES[@]}" | tee -a "$TEST_LOG"
}

build_benches() {
    cargo build --benches -p wasmqtt
}

# CARGO_INCREMENTAL=0 in the wasm steps: rust-lld (LLVM 22, Rust 1.95) segfaults in
# ElemSection::writeBody when linking the wasm32-wasip2 cdylib from the ~130 object files of an
# incremental debug build (an open LLVM bug, llvm/llvm-project#174676); 16 codegen units link.
wasm_build() {
    export CARGO_INCREMENTAL=0
    log "--- cargo build ${WASI_CRATES[*]} --target wasm32-wasip2"
    cargo build "${WASI_CRATES[@]}" --target wasm32-wasip2
    log "--- cargo build ${BROWSER_CRATES[*]} --lib --target wasm32-unknown-unknown"
    cargo build "${BROWSER_CRATES[@]}" --lib --target wasm32-unknown-unknown
}

# The core must need nothing but core + alloc (it is `no_std` without a feature to turn that
# off): build it for each wasm target with warnings denied, and check that its dependency tree
# holds no driver's crates.
no_std_build() {
    export CARGO_INCREMENTAL=0
    local t tree bad
    for t in "${WASM_TARGETS[@]}"; do
        log "--- cargo rustc -p wasmqtt --lib --target $t -- -D warnings"
        cargo rustc -p wasmqtt --lib --target "$t" -- -D warnings
        tree=$(cargo tree -p wasmqtt -e normal --target "$t" --prefix none)
        bad=$(grep -E '^(wasm-bindgen|web-sys|js-sys|wit-bindgen|wasip2|tokio|wasmtime)[ -]' <<<"$tree" || true)
        if [ -n "$bad" ]; then
            log "the core's dependency tree for $t holds driver crates:" >&2
            log "$bad" >&2
            return 1
        fi
        log "cargo tree -p wasmqtt -e normal --target $t: $(awk '{ print $1 }' <<<"$tree" | sort -u | tr '\n' ' ')"
    done
}

# The wasmtime host runner (host-runner/, package wasmqtt-host) with the two components: builds
# the provider and the command component (profile `wasm`), then lints and tests wasmqtt-host in
# release only, so wasmtime (~200 crates) is compiled once, never also in debug. The root
# package's steps above do not touch wasmqtt-host (cargo run at the root selects the root
# package only). The tests start their own mosquitto and rumqttd.
host_runner_tests() {
    export CARGO_INCREMENTAL=0
    # binaryen's wasm-opt (web-demo's npm packages), which the components' build scripts run on
    # their core modules (components/wasm_opt_link.rs).
    if [ -z "${WASM_OPT:-}" ] && [ ! -x web-demo/node_modules/.bin/wasm-opt ]; then
        (cd web-demo && npm ci --no-audit --no-fund)
    fi
    # The plain provider and command component (--no-default-features: no TLS, no WebSocket),
    # kept in target/wasm32-wasip2/wasm/plain/ for the tests of that build; then the default
    # (TLS + WebSocket) provider, command component and the power-meter app (the composition
    # test composes the app with the provider through `wasmqtt-host compose`, wac-graph), and
    # the wasi:messaging provider, runner and echo app (tests/messaging.rs composes them through
    # `wasmqtt-host compose-messaging`), and the WASI 0.3 provider with its example app
    # (tests/p3.rs composes them and runs them with `wasmqtt-host run --p3`).
    log "--- cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider -p wasmqtt-cli --no-default-features"
    cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider -p wasmqtt-cli --no-default-features
    mkdir -p target/wasm32-wasip2/wasm/plain
    cp target/wasm32-wasip2/wasm/wasmqtt_provider.wasm target/wasm32-wasip2/wasm/wasmqtt-cli.wasm target/wasm32-wasip2/wasm/plain/
    ./scripts/build-components.sh
    log "--- cargo clippy --release -p wasmqtt-host --no-deps --all-targets -- -D warnings"
    cargo clippy --release -p wasmqtt-host --no-deps --all-targets -- -D warnings
    log "--- cargo test --release -p wasmqtt-host"
    cargo test --release -p wasmqtt-host | tee -a "$TEST_LOG"
    local f
    for f in wasmqtt_messaging.wasm wasmqtt-messaging-runner.wasm messaging_echo.wasm \
        wasmqtt_provider_p3.wasm p3_roundtrip.wasm; do
        log "component artifact $f: $(stat -c %s "target/wasm32-wasip2/wasm/$f") bytes, gzip -9 $(gzip -9c "target/wasm32-wasip2/wasm/$f" | wc -c)"
    done
}

# The browser build (crate wasmqtt-browser in drivers/browser/, web-demo/): installs Debian's chromium and chromium-driver,
# wasm-bindgen-cli at the Cargo.lock version (scripts/web-demo.sh does that when it differs) and
# web-demo's npm packages (playwright-core: it never downloads a browser), then
#   1. wasm-bindgen-test tests of the JavaScript API in headless Chromium (tests/browser/, a crate
#      of its own) against a mosquitto WebSocket listener started here,
#   2. the dashboard's end-to-end test (web-demo/test/e2e.test.mjs, node:test + playwright-core),
#      which starts and restarts its own mosquitto; its screenshot is target/web-demo/e2e.png.
#   3. the shared driver scenario table S1-S5 (web-demo/test/scenarios.test.mjs: its own mosquitto,
#      a silent listener and a fault proxy), printing `scenario browser SID OUTCOME` lines.
install_browser_tools() {
    local need=()
    [ -x /usr/bin/chromium ] || need+=(chromium)
    [ -x /usr/bin/chromedriver ] || need+=(chromium-driver)
    if [ ${#need[@]} -gt 0 ]; then
        if [ "${SKIP_INSTALL:-}" = 1 ] || [ "$(id -u)" != 0 ]; then
            log "missing: ${need[*]} (apt-get install -y chromium chromium-driver)" >&2
            return 1
        fi
        apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver
    fi
    log "$(/usr/bin/chromium --version 2>/dev/null | head -n1); $(/usr/bin/chromedriver --version | head -n1)"
    if [ "${SKIP_INSTALL:-}" != 1 ] || [ ! -d web-demo/node_modules ]; then
        (cd web-demo && npm ci --no-audit --no-fund)
    fi
}

browser_tests() {
    export CARGO_INCREMENTAL=0
    install_browser_tools
    log "--- scripts/web-demo.sh build"
    ./scripts/web-demo.sh build
    start_ws_broker "$WORK/ws-broker"
    trap 'kill "$BROKER_PID" 2>/dev/null || true' EXIT
    log "--- wasm-bindgen-test (tests/browser) in headless Chromium against $BROKER_WS_URL"
    (
        cd tests/browser
        CARGO_TARGET_DIR="$ROOT/target" WASMQTT_TEST_WS_URL="$BROKER_WS_URL" \
            CHROMEDRIVER=/usr/bin/chromedriver \
            CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
            cargo test --target wasm32-unknown-unknown --tests
    ) | tee -a "$TEST_LOG"
    kill "$BROKER_PID" 2>/dev/null || true
    local files
    mapfile -t files < <(node_test_files)
    log "--- node --test ${files[*]} in web-demo/ (playwright-core, /usr/bin/chromium)"
    (
        cd web-demo
        node --test --test-reporter=spec --test-reporter-destination=stdout \
            --test-reporter=tap --test-reporter-destination="$WORK/e2e.tap" \
            "${files[@]}"
    )
    # Count the end-to-end tests in the summary with the cargo tests.
    awk '/^# pass / { p = $3 } /^# fail / { f = $3 } /^# skipped / { s = $3 }
         END { printf "test result: node. %d passed; %d failed; %d ignored\n", p, f, s }' \
        "$WORK/e2e.tap" | tee -a "$TEST_LOG"
    log "screenshot: target/web-demo/e2e.png"
}

# The Node.js package (drivers/node/): the default provider component, which the host-runner step
# builds (this step builds it with scripts/build-components.sh when it is missing), transpiled by
# jco and run in Node.js behind the browser build's Promise API. `npm ci` installs the lock
# file's @bytecodealliance/jco, @bytecodealliance/preview2-shim and mqtt (MQTT.js, the peer of
# the interop tests); `npm run build` transpiles into drivers/node/provider/ and copies the
# browser build (web-demo/pkg/, made by the browser step) into drivers/node/pkg/ when it is
# there (without it the checks against the shared .d.ts are skipped). The node:test files start
# their own mosquitto (and a scripted broker for a refused subscription); the TLS test makes its
# certificates with the openssl CLI.
node_tests() {
    local target=${CARGO_TARGET_DIR:-$ROOT/target}
    local provider="$target/wasm32-wasip2/wasm/wasmqtt_provider.wasm"
    [ -f "$provider" ] || ./scripts/build-components.sh
    (
        cd drivers/node
        if [ "${SKIP_INSTALL:-}" != 1 ] || [ ! -d node_modules ]; then
            npm ci --no-audit --no-fund
        fi
        log "--- npm run build (jco transpile $provider)"
        WASMQTT_PROVIDER="$provider" npm run build
        log "--- node --test test/*.test.mjs in drivers/node/"
        node --test --test-reporter=spec --test-reporter-destination=stdout \
            --test-reporter=tap --test-reporter-destination="$WORK/node.tap" \
            test/*.test.mjs
    )
    # Count the tests in the summary with the cargo tests.
    awk '/^# pass / { p = $3 } /^# fail / { f = $3 } /^# skipped / { s = $3 }
         END { printf "test result: node-package. %d passed; %d failed; %d ignored\n", p, f, s }' \
        "$WORK/node.tap" | tee -a "$TEST_LOG"
}

# The conformance index (tests/conformance.rs, docs/conformance.md): every numbered statement of
# MQTT 3.1.1 and 5.0 that binds the client must be checked by a test. The test already ran in
# native-tests; this step prints its counts per version (and fails with the index's problems).
conformance_counts() {
    local out="$WORK/conformance.log" rc=0
    cargo test --test conformance -- --nocapture >"$out" 2>&1 || rc=$?
    if [ $rc -ne 0 ]; then
        cat "$out"
        return $rc
    fi
    grep '^conformance:' "$out"
}

# The artifact sizes (scripts/sizes.sh --built: the files the host-runner and browser steps
# built, nothing rebuilt): one `size NAME RAW_BYTES GZIP9_BYTES` line each.
artifact_sizes() {
    ./scripts/sizes.sh --built | tee -a "$TEST_LOG"
}

# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

STEPS=(
    "install-os-packages install_os_packages"
    "rust-targets ensure_rust_targets"
    "fmt fmt_check"
    "clippy clippy"
    "native-tests native_tests"
    "doc-tests doc_tests"
    "build-benches build_benches"
    "wasm-build wasm_build"
    "no-std-build no_std_build"
    "host-runner host_runner_tests"
    "browser browser_tests"
    "node node_tests"
    "sizes artifact_sizes"
    "conformance conformance_counts"
)

if [ "${1:-}" = "--list" ] || [ "${1:-}" = "-l" ]; then
    LIST_ONLY=1
    SELECTED=()
fi
for wanted in "${SELECTED[@]}"; do
    known=0
    for entry in "${STEPS[@]}"; do [ "${entry%% *}" = "$wanted" ] && known=1; done
    if [ $known = 0 ]; then
        log "unknown step '$wanted'; the steps are:" >&2
        for entry in "${STEPS[@]}"; do log "  ${entry%% *}" >&2; done
        LIST_ONLY=1
        exit 2
    fi
done

for entry in "${STEPS[@]}"; do
    # shellcheck disable=SC2086 # an entry is "name function"
    run_step $entry
done
