//! The `wasi:messaging` composition: an app written only against `wasi:messaging@0.2.0-draft`
//! (examples/messaging-echo) composed with the messaging provider and the messaging runner by
//! `wasmqtt-host compose-messaging` (the `wac-graph` library), run by `wasmqtt-host run`
//! against a real mosquitto, with a native wasmqtt client on the other side.
//!
//! The components must be built first (scripts/build-components.sh).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::built_component as wasm;
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Message, Options};
use wasmqtt_testkit::mosquitto::Mosquitto;

mod common;

const WAIT: Duration = Duration::from_secs(20);

/// The echo app composed with the provider and the runner, through the binary: once per test
/// process, into `target/messaging-test/` (overwritten by the next run).
fn composed_echo() -> PathBuf {
    static COMPOSED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let (app, provider, runner) = (
        wasm("messaging_echo.wasm"),
        wasm("wasmqtt_messaging.wasm"),
        wasm("wasmqtt-messaging-runner.wasm"),
    );
    common::composed_once(
        &COMPOSED,
        "messaging-test",
        "echo",
        &[
            "compose-messaging".as_ref(),
            app.as_os_str(),
            "--provider".as_ref(),
            provider.as_os_str(),
            "--runner".as_ref(),
            runner.as_os_str(),
        ],
    )
}

/// `wasmqtt-host run` of the composition, its stderr lines sent to the returned channel.
fn spawn_run(broker: &Mosquitto, env: &[&str], args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let composed = composed_echo();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"));
    cmd.args(["run", "--broker", &format!("127.0.0.1:{}", broker.port())]);
    for e in env {
        cmd.args(["--env", e]);
    }
    let mut child = cmd
        .arg(&composed)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning wasmqtt-host run");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            eprintln!("[run] {line}");
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// Waits for a stderr line containing `what`; the lines before it.
fn wait_line(rx: &mpsc::Receiver<String>, what: &str) -> Vec<String> {
    let until = Instant::now() + WAIT;
    let mut seen = Vec::new();
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(what) => {
                seen.push(line);
                return seen;
            }
            Ok(line) => seen.push(line),
            Err(_) => panic!("no line with '{what}' within {WAIT:?}; stderr so far: {seen:#?}"),
        }
    }
}

fn wait_exit(child: &mut Child) -> i32 {
    common::wait_exit(child, WAIT, "wasmqtt-host run")
        .code()
        .unwrap_or(-1)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The next message on `topic` (other events skipped).
async fn next_on(
    events: &mut wasmqtt_tokio::Events,
    topic: &str,
) -> wasmqtt::session::ReceivedMessage {
    let until = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(until, events.recv()).await {
            Ok(Some(Event::Message(m))) if m.message.topic == topic => return m,
            Ok(Some(_)) => {}
            Ok(None) => panic!("the test client closed before a message on {topic}"),
            Err(_) => panic!("no message on {topic} within {WAIT:?}"),
        }
    }
}

