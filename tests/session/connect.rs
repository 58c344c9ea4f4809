//! CONNECT and CONNACK: what the client sends first, and how it takes the answer
//! (accepted, refused, late, malformed).

use crate::common::*;

/// v5 MQTT-3.1.0-1 (CONNECT first), MQTT-3.1.2-9 (will fields present), MQTT-3.1.2-17 and
/// MQTT-3.1.2-19 (user name and password present when flagged), MQTT-3.1.3-1 (payload order,
/// checked by decoding), MQTT-3.1.3-10 (will user properties kept in order).
// checks: v5 MQTT-3.1.0-1, v5 MQTT-3.1.2-9, v5 MQTT-3.1.2-17, v5 MQTT-3.1.2-19, v5 MQTT-3.1.3-1
// checks: v5 MQTT-3.1.3-3
#[test]
fn v5_connect_carries_every_field_mqtt_3_1_0_1_and_3_1_3_1() {
    let will = LastWill {
        topic: "clients/sim/status".into(),
        payload: b"gone".to_vec(),
        qos: Q1,
        retain: true,
        delay_interval: Some(30),
        properties: pub_props(&[("w1", "a"), ("w2", "b")]),
    };
    let mut o = Options::new("meter-7")
        .credentials("user", b"secret".to_vec())
        .will(will.clone())
        .session_expiry_interval(3600)
        .keep_alive(45)
        .receive_maximum(20)
        .topic_alias_maximum(12)
        .max_packet_size(4096)
        .clean_start(false);
    o.request_problem_information = Some(false);
    o.request_response_information = Some(true);
    o.user_properties = vec![("app".into(), "sim".into()), ("app".into(), "again".into())];
    let mut sim = Sim::new(o);
    sim.start();
    let sent = sim.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let c = sent[0].connect().expect("CONNECT first");
    assert_eq!(c.protocol, V5);
    assert_eq!(c.client_id, "meter-7");
    assert_eq!(c.username.as_deref(), Some("user"));
    assert_eq!(c.password.as_deref(), Some(&b"secret"[..]));
    assert!(!c.clean_start);
    assert_eq!(c.keep_alive, 45);
    assert_eq!(c.props.session_expiry_interval, Some(3600));
    assert_eq!(c.props.receive_maximum, Some(20));
    assert_eq!(c.props.maximum_packet_size, Some(4096));
    assert_eq!(c.props.topic_alias_maximum, Some(12));
    assert_eq!(c.props.request_problem_information, Some(false));
    assert_eq!(c.props.request_response_information, Some(true));
    assert_eq!(
        c.props.user_properties,
        vec![
            ("app".to_string(), "sim".to_string()),
            ("app".to_string(), "again".to_string())
        ]
    );
    let w = c.will.as_ref().expect("will");
    assert_eq!(w.topic, will.topic);
    assert_eq!(w.payload, will.payload);
    assert_eq!(w.qos, Q1);
    assert!(w.retain);
    assert_eq!(w.props.will_delay_interval, Some(30));
    assert_eq!(w.props.message_properties(), will.properties);
    assert_eq!(sim.session.state(), State::AwaitingConnAck);
}

/// v5 defaults: clean start, no session expiry, no receive maximum (65 535 is the default and is
/// not sent), our topic alias maximum and maximum packet size announced.
#[test]
fn v5_connect_defaults() {
    let mut sim = Sim::new(Options::new("d"));
    sim.start();
    let sent = sim.take();
    let c = sent[0].connect().unwrap();
    assert!(c.clean_start);
    assert_eq!(c.keep_alive, 60);
    assert_eq!(c.props.session_expiry_interval, None);
    assert_eq!(c.props.receive_maximum, None);
    assert_eq!(c.props.topic_alias_maximum, Some(64));
    assert_eq!(c.props.maximum_packet_size, Some(1024 * 1024));
    assert_eq!(c.will, None);
    assert_eq!(c.username, None);
    assert_eq!(c.password, None);
    assert_eq!(c.props.request_problem_information, None);
    assert_eq!(c.props.request_response_information, None);
}

