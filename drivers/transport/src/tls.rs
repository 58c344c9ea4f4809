//! TLS through rustls (ring provider): the client configuration, the two dangerous verifiers,
//! the sans-I/O layer and the mapping of rustls errors to [`HandshakeFailure`].

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{
    AlertDescription, CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct,
    RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use wasmqtt::session::HandshakeFailure;

use crate::{ConfigError, TlsOptions, TlsVersion, TransportError};

/// The TLS part of a [`Connector`](crate::Connector), built once.
#[derive(Debug)]
pub(crate) struct TlsConfig {
    /// `None` when there is nothing to trust: an error at `start` for a TLS broker.
    config: Option<Arc<ClientConfig>>,
    server_name: Option<String>,
    sends_client_cert: bool,
}

impl TlsConfig {
    pub(crate) fn new(opts: &TlsOptions) -> Result<TlsConfig, ConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let min = opts.min_version.unwrap_or(TlsVersion::Tls12);
        let max = opts.max_version.unwrap_or(TlsVersion::Tls13);
        if min > max {
            return Err(ConfigError::TlsVersions);
        }
        let mut versions = Vec::new();
        #[cfg(feature = "tls12")]
        if min <= TlsVersion::Tls12 {
            versions.push(&rustls::version::TLS12);
        }
        #[cfg(not(feature = "tls12"))]
        if opts.min_version == Some(TlsVersion::Tls12) || max == TlsVersion::Tls12 {
            return Err(ConfigError::Tls12Unsupported);
        }
        if max >= TlsVersion::Tls13 {
            versions.push(&rustls::version::TLS13);
        }

        let mut roots = RootCertStore::empty();
        if let Some(pem) = &opts.ca_pem {
            let certs = parse_certs(pem, "CA bundle")?;
            for cert in certs {
                roots
                    .add(cert)
                    .map_err(|e| ConfigError::CaCertificate(e.to_string()))?;
            }
        }
        #[cfg(feature = "webpki-roots")]
        if opts.webpki_roots {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }

        let verifier: Option<Arc<dyn ServerCertVerifier>> = if opts.dangerous_accept_any_certificate
        {
            log::warn!(
                "TLS: dangerous_accept_any_certificate is set: the broker's certificate is \
                     NOT verified, anyone on the path can read and change the traffic"
            );
            Some(Arc::new(AcceptAnyCertificate(
                provider.signature_verification_algorithms,
            )))
        } else if roots.is_empty() {
            None
        } else {
            let webpki =
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|e| ConfigError::CaCertificate(e.to_string()))?;
            if opts.dangerous_skip_hostname_verification {
                log::warn!(
                    "TLS: dangerous_skip_hostname_verification is set: a certificate for \
                         another host name is accepted (the chain is still verified)"
                );
                Some(Arc::new(SkipHostnameVerification(webpki)))
            } else {
                Some(webpki)
            }
        };

        for proto in &opts.alpn {
            if proto.is_empty() || proto.len() > 255 {
                return Err(ConfigError::Alpn(proto.clone()));
            }
        }

        let client_auth = match (&opts.client_cert_pem, &opts.client_key_pem) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                let chain = parse_certs(cert, "client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| match e {
                    rustls_pki_types::pem::Error::NoItemsFound => ConfigError::Empty {
                        what: "client key",
                        expected: "private key",
                    },
                    e => ConfigError::Pem {
                        what: "client key",
                        detail: e.to_string(),
                    },
                })?;
                Some((chain, key))
            }
            (Some(_), None) => {
                return Err(ConfigError::ClientCertificate(
                    "a client certificate needs its private key (client_key_pem)".into(),
                ))
            }
            (None, Some(_)) => {
                return Err(ConfigError::ClientCertificate(
                    "a client key needs its certificate (client_cert_pem)".into(),
                ))
            }
        };
        let sends_client_cert = client_auth.is_some();

        // Without a verifier, build with an empty verifier anyway so that the client
        // certificate and versions are checked now; the config is dropped afterwards.
        let checked_verifier = verifier.clone().unwrap_or_else(|| {
            Arc::new(AcceptAnyCertificate(
                provider.signature_verification_algorithms,
            ))
        });
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&versions)
            .map_err(|e| ConfigError::ClientCertificate(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(checked_verifier);
        let mut config = match client_auth {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| ConfigError::ClientCertificate(e.to_string()))?,
        };
        config.alpn_protocols = opts.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
        Ok(TlsConfig {
            config: verifier.is_some().then(|| Arc::new(config)),
            server_name: opts.server_name.clone(),
            sends_client_cert,
        })
    }

    /// A TLS layer for `host` (or the `server_name` override).
    pub(crate) fn start(&self, host: &str) -> Result<TlsLayer, ConfigError> {
        let config = self.config.clone().ok_or(ConfigError::NoRootCertificates)?;
        let name = self.server_name.as_deref().unwrap_or(host);
        let server_name = ServerName::try_from(name.to_owned())
            .map_err(|_| ConfigError::ServerName(name.to_owned()))?;
        let mut conn = ClientConnection::new(config, server_name)
            .map_err(|e| ConfigError::ClientCertificate(e.to_string()))?;
        // What is buffered is bounded by the stream (handshake buffer) and drained after
        // every call, so rustls need not drop writes.
        conn.set_buffer_limit(None);
        Ok(TlsLayer {
            conn,
            sends_client_cert: self.sends_client_cert,
            received: 0,
        })
    }
}

