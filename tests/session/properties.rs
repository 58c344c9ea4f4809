//! Property tests of the session against a model broker, with simulated time.
//!
//! The model broker keeps an MQTT session the way a real one does: per client, across
//! connections when asked to (Clean Start 0 and a session it chose to keep), discarded
//! consistently otherwise (v5 MQTT-3.1.2-4..6, MQTT-3.2.2-2/3; v3.1.1 MQTT-3.1.2-4/6,
//! MQTT-3.2.2-1..3). It takes ownership of QoS 1 and QoS 2 messages (v5 MQTT-4.3.2-4,
//! MQTT-4.3.3-8/10), resends its own unacknowledged PUBLISH and PUBREL on a resumed session
//! (v5 / v3.1.1 MQTT-4.4.0-1), and loses whatever the network loses: packets the client wrote
//! but the broker had not read when the connection dropped, and acknowledgements it had not
//! sent yet.
//!
//! Random interleavings of publishes at every QoS, broker reads and acknowledgements (in any
//! order), inbound messages and redeliveries, dropped connections, kept or discarded broker
//! sessions and time advances must keep these promises:
//! - every accepted publish completes exactly once, QoS 1/2 with success, and the broker owns
//!   every QoS 1/2 message the application saw acknowledged;
//! - a QoS 2 message reaches the broker exactly once as long as the broker never lost the
//!   session (after a loss, a message the broker never acknowledged is sent again as new);
//! - no inbound QoS 2 (or QoS 0) message is delivered twice, and every inbound message the
//!   client acknowledged was delivered;
//! - the client never has more unacknowledged QoS 1/2 PUBLISH out than its window (v5
//!   MQTT-3.3.4-7).

use crate::sim::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use wasmqtt::codec::{Packet, Properties, ProtocolVersion, Publish, QoS};
use wasmqtt::session::{DisconnectReason, Event, Message, PublishId, ReconnectPolicy, State};

/// What happens next.
#[derive(Debug, Clone)]
enum Action {
    /// The application publishes at this QoS.
    Publish(QoS),
    /// The broker reads what the client wrote and answers CONNECT, PINGREQ, PUBREL, PUBREC at
    /// once; acknowledgements of the client's messages wait for `Ack`.
    Step,
    /// The broker sends one waiting acknowledgement (any of them: out of order).
    Ack(usize),
    /// The broker sends every waiting acknowledgement.
    AckAll,
    /// The broker sends a new message at this QoS.
    Inbound(QoS),
    /// The broker sends one of its unacknowledged QoS 1/2 messages again, DUP set.
    Redeliver(usize),
    /// The connection drops.
    Drop,
    /// Whether the broker keeps the session for the next connection (its session expiry).
    KeepSession(bool),
    /// v5: the Receive Maximum the broker announces in its next CONNACK.
    ReceiveMaximum(u16),
    /// Time passes (ms).
    Advance(u32),
}

fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        3 => qos().prop_map(Action::Publish),
        5 => Just(Action::Step),
        3 => any::<usize>().prop_map(Action::Ack),
        1 => Just(Action::AckAll),
        3 => qos().prop_map(Action::Inbound),
        1 => any::<usize>().prop_map(Action::Redeliver),
        2 => Just(Action::Drop),
        1 => any::<bool>().prop_map(Action::KeepSession),
        1 => (1u16..=5).prop_map(Action::ReceiveMaximum),
        2 => (0u32..8_000).prop_map(Action::Advance),
    ]
}

#[derive(Debug, Clone, Copy)]
#[allow(clippy::enum_variant_names)] // named after the packets
enum Ack {
    PubAck(u16),
    PubRec(u16),
    PubComp(u16),
}

/// A message the broker sent and the client has not finished acknowledging.
#[derive(Debug, Clone, Copy)]
struct Out {
    tag: u32,
    qos: QoS,
    /// PUBREC received, PUBREL sent.
    released: bool,
    seq: u64,
}

const BROKER_TAGS: u32 = 1_000_000;

fn tag_of(payload: &[u8]) -> u32 {
    u32::from_be_bytes(payload.try_into().expect("4-byte tag"))
}

