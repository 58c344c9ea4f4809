//! # wasmqtt
//!
//! An MQTT 3.1.1 and 5.0 client whose one protocol core runs everywhere WebAssembly runs.
//!
//! The core is sans-I/O: it never touches sockets, clocks or an async runtime. Bytes and time
//! go in; bytes, deadlines and events come out. Drivers (the WASI component, the browser build,
//! the native driver) are thin loops around it.
//!
//! - [`codec`]: every MQTT 3.1.1 and 5.0 control packet, encode and decode, zero-copy.
//! - [`topic`]: topic name and filter validation and matching.
//! - [`session`]: the client protocol as a deterministic state machine.
//! - `native` (cargo feature `native`): the async driver on tokio TCP, for plain Rust users.
//! - `browser` (wasm32-unknown-unknown): MQTT over WebSocket with a Promise API for JavaScript,
//!   through wasm-bindgen (see `web-demo/`).
//!
//! The core modules use only `core` and `alloc`; the test command builds the library with
//! `--no-default-features` as a `no_std` rlib for both wasm targets to keep it that way.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

#[cfg(all(target_arch = "wasm32", target_os = "unknown", feature = "std"))]
#[allow(unsafe_code)] // wasm-bindgen glue
pub mod browser;
pub mod codec;
#[cfg(feature = "native")]
pub mod native;
#[cfg(all(target_arch = "wasm32", target_os = "wasi", feature = "provider"))]
#[allow(unsafe_code)] // wit-bindgen glue
mod provider;
pub mod session;
pub mod topic;
#[cfg(all(target_arch = "wasm32", target_os = "wasi", feature = "std"))]
pub mod wasi;
