//! The layer between the session and the TCP socket: `wasmqtt-transport`'s TLS / WebSocket
//! [`Stream`](wasmqtt_transport::Stream) with the `tls` or `websocket` feature, a pass-through
//! without them (the plain build carries no transport code at all).
//!
//! Both offer the same calls, so the driver's loop is one piece of code: [`Layer::receive`]
//! what the socket read, [`Layer::read_mqtt`] for the session, [`Layer::send_mqtt`] what the
//! session transmits, [`Layer::take_network`] for the socket.

use alloc::string::String;
use alloc::vec::Vec;
use wasmqtt::broker::{Broker, Scheme};

/// The cargo feature a scheme needs that this build lacks, if any.
pub(crate) fn missing_feature(scheme: Scheme) -> Option<&'static str> {
    if scheme.is_tls() && !cfg!(feature = "tls") {
        Some("tls")
    } else if scheme.is_websocket() && !cfg!(feature = "websocket") {
        Some("websocket")
    } else {
        None
    }
}

#[cfg(any(feature = "tls", feature = "websocket"))]
mod imp {
    use super::*;
    use wasmqtt::session::HandshakeFailure;
    pub(crate) use wasmqtt_transport::{ConfigError, Connector, TransportError, TransportOptions};

    /// Builds streams; holds the TLS configuration.
    pub(crate) struct Layers(Connector);

    impl Layers {
        pub(crate) fn new(options: &TransportOptions) -> Result<Layers, ConfigError> {
            Connector::new(options).map(Layers)
        }

        pub(crate) fn start(&self, broker: &Broker) -> Result<Layer, ConfigError> {
            self.0.start(broker).map(Layer)
        }
    }

    /// One connection's TLS / WebSocket stream.
    pub(crate) struct Layer(wasmqtt_transport::Stream);

    /// Why the layer failed: what the session is told.
    pub(crate) enum Failure {
        /// A TLS or WebSocket failure: `Session::handle_handshake_failed`.
        Handshake(HandshakeFailure, String),
        /// Anything else: `Session::handle_disconnected_with`.
        Lost(String),
    }

    impl From<TransportError> for Failure {
        fn from(e: TransportError) -> Failure {
            match (&e, e.failure()) {
                (TransportError::Handshake { detail, .. }, Some(f)) => {
                    Failure::Handshake(f, detail.clone())
                }
                (_, Some(f)) => Failure::Handshake(f, alloc::string::ToString::to_string(&e)),
                (_, None) => Failure::Lost(alloc::string::ToString::to_string(&e)),
            }
        }
    }

    impl Layer {
        pub(crate) fn receive(&mut self, bytes: &[u8]) -> Result<(), Failure> {
            self.0.receive(bytes).map_err(Failure::from)
        }

        pub(crate) fn receive_eof(&mut self) -> Result<(), Failure> {
            self.0.receive_eof().map_err(Failure::from)
        }

        pub(crate) fn read_mqtt(&mut self, out: &mut Vec<u8>) {
            self.0.read_mqtt(out)
        }

        pub(crate) fn send_mqtt(&mut self, bytes: &[u8]) -> Result<(), Failure> {
            self.0.send_mqtt(bytes).map_err(Failure::from)
        }

        pub(crate) fn take_network(&mut self, out: &mut Vec<u8>) {
            self.0.take_network(out)
        }

        pub(crate) fn close(&mut self) {
            self.0.close()
        }
    }
}

#[cfg(not(any(feature = "tls", feature = "websocket")))]
mod imp {
    use super::*;

    /// Nothing to configure in the plain build.
    pub(crate) struct Layers;

    /// The plain build's layer: MQTT bytes are the network bytes.
    pub(crate) struct Layer {
        mqtt_in: Vec<u8>,
        network_out: Vec<u8>,
    }

    /// Why the connection failed (the plain layer never fails by itself).
    pub(crate) enum Failure {
        /// The socket failed or closed: `Session::handle_disconnected_with`.
        Lost(String),
    }

    impl Layers {
        pub(crate) fn start(&self, _broker: &Broker) -> Result<Layer, core::convert::Infallible> {
            Ok(Layer {
                mqtt_in: Vec::new(),
                network_out: Vec::new(),
            })
        }
    }

    fn move_bytes(from: &mut Vec<u8>, to: &mut Vec<u8>) {
        if to.is_empty() {
            core::mem::swap(from, to);
        } else {
            to.append(from);
        }
    }

    impl Layer {
        pub(crate) fn receive(&mut self, bytes: &[u8]) -> Result<(), Failure> {
            self.mqtt_in.extend_from_slice(bytes);
            Ok(())
        }

        pub(crate) fn receive_eof(&mut self) -> Result<(), Failure> {
            Ok(())
        }

        pub(crate) fn read_mqtt(&mut self, out: &mut Vec<u8>) {
            move_bytes(&mut self.mqtt_in, out)
        }

        pub(crate) fn send_mqtt(&mut self, bytes: &[u8]) -> Result<(), Failure> {
            self.network_out.extend_from_slice(bytes);
            Ok(())
        }

        pub(crate) fn take_network(&mut self, out: &mut Vec<u8>) {
            move_bytes(&mut self.network_out, out)
        }

        pub(crate) fn close(&mut self) {}
    }
}

pub(crate) use imp::*;
