//! What the session tests share: imports, helpers, and [`Wire`], a scripted broker that keeps
//! the exact bytes the client wrote (the simulation harness in `tests/sim/` decodes them).

pub(crate) use crate::sim::*;
pub(crate) use wasmqtt::codec::{
    read_var_int, Auth, ConnAck, Connect, Decoder, Disconnect, EncodeError, FixedHeader, Packet,
    PacketType, Properties, ProtocolVersion, PubResp, Publish, QoS, ReasonCode, RetainHandling,
    Seq, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
};
pub(crate) use wasmqtt::session::{
    ConnectionInfo, DisconnectReason, Event, FirstConnect, LastWill, Message, MessageProperties,
    Options, Output, ProtocolViolation, PublishError, PublishId, ReconnectPolicy, RequestError,
    Session, State,
};

pub(crate) use ProtocolVersion::{V311, V5};
pub(crate) use QoS::{AtLeastOnce as Q1, AtMostOnce as Q0, ExactlyOnce as Q2};

pub(crate) fn msg(topic: &str, payload: &[u8], qos: QoS) -> Message {
    Message::new(topic, payload.to_vec()).qos(qos)
}

pub(crate) fn connected_info(events: &[Event]) -> ConnectionInfo {
    events
        .iter()
        .find_map(|e| match e {
            Event::Connected(i) => Some((**i).clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no Connected event in {events:?}"))
}

/// The single `Disconnected` in `events`.
pub(crate) fn the_disconnect(events: &[Event]) -> (DisconnectReason, Option<u64>) {
    let d = disconnects(events);
    assert_eq!(d.len(), 1, "expected one Disconnected in {events:?}");
    d[0].clone()
}

pub(crate) fn protocol_violation(events: &[Event]) -> ProtocolViolation {
    match the_disconnect(events).0 {
        DisconnectReason::ProtocolError(v) => v,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// Outcome of the completion of `id` (exactly one expected).
pub(crate) fn completion_of(events: &[Event], id: PublishId) -> Result<ReasonCode, PublishError> {
    let c: Vec<_> = completions(events)
        .into_iter()
        .filter(|(i, _)| *i == id)
        .collect();
    assert_eq!(
        c.len(),
        1,
        "expected one completion for {id:?} in {events:?}"
    );
    c[0].1.clone()
}

/// Pretends the CONNECT just written was answered: connects a session with `connack`.
pub(crate) fn reconnect_with(sim: &mut Sim, connack: &Packet<'_>) -> Vec<OPacket> {
    let now = sim.now;
    let at = match sim.session.state() {
        State::Reconnecting(at) => at,
        s => panic!("not reconnecting: {s:?}"),
    };
    sim.advance_to(at.max(now));
    let sent = sim.take();
    assert!(
        matches!(sent.as_slice(), [OPacket::Connect(_)]),
        "expected CONNECT, got {sent:?}"
    );
    sim.send(connack);
    assert!(sim.session.is_connected(), "{:?}", sim.all_events());
    sim.take()
}

pub(crate) fn pub_props(user: &[(&'static str, &'static str)]) -> MessageProperties {
    MessageProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(120),
        content_type: Some("application/json".into()),
        response_topic: Some("replies/sim".into()),
        correlation_data: Some(vec![0xC0, 0xFF, 0xEE]),
        user_properties: user
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        subscription_identifiers: Vec::new(),
    }
}

pub(crate) fn reconnect_delays(policy: ReconnectPolicy, seed: u64, failures: usize) -> Vec<u64> {
    let mut sim = Sim::new(opts(V5).reconnect(policy).random_seed(seed));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    for _ in 0..failures {
        let State::Reconnecting(at) = sim.session.state() else {
            panic!("not reconnecting");
        };
        sim.advance_to(at);
    }
    sim.events
        .iter()
        .filter_map(|(t, e)| match e {
            Event::Disconnected {
                reconnect_at: Some(at),
                ..
            } => Some(at - t),
            _ => None,
        })
        .collect()
}

pub(crate) fn aliased<'a>(topic: &'a str, alias: u16, payload: &'a [u8]) -> Packet<'a> {
    Packet::Publish(Publish {
        dup: false,
        qos: Q0,
        retain: false,
        topic,
        packet_id: 0,
        properties: Properties {
            topic_alias: Some(alias),
            ..Properties::EMPTY
        },
        payload,
    })
}

pub(crate) fn check_malformed(v: ProtocolVersion, name: &str, bytes: &[u8], code: ReasonCode) {
    let mut sim = Sim::connected(opts(v));
    sim.send_raw(bytes);
    let events = sim.take_events();
    let violation = protocol_violation(&events);
    let sent = sim.take();
    if v == V5 {
        assert_eq!(
            sent,
            vec![OPacket::disconnect(code)],
            "{v} {name}: {violation:?}"
        );
        assert_eq!(violation.reason_code(), code, "{v} {name}");
    } else {
        assert!(sent.is_empty(), "{v} {name}: no DISCONNECT in 3.1.1");
    }
    assert_eq!(sim.close_requests, 1, "{v} {name}: closed");
    assert!(!sim.open);
    assert!(matches!(sim.session.state(), State::Reconnecting(_)));
    // The next connection starts clean: no leftover bytes.
    let State::Reconnecting(at) = sim.session.state() else {
        unreachable!()
    };
    sim.advance_to(at);
    sim.take();
    sim.send(&connack(false));
    sim.send(&publish("ok", b"1", Q0, 0));
    assert_eq!(messages(&sim.take_events()).len(), 1, "{v} {name}");
}

/// The reason of the single `Disconnected` among `events`.
pub(crate) fn disconnect_reason(events: &[Event]) -> DisconnectReason {
    let d = disconnects(events);
    assert_eq!(d.len(), 1, "expected one Disconnected in {events:?}");
    d[0].0.clone()
}

pub(crate) fn violation(events: &[Event]) -> ProtocolViolation {
    match disconnect_reason(events) {
        DisconnectReason::ProtocolError(v) => v,
        other => panic!("expected a protocol error, got {other:?}"),
    }
}

/// The client closed the connection because of `expected`: in v5 with a DISCONNECT carrying
/// `code` first, in v3.1.1 without one.
pub(crate) fn assert_closed_for(sim: &mut Sim, expected: ProtocolViolation, code: ReasonCode) {
    let events = sim.take_events();
    assert_eq!(violation(&events), expected);
    let sent = sim.take();
    if sim.version == V5 {
        assert_eq!(sent, vec![OPacket::disconnect(code)], "{expected:?}");
    } else {
        assert!(sent.is_empty(), "no DISCONNECT in 3.1.1: {sent:?}");
    }
    assert_eq!(sim.close_requests, 1, "closed");
    assert!(!sim.open);
}

/// Reconnects a session waiting to reconnect; returns what followed `connack`.
pub(crate) fn reconnect(sim: &mut Sim, connack: &Packet<'_>) -> Vec<OPacket> {
    let State::Reconnecting(at) = sim.session.state() else {
        panic!("not reconnecting: {:?}", sim.session.state())
    };
    sim.advance_to(at.max(sim.now));
    let c = sim.take();
    assert!(matches!(c.as_slice(), [OPacket::Connect(_)]), "{c:?}");
    sim.send(connack);
    assert!(sim.session.is_connected(), "{:?}", sim.all_events());
    sim.take_events();
    sim.take()
}

pub(crate) fn resp(packet_id: u16) -> OPubResp {
    OPubResp::new(packet_id, ReasonCode::SUCCESS)
}

/// The DISCONNECT reason codes a client may send (v5 Table 3-10, "Sent by": Client).
pub(crate) const CLIENT_DISCONNECT_CODES: [u8; 14] = [
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
];

/// A scripted broker that keeps the exact bytes the client wrote, one `Vec` per packet.
pub(crate) struct Wire {
    pub(crate) session: Session,
    pub(crate) version: ProtocolVersion,
    pub(crate) now: u64,
    pub(crate) open: bool,
    pub(crate) closes: u32,
    pub(crate) buf: Vec<u8>,
    pub(crate) packets: Vec<Vec<u8>>,
    pub(crate) cursor: usize,
    pub(crate) events: Vec<Event>,
}

impl Wire {
    pub(crate) fn new(opts: Options) -> Wire {
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

    pub(crate) fn start(&mut self) {
        self.session.connect(self.now);
        self.run();
    }

    /// Started and answered with `connack`; the CONNECT is taken.
    pub(crate) fn connected_with(opts: Options, connack: &Packet<'_>) -> Wire {
        let mut w = Wire::new(opts);
        w.start();
        let c = w.take();
        assert!(c.len() == 1 && c[0][0] == 0x10, "CONNECT first: {c:?}");
        w.send(connack);
        assert!(w.session.is_connected(), "{:?}", w.events);
        w.events.clear();
        w
    }

    pub(crate) fn run(&mut self) {
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

    pub(crate) fn split(&mut self) {
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
    pub(crate) fn take(&mut self) -> Vec<Vec<u8>> {
        let out = self.packets[self.cursor..].to_vec();
        self.cursor = self.packets.len();
        out
    }

    pub(crate) fn send(&mut self, p: &Packet<'_>) {
        let bytes = encode(self.version, p);
        self.session.handle_bytes(&bytes, self.now);
        self.run();
    }
}

/// Decodes one whole packet the client wrote.
pub(crate) fn decode(v: ProtocolVersion, raw: &[u8]) -> Packet<'_> {
    let (p, n) = Decoder::new(v)
        .decode(raw)
        .unwrap_or_else(|e| panic!("malformed {raw:?}: {e}"))
        .expect("a whole packet");
    assert_eq!(n, raw.len());
    p
}

/// A cursor over the body of a packet the client wrote.
pub(crate) struct Body<'a>(pub(crate) &'a [u8]);

impl<'a> Body<'a> {
    /// The body of `raw` after its fixed header (whose remaining length must be exact).
    pub(crate) fn of(raw: &'a [u8]) -> Body<'a> {
        let (len, n) = read_var_int(&raw[1..]).unwrap().unwrap();
        let body = &raw[1 + n..];
        assert_eq!(body.len(), len as usize, "remaining length");
        Body(body)
    }
    pub(crate) fn u8(&mut self) -> u8 {
        let b = self.0[0];
        self.0 = &self.0[1..];
        b
    }
    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.u8(), self.u8()])
    }
    /// A two-byte length and that many bytes.
    pub(crate) fn field(&mut self) -> &'a [u8] {
        let n = self.u16() as usize;
        let (f, rest) = self.0.split_at(n);
        self.0 = rest;
        f
    }
    /// A v5 property block: its length and its bytes.
    pub(crate) fn properties(&mut self) -> &'a [u8] {
        let (len, n) = read_var_int(self.0).unwrap().unwrap();
        let (p, rest) = self.0[n..].split_at(len as usize);
        self.0 = rest;
        p
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
