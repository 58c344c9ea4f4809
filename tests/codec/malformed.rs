//! The decoder refuses every kind of malformed packet with exactly the matching
//! [`DecodeError`] variant, and the encoder refuses every packet a sender must not send with
//! exactly the matching [`EncodeError`] variant.
//!
//! Each test cites the normative statement it checks as `v5 MQTT-x.y.z-n` or
//! `v3.1.1 MQTT-x.y.z-n` (the labels of the two documents differ); where the rule has no
//! numbered statement, the section is given instead.

use wasmqtt::codec::properties::property_allowed;
use wasmqtt::codec::{
    Auth, ConnAck, Connect, DecodeError, Decoder, Disconnect, EncodeError, Packet, PacketType,
    Properties, PropertyContext, ProtocolVersion, PubResp, Publish, QoS, ReasonCode,
    RetainHandling, Seq, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will, MAX_PACKET_SIZE,
};
use wasmqtt::topic::TopicError;

use DecodeError as D;
use PropertyContext as Ctx;
use ProtocolVersion::{V311, V5};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A variable byte integer.
fn vbi(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut b = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            b |= 0x80;
        }
        out.push(b);
        if n == 0 {
            return out;
        }
    }
}

/// A packet: first byte, remaining length, body.
fn packet(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(vbi(body.len()));
    out.extend_from_slice(body);
    out
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A property block: its length, then the properties.
fn block(props: &[u8]) -> Vec<u8> {
    cat(&[&vbi(props.len()), props])
}

#[track_caller]
fn rejects(v: ProtocolVersion, bytes: &[u8], expected: DecodeError) {
    assert_eq!(
        Decoder::new(v).decode(bytes),
        Err(expected),
        "decoding {bytes:02X?} at {v}"
    );
}

#[track_caller]
fn rejects_both(bytes: &[u8], expected: DecodeError) {
    rejects(V311, bytes, expected);
    rejects(V5, bytes, expected);
}

#[track_caller]
fn accepts(v: ProtocolVersion, bytes: &[u8]) -> Packet<'_> {
    match Decoder::new(v).decode(bytes) {
        Ok(Some((p, n))) if n == bytes.len() => p,
        other => panic!("decoding {bytes:02X?} at {v}: {other:?}"),
    }
}

/// The body of a v3.1.1 / v5 CONNECT after the keep alive (v5: with an empty property block).
fn connect_bytes(level: u8, flags: u8, payload: &[u8]) -> Vec<u8> {
    let props: &[u8] = if level == 5 { &[0x00] } else { &[] };
    packet(
        0x10,
        &cat(&[
            &[0x00, 0x04],
            b"MQTT",
            &[level, flags],
            &[0x00, 0x3C],
            props,
            payload,
        ]),
    )
}

#[track_caller]
fn refuses(v: ProtocolVersion, p: Packet<'_>, expected: EncodeError) {
    let mut out = vec![0xEE];
    assert_eq!(
        p.encode(v, &mut out),
        Err(expected),
        "encoding {p:?} at {v}"
    );
    // On error nothing is written.
    assert_eq!(out, [0xEE]);
    assert_eq!(p.encoded_len(v), Err(expected));
}

#[track_caller]
fn encodes(v: ProtocolVersion, p: Packet<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode(v, &mut out)
        .unwrap_or_else(|e| panic!("encoding {p:?} at {v}: {e}"));
    out
}

fn publish(topic: &str) -> Publish<'_> {
    Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic,
        packet_id: 0,
        properties: Properties::EMPTY,
        payload: b"",
    }
}

fn connect<'a>(v: ProtocolVersion) -> Connect<'a> {
    Connect {
        protocol: v,
        clean_start: true,
        keep_alive: 30,
        properties: Properties::EMPTY,
        client_id: "c",
        will: None,
        username: None,
        password: None,
    }
}

const ALL_TYPES: [PacketType; 15] = [
    PacketType::Connect,
    PacketType::ConnAck,
    PacketType::Publish,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::Subscribe,
    PacketType::SubAck,
    PacketType::Unsubscribe,
    PacketType::UnsubAck,
    PacketType::PingReq,
    PacketType::PingResp,
    PacketType::Disconnect,
    PacketType::Auth,
];

// =============================================================================================
// DecodeError
// =============================================================================================

#[test]
fn reserved_packet_type() {
    // v5 §2.1.2 Table 2-1 / v3.1.1 §2.2.1 Table 2.1: type 0 is reserved, and 15 is reserved in
    // 3.1.1 (it is AUTH in 5.0). No numbered statement; the first byte alone is enough.
    rejects_both(&[0x00], D::ReservedPacketType(0));
    rejects_both(&[0x00, 0x00], D::ReservedPacketType(0));
    rejects_both(&[0x0F, 0x00], D::ReservedPacketType(0));
    rejects(V311, &[0xF0], D::ReservedPacketType(15));
    rejects(V311, &[0xF0, 0x00], D::ReservedPacketType(15));
    assert_eq!(accepts(V5, &[0xF0, 0x00]), Packet::Auth(Auth::default()));
}

// checks: v3.1.1 MQTT-2.2.2-2, v3.1.1 MQTT-3.6.1-1, v5 MQTT-2.1.3-1, v5 MQTT-3.6.1-1
// checks: v5 MQTT-3.15.1-1
#[test]
fn invalid_fixed_header_flags() {
    // v5 MQTT-2.1.3-1: "Where a flag bit is marked as "Reserved", it is reserved for future use
    // and MUST be set to the value listed"; v3.1.1 MQTT-2.2.2-1 and MQTT-2.2.2-2 ("If invalid
    // flags are received, the receiver MUST close the Network Connection"). Per packet:
    // PUBREL v5 and v3.1.1 MQTT-3.6.1-1, SUBSCRIBE v5 and v3.1.1 MQTT-3.8.1-1, UNSUBSCRIBE v5 and
    // v3.1.1 MQTT-3.10.1-1, AUTH v5 MQTT-3.15.1-1. Every packet but PUBLISH has fixed flags:
    // 0010 for PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0000 for the others.
    for v in [V311, V5] {
        for t in ALL_TYPES {
            if t == PacketType::Publish || (t == PacketType::Auth && v == V311) {
                continue;
            }
            let required = match t {
                PacketType::PubRel | PacketType::Subscribe | PacketType::Unsubscribe => 0b0010,
                _ => 0b0000,
            };
            assert_eq!(t.required_flags(), required, "{t}");
            for flags in 0..16u8 {
                if flags == required {
                    continue;
                }
                let first = (t as u8) << 4 | flags;
                // Detected from the first byte alone, and with a body present.
                rejects(v, &[first], D::InvalidFlags { packet: t, flags });
                rejects(
                    v,
                    &[first, 0x02, 0x00, 0x01],
                    D::InvalidFlags { packet: t, flags },
                );
            }
        }
    }
}

