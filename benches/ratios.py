#!/usr/bin/env python3
"""Prints wasmqtt against rumqttc from criterion's results of `cargo bench --bench codec`.

Reads target/criterion/**/new/estimates.json (with the benchmark.json beside it for the
group and function names) and prints one row per case: the time of each library and
rumqttc/wasmqtt (above 1: wasmqtt is faster).

The machine may be noisy, so a single run proves little: save each round's results and
aggregate them, which prints per case the median ratio over the rounds and its spread
(min–max), never the best round.

Usage:
  python3 benches/ratios.py [criterion directory] [--median] [--save ROUND.json]
  python3 benches/ratios.py --aggregate ROUND.json [ROUND.json ...]

For example, three rounds:
  for i in 1 2 3; do
    cargo bench --bench codec -- --warm-up-time 1 --measurement-time 2 '^(encode|decode)/'
    python3 benches/ratios.py --median --save /tmp/codec-round-$i.json
  done
  python3 benches/ratios.py --aggregate /tmp/codec-round-*.json
"""

import glob
import json
import os
import statistics
import sys

KINDS = ["publish_16B", "publish_1KiB", "publish_64KiB", "connect", "subscribe"]


def order(case):
    op, ver, name = (case.split("/") + ["", ""])[:3]
    return (ver, KINDS.index(name) if name in KINDS else 99, name, op)


def load(root, stat):
    """{case: {library: ns}} from a criterion directory."""
    times = {}
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
    return times


def table(header, rows):
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(
        r[i].ljust(widths[i]) if i == 0 else r[i].rjust(widths[i]) for i in range(len(r)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print(line(r))


def ratio(t):
    ours, theirs = t.get("wasmqtt"), t.get("rumqttc")
    return theirs / ours if ours and theirs else None


def fmt_ns(ns):
    return f"{ns:,.1f}" if ns is not None else "-"


def single(times, stat):
    rows = []
    for case in sorted(times, key=order):
        t = times[case]
        r = ratio(t)
        rows.append((case, fmt_ns(t.get("wasmqtt")), fmt_ns(t.get("rumqttc")),
                     f"{r:.2f}x" if r else "-"))
    table(("case", f"wasmqtt ns ({stat})", f"rumqttc ns ({stat})", "rumqttc/wasmqtt"), rows)
    ratios = [r for r in (ratio(t) for t in times.values()) if r]
    if ratios:
        print(f"\nslowest case for wasmqtt: {min(ratios):.2f}x; fastest: {max(ratios):.2f}x")


def aggregate(files):
    rounds = []
    for path in files:
        with open(path) as f:
            rounds.append(json.load(f))
    cases = sorted({c for r in rounds for c in r}, key=order)
    rows, medians = [], []
    for case in cases:
        rs = [ratio(r[case]) for r in rounds if case in r]
        rs = [x for x in rs if x]
        ours = [r[case]["wasmqtt"] for r in rounds if r.get(case, {}).get("wasmqtt")]
        theirs = [r[case]["rumqttc"] for r in rounds if r.get(case, {}).get("rumqttc")]
        if not rs:
            continue
        med = statistics.median(rs)
        medians.append(med)
        rows.append((case, fmt_ns(statistics.median(ours)), fmt_ns(statistics.median(theirs)),
                     f"{med:.2f}x", f"{min(rs):.2f}–{max(rs):.2f}", str(len(rs))))
    table(("case", "wasmqtt ns (median)", "rumqttc ns (median)", "ratio (median)",
           "ratio min–max", "rounds"), rows)
    if medians:
        print(f"\nmedian ratios: slowest case {min(medians):.2f}x; fastest {max(medians):.2f}x")


def main() -> int:
    argv = sys.argv[1:]
    if "--aggregate" in argv:
        files = [a for a in argv if not a.startswith("--")]
        if not files:
            print("--aggregate needs round files (made with --save)", file=sys.stderr)
            return 2
        aggregate(files)
        return 0
    save = None
    if "--save" in argv:
        i = argv.index("--save")
        if i + 1 >= len(argv):
            print("--save needs a file name", file=sys.stderr)
            return 2
        save = argv[i + 1]
        del argv[i:i + 2]
    args = [a for a in argv if not a.startswith("--")]
    stat = "median" if "--median" in argv else "mean"
    root = args[0] if args else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")
    times = load(root, stat)
    if not times:
        print(f"no criterion results under {root}", file=sys.stderr)
        return 1
    single(times, stat)
    if save:
        with open(save, "w") as f:
            json.dump(times, f, indent=1, sort_keys=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
