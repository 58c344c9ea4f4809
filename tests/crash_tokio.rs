//! Crash tests of durable session state in the native driver, with real processes killed by
//! SIGKILL, against a real mosquitto (`max_queued_messages 0`: it queues without a limit;
//! persistent sessions):
//!
//! - a publisher with a [`FileStore`](wasmqtt_tokio::FileStore) sends 10 000 QoS 1 messages
//!   (and, separately, 10 000 QoS 2 messages), is killed at several seeded random points and
//!   restarted on the same store each time; the subscriber receives every message the
//!   publisher accepted (its `publish().await` returned `Ok`, or `Client::resumed` handed it
//!   back after a restart), at QoS 2 none twice, at QoS 1 twice only a message that was in
//!   flight at a kill (resumed, and sent again as v5 MQTT-4.4.0-1 requires);
//! - a subscriber with a durable store and manual acknowledgement, killed mid-stream several
//!   times, processes every message, and the recorded wire (a proxy between it and the
//!   broker) judges its duplicates: it may deliver each PUBLISH the broker sent for a packet
//!   id it had not acknowledged (PUBREC), or had released (PUBCOMP), once, and nothing else;
//! - a client restarted on a store holding more messages than the event channel holds, with
//!   an application that reads no events, completes them all.
//!
//! The child processes are this test binary itself, run again with `CRASH_CHILD` set (the
//! `child_process` test is then the child; without it, it does nothing). A child reports on
//! stdout (`P n`: about to publish n; `A n`: n accepted; `R n`: n resumed from the store;
//! `G n`: n processed; `READY`; `DONE`) and keeps its own bookkeeping in its directory (the
//! accepted or processed sequence numbers), from which it continues after a restart. Kill
//! points count those reports: no sleep synchronises anything. The seed is printed
//! (`CRASH_SEED=n` replays it).
//!
//! **What a restarted publisher publishes again.** Only what is neither in its bookkeeping
//! nor resumed by the client: a message resumed is on its way already. The one window left
//! is the application's own: a message admitted, sent and completed in the microseconds
//! before the child wrote it down is published again (counted and printed as "republished";
//! only those may come twice).
//!
//! **Why a killed subscriber processes messages again.** It acknowledges after processing,
//! and the PUBREC of an acknowledgement leaves only once the inbound record is stored
//! (synced): what it processed and had not acknowledged on the wire when it was killed is
//! sent again by the broker, and mosquitto keeps hundreds in flight (the client announces a
//! Receive Maximum of 65 535, which mosquitto takes as its limit for a v5 client, not its own
//! `max_inflight_messages`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use wasmqtt::codec::{Packet, ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, FirstConnect, Message, Options, ReconnectPolicy};
use wasmqtt_testkit::crash::{
    self, append, kill, kill_points, read_book, say, seed, spawn_child, ChildOut,
};
use wasmqtt_testkit::mosquitto::{self, Mosquitto};
use wasmqtt_testkit::proxy::{Chunk, Direction, Proxy};
use wasmqtt_tokio::{Client, SyncPolicy};

/// Messages per publisher run.
const MESSAGES: u32 = 10_000;
/// Messages of the subscriber run.
const SUB_MESSAGES: u32 = 2_000;
/// Kills per run.
const KILLS: usize = 4;
/// Publishes the child keeps in flight (waiting to be accepted).
const WINDOW: usize = 64;
/// The longest a whole run may take (a bound, not a timing: alone a run takes 1–7 s, beside
/// the other crash tests on a loaded two-core machine up to 40 s, fsyncs included).
const RUN_DEADLINE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------------------------
// The tests (the parent side).

#[test]
fn a_killed_qos1_publisher_loses_nothing_it_accepted() {
    publisher_run(QoS::AtLeastOnce, "every");
}

#[test]
fn a_killed_qos2_publisher_loses_nothing_and_duplicates_nothing() {
    publisher_run(QoS::ExactlyOnce, "batched");
}

#[test]
fn a_killed_manual_ack_subscriber_loses_nothing() {
    subscriber_run();
}

