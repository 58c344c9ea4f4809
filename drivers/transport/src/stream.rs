//! [`Stream`]: one connection's layers (TLS, WebSocket, both or none), bytes in, bytes out.

use crate::TransportError;

#[cfg(feature = "tls13")]
use crate::tls::TlsLayer;
#[cfg(feature = "websocket")]
use crate::websocket::WsLayer;

/// A sans-I/O transport for one connection: no socket, no clock.
///
/// The driver's loop: bytes read from the socket go to [`Stream::receive`]; MQTT bytes for the
/// session come out of [`Stream::read_mqtt`]; MQTT bytes from the session (`Output::Transmit`)
/// go to [`Stream::send_mqtt`]; bytes for the socket come out of [`Stream::take_network`]
/// (check [`Stream::has_network_output`] after every call, including right after
/// [`Connector::start`](crate::Connector::start): the TLS ClientHello or HTTP upgrade request
/// is waiting there). MQTT bytes sent before the handshakes are done are buffered, so the
/// driver can call `Session::handle_connected` as soon as TCP connects.
pub struct Stream {
    #[cfg(feature = "tls13")]
    tls: Option<TlsLayer>,
    #[cfg(feature = "websocket")]
    ws: Option<WsLayer>,
    /// MQTT bytes for the session.
    mqtt_in: Vec<u8>,
    /// Bytes for the socket.
    network_out: Vec<u8>,
    /// MQTT bytes sent before the handshakes finished.
    pending: Vec<u8>,
    max_pending: usize,
    established: bool,
    /// Set after an error or `close`.
    dead: Option<TransportError>,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Stream");
        #[cfg(feature = "tls13")]
        d.field("tls", &self.tls.is_some());
        #[cfg(feature = "websocket")]
        d.field("websocket", &self.ws.is_some());
        d.field("established", &self.established)
            .field("pending", &self.pending.len())
            .field("mqtt_in", &self.mqtt_in.len())
            .field("network_out", &self.network_out.len())
            .field("dead", &self.dead)
            .finish()
    }
}

impl Stream {
    pub(crate) fn new(
        #[cfg(feature = "tls13")] tls: Option<TlsLayer>,
        #[cfg(feature = "websocket")] ws: Option<WsLayer>,
        max_pending: usize,
    ) -> Stream {
        let mut stream = Stream {
            #[cfg(feature = "tls13")]
            tls,
            #[cfg(feature = "websocket")]
            ws,
            mqtt_in: Vec::new(),
            network_out: Vec::new(),
            pending: Vec::new(),
            max_pending,
            established: false,
            dead: None,
        };
        stream.flush_layers();
        stream.update_established();
        stream
    }

    /// Whether every handshake is done (always true for `mqtt://`).
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// Eats bytes read from the socket. Afterwards: [`Stream::read_mqtt`] and
    /// [`Stream::take_network`] (a handshake step, a pong).
    ///
    /// After [`Stream::close`], what the broker still sends (its close frame, its
    /// close_notify) is accepted and dropped.
    pub fn receive(&mut self, network_bytes: &[u8]) -> Result<(), TransportError> {
        if self.dead == Some(TransportError::AlreadyClosed) {
            return Ok(());
        }
        self.check_alive()?;
        let result = self.receive_inner(network_bytes);
        self.flush_layers();
        if let Err(e) = &result {
            self.dead = Some(e.clone());
        }
        result
    }

    fn receive_inner(&mut self, network_bytes: &[u8]) -> Result<(), TransportError> {
        #[cfg(feature = "tls13")]
        if let Some(tls) = &mut self.tls {
            #[cfg(feature = "websocket")]
            if self.ws.is_some() {
                let mut decrypted = Vec::new();
                tls.receive(network_bytes, &mut decrypted)?;
                return self.ws_receive(&decrypted);
            }
            // TLS alone: decrypted straight into the MQTT input.
            tls.receive(network_bytes, &mut self.mqtt_in)?;
            self.update_established();
            return self.send_pending();
        }
        #[cfg(feature = "websocket")]
        if self.ws.is_some() {
            return self.ws_receive(network_bytes);
        }
        self.mqtt_in.extend_from_slice(network_bytes);
        self.update_established();
        self.send_pending()
    }

    #[cfg(feature = "websocket")]
    fn ws_receive(&mut self, plain: &[u8]) -> Result<(), TransportError> {
        if let Some(ws) = &mut self.ws {
            let r = ws.receive(plain, &mut self.mqtt_in);
            self.flush_layers();
            r?;
        }
        self.update_established();
        self.send_pending()
    }

    /// Moves the MQTT bytes received so far to `out` (for `Session::handle_bytes`); without a
    /// copy when `out` is empty. Also after an error: what arrived before it.
    pub fn read_mqtt(&mut self, out: &mut Vec<u8>) {
        move_bytes(&mut self.mqtt_in, out);
    }

