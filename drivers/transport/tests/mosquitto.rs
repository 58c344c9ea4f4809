//! wasmqtt-transport against a real mosquitto: mqtts, mutual TLS, ws and wss round trips with
//! the real core session (MQTT 5.0 and 3.1.1), and every typed handshake failure.
//!
//! A small blocking pump drives everything: std `TcpStream` (read timeouts only as a safety
//! net, never as synchronisation) ⇄ [`Stream`] ⇄ [`Session`].

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use wasmqtt::broker::{Broker, Scheme};
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{
    DisconnectReason, Event, HandshakeFailure, Message, Options, Output, Session,
};
use wasmqtt_testkit::certs::TestCerts;
use wasmqtt_testkit::mosquitto::{Mosquitto, Options as BrokerOptions};
use wasmqtt_transport::{
    ConfigError, Connector, Stream, TlsOptions, TlsVersion, TransportError, TransportOptions,
};

/// Safety net only: a test that waits this long has failed.
const SAFETY_TIMEOUT: Duration = Duration::from_secs(10);

const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V5, ProtocolVersion::V311];

fn tls_broker(certs: &TestCerts) -> Mosquitto {
    Mosquitto::start_with(BrokerOptions {
        websockets: true,
        tls: Some(certs.server_files()),
        mtls: true,
        tls_websockets: true,
        ..BrokerOptions::default()
    })
}

fn trusting(certs: &TestCerts) -> TransportOptions {
    TransportOptions {
        tls: TlsOptions {
            ca_pem: Some(certs.ca.cert.clone().into_bytes()),
            ..TlsOptions::default()
        },
        ..TransportOptions::default()
    }
}

fn with_client_cert(certs: &TestCerts) -> TransportOptions {
    let mut o = trusting(certs);
    o.tls.client_cert_pem = Some(certs.client.cert.clone().into_bytes());
    o.tls.client_key_pem = Some(certs.client.key.clone().into_bytes());
    o
}

/// The socket, the transport stream and a real session, pumped in one thread.
struct Pump {
    socket: TcpStream,
    stream: Stream,
    session: Session,
    start: Instant,
    events: Vec<Event>,
    eof: bool,
}

impl Pump {
    fn connect(connector: &Connector, broker: &Broker, opts: Options) -> Pump {
        let socket = TcpStream::connect((broker.host.as_str(), broker.port)).expect("TCP connect");
        socket.set_read_timeout(Some(SAFETY_TIMEOUT)).unwrap();
        socket.set_write_timeout(Some(SAFETY_TIMEOUT)).unwrap();
        socket.set_nodelay(true).unwrap();
        let stream = connector.start(broker).expect("start");
        let mut pump = Pump {
            socket,
            stream,
            session: Session::new(opts),
            start: Instant::now(),
            events: Vec::new(),
            eof: false,
        };
        let now = pump.now();
        pump.session.connect(now);
        pump
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// Runs the session's outputs into the stream and the stream's output to the socket.
    fn flush(&mut self) -> Result<(), TransportError> {
        loop {
            match self.session.poll_output() {
                Output::OpenTransport => {
                    let now = self.now();
                    self.session.handle_connected(now);
                }
                Output::Transmit(bytes) => self.stream.send_mqtt(&bytes)?,
                Output::CloseTransport => self.stream.close(),
                Output::Event(e) => self.events.push(e),
                Output::Wait(_) => break,
            }
        }
        let mut out = Vec::new();
        self.stream.take_network(&mut out);
        if !out.is_empty() {
            // The broker may already have hung up (a refused handshake): not this test's error.
            let _ = self.socket.write_all(&out);
        }
        Ok(())
    }

    /// Pumps until `done(events)` holds, the connection ends, or a transport error.
    fn run_until(&mut self, done: impl Fn(&[Event]) -> bool) -> Result<(), TransportError> {
        let deadline = Instant::now() + SAFETY_TIMEOUT;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            if let Err(e) = self.flush() {
                return self.failed(e);
            }
            if done(&self.events) || self.eof {
                return Ok(());
            }
            assert!(
                Instant::now() < deadline,
                "safety timeout; events: {:?}",
                self.events
            );
            let n = match self.socket.read(&mut buf) {
                Ok(n) => n,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    panic!("read timed out (safety net); events: {:?}", self.events)
                }
                Err(e) if e.kind() == ErrorKind::ConnectionReset => 0,
                Err(e) => panic!("read: {e}"),
            };
            let now = self.now();
            if n == 0 {
                self.eof = true;
                match self.stream.receive_eof() {
                    Ok(()) => self.session.handle_disconnected(now),
                    Err(e) => return self.failed(e),
                }
                continue;
            }
            let received = self.stream.receive(&buf[..n]);
            let mut mqtt = Vec::new();
            self.stream.read_mqtt(&mut mqtt);
            if !mqtt.is_empty() {
                self.session.handle_bytes(&mqtt, now);
            }
            if let Err(e) = received {
                return self.failed(e);
            }
        }
    }

    fn failed(&mut self, e: TransportError) -> Result<(), TransportError> {
        let now = self.now();
        if let Some(f) = e.failure() {
            self.session.handle_handshake_failed(now, f, e.to_string());
        } else {
            self.session.handle_disconnected_with(now, e.to_string());
        }
        let _ = self.flush();
        Err(e)
    }

    fn connected(&self) -> bool {
        self.events.iter().any(|e| matches!(e, Event::Connected(_)))
    }
}

