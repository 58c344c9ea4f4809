//! What the host-runner test binaries share.

use std::sync::OnceLock;

use wasmqtt_host::{Artifact, Provider, Runtime};

/// The provider component (built by `./scripts/build-components.sh`), compiled once per test
/// binary.
#[allow(dead_code)] // not every test binary uses it
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

/// A component that `./scripts/build-components.sh` puts beside the provider
/// (`target/wasm32-wasip2/wasm/NAME`); panics with that advice when it is missing.
#[allow(dead_code)] // not every test binary uses it
pub fn built_component(name: &str) -> std::path::PathBuf {
    let p = Artifact::Provider.default_path().with_file_name(name);
    assert!(
        p.is_file(),
        "{} is missing: run scripts/build-components.sh",
        p.display()
    );
    p
}

/// Runs `wasmqtt-host ARGS... -o OUT` once per test process, OUT being
/// `target/DIR/STEM-PID.wasm`; earlier runs' files in DIR (other process ids) are removed.
/// Returns OUT.
#[allow(dead_code)] // not every test binary uses it
pub fn composed_once(
    cell: &'static OnceLock<std::path::PathBuf>,
    dir: &str,
    stem: &str,
    args: &[&std::ffi::OsStr],
) -> std::path::PathBuf {
    cell.get_or_init(|| {
        let dir = wasmqtt_host::runtime::target_dir().join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join(format!("{stem}-{}.wasm", std::process::id()));
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_wasmqtt-host"))
            .args(args)
            .arg("-o")
            .arg(&out)
            .status()
            .expect("running wasmqtt-host");
        assert!(status.success(), "wasmqtt-host {args:?} failed: {status}");
        for e in std::fs::read_dir(&dir).unwrap().flatten() {
            if e.path() != out {
                let _ = std::fs::remove_file(e.path());
            }
        }
        out
    })
    .clone()
}

/// Waits for `child` to end, at most `within` (then kills it and panics with `what`).
#[allow(dead_code)] // not every test binary uses it
pub fn wait_exit(
    child: &mut std::process::Child,
    within: std::time::Duration,
    what: &str,
) -> std::process::ExitStatus {
    let until = std::time::Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if std::time::Instant::now() > until {
            child.kill().ok();
            panic!("{what} did not end within {within:?}");
        }
        // Polls the process table: no event to wait on for a std Child with a deadline.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
