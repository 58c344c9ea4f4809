//! `wasmqtt-host demo`: the provider component talking to a broker, round trip shown.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::policy::{split_host_port, NetworkPolicy};
use crate::provider::{describe_error, types, Provider};
use types::{Delivery, Event, ProtocolVersion, Qos};
use wasmqtt_testkit::certs::TestCerts;
use wasmqtt_testkit::mosquitto::{self, Mosquitto};
use wasmqtt_testkit::rumqttd::Rumqttd;

/// What the demo does.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// `host:port` of a broker to use; `None` starts an embedded rumqttd.
    pub broker: Option<String>,
    /// Protocol versions to run the round trip in, in order.
    pub protocols: Vec<ProtocolVersion>,
    /// Messages published at each QoS.
    pub per_qos: u32,
    /// How long to wait for every message and completion.
    pub timeout: Duration,
    /// `mqtts://`: a CA and a server certificate generated on the spot (rcgen) and a
    /// mosquitto TLS listener with them (instead of rumqttd; `broker` is then ignored).
    pub tls: bool,
}

/// Where one round connects.
struct Target {
    protocol: ProtocolVersion,
    host: String,
    port: u16,
    /// The `mqtts://` URL and the CA (PEM) to trust, for the TLS demo.
    tls: Option<(String, String)>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        Self {
            broker: None,
            protocols: vec![ProtocolVersion::V311, ProtocolVersion::V5],
            per_qos: 3,
            timeout: Duration::from_secs(10),
            tls: false,
        }
    }
}

/// What one round of the demo measured.
#[derive(Debug, Clone, Default)]
pub struct RoundReport {
    /// Messages published.
    pub published: usize,
    /// Messages received back through the subscription.
    pub received: usize,
    /// Publishes completed as acknowledged.
    pub acknowledged: usize,
    /// Publish → receive times.
    pub round_trips: Vec<Duration>,
    /// Time to connect (CONNACK).
    pub connect: Duration,
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn protocol_name(p: ProtocolVersion) -> &'static str {
    match p {
        ProtocolVersion::V311 => "MQTT 3.1.1",
        ProtocolVersion::V5 => "MQTT 5.0",
    }
}

