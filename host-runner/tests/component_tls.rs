//! TLS, WebSocket and failover through the real components in wasmtime, against real
//! mosquitto listeners (mqtts, mTLS, ws, wss) with certificates generated at test time:
//! round trips at QoS 0, 1 and 2 in MQTT 5.0 and 3.1.1, every typed handshake failure (the
//! WIT error's `handshake-failure.code`, promptly, no trap), failover to the second broker
//! (`connection-info.broker`), the plain provider build's `unsupported` error, and the
//! command component's `-L mqtts:// --cafile` and its one-line error.
//!
//! Both provider builds and the command component must be built first (the tests fail
//! otherwise, naming the path):
//!
//! ```text
//! CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider -p wasmqtt-cli --no-default-features
//! mkdir -p target/wasm32-wasip2/wasm/plain && cp target/wasm32-wasip2/wasm/wasmqtt_provider.wasm target/wasm32-wasip2/wasm/plain/
//! CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider -p wasmqtt-cli
//! cargo test -p wasmqtt-host --test component_tls
//! ```

mod common;
use common::{plain_provider, provider};

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use wasmqtt::session::HandshakeFailure;
use wasmqtt_host::types::{self, Delivery, Error as WitError, Event, ProtocolVersion, Qos};
use wasmqtt_host::{Artifact, Client, ClientError, NetworkPolicy, Provider};
use wasmqtt_testkit::certs::TestCerts;
use wasmqtt_testkit::mosquitto::{Mosquitto, Options};

/// How long a typed failure may take: a handshake on loopback takes milliseconds.
const PROMPT: Duration = Duration::from_secs(3);
/// How long a round trip may take.
const LIMIT: Duration = Duration::from_secs(10);

/// One mosquitto with every listener: plain, ws, mqtts, mTLS and wss.
fn all_listeners(certs: &TestCerts) -> Mosquitto {
    Mosquitto::start_with(Options {
        websockets: true,
        tls: Some(certs.server_files()),
        mtls: true,
        tls_websockets: true,
        ..Options::default()
    })
}

fn trusting(ca: &str) -> types::TlsOptions {
    types::tls_with_ca(ca)
}

fn with_client_cert(certs: &TestCerts) -> types::TlsOptions {
    let mut t = trusting(&certs.ca.cert);
    t.client_certificate_pem = Some(certs.client.cert.clone());
    t.client_key_pem = Some(certs.client.key.clone());
    t
}

fn url_options(
    urls: &[String],
    id: &str,
    protocol: ProtocolVersion,
    tls: Option<types::TlsOptions>,
) -> types::ConnectOptions {
    let mut o = types::connect_options("", 0, id, protocol);
    o.brokers = urls.to_vec();
    o.tls = tls;
    o.connect_timeout_ms = Some(5_000);
    o
}

fn connect(
    provider: &Provider,
    urls: &[String],
    options: &types::ConnectOptions,
) -> Result<Client, ClientError> {
    let policy = NetworkPolicy::broker_urls(urls).unwrap();
    Client::connect(provider, &policy, options)
}

/// The WIT error of a failed connect; a trap or host error fails the test.
fn wit_error(r: Result<Client, ClientError>) -> WitError {
    match r {
        Err(ClientError::Mqtt(e)) => e,
        Err(ClientError::Host(e)) => panic!("trapped or failed in the host: {e:#}"),
        Ok(_) => panic!("connected, but a failure was expected"),
    }
}

fn name(p: ProtocolVersion) -> &'static str {
    match p {
        ProtocolVersion::V311 => "311",
        ProtocolVersion::V5 => "5",
    }
}

