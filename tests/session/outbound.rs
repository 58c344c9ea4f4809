//! Outbound QoS 0, 1 and 2: completion, the inflight window, packet identifiers, the
//! broker's limits, and what the client writes.

use crate::common::*;

/// v5 MQTT-4.3.1-1 / v3.1.1 MQTT-4.3.1-1 (QoS 0, DUP 0), v5 MQTT-2.2.1-2 / v3.1.1 MQTT-2.3.1-5
/// (no packet identifier): a QoS 0 message completes once written.
// checks: v3.1.1 MQTT-2.3.1-5, v3.1.1 MQTT-3.3.1-2, v3.1.1 MQTT-4.3.1-1, v5 MQTT-2.2.1-2
// checks: v5 MQTT-3.3.1-2, v5 MQTT-4.3.1-1
#[test]
fn qos0_publish_is_written_and_completes_mqtt_4_3_1_1() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        let id = sim.publish(msg("meter/1", b"42", Q0).retain(true)).unwrap();
        let p = publishes(&sim.take());
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].dup, p[0].qos, p[0].retain, p[0].packet_id),
            (false, Q0, true, 0)
        );
        assert_eq!(
            (p[0].topic.as_str(), &p[0].payload[..]),
            ("meter/1", &b"42"[..])
        );
        assert_eq!(
            completion_of(&sim.take_events(), id),
            Ok(ReasonCode::SUCCESS)
        );
    }
}

/// v5 MQTT-4.3.2-1..3 / v3.1.1 MQTT-4.3.2-1: a new packet identifier, DUP 0, unacknowledged
/// until PUBACK; v5 MQTT-2.2.1-5 / v3.1.1 MQTT-2.3.1-6: the PUBACK names it. The v5 reason code
/// (here 0x10 No matching subscribers, a success) is reported.
// checks: v3.1.1 MQTT-2.3.1-1, v3.1.1 MQTT-4.3.2-1, v5 MQTT-4.3.2-1, v5 MQTT-4.3.2-2
// checks: v5 MQTT-4.3.2-3
#[test]
fn qos1_completes_on_puback_with_its_reason_code_mqtt_4_3_2_1() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        let id = sim.publish(msg("a/b", b"1", Q1)).unwrap();
        let p = publishes(&sim.take()).remove(0);
        assert_eq!((p.qos, p.dup), (Q1, false));
        assert_ne!(p.packet_id, 0);
        sim.advance(3_000);
        assert!(
            completions(&sim.take_events()).is_empty(),
            "not before PUBACK"
        );
        assert_eq!(sim.session.inflight_len(), 1);
        sim.send(&puback(p.packet_id.wrapping_add(1).max(1)));
        assert!(completions(&sim.take_events()).is_empty(), "another id");
        if v == V5 {
            sim.send(&puback_rc(p.packet_id, ReasonCode::NO_MATCHING_SUBSCRIBERS));
            assert_eq!(
                completion_of(&sim.take_events(), id),
                Ok(ReasonCode::NO_MATCHING_SUBSCRIBERS)
            );
        } else {
            sim.send(&puback(p.packet_id));
            assert_eq!(
                completion_of(&sim.take_events(), id),
                Ok(ReasonCode::SUCCESS)
            );
        }
        assert_eq!(sim.session.inflight_len(), 0);
        // A second PUBACK for the same id is ignored: one completion per message.
        sim.send(&puback(p.packet_id));
        assert!(completions(&sim.take_events()).is_empty());
    }
}

