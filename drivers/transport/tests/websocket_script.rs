//! The WebSocket layer against a scripted broker (tungstenite's server role over memory): what
//! mosquitto does not send on purpose. Packets across frames, several packets in one frame,
//! pings, close frames, text frames, refused upgrades, and the handshake buffer bound.

use std::io::{self, Read, Write};

use tungstenite::handshake::derive_accept_key;
use tungstenite::protocol::{frame::coding::CloseCode, CloseFrame, Role};
use tungstenite::{Message, WebSocket};
use wasmqtt::broker::{Broker, Scheme};
use wasmqtt::session::HandshakeFailure;
use wasmqtt_transport::{Connector, Stream, TransportError, TransportOptions};

/// One side of an in-memory connection for the scripted broker.
#[derive(Default)]
struct Mem {
    incoming: Vec<u8>,
    outgoing: Vec<u8>,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = buf.len().min(self.incoming.len());
        buf[..n].copy_from_slice(&self.incoming[..n]);
        self.incoming.drain(..n);
        Ok(n)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn start(options: &TransportOptions) -> (Stream, String) {
    let connector = Connector::new(options).unwrap();
    let mut broker = Broker::new(Scheme::Ws, "127.0.0.1", 8080);
    broker.path = "/mqtt".into();
    let mut stream = connector.start(&broker).unwrap();
    assert!(
        stream.has_network_output(),
        "the upgrade request is ready at once"
    );
    let mut request = Vec::new();
    stream.take_network(&mut request);
    (stream, String::from_utf8(request).expect("an HTTP request"))
}

fn header<'a>(request: &'a str, name: &str) -> Option<&'a str> {
    request.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn answer(request: &str, protocol: Option<&str>) -> String {
    let key = header(request, "Sec-WebSocket-Key").expect("a key");
    let mut a = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        derive_accept_key(key.as_bytes())
    );
    if let Some(p) = protocol {
        a.push_str(&format!("Sec-WebSocket-Protocol: {p}\r\n"));
    }
    a.push_str("\r\n");
    a
}

fn server() -> WebSocket<Mem> {
    WebSocket::from_raw_socket(Mem::default(), Role::Server, None)
}

fn frames(ws: &mut WebSocket<Mem>, messages: Vec<Message>) -> Vec<u8> {
    for m in messages {
        ws.send(m).unwrap();
    }
    std::mem::take(&mut ws.get_mut().outgoing)
}

/// A handshake accepted, and the frames `messages` right behind the 101 answer.
fn open_with(messages: Vec<Message>) -> (Stream, WebSocket<Mem>, Result<(), TransportError>) {
    let (mut stream, request) = start(&TransportOptions::default());
    assert!(request.starts_with("GET /mqtt HTTP/1.1\r\n"), "{request}");
    assert_eq!(header(&request, "Sec-WebSocket-Protocol"), Some("mqtt"));
    assert!(!stream.is_established());
    let mut ws = server();
    let mut bytes = answer(&request, Some("mqtt")).into_bytes();
    bytes.extend(frames(&mut ws, messages));
    let r = stream.receive(&bytes);
    (stream, ws, r)
}

#[test]
fn packets_span_frames_and_frames_hold_several_packets() {
    // PINGRESP (2 bytes) twice in one frame, then a PUBLISH split over two frames.
    let publish = [0x30, 0x07, 0x00, 0x01, b't', b'a', b'b', b'c', b'd'];
    let mut first = vec![0xD0, 0x00, 0xD0, 0x00];
    first.extend_from_slice(&publish[..3]);
    let (mut stream, _ws, r) = open_with(vec![
        Message::Binary(first.into()),
        Message::Binary(publish[3..].to_vec().into()),
    ]);
    r.unwrap();
    assert!(stream.is_established());
    let mut mqtt = Vec::new();
    stream.read_mqtt(&mut mqtt);
    let mut expected = vec![0xD0, 0x00, 0xD0, 0x00];
    expected.extend_from_slice(&publish);
    assert_eq!(mqtt, expected);
}

#[test]
fn mqtt_sent_during_the_handshake_goes_out_after_it_in_binary_frames() {
    let (mut stream, request) = start(&TransportOptions::default());
    stream.send_mqtt(&[0xC0, 0x00]).unwrap(); // PINGREQ, buffered
    assert!(!stream.has_network_output());
    stream
        .receive(answer(&request, Some("mqtt")).as_bytes())
        .unwrap();
    assert!(stream.is_established());
    stream.send_mqtt(&[0xE0, 0x00]).unwrap(); // DISCONNECT
    let mut out = Vec::new();
    stream.take_network(&mut out);
    let mut ws = server();
    ws.get_mut().incoming = out;
    assert_eq!(ws.read().unwrap(), Message::Binary(vec![0xC0, 0x00].into()));
    assert_eq!(ws.read().unwrap(), Message::Binary(vec![0xE0, 0x00].into()));
}

