//! The engine, the linker with WASI 0.2, the per-store state, and loading components.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::policy::NetworkPolicy;

/// What one store holds: the WASI context (with its network policy) and the resource table.
pub struct HostState {
    ctx: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// State for a store whose WASI context `builder` describes. The builder is consumed.
    pub fn new(builder: &mut WasiCtxBuilder) -> Self {
        Self {
            ctx: builder.build(),
            table: ResourceTable::new(),
        }
    }

    /// The resource table (pollables and streams the component handed out live here).
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A compiled component and how long compiling it took.
#[derive(Clone)]
pub struct LoadedComponent {
    /// The compiled component.
    pub component: Component,
    /// Where it came from.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// Time to compile it, or to load it from the cache.
    pub compile_time: Duration,
    /// Whether it came from the compiled-component cache.
    pub cached: bool,
}

/// How a [`Runtime`] allocates what each instance needs (linear memories, tables, the
/// instance's own state).
///
/// Either way wasmtime maps a linear memory's initial contents copy-on-write from the compiled
/// module, so an instance's resident memory is the pages it has written, not its whole heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// wasmtime's default: each instance maps its memory and allocates its tables when it is
    /// made, and unmaps them when its store is dropped.
    OnDemand,
    /// wasmtime's pooling allocator: slots for `max_instances` provider (or command) instances
    /// are reserved once, up front, and reused; instantiating is then mostly resetting a slot.
    /// Each instance's linear memory may grow to [`POOLED_MEMORY_MAX`] bytes.
    Pooling {
        /// How many instances may be alive at once (instantiating one more fails).
        max_instances: u32,
    },
}

/// The most linear memory one pooled instance may have: 64 MiB, 16 times what a provider with
/// TLS uses after connecting.
pub const POOLED_MEMORY_MAX: usize = 64 << 20;

impl Allocation {
    fn apply(self, config: &mut Config) {
        let Allocation::Pooling { max_instances } = self else {
            return;
        };
        // A component is a few core instances (the main module, wit-component's shim and fixup
        // modules), each with at most one memory and one table.
        const CORE_PER_COMPONENT: u32 = 4;
        let mut pool = wasmtime::PoolingAllocationConfig::new();
        pool.total_component_instances(max_instances)
            .total_core_instances(max_instances.saturating_mul(CORE_PER_COMPONENT))
            .max_core_instances_per_component(CORE_PER_COMPONENT)
            .total_memories(max_instances)
            .max_memories_per_component(1)
            .total_tables(max_instances.saturating_mul(CORE_PER_COMPONENT))
            .max_tables_per_component(CORE_PER_COMPONENT)
            .max_memory_size(POOLED_MEMORY_MAX)
            // No async stacks (the host is synchronous).
            .total_stacks(0);
        config.allocation_strategy(pool);
        // A slot reserves the memory's maximum plus a guard, not wasmtime's 4 GiB: 10 000
        // instances fit the address space. Bounds checks are then explicit in compiled code.
        config.memory_reservation(POOLED_MEMORY_MAX as u64);
        config.memory_guard_size(64 << 10);
        config.memory_reservation_for_growth(0);
    }
}

/// The wasmtime engine and a linker holding every WASI 0.2 interface (synchronous flavour).
///
/// One runtime serves any number of components and stores. Clones share the engine and linker;
/// it can be shared across threads.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    linker: Linker<HostState>,
    cache: Option<PathBuf>,
}

impl Runtime {
    /// A runtime with wasmtime's default configuration (Cranelift, component model).
    pub fn new() -> anyhow::Result<Self> {
        Self::with_allocation(Allocation::OnDemand)
    }

    /// A runtime whose instances' memories, tables and instance state are allocated as
    /// `allocation` says: [`Allocation::Pooling`] for a host that keeps many clients.
    pub fn with_allocation(allocation: Allocation) -> anyhow::Result<Self> {
        let mut config = Config::new();
        config.wasm_component_model(true);
        allocation.apply(&mut config);
        // For profiling the guest's compiled code with `perf`: a /tmp/perf-PID.map of it.
        if std::env::var_os("WASMQTT_PERFMAP").is_some_and(|v| v == "1") {
            config.profiler(wasmtime::ProfilingStrategy::PerfMap);
        }
        let engine = Engine::new(&config)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
        Ok(Self {
            inner: Arc::new(RuntimeInner {
                engine,
                linker,
                cache: None,
            }),
        })
    }

    /// A runtime that keeps compiled components in `dir` (see [`Runtime::load`]), so that
    /// loading the same component again takes milliseconds instead of a compilation.
    ///
    /// The cache holds native code that is loaded without further checks beyond wasmtime's
    /// own (version, configuration, format): only point it at a directory no one else writes.
    pub fn with_cache(dir: impl Into<PathBuf>) -> anyhow::Result<Self> {
        let mut rt = Self::new()?;
        Arc::get_mut(&mut rt.inner)
            .expect("a new runtime is not shared")
            .cache = Some(dir.into());
        Ok(rt)
    }

