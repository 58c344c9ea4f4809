//! Failover across [`Options::brokers`]: the session picks the broker of every attempt
//! ([`Session::broker`]), tries the next one at once within a round through the list, backs
//! off after a whole round, and keeps what is in flight across brokers as across reconnects.

use crate::common::*;
use wasmqtt::broker::Broker;
use wasmqtt::session::{ConnectionState, HandshakeFailure, OptionsError, MAX_BROKERS};

fn a() -> Broker {
    Broker::tcp("a.example", 1883)
}

fn b() -> Broker {
    Broker::tcp("b.example", 1884)
}

fn c() -> Broker {
    Broker::tcp("c.example", 1885)
}

/// The simulations' options with brokers `[A, B]`.
fn two(version: ProtocolVersion) -> Options {
    opts(version).brokers([a(), b()])
}

/// A refusal that is retried: Server unavailable (v5 0x88, 3.1.1 return code 3).
fn unavailable(version: ProtocolVersion) -> u8 {
    if version == V5 {
        0x88
    } else {
        3
    }
}

/// Every `Disconnected` since the last take: its `reconnect_at`.
fn reconnect_ats(sim: &mut Sim) -> Vec<Option<u64>> {
    disconnects(&sim.take_events())
        .into_iter()
        .map(|(_, at)| at)
        .collect()
}

#[test]
fn builder_appends_and_replaces_and_validate_bounds_the_list() {
    assert!(Options::default().brokers.is_empty());
    let o = Options::new("x").broker(a()).broker(b());
    assert_eq!(o.brokers, vec![a(), b()]);
    let o = o.brokers([c()]);
    assert_eq!(o.brokers, vec![c()]);
    assert_eq!(o.validate(), Ok(()));
    let full = Options::new("x").brokers(vec![a(); MAX_BROKERS]);
    assert_eq!(full.validate(), Ok(()));
    let over = full.broker(b());
    assert_eq!(
        over.validate(),
        Err(OptionsError::TooManyBrokers(MAX_BROKERS + 1))
    );
    assert_eq!(OptionsError::TooManyBrokers(65).code(), "INVALID_ARGUMENT");
}

#[test]
fn without_a_list_there_is_no_broker_to_name() {
    let mut sim = Sim::new(opts(V5));
    assert_eq!(sim.session.broker(), None);
    assert_eq!(sim.session.broker_index(), None);
    sim.start();
    sim.take();
    sim.send(&connack(false));
    assert_eq!(connected_info(&sim.take_events()).broker, None);
    assert_eq!(sim.session.connection_info().unwrap().broker, None);
}

/// The first broker's transport does not open: the second is asked for at once, at the same
/// time, and the connection it opens names it.
#[test]
fn a_broker_that_does_not_open_is_followed_by_the_next_at_once() {
    for v in VERSIONS {
        let mut sim = Sim::new(two(v));
        sim.open_mode = OpenMode::Hold;
        sim.now = 5_000;
        assert_eq!(sim.session.broker(), Some(&a()), "before start: the first");
        sim.start();
        assert_eq!(sim.open_requests, 1);
        assert_eq!(sim.session.broker_index(), Some(0));
        sim.fail_open();
        assert_eq!(sim.open_requests, 2, "{v}: B asked for in the same drain");
        assert!(sim.open_pending);
        assert_eq!(sim.now, 5_000);
        assert_eq!(sim.session.broker(), Some(&b()));
        assert_eq!(sim.session.broker_index(), Some(1));
        assert_eq!(sim.session.state(), State::Opening);
        assert_eq!(
            sim.session.connection_state(),
            ConnectionState::Reconnecting
        );
        assert_eq!(
            the_disconnect(&sim.take_events()),
            (DisconnectReason::ConnectionLost, Some(5_000)),
            "{v}: the failure is reported, with the retry now"
        );
        // The new attempt has its own connect deadline, counted from now.
        assert_eq!(sim.session.poll_timeout(), Some(5_000 + 10_000));
        sim.complete_open();
        assert!(matches!(sim.take().as_slice(), [OPacket::Connect(_)]));
        sim.send(&connack(false));
        let info = connected_info(&sim.take_events());
        assert_eq!(info.broker, Some(b()), "{v}");
        assert_eq!(sim.session.connection_info().unwrap().broker, Some(b()));
        assert_eq!(sim.session.connections(), 1);
    }
}

