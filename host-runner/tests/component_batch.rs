//! The batch calls of the provider component (`client.publish-batch`, `client.publish-packed`,
//! `client.poll-events`) in wasmtime against a real mosquitto: one result per message in order,
//! a bad message among good ones refused alone, flow control refusing the rest of a batch,
//! packed payloads split by their lengths, `max` bounding a poll.
//!
//! ```text
//! CARGO_INCREMENTAL=0 scripts/build-components.sh
//! cargo test --release -p wasmqtt-host --test component_batch
//! ```

mod common;
use common::provider;
use wasmqtt_testkit::mosquitto;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mosquitto::Mosquitto;
use wasmqtt_host::types::{self, Delivery, Error as WitError, Event, ProtocolVersion, Qos};
use wasmqtt_host::{Client, ClientError, NetworkPolicy};

const WAIT: Duration = Duration::from_secs(10);

fn connect(broker: &Mosquitto, id: &str, tune: impl FnOnce(&mut types::ConnectOptions)) -> Client {
    let policy = NetworkPolicy::broker("127.0.0.1", broker.port()).expect("policy");
    let mut opts = types::connect_options("127.0.0.1", broker.port(), id, ProtocolVersion::V5);
    tune(&mut opts);
    Client::connect(provider(), &policy, &opts).unwrap_or_else(|e| panic!("{id} connects: {e}"))
}

/// Polls with `poll-events` until `f` has seen enough (returns true), checking `max` on every
/// answer. Panics after [`WAIT`].
fn poll_until(client: &mut Client, what: &str, max: u32, mut f: impl FnMut(&Event) -> bool) {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        let events = client
            .poll_events(max, Duration::from_millis(20))
            .unwrap_or_else(|e| panic!("poll-events while waiting for {what}: {e}"));
        assert!(
            events.len() <= max.max(1) as usize,
            "poll-events({max}) returned {} events",
            events.len()
        );
        for e in &events {
            if f(e) {
                return;
            }
        }
    }
    panic!("no {what} within {WAIT:?}");
}

/// A client with an inflight window of 1 and room for 2 queued messages.
fn flow_limited(broker: &Mosquitto, id: &str) -> Client {
    connect(broker, id, |o| {
        o.max_inflight = Some(1);
        o.max_queued_messages = Some(2);
    })
}

/// Checks a flow-limited call's results: some admitted, then every one after the first
/// `queue-full` refused alike. Returns how many were admitted.
fn admitted_until_queue_full(results: &[Result<u64, WitError>]) -> usize {
    let admitted = results.iter().take_while(|r| r.is_ok()).count();
    assert!(
        (1..results.len()).contains(&admitted),
        "some admitted, some refused: {results:?}"
    );
    assert!(
        results[admitted..]
            .iter()
            .all(|r| matches!(r, Err(WitError::QueueFull))),
        "after the first queue-full every message is refused alike: {results:?}"
    );
    admitted
}

/// Checks that `ids` are distinct delivery ids, then polls (`max` events a call) until each has
/// completed once, acknowledged with a success code.
fn await_acknowledged(client: &mut Client, ids: &[u64], max: u32) {
    let mut pending: HashSet<u64> = ids.iter().copied().collect();
    assert_eq!(pending.len(), ids.len(), "distinct delivery ids: {ids:?}");
    poll_until(client, "the completions", max, |e| {
        if let Event::PublishComplete((id, delivery)) = e {
            assert!(
                matches!(delivery, Delivery::Acknowledged(c) if *c < 0x80),
                "#{id}: {delivery:?}"
            );
            assert!(pending.remove(id), "unexpected completion #{id}");
        }
        pending.is_empty()
    });
}

fn subscribe(client: &mut Client, filter: &str) {
    let id = client
        .subscribe(&[types::subscription(filter, Qos::AtLeastOnce)], None)
        .expect("subscribe");
    poll_until(
        client,
        "SUBACK",
        8,
        |e| matches!(e, Event::Subscribed((rid, codes)) if *rid == id && codes == &[1]),
    );
}

