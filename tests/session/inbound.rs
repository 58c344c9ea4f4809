//! Inbound messages: QoS 0, 1 and 2 from the broker, the receive state, and malformed or
//! oversized input.

use crate::common::*;

/// v5 MQTT-3.3.4-1 / v3.1.1 MQTT-3.3.4-1 and v5 MQTT-4.3.2-4 / v3.1.1 MQTT-4.3.2-2: QoS 1 is
/// acknowledged with PUBACK naming its identifier; v5 MQTT-4.3.2-5: after that, the same
/// identifier is a new message (delivered again).
// checks: v3.1.1 MQTT-2.3.1-6, v3.1.1 MQTT-3.3.4-1, v3.1.1 MQTT-4.3.2-2, v3.1.1 MQTT-4.5.0-2
// checks: v5 MQTT-2.2.1-5, v5 MQTT-3.3.4-1, v5 MQTT-4.3.2-4, v5 MQTT-4.3.2-5, v5 MQTT-4.5.0-2
#[test]
fn inbound_qos0_and_qos1_mqtt_4_3_2_4() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        sim.send(&publish("in/0", b"zero", Q0, 0));
        assert!(sim.take().is_empty(), "{v}: QoS 0 is not acknowledged");
        sim.send(&publish("in/1", b"one", Q1, 17));
        assert_eq!(
            sim.take(),
            vec![OPacket::PubAck(OPubResp::new(17, ReasonCode::SUCCESS))]
        );
        sim.send(&dup(publish("in/1", b"one", Q1, 17)));
        assert_eq!(sim.take().len(), 1);
        let m = messages(&sim.take_events());
        assert_eq!(m.len(), 3);
        assert_eq!(
            (
                m[0].message.topic.as_str(),
                &m[0].message.payload[..],
                m[0].message.qos
            ),
            ("in/0", &b"zero"[..], Q0)
        );
        assert_eq!(
            (m[1].message.topic.as_str(), m[1].message.qos, m[1].dup),
            ("in/1", Q1, false)
        );
        assert!(
            m[2].dup,
            "{v}: QoS 1 after PUBACK is delivered again, flagged DUP"
        );
    }
}

/// v5 MQTT-4.6.0-2 / MQTT-4.6.0-3 (and v3.1.1 MQTT-4.6.0-2 / MQTT-4.6.0-3): PUBACK and PUBREC
/// go out in the order the PUBLISH packets arrived, even when several arrive in one read.
// checks: v3.1.1 MQTT-4.6.0-2, v3.1.1 MQTT-4.6.0-3, v5 MQTT-4.6.0-2, v5 MQTT-4.6.0-3
#[test]
fn inbound_acknowledgements_keep_arrival_order_mqtt_4_6_0_2() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        let mut bytes = Vec::new();
        for (qos, pid) in [(Q1, 7), (Q2, 3), (Q1, 9), (Q2, 1), (Q1, 2)] {
            bytes.extend(encode(v, &publish("o", b"x", qos, pid)));
        }
        sim.send_raw(&bytes);
        let acks: Vec<_> = sim
            .take()
            .into_iter()
            .map(|p| match p {
                OPacket::PubAck(r) => ('A', r.packet_id),
                OPacket::PubRec(r) => ('R', r.packet_id),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(acks, vec![('A', 7), ('R', 3), ('A', 9), ('R', 1), ('A', 2)]);
    }
}

/// v5 MQTT-4.3.3-8..12 / v3.1.1 MQTT-4.3.3-2: QoS 2 is delivered exactly once: a redelivery
/// (DUP) before PUBREL is acknowledged with PUBREC again but not delivered; PUBREL gets PUBCOMP;
/// after PUBCOMP the identifier starts a new message.
// checks: v3.1.1 MQTT-3.3.4-1, v3.1.1 MQTT-4.3.3-2, v5 MQTT-3.3.4-1, v5 MQTT-4.3.3-8
// checks: v5 MQTT-4.3.3-10, v5 MQTT-4.3.3-11, v5 MQTT-4.3.3-12
#[test]
fn inbound_qos2_is_delivered_exactly_once_mqtt_4_3_3_10() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        let rec = |pid| OPacket::PubRec(OPubResp::new(pid, ReasonCode::SUCCESS));
        sim.send(&publish("q2", b"first", Q2, 5));
        assert_eq!(sim.take(), vec![rec(5)]);
        assert_eq!(messages(&sim.take_events()).len(), 1);
        for _ in 0..3 {
            sim.send(&dup(publish("q2", b"first", Q2, 5)));
            assert_eq!(sim.take(), vec![rec(5)], "{v}: PUBREC again");
            assert!(messages(&sim.take_events()).is_empty(), "{v}: not again");
        }
        sim.send(&pubrel(5));
        assert_eq!(
            sim.take(),
            vec![OPacket::PubComp(OPubResp::new(5, ReasonCode::SUCCESS))]
        );
        sim.send(&publish("q2", b"second", Q2, 5));
        assert_eq!(sim.take(), vec![rec(5)]);
        let m = messages(&sim.take_events());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].message.payload, b"second", "{v}: a new message");
    }
}

