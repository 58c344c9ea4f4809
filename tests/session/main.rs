//! The session's tests, one binary arranged by concern: deterministic simulations against a
//! scripted broker with simulated time (the harness in `tests/sim/`), the executable
//! conformance checks among them, and property tests against a model broker.
//!
//! Each test drives a [`wasmqtt::session::Session`]: the test plays the broker (packets encoded
//! with the codec, or raw bytes), the harness plays the driver and decodes what the client
//! writes ([`common::Wire`] keeps the exact bytes instead). Tests name the normative statements
//! they check in `// checks:` lines, every label with its version (`v5 MQTT-x.y.z-n`,
//! `v3.1.1 MQTT-x.y.z-n`); `tests/conformance.rs` reads them.

#[path = "../sim/mod.rs"]
mod sim;

mod common;

mod auth;
mod backpressure;
mod coalesce;
mod completions;
mod connect;
mod connect_timeout;
mod connection_state;
mod durable;
mod durable_resume;
mod expiry;
mod failover;
mod first_connect;
mod identity;
mod inbound;
mod keep_alive;
mod late_wake;
mod lifecycle;
mod manual_acks;
mod options;
mod outbound;
mod properties;
mod qos0_budget;
mod queue;
mod read_paused;
mod request_response;
mod requests;
mod resend;
mod topic_aliases;
mod transport_errors;
