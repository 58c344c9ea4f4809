//! Shared by `proptests.rs` and `differential.rs`: proptest strategies that generate only
//! packets the specification allows for a given protocol version, as the owned packet model
//! of the test kit ([`wasmqtt_testkit::packets`], re-exported here), which the session
//! simulation (`tests/sim/`) uses too.

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use wasmqtt::codec::{
    PacketType, PropertyContext, ProtocolVersion, QoS, ReasonCode, RetainHandling,
    SubscriptionOptions,
};
use wasmqtt::topic::{parse_shared, validate_topic_filter, validate_topic_name};
pub use wasmqtt_testkit::packets::*;

pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// The largest value of a variable byte integer.
pub const MAX_VAR_INT: u32 = 268_435_455;

// ---------------------------------------------------------------------------------------------
// Strategies
// ---------------------------------------------------------------------------------------------

/// A character of an MQTT UTF-8 string: mostly ASCII, sometimes anything but U+0000.
fn mqtt_char() -> impl Strategy<Value = char> {
    prop_oneof![
        6 => proptest::char::range('a', 'z'),
        1 => proptest::char::range(' ', '~'),
        1 => any::<char>().prop_filter("U+0000 is not allowed", |c| *c != '\0'),
    ]
}

/// An MQTT UTF-8 string of at most `max` characters.
pub fn mqtt_string(max: usize) -> impl Strategy<Value = String> {
    proptest::collection::vec(mqtt_char(), 0..=max).prop_map(|v| v.into_iter().collect())
}

pub fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..=max)
}

/// A character of a topic level: no wildcard, no separator, no U+0000.
fn level_char() -> impl Strategy<Value = char> {
    mqtt_char().prop_filter("not in a topic level", |c| !matches!(c, '+' | '#' | '/'))
}

fn level() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => proptest::collection::vec(level_char(), 1..=5)
            .prop_map(|v| v.into_iter().collect::<String>()),
        1 => Just(String::new()),
        1 => Just("$SYS".to_owned()),
    ]
}

/// A valid topic name.
pub fn topic_name() -> impl Strategy<Value = String> {
    proptest::collection::vec(level(), 1..=4)
        .prop_map(|levels| levels.join("/"))
        .prop_filter("a valid topic name", |t| validate_topic_name(t).is_ok())
}

/// A valid topic filter, sometimes a shared subscription.
pub fn topic_filter() -> impl Strategy<Value = String> {
    let lvl = prop_oneof![4 => level(), 1 => Just("+".to_owned())];
    let group = proptest::collection::vec(level_char(), 1..=4)
        .prop_map(|v| v.into_iter().collect::<String>());
    (
        proptest::collection::vec(lvl, 1..=4),
        any::<bool>(),
        proptest::option::weighted(0.2, group),
    )
        .prop_map(|(mut levels, hash, group)| {
            if hash {
                levels.push("#".to_owned());
            }
            let f = levels.join("/");
            match group {
                Some(g) => format!("$share/{g}/{f}"),
                None => f,
            }
        })
        .prop_filter("a valid topic filter", |f| validate_topic_filter(f).is_ok())
}

pub fn packet_id() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn opt<S: Strategy>(s: S) -> impl Strategy<Value = Option<S::Value>>
where
    S::Value: Clone,
{
    proptest::option::weighted(0.2, s)
}

/// Any valid property of any kind (not yet restricted to one packet).
pub fn any_props() -> impl Strategy<Value = OProps> {
    let s = || mqtt_string(6);
    let nz16 = || 1..=u16::MAX;
    let a = (
        opt(any::<bool>()),
        opt(any::<u32>()),
        opt(s()),
        opt(topic_name()),
        opt(bytes(8)),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => proptest::collection::vec(
                prop_oneof![1u32..=127, 128..=MAX_VAR_INT, Just(MAX_VAR_INT)],
                1..=3,
            ),
        ],
        opt(any::<u32>()),
        opt(s()),
        opt(any::<u16>()),
    );
    let b = (
        opt(s()),
        opt(bytes(8)),
        opt(any::<bool>()),
        opt(any::<u32>()),
        opt(any::<bool>()),
        opt(s()),
        opt(s()),
        opt(s()),
        opt(nz16()),
    );
    let c = (
        opt(any::<u16>()),
        opt(nz16()),
        opt(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
        opt(any::<bool>()),
        prop_oneof![
            2 => Just(Vec::new()),
            1 => proptest::collection::vec((mqtt_string(5), mqtt_string(5)), 1..=3),
        ],
        opt(1..=u32::MAX),
        opt(any::<bool>()),
        opt(any::<bool>()),
        opt(any::<bool>()),
    );
    (a, b, c).prop_map(|(a, b, c)| OProps {
        payload_format_indicator: a.0,
        message_expiry_interval: a.1,
        content_type: a.2,
        response_topic: a.3,
        correlation_data: a.4,
        subscription_identifiers: a.5,
        session_expiry_interval: a.6,
        assigned_client_identifier: a.7,
        server_keep_alive: a.8,
        authentication_method: b.0,
        authentication_data: b.1,
        request_problem_information: b.2,
        will_delay_interval: b.3,
        request_response_information: b.4,
        response_information: b.5,
        server_reference: b.6,
        reason_string: b.7,
        receive_maximum: b.8,
        topic_alias_maximum: c.0,
        topic_alias: c.1,
        maximum_qos: c.2,
        retain_available: c.3,
        user_properties: c.4,
        maximum_packet_size: c.5,
        wildcard_subscription_available: c.6,
        subscription_identifiers_available: c.7,
        shared_subscription_available: c.8,
    })
}

