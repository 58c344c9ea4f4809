//! A real mosquitto broker for integration tests, on free loopback ports.
//!
//! ```ignore
//! use wasmqtt_testkit::mosquitto::Mosquitto;
//!
//! let mut broker = Mosquitto::start(); // or Mosquitto::with_websockets()
//! let stream = broker.connect();       // a std TcpStream to broker.addr(), with timeouts
//! broker.restart();                    // SIGTERM (persistence saved), then the same ports again
//! ```
//!
//! Each broker gets its own temporary directory holding its configuration, its persistence
//! database and its log. The process is killed and the directory removed when the value is
//! dropped; when that happens during a panic (a failing test), the broker's log is printed first.
//! Set `WASMQTT_KEEP_BROKER_DIR=1` to keep the directory.
//!
//! The broker binary is `$MOSQUITTO` if set, else `mosquitto` on `PATH`, `/usr/sbin` or
//! `/usr/local/sbin`. `./scripts/test.sh` installs it. Only std is used: no extra crates.
//!
//! TLS listeners (TLS, mutual TLS, WebSocket over TLS) take certificate files, e.g. from
//! [`crate::certs::TestCerts`]: `Options { tls: Some(certs.server_files()), mtls: true, .. }`.

use std::fs::{self, OpenOptions};
use std::io;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub use crate::certs::TlsFiles;

/// How long a broker may take to accept connections after it was spawned.
pub const START_DEADLINE: Duration = Duration::from_secs(10);
/// How long a broker may take to exit after SIGTERM.
pub const STOP_DEADLINE: Duration = Duration::from_secs(10);
/// Read and write timeout of the streams [`Mosquitto::connect`] returns.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// What to configure besides the plain MQTT listener.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also open a WebSocket listener (`protocol websockets`) on a second free port.
    pub websockets: bool,
    /// Also open a TLS listener (`cafile`, `certfile`, `keyfile` from these files) on its own
    /// free port: [`Mosquitto::tls_port`]. Needed by `mtls` and `tls_websockets`.
    pub tls: Option<TlsFiles>,
    /// Also open a mutual-TLS listener (`require_certificate true`, client certificates must
    /// lead to `cafile`): [`Mosquitto::mtls_port`]. Needs `tls`.
    pub mtls: bool,
    /// Also open a WebSocket-over-TLS listener: [`Mosquitto::wss_port`]. Needs `tls`.
    pub tls_websockets: bool,
    /// Lines appended to the generated configuration, e.g. `"max_inflight_messages 2\n"`.
    /// Global options only: they come after the listeners, so use ones that are not per-listener.
    pub extra_config: String,
}

/// A running (or stopped) mosquitto process owned by a test.
#[derive(Debug)]
pub struct Mosquitto {
    program: PathBuf,
    options: Options,
    child: Option<Child>,
    port: u16,
    ws_port: Option<u16>,
    tls_ports: TlsPorts,
    dir: PathBuf,
    conf: PathBuf,
    log: PathBuf,
    /// Set once a panic message carried the log, so Drop does not print it again.
    log_shown: bool,
}

impl Mosquitto {
    /// Starts a broker with one MQTT listener on a free loopback port. Panics (with the broker's
    /// log) when it does not accept connections within [`START_DEADLINE`].
    pub fn start() -> Self {
        Self::start_with(Options::default())
    }

    /// Starts a broker with an MQTT listener and a WebSocket listener, each on a free port.
    pub fn with_websockets() -> Self {
        Self::start_with(Options {
            websockets: true,
            ..Options::default()
        })
    }

