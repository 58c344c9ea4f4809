#!/usr/bin/env bash
# Runs the tests of the README test command (./scripts/test.sh) N times in a row without
# rebuilding, to find flaky tests:
#
#   ./scripts/repeat-tests.sh N              the host crates' test binaries (HOST_CRATES of
#                                            scripts/lib/common.sh: the conformance index among them)
#   HOST=1 ./scripts/repeat-tests.sh N       also wasmqtt-host's release tests (host-runner step;
#                                            the components must have been built by
#                                            ./scripts/build-components.sh); HOST=only: those alone
#   E2E=1 ./scripts/repeat-tests.sh N        also every node:test file of web-demo/test/ (browser
#                                            step; web-demo/pkg must have been built)
#   BROWSER=1 ./scripts/repeat-tests.sh N    also the wasm-bindgen tests of tests/browser in headless
#                                            Chromium (built once; each run starts its own
#                                            mosquitto WebSocket listener)
#   NODE=1 ./scripts/repeat-tests.sh N       also every node:test file of drivers/node/test/ (node
#                                            step; `npm run build` there must have run)
#   DOC=1 ./scripts/repeat-tests.sh N        also the doc tests (rustdoc compiles them on every run)
#   ALL=1 ./scripts/repeat-tests.sh N        all of the above: every test the test command runs
#
# The test binaries are built once first (`cargo test --no-run`, a no-op when they are fresh),
# then run directly, each from its package's directory as cargo would.
#
# Prints each run's result and, at the end, `repeat: N runs, K failed` (K = runs with at least
# one failing test) and every failing test with how many runs it failed in.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
. "$ROOT/scripts/lib/common.sh"
if [ "${ALL:-}" = 1 ]; then HOST=1 E2E=1 BROWSER=1 NODE=1 DOC=1; fi

N=${1:-20}
case $N in '' | *[!0-9]*) echo "usage: $0 N" >&2; exit 2 ;; esac

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wasmqtt-repeat.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# Writes "binary<TAB>package dir" for every test executable cargo built.
list_binaries() {
    python3 -c '
import json, os, sys
for line in sys.stdin:
    try:
        m = json.loads(line)
    except ValueError:
        continue
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["executable"] + "\t" + os.path.dirname(m["manifest_path"]))
'
}

echo "--- building the test binaries (once)"
: >"$WORK/binaries"
if [ "${HOST:-}" != only ]; then
    cargo test --no-run --message-format=json \
        "${HOST_CRATES[@]}" --lib --bins --tests --examples \
        2>"$WORK/build.log" | list_binaries >"$WORK/binaries" || { cat "$WORK/build.log" >&2; exit 1; }
fi
if [ "${HOST:-}" = 1 ] || [ "${HOST:-}" = only ]; then
    CARGO_INCREMENTAL=0 cargo test --release --no-run --message-format=json -p wasmqtt-host \
        2>>"$WORK/build.log" | list_binaries >>"$WORK/binaries" || { cat "$WORK/build.log" >&2; exit 1; }
fi
: >"$WORK/wasm-tests"
if [ "${BROWSER:-}" = 1 ]; then
    # The wasm-bindgen tests read the broker's URL at build time: one listener for every run.
    start_ws_broker "$WORK/ws-broker" >/dev/null
    trap 'kill "$BROKER_PID" 2>/dev/null || true; rm -rf "$WORK"' EXIT
    (cd tests/browser && WASMQTT_TEST_WS_URL="$BROKER_WS_URL" CARGO_INCREMENTAL=0 CARGO_TARGET_DIR="$ROOT/target" \
        cargo test --target wasm32-unknown-unknown --tests --no-run --message-format=json \
        2>>"$WORK/build.log" | list_binaries | cut -f1 >"$WORK/wasm-tests") || { cat "$WORK/build.log" >&2; exit 1; }
