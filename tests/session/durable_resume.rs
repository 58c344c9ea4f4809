//! Resuming a durable session from its store after a simulated crash: CONNECT with clean
//! start 0, the resend rules on Session Present 1, the requeue rule on 0, QoS 2 inbound
//! deduplication kept, every accepted message completed exactly once whatever the crash
//! point, and corrupt records refused with a typed error.

use crate::common::*;
use crate::durable::{durable, settle, store_once, Store};
use std::collections::{BTreeMap, BTreeSet};
use wasmqtt::session::{ResumeError, StoreOp, SyncPolicy, RECORD_FORMAT};

/// The process dies; a new one resumes from what the store holds.
fn restart(o: &Options, store: &Store) -> Sim {
    let mut sim = Sim::new(o.clone());
    sim.session = Session::resume(o.clone(), store.map.clone()).expect("resume");
    sim
}

/// Starts a resumed session: its CONNECT (checked: clean start 0), answered with `connack`.
fn reconnect(sim: &mut Sim, store: &mut Store, connack: &Packet<'_>) -> Vec<OPacket> {
    sim.start();
    let sent = sim.take();
    let [OPacket::Connect(c)] = sent.as_slice() else {
        panic!("expected CONNECT, got {sent:?}");
    };
    assert!(
        !c.clean_start,
        "v5 MQTT-3.1.2-4 / v3.1.1 MQTT-3.1.2-6: the session continues"
    );
    sim.send(connack);
    settle(sim, store);
    sim.take()
}

#[test]
fn an_empty_store_resumes_as_a_new_session() {
    let o = durable(V5);
    let s = Session::resume(o.clone(), Vec::<(Vec<u8>, Vec<u8>)>::new()).expect("empty");
    assert!(s.is_durable());
    assert_eq!(s.queued(), (0, 0));
    let mut sim = Sim::new(o);
    sim.session = s;
    sim.start();
    let sent = sim.take();
    let [OPacket::Connect(c)] = sent.as_slice() else {
        panic!("CONNECT")
    };
    assert!(
        c.clean_start,
        "nothing to continue: the options' clean start"
    );
}

// Covers: v5 MQTT-4.4.0-1, v3.1.1 MQTT-4.4.0-1
#[test]
fn session_present_resends_publish_with_dup_and_pubrel_in_order_after_a_crash() {
    for v in VERSIONS {
        let o = durable(v).max_inflight(2);
        let mut store = Store::default();
        let mut sim = Sim::connected(o.clone());
        settle(&mut sim, &mut store);
        let a = sim.publish(msg("t", b"a", Q1)).expect("a");
        let b = sim.publish(msg("t", b"b", Q2)).expect("b");
        let c = sim.publish(msg("t", b"c", Q1)).expect("c");
        settle(&mut sim, &mut store);
        let sent = publishes(&sim.take());
        assert_eq!(sent.len(), 2, "{v:?}: the window");
        sim.send(&pubrec(sent[1].packet_id));
        settle(&mut sim, &mut store);
        sim.take();
        // Crash.
        let mut sim = restart(&o, &store);
        assert_eq!(sim.session.queued().0, 1);
        assert_eq!(sim.session.inflight_len(), 2);
        let resent = reconnect(&mut sim, &mut store, &connack(true));
        assert_eq!(resent.len(), 2, "{v:?}: {resent:?}");
        let p = resent[0].publish().expect("PUBLISH first");
        assert!(p.dup && p.packet_id == sent[0].packet_id && p.payload == b"a");
        assert_eq!(
            resent[1],
            OPacket::PubRel(OPubResp::new(sent[1].packet_id, ReasonCode::SUCCESS))
        );
        sim.send(&puback(sent[0].packet_id));
        sim.send(&pubcomp(sent[1].packet_id));
        settle(&mut sim, &mut store);
        let third = publishes(&sim.take());
        assert_eq!(third.len(), 1);
        assert!(!third[0].dup && third[0].payload == b"c");
        sim.send(&puback(third[0].packet_id));
        settle(&mut sim, &mut store);
        let events = sim.take_events();
        // The same publish ids as before the crash.
        for id in [a, b, c] {
            assert!(completion_of(&events, id).is_ok(), "{v:?}: {id:?}");
        }
        assert_eq!(store.count(1) + store.count(2), 0);
    }
}