/// The inbound QoS 2 state survives a reconnection that resumes the session (v5 MQTT-4.4.0-1 /
/// v3.1.1 MQTT-4.4.0-1: the broker resends the PUBLISH): still delivered once.
// checks: v3.1.1 MQTT-3.1.2-4, v3.1.1 MQTT-4.1.0-1, v5 MQTT-4.3.3-10
#[test]
fn inbound_qos2_state_survives_a_resumed_session_mqtt_4_4_0_1() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).clean_start(false));
        sim.send(&publish("q2", b"m", Q2, 5));
        sim.send(&publish("q2", b"n", Q2, 6));
        sim.send(&pubrel(6));
        sim.drop_connection();
        sim.take();
        assert_eq!(messages(&sim.take_events()).len(), 2);
        reconnect_with(&mut sim, &connack(true));
        sim.send(&dup(publish("q2", b"m", Q2, 5)));
        assert!(messages(&sim.take_events()).is_empty(), "{v}: not twice");
        sim.send(&pubrel(5));
        let sent = sim.take();
        assert_eq!(sent.len(), 2);
        assert!(matches!(
            sent[1],
            OPacket::PubComp(OPubResp { packet_id: 5, .. })
        ));
    }
}

/// v5 MQTT-3.2.2-5 (and v3.1.1 MQTT-3.1.2-6): when the broker has no session, the client
/// discards its own inbound QoS 2 state: the identifier starts a new message.
// checks: v3.1.1 MQTT-3.1.2-6, v5 MQTT-3.2.2-5
#[test]
fn inbound_qos2_state_is_discarded_with_a_lost_session_mqtt_3_2_2_5() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        sim.send(&publish("q2", b"old", Q2, 5));
        sim.drop_connection();
        sim.take();
        sim.take_events();
        reconnect_with(&mut sim, &connack(false));
        sim.send(&publish("q2", b"new", Q2, 5));
        let m = messages(&sim.take_events());
        assert_eq!(m.len(), 1, "{v}");
        assert_eq!(m[0].message.payload, b"new");
    }
}

/// v5 MQTT-4.3.3-11: every PUBREL is answered with PUBCOMP; for an identifier the client does
/// not know, v5 says so with 0x92 (Packet Identifier not found).
// checks: v5 MQTT-3.7.2-1, v5 MQTT-4.3.3-11
#[test]
fn pubrel_for_an_unknown_identifier_gets_pubcomp_mqtt_4_3_3_11() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        sim.send(&pubrel(44));
        let code = if v == V5 {
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        } else {
            ReasonCode::SUCCESS
        };
        assert_eq!(sim.take(), vec![OPacket::PubComp(OPubResp::new(44, code))]);
    }
}

/// v5 MQTT-3.3.4-9: the broker may not exceed our Receive Maximum; when it does, the client
/// closes with DISCONNECT 0x93 (Receive Maximum exceeded).
// checks: v5 MQTT-3.3.4-9
#[test]
fn v5_inbound_receive_maximum_exceeded_mqtt_3_3_4_9() {
    let mut sim = Sim::connected(opts(V5).receive_maximum(2));
    sim.send(&publish("a", b"1", Q2, 1));
    sim.send(&publish("a", b"2", Q2, 2));
    sim.send(&publish("a", b"3", Q2, 3));
    let sent = sim.take();
    assert_eq!(
        sent.last(),
        Some(&OPacket::disconnect(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED))
    );
    let events = sim.take_events();
    assert_eq!(messages(&events).len(), 2);
    assert_eq!(
        protocol_violation(&events),
        ProtocolViolation::ReceiveMaximumExceeded
    );
    assert_eq!(sim.close_requests, 1);
}

