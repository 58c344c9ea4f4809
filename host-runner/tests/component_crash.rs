//! Crash tests of durable state in the provider component, with real host processes killed by
//! SIGKILL, against a real mosquitto (persistent sessions): the component's store is a
//! `FileStore` in a directory the host grants read-write (`NetworkPolicy::with_store_dir`,
//! what `wasmqtt-host run --store DIR` does).
//!
//! - a publisher (the provider in wasmtime, `connect-options.store` set) sends 10 000 QoS 1
//!   messages (and, separately, 10 000 QoS 2 messages), is killed at several seeded random
//!   points and restarted on the same store each time; a subscriber in this process receives
//!   every message the publisher saw admitted (`publish` returned `Ok`), and at QoS 2 none
//!   twice;
//! - a subscriber component with a store and manual acknowledgement, killed mid-stream several
//!   times, processes every message (the ones not acknowledged before a kill come again), and
//!   none twice except the few it processed last before a kill (within the broker's inflight
//!   window: processed, their acknowledgement not yet stored and written);
//! - the typed errors: a store directory that cannot be made, a corrupt store, a store outside
//!   the grant, an unknown acknowledgement id.
//!
//! The child processes are this test binary run again with `CRASH_CHILD` set (the
//! `child_process` test is then the child; without it, it does nothing): the host library
//! driving the provider, as an embedding application does. A child reports on stdout (`P n`:
//! about to publish n; `A n`: n admitted; `R n`: n resumed from the store; `G n`: n processed;
//! `READY`; `DONE`) and keeps its own bookkeeping in its directory (the admitted or processed
//! sequence numbers), from which it continues after a restart. Kill points count those reports:
//! no sleep synchronises anything. The seed is printed (`CRASH_SEED=n` replays it).
//!
//! **Why no QoS 2 message may come twice.** A publish the child started but did not see
//! admitted when it was killed is *in doubt*: its record may be in the store or not. The
//! restarted child asks the component which messages it resumed (`client.resumed`): those are
//! in the store and will be sent, so it does not publish them again; the others were never
//! stored, hence never sent (the session holds a PUBLISH back until its record is stored), so
//! publishing them again is their first time. Any QoS 2 duplicate is then the client's fault.
//! (A QoS 1 message may come twice: a resend after the restart of one the broker had already
//! received is what QoS 1 is.)

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use wasmqtt::codec::{ProtocolVersion as CoreVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Message as CoreMessage, Options, ReconnectPolicy};
use wasmqtt_host::types::{self, ProtocolVersion, Qos};
use wasmqtt_host::{Artifact, Client, NetworkPolicy, Provider, Runtime};
use wasmqtt_testkit::crash::{
    self, append, kill, kill_points, read_book, say, seed, spawn_child, ChildOut,
};
use wasmqtt_testkit::mosquitto::{self, Mosquitto};

/// Messages per publisher run.
const MESSAGES: u32 = 10_000;
/// Messages of the subscriber run.
const SUB_MESSAGES: u32 = 2_000;
/// Kills per run.
const KILLS: usize = 4;
/// The longest a whole run may take.
const RUN_DEADLINE: Duration = Duration::from_secs(55);
/// Mosquitto's default `max_inflight_messages`: at most this many messages are unacknowledged
/// at the subscriber at once.
const BROKER_INFLIGHT: usize = 20;

// ---------------------------------------------------------------------------------------------
// The tests (the parent side).

#[test]
fn a_killed_qos1_publisher_component_loses_nothing_it_admitted() {
    publisher_run(QoS::AtLeastOnce, "every");
}

#[test]
fn a_killed_qos2_publisher_component_loses_nothing_and_duplicates_nothing() {
    publisher_run(QoS::ExactlyOnce, "batched");
}

#[test]
fn a_killed_manual_ack_subscriber_component_loses_nothing() {
    subscriber_run();
}

/// A subscriber in this process (native driver, persistent session), counting what it
/// receives per sequence number.
struct Counter {
    counts: Arc<Mutex<Vec<u32>>>,
    missing: watch::Receiver<usize>,
    client: wasmqtt_tokio::Client,
}