/// v5 MQTT-4.3.3-1..5 / v3.1.1 MQTT-4.3.3-1: PUBLISH, PUBREC, PUBREL (same identifier), PUBCOMP.
// checks: v3.1.1 MQTT-2.3.1-6, v3.1.1 MQTT-4.1.0-2, v3.1.1 MQTT-4.3.3-1, v5 MQTT-2.2.1-5
// checks: v5 MQTT-4.1.0-1, v5 MQTT-4.3.3-1, v5 MQTT-4.3.3-2, v5 MQTT-4.3.3-3, v5 MQTT-4.3.3-4
// checks: v5 MQTT-4.3.3-5
#[test]
fn qos2_full_flow_mqtt_4_3_3_1() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        let id = sim.publish(msg("a/b", b"2", Q2)).unwrap();
        let p = publishes(&sim.take()).remove(0);
        assert_eq!((p.qos, p.dup), (Q2, false));
        sim.send(&pubrec(p.packet_id));
        let sent = sim.take();
        assert_eq!(
            sent,
            vec![OPacket::PubRel(OPubResp::new(
                p.packet_id,
                ReasonCode::SUCCESS
            ))]
        );
        assert!(
            completions(&sim.take_events()).is_empty(),
            "not before PUBCOMP"
        );
        // A repeated PUBREC gets the PUBREL again.
        sim.send(&pubrec(p.packet_id));
        assert_eq!(sim.take().len(), 1);
        sim.send(&pubcomp(p.packet_id));
        assert_eq!(
            completion_of(&sim.take_events(), id),
            Ok(ReasonCode::SUCCESS)
        );
        assert_eq!(sim.session.inflight_len(), 0);
    }
}

/// v5 MQTT-4.3.3-4 (no PUBREL after a failing PUBREC) and MQTT-4.4.0-2 (a failure code
/// acknowledges: never retransmitted, not even on a resumed session). Failures are reported
/// per message.
// checks: v5 MQTT-4.3.3-4, v5 MQTT-4.4.0-2
#[test]
fn v5_failure_reason_codes_are_reported_and_never_retransmitted_mqtt_4_4_0_2() {
    let mut sim = Sim::connected(opts(V5).session_expiry_interval(600));
    let a = sim.publish(msg("a", b"1", Q1)).unwrap();
    let b = sim.publish(msg("b", b"2", Q2)).unwrap();
    let c = sim.publish(msg("c", b"3", Q1)).unwrap();
    let p = publishes(&sim.take());
    sim.send(&puback_rc(p[0].packet_id, ReasonCode::NOT_AUTHORIZED));
    sim.send(&pubrec_rc(p[1].packet_id, ReasonCode::UNSPECIFIED_ERROR));
    assert!(sim.take().is_empty(), "no PUBREL after a failing PUBREC");
    let events = sim.take_events();
    assert_eq!(
        completion_of(&events, a),
        Err(PublishError::Rejected(ReasonCode::NOT_AUTHORIZED))
    );
    assert_eq!(
        completion_of(&events, b),
        Err(PublishError::Rejected(ReasonCode::UNSPECIFIED_ERROR))
    );
    sim.drop_connection();
    let resent = reconnect_with(&mut sim, &connack(true));
    let p2 = publishes(&resent);
    assert_eq!(p2.len(), 1, "only c is resent: {resent:?}");
    assert_eq!((p2[0].topic.as_str(), p2[0].dup), ("c", true));
    sim.send(&puback_rc(p2[0].packet_id, ReasonCode::QUOTA_EXCEEDED));
    assert_eq!(
        completion_of(&sim.take_events(), c),
        Err(PublishError::Rejected(ReasonCode::QUOTA_EXCEEDED))
    );
}

/// v5 MQTT-3.3.4-7 / MQTT-4.9.0-1 / MQTT-4.9.0-2: no more unacknowledged QoS 1/2 PUBLISH than
/// the window, min(max_inflight, the broker's Receive Maximum); the rest flows, in order, as
/// acknowledgements arrive. v3.1.1 has only max_inflight.
// checks: v5 MQTT-3.3.4-7, v5 MQTT-4.9.0-1, v5 MQTT-4.9.0-2
#[test]
fn inflight_window_bounds_unacknowledged_publishes_mqtt_3_3_4_7() {
    // (version, max_inflight, broker receive maximum, expected window)
    let cases: &[(ProtocolVersion, u16, Option<u16>, usize)] = &[
        (V5, 10, Some(3), 3),
        (V5, 2, Some(10), 2),
        (V5, 4, None, 4),
        (V311, 3, None, 3),
    ];
    for &(v, max_inflight, rm, window) in cases {
        let mut sim = Sim::connected_with(
            opts(v).max_inflight(max_inflight),
            &connack_with(
                false,
                Properties {
                    receive_maximum: rm,
                    ..Properties::EMPTY
                },
            ),
        );
        let mut ids = Vec::new();
        for i in 0..12u8 {
            let qos = if i % 2 == 0 { Q1 } else { Q2 };
            ids.push(sim.publish(msg("w", &[i], qos)).unwrap());
        }
        let mut on_wire: Vec<OPublish> = publishes(&sim.take());
        assert_eq!(on_wire.len(), window, "{v} {max_inflight} {rm:?}");
        assert_eq!(sim.unacked.len(), window);
        let mut order = Vec::new();
        // Acknowledge the newest first, to also shake the order.
        while let Some(p) = on_wire.pop() {
            order.push(p.payload[0]);
            if p.qos == Q1 {
                sim.send(&puback(p.packet_id));
            } else {
                sim.send(&pubrec(p.packet_id));
                assert!(
                    publishes(&sim.take()).is_empty(),
                    "a PUBREC'd QoS 2 still counts until PUBCOMP"
                );
                sim.send(&pubcomp(p.packet_id));
            }
            assert!(sim.unacked.len() <= window);
            let more = publishes(&sim.take());
            on_wire.splice(0..0, more.into_iter().rev());
            assert!(sim.unacked.len() <= window);
        }
        assert_eq!(sim.max_unacked, window, "{v}: the window is used fully");
        order.sort_unstable();
        assert_eq!(order, (0..12).collect::<Vec<u8>>(), "{v}: all 12 went out");
        let events = sim.take_events();
        for id in ids {
            assert_eq!(completion_of(&events, id), Ok(ReasonCode::SUCCESS));
        }
    }
}

