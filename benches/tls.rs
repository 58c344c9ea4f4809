//! TLS benchmark: the native driver (`wasmqtt_tokio`, TLS through `wasmqtt-transport`) against
//! rumqttc (TLS through tokio-rustls) over the same mosquitto TLS listener, in the same run.
//!
//! The binary generates test certificates (wasmqtt-testkit's `TestCerts`), starts its own
//! mosquitto with a TLS listener on a free loopback port, and measures, for each library, a
//! publisher and a subscriber of that same library on one topic, both over TLS:
//!
//! - `qos0`: publish throughput at QoS 0, [`DEFAULT_MESSAGES`] messages of [`PAYLOAD`] B. The
//!   time runs from the first publish until the subscriber received the last message (or, if
//!   some were dropped, its last one: it stops waiting after [`QUIET`] without a message).
//! - `qos1`: publish throughput at QoS 1 with an inflight window of [`INFLIGHT`], the
//!   subscriber at QoS 1. The time runs until every message was acknowledged to the publisher
//!   and received by the subscriber.
//!
//! Both libraries use the same rustls 0.23 with the ring provider and the same trust anchor
//! (the test CA): wasmqtt through `TlsOptions::ca_pem`, rumqttc through a ring-based
//! `rustls::ClientConfig` passed as `TlsConfiguration::Rustls` (rumqttc's
//! `use-rustls-no-provider` feature). Both offer TLS 1.2 and 1.3. The rest
//! is `benches/e2e.rs`'s treatment: one multi-threaded tokio runtime with 2 workers, MQTT
//! 3.1.1 (`TLS_VERSION=5` for MQTT 5.0, rumqttc's `v5` API), clean sessions, room for every
//! message before the publisher waits, the libraries alternating which goes first in each
//! round. The table gives the median over the rounds, the spread (min–max), and the ratio
//! wasmqtt/rumqttc (above 1: wasmqtt is faster).
//!
//! Run: `cargo bench --bench tls`. Environment: `TLS_ROUNDS` (default 5), `TLS_MESSAGES`
//! (default 50000), `TLS_VERSION` (3 or 5, default 3), `TLS_ONLY` (`qos0` or `qos1`).

mod support;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{env_usize, Lib};
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Options, ReconnectPolicy};
use wasmqtt_testkit::certs::TestCerts;
use wasmqtt_testkit::mosquitto::{Mosquitto, Options as BrokerOptions};
use wasmqtt_tokio::{Client, Events, TlsOptions};

/// Payload size of every message.
const PAYLOAD: usize = 100;
/// Messages per run unless `TLS_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: usize = 50_000;
/// Outbound QoS 1 messages in flight, for both libraries.
const INFLIGHT: u16 = 100;
/// How long the subscriber waits for one more message before it counts the rest as dropped.
const QUIET: Duration = Duration::from_secs(3);
/// Longest any one run may take before the benchmark gives up.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Keep-alive for both libraries.
const KEEP_ALIVE_S: u16 = 60;

/// What one throughput run measured.
#[derive(Debug, Clone, Copy)]
struct Throughput {
    elapsed: Duration,
    received: usize,
}

impl Throughput {
    fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }
}

/// Where and how to connect.
struct Setup {
    port: u16,
    version: ProtocolVersion,
    messages: usize,
    /// The test CA, PEM.
    ca_pem: Vec<u8>,
}

fn unique(what: &str) -> String {
    support::unique("tls", what)
}

fn payload() -> Vec<u8> {
    support::payload(PAYLOAD)
}

/// Counts what `$next` (an expression awaiting the next event: `true` for a message) yields
/// until `$n` messages arrived or none came for [`QUIET`]; the count and when the last came.
macro_rules! count {
    ($n:expr, $start:expr, $next:expr) => {{
        let mut received = 0usize;
        let mut last = $start;
        while received < $n {
            match tokio::time::timeout(QUIET, $next).await {
                Ok(true) => {
                    received += 1;
                    last = Instant::now();
                }
                Ok(false) => {}
                Err(_) => break,
            }
        }
        (received, last)
    }};
}

// ------------------------------------------------------------------------------------ wasmqtt

mod ours {
    use super::*;

