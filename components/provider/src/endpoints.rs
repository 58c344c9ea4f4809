//! The brokers and TLS material of one `connect`: the WIT `connect-options` fields `brokers`,
//! `tls` and `websocket-headers`, checked and loaded into what the WASI driver takes (broker
//! URLs parsed by the core's [`Broker::parse`] for `Options::brokers`, PEM files read through
//! `wasi:filesystem` for `wasmqtt-transport`'s `TransportOptions`).
//!
//! A scheme this build cannot speak (features `tls`, `websocket`) is refused by the driver
//! (`wasmqtt_wasi::ClientError::Unsupported`, the WIT error `unsupported`). A build with TLS
//! reads and checks the TLS settings whatever the brokers' schemes; a build without it refuses
//! them (`unsupported`) rather than read files nothing could use. WebSocket headers are kept in
//! every build and used by the brokers that need them.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use wasmqtt::broker::Broker;

use crate::t;

/// The lowest TLS version to accept.
#[cfg_attr(not(feature = "tls"), allow(dead_code))] // only a build with TLS reads it
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// TLS settings with every file read: PEM bytes, ready for the TLS layer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsMaterial {
    /// CA certificates (PEM), from `ca-pem` and `ca-file` (both when both are given); empty:
    /// the built-in roots.
    pub ca_pem: Vec<Vec<u8>>,
    /// Client certificate chain (PEM).
    pub client_certificate_pem: Option<Vec<u8>>,
    /// Client private key (PEM).
    pub client_key_pem: Option<Vec<u8>>,
    /// ALPN protocols, in order.
    pub alpn: Vec<String>,
    /// SNI and certificate name override.
    pub server_name: Option<String>,
    /// The lowest version to accept; `None`: TLS 1.2.
    pub min_version: Option<TlsVersion>,
    /// mosquitto's `--insecure`: do not check the host name.
    pub dangerous_skip_hostname_verification: bool,
    /// Accept any certificate.
    pub dangerous_accept_any_certificate: bool,
}

/// Where to connect and how: the brokers in failover order, the TLS material, the WebSocket
/// headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// The brokers, tried in turn; never empty.
    pub brokers: Vec<Broker>,
    /// TLS settings, when `tls` was given.
    pub tls: Option<TlsMaterial>,
    /// Extra headers for the WebSocket upgrade request.
    pub websocket_headers: Vec<(String, String)>,
}

/// Why a build without TLS refuses `tls` options.
#[cfg(not(feature = "tls"))]
const NO_TLS: &str = "tls options: this build has no tls support (built without the `tls` feature)";

/// Reads a PEM file through `wasi:filesystem`: it must lie in a directory the host granted.
#[cfg(feature = "tls")]
fn read_pem(path: &str) -> Result<Vec<u8>, t::Error> {
    let unreadable = |reason: String| {
        t::Error::UnreadableFile(t::FileError {
            path: path.to_string(),
            reason,
        })
    };
    let bytes = std::fs::read(path).map_err(|e| {
        unreadable(match e.kind() {
            std::io::ErrorKind::NotFound => {
                "not found (or not in a directory the host granted)".to_string()
            }
            _ => e.to_string(),
        })
    })?;
    if !bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        return Err(unreadable("not a PEM file (no -----BEGIN line)".into()));
    }
    Ok(bytes)
}

/// One PEM item given inline or as a file, not both.
#[cfg(feature = "tls")]
fn one_of(
    what: &str,
    pem: &Option<String>,
    file: &Option<String>,
) -> Result<Option<Vec<u8>>, t::Error> {
    match (pem, file) {
        (Some(_), Some(_)) => Err(t::Error::InvalidArgument(alloc::format!(
            "tls: give {what}-pem or {what}-file, not both"
        ))),
        (Some(p), None) => Ok(Some(p.clone().into_bytes())),
        (None, Some(f)) => read_pem(f).map(Some),
        (None, None) => Ok(None),
    }
}

