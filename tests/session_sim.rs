//! Deterministic simulation tests of the session against a scripted broker with simulated time.
//!
//! Each test drives a [`wasmqtt::session::Session`] through the harness in `sim/`: the test plays
//! the broker (packets encoded with the codec), the harness plays the driver and decodes what
//! the client writes. Spec statements are cited with their version (`v5 MQTT-x.y.z-n`,
//! `v3.1.1 MQTT-x.y.z-n`): the labels differ between the two documents.

mod sim;

use sim::*;
use wasmqtt::codec::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, Properties, ProtocolVersion, PubResp,
    Publish, QoS, ReasonCode, Seq, Subscribe, Subscription, SubscriptionOptions, Unsubscribe,
};
use wasmqtt::session::{
    ConnectionInfo, DisconnectReason, Event, LastWill, Message, MessageProperties, Options,
    ProtocolViolation, PublishError, PublishId, ReconnectPolicy, RequestError, State,
};

use ProtocolVersion::{V311, V5};
use QoS::{AtLeastOnce as Q1, AtMostOnce as Q0, ExactlyOnce as Q2};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn msg(topic: &str, payload: &[u8], qos: QoS) -> Message {
    Message::new(topic, payload.to_vec()).qos(qos)
}

fn connected_info(events: &[Event]) -> ConnectionInfo {
    events
        .iter()
        .find_map(|e| match e {
            Event::Connected(i) => Some(i.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Connected event in {events:?}"))
}

/// The single `Disconnected` in `events`.
fn the_disconnect(events: &[Event]) -> (DisconnectReason, Option<u64>) {
    let d = disconnects(events);
    assert_eq!(d.len(), 1, "expected one Disconnected in {events:?}");
    d[0].clone()
}

fn protocol_violation(events: &[Event]) -> ProtocolViolation {
    match the_disconnect(events).0 {
        DisconnectReason::ProtocolError(v) => v,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Outcome of the completion of `id` (exactly one expected).
fn completion_of(events: &[Event], id: PublishId) -> Result<ReasonCode, PublishError> {
    let c: Vec<_> = completions(events)
        .into_iter()
        .filter(|(i, _)| *i == id)
        .collect();
    assert_eq!(
        c.len(),
        1,
        "expected one completion for {id:?} in {events:?}"
    );
    c[0].1.clone()
}

/// Pretends the CONNECT just written was answered: connects a session with `connack`.
fn reconnect_with(sim: &mut Sim, connack: &Packet<'_>) -> Vec<Pkt> {
    let now = sim.now;
    let at = match sim.session.state() {
        State::Reconnecting(at) => at,
        s => panic!("not reconnecting: {s:?}"),
    };
    sim.advance_to(at.max(now));
    let sent = sim.take();
    assert!(
        matches!(sent.as_slice(), [Pkt::Connect(_)]),
        "expected CONNECT, got {sent:?}"
    );
    sim.send(connack);
    assert!(sim.session.is_connected(), "{:?}", sim.all_events());
    sim.take()
}

fn pub_props(user: &[(&'static str, &'static str)]) -> MessageProperties {
    MessageProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(120),
        content_type: Some("application/json".into()),
        response_topic: Some("replies/sim".into()),
        correlation_data: Some(vec![0xC0, 0xFF, 0xEE]),
        user_properties: user
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        subscription_identifiers: Vec::new(),
    }
}

// =============================================================================================
// Connect
// =============================================================================================

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
    assert_eq!(c.session_expiry_interval, Some(3600));
    assert_eq!(c.receive_maximum, Some(20));
    assert_eq!(c.maximum_packet_size, Some(4096));
    assert_eq!(c.topic_alias_maximum, Some(12));
    assert_eq!(c.request_problem_information, Some(false));
    assert_eq!(c.request_response_information, Some(true));
    assert_eq!(
        c.user_properties,
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
    assert_eq!(w.delay_interval, Some(30));
    assert_eq!(w.properties, will.properties);
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
    assert_eq!(c.session_expiry_interval, None);
    assert_eq!(c.receive_maximum, None);
    assert_eq!(c.topic_alias_maximum, Some(64));
    assert_eq!(c.maximum_packet_size, Some(1024 * 1024));
    assert_eq!(c.will, None);
    assert_eq!(c.username, None);
    assert_eq!(c.password, None);
    assert_eq!(c.request_problem_information, None);
    assert_eq!(c.request_response_information, None);
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
    assert_eq!(w.delay_interval, None);
    assert_eq!(w.properties, MessageProperties::default());
    assert_eq!(c.session_expiry_interval, None);
    assert_eq!(c.maximum_packet_size, None);
    assert_eq!(c.topic_alias_maximum, None);
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
    assert_eq!(sim.take(), vec![Pkt::PingReq]);
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
            assert_eq!(sent, vec![Pkt::Disconnect(ReasonCode::PROTOCOL_ERROR)]);
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
            assert_eq!(sent, vec![Pkt::Disconnect(ReasonCode::PROTOCOL_ERROR)]);
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
        let kinds: Vec<_> = sent.iter().map(Pkt::kind).collect();
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

// =============================================================================================
// Keep-alive
// =============================================================================================

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
            assert_eq!((sent[0].at, &sent[0].pkt), (due, &Pkt::PingReq));
            sim.advance(40);
            sim.send(&Packet::PingResp);
        }
        assert!(sim.session.is_connected());
        assert!(disconnects(&sim.take_events()).is_empty());
    }
}

/// v5 MQTT-3.1.2-20 / v3.1.1 MQTT-3.1.2-23: "in the absence of sending any other packets":
/// outbound traffic postpones the ping; a steady publisher never pings.
// checks: v3.1.1 MQTT-3.1.2-23, v5 MQTT-3.1.2-20
#[test]
fn outbound_traffic_postpones_the_ping_mqtt_3_1_2_20() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.advance_to(5_000);
        sim.publish(msg("t", b"x", Q0)).unwrap();
        sim.advance_to(14_999);
        assert_eq!(sim.take().len(), 1, "{v}: just the PUBLISH");
        sim.advance_to(15_000);
        assert_eq!(sim.take(), vec![Pkt::PingReq]);
        sim.send(&Packet::PingResp);
        // A QoS 1 publisher every 4 s with prompt acks: no PINGREQ for minutes.
        for i in 0..60u64 {
            sim.advance_to(16_000 + i * 4_000);
            sim.publish(msg("t", b"y", Q1)).unwrap();
            let sent = sim.take();
            let pid = publishes(&sent)[0].packet_id;
            assert!(!sent.contains(&Pkt::PingReq), "{v}: {sent:?}");
            sim.advance(30);
            sim.send(&puback(pid));
        }
        assert!(sim.session.is_connected());
    }
}

