//! Keep-alive: PINGREQ on idle connections, and a silent broker declared dead.

use crate::common::*;

/// v5 MQTT-3.1.2-21 / MQTT-3.2.2-21: the Server Keep Alive replaces ours.
// checks: v5 MQTT-3.1.2-21, v5 MQTT-3.2.2-21
#[test]
fn v5_server_keep_alive_is_honoured_mqtt_3_2_2_21() {
    let mut sim = Sim::connected_with(
        opts(V5).keep_alive(60),
        &connack_with(
            false,
            Properties {
                server_keep_alive: Some(5),
                ..Properties::EMPTY
            },
        ),
    );
    sim.advance_to(4_999);
    assert!(sim.take().is_empty());
    sim.advance_to(5_000);
    assert_eq!(sim.take(), vec![OPacket::PingReq]);
    // Server Keep Alive 0 turns keep-alive off.
    let mut sim = Sim::connected_with(
        opts(V5).keep_alive(60),
        &connack_with(
            false,
            Properties {
                server_keep_alive: Some(0),
                ..Properties::EMPTY
            },
        ),
    );
    sim.advance_to(3_600_000);
    assert!(sim.take().is_empty());
    assert_eq!(sim.last_wait, None);
}

/// v5 MQTT-3.1.2-20 / v3.1.1 MQTT-3.1.2-23: PINGREQ when nothing was sent for the keep-alive
/// period: exactly at that moment, not earlier, and exactly one per idle period.
// checks: v3.1.1 MQTT-3.1.2-23, v5 MQTT-3.1.2-20
#[test]
fn pingreq_exactly_once_per_idle_period_mqtt_3_1_2_20() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        for period in 1..=6u64 {
            let due = period * 10_000;
            sim.advance_to(due - 1);
            assert!(sim.take().is_empty(), "{v}: nothing before {due}");
            assert_eq!(
                sim.last_wait,
                Some(due),
                "{v}: the next deadline is the ping"
            );
            sim.advance_to(due);
            let sent = sim.take_sent();
            assert_eq!(sent.len(), 1, "{v}: {sent:?}");
            assert_eq!((sent[0].at, &sent[0].pkt), (due, &OPacket::PingReq));
            sim.advance(40);
            sim.send(&Packet::PingResp);
        }
        assert!(sim.session.is_connected());
        assert!(disconnects(&sim.take_events()).is_empty());
    }
}

/// v5 MQTT-3.1.2-20 / v3.1.1 MQTT-3.1.2-23: "in the absence of sending any other packets":
/// outbound traffic postpones the ping while the broker is heard from; a steady publisher whose
/// messages are acknowledged never pings.
// checks: v3.1.1 MQTT-3.1.2-23, v5 MQTT-3.1.2-20
#[test]
fn outbound_traffic_postpones_the_ping_mqtt_3_1_2_20() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.advance_to(5_000);
        sim.send(&publish("feed", b"tick", Q0, 0));
        sim.publish(msg("t", b"x", Q0)).unwrap();
        sim.advance_to(14_999);
        assert_eq!(sim.take().len(), 1, "{v}: just the PUBLISH");
        sim.advance_to(15_000);
        assert_eq!(sim.take(), vec![OPacket::PingReq]);
        sim.send(&Packet::PingResp);
        // A QoS 1 publisher every 4 s with prompt acks: no PINGREQ for minutes.
        for i in 0..60u64 {
            sim.advance_to(16_000 + i * 4_000);
            sim.publish(msg("t", b"y", Q1)).unwrap();
            let sent = sim.take();
            let pid = publishes(&sent)[0].packet_id;
            assert!(!sent.contains(&OPacket::PingReq), "{v}: {sent:?}");
            sim.advance(30);
            sim.send(&puback(pid));
        }
        assert!(sim.session.is_connected());
    }
}

/// The connection is dead when nothing arrives within the ping timeout after a PINGREQ (default:
/// half the keep-alive). Exactly one PINGREQ meanwhile: no storm.
#[test]
fn silent_broker_is_declared_dead_after_the_ping_timeout() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.advance_to(14_999);
        assert_eq!(sim.take(), vec![OPacket::PingReq]);
        assert!(sim.session.is_connected());
        sim.advance_to(15_000);
        let (reason, at) = the_disconnect(&sim.take_events());
        assert_eq!(reason, DisconnectReason::KeepAliveTimeout);
        assert_eq!(at, Some(16_000));
        assert_eq!(sim.close_requests, 1);
        assert!(sim.take().is_empty());
    }
}

/// An explicit ping timeout longer than the keep-alive: still one PINGREQ, dead at ping + timeout.
#[test]
fn no_ping_storm_while_a_pingreq_is_outstanding() {
    for v in VERSIONS {
        let mut o = opts(v).keep_alive(2);
        o.ping_timeout_ms = Some(9_000);
        let mut sim = Sim::connected(o);
        sim.advance_to(10_999);
        assert_eq!(sim.take(), vec![OPacket::PingReq], "{v}");
        assert!(sim.session.is_connected());
        sim.advance_to(11_000);
        assert_eq!(
            the_disconnect(&sim.take_events()).0,
            DisconnectReason::KeepAliveTimeout
        );
    }
}

