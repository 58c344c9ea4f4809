//! Write backpressure as a session input ([`Session::handle_write_blocked`] /
//! [`Session::handle_writable`]) and the coalescing of small packets into one transmit
//! ([`Options::max_transmit_bytes`]): `poll_output` is the only loop a driver needs.

use crate::common::*;

/// What one `poll_output` drain produced.
#[derive(Default, Debug)]
struct Drain {
    transmits: Vec<Vec<u8>>,
    events: Vec<Event>,
    /// Output kinds in order: 'T'ransmit, 'E'vent, 'C'lose, 'O'pen.
    order: String,
}

fn drain(s: &mut Session) -> Drain {
    drain_with(s, |_, _| {})
}

/// Drains `poll_output`, calling `on_event` for each event (the application's handler).
fn drain_with(s: &mut Session, mut on_event: impl FnMut(&mut Session, &Event)) -> Drain {
    let mut d = Drain::default();
    for _ in 0..10_000 {
        match s.poll_output() {
            Output::Transmit(b) => {
                d.order.push('T');
                d.transmits.push(b);
            }
            Output::Event(e) => {
                d.order.push('E');
                on_event(s, &e);
                d.events.push(e);
            }
            Output::CloseTransport => d.order.push('C'),
            Output::OpenTransport => d.order.push('O'),
            Output::Wait(_) => return d,
        }
    }
    panic!("no Wait");
}

/// A session connected at time 0, its CONNECT and CONNACK events drained.
fn connected(o: Options) -> Session {
    let mut s = Session::new(o);
    s.connect(0);
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(0);
    drain(&mut s);
    s.handle_bytes(&encode(V5, &connack(false)), 0);
    drain(&mut s);
    assert!(s.is_connected());
    s
}

fn packets(bytes: &[Vec<u8>]) -> Vec<OPacket> {
    bytes.iter().flat_map(|b| decode_all(V5, b)).collect()
}

/// Many small publishes between two drains go out as one transmit, in order.
#[test]
fn small_publishes_coalesce_into_one_transmit() {
    let mut s = connected(opts(V5));
    for i in 0..100u8 {
        s.publish(msg("t", &[i; 20], Q0), 1).unwrap();
        s.publish(msg("t", &[i; 20], Q1), 1).unwrap();
    }
    let d = drain(&mut s);
    assert_eq!(d.transmits.len(), 1, "{}", d.order);
    let p = publishes(&packets(&d.transmits));
    assert_eq!(p.len(), 200);
    assert!(p
        .iter()
        .enumerate()
        .all(|(i, m)| m.payload[0] == (i / 2) as u8));
}

/// Below the bound, a partial batch goes out at the end of the drain, after the events; what
/// the application publishes in answer to an event joins the same transmit.
#[test]
fn a_partial_batch_goes_out_at_the_end_of_the_drain() {
    let mut s = connected(opts(V5));
    s.publish(msg("t", b"first", Q0), 1).unwrap();
    let mut answered = 0;
    let d = drain_with(&mut s, |s, e| {
        if matches!(e, Event::PublishComplete { .. }) && answered < 3 {
            answered += 1;
            s.publish(msg("t", b"reply", Q0), 1).unwrap();
        }
    });
    assert_eq!(d.order, "EEEET", "events first, one transmit last");
    assert_eq!(publishes(&packets(&d.transmits)).len(), 4);
}

/// A full batch goes out at once, before the events; a smaller rest at the end.
#[test]
fn a_full_batch_goes_out_mid_drain() {
    let mut s = connected(opts(V5).max_transmit_bytes(1_000));
    for _ in 0..30 {
        s.publish(msg("t", &[7; 50], Q0), 1).unwrap();
    }
    assert!(s.transmit_ready());
    let d = drain(&mut s);
    assert!(d.order.starts_with('T'), "{}", d.order);
    assert!(d.transmits[0].len() >= 1_000);
    assert_eq!(publishes(&packets(&d.transmits)).len(), 30);
    assert!(!s.transmit_ready());
    s.publish(msg("t", &[7; 50], Q0), 1).unwrap();
    assert!(!s.transmit_ready(), "one small message is not a full batch");
}

/// A single packet larger than the bound goes out whole.
#[test]
fn a_large_packet_goes_out_whole() {
    let mut s = connected(opts(V5).max_transmit_bytes(100));
    s.publish(msg("t", &[1; 5_000], Q1), 1).unwrap();
    let d = drain(&mut s);
    assert_eq!(d.transmits.len(), 1);
    assert_eq!(publishes(&packets(&d.transmits))[0].payload.len(), 5_000);
}

