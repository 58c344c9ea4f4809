//! Test certificates, generated at test time with rcgen and written as PEM files to a temporary
//! directory (removed on drop): a CA, a server certificate for `127.0.0.1` and `localhost`, a
//! client certificate, an expired server certificate (all signed by the CA), and an unrelated
//! second CA.
//!
//! ```ignore
//! use wasmqtt_testkit::certs::TestCerts;
//! use wasmqtt_testkit::mosquitto::{Mosquitto, Options};
//!
//! let certs = TestCerts::generate();
//! let broker = Mosquitto::start_with(Options { tls: Some(certs.server_files()), ..Options::default() });
//! ```

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    date_time_ymd, BasicConstraints, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType,
};

/// The certificate, key and CA files of a TLS listener (mosquitto's `certfile`, `keyfile`,
/// `cafile`: the CA that client certificates must lead to).
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// CA certificate(s), PEM.
    pub cafile: PathBuf,
    /// The server's certificate, PEM.
    pub certfile: PathBuf,
    /// The server's private key, PEM.
    pub keyfile: PathBuf,
}

/// A certificate and its key, as PEM text.
#[derive(Debug, Clone)]
pub struct Pem {
    /// The certificate.
    pub cert: String,
    /// Its private key (PKCS#8).
    pub key: String,
}

/// One set of test certificates (ECDSA P-256) and their files.
#[derive(Debug)]
pub struct TestCerts {
    dir: PathBuf,
    /// The CA that signed the server, client and expired certificates.
    pub ca: Pem,
    /// Server certificate for `127.0.0.1` (IP SAN) and `localhost` (DNS SAN).
    pub server: Pem,
    /// Client certificate (CN `wasmqtt-test-client`).
    pub client: Pem,
    /// Server certificate for the same names that expired in 2021.
    pub expired_server: Pem,
    /// An unrelated CA that signed nothing here.
    pub other_ca: Pem,
}

impl TestCerts {
    /// Generates everything and writes the PEM files. Panics on failure (test helper).
    pub fn generate() -> TestCerts {
        let ca_key = KeyPair::generate().expect("CA key");
        let ca = ca_params("wasmqtt test CA");
        let ca_cert = ca.self_signed(&ca_key).expect("CA certificate");
        let issuer = Issuer::new(ca, &ca_key);

        let server = leaf(&issuer, "127.0.0.1", true, false);
        let expired_server = leaf(&issuer, "127.0.0.1", true, true);
        let client = leaf(&issuer, "wasmqtt-test-client", false, false);

        let other_key = KeyPair::generate().expect("second CA key");
        let other_cert = ca_params("unrelated test CA")
            .self_signed(&other_key)
            .expect("second CA certificate");

        let certs = TestCerts {
            dir: temp_dir(),
            ca: Pem {
                cert: ca_cert.pem(),
                key: ca_key.serialize_pem(),
            },
            server,
            client,
            expired_server,
            other_ca: Pem {
                cert: other_cert.pem(),
                key: other_key.serialize_pem(),
            },
        };
        for (name, pem) in [
            ("ca", &certs.ca),
            ("server", &certs.server),
            ("client", &certs.client),
            ("expired-server", &certs.expired_server),
            ("other-ca", &certs.other_ca),
        ] {
            write(&certs.dir.join(format!("{name}.crt")), &pem.cert);
            write(&certs.dir.join(format!("{name}.key")), &pem.key);
        }
        certs
    }

    /// The directory holding `ca.crt`, `server.crt`, `server.key`, `client.crt`, ...
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The path of `<name>.crt` or `<name>.key` in [`TestCerts::dir`].
    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// A listener with the valid server certificate.
    pub fn server_files(&self) -> TlsFiles {
        TlsFiles {
            cafile: self.path("ca.crt"),
            certfile: self.path("server.crt"),
            keyfile: self.path("server.key"),
        }
    }

    /// A listener with the expired server certificate.
    pub fn expired_server_files(&self) -> TlsFiles {
        TlsFiles {
            cafile: self.path("ca.crt"),
            certfile: self.path("expired-server.crt"),
            keyfile: self.path("expired-server.key"),
        }
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        if std::env::var_os("WASMQTT_KEEP_BROKER_DIR").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, name);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

fn leaf(issuer: &Issuer<'_, &KeyPair>, cn: &str, server: bool, expired: bool) -> Pem {
    let key = KeyPair::generate().expect("leaf key");
    let mut params = CertificateParams::new(Vec::<String>::new()).expect("leaf parameters");
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if server {
        params.subject_alt_names = vec![
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::DnsName("localhost".try_into().expect("DNS name")),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    } else {
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    }
    if expired {
        params.not_before = date_time_ymd(2020, 1, 1);
        params.not_after = date_time_ymd(2021, 1, 1);
    } else {
        params.not_before = date_time_ymd(2024, 1, 1);
        params.not_after = date_time_ymd(2099, 1, 1);
    }
    let cert = params.signed_by(&key, issuer).expect("leaf certificate");
    Pem {
        cert: cert.pem(),
        key: key.serialize_pem(),
    }
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

fn temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "wasmqtt-certs-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}
