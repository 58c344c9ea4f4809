//! Executable checks of the normative statements that bind the client and that the other test
//! files do not already check (see `tests/conformance/statements.toml` and
//! `docs/conformance.md`).
//!
//! Each test names what it checks in `// checks:` lines, every label with its version
//! (`v5 MQTT-x.y.z-n`, `v3.1.1 MQTT-x.y.z-n`); `tests/conformance.rs` reads them. The session is
//! driven through the simulation harness in `sim/` (packets decoded), or through [`Wire`], a
//! scripted broker of this file that keeps the exact bytes the client wrote.

mod sim;

use sim::*;
use wasmqtt::codec::{
    read_var_int, Auth, Decoder, Disconnect, EncodeError, FixedHeader, Packet, PacketType,
    Properties, ProtocolVersion, PubResp, Publish, QoS, ReasonCode, RetainHandling, Seq, SubAck,
    SubscriptionOptions, UnsubAck,
};
use wasmqtt::session::{
    DisconnectReason, Event, LastWill, Message, MessageProperties, Options, Output,
    ProtocolViolation, PublishError, RequestError, Session, State,
};

use ProtocolVersion::{V311, V5};
use QoS::{AtLeastOnce as Q1, AtMostOnce as Q0, ExactlyOnce as Q2};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn msg(topic: &str, payload: &[u8], qos: QoS) -> Message {
    Message::new(topic, payload.to_vec()).qos(qos)
}

/// The reason of the single `Disconnected` among `events`.
fn disconnect_reason(events: &[Event]) -> DisconnectReason {
    let d = disconnects(events);
    assert_eq!(d.len(), 1, "expected one Disconnected in {events:?}");
    d[0].0.clone()
}

fn violation(events: &[Event]) -> ProtocolViolation {
    match disconnect_reason(events) {
        DisconnectReason::ProtocolError(v) => v,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The client closed the connection because of `expected`: in v5 with a DISCONNECT carrying
/// `code` first, in v3.1.1 without one.
fn assert_closed_for(sim: &mut Sim, expected: ProtocolViolation, code: ReasonCode) {
    let events = sim.take_events();
    assert_eq!(violation(&events), expected);
    let sent = sim.take();
    if sim.version == V5 {
        assert_eq!(sent, vec![Pkt::Disconnect(code)], "{expected:?}");
    } else {
        assert!(sent.is_empty(), "no DISCONNECT in 3.1.1: {sent:?}");
    }
    assert_eq!(sim.close_requests, 1, "closed");
    assert!(!sim.open);
}

/// Reconnects a session waiting to reconnect; returns what followed `connack`.
fn reconnect(sim: &mut Sim, connack: &Packet<'_>) -> Vec<Pkt> {
    let State::Reconnecting(at) = sim.session.state() else {
        panic!("not reconnecting: {:?}", sim.session.state())
    };
    sim.advance_to(at.max(sim.now));
    let c = sim.take();
    assert!(matches!(c.as_slice(), [Pkt::Connect(_)]), "{c:?}");
    sim.send(connack);
    assert!(sim.session.is_connected(), "{:?}", sim.all_events());
    sim.take_events();
    sim.take()
}

fn resp(packet_id: u16) -> OResp {
    OResp {
        packet_id,
        reason_code: ReasonCode::SUCCESS,
    }
}

/// The DISCONNECT reason codes a client may send (v5 Table 3-10, "Sent by": Client).
const CLIENT_DISCONNECT_CODES: [u8; 14] = [
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
];

/// A scripted broker that keeps the exact bytes the client wrote, one `Vec` per packet.
struct Wire {
    session: Session,
    version: ProtocolVersion,
    now: u64,
    open: bool,
    closes: u32,
    buf: Vec<u8>,
    packets: Vec<Vec<u8>>,
    cursor: usize,
    events: Vec<Event>,
}

impl Wire {
    fn new(opts: Options) -> Wire {
        Wire {
            version: opts.version,
            session: Session::new(opts),
            now: 0,
            open: false,
            closes: 0,
            buf: Vec::new(),
            packets: Vec::new(),
            cursor: 0,
            events: Vec::new(),
        }
    }

    fn start(&mut self) {
        self.session.connect(self.now);
        self.run();
    }

    /// Started and answered with `connack`; the CONNECT is taken.
    fn connected_with(opts: Options, connack: &Packet<'_>) -> Wire {
        let mut w = Wire::new(opts);
        w.start();
        let c = w.take();
        assert!(c.len() == 1 && c[0][0] == 0x10, "CONNECT first: {c:?}");
        w.send(connack);
        assert!(w.session.is_connected(), "{:?}", w.events);
        w.events.clear();
        w
    }

    fn run(&mut self) {
        for _ in 0..10_000 {
            match self.session.poll_output() {
                Output::OpenTransport => {
                    self.open = true;
                    self.buf.clear();
                    self.session.handle_connected(self.now);
                }
                Output::Transmit(bytes) => {
                    assert!(self.open, "bytes written without a transport");
                    self.buf.extend_from_slice(&bytes);
                    self.split();
                }
                Output::CloseTransport => {
                    self.open = false;
                    self.closes += 1;
                }
                Output::Event(e) => self.events.push(e),
                Output::Wait(_) => return,
            }
        }
        panic!("the session never said Wait");
    }

    fn split(&mut self) {
        while let Some(h) = FixedHeader::parse(&self.buf, self.version)
            .unwrap_or_else(|e| panic!("the client wrote a bad fixed header: {e}"))
        {
            let n = h.packet_len();
            if self.buf.len() < n {
                return;
            }
            self.packets.push(self.buf.drain(..n).collect());
        }
    }

    /// Packets written since the last `take`, byte for byte.
    fn take(&mut self) -> Vec<Vec<u8>> {
        let out = self.packets[self.cursor..].to_vec();
        self.cursor = self.packets.len();
        out
    }

    fn send(&mut self, p: &Packet<'_>) {
        let bytes = encode(self.version, p);
        self.session.handle_bytes(&bytes, self.now);
        self.run();
    }
}

/// Decodes one whole packet the client wrote.
fn decode(v: ProtocolVersion, raw: &[u8]) -> Packet<'_> {
    let (p, n) = Decoder::new(v)
        .decode(raw)
        .unwrap_or_else(|e| panic!("malformed {raw:?}: {e}"))
        .expect("a whole packet");
    assert_eq!(n, raw.len());
    p
}

/// A cursor over the body of a packet the client wrote.
struct Body<'a>(&'a [u8]);

