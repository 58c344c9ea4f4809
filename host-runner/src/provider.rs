//! The provider component (`wasmqtt:mqtt/client`), instantiated through `bindgen!` and driven
//! through a typed wrapper.
//!
//! ```no_run
//! use std::time::Duration;
//! use wasmqtt_host::{types, Client, NetworkPolicy, Provider, Runtime};
//!
//! let runtime = Runtime::new()?;
//! let provider = Provider::load_default(&runtime)?;
//! let policy = NetworkPolicy::broker("127.0.0.1", 1883)?;
//! let options = types::connect_options("127.0.0.1", 1883, "demo", types::ProtocolVersion::V5);
//! let mut client = Client::connect(&provider, &policy, &options)?;
//! client.subscribe(&[types::subscription("demo/#", types::Qos::AtLeastOnce)], None)?;
//! client.publish(&types::message("demo/a", b"hi", types::Qos::AtLeastOnce, false))?;
//! while let Some(event) = client.poll_event(Duration::from_millis(500))? {
//!     println!("{event:?}");
//! }
//! client.disconnect()?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use wasmtime::component::{Resource, ResourceAny};
use wasmtime::Store;
use wasmtime_wasi::p2::bindings::io::poll::HostPollable;
use wasmtime_wasi::p2::DynPollable;

use crate::policy::NetworkPolicy;
use crate::runtime::{Artifact, HostState, LoadedComponent, Runtime, Stdio};

/// Generated from `wit/mqtt.wit`, world `provider`. `wasi:io/poll` is wasmtime-wasi's, so the
/// pollable `client.ready` returns lives in the same table as every other WASI resource.
mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "provider",
        with: {
            "wasi:io/poll": wasmtime_wasi::p2::bindings::io::poll,
        },
        additional_derives: [PartialEq, Eq],
        require_store_data_send: true,
    });
}

pub use bindings::{Provider as ProviderBindings, ProviderPre};

/// The WIT types of `wasmqtt:mqtt/types`, with constructors for the common cases.
pub mod types {
    pub use super::bindings::exports::wasmqtt::mqtt::types::*;

    /// Connect options with the defaults of the WIT documentation: keep-alive 60 s, clean start,
    /// no credentials, no will, the provider's default reconnect policy, inflight window and
    /// queue.
    pub fn connect_options(
        host: &str,
        port: u16,
        client_id: &str,
        protocol: ProtocolVersion,
    ) -> ConnectOptions {
        ConnectOptions {
            host: host.to_string(),
            port,
            brokers: Vec::new(),
            tls: None,
            websocket_headers: Vec::new(),
            client_id: client_id.to_string(),
            username: None,
            password: None,
            keep_alive_secs: 60,
            clean_start: true,
            will: None,
            protocol,
            session_expiry_interval: None,
            reconnect: None,
            max_inflight: None,
            max_queued_messages: None,
            connect_timeout_ms: None,
            topic_alias_maximum: None,
            store: None,
            manual_acks: None,
        }
    }

    /// Store options for the directory `path` (granted read-write with
    /// [`NetworkPolicy::with_store_dir`](crate::NetworkPolicy::with_store_dir)), syncing as
    /// `sync` says.
    pub fn store_options(path: &std::path::Path, sync: SyncPolicy) -> StoreOptions {
        StoreOptions {
            path: path.to_string_lossy().into_owned(),
            sync,
        }
    }

    /// TLS options trusting the CA certificates of `ca_pem` (PEM text), nothing else set.
    pub fn tls_with_ca(ca_pem: &str) -> TlsOptions {
        TlsOptions {
            ca_pem: Some(ca_pem.to_string()),
            ca_file: None,
            client_certificate_pem: None,
            client_key_pem: None,
            client_certificate_file: None,
            client_key_file: None,
            alpn: Vec::new(),
            server_name: None,
            tls_version: None,
            dangerous_skip_hostname_verification: false,
            dangerous_accept_any_certificate: false,
        }
    }