/// The connection is dead when nothing arrives within the ping timeout after a PINGREQ (default:
/// the keep-alive period, within 1–30 s). Exactly one PINGREQ meanwhile: no storm.
#[test]
fn silent_broker_is_declared_dead_after_the_ping_timeout() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.advance_to(19_999);
        assert_eq!(sim.take(), vec![Pkt::PingReq]);
        assert!(sim.session.is_connected());
        sim.advance_to(20_000);
        let (reason, at) = the_disconnect(&sim.take_events());
        assert_eq!(reason, DisconnectReason::KeepAliveTimeout);
        assert_eq!(at, Some(21_000));
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
        assert_eq!(sim.take(), vec![Pkt::PingReq], "{v}");
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
            .filter(|s| s.pkt == Pkt::PingReq)
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
        assert_eq!(sim.take(), vec![Pkt::PingReq]);
        for t in (11_000..20_000).step_by(1_000) {
            sim.advance_to(t);
            sim.publish(msg("t", b"x", Q0)).unwrap();
        }
        sim.advance_to(20_000);
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

// =============================================================================================
// Outbound QoS 0 / 1 / 2
// =============================================================================================

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
            vec![Pkt::PubRel(OResp {
                packet_id: p.packet_id,
                reason_code: ReasonCode::SUCCESS
            })]
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
            vec![Pkt::PubAck(OResp {
                packet_id: 9,
                reason_code: ReasonCode::SUCCESS
            })]
        );
        sim.advance(10_000);
        assert_eq!(sim.take(), vec![Pkt::PingReq]);
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

