//! Connection options and the session's limits, with a builder.

use super::backoff::ReconnectPolicy;
use super::message::MessageProperties;
use crate::broker::Broker;
use crate::codec::{ProtocolVersion, QoS};
use alloc::string::String;
use alloc::vec::Vec;

/// The will message the broker publishes when the client goes away uncleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Topic name.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS.
    pub qos: QoS,
    /// Retain flag.
    pub retain: bool,
    /// v5 will delay interval in seconds.
    pub delay_interval: Option<u32>,
    /// v5 message properties of the will.
    pub properties: MessageProperties,
}

impl LastWill {
    /// A will at QoS 0, not retained.
    pub fn new(topic: impl Into<String>, payload: impl Into<Vec<u8>>) -> Self {
        LastWill {
            topic: topic.into(),
            payload: payload.into(),
            qos: QoS::AtMostOnce,
            retain: false,
            delay_interval: None,
            properties: MessageProperties::default(),
        }
    }

    /// The same will at `qos`.
    pub fn qos(mut self, qos: QoS) -> Self {
        self.qos = qos;
        self
    }

    /// The same will, retained or not.
    pub fn retain(mut self, retain: bool) -> Self {
        self.retain = retain;
        self
    }
}

/// What the session does when its very first connection attempt fails: the transport does not
/// open, CONNACK refuses, or nothing comes in time. After the first accepted CONNACK, every
/// lost connection is retried with the back-off ([`Options::reconnect`]) whatever this says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FirstConnect {
    /// Close the session for good at once, with the reason of the failure (as `mosquitto_pub`
    /// does): the default on every target.
    #[default]
    GiveUp,
    /// Keep retrying with the reconnect back-off (the browser's `retryInitialConnection`).
    Retry,
}