fn native_options(id: &str) -> Options {
    Options::new(id)
        .version(CoreVersion::V5)
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

impl Counter {
    async fn start(port: u16, topic: &str, qos: QoS, total: u32) -> Counter {
        let opts = native_options(&format!("ccounter-{}", std::process::id()));
        let (client, mut events) =
            wasmqtt_tokio::Client::connect(&format!("127.0.0.1:{port}"), opts)
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

/// The provider component, built (`./scripts/build-components.sh`) before the test.
fn provider_path() -> String {
    Artifact::Provider
        .require()
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

/// Reads a child's reports until `step` says stop (`true`) or the child ends (`false`).
fn read_until(out: &mut ChildOut, step: impl FnMut(&str, u32) -> bool, started: Instant) -> bool {
    out.read_until(step, started + RUN_DEADLINE)
        .expect("the run took too long")
}

fn temp_dir(name: &str) -> PathBuf {
    crash::temp_dir("wasmqtt-component-crash", name)
}

fn publisher_run(qos: QoS, policy: &str) {
    let name = format!("pub-q{}", qos as u8);
    let seed = seed(&name);
    let points = kill_points(seed, MESSAGES, KILLS);
    println!("{name}: kills after {points:?} admitted messages");
    let broker = broker();
    let dir = temp_dir(&name);
    let topic = format!("ccrash/{}/{name}", std::process::id());
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
        ("CRASH_PROVIDER", provider_path()),
    ];
    let started = Instant::now();
    let mut admitted = BTreeSet::new();
    let mut in_doubt = BTreeSet::new();
    let mut resumed_total = 0usize;
    for &point in &points {
        let (mut child, mut out) = spawn_child(&env);
        let mut started_here = BTreeSet::new();
        let mut admitted_here = BTreeSet::new();
        let before = admitted.len();
        let mut new_here = 0usize;
        let mut on = |kind: &str, n: u32| {
            if kind == "P" {
                started_here.insert(n);
            }
            if kind == "R" {
                resumed_total += 1;
                // Resumed: the store holds it, so it is admitted (by an earlier run).
                assert!(
                    admitted.contains(&n) || in_doubt.contains(&n),
                    "seed {seed}: {n} resumed but never published"
                );
            }
            if matches!(kind, "A" | "R") && admitted_here.insert(n) && !admitted.contains(&n) {
                new_here += 1;
            }
            before + new_here >= point as usize
        };
        let reached = read_until(&mut out, &mut on, started);
        assert!(reached, "the publisher ended before the kill point {point}");
        kill(&mut child, &mut out, |k, n| {
            on(k, n);
        });
        in_doubt.extend(started_here.difference(&admitted_here).copied());
        admitted.extend(admitted_here);
    }
    // The last run goes to the end.
    let (mut child, mut out) = spawn_child(&env);
    let finished = read_until(
        &mut out,
        |kind, n| match kind {
            "A" | "R" => {
                admitted.insert(n);
                false
            }
            "DONE" => true,
            _ => false,
        },
        started,
    );
    assert!(finished, "the last publisher run did not finish");
    assert_eq!(admitted.len(), MESSAGES as usize, "every message admitted");
    // Every admitted message reaches the subscriber.
    let mut missing = counter.missing.clone();
    let left = RUN_DEADLINE.saturating_sub(started.elapsed());
    let _ = rt.block_on(async { tokio::time::timeout(left, missing.wait_for(|&m| m == 0)).await });
    drop(child.stdin.take());
    let _ = child.wait();
    let counts = counter.counts.lock().unwrap().clone();
    let missing: Vec<usize> = (0..counts.len()).filter(|&i| counts[i] == 0).collect();
    assert!(
        missing.is_empty(),
        "seed {seed}: {} admitted messages never arrived, e.g. {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let twice: Vec<u32> = (0..MESSAGES).filter(|&i| counts[i as usize] > 1).collect();
    println!(
        "{name}: {MESSAGES} messages, {} kills, {} in doubt, {resumed_total} resumed, {} received more than once, {:?}",
        points.len(),
        in_doubt.len(),
        twice.len(),
        started.elapsed()
    );
    if qos == QoS::ExactlyOnce {
        assert!(
            twice.is_empty(),
            "seed {seed}: QoS 2 messages received twice: {twice:?}"
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
    let dir = temp_dir("sub");
    let topic = format!("ccrash/{}/sub", std::process::id());
    let rt = runtime();
    let env = vec![
        ("CRASH_CHILD", "subscriber".to_string()),
        ("CRASH_PORT", broker.port().to_string()),
        ("CRASH_DIR", dir.display().to_string()),
        ("CRASH_TOPIC", topic.clone()),
        ("CRASH_PROVIDER", provider_path()),
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
        ),
        "the subscriber did not get ready"
    );
    let port = broker.port();
    let publish_topic = topic.clone();
    let publisher = rt.spawn(async move {
        let (client, _events) = wasmqtt_tokio::Client::connect(
            &format!("127.0.0.1:{port}"),
            native_options(&format!("csub-feeder-{}", std::process::id())),
        )
        .await
        .expect("the feeder connects");
        let mut handles = Vec::new();
        for i in 0..SUB_MESSAGES {
            let msg = CoreMessage::new(publish_topic.as_str(), i.to_string()).qos(QoS::ExactlyOnce);
            handles.push(client.publish(msg).await.expect("publish"));
        }
        for h in handles {
            h.await.expect("the broker took it");
        }
        client
    });
    let mut allowed_twice = BTreeSet::new();
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
        // Processed last, possibly not acknowledged (stored) yet: may come again.
        allowed_twice.extend(processed.iter().rev().take(BROKER_INFLIGHT + 1).copied());
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
        );
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
    let twice: Vec<u32> = (0..SUB_MESSAGES)
        .filter(|&i| counts[i as usize] > 1)
        .collect();
    let ours: Vec<u32> = twice
        .iter()
        .copied()
        .filter(|n| !allowed_twice.contains(n))
        .collect();
    println!(
        "sub: {SUB_MESSAGES} QoS 2 messages, {kills} kills, {} processed twice ({} of them acknowledged long before a kill), {:?}",
        twice.len(),
        ours.len(),
        started.elapsed()
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        ours.is_empty(),
        "seed {seed}: messages processed twice that were acknowledged long before a kill: {ours:?}"
    );
}

/// A mosquitto whose small writes are not held back by Nagle's algorithm.
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
// The child side: the provider component in wasmtime, through the host library.

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
    // The compiled component is cached across the children (compiling it each time would take
    // most of the run).
    let runtime = Runtime::with_cache(Runtime::default_cache_dir()).expect("the runtime");
    let provider = Provider::load(&runtime, Path::new(&env("CRASH_PROVIDER"))).expect("load");
    let store = dir.join("store");
    let policy = NetworkPolicy::broker("127.0.0.1", port)
        .unwrap()
        .with_store_dir(&store)
        .expect("the store directory");
    match role.as_str() {
        "publisher" => {
            let qos = match env("CRASH_QOS").as_str() {
                "1" => Qos::AtLeastOnce,
                _ => Qos::ExactlyOnce,
            };
            let sync = match env("CRASH_POLICY").as_str() {
                "every" => types::SyncPolicy::EveryMessage,
                _ => types::SyncPolicy::Batched(types::BatchedSync {
                    max_messages: 256,
                    max_delay_ms: 20,
                }),
            };
            let total: u32 = env("CRASH_TOTAL").parse().unwrap();
            let mut opts = component_options(port, "ccrash-publisher", &store, sync);
            opts.max_queued_messages = Some(total + 100);
            let client = Client::connect(&provider, &policy, &opts).expect("connect");
            child_publisher(client, &dir, &topic, qos, total);
        }
        "subscriber" => {
            let mut opts = component_options(
                port,
                "ccrash-subscriber",
                &store,
                types::SyncPolicy::EveryMessage,
            );
            opts.manual_acks = Some(true);
            let client = Client::connect(&provider, &policy, &opts).expect("connect");
            child_subscriber(client, &dir, &topic);
        }
        other => panic!("unknown child role {other}"),
    }
}

fn component_options(
    port: u16,
    id: &str,
    store: &Path,
    sync: types::SyncPolicy,
) -> types::ConnectOptions {
    let mut o = types::connect_options("127.0.0.1", port, id, ProtocolVersion::V5);
    o.keep_alive_secs = 30;
    o.clean_start = false;
    o.session_expiry_interval = Some(600);
    o.connect_timeout_ms = Some(5_000);
    o.reconnect = Some(types::ReconnectPolicy {
        enabled: true,
        initial_delay_ms: 50,
        max_delay_ms: 500,
        multiplier: 2,
        jitter_percent: 20,
    });
    o.store = Some(types::store_options(store, sync));
    o
}

/// Waits until the parent closes stdin, keeping the client's connection served meanwhile.
fn wait_for_parent(client: &mut Client) {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut s = String::new();
        while std::io::stdin().read_line(&mut s).unwrap_or(0) > 0 {}
        let _ = tx.send(());
    });
    while rx.try_recv().is_err() {
        let _ = client.poll_event(Duration::from_millis(50));
    }
}

fn seq_of(m: &types::Message) -> u32 {
    std::str::from_utf8(&m.payload)
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("a sequence number")
}

fn child_publisher(mut client: Client, dir: &Path, topic: &str, qos: Qos, total: u32) {
    let book_path = dir.join("admitted.txt");
    let mut done = read_book(&book_path);
    let mut book = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&book_path)
        .unwrap();
    // What the store held: admitted by an earlier run (perhaps one killed before it saw it
    // admitted), sent by the component from now on. Not published again.
    let mut outstanding = BTreeSet::new();
    for (id, m) in client.resumed().expect("resumed") {
        let n = seq_of(&m);
        if done.insert(n) {
            append(&mut book, n);
        }
        outstanding.insert(id);
        say(format_args!("R {n}"));
    }
    let serve = |client: &mut Client, outstanding: &mut BTreeSet<u64>, wait: Duration| {
        while let Some(e) = client.poll_event(wait).expect("poll") {
            if let types::Event::PublishComplete((id, delivery)) = e {
                assert!(
                    matches!(delivery, types::Delivery::Acknowledged(_)),
                    "{delivery:?}"
                );
                outstanding.remove(&id);
            }
            if !wait.is_zero() {
                break;
            }
        }
    };
    for n in (0..total).filter(|n| !done.contains(n)) {
        let msg = types::message(topic, n.to_string().as_bytes(), qos, false);
        say(format_args!("P {n}"));
        let id = loop {
            match client.publish(&msg) {
                Ok(id) => break id,
                Err(e) if e.code() == "QUEUE_FULL" => {
                    serve(&mut client, &mut outstanding, Duration::from_millis(100))
                }
                Err(e) => panic!("publish {n}: {e}"),
            }
        };
        append(&mut book, n);
        say(format_args!("A {n}"));
        outstanding.insert(id);
        serve(&mut client, &mut outstanding, Duration::ZERO);
    }
    while !outstanding.is_empty() {
        serve(&mut client, &mut outstanding, Duration::from_millis(200));
    }
    say(format_args!("DONE"));
    wait_for_parent(&mut client);
    let _ = client.disconnect();
}