    /// A message without MQTT 5.0 properties.
    pub fn message(topic: &str, payload: &[u8], qos: Qos, retain: bool) -> Message {
        Message {
            topic: topic.to_string(),
            payload: payload.to_vec(),
            qos,
            retain,
            properties: None,
            ack_id: None,
        }
    }

    /// A subscription with the MQTT 3.1.1 semantics: local messages delivered, retain flag
    /// cleared on forwarding, retained messages sent at subscribe.
    pub fn subscription(filter: &str, qos: Qos) -> Subscription {
        Subscription {
            filter: filter.to_string(),
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendAtSubscribe,
        }
    }

    /// Empty MQTT 5.0 message properties.
    pub fn no_properties() -> MessageProperties {
        MessageProperties {
            payload_format_utf8: None,
            message_expiry_interval: None,
            content_type: None,
            response_topic: None,
            correlation_data: None,
            user_properties: Vec::new(),
            subscription_identifiers: Vec::new(),
        }
    }

    impl Qos {
        /// The QoS as its MQTT number (0, 1 or 2).
        pub fn level(self) -> u8 {
            match self {
                Qos::AtMostOnce => 0,
                Qos::AtLeastOnce => 1,
                Qos::ExactlyOnce => 2,
            }
        }

        /// The QoS for an MQTT number, if it is 0, 1 or 2.
        pub fn from_level(level: u8) -> Option<Qos> {
            match level {
                0 => Some(Qos::AtMostOnce),
                1 => Some(Qos::AtLeastOnce),
                2 => Some(Qos::ExactlyOnce),
                _ => None,
            }
        }
    }
}

use types::{ConnectOptions, DeliveryId, Event, Message, RequestId, Subscription};

/// What a call into the provider can answer besides success.
#[derive(Debug)]
pub enum ClientError {
    /// The provider answered with its WIT `error`: bad input, network, broker refusal, ….
    Mqtt(types::Error),
    /// The host failed or the component trapped. The instance is unusable after a trap.
    Host(anyhow::Error),
}

impl ClientError {
    /// The WIT error, if that is what this is.
    pub fn mqtt(&self) -> Option<&types::Error> {
        match self {
            ClientError::Mqtt(e) => Some(e),
            ClientError::Host(_) => None,
        }
    }

    /// The core's stable code of the WIT error ([`error_code`]); `HOST` for a host failure or
    /// a trap.
    pub fn code(&self) -> &'static str {
        match self {
            ClientError::Mqtt(e) => error_code(e),
            ClientError::Host(_) => "HOST",
        }
    }
}

/// The core's stable code of a WIT error: each WIT case is the one the provider makes of a
/// core error, so this answers that error's `code()` (`wasmqtt::session::OptionsError::code`,
/// `PublishError::code`, `RequestError::code`, `DisconnectReason::code`).
pub fn error_code(e: &types::Error) -> &'static str {
    use types::Error as E;
    use wasmqtt::codec::{PacketType, ReasonCode};
    use wasmqtt::session::{
        DisconnectReason, OptionsError, ProtocolViolation, PublishError, RequestError,
    };
    match e {
        E::InvalidTopic(_) => PublishError::InvalidTopic(wasmqtt::topic::TopicError::Empty).code(),
        E::InvalidFilter(_) => RequestError::Empty.code(),
        E::InvalidArgument(_) => OptionsError::MaxInflightZero.code(),
        E::QueueFull => PublishError::QueueFull {
            messages: 0,
            bytes: 0,
        }
        .code(),
        E::WouldBlock => PublishError::WouldBlock.code(),
        E::TooLarge(_) => "TOO_LARGE",
        E::Refused(r) => DisconnectReason::Refused {
            code: ReasonCode(r.code),
            version: wasmqtt::codec::ProtocolVersion::V5,
            reason: None,
        }
        .code(),
        E::Timeout => DisconnectReason::ConnectTimeout.code(),
        E::Network(_) => DisconnectReason::ConnectionLost.code(),
        E::Protocol(_) => DisconnectReason::ProtocolError(ProtocolViolation::UnexpectedPacket(
            PacketType::Connect,
        ))
        .code(),
        E::Closed => PublishError::SessionClosed.code(),
        E::InvalidUrl(_) => wasmqtt::broker::UrlError::MissingScheme(String::new()).code(),
        // The core's `HandshakeFailure::code()` travels in the record; a code this host does
        // not know is reported as the generic TLS one.
        E::Handshake(h) => handshake_code(&h.code),
        E::UnreadableFile(_) => "UNREADABLE_FILE",
        E::Unsupported(_) => "UNSUPPORTED",
        E::Store(e) => store_code(&e.code),
        E::Ack(a) => match a {
            types::AckError::Unknown => wasmqtt::session::AckError::Unknown.code(),
            types::AckError::AlreadyAcked => wasmqtt::session::AckError::AlreadyAcked.code(),
            types::AckError::ConnectionLost => wasmqtt::session::AckError::ConnectionLost.code(),
        },
    }
}