impl<'a> Body<'a> {
    /// The body of `raw` after its fixed header (whose remaining length must be exact).
    fn of(raw: &'a [u8]) -> Body<'a> {
        let (len, n) = read_var_int(&raw[1..]).unwrap().unwrap();
        let body = &raw[1 + n..];
        assert_eq!(body.len(), len as usize, "remaining length");
        Body(body)
    }
    fn u8(&mut self) -> u8 {
        let b = self.0[0];
        self.0 = &self.0[1..];
        b
    }
    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    /// A two-byte length and that many bytes.
    fn field(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        let (f, rest) = self.0.split_at(n);
        self.0 = rest;
        f
    }
    /// A v5 property block: its length and its bytes.
    fn properties(&mut self) -> &'a [u8] {
        let (len, n) = read_var_int(self.0).unwrap().unwrap();
        let (p, rest) = self.0[n..].split_at(len as usize);
        self.0 = rest;
        p
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

// =============================================================================================
// CONNECT on the wire
// =============================================================================================

/// The CONNECT the session writes, read byte by byte: fixed header flags 0, protocol name
/// "MQTT", the reserved flag 0, Will QoS and Will Retain 0 without a will, each flag set exactly
/// when its field is present, and the payload in the order the specification gives, client
/// identifier first. A v5 will without properties has a Property Length of 0.
// checks: v3.1.1 MQTT-2.2.2-1, v3.1.1 MQTT-3.1.0-1, v3.1.1 MQTT-3.1.2-9, v3.1.1 MQTT-3.1.2-11
// checks: v3.1.1 MQTT-3.1.2-13, v3.1.1 MQTT-3.1.2-14, v3.1.1 MQTT-3.1.2-15, v3.1.1 MQTT-3.1.2-18
// checks: v3.1.1 MQTT-3.1.2-19, v3.1.1 MQTT-3.1.2-20, v3.1.1 MQTT-3.1.2-21, v3.1.1 MQTT-3.1.3-1
// checks: v3.1.1 MQTT-3.1.3-3, v3.1.1 MQTT-3.1.3-4
// checks: v5 MQTT-2.1.3-1, v5 MQTT-2.2.2-1, v5 MQTT-3.1.0-1, v5 MQTT-3.1.2-1, v5 MQTT-3.1.2-9
// checks: v5 MQTT-3.1.2-11, v5 MQTT-3.1.2-12, v5 MQTT-3.1.2-13, v5 MQTT-3.1.2-16
// checks: v5 MQTT-3.1.2-17, v5 MQTT-3.1.2-18, v5 MQTT-3.1.2-19, v5 MQTT-3.1.3-1, v5 MQTT-3.1.3-3
// checks: v5 MQTT-3.1.3-4
#[test]
fn connect_packet_on_the_wire() {
    for v in VERSIONS {
        let wills = [
            None,
            Some(LastWill::new("will/t", b"bye".to_vec())),
            Some(LastWill::new("will/t", b"".to_vec()).qos(Q1).retain(true)),
            Some(LastWill::new("w", b"x".to_vec()).qos(Q2)),
        ];
        let creds: [(Option<&str>, Option<&[u8]>); 3] = [
            (None, None),
            (Some("user"), Some(b"pw")),
            (Some("user"), None),
        ];
        for will in &wills {
            for (user, pass) in creds {
                let mut o = Options::new("client-7").version(v).keep_alive(33);
                o.will = will.clone();
                o.username = user.map(str::to_string);
                o.password = pass.map(<[u8]>::to_vec);
                let mut w = Wire::new(o);
                w.start();
                let sent = w.take();
                assert_eq!(sent.len(), 1, "only CONNECT before CONNACK");
                let raw = &sent[0];
                assert_eq!(raw[0], 0x10, "CONNECT, fixed header flags 0");
                let mut b = Body::of(raw);
                assert_eq!(b.field(), b"MQTT");
                assert_eq!(b.u8(), v.level());
                let flags = b.u8();
                assert_eq!(b.u16(), 33);
                if v == V5 {
                    b.properties();
                }
                assert_eq!(flags & 0b1, 0, "reserved flag");
                assert!(flags & 0b10 != 0, "clean start");
                assert_eq!(flags & 0b100 != 0, will.is_some(), "will flag");
                match will {
                    None => assert_eq!(flags & 0b0011_1000, 0, "no will: QoS and retain 0"),
                    Some(wl) => {
                        let qos = (flags >> 3) & 0b11;
                        assert!(qos < 3);
                        assert_eq!(qos, wl.qos as u8);
                        assert_eq!(flags & 0b10_0000 != 0, wl.retain);
                    }
                }
                assert_eq!(flags & 0x80 != 0, user.is_some(), "user name flag");
                assert_eq!(flags & 0x40 != 0, pass.is_some(), "password flag");
                // The payload, in order.
                let id = b.field();
                assert_eq!(id, b"client-7");
                assert!(std::str::from_utf8(id).is_ok());
                if let Some(wl) = will {
                    if v == V5 {
                        assert_eq!(b.properties(), b"", "no will properties: length 0");
                    }
                    assert_eq!(b.field(), wl.topic.as_bytes());
                    assert_eq!(b.field(), &wl.payload[..]);
                }
                if let Some(u) = user {
                    assert_eq!(b.field(), u.as_bytes());
                }
                if let Some(p) = pass {
                    assert_eq!(b.field(), p);
                }
                assert!(b.is_empty(), "{v}: nothing after the last field");
                assert!(matches!(decode(v, raw), Packet::Connect(_)));
            }
        }
    }
    // v5 allows a password without a user name: the flags say exactly that.
    let mut o = Options::new("c").version(V5);
    o.password = Some(b"secret".to_vec());
    let mut w = Wire::new(o);
    w.start();
    let sent = w.take();
    let mut b = Body::of(&sent[0]);
    b.field();
    b.u8();
    let flags = b.u8();
    assert_eq!(flags & 0xC0, 0x40);
}

/// A v3.1.1 password needs a user name: options with only a password never connect, and no
/// CONNECT breaking the rule is written.
// checks: v3.1.1 MQTT-3.1.2-22
#[test]
fn v311_password_needs_a_user_name() {
    let mut o = opts(V311);
    o.password = Some(b"pw".to_vec());
    let mut sim = Sim::new(o);
    sim.start();
    assert!(sim.take().is_empty(), "nothing written");
    assert_eq!(sim.session.state(), State::Closed);
    assert!(matches!(
        disconnect_reason(&sim.take_events()),
        DisconnectReason::Refused { .. }
    ));
}

/// The same client identifier names the session on every connection.
// checks: v3.1.1 MQTT-3.1.3-2, v5 MQTT-3.1.3-2
#[test]
fn reconnection_uses_the_same_client_id() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).clean_start(false));
        sim.start();
        let first = sim.take()[0].connect().unwrap().client_id.clone();
        assert_eq!(first, "sim-client");
        sim.send(&connack(false));
        sim.drop_connection();
        let State::Reconnecting(at) = sim.session.state() else {
            panic!()
        };
        sim.advance_to(at);
        let again = sim.take()[0].connect().unwrap().clone();
        assert_eq!(again.client_id, first, "{v}");
        assert!(!again.clean_start, "{v}: asks for the same session");
    }
}

// =============================================================================================
// UTF-8 strings, topic names and filters
// =============================================================================================