/// Properties valid in `ctx` at version `v` (always empty in 3.1.1).
pub fn props(v: ProtocolVersion, ctx: PropertyContext) -> BoxedStrategy<OProps> {
    if !v.is_v5() {
        return Just(OProps::default()).boxed();
    }
    prop_oneof![
        1 => Just(OProps::default()),
        2 => any_props().prop_map(move |p| p.restrict(ctx)),
    ]
    .boxed()
}

/// The reason codes valid in packet `t` at version `v`.
pub fn reason_codes(v: ProtocolVersion, t: PacketType) -> Vec<u8> {
    if v.is_v5() {
        return (0..=255u8)
            .filter(|&c| ReasonCode(c).allowed_in(t))
            .collect();
    }
    match t {
        PacketType::ConnAck => (0..=5).collect(),
        PacketType::SubAck => vec![0, 1, 2, 0x80],
        _ => vec![0],
    }
}

fn reason(v: ProtocolVersion, t: PacketType) -> impl Strategy<Value = u8> {
    let codes = reason_codes(v, t);
    // Success is the common case and has the short forms: give it extra weight.
    prop_oneof![1 => Just(0u8), 2 => proptest::sample::select(codes)]
}

fn connect(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    let will = (
        topic_name(),
        bytes(12),
        qos(),
        any::<bool>(),
        props(v, PropertyContext::Will),
    )
        .prop_map(|(topic, payload, qos, retain, props)| OWill {
            topic,
            payload,
            qos,
            retain,
            props,
        });
    (
        any::<bool>(),
        any::<u16>(),
        props(v, PropertyContext::Connect),
        mqtt_string(8),
        opt(will),
        opt(mqtt_string(6)),
        opt(bytes(6)),
    )
        .prop_map(
            move |(clean_start, keep_alive, props, client_id, will, username, password)| {
                let mut c = OConnect {
                    protocol: v,
                    clean_start,
                    keep_alive,
                    props,
                    client_id,
                    will,
                    username,
                    password,
                };
                if !v.is_v5() {
                    // MQTT-3.1.2-22: no password without a user name.
                    if c.username.is_none() {
                        c.password = None;
                    }
                    // MQTT-3.1.3-7: an empty client identifier needs clean session.
                    if c.client_id.is_empty() {
                        c.clean_start = true;
                    }
                }
                OPacket::Connect(c)
            },
        )
}

fn connack(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    (
        any::<bool>(),
        reason(v, PacketType::ConnAck),
        props(v, PropertyContext::ConnAck),
    )
        .prop_map(|(sp, reason, props)| {
            OPacket::ConnAck(OConnAck {
                // Session Present only on an accepting CONNACK.
                session_present: sp && reason == 0,
                reason,
                props,
            })
        })
}

fn publish(v: ProtocolVersion, max_payload: usize) -> impl Strategy<Value = OPacket> {
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        packet_id(),
        props(v, PropertyContext::Publish),
        bytes(max_payload),
        any::<bool>(),
    )
        .prop_map(
            move |(dup, qos, retain, topic, id, props, payload, alias_only)| {
                let qos0 = qos == QoS::AtMostOnce;
                // A v5 PUBLISH with a topic alias may leave the topic name empty.
                let topic = if props.topic_alias.is_some() && alias_only {
                    String::new()
                } else {
                    topic
                };
                OPacket::Publish(OPublish {
                    dup: dup && !qos0,
                    qos,
                    retain,
                    topic,
                    packet_id: if qos0 { 0 } else { id },
                    props,
                    payload,
                })
            },
        )
}

