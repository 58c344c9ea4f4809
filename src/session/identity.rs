//! Randomness the drivers inject, used the same way everywhere: the seed of the reconnect
//! jitter ([`Options::random_seed`](super::Options::random_seed)) and a random client
//! identifier.
//!
//! **Deriving the seed.** A driver draws one `u64` from its platform's randomness once per
//! session and uses it for both: `Options::random_seed(seed)` and, when the application gave
//! no client identifier, `random_client_id(seed)` (the identifier is drawn from a mix of the
//! seed, so the two do not show each other). Where the platform hands out bytes rather than a
//! number, [`seed_from_entropy`] folds them into one:
//! - WASI: `wasip2::random::random::get_random_u64()`;
//! - browser: `crypto.getRandomValues` over 8 bytes (or two `Math.random()` halves), through
//!   [`seed_from_entropy`];
//! - native: the process's `RandomState` hasher keys and the system time, through
//!   [`seed_from_entropy`].
//!
//! The core never draws randomness itself: the same seed gives the same identifier and the same
//! back-off, which is what the simulation tests rely on.

use alloc::string::String;

/// The prefix of [`random_client_id`].
pub const CLIENT_ID_PREFIX: &str = "wasmqtt";

/// Longest client identifier every 3.1.1 broker must accept (v3.1.1 MQTT-3.1.3-5: 1 to 23
/// UTF-8 bytes of `0-9a-zA-Z`).
pub const MAX_PORTABLE_CLIENT_ID: usize = 23;

/// Fewest random digits [`random_client_id_with_prefix`] appends (36^8 ≈ 2.8 × 10^12).
const MIN_DIGITS: usize = 8;

/// A random client identifier: [`CLIENT_ID_PREFIX`] and 13 base-36 digits drawn from `seed`
/// (20 characters of `0-9a-z`, valid for every 3.1.1 broker).
pub fn random_client_id(seed: u64) -> String {
    random_client_id_with_prefix(CLIENT_ID_PREFIX, seed)
}

/// `prefix` and base-36 digits drawn from `seed`, filling up to 23 bytes (at least 8 digits;
/// a prefix longer than 15 bytes is cut at a character boundary). Only a prefix of `0-9a-zA-Z`
/// keeps the result within what every 3.1.1 broker must accept (v3.1.1 MQTT-3.1.3-5); most
/// also take `-` and `_`.
pub fn random_client_id_with_prefix(prefix: &str, seed: u64) -> String {
    let mut cut = prefix.len().min(MAX_PORTABLE_CLIENT_ID - MIN_DIGITS);
    while !prefix.is_char_boundary(cut) {
        cut -= 1;
    }
    let prefix = &prefix[..cut];
    let digits = (MAX_PORTABLE_CLIENT_ID - prefix.len()).min(13);
    let mut id = String::with_capacity(prefix.len() + digits);
    id.push_str(prefix);
    let mut x = splitmix64(seed ^ 0xC1E7_1D00_0000_0000);
    for _ in 0..digits {
        let d = (x % 36) as u32;
        x /= 36;
        id.push(char::from_digit(d, 36).unwrap_or('0'));
    }
    id
}

/// Folds entropy bytes (from `crypto.getRandomValues`, a hasher, the time) into one seed,
/// never 0.
pub fn seed_from_entropy(entropy: &[u8]) -> u64 {
    let mut h = 0x243F_6A88_85A3_08D3u64;
    for chunk in entropy.chunks(8) {
        let mut b = [0u8; 8];
        b[..chunk.len()].copy_from_slice(chunk);
        h = splitmix64(h ^ u64::from_le_bytes(b));
    }
    h.max(1)
}

/// SplitMix64's finaliser: a bijective mix of all 64 bits.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