#[test]
fn session_present_0_after_a_crash_applies_the_requeue_rule_and_renews_subscriptions() {
    for v in VERSIONS {
        let o = durable(v);
        let mut store = Store::default();
        let mut sim = Sim::connected(o.clone());
        sim.subscribe(&[("s/#", Q1)], Some(7).filter(|_| v == V5));
        let sub = sim.take()[0].subscribe().expect("SUBSCRIBE").packet_id;
        sim.send(&suback(sub, &[ReasonCode(1)]));
        let a = sim.publish(msg("t", b"a", Q1)).expect("a");
        let b = sim.publish(msg("t", b"b", Q2)).expect("b");
        settle(&mut sim, &mut store);
        let sent = publishes(&sim.take());
        sim.send(&pubrec(sent[1].packet_id));
        settle(&mut sim, &mut store);
        let mut sim = restart(&o, &store);
        let out = reconnect(&mut sim, &mut store, &connack(false));
        let subs: Vec<_> = out.iter().filter_map(|p| p.subscribe()).collect();
        assert_eq!(subs.len(), 1, "{v:?}: {out:?}");
        assert_eq!(subs[0].subs[0].0, "s/#");
        let again = publishes(&out);
        assert_eq!(again.len(), 1, "{v:?}: only the unacknowledged one");
        assert!(!again[0].dup && again[0].payload == b"a", "sent as new");
        let events = sim.take_events();
        assert!(
            completion_of(&events, b).is_ok(),
            "PUBREC'd: the broker owns it"
        );
        sim.send(&puback(again[0].packet_id));
        settle(&mut sim, &mut store);
        assert!(completion_of(&sim.take_events(), a).is_ok());
    }
}

#[test]
fn inbound_qos2_deduplication_survives_a_crash() {
    for v in VERSIONS {
        let o = durable(v);
        let mut store = Store::default();
        let mut sim = Sim::connected(o.clone());
        settle(&mut sim, &mut store);
        sim.send(&publish("in", b"once", Q2, 4));
        settle(&mut sim, &mut store);
        assert_eq!(messages(&sim.take_events()).len(), 1);
        // Crash before PUBREL; the broker sends the PUBLISH again.
        let mut sim = restart(&o, &store);
        reconnect(&mut sim, &mut store, &connack(true));
        sim.send(&dup(publish("in", b"once", Q2, 4)));
        settle(&mut sim, &mut store);
        assert!(
            messages(&sim.take_events()).is_empty(),
            "{v:?}: delivered twice"
        );
        assert_eq!(
            sim.take(),
            [OPacket::PubRec(OPubResp::new(4, ReasonCode::SUCCESS))]
        );
        sim.send(&pubrel(4));
        settle(&mut sim, &mut store);
        assert_eq!(store.count(3), 0);
    }
}

#[test]
fn a_crash_before_the_inbound_record_is_stored_delivers_the_message_once() {
    let o = durable(V5);
    let mut store = Store::default();
    let mut sim = Sim::connected(o.clone());
    settle(&mut sim, &mut store);
    sim.send(&publish("in", b"m", Q2, 4));
    // Crash before the store step: neither PUBREC nor the message went out.
    assert!(sim.take().is_empty());
    assert!(messages(&sim.take_events()).is_empty());
    let mut sim = restart(&o, &store);
    reconnect(&mut sim, &mut store, &connack(true));
    sim.send(&dup(publish("in", b"m", Q2, 4)));
    settle(&mut sim, &mut store);
    assert_eq!(messages(&sim.take_events()).len(), 1);
}

