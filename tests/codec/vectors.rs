//! Byte-exact vectors for every MQTT control packet in both protocol versions.
//!
//! Every expected byte string is written by hand from the packet layouts of MQTT 3.1.1 (OASIS
//! Standard + Errata 01) and MQTT 5.0 (OASIS Standard), one commented field per line. Each
//! vector is checked both ways: encoding gives exactly these bytes, and decoding them gives
//! exactly the packet and uses exactly all the bytes (and no prefix decodes to anything).
//!
//! Statements are cited as `v5 MQTT-x.y.z-n` / `v3.1.1 MQTT-x.y.z-n`.

use wasmqtt::codec::{
    decode, read_var_int, var_int_len, Auth, ConnAck, Connect, Decoder, Disconnect, EncodeError,
    FixedHeader, Packet, PacketType, Properties, ProtocolVersion, PubResp, Publish, QoS,
    ReasonCode, RetainHandling, Seq, SubAck, Subscribe, Subscription, SubscriptionOptions,
    UnsubAck, Unsubscribe, Will, MAX_PACKET_SIZE, MAX_VAR_INT,
};

use ProtocolVersion::{V311, V5};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Concatenates the fields of a hand-written packet.
fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Decodes `bytes` as one whole packet and checks it is `expected`, using every byte; checks
/// that no strict prefix decodes (the decoder asks for more), and that bytes following the
/// packet are left alone.
fn check_decode(version: ProtocolVersion, bytes: &[u8], expected: &Packet<'_>) {
    let decoder = Decoder::new(version);
    let (packet, used) = decoder
        .decode(bytes)
        .unwrap_or_else(|e| panic!("decoding {bytes:02X?} at {version}: {e}"))
        .unwrap_or_else(|| panic!("{bytes:02X?} at {version} is incomplete"));
    assert_eq!(&packet, expected, "decoded packet of {bytes:02X?}");
    assert_eq!(used, bytes.len(), "bytes used decoding {bytes:02X?}");
    // The free function is the same decoder without a size limit.
    assert_eq!(decode(bytes, version).unwrap(), Some((packet, used)));

    for cut in 0..bytes.len() {
        assert_eq!(
            decoder.decode(&bytes[..cut]).unwrap(),
            None,
            "prefix of {cut} bytes of {bytes:02X?}"
        );
    }

    // A second packet (PINGREQ) right behind this one is not consumed.
    let mut two = bytes.to_vec();
    two.extend_from_slice(&[0xC0, 0x00]);
    let (again, used2) = decoder.decode(&two).unwrap().unwrap();
    assert_eq!(&again, expected);
    assert_eq!(used2, bytes.len());
    assert_eq!(
        decoder.decode(&two[used2..]).unwrap(),
        Some((Packet::PingReq, 2))
    );

    // The fixed header agrees with the layout.
    let h = FixedHeader::parse(bytes, version).unwrap().unwrap();
    assert_eq!(h.packet_type, expected.packet_type());
    assert_eq!(h.flags, bytes[0] & 0x0F);
    assert_eq!(h.packet_len(), bytes.len());
}

/// Encodes `packet` and checks it gives exactly `bytes`, then decodes them back.
fn check(version: ProtocolVersion, packet: Packet<'_>, bytes: &[u8]) {
    let mut out = Vec::new();
    let n = packet
        .encode(version, &mut out)
        .unwrap_or_else(|e| panic!("encoding {packet:?} at {version}: {e}"));
    assert_eq!(out, bytes, "encoding of {packet:?} at {version}");
    assert_eq!(n, bytes.len());
    assert_eq!(packet.encoded_len(version), Ok(bytes.len()));

    // Encoding appends; it does not clear what is already in the buffer.
    let mut appended = vec![0xAA, 0xBB];
    packet.encode(version, &mut appended).unwrap();
    assert_eq!(&appended[..2], &[0xAA, 0xBB]);
    assert_eq!(&appended[2..], bytes);

    // The exact limit is accepted, one byte less is not.
    let limit = bytes.len() as u32;
    let mut out = Vec::new();
    assert_eq!(
        packet.encode_limited(version, limit, &mut out),
        Ok(bytes.len())
    );
    assert_eq!(
        packet.encode_limited(version, limit - 1, &mut Vec::new()),
        Err(EncodeError::PacketTooLarge {
            size: bytes.len(),
            max: limit - 1
        })
    );
    // And the decoder accepts exactly as large a packet as its limit.
    let d = Decoder::new(version).with_max_packet_size(limit);
    assert_eq!(d.decode(bytes).unwrap().map(|(_, n)| n), Some(bytes.len()));

    check_decode(version, bytes, &packet);
}

/// A property block's user properties.
fn users<'a>(pairs: &'a [(&'a str, &'a str)]) -> Seq<'a, (&'a str, &'a str)> {
    Seq::from_slice(pairs)
}

// ---------------------------------------------------------------------------------------------
// Variable byte integers (v3.1.1 §2.2.3 Table 2.4, v5 §1.5.5 Table 1-1)
// ---------------------------------------------------------------------------------------------

/// The spec's table of the smallest and largest values of each encoded length.
const VAR_INT_TABLE: &[(u32, &[u8])] = &[
    (0, &[0x00]),
    (127, &[0x7F]),
    (128, &[0x80, 0x01]),
    (16_383, &[0xFF, 0x7F]),
    (16_384, &[0x80, 0x80, 0x01]),
    (2_097_151, &[0xFF, 0xFF, 0x7F]),
    (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
    (268_435_455, &[0xFF, 0xFF, 0xFF, 0x7F]),
];

// checks: v5 MQTT-1.5.5-1
#[test]
fn variable_byte_integer_table() {
    assert_eq!(MAX_VAR_INT, 268_435_455);
    for &(value, bytes) in VAR_INT_TABLE {
        assert_eq!(
            read_var_int(bytes),
            Ok(Some((value, bytes.len()))),
            "{value}"
        );
        assert_eq!(var_int_len(value), bytes.len(), "{value}");
        // Every prefix asks for more.
        for cut in 0..bytes.len() {
            assert_eq!(read_var_int(&bytes[..cut]), Ok(None));
        }
        // Bytes after it are not read.
        let mut more = bytes.to_vec();
        more.push(0x55);
        assert_eq!(read_var_int(&more), Ok(Some((value, bytes.len()))));
    }
    // A few more from §1.5.5's algorithm: 321 = 0xC1 0x02.
    assert_eq!(read_var_int(&[0xC1, 0x02]), Ok(Some((321, 2))));
}

/// A v3.1.1 QoS 0 PUBLISH to "t" whose remaining length is exactly `remaining` (≥ 3).
fn publish_of_remaining_len(remaining: usize) -> Vec<u8> {
    vec![0x5Au8; remaining - 3]
}

#[test]
fn remaining_length_examples_in_packets() {
    // PINGREQ: remaining length 0, one byte.
    check(V311, Packet::PingReq, &[0xC0, 0x00]);

    for &(value, len_bytes) in &VAR_INT_TABLE[1..7] {
        let payload = publish_of_remaining_len(value as usize);
        let packet = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "t",
            packet_id: 0,
            properties: Properties::EMPTY,
            payload: &payload,
        });
        #[rustfmt::skip]
        let bytes = cat(&[
            &[0x30],           // PUBLISH, QoS 0
            len_bytes,         // remaining length, as in the spec's table
            &[0x00, 0x01],     // topic length 1
            b"t",              // topic
            &payload,          // payload
        ]);
        let mut out = Vec::new();
        packet.encode(V311, &mut out).unwrap();
        assert!(out == bytes, "remaining length {value}");
        let (decoded, used) = decode(&bytes, V311).unwrap().unwrap();
        assert_eq!((decoded, used), (packet, bytes.len()));
        let h = FixedHeader::parse(&bytes, V311).unwrap().unwrap();
        assert_eq!(h.remaining_len, value as usize);
        assert_eq!(h.header_len, 1 + len_bytes.len());
    }
}

