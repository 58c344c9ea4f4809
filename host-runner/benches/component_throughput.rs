//! Publish throughput of the provider component in wasmtime against the native driver, through
//! the same mosquitto in the same run: 100 000 messages of 100 B at QoS 0 and at QoS 1
//! (inflight window 100), MQTT 3.1.1. Prints messages per second and the ratio
//! component / native.
//!
//! ```text
//! cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider
//! cargo bench -p wasmqtt-host --bench component_throughput
//! ```
//!
//! The component publishes with `publish-batch` (`WASMQTT_BENCH_BATCH` messages a call, default
//! 64; 1 uses `publish` and `poll-event`, one call per message and per event) and polls with
//! `poll-events`; the native driver has no batch call and publishes one message a call.
//! `WASMQTT_BENCH_PACKED=1` makes the component's calls `publish-packed` (one topic, the
//! batch's payloads in one list) instead of `publish-batch`.
//!
//! Environment: `WASMQTT_BENCH_MESSAGES` (default 100000), `WASMQTT_BENCH_ROUNDS` (default 5;
//! rounds alternate between the two sides; the median rate of each side and its range over the
//! rounds are printed, and the ratio of the medians), `WASMQTT_BENCH_ONLY=component` or `native`
//! to run one side and `WASMQTT_BENCH_QOS=0` or `1` one QoS (for profiling; `WASMQTT_PERFMAP=1`
//! also writes a perf map of the guest's compiled code).
//!
//! A publish counts as done at its completion: for QoS 0 when the session wrote it, for QoS 1
//! at PUBACK. The clock runs from the first publish to the last completion.

use wasmqtt_testkit::mosquitto;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use mosquitto::Mosquitto;
use wasmqtt::codec::{ProtocolVersion as CoreVersion, QoS};
use wasmqtt::session::{Message, Options};
use wasmqtt_host::types::{self, Delivery, Error as WitError, Event, ProtocolVersion, Qos};
use wasmqtt_host::{ClientError, NetworkPolicy, Provider, Runtime};
use wasmqtt_tokio::PublishError;

const PAYLOAD: usize = 100;
const INFLIGHT: u16 = 100;
/// Most events one `poll-events` call returns.
const POLL_MAX: u32 = 256;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing useful. Either way
    // the whole workload runs unless asked for less through the environment.
    let n = env_usize("WASMQTT_BENCH_MESSAGES", 100_000);
    let only = std::env::var("WASMQTT_BENCH_ONLY").unwrap_or_default();
    let (run_component, run_native) = match only.as_str() {
        "component" => (true, false),
        "native" => (false, true),
        _ => (true, true),
    };
    let rounds = env_usize("WASMQTT_BENCH_ROUNDS", 5).max(1);
    let batch = env_usize("WASMQTT_BENCH_BATCH", 64).max(1);
    let packed = env_usize("WASMQTT_BENCH_PACKED", 0) == 1;

    let runtime = Runtime::new().expect("wasmtime runtime");
    let provider = Provider::load_default(&runtime).unwrap_or_else(|e| panic!("{e:#}"));
    let loaded = provider.component();
    println!(
        "provider component: {} ({} bytes), compiled in {:.0} ms",
        loaded.path.display(),
        loaded.size,
        loaded.compile_time.as_secs_f64() * 1e3
    );
    let broker = Mosquitto::start();
    println!(
        "mosquitto on {}; {n} messages of {PAYLOAD} B, MQTT 3.1.1, inflight {INFLIGHT}, median (min-max) of {rounds} rounds",
        broker.addr()
    );
    if batch == 1 {
        println!("component: one message per `publish`, one event per `poll-event`");
    } else if packed {
        println!(
            "component: `publish-packed` of up to {batch} payloads, `poll-events` of up to {POLL_MAX}"
        );
    } else {
        println!(
            "component: `publish-batch` of up to {batch} messages, `poll-events` of up to {POLL_MAX}"
        );
    }
    println!("native: one `publish` call per message (its API has no batch call)");

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    println!();
    println!(
        "{:<4} {:>28} {:>28} {:>18}",
        "QoS", "component msg/s", "native msg/s", "component/native"
    );
    let qos_levels: Vec<u8> = match std::env::var("WASMQTT_BENCH_QOS").as_deref() {
        Ok("0") => vec![0],
        Ok("1") => vec![1],
        _ => vec![0, 1],
    };
    for qos in qos_levels {
        let mut component = Vec::with_capacity(rounds);
        let mut native = Vec::with_capacity(rounds);
        for round in 0..rounds {
            if run_component {
                component.push(rate(
                    n,
                    component_run(&provider, &broker, qos, n, round, batch, packed),
                ));
            }
            if run_native {
                native.push(rate(n, tokio.block_on(native_run(&broker, qos, n, round))));
            }
        }
        let (c, n_) = (Summary::of(&mut component), Summary::of(&mut native));
        println!(
            "{:<4} {:>28} {:>28} {:>18.2}",
            qos,
            c.to_string(),
            n_.to_string(),
            c.median / n_.median
        );
    }
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

/// Median and range of one side's rates.
struct Summary {
    median: f64,
    min: f64,
    max: f64,
}