/// The static form of a store error code from the component (`StoreError::code`,
/// `ResumeError::code`); one this host does not know is `STORE_IO`.
fn store_code(code: &str) -> &'static str {
    [
        "STORE_IO",
        "STORE_NOT_A_LOG",
        "STORE_BATCH_TOO_LARGE",
        "STORE_POISONED",
        "STORE_UNKNOWN_KEY",
        "STORE_UNSUPPORTED_FORMAT",
        "STORE_CORRUPT",
    ]
    .into_iter()
    .find(|c| *c == code)
    .unwrap_or("STORE_IO")
}

/// The static form of a `HandshakeFailure::code()` string from the component.
fn handshake_code(code: &str) -> &'static str {
    use wasmqtt::session::HandshakeFailure as H;
    [
        H::UnknownIssuer,
        H::NameMismatch,
        H::CertificateExpired,
        H::BadCertificate,
        H::ClientCertificateRequired,
        H::NotTls,
        H::Tls,
        H::WebSocketUpgrade,
        H::WebSocket,
    ]
    .into_iter()
    .map(H::code)
    .find(|c| *c == code)
    .unwrap_or(H::Tls.code())
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Mqtt(e) => write!(f, "{}", describe_error(e)),
            ClientError::Host(e) => write!(f, "host or trap: {e:#}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<anyhow::Error> for ClientError {
    fn from(e: anyhow::Error) -> Self {
        ClientError::Host(e)
    }
}

impl From<wasmtime::Error> for ClientError {
    fn from(e: wasmtime::Error) -> Self {
        ClientError::Host(e.into())
    }
}

/// Flattens `Result<Result<T, WitError>, Trap>`.
fn flatten<T>(r: wasmtime::Result<Result<T, types::Error>>) -> Result<T, ClientError> {
    match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(ClientError::Mqtt(e)),
        Err(e) => Err(ClientError::Host(e.into())),
    }
}

/// A short human-readable text for a WIT error.
pub fn describe_error(e: &types::Error) -> String {
    use types::Error as E;
    match e {
        E::InvalidTopic(s) => format!("invalid topic: {s}"),
        E::InvalidFilter(s) => format!("invalid filter: {s}"),
        E::InvalidArgument(s) => format!("invalid argument: {s}"),
        E::QueueFull => "queue full".into(),
        E::WouldBlock => "would block".into(),
        E::TooLarge(s) => format!("too large: {s}"),
        E::Refused(r) => format!("refused by the broker: 0x{:02x} {}", r.code, r.text),
        E::Timeout => "no CONNACK within the connect timeout".into(),
        E::Network(s) => format!("network: {s}"),
        E::Protocol(s) => format!("protocol: {s}"),
        E::Closed => "closed".into(),
        E::InvalidUrl(s) => format!("invalid broker URL: {s}"),
        E::Handshake(h) => format!("handshake failed ({}): {}", h.code, h.detail),
        E::UnreadableFile(f) => format!("cannot read {}: {}", f.path, f.reason),
        E::Unsupported(s) => format!("not supported by this provider build: {s}"),
        E::Store(e) => format!("session store ({}): {}", e.code, e.detail),
        E::Ack(a) => format!("acknowledgement refused: {a:?}"),
    }
}

