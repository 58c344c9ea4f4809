//! Resend and requeue after a reconnection: DUP and PUBREL on a resumed session, the
//! requeue rule on a lost one.

use crate::common::*;

/// v5 MQTT-4.4.0-1 / v3.1.1 MQTT-4.4.0-1 (resend unacknowledged PUBLISH and PUBREL with their
/// original identifiers), v5 MQTT-4.6.0-1 / v3.1.1 MQTT-4.6.0-1 (in the original order),
/// v5 / v3.1.1 MQTT-3.3.1-1 (DUP 1 on a redelivery), v5 MQTT-4.3.3-6 (no PUBLISH again after
/// its PUBREL), v5 MQTT-3.3.2-7 (no topic alias carried into the new connection).
// checks: v3.1.1 MQTT-2.3.1-3, v3.1.1 MQTT-3.1.2-4, v3.1.1 MQTT-3.3.1-1, v3.1.1 MQTT-4.1.0-1
// checks: v3.1.1 MQTT-4.4.0-1, v3.1.1 MQTT-4.6.0-1, v5 MQTT-3.1.2-23, v5 MQTT-3.3.1-1
// checks: v5 MQTT-4.3.3-6, v5 MQTT-4.4.0-1, v5 MQTT-4.6.0-1
#[test]
fn resumed_session_resends_in_order_with_dup_and_pubrel_mqtt_4_4_0_1() {
    for v in VERSIONS {
        let mut sim = Sim::connected_with(
            opts(v).clean_start(false).session_expiry_interval(600),
            &connack_with(
                false,
                Properties {
                    topic_alias_maximum: if v == V5 { Some(10) } else { None },
                    ..Properties::EMPTY
                },
            ),
        );
        let ids: Vec<PublishId> = [("a", Q1), ("b", Q2), ("c", Q1), ("d", Q2), ("a", Q2)]
            .iter()
            .map(|&(t, q)| sim.publish(msg(t, t.as_bytes(), q)).unwrap())
            .collect();
        let first = publishes(&sim.take());
        assert_eq!(first.len(), 5);
        sim.send(&pubrec(first[1].packet_id)); // b: PUBREC'd
        assert_eq!(sim.take().len(), 1, "PUBREL b");
        sim.send(&puback(first[2].packet_id)); // c: done
        sim.drop_connection();
        // Published while offline: goes after the resent ones.
        let late = sim.publish(msg("late", b"late", Q1)).unwrap();
        let State::Reconnecting(at) = sim.session.state() else {
            panic!()
        };
        sim.advance_to(at);
        let connect = sim.take();
        assert!(!connect[0].connect().unwrap().clean_start, "{v}");
        sim.send(&connack(true));
        let resent = sim.take();
        let summary: Vec<(PacketType, u16, bool)> = resent
            .iter()
            .map(|p| match p {
                OPacket::Publish(p) => (PacketType::Publish, p.packet_id, p.dup),
                OPacket::PubRel(r) => (PacketType::PubRel, r.packet_id, false),
                other => panic!("{other:?}"),
            })
            .collect();
        let late_pid = publishes(&resent).last().unwrap().packet_id;
        assert_eq!(
            summary,
            vec![
                (PacketType::Publish, first[0].packet_id, true),
                (PacketType::PubRel, first[1].packet_id, false),
                (PacketType::Publish, first[3].packet_id, true),
                (PacketType::Publish, first[4].packet_id, true),
                (PacketType::Publish, late_pid, false),
            ],
            "{v}"
        );
        for p in publishes(&resent).iter().filter(|p| p.dup) {
            assert_eq!(p.payload, p.topic.as_bytes(), "same message");
            assert_eq!(
                p.props.topic_alias, None,
                "{v}: no alias from the old connection"
            );
        }
        let r = publishes(&resent);
        sim.send(&puback(r[0].packet_id));
        sim.send(&pubcomp(first[1].packet_id));
        sim.send(&pubrec(r[1].packet_id));
        sim.send(&pubcomp(r[1].packet_id));
        sim.send(&pubrec(r[2].packet_id));
        sim.send(&pubcomp(r[2].packet_id));
        sim.send(&puback(late_pid));
        let events = sim.all_events();
        for id in ids.iter().chain([&late]) {
            assert_eq!(completion_of(&events, *id), Ok(ReasonCode::SUCCESS), "{v}");
        }
    }
}

