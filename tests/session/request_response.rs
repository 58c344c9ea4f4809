//! MQTT 5.0 request/response ([`Session::request`], [`Session::respond`]) with simulated time,
//! and the Topic Alias Maximum turned off.

use crate::common::*;
use wasmqtt::session::{ReceivedMessage, ResponseError, ResponseId};

const RESP: &str = "wasmqtt/rr/sim-client/resp";

/// `Event::Response`s among `events`.
fn responses(events: &[Event]) -> Vec<(ResponseId, Result<ReceivedMessage, ResponseError>)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Response { id, result } => Some((*id, result.clone())),
            _ => None,
        })
        .collect()
}

fn request(sim: &mut Sim, topic: &str, payload: &[u8], timeout: u64) -> ResponseId {
    let id = sim
        .session
        .request(msg(topic, payload, Q0), timeout, sim.now)
        .expect("request");
    sim.run();
    id
}

/// The SUBSCRIBE of the response topic in `sent` (exactly one); returns its packet id.
fn response_subscribe(sent: &[OPacket]) -> u16 {
    let subs: Vec<&OSubscribe> = sent
        .iter()
        .filter_map(|p| match p {
            OPacket::Subscribe(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(subs.len(), 1, "one SUBSCRIBE in {sent:?}");
    assert_eq!(subs[0].subs.len(), 1);
    assert_eq!(subs[0].subs[0].0, RESP);
    assert!(
        subs[0].subs[0].1.no_local,
        "no local: our own requests stay away"
    );
    subs[0].packet_id
}

/// A response on `topic` with `correlation`.
fn response<'a>(topic: &'a str, payload: &'a [u8], correlation: &'a [u8]) -> Packet<'a> {
    Packet::Publish(Publish {
        dup: false,
        qos: Q0,
        retain: false,
        topic,
        packet_id: 0,
        properties: Properties {
            correlation_data: Some(correlation),
            ..Properties::EMPTY
        },
        payload,
    })
}

/// A connected session with its response subscription granted; returns the requests' PUBLISH.
fn subscribed(sim: &mut Sim) -> Vec<OPublish> {
    let sent = sim.take();
    let pid = response_subscribe(&sent);
    assert!(
        publishes(&sent).is_empty(),
        "requests wait for SUBACK: {sent:?}"
    );
    sim.send(&suback(pid, &[ReasonCode(1)]));
    publishes(&sim.take())
}

#[test]
fn a_response_with_the_correlation_data_answers_the_request() {
    let mut sim = Sim::connected(opts(V5));
    let id = request(&mut sim, "svc/echo", b"ping", 5_000);
    assert_eq!(sim.session.response_topic(), Some(RESP));
    let reqs = subscribed(&mut sim);
    assert_eq!(reqs.len(), 1);
    let req = &reqs[0];
    assert_eq!(req.topic, "svc/echo");
    assert_eq!(req.payload, b"ping");
    assert_eq!(req.props.response_topic.as_deref(), Some(RESP));
    let corr = req
        .props
        .correlation_data
        .clone()
        .expect("correlation data");
    assert_eq!(corr.len(), 16);
    // The request's own (QoS 0) completion is the session's, not the application's.
    let events = sim.take_events();
    assert!(completions(&events).is_empty(), "{events:?}");
    sim.send(&response(RESP, b"pong", &corr));
    let events = sim.take_events();
    assert!(
        messages(&events).is_empty(),
        "a response is no Message: {events:?}"
    );
    let r = responses(&events);
    assert_eq!(r.len(), 1, "{events:?}");
    assert_eq!(r[0].0, id);
    let m = r[0].1.clone().expect("a response");
    assert_eq!(m.message.payload, b"pong");
    assert_eq!(sim.session.pending_responses(), 0);
    // The same correlation data again answers nothing.
    sim.send(&response(RESP, b"late", &corr));
    assert!(sim.take_events().is_empty());
}

#[test]
fn a_request_without_response_times_out_at_its_deadline() {
    let mut sim = Sim::connected(opts(V5).keep_alive(0));
    let id = request(&mut sim, "svc/slow", b"?", 500);
    subscribed(&mut sim);
    assert_eq!(sim.session.poll_timeout(), Some(500));
    sim.advance_to(499);
    assert!(responses(&sim.take_events()).is_empty());
    sim.advance_to(500);
    let r = responses(&sim.take_events());
    assert_eq!(r, vec![(id, Err(ResponseError::Timeout(500)))]);
    assert_eq!(sim.session.poll_timeout(), None);
    assert_eq!(r[0].1.clone().unwrap_err().code(), "RESPONSE_TIMEOUT");
}

#[test]
fn requests_waiting_when_the_session_closes_fail_with_session_closed() {
    let mut sim = Sim::connected(opts(V5));
    let held = request(&mut sim, "svc/a", b"1", 5_000);
    sim.disconnect();
    let events = sim.take_events();
    assert_eq!(
        responses(&events),
        vec![(held, Err(ResponseError::SessionClosed))]
    );
    let last = events.last().expect("events");
    assert!(matches!(last, Event::Disconnected { .. }), "{events:?}");
    // Neither the subscription's nor the request publish's failure leaks out.
    assert!(!events.iter().any(|e| matches!(
        e,
        Event::RequestFailed { .. } | Event::PublishComplete { .. }
    )));
    assert_eq!(
        sim.session
            .request(msg("svc/a", b"2", Q0), 10, sim.now)
            .unwrap_err(),
        ResponseError::SessionClosed
    );

    // A request already published (QoS 1, unacknowledged) fails the same way.
    let mut sim = Sim::connected(opts(V5));
    let sent = sim
        .session
        .request(msg("svc/b", b"1", Q1), 5_000, 0)
        .unwrap();
    sim.run();
    assert_eq!(subscribed(&mut sim).len(), 1);
    sim.disconnect();
    let events = sim.take_events();
    assert_eq!(
        responses(&events),
        vec![(sent, Err(ResponseError::SessionClosed))]
    );
    assert!(completions(&events).is_empty(), "{events:?}");
}

#[test]
fn two_concurrent_requests_are_matched_each_to_its_response() {
    let mut sim = Sim::connected(opts(V5));
    let a = request(&mut sim, "svc/a", b"A", 5_000);
    let b = request(&mut sim, "svc/b", b"B", 5_000);
    let reqs = subscribed(&mut sim);
    assert_eq!(reqs.len(), 2);
    let corr = |i: usize| reqs[i].props.correlation_data.clone().unwrap();
    assert_ne!(corr(0), corr(1), "fresh correlation data per request");
    sim.send(&response(RESP, b"for b", &corr(1)));
    sim.send(&response(RESP, b"for a", &corr(0)));
    let r = responses(&sim.take_events());
    let got: Vec<(ResponseId, Vec<u8>)> = r
        .into_iter()
        .map(|(id, m)| (id, m.unwrap().message.payload))
        .collect();
    assert_eq!(got, vec![(b, b"for b".to_vec()), (a, b"for a".to_vec())]);
}

#[test]
fn unknown_correlation_data_on_the_response_topic_is_ignored() {
    let mut sim = Sim::connected(opts(V5));
    let id = request(&mut sim, "svc/a", b"A", 5_000);
    let reqs = subscribed(&mut sim);
    sim.send(&response(RESP, b"stranger", b"not ours"));
    sim.send(&publish(RESP, b"no correlation", Q0, 0));
    let events = sim.take_events();
    assert!(events.is_empty(), "dropped: {events:?}");
    let corr = reqs[0].props.correlation_data.clone().unwrap();
    sim.send(&response(RESP, b"ours", &corr));
    let r = responses(&sim.take_events());
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].0, id);
    // Other topics are the application's as before.
    sim.send(&publish("elsewhere", b"x", Q0, 0));
    assert_eq!(messages(&sim.take_events()).len(), 1);
}

