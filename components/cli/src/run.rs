//! The pub / sub commands on the WASI driver (the flags are parsed by the library).
//!
//! Every failure ends the command with one line on stderr, `Error: CODE: text`, where `CODE`
//! is the core's stable code (`DisconnectReason::code`, `HandshakeFailure::code`,
//! `PublishError::code`, ...), and exit code 1.

use core::fmt;

use wasmqtt::codec::SubscriptionOptions;
use wasmqtt::session::{
    random_client_id_with_prefix, DisconnectReason, Event, LastWill, Message, Options,
};
use wasmqtt_cli::{parse, Args, ArgsError, Command, USAGE};
use wasmqtt_wasi::{Client, ClientError};

/// Why the command failed: the core's code and what to tell the user.
struct Failure {
    code: &'static str,
    text: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.text)
    }
}

fn failure(code: &'static str, text: impl fmt::Display) -> Failure {
    Failure {
        code,
        text: text.to_string(),
    }
}

impl From<DisconnectReason> for Failure {
    fn from(r: DisconnectReason) -> Failure {
        let text = match &r {
            // The handshake's code says what failed; the text is the TLS library's.
            DisconnectReason::Handshake { failure, detail } => format!("{failure}: {detail}"),
            r => r.to_string(),
        };
        Failure {
            code: r.code(),
            text,
        }
    }
}

impl From<ClientError> for Failure {
    fn from(e: ClientError) -> Failure {
        match e {
            ClientError::Options(e) => failure(e.code(), e),
            e @ ClientError::Unsupported { .. } => failure("UNSUPPORTED", e),
            e => failure("INVALID_ARGUMENT", e),
        }
    }
}

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
            eprintln!("Error: {e}");
            1
        }
    }
}

/// The client of the `-L` (or `-h`/`-p`) brokers, in failover order, with the TLS flags'
/// files read (a path that cannot be read is reported as such).
fn client(a: &Args) -> Result<Client, Failure> {
    let opts = options(a).brokers(a.brokers.iter().cloned());
    let first = &a.brokers[0];
    #[cfg(any(feature = "tls", feature = "websocket"))]
    {
        let has_ca = a.tls.as_ref().is_some_and(|t| t.has_ca());
        if let Some(b) = a.brokers.iter().find(|b| b.scheme.is_tls()) {
            if !has_ca && !cfg!(feature = "webpki-roots") {
                return Err(failure(
                    "INVALID_ARGUMENT",
                    format!(
                        "{b}: give --cafile or --capath (this build has no built-in root \
                         certificates)"
                    ),
                ));
            }
        }
        let transport = transport_options(a)?;
        Ok(Client::with_transport(
            &first.host,
            first.port,
            opts,
            &transport,
        )?)
    }
    #[cfg(not(any(feature = "tls", feature = "websocket")))]
    {
        if let Some(tls) = &a.tls {
            tls.load().map_err(|e| failure("UNREADABLE_FILE", e))?;
        }
        Ok(Client::new(&first.host, first.port, opts)?)
    }
}

/// The TLS flags as `wasmqtt-transport` options: `--cafile` and every `*.pem` / `*.crt` of
/// `--capath` in one CA bundle, `--cert` / `--key`, `--insecure` (host name not checked),
/// `--tls-alpn`, `--tls-version` (the lowest version), `--tls-server-name`.
#[cfg(any(feature = "tls", feature = "websocket"))]
fn transport_options(a: &Args) -> Result<wasmqtt_wasi::transport::TransportOptions, Failure> {
    use wasmqtt_wasi::transport::{TlsVersion, TransportOptions};
    let mut o = TransportOptions::default();
    // Without --cafile / --capath: the built-in roots, in a build that has them.
    #[cfg(feature = "webpki-roots")]
    {
        o.tls.webpki_roots = !a.tls.as_ref().is_some_and(|t| t.has_ca());
    }
    let Some(flags) = &a.tls else { return Ok(o) };
    let pem = flags.load().map_err(|e| failure("UNREADABLE_FILE", e))?;
    if !pem.ca.is_empty() {
        let mut bundle = Vec::new();
        for ca in &pem.ca {
            bundle.extend_from_slice(ca);
            bundle.push(b'\n');
        }
        o.tls.ca_pem = Some(bundle);
    }
    o.tls.client_cert_pem = pem.cert;
    o.tls.client_key_pem = pem.key;
    o.tls.alpn = flags.alpn.clone();
    o.tls.server_name = flags.server_name.clone();
    o.tls.min_version = flags.version.map(|v| match v {
        wasmqtt_cli::TlsVersion::Tls12 => TlsVersion::Tls12,
        wasmqtt_cli::TlsVersion::Tls13 => TlsVersion::Tls13,
    });
    o.tls.dangerous_skip_hostname_verification = flags.insecure;
    Ok(o)
}

fn run(a: &Args) -> Result<(), Failure> {
    let mut conn = client(a)?;
    conn.connect()?;
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
            .map_err(|e| failure(e.code(), e))?;
        loop {
            if left(&conn) == 0 {
                return Err(failure(
                    "TIMEOUT",
                    "timed out waiting for the acknowledgement",
                ));
            }
            match conn.poll_event(left(&conn).min(1000)) {
                Some(Event::PublishComplete { id: done, result }) if done == id => {
                    result.map_err(|e| failure(e.code(), e))?;
                    break;
                }
                Some(Event::Disconnected {
                    reconnect_at: None,
                    reason,
                }) => return Err(reason.into()),
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
            .map_err(|e| failure(e.code(), e))?;
        let mut received = 0u64;
        while a.count.is_none_or(|c| received < c) {
            if left(&conn) == 0 {
                if received == 0 && a.count.is_some() {
                    return Err(failure("TIMEOUT", "timed out before any message arrived"));
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
                        return Err(failure("SUBSCRIPTION_REFUSED", c));
                    }
                }
                Some(Event::Disconnected {
                    reconnect_at: None,
                    reason,
                }) => return Err(reason.into()),
                _ => {}
            }
        }
    }
    let now = conn.now_ms();
    conn.session().disconnect(now);
    conn.flush();
    Ok(())
}
