//! The shared driver scenario table (S1–S5, `/work/notes/scenarios.md`) on the tokio driver.
//!
//! Every outcome is decided by the session (first-connect policy, connect deadline, budgets,
//! reconnect), so the same table holds on every driver. Each test prints one line
//! `scenario tokio SID OUTCOME` and asserts that outcome.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::TcpListener;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use wasmqtt::codec::{ProtocolVersion, QoS, SubscriptionOptions};
use wasmqtt::session::{
    ConnectionState, DisconnectReason, Event, FirstConnect, Message, Options, PublishError,
    ReconnectPolicy,
};
use wasmqtt_testkit::mosquitto::Mosquitto;
use wasmqtt_testkit::proxy::Proxy;
use wasmqtt_tokio::{Client, Error, Events};

/// Upper bound for anything to happen; a failure, never a synchronisation.
const LIMIT: Duration = Duration::from_secs(20);

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, fut)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

fn report(sid: &str, outcome: &str) {
    eprintln!("scenario tokio {sid} {outcome}");
}

fn options(name: &str) -> Options {
    let mut o = Options::new(format!("scen-tokio-{name}-{}", std::process::id()));
    o.reconnect = ReconnectPolicy {
        initial_delay_ms: 50,
        max_delay_ms: 200,
        ..ReconnectPolicy::default()
    };
    o
}

/// A loopback port where nothing listens.
fn closed_port() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    drop(l);
    addr
}

/// The next event that is not a message.
async fn next_event(events: &mut Events, what: &str) -> Event {
    within(what, events.recv())
        .await
        .unwrap_or_else(|| panic!("events ended waiting for {what}"))
}

