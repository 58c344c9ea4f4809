//! Property tests of the MQTT codec (`wasmqtt::codec`), for MQTT 3.1.1 and 5.0.
//!
//! - every valid packet survives encode → decode unchanged;
//! - decoding arbitrary bytes, arbitrary bodies behind a valid fixed header, and mutated valid
//!   packets never panics, and whatever decodes re-encodes to something that decodes the same;
//! - a stream of packets cut at every byte boundary, or fed one byte at a time through a
//!   buffer, yields exactly the packets that were encoded;
//! - every strict prefix of a packet is "need more bytes" (`Ok(None)`).
//!
//! The generators (`support`) honour the rules of each version: no properties, no AUTH
//! and 3.1.1 return codes in 3.1.1; valid topic names and filters; non-zero packet
//! identifiers; QoS 0 PUBLISH with packet id 0 and DUP clear; only the properties
//! `properties::property_allowed` admits in each packet.
//!
//! 256 cases per property by default; `PROPTEST_CASES=N` changes it.

use crate::support::{
    any_props, packet, OAck, OPacket, OProps, OSubscribe, OUnsubscribe, VERSIONS,
};
use proptest::prelude::*;
use wasmqtt::codec::{
    decode, DecodeError, Decoder, EncodeError, Packet, PacketType, ProtocolVersion, ReasonCode,
    MAX_PACKET_SIZE,
};

const V311: ProtocolVersion = ProtocolVersion::V311;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn config() -> ProptestConfig {
    // `ProptestConfig::default()` reads PROPTEST_CASES and falls back to 256.
    ProptestConfig::default()
}

/// Encodes `m`, checks the reported sizes, decodes it back and checks it is the same packet.
fn check_roundtrip(m: &OPacket, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let view = m.view();
    let p = view.packet();
    let mut wire = Vec::new();
    let n = p
        .encode(v, &mut wire)
        .map_err(|e| TestCaseError::fail(format!("encode failed: {e}")))?;
    prop_assert_eq!(n, wire.len());
    prop_assert_eq!(p.encoded_len(v), Ok(n));
    check_checked(&p, v, &wire)?;
    // Appending keeps what was already in the buffer.
    let mut out = vec![0xAA, 0xBB];
    prop_assert_eq!(p.encode(v, &mut out), Ok(n));
    prop_assert_eq!(&out[2..], &wire[..]);

    let (q, used) = decode(&wire, v)
        .map_err(|e| TestCaseError::fail(format!("decode failed: {e} on {wire:02x?}")))?
        .ok_or_else(|| TestCaseError::fail("decode wanted more bytes for a whole packet"))?;
    prop_assert_eq!(used, wire.len());
    prop_assert_eq!(&q, &p);
    prop_assert_eq!(&OPacket::from_packet(&q), m);
    // The packet type nibble is the one of the packet.
    prop_assert_eq!(wire[0] >> 4, p.packet_type() as u8);
    Ok(())
}

/// A packet that `encode` writes as `wire`: `check` accepts it with the same size, and the
/// checked packet writes the same bytes, appended after what the buffer held, twice over.
fn check_checked(p: &Packet<'_>, v: ProtocolVersion, wire: &[u8]) -> Result<(), TestCaseError> {
    let checked = p
        .check(v, MAX_PACKET_SIZE)
        .map_err(|e| TestCaseError::fail(format!("check refused what encode wrote: {e}")))?;
    prop_assert_eq!(checked.size(), wire.len());
    let mut out = vec![0x77];
    prop_assert_eq!(checked.encode(&mut out), wire.len());
    prop_assert_eq!(checked.encode(&mut out), wire.len());
    prop_assert_eq!(out.len(), 1 + 2 * wire.len());
    prop_assert_eq!(&out[1..1 + wire.len()], wire);
    prop_assert_eq!(&out[1 + wire.len()..], wire);
    Ok(())
}

/// Whatever decodes must re-encode, and the re-encoding must decode to the same packet.
///
/// The one packet the decoder accepts and the encoder refuses is a 3.1.1 CONNECT with an empty
/// client identifier and Clean Session 0: a server must answer it with CONNACK 0x02
/// (MQTT-3.1.3-8), so it is not malformed, but a client must not send it (MQTT-3.1.3-7).
fn check_reencode(p: &Packet<'_>, v: ProtocolVersion) -> Result<(), TestCaseError> {
    let mut wire = Vec::new();
    match p.encode(v, &mut wire) {
        Ok(n) => prop_assert_eq!(n, wire.len()),
        Err(EncodeError::EmptyClientIdWithoutCleanSession) => {
            prop_assert!(matches!(p, Packet::Connect(c)
                if c.protocol == V311 && c.client_id.is_empty() && !c.clean_start));
            return Ok(());
        }
        Err(e) => return Err(TestCaseError::fail(format!("{p:?} decoded but: {e}"))),
    }
    let (q, used) = decode(&wire, v)
        .map_err(|e| TestCaseError::fail(format!("re-decode of {p:?} failed: {e}")))?
        .ok_or_else(|| TestCaseError::fail("re-decode wanted more bytes"))?;
    prop_assert_eq!(used, wire.len());
    prop_assert_eq!(&q, p);
    Ok(())
}