    /// Starts a broker configured by `options`.
    pub fn start_with(options: Options) -> Self {
        let program = find_mosquitto().unwrap_or_else(|| {
            panic!(
                "mosquitto not found (looked at $MOSQUITTO, PATH, /usr/sbin, /usr/local/sbin); \
                 run ./scripts/test.sh as root, or `apt-get install mosquitto`"
            )
        });
        let dir = temp_dir();
        let port = free_port();
        let ws_port = options.websockets.then(free_port);
        let tls_ports = TlsPorts::pick(&options);
        let conf = dir.join("mosquitto.conf");
        let log = dir.join("mosquitto.log");
        let mut broker = Mosquitto {
            program,
            options,
            child: None,
            port,
            ws_port,
            tls_ports,
            dir,
            conf,
            log,
            log_shown: false,
        };
        broker.write_config();
        broker.spawn_and_wait(true);
        broker
    }

    /// The MQTT (TCP) port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The WebSocket port on 127.0.0.1. Panics unless the broker was started with websockets.
    pub fn ws_port(&self) -> u16 {
        self.ws_port.expect(
            "this broker has no WebSocket listener: start it with Mosquitto::with_websockets()",
        )
    }

    /// The TLS listener's port on 127.0.0.1. Panics unless started with `Options::tls`.
    pub fn tls_port(&self) -> u16 {
        self.tls_ports
            .tls
            .expect("this broker has no TLS listener: start it with Options { tls: Some(..) }")
    }

    /// The mutual-TLS listener's port on 127.0.0.1. Panics unless started with `Options::mtls`.
    pub fn mtls_port(&self) -> u16 {
        self.tls_ports
            .mtls
            .expect("this broker has no mTLS listener: start it with Options { tls, mtls: true }")
    }

    /// The WebSocket-over-TLS listener's port on 127.0.0.1. Panics unless started with
    /// `Options::tls_websockets`.
    pub fn wss_port(&self) -> u16 {
        self.tls_ports.wss.expect(
            "this broker has no wss listener: start it with Options { tls, tls_websockets: true }",
        )
    }

    /// The MQTT listener's address, `127.0.0.1:<port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }

