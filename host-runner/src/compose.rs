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