impl Summary {
    fn of(rates: &mut [f64]) -> Summary {
        if rates.is_empty() {
            return Summary {
                median: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
            };
        }
        rates.sort_by(f64::total_cmp);
        let mid = rates.len() / 2;
        let median = if rates.len() % 2 == 1 {
            rates[mid]
        } else {
            (rates[mid - 1] + rates[mid]) / 2.0
        };
        Summary {
            median,
            min: rates[0],
            max: rates[rates.len() - 1],
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.0} ({:.0}-{:.0})", self.median, self.min, self.max)
    }
}

fn component_run(
    provider: &Provider,
    broker: &Mosquitto,
    qos: u8,
    n: usize,
    round: usize,
    batch: usize,
    packed: bool,
) -> Duration {
    let policy = NetworkPolicy::broker("127.0.0.1", broker.port()).unwrap();
    let mut opts = types::connect_options(
        "127.0.0.1",
        broker.port(),
        &format!("bench-component-{qos}-{round}"),
        ProtocolVersion::V311,
    );
    opts.max_inflight = Some(INFLIGHT);
    let mut client = wasmqtt_host::Client::connect(provider, &policy, &opts)
        .unwrap_or_else(|e| panic!("component connect: {e}"));
    let qos = Qos::from_level(qos).unwrap();
    let message = types::message("bench/component", &[b'x'; PAYLOAD], qos, false);
    // The batch is built once: the bench measures the client, not the building of messages.
    let messages = vec![message.clone(); batch];
    let payloads = vec![b'x'; PAYLOAD * batch];
    let lengths = vec![PAYLOAD as u32; batch];

    let t0 = Instant::now();
    let (mut sent, mut done) = (0usize, 0usize);
    while done < n {
        let mut refused = false;
        while sent < n && !refused {
            if batch == 1 {
                match client.publish(&message) {
                    Ok(_) => sent += 1,
                    Err(ClientError::Mqtt(WitError::QueueFull | WitError::WouldBlock)) => {
                        refused = true
                    }
                    Err(e) => panic!("component publish: {e}"),
                }
                continue;
            }
            let take = batch.min(n - sent);
            let results = if packed {
                client.publish_packed(
                    "bench/component",
                    &payloads[..PAYLOAD * take],
                    &lengths[..take],
                    qos,
                    false,
                    None,
                )
            } else {
                client.publish_batch(&messages[..take])
            }
            .unwrap_or_else(|e| panic!("component publish-batch: {e}"));
            for r in results {
                match r {
                    Ok(_) => sent += 1,
                    Err(WitError::QueueFull | WitError::WouldBlock) => refused = true,
                    Err(e) => panic!("component publish-batch: {e:?}"),
                }
            }
        }
        // Drain what is ready; wait a little only when there is nothing else to do.
        let mut progressed = false;
        loop {
            let wait = if progressed || (!refused && sent < n) {
                Duration::ZERO
            } else {
                Duration::from_millis(5)
            };
            let events = if batch == 1 {
                client
                    .poll_event(wait)
                    .map(|e| e.into_iter().collect::<Vec<_>>())
            } else {
                client.poll_events(POLL_MAX, wait)
            };
            let events = events.unwrap_or_else(|e| panic!("component poll: {e}"));
            if events.is_empty() {
                break;
            }
            for event in events {
                match event {
                    Event::PublishComplete((_, Delivery::Acknowledged(_))) => done += 1,
                    Event::PublishComplete((id, Delivery::Failed(e))) => {
                        panic!("component publish #{id} failed: {e:?}")
                    }
                    Event::Disconnected(d) => panic!("component disconnected: {d:?}"),
                    _ => {}
                }
            }
            progressed = true;
        }
    }
    let elapsed = t0.elapsed();
    client.disconnect().expect("component disconnect");
    elapsed
}

async fn native_run(broker: &Mosquitto, qos: u8, n: usize, round: usize) -> Duration {
    let options = Options::new(format!("bench-native-{qos}-{round}"))
        .version(CoreVersion::V311)
        .max_inflight(INFLIGHT);
    let (client, mut events) = wasmqtt_tokio::Client::connect(&broker.addr().to_string(), options)
        .await
        .unwrap_or_else(|e| panic!("native connect: {e}"));
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    let qos = match qos {
        0 => QoS::AtMostOnce,
        _ => QoS::AtLeastOnce,
    };
    let payload = vec![b'x'; PAYLOAD];

    let t0 = Instant::now();
    let mut handles = VecDeque::with_capacity(n);
    for _ in 0..n {
        loop {
            let message = Message::new("bench/native", payload.clone()).qos(qos);
            match client.publish(message).await {
                Ok(h) => {
                    handles.push_back(h);
                    break;
                }
                Err(PublishError::QueueFull { .. } | PublishError::WouldBlock) => {
                    match handles.pop_front() {
                        Some(h) => {
                            h.await.expect("native publish completes");
                        }
                        None => tokio::task::yield_now().await,
                    }
                }
                Err(e) => panic!("native publish: {e}"),
            }
        }
    }
    for h in handles {
        h.await.expect("native publish completes");
    }
    let elapsed = t0.elapsed();
    client.disconnect().await;
    drain.abort();
    elapsed
}
