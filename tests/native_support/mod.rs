//! Shared by `native_mosquitto.rs` and `native_rumqttd.rs`: bounded waits and small helpers
//! around `wasmqtt_tokio`. Every wait is bounded by [`WAIT`] and fails the test naming what
//! it waited for.
#![allow(dead_code)]

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use wasmqtt::codec::{ProtocolVersion, QoS, ReasonCode, SubscriptionOptions};
use wasmqtt::session::{ConnectionInfo, Event, Message, Options, ReceivedMessage, ReconnectPolicy};
use wasmqtt_tokio::{Client, Events, PublishHandle};

/// The longest any single wait may take.
pub const WAIT: Duration = Duration::from_secs(15);

/// Both protocol versions.
pub const VERSIONS: [ProtocolVersion; 2] = [ProtocolVersion::V311, ProtocolVersion::V5];

/// `fut`'s output, or a panic naming `what` after [`WAIT`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {WAIT:?} waiting for {what}"),
    }
}

/// A client id unique in this process.
pub fn client_id(name: &str, version: ProtocolVersion) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{name}-{version:?}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Options for tests: `version`, and reconnections that come back quickly.
pub fn options(id: &str, version: ProtocolVersion) -> Options {
    Options::new(id)
        .version(version)
        .keep_alive(30)
        .connect_timeout_ms(5_000)
        .reconnect(ReconnectPolicy {
            enabled: true,
            initial_delay_ms: 50,
            max_delay_ms: 500,
            multiplier: 2,
            jitter_percent: 20,
        })
}

/// Options for a session the broker keeps while the client is away: clean start off and, in
/// v5, a session expiry interval of five minutes.
pub fn persistent(id: &str, version: ProtocolVersion) -> Options {
    options(id, version)
        .clean_start(false)
        .session_expiry_interval(300)
}

/// Connects and takes the [`Event::Connected`] that comes first.
pub async fn connect(addr: &str, opts: Options) -> (Client, Events, ConnectionInfo) {
    let id = opts.client_id.clone();
    let (client, mut events) = within(
        &format!("{id} to connect to {addr}"),
        Client::connect(addr, opts),
    )
    .await
    .unwrap_or_else(|e| panic!("{id} could not connect to {addr}: {e}"));
    let info = match within(&format!("{id}'s first event"), events.recv()).await {
        Some(Event::Connected(info)) => info,
        other => panic!("{id}: expected Connected first, got {other:?}"),
    };
    (client, events, *info)
}

/// Subscribes to one filter at `qos` and checks that the broker granted it.
pub async fn subscribe(client: &Client, filter: &str, qos: QoS) {
    let codes = within(
        &format!("SUBACK for {filter}"),
        client.subscribe([filter], SubscriptionOptions::qos(qos)),
    )
    .await
    .unwrap_or_else(|e| panic!("subscribing to {filter}: {e}"));
    assert_eq!(codes.len(), 1, "one reason code per filter");
    assert!(
        !codes[0].is_error(),
        "subscription to {filter} refused: {}",
        codes[0]
    );
}

/// Publishes and waits for the session to admit the message.
pub async fn publish(client: &Client, msg: Message) -> PublishHandle {
    let topic = msg.topic.clone();
    within(
        &format!("admission of a publish to {topic}"),
        client.publish(msg),
    )
    .await
    .unwrap_or_else(|e| panic!("publish to {topic} refused: {e}"))
}

/// Publishes and waits for its acknowledgement; returns the reason code.
pub async fn publish_acked(client: &Client, msg: Message) -> ReasonCode {
    let what = format!("acknowledgement of {} at {:?}", msg.topic, msg.qos);
    let handle = publish(client, msg).await;
    within(&what, handle)
        .await
        .unwrap_or_else(|e| panic!("{what} failed: {e}"))
}

/// The next application message, skipping connection events.
pub async fn next_message(events: &mut Events, what: &str) -> ReceivedMessage {
    within(what, async {
        loop {
            match events.recv().await {
                Some(Event::Message(m)) => return m,
                Some(_) => continue,
                None => panic!("the event stream ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// The next [`Event::Connected`], skipping everything else (messages included).
pub async fn next_connected(events: &mut Events, what: &str) -> ConnectionInfo {
    within(what, async {
        loop {
            match events.recv().await {
                Some(Event::Connected(info)) => return *info,
                Some(_) => continue,
                None => panic!("the event stream ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// The round trip at `qos`: `subscriber` (subscribed to `topic` at `qos` or above) receives what
/// `publisher` publishes, at the QoS it was published with, and the publisher's handle
/// resolves with a success code.
pub async fn round_trip(publisher: &Client, subscriber_events: &mut Events, topic: &str, qos: QoS) {
    let payload = format!("payload at {qos:?}").into_bytes();
    let code = publish_acked(publisher, Message::new(topic, payload.clone()).qos(qos)).await;
    assert!(!code.is_error(), "publish at {qos:?} completed with {code}");
    let m = next_message(
        subscriber_events,
        &format!("the message published at {qos:?}"),
    )
    .await;
    assert_eq!(m.message.topic, topic);
    assert_eq!(m.message.payload, payload);
    assert_eq!(
        m.message.qos, qos,
        "delivered at the QoS it was published with"
    );
    assert!(!m.message.retain);
}

/// Makes `<scenario>::v311` and `<scenario>::v5` tests of each `async fn scenario(ProtocolVersion)`.
#[allow(unused_macros)]
macro_rules! both_versions {
    ($($scenario:ident),* $(,)?) => {
        $(
            mod $scenario {
                use wasmqtt::codec::ProtocolVersion;

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn v311() {
                    super::$scenario(ProtocolVersion::V311).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn v5() {
                    super::$scenario(ProtocolVersion::V5).await;
                }
            }
        )*
    };
}