    fn options(setup: &Setup, id: &str) -> Options {
        Options::new(id)
            .version(setup.version)
            .keep_alive(KEEP_ALIVE_S)
            .max_inflight(INFLIGHT)
            .max_queued_messages(setup.messages.max(1))
            .max_queued_bytes(setup.messages.max(1) * (PAYLOAD + 256))
            .max_pending_write_bytes(setup.messages.max(1) * (PAYLOAD + 256))
            .reconnect(ReconnectPolicy {
                enabled: false,
                ..ReconnectPolicy::default()
            })
    }

    async fn connect(setup: &Setup, id: &str) -> (Client, Events) {
        let (client, mut events) = Client::builder(options(setup, id))
            .broker(&format!("mqtts://127.0.0.1:{}", setup.port))
            .expect("broker URL")
            .tls(TlsOptions {
                ca_pem: Some(setup.ca_pem.clone()),
                ..TlsOptions::default()
            })
            .connect()
            .await
            .unwrap_or_else(|e| panic!("wasmqtt {id}: {e}"));
        match events.recv().await {
            Some(Event::Connected(_)) => {}
            other => panic!("wasmqtt {id}: expected Connected, got {other:?}"),
        }
        (client, events)
    }

    pub async fn throughput(setup: &Setup, qos: QoS) -> Throughput {
        let n = setup.messages;
        let topic = unique("wasmqtt-topic");
        let (sub, mut sub_events) = connect(setup, &unique("wasmqtt-sub")).await;
        sub.subscribe([topic.as_str()], SubscriptionOptions::qos(qos))
            .await
            .expect("wasmqtt subscribe");
        let (publisher, _pub_events) = connect(setup, &unique("wasmqtt-pub")).await;
        let body = payload();

        let start = Instant::now();
        let receiver = tokio::spawn(async move {
            let counted = count!(n, start, async {
                match sub_events.recv().await {
                    Some(Event::Message(_)) => true,
                    Some(Event::Disconnected { reason, .. }) => {
                        panic!("wasmqtt subscriber disconnected: {reason}")
                    }
                    Some(_) => false,
                    None => panic!("wasmqtt subscriber's driver ended"),
                }
            });
            (counted, sub_events)
        });
        support::publish_all(&publisher, &topic, &body, qos, n).await;
        let acked_at = Instant::now();
        let ((received, last), _events) = receiver.await.expect("wasmqtt receiver");
        let end = if received == n {
            last.max(acked_at)
        } else {
            last
        };
        publisher.disconnect().await;
        sub.disconnect().await;
        Throughput {
            elapsed: end - start,
            received,
        }
    }
}

// ------------------------------------------------------------------------------------ rumqttc

