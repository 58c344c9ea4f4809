//! `wasmqtt-host pub|sub` against a scripted broker that breaks the protocol after CONNACK,
//! refuses CONNACK, or closes (issue 14, item 1): each run must exit non-zero with the reason
//! on stderr, well before its `-W 60`; the names of the codes are those of the connection's
//! protocol version (item 3). Also the CONNECT the CLI sends: `-c` in MQTT 5 asks for a
//! session that never expires (as mosquitto_sub 2.0.11's `-c` does: Session Expiry Interval
//! 0xFFFFFFFF), `-x` overrides it, and `-D connect topic-alias-maximum 0` announces none.
//!
//! ```text
//! CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-cli
//! cargo test --release -p wasmqtt-host --test cli_hostile
//! ```

mod cli_common;
use cli_common::{ours, text};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// What the scripted broker does once it has read CONNECT.
#[derive(Debug, Clone, Copy)]
enum Script {
    /// CONNACK with this refusal code (3.1.1 return code or v5 reason code).
    Refuse(u8),
    /// CONNACK accepted, then a packet whose Remaining Length never ends (malformed).
    Malformed,
    /// CONNACK accepted, then a second CONNACK (a protocol violation).
    SecondConnack,
    /// CONNACK accepted, then the socket closes.
    Close,
    /// v5: CONNACK accepted, then DISCONNECT 0x8B (server shutting down).
    Disconnect,
    /// CONNACK accepted, then nothing (the CONNECT is all the test wants).
    Accept,
}

/// Reads one MQTT packet: (first byte, body).
fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut b = [0u8; 1];
    s.read_exact(&mut b).ok()?;
    let (mut len, mut mult) = (0usize, 1usize);
    loop {
        let mut d = [0u8; 1];
        s.read_exact(&mut d).ok()?;
        len += (d[0] & 0x7F) as usize * mult;
        if d[0] & 0x80 == 0 {
            break;
        }
        mult *= 128;
    }
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).ok()?;
    Some((b[0], body))
}

/// A one-connection broker on a free port: plays `script`, sends back (on the channel) the
/// CONNECT body and the first byte of each later packet the client sent.
/// What the scripted broker saw: the CONNECT body, and the first byte of each later packet.
type Record = (Vec<u8>, Vec<u8>);

fn scripted(v5: bool, script: Script) -> (u16, Receiver<Record>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let Some((0x10, connect)) = read_packet(&mut s) else {
            return;
        };
        let accept: &[u8] = if v5 {
            &[0x20, 3, 0, 0, 0]
        } else {
            &[0x20, 2, 0, 0]
        };
        let after: Vec<u8> = match script {
            Script::Refuse(code) if v5 => vec![0x20, 3, 0, code, 0],
            Script::Refuse(code) => vec![0x20, 2, 0, code],
            Script::Malformed => [accept, &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F]].concat(),
            Script::SecondConnack => [accept, accept].concat(),
            Script::Close | Script::Accept => accept.to_vec(),
            Script::Disconnect => [accept, &[0xE0, 2, 0x8B, 0]].concat(),
        };
        let _ = s.write_all(&after);
        let mut later = Vec::new();
        if matches!(script, Script::Close) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        } else {
            // What the client sends until it closes (a DISCONNECT with the reason, in v5).
            while let Some((b, _)) = read_packet(&mut s) {
                later.push(b);
            }
        }
        let _ = tx.send((connect, later));
    });
    (port, rx)
}

/// Runs ours against `script`; returns its exit code, stderr, and what the broker got.
fn against(cmd: &str, v5: bool, script: Script, extra: &[&str]) -> (i32, String, Vec<u8>) {
    let (port, rx) = scripted(v5, script);
    let port = port.to_string();
    let mut args = vec![cmd, "-h", "127.0.0.1", "-p", &port, "-t", "t/1", "-W", "60"];
    args.extend_from_slice(&["-V", if v5 { "5" } else { "311" }]);
    if cmd == "pub" {
        args.extend_from_slice(&["-q", "1", "-m", "x"]);
    }
    args.extend_from_slice(extra);
    let start = Instant::now();
    let out = ours(&args);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(30),
        "{cmd} {script:?}: took {took:?}, not well before -W 60"
    );
    let (_, later) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("the broker's record");
    (
        out.status.code().expect("an exit code"),
        text(&out.stderr),
        later,
    )
}

