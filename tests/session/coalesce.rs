//! Write coalescing across acknowledgements ([`Options::write_coalescing`]): what a drain after
//! `handle_bytes` writes is held, Nagle-like, while acknowledgements keep arriving and some
//! message in flight awaits only the broker; any other input or the hold's deadline (part of
//! `poll_timeout`) releases it. Simulated time: every input carries its own `now`.

use crate::common::*;
use wasmqtt::session::WriteCoalescing;

/// One `poll_output` drain: the transmits (decoded) and the deadline it ended with.
fn drain(s: &mut Session) -> (Vec<OPacket>, Option<u64>) {
    let mut sent = Vec::new();
    for _ in 0..10_000 {
        match s.poll_output() {
            Output::Transmit(b) => sent.extend(decode_all(V5, &b)),
            Output::Wait(d) => return (sent, d),
            _ => {}
        }
    }
    panic!("no Wait");
}

/// A session connected at time 0 with `max_inflight` and coalescing `c`; `queued` QoS 1
/// publishes made at once: the first `max_inflight` of them are in flight (packet
/// identifiers 1..), the rest queued.
fn loaded(o: Options, queued: usize) -> Session {
    let mut s = Session::new(o);
    s.connect(0);
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(0);
    drain(&mut s);
    s.handle_bytes(&encode(V5, &connack(false)), 0);
    drain(&mut s);
    assert!(s.is_connected());
    for i in 0..queued {
        s.publish(msg("t", &[i as u8; 10], Q1), 0).unwrap();
    }
    let (sent, _) = drain(&mut s);
    let window = usize::from(s.options().max_inflight).min(queued);
    assert_eq!(
        publishes(&sent).len(),
        window,
        "an application call is never held"
    );
    s
}

fn on(max_inflight: u16) -> Options {
    opts(V5)
        .max_inflight(max_inflight)
        .write_coalescing(Some(WriteCoalescing::default()))
}

fn ack(s: &mut Session, id: u16, now: u64) -> (Vec<OPacket>, Option<u64>) {
    s.handle_bytes(&encode(V5, &puback(id)), now);
    drain(s)
}

fn ids(sent: &[OPacket]) -> Vec<u16> {
    publishes(sent).iter().map(|p| p.packet_id).collect()
}

/// Held while acknowledgements arrive and messages in flight await the broker; released once
/// a quarter of the window's acknowledgements came, all of them in one transmit.
#[test]
fn held_until_a_quarter_of_the_window_acknowledged() {
    let mut s = loaded(on(8), 30);
    let (sent, deadline) = ack(&mut s, 1, 10);
    assert!(sent.is_empty(), "held: {sent:?}");
    assert_eq!(
        deadline,
        Some(11),
        "the hold's deadline (1 ms) is the next one"
    );
    assert!(s.pending_write_bytes() > 0);
    assert_eq!(
        s.inflight_len(),
        8,
        "the released publish is in flight, not written"
    );
    let (sent, deadline) = ack(&mut s, 2, 10);
    assert_eq!(
        ids(&sent),
        [9, 10],
        "2 of 8 = a quarter: both in one transmit"
    );
    assert_ne!(deadline, Some(11), "no hold, no hold deadline");
    // Counting starts again after the transmit.
    let (sent, _) = ack(&mut s, 3, 10);
    assert!(sent.is_empty());
    let (sent, _) = ack(&mut s, 4, 10);
    assert_eq!(ids(&sent), [11, 12]);
}

/// A PUBREL answering a PUBREC is held like a released publish.
#[test]
fn pubrel_is_held_too() {
    let mut s = Session::new(on(8));
    s.connect(0);
    s.poll_output();
    s.handle_connected(0);
    drain(&mut s);
    s.handle_bytes(&encode(V5, &connack(false)), 0);
    drain(&mut s);
    for _ in 0..8 {
        s.publish(msg("t", b"x", Q2), 0).unwrap();
    }
    drain(&mut s);
    s.handle_bytes(&encode(V5, &pubrec(1)), 5);
    assert!(drain(&mut s).0.is_empty());
    s.handle_bytes(&encode(V5, &pubrec(2)), 5);
    let (sent, _) = drain(&mut s);
    let rels: Vec<_> = sent
        .iter()
        .filter_map(|p| match p {
            OPacket::PubRel(r) => Some(r.packet_id),
            _ => None,
        })
        .collect();
    assert_eq!(rels, [1, 2]);
}

