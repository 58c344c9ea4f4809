//! What the flags say: [`Args`], [`Command`], [`Payload`], [`ArgsError`].

use std::path::PathBuf;
use wasmqtt::broker::Broker;
use wasmqtt::codec::{ProtocolVersion, QoS};

use crate::props::Props;
use crate::TlsFlags;

/// `pub`, `sub` or `rr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Publish (mosquitto_pub).
    Pub,
    /// Subscribe and print messages (mosquitto_sub).
    Sub,
    /// MQTT 5 request/response: publish a request, print the response (mosquitto_rr).
    Rr,
}

impl Command {
    /// `"pub"`, `"sub"` or `"rr"`.
    pub fn name(self) -> &'static str {
        match self {
            Command::Pub => "pub",
            Command::Sub => "sub",
            Command::Rr => "rr",
        }
    }
}

/// Why the flags were not parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// `--help` was given: print [`crate::USAGE`] and exit with 0.
    #[error("help requested")]
    Help,
    /// A flag or value is wrong: print the message and [`crate::USAGE`], exit with 2.
    #[error("{0}")]
    Invalid(String),
}

/// Where the message of `pub` (or the request of `rr`) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `-m MESSAGE`.
    Message(Vec<u8>),
    /// `-n`: an empty message.
    Null,
    /// `-f FILE`: the file's contents, one message.
    File(PathBuf),
    /// `-s`: all of stdin, one message.
    Stdin,
    /// `-l`: each line of stdin, a message (empty lines skipped, as mosquitto_pub does).
    Lines,
}

/// The parsed flags of one `pub`, `sub` or `rr`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `pub`, `sub` or `rr`.
    pub command: Command,
    /// `-h`: the broker's host (default `localhost`); with `-L`, the first URL's host.
    pub host: String,
    /// `-p`: the broker's port (default 1883, 8883 with a CA); with `-L`, the first URL's port.
    pub port: u16,
    /// The brokers in failover order, never empty after [`crate::parse`]: each `-L` URL (with
    /// the WebSocket path of `--ws-path` for `ws`/`wss`, no path otherwise), or the one of
    /// `-h`/`-p` (`mqtts` when `--cafile` or `--capath` is given, as mosquitto does).
    pub brokers: Vec<Broker>,
    /// The TLS flags, when any was given.
    pub tls: Option<TlsFlags>,
    /// `-t`: the topic (pub and rr, exactly one) or the filters (sub, one or more).
    pub topics: Vec<String>,
    /// `-m`, `-n`, `-f`, `-s`, `-l`: the payload to publish (pub, rr).
    pub payload: Option<Payload>,
    /// `-q`: the QoS of the publish or the subscriptions.
    pub qos: QoS,
    /// `-r`: retain the published message.
    pub retain: bool,
    /// `-u`: user name.
    pub username: Option<String>,
    /// `-P`: password.
    pub password: Option<String>,
    /// `-i`: client identifier (`None`: the command makes one up).
    pub id: Option<String>,
    /// `-I`: the prefix of the made-up client identifier.
    pub id_prefix: Option<String>,
    /// `-k`: keep alive in seconds.
    pub keep_alive: u16,
    /// `-c` clears this: ask for a clean session.
    pub clean: bool,
    /// `-x` (or `-D connect session-expiry-interval`): MQTT 5 session expiry interval in
    /// seconds. With `-c` and no `-x` in MQTT 5, `0xFFFFFFFF` (never expires), as mosquitto.
    pub session_expiry: Option<u32>,
    /// `-V`: the protocol version.
    pub version: ProtocolVersion,
    /// `-C`: sub exits after this many messages.
    pub count: Option<u64>,
    /// `-W`: exit after this many seconds.
    pub timeout_secs: Option<u64>,
    /// `-v`: sub prints the topic before each payload.
    pub verbose: bool,
    /// `-d`: debug lines on stderr.
    pub debug: bool,
    /// `--quiet`: no error messages.
    pub quiet: bool,
    /// `--will-topic`.
    pub will_topic: Option<String>,
    /// `--will-payload`.
    pub will_payload: Vec<u8>,
    /// `--will-qos`.
    pub will_qos: QoS,
    /// `--will-retain`.
    pub will_retain: bool,
    /// `--disconnect-with-will` (ours): in MQTT 5, end with DISCONNECT 0x04.
    pub disconnect_with_will: bool,
    /// `-D`: the MQTT 5 properties.
    pub props: Props,
    /// `--repeat`: how many times pub publishes the message (at least 1).
    pub repeat: u32,
    /// `--repeat-delay`: milliseconds between repeats.
    pub repeat_delay_ms: u64,
    /// `-F`: sub's output format.
    pub format: Option<String>,
    /// `-N`: no newline after each message.
    pub no_newline: bool,
    /// `-R`: do not print retained (stale) messages.
    pub no_retained: bool,
    /// `-T`: filters whose messages are not printed.
    pub filter_out: Vec<String>,
    /// `-U`: filters to unsubscribe from.
    pub unsubscribe: Vec<String>,
    /// `-E`: exit once subscribed.
    pub exit_after_sub: bool,
    /// `--retained-only`: print retained messages, exit at the first that is not.
    pub retained_only: bool,
    /// `--remove-retained`: clear every retained message received.
    pub remove_retained: bool,
    /// `-e`: rr's response topic.
    pub response_topic: Option<String>,
}

impl Args {
    /// The defaults for `command`, before any flag.
    pub fn new(command: Command) -> Self {
        Args {
            command,
            host: "localhost".into(),
            port: 1883,
            brokers: Vec::new(),
            tls: None,
            topics: Vec::new(),
            payload: None,
            qos: QoS::AtMostOnce,
            retain: false,
            username: None,
            password: None,
            id: None,
            id_prefix: None,
            keep_alive: 60,
            clean: true,
            session_expiry: None,
            // mosquitto_rr speaks MQTT 5 unless told otherwise: request/response needs it.
            version: if command == Command::Rr {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V311
            },
            count: None,
            timeout_secs: None,
            verbose: false,
            debug: false,
            quiet: false,
            will_topic: None,
            will_payload: Vec::new(),
            will_qos: QoS::AtMostOnce,
            will_retain: false,
            disconnect_with_will: false,
            props: Props::default(),
            repeat: 1,
            repeat_delay_ms: 0,
            format: None,
            no_newline: false,
            no_retained: false,
            filter_out: Vec::new(),
            unsubscribe: Vec::new(),
            exit_after_sub: false,
            retained_only: false,
            remove_retained: false,
            response_topic: None,
        }
    }

    /// The session expiry interval CONNECT carries in MQTT 5: `-x`, else `0xFFFFFFFF` with
    /// `-c` (the session never expires, as mosquitto's `-c` asks), else none.
    pub fn effective_session_expiry(&self) -> Option<u32> {
        match (self.session_expiry, self.clean) {
            (Some(s), _) => Some(s),
            (None, false) if self.version.is_v5() => Some(u32::MAX),
            _ => None,
        }
    }
}