/// Every string the client would write is checked first: U+0000 anywhere (client identifier,
/// user name, will topic, topic, properties, filters), wildcards in a will topic or response
/// topic, and empty or over-long topics are refused before anything goes out; a multi-byte
/// UTF-8 topic goes out byte for byte.
// checks: v3.1.1 MQTT-1.5.3-1, v3.1.1 MQTT-1.5.3-2, v3.1.1 MQTT-3.1.3-4, v3.1.1 MQTT-3.1.3-10
// checks: v3.1.1 MQTT-3.1.3-11, v3.1.1 MQTT-3.3.2-1, v3.1.1 MQTT-3.8.3-1, v3.1.1 MQTT-3.10.3-1
// checks: v3.1.1 MQTT-4.7.3-1, v3.1.1 MQTT-4.7.3-2, v3.1.1 MQTT-4.7.3-3
// checks: v5 MQTT-1.5.4-1, v5 MQTT-1.5.4-2, v5 MQTT-1.5.7-1, v5 MQTT-3.1.3-4, v5 MQTT-3.1.3-11
// checks: v5 MQTT-3.1.3-12, v5 MQTT-3.3.2-1, v5 MQTT-3.3.2-13, v5 MQTT-3.3.2-14
// checks: v5 MQTT-3.3.2-19, v5 MQTT-3.8.3-1, v5 MQTT-3.10.3-1, v5 MQTT-4.7.3-1, v5 MQTT-4.7.3-2
// checks: v5 MQTT-4.7.3-3
#[test]
fn strings_the_client_writes_are_checked() {
    for v in VERSIONS {
        // CONNECT fields: the session never connects with them.
        let bad_connects: Vec<Options> = vec![
            Options {
                client_id: "a\0b".into(),
                ..opts(v)
            },
            opts(v).credentials("us\0er", b"pw".to_vec()),
            opts(v).will(LastWill::new("will\0", b"x".to_vec())),
            opts(v).will(LastWill::new("will/+", b"x".to_vec())),
            opts(v).will(LastWill::new("", b"x".to_vec())),
        ];
        for o in bad_connects {
            let mut sim = Sim::new(o.clone());
            sim.start();
            assert!(sim.take().is_empty(), "{v}: nothing written for {o:?}");
            assert_eq!(sim.session.state(), State::Closed);
        }

        let mut sim = Sim::connected(opts(v));
        let long = "x".repeat(65_536);
        for t in ["a\0b", "", long.as_str()] {
            assert!(
                matches!(
                    sim.publish(msg(t, b"x", Q1)),
                    Err(PublishError::InvalidTopic(_))
                ),
                "{v}: topic of {} bytes",
                t.len()
            );
        }
        for f in ["a\0b", "", long.as_str()] {
            let sub = sim.session.subscribe(
                vec![(f.to_string(), SubscriptionOptions::default())],
                None,
                0,
            );
            assert!(matches!(sub, Err(RequestError::InvalidFilter(_))), "{v}");
            let unsub = sim.session.unsubscribe(vec![f.to_string()], 0);
            assert!(matches!(unsub, Err(RequestError::InvalidFilter(_))), "{v}");
        }
        if v == V5 {
            let with = |p: MessageProperties| msg("t", b"x", Q1).properties(p);
            let bad = [
                MessageProperties {
                    user_properties: vec![("k\0".into(), "v".into())],
                    ..Default::default()
                },
                MessageProperties {
                    user_properties: vec![("k".into(), "v\0".into())],
                    ..Default::default()
                },
                MessageProperties {
                    content_type: Some("text/\0".into()),
                    ..Default::default()
                },
                MessageProperties {
                    response_topic: Some("replies/#".into()),
                    ..Default::default()
                },
                MessageProperties {
                    response_topic: Some("replies/\0".into()),
                    ..Default::default()
                },
            ];
            for p in bad {
                assert!(
                    matches!(sim.publish(with(p.clone())), Err(PublishError::Invalid(_))),
                    "{p:?}"
                );
            }
        }
        assert!(sim.take().is_empty(), "{v}: none of it went out");

        // A topic of multi-byte characters goes out as its UTF-8 bytes.
        let topic = "température/°C/日本/𝄞";
        sim.publish(msg(topic, b"21", Q0)).unwrap();
        let p = publishes(&sim.take()).remove(0);
        assert_eq!(p.topic, topic);
        let mut w = Wire::connected_with(opts(v), &connack(false));
        w.session
            .publish(msg(topic, b"21", Q0), w.now)
            .expect("publish");
        w.run();
        let raw = w.take().remove(0);
        let mut b = Body::of(&raw);
        assert_eq!(
            b.field(),
            topic.as_bytes(),
            "{v}: the Topic Name comes first"
        );
    }
}

/// Strings the broker sends: U+0000 or ill-formed UTF-8 close the connection (v5 with DISCONNECT
/// 0x81); a byte order mark stays in the topic the application sees.
// checks: v3.1.1 MQTT-1.5.3-1, v3.1.1 MQTT-1.5.3-2, v3.1.1 MQTT-1.5.3-3, v3.1.1 MQTT-4.7.3-2
// checks: v5 MQTT-1.5.4-1, v5 MQTT-1.5.4-2, v5 MQTT-1.5.4-3, v5 MQTT-1.5.7-1, v5 MQTT-4.7.3-2
#[test]
fn strings_the_client_receives_are_checked() {
    for v in VERSIONS {
        // PUBLISH QoS 0, topic "a" U+0000 "b", payload "x" (v5 with an empty property block).
        let mut nul = vec![0x30, 0x05, 0x00, 0x03, b'a', 0x00, b'b'];
        // Topic "a" 0xED 0xA0 0x80 (an encoded surrogate, U+D800).
        let mut surrogate = vec![0x30, 0x06, 0x00, 0x04, b'a', 0xED, 0xA0, 0x80];
        for raw in [&mut nul, &mut surrogate] {
            if v == V5 {
                raw[1] += 1;
                raw.push(0x00);
            }
            raw[1] += 1;
            raw.push(b'x');
        }
        for raw in [nul, surrogate] {
            let mut sim = Sim::connected(opts(v));
            sim.send_raw(&raw);
            let events = sim.take_events();
            assert!(messages(&events).is_empty());
            assert!(matches!(
                violation(&events),
                ProtocolViolation::Malformed(_)
            ));
            let sent = sim.take();
            if v == V5 {
                assert_eq!(sent, vec![Pkt::Disconnect(ReasonCode::MALFORMED_PACKET)]);
            } else {
                assert!(sent.is_empty());
            }
            assert_eq!(sim.close_requests, 1, "{v}: closed");
        }
        // A byte order mark is kept.
        let mut sim = Sim::connected(opts(v));
        sim.send(&publish("\u{FEFF}a/b", b"x", Q1, 3));
        let m = messages(&sim.take_events());
        assert_eq!(m[0].message.topic.as_bytes(), b"\xEF\xBB\xBFa/b");
    }
    // v5: a user property whose value is not UTF-8.
    let mut sim = Sim::connected(opts(V5));
    let raw = [
        0x30, 0x0C, 0x00, 0x01, b't', 0x07, 0x26, 0x00, 0x01, b'k', 0x00, 0x01, 0xFF, b'x',
    ];
    sim.send_raw(&raw);
    assert!(matches!(
        violation(&sim.take_events()),
        ProtocolViolation::Malformed(_)
    ));
    assert_eq!(
        sim.take(),
        vec![Pkt::Disconnect(ReasonCode::MALFORMED_PACKET)]
    );
}

// =============================================================================================
// Fixed headers, SUBSCRIBE and UNSUBSCRIBE on the wire
// =============================================================================================