/// A connect timeout, a handshake failure and a retried refusal each move on at once too.
#[test]
fn every_kind_of_failed_attempt_moves_on() {
    let mut sim = Sim::new(opts(V5).brokers([a(), b(), c()]).connect_timeout_ms(2_000));
    sim.open_mode = OpenMode::Hold;
    sim.start();
    // A: the open hangs past the connect timeout.
    sim.advance(2_000);
    assert_eq!(sim.close_requests, 1, "the hanging open is abandoned");
    assert_eq!(sim.open_requests, 2);
    assert_eq!(sim.session.broker_index(), Some(1));
    assert_eq!(
        the_disconnect(&sim.take_events()),
        (DisconnectReason::ConnectTimeout, Some(2_000))
    );
    // B: the TLS handshake fails.
    sim.open_pending = false;
    sim.session
        .handle_handshake_failed(sim.now, HandshakeFailure::UnknownIssuer, "self-signed");
    sim.run();
    assert_eq!(sim.open_requests, 3);
    assert_eq!(sim.session.broker_index(), Some(2));
    let (reason, at) = the_disconnect(&sim.take_events());
    assert!(
        matches!(reason, DisconnectReason::Handshake { .. }),
        "{reason:?}"
    );
    assert_eq!(at, Some(2_000));
    // C: Server unavailable (retried, not fatal): the round is over, so the back-off applies.
    sim.complete_open();
    sim.take();
    sim.send(&connack_refused(0x88));
    assert_eq!(sim.session.broker_index(), Some(0));
    assert_eq!(sim.session.state(), State::Reconnecting(3_000));
    assert_eq!(reconnect_ats(&mut sim), vec![Some(3_000)]);
}

/// Brokers [A, B] that all refuse: within a round no delay, between rounds the back-off,
/// one step per round.
#[test]
fn a_failed_round_backs_off_growing_per_round() {
    let mut sim = Sim::new(opts(V5).brokers([a(), b(), c()]));
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    assert_eq!(sim.open_requests, 3, "the whole round at t=0");
    assert_eq!(reconnect_ats(&mut sim), vec![Some(0), Some(0), Some(1_000)]);
    assert_eq!(
        sim.session.broker_index(),
        Some(0),
        "the next round starts at A"
    );
    sim.advance_to(1_000);
    assert_eq!(sim.open_requests, 6);
    assert_eq!(
        reconnect_ats(&mut sim),
        vec![Some(1_000), Some(1_000), Some(3_000)]
    );
    sim.advance_to(3_000);
    assert_eq!(
        reconnect_ats(&mut sim),
        vec![Some(3_000), Some(3_000), Some(7_000)]
    );
    sim.advance_to(7_000);
    assert_eq!(
        reconnect_ats(&mut sim),
        vec![Some(7_000), Some(7_000), Some(15_000)],
        "capped at 8 s"
    );
    assert_eq!(sim.open_requests, 12);
}

/// With jitter, every round's delay is within its bound `[d/2, d]`, `d` doubling per round.
#[test]
fn jittered_round_delays_stay_within_the_growing_bound() {
    for seed in [1, 7, 0x5eed] {
        let mut o = opts(V5).brokers([a(), b()]).random_seed(seed);
        o.reconnect.jitter_percent = 50;
        o.reconnect.max_delay_ms = 60_000;
        let mut sim = Sim::new(o);
        sim.open_mode = OpenMode::Refuse;
        sim.start();
        for round in 0..6u32 {
            let ats = reconnect_ats(&mut sim);
            assert_eq!(ats.len(), 2, "two failures per round: {ats:?}");
            assert_eq!(ats[0], Some(sim.now), "B at once");
            let delay = ats[1].unwrap() - sim.now;
            let bound = 1_000u64 << round;
            assert!(
                (bound / 2..=bound).contains(&delay),
                "seed {seed} round {round}: {delay} not within [{}, {bound}]",
                bound / 2
            );
            sim.advance_to(ats[1].unwrap());
        }
    }
}

