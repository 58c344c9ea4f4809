//! A deterministic simulation harness for the sans-I/O [`Session`]: a driver loop with a
//! simulated clock and a scripted broker, shared by the session tests (`tests/session/`).
//!
//! [`Sim`] owns a `Session` and plays the driver: it answers `OpenTransport` (open, refuse or
//! hold, as the test chooses), decodes every `Transmit` with the codec into [`OPacket`]s (the
//! owned packet model of `wasmqtt_testkit::packets`) that the test inspects, records
//! `CloseTransport` and collects events. The test plays the broker: it injects packets encoded with the codec ([`Sim::send`]), raw bytes ([`Sim::send_raw`]),
//! drops the connection, and moves time on with [`Sim::advance_to`], which fires
//! `handle_timeout` at every deadline on the way, exactly at that deadline.
//!
//! No sleeps, no threads: every loop is bounded and panics when the session would spin.
//!
//! While running, the harness checks what a broker would check on the wire:
//! - no bytes are written without an open transport and no packet follows a DISCONNECT on the
//!   same connection (v5 MQTT-3.14.4-1, v3.1.1 MQTT-3.14.4-2);
//! - CONNECT is the first packet of every connection (v5 and v3.1.1 MQTT-3.1.0-1) and is sent
//!   once;
//! - no packet exceeds the broker's Maximum Packet Size (v5 MQTT-3.2.2-15);
//! - the QoS 1/2 PUBLISH packets not yet acknowledged (no PUBACK, PUBCOMP, or PUBREC ≥ 0x80)
//!   are counted, in all and per connection, so tests can bound them by the window (v5
//!   MQTT-3.3.4-7, MQTT-4.9.0-1, MQTT-4.9.0-2).
#![allow(dead_code)]

use std::collections::BTreeSet;
use wasmqtt::codec::{
    ConnAck, Decoder, Packet, Properties, ProtocolVersion, PubResp, Publish, QoS, ReasonCode, Seq,
    SubAck, SubscriptionOptions, UnsubAck,
};
use wasmqtt::session::{
    DisconnectReason, Event, FirstConnect, Options, Output, PublishError, PublishId,
    ReceivedMessage, RequestId, Session, State,
};
/// The owned packets the harness decodes the client's writes into.
pub use wasmqtt_testkit::packets::*;

/// Both protocol versions, for tests that run once per version.
pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// Most `poll_output` calls one `run` may make before the harness calls it a livelock.
const MAX_OUTPUTS_PER_RUN: usize = 100_000;
/// Most timers `advance_to` may fire at one instant before it calls it a timer storm.
const MAX_TIMERS_PER_INSTANT: usize = 16;

// ---------------------------------------------------------------------------------------------
// Packets the broker sends
// ---------------------------------------------------------------------------------------------

/// CONNACK accepting the connection.
pub fn connack(session_present: bool) -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present,
        reason_code: ReasonCode::SUCCESS,
        properties: Properties::EMPTY,
    })
}

/// CONNACK with these (v5) properties.
pub fn connack_with(session_present: bool, properties: Properties<'_>) -> Packet<'_> {
    Packet::ConnAck(ConnAck {
        session_present,
        reason_code: ReasonCode::SUCCESS,
        properties,
    })
}

/// CONNACK refusing the connection with `code` (a v5 reason code or a 3.1.1 return code).
pub fn connack_refused(code: u8) -> Packet<'static> {
    Packet::ConnAck(ConnAck {
        session_present: false,
        reason_code: ReasonCode(code),
        properties: Properties::EMPTY,
    })
}

pub fn puback(packet_id: u16) -> Packet<'static> {
    Packet::PubAck(PubResp::new(packet_id))
}

pub fn puback_rc(packet_id: u16, code: ReasonCode) -> Packet<'static> {
    Packet::PubAck(PubResp {
        reason_code: code,
        ..PubResp::new(packet_id)
    })
}

pub fn pubrec(packet_id: u16) -> Packet<'static> {
    Packet::PubRec(PubResp::new(packet_id))
}

