#!/usr/bin/env bash
# Runs the wasmqtt-cli command component under the stock wasmtime CLI (not our host runner)
# against a mosquitto started here on a loopback port: sub + pub (MQTT 5, QoS 1), a host-name
# lookup, and a run without network access that must fail cleanly. Not part of the test
# command (installing wasmtime-cli costs ~10 minutes of CI); run it by hand:
#   cargo install wasmtime-cli --version 48.0.8 --locked && ./scripts/check-stock-wasmtime.sh
set -euo pipefail
cd "$(dirname "$0")/.."
W=${WASMTIME:-wasmtime}
C=target/wasm32-wasip2/wasm/wasmqtt-cli.wasm
[ -f "$C" ] || ./scripts/build-components.sh
work=$(mktemp -d)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser root\n' "$port" >"$work/m.conf"
mosquitto -c "$work/m.conf" >"$work/m.log" 2>&1 &
broker=$!
trap 'kill $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
"$W" --version
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
if "$W" run "$C" pub -h 127.0.0.1 -p "$port" -t stock/b -m x 2>"$work/err"; then
  echo "expected a failure without network access" >&2
  exit 1
fi
echo "without network: $(cat "$work/err")"
echo "stock wasmtime: OK"