    /// Sends MQTT bytes (from `Output::Transmit`): into the network output once the handshakes
    /// are done, buffered before (at most `max_handshake_buffer` bytes).
    pub fn send_mqtt(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        self.check_alive()?;
        if !self.established {
            if self.pending.len() + bytes.len() > self.max_pending {
                return Err(TransportError::BufferFull {
                    limit: self.max_pending,
                });
            }
            self.pending.extend_from_slice(bytes);
            return Ok(());
        }
        let result = self.send_established(bytes);
        self.flush_layers();
        if let Err(e) = &result {
            self.dead = Some(e.clone());
        }
        result
    }

    fn send_established(&mut self, bytes: &[u8]) -> Result<(), TransportError> {
        if bytes.is_empty() {
            return Ok(());
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            return ws.send(bytes);
        }
        #[cfg(feature = "tls13")]
        if let Some(tls) = &mut self.tls {
            tls.send(bytes);
            return Ok(());
        }
        self.network_out.extend_from_slice(bytes);
        Ok(())
    }

    fn send_pending(&mut self) -> Result<(), TransportError> {
        if self.established && !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            self.send_established(&pending)?;
        }
        Ok(())
    }

    /// Moves the bytes to write to the socket to `out`; without a copy when `out` is empty.
    pub fn take_network(&mut self, out: &mut Vec<u8>) {
        self.flush_layers();
        move_bytes(&mut self.network_out, out);
    }

    /// Whether there are bytes to write to the socket.
    pub fn has_network_output(&self) -> bool {
        !self.network_out.is_empty()
    }

    /// Closes gracefully: a WebSocket close frame and a TLS close_notify go to the network
    /// output (nothing for `mqtt://`). Later sends fail with
    /// [`TransportError::AlreadyClosed`].
    pub fn close(&mut self) {
        if self.dead.is_some() {
            return;
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            ws.close();
        }
        self.flush_layers();
        #[cfg(feature = "tls13")]
        if let Some(tls) = &mut self.tls {
            tls.close();
        }
        self.flush_layers();
        self.dead = Some(TransportError::AlreadyClosed);
    }

    /// The socket reached end of file. An error when a handshake was still running (the
    /// broker hung up on it: a plain port, a refused client certificate, ...).
    pub fn receive_eof(&mut self) -> Result<(), TransportError> {
        if let Some(e) = &self.dead {
            return match e {
                TransportError::AlreadyClosed => Ok(()),
                e => Err(e.clone()),
            };
        }
        let result = self.eof_inner();
        if let Err(e) = &result {
            self.dead = Some(e.clone());
        }
        result
    }

    fn eof_inner(&mut self) -> Result<(), TransportError> {
        #[cfg(feature = "tls13")]
        if let Some(tls) = &self.tls {
            if tls.is_handshaking() {
                use wasmqtt::session::HandshakeFailure;
                return Err(if tls.has_received() {
                    TransportError::handshake(
                        HandshakeFailure::Tls,
                        "the broker closed the connection during the TLS handshake",
                    )
                } else {
                    TransportError::handshake(
                        HandshakeFailure::NotTls,
                        "the broker closed the connection without a TLS answer (is this a plain-text port?)",
                    )
                });
            }
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            ws.receive_eof()?;
        }
        Ok(())
    }

    fn check_alive(&self) -> Result<(), TransportError> {
        match &self.dead {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn update_established(&mut self) {
        #[allow(unused_mut)]
        let mut done = true;
        #[cfg(feature = "tls13")]
        if let Some(tls) = &self.tls {
            done &= !tls.is_handshaking();
        }
        #[cfg(feature = "websocket")]
        if let Some(ws) = &self.ws {
            done &= ws.is_open();
        }
        self.established = done;
    }

    /// Moves bytes down the layers: WebSocket output into TLS, TLS output to the network.
    fn flush_layers(&mut self) {
        #[cfg(feature = "websocket")]
        if let Some(ws) = &mut self.ws {
            #[cfg(feature = "tls13")]
            if let Some(tls) = &mut self.tls {
                let mut plain = Vec::new();
                ws.take_output(&mut plain);
                if !plain.is_empty() {
                    tls.send(&plain);
                }
            } else {
                ws.take_output(&mut self.network_out);
            }
            #[cfg(not(feature = "tls13"))]
            ws.take_output(&mut self.network_out);
        }
        #[cfg(feature = "tls13")]
        if let Some(tls) = &mut self.tls {
            tls.take_network(&mut self.network_out);
        }
    }
}

fn move_bytes(from: &mut Vec<u8>, to: &mut Vec<u8>) {
    if to.is_empty() {
        std::mem::swap(from, to);
    } else {
        to.append(from);
    }
}
