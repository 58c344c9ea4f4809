//! [`ClientBuilder`]: brokers by URL (a failover list), then connect.

use super::{parse_broker, Client, Error, Events};
use wasmqtt::session::Options;

/// Builds a [`Client`]: the brokers (in failover order, into [`Options::brokers`]), then
/// [`ClientBuilder::connect`] or [`ClientBuilder::start`]. Made by [`Client::builder`].
#[derive(Debug, Clone)]
#[must_use = "a ClientBuilder does nothing until connect() or start()"]
pub struct ClientBuilder {
    options: Options,
}

impl ClientBuilder {
    pub(super) fn new(options: Options) -> ClientBuilder {
        ClientBuilder { options }
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
    /// answers. Fails at once with [`Error::NoBroker`] when there is no broker.
    pub async fn connect(self) -> Result<(Client, Events), Error> {
        Client::first_connection(Client::spawn(self.options)?).await
    }

    /// Spawns the driver without waiting: see [`Client::start`].
    pub fn start(self) -> Result<(Client, Events), Error> {
        let (client, events, _) = Client::spawn(self.options)?;
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
    fn no_broker_is_an_error() {
        let e = Client::builder(Options::new("c")).start().unwrap_err();
        assert!(matches!(e, Error::NoBroker), "{e}");
    }
}