/// Runs the demo with `provider`, writing what happens to `out`. Fails if a message or a
/// completion is missing at the end.
pub fn run(
    provider: &Provider,
    config: &DemoConfig,
    out: &mut dyn Write,
) -> anyhow::Result<Vec<RoundReport>> {
    let loaded = provider.component();
    writeln!(
        out,
        "provider component: {} ({} bytes), {} in {}",
        loaded.path.display(),
        loaded.size,
        if loaded.cached {
            "loaded from the compiled-component cache"
        } else {
            "compiled by wasmtime"
        },
        ms(loaded.compile_time)
    )?;

    // Where each protocol version connects; the brokers started here live until the end.
    let mut _tls_broker: Option<(TestCerts, Mosquitto)> = None;
    let mut _rumqttd: Vec<Rumqttd> = Vec::new();
    let targets: Vec<Target> = match &config.broker {
        _ if config.tls => {
            let t0 = Instant::now();
            let certs = TestCerts::generate();
            let broker = Mosquitto::start_with(mosquitto::Options {
                tls: Some(certs.server_files()),
                ..mosquitto::Options::default()
            });
            let url = format!("mqtts://127.0.0.1:{}", broker.tls_port());
            writeln!(
                out,
                "broker: mosquitto with a TLS listener on {url}, its certificate for 127.0.0.1 \
                 signed by a CA generated just now (rcgen, ECDSA P-256; started in {})",
                ms(t0.elapsed())
            )?;
            let targets = config
                .protocols
                .iter()
                .map(|&protocol| Target {
                    protocol,
                    host: "127.0.0.1".into(),
                    port: broker.tls_port(),
                    tls: Some((url.clone(), certs.ca.cert.clone())),
                })
                .collect();
            _tls_broker = Some((certs, broker));
            targets
        }
        Some(addr) => {
            let (host, port) = split_host_port(addr)?;
            let host = host.trim_start_matches('[').trim_end_matches(']');
            writeln!(out, "broker: {host}:{port} (given)")?;
            config
                .protocols
                .iter()
                .map(|&protocol| Target {
                    protocol,
                    host: host.to_string(),
                    port,
                    tls: None,
                })
                .collect()
        }
        None => {
            // One embedded broker per protocol version: rumqttd 0.20's router can give a new
            // connection the id of one whose disconnect it is still processing, then close the
            // new one with the old one's second disconnect event (seen as the MQTT 5.0 round's
            // connect closed by the broker, about one demo in 40 under load, when it connected
            // within a millisecond of the 3.1.1 round's DISCONNECT). Two routers share no ids.
            let t0 = Instant::now();
            let mut targets = Vec::new();
            let mut listening = Vec::new();
            for &protocol in &config.protocols {
                let broker = Rumqttd::try_start().map_err(anyhow::Error::msg)?;
                let a = match protocol {
                    ProtocolVersion::V311 => broker.v4_addr(),
                    ProtocolVersion::V5 => broker.v5_addr(),
                };
                listening.push(format!("{} on {a}", protocol_name(protocol)));
                targets.push(Target {
                    protocol,
                    host: a.ip().to_string(),
                    port: a.port(),
                    tls: None,
                });
                _rumqttd.push(broker);
            }
            writeln!(
                out,
                "broker: embedded rumqttd, {} (one broker each; started in {})",
                listening.join(", "),
                ms(t0.elapsed())
            )?;
            targets
        }
    };

    let mut reports = Vec::new();
    for target in &targets {
        reports.push(round(provider, config, target, out)?);
    }
    writeln!(out)?;
    let all: Vec<Duration> = reports.iter().flat_map(|r| r.round_trips.clone()).collect();
    let (p50, max) = percentiles(&all);
    writeln!(
        out,
        "demo ok: {} messages published, {} received, {} acknowledged; round trip p50 {}, max {}",
        reports.iter().map(|r| r.published).sum::<usize>(),
        reports.iter().map(|r| r.received).sum::<usize>(),
        reports.iter().map(|r| r.acknowledged).sum::<usize>(),
        ms(p50),
        ms(max)
    )?;
    Ok(reports)
}

fn percentiles(v: &[Duration]) -> (Duration, Duration) {
    let mut v = v.to_vec();
    v.sort();
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    (v[v.len() / 2], v[v.len() - 1])
}

