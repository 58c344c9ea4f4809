//! The bounded offline queue and backpressure.

use crate::common::*;

/// Publishes while disconnected wait in a queue bounded by a message budget; past it,
/// QueueFull; after CONNACK they are flushed in order.
#[test]
fn offline_queue_message_budget_and_flush_in_order() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).max_queued_messages(3));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        let a = sim.publish(msg("q", b"0", Q0)).unwrap();
        let b = sim.publish(msg("q", b"1", Q1)).unwrap();
        let c = sim.publish(msg("q", b"2", Q2)).unwrap();
        assert_eq!(sim.session.queued().0, 3);
        assert!(matches!(
            sim.publish(msg("q", b"3", Q1)),
            Err(PublishError::QueueFull { messages: 3, .. })
        ));
        sim.complete_open();
        assert_eq!(sim.take().len(), 1, "just CONNECT");
        sim.send(&connack(false));
        let p = publishes(&sim.take());
        let payloads: Vec<_> = p.iter().map(|p| p.payload.clone()).collect();
        assert_eq!(payloads, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(sim.session.queued(), (0, 0));
        let events = sim.take_events();
        assert_eq!(completion_of(&events, a), Ok(ReasonCode::SUCCESS));
        assert!(completions(&events).iter().all(|(i, _)| *i != b && *i != c));
        // The budget is free again.
        sim.publish(msg("q", b"4", Q1)).unwrap();
    }
}

/// The byte budget (topic + payload + properties) is independent of the message budget.
#[test]
fn offline_queue_byte_budget() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).max_queued_bytes(200));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        sim.publish(msg("t", &[7; 50], Q1)).unwrap();
        let (n, one) = sim.session.queued();
        assert_eq!(n, 1);
        assert!(one >= 51, "cost counts topic and payload: {one}");
        let fit = 200 / one;
        for _ in 1..fit {
            sim.publish(msg("t", &[7; 50], Q1)).unwrap();
        }
        match sim.publish(msg("t", &[7; 50], Q1)) {
            Err(PublishError::QueueFull { messages, bytes }) => {
                assert_eq!((messages, bytes), (fit, fit * one));
            }
            other => panic!("{v}: {other:?}"),
        }
        // A smaller message may still fit.
        let room = 200 - fit * one;
        if room > one - 50 {
            sim.publish(msg("t", &[], Q1)).unwrap();
        }
        assert!(sim.session.queued().1 <= 200);
    }
}

/// The same budgets hold while online with a full window.
#[test]
fn queue_budget_holds_online_with_a_full_window() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(1).max_queued_messages(2));
        sim.publish(msg("q", b"0", Q1)).unwrap();
        sim.publish(msg("q", b"1", Q1)).unwrap();
        sim.publish(msg("q", b"2", Q1)).unwrap();
        assert!(matches!(
            sim.publish(msg("q", b"3", Q1)),
            Err(PublishError::QueueFull { messages: 2, .. })
        ));
        // QoS 0 waits behind them too (order is kept), and counts.
        assert!(matches!(
            sim.publish(msg("q", b"4", Q0)),
            Err(PublishError::QueueFull { .. })
        ));
    }
}

/// QoS 0 publishing while the driver does not take the bytes: WouldBlock past the write budget,
/// never unbounded growth; once the driver drains, publishing works again. No deadlock.
#[test]
fn qos0_backpressure_would_block_then_recovers() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_pending_write_bytes(1_000));
        sim.hold_output = true;
        let mut accepted = Vec::new();
        let mut blocked = false;
        for i in 0..1_000u32 {
            match sim.publish(msg("bp", &[i as u8; 100], Q0)) {
                Ok(id) => accepted.push(id),
                Err(PublishError::WouldBlock) => {
                    blocked = true;
                    break;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(blocked, "{v}: WouldBlock came");
        assert!(
            accepted.len() >= 9 && accepted.len() <= 11,
            "{}",
            accepted.len()
        );
        assert!(sim.session.pending_write_bytes() < 1_000 + 120);
        // Still blocked while nothing drains.
        assert_eq!(
            sim.publish(msg("bp", b"x", Q0)),
            Err(PublishError::WouldBlock)
        );
        sim.hold_output = false;
        sim.run();
        assert_eq!(publishes(&sim.take()).len(), accepted.len());
        let events = sim.take_events();
        for id in &accepted {
            assert_eq!(completion_of(&events, *id), Ok(ReasonCode::SUCCESS));
        }
        sim.publish(msg("bp", b"again", Q0)).unwrap();
        assert_eq!(publishes(&sim.take()).len(), 1);
    }
}

/// A QoS 0 backlog queued offline, larger than the write budget, drains completely after the
/// CONNACK as the driver takes the bytes, without any further input (no deadlock).
#[test]
fn offline_qos0_backlog_larger_than_the_write_budget_drains() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).max_pending_write_bytes(500).keep_alive(0));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        let ids: Vec<_> = (0..20u8)
            .map(|i| sim.publish(msg("bl", &[i; 100], Q0)).unwrap())
            .collect();
        sim.complete_open();
        sim.take();
        sim.send(&connack(false));
        let p = publishes(&sim.take());
        let order: Vec<u8> = p.iter().map(|p| p.payload[0]).collect();
        assert_eq!(
            order,
            (0..20).collect::<Vec<u8>>(),
            "{v}: all sent, in order"
        );
        let events = sim.take_events();
        for id in ids {
            assert_eq!(completion_of(&events, id), Ok(ReasonCode::SUCCESS));
        }
        assert_eq!(sim.session.queued(), (0, 0));
    }
}

/// The same when QoS 0 messages wait behind a full window while the write buffer is full.
#[test]
fn qos0_waiting_behind_the_window_drains_after_the_driver_catches_up() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_pending_write_bytes(300).max_inflight(1));
        sim.publish(msg("w", b"a", Q1)).unwrap();
        sim.publish(msg("w", b"b", Q1)).unwrap(); // queued: window full
        let c = sim.publish(msg("w", b"c", Q0)).unwrap(); // queued behind b
        let a_pid = publishes(&sim.take())[0].packet_id;
        // The driver stops taking bytes while inbound QoS 1 traffic fills the write buffer.
        sim.hold_output = true;
        for pid in 1..=100 {
            sim.send(&publish("in", b"x", Q1, pid));
        }
        assert!(sim.session.pending_write_bytes() >= 300);
        sim.send(&puback(a_pid)); // b goes out, c finds the write buffer full
        sim.hold_output = false;
        sim.run();
        let sent = publishes(&sim.take());
        assert!(sent.iter().any(|p| p.payload == b"b"));
        assert!(
            sent.iter().any(|p| p.payload == b"c"),
            "{v}: c must not wait for another acknowledgement"
        );
        assert_eq!(
            completion_of(&sim.take_events(), c),
            Ok(ReasonCode::SUCCESS)
        );
    }
}