#[test]
fn an_app_written_against_wasi_messaging_runs_composed_with_the_provider() {
    let broker = Mosquitto::start();
    let url = format!("WASMQTT_BROKER=mqtt://127.0.0.1:{}", broker.port());
    let (mut child, lines) = spawn_run(
        &broker,
        &[&url],
        &[
            "--qos",
            "2",
            "--max-messages",
            "6",
            "echo/in/#",
            "echo/req/#",
            "echo/ask/#",
            "echo/fail",
        ],
    );
    wait_line(&lines, "runner: subscribed to");
    rt().block_on(async {
        let opts = Options::new("messaging-test").version(ProtocolVersion::V5);
        let (client, mut events) = wasmqtt_tokio::Client::connect(&broker.addr().to_string(), opts)
            .await
            .unwrap();
        for (filter, qos) in [
            ("echo/out/#", QoS::ExactlyOnce),
            ("echo/answer/#", QoS::AtLeastOnce),
            ("echo/service", QoS::AtLeastOnce),
        ] {
            let codes = client
                .subscribe([filter], SubscriptionOptions::qos(qos))
                .await
                .unwrap();
            assert!(codes[0].0 < 0x80, "{filter}: {codes:?}");
        }

        // producer.send of a received message: data, content type and user properties kept,
        // its QoS (metadata mqtt-qos) too, one metadata entry added.
        let mut m = Message::new("echo/in/a", "hello").qos(QoS::AtLeastOnce);
        m.properties.content_type = Some("text/plain".into());
        m.properties.user_properties = vec![("k".into(), "v".into())];
        client.publish(m).await.unwrap().await.unwrap();
        let out = next_on(&mut events, "echo/out/a").await.message;
        assert_eq!(out.payload, b"hello");
        assert_eq!(out.qos, QoS::AtLeastOnce);
        assert_eq!(out.properties.content_type.as_deref(), Some("text/plain"));
        assert_eq!(
            out.properties.user_properties,
            [
                ("k".to_string(), "v".to_string()),
                ("echoed-by".to_string(), "messaging-echo".to_string())
            ],
            "mqtt-qos and mqtt-retain are MQTT's, not user properties"
        );
        let m = Message::new("echo/in/two", "exactly once").qos(QoS::ExactlyOnce);
        client.publish(m).await.unwrap().await.unwrap();
        let out = next_on(&mut events, "echo/out/two").await.message;
        assert_eq!(
            (out.payload.as_slice(), out.qos),
            (&b"exactly once"[..], QoS::ExactlyOnce)
        );

        // request-reply.reply: an MQTT 5 request answered on its response topic with its
        // correlation data (the native client's request matches it by that).
        let reply = client
            .request("echo/req/b", "shout", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(reply.payload, b"SHOUT");

        // An error from the handler: the runner reports it and goes on.
        let m = Message::new("echo/fail", "x").qos(QoS::AtLeastOnce);
        client.publish(m).await.unwrap().await.unwrap();

        // request-reply.request from the app: this client is the service.
        let m = Message::new("echo/ask/c", "question").qos(QoS::AtLeastOnce);
        client.publish(m).await.unwrap().await.unwrap();
        let q = next_on(&mut events, "echo/service").await;
        assert_eq!(q.message.payload, b"question");
        assert!(q.message.properties.response_topic.is_some());
        assert!(q.message.properties.correlation_data.is_some());
        client.respond(&q, "answer").unwrap().await.unwrap();
        let answer = next_on(&mut events, "echo/answer/c").await.message;
        assert_eq!(answer.payload, b"answer");

        let m = Message::new("echo/in/z", "last").qos(QoS::AtLeastOnce);
        client.publish(m).await.unwrap().await.unwrap();
        let out = next_on(&mut events, "echo/out/z").await.message;
        assert_eq!(out.payload, b"last");
        client.disconnect().await;
    });
    let rest = wait_line(&lines, "messages handled");
    assert!(
        rest.iter()
            .any(|l| l.contains("the handler failed for a message on 'echo/fail': asked to fail")),
        "{rest:#?}"
    );
    assert!(
        rest.last().unwrap().contains("6 messages handled"),
        "{rest:#?}"
    );
    assert_eq!(wait_exit(&mut child), 0);
}

#[test]
fn bad_configuration_is_a_clear_error_and_exit_status() {
    let broker = Mosquitto::start();
    // No broker for the client name: the provider's error reaches the runner's stderr.
    let (mut child, lines) = spawn_run(&broker, &[], &["echo/in/#"]);
    let seen = wait_line(&lines, "runner: connect:");
    assert!(
        seen.last()
            .unwrap()
            .contains("neither WASMQTT_BROKER_DEFAULT nor WASMQTT_BROKER is set"),
        "{seen:#?}"
    );
    assert_eq!(wait_exit(&mut child), 1);

    // An invalid filter: the session refuses it before anything is sent.
    let url = format!("WASMQTT_BROKER=mqtt://127.0.0.1:{}", broker.port());
    let (mut child, lines) = spawn_run(&broker, &[&url], &["a/#/b"]);
    let seen = wait_line(&lines, "runner: subscribe:");
    assert!(seen.last().unwrap().contains("a/#/b"), "{seen:#?}");
    assert_eq!(wait_exit(&mut child), 1);

    // A broker that is not there: a connection error.
    let free = wasmqtt_testkit::mosquitto::free_port();
    let url = format!("WASMQTT_BROKER=mqtt://127.0.0.1:{free}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"));
    let out = cmd
        .args([
            "run",
            "--broker",
            &format!("127.0.0.1:{free}"),
            "--env",
            &url,
        ])
        .arg(composed_echo())
        .arg("echo/#")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("runner: connect: connection:"), "{stderr}");

    // Bad arguments of the runner: exit status 2.
    let mut out = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"))
        .args(["run"])
        .arg(composed_echo())
        .args(["--qos", "7", "a"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut text = String::new();
    out.stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(out.wait().unwrap().code(), Some(2), "{text}");
    assert!(text.contains("--qos must be 0, 1 or 2"), "{text}");
}

#[test]
fn composing_needs_an_app_with_an_incoming_handler() {
    let provider = std::fs::read(wasm("wasmqtt_messaging.wasm")).unwrap();
    let runner = std::fs::read(wasm("wasmqtt-messaging-runner.wasm")).unwrap();
    // power-meter imports wasmqtt:mqtt/client and exports wasi:cli/run: no handler.
    let meter = std::fs::read(wasm("power-meter.wasm")).unwrap();
    let e = wasmqtt_host::compose::messaging(&meter, &provider, &runner).unwrap_err();
    assert!(
        format!("{e:#}").contains("exports no wasi:messaging/incoming-handler"),
        "{e:#}"
    );
    assert!(wasmqtt_host::compose::messaging(b"not wasm", &provider, &runner).is_err());
}
