#!/usr/bin/env python3
"""Benchmark of `gomem pprof` (the object graph as a pprof profile) on a big heap.

    tests/bench/bench_pprof.py [--mib N[,N...]] [--runs R] [--build DIR] [--out DIR]
                               [--core-dir DIR]

The bench core is bench.py's: fixtures/bigheap built with the machine's Go and run to a
heap of N MiB (default 2048: about 25 million small objects), its kernel core kept in
OUT/bigheap-NMiB and reused while nothing changed. --core-dir DIR takes a bench core made
before (DIR/exe, DIR/core.kernel, DIR/truth.json) as it is, rebuilt or not.

With the page cache warm (one untimed run first), R runs of `gomem pprof --json -o FILE EXE
CORE` and, for comparison, of what it is built on: `gomem types --json` (the graph and its
types) and `gomem top --by root --json` (the graph and its dominator tree). It prints the best
wall time, CPU time (user + system) and peak RSS of each, the profile's size, samples and
locations, the cost of the profile itself over the types and the dominators, and whether the
answer is right: the samples add up to the reachable objects and bytes (the report's checks),
and reachable + unreachable = the truth's HeapAlloc. It exits 1 when an answer is wrong.
Numbers only, no timed assertion. Target (issue 14): 1.5 s at 2 GiB.
"""

import json
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the bench core and the measuring, shared)
from bench_objects import best  # noqa: E402  (wall, CPU, peak RSS through os.wait4)


def bench_one(args, out, label):
    exe, core = os.path.join(out, "exe"), os.path.join(out, "core.kernel")
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    gomem = os.path.join(args.build, "gomem")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "heap.pb.gz")
        cli = [gomem, "pprof", "--json", "-o", path, exe, core]
        best(1, cli)  # warm the page cache
        wall, cpu, rss, text = best(args.runs, cli)
        size = os.path.getsize(path)
    t_wall, t_cpu, t_rss, _ = best(args.runs, [gomem, "types", "--json", exe, core])
    d_wall, d_cpu, d_rss, _ = best(args.runs, [gomem, "top", "--by", "root", "--json", exe,
                                               core])
    o_wall, o_cpu, _, o_text = best(args.runs, [gomem, "objects", "--json", exe, core])
    d, o = json.loads(text), json.loads(o_text)
    right = (d["reachable"] == o["reachable"] and
             d["totals"] == {"inuse_objects": o["reachable"]["objects"],
                             "inuse_space": o["reachable"]["bytes"]} and
             o["reachable"]["bytes"] + o["unreachable"]["bytes"] == truth["HeapAlloc"] and
             all(c["ok"] for c in d["checks"]))
    print("%s: HeapAlloc %s, %d reachable objects" % (
        label, bench.human(truth["HeapAlloc"]), d["reachable"]["objects"]))
    print("  gomem pprof --json: %.3f s wall, %.3f s CPU, %s peak RSS" % (
        wall, cpu, bench.human(rss)))
    print("  profile: %s gzipped, %d samples, %d locations; unknown type %s, no single "
          "root %s, chains cut %d objects" % (
              bench.human(size), d["samples"], d["locations"],
              bench.human(d["unknown"]["bytes"]), bench.human(d["shared"]["bytes"]),
              d["cut"]["objects"]))
    print("  built on: gomem objects %.3f s CPU; types %.3f s wall, %.3f s CPU, %s; "
          "top --by root %.3f s wall, %.3f s CPU, %s" % (
              o_cpu, t_wall, t_cpu, bench.human(t_rss), d_wall, d_cpu, bench.human(d_rss)))
    # types = graph + typing, top = graph + dominators: pprof = graph + typing + dominators
    # + the profile.
    own = cpu - (t_cpu + d_cpu - o_cpu)
    print("  the profile itself (pprof - types - top + objects): %.3f s CPU" % own)
    print("  answer right (samples = reachable, checks ok, totals = HeapAlloc): %s"
          % ("yes" if right else "NO"))
    sys.stdout.flush()
    return right


def main():
    bench.main_over_cores(__doc__, bench_one)


if __name__ == "__main__":
    main()