    /// The WebSocket listener's address, `127.0.0.1:<ws_port>`.
    pub fn ws_addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.ws_port()))
    }

    /// The WebSocket URL a browser would use, `ws://127.0.0.1:<ws_port>/`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}/", self.ws_port())
    }

    /// A TCP connection to the MQTT listener with [`IO_TIMEOUT`] read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.addr(), IO_TIMEOUT)
            .unwrap_or_else(|e| panic!("connecting to mosquitto at {}: {e}", self.addr()));
        stream.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }

    /// The process id, while the broker runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Whether the broker process is still alive.
    pub fn is_running(&mut self) -> bool {
        match &mut self.child {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The broker's temporary directory (configuration, persistence, log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Everything the broker has logged so far (all runs, restarts included).
    pub fn log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_else(|e| format!("<no log: {e}>"))
    }

    /// Stops the broker gracefully: SIGTERM, so it saves its persistence database, then waits
    /// for it to exit. Does nothing if it is not running. Panics if it has not exited within
    /// [`STOP_DEADLINE`] (it is then killed).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        send_sigterm(child.id());
        let deadline = Instant::now() + STOP_DEADLINE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => sleep(Duration::from_millis(10)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    self.log_shown = true;
                    panic!(
                        "mosquitto did not exit within {STOP_DEADLINE:?} of SIGTERM\n{}",
                        self.log_block()
                    );
                }
            }
        }
    }

    /// Kills the broker abruptly (SIGKILL): nothing is saved since its last autosave, as after a
    /// crash. Does nothing if it is not running.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the broker (gracefully, see [`Mosquitto::stop`]) if it runs, and starts it again on
    /// the same ports with the same persistence directory.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn_and_wait(false);
    }

    fn write_config(&self) {
        let text = config(
            &self.dir,
            self.port,
            self.ws_port,
            &self.tls_ports,
            self.options.tls.as_ref(),
            &self.options.extra_config,
        );
        fs::write(&self.conf, text)
            .unwrap_or_else(|e| panic!("writing {}: {e}", self.conf.display()));
    }

    /// Spawns the process and waits until every listener accepts a TCP connection. If the
    /// process exits early because a port is in use, the spawn is retried while the deadline
    /// allows: on a first start (`may_move`) with new ports, in case another process took one
    /// since it was picked; on a restart with the same ones, which may be held for a moment.
    fn spawn_and_wait(&mut self, may_move: bool) {
        assert!(self.child.is_none(), "mosquitto is already running");
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            let mut ports = vec![self.port];
            ports.extend(self.ws_port);
            ports.extend(self.tls_ports.all());
            let log_start = fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0) as usize;
            let child = self.spawn();
            self.child = Some(child);
            match self.wait_ready(&ports, log_start, deadline) {
                Ok(()) => return,
                Err(Early(_))
                    if Instant::now() + Duration::from_millis(100) < deadline
                        && self.log().get(log_start..).unwrap_or("").contains("in use") =>
                {
                    self.child = None;
                    if may_move {
                        self.port = free_port();
                        self.ws_port = self.ws_port.map(|_| free_port());
                        self.tls_ports = TlsPorts::pick(&self.options);
                        self.write_config();
                    }
                    sleep(Duration::from_millis(100));
                }
                Err(why) => {
                    self.kill();
                    self.log_shown = true;
                    panic!(
                        "mosquitto did not start: {why}\ncommand: {} -c {}\n{}",
                        self.program.display(),
                        self.conf.display(),
                        self.log_block()
                    );
                }
            }
        }
    }

    fn spawn(&self) -> Child {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap_or_else(|e| panic!("opening {}: {e}", self.log.display()));
        let log2 = log.try_clone().expect("cloning the log file handle");
        Command::new(&self.program)
            .arg("-c")
            .arg(&self.conf)
            .stdin(Stdio::null())
            .stdout(log2)
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {}: {e}", self.program.display()))
    }

    /// Ready means: mosquitto logged that it is running (it does so only once every listener
    /// is bound, and exits instead when one cannot be), and every port accepts a connection.
    /// The log check matters: a port that accepts could belong to another process.
    fn wait_ready(
        &mut self,
        ports: &[u16],
        log_start: usize,
        deadline: Instant,
    ) -> Result<(), NotReady> {
        let log_path = self.log.clone();
        let child = self.child.as_mut().expect("spawned");
        let running = || {
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            log.get(log_start..)
                .unwrap_or("")
                .lines()
                .any(|l| l.contains("mosquitto version") && l.trim_end().ends_with(" running"))
        };
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(Early(status));
            }
            if running() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(NotReady::Silent);
            }
            sleep(Duration::from_millis(10));
        }
        for &port in ports {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            loop {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(Early(status));
                }
                match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                    Ok(_) => break,
                    Err(_) if Instant::now() < deadline => sleep(Duration::from_millis(10)),
                    Err(e) => return Err(NotReady::Timeout(port, e)),
                }
            }
        }
        Ok(())
    }

    fn log_block(&self) -> String {
        format!(
            "----- mosquitto log ({}) -----\n{}\n----- end of mosquitto log -----",
            self.log.display(),
            self.log()
        )
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() && !self.log_shown {
            eprintln!(
                "broker on port {} (config {}):\n{}",
                self.port,
                self.conf.display(),
                self.log_block()
            );
        }
        if std::env::var_os("WASMQTT_KEEP_BROKER_DIR").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Why a spawned broker is not accepting connections.
#[derive(Debug)]
enum NotReady {
    /// The process exited before its listeners accepted connections.
    Early(ExitStatus),
    /// It did not log that it was running before the deadline.
    Silent,
    /// A port still refused connections at the deadline.
    Timeout(u16, io::Error),
}
use NotReady::Early;

impl std::fmt::Display for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Early(status) => write!(f, "the process exited ({status})"),
            NotReady::Silent => write!(
                f,
                "it did not log \"mosquitto version … running\" within {START_DEADLINE:?}"
            ),
            NotReady::Timeout(port, e) => write!(
                f,
                "port {port} did not accept a connection within {START_DEADLINE:?} (last error: {e})"
            ),
        }
    }
}