/// v5 MQTT-3.1.2-24 is the broker's duty; when it sends more than our Maximum Packet Size the
/// client closes with DISCONNECT 0x95 (Packet too large), before buffering the body.
// checks: v3.1.1 MQTT-4.8.0-2, v5 MQTT-3.1.2-24
#[test]
fn v5_inbound_packet_over_our_maximum_closes_with_0x95_mqtt_3_1_2_24() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_packet_size(64));
        sim.send(&publish("t", &[0; 50], Q0, 0));
        assert_eq!(messages(&sim.take_events()).len(), 1, "fits");
        // Only the fixed header of a large packet has arrived.
        let big = encode(v, &publish("t", &[0; 100], Q1, 1));
        sim.send_raw(&big[..2]);
        let sent = sim.take();
        if v == V5 {
            assert_eq!(
                sent,
                vec![OPacket::disconnect(ReasonCode::PACKET_TOO_LARGE)]
            );
        } else {
            assert!(sent.is_empty());
        }
        assert!(matches!(
            protocol_violation(&sim.take_events()),
            ProtocolViolation::Malformed(wasmqtt::codec::DecodeError::PacketTooLarge { .. })
        ));
        assert_eq!(sim.close_requests, 1);
    }
}

/// v3.1.1 MQTT-4.8.0-1 (either side closes on a protocol violation; v5 MQTT-4.13.1-1 says so
/// for servers, §4.13 for both): a malformed packet or protocol error closes the connection;
/// v5 writes DISCONNECT with the reason code first (v5 MQTT-2.1.3-1 / v3.1.1
/// MQTT-2.2.2-2 reserved flags, v5 / v3.1.1 MQTT-3.3.1-4 QoS 3, v5 MQTT-3.3.1-2 DUP on QoS 0,
/// v5 MQTT-1.5.5-1 shortest variable byte integer, v5 MQTT-1.5.4-1 / v3.1.1 MQTT-1.5.3-1 UTF-8,
/// v5 / v3.1.1 MQTT-3.3.2-2 no wildcard in a topic name, packets a server never sends). No panic.
// checks: v3.1.1 MQTT-1.5.3-1, v3.1.1 MQTT-2.2.2-2, v3.1.1 MQTT-3.3.1-4, v3.1.1 MQTT-3.3.2-2
// checks: v3.1.1 MQTT-4.8.0-1, v5 MQTT-1.5.4-1, v5 MQTT-1.5.5-1, v5 MQTT-2.1.3-1
// checks: v5 MQTT-3.3.1-2, v5 MQTT-3.3.1-4, v5 MQTT-3.3.2-2, v5 MQTT-3.14.4-1, v5 MQTT-3.14.4-2
// checks: v5 MQTT-4.13.2-1
#[test]
fn malformed_broker_input_closes_with_a_typed_error_and_reason_code() {
    fn subscribe_packet() -> Vec<(ProtocolVersion, Vec<u8>)> {
        let subs = [Subscription::new("a", Q0)];
        let filters = ["a"];
        VERSIONS
            .iter()
            .flat_map(|&v| {
                let s = Packet::Subscribe(Subscribe {
                    packet_id: 1,
                    properties: Properties::EMPTY,
                    subscriptions: Seq::from_slice(&subs),
                });
                let u = Packet::Unsubscribe(Unsubscribe {
                    packet_id: 1,
                    properties: Properties::EMPTY,
                    filters: Seq::from_slice(&filters),
                });
                let c = Packet::Connect(Connect {
                    protocol: v,
                    clean_start: true,
                    keep_alive: 0,
                    properties: Properties::EMPTY,
                    client_id: "x",
                    will: None,
                    username: None,
                    password: None,
                });
                [
                    encode(v, &s),
                    encode(v, &u),
                    encode(v, &c),
                    encode(v, &Packet::PingReq),
                ]
                .into_iter()
                .map(move |b| (v, b))
            })
            .collect()
    }
    // (name, bytes, v5 reason code)
    let raw: &[(&str, &[u8], u8)] = &[
        ("reserved type 0", &[0x00, 0x00], 0x81),
        ("PUBREL flags 0000", &[0x60, 0x02, 0x00, 0x01], 0x81),
        ("PUBACK flags 0001", &[0x41, 0x02, 0x00, 0x01], 0x81),
        ("PINGRESP flags", &[0xD4, 0x00], 0x81),
        ("QoS 3", &[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01], 0x81),
        ("DUP on QoS 0", &[0x38, 0x03, 0x00, 0x01, b'a'], 0x81),
        ("non-minimal length", &[0xD0, 0x80, 0x00], 0x81),
        (
            "length over 4 bytes",
            &[0xD0, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
            0x81,
        ),
        ("truncated PUBACK", &[0x40, 0x01, 0x00], 0x81),
        ("trailing bytes", &[0xD0, 0x01, 0x00], 0x81),
        ("invalid UTF-8", &[0x30, 0x04, 0x00, 0x02, 0xC3, 0x28], 0x81),
        (
            "wildcard topic",
            &[0x30, 0x05, 0x00, 0x03, b'a', b'/', b'+'],
            0x90,
        ),
        ("packet id 0", &[0x40, 0x02, 0x00, 0x00], 0x82),
    ];
    for v in VERSIONS {
        for (name, bytes, code) in raw {
            // v5 PUBLISH needs its property length byte; the raw PUBLISH cases above are v3.1.1
            // layouts. Give v5 the same defect with a property length.
            let bytes: Vec<u8> = if v == V5 && bytes[0] >> 4 == 3 {
                let mut b = bytes.to_vec();
                b[1] += 1;
                let topic_end = 4 + b[3] as usize;
                b.insert(topic_end, 0x00);
                b
            } else {
                bytes.to_vec()
            };
            check_malformed(v, name, &bytes, ReasonCode(*code));
        }
    }
    for (v, bytes) in subscribe_packet() {
        check_malformed(v, "server-only packet", &bytes, ReasonCode::PROTOCOL_ERROR);
    }
    // AUTH does not exist in v3.1.1: a reserved packet type there.
    check_malformed(V311, "AUTH in 3.1.1", &[0xF0, 0x00], ReasonCode(0x81));
    // v5: a property a PUBACK may not carry (Topic Alias).
    check_malformed(
        V5,
        "property not allowed",
        &[0x40, 0x07, 0x00, 0x01, 0x00, 0x03, 0x23, 0x00, 0x01],
        ReasonCode::PROTOCOL_ERROR,
    );
    // v5: a reason code a PUBACK may not carry.
    check_malformed(
        V5,
        "bad reason code",
        &[0x40, 0x03, 0x00, 0x01, 0x05],
        ReasonCode(0x81),
    );
}

/// Packets split at every byte, and several packets in one read, decode the same.
// checks: v3.1.1 MQTT-6.0.0-2, v5 MQTT-6.0.0-2
#[test]
fn fragmented_and_coalesced_reads() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v));
        sim.start();
        sim.take();
        sim.send_bytewise(&connack(false));
        assert!(sim.session.is_connected());
        sim.send_bytewise(&publish("frag/mented", &[9; 300], Q2, 77));
        assert_eq!(sim.take().len(), 1, "PUBREC");
        let mut both = encode(v, &publish("a", b"1", Q1, 1));
        both.extend(encode(v, &publish("b", b"2", Q0, 0)));
        both.extend(&encode(v, &publish("c", b"3", Q1, 2))[..4]);
        sim.send_raw(&both);
        let m = messages(&sim.take_events());
        assert_eq!(m.len(), 3);
        assert_eq!(m[0].message.payload, vec![9; 300]);
        let rest = encode(v, &publish("c", b"3", Q1, 2));
        sim.send_raw(&rest[4..]);
        assert_eq!(messages(&sim.take_events())[0].message.topic, "c");
        assert_eq!(sim.take().len(), 2, "PUBACK 1 and PUBACK 2");
    }
}

