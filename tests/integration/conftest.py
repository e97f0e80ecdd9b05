"""Shared helpers: where the build and the fixture cores are, and how to run gomem."""

import json
import os
import shutil
import struct
import subprocess
import time

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build"))
GOMEM = os.path.join(BUILD, "gomem")
PLUGIN = os.path.join(TOP, "plugin", "memplug.py")


class Fixture:
    """One fixture program's executable, its cores and its logged truth."""

    def __init__(self, name, exe, cores, truth_path):
        self.name = name
        # Real paths: GDB reports the executable's resolved path, and the CLI's
        # JSON must equal GDB's.
        self.exe = os.path.realpath(exe)
        # kernel, gcore; arm64 (qemu-user) fixtures: kernel, qemu
        self.cores = {k: os.path.realpath(v) for k, v in cores.items()}
        with open(truth_path) as f:
            self.truth = json.load(f)

    def __repr__(self):
        return self.name


# GOMEM_FIXTURES=committed (make check): the committed cores only, none of build/fixtures.
COMMITTED_ONLY = os.environ.get("GOMEM_FIXTURES") == "committed"


def built_fixtures(root=None, kinds=("kernel", "gcore")):
    """Fixture cores made by ./setup test (fixtures/mkcore.sh) under build/fixtures."""
    if COMMITTED_ONLY:
        return []
    root = root or os.path.join(BUILD, "fixtures")
    found = []
    if os.path.isdir(root):
        for name in sorted(os.listdir(root)):
            d = os.path.join(root, name)
            truth = os.path.join(d, "truth.json")
            if not os.path.isfile(truth):
                continue
            cores = {k: os.path.join(d, "core." + k) for k in kinds
                     if os.path.isfile(os.path.join(d, "core." + k))}
            found.append(Fixture(name, os.path.join(d, "exe"), cores, truth))
    return found


def system_go_fixtures():
    """{program: fixture} of the fixtures built with the machine's own Go (no variant)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    version = subprocess.run([go, "env", "GOVERSION"], capture_output=True, text=True).stdout.strip()
    return {f.name[: -len(version) - 1]: f for f in built_fixtures()
            if f.name.endswith("-" + version)}


def committed_names(goarch="amd64"):
    """The names of the committed fixtures in fixtures/demo whose program ran as GOARCH
    (the "goarch" of NAME.truth.json): the arm64 ones are for arm64_fixtures() only."""
    root = os.path.join(TOP, "fixtures", "demo")
    names = []
    for entry in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        if not entry.endswith(".exe.xz"):
            continue
        name = entry[: -len(".exe.xz")]
        with open(os.path.join(root, name + ".truth.json")) as f:
            if json.load(f).get("goarch", "amd64") == goarch:
                names.append(name)
    return names


def committed_fixtures(goarch="amd64", kinds=("kernel",)):
    """The committed, compressed cores, unpacked into build/committed."""
    out = []
    for name in committed_names(goarch):
        dest = os.path.join(BUILD, "committed", name)
        subprocess.run([os.path.join(TOP, "fixtures", "unpack.sh"), name, dest], check=True,
                       stdout=subprocess.DEVNULL)
        out.append(Fixture("committed-" + name, os.path.join(dest, "exe"),
                           {k: os.path.join(dest, "core." + k) for k in kinds},
                           os.path.join(dest, "truth.json")))
    return out


# ---- arm64 fixtures (issue 15), made under qemu-user ----
# fixtures/mkcore-qemu.sh writes them to build/fixtures-arm64/PROG-goVERSION-arm64[-pie][-64k],
# not build/fixtures: built_fixtures() and committed_fixtures() serve the tests that read
# every core as amd64. Each has two cores of the same bytes: "kernel" (the host kernel's
# holes punched in: residency known, as in a kernel core) and "qemu" (as QEMU wrote it: every
# page written, residency unknown). Their truth says "emulated": true; VmRSS, RssAnon,
# RssFile, Threads are null (and VmSize with 64 KiB pages), "unknown_why" says why.
ARM64_FIXTURES = os.path.join(BUILD, "fixtures-arm64")


def arm64_fixtures():
    """Every arm64 fixture: those ./setup test built, then the committed ones."""
    return (built_fixtures(ARM64_FIXTURES, ("kernel", "qemu")) +
            committed_fixtures("arm64", ("kernel", "qemu")))


# Every MemStats field that gomem reports and that ReadMemStats computes from
# counters that do not move after the program logged them: compared exactly.
EXACT_FIELDS = [
    "HeapAlloc", "HeapSys", "HeapIdle", "HeapInuse", "HeapReleased", "HeapObjects",
    "StackInuse", "StackSys", "MSpanInuse", "MSpanSys", "MCacheInuse", "MCacheSys",
    "BuckHashSys", "GCSys", "OtherSys", "Sys", "NextGC", "NumGC", "TotalAlloc", "Mallocs",
    "Frees",
]


def run_cli(*args):
    return subprocess.run([GOMEM, *args], capture_output=True, text=True, timeout=120)


def cli_json(verb, exe, core):
    r = run_cli(verb, "--json", exe, core)
    assert r.returncode == 0, "gomem %s failed (%d): %s" % (verb, r.returncode, r.stderr)
    assert r.stderr == ""
    return json.loads(r.stdout)


def assert_one_line_error(r, *words):
    """A CLI failure: exit status 2, nothing on stdout, one "gomem: " line naming the problem."""
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("gomem: ")
    for w in words:
        assert w in lines[0], (w, lines[0])


def run_gdb(exe, core, *commands):
    """Runs GDB in batch mode with the plugin; returns (returncode, stdout, stderr)."""
    argv = ["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off",
            "-x", PLUGIN]
    for c in commands:
        argv += ["-ex", c]
    argv += [a for a in (exe, core) if a]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def json_from_gdb(stdout):
    """The JSON object that a `gomem ... --json` printed among GDB's own lines."""
    start = stdout.index('{"schema"')
    obj, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return obj


