//! The pub / sub / rr commands on the WASI driver (the flags are parsed by the library).
//!
//! Every failure ends the command with one line on stderr, `Error: CODE: text` (none with
//! `--quiet`), where `CODE` is the core's stable code (`DisconnectReason::code`,
//! `HandshakeFailure::code`, `PublishError::code`, ...), and the exit code of
//! [`wasmqtt_cli::exit`] (mosquitto's where it has one). The command is one-shot: the
//! session does not reconnect ([`ReconnectPolicy::enabled`] off; the first connection still
//! fails over along the `-L` list), so the first connection loss ends it, with its reason.
//! Whenever the connection is up at the end, success or failure, the command sends
//! DISCONNECT first (normal disconnection; 0x04 with `--disconnect-with-will`), so that the
//! broker publishes the will only when it should.

use wasmqtt::codec::ReasonCode;
use wasmqtt::session::{random_client_id_with_prefix, LastWill, Options, ReconnectPolicy, State};
use wasmqtt_cli::exit::{self, Failure};
use wasmqtt_cli::{parse, Args, ArgsError, Command, USAGE};
use wasmqtt_wasi::{Client, ClientError};

use crate::commands;

pub(crate) fn failure(code: &'static str, text: impl core::fmt::Display) -> Failure {
    Failure::new(code, exit::OTHER, text)
}

fn client_error(e: ClientError) -> Failure {
    match e {
        ClientError::Options(e) => failure(e.code(), e),
        e @ ClientError::Unsupported { .. } => failure("UNSUPPORTED", e),
        e => failure("INVALID_ARGUMENT", e),
    }
}

fn options(a: &Args) -> Options {
    // One seed for the back-off jitter and the client id, as the core's identity rules say.
    let seed = wasmqtt_wasi::random_seed();
    let id = a.id.clone().unwrap_or_else(|| {
        let prefix = a
            .id_prefix
            .clone()
            .unwrap_or_else(|| format!("wasmqtt-{}-", a.command.name()));
        random_client_id_with_prefix(&prefix, seed)
    });
    let mut o = Options::new(id)
        .version(a.version)
        .keep_alive(a.keep_alive)
        .clean_start(a.clean)
        .random_seed(seed);
    // One-shot: the first loss ends the command (see the module's doc).
    o.reconnect = ReconnectPolicy {
        enabled: false,
        ..ReconnectPolicy::default()
    };
    if let Some(s) = a.timeout_secs {
        o.connect_timeout_ms = s.saturating_mul(1000).max(1);
    }
    o.username = a.username.clone();
    o.password = a.password.clone().map(String::into_bytes);
    o.session_expiry_interval = a.effective_session_expiry();
    let c = &a.props.connect;
    if let Some(t) = c.topic_alias_maximum {
        o.topic_alias_maximum = t;
    }
    if let Some(r) = c.receive_maximum {
        o.receive_maximum = r;
    }
    if let Some(m) = c.maximum_packet_size {
        o.max_packet_size = m;
    }
    o.request_response_information = c.request_response_information;
    o.request_problem_information = c.request_problem_information;
    o.user_properties = c.user_properties.clone();
    if let Some(t) = &a.will_topic {
        let mut will = LastWill::new(t.clone(), a.will_payload.clone())
            .qos(a.will_qos)
            .retain(a.will_retain);
        will.delay_interval = a.props.will_delay_interval;
        will.properties = a.props.will.clone();
        o.will = Some(will);
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
            return exit::USAGE;
        }
    };
    let result = client(&args).and_then(|mut conn| {
        let r = run(&args, &mut conn);
        finish(&args, &mut conn);
        r
    });
    match result {
        Ok(()) => 0,
        Err(e) => {
            if !args.quiet {
                eprintln!("Error: {e}");
            }
            e.exit
        }
    }
}

/// Every exit with the connection up sends DISCONNECT: normal, or 0x04 (publish the will)
/// with `--disconnect-with-will`.
fn finish(a: &Args, conn: &mut Client) {
    if conn.session_ref().state() == State::Closed {
        return;
    }
    let code = if a.disconnect_with_will {
        ReasonCode::DISCONNECT_WITH_WILL_MESSAGE
    } else {
        ReasonCode::NORMAL_DISCONNECTION
    };
    let connected = conn.session_ref().state() == State::Connected;
    let now = conn.now_ms();
    conn.session().disconnect_with(code, now);
    conn.flush();
    if connected && a.debug {
        println!("Client {} sending DISCONNECT", commands::id(conn));
    }
}

fn run(a: &Args, conn: &mut Client) -> Result<(), Failure> {
    if a.debug {
        println!(
            "Client {} sending CONNECT",
            conn.session_ref().options().client_id
        );
    }
    let info = conn
        .connect()
        .map_err(|r| Failure::disconnected(&r, a.version))?;
    if a.debug {
        println!(
            "Client {} received CONNACK (session present: {})",
            commands::id(conn),
            u8::from(info.session_present)
        );
    }
    match a.command {
        Command::Pub => commands::publish(a, conn),
        Command::Sub => commands::subscribe(a, conn),
        Command::Rr => commands::request(a, conn),
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
        Client::with_transport(&first.host, first.port, opts, &transport).map_err(client_error)
    }
    // TLS flags come with a TLS broker (`parse` sees to that), which this build refuses
    // (`UNSUPPORTED`): their files are not read, so the build carries no directory reading.
    #[cfg(not(any(feature = "tls", feature = "websocket")))]
    Client::new(&first.host, first.port, opts).map_err(client_error)
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
