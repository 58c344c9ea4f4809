//! Broker URLs and TLS file options at the edges: the network policy of a failover list, the
//! provider's `brokers` / `tls` connect options, and `wasmqtt-host pub|sub -L … --cafile …`,
//! against a real mosquitto.
//!
//! The components must be built first (the test fails otherwise, naming the command):
//!
//! ```text
//! CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider -p wasmqtt-cli
//! cargo test -p wasmqtt-host --test broker_urls
//! ```

mod common;
use common::provider;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use wasmqtt_host::types::{self, Error as WitError, Event, ProtocolVersion};
use wasmqtt_host::{Artifact, Client, ClientError, NetworkPolicy};
use wasmqtt_testkit::mosquitto::Mosquitto;
use wasmtime_wasi::sockets::SocketAddrUse;

fn url_options(urls: &[String], id: &str) -> types::ConnectOptions {
    let mut o = types::connect_options("", 0, id, ProtocolVersion::V5);
    o.brokers = urls.to_vec();
    o.connect_timeout_ms = Some(5_000);
    o
}

fn wit_error<T: std::fmt::Debug>(r: Result<T, ClientError>) -> WitError {
    match r {
        Err(ClientError::Mqtt(e)) => e,
        other => panic!("expected a WIT error, got {other:?}"),
    }
}

/// A directory of its own under the temp dir, removed at the end.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("wasmqtt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const PEM: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";

#[test]
fn the_policy_of_a_failover_list_allows_both_brokers_and_denies_a_third_port() {
    let (a, b) = (Mosquitto::start(), Mosquitto::start());
    let urls = [
        format!("mqtt://127.0.0.1:{}", a.port()),
        format!("mqtt://127.0.0.1:{}", b.port()),
    ];
    let policy = NetworkPolicy::broker_urls(&urls).unwrap();
    assert!(!policy.name_lookup(), "IP literals need no name lookup");
    for (i, url) in urls.iter().enumerate() {
        let mut c = Client::connect(
            provider(),
            &policy,
            &url_options(std::slice::from_ref(url), &format!("fo-{i}")),
        )
        .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(c.is_connected().unwrap());
        c.disconnect().unwrap();
    }
    assert!(policy.denials().is_empty(), "{:?}", policy.denials());

    // A third port, listening but not in the list: refused by the policy, not by the network.
    let third = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let third_addr = third.local_addr().unwrap();
    let e = wit_error(Client::connect(
        provider(),
        &policy,
        &url_options(&[format!("mqtt://{third_addr}")], "fo-3"),
    ));
    assert!(matches!(e, WitError::Network(_)), "{e:?}");
    let denied = policy.denials();
    assert!(
        denied
            .iter()
            .any(|d| d.addr == third_addr && matches!(d.usage, SocketAddrUse::TcpConnect)),
        "{denied:?}"
    );
    assert!(policy.permits(
        SocketAddr::from((Ipv4Addr::LOCALHOST, a.port())),
        SocketAddrUse::TcpConnect
    ));
}

#[test]
fn provider_checks_urls_and_tls_files_before_sending_anything() {
    // No network at all: every answer below comes before a connection is tried.
    let none = NetworkPolicy::deny_all();
    let e = wit_error(Client::connect(
        provider(),
        &none,
        &url_options(&["http://127.0.0.1:1883".into()], "bad-url"),
    ));
    match &e {
        WitError::InvalidUrl(text) => {
            assert!(
                text.contains("unsupported broker URL scheme `http`"),
                "{text}"
            )
        }
        e => panic!("{e:?}"),
    }
    let e = wit_error(Client::connect(
        provider(),
        &none,
        &url_options(&["mqtt://u:secret@127.0.0.1:99999".into()], "bad-port"),
    ));
    match &e {
        WitError::InvalidUrl(text) => {
            assert!(
                text.contains("invalid port `99999`") && !text.contains("secret"),
                "{text}"
            )
        }
        e => panic!("{e:?}"),
    }

    // A CA file in a granted directory is read; its (fake) certificate is then refused by the
    // TLS layer, before any connection.
    let dir = TempDir::new("provider-tls");
    let ca = dir.file("ca.pem", PEM);
    let granted = provider().clone().grant_dir_read_only(&dir.0);
    let mut o = url_options(&["mqtts://127.0.0.1:8883".into()], "tls");
    let tls = |ca_file: &PathBuf| types::TlsOptions {
        ca_pem: None,
        ca_file: Some(ca_file.to_str().unwrap().into()),
        client_certificate_pem: None,
        client_key_pem: None,
        client_certificate_file: None,
        client_key_file: None,
        alpn: vec!["mqtt".into()],
        server_name: None,
        tls_version: Some(types::TlsVersion::Tls13),
        dangerous_skip_hostname_verification: false,
        dangerous_accept_any_certificate: false,
    };
    o.tls = Some(tls(&ca));
    let e = wit_error(Client::connect(&granted, &none, &o));
    match &e {
        WitError::InvalidArgument(text) => assert!(text.contains("CA bundle"), "{text}"),
        e => panic!("{e:?}"),
    }
    // The same file without the grant: the component cannot see it.
    let e = wit_error(Client::connect(provider(), &none, &o));
    match &e {
        WitError::UnreadableFile(f) => assert_eq!(f.path, ca.to_str().unwrap()),
        e => panic!("{e:?}"),
    }
    // A missing file in the granted directory, and a file that is not PEM.
    for (path, why) in [
        (dir.0.join("missing.pem"), "not found"),
        (dir.file("junk.pem", "not a certificate"), "not a PEM file"),
    ] {
        o.tls = Some(tls(&path));
        let e = wit_error(Client::connect(&granted, &none, &o));
        match &e {
            WitError::UnreadableFile(f) => {
                assert_eq!(f.path, path.to_str().unwrap());
                assert!(f.reason.contains(why), "{f:?}");
            }
            e => panic!("{e:?}"),
        }
    }
    // TLS options with a plain broker are checked too (nothing is silently ignored).
    let mut o = url_options(&["mqtt://127.0.0.1:1883".into()], "tls-plain");
    o.tls = Some(tls(&ca));
    let e = wit_error(Client::connect(&granted, &none, &o));
    assert!(
        matches!(e, WitError::InvalidArgument(ref t) if t.contains("CA bundle")),
        "{e:?}"
    );
    assert!(
        none.denials().is_empty(),
        "nothing was sent: {:?}",
        none.denials()
    );
}

