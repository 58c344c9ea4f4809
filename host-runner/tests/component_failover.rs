//! Failover mid-session through the provider component in wasmtime, against a real mosquitto,
//! in MQTT 3.1.1 and 5.0: a two-node cluster, played by one mosquitto with the publisher's
//! persistent session reached through two fault proxies A and B. A stream of QoS 1 and QoS 2
//! messages goes out through A; A is cut for good in the middle of it (its connections closed,
//! new ones refused); the component moves to B, resumes its session there, and every message
//! reaches a subscriber (a second component instance connected to mosquitto directly): QoS 1 at
//! least once, QoS 2 exactly once, and every publish completes exactly once, acknowledged.
//!
//! The provider must be built first (see `component_tls.rs`). Every wait is bounded by a
//! deadline; nothing sleeps: the test waits only in `poll-event`, which returns as soon as an
//! event is there.

mod common;
use common::provider;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use wasmqtt_host::types::{self, Delivery, Event, ProtocolVersion, Qos};
use wasmqtt_host::{Client, NetworkPolicy};
use wasmqtt_testkit::mosquitto::Mosquitto;
use wasmqtt_testkit::proxy::Proxy;

/// Messages in the stream, alternating QoS 1 and QoS 2.
const STREAM: usize = 400;
/// Unacknowledged messages the publisher keeps in flight: within mosquitto's incoming quota
/// (`max_inflight_messages` 20), which a 3.1.1 client cannot learn from CONNACK.
const WINDOW: usize = 20;
/// How long the scenario may take, once the component is compiled.
const LIMIT: Duration = Duration::from_secs(20);
/// The longest single wait in `poll-event` when nothing is pending.
const POLL: Duration = Duration::from_millis(20);

#[test]
fn cutting_one_cluster_node_mid_stream_loses_nothing_v311() {
    cutting_one_cluster_node_mid_stream_loses_nothing(ProtocolVersion::V311);
}

#[test]
fn cutting_one_cluster_node_mid_stream_loses_nothing_v5() {
    cutting_one_cluster_node_mid_stream_loses_nothing(ProtocolVersion::V5);
}

fn name(p: ProtocolVersion) -> &'static str {
    match p {
        ProtocolVersion::V311 => "311",
        ProtocolVersion::V5 => "5",
    }
}

/// Polls `client` until `pick` takes an event, or fails at `until`.
fn wait_for<T>(
    client: &mut Client,
    what: &str,
    until: Instant,
    mut pick: impl FnMut(Event) -> Option<T>,
) -> T {
    loop {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        if let Some(e) = client.poll_event(POLL).expect("poll-event") {
            if let Some(t) = pick(e) {
                return t;
            }
        }
    }
}

/// What the subscriber has seen: per stream index, its QoS and how many times it came, and
/// the end markers.
#[derive(Default)]
struct Seen {
    stream: BTreeMap<usize, (Qos, usize)>,
    markers: usize,
}

impl Seen {
    fn take(&mut self, e: Event) {
        if let Event::Message(m) = e {
            if m.payload == b"end" {
                self.markers += 1;
                return;
            }
            let i: usize = std::str::from_utf8(&m.payload)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or_else(|| panic!("unexpected payload {:?}", m.payload));
            self.stream.entry(i).or_insert((m.qos, 0)).1 += 1;
        }
    }
}

/// Drains the subscriber's ready events without waiting.
fn drain(subscriber: &mut Client, seen: &mut Seen) {
    while let Some(e) = subscriber
        .poll_event(Duration::ZERO)
        .expect("subscriber poll")
    {
        seen.take(e);
    }
}