/// Everything a [`super::Session`] needs to know: what CONNECT says and the limits it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Protocol version.
    pub version: ProtocolVersion,
    /// Client identifier; empty asks the broker to assign one (v5) or uses a clean session (3.1.1).
    pub client_id: String,
    /// Clean start (v5) / clean session (3.1.1) on the first connection. In v5 reconnections
    /// always ask to resume: the session expiry interval decides whether anything is kept.
    pub clean_start: bool,
    /// Keep alive in seconds (0 turns it off). A v5 broker may impose its own.
    pub keep_alive: u16,
    /// User name.
    pub username: Option<String>,
    /// Password.
    pub password: Option<Vec<u8>>,
    /// Will message.
    pub will: Option<LastWill>,
    /// v5 session expiry interval in seconds.
    pub session_expiry_interval: Option<u32>,
    /// v5 receive maximum announced to the broker (inbound QoS 1/2 in flight), 1..=65535.
    pub receive_maximum: u16,
    /// Largest packet accepted from the broker, announced in v5 CONNECT.
    pub max_packet_size: u32,
    /// v5 topic alias maximum announced to the broker (inbound aliases accepted).
    pub topic_alias_maximum: u16,
    /// v5: assign topic aliases to outbound messages (least recently used first to go),
    /// within the broker's topic alias maximum.
    pub outbound_topic_aliases: bool,
    /// v5 request problem information.
    pub request_problem_information: Option<bool>,
    /// v5 request response information.
    pub request_response_information: Option<bool>,
    /// v5 request/response ([`super::Session::request`]): the response topic is
    /// `<prefix>/<client id>/resp` (unless the broker gave Response Information, asked for with
    /// [`Options::request_response_information`]). Default
    /// [`super::DEFAULT_RESPONSE_TOPIC_PREFIX`].
    pub response_topic_prefix: String,
    /// v5 user properties of CONNECT.
    pub user_properties: Vec<(String, String)>,
    /// v5 enhanced authentication method.
    pub authentication_method: Option<String>,
    /// v5 initial authentication data.
    pub authentication_data: Option<Vec<u8>>,
    /// Most outbound QoS 1/2 messages in flight (further bounded by the broker's receive maximum).
    pub max_inflight: u16,
    /// Most messages waiting to be sent (offline, or while the inflight window is full).
    pub max_queued_messages: usize,
    /// Most bytes (topic + payload + properties) waiting to be sent.
    pub max_queued_bytes: usize,
    /// Most bytes handed out for writing that the driver has not yet taken; past this,
    /// QoS 0 publishes answer [`super::PublishError::WouldBlock`].
    pub max_pending_write_bytes: usize,
    /// Most bytes coalesced before a [`super::Output::Transmit`] goes out in the middle of a
    /// `poll_output` drain; a smaller batch goes out at the end of the drain. A single packet
    /// larger than this goes out whole. Default [`super::DEFAULT_MAX_TRANSMIT_BYTES`] (64 KiB).
    pub max_transmit_bytes: usize,
    /// How long a connection attempt may take, in milliseconds: the transport open (TCP, TLS,
    /// WebSocket) and CONNACK together, counted from the session's request to open the
    /// transport ([`super::Output::OpenTransport`]). Past it the session asks the driver to
    /// close the transport and counts the attempt as failed
    /// ([`super::DisconnectReason::ConnectTimeout`]).
    pub connect_timeout_ms: u64,
    /// How long to wait for any packet after a PINGREQ before declaring the connection dead;
    /// `None` uses half the keep-alive in force ([`super::default_ping_timeout_ms`]), so that a
    /// silent broker is noticed within 1.5 × the keep-alive of its last packet (in general
    /// within keep-alive + ping timeout).
    pub ping_timeout_ms: Option<u64>,
    /// v5 only: when the broker answers with a 3.1.1 CONNACK (it does not support MQTT 5.0),
    /// connect again with MQTT 3.1.1 instead of closing the session. Off by default.
    pub fallback_to_v311: bool,
    /// What a failure of the very first connection attempt does (default: give up).
    pub first_connect: FirstConnect,
    /// Reconnection policy (after the first accepted CONNACK, or with [`FirstConnect::Retry`]).
    pub reconnect: ReconnectPolicy,
    /// Seed for the jitter of the reconnect back-off (inject real randomness from the driver).
    pub random_seed: u64,
    /// Brokers to connect to, tried in turn on the first connection and on every reconnection
    /// (failover). Empty (the default): the driver's own single address, as before. At most
    /// [`super::MAX_BROKERS`] ([`Options::validate`]).
    ///
    /// The session decides which one each attempt targets and the driver opens it
    /// ([`super::Session::broker`] on [`super::Output::OpenTransport`]):
    /// - every failed attempt (the transport does not open, a TLS/WebSocket handshake failure,
    ///   the connect timeout, a refusal that is retried, a connection lost after CONNACK)
    ///   moves on to the next broker, wrapping around;
    /// - within a round through the list the next broker is tried at once (no delay); after a
    ///   whole round without an accepted CONNACK the [`Options::reconnect`] back-off applies,
    ///   growing per round. A connection lost after CONNACK is the first failure of a new
    ///   round: with `[A, B]`, A dies → B at once; B fails → back-off (round 0) → A → B at once
    ///   → back-off (round 1) → … With one broker that is exactly the back-off of an empty list;
    /// - [`FirstConnect::GiveUp`] gives up only once every broker failed in the first round,
    ///   with the last failure's reason;
    /// - a refusal that retrying cannot fix (bad credentials, ...) still closes the session;
    /// - a broker URL's credentials ([`Broker::username`], [`Broker::password`]) replace
    ///   [`Options::username`] and [`Options::password`] (both) in the CONNECT sent to it;
    /// - [`super::ConnectionInfo::broker`] names the broker a CONNACK accepted;
    /// - messages in flight survive a failover as they survive a reconnect: resent when the
    ///   next broker resumes the session, the requeue rule when it does not.
    pub brokers: Vec<Broker>,
    /// Durable session state (see [durable session state](super#durable-session-state)): `None`
    /// (the default) keeps everything in memory only, at no cost. `Some(policy)`: every change
    /// of the session's durable state comes out as store operations
    /// ([`super::Session::take_store_ops`]) the driver applies, syncing as `policy` says; a
    /// QoS 1/2 message is admitted, and anything depending on a change is transmitted, only
    /// once the driver reported the change stored ([`super::Session::handle_stored`]).
    /// Needs the `durable` cargo feature (on by default); without it
    /// [`validate`](Options::validate) refuses `Some`.
    pub durable: Option<super::SyncPolicy>,
    /// Manual acknowledgement of inbound QoS 1/2 messages: PUBACK / PUBREC go out only when
    /// the application calls [`super::Session::ack`] with the message's
    /// [`super::ReceivedMessage::ack`] id, in the order the messages arrived. Off by default
    /// (acknowledged on arrival).
    pub manual_acks: bool,
    /// Write coalescing across acknowledgements: `Some` holds back, Nagle-like, what the
    /// session writes in answer to bytes from the broker while acknowledgements keep arriving
    /// and some message in flight awaits only the broker (see [`super::WriteCoalescing`]).
    /// On by default ([`WriteCoalescing::default`](super::WriteCoalescing): a quarter of the
    /// window, at most 1 ms); `None`: every drain writes at its end.
    pub write_coalescing: Option<super::WriteCoalescing>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            version: ProtocolVersion::V5,
            client_id: String::new(),
            clean_start: true,
            keep_alive: 60,
            username: None,
            password: None,
            will: None,
            session_expiry_interval: None,
            receive_maximum: 65_535,
            max_packet_size: 1024 * 1024,
            topic_alias_maximum: 64,
            outbound_topic_aliases: true,
            request_problem_information: None,
            request_response_information: None,
            response_topic_prefix: String::from(super::DEFAULT_RESPONSE_TOPIC_PREFIX),
            user_properties: Vec::new(),
            authentication_method: None,
            authentication_data: None,
            max_inflight: 100,
            max_queued_messages: 10_000,
            max_queued_bytes: 16 * 1024 * 1024,
            max_pending_write_bytes: 4 * 1024 * 1024,
            max_transmit_bytes: super::DEFAULT_MAX_TRANSMIT_BYTES,
            connect_timeout_ms: 10_000,
            ping_timeout_ms: None,
            fallback_to_v311: false,
            first_connect: FirstConnect::GiveUp,
            reconnect: ReconnectPolicy::default(),
            random_seed: 0,
            brokers: Vec::new(),
            durable: None,
            manual_acks: false,
            write_coalescing: Some(super::WriteCoalescing::default()),
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {
        $(
            #[$doc]
            pub fn $name(mut self, v: $ty) -> Self {
                self.$name = v;
                self
            }
        )*
    };
}

