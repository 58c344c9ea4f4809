//! Durable session state, sans-I/O: the session says what to store, the driver stores it.
//!
//! With [`Options::durable`](super::Options::durable) on, every change of the session's
//! durable state (QoS 1/2 messages accepted and not completed, with their stage and packet
//! identifier; inbound QoS 2 packet identifiers awaiting PUBREL; the subscriptions to renew;
//! the client identifier, session expiry and counters) becomes a [`StoreOp`] on opaque keys
//! and values the core encodes and decodes itself (see `record.rs`). The driver takes them in
//! batches ([`Session::take_store_ops`]), applies each batch **atomically** (one transaction,
//! one checksummed log frame), syncs it when the [`StoreBatch`] says so, and reports it back
//! ([`Session::handle_stored`]). After a crash, [`Session::resume`] rebuilds the session from
//! what the store holds.
//!
//! **Why operations out rather than a store trait.** A synchronous trait object called from
//! inside the session would block the state machine on I/O and cannot be implemented over an
//! asynchronous store (IndexedDB answers in a later task); an async trait would tie the core to
//! a runtime. Handing out operations keeps the core sans-I/O like the rest of it: a file store
//! (native, WASI) applies a batch and answers at once, IndexedDB answers when its transaction
//! completes, and meanwhile the session keeps running (what does not depend on the batch is
//! still transmitted). Batching comes for free: everything recorded until the driver asks is
//! one batch (group commit), and repeated changes of one key within it coalesce.
//!
//! **The admission rule.** Nothing that depends on a change leaves the session before the
//! change is stored: the bytes written after a recorded change (a PUBLISH after its record, a
//! PUBREL after the record of its PUBREC, a PUBREC after the record of the inbound packet
//! identifier, a PUBCOMP after its deletion) are held back from [`Output::Transmit`], and the
//! events pushed after it (a received QoS 2 message, a completion) from [`Output::Event`],
//! until the batch holding it is reported stored. A crash before that loses nothing the broker
//! or the application saw. A QoS 1/2 publish is *admitted* once its record is stored:
//! [`Session::take_admitted`] names those publishes, in order, so a driver can resolve its
//! "admitted" promises; [`Event::PublishComplete`] still follows as before (and
//! [`Completions`](super::Completions) works unchanged). QoS 0 messages are not stored.
//!
//! **Sync policies** (what a power loss can lose; a process crash loses nothing admitted with
//! either, because the operating system keeps what was written):
//! - [`SyncPolicy::EveryMessage`]: every batch is synced before it is reported stored, so an
//!   admitted message survives a power loss. Costs one sync per batch (per message when
//!   publishes come one at a time).
//! - [`SyncPolicy::Batched`]: batches are applied (written) and reported at once, and the
//!   session asks for a sync ([`StoreBatch::sync`]) with the batch that brings the unsynced
//!   records to `max_messages`, or once `max_delay_ms` passed since the first unsynced change
//!   (a deadline of [`Session::poll_timeout`]). A power loss can lose the admitted messages of
//!   that window, fewer than `max_messages` and none older than `max_delay_ms` (they were
//!   possibly sent, possibly not), and the other changes of that window: an inbound QoS 2
//!   identifier (that message may be delivered again), a completion (that message may be sent
//!   again, a duplicate at QoS 1 or 2).

use super::outbound::Stage;
use super::record::{self, Key};
use super::{Message, PublishId, Session};
use crate::codec::SubscriptionOptions;
use alloc::boxed::Box;
use alloc::collections::{BTreeMap, VecDeque};
use alloc::vec::Vec;

/// When the driver must make what it stored durable (sync, fsync, a strict IndexedDB
/// transaction). See [durable session state](super#durable-session-state) for what each
/// policy can lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPolicy {
    /// Sync every batch before reporting it stored: nothing admitted is lost on power loss.
    EveryMessage,
    /// Sync with the batch that brings the unsynced records (messages, inbound QoS 2
    /// identifiers) to `max_messages`, or `max_delay_ms` after the first unsynced change,
    /// whichever comes first: fewer than `max_messages` admitted messages, none older than
    /// `max_delay_ms`, are ever unsynced.
    Batched {
        /// Unsynced records that make the batch reaching them sync (1: every batch).
        max_messages: usize,
        /// Most milliseconds a change may stay unsynced.
        max_delay_ms: u64,
    },
}

/// One change of the store: opaque bytes the session encodes and decodes itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Set `key` to `value` (insert or replace).
    Put {
        /// The record's key.
        key: Vec<u8>,
        /// The record.
        value: Vec<u8>,
    },
    /// Remove `key` (absent already: nothing to do).
    Delete {
        /// The record's key.
        key: Vec<u8>,
    },
}