fn broker(scheme: Scheme, port: u16) -> Broker {
    Broker::new(scheme, "127.0.0.1", port)
}

/// CONNECT/CONNACK, SUBSCRIBE/SUBACK, then a QoS 1 PUBLISH of `payload_len` bytes that comes
/// back through the subscription, and its PUBACK; then a clean close.
fn round_trip(
    connector: &Connector,
    broker: &Broker,
    version: ProtocolVersion,
    payload_len: usize,
) {
    let id = format!("rt-{}-{}-{version:?}", broker.scheme.as_str(), broker.port);
    let mut pump = Pump::connect(connector, broker, Options::new(id.clone()).version(version));
    pump.run_until(|ev| ev.iter().any(|e| matches!(e, Event::Connected(_))))
        .unwrap_or_else(|e| panic!("{id}: connect failed: {e}"));
    assert!(pump.connected(), "{id}: not connected: {:?}", pump.events);
    assert!(pump.stream.is_established());

    let topic = format!("transport/{id}");
    let now = pump.now();
    pump.session
        .subscribe(
            vec![(topic.clone(), SubscriptionOptions::qos(QoS::AtLeastOnce))],
            None,
            now,
        )
        .expect("subscribe");
    pump.run_until(|ev| ev.iter().any(|e| matches!(e, Event::Subscribed { .. })))
        .expect("subscribe round trip");

    let payload: Vec<u8> = (0..payload_len).map(|i| (i % 251) as u8).collect();
    let now = pump.now();
    let pid = pump
        .session
        .publish(
            Message::new(topic.clone(), payload.clone()).qos(QoS::AtLeastOnce),
            now,
        )
        .expect("publish");
    pump.run_until(|ev| {
        ev.iter()
            .any(|e| matches!(e, Event::PublishComplete { id, .. } if *id == pid))
            && ev.iter().any(|e| matches!(e, Event::Message(_)))
    })
    .expect("publish round trip");
    let acked = pump.events.iter().find_map(|e| match e {
        Event::PublishComplete { id, result } if *id == pid => Some(result.clone()),
        _ => None,
    });
    assert!(matches!(acked, Some(Ok(_))), "{id}: PUBACK: {acked:?}");
    let echoed = pump.events.iter().find_map(|e| match e {
        Event::Message(m) => Some(m.message.clone()),
        _ => None,
    });
    let echoed = echoed.expect("message back");
    assert_eq!(echoed.topic, topic);
    assert_eq!(echoed.payload, payload, "{id}: payload changed on the way");

    // A clean end: DISCONNECT, then the WebSocket close / close_notify; the broker hangs up.
    let now = pump.now();
    pump.session.disconnect(now);
    pump.run_until(|_| false).expect("clean close");
    assert!(pump.eof);
}