#[test]
fn remaining_length_longer_than_four_bytes() {
    // v5 §1.5.5 / v3.1.1 §2.2.3: at most four bytes. No numbered statement.
    rejects_both(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01], D::MalformedVarInt);
    rejects_both(&[0x30, 0x80, 0x80, 0x80, 0x80], D::MalformedVarInt);
    // Four continuation bytes with the fifth not yet there: already malformed.
    rejects_both(&[0xC0, 0x80, 0x80, 0x80, 0x80], D::MalformedVarInt);
    // Three continuation bytes: the fourth may still end it.
    for v in [V311, V5] {
        assert_eq!(Decoder::new(v).decode(&[0x30, 0x80, 0x80, 0x80]), Ok(None));
    }
    // Inside a packet: a property length and a subscription identifier of five bytes.
    rejects(
        V5,
        &[0x40, 0x08, 0x00, 0x01, 0x00, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        D::MalformedVarInt,
    );
    rejects(
        V5,
        &packet(
            0x30,
            &cat(&[
                &[0x00, 0x01, b't'],
                &block(&[0x0B, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
            ]),
        ),
        D::MalformedVarInt,
    );
}

// checks: v5 MQTT-1.5.5-1
#[test]
fn non_minimal_variable_byte_integer() {
    // v5 MQTT-1.5.5-1: "The encoded value MUST use the minimum number of bytes necessary to
    // represent the value". (3.1.1 has no numbered statement; its algorithm gives the same.)
    // 0 in two bytes, 0 in three bytes, 3 in two bytes, 127 in four bytes.
    rejects_both(&[0xC0, 0x80, 0x00], D::NonMinimalVarInt);
    rejects_both(&[0xC0, 0x80, 0x80, 0x00], D::NonMinimalVarInt);
    rejects_both(&[0x30, 0x83, 0x00, 0x00, 0x01, b't'], D::NonMinimalVarInt);
    rejects_both(&[0x30, 0xFF, 0x80, 0x80, 0x00], D::NonMinimalVarInt);

    // A property length, a property identifier and a subscription identifier.
    rejects(
        V5,
        &[0x40, 0x05, 0x00, 0x01, 0x00, 0x80, 0x00],
        D::NonMinimalVarInt,
    );
    rejects(
        V5,
        &[0x40, 0x08, 0x00, 0x01, 0x00, 0x04, 0x9F, 0x00, 0x00, 0x00],
        D::NonMinimalVarInt,
    );
    rejects(
        V5,
        &packet(
            0x30,
            &cat(&[&[0x00, 0x01, b't'], &block(&[0x0B, 0x81, 0x00])]),
        ),
        D::NonMinimalVarInt,
    );
}

#[test]
fn packet_too_large_from_the_fixed_header_alone() {
    // v5 §3.1.2.11.4 / §3.2.2.3.6 (Maximum Packet Size): a packet larger than the maximum the
    // receiver announced is a Protocol Error answered with 0x95. Only the first five bytes are
    // present; the size is known from them.
    let header = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    let e = D::PacketTooLarge {
        size: MAX_PACKET_SIZE as usize,
        max: 1024,
    };
    for v in [V311, V5] {
        let d = Decoder::new(v).with_max_packet_size(1024);
        assert_eq!(d.decode(&header), Err(e));
        // Two bytes are enough for a short header: 2 + 1023 = 1025 > 1024.
        assert_eq!(
            d.decode(&[0x30, 0xFF, 0x07]),
            Err(D::PacketTooLarge {
                size: 1026,
                max: 1024
            })
        );
        // Exactly the limit is accepted (once complete).
        let d = Decoder::new(v).with_max_packet_size(4);
        assert_eq!(d.decode(&[0x40, 0x02, 0x00, 0x01]).unwrap().unwrap().1, 4);
        assert_eq!(d.decode(&[0x40, 0x02]), Ok(None));
        assert_eq!(
            d.decode(&[0x40, 0x03]),
            Err(D::PacketTooLarge { size: 5, max: 4 })
        );
    }
    assert_eq!(e.reason_code(), ReasonCode::PACKET_TOO_LARGE);
}

#[test]
fn truncated_fields() {
    // v5 §1.5 / §2.1.4: every field lies within the remaining length; a field running past it
    // is a Malformed Packet (v5 §4.13.1). v3.1.1 MQTT-3.1.4-1 for CONNECT ("MUST validate that
    // the CONNECT Packet conforms to section 3.1").
    let t = |packet, field| D::Truncated { packet, field };
    use PacketType as P;
    // CONNECT, field by field.
    rejects_both(&[0x10, 0x01, 0x00], t(P::Connect, "protocol name"));
    rejects_both(
        &[0x10, 0x04, 0x00, 0x04, b'M', b'Q'],
        t(P::Connect, "protocol name"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT"),
        t(P::Connect, "protocol level"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT\x04"),
        t(P::Connect, "connect flags"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT\x04\x02\x00"),
        t(P::Connect, "keep alive"),
    );
    let head311 = b"\x00\x04MQTT\x04\x02\x00\x3C";
    rejects_both(&packet(0x10, head311), t(P::Connect, "client identifier"));
    rejects_both(
        &packet(0x10, &cat(&[head311, b"\x00\x05ab"])),
        t(P::Connect, "client identifier"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT\x04\x06\x00\x3C\x00\x01c"),
        t(P::Connect, "will topic"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT\x04\x06\x00\x3C\x00\x01c\x00\x01w"),
        t(P::Connect, "will payload"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT\x04\x82\x00\x3C\x00\x01c\x00\x02u"),
        t(P::Connect, "user name"),
    );
    rejects_both(
        &packet(0x10, b"\x00\x04MQTT\x04\xC2\x00\x3C\x00\x01c\x00\x01u"),
        t(P::Connect, "password"),
    );
    // v5 CONNECT properties: length missing, block longer than the packet, value cut short,
    // identifier cut short.
    let head5 = b"\x00\x04MQTT\x05\x02\x00\x3C";
    rejects_both(&packet(0x10, head5), t(P::Connect, "property length"));
    rejects_both(
        &packet(0x10, &cat(&[head5, &[0x05, 0x11, 0x00]])),
        t(P::Connect, "properties"),
    );
    rejects_both(
        &packet(0x10, &cat(&[head5, &[0x03, 0x11, 0x00, 0x00], b"\x00\x00"])),
        t(P::Connect, "property value"),
    );
    rejects_both(
        &packet(0x10, &cat(&[head5, &[0x01, 0x80], b"\x00\x00"])),
        t(P::Connect, "property identifier"),
    );
    rejects_both(
        &packet(0x10, &cat(&[head5, &[0x00], b"\x00\x02c"])),
        t(P::Connect, "client identifier"),
    );

    // CONNACK.
    rejects_both(&[0x20, 0x00], t(P::ConnAck, "acknowledge flags"));
    rejects_both(&[0x20, 0x01, 0x00], t(P::ConnAck, "reason code"));
    rejects(
        V5,
        &[0x20, 0x02, 0x00, 0x00],
        t(P::ConnAck, "property length"),
    );

    // PUBLISH.
    rejects_both(&[0x30, 0x01, 0x00], t(P::Publish, "topic name"));
    rejects_both(&[0x30, 0x02, 0x00, 0x05], t(P::Publish, "topic name"));
    rejects_both(
        &[0x32, 0x03, 0x00, 0x01, b't'],
        t(P::Publish, "packet identifier"),
    );
    rejects_both(
        &[0x34, 0x04, 0x00, 0x01, b't', 0x00],
        t(P::Publish, "packet identifier"),
    );
    rejects(
        V5,
        &[0x30, 0x03, 0x00, 0x01, b't'],
        t(P::Publish, "property length"),
    );
    rejects(
        V5,
        &[0x30, 0x04, 0x00, 0x01, b't', 0x03],
        t(P::Publish, "properties"),
    );

    // PUBACK … PUBCOMP.
    for (first, p) in [
        (0x40, P::PubAck),
        (0x50, P::PubRec),
        (0x62, P::PubRel),
        (0x70, P::PubComp),
    ] {
        rejects_both(&[first, 0x00], t(p, "packet identifier"));
        rejects_both(&[first, 0x01, 0x00], t(p, "packet identifier"));
        rejects(
            V5,
            &[first, 0x04, 0x00, 0x01, 0x00, 0x07],
            t(p, "properties"),
        );
    }

    // SUBSCRIBE.
    rejects_both(&[0x82, 0x00], t(P::Subscribe, "packet identifier"));
    rejects(
        V311,
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x03, b'a', b'/'],
        t(P::Subscribe, "topic filter"),
    );
    rejects(
        V311,
        &[0x82, 0x05, 0x00, 0x01, 0x00, 0x01, b'x'],
        t(P::Subscribe, "subscription options"),
    );
    rejects(
        V311,
        &[0x82, 0x07, 0x00, 0x01, 0x00, 0x01, b'x', 0x00, 0x00],
        t(P::Subscribe, "topic filter"),
    );
    rejects(
        V5,
        &[0x82, 0x02, 0x00, 0x01],
        t(P::Subscribe, "property length"),
    );
    rejects(
        V5,
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, b'x'],
        t(P::Subscribe, "subscription options"),
    );

    // SUBACK, UNSUBSCRIBE, UNSUBACK.
    rejects_both(&[0x90, 0x01, 0x00], t(P::SubAck, "packet identifier"));
    rejects(
        V5,
        &[0x90, 0x02, 0x00, 0x01],
        t(P::SubAck, "property length"),
    );
    rejects_both(&[0xA2, 0x01, 0x00], t(P::Unsubscribe, "packet identifier"));
    rejects(
        V311,
        &[0xA2, 0x03, 0x00, 0x01, 0x00],
        t(P::Unsubscribe, "topic filter"),
    );
    rejects(
        V311,
        &[0xA2, 0x05, 0x00, 0x01, 0x00, 0x02, b'x'],
        t(P::Unsubscribe, "topic filter"),
    );
    rejects_both(&[0xB0, 0x00], t(P::UnsubAck, "packet identifier"));
    rejects(
        V5,
        &[0xB0, 0x02, 0x00, 0x01],
        t(P::UnsubAck, "property length"),
    );

    // DISCONNECT, AUTH.
    rejects(
        V5,
        &[0xE0, 0x02, 0x00, 0x05],
        t(P::Disconnect, "properties"),
    );
    rejects(
        V5,
        &[0xE0, 0x03, 0x00, 0x01, 0x1F],
        t(P::Disconnect, "property value"),
    );
    rejects(V5, &[0xF0, 0x02, 0x18, 0x01], t(P::Auth, "properties"));
}

#[test]
fn trailing_bytes() {
    // Bytes after the last field are not part of any field: a Malformed Packet (v5 §4.13.1).
    use PacketType as P;
    let e = |packet, extra| D::TrailingBytes { packet, extra };
    // PINGREQ / PINGRESP have no variable header and no payload (v5 §3.12, §3.13).
    rejects_both(&[0xC0, 0x01, 0x00], e(P::PingReq, 1));
    rejects_both(&[0xD0, 0x02, 0x00, 0x00], e(P::PingResp, 2));
    // v3.1.1: DISCONNECT has no variable header (§3.14), acknowledgements are exactly 2 bytes,
    // CONNACK exactly 2, UNSUBACK exactly 2 (no payload, §3.11.3).
    rejects(V311, &[0xE0, 0x01, 0x00], e(P::Disconnect, 1));
    for (first, p) in [
        (0x40, P::PubAck),
        (0x50, P::PubRec),
        (0x62, P::PubRel),
        (0x70, P::PubComp),
    ] {
        rejects(V311, &[first, 0x03, 0x00, 0x01, 0x00], e(p, 1));
        // v5: after the property block there is nothing.
        rejects(V5, &[first, 0x05, 0x00, 0x01, 0x00, 0x00, 0xFF], e(p, 1));
    }
    rejects(V311, &[0x20, 0x03, 0x00, 0x00, 0x00], e(P::ConnAck, 1));
    rejects(V5, &[0x20, 0x04, 0x00, 0x00, 0x00, 0x00], e(P::ConnAck, 1));
    rejects(
        V311,
        &[0xB0, 0x04, 0x00, 0x01, 0x00, 0x11],
        e(P::UnsubAck, 2),
    );
    rejects(V5, &[0xE0, 0x03, 0x00, 0x00, 0xFF], e(P::Disconnect, 1));
    rejects(V5, &[0xF0, 0x03, 0x18, 0x00, 0xFF], e(P::Auth, 1));
    // CONNECT followed by a byte no flag announces (v5 MQTT-3.1.3-1 / v3.1.1 MQTT-3.1.3-1: the
    // payload fields appear in order and only when their flags are set).
    rejects(
        V311,
        &connect_bytes(4, 0x02, b"\x00\x01c\x00"),
        e(P::Connect, 1),
    );
    rejects(
        V5,
        &connect_bytes(5, 0x02, b"\x00\x01c\x00\x01u"),
        e(P::Connect, 3),
    );
}

// checks: v3.1.1 MQTT-3.3.1-4, v5 MQTT-3.3.1-4
#[test]
fn qos_3() {
    // v5 MQTT-3.3.1-4 / v3.1.1 MQTT-3.3.1-4: "A PUBLISH Packet MUST NOT have both QoS bits set
    // to 1". Detected from the first byte.
    for first in [0x36, 0x37, 0x3E, 0x3F] {
        rejects_both(&[first], D::InvalidQoS(3));
        rejects_both(
            &[first, 0x05, 0x00, 0x01, b't', 0x00, 0x01],
            D::InvalidQoS(3),
        );
    }
    // Will QoS 3: v3.1.1 MQTT-3.1.2-14 ("It MUST NOT be 3 (0x03)"); v5 §3.1.2.6 ("A value of 3
    // (0x03) is a Malformed Packet").
    rejects(
        V311,
        &connect_bytes(4, 0b0001_1110, b"\x00\x01c\x00\x01w\x00\x00"),
        D::InvalidQoS(3),
    );
    rejects(
        V5,
        &connect_bytes(5, 0b0001_1110, b"\x00\x01c\x00\x00\x01w\x00\x00"),
        D::InvalidQoS(3),
    );
    // Requested QoS 3 in SUBSCRIBE: v5 §3.8.3.1 ("It is a Protocol Error if the Maximum QoS
    // field has the value 3"); v3.1.1 §3.8.3.1 (a statement the 3.1.1 document mislabels
    // "3-8.3-4", so it is missing from the statement list).
    rejects(
        V311,
        &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'x', 0x03],
        D::InvalidQoS(3),
    );
    rejects(
        V5,
        &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'x', 0x03],
        D::InvalidQoS(3),
    );
}

// checks: v3.1.1 MQTT-3.3.1-2, v5 MQTT-3.3.1-2
#[test]
fn dup_on_qos_0() {
    // v5 MQTT-3.3.1-2 / v3.1.1 MQTT-3.3.1-2: "The DUP flag MUST be set to 0 for all QoS 0
    // messages".
    rejects_both(&[0x38], D::DupOnQoS0);
    rejects_both(&[0x39, 0x03, 0x00, 0x01, b't'], D::DupOnQoS0);
}

// checks: v3.1.1 MQTT-2.3.1-1
#[test]
fn zero_packet_identifier() {
    // v5 MQTT-2.2.1-3: SUBSCRIBE, UNSUBSCRIBE and PUBLISH (QoS > 0) carry "a non-zero Packet
    // Identifier"; v3.1.1 MQTT-2.3.1-1: they "MUST contain a non-zero 16-bit Packet Identifier".
    // The acknowledgements carry the identifier of what they acknowledge (v5 MQTT-2.2.1-5,
    // MQTT-2.2.1-6; v3.1.1 MQTT-2.3.1-6, MQTT-2.3.1-7), so 0 is never valid there either.
    use PacketType as P;
    rejects_both(
        &[0x32, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
        D::ZeroPacketId(P::Publish),
    );
    rejects_both(
        &[0x34, 0x05, 0x00, 0x01, b't', 0x00, 0x00],
        D::ZeroPacketId(P::Publish),
    );
    for (first, p) in [
        (0x40, P::PubAck),
        (0x50, P::PubRec),
        (0x62, P::PubRel),
        (0x70, P::PubComp),
    ] {
        rejects_both(&[first, 0x02, 0x00, 0x00], D::ZeroPacketId(p));
    }
    rejects(
        V311,
        &[0x82, 0x06, 0x00, 0x00, 0x00, 0x01, b'x', 0x00],
        D::ZeroPacketId(P::Subscribe),
    );
    rejects(
        V311,
        &[0x90, 0x03, 0x00, 0x00, 0x00],
        D::ZeroPacketId(P::SubAck),
    );
    rejects(
        V311,
        &[0xA2, 0x05, 0x00, 0x00, 0x00, 0x01, b'x'],
        D::ZeroPacketId(P::Unsubscribe),
    );
    rejects(
        V311,
        &[0xB0, 0x02, 0x00, 0x00],
        D::ZeroPacketId(P::UnsubAck),
    );
    rejects(
        V5,
        &[0xB0, 0x04, 0x00, 0x00, 0x00, 0x00],
        D::ZeroPacketId(P::UnsubAck),
    );
    // QoS 0 has no packet identifier at all (v5 MQTT-2.2.1-2 / v3.1.1 MQTT-2.3.1-5): the two
    // bytes that would be one are payload.
    let Packet::Publish(p) = accepts(V311, &[0x30, 0x05, 0x00, 0x01, b't', 0x00, 0x00]) else {
        panic!()
    };
    assert_eq!((p.packet_id, p.payload), (0, &[0u8, 0][..]));
    assert_eq!(
        D::ZeroPacketId(P::Publish).reason_code(),
        ReasonCode::PROTOCOL_ERROR
    );
}

// checks: v3.1.1 MQTT-1.5.3-1, v5 MQTT-1.5.4-1, v5 MQTT-1.5.7-1
#[test]
fn invalid_utf8() {
    // v5 MQTT-1.5.4-1 / v3.1.1 MQTT-1.5.3-1: "MUST be well-formed UTF-8 … MUST NOT include
    // encodings of code points between U+D800 and U+DFFF".
    for bad in [
        &[0xED, 0xA0, 0x80][..],   // U+D800, an encoded surrogate
        &[0xED, 0xBF, 0xBF],       // U+DFFF
        &[0xFF],                   // never valid
        &[0xC0, 0x80],             // overlong U+0000
        &[0xE0, 0x80, 0xAF],       // overlong '/'
        &[0xF4, 0x90, 0x80, 0x80], // above U+10FFFF
        &[0x80],                   // lone continuation byte
        &[0xE2, 0x82],             // truncated sequence
    ] {
        let s = cat(&[&(bad.len() as u16).to_be_bytes(), bad]);
        // Topic name, in both versions.
        rejects_both(&packet(0x30, &s), D::InvalidUtf8);
        // Client identifier and user name.
        rejects_both(&connect_bytes(4, 0x02, &s), D::InvalidUtf8);
        rejects_both(
            &connect_bytes(4, 0x82, &cat(&[b"\x00\x01c", &s])),
            D::InvalidUtf8,
        );
        // Topic filters.
        rejects(
            V311,
            &packet(0x82, &cat(&[&[0x00, 0x01], &s, &[0x00]])),
            D::InvalidUtf8,
        );
        rejects(
            V311,
            &packet(0xA2, &cat(&[&[0x00, 0x01], &s])),
            D::InvalidUtf8,
        );
        // v5: a user property key and value (v5 MQTT-1.5.7-1), a reason string.
        let user_key = cat(&[&[0x26], &s, b"\x00\x01v"]);
        let user_value = cat(&[&[0x26], b"\x00\x01k", &s]);
        let reason = cat(&[&[0x1F], &s]);
        for props in [user_key, user_value, reason] {
            rejects(
                V5,
                &packet(0x40, &cat(&[&[0x00, 0x01, 0x00], &block(&props)])),
                D::InvalidUtf8,
            );
        }
    }
    // Binary data is not UTF-8: a password or correlation data may hold any bytes.
    accepts(
        V311,
        &connect_bytes(4, 0xC2, b"\x00\x01c\x00\x01u\x00\x03\xED\xA0\x80"),
    );
    accepts(
        V5,
        &packet(
            0x30,
            &cat(&[b"\x00\x01t", &block(&[0x09, 0x00, 0x02, 0xFF, 0xED])]),
        ),
    );
    // So is the payload, even with the payload format indicator set (checking it is the
    // application's business, v5 §3.3.2.3.2).
    accepts(
        V5,
        &packet(0x30, &cat(&[b"\x00\x01t", &block(&[0x01, 0x01]), &[0xFF]])),
    );
}

// checks: v3.1.1 MQTT-1.5.3-2, v3.1.1 MQTT-4.7.3-2, v5 MQTT-1.5.4-2, v5 MQTT-4.7.3-2
#[test]
fn null_character() {
    // v5 MQTT-1.5.4-2 / v3.1.1 MQTT-1.5.3-2: "A UTF-8 Encoded String MUST NOT include an encoding
    // of the null character U+0000"; for topics also v5 and v3.1.1 MQTT-4.7.3-2.
    rejects_both(&packet(0x30, b"\x00\x03a\x00b"), D::NullCharacter);
    rejects_both(&connect_bytes(4, 0x02, b"\x00\x02c\x00"), D::NullCharacter);
    rejects(
        V311,
        &packet(0x82, b"\x00\x01\x00\x01\x00\x00"),
        D::NullCharacter,
    );
    rejects(
        V5,
        &packet(0xA2, b"\x00\x01\x00\x00\x02#\x00"),
        D::NullCharacter,
    );
    rejects(
        V5,
        &packet(0xE0, &cat(&[&[0x00], &block(b"\x26\x00\x01k\x00\x01\x00")])),
        D::NullCharacter,
    );
}

// checks: v3.1.1 MQTT-3.3.2-2, v3.1.1 MQTT-4.7.1-1, v5 MQTT-3.3.2-2, v5 MQTT-3.3.2-14
// checks: v5 MQTT-4.7.0-1
#[test]
fn wildcard_in_topic_name() {
    // v5 MQTT-3.3.2-2 / v3.1.1 MQTT-3.3.2-2: "The Topic Name in the PUBLISH packet MUST NOT
    // contain wildcard characters"; v5 MQTT-4.7.0-1 / v3.1.1 MQTT-4.7.1-1.
    let e = D::InvalidTopicName(TopicError::WildcardInName);
    for topic in [
        &b"\x00\x03a/#"[..],
        b"\x00\x03a/+",
        b"\x00\x01#",
        b"\x00\x01+",
    ] {
        rejects(V311, &packet(0x30, topic), e);
        rejects(V5, &packet(0x30, &cat(&[topic, &[0x00]])), e);
        rejects(V311, &packet(0x32, &cat(&[topic, &[0x00, 0x01]])), e);
    }
    // The will topic is a topic name too.
    rejects(
        V311,
        &connect_bytes(4, 0x06, b"\x00\x01c\x00\x01+\x00\x00"),
        e,
    );
    rejects(
        V5,
        &connect_bytes(5, 0x06, b"\x00\x01c\x00\x00\x01+\x00\x00"),
        e,
    );
    // v5 MQTT-3.3.2-14: "The Response Topic MUST NOT contain wildcard characters".
    rejects(
        V5,
        &packet(0x30, &cat(&[b"\x00\x01t", &block(b"\x08\x00\x03r/#")])),
        e,
    );
    // An empty will topic.
    rejects_both(
        &connect_bytes(4, 0x06, b"\x00\x01c\x00\x00\x00\x00"),
        D::InvalidTopicName(TopicError::Empty),
    );
    assert_eq!(e.reason_code(), ReasonCode::TOPIC_NAME_INVALID);
}

#[test]
fn invalid_topic_filters() {
    // v5 MQTT-4.7.1-1 / v3.1.1 MQTT-4.7.1-2 (multi-level wildcard last, whole level);
    // v5 MQTT-4.7.1-2 / v3.1.1 MQTT-4.7.1-3 (single-level wildcard fills its level);
    // v5 and v3.1.1 MQTT-4.7.3-1 (at least one character); v5 MQTT-4.8.2-1, MQTT-4.8.2-2 (shared).
    for (filter, err) in [
        (&b"a/#/b"[..], TopicError::MisplacedMultiLevelWildcard),
        (b"a#", TopicError::MisplacedMultiLevelWildcard),
        (b"a+", TopicError::MisplacedSingleLevelWildcard),
        (b"", TopicError::Empty),
        (b"$share/g", TopicError::InvalidSharedSubscription),
        (b"$share//x", TopicError::InvalidSharedSubscription),
    ] {
        let s = cat(&[&(filter.len() as u16).to_be_bytes(), filter]);
        let e = D::InvalidTopicFilter(err);
        rejects(
            V5,
            &packet(0x82, &cat(&[&[0x00, 0x01, 0x00], &s, &[0x00]])),
            e,
        );
        rejects(V5, &packet(0xA2, &cat(&[&[0x00, 0x01, 0x00], &s])), e);
        rejects(V311, &packet(0xA2, &cat(&[&[0x00, 0x01], &s])), e);
        if filter != b"$share/g" && filter != b"$share//x" {
            rejects(V311, &packet(0x82, &cat(&[&[0x00, 0x01], &s, &[0x00]])), e);
        }
        assert_eq!(e.reason_code(), ReasonCode::TOPIC_FILTER_INVALID);
    }
}

// checks: v3.1.1 MQTT-4.7.3-1, v5 MQTT-4.7.3-1
#[test]
fn empty_topic_without_alias() {
    // v3.1.1 MQTT-4.7.3-1 ("All Topic Names and Topic Filters MUST be at least one character
    // long"); v5 §3.3.2.1 ("It is a Protocol Error if the Topic Name is zero length and there is
    // no Topic Alias").
    rejects(V311, &[0x30, 0x02, 0x00, 0x00], D::EmptyTopicName);
    rejects(
        V311,
        &[0x32, 0x04, 0x00, 0x00, 0x00, 0x01],
        D::EmptyTopicName,
    );
    rejects(V5, &[0x30, 0x03, 0x00, 0x00, 0x00], D::EmptyTopicName);
    // Other properties do not stand in for a topic alias.
    rejects(
        V5,
        &[0x30, 0x05, 0x00, 0x00, 0x02, 0x01, 0x01],
        D::EmptyTopicName,
    );
    assert_eq!(
        D::EmptyTopicName.reason_code(),
        ReasonCode::TOPIC_NAME_INVALID
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

const CONTEXTS: [Ctx; 14] = [
    Ctx::Connect,
    Ctx::ConnAck,
    Ctx::Publish,
    Ctx::Will,
    Ctx::PubAck,
    Ctx::PubRec,
    Ctx::PubRel,
    Ctx::PubComp,
    Ctx::Subscribe,
    Ctx::SubAck,
    Ctx::Unsubscribe,
    Ctx::UnsubAck,
    Ctx::Disconnect,
    Ctx::Auth,
];

/// v5 §2.2.2.2 Table 2-4: every property identifier and the packets that may carry it, copied
/// independently of the codec's table.
fn spec_property_table() -> Vec<(u8, Vec<Ctx>)> {
    use Ctx::*;
    let acks = vec![
        ConnAck, PubAck, PubRec, PubRel, PubComp, SubAck, UnsubAck, Disconnect, Auth,
    ];
    vec![
        (0x01, vec![Publish, Will]),                // Payload Format Indicator
        (0x02, vec![Publish, Will]),                // Message Expiry Interval
        (0x03, vec![Publish, Will]),                // Content Type
        (0x08, vec![Publish, Will]),                // Response Topic
        (0x09, vec![Publish, Will]),                // Correlation Data
        (0x0B, vec![Publish, Subscribe]),           // Subscription Identifier
        (0x11, vec![Connect, ConnAck, Disconnect]), // Session Expiry Interval
        (0x12, vec![ConnAck]),                      // Assigned Client Identifier
        (0x13, vec![ConnAck]),                      // Server Keep Alive
        (0x15, vec![Connect, ConnAck, Auth]),       // Authentication Method
        (0x16, vec![Connect, ConnAck, Auth]),       // Authentication Data
        (0x17, vec![Connect]),                      // Request Problem Information
        (0x18, vec![Will]),                         // Will Delay Interval
        (0x19, vec![Connect]),                      // Request Response Information
        (0x1A, vec![ConnAck]),                      // Response Information
        (0x1C, vec![ConnAck, Disconnect]),          // Server Reference
        (0x1F, acks),                               // Reason String
        (0x21, vec![Connect, ConnAck]),             // Receive Maximum
        (0x22, vec![Connect, ConnAck]),             // Topic Alias Maximum
        (0x23, vec![Publish]),                      // Topic Alias
        (0x24, vec![ConnAck]),                      // Maximum QoS
        (0x25, vec![ConnAck]),                      // Retain Available
        (0x26, CONTEXTS.to_vec()),                  // User Property
        (0x27, vec![Connect, ConnAck]),             // Maximum Packet Size
        (0x28, vec![ConnAck]),                      // Wildcard Subscription Available
        (0x29, vec![ConnAck]),                      // Subscription Identifier Available
        (0x2A, vec![ConnAck]),                      // Shared Subscription Available
    ]
}

/// A valid value for property `id`, as wire bytes.
fn wire_value(id: u8) -> Vec<u8> {
    match id {
        0x01 | 0x17 | 0x19 | 0x24 | 0x25 | 0x28 | 0x29 | 0x2A => vec![0x01],
        0x13 | 0x21 | 0x22 | 0x23 => vec![0x00, 0x07],
        0x02 | 0x11 | 0x18 | 0x27 => vec![0x00, 0x00, 0x01, 0x00],
        0x0B => vec![0x85, 0x01], // subscription identifier 133
        0x09 | 0x16 => vec![0x00, 0x02, 0xFF, 0x00],
        0x26 => b"\x00\x01k\x00\x01v".to_vec(),
        _ => b"\x00\x03s/t".to_vec(), // every string property, response topic included
    }
}

/// A valid v5 packet carrying `props` (already a complete property block, length included) at
/// the property position of `ctx`.
fn v5_packet_with_block(ctx: Ctx, props: &[u8]) -> Vec<u8> {
    match ctx {
        Ctx::Connect => packet(
            0x10,
            &cat(&[b"\x00\x04MQTT\x05\x02\x00\x3C", props, b"\x00\x00"]),
        ),
        Ctx::Will => packet(
            0x10,
            &cat(&[
                b"\x00\x04MQTT\x05\x06\x00\x3C\x00\x00\x00",
                props,
                b"\x00\x01w\x00\x00",
            ]),
        ),
        Ctx::ConnAck => packet(0x20, &cat(&[&[0x00, 0x00], props])),
        Ctx::Publish => packet(0x32, &cat(&[b"\x00\x01t\x00\x01", props, b"p"])),
        Ctx::PubAck => packet(0x40, &cat(&[&[0x00, 0x01, 0x00], props])),
        Ctx::PubRec => packet(0x50, &cat(&[&[0x00, 0x01, 0x00], props])),
        Ctx::PubRel => packet(0x62, &cat(&[&[0x00, 0x01, 0x00], props])),
        Ctx::PubComp => packet(0x70, &cat(&[&[0x00, 0x01, 0x00], props])),
        Ctx::Subscribe => packet(0x82, &cat(&[&[0x00, 0x01], props, b"\x00\x01x\x00"])),
        Ctx::SubAck => packet(0x90, &cat(&[&[0x00, 0x01], props, &[0x00]])),
        Ctx::Unsubscribe => packet(0xA2, &cat(&[&[0x00, 0x01], props, b"\x00\x01x"])),
        Ctx::UnsubAck => packet(0xB0, &cat(&[&[0x00, 0x01], props, &[0x00]])),
        Ctx::Disconnect => packet(0xE0, &cat(&[&[0x00], props])),
        Ctx::Auth => packet(0xF0, &cat(&[&[0x18], props])),
    }
}

fn v5_packet_with(ctx: Ctx, props: &[u8]) -> Vec<u8> {
    v5_packet_with_block(ctx, &block(props))
}

#[test]
fn property_table_matches_the_specification() {
    let table = spec_property_table();
    for id in 0..=255u8 {
        let allowed = table.iter().find(|(i, _)| *i == id).map(|(_, c)| c);
        for ctx in CONTEXTS {
            assert_eq!(
                property_allowed(id, ctx),
                allowed.map(|c| c.contains(&ctx)),
                "property {id:#04x} in {ctx}"
            );
        }
    }
}

#[test]
fn every_property_in_every_packet() {
    // Each known property decodes where Table 2-4 allows it and is refused with
    // PropertyNotAllowed everywhere else (v5 §2.2.2.2: "A Control Packet … MUST NOT contain a
    // property that is not listed for it"; no numbered statement; e.g. v5 §3.1.2.11: "It is a
    // Protocol Error to include the … more than once", the others by the table).
    for (id, allowed) in spec_property_table() {
        let prop = cat(&[&[id], &wire_value(id)]);
        for ctx in CONTEXTS {
            let bytes = v5_packet_with(ctx, &prop);
            let result = Decoder::new(V5).decode(&bytes);
            if allowed.contains(&ctx) {
                assert!(
                    matches!(result, Ok(Some((_, n))) if n == bytes.len()),
                    "property {id:#04x} in {ctx}: {result:?}"
                );
            } else {
                assert_eq!(
                    result,
                    Err(D::PropertyNotAllowed {
                        property: id,
                        context: ctx
                    }),
                    "property {id:#04x} in {ctx}"
                );
            }
        }
    }
    assert_eq!(
        D::PropertyNotAllowed {
            property: 0x23,
            context: Ctx::Connect
        }
        .reason_code(),
        ReasonCode::PROTOCOL_ERROR
    );
}

#[test]
fn unknown_property() {
    // v5 §2.2.2.2: only the identifiers of Table 2-4 exist (no numbered statement); an unknown
    // one cannot even be skipped, as its length is unknown.
    let known: Vec<u8> = spec_property_table().iter().map(|(i, _)| *i).collect();
    for id in 0..=0x7Fu8 {
        if known.contains(&id) {
            continue;
        }
        for ctx in CONTEXTS {
            rejects(
                V5,
                &v5_packet_with(ctx, &[id, 0x00, 0x00, 0x00, 0x00]),
                D::UnknownProperty(id.into()),
            );
        }
    }
    // Identifiers of two bytes or more (a Variable Byte Integer, v5 §2.2.2.1).
    rejects(
        V5,
        &v5_packet_with(Ctx::PubAck, &[0x80, 0x01, 0x00]),
        D::UnknownProperty(128),
    );
    rejects(
        V5,
        &v5_packet_with(Ctx::PubAck, &[0x80, 0x02, 0x00]),
        D::UnknownProperty(256),
    );
    rejects(
        V5,
        &v5_packet_with(Ctx::PubAck, &[0xFF, 0xFF, 0xFF, 0x7F]),
        D::UnknownProperty(268_435_455),
    );
}

#[test]
fn duplicate_property() {
    // v5 §2.2.2.2 and each property's section: "It is a Protocol Error to include the … more
    // than once" (no numbered statements). Only User Property (every packet) and Subscription
    // Identifier (PUBLISH only, v5 MQTT-3.3.4-4) may repeat.
    for (id, allowed) in spec_property_table() {
        let one = cat(&[&[id], &wire_value(id)]);
        let two = cat(&[&one, &one]);
        for ctx in allowed {
            let bytes = v5_packet_with(ctx, &two);
            let repeatable = id == 0x26 || (id == 0x0B && ctx == Ctx::Publish);
            if repeatable {
                accepts(V5, &bytes);
            } else {
                rejects(V5, &bytes, D::DuplicateProperty(id));
            }
        }
    }
    // Not adjacent: still a duplicate.
    rejects(
        V5,
        &v5_packet_with(
            Ctx::Publish,
            b"\x23\x00\x01\x26\x00\x01k\x00\x01v\x23\x00\x02",
        ),
        D::DuplicateProperty(0x23),
    );
    assert_eq!(
        D::DuplicateProperty(1).reason_code(),
        ReasonCode::PROTOCOL_ERROR
    );
}

#[test]
fn invalid_property_values() {
    let bad = |property, value| D::InvalidPropertyValue { property, value };
    let cases: &[(Ctx, &[u8], DecodeError)] = &[
        // v5 §3.1.2.11.3 / §3.2.2.3.3: "It is a Protocol Error … for it to have the value 0"
        // (Receive Maximum).
        (Ctx::Connect, &[0x21, 0x00, 0x00], bad(0x21, 0)),
        (Ctx::ConnAck, &[0x21, 0x00, 0x00], bad(0x21, 0)),
        // v5 §3.1.2.11.4 / §3.2.2.3.6: Maximum Packet Size 0 is a Protocol Error.
        (Ctx::Connect, &[0x27, 0, 0, 0, 0], bad(0x27, 0)),
        (Ctx::ConnAck, &[0x27, 0, 0, 0, 0], bad(0x27, 0)),
        // v5 MQTT-3.3.2-8: "A sender MUST NOT send a PUBLISH packet containing a Topic Alias
        // which has the value 0".
        (Ctx::Publish, &[0x23, 0x00, 0x00], bad(0x23, 0)),
        // v5 §3.8.2.1.2: "It is a Protocol Error if the Subscription Identifier has a value of
        // 0" (also in PUBLISH, §3.3.2.3.8).
        (Ctx::Subscribe, &[0x0B, 0x00], bad(0x0B, 0)),
        (Ctx::Publish, &[0x0B, 0x00], bad(0x0B, 0)),
        // v5 §3.3.2.3.2: Payload Format Indicator is 0 or 1.
        (Ctx::Publish, &[0x01, 0x02], bad(0x01, 2)),
        (Ctx::Will, &[0x01, 0xFF], bad(0x01, 255)),
        // v5 §3.2.2.3.4: "It is a Protocol Error to include Maximum QoS … or to have a value
        // other than 0 or 1".
        (Ctx::ConnAck, &[0x24, 0x02], bad(0x24, 2)),
        (Ctx::ConnAck, &[0x24, 0x03], bad(0x24, 3)),
        // Byte flags are 0 or 1: v5 §3.1.2.11.6, §3.1.2.11.7, §3.2.2.3.5, §3.2.2.3.11–13.
        (Ctx::Connect, &[0x17, 0x02], bad(0x17, 2)),
        (Ctx::Connect, &[0x19, 0x02], bad(0x19, 2)),
        (Ctx::ConnAck, &[0x25, 0x02], bad(0x25, 2)),
        (Ctx::ConnAck, &[0x28, 0x02], bad(0x28, 2)),
        (Ctx::ConnAck, &[0x29, 0x80], bad(0x29, 0x80)),
        (Ctx::ConnAck, &[0x2A, 0x02], bad(0x2A, 2)),
    ];
    for (ctx, props, e) in cases {
        rejects(V5, &v5_packet_with(*ctx, props), *e);
        assert_eq!(e.reason_code(), ReasonCode::PROTOCOL_ERROR);
    }
    // The edges that are valid.
    for (ctx, props) in [
        (Ctx::Connect, &[0x21, 0x00, 0x01][..]),
        (Ctx::Connect, &[0x22, 0x00, 0x00]), // Topic Alias Maximum 0 is allowed
        (Ctx::Connect, &[0x27, 0, 0, 0, 1]),
        (Ctx::Publish, &[0x23, 0xFF, 0xFF]),
        (Ctx::Publish, &[0x01, 0x00]),
        (Ctx::ConnAck, &[0x24, 0x00]),
        (Ctx::ConnAck, &[0x13, 0x00, 0x00]), // Server Keep Alive 0 is allowed
        (Ctx::Subscribe, &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F]),
    ] {
        accepts(V5, &v5_packet_with(ctx, props));
    }
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE / UNSUBSCRIBE / SUBACK / UNSUBACK payloads
// ---------------------------------------------------------------------------------------------

#[test]
fn empty_subscribe() {
    // v5 MQTT-3.8.3-2: "The Payload MUST contain at least one Topic Filter and Subscription
    // Options pair"; v3.1.1 MQTT-3.8.3-3: "A SUBSCRIBE packet with no payload is a protocol
    // violation".
    rejects(V311, &[0x82, 0x02, 0x00, 0x01], D::EmptySubscribe);
    rejects(V5, &[0x82, 0x03, 0x00, 0x01, 0x00], D::EmptySubscribe);
    rejects(
        V5,
        &packet(0x82, &cat(&[&[0x00, 0x01], &block(&[0x0B, 0x01])])),
        D::EmptySubscribe,
    );
}

#[test]
fn empty_unsubscribe() {
    // v5 MQTT-3.10.3-2 / v3.1.1 MQTT-3.10.3-2: "The Payload of an UNSUBSCRIBE packet MUST contain
    // at least one Topic Filter".
    rejects(V311, &[0xA2, 0x02, 0x00, 0x01], D::EmptyUnsubscribe);
    rejects(V5, &[0xA2, 0x03, 0x00, 0x01, 0x00], D::EmptyUnsubscribe);
}

// checks: v3.1.1 MQTT-3.8.4-5, v5 MQTT-3.8.4-6, v5 MQTT-3.11.3-2
#[test]
fn empty_reason_codes() {
    // SUBACK has one code per filter of the SUBSCRIBE, which has at least one: v5 MQTT-3.8.4-6 /
    // v3.1.1 MQTT-3.8.4-5. UNSUBACK (v5) has one per filter: v5 MQTT-3.11.3-2.
    rejects(
        V311,
        &[0x90, 0x02, 0x00, 0x01],
        D::EmptyReasonCodes(PacketType::SubAck),
    );
    rejects(
        V5,
        &[0x90, 0x03, 0x00, 0x01, 0x00],
        D::EmptyReasonCodes(PacketType::SubAck),
    );
    rejects(
        V5,
        &[0xB0, 0x03, 0x00, 0x01, 0x00],
        D::EmptyReasonCodes(PacketType::UnsubAck),
    );
    rejects(
        V5,
        &packet(0xB0, &cat(&[&[0x00, 0x01], &block(b"\x1F\x00\x01r")])),
        D::EmptyReasonCodes(PacketType::UnsubAck),
    );
    // A v3.1.1 UNSUBACK has no payload at all.
    accepts(V311, &[0xB0, 0x02, 0x00, 0x01]);
}

#[test]
fn reserved_subscription_option_bits() {
    // v5 MQTT-3.8.3-5: "The Server MUST treat a SUBSCRIBE packet as malformed if any of Reserved
    // bits in the Payload are non-zero" (bits 6 and 7).
    for o in [0x40, 0x80, 0xC0, 0x41, 0xEE] {
        rejects(
            V5,
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'x', o],
            D::ReservedSubscriptionOptions(o),
        );
    }
    // v3.1.1 §3.8.3.1: bits 2–7 of the requested QoS byte are reserved (a statement the 3.1.1
    // document mislabels "3-8.3-4", so it is missing from the statement list). No Local,
    // Retain As Published and Retain Handling do not exist in 3.1.1.
    for o in [0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0x2D, 0xFC] {
        rejects(
            V311,
            &[0x82, 0x06, 0x00, 0x01, 0x00, 0x01, b'x', o],
            D::ReservedSubscriptionOptions(o),
        );
    }
}

#[test]
fn retain_handling_3() {
    // v5 §3.8.3.1: "It is a Protocol Error to send a Retain Handling value of 3".
    for o in [0x30, 0x31, 0x3E] {
        rejects(
            V5,
            &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'x', o],
            D::InvalidRetainHandling,
        );
    }
}

#[test]
fn no_local_on_shared_subscription() {
    // v5 MQTT-3.8.3-4: "It is a Protocol Error to set the No Local bit to 1 on a Shared
    // Subscription".
    rejects(
        V5,
        &packet(
            0x82,
            &cat(&[&[0x00, 0x01, 0x00], b"\x00\x0A$share/g/x", &[0x04]]),
        ),
        D::NoLocalOnSharedSubscription,
    );
    // Not shared: allowed.
    accepts(
        V5,
        &packet(0x82, &cat(&[&[0x00, 0x01, 0x00], b"\x00\x03g/x", &[0x04]])),
    );
    assert_eq!(
        D::NoLocalOnSharedSubscription.reason_code(),
        ReasonCode::PROTOCOL_ERROR
    );
}

// ---------------------------------------------------------------------------------------------
// CONNECT / CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_protocol_name() {
    // v5 MQTT-3.1.2-1: "The protocol name MUST be the UTF-8 String "MQTT""; v3.1.1 MQTT-3.1.2-1.
    for name in [&b"MQIsdp"[..], b"mqtt", b"MQT", b"MQTTT", b""] {
        let body = cat(&[
            &(name.len() as u16).to_be_bytes(),
            name,
            b"\x04\x02\x00\x3C\x00\x00",
        ]);
        rejects_both(&packet(0x10, &body), D::InvalidProtocolName);
    }
}

#[test]
fn unsupported_protocol_level() {
    // v5 MQTT-3.1.2-2 / v3.1.1 MQTT-3.1.2-2 (the server answers an unsupported level).
    for level in [0, 1, 2, 3, 6, 0x84, 0xFF] {
        rejects_both(
            &connect_bytes(level, 0x02, b"\x00\x00"),
            D::UnsupportedProtocolLevel(level),
        );
    }
}

#[test]
fn connect_reserved_flag() {
    // v5 MQTT-3.1.2-3 / v3.1.1 MQTT-3.1.2-3: "The Server MUST validate that the reserved flag in
    // the CONNECT packet is set to 0".
    rejects(
        V311,
        &connect_bytes(4, 0x03, b"\x00\x00"),
        D::ConnectReservedFlag,
    );
    rejects(
        V5,
        &connect_bytes(5, 0x01, b"\x00\x00"),
        D::ConnectReservedFlag,
    );
}

#[test]
fn will_flags_without_will() {
    // v5 MQTT-3.1.2-11 / v3.1.1 MQTT-3.1.2-13: "If the Will Flag is set to 0, then the Will QoS
    // MUST be set to 0"; v5 MQTT-3.1.2-13 / v3.1.1 MQTT-3.1.2-15: "… then Will Retain MUST be set
    // to 0"; v3.1.1 MQTT-3.1.2-11.
    for flags in [0b0000_1010, 0b0001_0010, 0b0010_0010, 0b0011_0010] {
        rejects(
            V311,
            &connect_bytes(4, flags, b"\x00\x01c"),
            D::WillFlagsWithoutWill,
        );
        rejects(
            V5,
            &connect_bytes(5, flags, b"\x00\x01c"),
            D::WillFlagsWithoutWill,
        );
    }
}

#[test]
fn password_without_user_name_v311() {
    // v3.1.1 MQTT-3.1.2-22: "If the User Name Flag is set to 0, the Password Flag MUST be set to
    // 0". MQTT 5.0 dropped the rule (v5 §3.1.2.9).
    rejects(
        V311,
        &connect_bytes(4, 0b0100_0010, b"\x00\x01c\x00\x01p"),
        D::PasswordWithoutUsername,
    );
    let bytes = connect_bytes(5, 0b0100_0010, b"\x00\x01c\x00\x01p");
    let Packet::Connect(c) = accepts(V5, &bytes) else {
        panic!()
    };
    assert_eq!((c.username, c.password), (None, Some(&b"p"[..])));
}

// checks: v5 MQTT-3.2.2-1
#[test]
fn connack_reserved_flags() {
    // v5 MQTT-3.2.2-1: "Byte 1 is the "Connect Acknowledge Flags". Bits 7-1 are reserved and MUST
    // be set to 0"; v3.1.1 §3.2.2.1 (same rule, no numbered statement).
    for flags in [0x02, 0x80, 0xFE, 0x03] {
        rejects(
            V311,
            &[0x20, 0x02, flags, 0x00],
            D::InvalidConnAckFlags(flags),
        );
        rejects(
            V5,
            &[0x20, 0x03, flags, 0x00, 0x00],
            D::InvalidConnAckFlags(flags),
        );
    }
}

// checks: v3.1.1 MQTT-3.2.2-4, v5 MQTT-3.2.2-6
#[test]
fn session_present_on_refusal() {
    // v5 MQTT-3.2.2-6 / v3.1.1 MQTT-3.2.2-4: "If a Server sends a CONNACK packet containing a
    // non-zero Reason Code it MUST set Session Present to 0".
    for code in 1..=5 {
        rejects(V311, &[0x20, 0x02, 0x01, code], D::SessionPresentOnRefusal);
    }
    for code in [0x80, 0x87, 0x9F] {
        rejects(
            V5,
            &[0x20, 0x03, 0x01, code, 0x00],
            D::SessionPresentOnRefusal,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Reason codes
// ---------------------------------------------------------------------------------------------

/// The reason codes MQTT 5.0 allows in each packet (§2.4 Table 2-6 and each packet's table),
/// written independently of the codec's table.
fn v5_reason_codes(t: PacketType) -> &'static [u8] {
    match t {
        // §3.2.2.2 Table 3-1
        PacketType::ConnAck => &[
            0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90,
            0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
        ],
        // §3.4.2.1 Table 3-4, §3.5.2.1 Table 3-5
        PacketType::PubAck | PacketType::PubRec => {
            &[0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99]
        }
        // §3.6.2.1 Table 3-6, §3.7.2.1 Table 3-7
        PacketType::PubRel | PacketType::PubComp => &[0x00, 0x92],
        // §3.9.3 Table 3-8
        PacketType::SubAck => &[
            0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
        ],
        // §3.11.3 Table 3-9
        PacketType::UnsubAck => &[0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91],
        // §3.14.2.1 Table 3-10
        PacketType::Disconnect => &[
            0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93,
            0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1,
            0xA2,
        ],
        // §3.15.2.1 Table 3-11
        PacketType::Auth => &[0x00, 0x18, 0x19],
        _ => &[],
    }
}

/// A v5 packet of type `t` carrying reason code `code`.
fn v5_with_code(t: PacketType, code: u8) -> Vec<u8> {
    match t {
        PacketType::ConnAck => vec![0x20, 0x03, 0x00, code, 0x00],
        PacketType::PubAck => vec![0x40, 0x03, 0x00, 0x01, code],
        PacketType::PubRec => vec![0x50, 0x03, 0x00, 0x01, code],
        PacketType::PubRel => vec![0x62, 0x03, 0x00, 0x01, code],
        PacketType::PubComp => vec![0x70, 0x03, 0x00, 0x01, code],
        PacketType::SubAck => vec![0x90, 0x04, 0x00, 0x01, 0x00, code],
        PacketType::UnsubAck => vec![0xB0, 0x04, 0x00, 0x01, 0x00, code],
        PacketType::Disconnect => vec![0xE0, 0x01, code],
        PacketType::Auth => vec![0xF0, 0x01, code],
        _ => unreachable!(),
    }
}

const WITH_REASON: [PacketType; 9] = [
    PacketType::ConnAck,
    PacketType::PubAck,
    PacketType::PubRec,
    PacketType::PubRel,
    PacketType::PubComp,
    PacketType::SubAck,
    PacketType::UnsubAck,
    PacketType::Disconnect,
    PacketType::Auth,
];

// checks: v5 MQTT-3.2.2-8, v5 MQTT-3.4.2-1, v5 MQTT-3.5.2-1, v5 MQTT-3.6.2-1, v5 MQTT-3.7.2-1
// checks: v5 MQTT-3.9.3-2, v5 MQTT-3.11.3-2, v5 MQTT-3.14.2-1, v5 MQTT-3.15.2-1
#[test]
fn invalid_reason_codes_v5() {
    // v5 MQTT-3.2.2-8 (CONNACK), MQTT-3.4.2-1 (PUBACK), MQTT-3.5.2-1 (PUBREC), MQTT-3.6.2-1
    // (PUBREL), MQTT-3.7.2-1 (PUBCOMP), MQTT-3.9.3-2 (SUBACK), MQTT-3.11.3-2 (UNSUBACK),
    // MQTT-3.14.2-1 (DISCONNECT), MQTT-3.15.2-1 (AUTH): the sender "MUST use one of the …
    // Reason Code values". Every byte value, in every packet that carries one.
    for t in WITH_REASON {
        let allowed = v5_reason_codes(t);
        for code in 0..=255u8 {
            let bytes = v5_with_code(t, code);
            if allowed.contains(&code) {
                accepts(V5, &bytes);
            } else {
                rejects(V5, &bytes, D::InvalidReasonCode { packet: t, code });
            }
            assert_eq!(ReasonCode(code).allowed_in(t), allowed.contains(&code));
        }
        // A reason code followed by properties is checked just the same.
        if t != PacketType::SubAck && t != PacketType::UnsubAck {
            let mut bytes = v5_with_code(t, 0x01);
            bytes[1] += 1;
            bytes.push(0x00);
            let expect = if allowed.contains(&0x01) {
                None
            } else {
                Some(D::InvalidReasonCode {
                    packet: t,
                    code: 0x01,
                })
            };
            match expect {
                Some(e) => rejects(V5, &bytes, e),
                None => {
                    accepts(V5, &bytes);
                }
            }
        }
    }
    // A bad code after good ones in a SUBACK.
    rejects(
        V5,
        &[0x90, 0x06, 0x00, 0x01, 0x00, 0x00, 0x01, 0x03],
        D::InvalidReasonCode {
            packet: PacketType::SubAck,
            code: 0x03,
        },
    );
}

// checks: v3.1.1 MQTT-3.9.3-2
#[test]
fn invalid_reason_codes_v311() {
    // v3.1.1 §3.2.2.3 Table 3.1: CONNACK return codes 0–5 ("6-255 Reserved for future use").
    for code in 0..=255u8 {
        let bytes = [0x20, 0x02, 0x00, code];
        if code <= 5 {
            accepts(V311, &bytes);
        } else {
            rejects(
                V311,
                &bytes,
                D::InvalidReasonCode {
                    packet: PacketType::ConnAck,
                    code,
                },
            );
        }
    }
    // v3.1.1 MQTT-3.9.3-2: "SUBACK return codes other than 0x00, 0x01, 0x02 and 0x80 are
    // reserved and MUST NOT be used".
    for code in 0..=255u8 {
        let bytes = [0x90, 0x03, 0x00, 0x01, code];
        if matches!(code, 0x00 | 0x01 | 0x02 | 0x80) {
            accepts(V311, &bytes);
        } else {
            rejects(
                V311,
                &bytes,
                D::InvalidReasonCode {
                    packet: PacketType::SubAck,
                    code,
                },
            );
        }
    }
}

#[test]
fn decode_errors_map_to_disconnect_reason_codes() {
    // v5 §4.13: Malformed Packet (0x81) for bytes that cannot be parsed, Protocol Error (0x82)
    // for valid bytes that break a rule, and the specific codes where the spec names one.
    assert_eq!(
        D::MalformedVarInt.reason_code(),
        ReasonCode::MALFORMED_PACKET
    );
    assert_eq!(D::InvalidUtf8.reason_code(), ReasonCode::MALFORMED_PACKET);
    assert_eq!(
        D::Truncated {
            packet: PacketType::Publish,
            field: "topic name"
        }
        .reason_code(),
        ReasonCode::MALFORMED_PACKET
    );
    assert_eq!(
        D::InvalidPropertyValue {
            property: 0x21,
            value: 0
        }
        .reason_code(),
        ReasonCode::PROTOCOL_ERROR
    );
    // Every error has a message.
    assert!(D::ReservedPacketType(0).to_string().contains('0'));
    assert!(D::PacketTooLarge { size: 9, max: 8 }
        .to_string()
        .contains('9'));
}

// =============================================================================================
// EncodeError: what a sender must not send
// =============================================================================================

#[test]
fn encode_string_too_long() {
    // v5 §1.5.4 / v3.1.1 §1.5.3: a UTF-8 string field is at most 65 535 bytes.
    let long = "x".repeat(65_536);
    let c = Connect {
        client_id: &long,
        ..connect(V311)
    };
    refuses(V311, Packet::Connect(c), EncodeError::StringTooLong(65_536));
    let u = [("k", long.as_str())];
    let p = Packet::PubAck(PubResp {
        packet_id: 1,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties {
            user_properties: Seq::from_slice(&u),
            ..Properties::EMPTY
        },
    });
    refuses(V5, p, EncodeError::StringTooLong(65_536));
    // 65 535 is fine.
    let ok = "x".repeat(65_535);
    encodes(
        V311,
        Packet::Connect(Connect {
            client_id: &ok,
            ..connect(V311)
        }),
    );
}

#[test]
fn encode_binary_too_long() {
    // v5 §1.5.6 / v3.1.1 §3.1.3.5: binary data is at most 65 535 bytes.
    let long = vec![0u8; 70_000];
    let c = Connect {
        username: Some("u"),
        password: Some(&long),
        ..connect(V311)
    };
    refuses(V311, Packet::Connect(c), EncodeError::BinaryTooLong(70_000));
    let p = Packet::Publish(Publish {
        properties: Properties {
            correlation_data: Some(&long),
            ..Properties::EMPTY
        },
        ..publish("t")
    });
    refuses(V5, p, EncodeError::BinaryTooLong(70_000));
    let w = Connect {
        will: Some(Will {
            topic: "w",
            payload: &long,
            qos: QoS::AtMostOnce,
            retain: false,
            properties: Properties::EMPTY,
        }),
        ..connect(V5)
    };
    refuses(V5, Packet::Connect(w), EncodeError::BinaryTooLong(70_000));
}

// checks: v3.1.1 MQTT-1.5.3-2, v5 MQTT-1.5.4-2
#[test]
fn encode_null_character() {
    // v5 MQTT-1.5.4-2 / v3.1.1 MQTT-1.5.3-2.
    let c = Connect {
        client_id: "a\0",
        ..connect(V311)
    };
    refuses(V311, Packet::Connect(c), EncodeError::NullCharacter);
    let c = Connect {
        username: Some("\0"),
        ..connect(V5)
    };
    refuses(V5, Packet::Connect(c), EncodeError::NullCharacter);
    let p = Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::SUCCESS,
        properties: Properties {
            reason_string: Some("a\0b"),
            ..Properties::EMPTY
        },
    });
    refuses(V5, p, EncodeError::NullCharacter);
    // In a topic it is the topic rule that reports it.
    refuses(
        V5,
        Packet::Publish(publish("a\0")),
        EncodeError::InvalidTopicName(TopicError::NullCharacter),
    );
}

// checks: v5 MQTT-3.2.2-15
#[test]
fn encode_packet_too_large() {
    // v5 MQTT-3.2.2-15: "The Client MUST NOT send packets exceeding Maximum Packet Size to the
    // Server"; v5 MQTT-3.1.2-24 for the Server.
    let p = Packet::Publish(Publish {
        payload: b"0123456789",
        ..publish("t")
    });
    // 1 + 1 + 3 + 1 + 10 = 16 bytes in v5.
    let mut out = Vec::new();
    assert_eq!(p.encode_limited(V5, 16, &mut out), Ok(16));
    assert_eq!(out.len(), 16);
    let mut out = vec![1, 2, 3];
    assert_eq!(
        p.encode_limited(V5, 15, &mut out),
        Err(EncodeError::PacketTooLarge { size: 16, max: 15 })
    );
    assert_eq!(out, [1, 2, 3]);
}

#[test]
fn encode_var_int_too_large() {
    // v5 §1.5.5: a Variable Byte Integer holds at most 268 435 455 (a subscription identifier is
    // 1 to 268 435 455, §3.3.2.3.8).
    let ids = [268_435_456];
    let p = Packet::Publish(Publish {
        properties: Properties {
            subscription_identifiers: Seq::from_slice(&ids),
            ..Properties::EMPTY
        },
        ..publish("t")
    });
    refuses(V5, p, EncodeError::VarIntTooLarge(268_435_456));
}

// checks: v3.1.1 MQTT-2.3.1-1, v5 MQTT-2.2.1-3
#[test]
fn encode_zero_packet_id() {
    // v5 MQTT-2.2.1-3 / v3.1.1 MQTT-2.3.1-1.
    use PacketType as P;
    for v in [V311, V5] {
        let p = Publish {
            qos: QoS::AtLeastOnce,
            ..publish("t")
        };
        refuses(v, Packet::Publish(p), EncodeError::ZeroPacketId(P::Publish));
        let p = Publish {
            qos: QoS::ExactlyOnce,
            ..publish("t")
        };
        refuses(v, Packet::Publish(p), EncodeError::ZeroPacketId(P::Publish));
        refuses(
            v,
            Packet::PubAck(PubResp::new(0)),
            EncodeError::ZeroPacketId(P::PubAck),
        );
        refuses(
            v,
            Packet::PubRec(PubResp::new(0)),
            EncodeError::ZeroPacketId(P::PubRec),
        );
        refuses(
            v,
            Packet::PubRel(PubResp::new(0)),
            EncodeError::ZeroPacketId(P::PubRel),
        );
        refuses(
            v,
            Packet::PubComp(PubResp::new(0)),
            EncodeError::ZeroPacketId(P::PubComp),
        );
        let subs = [Subscription::new("x", QoS::AtMostOnce)];
        refuses(
            v,
            Packet::Subscribe(Subscribe {
                packet_id: 0,
                properties: Properties::EMPTY,
                subscriptions: Seq::from_slice(&subs),
            }),
            EncodeError::ZeroPacketId(P::Subscribe),
        );
        let codes = [ReasonCode::SUCCESS];
        refuses(
            v,
            Packet::SubAck(SubAck {
                packet_id: 0,
                properties: Properties::EMPTY,
                reason_codes: Seq::from_slice(&codes),
            }),
            EncodeError::ZeroPacketId(P::SubAck),
        );
        refuses(
            v,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 0,
                properties: Properties::EMPTY,
                filters: Seq::from_slice(&["x"]),
            }),
            EncodeError::ZeroPacketId(P::Unsubscribe),
        );
        refuses(
            v,
            Packet::UnsubAck(UnsubAck {
                packet_id: 0,
                properties: Properties::EMPTY,
                reason_codes: Seq::from_slice(&codes),
            }),
            EncodeError::ZeroPacketId(P::UnsubAck),
        );
    }
    // QoS 0 has no packet identifier: 0 is fine and nothing is written for it
    // (v5 MQTT-2.2.1-2 / v3.1.1 MQTT-2.3.1-5).
    assert_eq!(
        encodes(V311, Packet::Publish(publish("t"))),
        [0x30, 0x03, 0x00, 0x01, b't']
    );
    let p = Publish {
        packet_id: 9,
        ..publish("t")
    };
    assert_eq!(
        encodes(V311, Packet::Publish(p)),
        [0x30, 0x03, 0x00, 0x01, b't']
    );
}

// checks: v3.1.1 MQTT-3.3.2-2, v3.1.1 MQTT-4.7.1-1, v3.1.1 MQTT-4.7.3-1, v5 MQTT-3.3.2-2
// checks: v5 MQTT-3.3.2-14, v5 MQTT-4.7.0-1, v5 MQTT-4.7.3-1
#[test]
fn encode_invalid_topic_name() {
    // v5 MQTT-3.3.2-2 / v3.1.1 MQTT-3.3.2-2, v5 and v3.1.1 MQTT-4.7.3-1.
    for v in [V311, V5] {
        refuses(
            v,
            Packet::Publish(publish("a/#")),
            EncodeError::InvalidTopicName(TopicError::WildcardInName),
        );
        refuses(
            v,
            Packet::Publish(publish("")),
            EncodeError::InvalidTopicName(TopicError::Empty),
        );
        let w = Connect {
            will: Some(Will {
                topic: "w/+",
                payload: b"",
                qos: QoS::AtMostOnce,
                retain: false,
                properties: Properties::EMPTY,
            }),
            ..connect(v)
        };
        refuses(
            v,
            Packet::Connect(w),
            EncodeError::InvalidTopicName(TopicError::WildcardInName),
        );
    }
    // A topic alias does not make an empty topic valid in 3.1.1 (which has no properties).
    let aliased = Publish {
        properties: Properties {
            topic_alias: Some(1),
            ..Properties::EMPTY
        },
        ..publish("")
    };
    refuses(
        V311,
        Packet::Publish(aliased),
        EncodeError::InvalidTopicName(TopicError::Empty),
    );
    encodes(V5, Packet::Publish(aliased));
    // v5 MQTT-3.3.2-14: the Response Topic is a topic name.
    let p = Publish {
        properties: Properties {
            response_topic: Some("r/#"),
            ..Properties::EMPTY
        },
        ..publish("t")
    };
    refuses(
        V5,
        Packet::Publish(p),
        EncodeError::InvalidTopicName(TopicError::WildcardInName),
    );
}

// checks: v3.1.1 MQTT-4.7.1-2, v3.1.1 MQTT-4.7.1-3, v5 MQTT-4.7.1-1, v5 MQTT-4.7.1-2
// checks: v5 MQTT-4.8.2-1, v5 MQTT-4.8.2-2
#[test]
fn encode_invalid_topic_filter() {
    // v5 MQTT-4.7.1-1 / v3.1.1 MQTT-4.7.1-2; v5 MQTT-4.7.1-2 / v3.1.1 MQTT-4.7.1-3.
    for v in [V311, V5] {
        let subs = [
            Subscription::new("ok/+", QoS::AtMostOnce),
            Subscription::new("a/#/b", QoS::AtMostOnce),
        ];
        refuses(
            v,
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                properties: Properties::EMPTY,
                subscriptions: Seq::from_slice(&subs),
            }),
            EncodeError::InvalidTopicFilter(TopicError::MisplacedMultiLevelWildcard),
        );
        refuses(
            v,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 1,
                properties: Properties::EMPTY,
                filters: Seq::from_slice(&["a+"]),
            }),
            EncodeError::InvalidTopicFilter(TopicError::MisplacedSingleLevelWildcard),
        );
        refuses(
            v,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 1,
                properties: Properties::EMPTY,
                filters: Seq::from_slice(&[""]),
            }),
            EncodeError::InvalidTopicFilter(TopicError::Empty),
        );
    }
}

