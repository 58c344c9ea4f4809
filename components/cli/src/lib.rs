//! The flags of `wasmqtt-cli pub|sub`, mosquitto_pub / mosquitto_sub style, parsed with
//! [lexopt](https://docs.rs/lexopt).
//!
//! One parser for every place that reads these flags: the command component itself
//! (`src/main.rs`, wasm32-wasip2) and `wasmqtt-host pub|sub`, which reads the brokers (`-L`, or
//! `-h` and `-p`) and the TLS files from the same [`Args`] to give the component network access
//! to those brokers, read access to those files' directories, and nothing else.
//!
//! ```
//! use wasmqtt_cli::{parse, Command};
//! let args = parse(["pub", "-h", "10.0.0.2", "-p", "1884", "-t", "a/b", "-m", "hi"]).unwrap();
//! assert_eq!((args.command, args.host.as_str(), args.port), (Command::Pub, "10.0.0.2", 1884));
//!
//! // mosquitto's -L: the URL's path is the topic; several -L are a failover list.
//! let args = parse(["sub", "-L", "mqtts://u:pw@a.example/x/y", "-L", "mqtts://b.example"]).unwrap();
//! assert_eq!(args.topics, ["x/y"]);
//! assert_eq!(args.brokers[1].to_string(), "mqtts://b.example:8883");
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use wasmqtt::broker::{Broker, Scheme, DEFAULT_WEBSOCKET_PATH};
use wasmqtt::codec::{ProtocolVersion, QoS};

mod tls;
pub use tls::{TlsFlags, TlsPem, TlsVersion};

/// The usage text, printed by `--help` (exit code 0) and after a flag error (exit code 2).
pub const USAGE: &str = "usage: wasmqtt-cli pub|sub [flags]
  -h HOST         broker host (default localhost)
  -p PORT         broker port (default 1883; 8883 with --cafile/--capath)
  -L URL          broker and topic as one URL instead of -h -p -t:
                  mqtt(s)://[user[:password]@]host[:port]/topic or ws(s)://...;
                  repeat -L for failover (tried in turn; each names the same topic or none)
  --ws-path PATH  WebSocket path for ws(s):// URLs (default /mqtt)
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
  --cafile FILE   trust the CA certificates in this PEM file (with -h: TLS, port 8883)
  --capath DIR    trust every *.pem and *.crt in this directory (with -h: TLS, port 8883)
  --cert FILE     client certificate (PEM), with --key
  --key FILE      client private key (PEM), with --cert
  --insecure      do not check the broker's host name (the CA chain still is)
  --tls-alpn PROTO  offer this ALPN protocol (may repeat)
  --tls-version tlsv1.2|tlsv1.3   lowest TLS version to accept
  --tls-server-name NAME          name for SNI and the certificate check
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
    /// `-h`: the broker's host (default `localhost`); with `-L`, the first URL's host.
    pub host: String,
    /// `-p`: the broker's port (default 1883, 8883 with a CA); with `-L`, the first URL's port.
    pub port: u16,
    /// The brokers in failover order, never empty after [`parse`]: each `-L` URL (with the
    /// WebSocket path of `--ws-path` for `ws`/`wss`, no path otherwise), or the one of `-h`/`-p`
    /// (`mqtts` when `--cafile` or `--capath` is given, as mosquitto does).
    pub brokers: Vec<Broker>,
    /// The TLS flags, when any was given.
    pub tls: Option<TlsFlags>,
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
            brokers: Vec::new(),
            tls: None,
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

fn path(flag: &str, v: OsString) -> Result<PathBuf, ArgsError> {
    if v.is_empty() {
        return Err(invalid(format!("{flag}: empty path")));
    }
    Ok(PathBuf::from(v))
}

