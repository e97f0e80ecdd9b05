#!/usr/bin/env python3
"""Benchmark of `gomem summary` on a big heap: the CLI and the GDB command.

    tests/bench/bench.py [--mib N[,N...]] [--runs R] [--build DIR] [--out DIR] [--no-gdb]

For each heap size (default 2048 MiB) it builds fixtures/bigheap with the
machine's Go, runs it until it has written its truth.json (a heap of N MiB,
about 25 million small objects at 2 GiB plus 8 MiB buffers, every page
written), and takes a kernel core of it (SIGABRT; no gcore, which would write
every untouched page too). The core is kept in OUT/bigheap-NMiB and reused
while the program and the Go toolchain are unchanged.

Then, with the page cache warm (one untimed run first), it runs R times:

  - the CLI: `gomem summary --json EXE CORE`: wall time and peak RSS (wait4's
    ru_maxrss of the child);
  - GDB: `gdb -batch ... -x memplug.py EXE CORE` once alone and once with
    `-ex "gomem summary"`: what the command adds to GDB's own load, in wall
    time and in peak RSS.

and prints the best (lowest) run of each, the spans and objects per second
(spans: every span descriptor the summary walks, live ones from the JSON;
objects: HeapObjects), and whether the summary's MemStats equal the truth the
program logged (a benchmark of wrong answers is worthless). It exits 1 if they
do not. Numbers only: it asserts no speed, a timed test would be flaky.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(TOP, "fixtures")
PLUGIN = os.path.join(TOP, "plugin", "memplug.py")

EXACT = ["HeapAlloc", "HeapSys", "HeapIdle", "HeapInuse", "HeapReleased", "HeapObjects",
         "StackInuse", "StackSys", "MSpanInuse", "MSpanSys", "GCSys", "OtherSys", "Sys",
         "NextGC", "NumGC", "TotalAlloc", "Mallocs", "Frees"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def go_binary():
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.access(go, os.X_OK):
        sys.exit("bench: no go on PATH: the benchmark builds fixtures/bigheap with it")
    return os.path.realpath(go)


def sources():
    out = []
    for d in ("bigheap", os.path.join("internal", "truth")):
        for name in os.listdir(os.path.join(FIXTURES, d)):
            if name.endswith(".go"):
                out.append(os.path.join(FIXTURES, d, name))
    return out + [os.path.join(FIXTURES, "go.mod"), os.path.abspath(__file__)]


def up_to_date(out, go):
    files = [os.path.join(out, f) for f in ("exe", "truth.json", "core.kernel")]
    if not all(os.path.isfile(f) and os.path.getsize(f) > 0 for f in files):
        return False
    oldest = min(os.path.getmtime(f) for f in files)
    return all(os.path.getmtime(s) < oldest for s in sources() + [go])


def threads_running(pid):
    running = 0
    try:
        for tid in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                running += f.read().rsplit(")", 1)[1].split()[0] == "R"
    except OSError:
        pass
    return running


def make_core(out, mib, go):
    """Builds bigheap, runs it to its truth, and takes the kernel's core of it."""
    if up_to_date(out, go):
        log("bench: %s is up to date" % out)
        return
    with open("/proc/sys/kernel/core_pattern") as f:
        pattern = f.read().strip()
    if pattern.startswith("|") or "/" in pattern or "%" in pattern.replace("%p", ""):
        sys.exit("bench: kernel.core_pattern is %r: want 'core' or 'core.%%p' (the core must "
                 "land in the program's folder)" % pattern)
    os.makedirs(out, exist_ok=True)
    for f in ("exe", "truth.json", "truth.json.tmp", "core.kernel"):
        if os.path.exists(os.path.join(out, f)):
            os.unlink(os.path.join(out, f))
    env = {k: v for k, v in os.environ.items()
           if k not in ("GOROOT", "GOFLAGS", "GOEXPERIMENT", "GOOS", "GOARCH", "GOAMD64")}
    env.update(GOTOOLCHAIN="local", GOWORK="off", GO111MODULE="on", CGO_ENABLED="0")
    t0 = time.time()
    subprocess.run([go, "build", "-o", os.path.join(out, "exe"), "./bigheap"], cwd=FIXTURES,
                   env=env, check=True)
    run_env = {k: v for k, v in os.environ.items()
               if k not in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "GOMEM_RECHECK",
                            "GOMEM_TRUTH")}
    run_env.update(GOTRACEBACK="crash", GOMEM_BIGHEAP_MIB=str(mib))
    truth = os.path.join(out, "truth.json")
    log("bench: running bigheap with a %d MiB heap ..." % mib)
    with open(os.path.join(out, "stderr.log"), "w") as err:
        p = subprocess.Popen(["sh", "-c", 'ulimit -c unlimited && exec ./exe "$0"', truth],
                             cwd=out, env=run_env, stdout=subprocess.DEVNULL, stderr=err)
    deadline = time.time() + 600
    while not os.path.isfile(truth):
        if p.poll() is not None:
            sys.exit("bench: bigheap exited with status %d before its truth (see %s/stderr.log)"
                     % (p.returncode, out))
        if time.time() > deadline:
            p.kill()
            sys.exit("bench: no truth.json within 600 s")
        time.sleep(0.2)
    for _ in range(50):
        if threads_running(p.pid) == 0:
            break
        time.sleep(0.1)
    t_run = time.time() - t0
    os.kill(p.pid, signal.SIGABRT)
    p.wait(timeout=600)
    names = ["core", "core.%d" % p.pid]
    core = next((os.path.join(out, n) for n in names if os.path.isfile(os.path.join(out, n))),
                None)
    if core is None:
        sys.exit("bench: no kernel core in %s after SIGABRT (status %d)" % (out, p.returncode))
    os.rename(core, os.path.join(out, "core.kernel"))
    log("bench: core taken in %.1f s (build and run to truth %.1f s)" % (time.time() - t0, t_run))