/// A connection lost after CONNACK is the first failure of a new round: A dies → B at once;
/// B fails → round 0 delay → A → B at once → round 1 delay.
#[test]
fn a_lost_connection_starts_a_new_round() {
    let mut sim = Sim::connected(two(V5));
    assert_eq!(sim.session.connection_info().unwrap().broker, Some(a()));
    sim.advance(10_000);
    sim.open_mode = OpenMode::Refuse;
    sim.drop_connection();
    assert_eq!(sim.open_requests, 2);
    assert_eq!(reconnect_ats(&mut sim), vec![Some(10_000), Some(11_000)]);
    assert_eq!(sim.session.broker_index(), Some(0));
    sim.advance_to(11_000);
    assert_eq!(sim.open_requests, 4);
    assert_eq!(reconnect_ats(&mut sim), vec![Some(11_000), Some(13_000)]);
    // A accepts in the next round; the back-off starts over after it.
    sim.open_mode = OpenMode::Accept;
    sim.advance_to(13_000);
    assert!(matches!(sim.take().as_slice(), [OPacket::Connect(_)]));
    sim.send(&connack(false));
    assert_eq!(connected_info(&sim.take_events()).broker, Some(a()));
    sim.open_mode = OpenMode::Refuse;
    sim.drop_connection();
    assert_eq!(reconnect_ats(&mut sim), vec![Some(13_000), Some(14_000)]);
}

/// The broker in use dies with QoS 1 messages in flight: the next broker resumes the session
/// and they are sent again (DUP, same identifiers), none lost.
#[test]
fn in_flight_messages_are_resent_to_the_next_broker_that_resumes() {
    for v in VERSIONS {
        let mut sim = Sim::connected(two(v).clean_start(false));
        let ids: Vec<_> = (0..3)
            .map(|i| sim.publish(msg("t", &[i], Q1)).unwrap())
            .collect();
        let first = publishes(&sim.take());
        assert_eq!(first.len(), 3);
        sim.send(&puback(first[0].packet_id));
        sim.drop_connection();
        assert_eq!(sim.open_requests, 2, "{v}: B at once");
        assert_eq!(sim.session.broker(), Some(&b()));
        let sent = sim.take();
        assert!(matches!(sent.as_slice(), [OPacket::Connect(c)] if !c.clean_start));
        sim.send(&connack(true));
        assert_eq!(connected_info(&sim.take_events()).broker, Some(b()));
        let again = publishes(&sim.take());
        assert_eq!(
            again
                .iter()
                .map(|p| (p.packet_id, p.dup, p.payload.clone()))
                .collect::<Vec<_>>(),
            vec![
                (first[1].packet_id, true, vec![1]),
                (first[2].packet_id, true, vec![2])
            ],
            "{v}"
        );
        for p in &again {
            sim.send(&puback(p.packet_id));
        }
        let events = sim.all_events();
        for id in &ids {
            assert_eq!(completion_of(&events, *id), Ok(ReasonCode::SUCCESS), "{v}");
        }
        assert_eq!(sim.session.inflight_len(), 0);
    }
}