/// v3.1.1 MQTT-3.1.0-1 (CONNECT first), MQTT-3.1.2-9 (will fields), MQTT-3.1.2-19 and
/// MQTT-3.1.2-21 (user name and password), MQTT-3.1.3-1 (order): the v5-only parts of the
/// options (will properties and delay, session expiry, …) are left out, not refused.
// checks: v3.1.1 MQTT-3.1.0-1, v3.1.1 MQTT-3.1.2-9, v3.1.1 MQTT-3.1.2-19, v3.1.1 MQTT-3.1.2-21
// checks: v3.1.1 MQTT-3.1.3-1
#[test]
fn v311_connect_carries_every_field_mqtt_3_1_0_1() {
    let mut will = LastWill::new("clients/sim/status", b"gone".to_vec())
        .qos(Q2)
        .retain(true);
    will.delay_interval = Some(30);
    will.properties = pub_props(&[("k", "v")]);
    let o = Options::new("meter-7")
        .version(V311)
        .credentials("user", b"pw".to_vec())
        .will(will)
        .session_expiry_interval(60)
        .keep_alive(30)
        .clean_start(false);
    let mut sim = Sim::new(o);
    sim.start();
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    let c = sent[0].connect().unwrap();
    assert_eq!(c.protocol, V311);
    assert_eq!(c.client_id, "meter-7");
    assert!(!c.clean_start);
    assert_eq!(c.keep_alive, 30);
    assert_eq!(c.username.as_deref(), Some("user"));
    assert_eq!(c.password.as_deref(), Some(&b"pw"[..]));
    let w = c.will.as_ref().unwrap();
    assert_eq!(
        (w.topic.as_str(), &w.payload[..], w.qos, w.retain),
        ("clients/sim/status", &b"gone"[..], Q2, true)
    );
    assert_eq!(w.props.will_delay_interval, None);
    assert_eq!(w.props.message_properties(), MessageProperties::default());
    assert_eq!(c.props.session_expiry_interval, None);
    assert_eq!(c.props.maximum_packet_size, None);
    assert_eq!(c.props.topic_alias_maximum, None);
}

/// v5 MQTT-3.1.3-6 / MQTT-3.1.3-7 / MQTT-3.2.2-16: an empty client identifier asks the broker
/// to assign one; the session reports it and uses it on the next CONNECT (to resume the
/// session the broker created under it), with Clean Start 0.
// checks: v5 MQTT-3.1.3-2, v5 MQTT-3.1.3-7, v5 MQTT-3.2.2-16
#[test]
fn v5_empty_client_id_uses_the_assigned_one_mqtt_3_2_2_16() {
    let mut o = opts(V5).session_expiry_interval(600);
    o.client_id = String::new();
    let mut sim = Sim::new(o);
    sim.start();
    let c = sim.take()[0].connect().unwrap().clone();
    assert_eq!(c.client_id, "");
    sim.send(&connack_with(
        false,
        Properties {
            assigned_client_identifier: Some("auto-4711"),
            ..Properties::EMPTY
        },
    ));
    let info = connected_info(&sim.take_events());
    assert_eq!(info.assigned_client_id.as_deref(), Some("auto-4711"));
    sim.drop_connection();
    sim.advance(1000);
    let c = sim.take()[0].connect().unwrap().clone();
    assert_eq!(c.client_id, "auto-4711");
    assert!(!c.clean_start, "a v5 reconnection asks to resume");
}

/// v3.1.1 MQTT-3.1.3-7: a zero-byte client id requires CleanSession 1. Options that break it can
/// never connect: the session closes with an error instead of writing a bad CONNECT.
// checks: v3.1.1 MQTT-3.1.3-7
#[test]
fn v311_empty_client_id_without_clean_session_is_refused_mqtt_3_1_3_7() {
    let mut o = opts(V311).clean_start(false);
    o.client_id = String::new();
    let mut sim = Sim::new(o);
    sim.start();
    assert!(sim.take().is_empty(), "nothing may be written");
    assert_eq!(sim.session.state(), State::Closed);
    let (reason, at) = the_disconnect(&sim.take_events());
    assert!(
        matches!(reason, DisconnectReason::Refused { .. }),
        "{reason:?}"
    );
    assert_eq!(at, None);
    // With clean session, an empty id is fine.
    let mut o = opts(V311).clean_start(true);
    o.client_id = String::new();
    let mut sim = Sim::new(o);
    sim.start();
    let c = sim.take()[0].connect().unwrap().clone();
    assert!(c.clean_start && c.client_id.is_empty());
}

