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