fn pub_resp(v: ProtocolVersion, t: PacketType) -> impl Strategy<Value = OPacket> {
    let ctx = match t {
        PacketType::PubAck => PropertyContext::PubAck,
        PacketType::PubRec => PropertyContext::PubRec,
        PacketType::PubRel => PropertyContext::PubRel,
        _ => PropertyContext::PubComp,
    };
    (packet_id(), reason(v, t), props(v, ctx)).prop_map(move |(packet_id, reason, props)| {
        let r = OPubResp {
            packet_id,
            reason,
            props,
        };
        match t {
            PacketType::PubAck => OPacket::PubAck(r),
            PacketType::PubRec => OPacket::PubRec(r),
            PacketType::PubRel => OPacket::PubRel(r),
            _ => OPacket::PubComp(r),
        }
    })
}

fn subscription(v: ProtocolVersion) -> impl Strategy<Value = (String, SubscriptionOptions)> {
    let handling = prop_oneof![
        Just(RetainHandling::SendAtSubscribe),
        Just(RetainHandling::SendIfNew),
        Just(RetainHandling::DoNotSend),
    ];
    (
        topic_filter(),
        qos(),
        any::<bool>(),
        any::<bool>(),
        handling,
    )
        .prop_map(move |(filter, qos, no_local, rap, rh)| {
            let options = if v.is_v5() {
                let shared = matches!(parse_shared(&filter), Ok(Some(_)));
                SubscriptionOptions {
                    qos,
                    // MQTT-3.8.3-4: No Local is not allowed on a shared subscription.
                    no_local: no_local && !shared,
                    retain_as_published: rap,
                    retain_handling: rh,
                }
            } else {
                SubscriptionOptions::qos(qos)
            };
            (filter, options)
        })
}

fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    (
        packet_id(),
        props(v, PropertyContext::Subscribe),
        proptest::collection::vec(subscription(v), 1..=3),
    )
        .prop_map(|(packet_id, props, subs)| {
            OPacket::Subscribe(OSubscribe {
                packet_id,
                props,
                subs,
            })
        })
}

fn codes(v: ProtocolVersion, t: PacketType) -> impl Strategy<Value = Vec<ReasonCode>> {
    let all = reason_codes(v, t);
    proptest::collection::vec(proptest::sample::select(all).prop_map(ReasonCode), 1..=4)
}

fn suback(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    (
        packet_id(),
        props(v, PropertyContext::SubAck),
        codes(v, PacketType::SubAck),
    )
        .prop_map(|(packet_id, props, codes)| {
            OPacket::SubAck(OAck {
                packet_id,
                props,
                codes,
            })
        })
}

fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    (
        packet_id(),
        props(v, PropertyContext::Unsubscribe),
        proptest::collection::vec(topic_filter(), 1..=3),
    )
        .prop_map(|(packet_id, props, filters)| {
            OPacket::Unsubscribe(OUnsubscribe {
                packet_id,
                props,
                filters,
            })
        })
}

fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    (
        packet_id(),
        props(v, PropertyContext::UnsubAck),
        codes(v, PacketType::UnsubAck),
    )
        .prop_map(move |(packet_id, props, codes)| {
            OPacket::UnsubAck(OAck {
                packet_id,
                props,
                // MQTT 3.1.1 UNSUBACK carries no reason codes.
                codes: if v.is_v5() { codes } else { Vec::new() },
            })
        })
}

fn disconnect(v: ProtocolVersion) -> impl Strategy<Value = OPacket> {
    (
        reason(v, PacketType::Disconnect),
        props(v, PropertyContext::Disconnect),
    )
        .prop_map(|(reason, props)| OPacket::Disconnect(OReason { reason, props }))
}

fn auth() -> impl Strategy<Value = OPacket> {
    (
        reason(ProtocolVersion::V5, PacketType::Auth),
        props(ProtocolVersion::V5, PropertyContext::Auth),
    )
        .prop_map(|(reason, props)| OPacket::Auth(OReason { reason, props }))
}

/// Any packet valid at version `v`, PUBLISH payloads up to `max_payload` bytes.
pub fn packet_with(v: ProtocolVersion, max_payload: usize) -> BoxedStrategy<OPacket> {
    let mut arms: Vec<BoxedStrategy<OPacket>> = vec![
        connect(v).boxed(),
        connack(v).boxed(),
        publish(v, max_payload).boxed(),
        pub_resp(v, PacketType::PubAck).boxed(),
        pub_resp(v, PacketType::PubRec).boxed(),
        pub_resp(v, PacketType::PubRel).boxed(),
        pub_resp(v, PacketType::PubComp).boxed(),
        subscribe(v).boxed(),
        suback(v).boxed(),
        unsubscribe(v).boxed(),
        unsuback(v).boxed(),
        Just(OPacket::PingReq).boxed(),
        Just(OPacket::PingResp).boxed(),
        disconnect(v).boxed(),
    ];
    if v.is_v5() {
        arms.push(auth().boxed());
    }
    Union::new(arms).boxed()
}

/// Any packet valid at version `v`.
pub fn packet(v: ProtocolVersion) -> BoxedStrategy<OPacket> {
    packet_with(v, 48)
}