#[test]
fn the_client_identifier_the_broker_assigned_is_resumed() {
    let o = durable(V5);
    let o = Options {
        client_id: String::new(),
        ..o
    };
    let mut store = Store::default();
    let props = Properties {
        assigned_client_identifier: Some("given-by-broker"),
        ..Properties::EMPTY
    };
    let mut sim = Sim::connected_with(o.clone(), &connack_with(false, props));
    assert!(
        sim.session.has_store_ops(),
        "the session record, with the assigned id"
    );
    settle(&mut sim, &mut store);
    assert!(!sim.session.has_store_ops());
    let mut sim = restart(&o, &store);
    sim.start();
    let sent = sim.take();
    let [OPacket::Connect(c)] = sent.as_slice() else {
        panic!("CONNECT")
    };
    assert_eq!(c.client_id, "given-by-broker");
    assert_eq!(c.props.session_expiry_interval, Some(3600));
}

#[test]
fn manual_acks_record_the_inbound_identifier_when_acknowledged() {
    let o = durable(V5).manual_acks(true);
    let mut store = Store::default();
    let mut sim = Sim::connected(o.clone());
    settle(&mut sim, &mut store);
    sim.send(&publish("in", b"m", Q2, 3));
    let id = messages(&sim.take_events())[0].ack;
    assert_eq!(store.count(3), 0, "not received until acknowledged");
    sim.session.ack(id.expect("ack id"), sim.now).expect("ack");
    sim.run();
    assert!(sim.take().is_empty(), "PUBREC waits for the record");
    settle(&mut sim, &mut store);
    assert_eq!(store.count(3), 1);
    assert_eq!(
        sim.take(),
        [OPacket::PubRec(OPubResp::new(3, ReasonCode::SUCCESS))]
    );
}

// ---------------------------------------------------------------------------------------------
// Crashes at every point of a run
// ---------------------------------------------------------------------------------------------

/// A broker that keeps its session: QoS 1 delivered on every PUBLISH, QoS 2 once per packet
/// identifier between PUBLISH and PUBREL (its Method B).
#[derive(Default)]
struct Broker {
    qos2_held: BTreeSet<u16>,
    delivered: BTreeMap<Vec<u8>, usize>,
}

impl Broker {
    /// Answers everything the client wrote; whether it wrote anything.
    fn answer(&mut self, sim: &mut Sim) -> bool {
        let sent = sim.take();
        let any = !sent.is_empty();
        for p in sent {
            match p {
                OPacket::Connect(c) => sim.send(&connack(!c.clean_start)),
                OPacket::Publish(p) if p.qos == Q1 => {
                    *self.delivered.entry(p.payload.clone()).or_default() += 1;
                    sim.send(&puback(p.packet_id));
                }
                OPacket::Publish(p) => {
                    if self.qos2_held.insert(p.packet_id) {
                        *self.delivered.entry(p.payload.clone()).or_default() += 1;
                    }
                    sim.send(&pubrec(p.packet_id));
                }
                OPacket::PubRel(r) => {
                    self.qos2_held.remove(&r.packet_id);
                    sim.send(&pubcomp(r.packet_id));
                }
                _ => {}
            }
        }
        any
    }
}

/// Where a crash strikes in the store step it hits.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// The batch was taken but never written.
    BeforeApply,
    /// The batch was written, but the process died before reporting it.
    AfterApply,
}

/// Runs broker and store until quiet, crashing at store step `crash_at` (counting across
/// calls in `steps`). Whether it crashed.
fn run(
    sim: &mut Sim,
    store: &mut Store,
    broker: &mut Broker,
    steps: &mut usize,
    crash: Option<(usize, Crash)>,
) -> bool {
    for _ in 0..10_000 {
        let talked = broker.answer(sim);
        let mut ops = Vec::new();
        let Some(batch) = sim.session.take_store_ops(&mut ops) else {
            if !talked {
                return false;
            }
            continue;
        };
        *steps += 1;
        if let Some((at, how)) = crash {
            if *steps == at {
                if let Crash::AfterApply = how {
                    store.apply(&ops);
                }
                return true;
            }
        }
        store.apply(&ops);
        sim.session.handle_stored(batch.ticket, sim.now);
        sim.run();
    }
    panic!("the run never became quiet");
}

