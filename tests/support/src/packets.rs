//! One owned model of every MQTT control packet, for the tests of the root crate: the codec's
//! property and differential tests (`tests/codec/`) and the session simulation (`tests/sim/`).
//!
//! The codec's packets borrow everything (`&str`, `&[u8]`, `Seq` lists). An [`OPacket`] owns
//! the same data, field for field, with every MQTT 5.0 property in [`OProps`]:
//! [`OPacket::from_packet`] copies a decoded (or any) packet, and a packet lives again in two
//! steps: [`OPacket::view`] builds the few borrowed lists (`Vec<(&str, &str)>`,
//! `Vec<Subscription>`, `Vec<&str>`) that a `Seq::from_slice` needs, and [`View::packet`] then
//! borrows from both.

use wasmqtt::codec::properties::{id, property_allowed};
use wasmqtt::codec::{
    Auth, ConnAck, Connect, Disconnect, Packet, PacketType, Properties, PropertyContext,
    ProtocolVersion, PubResp, Publish, QoS, ReasonCode, Seq, SubAck, Subscribe, Subscription,
    SubscriptionOptions, UnsubAck, Unsubscribe, Will,
};
use wasmqtt::session::MessageProperties;

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
    /// Whether no property is set.
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

    /// The owned copy of borrowed properties.
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

    /// The message properties of a PUBLISH or a will, as the session reports them.
    pub fn message_properties(&self) -> MessageProperties {
        MessageProperties {
            payload_format_indicator: self.payload_format_indicator,
            message_expiry_interval: self.message_expiry_interval,
            content_type: self.content_type.clone(),
            response_topic: self.response_topic.clone(),
            correlation_data: self.correlation_data.clone(),
            user_properties: self.user_properties.clone(),
            subscription_identifiers: self.subscription_identifiers.clone(),
        }
    }
}

/// A will as carried by CONNECT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OWill {
    pub topic: String,
    pub payload: Vec<u8>,
    pub qos: QoS,
    pub retain: bool,
    pub props: OProps,
}

/// CONNECT.
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

/// CONNACK (`reason`: a v5 reason code or a 3.1.1 return code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OConnAck {
    pub session_present: bool,
    pub reason: u8,
    pub props: OProps,
}

/// PUBLISH (`packet_id` 0 at QoS 0).
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

impl OPubResp {
    /// An acknowledgement of `packet_id` with `code` and no properties.
    pub fn new(packet_id: u16, code: ReasonCode) -> OPubResp {
        OPubResp {
            packet_id,
            reason: code.0,
            props: OProps::default(),
        }
    }
}

/// SUBSCRIBE: each topic filter with its options.
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

/// UNSUBSCRIBE.
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
pub enum OPacket {
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

/// The borrowed lists an [`OPacket`] needs to become a [`Packet`].
pub struct View<'a> {
    model: &'a OPacket,
    users: Vec<(&'a str, &'a str)>,
    will_users: Vec<(&'a str, &'a str)>,
    subs: Vec<Subscription<'a>>,
    filters: Vec<&'a str>,
}

impl OPacket {
    /// DISCONNECT with `code` and no properties.
    pub fn disconnect(code: ReasonCode) -> OPacket {
        OPacket::Disconnect(OReason {
            reason: code.0,
            props: OProps::default(),
        })
    }

    /// AUTH with `code`, an authentication method and data, and no other property.
    pub fn auth(code: ReasonCode, method: Option<&str>, data: Option<&[u8]>) -> OPacket {
        OPacket::Auth(OReason {
            reason: code.0,
            props: OProps {
                authentication_method: method.map(str::to_owned),
                authentication_data: data.map(<[u8]>::to_vec),
                ..OProps::default()
            },
        })
    }

