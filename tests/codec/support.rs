//! Shared by `proptests.rs` and `differential.rs`: an owned model of every MQTT
//! packet, the view that borrows it into a `wasmqtt::codec::Packet`, and proptest strategies
//! that generate only packets the specification allows for a given protocol version.
//!
//! The codec's packets borrow everything (`&str`, `&[u8]`, `Seq` lists), so a generated packet
//! lives in two steps: the [`Model`] owns the data, and [`Model::view`] builds the few
//! borrowed lists (`Vec<(&str, &str)>`, `Vec<Subscription>`, `Vec<&str>`) that a
//! `Seq::from_slice` needs; [`View::packet`] then borrows from both.

use proptest::prelude::*;
use proptest::strategy::{BoxedStrategy, Union};
use wasmqtt::codec::properties::{id, property_allowed};
use wasmqtt::codec::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, Properties, PropertyContext,
    ProtocolVersion, PubResp, Publish, QoS, ReasonCode, RetainHandling, Seq, SubAck, Subscribe,
    Subscription, SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use wasmqtt::topic::{parse_shared, validate_topic_filter, validate_topic_name};

pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// The largest value of a variable byte integer.
pub const MAX_VAR_INT: u32 = 268_435_455;

// ---------------------------------------------------------------------------------------------
// The owned model
// ---------------------------------------------------------------------------------------------

/// Owned MQTT 5.0 properties: one field per property of `wasmqtt::codec::Properties`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct OProps {
    pub payload_format_indicator: Option<bool>,
    pub message_expiry_interval: Option<u32>,
    pub content_type: Option<String>,
    pub response_topic: Option<String>,
    pub correlation_data: Option<Vec<u8>>,
    pub subscription_identifiers: Vec<u32>,
    pub session_expiry_interval: Option<u32>,
    pub assigned_client_identifier: Option<String>,
    pub server_keep_alive: Option<u16>,
    pub authentication_method: Option<String>,
    pub authentication_data: Option<Vec<u8>>,
    pub request_problem_information: Option<bool>,
    pub will_delay_interval: Option<u32>,
    pub request_response_information: Option<bool>,
    pub response_information: Option<String>,
    pub server_reference: Option<String>,
    pub reason_string: Option<String>,
    pub receive_maximum: Option<u16>,
    pub topic_alias_maximum: Option<u16>,
    pub topic_alias: Option<u16>,
    pub maximum_qos: Option<QoS>,
    pub retain_available: Option<bool>,
    pub user_properties: Vec<(String, String)>,
    pub maximum_packet_size: Option<u32>,
    pub wildcard_subscription_available: Option<bool>,
    pub subscription_identifiers_available: Option<bool>,
    pub shared_subscription_available: Option<bool>,
}

/// Lists only the properties that are set, to keep failure reports readable.
impl std::fmt::Debug for OProps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("OProps");
        let none = OProps::default();
        macro_rules! set {
            ($($field:ident),*) => {$(
                if self.$field != none.$field {
                    d.field(stringify!($field), &self.$field);
                }
            )*};
        }
        set!(
            payload_format_indicator,
            message_expiry_interval,
            content_type,
            response_topic,
            correlation_data,
            subscription_identifiers,
            session_expiry_interval,
            assigned_client_identifier,
            server_keep_alive,
            authentication_method,
            authentication_data,
            request_problem_information,
            will_delay_interval,
            request_response_information,
            response_information,
            server_reference,
            reason_string,
            receive_maximum,
            topic_alias_maximum,
            topic_alias,
            maximum_qos,
            retain_available,
            user_properties,
            maximum_packet_size,
            wildcard_subscription_available,
            subscription_identifiers_available,
            shared_subscription_available
        );
        d.finish()
    }
}

impl OProps {
    pub fn is_empty(&self) -> bool {
        *self == OProps::default()
    }