#[test]
fn largest_remaining_length() {
    // 268 435 455 (0xFF 0xFF 0xFF 0x7F): the fixed header alone is enough to know the size.
    let header = [0x30, 0xFF, 0xFF, 0xFF, 0x7F];
    let h = FixedHeader::parse(&header, V5).unwrap().unwrap();
    assert_eq!(h.remaining_len, 268_435_455);
    assert_eq!(h.header_len, 5);
    assert_eq!(h.packet_len(), MAX_PACKET_SIZE as usize);
    assert_eq!(MAX_PACKET_SIZE, 268_435_460);
    // Without a limit it is a legal size: the decoder waits for the body.
    assert_eq!(decode(&header, V5).unwrap(), None);
    assert_eq!(decode(&header, V311).unwrap(), None);

    // The encoder reaches the same limit: a QoS 0 PUBLISH to "t" with 268 435 452 payload bytes.
    // (The zeroed allocation is never touched: measuring does not read the payload.)
    let big = vec![0u8; 268_435_453];
    let at_limit = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtMostOnce,
        retain: false,
        topic: "t",
        packet_id: 0,
        properties: Properties::EMPTY,
        payload: &big[..268_435_452],
    });
    assert_eq!(at_limit.encoded_len(V311), Ok(268_435_460));
    let over = Packet::Publish(Publish {
        payload: &big,
        ..match at_limit {
            Packet::Publish(p) => p,
            _ => unreachable!(),
        }
    });
    assert!(matches!(
        over.encoded_len(V311),
        Err(EncodeError::PacketTooLarge {
            max: 268_435_460,
            ..
        })
    ));
}

// ---------------------------------------------------------------------------------------------
// CONNECT (v3.1.1 §3.1, v5 §3.1)
// ---------------------------------------------------------------------------------------------

// checks: v3.1.1 MQTT-2.2.2-1, v3.1.1 MQTT-3.1.2-9, v3.1.1 MQTT-3.1.2-14, v3.1.1 MQTT-3.1.2-19
// checks: v3.1.1 MQTT-3.1.2-21, v3.1.1 MQTT-3.1.3-1, v3.1.1 MQTT-3.1.3-3, v3.1.1 MQTT-3.1.3-4
// checks: v3.1.1 MQTT-3.1.3-10, v3.1.1 MQTT-3.1.3-11
#[test]
fn connect_v311_spec_example_with_will_user_password() {
    // The variable header is the example of v3.1.1 §3.1.2.10 (Figure 3.6): protocol name "MQTT",
    // level 4, flags 0xCE (user name, password, will QoS 1, will flag, clean session), keep
    // alive 10.
    let packet = Packet::Connect(Connect {
        protocol: V311,
        clean_start: true,
        keep_alive: 10,
        properties: Properties::EMPTY,
        client_id: "cid",
        will: Some(Will {
            topic: "w/t",
            payload: b"bye",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::EMPTY,
        }),
        username: Some("user"),
        password: Some(b"pass"),
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x10],                   // CONNECT, flags 0
        &[0x25],                   // remaining length 37 = 10 + 27
        &[0x00, 0x04],             // protocol name length
        b"MQTT",                   // protocol name
        &[0x04],                   // protocol level 4
        &[0b1100_1110],            // user, password, will retain 0, will QoS 01, will, clean, 0
        &[0x00, 0x0A],             // keep alive 10
        &[0x00, 0x03], b"cid",     // client identifier
        &[0x00, 0x03], b"w/t",     // will topic
        &[0x00, 0x03], b"bye",     // will message
        &[0x00, 0x04], b"user",    // user name
        &[0x00, 0x04], b"pass",    // password
    ]);
    check(V311, packet, &bytes);
    // The decoder answers CONNECT by its own protocol level, whatever the decoder's version.
    check_decode(V5, &bytes, &packet);
}

// checks: v3.1.1 MQTT-3.1.2-11, v3.1.1 MQTT-3.1.2-13, v3.1.1 MQTT-3.1.2-15
// checks: v3.1.1 MQTT-3.1.2-18, v3.1.1 MQTT-3.1.2-20, v3.1.1 MQTT-3.1.3-7
#[test]
fn connect_v311_minimal_and_user_name_only() {
    let minimal = Packet::Connect(Connect {
        protocol: V311,
        clean_start: true,
        keep_alive: 60,
        properties: Properties::EMPTY,
        client_id: "",
        will: None,
        username: None,
        password: None,
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x10, 0x0C],             // CONNECT, remaining length 12
        &[0x00, 0x04], b"MQTT",    // protocol name
        &[0x04],                   // level 4
        &[0b0000_0010],            // clean session
        &[0x00, 0x3C],             // keep alive 60
        &[0x00, 0x00],             // empty client identifier (v3.1.1 MQTT-3.1.3-7: clean)
    ]);
    check(V311, minimal, &bytes);

    let user_only = Packet::Connect(Connect {
        protocol: V311,
        clean_start: false,
        keep_alive: 0,
        properties: Properties::EMPTY,
        client_id: "c",
        will: Some(Will {
            topic: "w",
            payload: b"",
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Properties::EMPTY,
        }),
        username: Some("u"),
        password: None,
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x10, 0x15],             // CONNECT, remaining length 21 = 10 + 3 + 3 + 2 + 3
        &[0x00, 0x04], b"MQTT",    // protocol name
        &[0x04],                   // level 4
        &[0b1011_0100],            // user name, will retain, will QoS 2, will flag
        &[0x00, 0x00],             // keep alive 0
        &[0x00, 0x01], b"c",       // client identifier
        &[0x00, 0x01], b"w",       // will topic
        &[0x00, 0x00],             // empty will message
        &[0x00, 0x01], b"u",       // user name
    ]);
    check(V311, user_only, &bytes);
}

