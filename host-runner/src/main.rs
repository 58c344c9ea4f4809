//! `wasmqtt-host`: runs the wasmqtt components in wasmtime with network access to the brokers
//! they are given and nothing else.
//!
//! ```text
//! wasmqtt-host pub -h 127.0.0.1 -p 1883 -t a/b -m hello -q 1     (the command component)
//! wasmqtt-host sub -h 127.0.0.1 -p 1883 -t 'a/#' -C 1 -v
//! wasmqtt-host sub -L mqtt://a:1883/t -L mqtt://b:1883/t            (failover: both allowed)
//! wasmqtt-host run --broker mqtts://b:8883 app.wasm [args...]    (any wasi:cli/run command)
//! wasmqtt-host demo [--broker host:port]                          (the provider, round trip)
//! wasmqtt-host compose app.wasm --plug provider.wasm -o out.wasm   (what `wac plug` does)
//! wasmqtt-host compose-messaging app.wasm -o out.wasm   (a wasi:messaging app, provider, runner)
//! ```

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use wasmqtt_host::demo::{self, DemoConfig};
use wasmqtt_host::types::ProtocolVersion;
use wasmqtt_host::{
    run_command_file, workspace_root, Artifact, CommandConfig, NetworkPolicy, Provider, Runtime,
};

const USAGE: &str = "\
wasmqtt-host: runs the wasmqtt WebAssembly components in wasmtime, with network access to
exactly the MQTT brokers they are given

usage: wasmqtt-host [--cli-wasm WASM] <command> [args...]

commands:
  pub [flags]       publish, with mosquitto_pub's flags (-h -p -t -m -q -r -u -P -i -k -V 311|5,
                    will flags, -L URL, TLS flags, ...), run by the command component; the
                    network policy comes from -h and -p, or from every -L URL (failover), and
                    the directories of --cafile, --cert, --key and --capath are readable
                    (read-only, same path) and nothing else (`pub --help` prints the flags)
  sub [flags]       subscribe, with mosquitto_sub's flags (-h -p -L -t -q -C count -W seconds
                    -v -F format -T -U -R -E, ...), run by the command component; network and
                    files as for pub
  rr [flags]        MQTT 5 request/response, with mosquitto_rr's flags (-t topic -e
                    response-topic -m message -W seconds, ...); network and files as for pub
                    (the exit codes of all three: docs/CLI.md)
  run [--broker URL|HOST:PORT]... [--store DIR] [--env KEY=VALUE]... [--p3] COMPONENT [args...]
                    run a command component (wasi:cli/run), e.g. an app composed with the
                    provider, with TCP to each --broker (a URL such as mqtts://host:8883 or
                    HOST:PORT; repeat it for a failover list); without --broker it has no
                    network. --store DIR grants DIR (created if missing) read-write at the
                    same path, for the provider's durable state (connect-options.store);
                    --env sets an environment variable of the component (e.g. WASMQTT_BROKER
                    of the wasi:messaging provider); --p3 runs a WASI 0.3 command
                    (wasi:cli/run@0.3, e.g. an app composed with the WASI 0.3 provider) on
                    an engine with component-model async
  compose APP --plug PLUG [--plug PLUG...] -o OUT
                    plug the exports of PLUG (e.g. the provider) into APP's matching imports
                    and write the composed component to OUT (what `wac plug` does)
  compose-messaging APP [--provider WASM] [--runner WASM] -o OUT
                    compose a wasi:messaging app (it exports wasi:messaging/incoming-handler)
                    with the messaging provider and the messaging runner into one command;
                    run it with `run --broker URL --env WASMQTT_BROKER=URL OUT FILTER...`
                    [default WASMs: target/wasm32-wasip2/wasm/wasmqtt_messaging.wasm and
                    wasmqtt-messaging-runner.wasm]
  demo [options]    show the provider component at work: connect, subscribe, publish at QoS 0,
                    1 and 2, and print the round trip, against an embedded rumqttd broker
    --broker HOST:PORT  use this broker instead of starting an embedded rumqttd
    --tls               mqtts:// instead: a CA and a server certificate generated on the
                        spot, and a mosquitto TLS listener with them (needs mosquitto)
    --provider WASM     the provider component [default: $WASMQTT_PROVIDER_WASM or
                        target/wasm32-wasip2/wasm/wasmqtt_provider.wasm, built first with cargo]
    --protocol 311|5|both  MQTT protocol version(s) [default: both]
    --count N           messages published at each QoS [default: 3]
    --no-build          do not run cargo to build the provider component first