pub fn pubrec_rc(packet_id: u16, code: ReasonCode) -> Packet<'static> {
    Packet::PubRec(PubResp {
        reason_code: code,
        ..PubResp::new(packet_id)
    })
}

pub fn pubrel(packet_id: u16) -> Packet<'static> {
    Packet::PubRel(PubResp::new(packet_id))
}

pub fn pubcomp(packet_id: u16) -> Packet<'static> {
    Packet::PubComp(PubResp::new(packet_id))
}

pub fn suback(packet_id: u16, codes: &[ReasonCode]) -> Packet<'_> {
    Packet::SubAck(SubAck {
        packet_id,
        properties: Properties::EMPTY,
        reason_codes: Seq::from_slice(codes),
    })
}

pub fn unsuback(packet_id: u16, codes: &[ReasonCode]) -> Packet<'_> {
    Packet::UnsubAck(UnsubAck {
        packet_id,
        properties: Properties::EMPTY,
        reason_codes: Seq::from_slice(codes),
    })
}

/// A PUBLISH from the broker (packet id ignored for QoS 0).
pub fn publish<'a>(topic: &'a str, payload: &'a [u8], qos: QoS, packet_id: u16) -> Packet<'a> {
    Packet::Publish(Publish {
        dup: false,
        qos,
        retain: false,
        topic,
        packet_id: if qos == QoS::AtMostOnce { 0 } else { packet_id },
        properties: Properties::EMPTY,
        payload,
    })
}

