//! Drives a `Session` (both protocol versions) through arbitrary application calls, time steps
//! and broker bytes — raw, or well-formed packets built from what the session sent — and checks
//! its invariants after every step. The harness is `fuzz/src/session_harness.rs`, which the
//! stable smoke test `tests/session_fuzz.rs` runs too.
//!
//! Run from the repository root: `cargo +nightly fuzz run session`.
#![no_main]

#[path = "../src/session_harness.rs"]
mod session_harness;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    session_harness::run(data);
});
