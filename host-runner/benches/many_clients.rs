//! Many clients in one host: N provider instances (one store each) connected to one mosquitto.
//!
//! ```text
//! cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider
//! cargo bench -p wasmqtt-host --bench many_clients
//! ```
//!
//! For each N (default 100, 1 000 and 10 000) and each allocation strategy (wasmtime's default
//! on-demand allocator and its pooling allocator, [`Allocation`]), a fresh process of this
//! binary:
//!
//! 1. loads the provider and connects one publisher instance, then reads its resident set
//!    (`VmRSS` of `/proc/self/status`): the baseline;
//! 2. instantiates N instances one after the other, each connecting (CONNACK) and subscribing to
//!    a topic of its own (SUBACK), timing instantiation and connect for each;
//! 3. reads the resident set again: (RSS − baseline) / N is the memory of one idle connected
//!    instance, everything the host holds for it included (store, WASI context, socket, guest
//!    memory), the broker's side not (mosquitto is another process);
//! 4. publishes one QoS 0 message to every instance's topic in turn, from the publisher
//!    instance (`publish`, then `poll-events` with no wait, which writes it), and times
//!    publish → `poll-event` returning it on the receiving instance: p50 and p99 across the N
//!    instances.
//!
//! Instances are idle while the others are made: keep-alive is 600 s so no instance needs a
//! ping before the measurement ends (a host keeping clients for longer polls each one before
//! its `next-deadline`). The process's file limit is raised to its hard limit (one socket per
//! instance; mosquitto inherits the limit); mosquitto runs with `max_connections -1`.
//!
//! Environment: `WASMQTT_MANY_N` (comma-separated counts, default `100,1000,10000`),
//! `WASMQTT_MANY_ALLOC` (`on-demand`, `pooling` or `both`, default `both`),
//! `WASMQTT_MANY_ROUNDS` (processes per (N, allocation), default 1; with more, the median and
//! range over them is printed).

use wasmqtt_testkit::mosquitto::{self, Mosquitto};

use std::process::Command;
use std::time::{Duration, Instant};

use wasmqtt_host::types::{self, Event, ProtocolVersion, Qos};
use wasmqtt_host::{Allocation, Client, NetworkPolicy, Provider, Runtime};

const KEEP_ALIVE_S: u16 = 600;
const POLL_TIMEOUT: Duration = Duration::from_secs(10);
const CHILD_ENV: &str = "WASMQTT_MANY_CHILD";

fn main() {
    if let Ok(spec) = std::env::var(CHILD_ENV) {
        return child(&spec);
    }
    let counts: Vec<u32> = std::env::var("WASMQTT_MANY_N")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("WASMQTT_MANY_N: counts separated by commas")
        })
        .collect();
    let allocs: &[&str] = match std::env::var("WASMQTT_MANY_ALLOC").as_deref() {
        Ok("on-demand") => &["on-demand"],
        Ok("pooling") => &["pooling"],
        _ => &["on-demand", "pooling"],
    };
    let rounds: usize = std::env::var("WASMQTT_MANY_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let limit = raise_file_limit();
    let need = counts.iter().max().copied().unwrap_or(0) as u64 + 64;
    if limit < need {
        eprintln!("warning: file limit {limit} < {need}: the largest N will fail to connect");
    }
    let broker = Mosquitto::start_with(mosquitto::Options {
        extra_config: "max_connections -1\n".into(),
        ..mosquitto::Options::default()
    });
    println!(
        "mosquitto on {}; file limit {limit}; one process per (N, allocation); keep-alive {KEEP_ALIVE_S} s",
        broker.addr()
    );
    println!(
        "{:<10} {:>6} {:>22} {:>26} {:>26} {:>20} {:>20}",
        "alloc",
        "N",
        "RSS/instance KiB",
        "instantiate µs p50/p99",
        "connect+sub µs p50/p99",
        "pub→recv µs p50",
        "pub→recv µs p99"
    );
    let exe = std::env::current_exe().expect("own path");
    for &alloc in allocs {
        for &n in &counts {
            let mut results = Vec::new();
            for round in 0..rounds {
                let out = Command::new(&exe)
                    .env(CHILD_ENV, format!("{alloc},{n},{},{round}", broker.port()))
                    .output()
                    .expect("run the measuring process");
                let stdout = String::from_utf8_lossy(&out.stdout);
                match stdout.lines().find_map(Measured::parse) {
                    Some(m) if out.status.success() => results.push(m),
                    _ => {
                        println!(
                            "{alloc:<10} {n:>6} failed ({}): {}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr).trim()
                        );
                        break;
                    }
                }
            }
            if results.is_empty() {
                continue;
            }
            let col = |f: fn(&Measured) -> f64| {
                let mut v: Vec<f64> = results.iter().map(f).collect();
                spread(&mut v)
            };
            println!(
                "{alloc:<10} {n:>6} {:>22} {:>26} {:>26} {:>20} {:>20}",
                col(|m| m.rss_kib),
                format!("{} / {}", col(|m| m.inst_p50), col(|m| m.inst_p99)),
                format!("{} / {}", col(|m| m.conn_p50), col(|m| m.conn_p99)),
                col(|m| m.lat_p50),
                col(|m| m.lat_p99),
            );
        }
    }
}

