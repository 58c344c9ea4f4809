//! The network policy: which socket addresses a component may use.
//!
//! wasmtime-wasi denies every socket unless the embedder allows it. A [`NetworkPolicy`] allows
//! TCP connections to exactly the broker's addresses and nothing else: no listening, no accepting,
//! no UDP, no other host or port. wasmtime 48 also checks the implicit bind that precedes every
//! `connect` (to the unspecified address, port 0), so that one is allowed too, for the address
//! families of the broker's addresses only.
//!
//! The broker is usually named by host and port (`localhost:1883`); the policy resolves that name
//! once, up front, and allows the addresses it resolved to. When the broker is named by a host
//! name, the component resolves the same name through `wasi:sockets/ip-name-lookup`, so name
//! lookup is allowed then (it reveals addresses; it does not reach them). When it is an IP
//! literal, the provider parses it itself and name lookup stays off.
//!
//! The policy may also name one **store directory** ([`NetworkPolicy::with_store_dir`]): the
//! component gets it read-write, at the same path, for its durable session state
//! (`connect-options.store`); nothing else of the file system (beyond what a host grants
//! read-only for TLS files).

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use wasmtime_wasi::sockets::SocketAddrUse;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

/// Why [`NetworkPolicy::with_store_dir`] refused a directory. Code `STORE_IO`, like the
/// component's own store errors.
#[derive(Debug, thiserror::Error)]
#[error("store directory {}: cannot {what}: {source}", path.display())]
pub struct StoreDirError {
    /// The directory.
    pub path: PathBuf,
    /// What failed: `create`, `open`, `write to`, or `use (not UTF-8)`.
    pub what: &'static str,
    /// The error.
    #[source]
    pub source: std::io::Error,
}

impl StoreDirError {
    /// `STORE_IO`.
    pub fn code(&self) -> &'static str {
        "STORE_IO"
    }
}

/// A socket use the policy refused.
#[derive(Debug, Clone, Copy)]
pub struct Denial {
    /// The address the component wanted to use.
    pub addr: SocketAddr,
    /// What for.
    pub usage: SocketAddrUse,
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}", self.usage, self.addr)
    }
}

/// Which network access a component gets: TCP to the listed addresses, nothing else.
///
/// Clones share the record of denials, so a test can hand a clone to the component and read the
/// denials afterwards.
#[derive(Debug, Clone, Default)]
pub struct NetworkPolicy {
    allowed: Vec<SocketAddr>,
    name_lookup: bool,
    denied: Arc<Mutex<Vec<Denial>>>,
    store_dir: Option<PathBuf>,
}

impl NetworkPolicy {
    /// No network at all: no TCP, no UDP, no name lookup.
    pub fn deny_all() -> Self {
        Self::default()
    }

    /// TCP to `host:port` and nothing else. The name is resolved now; every address it resolves
    /// to is allowed. Name lookup is allowed only when `host` is a name rather than an IP
    /// literal, so that the component can resolve the same name.
    pub fn broker(host: &str, port: u16) -> anyhow::Result<Self> {
        if host.is_empty() {
            bail!("the broker host is empty");
        }
        // `ToSocketAddrs` wants IPv6 literals without brackets when given as (host, port).
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let mut allowed: Vec<SocketAddr> = (bare, port)
            .to_socket_addrs()
            .with_context(|| format!("resolving the broker address {host}:{port}"))?
            .map(canonical)
            .collect();
        allowed.sort();
        allowed.dedup();
        if allowed.is_empty() {
            bail!("the broker address {host}:{port} resolved to no address");
        }
        Ok(Self {
            allowed,
            name_lookup: bare.parse::<std::net::IpAddr>().is_err(),
            denied: Arc::default(),
            store_dir: None,
        })
    }