#[test]
fn many_requests_share_one_response_subscription() {
    let mut sim = Sim::connected(opts(V5));
    for i in 0..3 {
        request(&mut sim, "svc/a", &[i], 5_000);
    }
    assert_eq!(subscribed(&mut sim).len(), 3);
    for i in 3..6 {
        request(&mut sim, "svc/a", &[i], 5_000);
    }
    let sent = sim.take();
    assert_eq!(publishes(&sent).len(), 3, "sent at once: {sent:?}");
    assert!(
        !sent.iter().any(|p| matches!(p, OPacket::Subscribe(_))),
        "no second SUBSCRIBE: {sent:?}"
    );
    assert_eq!(sim.session.pending_responses(), 6);
}

#[test]
fn the_response_subscription_is_renewed_when_the_broker_lost_the_session() {
    let mut sim = Sim::connected(opts(V5).session_expiry_interval(60));
    request(&mut sim, "svc/a", b"A", 60_000);
    subscribed(&mut sim);
    sim.drop_connection();
    let after = reconnect_with(&mut sim, &connack(false));
    let pid = response_subscribe(&after);
    sim.send(&suback(pid, &[ReasonCode(1)]));
    // Resumed (session present): nothing renewed.
    sim.drop_connection();
    let after = reconnect_with(&mut sim, &connack(true));
    assert!(
        !after.iter().any(|p| matches!(p, OPacket::Subscribe(_))),
        "{after:?}"
    );
    // A request after the renewal goes out at once and is answered.
    let id = request(&mut sim, "svc/a", b"B", 60_000);
    let reqs = publishes(&sim.take());
    assert_eq!(reqs.len(), 1);
    let corr = reqs[0].props.correlation_data.clone().unwrap();
    sim.send(&response(RESP, b"ok", &corr));
    assert_eq!(responses(&sim.take_events())[0].0, id);
}

