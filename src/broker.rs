//! Broker addresses: `mqtt://`, `mqtts://`, `ws://` and `wss://` URLs (and the aliases Paho and
//! MQTT.js accept), parsed once for every driver.
//!
//! ```
//! use wasmqtt::broker::{Broker, Scheme};
//!
//! let b = Broker::parse("mqtts://meter:s3cret@broker.example.com").unwrap();
//! assert_eq!(b.scheme, Scheme::Mqtts);
//! assert_eq!(b.port, 8883);
//! assert_eq!(b.username.as_deref(), Some("meter"));
//! // Display never shows the password.
//! assert_eq!(b.to_string(), "mqtts://meter@broker.example.com:8883");
//!
//! let ws = Broker::parse("wss://[::1]/ws").unwrap();
//! assert_eq!((ws.host.as_str(), ws.port, ws.path.as_str()), ("::1", 443, "/ws"));
//! ```

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// How the MQTT bytes reach the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// Plain TCP (`mqtt://`, `tcp://`), default port 1883.
    Mqtt,
    /// TLS over TCP (`mqtts://`, `ssl://`, `tls://`), default port 8883.
    Mqtts,
    /// WebSocket over TCP (`ws://`), default port 80.
    Ws,
    /// WebSocket over TLS (`wss://`), default port 443.
    Wss,
}

impl Scheme {
    /// The scheme for a URL scheme name (case-insensitive), aliases included.
    pub fn from_name(name: &str) -> Option<Scheme> {
        let lower = name.to_ascii_lowercase();
        Some(match lower.as_str() {
            "mqtt" | "tcp" => Scheme::Mqtt,
            "mqtts" | "ssl" | "tls" => Scheme::Mqtts,
            "ws" => Scheme::Ws,
            "wss" => Scheme::Wss,
            _ => return None,
        })
    }

    /// The canonical name: `mqtt`, `mqtts`, `ws` or `wss`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Mqtt => "mqtt",
            Scheme::Mqtts => "mqtts",
            Scheme::Ws => "ws",
            Scheme::Wss => "wss",
        }
    }

    /// The default port: 1883, 8883, 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Mqtt => 1883,
            Scheme::Mqtts => 8883,
            Scheme::Ws => 80,
            Scheme::Wss => 443,
        }
    }

    /// Whether the connection is encrypted (`mqtts`, `wss`).
    pub fn is_tls(self) -> bool {
        matches!(self, Scheme::Mqtts | Scheme::Wss)
    }

    /// Whether MQTT travels in WebSocket frames (`ws`, `wss`).
    pub fn is_websocket(self) -> bool {
        matches!(self, Scheme::Ws | Scheme::Wss)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The WebSocket path used when a `ws://` or `wss://` URL names none.
pub const DEFAULT_WEBSOCKET_PATH: &str = "/mqtt";

/// One broker to connect to.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Broker {
    /// Transport.
    pub scheme: Scheme,
    /// Host name or IP address (an IPv6 address without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// WebSocket request path (with any query), [`DEFAULT_WEBSOCKET_PATH`] when the URL has
    /// none (`ws://host:9001`; `ws://host:9001/` asks for `/`, as a URL says). For
    /// `mqtt`/`mqtts` the URL's path, if any (the CLI reads a topic from it, as
    /// `mosquitto_pub -L` does); `""` when there was none.
    pub path: String,
    /// User name from the URL (percent-decoded), used instead of the options' one.
    pub username: Option<String>,
    /// Password from the URL (percent-decoded), used instead of the options' one.
    pub password: Option<String>,
}

