//! A power-meter reader as a WebAssembly component: it imports `wasmqtt:mqtt/client` and
//! publishes its readings, one per `--interval-ms`, at QoS 1 to `meter/{id}/watts`.
//!
//! Compose it with the provider and run it:
//! `wac plug power-meter.wasm --plug wasmqtt_provider.wasm -o meter.wasm`,
//! `wasmqtt-host run meter.wasm --broker 127.0.0.1:1883 -- --port 1883 --count 5`.

#[cfg(target_arch = "wasm32")]
mod app {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "app",
        with: { "wasi:io/poll@0.2.12": wasip2::io::poll },
    });

    use wasmqtt::mqtt::client::Client;
    use wasmqtt::mqtt::types::{ConnectOptions, Delivery, Event, Message, ProtocolVersion, Qos};

    pub struct Args {
        pub host: String,
        pub port: u16,
        pub id: String,
        pub count: u32,
        pub interval_ms: u64,
        pub v5: bool,
    }

    /// A simulated meter: a daily load curve with a little noise, deterministic per id.
    fn reading(id: &str, n: u32) -> f64 {
        let seed = id
            .bytes()
            .fold(7u64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
        let phase = (seed % 360) as f64;
        let noise = ((seed.wrapping_add(n.into()).wrapping_mul(2_654_435_761)) % 100) as f64 / 10.0;
        1200.0 + 800.0 * ((f64::from(n) * 15.0 + phase).to_radians()).sin() + noise
    }

    pub fn run(a: Args) -> Result<(), String> {
        let client = Client::connect(&ConnectOptions {
            host: a.host.clone(),
            port: a.port,
            brokers: Vec::new(),
            tls: None,
            websocket_headers: Vec::new(),
            client_id: format!("power-meter-{}", a.id),
            username: None,
            password: None,
            keep_alive_secs: 30,
            clean_start: true,
            will: None,
            protocol: if a.v5 {
                ProtocolVersion::V5
            } else {
                ProtocolVersion::V311
            },
            session_expiry_interval: None,
            reconnect: None,
            max_inflight: None,
            max_queued_messages: None,
            connect_timeout_ms: Some(5_000),
            topic_alias_maximum: None,
            store: None,
            manual_acks: None,
        })
        .map_err(|e| format!("connect: {e:?}"))?;
        let topic = format!("meter/{}/watts", a.id);
        let mut pending = Vec::new();
        for n in 0..a.count {
            let watts = reading(&a.id, n);
            let id = client
                .publish(&Message {
                    topic: topic.clone(),
                    payload: format!("{watts:.1}").into_bytes(),
                    qos: Qos::AtLeastOnce,
                    retain: false,
                    properties: None,
                    ack_id: None,
                })
                .map_err(|e| format!("publish: {e:?}"))?;
            pending.push(id);
            println!("reading {n}: {watts:.1} W -> {topic}");
            // Wait the interval, keeping the connection alive meanwhile.
            let until = now_ms() + a.interval_ms;
            while now_ms() < until {
                if let Some(e) = client
                    .poll_event(until.saturating_sub(now_ms()))
                    .map_err(|e| format!("poll: {e:?}"))?
                {
                    settle(e, &mut pending)?;
                }
            }
        }
        let deadline = now_ms() + 10_000;
        while !pending.is_empty() {
            if now_ms() >= deadline {
                return Err(format!("{} readings not acknowledged", pending.len()));
            }
            if let Some(e) = client
                .poll_event(1000)
                .map_err(|e| format!("poll: {e:?}"))?
            {
                settle(e, &mut pending)?;
            }
        }
        println!("published {} readings, all acknowledged", a.count);
        client
            .disconnect()
            .map_err(|e| format!("disconnect: {e:?}"))
    }

    fn settle(e: Event, pending: &mut Vec<u64>) -> Result<(), String> {
        if let Event::PublishComplete((id, delivery)) = e {
            match delivery {
                Delivery::Acknowledged(_) => pending.retain(|p| *p != id),
                Delivery::Failed(e) => return Err(format!("reading {id} failed: {e:?}")),
            }
        }
        Ok(())
    }

    fn now_ms() -> u64 {
        wasip2::clocks::monotonic_clock::now() / 1_000_000
    }
}

fn parse() -> Result<(String, u16, String, u32, u64, bool), String> {
    let mut host = "127.0.0.1".to_string();
    let mut port = 1883u16;
    let mut id = "1".to_string();
    let mut count = 5u32;
    let mut interval_ms = 200u64;
    let mut v5 = false;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--host" => host = value()?,
            "--port" => port = value()?.parse().map_err(|_| "invalid --port")?,
            "--id" => id = value()?,
            "--count" => count = value()?.parse().map_err(|_| "invalid --count")?,
            "--interval-ms" => {
                interval_ms = value()?.parse().map_err(|_| "invalid --interval-ms")?
            }
            "--v5" => v5 = true,
            f => return Err(format!("unknown flag {f}")),
        }
    }
    Ok((host, port, id, count, interval_ms, v5))
}

fn main() {
    let args = match parse() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\nusage: power-meter [--host H] [--port P] [--id ID] [--count N] [--interval-ms MS] [--v5]");
            std::process::exit(2);
        }
    };
    #[cfg(target_arch = "wasm32")]
    {
        let (host, port, id, count, interval_ms, v5) = args;
        if let Err(e) = app::run(app::Args {
            host,
            port,
            id,
            count,
            interval_ms,
            v5,
        }) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let _ = args;
        eprintln!("power-meter is a WebAssembly component: build it with --target wasm32-wasip2");
        std::process::exit(2);
    }
}
