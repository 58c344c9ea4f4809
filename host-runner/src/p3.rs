//! WASI 0.3 commands: components that export `wasi:cli/run@0.3` (e.g. an app composed with the
//! WASI 0.3 provider, `wasmqtt:mqtt@0.2.0`), run with wasmtime's component-model async on an
//! engine of their own (the WASI 0.2 [`Runtime`](crate::Runtime) keeps it off), with the same
//! network policy, arguments, environment and standard streams as [`crate::run_command`].
//!
//! The linker holds WASI 0.3 and, for what Rust's standard library of the wasm32-wasip2 target
//! still imports (stderr of a panic, for one), WASI 0.2.

use std::path::Path;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p3::bindings::Command;
use wasmtime_wasi::I32Exit;

use crate::command::{CommandConfig, ExitStatus};
use crate::runtime::HostState;

/// Compiles and runs the WASI 0.3 command component at `path` to its end.
pub fn run_p3_command_file(path: &Path, config: &CommandConfig) -> anyhow::Result<ExitStatus> {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.wasm_component_model_async(true);
    let engine = Engine::new(&c)?;
    let mut linker = Linker::<HostState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi::p3::add_to_linker(&mut linker)?;
    let component = Component::from_file(&engine, path)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", path.display()))?;
    let mut builder = wasmtime_wasi::WasiCtxBuilder::new();
    builder.arg(&config.program);
    builder.args(&config.args);
    for (k, v) in &config.env {
        builder.env(k, v);
    }
    config.policy.apply(&mut builder);
    config.stdio.apply(&mut builder);
    let mut store = Store::new(&engine, HostState::new(&mut builder));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let command = Command::instantiate_async(&mut store, &component, &linker)
            .await
            .map_err(anyhow::Error::from)
            .context("instantiating the WASI 0.3 command (does it export wasi:cli/run@0.3?)")?;
        let result = store
            .run_concurrent(async move |store| command.wasi_cli_run().call_run(store).await)
            .await;
        let flat = match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) | Err(e) => Err(e),
        };
        match flat {
            Ok(Ok(())) => Ok(ExitStatus(0)),
            Ok(Err(())) => Ok(ExitStatus(1)),
            Err(e) => match e.downcast_ref::<I32Exit>() {
                Some(exit) => Ok(ExitStatus(exit.0)),
                None => Err(anyhow::Error::from(e).context("the WASI 0.3 command trapped")),
            },
        }
    })
}
