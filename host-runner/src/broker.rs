//! An embedded rumqttd broker, so that `wasmqtt-host demo` needs no broker installed.
//!
//! Two listeners on free loopback ports: MQTT 3.1.1 (rumqttd's `v4`) and MQTT 5.0 (`v5`). The
//! configuration is TOML deserialised with the `config` crate, as rumqttd's own binary does.
//! rumqttd has no shutdown: the broker's threads run until the process ends.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

/// A running embedded broker.
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedBroker {
    /// The MQTT 3.1.1 listener.
    pub v311: SocketAddr,
    /// The MQTT 5.0 listener.
    pub v5: SocketAddr,
}

impl EmbeddedBroker {
    /// Starts rumqttd on two free loopback ports and waits until both accept connections.
    pub fn start() -> anyhow::Result<Self> {
        // Hold both listeners until both ports are known, so they differ.
        let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
        let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
        let (v311, v5) = (a.local_addr()?, b.local_addr()?);
        drop((a, b));
        let config: rumqttd::Config = config::Config::builder()
            .add_source(config::File::from_str(
                &config_toml(v311, v5),
                config::FileFormat::Toml,
            ))
            .build()
            .and_then(|c| c.try_deserialize())
            .context("building the rumqttd configuration")?;
        let mut broker = rumqttd::Broker::new(config);
        thread::Builder::new()
            .name("rumqttd".into())
            .spawn(move || {
                if let Err(e) = broker.start() {
                    eprintln!("rumqttd stopped: {e}");
                }
            })
            .context("spawning the broker thread")?;
        let deadline = Instant::now() + Duration::from_secs(10);
        for addr in [v311, v5] {
            while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
                if Instant::now() > deadline {
                    bail!("the embedded rumqttd broker did not listen on {addr} within 10 s");
                }
                thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(Self { v311, v5 })
    }
}

/// rumqttd's configuration: a router sized for a demo, one v4 and one v5 listener on loopback.
fn config_toml(v311: SocketAddr, v5: SocketAddr) -> String {
    format!(
        r#"
id = 0

[router]
id = 0
max_connections = 100
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "{v311}"
next_connection_delay_ms = 1
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 100
    dynamic_filters = true

[v5.1]
name = "v5-1"
listen = "{v5}"
next_connection_delay_ms = 1
    [v5.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 100
    dynamic_filters = true
"#
    )
}