#[cfg(feature = "tls")]
fn tls_material(o: &t::TlsOptions) -> Result<TlsMaterial, t::Error> {
    let mut ca_pem = Vec::new();
    if let Some(p) = &o.ca_pem {
        ca_pem.push(p.clone().into_bytes());
    }
    if let Some(f) = &o.ca_file {
        ca_pem.push(read_pem(f)?);
    }
    let client_certificate_pem = one_of(
        "client-certificate",
        &o.client_certificate_pem,
        &o.client_certificate_file,
    )?;
    let client_key_pem = one_of("client-key", &o.client_key_pem, &o.client_key_file)?;
    if client_certificate_pem.is_some() != client_key_pem.is_some() {
        return Err(t::Error::InvalidArgument(
            "tls: a client certificate needs its key, and a key its certificate".into(),
        ));
    }
    Ok(TlsMaterial {
        ca_pem,
        client_certificate_pem,
        client_key_pem,
        alpn: o.alpn.clone(),
        server_name: o.server_name.clone(),
        min_version: o.tls_version.map(|v| match v {
            t::TlsVersion::Tls12 => TlsVersion::Tls12,
            t::TlsVersion::Tls13 => TlsVersion::Tls13,
        }),
        dangerous_skip_hostname_verification: o.dangerous_skip_hostname_verification,
        dangerous_accept_any_certificate: o.dangerous_accept_any_certificate,
    })
}

impl Endpoints {
    /// Checks and loads the options' broker fields: every `brokers` URL parsed (a bad one is
    /// `invalid-url` with the core's [`UrlError`](wasmqtt::broker::UrlError) text), else
    /// `host`:`port` as one plain-TCP broker; the TLS files read (a build without TLS refuses
    /// `tls` options with `unsupported`).
    pub fn from_options(o: &t::ConnectOptions) -> Result<Endpoints, t::Error> {
        let brokers = if o.brokers.is_empty() {
            if o.host.is_empty() || o.port == 0 {
                return Err(t::Error::InvalidArgument(
                    "host and port (or brokers) are required".into(),
                ));
            }
            alloc::vec![Broker::tcp(o.host.clone(), o.port)]
        } else {
            o.brokers
                .iter()
                .map(|url| Broker::parse(url).map_err(|e| t::Error::InvalidUrl(e.to_string())))
                .collect::<Result<Vec<_>, _>>()?
        };
        #[cfg(feature = "tls")]
        let tls = o.tls.as_ref().map(tls_material).transpose()?;
        // Nothing here could use them, and an option is never silently dropped. (The files
        // are not read: a build without TLS carries no file system or I/O error code.)
        #[cfg(not(feature = "tls"))]
        let tls: Option<TlsMaterial> = match o.tls {
            Some(_) => return Err(t::Error::Unsupported(NO_TLS.into())),
            None => None,
        };
        Ok(Endpoints {
            brokers,
            tls,
            websocket_headers: o.websocket_headers.clone(),
        })
    }

    /// The transport options of these endpoints: the PEM of every CA source in one bundle,
    /// the client certificate, the TLS settings and the WebSocket headers.
    #[cfg(any(feature = "tls", feature = "websocket"))]
    pub fn transport_options(&self) -> wasmqtt_wasi::transport::TransportOptions {
        use wasmqtt_wasi::transport as tr;
        let mut o = tr::TransportOptions::default();
        o.websocket.headers = self.websocket_headers.clone();
        // No CA given: the built-in roots, in a build that has them.
        #[cfg(feature = "webpki-roots")]
        {
            o.tls.webpki_roots = self.tls.as_ref().is_none_or(|m| m.ca_pem.is_empty());
        }
        if let Some(m) = &self.tls {
            if !m.ca_pem.is_empty() {
                let mut bundle = Vec::new();
                for pem in &m.ca_pem {
                    bundle.extend_from_slice(pem);
                    bundle.push(b'\n');
                }
                o.tls.ca_pem = Some(bundle);
            }
            o.tls.client_cert_pem = m.client_certificate_pem.clone();
            o.tls.client_key_pem = m.client_key_pem.clone();
            o.tls.alpn = m.alpn.clone();
            o.tls.server_name = m.server_name.clone();
            o.tls.min_version = m.min_version.map(|v| match v {
                TlsVersion::Tls12 => tr::TlsVersion::Tls12,
                TlsVersion::Tls13 => tr::TlsVersion::Tls13,
            });
            o.tls.dangerous_skip_hostname_verification = m.dangerous_skip_hostname_verification;
            o.tls.dangerous_accept_any_certificate = m.dangerous_accept_any_certificate;
        }
        o
    }
}
