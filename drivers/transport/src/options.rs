//! What a [`Connector`](crate::Connector) is configured with.

/// Everything the transport layer needs besides the broker address.
#[derive(Debug, Clone)]
pub struct TransportOptions {
    /// TLS settings, used for `mqtts://` and `wss://` brokers.
    pub tls: TlsOptions,
    /// WebSocket settings, used for `ws://` and `wss://` brokers.
    pub websocket: WebSocketOptions,
    /// The most MQTT bytes [`Stream::send_mqtt`](crate::Stream::send_mqtt) buffers while the
    /// TLS / WebSocket handshakes are still running; more is an error
    /// ([`TransportError::BufferFull`](crate::TransportError::BufferFull)). Default 1 MiB.
    pub max_handshake_buffer: usize,
}

/// The default of [`TransportOptions::max_handshake_buffer`]: 1 MiB.
pub const DEFAULT_MAX_HANDSHAKE_BUFFER: usize = 1024 * 1024;

impl Default for TransportOptions {
    fn default() -> Self {
        TransportOptions {
            tls: TlsOptions::default(),
            websocket: WebSocketOptions::default(),
            max_handshake_buffer: DEFAULT_MAX_HANDSHAKE_BUFFER,
        }
    }
}

/// A TLS protocol version, for [`TlsOptions::min_version`] and [`TlsOptions::max_version`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// TLS settings. Nothing is trusted by default: give a CA bundle ([`TlsOptions::ca_pem`]) or
/// turn on the built-in roots ([`TlsOptions::webpki_roots`], feature `webpki-roots`).
#[derive(Clone, Default)]
pub struct TlsOptions {
    /// CA certificates (PEM, one or several) that the broker's chain must lead to.
    pub ca_pem: Option<Vec<u8>>,
    /// Also trust Mozilla's root certificates, built in (feature `webpki-roots`).
    #[cfg(feature = "webpki-roots")]
    pub webpki_roots: bool,
    /// The client certificate chain (PEM, leaf first) for mutual TLS; needs
    /// [`TlsOptions::client_key_pem`].
    pub client_cert_pem: Option<Vec<u8>>,
    /// The client certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub client_key_pem: Option<Vec<u8>>,
    /// ALPN protocols to offer, e.g. `["mqtt"]` (AWS IoT on port 443). Empty: no ALPN.
    pub alpn: Vec<String>,
    /// The name sent as SNI and verified against the certificate, instead of the broker's host.
    /// An IP address (given here or as the host) is verified against the certificate's IP
    /// address SANs, and no SNI is sent.
    pub server_name: Option<String>,
    /// The oldest TLS version to accept; `None`: TLS 1.2.
    pub min_version: Option<TlsVersion>,
    /// The newest TLS version to offer; `None`: TLS 1.3.
    pub max_version: Option<TlsVersion>,
    /// DANGEROUS: accept a certificate that is not valid for the host name (what mosquitto's
    /// `--insecure` does). The chain is still verified against the trusted CAs.
    pub dangerous_skip_hostname_verification: bool,
    /// DANGEROUS: accept any certificate at all, trusted or not: anyone on the path can read
    /// and change the traffic. For tests against self-signed brokers only.
    pub dangerous_accept_any_certificate: bool,
}

impl std::fmt::Debug for TlsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("TlsOptions");
        d.field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()));
        #[cfg(feature = "webpki-roots")]
        d.field("webpki_roots", &self.webpki_roots);
        // The key stays out of logs.
        d.field(
            "client_cert_pem",
            &self.client_cert_pem.as_ref().map(|p| p.len()),
        )
        .field(
            "client_key_pem",
            &self.client_key_pem.as_ref().map(|_| "<redacted>"),
        )
        .field("alpn", &self.alpn)
        .field("server_name", &self.server_name)
        .field("min_version", &self.min_version)
        .field("max_version", &self.max_version)
        .field(
            "dangerous_skip_hostname_verification",
            &self.dangerous_skip_hostname_verification,
        )
        .field(
            "dangerous_accept_any_certificate",
            &self.dangerous_accept_any_certificate,
        )
        .finish()
    }
}

/// WebSocket settings. The request path is the broker's ([`wasmqtt::broker::Broker::path`]);
/// the subprotocol `mqtt` is always requested, and the broker must accept it.
#[derive(Clone, Default)]
pub struct WebSocketOptions {
    /// Extra HTTP headers for the upgrade request, e.g. `("Authorization", "Bearer …")`.
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for WebSocketOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Header values may be credentials: names only.
        let names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("WebSocketOptions")
            .field("headers", &names)
            .finish()
    }
}