@pytest.fixture(scope="session")
def gomem_built():
    assert os.access(GOMEM, os.X_OK), "build/gomem is missing: run ./setup first"
    return GOMEM


# ---- the README's table of supported versions, generated from what the tests ran ----

_OUTCOMES = {}


def pytest_runtest_logreport(report):
    if report.when == "call" or report.failed:
        prev = _OUTCOMES.get(report.nodeid, "passed")
        _OUTCOMES[report.nodeid] = "failed" if "failed" in (prev, report.outcome) else \
            report.outcome


def _variant(name):
    """heapmix-go1.25.12-greenteagc-pie -> ("heapmix", "go1.25.12", "greenteagc, pie")."""
    prog, _, rest = name.partition("-go")
    version, _, variant = rest.partition("-")
    return prog, "go" + version, variant.replace("-", ", ")


def pytest_sessionfinish(session, exitstatus):
    """Writes build/versions.md: one row per fixture core that test_summary.py read."""
    if COMMITTED_ONLY:
        return  # a partial run: the table of the last full one stays
    rows = []
    for f in built_fixtures() + committed_fixtures():
        if is_server(f):
            continue  # not a row of the matrix; its MemStats are not compared exactly
        cells = []
        for kind in ("kernel", "gcore"):
            ids = [n for n in _OUTCOMES
                   if "test_summary.py::" in n and "[%s-%s" % (f.name, kind) in n]
            if not ids:
                cells.append("not run" if kind in f.cores else "-")
            elif all(_OUTCOMES[n] == "passed" for n in ids):
                cells.append("exact (%d tests)" % len(ids))
            else:
                cells.append("FAILED")
        prog, version, variant = _variant(f.name.replace("committed-", ""))
        cgo = "cgo" if prog == "hello" else "no cgo"
        source = "committed core" if f.name.startswith("committed-") else "built by ./setup test"
        rows.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            version, prog, cgo, variant or "default", source, cells[0], cells[1]))
    if not rows:
        return
    head = ["| Go | program | cgo | variant | core from | kernel core | gcore |",
            "|---|---|---|---|---|---|---|"]
    os.makedirs(BUILD, exist_ok=True)
    with open(os.path.join(BUILD, "versions.md"), "w") as out:
        out.write("\n".join(head + sorted(rows, key=_row_key)) + "\n")


def _row_key(row):
    version = row.split("|")[1].strip()[2:]
    nums = [int(x) if x.isdigit() else 0 for x in version.split(".")]
    return nums, row


# ---- ELF program headers, read without libcore ----

def program_headers(core):
    """(e_phoff, [(p_type, p_flags, p_offset, p_vaddr, p_paddr, p_filesz, p_memsz, p_align)])."""
    with open(core, "rb") as f:
        head = f.read(64)
        phoff, = struct.unpack_from("<Q", head, 0x20)
        phnum, = struct.unpack_from("<H", head, 0x38)
        f.seek(phoff)
        table = f.read(56 * phnum)
    return phoff, [struct.unpack_from("<IIQQQQQQ", table, 56 * i) for i in range(phnum)]


# ---- fixture programs run live ----

# The run environment of fixtures/mkcore.sh: nothing from ours that changes the heap.
RUN_ENV = {k: v for k, v in os.environ.items()
           if k not in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS", "GOMEM_RECHECK",
                        "GOMEM_TRUTH")}


def thread_states(pid):
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
            out.append(f.read().rsplit(")", 1)[1].split()[0])
    return out


