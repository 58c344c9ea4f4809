//! Composition: plugs the exports of provider components into the matching imports of an app
//! component, as `wac plug APP --plug PROVIDER` does, through the `wac-graph` library — so the
//! test command needs no `cargo install wac-cli` (eight minutes of CI on a fresh machine).
//!
//! ```no_run
//! let app = std::fs::read("power-meter.wasm")?;
//! let provider = std::fs::read("wasmqtt_provider.wasm")?;
//! let composed = wasmqtt_host::compose::plug(&app, &[provider.as_slice()])?;
//! std::fs::write("meter.wasm", composed)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

use anyhow::Context as _;
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions};

/// Plugs every export of each of `plugs` that matches an import of `socket` (by name and type)
/// into it, and returns the composed component, which exports what `socket` exports. Fails when
/// no import matched, or when a component is not a valid WebAssembly component.
pub fn plug(socket: &[u8], plugs: &[&[u8]]) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let socket_pkg = Package::from_bytes("wasmqtt:socket", None, socket, graph.types_mut())
        .context("the app (socket) component")?;
    let socket = graph.register_package(socket_pkg)?;
    let mut ids = Vec::with_capacity(plugs.len());
    for (i, bytes) in plugs.iter().enumerate() {
        let name = format!("wasmqtt:plug{i}");
        let pkg = Package::from_bytes(&name, None, *bytes, graph.types_mut())
            .with_context(|| format!("plug component {i}"))?;
        ids.push(graph.register_package(pkg)?);
    }
    wac_graph::plug(&mut graph, ids, socket)?;
    Ok(graph.encode(EncodeOptions::default())?)
}

/// Composes a `wasi:messaging` app with the messaging provider and the messaging runner into
/// one command component (`wasi:cli/run`, the runner's):
///
/// - one provider instance, whose exports (`wasi:messaging/types`, `producer`,
///   `request-reply`, `wasmqtt:mqtt/messaging-consumer`) fill the matching imports of the app
///   and of the runner — both use the same connections;
/// - the app, whose `wasi:messaging/incoming-handler` export fills the runner's import;
/// - the runner, which subscribes through the provider and calls the handler.
///
/// What none of them satisfies (`wasi:sockets`, `wasi:clocks`, `wasi:cli`, …) is imported by
/// the composition from the host. A provider and an app cannot be composed by `plug` alone:
/// the provider would need the app's handler while the app needs the provider (a cycle), so the
/// runner, a third component, holds the loop. Fails when the app does not export
/// `wasi:messaging/incoming-handler` or imports nothing the provider exports.
pub fn messaging(app: &[u8], provider: &[u8], runner: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let mut register =
        |name: &str, bytes: &[u8], what: &str| -> anyhow::Result<wac_graph::PackageId> {
            let pkg = Package::from_bytes(name, None, bytes, graph.types_mut())
                .with_context(|| format!("the {what} component"))?;
            Ok(graph.register_package(pkg)?)
        };
    let provider = register("wasmqtt:messaging-provider", provider, "provider")?;
    let app = register("wasmqtt:messaging-app", app, "app")?;
    let runner = register("wasmqtt:messaging-runner", runner, "runner")?;
    let exports = |graph: &CompositionGraph, p: wac_graph::PackageId| -> Vec<String> {
        graph.types()[graph[p].ty()]
            .exports
            .keys()
            .cloned()
            .collect()
    };
    let imports = |graph: &CompositionGraph, p: wac_graph::PackageId| -> Vec<String> {
        graph.types()[graph[p].ty()]
            .imports
            .keys()
            .cloned()
            .collect()
    };
    let handler = exports(&graph, app)
        .into_iter()
        .find(|n| n.starts_with("wasi:messaging/incoming-handler@"))
        .context("the app exports no wasi:messaging/incoming-handler")?;
    let (app_imports, runner_imports) = (imports(&graph, app), imports(&graph, runner));
    if !runner_imports.contains(&handler) {
        anyhow::bail!("the runner imports no {handler} (a different wasi:messaging version?)");
    }
    let p = graph.instantiate(provider);
    let a = graph.instantiate(app);
    let r = graph.instantiate(runner);
    let mut app_filled = 0;
    for name in exports(&graph, provider) {
        let export = graph.alias_instance_export(p, &name)?;
        if app_imports.contains(&name) {
            graph.set_instantiation_argument(a, &name, export)?;
            app_filled += 1;
        }
        if runner_imports.contains(&name) {
            graph.set_instantiation_argument(r, &name, export)?;
        }
    }
    if app_filled == 0 {
        anyhow::bail!("the app imports nothing the provider exports (no wasi:messaging imports)");
    }
    let export = graph.alias_instance_export(a, &handler)?;
    graph.set_instantiation_argument(r, &handler, export)?;
    for name in exports(&graph, runner) {
        let export = graph.alias_instance_export(r, &name)?;
        graph.export(export, &name)?;
    }
    Ok(graph.encode(EncodeOptions::default())?)
}