#[test]
fn mqtts_mtls_ws_wss_round_trips_in_v5_and_v311() {
    let certs = TestCerts::generate();
    let mosquitto = tls_broker(&certs);
    let plain = Connector::new(&trusting(&certs)).unwrap();
    let mtls = Connector::new(&with_client_cert(&certs)).unwrap();
    for version in VERSIONS {
        round_trip(
            &plain,
            &broker(Scheme::Mqtts, mosquitto.tls_port()),
            version,
            100,
        );
        round_trip(
            &mtls,
            &broker(Scheme::Mqtts, mosquitto.mtls_port()),
            version,
            100,
        );
        round_trip(
            &plain,
            &broker(Scheme::Ws, mosquitto.ws_port()),
            version,
            100,
        );
        round_trip(
            &plain,
            &broker(Scheme::Wss, mosquitto.wss_port()),
            version,
            100,
        );
        // Plain TCP through the same code: a pass-through.
        round_trip(
            &plain,
            &broker(Scheme::Mqtt, mosquitto.port()),
            version,
            100,
        );
    }
}

#[test]
fn large_messages_span_records_and_frames() {
    let certs = TestCerts::generate();
    let mosquitto = tls_broker(&certs);
    let c = Connector::new(&trusting(&certs)).unwrap();
    // TLS records hold at most 16 KiB. mosquitto 2.0 sends WebSocket data in 4 KiB frames,
    // one every 100 ms (its libwebsockets service interval): 20 kB is 5 frames.
    for (b, len) in [
        (broker(Scheme::Mqtts, mosquitto.tls_port()), 200_000),
        (broker(Scheme::Ws, mosquitto.ws_port()), 20_000),
        (broker(Scheme::Wss, mosquitto.wss_port()), 20_000),
    ] {
        round_trip(&c, &b, ProtocolVersion::V5, len);
    }
}

#[test]
fn tls_versions_and_host_names() {
    let certs = TestCerts::generate();
    let mosquitto = tls_broker(&certs);
    for (min, max) in [
        (TlsVersion::Tls12, TlsVersion::Tls12),
        (TlsVersion::Tls13, TlsVersion::Tls13),
    ] {
        let mut o = with_client_cert(&certs);
        o.tls.min_version = Some(min);
        o.tls.max_version = Some(max);
        let c = Connector::new(&o).unwrap();
        round_trip(
            &c,
            &broker(Scheme::Mqtts, mosquitto.tls_port()),
            ProtocolVersion::V5,
            10,
        );
        round_trip(
            &c,
            &broker(Scheme::Mqtts, mosquitto.mtls_port()),
            ProtocolVersion::V311,
            10,
        );
    }
    // The DNS SAN: `localhost` as the host name, and as a server-name override.
    let c = Connector::new(&trusting(&certs)).unwrap();
    round_trip(
        &c,
        &Broker::new(Scheme::Mqtts, "localhost", mosquitto.tls_port()),
        ProtocolVersion::V5,
        10,
    );
    let mut o = trusting(&certs);
    o.tls.server_name = Some("localhost".into());
    let c = Connector::new(&o).unwrap();
    round_trip(
        &c,
        &broker(Scheme::Wss, mosquitto.wss_port()),
        ProtocolVersion::V5,
        10,
    );
    // `--insecure`: a wrong name is forgiven, but only with a trusted chain.
    let mut o = trusting(&certs);
    o.tls.server_name = Some("wrong.example".into());
    o.tls.dangerous_skip_hostname_verification = true;
    let c = Connector::new(&o).unwrap();
    round_trip(
        &c,
        &broker(Scheme::Mqtts, mosquitto.tls_port()),
        ProtocolVersion::V5,
        10,
    );
    let mut o = untrusting_other_ca(&certs);
    o.tls.dangerous_skip_hostname_verification = true;
    assert_eq!(
        fail(&o, &broker(Scheme::Mqtts, mosquitto.tls_port())),
        HandshakeFailure::UnknownIssuer
    );
    // Accept anything: even the unrelated CA's trust works.
    let mut o = untrusting_other_ca(&certs);
    o.tls.dangerous_accept_any_certificate = true;
    let c = Connector::new(&o).unwrap();
    round_trip(
        &c,
        &broker(Scheme::Mqtts, mosquitto.tls_port()),
        ProtocolVersion::V5,
        10,
    );
}

fn untrusting_other_ca(certs: &TestCerts) -> TransportOptions {
    TransportOptions {
        tls: TlsOptions {
            ca_pem: Some(certs.other_ca.cert.clone().into_bytes()),
            ..TlsOptions::default()
        },
        ..TransportOptions::default()
    }
}

