//! MQTT 5.0 enhanced authentication (AUTH).

use crate::common::*;

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
    assert_eq!(
        c.props.authentication_method.as_deref(),
        Some("SCRAM-SHA-1")
    );
    assert_eq!(
        c.props.authentication_data.as_deref(),
        Some(&b"client-first"[..])
    );
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
        vec![OPacket::auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            Some("SCRAM-SHA-1"),
            Some(&b"client-final"[..])
        )],
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
        [OPacket::Auth(OReason { reason, props })]
            if *reason == ReasonCode::RE_AUTHENTICATE.0
                && props.authentication_method.as_deref() == Some("SCRAM-SHA-1")
    ));

    let mut sim = Sim::connected(opts(V311));
    assert!(sim
        .session
        .auth(ReasonCode::RE_AUTHENTICATE, None, sim.now)
        .is_err());
    sim.run();
    assert!(sim.take().is_empty());
}

/// Non-zero reserved bits in the fixed header of DISCONNECT or AUTH make the packet malformed:
/// the client answers DISCONNECT 0x81 and closes.
// checks: v5 MQTT-2.1.3-1, v5 MQTT-3.14.1-1, v5 MQTT-3.15.1-1
#[test]
fn v5_reserved_bits_of_disconnect_and_auth() {
    for raw in [[0xE1, 0x00], [0xE8, 0x00], [0xF1, 0x00], [0xF2, 0x00]] {
        let mut sim = Sim::connected(opts(V5));
        sim.send_raw(&raw);
        assert!(matches!(
            violation(&sim.take_events()),
            ProtocolViolation::Malformed(_)
        ));
        assert_eq!(
            sim.take(),
            vec![OPacket::disconnect(ReasonCode::MALFORMED_PACKET)]
        );
        assert_eq!(sim.close_requests, 1);
    }
}

/// v5 enhanced authentication, both ways: the client sends AUTH only with an Authentication
/// Method in CONNECT, only 0x18 (or 0x19 to re-authenticate after CONNACK), always with that
/// method; it refuses AUTH when it asked for none, AUTH or a successful CONNACK with another
/// method (or none), and AUTH codes the server may not send at that point. A failed
/// re-authentication (the broker's DISCONNECT) closes the connection.
// checks: v5 MQTT-3.1.2-30, v5 MQTT-3.15.2-1, v5 MQTT-4.12.0-2, v5 MQTT-4.12.0-3
// checks: v5 MQTT-4.12.0-5, v5 MQTT-4.12.0-6, v5 MQTT-4.12.0-7, v5 MQTT-4.12.1-1
// checks: v5 MQTT-4.12.1-2
#[test]
fn v5_enhanced_authentication_rules() {
    let auth = |code: ReasonCode, method: Option<&'static str>| {
        Packet::Auth(Auth {
            reason_code: code,
            properties: Properties {
                authentication_method: method,
                ..Properties::EMPTY
            },
        })
    };
    let with_method = |m: Option<&'static str>| Properties {
        authentication_method: m,
        ..Properties::EMPTY
    };
    let continue_ = ReasonCode::CONTINUE_AUTHENTICATION;
    let reauth = ReasonCode::RE_AUTHENTICATE;
    let method = || {
        let mut o = opts(V5);
        o.authentication_method = Some("M".into());
        o
    };
    let awaiting = |o: Options| {
        let mut sim = Sim::new(o);
        sim.start();
        sim.take();
        sim
    };

    // Without an Authentication Method in CONNECT: no AUTH either way.
    let mut sim = awaiting(opts(V5));
    assert_eq!(
        sim.session.auth(continue_, None, sim.now),
        Err(EncodeError::UnexpectedAuth)
    );
    sim.run();
    assert!(sim.take().is_empty());
    sim.send(&auth(continue_, Some("M")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::UnexpectedPacket(PacketType::Auth),
        ReasonCode::PROTOCOL_ERROR,
    );
    let mut sim = awaiting(opts(V5));
    sim.send(&connack_with(false, with_method(Some("M"))));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );
    let mut sim = Sim::connected(opts(V5));
    assert_eq!(
        sim.session.auth(reauth, None, sim.now),
        Err(EncodeError::UnexpectedAuth)
    );
    sim.send(&auth(continue_, Some("M")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::UnexpectedPacket(PacketType::Auth),
        ReasonCode::PROTOCOL_ERROR,
    );

    // With method "M", before CONNACK: the client continues only; the server continues only,
    // always with "M"; nothing but AUTH goes out.
    let mut sim = awaiting(method());
    for code in [reauth, ReasonCode::SUCCESS, ReasonCode(0x80)] {
        assert_eq!(
            sim.session.auth(code, None, sim.now),
            Err(EncodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code: code.0
            })
        );
    }
    sim.publish(msg("t", b"x", Q1)).unwrap();
    sim.subscribe(&[("s", Q0)], None);
    sim.run();
    assert!(sim.take().is_empty(), "nothing before CONNACK");
    sim.send(&auth(continue_, Some("Other")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );
    for (code, m) in [(ReasonCode::SUCCESS, Some("M")), (reauth, Some("M"))] {
        let mut sim = awaiting(method());
        sim.send(&auth(code, m));
        assert_closed_for(
            &mut sim,
            ProtocolViolation::AuthReasonCode(code),
            ReasonCode::PROTOCOL_ERROR,
        );
    }
    let mut sim = awaiting(method());
    sim.send(&auth(continue_, None));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );
    let mut sim = awaiting(method());
    sim.send(&auth(continue_, Some("M")));
    sim.session
        .auth(continue_, Some(b"d".to_vec()), sim.now)
        .unwrap();
    sim.run();
    assert_eq!(
        sim.take(),
        vec![OPacket::auth(continue_, Some("M"), Some(&b"d"[..]))]
    );
    sim.send(&connack(false));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );

    // After CONNACK: re-authentication with 0x19 and "M"; the server continues or succeeds,
    // never asks to re-authenticate.
    let mut sim = awaiting(method());
    sim.send(&connack_with(false, with_method(Some("M"))));
    assert!(sim.session.is_connected());
    sim.take();
    sim.session.auth(reauth, None, sim.now).unwrap();
    sim.run();
    sim.send(&auth(continue_, Some("M")));
    sim.session.auth(continue_, None, sim.now).unwrap();
    sim.run();
    sim.send(&auth(ReasonCode::SUCCESS, Some("M")));
    let sent = sim.take();
    assert_eq!(
        sent,
        vec![
            OPacket::auth(reauth, Some("M"), None),
            OPacket::auth(continue_, Some("M"), None)
        ]
    );
    assert!(sim.session.is_connected());
    sim.send(&auth(reauth, Some("M")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthReasonCode(reauth),
        ReasonCode::PROTOCOL_ERROR,
    );
    // No AUTH without a connection past CONNECT.
    assert_eq!(
        sim.session.auth(continue_, None, sim.now),
        Err(EncodeError::UnexpectedAuth)
    );

    // A failed re-authentication: the broker disconnects, the client closes.
    let mut sim = Sim::connected_with(method(), &connack_with(false, with_method(Some("M"))));
    sim.session.auth(reauth, None, sim.now).unwrap();
    sim.run();
    sim.take();
    sim.send(&Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::NOT_AUTHORIZED,
        properties: Properties::EMPTY,
    }));
    assert!(matches!(
        disconnect_reason(&sim.take_events()),
        DisconnectReason::ByServer {
            code: ReasonCode::NOT_AUTHORIZED,
            ..
        }
    ));
    assert!(sim.take().is_empty());
    assert_eq!(sim.close_requests, 1);
}
