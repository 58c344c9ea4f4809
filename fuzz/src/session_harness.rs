//! A structured fuzz harness for [`wasmqtt::session::Session`], shared by the libFuzzer target
//! (`fuzz/fuzz_targets/session.rs`) and the stable smoke test (`tests/session_fuzz.rs`).
//!
//! The input bytes are read as a program: the options of the session (both protocol versions),
//! then a list of steps — application calls (publish at QoS 0/1/2, subscribe, unsubscribe,
//! disconnect, auth, connect), driver events (transport opened / failed / closed, time passing,
//! the driver stalling its writes), and broker bytes: raw bytes, or *well-formed* packets built
//! from what the session actually sent (acknowledgements for its packet identifiers, CONNACK
//! with v5 limits, inbound PUBLISH with topic aliases and redeliveries, AUTH, DISCONNECT), split
//! at arbitrary points. After every step the harness drains the session like a driver and
//! checks these invariants (a violation panics):
//! - no panic in the session;
//! - memory is bounded: inflight ≤ max_inflight, the queue within its budgets (plus the
//!   inflight messages the requeue rule may put back), pending write bytes within their budget
//!   plus what the session may write regardless of it, events per step bounded;
//! - a QoS 0 publish never grows the write buffer past `max_pending_write_bytes`;
//! - no packet identifier is reused while in flight (PUBLISH QoS > 0, SUBSCRIBE, UNSUBSCRIBE),
//!   resends of the same message carry DUP and come on a later connection, and a completed
//!   publish is never sent again;
//! - unacknowledged PUBLISH on one connection ≤ the inflight window (v5 MQTT-3.3.4-7);
//! - what the session writes decodes as whole client packets, respects the broker's maximum
//!   packet size, maximum QoS, retain availability and topic alias maximum, and uses only
//!   topic aliases it set on that connection;
//! - every accepted publish and request completes exactly once, and none is left after a
//!   final `disconnect` (which fails everything still waiting: `Session::disconnect` docs);
//! - an inbound QoS 2 message is delivered once per packet identifier until PUBREL.
//! - a deadline that has passed makes `handle_timeout` act (a driver sleeping until it would
//!   otherwise spin).
//! - a connection with a keep-alive in force always has a deadline; a reconnection is due
//!   within `[now, now + max_delay_ms]`.
//!
//! Releases (acknowledgements, completions) and sends are observed in separate streams (what
//! was fed, events, bytes written), so the harness is conservative: a packet identifier is
//! "in use" only while no release for it has been seen; it never reports a reuse that a
//! release could explain.

use std::collections::{BTreeMap, BTreeSet};
use wasmqtt::codec::{
    Auth, ConnAck, Decoder, Disconnect, Packet, PacketType, Properties, ProtocolVersion, PubResp,
    Publish, QoS, ReasonCode, RetainHandling, Seq, SubAck, SubscriptionOptions, UnsubAck,
};
use wasmqtt::session::{
    Event, LastWill, Message, MessageProperties, Options, Output, PublishError, ReconnectPolicy,
    Session, State, WriteCoalescing,
};

/// Reads the input like `arbitrary::Unstructured`: zeros once the bytes run out.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// An input over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Input { data }
    }

    fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn bool(&mut self) -> bool {
        self.u8() & 1 == 1
    }

    /// A value in `0..n` (n ≥ 1).
    fn below(&mut self, n: usize) -> usize {
        if n <= 256 {
            usize::from(self.u8()) % n
        } else {
            usize::from(self.u16()) % n
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> &'a [u8] {
        let n = self.below(max + 1).min(self.data.len());
        let (b, rest) = self.data.split_at(n);
        self.data = rest;
        b
    }
}

const TOPICS: [&str; 8] = ["a/b", "t/1", "t/2", "x", "", "a/+", "$SYS/x", "long/"];
const FILTERS: [&str; 9] = [
    "a/b",
    "a/+",
    "#",
    "t/#",
    "$share/g/a/#",
    "+/b",
    "a/#/b",
    "",
    "x",
];
const PAYLOAD_EXTRA: [usize; 7] = [0, 1, 10, 60, 200, 1000, 3000];
const QOS: [QoS; 3] = [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce];
/// Largest topic the harness publishes to ("long/" is padded to this).
const LONG_TOPIC: usize = 300;
const MAX_STEPS: usize = 400;

fn options(inp: &mut Input<'_>) -> Options {
    let version = if inp.bool() {
        ProtocolVersion::V5
    } else {
        ProtocolVersion::V311
    };
    let v5 = version.is_v5();
    let mut o = Options::new(if inp.u8().is_multiple_of(4) {
        ""
    } else {
        "fuzz"
    })
    .version(version);
    o.clean_start = inp.bool();
    o.keep_alive = inp.pick(&[0, 1, 2, 5, 60, 65_535]);
    o.max_inflight = inp.pick(&[0, 1, 2, 3, 5, 20]);
    o.max_queued_messages = inp.pick(&[0, 1, 2, 4, 8, 100]);
    o.max_queued_bytes = inp.pick(&[0, 40, 300, 4096, 1 << 20]);
    o.max_pending_write_bytes = inp.pick(&[0, 16, 256, 4096, 1 << 20]);
    o.max_packet_size = inp.pick(&[32, 128, 1024, 1 << 20, wasmqtt::codec::MAX_PACKET_SIZE]);
    o.connect_timeout_ms = inp.pick(&[0, 100, 5_000]);
    o.ping_timeout_ms = inp.pick(&[None, Some(0), Some(500)]);
    o.random_seed = u64::from(inp.u32());
    // Write coalescing from the seed's top bits (no byte of its own, so that the inputs found
    // before it existed keep their meaning): off, the default, and two others.
    o.write_coalescing = match o.random_seed >> 30 {
        0 => None,
        1 => Some(WriteCoalescing::default()),
        2 => Some(WriteCoalescing {
            window_divisor: 1,
            max_hold_ms: 0,
        }),
        _ => Some(WriteCoalescing {
            window_divisor: 2,
            max_hold_ms: 50,
        }),
    };
    o.reconnect = ReconnectPolicy {
        enabled: !inp.u8().is_multiple_of(8),
        initial_delay_ms: inp.pick(&[0, 10, 500]),
        max_delay_ms: inp.pick(&[0, 1_000, 30_000]),
        multiplier: inp.pick(&[0, 1, 2, 1000]),
        jitter_percent: inp.pick(&[0, 50, 100, 255]),
    };
    if inp.u8().is_multiple_of(4) {
        o.will = Some(LastWill::new("will", &b"bye"[..]).qos(inp.pick(&QOS)));
    }
    if v5 {
        o.receive_maximum = inp.pick(&[1, 2, 4, 65_535]);
        o.topic_alias_maximum = inp.pick(&[0, 1, 3]);
        o.outbound_topic_aliases = inp.bool();
        if inp.u8().is_multiple_of(4) {
            o.session_expiry_interval = Some(inp.pick(&[0, 60, u32::MAX]));
        }
        if inp.u8().is_multiple_of(4) {
            o.authentication_method = Some("m".into());
            o.authentication_data = inp.bool().then(|| b"d".to_vec());
        }
    }
    o
}