impl StoreOp {
    /// The key this operation changes.
    pub fn key(&self) -> &[u8] {
        match self {
            StoreOp::Put { key, .. } | StoreOp::Delete { key } => key,
        }
    }
}

/// Names one batch of store operations, for [`Session::handle_stored`]. Tickets grow by one
/// per batch; reporting a ticket reports every batch before it stored too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreTicket(pub u64);

/// What [`Session::take_store_ops`] asks the driver to do with the operations it appended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreBatch {
    /// Report this ticket to [`Session::handle_stored`] once the batch is applied (and synced).
    pub ticket: StoreTicket,
    /// Sync the store (everything applied so far) before reporting the batch stored. A batch
    /// may hold no operation and only ask for a sync (the [`SyncPolicy::Batched`] deadline).
    pub sync: bool,
}

/// Positions (byte offsets into the write buffer, or event counts) from which output waits
/// for a batch, in order.
#[derive(Debug, Default)]
pub(super) struct Holds(VecDeque<(u64, u64)>);

impl Holds {
    /// Output from `pos` on waits for batch `ticket` (and for every earlier hold).
    fn hold(&mut self, pos: u64, ticket: u64) {
        for h in self.0.iter_mut() {
            h.0 = h.0.min(pos);
        }
        if self.0.back().is_none_or(|h| h.1 != ticket) {
            self.0.push_back((pos, ticket));
        }
    }

    fn release(&mut self, stored: u64) {
        while self.0.front().is_some_and(|h| h.1 <= stored) {
            self.0.pop_front();
        }
    }

    /// Where held output starts, if anything is held.
    fn limit(&self) -> Option<u64> {
        self.0.front().map(|h| h.0)
    }

    /// `n` bytes were taken from the front of the buffer.
    fn shift(&mut self, n: u64) {
        for h in self.0.iter_mut() {
            h.0 = h.0.saturating_sub(n);
        }
    }

    /// The buffer was emptied: everything written from now on waits.
    fn reset(&mut self) {
        for h in self.0.iter_mut() {
            h.0 = 0;
        }
    }
}

/// Where the session keeps its [`Durable`] state: `None` without
/// [`Options::durable`](super::Options::durable). In a build without the `durable` feature it is
/// always `None`, and the compiler sees that: the recording code is left out of the build
/// (about 8 KB of a component). Such a build refuses the option in `Options::validate`
/// ([`DurableNotBuilt`](super::OptionsError::DurableNotBuilt)).
#[derive(Debug)]
pub(super) struct Slot(Option<Box<Durable>>);

impl Slot {
    const BUILT: bool = cfg!(feature = "durable");

    pub(super) fn new(policy: Option<SyncPolicy>) -> Slot {
        Slot(
            policy
                .filter(|_| Self::BUILT)
                .map(|p| Box::new(Durable::new(p))),
        )
    }

    #[inline(always)]
    pub(super) fn as_deref(&self) -> Option<&Durable> {
        self.0.as_deref().filter(|_| Self::BUILT)
    }

    #[inline(always)]
    pub(super) fn as_deref_mut(&mut self) -> Option<&mut Durable> {
        self.0.as_deref_mut().filter(|_| Self::BUILT)
    }

    #[inline(always)]
    pub(super) fn is_some(&self) -> bool {
        self.as_deref().is_some()
    }

    #[inline(always)]
    pub(super) fn is_none(&self) -> bool {
        !self.is_some()
    }
}

/// The session's side of durable state (present only with [`Options::durable`](super::Options)).
#[derive(Debug)]
pub(super) struct Durable {
    policy: SyncPolicy,
    /// Operations of the next batch, coalesced by key (`None`: delete).
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    /// The last ticket handed out, and the last reported stored.
    taken: u64,
    stored: u64,
    /// Records written since the last sync, and when the first change since then was made.
    unsynced: usize,
    unsynced_since: Option<u64>,
    sync_due: bool,
    /// Publishes recorded and not yet stored, with the batch they are in.
    unadmitted: VecDeque<(u64, PublishId)>,
    admitted: Vec<PublishId>,
    tx_holds: Holds,
    event_holds: Holds,
    /// Events handed out so far (positions of `event_holds` count from the first).
    pub(super) events_popped: u64,
    /// The session record last put.
    meta: Option<Vec<u8>>,
}

impl Durable {
    pub(super) fn new(policy: SyncPolicy) -> Self {
        Durable {
            policy,
            pending: BTreeMap::new(),
            taken: 0,
            stored: 0,
            unsynced: 0,
            unsynced_since: None,
            sync_due: false,
            unadmitted: VecDeque::new(),
            admitted: Vec::new(),
            tx_holds: Holds::default(),
            event_holds: Holds::default(),
            events_popped: 0,
            meta: None,
        }
    }

