//! [`ClientBuilder`]: brokers by URL (a failover list), TLS and WebSocket settings, then
//! connect.

use super::{parse_broker, Client, Error, Events};
use std::path::PathBuf;
use wasmqtt::session::{Options, SyncPolicy};
use wasmqtt_store::{FileStore, MemoryStore, Store, StoreError};
use wasmqtt_transport::{TlsOptions, TransportOptions};

/// Where [`ClientBuilder::durable`] keeps the session.
#[derive(Debug, Clone)]
pub(super) enum StoreChoice {
    File(PathBuf, SyncPolicy),
    Memory(SyncPolicy),
}

impl StoreChoice {
    pub(super) fn open(&self) -> Result<(Box<dyn Store>, SyncPolicy), StoreError> {
        Ok(match self {
            StoreChoice::File(dir, policy) => (Box::new(FileStore::open(dir)?), *policy),
            StoreChoice::Memory(policy) => (Box::new(MemoryStore::new()), *policy),
        })
    }
}

/// Builds a [`Client`]: the brokers (in failover order, into [`Options::brokers`]), the
/// transport settings ([`TransportOptions`]: TLS for `mqtts://` and `wss://`, WebSocket
/// headers for `ws://` and `wss://`), then [`ClientBuilder::connect`] or
/// [`ClientBuilder::start`]. Made by [`Client::builder`].
///
/// `mqtts://` with the broker's CA in a PEM file:
///
/// ```no_run
/// use wasmqtt::session::Options;
/// use wasmqtt_tokio::{Client, TlsOptions};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let (client, mut events) = Client::builder(Options::new("meter-1"))
///     .broker("mqtts://broker.example.com:8883")?
///     .tls(TlsOptions {
///         ca_pem: Some(std::fs::read("ca.pem")?),
///         ..TlsOptions::default()
///     })
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// AWS IoT Core on port 443: TLS with the ALPN protocol `x-amzn-mqtt-ca` and a client
/// certificate (mutual TLS), the Amazon root CA trusted; a second endpoint to fail over to:
///
/// ```no_run
/// use wasmqtt::session::Options;
/// use wasmqtt_tokio::{Client, TlsOptions};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint = "mqtts://abc123-ats.iot.eu-west-1.amazonaws.com:443";
/// let (client, mut events) = Client::builder(Options::new("thing-1").keep_alive(30))
///     .brokers([endpoint, "mqtts://abc123-ats.iot.eu-central-1.amazonaws.com:443"])?
///     .tls(TlsOptions {
///         ca_pem: Some(std::fs::read("AmazonRootCA1.pem")?),
///         client_cert_pem: Some(std::fs::read("thing-1.cert.pem")?),
///         client_key_pem: Some(std::fs::read("thing-1.private.key")?),
///         alpn: vec!["x-amzn-mqtt-ca".to_string()],
///         ..TlsOptions::default()
///     })
///     .connect()
///     .await?;
/// # Ok(())
/// # }
/// ```
///
/// A PEM that does not parse, a certificate without its key, a TLS broker with no CA: an
/// [`Error::Transport`] from `connect`, before any connection. A failed handshake:
/// [`Error::Connection`] with [`DisconnectReason::Handshake`](wasmqtt::session::DisconnectReason::Handshake)
/// (e.g. `TLS_UNKNOWN_ISSUER`, [`Error::code`]).
#[derive(Debug, Clone)]
#[must_use = "a ClientBuilder does nothing until connect() or start()"]
pub struct ClientBuilder {
    options: Options,
    transport: TransportOptions,
    store: Option<StoreChoice>,
}

impl ClientBuilder {
    pub(super) fn new(options: Options) -> ClientBuilder {
        ClientBuilder {
            options,
            transport: TransportOptions::default(),
            store: None,
        }
    }

