//! SUBSCRIBE and UNSUBSCRIBE: handles, packet identifiers, reason codes, sending again.

use crate::common::*;

/// A SUBSCRIBE sent but not acknowledged when the connection drops is sent again on the next
/// connection (its handle still gets its SUBACK), whether or not the session was resumed.
#[test]
fn unanswered_requests_are_sent_again_after_reconnect() {
    for v in VERSIONS {
        for present in [false, true] {
            let mut sim = Sim::connected(opts(v).clean_start(false));
            let id = sim.subscribe(&[("x/#", Q1)], None);
            assert_eq!(sim.take().len(), 1);
            sim.drop_connection();
            let after = reconnect_with(&mut sim, &connack(present));
            let subs: Vec<_> = after
                .iter()
                .filter_map(|p| p.subscribe().cloned())
                .collect();
            assert_eq!(subs.len(), 1, "{v} {present}: {after:?}");
            sim.send(&suback(subs[0].packet_id, &[ReasonCode(1)]));
            let events = sim.take_events();
            assert!(events.contains(&Event::Subscribed {
                id,
                reason_codes: vec![ReasonCode(1)]
            }));
        }
    }
}

/// Subscribe and unsubscribe report their acknowledgements on their handles (v5 MQTT-3.8.4-1 /
/// v3.1.1 MQTT-3.8.4-1 on the broker side; v5 MQTT-2.2.1-6 / v3.1.1 MQTT-2.3.1-7 matching ids).
// checks: v3.1.1 MQTT-2.3.1-7, v3.1.1 MQTT-3.8.3-3, v3.1.1 MQTT-3.8.4-2, v3.1.1 MQTT-3.9.3-1
// checks: v3.1.1 MQTT-3.10.4-4, v5 MQTT-2.2.1-6, v5 MQTT-3.8.4-2, v5 MQTT-3.9.3-1
// checks: v5 MQTT-3.10.4-5
#[test]
fn subscribe_and_unsubscribe_complete_on_their_handles() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        let id = sim.subscribe(&[("a/#", Q2), ("b", Q0)], None);
        let s = sim.take()[0].subscribe().unwrap().clone();
        assert_eq!(
            s.subs,
            vec![
                ("a/#".to_string(), SubscriptionOptions::qos(Q2)),
                ("b".to_string(), SubscriptionOptions::qos(Q0))
            ]
        );
        sim.send(&suback(s.packet_id, &[ReasonCode(2), ReasonCode(0x80)]));
        assert_eq!(
            sim.take_events(),
            vec![Event::Subscribed {
                id,
                reason_codes: vec![ReasonCode(2), ReasonCode(0x80)]
            }]
        );
        let uid = sim
            .session
            .unsubscribe(vec!["a/#".into()], sim.now)
            .unwrap();
        sim.run();
        let OPacket::Unsubscribe(u) = sim.take().remove(0) else {
            panic!()
        };
        assert_eq!(u.filters, vec!["a/#".to_string()]);
        let codes = if v == V5 { vec![ReasonCode(0)] } else { vec![] };
        sim.send(&unsuback(u.packet_id, &codes));
        assert_eq!(
            sim.take_events(),
            vec![Event::Unsubscribed {
                id: uid,
                reason_codes: codes
            }]
        );
        assert_eq!(
            sim.session.subscribe(vec![], None, sim.now),
            Err(RequestError::Empty)
        );
        assert!(matches!(
            sim.session.subscribe(
                vec![("a/#/b".into(), SubscriptionOptions::default())],
                None,
                sim.now
            ),
            Err(RequestError::InvalidFilter(_))
        ));
    }
}

/// v5 subscription identifiers go in SUBSCRIBE (one, 1..=268 435 455); 0 is refused; v3.1.1
/// has none.
#[test]
fn v5_subscription_identifier_in_subscribe() {
    let mut sim = Sim::connected(opts(V5));
    sim.subscribe(&[("a/#", Q1)], Some(268_435_455));
    assert_eq!(
        sim.take()[0]
            .subscribe()
            .unwrap()
            .props
            .subscription_identifiers,
        vec![268_435_455]
    );
    assert!(matches!(
        sim.session.subscribe(
            vec![("a".into(), SubscriptionOptions::default())],
            Some(0),
            sim.now
        ),
        Err(RequestError::Invalid(_))
    ));
    let mut sim = Sim::connected(opts(V311));
    sim.subscribe(&[("a/#", Q1)], Some(9));
    assert!(sim.take()[0]
        .subscribe()
        .unwrap()
        .props
        .subscription_identifiers
        .is_empty());
}

