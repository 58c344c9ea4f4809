//! The wasmqtt core at work, with no broker and no network.
//!
//! A client's MQTT 5.0 CONNECT, SUBSCRIBE and PUBLISH are encoded, then delivered to a streaming
//! [`Decoder`] in small chunks, as a TCP socket or WebSocket would deliver them. The broker's
//! answers go the same way. Then topic filters are matched against topic names.
//!
//! Run it with `cargo run --example demo`.

use wasmqtt::codec::{
    ConnAck, Connect, DecodeError, Decoder, Packet, Properties, ProtocolVersion, PubResp, Publish,
    QoS, ReasonCode, RetainHandling, Seq, SubAck, Subscribe, Subscription, SubscriptionOptions,
    Will,
};
use wasmqtt::topic::{matches, parse_shared, validate_topic_filter, validate_topic_name};

const V5: ProtocolVersion = ProtocolVersion::V5;
/// Bytes per delivery: a packet usually arrives in several pieces, and a piece may hold the end
/// of one packet and the start of the next.
const CHUNK: usize = 7;

fn main() {
    println!("wasmqtt demo: the sans-I/O core with no broker and no network");

    // ---- client -> broker -------------------------------------------------------------------
    let user_properties = [("app", "demo")];
    let subscriptions = [
        Subscription::new("sensors/+/temperature", QoS::AtLeastOnce),
        Subscription {
            filter: "$share/dashboards/alerts/#",
            options: SubscriptionOptions {
                qos: QoS::ExactlyOnce,
                no_local: false,
                retain_as_published: true,
                retain_handling: RetainHandling::DoNotSend,
            },
        },
    ];
    let client_packets = [
        Packet::Connect(Connect {
            protocol: V5,
            clean_start: true,
            keep_alive: 30,
            properties: Properties {
                session_expiry_interval: Some(3600),
                receive_maximum: Some(32),
                user_properties: Seq::from(&user_properties),
                ..Properties::EMPTY
            },
            client_id: "wasmqtt-demo",
            will: Some(Will {
                topic: "clients/wasmqtt-demo/status",
                payload: b"offline",
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: Properties {
                    will_delay_interval: Some(5),
                    ..Properties::EMPTY
                },
            }),
            username: Some("demo"),
            password: Some(b"secret"),
        }),
        Packet::Subscribe(Subscribe {
            packet_id: 1,
            properties: Properties::EMPTY,
            subscriptions: Seq::from(&subscriptions),
        }),
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "sensors/kitchen/temperature",
            packet_id: 2,
            properties: Properties {
                content_type: Some("text/plain"),
                message_expiry_interval: Some(60),
                ..Properties::EMPTY
            },
            payload: b"21.5",
        }),
    ];
    let outgoing = encode_all("client -> broker", &client_packets);
    deliver_in_chunks("broker side decodes", &outgoing);

    // ---- broker -> client -------------------------------------------------------------------
    let granted = [ReasonCode::GRANTED_QOS_1, ReasonCode::GRANTED_QOS_2];
    let broker_packets = [
        Packet::ConnAck(ConnAck {
            session_present: false,
            reason_code: ReasonCode::SUCCESS,
            properties: Properties {
                topic_alias_maximum: Some(10),
                maximum_packet_size: Some(1 << 20),
                ..Properties::EMPTY
            },
        }),
        Packet::SubAck(SubAck {
            packet_id: 1,
            properties: Properties::EMPTY,
            reason_codes: Seq::from(&granted),
        }),
        Packet::PubAck(PubResp::new(2)),
        // The broker forwards the message to us, since we subscribed to sensors/+/temperature.
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "sensors/kitchen/temperature",
            packet_id: 1,
            properties: Properties {
                content_type: Some("text/plain"),
                subscription_identifiers: Seq::from(&[7]),
                ..Properties::EMPTY
            },
            payload: b"21.5",
        }),
        Packet::PingResp,
    ];
    let incoming = encode_all("broker -> client", &broker_packets);
    deliver_in_chunks("client side decodes", &incoming);

    // ---- hostile input ----------------------------------------------------------------------
    section("malformed and oversized input gives typed errors, never a panic");
    let bad_inputs: [(&str, &[u8]); 3] = [
        ("reserved packet type 0", &[0x00, 0x00]),
        ("PUBLISH with QoS 3", &[0x36, 0x00]),
        (
            "remaining length with a 5th byte",
            &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        ),
    ];
    for (what, bytes) in bad_inputs {
        show_result(what, Decoder::new(V5).decode(bytes));
    }
    let small = Decoder::new(V5).with_max_packet_size(16);
    show_result(
        "a 1 KiB PUBLISH header against a 16-byte maximum",
        small.decode(&[0x30, 0x80, 0x08]),
    );

    // ---- topics -----------------------------------------------------------------------------
    section("topic matching");
    let filters = [
        "sensors/+/temperature",
        "sensors/#",
        "#",
        "+/+/+",
        "$share/dashboards/sensors/+/temperature",
        "$SYS/#",
    ];
    let names = [
        "sensors/kitchen/temperature",
        "sensors/kitchen/humidity",
        "sensors",
        "$SYS/broker/uptime",
    ];
    let width = filters.iter().map(|f| f.len()).max().unwrap_or(0);
    let mut header = format!("{:<width$}", "filter \\ name");
    for name in names {
        header.push_str(&format!("  {name}"));
    }
    println!("{header}");
    for filter in filters {
        validate_topic_filter(filter).expect("the demo's filters are valid");
        let mut row = format!("{filter:<width$}");
        for name in names {
            validate_topic_name(name).expect("the demo's names are valid");
            let mark = if matches(filter, name) { "yes" } else { "-" };
            row.push_str(&format!("  {mark:<w$}", w = name.len()));
        }
        println!("{}", row.trim_end());
    }
    if let Ok(Some(shared)) = parse_shared("$share/dashboards/sensors/+/temperature") {
        println!(
            "\n$share/dashboards/sensors/+/temperature is shared: group {:?}, filter {:?}",
            shared.group, shared.filter
        );
    }
    for (what, result) in [
        (
            "filter \"sensors/#/x\"",
            validate_topic_filter("sensors/#/x"),
        ),
        (
            "filter \"sensors/kit+\"",
            validate_topic_filter("sensors/kit+"),
        ),
        ("name \"sensors/+\"", validate_topic_name("sensors/+")),
        ("filter \"$share/g\"", validate_topic_filter("$share/g")),
    ] {
        match result {
            Ok(()) => println!("{what}: valid"),
            Err(e) => println!("{what}: invalid: {e}"),
        }
    }
}

