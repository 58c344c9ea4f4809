//! The WASI 0.3 provider component: exports `wasmqtt:mqtt/client@0.2.0` (wit/v0.2/mqtt.wit),
//! async functions and streams, over `wasi:sockets@0.3` TCP and `wasi:clocks@0.3`.
//!
//! The protocol is the core's session, as in every driver; this is its async loop. `connect`
//! starts one driver task per client (`wit_bindgen::spawn_local`: it goes on after `connect`
//! returned) that drains the session's outputs (bytes to the socket, events to whoever waits
//! for them) and then waits for the first of: bytes from the socket's reader task, an
//! application call (a wake-up on a channel), or the session's next deadline. The exported
//! calls only hand their request to the session and await a oneshot the driver completes.
//!
//! Subscriptions: each `subscribe` gets a stream and a writer task that moves its queue into
//! it; a QoS 1/2 message is acknowledged (the core's manual acknowledgement) once written into
//! the stream, so a reader that stops reading holds the broker back (its receive maximum) and
//! memory stays bounded; QoS 0 messages beyond the core's [`Qos0Budget::DEFAULT_MAX`] per stream
//! are dropped, counted and logged ([`Qos0Budget`], the rule every driver with a queue of its own
//! follows).
//!
//! [`Qos0Budget`]: wasmqtt::session::Qos0Budget
//! [`Qos0Budget::DEFAULT_MAX`]: wasmqtt::session::Qos0Budget::DEFAULT_MAX
//!
//! Built for wasm32-wasip2 with the `wasip3` bindings (this toolchain has no wasm32-wasip3
//! target): `cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider-p3`.

#[cfg(target_arch = "wasm32")]
mod provider;
