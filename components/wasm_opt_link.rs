// Shared by the build scripts of the provider and of the command component (`include!`d):
// optimises the core module with binaryen's `wasm-opt -Oz` before it becomes a component.
//
// For wasm32-wasip2 rustc links with wasm-component-ld, which runs wasm-ld and then turns its
// core module into a component (wit-component). wasm-opt does not read components, but
// wasm-component-ld takes `--wasm-ld-path`: this points it at a wrapper, written to OUT_DIR,
// that runs rustc's own wasm-ld and then `wasm-opt -Oz` on the core module wasm-ld wrote, in
// place; wasm-component-ld componentizes the optimised module (wasm-opt keeps the custom
// sections holding the component type).
//
// Only for wasm32-wasip2 builds at opt-level "s" or "z" (the `wasm` profile). wasm-opt is
// `$WASM_OPT`, else web-demo's npm binaryen (web-demo/node_modules/.bin/wasm-opt, `npm ci` in
// web-demo/; scripts/build-components.sh does that); without one the component is linked
// unoptimised, with a cargo warning. `WASMQTT_NO_WASM_OPT=1` turns the step off.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

/// `kind`: the link-arg target, "cdylib" (the provider) or "bins" (the command component).
fn wasm_opt_link(kind: &str) {
    println!("cargo:rerun-if-env-changed=WASM_OPT");
    println!("cargo:rerun-if-env-changed=WASMQTT_NO_WASM_OPT");
    println!("cargo:rerun-if-changed=../wasm_opt_link.rs");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let opt_level = var("OPT_LEVEL");
    if var("TARGET") != "wasm32-wasip2" || !matches!(opt_level.as_str(), "s" | "z") {
        return;
    }
    if env::var_os("WASMQTT_NO_WASM_OPT").is_some() {
        return;
    }
    let manifest = PathBuf::from(var("CARGO_MANIFEST_DIR"));
    let wasm_opt = match env::var_os("WASM_OPT") {
        Some(path) => PathBuf::from(path),
        None => manifest.join("../../web-demo/node_modules/.bin/wasm-opt"),
    };
    println!("cargo:rerun-if-changed={}", wasm_opt.display());
    let Ok(wasm_opt) = wasm_opt.canonicalize() else {
        println!(
            "cargo:warning=no wasm-opt at {} (npm ci in web-demo/, or set WASM_OPT): the component is not optimised",
            wasm_opt.display()
        );
        return;
    };
    let sysroot = Command::new(var("RUSTC"))
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned());
    let Some(sysroot) = sysroot else {
        println!("cargo:warning=`rustc --print sysroot` failed: the component is not optimised");
        return;
    };
    let wasm_ld = Path::new(&sysroot)
        .join("lib/rustlib")
        .join(var("HOST"))
        .join("bin/gcc-ld/wasm-ld");
    if !wasm_ld.is_file() {
        println!(
            "cargo:warning=no wasm-ld at {}: the component is not optimised",
            wasm_ld.display()
        );
        return;
    }
    // The features are those rustc enables for wasm32-wasip2 (wasm-opt refuses others).
    let script = format!(
        r#"#!/bin/sh
# Written by components/wasm_opt_link.rs: wasm-ld, then wasm-opt -O{opt_level} on its output.
set -e
'{ld}' "$@"
out=
while [ $# -gt 0 ]; do
    case "$1" in
    -o | --output) out=$2; shift ;;
    --output=*) out=${{1#--output=}} ;;
    esac
    shift
done
[ -n "$out" ] || {{ echo "wasm-ld-opt: no -o in the wasm-ld arguments" >&2; exit 1; }}
exec '{opt}' -O{opt_level} --enable-bulk-memory --enable-sign-ext --enable-mutable-globals \
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue \
    "$out" -o "$out"
"#,
        ld = wasm_ld.display(),
        opt = wasm_opt.display(),
    );
    let path = PathBuf::from(var("OUT_DIR")).join("wasm-ld-opt");
    fs::write(&path, script).expect("write the wasm-ld wrapper");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755))
            .expect("make the wasm-ld wrapper executable");
    }
    println!(
        "cargo:rustc-link-arg-{kind}=--wasm-ld-path={}",
        path.display()
    );
}
