//! Decodes arbitrary bytes as a stream of MQTT packets, for both protocol versions and with a
//! small and an unlimited maximum packet size; every packet that decodes is re-encoded, and the
//! re-encoding must decode to the same packet, and `Packet::check` then `Checked::encode` must
//! write the same bytes.
//!
//! The one packet the decoder accepts but the encoder refuses is a 3.1.1 CONNECT with an empty
//! client identifier and Clean Session 0: the server answers it with CONNACK 0x02
//! (MQTT-3.1.3-8), a client must not send it (MQTT-3.1.3-7).
//!
//! Run from the repository root: `cargo +nightly fuzz run decode`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wasmqtt::codec::{Decoder, EncodeError, Packet, ProtocolVersion, MAX_PACKET_SIZE};

fn check(d: &Decoder, data: &[u8]) {
    let mut rest = data;
    // A stream: decode packet after packet until the bytes run out or are refused.
    while let Ok(Some((packet, used))) = d.decode(rest) {
        assert!(used > 0 && used <= rest.len());
        assert!(used as u64 <= u64::from(d.max_packet_size));
        if d.version == ProtocolVersion::V311 {
            assert!(!matches!(packet, Packet::Auth(_)));
        }
        reencode(d, &packet);
        rest = &rest[used..];
    }
}

fn reencode(d: &Decoder, packet: &Packet<'_>) {
    let mut wire = Vec::new();
    match packet.encode(d.version, &mut wire) {
        Ok(n) => assert_eq!(n, wire.len()),
        Err(EncodeError::EmptyClientIdWithoutCleanSession) => {
            assert!(matches!(packet, Packet::Connect(c)
                if c.protocol == ProtocolVersion::V311 && c.client_id.is_empty() && !c.clean_start));
            assert!(wire.is_empty());
            return;
        }
        Err(e) => panic!("decoded {packet:?} does not re-encode: {e}"),
    }
    assert_eq!(packet.encoded_len(d.version), Ok(wire.len()));
    // Checked once, then written without checks: the same bytes.
    let checked = packet
        .check(d.version, MAX_PACKET_SIZE)
        .unwrap_or_else(|e| panic!("{packet:?} encodes but check refuses it: {e}"));
    assert_eq!(checked.size(), wire.len());
    let mut written = Vec::new();
    assert_eq!(checked.encode(&mut written), wire.len());
    assert_eq!(written, wire);
    let (again, used) = Decoder::new(d.version)
        .decode(&wire)
        .unwrap_or_else(|e| panic!("re-encoding of {packet:?} does not decode: {e}"))
        .expect("a whole packet");
    assert_eq!(used, wire.len());
    assert_eq!(&again, packet);
}

fuzz_target!(|data: &[u8]| {
    for version in [ProtocolVersion::V311, ProtocolVersion::V5] {
        check(&Decoder::new(version), data);
        check(&Decoder::new(version).with_max_packet_size(64), data);
    }
});
