//! [`MemoryStore`]: the records in memory (nothing survives the process).

use crate::{Records, Store, StoreError, StoreOp};
use std::collections::BTreeMap;

/// The records in a map: what the session keeps anyway, for tests and benchmarks of the
/// durable path without a file system. Nothing survives the process.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    records: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many records are live.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether no record is live.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

/// Applies `ops` to `map` in order.
pub(crate) fn apply_to(map: &mut BTreeMap<Vec<u8>, Vec<u8>>, ops: &[StoreOp]) {
    for op in ops {
        match op {
            StoreOp::Put { key, value } => {
                map.insert(key.clone(), value.clone());
            }
            StoreOp::Delete { key } => {
                map.remove(key);
            }
        }
    }
}

impl Store for MemoryStore {
    fn load(&self) -> Records {
        self.records
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    fn apply(&mut self, ops: &[StoreOp], _sync: bool) -> Result<(), StoreError> {
        apply_to(&mut self.records, ops);
        Ok(())
    }
}
