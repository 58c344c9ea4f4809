//! A refused CONNECT as the tokio driver reports it (issue 14, item 3): the error text names a
//! 3.1.1 return code with its 3.1.1 meaning (v3.1.1 §3.2.2.3, table 3.1) and a v5 reason code
//! with its v5 name. The broker is a scripted listener (hostile input: it refuses everyone).

use std::io::{Read, Write};
use std::net::TcpListener;
use std::thread;
use std::time::Duration;
use wasmqtt::codec::{Decoder, Packet, ProtocolVersion, ReasonCode};
use wasmqtt::session::{DisconnectReason, Options};
use wasmqtt_tokio::{Client, Error};

/// Upper bound for anything to happen; a failure, never a synchronisation.
const LIMIT: Duration = Duration::from_secs(20);

/// A listener that takes one connection, reads its CONNECT and answers `connack`, then waits
/// for the client to close.
fn refusing_broker(version: ProtocolVersion, connack: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        let decoder = Decoder::new(version);
        let mut buf = vec![0u8; 4096];
        let mut have = 0;
        loop {
            let n = sock.read(&mut buf[have..]).expect("read CONNECT");
            assert!(n > 0, "the client closed before CONNECT");
            have += n;
            if let Some((Packet::Connect(c), _)) = decoder.decode(&buf[..have]).unwrap() {
                assert_eq!(c.protocol, version);
                break;
            }
        }
        sock.write_all(connack).unwrap();
        // Until the client closes.
        while matches!(sock.read(&mut buf), Ok(n) if n > 0) {}
    });
    addr
}

async fn refused(version: ProtocolVersion, connack: &'static [u8]) -> Error {
    let addr = refusing_broker(version, connack);
    let mut o = Options::new(format!("refused-tokio-{}", std::process::id()));
    o.version = version;
    tokio::time::timeout(LIMIT, Client::connect(&addr, o))
        .await
        .expect("a refusal ends the connect well within the limit")
        .expect_err("the broker refuses")
}

#[tokio::test]
async fn a_311_refusal_reads_with_its_311_meaning() {
    // CONNACK, return code 4: bad user name or password (v3.1.1 §3.2.2.3).
    let err = refused(ProtocolVersion::V311, &[0x20, 0x02, 0x00, 0x04]).await;
    match &err {
        Error::Connection(DisconnectReason::Refused { code, version, .. }) => {
            assert_eq!((*code, *version), (ReasonCode(4), ProtocolVersion::V311));
        }
        e => panic!("expected a refusal, got {e:?}"),
    }
    assert_eq!(err.code(), "CONNECTION_REFUSED");
    let text = err.to_string();
    assert_eq!(
        text,
        "could not connect: connection refused: 0x04 (Connection refused: bad user name or password)"
    );
    assert!(!text.contains("Will Message"), "{text}");
}

#[tokio::test]
async fn a_v5_refusal_reads_with_its_v5_name() {
    // CONNACK, reason code 0x86, no properties.
    let err = refused(ProtocolVersion::V5, &[0x20, 0x03, 0x00, 0x86, 0x00]).await;
    assert_eq!(err.code(), "CONNECTION_REFUSED");
    assert_eq!(
        err.to_string(),
        "could not connect: connection refused: 0x86 (Bad User Name or Password)"
    );
}
