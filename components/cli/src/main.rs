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
    let code = run::main(std::env::args().skip(1).collect());
    if code != 0 {
        use std::io::Write;
        let _ = std::io::stdout().flush();
        // The exit code itself: `exit` (what std uses) says only ok or error;
        // `exit-with-code` is WASI 0.2.12's (wasmtime 48 links it by default).
        wasip2::cli::exit::exit_with_code(u8::try_from(code).unwrap_or(1));
    }
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
