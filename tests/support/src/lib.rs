//! `wasmqtt-testkit`: the real brokers every test, bench and demo of wasmqtt runs against, in one
//! place.
//!
//! - [`mosquitto::Mosquitto`]: a real mosquitto on free loopback ports (TCP and optionally
//!   WebSocket), with `port()`, `ws_port()`, `addr()`, `stop()` (SIGTERM, persistence saved),
//!   `restart()` (same port, same persistence directory) and `kill()`.
//! - [`certs::TestCerts`]: a CA, server, client, expired and unrelated-CA certificates as PEM
//!   files, generated at test time, for mosquitto's TLS listeners.
//! - [`rumqttd::Rumqttd`]: an embedded rumqttd with an MQTT 3.1.1 and an MQTT 5.0 listener (the
//!   second real peer of the tests, and the broker of `wasmqtt-host demo`).
//! - [`crash`]: the child-process pieces of the SIGKILL crash tests.
//! - [`proxy::Proxy`]: a TCP proxy between a client and a broker that can black-hole the line,
//!   stop reading the client's writes, cut both sides, and records the wire.
//!
//! Used by the root crate's integration tests (`tests/`), the driver tests, and `host-runner`
//! (its tests, its bench and its embedded demo broker).
//!
//! ```ignore
//! use wasmqtt_testkit::mosquitto::Mosquitto;
//!
//! let mut broker = Mosquitto::start();          // or Mosquitto::with_websockets()
//! let stream = broker.connect();                // std TcpStream to broker.addr(), with timeouts
//! broker.restart();                             // same port, same persistence directory
//! ```

pub mod certs;
pub mod crash;
pub mod mosquitto;
pub mod packets;
pub mod proxy;
pub mod rumqttd;
