//! The flags of `wasmqtt-cli pub|sub`, mosquitto_pub / mosquitto_sub style, parsed with
//! [lexopt](https://docs.rs/lexopt).
//!
//! One parser for every place that reads these flags: the command component itself
//! (`src/main.rs`, wasm32-wasip2) and `wasmqtt-host pub|sub`, which reads `-h` and `-p` from the
//! same [`Args`] to give the component network access to that broker and nothing else.
//!
//! ```
//! use wasmqtt_cli::{parse, Command};
//! let args = parse(["pub", "-h", "10.0.0.2", "-p", "1884", "-t", "a/b", "-m", "hi"]).unwrap();
//! assert_eq!((args.command, args.host.as_str(), args.port), (Command::Pub, "10.0.0.2", 1884));
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::ffi::OsString;
use wasmqtt::codec::{ProtocolVersion, QoS};

/// The usage text, printed by `--help` (exit code 0) and after a flag error (exit code 2).
pub const USAGE: &str = "usage: wasmqtt-cli pub|sub [flags]
  -h HOST         broker host (default localhost)
  -p PORT         broker port (default 1883)
  -t TOPIC        topic (pub: the topic; sub: a filter, may repeat)
  -m MESSAGE      message to publish (pub)
  -n              publish an empty message (pub)
  -q QOS          0, 1 or 2 (default 0)
  -r              retain (pub)
  -u USER         user name
  -P PASSWORD     password
  -i ID           client id (default: wasmqtt-pub-/sub- and a random suffix)
  -k SECS         keep alive (default 60)
  -c              do not clean the session (persistent session)
  -x SECS         MQTT 5 session expiry interval
  -V 311|5        protocol version (default 311; also mqttv311, mqttv5)
  -C COUNT        sub: exit after COUNT messages
  -W SECS         exit after SECS seconds (error if nothing completed)
  -v              sub: print the topic before each payload
  --will-topic T --will-payload P --will-qos Q --will-retain   will message
  --help          print this and exit";

/// `pub` or `sub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Publish one message (mosquitto_pub).
    Pub,
    /// Subscribe and print messages (mosquitto_sub).
    Sub,
}

impl Command {
    /// `"pub"` or `"sub"`.
    pub fn name(self) -> &'static str {
        match self {
            Command::Pub => "pub",
            Command::Sub => "sub",
        }
    }
}

/// Why the flags were not parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArgsError {
    /// `--help` was given: print [`USAGE`] and exit with 0.
    #[error("help requested")]
    Help,
    /// A flag or value is wrong: print the message and [`USAGE`], exit with 2.
    #[error("{0}")]
    Invalid(String),
}

/// The parsed flags of one `pub` or `sub`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    /// `pub` or `sub`.
    pub command: Command,
    /// `-h`: the broker's host (default `localhost`).
    pub host: String,
    /// `-p`: the broker's port (default 1883).
    pub port: u16,
    /// `-t`: the topic (pub, exactly one) or the filters (sub, one or more).
    pub topics: Vec<String>,
    /// `-m` / `-n`: the payload to publish.
    pub message: Option<Vec<u8>>,
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
    /// `-k`: keep alive in seconds.
    pub keep_alive: u16,
    /// `-c` clears this: ask for a clean session.
    pub clean: bool,
    /// `-x`: MQTT 5 session expiry interval in seconds.
    pub session_expiry: Option<u32>,
    /// `-V`: the protocol version.
    pub version: ProtocolVersion,
    /// `-C`: sub exits after this many messages.
    pub count: Option<u64>,
    /// `-W`: exit after this many seconds.
    pub timeout_secs: Option<u64>,
    /// `-v`: sub prints the topic before each payload.
    pub verbose: bool,
    /// `--will-topic`.
    pub will_topic: Option<String>,
    /// `--will-payload`.
    pub will_payload: Vec<u8>,
    /// `--will-qos`.
    pub will_qos: QoS,
    /// `--will-retain`.
    pub will_retain: bool,
}

