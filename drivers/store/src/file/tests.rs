//! The log's recovery: reopen, torn tail, bit flip, compaction.

use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

fn temp_dir() -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let d = std::env::temp_dir().join(format!(
        "wasmqtt-store-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = fs::remove_dir_all(&d);
    d
}

fn put(k: &str, v: &str) -> StoreOp {
    StoreOp::Put {
        key: k.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    }
}

fn del(k: &str) -> StoreOp {
    StoreOp::Delete {
        key: k.as_bytes().to_vec(),
    }
}

fn strings(r: Records) -> Vec<(String, String)> {
    r.into_iter()
        .map(|(k, v)| (String::from_utf8(k).unwrap(), String::from_utf8(v).unwrap()))
        .collect()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn reopen_replays_every_batch() {
    let dir = temp_dir();
    let mut s = FileStore::open(&dir).unwrap();
    assert!(s.load().is_empty());
    s.apply(&[put("a", "1"), put("b", "2")], true).unwrap();
    s.apply(&[del("a"), put("c", "3"), put("b", "22")], false)
        .unwrap();
    s.apply(&[], true).unwrap();
    drop(s);
    let s = FileStore::open(&dir).unwrap();
    assert_eq!(strings(s.load()), pairs(&[("b", "22"), ("c", "3")]));
    assert_eq!(s.recovered_bytes(), 0);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_torn_tail_is_cut_off_and_the_log_goes_on() {
    let dir = temp_dir();
    let mut s = FileStore::open(&dir).unwrap();
    s.apply(&[put("a", "1")], true).unwrap();
    let good = s.log_len();
    s.apply(&[put("b", "2"), del("a")], true).unwrap();
    let full = s.log_len();
    drop(s);
    // Every cut inside the second frame loses exactly that batch, never half of it.
    for cut in good..full {
        let f = OpenOptions::new()
            .write(true)
            .open(dir.join(LOG_FILE))
            .unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let mut s = FileStore::open(&dir).unwrap();
        assert_eq!(strings(s.load()), pairs(&[("a", "1")]), "cut at {cut}");
        assert_eq!(s.recovered_bytes(), cut - good);
        assert_eq!(s.log_len(), good);
        // Appending after the cut: the new frame is read back.
        s.apply(&[put("b", "2"), del("a")], true).unwrap();
        drop(s);
        let s = FileStore::open(&dir).unwrap();
        assert_eq!(strings(s.load()), pairs(&[("b", "2")]));
        assert_eq!(s.log_len(), full);
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_flipped_bit_ends_the_log_at_that_frame() {
    let dir = temp_dir();
    let mut s = FileStore::open(&dir).unwrap();
    s.apply(&[put("a", "1")], true).unwrap();
    let good = s.log_len();
    s.apply(&[put("b", "2")], true).unwrap();
    let full = s.log_len();
    drop(s);
    let path = dir.join(LOG_FILE);
    let clean = fs::read(&path).unwrap();
    for byte in good..full {
        for bit in [0, 3, 7] {
            let mut bytes = clean.clone();
            bytes[byte as usize] ^= 1 << bit;
            fs::write(&path, &bytes).unwrap();
            let s = FileStore::open(&dir).unwrap();
            assert_eq!(
                strings(s.load()),
                pairs(&[("a", "1")]),
                "byte {byte} bit {bit}"
            );
            assert_eq!(s.log_len(), good);
        }
    }
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_foreign_file_is_refused() {
    let dir = temp_dir();
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(LOG_FILE), b"not a log at all").unwrap();
    let e = FileStore::open(&dir).unwrap_err();
    assert_eq!(e.code(), "STORE_NOT_A_LOG", "{e}");
    // A header torn by a crash right after creation is a new log.
    fs::write(dir.join(LOG_FILE), &MAGIC[..3]).unwrap();
    let s = FileStore::open(&dir).unwrap();
    assert!(s.load().is_empty());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn compaction_keeps_the_live_records_and_bounds_the_log() {
    let dir = temp_dir();
    let mut s = FileStore::open(&dir).unwrap();
    s.apply(&[put("keep", "forever")], true).unwrap();
    let value = "x".repeat(1000);
    // 5 MiB of records put and deleted: the log must not keep them.
    for i in 0..5_000 {
        let k = format!("m{i}");
        s.apply(&[put(&k, &value)], false).unwrap();
        s.apply(&[del(&k)], false).unwrap();
    }
    assert!(s.compactions() >= 2, "{} compactions", s.compactions());
    assert!(
        s.log_len() <= 2 * COMPACT_SLACK,
        "log of {} bytes",
        s.log_len()
    );
    s.apply(&[put("last", "1")], true).unwrap();
    drop(s);
    assert!(!dir.join(TMP_FILE).exists());
    let s = FileStore::open(&dir).unwrap();
    assert_eq!(
        strings(s.load()),
        pairs(&[("keep", "forever"), ("last", "1")])
    );
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn an_interrupted_compaction_leaves_the_old_log() {
    let dir = temp_dir();
    let mut s = FileStore::open(&dir).unwrap();
    s.apply(&[put("a", "1")], true).unwrap();
    drop(s);
    // A crash before the rename: a partial copy beside the complete log.
    fs::write(dir.join(TMP_FILE), b"WQSTORE\x01garbage").unwrap();
    let s = FileStore::open(&dir).unwrap();
    assert_eq!(strings(s.load()), pairs(&[("a", "1")]));
    assert!(!dir.join(TMP_FILE).exists());
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn memory_store_applies_in_order() {
    use crate::{MemoryStore, Store};
    let mut m = MemoryStore::new();
    m.apply(
        &[put("a", "1"), put("a", "2"), put("b", "3"), del("b")],
        false,
    )
    .unwrap();
    assert_eq!(strings(m.load()), pairs(&[("a", "2")]));
}
