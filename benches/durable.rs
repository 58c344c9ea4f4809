//! Durable session state benchmark: the native driver publishing QoS 1 through mosquitto with
//! no store, a `MemoryStore`, and a `FileStore` with `SyncPolicy::EveryMessage` and
//! `SyncPolicy::Batched`, in one run.
//!
//! The binary starts its own mosquitto (wasmqtt-testkit's: a free loopback port,
//! `max_queued_messages 0`, `set_tcp_nodelay true`). Per configuration and round:
//!
//! - `throughput`: `DURABLE_MESSAGES` (default 20 000) QoS 1 messages of 100 B, published with
//!   up to 256 admissions pending at once (each `publish().await` resolves once the message is
//!   stored), timed from the first publish until the last PUBACK.
//! - `p99`: publish→PUBACK of 1 000 sequential messages (publish, await admission, await the
//!   handle, then the next): p50 and p99.
//!
//! The configurations alternate in each round (their order rotates); every figure is the median
//! over the rounds, with the spread (min–max) beside it. Run: `cargo bench --bench durable`;
//! `DURABLE_ROUNDS` (default 3), `DURABLE_MESSAGES`.

use std::time::{Duration, Instant};
use wasmqtt::codec::{ProtocolVersion, QoS};
use wasmqtt::session::{Message, Options};
use wasmqtt_testkit::mosquitto::{self, Mosquitto};
use wasmqtt_tokio::{Client, SyncPolicy};

const LATENCY_MESSAGES: usize = 1_000;
const PENDING: usize = 256;

#[derive(Debug, Clone, Copy)]
enum Config {
    NoStore,
    Memory,
    FileEvery,
    FileBatched,
}

impl Config {
    fn name(self) -> &'static str {
        match self {
            Config::NoStore => "no store",
            Config::Memory => "MemoryStore",
            Config::FileEvery => "FileStore EveryMessage",
            Config::FileBatched => "FileStore Batched(256, 10 ms)",
        }
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn client(port: u16, config: Config, n: usize, tag: &str) -> (Client, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "wasmqtt-bench-durable-{}-{tag}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let opts = Options::new(format!("bench-durable-{tag}"))
        .version(ProtocolVersion::V5)
        .keep_alive(60)
        .max_queued_messages(n + PENDING);
    let b = Client::builder(opts)
        .broker(&format!("127.0.0.1:{port}"))
        .expect("broker");
    let b = match config {
        Config::NoStore => b,
        Config::Memory => b.memory_store(SyncPolicy::EveryMessage),
        Config::FileEvery => b.durable(&dir, SyncPolicy::EveryMessage),
        Config::FileBatched => b.durable(
            &dir,
            SyncPolicy::Batched {
                max_messages: 256,
                max_delay_ms: 10,
            },
        ),
    };
    let (client, _events) = b.connect().await.expect("connect");
    (client, dir)
}

/// Messages per second.
async fn throughput(port: u16, config: Config, n: usize, tag: &str) -> f64 {
    let (client, dir) = client(port, config, n, tag).await;
    let payload = vec![0x5a; 100];
    let start = Instant::now();
    let mut admitting: tokio::task::JoinSet<
        Result<wasmqtt_tokio::PublishHandle, wasmqtt_tokio::PublishError>,
    > = tokio::task::JoinSet::new();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        if admitting.len() >= PENDING {
            let h = admitting.join_next().await.unwrap().unwrap();
            handles.push(h.expect("admitted"));
        }
        let c = client.clone();
        let msg = Message::new("bench/durable", payload.clone()).qos(QoS::AtLeastOnce);
        admitting.spawn(async move { c.publish(msg).await });
    }
    while let Some(h) = admitting.join_next().await {
        handles.push(h.unwrap().expect("admitted"));
    }
    for h in handles {
        h.await.expect("acknowledged");
    }
    let secs = start.elapsed().as_secs_f64();
    client.disconnect().await;
    let _ = std::fs::remove_dir_all(dir);
    n as f64 / secs
}

/// (p50, p99) of publish→PUBACK, in microseconds.
async fn latency(port: u16, config: Config, tag: &str) -> (f64, f64) {
    let (client, dir) = client(port, config, LATENCY_MESSAGES, tag).await;
    let mut times = Vec::with_capacity(LATENCY_MESSAGES);
    for _ in 0..LATENCY_MESSAGES {
        let start = Instant::now();
        let msg = Message::new("bench/durable", vec![0x5a; 100]).qos(QoS::AtLeastOnce);
        client
            .publish(msg)
            .await
            .expect("admitted")
            .await
            .expect("acknowledged");
        times.push(start.elapsed());
    }
    client.disconnect().await;
    let _ = std::fs::remove_dir_all(dir);
    times.sort();
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    (us(at(0.50)), us(at(0.99)))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn spread(v: &[f64]) -> (f64, f64) {
    let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo, hi)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds = env("DURABLE_ROUNDS", 3);
    let n = env("DURABLE_MESSAGES", 20_000);
    let broker = Mosquitto::start_with(mosquitto::Options {
        extra_config: "set_tcp_nodelay true\n".to_string(),
        ..mosquitto::Options::default()
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let configs = [
        Config::NoStore,
        Config::Memory,
        Config::FileEvery,
        Config::FileBatched,
    ];
    let mut tput: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut p50: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut p99: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    for round in 0..rounds {
        for k in 0..configs.len() {
            let i = (k + round) % configs.len();
            let tag = format!("{round}-{i}");
            let t = rt.block_on(throughput(broker.port(), configs[i], n, &tag));
            let (a, b) = rt.block_on(latency(broker.port(), configs[i], &format!("{tag}-l")));
            eprintln!(
                "round {round} {:<30} {t:>9.0} msg/s  p50 {a:>7.0} us  p99 {b:>7.0} us",
                configs[i].name()
            );
            tput[i].push(t);
            p50[i].push(a);
            p99[i].push(b);
        }
    }
    println!("QoS 1, {n} messages of 100 B through mosquitto, {rounds} rounds (median, min-max):");
    println!(
        "{:<30} {:>24} {:>22} {:>22}",
        "store", "throughput msg/s", "p50 publish->PUBACK us", "p99 publish->PUBACK us"
    );
    for (i, c) in configs.iter().enumerate() {
        let (tl, th) = spread(&tput[i]);
        let (al, ah) = spread(&p50[i]);
        let (bl, bh) = spread(&p99[i]);
        println!(
            "{:<30} {:>8.0} ({tl:>6.0}-{th:<6.0}) {:>7.0} ({al:>5.0}-{ah:<5.0}) {:>7.0} ({bl:>5.0}-{bh:<5.0})",
            c.name(),
            median(tput[i].clone()),
            median(p50[i].clone()),
            median(p99[i].clone())
        );
    }
}