fi
mapfile -t NODE_TESTS < <([ "${E2E:-}" = 1 ] && node_test_files)
mapfile -t NODE_PKG_TESTS < <([ "${NODE:-}" = 1 ] && cd drivers/node && ls test/*.test.mjs)
echo "$(wc -l <"$WORK/binaries") test binaries, $(wc -l <"$WORK/wasm-tests") wasm-bindgen test binaries, ${#NODE_TESTS[@]} web-demo and ${#NODE_PKG_TESTS[@]} drivers/node test files$([ "${DOC:-}" = 1 ] && echo ', the doc tests')"

# node_file DIR LABEL FILE: runs one node:test file in DIR, counts its passes, records a failure
# as LABEL::FILE (uses and updates `passed`, `run_failed` and `run` of the loop below).
node_file() {
    local dir=$1 label=$2 file=$3 rc=0 name
    (cd "$dir" && node --test --test-reporter=tap "$file") >"$WORK/out" 2>&1 </dev/null || rc=$?
    passed=$((passed + $(awk '/^# pass /{ p = $3 } END { print p + 0 }' "$WORK/out")))
    if [ $rc -ne 0 ]; then
        name="$label::$(basename "$file")"
        run_failed+=("$name")
        echo "$name" >>"$WORK/failures"
        cp "$WORK/out" "$WORK/failed-run$run-$label-$(basename "$file").log"
    fi
}

: >"$WORK/failures"
failed_runs=0
for run in $(seq "$N"); do
    t0=$SECONDS
    run_failed=()
    passed=0
    while IFS=$'\t' read -r bin dir; do
        log="$WORK/out"
        rc=0
        (cd "$dir" && CARGO_MANIFEST_DIR="$dir" "$bin") >"$log" 2>&1 </dev/null || rc=$?
        passed=$((passed + $(awk '/^test result: /{ for (i = 1; i <= NF; i++) if ($(i) ~ /^passed;?$/) s += $(i - 1) } END { print s + 0 }' "$log")))
        if [ $rc -ne 0 ]; then
            name=$(basename "$bin" | sed 's/-[0-9a-f]*$//')
            mapfile -t names < <(sed -n 's/^test \(.*\) \.\.\. FAILED$/\1/p' "$log")
            [ ${#names[@]} -gt 0 ] || names=("(exit $rc, no failing test named)")
            for t in "${names[@]}"; do
                run_failed+=("$name::$t")
                echo "$name::$t" >>"$WORK/failures"
            done
            cp "$log" "$WORK/failed-run$run-$name.log"
        fi
    done <"$WORK/binaries"
    if [ -s "$WORK/wasm-tests" ]; then
        while read -r wasm; do
            rc=0
            (cd tests/browser && CHROMEDRIVER=/usr/bin/chromedriver \
                wasm-bindgen-test-runner "$wasm") >"$WORK/out" 2>&1 </dev/null || rc=$?
            passed=$((passed + $(awk '/^test result: /{ for (i = 1; i <= NF; i++) if ($(i) ~ /^passed;?$/) s += $(i - 1) } END { print s + 0 }' "$WORK/out")))
            if [ $rc -ne 0 ]; then
                name="browser::$(basename "$wasm" .wasm | sed 's/-[0-9a-f]*$//')"
                run_failed+=("$name")
                echo "$name" >>"$WORK/failures"
                cp "$WORK/out" "$WORK/failed-run$run-${name//:/_}.log"
            fi
        done <"$WORK/wasm-tests"
    fi
    for file in "${NODE_TESTS[@]}"; do node_file web-demo web-demo "$file"; done
    for file in "${NODE_PKG_TESTS[@]}"; do node_file drivers/node drivers-node "$file"; done
    if [ "${DOC:-}" = 1 ]; then
        rc=0
        cargo test --doc "${HOST_CRATES[@]}" >"$WORK/out" 2>&1 </dev/null || rc=$?
        passed=$((passed + $(awk '/^test result: /{ for (i = 1; i <= NF; i++) if ($(i) ~ /^passed;?$/) s += $(i - 1) } END { print s + 0 }' "$WORK/out")))
        if [ $rc -ne 0 ]; then
            run_failed+=("doc-tests")
            echo "doc-tests" >>"$WORK/failures"
            cp "$WORK/out" "$WORK/failed-run$run-doc-tests.log"
        fi
    fi
    if [ ${#run_failed[@]} -eq 0 ]; then
        printf 'run %2d: pass (%d tests, %ss)\n' "$run" "$passed" "$((SECONDS - t0))"
    else
        failed_runs=$((failed_runs + 1))
        printf 'run %2d: FAIL (%d passed, %ss): %s\n' "$run" "$passed" "$((SECONDS - t0))" "${run_failed[*]}"
    fi
done

echo "repeat: $N runs, $failed_runs failed"
if [ -s "$WORK/failures" ]; then
    sort "$WORK/failures" | uniq -c | sort -rn | sed 's/^/  /'
    # Keep the failing runs' output where it can be read.
    mkdir -p "$ROOT/target/repeat-tests"
    cp "$WORK"/failed-run*.log "$ROOT/target/repeat-tests/" 2>/dev/null || true
    echo "  output of the failing binaries: target/repeat-tests/"
    exit 1
fi
