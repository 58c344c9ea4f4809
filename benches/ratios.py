#!/usr/bin/env python3
"""Prints wasmqtt against rumqttc from criterion's results of `cargo bench --bench codec`.

Reads target/criterion/**/new/estimates.json (with the benchmark.json beside it for the
group and function names) and prints one row per case: the mean time of each library and
rumqttc/wasmqtt (above 1: wasmqtt is faster).

Usage: python3 benches/ratios.py [criterion directory] [--median]
"""

import glob
import json
import os
import sys


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    stat = "median" if "--median" in sys.argv else "mean"
    root = args[0] if args else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")
    times = {}  # case -> {library: ns}
    pattern = os.path.join(root, "**", "new", "estimates.json")
    for path in glob.glob(pattern, recursive=True):
        new = os.path.dirname(path)
        try:
            with open(os.path.join(new, "benchmark.json")) as f:
                meta = json.load(f)
            with open(path) as f:
                est = json.load(f)
        except (OSError, ValueError):
            continue
        lib = meta.get("function_id")
        if lib not in ("wasmqtt", "rumqttc"):
            continue
        times.setdefault(meta["group_id"], {})[lib] = est[stat]["point_estimate"]
    if not times:
        print(f"no criterion results under {root}", file=sys.stderr)
        return 1

    def order(case):
        op, ver, name = (case.split("/") + ["", ""])[:3]
        kinds = ["publish_16B", "publish_1KiB", "publish_64KiB", "connect", "subscribe"]
        return (ver, kinds.index(name) if name in kinds else 99, name, op)

    rows = []
    for case in sorted(times, key=order):
        t = times[case]
        ours, theirs = t.get("wasmqtt"), t.get("rumqttc")
        ratio = f"{theirs / ours:.2f}x" if ours and theirs else "-"
        fmt = lambda ns: f"{ns:,.1f}" if ns is not None else "-"
        rows.append((case, fmt(ours), fmt(theirs), ratio))
    header = ("case", f"wasmqtt ns ({stat})", f"rumqttc ns ({stat})", "rumqttc/wasmqtt")
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(4)]
    line = lambda r: "  ".join(
        r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(4))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))
    ratios = [times[c]["rumqttc"] / times[c]["wasmqtt"] for c in times
              if times[c].get("wasmqtt") and times[c].get("rumqttc")]
    if ratios:
        print(f"\nslowest case for wasmqtt: {min(ratios):.2f}x; fastest: {max(ratios):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
