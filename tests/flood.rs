//! Bounded memory under a flood (issue 11, item 5): a scripted broker (hostile input) that,
//! after CONNACK, sends PUBLISH as fast as loopback allows to a tokio-driver client whose
//! application takes no event for a while, then takes them all.
//!
//! Measured with a counting global allocator (this binary's own): the peak of live heap bytes
//! over the run, which holds the driver's event channel ([`EVENT_CAPACITY`]), the events it
//! could not hand over yet (at most one socket read's worth: it stops reading meanwhile) and
//! the session's buffers. The scripted broker writes from buffers built before the count
//! starts. Asserted: the peak stays under [`BUDGET`] while the broker offered [`OFFERED`] bytes,
//! every message arrived, and the connection was not dropped (no disconnect event). Printed:
//! `flood QOS peak_heap=… peak_rss=… held_events=… offered=…`.
//!
//! The tests run one at a time (a lock), so that the allocator counts one client.
//!
//! `cargo test --test flood -- --nocapture --include-ignored`

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use wasmqtt::codec::{Decoder, Packet, ProtocolVersion, QoS};
use wasmqtt::session::{Event, Options, ReconnectPolicy};
use wasmqtt_tokio::{Client, EVENT_CAPACITY};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to `System` unchanged; only counters are added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Bytes of PUBLISH the broker offers in all.
const OFFERED: usize = 24 << 20;
/// Payload bytes of each message.
const PAYLOAD: usize = 64;
/// The peak of live heap bytes allowed over the run, for the whole process (runtime, driver,
/// session, events, the scripted broker's threads).
const BUDGET: usize = 8 << 20;
/// How long the application takes no event.
const PAUSE: Duration = Duration::from_secs(4);
/// The keep-alive of the memory tests: longer than the run.
const KEEP_ALIVE: u16 = 60;
/// The keep-alive of the slow-application test: shorter than the pause, so that a keep-alive
/// that killed a connection only because the application is slow shows.
const SHORT_KEEP_ALIVE: u16 = 2;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `test` alone (see the module docs) on a current-thread runtime: while the test takes
/// events without awaiting, the driver does not run, so what it finds waiting is what the
/// channel held.
fn run(test: impl std::future::Future<Output = ()>) {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
        .block_on(test);
}

/// The scripted broker's counters.
#[derive(Default)]
struct Broker {
    /// PUBLISH bytes written so far.
    offered: AtomicUsize,
    /// PUBLISH packets written so far.
    messages: AtomicUsize,
    /// Every PUBLISH and the end marker were written.
    done: AtomicBool,
    /// PINGREQs answered.
    pings: AtomicUsize,
}

/// One PUBLISH (v3.1.1 / v5 with no properties), `qos` 0 or 1, packet id `id`.
fn publish(version: ProtocolVersion, qos: QoS, id: u16, topic: &str, payload: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    body.extend_from_slice(topic.as_bytes());
    if qos != QoS::AtMostOnce {
        body.extend_from_slice(&id.to_be_bytes());
    }
    if version == ProtocolVersion::V5 {
        body.push(0);
    }
    body.extend_from_slice(payload);
    let mut p = vec![0x30 | (qos as u8) << 1];
    let mut len = body.len();
    loop {
        let mut b = (len % 128) as u8;
        len /= 128;
        if len > 0 {
            b |= 0x80;
        }
        p.push(b);
        if len == 0 {
            break;
        }
    }
    p.extend_from_slice(&body);
    p
}

