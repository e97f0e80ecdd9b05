#!/usr/bin/env python3
"""Benchmark of `gomem paths ADDR --json` (shortest paths from the roots to one object) on a big
heap.

    tests/bench/bench_paths.py [--mib N[,N...]] [--runs R] [--build DIR] [--out DIR]
                               [--core-dir DIR]

The bench core is bench.py's: fixtures/bigheap built with the machine's Go and run to a heap
of N MiB (default 2048: about 25 million small objects hanging off 8 KiB pointer arrays that
the global main.chunks holds, and 8 MiB buffers that main.buffers holds), its kernel core kept
in OUT/bigheap-NMiB and reused while nothing changed. --core-dir DIR takes a bench core made
before (DIR/exe, DIR/core.kernel, DIR/truth.json) as it is.

The objects asked about, from gomem's own span list: the first slot of the highest in-use span
of the smallest and of the largest small size class (main.chunks[i][j], three objects deep,
among the last the search reaches), one pointer array (two deep) and one 8 MiB buffer. With
the page cache warm (one untimed run first), R runs of `gomem paths --json EXE CORE ADDR`
each, and for comparison `gomem types --json` (the graph and the types, which paths builds
first); it prints the best wall time, CPU time (user + system) and peak RSS, and whether the
answer is right: the object is reachable, its first path starts at the global that holds it,
has the depth the program's shape gives and ends at the object. It exits 1 when an answer is
wrong. Numbers only, no timed assertion. Target (issue 14): 1.5 s at 2 GiB.
"""

import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the bench core and the measuring, shared)
from bench_objects import best  # noqa: E402  (wall, CPU, peak RSS through os.wait4)


def targets(gomem, exe, core):
    """(label, addr, global, depth) of the objects to ask about."""
    r = subprocess.run([gomem, "spans", "--json", "--state", "in-use", exe, core],
                       capture_output=True, text=True, check=True)
    spans = [s for s in json.loads(r.stdout)["spans"] if s["allocated"]]
    # bigheap's small objects are 16 to 512 bytes, noscan (fixtures/bigheap).
    small = sorted({s["elemsize"] for s in spans if s["noscan"] and 0 < s["class"] and
                    s["elemsize"] <= 512})
    out = []
    for size in (small[0], small[-1]):
        top = max((s for s in spans if s["noscan"] and s["elemsize"] == size and s["class"]),
                  key=lambda s: s["start"])
        out.append(("a %d-byte object (main.chunks[i][j])" % size, top["start"],
                    "main.chunks", 3))
    # The pointer arrays (8 KiB and a malloc header): the scan size class with most spans.
    scan = [s for s in spans if not s["noscan"] and s["class"]]
    counts = {}
    for s in scan:
        counts[s["elemsize"]] = counts.get(s["elemsize"], 0) + 1
    arrays = [s for s in scan if counts and s["elemsize"] == max(counts, key=counts.get)]
    if arrays:
        a = max(arrays, key=lambda s: s["start"])
        out.append(("a pointer array of %d bytes (main.chunks[i])" % a["elemsize"], a["start"],
                    "main.chunks", 2))
    buffers = [s for s in spans if s["noscan"] and s["class"] == 0 and s["elemsize"] == 8 << 20]
    if buffers:
        b = max(buffers, key=lambda s: s["start"])
        out.append(("an 8 MiB buffer (main.buffers[i])", b["start"], "main.buffers", 2))
    return out


def bench_one(args, out, label):
    exe, core = os.path.join(out, "exe"), os.path.join(out, "core.kernel")
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    gomem = os.path.join(args.build, "gomem")
    types = [gomem, "types", "--json", exe, core]
    best(1, types)  # warm the page cache
    t_wall, t_cpu, t_rss, _ = best(args.runs, types)
    print("%s: HeapAlloc %s, %d objects" % (label, bench.human(truth["HeapAlloc"]),
                                            truth["HeapObjects"]))
    print("  gomem types --json (the graph and its types, which paths builds first): "
          "%.3f s wall, %.3f s CPU, %s peak RSS" % (t_wall, t_cpu, bench.human(t_rss)))
    right = True
    for what, addr, root, depth in targets(gomem, exe, core):
        cli = [gomem, "paths", "--json", exe, core, "%#x" % addr]
        wall, cpu, rss, text = best(args.runs, cli)
        d = json.loads(text)
        first = d["paths"][0] if d["paths"] else None
        ok = (d["object"]["reachable"] and first is not None and
              first["root"]["kind"] == "global" and first["root"]["name"] == root and
              first["depth"] == depth and first["steps"][-1]["addr"] == addr)
        right = right and ok
        print("  gomem paths --json %#x, %s: %.3f s wall, %.3f s CPU, %s peak RSS; "
              "%d path(s), the first: %s, depth %s; right: %s" % (
                  addr, what, wall, cpu, bench.human(rss), len(d["paths"]),
                  first["root"]["name"] if first else "-", first["depth"] if first else "-",
                  "yes" if ok else "NO"))
        print("    the searches and naming (paths - types): %.3f s CPU" % (cpu - t_cpu))
    sys.stdout.flush()
    return right


def main():
    bench.main_over_cores(__doc__, bench_one)


if __name__ == "__main__":
    main()