impl Options {
    /// Options for `client_id` with the defaults (MQTT 5.0, keep alive 60 s, clean start).
    pub fn new(client_id: impl Into<String>) -> Self {
        Options {
            client_id: client_id.into(),
            ..Options::default()
        }
    }

    /// Sets user name and password.
    pub fn credentials(
        mut self,
        username: impl Into<String>,
        password: impl Into<Vec<u8>>,
    ) -> Self {
        self.username = Some(username.into());
        self.password = Some(password.into());
        self
    }

    /// Sets the will.
    pub fn will(mut self, will: LastWill) -> Self {
        self.will = Some(will);
        self
    }

    /// Adds `broker` at the end of [`Options::brokers`] (failover order).
    pub fn broker(mut self, broker: Broker) -> Self {
        self.brokers.push(broker);
        self
    }

    /// Replaces [`Options::brokers`] with `brokers`, in failover order.
    pub fn brokers(mut self, brokers: impl IntoIterator<Item = Broker>) -> Self {
        self.brokers = brokers.into_iter().collect();
        self
    }

    /// Sets the prefix of the request/response topic ([`Options::response_topic_prefix`]).
    pub fn response_topic_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.response_topic_prefix = prefix.into();
        self
    }

    /// Sets the v5 session expiry interval.
    pub fn session_expiry_interval(mut self, secs: u32) -> Self {
        self.session_expiry_interval = Some(secs);
        self
    }

    setter! {
        /// Sets the protocol version.
        version: ProtocolVersion,
        /// Sets clean start / clean session.
        clean_start: bool,
        /// Sets the keep alive in seconds.
        keep_alive: u16,
        /// Sets the v5 receive maximum.
        receive_maximum: u16,
        /// Sets the largest packet accepted.
        max_packet_size: u32,
        /// Sets the v5 inbound topic alias maximum.
        topic_alias_maximum: u16,
        /// Turns outbound topic aliases on or off.
        outbound_topic_aliases: bool,
        /// Sets the inflight limit.
        max_inflight: u16,
        /// Sets the queue's message budget.
        max_queued_messages: usize,
        /// Sets the queue's byte budget.
        max_queued_bytes: usize,
        /// Sets the write budget for QoS 0.
        max_pending_write_bytes: usize,
        /// Sets the coalescing bound of a transmit.
        max_transmit_bytes: usize,
        /// Sets the connect timeout (transport open plus CONNACK).
        connect_timeout_ms: u64,
        /// Sets the ping timeout (`None`: half the keep-alive).
        ping_timeout_ms: Option<u64>,
        /// Falls back to MQTT 3.1.1 when a v5 CONNECT gets a 3.1.1 CONNACK.
        fallback_to_v311: bool,
        /// Sets what a failure of the first connection attempt does.
        first_connect: FirstConnect,
        /// Sets the reconnect policy.
        reconnect: ReconnectPolicy,
        /// Sets the jitter seed.
        random_seed: u64,
        /// Turns durable session state on with this sync policy (`None`: memory only).
        durable: Option<super::SyncPolicy>,
        /// Turns manual acknowledgement of inbound QoS 1/2 messages on or off.
        manual_acks: bool,
    }
}