/// The provider component, compiled and pre-linked: instantiate it once per client.
#[derive(Clone)]
pub struct Provider {
    runtime: Runtime,
    loaded: LoadedComponent,
    pre: ProviderPre<HostState>,
    read_only_dirs: Vec<PathBuf>,
}

impl Provider {
    /// Compiles the provider at `path` and checks that it exports the `provider` world.
    pub fn load(runtime: &Runtime, path: &Path) -> anyhow::Result<Self> {
        let loaded = runtime.load(path)?;
        let pre = runtime
            .linker()
            .instantiate_pre(&loaded.component)
            .map_err(anyhow::Error::from)
            .and_then(|pre| ProviderPre::new(pre).map_err(anyhow::Error::from))
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} does not fit the world wasmqtt:mqtt/provider ({e:#}).\n\
                     Is it the provider component? Rebuild it at {} with:\n    {}",
                    path.display(),
                    crate::runtime::workspace_root().display(),
                    Artifact::Provider.build_command()
                )
            })?;
        Ok(Self {
            runtime: runtime.clone(),
            loaded,
            pre,
            read_only_dirs: Vec::new(),
        })
    }

    /// Compiles the provider at [`Artifact::Provider`]'s path (`$WASMQTT_PROVIDER_WASM` or
    /// `target/wasm32-wasip2/wasm/wasmqtt_provider.wasm`).
    pub fn load_default(runtime: &Runtime) -> anyhow::Result<Self> {
        Self::load(runtime, &Artifact::Provider.require()?)
    }

    /// The compiled component, its path, size and compile time.
    pub fn component(&self) -> &LoadedComponent {
        &self.loaded
    }

    /// The runtime it was compiled in.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Lets every instance made from now on read the directory `dir`, read-only, at the same
    /// path as on the host: where the `tls-options` files (`ca-file`, …) are. Without a grant an
    /// instance sees no file system at all. The compiled component is shared with the original.
    ///
    /// ```no_run
    /// # use wasmqtt_host::{NetworkPolicy, Provider, Runtime};
    /// # let runtime = Runtime::new()?;
    /// let provider = Provider::load_default(&runtime)?.grant_dir_read_only("/etc/mqtt/certs");
    /// let policy = NetworkPolicy::broker_urls(["mqtts://a.example", "mqtts://b.example"])?;
    /// let instance = provider.instantiate(&policy)?;
    /// # Ok::<(), anyhow::Error>(())
    /// ```
    pub fn grant_dir_read_only(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        if !self.read_only_dirs.contains(&dir) {
            self.read_only_dirs.push(dir);
        }
        self
    }

    /// The directories instances may read ([`Provider::grant_dir_read_only`]).
    pub fn read_only_dirs(&self) -> &[PathBuf] {
        &self.read_only_dirs
    }

    /// A fresh instance in a fresh store whose network access is `policy` and whose file
    /// system is the granted directories (read-only), if any, and the policy's store directory
    /// (read-write: [`NetworkPolicy::with_store_dir`]).
    pub fn instantiate(&self, policy: &NetworkPolicy) -> anyhow::Result<Instance> {
        let mut store = self.runtime.store_with_dirs(
            policy,
            &Stdio::Null,
            wasmtime_wasi::WasiCtxBuilder::new(),
            &self.read_only_dirs,
        )?;
        let bindings = self.pre.instantiate(&mut store)?;
        Ok(Instance { store, bindings })
    }
}

/// One instance of the provider in its own store.
pub struct Instance {
    store: Store<HostState>,
    bindings: ProviderBindings,
}

impl Instance {
    /// `client.connect`: connects and waits for CONNACK. The client keeps this instance.
    pub fn connect(mut self, options: &ConnectOptions) -> Result<Client, ClientError> {
        let handle = flatten(
            self.bindings
                .wasmqtt_mqtt_client()
                .client()
                .call_connect(&mut self.store, options),
        )?;
        Ok(Client {
            store: self.store,
            bindings: self.bindings,
            handle,
        })
    }

