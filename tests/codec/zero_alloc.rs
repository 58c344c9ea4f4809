//! Decoding allocates nothing: packets borrow their strings, payloads and lists from the input.
//!
//! This module installs a counting global allocator for the whole `codec` test binary. Only allocations made on
//! the measuring thread between the start and end markers are counted, so the test harness and
//! tests running on other threads cannot disturb the count.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;

use wasmqtt::codec::{
    decode, Decoder, Packet, Properties, ProtocolVersion, Publish, QoS, ReasonCode, Seq, SubAck,
    Subscribe, Subscription,
};

struct Counting;

thread_local! {
    /// Whether this thread is between the markers.
    static ACTIVE: Cell<bool> = const { Cell::new(false) };
    /// Allocations (alloc, alloc_zeroed, realloc) this thread made while active.
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_allocation() {
    // `try_with`: the allocator may run while thread-locals are being torn down.
    let _ = ACTIVE.try_with(|active| {
        if active.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counting only touches
// const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_allocation();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` between the markers and returns its result and the number of allocations it made.
fn count_allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    ACTIVE.with(|a| a.set(true));
    let r = f();
    ACTIVE.with(|a| a.set(false));
    (r, COUNT.with(|c| c.get()))
}

/// A v5 PUBLISH with user properties, several subscription identifiers (one of four bytes),
/// correlation data and more, written by hand.
fn v5_publish() -> Vec<u8> {
    #[rustfmt::skip]
    let props: &[&[u8]] = &[
        &[0x01, 0x01],                        // payload format indicator
        &[0x02, 0x00, 0x00, 0x0E, 0x10],      // message expiry interval
        &[0x03, 0x00, 0x04],                  // content type
        b"json",
        &[0x08, 0x00, 0x07],                  // response topic
        b"reply/1",
        &[0x09, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF], // correlation data
        &[0x26, 0x00, 0x01, b'a', 0x00, 0x01, b'1'], // user property a=1
        &[0x0B, 0x01],                        // subscription identifier 1
        &[0x26, 0x00, 0x02, b'b', b'b', 0x00, 0x02, b'2', b'2'], // user property bb=22
        &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F],      // subscription identifier 268 435 455
        &[0x23, 0x00, 0x05],                  // topic alias 5
        &[0x26, 0x00, 0x03, b'c', b'c', b'c', 0x00, 0x00], // user property ccc=""
        &[0x0B, 0x80, 0x01],                  // subscription identifier 128
    ];
    let props = props.concat();
    let mut body = Vec::new();
    body.extend_from_slice(&[0x00, 0x0B]);
    body.extend_from_slice(b"sensor/temp"); // topic
    body.extend_from_slice(&[0x12, 0x34]); // packet identifier
    body.push(props.len() as u8); // property length (< 128)
    body.extend_from_slice(&props);
    body.extend_from_slice(b"{\"t\":21.5}"); // payload
    let mut wire = vec![0x3B]; // PUBLISH, dup, QoS 1, retain
    assert!(body.len() < 128);
    wire.push(body.len() as u8);
    wire.extend_from_slice(&body);
    wire
}

#[test]
fn the_counter_counts() {
    // Without this the other assertions would be vacuous.
    let (v, n) = count_allocations(|| black_box(vec![1u8, 2, 3]));
    assert!(n >= 1, "the counting allocator saw {n} allocations");
    drop(v);
    let (_, n) = count_allocations(|| {
        let mut s = String::new();
        s.push_str(black_box("grow"));
        s.push_str(black_box(" and grow again, past the first capacity"));
        black_box(s)
    });
    assert!(n >= 2, "reallocation counted: {n}");
}

#[test]
fn decoding_a_v5_publish_with_properties_allocates_nothing() {
    let wire = v5_publish();
    let decoder = Decoder::new(ProtocolVersion::V5);

    let (result, n) = count_allocations(|| black_box(decoder.decode(black_box(&wire))));
    assert_eq!(n, 0, "decoding allocated {n} times");
    let (packet, used) = result.unwrap().unwrap();
    assert_eq!(used, wire.len());
    let Packet::Publish(p) = packet else {
        panic!("not a PUBLISH: {packet:?}")
    };
    assert_eq!(p.topic, "sensor/temp");
    assert_eq!(p.packet_id, 0x1234);
    assert_eq!(p.payload, b"{\"t\":21.5}");
    assert_eq!(
        p.properties.correlation_data,
        Some(&[0xDE, 0xAD, 0xBE, 0xEF][..])
    );
    assert_eq!(p.properties.topic_alias, Some(5));

    // Iterating the decoded lists allocates nothing either.
    let ((key_bytes, value_bytes, users, id_sum, ids), n) = count_allocations(|| {
        let mut key_bytes = 0;
        let mut value_bytes = 0;
        for (k, v) in p.properties.user_properties.iter() {
            key_bytes += black_box(k).len();
            value_bytes += black_box(v).len();
        }
        let users = p.properties.user_properties.len();
        let mut id_sum = 0u64;
        for id in &p.properties.subscription_identifiers {
            id_sum += u64::from(black_box(id));
        }
        let ids = p.properties.subscription_identifiers.iter().count();
        (key_bytes, value_bytes, users, id_sum, ids)
    });
    assert_eq!(n, 0, "iterating allocated {n} times");
    assert_eq!((key_bytes, value_bytes, users), (1 + 2 + 3, 1 + 2, 3));
    assert_eq!((id_sum, ids), (1 + 268_435_455 + 128, 3));

    // Comparing against an application-built packet allocates nothing.
    let users = [("a", "1"), ("bb", "22"), ("ccc", "")];
    let ids = [1, 268_435_455, 128];
    let expected = Packet::Publish(Publish {
        dup: true,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: "sensor/temp",
        packet_id: 0x1234,
        properties: Properties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(3600),
            content_type: Some("json"),
            response_topic: Some("reply/1"),
            correlation_data: Some(&[0xDE, 0xAD, 0xBE, 0xEF]),
            subscription_identifiers: Seq::from_slice(&ids),
            topic_alias: Some(5),
            user_properties: Seq::from_slice(&users),
            ..Properties::EMPTY
        },
        payload: b"{\"t\":21.5}",
    });
    let (equal, n) = count_allocations(|| black_box(packet) == black_box(expected));
    assert_eq!(n, 0);
    assert!(equal);
}

#[test]
fn decoding_a_v311_publish_allocates_nothing() {
    #[rustfmt::skip]
    let wire: &[u8] = &[
        0x34, 0x0D, // PUBLISH QoS 2, remaining length 13
        0x00, 0x03, b'a', b'/', b'b', // topic
        0x00, 0x07, // packet identifier
        b'p', b'a', b'y', b'l', b'o', b'a', // payload
    ];
    let (result, n) =
        count_allocations(|| black_box(decode(black_box(wire), ProtocolVersion::V311)));
    assert_eq!(n, 0, "decoding allocated {n} times");
    let (Packet::Publish(p), used) = result.unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        (p.topic, p.packet_id, p.payload, used),
        ("a/b", 7, &b"payloa"[..], 15)
    );
    // A partial packet costs nothing either.
    let (partial, n) =
        count_allocations(|| black_box(decode(black_box(&wire[..9]), ProtocolVersion::V311)));
    assert_eq!((partial, n), (Ok(None), 0));
}