/// v5 MQTT-4.9.0-1 / MQTT-3.3.4-7 on a resumed session: when the broker's new Receive Maximum
/// is smaller, only that many PUBLISH are resent at once (a PUBREC'd message counts until its
/// PUBCOMP); the others follow, still in order and with DUP, as acknowledgements arrive.
#[test]
fn v5_resumed_session_resends_within_the_new_window_mqtt_4_9_0_1() {
    let rm = |n| {
        connack_with(
            true,
            Properties {
                receive_maximum: Some(n),
                ..Properties::EMPTY
            },
        )
    };
    let mut sim = Sim::connected_with(opts(V5).clean_start(false), &rm(4));
    for (t, q) in [("m1", Q2), ("m2", Q1), ("m3", Q1), ("m4", Q1)] {
        sim.publish(msg(t, t.as_bytes(), q)).unwrap();
    }
    let first = publishes(&sim.take());
    sim.send(&pubrec(first[0].packet_id));
    sim.take();
    sim.drop_connection();
    let resent = reconnect_with(&mut sim, &rm(2));
    assert_eq!(
        resent,
        vec![
            OPacket::PubRel(OPubResp::new(first[0].packet_id, ReasonCode::SUCCESS)),
            OPacket::Publish(OPublish {
                dup: true,
                ..first[1].clone()
            }),
        ]
    );
    sim.send(&pubcomp(first[0].packet_id));
    let p = publishes(&sim.take());
    assert_eq!((p.len(), p[0].topic.as_str(), p[0].dup), (1, "m3", true));
    sim.send(&puback(first[1].packet_id));
    let p = publishes(&sim.take());
    assert_eq!((p.len(), p[0].topic.as_str(), p[0].dup), (1, "m4", true));
    assert!(sim.unacked_conn.len() <= 2);
    // New messages wait behind the ones still to resend.
    sim.publish(msg("m5", b"m5", Q1)).unwrap();
    assert!(publishes(&sim.take()).is_empty());
    sim.send(&puback(first[2].packet_id));
    let p = publishes(&sim.take());
    assert_eq!((p[0].topic.as_str(), p[0].dup), ("m5", false));
}

