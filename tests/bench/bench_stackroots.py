#!/usr/bin/env python3
"""Benchmark of the goroutine stacks as roots (objects/stackroots.c) on the fixture cores.

    tests/bench/bench_stackroots.py [--build DIR] [--runs R] [PROGRAM...]

For each fixture of build/fixtures whose name starts with one of PROGRAM (default: heapmix,
goroutines, objgraph, hello, spinners), built with the machine's Go when there is one, it runs
the stack-roots driver (build/tests/test_stackroots --slots EXE core.kernel) R times with a
warm page cache and prints the best time of one gm_stack_roots() call as the driver measures
it (every goroutine's frames walked and every slot given to a counting callback, the core
already open), the driver's wall time and peak RSS, and the time per frame.
Numbers only: it asserts nothing (a timed test would be flaky).
"""

import argparse
import os
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(cmd):
    """Wall seconds and peak RSS (KiB, wait4's ru_maxrss) of cmd, and its stdout."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if status:
        sys.exit("%s failed (status %d)" % (" ".join(cmd), status))
    return wall, usage.ru_maxrss, out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(TOP, "build"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("programs", nargs="*",
                    default=["heapmix", "goroutines", "objgraph", "hello", "spinners"])
    a = ap.parse_args()
    driver = os.path.join(a.build, "tests", "test_stackroots")
    if not os.access(driver, os.X_OK):
        sys.exit("%s is not built (make unit)" % driver)
    go = shutil.which("go") or "/usr/local/go/bin/go"
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True,
                             text=True).stdout.strip()
    root = os.path.join(a.build, "fixtures")
    print("%-28s %10s %10s %8s %6s %8s %8s %9s" % (
        "fixture", "roots ms", "total s", "RSS MiB", "gs", "frames", "slots", "us/frame"))
    for prog in a.programs:
        names = sorted(n for n in os.listdir(root) if n.startswith(prog + "-"))
        pick = [n for n in names if n == "%s-%s" % (prog, version)] or names[-1:]
        for name in pick:
            d = os.path.join(root, name)
            exe, core = os.path.join(d, "exe"), os.path.join(d, "core.kernel")
            if not os.path.isfile(core):
                continue
            results = [run([driver, "--slots", exe, core]) for _ in range(a.runs + 1)][1:]
            roots = min(float(r[2].split("\n", 1)[0].split()[1]) for r in results)
            wall, rss = min(r[0] for r in results), min(r[1] for r in results)
            stats = [line.split()[1:] for line in results[0][2].splitlines()
                     if line.startswith("stats")]
            gs, frames, _, slots, _ = map(int, stats[0])
            print("%-28s %10.2f %10.3f %8.1f %6d %8d %8d %9.2f" % (
                name, roots * 1e3, wall, rss / 1024, gs, frames, slots,
                roots * 1e6 / frames if frames else 0))


if __name__ == "__main__":
    main()
