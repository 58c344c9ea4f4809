#!/usr/bin/env bash
# What the bytes of a shipped artifact are: builds it as scripts/sizes.sh does, but keeping the
# function names (`strip = false`, wasm-opt with `-g`), and prints its code and data by kind,
# from twiggy's per-function sizes:
#
#   ./scripts/size-breakdown.sh provider|cli|browser
#
# provider and cli are the plain builds (`--no-default-features`); their core module is taken
# out of the component and optimised with the flags of components/wasm_opt_link.rs. browser is
# scripts/web-demo.sh's build (wasm-bindgen, then wasm-opt with its flags). The totals are
# code + data of the optimised core module with its names, so a little above the shipped
# artifact's size; inlining moves code between kinds (a core function inlined into a driver
# counts as the driver's). Needs twiggy (`cargo install twiggy --version 0.8.0 --locked`) and
# binaryen's wasm-opt (web-demo's npm package, or $WASM_OPT), as the size builds do. Not part
# of the test command: a measuring tool.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
what=${1:-}
case $what in provider | cli | browser) ;; *) echo "usage: $0 provider|cli|browser" >&2; exit 2 ;; esac
command -v twiggy >/dev/null || { echo "size-breakdown.sh: needs twiggy (cargo install twiggy --version 0.8.0 --locked)" >&2; exit 1; }
WASM_OPT=${WASM_OPT:-$ROOT/web-demo/node_modules/.bin/wasm-opt}
if [ ! -x "$WASM_OPT" ]; then
    (cd web-demo && npm ci --no-audit --no-fund >&2)
fi
dir=$ROOT/target/size-breakdown
mkdir -p "$dir"
features=(--enable-bulk-memory --enable-sign-ext --enable-mutable-globals
    --enable-nontrapping-float-to-int --enable-reference-types --enable-multivalue)

case $what in
provider | cli)
    pkg=wasmqtt-$what
    file=$([ "$what" = provider ] && echo wasmqtt_provider.wasm || echo wasmqtt-cli.wasm)
    WASMQTT_NO_WASM_OPT=1 CARGO_INCREMENTAL=0 CARGO_PROFILE_WASM_STRIP=false \
        cargo build --quiet --profile wasm --target wasm32-wasip2 --target-dir "$dir" \
        -p "$pkg" --no-default-features >&2
    # The component's largest core module (wasm-component-ld adds two small adapter shims).
    python3 - "$dir/wasm32-wasip2/wasm/$file" "$dir/$what.core.wasm" <<'EOF'
import sys
def leb(b, i):
    r = s = 0
    while True:
        x = b[i]; i += 1
        r |= (x & 0x7f) << s; s += 7
        if x < 0x80:
            return r, i
b = open(sys.argv[1], 'rb').read()
i, mods = 8, []
while i < len(b):
    sid = b[i]; i += 1
    n, i = leb(b, i)
    if sid == 1:  # core module section
        mods.append(b[i:i + n])
    i += n
open(sys.argv[2], 'wb').write(max(mods, key=len))
EOF
    "$WASM_OPT" -g -Oz "${features[@]}" "$dir/$what.core.wasm" -o "$dir/$what.opt.wasm"
    ;;
browser)
    CARGO_INCREMENTAL=0 CARGO_PROFILE_WASM_STRIP=false CARGO_PROFILE_WASM_OPT_LEVEL=z \
        cargo build --quiet -p wasmqtt-browser --lib --profile wasm --target wasm32-unknown-unknown \
        --no-default-features --features standalone --target-dir "$dir" >&2
    rm -rf "$dir/bindgen"
    wasm-bindgen --target web --out-name wasmqtt --out-dir "$dir/bindgen" \
        "$dir/wasm32-unknown-unknown/wasm/wasmqtt_browser.wasm"
    "$WASM_OPT" -g -Oz -ocimfs 0 "${features[@]}" "$dir/bindgen/wasmqtt_bg.wasm" -o "$dir/$what.opt.wasm"
    ;;
esac

twiggy top -n 1000000 --format csv "$dir/$what.opt.wasm" >"$dir/$what.csv"
python3 - "$dir/$what.csv" "$what" <<'EOF'
import collections, csv, re, sys

def kind(name):
    if name.startswith('custom section') or 'subsection' in name:
        return None  # names and producers: not shipped
    if 'btree' in name or 'BTree' in name:
        return 'BTreeMap / BTreeSet'
    if name.startswith('data segment') or name.startswith('data['):
        return 'data segments'
    if (name.startswith('wasmqtt:mqtt') or name.startswith('cabi_') or 'wit_bindgen' in name
            or (name.startswith('export ') and 'wbindgen' not in name)
            or (name.startswith('import ') and 'snippets' not in name and 'wbg' not in name)):
        return 'WIT bindings (lifting, lowering, exports)'
    if any(s in name for s in ('fmt', 'Display', 'Debug', 'escape_debug')) or 'to_string' in name.lower():
        return 'formatting (Display, Debug, to_string)'
    if any(s in name for s in ('wasm_bindgen', 'js_sys', 'web_sys', '__wbindgen', '__wbg', 'snippets')) \
            or name.startswith('Closure'):
        return 'wasm-bindgen, js-sys, web-sys'
    m = re.match(r'^(?:<)?(?:&(?:mut )?)?(?:<)?([A-Za-z_][A-Za-z0-9_]*)', name)
    crate = m.group(1) if m else name
    if crate == 'wasmqtt':
        return 'core (codec, session, topic)'
    if crate.startswith('wasmqtt_'):
        return 'driver or component'
    if crate in ('alloc', 'core', 'std'):
        return 'std, alloc, core (other)'
    if crate in ('dlmalloc', 'dlfree', 'talc', 'realloc', 'dispose_chunk', 'prepend_alloc',
                 'internal_memalign', 'malloc', 'free'):
        return 'allocator'
    return 'other'

sizes, total = collections.Counter(), 0
for row in csv.DictReader(open(sys.argv[1])):
    k = kind(row['Name'])
    if k is None:
        continue
    n = int(row['ShallowSize'])
    sizes[k] += n
    total += n
print(f'breakdown {sys.argv[2]}: {total} B of code and data')
for k, n in sizes.most_common():
    print(f'{n:9} B {100 * n / total:5.1f} %  {k}')
EOF
