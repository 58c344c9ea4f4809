//! The flags of `wasmqtt-cli pub|sub|rr`, mosquitto_pub / mosquitto_sub / mosquitto_rr style,
//! parsed with [lexopt](https://docs.rs/lexopt), and what the command does with them that
//! needs no network: the `-F` output format ([`format`]), the `-D` properties ([`Props`]) and
//! the exit codes and messages of every failure ([`exit`]).
//!
//! One parser for every place that reads these flags: the command component itself
//! (`src/main.rs`, wasm32-wasip2) and `wasmqtt-host pub|sub|rr`, which reads the brokers
//! (`-L`, or `-h` and `-p`) and the files (TLS, `-f`) from the same [`Args`] to give the
//! component network access to those brokers, read access to those files' directories, and
//! nothing else.
//!
//! ```
//! use wasmqtt_cli::{parse, Command};
//! let args = parse(["pub", "-h", "10.0.0.2", "-p", "1884", "-t", "a/b", "-m", "hi"]).unwrap();
//! assert_eq!((args.command, args.host.as_str(), args.port), (Command::Pub, "10.0.0.2", 1884));
//!
//! // mosquitto's -L: the URL's path is the topic; several -L are a failover list.
//! let args = parse(["sub", "-L", "mqtts://u:pw@a.example/x/y", "-L", "mqtts://b.example"]).unwrap();
//! assert_eq!(args.topics, ["x/y"]);
//! assert_eq!(args.brokers[1].to_string(), "mqtts://b.example:8883");
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod brokers;
pub mod exit;
pub mod format;
mod parse;
mod props;
mod tls;
mod usage;

pub use args::{Args, ArgsError, Command, Payload};
pub use brokers::without_dot;
pub use parse::parse;
pub use props::{ConnectProps, Props};
pub use tls::{TlsFlags, TlsPem, TlsVersion};
pub use usage::USAGE;
