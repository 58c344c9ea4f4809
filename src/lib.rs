//! # wasmqtt
//!
//! An MQTT 3.1.1 and 5.0 client whose one protocol core runs everywhere WebAssembly runs.
//!
//! The core is sans-I/O: it never touches sockets, clocks or an async runtime. Bytes and time
//! go in; bytes, deadlines and events come out. Drivers (the WASI component, the browser build,
//! the native driver) are thin loops around it.
//!
//! - [`broker`]: broker URLs (`mqtt://`, `mqtts://`, `ws://`, `wss://`).
//! - [`codec`]: every MQTT 3.1.1 and 5.0 control packet, encode and decode, zero-copy.
//! - [`topic`]: topic name and filter validation and matching.
//! - [`session`]: the client protocol as a deterministic state machine.
//!
//! This crate is the core alone: `no_std` + `alloc`, no I/O, no target-specific code. The
//! drivers are crates of their own beside it: `wasmqtt-tokio` (`drivers/tokio/`, tokio TCP),
//! `wasmqtt-wasi` (`drivers/wasi/`, WASI 0.2 sockets), `wasmqtt-browser` (`drivers/browser/`,
//! WebSocket through wasm-bindgen); the components that ship are `wasmqtt-provider` and
//! `wasmqtt-cli` (`components/`). The test command builds this crate for both wasm targets to
//! keep it that way.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod broker;
pub mod codec;
pub mod session;
pub mod topic;
mod vec_map;
