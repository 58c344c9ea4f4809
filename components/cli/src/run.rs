//! The pub / sub commands on the WASI driver (the flags are parsed by the library).

use wasmqtt::broker::Broker;
use wasmqtt::codec::SubscriptionOptions;
use wasmqtt::session::{random_client_id_with_prefix, Event, LastWill, Message, Options};
use wasmqtt_cli::{parse, Args, ArgsError, Command, USAGE};
use wasmqtt_wasi::Client;

fn options(a: &Args) -> Options {
    // One seed for the back-off jitter and the client id, as the core's identity rules say.
    let seed = wasmqtt_wasi::random_seed();
    let id = a.id.clone().unwrap_or_else(|| {
        random_client_id_with_prefix(&format!("wasmqtt-{}-", a.command.name()), seed)
    });
    let mut o = Options::new(id)
        .version(a.version)
        .keep_alive(a.keep_alive)
        .clean_start(a.clean)
        .random_seed(seed);
    if let Some(s) = a.timeout_secs {
        o.connect_timeout_ms = s.saturating_mul(1000).max(1);
    }
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
        Err(ArgsError::Help) => {
            println!("{USAGE}");
            return 0;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
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

/// The broker this build connects to: the first of the failover list, when everything is plain
/// TCP. The TLS files are read first, so that a path that cannot be read is reported as such;
/// TLS and WebSocket themselves wait for the driver's transport layer.
fn broker(a: &Args) -> Result<&Broker, String> {
    if let Some(tls) = &a.tls {
        // The PEM goes to the transport's options once the driver has them.
        let _pem = tls.load()?;
    }
    if let Some(b) = a
        .brokers
        .iter()
        .find(|b| b.scheme.is_tls() || b.scheme.is_websocket())
    {
        return Err(format!(
            "TLS/WebSocket not available in this build ({b}); use an mqtt:// broker"
        ));
    }
    if a.tls.is_some() {
        return Err("TLS/WebSocket not available in this build (TLS flags given)".into());
    }
    a.brokers.first().ok_or_else(|| "no broker".to_string())
}

fn run(a: &Args) -> Result<(), String> {
    let b = broker(a)?;
    let mut opts = options(a);
    if b.username.is_some() {
        opts.username = b.username.clone();
    }
    if let Some(p) = &b.password {
        opts.password = Some(p.clone().into_bytes());
    }
    let mut conn = Client::new(&b.host, b.port, opts).map_err(|e| e.to_string())?;
    conn.connect().map_err(|e| e.to_string())?;
    let until = a.timeout_secs.map(|s| conn.now_ms() + s * 1000);
    let left = |conn: &Client| until.map_or(u64::MAX, |u| u.saturating_sub(conn.now_ms()));
    if a.command == Command::Pub {
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
    conn.flush();
    Ok(())
}