    /// The default cache directory: `<target dir>/wasmqtt-host-cache`.
    pub fn default_cache_dir() -> PathBuf {
        target_dir().join("wasmqtt-host-cache")
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// The linker (WASI 0.2 only; the provider's exports need no imports of ours).
    pub fn linker(&self) -> &Linker<HostState> {
        &self.inner.linker
    }

    /// Compiles the component at `path`. A missing file is reported with the cargo command that
    /// builds it when it is one of ours (see [`Artifact`]).
    pub fn load(&self, path: &Path) -> anyhow::Result<LoadedComponent> {
        let size = match std::fs::metadata(path) {
            Ok(m) => m.len(),
            Err(e) => {
                if let Some(artifact) = Artifact::for_path(path) {
                    bail!("{}", artifact.missing_message(path));
                }
                return Err(e).with_context(|| format!("reading {}", path.display()));
            }
        };
        let t0 = Instant::now();
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let (component, cached) = match &self.inner.cache {
            Some(dir) => self.load_cached(dir, &bytes, path)?,
            None => (self.compile(&bytes, path)?, false),
        };
        Ok(LoadedComponent {
            component,
            path: path.to_path_buf(),
            size,
            compile_time: t0.elapsed(),
            cached,
        })
    }

    fn compile(&self, bytes: &[u8], path: &Path) -> anyhow::Result<Component> {
        Component::new(self.engine(), bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling the component {}", path.display()))
    }

    /// Loads the compiled form of `bytes` from `dir`, or compiles and stores it. The file name
    /// is a hash of the component's bytes and of the engine's compatibility hash (wasmtime
    /// version and configuration). Any failure of the cache falls back to compiling.
    fn load_cached(
        &self,
        dir: &Path,
        bytes: &[u8],
        path: &Path,
    ) -> anyhow::Result<(Component, bool)> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        self.engine().precompile_compatibility_hash().hash(&mut h);
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("component");
        let file = dir.join(format!("{stem}-{:016x}.cwasm", h.finish()));
        if file.is_file() {
            // SAFETY: the file was written by `precompile_component` below into the cache
            // directory this runtime was given; wasmtime checks its version and configuration.
            if let Ok(c) = unsafe { Component::deserialize_file(self.engine(), &file) } {
                return Ok((c, true));
            }
        }
        let compiled = self
            .engine()
            .precompile_component(bytes)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("compiling the component {}", path.display()))?;
        let tmp = file.with_extension(format!("tmp{}", std::process::id()));
        if std::fs::create_dir_all(dir).is_ok() && std::fs::write(&tmp, &compiled).is_ok() {
            // One entry per component name: older builds of the same component go.
            if let Ok(entries) = std::fs::read_dir(dir) {
                for e in entries.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with(&format!("{stem}-")) && name.ends_with(".cwasm") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
            }
            let _ = std::fs::rename(&tmp, &file);
        }
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(self.engine(), &compiled) }
            .map_err(anyhow::Error::from)?;
        Ok((component, false))
    }

    /// Like [`Runtime::store_with`], and read-only access to each of `read_only_dirs`, at the
    /// same path in the component as on the host (a relative path stays relative). Fails when
    /// a directory cannot be opened.
    pub fn store_with_dirs(
        &self,
        policy: &NetworkPolicy,
        stdio: &Stdio,
        mut builder: WasiCtxBuilder,
        read_only_dirs: &[PathBuf],
    ) -> anyhow::Result<Store<HostState>> {
        grant_read_only(&mut builder, read_only_dirs)?;
        Ok(self.store_with(policy, stdio, builder))
    }

    /// A store whose WASI context gives exactly `policy`'s network access, no files, no
    /// environment, and the standard streams `stdio` says.
    pub fn store(&self, policy: &NetworkPolicy, stdio: &Stdio) -> Store<HostState> {
        self.store_with(policy, stdio, WasiCtxBuilder::new())
    }

    /// Like [`Runtime::store`], from a builder that already holds arguments or environment.
    pub fn store_with(
        &self,
        policy: &NetworkPolicy,
        stdio: &Stdio,
        mut builder: WasiCtxBuilder,
    ) -> Store<HostState> {
        policy.apply(&mut builder);
        stdio.apply(&mut builder);
        Store::new(self.engine(), HostState::new(&mut builder))
    }
}

/// Preopens each directory read-only (directory and files), guest path = host path.
fn grant_read_only(builder: &mut WasiCtxBuilder, dirs: &[PathBuf]) -> anyhow::Result<()> {
    for dir in dirs {
        let guest = dir
            .to_str()
            .with_context(|| format!("the directory {} is not valid UTF-8", dir.display()))?;
        builder
            .preopened_dir(dir, guest, FsPerms::ReadOnly)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("granting read access to the directory {}", dir.display()))?;
    }
    Ok(())
}

