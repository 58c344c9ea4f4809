//! The mosquitto test harness itself: a real broker starts, answers a CONNECT that
//! `wasmqtt::codec` encoded, keeps a persistent session across a graceful restart, and speaks
//! MQTT over its WebSocket listener.

use wasmqtt_testkit as support;

use std::io::{Read, Write};
use std::net::TcpStream;
use support::mosquitto::Mosquitto;
use wasmqtt::codec::{Connect, Decoder, Disconnect, Packet, Properties, ProtocolVersion};

const V311: ProtocolVersion = ProtocolVersion::V311;

/// What a CONNACK said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Answer {
    accepted: bool,
    session_present: bool,
    code: u8,
}

fn connect_packet(client_id: &str, clean_session: bool) -> Vec<u8> {
    let connect = Packet::Connect(Connect {
        protocol: V311,
        clean_start: clean_session,
        keep_alive: 30,
        properties: Properties::EMPTY,
        client_id,
        will: None,
        username: None,
        password: None,
    });
    let mut wire = Vec::new();
    connect.encode(V311, &mut wire).expect("encoding CONNECT");
    wire
}

fn disconnect_packet() -> Vec<u8> {
    let mut wire = Vec::new();
    Packet::Disconnect(Disconnect::default())
        .encode(V311, &mut wire)
        .expect("encoding DISCONNECT");
    wire
}

/// Decodes the first packet of `buf`, which must be a CONNACK, once it is complete.
fn connack(buf: &[u8]) -> Option<Answer> {
    match Decoder::new(V311)
        .decode(buf)
        .expect("decoding the broker's answer")
    {
        None => None,
        Some((Packet::ConnAck(ack), used)) => {
            assert_eq!(used, buf.len(), "only a CONNACK was expected");
            Some(Answer {
                accepted: ack.is_accepted(),
                session_present: ack.session_present,
                code: ack.reason_code.0,
            })
        }
        Some((other, _)) => panic!("expected CONNACK, got {other:?}"),
    }
}

/// CONNECT over plain TCP, read and decode the CONNACK, DISCONNECT.
fn handshake(broker: &Mosquitto, client_id: &str, clean_session: bool) -> Answer {
    let mut stream = broker.connect();
    stream
        .write_all(&connect_packet(client_id, clean_session))
        .expect("sending CONNECT");
    let mut buf = Vec::new();
    let answer = loop {
        if let Some(answer) = connack(&buf) {
            break answer;
        }
        let mut chunk = [0u8; 64];
        let n = stream.read(&mut chunk).expect("reading CONNACK");
        assert!(n > 0, "broker closed the connection before CONNACK");
        buf.extend_from_slice(&chunk[..n]);
    };
    stream
        .write_all(&disconnect_packet())
        .expect("sending DISCONNECT");
    answer
}

#[test]
fn raw_v311_connect_is_accepted_before_and_after_restart() {
    let mut broker = Mosquitto::start();
    assert!(broker.port() > 0 && broker.addr().ip().is_loopback());

    let first = handshake(&broker, "wasmqtt-harness", false);
    assert_eq!(
        first,
        Answer {
            accepted: true,
            session_present: false,
            code: 0
        }
    );

    let port = broker.port();
    broker.restart();
    assert_eq!(broker.port(), port, "restart keeps the port");

    // stop() sent SIGTERM, so the broker saved the persistent session before exiting.
    let again = handshake(&broker, "wasmqtt-harness", false);
    assert_eq!(
        again,
        Answer {
            accepted: true,
            session_present: true,
            code: 0
        },
        "the persistent session should survive a graceful restart"
    );

    let clean = handshake(&broker, "wasmqtt-harness-clean", true);
    assert!(clean.accepted && !clean.session_present);
}

#[test]
fn kill_stops_the_broker_and_restart_brings_it_back() {
    let mut broker = Mosquitto::start();
    assert!(broker.is_running());
    broker.kill();
    assert!(!broker.is_running());
    assert!(
        TcpStream::connect(broker.addr()).is_err(),
        "nothing should listen on a killed broker's port"
    );
    broker.restart();
    assert!(broker.is_running());
    assert!(handshake(&broker, "wasmqtt-after-kill", true).accepted);
    broker.stop();
    assert!(!broker.is_running());
}

/// Writes one masked binary WebSocket frame (a client must mask, RFC 6455 §5.3).
fn ws_send_binary(stream: &mut TcpStream, payload: &[u8]) {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x82];
    match payload.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&u16::try_from(n).unwrap().to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).expect("sending a WebSocket frame");
}

/// Reads one unmasked server frame and returns its opcode and payload.
fn ws_read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    stream
        .read_exact(&mut head)
        .expect("reading a frame header");
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let len = match head[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            stream.read_exact(&mut l).unwrap();
            u16::from_be_bytes(l) as usize
        }
        127 => {
            let mut l = [0u8; 8];
            stream.read_exact(&mut l).unwrap();
            u64::from_be_bytes(l) as usize
        }
        n => n as usize,
    };
    let mut payload = vec![0u8; len];
    stream
        .read_exact(&mut payload)
        .expect("reading a frame payload");
    (head[0] & 0x0f, payload)
}

#[test]
fn websocket_listener_speaks_mqtt() {
    let broker = Mosquitto::with_websockets();
    assert_ne!(broker.ws_port(), broker.port());
    assert_eq!(
        broker.ws_url(),
        format!("ws://127.0.0.1:{}/", broker.ws_port())
    );

    let mut stream = TcpStream::connect(broker.ws_addr()).expect("connecting to the ws port");
    stream
        .set_read_timeout(Some(support::mosquitto::IO_TIMEOUT))
        .unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Protocol: mqtt\r\n\r\n",
        broker.ws_port()
    );
    stream.write_all(request.as_bytes()).unwrap();

    // The HTTP response, byte by byte so no frame byte is consumed with it.
    let mut response = Vec::new();
    while !response.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream
            .read_exact(&mut byte)
            .expect("reading the upgrade response");
        response.push(byte[0]);
    }
    let response = String::from_utf8_lossy(&response).to_ascii_lowercase();
    assert!(response.starts_with("http/1.1 101"), "{response}");
    assert!(
        response.contains("s3pplmbitxaq9kygzzhzrbk+xoo="),
        "Sec-WebSocket-Accept (RFC 6455 example key): {response}"
    );
    assert!(
        response.contains("sec-websocket-protocol: mqtt"),
        "{response}"
    );

    ws_send_binary(&mut stream, &connect_packet("wasmqtt-ws", true));
    let mut buf = Vec::new();
    let answer = loop {
        if let Some(answer) = connack(&buf) {
            break answer;
        }
        let (opcode, payload) = ws_read_frame(&mut stream);
        assert_eq!(opcode, 2, "MQTT travels in binary frames");
        buf.extend_from_slice(&payload);
    };
    assert!(answer.accepted && !answer.session_present, "{answer:?}");
    ws_send_binary(&mut stream, &disconnect_packet());
}