/// Properties with only property `id` set to a valid value.
fn one_property(id: u8) -> Properties<'static> {
    const IDS: &[u32] = &[133];
    const USERS: &[(&str, &str)] = &[("k", "v")];
    let mut p = Properties::EMPTY;
    match id {
        0x01 => p.payload_format_indicator = Some(true),
        0x02 => p.message_expiry_interval = Some(256),
        0x03 => p.content_type = Some("s/t"),
        0x08 => p.response_topic = Some("s/t"),
        0x09 => p.correlation_data = Some(&[0xFF, 0x00]),
        0x0B => p.subscription_identifiers = Seq::from_slice(IDS),
        0x11 => p.session_expiry_interval = Some(256),
        0x12 => p.assigned_client_identifier = Some("s/t"),
        0x13 => p.server_keep_alive = Some(7),
        0x15 => p.authentication_method = Some("s/t"),
        0x16 => p.authentication_data = Some(&[0xFF, 0x00]),
        0x17 => p.request_problem_information = Some(true),
        0x18 => p.will_delay_interval = Some(256),
        0x19 => p.request_response_information = Some(true),
        0x1A => p.response_information = Some("s/t"),
        0x1C => p.server_reference = Some("s/t"),
        0x1F => p.reason_string = Some("s/t"),
        0x21 => p.receive_maximum = Some(7),
        0x22 => p.topic_alias_maximum = Some(7),
        0x23 => p.topic_alias = Some(7),
        0x24 => p.maximum_qos = Some(QoS::AtLeastOnce),
        0x25 => p.retain_available = Some(true),
        0x26 => p.user_properties = Seq::from_slice(USERS),
        0x27 => p.maximum_packet_size = Some(256),
        0x28 => p.wildcard_subscription_available = Some(true),
        0x29 => p.subscription_identifiers_available = Some(true),
        0x2A => p.shared_subscription_available = Some(true),
        _ => unreachable!(),
    }
    p
}