    /// The user properties as the borrowed pairs `Properties::user_properties` is built from.
    pub fn user_pairs(&self) -> Vec<(&str, &str)> {
        self.user_properties
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// Borrows the properties; `users` must be `self.user_pairs()`.
    pub fn borrow<'a>(&'a self, users: &'a [(&'a str, &'a str)]) -> Properties<'a> {
        Properties {
            payload_format_indicator: self.payload_format_indicator,
            message_expiry_interval: self.message_expiry_interval,
            content_type: self.content_type.as_deref(),
            response_topic: self.response_topic.as_deref(),
            correlation_data: self.correlation_data.as_deref(),
            subscription_identifiers: Seq::from_slice(&self.subscription_identifiers),
            session_expiry_interval: self.session_expiry_interval,
            assigned_client_identifier: self.assigned_client_identifier.as_deref(),
            server_keep_alive: self.server_keep_alive,
            authentication_method: self.authentication_method.as_deref(),
            authentication_data: self.authentication_data.as_deref(),
            request_problem_information: self.request_problem_information,
            will_delay_interval: self.will_delay_interval,
            request_response_information: self.request_response_information,
            response_information: self.response_information.as_deref(),
            server_reference: self.server_reference.as_deref(),
            reason_string: self.reason_string.as_deref(),
            receive_maximum: self.receive_maximum,
            topic_alias_maximum: self.topic_alias_maximum,
            topic_alias: self.topic_alias,
            maximum_qos: self.maximum_qos,
            retain_available: self.retain_available,
            user_properties: Seq::from_slice(users),
            maximum_packet_size: self.maximum_packet_size,
            wildcard_subscription_available: self.wildcard_subscription_available,
            subscription_identifiers_available: self.subscription_identifiers_available,
            shared_subscription_available: self.shared_subscription_available,
        }
    }

    pub fn from_props(p: &Properties<'_>) -> OProps {
        let s = |v: Option<&str>| v.map(str::to_owned);
        let b = |v: Option<&[u8]>| v.map(<[u8]>::to_vec);
        OProps {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            content_type: s(p.content_type),
            response_topic: s(p.response_topic),
            correlation_data: b(p.correlation_data),
            subscription_identifiers: p.subscription_identifiers.iter().collect(),
            session_expiry_interval: p.session_expiry_interval,
            assigned_client_identifier: s(p.assigned_client_identifier),
            server_keep_alive: p.server_keep_alive,
            authentication_method: s(p.authentication_method),
            authentication_data: b(p.authentication_data),
            request_problem_information: p.request_problem_information,
            will_delay_interval: p.will_delay_interval,
            request_response_information: p.request_response_information,
            response_information: s(p.response_information),
            server_reference: s(p.server_reference),
            reason_string: s(p.reason_string),
            receive_maximum: p.receive_maximum,
            topic_alias_maximum: p.topic_alias_maximum,
            topic_alias: p.topic_alias,
            maximum_qos: p.maximum_qos,
            retain_available: p.retain_available,
            user_properties: p
                .user_properties
                .iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
            maximum_packet_size: p.maximum_packet_size,
            wildcard_subscription_available: p.wildcard_subscription_available,
            subscription_identifiers_available: p.subscription_identifiers_available,
            shared_subscription_available: p.shared_subscription_available,
        }
    }

    /// Drops every property MQTT 5.0 does not allow in `ctx` (and a second subscription
    /// identifier in SUBSCRIBE, which allows only one).
    pub fn restrict(mut self, ctx: PropertyContext) -> OProps {
        let ok = |pid: u8| property_allowed(pid, ctx) == Some(true);
        macro_rules! keep {
            ($($field:ident: $id:expr),* $(,)?) => {$(
                if !ok($id) {
                    self.$field = Default::default();
                }
            )*};
        }
        keep!(
            payload_format_indicator: id::PAYLOAD_FORMAT_INDICATOR,
            message_expiry_interval: id::MESSAGE_EXPIRY_INTERVAL,
            content_type: id::CONTENT_TYPE,
            response_topic: id::RESPONSE_TOPIC,
            correlation_data: id::CORRELATION_DATA,
            subscription_identifiers: id::SUBSCRIPTION_IDENTIFIER,
            session_expiry_interval: id::SESSION_EXPIRY_INTERVAL,
            assigned_client_identifier: id::ASSIGNED_CLIENT_IDENTIFIER,
            server_keep_alive: id::SERVER_KEEP_ALIVE,
            authentication_method: id::AUTHENTICATION_METHOD,
            authentication_data: id::AUTHENTICATION_DATA,
            request_problem_information: id::REQUEST_PROBLEM_INFORMATION,
            will_delay_interval: id::WILL_DELAY_INTERVAL,
            request_response_information: id::REQUEST_RESPONSE_INFORMATION,
            response_information: id::RESPONSE_INFORMATION,
            server_reference: id::SERVER_REFERENCE,
            reason_string: id::REASON_STRING,
            receive_maximum: id::RECEIVE_MAXIMUM,
            topic_alias_maximum: id::TOPIC_ALIAS_MAXIMUM,
            topic_alias: id::TOPIC_ALIAS,
            maximum_qos: id::MAXIMUM_QOS,
            retain_available: id::RETAIN_AVAILABLE,
            user_properties: id::USER_PROPERTY,
            maximum_packet_size: id::MAXIMUM_PACKET_SIZE,
            wildcard_subscription_available: id::WILDCARD_SUBSCRIPTION_AVAILABLE,
            subscription_identifiers_available: id::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            shared_subscription_available: id::SHARED_SUBSCRIPTION_AVAILABLE,
        );
        if ctx == PropertyContext::Subscribe {
            self.subscription_identifiers.truncate(1);
        }
        self
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OWill {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub props: OProps,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OConnect {
    pub protocol: ProtocolVersion,
    pub clean_start: bool,
    pub keep_alive: u16,
    pub props: OProps,
    pub client_id: String,
    pub will: Option<OWill>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OConnAck {
    pub session_present: bool,
    pub reason: u8,
    pub props: OProps,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OPublish {
    pub dup: bool,
    pub qos: QoS,
    pub retain: bool,
    pub topic: String,
    pub packet_id: u16,
    pub props: OProps,
    pub payload: Vec<u8>,
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OPubResp {
    pub packet_id: u16,
    pub reason: u8,
    pub props: OProps,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OSubscribe {
    pub packet_id: u16,
    pub props: OProps,
    pub subs: Vec<(String, SubscriptionOptions)>,
}

/// SUBACK and UNSUBACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAck {
    pub packet_id: u16,
    pub props: OProps,
    pub codes: Vec<ReasonCode>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OUnsubscribe {
    pub packet_id: u16,
    pub props: OProps,
    pub filters: Vec<String>,
}

/// DISCONNECT and AUTH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OReason {
    pub reason: u8,
    pub props: OProps,
}

/// Any MQTT control packet, owning its data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Model {
    Connect(OConnect),
    ConnAck(OConnAck),
    Publish(OPublish),
    PubAck(OPubResp),
    PubRec(OPubResp),
    PubRel(OPubResp),
    PubComp(OPubResp),
    Subscribe(OSubscribe),
    SubAck(OAck),
    Unsubscribe(OUnsubscribe),
    UnsubAck(OAck),
    PingReq,
    PingResp,
    Disconnect(OReason),
    Auth(OReason),
}

/// The borrowed lists a [`Model`] needs to become a [`Packet`].
pub struct View<'a> {
    model: &'a Model,
    users: Vec<(&'a str, &'a str)>,
    will_users: Vec<(&'a str, &'a str)>,
    subs: Vec<Subscription<'a>>,
    filters: Vec<&'a str>,
}

impl Model {
    pub fn view(&self) -> View<'_> {
        let mut v = View {
            model: self,
            users: Vec::new(),
            will_users: Vec::new(),
            subs: Vec::new(),
            filters: Vec::new(),
        };
        if let Some(p) = self.props() {
            v.users = p.user_pairs();
        }
        match self {
            Model::Connect(c) => {
                if let Some(w) = &c.will {
                    v.will_users = w.props.user_pairs();
                }
            }
            Model::Subscribe(s) => {
                v.subs = s
                    .subs
                    .iter()
                    .map(|(f, o)| Subscription {
                        filter: f.as_str(),
                        options: *o,
                    })
                    .collect();
            }
            Model::Unsubscribe(u) => v.filters = u.filters.iter().map(String::as_str).collect(),
            _ => {}
        }
        v
    }

    /// The packet's own property block (not the will's).
    pub fn props(&self) -> Option<&OProps> {
        Some(match self {
            Model::Connect(c) => &c.props,
            Model::ConnAck(c) => &c.props,
            Model::Publish(p) => &p.props,
            Model::PubAck(r) | Model::PubRec(r) | Model::PubRel(r) | Model::PubComp(r) => &r.props,
            Model::Subscribe(s) => &s.props,
            Model::SubAck(a) | Model::UnsubAck(a) => &a.props,
            Model::Unsubscribe(u) => &u.props,
            Model::Disconnect(d) | Model::Auth(d) => &d.props,
            Model::PingReq | Model::PingResp => return None,
        })
    }

    pub fn packet_type(&self) -> PacketType {
        self.view().packet().packet_type()
    }

    /// Encodes with wasmqtt, panicking on an encode error (a generated model is always valid).
    pub fn encode(&self, v: ProtocolVersion) -> Vec<u8> {
        let mut out = Vec::new();
        let view = self.view();
        let n = view
            .packet()
            .encode(v, &mut out)
            .unwrap_or_else(|e| panic!("encoding {self:?} at {v}: {e}"));
        assert_eq!(n, out.len());
        out
    }

    /// The owned copy of a decoded (or any) packet.
    pub fn from_packet(p: &Packet<'_>) -> Model {
        let props = OProps::from_props;
        let resp = |r: &PubResp<'_>| OPubResp {
            packet_id: r.packet_id,
            reason: r.reason_code.0,
            props: props(&r.properties),
        };
        match p {
            Packet::Connect(c) => Model::Connect(OConnect {
                protocol: c.protocol,
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                props: props(&c.properties),
                client_id: c.client_id.to_owned(),
                will: c.will.as_ref().map(|w| OWill {
                    topic: w.topic.to_owned(),
                    payload: w.payload.to_vec(),
                    qos: w.qos,
                    retain: w.retain,
                    props: props(&w.properties),
                }),
                username: c.username.map(str::to_owned),
                password: c.password.map(<[u8]>::to_vec),
            }),
            Packet::ConnAck(c) => Model::ConnAck(OConnAck {
                session_present: c.session_present,
                reason: c.reason_code.0,
                props: props(&c.properties),
            }),
            Packet::Publish(p) => Model::Publish(OPublish {
                dup: p.dup,
                qos: p.qos,
                retain: p.retain,
                topic: p.topic.to_owned(),
                packet_id: p.packet_id,
                props: props(&p.properties),
                payload: p.payload.to_vec(),
            }),
            Packet::PubAck(r) => Model::PubAck(resp(r)),
            Packet::PubRec(r) => Model::PubRec(resp(r)),
            Packet::PubRel(r) => Model::PubRel(resp(r)),
            Packet::PubComp(r) => Model::PubComp(resp(r)),
            Packet::Subscribe(s) => Model::Subscribe(OSubscribe {
                packet_id: s.packet_id,
                props: props(&s.properties),
                subs: s
                    .subscriptions
                    .iter()
                    .map(|s| (s.filter.to_owned(), s.options))
                    .collect(),
            }),
            Packet::SubAck(a) => Model::SubAck(OAck {
                packet_id: a.packet_id,
                props: props(&a.properties),
                codes: a.reason_codes.iter().collect(),
            }),
            Packet::Unsubscribe(u) => Model::Unsubscribe(OUnsubscribe {
                packet_id: u.packet_id,
                props: props(&u.properties),
                filters: u.filters.iter().map(str::to_owned).collect(),
            }),
            Packet::UnsubAck(a) => Model::UnsubAck(OAck {
                packet_id: a.packet_id,
                props: props(&a.properties),
                codes: a.reason_codes.iter().collect(),
            }),
            Packet::PingReq => Model::PingReq,
            Packet::PingResp => Model::PingResp,
            Packet::Disconnect(d) => Model::Disconnect(OReason {
                reason: d.reason_code.0,
                props: props(&d.properties),
            }),
            Packet::Auth(a) => Model::Auth(OReason {
                reason: a.reason_code.0,
                props: props(&a.properties),
            }),
        }
    }
}

impl<'a> View<'a> {
    pub fn packet(&self) -> Packet<'_> {
        let props = |p: &'a OProps| p.borrow(&self.users);
        let resp = |r: &'a OPubResp| PubResp {
            packet_id: r.packet_id,
            reason_code: ReasonCode(r.reason),
            properties: props(&r.props),
        };
        match self.model {
            Model::Connect(c) => Packet::Connect(Connect {
                protocol: c.protocol,
                clean_start: c.clean_start,
                keep_alive: c.keep_alive,
                properties: props(&c.props),
                client_id: &c.client_id,
                will: c.will.as_ref().map(|w| Will {
                    topic: &w.topic,
                    payload: &w.payload,
                    qos: w.qos,
                    retain: w.retain,
                    properties: w.props.borrow(&self.will_users),
                }),
                username: c.username.as_deref(),
                password: c.password.as_deref(),
            }),
            Model::ConnAck(c) => Packet::ConnAck(ConnAck {
                session_present: c.session_present,
                reason_code: ReasonCode(c.reason),
                properties: props(&c.props),
            }),
            Model::Publish(p) => Packet::Publish(Publish {
                dup: p.dup,
                qos: p.qos,
                retain: p.retain,
                topic: &p.topic,
                packet_id: p.packet_id,
                properties: props(&p.props),
                payload: &p.payload,
            }),
            Model::PubAck(r) => Packet::PubAck(resp(r)),
            Model::PubRec(r) => Packet::PubRec(resp(r)),
            Model::PubRel(r) => Packet::PubRel(resp(r)),
            Model::PubComp(r) => Packet::PubComp(resp(r)),
            Model::Subscribe(s) => Packet::Subscribe(Subscribe {
                packet_id: s.packet_id,
                properties: props(&s.props),
                subscriptions: Seq::from_slice(&self.subs),
            }),
            Model::SubAck(a) => Packet::SubAck(SubAck {
                packet_id: a.packet_id,
                properties: props(&a.props),
                reason_codes: Seq::from_slice(&a.codes),
            }),
            Model::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
                packet_id: u.packet_id,
                properties: props(&u.props),
                filters: Seq::from_slice(&self.filters),
            }),
            Model::UnsubAck(a) => Packet::UnsubAck(UnsubAck {
                packet_id: a.packet_id,
                properties: props(&a.props),
                reason_codes: Seq::from_slice(&a.codes),
            }),
            Model::PingReq => Packet::PingReq,
            Model::PingResp => Packet::PingResp,
            Model::Disconnect(d) => Packet::Disconnect(Disconnect {
                reason_code: ReasonCode(d.reason),
                properties: props(&d.props),
            }),
            Model::Auth(a) => Packet::Auth(Auth {
                reason_code: ReasonCode(a.reason),
                properties: props(&a.props),
            }),
        }
    }
}

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