#[test]
fn connected_event_reports_the_connack() {
    let mut sim = Sim::new(opts(V5).max_inflight(50).clean_start(false));
    sim.start();
    sim.take();
    sim.send(&connack_with(
        true,
        Properties {
            receive_maximum: Some(7),
            maximum_packet_size: Some(9000),
            topic_alias_maximum: Some(3),
            maximum_qos: Some(Q1),
            retain_available: Some(false),
            response_information: Some("resp/base"),
            reason_string: Some("welcome"),
            ..Properties::EMPTY
        },
    ));
    let info = connected_info(&sim.take_events());
    assert_eq!(
        info,
        ConnectionInfo {
            session_present: true,
            assigned_client_id: None,
            keep_alive: 60,
            inflight_window: 7,
            max_packet_size: Some(9000),
            topic_alias_maximum: 3,
            maximum_qos: Q1,
            retain_available: false,
            response_information: Some("resp/base".into()),
            reason_string: Some("welcome".into()),
            broker: None,
        }
    );
}

/// v5 MQTT-3.2.2-4: a client that connected with Clean Start 1 has no session state; Session
/// Present 1 then is a protocol error (the broker broke v5 MQTT-3.2.2-2 / v3.1.1 MQTT-3.2.2-1).
#[test]
fn session_present_after_clean_start_is_a_protocol_error_mqtt_3_2_2_4() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).clean_start(true));
        sim.start();
        sim.take();
        sim.send(&connack(true));
        assert_eq!(
            protocol_violation(&sim.take_events()),
            ProtocolViolation::SessionPresentAfterCleanStart,
            "{v}"
        );
        let sent = sim.take();
        if v == V5 {
            assert_eq!(sent, vec![OPacket::disconnect(ReasonCode::PROTOCOL_ERROR)]);
        }
        assert_eq!(sim.close_requests, 1);
    }
}

/// v5 MQTT-3.2.2-7 / MQTT-4.13.2-1 and v3.1.1 MQTT-3.2.2-5: a refusing CONNACK ends the
/// connection; the reason code surfaces. Refusals that retrying cannot fix close the session
/// (and settle every waiting message); transient ones (server unavailable / busy) reconnect.
// checks: v5 MQTT-4.13.2-1
#[test]
fn refused_connack_surfaces_its_code_fatal_closes_transient_retries_mqtt_3_2_2_7() {
    let cases: &[(ProtocolVersion, u8, bool)] = &[
        (V5, 0x84, true),
        (V5, 0x85, true),
        (V5, 0x86, true),
        (V5, 0x87, true),
        (V5, 0x8A, true),
        (V5, 0x8C, true),
        (V5, 0x88, false),
        (V5, 0x89, false),
        (V5, 0x9F, false),
        (V311, 1, true),
        (V311, 2, true),
        (V311, 3, false),
        (V311, 4, true),
        (V311, 5, true),
    ];
    for &(v, code, fatal) in cases {
        let mut sim = Sim::new(opts(v));
        sim.start();
        let queued = sim.publish(msg("t", b"x", Q1)).unwrap();
        sim.take();
        sim.advance_to(100);
        sim.send(&connack_refused(code));
        let events = sim.take_events();
        let (reason, at) = the_disconnect(&events);
        assert_eq!(
            reason,
            DisconnectReason::Refused {
                code: ReasonCode(code),
                version: v,
                reason: None
            },
            "{v} {code:#x}"
        );
        assert_eq!(sim.close_requests, 1, "{v} {code:#x}: transport closed");
        assert!(!sim.open);
        assert!(
            sim.take().is_empty(),
            "{v} {code:#x}: nothing after CONNACK"
        );
        if fatal {
            assert_eq!(at, None, "{v} {code:#x}");
            assert_eq!(sim.session.state(), State::Closed);
            assert_eq!(
                completion_of(&events, queued),
                Err(PublishError::SessionClosed),
                "{v} {code:#x}: a waiting message settles"
            );
            sim.advance_to(3_600_000);
            assert_eq!(sim.open_requests, 1, "{v} {code:#x}: no retry");
        } else {
            assert_eq!(at, Some(1_100), "{v} {code:#x}");
            assert!(completions(&events).is_empty(), "the message still waits");
            sim.advance_to(1_100);
            assert_eq!(sim.open_requests, 2, "{v} {code:#x}: retried");
            assert!(sim.take()[0].connect().is_some());
        }
    }
}

