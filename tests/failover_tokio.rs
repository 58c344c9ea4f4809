//! Failover across a list of brokers (`Options::brokers`) in the native driver, against a real
//! mosquitto, in MQTT 3.1.1 and 5.0:
//!
//! - brokers `[a dead port, mosquitto]`: the client connects to the second, and
//!   `ConnectionInfo::broker` says so;
//! - a two-node cluster, played by one mosquitto with the client's persistent session reached
//!   through two fault proxies A and B: a stream of QoS 1 and QoS 2 messages, proxy A cut for
//!   good in the middle of it (its connections closed, new ones refused), the client moves to
//!   B, resumes its session there, and every message reaches a subscriber: QoS 1 at least
//!   once, QoS 2 exactly once.
//!
//! Every wait is bounded (`native_support::WAIT`); nothing sleeps.

#[macro_use]
mod native_support;

use native_support::*;
use std::collections::{BTreeMap, VecDeque};
use tokio::sync::watch;
use wasmqtt::broker::Broker;
use wasmqtt::codec::{ProtocolVersion, QoS};
use wasmqtt::session::{Event, Message};
use wasmqtt_testkit::mosquitto::{free_port, Mosquitto};
use wasmqtt_testkit::proxy::Proxy;
use wasmqtt_tokio::{Client, PublishHandle};

both_versions!(
    a_dead_first_broker_fails_over_to_the_second,
    cutting_one_cluster_node_mid_stream_loses_nothing,
);

/// Messages in the stream of the cluster scenario, alternating QoS 1 and QoS 2.
const STREAM: usize = 600;
/// Unacknowledged messages the publisher keeps in flight: within mosquitto's incoming quota
/// (`max_inflight_messages` 20), which a 3.1.1 client cannot learn from CONNACK.
const WINDOW: usize = 20;

async fn a_dead_first_broker_fails_over_to_the_second(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let dead = format!("mqtt://127.0.0.1:{}", free_port());
    let live = format!("mqtt://127.0.0.1:{}", broker.port());
    let id = client_id("failover-dead", version);
    let (client, mut events) = within(
        "the connection through the list",
        Client::builder(options(&id, version))
            .brokers([&dead, &live])
            .expect("broker URLs")
            .connect(),
    )
    .await
    .unwrap_or_else(|e| panic!("{id} could not connect through [{dead}, {live}]: {e}"));

    // The dead broker's refusal comes first, with the second asked for at once.
    let mut disconnects = Vec::new();
    let info = within("the Connected event", async {
        loop {
            match events.recv().await {
                Some(Event::Connected(info)) => return info,
                Some(Event::Disconnected {
                    reason,
                    reconnect_at,
                }) => disconnects.push((reason, reconnect_at)),
                Some(_) => {}
                None => panic!("the event stream ended before Connected"),
            }
        }
    })
    .await;
    assert_eq!(
        info.broker,
        Some(Broker::parse(&live).unwrap()),
        "ConnectionInfo::broker names the broker that accepted"
    );
    assert_eq!(
        disconnects.len(),
        1,
        "one failed attempt before it: {disconnects:?}"
    );
    assert_eq!(
        disconnects[0].0.code(),
        "CONNECTION_LOST",
        "{disconnects:?}"
    );
    assert!(
        disconnects[0].1.is_some(),
        "the failed attempt is followed by another: {disconnects:?}"
    );

    // And the connection works.
    let topic = format!("wasmqtt/failover/dead/{version:?}");
    subscribe(&client, &topic, QoS::AtLeastOnce).await;
    round_trip(&client, &mut events, &topic, QoS::AtLeastOnce).await;
    within("disconnect", client.disconnect()).await;
}