/// The same PUBLISH with the DUP flag set.
pub fn dup(p: Packet<'_>) -> Packet<'_> {
    match p {
        Packet::Publish(mut p) => {
            p.dup = true;
            Packet::Publish(p)
        }
        other => other,
    }
}

/// Encodes a broker packet (panics on a packet the codec refuses: a test bug).
pub fn encode(version: ProtocolVersion, p: &Packet<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    p.encode(version, &mut out)
        .unwrap_or_else(|e| panic!("test broker built an invalid packet {p:?}: {e}"));
    out
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// Every `PublishComplete` in `events`.
pub fn completions(events: &[Event]) -> Vec<(PublishId, Result<ReasonCode, PublishError>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::PublishComplete { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

/// Every received message in `events`.
pub fn messages(events: &[Event]) -> Vec<ReceivedMessage> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// Every `Disconnected` in `events`.
pub fn disconnects(events: &[Event]) -> Vec<(DisconnectReason, Option<u64>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Disconnected {
                reason,
                reconnect_at,
            } => Some((reason.clone(), *reconnect_at)),
            _ => None,
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------------------------

/// What the simulated driver does when the session asks for a transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Opens it at once (`handle_connected`).
    Accept,
    /// Fails at once (`handle_disconnected`).
    Refuse,
    /// Leaves it pending: the test calls [`Sim::complete_open`] or [`Sim::fail_open`].
    Hold,
}

/// A packet the client wrote, with the connection it went out on and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Connection number (1 for the first transport opened).
    pub conn: u32,
    /// Simulated time of the write.
    pub at: u64,
    pub pkt: OPacket,
}

/// The driver loop and the broker's view of the wire. See the module docs.
pub struct Sim {
    pub session: Session,
    pub version: ProtocolVersion,
    /// Simulated time (ms).
    pub now: u64,
    pub open_mode: OpenMode,
    /// When set, the driver does not call `poll_output` (a transport that cannot take bytes).
    pub hold_output: bool,
    /// The transport is open.
    pub open: bool,
    /// An `OpenTransport` waits for [`Sim::complete_open`] (with [`OpenMode::Hold`]).
    pub open_pending: bool,
    /// Connection number of the current (or last) transport.
    pub conn: u32,
    /// How many times the session asked for a transport.
    pub open_requests: u32,
    /// How many times the session asked to close it.
    pub close_requests: u32,
    /// The broker's Maximum Packet Size, enforced on everything the client writes.
    pub broker_max_packet_size: Option<u32>,
    /// Packet identifiers of QoS 1/2 PUBLISH the broker has not acknowledged yet.
    pub unacked: BTreeSet<u16>,
    /// The most `unacked` ever held.
    pub max_unacked: usize,
    /// Like `unacked`, for the PUBLISH packets sent on the current connection only (each
    /// connection starts with a full send quota, v5 MQTT-4.9.0-1).
    pub unacked_conn: BTreeSet<u16>,
    /// The last `Wait` deadline the session gave.
    pub last_wait: Option<u64>,
    /// Whether the session said `Wait` since the last input.
    pub waiting: bool,
    rx: Vec<u8>,
    disconnect_sent: bool,
    connect_sent: bool,
    pub sent: Vec<Sent>,
    sent_cursor: usize,
    pub events: Vec<(u64, Event)>,
    event_cursor: usize,
}

impl Sim {
    /// A driver for a new session; nothing happens until [`Sim::start`].
    pub fn new(opts: Options) -> Sim {
        let version = opts.version;
        Sim {
            session: Session::new(opts),
            version,
            now: 0,
            open_mode: OpenMode::Accept,
            hold_output: false,
            open: false,
            open_pending: false,
            conn: 0,
            open_requests: 0,
            close_requests: 0,
            broker_max_packet_size: None,
            unacked: BTreeSet::new(),
            max_unacked: 0,
            unacked_conn: BTreeSet::new(),
            last_wait: None,
            waiting: false,
            rx: Vec::new(),
            disconnect_sent: false,
            connect_sent: false,
            sent: Vec::new(),
            sent_cursor: 0,
            events: Vec::new(),
            event_cursor: 0,
        }
    }

    /// `Session::connect` and run the driver.
    pub fn start(&mut self) {
        self.session.connect(self.now);
        self.run();
    }

    /// A session connected at time 0 with `connack` as the broker's answer; the CONNECT and the
    /// events so far are consumed.
    pub fn connected_with(opts: Options, connack: &Packet<'_>) -> Sim {
        let mut sim = Sim::new(opts);
        sim.start();
        let first = sim.take();
        assert!(
            matches!(first.as_slice(), [OPacket::Connect(_)]),
            "expected CONNECT, got {first:?}"
        );
        sim.send(connack);
        assert_eq!(sim.session.state(), State::Connected, "{:?}", sim.events);
        sim.take_events();
        sim
    }

    /// A session connected at time 0 (CONNACK without session present or properties).
    pub fn connected(opts: Options) -> Sim {
        Sim::connected_with(opts, &connack(false))
    }

    /// Drains `poll_output` until the session waits (unless output is held).
    pub fn run(&mut self) {
        if self.hold_output {
            return;
        }
        for _ in 0..MAX_OUTPUTS_PER_RUN {
            match self.session.poll_output() {
                Output::OpenTransport => {
                    assert!(!self.open, "OpenTransport while a transport is open");
                    assert!(!self.open_pending, "OpenTransport while one is pending");
                    self.open_requests += 1;
                    match self.open_mode {
                        OpenMode::Accept => self.do_open(),
                        OpenMode::Refuse => self.session.handle_disconnected(self.now),
                        OpenMode::Hold => self.open_pending = true,
                    }
                }
                Output::Transmit(bytes) => self.on_transmit(&bytes),
                Output::CloseTransport => {
                    self.close_requests += 1;
                    self.open = false;
                    self.open_pending = false;
                    self.rx.clear();
                }
                Output::Event(e) => self.events.push((self.now, e)),
                Output::Wait(deadline) => {
                    self.last_wait = deadline;
                    self.waiting = true;
                    return;
                }
            }
        }
        panic!("the session never said Wait: livelock");
    }

    fn do_open(&mut self) {
        self.conn += 1;
        self.open = true;
        self.open_pending = false;
        self.rx.clear();
        self.disconnect_sent = false;
        self.connect_sent = false;
        self.session.handle_connected(self.now);
    }

    /// Opens the pending transport (with [`OpenMode::Hold`]).
    pub fn complete_open(&mut self) {
        assert!(self.open_pending, "no transport is being opened");
        self.do_open();
        self.run();
    }

    /// Fails the pending transport (with [`OpenMode::Hold`]).
    pub fn fail_open(&mut self) {
        assert!(self.open_pending, "no transport is being opened");
        self.open_pending = false;
        self.session.handle_disconnected(self.now);
        self.run();
    }

    fn on_transmit(&mut self, bytes: &[u8]) {
        assert!(
            self.open,
            "the session wrote {} bytes with no open transport: {:?}",
            bytes.len(),
            decode_all(self.version, bytes)
        );
        self.rx.extend_from_slice(bytes);
        let decoder = Decoder::new(self.version);
        let mut start = 0;
        loop {
            match decoder.decode(&self.rx[start..]) {
                Ok(Some((p, used))) => {
                    if let Some(max) = self.broker_max_packet_size {
                        assert!(
                            used <= max as usize,
                            "v5 MQTT-3.2.2-15: the client sent a {used}-byte packet, over the \
                             broker's maximum of {max}: {p:?}"
                        );
                    }
                    let pkt = OPacket::from_packet(&p);
                    start += used;
                    self.on_client_packet(pkt);
                }
                Ok(None) => break,
                Err(e) => panic!("the client wrote a malformed packet: {e}: {:?}", self.rx),
            }
        }
        self.rx.drain(..start);
    }

    fn on_client_packet(&mut self, pkt: OPacket) {
        assert!(
            !self.disconnect_sent,
            "v5 MQTT-3.14.4-1 / v3.1.1 MQTT-3.14.4-2: {pkt:?} sent after DISCONNECT"
        );
        assert!(
            !pkt.server_only(),
            "the client sent a server packet: {pkt:?}"
        );
        if let OPacket::Connect(_) = pkt {
            assert!(!self.connect_sent, "a second CONNECT on one connection");
            self.connect_sent = true;
            self.unacked_conn.clear();
        } else {
            assert!(
                self.connect_sent,
                "v5/v3.1.1 MQTT-3.1.0-1: {pkt:?} before CONNECT"
            );
        }
        match &pkt {
            OPacket::Publish(p) if p.qos != QoS::AtMostOnce => {
                self.unacked.insert(p.packet_id);
                self.max_unacked = self.max_unacked.max(self.unacked.len());
                self.unacked_conn.insert(p.packet_id);
            }
            OPacket::Disconnect(_) => self.disconnect_sent = true,
            _ => {}
        }
        self.sent.push(Sent {
            conn: self.conn,
            at: self.now,
            pkt,
        });
    }

    /// The broker sends `p` (encoded with the session's version); then the driver runs.
    pub fn send(&mut self, p: &Packet<'_>) {
        match p {
            Packet::PubAck(r) | Packet::PubComp(r) => {
                self.unacked.remove(&r.packet_id);
                self.unacked_conn.remove(&r.packet_id);
            }
            Packet::PubRec(r) if r.reason_code.is_error() => {
                self.unacked.remove(&r.packet_id);
                self.unacked_conn.remove(&r.packet_id);
            }
            Packet::ConnAck(c) if !c.session_present => self.unacked.clear(),
            _ => {}
        }
        let bytes = encode(self.version, p);
        self.send_raw(&bytes);
    }

    /// The broker sends these bytes; then the driver runs.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        assert!(self.open, "the broker sends on a closed transport");
        self.waiting = false;
        self.session.handle_bytes(bytes, self.now);
        self.run();
    }

    /// The broker sends `p` one byte per read (a transport that fragments everything).
    pub fn send_bytewise(&mut self, p: &Packet<'_>) {
        let bytes = encode(self.version, p);
        for b in bytes {
            if !self.open {
                break;
            }
            self.send_raw(&[b]);
        }
    }

    /// The transport fails (the broker or the network dropped it).
    pub fn drop_connection(&mut self) {
        assert!(self.open || self.open_pending, "no transport to drop");
        self.open = false;
        self.open_pending = false;
        self.rx.clear();
        self.waiting = false;
        self.session.handle_disconnected(self.now);
        self.run();
    }

    /// Moves the clock to `t`, firing `handle_timeout` exactly at every deadline on the way.
    pub fn advance_to(&mut self, t: u64) {
        assert!(t >= self.now, "time goes forward only");
        let mut fired_at = (u64::MAX, 0usize);
        loop {
            self.run();
            let Some(d) = self.session.poll_timeout() else {
                break;
            };
            if d > t {
                break;
            }
            let at = d.max(self.now);
            if fired_at.0 == at {
                fired_at.1 += 1;
                assert!(
                    fired_at.1 <= MAX_TIMERS_PER_INSTANT,
                    "timer storm: deadline {d} keeps firing at {at}"
                );
            } else {
                fired_at = (at, 1);
            }
            self.now = at;
            self.waiting = false;
            self.session.handle_timeout(self.now);
        }
        self.now = t;
        self.run();
    }

    /// Moves the clock on by `dt` ms.
    pub fn advance(&mut self, dt: u64) {
        self.advance_to(self.now + dt);
    }

    /// Packets written since the last `take`.
    pub fn take(&mut self) -> Vec<OPacket> {
        self.take_sent().into_iter().map(|s| s.pkt).collect()
    }

    /// Packets written since the last `take`, with connection and time.
    pub fn take_sent(&mut self) -> Vec<Sent> {
        let out = self.sent[self.sent_cursor..].to_vec();
        self.sent_cursor = self.sent.len();
        out
    }

    /// Events since the last `take_events`.
    pub fn take_events(&mut self) -> Vec<Event> {
        let out = self.events[self.event_cursor..]
            .iter()
            .map(|(_, e)| e.clone())
            .collect();
        self.event_cursor = self.events.len();
        out
    }

    /// Every event so far.
    pub fn all_events(&self) -> Vec<Event> {
        self.events.iter().map(|(_, e)| e.clone()).collect()
    }

    /// `Session::publish`, then the driver runs.
    pub fn publish(&mut self, msg: wasmqtt::session::Message) -> Result<PublishId, PublishError> {
        let r = self.session.publish(msg, self.now);
        self.waiting = false;
        self.run();
        r
    }

    /// `Session::subscribe`, then the driver runs.
    pub fn subscribe(
        &mut self,
        filters: &[(&str, QoS)],
        subscription_id: Option<u32>,
    ) -> RequestId {
        let filters = filters
            .iter()
            .map(|(f, q)| (f.to_string(), SubscriptionOptions::qos(*q)))
            .collect();
        let r = self
            .session
            .subscribe(filters, subscription_id, self.now)
            .expect("subscribe");
        self.run();
        r
    }

    /// `Session::disconnect`, then the driver runs.
    pub fn disconnect(&mut self) {
        self.session.disconnect(self.now);
        self.run();
    }
}

/// Decodes every whole packet in `bytes` (for messages).
pub fn decode_all(version: ProtocolVersion, bytes: &[u8]) -> Vec<OPacket> {
    let decoder = Decoder::new(version);
    let mut out = Vec::new();
    let mut start = 0;
    while let Ok(Some((p, used))) = decoder.decode(&bytes[start..]) {
        out.push(OPacket::from_packet(&p));
        start += used;
    }
    out
}

/// Publishes in `pkts`.
pub fn publishes(pkts: &[OPacket]) -> Vec<OPublish> {
    pkts.iter().filter_map(|p| p.publish().cloned()).collect()
}

/// Options with reconnection on, no jitter, and short delays: handy defaults for tests.
/// The simulations' options: no jitter, 1 s to 8 s back-off, and the first connection retried
/// like any other ([`FirstConnect::Retry`]), so that back-off and refusal tests can start from
/// the first attempt; `tests/session/first_connect.rs` covers the default ([`FirstConnect::GiveUp`]).
/// Write coalescing is off, so every drain's writes are seen at once: `tests/session/coalesce.rs`
/// covers the hold (on by default).
pub fn opts(version: ProtocolVersion) -> Options {
    let mut o = Options::new("sim-client")
        .version(version)
        .first_connect(FirstConnect::Retry)
        .write_coalescing(None);
    o.reconnect.jitter_percent = 0;
    o.reconnect.initial_delay_ms = 1000;
    o.reconnect.max_delay_ms = 8000;
    o
}