    /// The store (for inspection in tests).
    pub fn store(&mut self) -> &mut Store<HostState> {
        &mut self.store
    }
}

/// A connected `wasmqtt:mqtt/client` resource, with the instance and store it lives in.
///
/// Dropping it drops the store without sending DISCONNECT: to the broker that is a client dying
/// uncleanly (its will is published). Call [`Client::disconnect`] first for a clean end.
pub struct Client {
    store: Store<HostState>,
    bindings: ProviderBindings,
    handle: ResourceAny,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("handle", &self.handle)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Instantiates `provider` with network access `policy` and connects with `options`.
    pub fn connect(
        provider: &Provider,
        policy: &NetworkPolicy,
        options: &ConnectOptions,
    ) -> Result<Client, ClientError> {
        provider.instantiate(policy)?.connect(options)
    }

    /// `client.publish`: a delivery id; a `publish-complete` event with that id follows.
    pub fn publish(&mut self, message: &Message) -> Result<DeliveryId, ClientError> {
        flatten(self.bindings.wasmqtt_mqtt_client().client().call_publish(
            &mut self.store,
            self.handle,
            message,
        ))
    }

    /// `client.publish-batch`: one result per message, in order; a `publish-complete` event
    /// follows for each delivery id. A message refused for itself does not stop the others;
    /// after a `queue-full` or `would-block` the rest are not tried and get the same error.
    pub fn publish_batch(
        &mut self,
        messages: &[Message],
    ) -> Result<Vec<Result<DeliveryId, types::Error>>, ClientError> {
        Ok(self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_publish_batch(&mut self.store, self.handle, messages)?)
    }

    /// `client.publish-packed`: `lengths.len()` messages to `topic` with the same QoS, retain
    /// flag and properties, message i's payload the next `lengths[i]` bytes of `payloads`; one
    /// result per message, as `publish_batch` gives them (lengths that do not add up to
    /// `payloads.len()`: every result `invalid-argument`, nothing published).
    pub fn publish_packed(
        &mut self,
        topic: &str,
        payloads: &[u8],
        lengths: &[u32],
        qos: types::Qos,
        retain: bool,
        properties: Option<&types::MessageProperties>,
    ) -> Result<Vec<Result<DeliveryId, types::Error>>, ClientError> {
        Ok(self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_publish_packed(
                &mut self.store,
                self.handle,
                topic,
                payloads,
                lengths,
                qos,
                retain,
                properties,
            )?)
    }

    /// `client.subscribe`: a request id; a `subscribed` event with that id follows.
    pub fn subscribe(
        &mut self,
        subscriptions: &[Subscription],
        subscription_id: Option<u32>,
    ) -> Result<RequestId, ClientError> {
        flatten(self.bindings.wasmqtt_mqtt_client().client().call_subscribe(
            &mut self.store,
            self.handle,
            subscriptions,
            subscription_id,
        ))
    }

    /// `client.unsubscribe`: a request id; an `unsubscribed` event with that id follows.
    pub fn unsubscribe(&mut self, filters: &[String]) -> Result<RequestId, ClientError> {
        flatten(
            self.bindings
                .wasmqtt_mqtt_client()
                .client()
                .call_unsubscribe(&mut self.store, self.handle, filters),
        )
    }