    /// The session record as it was read back on resume: not put again unless it changes.
    #[cfg_attr(not(feature = "durable"), allow(dead_code))] // only `Session::resume` calls it
    pub(super) fn set_meta(&mut self, meta: Vec<u8>) {
        self.meta = Some(meta);
    }
}

impl Session {
    /// Appends the store operations of the next batch to `out` and names the batch: the driver
    /// applies it atomically (syncing first when [`StoreBatch::sync`] says so) and then calls
    /// [`Session::handle_stored`] with its ticket, at once (a file store) or later (an
    /// asynchronous one: the session keeps running meanwhile). `None`: nothing to store now.
    ///
    /// Call it after every `poll_output` drain that ended in `Wait` (and after
    /// `handle_timeout`): output that depends on a change waits until its batch is stored.
    /// Always `None` without [`Options::durable`](super::Options::durable).
    pub fn take_store_ops(&mut self, out: &mut Vec<StoreOp>) -> Option<StoreBatch> {
        let meta = self.durable.is_some().then(|| record::meta_value(self));
        let d = self.durable.as_deref_mut()?;
        if let Some(meta) = meta {
            if d.meta.as_ref() != Some(&meta) {
                d.pending.insert(Key::Meta.encode(), Some(meta.clone()));
                d.meta = Some(meta);
            }
        }
        if d.pending.is_empty() && !d.sync_due {
            return None;
        }
        d.taken += 1;
        out.extend(
            core::mem::take(&mut d.pending)
                .into_iter()
                .map(|(key, value)| match value {
                    Some(value) => StoreOp::Put { key, value },
                    None => StoreOp::Delete { key },
                }),
        );
        let sync = match d.policy {
            SyncPolicy::EveryMessage => true,
            SyncPolicy::Batched { max_messages, .. } => {
                d.sync_due || d.unsynced >= max_messages.max(1)
            }
        };
        if sync {
            d.sync_due = false;
            d.unsynced = 0;
            d.unsynced_since = None;
        }
        Some(StoreBatch {
            ticket: StoreTicket(d.taken),
            sync,
        })
    }

    /// Whether [`Session::take_store_ops`] has a batch to hand out (changes recorded, or a
    /// sync due).
    pub fn has_store_ops(&self) -> bool {
        self.durable.as_deref().is_some_and(|d| {
            !d.pending.is_empty()
                || d.sync_due
                || d.meta.as_deref() != Some(record::meta_value(self).as_slice())
        })
    }

    /// The driver applied (and, if asked, synced) every batch up to `ticket`: what waited for
    /// them is released (publishes admitted, held bytes and events handed out by the next
    /// `poll_output` drain).
    pub fn handle_stored(&mut self, ticket: StoreTicket, now: u64) {
        self.observe(now);
        let Some(d) = self.durable.as_deref_mut() else {
            return;
        };
        d.stored = d.stored.max(ticket.0.min(d.taken));
        let stored = d.stored;
        d.tx_holds.release(stored);
        d.event_holds.release(stored);
        while let Some(&(t, id)) = d.unadmitted.front() {
            if t > stored {
                break;
            }
            d.unadmitted.pop_front();
            d.admitted.push(id);
        }
    }

    /// Appends the publishes admitted since the last call (their record is stored), in the
    /// order they were published. Without durable state nothing is ever recorded: a publish is
    /// admitted when [`Session::publish`] returns.
    pub fn take_admitted(&mut self, out: &mut Vec<PublishId>) {
        if let Some(d) = self.durable.as_deref_mut() {
            out.append(&mut d.admitted);
        }
    }

    /// The QoS 1/2 messages accepted and not completed yet (in flight, then queued), in the
    /// order of their ids. Right after [`Session::resume`] these are the messages resumed from
    /// the store: nobody waits for their completions yet, so a driver registers them (and can
    /// tell the application which messages it need not publish again).
    pub fn unfinished(&self) -> Vec<(PublishId, &Message)> {
        let all: Vec<(PublishId, &Message)> = self
            .inflight
            .values()
            .map(|f| (f.id, &f.msg))
            .chain(self.queue.iter().map(|q| (q.id, &q.msg)))
            .filter(|(_, m)| m.qos != crate::codec::QoS::AtMostOnce)
            .collect();
        crate::vec_map::sorted_by_key(all, |(id, _)| id.0)
    }

    /// Whether durable state is on ([`Options::durable`](super::Options::durable)).
    pub fn is_durable(&self) -> bool {
        self.durable.is_some()
    }

    /// When a [`SyncPolicy::Batched`] sync falls due.
    pub(super) fn store_deadline(&self) -> Option<u64> {
        let d = self.durable.as_deref()?;
        match d.policy {
            SyncPolicy::Batched { max_delay_ms, .. } if !d.sync_due => d
                .unsynced_since
                .map(|since| since.saturating_add(max_delay_ms)),
            _ => None,
        }
    }

