//! The provider component's MQTT 5.0 request/response (`client.request`, `client.respond`, the
//! `response` event), `connect-options.topic-alias-maximum`, and disconnect reasons in the
//! `disconnected` events while the client keeps reconnecting, in wasmtime against a real
//! mosquitto.
//!
//! The provider must be built first (the test fails otherwise, naming the command):
//!
//! ```text
//! cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider
//! cargo test --release -p wasmqtt-host --test component_request
//! ```

mod common;
use common::provider;
use wasmqtt_testkit::mosquitto::Mosquitto;

use std::time::{Duration, Instant};

use wasmqtt_host::types::{self, Error as WitError, Event, ProtocolVersion, Qos, ResponseOutcome};
use wasmqtt_host::{Client, ClientError, NetworkPolicy};

const WAIT: Duration = Duration::from_secs(10);
const V5: ProtocolVersion = ProtocolVersion::V5;

fn options(broker: &Mosquitto, id: &str, protocol: ProtocolVersion) -> types::ConnectOptions {
    let mut o = types::connect_options("127.0.0.1", broker.port(), id, protocol);
    o.connect_timeout_ms = Some(5_000);
    o
}

fn connect(broker: &Mosquitto, opts: &types::ConnectOptions) -> Client {
    let policy = NetworkPolicy::broker("127.0.0.1", broker.port()).expect("policy");
    Client::connect(provider(), &policy, opts)
        .unwrap_or_else(|e| panic!("{} connects: {e}", opts.client_id))
}

fn id(name: &str) -> String {
    format!("{name}-{}", std::process::id())
}

/// Polls `client` (and serves `responder` meanwhile, answering every request with its payload
/// reversed) until `f` takes an event; panics after [`WAIT`].
fn wait_for<T>(
    client: &mut Client,
    mut responder: Option<&mut Client>,
    what: &str,
    mut f: impl FnMut(&Event) -> Option<T>,
) -> T {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if let Some(r) = responder.as_deref_mut() {
            serve(r);
        }
        match client.poll_event(Duration::from_millis(20)) {
            Ok(Some(e)) => {
                if let Some(t) = f(&e) {
                    return t;
                }
            }
            Ok(None) => {}
            Err(e) => panic!("poll-event while waiting for {what}: {e}"),
        }
    }
    panic!("timed out after {WAIT:?} waiting for {what}");
}

/// One round of the responder: every request that arrived is answered.
fn serve(responder: &mut Client) {
    while let Ok(Some(e)) = responder.poll_event(Duration::ZERO) {
        if let Event::Message(m) = e {
            let mut answer = m.payload.clone();
            answer.reverse();
            responder.respond(&m, &answer).expect("respond");
        }
    }
}

fn subscribe(client: &mut Client, filter: &str) {
    let rid = client
        .subscribe(&[types::subscription(filter, Qos::AtLeastOnce)], None)
        .expect("subscribe");
    let codes = wait_for(client, None, "SUBACK", |e| match e {
        Event::Subscribed((i, codes)) if *i == rid => Some(codes.clone()),
        _ => None,
    });
    assert!(codes[0] < 0x80, "{codes:?}");
}

