//! The native driver over TLS and WebSocket against a real mosquitto (its TLS, mutual-TLS,
//! WebSocket and WebSocket-over-TLS listeners), certificates generated at test time:
//!
//! - round trips at QoS 0, 1 and 2, in MQTT 5.0 and 3.1.1, over `mqtts://`, mutual TLS,
//!   `ws://` and `wss://`;
//! - every TLS failure a user meets first comes back from `Client::connect` typed
//!   (`Error::Connection(DisconnectReason::Handshake { .. })` with its code), and promptly:
//!   well within the connect timeout, as the returned error says (not a `CONNECT_TIMEOUT`),
//!   with the time to the error asserted below half the timeout;
//! - a failed handshake fails over to the next broker of the list; a silent TLS listener ends
//!   the attempt at the connect timeout (the handshakes count in it);
//! - WebSocket: an upgrade to the plain MQTT port, and one refused by a scripted HTTP server
//!   (which also shows the builder's headers and the URL's path in the request), are
//!   `WEBSOCKET_UPGRADE`.
//!
//! Every wait is bounded (`native_support::WAIT`); nothing sleeps.

mod native_support;

use native_support::*;
use std::time::{Duration, Instant};
use wasmqtt::broker::Scheme;
use wasmqtt::codec::{ProtocolVersion, QoS};
use wasmqtt::session::{DisconnectReason, Event, HandshakeFailure, Options};
use wasmqtt_testkit::certs::TestCerts;
use wasmqtt_testkit::mosquitto::{Mosquitto, Options as BrokerOptions};
use wasmqtt_tokio::{Client, Error, Events, TlsOptions};

/// The connect timeout of the failure tests; the typed errors must come well before it.
const CONNECT_TIMEOUT_MS: u64 = 10_000;

/// A mosquitto with every listener: plain, TLS, mutual TLS, WebSocket, WebSocket over TLS.
fn broker(certs: &TestCerts) -> Mosquitto {
    Mosquitto::start_with(BrokerOptions {
        websockets: true,
        tls: Some(certs.server_files()),
        mtls: true,
        tls_websockets: true,
        ..BrokerOptions::default()
    })
}

/// TLS settings that trust the test CA.
fn trusting(certs: &TestCerts) -> TlsOptions {
    TlsOptions {
        ca_pem: Some(certs.ca.cert.clone().into_bytes()),
        ..TlsOptions::default()
    }
}

/// [`trusting`] with the client certificate, for mutual TLS.
fn with_client_cert(certs: &TestCerts) -> TlsOptions {
    TlsOptions {
        client_cert_pem: Some(certs.client.cert.clone().into_bytes()),
        client_key_pem: Some(certs.client.key.clone().into_bytes()),
        ..trusting(certs)
    }
}

/// Connects to `url` with `tls` and takes the first event, `Connected`.
async fn connect_url(url: &str, opts: Options, tls: TlsOptions) -> (Client, Events) {
    let id = opts.client_id.clone();
    let (client, mut events) = within(
        &format!("{id} to connect to {url}"),
        Client::builder(opts)
            .broker(url)
            .expect("broker URL")
            .tls(tls)
            .connect(),
    )
    .await
    .unwrap_or_else(|e| panic!("{id} could not connect to {url}: {e}"));
    match within(&format!("{id}'s first event"), events.recv()).await {
        Some(Event::Connected(info)) => {
            assert_eq!(
                info.broker.map(|b| b.scheme.as_str()),
                url.split("://").next(),
                "ConnectionInfo::broker names the broker"
            );
        }
        other => panic!("{id}: expected Connected first, got {other:?}"),
    }
    (client, events)
}

/// The transports of the round-trip tests.
#[derive(Debug, Clone, Copy)]
enum Transport {
    Mqtts,
    MutualTls,
    Ws,
    Wss,
}