    /// Time passed: a batched sync may be due.
    pub(super) fn store_timeout(&mut self, now: u64) {
        if self.store_deadline().is_some_and(|t| now >= t) {
            if let Some(d) = self.durable.as_deref_mut() {
                d.sync_due = true;
            }
        }
    }

    /// How many bytes of the write buffer may be transmitted now.
    pub(super) fn tx_ready(&self) -> usize {
        match self.durable.as_deref().and_then(|d| d.tx_holds.limit()) {
            Some(limit) => self
                .tx
                .len()
                .min(usize::try_from(limit).unwrap_or(usize::MAX)),
            None => self.tx.len(),
        }
    }

    /// Whether the next event may be handed out now.
    pub(super) fn event_ready(&self) -> bool {
        match self.durable.as_deref() {
            Some(d) => d.event_holds.limit().is_none_or(|l| d.events_popped < l),
            None => true,
        }
    }

    /// Takes the first `n` bytes of the write buffer.
    pub(super) fn split_tx(&mut self, n: usize) -> Vec<u8> {
        self.hold_sent();
        let rest = self.tx.split_off(n.min(self.tx.len()));
        if let Some(d) = self.durable.as_deref_mut() {
            d.tx_holds.shift(n as u64);
        }
        core::mem::replace(&mut self.tx, rest)
    }

    /// Empties the write buffer (the connection it was for is gone).
    pub(super) fn clear_tx(&mut self) {
        self.tx.clear();
        self.hold_reset();
        if let Some(d) = self.durable.as_deref_mut() {
            d.tx_holds.reset();
        }
    }

    /// Records a change: output from here on waits until the batch holding it is stored.
    fn record(&mut self, key: Key<'_>, value: Option<Vec<u8>>, counts: bool) {
        let tx_len = self.tx.len() as u64;
        let queued_events = self.events.len() as u64;
        let clock = self.clock.unwrap_or(0);
        let Some(d) = self.durable.as_deref_mut() else {
            return;
        };
        let ticket = d.taken + 1;
        d.tx_holds.hold(tx_len, ticket);
        d.event_holds.hold(d.events_popped + queued_events, ticket);
        d.pending.insert(key.encode(), value);
        if counts {
            d.unsynced += 1;
        }
        d.unsynced_since.get_or_insert(clock);
    }

    /// A QoS 1/2 message was accepted: its record.
    pub(super) fn durable_message(&mut self, id: PublishId, msg: &Message) {
        if self.durable.is_none() {
            return;
        }
        let value = record::message_value(msg);
        self.record(Key::Message(id.0), Some(value), true);
        if let Some(d) = self.durable.as_deref_mut() {
            d.unadmitted.push_back((d.taken + 1, id));
        }
    }

    /// An accepted message was sent (stage and packet identifier) or acknowledged.
    pub(super) fn durable_stage(&mut self, id: PublishId, stage: Stage, pid: u16, seq: u64) {
        if self.durable.is_some() {
            let value = record::stage_value(stage, pid, seq);
            self.record(Key::Stage(id.0), Some(value), false);
        }
    }

    /// An accepted message is queued again, unsent (the requeue rule).
    pub(super) fn durable_unsent(&mut self, id: PublishId) {
        if self.durable.is_some() {
            self.record(Key::Stage(id.0), None, false);
        }
    }

    /// An accepted message completed: its records go.
    pub(super) fn durable_forget(&mut self, id: PublishId) {
        if self.durable.is_none() {
            return;
        }
        self.record(Key::Message(id.0), None, false);
        self.record(Key::Stage(id.0), None, false);
        if let Some(d) = self.durable.as_deref_mut() {
            if let Some(i) = d.unadmitted.iter().position(|(_, u)| *u == id) {
                d.unadmitted.remove(i);
            }
        }
    }

    /// An inbound QoS 2 packet identifier awaits PUBREL (`true`) or no longer does.
    pub(super) fn durable_inbound(&mut self, pid: u16, awaiting: bool) {
        if self.durable.is_some() {
            let value = awaiting.then(record::inbound_value);
            self.record(Key::Inbound(pid), value, awaiting);
        }
    }

    /// A subscription to renew was granted (`Some`) or removed.
    pub(super) fn durable_subscription(
        &mut self,
        filter: &str,
        sub: Option<(SubscriptionOptions, Option<u32>)>,
    ) {
        if self.durable.is_some() {
            let value = sub.map(|(o, sid)| record::subscription_value(o, sid));
            self.record(Key::Subscription(filter), value, false);
        }
    }
}