/// While blocked, no transmit; the QoS 0 write budget answers `WouldBlock`; once writable,
/// everything that waited goes out in one transmit and publishing works again.
#[test]
fn blocked_writes_hold_bytes_and_the_budget_holds() {
    let mut s = connected(opts(V5).max_pending_write_bytes(1_000));
    s.handle_write_blocked();
    assert!(s.is_write_blocked());
    let mut accepted = 0;
    let refused = loop {
        match s.publish(msg("t", &[3; 100], Q0), 2) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted < 100, "the budget never ran out");
    };
    assert_eq!(refused, PublishError::WouldBlock);
    let d = drain(&mut s);
    assert!(
        d.transmits.is_empty(),
        "no transmit while blocked: {}",
        d.order
    );
    assert!(!s.transmit_ready());
    assert_eq!(completions(&d.events).len(), accepted);
    s.handle_writable(3);
    assert!(!s.is_write_blocked());
    let d = drain(&mut s);
    assert_eq!(d.transmits.len(), 1);
    assert_eq!(publishes(&packets(&d.transmits)).len(), accepted);
    assert!(s.publish(msg("t", &[3; 100], Q0), 4).is_ok());
}

/// QoS 0 messages queued behind the write budget move on when the transport is writable again.
#[test]
fn queued_qos0_moves_on_when_writable() {
    let mut s = connected(opts(V5).max_pending_write_bytes(500).max_inflight(1));
    s.handle_write_blocked();
    s.publish(msg("t", &[1; 600], Q1), 1).unwrap();
    // The QoS 1 filled the buffer; the window is full: these QoS 0 wait in the queue.
    s.publish(msg("t", b"a", Q1), 1).unwrap();
    let q0 = s.publish(msg("t", b"b", Q0), 1).unwrap();
    assert_eq!(s.queued().0, 2);
    drain(&mut s);
    s.handle_writable(5);
    let d = drain(&mut s);
    assert_eq!(publishes(&packets(&d.transmits)).len(), 1, "window of one");
    s.handle_bytes(&encode(V5, &puback(1)), 6);
    let d = drain(&mut s);
    assert_eq!(publishes(&packets(&d.transmits)).len(), 2);
    assert_eq!(completion_of(&d.events, q0), Ok(ReasonCode::SUCCESS));
}

/// Keep-alive still runs while blocked: PINGREQ waits, and a silent broker is still noticed.
#[test]
fn keep_alive_survives_a_blocked_transport() {
    let mut s = connected(opts(V5).keep_alive(10));
    s.handle_write_blocked();
    s.handle_timeout(10_000);
    assert!(drain(&mut s).transmits.is_empty());
    s.handle_timeout(15_000);
    let d = drain(&mut s);
    assert_eq!(
        the_disconnect(&d.events).0,
        DisconnectReason::KeepAliveTimeout
    );
    assert!(d.order.contains('C'));
}

/// Disconnecting while blocked: the DISCONNECT still comes out, right before `CloseTransport`;
/// the next transport starts writable.
#[test]
fn disconnect_while_blocked_hands_out_the_last_bytes() {
    let mut s = connected(opts(V5));
    s.handle_write_blocked();
    s.publish(msg("t", b"x", Q0), 1).unwrap();
    s.disconnect(2);
    let d = drain(&mut s);
    assert!(d.order.starts_with("TC"), "{}", d.order);
    let p = packets(&d.transmits);
    assert_eq!(
        p.last().map(OPacket::packet_type),
        Some(PacketType::Disconnect)
    );
    assert!(!s.is_write_blocked());
}

/// A new transport is writable: a block on the lost one does not carry over.
#[test]
fn a_new_transport_starts_writable() {
    let mut s = connected(opts(V5));
    s.handle_write_blocked();
    s.handle_disconnected(1);
    drain(&mut s);
    let State::Reconnecting(at) = s.state() else {
        panic!("{:?}", s.state())
    };
    s.handle_timeout(at);
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(at);
    let d = drain(&mut s);
    assert!(matches!(
        packets(&d.transmits).as_slice(),
        [OPacket::Connect(_)]
    ));
}

/// `pending_write_bytes` observes what waits to be written, blocked or not; one drain of
/// `poll_output` hands all of it out in one transmit and leaves nothing pending.
#[test]
fn a_drain_takes_everything_pending() {
    let mut s = connected(opts(V5));
    s.publish(msg("t", b"x", Q0), 1).unwrap();
    let one = s.pending_write_bytes();
    assert!(one > 0);
    s.handle_write_blocked();
    s.publish(msg("t", b"y", Q0), 1).unwrap();
    assert!(drain(&mut s).transmits.is_empty());
    assert!(s.pending_write_bytes() > one);
    s.handle_writable(2);
    let d = drain(&mut s);
    assert_eq!(d.transmits.len(), 1, "{}", d.order);
    let payloads: Vec<_> = publishes(&packets(&d.transmits))
        .into_iter()
        .map(|p| p.payload)
        .collect();
    assert_eq!(payloads, vec![b"x".to_vec(), b"y".to_vec()]);
    assert_eq!(s.pending_write_bytes(), 0);
    assert!(matches!(s.poll_output(), Output::Wait(_)));
}