options:
  --cli-wasm WASM   the command component for pub, sub and rr [default: $WASMQTT_CLI_WASM or
                    target/wasm32-wasip2/wasm/wasmqtt-cli.wasm]
  --help            print this and exit
  --version         print the version and exit";

/// What to do.
enum Command {
    Help,
    Version,
    /// `pub` / `sub` / `rr` with the component's flags, unparsed (the component parses them too).
    Cli {
        subcommand: &'static str,
        args: Vec<String>,
    },
    Run {
        brokers: Vec<String>,
        store: Option<PathBuf>,
        env: Vec<(String, String)>,
        p3: bool,
        component: PathBuf,
        args: Vec<String>,
    },
    ComposeMessaging {
        app: PathBuf,
        provider: Option<PathBuf>,
        runner: Option<PathBuf>,
        out: PathBuf,
    },
    Compose {
        socket: PathBuf,
        plugs: Vec<PathBuf>,
        out: PathBuf,
    },
    Demo {
        broker: Option<String>,
        provider: Option<PathBuf>,
        protocols: Vec<ProtocolVersion>,
        count: u32,
        no_build: bool,
        tls: bool,
    },
}

fn strings(rest: impl Iterator<Item = OsString>) -> anyhow::Result<Vec<String>> {
    rest.map(|a| {
        a.into_string()
            .map_err(|a| anyhow::anyhow!("argument is not valid UTF-8: {a:?}"))
    })
    .collect()
}

fn string(v: OsString) -> anyhow::Result<String> {
    v.into_string()
        .map_err(|v| anyhow::anyhow!("value is not valid UTF-8: {v:?}"))
}

/// Parses the host's own flags (lexopt); `pub` / `sub` flags are left to the component's parser.
fn parse(args: impl IntoIterator<Item = OsString>) -> anyhow::Result<(Option<PathBuf>, Command)> {
    use lexopt::prelude::*;
    let mut p = lexopt::Parser::from_args(args);
    let mut cli_wasm = None;
    let command = loop {
        match p.next()? {
            Some(Long("cli-wasm")) => cli_wasm = Some(PathBuf::from(p.value()?)),
            Some(Long("help")) | Some(Short('h')) => break Command::Help,
            Some(Long("version")) | Some(Short('V')) => break Command::Version,
            Some(Value(v)) => break subcommand(&string(v)?, &mut p)?,
            Some(other) => return Err(other.unexpected().into()),
            None => bail!("missing command: pub, sub, rr, run, compose, compose-messaging or demo (see --help)"),
        }
    };
    Ok((cli_wasm, command))
}