/// A full batch ([`Options::max_transmit_bytes`]) goes out even below a quarter window.
#[test]
fn released_at_max_transmit_bytes() {
    let mut s = loaded(on(40).max_transmit_bytes(50), 60);
    // Each publish is about 20 bytes: the third makes a full batch.
    assert!(ack(&mut s, 1, 1).0.is_empty());
    assert!(ack(&mut s, 2, 1).0.is_empty());
    let (sent, _) = ack(&mut s, 3, 1);
    assert_eq!(ids(&sent), [41, 42, 43]);
}

/// Any application call releases what is held, in the same drain as what it writes.
#[test]
fn released_by_an_application_call() {
    let mut s = loaded(on(8), 30);
    assert!(ack(&mut s, 1, 10).0.is_empty());
    s.subscribe(
        vec![("a/b".into(), SubscriptionOptions::default())],
        None,
        10,
    )
    .unwrap();
    let (sent, _) = drain(&mut s);
    assert_eq!(ids(&sent), [9]);
    assert!(
        matches!(sent.last(), Some(OPacket::Subscribe(_))),
        "{sent:?}"
    );

    assert!(ack(&mut s, 2, 10).0.is_empty());
    s.publish(msg("t", b"late", Q0), 10).unwrap();
    let (sent, _) = drain(&mut s);
    // The QoS 0 message queues behind the QoS 1 ones; the held publish goes out.
    assert_eq!(ids(&sent), [11], "(SUBSCRIBE took 10)");

    // DISCONNECT is never held: it goes out with what was held.
    assert!(ack(&mut s, 3, 10).0.is_empty());
    s.disconnect(10);
    let (sent, _) = drain(&mut s);
    assert!(
        matches!(sent.last(), Some(OPacket::Disconnect(_))),
        "{sent:?}"
    );
    assert_eq!(ids(&sent), [12]);
}

/// Other driver inputs release it too.
#[test]
fn released_by_handle_writable() {
    let mut s = loaded(on(8), 30);
    assert!(ack(&mut s, 1, 10).0.is_empty());
    s.handle_writable(10);
    assert_eq!(ids(&drain(&mut s).0), [9]);
}

/// The hold's deadline is a `poll_timeout` deadline: the driver's ordinary timer releases it.
/// A `handle_timeout` before it (a driver checking the clock after each read) keeps the hold;
/// more acknowledgements do not move it.
#[test]
fn released_at_the_deadline() {
    let mut s = loaded(on(40), 60);
    assert!(ack(&mut s, 1, 10).0.is_empty());
    s.handle_timeout(10);
    let (sent, deadline) = drain(&mut s);
    assert!(sent.is_empty(), "an early clock check keeps the hold");
    assert_eq!(deadline, Some(11));
    assert_eq!(s.poll_timeout(), Some(11));
    s.handle_timeout(11);
    assert_eq!(ids(&drain(&mut s).0), [41]);

    // A hold that began at 20 ends at 21 even while acknowledgements keep coming.
    assert!(ack(&mut s, 2, 20).0.is_empty());
    let (sent, deadline) = ack(&mut s, 3, 20);
    assert!(sent.is_empty());
    assert_eq!(
        deadline,
        Some(21),
        "not moved by the second acknowledgement"
    );
    let (sent, _) = ack(&mut s, 4, 21);
    assert_eq!(
        ids(&sent),
        [42, 43, 44],
        "past the deadline the drain writes"
    );
}

/// A longer hold (`max_hold_ms`) and another fraction of the window (`window_divisor`).
#[test]
fn the_hold_is_configurable() {
    let c = WriteCoalescing {
        window_divisor: 2,
        max_hold_ms: 50,
    };
    let mut s = loaded(opts(V5).max_inflight(8).write_coalescing(Some(c)), 30);
    for id in 1..4 {
        let (sent, deadline) = ack(&mut s, id, 100);
        assert!(sent.is_empty());
        assert_eq!(deadline, Some(150));
    }
    assert_eq!(
        ids(&ack(&mut s, 4, 100).0),
        [9, 10, 11, 12],
        "half the window"
    );
}