/// Decodes `buf` with every decoder configuration; never panics; checks what decodes.
fn decode_anything(buf: &[u8]) -> Result<(), TestCaseError> {
    for v in VERSIONS {
        for max in [u32::MAX, 64, 2] {
            let d = Decoder::new(v).with_max_packet_size(max);
            if let Ok(Some((p, n))) = d.decode(buf) {
                prop_assert!(n <= buf.len() && n as u64 <= u64::from(max));
                if v == V311 {
                    prop_assert!(!matches!(p, Packet::Auth(_)));
                }
                check_reencode(&p, v)?;
            }
        }
    }
    Ok(())
}

fn encode_var_int(mut v: usize, out: &mut Vec<u8>) {
    loop {
        let mut b = (v % 128) as u8;
        v /= 128;
        if v > 0 {
            b |= 0x80;
        }
        out.push(b);
        if v == 0 {
            break;
        }
    }
}

/// A first byte that a decoder of version `v` accepts: a known type with its required flags.
fn valid_first_byte(v: ProtocolVersion) -> impl Strategy<Value = u8> {
    let last = if v.is_v5() { 15u8 } else { 14 };
    (1..=last, 0u8..3, any::<bool>(), any::<bool>()).prop_map(|(t, qos, dup, retain)| {
        if t == 3 {
            let dup = dup && qos > 0;
            0x30 | (dup as u8) << 3 | qos << 1 | retain as u8
        } else {
            let ty = PacketType::from_nibble(t).unwrap();
            t << 4 | ty.required_flags()
        }
    })
}

/// Feeds `wire` to a decoder in the chunks given by `cuts` (sorted positions), through a
/// growing buffer that is drained as packets come out, and returns the packets decoded.
fn feed(wire: &[u8], cuts: &[usize], v: ProtocolVersion) -> Result<Vec<OPacket>, TestCaseError> {
    let d = Decoder::new(v);
    let mut buf: Vec<u8> = Vec::new();
    let mut got = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[start..end]);
        start = end;
        loop {
            match d.decode(&buf) {
                Ok(Some((p, n))) => {
                    prop_assert!(n > 0 && n <= buf.len());
                    got.push(OPacket::from_packet(&p));
                    buf.drain(..n);
                }
                Ok(None) => break,
                Err(e) => {
                    return Err(TestCaseError::fail(format!(
                        "{e} with {} bytes buffered",
                        buf.len()
                    )))
                }
            }
        }
    }
    prop_assert!(buf.is_empty(), "{} bytes left over", buf.len());
    Ok(got)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn roundtrip_v311(m in packet(V311)) {
        check_roundtrip(&m, V311)?;
    }

    #[test]
    fn roundtrip_v5(m in packet(V5)) {
        check_roundtrip(&m, V5)?;
    }

    /// A 3.1.1 packet never carries what only 5.0 has.
    #[test]
    fn v311_packets_have_no_v5_fields(m in packet(V311)) {
        let wire = m.encode(V311);
        let (p, _) = decode(&wire, V311).unwrap().unwrap();
        prop_assert!(m.props().is_none_or(|p| p.is_empty()));
        prop_assert!(!matches!(p, Packet::Auth(_)));
    }

    #[test]
    fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..256)) {
        decode_anything(&buf)?;
    }

    #[test]
    fn arbitrary_body_after_valid_fixed_header_never_panics(
        (v, first) in prop_oneof![
            valid_first_byte(V311).prop_map(|b| (V311, b)),
            valid_first_byte(V5).prop_map(|b| (V5, b)),
        ],
        body in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let mut buf = vec![first];
        encode_var_int(body.len(), &mut buf);
        buf.extend_from_slice(&body);
        // A whole packet is there: the answer is a packet of exactly that size or an error.
        match Decoder::new(v).decode(&buf) {
            Ok(Some((p, n))) => {
                prop_assert_eq!(n, buf.len());
                check_reencode(&p, v)?;
            }
            Ok(None) => prop_assert!(false, "Ok(None) for a complete packet {:02x?}", buf),
            Err(_) => {}
        }
        decode_anything(&buf)?;
    }

    /// Valid packets with a few bytes overwritten, inserted or removed reach deep into the
    /// decoder where random bytes rarely go.
    #[test]
    fn mutated_packets_never_panic(
        (v, m) in prop_oneof![
            packet(V311).prop_map(|m| (V311, m)),
            packet(V5).prop_map(|m| (V5, m)),
        ],
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..4), 1..4),
    ) {
        let mut wire = m.encode(v);
        for (at, byte, op) in edits {
            let i = at.index(wire.len());
            match op {
                0 | 1 => wire[i] = byte,
                2 => wire.insert(i, byte),
                _ => { wire.remove(i); }
            }
            if wire.is_empty() {
                break;
            }
        }
        decode_anything(&wire)?;
        // The same edits with the remaining length fixed up, so the body gets parsed.
        if wire.len() >= 2 {
            let body_start = 1 + wire[1..].iter().take(4).position(|b| b & 0x80 == 0).map_or(1, |p| p + 1);
            if body_start <= wire.len() {
                let mut fixed = vec![wire[0]];
                encode_var_int(wire.len() - body_start, &mut fixed);
                fixed.extend_from_slice(&wire[body_start..]);
                decode_anything(&fixed)?;
            }
        }
    }

    /// Several packets back to back, fed one byte at a time, then cut in two at every boundary.
    // checks: v3.1.1 MQTT-6.0.0-2, v5 MQTT-6.0.0-2
    #[test]
    fn stream_cut_anywhere_yields_the_same_packets(
        (v, models) in prop_oneof![
            proptest::collection::vec(packet(V311), 1..6).prop_map(|m| (V311, m)),
            proptest::collection::vec(packet(V5), 1..6).prop_map(|m| (V5, m)),
        ],
    ) {
        let mut wire = Vec::new();
        for m in &models {
            wire.extend_from_slice(&m.encode(v));
        }
        let bytewise: Vec<usize> = (1..wire.len()).collect();
        prop_assert_eq!(&feed(&wire, &bytewise, v)?, &models);
        for cut in 0..=wire.len() {
            prop_assert_eq!(&feed(&wire, &[cut], v)?, &models, "cut at {}", cut);
        }
    }

    #[test]
    fn every_strict_prefix_needs_more_bytes(
        (v, m) in prop_oneof![
            packet(V311).prop_map(|m| (V311, m)),
            packet(V5).prop_map(|m| (V5, m)),
        ],
    ) {
        let wire = m.encode(v);
        for len in 0..wire.len() {
            prop_assert_eq!(decode(&wire[..len], v), Ok(None), "prefix of {} bytes", len);
            // Still "need more" when the prefix is within the maximum packet size.
            let d = Decoder::new(v).with_max_packet_size(wire.len() as u32);
            prop_assert_eq!(d.decode(&wire[..len]), Ok(None));
        }
        // One byte below the packet's size is refused as soon as the header is complete.
        let d = Decoder::new(v).with_max_packet_size(wire.len() as u32 - 1);
        let refused = matches!(
            d.decode(&wire),
            Err(DecodeError::PacketTooLarge { size, .. }) if size == wire.len()
        );
        prop_assert!(refused);
    }
}