#[test]
fn a_bad_message_in_a_batch_gets_its_error_and_the_others_go() {
    let broker = Mosquitto::start();
    let mut sub = connect(&broker, "batch-sub", |_| {});
    let mut publ = connect(&broker, "batch-pub", |_| {});
    subscribe(&mut sub, "batch/#");

    let batch = [
        types::message("batch/a", b"one", Qos::AtLeastOnce, false),
        types::message("batch/+/wild", b"bad topic", Qos::AtLeastOnce, false),
        types::message("batch/b", b"two", Qos::AtMostOnce, false),
        types::message("", b"empty topic", Qos::AtMostOnce, false),
        types::message("batch/c", b"three", Qos::ExactlyOnce, false),
    ];
    let results = publ.publish_batch(&batch).expect("publish-batch");
    assert_eq!(results.len(), batch.len(), "one result per message");
    assert!(
        matches!(results[1], Err(WitError::InvalidTopic(_))),
        "a wildcard in a topic name: {:?}",
        results[1]
    );
    assert!(
        matches!(results[3], Err(WitError::InvalidTopic(_))),
        "an empty topic name: {:?}",
        results[3]
    );
    let ids: Vec<u64> = [0, 2, 4]
        .iter()
        .map(|&i| {
            results[i]
                .clone()
                .unwrap_or_else(|e| panic!("message {i} refused: {e:?}"))
        })
        .collect();
    // Every admitted message completes, acknowledged.
    await_acknowledged(&mut publ, &ids, 2);

    // The subscriber gets the three good ones, in the batch's order.
    let mut got = Vec::new();
    poll_until(&mut sub, "the three messages", 64, |e| {
        if let Event::Message(m) = e {
            got.push((m.topic.clone(), m.payload.clone()));
        }
        got.len() == 3
    });
    assert_eq!(
        got,
        vec![
            ("batch/a".to_string(), b"one".to_vec()),
            ("batch/b".to_string(), b"two".to_vec()),
            ("batch/c".to_string(), b"three".to_vec()),
        ]
    );

    // An empty batch is an empty answer.
    assert_eq!(publ.publish_batch(&[]).expect("empty batch"), vec![]);

    // Closed: `poll-events` delivers what is left, then fails with `closed`.
    publ.disconnect().expect("disconnect");
    let deadline = Instant::now() + WAIT;
    loop {
        match publ.poll_events(16, Duration::from_millis(20)) {
            Ok(_) => assert!(Instant::now() < deadline, "never closed"),
            Err(ClientError::Mqtt(WitError::Closed)) => break,
            Err(e) => panic!("poll-events after disconnect: {e}"),
        }
    }
    sub.disconnect().expect("disconnect");
}

#[test]
fn flow_control_refuses_the_rest_of_a_batch_in_order() {
    let broker = Mosquitto::start();
    let mut publ = flow_limited(&broker, "batch-flow");
    let batch: Vec<_> = (0..10)
        .map(|i| {
            types::message(
                "batch/flow",
                format!("m{i}").as_bytes(),
                Qos::AtLeastOnce,
                false,
            )
        })
        .collect();
    let results = publ.publish_batch(&batch).expect("publish-batch");
    assert_eq!(results.len(), batch.len());
    let admitted = admitted_until_queue_full(&results);

    // The admitted ones complete; then the refused ones go in a later batch.
    let mut ids: HashSet<u64> = results.iter().filter_map(|r| r.clone().ok()).collect();
    let mut rest = &batch[admitted..];
    let deadline = Instant::now() + WAIT;
    while !(ids.is_empty() && rest.is_empty()) {
        assert!(
            Instant::now() < deadline,
            "batch not through: {} left",
            rest.len()
        );
        for e in publ
            .poll_events(64, Duration::from_millis(20))
            .expect("poll-events")
        {
            if let Event::PublishComplete((id, d)) = e {
                assert!(matches!(d, Delivery::Acknowledged(_)), "#{id}: {d:?}");
                assert!(ids.remove(&id), "unexpected completion #{id}");
            }
        }
        if !rest.is_empty() {
            let results = publ.publish_batch(rest).expect("publish-batch");
            let n = results.iter().take_while(|r| r.is_ok()).count();
            ids.extend(results[..n].iter().map(|r| r.clone().unwrap()));
            rest = &rest[n..];
        }
    }
    publ.disconnect().expect("disconnect");
}