/// The ports of the TLS listeners a broker was asked for.
#[derive(Debug, Clone, Copy, Default)]
struct TlsPorts {
    tls: Option<u16>,
    mtls: Option<u16>,
    wss: Option<u16>,
}

impl TlsPorts {
    fn pick(options: &Options) -> TlsPorts {
        let tls = options.tls.is_some();
        assert!(
            tls || !(options.mtls || options.tls_websockets),
            "Options::mtls and Options::tls_websockets need Options::tls (the certificate files)"
        );
        TlsPorts {
            tls: tls.then(free_port),
            mtls: (tls && options.mtls).then(free_port),
            wss: (tls && options.tls_websockets).then(free_port),
        }
    }

    fn all(&self) -> impl Iterator<Item = u16> {
        [self.tls, self.mtls, self.wss].into_iter().flatten()
    }
}

fn config(
    dir: &Path,
    port: u16,
    ws_port: Option<u16>,
    tls_ports: &TlsPorts,
    files: Option<&TlsFiles>,
    extra: &str,
) -> String {
    let mut c = format!(
        "# Written by wasmqtt-testkit (tests/support/src/mosquitto.rs) for one test broker.\n\
         # When started as root, stay root so the broker can use this directory.\n\
         user root\n\
         per_listener_settings false\n\
         allow_anonymous true\n\
         persistence true\n\
         persistence_location {dir}/\n\
         persistence_file mosquitto.db\n\
         max_queued_messages 0\n\
         log_dest stderr\n\
         log_type error\n\
         log_type warning\n\
         log_type notice\n\
         log_type information\n\
         connection_messages true\n\
         log_timestamp true\n\
         log_timestamp_format %Y-%m-%dT%H:%M:%S\n\
         \n\
         listener {port} 127.0.0.1\n",
        dir = dir.display(),
    );
    if let Some(ws) = ws_port {
        c.push_str(&format!(
            "\nlistener {ws} 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n"
        ));
    }
    if let Some(files) = files {
        let tls = format!(
            "cafile {}\ncertfile {}\nkeyfile {}\n",
            files.cafile.display(),
            files.certfile.display(),
            files.keyfile.display()
        );
        if let Some(p) = tls_ports.tls {
            c.push_str(&format!("\nlistener {p} 127.0.0.1\n{tls}"));
        }
        if let Some(p) = tls_ports.mtls {
            c.push_str(&format!(
                "\nlistener {p} 127.0.0.1\n{tls}require_certificate true\n"
            ));
        }
        if let Some(p) = tls_ports.wss {
            c.push_str(&format!(
                "\nlistener {p} 127.0.0.1\nprotocol websockets\nsocket_domain ipv4\n{tls}"
            ));
        }
    }
    if !extra.is_empty() {
        c.push('\n');
        c.push_str(extra);
        c.push('\n');
    }
    c
}

/// A loopback port that was free a moment ago, never the same one twice in this process.
pub fn free_port() -> u16 {
    static HANDED_OUT: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("binding 127.0.0.1:0 for a port");
        let port = listener.local_addr().expect("local address").port();
        drop(listener);
        if !handed_out.contains(&port) {
            handed_out.push(port);
            return port;
        }
    }
}

fn temp_dir() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "wasmqtt-mosquitto-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    dir
}

fn find_mosquitto() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("MOSQUITTO") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d: PathBuf| d.join("mosquitto"))
        .find(|p| p.is_file())
}

/// SIGTERM without libc: the `kill` program, or the shell's builtin where that is missing.
fn send_sigterm(pid: u32) {
    let pid = pid.to_string();
    let quiet = |c: &mut Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
    };
    let sent = quiet(Command::new("kill").args(["-TERM", &pid]));
    if !matches!(sent, Ok(s) if s.success()) {
        let _ = quiet(Command::new("sh").args(["-c", &format!("kill -TERM {pid}")]));
    }
}
