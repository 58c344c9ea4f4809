//! An embedded rumqttd broker (the `rumqttd` crate) for tests and the demo: a second real peer
//! besides mosquitto, with an MQTT 3.1.1 and an MQTT 5.0 listener on free loopback ports.
//!
//! ```ignore
//! use wasmqtt_testkit::rumqttd::Rumqttd;
//!
//! let broker = Rumqttd::start();            // or Rumqttd::shared() for one per process
//! let v4 = broker.v4_addr();                // 127.0.0.1:<port>, MQTT 3.1.1
//! let v5 = broker.addr(ProtocolVersion::V5); // 127.0.0.1:<port>, MQTT 5.0
//! ```
//!
//! The configuration is TOML (what rumqttd's own `rumqttd.toml` looks like), deserialised into
//! `rumqttd::Config` with the `config` crate. The broker runs on threads of its own: rumqttd has
//! no way to stop it, so it lives until the process ends. It keeps nothing on disk.
use crate::mosquitto::free_port;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use wasmqtt::codec::ProtocolVersion;

/// How long the broker may take to accept connections after it was started.
pub const START_DEADLINE: Duration = Duration::from_secs(10);

/// A running rumqttd broker.
#[derive(Debug, Clone, Copy)]
pub struct Rumqttd {
    v4: SocketAddr,
    v5: SocketAddr,
}

impl Rumqttd {
    /// Starts a broker with a 3.1.1 and a 5.0 listener on free loopback ports, and waits until
    /// both accept connections. Panics if that fails or takes longer than [`START_DEADLINE`].
    pub fn start() -> Self {
        Self::try_start().unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Rumqttd::start`], with an error instead of a panic (for `wasmqtt-host demo`).
    pub fn try_start() -> Result<Self, String> {
        let v4 = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let v5 = SocketAddr::from((Ipv4Addr::LOCALHOST, free_port()));
        let toml = config_toml(v4, v5);
        let config: rumqttd::Config = config::Config::builder()
            .add_source(config::File::from_str(&toml, config::FileFormat::Toml))
            .build()
            .and_then(config::Config::try_deserialize)
            .map_err(|e| format!("rumqttd configuration: {e}\n{toml}"))?;
        let mut broker = rumqttd::Broker::new(config);
        std::thread::Builder::new()
            .name(format!("rumqttd-{}", v4.port()))
            .spawn(move || {
                if let Err(e) = broker.start() {
                    eprintln!("rumqttd stopped: {e}");
                }
            })
            .map_err(|e| format!("spawning the rumqttd thread: {e}"))?;
        let deadline = Instant::now() + START_DEADLINE;
        for addr in [v4, v5] {
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if Instant::now() >= deadline {
                    return Err(format!(
                        "rumqttd did not accept connections on {addr} within {START_DEADLINE:?}"
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(Rumqttd { v4, v5 })
    }

    /// One broker for the whole test process, started on first use.
    pub fn shared() -> Self {
        static SHARED: OnceLock<Rumqttd> = OnceLock::new();
        *SHARED.get_or_init(Rumqttd::start)
    }

    /// The MQTT 3.1.1 listener.
    pub fn v4_addr(&self) -> SocketAddr {
        self.v4
    }

    /// The MQTT 5.0 listener.
    pub fn v5_addr(&self) -> SocketAddr {
        self.v5
    }

    /// The listener for `version`.
    pub fn addr(&self, version: ProtocolVersion) -> SocketAddr {
        match version {
            ProtocolVersion::V311 => self.v4,
            ProtocolVersion::V5 => self.v5,
        }
    }
}

/// rumqttd's configuration: a router, one listener per protocol version, no console, no
/// metrics. Limits are generous so that tests are not throttled.
fn config_toml(v4: SocketAddr, v5: SocketAddr) -> String {
    let connections = "connection_timeout_ms = 60000\n\
                       max_payload_size = 1048576\n\
                       max_inflight_count = 100\n\
                       dynamic_filters = true\n";
    format!(
        "id = 0\n\
         \n\
         [router]\n\
         id = 0\n\
         max_connections = 1000\n\
         max_outgoing_packet_count = 200\n\
         max_segment_size = 104857600\n\
         max_segment_count = 10\n\
         \n\
         [v4.1]\n\
         name = \"v4-1\"\n\
         listen = \"{v4}\"\n\
         next_connection_delay_ms = 1\n\
         [v4.1.connections]\n\
         {connections}\n\
         [v5.1]\n\
         name = \"v5-1\"\n\
         listen = \"{v5}\"\n\
         next_connection_delay_ms = 1\n\
         [v5.1.connections]\n\
         {connections}"
    )
}