/// A packet of version `v` with `props` at the property position of `ctx`.
fn packet_with<'a>(v: ProtocolVersion, ctx: Ctx, props: Properties<'a>) -> Packet<'a> {
    const SUBS: &[Subscription<'static>] = &[Subscription::new("x", QoS::AtMostOnce)];
    const CODES: &[ReasonCode] = &[ReasonCode::SUCCESS];
    const FILTERS: &[&str] = &["x"];
    let resp = PubResp {
        packet_id: 1,
        reason_code: ReasonCode::SUCCESS,
        properties: props,
    };
    match ctx {
        Ctx::Connect => Packet::Connect(Connect {
            properties: props,
            ..connect(v)
        }),
        Ctx::Will => Packet::Connect(Connect {
            will: Some(Will {
                topic: "w",
                payload: b"",
                qos: QoS::AtMostOnce,
                retain: false,
                properties: props,
            }),
            ..connect(v)
        }),
        Ctx::ConnAck => Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::SUCCESS,
            properties: props,
        }),
        Ctx::Publish => Packet::Publish(Publish {
            properties: props,
            ..publish("t")
        }),
        Ctx::PubAck => Packet::PubAck(resp),
        Ctx::PubRec => Packet::PubRec(resp),
        Ctx::PubRel => Packet::PubRel(resp),
        Ctx::PubComp => Packet::PubComp(resp),
        Ctx::Subscribe => Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: props,
            subscriptions: Seq::from_slice(SUBS),
        }),
        Ctx::SubAck => Packet::SubAck(SubAck {
            packet_id: 1,
            properties: props,
            reason_codes: Seq::from_slice(CODES),
        }),
        Ctx::Unsubscribe => Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            properties: props,
            filters: Seq::from_slice(FILTERS),
        }),
        Ctx::UnsubAck => Packet::UnsubAck(UnsubAck {
            packet_id: 1,
            properties: props,
            reason_codes: if v == V5 {
                Seq::from_slice(CODES)
            } else {
                Seq::empty()
            },
        }),
        Ctx::Disconnect => Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::SUCCESS,
            properties: props,
        }),
        Ctx::Auth => Packet::Auth(Auth {
            reason_code: ReasonCode::SUCCESS,
            properties: props,
        }),
    }
}