/// v5 MQTT-3.2.2-5 (no session present: discard session state) with the documented requeue
/// rule: messages never acknowledged go back to the front of the queue in order and are sent
/// as new messages (DUP 0); a PUBREC'd QoS 2 message completes (the broker owns it); every
/// recorded subscription is renewed (v3.1.1 MQTT-3.1.2-6: a new session has none).
// checks: v3.1.1 MQTT-3.1.2-6, v3.1.1 MQTT-3.9.3-1, v5 MQTT-3.2.2-5, v5 MQTT-3.9.3-1
#[test]
fn lost_session_requeues_and_renews_subscriptions_mqtt_3_2_2_5() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(4));
        // Subscriptions: two with identifier 7, one without, one refused, one removed.
        let opts_of = |q| SubscriptionOptions::qos(q);
        let sid = if v == V5 { Some(7) } else { None };
        sim.session
            .subscribe(
                vec![("a/+".into(), opts_of(Q1)), ("b/#".into(), opts_of(Q2))],
                sid,
                sim.now,
            )
            .unwrap();
        sim.session
            .subscribe(
                vec![("c".into(), opts_of(Q0)), ("denied".into(), opts_of(Q0))],
                None,
                sim.now,
            )
            .unwrap();
        sim.session
            .subscribe(vec![("gone".into(), opts_of(Q0))], None, sim.now)
            .unwrap();
        sim.run();
        let subs: Vec<OSubscribe> = sim
            .take()
            .iter()
            .filter_map(|p| p.subscribe().cloned())
            .collect();
        assert_eq!(subs.len(), 3);
        sim.send(&suback(subs[0].packet_id, &[ReasonCode(1), ReasonCode(2)]));
        sim.send(&suback(
            subs[1].packet_id,
            &[ReasonCode(0), ReasonCode(0x80)],
        ));
        sim.send(&suback(subs[2].packet_id, &[ReasonCode(0)]));
        sim.session
            .unsubscribe(vec!["gone".into()], sim.now)
            .unwrap();
        sim.run();
        let unsub = sim.take();
        let OPacket::Unsubscribe(u) = &unsub[0] else {
            panic!("{unsub:?}")
        };
        let codes = if v == V5 { vec![ReasonCode(0)] } else { vec![] };
        sim.send(&unsuback(u.packet_id, &codes));
        sim.take_events();

        let ids: Vec<PublishId> = [("m1", Q1), ("m2", Q2), ("m3", Q2), ("m4", Q1), ("m5", Q1)]
            .iter()
            .map(|&(t, q)| sim.publish(msg(t, t.as_bytes(), q)).unwrap())
            .collect();
        let first = publishes(&sim.take());
        assert_eq!(first.len(), 4, "window 4, m5 queued");
        sim.send(&pubrec(first[1].packet_id)); // m2 PUBREC'd
        sim.take();
        sim.drop_connection();
        let State::Reconnecting(at) = sim.session.state() else {
            panic!()
        };
        sim.advance_to(at);
        sim.take();
        sim.send(&connack(false));
        let after = sim.take();
        let events = sim.take_events();
        assert_eq!(
            completion_of(&events, ids[1]),
            Ok(ReasonCode::SUCCESS),
            "{v}: PUBREC'd m2 completes as delivered"
        );
        assert!(
            events.contains(&Event::Resubscribing { filters: 3 }),
            "{events:?}"
        );
        let renewed: Vec<OSubscribe> = after
            .iter()
            .filter_map(|p| p.subscribe().cloned())
            .collect();
        let mut filters: Vec<(String, SubscriptionOptions, Vec<u32>)> = renewed
            .iter()
            .flat_map(|s| {
                s.subs
                    .iter()
                    .map(|(f, o)| (f.clone(), *o, s.props.subscription_identifiers.clone()))
            })
            .collect();
        filters.sort_by(|a, b| a.0.cmp(&b.0));
        let sid_list: Vec<u32> = sid.into_iter().collect();
        assert_eq!(
            filters,
            vec![
                ("a/+".to_string(), opts_of(Q1), sid_list.clone()),
                ("b/#".to_string(), opts_of(Q2), sid_list),
                ("c".to_string(), opts_of(Q0), vec![]),
            ],
            "{v}"
        );
        let p = publishes(&after);
        let topics: Vec<_> = p.iter().map(|p| p.topic.as_str()).collect();
        assert_eq!(
            topics,
            vec!["m1", "m3", "m4", "m5"],
            "{v}: requeued in order"
        );
        assert!(p.iter().all(|p| !p.dup), "{v}: new messages, DUP 0");
        assert!(
            !after.iter().any(|p| matches!(p, OPacket::PubRel(_))),
            "{v}: no PUBREL into a new session"
        );
        for p in &p {
            if p.qos == Q1 {
                sim.send(&puback(p.packet_id));
            } else {
                sim.send(&pubrec(p.packet_id));
                sim.send(&pubcomp(p.packet_id));
            }
        }
        let events = sim.take_events();
        for id in [ids[0], ids[2], ids[3], ids[4]] {
            assert_eq!(completion_of(&events, id), Ok(ReasonCode::SUCCESS), "{v}");
        }
    }
}