/// The fixed header of every packet the client writes has the flags of its type (0010 for
/// PUBREL, SUBSCRIBE and UNSUBSCRIBE, 0000 otherwise); SUBSCRIBE and UNSUBSCRIBE hold at least
/// one filter, packed one after the other; v5 subscription options never set the reserved bits.
// checks: v3.1.1 MQTT-2.2.2-1, v3.1.1 MQTT-3.6.1-1, v3.1.1 MQTT-3.8.1-1, v3.1.1 MQTT-3.8.3-3
// checks: v3.1.1 MQTT-3.10.1-1, v3.1.1 MQTT-3.10.3-1, v3.1.1 MQTT-3.10.3-2
// checks: v5 MQTT-2.1.3-1, v5 MQTT-3.6.1-1, v5 MQTT-3.8.1-1, v5 MQTT-3.8.3-2, v5 MQTT-3.8.3-5
// checks: v5 MQTT-3.10.1-1, v5 MQTT-3.10.3-2
#[test]
fn fixed_header_flags_and_request_payloads_on_the_wire() {
    for v in VERSIONS {
        let mut w = Wire::connected_with(opts(v).keep_alive(5), &connack(false));
        // Every option combination, one filter each.
        let mut filters = Vec::new();
        for qos in [Q0, Q1, Q2] {
            for no_local in [false, true] {
                for retain_as_published in [false, true] {
                    for retain_handling in [
                        RetainHandling::SendAtSubscribe,
                        RetainHandling::SendIfNew,
                        RetainHandling::DoNotSend,
                    ] {
                        let o = SubscriptionOptions {
                            qos,
                            no_local,
                            retain_as_published,
                            retain_handling,
                        };
                        filters.push((format!("f/{}", filters.len()), o));
                    }
                }
            }
        }
        assert!(matches!(
            w.session.subscribe(vec![], None, w.now),
            Err(RequestError::Empty)
        ));
        assert!(matches!(
            w.session.unsubscribe(vec![], w.now),
            Err(RequestError::Empty)
        ));
        w.session.subscribe(filters.clone(), None, w.now).unwrap();
        let names: Vec<String> = filters.iter().map(|(f, _)| f.clone()).collect();
        w.session.unsubscribe(names.clone(), w.now).unwrap();
        w.run();
        let sent = w.take();
        assert_eq!(sent.len(), 2, "the empty requests wrote nothing");
        // SUBSCRIBE: flags 0010, then pairs of filter and options up to the end.
        assert_eq!(sent[0][0], 0x82);
        let mut b = Body::of(&sent[0]);
        assert_ne!(b.u16(), 0);
        if v == V5 {
            b.properties();
        }
        for (f, o) in &filters {
            assert_eq!(b.field(), f.as_bytes());
            let byte = b.u8();
            if v == V5 {
                assert_eq!(byte & 0xC0, 0, "reserved bits");
                assert_eq!(byte, o.to_byte());
            } else {
                assert_eq!(byte, o.qos as u8, "3.1.1: the requested QoS alone");
            }
        }
        assert!(b.is_empty());
        // UNSUBSCRIBE: flags 0010, filters packed contiguously.
        assert_eq!(sent[1][0], 0xA2);
        let mut b = Body::of(&sent[1]);
        assert_ne!(b.u16(), 0);
        if v == V5 {
            b.properties();
        }
        for f in &names {
            assert_eq!(b.field(), f.as_bytes());
        }
        assert!(b.is_empty());
        // PUBLISH, PUBACK, PUBREC, PUBREL, PUBCOMP, PINGREQ, DISCONNECT.
        w.session.publish(msg("o", b"2", Q2), w.now).unwrap();
        w.run();
        let p = w.take().remove(0);
        assert_eq!(p[0], 0x34, "PUBLISH QoS 2, DUP 0, RETAIN 0");
        let pid = match decode(v, &p) {
            Packet::Publish(p) => p.packet_id,
            other => panic!("{other:?}"),
        };
        w.send(&pubrec(pid));
        w.send(&publish("i", b"1", Q1, 5));
        w.send(&publish("i", b"2", Q2, 6));
        w.send(&pubrel(6));
        w.now = 5_000;
        w.session.handle_timeout(w.now);
        w.run();
        w.session.disconnect(w.now);
        w.run();
        let firsts: Vec<u8> = w.take().iter().map(|p| p[0]).collect();
        assert_eq!(firsts, vec![0x62, 0x40, 0x50, 0x70, 0xC0, 0xE0], "{v}");
    }
}

// =============================================================================================
// Packet identifiers
// =============================================================================================

/// A SUBSCRIBE or UNSUBSCRIBE sent again on a new connection (it was not acknowledged) keeps
/// its packet identifier; no new packet takes that identifier meanwhile.
// checks: v3.1.1 MQTT-2.3.1-2, v3.1.1 MQTT-2.3.1-3, v5 MQTT-2.2.1-3
#[test]
fn requests_sent_again_keep_their_packet_identifiers() {
    for v in VERSIONS {
        for present in [false, true] {
            let mut sim = Sim::connected(opts(v).clean_start(false).max_inflight(100));
            sim.subscribe(&[("a/#", Q1)], None);
            sim.session.unsubscribe(vec!["b".into()], sim.now).unwrap();
            sim.run();
            let first = sim.take();
            let sub_pid = first[0].subscribe().unwrap().packet_id;
            let Pkt::Unsubscribe(u) = &first[1] else {
                panic!("{first:?}")
            };
            let unsub_pid = u.packet_id;
            sim.drop_connection();
            // Offline: new packets must not take the reserved identifiers.
            for i in 0..50u8 {
                sim.publish(msg("q", &[i], Q1)).unwrap();
            }
            sim.subscribe(&[("c", Q0)], None);
            let after = reconnect(&mut sim, &connack(present));
            let subs: Vec<_> = after
                .iter()
                .filter_map(|p| p.subscribe().cloned())
                .collect();
            let unsubs: Vec<u16> = after
                .iter()
                .filter_map(|p| match p {
                    Pkt::Unsubscribe(u) => Some(u.packet_id),
                    _ => None,
                })
                .collect();
            assert_eq!(subs.len(), 2, "{v} {present}: {after:?}");
            assert_eq!(subs[0].filters[0].0, "a/#");
            assert_eq!(
                subs[0].packet_id, sub_pid,
                "{v} {present}: SUBSCRIBE keeps its id"
            );
            assert_eq!(
                unsubs,
                vec![unsub_pid],
                "{v} {present}: UNSUBSCRIBE keeps its id"
            );
            let mut ids: Vec<u16> = publishes(&after).iter().map(|p| p.packet_id).collect();
            ids.push(subs[1].packet_id);
            ids.extend([sub_pid, unsub_pid]);
            let n = ids.len();
            ids.sort_unstable();
            ids.dedup();
            assert_eq!(ids.len(), n, "{v} {present}: identifiers unique");
            assert!(!ids.contains(&0));
        }
    }
}

// =============================================================================================
// CONNACK
// =============================================================================================

/// Session Present 1 answering a CONNECT that started clean is a protocol violation: the client
/// has no session to resume, so it closes the connection (v5: DISCONNECT 0x82) and resends
/// nothing. Having asked to resume, Session Present 1 is accepted.
// checks: v3.1.1 MQTT-3.1.2-6, v3.1.1 MQTT-3.2.2-1, v5 MQTT-3.1.2-4, v5 MQTT-3.2.2-2
// checks: v5 MQTT-3.2.2-4
#[test]
fn session_present_after_a_clean_start_closes_the_connection() {
    for v in VERSIONS {
        let mut sim = Sim::new(opts(v).clean_start(true));
        sim.start();
        let c = sim.take()[0].connect().unwrap().clone();
        assert!(c.clean_start);
        sim.publish(msg("t", b"queued", Q1)).unwrap();
        sim.send(&connack(true));
        assert_closed_for(
            &mut sim,
            ProtocolViolation::SessionPresentAfterCleanStart,
            ReasonCode::PROTOCOL_ERROR,
        );
        // The next attempt starts clean again and works with Session Present 0.
        let after = reconnect(&mut sim, &connack(false));
        assert_eq!(
            publishes(&after).len(),
            1,
            "{v}: the queued message goes, once"
        );
        assert!(!publishes(&after)[0].dup);

        let mut sim = Sim::new(opts(v).clean_start(false));
        sim.start();
        sim.take();
        sim.send(&connack(true));
        assert!(sim.session.is_connected(), "{v}: resuming was asked for");
    }
}

