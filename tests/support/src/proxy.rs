//! A TCP proxy on loopback between a client and a broker, for the failures a real broker cannot be
//! asked for: a **black hole** (the connection stays open, no FIN, no RST, but no byte passes in
//! either direction, as when a NAT entry or a cable goes away), a **paused reader** (the proxy
//! stops reading what the client writes, so the client's writes back up as they do against a
//! slow broker), a **cut** (both sides closed at once) and a **wire recording** of what each side
//! sent, so that a test can judge the client by what it saw rather than by what the broker did.
//!
//! ```no_run
//! # use wasmqtt_testkit::proxy::{Direction, Proxy};
//! # let broker_addr: std::net::SocketAddr = "127.0.0.1:1883".parse().unwrap();
//! let proxy = Proxy::start(broker_addr);
//! // … connect the client to proxy.addr() …
//! proxy.blackhole(); // from now on nothing passes, nothing is closed
//! let from_broker: Vec<u8> = proxy.bytes(0, Direction::ToClient);
//! ```
//!
//! Every connection gets its own pair of pump threads; dropping the [`Proxy`] shuts every socket
//! down, which ends them.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread;

/// Which way bytes went through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the client to the broker.
    ToBroker,
    /// From the broker to the client.
    ToClient,
}

/// Bytes that passed through the proxy in one read, in the order they passed.
#[derive(Debug, Clone)]
pub struct Chunk {
    /// The connection, numbered from 0 in the order the proxy accepted them.
    pub conn: usize,
    /// Which way they went.
    pub dir: Direction,
    /// The bytes.
    pub bytes: Vec<u8>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    blackhole: AtomicBool,
    paused: Mutex<bool>,
    unpaused: Condvar,
    record: Mutex<Vec<Chunk>>,
    sockets: Mutex<Vec<TcpStream>>,
    accepted: Mutex<usize>,
}

/// A proxy listening on a free loopback port; see the module docs.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Listens on `127.0.0.1:0` and forwards every connection to `upstream`.
    pub fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        thread::Builder::new()
            .name("proxy-accept".into())
            .spawn(move || accept_loop(listener, upstream, s))
            .expect("spawn the proxy");
        Proxy { addr, shared }
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// From now on no byte passes in either direction (they are read and dropped) and no
    /// connection is closed: the client sees a silent peer, as with a black-holed route.
    pub fn blackhole(&self) {
        self.shared.blackhole.store(true, Ordering::SeqCst);
    }

    /// Lets bytes pass again (those dropped meanwhile stay lost).
    pub fn resume(&self) {
        self.shared.blackhole.store(false, Ordering::SeqCst);
    }

    /// From now on the proxy reads nothing the client writes (what it wrote stays in the sockets'
    /// buffers; once they are full the client's writes block). The broker's bytes still pass.
    pub fn pause_client_writes(&self) {
        *self.shared.paused.lock().unwrap() = true;
    }

    /// Reads what the client writes again (nothing was lost meanwhile).
    pub fn resume_client_writes(&self) {
        *self.shared.paused.lock().unwrap() = false;
        self.shared.unpaused.notify_all();
    }

    /// How many client connections the proxy has accepted so far.
    pub fn connections(&self) -> usize {
        *self.shared.accepted.lock().unwrap()
    }

    /// Closes every connection now (both sides see the close), as a broker crash would.
    pub fn cut(&self) {
        for s in self.shared.sockets.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Everything that passed so far, in order.
    pub fn recording(&self) -> Vec<Chunk> {
        self.shared.record.lock().unwrap().clone()
    }

    /// The bytes that passed on connection `conn` in direction `dir`, concatenated.
    pub fn bytes(&self, conn: usize, dir: Direction) -> Vec<u8> {
        self.shared
            .record
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.conn == conn && c.dir == dir)
            .flat_map(|c| c.bytes.iter().copied())
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.resume_client_writes();
        self.cut();
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(self.addr);
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let Ok(broker) = TcpStream::connect(upstream) else {
            // The broker is down: the client sees its connection refused as a close.
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = broker.set_nodelay(true);
        let conn = {
            let mut n = shared.accepted.lock().unwrap();
            *n += 1;
            *n - 1
        };
        {
            let mut sockets = shared.sockets.lock().unwrap();
            sockets.push(client.try_clone().expect("clone socket"));
            sockets.push(broker.try_clone().expect("clone socket"));
        }
        for (from, to, dir) in [
            (client.try_clone(), broker.try_clone(), Direction::ToBroker),
            (broker.try_clone(), client.try_clone(), Direction::ToClient),
        ] {
            let (Ok(from), Ok(to)) = (from, to) else {
                continue;
            };
            let s = shared.clone();
            let _ = thread::Builder::new()
                .name("proxy-pump".into())
                .spawn(move || pump(from, to, conn, dir, s));
        }
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, conn: usize, dir: Direction, shared: Arc<Shared>) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if dir == Direction::ToBroker {
            let mut paused = shared.paused.lock().unwrap();
            while *paused && !shared.stop.load(Ordering::SeqCst) {
                paused = shared.unpaused.wait(paused).unwrap();
            }
        }
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if shared.blackhole.load(Ordering::SeqCst) {
            continue;
        }
        shared.record.lock().unwrap().push(Chunk {
            conn,
            dir,
            bytes: buf[..n].to_vec(),
        });
        if to.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    // Pass the close on, unless the line is black-holed (then nothing is passed on).
    if !shared.blackhole.load(Ordering::SeqCst) {
        let _ = to.shutdown(Shutdown::Write);
    }
}
