//! The session's life: disconnect, every handle settled, reconnect back-off, server
//! DISCONNECT.

use crate::common::*;

/// A transport that cannot be opened is retried with back-off, like a lost connection.
#[test]
fn transport_open_failure_is_retried() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v));
        sim.open_mode = OpenMode::Refuse;
        sim.start();
        let (reason, at) = the_disconnect(&sim.take_events());
        assert_eq!(reason, DisconnectReason::ConnectionLost);
        assert_eq!(at, Some(1000));
        sim.open_mode = OpenMode::Accept;
        sim.advance_to(1000);
        assert!(sim.take()[0].connect().is_some());
        sim.send(&connack(false));
        assert!(sim.session.is_connected());
    }
}

/// Every handle settles when the application disconnects: inflight, queued, QoS 0 waiting;
/// requests in flight fail too; DISCONNECT (v5: Normal disconnection) goes before the close.
// checks: v3.1.1 MQTT-3.14.4-1, v3.1.1 MQTT-3.14.4-2, v5 MQTT-3.14.4-1, v5 MQTT-3.14.4-2
#[test]
fn every_handle_settles_on_disconnect() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(2));
        let ids: Vec<PublishId> = [Q1, Q2, Q2, Q0, Q1]
            .iter()
            .map(|&q| sim.publish(msg("s", b"x", q)).unwrap())
            .collect();
        let req = sim.subscribe(&[("a", Q1)], None);
        sim.take();
        assert_eq!(sim.session.inflight_len(), 2);
        sim.disconnect();
        assert_eq!(sim.take(), vec![OPacket::disconnect(ReasonCode::SUCCESS)]);
        assert_eq!(sim.close_requests, 1);
        assert_eq!(sim.session.state(), State::Closed);
        let events = sim.take_events();
        for id in &ids {
            assert_eq!(
                completion_of(&events, *id),
                Err(PublishError::SessionClosed),
                "{v}"
            );
        }
        assert!(events.contains(&Event::RequestFailed {
            id: req,
            error: RequestError::SessionClosed
        }));
        assert_eq!(the_disconnect(&events), (DisconnectReason::ByClient, None));
        // Closed for good: nothing more happens, calls fail fast.
        sim.advance_to(3_600_000);
        assert!(sim.take().is_empty());
        assert_eq!(sim.open_requests, 1);
        assert_eq!(sim.last_wait, None);
        assert_eq!(
            sim.publish(msg("s", b"x", Q1)),
            Err(PublishError::SessionClosed)
        );
        assert_eq!(
            sim.session
                .subscribe(vec![("a".into(), SubscriptionOptions::default())], None, 0),
            Err(RequestError::SessionClosed)
        );
    }
}

/// With reconnection off, a lost connection closes the session and settles every handle;
/// while offline with reconnection on, `disconnect` settles everything without touching the
/// (already closed) transport.
#[test]
fn every_handle_settles_when_offline() {
    for v in VERSIONS {
        let mut o = opts(v).max_inflight(1);
        o.reconnect.enabled = false;
        let mut sim = Sim::connected(o);
        let a = sim.publish(msg("s", b"1", Q1)).unwrap();
        let b = sim.publish(msg("s", b"2", Q2)).unwrap();
        sim.drop_connection();
        let events = sim.take_events();
        assert_eq!(completion_of(&events, a), Err(PublishError::SessionClosed));
        assert_eq!(completion_of(&events, b), Err(PublishError::SessionClosed));
        assert_eq!(
            the_disconnect(&events),
            (DisconnectReason::ConnectionLost, None)
        );
        assert_eq!(sim.session.state(), State::Closed);

        let mut sim = Sim::connected(opts(v));
        let a = sim.publish(msg("s", b"1", Q1)).unwrap();
        sim.drop_connection();
        let b = sim.publish(msg("s", b"2", Q0)).unwrap();
        let closes = sim.close_requests;
        sim.disconnect();
        assert_eq!(sim.close_requests, closes, "no transport to close");
        let events = sim.take_events();
        assert_eq!(completion_of(&events, a), Err(PublishError::SessionClosed));
        assert_eq!(completion_of(&events, b), Err(PublishError::SessionClosed));
        sim.advance_to(3_600_000);
        assert_eq!(sim.open_requests, 1, "no reconnection after disconnect");
    }
}