/// The text of a refusal names a 3.1.1 return code with its 3.1.1 meaning (v3.1.1 §3.2.2.3,
/// table 3.1), not with the v5 name of the same value (4 is not "Disconnect with Will Message",
/// 2 not "Granted QoS 2"), and a v5 reason code with its v5 name.
#[test]
fn refusal_text_names_the_code_as_its_version_does() {
    let v311 = [
        (
            1,
            "unacceptable protocol version",
            "Unsupported Protocol Version",
        ),
        (2, "identifier rejected", "Granted QoS 2"),
        (3, "server unavailable", "Server unavailable"),
        (
            4,
            "bad user name or password",
            "Disconnect with Will Message",
        ),
        (5, "not authorized", "Not authorized"),
    ];
    for (code, name, not) in v311 {
        let mut sim = Sim::new(opts(V311));
        sim.start();
        sim.take();
        sim.send(&connack_refused(code));
        let (reason, _) = the_disconnect(&sim.take_events());
        assert_eq!(
            reason.to_string(),
            format!("connection refused: 0x{code:02X} (Connection refused: {name})"),
            "{reason:?}"
        );
        assert!(!reason.to_string().contains(not), "{reason}");
        assert_eq!(reason.is_unsupported_protocol_version(), code == 1);
    }
    for (code, text) in [
        (
            0x84,
            "connection refused: 0x84 (Unsupported Protocol Version)",
        ),
        (0x86, "connection refused: 0x86 (Bad User Name or Password)"),
        (0x87, "connection refused: 0x87 (Not authorized)"),
    ] {
        let mut sim = Sim::new(opts(V5));
        sim.start();
        sim.take();
        sim.send(&connack_refused(code));
        let (reason, _) = the_disconnect(&sim.take_events());
        assert_eq!(reason.to_string(), text);
        assert_eq!(reason.is_unsupported_protocol_version(), code == 0x84);
    }
    // A v5 code 1 is not a version refusal, nor a 3.1.1 0x84.
    for (code, version) in [(1, V5), (0x84, V311)] {
        let r = DisconnectReason::Refused {
            code: ReasonCode(code),
            version,
            reason: None,
        };
        assert!(!r.is_unsupported_protocol_version(), "{r:?}");
    }
}

/// v5: every refusal that connecting again with the same options cannot fix closes the session
/// for good with the refusal as its reason — a will the broker cannot take (Retain not
/// supported 0x9A, QoS not supported 0x9B, Payload format invalid 0x99), a CONNECT it found
/// malformed (0x81), in breach of the protocol (0x82) or too large (0x95), Server moved (0x9D);
/// refusals that may pass (quota, use another server for now, unspecified) are retried.
#[test]
fn v5_refusals_a_retry_cannot_fix_close_for_good() {
    let cases: &[(u8, bool)] = &[
        (0x81, true),
        (0x82, true),
        (0x95, true),
        (0x99, true),
        (0x9A, true),
        (0x9B, true),
        (0x9D, true),
        (0x80, false),
        (0x83, false),
        (0x97, false),
        (0x9C, false),
    ];
    for &(code, fatal) in cases {
        let will = LastWill::new("will", b"gone".to_vec()).qos(Q2).retain(true);
        let mut sim = Sim::new(opts(V5).will(will));
        sim.start();
        let queued = sim.publish(msg("t", b"x", Q1)).unwrap();
        sim.take();
        sim.advance_to(100);
        sim.send(&connack_refused(code));
        let events = sim.take_events();
        let (reason, at) = the_disconnect(&events);
        assert_eq!(
            reason,
            DisconnectReason::Refused {
                code: ReasonCode(code),
                version: V5,
                reason: None
            },
            "{code:#x}"
        );
        assert_eq!(sim.close_requests, 1, "{code:#x}: transport closed");
        if fatal {
            assert_eq!(at, None, "{code:#x}: not retried");
            assert_eq!(sim.session.state(), State::Closed, "{code:#x}");
            assert_eq!(
                completion_of(&events, queued),
                Err(PublishError::SessionClosed),
                "{code:#x}"
            );
            sim.advance_to(24 * 3_600_000);
            assert_eq!(sim.open_requests, 1, "{code:#x}: no retry, ever");
        } else {
            assert_eq!(at, Some(1_100), "{code:#x}: retried after the back-off");
            sim.advance_to(1_100);
            assert_eq!(sim.open_requests, 2, "{code:#x}");
        }
    }
}

