//! The native driver: the [`Session`] on tokio TCP, TLS and
//! WebSocket.
//!
//! [`Client::connect`] spawns one driver task on the current tokio runtime and waits for the
//! first CONNACK ([`Client::start`] does not wait). The task is the small loop every wasmqtt
//! driver is: hand the session what happened with the time, drain
//! [`Session::poll_output`](wasmqtt::session::Session::poll_output) until it says wait, then
//! wait for the next of (socket readable or written, session deadline, application command).
//! All protocol rules (keep-alive, retransmission, the connect deadline, the first-connect
//! policy, reconnect back-off, the offline queue, write batching) live in the session; the
//! driver has none of its own.
//!
//! ```no_run
//! use wasmqtt::codec::{QoS, SubscriptionOptions};
//! use wasmqtt_tokio::Client;
//! use wasmqtt::session::{Event, Message, Options};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let (client, mut events) = Client::connect("127.0.0.1:1883", Options::new("meter-1")).await?;
//! client
//!     .subscribe(["meter/+/watts"], SubscriptionOptions::qos(QoS::AtLeastOnce))
//!     .await?;
//! // `publish` resolves when the session admitted the message (queued or sent); the handle it
//! // returns resolves when the broker acknowledged it (PUBACK / PUBCOMP).
//! let handle = client
//!     .publish(Message::new("meter/1/watts", "1234").qos(QoS::ExactlyOnce))
//!     .await?;
//! let reason_code = handle.await?;
//! println!("acknowledged: {reason_code}");
//! while let Some(event) = events.recv().await {
//!     if let Event::Message(m) = event {
//!         println!("{}: {:?}", m.message.topic, m.message.payload);
//!     }
//! }
//! client.disconnect().await;
//! # Ok(())
//! # }
//! ```
//!
//! Backpressure: [`Client::publish`] hands the message to the session at once (the session is
//! shared with the driver task behind a lock, so a publish costs no round trip through the
//! driver), and the session's own budgets answer [`PublishError::QueueFull`] or
//! [`PublishError::WouldBlock`]. Other application calls go through a bounded channel of
//! [`COMMAND_CAPACITY`] commands (a call waits while it is full). Events go through a bounded
//! channel of [`EVENT_CAPACITY`], handed over in batches ([`Events`] takes everything waiting
//! at once, so up to as many again sit in its own batch): while it is full, the driver stops
//! reading from the broker (acknowledgements included) until the application takes events, so
//! keep reading [`Events`], or drop it.
//!
//! Brokers and transports: a broker is `host:port` (plain TCP) or a URL whose scheme picks
//! the transport, `mqtt://`, `mqtts://` (TLS), `ws://` (WebSocket) or `wss://` (WebSocket over
//! TLS), through [`wasmqtt_transport`] (rustls with the ring provider, tungstenite; sans-I/O,
//! under this driver's socket). [`Client::builder`] takes a failover list of brokers
//! ([`Options::brokers`]: the session decides which one each attempt opens) and the
//! [`TransportOptions`] (CA, client certificate, ALPN, server name, WebSocket headers); see
//! [`ClientBuilder`] for `mqtts://` and AWS IoT examples. A failed TLS or WebSocket handshake
//! is [`Error::Connection`] with the typed
//! [`DisconnectReason::Handshake`].
//!
//! Durable session state (nothing accepted is lost across a crash) and manual
//! acknowledgement: [`ClientBuilder::durable`] keeps the session in a [`FileStore`] (a
//! checksummed log in a directory of its own) and resumes from it at start; `publish` then
//! resolves only once the message is in the store. [`ClientBuilder::manual_acks`] holds each
//! received QoS 1/2 message's PUBACK / PUBREC until [`Client::ack`]. A resumed session gets
//! the broker's backlog at once: read [`Events`] from the start (in a task of its own), not
//! only after awaiting a `subscribe`, whose SUBACK would otherwise wait behind a full event
//! channel. Messages resumed from the store complete through [`Client::resumed`]'s handles,
//! never as events. For example:
//!
//! ```no_run
//! use wasmqtt::codec::{QoS, SubscriptionOptions};
//! use wasmqtt::session::{Event, Message, Options};
//! use wasmqtt_tokio::{Client, SyncPolicy};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let options = Options::new("meter-1").session_expiry_interval(3600);
//! let (client, mut events) = Client::builder(options)
//!     .broker("127.0.0.1:1883")?
//!     .durable("/var/lib/meter/mqtt", SyncPolicy::EveryMessage)
//!     .manual_acks(true)
//!     .connect()
//!     .await?;
//! // Resolves once the message is in the store: a crash from now on does not lose it.
//! let _handle = client
//!     .publish(Message::new("meter/1/watts", "1234").qos(QoS::AtLeastOnce))
//!     .await?;
//! // What an earlier run accepted and did not see completed: already on its way again.
//! for resumed in client.resumed() {
//!     println!("resumed a message to {}", resumed.message.topic);
//! }
//! // Subscribed while events are read (a resumed session's backlog may come first).
//! let subscriber = client.clone();
//! let subscribed = tokio::spawn(async move {
//!     subscriber
//!         .subscribe(["meter/+/cmd"], SubscriptionOptions::qos(QoS::ExactlyOnce))
//!         .await
//! });
//! while let Some(event) = events.recv().await {
//!     if let Event::Message(m) = event {
//!         // ... process it, then let the broker forget it:
//!         client.ack(&m)?;
//!     }
//! }
//! subscribed.await??;
//! # Ok(())
//! # }
//! ```
//!
//! Cargo features: `tls` (default: `mqtts://`, `wss://`), `websocket` (default: `ws://`,
//! `wss://`), `webpki-roots` (Mozilla's root certificates built in,
//! `TlsOptions::webpki_roots`). A scheme whose feature is off is refused by
//! [`Client::connect`] with [`Error::Transport`] before any connection.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod builder;
mod driver;
mod events;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use wasmqtt::broker::{Broker, UrlError};
use wasmqtt::codec::{EncodeError, ReasonCode, SubscriptionOptions};
#[cfg(doc)]
use wasmqtt::session::Event;
use wasmqtt::session::{
    ConnectionState, DisconnectReason, Message, Options, PublishId, ReceivedMessage, Session,
};