/// Subscribes at QoS 2, publishes one message at each QoS and waits for the three messages
/// (each at its QoS) and the three completions.
fn round_trip(client: &mut Client, topic: &str) {
    let sub = client
        .subscribe(&[types::subscription(topic, Qos::ExactlyOnce)], None)
        .unwrap();
    let until = Instant::now() + LIMIT;
    loop {
        assert!(Instant::now() < until, "no SUBACK on {topic}");
        match client.poll_event(Duration::from_millis(200)).unwrap() {
            Some(Event::Subscribed((id, codes))) if id == sub => {
                assert_eq!(codes, [2], "{topic}");
                break;
            }
            _ => continue,
        }
    }
    let mut ids = BTreeSet::new();
    for (i, qos) in [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce]
        .into_iter()
        .enumerate()
    {
        let payload = format!("m{i}");
        ids.insert(
            client
                .publish(&types::message(topic, payload.as_bytes(), qos, false))
                .unwrap(),
        );
    }
    let mut got = BTreeSet::new();
    while got.len() < 3 || !ids.is_empty() {
        assert!(
            Instant::now() < until,
            "{topic}: got {got:?}, pending completions {ids:?}"
        );
        match client.poll_event(Duration::from_millis(200)).unwrap() {
            Some(Event::Message(m)) => {
                assert_eq!(m.topic, topic);
                let i = usize::from(m.payload[1] - b'0');
                assert_eq!(m.qos.level() as usize, i, "message {i} at its own QoS");
                got.insert(i);
            }
            Some(Event::PublishComplete((id, d))) => {
                assert!(matches!(d, Delivery::Acknowledged(0)), "{d:?}");
                assert!(ids.remove(&id), "completion of an unknown id {id}");
            }
            Some(Event::Disconnected(d)) => panic!("{topic}: disconnected: {d:?}"),
            _ => {}
        }
    }
    client.disconnect().unwrap();
}

#[test]
fn mqtts_mtls_ws_wss_round_trips_in_v5_and_v311() {
    let certs = TestCerts::generate();
    let broker = all_listeners(&certs);
    let cases = [
        (
            "mqtts",
            format!("mqtts://127.0.0.1:{}", broker.tls_port()),
            Some(trusting(&certs.ca.cert)),
        ),
        (
            "mtls",
            format!("mqtts://127.0.0.1:{}", broker.mtls_port()),
            Some(with_client_cert(&certs)),
        ),
        ("ws", format!("ws://127.0.0.1:{}", broker.ws_port()), None),
        (
            "wss",
            format!("wss://127.0.0.1:{}/mqtt", broker.wss_port()),
            Some(trusting(&certs.ca.cert)),
        ),
    ];
    for (what, url, tls) in cases {
        for protocol in [ProtocolVersion::V5, ProtocolVersion::V311] {
            let id = format!("tls-rt-{what}-{}", name(protocol));
            let urls = [url.clone()];
            let mut c = connect(
                provider(),
                &urls,
                &url_options(&urls, &id, protocol, tls.clone()),
            )
            .unwrap_or_else(|e| panic!("{what} v{}: {e}", name(protocol)));
            // The URL as the core writes it (the WebSocket path included).
            let written = wasmqtt::broker::Broker::parse(&url).unwrap().to_string();
            let info = c.connection_info().unwrap();
            assert_eq!(info.broker.as_deref(), Some(written.as_str()), "{what}");
            round_trip(&mut c, &format!("tls/{what}/{}", name(protocol)));
        }
    }
}

/// Connects expecting a handshake failure: its code, promptly, as a WIT error.
fn handshake_failure(
    urls: &[String],
    tls: Option<types::TlsOptions>,
    want: HandshakeFailure,
    what: &str,
) {
    let _ = provider(); // compiled before the timed window
    let started = Instant::now();
    let e = wit_error(connect(
        provider(),
        urls,
        &url_options(urls, what, ProtocolVersion::V5, tls),
    ));
    let took = started.elapsed();
    eprintln!("handshake failure {what}: {} in {took:?}", want.code());
    match &e {
        WitError::Handshake(h) => {
            assert_eq!(h.code, want.code(), "{what}: {h:?}");
            assert!(!h.detail.is_empty(), "{what}: {h:?}");
        }
        e => panic!("{what}: expected {}, got {e:?}", want.code()),
    }
    assert_eq!(wasmqtt_host::error_code(&e), want.code(), "{what}");
    assert!(took < PROMPT, "{what}: took {took:?}");
}