/// The next broker has no session: the messages never acknowledged are requeued and sent as
/// new messages, in order, and subscriptions are renewed there; none lost.
#[test]
fn in_flight_messages_are_requeued_when_the_next_broker_has_no_session() {
    for v in VERSIONS {
        let mut sim = Sim::connected(two(v).clean_start(false));
        let sub = sim.subscribe(&[("cmd/#", Q1)], None);
        let OPacket::Subscribe(s) = sim.take().remove(0) else {
            panic!("SUBSCRIBE expected");
        };
        sim.send(&suback(s.packet_id, &[ReasonCode(1)]));
        let ids: Vec<_> = (0..3)
            .map(|i| sim.publish(msg("t", &[i], Q1)).unwrap())
            .collect();
        assert_eq!(publishes(&sim.take()).len(), 3);
        sim.drop_connection();
        sim.take();
        sim.send(&connack(false));
        assert_eq!(connected_info(&sim.take_events()).broker, Some(b()));
        let after = sim.take();
        let again = publishes(&after);
        assert_eq!(
            again
                .iter()
                .map(|p| (p.dup, p.payload.clone()))
                .collect::<Vec<_>>(),
            vec![(false, vec![0]), (false, vec![1]), (false, vec![2])],
            "{v}: requeued, in order, as new messages"
        );
        let resub = after
            .iter()
            .find_map(|p| match p {
                OPacket::Subscribe(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{v}: no resubscription in {after:?}"));
        sim.send(&suback(resub.packet_id, &[ReasonCode(1)]));
        for p in &again {
            sim.send(&puback(p.packet_id));
        }
        let events = sim.all_events();
        for id in &ids {
            assert_eq!(completion_of(&events, *id), Ok(ReasonCode::SUCCESS), "{v}");
        }
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, Event::RequestFailed { id, .. } if *id == sub)),
            "{v}"
        );
    }
}

/// `GiveUp` (the default) tries every broker once before it gives up, with the last reason;
/// what waited fails only then.
#[test]
fn give_up_waits_for_a_whole_round_and_reports_the_last_reason() {
    for v in VERSIONS {
        let mut sim = Sim::new(two(v).first_connect(FirstConnect::GiveUp));
        let id = sim.publish(msg("t", b"x", Q1)).unwrap();
        sim.open_mode = OpenMode::Hold;
        sim.start();
        sim.fail_open();
        let events = sim.take_events();
        assert_eq!(
            the_disconnect(&events),
            (DisconnectReason::ConnectionLost, Some(0))
        );
        assert!(
            completions(&events).is_empty(),
            "{v}: the message still waits"
        );
        sim.complete_open();
        sim.take();
        let code = unavailable(v);
        sim.send(&connack_refused(code));
        let events = sim.take_events();
        let (reason, at) = the_disconnect(&events);
        assert_eq!(at, None, "{v}: given up");
        assert!(
            matches!(reason, DisconnectReason::Refused { code: c, .. } if c == ReasonCode(code)),
            "{v}: the last failure's reason, got {reason:?}"
        );
        assert_eq!(completion_of(&events, id), Err(PublishError::SessionClosed));
        assert_eq!(sim.session.state(), State::Closed);
        sim.advance(60_000);
        assert_eq!(sim.open_requests, 2, "{v}");
    }
}

/// A refusal that retrying cannot fix closes the session even with brokers left.
#[test]
fn a_fatal_refusal_closes_whichever_broker_gave_it() {
    let mut sim = Sim::new(two(V5));
    sim.start();
    sim.take();
    sim.send(&connack_refused(0x86));
    let (reason, at) = the_disconnect(&sim.take_events());
    assert_eq!(at, None);
    assert!(
        matches!(reason, DisconnectReason::Refused { .. }),
        "{reason:?}"
    );
    assert_eq!(sim.session.state(), State::Closed);
    assert_eq!(sim.open_requests, 1, "B is not tried");
}