/// How deep a run went (summed over runs by the smoke test, to show the inputs reach the
/// states the checks are about).
#[derive(Debug, Default, Clone, Copy)]
pub struct Stats {
    /// CONNACKs accepted.
    pub connected: usize,
    /// ... of which resumed a session.
    pub resumed: usize,
    /// QoS 1/2 publishes acknowledged with success.
    pub acked: usize,
    /// PUBLISH written again with DUP.
    pub resent: usize,
    /// Packet identifiers used again after their exchange completed (rare: the session's
    /// identifiers wrap only after 65 535).
    pub pid_reused: usize,
    /// v5 AUTH challenges handed to the application.
    pub auth_challenges: usize,
    /// Runs of each protocol version: [3.1.1, 5.0].
    pub runs: [usize; 2],
    /// Inbound QoS 2 messages delivered.
    pub qos2_delivered: usize,
    /// Subscribe / unsubscribe requests answered.
    pub requests_answered: usize,
    /// Steps with the writes stalled.
    pub stalled_steps: usize,
    /// Transmits handed out while writing was blocked (the last bytes before CloseTransport).
    pub blocked_last_bytes: usize,
}

impl core::ops::AddAssign for Stats {
    fn add_assign(&mut self, o: Stats) {
        self.connected += o.connected;
        self.resumed += o.resumed;
        self.acked += o.acked;
        self.resent += o.resent;
        self.pid_reused += o.pid_reused;
        self.qos2_delivered += o.qos2_delivered;
        self.requests_answered += o.requests_answered;
        self.stalled_steps += o.stalled_steps;
        self.blocked_last_bytes += o.blocked_last_bytes;
        self.auth_challenges += o.auth_challenges;
        self.runs[0] += o.runs[0];
        self.runs[1] += o.runs[1];
    }
}

/// What the harness knows about one packet identifier the client uses.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Use {
    /// A QoS 1/2 PUBLISH of the publish with this tag (the first 8 payload bytes).
    Publish { tag: u64, conn: u32 },
    /// A SUBSCRIBE or UNSUBSCRIBE with this content: its wire bytes, identifier left out.
    Request { key: Vec<u8>, conn: u32 },
}

impl Use {
    fn conn(&self) -> u32 {
        match self {
            Use::Publish { conn, .. } | Use::Request { conn, .. } => *conn,
        }
    }
}

/// An inbound message the harness sent, to send again (DUP) later.
#[derive(Debug, Clone)]
struct Inbound {
    pid: u16,
    qos: QoS,
    topic: String,
    payload: Vec<u8>,
}

/// What the broker said in the CONNACK the session accepted, from [`Event::Connected`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    window: usize,
    keep_alive: u16,
    max_packet_size: Option<u32>,
    topic_alias_maximum: u16,
    maximum_qos: QoS,
    retain_available: bool,
}

/// The harness: a driver and a broker around one session, with the checks.
pub struct Harness {
    s: Session,
    version: ProtocolVersion,
    opts: Options,
    now: u64,
    deadline: Option<u64>,
    /// The driver's transport cannot take bytes for this many more steps: the session was told
    /// `handle_write_blocked` and hears `handle_writable` when the stall ends. A transport
    /// closed or opened meanwhile ends it (the next one starts writable).
    stall_left: usize,
    stalled: bool,
    open_requested: bool,
    /// Connection counter (incremented by every `handle_connected` that wrote CONNECT).
    conn: u32,
    limits: Option<Limits>,
    /// Topic aliases the session set on this connection (alias → topic).
    out_aliases: BTreeMap<u16, String>,
    sent_disconnect: bool,

    // Publishes and requests, by the session's handles.
    next_tag: u64,
    /// Accepted publishes: handle → tag.
    accepted: BTreeMap<u64, u64>,
    completed_tags: BTreeSet<u64>,
    qos_of: BTreeMap<u64, QoS>,
    completed: BTreeSet<u64>,
    requests: BTreeSet<u64>,
    requests_done: BTreeSet<u64>,

    // Packet identifiers (client side).
    in_use: BTreeMap<u16, Use>,
    /// Releases seen since the last scan of written bytes: acknowledgements fed (by identifier).
    tokens: BTreeMap<u16, u32>,
    /// Tags completed since the last scan: a PUBLISH of them in the next batch is stale.
    fresh_completed: BTreeSet<u64>,
    /// Tags completed before the last scan: never sent again.
    old_completed: BTreeSet<u64>,
    /// Tags seen in a PUBLISH the session wrote on this connection.
    sent_tags: BTreeSet<u64>,
    clear_at_scan: bool,
    /// QoS 1/2 publish packet identifiers seen, by stage: true once PUBREL was written.
    pub_stage: BTreeMap<u16, (QoS, bool)>,
    /// SUBSCRIBE / UNSUBSCRIBE identifiers seen, with their number of filters.
    req_pids: BTreeMap<u16, (PacketType, usize)>,

    // Broker side.
    mirror: Vec<u8>,
    mirror_dead: bool,
    /// Packets decoded from `mirror` on this connection.
    mirror_packets: usize,
    next_inbound_pid: u16,
    nonce: u32,
    inbound: Vec<Inbound>,
    /// QoS 2 packet identifiers delivered to the application and not yet released by PUBREL.
    delivered_qos2: BTreeSet<u16>,
    pubrel_tokens: BTreeMap<u16, u32>,
    /// Fed inbound QoS 2 PUBLISH since the last event check: (payload, packet id).
    fed_qos2: Vec<(Vec<u8>, u16)>,
    fed_packets: usize,

    // Write-budget accounting while stalled.
    unbudgeted_since_drain: usize,
    stats: Stats,
    /// Print every step (set `SESSION_HARNESS_TRACE=1` to debug a failing input).
    trace: bool,
}

/// What identifies a SUBSCRIBE / UNSUBSCRIBE sent again: its wire bytes (`packet`, one whole
/// packet) without the packet identifier, the first two bytes after the fixed header. Equal
/// bytes, equal request (filters, options, properties).
fn request_key(packet: &[u8]) -> Vec<u8> {
    let header = 2 + packet[1..].iter().take_while(|b| **b & 0x80 != 0).count();
    let mut key = packet[..header].to_vec();
    key.extend_from_slice(packet.get(header + 2..).unwrap_or_default());
    key
}

/// Whether `SESSION_HARNESS_TRACE` is set, read once (not on every run: the fuzzer runs
/// thousands a second).
fn trace_enabled() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("SESSION_HARNESS_TRACE").is_some())
}

fn fail(what: impl std::fmt::Display) -> ! {
    panic!("session invariant violated: {what}")
}