#[tokio::test]
async fn s1_first_connect_refused() {
    let addr = closed_port();
    let err = tokio::time::timeout(
        Duration::from_secs(5),
        Client::connect(&addr, options("s1")),
    )
    .await
    .expect("a refused first connect fails well under 5 s")
    .expect_err("nothing listens there");
    match &err {
        Error::Io(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused),
        e => panic!("expected the transport error, got {e:?}"),
    }
    assert_eq!(err.code(), "CONNECTION_LOST");
    report("S1", err.code());

    // FirstConnect::Retry: the session stays reconnecting instead.
    let mut o = options("s1r");
    o.first_connect = FirstConnect::Retry;
    let (client, mut events) = Client::start(&addr, o).unwrap();
    match next_event(&mut events, "the first failure").await {
        Event::Disconnected {
            reason: DisconnectReason::Transport(text),
            reconnect_at: Some(_),
        } => assert!(!text.is_empty(), "the OS error text"),
        e => panic!("expected a transport failure with a retry, got {e:?}"),
    }
    assert_eq!(client.connection_state(), ConnectionState::Reconnecting);
    // And again: it keeps retrying.
    let e = next_event(&mut events, "the second failure").await;
    assert!(
        matches!(
            e,
            Event::Disconnected {
                reconnect_at: Some(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!client.is_closed());
    report("S1-retry", client.connection_state().as_str());
    client.abort();
}

#[tokio::test]
async fn s2_broker_silent_while_connecting() {
    // The kernel completes the handshake on the backlog; nobody ever sends a byte.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap().to_string();
    let mut o = options("s2");
    o.connect_timeout_ms = 1000;
    let err = within("the connect deadline", Client::connect(&addr, o))
        .await
        .expect_err("a silent broker never accepts");
    assert!(
        matches!(err, Error::Connection(DisconnectReason::ConnectTimeout)),
        "{err:?}"
    );
    assert_eq!(err.code(), DisconnectReason::ConnectTimeout.code());
    report("S2", err.code());
    drop(silent);
}

#[tokio::test]
async fn s3_write_blocked_then_unblocked() {
    const INFLIGHT: u16 = 20;
    const QUEUED: usize = 1000;
    let broker = Mosquitto::start();
    let proxy = Proxy::start(broker.addr());
    let topic = format!("scen/tokio/s3/{}", std::process::id());

    let (sub, _sub_events) = within(
        "the subscriber",
        Client::connect(&broker.addr().to_string(), options("s3sub")),
    )
    .await
    .unwrap();
    let mut sub_events = _sub_events;
    sub.subscribe([topic.as_str()], SubscriptionOptions::qos(QoS::AtLeastOnce))
        .await
        .unwrap();

    let mut o = options("s3pub");
    o.version = ProtocolVersion::V311;
    o.max_inflight = INFLIGHT;
    o.max_queued_messages = QUEUED;
    let (client, _events) = within(
        "the publisher",
        Client::connect(&proxy.addr().to_string(), o),
    )
    .await
    .unwrap();

    proxy.pause_client_writes();
    let mut handles = Vec::new();
    let refusal = loop {
        let payload = format!("{:06}", handles.len()).into_bytes();
        let mut body = payload.clone();
        body.resize(1024, b'.');
        match client
            .publish(Message::new(topic.as_str(), body).qos(QoS::AtLeastOnce))
            .await
        {
            Ok(h) => handles.push(h),
            Err(e) => break e,
        }
        assert!(
            handles.len() * 1024 <= 4 << 20,
            "no backpressure within 4 MiB"
        );
    };
    assert!(
        matches!(
            refusal,
            PublishError::QueueFull { .. } | PublishError::WouldBlock
        ),
        "{refusal:?}"
    );
    // The budgets held: what is not acknowledged yet (the proxy may have passed what it read
    // before the pause) is the window plus the queue, nothing more.
    let admitted = handles.len();
    let mut cx = Context::from_waker(Waker::noop());
    let mut open = Vec::new();
    for mut h in handles.drain(..) {
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(r) => assert!(r.is_ok(), "{r:?}"),
            Poll::Pending => open.push(h),
        }
    }
    assert!(open.len() <= INFLIGHT as usize + QUEUED, "{}", open.len());
    assert!(open.len() >= QUEUED, "{}", open.len());

    proxy.resume_client_writes();
    for h in open {
        within("a PUBACK", h)
            .await
            .expect("every admitted publish succeeds");
    }
    let mut seen = BTreeMap::new();
    while seen.len() < admitted {
        if let Event::Message(m) = next_event(&mut sub_events, "every message").await {
            let index = String::from_utf8_lossy(&m.message.payload[..6]).to_string();
            *seen.entry(index).or_insert(0) += 1;
        }
    }
    assert!(seen.values().all(|&n| n == 1), "each message once");
    report("S3", refusal.code());
    client.disconnect().await;
    sub.disconnect().await;
}

#[tokio::test]
async fn s4_invalid_options() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let mut zero_window = options("s4a");
    zero_window.max_inflight = 0;
    let mut zero_multiplier = options("s4b");
    zero_multiplier.reconnect.multiplier = 0;
    let mut jitter = options("s4c");
    jitter.reconnect.jitter_percent = 101;
    let mut codes = Vec::new();
    for o in [zero_window, zero_multiplier, jitter] {
        let expected = o.validate().expect_err("invalid options");
        let err = Client::connect(&addr, o.clone())
            .await
            .expect_err("refused");
        match &err {
            Error::InvalidOptions(e) => assert_eq!(e, &expected),
            e => panic!("expected the core's OptionsError, got {e:?}"),
        }
        assert_eq!(err.code(), expected.code());
        assert!(Client::start(&addr, o).is_err());
        codes.push(err.code());
    }
    // Nothing was sent: no connection was even opened.
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        std::io::ErrorKind::WouldBlock
    );
    assert!(codes.iter().all(|c| *c == codes[0]));
    report("S4", codes[0]);
}

#[tokio::test]
async fn s5_broker_closes_mid_session() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(broker.addr());
    let topic = format!("scen/tokio/s5/{}", std::process::id());
    let mut o = options("s5");
    o.clean_start = false;
    let (client, mut events) = within("connected", Client::connect(&proxy.addr().to_string(), o))
        .await
        .unwrap();
    assert!(matches!(
        next_event(&mut events, "CONNACK").await,
        Event::Connected(_)
    ));
    client
        .subscribe([topic.as_str()], SubscriptionOptions::qos(QoS::AtLeastOnce))
        .await
        .unwrap();

    proxy.cut();
    let reason = match next_event(&mut events, "the disconnect").await {
        Event::Disconnected {
            reason,
            reconnect_at: Some(_),
        } => reason,
        e => panic!("expected a disconnect with a reconnect, got {e:?}"),
    };
    assert_eq!(reason.code(), "CONNECTION_LOST");
    loop {
        match next_event(&mut events, "the reconnection").await {
            Event::Connected(_) => break,
            Event::Disconnected { .. } | Event::Resubscribing { .. } => {}
            e => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    let done = client
        .publish(Message::new(topic.as_str(), "again").qos(QoS::AtLeastOnce))
        .await
        .unwrap();
    within("the PUBACK", done).await.unwrap();
    loop {
        if let Event::Message(m) = next_event(&mut events, "the round trip").await {
            assert_eq!(m.message.payload, b"again");
            break;
        }
    }
    report("S5", reason.code());
    client.disconnect().await;
}