#[test]
fn every_accepted_message_completes_exactly_once_whatever_the_crash_point() {
    let (mut crashes, mut completed_after_a_crash) = (0, 0);
    for v in VERSIONS {
        for how in [Crash::BeforeApply, Crash::AfterApply] {
            for crash_at in 1..=24 {
                // A process crash loses nothing admitted whatever the sync policy.
                let policy = if crash_at % 3 == 0 {
                    SyncPolicy::Batched {
                        max_messages: 3,
                        max_delay_ms: 1_000,
                    }
                } else {
                    SyncPolicy::EveryMessage
                };
                let o = durable(v)
                    .durable(Some(policy))
                    .max_inflight(if crash_at % 2 == 0 { 1 } else { 2 });
                let mut store = Store::default();
                let mut broker = Broker::default();
                let mut sim = Sim::new(o.clone());
                sim.start();
                let mut steps = 0;
                let mut accepted = Vec::new();
                for i in 0..8u8 {
                    let qos = if i % 2 == 0 { Q1 } else { Q2 };
                    accepted.push(sim.publish(msg("t", &[i], qos)).expect("accepted"));
                }
                let mut admitted = Vec::new();
                let mut completed: BTreeMap<PublishId, usize> = BTreeMap::new();
                let mut crashed = run(
                    &mut sim,
                    &mut store,
                    &mut broker,
                    &mut steps,
                    Some((crash_at, how)),
                );
                let mut incarnations = 1;
                loop {
                    sim.session.take_admitted(&mut admitted);
                    for (id, r) in completions(&sim.all_events()) {
                        assert!(r.is_ok(), "{v:?} {how:?}@{crash_at}: {id:?} failed: {r:?}");
                        *completed.entry(id).or_default() += 1;
                    }
                    if !crashed {
                        break;
                    }
                    crashes += 1;
                    incarnations += 1;
                    assert!(incarnations < 5);
                    sim = restart(&o, &store);
                    sim.start();
                    crashed = run(&mut sim, &mut store, &mut broker, &mut steps, None);
                    completed_after_a_crash += completions(&sim.all_events()).len();
                }
                let ctx = format!("{v:?} {how:?} crash at step {crash_at}");
                // Admitted: never lost, never completed twice. It completes once, unless the
                // crash struck after its deletion was written and before the completion was
                // handed out: the broker acknowledged it then, and that is not reported again.
                for (i, id) in accepted.iter().enumerate() {
                    let n = completed.get(id).copied().unwrap_or(0);
                    assert!(n <= 1, "{ctx}: {id:?} completed {n} times");
                    let got = broker.delivered.get(&vec![i as u8]).copied().unwrap_or(0);
                    if admitted.contains(id) {
                        assert!(
                            n == 1 || got >= 1,
                            "{ctx}: {id:?} admitted, neither completed nor delivered"
                        );
                    }
                }
                // A completed message reached the broker, at QoS 2 once.
                for (i, id) in accepted.iter().enumerate() {
                    let got = broker.delivered.get(&vec![i as u8]).copied().unwrap_or(0);
                    if completed.contains_key(id) {
                        assert!(got >= 1, "{ctx}: message {i} completed, never delivered");
                    }
                    if i % 2 == 1 {
                        assert!(got <= 1, "{ctx}: QoS 2 message {i} delivered {got} times");
                    }
                }
                assert_eq!(store.count(1) + store.count(2), 0, "{ctx}: records left");
            }
        }
    }
    eprintln!("crashes {crashes}, completed after one {completed_after_a_crash}");
    // The points cover the whole run: most crash, and the resumed sessions finish the work.
    assert!(crashes >= 36, "only {crashes} runs crashed");
    assert!(completed_after_a_crash >= 100, "{completed_after_a_crash}");
}

