//! CPU per message of each client, measured apart: wasmqtt's native driver (`wasmqtt_tokio`)
//! against rumqttc (`AsyncClient` + `EventLoop`), through the same mosquitto, in the same run.
//!
//! For each library, QoS 0 and QoS 1 (inflight window 100, subscriber at the same QoS) and each
//! round, a publisher and a subscriber of that library each run on a thread of their own with a
//! single-threaded tokio runtime of their own, so every bit of a client's work (its driver or
//! event loop, its socket I/O, its codec) runs on its thread, and nothing else does. Each thread
//! reads its own CPU time (`CLOCK_THREAD_CPUTIME_ID`: user + system) from the moment both are
//! connected and subscribed until the subscriber has every message (and, at QoS 1, the
//! publisher every PUBACK). The publisher sends 100 000 messages of 100 B (MQTT 3.1.1, clean
//! sessions, keep-alive 60 s), allocating one payload per message on both sides.
//!
//! Printed: CPU µs per message of the publisher and of the subscriber, median (min–max) over
//! the rounds, for each library, and wasmqtt / rumqttc of the medians (below 1: wasmqtt uses
//! less CPU). The libraries alternate which goes first in each round.
//!
//! Run: `cargo bench --bench client_cpu`. Environment: `CPU_ROUNDS` (default 5),
//! `CPU_MESSAGES` (default 100000), `CPU_QOS` (`0` or `1`: that QoS alone), `CPU_LIB`
//! (`wasmqtt` or `rumqttc`: that library alone, for profiling; no ratios then), `CPU_COALESCE=0`
//! (wasmqtt without [`WriteCoalescing`], which is on by default).

mod support;
use support::{env_usize, median, payload, Lib};
use wasmqtt_testkit::mosquitto::Mosquitto;

use std::sync::mpsc;
use std::time::Duration;
use tokio::sync::oneshot;
use wasmqtt::codec::{QoS, SubscriptionOptions};
use wasmqtt::session::{Event, Options, ReconnectPolicy, WriteCoalescing};
use wasmqtt_tokio::Client;

const PAYLOAD: usize = 100;
const INFLIGHT: u16 = 100;
const KEEP_ALIVE_S: u16 = 60;
/// How long the subscriber waits for one more message before it counts the rest as dropped.
const QUIET: Duration = Duration::from_secs(3);

/// CPU time this thread has used (user + system).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid pointer to a local timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// What one side of one run measured.
struct Side {
    cpu: Duration,
    /// Messages received (subscriber) or acknowledged / written (publisher).
    count: usize,
}

/// The handshake between the two threads and the main one.
struct Signals {
    /// "Connected (and subscribed)": to main.
    ready: mpsc::Sender<()>,
    /// "Start": from main.
    go: oneshot::Receiver<()>,
}

fn unique(what: &str) -> String {
    support::unique("cpu", what)
}

// ------------------------------------------------------------------------------------ wasmqtt

fn wasmqtt_options(id: &str, n: usize) -> Options {
    let off = std::env::var("CPU_COALESCE").is_ok_and(|v| v == "0");
    Options::new(id)
        .write_coalescing((!off).then(WriteCoalescing::default))
        .keep_alive(KEEP_ALIVE_S)
        .max_inflight(INFLIGHT)
        .max_queued_messages(n.max(1))
        .max_queued_bytes(n.max(1) * (PAYLOAD + 256))
        .max_pending_write_bytes(n.max(1) * (PAYLOAD + 256))
        .reconnect(ReconnectPolicy {
            enabled: false,
            ..ReconnectPolicy::default()
        })
}

async fn wasmqtt_connect(addr: &str, id: &str, n: usize) -> (Client, wasmqtt_tokio::Events) {
    let (client, mut events) = Client::connect(addr, wasmqtt_options(id, n))
        .await
        .unwrap_or_else(|e| panic!("wasmqtt {id}: {e}"));
    match events.recv().await {
        Some(Event::Connected(_)) => {}
        other => panic!("wasmqtt {id}: expected Connected, got {other:?}"),
    }
    (client, events)
}

async fn wasmqtt_sub(addr: String, topic: String, qos: QoS, n: usize, s: Signals) -> Side {
    let (client, mut events) = wasmqtt_connect(&addr, &unique("wasmqtt-sub"), n).await;
    let codes = client
        .subscribe([topic.as_str()], SubscriptionOptions::qos(qos))
        .await
        .expect("wasmqtt subscribe");
    assert!(codes.iter().all(|c| !c.is_error()), "refused: {codes:?}");
    s.ready.send(()).unwrap();
    s.go.await.unwrap();
    let cpu0 = thread_cpu();
    let mut received = 0;
    while received < n {
        match tokio::time::timeout(QUIET, events.recv()).await {
            Ok(Some(Event::Message(_))) => received += 1,
            Ok(Some(Event::Disconnected { reason, .. })) => panic!("wasmqtt sub: {reason}"),
            Ok(Some(_)) => {}
            Ok(None) => panic!("wasmqtt subscriber's driver ended"),
            Err(_) => break,
        }
    }
    let cpu = thread_cpu() - cpu0;
    client.disconnect().await;
    Side {
        cpu,
        count: received,
    }
}