// checks: v5 MQTT-3.1.2-1, v5 MQTT-3.1.3-3
#[test]
fn connect_v5_spec_example() {
    // The variable header is the example of v5 §3.1.2.12 (Figure 3-6): flags 0xCE, keep alive
    // 10, properties length 5, Session Expiry Interval (17) = 10.
    let packet = Packet::Connect(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 10,
        properties: Properties {
            session_expiry_interval: Some(10),
            ..Properties::EMPTY
        },
        client_id: "cid",
        will: Some(Will {
            topic: "w/t",
            payload: b"bye",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: Properties::EMPTY,
        }),
        username: Some("user"),
        password: Some(b"pass"),
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x10],                           // CONNECT
        &[0x2C],                           // remaining length 44 = 16 + 28
        &[0x00, 0x04], b"MQTT",            // protocol name
        &[0x05],                           // protocol version 5
        &[0b1100_1110],                    // connect flags
        &[0x00, 0x0A],                     // keep alive 10
        &[0x05],                           // property length 5
        &[0x11, 0x00, 0x00, 0x00, 0x0A],   // session expiry interval 10
        &[0x00, 0x03], b"cid",             // client identifier
        &[0x00],                           // will property length 0
        &[0x00, 0x03], b"w/t",             // will topic
        &[0x00, 0x03], b"bye",             // will payload
        &[0x00, 0x04], b"user",            // user name
        &[0x00, 0x04], b"pass",            // password
    ]);
    check(V5, packet, &bytes);
    check_decode(V311, &bytes, &packet);
}

// checks: v5 MQTT-3.1.2-9, v5 MQTT-3.1.2-12, v5 MQTT-3.1.3-1, v5 MQTT-3.1.3-3
#[test]
fn connect_v5_every_property() {
    let connect_users = [("a", "1"), ("a", "2")];
    let will_users = [("x", "y")];
    let packet = Packet::Connect(Connect {
        protocol: V5,
        clean_start: false,
        keep_alive: 60,
        properties: Properties {
            session_expiry_interval: Some(3600),
            authentication_method: Some("SCRAM"),
            authentication_data: Some(&[1, 2, 3]),
            request_problem_information: Some(false),
            request_response_information: Some(true),
            receive_maximum: Some(20),
            topic_alias_maximum: Some(10),
            user_properties: users(&connect_users),
            maximum_packet_size: Some(1024),
            ..Properties::EMPTY
        },
        client_id: "client-1",
        will: Some(Will {
            topic: "dead/client-1",
            payload: b"gone",
            qos: QoS::ExactlyOnce,
            retain: true,
            properties: Properties {
                payload_format_indicator: Some(true),
                message_expiry_interval: Some(60),
                content_type: Some("text/plain"),
                response_topic: Some("resp/t"),
                correlation_data: Some(&[0xCA, 0xFE]),
                will_delay_interval: Some(5),
                user_properties: users(&will_users),
                ..Properties::EMPTY
            },
        }),
        username: Some("u"),
        password: Some(b"p\x00w"),
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x10],                                   // CONNECT
        &[0x91, 0x01],                             // remaining length 145 = 59 + 86
        // -- variable header (59)
        &[0x00, 0x04], b"MQTT",                    // protocol name
        &[0x05],                                   // version 5
        &[0b1111_0100],                            // user, password, will retain, QoS 2, will
        &[0x00, 0x3C],                             // keep alive 60
        &[0x30],                                   // property length 48
        &[0x11, 0x00, 0x00, 0x0E, 0x10],           // session expiry interval 3600
        &[0x15, 0x00, 0x05], b"SCRAM",             // authentication method
        &[0x16, 0x00, 0x03, 0x01, 0x02, 0x03],     // authentication data
        &[0x17, 0x00],                             // request problem information 0
        &[0x19, 0x01],                             // request response information 1
        &[0x21, 0x00, 0x14],                       // receive maximum 20
        &[0x22, 0x00, 0x0A],                       // topic alias maximum 10
        &[0x26, 0x00, 0x01], b"a", &[0x00, 0x01], b"1", // user property a=1
        &[0x26, 0x00, 0x01], b"a", &[0x00, 0x01], b"2", // user property a=2 (order kept)
        &[0x27, 0x00, 0x00, 0x04, 0x00],           // maximum packet size 1024
        // -- payload (86)
        &[0x00, 0x08], b"client-1",                // client identifier
        &[0x2E],                                   // will property length 46
        &[0x01, 0x01],                             // payload format indicator 1 (UTF-8)
        &[0x02, 0x00, 0x00, 0x00, 0x3C],           // message expiry interval 60
        &[0x03, 0x00, 0x0A], b"text/plain",        // content type
        &[0x08, 0x00, 0x06], b"resp/t",            // response topic
        &[0x09, 0x00, 0x02, 0xCA, 0xFE],           // correlation data
        &[0x18, 0x00, 0x00, 0x00, 0x05],           // will delay interval 5
        &[0x26, 0x00, 0x01], b"x", &[0x00, 0x01], b"y", // user property x=y
        &[0x00, 0x0D], b"dead/client-1",           // will topic
        &[0x00, 0x04], b"gone",                    // will payload
        &[0x00, 0x01], b"u",                       // user name
        &[0x00, 0x03], b"p\x00w",                  // password: binary data, NUL allowed
    ]);
    check(V5, packet, &bytes);
}

#[test]
fn connect_v5_password_without_user_name() {
    // MQTT 5.0 allows a password without a user name (v5 §3.1.2.9); 3.1.1 does not.
    let packet = Packet::Connect(Connect {
        protocol: V5,
        clean_start: true,
        keep_alive: 0,
        properties: Properties::EMPTY,
        client_id: "",
        will: None,
        username: None,
        password: Some(b"tok"),
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x10, 0x12],             // CONNECT, remaining length 18 = 11 + 2 + 5
        &[0x00, 0x04], b"MQTT",    // protocol name
        &[0x05],                   // version 5
        &[0b0100_0010],            // password, clean start
        &[0x00, 0x00],             // keep alive 0
        &[0x00],                   // no properties (v5 MQTT-2.2.2-1: property length 0)
        &[0x00, 0x00],             // empty client identifier
        &[0x00, 0x03], b"tok",     // password
    ]);
    check(V5, packet, &bytes);
}

// ---------------------------------------------------------------------------------------------
// CONNACK
// ---------------------------------------------------------------------------------------------

#[test]
fn connack_v311() {
    let ack = |session_present, code| {
        Packet::ConnAck(ConnAck {
            session_present,
            reason_code: ReasonCode(code),
            properties: Properties::EMPTY,
        })
    };
    // 0x20 0x02, acknowledge flags, return code.
    check(V311, ack(false, 0), &[0x20, 0x02, 0x00, 0x00]);
    check(V311, ack(true, 0), &[0x20, 0x02, 0x01, 0x00]);
    for code in 1..=5 {
        // 1 unacceptable protocol version … 5 not authorized
        check(V311, ack(false, code), &[0x20, 0x02, 0x00, code]);
    }
    let Packet::ConnAck(refused) = ack(false, 5) else {
        unreachable!()
    };
    assert!(!refused.is_accepted());
}

#[test]
fn connack_v5_short() {
    let ok = Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties::EMPTY,
    });
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0x20, 0x03, // CONNACK, remaining length 3
        0x01, // session present
        0x00, // success
        0x00, // property length 0
    ];
    check(V5, ok, bytes);
    let refused = Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ReasonCode::NOT_AUTHORIZED,
        properties: Properties::EMPTY,
    });
    check(V5, refused, &[0x20, 0x03, 0x00, 0x87, 0x00]);
}