/// A CONNACK breaking the rules of its form closes the connection (v5: DISCONNECT 0x81):
/// reserved acknowledge flags, Session Present with a refusal, an unknown return code.
// checks: v3.1.1 MQTT-3.2.2-4, v5 MQTT-3.2.2-1, v5 MQTT-3.2.2-6, v5 MQTT-3.2.2-8
#[test]
fn malformed_connack_closes_the_connection() {
    let cases: &[(ProtocolVersion, &[u8])] = &[
        (V311, &[0x20, 0x02, 0x02, 0x00]),
        (V311, &[0x20, 0x02, 0x01, 0x05]),
        (V311, &[0x20, 0x02, 0x00, 0x06]),
        (V5, &[0x20, 0x03, 0x02, 0x00, 0x00]),
        (V5, &[0x20, 0x03, 0x01, 0x87, 0x00]),
        (V5, &[0x20, 0x03, 0x00, 0x05, 0x00]),
    ];
    for &(v, raw) in cases {
        let mut sim = Sim::new(opts(v));
        sim.start();
        sim.take();
        sim.send_raw(raw);
        let events = sim.take_events();
        assert!(
            matches!(violation(&events), ProtocolViolation::Malformed(_)),
            "{v} {raw:?}"
        );
        let sent = sim.take();
        if v == V5 {
            assert_eq!(sent, vec![Pkt::Disconnect(ReasonCode::MALFORMED_PACKET)]);
        } else {
            assert!(sent.is_empty());
        }
        assert_eq!(sim.close_requests, 1);
        assert!(!sim.session.is_connected());
    }
}

// =============================================================================================
// SUBACK and UNSUBACK
// =============================================================================================

/// SUBACK (and v5 UNSUBACK) must hold one reason code per topic filter: any other count is a
/// protocol violation that closes the connection, and the request goes again on the next
/// connection. The codes reach the application in the order of the filters.
// checks: v3.1.1 MQTT-3.8.4-2, v3.1.1 MQTT-3.8.4-5, v3.1.1 MQTT-3.9.3-1, v3.1.1 MQTT-3.10.4-4
// checks: v5 MQTT-3.8.4-2, v5 MQTT-3.8.4-6, v5 MQTT-3.8.4-7, v5 MQTT-3.9.3-1, v5 MQTT-3.10.4-5
// checks: v5 MQTT-3.11.3-1, v5 MQTT-3.11.3-2
#[test]
fn suback_and_unsuback_hold_one_code_per_filter() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).clean_start(false));
        let id = sim.subscribe(&[("a", Q2), ("b", Q1)], None);
        let pid = sim.take()[0].subscribe().unwrap().packet_id;
        sim.send(&suback(pid, &[ReasonCode(1)]));
        assert_closed_for(
            &mut sim,
            ProtocolViolation::ReasonCodeCount {
                packet: PacketType::SubAck,
                expected: 2,
                got: 1,
            },
            ReasonCode::PROTOCOL_ERROR,
        );
        let after = reconnect(&mut sim, &connack(true));
        assert_eq!(after[0].subscribe().unwrap().packet_id, pid);
        sim.send(&suback(pid, &[ReasonCode(1), ReasonCode(0x80)]));
        assert_eq!(
            sim.take_events(),
            vec![Event::Subscribed {
                id,
                reason_codes: vec![ReasonCode(1), ReasonCode(0x80)]
            }]
        );

        let uid = sim
            .session
            .unsubscribe(vec!["a".into(), "b".into()], sim.now)
            .unwrap();
        sim.run();
        let Pkt::Unsubscribe(u) = sim.take().remove(0) else {
            panic!()
        };
        if v == V5 {
            let three = [ReasonCode(0); 3];
            sim.send(&unsuback(u.packet_id, &three));
            let events = sim.take_events();
            assert_eq!(
                violation(&events),
                ProtocolViolation::ReasonCodeCount {
                    packet: PacketType::UnsubAck,
                    expected: 2,
                    got: 3
                }
            );
            assert_eq!(
                sim.take(),
                vec![Pkt::Disconnect(ReasonCode::PROTOCOL_ERROR)]
            );
            assert_eq!(sim.close_requests, 2);
            let after = reconnect(&mut sim, &connack(true));
            let Pkt::Unsubscribe(again) = &after[0] else {
                panic!("{after:?}")
            };
            assert_eq!(again.packet_id, u.packet_id);
        }
        let codes = if v == V5 {
            vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
        } else {
            vec![]
        };
        sim.send(&unsuback(u.packet_id, &codes));
        assert_eq!(
            sim.take_events(),
            vec![Event::Unsubscribed {
                id: uid,
                reason_codes: codes
            }]
        );
        assert!(sim.session.is_connected());
    }
}

// =============================================================================================
// Outbound QoS 1 and 2
// =============================================================================================

/// PUBREL packets go in the order their PUBREC packets arrived, not in publication order.
// checks: v3.1.1 MQTT-4.6.0-4, v5 MQTT-4.6.0-4
#[test]
fn pubrel_follows_the_order_of_pubrec() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v));
        for i in 0..3u8 {
            sim.publish(msg("q2", &[i], Q2)).unwrap();
        }
        let p: Vec<u16> = publishes(&sim.take()).iter().map(|p| p.packet_id).collect();
        let mut bytes = Vec::new();
        for i in [2, 0, 1] {
            bytes.extend(encode(v, &pubrec(p[i])));
        }
        sim.send_raw(&bytes);
        assert_eq!(
            sim.take(),
            vec![
                Pkt::PubRel(resp(p[2])),
                Pkt::PubRel(resp(p[0])),
                Pkt::PubRel(resp(p[1]))
            ]
        );
    }
}

/// On a live connection nothing is ever retransmitted: an unacknowledged PUBLISH or PUBREL
/// waits (for its acknowledgement, or for a resumed session), however long it takes.
// checks: v3.1.1 MQTT-4.3.2-1, v3.1.1 MQTT-4.3.3-1
// checks: v5 MQTT-4.3.2-3, v5 MQTT-4.3.3-5, v5 MQTT-4.3.3-6, v5 MQTT-4.4.0-1
#[test]
fn nothing_is_retransmitted_on_a_live_connection() {
    for v in VERSIONS {
        let mut sim = Sim::connected(opts(v).keep_alive(10));
        sim.publish(msg("a", b"1", Q1)).unwrap();
        sim.publish(msg("b", b"2", Q2)).unwrap();
        sim.publish(msg("c", b"3", Q2)).unwrap();
        let p = publishes(&sim.take());
        sim.send(&pubrec(p[2].packet_id));
        assert_eq!(sim.take(), vec![Pkt::PubRel(resp(p[2].packet_id))]);
        for _ in 0..360 {
            sim.advance(10_000);
            let sent = sim.take();
            assert_eq!(sent, vec![Pkt::PingReq], "{v}: only keep-alive");
            sim.send(&Packet::PingResp);
        }
        assert!(completions(&sim.take_events()).is_empty());
        assert_eq!(sim.session.inflight_len(), 3);
        assert!(sim.session.is_connected());
    }
}