/// More messages than the event channel holds are resumed by a client whose application
/// reads no events: their completions are their handles' (`Client::resumed`), not events, so
/// nothing fills the bounded channel and every one completes, and so does a new publish.
#[test]
fn a_restarted_client_that_reads_no_events_completes_a_resumed_backlog() {
    const BACKLOG: usize = wasmqtt_tokio::EVENT_CAPACITY * 3;
    let dir = temp_dir("backlog");
    let broker = broker();
    let topic = format!("crash/{}/backlog", std::process::id());
    let rt = runtime();
    rt.block_on(async {
        // First run: no broker to reach, every message stays in the store.
        let opts = options("backlog-publisher").first_connect(FirstConnect::Retry);
        let (client, events) = Client::builder(opts)
            .broker(&format!("127.0.0.1:{}", mosquitto::free_port()))
            .unwrap()
            .durable(dir.join("store"), SyncPolicy::EveryMessage)
            .start()
            .unwrap();
        for n in 0..BACKLOG {
            let msg = Message::new(topic.as_str(), n.to_string()).qos(QoS::AtLeastOnce);
            drop(client.publish(msg).await.expect("admitted"));
        }
        client.abort();
        drop(events);
        // Restarted against the broker; `events` is kept and never read.
        let (client, _events) = Client::builder(options("backlog-publisher"))
            .broker(&format!("127.0.0.1:{}", broker.port()))
            .unwrap()
            .durable(dir.join("store"), SyncPolicy::EveryMessage)
            .connect()
            .await
            .expect("the restarted client connects");
        let resumed = client.resumed();
        assert_eq!(resumed.len(), BACKLOG, "every stored message is resumed");
        assert!(client.resumed().is_empty(), "resumed() hands them out once");
        let payloads: Vec<String> = resumed
            .iter()
            .map(|r| String::from_utf8(r.message.payload.to_vec()).unwrap())
            .collect();
        let expected: Vec<String> = (0..BACKLOG).map(|n| n.to_string()).collect();
        assert_eq!(payloads, expected, "in the order they were published");
        let all = async {
            for r in resumed {
                r.handle.await.expect("a resumed message completes");
            }
            let live = Message::new(topic.as_str(), "live").qos(QoS::AtLeastOnce);
            client.publish(live).await.expect("admitted").await
        };
        let done = tokio::time::timeout(RUN_DEADLINE, all).await;
        assert!(
            matches!(done, Ok(Ok(_))),
            "the backlog and a new publish complete although no event is read: {done:?}"
        );
        client.disconnect().await;
    });
    let _ = std::fs::remove_dir_all(&dir);
}

/// A subscriber in this process (persistent session), counting what it receives per sequence
/// number.
struct Counter {
    counts: Arc<Mutex<Vec<u32>>>,
    /// How many sequence numbers have not arrived yet.
    missing: watch::Receiver<usize>,
    client: Client,
}

impl Counter {
    async fn start(port: u16, topic: &str, qos: QoS, total: u32) -> Counter {
        let opts = options(&format!("counter-{}", std::process::id()));
        let (client, mut events) = Client::connect(&format!("127.0.0.1:{port}"), opts)
            .await
            .expect("the counting subscriber connects");
        client
            .subscribe([topic], SubscriptionOptions::qos(qos))
            .await
            .expect("subscribe");
        let counts = Arc::new(Mutex::new(vec![0u32; total as usize]));
        let c = Arc::clone(&counts);
        let (missing_tx, missing) = watch::channel(total as usize);
        tokio::spawn(async move {
            let mut left = total as usize;
            while let Some(e) = events.recv().await {
                if let Event::Message(m) = e {
                    let seq: usize = std::str::from_utf8(&m.message.payload)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .expect("a sequence number");
                    let mut counts = c.lock().unwrap();
                    counts[seq] += 1;
                    if counts[seq] == 1 {
                        left -= 1;
                        let _ = missing_tx.send(left);
                    }
                }
            }
        });
        Counter {
            counts,
            missing,
            client,
        }
    }
}

