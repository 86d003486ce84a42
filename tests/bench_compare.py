#!/usr/bin/env python3
"""tests/bench_compare.py - side by side: the C benchmark (tests/bench.c --tsv)
and the PyTorch baseline (/work/shared/bench/torch_baseline.py's
torch_baseline_results.json), as the markdown tables of docs/BENCHMARKS.md.

    python3 tests/bench_compare.py --torch /tmp/tb/torch_baseline_results.json \
        --ours tuned=/tmp/bench-omp.tsv --ours plain=/tmp/bench-plain.tsv

Speed ratios are ours / PyTorch in images per second (> 1: faster than
PyTorch); memory ratios are ours / PyTorch in peak RSS (< 1: less memory;
PyTorch's probes exist for Model1 224x224 only). The PyTorch suite compared
against is
--suite (default glibc-default, the installed stack as-is; glibc-no-mmap is
PyTorch with the allocator environment fix, measured only at 224x224 and for
Model5 64x64 unless the baseline ran with --full-no-mmap).
Standard library only.
"""

import argparse
import csv
import json
import sys

MODES = ["eval", "ce", "detached", "exact", "gradcam"]
TITLES = ["eval fwd", "train CE", "CE+cons detached", "CE+cons exact", "Grad-CAM (eval)"]


def load_ours(path):
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f, delimiter="\t"):
            rows[(int(r["level"]), int(r["size"]), r["mode"])] = r
    return rows


def load_torch(path, suite):
    with open(path) as f:
        d = json.load(f)
    out = {}
    for r in d["suites"].get(suite, []):
        if r.get("skipped") or "median_s" not in r:
            continue
        level = int(r["model"].replace("Model", ""))
        out[(level, int(r["size"]), r["mode"])] = r
    rss = {}
    for r in d.get("rss") or []:
        if r.get("allocator", "glibc-default") != "glibc-default" and "allocator" in r:
            continue
        level = int(str(r.get("model", "Model1")).replace("Model", ""))
        key = (level, int(r.get("size", 224)), r["mode"])
        rss.setdefault(key, r["ru_maxrss_after_steps_kib"] / 1024.0)
    return d, out, rss


def cases_of(*tables):
    keys = set()
    for t in tables:
        keys |= {(k[0], k[1]) for k in t}
    return sorted(keys, key=lambda c: (c[1], c[0]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--torch", required=True)
    ap.add_argument("--suite", default="glibc-default")
    ap.add_argument("--ours", action="append", required=True, help="NAME=FILE.tsv")
    ap.add_argument("--torch-rss", default=None,
                    help="extra PyTorch probes: lines 'RESULT {json}' printed by "
                         "torch_baseline.py --rss-probe MODE,ModelN,SIZE")
    a = ap.parse_args()
    env, torch, torch_rss = load_torch(a.torch, a.suite)
    if a.torch_rss:
        with open(a.torch_rss) as f:
            for line in f:
                line = line.strip()
                if line.startswith("RESULT "):
                    line = line[len("RESULT "):]
                if not line.startswith("{"):
                    continue
                r = json.loads(line)
                level = int(str(r["model"]).replace("Model", ""))
                torch_rss[(level, int(r["size"]), r["mode"])] = r["ru_maxrss_after_steps_kib"] / 1024.0
    ours = []
    for spec in a.ours:
        name, _, path = spec.partition("=")
        ours.append((name, load_ours(path)))
    print("PyTorch suite: %s; %s, %d threads" % (a.suite, env["env"].get("torch"), env["env"].get("threads")))
    print()
    for name, rows in ours:
        print("#### %s / PyTorch: speed ratio (images/s ours / images/s PyTorch; > 1: faster)" % name)
        print()
        print("| model | input | " + " | ".join(TITLES) + " | ours exact/CE | PyTorch exact/CE | threads | bits |")
        print("|---|---|" + "---|" * (len(MODES) + 4))
        for level, size in cases_of(rows):
            cells = []
            for m in MODES:
                o, t = rows.get((level, size, m)), torch.get((level, size, m))
                if not o:
                    cells.append("-")
                    continue
                ms = float(o["median_ms"])
                if t:
                    cells.append("%.2f (%.1f / %.1f ms)" % (t["median_s"] * 1e3 / ms, ms, t["median_s"] * 1e3))
                else:
                    cells.append("(%.1f ms / -)" % ms)
            o_ce, o_ex = rows.get((level, size, "ce")), rows.get((level, size, "exact"))
            t_ce, t_ex = torch.get((level, size, "ce")), torch.get((level, size, "exact"))
            r_o = "%.2f" % (float(o_ex["median_ms"]) / float(o_ce["median_ms"])) if o_ce and o_ex else "-"
            r_t = "%.2f" % (t_ex["median_s"] / t_ce["median_s"]) if t_ce and t_ex else "-"
            any_row = next(iter(r for r in (rows.get((level, size, m)) for m in MODES) if r))
            print("| Level %d | %dx%d | %s | %s | %s | %s | %s |" % (
                level, size, size, " | ".join(cells), r_o, r_t, any_row["threads"], any_row.get("bits", "-")))
        print()
        mem = [(c, rows) for c in cases_of(rows) if any(float(rows[(c[0], c[1], m)]["rss_mib"]) > 0
                                                        for m in MODES if (c[0], c[1], m) in rows)]
        if mem:
            print("#### %s: peak RSS (MiB) of a fresh process per mode, and / PyTorch where measured" % name)
            print()
            print("| model | input | setup | " + " | ".join(MODES) + " |")
            print("|---|---|---|" + "---|" * len(MODES))
            for (level, size), _ in mem:
                cells = []
                for m in MODES:
                    o = rows.get((level, size, m))
                    if not o:
                        cells.append("-")
                        continue
                    v = float(o["rss_mib"])
                    t = torch_rss.get((level, size, m))
                    cells.append("%.0f (%.2f of %.0f)" % (v, v / t, t) if t else "%.0f" % v)
                setup = rows[(level, size, MODES[0])]["setup_rss_mib"]
                print("| Level %d | %dx%d | %.0f | %s |" % (level, size, size, float(setup), " | ".join(cells)))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
