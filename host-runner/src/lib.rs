//! wasmqtt-host: a wasmtime 48 embedder for the wasmqtt components.
//!
//! - [`Runtime`]: the engine and a linker with WASI 0.2; loads components.
//! - [`NetworkPolicy`]: network access to exactly the broker's addresses and nothing else.
//! - [`Provider`] and [`Client`]: the provider component (`wasmqtt:mqtt/client`) instantiated
//!   through `bindgen!`, and the host's wrapper of its `client` resource, driven through typed
//!   calls (connect, publish, subscribe, unsubscribe, poll-event, disconnect) that answer with
//!   the WIT error or a host error.
//! - [`run_command`]: a `wasi:cli/run` command component (the wasmqtt CLI, or an app composed
//!   with the provider) with arguments, stdio and the same network policy.
//! - [`compose::plug`]: composes an app component with the provider (what `wac plug` does), as a
//!   library call.
//! - [`demo`]: the round trip `wasmqtt-host demo` shows, against an embedded rumqttd
//!   (`wasmqtt_testkit::rumqttd::Rumqttd`), a mosquitto TLS listener with a certificate made on
//!   the spot (`--tls`), or a given broker.
//!
//! Everything is synchronous: WASI 0.2 calls block the calling thread, and wasmtime-wasi's
//! synchronous bindings run their I/O on a private tokio runtime.

pub mod command;
pub mod compose;
pub mod demo;
pub mod p3;
pub mod policy;
pub mod provider;
pub mod runtime;

pub use command::{run_command, run_command_file, CommandConfig, ExitStatus};
pub use policy::{Denial, NetworkPolicy, StoreDirError};
pub use provider::{describe_error, error_code, types, Client, ClientError, Instance, Provider};
pub use runtime::{
    workspace_root, Allocation, Artifact, HostState, LoadedComponent, Runtime, Stdio,
};