#[test]
fn a_broken_protocol_after_connack_ends_pub_and_sub_with_the_reason() {
    for v5 in [false, true] {
        for cmd in ["pub", "sub"] {
            for (script, want) in [
                (
                    Script::Malformed,
                    "PROTOCOL_ERROR: protocol error from the broker",
                ),
                (
                    Script::SecondConnack,
                    "PROTOCOL_ERROR: protocol error from the broker: unexpected",
                ),
            ] {
                let (code, err, later) = against(cmd, v5, script, &[]);
                assert_eq!(code, 2, "{cmd} v5={v5} {script:?}: {err}");
                assert!(err.contains(want), "{cmd} v5={v5} {script:?}: {err}");
                if v5 {
                    // v5: the session says why on the wire (DISCONNECT, 0xE0) before closing.
                    assert_eq!(later.last(), Some(&0xE0), "{cmd} {script:?}: {later:x?}");
                }
            }
        }
    }
}

#[test]
fn a_closed_socket_or_a_server_disconnect_ends_pub_and_sub_with_exit_7() {
    for v5 in [false, true] {
        for cmd in ["pub", "sub"] {
            let (code, err, _) = against(cmd, v5, Script::Close, &[]);
            assert_eq!(code, 7, "{cmd} v5={v5}: {err}");
            assert!(err.contains("CONNECTION_LOST: connection lost"), "{err}");
        }
    }
    for cmd in ["pub", "sub"] {
        let (code, err, _) = against(cmd, true, Script::Disconnect, &[]);
        assert_eq!(code, 7, "{cmd}: {err}");
        assert!(
            err.contains(
                "DISCONNECTED_BY_BROKER: disconnected by the broker: 0x8B (Server shutting down)"
            ),
            "{err}"
        );
    }
}

#[test]
fn refusals_exit_with_the_connack_code_named_as_their_version_names_it() {
    let v311 = [
        (
            1,
            "0x01 (Connection refused: unacceptable protocol version)",
        ),
        (2, "0x02 (Connection refused: identifier rejected)"),
        (3, "0x03 (Connection refused: server unavailable)"),
        (4, "0x04 (Connection refused: bad user name or password)"),
        (5, "0x05 (Connection refused: not authorized)"),
    ];
    for cmd in ["pub", "sub"] {
        for (code, name) in v311 {
            let (exit, err, _) = against(cmd, false, Script::Refuse(code), &[]);
            assert_eq!(exit, i32::from(code), "{cmd} {code}: {err}");
            assert!(
                err.contains(&format!("CONNECTION_REFUSED: connection refused: {name}")),
                "{cmd} {code}: {err}"
            );
            assert!(
                !err.contains("Will Message") && !err.contains("Granted"),
                "{err}"
            );
        }
    }
    for (code, name) in [
        (0x80u8, "0x80 (Unspecified error)"),
        (0x84, "0x84 (Unsupported Protocol Version)"),
        (0x86, "0x86 (Bad User Name or Password)"),
        (0x87, "0x87 (Not authorized)"),
        (0x88, "0x88 (Server unavailable)"),
    ] {
        for cmd in ["pub", "sub"] {
            let (exit, err, _) = against(cmd, true, Script::Refuse(code), &[]);
            assert_eq!(exit, i32::from(code), "{cmd} {code:#x}: {err}");
            assert!(err.contains(name), "{cmd} {code:#x}: {err}");
        }
    }
}