    /// Keeps the session's durable state in a [`FileStore`] in `dir` (created if needed; one
    /// client per directory) with `policy` (unless [`Options::durable`] sets one). At start the
    /// session resumes from what the store holds (its client identifier, subscriptions,
    /// inbound QoS 2 identifiers, and every accepted message not completed, sent again) and
    /// connects with Clean Start 0; [`Client::publish`] resolves only once a QoS 1/2 message
    /// is in the store. What each policy can lose on power loss: [`SyncPolicy`] (a process
    /// crash loses nothing admitted with either). Give the session an expiry
    /// ([`Options::session_expiry_interval`], v5) so the broker keeps its side too.
    ///
    /// Opening fails `connect` / `start` with [`Error::Store`], a store this version cannot
    /// read with [`Error::Resume`], before any connection.
    pub fn durable(mut self, dir: impl Into<PathBuf>, policy: SyncPolicy) -> ClientBuilder {
        self.store = Some(StoreChoice::File(dir.into(), policy));
        self
    }

    /// [`ClientBuilder::durable`] with [`SyncPolicy::EveryMessage`].
    pub fn store(self, dir: impl Into<PathBuf>) -> ClientBuilder {
        self.durable(dir, SyncPolicy::EveryMessage)
    }

    /// Durable state in a [`MemoryStore`]: the admission rule and the store path without a
    /// file system (nothing survives the process; for tests and benchmarks).
    pub fn memory_store(mut self, policy: SyncPolicy) -> ClientBuilder {
        self.store = Some(StoreChoice::Memory(policy));
        self
    }

    /// Manual acknowledgement ([`Options::manual_acks`]): each received QoS 1/2 message's
    /// PUBACK or PUBREC waits for [`Client::ack`].
    pub fn manual_acks(mut self, on: bool) -> ClientBuilder {
        self.options.manual_acks = on;
        self
    }

    /// The v5 Topic Alias Maximum announced to the broker ([`Options::topic_alias_maximum`],
    /// default 64): how many topic aliases the broker may use in what it sends. 0 announces
    /// none (CONNECT carries no Topic Alias Maximum), for brokers that mishandle aliases; a
    /// broker that sends one anyway is dropped as breaking the protocol.
    pub fn topic_alias_maximum(mut self, max: u16) -> ClientBuilder {
        self.options.topic_alias_maximum = max;
        self
    }

    /// Sets the TLS settings (for `mqtts://` and `wss://` brokers). By default nothing is
    /// trusted: give [`TlsOptions::ca_pem`] (or, with the `webpki-roots` feature,
    /// `TlsOptions::webpki_roots`).
    pub fn tls(mut self, tls: TlsOptions) -> ClientBuilder {
        self.transport.tls = tls;
        self
    }