impl fmt::Debug for Broker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The password stays out of logs.
        f.debug_struct("Broker")
            .field("scheme", &self.scheme)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("path", &self.path)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Why a broker URL was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://` in front.
    #[error("broker URL `{0}` has no scheme (expected mqtt://, mqtts://, ws:// or wss://)")]
    MissingScheme(String),
    /// A scheme other than mqtt, mqtts, ws, wss, tcp, ssl, tls.
    #[error(
        "unsupported broker URL scheme `{0}` (expected mqtt, mqtts, ws, wss, tcp, ssl or tls)"
    )]
    UnsupportedScheme(String),
    /// Nothing between `://` and the port or path.
    #[error("broker URL `{0}` has no host")]
    MissingHost(String),
    /// The port is not a number from 1 to 65535.
    #[error("broker URL `{url}` has an invalid port `{port}`")]
    InvalidPort {
        /// The URL, without its credentials.
        url: String,
        /// The text where the port should be.
        port: String,
    },
    /// A `[` without its `]`, or characters a host cannot contain.
    #[error("broker URL `{0}` has an invalid host")]
    InvalidHost(String),
    /// A `%` not followed by two hexadecimal digits, or escapes that are not UTF-8.
    #[error("broker URL `{0}` has an invalid percent escape in its credentials")]
    InvalidEscape(String),
}

impl UrlError {
    /// A stable code for the error.
    pub fn code(&self) -> &'static str {
        "INVALID_URL"
    }
}

impl Broker {
    /// A broker at `host` and `port` over `scheme`, without credentials, with the default
    /// WebSocket path for `ws`/`wss`.
    pub fn new(scheme: Scheme, host: impl Into<String>, port: u16) -> Broker {
        Broker {
            scheme,
            host: host.into(),
            port,
            path: if scheme.is_websocket() {
                DEFAULT_WEBSOCKET_PATH.to_string()
            } else {
                String::new()
            },
            username: None,
            password: None,
        }
    }

    /// A plain TCP broker (`mqtt://host:port`).
    pub fn tcp(host: impl Into<String>, port: u16) -> Broker {
        Broker::new(Scheme::Mqtt, host, port)
    }

    /// Parses `scheme://[user[:password]@]host[:port][/path]`. IPv6 addresses go in
    /// brackets; user and password may be percent-encoded.
    pub fn parse(url: &str) -> Result<Broker, UrlError> {
        let url = url.trim();
        let Some((scheme_name, rest)) = url.split_once("://") else {
            return Err(UrlError::MissingScheme(redact(url)));
        };
        let scheme = Scheme::from_name(scheme_name)
            .ok_or_else(|| UrlError::UnsupportedScheme(scheme_name.to_string()))?;
        // Authority ends at the first '/', '?' or '#'.
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let (userinfo, hostport) = match authority.rfind('@') {
            Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
            None => (None, authority),
        };
        let (username, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (u, p) = match info.split_once(':') {
                    Some((u, p)) => (u, Some(p)),
                    None => (info, None),
                };
                let bad = || UrlError::InvalidEscape(redact(url));
                let u = percent_decode(u).ok_or_else(bad)?;
                let p = match p {
                    Some(p) => Some(percent_decode(p).ok_or_else(bad)?),
                    None => None,
                };
                (Some(u), p)
            }
        };
        let (host, port_text) = if let Some(inner) = hostport.strip_prefix('[') {
            let Some(close) = inner.find(']') else {
                return Err(UrlError::InvalidHost(redact(url)));
            };
            let host = &inner[..close];
            let after = &inner[close + 1..];
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(p) => Some(p),
                    None => return Err(UrlError::InvalidHost(redact(url))),
                },
            };
            if host.is_empty()
                || !host
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(UrlError::InvalidHost(redact(url)));
            }
            (host, port)
        } else {
            match hostport.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            }
        };
        if host.is_empty() {
            return Err(UrlError::MissingHost(redact(url)));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "[]@/\\".contains(c))
        {
            return Err(UrlError::InvalidHost(redact(url)));
        }
        let port = match port_text {
            None | Some("") => scheme.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => n,
                _ => {
                    return Err(UrlError::InvalidPort {
                        url: redact(url),
                        port: p.to_string(),
                    })
                }
            },
        };
        let path = if scheme.is_websocket() {
            if path.is_empty() {
                DEFAULT_WEBSOCKET_PATH.to_string()
            } else if path.starts_with('/') {
                path.to_string()
            } else {
                // "ws://host?x=1": the path is "/" plus the query.
                let mut p = String::from("/");
                p.push_str(path);
                p
            }
        } else {
            path.to_string()
        };
        Ok(Broker {
            scheme,
            host: host.to_string(),
            port,
            path,
            username,
            password,
        })
    }

    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        let mut s = String::new();
        if self.host.contains(':') {
            s.push('[');
            s.push_str(&self.host);
            s.push(']');
        } else {
            s.push_str(&self.host);
        }
        s.push(':');
        s.push_str(&self.port.to_string());
        s
    }
}

