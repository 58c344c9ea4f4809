//! A refused CONNECT as the provider component reports it through WIT (issue 14, item 3): the
//! `refused` error of `connect` and the `disconnected` event's reason name a 3.1.1 return code
//! with its 3.1.1 meaning (v3.1.1 §3.2.2.3, table 3.1), not with the v5 name of the same value.
//! The broker is a scripted listener (hostile input: it refuses).
//!
//! The components must be built first (`./scripts/build-components.sh`), then
//! `cargo test --release -p wasmqtt-host --test refused_component`.

mod common;
use common::provider;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use wasmqtt_host::types::{self, Event, ProtocolVersion};
use wasmqtt_host::{describe_error, Client, NetworkPolicy};

/// The longest any wait may take; a failure, never a synchronisation.
const WAIT: Duration = Duration::from_secs(15);

/// A 3.1.1 listener that answers the CONNECT of each connection it takes with the next
/// CONNACK return code of `codes` and closes after the last one's client goes; a code of 0 is
/// followed by closing the connection at once.
fn scripted_311(codes: &'static [u8]) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for &rc in codes {
            let (mut sock, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 1024];
            // CONNECT: a fixed header and a remaining length below 128 (no will, short id).
            let mut have = 0;
            while have < 2 || have < 2 + usize::from(buf[1]) {
                match sock.read(&mut buf[have..]) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => have += n,
                }
            }
            assert_eq!(buf[0], 0x10, "CONNECT first");
            sock.write_all(&[0x20, 0x02, 0x00, rc]).unwrap();
            if rc != 0 {
                // Until the client closes.
                while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
            }
        }
    });
    port
}

fn options(id: &str, port: u16) -> types::ConnectOptions {
    let mut o = types::connect_options("127.0.0.1", port, id, ProtocolVersion::V311);
    o.reconnect = Some(types::ReconnectPolicy {
        enabled: true,
        initial_delay_ms: 50,
        max_delay_ms: 100,
        multiplier: 2,
        jitter_percent: 0,
    });
    o
}

#[test]
fn connect_refused_in_311_reads_with_the_311_meaning() {
    let port = scripted_311(&[4]);
    let policy = NetworkPolicy::broker("127.0.0.1", port).expect("policy");
    let e = match Client::connect(provider(), &policy, &options("refused-311", port)) {
        Ok(_) => panic!("the broker refuses"),
        Err(e) => e,
    };
    assert_eq!(e.code(), "CONNECTION_REFUSED", "{e}");
    match e.mqtt() {
        Some(types::Error::Refused(r)) => {
            assert_eq!(r.code, 4);
            assert_eq!(r.text, "Connection refused: bad user name or password");
        }
        other => panic!("expected refused, got {other:?}"),
    }
    let text = describe_error(e.mqtt().unwrap());
    assert!(
        text.contains("0x04 Connection refused: bad user name or password"),
        "{text}"
    );
    assert!(!text.contains("Will Message"), "{text}");
}

#[test]
fn a_refused_reconnection_in_311_reads_with_the_311_meaning() {
    // Accepted, closed at once, then refused with return code 3 (retried: not permanent).
    let port = scripted_311(&[0, 3]);
    let policy = NetworkPolicy::broker("127.0.0.1", port).expect("policy");
    let mut client = Client::connect(provider(), &policy, &options("refused-311-re", port))
        .unwrap_or_else(|e| panic!("the first CONNECT is accepted: {e}"));
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        match client.poll_event(Duration::from_millis(50)) {
            Ok(Some(Event::Disconnected(d))) if d.code == "CONNECTION_REFUSED" => {
                client.abort();
                assert_eq!(d.reason_code, Some(3));
                assert_eq!(
                    d.reason,
                    "connection refused: 0x03 (Connection refused: server unavailable)"
                );
                return;
            }
            Ok(Some(e)) => seen.push(e),
            Ok(None) => {}
            Err(e) => panic!("poll-event: {e}"),
        }
    }
    panic!("no refusal within {WAIT:?}; events: {seen:#?}");
}