/// Queued messages leave in publication order as the window opens.
#[test]
fn queued_publishes_keep_their_order() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(1));
        for i in 0..5u8 {
            sim.publish(msg("o", &[i], Q1)).unwrap();
        }
        let mut seen = Vec::new();
        for _ in 0..5 {
            let p = publishes(&sim.take());
            assert_eq!(p.len(), 1);
            seen.push(p[0].payload[0]);
            sim.send(&puback(p[0].packet_id));
        }
        assert_eq!(seen, vec![0, 1, 2, 3, 4]);
    }
}

/// v5 MQTT-3.3.4-8 / MQTT-4.9.0-3: a full window delays nothing but QoS > 0 PUBLISH:
/// SUBSCRIBE, acknowledgements of inbound messages and PINGREQ go out at once.
// checks: v5 MQTT-3.3.4-8, v5 MQTT-4.9.0-3
#[test]
fn full_window_delays_nothing_else_mqtt_3_3_4_8() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(1).keep_alive(10));
        sim.publish(msg("a", b"1", Q1)).unwrap();
        sim.publish(msg("a", b"2", Q1)).unwrap();
        assert_eq!(publishes(&sim.take()).len(), 1);
        sim.subscribe(&[("x/#", Q1)], None);
        assert_eq!(sim.take().len(), 1, "SUBSCRIBE went out");
        sim.send(&publish("x/1", b"in", Q1, 9));
        assert_eq!(
            sim.take(),
            vec![OPacket::PubAck(OPubResp::new(9, ReasonCode::SUCCESS))]
        );
        sim.advance(10_000);
        assert_eq!(sim.take(), vec![OPacket::PingReq]);
    }
}

/// v5 MQTT-2.2.1-3 / v3.1.1 MQTT-2.3.1-2: every new SUBSCRIBE, UNSUBSCRIBE and QoS > 0 PUBLISH
/// gets a packet identifier not in use; identifiers are reused only after their
/// acknowledgement, and the counter wraps past 65 535 without ever producing 0.
// checks: v3.1.1 MQTT-2.3.1-1, v3.1.1 MQTT-2.3.1-2, v3.1.1 MQTT-2.3.1-3, v5 MQTT-2.2.1-3
#[test]
fn packet_identifiers_are_unique_while_in_use_mqtt_2_2_1_3() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(20));
        let mut held: Vec<u16> = Vec::new();
        // Keep 5 messages unacknowledged forever, cycle many others through the identifiers.
        for i in 0..5u8 {
            sim.publish(msg("held", &[i], Q2)).unwrap();
        }
        held.extend(publishes(&sim.take()).iter().map(|p| p.packet_id));
        let sub = sim.subscribe(&[("s", Q0)], None);
        let sub_pid = sim.take()[0].subscribe().unwrap().packet_id;
        held.push(sub_pid);
        for round in 0..70_000u32 {
            sim.publish(msg("cycle", &round.to_be_bytes(), Q1)).unwrap();
            let p = publishes(&sim.take()).remove(0);
            assert_ne!(p.packet_id, 0);
            assert!(
                !held.contains(&p.packet_id),
                "{v}: identifier {} reused while in use",
                p.packet_id
            );
            sim.send(&puback(p.packet_id));
        }
        let _ = sub;
        sim.take_events();
    }
}