/// A v5 client against a broker that speaks only 3.1.1: it answers CONNECT v5 with a 3.1.1
/// CONNACK, return code 1 (unacceptable protocol version; v3.1.1 MQTT-3.1.2-2), `20 02 00 01`.
/// The session says so (Unsupported Protocol Version, a reason naming MQTT 5.0) rather than
/// "malformed CONNACK", sends no DISCONNECT the broker could not read, and does not retry —
/// also when the four bytes come in pieces.
#[test]
fn v5_against_a_v311_only_broker_closes_for_good_saying_so() {
    for pieces in [&[4usize][..], &[2, 2], &[1, 1, 1, 1]] {
        let mut sim = Sim::new(opts(V5));
        sim.start();
        assert!(sim.take()[0].connect().is_some());
        sim.advance_to(50);
        let raw = [0x20u8, 0x02, 0x00, 0x01];
        let mut at = 0;
        for &n in pieces {
            sim.send_raw(&raw[at..at + n]);
            at += n;
        }
        let events = sim.take_events();
        let (reason, reconnect_at) = the_disconnect(&events);
        assert!(reason.is_unsupported_protocol_version(), "{reason:?}");
        let DisconnectReason::Refused {
            code,
            version,
            reason: text,
        } = &reason
        else {
            panic!("{reason:?}")
        };
        assert_eq!(*code, ReasonCode::UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(*version, V5, "0x84 is the session's own v5 code");
        assert!(
            reason
                .to_string()
                .contains("0x84 (Unsupported Protocol Version)"),
            "{reason}"
        );
        let text = text.as_deref().unwrap_or_default();
        assert!(
            text.starts_with(wasmqtt::session::BROKER_LACKS_V5),
            "{text}"
        );
        assert!(reason.to_string().contains("MQTT 5.0"), "{reason}");
        assert_eq!(reconnect_at, None, "{pieces:?}: not retried");
        assert_eq!(sim.session.state(), State::Closed);
        assert!(sim.take().is_empty(), "no v5 DISCONNECT to a 3.1.1 broker");
        assert_eq!(sim.close_requests, 1);
        sim.advance_to(24 * 3_600_000);
        assert_eq!(sim.open_requests, 1, "no retry, ever");
    }
    // A v5 CONNACK that merely lacks its Property Length is still malformed, not 3.1.1.
    let mut sim = Sim::new(opts(V5));
    sim.start();
    sim.take();
    sim.send_raw(&[0x20, 0x02, 0x00, 0x00]);
    assert!(matches!(
        violation(&sim.take_events()),
        ProtocolViolation::Malformed(_)
    ));
}

/// With `fallback_to_v311`, the same answer makes the session connect again with MQTT 3.1.1
/// after the back-off; messages waiting meanwhile go out on the 3.1.1 connection.
#[test]
fn v5_falls_back_to_v311_when_asked_to() {
    let mut sim = Sim::new(opts(V5).fallback_to_v311(true));
    sim.start();
    sim.take();
    let queued = sim.publish(msg("t", b"x", Q1)).unwrap();
    sim.advance_to(100);
    sim.send_raw(&[0x20, 0x02, 0x00, 0x01]);
    let events = sim.take_events();
    let (reason, reconnect_at) = the_disconnect(&events);
    assert!(reason.is_unsupported_protocol_version(), "{reason:?}");
    assert_eq!(reconnect_at, Some(1_100));
    assert!(completions(&events).is_empty(), "the message still waits");
    assert_eq!(sim.session.options().version, V311);
    sim.version = V311;
    sim.advance_to(1_100);
    let sent = sim.take();
    let connect = sent[0].connect().expect("CONNECT");
    assert_eq!(connect.protocol, V311);
    sim.send(&connack(false));
    assert!(sim.session.is_connected());
    let sent = sim.take();
    let p = publishes(&sent);
    assert_eq!(p.len(), 1, "{sent:?}");
    sim.send(&puback(p[0].packet_id));
    assert_eq!(
        completion_of(&sim.take_events(), queued),
        Ok(ReasonCode::SUCCESS)
    );
}

/// v5: the reason string of a refusing CONNACK surfaces too.
#[test]
fn v5_refusal_reason_string_surfaces() {
    let mut sim = Sim::new(opts(V5));
    sim.start();
    sim.send(&Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ReasonCode::SERVER_BUSY,
        properties: Properties {
            reason_string: Some("try later"),
            ..Properties::EMPTY
        },
    }));
    let (reason, _) = the_disconnect(&sim.take_events());
    assert_eq!(
        reason,
        DisconnectReason::Refused {
            code: ReasonCode::SERVER_BUSY,
            version: V5,
            reason: Some("try later".into())
        }
    );
}