/// A resumed session sends its unacknowledged messages again within the broker's new limits:
/// no more unacknowledged QoS 1 and 2 PUBLISH than its Receive Maximum (a PUBREC'd message
/// counts until PUBCOMP; PUBREL is not held back), the rest as acknowledgements arrive, in the
/// original order and before new messages; a message the new Maximum QoS or Retain Available
/// forbids fails instead of going out.
// checks: v5 MQTT-3.2.2-11, v5 MQTT-3.2.2-14, v5 MQTT-3.3.4-7, v5 MQTT-3.3.4-8, v5 MQTT-4.4.0-1
// checks: v5 MQTT-4.6.0-1, v5 MQTT-4.9.0-1, v5 MQTT-4.9.0-2
#[test]
fn resumed_session_resends_within_the_new_limits() {
    let mut sim = Sim::connected(opts(V5).session_expiry_interval(600).max_inflight(10));
    let ids: Vec<_> = [
        msg("m0", b"0", Q1),
        msg("m1", b"1", Q1).retain(true),
        msg("m2", b"2", Q2),
        msg("m3", b"3", Q1),
        msg("m4", b"4", Q2),
        msg("m5", b"5", Q1),
    ]
    .into_iter()
    .map(|m| sim.publish(m).unwrap())
    .collect();
    let first = publishes(&sim.take());
    assert_eq!(first.len(), 6);
    let pid = |i: usize| first[i].packet_id;
    sim.send(&pubrec(pid(4)));
    assert_eq!(sim.take(), vec![Pkt::PubRel(resp(pid(4)))]);
    sim.drop_connection();
    sim.take_events();
    let limits = Properties {
        receive_maximum: Some(2),
        maximum_qos: Some(Q1),
        retain_available: Some(false),
        ..Properties::EMPTY
    };
    let after = reconnect(&mut sim, &connack_with(true, limits));
    let dup_of = |p: &Pkt| match p {
        Pkt::Publish(p) => (p.packet_id, p.dup, p.topic.clone()),
        other => panic!("{other:?}"),
    };
    // m4 (PUBREC'd) counts; m0 fills the window; PUBREL m4 is not held back.
    assert_eq!(after.len(), 2, "{after:?}");
    assert_eq!(dup_of(&after[0]), (pid(0), true, "m0".into()));
    assert_eq!(after[1], Pkt::PubRel(resp(pid(4))));
    let late = sim.publish(msg("m6", b"6", Q1)).unwrap();
    assert!(sim.take().is_empty(), "the window is full");
    // PUBACK m0: m1 (retained) and m2 (QoS 2) may not go any more; m3 goes.
    sim.send(&puback(pid(0)));
    let sent = sim.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(dup_of(&sent[0]), (pid(3), true, "m3".into()));
    let events = sim.take_events();
    let result = |events: &[Event], i: usize| {
        completions(events)
            .into_iter()
            .find(|(id, _)| *id == ids[i])
            .map(|(_, r)| r)
    };
    assert_eq!(result(&events, 0), Some(Ok(ReasonCode::SUCCESS)));
    assert_eq!(
        result(&events, 1),
        Some(Err(PublishError::RetainNotSupported))
    );
    assert_eq!(
        result(&events, 2),
        Some(Err(PublishError::QoSNotSupported(Q1)))
    );
    // PUBCOMP m4: m5, still before the new m6.
    sim.send(&pubcomp(pid(4)));
    let sent = sim.take();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(dup_of(&sent[0]), (pid(5), true, "m5".into()));
    sim.send(&puback(pid(3)));
    let sent = sim.take();
    assert_eq!(sent.len(), 1);
    let (_, dup, topic) = dup_of(&sent[0]);
    assert_eq!((dup, topic.as_str()), (false, "m6"));
    let m6 = publishes(&sent)[0].packet_id;
    sim.send(&puback(pid(5)));
    sim.send(&puback(m6));
    let events = sim.all_events();
    for i in [3, 4, 5] {
        assert_eq!(result(&events, i), Some(Ok(ReasonCode::SUCCESS)), "m{i}");
    }
    assert!(completions(&events)
        .iter()
        .any(|(id, r)| *id == late && *r == Ok(ReasonCode::SUCCESS)));
}

/// The client applies no message expiry to a QoS 2 message once sent: its PUBREL and its
/// redelivery go on after the expiry passed. Inbound, the QoS 2 exchange completes whatever the
/// message's expiry.
// checks: v5 MQTT-4.3.3-7, v5 MQTT-4.3.3-13
#[test]
fn qos2_exchanges_ignore_message_expiry() {
    let mut sim = Sim::connected(opts(V5).keep_alive(0).session_expiry_interval(600));
    let short = MessageProperties {
        message_expiry_interval: Some(1),
        ..Default::default()
    };
    let a = sim
        .publish(msg("a", b"1", Q2).properties(short.clone()))
        .unwrap();
    let b = sim
        .publish(msg("b", b"2", Q2).properties(short.clone()))
        .unwrap();
    let p = publishes(&sim.take());
    sim.advance_to(10_000);
    sim.send(&pubrec(p[0].packet_id));
    assert_eq!(sim.take(), vec![Pkt::PubRel(resp(p[0].packet_id))]);
    sim.advance_to(20_000);
    sim.drop_connection();
    let after = reconnect(&mut sim, &connack(true));
    assert_eq!(after[0], Pkt::PubRel(resp(p[0].packet_id)));
    let again = publishes(&after);
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].packet_id, again[0].dup), (p[1].packet_id, true));
    sim.send(&pubcomp(p[0].packet_id));
    sim.send(&pubrec(p[1].packet_id));
    sim.send(&pubcomp(p[1].packet_id));
    let events = sim.take_events();
    for id in [a, b] {
        assert!(completions(&events).contains(&(id, Ok(ReasonCode::SUCCESS))));
    }
    // Inbound: expired long before PUBREL, still completed.
    sim.take();
    sim.send(&Packet::Publish(Publish {
        dup: false,
        qos: Q2,
        retain: false,
        topic: "in",
        packet_id: 9,
        properties: Properties {
            message_expiry_interval: Some(1),
            ..Properties::EMPTY
        },
        payload: b"x",
    }));
    assert_eq!(sim.take(), vec![Pkt::PubRec(resp(9))]);
    sim.advance_to(60_000);
    sim.send(&pubrel(9));
    assert_eq!(sim.take(), vec![Pkt::PubComp(resp(9))]);
}

// =============================================================================================
// v5 acknowledgements, DISCONNECT and AUTH the client writes
// =============================================================================================

/// Every PUBACK, PUBREC and PUBCOMP the client writes in v5 carries a reason code of its type
/// and no property (no Reason String, no User Property), so it fits any Maximum Packet Size the
/// broker can announce; the client never refuses a message with a failing PUBACK or PUBREC.
// checks: v5 MQTT-2.2.1-5, v5 MQTT-3.4.2-1, v5 MQTT-3.4.2-2, v5 MQTT-3.4.2-3, v5 MQTT-3.5.2-1
// checks: v5 MQTT-3.5.2-2, v5 MQTT-3.5.2-3, v5 MQTT-3.6.2-1, v5 MQTT-3.6.2-2, v5 MQTT-3.6.2-3
// checks: v5 MQTT-3.7.2-1, v5 MQTT-3.7.2-2, v5 MQTT-3.7.2-3, v5 MQTT-3.14.2-3, v5 MQTT-3.14.2-4
// checks: v5 MQTT-4.3.3-9, v5 MQTT-4.5.0-2
#[test]
fn v5_acknowledgements_the_client_writes() {
    let limits = Properties {
        maximum_packet_size: Some(16),
        ..Properties::EMPTY
    };
    let mut w = Wire::connected_with(opts(V5), &connack_with(false, limits));
    // Payload Format Indicator 1 with a payload that is not UTF-8: acknowledged all the same.
    let odd = |qos, packet_id| {
        Packet::Publish(Publish {
            dup: false,
            qos,
            retain: false,
            topic: "in",
            packet_id,
            properties: Properties {
                payload_format_indicator: Some(true),
                ..Properties::EMPTY
            },
            payload: &[0xFF, 0xFE],
        })
    };
    w.send(&odd(Q1, 1));
    w.send(&odd(Q2, 2));
    w.send(&sim::dup(odd(Q2, 2)));
    w.send(&pubrel(2));
    w.send(&pubrel(77));
    w.session.publish(msg("out", b"x", Q2), w.now).unwrap();
    w.run();
    let out = w.take();
    let pid = match decode(V5, out.last().unwrap()) {
        Packet::Publish(p) => p.packet_id,
        other => panic!("{other:?}"),
    };
    w.send(&pubrec(pid));
    w.session.disconnect(w.now);
    w.run();
    let mut acks = out[..out.len() - 1].to_vec();
    acks.extend(w.take());
    let kinds: Vec<u8> = acks.iter().map(|a| a[0] >> 4).collect();
    assert_eq!(kinds, vec![4, 5, 5, 7, 7, 6, 14], "{acks:?}");
    for raw in &acks {
        assert!(raw.len() <= 5, "no properties: {raw:?}");
        let t = PacketType::from_nibble(raw[0] >> 4).unwrap();
        let code = match decode(V5, raw) {
            Packet::PubAck(r) | Packet::PubRec(r) | Packet::PubRel(r) | Packet::PubComp(r) => {
                assert!(r.properties.is_empty());
                r.reason_code
            }
            Packet::Disconnect(d) => {
                assert!(d.properties.is_empty());
                d.reason_code
            }
            other => panic!("{other:?}"),
        };
        assert!(code.allowed_in(t), "{t}: {code}");
        if matches!(t, PacketType::PubAck | PacketType::PubRec) {
            assert_eq!(code, ReasonCode::SUCCESS, "never a refusal");
        }
    }
    assert_eq!(acks[4][4], 0x92, "PUBCOMP for an unknown identifier: 0x92");
}