impl Harness {
    /// A harness for a session made with `opts`.
    pub fn new(opts: Options) -> Self {
        Harness {
            s: Session::new(opts.clone()),
            version: opts.version,
            opts,
            now: 0,
            deadline: None,
            stalled: false,
            stall_left: 0,
            open_requested: false,
            conn: 0,
            limits: None,
            out_aliases: BTreeMap::new(),
            sent_disconnect: false,
            next_tag: 0,
            accepted: BTreeMap::new(),
            completed: BTreeSet::new(),
            completed_tags: BTreeSet::new(),
            qos_of: BTreeMap::new(),
            requests: BTreeSet::new(),
            requests_done: BTreeSet::new(),
            in_use: BTreeMap::new(),
            tokens: BTreeMap::new(),
            fresh_completed: BTreeSet::new(),
            old_completed: BTreeSet::new(),
            sent_tags: BTreeSet::new(),
            clear_at_scan: false,
            pub_stage: BTreeMap::new(),
            req_pids: BTreeMap::new(),
            mirror: Vec::new(),
            mirror_dead: false,
            mirror_packets: 0,
            next_inbound_pid: 1,
            nonce: 0,
            inbound: Vec::new(),
            delivered_qos2: BTreeSet::new(),
            pubrel_tokens: BTreeMap::new(),
            fed_qos2: Vec::new(),
            fed_packets: 0,
            unbudgeted_since_drain: 0,
            stats: Stats::default(),
            trace: trace_enabled(),
        }
    }

    fn v5(&self) -> bool {
        self.version.is_v5()
    }

    // ------------------------------------------------------------------ application calls

    fn publish(&mut self, inp: &mut Input<'_>) {
        let qos = inp.pick(&QOS);
        let mut topic = inp.pick(&TOPICS).to_string();
        if topic == "long/" {
            topic.push_str(&"l".repeat(LONG_TOPIC - 5));
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        let mut payload = tag.to_le_bytes().to_vec();
        payload.resize(8 + inp.pick(&PAYLOAD_EXTRA), 0xAB);
        let mut msg = Message::new(topic, payload)
            .qos(qos)
            .retain(inp.u8().is_multiple_of(4));
        if inp.u8().is_multiple_of(4) {
            msg = msg.properties(MessageProperties {
                payload_format_indicator: Some(true),
                message_expiry_interval: inp.bool().then_some(30),
                content_type: inp.bool().then(|| "text/plain".into()),
                response_topic: inp.bool().then(|| "r/t".into()),
                correlation_data: inp.bool().then(|| vec![1, 2, 3]),
                user_properties: vec![("k".into(), "v".into())],
                subscription_identifiers: Vec::new(),
            });
        }
        let wire = msg.topic.len() + msg.payload.len() + 64;
        let before = self.s.pending_write_bytes();
        let queued_before = self.s.queued().0;
        match self.s.publish(msg, self.now) {
            Ok(id) => {
                self.qos_of.insert(id.0, qos);
                if self.accepted.insert(id.0, tag).is_some() {
                    fail(format!("publish handle {id:?} given twice"));
                }
                let after = self.s.pending_write_bytes();
                if qos == QoS::AtMostOnce
                    && self.s.is_connected()
                    && queued_before == 0
                    && before >= self.opts.max_pending_write_bytes
                    && after > before
                {
                    fail(format!(
                        "QoS 0 publish wrote with {before} bytes pending (budget {})",
                        self.opts.max_pending_write_bytes
                    ));
                }
                if qos != QoS::AtMostOnce {
                    self.unbudgeted_since_drain += wire;
                }
            }
            Err(PublishError::WouldBlock) => {
                if before < self.opts.max_pending_write_bytes {
                    fail(format!(
                        "WouldBlock with {before} bytes pending (budget {})",
                        self.opts.max_pending_write_bytes
                    ));
                }
            }
            Err(_) => {}
        }
    }

    fn subscribe(&mut self, inp: &mut Input<'_>) {
        let n = inp.below(3);
        let filters: Vec<(String, SubscriptionOptions)> = (0..n + usize::from(inp.u8() < 250))
            .map(|_| {
                let mut o = SubscriptionOptions::qos(inp.pick(&QOS));
                let b = inp.u8();
                o.no_local = b & 1 != 0;
                o.retain_as_published = b & 2 != 0;
                o.retain_handling = match (b >> 2) % 3 {
                    0 => RetainHandling::SendAtSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                };
                (inp.pick(&FILTERS).to_string(), o)
            })
            .collect();
        let sid = inp.pick(&[None, None, Some(0), Some(1), Some(7), Some(300_000_000)]);
        let cost: usize = filters.iter().map(|(f, _)| f.len() + 8).sum::<usize>() + 16;
        if let Ok(id) = self.s.subscribe(filters, sid, self.now) {
            if !self.requests.insert(id.0) {
                fail(format!("request handle {id:?} given twice"));
            }
            self.unbudgeted_since_drain += cost;
        }
    }

    fn unsubscribe(&mut self, inp: &mut Input<'_>) {
        let filters: Vec<String> = (0..inp.below(3) + usize::from(inp.u8() < 250))
            .map(|_| inp.pick(&FILTERS).to_string())
            .collect();
        let cost: usize = filters.iter().map(|f| f.len() + 8).sum::<usize>() + 16;
        if let Ok(id) = self.s.unsubscribe(filters, self.now) {
            if !self.requests.insert(id.0) {
                fail(format!("request handle {id:?} given twice"));
            }
            self.unbudgeted_since_drain += cost;
        }
    }

    fn auth(&mut self, inp: &mut Input<'_>) {
        let code = inp.pick(&[
            ReasonCode::CONTINUE_AUTHENTICATION,
            ReasonCode::RE_AUTHENTICATE,
            ReasonCode::SUCCESS,
        ]);
        let data = inp.bool().then(|| inp.bytes(8).to_vec());
        let _ = self.s.auth(code, data, self.now);
        self.unbudgeted_since_drain += 64;
    }

    // ------------------------------------------------------------------ broker side

    /// Feeds `bytes` in pieces whose lengths the input chooses, mirroring the session's decoder
    /// to know which packets it processed.
    fn feed(&mut self, inp: &mut Input<'_>, bytes: &[u8]) {
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = if inp.u8() < 200 {
                rest.len()
            } else {
                1 + inp.below(rest.len())
            };
            let (chunk, tail) = rest.split_at(n);
            rest = tail;
            if self.trace {
                eprintln!("feed {chunk:02x?}");
            }
            self.feed_chunk(chunk);
            self.step_end();
        }
    }