#[test]
fn connack_v5_every_property() {
    let u = [("s", "t")];
    let packet = Packet::ConnAck(ConnAck {
        session_present: true,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties {
            session_expiry_interval: Some(120),
            assigned_client_identifier: Some("auto-1"),
            server_keep_alive: Some(30),
            authentication_method: Some("SCRAM"),
            authentication_data: Some(&[9]),
            response_information: Some("ri"),
            server_reference: Some("other:1883"),
            reason_string: Some("ok"),
            receive_maximum: Some(100),
            topic_alias_maximum: Some(5),
            maximum_qos: Some(QoS::AtLeastOnce),
            retain_available: Some(false),
            user_properties: users(&u),
            maximum_packet_size: Some(65_536),
            wildcard_subscription_available: Some(true),
            subscription_identifiers_available: Some(false),
            shared_subscription_available: Some(true),
            ..Properties::EMPTY
        },
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x20, 0x53],                         // CONNACK, remaining length 83
        &[0x01],                               // session present
        &[0x00],                               // success
        &[0x50],                               // property length 80
        &[0x11, 0x00, 0x00, 0x00, 0x78],       // session expiry interval 120
        &[0x12, 0x00, 0x06], b"auto-1",        // assigned client identifier
        &[0x13, 0x00, 0x1E],                   // server keep alive 30
        &[0x15, 0x00, 0x05], b"SCRAM",         // authentication method
        &[0x16, 0x00, 0x01, 0x09],             // authentication data
        &[0x1A, 0x00, 0x02], b"ri",            // response information
        &[0x1C, 0x00, 0x0A], b"other:1883",    // server reference
        &[0x1F, 0x00, 0x02], b"ok",            // reason string
        &[0x21, 0x00, 0x64],                   // receive maximum 100
        &[0x22, 0x00, 0x05],                   // topic alias maximum 5
        &[0x24, 0x01],                         // maximum QoS 1
        &[0x25, 0x00],                         // retain available 0
        &[0x26, 0x00, 0x01], b"s", &[0x00, 0x01], b"t", // user property
        &[0x27, 0x00, 0x01, 0x00, 0x00],       // maximum packet size 65536
        &[0x28, 0x01],                         // wildcard subscription available
        &[0x29, 0x00],                         // subscription identifiers not available
        &[0x2A, 0x01],                         // shared subscription available
    ]);
    check(V5, packet, &bytes);
}

#[test]
fn connack_v5_every_reason_code() {
    // v5 §3.2.2.2 Table 3-1 (v5 MQTT-3.2.2-8: "The Server sending the CONNACK packet MUST use
    // one of the Connect Reason Code values").
    for code in [
        0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95,
        0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F,
    ] {
        let p = Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode(code),
            properties: Properties::EMPTY,
        });
        check(V5, p, &[0x20, 0x03, 0x00, code, 0x00]);
    }
}

// ---------------------------------------------------------------------------------------------
// PUBLISH
// ---------------------------------------------------------------------------------------------

fn publish<'a>(
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &'a str,
    packet_id: u16,
    payload: &'a [u8],
) -> Publish<'a> {
    Publish {
        dup,
        qos,
        retain,
        topic,
        packet_id,
        properties: Properties::EMPTY,
        payload,
    }
}

// checks: v3.1.1 MQTT-2.3.1-5, v3.1.1 MQTT-3.3.2-1
#[test]
fn publish_v311_all_qos_and_flags() {
    // QoS 0: no packet identifier (v3.1.1 MQTT-2.3.1-5).
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x30, 0x0A],         // PUBLISH, QoS 0, remaining length 10
        &[0x00, 0x03], b"a/b", // topic name
        b"hello",              // payload
    ]);
    check(
        V311,
        Packet::Publish(publish(false, QoS::AtMostOnce, false, "a/b", 0, b"hello")),
        &bytes,
    );
    // QoS 0 retained.
    check(
        V311,
        Packet::Publish(publish(false, QoS::AtMostOnce, true, "a/b", 0, b"")),
        &cat(&[&[0x31, 0x05], &[0x00, 0x03], b"a/b"]),
    );
    // QoS 1, retain.
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x33, 0x08],         // PUBLISH, QoS 1, retain; remaining length 8
        &[0x00, 0x03], b"a/b", // topic name
        &[0x12, 0x34],         // packet identifier
        b"x",                  // payload
    ]);
    check(
        V311,
        Packet::Publish(publish(false, QoS::AtLeastOnce, true, "a/b", 0x1234, b"x")),
        &bytes,
    );
    // QoS 1, dup.
    check(
        V311,
        Packet::Publish(publish(true, QoS::AtLeastOnce, false, "a/b", 1, b"x")),
        &cat(&[&[0x3A, 0x08], &[0x00, 0x03], b"a/b", &[0x00, 0x01], b"x"]),
    );
    // QoS 2, dup, empty payload.
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x3C, 0x07],         // PUBLISH, dup, QoS 2; remaining length 7
        &[0x00, 0x03], b"a/b", // topic name
        &[0x00, 0x01],         // packet identifier
    ]);
    check(
        V311,
        Packet::Publish(publish(true, QoS::ExactlyOnce, false, "a/b", 1, b"")),
        &bytes,
    );
    // QoS 2, dup and retain, packet identifier 65535.
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x3D, 0x09],         // PUBLISH, dup, QoS 2, retain; remaining length 9
        &[0x00, 0x03], b"a/b", // topic name
        &[0xFF, 0xFF],         // packet identifier 65535
        &[0x00, 0xFF],         // payload
    ]);
    let p = publish(true, QoS::ExactlyOnce, true, "a/b", 0xFFFF, b"\x00\xFF");
    check(V311, Packet::Publish(p), &bytes);
}

#[test]
fn publish_spec_utf8_string_example() {
    // v5 §1.5.4 / v3.1.1 §1.5.3 Figure 1.1: the string "A𪛔" (U+0041, U+2A6D4) is encoded as
    // 0x00 0x05 0x41 0xF0 0xAA 0x9B 0x94.
    for v in [V311, V5] {
        let props: &[u8] = if v == V5 { &[0x00] } else { &[] };
        #[rustfmt::skip]
        let bytes = cat(&[
            &[0x30, 0x07 + props.len() as u8],            // PUBLISH QoS 0
            &[0x00, 0x05, 0x41, 0xF0, 0xAA, 0x9B, 0x94],  // topic "A𪛔"
            props,                                         // v5: property length 0
        ]);
        check(
            v,
            Packet::Publish(publish(false, QoS::AtMostOnce, false, "A\u{2A6D4}", 0, b"")),
            &bytes,
        );
    }
}