async fn cutting_one_cluster_node_mid_stream_loses_nothing(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let node_a = Proxy::start(broker.addr());
    let node_b = Proxy::start(broker.addr());
    let url_a = format!("mqtt://{}", node_a.addr());
    let url_b = format!("mqtt://{}", node_b.addr());
    let topic = format!("wasmqtt/failover/cluster/{version:?}");

    let (subscriber, mut events, _) = connect(
        &broker.addr().to_string(),
        options(&client_id("cluster-sub", version), version),
    )
    .await;
    subscribe(&subscriber, &format!("{topic}/#"), QoS::ExactlyOnce).await;

    let pub_id = client_id("cluster-pub", version);
    let (publisher, mut pub_events) = within(
        "the publisher to connect through node A",
        Client::builder(persistent(&pub_id, version))
            .brokers([&url_a, &url_b])
            .expect("broker URLs")
            .connect(),
    )
    .await
    .unwrap_or_else(|e| panic!("{pub_id} could not connect: {e}"));
    let first = next_connected(&mut pub_events, "the publisher's Connected").await;
    assert_eq!(first.broker, Some(Broker::parse(&url_a).unwrap()));

    // The stream: alternating QoS 1 and 2, WINDOW unacknowledged at most, acknowledgements
    // counted.
    let (acked_tx, mut acked) = watch::channel(0usize);
    let stream_client = publisher.clone();
    let stream_topic = topic.clone();
    let stream = tokio::spawn(async move {
        let mut handles: VecDeque<(usize, PublishHandle)> = VecDeque::new();
        let mut done = 0;
        let settle = |(j, h): (usize, PublishHandle)| async move {
            let code = h
                .await
                .unwrap_or_else(|e| panic!("message {j} failed: {e}"));
            assert!(!code.is_error(), "message {j}: {code}");
        };
        for i in 0..STREAM {
            if handles.len() == WINDOW {
                settle(handles.pop_front().unwrap()).await;
                done += 1;
                acked_tx.send_replace(done);
            }
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let msg = Message::new(format!("{stream_topic}/{qos:?}"), i.to_string()).qos(qos);
            let h = stream_client
                .publish(msg)
                .await
                .unwrap_or_else(|e| panic!("message {i} refused: {e}"));
            handles.push_back((i, h));
        }
        for h in handles {
            settle(h).await;
            done += 1;
            acked_tx.send_replace(done);
        }
    });

    within(
        "a quarter of the stream to be acknowledged through node A",
        acked.wait_for(|n| *n >= STREAM / 4),
    )
    .await
    .expect("the stream task ended early");
    // Node A goes for good: its connections are closed and its listener with them.
    let connections_a = node_a.connections();
    let addr_a = node_a.addr();
    drop(node_a);
    let at_cut = *acked.borrow();
    assert!(
        at_cut + WINDOW < STREAM,
        "the cut should come in the middle of the stream ({at_cut} of {STREAM} acknowledged)"
    );
    within("every message of the stream to be acknowledged", stream)
        .await
        .expect("the stream task panicked");
    assert_eq!(connections_a, 1, "one connection went through node A");
    within("node A to refuse connections", async {
        while tokio::net::TcpStream::connect(addr_a).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        node_b.connections() >= 1,
        "the publisher reconnected through node B"
    );

    // The publisher moved to B and resumed its session there, so what it had in flight was
    // resent (DUP / PUBREL), not requeued.
    let moved = next_connected(&mut pub_events, "the publisher's reconnection").await;
    assert_eq!(moved.broker, Some(Broker::parse(&url_b).unwrap()));
    assert!(
        moved.session_present,
        "the cluster (one mosquitto) kept the publisher's session"
    );

    // Markers after the stream, one per topic: messages of a topic arrive in order, so once
    // both are here every delivery of the stream is too.
    for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
        publish_acked(
            &publisher,
            Message::new(format!("{topic}/{qos:?}"), "end").qos(qos),
        )
        .await;
    }
    let mut seen: BTreeMap<usize, (QoS, usize)> = BTreeMap::new();
    let mut markers = 0;
    within(
        "the whole stream and both markers at the subscriber",
        async {
            while markers < 2 {
                match events.recv().await {
                    Some(Event::Message(m)) if m.message.payload == b"end" => markers += 1,
                    Some(Event::Message(m)) => {
                        let i: usize = std::str::from_utf8(&m.message.payload)
                            .ok()
                            .and_then(|s| s.parse().ok())
                            .unwrap_or_else(|| {
                                panic!("unexpected payload {:?}", m.message.payload)
                            });
                        seen.entry(i).or_insert((m.message.qos, 0)).1 += 1;
                    }
                    Some(_) => {}
                    None => panic!("the subscriber's events ended"),
                }
            }
        },
    )
    .await;

    let missing: Vec<usize> = (0..STREAM).filter(|i| !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "lost messages: {missing:?}");
    for (i, (qos, count)) in &seen {
        if i % 2 == 0 {
            assert_eq!(*qos, QoS::AtLeastOnce, "message {i}");
            assert!(*count >= 1);
        } else {
            assert_eq!(*qos, QoS::ExactlyOnce, "message {i}");
            assert_eq!(*count, 1, "QoS 2 message {i} delivered {count} times");
        }
    }
    let duplicates: usize = seen.values().map(|(_, c)| c - 1).sum();
    println!(
        "failover {version:?}: {STREAM} messages, cut at {at_cut} acknowledged, \
         {duplicates} QoS 1 duplicate(s)"
    );
    within("publisher disconnect", publisher.disconnect()).await;
    within("subscriber disconnect", subscriber.disconnect()).await;
}