// =============================================================================================
// Inbound QoS 0 / 1 / 2
// =============================================================================================

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
            vec![Pkt::PubAck(OResp {
                packet_id: 17,
                reason_code: ReasonCode::SUCCESS
            })]
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
                Pkt::PubAck(r) => ('A', r.packet_id),
                Pkt::PubRec(r) => ('R', r.packet_id),
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
        let rec = |pid| {
            Pkt::PubRec(OResp {
                packet_id: pid,
                reason_code: ReasonCode::SUCCESS,
            })
        };
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
            vec![Pkt::PubComp(OResp {
                packet_id: 5,
                reason_code: ReasonCode::SUCCESS
            })]
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
        assert!(matches!(sent[1], Pkt::PubComp(OResp { packet_id: 5, .. })));
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
        assert_eq!(
            sim.take(),
            vec![Pkt::PubComp(OResp {
                packet_id: 44,
                reason_code: code
            })]
        );
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
        Some(&Pkt::Disconnect(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED))
    );
    let events = sim.take_events();
    assert_eq!(messages(&events).len(), 2);
    assert_eq!(
        protocol_violation(&events),
        ProtocolViolation::ReceiveMaximumExceeded
    );
    assert_eq!(sim.close_requests, 1);
}

// =============================================================================================
// Per-message completion
// =============================================================================================

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
        assert_eq!(sim.take(), vec![Pkt::Disconnect(ReasonCode::SUCCESS)]);
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
        vec![Pkt::Disconnect(ReasonCode::DISCONNECT_WITH_WILL_MESSAGE)]
    );
}

// =============================================================================================
// Reconnect
// =============================================================================================

fn reconnect_delays(policy: ReconnectPolicy, seed: u64, failures: usize) -> Vec<u64> {
    let mut sim = Sim::new(opts(V5).reconnect(policy).random_seed(seed));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    for _ in 0..failures {
        let State::Reconnecting(at) = sim.session.state() else {
            panic!("not reconnecting");
        };
        sim.advance_to(at);
    }
    sim.events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Disconnected {
                reconnect_at: Some(at),
                ..
            } => Some(at - t),
            _ => None,
        })
        .collect()
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
                Pkt::Publish(p) => (PacketType::Publish, p.packet_id, p.dup),
                Pkt::PubRel(r) => (PacketType::PubRel, r.packet_id, false),
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
            assert_eq!(p.topic_alias, None, "{v}: no alias from the old connection");
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
            Pkt::PubRel(OResp {
                packet_id: first[0].packet_id,
                reason_code: ReasonCode::SUCCESS
            }),
            Pkt::Publish(OPublish {
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
        let Pkt::Unsubscribe(u) = &unsub[0] else {
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
                s.filters
                    .iter()
                    .map(|(f, o)| (f.clone(), *o, s.subscription_identifiers.clone()))
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
            !after.iter().any(|p| matches!(p, Pkt::PubRel(_))),
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
            s.filters,
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
        let Pkt::Unsubscribe(u) = sim.take().remove(0) else {
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

// =============================================================================================
// Offline queue
// =============================================================================================

/// Publishes while disconnected wait in a queue bounded by a message budget; past it,
/// QueueFull; after CONNACK they are flushed in order.
#[test]
fn offline_queue_message_budget_and_flush_in_order() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).max_queued_messages(3));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        let a = sim.publish(msg("q", b"0", Q0)).unwrap();
        let b = sim.publish(msg("q", b"1", Q1)).unwrap();
        let c = sim.publish(msg("q", b"2", Q2)).unwrap();
        assert_eq!(sim.session.queued().0, 3);
        assert!(matches!(
            sim.publish(msg("q", b"3", Q1)),
            Err(PublishError::QueueFull { messages: 3, .. })
        ));
        sim.complete_open();
        assert_eq!(sim.take().len(), 1, "just CONNECT");
        sim.send(&connack(false));
        let p = publishes(&sim.take());
        let payloads: Vec<_> = p.iter().map(|p| p.payload.clone()).collect();
        assert_eq!(payloads, vec![b"0".to_vec(), b"1".to_vec(), b"2".to_vec()]);
        assert_eq!(sim.session.queued(), (0, 0));
        let events = sim.take_events();
        assert_eq!(completion_of(&events, a), Ok(ReasonCode::SUCCESS));
        assert!(completions(&events).iter().all(|(i, _)| *i != b && *i != c));
        // The budget is free again.
        sim.publish(msg("q", b"4", Q1)).unwrap();
    }
}