#[test]
fn records_in_any_order_resume_the_same_session() {
    // Two in flight (one QoS 1 sent, one QoS 2 released), four queued: every record kind.
    let o = durable(V5).max_inflight(2);
    let mut store = Store::default();
    let mut sim = Sim::connected(o.clone());
    settle(&mut sim, &mut store);
    sim.publish(msg("t", b"a", Q1)).expect("a");
    sim.publish(msg("t", b"b", Q2)).expect("b");
    for p in [b"c", b"d", b"e", b"f"] {
        sim.publish(msg("t", p, Q1)).expect("queued");
    }
    settle(&mut sim, &mut store);
    let sent = publishes(&sim.take());
    sim.send(&pubrec(sent[1].packet_id));
    settle(&mut sim, &mut store);
    sim.take();
    let in_order: Vec<(Vec<u8>, Vec<u8>)> = store.map.clone().into_iter().collect();
    let mut reversed = in_order.clone();
    reversed.reverse();
    // Interleaved: odd positions first, then even ones.
    let interleaved: Vec<_> = in_order
        .iter()
        .skip(1)
        .step_by(2)
        .chain(in_order.iter().step_by(2))
        .cloned()
        .collect();
    let replay = |records: Vec<(Vec<u8>, Vec<u8>)>| {
        let mut sim = Sim::new(o.clone());
        sim.session = Session::resume(o.clone(), records).expect("resume");
        let shape = (sim.session.inflight_len(), sim.session.queued());
        let mut store = store.clone();
        let mut packets = reconnect(&mut sim, &mut store, &connack(true));
        // Completing the window lets every queued message out, in its order.
        for _ in 0..3 {
            let acks: Vec<Packet<'static>> = packets
                .iter()
                .filter_map(|p| match p {
                    OPacket::Publish(p) if p.qos == Q1 => Some(puback(p.packet_id)),
                    OPacket::PubRel(r) => Some(pubcomp(r.packet_id)),
                    _ => None,
                })
                .collect();
            for a in &acks {
                sim.send(a);
            }
            settle(&mut sim, &mut store);
            packets.extend(sim.take());
        }
        (shape, packets)
    };
    let expected = replay(in_order);
    let (inflight, (queued, _bytes)) = expected.0;
    assert_eq!((inflight, queued), (2, 4));
    let payloads: Vec<&[u8]> = expected
        .1
        .iter()
        .filter_map(|p| p.publish().map(|p| p.payload.as_slice()))
        .collect();
    assert_eq!(
        payloads,
        [&b"a"[..], b"c", b"d", b"e", b"f"],
        "resend, then the queue in order"
    );
    assert_eq!(replay(reversed), expected, "records read in reverse order");
    assert_eq!(replay(interleaved), expected, "records read interleaved");
}

// ---------------------------------------------------------------------------------------------
// Corrupt records
// ---------------------------------------------------------------------------------------------

/// A store with a message in flight, a subscription and an inbound QoS 2 identifier.
fn a_full_store() -> Store {
    let mut store = Store::default();
    let mut sim = Sim::connected(durable(V5).max_inflight(1));
    sim.subscribe(&[("s", Q1)], None);
    let sub = sim.take()[0].subscribe().expect("SUBSCRIBE").packet_id;
    sim.send(&suback(sub, &[ReasonCode(1)]));
    sim.publish(msg("t", b"payload", Q2)).expect("accepted");
    sim.publish(msg("t", b"queued", Q1)).expect("accepted");
    sim.send(&publish("in", b"x", Q2, 5));
    settle(&mut sim, &mut store);
    assert!((1..=4).all(|tag| store.count(tag) > 0), "{:?}", store.map);
    store
}

fn resume_with(store: &Store) -> Result<Session, ResumeError> {
    Session::resume(durable(V5), store.map.clone())
}

#[test]
fn a_full_store_resumes() {
    let s = resume_with(&a_full_store()).expect("resumes");
    assert_eq!(s.inflight_len(), 1);
    assert_eq!(s.queued().0, 1);
}