impl Transport {
    fn url(self, broker: &Mosquitto) -> String {
        match self {
            Transport::Mqtts => format!("mqtts://127.0.0.1:{}", broker.tls_port()),
            Transport::MutualTls => format!("mqtts://127.0.0.1:{}", broker.mtls_port()),
            Transport::Ws => format!("ws://127.0.0.1:{}/mqtt", broker.ws_port()),
            Transport::Wss => format!("wss://127.0.0.1:{}/mqtt", broker.wss_port()),
        }
    }

    fn tls(self, certs: &TestCerts) -> TlsOptions {
        match self {
            Transport::MutualTls => with_client_cert(certs),
            _ => trusting(certs),
        }
    }
}

/// A subscriber and a publisher over `transport`: a round trip at every QoS, then a clean
/// disconnect (WebSocket close frame, TLS close_notify) that ends both drivers.
async fn round_trips(transport: Transport, version: ProtocolVersion) {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    let url = transport.url(&broker);
    let name = format!("{transport:?}").to_lowercase();
    let sub_id = client_id(&format!("{name}-sub"), version);
    let pub_id = client_id(&format!("{name}-pub"), version);
    let (subscriber, mut sub_events) =
        connect_url(&url, options(&sub_id, version), transport.tls(&certs)).await;
    let (publisher, _pub_events) =
        connect_url(&url, options(&pub_id, version), transport.tls(&certs)).await;
    let topic = format!("wasmqtt/{name}/{version:?}");
    subscribe(&subscriber, &topic, QoS::ExactlyOnce).await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        round_trip(&publisher, &mut sub_events, &topic, qos).await;
    }
    // A payload larger than one TLS record (16 KiB) and, over TLS, than one read. mosquitto
    // 2.0.11 sends WebSocket data 4 KiB per 100 ms main-loop turn, so less over WebSocket.
    let size = match transport {
        Transport::Mqtts | Transport::MutualTls => 200 * 1024,
        Transport::Ws | Transport::Wss => 20 * 1024,
    };
    let big = vec![0x5a_u8; size];
    publish_acked(
        &publisher,
        wasmqtt::session::Message::new(&topic, big.clone()).qos(QoS::AtLeastOnce),
    )
    .await;
    let m = next_message(&mut sub_events, "the large message").await;
    assert_eq!(m.message.payload, big);

    within("publisher disconnect", publisher.disconnect()).await;
    within("subscriber disconnect", subscriber.disconnect()).await;
    assert!(publisher.is_closed() && subscriber.is_closed());
    // The broker saw DISCONNECT from both (then the close frame / close_notify), not a lost
    // connection. mosquitto logs the clean disconnect once the socket is gone.
    let lines = |id: &str| -> Vec<String> {
        broker
            .log()
            .lines()
            .filter(|l| l.contains(id))
            .map(str::to_string)
            .collect()
    };
    for id in [&pub_id, &sub_id] {
        let ended = within("the broker to log the disconnect", async {
            loop {
                let l = lines(id);
                if l.iter()
                    .any(|l| l.contains("disconnected") || l.contains("closed"))
                {
                    return l;
                }
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(
            ended
                .iter()
                .any(|l| l.contains(&format!("Client {id} disconnected."))),
            "{id} disconnected cleanly: {ended:#?}"
        );
    }
}

macro_rules! round_trip_tests {
    ($($name:ident: $transport:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn v311() {
                    round_trips($transport, ProtocolVersion::V311).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn v5() {
                    round_trips($transport, ProtocolVersion::V5).await;
                }
            }
        )*
    };
}

round_trip_tests!(
    mqtts_round_trips: Transport::Mqtts,
    mutual_tls_round_trips: Transport::MutualTls,
    ws_round_trips: Transport::Ws,
    wss_round_trips: Transport::Wss,
);

/// Connects to `url` with `tls` and returns the typed handshake failure and how long the
/// connect took to fail; asserts it is one.
async fn failure(url: &str, tls: TlsOptions) -> (HandshakeFailure, Duration) {
    let version = ProtocolVersion::V5;
    let opts =
        options(&client_id("tls-fail", version), version).connect_timeout_ms(CONNECT_TIMEOUT_MS);
    let started = Instant::now();
    let outcome = within(
        &format!("the connection to {url} to fail"),
        Client::builder(opts)
            .broker(url)
            .expect("broker URL")
            .tls(tls)
            .connect(),
    )
    .await;
    let took = started.elapsed();
    let e = match outcome {
        Err(e) => e,
        Ok(_) => panic!("connected to {url}, which must fail"),
    };
    let failure = match &e {
        Error::Connection(DisconnectReason::Handshake { failure, detail }) => {
            assert!(!detail.is_empty(), "a detail for {e}");
            *failure
        }
        other => panic!("expected a typed handshake failure for {url}, got {other:?} ({other})"),
    };
    assert_eq!(e.code(), failure.code());
    // What an application prints for it (`Error`'s Display), for the closing notes and users.
    println!("{url}: {} -> {e}", e.code());
    assert!(
        took < Duration::from_millis(CONNECT_TIMEOUT_MS / 2),
        "{} came back after {took:?}, not well within the connect timeout of {CONNECT_TIMEOUT_MS} ms",
        failure.code()
    );
    (failure, took)
}

async fn expect_failure(url: &str, tls: TlsOptions, expected: &str) {
    let (failure, took) = failure(url, tls).await;
    assert_eq!(failure.code(), expected, "connecting to {url}");
    println!("{expected}: {url} failed after {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_ca_is_tls_unknown_issuer() {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    let other_ca = TlsOptions {
        ca_pem: Some(certs.other_ca.cert.clone().into_bytes()),
        ..TlsOptions::default()
    };
    expect_failure(
        &Transport::Mqtts.url(&broker),
        other_ca.clone(),
        "TLS_UNKNOWN_ISSUER",
    )
    .await;
    expect_failure(&Transport::Wss.url(&broker), other_ca, "TLS_UNKNOWN_ISSUER").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_server_name_is_tls_name_mismatch() {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    let wrong_name = TlsOptions {
        server_name: Some("wrong.example".into()),
        ..trusting(&certs)
    };
    expect_failure(
        &Transport::Mqtts.url(&broker),
        wrong_name,
        "TLS_NAME_MISMATCH",
    )
    .await;
    // The same certificate is valid for `localhost`: the name decides, not the chain.
    let (client, _events) = connect_url(
        &format!("mqtts://localhost:{}", broker.tls_port()),
        options(
            &client_id("tls-localhost", ProtocolVersion::V5),
            ProtocolVersion::V5,
        ),
        trusting(&certs),
    )
    .await;
    within("disconnect", client.disconnect()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_certificate_is_tls_certificate_expired() {
    let certs = TestCerts::generate();
    let broker = Mosquitto::start_with(BrokerOptions {
        tls: Some(certs.expired_server_files()),
        ..BrokerOptions::default()
    });
    expect_failure(
        &format!("mqtts://127.0.0.1:{}", broker.tls_port()),
        trusting(&certs),
        "TLS_CERTIFICATE_EXPIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_without_a_client_certificate_is_tls_client_certificate_required() {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    expect_failure(
        &Transport::MutualTls.url(&broker),
        trusting(&certs),
        "TLS_CLIENT_CERTIFICATE_REQUIRED",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_to_the_plain_port_is_tls_not_tls() {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    expect_failure(
        &format!("mqtts://127.0.0.1:{}", broker.port()),
        trusting(&certs),
        "TLS_NOT_TLS",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_handshake_fails_over_to_the_next_broker() {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    // The plain port first (TLS_NOT_TLS), then the TLS port: the session moves on at once.
    let plain = format!("mqtts://127.0.0.1:{}", broker.port());
    let tls = Transport::Mqtts.url(&broker);
    let version = ProtocolVersion::V5;
    let (client, mut events) = within(
        "the connection through the list",
        Client::builder(options(&client_id("tls-failover", version), version))
            .brokers([&plain, &tls])
            .expect("broker URLs")
            .tls(trusting(&certs))
            .connect(),
    )
    .await
    .expect("connects to the second broker");
    let mut reasons = Vec::new();
    let info = within("Connected", async {
        loop {
            match events.recv().await {
                Some(Event::Connected(info)) => return info,
                Some(Event::Disconnected { reason, .. }) => reasons.push(reason.code()),
                Some(_) => {}
                None => panic!("the events ended"),
            }
        }
    })
    .await;
    assert_eq!(reasons, ["TLS_NOT_TLS"]);
    let accepted = info.broker.expect("the accepting broker");
    assert_eq!(
        (accepted.scheme, accepted.port),
        (Scheme::Mqtts, broker.tls_port())
    );
    within("disconnect", client.disconnect()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_to_the_plain_port_is_websocket_upgrade() {
    let certs = TestCerts::generate();
    let broker = broker(&certs);
    expect_failure(
        &format!("ws://127.0.0.1:{}/mqtt", broker.port()),
        TlsOptions::default(),
        "WEBSOCKET_UPGRADE",
    )
    .await;
}

/// A scripted HTTP server (hostile input: it refuses the upgrade) that reports the request
/// it got: the headers given to the builder are in it, and the refusal is typed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_headers_are_sent_and_a_refused_upgrade_is_typed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = socket.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before its request ended");
            request.extend_from_slice(&buf[..n]);
        }
        socket
            .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8(request).unwrap()
    });
    let version = ProtocolVersion::V5;
    let outcome = within(
        "the refused upgrade",
        Client::builder(options(&client_id("ws-headers", version), version))
            .broker(&format!("ws://127.0.0.1:{port}/custom/path"))
            .unwrap()
            .websocket_headers([("Authorization", "Bearer t0ken")])
            .connect(),
    )
    .await;
    match outcome {
        Err(e) => assert_eq!(e.code(), "WEBSOCKET_UPGRADE", "{e}"),
        Ok(_) => panic!("connected through a refused upgrade"),
    }
    let request = within("the server's report", server).await.unwrap();
    let lower = request.to_ascii_lowercase();
    assert!(
        request.starts_with("GET /custom/path HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("\r\nauthorization: bearer t0ken\r\n"),
        "{request}"
    );
    assert!(
        lower.contains("\r\nsec-websocket-protocol: mqtt\r\n"),
        "{request}"
    );
}

/// The handshakes count in the session's connect timeout: a listener that accepts TCP and
/// never answers the ClientHello ends the attempt with `CONNECT_TIMEOUT`, at that timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_tls_listener_ends_at_the_connect_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accepts and holds the socket open, reading nothing.
    let server = tokio::spawn(async move { listener.accept().await.map(|(s, _)| s) });
    let certs = TestCerts::generate();
    let version = ProtocolVersion::V5;
    let timeout_ms = 500;
    let started = Instant::now();
    let outcome = within(
        "the connect timeout",
        Client::builder(
            options(&client_id("tls-silent", version), version).connect_timeout_ms(timeout_ms),
        )
        .broker(&format!("mqtts://127.0.0.1:{port}"))
        .unwrap()
        .tls(trusting(&certs))
        .connect(),
    )
    .await;
    let took = started.elapsed();
    match outcome {
        Err(Error::Connection(DisconnectReason::ConnectTimeout)) => {}
        Err(e) => panic!("expected CONNECT_TIMEOUT, got {e:?}"),
        Ok(_) => panic!("connected to a silent listener"),
    }
    assert!(
        took >= Duration::from_millis(timeout_ms),
        "the timeout came early: {took:?}"
    );
    drop(server);
}
