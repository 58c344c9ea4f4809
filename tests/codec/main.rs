//! The codec's tests, one binary by concern (`cargo test --test codec`).
//!
//! - `vectors`: byte-exact encodings of every packet, both versions, and their decodings;
//! - `malformed`: every malformed input a receiver must refuse and every packet a sender must
//!   not send, each with its typed error;
//! - `proptests`: round trips of generated packets;
//! - `differential`: the same packets through rumqttc's codec;
//! - `zero_alloc`: decoding allocates nothing. It installs a counting global allocator for
//!   the whole binary, but counts only on the measuring thread between its markers, so the
//!   tests of the other modules, running on other threads, do not disturb it;
//! - `fast_paths`: the encoder's fast paths and the general encoder they fall back to agree;
//! - `topics`: topic name and filter validation and matching;
//! - `support`: the generators shared by `proptests` and `differential`, of packets in the
//!   owned model of the test kit (`wasmqtt_testkit::packets`).

#[allow(dead_code)]
mod support;

mod differential;
mod fast_paths;
mod malformed;
mod proptests;
mod topics;
mod vectors;
mod zero_alloc;
