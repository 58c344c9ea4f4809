//! Durable session state (feature `durable`): the session's store operations applied to a
//! `wasmqtt-store` [`FileStore`] through `wasi:filesystem` (`std::fs` on wasm32-wasip2, in a
//! directory the host pre-opened).
//!
//! Mirrors the native driver: the session was resumed from the store's records
//! ([`Session::resume`]); after every drain the driver takes the next batch
//! ([`Session::take_store_ops`]), applies it (synced when the batch asks, as the
//! [`SyncPolicy`] says) and reports it ([`Session::handle_stored`]), which releases the output
//! held behind it. WASI 0.2 calls are synchronous, so a batch is applied inline: a publish is
//! admitted when [`Client::store_now`] returns. A store that fails stops storing: nothing more
//! is admitted (the error is kept, [`Client::store_error`]), and the store, opened again, holds
//! everything that was admitted.

use crate::{Client, ClientError};
use alloc::vec::Vec;
use std::path::Path;
use wasmqtt::session::{Message, PublishId, Session, StoreOp, SyncPolicy};
use wasmqtt_store::{FileStore, StoreError};

/// The store of a durable client and what it works with.
pub(crate) struct Durable {
    store: FileStore,
    ops: Vec<StoreOp>,
    admitted: Vec<PublishId>,
    failed: Option<StoreError>,
    /// The messages the session resumed with (see [`Client::resumed`]).
    resumed: Vec<(PublishId, Message)>,
}

impl Durable {
    /// Applies every batch the session has, reporting each stored; false when there was none
    /// (or the store failed).
    pub(crate) fn apply(&mut self, session: &mut Session, now: u64) -> bool {
        if self.failed.is_some() {
            return false;
        }
        let Some(batch) = session.take_store_ops(&mut self.ops) else {
            return false;
        };
        let result = self.store.apply(&self.ops, batch.sync);
        self.ops.clear();
        match result {
            Ok(()) => {
                session.handle_stored(batch.ticket, now);
                session.take_admitted(&mut self.admitted);
                // A file store answers at once: `publish` knows its message is admitted when
                // `store_now` returns, so the list is not kept.
                self.admitted.clear();
                true
            }
            Err(e) => {
                log::error!("the session store failed: {e}");
                self.failed = Some(e);
                false
            }
        }
    }
}

impl Client {
    /// Keeps the session's durable state in a [`FileStore`] in `dir` (created if needed; one
    /// client per directory) with `policy` (unless [`Options::durable`] sets one), and resumes
    /// the session the store holds, if any ([`Session::resume`]: clean start 0, its client
    /// identifier, subscriptions, inbound QoS 2 identifiers, the messages not completed; see
    /// [`Client::resumed`]). Call it before [`Client::connect`].
    ///
    /// From then on a QoS 1/2 publish is admitted once its record is in the store: call
    /// [`Client::store_now`] after [`Session::publish`]. Fails with [`ClientError::Store`]
    /// (the directory cannot be created, read or written; not a store) or
    /// [`ClientError::Resume`] (records this version cannot resume from).
    ///
    /// [`Options::durable`]: wasmqtt::session::Options::durable
    pub fn durable(
        mut self,
        dir: impl AsRef<Path>,
        policy: SyncPolicy,
    ) -> Result<Self, ClientError> {
        let store = FileStore::open(dir)?;
        let mut options = self.options.clone();
        options.durable = Some(options.durable.unwrap_or(policy));
        self.session = Session::resume(options, store.load())?;
        let resumed = self
            .session
            .unfinished()
            .into_iter()
            .map(|(id, m)| (id, m.clone()))
            .collect();
        self.durable = Some(Durable {
            store,
            ops: Vec::new(),
            admitted: Vec::new(),
            failed: None,
            resumed,
        });
        Ok(self)
    }

    /// Applies what the session has for the store now (every batch, synced as the policy
    /// says): after [`Session::publish`] of a QoS 1/2 message, the message is admitted (a crash
    /// from now on does not lose it) once this returns `Ok`. Nothing to do without a store.
    pub fn store_now(&mut self) -> Result<(), &StoreError> {
        let now = self.now_ms();
        if let Some(d) = self.durable.as_mut() {
            while d.apply(&mut self.session, now) {}
            if let Some(e) = &d.failed {
                return Err(e);
            }
        }
        Ok(())
    }

    /// Why the store failed, if it did (nothing has been admitted since).
    pub fn store_error(&self) -> Option<&StoreError> {
        self.durable.as_ref().and_then(|d| d.failed.as_ref())
    }

    /// The messages [`Client::durable`] resumed (admitted by an earlier run and not completed),
    /// with their handles, in sending order; empty without a store.
    pub fn resumed(&self) -> &[(PublishId, Message)] {
        self.durable.as_ref().map_or(&[], |d| &d.resumed)
    }
}