fn connect(v: ProtocolVersion) -> impl Strategy<Value = Model> {
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
                Model::Connect(c)
            },
        )
}

fn connack(v: ProtocolVersion) -> impl Strategy<Value = Model> {
    (
        any::<bool>(),
        reason(v, PacketType::ConnAck),
        props(v, PropertyContext::ConnAck),
    )
        .prop_map(|(sp, reason, props)| {
            Model::ConnAck(OConnAck {
                // Session Present only on an accepting CONNACK.
                session_present: sp && reason == 0,
                reason,
                props,
            })
        })
}

fn publish(v: ProtocolVersion, max_payload: usize) -> impl Strategy<Value = Model> {
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
                Model::Publish(OPublish {
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

fn pub_resp(v: ProtocolVersion, t: PacketType) -> impl Strategy<Value = Model> {
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
            PacketType::PubAck => Model::PubAck(r),
            PacketType::PubRec => Model::PubRec(r),
            PacketType::PubRel => Model::PubRel(r),
            _ => Model::PubComp(r),
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

fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Model> {
    (
        packet_id(),
        props(v, PropertyContext::Subscribe),
        proptest::collection::vec(subscription(v), 1..=3),
    )
        .prop_map(|(packet_id, props, subs)| {
            Model::Subscribe(OSubscribe {
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

fn suback(v: ProtocolVersion) -> impl Strategy<Value = Model> {
    (
        packet_id(),
        props(v, PropertyContext::SubAck),
        codes(v, PacketType::SubAck),
    )
        .prop_map(|(packet_id, props, codes)| {
            Model::SubAck(OAck {
                packet_id,
                props,
                codes,
            })
        })
}

fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Model> {
    (
        packet_id(),
        props(v, PropertyContext::Unsubscribe),
        proptest::collection::vec(topic_filter(), 1..=3),
    )
        .prop_map(|(packet_id, props, filters)| {
            Model::Unsubscribe(OUnsubscribe {
                packet_id,
                props,
                filters,
            })
        })
}

fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = Model> {
    (
        packet_id(),
        props(v, PropertyContext::UnsubAck),
        codes(v, PacketType::UnsubAck),
    )
        .prop_map(move |(packet_id, props, codes)| {
            Model::UnsubAck(OAck {
                packet_id,
                props,
                // MQTT 3.1.1 UNSUBACK carries no reason codes.
                codes: if v.is_v5() { codes } else { Vec::new() },
            })
        })
}

fn disconnect(v: ProtocolVersion) -> impl Strategy<Value = Model> {
    (
        reason(v, PacketType::Disconnect),
        props(v, PropertyContext::Disconnect),
    )
        .prop_map(|(reason, props)| Model::Disconnect(OReason { reason, props }))
}

fn auth() -> impl Strategy<Value = Model> {
    (
        reason(ProtocolVersion::V5, PacketType::Auth),
        props(ProtocolVersion::V5, PropertyContext::Auth),
    )
        .prop_map(|(reason, props)| Model::Auth(OReason { reason, props }))
}

/// Any packet valid at version `v`, PUBLISH payloads up to `max_payload` bytes.
pub fn packet_with(v: ProtocolVersion, max_payload: usize) -> BoxedStrategy<Model> {
    let mut arms: Vec<BoxedStrategy<Model>> = vec![
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
        Just(Model::PingReq).boxed(),
        Just(Model::PingResp).boxed(),
        disconnect(v).boxed(),
    ];
    if v.is_v5() {
        arms.push(auth().boxed());
    }
    Union::new(arms).boxed()
}

/// Any packet valid at version `v`.
pub fn packet(v: ProtocolVersion) -> BoxedStrategy<Model> {
    packet_with(v, 48)
}
