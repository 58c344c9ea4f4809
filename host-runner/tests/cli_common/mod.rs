//! What the `cli_*` tests share: running `wasmqtt-host pub|sub|rr` and mosquitto's own
//! clients, reading a running child's output line by line, and waiting with a time limit
//! (never sleeping to synchronise: a child says when it is ready, e.g. `-d`'s SUBACK line).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use wasmqtt_host::Artifact;

/// The longest any one wait may take.
pub const WAIT: Duration = Duration::from_secs(20);

fn host() -> Command {
    let cli = Artifact::Cli.require().unwrap_or_else(|e| panic!("{e}"));
    let mut c = Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"));
    c.arg("--cli-wasm").arg(cli);
    c
}

fn show(what: &str, out: &Output) {
    eprintln!(
        "{what}: {}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `wasmqtt-host ARGS` to its end, `stdin` as its input, within [`WAIT`].
pub fn ours_with_stdin(args: &[&str], stdin: &[u8]) -> Output {
    let mut c = host();
    c.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = finish(c.spawn().expect("spawning wasmqtt-host"), stdin);
    show(&format!("wasmqtt-host {}", args.join(" ")), &out);
    out
}

/// Runs `wasmqtt-host ARGS` to its end with no input.
pub fn ours(args: &[&str]) -> Output {
    ours_with_stdin(args, b"")
}

/// Runs a mosquitto client to its end.
pub fn theirs(program: &str, args: &[&str]) -> Output {
    let mut c = Command::new(program);
    c.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = finish(c.spawn().expect("spawning a mosquitto client"), b"");
    show(&format!("{program} {}", args.join(" ")), &out);
    out
}

/// Writes `stdin`, then waits for the child's end and output within [`WAIT`] (a thread
/// waits; the child is killed, and the test panics, after it).
fn finish(mut child: Child, stdin: &[u8]) -> Output {
    if let Some(mut i) = child.stdin.take() {
        let data = stdin.to_vec();
        std::thread::spawn(move || {
            let _ = i.write_all(&data);
        });
    }
    let pid = child.id();
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(WAIT) {
        Ok(out) => out.expect("waiting for a child"),
        Err(_) => {
            kill(pid);
            panic!("a child did not end within {WAIT:?}");
        }
    }
}

fn kill(pid: u32) {
    let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
}

/// Waits for `child`'s end within [`WAIT`] (killed, and a panic, after it).
pub fn wait_until(child: Child) -> ExitStatus {
    let pid = child.id();
    let (tx, rx) = channel();
    let mut child = child;
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(WAIT) {
        Ok(s) => s.expect("waiting for a child"),
        Err(_) => {
            kill(pid);
            panic!("a child did not end within {WAIT:?}");
        }
    }
}

/// A running child whose stdout is read line by line by a thread.
pub struct Running {
    child: Option<Child>,
    stderr: Option<std::process::ChildStderr>,
    lines: Receiver<String>,
    pub seen: Vec<String>,
    what: String,
}

fn reader(out: ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

impl Running {
    fn spawn(mut c: Command, what: String) -> Running {
        c.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap_or_else(|e| panic!("spawning {what}: {e}"));
        let lines = reader(child.stdout.take().expect("stdout"));
        let stderr = child.stderr.take();
        Running {
            child: Some(child),
            stderr,
            lines,
            seen: Vec::new(),
            what,
        }
    }

    /// `wasmqtt-host ARGS`, running.
    pub fn ours(args: &[&str]) -> Running {
        let mut c = host();
        c.args(args);
        Running::spawn(c, format!("wasmqtt-host {}", args.join(" ")))
    }

    /// A mosquitto client, running, its stdout line-buffered (`stdbuf -oL`: a pipe would
    /// hold its `-d` lines back until it ends).
    pub fn theirs(program: &str, args: &[&str]) -> Running {
        let mut c = Command::new("stdbuf");
        c.arg("-oL").arg(program).args(args);
        Running::spawn(c, format!("{program} {}", args.join(" ")))
    }

    /// The next line of stdout that contains `pattern` (the others are kept in `seen`).
    pub fn wait_line(&mut self, pattern: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.contains(pattern) => return l,
                Ok(l) => self.seen.push(l),
                Err(RecvTimeoutError::Timeout) => {
                    self.kill();
                    panic!(
                        "{}: no line with {pattern:?} within {WAIT:?}; saw {:?}",
                        self.what, self.seen
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let err = self.stderr();
                    panic!(
                        "{}: ended without a line with {pattern:?}; saw {:?}; stderr: {err}",
                        self.what, self.seen
                    )
                }
            }
        }
    }

    fn stderr(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }

    /// Waits for the end: the exit status, the lines not yet read (after `seen`), stderr.
    pub fn end(mut self) -> (ExitStatus, Vec<String>, String) {
        let status = wait_until(self.child.take().expect("not ended yet"));
        let mut rest = Vec::new();
        while let Ok(l) = self.lines.recv_timeout(WAIT) {
            rest.push(l);
        }
        let stderr = self.stderr();
        eprintln!(
            "{}: {status}\nseen: {:?}\nrest: {rest:?}\nstderr:\n{stderr}",
            self.what, self.seen
        );
        (status, rest, stderr)
    }

    /// The lines printed after the debug lines (`Client ...`): the messages.
    pub fn messages(self) -> (ExitStatus, Vec<String>) {
        let (status, rest, _) = self.end();
        let msgs = rest
            .into_iter()
            .filter(|l| !l.starts_with("Client ") && !l.starts_with("Subscribed (mid"))
            .collect();
        (status, msgs)
    }
}

impl Running {
    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A mosquitto_sub `-d` on `args`, once it says SUBACK.
pub fn their_sub(args: &[&str]) -> Running {
    let mut all = vec!["-d"];
    all.extend_from_slice(args);
    let mut s = Running::theirs("mosquitto_sub", &all);
    s.wait_line("received SUBACK");
    s
}

/// Ours `sub -d` on `args`, once it says SUBACK.
pub fn our_sub(args: &[&str]) -> Running {
    let mut all = vec!["sub", "-d"];
    all.extend_from_slice(args);
    let mut s = Running::ours(&all);
    s.wait_line("received SUBACK");
    s
}

/// A directory of its own under the temp dir, removed at the end.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("wasmqtt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn file(&self, name: &str, contents: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, contents).unwrap();
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}