/// The median of `v` and, with more than one value, its range: `m` or `m (lo-hi)`.
fn spread(v: &mut [f64]) -> String {
    v.sort_by(f64::total_cmp);
    let m = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    if v.len() == 1 {
        format!("{m:.0}")
    } else {
        format!("{m:.0} ({:.0}-{:.0})", v[0], v[v.len() - 1])
    }
}

/// What one measuring process found.
struct Measured {
    rss_kib: f64,
    inst_p50: f64,
    inst_p99: f64,
    conn_p50: f64,
    conn_p99: f64,
    lat_p50: f64,
    lat_p99: f64,
}

impl Measured {
    fn parse(line: &str) -> Option<Measured> {
        let v: Vec<f64> = line
            .strip_prefix("measured ")?
            .split(' ')
            .map(|s| s.parse().ok())
            .collect::<Option<_>>()?;
        let [rss_kib, inst_p50, inst_p99, conn_p50, conn_p99, lat_p50, lat_p99] = v[..] else {
            return None;
        };
        Some(Measured {
            rss_kib,
            inst_p50,
            inst_p99,
            conn_p50,
            conn_p99,
            lat_p50,
            lat_p99,
        })
    }
}

/// One measurement, in a process of its own so that one N's freed memory is not the next one's.
fn child(spec: &str) {
    let parts: Vec<&str> = spec.split(',').collect();
    let [alloc, n, port, round] = parts[..] else {
        panic!("{CHILD_ENV}: alloc,n,port,round");
    };
    let n: u32 = n.parse().unwrap();
    let port: u16 = port.parse().unwrap();
    let round: usize = round.parse().unwrap();
    let allocation = match alloc {
        "pooling" => Allocation::Pooling {
            max_instances: n + 1,
        },
        _ => Allocation::OnDemand,
    };
    let runtime = Runtime::with_allocation(allocation).expect("wasmtime runtime");
    let provider = Provider::load_default(&runtime).unwrap_or_else(|e| panic!("{e:#}"));
    let policy = NetworkPolicy::broker("127.0.0.1", port).unwrap();
    let options = |id: &str| {
        let mut o = types::connect_options("127.0.0.1", port, id, ProtocolVersion::V311);
        o.keep_alive_secs = KEEP_ALIVE_S;
        o
    };
    let mut publisher = Client::connect(&provider, &policy, &options(&format!("many-pub-{round}")))
        .unwrap_or_else(|e| panic!("publisher connect: {e}"));
    drain(&mut publisher);
    let base = rss_kib();

    let mut clients = Vec::with_capacity(n as usize);
    let mut inst = Vec::with_capacity(n as usize);
    let mut conn = Vec::with_capacity(n as usize);
    for i in 0..n {
        let t0 = Instant::now();
        let instance = provider
            .instantiate(&policy)
            .unwrap_or_else(|e| panic!("instance {i}: {e:#}"));
        let t1 = Instant::now();
        let mut client = instance
            .connect(&options(&format!("many-{round}-{i}")))
            .unwrap_or_else(|e| panic!("instance {i} connect: {e}"));
        let id = client
            .subscribe(
                &[types::subscription(&topic(round, i), Qos::AtMostOnce)],
                None,
            )
            .unwrap_or_else(|e| panic!("instance {i} subscribe: {e}"));
        loop {
            match client.poll_event(POLL_TIMEOUT) {
                Ok(Some(Event::Subscribed((got, codes)))) if got == id => {
                    assert_eq!(codes, [0], "instance {i}: SUBACK");
                    break;
                }
                Ok(Some(_)) => {}
                Ok(None) => panic!("instance {i}: no SUBACK in {POLL_TIMEOUT:?}"),
                Err(e) => panic!("instance {i} poll: {e}"),
            }
        }
        let t2 = Instant::now();
        inst.push(micros(t1 - t0));
        conn.push(micros(t2 - t1));
        clients.push(client);
    }
    // Nothing more is in flight: what the instances hold now is what an idle one holds.
    let per_instance = (rss_kib() - base) / f64::from(n);

    let mut lat = Vec::with_capacity(n as usize);
    for (i, client) in clients.iter_mut().enumerate() {
        let t0 = Instant::now();
        publisher
            .publish(&types::message(
                &topic(round, i as u32),
                b"ping",
                Qos::AtMostOnce,
                false,
            ))
            .unwrap_or_else(|e| panic!("publish to {i}: {e}"));
        // A publish is written at once only when it fills a batch; a poll writes it.
        publisher
            .poll_events(256, Duration::ZERO)
            .unwrap_or_else(|e| panic!("publisher poll: {e}"));
        loop {
            match client.poll_event(POLL_TIMEOUT) {
                Ok(Some(Event::Message(m))) => {
                    assert_eq!(m.payload, b"ping", "instance {i}");
                    break;
                }
                Ok(Some(e)) => eprintln!("instance {i}: {e:?}"),
                Ok(None) => panic!("instance {i}: the message did not come in {POLL_TIMEOUT:?}"),
                Err(e) => panic!("instance {i} poll: {e}"),
            }
        }
        lat.push(micros(t0.elapsed()));
        drain(&mut publisher);
    }
    let (i50, i99) = percentiles(&mut inst);
    let (c50, c99) = percentiles(&mut conn);
    let (l50, l99) = percentiles(&mut lat);
    println!("measured {per_instance:.1} {i50:.0} {i99:.0} {c50:.0} {c99:.0} {l50:.0} {l99:.0}");
    for c in clients {
        let _ = c.close();
    }
    let _ = publisher.close();
}

fn topic(round: usize, i: u32) -> String {
    format!("many/{round}/{i}")
}

/// Takes every event that is ready (the publisher's completions), without waiting.
fn drain(c: &mut Client) {
    while let Ok(events) = c.poll_events(256, Duration::ZERO) {
        if events.is_empty() {
            break;
        }
    }
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// p50 and p99 (nearest rank).
fn percentiles(v: &mut [f64]) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    (at(0.50), at(0.99))
}

/// This process's resident set in KiB.
fn rss_kib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// Raises the soft limit on open files to the hard limit; returns the new soft limit.
fn raise_file_limit() -> u64 {
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local struct.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) != 0 {
            return 0;
        }
        l.rlim_cur = l.rlim_max;
        if libc::setrlimit(libc::RLIMIT_NOFILE, &l) != 0 {
            let _ = libc::getrlimit(libc::RLIMIT_NOFILE, &mut l);
        }
        l.rlim_cur
    }
}
