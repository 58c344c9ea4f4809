//! Keep-alive when the driver itself was asleep: a browser tab frozen or throttled in the
//! background, a suspended process. When the driver finally runs, its timer and the broker's
//! queued PINGRESP are both due; whichever it handles first, the session must not call a live
//! connection dead — and must still call a dead one dead.

use wasmqtt::session::{
    DisconnectReason, Event, Options, Output, Session, State, LATE_WAKE_GRACE_MS, LATE_WAKE_MS,
};

const CONNACK_V5: [u8; 5] = [0x20, 0x03, 0x00, 0x00, 0x00];
const PINGREQ: [u8; 2] = [0xC0, 0x00];
const PINGRESP: [u8; 2] = [0xD0, 0x00];

/// Drains the session: (bytes written, events).
fn drain(s: &mut Session) -> (Vec<u8>, Vec<Event>) {
    let (mut out, mut events) = (Vec::new(), Vec::new());
    loop {
        match s.poll_output() {
            Output::Transmit(b) => out.extend_from_slice(&b),
            Output::Event(e) => events.push(e),
            Output::Wait(_) => return (out, events),
            Output::OpenTransport | Output::CloseTransport => {}
        }
    }
}

/// A session with keep-alive 10 s (ping timeout 10 s), connected at t = 0.
fn connected() -> Session {
    let mut s = Session::new(Options::new("late-wake").keep_alive(10));
    s.connect(0);
    assert_eq!(s.poll_output(), Output::OpenTransport);
    s.handle_connected(0);
    drain(&mut s);
    s.handle_bytes(&CONNACK_V5, 0);
    drain(&mut s);
    assert!(s.is_connected());
    s
}

fn keep_alive_timeouts(events: &[Event]) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Disconnected {
                    reason: DisconnectReason::KeepAliveTimeout,
                    ..
                }
            )
        })
        .count()
}

#[test]
fn ping_goes_out_at_the_keep_alive_and_times_out_on_time() {
    let mut s = connected();
    assert_eq!(s.poll_timeout(), Some(10_000));
    s.handle_timeout(10_000);
    assert_eq!(drain(&mut s).0, PINGREQ);
    // The default ping timeout is half the keep-alive.
    assert_eq!(s.poll_timeout(), Some(15_000));
    // A timer that fires on time (or a little late, as throttled timers do) ends a silent
    // connection at once: the grace is only for wake-ups long after the deadline.
    s.handle_timeout(15_000 + LATE_WAKE_MS);
    assert_eq!(keep_alive_timeouts(&drain(&mut s).1), 1);
    assert!(matches!(s.state(), State::Reconnecting(_)));
}

#[test]
fn a_late_wake_up_reads_the_queued_pingresp_before_timing_out() {
    let mut s = connected();
    s.handle_timeout(10_000);
    assert_eq!(drain(&mut s).0, PINGREQ);
    // The page froze at 10.5 s; PINGRESP arrived meanwhile but is queued behind the timer.
    let woke = 60_000;
    s.handle_timeout(woke);
    let (_, events) = drain(&mut s);
    assert_eq!(keep_alive_timeouts(&events), 0, "{events:?}");
    assert!(s.is_connected());
    assert_eq!(s.poll_timeout(), Some(woke + LATE_WAKE_GRACE_MS));
    s.handle_bytes(&PINGRESP, woke + 1);
    // Alive; and the next PINGREQ is overdue, so it goes out on this same wake-up.
    s.handle_timeout(woke + 1);
    let (out, events) = drain(&mut s);
    assert_eq!(out, PINGREQ);
    assert_eq!(keep_alive_timeouts(&events), 0);
    assert!(s.is_connected());
}

#[test]
fn a_late_wake_up_still_ends_a_dead_connection() {
    let mut s = connected();
    s.handle_timeout(10_000);
    drain(&mut s);
    s.handle_timeout(60_000);
    assert_eq!(keep_alive_timeouts(&drain(&mut s).1), 0);
    // Nothing came: after the grace the connection is dead, even if this wake-up is late too.
    s.handle_timeout(60_000 + LATE_WAKE_GRACE_MS + 30_000);
    assert_eq!(keep_alive_timeouts(&drain(&mut s).1), 1);
    assert!(matches!(s.state(), State::Reconnecting(_)));
}

#[test]
fn the_grace_is_given_once_per_ping() {
    let mut s = connected();
    s.handle_timeout(10_000);
    drain(&mut s);
    s.handle_timeout(60_000); // late: grace
    s.handle_bytes(&PINGRESP, 60_000);
    s.handle_timeout(60_000); // next PINGREQ, at 60 s
    assert_eq!(drain(&mut s).0, PINGREQ);
    // The next ping gets its own grace if its deadline is also met late.
    s.handle_timeout(200_000);
    assert_eq!(keep_alive_timeouts(&drain(&mut s).1), 0);
    s.handle_timeout(200_000 + LATE_WAKE_GRACE_MS);
    assert_eq!(keep_alive_timeouts(&drain(&mut s).1), 1);
}
