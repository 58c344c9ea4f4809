//! What the end-to-end benches share (`benches/e2e.rs`, `benches/tls.rs`,
//! `benches/client_cpu.rs`): the libraries compared, environment knobs, payloads, unique names,
//! wasmqtt's publish loop and the median.

use wasmqtt::codec::QoS;
use wasmqtt::session::Message;
use wasmqtt_tokio::{Client, PublishError};

/// The libraries compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lib {
    Wasmqtt,
    Rumqttc,
}

impl Lib {
    pub fn name(self) -> &'static str {
        match self {
            Lib::Wasmqtt => "wasmqtt",
            Lib::Rumqttc => "rumqttc",
        }
    }
}

/// `name` from the environment as a number, or `default`.
pub fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v} is not a number")),
        Err(_) => default,
    }
}

/// A payload of `len` bytes.
pub fn payload(len: usize) -> Vec<u8> {
    (0..len).map(|i| i as u8).collect()
}

/// A name unique in this process (`prefix-what-pid-n`), for client ids and topics.
pub fn unique(prefix: &str, what: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Publishes `n` messages of `body` to `topic` at `qos` with wasmqtt, one `publish` call each
/// (a fresh payload `Vec` per message), yielding and trying again while the write budget says
/// `WouldBlock`; then waits for every QoS 1/2 acknowledgement. Returns (messages done: all `n`
/// at QoS 0, the acknowledged ones otherwise; `WouldBlock` retries).
pub async fn publish_all(
    client: &Client,
    topic: &str,
    body: &[u8],
    qos: QoS,
    n: usize,
) -> (usize, usize) {
    let mut handles = Vec::with_capacity(if qos == QoS::AtMostOnce { 0 } else { n });
    let mut retries = 0;
    for _ in 0..n {
        loop {
            match client
                .publish(Message::new(topic, body.to_vec()).qos(qos))
                .await
            {
                Ok(handle) => {
                    if qos != QoS::AtMostOnce {
                        handles.push(handle);
                    }
                    break;
                }
                Err(PublishError::WouldBlock) => {
                    retries += 1;
                    tokio::task::yield_now().await;
                }
                Err(e) => panic!("wasmqtt publish: {e}"),
            }
        }
    }
    if qos == QoS::AtMostOnce {
        return (n, retries);
    }
    let mut acked = 0;
    for handle in handles {
        handle.await.expect("wasmqtt publish acknowledged");
        acked += 1;
    }
    (acked, retries)
}

/// The median of `v` (sorted in place), NaN when empty.
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}