/// The byte budget (topic + payload + properties) is independent of the message budget.
#[test]
fn offline_queue_byte_budget() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).max_queued_bytes(200));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        sim.publish(msg("t", &[7; 50], Q1)).unwrap();
        let (n, one) = sim.session.queued();
        assert_eq!(n, 1);
        assert!(one >= 51, "cost counts topic and payload: {one}");
        let fit = 200 / one;
        for _ in 1..fit {
            sim.publish(msg("t", &[7; 50], Q1)).unwrap();
        }
        match sim.publish(msg("t", &[7; 50], Q1)) {
            Err(PublishError::QueueFull { messages, bytes }) => {
                assert_eq!((messages, bytes), (fit, fit * one));
            }
            other => panic!("{v}: {other:?}"),
        }
        // A smaller message may still fit.
        let room = 200 - fit * one;
        if room > one - 50 {
            sim.publish(msg("t", &[], Q1)).unwrap();
        }
        assert!(sim.session.queued().1 <= 200);
    }
}

/// The same budgets hold while online with a full window.
#[test]
fn queue_budget_holds_online_with_a_full_window() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_inflight(1).max_queued_messages(2));
        sim.publish(msg("q", b"0", Q1)).unwrap();
        sim.publish(msg("q", b"1", Q1)).unwrap();
        sim.publish(msg("q", b"2", Q1)).unwrap();
        assert!(matches!(
            sim.publish(msg("q", b"3", Q1)),
            Err(PublishError::QueueFull { messages: 2, .. })
        ));
        // QoS 0 waits behind them too (order is kept), and counts.
        assert!(matches!(
            sim.publish(msg("q", b"4", Q0)),
            Err(PublishError::QueueFull { .. })
        ));
    }
}

// =============================================================================================
// Backpressure
// =============================================================================================

/// QoS 0 publishing while the driver does not take the bytes: WouldBlock past the write budget,
/// never unbounded growth; once the driver drains, publishing works again. No deadlock.
#[test]
fn qos0_backpressure_would_block_then_recovers() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_pending_write_bytes(1_000));
        sim.hold_output = true;
        let mut accepted = Vec::new();
        let mut blocked = false;
        for i in 0..1_000u32 {
            match sim.publish(msg("bp", &[i as u8; 100], Q0)) {
                Ok(id) => accepted.push(id),
                Err(PublishError::WouldBlock) => {
                    blocked = true;
                    break;
                }
                Err(e) => panic!("{e:?}"),
            }
        }
        assert!(blocked, "{v}: WouldBlock came");
        assert!(
            accepted.len() >= 9 && accepted.len() <= 11,
            "{}",
            accepted.len()
        );
        assert!(sim.session.pending_write_bytes() < 1_000 + 120);
        // Still blocked while nothing drains.
        assert_eq!(
            sim.publish(msg("bp", b"x", Q0)),
            Err(PublishError::WouldBlock)
        );
        sim.hold_output = false;
        sim.run();
        assert_eq!(publishes(&sim.take()).len(), accepted.len());
        let events = sim.take_events();
        for id in &accepted {
            assert_eq!(completion_of(&events, *id), Ok(ReasonCode::SUCCESS));
        }
        sim.publish(msg("bp", b"again", Q0)).unwrap();
        assert_eq!(publishes(&sim.take()).len(), 1);
    }
}

/// A QoS 0 backlog queued offline, larger than the write budget, drains completely after the
/// CONNACK as the driver takes the bytes, without any further input (no deadlock).
#[test]
fn offline_qos0_backlog_larger_than_the_write_budget_drains() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).max_pending_write_bytes(500).keep_alive(0));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        let ids: Vec<_> = (0..20u8)
            .map(|i| sim.publish(msg("bl", &[i; 100], Q0)).unwrap())
            .collect();
        sim.complete_open();
        sim.take();
        sim.send(&connack(false));
        let p = publishes(&sim.take());
        let order: Vec<u8> = p.iter().map(|p| p.payload[0]).collect();
        assert_eq!(
            order,
            (0..20).collect::<Vec<u8>>(),
            "{v}: all sent, in order"
        );
        let events = sim.take_events();
        for id in ids {
            assert_eq!(completion_of(&events, id), Ok(ReasonCode::SUCCESS));
        }
        assert_eq!(sim.session.queued(), (0, 0));
    }
}