    /// The borrowed lists this packet needs; [`View::packet`] is the packet.
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
            OPacket::Connect(c) => {
                if let Some(w) = &c.will {
                    v.will_users = w.props.user_pairs();
                }
            }
            OPacket::Subscribe(s) => {
                v.subs = s
                    .subs
                    .iter()
                    .map(|(f, o)| Subscription {
                        filter: f.as_str(),
                        options: *o,
                    })
                    .collect();
            }
            OPacket::Unsubscribe(u) => v.filters = u.filters.iter().map(String::as_str).collect(),
            _ => {}
        }
        v
    }

    /// The packet's own property block (not the will's).
    pub fn props(&self) -> Option<&OProps> {
        Some(match self {
            OPacket::Connect(c) => &c.props,
            OPacket::ConnAck(c) => &c.props,
            OPacket::Publish(p) => &p.props,
            OPacket::PubAck(r) | OPacket::PubRec(r) | OPacket::PubRel(r) | OPacket::PubComp(r) => {
                &r.props
            }
            OPacket::Subscribe(s) => &s.props,
            OPacket::SubAck(a) | OPacket::UnsubAck(a) => &a.props,
            OPacket::Unsubscribe(u) => &u.props,
            OPacket::Disconnect(d) | OPacket::Auth(d) => &d.props,
            OPacket::PingReq | OPacket::PingResp => return None,
        })
    }

    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            OPacket::Connect(_) => PacketType::Connect,
            OPacket::ConnAck(_) => PacketType::ConnAck,
            OPacket::Publish(_) => PacketType::Publish,
            OPacket::PubAck(_) => PacketType::PubAck,
            OPacket::PubRec(_) => PacketType::PubRec,
            OPacket::PubRel(_) => PacketType::PubRel,
            OPacket::PubComp(_) => PacketType::PubComp,
            OPacket::Subscribe(_) => PacketType::Subscribe,
            OPacket::SubAck(_) => PacketType::SubAck,
            OPacket::Unsubscribe(_) => PacketType::Unsubscribe,
            OPacket::UnsubAck(_) => PacketType::UnsubAck,
            OPacket::PingReq => PacketType::PingReq,
            OPacket::PingResp => PacketType::PingResp,
            OPacket::Disconnect(_) => PacketType::Disconnect,
            OPacket::Auth(_) => PacketType::Auth,
        }
    }

    /// Whether only a server may send this packet (CONNACK, SUBACK, UNSUBACK, PINGRESP).
    pub fn server_only(&self) -> bool {
        matches!(
            self,
            OPacket::ConnAck(_) | OPacket::SubAck(_) | OPacket::UnsubAck(_) | OPacket::PingResp
        )
    }

    /// The CONNECT, if it is one.
    pub fn connect(&self) -> Option<&OConnect> {
        match self {
            OPacket::Connect(c) => Some(c),
            _ => None,
        }
    }

    /// The PUBLISH, if it is one.
    pub fn publish(&self) -> Option<&OPublish> {
        match self {
            OPacket::Publish(p) => Some(p),
            _ => None,
        }
    }

    /// The SUBSCRIBE, if it is one.
    pub fn subscribe(&self) -> Option<&OSubscribe> {
        match self {
            OPacket::Subscribe(s) => Some(s),
            _ => None,
        }
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
    pub fn from_packet(p: &Packet<'_>) -> OPacket {
        let props = OProps::from_props;
        let resp = |r: &PubResp<'_>| OPubResp {
            packet_id: r.packet_id,
            reason: r.reason_code.0,
            props: props(&r.properties),
        };
        match p {
            Packet::Connect(c) => OPacket::Connect(OConnect {
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
            Packet::ConnAck(c) => OPacket::ConnAck(OConnAck {
                session_present: c.session_present,
                reason: c.reason_code.0,
                props: props(&c.properties),
            }),
            Packet::Publish(p) => OPacket::Publish(OPublish {
                dup: p.dup,
                qos: p.qos,
                retain: p.retain,
                topic: p.topic.to_owned(),
                packet_id: p.packet_id,
                props: props(&p.properties),
                payload: p.payload.to_vec(),
            }),
            Packet::PubAck(r) => OPacket::PubAck(resp(r)),
            Packet::PubRec(r) => OPacket::PubRec(resp(r)),
            Packet::PubRel(r) => OPacket::PubRel(resp(r)),
            Packet::PubComp(r) => OPacket::PubComp(resp(r)),
            Packet::Subscribe(s) => OPacket::Subscribe(OSubscribe {
                packet_id: s.packet_id,
                props: props(&s.properties),
                subs: s
                    .subscriptions
                    .iter()
                    .map(|s| (s.filter.to_owned(), s.options))
                    .collect(),
            }),
            Packet::SubAck(a) => OPacket::SubAck(OAck {
                packet_id: a.packet_id,
                props: props(&a.properties),
                codes: a.reason_codes.iter().collect(),
            }),
            Packet::Unsubscribe(u) => OPacket::Unsubscribe(OUnsubscribe {
                packet_id: u.packet_id,
                props: props(&u.properties),
                filters: u.filters.iter().map(str::to_owned).collect(),
            }),
            Packet::UnsubAck(a) => OPacket::UnsubAck(OAck {
                packet_id: a.packet_id,
                props: props(&a.properties),
                codes: a.reason_codes.iter().collect(),
            }),
            Packet::PingReq => OPacket::PingReq,
            Packet::PingResp => OPacket::PingResp,
            Packet::Disconnect(d) => OPacket::Disconnect(OReason {
                reason: d.reason_code.0,
                props: props(&d.properties),
            }),
            Packet::Auth(a) => OPacket::Auth(OReason {
                reason: a.reason_code.0,
                props: props(&a.properties),
            }),
        }
    }
}

impl<'a> View<'a> {
    /// The borrowed packet.
    pub fn packet(&self) -> Packet<'_> {
        let props = |p: &'a OProps| p.borrow(&self.users);
        let resp = |r: &'a OPubResp| PubResp {
            packet_id: r.packet_id,
            reason_code: ReasonCode(r.reason),
            properties: props(&r.props),
        };
        match self.model {
            OPacket::Connect(c) => Packet::Connect(Connect {
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
            OPacket::ConnAck(c) => Packet::ConnAck(ConnAck {
                session_present: c.session_present,
                reason_code: ReasonCode(c.reason),
                properties: props(&c.props),
            }),
            OPacket::Publish(p) => Packet::Publish(Publish {
                dup: p.dup,
                qos: p.qos,
                retain: p.retain,
                topic: &p.topic,
                packet_id: p.packet_id,
                properties: props(&p.props),
                payload: &p.payload,
            }),
            OPacket::PubAck(r) => Packet::PubAck(resp(r)),
            OPacket::PubRec(r) => Packet::PubRec(resp(r)),
            OPacket::PubRel(r) => Packet::PubRel(resp(r)),
            OPacket::PubComp(r) => Packet::PubComp(resp(r)),
            OPacket::Subscribe(s) => Packet::Subscribe(Subscribe {
                packet_id: s.packet_id,
                properties: props(&s.props),
                subscriptions: Seq::from_slice(&self.subs),
            }),
            OPacket::SubAck(a) => Packet::SubAck(SubAck {
                packet_id: a.packet_id,
                properties: props(&a.props),
                reason_codes: Seq::from_slice(&a.codes),
            }),
            OPacket::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
                packet_id: u.packet_id,
                properties: props(&u.props),
                filters: Seq::from_slice(&self.filters),
            }),
            OPacket::UnsubAck(a) => Packet::UnsubAck(UnsubAck {
                packet_id: a.packet_id,
                properties: props(&a.props),
                reason_codes: Seq::from_slice(&a.codes),
            }),
            OPacket::PingReq => Packet::PingReq,
            OPacket::PingResp => Packet::PingResp,
            OPacket::Disconnect(d) => Packet::Disconnect(Disconnect {
                reason_code: ReasonCode(d.reason),
                properties: props(&d.props),
            }),
            OPacket::Auth(a) => Packet::Auth(Auth {
                reason_code: ReasonCode(a.reason),
                properties: props(&a.props),
            }),
        }
    }
}
