//! Stores for wasmqtt's durable session state: [`MemoryStore`] and [`FileStore`], a
//! crash-safe append-only log with checksums, for the native driver and (through
//! `wasi:filesystem`, which `std::fs` is on `wasm32-wasip2`) the WASI component.
//!
//! The session says what to store ([`wasmqtt::session::Session::take_store_ops`]): batches of
//! [`StoreOp`]s on opaque keys and values, each applied **atomically**, synced when the batch
//! asks. [`Store::apply`] does exactly that and [`Store::load`] gives the records back for
//! [`wasmqtt::session::Session::resume`].
//!
//! # The file format
//!
//! One file, `wasmqtt.log`, in the directory given to [`FileStore::open`]: an 8-byte header
//! (`WQSTORE` and a format byte), then one frame per batch:
//!
//! ```text
//! [payload length: u32 LE][CRC-32 of the payload: u32 LE][payload]
//! payload = op*; op = 0x01 [key len u32 LE][key][value len u32 LE][value]   (put)
//!                   | 0x02 [key len u32 LE][key]                              (delete)
//! ```
//!
//! One frame is one batch, so a batch is in the store entirely or not at all. On open the
//! frames are replayed in order; the first frame that is short (a write torn by a crash or a
//! power loss), whose checksum does not match (a flipped bit, a block never written) or that
//! does not decode ends the log: it and everything after it are cut off (the file is truncated
//! there and synced), and [`FileStore::recovered_bytes`] says how much was dropped. A torn tail
//! is only ever the last batch, which was never reported stored, so nothing admitted is lost;
//! a corrupt frame in the middle (a disk fault) loses the batches after it too, which is the
//! most a checksummed log without redundancy can do.
//!
//! **Compaction.** Deletions and replaced values stay in the log until it is rewritten: when
//! the file exceeds twice the live records plus 1 MiB ([`COMPACT_SLACK`]), the live records are
//! written to `wasmqtt.log.tmp` as one frame, that file is synced, renamed over the log, and the
//! directory is synced (so the rename survives a power loss). A crash at any point leaves
//! either the old log or the new one, both complete.
//!
//! # Why a log of our own and not an embedded database
//!
//! - **Durability**: the two guarantees the session needs (a batch is atomic; a synced batch
//!   survives a power loss) are exactly one checksummed frame and one `fsync`
//!   (`sync_data`). An embedded database such as redb (pure Rust, ACID, copy-on-write B-trees)
//!   gives the same guarantees with a commit that writes and syncs several pages (redb's
//!   default durability makes two syncs per commit); SQLite through rusqlite needs a C
//!   compiler and a wasi-sdk sysroot for wasm32-wasip2.
//! - **Speed**: the session's state is small (the messages in flight and queued) and every
//!   change is a write of a few hundred bytes at the end of one file, the cheapest thing a
//!   file system does; reads happen once, at start. A B-tree rewrites pages per commit.
//! - **Size**: this crate is a few hundred lines plus `crc32fast` (a few kB of code); the
//!   provider component's goal is 250 kB. redb is a large crate (tens of thousands of lines:
//!   B-trees, a page allocator, a cache, savepoints), which on a size-optimised wasm build adds
//!   in the order of a few hundred kB, more than the whole budget.
//! - **wasm32-wasip2**: only `std::fs` (open, append, `set_len`, `sync_data`, rename) is used,
//!   all of which `wasi:filesystem` provides in a directory the host pre-opens; redb needs file
//!   locking and positioned I/O, which wasi-libc provides only partly.
//!
//! What the log does not do: concurrent access by two processes (one client owns its
//! directory), and encryption.

#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod file;
mod frame;
mod memory;

pub use error::StoreError;
pub use file::{FileStore, COMPACT_SLACK, LOG_FILE};
pub use memory::MemoryStore;
pub use wasmqtt::session::{StoreBatch, StoreOp};

/// The live records: key and value, in key order.
pub type Records = Vec<(Vec<u8>, Vec<u8>)>;

/// A store the driver applies the session's batches to.
pub trait Store: std::fmt::Debug + Send {
    /// Every live record, for [`wasmqtt::session::Session::resume`].
    fn load(&self) -> Records;

    /// Applies `ops` as one atomic batch, then, if `sync`, makes everything applied so far
    /// durable (survives a power loss) before returning.
    fn apply(&mut self, ops: &[StoreOp], sync: bool) -> Result<(), StoreError>;
}