fn cutting_one_cluster_node_mid_stream_loses_nothing(version: ProtocolVersion) {
    // Compiling the component (once per test binary) is not part of the scenario's time.
    let provider = provider();
    let until = Instant::now() + LIMIT;
    let broker = Mosquitto::start();
    let node_a = Proxy::start(broker.addr());
    let node_b = Proxy::start(broker.addr());
    let url_a = format!("mqtt://{}", node_a.addr());
    let url_b = format!("mqtt://{}", node_b.addr());
    let direct = format!("mqtt://{}", broker.addr());
    let topic = format!("wasmqtt/component-failover/{}", name(version));
    let filter = format!("{topic}/#");

    // The subscriber: a second instance of the provider, straight to mosquitto.
    let mut sub_opts = types::connect_options("", 0, &format!("cf-sub-{}", name(version)), version);
    sub_opts.brokers = vec![direct.clone()];
    let mut subscriber = Client::connect(
        provider,
        &NetworkPolicy::broker_urls([&direct]).unwrap(),
        &sub_opts,
    )
    .unwrap_or_else(|e| panic!("the subscriber could not connect: {e:?}"));
    let sub = subscriber
        .subscribe(&[types::subscription(&filter, Qos::ExactlyOnce)], None)
        .unwrap();
    let codes = wait_for(&mut subscriber, "the SUBACK", until, |e| match e {
        Event::Subscribed((id, codes)) if id == sub => Some(codes),
        _ => None,
    });
    assert_eq!(codes, [2], "granted QoS 2");

    // The publisher: persistent session, both nodes in its list and in its network policy.
    let mut opts = types::connect_options("", 0, &format!("cf-pub-{}", name(version)), version);
    opts.brokers = vec![url_a.clone(), url_b.clone()];
    opts.clean_start = false;
    opts.session_expiry_interval = Some(300);
    opts.connect_timeout_ms = Some(5_000);
    opts.reconnect = Some(types::ReconnectPolicy {
        enabled: true,
        initial_delay_ms: 20,
        max_delay_ms: 200,
        multiplier: 2,
        jitter_percent: 0,
    });
    let mut publisher = Client::connect(
        provider,
        &NetworkPolicy::broker_urls([&url_a, &url_b]).unwrap(),
        &opts,
    )
    .unwrap_or_else(|e| panic!("the publisher could not connect: {e:?}"));
    let first = publisher.connection_info().unwrap();
    assert_eq!(
        first.broker.as_deref(),
        Some(url_a.as_str()),
        "first through node A"
    );

    // The stream: alternating QoS 1 and 2, WINDOW unacknowledged at most; every completion
    // taken off `pending` exactly once.
    let mut node_a = Some(node_a);
    let mut connections_a = 0;
    let mut at_cut = None;
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    let mut completed: BTreeSet<usize> = BTreeSet::new();
    let mut reconnections = Vec::new();
    let mut disconnects = 0;
    let mut seen = Seen::default();
    let mut next = 0;
    while completed.len() < STREAM {
        assert!(
            Instant::now() < until,
            "timed out: {} of {STREAM} completed, {} pending, {disconnects} disconnect(s)",
            completed.len(),
            pending.len()
        );
        while next < STREAM && pending.len() < WINDOW {
            let qos = if next % 2 == 0 {
                Qos::AtLeastOnce
            } else {
                Qos::ExactlyOnce
            };
            let m = types::message(
                &format!("{topic}/{}", qos.level()),
                next.to_string().as_bytes(),
                qos,
                false,
            );
            let id = publisher
                .publish(&m)
                .unwrap_or_else(|e| panic!("message {next} refused: {e:?}"));
            assert!(
                pending.insert(id, next).is_none(),
                "delivery id {id} reused"
            );
            next += 1;
        }
        if at_cut.is_none() && completed.len() >= STREAM / 4 {
            // Node A goes for good: its connections are closed and its listener with them.
            let a = node_a.take().unwrap();
            connections_a = a.connections();
            drop(a);
            at_cut = Some(completed.len());
        }
        drain(&mut subscriber, &mut seen);
        match publisher.poll_event(POLL).expect("publisher poll") {
            Some(Event::PublishComplete((id, d))) => {
                let i = pending
                    .remove(&id)
                    .unwrap_or_else(|| panic!("completion for unknown or settled delivery {id}"));
                match d {
                    Delivery::Acknowledged(code) => {
                        assert!(code < 0x80, "message {i}: reason code {code:#x}")
                    }
                    Delivery::Failed(e) => panic!("message {i} failed: {e:?}"),
                }
                assert!(completed.insert(i), "message {i} completed twice");
            }
            Some(Event::Connected(info)) => reconnections.push(info),
            Some(Event::Disconnected(_)) => disconnects += 1,
            Some(_) | None => {}
        }
    }
    let at_cut = at_cut.expect("the cut happened");
    assert!(
        at_cut + WINDOW < STREAM,
        "the cut should come in the middle of the stream ({at_cut} of {STREAM} acknowledged)"
    );
    assert_eq!(connections_a, 1, "one connection went through node A");
    assert!(disconnects >= 1, "the cut was seen as a disconnection");

    // The publisher moved to B and resumed its session there.
    let moved = reconnections
        .last()
        .unwrap_or_else(|| panic!("no reconnection after the cut"));
    assert_eq!(moved.broker.as_deref(), Some(url_b.as_str()), "{moved:?}");
    assert!(
        moved.session_present,
        "the cluster (one mosquitto) kept the publisher's session"
    );
    let info = publisher.connection_info().unwrap();
    assert_eq!(
        info.broker.as_deref(),
        Some(url_b.as_str()),
        "connection-info after"
    );
    assert!(
        node_b.connections() >= 1,
        "the publisher went through node B"
    );

    // Markers after the stream, one per topic: messages of a topic arrive in order, so once
    // both are here every delivery of the stream is too.
    let mut markers = BTreeSet::new();
    for qos in [Qos::AtLeastOnce, Qos::ExactlyOnce] {
        let m = types::message(&format!("{topic}/{}", qos.level()), b"end", qos, false);
        markers.insert(publisher.publish(&m).unwrap());
    }
    while !markers.is_empty() || seen.markers < 2 {
        assert!(
            Instant::now() < until,
            "timed out waiting for the markers: {} pending, {} seen",
            markers.len(),
            seen.markers
        );
        drain(&mut subscriber, &mut seen);
        if let Some(Event::PublishComplete((id, d))) =
            publisher.poll_event(POLL).expect("publisher poll")
        {
            assert!(markers.remove(&id), "unexpected completion {id}");
            assert!(matches!(d, Delivery::Acknowledged(c) if c < 0x80), "{d:?}");
        }
    }

    let missing: Vec<usize> = (0..STREAM)
        .filter(|i| !seen.stream.contains_key(i))
        .collect();
    assert!(missing.is_empty(), "lost messages: {missing:?}");
    for (i, (qos, count)) in &seen.stream {
        if i % 2 == 0 {
            assert_eq!(*qos, Qos::AtLeastOnce, "message {i}");
        } else {
            assert_eq!(*qos, Qos::ExactlyOnce, "message {i}");
            assert_eq!(*count, 1, "QoS 2 message {i} delivered {count} times");
        }
    }
    let duplicates: usize = seen.stream.values().map(|(_, c)| c - 1).sum();
    println!(
        "component failover {}: {STREAM} messages, cut at {at_cut} acknowledged, \
         {disconnects} disconnect(s), {duplicates} QoS 1 duplicate(s)",
        name(version)
    );
}
