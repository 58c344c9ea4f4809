//! The connect deadline: [`Options::connect_timeout_ms`] covers the transport open and CONNACK
//! together, counted from the request to open the transport; when it passes the session asks
//! for the transport to be closed and counts the attempt as failed
//! ([`DisconnectReason::ConnectTimeout`]), then the first-connect policy and the back-off apply.

use crate::common::*;

const TIMEOUT: u64 = 5_000;

fn held(first: FirstConnect) -> Sim {
    let mut sim = Sim::new(opts(V5).connect_timeout_ms(TIMEOUT).first_connect(first));
    sim.open_mode = OpenMode::Hold;
    sim
}

/// A transport that never opens: the deadline is visible while opening, and when it passes
/// the session closes what the driver was opening and gives up (the default policy).
#[test]
fn a_transport_that_never_opens_times_out() {
    let mut sim = held(FirstConnect::GiveUp);
    sim.advance_to(200);
    sim.start();
    assert!(sim.open_pending);
    assert_eq!(sim.session.state(), State::Opening);
    assert_eq!(sim.session.poll_timeout(), Some(200 + TIMEOUT));
    sim.advance_to(200 + TIMEOUT - 1);
    assert!(sim.take_events().is_empty());
    sim.advance(1);
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectTimeout, None)
    );
    assert_eq!(sim.close_requests, 1, "the driver abandons the open");
    assert!(!sim.open_pending);
    assert_eq!(sim.session.state(), State::Closed);
}

/// With `Retry` the timed-out attempt counts as a failure: back-off, then a new attempt whose
/// deadline counts from its own request.
#[test]
fn a_timed_out_open_is_retried_after_the_back_off() {
    let mut sim = held(FirstConnect::Retry);
    sim.start();
    sim.advance_to(TIMEOUT);
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectTimeout, Some(TIMEOUT + 1_000))
    );
    assert_eq!(sim.open_requests, 1);
    sim.advance_to(TIMEOUT + 1_000);
    assert_eq!(sim.open_requests, 2);
    assert_eq!(sim.session.poll_timeout(), Some(2 * TIMEOUT + 1_000));
    sim.complete_open();
    sim.take();
    sim.send(&connack(false));
    assert!(sim.session.is_connected());
}

/// The transport opens late: CONNACK has only what is left of the same deadline, not a new
/// timeout from the open.
#[test]
fn a_slow_open_leaves_less_time_for_connack() {
    let mut sim = held(FirstConnect::Retry);
    sim.start();
    sim.advance_to(4_000);
    sim.complete_open();
    assert!(matches!(sim.take().as_slice(), [OPacket::Connect(_)]));
    assert_eq!(sim.session.state(), State::AwaitingConnAck);
    assert_eq!(sim.session.poll_timeout(), Some(TIMEOUT));
    sim.advance_to(TIMEOUT);
    assert_eq!(
        the_disconnect(&sim.take_events()).0,
        DisconnectReason::ConnectTimeout
    );
    assert_eq!(sim.close_requests, 1);
    assert!(!sim.open);
}

/// A CONNACK in time clears the deadline: the keep-alive takes over.
#[test]
fn connack_in_time_clears_the_deadline() {
    let mut sim = held(FirstConnect::Retry);
    sim.start();
    sim.advance_to(1_000);
    sim.complete_open();
    sim.take();
    sim.send(&connack(false));
    assert!(sim.session.is_connected());
    assert_eq!(sim.session.poll_timeout(), Some(1_000 + 60_000));
    sim.advance_to(30_000);
    assert!(sim.session.is_connected());
}

/// A driver that wakes up late for a reconnection: the deadline counts from the wake-up that
/// asked for the transport (the `handle_timeout` time), not from the back-off's due time.
#[test]
fn a_late_reconnect_wake_up_counts_from_its_own_time() {
    let mut s = Session::new(opts(V5).connect_timeout_ms(TIMEOUT));
    s.connect(0);
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(0);
    s.poll_output();
    s.handle_disconnected(10);
    let State::Reconnecting(at) = s.state() else {
        panic!("{:?}", s.state())
    };
    s.handle_timeout(at + 7_000);
    assert_eq!(s.state(), State::Opening);
    let mut opened = false;
    loop {
        match s.poll_output() {
            Output::OpenTransport => opened = true,
            Output::Wait(d) => {
                assert_eq!(d, Some(at + 7_000 + TIMEOUT));
                break;
            }
            _ => {}
        }
    }
    assert!(opened);
}

/// `start` without a time: the deadline counts from the latest time an input carried.
#[test]
fn start_counts_from_the_latest_input() {
    let mut s = Session::new(opts(V5).connect_timeout_ms(TIMEOUT));
    s.publish(msg("t", b"queued", Q1), 3_000).unwrap();
    s.start();
    assert_eq!(s.poll_output(), Output::OpenTransport);
    assert_eq!(s.poll_output(), Output::Wait(Some(3_000 + TIMEOUT)));
}

/// `start` on a session that has seen no time yet: `poll_timeout` asks for a `handle_timeout`
/// at once (`Some(0)`), and the deadline counts from the time it brings.
#[test]
fn start_before_any_time_is_armed_by_the_first_input() {
    let mut s = Session::new(Options::new("c").connect_timeout_ms(TIMEOUT));
    s.start();
    assert_eq!(s.poll_output(), Output::OpenTransport);
    assert_eq!(s.poll_output(), Output::Wait(Some(0)));
    s.handle_timeout(123_456);
    assert_eq!(s.state(), State::Opening, "arming is not firing");
    assert_eq!(s.poll_timeout(), Some(123_456 + TIMEOUT));
    s.handle_timeout(123_456 + TIMEOUT);
    assert_eq!(s.state(), State::Closed);
    assert_eq!(s.poll_output(), Output::CloseTransport);
    assert!(matches!(
        s.poll_output(),
        Output::Event(Event::Disconnected {
            reason: DisconnectReason::ConnectTimeout,
            ..
        })
    ));
}

/// `handle_connected` also tells the time: a start without one is armed from the open.
#[test]
fn start_before_any_time_is_armed_by_the_open() {
    let mut s = Session::new(opts(V5).connect_timeout_ms(TIMEOUT));
    s.start();
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(50);
    assert!(matches!(s.poll_output(), Output::Transmit(_)));
    assert_eq!(s.poll_output(), Output::Wait(Some(50 + TIMEOUT)));
}