/// Breaks (or tries to break) one rule of a valid model: the kinds of mistake an application
/// can make when it builds a packet by hand.
fn perturb(m: &mut OPacket, kind: u8, props: OProps, byte: u8) {
    let nasty = ['#', '+', '\0', '/'][byte as usize % 4];
    match (kind % 6, m) {
        // Properties that may not be allowed here (or at all in 3.1.1).
        (0, m) => {
            if let Some(p) = model_props(m) {
                *p = props;
            }
        }
        // Packet identifier 0.
        (1, OPacket::Publish(p)) => p.packet_id = 0,
        (1, OPacket::Subscribe(OSubscribe { packet_id, .. }))
        | (1, OPacket::Unsubscribe(OUnsubscribe { packet_id, .. }))
        | (1, OPacket::SubAck(OAck { packet_id, .. }))
        | (1, OPacket::UnsubAck(OAck { packet_id, .. })) => *packet_id = 0,
        (1, OPacket::PubAck(r) | OPacket::PubRec(r) | OPacket::PubRel(r) | OPacket::PubComp(r)) => {
            r.packet_id = 0
        }
        // A character a topic name or filter may not hold there.
        (2, OPacket::Publish(p)) => p.topic.push(nasty),
        (2, OPacket::Subscribe(s)) => s.subs[0].0.push(nasty),
        (2, OPacket::Unsubscribe(u)) => u.filters[0].push(nasty),
        (2, OPacket::Connect(c)) => match &mut c.will {
            Some(w) => w.topic.insert(0, nasty),
            None => c.client_id.push('\0'),
        },
        // Any reason code.
        (3, OPacket::ConnAck(c)) => c.reason = byte,
        (3, OPacket::PubAck(r) | OPacket::PubRec(r) | OPacket::PubRel(r) | OPacket::PubComp(r)) => {
            r.reason = byte
        }
        (3, OPacket::Disconnect(d) | OPacket::Auth(d)) => d.reason = byte,
        (3, OPacket::SubAck(a) | OPacket::UnsubAck(a)) => a.codes.push(ReasonCode(byte)),
        // Empty lists.
        (4, OPacket::Subscribe(s)) => s.subs.clear(),
        (4, OPacket::Unsubscribe(u)) => u.filters.clear(),
        (4, OPacket::SubAck(a) | OPacket::UnsubAck(a)) => a.codes.clear(),
        // Empty topic, user properties with U+0000.
        (5, OPacket::Publish(p)) => p.topic.clear(),
        (5, m) => {
            if let Some(p) = model_props(m) {
                p.user_properties.push(("k\0".to_owned(), String::new()));
            }
        }
        _ => {}
    }
}

