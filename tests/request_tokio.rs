//! The native client's MQTT 5.0 request/response (`Client::request`, `Client::respond`) and its
//! disconnect reasons against a real mosquitto: a responder client and requesters, timeouts,
//! a closed client, 3.1.1 refused, Topic Alias Maximum 0, and a session taken over by a second
//! client with the same client id (v5 DISCONNECT 0x8E) reaching the application while the
//! client keeps reconnecting. Every wait is bounded (`native_support::WAIT`).

#[macro_use]
mod native_support;
use wasmqtt_testkit as support;

use native_support::*;
use std::time::Duration;
use support::mosquitto::Mosquitto;
use wasmqtt::codec::{ProtocolVersion, QoS, ReasonCode};
use wasmqtt::session::{DisconnectReason, Event, Message};
use wasmqtt_tokio::{Client, Events, ResponseError};

const V5: ProtocolVersion = ProtocolVersion::V5;

/// A responder on `filter` that answers every request with its payload reversed, until the
/// client is closed.
async fn start_responder(addr: &str, filter: &str) -> Client {
    let (client, mut events, _) = connect(addr, options(&client_id("responder", V5), V5)).await;
    subscribe(&client, filter, QoS::AtLeastOnce).await;
    let c = client.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            if let Event::Message(m) = e {
                let mut answer = m.message.payload.clone();
                answer.reverse();
                if let Ok(handle) = c.respond(&m, answer) {
                    let _ = handle.await;
                }
            }
        }
    });
    client
}

#[tokio::test]
async fn requests_are_answered_by_a_responder() {
    let broker = Mosquitto::start();
    let addr = broker.addr().to_string();
    let responder = start_responder(&addr, "svc/reverse/+").await;
    let (requester, _events, _) = connect(&addr, options(&client_id("requester", V5), V5)).await;
    // Two requests at once, each matched to its own response by correlation data.
    let (a, b) = within(
        "two responses",
        futures_join(
            requester.request("svc/reverse/a", "abc", Duration::from_secs(10)),
            requester.request("svc/reverse/b", "12345", Duration::from_secs(10)),
        ),
    )
    .await;
    let a = a.expect("response a");
    let b = b.expect("response b");
    assert_eq!(a.payload, b"cba");
    assert_eq!(b.payload, b"54321");
    assert!(
        a.topic.ends_with("/resp"),
        "the session's response topic: {}",
        a.topic
    );
    assert_eq!(a.topic, b.topic, "one response topic per client");
    // Many more over the same subscription, at QoS 1.
    for i in 0..20u8 {
        let m = within(
            "a QoS 1 response",
            requester.request_message(
                Message::new("svc/reverse/q1", vec![i, 0]).qos(QoS::AtLeastOnce),
                Duration::from_secs(10),
            ),
        )
        .await
        .expect("response");
        assert_eq!(m.payload, vec![0, i]);
    }
    requester.disconnect().await;
    responder.disconnect().await;
}

#[tokio::test]
async fn a_request_nobody_answers_times_out_and_a_closed_client_fails_them() {
    let broker = Mosquitto::start();
    let addr = broker.addr().to_string();
    let (client, _events, _) = connect(&addr, options(&client_id("lonely", V5), V5)).await;
    let r = within(
        "the timeout",
        client.request("svc/nobody", "?", Duration::from_millis(300)),
    )
    .await;
    assert_eq!(r.unwrap_err(), ResponseError::Timeout(300));

    // Waiting when the client disconnects: SessionClosed. Polled once, the request is in the
    // session (it waits for its response).
    let pending = client.request("svc/nobody", "?", Duration::from_secs(60));
    tokio::pin!(pending);
    tokio::select! {
        biased;
        r = &mut pending => panic!("answered before any response: {r:?}"),
        _ = std::future::ready(()) => {}
    }
    client.disconnect().await;
    let r = within("the pending request", pending).await;
    assert_eq!(r.unwrap_err(), ResponseError::SessionClosed);
    let r = client
        .request("svc/nobody", "?", Duration::from_secs(1))
        .await;
    assert_eq!(r.unwrap_err(), ResponseError::SessionClosed);
}