#[test]
fn pings_are_answered_with_pongs() {
    let (mut stream, mut ws, r) = open_with(vec![Message::Ping(b"are you there".to_vec().into())]);
    r.unwrap();
    let mut out = Vec::new();
    stream.take_network(&mut out);
    ws.get_mut().incoming = out;
    assert_eq!(
        ws.read().unwrap(),
        Message::Pong(b"are you there".to_vec().into())
    );
}

#[test]
fn a_close_frame_is_typed_and_answered() {
    let (mut stream, mut ws, r) = open_with(vec![
        Message::Binary(vec![0xD0, 0x00].into()),
        Message::Close(Some(CloseFrame {
            code: CloseCode::Policy,
            reason: "go away".into(),
        })),
    ]);
    let e = r.unwrap_err();
    assert_eq!(
        e,
        TransportError::Closed {
            code: 1008,
            reason: "go away".into()
        }
    );
    assert_eq!(e.failure(), Some(HandshakeFailure::WebSocket));
    // What came before the close is still delivered; the close is answered.
    let mut mqtt = Vec::new();
    stream.read_mqtt(&mut mqtt);
    assert_eq!(mqtt, [0xD0, 0x00]);
    let mut out = Vec::new();
    stream.take_network(&mut out);
    ws.get_mut().incoming = out;
    assert!(matches!(ws.read(), Ok(Message::Close(_))));
    // Dead from now on.
    assert!(stream.send_mqtt(&[0xC0, 0x00]).is_err());
    assert!(stream.receive(&[0x82, 0x00]).is_err());
}

#[test]
fn a_text_frame_is_a_websocket_failure() {
    let (_stream, _ws, r) = open_with(vec![Message::Text("hello".into())]);
    assert_eq!(r.unwrap_err().failure(), Some(HandshakeFailure::WebSocket));
}

/// What the scripted broker answers to the upgrade request.
type Answer = Box<dyn Fn(&str) -> String>;

#[test]
fn refused_upgrades_are_websocket_upgrade_failures() {
    let cases: Vec<Answer> = vec![
        Box::new(|_| "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".into()),
        Box::new(|r| answer(r, None)),
        Box::new(|r| answer(r, Some("mqttv3.1"))),
        Box::new(|r| {
            answer(r, Some("mqtt")).replace("Sec-WebSocket-Accept: ", "Sec-WebSocket-Accept: x")
        }),
        Box::new(|_| "SSH-2.0-OpenSSH_9.2\r\n\r\n".into()),
    ];
    for (i, case) in cases.iter().enumerate() {
        let (mut stream, request) = start(&TransportOptions::default());
        let e = stream.receive(case(&request).as_bytes()).unwrap_err();
        assert_eq!(
            e.failure(),
            Some(HandshakeFailure::WebSocketUpgrade),
            "case {i}: {e}"
        );
        assert!(!stream.is_established());
    }
    // The broker hangs up mid-answer.
    let (mut stream, _) = start(&TransportOptions::default());
    stream.receive(b"HTTP/1.1 101 Switch").unwrap();
    let e = stream.receive_eof().unwrap_err();
    assert_eq!(e.failure(), Some(HandshakeFailure::WebSocketUpgrade));
}

#[test]
fn the_handshake_buffer_is_bounded() {
    let options = TransportOptions {
        max_handshake_buffer: 10,
        ..TransportOptions::default()
    };
    let (mut stream, _) = start(&options);
    stream.send_mqtt(&[0; 10]).unwrap();
    assert_eq!(
        stream.send_mqtt(&[0]),
        Err(TransportError::BufferFull { limit: 10 })
    );
}

#[test]
fn plain_mqtt_is_a_pass_through() {
    let connector = Connector::new(&TransportOptions::default()).unwrap();
    let mut stream = connector
        .start(&Broker::new(Scheme::Mqtt, "127.0.0.1", 1883))
        .unwrap();
    assert!(stream.is_established());
    assert!(!stream.has_network_output());
    stream.send_mqtt(&[0xC0, 0x00]).unwrap();
    let mut out = Vec::new();
    stream.take_network(&mut out);
    assert_eq!(out, [0xC0, 0x00]);
    stream.receive(&[0xD0, 0x00]).unwrap();
    let mut mqtt = Vec::new();
    stream.read_mqtt(&mut mqtt);
    assert_eq!(mqtt, [0xD0, 0x00]);
    stream.receive_eof().unwrap();
    stream.close();
    assert!(!stream.has_network_output());
    assert_eq!(
        stream.send_mqtt(&[0xC0, 0x00]),
        Err(TransportError::AlreadyClosed)
    );
}