/// Nothing is held unless some message in flight awaits only the broker: with every one of
/// them waiting on held bytes, or none in flight, the drain writes at once (no deadlock).
#[test]
fn never_held_with_nothing_awaiting_the_broker() {
    // One message in flight, one queued: its acknowledgement releases the queued one, which
    // would then wait on the hold alone.
    let mut s = loaded(on(1), 2);
    assert_eq!(ids(&ack(&mut s, 1, 10).0), [2]);

    // Nothing in flight: the PUBACK of an inbound QoS 1 message goes out at once.
    let mut s = loaded(on(8), 0);
    s.handle_bytes(&encode(V5, &publish("t", b"in", Q1, 7)), 10);
    let (sent, _) = drain(&mut s);
    assert!(
        matches!(sent.as_slice(), [OPacket::PubAck(a)] if a.packet_id == 7),
        "{sent:?}"
    );

    // Two in flight, both acknowledged in one read: the one released waits, none awaits the
    // broker.
    let mut s = loaded(on(40), 2);
    let mut both = encode(V5, &puback(1));
    both.extend(encode(V5, &puback(2)));
    s.handle_bytes(&both, 10);
    assert!(drain(&mut s).0.is_empty(), "nothing to write");
    assert_eq!(s.inflight_len(), 0);
}

/// CONNECT is never held (the session is not connected yet).
#[test]
fn connect_is_never_held() {
    let mut s = Session::new(on(8));
    s.connect(0);
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(0);
    let (sent, _) = drain(&mut s);
    assert!(matches!(sent.as_slice(), [OPacket::Connect(_)]), "{sent:?}");
}

/// On by default (a quarter of the window, 1 ms); turned off, every drain after an
/// acknowledgement writes what it released.
#[test]
fn on_by_default_and_off_writes_every_drain() {
    assert_eq!(
        Options::default().write_coalescing,
        Some(WriteCoalescing {
            window_divisor: 4,
            max_hold_ms: 1
        })
    );
    let mut s = loaded(opts(V5).max_inflight(8).write_coalescing(None), 30);
    for id in 1..5 {
        assert_eq!(ids(&ack(&mut s, id, 10).0), [id + 8]);
    }
}

/// A lost connection drops what was held with the write buffer; the next connection starts
/// counting from zero.
#[test]
fn a_lost_connection_drops_the_hold() {
    let mut s = loaded(on(8), 30);
    assert!(ack(&mut s, 1, 10).0.is_empty());
    s.handle_disconnected(10);
    drain(&mut s);
    assert_eq!(s.pending_write_bytes(), 0);
    assert_ne!(s.poll_timeout(), Some(11));
}

/// `transmit_due` says, without draining, whether a drain now would write: not while a hold
/// may keep the bytes (nor before the first drain began the hold), yes once a quarter of the
/// window's acknowledgements came (a driver that defers its drain to read a burst first writes
/// then, within the burst), yes once the hold's deadline passed, and never with nothing to
/// write or writing blocked.
#[test]
fn transmit_due_follows_the_hold() {
    let mut s = loaded(on(8), 30);
    assert!(!s.transmit_due(), "nothing to write");
    // Two acknowledgements read without a drain between them (one burst): not due yet.
    s.handle_bytes(&encode(V5, &puback(1)), 10);
    assert!(!s.transmit_due(), "1 of 2: may be held (no hold began yet)");
    s.handle_bytes(&encode(V5, &puback(2)), 10);
    assert!(s.transmit_due(), "a quarter of the window (2 of 8) came");
    s.handle_write_blocked();
    assert!(!s.transmit_due(), "writing is blocked");
    s.handle_writable(10);
    let (sent, _) = drain(&mut s);
    assert_eq!(ids(&sent), vec![9, 10], "what transmit_due announced");
    assert!(!s.transmit_due());

    // A hold that began in a drain: due once its deadline passed.
    let (sent, deadline) = ack(&mut s, 3, 20);
    assert!(sent.is_empty());
    assert_eq!(deadline, Some(21));
    assert!(!s.transmit_due(), "held until 21");
    s.handle_timeout(20);
    assert!(
        !s.transmit_due(),
        "a clock check before the deadline keeps the hold"
    );
    s.handle_timeout(21);
    assert!(s.transmit_due(), "the deadline passed");

    // Off: whatever waits is due.
    let mut s = loaded(on(8).write_coalescing(None), 30);
    s.handle_bytes(&encode(V5, &puback(1)), 10);
    assert!(s.transmit_due(), "no coalescing: due at once");
}
