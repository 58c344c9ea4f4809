//! TCP over `wasi:sockets`: name lookup, connect, non-blocking reads, complete writes.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasip2::clocks::monotonic_clock;
use wasip2::io::poll;
use wasip2::io::streams::{InputStream, OutputStream, StreamError};
use wasip2::sockets::network::{
    ErrorCode, IpAddress, IpAddressFamily, IpSocketAddress, Ipv4SocketAddress, Ipv6SocketAddress,
};
use wasip2::sockets::tcp::TcpSocket;
use wasip2::sockets::{instance_network, ip_name_lookup, tcp_create_socket};

/// An open TCP connection. Field order matters: the streams are dropped before the socket.
pub(crate) struct Tcp {
    pub(crate) input: InputStream,
    pub(crate) output: OutputStream,
    _socket: TcpSocket,
}

/// How opening a transport ended.
pub(crate) enum Open {
    /// Connected.
    Connected(Tcp),
    /// Lookup or connect failed: why.
    Failed(String),
    /// The deadline passed first.
    Deadline,
}

/// Why a read ended the connection.
pub(crate) enum ReadError {
    /// The broker closed its side (end of file).
    Closed,
    /// The stream failed: why.
    Failed(String),
}

/// Most bytes asked of one read.
const READ_CHUNK: u64 = 64 * 1024;

impl Tcp {
    /// Resolves `host` and connects to the first address that accepts, giving up at the
    /// monotonic-clock instant `deadline` (ns).
    pub(crate) fn connect(host: &str, port: u16, deadline: Option<u64>) -> Open {
        let network = instance_network::instance_network();
        let addresses = match resolve(&network, host) {
            Ok(a) => a,
            Err(e) => return Open::Failed(e),
        };
        let mut last = String::from("no address");
        for ip in addresses {
            let (family, remote) = match ip {
                IpAddress::Ipv4(address) => (
                    IpAddressFamily::Ipv4,
                    IpSocketAddress::Ipv4(Ipv4SocketAddress { port, address }),
                ),
                IpAddress::Ipv6(address) => (
                    IpAddressFamily::Ipv6,
                    IpSocketAddress::Ipv6(Ipv6SocketAddress {
                        port,
                        flow_info: 0,
                        address,
                        scope_id: 0,
                    }),
                ),
            };
            let socket = match tcp_create_socket::create_tcp_socket(family) {
                Ok(s) => s,
                Err(e) => {
                    last = describe(e);
                    continue;
                }
            };
            if let Err(e) = socket.start_connect(&network, remote) {
                last = describe(e);
                continue;
            }
            let result = loop {
                let ready = socket.subscribe();
                if let Some(at) = deadline {
                    let timer = monotonic_clock::subscribe_instant(at);
                    if poll::poll(&[&ready, &timer]) == [1] {
                        return Open::Deadline;
                    }
                } else {
                    ready.block();
                }
                drop(ready);
                match socket.finish_connect() {
                    Err(ErrorCode::WouldBlock) => continue,
                    other => break other,
                }
            };
            match result {
                Ok((input, output)) => {
                    let _ = socket.set_keep_alive_enabled(true);
                    return Open::Connected(Tcp {
                        input,
                        output,
                        _socket: socket,
                    });
                }
                Err(e) => last = describe(e),
            }
        }
        Open::Failed(format!("cannot connect to {host}:{port}: {last}"))
    }

    /// Reads what has arrived, without waiting.
    pub(crate) fn read_available(&self) -> Result<Vec<u8>, ReadError> {
        match self.input.read(READ_CHUNK) {
            Ok(bytes) => Ok(bytes),
            Err(StreamError::Closed) => Err(ReadError::Closed),
            Err(StreamError::LastOperationFailed(e)) => Err(ReadError::Failed(e.to_debug_string())),
        }
    }

    /// Writes as much of `bytes` as the stream takes right now, without waiting; returns how
    /// many bytes it took.
    pub(crate) fn write_some(&self, bytes: &[u8]) -> Result<usize, String> {
        let err = |e: StreamError| match e {
            StreamError::Closed => "closed by the broker".to_string(),
            StreamError::LastOperationFailed(e) => e.to_debug_string(),
        };
        let permitted = self.output.check_write().map_err(err)?;
        let n = bytes.len().min(permitted as usize);
        if n > 0 {
            self.output.write(&bytes[..n]).map_err(err)?;
            self.output.flush().map_err(err)?;
        }
        Ok(n)
    }

    /// Writes all of `bytes`, waiting for the stream as needed, then starts a flush.
    pub(crate) fn write_all(&self, mut bytes: &[u8]) -> Result<(), String> {
        let err = |e: StreamError| match e {
            StreamError::Closed => "closed by the broker".to_string(),
            StreamError::LastOperationFailed(e) => e.to_debug_string(),
        };
        while !bytes.is_empty() {
            let permitted = self.output.check_write().map_err(err)?;
            if permitted == 0 {
                let ready = self.output.subscribe();
                ready.block();
                continue;
            }
            let n = bytes.len().min(permitted as usize);
            self.output.write(&bytes[..n]).map_err(err)?;
            bytes = &bytes[n..];
        }
        self.output.flush().map_err(err)
    }
}

fn resolve(
    network: &wasip2::sockets::network::Network,
    host: &str,
) -> Result<Vec<IpAddress>, String> {
    if let Ok(ip) = host.parse::<core::net::IpAddr>() {
        return Ok(alloc::vec![match ip {
            core::net::IpAddr::V4(v4) => {
                let o = v4.octets();
                IpAddress::Ipv4((o[0], o[1], o[2], o[3]))
            }
            core::net::IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddress::Ipv6((s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]))
            }
        }]);
    }
    let stream = ip_name_lookup::resolve_addresses(network, host)
        .map_err(|e| format!("cannot resolve {host}: {}", describe(e)))?;
    let mut out = Vec::new();
    loop {
        match stream.resolve_next_address() {
            Ok(Some(ip)) => out.push(ip),
            Ok(None) => break,
            Err(ErrorCode::WouldBlock) => {
                let ready = stream.subscribe();
                ready.block();
            }
            Err(e) => return Err(format!("cannot resolve {host}: {}", describe(e))),
        }
    }
    if out.is_empty() {
        return Err(format!("{host} has no address"));
    }
    Ok(out)
}

fn describe(e: ErrorCode) -> String {
    match e {
        ErrorCode::AccessDenied => "access denied by the host's network policy".to_string(),
        ErrorCode::ConnectionRefused => "connection refused".to_string(),
        other => format!("{other}"),
    }
}
