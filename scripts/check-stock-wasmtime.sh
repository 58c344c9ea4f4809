#!/usr/bin/env bash
# Runs the wasmqtt-cli command component under the stock wasmtime CLI (not our host runner)
# against a mosquitto started here on a loopback port: sub + pub (MQTT 5, QoS 1), a host-name
# lookup, a run without network access that must fail cleanly with exit 7, and a 3.1.1 refusal
# (a second mosquitto without anonymous access) that must exit 5 with the 3.1.1 name of return
# code 5 — the exit codes travel through `wasi:cli/exit.exit-with-code` (WASI 0.2.12), which
# the stock CLI links by default from wasmtime 48 on. Not part of the test command (installing
# wasmtime-cli costs ~10 minutes of CI); run it by hand:
#   cargo install wasmtime-cli --version 48.0.8 --locked && ./scripts/check-stock-wasmtime.sh
# (WASMTIME=/path/to/wasmtime for another binary.)
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WASMTIME:-wasmtime}
if ! command -v "$W" >/dev/null 2>&1; then
  echo "no wasmtime CLI ('$W' is not on PATH): install it with" >&2
  echo "  cargo install wasmtime-cli --version 48.0.8 --locked" >&2
  echo "or point WASMTIME at one" >&2
  exit 2
fi
version=$("$W" --version)
echo "$version"
case "$version" in
  "wasmtime 48."* | "wasmtime-cli 48."*) ;;
  *) echo "warning: checked with wasmtime 48; this is $version" >&2 ;;
esac
C=target/wasm32-wasip2/wasm/wasmqtt-cli.wasm
[ -f "$C" ] || ./scripts/build-components.sh
work=$(mktemp -d)
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}
port=$(free_port)
closed=$(free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser root\n' "$port" >"$work/m.conf"
printf 'listener %s 127.0.0.1\nallow_anonymous false\nuser root\n' "$closed" >"$work/closed.conf"
mosquitto -c "$work/m.conf" >"$work/m.log" 2>&1 &
broker=$!
mosquitto -c "$work/closed.conf" >"$work/closed.log" 2>&1 &
closed_broker=$!
trap 'kill $broker $closed_broker 2>/dev/null; rm -rf "$work"' EXIT
for p in "$port" "$closed"; do
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && break; sleep 0.1; done
done
timeout 30 "$W" run -S inherit-network "$C" sub -h 127.0.0.1 -p "$port" -t stock/# -v -C 1 -W 25 -V 5 -q 1 -c -i stock-sub >"$work/sub.out" &
sub=$!
# The subscriber's session is persistent (-c, fixed id): publish until it has the message.
for i in $(seq 50); do
  "$W" run -S inherit-network "$C" pub -h 127.0.0.1 -p "$port" -t stock/a -m "hello $i" -q 1 -V 5
  kill -0 $sub 2>/dev/null || break
  sleep 0.2
done
wait $sub
grep -q '^stock/a hello' "$work/sub.out"
echo "sub received: $(cat "$work/sub.out")"
"$W" run -S inherit-network -S allow-ip-name-lookup "$C" pub -h localhost -p "$port" -t stock/b -m x -q 2
echo "pub by host name: ok"
status=0
"$W" run "$C" pub -h 127.0.0.1 -p "$port" -t stock/b -m x 2>"$work/err" || status=$?
if [ "$status" -ne 7 ] || ! grep -q 'CONNECTION_LOST' "$work/err"; then
  echo "expected exit 7 (CONNECTION_LOST) without network access, got $status: $(cat "$work/err")" >&2
  exit 1
fi
echo "without network: exit $status: $(cat "$work/err")"
status=0
"$W" run -S inherit-network "$C" pub -h 127.0.0.1 -p "$closed" -t stock/c -m x -V 311 2>"$work/err" || status=$?
if [ "$status" -ne 5 ] || ! grep -q 'connection refused: 0x05 (Connection refused: not authorized)' "$work/err"; then
  echo "expected exit 5 and the 3.1.1 name of return code 5, got $status: $(cat "$work/err")" >&2
  exit 1
fi
echo "3.1.1 refusal: exit $status: $(cat "$work/err")"
echo "stock wasmtime: OK"
