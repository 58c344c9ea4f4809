//! Where the brokers are: `-L` URLs or `-h`/`-p`, with the TLS flags; the directories the
//! command reads.

use std::path::{Path, PathBuf};
use wasmqtt::broker::{Broker, Scheme, DEFAULT_WEBSOCKET_PATH};

use crate::args::{Args, ArgsError};
use crate::parse::invalid;
use crate::TlsFlags;

/// One `-L` URL: the broker, and the topic its path names (`None` when it names none).
fn broker_url(url: &str) -> Result<(Broker, Option<String>), ArgsError> {
    let broker = Broker::parse(url).map_err(|e| invalid(format!("-L: {e}")))?;
    // The topic is everything after the '/' that ends the authority, as mosquitto's -L reads it.
    let rest = url.trim().split_once("://").map_or("", |(_, r)| r);
    let topic = match rest.find(['/', '?', '#']) {
        Some(i) if rest[i..].starts_with('/') && rest.len() > i + 1 => {
            Some(rest[i + 1..].to_string())
        }
        _ => None,
    };
    Ok((broker, topic))
}

/// Fills [`Args::brokers`], [`Args::tls`] and, for `-L`, the topic, host and port.
pub(crate) fn brokers(
    a: &mut Args,
    urls: Vec<String>,
    ws_path: Option<String>,
    tls: TlsFlags,
    host_or_port: bool,
    port_given: bool,
) -> Result<(), ArgsError> {
    tls.check()?;
    let has_ca = tls.has_ca();
    if let Some(p) = &ws_path {
        if !p.starts_with('/') {
            return Err(invalid(format!("--ws-path '{p}': must start with /")));
        }
    }
    if urls.is_empty() {
        let scheme = if has_ca { Scheme::Mqtts } else { Scheme::Mqtt };
        if has_ca && !port_given {
            a.port = scheme.default_port();
        }
        if !tls.is_empty() && !has_ca {
            return Err(invalid(
                "TLS flags need --cafile or --capath with -h (or an mqtts:// or wss:// -L URL)",
            ));
        }
        if ws_path.is_some() {
            return Err(invalid("--ws-path needs a ws:// or wss:// -L URL"));
        }
        a.brokers = vec![Broker::new(scheme, a.host.clone(), a.port)];
    } else {
        if host_or_port || !a.topics.is_empty() {
            return Err(invalid("-L cannot be combined with -h, -p or -t"));
        }
        let mut topic: Option<String> = None;
        for url in &urls {
            let (mut b, t) = broker_url(url)?;
            b.path = if b.scheme.is_websocket() {
                ws_path
                    .clone()
                    .unwrap_or_else(|| DEFAULT_WEBSOCKET_PATH.into())
            } else {
                String::new()
            };
            match (&topic, t) {
                (None, Some(t)) => topic = Some(t),
                (Some(first), Some(t)) if *first != t => {
                    return Err(invalid(format!(
                        "-L URLs name different topics ('{first}' and '{t}')"
                    )))
                }
                _ => {}
            }
            a.brokers.push(b);
        }
        if !tls.is_empty() && !a.brokers.iter().any(|b| b.scheme.is_tls()) {
            return Err(invalid("TLS flags need an mqtts:// or wss:// -L URL"));
        }
        if ws_path.is_some() && !a.brokers.iter().any(|b| b.scheme.is_websocket()) {
            return Err(invalid("--ws-path needs a ws:// or wss:// -L URL"));
        }
        a.host = a.brokers[0].host.clone();
        a.port = a.brokers[0].port;
        a.topics.extend(topic);
    }
    a.tls = (!tls.is_empty()).then_some(tls);
    Ok(())
}

/// `d` without `.` components (`./certs` is `certs`), `.` when nothing is left: the directory
/// names `wasmqtt-host` grants, and the paths the command opens, so that they match in the
/// component's libc (which does not match `./certs/ca.pem` against a directory `certs`).
pub fn without_dot(d: &Path) -> PathBuf {
    let p: PathBuf = d
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    if p.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        p
    }
}

impl Args {
    /// The directories the command must be able to read (the TLS files' and `--capath`), each
    /// once, in flag order: what `wasmqtt-host` grants it, read-only.
    /// With `-f FILE`, the file's directory comes last.
    pub fn read_dirs(&self) -> Vec<PathBuf> {
        let mut files: Vec<&PathBuf> = Vec::new();
        let mut extra: Vec<PathBuf> = Vec::new();
        if let Some(t) = &self.tls {
            files.extend([&t.cafile, &t.cert, &t.key].into_iter().flatten());
            extra.extend(t.capath.clone());
        }
        let parents = files
            .into_iter()
            .map(|f| f.parent().unwrap_or(Path::new("")).to_path_buf());
        let mut all: Vec<PathBuf> = parents.chain(extra).collect();
        if let Some(crate::Payload::File(f)) = &self.payload {
            all.push(f.parent().unwrap_or(Path::new("")).to_path_buf());
        }
        let mut dirs: Vec<PathBuf> = Vec::new();
        for d in all.iter().map(|d| without_dot(d)) {
            if !dirs.contains(&d) {
                dirs.push(d);
            }
        }
        dirs
    }
}