fn options(id: &str) -> Options {
    Options::new(id)
        .version(ProtocolVersion::V5)
        .keep_alive(30)
        .connect_timeout_ms(5_000)
        .clean_start(false)
        .session_expiry_interval(600)
        .max_queued_messages(MESSAGES as usize + 100)
        .reconnect(ReconnectPolicy {
            enabled: true,
            initial_delay_ms: 50,
            max_delay_ms: 500,
            multiplier: 2,
            jitter_percent: 20,
        })
}

/// Reads a child's reports until `step` says stop (`Some(true)`), the child ends (`Some(false)`)
/// or the run's time is up (`None`).
fn read_until(
    out: &mut ChildOut,
    step: impl FnMut(&str, u32) -> bool,
    started: Instant,
) -> Option<bool> {
    out.read_until(step, started + RUN_DEADLINE)
}

fn temp_dir(name: &str) -> PathBuf {
    crash::temp_dir("wasmqtt-crash", name)
}

fn publisher_run(qos: QoS, policy: &str) {
    let name = format!("pub-q{}", qos as u8);
    let seed = seed(&name);
    let points = kill_points(seed, MESSAGES, KILLS);
    println!("{name}: kills after {points:?} accepted messages");
    let broker = broker();
    let dir = temp_dir(&name);
    let topic = format!("crash/{}/{name}", std::process::id());
    let rt = runtime();
    let counter = rt.block_on(Counter::start(broker.port(), &topic, qos, MESSAGES));
    let env = vec![
        ("CRASH_CHILD", "publisher".to_string()),
        ("CRASH_PORT", broker.port().to_string()),
        ("CRASH_DIR", dir.display().to_string()),
        ("CRASH_QOS", (qos as u8).to_string()),
        ("CRASH_TOTAL", MESSAGES.to_string()),
        ("CRASH_TOPIC", topic.clone()),
        ("CRASH_POLICY", policy.to_string()),
    ];
    let started = Instant::now();
    let mut accepted = BTreeSet::new();
    // Started and not seen accepted when a run was killed.
    let mut unconfirmed = BTreeSet::new();
    // When each run was killed (and the last one finished): the report's timeline.
    let mut runs = Vec::new();
    // Resumed from the store by a restarted run: in flight (possibly sent) at a kill.
    let mut resumed = BTreeSet::new();
    let mut on = |kind: &str,
                  n: u32,
                  started_here: &mut BTreeSet<u32>,
                  accepted_here: &mut BTreeSet<u32>| match kind {
        "P" => {
            started_here.insert(n);
        }
        "A" => {
            accepted_here.insert(n);
        }
        "R" => {
            resumed.insert(n);
            accepted_here.insert(n);
        }
        _ => {}
    };
    for &point in &points {
        let (mut child, mut out) = spawn_child(&env);
        let mut started_here = BTreeSet::new();
        let mut accepted_here = BTreeSet::new();
        let before = accepted.len();
        let reached = read_until(
            &mut out,
            |kind, n| {
                on(kind, n, &mut started_here, &mut accepted_here);
                before + accepted_here.len() >= point as usize
            },
            started,
        );
        let reached = reached.expect("the run took too long");
        assert!(reached, "the publisher ended before the kill point {point}");
        kill(&mut child, &mut out, |k, n| {
            on(k, n, &mut started_here, &mut accepted_here)
        });
        unconfirmed.extend(started_here.difference(&accepted_here).copied());
        runs.push(started.elapsed());
        accepted.extend(accepted_here);
    }
    // The last run goes to the end.
    let (mut child, mut out) = spawn_child(&env);
    let (mut started_here, mut accepted_here) = (BTreeSet::new(), BTreeSet::new());
    let finished = read_until(
        &mut out,
        |kind, n| {
            on(kind, n, &mut started_here, &mut accepted_here);
            kind == "DONE"
        },
        started,
    );
    accepted.extend(accepted_here);
    runs.push(started.elapsed());
    let finished = finished.expect("the run took too long");
    assert!(finished, "the last publisher run did not finish");
    assert_eq!(
        accepted.len(),
        MESSAGES as usize,
        "every message accepted once"
    );
    // Every accepted message reaches the subscriber.
    let mut missing = counter.missing.clone();
    let left = RUN_DEADLINE.saturating_sub(started.elapsed());
    let _ = rt.block_on(async { tokio::time::timeout(left, missing.wait_for(|&m| m == 0)).await });
    drop(child.stdin.take());
    let _ = child.wait();
    let counts = counter.counts.lock().unwrap().clone();
    let missing: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] == 0).collect();
    assert!(
        missing.is_empty(),
        "seed {seed}: {} accepted messages never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    // Unconfirmed and not resumed: not in the store at the kill, or stored and completed in
    // the microseconds between its admission and the child's bookkeeping (the application's
    // window, not the client's). The child published it again.
    let window: BTreeSet<u32> = unconfirmed.difference(&resumed).copied().collect();
    let twice: Vec<u32> = (0..MESSAGES).filter(|&i| counts[i as usize] > 1).collect();
    let in_window = twice.iter().filter(|n| window.contains(n)).count();
    println!(
        "{name}: {} messages, {} kills, {} resumed, {} republished after a kill, {} received \
         more than once ({} of them republished), {:?} (runs ended at {runs:.1?})",
        MESSAGES,
        points.len(),
        resumed.len(),
        window.len(),
        twice.len(),
        in_window,
        started.elapsed()
    );
    if qos == QoS::ExactlyOnce {
        // The child publishes again only what is neither accepted nor resumed: nothing may
        // come twice because of the client.
        let ours: Vec<u32> = twice
            .iter()
            .copied()
            .filter(|n| !window.contains(n))
            .collect();
        assert!(
            ours.is_empty(),
            "seed {seed}: QoS 2 messages received twice that the child published once: {ours:?}"
        );
        assert!(
            twice.iter().all(|&n| counts[n as usize] == 2),
            "seed {seed}: a QoS 2 message came more than twice"
        );
    } else {
        // QoS 1: a message in flight at a kill may be sent again after the restart
        // (v5 MQTT-4.4.0-1: unacknowledged PUBLISH packets are resent); no other.
        let ours: Vec<u32> = twice
            .iter()
            .copied()
            .filter(|n| !resumed.contains(n) && !window.contains(n))
            .collect();
        assert!(
            ours.is_empty(),
            "seed {seed}: QoS 1 messages received twice that were not in flight at a kill: {ours:?}"
        );
    }
    rt.block_on(counter.client.disconnect());
    let _ = std::fs::remove_dir_all(&dir);
}