impl Args {
    /// The defaults for `command`, before any flag.
    pub fn new(command: Command) -> Self {
        Args {
            command,
            host: "localhost".into(),
            port: 1883,
            topics: Vec::new(),
            message: None,
            qos: QoS::AtMostOnce,
            retain: false,
            username: None,
            password: None,
            id: None,
            keep_alive: 60,
            clean: true,
            session_expiry: None,
            version: ProtocolVersion::V311,
            count: None,
            timeout_secs: None,
            verbose: false,
            will_topic: None,
            will_payload: Vec::new(),
            will_qos: QoS::AtMostOnce,
            will_retain: false,
        }
    }
}

fn invalid(e: impl ToString) -> ArgsError {
    ArgsError::Invalid(e.to_string())
}

fn parse_qos(s: &str) -> Result<QoS, ArgsError> {
    s.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| invalid(format!("invalid QoS '{s}': must be 0, 1 or 2")))
}

fn text(flag: &str, v: OsString) -> Result<String, ArgsError> {
    v.into_string()
        .map_err(|v| invalid(format!("{flag}: not valid UTF-8: {v:?}")))
}

fn number<T: std::str::FromStr>(flag: &str, v: OsString) -> Result<T, ArgsError> {
    let s = text(flag, v)?;
    s.parse()
        .map_err(|_| invalid(format!("invalid value '{s}' for {flag}")))
}