/// Encodes each packet (printing its bytes) and returns them back to back, as one stream.
fn encode_all(title: &str, packets: &[Packet<'_>]) -> Vec<u8> {
    section(&format!("{title}: encode"));
    let mut stream = Vec::new();
    for packet in packets {
        let start = stream.len();
        let size = packet
            .encode(V5, &mut stream)
            .unwrap_or_else(|e| panic!("encoding {:?}: {e}", packet.packet_type()));
        println!("{:?}, {size} bytes:", packet.packet_type());
        hex_dump(&stream[start..]);
    }
    println!("{} bytes in all", stream.len());
    stream
}

/// Hands `stream` to a decoder CHUNK bytes at a time, printing each packet once it is complete.
fn deliver_in_chunks(title: &str, stream: &[u8]) {
    section(&format!(
        "{title}: {} bytes arriving {CHUNK} at a time",
        stream.len()
    ));
    let decoder = Decoder::new(V5);
    let mut buffer: Vec<u8> = Vec::new();
    let mut deliveries = 0;
    for chunk in stream.chunks(CHUNK) {
        buffer.extend_from_slice(chunk);
        deliveries += 1;
        loop {
            // The packet borrows from `buffer`: strings and payload are slices of it.
            let used = match decoder.decode(&buffer) {
                Ok(None) => break, // a partial packet: wait for more bytes
                Ok(Some((packet, used))) => {
                    println!(
                        "after delivery {deliveries:>2}: {used:>3} bytes -> {}",
                        describe(&packet)
                    );
                    used
                }
                Err(e) => panic!("decoding a well-formed stream: {e}"),
            };
            buffer.drain(..used);
        }
    }
    assert!(buffer.is_empty(), "every byte was consumed");
}

fn describe(packet: &Packet<'_>) -> String {
    match packet {
        Packet::Connect(c) => format!(
            "CONNECT v{} client_id={:?} clean_start={} keep_alive={}s user={:?} password={} will={}{}",
            c.protocol,
            c.client_id,
            c.clean_start,
            c.keep_alive,
            c.username,
            if c.password.is_some() { "<set>" } else { "none" },
            c.will
                .map(|w| format!("{:?}={:?}", w.topic, String::from_utf8_lossy(w.payload)))
                .unwrap_or_else(|| "none".into()),
            props(&c.properties),
        ),
        Packet::ConnAck(a) => format!(
            "CONNACK {} session_present={}{}",
            a.reason_code,
            a.session_present,
            props(&a.properties)
        ),
        Packet::Subscribe(s) => {
            let subs: Vec<String> = s
                .subscriptions
                .iter()
                .map(|sub| format!("{:?}@{:?}", sub.filter, sub.options.qos))
                .collect();
            format!("SUBSCRIBE id={} [{}]", s.packet_id, subs.join(", "))
        }
        Packet::SubAck(a) => {
            let codes: Vec<String> = a.reason_codes.iter().map(|c| c.to_string()).collect();
            format!("SUBACK id={} [{}]", a.packet_id, codes.join(", "))
        }
        Packet::Publish(p) => format!(
            "PUBLISH {:?} {:?} id={} payload={:?}{}",
            p.topic,
            p.qos,
            p.packet_id,
            String::from_utf8_lossy(p.payload),
            props(&p.properties)
        ),
        Packet::PubAck(r) => format!("PUBACK id={} {}", r.packet_id, r.reason_code),
        other => format!("{:?}", other.packet_type()),
    }
}

/// The properties the demo uses, when set.
fn props(p: &Properties<'_>) -> String {
    let mut out = Vec::new();
    if let Some(v) = p.session_expiry_interval {
        out.push(format!("session_expiry={v}s"));
    }
    if let Some(v) = p.receive_maximum {
        out.push(format!("receive_maximum={v}"));
    }
    if let Some(v) = p.topic_alias_maximum {
        out.push(format!("topic_alias_maximum={v}"));
    }
    if let Some(v) = p.maximum_packet_size {
        out.push(format!("maximum_packet_size={v}"));
    }
    if let Some(v) = p.content_type {
        out.push(format!("content_type={v:?}"));
    }
    if let Some(v) = p.message_expiry_interval {
        out.push(format!("message_expiry={v}s"));
    }
    if !p.subscription_identifiers.is_empty() {
        let ids: Vec<u32> = p.subscription_identifiers.iter().collect();
        out.push(format!("subscription_ids={ids:?}"));
    }
    for (k, v) in p.user_properties.iter() {
        out.push(format!("user[{k:?}]={v:?}"));
    }
    if out.is_empty() {
        String::new()
    } else {
        format!(" {{{}}}", out.join(", "))
    }
}

fn show_result(what: &str, result: Result<Option<(Packet<'_>, usize)>, DecodeError>) {
    match result {
        Err(e) => println!("{what}: error: {e}"),
        Ok(None) => println!("{what}: needs more bytes"),
        Ok(Some((p, _))) => println!("{what}: decoded {:?}?", p.packet_type()),
    }
}

fn hex_dump(bytes: &[u8]) {
    for line in bytes.chunks(16) {
        let hex: Vec<String> = line.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = line
            .iter()
            .map(|&b| {
                if b.is_ascii_graphic() || b == b' ' {
                    b as char
                } else {
                    '.'
                }
            })
            .collect();
        println!("    {:<48} |{ascii}|", hex.join(" "));
    }
}

fn section(title: &str) {
    println!("\n== {title}");
}