    fn feed_chunk(&mut self, chunk: &[u8]) {
        let live = matches!(self.s.state(), State::AwaitingConnAck | State::Connected);
        if live && !self.mirror_dead {
            self.mirror.extend_from_slice(chunk);
            let d = Decoder::new(self.version).with_max_packet_size(self.opts.max_packet_size);
            let mut start = 0;
            loop {
                match d.decode(&self.mirror[start..]) {
                    Ok(Some((p, used))) => {
                        start += used;
                        self.fed_packets += 1;
                        self.mirror_packets += 1;
                        match p {
                            Packet::SubAck(SubAck { packet_id, .. })
                            | Packet::UnsubAck(UnsubAck { packet_id, .. }) => {
                                *self.tokens.entry(packet_id).or_default() += 1
                            }
                            Packet::PubRel(r) => {
                                *self.pubrel_tokens.entry(r.packet_id).or_default() += 1
                            }
                            // A new session: the tokens fed before this CONNACK are void, those
                            // after it (in the same chunk) count. (Cleared here, in feed order,
                            // not at the `Connected` event, which comes after the whole chunk.)
                            // Only the connection's first packet is a CONNACK the session
                            // takes; a later one is a protocol error that changes nothing.
                            Packet::ConnAck(c)
                                if self.mirror_packets == 1
                                    && !c.session_present
                                    && c.reason_code.0 == 0 =>
                            {
                                self.tokens.clear();
                                self.pubrel_tokens.clear();
                            }
                            Packet::Publish(p) if p.qos == QoS::ExactlyOnce => {
                                self.fed_qos2.push((p.payload.to_vec(), p.packet_id))
                            }
                            _ => {}
                        }
                    }
                    Ok(None) => break,
                    Err(_) => {
                        self.mirror_dead = true;
                        break;
                    }
                }
            }
            self.mirror.drain(..start);
        }
        self.unbudgeted_since_drain += 2 * chunk.len();
        self.s.handle_bytes(chunk, self.now);
        if !matches!(self.s.state(), State::AwaitingConnAck | State::Connected) {
            self.mirror.clear();
            self.mirror_packets = 0;
            self.mirror_dead = false;
        }
    }

    fn encode(&self, p: &Packet<'_>) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        p.encode(self.version, &mut out).ok().map(|_| out)
    }

    /// A well-formed broker packet (or several), built from what the session sent.
    fn broker_packet(&mut self, inp: &mut Input<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        for _ in 0..1 + usize::from(inp.u8() >= 224) * 2 {
            if let Some(b) = self.one_broker_packet(inp) {
                out.extend_from_slice(&b);
            }
        }
        out
    }

    fn known_pid(&self, inp: &mut Input<'_>, pred: impl Fn(QoS, bool) -> bool) -> u16 {
        let pids: Vec<u16> = self
            .pub_stage
            .iter()
            .filter(|(_, (q, rel))| pred(*q, *rel))
            .map(|(p, _)| *p)
            .collect();
        if pids.is_empty() || inp.u8() < 16 {
            1 + inp.below(4) as u16
        } else {
            pids[inp.below(pids.len())]
        }
    }

    /// CONNACK: accepted mostly, with or without session present and v5 limits.
    fn connack(&mut self, inp: &mut Input<'_>) -> Option<Vec<u8>> {
        let v5 = self.v5();
        let mut props = Properties::default();
        let refuse = inp.u8() < 24;
        let code = if !refuse {
            ReasonCode::SUCCESS
        } else if v5 {
            inp.pick(&[
                ReasonCode::UNSPECIFIED_ERROR,
                ReasonCode::NOT_AUTHORIZED,
                ReasonCode::SERVER_BUSY,
                ReasonCode::BAD_AUTHENTICATION_METHOD,
            ])
        } else {
            ReasonCode(1 + inp.below(5) as u8)
        };
        if v5 {
            let b = inp.u16();
            if b & 1 != 0 {
                props.receive_maximum = Some(inp.pick(&[1, 2, 3, 65_535]));
            }
            if b & 2 != 0 {
                props.topic_alias_maximum = Some(inp.pick(&[0, 1, 2, 10]));
            }
            if b & 4 != 0 {
                props.maximum_packet_size = Some(inp.pick(&[20, 40, 100, 1000, 70_000]));
            }
            if b & 8 != 0 {
                props.maximum_qos = Some(inp.pick(&[QoS::AtMostOnce, QoS::AtLeastOnce]));
            }
            if b & 16 != 0 {
                props.retain_available = Some(inp.bool());
            }
            if b & 32 != 0 {
                props.server_keep_alive = Some(inp.pick(&[0, 1, 3, 100]));
            }
            if b & 64 != 0 {
                props.assigned_client_identifier = Some("assigned");
            }
            if b & 128 != 0 {
                props.session_expiry_interval = Some(inp.pick(&[0, 10]));
            }
            // Mostly the method the session asked for (v5 MQTT-4.12.0-5).
            props.authentication_method = if b & 256 != 0 {
                Some("other")
            } else {
                self.opts.authentication_method.as_deref()
            };
            if b & 512 != 0 {
                props.reason_string = Some("why");
            }
        }
        let c = ConnAck {
            session_present: !refuse && inp.bool(),
            reason_code: code,
            properties: props,
        };
        self.encode(&Packet::ConnAck(c))
    }