// checks: v3.1.1 MQTT-1.5.3-3, v5 MQTT-1.5.4-3
#[test]
fn publish_byte_order_mark_is_kept() {
    // v5 MQTT-1.5.4-3 / v3.1.1 MQTT-1.5.3-3: 0xEF 0xBB 0xBF "MUST NOT be skipped over or
    // stripped off by a packet receiver".
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x30, 0x06],                         // PUBLISH QoS 0, remaining length 6
        &[0x00, 0x04, 0xEF, 0xBB, 0xBF, b'a'], // topic U+FEFF 'a'
    ]);
    check(
        V311,
        Packet::Publish(publish(false, QoS::AtMostOnce, false, "\u{FEFF}a", 0, b"")),
        &bytes,
    );
}

// checks: v5 MQTT-2.2.1-2, v5 MQTT-2.2.2-1, v5 MQTT-3.3.2-1
#[test]
fn publish_v5_without_properties() {
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x30, 0x0B],         // PUBLISH, QoS 0, remaining length 11
        &[0x00, 0x03], b"a/b", // topic name
        &[0x00],               // property length 0
        b"hello",              // payload
    ]);
    check(
        V5,
        Packet::Publish(publish(false, QoS::AtMostOnce, false, "a/b", 0, b"hello")),
        &bytes,
    );
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x3C, 0x06],       // PUBLISH, dup, QoS 2, remaining length 6
        &[0x00, 0x01], b"t", // topic name
        &[0xFF, 0xFF],       // packet identifier
        &[0x00],             // property length 0
    ]);
    check(
        V5,
        Packet::Publish(publish(true, QoS::ExactlyOnce, false, "t", 0xFFFF, b"")),
        &bytes,
    );
}

#[test]
fn publish_v5_every_property() {
    let u = [("region", "eu"), ("region", "us")];
    let ids = [1, 200, 268_435_455];
    let packet = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: true,
        topic: "sensors/1/temp",
        packet_id: 7,
        properties: Properties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(3600),
            content_type: Some("application/json"),
            response_topic: Some("reply/1"),
            correlation_data: Some(&[1, 2, 3, 4]),
            subscription_identifiers: Seq::from_slice(&ids),
            topic_alias: Some(3),
            user_properties: users(&u),
            ..Properties::EMPTY
        },
        payload: b"{\"t\":21.5}",
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x33],                                   // PUBLISH, QoS 1, retain
        &[0x6F],                                   // remaining length 111 = 16 + 2 + 83 + 10
        &[0x00, 0x0E], b"sensors/1/temp",          // topic name
        &[0x00, 0x07],                             // packet identifier 7
        &[0x52],                                   // property length 82
        &[0x01, 0x01],                             // payload format indicator: UTF-8
        &[0x02, 0x00, 0x00, 0x0E, 0x10],           // message expiry interval 3600
        &[0x03, 0x00, 0x10], b"application/json",  // content type
        &[0x08, 0x00, 0x07], b"reply/1",           // response topic
        &[0x09, 0x00, 0x04, 0x01, 0x02, 0x03, 0x04], // correlation data
        &[0x0B, 0x01],                             // subscription identifier 1
        &[0x0B, 0xC8, 0x01],                       // subscription identifier 200
        &[0x0B, 0xFF, 0xFF, 0xFF, 0x7F],           // subscription identifier 268 435 455
        &[0x23, 0x00, 0x03],                       // topic alias 3
        &[0x26, 0x00, 0x06], b"region", &[0x00, 0x02], b"eu", // user property
        &[0x26, 0x00, 0x06], b"region", &[0x00, 0x02], b"us", // user property, same key
        b"{\"t\":21.5}",                           // payload
    ]);
    check(V5, packet, &bytes);

    // The decoded lists read back in wire order.
    let (Packet::Publish(p), _) = decode(&bytes, V5).unwrap().unwrap() else {
        panic!()
    };
    assert_eq!(
        p.properties
            .subscription_identifiers
            .iter()
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(p.properties.subscription_identifiers.len(), 3);
    assert_eq!(p.properties.user_properties.iter().collect::<Vec<_>>(), u);
    assert_eq!(p.properties.user_properties.len(), 2);
}

#[test]
fn publish_v5_properties_in_any_order_decode_the_same() {
    // The specification does not order properties; user properties and subscription
    // identifiers interleaved with others keep their relative order.
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x32, 0x1C],                             // PUBLISH QoS 1, remaining length 28
        &[0x00, 0x01], b"t",                       // topic
        &[0x00, 0x09],                             // packet identifier 9
        &[0x15],                                   // property length 21
        &[0x26, 0x00, 0x01], b"b", &[0x00, 0x01], b"2", // user property b=2
        &[0x0B, 0x05],                             // subscription identifier 5
        &[0x23, 0x00, 0x01],                       // topic alias 1
        &[0x26, 0x00, 0x01], b"a", &[0x00, 0x01], b"1", // user property a=1
        &[0x0B, 0x04],                             // subscription identifier 4
        b"p",                                      // payload
    ]);
    let u = [("b", "2"), ("a", "1")];
    let ids = [5, 4];
    let expected = Packet::Publish(Publish {
        dup: false,
        qos: QoS::AtLeastOnce,
        retain: false,
        topic: "t",
        packet_id: 9,
        properties: Properties {
            subscription_identifiers: Seq::from_slice(&ids),
            topic_alias: Some(1),
            user_properties: users(&u),
            ..Properties::EMPTY
        },
        payload: b"p",
    });
    check_decode(V5, &bytes, &expected);
    // Re-encoding writes the canonical order (by identifier), same length.
    let mut out = Vec::new();
    expected.encode(V5, &mut out).unwrap();
    assert_eq!(out.len(), bytes.len());
    assert_eq!(decode(&out, V5).unwrap(), Some((expected, out.len())));
}

#[test]
fn publish_v5_topic_alias_with_empty_topic() {
    // v5 §3.3.2.1: the Topic Name may be zero length when a Topic Alias is used.
    let packet = Packet::Publish(Publish {
        properties: Properties {
            topic_alias: Some(3),
            ..Properties::EMPTY
        },
        ..publish(false, QoS::AtMostOnce, false, "", 0, b"z")
    });
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0x30, 0x07, // PUBLISH QoS 0, remaining length 7
        0x00, 0x00, // empty topic name
        0x03, // property length 3
        0x23, 0x00, 0x03, // topic alias 3
        b'z', // payload
    ];
    check(V5, packet, bytes);
    let packet = Packet::Publish(Publish {
        properties: Properties {
            topic_alias: Some(0xFFFF),
            ..Properties::EMPTY
        },
        ..publish(false, QoS::ExactlyOnce, true, "", 0x0102, b"")
    });
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0x35, 0x08, // PUBLISH QoS 2 retain, remaining length 8
        0x00, 0x00, // empty topic name
        0x01, 0x02, // packet identifier
        0x03, // property length 3
        0x23, 0xFF, 0xFF, // topic alias 65535
    ];
    check(V5, packet, bytes);
}

// ---------------------------------------------------------------------------------------------
// PUBACK, PUBREC, PUBREL, PUBCOMP
// ---------------------------------------------------------------------------------------------

/// The first byte of PUBACK, PUBREC, PUBREL (fixed header flags 0010, v5 and v3.1.1
/// MQTT-3.6.1-1) and PUBCOMP.
const PUB_RESPS: [u8; 4] = [0x40, 0x50, 0x62, 0x70];

