//! Message expiry counted while a message waits in the session's queue (v5).

use crate::common::*;

fn expiring(payload: &[u8], qos: QoS, secs: u32) -> Message {
    msg("t/expiry", payload, qos).properties(MessageProperties {
        message_expiry_interval: Some(secs),
        ..MessageProperties::default()
    })
}

fn expiry_of(p: &OPublish) -> Option<u32> {
    p.props.message_expiry_interval
}

// Covers: v5 MQTT-3.3.2-6
#[test]
fn v5_a_message_queued_offline_sends_what_is_left_of_its_expiry_interval() {
    for qos in [Q0, Q1, Q2] {
        let mut sim = Sim::new(opts(V5));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        sim.publish(expiring(b"a", qos, 10)).expect("queued");
        sim.advance(3_500);
        sim.complete_open();
        sim.take();
        sim.send(&connack(false));
        let sent = publishes(&sim.take());
        assert_eq!(sent.len(), 1, "{qos:?}: {sent:?}");
        // 3.5 s waited: 3 whole seconds counted, 7 left.
        assert_eq!(expiry_of(&sent[0]), Some(7), "{qos:?}");
    }
}

#[test]
fn v5_a_message_sent_at_once_keeps_its_interval() {
    let mut sim = Sim::connected(opts(V5));
    sim.publish(expiring(b"a", Q1, 10)).expect("sent");
    let sent = publishes(&sim.take());
    assert_eq!(expiry_of(&sent[0]), Some(10));
}

#[test]
fn v5_a_message_that_expired_in_the_queue_fails_instead_of_being_sent() {
    for qos in [Q0, Q1, Q2] {
        let mut sim = Sim::new(opts(V5));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        let stale = sim.publish(expiring(b"stale", qos, 2)).expect("queued");
        let fresh = sim.publish(expiring(b"fresh", qos, 60)).expect("queued");
        sim.advance(2_000);
        sim.complete_open();
        sim.take();
        sim.send(&connack(false));
        let sent = publishes(&sim.take());
        assert_eq!(sent.len(), 1, "{qos:?}: only the fresh one goes: {sent:?}");
        assert_eq!(sent[0].payload, b"fresh");
        assert_eq!(expiry_of(&sent[0]), Some(58));
        let events = sim.take_events();
        let err = completion_of(&events, stale).expect_err("expired");
        assert_eq!(
            err,
            PublishError::Expired {
                interval: 2,
                waited_ms: 2_000
            }
        );
        assert_eq!(err.code(), "EXPIRED");
        if qos == Q0 {
            assert!(completion_of(&events, fresh).is_ok());
        }
    }
}

#[test]
fn v5_a_message_behind_a_full_window_counts_its_wait() {
    let mut sim = Sim::connected(opts(V5).max_inflight(1));
    sim.publish(msg("t/first", b"1", Q1)).expect("sent");
    sim.publish(expiring(b"2", Q1, 5)).expect("queued");
    let first = publishes(&sim.take());
    assert_eq!(first.len(), 1);
    sim.advance(2_400);
    sim.send(&puback(first[0].packet_id));
    let second = publishes(&sim.take());
    assert_eq!(second.len(), 1);
    assert_eq!(expiry_of(&second[0]), Some(3));
}

#[test]
fn v5_a_requeued_message_counts_on_from_its_first_sending() {
    let mut sim = Sim::connected(opts(V5));
    sim.publish(expiring(b"a", Q1, 10)).expect("sent");
    assert_eq!(expiry_of(&publishes(&sim.take())[0]), Some(10));
    sim.advance(1_000);
    sim.drop_connection();
    // Reconnects after the 1 s back-off; CONNACK comes at 4.2 s: the broker lost the session,
    // so the message is sent again as a new one, 4 whole seconds after its first sending.
    sim.advance(3_200);
    assert!(matches!(sim.take().as_slice(), [OPacket::Connect(_)]));
    sim.send(&connack(false));
    let sent = publishes(&sim.take());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(!sent[0].dup);
    assert_eq!(expiry_of(&sent[0]), Some(6));
}

#[test]
fn v5_a_resumed_session_resends_the_interval_it_sent() {
    let mut sim = Sim::connected(opts(V5).clean_start(false));
    sim.publish(expiring(b"a", Q1, 10)).expect("sent");
    sim.take();
    sim.advance(500);
    sim.drop_connection();
    sim.advance(5_000);
    assert!(matches!(sim.take().as_slice(), [OPacket::Connect(_)]));
    sim.send(&connack(true));
    let sent = publishes(&sim.take());
    assert_eq!(sent.len(), 1);
    assert!(sent[0].dup);
    assert_eq!(expiry_of(&sent[0]), Some(10));
}

#[test]
fn v311_has_no_expiry_to_count() {
    let mut sim = Sim::new(opts(V311));
    sim.open_mode = OpenMode::Hold;
    sim.start();
    let id = sim.publish(expiring(b"a", Q1, 1)).expect("queued");
    sim.advance(5_000);
    sim.complete_open();
    sim.take();
    sim.send(&connack(false));
    let sent = publishes(&sim.take());
    assert_eq!(sent.len(), 1, "3.1.1 sends it: no expiry there");
    sim.send(&puback(sent[0].packet_id));
    assert!(completion_of(&sim.take_events(), id).is_ok());
}
