//! The TLS flags (`--cafile`, `--capath`, `--cert`, `--key`, `--insecure`, `--tls-alpn`,
//! `--tls-version`, `--tls-server-name`) as plain data, and loading the PEM files they name.

use std::path::{Path, PathBuf};

use crate::parse::invalid;
use crate::ArgsError;

/// `--tls-version`: the lowest TLS version to accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    /// `tlsv1.2`: TLS 1.2 and 1.3.
    Tls12,
    /// `tlsv1.3`: TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// `tlsv1.2` or `tlsv1.3`, mosquitto's names.
    pub fn parse(s: &str) -> Result<TlsVersion, ArgsError> {
        match s {
            "tlsv1.2" => Ok(TlsVersion::Tls12),
            "tlsv1.3" => Ok(TlsVersion::Tls13),
            v => Err(invalid(format!(
                "unsupported TLS version '{v}': use tlsv1.2 or tlsv1.3"
            ))),
        }
    }
}

/// The TLS flags as given: paths, not contents (see [`TlsFlags::load`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFlags {
    /// `--cafile`: a PEM file of CA certificates.
    pub cafile: Option<PathBuf>,
    /// `--capath`: a directory whose `*.pem` and `*.crt` files are CA certificates.
    pub capath: Option<PathBuf>,
    /// `--cert`: the client certificate (PEM).
    pub cert: Option<PathBuf>,
    /// `--key`: the client private key (PEM).
    pub key: Option<PathBuf>,
    /// `--insecure`: do not check the broker's host name (mosquitto's meaning: the chain is
    /// still checked).
    pub insecure: bool,
    /// `--tls-alpn`, in order.
    pub alpn: Vec<String>,
    /// `--tls-version`.
    pub version: Option<TlsVersion>,
    /// `--tls-server-name`.
    pub server_name: Option<String>,
}

/// The PEM bytes the TLS flags name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsPem {
    /// The CA certificates: `--cafile`, then the files of `--capath` in name order.
    pub ca: Vec<Vec<u8>>,
    /// `--cert`.
    pub cert: Option<Vec<u8>>,
    /// `--key`.
    pub key: Option<Vec<u8>>,
}

fn read(flag: &str, path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(crate::without_dot(path))
        .map_err(|e| format!("cannot read {flag} {}: {e}", path.display()))
}

impl TlsFlags {
    /// Whether no TLS flag was given.
    pub fn is_empty(&self) -> bool {
        *self == TlsFlags::default()
    }

    /// Whether a CA was given (`--cafile` or `--capath`): with `-h`, that turns TLS on.
    pub fn has_ca(&self) -> bool {
        self.cafile.is_some() || self.capath.is_some()
    }

    /// The checks that need no file: `--cert` and `--key` go together.
    pub(crate) fn check(&self) -> Result<(), ArgsError> {
        match (&self.cert, &self.key) {
            (Some(_), None) => Err(invalid("--cert needs --key")),
            (None, Some(_)) => Err(invalid("--key needs --cert")),
            _ => Ok(()),
        }
    }

    /// Reads the files: the error names the flag and the path.
    pub fn load(&self) -> Result<TlsPem, String> {
        let mut pem = TlsPem::default();
        if let Some(f) = &self.cafile {
            pem.ca.push(read("--cafile", f)?);
        }
        if let Some(dir) = &self.capath {
            let entries = std::fs::read_dir(crate::without_dot(dir))
                .map_err(|e| format!("cannot read --capath {}: {e}", dir.display()))?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().is_some_and(|x| {
                        x.eq_ignore_ascii_case("pem") || x.eq_ignore_ascii_case("crt")
                    })
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(format!(
                    "--capath {}: no *.pem or *.crt file in it",
                    dir.display()
                ));
            }
            for f in files {
                pem.ca.push(read("--capath", &f)?);
            }
        }
        if let Some(f) = &self.cert {
            pem.cert = Some(read("--cert", f)?);
        }
        if let Some(f) = &self.key {
            pem.key = Some(read("--key", f)?);
        }
        Ok(pem)
    }
}