/// v5 MQTT-3.2.2-11 (Maximum QoS) and MQTT-3.2.2-14 (Retain Available 0): refused locally,
/// whether published online or queued before the CONNACK that set the limits.
// checks: v5 MQTT-3.2.2-11, v5 MQTT-3.2.2-14
#[test]
fn v5_maximum_qos_and_retain_available_are_respected_mqtt_3_2_2_11() {
    let limits = Properties {
        maximum_qos: Some(Q1),
        retain_available: Some(false),
        ..Properties::EMPTY
    };
    let mut sim = Sim::new(opts(V5));
    sim.start();
    let early_q2 = sim.publish(msg("a", b"1", Q2)).unwrap();
    let early_retain = sim.publish(msg("a", b"2", Q0).retain(true)).unwrap();
    let early_ok = sim.publish(msg("a", b"3", Q1)).unwrap();
    sim.take();
    sim.send(&connack_with(false, limits));
    let events = sim.take_events();
    assert_eq!(
        completion_of(&events, early_q2),
        Err(PublishError::QoSNotSupported(Q1))
    );
    assert_eq!(
        completion_of(&events, early_retain),
        Err(PublishError::RetainNotSupported)
    );
    let p = publishes(&sim.take());
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].payload, b"3");
    assert!(p.iter().all(|p| p.qos <= Q1 && !p.retain));
    sim.send(&puback(p[0].packet_id));
    assert_eq!(
        completion_of(&sim.take_events(), early_ok),
        Ok(ReasonCode::SUCCESS)
    );
    assert_eq!(
        sim.publish(msg("a", b"4", Q2)),
        Err(PublishError::QoSNotSupported(Q1))
    );
    assert_eq!(
        sim.publish(msg("a", b"5", Q1).retain(true)),
        Err(PublishError::RetainNotSupported)
    );
    assert!(sim.take().is_empty());
}

/// Invalid topic names are refused at publish time (v5 / v3.1.1 MQTT-3.3.2-2: no wildcards).
// checks: v3.1.1 MQTT-3.3.2-2, v3.1.1 MQTT-4.7.1-1, v3.1.1 MQTT-4.7.3-1, v3.1.1 MQTT-4.7.3-2
// checks: v5 MQTT-3.3.2-2, v5 MQTT-4.7.0-1, v5 MQTT-4.7.3-1, v5 MQTT-4.7.3-2
#[test]
fn invalid_topic_names_are_refused() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        for t in ["a/+", "#", "", "a\0b"] {
            assert!(
                matches!(
                    sim.publish(msg(t, b"x", Q1)),
                    Err(PublishError::InvalidTopic(_))
                ),
                "{v}: {t:?}"
            );
        }
        assert!(sim.take().is_empty());
    }
}

/// v5 MQTT-3.2.2-15: nothing larger than the broker's Maximum Packet Size is sent; a publish
/// that would be is refused with TooLarge (at once when online, on its completion when it
/// waited offline).
// checks: v5 MQTT-3.2.2-15
#[test]
fn v5_brokers_maximum_packet_size_is_respected_mqtt_3_2_2_15() {
    let limits = Properties {
        maximum_packet_size: Some(100),
        ..Properties::EMPTY
    };
    let mut sim = Sim::new(opts(V5));
    sim.broker_max_packet_size = Some(100);
    sim.start();
    let offline_big = sim.publish(msg("t", &[0; 200], Q1)).unwrap();
    let offline_ok = sim.publish(msg("t", &[0; 20], Q1)).unwrap();
    sim.take();
    sim.send(&connack_with(false, limits));
    let events = sim.take_events();
    assert!(matches!(
        completion_of(&events, offline_big),
        Err(PublishError::TooLarge(_))
    ));
    let p = publishes(&sim.take());
    assert_eq!(p.len(), 1);
    sim.send(&puback(p[0].packet_id));
    assert_eq!(
        completion_of(&sim.take_events(), offline_ok),
        Ok(ReasonCode::SUCCESS)
    );
    for qos in [Q0, Q1, Q2] {
        assert!(
            matches!(
                sim.publish(msg("t", &[0; 200], qos)),
                Err(PublishError::TooLarge(_))
            ),
            "{qos:?}"
        );
    }
    let long_filter = "f/".repeat(60);
    assert!(matches!(
        sim.session.subscribe(
            vec![(long_filter, SubscriptionOptions::default())],
            None,
            sim.now
        ),
        Err(RequestError::Invalid(_))
    ));
    assert!(sim.take().is_empty());
}