/// The client writes only DISCONNECT reason codes a client may send: what the application
/// asks for when it is one, 0x80 otherwise (never a server's code, never a panic); and the
/// codes of its protocol-error DISCONNECTs, which always close the connection.
// checks: v5 MQTT-3.14.2-1, v5 MQTT-4.13.2-1
#[test]
fn v5_disconnect_reason_codes_are_client_codes() {
    for code in 0..=255u8 {
        let mut sim = Sim::connected(opts(V5));
        sim.session.disconnect_with(ReasonCode(code), sim.now);
        sim.run();
        let expected = if CLIENT_DISCONNECT_CODES.contains(&code) {
            code
        } else {
            0x80
        };
        assert_eq!(sim.take(), vec![Pkt::Disconnect(ReasonCode(expected))]);
        assert_eq!(sim.close_requests, 1);
    }
    // Protocol errors of every kind, including a SUBSCRIBE (a server-side packet) whose filter
    // is invalid: its 0x8F Topic Filter invalid is a code only a server may send.
    let inputs: Vec<(Options, Vec<u8>)> = vec![
        (
            opts(V5),
            vec![
                0x82, 0x0B, 0x00, 0x01, 0x00, 0x00, 0x05, b'a', b'/', b'#', b'/', b'b', 0x00,
            ],
        ),
        (
            opts(V5),
            vec![0x82, 0x07, 0x00, 0x01, 0x00, 0x00, 0x01, b'a', 0x00],
        ),
        (
            opts(V5),
            vec![0x30, 0x06, 0x00, 0x03, b'a', b'/', b'+', 0x00],
        ),
        (
            opts(V5),
            vec![0x30, 0x07, 0x00, 0x01, b't', 0x03, 0x23, 0x00, 0x00],
        ),
        (
            opts(V5).max_packet_size(16),
            encode(V5, &publish("t", &[0; 32], Q0, 0)),
        ),
        (opts(V5).receive_maximum(1), {
            let mut b = encode(V5, &publish("t", b"1", Q2, 1));
            b.extend(encode(V5, &publish("t", b"2", Q2, 2)));
            b
        }),
        (opts(V5), vec![0xE1, 0x00]),
    ];
    for (o, raw) in inputs {
        let mut sim = Sim::connected(o);
        sim.send_raw(&raw);
        let sent = sim.take();
        let Some(Pkt::Disconnect(code)) = sent.last() else {
            panic!("{raw:?}: {sent:?}")
        };
        assert!(CLIENT_DISCONNECT_CODES.contains(&code.0), "{raw:?}: {code}");
        assert!(code.0 >= 0x80);
        assert_eq!(sim.close_requests, 1, "closed after DISCONNECT");
    }
}

/// Non-zero reserved bits in the fixed header of DISCONNECT or AUTH make the packet malformed:
/// the client answers DISCONNECT 0x81 and closes.
// checks: v5 MQTT-2.1.3-1, v5 MQTT-3.14.1-1, v5 MQTT-3.15.1-1
#[test]
fn v5_reserved_bits_of_disconnect_and_auth() {
    for raw in [[0xE1, 0x00], [0xE8, 0x00], [0xF1, 0x00], [0xF2, 0x00]] {
        let mut sim = Sim::connected(opts(V5));
        sim.send_raw(&raw);
        assert!(matches!(
            violation(&sim.take_events()),
            ProtocolViolation::Malformed(_)
        ));
        assert_eq!(
            sim.take(),
            vec![Pkt::Disconnect(ReasonCode::MALFORMED_PACKET)]
        );
        assert_eq!(sim.close_requests, 1);
    }
}

/// A packet from the broker over our Maximum Packet Size, whatever makes it large (a Reason
/// String or User Property it should have left out), closes the connection with DISCONNECT
/// 0x95 (Packet too large), CONNACK included.
// checks: v5 MQTT-3.1.2-24, v5 MQTT-3.2.2-19, v5 MQTT-3.2.2-20, v5 MQTT-3.4.2-2
// checks: v5 MQTT-3.4.2-3, v5 MQTT-3.5.2-2, v5 MQTT-3.5.2-3, v5 MQTT-3.6.2-2, v5 MQTT-3.6.2-3
// checks: v5 MQTT-3.7.2-2, v5 MQTT-3.7.2-3, v5 MQTT-3.9.2-1, v5 MQTT-3.9.2-2, v5 MQTT-3.11.2-1
// checks: v5 MQTT-3.11.2-2, v5 MQTT-3.14.2-3, v5 MQTT-3.14.2-4, v5 MQTT-3.15.2-2
// checks: v5 MQTT-3.15.2-3
#[test]
fn v5_oversized_packets_from_the_broker_close_with_0x95() {
    let long = "r".repeat(100);
    let users = [("k", long.as_str())];
    let reason = Properties {
        reason_string: Some(&long),
        ..Properties::EMPTY
    };
    let user = Properties {
        user_properties: Seq::from_slice(&users),
        ..Properties::EMPTY
    };
    let codes = [ReasonCode(1)];
    let ucodes = [ReasonCode(0)];
    for props in [reason, user] {
        let resp_with = |packet_id| PubResp {
            packet_id,
            reason_code: ReasonCode::SUCCESS,
            properties: props,
        };
        let packets = [
            Packet::PubAck(resp_with(1)),
            Packet::PubRec(resp_with(1)),
            Packet::PubRel(resp_with(1)),
            Packet::PubComp(resp_with(1)),
            Packet::SubAck(SubAck {
                packet_id: 1,
                properties: props,
                reason_codes: Seq::from_slice(&codes),
            }),
            Packet::UnsubAck(UnsubAck {
                packet_id: 1,
                properties: props,
                reason_codes: Seq::from_slice(&ucodes),
            }),
            Packet::Disconnect(Disconnect {
                reason_code: ReasonCode::SUCCESS,
                properties: props,
            }),
            Packet::Auth(Auth {
                reason_code: ReasonCode::CONTINUE_AUTHENTICATION,
                properties: props,
            }),
        ];
        for p in packets {
            let bytes = encode(V5, &p);
            let mut sim = Sim::connected(opts(V5).max_packet_size(64));
            sim.send_raw(&bytes);
            assert!(
                matches!(
                    violation(&sim.take_events()),
                    ProtocolViolation::Malformed(
                        wasmqtt::codec::DecodeError::PacketTooLarge { .. }
                    )
                ),
                "{p:?}"
            );
            assert_eq!(
                sim.take(),
                vec![Pkt::Disconnect(ReasonCode::PACKET_TOO_LARGE)]
            );
            assert_eq!(sim.close_requests, 1);
        }
        // CONNACK, before the connection is up.
        let mut sim = Sim::new(opts(V5).max_packet_size(64));
        sim.start();
        sim.take();
        sim.send(&connack_with(false, props));
        assert_eq!(
            sim.take(),
            vec![Pkt::Disconnect(ReasonCode::PACKET_TOO_LARGE)]
        );
        assert_eq!(sim.close_requests, 1);
        assert!(!sim.session.is_connected());
    }
}