fn round(
    provider: &Provider,
    config: &DemoConfig,
    target: &Target,
    out: &mut dyn Write,
) -> anyhow::Result<RoundReport> {
    let (protocol, host, port) = (target.protocol, target.host.as_str(), target.port);
    let mut report = RoundReport::default();
    match &target.tls {
        Some((url, _)) => writeln!(out, "\n== {} to {url}", protocol_name(protocol))?,
        None => writeln!(out, "\n== {} to {host}:{port}", protocol_name(protocol))?,
    }
    let policy = NetworkPolicy::broker(host, port)?;
    writeln!(out, "network policy: {policy}")?;

    let client_id = match protocol {
        ProtocolVersion::V311 => "wasmqtt-demo-311",
        ProtocolVersion::V5 => "wasmqtt-demo-5",
    };
    let mut options = types::connect_options(host, port, client_id, protocol);
    options.keep_alive_secs = 30;
    if let Some((url, ca)) = &target.tls {
        options.brokers = vec![url.clone()];
        options.tls = Some(types::tls_with_ca(ca));
    }
    let t0 = Instant::now();
    let instance = provider.instantiate(&policy)?;
    let instantiated = t0.elapsed();
    let mut client = instance
        .connect(&options)
        .map_err(|e| anyhow::anyhow!("connect to {host}:{port}: {e}"))?;
    report.connect = t0.elapsed() - instantiated;
    writeln!(
        out,
        "instantiated in {}, connected in {}",
        ms(instantiated),
        ms(report.connect)
    )?;
    if target.tls.is_some() {
        let info = client
            .connection_info()
            .map_err(|e| anyhow::anyhow!("connection-info: {e}"))?;
        writeln!(
            out,
            "TLS handshake done, certificate verified against the generated CA; \
             connection-info.broker: {}",
            info.broker.as_deref().unwrap_or("(none)")
        )?;
    }

    let topic_root = format!("wasmqtt/demo/{}", client_id);
    let topic = |qos: Qos| format!("{topic_root}/meter/qos{}", qos.level());
    let start = Instant::now();
    let stamp = |t: Instant| format!("[{:>8.2} ms]", (t - start).as_secs_f64() * 1e3);

    // One filter per QoS, each subscribed at its QoS: a message then arrives at the QoS it was
    // published with on every broker. (rumqttd 0.20 forwards at the subscription's QoS instead
    // of the lower of the two, and its v5 listener assigns topic aliases per subscription
    // filter rather than per topic, so one wildcard filter would show it mislabelling topics.)
    let all = [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce];
    let subscriptions: Vec<types::Subscription> = all
        .iter()
        .map(|&q| types::subscription(&topic(q), q))
        .collect();
    let sub_id = client
        .subscribe(&subscriptions, None)
        .map_err(|e| anyhow::anyhow!("subscribe: {e}"))?;
    for s in &subscriptions {
        writeln!(
            out,
            "{} subscribe {} at QoS {} (request {sub_id})",
            stamp(Instant::now()),
            s.filter,
            s.qos.level()
        )?;
    }
    // Wait for SUBACK before publishing, so every message comes back.
    let deadline = Instant::now() + config.timeout;
    loop {
        if Instant::now() > deadline {
            bail!("no SUBACK within {:?}", config.timeout);
        }
        match client.poll_event(Duration::from_millis(100)) {
            Ok(Some(Event::Subscribed((id, codes)))) if id == sub_id => {
                writeln!(
                    out,
                    "{} subscribed: granted QoS {codes:?}",
                    stamp(Instant::now())
                )?;
                if codes != [0, 1, 2] {
                    bail!("the broker granted {codes:?}, not [0, 1, 2]");
                }
                break;
            }
            Ok(Some(e)) => writeln!(out, "{} {}", stamp(Instant::now()), event_text(&e))?,
            Ok(None) => {}
            Err(e) => bail!("waiting for SUBACK: {e}"),
        }
    }

    // Publish: per_qos messages at each QoS, like a power meter's readings.
    let mut sent_at: HashMap<Vec<u8>, (Instant, String, Qos)> = HashMap::new();
    let mut pending: HashMap<u64, (Instant, Qos)> = HashMap::new();
    let mut seq = 0u32;
    for qos in all {
        for _ in 0..config.per_qos {
            seq += 1;
            let name = topic(qos);
            let payload = format!(
                "{{\"seq\":{seq},\"watts\":{:.1}}}",
                230.0 + f64::from(seq) * 1.7
            );
            let t = Instant::now();
            let id = client
                .publish(&types::message(&name, payload.as_bytes(), qos, false))
                .map_err(|e| anyhow::anyhow!("publish: {e}"))?;
            writeln!(
                out,
                "{} publish #{id} QoS {} {name} {payload}",
                stamp(t),
                qos.level()
            )?;
            sent_at.insert(payload.into_bytes(), (t, name, qos));
            pending.insert(id, (t, qos));
            report.published += 1;
        }
    }

    // Pull events until every message came back and every publish completed.
    let deadline = Instant::now() + config.timeout;
    while (report.received < report.published || !pending.is_empty()) && Instant::now() < deadline {
        let event = match client.poll_event(Duration::from_millis(100)) {
            Ok(Some(e)) => e,
            Ok(None) => continue,
            Err(e) => bail!("poll-event: {e}"),
        };
        let now = Instant::now();
        match &event {
            Event::Message(m) => {
                let mut line = format!(
                    "{} received QoS {} {} {}",
                    stamp(now),
                    m.qos.level(),
                    m.topic,
                    String::from_utf8_lossy(&m.payload)
                );
                if let Some((t, name, qos)) = sent_at.remove(&m.payload) {
                    if m.topic != name || m.qos != qos {
                        bail!(
                            "received {:?} on {} at QoS {}, published on {name} at QoS {}",
                            String::from_utf8_lossy(&m.payload),
                            m.topic,
                            m.qos.level(),
                            qos.level()
                        );
                    }
                    report.received += 1;
                    report.round_trips.push(now - t);
                    let _ = write!(line, "  round trip {}", ms(now - t));
                }
                writeln!(out, "{line}")?;
            }
            Event::PublishComplete((id, delivery)) => {
                let Some((t, qos)) = pending.remove(id) else {
                    writeln!(out, "{} {}", stamp(now), event_text(&event))?;
                    continue;
                };
                let what = match delivery {
                    Delivery::Acknowledged(code) => {
                        report.acknowledged += 1;
                        match qos {
                            Qos::AtMostOnce => format!("written (reason 0x{code:02x})"),
                            Qos::AtLeastOnce => format!("PUBACK (reason 0x{code:02x})"),
                            Qos::ExactlyOnce => format!("PUBCOMP (reason 0x{code:02x})"),
                        }
                    }
                    Delivery::Failed(e) => format!("FAILED: {}", describe_error(e)),
                };
                writeln!(
                    out,
                    "{} complete #{id} QoS {}: {what} after {}",
                    stamp(now),
                    qos.level(),
                    ms(now - t)
                )?;
            }
            other => writeln!(out, "{} {}", stamp(now), event_text(other))?,
        }
    }
    let t = Instant::now();
    client
        .disconnect()
        .map_err(|e| anyhow::anyhow!("disconnect: {e}"))?;
    writeln!(out, "{} disconnected", stamp(t))?;
    client.close().context("dropping the client")?;

    let (p50, max) = percentiles(&report.round_trips);
    writeln!(
        out,
        "{}: {}/{} received, {}/{} acknowledged; round trip p50 {}, max {}",
        protocol_name(protocol),
        report.received,
        report.published,
        report.acknowledged,
        report.published,
        ms(p50),
        ms(max)
    )?;
    if report.received < report.published || report.acknowledged < report.published {
        bail!(
            "{}: messages missing after {:?}: {} of {} received, {} of {} acknowledged",
            protocol_name(protocol),
            config.timeout,
            report.received,
            report.published,
            report.acknowledged,
            report.published
        );
    }
    Ok(report)
}