/// The model broker. See the module docs.
struct Broker {
    /// Announced in the next CONNACK (v5).
    receive_maximum: Option<u16>,
    /// Announced in the last CONNACK.
    announced_receive_maximum: Option<u16>,
    keep_session: bool,
    has_session: bool,
    /// CONNACK sent on the current connection (`sim.conn`).
    connacked: Option<u32>,
    // Session state.
    /// The client's QoS 2 messages owned and not yet released: packet id → tag.
    rx_qos2: BTreeMap<u16, u32>,
    out: BTreeMap<u16, Out>,
    next_pid: u16,
    next_seq: u64,
    // Connection state.
    acks: Vec<Ack>,
    // Accounting, never reset.
    received: BTreeMap<u32, u32>,
    client_acked: BTreeSet<u32>,
    sessions_lost: u32,
    next_tag: u32,
}

impl Broker {
    fn new(receive_maximum: Option<u16>) -> Self {
        Broker {
            receive_maximum,
            announced_receive_maximum: None,
            keep_session: true,
            has_session: false,
            connacked: None,
            rx_qos2: BTreeMap::new(),
            out: BTreeMap::new(),
            next_pid: 1,
            next_seq: 0,
            acks: Vec::new(),
            received: BTreeMap::new(),
            client_acked: BTreeSet::new(),
            sessions_lost: 0,
            next_tag: BROKER_TAGS,
        }
    }

    fn online(&self, sim: &Sim) -> bool {
        sim.open && self.connacked == Some(sim.conn)
    }

    /// Reads everything the client wrote (what went out on a connection that is gone is lost)
    /// and answers, until the client has nothing more to say.
    fn step(&mut self, sim: &mut Sim) {
        for _ in 0..64 {
            let sent = sim.take_sent();
            if sent.is_empty() {
                return;
            }
            for s in sent {
                if sim.open && s.conn == sim.conn {
                    self.on_packet(sim, s.pkt);
                }
            }
        }
        panic!("the client keeps talking");
    }

