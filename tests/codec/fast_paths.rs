//! The encoder's fast paths (PUBLISH, SUBSCRIBE, CONNECT) against the general encoder they
//! fall back to: valid packets the fast path leaves to the general one (a topic whose quick scan
//! is inconclusive, a shared subscription, a list decoded off the wire) encode to the same
//! bytes as their fast twins, and every length of remaining-length field is written right.

use wasmqtt::codec::{
    decode, Packet, Properties, ProtocolVersion, Publish, QoS, Seq, Subscribe, Subscription,
    SubscriptionOptions,
};

use ProtocolVersion::{V311, V5};

fn encode(p: &Packet<'_>, v: ProtocolVersion) -> Vec<u8> {
    let mut out = Vec::new();
    let n = p.encode(v, &mut out).unwrap();
    assert_eq!(n, out.len());
    assert_eq!(p.encoded_len(v), Ok(n));
    out
}

fn publish<'a>(topic: &'a str, payload: &'a [u8]) -> Packet<'a> {
    Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic,
        packet_id: 0x1234,
        properties: Properties::EMPTY,
        payload,
    })
}

/// A topic of 8 to 15 bytes holding 0x08 makes the word scan unsure (it flags 0x08 with
/// U+0000): the general encoder decides, and writes what the fast path writes for its twin.
#[test]
fn unsure_topic_scan_falls_back_to_the_same_bytes() {
    for v in [V311, V5] {
        let slow = encode(&publish("abc\u{8}defgh", b"xy"), v);
        let fast = encode(&publish("abcXdefgh", b"xy"), v);
        assert_eq!(slow.len(), fast.len());
        let diff: Vec<usize> = (0..fast.len()).filter(|&i| slow[i] != fast[i]).collect();
        assert_eq!(diff, [7], "{v}: {slow:02X?} vs {fast:02X?}");
        assert_eq!(slow[7], 0x08);
        let (back, _) = decode(&slow, v).unwrap().unwrap();
        assert_eq!(back, publish("abc\u{8}defgh", b"xy"));
    }
}

/// Every size of the remaining length (1 to 4 bytes) at its edges.
#[test]
fn remaining_length_edges() {
    let topic = "t";
    // Body: topic (2 + 1), packet identifier (2), v5 property length (1), payload.
    for v in [V311, V5] {
        let fixed = 5 + v.is_v5() as usize;
        for remaining in [127usize, 128, 16_383, 16_384, 2_097_151, 2_097_152] {
            let payload = vec![0x5A; remaining - fixed];
            let p = publish(topic, &payload);
            let wire = encode(&p, v);
            let (len, n) = wasmqtt::codec::read_var_int(&wire[1..]).unwrap().unwrap();
            assert_eq!(len as usize, remaining, "{v}");
            assert_eq!(n, wasmqtt::codec::var_int_len(len));
            assert_eq!(wire.len(), 1 + n + remaining);
            assert_eq!(decode(&wire, v).unwrap().unwrap(), (p, wire.len()));
        }
    }
}

/// A shared subscription and a SUBSCRIBE decoded off the wire take the general encoder; the
/// bytes are those of the fast path for the application's slice.
#[test]
fn subscribe_fallbacks_write_the_same_bytes() {
    let subs = [
        Subscription::new("a/+/b", QoS::AtLeastOnce),
        Subscription {
            filter: "c/#",
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                ..SubscriptionOptions::default()
            },
        },
    ];
    let ids = [7u32];
    let users = [("k", "v")];
    let v5_props = Properties {
        subscription_identifiers: Seq::from_slice(&ids),
        user_properties: Seq::from_slice(&users),
        ..Properties::EMPTY
    };
    for v in [V311, V5] {
        let subs = if v.is_v5() { &subs[..] } else { &subs[..1] };
        let p = Packet::Subscribe(Subscribe {
            packet_id: 9,
            properties: if v.is_v5() {
                v5_props
            } else {
                Properties::EMPTY
            },
            subscriptions: Seq::from_slice(subs),
        });
        let fast = encode(&p, v);
        let (decoded, _) = decode(&fast, v).unwrap().unwrap();
        assert_eq!(decoded, p);
        assert_eq!(
            encode(&decoded, v),
            fast,
            "{v}: re-encoding of the decoded packet"
        );
    }

    // `$share/g/x` against `x/y/z` (same length): one byte string apart, the filter's.
    let share = [Subscription::new("$share/g/x", QoS::AtMostOnce)];
    let plain = [Subscription::new("x/y/z/w/vv", QoS::AtMostOnce)];
    for v in [V311, V5] {
        let sub = |s| {
            Packet::Subscribe(Subscribe {
                packet_id: 9,
                properties: Properties::EMPTY,
                subscriptions: Seq::from_slice(s),
            })
        };
        let (a, b) = (encode(&sub(&share), v), encode(&sub(&plain), v));
        assert_eq!(a.len(), b.len());
        let at = a.len() - 11;
        assert_eq!(&a[..at], &b[..at], "{v}: header");
        assert_eq!(&a[at..a.len() - 1], b"$share/g/x");
        assert_eq!(a.last(), b.last());
    }
}
