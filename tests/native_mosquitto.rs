//! The native driver (`wasmqtt_tokio`) against a real mosquitto, in MQTT 3.1.1 and 5.0:
//! round trips at every QoS, retained messages, the will of a client that died, a persistent
//! session resumed with the messages queued while it was away, and a broker restart in the
//! middle of a stream of QoS 1 and 2 messages that loses nothing.
//!
//! Each scenario is an `async fn(ProtocolVersion)`; `both_versions!` turns it into the tests
//! `<scenario>::v311` and `<scenario>::v5`. Every wait is bounded (`native_support::WAIT`).

#[macro_use]
mod native_support;
use wasmqtt_testkit as support;

use native_support::*;
use std::collections::BTreeMap;
use support::mosquitto::Mosquitto;
use support::proxy::{Direction, Proxy};
use tokio::sync::watch;
use wasmqtt::codec::{ProtocolVersion, QoS, ReasonCode};
use wasmqtt::session::{Event, LastWill, Message};
use wasmqtt_tokio::{Client, Error, PublishError};

both_versions!(
    round_trip_at_every_qos,
    retained_message_reaches_a_later_subscriber,
    will_is_published_when_a_client_dies,
    persistent_session_gets_what_was_queued_while_away,
    offline_queue_is_bounded_and_drains_on_reconnect,
    broker_restart_mid_stream_loses_nothing,
);

fn addr(broker: &Mosquitto) -> String {
    broker.addr().to_string()
}

#[tokio::test]
async fn connect_fails_with_an_io_error_when_nothing_listens() {
    let addr = format!("127.0.0.1:{}", support::mosquitto::free_port());
    let opts = options(
        &client_id("nobody", ProtocolVersion::V5),
        ProtocolVersion::V5,
    );
    match within("the connection to fail", Client::connect(&addr, opts)).await {
        Err(Error::Io(e)) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        Err(e) => panic!("expected an I/O error, got {e}"),
        Ok(_) => panic!("connected to {addr}, where nothing listens"),
    }
}

// checks: v3.1.1 MQTT-7.0.0-2, v3.1.1 MQTT-7.1.2-1, v5 MQTT-4.2-1
async fn round_trip_at_every_qos(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let (subscriber, mut sub_events, info) = connect(
        &addr(&broker),
        options(&client_id("rt-sub", version), version),
    )
    .await;
    assert!(!info.session_present, "a clean start has no session");
    let (publisher, _pub_events, _) = connect(
        &addr(&broker),
        options(&client_id("rt-pub", version), version),
    )
    .await;
    let topic = format!("wasmqtt/rt/{version:?}");
    subscribe(&subscriber, &topic, QoS::ExactlyOnce).await;
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        native_support::round_trip(&publisher, &mut sub_events, &topic, qos).await;
    }

    // Unsubscribed, nothing more arrives: prove it with a message on another subscription.
    let codes = within("UNSUBACK", subscriber.unsubscribe([topic.as_str()]))
        .await
        .expect("unsubscribe");
    if version.is_v5() {
        assert_eq!(codes, vec![ReasonCode::SUCCESS]);
    }
    let marker = format!("{topic}/marker");
    subscribe(&subscriber, &marker, QoS::AtLeastOnce).await;
    publish_acked(
        &publisher,
        Message::new(&topic, "after unsubscribe").qos(QoS::AtLeastOnce),
    )
    .await;
    publish_acked(
        &publisher,
        Message::new(&marker, "marker").qos(QoS::AtLeastOnce),
    )
    .await;
    let m = next_message(&mut sub_events, "the marker").await;
    assert_eq!(m.message.topic, marker, "nothing arrives after UNSUBACK");

    // A clean disconnect ends the driver; later calls fail with SessionClosed.
    within("disconnect", publisher.disconnect()).await;
    assert!(publisher.is_closed());
    let refused = publisher.publish(Message::new(&topic, "late")).await;
    assert!(
        matches!(refused, Err(PublishError::SessionClosed)),
        "{refused:?}"
    );
    within("disconnect", subscriber.disconnect()).await;
    let rest = within("the end of the event stream", async {
        let mut rest = Vec::new();
        while let Some(e) = sub_events.recv().await {
            rest.push(e);
        }
        rest
    })
    .await;
    assert!(
        matches!(
            rest.last(),
            Some(Event::Disconnected {
                reconnect_at: None,
                ..
            })
        ),
        "the stream ends with the final Disconnected: {rest:?}"
    );
}

