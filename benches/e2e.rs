//! End-to-end benchmark: the native driver (`wasmqtt_tokio`) against rumqttc (`AsyncClient` +
//! `EventLoop`) through the same mosquitto, in the same run.
//!
//! The binary starts its own mosquitto (wasmqtt-testkit's mosquitto: a free loopback port,
//! `max_queued_messages 0`, so the broker queues without a limit) and measures, for each client
//! library, a publisher and a subscriber of that same library on one topic:
//!
//! - `qos0`: publish throughput at QoS 0, 100 000 messages of 100 B. The time runs from the
//!   first publish until the subscriber received the last message. QoS 0 may be dropped under
//!   overload: the subscriber stops waiting after [`QUIET`] without a message, and the number
//!   received is reported; the rate is the messages received over that time.
//! - `qos1`: publish throughput at QoS 1 with an inflight window of 100, 100 000 messages of
//!   100 B, the subscriber subscribed at QoS 1. The time runs until every message was
//!   acknowledged to the publisher (PUBACK) and received by the subscriber.
//! - `latency`: publish→receive round trip of sequential QoS 1 messages (publish one, wait until
//!   the subscriber has it, then the next): p50 and p99 over 2 000 messages (after 100 not timed).
//!
//! Both libraries get the same treatment: one multi-threaded tokio runtime with 2 workers, MQTT
//! 3.1.1 (set `E2E_VERSION=5` for MQTT 5.0), clean sessions, keep-alive 60 s, and room for every
//! message before the publisher has to wait (rumqttc: request channel capacity = message count;
//! wasmqtt: `max_queued_messages` = message count and a `max_pending_write_bytes` write budget
//! that holds every message, so QoS 0 is not answered `WouldBlock`; with the default 4 MiB it
//! is, and the benchmark then yields and tries again). The publishers allocate one topic `String`
//! and one payload `Vec` per message on both sides. The libraries alternate which goes first in
//! each round; every figure in the table is the median over the rounds (for latency: the median
//! of each round's p50 and p99).
//!
//! Run: `cargo bench --bench e2e`. Environment: `E2E_ROUNDS` (default 5),
//! `E2E_MESSAGES` (default 100000), `E2E_LATENCY_MESSAGES` (default 2000), `E2E_VERSION` (3 or
//! 5, default 3), `E2E_ONLY` (`qos0`, `qos1` or `latency`: run one scenario), `E2E_LIB`
//! (`wasmqtt` or `rumqttc`: run one library, for profiling; no ratios then).

mod support;
use support::{env_usize, Lib};
use wasmqtt_testkit::mosquitto;

use std::future::Future;
use std::time::{Duration, Instant};
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Message, Options, ReconnectPolicy};
use wasmqtt_tokio::{Client, Events};

/// Payload size of every message.
const PAYLOAD: usize = 100;
/// Outbound QoS 1 messages in flight, for both libraries.
const INFLIGHT: u16 = 100;
/// Round trips before the timed ones in the latency scenario.
const LATENCY_WARMUP: usize = 100;
/// How long the subscriber waits for one more message before it counts the rest as dropped.
const QUIET: Duration = Duration::from_secs(3);
/// Longest any one scenario may take before the benchmark gives up.
const SCENARIO_TIMEOUT: Duration = Duration::from_secs(300);
/// Keep-alive for both libraries.
const KEEP_ALIVE_S: u16 = 60;

/// What one throughput run measured.
#[derive(Debug, Clone, Copy)]
struct Throughput {
    /// From the first publish until the last message was received (and, at QoS 1, acknowledged).
    elapsed: Duration,
    /// Messages the subscriber received.
    received: usize,
    /// Messages acknowledged to the publisher (QoS 1) or handed to the library (QoS 0).
    acked: usize,
    /// QoS 0 publishes wasmqtt answered with `WouldBlock` (tried again); 0 for rumqttc.
    retries: usize,
    /// When the last acknowledgement (QoS 1) arrived, from the first publish.
    acked_after: Option<Duration>,
    /// When the subscriber received its last message, from the first publish.
    received_after: Duration,
}

impl Throughput {
    fn rate(&self) -> f64 {
        self.received as f64 / self.elapsed.as_secs_f64()
    }
}

/// What one latency run measured: each round trip, in order.
#[derive(Debug, Clone)]
struct Latency {
    samples: Vec<Duration>,
}

