//! WebSocket through tungstenite, driven sans-I/O: tungstenite reads from and writes to an
//! in-memory [`Pipe`] whose reads return `WouldBlock` when it is empty, which tungstenite
//! handles as a non-blocking socket (the handshake is resumed, a read returns later).

use std::io::{self, Read, Write};

use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::ClientHandshake;
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::{HeaderName, HeaderValue};
use tungstenite::protocol::{frame::coding::CloseCode, CloseFrame};
use tungstenite::{Bytes, Error as WsError, Message, WebSocket};
use wasmqtt::broker::{Broker, DEFAULT_WEBSOCKET_PATH};
use wasmqtt::session::HandshakeFailure;

use crate::{ConfigError, TransportError, WebSocketOptions};

/// Checks the extra headers once, in [`Connector::new`](crate::Connector::new).
pub(crate) fn check_headers(opts: &WebSocketOptions) -> Result<(), ConfigError> {
    for (name, value) in &opts.headers {
        HeaderName::from_bytes(name.as_bytes()).map_err(|_| ConfigError::Header(name.clone()))?;
        HeaderValue::from_str(value).map_err(|_| ConfigError::Header(name.clone()))?;
    }
    Ok(())
}

/// The in-memory socket tungstenite sees.
#[derive(Debug, Default)]
pub(crate) struct Pipe {
    incoming: Vec<u8>,
    read_pos: usize,
    pub(crate) outgoing: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = &self.incoming[self.read_pos..];
        if available.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.read_pos += n;
        if self.read_pos == self.incoming.len() {
            self.incoming.clear();
            self.read_pos = 0;
        }
        Ok(n)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.outgoing.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

enum State {
    Handshaking(MidHandshake<ClientHandshake<Pipe>>),
    Open(WebSocket<Pipe>),
    /// After an error or a close; also the placeholder while a handshake step runs.
    Done(Pipe),
}

/// One WebSocket client connection over a [`Pipe`].
pub(crate) struct WsLayer {
    state: State,
    received_any: bool,
}

impl WsLayer {
    /// Starts the upgrade: the HTTP request is in the pipe's output right away.
    pub(crate) fn start(broker: &Broker, opts: &WebSocketOptions) -> Result<WsLayer, ConfigError> {
        let path = match broker.path.as_str() {
            "" => DEFAULT_WEBSOCKET_PATH.to_owned(),
            p if p.starts_with('/') => p.to_owned(),
            p => format!("/{p}"),
        };
        let scheme = if broker.scheme.is_tls() { "wss" } else { "ws" };
        let url = format!("{scheme}://{}{path}", broker.authority());
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| ConfigError::Request(format!("{url}: {e}")))?;
        let headers = request.headers_mut();
        headers.insert("Sec-WebSocket-Protocol", HeaderValue::from_static("mqtt"));
        for (name, value) in &opts.headers {
            let n = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| ConfigError::Header(name.clone()))?;
            let v = HeaderValue::from_str(value).map_err(|_| ConfigError::Header(name.clone()))?;
            headers.append(n, v);
        }
        let mid = ClientHandshake::start(Pipe::default(), request, None)
            .map_err(|e| ConfigError::Request(e.to_string()))?;
        let mut layer = WsLayer {
            state: State::Handshaking(mid),
            received_any: false,
        };
        // Writes the request into the pipe (nothing to read yet: WouldBlock).
        let mut ignored = Vec::new();
        layer
            .drive(&mut ignored)
            .map_err(|e| ConfigError::Request(e.to_string()))?;
        Ok(layer)
    }

    fn pipe(&mut self) -> &mut Pipe {
        match &mut self.state {
            State::Handshaking(mid) => mid.get_mut().get_mut(),
            State::Open(ws) => ws.get_mut(),
            State::Done(pipe) => pipe,
        }
    }

    pub(crate) fn is_open(&self) -> bool {
        matches!(self.state, State::Open(_))
    }

    /// Eats bytes from below (TCP or TLS); MQTT bytes are appended to `mqtt`.
    pub(crate) fn receive(
        &mut self,
        bytes: &[u8],
        mqtt: &mut Vec<u8>,
    ) -> Result<(), TransportError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.received_any = true;
        self.pipe().incoming.extend_from_slice(bytes);
        self.drive(mqtt)
    }

    /// Moves the bytes to send below (TCP or TLS) to `out`.
    pub(crate) fn take_output(&mut self, out: &mut Vec<u8>) {
        let pipe = self.pipe();
        if out.is_empty() {
            std::mem::swap(out, &mut pipe.outgoing);
        } else {
            out.append(&mut pipe.outgoing);
        }
    }

    /// Sends MQTT bytes as one binary message. Only when open.
    pub(crate) fn send(&mut self, mqtt: &[u8]) -> Result<(), TransportError> {
        let State::Open(ws) = &mut self.state else {
            return Err(TransportError::AlreadyClosed);
        };
        let result = ws.send(Message::Binary(Bytes::copy_from_slice(mqtt)));
        result.map_err(|e| self.fail(e, false))
    }

    /// A close frame (normal closure), when open.
    pub(crate) fn close(&mut self) {
        if let State::Open(ws) = &mut self.state {
            let _ = ws.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "".into(),
            }));
            let _ = ws.flush();
        }
    }

    /// The connection below ended.
    pub(crate) fn receive_eof(&mut self) -> Result<(), TransportError> {
        match self.state {
            State::Handshaking(_) => {
                let detail = if self.received_any {
                    "the broker closed the connection in the middle of its HTTP answer"
                } else {
                    "the broker closed the connection without an HTTP answer (is this a plain MQTT port?)"
                };
                let _ = self.take_state();
                Err(TransportError::handshake(
                    HandshakeFailure::WebSocketUpgrade,
                    detail,
                ))
            }
            _ => Ok(()),
        }
    }

    fn take_state(&mut self) -> State {
        let pipe = std::mem::take(self.pipe());
        std::mem::replace(&mut self.state, State::Done(pipe))
    }

    /// Runs the handshake or reads messages until the pipe is empty.
    fn drive(&mut self, mqtt: &mut Vec<u8>) -> Result<(), TransportError> {
        match std::mem::replace(&mut self.state, State::Done(Pipe::default())) {
            State::Handshaking(mid) => match mid.handshake() {
                Ok((ws, _response)) => self.state = State::Open(ws),
                Err(HandshakeError::Interrupted(mid)) => {
                    self.state = State::Handshaking(mid);
                    return Ok(());
                }
                Err(HandshakeError::Failure(e)) => return Err(self.fail(e, true)),
            },
            other => self.state = other,
        }
        let State::Open(ws) = &mut self.state else {
            return Err(TransportError::AlreadyClosed);
        };
        loop {
            match ws.read() {
                Ok(Message::Binary(data)) => mqtt.extend_from_slice(&data),
                Ok(Message::Text(_)) => {
                    let e = TransportError::handshake(
                        HandshakeFailure::WebSocket,
                        "the broker sent a text frame (MQTT uses binary frames)",
                    );
                    let _ = self.take_state();
                    return Err(e);
                }
                Ok(Message::Close(frame)) => {
                    // tungstenite queued the answering close frame: send it.
                    let _ = ws.flush();
                    let (code, reason) = match frame {
                        Some(f) => (u16::from(f.code), f.reason.to_string()),
                        None => (1005, String::new()),
                    };
                    let _ = self.take_state();
                    return Err(TransportError::Closed { code, reason });
                }
                Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
                Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(self.fail(e, false)),
            }
        }
        // Pongs tungstenite queued while reading.
        match ws.flush() {
            Ok(()) => Ok(()),
            Err(WsError::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(self.fail(e, false)),
        }
    }

    fn fail(&mut self, e: WsError, handshaking: bool) -> TransportError {
        let _ = self.take_state();
        let failure = if handshaking {
            HandshakeFailure::WebSocketUpgrade
        } else {
            HandshakeFailure::WebSocket
        };
        let detail = match e {
            WsError::Http(response) => format!(
                "the broker answered HTTP {} instead of 101 Switching Protocols",
                response.status()
            ),
            WsError::Protocol(tungstenite::error::ProtocolError::SecWebSocketSubProtocolError(
                e,
            )) => format!("the broker did not accept the `mqtt` subprotocol: {e}"),
            WsError::ConnectionClosed | WsError::AlreadyClosed => {
                return TransportError::AlreadyClosed
            }
            e => e.to_string(),
        };
        TransportError::handshake(failure, detail)
    }
}