    /// `client.request`: a response id; a `response` event with that id follows.
    pub fn request(
        &mut self,
        message: &Message,
        timeout: Duration,
    ) -> Result<types::ResponseId, ClientError> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        flatten(self.bindings.wasmqtt_mqtt_client().client().call_request(
            &mut self.store,
            self.handle,
            message,
            ms,
        ))
    }

    /// `client.respond`: answers the request `request` (received in a `message` event); a
    /// `publish-complete` event with the returned delivery id follows.
    pub fn respond(
        &mut self,
        request: &Message,
        payload: &[u8],
    ) -> Result<DeliveryId, ClientError> {
        flatten(self.bindings.wasmqtt_mqtt_client().client().call_respond(
            &mut self.store,
            self.handle,
            request,
            payload,
        ))
    }

    /// `client.poll-event`: makes progress and returns the next event, waiting up to `timeout`.
    pub fn poll_event(&mut self, timeout: Duration) -> Result<Option<Event>, ClientError> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        flatten(
            self.bindings
                .wasmqtt_mqtt_client()
                .client()
                .call_poll_event(&mut self.store, self.handle, ms),
        )
    }

    /// `client.poll-events`: makes progress and returns up to `max` events, waiting up to
    /// `timeout` for the first; the others are those ready at once. Empty when none came.
    pub fn poll_events(&mut self, max: u32, timeout: Duration) -> Result<Vec<Event>, ClientError> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        flatten(
            self.bindings
                .wasmqtt_mqtt_client()
                .client()
                .call_poll_events(&mut self.store, self.handle, max, ms),
        )
    }

    /// `client.next-deadline`: the monotonic-clock instant (ns) of the next deadline.
    pub fn next_deadline(&mut self) -> Result<Option<u64>, ClientError> {
        Ok(self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_next_deadline(&mut self.store, self.handle)?)
    }

    /// `client.connection-info`: what CONNACK said for the current (or last) connection,
    /// including the broker in use; available from `connect` on.
    pub fn connection_info(&mut self) -> Result<types::ConnectionInfo, ClientError> {
        Ok(self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_connection_info(&mut self.store, self.handle)?)
    }

    /// `client.is-connected`.
    pub fn is_connected(&mut self) -> Result<bool, ClientError> {
        Ok(self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_is_connected(&mut self.store, self.handle)?)
    }

    /// Waits on the pollable `client.ready` returns, at most `timeout`, on the host side: true
    /// when it became ready (call [`Client::poll_event`]), false on timeout. The pollable is
    /// dropped before returning, so no WASI resource of the component is held across calls.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<bool, ClientError> {
        let pollable: Resource<DynPollable> = self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_ready(&mut self.store, self.handle)?;
        let table = self.store.data_mut().table();
        let borrowed = Resource::<DynPollable>::new_borrow(pollable.rep());
        let waited = wasmtime_wasi::runtime::in_tokio(async {
            tokio::time::timeout(timeout, HostPollable::block(table, borrowed)).await
        });
        HostPollable::drop(table, pollable)?;
        match waited {
            Ok(Ok(())) => Ok(true),
            Ok(Err(e)) => Err(e.into()),
            Err(_elapsed) => Ok(false),
        }
    }

    /// `client.ack`: acknowledges a received QoS 1/2 message by its `ack-id`
    /// (`connect-options.manual-acks`).
    pub fn ack(&mut self, id: types::AckId) -> Result<(), ClientError> {
        flatten(self.bindings.wasmqtt_mqtt_client().client().call_ack(
            &mut self.store,
            self.handle,
            id,
        ))
    }

    /// `client.resumed`: the messages `connect` resumed from the store, with their delivery
    /// ids, in sending order.
    pub fn resumed(&mut self) -> Result<Vec<(DeliveryId, Message)>, ClientError> {
        Ok(self
            .bindings
            .wasmqtt_mqtt_client()
            .client()
            .call_resumed(&mut self.store, self.handle)?)
    }

    /// `client.disconnect`: DISCONNECT and close. The resource stays, so later calls answer
    /// with the WIT error `closed`.
    pub fn disconnect(&mut self) -> Result<(), ClientError> {
        flatten(
            self.bindings
                .wasmqtt_mqtt_client()
                .client()
                .call_disconnect(&mut self.store, self.handle),
        )
    }

    /// Drops the resource (the component's destructor runs) and then the store.
    pub fn close(mut self) -> Result<(), ClientError> {
        self.handle.resource_drop(&mut self.store)?;
        Ok(())
    }

    /// Ends the client as if its process died: the store goes, no DISCONNECT is sent, the
    /// sockets are closed by the host. Same as dropping it; the name says what it means.
    pub fn abort(self) {
        drop(self);
    }

    /// The store (for inspection in tests).
    pub fn store(&mut self) -> &mut Store<HostState> {
        &mut self.store
    }
}