#[test]
fn requests_are_answered_time_out_and_fail_when_closed() {
    let broker = Mosquitto::start();
    let mut responder = connect(&broker, &options(&broker, &id("responder"), V5));
    subscribe(&mut responder, "svc/reverse/#");
    let mut requester = connect(&broker, &options(&broker, &id("requester"), V5));

    // Two requests at once, each answered by its own response.
    let a = requester
        .request(
            &types::message("svc/reverse/a", b"abc", Qos::AtMostOnce, false),
            WAIT,
        )
        .expect("request a");
    let b = requester
        .request(
            &types::message("svc/reverse/b", b"1234", Qos::AtLeastOnce, false),
            WAIT,
        )
        .expect("request b");
    assert_ne!(a, b);
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 2 {
        let (rid, outcome) = wait_for(&mut requester, Some(&mut responder), "responses", |e| {
            match e {
                Event::Response((rid, o)) => Some((*rid, o.clone())),
                // The requests' own publishes are the provider's: no completion comes out.
                Event::PublishComplete(_) => panic!("a request's publish completion: {e:?}"),
                _ => None,
            }
        });
        match outcome {
            ResponseOutcome::Response(m) => {
                let props = m.properties.clone().expect("a response carries properties");
                assert!(props.correlation_data.is_some(), "{m:?}");
                assert!(m.topic.ends_with("/resp"), "{}", m.topic);
                answers.insert(rid, m.payload);
            }
            other => panic!("request {rid}: {other:?}"),
        }
    }
    assert_eq!(answers[&a], b"cba");
    assert_eq!(answers[&b], b"4321");

    // Nobody answers: the timeout.
    let t = requester
        .request(
            &types::message("svc/nobody", b"?", Qos::AtMostOnce, false),
            Duration::from_millis(300),
        )
        .expect("request");
    let outcome = wait_for(&mut requester, None, "the timeout", |e| match e {
        Event::Response((rid, o)) if *rid == t => Some(o.clone()),
        _ => None,
    });
    assert_eq!(outcome, ResponseOutcome::Timeout);

    // Waiting when the client disconnects: failed(closed), before the last `disconnected`.
    let c = requester
        .request(
            &types::message("svc/nobody", b"?", Qos::AtMostOnce, false),
            Duration::from_secs(60),
        )
        .expect("request");
    requester.disconnect().expect("disconnect");
    let mut events = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "never closed: {events:?}");
        match requester.poll_event(Duration::ZERO) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => continue,
            Err(ClientError::Mqtt(WitError::Closed)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    let failed = events.iter().position(
        |e| matches!(e, Event::Response((rid, ResponseOutcome::Failed(WitError::Closed))) if *rid == c),
    );
    let last = events
        .iter()
        .rposition(|e| matches!(e, Event::Disconnected(_)));
    assert!(
        failed.is_some() && failed < last,
        "failed(closed) before disconnected: {events:?}"
    );
    responder.disconnect().expect("disconnect");
}

#[test]
fn v311_refuses_requests_and_topic_alias_maximum_0_connects() {
    let broker = Mosquitto::start();
    let mut old = connect(
        &broker,
        &options(&broker, &id("old"), ProtocolVersion::V311),
    );
    match old.request(&types::message("svc/x", b"?", Qos::AtMostOnce, false), WAIT) {
        Err(ClientError::Mqtt(WitError::Unsupported(text))) => {
            assert!(text.contains("5.0"), "{text}")
        }
        other => panic!("expected unsupported, got {other:?}"),
    }
    old.disconnect().expect("disconnect");

    let mut o = options(&broker, &id("noalias"), V5);
    o.topic_alias_maximum = Some(0);
    let mut client = connect(&broker, &o);
    subscribe(&mut client, "alias/zero");
    client
        .publish(&types::message("alias/zero", b"x", Qos::AtLeastOnce, false))
        .expect("publish");
    let m = wait_for(&mut client, None, "the message back", |e| match e {
        Event::Message(m) => Some(m.clone()),
        _ => None,
    });
    assert_eq!(m.payload, b"x");
    client.disconnect().expect("disconnect");
}

/// A second client taking the client id kicks the first: its `disconnected` event carries the
/// reason (v5 DISCONNECT 0x8E Session taken over from brokers that send it; mosquitto 2.0.11
/// just closes the connection) and `will-reconnect`, and the client connects again.
#[test]
fn a_session_taken_over_reaches_the_application_with_its_reason() {
    let broker = Mosquitto::start();
    for protocol in [ProtocolVersion::V311, V5] {
        let shared = id(&format!("taken-{protocol:?}"));
        let mut first = connect(&broker, &options(&broker, &shared, protocol));
        let mut second_opts = options(&broker, &shared, protocol);
        second_opts.reconnect = Some(types::ReconnectPolicy {
            enabled: false,
            initial_delay_ms: 100,
            max_delay_ms: 100,
            multiplier: 1,
            jitter_percent: 0,
        });
        let mut second = connect(&broker, &second_opts);
        let info = wait_for(&mut first, None, "the takeover", |e| match e {
            Event::Disconnected(d) => Some(d.clone()),
            _ => None,
        });
        assert!(info.will_reconnect, "{info:?}");
        assert!(!info.reason.is_empty(), "{info:?}");
        match info.reason_code {
            Some(code) => assert_eq!(code, 0x8E, "{info:?}"),
            None => assert_eq!(info.code, "CONNECTION_LOST", "{info:?}"),
        }
        wait_for(&mut first, None, "the reconnection", |e| {
            matches!(e, Event::Connected(_)).then_some(())
        });
        let info = wait_for(&mut second, None, "the second's end", |e| match e {
            Event::Disconnected(d) => Some(d.clone()),
            _ => None,
        });
        assert!(!info.will_reconnect, "reconnection off: {info:?}");
        first.disconnect().expect("disconnect");
    }
}