#[test]
fn every_handshake_failure_is_typed_and_prompt() {
    let certs = TestCerts::generate();
    let broker = all_listeners(&certs);
    let mqtts = vec![format!("mqtts://127.0.0.1:{}", broker.tls_port())];
    handshake_failure(
        &mqtts,
        Some(trusting(&certs.other_ca.cert)),
        HandshakeFailure::UnknownIssuer,
        "wrong-ca",
    );
    let mut other_name = trusting(&certs.ca.cert);
    other_name.server_name = Some("broker.example".into());
    handshake_failure(
        &mqtts,
        Some(other_name),
        HandshakeFailure::NameMismatch,
        "wrong-host-name",
    );
    handshake_failure(
        &[format!("mqtts://127.0.0.1:{}", broker.mtls_port())],
        Some(trusting(&certs.ca.cert)),
        HandshakeFailure::ClientCertificateRequired,
        "mtls-without-client-cert",
    );
    handshake_failure(
        &[format!("mqtts://127.0.0.1:{}", broker.port())],
        Some(trusting(&certs.ca.cert)),
        HandshakeFailure::NotTls,
        "tls-on-the-plain-port",
    );
    handshake_failure(
        &[format!("wss://127.0.0.1:{}", broker.wss_port())],
        Some(trusting(&certs.other_ca.cert)),
        HandshakeFailure::UnknownIssuer,
        "wss-wrong-ca",
    );
    let expired = Mosquitto::start_with(Options {
        tls: Some(certs.expired_server_files()),
        ..Options::default()
    });
    handshake_failure(
        &[format!("mqtts://127.0.0.1:{}", expired.tls_port())],
        Some(trusting(&certs.ca.cert)),
        HandshakeFailure::CertificateExpired,
        "expired",
    );
}

#[test]
fn a_tls_broker_without_a_ca_is_refused_before_connecting() {
    let none = NetworkPolicy::deny_all();
    let urls = ["mqtts://127.0.0.1:8883".to_string()];
    let e = wit_error(Client::connect(
        provider(),
        &none,
        &url_options(&urls, "no-ca", ProtocolVersion::V5, None),
    ));
    assert!(
        matches!(&e, WitError::InvalidArgument(t) if t.contains("no CA certificates")),
        "{e:?}"
    );
    assert!(none.denials().is_empty(), "{:?}", none.denials());
}

#[test]
fn failover_past_a_dead_port_to_the_tls_broker() {
    let certs = TestCerts::generate();
    let broker = Mosquitto::start_with(Options {
        tls: Some(certs.server_files()),
        ..Options::default()
    });
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_port = dead.local_addr().unwrap().port();
    drop(dead);
    for (scheme, live, tls) in [
        ("mqtts", broker.tls_port(), Some(trusting(&certs.ca.cert))),
        ("mqtt", broker.port(), None),
    ] {
        let urls = [
            format!("{scheme}://127.0.0.1:{dead_port}"),
            format!("{scheme}://127.0.0.1:{live}"),
        ];
        let id = format!("failover-{scheme}");
        let mut c = connect(
            provider(),
            &urls,
            &url_options(&urls, &id, ProtocolVersion::V5, tls),
        )
        .unwrap_or_else(|e| panic!("{scheme}: {e}"));
        let info = c.connection_info().unwrap();
        assert_eq!(info.broker.as_deref(), Some(urls[1].as_str()), "{scheme}");
        round_trip(&mut c, &format!("tls/failover/{scheme}"));
    }
}

#[test]
fn the_plain_build_refuses_tls_and_websocket_and_speaks_mqtt() {
    let none = NetworkPolicy::deny_all();
    for (url, feature) in [
        ("mqtts://127.0.0.1:8883", "tls"),
        ("wss://127.0.0.1:443", "tls"),
        ("ws://127.0.0.1:80", "websocket"),
    ] {
        let urls = [url.to_string()];
        let e = wit_error(Client::connect(
            plain_provider(),
            &none,
            &url_options(&urls, "plain", ProtocolVersion::V5, None),
        ));
        match &e {
            WitError::Unsupported(text) => {
                assert!(text.contains(url) && text.contains(feature), "{text}")
            }
            e => panic!("{url}: {e:?}"),
        }
        assert_eq!(wasmqtt_host::error_code(&e), "UNSUPPORTED");
    }
    // TLS options are refused too, even for a plain broker (none could use them), and no
    // file they name is read.
    let urls = ["mqtt://127.0.0.1:1883".to_string()];
    let tls = types::TlsOptions {
        ca_pem: None,
        ca_file: Some("/no/such/ca.pem".into()),
        ..types::tls_with_ca("")
    };
    let e = wit_error(Client::connect(
        plain_provider(),
        &none,
        &url_options(&urls, "plain-tls", ProtocolVersion::V5, Some(tls)),
    ));
    match &e {
        WitError::Unsupported(text) => assert!(text.contains("tls options"), "{text}"),
        e => panic!("tls options: {e:?}"),
    }
    assert!(none.denials().is_empty(), "{:?}", none.denials());
    let broker = Mosquitto::start();
    let urls = [format!("mqtt://127.0.0.1:{}", broker.port())];
    let mut c = connect(
        plain_provider(),
        &urls,
        &url_options(&urls, "plain-rt", ProtocolVersion::V311, None),
    )
    .unwrap();
    round_trip(&mut c, "tls/plain-build");
}

