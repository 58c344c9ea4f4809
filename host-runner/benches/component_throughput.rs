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
//! Environment: `WASMQTT_BENCH_MESSAGES` (default 100000), `WASMQTT_BENCH_ROUNDS` (default 3;
//! the best round of each side is reported, rounds alternate between the two sides),
//! `WASMQTT_BENCH_ONLY=component` or `native` to run one side (for profiling).
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
    let rounds = env_usize("WASMQTT_BENCH_ROUNDS", 3).max(1);

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
        "mosquitto on {}; {n} messages of {PAYLOAD} B, MQTT 3.1.1, inflight {INFLIGHT}, best of {rounds}",
        broker.addr()
    );

    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");

    println!();
    println!(
        "{:<6} {:>16} {:>16} {:>18}",
        "QoS", "component msg/s", "native msg/s", "component/native"
    );
    for qos in [0u8, 1] {
        let mut best_component = Duration::MAX;
        let mut best_native = Duration::MAX;
        for round in 0..rounds {
            if run_component {
                best_component =
                    best_component.min(component_run(&provider, &broker, qos, n, round));
            }
            if run_native {
                best_native = best_native.min(tokio.block_on(native_run(&broker, qos, n, round)));
            }
        }
        let rate = |d: Duration| n as f64 / d.as_secs_f64();
        println!(
            "{:<6} {:>16.0} {:>16.0} {:>18.2}",
            qos,
            rate(best_component),
            rate(best_native),
            rate(best_component) / rate(best_native)
        );
    }
}

fn component_run(
    provider: &Provider,
    broker: &Mosquitto,
    qos: u8,
    n: usize,
    round: usize,
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

    let t0 = Instant::now();
    let (mut sent, mut done) = (0usize, 0usize);
    while done < n {
        let mut refused = false;
        while sent < n {
            match client.publish(&message) {
                Ok(_) => sent += 1,
                Err(ClientError::Mqtt(WitError::QueueFull | WitError::WouldBlock)) => {
                    refused = true;
                    break;
                }
                Err(e) => panic!("component publish: {e}"),
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
            match client.poll_event(wait) {
                Ok(Some(Event::PublishComplete((_, Delivery::Acknowledged(_))))) => {
                    done += 1;
                    progressed = true;
                }
                Ok(Some(Event::PublishComplete((id, Delivery::Failed(e))))) => {
                    panic!("component publish #{id} failed: {e:?}")
                }
                Ok(Some(Event::Disconnected(d))) => panic!("component disconnected: {d:?}"),
                Ok(Some(_)) => progressed = true,
                Ok(None) => break,
                Err(e) => panic!("component poll-event: {e}"),
            }
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