/// One line for an event.
pub fn event_text(e: &Event) -> String {
    match e {
        Event::Connected(info) => format!(
            "connected: session present {}, keep-alive {} s, inflight window {}{}",
            info.session_present,
            info.keep_alive_secs,
            info.inflight_window,
            info.assigned_client_id
                .as_deref()
                .map(|id| format!(", assigned client id {id}"))
                .unwrap_or_default()
        ),
        Event::Disconnected(d) => format!(
            "disconnected: {}{}{}",
            d.reason,
            d.reason_code
                .map(|c| format!(" (0x{c:02x})"))
                .unwrap_or_default(),
            if d.will_reconnect {
                ", will reconnect"
            } else {
                ""
            }
        ),
        Event::Message(m) => format!(
            "message QoS {}{} {} {}",
            m.qos.level(),
            if m.retain { " retained" } else { "" },
            m.topic,
            String::from_utf8_lossy(&m.payload)
        ),
        Event::PublishComplete((id, Delivery::Acknowledged(code))) => {
            format!("publish #{id} acknowledged (0x{code:02x})")
        }
        Event::PublishComplete((id, Delivery::Failed(e))) => {
            format!("publish #{id} failed: {}", describe_error(e))
        }
        Event::Subscribed((id, codes)) => format!("subscribed (request {id}): {codes:?}"),
        Event::Unsubscribed((id, codes)) => format!("unsubscribed (request {id}): {codes:?}"),
        Event::RequestFailed((id, e)) => {
            format!("request {id} failed: {}", describe_error(e))
        }
        Event::Response((id, outcome)) => match outcome {
            types::ResponseOutcome::Response(m) => format!(
                "response #{id} on {}: {}",
                m.topic,
                String::from_utf8_lossy(&m.payload)
            ),
            types::ResponseOutcome::Timeout => format!("response #{id}: timed out"),
            types::ResponseOutcome::Failed(e) => {
                format!("response #{id} failed: {}", describe_error(e))
            }
        },
    }
}

/// Convenience for the binary: runs the demo on stdout.
pub fn run_on_stdout(provider: &Provider, config: &DemoConfig) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    run(provider, config, &mut out)?;
    Ok(())
}
