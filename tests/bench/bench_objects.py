#!/usr/bin/env python3
"""Benchmark of `gomem objects` (the object graph) on a big heap.

    tests/bench/bench_objects.py [--mib N[,N...]] [--runs R] [--build DIR] [--out DIR]

The bench core is bench.py's: fixtures/bigheap built with the machine's Go and run to a
heap of N MiB (default 2048 and 1024: about 25 and 12.5 million small objects, every page
written), its kernel core kept in OUT/bigheap-NMiB and reused while nothing changed.

With the page cache warm (one untimed run first), R runs of `gomem objects --json EXE
CORE`; it prints the best wall time, CPU time (user + system) and peak RSS (wait4's
ru_maxrss), the cost per object (CPU time and bytes), how it grows from one size to the next, and whether the answer is right:
reachable + unreachable = the truth's HeapObjects and HeapAlloc, every check ok. It exits 1
when an answer is wrong. Numbers only, no timed assertion. Targets (issue 13): the whole
`gomem types --json` in 1.0 s and 256 MiB at 2 GiB, so `objects` well under.
"""

import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the bench core and the measuring, shared)


def measure_cpu(argv):
    """Wall time, CPU time (user + system: less sensitive than wall time to other work on a
    shared machine), peak RSS and output of one run of argv, through os.wait4."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc not in (0, 1):
        sys.exit("bench: %s failed with status %d" % (" ".join(argv), rc))
    return wall, ru.ru_utime + ru.ru_stime, ru.ru_maxrss * 1024, out.decode()


def best(runs, argv):
    results = [measure_cpu(argv) for _ in range(runs)]
    return (min(r[0] for r in results), min(r[1] for r in results),
            min(r[2] for r in results), results[0][3])


def bench_one(args, mib, go):
    out = os.path.join(args.out, "bigheap-%dMiB" % mib)
    bench.make_core(out, mib, go)
    exe, core = os.path.join(out, "exe"), os.path.join(out, "core.kernel")
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    cli = [os.path.join(args.build, "gomem"), "objects", "--json", exe, core]
    measure_cpu(cli)  # warm the page cache
    wall, cpu, rss, text = best(args.runs, cli)
    d = json.loads(text)
    objects = d["reachable"]["objects"] + d["unreachable"]["objects"]
    nbytes = d["reachable"]["bytes"] + d["unreachable"]["bytes"]
    right = (objects == truth["HeapObjects"] and nbytes == truth["HeapAlloc"] and
             all(c["ok"] for c in d["checks"]))
    summary = [os.path.join(args.build, "gomem"), "summary", "--json", exe, core]
    s_wall, s_cpu, s_rss, _ = best(args.runs, summary)
    print("heap %d MiB: HeapAlloc %s, %d objects (%d reachable), %d edges" % (
        mib, bench.human(truth["HeapAlloc"]), objects, d["reachable"]["objects"],
        d["edges"]["edges"]))
    print("  gomem objects --json: %.3f s wall, %.3f s CPU, %s peak RSS; %.1f ns of CPU and "
          "%.1f bytes of RSS per object" % (wall, cpu, bench.human(rss),
                                            1e9 * cpu / max(objects, 1), rss / max(objects, 1)))
    print("  gomem summary --json (for comparison, metadata only): %.3f s wall, %.3f s CPU, %s"
          % (s_wall, s_cpu, bench.human(s_rss)))
    print("  answer right (reachable + unreachable = HeapObjects and HeapAlloc, checks ok): %s"
          % ("yes" if right else "NO"))
    sys.stdout.flush()
    return right, objects, cpu, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", default="2048,1024", help="heap sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each (the best counts)")
    ap.add_argument("--build", default=os.environ.get("GOMEM_BUILD", os.path.join(
        bench.TOP, "build")), help="the build directory with gomem")
    ap.add_argument("--out", default=None, help="where the cores go (default BUILD/bench)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out or os.path.join(args.build, "bench"))
    go = bench.go_binary()
    print("machine: %s" % bench.machine())
    print("gomem: %s; Go: %s; best of %d runs, page cache warm" % (
        args.build, subprocess.run([go, "version"], capture_output=True,
                                   text=True).stdout.strip(), args.runs))
    ok, points = True, []
    for mib in [int(x) for x in args.mib.split(",") if x]:
        right, objects, wall, rss = bench_one(args, mib, go)
        ok = ok and right
        points.append((mib, objects, wall, rss))
    for (m1, o1, w1, r1), (m2, o2, w2, r2) in zip(points, points[1:]):
        print("from %d to %d MiB: objects x%.2f, CPU time x%.2f, peak RSS x%.2f" % (
            m1, m2, o2 / max(o1, 1), w2 / max(w1, 1e-9), r2 / max(r1, 1)))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