/// One `-L` URL: the broker, and the topic its path names (`None` when it names none).
fn broker_url(url: &str) -> Result<(Broker, Option<String>), ArgsError> {
    let broker = Broker::parse(url).map_err(|e| invalid(format!("-L: {e}")))?;
    // The topic is everything after the '/' that ends the authority, as mosquitto's -L reads it.
    let rest = url.trim().split_once("://").map_or("", |(_, r)| r);
    let topic = match rest.find(['/', '?', '#']) {
        Some(i) if rest[i..].starts_with('/') && rest.len() > i + 1 => {
            Some(rest[i + 1..].to_string())
        }
        _ => None,
    };
    Ok((broker, topic))
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
    let mut tls = TlsFlags::default();
    let (mut urls, mut ws_path) = (Vec::<String>::new(), None::<String>);
    let (mut host_given, mut port_given) = (false, false);
    while let Some(arg) = p.next().map_err(invalid)? {
        let flag = match &arg {
            Short(c) => format!("-{c}"),
            Long(l) => format!("--{l}"),
            Value(_) => String::new(),
        };
        match arg {
            Short('h') | Long("host") => {
                a.host = text(&flag, p.value().map_err(invalid)?)?;
                host_given = true;
            }
            Short('p') | Long("port") => {
                a.port = number(&flag, p.value().map_err(invalid)?)?;
                port_given = true;
            }
            Short('L') | Long("url") => urls.push(text(&flag, p.value().map_err(invalid)?)?),
            Long("ws-path") => ws_path = Some(text(&flag, p.value().map_err(invalid)?)?),
            Long("cafile") => tls.cafile = Some(path(&flag, p.value().map_err(invalid)?)?),
            Long("capath") => tls.capath = Some(path(&flag, p.value().map_err(invalid)?)?),
            Long("cert") => tls.cert = Some(path(&flag, p.value().map_err(invalid)?)?),
            Long("key") => tls.key = Some(path(&flag, p.value().map_err(invalid)?)?),
            Long("insecure") => tls.insecure = true,
            Long("tls-alpn") => tls.alpn.push(text(&flag, p.value().map_err(invalid)?)?),
            Long("tls-version") => {
                tls.version = Some(TlsVersion::parse(&text(
                    &flag,
                    p.value().map_err(invalid)?,
                )?)?)
            }
            Long("tls-server-name") => {
                tls.server_name = Some(text(&flag, p.value().map_err(invalid)?)?)
            }
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
    brokers(
        &mut a,
        urls,
        ws_path,
        tls,
        host_given || port_given,
        port_given,
    )?;
    if a.topics.is_empty() {
        return Err(invalid("-t (or a topic in the -L URL) is required"));
    }
    if a.command == Command::Pub {
        if a.topics.len() != 1 {
            return Err(invalid("pub takes exactly one -t"));
        }
        if a.message.is_none() {
            return Err(invalid("pub needs -m MESSAGE or -n"));
        }
    }
    let url_user = a.brokers.iter().any(|b| b.username.is_some());
    if a.password.is_some()
        && a.username.is_none()
        && !url_user
        && a.version == ProtocolVersion::V311
    {
        return Err(invalid("-P needs -u in MQTT 3.1.1"));
    }
    Ok(a)
}

/// Fills [`Args::brokers`], [`Args::tls`] and, for `-L`, the topic, host and port.
fn brokers(
    a: &mut Args,
    urls: Vec<String>,
    ws_path: Option<String>,
    tls: TlsFlags,
    host_or_port: bool,
    port_given: bool,
) -> Result<(), ArgsError> {
    tls.check()?;
    let has_ca = tls.has_ca();
    if let Some(p) = &ws_path {
        if !p.starts_with('/') {
            return Err(invalid(format!("--ws-path '{p}': must start with /")));
        }
    }
    if urls.is_empty() {
        let scheme = if has_ca { Scheme::Mqtts } else { Scheme::Mqtt };
        if has_ca && !port_given {
            a.port = scheme.default_port();
        }
        if !tls.is_empty() && !has_ca {
            return Err(invalid(
                "TLS flags need --cafile or --capath with -h (or an mqtts:// or wss:// -L URL)",
            ));
        }
        if ws_path.is_some() {
            return Err(invalid("--ws-path needs a ws:// or wss:// -L URL"));
        }
        a.brokers = vec![Broker::new(scheme, a.host.clone(), a.port)];
    } else {
        if host_or_port || !a.topics.is_empty() {
            return Err(invalid("-L cannot be combined with -h, -p or -t"));
        }
        let mut topic: Option<String> = None;
        for url in &urls {
            let (mut b, t) = broker_url(url)?;
            b.path = if b.scheme.is_websocket() {
                ws_path
                    .clone()
                    .unwrap_or_else(|| DEFAULT_WEBSOCKET_PATH.into())
            } else {
                String::new()
            };
            match (&topic, t) {
                (None, Some(t)) => topic = Some(t),
                (Some(first), Some(t)) if *first != t => {
                    return Err(invalid(format!(
                        "-L URLs name different topics ('{first}' and '{t}')"
                    )))
                }
                _ => {}
            }
            a.brokers.push(b);
        }
        if !tls.is_empty() && !a.brokers.iter().any(|b| b.scheme.is_tls()) {
            return Err(invalid("TLS flags need an mqtts:// or wss:// -L URL"));
        }
        if ws_path.is_some() && !a.brokers.iter().any(|b| b.scheme.is_websocket()) {
            return Err(invalid("--ws-path needs a ws:// or wss:// -L URL"));
        }
        a.host = a.brokers[0].host.clone();
        a.port = a.brokers[0].port;
        a.topics.extend(topic);
    }
    a.tls = (!tls.is_empty()).then_some(tls);
    Ok(())
}

/// `d` without `.` components (`./certs` is `certs`), `.` when nothing is left: the directory
/// names `wasmqtt-host` grants, and the paths the command opens, so that they match in the
/// component's libc (which does not match `./certs/ca.pem` against a directory `certs`).
pub(crate) fn without_dot(d: &Path) -> PathBuf {
    let p: PathBuf = d
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

impl Args {
    /// The directories the command must be able to read (the TLS files' and `--capath`), each
    /// once, in flag order: what `wasmqtt-host` grants it, read-only.
    pub fn read_dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        if let Some(t) = &self.tls {
            let files = [&t.cafile, &t.cert, &t.key];
            let parents = files
                .into_iter()
                .flatten()
                .map(|f| f.parent().unwrap_or(Path::new("")).to_path_buf());
            for d in parents.chain(t.capath.clone()).map(|d| without_dot(&d)) {
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
        }
        dirs
    }
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

    fn error(args: &[&str]) -> String {
        match parse(args) {
            Err(ArgsError::Invalid(e)) => e,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn h_and_p_make_one_plain_broker() {
        let a = parse(["pub", "-h", "b", "-p", "1884", "-t", "t", "-m", "x"]).unwrap();
        assert_eq!(a.brokers, [Broker::tcp("b", 1884)]);
        assert_eq!(a.tls, None);
        let a = parse(["sub", "-t", "t"]).unwrap();
        assert_eq!(a.brokers[0].to_string(), "mqtt://localhost:1883");
    }

    #[test]
    fn url_gives_broker_topic_and_credentials() {
        let a = parse([
            "pub",
            "-L",
            "mqtt://u:p%40ss@10.0.0.1:1999/a/b c",
            "-m",
            "x",
        ])
        .unwrap();
        assert_eq!(a.topics, ["a/b c"]);
        let b = &a.brokers[0];
        assert_eq!(
            (b.scheme, b.host.as_str(), b.port),
            (Scheme::Mqtt, "10.0.0.1", 1999)
        );
        assert_eq!(
            (b.username.as_deref(), b.password.as_deref()),
            (Some("u"), Some("p@ss"))
        );
        assert_eq!(b.path, "", "the path is the topic, not a path");
        assert_eq!((a.host.as_str(), a.port), ("10.0.0.1", 1999));
        // A wildcard filter, the default port, the aliases.
        let a = parse(["sub", "-L", "tcp://h/x/#"]).unwrap();
        assert_eq!((a.topics[0].as_str(), a.brokers[0].port), ("x/#", 1883));
        // -P with a URL user name is fine in 3.1.1.
        assert!(parse(["sub", "-L", "mqtt://u@h/t", "-P", "pw"]).is_ok());
    }

    #[test]
    fn websocket_urls_take_the_path_from_ws_path() {
        let a = parse(["sub", "-L", "ws://h/t/1"]).unwrap();
        let b = &a.brokers[0];
        assert_eq!(
            (b.scheme, b.port, b.path.as_str()),
            (Scheme::Ws, 80, "/mqtt")
        );
        assert_eq!(a.topics, ["t/1"]);
        let a = parse(["sub", "-L", "wss://h:8443/t", "--ws-path", "/ws"]).unwrap();
        let b = &a.brokers[0];
        assert_eq!(
            (b.scheme, b.port, b.path.as_str()),
            (Scheme::Wss, 8443, "/ws")
        );
    }

    #[test]
    fn repeated_urls_are_a_failover_list() {
        let a = parse([
            "pub",
            "-L",
            "mqtt://a:1/t",
            "-L",
            "mqtt://b:2",
            "-L",
            "mqtt://c:3/t",
            "-m",
            "x",
        ])
        .unwrap();
        let hosts: Vec<_> = a
            .brokers
            .iter()
            .map(|b| (b.host.as_str(), b.port))
            .collect();
        assert_eq!(hosts, [("a", 1), ("b", 2), ("c", 3)]);
        assert_eq!(a.topics, ["t"]);
        let e = error(&["pub", "-L", "mqtt://a/t", "-L", "mqtt://b/u", "-m", "x"]);
        assert!(e.contains("different topics"), "{e}");
    }

    #[test]
    fn bad_urls_and_url_conflicts_are_flag_errors() {
        let e = error(&["sub", "-L", "http://h/t"]);
        assert!(e.contains("unsupported broker URL scheme `http`"), "{e}");
        let e = error(&["sub", "-L", "h/t"]);
        assert!(e.contains("has no scheme"), "{e}");
        let e = error(&["sub", "-L", "mqtt://h:99999/t"]);
        assert!(e.contains("invalid port"), "{e}");
        let e = error(&["sub", "-L", "mqtt://:pw@/t"]);
        assert!(e.contains("no host"), "{e}");
        assert!(
            !e.contains("pw"),
            "the password stays out of the message: {e}"
        );
        for (args, want) in [
            (
                &["sub", "-L", "mqtt://h/t", "-h", "x"][..],
                "-L cannot be combined",
            ),
            (
                &["sub", "-L", "mqtt://h/t", "-p", "1"],
                "-L cannot be combined",
            ),
            (
                &["sub", "-L", "mqtt://h/t", "-t", "u"],
                "-L cannot be combined",
            ),
            (
                &["sub", "-L", "mqtt://h"],
                "-t (or a topic in the -L URL) is required",
            ),
            (
                &["sub", "-L", "mqtt://h/"],
                "-t (or a topic in the -L URL) is required",
            ),
            (&["sub", "-L"], "missing argument"),
            (
                &["sub", "-L", "mqtt://h/t", "--ws-path", "/x"],
                "--ws-path needs",
            ),
            (
                &["sub", "-L", "ws://h/t", "--ws-path", "x"],
                "must start with /",
            ),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn tls_flags() {
        let a = parse([
            "sub",
            "-L",
            "mqtts://h/t",
            "--cafile",
            "/etc/ca.pem",
            "--cert",
            "c.pem",
            "--key",
            "k.pem",
            "--insecure",
            "--tls-alpn",
            "mqtt",
            "--tls-alpn",
            "x",
            "--tls-version",
            "tlsv1.3",
            "--tls-server-name",
            "broker",
        ])
        .unwrap();
        let t = a.tls.clone().unwrap();
        assert_eq!(t.cafile.as_deref(), Some(Path::new("/etc/ca.pem")));
        assert_eq!(
            (t.cert.as_deref(), t.key.as_deref()),
            (Some(Path::new("c.pem")), Some(Path::new("k.pem")))
        );
        assert!(t.insecure);
        assert_eq!(t.alpn, ["mqtt", "x"]);
        assert_eq!(
            (t.version, t.server_name.as_deref()),
            (Some(TlsVersion::Tls13), Some("broker"))
        );
        assert_eq!(a.read_dirs(), [PathBuf::from("/etc"), PathBuf::from(".")]);
        // mqtts:// without a CA: the built-in roots, no TLS flags.
        assert_eq!(parse(["sub", "-L", "mqtts://h/t"]).unwrap().tls, None);
    }

    #[test]
    fn a_ca_with_h_switches_to_tls_on_8883() {
        let a = parse(["sub", "-h", "h", "-t", "t", "--capath", "/certs"]).unwrap();
        assert_eq!(a.brokers[0].to_string(), "mqtts://h:8883");
        assert_eq!(a.port, 8883);
        assert_eq!(a.read_dirs(), [PathBuf::from("/certs")]);
        let a = parse([
            "sub",
            "-L",
            "mqtts://h/t",
            "--cafile",
            "./d/ca.pem",
            "--capath",
            "./d/",
            "--cert",
            "c.pem",
            "--key",
            "./k.pem",
        ])
        .unwrap();
        assert_eq!(a.read_dirs(), [PathBuf::from("d"), PathBuf::from(".")]);
        let a = parse([
            "sub", "-h", "h", "-p", "9000", "-t", "t", "--cafile", "ca.pem",
        ])
        .unwrap();
        assert_eq!(a.brokers[0].to_string(), "mqtts://h:9000");
    }

    #[test]
    fn bad_tls_flags_are_flag_errors() {
        for (args, want) in [
            (
                &[
                    "sub",
                    "-t",
                    "t",
                    "--cafile",
                    "c",
                    "--tls-version",
                    "tlsv1.1",
                ][..],
                "unsupported TLS version 'tlsv1.1'",
            ),
            (
                &["sub", "-t", "t", "--cafile", "c", "--tls-version"],
                "missing argument",
            ),
            (&["sub", "-t", "t", "--cafile"], "missing argument"),
            (&["sub", "-t", "t", "--cafile", ""], "empty path"),
            (
                &["sub", "-t", "t", "--cafile", "c", "--cert", "c.pem"],
                "--cert needs --key",
            ),
            (
                &["sub", "-t", "t", "--cafile", "c", "--key", "k.pem"],
                "--key needs --cert",
            ),
            (
                &["sub", "-t", "t", "--insecure"],
                "need --cafile or --capath",
            ),
            (
                &["sub", "-L", "mqtt://h/t", "--cafile", "c"],
                "need an mqtts:// or wss://",
            ),
        ] {
            let e = error(args);
            assert!(e.contains(want), "{args:?}: {e}");
        }
    }

    #[test]
    fn load_reads_the_files_and_names_the_unreadable_one() {
        let dir = std::env::temp_dir().join(format!("wasmqtt-cli-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("b.crt"), "B").unwrap();
        std::fs::write(dir.join("a.pem"), "A").unwrap();
        std::fs::write(dir.join("notes.txt"), "no").unwrap();
        let flags = TlsFlags {
            cafile: Some(dir.join("a.pem")),
            capath: Some(dir.clone()),
            ..TlsFlags::default()
        };
        let pem = flags.load().unwrap();
        assert_eq!(pem.ca, [b"A".to_vec(), b"A".to_vec(), b"B".to_vec()]);
        let missing = dir.join("missing.pem");
        let e = TlsFlags {
            cafile: Some(missing.clone()),
            ..TlsFlags::default()
        }
        .load()
        .unwrap_err();
        assert!(
            e.starts_with(&format!("cannot read --cafile {}", missing.display())),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