def measure(argv):
    """Wall time and peak RSS of one run of argv, through os.wait4."""
    t0 = time.perf_counter()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        os.dup2(w, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            os.execvp(argv[0], argv)
        finally:
            os._exit(127)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 1 << 20)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    return wall, ru.ru_maxrss * 1024, b"".join(chunks).decode(), os.waitstatus_to_exitcode(status)


def best_of(runs, argv):
    results = [measure(argv) for _ in range(runs)]
    for wall, rss, out, rc in results:
        if rc not in (0, 1):
            sys.exit("bench: %s failed with status %d" % (" ".join(argv), rc))
    return min(r[0] for r in results), min(r[1] for r in results), results[0][2]


def gdb_argv(exe, core, lib, *commands):
    argv = ["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off", "-x", PLUGIN]
    for c in commands:
        argv += ["-ex", c]
    return ["env", "GOMEM_LIB=" + lib] + argv + [exe, core]


def human(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return "%.1f %s" % (n, unit) if unit != "B" else "%d B" % n
        n /= 1024.0


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return "%s, %d CPUs, %s RAM, Linux %s" % (cpu, os.cpu_count(), human(mem), platform.release())


def main_over_cores(doc, bench_one):
    """The command line of the object verbs' benchmarks (bench_top, bench_pprof, bench_paths):
    --mib sizes of bench cores made (or reused) in --out, or one --core-dir taken as it is;
    bench_one(args, dir, label) prints one core's figures and says whether the answer was
    right; the exit status is 1 if one was not."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--mib", default="2048", help="heap sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each (the best counts)")
    ap.add_argument("--build", default=os.environ.get("GOMEM_BUILD", os.path.join(
        TOP, "build")), help="the build directory with gomem")
    ap.add_argument("--out", default=None, help="where the cores go (default BUILD/bench)")
    ap.add_argument("--core-dir", default=None,
                    help="a bench core made before (exe, core.kernel, truth.json), as it is")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out or os.path.join(args.build, "bench"))
    print("machine: %s" % machine())
    print("gomem: %s; best of %d runs, page cache warm" % (args.build, args.runs))
    ok = True
    if args.core_dir:
        ok = bench_one(args, os.path.abspath(args.core_dir), args.core_dir)
    else:
        go = go_binary()
        for mib in [int(x) for x in args.mib.split(",") if x]:
            out = os.path.join(args.out, "bigheap-%dMiB" % mib)
            make_core(out, mib, go)
            ok = bench_one(args, out, "heap %d MiB" % mib) and ok
    sys.exit(0 if ok else 1)


def bench_one(args, mib, go):
    out = os.path.join(args.out, "bigheap-%dMiB" % mib)
    make_core(out, mib, go)
    exe, core = os.path.join(out, "exe"), os.path.join(out, "core.kernel")
    with open(os.path.join(out, "truth.json")) as f:
        truth = json.load(f)
    cli = [os.path.join(args.build, "gomem"), "summary", "--json", exe, core]
    measure(cli)  # warm the page cache
    wall, rss, text = best_of(args.runs, cli)
    s = json.loads(text)
    wrong = [k for k in EXACT if s["memstats"][k] != truth[k]]
    spans = s["heap"]["spans"]
    nspans = spans["in_use"] + spans["manual"] + spans["free"]
    live_spans = spans["in_use"] + spans["manual"]
    objects = s["memstats"]["HeapObjects"]
    disk = os.stat(core).st_blocks * 512
    print("heap %d MiB: HeapAlloc %s, %d objects, %d live spans (%d descriptors), core %s "
          "(%s on disk)" % (mib, human(truth["HeapAlloc"]), objects, live_spans, nspans,
                             human(os.path.getsize(core)), human(disk)))
    print("  CLI  gomem summary --json: %.3f s wall, %s peak RSS; %.0f spans/s, %.0f objects/s"
          % (wall, human(rss), nspans / wall, objects / wall))
    if not args.no_gdb:
        lib = os.path.join(args.build, "libgomem.so")
        base = gdb_argv(exe, core, lib)
        cmd = gdb_argv(exe, core, lib, "gomem summary")
        measure(cmd)
        b_wall, b_rss, _ = best_of(args.runs, base)
        c_wall, c_rss, c_out = best_of(args.runs, cmd)
        if "checks (runtime counters" not in c_out:
            sys.exit("bench: GDB's gomem summary printed no summary:\n" + c_out[-2000:])
        print("  GDB  load alone %.3f s, %s; with gomem summary %.3f s, %s: adds %.3f s, %s"
              % (b_wall, human(b_rss), c_wall, human(c_rss), c_wall - b_wall,
                 human(max(c_rss - b_rss, 0))))
    print("  MemStats equal the program's truth: %s" % ("yes" if not wrong else
                                                         "NO: " + ", ".join(wrong)))
    sys.stdout.flush()
    return not wrong


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mib", default="2048", help="heap sizes in MiB, comma-separated")
    ap.add_argument("--runs", type=int, default=5, help="timed runs of each (the best counts)")
    ap.add_argument("--build", default=os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build")),
                    help="the build directory with gomem and libgomem.so")
    ap.add_argument("--out", default=None, help="where the cores go (default BUILD/bench)")
    ap.add_argument("--no-gdb", action="store_true", help="only the CLI")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.out = os.path.abspath(args.out or os.path.join(args.build, "bench"))
    go = go_binary()
    print("machine: %s" % machine())
    print("gomem: %s; Go: %s; best of %d runs, page cache warm"
          % (args.build, subprocess.run([go, "version"], capture_output=True,
                                        text=True).stdout.strip(), args.runs))
    ok = True
    for mib in [int(x) for x in args.mib.split(",") if x]:
        ok &= bench_one(args, mib, go)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
