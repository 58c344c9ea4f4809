//! A WASI 0.3 app of the wasmqtt provider: `p3-roundtrip BROKER_URL TOPIC COUNT [311|5]`
//! connects, subscribes to `TOPIC/#` at QoS 2, publishes COUNT messages to `TOPIC/N` (QoS N % 3,
//! each `publish` awaited: it resolves on PUBACK / PUBCOMP), reads them back from the
//! subscription's stream, checks each payload, disconnects and prints
//! `p3 roundtrip ok: COUNT published, COUNT received`. Exit status 1 with the reason otherwise.
//!
//! Compose it with the provider (`wasmqtt-host compose p3_roundtrip.wasm --plug
//! wasmqtt_provider_p3.wasm -o app.wasm`) and run it (`wasmqtt-host run --p3 --broker ...`).

#[cfg(target_arch = "wasm32")]
mod app {
    wit_bindgen::generate!({
        path: "../../wit/v0.2",
        world: "app",
        generate_all,
    });

    use wasmqtt::mqtt::client::Client;
    use wasmqtt::mqtt::types::{ConnectOptions, Error, Message, Qos, Subscription};

    async fn print(text: String) {
        let (mut tx, rx) = wasip3::wit_stream::new();
        futures::join!(
            async { wasip3::cli::stdout::write_via_stream(rx).await.unwrap() },
            async {
                tx.write_all(text.into_bytes()).await;
                drop(tx);
            }
        );
    }

    async fn roundtrip(args: &[String]) -> Result<String, String> {
        let [_, broker, topic, count, rest @ ..] = args else {
            return Err("usage: p3-roundtrip BROKER_URL TOPIC COUNT [311|5]".into());
        };
        let count: u32 = count
            .parse()
            .map_err(|_| format!("COUNT: not a number: {count}"))?;
        let v5 = rest.first().is_none_or(|v| v != "311");
        let e = |what: &str, e: Error| format!("{what}: {e:?}");
        let client = Client::connect(ConnectOptions {
            broker: broker.clone(),
            client_id: format!(
                "p3-roundtrip-{}",
                wasip3::random::random::get_random_u64() % 1_000_000
            ),
            v5,
            keep_alive_secs: 30,
            clean_start: true,
        })
        .await
        .map_err(|x| e("connect", x))?;
        let (codes, mut messages) = client
            .subscribe(vec![Subscription {
                filter: format!("{topic}/#"),
                qos: Qos::ExactlyOnce,
            }])
            .await
            .map_err(|x| e("subscribe", x))?;
        if codes.iter().any(|c| *c >= 0x80) {
            return Err(format!("subscribe refused: {codes:?}"));
        }
        for n in 0..count {
            let qos = [Qos::AtMostOnce, Qos::AtLeastOnce, Qos::ExactlyOnce][(n % 3) as usize];
            let code = client
                .publish(Message {
                    topic: format!("{topic}/{n}"),
                    payload: format!("message {n}").into_bytes(),
                    qos,
                    retain: false,
                })
                .await
                .map_err(|x| e("publish", x))?;
            if code >= 0x80 {
                return Err(format!("publish {n} refused: 0x{code:02x}"));
            }
        }
        let mut seen = vec![false; count as usize];
        for _ in 0..count {
            let m = messages
                .next()
                .await
                .ok_or("the message stream ended early")?;
            let n: usize = m
                .topic
                .rsplit('/')
                .next()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| format!("unexpected topic {}", m.topic))?;
            if m.payload != format!("message {n}").into_bytes() || seen.get(n) != Some(&false) {
                return Err(format!("message {n}: wrong payload or delivered twice"));
            }
            seen[n] = true;
        }
        client.disconnect().await.map_err(|x| e("disconnect", x))?;
        Ok(format!(
            "p3 roundtrip ok: {count} published, {count} received\n"
        ))
    }

    struct App;

    impl wasip3::exports::cli::run::Guest for App {
        async fn run() -> Result<(), ()> {
            let args = wasip3::cli::environment::get_arguments();
            match roundtrip(&args).await {
                Ok(text) => {
                    print(text).await;
                    Ok(())
                }
                Err(text) => {
                    print(format!("p3 roundtrip failed: {text}\n")).await;
                    Err(())
                }
            }
        }
    }

    wasip3::cli::command::export!(App);
}