/// Credentials in a broker URL replace the options' ones (both) in the CONNECT sent to it;
/// a broker without any gets the options' ones.
#[test]
fn url_credentials_replace_the_options_ones() {
    let alice = Broker::parse("mqtt://alice:s%3Acret@a.example").unwrap();
    let bob = Broker::parse("mqtt://bob@b.example").unwrap();
    let mut sim = Sim::new(
        opts(V5)
            .credentials("options-user", "options-pass")
            .brokers([alice, bob, c()]),
    );
    sim.open_mode = OpenMode::Hold;
    sim.start();
    let mut seen = Vec::new();
    for _ in 0..3 {
        sim.complete_open();
        let credentials = match sim.take().as_slice() {
            [OPacket::Connect(c)] => (c.username.clone(), c.password.clone()),
            other => panic!("expected CONNECT, got {other:?}"),
        };
        seen.push((sim.session.broker_index(), credentials));
        sim.send(&connack_refused(0x88));
    }
    assert_eq!(sim.now, 0, "one round, no delay");
    assert_eq!(
        seen,
        vec![
            (
                Some(0),
                (Some("alice".to_string()), Some(b"s:cret".to_vec()))
            ),
            (Some(1), (Some("bob".to_string()), None)),
            (
                Some(2),
                (
                    Some("options-user".to_string()),
                    Some(b"options-pass".to_vec())
                )
            ),
        ]
    );
}

/// A one-broker list behaves exactly as an empty list: the same outputs at the same times,
/// the same events (but for the broker named in the connection info).
#[test]
fn a_single_broker_list_behaves_as_an_empty_list() {
    /// What the driver saw: events (without the broker's name), packets, opens and closes.
    type Seen = (Vec<(u64, Event)>, Vec<Sent>, u32, u32);
    fn seen(sim: &Sim) -> Seen {
        let events = sim
            .events
            .iter()
            .cloned()
            .map(|(t, e)| match e {
                Event::Connected(mut info) => {
                    info.broker = None;
                    (t, Event::Connected(info))
                }
                e => (t, e),
            })
            .collect();
        (
            events,
            sim.sent.clone(),
            sim.open_requests,
            sim.close_requests,
        )
    }
    /// Retried failures of every kind, a connection, a loss with a message in flight.
    fn retried(o: Options) -> Seen {
        let refusal = unavailable(o.version);
        let mut sim = Sim::new(o.first_connect(FirstConnect::Retry));
        sim.open_mode = OpenMode::Refuse;
        sim.start();
        sim.advance(1_000);
        sim.open_mode = OpenMode::Hold;
        sim.advance(2_000);
        sim.complete_open();
        sim.send(&connack(false));
        sim.publish(msg("t", b"1", Q1)).unwrap();
        sim.drop_connection();
        sim.open_mode = OpenMode::Accept;
        sim.advance(1_000);
        sim.send(&connack_refused(refusal));
        sim.advance(2_000);
        sim.send(&connack(false));
        // Silence: keep-alive timeouts, then connect timeouts, with the back-off.
        sim.advance(300_000);
        seen(&sim)
    }
    /// The first attempt fails under `GiveUp`.
    fn given_up(o: Options) -> Seen {
        let mut sim = Sim::new(o.first_connect(FirstConnect::GiveUp));
        sim.open_mode = OpenMode::Hold;
        sim.start();
        sim.fail_open();
        sim.advance(60_000);
        seen(&sim)
    }
    for v in VERSIONS {
        let empty = retried(opts(v));
        assert_eq!(retried(opts(v).broker(a())), empty, "{v}");
        assert!(empty.2 > 5, "{v}: the script reconnected: {}", empty.2);
        let empty = given_up(opts(v));
        assert_eq!(given_up(opts(v).broker(a())), empty, "{v}");
        assert_eq!(empty.2, 1);
    }
}

/// A new start begins again at the first broker.
#[test]
fn a_new_start_begins_at_the_first_broker() {
    let mut sim = Sim::new(two(V5));
    sim.open_mode = OpenMode::Hold;
    sim.start();
    sim.fail_open();
    assert_eq!(sim.session.broker_index(), Some(1));
    sim.disconnect();
    assert_eq!(sim.session.state(), State::Closed);
    sim.open_pending = false;
    sim.start();
    assert_eq!(sim.session.broker_index(), Some(0));
    sim.complete_open();
    sim.take();
    sim.send(&connack(false));
    assert_eq!(connected_info(&sim.take_events()).broker, Some(a()));
}
