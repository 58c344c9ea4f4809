//! Manual acknowledgement of inbound QoS 1/2 messages: PUBACK / PUBREC only on `ack`, in the
//! order the PUBLISH packets arrived, bounded by the Receive Maximum in v5.

use crate::common::*;
use wasmqtt::session::{AckError, AckId};

fn manual(version: ProtocolVersion) -> Options {
    opts(version).manual_acks(true)
}

/// The ack ids of the messages delivered since the last call, in order.
fn delivered(sim: &mut Sim) -> Vec<(Vec<u8>, Option<AckId>)> {
    messages(&sim.take_events())
        .into_iter()
        .map(|m| (m.message.payload, m.ack))
        .collect()
}

fn ack(sim: &mut Sim, id: Option<AckId>) -> Result<(), AckError> {
    let r = sim.session.ack(id.expect("an ack id"), sim.now);
    sim.run();
    r
}

/// The acknowledgements written since the last call: (packet type, packet id).
fn acks_sent(sim: &mut Sim) -> Vec<(PacketType, u16)> {
    sim.take()
        .into_iter()
        .filter_map(|p| match p {
            OPacket::PubAck(r) => Some((PacketType::PubAck, r.packet_id)),
            OPacket::PubRec(r) => Some((PacketType::PubRec, r.packet_id)),
            OPacket::PubComp(r) => Some((PacketType::PubComp, r.packet_id)),
            _ => None,
        })
        .collect()
}

// Covers: v5 MQTT-4.6.0-2, v5 MQTT-4.6.0-3, v3.1.1 MQTT-4.6.0-2, v3.1.1 MQTT-4.6.0-3
#[test]
fn acknowledgements_go_out_only_on_ack_and_in_arrival_order() {
    for v in VERSIONS {
        let mut sim = Sim::connected(manual(v));
        sim.send(&publish("t", b"1", Q1, 11));
        sim.send(&publish("t", b"2", Q2, 12));
        sim.send(&publish("t", b"3", Q1, 13));
        sim.send(&publish("t", b"0", Q0, 0));
        let got = delivered(&mut sim);
        assert_eq!(got.len(), 4, "{v:?}: delivered at once");
        assert!(got[3].1.is_none(), "QoS 0 has nothing to acknowledge");
        assert!(
            acks_sent(&mut sim).is_empty(),
            "{v:?}: nothing acknowledged yet"
        );
        assert_eq!(sim.session.pending_acks(), 3);
        // The third first: held back behind the first two.
        ack(&mut sim, got[2].1).expect("ack 3");
        assert!(acks_sent(&mut sim).is_empty(), "{v:?}: held back");
        ack(&mut sim, got[0].1).expect("ack 1");
        assert_eq!(acks_sent(&mut sim), [(PacketType::PubAck, 11)], "{v:?}");
        ack(&mut sim, got[1].1).expect("ack 2");
        assert_eq!(
            acks_sent(&mut sim),
            [(PacketType::PubRec, 12), (PacketType::PubAck, 13)],
            "{v:?}: the PUBREC, then the PUBACK held back behind it"
        );
        assert_eq!(sim.session.pending_acks(), 0);
        sim.send(&pubrel(12));
        assert_eq!(acks_sent(&mut sim), [(PacketType::PubComp, 12)]);
    }
}

#[test]
fn acking_an_unknown_or_acknowledged_id_is_a_typed_error() {
    for v in VERSIONS {
        let mut sim = Sim::connected(manual(v));
        sim.send(&publish("t", b"1", Q1, 1));
        sim.send(&publish("t", b"2", Q1, 2));
        let got = delivered(&mut sim);
        assert_eq!(sim.session.ack(AckId(0), 0), Err(AckError::Unknown));
        assert_eq!(sim.session.ack(AckId(99), 0), Err(AckError::Unknown));
        ack(&mut sim, got[1].1).expect("held");
        assert_eq!(ack(&mut sim, got[1].1), Err(AckError::AlreadyAcked));
        ack(&mut sim, got[0].1).expect("flushes both");
        assert_eq!(ack(&mut sim, got[0].1), Err(AckError::AlreadyAcked));
        assert_eq!(AckError::AlreadyAcked.code(), "ACK_ALREADY_ACKED");
    }
}

#[test]
fn without_manual_acks_messages_carry_no_ack_id() {
    let mut sim = Sim::connected(opts(V5));
    sim.send(&publish("t", b"1", Q1, 1));
    let got = delivered(&mut sim);
    assert_eq!(got[0].1, None);
    assert_eq!(acks_sent(&mut sim), [(PacketType::PubAck, 1)]);
}

// Covers: v5 MQTT-3.3.4-9
#[test]
fn v5_the_broker_may_not_exceed_the_announced_receive_maximum() {
    let mut sim = Sim::connected(manual(V5).receive_maximum(2));
    sim.send(&publish("t", b"1", Q1, 1));
    sim.send(&publish("t", b"2", Q2, 2));
    let got = delivered(&mut sim);
    ack(&mut sim, got[0].1).expect("ack");
    ack(&mut sim, got[1].1).expect("ack");
    // PUBACK frees a slot; the PUBREC'd QoS 2 message counts until PUBCOMP.
    sim.send(&publish("t", b"3", Q1, 3));
    assert_eq!(delivered(&mut sim).len(), 1);
    sim.take();
    sim.send(&publish("t", b"4", Q1, 4));
    assert_eq!(
        protocol_violation(&sim.take_events()),
        ProtocolViolation::ReceiveMaximumExceeded
    );
    let sent = sim.take();
    assert!(
        sent.contains(&OPacket::disconnect(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED)),
        "{sent:?}"
    );
}