/// Broker traffic keeps the connection alive: a PUBLISH arriving instead of a PINGRESP counts.
/// The client still pings once per idle period (it sends nothing else), and is never timed out.
#[test]
fn inbound_traffic_prevents_a_false_timeout() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        for i in 1..=33u64 {
            sim.advance_to(i * 3_000);
            sim.send(&publish("feed", b"tick", Q0, 0));
        }
        sim.advance_to(100_000);
        let pings: Vec<_> = sim
            .take_sent()
            .into_iter()
            .filter(|s| s.pkt == OPacket::PingReq)
            .map(|s| s.at)
            .collect();
        assert_eq!(
            pings,
            (1..=10).map(|i| i * 10_000).collect::<Vec<_>>(),
            "{v}"
        );
        let events = sim.take_events();
        assert!(disconnects(&events).is_empty(), "{v}: {events:?}");
        assert_eq!(messages(&events).len(), 33);
    }
}

/// Outbound traffic alone does not prove the broker alive: after an unanswered PINGREQ the
/// connection is declared dead even while the client keeps writing.
#[test]
fn outbound_traffic_does_not_hide_a_dead_broker() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.advance_to(10_000);
        assert_eq!(sim.take(), vec![OPacket::PingReq]);
        for t in (11_000..15_000).step_by(1_000) {
            sim.advance_to(t);
            sim.publish(msg("t", b"x", Q0)).unwrap();
        }
        assert!(sim.session.is_connected());
        sim.advance_to(15_000);
        assert_eq!(
            the_disconnect(&sim.take_events()).0,
            DisconnectReason::KeepAliveTimeout
        );
    }
}

/// Keep-alive 0 turns the mechanism off: no PINGREQ, no deadline.
#[test]
fn keep_alive_zero_never_pings() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(0));
        assert_eq!(sim.last_wait, None);
        sim.advance_to(24 * 3_600_000);
        assert!(sim.take().is_empty());
        assert!(sim.session.is_connected());
    }
}

/// A black-holed broker is noticed within 1.5 × the keep-alive of its last packet, whatever the
/// keep-alive, whether the client is idle or keeps publishing at QoS 0 (outbound traffic proves
/// nothing: only inbound bytes show the broker alive), and with the late wake-up grace in place
/// (a driver whose timers fire on time never gets it). Nor is it declared dead without one
/// PINGREQ and the whole ping timeout to answer it.
#[test]
fn dead_broker_is_noticed_within_one_and_a_half_keep_alives() {
    for v in VERSIONS {
        for keep_alive in [1u16, 5, 60] {
            for publishing in [false, true] {
                for heard_at_tenths in [0u64, 3, 9] {
                    let case = format!("{v} keep-alive {keep_alive} s, publishing {publishing}, last packet at {heard_at_tenths}/10");
                    let ka = u64::from(keep_alive) * 1000;
                    let mut sim = Sim::connected(opts(v).keep_alive(keep_alive));
                    // The broker's last packet.
                    let last_rx = sim.now + ka * heard_at_tenths / 10;
                    sim.advance_to(last_rx);
                    if last_rx > 0 {
                        sim.send(&publish("feed", b"last words", Q0, 0));
                    }
                    sim.take_sent();
                    let bound = last_rx + ka * 3 / 2;
                    let step = ka / 4;
                    let mut next_publish = last_rx + step;
                    let lost_at = loop {
                        let deadline = sim.session.poll_timeout().expect("a keep-alive deadline");
                        let t = if publishing {
                            deadline.min(next_publish)
                        } else {
                            deadline
                        };
                        assert!(t <= bound, "{case}: still connected at {t} > {bound}");
                        sim.advance_to(t);
                        if !sim.session.is_connected() {
                            break t;
                        }
                        if publishing && t == next_publish {
                            sim.publish(msg("t", b"x", Q0)).unwrap();
                            next_publish += step;
                        }
                    };
                    assert!(lost_at <= bound, "{case}: lost at {lost_at}");
                    // One PINGREQ after the broker fell silent, and the whole ping timeout
                    // (half the keep-alive) for its answer.
                    let pings: Vec<u64> = sim
                        .take_sent()
                        .into_iter()
                        .filter(|s| s.pkt == OPacket::PingReq)
                        .map(|s| s.at)
                        .collect();
                    assert_eq!(pings.len(), 1, "{case}: {pings:?}");
                    assert!(pings[0] >= last_rx, "{case}: {pings:?}");
                    assert_eq!(lost_at, pings[0] + ka / 2, "{case}");
                    assert_eq!(
                        the_disconnect(&sim.take_events()).0,
                        DisconnectReason::KeepAliveTimeout,
                        "{case}"
                    );
                }
            }
        }
    }
}