#[test]
fn encode_property_not_allowed() {
    // v5 §2.2.2.2 Table 2-4, from the sender's side: every property in every packet.
    for (id, allowed) in spec_property_table() {
        for ctx in CONTEXTS {
            let p = packet_with(V5, ctx, one_property(id));
            if allowed.contains(&ctx) {
                let bytes = encodes(V5, p);
                assert_eq!(accepts(V5, &bytes), p, "property {id:#04x} in {ctx}");
            } else {
                refuses(
                    V5,
                    p,
                    EncodeError::PropertyNotAllowed {
                        property: id,
                        context: ctx,
                    },
                );
            }
        }
    }
    // MQTT 3.1.1 has no properties at all.
    for (id, _) in spec_property_table() {
        for ctx in CONTEXTS {
            if ctx == Ctx::Auth {
                continue;
            }
            refuses(
                V311,
                packet_with(V311, ctx, one_property(id)),
                EncodeError::PropertyNotAllowed {
                    property: id,
                    context: ctx,
                },
            );
        }
    }
}

// checks: v5 MQTT-3.3.2-8
#[test]
fn encode_invalid_property_value() {
    let bad = |property, value| EncodeError::InvalidPropertyValue { property, value };
    let cases = [
        // v5 §3.1.2.11.3: Receive Maximum 0.
        (
            Ctx::Connect,
            Properties {
                receive_maximum: Some(0),
                ..Properties::EMPTY
            },
            bad(0x21, 0),
        ),
        // v5 §3.1.2.11.4: Maximum Packet Size 0.
        (
            Ctx::ConnAck,
            Properties {
                maximum_packet_size: Some(0),
                ..Properties::EMPTY
            },
            bad(0x27, 0),
        ),
        // v5 MQTT-3.3.2-8: Topic Alias 0.
        (
            Ctx::Publish,
            Properties {
                topic_alias: Some(0),
                ..Properties::EMPTY
            },
            bad(0x23, 0),
        ),
        // v5 §3.2.2.3.4: Maximum QoS is 0 or 1.
        (
            Ctx::ConnAck,
            Properties {
                maximum_qos: Some(QoS::ExactlyOnce),
                ..Properties::EMPTY
            },
            bad(0x24, 2),
        ),
    ];
    for (ctx, props, e) in cases {
        refuses(V5, packet_with(V5, ctx, props), e);
    }
    // v5 §3.8.2.1.2: Subscription Identifier 0.
    let zero = [0];
    for ctx in [Ctx::Subscribe, Ctx::Publish] {
        let props = Properties {
            subscription_identifiers: Seq::from_slice(&zero),
            ..Properties::EMPTY
        };
        refuses(V5, packet_with(V5, ctx, props), bad(0x0B, 0));
    }
}