fn parse_certs(
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::Pem {
            what,
            detail: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(ConfigError::Empty {
            what,
            expected: "certificate",
        });
    }
    Ok(certs)
}

/// One rustls client connection, driven from byte slices.
pub(crate) struct TlsLayer {
    conn: ClientConnection,
    sends_client_cert: bool,
    /// Network bytes received so far.
    received: usize,
}

impl TlsLayer {
    /// Eats network bytes; decrypted bytes are appended to `plain`.
    pub(crate) fn receive(
        &mut self,
        mut bytes: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(), TransportError> {
        let first_flight = self.received == 0;
        self.received += bytes.len();
        while !bytes.is_empty() {
            if let Err(e) = self.conn.read_tls(&mut bytes) {
                return Err(TransportError::handshake(
                    HandshakeFailure::Tls,
                    e.to_string(),
                ));
            }
            let state = self.conn.process_new_packets().map_err(|e| {
                TransportError::handshake(self.classify(&e, first_flight), e.to_string())
            })?;
            if state.plaintext_bytes_to_read() > 0 {
                let start = plain.len();
                plain.resize(start + state.plaintext_bytes_to_read(), 0);
                let n = self.conn.reader().read(&mut plain[start..]).unwrap_or(0);
                plain.truncate(start + n);
            }
        }
        Ok(())
    }

    /// Encrypts `plain` (buffered by rustls until the handshake is done).
    pub(crate) fn send(&mut self, plain: &[u8]) {
        // The buffer limit is off: rustls takes everything.
        let _ = self.conn.writer().write_all(plain);
    }

    /// Appends what is to be written to the socket to `out`.
    pub(crate) fn take_network(&mut self, out: &mut Vec<u8>) {
        while self.conn.wants_write() {
            match self.conn.write_tls(out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    }

    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    pub(crate) fn has_received(&self) -> bool {
        self.received > 0
    }

    pub(crate) fn close(&mut self) {
        self.conn.send_close_notify();
    }

    /// Which [`HandshakeFailure`] a rustls error is.
    ///
    /// The broker's refusal of a missing or bad client certificate arrives as an alert: in TLS
    /// 1.3 `certificate_required` (after the client already believes the handshake complete),
    /// in TLS 1.2 usually `handshake_failure`. A `handshake_failure` in the broker's first
    /// answer is a negotiation failure (no common version or cipher suite): it is not taken for
    /// a missing client certificate.
    fn classify(&self, e: &rustls::Error, first_flight: bool) -> HandshakeFailure {
        use rustls::Error as E;
        match e {
            E::InvalidCertificate(c) => match c {
                CertificateError::UnknownIssuer => HandshakeFailure::UnknownIssuer,
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => HandshakeFailure::NameMismatch,
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => {
                    HandshakeFailure::CertificateExpired
                }
                _ => HandshakeFailure::BadCertificate,
            },
            E::AlertReceived(AlertDescription::CertificateRequired) => {
                HandshakeFailure::ClientCertificateRequired
            }
            E::AlertReceived(AlertDescription::HandshakeFailure)
                if !self.sends_client_cert && !first_flight =>
            {
                HandshakeFailure::ClientCertificateRequired
            }
            E::AlertReceived(
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied
                | AlertDescription::HandshakeFailure,
            ) if self.sends_client_cert => HandshakeFailure::ClientCertificateRequired,
            E::InvalidMessage(_) if self.conn.is_handshaking() => HandshakeFailure::NotTls,
            _ => HandshakeFailure::Tls,
        }
    }
}

/// `dangerous_skip_hostname_verification`: the WebPKI verifier, with a name mismatch forgiven
/// (webpki checks the name after the chain, so the chain was verified).
#[derive(Debug)]
struct SkipHostnameVerification(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for SkipHostnameVerification {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `dangerous_accept_any_certificate`: no certificate check; the handshake signatures are still
/// checked (against whatever key the certificate holds).
#[derive(Debug)]
struct AcceptAnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(min: Option<TlsVersion>, max: Option<TlsVersion>) -> Result<(), ConfigError> {
        let opts = TlsOptions {
            min_version: min,
            max_version: max,
            ..TlsOptions::default()
        };
        TlsConfig::new(&opts).map(|_| ())
    }

    #[test]
    fn tls13_alone_is_always_there() {
        assert_eq!(versions(None, None), Ok(()));
        assert_eq!(versions(Some(TlsVersion::Tls13), None), Ok(()));
    }

    #[cfg(feature = "tls12")]
    #[test]
    fn tls12_is_accepted_with_the_feature() {
        assert_eq!(versions(Some(TlsVersion::Tls12), None), Ok(()));
        assert_eq!(
            versions(Some(TlsVersion::Tls12), Some(TlsVersion::Tls12)),
            Ok(())
        );
    }

    #[cfg(not(feature = "tls12"))]
    #[test]
    fn tls12_is_a_typed_error_without_the_feature() {
        assert_eq!(
            versions(Some(TlsVersion::Tls12), None),
            Err(ConfigError::Tls12Unsupported)
        );
        assert_eq!(
            versions(None, Some(TlsVersion::Tls12)),
            Err(ConfigError::Tls12Unsupported)
        );
    }
}