fn child_subscriber(mut client: Client, dir: &Path, topic: &str) {
    let book_path = dir.join("processed.txt");
    let mut book = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&book_path)
        .unwrap();
    let rid = client
        .subscribe(&[types::subscription(topic, Qos::ExactlyOnce)], None)
        .expect("subscribe");
    loop {
        match client.poll_event(Duration::from_secs(5)).expect("poll") {
            Some(types::Event::Subscribed((id, _))) if id == rid => break,
            Some(types::Event::Message(m)) => process(&mut client, &mut book, &m),
            Some(_) => {}
            None => panic!("no SUBACK"),
        }
    }
    say(format_args!("READY"));
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut s = String::new();
        while std::io::stdin().read_line(&mut s).unwrap_or(0) > 0 {}
        let _ = tx.send(());
    });
    while rx.try_recv().is_err() {
        if let Some(types::Event::Message(m)) =
            client.poll_event(Duration::from_millis(50)).expect("poll")
        {
            process(&mut client, &mut book, &m);
        }
    }
    let _ = client.disconnect();
}

/// Processing: the bookkeeping, then the report, then the acknowledgement.
fn process(client: &mut Client, book: &mut std::fs::File, m: &types::Message) {
    let n = seq_of(m);
    append(book, n);
    say(format_args!("G {n}"));
    let id = m
        .ack_id
        .expect("a QoS 2 message with manual acks has an ack id");
    if let Err(e) = client.ack(id) {
        // The connection ended first: the broker sends it again.
        assert_eq!(e.code(), "ACK_CONNECTION_LOST", "{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Typed errors of the store and of manual acknowledgement.

#[test]
fn a_store_directory_that_cannot_be_made_is_a_typed_error() {
    let dir = temp_dir("baddir");
    let file = dir.join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let e = NetworkPolicy::deny_all()
        .with_store_dir(file.join("store"))
        .unwrap_err();
    assert_eq!(e.code(), "STORE_IO", "{e}");
    assert_eq!(e.what, "create", "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_corrupt_or_ungranted_store_fails_connect_with_its_code() {
    let broker = broker();
    let runtime = Runtime::with_cache(Runtime::default_cache_dir()).expect("the runtime");
    let provider = Provider::load(&runtime, Path::new(&provider_path())).expect("load");
    let dir = temp_dir("corrupt");
    let store = dir.join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join("wasmqtt.log"), b"definitely not a wasmqtt log").unwrap();
    let policy = NetworkPolicy::broker("127.0.0.1", broker.port()).unwrap();
    let opts = component_options(
        broker.port(),
        "cstore-corrupt",
        &store,
        types::SyncPolicy::EveryMessage,
    );
    let granted = policy.clone().with_store_dir(&store).unwrap();
    let e = Client::connect(&provider, &granted, &opts).unwrap_err();
    assert_eq!(e.code(), "STORE_NOT_A_LOG", "{e}");
    // Not granted: the component cannot reach the directory at all.
    let other = dir.join("elsewhere");
    let opts = component_options(
        broker.port(),
        "cstore-ungranted",
        &other,
        types::SyncPolicy::EveryMessage,
    );
    let e = Client::connect(&provider, &policy, &opts).unwrap_err();
    assert_eq!(e.code(), "STORE_IO", "{e}");
    assert!(!other.exists(), "nothing was made outside the grant");
    // Batched with a bound of 0 messages is refused.
    let fresh = dir.join("fresh");
    let zero = types::SyncPolicy::Batched(types::BatchedSync {
        max_messages: 0,
        max_delay_ms: 10,
    });
    let opts = component_options(broker.port(), "cstore-zero", &fresh, zero);
    let policy = policy.with_store_dir(&fresh).unwrap();
    let e = Client::connect(&provider, &policy, &opts).unwrap_err();
    assert!(
        matches!(e.mqtt(), Some(types::Error::InvalidArgument(_))),
        "{e}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unknown_ack_id_is_a_typed_error() {
    let broker = broker();
    let runtime = Runtime::with_cache(Runtime::default_cache_dir()).expect("the runtime");
    let provider = Provider::load(&runtime, Path::new(&provider_path())).expect("load");
    let policy = NetworkPolicy::broker("127.0.0.1", broker.port()).unwrap();
    let mut opts = types::connect_options("127.0.0.1", broker.port(), "cack", ProtocolVersion::V5);
    opts.manual_acks = Some(true);
    let mut client = Client::connect(&provider, &policy, &opts).expect("connect");
    let e = client.ack(12345).unwrap_err();
    assert!(
        matches!(e.mqtt(), Some(types::Error::Ack(types::AckError::Unknown))),
        "{e}"
    );
    assert_eq!(e.code(), "ACK_UNKNOWN");
    assert!(
        client.resumed().unwrap().is_empty(),
        "no store, nothing resumed"
    );
    client.disconnect().unwrap();
}
