//! What the end-to-end benches share (`benches/e2e.rs`, `benches/tls.rs`): the libraries
//! compared, environment knobs, payloads and unique names.

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
