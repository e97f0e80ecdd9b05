#!/usr/bin/env python3
"""Benchmark: how long `gomem summary --pid` stops a real server under load (issue 11).

    tests/bench/bench_live_pause.py [--heap-mib 300] [--goroutines 3000] [--runs 10]
                                    [--build DIR] [--exe ETCD] [--keep]

Starts etcd (the etcd fixture's executable, build/fixtures/etcd-*/exe, or
fixtures/servers/build.sh etcd) on loopback ports with --snapshot-count 100000, so that
the raft log it keeps in memory grows the Go heap; puts 64 KiB values until the server's
own /metrics says HeapAlloc reached --heap-mib (bounded: 4 times the puts that many MiB
of values need, and 10 minutes); opens idle keep-alive HTTP connections until go_goroutines reaches
--goroutines (at most 4,000 connections); then, with a mixed load of puts and ranges
running from 8 connections (fixtures/servers/realserver.py), runs `gomem summary --json
--pid` --runs times and prints for each run and as min/median/max:

  - the pause measured from outside: a separate process samples every thread's state in
    /proc/PID/task/*/stat about every millisecond (t or T: stopped); the stop lasted
    between min and max (one sampling period either side of the estimate);
  - gomem's own pause (target.pause_seconds);
  - gomem's wall time, and the longest request of the load that overlapped the run
    against the load's p99 before the first run.

Numbers only: it asserts no speed (issue 11's target is a stop of at most 30 ms here).
It exits 1 if a check failed (a skew check, of a stop inside the allocator, is counted and
printed, not a failure), a request failed, or the server was not left running and
answering: a benchmark of wrong answers is worthless.
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "fixtures", "servers"))
import realserver  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def find_exe(build, exe):
    if exe:
        return exe
    fixtures = os.path.join(build, "fixtures")
    if os.path.isdir(fixtures):
        for name in sorted(os.listdir(fixtures)):
            path = os.path.join(fixtures, name, "exe")
            if name.startswith("etcd-") and os.access(path, os.X_OK):
                return path
    r = subprocess.run([os.path.join(TOP, "fixtures", "servers", "build.sh"), "etcd"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("bench: cannot build etcd: %s" % r.stderr.strip())
    return r.stdout.strip()


def grow_heap(etcd, mib, seconds=600):
    """Puts 64 KiB values until HeapAlloc >= mib MiB. etcd 3.6+ keeps the last 5,000 raft
    log entries in memory (SnapshotCatchUpEntries), so that is about 300 MiB of them."""
    load = realserver.Load(etcd.client_port, value_bytes=64 << 10, seed=3)
    limit = 4 * (mib << 10) // 64  # 4x the puts that mib MiB of values need
    deadline = time.monotonic() + seconds
    done = 0
    while time.monotonic() < deadline and done < limit:
        load.run("put", 500, max(1.0, deadline - time.monotonic()))
        done += 500
        st = load.stats()
        if st["failed"]:
            sys.exit("bench: %d puts failed: %s" % (st["failed"], st["errors"]))
        heap = etcd.memstats_scrape()["HeapAlloc"]
        log("  %d puts, HeapAlloc %.1f MiB" % (done, heap / 2 ** 20))
        if heap >= mib << 20:
            break
    return load.stats()


def open_idle_connections(etcd, goroutines, limit=4000):
    """Keep-alive HTTP/1.1 connections, each after one answered request, left idle."""
    conns = []
    while len(conns) < limit:
        have = etcd.memstats_scrape()["goroutines"]
        if have >= goroutines:
            break
        for _ in range(min(500, limit - len(conns), max(1, (goroutines - have) // 2))):
            s = socket.create_connection(("127.0.0.1", etcd.client_port), timeout=30)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            reply = b""
            while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                reply += chunk
            if not reply.startswith(b"HTTP/1.1 200"):
                sys.exit("bench: /health answered %r" % reply[:100])
            conns.append(s)
    return conns


def summary(values):
    values = [v for v in values if v is not None]
    if not values:
        return "n/a"
    return "min %.1f  median %.1f  max %.1f ms" % (
        1000 * min(values), 1000 * statistics.median(values), 1000 * max(values))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--heap-mib", type=int, default=300)
    ap.add_argument("--goroutines", type=int, default=3000)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--build", default=os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build")))
    ap.add_argument("--exe", help="the etcd executable (default: the fixture's)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder")
    args = ap.parse_args()
    gomem = os.path.join(args.build, "gomem")
    if not os.access(gomem, os.X_OK):
        sys.exit("bench: %s is missing: run ./setup first" % gomem)
    exe = find_exe(args.build, args.exe)
    work = tempfile.mkdtemp(prefix="bench-live-pause-")
    shutil.copy(exe, os.path.join(work, "exe"))
    log("bench: etcd %s in %s" % (exe, work))
    etcd = realserver.Etcd(os.path.join(work, "exe"), work,
                           extra_args=["--snapshot-count", "100000"]).start()
    conns, failed, mid_allocation = [], False, 0
    try:
        t0 = time.monotonic()
        log("bench: growing the heap to %d MiB" % args.heap_mib)
        grown = grow_heap(etcd, args.heap_mib)
        log("bench: opening idle connections up to %d goroutines" % args.goroutines)
        conns = open_idle_connections(etcd, args.goroutines)
        scrape = etcd.memstats_scrape()
        status = realserver.proc_status(etcd.pid)
        setup_s = time.monotonic() - t0

        def read(pid):
            t = time.monotonic()
            r = subprocess.run([gomem, "summary", "--json", "--pid", str(pid)],
                               capture_output=True, text=True, timeout=600)
            wall = time.monotonic() - t
            s = json.loads(r.stdout) if r.returncode == 0 else None
            return {"rc": r.returncode, "stderr": r.stderr.strip(), "wall": wall,
                    "failed_checks": [c["name"] for c in s["checks"] if c["ok"] is False] if s
                    else None,
                    "skew_checks": [c["name"] for c in s["checks"] if c["ok"] is None] if s
                    else None,
                    "in_flight": s["heap"].get("in_flight_bytes") if s else None,
                    "pause": s["target"].get("pause_seconds") if s else None}

        h = realserver.LiveHarness(None, None, etcd=etcd)  # grown above
        res = h.run(read, n=args.runs, settle=1.0, between=0.5)
        problems = h.check_running()
    finally:
        for s in conns:
            s.close()
        etcd.kill()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    print("live pause of `gomem summary --pid` on etcd %s under load (%s, %d CPUs)" % (
        realserver.ETCD_VERSION, os.uname().release, os.cpu_count()))
    print("server: HeapAlloc %.1f MiB, HeapSys %.1f MiB, %d goroutines, %d threads, VmRSS "
          "%.1f MiB, %d idle connections; %d puts to grow it; setup %.0f s" % (
              scrape["HeapAlloc"] / 2 ** 20, scrape["HeapSys"] / 2 ** 20, scrape["goroutines"],
              status["Threads"], status["VmRSS"] / 2 ** 20, len(conns), grown["puts"], setup_s))
    print("load: %d requests (%d failed) from 8 connections, p99 %.1f ms before the first run; "
          "sampler period %.2f ms (longest gap %.1f ms)" % (
              res["load"]["requests"], res["load"]["failed"],
              1000 * (res["baseline_p99_latency"] or 0), res["sampler"]["period_ms"] or 0,
              res["sampler"]["max_gap_ms"] or 0))
    print("%4s %10s %22s %12s %14s %s" % ("run", "gomem wall", "stopped (outside)",
                                          "gomem says", "longest req", "checks"))
    for i, run in enumerate(res["runs"], 1):
        r = run["result"]
        stop = max(run["stops"], key=lambda e: e["seconds"]) if run["stops"] else None
        print("%4d %8.1f ms %22s %12s %11.1f ms %s" % (
            i, 1000 * r["wall"],
            "%.1f (%.1f-%.1f) ms" % (1000 * stop["seconds"], 1000 * stop["min_seconds"],
                                     1000 * stop["max_seconds"]) if stop else "no stop seen",
            "%.1f ms" % (1000 * r["pause"]) if r["pause"] is not None else "-",
            1000 * (run["load"]["max_latency"] or 0),
            ("ok" if not r["skew_checks"] else "skew %s (stopped inside the allocator)"
             % r["skew_checks"]) if r["failed_checks"] == [] else "FAILED %s %s%s" % (
                r["failed_checks"], r["stderr"],
                " (%d B of pages in flight: stopped inside the span allocator)" % r["in_flight"]
                if r["in_flight"] else "")))
        mid_allocation += bool((r["failed_checks"] and r["in_flight"]) or r["skew_checks"])
        failed |= (r["failed_checks"] != [] and not r["in_flight"]) or len(run["stops"]) != 1
    runs = res["runs"]
    if mid_allocation:
        # A known gomem limitation (tests/integration/test_server_live.py): reported, not
        # a wrong answer of this benchmark's making.
        print("%d of %d runs stopped the server inside the allocator (skew, or FAIL with "
              "pages in flight)" % (mid_allocation, len(runs)))
    print("stopped, from outside:  %s" % summary([r["pause_seconds"] for r in runs]))
    print("gomem's own pause:      %s" % summary([r["result"]["pause"] for r in runs]))
    print("gomem wall time:        %s" % summary([r["result"]["wall"] for r in runs]))
    print("longest request in run: %s" % summary([r["load"]["max_latency"] for r in runs]))
    if res["load"]["failed"]:
        print("FAILED: %d requests failed: %s" % (res["load"]["failed"], res["load"]["errors"]))
        failed = True
    if problems:
        print("FAILED: the server was not left running: %s" % problems)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