/// Parses `pub|sub` and its flags (without the program name). The last of a repeated flag
/// wins, as in mosquitto, except `-t` on `sub`, which adds a filter.
pub fn parse<I>(args: I) -> Result<Args, ArgsError>
where
    I: IntoIterator,
    I::Item: Into<OsString>,
{
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let command = match p.next().map_err(invalid)? {
        Some(Value(v)) if v == "pub" => Command::Pub,
        Some(Value(v)) if v == "sub" => Command::Sub,
        Some(Value(v)) => {
            return Err(invalid(format!(
                "unknown command '{}': use pub or sub",
                v.to_string_lossy()
            )))
        }
        Some(Long("help")) => return Err(ArgsError::Help),
        Some(other) => return Err(invalid(other.unexpected())),
        None => return Err(invalid("missing command: pub or sub")),
    };
    let mut a = Args::new(command);
    while let Some(arg) = p.next().map_err(invalid)? {
        let flag = match &arg {
            Short(c) => format!("-{c}"),
            Long(l) => format!("--{l}"),
            Value(_) => String::new(),
        };
        match arg {
            Short('h') | Long("host") => a.host = text(&flag, p.value().map_err(invalid)?)?,
            Short('p') | Long("port") => a.port = number(&flag, p.value().map_err(invalid)?)?,
            Short('t') | Long("topic") => a.topics.push(text(&flag, p.value().map_err(invalid)?)?),
            Short('m') | Long("message") => {
                a.message = Some(text(&flag, p.value().map_err(invalid)?)?.into_bytes())
            }
            Short('n') | Long("null-message") => a.message = Some(Vec::new()),
            Short('q') | Long("qos") => {
                a.qos = parse_qos(&text(&flag, p.value().map_err(invalid)?)?)?
            }
            Short('r') | Long("retain") => a.retain = true,
            Short('u') | Long("username") => {
                a.username = Some(text(&flag, p.value().map_err(invalid)?)?)
            }
            Short('P') | Long("pw") => a.password = Some(text(&flag, p.value().map_err(invalid)?)?),
            Short('i') | Long("id") => a.id = Some(text(&flag, p.value().map_err(invalid)?)?),
            Short('k') | Long("keepalive") => {
                a.keep_alive = number(&flag, p.value().map_err(invalid)?)?
            }
            Short('c') | Long("disable-clean-session") => a.clean = false,
            Short('x') => a.session_expiry = Some(number(&flag, p.value().map_err(invalid)?)?),
            Short('V') | Long("protocol-version") => {
                a.version = match text(&flag, p.value().map_err(invalid)?)?.as_str() {
                    "311" | "mqttv311" | "4" => ProtocolVersion::V311,
                    "5" | "mqttv5" => ProtocolVersion::V5,
                    v => {
                        return Err(invalid(format!(
                            "unsupported protocol version '{v}': use 311 or 5"
                        )))
                    }
                }
            }
            Short('C') => a.count = Some(number(&flag, p.value().map_err(invalid)?)?),
            Short('W') => a.timeout_secs = Some(number(&flag, p.value().map_err(invalid)?)?),
            Short('v') | Long("verbose") => a.verbose = true,
            Long("will-topic") => a.will_topic = Some(text(&flag, p.value().map_err(invalid)?)?),
            Long("will-payload") => {
                a.will_payload = text(&flag, p.value().map_err(invalid)?)?.into_bytes()
            }
            Long("will-qos") => a.will_qos = parse_qos(&text(&flag, p.value().map_err(invalid)?)?)?,
            Long("will-retain") => a.will_retain = true,
            Long("help") => return Err(ArgsError::Help),
            other => return Err(invalid(other.unexpected())),
        }
    }
    if a.topics.is_empty() {
        return Err(invalid("-t is required"));
    }
    if a.command == Command::Pub {
        if a.topics.len() != 1 {
            return Err(invalid("pub takes exactly one -t"));
        }
        if a.message.is_none() {
            return Err(invalid("pub needs -m MESSAGE or -n"));
        }
    }
    if a.password.is_some() && a.username.is_none() && a.version == ProtocolVersion::V311 {
        return Err(invalid("-P needs -u in MQTT 3.1.1"));
    }
    Ok(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mosquitto_flags() {
        let a = parse([
            "sub", "-h", "h", "-p", "1884", "-t", "a/#", "-t", "b", "-q", "2", "-V", "5", "-v",
            "-C", "3", "-W", "9", "-c", "-x", "60", "-i", "id", "-k", "5",
        ])
        .unwrap();
        assert_eq!(a.command, Command::Sub);
        assert_eq!((a.host.as_str(), a.port), ("h", 1884));
        assert_eq!(a.topics, ["a/#", "b"]);
        assert_eq!((a.qos, a.version), (QoS::ExactlyOnce, ProtocolVersion::V5));
        assert!(a.verbose && !a.clean);
        assert_eq!(
            (a.count, a.timeout_secs, a.session_expiry),
            (Some(3), Some(9), Some(60))
        );
        assert_eq!((a.id.as_deref(), a.keep_alive), (Some("id"), 5));
    }

    #[test]
    fn values_may_start_with_a_dash_and_last_flag_wins() {
        let a = parse([
            "pub",
            "-p",
            "1",
            "-p",
            "2",
            "-t",
            "t",
            "-m",
            "-5",
            "--will-qos",
            "1",
        ]);
        let a = a.unwrap();
        assert_eq!((a.port, a.message.as_deref()), (2, Some(&b"-5"[..])));
        assert_eq!(a.will_qos, QoS::AtLeastOnce);
    }

    #[test]
    fn help_and_errors() {
        assert_eq!(parse(["--help"]), Err(ArgsError::Help));
        assert_eq!(parse(["pub", "--help"]), Err(ArgsError::Help));
        for bad in [
            &["pub", "-t", "a"][..],
            &["pub", "-t", "a", "-t", "b", "-m", "x"],
            &["sub"],
            &["sub", "-t", "a", "-q", "3"],
            &["sub", "-t", "a", "-p", "65536"],
            &["sub", "-t", "a", "-V", "3"],
            &["sub", "-t", "a", "--bogus"],
            &["sub", "-t"],
            &["post", "-t", "a"],
            &[],
            &["pub", "-t", "a", "-m", "x", "-P", "pw"],
        ] {
            assert!(matches!(parse(bad), Err(ArgsError::Invalid(_))), "{bad:?}");
        }
    }
}