#[test]
fn v311_has_no_receive_maximum_the_session_holds_what_the_broker_sends() {
    let mut sim = Sim::connected(manual(V311).receive_maximum(2));
    for pid in 1..=10 {
        sim.send(&publish("t", b"m", Q1, pid));
    }
    let got = delivered(&mut sim);
    assert_eq!(got.len(), 10);
    assert!(sim.session.is_connected());
    assert_eq!(sim.session.pending_acks(), 10);
    for (_, id) in got {
        ack(&mut sim, id).expect("ack");
    }
    let acks = acks_sent(&mut sim);
    assert_eq!(acks.len(), 10);
    assert!(acks.iter().map(|a| a.1).eq(1..=10));
}

#[test]
fn a_message_not_acknowledged_before_a_connection_loss_is_delivered_again() {
    for v in VERSIONS {
        let mut sim = Sim::connected(manual(v).clean_start(false));
        sim.send(&publish("t", b"q1", Q1, 1));
        sim.send(&publish("t", b"q2", Q2, 2));
        sim.send(&publish("t", b"acked", Q2, 3));
        let got = delivered(&mut sim);
        // Only the last is acknowledged: held behind the others, so nothing goes out.
        ack(&mut sim, got[2].1).expect("ack");
        assert!(acks_sent(&mut sim).is_empty());
        sim.drop_connection();
        assert_eq!(
            ack(&mut sim, got[0].1),
            Err(AckError::ConnectionLost),
            "{v:?}"
        );
        sim.advance(1_000);
        assert!(matches!(sim.take().as_slice(), [OPacket::Connect(_)]));
        sim.send(&connack(true));
        // The broker sends all three again: none was acknowledged, all are new to the
        // application (a QoS 2 message never PUBREC'd was never received).
        sim.send(&dup(publish("t", b"q1", Q1, 1)));
        sim.send(&dup(publish("t", b"q2", Q2, 2)));
        sim.send(&dup(publish("t", b"acked", Q2, 3)));
        let again = delivered(&mut sim);
        let payloads: Vec<&[u8]> = again.iter().map(|(p, _)| p.as_slice()).collect();
        assert_eq!(payloads, [&b"q1"[..], b"q2", b"acked"], "{v:?}");
        assert!(again.iter().all(|(_, id)| id.is_some()));
        assert_ne!(again[0].1, got[0].1, "new ids");
        for (_, id) in &again {
            ack(&mut sim, *id).expect("ack");
        }
        assert_eq!(
            acks_sent(&mut sim),
            [
                (PacketType::PubAck, 1),
                (PacketType::PubRec, 2),
                (PacketType::PubRec, 3)
            ]
        );
    }
}

#[test]
fn a_qos2_message_pubrecd_is_not_delivered_again_after_a_reconnection() {
    for v in VERSIONS {
        let mut sim = Sim::connected(manual(v).clean_start(false));
        sim.send(&publish("t", b"once", Q2, 5));
        let got = delivered(&mut sim);
        ack(&mut sim, got[0].1).expect("ack");
        assert_eq!(acks_sent(&mut sim), [(PacketType::PubRec, 5)]);
        sim.drop_connection();
        sim.advance(1_000);
        sim.take();
        sim.send(&connack(true));
        sim.send(&dup(publish("t", b"once", Q2, 5)));
        assert!(delivered(&mut sim).is_empty(), "{v:?}: a duplicate");
        assert_eq!(acks_sent(&mut sim), [(PacketType::PubRec, 5)]);
    }
}

#[test]
fn a_redelivery_on_the_same_connection_of_a_pending_message_is_not_delivered_twice() {
    let mut sim = Sim::connected(manual(V311));
    sim.send(&publish("t", b"m", Q1, 7));
    sim.send(&dup(publish("t", b"m", Q1, 7)));
    let got = delivered(&mut sim);
    assert_eq!(got.len(), 1);
    ack(&mut sim, got[0].1).expect("ack");
    assert_eq!(acks_sent(&mut sim), [(PacketType::PubAck, 7)]);
}

#[test]
fn a_packet_identifier_acknowledged_may_carry_a_new_message() {
    for v in VERSIONS {
        let mut sim = Sim::connected(manual(v));
        sim.send(&publish("t", b"first", Q1, 7));
        let got = delivered(&mut sim);
        ack(&mut sim, got[0].1).expect("ack");
        assert_eq!(acks_sent(&mut sim), [(PacketType::PubAck, 7)]);
        sim.send(&publish("t", b"second", Q1, 7));
        let again = delivered(&mut sim);
        assert_eq!(again.len(), 1, "{v:?}");
        assert_eq!(again[0].0, b"second");
    }
}