/// The properties of a v5 CONNECT body: (identifier, value bytes).
fn connect_properties(body: &[u8]) -> (u8, Vec<(u8, Vec<u8>)>) {
    // Protocol name (2 + 4), level, flags, keep alive (2).
    assert_eq!(&body[..7], b"\x00\x04MQTT\x05", "a v5 CONNECT");
    let flags = body[7];
    let mut i = 10;
    let (mut len, mut mult) = (0usize, 1usize);
    loop {
        let d = body[i];
        i += 1;
        len += (d & 0x7F) as usize * mult;
        if d & 0x80 == 0 {
            break;
        }
        mult *= 128;
    }
    let end = i + len;
    let mut props = Vec::new();
    while i < end {
        let id = body[i];
        i += 1;
        let n = match id {
            0x11 | 0x27 => 4,
            0x21 | 0x22 => 2,
            0x17 | 0x19 => 1,
            0x15 | 0x16 => 2 + usize::from(u16::from_be_bytes([body[i], body[i + 1]])),
            0x26 => {
                let k = usize::from(u16::from_be_bytes([body[i], body[i + 1]]));
                let v = usize::from(u16::from_be_bytes([body[i + 2 + k], body[i + 3 + k]]));
                4 + k + v
            }
            other => panic!("unexpected CONNECT property {other:#x}"),
        };
        props.push((id, body[i..i + n].to_vec()));
        i += n;
    }
    (flags, props)
}

fn connect_of(extra: &[&str]) -> (u8, Vec<(u8, Vec<u8>)>) {
    let (port, rx) = scripted(true, Script::Accept);
    let port = port.to_string();
    let mut args = vec![
        "sub",
        "-h",
        "127.0.0.1",
        "-p",
        &port,
        "-t",
        "t",
        "-V",
        "5",
        "-W",
        "1",
    ];
    args.extend_from_slice(extra);
    // The scripted broker never answers SUBSCRIBE: ours times out (27) after sending it.
    let out = ours(&args);
    assert_eq!(out.status.code(), Some(27), "{}", text(&out.stderr));
    let (connect, later) = rx.recv_timeout(Duration::from_secs(20)).unwrap();
    assert_eq!(
        later,
        [0x82, 0xE0],
        "SUBSCRIBE, then DISCONNECT at the timeout"
    );
    connect_properties(&connect)
}

fn property(props: &[(u8, Vec<u8>)], id: u8) -> Option<Vec<u8>> {
    props.iter().find(|(i, _)| *i == id).map(|(_, v)| v.clone())
}

#[test]
fn c_in_v5_asks_for_a_session_that_never_expires_unless_x_says_otherwise() {
    let (flags, props) = connect_of(&["-c", "-i", "keep-me"]);
    assert_eq!(flags & 0x02, 0, "-c: Clean Start off");
    assert_eq!(property(&props, 0x11), Some(vec![0xFF; 4]), "{props:x?}");
    let (_, props) = connect_of(&["-c", "-i", "keep-me", "-x", "60"]);
    assert_eq!(property(&props, 0x11), Some(60u32.to_be_bytes().to_vec()));
    let (flags, props) = connect_of(&[]);
    assert_eq!(flags & 0x02, 0x02, "no -c: Clean Start");
    assert_eq!(property(&props, 0x11), None, "{props:x?}");
}

#[test]
fn topic_alias_maximum_0_is_not_announced_and_connect_properties_go_out() {
    let (_, props) = connect_of(&[]);
    assert!(
        property(&props, 0x22).is_some(),
        "announced by default: {props:x?}"
    );
    let (_, props) = connect_of(&[
        "-D",
        "connect",
        "topic-alias-maximum",
        "0",
        "-D",
        "connect",
        "receive-maximum",
        "7",
        "-D",
        "connect",
        "user-property",
        "k",
        "v",
    ]);
    assert_eq!(property(&props, 0x22), None, "{props:x?}");
    assert_eq!(property(&props, 0x21), Some(vec![0, 7]));
    assert_eq!(property(&props, 0x26), Some(b"\x00\x01k\x00\x01v".to_vec()));
    let (_, props) = connect_of(&["-D", "connect", "topic-alias-maximum", "9"]);
    assert_eq!(property(&props, 0x22), Some(vec![0, 9]));
}

#[test]
fn c_with_an_empty_client_id_in_311_is_a_local_error() {
    let out = ours(&[
        "sub",
        "-h",
        "127.0.0.1",
        "-p",
        "1",
        "-t",
        "t",
        "-c",
        "-i",
        "",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    let first = err.lines().next().unwrap_or_default();
    assert!(first.contains("-c with an empty client id"), "{err}");
    assert!(!first.contains("refused"), "{err}");
}
