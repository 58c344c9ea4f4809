//! The WASI 0.3 world (`wasmqtt:mqtt@0.2.0`, wit/v0.2): the example app (examples/p3-roundtrip,
//! async `connect` / `publish` / `subscribe` returning a `stream<message>`) composed with the
//! WASI 0.3 provider (components/provider-p3, wasi:sockets@0.3) by `wasmqtt-host compose`, run
//! by `wasmqtt-host run --p3` (wasmtime's component-model async) against a real mosquitto, with
//! a native wasmqtt client subscribed beside it to see what reached the broker.
//!
//! The components must be built first (scripts/build-components.sh).

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::built_component as wasm;
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Options};
use wasmqtt_testkit::mosquitto::Mosquitto;

mod common;

const WAIT: Duration = Duration::from_secs(30);

/// The app composed with the WASI 0.3 provider, through the binary: once per test process, into
/// `target/p3-test/` (overwritten by the next run).
fn composed() -> PathBuf {
    static COMPOSED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let (app, provider) = (wasm("p3_roundtrip.wasm"), wasm("wasmqtt_provider_p3.wasm"));
    common::composed_once(
        &COMPOSED,
        "p3-test",
        "roundtrip",
        &[
            "compose".as_ref(),
            app.as_os_str(),
            "--plug".as_ref(),
            provider.as_os_str(),
        ],
    )
}

/// `wasmqtt-host run --p3 --broker ALLOWED COMPOSED ARGS...` to its end (killed after
/// [`WAIT`]).
fn run_p3(allowed: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"))
        .args(["run", "--p3", "--broker", allowed])
        .arg(composed())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning wasmqtt-host run --p3");
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).ok();
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).ok();
        v
    });
    let status = common::wait_exit(&mut child, WAIT, "wasmqtt-host run --p3");
    Output {
        status,
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs the round trip of `count` messages at `version` and returns what a native subscriber
/// to `topic/#` received meanwhile (topic, payload, QoS).
fn round_trip(broker: &Mosquitto, topic: &str, count: u32, version: &str) -> Vec<(String, QoS)> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (client, mut events) = rt.block_on(async {
        let opts = Options::new(format!("p3-watch-{version}")).version(ProtocolVersion::V5);
        let (client, events) = wasmqtt_tokio::Client::connect(&broker.addr().to_string(), opts)
            .await
            .unwrap();
        let codes = client
            .subscribe(
                [format!("{topic}/#").as_str()],
                SubscriptionOptions::qos(QoS::ExactlyOnce),
            )
            .await
            .unwrap();
        assert!(codes[0].0 < 0x80, "{codes:?}");
        (client, events)
    });
    let url = format!("mqtt://127.0.0.1:{}", broker.port());
    let out = run_p3(
        &format!("127.0.0.1:{}", broker.port()),
        &[&url, topic, &count.to_string(), version],
    );
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "run --p3 ({version}) failed: {}\nstdout: {stdout}\nstderr: {}",
        out.status,
        text(&out.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "p3 roundtrip ok: {count} published, {count} received"
        )),
        "stdout: {stdout}"
    );
    // Every message the app published reached the broker, with its QoS.
    rt.block_on(async {
        let mut seen = Vec::new();
        while seen.len() < count as usize {
            match tokio::time::timeout(WAIT, events.recv()).await {
                Ok(Some(Event::Message(m))) => {
                    seen.push((m.message.topic.clone(), m.message.qos));
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("the watcher saw {} of {count}", seen.len()),
            }
        }
        client.disconnect().await;
        seen
    })
}

#[test]
fn a_wasi_0_3_app_publishes_and_reads_its_stream_at_every_qos_over_mqtt_5() {
    let broker = Mosquitto::start();
    let seen = round_trip(&broker, "p3/v5", 60, "5");
    for n in 0..60u32 {
        let qos = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce][(n % 3) as usize];
        assert!(
            seen.contains(&(format!("p3/v5/{n}"), qos)),
            "p3/v5/{n} at {qos:?} missing from {seen:?}"
        );
    }
}

#[test]
fn a_wasi_0_3_app_round_trips_over_mqtt_3_1_1() {
    let broker = Mosquitto::start();
    let seen = round_trip(&broker, "p3/v311", 30, "311");
    assert_eq!(seen.len(), 30);
}

#[test]
fn a_broker_outside_the_allowed_address_is_refused_by_the_host_and_connect_fails() {
    let broker = Mosquitto::start();
    // A port nothing listens on, and not the one the host allows.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let url = format!("mqtt://127.0.0.1:{port}");
    let out = run_p3(
        &format!("127.0.0.1:{}", broker.port()),
        &[&url, "p3/denied", "3"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}");
    // The host's network policy refuses it: only the --broker address is open.
    assert!(stdout.contains("AccessDenied"), "stdout: {stdout}");
    assert!(
        stdout.contains("p3 roundtrip failed: connect: Error::Network("),
        "stdout: {stdout}\nstderr: {}",
        text(&out.stderr)
    );
}

#[test]
fn a_malformed_broker_url_is_a_typed_connect_error() {
    let broker = Mosquitto::start();
    let out = run_p3(
        &format!("127.0.0.1:{}", broker.port()),
        &["ftp://nowhere", "p3/bad", "1"],
    );
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {stdout}");
    assert!(
        stdout.contains("p3 roundtrip failed: connect: Error::InvalidArgument(")
            && stdout.contains("unsupported broker URL scheme `ftp`"),
        "{stdout}"
    );
}