def status_field(pid, key):
    """A /proc/PID/status line's value: bytes for the kB fields, else the text."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name == key:
                words = value.split()
                return int(words[0]) << 10 if words[1:] == ["kB"] else value.strip()
    raise KeyError(key)


def start_until_truth(exe, workdir, name, tries=3, timeout=60):
    """Runs a fixture program's exe in workdir until it has written its truth and holds
    still; returns (Popen, truth). As fixtures/mkcore.sh does, it starts the program
    again (up to `tries` times) when the process has more threads than its truth says:
    the runtime started an M after the truth was written (its m and stacks come from
    the heap), so the truth no longer describes the process."""
    truth_path = os.path.join(workdir, "truth.json")
    stderr_path = os.path.join(workdir, "stderr.log")
    for attempt in range(tries):
        if os.path.exists(truth_path):
            os.unlink(truth_path)
        with open(stderr_path, "w") as err:
            proc = subprocess.Popen([exe, truth_path], cwd=workdir, env=RUN_ENV,
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err)
        try:
            deadline = time.time() + timeout
            while not os.path.exists(truth_path):
                assert proc.poll() is None, "%s exited with %s before writing its truth: %s" % (
                    name, proc.returncode, open(stderr_path).read())
                assert time.time() < deadline, "%s wrote no truth.json" % name
                time.sleep(0.05)
            with open(truth_path) as f:
                truth = json.load(f)
            assert truth["pid"] == proc.pid
            # Let it reach its final sleep, bounded: no thread running, and the same
            # threads and VSZ for 200 ms. (A cgo thread that the runtime started just
            # before the log may run its first malloc, and so reserve a 64 MiB glibc
            # arena, only after it: seen on hello under load. The logged VmSize is then
            # stale; MemStats are not.)
            last, same = None, 0
            for _ in range(200):
                states = thread_states(proc.pid)
                now = (len(states), status_field(proc.pid, "VmSize"))
                same = same + 1 if now == last and "R" not in states else 0
                if same == 4:
                    break
                last = now
                time.sleep(0.05)
        except BaseException:
            proc.kill()
            proc.wait(timeout=30)
            raise
        threads = int(status_field(proc.pid, "Threads"))
        if "Threads" not in truth or threads == truth["Threads"] or attempt == tries - 1:
            assert "Threads" not in truth or threads == truth["Threads"], (
                "%s kept starting threads after writing its truth (%d tries)" % (name, tries))
            return proc, truth
        proc.kill()
        proc.wait(timeout=30)


# ---- real servers (issue 11): fixtures whose truth is read from outside the process ----

def is_server(fixture):
    """A real server's fixture (fixtures/servers/realserver.py): truth.json has "kind":
    "server", /proc and /metrics read right before each core, no MemStats of its own."""
    return fixture.truth.get("kind") == "server"


def server_fixtures():
    """The real servers' fixture cores under build/fixtures (etcd-<go version>)."""
    return [f for f in built_fixtures() if is_server(f)]


def realserver():
    """fixtures/servers/realserver.py as a module: etcd, its load, truth and the live
    harness."""
    import importlib
    import sys
    path = os.path.join(TOP, "fixtures", "servers")
    if path not in sys.path:
        sys.path.insert(0, path)
    return importlib.import_module("realserver")


# The generic tests that read what a fixture program logged about itself. A server cannot
# log its own MemStats, goroutine count or object addresses, and is not run as a fixture
# program; these tests are left out for server fixtures (deselected, not skipped), and
# test_server.py checks the same things against what can be known from outside.
SERVER_EXCLUDED = {
    "test_memstats_field_equals_logged_value": "no logged MemStats (test_server.py: /metrics)",
    "test_walk_agrees_with_memstats": "no logged MemStats (the checks compare the walk)",
    "test_go_heap_is_the_mapped_heap_of_memstats": "no logged MemStats",
    "test_runtime_metadata_found_equals_memstats": "no logged MemStats",
    "test_go_heap_leaves_equal_memstats": "no logged MemStats",
    "test_classes_add_up_to_heapobjects_and_heapalloc": "no logged MemStats",
    "test_in_use_spans_listed_equal_summary": "no logged MemStats",
    "test_arena_pages_match_memstats": "no logged MemStats",
    "test_stack_totals_reconcile_with_stackinuse": "no logged MemStats",
    "test_stacks_list_every_goroutine_the_program_counted": "no goroutine count at the core",
    "test_whatis_of_live_objects": "no logged object addresses",
    "test_whatis_of_freed_objects": "no logged object addresses",
    "test_gdb_whatis_equals_cli": "no logged object addresses",
    "test_whatis_text_fits_100_columns": "no logged object addresses",
    "test_live_drilldown_matches_truth": "runs the exe as a fixture program (test_server_live.py)",
}


def _item_fixtures(item):
    params = getattr(getattr(item, "callspec", None), "params", {})
    for v in params.values():
        for x in (v if isinstance(v, tuple) else (v,)):
            if isinstance(x, Fixture):
                yield x


def pytest_collection_modifyitems(config, items):
    keep, drop = [], []
    for item in items:
        name = getattr(item, "originalname", item.name)
        if name in SERVER_EXCLUDED and any(is_server(f) for f in _item_fixtures(item)):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