/// No CONNACK within the connect timeout: the connection is closed and retried. Not a
/// millisecond early.
#[test]
fn connack_timeout_closes_and_retries() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).connect_timeout_ms(5_000));
        sim.advance_to(200);
        sim.start();
        sim.take();
        sim.advance_to(5_199);
        assert!(sim.take_events().is_empty());
        assert!(sim.open);
        sim.advance_to(5_200);
        let (reason, at) = the_disconnect(&sim.take_events());
        assert_eq!(reason, DisconnectReason::ConnectTimeout);
        assert_eq!(at, Some(6_200));
        assert_eq!(sim.close_requests, 1);
        assert!(!sim.open);
        sim.advance_to(6_200);
        let sent = sim.take_sent();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].conn, sent[0].at), (2, 6_200));
        assert!(sent[0].pkt.connect().is_some());
    }
}

/// v5 MQTT-3.2.0-1 / v3.1.1 MQTT-3.2.0-1: the first packet from the server is CONNACK; anything
/// else is a protocol violation. v5 MQTT-3.2.0-2: never a second CONNACK.
// checks: v3.1.1 MQTT-3.2.0-1, v3.1.1 MQTT-4.8.0-1, v5 MQTT-3.2.0-1, v5 MQTT-3.2.0-2
#[test]
fn packets_before_connack_and_a_second_connack_are_protocol_errors_mqtt_3_2_0_1() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v));
        sim.start();
        sim.take();
        sim.send(&publish("a", b"x", Q0, 0));
        assert_eq!(
            protocol_violation(&sim.take_events()),
            ProtocolViolation::UnexpectedPacket(PacketType::Publish)
        );
        let sent = sim.take();
        if v == V5 {
            assert_eq!(sent, vec![OPacket::disconnect(ReasonCode::PROTOCOL_ERROR)]);
        } else {
            assert!(sent.is_empty());
        }
        assert_eq!(sim.close_requests, 1);

        let mut sim = Sim::connected(opts(v));
        sim.send(&connack(false));
        assert_eq!(
            protocol_violation(&sim.take_events()),
            ProtocolViolation::UnexpectedPacket(PacketType::ConnAck)
        );
        assert!(matches!(sim.session.state(), State::Reconnecting(_)));
    }
}

/// v5 MQTT-3.1.0-1 / v3.1.1 MQTT-3.1.0-1: nothing but CONNECT until CONNACK (the harness checks
/// every connection); publishes and subscriptions made meanwhile wait and follow the CONNACK.
// checks: v3.1.1 MQTT-3.1.0-1, v5 MQTT-3.1.0-1
#[test]
fn nothing_is_sent_before_connack_mqtt_3_1_0_1() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).keep_alive(1));
        sim.start();
        let a = sim.publish(msg("a", b"1", Q0)).unwrap();
        let b = sim.publish(msg("b", b"2", Q1)).unwrap();
        sim.subscribe(&[("s/#", Q1)], None);
        sim.advance_to(5_000);
        let sent = sim.take();
        assert_eq!(sent.len(), 1, "only CONNECT, no PINGREQ either: {sent:?}");
        assert!(completions(&sim.take_events()).is_empty());
        sim.send(&connack(false));
        let sent = sim.take();
        let kinds: Vec<_> = sent.iter().map(OPacket::packet_type).collect();
        assert_eq!(
            kinds,
            vec![
                PacketType::Subscribe,
                PacketType::Publish,
                PacketType::Publish
            ]
        );
        let p = publishes(&sent);
        assert_eq!((p[0].topic.as_str(), p[1].topic.as_str()), ("a", "b"));
        let events = sim.take_events();
        assert_eq!(completion_of(&events, a), Ok(ReasonCode::SUCCESS));
        assert!(completions(&events).iter().all(|(i, _)| *i != b));
    }
}

/// v5 reconnects ask to resume (Clean Start 0); v3.1.1 keeps the configured Clean Session.
#[test]
fn clean_start_on_reconnection() {
    for (v, clean, expect_again) in [
        (V5, true, false),
        (V5, false, false),
        (V311, true, true),
        (V311, false, false),
    ] {
        let mut sim = Sim::new(opts(v).clean_start(clean));
        sim.start();
        assert_eq!(sim.take()[0].connect().unwrap().clean_start, clean);
        sim.send(&connack(false));
        sim.drop_connection();
        sim.advance(1_000);
        assert_eq!(
            sim.take()[0].connect().unwrap().clean_start,
            expect_again,
            "{v} {clean}"
        );
    }
}