#[test]
fn a_request_while_offline_waits_for_the_connection_and_the_subscription() {
    let mut sim = Sim::new(opts(V5));
    let id = sim
        .session
        .request(msg("svc/a", b"A", Q1), 10_000, 0)
        .unwrap();
    sim.start();
    let sent = sim.take();
    assert!(matches!(sent[0], OPacket::Connect(_)));
    sim.send(&connack(false));
    let reqs = subscribed(&mut sim);
    assert_eq!(reqs.len(), 1);
    let corr = reqs[0].props.correlation_data.clone().unwrap();
    sim.send(&puback(reqs[0].packet_id));
    sim.send(&response(RESP, b"ok", &corr));
    let events = sim.take_events();
    assert!(completions(&events).is_empty(), "{events:?}");
    assert_eq!(responses(&events)[0].0, id);
}

#[test]
fn a_refused_response_subscription_or_request_fails_the_requests() {
    let mut sim = Sim::connected(opts(V5));
    let a = request(&mut sim, "svc/a", b"A", 5_000);
    let sent = sim.take();
    let pid = response_subscribe(&sent);
    sim.send(&suback(pid, &[ReasonCode::NOT_AUTHORIZED]));
    assert_eq!(
        responses(&sim.take_events()),
        vec![(
            a,
            Err(ResponseError::SubscriptionRefused(
                ReasonCode::NOT_AUTHORIZED
            ))
        )]
    );
    assert!(
        publishes(&sim.take()).is_empty(),
        "the request was not sent"
    );
    // The next request subscribes again; a PUBACK refusing the request fails it.
    let b = sim
        .session
        .request(msg("svc/a", b"B", Q1), 5_000, sim.now)
        .unwrap();
    sim.run();
    let reqs = subscribed(&mut sim);
    sim.send(&puback_rc(reqs[0].packet_id, ReasonCode::NOT_AUTHORIZED));
    assert_eq!(
        responses(&sim.take_events()),
        vec![(
            b,
            Err(ResponseError::Publish(PublishError::Rejected(
                ReasonCode::NOT_AUTHORIZED
            )))
        )]
    );
}

#[test]
fn the_broker_response_information_is_the_base_when_asked_for() {
    let mut o = opts(V5);
    o.request_response_information = Some(true);
    let mut sim = Sim::connected_with(
        o,
        &connack_with(
            false,
            Properties {
                response_information: Some("clients/sim/"),
                ..Properties::EMPTY
            },
        ),
    );
    request(&mut sim, "svc/a", b"A", 5_000);
    assert_eq!(
        sim.session.response_topic(),
        Some("clients/sim/sim-client/resp")
    );
    // Not asked for: the prefix, whatever the broker says.
    let mut sim = Sim::connected_with(
        opts(V5).response_topic_prefix("apps/x"),
        &connack_with(
            false,
            Properties {
                response_information: Some("clients/sim"),
                ..Properties::EMPTY
            },
        ),
    );
    request(&mut sim, "svc/a", b"A", 5_000);
    assert_eq!(sim.session.response_topic(), Some("apps/x/sim-client/resp"));
    // No client id yet (the broker will assign one): a random one, never an empty level.
    let mut sim = Sim::new(Options {
        client_id: String::new(),
        ..opts(V5)
    });
    sim.session
        .request(msg("svc/a", b"A", Q0), 5_000, 0)
        .unwrap();
    let t = sim.session.response_topic().unwrap().to_string();
    assert!(
        t.starts_with("wasmqtt/rr/anon-") && t.ends_with("/resp"),
        "{t}"
    );
    // A client id with a wildcard makes no topic name (v5 MQTT-3.3.2-14).
    let mut sim = Sim::connected(Options {
        client_id: "a+b".into(),
        ..opts(V5)
    });
    let e = sim
        .session
        .request(msg("svc/a", b"A", Q0), 5_000, 0)
        .unwrap_err();
    assert!(
        matches!(e, ResponseError::InvalidResponseTopic { .. }),
        "{e:?}"
    );
}

#[test]
fn v311_refuses_request_and_respond() {
    let mut sim = Sim::connected(opts(V311));
    assert_eq!(
        sim.session
            .request(msg("svc/a", b"A", Q0), 5_000, 0)
            .unwrap_err(),
        ResponseError::NotSupportedInV311
    );
    sim.send(&publish("svc/a", b"A", Q0, 0));
    let m = messages(&sim.take_events()).remove(0);
    assert_eq!(
        sim.session.respond(&m, b"x".to_vec(), 0).unwrap_err(),
        ResponseError::NotSupportedInV311
    );
    assert!(sim.take().is_empty(), "nothing sent");
}

