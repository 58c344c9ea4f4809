//! Optimises the core module with `wasm-opt` before componentization (../wasm_opt_link.rs).

include!("../wasm_opt_link.rs");

fn main() {
    wasm_opt_link("cdylib");
}