    /// TCP to every one of `brokers` (a failover list: all of them) and nothing else. Each
    /// name is resolved now, as in [`NetworkPolicy::broker`]; name lookup is allowed when at
    /// least one broker is named by a host name rather than an IP literal.
    pub fn brokers<'a>(
        brokers: impl IntoIterator<Item = &'a wasmqtt::broker::Broker>,
    ) -> anyhow::Result<Self> {
        let mut merged = Self::default();
        for b in brokers {
            let one = Self::broker(&b.host, b.port).with_context(|| format!("the broker {b}"))?;
            merged.allowed.extend(one.allowed);
            merged.name_lookup |= one.name_lookup;
        }
        if merged.allowed.is_empty() {
            bail!("no broker given");
        }
        merged.allowed.sort();
        merged.allowed.dedup();
        Ok(merged)
    }

    /// Like [`NetworkPolicy::brokers`], but a broker whose name does not resolve is left out
    /// instead of failing the whole list: the policy allows the brokers that resolve, and the
    /// others come back with the reason, for a warning. Fails only when none resolves.
    pub fn reachable_brokers<'a>(
        brokers: impl IntoIterator<Item = &'a wasmqtt::broker::Broker>,
    ) -> anyhow::Result<(Self, Vec<(&'a wasmqtt::broker::Broker, anyhow::Error)>)> {
        let mut merged = Self::default();
        let (mut skipped, mut any) = (Vec::new(), false);
        for b in brokers {
            any = true;
            match Self::broker(&b.host, b.port) {
                Ok(one) => {
                    merged.allowed.extend(one.allowed);
                    merged.name_lookup |= one.name_lookup;
                }
                Err(e) => skipped.push((b, e)),
            }
        }
        if !any {
            bail!("no broker given");
        }
        if merged.allowed.is_empty() {
            let reasons: Vec<String> = skipped.iter().map(|(b, e)| format!("{b}: {e:#}")).collect();
            bail!("no broker resolves: {}", reasons.join("; "));
        }
        merged.allowed.sort();
        merged.allowed.dedup();
        Ok((merged, skipped))
    }

    /// TCP to the brokers of these URLs (`mqtt://host:1883`, `mqtts://…`, `ws://…`, `wss://…`,
    /// parsed by `wasmqtt::broker::Broker::parse`), all of them, as [`NetworkPolicy::brokers`].
    pub fn broker_urls<S: AsRef<str>>(urls: impl IntoIterator<Item = S>) -> anyhow::Result<Self> {
        let brokers = urls
            .into_iter()
            .map(|u| wasmqtt::broker::Broker::parse(u.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        Self::brokers(&brokers)
    }

    /// TCP to `host:port` given as one string (`localhost:1883`, `127.0.0.1:1883`,
    /// `[::1]:1883`).
    pub fn broker_addr(host_port: &str) -> anyhow::Result<Self> {
        let (host, port) = split_host_port(host_port)?;
        Self::broker(host, port)
    }

    /// TCP to exactly these addresses; no name lookup (the component must use IP literals).
    pub fn addrs(addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        let mut allowed: Vec<SocketAddr> = addrs.into_iter().map(canonical).collect();
        allowed.sort();
        allowed.dedup();
        Self {
            allowed,
            name_lookup: false,
            denied: Arc::default(),
            store_dir: None,
        }
    }

    /// Allows or forbids `wasi:sockets/ip-name-lookup`.
    pub fn with_name_lookup(mut self, allow: bool) -> Self {
        self.name_lookup = allow;
        self
    }

    /// The addresses TCP connections may go to.
    pub fn allowed(&self) -> &[SocketAddr] {
        &self.allowed
    }

    /// Whether the component may resolve names.
    pub fn name_lookup(&self) -> bool {
        self.name_lookup
    }

    /// Every socket use refused so far (by this policy and its clones).
    pub fn denials(&self) -> Vec<Denial> {
        self.denied
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether the policy permits this use of this address.
    pub fn permits(&self, addr: SocketAddr, usage: SocketAddrUse) -> bool {
        let addr = canonical(addr);
        match usage {
            SocketAddrUse::TcpConnect => self.allowed.contains(&addr),
            // The implicit bind before a connect: the wildcard address, port 0, in a family the
            // broker has an address in. An explicit bind anywhere else is refused.
            SocketAddrUse::TcpBind => {
                addr.ip().is_unspecified()
                    && addr.port() == 0
                    && self.allowed.iter().any(|a| a.is_ipv4() == addr.is_ipv4())
            }
            // No listening, accepting or UDP (UDP is switched off as well).
            _ => false,
        }
    }

    /// Grants the component read-write access to `dir` (created if missing), at the same path
    /// (a relative path stays relative): the directory of its `connect-options.store`. One
    /// directory; a second call replaces the first. Checked now: a directory that cannot be
    /// created, opened or written to is a [`StoreDirError`] (code `STORE_IO`).
    pub fn with_store_dir(mut self, dir: impl Into<PathBuf>) -> Result<Self, StoreDirError> {
        let dir = dir.into();
        check_store_dir(&dir)?;
        self.store_dir = Some(dir);
        Ok(self)
    }

    /// The store directory granted read-write, if any.
    pub fn store_dir(&self) -> Option<&Path> {
        self.store_dir.as_deref()
    }

    /// Applies the policy to a WASI context: TCP on, UDP off, name lookup as configured, and the
    /// address check. Refusals are recorded (see [`NetworkPolicy::denials`]). The store
    /// directory, if any, is pre-opened read-write; one gone since it was checked is left out
    /// (the component's `connect` then fails with the store error `STORE_IO`).
    pub fn apply(&self, builder: &mut WasiCtxBuilder) {
        if let Some(dir) = &self.store_dir {
            if let Some(guest) = dir.to_str() {
                if let Err(e) = builder.preopened_dir(dir, guest, FsPerms::ReadWrite) {
                    log_store_dir(dir, &e);
                }
            }
        }
        let tcp = !self.allowed.is_empty();
        builder
            .allow_tcp(tcp)
            .allow_udp(false)
            .allow_ip_name_lookup(self.name_lookup);
        let policy = self.clone();
        builder.socket_addr_check(move |addr, usage| {
            let ok = policy.permits(addr, usage);
            if !ok {
                policy
                    .denied
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(Denial { addr, usage });
            }
            Box::pin(async move { ok })
        });
    }
}

impl fmt::Display for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.allowed.is_empty() {
            return f.write_str("no network");
        }
        f.write_str("TCP to ")?;
        for (i, a) in self.allowed.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        if self.name_lookup {
            f.write_str(" (name lookup allowed)")?;
        }
        Ok(())
    }
}

fn log_store_dir(dir: &Path, e: &dyn fmt::Display) {
    eprintln!(
        "wasmqtt-host: warning: the store directory {} is not granted: {e}",
        dir.display()
    );
}

/// Creates `dir` if needed and checks that it is a directory this process can write to (a
/// probe file made and removed).
fn check_store_dir(dir: &Path) -> Result<(), StoreDirError> {
    let fail = |what, source| StoreDirError {
        path: dir.to_path_buf(),
        what,
        source,
    };
    if dir.to_str().is_none() {
        return Err(fail(
            "use (not UTF-8)",
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not valid UTF-8"),
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| fail("create", e))?;
    std::fs::read_dir(dir).map_err(|e| fail("open", e))?;
    let probe = dir.join(format!(".wasmqtt-probe-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| fail("write to", e))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// An IPv4-mapped IPv6 address compares as the IPv4 address it maps.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// Splits `host:port`, `[v6]:port` or a bare `v6` is refused (the port is required).
pub fn split_host_port(s: &str) -> anyhow::Result<(&str, u16)> {
    let (host, port) = s
        .rsplit_once(':')
        .with_context(|| format!("`{s}` is not host:port"))?;
    if host.contains(':') && !(host.starts_with('[') && host.ends_with(']')) {
        bail!("`{s}`: write an IPv6 address in brackets, e.g. [::1]:1883");
    }
    let port: u16 = port
        .parse()
        .with_context(|| format!("`{s}`: the port `{port}` is not a number from 0 to 65535"))?;
    if host.is_empty() {
        bail!("`{s}` has no host");
    }
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    #[test]
    fn allows_the_broker_and_the_implicit_bind_only() {
        let broker: SocketAddr = "127.0.0.1:1883".parse().unwrap();
        let p = NetworkPolicy::addrs([broker]);
        assert!(p.permits(broker, SocketAddrUse::TcpConnect));
        assert!(p.permits("0.0.0.0:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.permits("[::]:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.permits("0.0.0.0:1883".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.permits("127.0.0.1:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.permits("127.0.0.1:1884".parse().unwrap(), SocketAddrUse::TcpConnect));
        assert!(!p.permits("127.0.0.2:1883".parse().unwrap(), SocketAddrUse::TcpConnect));
        assert!(!p.permits(broker, SocketAddrUse::TcpListen));
        assert!(!p.permits(broker, SocketAddrUse::TcpAccept));
        assert!(!p.permits(broker, SocketAddrUse::UdpBind));
        assert!(!p.permits(broker, SocketAddrUse::UdpSend));
        assert!(!p.permits(broker, SocketAddrUse::UdpReceive));
        let mapped = SocketAddr::new(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 1883);
        assert!(p.permits(mapped, SocketAddrUse::TcpConnect));
    }

    #[test]
    fn deny_all_denies_everything() {
        let p = NetworkPolicy::deny_all();
        assert!(!p.permits("127.0.0.1:1883".parse().unwrap(), SocketAddrUse::TcpConnect));
        assert!(!p.permits("0.0.0.0:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert_eq!(p.to_string(), "no network");
    }

    #[test]
    fn resolves_names_up_front() {
        let p = NetworkPolicy::broker_addr("127.0.0.1:1883").unwrap();
        assert_eq!(
            p.allowed(),
            &["127.0.0.1:1883".parse::<SocketAddr>().unwrap()]
        );
        assert!(!p.name_lookup());
        let p = NetworkPolicy::broker_addr("localhost:1883").unwrap();
        assert!(p.name_lookup());
        assert!(p
            .allowed()
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 1883));
        let p = NetworkPolicy::broker_addr("[::1]:1883").unwrap();
        assert_eq!(
            p.allowed(),
            &[SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1883)]
        );
        assert!(p.permits("[::]:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(!p.permits("0.0.0.0:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(NetworkPolicy::broker_addr("localhost").is_err());
        assert!(NetworkPolicy::broker_addr("::1:1883").is_err());
        assert!(NetworkPolicy::broker_addr(":1883").is_err());
        assert!(NetworkPolicy::broker_addr("localhost:99999").is_err());
    }

    #[test]
    fn a_failover_list_allows_every_broker_in_it() {
        let p = NetworkPolicy::broker_urls(["mqtt://127.0.0.1:1883", "mqtts://[::1]"]).unwrap();
        assert_eq!(
            p.allowed(),
            &[
                "127.0.0.1:1883".parse::<SocketAddr>().unwrap(),
                "[::1]:8883".parse().unwrap()
            ]
        );
        assert!(!p.name_lookup());
        assert!(p.permits("0.0.0.0:0".parse().unwrap(), SocketAddrUse::TcpBind));
        assert!(p.permits("[::]:0".parse().unwrap(), SocketAddrUse::TcpBind));
        let p =
            NetworkPolicy::broker_urls(["ws://localhost:9001/mqtt", "mqtt://127.0.0.1"]).unwrap();
        assert!(p.name_lookup());
        assert!(NetworkPolicy::broker_urls(["http://x"]).is_err());
        // A name that does not resolve: the others are allowed, it is reported.
        let list = ["mqtt://127.0.0.1:1883", "mqtt://no-such-host.invalid:1883"]
            .map(|u| wasmqtt::broker::Broker::parse(u).unwrap());
        assert!(NetworkPolicy::brokers(&list).is_err());
        let (p, skipped) = NetworkPolicy::reachable_brokers(&list).unwrap();
        assert_eq!(
            p.allowed(),
            &["127.0.0.1:1883".parse::<SocketAddr>().unwrap()]
        );
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].0.host, "no-such-host.invalid");
        let e = NetworkPolicy::reachable_brokers(&list[1..]).unwrap_err();
        assert!(format!("{e:#}").contains("no broker resolves"), "{e:#}");
        assert!(NetworkPolicy::broker_urls(Vec::<String>::new()).is_err());
    }
}
