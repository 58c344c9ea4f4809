//! Shared helpers for the integration tests.
//!
//! An integration test file brings them in with `mod support;` and then uses, for example,
//! `support::mosquitto::Mosquitto`. Every test file compiles its own copy of this module and uses
//! only part of it, hence the `dead_code` allowance.
#![allow(dead_code)]

pub mod mosquitto;
pub mod rumqttd;