async fn retained_message_reaches_a_later_subscriber(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let topic = format!("wasmqtt/retained/{version:?}");
    let (publisher, _pub_events, _) = connect(
        &addr(&broker),
        options(&client_id("ret-pub", version), version),
    )
    .await;
    publish_acked(
        &publisher,
        Message::new(&topic, "kept")
            .qos(QoS::AtLeastOnce)
            .retain(true),
    )
    .await;

    let (subscriber, mut sub_events, _) = connect(
        &addr(&broker),
        options(&client_id("ret-sub", version), version),
    )
    .await;
    subscribe(&subscriber, &topic, QoS::AtLeastOnce).await;
    let m = next_message(&mut sub_events, "the retained message").await;
    assert_eq!(m.message.payload, b"kept");
    assert!(
        m.message.retain,
        "a retained message is flagged as such to a new subscriber"
    );
    assert_eq!(m.message.qos, QoS::AtLeastOnce);
    subscriber.disconnect().await;
    publisher.disconnect().await;
}

async fn will_is_published_when_a_client_dies(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let will_topic = format!("wasmqtt/will/{version:?}");
    let (watcher, mut watcher_events, _) = connect(
        &addr(&broker),
        options(&client_id("will-watch", version), version),
    )
    .await;
    subscribe(&watcher, &will_topic, QoS::AtLeastOnce).await;

    let victim_opts = options(&client_id("will-victim", version), version)
        .will(LastWill::new(&will_topic, "gone").qos(QoS::AtLeastOnce));
    let (victim, _victim_events, _) = connect(&addr(&broker), victim_opts).await;
    // Prove the victim is fully there before it dies.
    publish_acked(
        &victim,
        Message::new(format!("{will_topic}/alive"), "x").qos(QoS::AtLeastOnce),
    )
    .await;

    // The driver dies: the socket closes without DISCONNECT.
    victim.abort();
    let m = next_message(&mut watcher_events, "the will of the aborted client").await;
    assert_eq!(m.message.topic, will_topic);
    assert_eq!(m.message.payload, b"gone");
    assert_eq!(m.message.qos, QoS::AtLeastOnce);
    within("the aborted driver to end", async {
        while !victim.is_closed() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let refused = victim.publish(Message::new(&will_topic, "late")).await;
    assert!(
        matches!(refused, Err(PublishError::SessionClosed)),
        "{refused:?}"
    );
    watcher.disconnect().await;
}

async fn persistent_session_gets_what_was_queued_while_away(version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let topic = format!("wasmqtt/persistent/{version:?}");
    let id = client_id("persistent", version);
    let (subscriber, _events, info) = connect(&addr(&broker), persistent(&id, version)).await;
    assert!(!info.session_present, "no session yet");
    subscribe(&subscriber, &topic, QoS::AtLeastOnce).await;
    within("disconnect", subscriber.disconnect()).await;

    let (publisher, _pub_events, _) = connect(
        &addr(&broker),
        options(&client_id("persistent-pub", version), version),
    )
    .await;
    const N: usize = 20;
    for i in 0..N {
        let code = publish_acked(
            &publisher,
            Message::new(&topic, format!("queued {i}")).qos(QoS::AtLeastOnce),
        )
        .await;
        assert_eq!(
            code,
            ReasonCode::SUCCESS,
            "the broker has a (disconnected) subscriber"
        );
    }

    let (subscriber, mut events, info) = connect(&addr(&broker), persistent(&id, version)).await;
    assert!(info.session_present, "the broker kept the session");
    for i in 0..N {
        let m = next_message(&mut events, &format!("queued message {i}")).await;
        assert_eq!(m.message.topic, topic);
        assert_eq!(
            m.message.payload,
            format!("queued {i}").into_bytes(),
            "in order"
        );
        assert_eq!(m.message.qos, QoS::AtLeastOnce);
    }
    subscriber.disconnect().await;
    publisher.disconnect().await;
}

async fn offline_queue_is_bounded_and_drains_on_reconnect(version: ProtocolVersion) {
    let mut broker = Mosquitto::start();
    let topic = format!("wasmqtt/offline/{version:?}");
    const QUEUE: usize = 3;
    let opts = options(&client_id("offline", version), version).max_queued_messages(QUEUE);
    let (client, mut events, _) = connect(&addr(&broker), opts).await;

    tokio::task::block_in_place(|| broker.stop());
    within("the client to notice the broker is gone", async {
        loop {
            match events.recv().await {
                Some(Event::Disconnected { reconnect_at, .. }) => {
                    assert!(reconnect_at.is_some(), "the session will reconnect");
                    break;
                }
                Some(_) => {}
                None => panic!("the event stream ended"),
            }
        }
    })
    .await;

    // Offline, messages wait in the session's queue up to its budget; past it the API refuses.
    let mut handles = Vec::new();
    for i in 0..QUEUE {
        let msg = Message::new(&topic, format!("offline {i}")).qos(QoS::AtLeastOnce);
        handles.push(publish(&client, msg).await);
    }
    let refused = within(
        "the refusal",
        client.publish(Message::new(&topic, "one too many").qos(QoS::AtLeastOnce)),
    )
    .await;
    assert!(
        matches!(
            refused,
            Err(PublishError::QueueFull {
                messages: QUEUE,
                ..
            })
        ),
        "{refused:?}"
    );

    tokio::task::block_in_place(|| broker.restart());
    next_connected(&mut events, "the reconnection").await;
    for (i, h) in handles.into_iter().enumerate() {
        let code = within(&format!("queued message {i} to be acknowledged"), h)
            .await
            .unwrap_or_else(|e| panic!("queued message {i}: {e}"));
        assert!(!code.is_error(), "queued message {i}: {code}");
    }
    client.disconnect().await;
}

/// How many messages the stream carries, and how many may wait unacknowledged at once.
const STREAM: usize = 1000;
const WINDOW: usize = 20;

async fn broker_restart_mid_stream_loses_nothing(version: ProtocolVersion) {
    let mut broker = Mosquitto::start();
    let address = addr(&broker);
    let topic = format!("wasmqtt/stream/{version:?}");
    let sub_id = client_id("stream-sub", version);
    // The subscriber is behind a recording proxy: the test judges it by what the broker sent it.
    let proxy = Proxy::start(broker.addr());
    let (subscriber, mut events, _) =
        connect(&proxy.addr().to_string(), persistent(&sub_id, version)).await;
    subscribe(&subscriber, &format!("{topic}/#"), QoS::ExactlyOnce).await;
    let (publisher, mut pub_events, _) = connect(
        &address,
        persistent(&client_id("stream-pub", version), version),
    )
    .await;

    // The publisher streams messages alternating QoS 1 and QoS 2, never more than WINDOW
    // unacknowledged, and reports how many were acknowledged.
    let (acked_tx, mut acked) = watch::channel(0usize);
    let stream_topic = topic.clone();
    let stream_client = publisher.clone();
    let stream = tokio::spawn(async move {
        let mut handles = std::collections::VecDeque::new();
        let mut done = 0;
        for i in 0..STREAM {
            if handles.len() == WINDOW {
                let (j, h): (usize, wasmqtt_tokio::PublishHandle) = handles.pop_front().unwrap();
                let code = h
                    .await
                    .unwrap_or_else(|e| panic!("message {j} failed: {e}"));
                assert!(!code.is_error(), "message {j}: {code}");
                done += 1;
                acked_tx.send_replace(done);
            }
            let qos = if i % 2 == 0 {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let msg = Message::new(format!("{stream_topic}/{i}"), i.to_string()).qos(qos);
            let h = stream_client
                .publish(msg)
                .await
                .unwrap_or_else(|e| panic!("message {i} refused: {e}"));
            handles.push_back((i, h));
        }
        for (j, h) in handles {
            let code = h
                .await
                .unwrap_or_else(|e| panic!("message {j} failed: {e}"));
            assert!(!code.is_error(), "message {j}: {code}");
            done += 1;
            acked_tx.send_replace(done);
        }
    });

    // The subscriber collects while the broker goes down and comes back a quarter of the way in.
    let mut seen: BTreeMap<usize, (QoS, usize)> = BTreeMap::new();
    let mut record = |m: wasmqtt::session::ReceivedMessage| {
        let i: usize = std::str::from_utf8(&m.message.payload)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("unexpected payload {:?}", m.message.payload));
        seen.entry(i).or_insert((m.message.qos, 0)).1 += 1;
    };
    within(
        "a quarter of the stream to be acknowledged",
        acked.wait_for(|n| *n >= STREAM / 4),
    )
    .await
    .expect("the stream task ended early");
    tokio::task::block_in_place(|| broker.restart());
    let at_restart = *acked.borrow();
    assert!(
        at_restart + WINDOW < STREAM,
        "the restart should come in the middle of the stream ({at_restart} of {STREAM} acknowledged)"
    );
    let _ = within(
        "the publisher to stream again after the restart",
        acked.wait_for(|n| *n >= STREAM / 2),
    )
    .await;
    within("every message of the stream to be acknowledged", stream)
        .await
        .expect("the stream task panicked");

    // A marker after the stream: messages arrive in order, so once it is here every
    // redelivery of the stream is too.
    let marker = format!("{topic}/end");
    publish_acked(
        &publisher,
        Message::new(&marker, "end").qos(QoS::ExactlyOnce),
    )
    .await;
    let mut reconnected = false;
    within("the whole stream and the marker at the subscriber", async {
        loop {
            match events.recv().await {
                Some(Event::Message(m)) if m.message.topic == marker => break,
                Some(Event::Message(m)) => record(m),
                Some(Event::Connected(info)) => {
                    assert!(
                        info.session_present,
                        "the restarted broker kept the subscriber's session"
                    );
                    reconnected = true;
                }
                Some(_) => {}
                None => panic!("the subscriber's events ended"),
            }
        }
    })
    .await;
    assert!(reconnected, "the subscriber reconnected after the restart");

    // The publisher came back to its own session (the restarted broker kept it), so what it had
    // in flight was resent (DUP / PUBREL) rather than requeued as new messages.
    let mut resumed = Vec::new();
    while let Ok(Some(e)) = pub_events.try_recv() {
        if let Event::Connected(info) = e {
            resumed.push(info.session_present);
        }
    }
    assert_eq!(
        resumed,
        vec![true],
        "the publisher's reconnection resumed its session"
    );

    let missing: Vec<usize> = (0..STREAM).filter(|i| !seen.contains_key(i)).collect();
    assert!(missing.is_empty(), "lost messages: {missing:?}");
    let fresh = fresh_deliveries(&proxy, version);
    for (i, (qos, count)) in &seen {
        let published = if i % 2 == 0 {
            QoS::AtLeastOnce
        } else {
            QoS::ExactlyOnce
        };
        assert_eq!(
            *qos, published,
            "message {i} delivered at the QoS it was published with"
        );
        if published == QoS::ExactlyOnce {
            // At most once per fresh PUBLISH: a duplicate is the client's fault only if it
            // delivered a PUBLISH whose packet id it had not released. mosquitto 2.0.11 may
            // resend a QoS 2 PUBLISH it had already released (PUBREL sent) across a restart:
            // that is a new message for the client (v5 MQTT-4.3.3-12, v3.1.1 MQTT-4.3.3-2).
            let allowed = fresh.get(i).copied().unwrap_or(0);
            assert!(
                *count <= allowed,
                "QoS 2 message {i} delivered {count} times, but the broker sent it only \
                 {allowed} time(s) for a packet id that was not awaiting PUBREL"
            );
        }
    }
    let duplicates: usize = seen.values().map(|(_, c)| c - 1).sum();
    let broker_resends: usize = fresh.values().map(|n| n.saturating_sub(1)).sum();
    eprintln!(
        "{version:?}: {STREAM} messages, {duplicates} duplicates delivered after the restart, \
         {broker_resends} fresh QoS 2 resends by the broker"
    );
    subscriber.disconnect().await;
    publisher.disconnect().await;
}

/// From the broker→client recording, for each stream payload (its index), how many QoS 2
/// PUBLISHes the broker sent it in for a packet id that was *not* awaiting PUBREL at the time:
/// the fresh deliveries, each of which the client may deliver once. An id awaits PUBREL from a
/// QoS 2 PUBLISH until the PUBREL for it; the state carries over a reconnection that resumed
/// the session (CONNACK session present) and is dropped on one that did not.
fn fresh_deliveries(proxy: &Proxy, version: ProtocolVersion) -> BTreeMap<usize, usize> {
    let decoder = wasmqtt::codec::Decoder::new(version);
    let mut awaiting_pubrel = std::collections::BTreeSet::new();
    let mut fresh = BTreeMap::new();
    for conn in 0..proxy.connections() {
        let bytes = proxy.bytes(conn, Direction::ToClient);
        let mut at = 0;
        while at < bytes.len() {
            let (packet, used) = match decoder.decode(&bytes[at..]) {
                Ok(Some(p)) => p,
                // A connection cut in the middle of a packet: that packet never arrived whole.
                Ok(None) => break,
                Err(e) => {
                    panic!("connection {conn}: the broker sent bytes that do not decode: {e}")
                }
            };
            at += used;
            match packet {
                wasmqtt::codec::Packet::ConnAck(c) if !c.session_present => awaiting_pubrel.clear(),
                wasmqtt::codec::Packet::Publish(p) if p.qos == QoS::ExactlyOnce => {
                    let is_fresh = awaiting_pubrel.insert(p.packet_id);
                    let index = std::str::from_utf8(p.payload)
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok());
                    if let (true, Some(i)) = (is_fresh, index) {
                        *fresh.entry(i).or_insert(0) += 1;
                    }
                }
                wasmqtt::codec::Packet::PubRel(r) => {
                    awaiting_pubrel.remove(&r.packet_id);
                }
                _ => {}
            }
        }
    }
    fresh
}