async fn wasmqtt_pub(
    addr: String,
    topic: String,
    qos: QoS,
    n: usize,
    s: Signals,
    sub_done: oneshot::Receiver<()>,
) -> Side {
    let (client, _events) = wasmqtt_connect(&addr, &unique("wasmqtt-pub"), n).await;
    s.ready.send(()).unwrap();
    s.go.await.unwrap();
    let cpu0 = thread_cpu();
    let (count, _) = support::publish_all(&client, &topic, &payload(PAYLOAD), qos, n).await;
    // Keep the driver running (writing) until the subscriber has everything.
    let _ = sub_done.await;
    let cpu = thread_cpu() - cpu0;
    client.disconnect().await;
    Side { cpu, count }
}

// ------------------------------------------------------------------------------------ rumqttc

fn rqos(q: QoS) -> rumqttc::QoS {
    match q {
        QoS::AtMostOnce => rumqttc::QoS::AtMostOnce,
        QoS::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        QoS::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

async fn rumqttc_connect(
    port: u16,
    id: &str,
    cap: usize,
) -> (rumqttc::AsyncClient, rumqttc::EventLoop) {
    let mut o = rumqttc::MqttOptions::new(id, "127.0.0.1", port);
    o.set_keep_alive(Duration::from_secs(u64::from(KEEP_ALIVE_S)))
        .set_clean_session(true)
        .set_inflight(INFLIGHT);
    let (client, mut eventloop) = rumqttc::AsyncClient::new(o, cap);
    loop {
        match eventloop.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("rumqttc {id}: {e}"),
        }
    }
    (client, eventloop)
}

async fn rumqttc_sub(port: u16, topic: String, qos: QoS, n: usize, s: Signals) -> Side {
    let (client, mut el) = rumqttc_connect(port, &unique("rumqttc-sub"), 10).await;
    client
        .subscribe(topic.as_str(), rqos(qos))
        .await
        .expect("rumqttc subscribe");
    loop {
        match el.poll().await {
            Ok(rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_))) => break,
            Ok(_) => {}
            Err(e) => panic!("rumqttc subscriber: {e}"),
        }
    }
    s.ready.send(()).unwrap();
    s.go.await.unwrap();
    let cpu0 = thread_cpu();
    let mut received = 0;
    while received < n {
        match tokio::time::timeout(QUIET, el.poll()).await {
            Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(_)))) => received += 1,
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("rumqttc subscriber: {e}"),
            Err(_) => break,
        }
    }
    let cpu = thread_cpu() - cpu0;
    drop((client, el));
    Side {
        cpu,
        count: received,
    }
}

async fn rumqttc_pub(
    port: u16,
    topic: String,
    qos: QoS,
    n: usize,
    s: Signals,
    sub_done: oneshot::Receiver<()>,
) -> Side {
    let (client, mut el) = rumqttc_connect(port, &unique("rumqttc-pub"), n.max(1)).await;
    s.ready.send(()).unwrap();
    s.go.await.unwrap();
    let cpu0 = thread_cpu();
    let at_least_once = qos != QoS::AtMostOnce;
    // The event loop, on this thread's runtime: at QoS 1 it ends at the last PUBACK; at QoS 0
    // it keeps writing until the subscriber has everything.
    let driver = tokio::spawn(async move {
        let mut acked = 0usize;
        loop {
            match el.poll().await {
                Ok(rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_))) => {
                    acked += 1;
                    if at_least_once && acked == n {
                        return (acked, el);
                    }
                }
                Ok(_) => {}
                Err(e) => panic!("rumqttc publisher: {e}"),
            }
        }
    });
    let body = payload(PAYLOAD);
    for _ in 0..n {
        client
            .publish(topic.as_str(), rqos(qos), false, body.clone())
            .await
            .expect("rumqttc publish");
    }
    let count = if at_least_once {
        let (acked, el) = driver.await.expect("rumqttc publisher");
        let _ = sub_done.await;
        drop(el);
        acked
    } else {
        let _ = sub_done.await;
        driver.abort();
        n
    };
    let cpu = thread_cpu() - cpu0;
    drop(client);
    Side { cpu, count }
}