/// v5 MQTT-3.3.2-15..18 (the broker forwards them unaltered) seen from the client: user
/// properties (in order), response topic, correlation data, content type, payload format and
/// expiry arrive in the received message; the client sends them unaltered too. In v3.1.1 the
/// properties are left out.
#[test]
fn v5_message_properties_round_trip_mqtt_3_3_2_17() {
    let props = pub_props(&[("b", "2"), ("a", "1"), ("b", "3")]);
    let mut sim = Sim::connected(opts(V5));
    sim.publish(msg("req", b"q", Q1).properties(props.clone()))
        .unwrap();
    let p = publishes(&sim.take()).remove(0);
    assert_eq!(p.props.message_properties(), props);
    let users = [("b", "2"), ("a", "1"), ("b", "3")];
    let ids = [5u32, 300];
    sim.send(&Packet::Publish(Publish {
        dup: false,
        qos: Q1,
        retain: true,
        topic: "resp",
        packet_id: 3,
        properties: Properties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(120),
            content_type: Some("application/json"),
            response_topic: Some("replies/sim"),
            correlation_data: Some(&[0xC0, 0xFF, 0xEE]),
            user_properties: Seq::from_slice(&users),
            subscription_identifiers: Seq::from_slice(&ids),
            ..Properties::EMPTY
        },
        payload: b"{}",
    }));
    let m = messages(&sim.take_events()).remove(0);
    let mut expected = props.clone();
    expected.subscription_identifiers = vec![5, 300];
    assert_eq!(m.message.properties, expected);
    assert!(m.message.retain);

    let mut sim = Sim::connected(opts(V311));
    sim.publish(msg("req", b"q", Q1).properties(props)).unwrap();
    let p = publishes(&sim.take()).remove(0);
    assert_eq!(p.props.message_properties(), MessageProperties::default());
}

/// An accepted QoS 1/2 message is never lost: written and dropped with the transport before the
/// broker saw it, it is resent on a resumed session and requeued on a lost one.
// checks: v3.1.1 MQTT-3.1.2-4, v3.1.1 MQTT-4.1.0-1
#[test]
fn accepted_messages_survive_drops_before_and_after_the_write() {
    for v in VERSIONS {
        for present in [true, false] {
            let mut sim = Sim::connected(opts(v).clean_start(false));
            sim.hold_output = true;
            let a = sim.publish(msg("keep", b"a", Q1)).unwrap(); // never left the buffer
            sim.hold_output = false;
            sim.drop_connection();
            let b = sim.publish(msg("keep", b"b", Q2)).unwrap(); // offline
            let after = reconnect_with(&mut sim, &connack(present));
            let p = publishes(&after);
            let payloads: Vec<_> = p.iter().map(|p| p.payload.clone()).collect();
            assert_eq!(
                payloads,
                vec![b"a".to_vec(), b"b".to_vec()],
                "{v} {present}"
            );
            sim.send(&puback(p[0].packet_id));
            sim.send(&pubrec(p[1].packet_id));
            sim.send(&pubcomp(p[1].packet_id));
            let events = sim.take_events();
            assert_eq!(completion_of(&events, a), Ok(ReasonCode::SUCCESS));
            assert_eq!(completion_of(&events, b), Ok(ReasonCode::SUCCESS));
        }
    }
}