/// Sends the session a QoS 1 request on `svc/echo` (response topic `them/resp`, the given
/// correlation data) and returns the message it delivered.
fn receive_request(sim: &mut Sim, packet_id: u16, correlation: &'static [u8]) -> ReceivedMessage {
    sim.send(&Packet::Publish(Publish {
        dup: false,
        qos: Q1,
        retain: false,
        topic: "svc/echo",
        packet_id,
        properties: Properties {
            response_topic: Some("them/resp"),
            correlation_data: Some(correlation),
            ..Properties::EMPTY
        },
        payload: b"ping",
    }));
    sim.take();
    messages(&sim.take_events()).remove(0)
}

#[test]
fn respond_publishes_to_the_response_topic_with_the_correlation_data() {
    let mut sim = Sim::connected(opts(V5));
    let m = receive_request(&mut sim, 7, b"c-1");
    let id = sim.session.respond(&m, b"pong".to_vec(), 0).unwrap();
    sim.run();
    let out = publishes(&sim.take());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "them/resp");
    assert_eq!(out[0].payload, b"pong");
    assert_eq!(out[0].qos, Q1);
    assert_eq!(out[0].props.correlation_data.as_deref(), Some(&b"c-1"[..]));
    // The response is the application's publish: its completion is an event.
    sim.send(&puback(out[0].packet_id));
    assert_eq!(
        completion_of(&sim.take_events(), id),
        Ok(ReasonCode::SUCCESS)
    );
    // No response topic: nothing to answer.
    sim.send(&publish("svc/echo", b"ping", Q0, 0));
    let plain = messages(&sim.take_events()).remove(0);
    assert_eq!(
        sim.session.respond(&plain, b"x".to_vec(), 0).unwrap_err(),
        ResponseError::NoResponseTopic
    );
}

/// `respond_with`: the whole response message (its QoS, content type and user properties),
/// on the request's response topic with the request's correlation data (whatever topic and
/// correlation data the response carried before).
#[test]
fn respond_with_sends_the_whole_message_to_the_response_topic() {
    let mut sim = Sim::connected(opts(V5));
    let m = receive_request(&mut sim, 8, b"c-2");
    let mut response = Message::new("ignored/topic", "pong").qos(Q0);
    response.properties.content_type = Some("text/plain".into());
    response.properties.user_properties = vec![("k".into(), "v".into())];
    response.properties.correlation_data = Some(b"replaced".to_vec());
    sim.session.respond_with(&m, response, 0).unwrap();
    sim.run();
    let out = publishes(&sim.take());
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].topic, "them/resp");
    assert_eq!(out[0].payload, b"pong");
    assert_eq!(out[0].qos, Q0, "the response's QoS, not the request's");
    assert_eq!(out[0].props.correlation_data.as_deref(), Some(&b"c-2"[..]));
    assert_eq!(out[0].props.content_type.as_deref(), Some("text/plain"));
    assert_eq!(
        out[0].props.user_properties,
        [("k".to_string(), "v".to_string())]
    );
    let mut v311 = Sim::connected(opts(V311));
    assert_eq!(
        v311.session
            .respond_with(&m, Message::new("x", "y"), 0)
            .unwrap_err(),
        ResponseError::NotSupportedInV311
    );
}

/// Topic Alias Maximum 0: CONNECT carries no Topic Alias Maximum property (absent means 0,
/// v5 §3.1.2.11.5), and the server may then send no alias (v5 MQTT-3.1.2-27): one that does is
/// refused as a protocol error (DISCONNECT 0x94 Topic Alias invalid).
#[test]
fn topic_alias_maximum_0_is_not_announced_and_inbound_aliases_are_refused() {
    let mut sim = Sim::new(opts(V5).topic_alias_maximum(0));
    sim.start();
    let sent = sim.take();
    let OPacket::Connect(c) = &sent[0] else {
        panic!("{sent:?}")
    };
    assert_eq!(c.props.topic_alias_maximum, None, "{c:?}");
    sim.send(&connack(false));
    sim.take_events();
    sim.send(&aliased("t", 1, b"x"));
    assert_closed_for(
        &mut sim,
        ProtocolViolation::TopicAlias(1),
        ReasonCode::TOPIC_ALIAS_INVALID,
    );
    // The default announces its maximum.
    let mut sim = Sim::new(opts(V5));
    sim.start();
    let OPacket::Connect(c) = &sim.take()[0] else {
        panic!()
    };
    assert_eq!(c.props.topic_alias_maximum, Some(64));
}