/// Strings the broker sends: U+0000 or ill-formed UTF-8 close the connection (v5 with DISCONNECT
/// 0x81); a byte order mark stays in the topic the application sees.
// checks: v3.1.1 MQTT-1.5.3-1, v3.1.1 MQTT-1.5.3-2, v3.1.1 MQTT-1.5.3-3, v3.1.1 MQTT-4.7.3-2
// checks: v5 MQTT-1.5.4-1, v5 MQTT-1.5.4-2, v5 MQTT-1.5.4-3, v5 MQTT-1.5.7-1, v5 MQTT-4.7.3-2
#[test]
fn strings_the_client_receives_are_checked() {
    for v in VERSIONS {
        // PUBLISH QoS 0, topic "a" U+0000 "b", payload "x" (v5 with an empty property block).
        let mut nul = vec![0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'];
        // Topic "a" 0xED 0xA0 0x80 (an encoded surrogate, U+D800).
        let mut surrogate = vec![0x30, 0x06, 0x00, 0x04, b'a', 0xED, 0xA0, 0x80];
        for raw in [&mut nul, &mut surrogate] {
            if v == V5 {
                raw[1] += 1;
                raw.push(0x00);
            }
            raw[1] += 1;
            raw.push(b'x');
        }
        for raw in [nul, surrogate] {
            let mut sim = Sim::connected(opts(v));
            sim.send_raw(&raw);
            let events = sim.take_events();
            assert!(messages(&events).is_empty());
            assert!(matches!(
                violation(&events),
                ProtocolViolation::Malformed(_)
            ));
            let sent = sim.take();
            if v == V5 {
                assert_eq!(
                    sent,
                    vec![OPacket::disconnect(ReasonCode::MALFORMED_PACKET)]
                );
            } else {
                assert!(sent.is_empty());
            }
            assert_eq!(sim.close_requests, 1, "{v}: closed");
        }
        // A byte order mark is kept.
        let mut sim = Sim::connected(opts(v));
        sim.send(&publish("\u{FEFF}a/b", b"x", Q1, 3));
        let m = messages(&sim.take_events());
        assert_eq!(m[0].message.topic.as_bytes(), b"\xEF\xBB\xBFa/b");
    }
    // v5: a user property whose value is not UTF-8.
    let mut sim = Sim::connected(opts(V5));
    let raw = [
        0x30, 0x0C, 0x00, 0x01, b't', 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, 0xFF, b'x',
    ];
    sim.send_raw(&raw);
    assert!(matches!(
        violation(&sim.take_events()),
        ProtocolViolation::Malformed(_)
    ));
    assert_eq!(
        sim.take(),
        vec![OPacket::disconnect(ReasonCode::MALFORMED_PACKET)]
    );
}

/// Every PUBACK, PUBREC and PUBCOMP the client writes in v5 carries a reason code of its type
/// and no property (no Reason String, no User Property), so it fits any Maximum Packet Size the
/// broker can announce; the client never refuses a message with a failing PUBACK or PUBREC.
// checks: v5 MQTT-2.2.1-5, v5 MQTT-3.4.2-1, v5 MQTT-3.4.2-2, v5 MQTT-3.4.2-3, v5 MQTT-3.5.2-1
// checks: v5 MQTT-3.5.2-2, v5 MQTT-3.5.2-3, v5 MQTT-3.6.2-1, v5 MQTT-3.6.2-2, v5 MQTT-3.6.2-3
// checks: v5 MQTT-3.7.2-1, v5 MQTT-3.7.2-2, v5 MQTT-3.7.2-3, v5 MQTT-3.14.2-3, v5 MQTT-3.14.2-4
// checks: v5 MQTT-4.3.3-9, v5 MQTT-4.5.0-2
#[test]
fn v5_acknowledgements_the_client_writes() {
    let limits = Properties {
        maximum_packet_size: Some(16),
        ..Properties::EMPTY
    };
    let mut w = Wire::connected_with(opts(V5), &connack_with(false, limits));
    // Payload Format Indicator 1 with a payload that is not UTF-8: acknowledged all the same.
    let odd = |qos, packet_id| {
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: "in",
            packet_id,
            properties: Properties {
                payload_format_indicator: Some(true),
                ..Properties::EMPTY
            },
            payload: &[0xFF, 0xFE],
        })
    };
    w.send(&odd(Q1, 1));
    w.send(&odd(Q2, 2));
    w.send(&crate::sim::dup(odd(Q2, 2)));
    w.send(&pubrel(2));
    w.send(&pubrel(77));
    w.session.publish(msg("out", b"x", Q2), w.now).unwrap();
    w.run();
    let out = w.take();
    let pid = match decode(V5, out.last().unwrap()) {
        Packet::Publish(p) => p.packet_id,
        other => panic!("{other:?}"),
    };
    w.send(&pubrec(pid));
    w.session.disconnect(w.now);
    w.run();
    let mut acks = out[..out.len() - 1].to_vec();
    acks.extend(w.take());
    let kinds: Vec<u8> = acks.iter().map(|a| a[0] >> 4).collect();
    assert_eq!(kinds, vec![4, 5, 5, 7, 7, 6, 14], "{acks:?}");
    for raw in &acks {
        assert!(raw.len() <= 5, "no properties: {raw:?}");
        let t = PacketType::from_nibble(raw[0] >> 4).unwrap();
        let code = match decode(V5, raw) {
            Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                assert!(r.properties.is_empty());
                r.reason_code
            }
            Packet::Disconnect(d) => {
                assert!(d.properties.is_empty());
                d.reason_code
            }
            other => panic!("{other:?}"),
        };
        assert!(code.allowed_in(t), "{t}: {code}");
        if matches!(t, PacketType::PubAck | PacketType::PubRec) {
            assert_eq!(code, ReasonCode::SUCCESS, "never a refusal");
        }
    }
    assert_eq!(acks[4][4], 0x92, "PUBCOMP for an unknown identifier: 0x92");
}

