//! MQTT 5.0 topic aliases, inbound and outbound.

use crate::common::*;

/// v5 MQTT-3.3.2-10: every alias in 1..=our maximum is accepted; a topic with an alias sets the
/// mapping, an empty topic with an alias uses it, a new topic re-maps it.
// checks: v5 MQTT-3.3.2-10
#[test]
fn v5_inbound_topic_aliases_are_resolved_mqtt_3_3_2_10() {
    let mut sim = Sim::connected(opts(V5).topic_alias_maximum(4));
    sim.send(&aliased("sensors/1/temp", 1, b"a"));
    sim.send(&aliased("", 1, b"b"));
    sim.send(&aliased("sensors/4", 4, b"c"));
    sim.send(&aliased("", 4, b"d"));
    sim.send(&aliased("other", 1, b"e"));
    sim.send(&aliased("", 1, b"f"));
    let topics: Vec<(String, Vec<u8>)> = messages(&sim.take_events())
        .into_iter()
        .map(|m| (m.message.topic, m.message.payload))
        .collect();
    assert_eq!(
        topics,
        vec![
            ("sensors/1/temp".into(), b"a".to_vec()),
            ("sensors/1/temp".into(), b"b".to_vec()),
            ("sensors/4".into(), b"c".to_vec()),
            ("sensors/4".into(), b"d".to_vec()),
            ("other".into(), b"e".to_vec()),
            ("other".into(), b"f".to_vec()),
        ]
    );
    assert!(sim.session.is_connected());
}

/// Invalid inbound aliases close the connection with DISCONNECT: v5 §3.3.4 "A Topic Alias value
/// of 0 or greater than the Maximum Topic Alias is a Protocol Error, the receiver uses
/// DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)" (the sender's side: v5
/// MQTT-3.3.2-8 and MQTT-3.3.2-11; with no maximum announced, v5 MQTT-3.1.2-27); and an alias
/// never set with an empty topic: "it is a Protocol Error and the receiver uses DISCONNECT with
/// Reason Code of 0x82 (Protocol Error)". v5 MQTT-3.3.2-7: mappings do not survive a
/// reconnection.
// checks: v5 MQTT-3.1.2-26, v5 MQTT-3.1.2-27, v5 MQTT-3.3.2-7, v5 MQTT-3.3.2-8
// checks: v5 MQTT-3.3.2-11
#[test]
fn v5_invalid_inbound_topic_aliases_close_with_disconnect_mqtt_3_3_2_8() {
    let cases: &[(u16, u16, &str, ReasonCode)] = &[
        (4, 0, "t", ReasonCode::TOPIC_ALIAS_INVALID),
        (4, 5, "t", ReasonCode::TOPIC_ALIAS_INVALID),
        (0, 1, "t", ReasonCode::TOPIC_ALIAS_INVALID),
        (4, 2, "", ReasonCode::PROTOCOL_ERROR),
    ];
    for &(max, alias, topic, code) in cases {
        let mut sim = Sim::connected(opts(V5).topic_alias_maximum(max));
        let mut raw = Vec::new();
        if alias == 0 {
            // The codec refuses to encode alias 0; write it by hand: PUBLISH QoS 0, topic "t",
            // properties [0x23 0x00 0x00], payload "x".
            raw.extend([0x30, 0x08, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00, b'x']);
        } else {
            raw = encode(V5, &aliased(topic, alias, b"x"));
        }
        sim.send_raw(&raw);
        assert_eq!(
            sim.take(),
            vec![OPacket::disconnect(code)],
            "max {max} alias {alias} topic {topic:?}"
        );
        assert_eq!(sim.close_requests, 1);
        let events = sim.take_events();
        assert!(messages(&events).is_empty());
        let v = protocol_violation(&events);
        assert_eq!(v.reason_code(), code, "{v:?}");
    }
    // Not carried over: alias 1 set on the first connection is unknown on the second.
    let mut sim = Sim::connected(opts(V5).topic_alias_maximum(4));
    sim.send(&aliased("t", 1, b"x"));
    sim.drop_connection();
    reconnect_with(&mut sim, &connack(true));
    sim.send(&aliased("", 1, b"y"));
    assert_eq!(
        sim.take(),
        vec![OPacket::disconnect(ReasonCode::PROTOCOL_ERROR)]
    );
}