/// The rumqttc side, for one of its two APIs (`rumqttc` for 3.1.1, `rumqttc::v5` for 5.0):
/// `$options` makes `MqttOptions` from (id, port) with the inflight window set.
macro_rules! rumqttc_side {
    ($name:ident, $($api:ident)::+, $packet:path, $qos:path, $options:expr) => {
        mod $name {
            use super::*;
            use $($api)::+::{AsyncClient, Event as REvent, EventLoop, MqttOptions};
            use rumqttc::{Outgoing, TlsConfiguration, Transport};
            use $packet as Packet;
            use $qos as RQoS;

            fn rqos(q: QoS) -> RQoS {
                match q {
                    QoS::AtMostOnce => RQoS::AtMostOnce,
                    QoS::AtLeastOnce => RQoS::AtLeastOnce,
                    QoS::ExactlyOnce => RQoS::ExactlyOnce,
                }
            }

            async fn connect(
                setup: &Setup,
                tls: &Arc<rustls::ClientConfig>,
                id: &str,
                cap: usize,
            ) -> (AsyncClient, EventLoop) {
                let make: fn(&str, u16) -> MqttOptions = $options;
                let mut o = make(id, setup.port);
                o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(
                    Arc::clone(tls),
                )));
                let (client, mut eventloop) = AsyncClient::new(o, cap);
                loop {
                    match eventloop.poll().await {
                        Ok(REvent::Incoming(Packet::ConnAck(_))) => break,
                        Ok(_) => {}
                        Err(e) => panic!("rumqttc {id}: {e}"),
                    }
                }
                (client, eventloop)
            }

            pub async fn throughput(
                setup: &Setup,
                tls: &Arc<rustls::ClientConfig>,
                qos: QoS,
            ) -> Throughput {
                let n = setup.messages;
                let topic = unique("rumqttc-topic");
                let (sub, mut sub_loop) = connect(setup, tls, &unique("rumqttc-sub"), 10).await;
                sub.subscribe(topic.as_str(), rqos(qos))
                    .await
                    .expect("rumqttc subscribe");
                loop {
                    match sub_loop.poll().await {
                        Ok(REvent::Incoming(Packet::SubAck(_))) => break,
                        Ok(_) => {}
                        Err(e) => panic!("rumqttc subscriber: {e}"),
                    }
                }
                let (publisher, mut pub_loop) =
                    connect(setup, tls, &unique("rumqttc-pub"), n.max(1)).await;
                let body = payload();

                let start = Instant::now();
                let receiver = tokio::spawn(async move {
                    let counted = count!(n, start, async {
                        match sub_loop.poll().await {
                            Ok(REvent::Incoming(Packet::Publish(_))) => true,
                            Ok(_) => false,
                            Err(e) => panic!("rumqttc subscriber: {e}"),
                        }
                    });
                    (counted, sub_loop)
                });
                // The publisher's event loop: at QoS 1 it ends when every PUBACK arrived; at
                // QoS 0 it keeps writing (it is aborted at the end).
                let at_least_once = qos != QoS::AtMostOnce;
                let mut driver = tokio::spawn(async move {
                    let mut acked = 0usize;
                    loop {
                        match pub_loop.poll().await {
                            Ok(REvent::Incoming(Packet::PubAck(_))) => {
                                acked += 1;
                                if at_least_once && acked == n {
                                    return Instant::now();
                                }
                            }
                            Ok(REvent::Outgoing(Outgoing::Publish(_))) | Ok(_) => {}
                            Err(e) => panic!("rumqttc publisher: {e}"),
                        }
                    }
                });
                for _ in 0..n {
                    publisher
                        .publish(topic.as_str(), rqos(qos), false, body.clone())
                        .await
                        .expect("rumqttc publish");
                }
                let acked_at = if at_least_once {
                    (&mut driver).await.expect("rumqttc publisher")
                } else {
                    start
                };
                let ((received, last), sub_loop) = receiver.await.expect("rumqttc receiver");
                let end = if received == n {
                    last.max(acked_at)
                } else {
                    last
                };
                driver.abort();
                drop((publisher, sub, sub_loop));
                Throughput {
                    elapsed: end - start,
                    received,
                }
            }
        }
    };
}

rumqttc_side!(
    theirs_v4,
    rumqttc,
    rumqttc::Packet,
    rumqttc::QoS,
    |id, port| {
        let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(u64::from(KEEP_ALIVE_S)))
            .set_clean_session(true)
            .set_inflight(INFLIGHT);
        o
    }
);

rumqttc_side!(
    theirs_v5,
    rumqttc::v5,
    rumqttc::v5::mqttbytes::v5::Packet,
    rumqttc::v5::mqttbytes::QoS,
    |id, port| {
        let mut o = rumqttc::v5::MqttOptions::new(id, "127.0.0.1", port);
        o.set_keep_alive(Duration::from_secs(u64::from(KEEP_ALIVE_S)))
            .set_clean_start(true)
            .set_outgoing_inflight_upper_limit(INFLIGHT);
        o
    }
);

/// A ring-based rustls client configuration trusting the test CA: the same provider and
/// trust anchor wasmqtt-transport builds from `TlsOptions::ca_pem`.
fn rumqttc_tls_config(ca_pem: &[u8]) -> Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        roots.add(cert.expect("CA PEM")).expect("CA certificate");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

// ------------------------------------------------------------------------------------ main

/// (median, min, max) of `v`.
fn stats(mut v: Vec<f64>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let median = support::median(&mut v);
    (median, v[0], v[v.len() - 1])
}

