//! The shared driver scenario table (S1–S5) on the provider component through host-runner.
//!
//! Every outcome is decided by the session inside the component (first-connect policy,
//! connect deadline, budgets, reconnect), so the table is the tokio driver's
//! (`tests/scenarios_tokio.rs`). Each test prints `scenario provider SID OUTCOME` and asserts
//! it. The WIT `connect-options` has no first-connect policy, so the provider always gives up
//! (`FirstConnect::GiveUp`): S1's retry case is the tokio driver's only.
//!
//! The components must be built first (`./scripts/build-components.sh`).

mod common;
use common::provider;
use std::collections::{BTreeMap, BTreeSet};
use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use wasmqtt_host::types::{self, Delivery, Error as WitError, Event, ProtocolVersion, Qos};
use wasmqtt_host::{Client, ClientError, NetworkPolicy};
use wasmqtt_testkit::mosquitto::Mosquitto;
use wasmqtt_testkit::proxy::Proxy;

/// Upper bound for anything to happen; a failure, never a synchronisation.
const LIMIT: Duration = Duration::from_secs(20);

fn report(sid: &str, outcome: &str) {
    eprintln!("scenario provider {sid} {outcome}");
}

fn options(addr: SocketAddr, name: &str) -> types::ConnectOptions {
    let id = format!("scen-prov-{name}-{}", std::process::id());
    let mut o = types::connect_options("127.0.0.1", addr.port(), &id, ProtocolVersion::V5);
    o.reconnect = Some(types::ReconnectPolicy {
        enabled: true,
        initial_delay_ms: 50,
        max_delay_ms: 200,
        multiplier: 2,
        jitter_percent: 0,
    });
    o
}

fn connect(addr: SocketAddr, o: &types::ConnectOptions) -> Result<Client, ClientError> {
    Client::connect(provider(), &NetworkPolicy::addrs([addr]), o)
}

fn wit_error(what: &str, r: Result<Client, ClientError>) -> ClientError {
    match r {
        Ok(_) => panic!("{what}: connected"),
        Err(e @ ClientError::Mqtt(_)) => e,
        Err(e) => panic!("{what}: {e}"),
    }
}

/// The next event, or a failure after [`LIMIT`].
fn next_event(client: &mut Client, what: &str) -> Event {
    let until = Instant::now() + LIMIT;
    while Instant::now() < until {
        if let Some(e) = client
            .poll_event(Duration::from_millis(200))
            .unwrap_or_else(|e| panic!("{what}: {e}"))
        {
            return e;
        }
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn s1_first_connect_refused() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    // Compiling the provider (on first use in this test binary) is not part of the window.
    let _ = provider();
    let started = Instant::now();
    let e = wit_error("nothing listens", connect(addr, &options(addr, "s1")));
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(e.mqtt(), Some(WitError::Network(text)) if !text.is_empty()),
        "{e:?}"
    );
    assert_eq!(e.code(), "CONNECTION_LOST");
    report("S1", e.code());
}

#[test]
fn s2_broker_silent_while_connecting() {
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let mut o = options(addr, "s2");
    o.connect_timeout_ms = Some(1000);
    let e = wit_error("a silent broker", connect(addr, &o));
    assert!(matches!(e.mqtt(), Some(WitError::Timeout)), "{e:?}");
    assert_eq!(e.code(), "CONNECT_TIMEOUT");
    report("S2", e.code());
    drop(silent);
}