impl Latency {
    /// The `q` quantile (0..=1), nearest rank.
    fn quantile(&self, q: f64) -> Duration {
        let mut s = self.samples.clone();
        s.sort_unstable();
        let rank = ((q * s.len() as f64).ceil() as usize).clamp(1, s.len());
        s[rank - 1]
    }
}

/// The settings of one run.
#[derive(Debug, Clone)]
struct Setup {
    host: String,
    port: u16,
    version: ProtocolVersion,
    messages: usize,
    latency_messages: usize,
    /// The broker's process id, for its CPU time.
    broker_pid: Option<u32>,
}

impl Setup {
    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

fn unique(what: &str) -> String {
    support::unique("e2e", what)
}

fn payload() -> Vec<u8> {
    support::payload(PAYLOAD)
}

/// `fut`'s output, or a panic naming `what` after [`SCENARIO_TIMEOUT`].
async fn bounded<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(SCENARIO_TIMEOUT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: no result within {SCENARIO_TIMEOUT:?}"),
    }
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
        let (client, mut events) = Client::connect(&setup.addr(), options(setup, id))
            .await
            .unwrap_or_else(|e| panic!("wasmqtt {id}: {e}"));
        match events.recv().await {
            Some(Event::Connected(_)) => {}
            other => panic!("wasmqtt {id}: expected Connected, got {other:?}"),
        }
        (client, events)
    }

    async fn subscriber(setup: &Setup, topic: &str, qos: QoS) -> (Client, Events) {
        let (client, events) = connect(setup, &unique("wasmqtt-sub")).await;
        let codes = client
            .subscribe([topic], SubscriptionOptions::qos(qos))
            .await
            .expect("wasmqtt subscribe");
        assert!(
            codes.iter().all(|c| !c.is_error()),
            "wasmqtt subscribe refused: {codes:?}"
        );
        (client, events)
    }

    pub async fn throughput(setup: &Setup, qos: QoS) -> Throughput {
        let n = setup.messages;
        let topic = unique("wasmqtt-topic");
        let (sub, mut sub_events) = subscriber(setup, &topic, qos).await;
        let (publisher, _pub_events) = connect(setup, &unique("wasmqtt-pub")).await;
        let body = payload();

        let start = Instant::now();
        let receiver = tokio::spawn(async move {
            let mut received = 0usize;
            let mut last = start;
            while received < n {
                match tokio::time::timeout(QUIET, sub_events.recv()).await {
                    Ok(Some(Event::Message(_))) => {
                        received += 1;
                        last = Instant::now();
                    }
                    Ok(Some(Event::Disconnected { reason, .. })) => {
                        panic!("wasmqtt subscriber disconnected: {reason}")
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => panic!("wasmqtt subscriber's driver ended"),
                    Err(_) => break,
                }
            }
            (received, last, sub_events)
        });

        let (acked, retries) = support::publish_all(&publisher, &topic, &body, qos, n).await;
        let acked_at = Instant::now();
        let (received, last, _sub_events) = receiver.await.expect("wasmqtt receiver");
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
            acked,
            retries,
            acked_after: (qos != QoS::AtMostOnce).then(|| acked_at - start),
            received_after: last - start,
        }
    }

    pub async fn latency(setup: &Setup) -> Latency {
        let topic = unique("wasmqtt-latency");
        let (sub, mut sub_events) = subscriber(setup, &topic, QoS::AtLeastOnce).await;
        let (publisher, _pub_events) = connect(setup, &unique("wasmqtt-pub")).await;
        let body = payload();
        let mut samples = Vec::with_capacity(setup.latency_messages);
        for i in 0..LATENCY_WARMUP + setup.latency_messages {
            let message = Message::new(topic.as_str(), body.clone()).qos(QoS::AtLeastOnce);
            let t = Instant::now();
            let _handle = publisher.publish(message).await.expect("wasmqtt publish");
            loop {
                match sub_events.recv().await {
                    Some(Event::Message(_)) => break,
                    Some(Event::Disconnected { reason, .. }) => {
                        panic!("wasmqtt subscriber disconnected: {reason}")
                    }
                    Some(_) => {}
                    None => panic!("wasmqtt subscriber's driver ended"),
                }
            }
            if i >= LATENCY_WARMUP {
                samples.push(t.elapsed());
            }
        }
        publisher.disconnect().await;
        sub.disconnect().await;
        Latency { samples }
    }
}

