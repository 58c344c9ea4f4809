//! The transport's own description of a failure ([`Session::handle_disconnected_with`]) is the
//! reason the session reports ([`DisconnectReason::Transport`]), and the last one is kept for
//! messages ([`Session::last_transport_error`]).

use crate::common::*;

const REFUSED: &str = "connection refused (os error 111)";

/// The first open fails with a description: the session gives up with it.
#[test]
fn a_first_open_failure_reports_the_transport_error() {
    let mut sim = Sim::new(Options::new("c"));
    sim.open_mode = OpenMode::Hold;
    sim.start();
    sim.open_pending = false;
    sim.session.handle_disconnected_with(sim.now, REFUSED);
    sim.run();
    let (reason, at) = the_disconnect(&sim.take_events());
    assert_eq!(reason, DisconnectReason::Transport(REFUSED.into()));
    assert_eq!(at, None);
    assert_eq!(reason.to_string(), format!("connection lost: {REFUSED}"));
    assert_eq!(reason.code(), "CONNECTION_LOST");
    assert_eq!(sim.session.last_transport_error(), Some(REFUSED));
}

/// A connection lost with a description is retried; the description stays for a later
/// failure without one (a connect timeout) and goes with the next accepted CONNACK.
#[test]
fn the_last_transport_error_outlives_later_failures_until_connack() {
    let mut sim = Sim::connected(opts(V5).connect_timeout_ms(2_000));
    assert_eq!(sim.session.last_transport_error(), None);
    sim.open = false;
    sim.session
        .handle_disconnected_with(sim.now, "reset by peer".to_string());
    sim.run();
    let (reason, at) = the_disconnect(&sim.take_events());
    assert_eq!(reason, DisconnectReason::Transport("reset by peer".into()));
    assert_eq!(at, Some(1_000));
    sim.open_mode = OpenMode::Hold;
    sim.advance_to(3_000);
    assert_eq!(
        the_disconnect(&sim.take_events()).0,
        DisconnectReason::ConnectTimeout
    );
    assert_eq!(sim.session.last_transport_error(), Some("reset by peer"));
    let State::Reconnecting(next) = sim.session.state() else {
        panic!("{:?}", sim.session.state())
    };
    sim.advance_to(next);
    sim.complete_open();
    sim.take();
    sim.send(&connack(true));
    assert!(sim.session.is_connected());
    assert_eq!(sim.session.last_transport_error(), None);
}

/// Without a description the reason stays `ConnectionLost`; a description given when no
/// transport is in use changes nothing.
#[test]
fn without_a_description_the_reason_is_connection_lost() {
    let mut sim = Sim::connected(opts(V5));
    sim.drop_connection();
    assert_eq!(
        the_disconnect(&sim.take_events()).0,
        DisconnectReason::ConnectionLost
    );
    sim.session.handle_disconnected_with(sim.now, "late");
    sim.run();
    assert!(sim.take_events().is_empty());
    assert_eq!(sim.session.last_transport_error(), None);
}