fn subscriber_run() {
    let seed = seed("sub");
    let points = kill_points(seed, SUB_MESSAGES, KILLS);
    println!("sub: kills after {points:?} processed messages");
    let broker = broker();
    // The subscriber goes through a recording proxy: the wire says what it may deliver.
    let proxy = Proxy::start(broker.addr());
    let dir = temp_dir("sub");
    let topic = format!("crash/{}/sub", std::process::id());
    let rt = runtime();
    let env = vec![
        ("CRASH_CHILD", "subscriber".to_string()),
        ("CRASH_PORT", proxy.addr().port().to_string()),
        ("CRASH_DIR", dir.display().to_string()),
        ("CRASH_TOPIC", topic.clone()),
    ];
    let started = Instant::now();
    // The first run subscribes; then everything is published (the broker queues it).
    let (mut child, mut out) = spawn_child(&env);
    let mut processed: Vec<u32> = Vec::new();
    assert!(
        read_until(
            &mut out,
            |k, n| match k {
                "READY" => true,
                "G" => {
                    processed.push(n);
                    false
                }
                _ => false,
            },
            started
        ) == Some(true),
        "the subscriber did not get ready"
    );
    let port = broker.port();
    let publish_topic = topic.clone();
    let publisher = rt.spawn(async move {
        let (client, _events) = Client::connect(
            &format!("127.0.0.1:{port}"),
            options(&format!("sub-feeder-{}", std::process::id())),
        )
        .await
        .expect("the feeder connects");
        let mut handles = Vec::new();
        for i in 0..SUB_MESSAGES {
            let msg = Message::new(publish_topic.as_str(), i.to_string()).qos(QoS::ExactlyOnce);
            handles.push(client.publish(msg).await.expect("publish"));
        }
        for h in handles {
            h.await.expect("the broker took it");
        }
        client
    });
    let mut kills = 0;
    for &point in &points {
        let reached = read_until(
            &mut out,
            |k, n| {
                if k == "G" {
                    processed.push(n)
                }
                processed.len() >= point as usize
            },
            started,
        );
        let Some(reached) = reached else {
            stalled(
                &proxy,
                &processed,
                &format!("before the kill point {point}"),
            );
        };
        assert!(
            reached,
            "the subscriber ended before the kill point {point}"
        );
        kill(&mut child, &mut out, |k, n| {
            if k == "G" {
                processed.push(n)
            }
        });
        kills += 1;
        (child, out) = spawn_child(&env);
    }
    let all =
        |p: &Vec<u32>| p.iter().copied().collect::<BTreeSet<u32>>().len() == SUB_MESSAGES as usize;
    let complete = all(&processed)
        || read_until(
            &mut out,
            |k, n| {
                if k == "G" {
                    processed.push(n)
                }
                all(&processed)
            },
            started,
        )
        .unwrap_or_else(|| stalled(&proxy, &processed, "after the last restart"));
    drop(child.stdin.take());
    let _ = child.wait();
    let feeder = rt.block_on(publisher).expect("the feeder ran");
    rt.block_on(feeder.disconnect());
    let mut counts = vec![0u32; SUB_MESSAGES as usize];
    for &n in &processed {
        counts[n as usize] += 1;
    }
    let missing = counts.iter().filter(|&&c| c == 0).count();
    assert!(
        complete && missing == 0,
        "seed {seed}: {missing} messages never processed"
    );
    let wire = judge_wire(&proxy.recording(), SUB_MESSAGES as usize);
    let twice = counts.iter().filter(|&&c| c > 1).count();
    println!(
        "sub: {SUB_MESSAGES} QoS 2 messages, {kills} kills, {} connections, {twice} processed \
         twice: {} redeliveries of messages the client had not acknowledged (PUBREC) before a \
         kill, {} broker resends of released messages, {} resends the client rightly \
         dropped (awaiting PUBREL), at most {} unacknowledged at once, {:?}",
        proxy.connections(),
        wire.unacked_redeliveries,
        wire.released_resends,
        wire.guarded,
        wire.max_unacked,
        started.elapsed()
    );
    // v5 MQTT-4.3.3-10: once the client sent PUBREC for a packet id it must not deliver a
    // PUBLISH with that id again until the PUBREL (its PUBCOMP: v5 MQTT-4.3.3-12, after it a
    // PUBLISH with that id is a new message). Everything else the broker sent may be
    // delivered: each fresh delivery once.
    let ours: Vec<(usize, u32, u32)> = counts
        .iter()
        .enumerate()
        .filter(|&(n, &c)| c > wire.fresh[n])
        .map(|(n, &c)| (n, c, wire.fresh[n]))
        .collect();
    assert!(
        ours.is_empty(),
        "seed {seed}: (message, times processed, fresh deliveries on the wire) where the client \
         delivered a PUBLISH for a packet id it had acknowledged and not released: {ours:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The subscriber run took too long: what the wire says about the messages not processed.
fn stalled(proxy: &Proxy, processed: &[u32], when: &str) -> ! {
    let done: BTreeSet<u32> = processed.iter().copied().collect();
    let wire = judge_wire(&proxy.recording(), SUB_MESSAGES as usize);
    let missing: Vec<u32> = (0..SUB_MESSAGES).filter(|n| !done.contains(n)).collect();
    for &n in missing.iter().take(5) {
        eprintln!("message {n}: {:?}", wire.tape[n as usize]);
    }
    for &n in processed.iter().rev().take(5) {
        eprintln!("processed {n}: {:?}", wire.tape[n as usize]);
    }
    eprintln!("PUBRECs per connection: {:?}", wire.pubrecs);
    eprintln!("the last connection: {}", wire.last);
    panic!(
        "the subscriber run took too long ({when}): {} processed, {} messages never, e.g. {:?}",
        processed.len(),
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

/// What the wire between the subscriber and the broker allows it to deliver.
struct Wire {
    /// Per sequence number: the QoS 2 PUBLISHes the broker sent it in for a packet id the
    /// client was not bound to deduplicate (it had not sent PUBREC for that id, or had sent
    /// PUBCOMP since), each sent once on its connection. The client may deliver each once.
    fresh: Vec<u32>,
    /// Fresh deliveries of a message delivered before but never acknowledged (PUBREC) then.
    unacked_redeliveries: usize,
    /// Fresh deliveries of a message the client had acknowledged and released before.
    released_resends: usize,
    /// PUBLISHes for an id awaiting PUBREL: the client must not deliver them.
    guarded: usize,
    /// The most QoS 2 PUBLISHes the broker had sent on one connection without their PUBREC.
    max_unacked: usize,
    /// Per sequence number, what passed for it (diagnostics).
    tape: Vec<Vec<String>>,
    /// The state of the last connection at the end of the recording (diagnostics).
    last: String,
    /// PUBRECs the client sent, per connection (diagnostics).
    pubrecs: BTreeMap<usize, usize>,
}

/// Reads the proxy's recording in order (a packet counts once the chunk completing it
/// passed; bytes of a connection cut mid-packet never form one) and follows, per packet
/// identifier, whether the client owes deduplication: from its PUBREC to its PUBCOMP, across
/// its connections (the client's durable store keeps it across a crash) unless a CONNACK says
/// the broker has no session.
fn judge_wire(chunks: &[Chunk], total: usize) -> Wire {
    let decoder = wasmqtt::codec::Decoder::new(ProtocolVersion::V5);
    let mut buffers: std::collections::HashMap<(usize, bool), Vec<u8>> = Default::default();
    let mut awaiting_pubrel = BTreeSet::new();
    let mut unacked_here: std::collections::HashMap<usize, BTreeSet<u16>> = Default::default();
    let mut payload_of = std::collections::HashMap::new();
    let mut delivered = BTreeSet::new();
    let mut acked = BTreeSet::new();
    let mut wire = Wire {
        fresh: vec![0; total],
        unacked_redeliveries: 0,
        released_resends: 0,
        guarded: 0,
        max_unacked: 0,
        tape: vec![Vec::new(); total],
        last: String::new(),
        pubrecs: BTreeMap::new(),
    };
    let mut pubrel_open: std::collections::HashMap<usize, BTreeSet<u16>> = Default::default();
    for chunk in chunks {
        let to_client = chunk.dir == Direction::ToClient;
        let buf = buffers.entry((chunk.conn, to_client)).or_default();
        buf.extend_from_slice(&chunk.bytes);
        let mut at = 0;
        while let Ok(Some((packet, used))) = decoder.decode(&buf[at..]) {
            at += used;
            let here = unacked_here.entry(chunk.conn).or_default();
            match packet {
                Packet::ConnAck(c) if to_client && !c.session_present => awaiting_pubrel.clear(),
                Packet::Publish(p) if to_client && p.qos == QoS::ExactlyOnce => {
                    let n: usize = std::str::from_utf8(p.payload)
                        .ok()
                        .and_then(|s| s.parse().ok())
                        .filter(|&n| n < total)
                        .expect("a sequence number");
                    payload_of.insert(p.packet_id, n);
                    wire.tape[n].push(format!(
                        "c{} PUBLISH {} dup {}",
                        chunk.conn, p.packet_id, p.dup
                    ));
                    if awaiting_pubrel.contains(&p.packet_id) {
                        wire.guarded += 1;
                    } else if here.insert(p.packet_id) {
                        wire.max_unacked = wire.max_unacked.max(here.len());
                        wire.fresh[n] += 1;
                        if acked.contains(&n) {
                            wire.released_resends += 1;
                        } else if !delivered.insert(n) {
                            wire.unacked_redeliveries += 1;
                        }
                    }
                }
                Packet::PubRec(r) if !to_client => {
                    *wire.pubrecs.entry(chunk.conn).or_default() += 1;
                    if let Some(&n) = payload_of.get(&r.packet_id) {
                        wire.tape[n].push(format!("c{} PUBREC {}", chunk.conn, r.packet_id));
                    }
                    here.remove(&r.packet_id);
                    awaiting_pubrel.insert(r.packet_id);
                    if let Some(&n) = payload_of.get(&r.packet_id) {
                        acked.insert(n);
                    }
                }
                Packet::PubComp(r) if !to_client => {
                    if let Some(&n) = payload_of.get(&r.packet_id) {
                        wire.tape[n].push(format!("c{} PUBCOMP {}", chunk.conn, r.packet_id));
                    }
                    pubrel_open
                        .entry(chunk.conn)
                        .or_default()
                        .remove(&r.packet_id);
                    awaiting_pubrel.remove(&r.packet_id);
                }
                Packet::PubRel(r) if to_client => {
                    if let Some(&n) = payload_of.get(&r.packet_id) {
                        wire.tape[n].push(format!("c{} PUBREL {}", chunk.conn, r.packet_id));
                    }
                    pubrel_open
                        .entry(chunk.conn)
                        .or_default()
                        .insert(r.packet_id);
                }
                _ => {}
            }
        }
        buf.drain(..at);
    }
    if let Some(conn) = chunks.last().map(|c| c.conn) {
        let unacked = unacked_here.get(&conn).cloned().unwrap_or_default();
        let open = pubrel_open.get(&conn).cloned().unwrap_or_default();
        wire.last = format!(
            "connection {conn}: {} PUBLISH without PUBREC (e.g. {:?}), {} PUBREL without \
             PUBCOMP (e.g. {:?}), {} awaiting PUBREL",
            unacked.len(),
            unacked.iter().take(5).collect::<Vec<_>>(),
            open.len(),
            open.iter().take(5).collect::<Vec<_>>(),
            awaiting_pubrel.len()
        );
    }
    wire
}

/// A mosquitto whose small writes (PUBACK after PUBACK) are not held back by Nagle's
/// algorithm waiting for the client's delayed ACK (40 ms a round with a deep backlog).
fn broker() -> Mosquitto {
    Mosquitto::start_with(mosquitto::Options {
        extra_config: "set_tcp_nodelay true\n".to_string(),
        ..mosquitto::Options::default()
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// The child side.

/// The child process (only with `CRASH_CHILD`; otherwise nothing to do).
#[test]
fn child_process() {
    let Ok(role) = std::env::var("CRASH_CHILD") else {
        return;
    };
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} not set"));
    let dir = PathBuf::from(env("CRASH_DIR"));
    let port: u16 = env("CRASH_PORT").parse().unwrap();
    let topic = env("CRASH_TOPIC");
    let rt = runtime();
    match role.as_str() {
        "publisher" => {
            let qos = match env("CRASH_QOS").as_str() {
                "1" => QoS::AtLeastOnce,
                _ => QoS::ExactlyOnce,
            };
            let policy = match env("CRASH_POLICY").as_str() {
                "every" => SyncPolicy::EveryMessage,
                _ => SyncPolicy::Batched {
                    max_messages: 256,
                    max_delay_ms: 20,
                },
            };
            let total: u32 = env("CRASH_TOTAL").parse().unwrap();
            rt.block_on(child_publisher(&dir, port, &topic, qos, policy, total));
        }
        "subscriber" => rt.block_on(child_subscriber(&dir, port, &topic)),
        other => panic!("unknown child role {other}"),
    }
}

/// Waits until the parent closes stdin.
async fn wait_for_parent() {
    tokio::task::spawn_blocking(|| {
        let mut s = String::new();
        while std::io::stdin().read_line(&mut s).unwrap_or(0) > 0 {}
    })
    .await
    .unwrap();
}

async fn child_publisher(
    dir: &Path,
    port: u16,
    topic: &str,
    qos: QoS,
    policy: SyncPolicy,
    total: u32,
) {
    let book_path = dir.join("accepted.txt");
    let accepted = read_book(&book_path);
    let book = Arc::new(Mutex::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&book_path)
            .unwrap(),
    ));
    let opts = options("crash-publisher");
    let (client, mut events) = Client::builder(opts)
        .broker(&format!("127.0.0.1:{port}"))
        .unwrap()
        .durable(dir.join("store"), policy)
        .connect()
        .await
        .expect("the publisher connects");
    // Events are drained, but nothing depends on it: the resumed messages' completions are
    // their handles, not events.
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    // What an earlier, killed run had accepted (possibly without having seen it accepted):
    // the client sends it; publishing it again would send it twice.
    let mut handles = Vec::new();
    let mut resumed = BTreeSet::new();
    for r in client.resumed() {
        let n: u32 = std::str::from_utf8(&r.message.payload)
            .unwrap()
            .parse()
            .unwrap();
        resumed.insert(n);
        if !accepted.contains(&n) {
            append(&mut book.lock().unwrap(), n);
        }
        say(format_args!("R {n}"));
        handles.push(r.handle);
    }
    let mut todo = (0..total).filter(|n| !accepted.contains(n) && !resumed.contains(n));
    let mut running = tokio::task::JoinSet::new();
    loop {
        while running.len() < WINDOW {
            let Some(n) = todo.next() else { break };
            say(format_args!("P {n}"));
            let client = client.clone();
            let book = Arc::clone(&book);
            let msg = Message::new(topic, n.to_string()).qos(qos);
            running.spawn(async move {
                let handle = client
                    .publish(msg)
                    .await
                    .unwrap_or_else(|e| panic!("publish {n}: {e}"));
                // At once: the window in which it is admitted (and could even complete) but
                // not in the book is as short as it can be.
                append(&mut book.lock().unwrap(), n);
                say(format_args!("A {n}"));
                (n, handle)
            });
        }
        let Some(joined) = running.join_next().await else {
            break;
        };
        handles.push(joined.unwrap().1);
    }
    for h in handles {
        h.await.expect("completed");
    }
    say(format_args!("DONE"));
    wait_for_parent().await;
    client.disconnect().await;
}

async fn child_subscriber(dir: &Path, port: u16, topic: &str) {
    let book_path = dir.join("processed.txt");
    let mut book = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&book_path)
        .unwrap();
    let opts = options("crash-subscriber");
    let (client, mut events) = Client::builder(opts)
        .broker(&format!("127.0.0.1:{port}"))
        .unwrap()
        .durable(dir.join("store"), SyncPolicy::EveryMessage)
        .manual_acks(true)
        .connect()
        .await
        .expect("the subscriber connects");
    // Subscribing while events are read: a restarted run gets the broker's backlog at once
    // (hundreds of messages), and while the event channel is full the client reads nothing
    // more, the SUBACK behind them included: awaiting it before reading events would wait
    // for ever.
    let mut subscribing = {
        let client = client.clone();
        let topic = topic.to_string();
        Some(tokio::spawn(async move {
            client
                .subscribe([topic.as_str()], SubscriptionOptions::qos(QoS::ExactlyOnce))
                .await
        }))
    };
    let mut parent = tokio::spawn(wait_for_parent());
    loop {
        tokio::select! {
            r = async { subscribing.as_mut().unwrap().await }, if subscribing.is_some() => {
                r.unwrap().expect("subscribe");
                subscribing = None;
                say(format_args!("READY"));
            }
            e = events.recv() => match e {
                Some(Event::Message(m)) => {
                    let n: u32 = std::str::from_utf8(&m.message.payload).unwrap().parse().unwrap();
                    // Processing: the bookkeeping, then the report, then the acknowledgement.
                    append(&mut book, n);
                    say(format_args!("G {n}"));
                    if let Err(e) = client.ack(&m) {
                        // The connection ended first: the broker sends it again.
                        assert_eq!(e.code(), "ACK_CONNECTION_LOST", "{e}");
                    }
                }
                Some(_) => {}
                None => break,
            },
            _ = &mut parent => break,
        }
    }
    client.disconnect().await;
}