#[test]
fn provider_connects_to_a_url_with_credentials_and_reports_codes() {
    let broker = Mosquitto::start();
    let url = format!("mqtt://user:pw@127.0.0.1:{}", broker.port());
    let policy = NetworkPolicy::broker_urls([&url]).unwrap();
    let mut c = Client::connect(provider(), &policy, &url_options(&[url], "url-creds")).unwrap();
    assert!(c.is_connected().unwrap());
    c.disconnect().unwrap();
    // After DISCONNECT, the final disconnected event carries the core's code.
    let mut seen = None;
    for _ in 0..50 {
        match c.poll_event(Duration::from_millis(100)) {
            Ok(Some(Event::Disconnected(d))) => {
                seen = Some(d);
                break;
            }
            Ok(_) => {}
            Err(ClientError::Mqtt(WitError::Closed)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let d = seen.expect("a disconnected event after disconnect");
    assert!(!d.will_reconnect, "{d:?}");
    assert_eq!(
        d.code,
        wasmqtt::session::DisconnectReason::ByClient.code(),
        "{d:?}"
    );
    assert_eq!(d.reason_code, None, "{d:?}");
}

// ---------------------------------------------------------------------------------------------
// `wasmqtt-host pub|sub -L …`

fn run_host(args: &[&str]) -> Output {
    run_host_in(&std::env::current_dir().unwrap(), args)
}

fn run_host_in(cwd: &std::path::Path, args: &[&str]) -> Output {
    let cli = Artifact::Cli.require().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"))
        .arg("--cli-wasm")
        .arg(cli)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .output()
        .expect("running wasmqtt-host");
    eprintln!(
        "wasmqtt-host {}: {}\nstdout:\n{}\nstderr:\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn cli_round_trip_with_l_urls() {
    let broker = Mosquitto::start();
    let url = format!("mqtt://127.0.0.1:{}/cli/url/a", broker.port());
    // A retained message, then a subscriber that gets it: no timing involved.
    let out = run_host(&["pub", "-L", &url, "-q", "1", "-r", "-m", "via -L"]);
    assert!(out.status.success(), "pub -L failed");
    // A wildcard is written plainly in -L, as mosquitto reads it.
    let filter = format!("mqtt://127.0.0.1:{}/cli/url/#", broker.port());
    let out = run_host(&["sub", "-L", &filter, "-v", "-C", "1", "-W", "20"]);
    assert!(out.status.success(), "sub -L failed");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "cli/url/a via -L"
    );
}

#[test]
fn cli_bad_url_exits_2_with_the_url_error() {
    let out = run_host(&["pub", "-L", "htp://127.0.0.1/t", "-m", "x"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("unsupported broker URL scheme `htp`"),
        "{stderr}"
    );
    let out = run_host(&["pub", "-L", "mqtt://127.0.0.1/t", "-h", "x", "-m", "x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-L cannot be combined"));
}

#[test]
fn cli_cafile_is_read_through_the_grant_and_an_unreadable_one_is_named() {
    let dir = TempDir::new("cli-tls");
    let missing = dir.0.join("missing.pem");
    let out = run_host(&[
        "pub",
        "-L",
        "mqtts://127.0.0.1:1/t",
        "--cafile",
        missing.to_str().unwrap(),
        "-m",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("cannot read --cafile {}", missing.display())),
        "{stderr}"
    );
    // A readable CA file (and --capath): read through the read-only grant, then its (fake)
    // certificate is refused by the TLS layer, in one line with the code, before any connection.
    let ca = dir.file("ca.pem", PEM);
    let out = run_host(&[
        "sub",
        "-h",
        "127.0.0.1",
        "-t",
        "t",
        "--cafile",
        ca.to_str().unwrap(),
        "--capath",
        dir.0.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("Error: INVALID_ARGUMENT: CA bundle") && stderr.lines().count() == 1,
        "{stderr}"
    );
    // Relative paths, as written: the same directories are granted under the same names.
    std::fs::create_dir_all(dir.0.join("certs")).unwrap();
    dir.file("certs/ca.crt", PEM);
    for args in [
        &["--cafile", "ca.pem"][..],
        &["--cafile", "./certs/ca.crt"],
        &["--capath", "certs"],
        &["--capath", "./certs/", "--cafile", "./ca.pem"],
    ] {
        let mut all = vec!["pub", "-L", "mqtts://127.0.0.1:1/t", "-m", "x"];
        all.extend(args);
        let out = run_host_in(&dir.0, &all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("CA bundle"), "{args:?}: {stderr}");
    }
}