/// With every packet identifier the window allows in use (65 535 - 1024 unacknowledged QoS 1
/// messages), a subscribe still gets an identifier of its own instead of spinning forever. The
/// session runs on a thread so that a regression fails instead of hanging.
#[test]
fn packet_identifiers_never_run_out() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut sim = Sim::connected(opts(V311).max_inflight(u16::MAX).keep_alive(0));
        for i in 0..u32::from(u16::MAX) {
            sim.session
                .publish(msg("t", &i.to_be_bytes(), Q1), 0)
                .unwrap();
        }
        sim.run();
        tx.send(sim.session.inflight_len()).unwrap();
        let r = sim
            .session
            .subscribe(vec![("a".into(), SubscriptionOptions::default())], None, 0);
        tx.send(usize::from(r.is_ok())).unwrap();
    });
    let inflight = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .unwrap();
    // The window leaves 1024 identifiers to subscribe/unsubscribe requests.
    assert_eq!(inflight, usize::from(u16::MAX) - 1024);
    assert_eq!(
        rx.recv_timeout(std::time::Duration::from_secs(10)),
        Ok(1),
        "subscribe must succeed with a free packet identifier"
    );
}

/// Every string the client would write is checked first: U+0000 anywhere (client identifier,
/// user name, will topic, topic, properties, filters), wildcards in a will topic or response
/// topic, and empty or over-long topics are refused before anything goes out; a multi-byte
/// UTF-8 topic goes out byte for byte.
// checks: v3.1.1 MQTT-1.5.3-1, v3.1.1 MQTT-1.5.3-2, v3.1.1 MQTT-3.1.3-4, v3.1.1 MQTT-3.1.3-10
// checks: v3.1.1 MQTT-3.1.3-11, v3.1.1 MQTT-3.3.2-1, v3.1.1 MQTT-3.8.3-1, v3.1.1 MQTT-3.10.3-1
// checks: v3.1.1 MQTT-4.7.3-1, v3.1.1 MQTT-4.7.3-2, v3.1.1 MQTT-4.7.3-3
// checks: v5 MQTT-1.5.4-1, v5 MQTT-1.5.4-2, v5 MQTT-1.5.7-1, v5 MQTT-3.1.3-4, v5 MQTT-3.1.3-11
// checks: v5 MQTT-3.1.3-12, v5 MQTT-3.3.2-1, v5 MQTT-3.3.2-13, v5 MQTT-3.3.2-14
// checks: v5 MQTT-3.3.2-19, v5 MQTT-3.8.3-1, v5 MQTT-3.10.3-1, v5 MQTT-4.7.3-1, v5 MQTT-4.7.3-2
// checks: v5 MQTT-4.7.3-3
#[test]
fn strings_the_client_writes_are_checked() {
    for v in VERSIONS {
        // CONNECT fields: the session never connects with them.
        let bad_connects: Vec<Options> = vec![
            Options {
                client_id: "a\0b".into(),
                ..opts(v)
            },
            opts(v).credentials("us\0er", b"pw".to_vec()),
            opts(v).will(LastWill::new("will\0", b"x".to_vec())),
            opts(v).will(LastWill::new("will/+", b"x".to_vec())),
            opts(v).will(LastWill::new("", b"x".to_vec())),
        ];
        for o in bad_connects {
            let mut sim = Sim::new(o.clone());
            sim.start();
            assert!(sim.take().is_empty(), "{v}: nothing written for {o:?}");
            assert_eq!(sim.session.state(), State::Closed);
        }

        let mut sim = Sim::connected(opts(v));
        let long = "x".repeat(65_536);
        for t in ["a\0b", "", long.as_str()] {
            assert!(
                matches!(
                    sim.publish(msg(t, b"x", Q1)),
                    Err(PublishError::InvalidTopic(_))
                ),
                "{v}: topic of {} bytes",
                t.len()
            );
        }
        for f in ["a\0b", "", long.as_str()] {
            let sub = sim.session.subscribe(
                vec![(f.to_string(), SubscriptionOptions::default())],
                None,
                0,
            );
            assert!(matches!(sub, Err(RequestError::InvalidFilter(_))), "{v}");
            let unsub = sim.session.unsubscribe(vec![f.to_string()], 0);
            assert!(matches!(unsub, Err(RequestError::InvalidFilter(_))), "{v}");
        }
        if v == V5 {
            let with = |p: MessageProperties| msg("t", b"x", Q1).properties(p);
            let bad = [
                MessageProperties {
                    user_properties: vec![("k\0".into(), "v".into())],
                    ..Default::default()
                },
                MessageProperties {
                    user_properties: vec![("k".into(), "v\0".into())],
                    ..Default::default()
                },
                MessageProperties {
                    content_type: Some("text/\0".into()),
                    ..Default::default()
                },
                MessageProperties {
                    response_topic: Some("replies/#".into()),
                    ..Default::default()
                },
                MessageProperties {
                    response_topic: Some("replies/\0".into()),
                    ..Default::default()
                },
            ];
            for p in bad {
                assert!(
                    matches!(sim.publish(with(p.clone())), Err(PublishError::Invalid(_))),
                    "{p:?}"
                );
            }
        }
        assert!(sim.take().is_empty(), "{v}: none of it went out");

        // A topic of multi-byte characters goes out as its UTF-8 bytes.
        let topic = "température/°C/日本/𝄞";
        sim.publish(msg(topic, b"21", Q0)).unwrap();
        let p = publishes(&sim.take()).remove(0);
        assert_eq!(p.topic, topic);
        let mut w = Wire::connected_with(opts(v), &connack(false));
        w.session
            .publish(msg(topic, b"21", Q0), w.now)
            .expect("publish");
        w.run();
        let raw = w.take().remove(0);
        let mut b = Body::of(&raw);
        assert_eq!(
            b.field(),
            topic.as_bytes(),
            "{v}: the Topic Name comes first"
        );
    }
}