/// The standard streams of a component.
#[derive(Clone, Default)]
pub enum Stdio {
    /// Inherit the host process's stdin, stdout and stderr.
    Inherit,
    /// No stdin; stdout and stderr go to memory (read them with [`Stdio::stdout`] and
    /// [`Stdio::stderr`]).
    Capture {
        stdout: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
        stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe,
    },
    /// No stdin; stdout and stderr discarded.
    #[default]
    Null,
}

impl Stdio {
    /// In-memory stdout and stderr, each holding up to 16 MiB.
    pub fn capture() -> Self {
        const CAP: usize = 16 << 20;
        Stdio::Capture {
            stdout: wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(CAP),
            stderr: wasmtime_wasi::p2::pipe::MemoryOutputPipe::new(CAP),
        }
    }

    /// What the component wrote to stdout, when captured.
    pub fn stdout(&self) -> Vec<u8> {
        match self {
            Stdio::Capture { stdout, .. } => stdout.contents().to_vec(),
            _ => Vec::new(),
        }
    }

    /// What the component wrote to stderr, when captured.
    pub fn stderr(&self) -> Vec<u8> {
        match self {
            Stdio::Capture { stderr, .. } => stderr.contents().to_vec(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn apply(&self, builder: &mut WasiCtxBuilder) {
        match self {
            Stdio::Inherit => {
                builder.inherit_stdio();
            }
            Stdio::Capture { stdout, stderr } => {
                builder.stdout(stdout.clone()).stderr(stderr.clone());
            }
            Stdio::Null => {}
        }
    }
}

/// The components this workspace builds, with their default paths and build commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// The provider component (`wasmqtt_provider.wasm`), exporting `wasmqtt:mqtt/client`.
    Provider,
    /// The command component (`wasmqtt-cli.wasm`), a `wasi:cli/run` command.
    Cli,
}

impl Artifact {
    /// Environment variable that overrides the default path.
    pub fn env_var(self) -> &'static str {
        match self {
            Artifact::Provider => "WASMQTT_PROVIDER_WASM",
            Artifact::Cli => "WASMQTT_CLI_WASM",
        }
    }

    /// File name under `target/wasm32-wasip2/wasm/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Artifact::Provider => "wasmqtt_provider.wasm",
            Artifact::Cli => "wasmqtt-cli.wasm",
        }
    }

    /// The cargo command, run at the workspace root, that builds it.
    pub fn build_command(self) -> &'static str {
        match self {
            Artifact::Provider => {
                "cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-provider"
            }
            Artifact::Cli => "cargo build --profile wasm --target wasm32-wasip2 -p wasmqtt-cli",
        }
    }

    /// The cargo arguments of [`Artifact::build_command`].
    pub fn build_args(self) -> Vec<&'static str> {
        self.build_command().split(' ').skip(1).collect()
    }

    /// `$WASMQTT_PROVIDER_WASM` / `$WASMQTT_CLI_WASM` if set, else the default path in the
    /// workspace's target directory.
    pub fn path(self) -> PathBuf {
        match std::env::var_os(self.env_var()) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => self.default_path(),
        }
    }

    /// `<target dir>/wasm32-wasip2/wasm/<file name>`.
    pub fn default_path(self) -> PathBuf {
        target_dir()
            .join("wasm32-wasip2")
            .join("wasm")
            .join(self.file_name())
    }

    /// Which artifact `path` is, judged by its file name.
    pub fn for_path(path: &Path) -> Option<Artifact> {
        let name = path.file_name()?.to_str()?;
        [Artifact::Provider, Artifact::Cli]
            .into_iter()
            .find(|a| a.file_name() == name)
    }

    /// The error text for a missing artifact: where it was looked for and how to build it.
    pub fn missing_message(self, path: &Path) -> String {
        format!(
            "the {} component is missing: {} does not exist.\n\
             Build it at the workspace root ({}) with:\n    {}\n\
             (or point ${} at a built copy)",
            match self {
                Artifact::Provider => "provider",
                Artifact::Cli => "command-line",
            },
            path.display(),
            workspace_root().display(),
            self.build_command(),
            self.env_var(),
        )
    }

    /// Fails with [`Artifact::missing_message`] unless the artifact exists at [`Artifact::path`].
    pub fn require(self) -> anyhow::Result<PathBuf> {
        let path = self.path();
        if !path.is_file() {
            bail!("{}", self.missing_message(&path));
        }
        Ok(path)
    }
}

/// The workspace root: `$WASMQTT_ROOT` if set, else the parent of this crate's manifest
/// directory (as it was when this crate was compiled).
pub fn workspace_root() -> PathBuf {
    match std::env::var_os("WASMQTT_ROOT") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(".")),
    }
}

/// Cargo's target directory: `$CARGO_TARGET_DIR` (relative to the workspace root) if set, else
/// `<workspace root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(p) if !p.is_empty() => workspace_root().join(p),
        _ => workspace_root().join("target"),
    }
}
