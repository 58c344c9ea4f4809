//! `wasmqtt-transport`: TLS and WebSocket for wasmqtt's drivers, sans-I/O (bytes in, bytes out,
//! no socket, no clock), one implementation for the tokio driver and the WASI component.
//!
//! It sits between the core session (`Output::Transmit`, `Session::handle_bytes`) and the
//! socket:
//!
//! ```text
//! Session ──send_mqtt──▶ [WebSocket] ──▶ [TLS] ──take_network──▶ socket
//! Session ◀─read_mqtt─── [WebSocket] ◀── [TLS] ◀──receive─────── socket
//! ```
//!
//! Features (none by default; `mqtt://` works without any):
//! - `tls`: rustls 0.23 with the ring provider, TLS 1.2 and 1.3 (`mqtts://`, `wss://`);
//! - `webpki-roots`: Mozilla's root certificates built in ([`TlsOptions::webpki_roots`]);
//! - `websocket`: tungstenite's client handshake and framing (`ws://`, `wss://`), subprotocol
//!   `mqtt`, binary frames.
//!
//! ```ignore
//! let connector = Connector::new(&TransportOptions::default())?;
//! let mut stream = connector.start(&broker)?;
//! // after TCP connects: session.handle_connected(now); then loop:
//! stream.send_mqtt(&transmit)?;           // Output::Transmit
//! stream.take_network(&mut to_socket);    // write these
//! stream.receive(&from_socket)?;          // what the socket read
//! stream.read_mqtt(&mut mqtt);            // session.handle_bytes(now, &mqtt)
//! // on a TransportError e: if let Some(f) = e.failure() { session.handle_handshake_failed(now, f, e.to_string()) }
//! ```

#![warn(missing_docs)]

mod error;
mod options;
mod stream;
#[cfg(feature = "tls13")]
mod tls;
#[cfg(feature = "websocket")]
mod websocket;

use std::sync::Arc;

use wasmqtt::broker::Broker;

pub use error::{ConfigError, TransportError};
pub use options::{
    TlsOptions, TlsVersion, TransportOptions, WebSocketOptions, DEFAULT_MAX_HANDSHAKE_BUFFER,
};
pub use stream::Stream;

/// Starts [`Stream`]s; holds the TLS client configuration, built once. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Connector {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    #[cfg(feature = "tls13")]
    tls: tls::TlsConfig,
    #[cfg(feature = "websocket")]
    websocket: WebSocketOptions,
    max_handshake_buffer: usize,
}

impl Connector {
    /// Checks the options and builds the TLS configuration (PEM parsing, client certificate,
    /// ALPN, versions). A missing trust anchor is reported by [`Connector::start`] for TLS
    /// brokers only.
    pub fn new(options: &TransportOptions) -> Result<Connector, ConfigError> {
        #[cfg(feature = "websocket")]
        websocket::check_headers(&options.websocket)?;
        Ok(Connector {
            inner: Arc::new(Inner {
                #[cfg(feature = "tls13")]
                tls: tls::TlsConfig::new(&options.tls)?,
                #[cfg(feature = "websocket")]
                websocket: options.websocket.clone(),
                max_handshake_buffer: options.max_handshake_buffer,
            }),
        })
    }

    /// A new stream for one connection to `broker`, according to its scheme. The first bytes
    /// to write (ClientHello, HTTP upgrade request) are in its network output at once.
    pub fn start(&self, broker: &Broker) -> Result<Stream, ConfigError> {
        let scheme = broker.scheme;
        #[cfg(not(feature = "tls13"))]
        if scheme.is_tls() {
            return Err(ConfigError::Unsupported {
                scheme: scheme.as_str(),
                feature: "tls",
            });
        }
        #[cfg(not(feature = "websocket"))]
        if scheme.is_websocket() {
            return Err(ConfigError::Unsupported {
                scheme: scheme.as_str(),
                feature: "websocket",
            });
        }
        #[cfg(feature = "tls13")]
        let tls = match scheme.is_tls() {
            true => Some(self.inner.tls.start(&broker.host)?),
            false => None,
        };
        #[cfg(feature = "websocket")]
        let ws = match scheme.is_websocket() {
            true => Some(websocket::WsLayer::start(broker, &self.inner.websocket)?),
            false => None,
        };
        Ok(Stream::new(
            #[cfg(feature = "tls13")]
            tls,
            #[cfg(feature = "websocket")]
            ws,
            self.inner.max_handshake_buffer,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}

    /// Drivers keep these in spawned tasks (tokio) and share the connector.
    #[test]
    fn the_types_drivers_hold_are_send_and_sync() {
        send_sync::<Connector>();
        send_sync::<Stream>();
        send_sync::<TransportError>();
        send_sync::<ConfigError>();
    }
}