/// v5 MQTT-3.2.2-17 / MQTT-3.3.2-9 (never above the broker's maximum), MQTT-3.3.2-8 (never 0):
/// the first use of a topic sends topic and alias, later uses an empty topic and the alias; the
/// least recently used alias is replaced when all are taken; MQTT-3.3.2-7: reset on reconnect.
// checks: v5 MQTT-3.2.2-17, v5 MQTT-3.2.2-18, v5 MQTT-3.3.2-8, v5 MQTT-3.3.2-9
#[test]
fn v5_outbound_topic_aliases_are_assigned_lru_and_reset_mqtt_3_3_2_9() {
    let limits = Properties {
        topic_alias_maximum: Some(2),
        ..Properties::EMPTY
    };
    let mut sim = Sim::connected_with(opts(V5), &connack_with(false, limits));
    let wire = |sim: &mut Sim, topic: &str| {
        sim.publish(msg(topic, b"p", Q0)).unwrap();
        let p = publishes(&sim.take()).remove(0);
        (p.topic, p.props.topic_alias)
    };
    assert_eq!(wire(&mut sim, "a"), ("a".into(), Some(1)));
    assert_eq!(wire(&mut sim, "a"), ("".into(), Some(1)));
    assert_eq!(wire(&mut sim, "b"), ("b".into(), Some(2)));
    assert_eq!(wire(&mut sim, "a"), ("".into(), Some(1)));
    assert_eq!(wire(&mut sim, "c"), ("c".into(), Some(2)), "b was LRU");
    assert_eq!(wire(&mut sim, "a"), ("".into(), Some(1)));
    assert_eq!(wire(&mut sim, "b"), ("b".into(), Some(2)), "c was LRU");
    assert_eq!(wire(&mut sim, "c"), ("c".into(), Some(1)), "a was LRU");
    sim.drop_connection();
    reconnect_with(&mut sim, &connack_with(false, limits));
    assert_eq!(
        wire(&mut sim, "c"),
        ("c".into(), Some(1)),
        "fresh after reconnect"
    );
    // Reconnection to a broker that allows none: no alias at all (v5 MQTT-3.2.2-18).
    sim.drop_connection();
    reconnect_with(&mut sim, &connack(false));
    assert_eq!(wire(&mut sim, "c"), ("c".into(), None));
}

/// v5 MQTT-3.2.2-18: no aliases when the broker sends no Topic Alias Maximum; none either when
/// the application turned them off.
// checks: v5 MQTT-3.2.2-18
#[test]
fn v5_no_outbound_aliases_without_the_brokers_maximum_mqtt_3_2_2_18() {
    let mut sim = Sim::connected(opts(V5));
    for _ in 0..3 {
        sim.publish(msg("t", b"x", Q1)).unwrap();
    }
    assert!(publishes(&sim.take())
        .iter()
        .all(|p| p.topic == "t" && p.props.topic_alias.is_none()));
    let mut sim = Sim::connected_with(
        opts(V5).outbound_topic_aliases(false),
        &connack_with(
            false,
            Properties {
                topic_alias_maximum: Some(10),
                ..Properties::EMPTY
            },
        ),
    );
    for _ in 0..3 {
        sim.publish(msg("t", b"x", Q0)).unwrap();
    }
    assert!(publishes(&sim.take())
        .iter()
        .all(|p| p.topic == "t" && p.props.topic_alias.is_none()));
}

/// v5 MQTT-3.2.2-15 with aliases: a message that fits the broker's maximum only without the
/// alias property must not leave behind an alias the broker never learnt. The next message to
/// that topic must still carry the topic name.
// checks: v5 MQTT-3.2.2-15
#[test]
fn v5_alias_is_not_left_assigned_by_a_publish_that_did_not_go_out() {
    // Size of PUBLISH QoS 1 "t/x" with payload n, without alias: 2 + 2 + 3 + 2 + 1 + n.
    let n = 100usize;
    let plain = 2 + 2 + 3 + 2 + 1 + n;
    let limits = Properties {
        topic_alias_maximum: Some(5),
        maximum_packet_size: Some(plain as u32),
        ..Properties::EMPTY
    };
    let mut sim = Sim::connected_with(opts(V5), &connack_with(false, limits));
    sim.broker_max_packet_size = Some(plain as u32);
    let big = sim.publish(msg("t/x", &vec![1; n], Q1));
    let events = sim.take_events();
    let sent = publishes(&sim.take());
    match big {
        Ok(id) => {
            // Accepted: it fits without the alias, so it must be sent (without one).
            assert_eq!(sent.len(), 1, "{events:?}");
            assert_eq!(sent[0].topic, "t/x");
            assert!(completions(&events).iter().all(|(i, _)| *i != id));
        }
        Err(e) => panic!("fits the limit without an alias: {e:?}"),
    }
    sim.publish(msg("t/x", b"small", Q1)).unwrap();
    let p = publishes(&sim.take()).remove(0);
    assert!(
        !p.topic.is_empty(),
        "the broker never learnt the alias: the topic must be sent ({p:?})"
    );
    assert_eq!(
        (p.topic.as_str(), p.props.topic_alias),
        ("t/x", Some(1)),
        "the freed alias is handed out again"
    );
}