/// Connects with `options` to `broker`, expecting a handshake failure; checks that the session
/// reports the same one, and that it came promptly (well before the safety timeout).
fn fail(options: &TransportOptions, broker: &Broker) -> HandshakeFailure {
    let connector = Connector::new(options).expect("connector");
    let started = Instant::now();
    let mut pump = Pump::connect(&connector, broker, Options::new("fail-client"));
    let result = pump.run_until(|_| false);
    let elapsed = started.elapsed();
    assert!(
        elapsed < SAFETY_TIMEOUT / 2,
        "the failure took {elapsed:?}: it should be prompt"
    );
    let err = result.expect_err("the handshake should fail");
    let failure = err
        .failure()
        .unwrap_or_else(|| panic!("not a handshake failure: {err:?}"));
    assert!(!pump.connected(), "connected despite {err}");
    let reason = pump.events.iter().find_map(|e| match e {
        Event::Disconnected { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    match reason {
        Some(DisconnectReason::Handshake { failure: f, detail }) => {
            assert_eq!(f, failure);
            assert!(!detail.is_empty());
        }
        other => panic!("session reason {other:?} for {err}"),
    }
    failure
}

#[test]
fn typed_handshake_failures() {
    let certs = TestCerts::generate();
    let mosquitto = tls_broker(&certs);
    let tls = broker(Scheme::Mqtts, mosquitto.tls_port());

    assert_eq!(
        fail(&untrusting_other_ca(&certs), &tls),
        HandshakeFailure::UnknownIssuer
    );
    assert_eq!(
        fail(
            &untrusting_other_ca(&certs),
            &broker(Scheme::Wss, mosquitto.wss_port())
        ),
        HandshakeFailure::UnknownIssuer
    );

    let mut wrong_name = trusting(&certs);
    wrong_name.tls.server_name = Some("wrong.example".into());
    assert_eq!(fail(&wrong_name, &tls), HandshakeFailure::NameMismatch);
    // A DNS name the certificate does not hold.
    let other_host = Broker::new(Scheme::Mqtts, "127.0.0.1", mosquitto.tls_port());
    let mut o = trusting(&certs);
    o.tls.server_name = Some("127.0.0.2".into());
    assert_eq!(fail(&o, &other_host), HandshakeFailure::NameMismatch);

    for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let mut o = trusting(&certs);
        o.tls.max_version = Some(version);
        o.tls.min_version = Some(version);
        assert_eq!(
            fail(&o, &broker(Scheme::Mqtts, mosquitto.mtls_port())),
            HandshakeFailure::ClientCertificateRequired,
            "{version:?}"
        );
    }
    // A client certificate from a CA the broker does not trust.
    let mut o = trusting(&certs);
    o.tls.client_cert_pem = Some(certs.other_ca.cert.clone().into_bytes());
    o.tls.client_key_pem = Some(certs.other_ca.key.clone().into_bytes());
    assert_eq!(
        fail(&o, &broker(Scheme::Mqtts, mosquitto.mtls_port())),
        HandshakeFailure::ClientCertificateRequired
    );

    // TLS to the plain MQTT port, and to the plain WebSocket port (an HTTP answer).
    assert_eq!(
        fail(&trusting(&certs), &broker(Scheme::Mqtts, mosquitto.port())),
        HandshakeFailure::NotTls
    );
    assert_eq!(
        fail(&trusting(&certs), &broker(Scheme::Wss, mosquitto.ws_port())),
        HandshakeFailure::NotTls
    );

    // WebSocket to the plain MQTT port, and to the TLS port.
    assert_eq!(
        fail(&trusting(&certs), &broker(Scheme::Ws, mosquitto.port())),
        HandshakeFailure::WebSocketUpgrade
    );
    assert_eq!(
        fail(&trusting(&certs), &broker(Scheme::Ws, mosquitto.tls_port())),
        HandshakeFailure::WebSocketUpgrade
    );
}

#[test]
fn an_expired_server_certificate_is_reported_as_such() {
    let certs = TestCerts::generate();
    let mosquitto = Mosquitto::start_with(BrokerOptions {
        tls: Some(certs.expired_server_files()),
        tls_websockets: true,
        ..BrokerOptions::default()
    });
    let o = trusting(&certs);
    assert_eq!(
        fail(&o, &broker(Scheme::Mqtts, mosquitto.tls_port())),
        HandshakeFailure::CertificateExpired
    );
    assert_eq!(
        fail(&o, &broker(Scheme::Wss, mosquitto.wss_port())),
        HandshakeFailure::CertificateExpired
    );
}

#[test]
fn bad_configurations_are_typed_errors() {
    let certs = TestCerts::generate();
    let tls = |f: &dyn Fn(&mut TlsOptions)| {
        let mut o = trusting(&certs);
        f(&mut o.tls);
        Connector::new(&o).map(|_| ())
    };
    let broken = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    assert!(matches!(
        tls(&|t| t.ca_pem = Some(broken.to_vec())),
        Err(ConfigError::Pem { .. })
    ));
    assert!(matches!(
        tls(&|t| t.ca_pem = Some(b"no PEM here".to_vec())),
        Err(ConfigError::Empty { .. })
    ));
    assert!(matches!(
        tls(&|t| t.ca_pem = Some(certs.ca.key.clone().into_bytes())),
        Err(ConfigError::Empty { .. })
    ));
    // A key that belongs to another certificate.
    let mismatch = tls(&|t| {
        t.client_cert_pem = Some(certs.client.cert.clone().into_bytes());
        t.client_key_pem = Some(certs.server.key.clone().into_bytes());
    });
    assert!(
        matches!(mismatch, Err(ConfigError::ClientCertificate(_))),
        "{mismatch:?}"
    );
    assert!(matches!(
        tls(&|t| t.client_cert_pem = Some(certs.client.cert.clone().into_bytes())),
        Err(ConfigError::ClientCertificate(_))
    ));
    assert!(matches!(
        tls(&|t| {
            t.client_cert_pem = Some(certs.client.cert.clone().into_bytes());
            t.client_key_pem = Some(b"garbage".to_vec());
        }),
        Err(ConfigError::Empty { .. })
    ));
    assert!(matches!(
        tls(&|t| t.alpn = vec![String::new()]),
        Err(ConfigError::Alpn(_))
    ));
    assert!(matches!(
        tls(&|t| t.alpn = vec!["x".repeat(256)]),
        Err(ConfigError::Alpn(_))
    ));
    assert!(matches!(
        tls(&|t| {
            t.min_version = Some(TlsVersion::Tls13);
            t.max_version = Some(TlsVersion::Tls12);
        }),
        Err(ConfigError::TlsVersions)
    ));
    let mut o = TransportOptions::default();
    o.websocket.headers = vec![("bad header".into(), "x".into())];
    assert!(matches!(Connector::new(&o), Err(ConfigError::Header(_))));
    let mut o = TransportOptions::default();
    o.websocket.headers = vec![("X-Token".into(), "line\nbreak".into())];
    assert!(matches!(Connector::new(&o), Err(ConfigError::Header(_))));

    // Nothing to trust: fine for plain brokers, an error for TLS ones.
    let c = Connector::new(&TransportOptions::default()).unwrap();
    assert!(c.start(&broker(Scheme::Mqtt, 1883)).is_ok());
    assert!(c.start(&broker(Scheme::Ws, 80)).is_ok());
    assert_eq!(
        c.start(&broker(Scheme::Mqtts, 8883)).err(),
        Some(ConfigError::NoRootCertificates)
    );
    assert_eq!(
        c.start(&broker(Scheme::Wss, 443)).err(),
        Some(ConfigError::NoRootCertificates)
    );
    let mut o = trusting(&certs);
    o.tls.server_name = Some("not a host name".into());
    let c = Connector::new(&o).unwrap();
    assert!(matches!(
        c.start(&broker(Scheme::Mqtts, 8883)),
        Err(ConfigError::ServerName(_))
    ));
}

#[test]
fn extra_headers_and_the_path_reach_the_broker() {
    // mosquitto ignores extra headers: this checks that they do not break the upgrade.
    let certs = TestCerts::generate();
    let mosquitto = tls_broker(&certs);
    let mut o = trusting(&certs);
    o.websocket.headers = vec![("Authorization".into(), "Bearer test-token".into())];
    let c = Connector::new(&o).unwrap();
    let mut b = broker(Scheme::Wss, mosquitto.wss_port());
    b.path = "/mqtt?token=abc".into();
    round_trip(&c, &b, ProtocolVersion::V311, 10);
}