/// A resumed session sends its unacknowledged messages again within the broker's new limits:
/// no more unacknowledged QoS 1 and 2 PUBLISH than its Receive Maximum (a PUBREC'd message
/// counts until PUBCOMP; PUBREL is not held back), the rest as acknowledgements arrive, in the
/// original order and before new messages; a message the new Maximum QoS or Retain Available
/// forbids fails instead of going out.
// checks: v5 MQTT-3.2.2-11, v5 MQTT-3.2.2-14, v5 MQTT-3.3.4-7, v5 MQTT-3.3.4-8, v5 MQTT-4.4.0-1
// checks: v5 MQTT-4.6.0-1, v5 MQTT-4.9.0-1, v5 MQTT-4.9.0-2
#[test]
fn resumed_session_resends_within_the_new_limits() {
    let mut sim = Sim::connected(opts(V5).session_expiry_interval(600).max_inflight(10));
    let ids: Vec<_> = [
        msg("m0", b"0", Q1),
        msg("m1", b"1", Q1).retain(true),
        msg("m2", b"2", Q2),
        msg("m3", b"3", Q1),
        msg("m4", b"4", Q2),
        msg("m5", b"5", Q1),
    ]
    .into_iter()
    .map(|m| sim.publish(m).unwrap())
    .collect();
    let first = publishes(&sim.take());
    assert_eq!(first.len(), 6);
    let pid = |i: usize| first[i].packet_id;
    sim.send(&pubrec(pid(4)));
    assert_eq!(sim.take(), vec![OPacket::PubRel(resp(pid(4)))]);
    sim.drop_connection();
    sim.take_events();
    let limits = Properties {
        receive_maximum: Some(2),
        maximum_qos: Some(Q1),
        retain_available: Some(false),
        ..Properties::EMPTY
    };
    let after = reconnect(&mut sim, &connack_with(true, limits));
    let dup_of = |p: &OPacket| match p {
        OPacket::Publish(p) => (p.packet_id, p.dup, p.topic.clone()),
        other => panic!("{other:?}"),
    };
    // m4 (PUBREC'd) counts; m0 fills the window; PUBREL m4 is not held back.
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(dup_of(&after[0]), (pid(0), true, "m0".into()));
    assert_eq!(after[1], OPacket::PubRel(resp(pid(4))));
    let late = sim.publish(msg("m6", b"6", Q1)).unwrap();
    assert!(sim.take().is_empty(), "the window is full");
    // PUBACK m0: m1 (retained) and m2 (QoS 2) may not go any more; m3 goes.
    sim.send(&puback(pid(0)));
    let sent = sim.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(dup_of(&sent[0]), (pid(3), true, "m3".into()));
    let events = sim.take_events();
    let result = |events: &[Event], i: usize| {
        completions(events)
            .into_iter()
            .find(|(id, _)| *id == ids[i])
            .map(|(_, r)| r)
    };
    assert_eq!(result(&events, 0), Some(Ok(ReasonCode::SUCCESS)));
    assert_eq!(
        result(&events, 1),
        Some(Err(PublishError::RetainNotSupported))
    );
    assert_eq!(
        result(&events, 2),
        Some(Err(PublishError::QoSNotSupported(Q1)))
    );
    // PUBCOMP m4: m5, still before the new m6.
    sim.send(&pubcomp(pid(4)));
    let sent = sim.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(dup_of(&sent[0]), (pid(5), true, "m5".into()));
    sim.send(&puback(pid(3)));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    let (_, dup, topic) = dup_of(&sent[0]);
    assert_eq!((dup, topic.as_str()), (false, "m6"));
    let m6 = publishes(&sent)[0].packet_id;
    sim.send(&puback(pid(5)));
    sim.send(&puback(m6));
    let events = sim.all_events();
    for i in [3, 4, 5] {
        assert_eq!(result(&events, i), Some(Ok(ReasonCode::SUCCESS)), "m{i}");
    }
    assert!(completions(&events)
        .iter()
        .any(|(id, r)| *id == late && *r == Ok(ReasonCode::SUCCESS)));
}