#[test]
fn encode_duplicate_property() {
    // v5 §3.8.2.1.2: "It is a Protocol Error to include the Subscription Identifier more than
    // once" in SUBSCRIBE; PUBLISH may carry several (v5 MQTT-3.3.4-4).
    let two = [1, 2];
    let props = Properties {
        subscription_identifiers: Seq::from_slice(&two),
        ..Properties::EMPTY
    };
    refuses(
        V5,
        packet_with(V5, Ctx::Subscribe, props),
        EncodeError::DuplicateProperty(0x0B),
    );
    encodes(V5, packet_with(V5, Ctx::Publish, props));
}

// checks: v5 MQTT-3.4.2-1, v5 MQTT-3.5.2-1, v5 MQTT-3.6.2-1, v5 MQTT-3.7.2-1, v5 MQTT-3.14.2-1
// checks: v5 MQTT-3.15.2-1
#[test]
fn encode_invalid_reason_code() {
    // v5: the sender MUST use one of the packet's reason codes (v5 MQTT-3.2.2-8, MQTT-3.4.2-1,
    // MQTT-3.5.2-1, MQTT-3.6.2-1, MQTT-3.7.2-1, MQTT-3.9.3-2, MQTT-3.11.3-2, MQTT-3.14.2-1,
    // MQTT-3.15.2-1). Every byte value in every packet.
    for t in WITH_REASON {
        let allowed = v5_reason_codes(t);
        for code in 0..=255u8 {
            let rc = ReasonCode(code);
            let codes = [rc];
            let resp = PubResp {
                packet_id: 1,
                reason_code: rc,
                properties: Properties::EMPTY,
            };
            let p = match t {
                PacketType::ConnAck => Packet::ConnAck(ConnAck {
                    session_present: false,
                    reason_code: rc,
                    properties: Properties::EMPTY,
                }),
                PacketType::PubAck => Packet::PubAck(resp),
                PacketType::PubRec => Packet::PubRec(resp),
                PacketType::PubRel => Packet::PubRel(resp),
                PacketType::PubComp => Packet::PubComp(resp),
                PacketType::SubAck => Packet::SubAck(SubAck {
                    packet_id: 1,
                    properties: Properties::EMPTY,
                    reason_codes: Seq::from_slice(&codes),
                }),
                PacketType::UnsubAck => Packet::UnsubAck(UnsubAck {
                    packet_id: 1,
                    properties: Properties::EMPTY,
                    reason_codes: Seq::from_slice(&codes),
                }),
                PacketType::Disconnect => Packet::Disconnect(Disconnect {
                    reason_code: rc,
                    properties: Properties::EMPTY,
                }),
                PacketType::Auth => Packet::Auth(Auth {
                    reason_code: rc,
                    properties: Properties::EMPTY,
                }),
                _ => unreachable!(),
            };
            if allowed.contains(&code) {
                // Allowed: it encodes, and decodes back to the same packet. (Success without
                // properties takes the short form where there is one.)
                let bytes = encodes(V5, p);
                assert_eq!(accepts(V5, &bytes), p);
                if code != 0
                    || matches!(
                        t,
                        PacketType::ConnAck | PacketType::SubAck | PacketType::UnsubAck
                    )
                {
                    assert_eq!(bytes, v5_with_code(t, code));
                }
            } else {
                refuses(V5, p, EncodeError::InvalidReasonCode { packet: t, code });
            }
        }
    }
    // v3.1.1: CONNACK return codes 0–5 (§3.2.2.3), SUBACK 0, 1, 2, 0x80 (v3.1.1 MQTT-3.9.3-2),
    // and no reason code at all in PUBACK … PUBCOMP and DISCONNECT.
    for code in 0..=255u8 {
        let p = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode(code),
            properties: Properties::EMPTY,
        });
        if code <= 5 {
            assert_eq!(encodes(V311, p), [0x20, 0x02, 0x00, code]);
        } else {
            refuses(
                V311,
                p,
                EncodeError::InvalidReasonCode {
                    packet: PacketType::ConnAck,
                    code,
                },
            );
        }
        let codes = [ReasonCode(code)];
        let p = Packet::SubAck(SubAck {
            packet_id: 1,
            properties: Properties::EMPTY,
            reason_codes: Seq::from_slice(&codes),
        });
        if matches!(code, 0 | 1 | 2 | 0x80) {
            assert_eq!(encodes(V311, p), [0x90, 0x03, 0x00, 0x01, code]);
        } else {
            refuses(
                V311,
                p,
                EncodeError::InvalidReasonCode {
                    packet: PacketType::SubAck,
                    code,
                },
            );
        }
        if code != 0 {
            let resp = PubResp {
                packet_id: 1,
                reason_code: ReasonCode(code),
                properties: Properties::EMPTY,
            };
            for (p, t) in [
                (Packet::PubAck(resp), PacketType::PubAck),
                (Packet::PubRec(resp), PacketType::PubRec),
                (Packet::PubRel(resp), PacketType::PubRel),
                (Packet::PubComp(resp), PacketType::PubComp),
                (
                    Packet::Disconnect(Disconnect {
                        reason_code: ReasonCode(code),
                        properties: Properties::EMPTY,
                    }),
                    PacketType::Disconnect,
                ),
            ] {
                refuses(V311, p, EncodeError::InvalidReasonCode { packet: t, code });
            }
        }
    }
}