#[test]
fn corrupt_or_unknown_records_are_a_typed_error() {
    let full = a_full_store();
    let key_of = |tag: u8| {
        full.map
            .keys()
            .find(|k| k[0] == tag)
            .cloned()
            .expect("a record")
    };
    let mut unknown = full.clone();
    unknown.map.insert(vec![9, 9], vec![RECORD_FORMAT]);
    assert!(matches!(
        resume_with(&unknown),
        Err(ResumeError::UnknownKey { .. })
    ));
    let mut future = full.clone();
    future.map.insert(key_of(1), vec![RECORD_FORMAT + 1, 0]);
    let e = resume_with(&future).expect_err("a later format");
    assert!(
        matches!(e, ResumeError::UnsupportedFormat { format: 2, .. }),
        "{e}"
    );
    assert_eq!(e.code(), "STORE_UNSUPPORTED_FORMAT");
    for tag in 0..=4u8 {
        let key = key_of(tag);
        let value = full.map[&key].clone();
        for cut in 0..value.len() {
            let mut truncated = full.clone();
            truncated.map.insert(key.clone(), value[..cut].to_vec());
            let r = resume_with(&truncated);
            assert!(
                matches!(r, Err(ResumeError::Corrupt { .. })),
                "tag {tag} cut at {cut}: {r:?}"
            );
        }
    }
    let mut orphan = full.clone();
    orphan.map.remove(&key_of(1));
    assert!(matches!(
        resume_with(&orphan),
        Err(ResumeError::Corrupt {
            reason: "stage of a message not stored",
            ..
        })
    ));
}

#[test]
fn random_damage_never_panics() {
    let full = a_full_store();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let keys: Vec<Vec<u8>> = full.map.keys().cloned().collect();
    for _ in 0..2_000 {
        let mut damaged = full.clone();
        let key = &keys[next() as usize % keys.len()];
        let value = damaged.map.get_mut(key).expect("present");
        if value.len() > 1 {
            let i = 1 + next() as usize % (value.len() - 1);
            value[i] ^= 1 << (next() % 8);
        }
        if let Ok(mut s) = resume_with(&damaged) {
            // Whatever resumed must run.
            s.connect(0);
            while !matches!(s.poll_output(), Output::Wait(_)) {}
        }
    }
}

#[test]
fn a_batch_coalesces_changes_of_one_key() {
    let mut sim = Sim::connected(durable(V5).durable(Some(SyncPolicy::EveryMessage)));
    let mut store = Store::default();
    settle(&mut sim, &mut store);
    sim.publish(msg("t", b"x", Q1)).expect("accepted");
    let mut ops = Vec::new();
    sim.session.take_store_ops(&mut ops).expect("a batch");
    let mut keys: Vec<&[u8]> = ops.iter().map(StoreOp::key).collect();
    let n = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), n, "one operation per key: {ops:?}");
    assert!(!store_once(&mut sim, &mut store), "nothing more");
}

#[test]
fn a_message_and_its_properties_survive_a_restart() {
    let o = durable(V5);
    let mut store = Store::default();
    let mut sim = Sim::connected(o.clone());
    let props = pub_props(&[("k", "v"), ("k", "w")]);
    let m = msg("t/props", b"\x00\xffbinary", Q2)
        .retain(true)
        .properties(props.clone());
    sim.publish(m).expect("accepted");
    settle(&mut sim, &mut store);
    let first = publishes(&sim.take());
    let mut sim = restart(&o, &store);
    let again = publishes(&reconnect(&mut sim, &mut store, &connack(true)));
    assert_eq!(again.len(), 1);
    let (a, b) = (&first[0], &again[0]);
    assert!(b.dup);
    assert_eq!(
        (&a.topic, &a.payload, a.qos, a.retain),
        (&b.topic, &b.payload, b.qos, b.retain)
    );
    assert_eq!(b.props.message_properties(), props);
}

#[test]
fn a_v311_session_resumes_its_messages() {
    let o = durable(V311);
    let mut store = Store::default();
    let mut sim = Sim::new(o.clone());
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    // Offline from the start: the message waits in the store.
    let m = msg("t", b"offline", Q1).properties(pub_props(&[("a", "b")]));
    sim.publish(m).expect("queued");
    settle(&mut sim, &mut store);
    let mut sim = restart(&o, &store);
    assert_eq!(sim.session.queued().0, 1);
    let out = reconnect(&mut sim, &mut store, &connack(false));
    let sent = publishes(&out);
    assert_eq!(sent.len(), 1, "{out:?}");
    assert_eq!(sent[0].payload, b"offline");
}