/// PUBREL packets go in the order their PUBREC packets arrived, not in publication order.
// checks: v3.1.1 MQTT-4.6.0-4, v5 MQTT-4.6.0-4
#[test]
fn pubrel_follows_the_order_of_pubrec() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        for i in 0..3u8 {
            sim.publish(msg("q2", &[i], Q2)).unwrap();
        }
        let p: Vec<u16> = publishes(&sim.take()).iter().map(|p| p.packet_id).collect();
        let mut bytes = Vec::new();
        for i in [2, 0, 1] {
            bytes.extend(encode(v, &pubrec(p[i])));
        }
        sim.send_raw(&bytes);
        assert_eq!(
            sim.take(),
            vec![
                OPacket::PubRel(resp(p[2])),
                OPacket::PubRel(resp(p[0])),
                OPacket::PubRel(resp(p[1]))
            ]
        );
    }
}

/// On a live connection nothing is ever retransmitted: an unacknowledged PUBLISH or PUBREL
/// waits (for its acknowledgement, or for a resumed session), however long it takes.
// checks: v3.1.1 MQTT-4.3.2-1, v3.1.1 MQTT-4.3.3-1
// checks: v5 MQTT-4.3.2-3, v5 MQTT-4.3.3-5, v5 MQTT-4.3.3-6, v5 MQTT-4.4.0-1
#[test]
fn nothing_is_retransmitted_on_a_live_connection() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.publish(msg("a", b"1", Q1)).unwrap();
        sim.publish(msg("b", b"2", Q2)).unwrap();
        sim.publish(msg("c", b"3", Q2)).unwrap();
        let p = publishes(&sim.take());
        sim.send(&pubrec(p[2].packet_id));
        assert_eq!(sim.take(), vec![OPacket::PubRel(resp(p[2].packet_id))]);
        for _ in 0..360 {
            sim.advance(10_000);
            let sent = sim.take();
            assert_eq!(sent, vec![OPacket::PingReq], "{v}: only keep-alive");
            sim.send(&Packet::PingResp);
        }
        assert!(completions(&sim.take_events()).is_empty());
        assert_eq!(sim.session.inflight_len(), 3);
        assert!(sim.session.is_connected());
    }
}