    fn on_packet(&mut self, sim: &mut Sim, pkt: OPacket) {
        match pkt {
            OPacket::Connect(c) => {
                self.acks.clear();
                let present = !c.clean_start && self.keep_session && self.has_session;
                if !present {
                    if self.has_session {
                        // Even an empty session may have owned messages the client will now
                        // send again as new: count every discard.
                        self.sessions_lost += 1;
                    }
                    self.rx_qos2.clear();
                    self.out.clear();
                    // A new session numbers its messages afresh: identifiers the client may
                    // still remember from the old one come back as new messages.
                    self.next_pid = 1;
                }
                self.has_session = true;
                self.connacked = Some(sim.conn);
                let props = Properties {
                    receive_maximum: self.receive_maximum,
                    ..Properties::EMPTY
                };
                self.announced_receive_maximum = self.receive_maximum;
                if sim.version == ProtocolVersion::V5 {
                    sim.send(&connack_with(present, props));
                } else {
                    sim.send(&connack(present));
                }
                if present {
                    let mut order: Vec<(u64, u16)> =
                        self.out.iter().map(|(pid, o)| (o.seq, *pid)).collect();
                    order.sort_unstable();
                    for (_, pid) in order {
                        if !self.online(sim) {
                            break;
                        }
                        let o = self.out[&pid];
                        if o.released {
                            sim.send(&pubrel(pid));
                        } else {
                            self.send_publish(sim, pid, o, true);
                        }
                    }
                }
            }
            OPacket::Publish(p) => {
                let tag = tag_of(&p.payload);
                match p.qos {
                    QoS::AtMostOnce => {}
                    QoS::AtLeastOnce => {
                        *self.received.entry(tag).or_default() += 1;
                        self.acks.push(Ack::PubAck(p.packet_id));
                    }
                    QoS::ExactlyOnce => {
                        match self.rx_qos2.get(&p.packet_id) {
                            Some(&t) => assert_eq!(
                                t, tag,
                                "packet id {} reused before its QoS 2 flow ended",
                                p.packet_id
                            ),
                            None => {
                                self.rx_qos2.insert(p.packet_id, tag);
                                *self.received.entry(tag).or_default() += 1;
                            }
                        }
                        self.acks.push(Ack::PubRec(p.packet_id));
                    }
                }
            }
            OPacket::PubRel(r) => {
                self.rx_qos2.remove(&r.packet_id);
                self.acks.push(Ack::PubComp(r.packet_id));
            }
            OPacket::PubAck(r) => {
                if let Some(o) = self.out.get(&r.packet_id).copied() {
                    assert_eq!(o.qos, QoS::AtLeastOnce, "PUBACK for a QoS 2 message");
                    self.client_acked.insert(o.tag);
                    self.out.remove(&r.packet_id);
                }
            }
            OPacket::PubRec(r) => {
                if let Some(o) = self.out.get_mut(&r.packet_id) {
                    assert_eq!(o.qos, QoS::ExactlyOnce, "PUBREC for a QoS 1 message");
                    o.released = true;
                    self.client_acked.insert(o.tag);
                }
                sim.send(&pubrel(r.packet_id));
            }
            OPacket::PubComp(r) => {
                self.out.remove(&r.packet_id);
            }
            OPacket::PingReq => sim.send(&Packet::PingResp),
            OPacket::Disconnect(code) => panic!("the client disconnected: {code:?}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    fn send_publish(&mut self, sim: &mut Sim, pid: u16, o: Out, dup: bool) {
        let payload = o.tag.to_be_bytes();
        sim.send(&Packet::Publish(Publish {
            dup,
            qos: o.qos,
            retain: false,
            topic: "from/broker",
            packet_id: if o.qos == QoS::AtMostOnce { 0 } else { pid },
            properties: Properties::EMPTY,
            payload: &payload,
        }));
    }

    fn ack(&mut self, sim: &mut Sim, i: usize) {
        if self.acks.is_empty() || !self.online(sim) {
            return;
        }
        let a = self.acks.remove(i % self.acks.len());
        sim.send(&match a {
            Ack::PubAck(pid) => puback(pid),
            Ack::PubRec(pid) => pubrec(pid),
            Ack::PubComp(pid) => pubcomp(pid),
        });
    }

    fn ack_all(&mut self, sim: &mut Sim) {
        while !self.acks.is_empty() && self.online(sim) {
            self.ack(sim, 0);
        }
    }

    fn inbound(&mut self, sim: &mut Sim, qos: QoS) {
        if !self.online(sim) || self.out.len() >= 20 {
            return;
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        let mut pid = 0;
        if qos != QoS::AtMostOnce {
            while self.out.contains_key(&self.next_pid) {
                self.next_pid = self.next_pid.checked_add(1).unwrap_or(1);
            }
            pid = self.next_pid;
            self.next_pid = self.next_pid.checked_add(1).unwrap_or(1);
        }
        let o = Out {
            tag,
            qos,
            released: false,
            seq: self.next_seq,
        };
        self.next_seq += 1;
        if qos != QoS::AtMostOnce {
            self.out.insert(pid, o);
        }
        self.send_publish(sim, pid, o, false);
    }

    fn redeliver(&mut self, sim: &mut Sim, i: usize) {
        if !self.online(sim) {
            return;
        }
        let pending: Vec<(u16, Out)> = self
            .out
            .iter()
            .filter(|(_, o)| !o.released)
            .map(|(p, o)| (*p, *o))
            .collect();
        if pending.is_empty() {
            return;
        }
        let (pid, o) = pending[i % pending.len()];
        self.send_publish(sim, pid, o, true);
    }

    fn on_drop(&mut self) {
        self.acks.clear();
        self.connacked = None;
    }
}

struct Run {
    sim: Sim,
    broker: Broker,
    max_inflight: usize,
    accepted: BTreeMap<PublishId, (u32, QoS)>,
    next_tag: u32,
}

impl Run {
    fn new(version: ProtocolVersion, clean_start: bool, seed: u64) -> Run {
        let max_inflight = 4;
        let receive_maximum = match version {
            ProtocolVersion::V5 => Some(3),
            ProtocolVersion::V311 => None,
        };
        let o = opts(version)
            .clean_start(clean_start)
            .session_expiry_interval(3600)
            .keep_alive(5)
            .connect_timeout_ms(3_000)
            .max_inflight(max_inflight)
            .reconnect(ReconnectPolicy {
                enabled: true,
                initial_delay_ms: 200,
                max_delay_ms: 2_000,
                multiplier: 2,
                jitter_percent: 50,
            })
            .random_seed(seed);
        let mut sim = Sim::new(o);
        sim.start();
        Run {
            sim,
            broker: Broker::new(receive_maximum),
            max_inflight: usize::from(max_inflight),
            accepted: BTreeMap::new(),
            next_tag: 1,
        }
    }

    fn apply(&mut self, a: &Action) {
        let (sim, broker) = (&mut self.sim, &mut self.broker);
        match *a {
            Action::Publish(qos) => {
                let tag = self.next_tag;
                self.next_tag += 1;
                let m = Message::new(
                    format!("to/broker/{}", qos as u8),
                    tag.to_be_bytes().to_vec(),
                )
                .qos(qos);
                let id = sim
                    .publish(m)
                    .expect("the queue budget is never reached here");
                self.accepted.insert(id, (tag, qos));
            }
            Action::Step => broker.step(sim),
            Action::Ack(i) => broker.ack(sim, i),
            Action::AckAll => broker.ack_all(sim),
            Action::Inbound(qos) => broker.inbound(sim, qos),
            Action::Redeliver(i) => broker.redeliver(sim, i),
            Action::Drop => {
                if sim.open || sim.open_pending {
                    sim.drop_connection();
                }
                broker.on_drop();
            }
            Action::KeepSession(k) => broker.keep_session = k,
            Action::ReceiveMaximum(rm) => {
                if sim.version == ProtocolVersion::V5 {
                    broker.receive_maximum = Some(rm);
                }
            }
            Action::Advance(ms) => sim.advance(u64::from(ms)),
        }
        if !sim.open {
            broker.on_drop();
        }
        self.check_window();
        assert_ne!(self.sim.session.state(), State::Closed);
    }

    fn check_window(&self) {
        let window = self.window();
        assert!(
            self.sim.unacked_conn.len() <= window,
            "v5 MQTT-3.3.4-7: {} unacknowledged PUBLISH on this connection, window {}",
            self.sim.unacked_conn.len(),
            window
        );
    }

    /// The window of the current connection: min(max_inflight, the broker's Receive Maximum).
    fn window(&self) -> usize {
        let rm = self.broker.announced_receive_maximum.unwrap_or(u16::MAX);
        self.max_inflight.min(usize::from(rm))
    }

    /// The network heals and the broker answers everything promptly, until all settles.
    fn settle(&mut self) {
        for _ in 0..400 {
            if let State::Reconnecting(at) = self.sim.session.state() {
                self.sim.advance_to(at.max(self.sim.now));
            }
            for _ in 0..8 {
                self.broker.step(&mut self.sim);
                self.check_window();
                self.broker.ack_all(&mut self.sim);
                self.check_window();
            }
            if !self.sim.open {
                self.broker.on_drop();
            }
            let done = self.sim.session.is_connected()
                && self.sim.session.inflight_len() == 0
                && self.sim.session.queued().0 == 0
                && self.broker.out.is_empty()
                && self.broker.acks.is_empty();
            if done {
                return;
            }
            self.sim.advance(250);
        }
        panic!(
            "did not settle: state {:?}, inflight {}, queued {:?}, broker out {:?}",
            self.sim.session.state(),
            self.sim.session.inflight_len(),
            self.sim.session.queued(),
            self.broker.out
        );
    }

    fn check(&self) {
        let events = self.sim.all_events();
        // Every accepted publish completes exactly once, with success.
        let mut done: BTreeMap<PublishId, usize> = BTreeMap::new();
        for (id, result) in completions(&events) {
            let (tag, qos) = self
                .accepted
                .get(&id)
                .unwrap_or_else(|| panic!("completion for an unknown handle {id:?}"));
            assert!(
                result.is_ok(),
                "{id:?} (tag {tag}, {qos:?}) failed: {result:?}"
            );
            *done.entry(id).or_default() += 1;
        }
        for (id, (tag, qos)) in &self.accepted {
            assert_eq!(
                done.get(id),
                Some(&1),
                "{id:?} (tag {tag}, {qos:?}) must complete exactly once"
            );
            if *qos != QoS::AtMostOnce {
                let n = self.broker.received.get(tag).copied().unwrap_or(0);
                assert!(
                    n >= 1,
                    "acknowledged tag {tag} ({qos:?}) never reached the broker"
                );
                if *qos == QoS::ExactlyOnce && self.broker.sessions_lost == 0 {
                    assert_eq!(n, 1, "QoS 2 tag {tag} reached the broker {n} times");
                }
            }
        }
        // Inbound: no duplicates of QoS 0 / 2, every acknowledged message delivered.
        let mut delivered: BTreeMap<u32, (usize, QoS)> = BTreeMap::new();
        for m in messages(&events) {
            let e = delivered
                .entry(tag_of(&m.message.payload))
                .or_insert((0, m.message.qos));
            e.0 += 1;
        }
        for (tag, (n, qos)) in &delivered {
            assert!(*tag >= BROKER_TAGS);
            if *qos != QoS::AtLeastOnce {
                assert_eq!(*n, 1, "inbound {qos:?} tag {tag} delivered {n} times");
            }
        }
        for tag in &self.broker.client_acked {
            assert!(
                delivered.contains_key(tag),
                "inbound tag {tag} acknowledged but never delivered"
            );
        }
        // Nothing but transport trouble ended a connection.
        for (reason, at) in disconnects(&events) {
            assert!(
                matches!(
                    reason,
                    DisconnectReason::ConnectionLost
                        | DisconnectReason::ConnectTimeout
                        | DisconnectReason::KeepAliveTimeout
                ),
                "{reason:?}"
            );
            assert!(at.is_some());
        }
        assert!(!events
            .iter()
            .any(|e| matches!(e, Event::RequestFailed { .. })));
    }
}

fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop_oneof![Just(ProtocolVersion::V311), Just(ProtocolVersion::V5)]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// See the module docs for the promises checked.
    // checks: v3.1.1 MQTT-4.1.0-1, v3.1.1 MQTT-4.3.3-2, v5 MQTT-4.1.0-1, v5 MQTT-4.3.3-10
    #[test]
    fn accepted_messages_complete_once_and_inbound_qos2_is_delivered_once(
        version in version(),
        clean_start in any::<bool>(),
        seed in any::<u64>(),
        actions in prop::collection::vec(action(), 1..150),
    ) {
        // v5 reconnects always ask to resume; 3.1.1 with Clean Session 1 never resumes.
        let mut run = Run::new(version, clean_start, seed);
        for a in &actions {
            run.apply(a);
        }
        run.settle();
        run.check();
    }

    /// Whatever bytes the broker sends, the session does not panic, keeps the wire rules the
    /// harness checks, and ends up either connected or reconnecting.
    #[test]
    fn arbitrary_broker_bytes_never_panic(
        version in version(),
        chunks in prop::collection::vec(
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..24),
                // Something that starts like a packet a client receives.
                (prop::sample::select(vec![0x20u8, 0x30, 0x32, 0x34, 0x3B, 0x40, 0x50, 0x62,
                                            0x70, 0x90, 0xB0, 0xD0, 0xE0, 0xF0]),
                 prop::collection::vec(any::<u8>(), 0..24))
                    .prop_map(|(first, mut rest)| {
                        let len = rest.len() as u8;
                        rest.insert(0, len);
                        rest.insert(0, first);
                        rest
                    }),
            ],
            0..10,
        ),
    ) {
        let mut sim = Sim::connected(opts(version));
        for c in &chunks {
            if !sim.open {
                break;
            }
            sim.send_raw(c);
        }
        let state = sim.session.state();
        prop_assert!(
            matches!(state, State::Connected | State::Reconnecting(_)),
            "{:?}",
            state
        );
        if !sim.open {
            prop_assert!(matches!(state, State::Reconnecting(_)));
            prop_assert_eq!(sim.close_requests, 1);
        }
    }
}