// checks: v3.1.1 MQTT-3.8.3-3, v3.1.1 MQTT-3.10.3-2, v5 MQTT-3.8.3-2, v5 MQTT-3.10.3-2
#[test]
fn encode_empty_subscribe_unsubscribe_and_reason_codes() {
    for v in [V311, V5] {
        // v5 MQTT-3.8.3-2 / v3.1.1 MQTT-3.8.3-3.
        refuses(
            v,
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                properties: Properties::EMPTY,
                subscriptions: Seq::empty(),
            }),
            EncodeError::EmptySubscribe,
        );
        // v5 MQTT-3.10.3-2 / v3.1.1 MQTT-3.10.3-2.
        refuses(
            v,
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 1,
                properties: Properties::EMPTY,
                filters: Seq::empty(),
            }),
            EncodeError::EmptyUnsubscribe,
        );
        // v5 MQTT-3.8.4-6 / v3.1.1 MQTT-3.8.4-5.
        refuses(
            v,
            Packet::SubAck(SubAck {
                packet_id: 1,
                properties: Properties::EMPTY,
                reason_codes: Seq::empty(),
            }),
            EncodeError::EmptyReasonCodes(PacketType::SubAck),
        );
    }
    // v5 MQTT-3.11.3-2; a 3.1.1 UNSUBACK has no reason codes.
    let empty = Packet::UnsubAck(UnsubAck {
        packet_id: 1,
        properties: Properties::EMPTY,
        reason_codes: Seq::empty(),
    });
    refuses(
        V5,
        empty,
        EncodeError::EmptyReasonCodes(PacketType::UnsubAck),
    );
    assert_eq!(encodes(V311, empty), [0xB0, 0x02, 0x00, 0x01]);
}