/// The client applies no message expiry to a QoS 2 message once sent: its PUBREL and its
/// redelivery go on after the expiry passed. Inbound, the QoS 2 exchange completes whatever the
/// message's expiry.
// checks: v5 MQTT-4.3.3-7, v5 MQTT-4.3.3-13
#[test]
fn qos2_exchanges_ignore_message_expiry() {
    let mut sim = Sim::connected(opts(V5).keep_alive(0).session_expiry_interval(600));
    let short = MessageProperties {
        message_expiry_interval: Some(1),
        ..Default::default()
    };
    let a = sim
        .publish(msg("a", b"1", Q2).properties(short.clone()))
        .unwrap();
    let b = sim
        .publish(msg("b", b"2", Q2).properties(short.clone()))
        .unwrap();
    let p = publishes(&sim.take());
    sim.advance_to(10_000);
    sim.send(&pubrec(p[0].packet_id));
    assert_eq!(sim.take(), vec![OPacket::PubRel(resp(p[0].packet_id))]);
    sim.advance_to(20_000);
    sim.drop_connection();
    let after = reconnect(&mut sim, &connack(true));
    assert_eq!(after[0], OPacket::PubRel(resp(p[0].packet_id)));
    let again = publishes(&after);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].packet_id, again[0].dup), (p[1].packet_id, true));
    sim.send(&pubcomp(p[0].packet_id));
    sim.send(&pubrec(p[1].packet_id));
    sim.send(&pubcomp(p[1].packet_id));
    let events = sim.take_events();
    for id in [a, b] {
        assert!(completions(&events).contains(&(id, Ok(ReasonCode::SUCCESS))));
    }
    // Inbound: expired long before PUBREL, still completed.
    sim.take();
    sim.send(&Packet::Publish(Publish {
        dup: false,
        qos: Q2,
        retain: false,
        topic: "in",
        packet_id: 9,
        properties: Properties {
            message_expiry_interval: Some(1),
            ..Properties::EMPTY
        },
        payload: b"x",
    }));
    assert_eq!(sim.take(), vec![OPacket::PubRec(resp(9))]);
    sim.advance_to(60_000);
    sim.send(&pubrel(9));
    assert_eq!(sim.take(), vec![OPacket::PubComp(resp(9))]);
}

/// A PUBLISH from the client never carries a Subscription Identifier, even when the message
/// handed to `publish` has some (a received message published again, say).
// checks: v5 MQTT-3.3.4-6
#[test]
fn v5_client_publish_carries_no_subscription_identifier() {
    let mut w = Wire::connected_with(opts(V5), &connack(false));
    let p = MessageProperties {
        subscription_identifiers: vec![7, 300],
        ..Default::default()
    };
    for qos in [Q0, Q1, Q2] {
        w.session
            .publish(msg("t", b"x", qos).properties(p.clone()), w.now)
            .unwrap();
    }
    w.run();
    let sent = w.take();
    assert_eq!(sent.len(), 3);
    for raw in &sent {
        match decode(V5, raw) {
            Packet::Publish(p) => assert!(p.properties.subscription_identifiers.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}

/// `publish_ref` is `publish` of a message the caller keeps: for the same calls, the same
/// results, the same bytes on the wire and the same events, whether a message is sent at once
/// (QoS 0, 1 and 2), refused, queued while offline or sent from the queue after a reconnect.
#[test]
fn publish_ref_does_what_publish_does() {
    for v in VERSIONS {
        // A session the broker keeps across the reconnect.
        let o = || opts(v).clean_start(false).session_expiry_interval(3600);
        let mut by_value = Sim::connected(o());
        let mut by_ref = Sim::connected(o());
        let props = if v == V5 {
            pub_props(&[("k", "v")])
        } else {
            MessageProperties::default()
        };
        let script = [
            msg("a/0", b"zero", Q0).properties(props.clone()),
            msg("a/1", b"one", Q1).retain(true),
            msg("a/2", b"two", Q2),
            msg("a/#", b"no topic name", Q0),
            msg("a/0", b"", Q0),
        ];
        let run = |sim: &mut Sim, by_ref: bool| {
            let mut results = Vec::new();
            for m in &script {
                let r = if by_ref {
                    sim.session.publish_ref(m, sim.now)
                } else {
                    sim.session.publish(m.clone(), sim.now)
                };
                sim.waiting = false;
                sim.run();
                results.push(r);
            }
            results
        };
        assert_eq!(run(&mut by_value, false), run(&mut by_ref, true));
        let online = by_value.take();
        assert_eq!(online, by_ref.take());
        assert_eq!(publishes(&online).len(), 4, "{online:?}");
        // Offline: everything is queued, then goes out after the reconnect.
        by_value.drop_connection();
        by_ref.drop_connection();
        assert_eq!(run(&mut by_value, false), run(&mut by_ref, true));
        let connack = connack(true);
        let resent = reconnect(&mut by_value, &connack);
        assert_eq!(resent, reconnect(&mut by_ref, &connack));
        assert!(publishes(&resent).len() >= 4, "{resent:?}");
        assert_eq!(by_value.all_events(), by_ref.all_events());
    }
}