#[test]
fn decoding_other_packets_and_errors_allocates_nothing() {
    let v5 = Decoder::new(ProtocolVersion::V5);
    let inputs: &[&[u8]] = &[
        // v5 CONNECT with properties, will properties, user name and password.
        b"\x10\x2B\x00\x04MQTT\x05\xCE\x00\x0A\x0A\x11\x00\x00\x00\x0A\x26\x00\x00\x00\x00\x00\x03cid\x05\x18\x00\x00\x00\x01\x00\x01w\x00\x00\x00\x01u\x00\x01p",
        // v5 SUBSCRIBE with two filters and a subscription identifier.
        b"\x82\x12\x00\x01\x02\x0B\x07\x00\x03a/+\x01\x00\x04$SYS\x1E",
        // v5 SUBACK, UNSUBACK, PUBACK with reason string, DISCONNECT, AUTH, PINGREQ.
        b"\x90\x05\x00\x01\x00\x01\x80",
        b"\xB0\x05\x00\x01\x00\x00\x11",
        b"\x40\x09\x00\x01\x10\x05\x1F\x00\x02no",
        b"\xE0\x01\x04",
        b"\xF0\x01\x18",
        b"\xC0\x00",
        // Errors: reserved flags, bad UTF-8, unknown property, truncated, too large.
        b"\x41\x02\x00\x01",
        b"\x30\x05\x00\x03\xED\xA0\x80\x00",
        b"\x40\x05\x00\x01\x00\x01\x7F",
        b"\x30\x02\x00\x05",
        b"\x30\xFF\xFF\xFF\x7F",
    ];
    let limited = v5.with_max_packet_size(1_000);
    let (results, n) = count_allocations(|| {
        let mut ok = 0;
        let mut err = 0;
        for input in inputs {
            match black_box(limited.decode(black_box(input))) {
                Ok(Some(_)) => ok += 1,
                Ok(None) => {}
                Err(_) => err += 1,
            }
        }
        (ok, err)
    });
    assert_eq!(n, 0, "decoding allocated {n} times");
    assert_eq!(results, (8, 5));

    // Reading the decoded lists back.
    let (Packet::Subscribe(s), _) = v5.decode(inputs[1]).unwrap().unwrap() else {
        panic!()
    };
    let ((filters, ids), n) = count_allocations(|| {
        let filters: usize = s
            .subscriptions
            .iter()
            .map(|sub| black_box(sub.filter).len())
            .sum();
        (
            filters,
            s.properties.subscription_identifiers.iter().sum::<u32>(),
        )
    });
    assert_eq!((filters, ids, n), (7, 7, 0));
    let subs = [
        Subscription::new("a/+", QoS::AtLeastOnce),
        Subscription {
            filter: "$SYS",
            options: wasmqtt::codec::SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: wasmqtt::codec::RetainHandling::SendIfNew,
            },
        },
    ];
    assert_eq!(
        s,
        Subscribe {
            packet_id: 1,
            properties: Properties {
                subscription_identifiers: Seq::from_slice(&[7]),
                ..Properties::EMPTY
            },
            subscriptions: Seq::from_slice(&subs),
        }
    );
    let (Packet::SubAck(a), _) = v5.decode(inputs[2]).unwrap().unwrap() else {
        panic!()
    };
    let (codes, n) = count_allocations(|| a.reason_codes.iter().filter(|c| c.is_error()).count());
    assert_eq!((codes, n), (1, 0));
    assert_eq!(
        a,
        SubAck {
            packet_id: 1,
            properties: Properties::EMPTY,
            reason_codes: Seq::from_slice(&[ReasonCode::GRANTED_QOS_1, ReasonCode(0x80)]),
        }
    );
}

#[test]
fn encoding_into_a_buffer_with_room_allocates_nothing() {
    let wire = v5_publish();
    let (packet, _) = decode(&wire, ProtocolVersion::V5).unwrap().unwrap();
    let mut out = Vec::with_capacity(wire.len());
    let (written, n) = count_allocations(|| packet.encode(ProtocolVersion::V5, &mut out));
    assert_eq!(n, 0, "encoding allocated {n} times");
    assert_eq!(written, Ok(wire.len()));
    // The encoder writes properties in identifier order; the decoded packet is the same.
    assert_eq!(
        decode(&out, ProtocolVersion::V5).unwrap(),
        Some((packet, out.len()))
    );
}
