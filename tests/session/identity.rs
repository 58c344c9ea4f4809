//! Client identifiers and seeds from injected randomness: deterministic, portable to every
//! 3.1.1 broker, and accepted by the session.

use crate::common::*;
use std::collections::BTreeSet;
use wasmqtt::session::{
    random_client_id, random_client_id_with_prefix, seed_from_entropy, CLIENT_ID_PREFIX,
    MAX_PORTABLE_CLIENT_ID,
};

fn portable(id: &str) -> bool {
    (1..=MAX_PORTABLE_CLIENT_ID).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The identifier (what every 3.1.1 broker must accept, v3.1.1 MQTT-3.1.3-5) is 1 to 23 characters of `0-9a-zA-Z`, the same for the same seed, and
/// different seeds give different identifiers.
#[test]
fn random_client_ids_are_portable_deterministic_and_distinct() {
    let mut seen = BTreeSet::new();
    for seed in (0..2_000u64).chain([u64::MAX, 1 << 63]) {
        let id = random_client_id(seed);
        assert!(portable(&id), "{id:?}");
        assert!(id.starts_with(CLIENT_ID_PREFIX));
        assert_eq!(id, random_client_id(seed));
        seen.insert(id);
    }
    assert_eq!(seen.len(), 2_002, "collisions among 2002 seeds");
}

/// A prefix fills up to 23 bytes with at least 8 digits; a long one is cut, never split inside
/// a character.
#[test]
fn prefixed_ids_stay_within_23_bytes() {
    let id = random_client_id_with_prefix("wasmqttpub", 42);
    assert_eq!(id.len(), 23);
    assert!(portable(&id), "{id:?}");
    let long = random_client_id_with_prefix("a-very-long-prefix-indeed", 42);
    assert_eq!(long.len(), 23);
    assert!(long.starts_with("a-very-long-pre"));
    let wide = random_client_id_with_prefix("ééééééééé", 1);
    assert!(wide.len() <= 23 && wide.starts_with("ééééééé"), "{wide:?}");
    assert!(random_client_id_with_prefix("", 5).len() == 13);
}

/// Entropy folds into a seed that is never 0 and depends on every byte.
#[test]
fn seeds_from_entropy() {
    assert_ne!(seed_from_entropy(&[]), 0);
    assert_ne!(seed_from_entropy(&[0; 8]), 0);
    let a = seed_from_entropy(&[1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert_ne!(a, seed_from_entropy(&[1, 2, 3, 4, 5, 6, 7, 8, 10]));
    assert_ne!(a, seed_from_entropy(&[0, 2, 3, 4, 5, 6, 7, 8, 9]));
    assert_eq!(a, seed_from_entropy(&[1, 2, 3, 4, 5, 6, 7, 8, 9]));
}

/// A 3.1.1 session with a random identifier validates and sends it in CONNECT.
#[test]
fn the_session_uses_a_random_id() {
    let seed = seed_from_entropy(b"driver entropy");
    let o = opts(V311).random_seed(seed);
    let o = Options {
        client_id: random_client_id(seed),
        ..o
    };
    assert_eq!(o.validate(), Ok(()));
    let mut sim = Sim::new(o.clone());
    sim.start();
    let sent = sim.take();
    assert_eq!(sent[0].connect().expect("CONNECT").client_id, o.client_id);
}