/// `disconnect` while the transport is still being opened aborts it; a disconnect while
/// waiting for CONNACK closes without DISCONNECT.
#[test]
fn disconnect_while_connecting() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        let id = sim.publish(msg("s", b"1", Q1)).unwrap();
        sim.disconnect();
        assert_eq!(sim.close_requests, 1);
        assert_eq!(
            completion_of(&sim.take_events(), id),
            Err(PublishError::SessionClosed)
        );

        let mut sim = Sim::new(opts(v));
        sim.start();
        sim.take();
        sim.disconnect();
        assert!(sim.take().is_empty(), "no DISCONNECT before CONNACK");
        assert_eq!(sim.close_requests, 1);
        assert_eq!(sim.session.state(), State::Closed);
    }
}

/// v5: `disconnect_with(0x04)` asks the broker to publish the will.
// checks: v5 MQTT-3.14.2-1
#[test]
fn v5_disconnect_with_will() {
    let mut sim = Sim::connected(opts(V5));
    sim.session
        .disconnect_with(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE, sim.now);
    sim.run();
    assert_eq!(
        sim.take(),
        vec![OPacket::disconnect(
            ReasonCode::DISCONNECT_WITH_WILL_MESSAGE
        )]
    );
}

/// Back-off grows exponentially up to a cap, exactly, without jitter.
#[test]
fn backoff_grows_exponentially_to_the_cap() {
    let policy = ReconnectPolicy {
        enabled: true,
        initial_delay_ms: 1_000,
        max_delay_ms: 16_000,
        multiplier: 2,
        jitter_percent: 0,
    };
    assert_eq!(
        reconnect_delays(policy, 1, 8),
        vec![1_000, 2_000, 4_000, 8_000, 16_000, 16_000, 16_000, 16_000, 16_000]
    );
    let policy = ReconnectPolicy {
        multiplier: 3,
        initial_delay_ms: 100,
        max_delay_ms: 2_000,
        ..policy
    };
    assert_eq!(
        reconnect_delays(policy, 1, 4),
        vec![100, 300, 900, 2_000, 2_000]
    );
}

/// With jitter, each delay lies in [d - d·jitter, d] around the exponential value d, varies, is
/// deterministic for one seed and differs between seeds.
#[test]
fn backoff_jitter_is_bounded_seeded_and_deterministic() {
    let policy = ReconnectPolicy {
        enabled: true,
        initial_delay_ms: 1_000,
        max_delay_ms: 30_000,
        multiplier: 2,
        jitter_percent: 50,
    };
    let a = reconnect_delays(policy, 7, 12);
    for (i, d) in a.iter().enumerate() {
        let base = (1_000u64 << i.min(15)).min(30_000);
        assert!(
            *d <= base && *d >= base / 2,
            "attempt {i}: {d} outside [{}, {base}]",
            base / 2
        );
    }
    assert!(
        a.iter()
            .enumerate()
            .any(|(i, d)| *d != (1_000u64 << i.min(15)).min(30_000)),
        "jitter applied: {a:?}"
    );
    assert_eq!(a, reconnect_delays(policy, 7, 12), "same seed, same delays");
    assert_ne!(a, reconnect_delays(policy, 8, 12), "another seed, others");
}

/// The back-off starts over after a successful CONNACK.
#[test]
fn backoff_resets_after_a_successful_connack() {
    let mut sim = Sim::new(opts(V311));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    for _ in 0..3 {
        let State::Reconnecting(at) = sim.session.state() else {
            panic!()
        };
        sim.advance_to(at);
    }
    let before: Vec<_> = disconnects(&sim.take_events())
        .into_iter()
        .map(|(_, at)| at.unwrap())
        .collect();
    assert_eq!(before, vec![1_000, 3_000, 7_000, 15_000]);
    sim.open_mode = OpenMode::Accept;
    sim.advance_to(15_000);
    sim.send(&connack(false));
    sim.advance_to(20_000);
    sim.drop_connection();
    let (_, at) = the_disconnect(&sim.take_events());
    assert_eq!(at, Some(21_000), "back to the initial delay");
    // A refusal does not count as success: back-off keeps growing.
    sim.advance_to(21_000);
    sim.send(&connack_refused(3));
    let (_, at) = the_disconnect(&sim.take_events());
    assert_eq!(at, Some(23_000));
}