    /// Sets extra HTTP headers for the WebSocket upgrade request (`ws://`, `wss://`), e.g.
    /// `("Authorization", "Bearer …")`.
    pub fn websocket_headers<I, N, V>(mut self, headers: I) -> ClientBuilder
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        self.transport.websocket.headers = headers
            .into_iter()
            .map(|(n, v)| (n.into(), v.into()))
            .collect();
        self
    }

    /// Sets all the transport settings at once (TLS, WebSocket, handshake buffer).
    pub fn transport(mut self, transport: TransportOptions) -> ClientBuilder {
        self.transport = transport;
        self
    }

    /// Adds a broker at the end of the failover list: a URL (`mqtt://`, `mqtts://`, `ws://`,
    /// `wss://`, with the aliases of [`Broker::parse`](wasmqtt::broker::Broker::parse)) or
    /// `host:port` for plain TCP. A URL's user name and password replace the options' ones in
    /// the CONNECT sent to that broker. Fails with [`Error::Url`].
    pub fn broker(mut self, url: &str) -> Result<ClientBuilder, Error> {
        self.options.brokers.push(parse_broker(url)?);
        Ok(self)
    }

    /// Adds brokers at the end of the failover list, in order (see [`ClientBuilder::broker`]).
    pub fn brokers<I, S>(mut self, urls: I) -> Result<ClientBuilder, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for url in urls {
            self.options.brokers.push(parse_broker(url.as_ref())?);
        }
        Ok(self)
    }

    /// Puts a broker in front of the list (what [`Client::connect`]'s address is).
    pub(super) fn first_broker(mut self, url: &str) -> Result<ClientBuilder, Error> {
        self.options.brokers.insert(0, parse_broker(url)?);
        Ok(self)
    }

    /// Spawns the driver and waits for the first CONNACK: see [`Client::connect`] for what it
    /// answers. Fails at once with [`Error::NoBroker`] when there is no broker and with
    /// [`Error::Transport`] when the transport settings cannot work for one of them.
    pub async fn connect(self) -> Result<(Client, Events), Error> {
        Client::first_connection(Client::spawn(
            self.options,
            &self.transport,
            self.store.as_ref(),
        )?)
        .await
    }

    /// Spawns the driver without waiting: see [`Client::start`].
    pub fn start(self) -> Result<(Client, Events), Error> {
        let (client, events, _) =
            Client::spawn(self.options, &self.transport, self.store.as_ref())?;
        Ok((client, events))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_broker;
    use wasmqtt::broker::Scheme;

    #[test]
    fn host_and_port_is_plain_tcp() {
        let b = parse_broker("127.0.0.1:1884").unwrap();
        assert_eq!(
            (b.scheme, b.host.as_str(), b.port),
            (Scheme::Mqtt, "127.0.0.1", 1884)
        );
        let b = parse_broker("[::1]:1885").unwrap();
        assert_eq!((b.host.as_str(), b.port), ("::1", 1885));
        assert_eq!(parse_broker("localhost").unwrap().port, 1883);
    }

    #[test]
    fn urls_keep_their_scheme() {
        let b = parse_broker("mqtts://broker.example.com").unwrap();
        assert_eq!((b.scheme, b.port), (Scheme::Mqtts, 8883));
        let b = parse_broker("wss://broker.example.com/mqtt").unwrap();
        assert_eq!(
            (b.scheme, b.port, b.path.as_str()),
            (Scheme::Wss, 443, "/mqtt")
        );
    }

    #[test]
    fn a_bad_address_is_a_url_error_before_any_connection() {
        let e = Client::builder(Options::new("c"))
            .broker("gopher://example.com")
            .unwrap_err();
        assert!(matches!(e, Error::Url(_)), "{e}");
        assert_eq!(e.code(), "INVALID_URL");
        let e = Client::start("127.0.0.1:99999", Options::new("c")).unwrap_err();
        assert!(matches!(e, Error::Url(_)), "{e}");
    }

    #[test]
    fn brokers_go_into_the_options_in_order() {
        let b = Client::builder(Options::new("c"))
            .brokers(["mqtt://a.example", "mqtt://b.example"])
            .unwrap()
            .first_broker("c.example:1")
            .unwrap();
        let hosts: Vec<&str> = b.options.brokers.iter().map(|b| b.host.as_str()).collect();
        assert_eq!(hosts, ["c.example", "a.example", "b.example"]);
    }

    #[test]
    fn bad_tls_settings_are_refused_before_any_connection() {
        let e = Client::builder(Options::new("c"))
            .broker("mqtts://127.0.0.1:1")
            .unwrap()
            .tls(TlsOptions {
                ca_pem: Some(
                    b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n"
                        .to_vec(),
                ),
                ..TlsOptions::default()
            })
            .start()
            .unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e}");
        assert_eq!(e.code(), "INVALID_TRANSPORT");
        // Nothing to trust for a TLS broker.
        let e = Client::builder(Options::new("c"))
            .broker("mqtts://127.0.0.1:1")
            .unwrap()
            .start()
            .unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e}");
        // A header HTTP does not allow.
        let e = Client::builder(Options::new("c"))
            .broker("ws://127.0.0.1:1")
            .unwrap()
            .websocket_headers([("Bad Name", "v")])
            .start()
            .unwrap_err();
        assert!(matches!(e, Error::Transport(_)), "{e}");
    }

    #[test]
    fn no_broker_is_an_error() {
        let e = Client::builder(Options::new("c")).start().unwrap_err();
        assert!(matches!(e, Error::NoBroker), "{e}");
    }
}
