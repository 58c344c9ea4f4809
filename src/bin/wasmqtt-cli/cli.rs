//! Argument parsing and the pub / sub commands.

use std::fmt::Write as _;
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, LastWill, Message, Options};
use wasmqtt::wasi::Connection;

const USAGE: &str = "usage: wasmqtt-cli pub|sub [flags]
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
  --will-topic T --will-payload P --will-qos Q --will-retain   will message";

struct Args {
    command: String,
    host: String,
    port: u16,
    topics: Vec<String>,
    message: Option<Vec<u8>>,
    qos: QoS,
    retain: bool,
    username: Option<String>,
    password: Option<String>,
    id: Option<String>,
    keep_alive: u16,
    clean: bool,
    session_expiry: Option<u32>,
    version: ProtocolVersion,
    count: Option<u64>,
    timeout_secs: Option<u64>,
    verbose: bool,
    will_topic: Option<String>,
    will_payload: Vec<u8>,
    will_qos: QoS,
    will_retain: bool,
}

fn parse_qos(s: &str) -> Result<QoS, String> {
    s.parse::<u8>()
        .ok()
        .and_then(QoS::from_u8)
        .ok_or_else(|| format!("invalid QoS '{s}': must be 0, 1 or 2"))
}

fn parse_num<T: std::str::FromStr>(flag: &str, s: &str) -> Result<T, String> {
    s.parse()
        .map_err(|_| format!("invalid value '{s}' for {flag}"))
}

fn parse(argv: Vec<String>) -> Result<Args, String> {
    let mut it = argv.into_iter();
    let command = it.next().ok_or("missing command: pub or sub")?;
    if command != "pub" && command != "sub" {
        return Err(format!("unknown command '{command}': use pub or sub"));
    }
    let mut a = Args {
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
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-h" | "--host" => a.host = value()?,
            "-p" | "--port" => a.port = parse_num(&flag, &value()?)?,
            "-t" | "--topic" => a.topics.push(value()?),
            "-m" | "--message" => a.message = Some(value()?.into_bytes()),
            "-n" | "--null-message" => a.message = Some(Vec::new()),
            "-q" | "--qos" => a.qos = parse_qos(&value()?)?,
            "-r" | "--retain" => a.retain = true,
            "-u" | "--username" => a.username = Some(value()?),
            "-P" | "--pw" => a.password = Some(value()?),
            "-i" | "--id" => a.id = Some(value()?),
            "-k" | "--keepalive" => a.keep_alive = parse_num(&flag, &value()?)?,
            "-c" | "--disable-clean-session" => a.clean = false,
            "-x" => a.session_expiry = Some(parse_num(&flag, &value()?)?),
            "-V" | "--protocol-version" => {
                a.version = match value()?.as_str() {
                    "311" | "mqttv311" | "4" => ProtocolVersion::V311,
                    "5" | "mqttv5" => ProtocolVersion::V5,
                    v => return Err(format!("unsupported protocol version '{v}': use 311 or 5")),
                }
            }
            "-C" => a.count = Some(parse_num(&flag, &value()?)?),
            "-W" => a.timeout_secs = Some(parse_num(&flag, &value()?)?),
            "-v" | "--verbose" => a.verbose = true,
            "--will-topic" => a.will_topic = Some(value()?),
            "--will-payload" => a.will_payload = value()?.into_bytes(),
            "--will-qos" => a.will_qos = parse_qos(&value()?)?,
            "--will-retain" => a.will_retain = true,
            "--help" => return Err(String::new()),
            other => return Err(format!("unknown flag '{other}'")),
        }
    }
    if a.topics.is_empty() {
        return Err("-t is required".into());
    }
    if a.command == "pub" {
        if a.topics.len() != 1 {
            return Err("pub takes exactly one -t".into());
        }
        if a.message.is_none() {
            return Err("pub needs -m MESSAGE or -n".into());
        }
    }
    if a.password.is_some() && a.username.is_none() && a.version == ProtocolVersion::V311 {
        return Err("-P needs -u in MQTT 3.1.1".into());
    }
    Ok(a)
}

