//! [`StoreError`].

use std::path::PathBuf;
use thiserror::Error;

/// Why a store could not be opened or could not apply a batch.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed (`op` says which, `path` on what).
    #[error("store {op} {}: {source}", path.display())]
    Io {
        /// What was being done: `open`, `read`, `write`, `sync`, `truncate`, `rename`.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a wasmqtt store log (wrong header), or one of a format this version
    /// does not read.
    #[error("{} is not a wasmqtt store log of format {format}", path.display())]
    NotALog {
        /// The file.
        path: PathBuf,
        /// The format this version reads.
        format: u8,
    },
    /// A batch too large for one frame (more than 4 GiB).
    #[error("a batch of {0} bytes does not fit in one frame")]
    BatchTooLarge(usize),
    /// An earlier write failed part way: the store must be opened again (which cuts the torn
    /// frame off) before it takes more batches.
    #[error("the store failed earlier and must be opened again")]
    Poisoned,
}

impl StoreError {
    /// A stable, machine-readable code: `STORE_IO`, `STORE_NOT_A_LOG`, `STORE_BATCH_TOO_LARGE`
    /// or `STORE_POISONED`.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::Io { .. } => "STORE_IO",
            StoreError::NotALog { .. } => "STORE_NOT_A_LOG",
            StoreError::BatchTooLarge(_) => "STORE_BATCH_TOO_LARGE",
            StoreError::Poisoned => "STORE_POISONED",
        }
    }
}
