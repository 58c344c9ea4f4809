//! Durable session state: the store operations the session emits, the admission rule (nothing
//! that depends on a change leaves before it is stored), the sync policies, and the records a
//! store holds. Resuming from them after a crash: `durable_resume.rs`.

use crate::common::*;
use std::collections::BTreeMap;
use wasmqtt::session::{StoreBatch, StoreOp, SyncPolicy};

/// A synchronous in-memory store, as a file store would behave (every batch applied whole).
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    pub(crate) map: BTreeMap<Vec<u8>, Vec<u8>>,
    pub(crate) batches: Vec<StoreBatch>,
}

impl Store {
    pub(crate) fn apply(&mut self, ops: &[StoreOp]) {
        for op in ops {
            match op {
                StoreOp::Put { key, value } => {
                    self.map.insert(key.clone(), value.clone());
                }
                StoreOp::Delete { key } => {
                    self.map.remove(key);
                }
            }
        }
    }

    /// Records of one kind (the key's tag byte: 1 messages, 2 stages, 3 inbound, 4
    /// subscriptions).
    pub(crate) fn count(&self, tag: u8) -> usize {
        self.map.keys().filter(|k| k.first() == Some(&tag)).count()
    }
}

/// The driver's store step: takes one batch, applies it, reports it stored, runs the driver.
/// Whether there was one.
pub(crate) fn store_once(sim: &mut Sim, store: &mut Store) -> bool {
    let mut ops = Vec::new();
    let Some(batch) = sim.session.take_store_ops(&mut ops) else {
        return false;
    };
    store.apply(&ops);
    store.batches.push(batch);
    sim.session.handle_stored(batch.ticket, sim.now);
    sim.run();
    true
}

/// Store steps until the session has nothing more to store.
pub(crate) fn settle(sim: &mut Sim, store: &mut Store) {
    for _ in 0..1000 {
        if !store_once(sim, store) {
            return;
        }
    }
    panic!("the session never stopped emitting store operations");
}

pub(crate) fn durable(version: ProtocolVersion) -> Options {
    opts(version)
        .durable(Some(SyncPolicy::EveryMessage))
        .session_expiry_interval(3600)
}

/// A durable session connected at time 0, its first records stored.
pub(crate) fn connected_durable(o: Options, store: &mut Store) -> Sim {
    let mut sim = Sim::connected(o);
    settle(&mut sim, store);
    sim
}

fn admitted(sim: &mut Sim) -> Vec<PublishId> {
    let mut out = Vec::new();
    sim.session.take_admitted(&mut out);
    out
}

#[test]
fn memory_only_sessions_emit_no_store_operations() {
    let mut sim = Sim::connected(opts(V5));
    assert!(!sim.session.is_durable());
    sim.publish(msg("t", b"x", Q1)).expect("sent");
    assert_eq!(publishes(&sim.take()).len(), 1, "sent at once");
    let mut ops = Vec::new();
    assert_eq!(sim.session.take_store_ops(&mut ops), None);
    assert!(ops.is_empty());
    assert!(!sim.session.has_store_ops());
    assert!(admitted(&mut sim).is_empty());
}

#[test]
fn a_publish_is_transmitted_and_admitted_only_once_its_record_is_stored() {
    for v in VERSIONS {
        let mut store = Store::default();
        let mut sim = connected_durable(durable(v), &mut store);
        let id = sim.publish(msg("t/d", b"kept", Q1)).expect("accepted");
        assert!(
            sim.take().is_empty(),
            "{v:?}: not transmitted before it is stored"
        );
        assert!(admitted(&mut sim).is_empty());
        assert!(sim.session.has_store_ops());
        let mut ops = Vec::new();
        let batch = sim.session.take_store_ops(&mut ops).expect("a batch");
        assert!(batch.sync, "EveryMessage syncs every batch");
        let puts = ops
            .iter()
            .filter(|o| matches!(o, StoreOp::Put { .. }))
            .count();
        assert!(puts >= 2, "{v:?}: the message and its stage: {ops:?}");
        sim.run();
        assert!(sim.take().is_empty(), "{v:?}: taken is not stored");
        store.apply(&ops);
        sim.session.handle_stored(batch.ticket, sim.now);
        sim.run();
        let sent = publishes(&sim.take());
        assert_eq!(sent.len(), 1, "{v:?}");
        assert_eq!(admitted(&mut sim), [id]);
        assert_eq!((store.count(1), store.count(2)), (1, 1));
        // PUBACK: the completion waits until the records' deletion is stored.
        sim.send(&puback(sent[0].packet_id));
        assert!(completions(&sim.take_events()).is_empty(), "{v:?}");
        settle(&mut sim, &mut store);
        assert!(completion_of(&sim.take_events(), id).is_ok());
        assert_eq!((store.count(1), store.count(2)), (0, 0));
    }
}

