//! Running a command component (`wasi:cli/run`): the wasmqtt command-line component, or any
//! other command, e.g. an app composed with the provider by `wac plug`.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::I32Exit;

use crate::policy::NetworkPolicy;
use crate::runtime::{Runtime, Stdio};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExitStatus(pub i32);

impl ExitStatus {
    /// Exit code 0.
    pub fn success(self) -> bool {
        self.0 == 0
    }
}

/// What to run a command with.
#[derive(Clone)]
pub struct CommandConfig {
    /// The arguments, without the program name (`pub`, `-t`, `a/b`, …).
    pub args: Vec<String>,
    /// The program name the component sees as its first argument.
    pub program: String,
    /// Environment variables the component sees (none by default).
    pub env: Vec<(String, String)>,
    /// Its network access.
    pub policy: NetworkPolicy,
    /// Its standard streams.
    pub stdio: Stdio,
    /// Directories it may read (and nothing else of the file system), at the same path as on
    /// the host; none by default.
    pub read_only_dirs: Vec<PathBuf>,
}

impl CommandConfig {
    /// `args`, with stdio inherited and the network access `policy`.
    pub fn new(program: &str, args: &[String], policy: NetworkPolicy) -> Self {
        Self {
            args: args.to_vec(),
            program: program.to_string(),
            env: Vec::new(),
            policy,
            stdio: Stdio::Inherit,
            read_only_dirs: Vec::new(),
        }
    }

    /// Also lets the command read the directory `dir` (its files and subdirectories, no
    /// writes), at the same path as on the host.
    pub fn grant_dir_read_only(mut self, dir: impl Into<PathBuf>) -> Self {
        let dir = dir.into();
        if !self.read_only_dirs.contains(&dir) {
            self.read_only_dirs.push(dir);
        }
        self
    }
}

/// Compiles and runs the command component at `path`.
pub fn run_command_file(
    runtime: &Runtime,
    path: &Path,
    config: &CommandConfig,
) -> anyhow::Result<ExitStatus> {
    let loaded = runtime.load(path)?;
    run_command(runtime, &loaded.component, config)
}

/// Runs a compiled command component: instantiates it in a fresh store with the configured
/// arguments, environment, stdio, network policy and read-only directories, and calls
/// `wasi:cli/run.run`. Exit codes from `wasi:cli/exit` (`exit`, and `exit-with-code` with
/// the code itself) are returned as such; a trap is an
/// error.
pub fn run_command(
    runtime: &Runtime,
    component: &Component,
    config: &CommandConfig,
) -> anyhow::Result<ExitStatus> {
    let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
    builder.arg(&config.program);
    builder.args(&config.args);
    for (k, v) in &config.env {
        builder.env(k, v);
    }
    let mut store = runtime.store_with_dirs(
        &config.policy,
        &config.stdio,
        builder,
        &config.read_only_dirs,
    )?;
    let command = Command::instantiate(&mut store, component, runtime.linker())
        .map_err(anyhow::Error::from)
        .context("instantiating the command component (does it export wasi:cli/run?)")?;
    match command.wasi_cli_run().call_run(&mut store) {
        Ok(Ok(())) => Ok(ExitStatus(0)),
        Ok(Err(())) => Ok(ExitStatus(1)),
        Err(e) => match e.downcast_ref::<I32Exit>() {
            Some(exit) => Ok(ExitStatus(exit.0)),
            None => Err(anyhow::Error::from(e).context("the command component trapped")),
        },
    }
}