/// v5: a server DISCONNECT ends the connection (v5 MQTT-3.14.4-2 is the sender's duty; the
/// client closes too) and surfaces its reason code, reason string and server reference; the
/// session reconnects with back-off.
// checks: v5 MQTT-4.13.2-1
#[test]
fn v5_server_disconnect_surfaces_in_disconnected_by_server() {
    let mut sim = Sim::connected(opts(V5));
    sim.advance_to(500);
    sim.send(&Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::SERVER_SHUTTING_DOWN,
        properties: Properties {
            reason_string: Some("maintenance"),
            server_reference: Some("other.example:1883"),
            ..Properties::EMPTY
        },
    }));
    let (reason, at) = the_disconnect(&sim.take_events());
    assert_eq!(
        reason,
        DisconnectReason::ByServer {
            code: ReasonCode::SERVER_SHUTTING_DOWN,
            reason: Some("maintenance".into()),
            server_reference: Some("other.example:1883".into()),
        }
    );
    assert_eq!(at, Some(1_500));
    assert_eq!(sim.close_requests, 1);
    assert!(sim.take().is_empty(), "no DISCONNECT back");
    sim.advance_to(1_500);
    assert!(sim.take()[0].connect().is_some());
}

#[test]
fn options_and_state_accessors() {
    let sim = Sim::connected(opts(V5).max_inflight(3));
    assert_eq!(sim.session.options().max_inflight, 3);
    assert_eq!(sim.session.pending_write_bytes(), 0);
    assert_eq!(sim.session.queued(), (0, 0));
    let _ = PubResp::new(1);
}

/// The client writes only DISCONNECT reason codes a client may send: what the application
/// asks for when it is one, 0x80 otherwise (never a server's code, never a panic); and the
/// codes of its protocol-error DISCONNECTs, which always close the connection.
// checks: v5 MQTT-3.14.2-1, v5 MQTT-4.13.2-1
#[test]
fn v5_disconnect_reason_codes_are_client_codes() {
    for code in 0..=255u8 {
        let mut sim = Sim::connected(opts(V5));
        sim.session.disconnect_with(ReasonCode(code), sim.now);
        sim.run();
        let expected = if CLIENT_DISCONNECT_CODES.contains(&code) {
            code
        } else {
            0x80
        };
        assert_eq!(sim.take(), vec![OPacket::disconnect(ReasonCode(expected))]);
        assert_eq!(sim.close_requests, 1);
    }
    // Protocol errors of every kind, including a SUBSCRIBE (a server-side packet) whose filter
    // is invalid: its 0x8F Topic Filter invalid is a code only a server may send.
    let inputs: Vec<(Options, Vec<u8>)> = vec![
        (
            opts(V5),
            vec![
                0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00,
            ],
        ),
        (
            opts(V5),
            vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00],
        ),
        (
            opts(V5),
            vec![0x30, 0x06, 0x00, 0x03, b'a', b'/', b'+', 0x00],
        ),
        (
            opts(V5),
            vec![0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00],
        ),
        (
            opts(V5).max_packet_size(16),
            encode(V5, &publish("t", &[0; 32], Q0, 0)),
        ),
        (opts(V5).receive_maximum(1), {
            let mut b = encode(V5, &publish("t", b"1", Q2, 1));
            b.extend(encode(V5, &publish("t", b"2", Q2, 2)));
            b
        }),
        (opts(V5), vec![0xE1, 0x00]),
    ];
    for (o, raw) in inputs {
        let mut sim = Sim::connected(o);
        sim.send_raw(&raw);
        let sent = sim.take();
        let Some(OPacket::Disconnect(d)) = sent.last() else {
            panic!("{raw:?}: {sent:?}")
        };
        let code = ReasonCode(d.reason);
        assert!(CLIENT_DISCONNECT_CODES.contains(&code.0), "{raw:?}: {code}");
        assert!(code.0 >= 0x80);
        assert_eq!(sim.close_requests, 1, "closed after DISCONNECT");
    }
}