impl fmt::Display for Broker {
    /// The URL without the password: `scheme://[user@]host:port[path]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(u) = &self.username {
            write!(f, "{u}@")?;
        }
        write!(f, "{}", self.authority())?;
        if self.scheme.is_websocket() {
            f.write_str(&self.path)?;
        }
        Ok(())
    }
}

impl core::str::FromStr for Broker {
    type Err = UrlError;
    fn from_str(s: &str) -> Result<Broker, UrlError> {
        Broker::parse(s)
    }
}

/// The URL with anything before an `@` in its authority replaced, for error messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rfind('@') {
            Some(at) => {
                let mut s = String::from("***");
                s.push_str(&url[at..]);
                s
            }
            None => url.to_string(),
        };
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => {
            let mut s = String::from(scheme);
            s.push_str("://***");
            s.push_str(&rest[at..]);
            s
        }
        None => url.to_string(),
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes_aliases_and_default_ports() {
        for (url, scheme, port) in [
            ("mqtt://h", Scheme::Mqtt, 1883),
            ("tcp://h", Scheme::Mqtt, 1883),
            ("MQTTS://h", Scheme::Mqtts, 8883),
            ("ssl://h", Scheme::Mqtts, 8883),
            ("tls://h", Scheme::Mqtts, 8883),
            ("ws://h", Scheme::Ws, 80),
            ("wss://h", Scheme::Wss, 443),
        ] {
            let b = Broker::parse(url).unwrap();
            assert_eq!(
                (b.scheme, b.port, b.host.as_str()),
                (scheme, port, "h"),
                "{url}"
            );
        }
    }

    #[test]
    fn credentials_ports_paths_and_ipv6() {
        let b = Broker::parse("mqtt://u%40x:p%3Aw:d@127.0.0.1:1999/a/b").unwrap();
        assert_eq!(b.username.as_deref(), Some("u@x"));
        assert_eq!(b.password.as_deref(), Some("p:w:d"));
        assert_eq!(
            (b.host.as_str(), b.port, b.path.as_str()),
            ("127.0.0.1", 1999, "/a/b")
        );
        assert_eq!(b.to_string(), "mqtt://u@x@127.0.0.1:1999");
        assert!(!format!("{b:?}").contains("p:w:d"));
        let w = Broker::parse("ws://[::1]:9001").unwrap();
        assert_eq!(
            (w.host.as_str(), w.port, w.path.as_str()),
            ("::1", 9001, "/mqtt")
        );
        assert_eq!(w.authority(), "[::1]:9001");
        let q = Broker::parse("wss://h/mqtt?token=1").unwrap();
        assert_eq!(q.path, "/mqtt?token=1");
        assert_eq!(Broker::parse("ws://h/").unwrap().path, "/");
    }

    #[test]
    fn bad_urls_get_typed_errors_without_passwords() {
        assert!(matches!(
            Broker::parse("localhost:1883"),
            Err(UrlError::MissingScheme(_))
        ));
        assert!(matches!(
            Broker::parse("http://h"),
            Err(UrlError::UnsupportedScheme(_))
        ));
        assert!(matches!(
            Broker::parse("mqtt://"),
            Err(UrlError::MissingHost(_))
        ));
        assert!(matches!(
            Broker::parse("mqtt://:1883"),
            Err(UrlError::MissingHost(_))
        ));
        assert!(matches!(
            Broker::parse("mqtt://h:0"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            Broker::parse("mqtt://h:70000"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            Broker::parse("mqtt://h:+1"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            Broker::parse("mqtt://[::1"),
            Err(UrlError::InvalidHost(_))
        ));
        assert!(matches!(
            Broker::parse("mqtt://a b"),
            Err(UrlError::InvalidHost(_))
        ));
        assert!(matches!(
            Broker::parse("mqtt://u:%zz@h"),
            Err(UrlError::InvalidEscape(_))
        ));
        let e = Broker::parse("mqtt://user:secret@h:x")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
    }
}
