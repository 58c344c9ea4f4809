//! The `wasi:messaging` runner: the host side of an app's `wasi:messaging/incoming-handler`,
//! as a command component. Composed with the wasmqtt messaging provider and an app
//! (`wasmqtt-host compose-messaging`), it connects the client `--client NAME` (default
//! `default`: the URL of `$WASMQTT_BROKER`, see the provider), subscribes to each FILTER, and
//! calls the app's `handle` with every message, one at a time, in the order they arrived.
//!
//! ```text
//! runner [--client NAME] [--qos 0|1|2] [--max-messages N] FILTER...
//! ```
//!
//! A QoS 1/2 message is acknowledged to the broker once `handle` returned, whatever it
//! returned: a crash (of the app, the runner or the host) before that makes the broker send it
//! again (at least once). An error from `handle` is printed on stderr and the runner goes on
//! (the proposal leaves it to the host). `--max-messages N` ends the run, with exit status 0,
//! after N messages; without it the runner runs until the connection is closed for good (exit
//! status 1). Bad arguments: a message on stderr and exit status 2.

/// The command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub client: String,
    pub qos: u8,
    pub max_messages: Option<u64>,
    pub filters: Vec<String>,
}

const USAGE: &str = "usage: runner [--client NAME] [--qos 0|1|2] [--max-messages N] FILTER...";

/// Parses the arguments (without the program name).
pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Args, String> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut a = Args {
        client: "default".to_string(),
        qos: 1,
        max_messages: None,
        filters: Vec::new(),
    };
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Long("client") => {
                a.client = p
                    .value()
                    .map_err(|e| e.to_string())?
                    .string()
                    .map_err(|e| e.to_string())?
            }
            Long("qos") => {
                a.qos = p
                    .value()
                    .map_err(|e| e.to_string())?
                    .parse()
                    .map_err(|e: lexopt::Error| e.to_string())?;
                if a.qos > 2 {
                    return Err(format!("--qos must be 0, 1 or 2, not {}", a.qos));
                }
            }
            Long("max-messages") => {
                a.max_messages = Some(
                    p.value()
                        .map_err(|e| e.to_string())?
                        .parse()
                        .map_err(|e: lexopt::Error| e.to_string())?,
                )
            }
            Long("help") => return Err(USAGE.to_string()),
            Value(v) => a.filters.push(v.string().map_err(|e| e.to_string())?),
            other => return Err(format!("{}\n{USAGE}", other.unexpected())),
        }
    }
    if a.filters.is_empty() {
        return Err(format!("no topic filter given\n{USAGE}"));
    }
    Ok(a)
}

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
mod run {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "messaging-runner",
        generate_all,
    });

    use wasi::messaging::incoming_handler::handle;
    use wasi::messaging::types::{Client, Error};
    use wasmqtt::mqtt::messaging_consumer::{self as consumer, Qos};

    fn text(e: &Error) -> String {
        match e {
            Error::Timeout => "timeout".to_string(),
            Error::Connection(s) => format!("connection: {s}"),
            Error::PermissionDenied(s) => format!("permission denied: {s}"),
            Error::Other(s) => s.clone(),
        }
    }

    /// Runs until `--max-messages` were handled (Ok) or the connection failed (Err).
    pub fn run(a: &super::Args) -> Result<(), String> {
        let client = Client::connect(&a.client).map_err(|e| format!("connect: {}", text(&e)))?;
        let qos = match a.qos {
            0 => Qos::AtMostOnce,
            1 => Qos::AtLeastOnce,
            _ => Qos::ExactlyOnce,
        };
        consumer::subscribe(&client, &a.filters, qos)
            .map_err(|e| format!("subscribe: {}", text(&e)))?;
        eprintln!("runner: subscribed to {}", a.filters.join(" "));
        let mut handled = 0u64;
        while a.max_messages.is_none_or(|n| handled < n) {
            let batch = consumer::receive(&client, 64, 1_000)
                .map_err(|e| format!("receive: {}", text(&e)))?;
            for d in batch {
                let topic = d.message.topic().unwrap_or_default();
                if let Err(e) = handle(d.message) {
                    eprintln!(
                        "runner: the handler failed for a message on '{topic}': {}",
                        text(&e)
                    );
                }
                if let Some(id) = d.ack_id {
                    consumer::ack(&client, id).map_err(|e| format!("ack: {}", text(&e)))?;
                }
                handled += 1;
            }
        }
        eprintln!("runner: {handled} messages handled");
        let _ = client.disconnect();
        Ok(())
    }
}

/// Ends the command with `code` (`wasi:cli/exit.exit-with-code`: `std::process::exit` would
/// only tell the host success or failure).
fn exit(code: u8) -> ! {
    #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
    wasip2::cli::exit::exit_with_code(code);
    #[allow(unreachable_code)]
    std::process::exit(code.into())
}

fn main() {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            exit(2);
        }
    };
    #[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
    if let Err(e) = run::run(&args) {
        eprintln!("runner: {e}");
        exit(1);
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
    {
        let _ = args;
        eprintln!("the messaging runner is a wasm32-wasip2 command component: compose it with the provider and an app (wasmqtt-host compose-messaging)");
        std::process::exit(2);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Args, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags_and_filters() {
        let a = p(&[
            "--client",
            "b",
            "--qos",
            "2",
            "--max-messages",
            "3",
            "a/#",
            "b",
        ])
        .unwrap();
        assert_eq!(a.client, "b");
        assert_eq!(a.qos, 2);
        assert_eq!(a.max_messages, Some(3));
        assert_eq!(a.filters, ["a/#", "b"]);
        assert_eq!(p(&["x"]).unwrap().qos, 1);
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(p(&[]).unwrap_err().contains("no topic filter"));
        assert!(p(&["--qos", "3", "a"]).unwrap_err().contains("0, 1 or 2"));
        assert!(p(&["--qos", "x", "a"]).is_err());
        assert!(p(&["--bogus", "a"]).is_err());
    }
}