/// A power loss keeps only what was synced: the store as of the last batch with `sync`.
#[test]
fn a_power_loss_loses_at_most_the_unsynced_window_of_the_policy() {
    let policies = [
        (SyncPolicy::EveryMessage, 0),
        (
            SyncPolicy::Batched {
                max_messages: 4,
                max_delay_ms: 60_000,
            },
            3,
        ),
    ];
    for (policy, bound) in policies {
        let mut most_lost = 0;
        for crash_after in 1..=12 {
            let o = durable(V5).durable(Some(policy)).max_inflight(1);
            let mut sim = Sim::connected(o.clone());
            let mut store = Store::default();
            let mut synced = Store::default();
            let mut admitted = Vec::new();
            let mut published = Vec::new();
            for i in 0..crash_after {
                published.push(sim.publish(msg("t", &[i], Q1)).expect("accepted"));
                let mut ops = Vec::new();
                if let Some(batch) = sim.session.take_store_ops(&mut ops) {
                    store.apply(&ops);
                    if batch.sync {
                        synced = store.clone();
                    }
                    sim.session.handle_stored(batch.ticket, sim.now);
                    sim.run();
                }
                sim.session.take_admitted(&mut admitted);
            }
            assert_eq!(admitted, published, "{policy:?}: admitted once applied");
            // Power loss: only the synced records come back.
            let s = Session::resume(o, synced.map.clone()).expect("resume");
            let kept = s.inflight_len() + s.queued().0;
            let lost = admitted.len() - kept;
            assert!(
                lost <= bound,
                "{policy:?}: lost {lost} of {}",
                admitted.len()
            );
            most_lost = most_lost.max(lost);
        }
        assert_eq!(
            most_lost, bound,
            "{policy:?}: the bound is reached, not exceeded"
        );
    }
}

#[test]
fn a_resumed_session_retries_a_failed_first_attempt_instead_of_failing_its_messages() {
    let o = durable(V5).first_connect(FirstConnect::GiveUp);
    let mut store = Store::default();
    let mut sim = Sim::connected(o.clone());
    sim.publish(msg("t", b"keep", Q1)).expect("accepted");
    settle(&mut sim, &mut store);
    let mut sim = restart(&o, &store);
    sim.open_mode = OpenMode::Refuse;
    sim.start();
    assert!(
        matches!(sim.session.state(), State::Reconnecting(_)),
        "{:?}",
        sim.session.state()
    );
    settle(&mut sim, &mut store);
    assert_eq!(store.count(1), 1, "the message is kept");
    assert!(completions(&sim.all_events()).is_empty());
}

#[test]
fn unfinished_names_the_resumed_messages_in_publish_order() {
    let o = durable(V5).max_inflight(2);
    let mut store = Store::default();
    let mut sim = Sim::connected(o.clone());
    settle(&mut sim, &mut store);
    let a = sim.publish(msg("t", b"a", Q1)).expect("a");
    let b = sim.publish(msg("t", b"b", Q2)).expect("b");
    let c = sim.publish(msg("t", b"c", Q1)).expect("c");
    let d = sim.publish(msg("t", b"d", Q1)).expect("d");
    sim.publish(msg("t", b"q0", QoS::AtMostOnce)).expect("q0");
    settle(&mut sim, &mut store);
    let sent = publishes(&sim.take());
    assert_eq!(
        sent.len(),
        2,
        "the window: a and b in flight, c and d queued"
    );
    // a completes before the crash: not resumed.
    sim.send(&puback(sent[0].packet_id));
    settle(&mut sim, &mut store);
    let live: Vec<PublishId> = sim.session.unfinished().iter().map(|(id, _)| *id).collect();
    assert_eq!(live, [b, c, d], "in flight then queued, by id; QoS 0 never");
    // Crash.
    let sim = restart(&o, &store);
    let resumed: Vec<(PublishId, Vec<u8>)> = sim
        .session
        .unfinished()
        .into_iter()
        .map(|(id, m)| (id, m.payload.clone()))
        .collect();
    assert_eq!(
        resumed,
        [(b, b"b".to_vec()), (c, b"c".to_vec()), (d, b"d".to_vec())],
        "what the store held, with the ids the earlier run gave them"
    );
    assert!(!resumed.iter().any(|(id, _)| *id == a));
}