/// The packet of the kind whose first byte is `first`.
fn pub_resp(first: u8, r: PubResp<'_>) -> Packet<'_> {
    match first {
        0x40 => Packet::PubAck(r),
        0x50 => Packet::PubRec(r),
        0x62 => Packet::PubRel(r),
        0x70 => Packet::PubComp(r),
        _ => unreachable!(),
    }
}

// checks: v3.1.1 MQTT-2.2.2-1, v3.1.1 MQTT-3.6.1-1
#[test]
fn pub_responses_v311() {
    for first in PUB_RESPS {
        check(
            V311,
            pub_resp(first, PubResp::new(0x1234)),
            &[first, 0x02, 0x12, 0x34], // fixed header, remaining length 2, packet identifier
        );
    }
}

// checks: v5 MQTT-2.1.3-1, v5 MQTT-3.6.1-1
#[test]
fn pub_responses_v5_short_forms() {
    for first in PUB_RESPS {
        // Remaining length 2: success without properties (v5 §3.4.2.1).
        check(
            V5,
            pub_resp(first, PubResp::new(1)),
            &[first, 0x02, 0x00, 0x01],
        );
        // Decode-only long forms of the same packet: reason code 0 (remaining length 3) and
        // reason code 0 with property length 0 (remaining length 4).
        check_decode(
            V5,
            &[first, 0x03, 0x00, 0x01, 0x00],
            &pub_resp(first, PubResp::new(1)),
        );
        check_decode(
            V5,
            &[first, 0x04, 0x00, 0x01, 0x00, 0x00],
            &pub_resp(first, PubResp::new(1)),
        );
    }
    // Remaining length 3: a reason code without properties.
    let with_code = |id, code| PubResp {
        packet_id: id,
        reason_code: ReasonCode(code),
        properties: Properties::EMPTY,
    };
    check(
        V5,
        Packet::PubAck(with_code(0x1234, 0x10)),
        &[0x40, 0x03, 0x12, 0x34, 0x10], // no matching subscribers
    );
    check(
        V5,
        Packet::PubRec(with_code(2, 0x80)),
        &[0x50, 0x03, 0x00, 0x02, 0x80], // unspecified error
    );
    check(
        V5,
        Packet::PubRel(with_code(3, 0x92)),
        &[0x62, 0x03, 0x00, 0x03, 0x92], // packet identifier not found
    );
    check(
        V5,
        Packet::PubComp(with_code(4, 0x92)),
        &[0x70, 0x03, 0x00, 0x04, 0x92],
    );
    // Remaining length 3 with a reason code and property length 0 decodes the same.
    check_decode(
        V5,
        &[0x40, 0x04, 0x12, 0x34, 0x10, 0x00],
        &Packet::PubAck(with_code(0x1234, 0x10)),
    );
}

#[test]
fn pub_responses_v5_with_reason_string_and_user_properties() {
    let quota = Packet::PubAck(PubResp {
        packet_id: 7,
        reason_code: ReasonCode::QUOTA_EXCEEDED,
        properties: Properties {
            reason_string: Some("busy"),
            ..Properties::EMPTY
        },
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x40, 0x0B],             // PUBACK, remaining length 11
        &[0x00, 0x07],             // packet identifier 7
        &[0x97],                   // quota exceeded
        &[0x07],                   // property length 7
        &[0x1F, 0x00, 0x04], b"busy", // reason string
    ]);
    check(V5, quota, &bytes);
    // Success with properties: the reason code must then be written (v5 §3.4.2.1).
    let u = [("k", "v")];
    for first in PUB_RESPS {
        let p = pub_resp(
            first,
            PubResp {
                packet_id: 0x0102,
                reason_code: ReasonCode::SUCCESS,
                properties: Properties {
                    reason_string: Some("r"),
                    user_properties: users(&u),
                    ..Properties::EMPTY
                },
            },
        );
        #[rustfmt::skip]
        let bytes = cat(&[
            &[first, 0x0F],                    // remaining length 15
            &[0x01, 0x02],                     // packet identifier
            &[0x00],                           // success
            &[0x0B],                           // property length 11
            &[0x1F, 0x00, 0x01], b"r",         // reason string
            &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // user property
        ]);
        check(V5, p, &bytes);
    }
}

#[test]
fn pub_response_v5_every_reason_code() {
    // v5 §3.4.2.1 / §3.5.2.1 / §3.6.2.1 / §3.7.2.1.
    let puback = [0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99];
    let pubrel = [0x00, 0x92];
    for first in PUB_RESPS {
        let codes: &[u8] = if first == 0x40 || first == 0x50 {
            &puback
        } else {
            &pubrel
        };
        for &code in codes {
            let p = pub_resp(
                first,
                PubResp {
                    packet_id: 1,
                    reason_code: ReasonCode(code),
                    properties: Properties::EMPTY,
                },
            );
            let bytes: &[u8] = if code == 0 {
                &[first, 0x02, 0x00, 0x01]
            } else {
                &[first, 0x03, 0x00, 0x01, code]
            };
            check(V5, p, bytes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE / SUBACK
// ---------------------------------------------------------------------------------------------

// checks: v3.1.1 MQTT-3.8.1-1, v3.1.1 MQTT-3.8.3-1
#[test]
fn subscribe_v311() {
    let subs = [
        Subscription::new("a/+", QoS::AtLeastOnce),
        Subscription::new("b/#", QoS::ExactlyOnce),
        Subscription::new("c", QoS::AtMostOnce),
    ];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x82, 0x12],             // SUBSCRIBE (flags 0010), remaining length 18
        &[0x00, 0x0A],             // packet identifier 10
        &[0x00, 0x03], b"a/+", &[0x01], // filter, requested QoS 1
        &[0x00, 0x03], b"b/#", &[0x02], // filter, requested QoS 2
        &[0x00, 0x01], b"c", &[0x00],   // filter, requested QoS 0
    ]);
    check(
        V311,
        Packet::Subscribe(Subscribe {
            packet_id: 10,
            properties: Properties::EMPTY,
            subscriptions: Seq::from_slice(&subs),
        }),
        &bytes,
    );
}

#[test]
fn subscribe_v5_options_and_identifier() {
    let subs = [
        Subscription {
            filter: "a/b",
            options: SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        },
        Subscription {
            filter: "$share/g/c/#",
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: false, // v5 MQTT-3.8.3-4: No Local is a Protocol Error when shared
                retain_as_published: true,
                retain_handling: RetainHandling::SendIfNew,
            },
        },
        Subscription::new("d", QoS::AtMostOnce),
    ];
    let ids = [16_384];
    let u = [("k", "v")];
    let packet = Packet::Subscribe(Subscribe {
        packet_id: 0x0102,
        properties: Properties {
            subscription_identifiers: Seq::from_slice(&ids),
            user_properties: users(&u),
            ..Properties::EMPTY
        },
        subscriptions: Seq::from_slice(&subs),
    });
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x82, 0x27],                     // SUBSCRIBE, remaining length 39
        &[0x01, 0x02],                     // packet identifier
        &[0x0B],                           // property length 11
        &[0x0B, 0x80, 0x80, 0x01],         // subscription identifier 16384
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // user property
        &[0x00, 0x03], b"a/b",             // topic filter
        &[0b0010_1101],                    // retain handling 2, RAP, no local, QoS 1
        &[0x00, 0x0C], b"$share/g/c/#",    // shared subscription
        &[0b0001_1010],                    // retain handling 1, RAP, QoS 2
        &[0x00, 0x01], b"d",               // topic filter
        &[0b0000_0000],                    // QoS 0, all options off
    ]);
    check(V5, packet, &bytes);
    // Each options byte reads back into its fields.
    for s in subs {
        let b = s.options.to_byte();
        assert_eq!(b >> 6, 0, "reserved bits");
    }
}