// ------------------------------------------------------------------------------------ main

/// One run: (publisher, subscriber).
fn run(lib: Lib, broker: &Mosquitto, qos: QoS, n: usize) -> (Side, Side) {
    let port = broker.port();
    let addr = format!("127.0.0.1:{port}");
    let topic = unique(&format!("{}-topic", lib.name()));
    let (ready_tx, ready_rx) = mpsc::channel();
    let (go_pub_tx, go_pub) = oneshot::channel();
    let (go_sub_tx, go_sub) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel::<()>();
    let sub_signals = Signals {
        ready: ready_tx.clone(),
        go: go_sub,
    };
    let pub_signals = Signals {
        ready: ready_tx,
        go: go_pub,
    };
    let (a, t) = (addr.clone(), topic.clone());
    let sub = std::thread::spawn(move || {
        let side = runtime().block_on(async move {
            match lib {
                Lib::Wasmqtt => wasmqtt_sub(a, t, qos, n, sub_signals).await,
                Lib::Rumqttc => rumqttc_sub(port, t, qos, n, sub_signals).await,
            }
        });
        let _ = done_tx.send(());
        side
    });
    // The publisher connects after the subscriber has subscribed.
    ready_rx.recv().expect("subscriber ready");
    let publisher = std::thread::spawn(move || {
        runtime().block_on(async move {
            match lib {
                Lib::Wasmqtt => wasmqtt_pub(addr, topic, qos, n, pub_signals, done_rx).await,
                Lib::Rumqttc => rumqttc_pub(port, topic, qos, n, pub_signals, done_rx).await,
            }
        })
    });
    ready_rx.recv().expect("publisher ready");
    let _ = go_sub_tx.send(());
    let _ = go_pub_tx.send(());
    let p = publisher.join().expect("publisher thread");
    let s = sub.join().expect("subscriber thread");
    (p, s)
}

fn cell(v: &mut [f64]) -> String {
    if v.is_empty() {
        return "-".into();
    }
    let m = median(v);
    format!("{m:.2} ({:.2}-{:.2})", v[0], v[v.len() - 1])
}

fn main() {
    let rounds = env_usize("CPU_ROUNDS", 5).max(1);
    let n = env_usize("CPU_MESSAGES", 100_000).max(1);
    let broker = Mosquitto::start();
    println!(
        "mosquitto on {}; {n} messages of {PAYLOAD} B, MQTT 3.1.1, inflight {INFLIGHT}; \
         CPU µs per message of each client's thread, median (min-max) of {rounds} rounds",
        broker.addr()
    );
    println!(
        "{:<4} {:<6} {:>24} {:>24} {:>24} {:>24} {:>10}",
        "QoS",
        "side",
        "wasmqtt µs/msg",
        "rumqttc µs/msg",
        "wasmqtt count",
        "rumqttc count",
        "ratio"
    );
    let qos_only = std::env::var("CPU_QOS").ok();
    let lib_only = std::env::var("CPU_LIB").ok();
    for qos in [QoS::AtMostOnce, QoS::AtLeastOnce] {
        if qos_only
            .as_deref()
            .is_some_and(|q| q != (qos as u8).to_string())
        {
            continue;
        }
        // [lib][side] -> per-round µs per message, and counts.
        let mut us = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
        let mut counts = [[Vec::new(), Vec::new()], [Vec::new(), Vec::new()]];
        for round in 0..rounds {
            let order = if round % 2 == 0 {
                [Lib::Wasmqtt, Lib::Rumqttc]
            } else {
                [Lib::Rumqttc, Lib::Wasmqtt]
            };
            for lib in order {
                if lib_only.as_deref().is_some_and(|l| l != lib.name()) {
                    continue;
                }
                let (p, s) = run(lib, &broker, qos, n);
                let l = (lib == Lib::Rumqttc) as usize;
                for (side, r) in [p, s].into_iter().enumerate() {
                    us[l][side].push(r.cpu.as_secs_f64() * 1e6 / n as f64);
                    counts[l][side].push(r.count as f64);
                }
            }
        }
        for (side, name) in ["pub", "sub"].into_iter().enumerate() {
            let ours = median(&mut us[0][side].clone());
            let theirs = median(&mut us[1][side].clone());
            println!(
                "{:<4} {:<6} {:>24} {:>24} {:>24} {:>24} {:>10.2}",
                qos as u8,
                name,
                cell(&mut us[0][side]),
                cell(&mut us[1][side]),
                format!("{:.0}", median(&mut counts[0][side])),
                format!("{:.0}", median(&mut counts[1][side])),
                ours / theirs
            );
        }
    }
}