fn subcommand(name: &str, p: &mut lexopt::Parser) -> anyhow::Result<Command> {
    use lexopt::prelude::*;
    Ok(match name {
        "pub" | "sub" | "rr" => Command::Cli {
            subcommand: match name {
                "pub" => "pub",
                "sub" => "sub",
                _ => "rr",
            },
            args: strings(p.raw_args()?)?,
        },
        "run" => {
            let mut brokers = Vec::new();
            let mut store = None;
            let mut env = Vec::new();
            let mut p3 = false;
            loop {
                match p.next()? {
                    Some(Long("broker")) => brokers.push(string(p.value()?)?),
                    Some(Long("env")) => {
                        let kv = string(p.value()?)?;
                        match kv.split_once('=') {
                            Some((k, v)) if !k.is_empty() => {
                                env.push((k.to_string(), v.to_string()))
                            }
                            _ => bail!("run: --env {kv}: use KEY=VALUE"),
                        }
                    }
                    Some(Long("store")) => store = Some(PathBuf::from(p.value()?)),
                    Some(Long("p3")) => p3 = true,
                    Some(Long("help")) => return Ok(Command::Help),
                    Some(Value(component)) => {
                        break Command::Run {
                            brokers,
                            store,
                            env,
                            p3,
                            component: component.into(),
                            args: strings(p.raw_args()?)?,
                        }
                    }
                    Some(other) => return Err(other.unexpected().into()),
                    None => bail!("run: missing the component (see --help)"),
                }
            }
        }
        "compose" => {
            let (mut socket, mut plugs, mut out) = (None, Vec::new(), None);
            while let Some(arg) = p.next()? {
                match arg {
                    Long("plug") => plugs.push(PathBuf::from(p.value()?)),
                    Short('o') | Long("output") => out = Some(PathBuf::from(p.value()?)),
                    Long("help") => return Ok(Command::Help),
                    Value(v) if socket.is_none() => socket = Some(PathBuf::from(v)),
                    other => return Err(other.unexpected().into()),
                }
            }
            match (socket, out) {
                (Some(socket), Some(out)) if !plugs.is_empty() => {
                    Command::Compose { socket, plugs, out }
                }
                _ => bail!("compose: usage: compose APP --plug PLUG -o OUT (see --help)"),
            }
        }
        "compose-messaging" => {
            let (mut app, mut provider, mut runner, mut out) = (None, None, None, None);
            while let Some(arg) = p.next()? {
                match arg {
                    Long("provider") => provider = Some(PathBuf::from(p.value()?)),
                    Long("runner") => runner = Some(PathBuf::from(p.value()?)),
                    Short('o') | Long("output") => out = Some(PathBuf::from(p.value()?)),
                    Long("help") => return Ok(Command::Help),
                    Value(v) if app.is_none() => app = Some(PathBuf::from(v)),
                    other => return Err(other.unexpected().into()),
                }
            }
            match (app, out) {
                (Some(app), Some(out)) => Command::ComposeMessaging {
                    app,
                    provider,
                    runner,
                    out,
                },
                _ => bail!("compose-messaging: usage: compose-messaging APP -o OUT (see --help)"),
            }
        }
        "demo" => {
            let (mut broker, mut provider, mut no_build, mut count) = (None, None, false, 3u32);
            let mut tls = false;
            let mut protocols = vec![ProtocolVersion::V311, ProtocolVersion::V5];
            while let Some(arg) = p.next()? {
                match arg {
                    Long("broker") => broker = Some(string(p.value()?)?),
                    Long("provider") => provider = Some(PathBuf::from(p.value()?)),
                    Long("protocol") => {
                        protocols = match string(p.value()?)?.as_str() {
                            "311" => vec![ProtocolVersion::V311],
                            "5" => vec![ProtocolVersion::V5],
                            "both" => vec![ProtocolVersion::V311, ProtocolVersion::V5],
                            v => bail!("--protocol {v}: use 311, 5 or both"),
                        }
                    }
                    Long("count") => {
                        count = string(p.value()?)?
                            .parse()
                            .context("--count: not a number")?
                    }
                    Long("no-build") => no_build = true,
                    Long("tls") => tls = true,
                    Long("help") => return Ok(Command::Help),
                    other => return Err(other.unexpected().into()),
                }
            }
            if tls && broker.is_some() {
                bail!("demo: --tls starts its own TLS broker: drop --broker");
            }
            Command::Demo {
                broker,
                provider,
                protocols,
                count,
                no_build,
                tls,
            }
        }
        other => {
            bail!("unknown command '{other}': use pub, sub, rr, run, compose, compose-messaging or demo (see --help)")
        }
    })
}

