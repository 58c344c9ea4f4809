//! `wasmqtt-host`: runs the wasmqtt components in wasmtime with network access to one broker.
//!
//! ```text
//! wasmqtt-host pub -h 127.0.0.1 -p 1883 -t a/b -m hello -q 1     (the command component)
//! wasmqtt-host sub -h 127.0.0.1 -p 1883 -t 'a/#' -C 1 -v
//! wasmqtt-host run --broker 127.0.0.1:1883 app.wasm [args...]    (any wasi:cli/run command)
//! wasmqtt-host demo [--broker host:port]                          (the provider, round trip)
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand, ValueEnum};
use wasmqtt_host::demo::{self, DemoConfig};
use wasmqtt_host::types::ProtocolVersion;
use wasmqtt_host::{
    run_command_file, workspace_root, Artifact, CommandConfig, NetworkPolicy, Provider, Runtime,
};

#[derive(Parser)]
#[command(
    name = "wasmqtt-host",
    version,
    about = "Runs the wasmqtt WebAssembly components in wasmtime, with network access to \
             exactly one MQTT broker",
    after_help = "Component paths default to target/wasm32-wasip2/wasm/ in the workspace; \
                  $WASMQTT_PROVIDER_WASM and $WASMQTT_CLI_WASM override them."
)]
struct Cli {
    /// The command-line component for `pub` and `sub` [default: $WASMQTT_CLI_WASM or
    /// target/wasm32-wasip2/wasm/wasmqtt-cli.wasm].
    #[arg(long, value_name = "WASM")]
    cli_wasm: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Publish, with mosquitto_pub's flags (-h -p -t -m -q -r -u -P -i -k -V 311|5, will
    /// flags, …), run by the command component. The network policy comes from -h and -p.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Pub {
        /// Passed to the component unchanged (`--help` prints its usage).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Subscribe, with mosquitto_sub's flags (-h -p -t -q -C count -W seconds -v, …), run by the
    /// command component. The network policy comes from -h and -p.
    #[command(disable_help_flag = true, disable_version_flag = true)]
    Sub {
        /// Passed to the component unchanged (`--help` prints its usage).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Run a command component (`wasi:cli/run`), e.g. an app composed with the provider.
    Run {
        /// The only address it may connect to, as host:port. Without it, no network.
        #[arg(long, value_name = "HOST:PORT")]
        broker: Option<String>,
        /// The component.
        component: PathBuf,
        /// Its arguments.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
        args: Vec<String>,
    },
    /// Show the provider component at work: connect, subscribe, publish at QoS 0, 1 and 2,
    /// and print the round trip, against an embedded rumqttd broker or a given one.
    Demo {
        /// Use this broker (host:port; it must speak the chosen protocols on that port)
        /// instead of starting an embedded rumqttd.
        #[arg(long, value_name = "HOST:PORT")]
        broker: Option<String>,
        /// The provider component [default: $WASMQTT_PROVIDER_WASM or
        /// target/wasm32-wasip2/wasm/wasmqtt.wasm, built first with cargo].
        #[arg(long, value_name = "WASM")]
        provider: Option<PathBuf>,
        /// MQTT protocol version(s).
        #[arg(long, value_enum, default_value_t = DemoProtocol::Both)]
        protocol: DemoProtocol,
        /// Messages published at each QoS.
        #[arg(long, default_value_t = 3)]
        count: u32,
        /// Do not run cargo to build the provider component first.
        #[arg(long)]
        no_build: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum DemoProtocol {
    /// MQTT 3.1.1.
    #[value(name = "311")]
    V311,
    /// MQTT 5.0.
    #[value(name = "5")]
    V5,
    /// 3.1.1, then 5.0.
    Both,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wasmqtt-host: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Pub { args } => run_cli("pub", args, cli.cli_wasm),
        Command::Sub { args } => run_cli("sub", args, cli.cli_wasm),
        Command::Run {
            broker,
            component,
            args,
        } => {
            let policy = match broker {
                Some(b) => NetworkPolicy::broker_addr(&b)?,
                None => NetworkPolicy::deny_all(),
            };
            let program = component
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("component")
                .to_string();
            let runtime = runtime()?;
            let status = run_command_file(
                &runtime,
                &component,
                &CommandConfig::new(&program, &args, policy),
            )?;
            Ok(exit_code(status.0))
        }
        Command::Demo {
            broker,
            provider,
            protocol,
            count,
            no_build,
        } => {
            let path = match provider {
                Some(p) => p,
                None => {
                    if !no_build && std::env::var_os(Artifact::Provider.env_var()).is_none() {
                        build(Artifact::Provider)?;
                    }
                    Artifact::Provider.require()?
                }
            };
            let runtime = runtime()?;
            let provider = Provider::load(&runtime, &path)?;
            let config = DemoConfig {
                broker,
                protocols: match protocol {
                    DemoProtocol::V311 => vec![ProtocolVersion::V311],
                    DemoProtocol::V5 => vec![ProtocolVersion::V5],
                    DemoProtocol::Both => vec![ProtocolVersion::V311, ProtocolVersion::V5],
                },
                per_qos: count,
                ..DemoConfig::default()
            };
            demo::run_on_stdout(&provider, &config)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The runtime, with the compiled-component cache in the target directory unless
/// `WASMQTT_NO_CACHE` is set.
fn runtime() -> anyhow::Result<Runtime> {
    if std::env::var_os("WASMQTT_NO_CACHE").is_some() {
        Runtime::new()
    } else {
        Runtime::with_cache(Runtime::default_cache_dir())
    }
}

/// Runs the command component with `subcommand` and the mosquitto-style `args`.
fn run_cli(subcommand: &str, args: Vec<String>, wasm: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let path = match wasm {
        Some(p) => p,
        None => Artifact::Cli.require()?,
    };
    let (host, port) = broker_of(&args)?;
    let policy = NetworkPolicy::broker(&host, port)
        .with_context(|| format!("the broker given by -h/-p ({host}:{port})"))?;
    let mut full = Vec::with_capacity(args.len() + 1);
    full.push(subcommand.to_string());
    full.extend(args);
    let runtime = runtime()?;
    let status = run_command_file(
        &runtime,
        &path,
        &CommandConfig::new("wasmqtt-cli", &full, policy),
    )?;
    Ok(exit_code(status.0))
}

/// The broker mosquitto_pub/sub flags name: `-h`/`--host` (default localhost) and
/// `-p`/`--port` (default 1883). The last occurrence wins, as in mosquitto.
fn broker_of(args: &[String]) -> anyhow::Result<(String, u16)> {
    let mut host = "localhost".to_string();
    let mut port = 1883u16;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-h" | "--host" => {
                host = it
                    .next()
                    .with_context(|| format!("{a} needs a host"))?
                    .clone();
            }
            "-p" | "--port" => {
                let p = it.next().with_context(|| format!("{a} needs a port"))?;
                port = p
                    .parse()
                    .with_context(|| format!("{a} {p}: not a port number"))?;
            }
            _ => {}
        }
    }
    Ok((host, port))
}

/// Builds `artifact` with cargo when this binary runs from the workspace it was built in.
/// Cargo's own freshness check makes this a no-op when nothing changed.
fn build(artifact: Artifact) -> anyhow::Result<()> {
    let root = workspace_root();
    if !root.join("Cargo.toml").is_file() || !root.join("wit").is_dir() {
        return Ok(()); // not in the source tree: use what is there
    }
    // A fresh machine may have the pinned toolchain without its wasm targets: rust-toolchain.toml
    // lists them, but rustup adds targets only when it installs the toolchain itself.
    let has_target = std::process::Command::new("rustup")
        .args(["target", "list", "--installed"])
        .current_dir(&root)
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l == "wasm32-wasip2")
        });
    if let Ok(false) = has_target {
        eprintln!("wasmqtt-host: rustup target add wasm32-wasip2");
        let _ = std::process::Command::new("rustup")
            .args(["target", "add", "wasm32-wasip2"])
            .current_dir(&root)
            .status();
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    eprintln!(
        "wasmqtt-host: building the {} component: {}",
        artifact.file_name(),
        artifact.build_command()
    );
    let status = std::process::Command::new(&cargo)
        .args(artifact.build_args())
        .current_dir(&root)
        .status()
        .with_context(|| format!("running {}", artifact.build_command()))?;
    if !status.success() {
        bail!(
            "`{}` failed ({status}) in {}",
            artifact.build_command(),
            root.display()
        );
    }
    Ok(())
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