/// Starts the scripted broker on a free loopback port: it takes one connection, answers its
/// CONNECT with CONNACK, then writes `batch` again and again until [`OFFERED`] bytes went,
/// then `end`. Another thread reads what the client sends and answers PINGREQ.
fn start_broker(
    version: ProtocolVersion,
    batch: Vec<u8>,
    per_batch: usize,
    end: Vec<u8>,
) -> (String, Arc<Broker>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().unwrap().to_string();
    let state = Arc::new(Broker::default());
    let st = state.clone();
    thread::spawn(move || {
        let (mut sock, _) = listener.accept().expect("accept");
        sock.set_nodelay(true).unwrap();
        let decoder = Decoder::new(version);
        let mut buf = vec![0u8; 64 * 1024];
        let mut have = 0;
        // CONNECT.
        loop {
            let n = sock.read(&mut buf[have..]).expect("read CONNECT");
            assert!(n > 0, "the client closed before CONNECT");
            have += n;
            if let Some((Packet::Connect(_), used)) = decoder.decode(&buf[..have]).unwrap() {
                buf.copy_within(used..have, 0);
                have -= used;
                break;
            }
        }
        let connack: &[u8] = if version == ProtocolVersion::V5 {
            &[0x20, 0x03, 0x00, 0x00, 0x00]
        } else {
            &[0x20, 0x02, 0x00, 0x00]
        };
        sock.write_all(connack).unwrap();
        let writer = Arc::new(Mutex::new(sock.try_clone().unwrap()));
        // The reader: PUBACKs are read and dropped, PINGREQ is answered.
        let w = writer.clone();
        let st2 = st.clone();
        thread::spawn(move || loop {
            let n = match sock.read(&mut buf[have..]) {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            have += n;
            let mut at = 0;
            while let Ok(Some((p, used))) = decoder.decode(&buf[at..have]) {
                at += used;
                if matches!(p, Packet::PingReq) {
                    let _ = w.lock().unwrap().write_all(&[0xD0, 0x00]);
                    st2.pings.fetch_add(1, Ordering::Relaxed);
                }
            }
            buf.copy_within(at..have, 0);
            have -= at;
        });
        while st.offered.load(Ordering::Relaxed) < OFFERED {
            if writer.lock().unwrap().write_all(&batch).is_err() {
                return;
            }
            st.offered.fetch_add(batch.len(), Ordering::Relaxed);
            st.messages.fetch_add(per_batch, Ordering::Relaxed);
        }
        let _ = writer.lock().unwrap().write_all(&end);
        st.done.store(true, Ordering::Relaxed);
        // Keep the connection open (the reader thread holds it) until the client goes.
    });
    (addr, state)
}

fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

async fn flood(version: ProtocolVersion, qos: QoS, keep_alive: u16) {
    let payload = [0x5A; PAYLOAD];
    let mut batch = Vec::new();
    let mut per_batch = 0;
    while batch.len() < 64 * 1024 {
        per_batch += 1;
        batch.extend(publish(version, qos, per_batch as u16, "flood/t", &payload));
    }
    let end = publish(version, QoS::AtMostOnce, 0, "flood/end", b"end");
    let (addr, broker) = start_broker(version, batch, per_batch, end);
    let opts = Options::new(format!("flood-{qos:?}"))
        .version(version)
        .keep_alive(keep_alive)
        .reconnect(ReconnectPolicy {
            enabled: false,
            ..ReconnectPolicy::default()
        });
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let (client, mut events) = Client::connect(&addr, opts).await.expect("connect");
    // The application is slow: it takes no event for PAUSE.
    tokio::time::sleep(PAUSE).await;
    // On this current-thread runtime the driver does not run while we take events without
    // awaiting: what is waiting right now is what the channel held.
    let mut held = 0usize;
    let mut received = 0usize;
    let mut disconnects = Vec::new();
    let mut take = |e: Event, received: &mut usize| -> bool {
        match e {
            Event::Message(m) if m.message.topic == "flood/end" => return true,
            Event::Message(_) => *received += 1,
            Event::Disconnected { reason, .. } => disconnects.push(reason.to_string()),
            _ => {}
        }
        false
    };
    let mut ended = false;
    while let Ok(Some(e)) = events.try_recv() {
        held += 1;
        ended |= take(e, &mut received);
    }
    let offered_at_pause = broker.offered.load(Ordering::Relaxed);
    while !ended {
        match tokio::time::timeout(Duration::from_secs(30), events.recv()).await {
            Ok(Some(e)) => ended |= take(e, &mut received),
            Ok(None) => panic!("the event stream ended: {disconnects:?}"),
            Err(_) => panic!(
                "no event for 30 s; {received} messages of {} taken",
                broker.messages.load(Ordering::Relaxed)
            ),
        }
    }
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    let offered = broker.offered.load(Ordering::Relaxed);
    println!(
        "flood {qos:?} {version:?} keepalive={keep_alive}s peak_heap={}KiB peak_rss={}KiB held_events={held} \
         (EVENT_CAPACITY={EVENT_CAPACITY}) offered={}MiB offered_during_pause={}KiB \
         messages={received} pings_answered={}",
        peak >> 10,
        vm_hwm_kib(),
        offered >> 20,
        offered_at_pause >> 10,
        broker.pings.load(Ordering::Relaxed),
    );
    assert!(broker.done.load(Ordering::Relaxed));
    assert!(
        disconnects.is_empty(),
        "the connection was dropped under the flood: {disconnects:?}"
    );
    assert_eq!(
        received,
        broker.messages.load(Ordering::Relaxed),
        "every message arrived"
    );
    assert!(held <= EVENT_CAPACITY, "the channel held {held} events");
    assert!(
        peak < BUDGET,
        "peak heap {peak} bytes over the budget of {BUDGET} while {offered} bytes were offered"
    );
    assert!(
        offered > 2 * BUDGET,
        "the broker offered far more than the budget"
    );
    client.abort();
}

#[test]
fn flood_of_qos0_publishes_stays_within_budget_and_keeps_the_connection() {
    run(flood(ProtocolVersion::V5, QoS::AtMostOnce, KEEP_ALIVE));
}

#[test]
fn flood_of_qos1_publishes_stays_within_budget_and_keeps_the_connection() {
    run(flood(ProtocolVersion::V311, QoS::AtLeastOnce, KEEP_ALIVE));
}

/// The same flood with a keep-alive shorter than the application's pause: the driver holds
/// reading back meanwhile, so the broker's PINGRESP waits unread; the session must not take
/// that for a dead broker (`Session::handle_read_paused`, tested in `tests/session/`).
#[test]
fn slow_application_is_not_taken_for_a_dead_broker() {
    run(flood(
        ProtocolVersion::V5,
        QoS::AtMostOnce,
        SHORT_KEEP_ALIVE,
    ));
}