// ---------------------------------------------------------------------------------------------
// The command component: `wasmqtt-host pub|sub -L mqtts://… --cafile …`

fn run_host(args: &[&str]) -> (Output, Duration) {
    let cli = Artifact::Cli.require().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"))
        .arg("--cli-wasm")
        .arg(cli)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running wasmqtt-host");
    let took = started.elapsed();
    eprintln!(
        "wasmqtt-host {}: {} in {took:?}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, took)
}

#[test]
fn cli_pub_and_sub_over_mqtts_with_cafile_and_a_failure_in_one_line() {
    let certs = TestCerts::generate();
    let broker = Mosquitto::start_with(Options {
        tls: Some(certs.server_files()),
        ..Options::default()
    });
    let ca = certs.path("ca.crt");
    let ca = ca.to_str().unwrap();
    let url = format!("mqtts://127.0.0.1:{}/cli/tls/a", broker.tls_port());
    // A retained message, then a subscriber that gets it: no timing involved.
    let (out, _) = run_host(&[
        "pub", "-L", &url, "--cafile", ca, "-q", "1", "-r", "-m", "over TLS",
    ]);
    assert!(out.status.success(), "pub over mqtts failed");
    let (out, _) = run_host(&[
        "sub", "-L", &url, "--cafile", ca, "-v", "-C", "1", "-W", "20",
    ]);
    assert!(out.status.success(), "sub over mqtts failed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "cli/tls/a over TLS"
    );
    // Failover in the command: a dead port first.
    let dead = TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!(
        "mqtts://127.0.0.1:{}/cli/tls/a",
        dead.local_addr().unwrap().port()
    );
    drop(dead);
    let (out, _) = run_host(&[
        "sub", "-L", &dead_url, "-L", &url, "--cafile", ca, "-C", "1", "-W", "20",
    ]);
    assert!(out.status.success(), "sub with failover failed");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "over TLS");

    // The wrong CA: one line with the core's code, exit code 8, at once.
    let other = certs.path("other-ca.crt");
    let (out, took) = run_host(&[
        "pub",
        "-L",
        &url,
        "--cafile",
        other.to_str().unwrap(),
        "-m",
        "x",
    ]);
    // mosquitto's MOSQ_ERR_TLS (docs/CLI.md).
    assert_eq!(out.status.code(), Some(8));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: TLS_UNKNOWN_ISSUER: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
}

#[test]
fn cli_an_unresolvable_backup_broker_is_a_warning() {
    let broker = Mosquitto::start();
    let url = format!("mqtt://127.0.0.1:{}/cli/backup", broker.port());
    let (out, _) = run_host(&[
        "pub",
        "-L",
        &url,
        "-L",
        "mqtt://no-such-host.invalid/cli/backup",
        "-m",
        "x",
    ]);
    assert!(
        out.status.success(),
        "pub with an unresolvable backup failed"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: mqtt://no-such-host.invalid:1883 is left out"),
        "{stderr}"
    );
    let (out, _) = run_host(&["pub", "-L", "mqtt://no-such-host.invalid/t", "-m", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no broker resolves"),
        "{:?}",
        out.stderr
    );
}

#[test]
fn demo_tls_round_trip_with_a_certificate_made_on_the_spot() {
    let (out, _) = run_host(&["demo", "--no-build", "--tls", "--count", "1"]);
    assert!(out.status.success(), "demo --tls failed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("connection-info.broker: mqtts://127.0.0.1:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("demo ok: 6 messages published, 6 received, 6 acknowledged"),
        "{stdout}"
    );
}