/// The CONNECT the session writes, read byte by byte: fixed header flags 0, protocol name
/// "MQTT", the reserved flag 0, Will QoS and Will Retain 0 without a will, each flag set exactly
/// when its field is present, and the payload in the order the specification gives, client
/// identifier first. A v5 will without properties has a Property Length of 0.
// checks: v3.1.1 MQTT-2.2.2-1, v3.1.1 MQTT-3.1.0-1, v3.1.1 MQTT-3.1.2-9, v3.1.1 MQTT-3.1.2-11
// checks: v3.1.1 MQTT-3.1.2-13, v3.1.1 MQTT-3.1.2-14, v3.1.1 MQTT-3.1.2-15, v3.1.1 MQTT-3.1.2-18
// checks: v3.1.1 MQTT-3.1.2-19, v3.1.1 MQTT-3.1.2-20, v3.1.1 MQTT-3.1.2-21, v3.1.1 MQTT-3.1.3-1
// checks: v3.1.1 MQTT-3.1.3-3, v3.1.1 MQTT-3.1.3-4
// checks: v5 MQTT-2.1.3-1, v5 MQTT-2.2.2-1, v5 MQTT-3.1.0-1, v5 MQTT-3.1.2-1, v5 MQTT-3.1.2-9
// checks: v5 MQTT-3.1.2-11, v5 MQTT-3.1.2-12, v5 MQTT-3.1.2-13, v5 MQTT-3.1.2-16
// checks: v5 MQTT-3.1.2-17, v5 MQTT-3.1.2-18, v5 MQTT-3.1.2-19, v5 MQTT-3.1.3-1, v5 MQTT-3.1.3-3
// checks: v5 MQTT-3.1.3-4
#[test]
fn connect_packet_on_the_wire() {
    for v in VERSIONS {
        let wills = [
            None,
            Some(LastWill::new("will/t", b"bye".to_vec())),
            Some(LastWill::new("will/t", b"".to_vec()).qos(Q1).retain(true)),
            Some(LastWill::new("w", b"x".to_vec()).qos(Q2)),
        ];
        let creds: [(Option<&str>, Option<&[u8]>); 3] = [
            (None, None),
            (Some("user"), Some(b"pw")),
            (Some("user"), None),
        ];
        for will in &wills {
            for (user, pass) in creds {
                let mut o = Options::new("client-7").version(v).keep_alive(33);
                o.will = will.clone();
                o.username = user.map(str::to_string);
                o.password = pass.map(<[u8]>::to_vec);
                let mut w = Wire::new(o);
                w.start();
                let sent = w.take();
                assert_eq!(sent.len(), 1, "only CONNECT before CONNACK");
                let raw = &sent[0];
                assert_eq!(raw[0], 0x10, "CONNECT, fixed header flags 0");
                let mut b = Body::of(raw);
                assert_eq!(b.field(), b"MQTT");
                assert_eq!(b.u8(), v.level());
                let flags = b.u8();
                assert_eq!(b.u16(), 33);
                if v == V5 {
                    b.properties();
                }
                assert_eq!(flags & 0b1, 0, "reserved flag");
                assert!(flags & 0b10 != 0, "clean start");
                assert_eq!(flags & 0b100 != 0, will.is_some(), "will flag");
                match will {
                    None => assert_eq!(flags & 0b0011_1000, 0, "no will: QoS and retain 0"),
                    Some(wl) => {
                        let qos = (flags >> 3) & 0b11;
                        assert!(qos < 3);
                        assert_eq!(qos, wl.qos as u8);
                        assert_eq!(flags & 0b10_0000 != 0, wl.retain);
                    }
                }
                assert_eq!(flags & 0x80 != 0, user.is_some(), "user name flag");
                assert_eq!(flags & 0x40 != 0, pass.is_some(), "password flag");
                // The payload, in order.
                let id = b.field();
                assert_eq!(id, b"client-7");
                assert!(std::str::from_utf8(id).is_ok());
                if let Some(wl) = will {
                    if v == V5 {
                        assert_eq!(b.properties(), b"", "no will properties: length 0");
                    }
                    assert_eq!(b.field(), wl.topic.as_bytes());
                    assert_eq!(b.field(), &wl.payload[..]);
                }
                if let Some(u) = user {
                    assert_eq!(b.field(), u.as_bytes());
                }
                if let Some(p) = pass {
                    assert_eq!(b.field(), p);
                }
                assert!(b.is_empty(), "{v}: nothing after the last field");
                assert!(matches!(decode(v, raw), Packet::Connect(_)));
            }
        }
    }
    // v5 allows a password without a user name: the flags say exactly that.
    let mut o = Options::new("c").version(V5);
    o.password = Some(b"secret".to_vec());
    let mut w = Wire::new(o);
    w.start();
    let sent = w.take();
    let mut b = Body::of(&sent[0]);
    b.field();
    b.u8();
    let flags = b.u8();
    assert_eq!(flags & 0xC0, 0x40);
}

