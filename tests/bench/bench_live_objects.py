#!/usr/bin/env python3
"""Benchmark: how long `gomem objects --pid` stops a process with a large heap (issue 13).

    tests/bench/bench_live_objects.py [--mib 1024] [--runs 3] [--out /work/bench]
                                      [--build DIR] [--before GOMEM] [--verb objects]

Runs the bigheap program of tests/bench/bench.py (OUT/bigheap-NMiB/exe, built by
bench.py; this script builds nothing) live from a copy in a temporary folder until it has
written its truth and holds still, then runs `gomem VERB --json --pid` --runs times with
this build's gomem and, with --before, with another gomem (the one before the snapshot, which
kept the process stopped for the whole object graph). For each run it prints:

  - gomem's own pause (target.pause_seconds) and the bytes it copied (target.snapshot_bytes);
  - the pause seen from outside: a thread samples every thread's state in
    /proc/PID/task/*/stat about every millisecond (t: stopped by a tracer), the longest stretch
    of samples with some thread stopped;
  - gomem's wall time and CPU time (user + sys), and its peak RSS (the copy lives in it).

Numbers only: it asserts no speed. It exits 1 if gomem failed, a check of `objects`
failed, the reachable + unreachable objects are not the truth's HeapObjects, or the
process was not left running and untraced: a benchmark of wrong answers is worthless.
"""

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def thread_states(pid):
    states = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return states
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except (OSError, IndexError):
            pass
    return states


def tracer(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    return None


class Sampler(threading.Thread):
    """Samples the process's thread states until stopped; the longest stop seen."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.done, self.samples = pid, threading.Event(), []

    def run(self):
        while not self.done.is_set():
            stopped = "t" in thread_states(self.pid)
            self.samples.append((time.monotonic(), stopped))
            time.sleep(0.0005)

    def longest_stop(self):
        best, start, prev_t = 0.0, None, None
        for t, stopped in self.samples:
            if stopped and start is None:
                start = prev_t if prev_t is not None else t  # it stopped after the last run
            if not stopped and start is not None:
                best = max(best, t - start)
                start = None
            prev_t = t
        return best


def start_bigheap(exe, work, mib):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "GOMEM_RECHECK",
                        "GOMEM_TRUTH")}
    env.update(GOMEM_BIGHEAP_MIB=str(mib))
    truth = os.path.join(work, "truth.json")
    p = subprocess.Popen([exe, truth], cwd=work, env=env, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(work, "stderr.log"), "w"))
    deadline = time.time() + 600
    while not os.path.isfile(truth):
        if p.poll() is not None:
            sys.exit("bench: bigheap exited with %d before its truth" % p.returncode)
        if time.time() > deadline:
            p.kill()
            sys.exit("bench: no truth.json within 600 s")
        time.sleep(0.2)
    for _ in range(100):  # until no thread runs
        if "R" not in thread_states(p.pid):
            break
        time.sleep(0.1)
    with open(truth) as f:
        return p, json.load(f)


def run_gomem(gomem, verb, pid):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = Sampler(pid)
    sampler.start()
    t = time.monotonic()
    r = subprocess.run([gomem, verb, "--json", "--pid", str(pid)], capture_output=True,
                       text=True, timeout=1200)
    wall = time.monotonic() - t
    sampler.done.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    doc = json.loads(r.stdout) if r.returncode in (0, 1) and r.stdout else None
    return {"rc": r.returncode, "stderr": r.stderr.strip(), "doc": doc, "wall": wall,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "maxrss_mib": after.ru_maxrss / 1024.0, "outside": sampler.longest_stop()}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default="/work/bench", help="where bench.py keeps bigheap-NMiB")
    ap.add_argument("--build", default=os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build")))
    ap.add_argument("--before", help="another gomem to compare with (run first)")
    ap.add_argument("--verb", default="objects")
    args = ap.parse_args()
    gomem = os.path.join(args.build, "gomem")
    src = os.path.join(args.out, "bigheap-%dMiB" % args.mib, "exe")
    if not os.access(src, os.X_OK):
        sys.exit("bench: %s is missing: run tests/bench/bench.py --mib %d --out %s first"
                 % (src, args.mib, args.out))
    work = tempfile.mkdtemp(prefix="bench-live-objects-")
    exe = os.path.join(work, "exe")
    shutil.copy(src, exe)
    failed = False
    rows = []
    try:
        log("bench: running bigheap with a %d MiB heap in %s ..." % (args.mib, work))
        proc, truth = start_bigheap(exe, work, args.mib)
        tids = sorted(os.listdir("/proc/%d/task" % proc.pid))
        heap_objects = truth["Mallocs"] - truth["Frees"]
        gomems = ([("before", args.before)] if args.before else []) + [("this", gomem)]
        for name, g in gomems:
            for i in range(args.runs):
                log("bench: %s gomem %s --pid, run %d" % (name, args.verb, i + 1))
                res = run_gomem(g, args.verb, proc.pid)
                res["gomem"] = name
                rows.append(res)
                d = res["doc"]
                if d is None:
                    log("bench: gomem failed (%d): %s" % (res["rc"], res["stderr"]))
                    failed = True
                    continue
                if args.verb == "objects":
                    bad = [c["name"] for c in d["checks"] if c["ok"] is not True]
                    n = d["reachable"]["objects"] + d["unreachable"]["objects"]
                    if bad or n != heap_objects:
                        log("bench: wrong answer: checks %s, %d objects (truth %d)"
                            % (bad, n, heap_objects))
                        failed = True
                states = set(thread_states(proc.pid))
                if not states <= {"S", "R"} or tracer(proc.pid) != 0 or \
                        sorted(os.listdir("/proc/%d/task" % proc.pid)) != tids:
                    log("bench: the process was not left as it was: %s" % states)
                    failed = True
        status = {}
        with open("/proc/%d/status" % proc.pid) as f:
            for line in f:
                k, _, v = line.partition(":")
                status[k] = v.strip()
    finally:
        try:
            proc.kill()
            proc.wait(timeout=60)
        except NameError:
            pass
        shutil.rmtree(work, ignore_errors=True)

    print("`gomem %s --json --pid` on bigheap live (%s, HeapAlloc %.1f MiB, %d objects, "
          "VmRSS %s; %s, %d CPUs)" % (args.verb, truth["go_version"],
                                      truth["HeapAlloc"] / 2 ** 20, heap_objects,
                                      status.get("VmRSS"), os.uname().release, os.cpu_count()))
    print("%-7s %4s %12s %14s %12s %10s %10s %10s" % (
        "gomem", "run", "pause", "outside", "copied", "wall", "cpu", "peak RSS"))
    for i, r in enumerate(rows):
        target = (r["doc"] or {}).get("target") or {}
        pause = target.get("pause_seconds")
        copied = target.get("snapshot_bytes")
        print("%-7s %4d %12s %11.1f ms %12s %8.2f s %8.2f s %6.0f MiB" % (
            r["gomem"], i + 1, "%.1f ms" % (1000 * pause) if pause is not None else "-",
            1000 * r["outside"], "%.1f MiB" % (copied / 2 ** 20) if copied else "-",
            r["wall"], r["cpu"], r["maxrss_mib"]))
    for name in ("before", "this"):
        outside = [r["outside"] for r in rows if r["gomem"] == name and r["doc"]]
        if outside:
            print("%-7s stopped (seen from outside) min %.1f ms, median %.1f ms" % (
                name, 1000 * min(outside), 1000 * statistics.median(outside)))
    print("(peak RSS is the largest child's so far: RUSAGE_CHILDREN keeps the maximum)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