// checks: v5 MQTT-3.8.1-1, v5 MQTT-3.8.3-5
#[test]
fn subscribe_v5_every_option_combination() {
    // Every valid options byte: QoS 0..2, no local, RAP, retain handling 0..2.
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        for no_local in [false, true] {
            for rap in [false, true] {
                for rh in [
                    RetainHandling::SendAtSubscribe,
                    RetainHandling::SendIfNew,
                    RetainHandling::DoNotSend,
                ] {
                    let options = SubscriptionOptions {
                        qos,
                        no_local,
                        retain_as_published: rap,
                        retain_handling: rh,
                    };
                    let byte =
                        qos as u8 | (no_local as u8) << 2 | (rap as u8) << 3 | (rh as u8) << 4;
                    assert_eq!(options.to_byte(), byte);
                    let subs = [Subscription {
                        filter: "x",
                        options,
                    }];
                    check(
                        V5,
                        Packet::Subscribe(Subscribe {
                            packet_id: 1,
                            properties: Properties::EMPTY,
                            subscriptions: Seq::from_slice(&subs),
                        }),
                        &[0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'x', byte],
                    );
                }
            }
        }
    }
}

// checks: v3.1.1 MQTT-3.9.3-2
#[test]
fn suback_v311() {
    let codes = [
        ReasonCode(0x00),
        ReasonCode(0x01),
        ReasonCode(0x02),
        ReasonCode(0x80),
    ];
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0x90, 0x06, // SUBACK, remaining length 6
        0x00, 0x0A, // packet identifier 10
        0x00, 0x01, 0x02, 0x80, // return codes (v3.1.1 MQTT-3.9.3-2)
    ];
    check(
        V311,
        Packet::SubAck(SubAck {
            packet_id: 10,
            properties: Properties::EMPTY,
            reason_codes: Seq::from_slice(&codes),
        }),
        bytes,
    );
}

#[test]
fn suback_v5() {
    let all = [
        0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2,
    ]
    .map(ReasonCode);
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x90, 0x0F],     // SUBACK, remaining length 15
        &[0x01, 0x02],     // packet identifier
        &[0x00],           // property length 0
        &[0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2], // codes
    ]);
    check(
        V5,
        Packet::SubAck(SubAck {
            packet_id: 0x0102,
            properties: Properties::EMPTY,
            reason_codes: Seq::from_slice(&all),
        }),
        &bytes,
    );
    let one = [ReasonCode::GRANTED_QOS_1];
    let u = [("k", "v")];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0x90, 0x10],                 // SUBACK, remaining length 16
        &[0x00, 0x01],                 // packet identifier
        &[0x0C],                       // property length 12
        &[0x1F, 0x00, 0x02], b"no",    // reason string
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // user property
        &[0x01],                       // granted QoS 1
    ]);
    check(
        V5,
        Packet::SubAck(SubAck {
            packet_id: 1,
            properties: Properties {
                reason_string: Some("no"),
                user_properties: users(&u),
                ..Properties::EMPTY
            },
            reason_codes: Seq::from_slice(&one),
        }),
        &bytes,
    );
}

// ---------------------------------------------------------------------------------------------
// UNSUBSCRIBE / UNSUBACK
// ---------------------------------------------------------------------------------------------

// checks: v3.1.1 MQTT-3.10.1-1, v3.1.1 MQTT-3.10.3-1
#[test]
fn unsubscribe_v311() {
    let filters = ["a/+", "#"];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xA2, 0x0A],             // UNSUBSCRIBE (flags 0010), remaining length 10
        &[0x00, 0x0B],             // packet identifier 11
        &[0x00, 0x03], b"a/+",     // topic filter
        &[0x00, 0x01], b"#",       // topic filter
    ]);
    check(
        V311,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            properties: Properties::EMPTY,
            filters: Seq::from_slice(&filters),
        }),
        &bytes,
    );
}

// checks: v5 MQTT-3.10.1-1, v5 MQTT-3.10.3-1
#[test]
fn unsubscribe_v5() {
    let filters = ["a/+", "$share/g/x"];
    let u = [("k", "v")];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xA2, 0x1B],                 // UNSUBSCRIBE, remaining length 27 = 2 + 8 + 5 + 12
        &[0x00, 0x0B],                 // packet identifier
        &[0x07],                       // property length 7
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // user property
        &[0x00, 0x03], b"a/+",         // topic filter
        &[0x00, 0x0A], b"$share/g/x",  // topic filter
    ]);
    check(
        V5,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 11,
            properties: Properties {
                user_properties: users(&u),
                ..Properties::EMPTY
            },
            filters: Seq::from_slice(&filters),
        }),
        &bytes,
    );
}

#[test]
fn unsuback_v311_has_no_payload() {
    check(
        V311,
        Packet::UnsubAck(UnsubAck {
            packet_id: 11,
            properties: Properties::EMPTY,
            reason_codes: Seq::empty(),
        }),
        &[0xB0, 0x02, 0x00, 0x0B], // UNSUBACK, remaining length 2, packet identifier
    );
}

#[test]
fn unsuback_v5_reason_codes() {
    let codes = [0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91].map(ReasonCode);
    #[rustfmt::skip]
    let bytes: &[u8] = &[
        0xB0, 0x0A, // UNSUBACK, remaining length 10
        0x00, 0x0B, // packet identifier
        0x00, // property length 0
        0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91, // reason codes
    ];
    check(
        V5,
        Packet::UnsubAck(UnsubAck {
            packet_id: 11,
            properties: Properties::EMPTY,
            reason_codes: Seq::from_slice(&codes),
        }),
        bytes,
    );
    let one = [ReasonCode::NO_SUBSCRIPTION_EXISTED];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xB0, 0x0B],                 // UNSUBACK, remaining length 11
        &[0x00, 0x01],                 // packet identifier
        &[0x07],                       // property length 7
        &[0x1F, 0x00, 0x04], b"gone",  // reason string
        &[0x11],                       // no subscription existed
    ]);
    check(
        V5,
        Packet::UnsubAck(UnsubAck {
            packet_id: 1,
            properties: Properties {
                reason_string: Some("gone"),
                ..Properties::EMPTY
            },
            reason_codes: Seq::from_slice(&one),
        }),
        &bytes,
    );
}