// ------------------------------------------------------------------------------------ rumqttc

/// The rumqttc side, for one of its two APIs (`rumqttc` for 3.1.1, `rumqttc::v5` for 5.0):
/// `$options` makes `MqttOptions` from (id, host, port) with the inflight window set.
macro_rules! rumqttc_side {
    ($name:ident, $($api:ident)::+, $packet:path, $qos:path, $options:expr) => {
        mod $name {
            use super::*;
            use $($api)::+::{AsyncClient, Event as REvent, EventLoop, MqttOptions};
            use rumqttc::Outgoing;
            use $packet as Packet;
            use $qos as RQoS;

            fn rqos(q: QoS) -> RQoS {
                match q {
                    QoS::AtMostOnce => RQoS::AtMostOnce,
                    QoS::AtLeastOnce => RQoS::AtLeastOnce,
                    QoS::ExactlyOnce => RQoS::ExactlyOnce,
                }
            }

            fn options(setup: &Setup, id: &str) -> MqttOptions {
                let make: fn(&str, &str, u16) -> MqttOptions = $options;
                make(id, &setup.host, setup.port)
            }

            /// A client whose event loop has taken CONNACK.
            async fn connect(setup: &Setup, id: &str, cap: usize) -> (AsyncClient, EventLoop) {
                let (client, mut eventloop) = AsyncClient::new(options(setup, id), cap);
                loop {
                    match eventloop.poll().await {
                        Ok(REvent::Incoming(Packet::ConnAck(_))) => break,
                        Ok(_) => {}
                        Err(e) => panic!("rumqttc {id}: {e}"),
                    }
                }
                (client, eventloop)
            }

            async fn subscriber(setup: &Setup, topic: &str, qos: QoS) -> (AsyncClient, EventLoop) {
                let (client, mut eventloop) = connect(setup, &unique("rumqttc-sub"), 10).await;
                client
                    .subscribe(topic, rqos(qos))
                    .await
                    .expect("rumqttc subscribe");
                loop {
                    match eventloop.poll().await {
                        Ok(REvent::Incoming(Packet::SubAck(_))) => break,
                        Ok(_) => {}
                        Err(e) => panic!("rumqttc subscriber: {e}"),
                    }
                }
                (client, eventloop)
            }

            pub async fn throughput(setup: &Setup, qos: QoS) -> Throughput {
                let n = setup.messages;
                let topic = unique("rumqttc-topic");
                let (sub, mut sub_loop) = subscriber(setup, &topic, qos).await;
                let (publisher, mut pub_loop) =
                    connect(setup, &unique("rumqttc-pub"), n.max(1)).await;
                let body = payload();

                let start = Instant::now();
                let receiver = tokio::spawn(async move {
                    let mut received = 0usize;
                    let mut last = start;
                    while received < n {
                        match tokio::time::timeout(QUIET, sub_loop.poll()).await {
                            Ok(Ok(REvent::Incoming(Packet::Publish(_)))) => {
                                received += 1;
                                last = Instant::now();
                            }
                            Ok(Ok(_)) => {}
                            Ok(Err(e)) => panic!("rumqttc subscriber: {e}"),
                            Err(_) => break,
                        }
                    }
                    (received, last, sub_loop)
                });
                // The publisher's event loop: at QoS 1 it ends when every PUBACK arrived; at
                // QoS 0 it counts the publishes written and keeps going (it is aborted at the end).
                let at_least_once = qos != QoS::AtMostOnce;
                let (written_tx, written_rx) = tokio::sync::oneshot::channel();
                let mut driver = tokio::spawn(async move {
                    let mut acked = 0usize;
                    let mut written = 0usize;
                    let mut written_tx = Some(written_tx);
                    loop {
                        match pub_loop.poll().await {
                            Ok(REvent::Incoming(Packet::PubAck(_))) => {
                                acked += 1;
                                if at_least_once && acked == n {
                                    return (acked, Instant::now());
                                }
                            }
                            Ok(REvent::Outgoing(Outgoing::Publish(_))) => {
                                written += 1;
                                if !at_least_once && written == n {
                                    if let Some(tx) = written_tx.take() {
                                        let _ = tx.send(written);
                                    }
                                }
                            }
                            Ok(_) => {}
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
                let (acked, acked_at) = if at_least_once {
                    (&mut driver).await.expect("rumqttc publisher")
                } else {
                    let written = written_rx.await.unwrap_or(0);
                    (written, start)
                };
                let (received, last, sub_loop) = receiver.await.expect("rumqttc receiver");
                let end = if received == n {
                    last.max(acked_at)
                } else {
                    last
                };
                // Dropping the event loops closes the connections (no DISCONNECT: the broker
                // just sees the sockets close; nothing is timed any more). At QoS 0 the
                // publisher's loop still runs: stop it.
                driver.abort();
                drop((publisher, sub, sub_loop));
                Throughput {
                    elapsed: end - start,
                    received,
                    acked,
                    retries: 0,
                    acked_after: at_least_once.then(|| acked_at - start),
                    received_after: last - start,
                }
            }

            pub async fn latency(setup: &Setup) -> Latency {
                let topic = unique("rumqttc-latency");
                let (sub, mut sub_loop) = subscriber(setup, &topic, QoS::AtLeastOnce).await;
                let (publisher, mut pub_loop) = connect(setup, &unique("rumqttc-pub"), 10).await;
                let driver = tokio::spawn(async move {
                    loop {
                        if let Err(e) = pub_loop.poll().await {
                            panic!("rumqttc publisher: {e}");
                        }
                    }
                });
                let body = payload();
                let mut samples = Vec::with_capacity(setup.latency_messages);
                for i in 0..LATENCY_WARMUP + setup.latency_messages {
                    let t = Instant::now();
                    publisher
                        .publish(topic.as_str(), RQoS::AtLeastOnce, false, body.clone())
                        .await
                        .expect("rumqttc publish");
                    loop {
                        match sub_loop.poll().await {
                            Ok(REvent::Incoming(Packet::Publish(_))) => break,
                            Ok(_) => {}
                            Err(e) => panic!("rumqttc subscriber: {e}"),
                        }
                    }
                    if i >= LATENCY_WARMUP {
                        samples.push(t.elapsed());
                    }
                }
                driver.abort();
                drop((publisher, sub, sub_loop));
                Latency { samples }
            }
        }
    };
}

rumqttc_side!(
    theirs_v4,
    rumqttc,
    rumqttc::Packet,
    rumqttc::QoS,
    |id, host, port| {
        let mut o = rumqttc::MqttOptions::new(id, host, port);
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
    |id, host, port| {
        let mut o = rumqttc::v5::MqttOptions::new(id, host, port);
        o.set_keep_alive(Duration::from_secs(u64::from(KEEP_ALIVE_S)))
            .set_clean_start(true)
            .set_outgoing_inflight_upper_limit(INFLIGHT);
        o
    }
);

// ------------------------------------------------------------------------------------ main

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    Qos0,
    Qos1,
    Latency,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Qos0 => "qos0",
            Scenario::Qos1 => "qos1",
            Scenario::Latency => "latency",
        }
    }
}

#[derive(Debug, Default)]
struct Results {
    qos0: Vec<Throughput>,
    qos1: Vec<Throughput>,
    /// CPU milliseconds (this process, broker) of each throughput run.
    qos0_cpu: Vec<(f64, f64)>,
    qos1_cpu: Vec<(f64, f64)>,
    latency: Vec<(Duration, Duration)>,
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat` (Linux; `None`
/// elsewhere). Ticks are taken as 10 ms (`USER_HZ` is 100 on Linux).
fn cpu_time(pid: Option<u32>) -> Option<Duration> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_string(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// CPU milliseconds used by this process and by the broker since `before`.
fn cpu_since(before: (Option<Duration>, Option<Duration>), setup: &Setup) -> (f64, f64) {
    let ms = |a: Option<Duration>, b: Option<Duration>| match (a, b) {
        (Some(a), Some(b)) => b.saturating_sub(a).as_secs_f64() * 1e3,
        _ => f64::NAN,
    };
    (
        ms(before.0, cpu_time(None)),
        ms(before.1, cpu_time(setup.broker_pid)),
    )
}

async fn run(lib: Lib, scenario: Scenario, setup: &Setup, results: &mut Results) {
    let v5 = setup.version.is_v5();
    let what = format!("{} {}", lib.name(), scenario.name());
    let cpu_before = (cpu_time(None), cpu_time(setup.broker_pid));
    match scenario {
        Scenario::Qos0 | Scenario::Qos1 => {
            let qos = if scenario == Scenario::Qos0 {
                QoS::AtMostOnce
            } else {
                QoS::AtLeastOnce
            };
            let t = match (lib, v5) {
                (Lib::Wasmqtt, _) => bounded(&what, ours::throughput(setup, qos)).await,
                (Lib::Rumqttc, false) => bounded(&what, theirs_v4::throughput(setup, qos)).await,
                (Lib::Rumqttc, true) => bounded(&what, theirs_v5::throughput(setup, qos)).await,
            };
            let (client_cpu, broker_cpu) = cpu_since(cpu_before, setup);
            println!(
                "  {what:<16} {:>10.0} msg/s  {:>8.1} ms  received {}/{} (last after {:.1} ms)  \
                 acked {}{}  CPU ms: client {client_cpu:.0}, broker {broker_cpu:.0}{}",
                t.rate(),
                t.elapsed.as_secs_f64() * 1e3,
                t.received,
                setup.messages,
                t.received_after.as_secs_f64() * 1e3,
                t.acked,
                match t.acked_after {
                    Some(d) => format!(" (last after {:.1} ms)", d.as_secs_f64() * 1e3),
                    None => String::new(),
                },
                if t.retries > 0 {
                    format!("  (WouldBlock retries {})", t.retries)
                } else {
                    String::new()
                }
            );
            if scenario == Scenario::Qos0 {
                results.qos0.push(t);
                results.qos0_cpu.push((client_cpu, broker_cpu));
            } else {
                results.qos1.push(t);
                results.qos1_cpu.push((client_cpu, broker_cpu));
            }
        }
        Scenario::Latency => {
            let l = match (lib, v5) {
                (Lib::Wasmqtt, _) => bounded(&what, ours::latency(setup)).await,
                (Lib::Rumqttc, false) => bounded(&what, theirs_v4::latency(setup)).await,
                (Lib::Rumqttc, true) => bounded(&what, theirs_v5::latency(setup)).await,
            };
            let (p50, p99) = (l.quantile(0.50), l.quantile(0.99));
            println!(
                "  {what:<16} p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>7.1} µs  ({} round trips)",
                micros(p50),
                micros(p99),
                micros(l.quantile(1.0)),
                l.samples.len()
            );
            results.latency.push((p50, p99));
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    support::median(&mut v)
}

fn main() {
    let version = match std::env::var("E2E_VERSION").as_deref() {
        Ok("5") | Ok("5.0") | Ok("v5") => ProtocolVersion::V5,
        Ok("3") | Ok("4") | Ok("3.1.1") | Ok("v311") | Err(_) => ProtocolVersion::V311,
        Ok(v) => panic!("E2E_VERSION={v}: use 3 (MQTT 3.1.1) or 5 (MQTT 5.0)"),
    };
    let rounds = env_usize("E2E_ROUNDS", 5).max(1);
    let scenarios: Vec<Scenario> = match std::env::var("E2E_ONLY").as_deref() {
        Ok("qos0") => vec![Scenario::Qos0],
        Ok("qos1") => vec![Scenario::Qos1],
        Ok("latency") => vec![Scenario::Latency],
        Ok(v) => panic!("E2E_ONLY={v}: use qos0, qos1 or latency"),
        Err(_) => vec![Scenario::Qos0, Scenario::Qos1, Scenario::Latency],
    };
    let only_lib = match std::env::var("E2E_LIB").as_deref() {
        Ok("wasmqtt") => Some(Lib::Wasmqtt),
        Ok("rumqttc") => Some(Lib::Rumqttc),
        Ok(v) => panic!("E2E_LIB={v}: use wasmqtt or rumqttc"),
        Err(_) => None,
    };
    // `cargo bench` passes `--bench`; a filter argument is not supported (use E2E_ONLY).
    if std::env::args().skip(1).any(|a| a == "--list") {
        return;
    }

    let broker = mosquitto::Mosquitto::start();
    let setup = Setup {
        host: "127.0.0.1".to_string(),
        port: broker.port(),
        version,
        messages: env_usize("E2E_MESSAGES", 100_000),
        latency_messages: env_usize("E2E_LATENCY_MESSAGES", 2_000).max(1),
        broker_pid: broker.pid(),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    println!(
        "e2e: mosquitto on {} (MQTT {}), {} rounds, {} messages of {PAYLOAD} B, inflight {INFLIGHT}, \
         {} latency round trips",
        setup.addr(),
        if version.is_v5() { "5.0" } else { "3.1.1" },
        rounds,
        setup.messages,
        setup.latency_messages
    );
    let mut ours = Results::default();
    let mut theirs = Results::default();
    runtime.block_on(async {
        for round in 0..rounds {
            println!("round {}/{rounds}", round + 1);
            for &scenario in &scenarios {
                let order = if round % 2 == 0 {
                    [Lib::Wasmqtt, Lib::Rumqttc]
                } else {
                    [Lib::Rumqttc, Lib::Wasmqtt]
                };
                for lib in order {
                    if only_lib.is_some_and(|only| only != lib) {
                        continue;
                    }
                    let results = match lib {
                        Lib::Wasmqtt => &mut ours,
                        Lib::Rumqttc => &mut theirs,
                    };
                    run(lib, scenario, &setup, results).await;
                }
            }
        }
    });
    drop(runtime);
    drop(broker);

    let rate = |v: &[Throughput]| median(v.iter().map(Throughput::rate).collect());
    let recv = |v: &[Throughput]| median(v.iter().map(|t| t.received as f64).collect());
    let lat = |v: &[(Duration, Duration)], p99: bool| {
        median(
            v.iter()
                .map(|&(a, b)| micros(if p99 { b } else { a }))
                .collect(),
        )
    };
    println!();
    println!(
        "medians over {rounds} rounds (MQTT {}, {} messages of {PAYLOAD} B):",
        if version.is_v5() { "5.0" } else { "3.1.1" },
        setup.messages
    );
    println!(
        "| {:<22} | {:>14} | {:>14} | {:>8} |",
        "metric", "wasmqtt", "rumqttc", "ratio"
    );
    println!("|{:-<24}|{:->16}|{:->16}|{:->10}|", "", "", "", "");
    let row = |name: &str, ours: f64, theirs: f64, ratio: f64, unit: &str| {
        println!(
            "| {name:<22} | {:>14} | {:>14} | {ratio:>7.2}× |",
            format!("{ours:.0}{unit}"),
            format!("{theirs:.0}{unit}")
        );
    };
    let cpu = |v: &[(f64, f64)], broker: bool| {
        median(v.iter().map(|&(c, b)| if broker { b } else { c }).collect())
    };
    let both = |a: &[Throughput], b: &[Throughput]| !a.is_empty() || !b.is_empty();
    if both(&ours.qos0, &theirs.qos0) {
        let (a, b) = (rate(&ours.qos0), rate(&theirs.qos0));
        row("QoS 0 throughput msg/s", a, b, a / b, "");
        println!(
            "| {:<22} | {:>14} | {:>14} | {:>8} |",
            "QoS 0 received",
            format!("{:.0}/{}", recv(&ours.qos0), setup.messages),
            format!("{:.0}/{}", recv(&theirs.qos0), setup.messages),
            ""
        );
        let (a, b) = (cpu(&ours.qos0_cpu, false), cpu(&theirs.qos0_cpu, false));
        row("QoS 0 client CPU ms", a, b, b / a, "");
        let (a, b) = (cpu(&ours.qos0_cpu, true), cpu(&theirs.qos0_cpu, true));
        row("QoS 0 broker CPU ms", a, b, b / a, "");
    }
    if both(&ours.qos1, &theirs.qos1) {
        let (a, b) = (rate(&ours.qos1), rate(&theirs.qos1));
        row("QoS 1 throughput msg/s", a, b, a / b, "");
        let (a, b) = (cpu(&ours.qos1_cpu, false), cpu(&theirs.qos1_cpu, false));
        row("QoS 1 client CPU ms", a, b, b / a, "");
        let (a, b) = (cpu(&ours.qos1_cpu, true), cpu(&theirs.qos1_cpu, true));
        row("QoS 1 broker CPU ms", a, b, b / a, "");
    }
    if !ours.latency.is_empty() || !theirs.latency.is_empty() {
        let (a, b) = (lat(&ours.latency, false), lat(&theirs.latency, false));
        row("latency p50 µs", a, b, b / a, "");
        let (a, b) = (lat(&ours.latency, true), lat(&theirs.latency, true));
        row("latency p99 µs", a, b, b / a, "");
    }
    println!(
        "ratio: wasmqtt/rumqttc for throughput, rumqttc/wasmqtt for latency and CPU time (above 1: \
         wasmqtt is better). CPU ms: user + system time of this process (both clients and the \
         benchmark) and of the broker during one run."
    );
}