/// v5 MQTT-4.8.2-1 / MQTT-4.8.2-2: a shared subscription filter is accepted and sent as is, and
/// renewed like any other; MQTT-3.8.3-4: No Local on it is refused.
// checks: v5 MQTT-3.8.3-4, v5 MQTT-4.8.2-1, v5 MQTT-4.8.2-2
#[test]
fn v5_shared_subscription_mqtt_4_8_2_1() {
    let mut sim = Sim::connected(opts(V5));
    sim.subscribe(&[("$share/group/sensors/#", Q1)], None);
    let s = sim.take()[0].subscribe().unwrap().clone();
    assert_eq!(s.subs[0].0, "$share/group/sensors/#");
    sim.send(&suback(s.packet_id, &[ReasonCode(1)]));
    let no_local = SubscriptionOptions {
        no_local: true,
        ..SubscriptionOptions::qos(Q1)
    };
    assert!(matches!(
        sim.session
            .subscribe(vec![("$share/g/x".into(), no_local)], None, sim.now),
        Err(RequestError::Invalid(_))
    ));
    sim.drop_connection();
    let after = reconnect_with(&mut sim, &connack(false));
    assert_eq!(
        after[0].subscribe().unwrap().subs[0].0,
        "$share/group/sensors/#"
    );
}

/// No Local, Retain As Published and Retain Handling ≠ 0 exist only in MQTT 5.0 (v3.1.1
/// §3.8.3.1 reserves the upper six bits of the Requested QoS byte): a 3.1.1 session refuses a
/// SUBSCRIBE asking for any of them with a typed error and writes nothing, rather than
/// dropping the options silently; the same filters at their QoS alone are accepted.
#[test]
fn v311_subscribe_refuses_v5_only_options() {
    let mut sim = Sim::connected(opts(V311));
    let base = SubscriptionOptions::qos(Q1);
    for o in [
        SubscriptionOptions {
            no_local: true,
            ..base
        },
        SubscriptionOptions {
            retain_as_published: true,
            ..base
        },
        SubscriptionOptions {
            retain_handling: RetainHandling::SendIfNew,
            ..base
        },
        SubscriptionOptions {
            retain_handling: RetainHandling::DoNotSend,
            ..base
        },
    ] {
        // One bad filter among good ones refuses the whole request.
        let filters = vec![("ok/1".to_string(), base), ("bad/#".to_string(), o)];
        assert_eq!(
            sim.session.subscribe(filters, None, sim.now),
            Err(RequestError::Invalid(
                EncodeError::SubscriptionOptionsNotInVersion
            )),
            "{o:?}"
        );
        assert!(sim.take().is_empty(), "nothing is written for {o:?}");
    }
    // The same options are fine in v5, and QoS alone is fine in 3.1.1.
    sim.subscribe(&[("ok/#", Q2)], None);
    let s = sim.take()[0].subscribe().unwrap().clone();
    assert_eq!(s.subs[0].1, SubscriptionOptions::qos(Q2));
    let mut v5 = Sim::connected(opts(V5));
    let o = SubscriptionOptions {
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
        ..base
    };
    assert!(v5
        .session
        .subscribe(vec![("x".into(), o)], None, v5.now)
        .is_ok());
}