pub use builder::ClientBuilder;
pub use events::Events;
pub use wasmqtt::session::{
    AckError, OptionsError, PublishError, RequestError, ResponseError, ResumeError, SyncPolicy,
};
pub use wasmqtt_store::{FileStore, MemoryStore, Store, StoreError};
use wasmqtt_transport::Connector;
pub use wasmqtt_transport::{
    ConfigError, TlsOptions, TlsVersion, TransportOptions, WebSocketOptions,
};

/// Application commands (other than publishes) that may wait for the driver at once; past
/// this, calls wait.
pub const COMMAND_CAPACITY: usize = 64;
/// Events that may wait for the application; past this, the driver stops reading the socket.
pub const EVENT_CAPACITY: usize = 1024;

/// Why a client could not connect, or a call failed outside the session's own errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The TCP connection could not be opened (resolution, refusal, timeout) or failed.
    #[error("transport error: {0}")]
    Io(#[from] std::io::Error),
    /// The broker refused the connection or it ended before CONNACK.
    #[error("could not connect: {0}")]
    Connection(DisconnectReason),
    /// The request breaks a rule for senders (see the error).
    #[error("invalid request: {0}")]
    Invalid(EncodeError),
    /// The client's session is closed (disconnected, aborted, or closed for good).
    #[error("the client is closed")]
    Closed,
    /// The options cannot be used ([`Options::validate`]); nothing was sent.
    #[error("invalid options: {0}")]
    InvalidOptions(#[from] OptionsError),
    /// A broker address is neither `host:port` nor a broker URL; nothing was sent.
    #[error("invalid broker address: {0}")]
    Url(#[from] UrlError),
    /// [`ClientBuilder`] was given no broker (and the options list none); nothing was sent.
    #[error("no broker to connect to")]
    NoBroker,
    /// The TLS or WebSocket settings cannot work (a PEM that does not parse, a client
    /// certificate without its key, a TLS broker with no CA to trust, a scheme whose feature
    /// is off, ...); nothing was sent.
    #[error("invalid transport settings: {0}")]
    Transport(#[from] ConfigError),
    /// The session store could not be opened or read ([`ClientBuilder::durable`]); nothing
    /// was sent.
    #[error("session store: {0}")]
    Store(#[from] StoreError),
    /// The session store holds records this version cannot resume from; nothing was sent.
    #[error("cannot resume the stored session: {0}")]
    Resume(#[from] ResumeError),
    /// [`Client::ack`] of a message that takes no acknowledgement: QoS 0, or received without
    /// [`ClientBuilder::manual_acks`].
    #[error("this message takes no acknowledgement (QoS 0, or manual acks are off)")]
    NotAcknowledgeable,
    /// [`Client::ack`] refused by the session (unknown, already acknowledged, or its
    /// connection ended: it will be delivered again).
    #[error("acknowledgement refused: {0}")]
    Ack(#[from] AckError),
}

impl Error {
    /// The core's stable error code: [`DisconnectReason::code`] (a transport error is
    /// `CONNECTION_LOST`; a TLS or WebSocket handshake failure its
    /// [`HandshakeFailure::code`](wasmqtt::session::HandshakeFailure::code)),
    /// [`OptionsError::code`], [`UrlError::code`] (`INVALID_URL`), `NO_BROKER`,
    /// `INVALID_TRANSPORT`, `INVALID_REQUEST`, `SESSION_CLOSED`, a [`StoreError::code`], a
    /// [`ResumeError::code`], `ACK_NOT_ACKNOWLEDGEABLE` or an [`AckError::code`].
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io(_) => DisconnectReason::Transport(String::new()).code(),
            Error::Connection(reason) => reason.code(),
            Error::Invalid(_) => "INVALID_REQUEST",
            Error::Closed => PublishError::SessionClosed.code(),
            Error::InvalidOptions(e) => e.code(),
            Error::Url(e) => e.code(),
            Error::NoBroker => "NO_BROKER",
            Error::Transport(_) => "INVALID_TRANSPORT",
            Error::Store(e) => e.code(),
            Error::Resume(e) => e.code(),
            Error::NotAcknowledgeable => "ACK_NOT_ACKNOWLEDGEABLE",
            Error::Ack(e) => e.code(),
        }
    }
}

type Reply<T> = oneshot::Sender<T>;

/// What a [`Client`] asks the driver to do.
#[derive(Debug)]
enum Command {
    Subscribe {
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
        reply: Reply<Result<Vec<ReasonCode>, RequestError>>,
    },
    Unsubscribe {
        filters: Vec<String>,
        reply: Reply<Result<Vec<ReasonCode>, RequestError>>,
    },
    Auth {
        reason_code: ReasonCode,
        data: Option<Vec<u8>>,
        reply: Reply<Result<(), EncodeError>>,
    },
    /// Disconnect; `done` is dropped when the driver has ended.
    Disconnect {
        reason_code: ReasonCode,
        done: Reply<()>,
    },
}

/// A handle to a connected session; cheap to clone, every clone drives the same session.
///
/// When every clone is dropped, the driver disconnects (DISCONNECT, normal disconnection) and
/// ends.
#[derive(Debug, Clone)]
pub struct Client {
    commands: mpsc::Sender<Command>,
    shared: Arc<driver::Shared>,
    task: tokio::task::AbortHandle,
}

/// Resolves when a published message completed: acknowledged by the broker (QoS 1: PUBACK,
/// QoS 2: PUBCOMP; the v5 reason code, Success in 3.1.1), written (QoS 0), or failed.
///
/// Dropping the handle does not cancel the message.
#[derive(Debug)]
#[must_use = "a PublishHandle does nothing unless awaited; drop it to ignore the outcome"]
pub struct PublishHandle {
    id: PublishId,
    rx: oneshot::Receiver<Result<ReasonCode, PublishError>>,
}

impl PublishHandle {
    /// The session's identifier of this message.
    pub fn id(&self) -> PublishId {
        self.id
    }
}

/// A message resumed from the store at start ([`ClientBuilder::durable`]): accepted by an
/// earlier run (its `publish` resolved, or was about to when that run ended) and not completed
/// then. The session sends it again as the specification requires; `handle` resolves when it
/// completes. See [`Client::resumed`].
#[derive(Debug)]
#[non_exhaustive]
pub struct Resumed {
    /// The message as it was published.
    pub message: Message,
    /// Resolves when it completes, like the handle [`Client::publish`] returns.
    pub handle: PublishHandle,
}

impl Future for PublishHandle {
    type Output = Result<ReasonCode, PublishError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(PublishError::SessionClosed)))
    }
}

impl Client {
    /// Connects to `broker_addr`, spawning the driver task on the current tokio runtime, and
    /// waits for the first CONNACK.
    ///
    /// `broker_addr` is `host:port` (plain TCP, port 1883 when left out) or a broker URL
    /// (`mqtt://`, `mqtts://`, `ws://`, `wss://`, see [`Broker::parse`]); the host is resolved
    /// again at every connection attempt. It is the first broker, followed by any
    /// [`Options::brokers`] (failover order; [`ConnectionInfo::broker`](wasmqtt::session::ConnectionInfo::broker)
    /// names the one that accepted). Transports use the default [`TransportOptions`], which
    /// trust no CA: for `mqtts://` and `wss://` use [`Client::builder`] with
    /// [`ClientBuilder::tls`].
    ///
    /// Fails at once, before any connection, with [`Error::Url`] for an address that does not
    /// parse, [`Error::InvalidOptions`] when [`Options::validate`] refuses the options and
    /// [`Error::Transport`] when the TLS or WebSocket settings cannot work.
    /// Then with [`Error::Io`] when the TCP connection cannot be opened (the session's
    /// `DisconnectReason::Transport`), and with [`Error::Connection`] when a TLS or WebSocket
    /// handshake fails ([`DisconnectReason::Handshake`], typed), the broker refuses the
    /// connection, or no CONNACK arrives within `options.connect_timeout_ms`
    /// (`ConnectTimeout`, the handshakes included); the driver is then gone. That is the
    /// session's first-connect policy
    /// ([`FirstConnect::GiveUp`](wasmqtt::session::FirstConnect::GiveUp), the default: every
    /// broker of the list is tried once); with
    /// [`FirstConnect::Retry`](wasmqtt::session::FirstConnect::Retry) the session keeps trying
    /// and this waits until a CONNACK accepts a connection. Once connected, the session
    /// reconnects by itself as `options.reconnect` says.
    ///
    /// A `random_seed` of 0 in `options` is replaced by a random one (for the reconnect
    /// jitter; `wasmqtt::session::random_client_id` of such a seed makes a client id).
    ///
    /// The first event on [`Events`] is the [`Event::Connected`] of this connection (with
    /// `FirstConnect::Retry`, the failed attempts' [`Event::Disconnected`] come before it).
    ///
    /// Panics when called outside a tokio runtime.
    pub async fn connect(broker_addr: &str, options: Options) -> Result<(Client, Events), Error> {
        Client::builder(options)
            .first_broker(broker_addr)?
            .connect()
            .await
    }

    /// Like [`Client::connect`] without waiting: the driver task starts connecting and the
    /// outcome comes on [`Events`] ([`Event::Connected`], or [`Event::Disconnected`] and the
    /// stream's end when the session gives up). Fails only with [`Error::Url`],
    /// [`Error::InvalidOptions`] or [`Error::Transport`].
    pub fn start(broker_addr: &str, options: Options) -> Result<(Client, Events), Error> {
        Client::builder(options).first_broker(broker_addr)?.start()
    }

    /// A [`ClientBuilder`] for `options`: brokers by URL (failover list), TLS and WebSocket
    /// settings, then [`ClientBuilder::connect`] or [`ClientBuilder::start`].
    pub fn builder(options: Options) -> ClientBuilder {
        ClientBuilder::new(options)
    }

    /// Waits for the outcome of the first connection.
    async fn first_connection(
        (client, events, first): (Client, Events, oneshot::Receiver<Result<(), Error>>),
    ) -> Result<(Client, Events), Error> {
        match first.await {
            Ok(Ok(())) => Ok((client, events)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::Closed),
        }
    }

    /// Spawns the driver for `options` (validated here; `options.brokers` not empty) over
    /// transports made as `transport` says (checked here against every broker).
    #[allow(clippy::type_complexity)]
    fn spawn(
        mut options: Options,
        transport: &TransportOptions,
        store: Option<&builder::StoreChoice>,
    ) -> Result<(Client, Events, oneshot::Receiver<Result<(), Error>>), Error> {
        options.validate()?;
        if options.random_seed == 0 {
            options.random_seed = driver::random_seed();
        }
        let fallback = options.brokers.first().cloned().ok_or(Error::NoBroker)?;
        let connector = Connector::new(transport)?;
        // A scheme this build cannot serve, a TLS broker with nothing to trust, a host that is
        // no TLS server name: refused now rather than at every attempt.
        for broker in &options.brokers {
            connector.start(broker)?;
        }
        let (commands, commands_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (events_tx, events) = events::channel(EVENT_CAPACITY);
        let (first_tx, first_rx) = oneshot::channel();
        let (session, store) = match store {
            None => (Session::new(options), None),
            Some(choice) => {
                let (store, policy) = choice.open()?;
                options.durable = Some(options.durable.unwrap_or(policy));
                let session = Session::resume(options, store.load())?;
                (session, Some(store))
            }
        };
        let shared = driver::Shared::new(session);
        let driver = driver::Driver::new(
            Arc::clone(&shared),
            fallback,
            connector,
            commands_rx,
            events_tx,
            first_tx,
            store,
        );
        let task = tokio::spawn(driver.run()).abort_handle();
        let client = Client {
            commands,
            shared,
            task,
        };
        Ok((client, events, first_rx))
    }

    /// Where the connection stands, as the session says: `connecting` (the first attempt),
    /// `connected`, `reconnecting`, `closed`.
    pub fn connection_state(&self) -> ConnectionState {
        self.shared.connection_state()
    }

    /// Publishes a message. Resolves when the session has admitted it (sent, or queued while
    /// offline or while the inflight window is full) with a [`PublishHandle`] that resolves when
    /// the message completes. With durable state ([`ClientBuilder::durable`]) a QoS 1/2
    /// message is admitted once its record is in the store (synced as the
    /// [`SyncPolicy`] says): from then on a crash does not lose it.
    ///
    /// Refusals come from the session: [`PublishError::QueueFull`], [`PublishError::WouldBlock`]
    /// (QoS 0 while the socket is not keeping up), an invalid topic, a message too large, or
    /// [`PublishError::SessionClosed`].
    pub async fn publish(&self, message: Message) -> Result<PublishHandle, PublishError> {
        // The session answers at once, without the driver task: give the runtime a turn now and
        // then, so a loop of publishes (or of retries after `WouldBlock`) lets the driver run
        // even on a single-threaded runtime.
        tokio::task::coop::consume_budget().await;
        let (done, rx) = oneshot::channel();
        let (id, admitted) = self.shared.publish(message, done)?;
        if let Some(admitted) = admitted {
            admitted.await.unwrap_or(Err(PublishError::SessionClosed))?;
        }
        Ok(PublishHandle { id, rx })
    }

    /// The messages this client resumed from its store ([`ClientBuilder::durable`]) when it
    /// started, in the order they were published, each with a handle of its completion. Taken
    /// once: the first call returns them all, later calls nothing. Always empty without a
    /// store, or with an empty one.
    ///
    /// These are what an earlier run had accepted and not seen completed: an application that
    /// keeps its own record of what it published publishes again only what is neither in its
    /// record nor here (a message here is already on its way; publishing it again would send
    /// it twice). Their completions are never [`Event::PublishComplete`] events: they resolve
    /// these handles (dropping one ignores its outcome), so an application that reads no
    /// events does not hold the client back however many messages were resumed.
    pub fn resumed(&self) -> Vec<Resumed> {
        std::mem::take(&mut self.shared.lock().resumed)
            .into_iter()
            .map(|(id, message, rx)| Resumed {
                message,
                handle: PublishHandle { id, rx },
            })
            .collect()
    }

    /// MQTT 5.0 request/response: publishes `payload` to `topic` (QoS 0) as a request and
    /// resolves with the response, or fails with [`ResponseError::Timeout`] when none came
    /// within `timeout`. The session handles the Response Topic (one shared response
    /// subscription per client, made at the first request) and the Correlation Data; see
    /// [`Session::request`](wasmqtt::session::Session::request).
    ///
    /// Fails with [`ResponseError::NotSupportedInV311`] in a 3.1.1 session and
    /// [`ResponseError::SessionClosed`] when the client is (or becomes) closed.
    ///
    /// ```no_run
    /// # async fn demo(client: wasmqtt_tokio::Client) -> Result<(), wasmqtt_tokio::ResponseError> {
    /// let reply = client.request("svc/clock", "now?", std::time::Duration::from_secs(5)).await?;
    /// println!("{}", String::from_utf8_lossy(&reply.payload));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn request(
        &self,
        topic: impl Into<String>,
        payload: impl Into<Vec<u8>>,
        timeout: Duration,
    ) -> Result<Message, ResponseError> {
        self.request_message(Message::new(topic, payload), timeout)
            .await
    }

    /// Like [`Client::request`] with a whole message (QoS, retain, user properties, ...); its
    /// Response Topic and Correlation Data are the session's.
    pub async fn request_message(
        &self,
        message: Message,
        timeout: Duration,
    ) -> Result<Message, ResponseError> {
        tokio::task::coop::consume_budget().await;
        let (reply, rx) = oneshot::channel();
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.shared.request(message, ms, reply)?;
        match rx.await {
            Ok(r) => r.map(|m| m.message),
            Err(_) => Err(ResponseError::SessionClosed),
        }
    }

    /// Answers a request received as `request`: publishes `payload` to its Response Topic with
    /// its Correlation Data, at its QoS. The handle resolves when the response completes.
    /// Fails with [`ResponseError::NoResponseTopic`] for a message that is no request.
    pub fn respond(
        &self,
        request: &ReceivedMessage,
        payload: impl Into<Vec<u8>>,
    ) -> Result<PublishHandle, ResponseError> {
        let (done, rx) = oneshot::channel();
        let id = self.shared.respond(request, payload.into(), done)?;
        Ok(PublishHandle { id, rx })
    }

    /// Acknowledges a received QoS 1/2 message (with [`ClientBuilder::manual_acks`]): its
    /// PUBACK or PUBREC goes out once every message received before it on this connection is
    /// acknowledged too. Until then the broker holds it, and sends it again after a crash or a
    /// lost connection. Fails with [`Error::NotAcknowledgeable`] (QoS 0, or manual acks off),
    /// [`Error::Ack`] (already acknowledged; its connection ended, so it will come again) or
    /// [`Error::Closed`].
    pub fn ack(&self, message: &ReceivedMessage) -> Result<(), Error> {
        let id = message.ack.ok_or(Error::NotAcknowledgeable)?;
        self.shared.ack(id)
    }

    /// Subscribes to `filters`, all with `options`, and waits for SUBACK: one reason code per
    /// filter (the granted QoS, or a failure code). The subscriptions are renewed by the session
    /// if the broker loses them.
    pub async fn subscribe<I, S>(
        &self,
        filters: I,
        options: SubscriptionOptions,
    ) -> Result<Vec<ReasonCode>, RequestError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let filters = filters.into_iter().map(|f| (f.into(), options)).collect();
        self.subscribe_with(filters, None).await
    }

    /// Subscribes with options per filter and an optional v5 subscription identifier, and
    /// waits for SUBACK.
    pub async fn subscribe_with(
        &self,
        filters: Vec<(String, SubscriptionOptions)>,
        subscription_id: Option<u32>,
    ) -> Result<Vec<ReasonCode>, RequestError> {
        let (reply, rx) = oneshot::channel();
        self.requested(
            Command::Subscribe {
                filters,
                subscription_id,
                reply,
            },
            rx,
        )
        .await
    }

    /// Unsubscribes from `filters` and waits for UNSUBACK (v5 reason codes; empty in 3.1.1).
    pub async fn unsubscribe<I, S>(&self, filters: I) -> Result<Vec<ReasonCode>, RequestError>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let (reply, rx) = oneshot::channel();
        let filters = filters.into_iter().map(Into::into).collect();
        self.requested(Command::Unsubscribe { filters, reply }, rx)
            .await
    }

    async fn requested(
        &self,
        cmd: Command,
        rx: oneshot::Receiver<Result<Vec<ReasonCode>, RequestError>>,
    ) -> Result<Vec<ReasonCode>, RequestError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| RequestError::SessionClosed)?;
        rx.await.unwrap_or(Err(RequestError::SessionClosed))
    }

    /// v5 enhanced authentication: sends AUTH (answering an [`Event::AuthChallenge`], or
    /// starting re-authentication).
    pub async fn auth(&self, reason_code: ReasonCode, data: Option<Vec<u8>>) -> Result<(), Error> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Auth {
            reason_code,
            data,
            reply,
        };
        self.commands.send(cmd).await.map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?.map_err(Error::Invalid)
    }

    /// Ends the session: DISCONNECT (normal disconnection) if connected, then the socket is
    /// closed; every message and request still waiting fails with `SessionClosed`. Resolves
    /// when the driver has ended. Does nothing if it already has.
    pub async fn disconnect(&self) {
        self.disconnect_with(ReasonCode::NORMAL_DISCONNECTION).await;
    }

    /// Like [`Client::disconnect`] with a v5 reason code (0x04, Disconnect with Will Message,
    /// asks the broker to publish the will).
    pub async fn disconnect_with(&self, reason_code: ReasonCode) {
        let (done, rx) = oneshot::channel();
        if self
            .commands
            .send(Command::Disconnect { reason_code, done })
            .await
            .is_ok()
        {
            let _ = rx.await;
        }
    }

    /// Ends the driver at once, as if the process died: the socket is closed without
    /// DISCONNECT (so the broker publishes the will), nothing more is sent, and every message
    /// and request still waiting fails with `SessionClosed`.
    pub fn abort(&self) {
        self.task.abort();
    }

    /// Whether the driver has ended (after a disconnect, an abort, or closing for good).
    pub fn is_closed(&self) -> bool {
        self.commands.is_closed()
    }
}

/// Parses a broker address: a broker URL (`scheme://…`), or `host:port` / `host` for plain
/// TCP (port 1883 when left out; IPv6 addresses in brackets).
pub fn parse_broker(addr: &str) -> Result<Broker, UrlError> {
    let addr = addr.trim();
    if addr.contains("://") {
        Broker::parse(addr)
    } else {
        Broker::parse(&format!("mqtt://{addr}"))
    }
}