fn main() -> ExitCode {
    let (cli_wasm, command) = match parse(std::env::args_os().skip(1)) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("wasmqtt-host: {e:#}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(cli_wasm, command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("wasmqtt-host: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli_wasm: Option<PathBuf>, command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Help => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Version => {
            println!("wasmqtt-host {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        Command::Cli { subcommand, args } => run_cli(subcommand, args, cli_wasm),
        Command::Compose { socket, plugs, out } => {
            let read = |p: &PathBuf| std::fs::read(p).with_context(|| format!("{}", p.display()));
            let app = read(&socket)?;
            let plugs = plugs.iter().map(read).collect::<anyhow::Result<Vec<_>>>()?;
            let plugs: Vec<&[u8]> = plugs.iter().map(Vec::as_slice).collect();
            let composed = wasmqtt_host::compose::plug(&app, &plugs)?;
            std::fs::write(&out, &composed).with_context(|| format!("{}", out.display()))?;
            eprintln!("wrote {} ({} bytes)", out.display(), composed.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::ComposeMessaging {
            app,
            provider,
            runner,
            out,
        } => {
            let wasm_dir = Artifact::Provider
                .default_path()
                .parent()
                .map(PathBuf::from)
                .unwrap_or_default();
            let provider = provider.unwrap_or_else(|| wasm_dir.join("wasmqtt_messaging.wasm"));
            let runner = runner.unwrap_or_else(|| wasm_dir.join("wasmqtt-messaging-runner.wasm"));
            let read = |p: &PathBuf| {
                std::fs::read(p).with_context(|| {
                    format!(
                        "{} (build it: cargo build --profile wasm --target wasm32-wasip2 \
                         -p wasmqtt-messaging -p wasmqtt-messaging-runner)",
                        p.display()
                    )
                })
            };
            let composed =
                wasmqtt_host::compose::messaging(&read(&app)?, &read(&provider)?, &read(&runner)?)?;
            std::fs::write(&out, &composed).with_context(|| format!("{}", out.display()))?;
            eprintln!("wrote {} ({} bytes)", out.display(), composed.len());
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            brokers,
            store,
            env,
            p3,
            component,
            args,
        } => {
            let policy = if brokers.is_empty() {
                NetworkPolicy::deny_all()
            } else {
                let brokers = brokers
                    .iter()
                    .map(|b| broker_arg(b))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                lenient_policy(&brokers)?
            };
            let policy = match store {
                Some(dir) => policy.with_store_dir(dir)?,
                None => policy,
            };
            let program = component
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or("component")
                .to_string();
            let runtime = runtime()?;
            let mut config = CommandConfig::new(&program, &args, policy);
            config.env = env;
            if p3 {
                let status = wasmqtt_host::p3::run_p3_command_file(&component, &config)?;
                return Ok(exit_code(status.0));
            }
            let status = run_command_file(&runtime, &component, &config)?;
            Ok(exit_code(status.0))
        }
        Command::Demo {
            broker,
            provider,
            protocols,
            count,
            no_build,
            tls,
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
                protocols,
                per_qos: count,
                tls,
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

/// Runs the command component with `subcommand` and the mosquitto-style `args`. The flags are
/// parsed first by the component's own parser (wasmqtt-cli's library): `--help` prints its
/// usage, a bad flag is reported without starting wasmtime, and the brokers (`-L`, or `-h` /
/// `-p`) give the network policy: the component may reach those brokers and nothing else. The
/// directories of the TLS files (`--cafile`, `--cert`, `--key`) and `--capath` are granted
/// read-only at the same path; one that does not exist is not granted, so the component
/// reports the file it cannot read.
fn run_cli(subcommand: &str, args: Vec<String>, wasm: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let mut full = Vec::with_capacity(args.len() + 1);
    full.push(subcommand.to_string());
    full.extend(args);
    let parsed = match wasmqtt_cli::parse(&full) {
        Ok(a) => a,
        Err(wasmqtt_cli::ArgsError::Help) => {
            println!("{}", wasmqtt_cli::USAGE);
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            eprintln!("error: {e}\n{}", wasmqtt_cli::USAGE);
            return Ok(ExitCode::from(2));
        }
    };
    let path = match wasm {
        Some(p) => p,
        None => Artifact::Cli.require()?,
    };
    let policy = lenient_policy(&parsed.brokers).context("the brokers given by -L or -h/-p")?;
    let mut config = CommandConfig::new("wasmqtt-cli", &full, policy);
    for dir in parsed.read_dirs() {
        if dir.is_dir() {
            config = config.grant_dir_read_only(dir);
        }
    }
    let runtime = runtime()?;
    let status = run_command_file(&runtime, &path, &config)?;
    Ok(exit_code(status.0))
}

/// `--broker`: a broker URL (`mqtts://host:8883`, parsed by the core) or `HOST:PORT`.
fn broker_arg(s: &str) -> anyhow::Result<wasmqtt::broker::Broker> {
    if s.contains("://") {
        return wasmqtt::broker::Broker::parse(s).with_context(|| format!("--broker {s}"));
    }
    let (host, port) = wasmqtt_host::policy::split_host_port(s)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok(wasmqtt::broker::Broker::tcp(host, port))
}

/// The network policy of a failover list: every broker that resolves; a warning for each one
/// that does not (the component cannot reach it and fails over past it); an error when none
/// resolves.
fn lenient_policy(brokers: &[wasmqtt::broker::Broker]) -> anyhow::Result<NetworkPolicy> {
    let (policy, skipped) = NetworkPolicy::reachable_brokers(brokers)?;
    for (b, e) in skipped {
        eprintln!("wasmqtt-host: warning: {b} is left out of the network policy: {e:#}");
    }
    Ok(policy)
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
    ensure_clang()?;
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

/// The components' TLS (rustls with ring) compiles C for wasm32, which needs clang: a fresh
/// Debian machine has only gcc. As root with apt-get (the README's fresh machine), installs it
/// the way `scripts/test.sh` installs mosquitto; otherwise says what is missing.
fn ensure_clang() -> anyhow::Result<()> {
    let have = |cmd: &str| {
        std::process::Command::new(cmd)
            .arg("--version")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok()
    };
    if std::env::var_os("CC_wasm32_wasip2").is_some() || have("clang") {
        return Ok(());
    }
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.trim_ascii() == b"0")
        .unwrap_or(false);
    if root && have("apt-get") {
        eprintln!("wasmqtt-host: apt-get install clang (ring's C code for wasm32-wasip2 needs it)");
        let ok = |args: &[&str]| {
            std::process::Command::new("apt-get")
                .args(args)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        if ok(&["update", "-qq"])
            && ok(&["install", "-y", "-qq", "--no-install-recommends", "clang"])
            && have("clang")
        {
            return Ok(());
        }
    }
    bail!(
        "building the components needs clang (ring compiles C for wasm32-wasip2): install it \
         (Debian: apt-get install clang) or set CC_wasm32_wasip2"
    )
}

fn exit_code(code: i32) -> ExitCode {
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_broker_takes_urls_and_host_port() {
        let b = broker_arg("mqtts://b.example:8884").unwrap();
        assert_eq!(b.to_string(), "mqtts://b.example:8884");
        assert_eq!(
            broker_arg("127.0.0.1:1883").unwrap().to_string(),
            "mqtt://127.0.0.1:1883"
        );
        assert_eq!(broker_arg("[::1]:1883").unwrap().host, "::1");
        assert!(broker_arg("htp://x").is_err());
        assert!(broker_arg("localhost").is_err());
        let args = [
            "run",
            "--broker",
            "mqtt://a:1",
            "--broker",
            "b:2",
            "--store",
            "state",
            "--env",
            "WASMQTT_BROKER=mqtt://a:1",
            "app.wasm",
            "x",
        ];
        match parse(args.map(OsString::from)).unwrap().1 {
            Command::Run {
                brokers,
                store,
                env,
                component,
                p3: false,
                args,
            } => {
                assert_eq!(brokers, ["mqtt://a:1", "b:2"]);
                assert_eq!(store, Some(PathBuf::from("state")));
                assert_eq!(
                    env,
                    [("WASMQTT_BROKER".to_string(), "mqtt://a:1".to_string())]
                );
                assert_eq!(component, PathBuf::from("app.wasm"));
                assert_eq!(args, ["x"]);
            }
            _ => panic!("not a run command"),
        }
        let bad = ["run", "--env", "NOEQUALS", "app.wasm"];
        assert!(parse(bad.map(OsString::from)).is_err());
        let bad = ["run", "--env", "=v", "app.wasm"];
        assert!(parse(bad.map(OsString::from)).is_err());
        assert!(parse(["compose-messaging", "app.wasm"].map(OsString::from)).is_err());
        match parse(["compose-messaging", "app.wasm", "-o", "o.wasm"].map(OsString::from))
            .unwrap()
            .1
        {
            Command::ComposeMessaging {
                app,
                out,
                provider,
                runner,
            } => {
                assert_eq!(app, PathBuf::from("app.wasm"));
                assert_eq!(out, PathBuf::from("o.wasm"));
                assert_eq!((provider, runner), (None, None));
            }
            _ => panic!("not compose-messaging"),
        }
    }
}
