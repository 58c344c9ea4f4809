//! The completion registry ([`Completions`]): what a driver keeps per publish and request,
//! settled from the session's own events, over simulated connections.

use crate::common::*;
use wasmqtt::session::{CompletionKey, Completions, Outcome, RequestId};

fn settle_all<T>(c: &mut Completions<T>, events: &[Event]) -> Vec<(T, Outcome)> {
    events.iter().filter_map(|e| c.settle(e)).collect()
}

/// Publishes at QoS 0, 1, 2 and a rejected one settle with their outcomes; other events and
/// unknown ids are left alone.
#[test]
fn publishes_settle_with_their_outcome() {
    let mut sim = Sim::connected(opts(V5));
    let mut c: Completions<&str> = Completions::new();
    let q0 = sim.publish(msg("t", b"0", Q0)).unwrap();
    let q1 = sim.publish(msg("t", b"1", Q1)).unwrap();
    let q2 = sim.publish(msg("t", b"2", Q2)).unwrap();
    let bad = sim.publish(msg("t", b"x", Q1)).unwrap();
    c.insert_publish(q0, "q0");
    c.insert_publish(q1, "q1");
    c.insert_publish(q2, "q2");
    c.insert_publish(bad, "bad");
    let p: Vec<_> = publishes(&sim.take())
        .into_iter()
        .filter(|p| p.qos != Q0)
        .collect();
    sim.send(&puback(p[0].packet_id));
    sim.send(&pubrec(p[1].packet_id));
    sim.send(&pubcomp(p[1].packet_id));
    sim.send(&puback_rc(p[2].packet_id, ReasonCode::NOT_AUTHORIZED));
    sim.send(&publish("in", b"m", Q0, 0));
    let events = sim.take_events();
    let mut settled = settle_all(&mut c, &events);
    settled.sort_by_key(|(k, _)| *k);
    assert_eq!(
        settled,
        vec![
            (
                "bad",
                Outcome::Published(Err(PublishError::Rejected(ReasonCode::NOT_AUTHORIZED)))
            ),
            ("q0", Outcome::Published(Ok(ReasonCode::SUCCESS))),
            ("q1", Outcome::Published(Ok(ReasonCode::SUCCESS))),
            ("q2", Outcome::Published(Ok(ReasonCode::SUCCESS))),
        ]
    );
    assert!(c.is_empty());
    assert!(
        messages(&events).len() == 1,
        "the message is not a completion"
    );
    // An id never inserted: nothing to settle.
    let stray = Event::PublishComplete {
        id: PublishId(999),
        result: Ok(ReasonCode::SUCCESS),
    };
    assert_eq!(c.settle(&stray), None);
    assert_eq!(
        Outcome::of(&stray).map(|(k, _)| k),
        Some(CompletionKey::Publish(PublishId(999)))
    );
}

/// SUBACK, UNSUBACK and their failures settle requests; the request results convert.
#[test]
fn requests_settle_with_reason_codes() {
    let mut sim = Sim::connected(opts(V5));
    let mut c: Completions<u32> = Completions::new();
    let s = sim.subscribe(&[("a/#", Q1)], None);
    c.insert_request(s, 1);
    let sent = sim.take();
    let pid = sent[0].subscribe().expect("SUBSCRIBE").packet_id;
    sim.send(&suback(pid, &[ReasonCode(1)]));
    let u = sim
        .session
        .unsubscribe(vec!["a/#".into()], sim.now)
        .unwrap();
    c.insert_request(u, 2);
    sim.run();
    let sent = sim.take();
    let OPacket::Unsubscribe(us) = &sent[0] else {
        panic!("{sent:?}")
    };
    sim.send(&unsuback(us.packet_id, &[ReasonCode::SUCCESS]));
    let settled = settle_all(&mut c, &sim.take_events());
    assert_eq!(
        settled,
        vec![
            (1, Outcome::Subscribed(vec![ReasonCode(1)])),
            (2, Outcome::Unsubscribed(vec![ReasonCode::SUCCESS])),
        ]
    );
    assert_eq!(
        settled[0].1.clone().into_request_result(),
        Some(Ok(vec![ReasonCode(1)]))
    );
    assert_eq!(settled[0].1.clone().into_publish_result(), None);
    assert!(c.is_empty());
}

/// The session closes for good: every publish and request kept fails, through the session's
/// own events, before its final `Disconnected`; `fail_all` then finds nothing left.
#[test]
fn closing_the_session_fails_everything_pending() {
    let mut sim = Sim::connected(opts(V5).max_inflight(1));
    let mut c: Completions<&str> = Completions::new();
    c.insert_publish(sim.publish(msg("t", b"1", Q1)).unwrap(), "inflight");
    c.insert_publish(sim.publish(msg("t", b"2", Q1)).unwrap(), "queued");
    c.insert_request(sim.subscribe(&[("x", Q0)], None), "subscribe");
    sim.take();
    sim.disconnect();
    let events = sim.take_events();
    let settled = settle_all(&mut c, &events);
    assert_eq!(settled.len(), 3);
    for (what, outcome) in &settled {
        assert!(
            matches!(
                outcome,
                Outcome::Published(Err(PublishError::SessionClosed))
                    | Outcome::RequestFailed(RequestError::SessionClosed)
            ),
            "{what}: {outcome:?}"
        );
    }
    assert!(matches!(
        events.last(),
        Some(Event::Disconnected {
            reconnect_at: None,
            ..
        })
    ));
    assert!(c.fail_all().is_empty());
}

/// A driver that ends without the session fails what it still keeps, publishes first.
#[test]
fn fail_all_fails_what_is_left() {
    let mut c: Completions<char> = Completions::default();
    c.insert_request(RequestId(1), 'r');
    c.insert_publish(PublishId(7), 'p');
    assert_eq!(c.len(), (1, 1));
    assert_eq!(
        c.fail_all(),
        vec![
            ('p', Outcome::Published(Err(PublishError::SessionClosed))),
            ('r', Outcome::RequestFailed(RequestError::SessionClosed)),
        ]
    );
    assert!(c.is_empty());
    assert_eq!(c.remove(CompletionKey::Publish(PublishId(7))), None);
}