/// The same when QoS 0 messages wait behind a full window while the write buffer is full.
#[test]
fn qos0_waiting_behind_the_window_drains_after_the_driver_catches_up() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).max_pending_write_bytes(300).max_inflight(1));
        sim.publish(msg("w", b"a", Q1)).unwrap();
        sim.publish(msg("w", b"b", Q1)).unwrap(); // queued: window full
        let c = sim.publish(msg("w", b"c", Q0)).unwrap(); // queued behind b
        let a_pid = publishes(&sim.take())[0].packet_id;
        // The driver stops taking bytes while inbound QoS 1 traffic fills the write buffer.
        sim.hold_output = true;
        for pid in 1..=100 {
            sim.send(&publish("in", b"x", Q1, pid));
        }
        assert!(sim.session.pending_write_bytes() >= 300);
        sim.send(&puback(a_pid)); // b goes out, c finds the write buffer full
        sim.hold_output = false;
        sim.run();
        let sent = publishes(&sim.take());
        assert!(sent.iter().any(|p| p.payload == b"b"));
        assert!(
            sent.iter().any(|p| p.payload == b"c"),
            "{v}: c must not wait for another acknowledgement"
        );
        assert_eq!(
            completion_of(&sim.take_events(), c),
            Ok(ReasonCode::SUCCESS)
        );
    }
}

// =============================================================================================
// MQTT 5.0: topic aliases
// =============================================================================================

fn aliased<'a>(topic: &'a str, alias: u16, payload: &'a [u8]) -> Packet<'a> {
    Packet::Publish(Publish {
        dup: false,
        qos: Q0,
        retain: false,
        topic,
        packet_id: 0,
        properties: Properties {
            topic_alias: Some(alias),
            ..Properties::EMPTY
        },
        payload,
    })
}

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
            vec![Pkt::Disconnect(code)],
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
        vec![Pkt::Disconnect(ReasonCode::PROTOCOL_ERROR)]
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
        (p.topic, p.topic_alias)
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
        .all(|p| p.topic == "t" && p.topic_alias.is_none()));
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
        .all(|p| p.topic == "t" && p.topic_alias.is_none()));
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
        (p.topic.as_str(), p.topic_alias),
        ("t/x", Some(1)),
        "the freed alias is handed out again"
    );
}

// =============================================================================================
// MQTT 5.0: maximum packet size, properties, subscriptions, AUTH, server DISCONNECT
// =============================================================================================

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
            assert_eq!(sent, vec![Pkt::Disconnect(ReasonCode::PACKET_TOO_LARGE)]);
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
    assert_eq!(p.properties, props);
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
    assert_eq!(p.properties, MessageProperties::default());
}

/// v5 subscription identifiers go in SUBSCRIBE (one, 1..=268 435 455); 0 is refused; v3.1.1
/// has none.
#[test]
fn v5_subscription_identifier_in_subscribe() {
    let mut sim = Sim::connected(opts(V5));
    sim.subscribe(&[("a/#", Q1)], Some(268_435_455));
    assert_eq!(
        sim.take()[0].subscribe().unwrap().subscription_identifiers,
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
    assert_eq!(s.filters[0].0, "$share/group/sensors/#");
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
        after[0].subscribe().unwrap().filters[0].0,
        "$share/group/sensors/#"
    );
}

