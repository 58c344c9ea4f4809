//! The application's view of the connection, read from the session itself
//! ([`Session::connection_state`], [`Session::connection_info`], [`Session::connections`]):
//! what the browser used to rebuild from events.

use crate::common::*;
use wasmqtt::session::ConnectionState::{self, *};

fn state(sim: &Sim) -> ConnectionState {
    sim.session.connection_state()
}

/// Connecting, connected, reconnecting through every step of the retry, connected, closed.
#[test]
fn the_state_follows_the_connection() {
    let mut sim = Sim::new(opts(V5));
    assert_eq!(state(&sim), Idle);
    assert_eq!(sim.session.connection_info(), None);
    sim.open_mode = OpenMode::Hold;
    sim.start();
    assert_eq!(state(&sim), Connecting, "opening");
    sim.complete_open();
    sim.take();
    assert_eq!(state(&sim), Connecting, "awaiting CONNACK");
    sim.send(&connack(false));
    assert_eq!(state(&sim), Connected);
    assert_eq!(sim.session.connections(), 1);
    let info = sim.session.connection_info().cloned().expect("info");
    assert_eq!(info, connected_info(&sim.take_events()));
    sim.drop_connection();
    assert_eq!(state(&sim), Reconnecting, "waiting for the back-off");
    assert_eq!(sim.session.connection_info(), Some(&info), "the last one");
    sim.advance_to(1_000);
    assert_eq!(state(&sim), Reconnecting, "opening again");
    sim.complete_open();
    sim.take();
    assert_eq!(state(&sim), Reconnecting, "awaiting CONNACK again");
    let props = Properties {
        server_keep_alive: Some(17),
        ..Properties::default()
    };
    sim.send(&connack_with(true, props));
    assert_eq!(state(&sim), Connected);
    assert_eq!(sim.session.connections(), 2);
    assert_eq!(
        sim.session.connection_info().map(|i| i.keep_alive),
        Some(17)
    );
    sim.disconnect();
    assert_eq!(state(&sim), Closed);
    assert_eq!(Closed.as_str(), "closed");
    assert_eq!(Reconnecting.to_string(), "reconnecting");
}

/// With `Retry`, a failed first attempt makes the state reconnecting until a CONNACK; with the
/// default policy the state is closed.
#[test]
fn a_failed_first_attempt_is_reconnecting_or_closed() {
    let mut sim = Sim::new(opts(V5));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    assert_eq!(state(&sim), Reconnecting);
    sim.open_mode = OpenMode::Hold;
    sim.advance_to(1_000);
    assert_eq!(state(&sim), Reconnecting);

    let mut sim = Sim::new(Options::new("c"));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    assert_eq!(state(&sim), Closed);
    assert_eq!(sim.session.connections(), 0);
}

/// Started again after closing: connecting, not reconnecting.
#[test]
fn a_restart_is_connecting_again() {
    let mut sim = Sim::connected(opts(V5));
    sim.disconnect();
    assert_eq!(state(&sim), Closed);
    sim.open_mode = OpenMode::Hold;
    sim.session.start();
    sim.run();
    assert_eq!(state(&sim), Connecting);
}