#[test]
fn what_does_not_depend_on_a_pending_batch_still_goes_out() {
    let mut store = Store::default();
    let mut sim = connected_durable(durable(V5), &mut store);
    sim.publish(msg("t/0", b"before", Q0)).expect("sent");
    sim.publish(msg("t/1", b"held", Q1)).expect("accepted");
    let sent = publishes(&sim.take());
    assert_eq!(
        sent.len(),
        1,
        "the QoS 0 message written before the record: {sent:?}"
    );
    assert_eq!(sent[0].payload, b"before");
    settle(&mut sim, &mut store);
    assert_eq!(publishes(&sim.take())[0].payload, b"held");
}

#[test]
fn an_asynchronous_store_lets_the_session_run_meanwhile() {
    // The driver takes a batch and reports it later (IndexedDB): publishes accepted meanwhile
    // go in the next batch; reporting the first releases only what depended on it.
    let mut store = Store::default();
    let mut sim = connected_durable(durable(V5), &mut store);
    let a = sim.publish(msg("t", b"a", Q1)).expect("accepted");
    let mut first = Vec::new();
    let t1 = sim.session.take_store_ops(&mut first).expect("batch 1");
    let b = sim.publish(msg("t", b"b", Q1)).expect("accepted");
    let mut second = Vec::new();
    let t2 = sim.session.take_store_ops(&mut second).expect("batch 2");
    assert!(t2.ticket > t1.ticket);
    store.apply(&first);
    sim.session.handle_stored(t1.ticket, sim.now);
    sim.run();
    let sent = publishes(&sim.take());
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].payload, b"a");
    assert_eq!(admitted(&mut sim), [a]);
    store.apply(&second);
    sim.session.handle_stored(t2.ticket, sim.now);
    sim.run();
    assert_eq!(publishes(&sim.take())[0].payload, b"b");
    assert_eq!(admitted(&mut sim), [b]);
}

#[test]
fn pubrel_waits_for_the_record_of_its_pubrec() {
    let mut store = Store::default();
    let mut sim = connected_durable(durable(V5), &mut store);
    let id = sim.publish(msg("t", b"q2", Q2)).expect("accepted");
    settle(&mut sim, &mut store);
    let pid = publishes(&sim.take())[0].packet_id;
    sim.send(&pubrec(pid));
    assert!(sim.take().is_empty(), "PUBREL before its stage is stored");
    settle(&mut sim, &mut store);
    assert_eq!(
        sim.take(),
        [OPacket::PubRel(OPubResp::new(pid, ReasonCode::SUCCESS))]
    );
    sim.send(&pubcomp(pid));
    settle(&mut sim, &mut store);
    assert!(completion_of(&sim.take_events(), id).is_ok());
    assert!(store.count(1) + store.count(2) == 0);
}

#[test]
fn an_inbound_qos2_identifier_is_stored_before_pubrec_and_the_message_and_deleted_before_pubcomp() {
    let mut store = Store::default();
    let mut sim = connected_durable(durable(V5), &mut store);
    sim.send(&publish("t", b"in", Q2, 9));
    assert!(sim.take().is_empty(), "no PUBREC yet");
    assert!(messages(&sim.take_events()).is_empty(), "not delivered yet");
    settle(&mut sim, &mut store);
    assert_eq!(store.count(3), 1);
    assert_eq!(
        sim.take(),
        [OPacket::PubRec(OPubResp::new(9, ReasonCode::SUCCESS))]
    );
    assert_eq!(messages(&sim.take_events()).len(), 1);
    sim.send(&pubrel(9));
    assert!(
        sim.take().is_empty(),
        "no PUBCOMP before the deletion is stored"
    );
    settle(&mut sim, &mut store);
    assert_eq!(store.count(3), 0);
    assert_eq!(
        sim.take(),
        [OPacket::PubComp(OPubResp::new(9, ReasonCode::SUCCESS))]
    );
}