#[test]
fn publish_packed_sends_each_payload_in_order_with_the_shared_fields() {
    let broker = Mosquitto::start();
    let mut sub = connect(&broker, "packed-sub", |_| {});
    let mut publ = connect(&broker, "packed-pub", |_| {});
    subscribe(&mut sub, "packed/#");

    // Payloads of 3, 0 and 5 bytes back to back, at QoS 0, then two at QoS 1 with a content
    // type (MQTT 5.0): every message keeps the shared topic, QoS and properties.
    let r0 = publ
        .publish_packed(
            "packed/a",
            b"onehello",
            &[3, 0, 5],
            Qos::AtMostOnce,
            false,
            None,
        )
        .expect("publish-packed");
    let mut props = types::no_properties();
    props.content_type = Some("text/plain".to_string());
    let r1 = publ
        .publish_packed(
            "packed/b",
            b"xyz",
            &[1, 2],
            Qos::AtLeastOnce,
            false,
            Some(&props),
        )
        .expect("publish-packed");
    assert_eq!((r0.len(), r1.len()), (3, 2), "one result per length");
    let ids: Vec<u64> = r0
        .iter()
        .chain(&r1)
        .map(|r| r.clone().unwrap_or_else(|e| panic!("refused: {e:?}")))
        .collect();
    await_acknowledged(&mut publ, &ids, 8);

    let mut got = Vec::new();
    poll_until(&mut sub, "the five messages", 64, |e| {
        if let Event::Message(m) = e {
            let content_type = m.properties.as_ref().and_then(|p| p.content_type.clone());
            got.push((
                m.topic.clone(),
                m.payload.clone(),
                m.qos.level(),
                content_type,
            ));
        }
        got.len() == 5
    });
    let text = Some("text/plain".to_string());
    assert_eq!(
        got,
        vec![
            ("packed/a".to_string(), b"one".to_vec(), 0, None),
            ("packed/a".to_string(), b"".to_vec(), 0, None),
            ("packed/a".to_string(), b"hello".to_vec(), 0, None),
            ("packed/b".to_string(), b"x".to_vec(), 1, text.clone()),
            ("packed/b".to_string(), b"yz".to_vec(), 1, text),
        ]
    );

    // Lengths that do not add up to the payloads: nothing goes, every result says why.
    for lengths in [&[2u32, 3][..], &[1, 4, 0], &[u32::MAX, 5], &[]] {
        let r = publ
            .publish_packed("packed/c", b"abcd", lengths, Qos::AtLeastOnce, false, None)
            .expect("publish-packed");
        assert_eq!(r.len(), lengths.len());
        assert!(
            r.iter()
                .all(|r| matches!(r, Err(WitError::InvalidArgument(m)) if m.contains("add up"))),
            "{lengths:?}: {r:?}"
        );
    }
    // A topic that is no topic name: every message refused for it.
    let r = publ
        .publish_packed("packed/#", b"ab", &[1, 1], Qos::AtMostOnce, false, None)
        .expect("publish-packed");
    assert!(
        r.iter()
            .all(|r| matches!(r, Err(WitError::InvalidTopic(_)))),
        "{r:?}"
    );
    // No lengths: an empty answer.
    assert_eq!(
        publ.publish_packed("packed/d", b"", &[], Qos::AtMostOnce, false, None)
            .expect("empty"),
        vec![]
    );
    // A marker after the refused calls: the subscriber gets it next, so none of them
    // published anything.
    let end = publ
        .publish(&types::message(
            "packed/end",
            b"end",
            Qos::AtLeastOnce,
            false,
        ))
        .expect("publish");
    // Written by the publisher's next poll (small messages are batched).
    poll_until(
        &mut publ,
        "the marker's PUBACK",
        8,
        |e| matches!(e, Event::PublishComplete((id, _)) if *id == end),
    );
    let mut next = None;
    poll_until(&mut sub, "the marker", 64, |e| {
        if let Event::Message(m) = e {
            next = Some(m.topic.clone());
            return true;
        }
        false
    });
    assert_eq!(next.as_deref(), Some("packed/end"));
    publ.disconnect().expect("disconnect");
    sub.disconnect().expect("disconnect");
}

#[test]
fn flow_control_refuses_the_rest_of_a_packed_call_in_order() {
    let broker = Mosquitto::start();
    let mut publ = flow_limited(&broker, "packed-flow");
    let payloads: Vec<u8> = (0..10u8).collect();
    let lengths = [1u32; 10];
    let results = publ
        .publish_packed(
            "packed/flow",
            &payloads,
            &lengths,
            Qos::AtLeastOnce,
            false,
            None,
        )
        .expect("publish-packed");
    assert_eq!(results.len(), 10);
    let admitted = admitted_until_queue_full(&results);
    let ids: Vec<u64> = results[..admitted]
        .iter()
        .map(|r| r.clone().unwrap())
        .collect();
    await_acknowledged(&mut publ, &ids, 64);
    publ.disconnect().expect("disconnect");
}