/// A packet from the broker over our Maximum Packet Size, whatever makes it large (a Reason
/// String or User Property it should have left out), closes the connection with DISCONNECT
/// 0x95 (Packet too large), CONNACK included.
// checks: v5 MQTT-3.1.2-24, v5 MQTT-3.2.2-19, v5 MQTT-3.2.2-20, v5 MQTT-3.4.2-2
// checks: v5 MQTT-3.4.2-3, v5 MQTT-3.5.2-2, v5 MQTT-3.5.2-3, v5 MQTT-3.6.2-2, v5 MQTT-3.6.2-3
// checks: v5 MQTT-3.7.2-2, v5 MQTT-3.7.2-3, v5 MQTT-3.9.2-1, v5 MQTT-3.9.2-2, v5 MQTT-3.11.2-1
// checks: v5 MQTT-3.11.2-2, v5 MQTT-3.14.2-3, v5 MQTT-3.14.2-4, v5 MQTT-3.15.2-2
// checks: v5 MQTT-3.15.2-3
#[test]
fn v5_oversized_packets_from_the_broker_close_with_0x95() {
    let long = "r".repeat(100);
    let users = [("k", long.as_str())];
    let reason = Properties {
        reason_string: Some(&long),
        ..Properties::EMPTY
    };
    let user = Properties {
        user_properties: Seq::from_slice(&users),
        ..Properties::EMPTY
    };
    let codes = [ReasonCode(1)];
    let ucodes = [ReasonCode(0)];
    for props in [reason, user] {
        let resp_with = |packet_id| PubResp {
            packet_id,
            reason_code: ReasonCode::SUCCESS,
            properties: props,
        };
        let packets = [
            Packet::PubAck(resp_with(1)),
            Packet::PubRec(resp_with(1)),
            Packet::PubRel(resp_with(1)),
            Packet::PubComp(resp_with(1)),
            Packet::SubAck(SubAck {
                packet_id: 1,
                properties: props,
                reason_codes: Seq::from_slice(&codes),
            }),
            Packet::UnsubAck(UnsubAck {
                packet_id: 1,
                properties: props,
                reason_codes: Seq::from_slice(&ucodes),
            }),
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::SUCCESS,
                properties: props,
            }),
            Packet::Auth(Auth {
                reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
                properties: props,
            }),
        ];
        for p in packets {
            let bytes = encode(V5, &p);
            let mut sim = Sim::connected(opts(V5).max_packet_size(64));
            sim.send_raw(&bytes);
            assert!(
                matches!(
                    violation(&sim.take_events()),
                    ProtocolViolation::Malformed(
                        wasmqtt::codec::DecodeError::PacketTooLarge { .. }
                    )
                ),
                "{p:?}"
            );
            assert_eq!(
                sim.take(),
                vec![OPacket::disconnect(ReasonCode::PACKET_TOO_LARGE)]
            );
            assert_eq!(sim.close_requests, 1);
        }
        // CONNACK, before the connection is up.
        let mut sim = Sim::new(opts(V5).max_packet_size(64));
        sim.start();
        sim.take();
        sim.send(&connack_with(false, props));
        assert_eq!(
            sim.take(),
            vec![OPacket::disconnect(ReasonCode::PACKET_TOO_LARGE)]
        );
        assert_eq!(sim.close_requests, 1);
        assert!(!sim.session.is_connected());
    }
}