#[test]
fn subscriptions_and_the_session_record_are_stored() {
    let mut store = Store::default();
    let mut sim = connected_durable(durable(V5), &mut store);
    assert!(store.map.contains_key(&[0u8][..]), "the session record");
    sim.subscribe(&[("a/#", Q1), ("b", Q2)], None);
    let pid = sim.take()[0].subscribe().expect("SUBSCRIBE").packet_id;
    sim.send(&suback(pid, &[ReasonCode(1), ReasonCode(0x80)]));
    settle(&mut sim, &mut store);
    assert_eq!(store.count(4), 1, "only the granted filter");
    let unsub = sim
        .session
        .unsubscribe(vec!["a/#".into()], sim.now)
        .expect("unsubscribe");
    let _ = unsub;
    sim.run();
    let OPacket::Unsubscribe(u) = &sim.take()[0] else {
        panic!("UNSUBSCRIBE expected")
    };
    sim.send(&unsuback(u.packet_id, &[ReasonCode::SUCCESS]));
    settle(&mut sim, &mut store);
    assert_eq!(store.count(4), 0);
}

#[test]
fn batched_sync_asks_for_a_sync_at_the_message_bound() {
    let policy = SyncPolicy::Batched {
        max_messages: 3,
        max_delay_ms: 60_000,
    };
    let mut store = Store::default();
    let mut sim = Sim::connected(durable(V5).durable(Some(policy)));
    settle(&mut sim, &mut store);
    store.batches.clear();
    for i in 0..3u8 {
        sim.publish(msg("t", &[i], Q1)).expect("accepted");
        settle(&mut sim, &mut store);
        // Admitted (and sent) once applied, synced or not.
        assert_eq!(publishes(&sim.take()).len(), 1);
    }
    let syncs: Vec<bool> = store.batches.iter().map(|b| b.sync).collect();
    assert_eq!(syncs, [false, false, true]);
}

#[test]
fn batched_sync_asks_for_a_sync_at_the_deadline() {
    let policy = SyncPolicy::Batched {
        max_messages: 100,
        max_delay_ms: 500,
    };
    let mut store = Store::default();
    let mut sim = Sim::connected(durable(V5).durable(Some(policy)).keep_alive(0));
    settle(&mut sim, &mut store);
    store.batches.clear();
    sim.advance(100);
    sim.publish(msg("t", b"a", Q1)).expect("accepted");
    settle(&mut sim, &mut store);
    assert!(!store.batches[0].sync);
    assert_eq!(sim.session.poll_timeout(), Some(600), "the sync deadline");
    sim.advance(499);
    assert!(!sim.session.has_store_ops());
    sim.advance(1);
    assert!(sim.session.has_store_ops(), "a sync is due");
    let mut ops = Vec::new();
    let batch = sim.session.take_store_ops(&mut ops).expect("a sync");
    assert!(batch.sync && ops.is_empty(), "{batch:?} {ops:?}");
    sim.session.handle_stored(batch.ticket, sim.now);
    assert_eq!(sim.session.poll_timeout(), None);
}

#[test]
fn a_queued_message_is_stored_before_it_is_admitted_offline_too() {
    let mut store = Store::default();
    let mut sim = Sim::new(durable(V5));
    sim.open_mode = OpenMode::Hold;
    sim.start();
    let id = sim.publish(msg("t", b"offline", Q2)).expect("queued");
    settle(&mut sim, &mut store);
    assert_eq!(admitted(&mut sim), [id]);
    assert_eq!((store.count(1), store.count(2)), (1, 0), "queued: no stage");
    sim.complete_open();
    sim.take();
    sim.send(&connack(false));
    assert!(publishes(&sim.take()).is_empty(), "its stage first");
    settle(&mut sim, &mut store);
    assert_eq!(publishes(&sim.take()).len(), 1);
    assert_eq!(store.count(2), 1);
}

#[test]
fn a_closed_session_deletes_the_messages_it_failed() {
    let mut store = Store::default();
    let mut sim = connected_durable(durable(V5), &mut store);
    let id = sim.publish(msg("t", b"x", Q1)).expect("accepted");
    settle(&mut sim, &mut store);
    sim.take();
    sim.disconnect();
    let sent = sim.take();
    assert!(
        matches!(sent.last(), Some(OPacket::Disconnect(_))),
        "DISCONNECT does not wait for the store: {sent:?}"
    );
    settle(&mut sim, &mut store);
    assert_eq!(
        completion_of(&sim.take_events(), id),
        Err(PublishError::SessionClosed)
    );
    assert_eq!(store.count(1) + store.count(2), 0);
}
