//! What the host-runner test binaries share.

use std::sync::OnceLock;

use wasmqtt_host::{Artifact, Provider, Runtime};

/// The provider component (built by `./scripts/build-components.sh`), compiled once per test
/// binary.
pub fn provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let path = Artifact::Provider
            .require()
            .unwrap_or_else(|e| panic!("{e}"));
        let runtime = Runtime::new().expect("creating the wasmtime runtime");
        Provider::load(&runtime, &path).unwrap_or_else(|e| panic!("{e:#}"))
    })
}

/// The plain build of the provider (`--no-default-features`: no TLS, no WebSocket), copied to
/// `target/wasm32-wasip2/wasm/plain/` (or `$WASMQTT_PLAIN_PROVIDER_WASM`), compiled once per
/// test binary.
#[allow(dead_code)] // not every test binary uses it
pub fn plain_provider() -> &'static Provider {
    static PROVIDER: OnceLock<Provider> = OnceLock::new();
    PROVIDER.get_or_init(|| {
        let path = match std::env::var_os("WASMQTT_PLAIN_PROVIDER_WASM") {
            Some(p) if !p.is_empty() => std::path::PathBuf::from(p),
            _ => Artifact::Provider
                .default_path()
                .with_file_name("plain")
                .join(Artifact::Provider.file_name()),
        };
        assert!(
            path.is_file(),
            "the plain provider build is missing: {} does not exist. Build it with\n    \
             CARGO_INCREMENTAL=0 cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider --no-default-features\n\
             and copy target/wasm32-wasip2/wasm/wasmqtt_provider.wasm there (see scripts/test.sh)",
            path.display()
        );
        let runtime = Runtime::new().expect("creating the wasmtime runtime");
        Provider::load(&runtime, &path).unwrap_or_else(|e| panic!("{e:#}"))
    })
}