#[test]
fn s3_write_blocked_then_unblocked() {
    const INFLIGHT: u16 = 20;
    const QUEUED: u32 = 1000;
    let broker = Mosquitto::start();
    let proxy = Proxy::start(broker.addr());
    let topic = format!("scen/provider/s3/{}", std::process::id());

    let mut sub = connect(broker.addr(), &options(broker.addr(), "s3sub")).unwrap();
    let rid = sub
        .subscribe(&[types::subscription(&topic, Qos::AtLeastOnce)], None)
        .unwrap();
    loop {
        if let Event::Subscribed((id, _)) = next_event(&mut sub, "SUBACK") {
            assert_eq!(id, rid);
            break;
        }
    }

    let mut o = options(proxy.addr(), "s3pub");
    o.protocol = ProtocolVersion::V311;
    o.max_inflight = Some(INFLIGHT);
    o.max_queued_messages = Some(QUEUED);
    let mut client = connect(proxy.addr(), &o).unwrap();

    proxy.pause_client_writes();
    let mut admitted = BTreeSet::new();
    let refusal = loop {
        let mut body = format!("{:06}", admitted.len()).into_bytes();
        body.resize(1024, b'.');
        match client.publish(&types::message(&topic, &body, Qos::AtLeastOnce, false)) {
            Ok(id) => {
                admitted.insert(id);
            }
            Err(e) => break e,
        }
        assert!(
            admitted.len() * 1024 <= 4 << 20,
            "no backpressure within 4 MiB"
        );
    };
    assert!(
        matches!(
            refusal.mqtt(),
            Some(WitError::QueueFull | WitError::WouldBlock)
        ),
        "{refusal:?}"
    );
    // The budgets held: the window plus the queue, nothing more.
    let budget = INFLIGHT as usize + QUEUED as usize;
    assert!(
        (QUEUED as usize..=budget).contains(&admitted.len()),
        "{}",
        admitted.len()
    );

    proxy.resume_client_writes();
    let mut open = admitted.clone();
    while !open.is_empty() {
        if let Event::PublishComplete((id, d)) = next_event(&mut client, "every PUBACK") {
            assert!(matches!(d, Delivery::Acknowledged(_)), "{id}: {d:?}");
            assert!(
                open.remove(&id),
                "{id} completed twice or was never admitted"
            );
        }
    }
    let mut seen = BTreeMap::new();
    while seen.len() < admitted.len() {
        if let Event::Message(m) = next_event(&mut sub, "every message") {
            let index = String::from_utf8_lossy(&m.payload[..6]).to_string();
            *seen.entry(index).or_insert(0) += 1;
        }
    }
    assert!(seen.values().all(|&n| n == 1), "each message once");
    report("S3", refusal.code());
    client.disconnect().unwrap();
    sub.disconnect().unwrap();
}

#[test]
fn s4_invalid_options() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut zero_window = options(addr, "s4a");
    zero_window.max_inflight = Some(0);
    let mut zero_multiplier = options(addr, "s4b");
    zero_multiplier.reconnect.as_mut().unwrap().multiplier = 0;
    let mut jitter = options(addr, "s4c");
    jitter.reconnect.as_mut().unwrap().jitter_percent = 101;
    let mut codes = Vec::new();
    for (o, core) in [
        (zero_window, "max_inflight must be at least 1"),
        (zero_multiplier, "reconnect multiplier must be at least 1"),
        (jitter, "reconnect jitter_percent must be 0-100, not 101"),
    ] {
        let e = wit_error("invalid options", connect(addr, &o));
        // The core's OptionsError, its text and its code, unchanged.
        assert_eq!(e.mqtt(), Some(&WitError::InvalidArgument(core.to_string())));
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        codes.push(e.code());
    }
    // Nothing was sent: no connection was even opened.
    assert_eq!(
        listener.accept().map(|_| ()).unwrap_err().kind(),
        ErrorKind::WouldBlock
    );
    report("S4", codes[0]);
}

#[test]
fn s5_broker_closes_mid_session() {
    let broker = Mosquitto::start();
    let proxy = Proxy::start(broker.addr());
    let topic = format!("scen/provider/s5/{}", std::process::id());
    let mut client = connect(proxy.addr(), &options(proxy.addr(), "s5")).unwrap();
    let rid = client
        .subscribe(&[types::subscription(&topic, Qos::AtLeastOnce)], None)
        .unwrap();
    loop {
        match next_event(&mut client, "SUBACK") {
            Event::Subscribed((id, _)) if id == rid => break,
            Event::Connected(_) => {}
            e => panic!("unexpected {e:?}"),
        }
    }

    proxy.cut();
    let info = match next_event(&mut client, "the disconnect") {
        Event::Disconnected(info) => info,
        e => panic!("unexpected {e:?}"),
    };
    assert!(info.will_reconnect, "{info:?}");
    assert_eq!(
        info.reason_code, None,
        "no reason code from the broker: {info:?}"
    );
    // The WIT disconnect-info carries the core's text and its code (DisconnectReason::code()).
    assert_eq!(info.code, "CONNECTION_LOST", "{info:?}");
    assert!(info.reason.starts_with("connection lost"), "{info:?}");
    let outcome = "CONNECTION_LOST";
    loop {
        match next_event(&mut client, "the reconnection") {
            Event::Connected(_) => break,
            Event::Disconnected(_) => {}
            e => panic!("unexpected {e:?}"),
        }
    }
    assert!(client.is_connected().unwrap());
    let id = client
        .publish(&types::message(&topic, b"again", Qos::AtLeastOnce, false))
        .unwrap();
    let (mut acked, mut received) = (false, false);
    while !(acked && received) {
        match next_event(&mut client, "the round trip") {
            Event::PublishComplete((done, d)) if done == id => {
                assert!(matches!(d, Delivery::Acknowledged(_)), "{d:?}");
                acked = true;
            }
            Event::Message(m) => {
                assert_eq!(m.payload, b"again");
                received = true;
            }
            Event::Subscribed(_) => {}
            e => panic!("unexpected {e:?}"),
        }
    }
    report("S5", outcome);
    client.disconnect().unwrap();
}