fn model_props(m: &mut OPacket) -> Option<&mut OProps> {
    Some(match m {
        OPacket::Connect(c) => &mut c.props,
        OPacket::ConnAck(c) => &mut c.props,
        OPacket::Publish(p) => &mut p.props,
        OPacket::PubAck(r) | OPacket::PubRec(r) | OPacket::PubRel(r) | OPacket::PubComp(r) => {
            &mut r.props
        }
        OPacket::Subscribe(s) => &mut s.props,
        OPacket::SubAck(a) | OPacket::UnsubAck(a) => &mut a.props,
        OPacket::Unsubscribe(u) => &mut u.props,
        OPacket::Disconnect(d) | OPacket::Auth(d) => &mut d.props,
        OPacket::PingReq | OPacket::PingResp => return None,
    })
}

proptest! {
    #![proptest_config(config())]

    /// Whatever the application builds, valid or not: `encode` and `encoded_len` agree, a
    /// broken rule leaves the output buffer as it was (and wins over a too-small maximum
    /// packet size), and what encodes decodes to a packet that encodes to the same bytes.
    #[test]
    fn encode_checks_before_writing(
        (v, mut m) in prop_oneof![
            packet(V311).prop_map(|m| (V311, m)),
            packet(V5).prop_map(|m| (V5, m)),
        ],
        kind in any::<u8>(),
        props in any_props(),
        byte in any::<u8>(),
    ) {
        perturb(&mut m, kind, props, byte);
        let view = m.view();
        let p = view.packet();
        let before = vec![0x5A; 3];
        let mut out = before.clone();
        let result = p.encode(v, &mut out);
        prop_assert_eq!(result, p.encoded_len(v));
        // `check` refuses what `encode` refuses, with the same error.
        prop_assert_eq!(p.check(v, MAX_PACKET_SIZE).map(|c| c.size()), result);
        match result {
            Err(_) => prop_assert_eq!(&out, &before),
            Ok(n) => {
                check_checked(&p, v, &out[3..])?;
                prop_assert_eq!(out.len(), 3 + n);
                let (q, used) = decode(&out[3..], v)
                    .map_err(|e| TestCaseError::fail(format!("{e} decoding {p:?}")))?
                    .unwrap();
                prop_assert_eq!(used, n);
                let mut again = Vec::new();
                prop_assert_eq!(q.encode(v, &mut again), Ok(n));
                prop_assert_eq!(&again[..], &out[3..]);
            }
        }
        // A maximum packet size below the packet's: the broken rule still comes first.
        prop_assert_eq!(p.check(v, 1).map(|c| c.size()), match result {
            Err(e) => Err(e),
            Ok(n) => Err(wasmqtt::codec::EncodeError::PacketTooLarge { size: n, max: 1 }),
        });
        let mut out = before.clone();
        let limited = p.encode_limited(v, 1, &mut out);
        match result {
            Err(e) => prop_assert_eq!(limited, Err(e)),
            Ok(n) => prop_assert_eq!(
                limited,
                Err(wasmqtt::codec::EncodeError::PacketTooLarge { size: n, max: 1 })
            ),
        }
        prop_assert_eq!(&out, &before);
    }
}

/// Fixed spot checks of the 3.1.1 / 5.0 differences the generators rely on.
#[test]
fn version_specific_shapes() {
    use crate::support::{OProps, OReason};
    // v5 DISCONNECT without reason or properties is the two-byte short form.
    let d = OPacket::Disconnect(OReason {
        reason: 0,
        props: OProps::default(),
    });
    assert_eq!(d.encode(V5), [0xE0, 0x00]);
    assert_eq!(d.encode(V311), [0xE0, 0x00]);
    // AUTH does not exist in 3.1.1: neither side accepts it.
    let a = OPacket::Auth(OReason {
        reason: 0,
        props: OProps::default(),
    });
    let mut out = Vec::new();
    assert!(a.view().packet().encode(V311, &mut out).is_err());
    assert!(out.is_empty());
    assert!(decode(&[0xF0, 0x00], V311).is_err());
    assert!(decode(&[0xF0, 0x00], V5).unwrap().is_some());
}
