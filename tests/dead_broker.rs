//! A silent broker is declared dead within 1.5 × keep-alive (issue 11, item 1), measured on the
//! tokio driver through a real black-holing proxy on loopback: the client connects to a
//! mosquitto through [`Proxy`], the proxy black-holes the line right after CONNACK (no FIN, no
//! RST, no byte in either direction), and the client must report the connection lost with the
//! keep-alive reason, within keep-alive + the default ping timeout (half the keep-alive) of
//! the last packet it received.
//!
//! The bound asserted is 1.5 × keep-alive + 1 s from the black hole (the last packet came
//! before it, so the true bound is tighter); the measured time is printed as
//! `dead-broker tokio keepalive=Ks detected_after=Xms bound=Yms`.
//!
//! The figure over several rounds (median and spread) comes from the ignored test
//! `dead_broker_rounds`:
//! `cargo test --test dead_broker -- --ignored --nocapture dead_broker_rounds`.

mod native_support;

use native_support::{client_id, within};
use std::time::{Duration, Instant};
use wasmqtt::codec::ProtocolVersion;
use wasmqtt::session::{DisconnectReason, Event, Options, ReconnectPolicy};
use wasmqtt_testkit::mosquitto::Mosquitto;
use wasmqtt_testkit::proxy::Proxy;
use wasmqtt_tokio::Client;

/// Connects through a proxy, black-holes it after CONNACK and returns the time from the black
/// hole to the disconnect event.
async fn detection_time(broker: &Mosquitto, keep_alive: u16, version: ProtocolVersion) -> Duration {
    let proxy = Proxy::start(broker.addr());
    let id = client_id("dead-broker", version);
    let opts = Options::new(id.as_str())
        .version(version)
        .keep_alive(keep_alive)
        .connect_timeout_ms(5_000)
        .reconnect(ReconnectPolicy {
            enabled: false,
            ..ReconnectPolicy::default()
        });
    let (client, mut events) = within(
        "CONNACK through the proxy",
        Client::connect(&proxy.addr().to_string(), opts),
    )
    .await
    .unwrap_or_else(|e| panic!("{id} could not connect through the proxy: {e}"));
    match within("the Connected event", events.recv()).await {
        Some(Event::Connected(_)) => {}
        other => panic!("expected Connected first, got {other:?}"),
    }
    proxy.blackhole();
    let holed = Instant::now();
    let reason = within("the disconnect event", async {
        loop {
            match events.recv().await {
                Some(Event::Disconnected { reason, .. }) => return reason,
                Some(_) => continue,
                None => panic!("the event stream ended before a disconnect event"),
            }
        }
    })
    .await;
    let took = holed.elapsed();
    assert!(
        matches!(reason, DisconnectReason::KeepAliveTimeout),
        "the silent broker must be reported as a keep-alive timeout, got {reason}"
    );
    client.abort();
    took
}

/// 1.5 × keep-alive, in milliseconds.
fn bound_ms(keep_alive: u16) -> u64 {
    u64::from(keep_alive) * 1500
}

async fn dead_broker(keep_alive: u16, version: ProtocolVersion) {
    let broker = Mosquitto::start();
    let took = detection_time(&broker, keep_alive, version).await;
    let bound = bound_ms(keep_alive);
    println!(
        "dead-broker tokio keepalive={keep_alive}s detected_after={}ms bound={bound}ms ({version:?})",
        took.as_millis()
    );
    assert!(
        took < Duration::from_millis(bound + 1_000),
        "a silent broker took {took:?} to be declared dead with keep-alive {keep_alive} s \
         (bound 1.5 × keep-alive = {bound} ms, + 1 s of slack)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_broker_is_dead_within_one_and_a_half_keep_alives_v5() {
    dead_broker(2, ProtocolVersion::V5).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_broker_is_dead_within_one_and_a_half_keep_alives_v311() {
    dead_broker(2, ProtocolVersion::V311).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_broker_is_dead_within_one_and_a_half_keep_alives_at_5s() {
    dead_broker(5, ProtocolVersion::V5).await;
}

/// The bench-like figure: `ROUNDS` rounds at keep-alive 2 s; prints each time, the median and
/// the spread (min–max). Run by hand (see the module docs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (about 30 s): run by hand with --ignored --nocapture"]
async fn dead_broker_rounds() {
    const ROUNDS: usize = 10;
    let keep_alive = std::env::var("DEAD_BROKER_KEEPALIVE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2u16);
    let broker = Mosquitto::start();
    let mut times = Vec::new();
    for round in 0..ROUNDS {
        let took = detection_time(&broker, keep_alive, ProtocolVersion::V5).await;
        println!("round {round}: {}ms", took.as_millis());
        times.push(took.as_millis());
    }
    times.sort_unstable();
    println!(
        "dead-broker tokio keepalive={keep_alive}s rounds={ROUNDS} median={}ms min={}ms max={}ms bound={}ms",
        times[ROUNDS / 2],
        times[0],
        times[ROUNDS - 1],
        bound_ms(keep_alive)
    );
}
