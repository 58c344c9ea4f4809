//! `wasmqtt-cli`: a `wasi:cli/run` command component with `pub`, `sub` and `rr` subcommands
//! that take mosquitto_pub / mosquitto_sub / mosquitto_rr flags (parsed by this crate's
//! library). Build it with
//! `cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-cli` and run it with
//! `wasmqtt-host pub|sub …` or `wasmtime run -S inherit-network -S allow-ip-name-lookup`.

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
mod commands;
#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
mod run;

#[cfg(all(target_arch = "wasm32", target_os = "wasi"))]
fn main() {
    std::process::exit(run::main(std::env::args().skip(1).collect()));
}

#[cfg(not(all(target_arch = "wasm32", target_os = "wasi")))]
fn main() {
    eprintln!(
        "wasmqtt-cli is a WASI command component: build it with \
         `cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-cli` \
         and run it with `wasmqtt-host pub|sub …`"
    );
    std::process::exit(2);
}