#[test]
fn encode_auth_not_in_v311() {
    // AUTH (packet type 15) exists only in MQTT 5.0; 15 is reserved in 3.1.1 (§2.2.1).
    refuses(
        V311,
        Packet::Auth(Auth::default()),
        EncodeError::NotInVersion {
            packet: PacketType::Auth,
            version: V311,
        },
    );
}

// checks: v5 MQTT-3.8.3-4
#[test]
fn encode_no_local_on_shared_subscription() {
    // v5 MQTT-3.8.3-4.
    let subs = [Subscription {
        filter: "$share/g/x",
        options: SubscriptionOptions {
            qos: QoS::AtLeastOnce,
            no_local: true,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        },
    }];
    refuses(
        V5,
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::EMPTY,
            subscriptions: Seq::from_slice(&subs),
        }),
        EncodeError::NoLocalOnSharedSubscription,
    );
}

// checks: v3.1.1 MQTT-3.1.2-22
#[test]
fn encode_password_without_user_name_v311() {
    // v3.1.1 MQTT-3.1.2-22.
    let c = Connect {
        password: Some(b"p"),
        ..connect(V311)
    };
    refuses(
        V311,
        Packet::Connect(c),
        EncodeError::PasswordWithoutUsername,
    );
    // Allowed in 5.0.
    encodes(V5, Packet::Connect(Connect { protocol: V5, ..c }));
}

#[test]
fn encode_session_present_on_refusal() {
    // v5 MQTT-3.2.2-6 / v3.1.1 MQTT-3.2.2-4.
    let p = |code| {
        Packet::ConnAck(ConnAck {
            session_present: true,
            reason_code: ReasonCode(code),
            properties: Properties::EMPTY,
        })
    };
    refuses(V311, p(5), EncodeError::SessionPresentOnRefusal);
    refuses(V5, p(0x87), EncodeError::SessionPresentOnRefusal);
}

// checks: v3.1.1 MQTT-3.1.3-7
#[test]
fn encode_empty_client_id_without_clean_session_v311() {
    // v3.1.1 MQTT-3.1.3-7: "If the Client supplies a zero-byte ClientId, the Client MUST also
    // set CleanSession to 1". (5.0 has no such rule, v5 §3.1.3.1.)
    let c = Connect {
        client_id: "",
        clean_start: false,
        ..connect(V311)
    };
    refuses(
        V311,
        Packet::Connect(c),
        EncodeError::EmptyClientIdWithoutCleanSession,
    );
    encodes(V5, Packet::Connect(Connect { protocol: V5, ..c }));
}

// checks: v3.1.1 MQTT-3.3.1-2, v5 MQTT-3.3.1-2
#[test]
fn encode_dup_on_qos_0() {
    // v5 MQTT-3.3.1-2 / v3.1.1 MQTT-3.3.1-2: "The DUP flag MUST be set to 0 for all QoS 0
    // messages". Refused, not cleared: a caller that sets it has a bug to hear about.
    let p = Publish {
        dup: true,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t",
        packet_id: 0,
        properties: Properties::EMPTY,
        payload: b"x",
    };
    for v in [V311, V5] {
        refuses(v, Packet::Publish(p), EncodeError::DupOnQoS0);
        // DUP stays allowed, and is written, on QoS 1 and 2.
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let wire = encodes(
                v,
                Packet::Publish(Publish {
                    qos,
                    packet_id: 1,
                    ..p
                }),
            );
            assert_eq!(wire[0], 0x38 | (qos as u8) << 1);
        }
    }
}

#[test]
fn encode_v5_subscription_options_in_v311_are_refused() {
    // No Local, Retain As Published and Retain Handling exist only in MQTT 5.0 (v5 §3.8.3.1);
    // in 3.1.1 the upper six bits of the Requested QoS byte are reserved (v3.1.1 §3.8.3.1).
    // Asked for in a 3.1.1 SUBSCRIBE, they are refused (nothing written), not dropped; the
    // QoS alone is written as it is.
    let base = SubscriptionOptions::qos(QoS::AtLeastOnce);
    for (options, v5_byte) in [
        (
            SubscriptionOptions {
                no_local: true,
                ..base
            },
            0x05,
        ),
        (
            SubscriptionOptions {
                retain_as_published: true,
                ..base
            },
            0x09,
        ),
        (
            SubscriptionOptions {
                retain_handling: RetainHandling::DoNotSend,
                ..base
            },
            0x21,
        ),
    ] {
        let subs = [Subscription {
            filter: "a/b",
            options,
        }];
        let p = Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::EMPTY,
            subscriptions: Seq::from_slice(&subs),
        });
        refuses(V311, p, EncodeError::SubscriptionOptionsNotInVersion);
        assert_eq!(*encodes(V5, p).last().unwrap(), v5_byte);
    }
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let subs = [Subscription {
            filter: "a/b",
            options: SubscriptionOptions::qos(qos),
        }];
        let p = Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::EMPTY,
            subscriptions: Seq::from_slice(&subs),
        });
        assert_eq!(*encodes(V311, p).last().unwrap(), qos as u8);
    }
}

#[test]
fn encode_reason_codes_in_v311_unsuback() {
    // A 3.1.1 UNSUBACK is the packet identifier alone: "The UNSUBACK Packet has no payload"
    // (v3.1.1 §3.11.3). Reason codes given for it are refused, not dropped.
    let codes = [ReasonCode::SUCCESS];
    let p = UnsubAck {
        packet_id: 3,
        properties: Properties::EMPTY,
        reason_codes: Seq::from_slice(&codes),
    };
    refuses(
        V311,
        Packet::UnsubAck(p),
        EncodeError::ReasonCodesNotInVersion(PacketType::UnsubAck),
    );
    assert_eq!(
        encodes(
            V311,
            Packet::UnsubAck(UnsubAck {
                reason_codes: Seq::empty(),
                ..p
            })
        ),
        [0xB0, 0x02, 0x00, 0x03]
    );
    encodes(V5, Packet::UnsubAck(p));
}
