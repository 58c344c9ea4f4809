//! The first-connect policy ([`Options::first_connect`]): what a failure of the very first
//! connection attempt does, the same on every target. After the first accepted CONNACK every
//! lost connection follows the back-off.

use crate::common::*;

/// The options of these tests: the simulations' back-off, with the library's default policy.
fn give_up() -> Options {
    opts(V5).first_connect(FirstConnect::GiveUp)
}

#[test]
fn the_default_is_to_give_up() {
    assert_eq!(Options::default().first_connect, FirstConnect::GiveUp);
    assert_eq!(Options::new("x").first_connect, FirstConnect::GiveUp);
}

/// The transport does not open: the session closes for good with the reason, once.
#[test]
fn a_first_transport_failure_closes_for_good() {
    let mut sim = Sim::new(give_up());
    let id = sim.publish(msg("t", b"x", Q1)).unwrap();
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    let events = sim.take_events();
    assert_eq!(
        the_disconnect(&events),
        (DisconnectReason::ConnectionLost, None)
    );
    assert_eq!(completion_of(&events, id), Err(PublishError::SessionClosed));
    assert_eq!(sim.session.state(), State::Closed);
    assert_eq!(sim.last_wait, None, "no deadline left");
    sim.advance(60_000);
    assert_eq!(sim.open_requests, 1, "no second attempt");
}

/// A transient refusal (Server unavailable, which the back-off would retry later) on the first
/// CONNACK also gives up, with the broker's code; the transport is closed.
#[test]
fn a_first_transient_refusal_closes_for_good() {
    let mut sim = Sim::new(give_up());
    sim.start();
    sim.take();
    sim.send(&connack_refused(0x88));
    let (reason, at) = the_disconnect(&sim.take_events());
    assert_eq!(at, None);
    assert!(
        matches!(reason, DisconnectReason::Refused { code, .. } if code == ReasonCode(0x88)),
        "{reason:?}"
    );
    assert_eq!(sim.session.state(), State::Closed);
    assert_eq!(sim.close_requests, 1);
    assert!(!sim.open);
}

/// No CONNACK within the connect timeout on the first attempt: closed for good, typed.
#[test]
fn a_first_connack_timeout_closes_for_good() {
    let mut sim = Sim::new(give_up().connect_timeout_ms(3_000));
    sim.start();
    sim.take();
    sim.advance(2_999);
    assert_eq!(sim.session.state(), State::AwaitingConnAck);
    sim.advance(1);
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectTimeout, None)
    );
    assert_eq!(sim.session.state(), State::Closed);
    assert_eq!(sim.close_requests, 1);
}

/// With `Retry`, the first failures follow the back-off until an attempt succeeds.
#[test]
fn retry_keeps_trying_with_the_back_off() {
    let mut sim = Sim::new(give_up().first_connect(FirstConnect::Retry));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectionLost, Some(1_000))
    );
    sim.advance_to(1_000);
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectionLost, Some(3_000))
    );
    sim.open_mode = OpenMode::Accept;
    sim.advance_to(3_000);
    assert_eq!(sim.open_requests, 3);
    sim.take();
    sim.send(&connack(false));
    assert!(sim.session.is_connected());
}

/// After the first accepted CONNACK, `GiveUp` no longer applies: a lost connection and the
/// failed attempts after it are retried with the back-off.
#[test]
fn after_the_first_connack_failures_are_retried() {
    let mut sim = Sim::connected(give_up());
    sim.open_mode = OpenMode::Refuse;
    sim.drop_connection();
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectionLost, Some(1_000))
    );
    sim.advance_to(1_000);
    let (_, at) = the_disconnect(&sim.take_events());
    assert_eq!(
        at,
        Some(3_000),
        "the next attempt is scheduled, not given up"
    );
    assert!(matches!(sim.session.state(), State::Reconnecting(3_000)));
}

/// Falling back to MQTT 3.1.1 is the answer to the first failure, not a reason to give up.
#[test]
fn falling_back_to_v311_is_not_giving_up() {
    let mut sim = Sim::new(give_up().fallback_to_v311(true));
    sim.start();
    sim.take();
    sim.send_raw(&[0x20, 0x02, 0x00, 0x01]);
    let (reason, at) = the_disconnect(&sim.take_events());
    assert!(reason.is_unsupported_protocol_version(), "{reason:?}");
    assert_eq!(at, Some(1_000));
    sim.version = V311;
    sim.advance_to(1_000);
    assert_eq!(sim.take()[0].connect().expect("CONNECT").protocol, V311);
    // The 3.1.1 attempt is still a first connection: its refusal gives up.
    sim.send(&connack_refused(3));
    assert_eq!(the_disconnect(&sim.take_events()).1, None);
    assert_eq!(sim.session.state(), State::Closed);
}
