//! The pieces of the process-kill crash tests (`tests/crash_tokio.rs`,
//! `host-runner/tests/component_crash.rs`): a test binary runs itself as a child
//! (`--exact child_process`), reads the child's report lines (`KIND n`, `DONE`, `READY`) through a
//! thread with a time limit, SIGKILLs it at seeded points and keeps its bookkeeping in files whose
//! lines a kill cannot tear.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// A seed from `CRASH_SEED` or the clock, printed with `what` so a failing run can be replayed.
pub fn seed(what: &str) -> u64 {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    println!("{what}: CRASH_SEED={seed}");
    seed
}

/// `kills` distinct kill points in `1..total`, ascending (xorshift of `seed`).
pub fn kill_points(mut seed: u64, total: u32, kills: usize) -> Vec<u32> {
    let mut points = BTreeSet::new();
    seed |= 1;
    while points.len() < kills {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        points.insert(1 + (seed % u64::from(total - 1)) as u32);
    }
    points.into_iter().collect()
}

/// An empty directory `<temp>/<prefix>-<name>-<pid>` (emptied if it was there).
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A child: this test binary running its test `child_process` with `env`, stdin piped (the
/// child ends when it closes), stdout read by a [`ChildOut`].
pub fn spawn_child(env: &[(&str, String)]) -> (Child, ChildOut) {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "child_process",
        "--nocapture",
        "--test-threads=1",
        "-q",
    ])
    .stdin(Stdio::piped())
    .stdout(Stdio::piped())
    .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn the child");
    let out = ChildOut::new(child.stdout.take().unwrap());
    (child, out)
}

/// A child's stdout, read line by line by a thread: the parent waits for a line with a time
/// limit, so a silent child cannot hang the test.
pub struct ChildOut(mpsc::Receiver<String>);

impl ChildOut {
    fn new(stdout: ChildStdout) -> Self {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            let mut line = String::new();
            while out.read_line(&mut line).unwrap_or(0) > 0 {
                if tx.send(std::mem::take(&mut line)).is_err() {
                    break;
                }
            }
        });
        ChildOut(rx)
    }

    /// Reads the child's reports, handing each (`DONE` and `READY` as `(line, 0)`) to `step`,
    /// until `step` says stop (`Some(true)`), the child ends (`Some(false)`) or `deadline`
    /// passes (`None`).
    pub fn read_until(
        &mut self,
        mut step: impl FnMut(&str, u32) -> bool,
        deadline: Instant,
    ) -> Option<bool> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.0.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => return Some(false),
            };
            let r = match report(&line) {
                Some((kind, n)) => Some((kind, n)),
                None if matches!(line.trim(), "DONE" | "READY") => Some((line.trim(), 0)),
                None => None,
            };
            if let Some((kind, n)) = r {
                if step(kind, n) {
                    return Some(true);
                }
            }
        }
    }
}

/// One report line of a child: (kind, number).
pub fn report(line: &str) -> Option<(&str, u32)> {
    let (kind, n) = line.trim().split_once(' ')?;
    Some((kind, n.parse().ok()?))
}

/// SIGKILLs the child and hands `seen` the reports it wrote before it died (still in the pipe).
pub fn kill(child: &mut Child, out: &mut ChildOut, mut seen: impl FnMut(&str, u32)) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reap");
    for line in out.0.iter() {
        if let Some((kind, n)) = report(&line) {
            seen(kind, n);
        }
    }
}

/// The sequence numbers in a bookkeeping file (a line torn by the kill is ignored).
pub fn read_book(path: &Path) -> BTreeSet<u32> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.parse().ok())
        .collect()
}

/// Appends `n` to a bookkeeping file in one write: whole, or (killed) not at all.
pub fn append(book: &mut std::fs::File, n: u32) {
    book.write_all(format!("{n}\n").as_bytes()).unwrap();
}

/// Writes one report line to stdout and flushes it.
pub fn say(what: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    out.write_fmt(what).unwrap();
    out.write_all(b"\n").unwrap();
    out.flush().unwrap();
}