    fn one_broker_packet(&mut self, inp: &mut Input<'_>) -> Option<Vec<u8>> {
        let v5 = self.v5();
        let ok_or_error = |inp: &mut Input<'_>| {
            if v5 {
                inp.pick(&[
                    ReasonCode::SUCCESS,
                    ReasonCode::SUCCESS,
                    ReasonCode::NO_MATCHING_SUBSCRIBERS,
                    ReasonCode::UNSPECIFIED_ERROR,
                    ReasonCode::QUOTA_EXCEEDED,
                ])
            } else {
                ReasonCode::SUCCESS
            }
        };
        match inp.below(12) {
            0 => self.connack(inp),
            1 => {
                let pid = self.known_pid(inp, |q, _| q == QoS::AtLeastOnce);
                let mut r = PubResp::new(pid);
                r.reason_code = ok_or_error(inp);
                self.encode(&Packet::PubAck(r))
            }
            2 => {
                let pid = self.known_pid(inp, |q, rel| q == QoS::ExactlyOnce && !rel);
                let mut r = PubResp::new(pid);
                r.reason_code = ok_or_error(inp);
                self.encode(&Packet::PubRec(r))
            }
            3 => {
                let pid = self.known_pid(inp, |q, rel| q == QoS::ExactlyOnce && rel);
                self.encode(&Packet::PubComp(PubResp::new(pid)))
            }
            4 => {
                let pids: Vec<u16> = self
                    .inbound
                    .iter()
                    .filter(|m| m.qos == QoS::ExactlyOnce)
                    .map(|m| m.pid)
                    .collect();
                let pid = if pids.is_empty() || inp.u8() < 16 {
                    1 + inp.below(4) as u16
                } else {
                    pids[inp.below(pids.len())]
                };
                self.encode(&Packet::PubRel(PubResp::new(pid)))
            }
            5 | 6 => {
                let (kind, pid, n) = match self.req_pids.iter().nth(inp.below(8)) {
                    Some((pid, (kind, n))) => (*kind, *pid, *n),
                    None => (
                        inp.pick(&[PacketType::SubAck, PacketType::UnsubAck]),
                        1 + inp.below(4) as u16,
                        1,
                    ),
                };
                let n = if inp.u8() < 16 { inp.below(4) } else { n };
                let codes: Vec<ReasonCode> = (0..n)
                    .map(|_| {
                        inp.pick(&[
                            ReasonCode::GRANTED_QOS_0,
                            ReasonCode::GRANTED_QOS_1,
                            ReasonCode::GRANTED_QOS_2,
                            ReasonCode::UNSPECIFIED_ERROR,
                            ReasonCode::NO_SUBSCRIPTION_EXISTED,
                        ])
                    })
                    .collect();
                let kind = if inp.u8() < 16 {
                    inp.pick(&[PacketType::SubAck, PacketType::UnsubAck])
                } else {
                    kind
                };
                if kind == PacketType::SubAck || kind == PacketType::Subscribe {
                    let codes: Vec<ReasonCode> = codes
                        .into_iter()
                        .map(|c| if c.0 == 0x11 { ReasonCode(0x80) } else { c })
                        .collect();
                    self.encode(&Packet::SubAck(SubAck {
                        packet_id: pid,
                        properties: Properties::default(),
                        reason_codes: Seq::from_slice(&codes),
                    }))
                } else {
                    let codes: Vec<ReasonCode> = if v5 {
                        codes
                            .into_iter()
                            .map(|c| if c.0 <= 2 { ReasonCode::SUCCESS } else { c })
                            .collect()
                    } else {
                        Vec::new()
                    };
                    self.encode(&Packet::UnsubAck(UnsubAck {
                        packet_id: pid,
                        properties: Properties::default(),
                        reason_codes: Seq::from_slice(&codes),
                    }))
                }
            }
            7 | 8 => {
                if !self.inbound.is_empty() && inp.u8() < 64 {
                    // A redelivery, DUP set.
                    let m = self.inbound[inp.below(self.inbound.len())].clone();
                    return self.encode(&Packet::Publish(Publish {
                        dup: true,
                        qos: m.qos,
                        retain: false,
                        topic: &m.topic,
                        packet_id: m.pid,
                        properties: Properties::default(),
                        payload: &m.payload,
                    }));
                }
                let qos = inp.pick(&QOS);
                let pid = if qos == QoS::AtMostOnce {
                    0
                } else if inp.u8() < 32 {
                    1 + inp.below(3) as u16
                } else {
                    let p = self.next_inbound_pid;
                    self.next_inbound_pid = p.checked_add(1).unwrap_or(1);
                    p
                };
                self.nonce += 1;
                let mut payload = vec![0xF5, b'Q'];
                payload.extend_from_slice(&self.nonce.to_le_bytes());
                payload.resize(payload.len() + inp.pick(&[0, 5, 100]), 0);
                let topic = inp.pick(&["a/b", "t/1", "x/y/z"]);
                let mut props = Properties::default();
                let mut wire_topic = topic;
                if v5 && inp.bool() {
                    props.topic_alias = Some(inp.below(5) as u16);
                    if inp.bool() {
                        wire_topic = "";
                    }
                }
                if v5 && inp.u8() < 32 {
                    props.subscription_identifiers = Seq::from_slice(&[7]);
                    props.message_expiry_interval = Some(5);
                }
                let bytes = self.encode(&Packet::Publish(Publish {
                    dup: false,
                    qos,
                    retain: inp.u8() < 32,
                    topic: wire_topic,
                    packet_id: pid,
                    properties: props,
                    payload: &payload,
                }))?;
                if qos != QoS::AtMostOnce && !wire_topic.is_empty() {
                    if self.inbound.len() >= 16 {
                        self.inbound.remove(0);
                    }
                    self.inbound.push(Inbound {
                        pid,
                        qos,
                        topic: topic.to_string(),
                        payload,
                    });
                }
                Some(bytes)
            }
            9 => self.encode(&Packet::PingResp),
            10 => {
                let d = Disconnect {
                    reason_code: inp.pick(&[
                        ReasonCode::NORMAL_DISCONNECTION,
                        ReasonCode::SERVER_SHUTTING_DOWN,
                        ReasonCode::SESSION_TAKEN_OVER,
                    ]),
                    properties: Properties {
                        server_reference: inp.bool().then_some("other:1883"),
                        ..Properties::default()
                    },
                };
                self.encode(&Packet::Disconnect(d))
            }
            _ => {
                let a = Auth {
                    reason_code: inp.pick(&[
                        ReasonCode::CONTINUE_AUTHENTICATION,
                        ReasonCode::SUCCESS,
                        ReasonCode::RE_AUTHENTICATE,
                    ]),
                    properties: Properties {
                        authentication_method: if inp.u8() < 32 {
                            Some("other")
                        } else {
                            self.opts.authentication_method.as_deref().or(Some("m"))
                        },
                        authentication_data: inp.bool().then_some(&b"challenge"[..]),
                        ..Properties::default()
                    },
                };
                self.encode(&Packet::Auth(a))
            }
        }
    }

    // ------------------------------------------------------------------ driver and checks

    /// Drains the session like a driver and checks what came out. Whether anything came out
    /// (bytes, events, a transport to open or close).
    fn step_end(&mut self) -> bool {
        let mut written = Vec::new();
        let mut events = Vec::new();
        let mut transport = false;
        // A Transmit came out while writing was blocked: only the transport's last bytes may,
        // right before CloseTransport (`session/transmit.rs`).
        let mut last_bytes = false;
        loop {
            if self.stalled && !self.s.is_write_blocked() {
                fail("the session forgot handle_write_blocked");
            }
            let out = self.s.poll_output();
            if last_bytes && out != Output::CloseTransport {
                fail(format!(
                    "Transmit while write-blocked, followed by {out:?} instead of CloseTransport"
                ));
            }
            last_bytes = false;
            match out {
                Output::Transmit(b) => {
                    if b.is_empty() {
                        fail("empty Transmit");
                    }
                    last_bytes = self.stalled;
                    self.stats.blocked_last_bytes += usize::from(self.stalled);
                    written.push(b);
                }
                Output::OpenTransport => {
                    self.open_requested = true;
                    transport = true;
                    self.transport_changed();
                }
                Output::CloseTransport => {
                    transport = true;
                    self.transport_changed();
                }
                Output::Event(e) => events.push(e),
                Output::Wait(d) => {
                    self.deadline = d;
                    break;
                }
            }
            if events.len() > 100_000 {
                fail("unbounded events");
            }
        }
        let bound = self.accepted.len() - self.completed.len() + self.requests.len()
            - self.requests_done.len()
            + self.fed_packets
            + 8;
        if events.len() > bound {
            fail(format!(
                "{} events in one step (bound {bound})",
                events.len()
            ));
        }
        self.fed_packets = 0;
        if self.trace {
            eprintln!("  state {:?}, now {}", self.s.state(), self.now);
            for e in &events {
                eprintln!("  event {e:?}");
            }
            let d = Decoder::new(self.version);
            let mut all: Vec<u8> = written.concat();
            while let Ok(Some((p, used))) = d.decode(&all) {
                eprintln!("  wrote {p:?}");
                all.drain(..used);
            }
        }
        let closed = self.check_events(&events);
        if !self.stalled {
            let mut scan_bytes = Vec::new();
            for b in &written {
                scan_bytes.extend_from_slice(b);
            }
            self.scan(&scan_bytes);
            self.unbudgeted_since_drain = 0;
        }
        if closed {
            self.clear_at_scan = true;
        }
        if !self.stalled && self.clear_at_scan {
            self.clear_at_scan = false;
            self.in_use.clear();
            self.tokens.clear();
        }
        self.check_bounds();
        // Keep-alive lives in deadlines: a connection with one in force always has one.
        if self.s.state() == State::Connected
            && self.limits.is_some_and(|l| l.keep_alive > 0)
            && self.deadline.is_none()
        {
            fail("connected with a keep-alive but no deadline");
        }
        transport || !written.is_empty() || !events.is_empty()
    }

    /// The driver's transport stops (`true`) or starts again taking bytes: the session hears
    /// `handle_write_blocked` / `handle_writable`.
    fn set_stalled(&mut self, stalled: bool) {
        match (self.stalled, stalled) {
            (false, true) => self.s.handle_write_blocked(),
            (true, false) => self.s.handle_writable(self.now),
            _ => {}
        }
        self.stalled = stalled;
    }

    /// The session asked to open or close a transport: a stall on the old one is over, and the
    /// session must not still be write-blocked (a new transport starts writable).
    fn transport_changed(&mut self) {
        if self.s.is_write_blocked() {
            fail("write-blocked across a transport change");
        }
        self.stalled = false;
        self.stall_left = 0;
    }

    /// Checks events; returns whether the session closed for good.
    fn check_events(&mut self, events: &[Event]) -> bool {
        let mut closed = false;
        for e in events {
            match e {
                Event::PublishComplete { id, result } => {
                    if result.is_ok()
                        && self
                            .qos_of
                            .get(&id.0)
                            .is_some_and(|q| *q != QoS::AtMostOnce)
                    {
                        self.stats.acked += 1;
                    }
                    if !self.accepted.contains_key(&id.0) {
                        fail(format!("completion of unknown publish {id:?}"));
                    }
                    if !self.completed.insert(id.0) {
                        fail(format!("publish {id:?} completed twice"));
                    }
                    let tag = self.accepted[&id.0];
                    self.fresh_completed.insert(tag);
                    self.completed_tags.insert(tag);
                }
                Event::Subscribed { id, .. }
                | Event::Unsubscribed { id, .. }
                | Event::RequestFailed { id, .. } => {
                    if !self.requests.contains(&id.0) {
                        fail(format!("completion of unknown request {id:?}"));
                    }
                    if matches!(e, Event::Subscribed { .. } | Event::Unsubscribed { .. }) {
                        self.stats.requests_answered += 1;
                    }
                    if !self.requests_done.insert(id.0) {
                        fail(format!("request {id:?} completed twice"));
                    }
                }
                Event::Connected(info) => {
                    self.limits = Some(Limits {
                        window: usize::from(info.inflight_window),
                        keep_alive: info.keep_alive,
                        max_packet_size: info.max_packet_size,
                        topic_alias_maximum: info.topic_alias_maximum,
                        maximum_qos: info.maximum_qos,
                        retain_available: info.retain_available,
                    });
                    self.stats.connected += 1;
                    self.stats.resumed += usize::from(info.session_present);
                    if info.inflight_window == 0 {
                        fail("inflight window 0");
                    }
                    if !info.session_present {
                        // A new session: every identifier is free, inbound QoS 2 state gone.
                        self.in_use.clear();
                        if self.mirror_dead {
                            // Not seen in feed order (see `feed_chunk`).
                            self.tokens.clear();
                            self.pubrel_tokens.clear();
                        }
                        self.delivered_qos2.clear();
                        self.pub_stage.clear();
                        self.req_pids.clear();
                    }
                }
                Event::Disconnected { reconnect_at, .. } => {
                    if let Some(at) = reconnect_at {
                        // The back-off is capped at max_delay_ms, jitter only shortens it.
                        let cap = self.now.saturating_add(self.opts.reconnect.max_delay_ms);
                        if *at < self.now || *at > cap {
                            fail(format!(
                                "reconnect at {at}: outside [{}, {cap}] (now, now + max delay)",
                                self.now
                            ));
                        }
                    } else {
                        closed = true;
                    }
                }
                Event::AuthChallenge { .. } => self.stats.auth_challenges += 1,
                Event::Message(m) => {
                    if m.message.topic.is_empty() {
                        fail("message delivered with an empty topic");
                    }
                    if m.message.qos != QoS::ExactlyOnce {
                        continue;
                    }
                    // Which packet identifier: the fed QoS 2 PUBLISH with this payload, when
                    // unambiguous.
                    let pids: BTreeSet<u16> = self
                        .fed_qos2
                        .iter()
                        .filter(|(pl, _)| *pl == m.message.payload)
                        .map(|(_, p)| *p)
                        .collect();
                    if pids.len() != 1 {
                        continue;
                    }
                    let pid = *pids.iter().next().expect("one");
                    if self.delivered_qos2.contains(&pid) {
                        match self.pubrel_tokens.get_mut(&pid) {
                            Some(t) if *t > 0 => *t -= 1,
                            _ => fail(format!(
                                "inbound QoS 2 packet id {pid} delivered twice before PUBREL"
                            )),
                        }
                    }
                    self.delivered_qos2.insert(pid);
                    self.stats.qos2_delivered += 1;
                }
                _ => {}
            }
        }
        // A PUBREL not used up by a delivery released its identifier (in which order the
        // session saw them is unknown: assume the one that hides nothing).
        for (pid, t) in std::mem::take(&mut self.pubrel_tokens) {
            if t > 0 {
                self.delivered_qos2.remove(&pid);
            }
        }
        self.fed_qos2.clear();
        closed
    }

    /// Decodes what the session wrote and checks it packet by packet.
    fn scan(&mut self, bytes: &[u8]) {
        let d = Decoder::new(self.version);
        let mut rest = bytes;
        while !rest.is_empty() {
            let (p, used) = match d.decode(rest) {
                Ok(Some(x)) => x,
                Ok(None) => fail(format!("partial packet written: {rest:02x?}")),
                Err(e) => fail(format!(
                    "session wrote a malformed packet ({e}): {rest:02x?}"
                )),
            };
            let len = used;
            let packet = &rest[..used];
            rest = &rest[used..];
            if self.sent_disconnect {
                fail(format!("{:?} written after DISCONNECT", p.packet_type()));
            }
            if let (Some(l), false) = (
                self.limits,
                matches!(p, Packet::Connect(_) | Packet::Auth(_)),
            ) {
                if l.max_packet_size.is_some_and(|m| len as u64 > u64::from(m)) {
                    fail(format!(
                        "{:?} of {len} bytes over the broker's maximum packet size {:?}",
                        p.packet_type(),
                        l.max_packet_size
                    ));
                }
            }
            match p {
                Packet::Connect(_) => {
                    self.out_aliases.clear();
                }
                Packet::Disconnect(_) => self.sent_disconnect = true,
                Packet::Publish(p) => self.scan_publish(&p),
                Packet::PubRel(r) => {
                    if let Some(st) = self.pub_stage.get_mut(&r.packet_id) {
                        st.1 = true;
                    }
                }
                Packet::Subscribe(s) => {
                    let key = request_key(packet);
                    self.req_pids
                        .insert(s.packet_id, (PacketType::SubAck, s.subscriptions.len()));
                    self.use_pid(
                        s.packet_id,
                        Use::Request {
                            key,
                            conn: self.conn,
                        },
                    );
                }
                Packet::Unsubscribe(u) => {
                    let key = request_key(packet);
                    self.req_pids
                        .insert(u.packet_id, (PacketType::UnsubAck, u.filters.len()));
                    self.use_pid(
                        u.packet_id,
                        Use::Request {
                            key,
                            conn: self.conn,
                        },
                    );
                }
                Packet::PubAck(_)
                | Packet::PubRec(_)
                | Packet::PubComp(_)
                | Packet::PingReq
                | Packet::Auth(_) => {}
                p => fail(format!(
                    "client wrote a server packet {:?}",
                    p.packet_type()
                )),
            }
        }
        // SUBACK / UNSUBACK not used up by a reuse released their request's identifier (in
        // which order the session saw them is unknown: assume the one that hides nothing).
        for (pid, t) in std::mem::take(&mut self.tokens) {
            if t > 0 && matches!(self.in_use.get(&pid), Some(Use::Request { .. })) {
                self.in_use.remove(&pid);
                self.req_pids.remove(&pid);
            }
        }
        // A publish's identifier is free once it completed.
        let fresh = std::mem::take(&mut self.fresh_completed);
        self.in_use
            .retain(|_, u| !matches!(u, Use::Publish { tag, .. } if fresh.contains(tag)));
        // A QoS 0 publish completes when the session has written it into its buffer; bytes a
        // write hold (or a stalled write) keeps go out in a later batch, once. So does a
        // resend that waited in a stalled write while an acknowledgement the broker could not
        // have sent yet (it has not received the resend on this connection) completed it:
        // hostile input, after which the resend still leaves once. A resend of a message
        // completed after it was sent on this connection is never allowed.
        let held = self.s.pending_write_bytes() > 0;
        for tag in fresh {
            if held && !self.sent_tags.contains(&tag) {
                self.fresh_completed.insert(tag);
            } else {
                self.old_completed.insert(tag);
            }
        }
        let in_use = &self.in_use;
        self.pub_stage.retain(|p, _| in_use.contains_key(p));
        // Unacknowledged PUBLISH written on this connection ≤ the window (v5 MQTT-3.3.4-7;
        // the send quota starts afresh on every connection and only PUBLISH uses it, so a
        // PUBREL sent again for a message PUBREC'd on an earlier connection does not count:
        // v5 MQTT-4.9.0-1, §4.9).
        if let Some(l) = self.limits {
            let out = self
                .in_use
                .values()
                .filter(|u| matches!(u, Use::Publish { conn, .. } if *conn == self.conn))
                .count();
            if out > l.window {
                fail(format!(
                    "{out} unacknowledged PUBLISH on one connection, window {}",
                    l.window
                ));
            }
        }
    }

    fn scan_publish(&mut self, p: &Publish<'_>) {
        if let Some(l) = self.limits {
            if p.qos > l.maximum_qos {
                fail(format!(
                    "PUBLISH at {:?} over the broker's maximum QoS",
                    p.qos
                ));
            }
            if p.retain && !l.retain_available && !p.dup {
                fail("retained PUBLISH to a broker without retain");
            }
            if let Some(a) = p.properties.topic_alias {
                if a == 0 || a > l.topic_alias_maximum {
                    fail(format!(
                        "topic alias {a} over the broker's maximum {}",
                        l.topic_alias_maximum
                    ));
                }
            }
        }
        match (p.topic, p.properties.topic_alias) {
            ("", Some(a)) if !self.out_aliases.contains_key(&a) => {
                fail(format!(
                    "topic alias {a} used before it was set on this connection"
                ));
            }
            ("", None) => fail("PUBLISH without topic"),
            (t, Some(a)) => {
                self.out_aliases.insert(a, t.to_string());
            }
            _ => {}
        }
        if p.payload.len() < 8 {
            fail("PUBLISH whose payload the application did not give");
        }
        let tag = u64::from_le_bytes(p.payload[..8].try_into().expect("8 bytes"));
        if self.old_completed.contains(&tag) {
            fail(format!("publish tag {tag} sent again after it completed"));
        }
        self.sent_tags.insert(tag);
        if self.fresh_completed.contains(&tag) || p.qos == QoS::AtMostOnce {
            return;
        }
        self.pub_stage.insert(p.packet_id, (p.qos, false));
        if let Some(Use::Publish { tag: t, conn }) = self.in_use.get(&p.packet_id) {
            if *t == tag {
                if !p.dup {
                    fail(format!("publish tag {tag} sent again without DUP"));
                }
                if *conn == self.conn {
                    fail(format!("publish tag {tag} sent twice on one connection"));
                }
                self.stats.resent += 1;
            }
        }
        self.use_pid(
            p.packet_id,
            Use::Publish {
                tag,
                conn: self.conn,
            },
        );
    }

    fn use_pid(&mut self, pid: u16, u: Use) {
        if pid == 0 {
            fail("packet identifier 0");
        }
        if let Some(old) = self.in_use.get(&pid) {
            let same = match (old, &u) {
                (Use::Publish { tag: a, .. }, Use::Publish { tag: b, .. }) => a == b,
                (Use::Request { key: a, .. }, Use::Request { key: b, .. }) => a == b,
                _ => false,
            };
            if same {
                if let Use::Request { .. } = old {
                    if old.conn() == self.conn {
                        fail(format!(
                            "request with packet id {pid} sent twice on one connection"
                        ));
                    }
                }
            } else {
                let released = match old {
                    // Completed (in this batch: the completion came after that PUBLISH).
                    Use::Publish { tag, .. } => self.completed_tags.contains(tag),
                    Use::Request { .. } => match self.tokens.get_mut(&pid) {
                        Some(t) if *t > 0 => {
                            *t -= 1;
                            true
                        }
                        _ => false,
                    },
                };
                self.stats.pid_reused += usize::from(released);
                if !released {
                    fail(format!(
                        "packet id {pid} reused while in flight: {old:?}, now {u:?}"
                    ));
                }
            }
        }
        self.in_use.insert(pid, u);
    }

    fn check_bounds(&self) {
        let o = &self.opts;
        let window = usize::from(o.max_inflight.max(1));
        if self.s.inflight_len() > window {
            fail(format!(
                "{} inflight, max_inflight {window}",
                self.s.inflight_len()
            ));
        }
        let (msgs, bytes) = self.s.queued();
        // The requeue rule (lost session) puts unacknowledged inflight messages back in front
        // of the queue without regard to its budget: at most a window's worth.
        let max_cost = 8 + 3000 + LONG_TOPIC + 200;
        if msgs > o.max_queued_messages + window {
            fail(format!("{msgs} queued, budget {}", o.max_queued_messages));
        }
        if bytes > o.max_queued_bytes + window * max_cost {
            fail(format!(
                "{bytes} bytes queued, budget {}",
                o.max_queued_bytes
            ));
        }
        let outstanding = self.accepted.len() - self.completed.len();
        if outstanding > o.max_queued_messages + window {
            fail(format!("{outstanding} publishes outstanding"));
        }
        let pending = self.s.pending_write_bytes();
        // Past the QoS 0 budget the session still writes what it must: QoS 1/2 messages (at
        // most what the queue and the window hold), requests, answers to what arrived.
        let requests = self.requests.len() - self.requests_done.len() + FILTERS.len();
        let allowance = o.max_pending_write_bytes
            + (o.max_queued_messages + window + 2) * (max_cost + 64)
            + requests * 160
            + 2 * self.unbudgeted_since_drain
            + 4096;
        if pending > allowance {
            fail(format!(
                "{pending} bytes pending write (allowance {allowance})"
            ));
        }
        if !self.stalled && pending != 0 {
            // Only a write hold (write coalescing) keeps bytes after a drain, and only with a
            // deadline no later than its `max_hold_ms` from now: the session's timeout
            // releases them (no hold without an end).
            let Some(c) = o.write_coalescing else {
                fail("bytes left after draining");
            };
            if self.s.state() != State::Connected {
                fail(format!("{pending} bytes held while {:?}", self.s.state()));
            }
            match self.s.poll_timeout() {
                Some(at) if at <= self.now.saturating_add(c.max_hold_ms) => {}
                other => fail(format!(
                    "{pending} bytes held with timeout {other:?} at {} (hold {} ms)",
                    self.now, c.max_hold_ms
                )),
            }
        }
    }

    // ------------------------------------------------------------------ the program

    fn step(&mut self, inp: &mut Input<'_>) {
        self.stats.stalled_steps += usize::from(self.stalled);
        if self.stall_left > 0 {
            self.stall_left -= 1;
            self.set_stalled(self.stall_left > 0);
        }
        // A driver mostly opens the transport when asked, and a broker mostly answers CONNECT
        // with CONNACK: take those paths often, so that inputs reach the connected states.
        let op = if self.open_requested && inp.u8() < 192 {
            8
        } else if self.s.state() == State::AwaitingConnAck && inp.u8() < 160 {
            15
        } else {
            inp.below(20)
        };
        if self.trace {
            eprintln!("step {op}");
        }
        match op {
            0..=3 => self.publish(inp),
            4 => self.subscribe(inp),
            5 => self.unsubscribe(inp),
            6 => {
                if inp.u8() < 32 {
                    let code = inp.pick(&[
                        ReasonCode::NORMAL_DISCONNECTION,
                        ReasonCode::DISCONNECT_WITH_WILL_MESSAGE,
                        ReasonCode::SERVER_BUSY,
                    ]);
                    self.s.disconnect_with(code, self.now);
                } else {
                    self.s.connect(self.now);
                }
            }
            7 => self.auth(inp),
            8 | 9 => {
                // The transport opened (or, sometimes, failed to).
                let ok = inp.u8() >= 32;
                let before = self.s.state();
                if ok {
                    self.s.handle_connected(self.now);
                } else {
                    self.s.handle_disconnected(self.now);
                }
                if before == State::Opening && ok && self.s.state() == State::AwaitingConnAck {
                    self.conn += 1;
                    self.limits = None;
                    self.sent_disconnect = false;
                    self.mirror.clear();
                    self.mirror_packets = 0;
                    self.mirror_dead = false;
                    self.sent_tags.clear();
                    self.out_aliases.clear();
                    self.unbudgeted_since_drain = 0;
                    self.open_requested = false;
                }
            }
            10 => self.s.handle_disconnected(self.now),
            11 | 12 => {
                let dt: u64 = match inp.below(6) {
                    0 => 0,
                    1 => 1,
                    2 => u64::from(inp.u16()),
                    3 => u64::from(inp.u32()) % 100_000_000,
                    _ => self.deadline.map_or(1, |d| d.saturating_sub(self.now)),
                };
                self.now = self.now.saturating_add(dt);
                self.unbudgeted_since_drain += 8;
                self.s.handle_timeout(self.now);
                self.step_end();
                // A deadline that has passed must make `handle_timeout` do something, or a
                // driver that sleeps until the deadline would spin.
                if !self.stalled && self.deadline.is_some_and(|d| d <= self.now) {
                    let before = (self.s.state(), self.s.inflight_len(), self.s.queued());
                    self.s.handle_timeout(self.now);
                    let acted = self.step_end();
                    let after = (self.s.state(), self.s.inflight_len(), self.s.queued());
                    if !acted && before == after && self.deadline.is_some_and(|d| d <= self.now) {
                        fail(format!(
                            "deadline {:?} has passed (now {}, {:?}) but handle_timeout does nothing",
                            self.deadline,
                            self.now,
                            self.s.state()
                        ));
                    }
                }
                return;
            }
            13 => {
                self.stall_left = inp.below(8);
                self.set_stalled(self.stall_left > 0);
            }
            14 => {
                let bytes = inp.bytes(64).to_vec();
                self.feed(inp, &bytes);
                return;
            }
            _ => {
                let bytes = if op == 15 && self.s.state() == State::AwaitingConnAck {
                    // CONNACK (index 0 of `one_broker_packet`).
                    self.connack(inp).unwrap_or_default()
                } else {
                    self.broker_packet(inp)
                };
                self.feed(inp, &bytes);
                return;
            }
        }
        self.step_end();
    }

    /// The last step: the application disconnects; everything it was promised must complete.
    fn finish(&mut self) {
        self.stall_left = 0;
        self.set_stalled(false);
        self.step_end();
        self.s.disconnect(self.now);
        self.step_end();
        if self.s.state() != State::Closed {
            fail(format!("state {:?} after disconnect", self.s.state()));
        }
        for id in self.accepted.keys() {
            if !self.completed.contains(id) {
                fail(format!("publish {id} never completed"));
            }
        }
        for id in &self.requests {
            if !self.requests_done.contains(id) {
                fail(format!("request {id} never completed"));
            }
        }
        if self.s.inflight_len() != 0 || self.s.queued() != (0, 0) {
            fail("messages kept after disconnect");
        }
    }
}

/// Runs the program that `data` encodes; panics when an invariant breaks.
pub fn run(data: &[u8]) -> Stats {
    let mut inp = Input::new(data);
    let opts = options(&mut inp);
    let mut h = Harness::new(opts);
    h.stats.runs[usize::from(h.v5())] = 1;
    h.s.connect(h.now);
    h.step_end();
    let mut steps = 0;
    while !inp.is_empty() && steps < MAX_STEPS {
        h.step(&mut inp);
        steps += 1;
    }
    h.finish();
    h.stats
}
