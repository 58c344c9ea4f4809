//! [`FileStore`]: the crash-safe log (see the crate docs for its format and compaction).

use crate::frame::{self, OpRef};
use crate::memory::apply_to;
use crate::{Records, Store, StoreError, StoreOp};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The log's file name in the store's directory.
pub const LOG_FILE: &str = "wasmqtt.log";
/// The compaction rewrites the log once it exceeds twice the live records plus this.
pub const COMPACT_SLACK: u64 = 1 << 20;
const TMP_FILE: &str = "wasmqtt.log.tmp";
const FORMAT: u8 = 1;
const MAGIC: [u8; 8] = *b"WQSTORE\x01";

/// A durable store: one append-only log of checksummed frames, one per batch, in a directory
/// of its own. See the [crate docs](crate) for the format, recovery and compaction.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    path: PathBuf,
    file: File,
    records: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The log's length, and what its live records would take in a fresh log.
    log_len: u64,
    live_len: u64,
    recovered: u64,
    compactions: u64,
    poisoned: bool,
    buf: Vec<u8>,
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// What a record takes in a frame.
fn record_len(key: &[u8], value: &[u8]) -> u64 {
    (9 + key.len() + value.len()) as u64
}

impl FileStore {
    /// Opens (creating it, and `dir`, if needed) the store in `dir`: replays the log, cuts off
    /// a torn or corrupt tail, and finishes or discards an interrupted compaction.
    pub fn open(dir: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let dir = dir.as_ref().to_path_buf();
        fs::create_dir_all(&dir).map_err(io("open", &dir))?;
        // A compaction that did not reach its rename: the old log is complete, the copy not.
        let tmp = dir.join(TMP_FILE);
        if tmp.exists() {
            fs::remove_file(&tmp).map_err(io("remove", &tmp))?;
        }
        let path = dir.join(LOG_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io("open", &path))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io("read", &path))?;
        let mut records = BTreeMap::new();
        let mut end = MAGIC.len();
        if bytes.len() < MAGIC.len() {
            // New, or torn before its header was complete (nothing was ever stored in it).
            if !MAGIC.starts_with(&bytes) {
                return Err(StoreError::NotALog {
                    path,
                    format: FORMAT,
                });
            }
            bytes.clear();
        } else {
            if bytes[..MAGIC.len()] != MAGIC {
                return Err(StoreError::NotALog {
                    path,
                    format: FORMAT,
                });
            }
            while let Some((ops, len)) = frame::decode(&bytes[end..]) {
                for op in ops {
                    match op {
                        OpRef::Put(k, v) => {
                            records.insert(k.to_vec(), v.to_vec());
                        }
                        OpRef::Delete(k) => {
                            records.remove(k);
                        }
                    }
                }
                end += len;
            }
        }
        let recovered = bytes.len().saturating_sub(end) as u64;
        if bytes.is_empty() {
            file.set_len(0).map_err(io("truncate", &path))?;
            write_at_end(&mut file, &MAGIC, &path)?;
            file.sync_all().map_err(io("sync", &path))?;
            sync_dir(&dir)?;
        } else if recovered > 0 {
            file.set_len(end as u64).map_err(io("truncate", &path))?;
            file.sync_all().map_err(io("sync", &path))?;
        }
        let live_len = records.iter().map(|(k, v)| record_len(k, v)).sum();
        let mut store = FileStore {
            dir,
            path,
            file,
            records,
            log_len: end as u64,
            live_len,
            recovered,
            compactions: 0,
            poisoned: false,
            buf: Vec::new(),
        };
        store.seek_end()?;
        Ok(store)
    }

    fn seek_end(&mut self) -> Result<(), StoreError> {
        use std::io::Seek;
        self.file
            .seek(std::io::SeekFrom::Start(self.log_len))
            .map_err(io("seek", &self.path))?;
        Ok(())
    }

    /// The live records (key order).
    pub fn load(&self) -> Records {
        self.records
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// Applies one batch atomically (one frame) and, if `sync`, syncs the log before
    /// returning. A failed write poisons the store ([`StoreError::Poisoned`] from then on):
    /// open it again.
    pub fn apply(&mut self, ops: &[StoreOp], sync: bool) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        if !ops.is_empty() {
            self.buf.clear();
            frame::encode(ops.iter().map(OpRef::from), &mut self.buf)
                .map_err(StoreError::BatchTooLarge)?;
            if let Err(e) = write_at_end(&mut self.file, &self.buf, &self.path) {
                self.poisoned = true;
                return Err(e);
            }
            self.log_len += self.buf.len() as u64;
            for op in ops {
                match op {
                    StoreOp::Put { key, value } => {
                        if let Some(old) = self.records.get(key) {
                            self.live_len -= record_len(key, old);
                        }
                        self.live_len += record_len(key, value);
                    }
                    StoreOp::Delete { key } => {
                        if let Some(old) = self.records.get(key) {
                            self.live_len -= record_len(key, old);
                        }
                    }
                }
                apply_to(&mut self.records, std::slice::from_ref(op));
            }
        }
        if sync {
            if let Err(e) = self.file.sync_data() {
                self.poisoned = true;
                return Err(io("sync", &self.path)(e));
            }
        }
        if self.log_len > 2 * (self.live_len + MAGIC.len() as u64 + 8) + COMPACT_SLACK {
            self.compact()?;
        }
        Ok(())
    }

    /// Rewrites the log with the live records only (see the crate docs). Done by
    /// [`FileStore::apply`] when the log has grown past its bound; callable at any time.
    pub fn compact(&mut self) -> Result<(), StoreError> {
        if self.poisoned {
            return Err(StoreError::Poisoned);
        }
        let tmp = self.dir.join(TMP_FILE);
        self.buf.clear();
        self.buf.extend_from_slice(&MAGIC);
        if !self.records.is_empty() {
            frame::encode(
                self.records.iter().map(|(k, v)| OpRef::Put(k, v)),
                &mut self.buf,
            )
            .map_err(StoreError::BatchTooLarge)?;
        }
        let mut f = File::create(&tmp).map_err(io("open", &tmp))?;
        write_at_end(&mut f, &self.buf, &tmp)?;
        f.sync_all().map_err(io("sync", &tmp))?;
        drop(f);
        fs::rename(&tmp, &self.path).map_err(io("rename", &self.path))?;
        sync_dir(&self.dir)?;
        self.file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.path)
            .map_err(io("open", &self.path))?;
        self.log_len = self.buf.len() as u64;
        self.seek_end()?;
        self.compactions += 1;
        Ok(())
    }

    /// Bytes cut off the log's tail when it was opened (a torn or corrupt last frame).
    pub fn recovered_bytes(&self) -> u64 {
        self.recovered
    }

    /// The log file's length now.
    pub fn log_len(&self) -> u64 {
        self.log_len
    }

    /// How many times the log was compacted since it was opened.
    pub fn compactions(&self) -> u64 {
        self.compactions
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Store for FileStore {
    fn load(&self) -> Records {
        FileStore::load(self)
    }

    fn apply(&mut self, ops: &[StoreOp], sync: bool) -> Result<(), StoreError> {
        FileStore::apply(self, ops, sync)
    }
}

fn write_at_end(file: &mut File, bytes: &[u8], path: &Path) -> Result<(), StoreError> {
    file.write_all(bytes).map_err(io("write", path))
}

/// Syncs a directory (a rename or a new file in it survives a power loss). Where directories
/// cannot be opened as files (some WASI hosts), there is nothing more to do.
fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    match File::open(dir) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            // Linux answers EINVAL / EBADF for file systems that do not sync directories.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
                ) || e.raw_os_error() == Some(9) =>
            {
                Ok(())
            }
            Err(e) => Err(io("sync", dir)(e)),
        },
        Err(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests;