/// The fixed header of every packet the client writes has the flags of its type (0010 for
/// PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0000 otherwise); SUBSCRIBE and UNSUBSCRIBE hold at least
/// one filter, packed one after the other; v5 subscription options never set the reserved bits.
// checks: v3.1.1 MQTT-2.2.2-1, v3.1.1 MQTT-3.6.1-1, v3.1.1 MQTT-3.8.1-1, v3.1.1 MQTT-3.8.3-3
// checks: v3.1.1 MQTT-3.10.1-1, v3.1.1 MQTT-3.10.3-1, v3.1.1 MQTT-3.10.3-2
// checks: v5 MQTT-2.1.3-1, v5 MQTT-3.6.1-1, v5 MQTT-3.8.1-1, v5 MQTT-3.8.3-2, v5 MQTT-3.8.3-5
// checks: v5 MQTT-3.10.1-1, v5 MQTT-3.10.3-2
#[test]
fn fixed_header_flags_and_request_payloads_on_the_wire() {
    for v in VERSIONS {
        let mut w = Wire::connected_with(opts(v).keep_alive(5), &connack(false));
        // Every option combination, one filter each.
        let mut filters = Vec::new();
        for qos in [Q0, Q1, Q2] {
            for no_local in [false, true] {
                for retain_as_published in [false, true] {
                    for retain_handling in [
                        RetainHandling::SendAtSubscribe,
                        RetainHandling::SendIfNew,
                        RetainHandling::DoNotSend,
                    ] {
                        let o = SubscriptionOptions {
                            qos,
                            no_local,
                            retain_as_published,
                            retain_handling,
                        };
                        // 3.1.1 has the QoS alone: the other options are refused there
                        // (v3.1.1_subscribe_refuses_v5_only_options).
                        if v == V5 || o == SubscriptionOptions::qos(qos) {
                            filters.push((format!("f/{}", filters.len()), o));
                        }
                    }
                }
            }
        }
        assert!(matches!(
            w.session.subscribe(vec![], None, w.now),
            Err(RequestError::Empty)
        ));
        assert!(matches!(
            w.session.unsubscribe(vec![], w.now),
            Err(RequestError::Empty)
        ));
        w.session.subscribe(filters.clone(), None, w.now).unwrap();
        let names: Vec<String> = filters.iter().map(|(f, _)| f.clone()).collect();
        w.session.unsubscribe(names.clone(), w.now).unwrap();
        w.run();
        let sent = w.take();
        assert_eq!(sent.len(), 2, "the empty requests wrote nothing");
        // SUBSCRIBE: flags 0010, then pairs of filter and options up to the end.
        assert_eq!(sent[0][0], 0x82);
        let mut b = Body::of(&sent[0]);
        assert_ne!(b.u16(), 0);
        if v == V5 {
            b.properties();
        }
        for (f, o) in &filters {
            assert_eq!(b.field(), f.as_bytes());
            let byte = b.u8();
            if v == V5 {
                assert_eq!(byte & 0xC0, 0, "reserved bits");
                assert_eq!(byte, o.to_byte());
            } else {
                assert_eq!(byte, o.qos as u8, "3.1.1: the requested QoS alone");
            }
        }
        assert!(b.is_empty());
        // UNSUBSCRIBE: flags 0010, filters packed contiguously.
        assert_eq!(sent[1][0], 0xA2);
        let mut b = Body::of(&sent[1]);
        assert_ne!(b.u16(), 0);
        if v == V5 {
            b.properties();
        }
        for f in &names {
            assert_eq!(b.field(), f.as_bytes());
        }
        assert!(b.is_empty());
        // PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ, DISCONNECT.
        w.session.publish(msg("o", b"2", Q2), w.now).unwrap();
        w.run();
        let p = w.take().remove(0);
        assert_eq!(p[0], 0x34, "PUBLISH QoS 2, DUP 0, RETAIN 0");
        let pid = match decode(v, &p) {
            Packet::Publish(p) => p.packet_id,
            other => panic!("{other:?}"),
        };
        w.send(&pubrec(pid));
        w.send(&publish("i", b"1", Q1, 5));
        w.send(&publish("i", b"2", Q2, 6));
        w.send(&pubrel(6));
        w.now = 5_000;
        w.session.handle_timeout(w.now);
        w.run();
        w.session.disconnect(w.now);
        w.run();
        let firsts: Vec<u8> = w.take().iter().map(|p| p[0]).collect();
        assert_eq!(firsts, vec![0x62, 0x40, 0x50, 0x70, 0xC0, 0xE0], "{v}");
    }
}