/// v5 enhanced authentication, both ways: the client sends AUTH only with an Authentication
/// Method in CONNECT, only 0x18 (or 0x19 to re-authenticate after CONNACK), always with that
/// method; it refuses AUTH when it asked for none, AUTH or a successful CONNACK with another
/// method (or none), and AUTH codes the server may not send at that point. A failed
/// re-authentication (the broker's DISCONNECT) closes the connection.
// checks: v5 MQTT-3.1.2-30, v5 MQTT-3.15.2-1, v5 MQTT-4.12.0-2, v5 MQTT-4.12.0-3
// checks: v5 MQTT-4.12.0-5, v5 MQTT-4.12.0-6, v5 MQTT-4.12.0-7, v5 MQTT-4.12.1-1
// checks: v5 MQTT-4.12.1-2
#[test]
fn v5_enhanced_authentication_rules() {
    let auth = |code: ReasonCode, method: Option<&'static str>| {
        Packet::Auth(Auth {
            reason_code: code,
            properties: Properties {
                authentication_method: method,
                ..Properties::EMPTY
            },
        })
    };
    let with_method = |m: Option<&'static str>| Properties {
        authentication_method: m,
        ..Properties::EMPTY
    };
    let continue_ = ReasonCode::CONTINUE_AUTHENTICATION;
    let reauth = ReasonCode::RE_AUTHENTICATE;
    let method = || {
        let mut o = opts(V5);
        o.authentication_method = Some("M".into());
        o
    };
    let awaiting = |o: Options| {
        let mut sim = Sim::new(o);
        sim.start();
        sim.take();
        sim
    };

    // Without an Authentication Method in CONNECT: no AUTH either way.
    let mut sim = awaiting(opts(V5));
    assert_eq!(
        sim.session.auth(continue_, None, sim.now),
        Err(EncodeError::UnexpectedAuth)
    );
    sim.run();
    assert!(sim.take().is_empty());
    sim.send(&auth(continue_, Some("M")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::UnexpectedPacket(PacketType::Auth),
        ReasonCode::PROTOCOL_ERROR,
    );
    let mut sim = awaiting(opts(V5));
    sim.send(&connack_with(false, with_method(Some("M"))));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );
    let mut sim = Sim::connected(opts(V5));
    assert_eq!(
        sim.session.auth(reauth, None, sim.now),
        Err(EncodeError::UnexpectedAuth)
    );
    sim.send(&auth(continue_, Some("M")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::UnexpectedPacket(PacketType::Auth),
        ReasonCode::PROTOCOL_ERROR,
    );

    // With method "M", before CONNACK: the client continues only; the server continues only,
    // always with "M"; nothing but AUTH goes out.
    let mut sim = awaiting(method());
    for code in [reauth, ReasonCode::SUCCESS, ReasonCode(0x80)] {
        assert_eq!(
            sim.session.auth(code, None, sim.now),
            Err(EncodeError::InvalidReasonCode {
                packet: PacketType::Auth,
                code: code.0
            })
        );
    }
    sim.publish(msg("t", b"x", Q1)).unwrap();
    sim.subscribe(&[("s", Q0)], None);
    sim.run();
    assert!(sim.take().is_empty(), "nothing before CONNACK");
    sim.send(&auth(continue_, Some("Other")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );
    for (code, m) in [(ReasonCode::SUCCESS, Some("M")), (reauth, Some("M"))] {
        let mut sim = awaiting(method());
        sim.send(&auth(code, m));
        assert_closed_for(
            &mut sim,
            ProtocolViolation::AuthReasonCode(code),
            ReasonCode::PROTOCOL_ERROR,
        );
    }
    let mut sim = awaiting(method());
    sim.send(&auth(continue_, None));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );
    let mut sim = awaiting(method());
    sim.send(&auth(continue_, Some("M")));
    sim.session
        .auth(continue_, Some(b"d".to_vec()), sim.now)
        .unwrap();
    sim.run();
    assert_eq!(
        sim.take(),
        vec![Pkt::Auth(OAuth {
            reason_code: continue_,
            method: Some("M".into()),
            data: Some(b"d".to_vec())
        })]
    );
    sim.send(&connack(false));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthenticationMethod,
        ReasonCode::PROTOCOL_ERROR,
    );

    // After CONNACK: re-authentication with 0x19 and "M"; the server continues or succeeds,
    // never asks to re-authenticate.
    let mut sim = awaiting(method());
    sim.send(&connack_with(false, with_method(Some("M"))));
    assert!(sim.session.is_connected());
    sim.take();
    sim.session.auth(reauth, None, sim.now).unwrap();
    sim.run();
    sim.send(&auth(continue_, Some("M")));
    sim.session.auth(continue_, None, sim.now).unwrap();
    sim.run();
    sim.send(&auth(ReasonCode::SUCCESS, Some("M")));
    let sent = sim.take();
    assert_eq!(
        sent,
        vec![
            Pkt::Auth(OAuth {
                reason_code: reauth,
                method: Some("M".into()),
                data: None
            }),
            Pkt::Auth(OAuth {
                reason_code: continue_,
                method: Some("M".into()),
                data: None
            })
        ]
    );
    assert!(sim.session.is_connected());
    sim.send(&auth(reauth, Some("M")));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::AuthReasonCode(reauth),
        ReasonCode::PROTOCOL_ERROR,
    );
    // No AUTH without a connection past CONNECT.
    assert_eq!(
        sim.session.auth(continue_, None, sim.now),
        Err(EncodeError::UnexpectedAuth)
    );

    // A failed re-authentication: the broker disconnects, the client closes.
    let mut sim = Sim::connected_with(method(), &connack_with(false, with_method(Some("M"))));
    sim.session.auth(reauth, None, sim.now).unwrap();
    sim.run();
    sim.take();
    sim.send(&Packet::Disconnect(Disconnect {
        reason_code: ReasonCode::NOT_AUTHORIZED,
        properties: Properties::EMPTY,
    }));
    assert!(matches!(
        disconnect_reason(&sim.take_events()),
        DisconnectReason::ByServer {
            code: ReasonCode::NOT_AUTHORIZED,
            ..
        }
    ));
    assert!(sim.take().is_empty());
    assert_eq!(sim.close_requests, 1);
}

/// A PUBLISH from the client never carries a Subscription Identifier, even when the message
/// handed to `publish` has some (a received message published again, say).
// checks: v5 MQTT-3.3.4-6
#[test]
fn v5_client_publish_carries_no_subscription_identifier() {
    let mut w = Wire::connected_with(opts(V5), &connack(false));
    let p = MessageProperties {
        subscription_identifiers: vec![7, 300],
        ..Default::default()
    };
    for qos in [Q0, Q1, Q2] {
        w.session
            .publish(msg("t", b"x", qos).properties(p.clone()), w.now)
            .unwrap();
    }
    w.run();
    let sent = w.take();
    assert_eq!(sent.len(), 3);
    for raw in &sent {
        match decode(V5, raw) {
            Packet::Publish(p) => assert!(p.properties.subscription_identifiers.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}