fn options(a: &Args) -> Options {
    let id = a.id.clone().unwrap_or_else(|| {
        let mut s = format!("wasmqtt-{}-", a.command);
        for b in wasip2::random::random::get_random_bytes(4) {
            let _ = write!(s, "{b:02x}");
        }
        s
    });
    let mut o = Options::new(id)
        .version(a.version)
        .keep_alive(a.keep_alive)
        .clean_start(a.clean)
        .random_seed(wasip2::random::random::get_random_u64());
    o.username = a.username.clone();
    o.password = a.password.clone().map(String::into_bytes);
    o.session_expiry_interval = a.session_expiry;
    if let Some(t) = &a.will_topic {
        o.will = Some(
            LastWill::new(t.clone(), a.will_payload.clone())
                .qos(a.will_qos)
                .retain(a.will_retain),
        );
    }
    o
}

/// Runs the command; returns the process exit code.
pub fn main(argv: Vec<String>) -> i32 {
    let args = match parse(argv) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!("{USAGE}");
            return 2;
        }
    };
    match run(&args) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn run(a: &Args) -> Result<(), String> {
    let opts = options(a);
    let connect_timeout = a.timeout_secs.map_or(10_000, |s| s * 1000);
    let mut conn = Connection::new(&a.host, a.port, opts);
    conn.connect(connect_timeout).map_err(|e| e.to_string())?;
    let until = a.timeout_secs.map(|s| conn.now_ms() + s * 1000);
    let left = |conn: &Connection| until.map_or(u64::MAX, |u| u.saturating_sub(conn.now_ms()));
    if a.command == "pub" {
        let msg = Message::new(a.topics[0].clone(), a.message.clone().unwrap_or_default())
            .qos(a.qos)
            .retain(a.retain);
        let now = conn.now_ms();
        let id = conn
            .session()
            .publish(msg, now)
            .map_err(|e| e.to_string())?;
        loop {
            if left(&conn) == 0 {
                return Err("timed out waiting for the acknowledgement".into());
            }
            match conn.poll_event(left(&conn).min(1000)) {
                Some(Event::PublishComplete { id: done, result }) if done == id => {
                    result.map_err(|e| e.to_string())?;
                    break;
                }
                Some(Event::Disconnected {
                    reconnect_at: None,
                    reason,
                }) => return Err(reason.to_string()),
                _ => {}
            }
        }
    } else {
        let filters = a
            .topics
            .iter()
            .map(|t| (t.clone(), SubscriptionOptions::qos(a.qos)))
            .collect();
        let now = conn.now_ms();
        conn.session()
            .subscribe(filters, None, now)
            .map_err(|e| e.to_string())?;
        let mut received = 0u64;
        while a.count.is_none_or(|c| received < c) {
            if left(&conn) == 0 {
                if received == 0 && a.count.is_some() {
                    return Err("timed out before any message arrived".into());
                }
                break;
            }
            match conn.poll_event(left(&conn).min(1000)) {
                Some(Event::Message(m)) => {
                    received += 1;
                    let payload = String::from_utf8_lossy(&m.message.payload);
                    if a.verbose {
                        println!("{} {payload}", m.message.topic);
                    } else {
                        println!("{payload}");
                    }
                }
                Some(Event::Subscribed { reason_codes, .. }) => {
                    if let Some(c) = reason_codes.iter().find(|c| c.is_error()) {
                        return Err(format!("subscription refused: {c}"));
                    }
                }
                Some(Event::Disconnected {
                    reconnect_at: None,
                    reason,
                }) => return Err(reason.to_string()),
                _ => {}
            }
        }
    }
    let now = conn.now_ms();
    conn.session().disconnect(now);
    conn.flush_all();
    Ok(())
}