// ---------------------------------------------------------------------------------------------
// PINGREQ, PINGRESP
// ---------------------------------------------------------------------------------------------

#[test]
fn ping() {
    for v in [V311, V5] {
        check(v, Packet::PingReq, &[0xC0, 0x00]);
        check(v, Packet::PingResp, &[0xD0, 0x00]);
    }
}

// ---------------------------------------------------------------------------------------------
// DISCONNECT
// ---------------------------------------------------------------------------------------------

#[test]
fn disconnect_v311_is_empty() {
    check(
        V311,
        Packet::Disconnect(Disconnect::default()),
        &[0xE0, 0x00],
    );
}

#[test]
fn disconnect_v5_forms() {
    // Remaining length 0: normal disconnection, no properties (v5 §3.14.2.1).
    check(V5, Packet::Disconnect(Disconnect::default()), &[0xE0, 0x00]);
    // One byte: a reason code only.
    check(
        V5,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
            properties: Properties::EMPTY,
        }),
        &[0xE0, 0x01, 0x04],
    );
    // Decode-only: explicit normal disconnection, with and without property length 0.
    check_decode(
        V5,
        &[0xE0, 0x01, 0x00],
        &Packet::Disconnect(Disconnect::default()),
    );
    check_decode(
        V5,
        &[0xE0, 0x02, 0x00, 0x00],
        &Packet::Disconnect(Disconnect::default()),
    );
    // With properties.
    let u = [("k", "v")];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xE0, 0x14],                     // DISCONNECT, remaining length 20
        &[0x04],                           // disconnect with will message
        &[0x12],                           // property length 18
        &[0x11, 0x00, 0x00, 0x00, 0x00],   // session expiry interval 0
        &[0x1F, 0x00, 0x03], b"bye",       // reason string
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // user property
    ]);
    check(
        V5,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
            properties: Properties {
                session_expiry_interval: Some(0),
                reason_string: Some("bye"),
                user_properties: users(&u),
                ..Properties::EMPTY
            },
        }),
        &bytes,
    );
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xE0, 0x0B],                 // DISCONNECT, remaining length 11
        &[0x9C],                       // use another server
        &[0x09],                       // property length 9
        &[0x1C, 0x00, 0x06], b"b:1883", // server reference
    ]);
    check(
        V5,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::USE_ANOTHER_SERVER,
            properties: Properties {
                server_reference: Some("b:1883"),
                ..Properties::EMPTY
            },
        }),
        &bytes,
    );
    // Success with properties still carries its reason code byte.
    check(
        V5,
        Packet::Disconnect(Disconnect {
            reason_code: ReasonCode::NORMAL_DISCONNECTION,
            properties: Properties {
                reason_string: Some("x"),
                ..Properties::EMPTY
            },
        }),
        &[0xE0, 0x06, 0x00, 0x04, 0x1F, 0x00, 0x01, b'x'],
    );
}

// checks: v5 MQTT-3.14.2-1
#[test]
fn disconnect_v5_every_reason_code() {
    // v5 §3.14.2.1 Table 3-10.
    for code in [
        0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
        0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2,
    ] {
        let p = Packet::Disconnect(Disconnect {
            reason_code: ReasonCode(code),
            properties: Properties::EMPTY,
        });
        let bytes: &[u8] = if code == 0 {
            &[0xE0, 0x00]
        } else {
            &[0xE0, 0x01, code]
        };
        check(V5, p, bytes);
    }
}

// ---------------------------------------------------------------------------------------------
// AUTH (MQTT 5.0 only)
// ---------------------------------------------------------------------------------------------

// checks: v5 MQTT-3.15.1-1, v5 MQTT-3.15.2-1
#[test]
fn auth_v5() {
    // Remaining length 0: success without properties (v5 §3.15.2.1).
    check(V5, Packet::Auth(Auth::default()), &[0xF0, 0x00]);
    check_decode(V5, &[0xF0, 0x01, 0x00], &Packet::Auth(Auth::default()));
    check_decode(
        V5,
        &[0xF0, 0x02, 0x00, 0x00],
        &Packet::Auth(Auth::default()),
    );

    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xF0, 0x13],                     // AUTH, remaining length 19
        &[0x18],                           // continue authentication
        &[0x11],                           // property length 17
        &[0x15, 0x00, 0x05], b"SCRAM",     // authentication method
        &[0x16, 0x00, 0x02, 0xAA, 0xBB],   // authentication data
        &[0x1F, 0x00, 0x01], b"c",         // reason string
    ]);
    check(
        V5,
        Packet::Auth(Auth {
            reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: Properties {
                authentication_method: Some("SCRAM"),
                authentication_data: Some(&[0xAA, 0xBB]),
                reason_string: Some("c"),
                ..Properties::EMPTY
            },
        }),
        &bytes,
    );
    let u = [("k", "v")];
    #[rustfmt::skip]
    let bytes = cat(&[
        &[0xF0, 0x0D],                 // AUTH, remaining length 13
        &[0x19],                       // re-authenticate
        &[0x0B],                       // property length 11
        &[0x15, 0x00, 0x01], b"M",     // authentication method
        &[0x26, 0x00, 0x01], b"k", &[0x00, 0x01], b"v", // user property
    ]);
    check(
        V5,
        Packet::Auth(Auth {
            reason_code: ReasonCode::RE_AUTHENTICATE,
            properties: Properties {
                authentication_method: Some("M"),
                user_properties: users(&u),
                ..Properties::EMPTY
            },
        }),
        &bytes,
    );
    // A reason code alone (remaining length 1).
    check(
        V5,
        Packet::Auth(Auth {
            reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
            properties: Properties::EMPTY,
        }),
        &[0xF0, 0x01, 0x18],
    );
}

// ---------------------------------------------------------------------------------------------
// Streams of packets
// ---------------------------------------------------------------------------------------------

#[test]
fn back_to_back_packets_decode_one_at_a_time() {
    let mut wire = Vec::new();
    let packets = [
        Packet::PingReq,
        Packet::Publish(publish(false, QoS::AtLeastOnce, false, "a", 1, b"one")),
        Packet::PubAck(PubResp::new(1)),
        Packet::Disconnect(Disconnect::default()),
    ];
    for p in &packets {
        p.encode(V5, &mut wire).unwrap();
    }
    let d = Decoder::new(V5);
    let mut at = 0;
    for p in &packets {
        let (got, used) = d.decode(&wire[at..]).unwrap().unwrap();
        assert_eq!(&got, p);
        at += used;
    }
    assert_eq!(at, wire.len());
    assert_eq!(d.decode(&wire[at..]).unwrap(), None);
}

#[test]
fn packet_type_of_every_packet() {
    assert_eq!(Packet::PingReq.packet_type(), PacketType::PingReq);
    assert_eq!(Packet::PingResp.packet_type(), PacketType::PingResp);
    assert_eq!(
        Packet::Auth(Auth::default()).packet_type(),
        PacketType::Auth
    );
    for n in 1..=15u8 {
        let t = PacketType::from_nibble(n).unwrap();
        assert_eq!(t as u8, n);
    }
    assert_eq!(PacketType::from_nibble(0), None);
}