fn main() {
    // `cargo bench` passes `--bench`; `--list` is asked by the test harness protocol.
    if std::env::args().skip(1).any(|a| a == "--list") {
        return;
    }
    let rounds = env_usize("TLS_ROUNDS", 5).max(1);
    let qoss: Vec<QoS> = match std::env::var("TLS_ONLY").as_deref() {
        Ok("qos0") => vec![QoS::AtMostOnce],
        Ok("qos1") => vec![QoS::AtLeastOnce],
        Ok(v) => panic!("TLS_ONLY={v}: use qos0 or qos1"),
        Err(_) => vec![QoS::AtMostOnce, QoS::AtLeastOnce],
    };
    let certs = TestCerts::generate();
    let broker = Mosquitto::start_with(BrokerOptions {
        tls: Some(certs.server_files()),
        ..BrokerOptions::default()
    });
    let version = match std::env::var("TLS_VERSION").as_deref() {
        Ok("5") | Ok("5.0") | Ok("v5") => ProtocolVersion::V5,
        Ok("3") | Ok("4") | Ok("3.1.1") | Ok("v311") | Err(_) => ProtocolVersion::V311,
        Ok(v) => panic!("TLS_VERSION={v}: use 3 (MQTT 3.1.1) or 5 (MQTT 5.0)"),
    };
    let setup = Setup {
        port: broker.tls_port(),
        version,
        messages: env_usize("TLS_MESSAGES", DEFAULT_MESSAGES).max(1),
        ca_pem: certs.ca.cert.clone().into_bytes(),
    };
    let rumqttc_tls = rumqttc_tls_config(&setup.ca_pem);
    let v5 = setup.version.is_v5();
    let mqtt = if v5 { "5.0" } else { "3.1.1" };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "tls: mosquitto TLS listener on 127.0.0.1:{} (MQTT {mqtt}, rustls + ring on both sides), \
         {rounds} rounds, {} messages of {PAYLOAD} B, inflight {INFLIGHT}",
        setup.port, setup.messages
    );

    // results[qos index][lib index]: one throughput per round.
    let mut results = vec![[Vec::new(), Vec::new()]; qoss.len()];
    runtime.block_on(async {
        for round in 0..rounds {
            println!("round {}/{rounds}", round + 1);
            for (qi, &qos) in qoss.iter().enumerate() {
                let order = if round % 2 == 0 {
                    [Lib::Wasmqtt, Lib::Rumqttc]
                } else {
                    [Lib::Rumqttc, Lib::Wasmqtt]
                };
                for lib in order {
                    let run = async {
                        match lib {
                            Lib::Wasmqtt => ours::throughput(&setup, qos).await,
                            Lib::Rumqttc if v5 => {
                                theirs_v5::throughput(&setup, &rumqttc_tls, qos).await
                            }
                            Lib::Rumqttc => theirs_v4::throughput(&setup, &rumqttc_tls, qos).await,
                        }
                    };
                    let t = tokio::time::timeout(RUN_TIMEOUT, run)
                        .await
                        .unwrap_or_else(|_| panic!("{} {qos:?}: no result", lib.name()));
                    println!(
                        "  {:<8} {qos:?}  {:>9.0} msg/s  {:>8.1} ms  received {}/{}",
                        lib.name(),
                        t.rate(),
                        t.elapsed.as_secs_f64() * 1e3,
                        t.received,
                        setup.messages
                    );
                    results[qi][lib as usize].push(t);
                }
            }
        }
    });
    drop(runtime);
    drop(broker);

    println!();
    println!(
        "medians over {rounds} rounds (MQTT {mqtt} over TLS, {} messages of {PAYLOAD} B), \
         spread min–max:",
        setup.messages
    );
    println!(
        "| {:<22} | {:>24} | {:>24} | {:>7} |",
        "metric", "wasmqtt", "rumqttc", "ratio"
    );
    println!("|{:-<24}|{:->26}|{:->26}|{:->9}|", "", "", "", "");
    for (qi, qos) in qoss.iter().enumerate() {
        let [ours, theirs] = &results[qi];
        let cell = |v: &[Throughput]| {
            let (m, lo, hi) = stats(v.iter().map(Throughput::rate).collect());
            (m, format!("{m:.0} ({lo:.0}–{hi:.0})"))
        };
        let (a, a_text) = cell(ours);
        let (b, b_text) = cell(theirs);
        let name = match qos {
            QoS::AtMostOnce => "QoS 0 throughput msg/s",
            _ => "QoS 1 throughput msg/s",
        };
        println!(
            "| {name:<22} | {a_text:>24} | {b_text:>24} | {:>6.2}× |",
            a / b
        );
        let received = |v: &[Throughput]| stats(v.iter().map(|t| t.received as f64).collect()).0;
        if *qos == QoS::AtMostOnce {
            println!(
                "| {:<22} | {:>24} | {:>24} | {:>7} |",
                "QoS 0 received",
                format!("{:.0}/{}", received(ours), setup.messages),
                format!("{:.0}/{}", received(theirs), setup.messages),
                ""
            );
        }
    }
    println!("ratio: wasmqtt/rumqttc (above 1: wasmqtt is faster).");
}