#[tokio::test]
async fn v311_refuses_requests() {
    let broker = Mosquitto::start();
    let v = ProtocolVersion::V311;
    let (client, _events, _) =
        connect(&broker.addr().to_string(), options(&client_id("old", v), v)).await;
    let r = client.request("svc/x", "?", Duration::from_secs(1)).await;
    assert_eq!(r.unwrap_err(), ResponseError::NotSupportedInV311);
    client.disconnect().await;
}

#[tokio::test]
async fn topic_alias_maximum_0_connects_and_delivers() {
    let broker = Mosquitto::start();
    let addr = broker.addr().to_string();
    let (client, mut events) = within(
        "connect",
        Client::builder(options(&client_id("noalias", V5), V5))
            .broker(&addr)
            .expect("broker")
            .topic_alias_maximum(0)
            .connect(),
    )
    .await
    .expect("connect");
    next_connected(&mut events, "Connected").await;
    subscribe(&client, "alias/zero", QoS::AtLeastOnce).await;
    round_trip(&client, &mut events, "alias/zero", QoS::AtLeastOnce).await;
    client.disconnect().await;
}

/// The next `Disconnected` on `events`, with when the session reconnects.
async fn next_disconnect(events: &mut Events, what: &str) -> (DisconnectReason, Option<u64>) {
    within(what, async {
        loop {
            match events.recv().await {
                Some(Event::Disconnected {
                    reason,
                    reconnect_at,
                }) => return (reason, reconnect_at),
                Some(_) => continue,
                None => panic!("the event stream ended while waiting for {what}"),
            }
        }
    })
    .await
}

/// A second client taking the client id kicks the first (v5: DISCONNECT 0x8E, Session taken
/// over, from brokers that send it; otherwise the connection closed): the application sees every such disconnect with its
/// reason, and the client keeps reconnecting (taking it back each time).
#[tokio::test]
async fn a_session_taken_over_reaches_the_application_with_its_reason() {
    let broker = Mosquitto::start();
    let addr = broker.addr().to_string();
    for version in VERSIONS {
        let id = client_id("taken", version);
        let (first, mut first_events, _) = connect(&addr, options(&id, version)).await;
        let mut second_opts = options(&id, version);
        second_opts.reconnect.enabled = false;
        let (second, mut second_events, _) = connect(&addr, second_opts).await;
        let (reason, reconnect_at) = next_disconnect(&mut first_events, "the takeover").await;
        // mosquitto 2.0.11 closes the connection without DISCONNECT 0x8E (newer ones send it):
        // either way the application gets the reason.
        assert_taken_over(&reason, version);
        assert!(
            reconnect_at.is_some(),
            "the first client keeps reconnecting"
        );
        // It comes back, which takes the id from the second: that one sees it too.
        next_connected(&mut first_events, "the first client's reconnection").await;
        let (reason, reconnect_at) = next_disconnect(&mut second_events, "the second's end").await;
        assert_taken_over(&reason, version);
        assert_eq!(reconnect_at, None, "reconnection off: closed");
        first.disconnect().await;
        second.disconnect().await;
    }
}

/// A takeover's reason: DISCONNECT 0x8E (v5, from brokers that send it) or the broker closing
/// the connection.
fn assert_taken_over(reason: &DisconnectReason, version: ProtocolVersion) {
    match reason {
        DisconnectReason::ByServer { code, .. } if version.is_v5() => {
            assert_eq!(*code, ReasonCode::SESSION_TAKEN_OVER, "{reason}")
        }
        DisconnectReason::Transport(text) => assert!(text.contains("closed"), "{reason}"),
        _ => panic!("{version:?}: unexpected reason {reason:?}"),
    }
}

/// Both futures' outputs (a tiny join without another dependency).
async fn futures_join<A, B>(a: A, b: B) -> (A::Output, B::Output)
where
    A: std::future::Future,
    B: std::future::Future,
{
    tokio::join!(a, b)
}
