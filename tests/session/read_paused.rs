//! Keep-alive while the driver holds reading back: an application that takes no events (its
//! driver's event queue is full, so the driver stops reading the transport) must not get its
//! connection declared dead only because it is slow. The driver says so with
//! `Session::handle_read_paused` / `handle_read_resumed` (issue 11, item 5).

use crate::common::*;

/// While reading is paused the session keeps pinging, one PINGREQ a keep-alive after the last
/// packet it sent, never declares the broker dead, and always has a deadline in the future (no
/// driver spin). Once reading resumes, an unanswered PINGREQ gets a whole ping timeout from
/// then: dead exactly at resume + ping timeout, not earlier.
#[test]
fn paused_reading_keeps_pinging_and_never_declares_the_broker_dead() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(2));
        let t0 = sim.now;
        sim.session.handle_read_paused(t0);
        assert!(sim.session.is_read_paused());
        for period in 1..=10u64 {
            let due = t0 + period * 2_000;
            sim.advance_to(due - 1);
            assert!(sim.take().is_empty(), "{v}: nothing before {due}");
            assert_eq!(
                sim.last_wait,
                Some(due),
                "{v}: the next deadline is the ping"
            );
            sim.advance_to(due);
            assert_eq!(
                sim.take(),
                vec![OPacket::PingReq],
                "{v}: one PINGREQ at {due}"
            );
            assert!(sim.session.is_connected(), "{v}: still connected at {due}");
        }
        assert!(disconnects(&sim.take_events()).is_empty(), "{v}");
        let resumed = t0 + 20_500;
        sim.advance_to(resumed);
        sim.session.handle_read_resumed(resumed);
        assert!(!sim.session.is_read_paused());
        // Default ping timeout: half the keep-alive.
        sim.advance_to(resumed + 999);
        assert!(
            sim.session.is_connected(),
            "{v}: a whole ping timeout after resuming"
        );
        sim.advance_to(resumed + 1_000);
        let (reason, _) = the_disconnect(&sim.take_events());
        assert_eq!(reason, DisconnectReason::KeepAliveTimeout, "{v}");
    }
}

/// The broker's answer read after resuming keeps the connection, and keep-alive goes on as
/// usual (next PINGREQ a keep-alive after the last packet sent).
#[test]
fn answer_read_after_resuming_keeps_the_connection() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(2));
        let t0 = sim.now;
        sim.session.handle_read_paused(t0 + 100);
        sim.advance_to(t0 + 5_000);
        assert_eq!(sim.take(), vec![OPacket::PingReq, OPacket::PingReq], "{v}");
        sim.session.handle_read_resumed(t0 + 5_000);
        sim.send(&Packet::PingResp);
        sim.send(&Packet::PingResp);
        // The last PINGREQ went at t0 + 4 s: the next is due a keep-alive after it.
        sim.advance_to(t0 + 5_999);
        assert!(sim.session.is_connected(), "{v}");
        assert!(sim.take().is_empty(), "{v}");
        sim.advance_to(t0 + 6_000);
        assert_eq!(sim.take(), vec![OPacket::PingReq], "{v}");
        assert!(disconnects(&sim.take_events()).is_empty(), "{v}");
    }
}

/// Without the pause, the same silence is a dead broker (the bound of issue 11, item 1), and a
/// new connection starts with reading not paused.
#[test]
fn silence_without_a_pause_is_a_dead_broker_and_a_new_connection_reads() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(2));
        let t0 = sim.now;
        sim.session.handle_read_paused(t0);
        sim.session.handle_read_resumed(t0 + 10);
        sim.advance_to(t0 + 2_999);
        assert!(sim.session.is_connected(), "{v}");
        sim.advance_to(t0 + 3_000);
        let (reason, _) = the_disconnect(&sim.take_events());
        assert_eq!(reason, DisconnectReason::KeepAliveTimeout, "{v}");

        let mut sim = Sim::connected(opts(v).keep_alive(2));
        sim.session.handle_read_paused(sim.now);
        sim.drop_connection();
        reconnect_with(&mut sim, &connack(false));
        assert!(
            !sim.session.is_read_paused(),
            "{v}: a new transport is read"
        );
    }
}