/// v5 MQTT-4.12.0-2 / MQTT-4.12.0-3 / MQTT-4.12.0-5: the broker's AUTH surfaces as
/// AuthChallenge; `auth` answers with AUTH carrying the method of CONNECT; MQTT-3.1.2-30:
/// nothing but AUTH before CONNACK; MQTT-4.12.1-1: re-authentication with 0x19. v3.1.1 has no
/// AUTH.
// checks: v5 MQTT-3.1.2-30, v5 MQTT-4.12.0-3, v5 MQTT-4.12.0-5, v5 MQTT-4.12.1-1
#[test]
fn v5_enhanced_authentication_mqtt_4_12_0_3() {
    let mut o = opts(V5);
    o.authentication_method = Some("SCRAM-SHA-1".into());
    o.authentication_data = Some(b"client-first".to_vec());
    let mut sim = Sim::new(o);
    sim.start();
    let c = sim.take()[0].connect().unwrap().clone();
    assert_eq!(c.authentication_method.as_deref(), Some("SCRAM-SHA-1"));
    assert_eq!(c.authentication_data.as_deref(), Some(&b"client-first"[..]));
    let early = sim.publish(msg("t", b"x", Q1)).unwrap();
    sim.send(&Packet::Auth(Auth {
        reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
        properties: Properties {
            authentication_method: Some("SCRAM-SHA-1"),
            authentication_data: Some(b"server-first"),
            ..Properties::EMPTY
        },
    }));
    assert_eq!(
        sim.take_events(),
        vec![Event::AuthChallenge {
            reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
            method: Some("SCRAM-SHA-1".into()),
            data: Some(b"server-first".to_vec())
        }]
    );
    sim.session
        .auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            Some(b"client-final".to_vec()),
            sim.now,
        )
        .unwrap();
    sim.run();
    assert_eq!(
        sim.take(),
        vec![Pkt::Auth(OAuth {
            reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
            method: Some("SCRAM-SHA-1".into()),
            data: Some(b"client-final".to_vec())
        })],
        "only AUTH before CONNACK"
    );
    sim.send(&connack_with(
        false,
        Properties {
            authentication_method: Some("SCRAM-SHA-1"),
            ..Properties::EMPTY
        },
    ));
    assert_eq!(publishes(&sim.take()).len(), 1, "the early publish follows");
    let _ = early;
    sim.session
        .auth(
            ReasonCode::RE_AUTHENTICATE,
            Some(b"again".to_vec()),
            sim.now,
        )
        .unwrap();
    sim.run();
    let a = sim.take();
    assert!(matches!(
        &a[..],
        [Pkt::Auth(OAuth { reason_code: ReasonCode::RE_AUTHENTICATE, method: Some(m), .. })]
            if m == "SCRAM-SHA-1"
    ));

    let mut sim = Sim::connected(opts(V311));
    assert!(sim
        .session
        .auth(ReasonCode::RE_AUTHENTICATE, None, sim.now)
        .is_err());
    sim.run();
    assert!(sim.take().is_empty());
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

// =============================================================================================
// Malformed input from the broker
// =============================================================================================

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

fn check_malformed(v: ProtocolVersion, name: &str, bytes: &[u8], code: ReasonCode) {
    let mut sim = Sim::connected(opts(v));
    sim.send_raw(bytes);
    let events = sim.take_events();
    let violation = protocol_violation(&events);
    let sent = sim.take();
    if v == V5 {
        assert_eq!(
            sent,
            vec![Pkt::Disconnect(code)],
            "{v} {name}: {violation:?}"
        );
        assert_eq!(violation.reason_code(), code, "{v} {name}");
    } else {
        assert!(sent.is_empty(), "{v} {name}: no DISCONNECT in 3.1.1");
    }
    assert_eq!(sim.close_requests, 1, "{v} {name}: closed");
    assert!(!sim.open);
    assert!(matches!(sim.session.state(), State::Reconnecting(_)));
    // The next connection starts clean: no leftover bytes.
    let State::Reconnecting(at) = sim.session.state() else {
        unreachable!()
    };
    sim.advance_to(at);
    sim.take();
    sim.send(&connack(false));
    sim.send(&publish("ok", b"1", Q0, 0));
    assert_eq!(messages(&sim.take_events()).len(), 1, "{v} {name}");
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
        let _ = sim.session.poll_transmit();
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

#[test]
fn options_and_state_accessors() {
    let sim = Sim::connected(opts(V5).max_inflight(3));
    assert_eq!(sim.session.options().max_inflight, 3);
    assert_eq!(sim.session.pending_write_bytes(), 0);
    assert_eq!(sim.session.queued(), (0, 0));
    let _ = PubResp::new(1);
}
