# Shared by scripts/test.sh and scripts/repeat-tests.sh (sourced, not run).

# The crates that build and run on the host (wasmqtt-host is linted and tested in its own step,
# in release).
HOST_CRATES=(-p wasmqtt -p wasmqtt-tokio -p wasmqtt-store -p wasmqtt-transport -p wasmqtt-testkit -p wasmqtt-cli
    -p wasmqtt-messaging-runner)

# The dashboard's node:test files (web-demo/test/*.test.mjs), relative to web-demo/.
node_test_files() {
    (cd "$ROOT/web-demo" && ls test/*.test.mjs)
}

# start_ws_broker DIR: starts mosquitto with a WebSocket listener on a free loopback port, its
# config and log in DIR; sets BROKER_WS_URL and BROKER_PID. The caller kills it.
start_ws_broker() {
    local dir=$1 program port mqtt_port
    program=$(command -v mosquitto || ls /usr/sbin/mosquitto /usr/local/sbin/mosquitto 2>/dev/null | head -n1)
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    mqtt_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
    mkdir -p "$dir"
    # mosquitto 2.0 will not start with only a WebSocket listener: a plain one goes beside it.
    # `user root`: as root it would otherwise drop to `mosquitto`, who cannot write in $dir.
    printf 'user root\nlistener %s 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\nlistener %s 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest file %s\n' \
        "$port" "$mqtt_port" "$dir/mosquitto.log" >"$dir/mosquitto.conf"
    "$program" -c "$dir/mosquitto.conf" &
    BROKER_PID=$!
    local i
    for i in $(seq 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            BROKER_WS_URL="ws://127.0.0.1:$port/"
            return 0
        fi
        sleep 0.1
    done
    echo "mosquitto did not open its WebSocket listener on $port:" >&2
    cat "$dir/mosquitto.log" >&2 || true
    return 1
}