/// A SUBSCRIBE or UNSUBSCRIBE sent again on a new connection (it was not acknowledged) keeps
/// its packet identifier; no new packet takes that identifier meanwhile.
// checks: v3.1.1 MQTT-2.3.1-2, v3.1.1 MQTT-2.3.1-3, v5 MQTT-2.2.1-3
#[test]
fn requests_sent_again_keep_their_packet_identifiers() {
    for v in VERSIONS {
        for present in [false, true] {
            let mut sim = Sim::connected(opts(v).clean_start(false).max_inflight(100));
            sim.subscribe(&[("a/#", Q1)], None);
            sim.session.unsubscribe(vec!["b".into()], sim.now).unwrap();
            sim.run();
            let first = sim.take();
            let sub_pid = first[0].subscribe().unwrap().packet_id;
            let OPacket::Unsubscribe(u) = &first[1] else {
                panic!("{first:?}")
            };
            let unsub_pid = u.packet_id;
            sim.drop_connection();
            // Offline: new packets must not take the reserved identifiers.
            for i in 0..50u8 {
                sim.publish(msg("q", &[i], Q1)).unwrap();
            }
            sim.subscribe(&[("c", Q0)], None);
            let after = reconnect(&mut sim, &connack(present));
            let subs: Vec<_> = after
                .iter()
                .filter_map(|p| p.subscribe().cloned())
                .collect();
            let unsubs: Vec<u16> = after
                .iter()
                .filter_map(|p| match p {
                    OPacket::Unsubscribe(u) => Some(u.packet_id),
                    _ => None,
                })
                .collect();
            assert_eq!(subs.len(), 2, "{v} {present}: {after:?}");
            assert_eq!(subs[0].subs[0].0, "a/#");
            assert_eq!(
                subs[0].packet_id, sub_pid,
                "{v} {present}: SUBSCRIBE keeps its id"
            );
            assert_eq!(
                unsubs,
                vec![unsub_pid],
                "{v} {present}: UNSUBSCRIBE keeps its id"
            );
            let mut ids: Vec<u16> = publishes(&after).iter().map(|p| p.packet_id).collect();
            ids.push(subs[1].packet_id);
            ids.extend([sub_pid, unsub_pid]);
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), n, "{v} {present}: identifiers unique");
            assert!(!ids.contains(&0));
        }
    }
}

/// SUBACK (and v5 UNSUBACK) must hold one reason code per topic filter: any other count is a
/// protocol violation that closes the connection, and the request goes again on the next
/// connection. The codes reach the application in the order of the filters.
// checks: v3.1.1 MQTT-3.8.4-2, v3.1.1 MQTT-3.8.4-5, v3.1.1 MQTT-3.9.3-1, v3.1.1 MQTT-3.10.4-4
// checks: v5 MQTT-3.8.4-2, v5 MQTT-3.8.4-6, v5 MQTT-3.8.4-7, v5 MQTT-3.9.3-1, v5 MQTT-3.10.4-5
// checks: v5 MQTT-3.11.3-1, v5 MQTT-3.11.3-2
#[test]
fn suback_and_unsuback_hold_one_code_per_filter() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).clean_start(false));
        let id = sim.subscribe(&[("a", Q2), ("b", Q1)], None);
        let pid = sim.take()[0].subscribe().unwrap().packet_id;
        sim.send(&suback(pid, &[ReasonCode(1)]));
        assert_closed_for(
            &mut sim,
            ProtocolViolation::ReasonCodeCount {
                packet: PacketType::SubAck,
                expected: 2,
                got: 1,
            },
            ReasonCode::PROTOCOL_ERROR,
        );
        let after = reconnect(&mut sim, &connack(true));
        assert_eq!(after[0].subscribe().unwrap().packet_id, pid);
        sim.send(&suback(pid, &[ReasonCode(1), ReasonCode(0x80)]));
        assert_eq!(
            sim.take_events(),
            vec![Event::Subscribed {
                id,
                reason_codes: vec![ReasonCode(1), ReasonCode(0x80)]
            }]
        );

        let uid = sim
            .session
            .unsubscribe(vec!["a".into(), "b".into()], sim.now)
            .unwrap();
        sim.run();
        let OPacket::Unsubscribe(u) = sim.take().remove(0) else {
            panic!()
        };
        if v == V5 {
            let three = [ReasonCode(0); 3];
            sim.send(&unsuback(u.packet_id, &three));
            let events = sim.take_events();
            assert_eq!(
                violation(&events),
                ProtocolViolation::ReasonCodeCount {
                    packet: PacketType::UnsubAck,
                    expected: 2,
                    got: 3
                }
            );
            assert_eq!(
                sim.take(),
                vec![OPacket::disconnect(ReasonCode::PROTOCOL_ERROR)]
            );
            assert_eq!(sim.close_requests, 2);
            let after = reconnect(&mut sim, &connack(true));
            let OPacket::Unsubscribe(again) = &after[0] else {
                panic!("{after:?}")
            };
            assert_eq!(again.packet_id, u.packet_id);
        }
        let codes = if v == V5 {
            vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
        } else {
            vec![]
        };
        sim.send(&unsuback(u.packet_id, &codes));
        assert_eq!(
            sim.take_events(),
            vec![Event::Unsubscribed {
                id: uid,
                reason_codes: codes
            }]
        );
        assert!(sim.session.is_connected());
    }
}
