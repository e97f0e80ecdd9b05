#!/usr/bin/env python3
"""Benchmark of `gomem top --by root --json` (dominators and retained sizes) on a big heap.

    tests/bench/bench_top.py [--mib N[,N...]] [--runs R] [--build DIR] [--out DIR]
                             [--core-dir DIR]

The bench core is bench.py's: fixtures/bigheap built with the machine's Go and run to a
heap of N MiB (default 2048: about 25 million small objects), its kernel core kept in
OUT/bigheap-NMiB and reused while nothing changed. --core-dir DIR takes a bench core made
before (DIR/exe, DIR/core.kernel, DIR/truth.json) as it is, rebuilt or not.

With the page cache warm (one untimed run first), R runs of `gomem top --by root --json EXE
CORE` and, for comparison, of `gomem objects --json` (the object graph alone, which top
builds first); it prints the best wall time, CPU time (user + system) and peak RSS of each,
and whether the answer is right: the roots' retained bytes plus what several roots share
equal the reachable bytes, and reachable + unreachable = the truth's HeapAlloc. It exits 1
when an answer is wrong. Numbers only, no timed assertion. Targets (issue 14): 3 s and
1 GiB at 2 GiB.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the bench core and the measuring, shared)
from bench_objects import best  # noqa: E402  (wall, CPU, peak RSS through os.wait4)


def bench_one(args, out, label):
    exe, core = os.path.join(out, "exe"), os.path.join(out, "core.kernel")
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    gomem = os.path.join(args.build, "gomem")
    cli = [gomem, "top", "--by", "root", "--json", exe, core]
    objects = [gomem, "objects", "--json", exe, core]
    best(1, cli)  # warm the page cache
    wall, cpu, rss, text = best(args.runs, cli)
    o_wall, o_cpu, o_rss, o_text = best(args.runs, objects)
    d, o = json.loads(text), json.loads(o_text)
    roots = sum(e["retained_bytes"] for e in d["entries"] if e["kind"] is not None)
    right = (d["reachable"] == o["reachable"] and
             o["reachable"]["bytes"] + o["unreachable"]["bytes"] == truth["HeapAlloc"] and
             all(c["ok"] for c in d["checks"]) and
             (len(d["entries"]) < d["roots"] or
              roots + d["shared"]["bytes"] == d["reachable"]["bytes"]))
    print("%s: HeapAlloc %s, %d reachable objects, %d edges, %d roots" % (
        label, bench.human(truth["HeapAlloc"]), d["reachable"]["objects"], d["edges"],
        d["roots"]))
    print("  gomem top --by root --json: %.3f s wall, %.3f s CPU, %s peak RSS" % (
        wall, cpu, bench.human(rss)))
    print("  gomem objects --json (the graph alone): %.3f s wall, %.3f s CPU, %s peak RSS" % (
        o_wall, o_cpu, bench.human(o_rss)))
    print("  dominators and retained sizes: %.3f s CPU, %.1f ns per reachable object" % (
        cpu - o_cpu, 1e9 * (cpu - o_cpu) / max(d["reachable"]["objects"], 1)))
    top = d["entries"][0] if d["entries"] else None
    if top:
        print("  largest root: %s %s retains %s" % (top["kind"], top["name"],
                                                   bench.human(top["retained_bytes"])))
    print("  answer right (roots + shared = reachable, checks ok, totals = HeapAlloc): %s"
          % ("yes" if right else "NO"))
    sys.stdout.flush()
    return right


def main():
    bench.main_over_cores(__doc__, bench_one)


if __name__ == "__main__":
    main()
