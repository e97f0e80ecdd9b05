#!/usr/bin/env python3
"""Benchmark of `gomem types --json` on the big heap, against `gomem objects --json` (the
object graph it builds on) and `gomem summary --json` (which must not slow down).

    tests/bench/bench_types.py [--mib N[,N...]] [--runs R] [--build DIR] [--out DIR]

The cores are bench.py's (fixtures/bigheap, a kernel core of a heap of N MiB: about 25
million small objects at 2 GiB), made or reused in OUT/bigheap-NMiB the same way (default
sizes 2048 and 1024, so that the figures say how the cost grows with the heap). With the
page cache warm (one untimed run first) each verb runs R times; the best run's wall time and
peak RSS (wait4's ru_maxrss) are printed, with the CPU time (user + system: on a shared
machine less noisy than the wall time), the cost per object, and what typing adds to the
graph; then how each grows from one heap size to the next. The types' objects must add up to the truth's HeapObjects (a benchmark of wrong
answers is worthless: exit 1 if not). Numbers only: it asserts no speed, a timed test would
be flaky. The issue's targets for `types --json` at 2 GiB are 1.0 s and 256 MiB.
"""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (the cores, the measurements and the machine line)
from bench_objects import best, measure_cpu  # noqa: E402  (wall, CPU, peak RSS: os.wait4)

TARGET_SECONDS, TARGET_RSS = 1.0, 256 << 20


def bench_mib(args, mib, go):
    out = os.path.join(args.out, "bigheap-%dMiB" % mib)
    bench.make_core(out, mib, go)
    exe, core = os.path.join(out, "exe"), os.path.join(out, "core.kernel")
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    gomem = os.path.join(args.build, "gomem")
    res = {}
    for verb in ("summary", "objects", "types"):
        argv = [gomem, verb, "--json", exe, core]
        measure_cpu(argv)  # warm the page cache
        res[verb] = best(args.runs, argv)
    wall, cpu, rss, text = res["types"]
    doc = json.loads(text)
    tot, unk = doc["total"], doc["unknown"]
    objects = tot["reachable_objects"] + tot["unreachable_objects"]
    ok = objects == truth["HeapObjects"]
    print("\nheap %d MiB: %d objects (HeapObjects %d: %s), core %s"
          % (mib, objects, truth["HeapObjects"], "ok" if ok else "WRONG",
             bench.human(os.stat(core).st_size)))
    for verb in ("summary", "objects", "types"):
        w, c, r, _ = res[verb]
        print("  %-8s %7.3f s wall %7.3f s CPU  %10s peak RSS  %6.1f ns of CPU/object"
              % (verb, w, c, bench.human(r), 1e9 * c / max(1, objects)))
    ow, oc, orss, _ = res["objects"]
    print("  typing adds %.3f s of CPU (%.1f ns/object) and %s to the graph"
          % (cpu - oc, 1e9 * (cpu - oc) / max(1, objects), bench.human(max(0, rss - orss))))
    print("  unknown: %.3f%% of the reachable bytes; %d types; %d self-typed, %d propagated, "
          "%d rejected" % (100.0 * unk["reachable_bytes"] / max(1, tot["reachable_bytes"]),
                           len(doc["types"]), doc["typing"]["self_typed"],
                           doc["typing"]["propagated"], doc["typing"]["rejected"]))
    print("  target (types --json): %.1f s and %s: %s by %.2fx in time, %.2fx in memory"
          % (TARGET_SECONDS, bench.human(TARGET_RSS),
             "met" if wall <= TARGET_SECONDS and rss <= TARGET_RSS else "missed",
             wall / TARGET_SECONDS, rss / TARGET_RSS))
    return ok, objects, {verb: res[verb][:3] for verb in res}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", default="2048,1024", help="heap sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each (the best counts)")
    ap.add_argument("--build", default=os.environ.get("GOMEM_BUILD",
                                                      os.path.join(bench.TOP, "build")))
    ap.add_argument("--out", default=None, help="where the cores go (default BUILD/bench)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out or os.path.join(args.build, "bench"))
    go = bench.go_binary()
    print("machine: %s" % bench.machine())
    print("gomem: %s; best of %d runs, page cache warm" % (args.build, args.runs))
    ok, points = True, []
    for mib in [int(x) for x in args.mib.split(",") if x]:
        right, objects, res = bench_mib(args, mib, go)
        ok &= right
        points.append((mib, objects, res))
    for (m1, o1, r1), (m2, o2, r2) in zip(points, points[1:]):
        print("from %d to %d MiB: objects x%.2f; CPU time x%.2f (objects), x%.2f (types); "
              "peak RSS x%.2f (types)"
              % (m1, m2, o2 / max(o1, 1), r2["objects"][1] / max(r1["objects"][1], 1e-9),
                 r2["types"][1] / max(r1["types"][1], 1e-9),
                 r2["types"][2] / max(r1["types"][2], 1)))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