/// A v3.1.1 password needs a user name: options with only a password never connect, and no
/// CONNECT breaking the rule is written.
// checks: v3.1.1 MQTT-3.1.2-22
#[test]
fn v311_password_needs_a_user_name() {
    let mut o = opts(V311);
    o.password = Some(b"pw".to_vec());
    let mut sim = Sim::new(o);
    sim.start();
    assert!(sim.take().is_empty(), "nothing written");
    assert_eq!(sim.session.state(), State::Closed);
    assert!(matches!(
        disconnect_reason(&sim.take_events()),
        DisconnectReason::Refused { .. }
    ));
}

/// The same client identifier names the session on every connection.
// checks: v3.1.1 MQTT-3.1.3-2, v5 MQTT-3.1.3-2
#[test]
fn reconnection_uses_the_same_client_id() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).clean_start(false));
        sim.start();
        let first = sim.take()[0].connect().unwrap().client_id.clone();
        assert_eq!(first, "sim-client");
        sim.send(&connack(false));
        sim.drop_connection();
        let State::Reconnecting(at) = sim.session.state() else {
            panic!()
        };
        sim.advance_to(at);
        let again = sim.take()[0].connect().unwrap().clone();
        assert_eq!(again.client_id, first, "{v}");
        assert!(!again.clean_start, "{v}: asks for the same session");
    }
}

/// Session Present 1 answering a CONNECT that started clean is a protocol violation: the client
/// has no session to resume, so it closes the connection (v5: DISCONNECT 0x82) and resends
/// nothing. Having asked to resume, Session Present 1 is accepted.
// checks: v3.1.1 MQTT-3.1.2-6, v3.1.1 MQTT-3.2.2-1, v5 MQTT-3.1.2-4, v5 MQTT-3.2.2-2
// checks: v5 MQTT-3.2.2-4
#[test]
fn session_present_after_a_clean_start_closes_the_connection() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).clean_start(true));
        sim.start();
        let c = sim.take()[0].connect().unwrap().clone();
        assert!(c.clean_start);
        sim.publish(msg("t", b"queued", Q1)).unwrap();
        sim.send(&connack(true));
        assert_closed_for(
            &mut sim,
            ProtocolViolation::SessionPresentAfterCleanStart,
            ReasonCode::PROTOCOL_ERROR,
        );
        // The next attempt starts clean again and works with Session Present 0.
        let after = reconnect(&mut sim, &connack(false));
        assert_eq!(
            publishes(&after).len(),
            1,
            "{v}: the queued message goes, once"
        );
        assert!(!publishes(&after)[0].dup);

        let mut sim = Sim::new(opts(v).clean_start(false));
        sim.start();
        sim.take();
        sim.send(&connack(true));
        assert!(sim.session.is_connected(), "{v}: resuming was asked for");
    }
}

/// A CONNACK breaking the rules of its form closes the connection (v5: DISCONNECT 0x81):
/// reserved acknowledge flags, Session Present with a refusal, an unknown return code.
// checks: v3.1.1 MQTT-3.2.2-4, v5 MQTT-3.2.2-1, v5 MQTT-3.2.2-6, v5 MQTT-3.2.2-8
#[test]
fn malformed_connack_closes_the_connection() {
    let cases: &[(ProtocolVersion, &[u8])] = &[
        (V311, &[0x20, 0x02, 0x02, 0x00]),
        (V311, &[0x20, 0x02, 0x01, 0x05]),
        (V311, &[0x20, 0x02, 0x00, 0x06]),
        (V5, &[0x20, 0x03, 0x02, 0x00, 0x00]),
        (V5, &[0x20, 0x03, 0x01, 0x87, 0x00]),
        (V5, &[0x20, 0x03, 0x00, 0x05, 0x00]),
    ];
    for &(v, raw) in cases {
        let mut sim = Sim::new(opts(v));
        sim.start();
        sim.take();
        sim.send_raw(raw);
        let events = sim.take_events();
        assert!(
            matches!(violation(&events), ProtocolViolation::Malformed(_)),
            "{v} {raw:?}"
        );
        let sent = sim.take();
        if v == V5 {
            assert_eq!(
                sent,
                vec![OPacket::disconnect(ReasonCode::MALFORMED_PACKET)]
            );
        } else {
            assert!(sent.is_empty());
        }
        assert_eq!(sim.close_requests, 1);
        assert!(!sim.session.is_connected());
    }
}
