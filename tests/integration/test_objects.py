"""gomem objects: the object graph against the objgraph fixture's truth, on every line of the
Go matrix (1.19-1.27, the experiments that change the heap's layout, PIE) and both core kinds;
and the GC oracle on the fixtures that quiesce after runtime.GC().

What is exact here, and why:
- reachable + unreachable = HeapObjects and HeapAlloc: every allocated slot is one or the
  other, and the truth's MemStats were logged after the heap stopped moving.
- the unreachable objects of each size class that holds an objgraph garbage type = the
  truth's counts: the program
  allocates its garbage after the last GC, each type in a size class of its own.
- every probe's reachability (whatis object.reachable) = the truth, and every garbage address
  is unreachable.
"""

import ctypes
import json
import os
import subprocess
import tempfile
import time

import pytest

from conftest import (ARM64_FIXTURES, BUILD, built_fixtures, cli_json, json_from_gdb, run_cli,
                      run_gdb, start_until_truth)

# Types that only a goroutine's stack holds, were stack roots not scanned: none left out,
# the stacks are roots (objects/stackroots.c). Kept for a version whose stack maps gomem
# could not read: then listing a type here would be a visible, reviewed exception.
ONLY_STACK_HELD = []

ALL = built_fixtures()
OBJGRAPH = [f for f in ALL if f.truth.get("program") == "objgraph"]
# The arm64 objgraph lines (build/fixtures-arm64, kernel and qemu cores): every check of a core
# runs on them too; those of one fixture (GDB, a live process) stay on amd64's.
OBJGRAPH_ARM64 = [f for f in built_fixtures(ARM64_FIXTURES, ("kernel", "qemu"))
                  if f.truth.get("program") == "objgraph"]
CASES = [(f, kind) for f in OBJGRAPH + OBJGRAPH_ARM64 for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]

# The GC oracle: programs that call runtime.GC() and allocate nothing the GC saw die after it.
# Not hello: it imports net/netip, so package unique's cleanup goroutine
# (unique_runtime_registerUniqueMapCleanup, woken after every GC) may still be iterating its
# maps while the last GC marks, and drop the closures it marked a moment later: on
# hello-go1.24.4 two 24-byte funcvals of HashTrieMap.All, found only below that goroutine's
# stack pointer. Those are garbage the runtime made itself, not a missing root.
ORACLE_PROGRAMS = ("heapmix", "goroutines", "memprof", "objgraph")
ORACLE = [(f, kind) for f in ALL if f.truth.get("program") in ORACLE_PROGRAMS
          for kind in sorted(f.cores)]
ORACLE_IDS = ["%s-%s" % (f.name, kind) for f, kind in ORACLE]


def test_objgraph_fixtures_exist():
    """Without the objgraph cores (./setup test builds them) nothing here would run."""
    assert OBJGRAPH, "no objgraph fixture under %s/fixtures: run ./setup test" % BUILD


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, cli_json("objects", fixture.exe, fixture.cores[kind])


def test_objects_add_up_to_heapobjects_and_heapalloc(case):
    fixture, kind, doc = case
    t = fixture.truth
    assert doc["reachable"]["objects"] + doc["unreachable"]["objects"] == t["HeapObjects"]
    assert doc["reachable"]["bytes"] + doc["unreachable"]["bytes"] == t["HeapAlloc"]
    assert all(c["ok"] for c in doc["checks"]), doc["checks"]
    # An arm64 kernel core is QEMU's with holes punched in afterwards (conftest), and says so.
    punched = kind == "kernel" and t.get("emulated")
    assert [w for w in doc["warnings"] if not (punched and "written by QEMU" in w)] == []


def test_every_edge_ends_in_an_allocated_slot(case):
    _, _, doc = case
    e = doc["edges"]
    assert e["edges"] > 0
    assert (e["dangling_free_slot"], e["dangling_unswept_garbage"], e["dangling_no_slot"],
            e["roots_into_no_object"]) == (0, 0, 0, 0), e


def test_root_kinds_reach_what_the_truth_says(case):
    """Globals reach most; a finalizer's closure alone holds main.finalFnVal, a cleanup
    alone holds main.cleanupArg (1.24+): those kinds reach at least those objects."""
    fixture, _, doc = case
    kinds = {r["kind"]: r for r in doc["roots"]}
    types = {r["type"]: r for r in fixture.truth["objgraph"]["types"]}
    assert kinds["bss"]["objects"] + kinds["data"]["objects"] > 0
    assert kinds["finalizer"]["objects"] >= types["main.finalFnVal"]["reachable"]
    if fixture.truth["objgraph"]["features"]["cleanup"]:
        assert kinds["cleanup"]["objects"] >= types["main.cleanupArg"]["reachable"]
    else:
        assert kinds["cleanup"]["roots"] == 0
    assert sum(k["objects"] for k in doc["roots"]) == doc["reachable"]["objects"]
    assert sum(k["bytes"] for k in doc["roots"]) == doc["reachable"]["bytes"]


def expected_unreachable_by_slot(truth):
    """{slot_size: objects} that the truth says are unreachable (stack-held ones included
    while stack roots are not scanned)."""
    out = {}
    for r in truth["objgraph"]["types"]:
        n = r["unreachable"] + (r["reachable"] if r["type"] in ONLY_STACK_HELD else 0)
        if n:
            out[r["slot_size"]] = out.get(r["slot_size"], 0) + n
    return out


def test_unreachable_garbage_per_class_is_the_truth(case):
    fixture, _, doc = case
    by_size = {c["object_size"]: c for c in doc["classes"]}
    for size, n in sorted(expected_unreachable_by_slot(fixture.truth).items()):
        assert size in by_size, "no objects of %d bytes" % size
        assert by_size[size]["unreachable_objects"] == n, (size, by_size[size])
        assert by_size[size]["unreachable_bytes"] == n * size


def test_garbage_was_allocated_since_the_last_gc(case):
    """The garbage was allocated after the last GC: so it is in allocated_since_gc, and
    the unreachable objects from before the GC are only those the stacks hold."""
    fixture, _, doc = case
    garbage = sum(r["unreachable_bytes"] for r in fixture.truth["objgraph"]["types"])
    assert doc["allocated_since_gc"]["bytes"] >= garbage
    stack_held = sum(r["reachable"] for r in fixture.truth["objgraph"]["types"]
                     if r["type"] in ONLY_STACK_HELD)
    assert doc["unreachable_before_gc"]["objects"] >= stack_held


class Target:
    """A target opened once in libcore: its object graph is built once for many whatis."""

    def __init__(self, exe, core):
        lib = self.lib = ctypes.CDLL(os.path.join(BUILD, "libgomem.so"))
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        lib.gomem_target_open_core.argtypes = [cp, cp, ctypes.POINTER(vp)]
        lib.gomem_target_open_core.restype = vp
        lib.gomem_run.argtypes = [vp, cp, ctypes.c_int, ctypes.POINTER(cp), ctypes.POINTER(vp),
                                  ctypes.POINTER(ctypes.c_int)]
        lib.gomem_run.restype = vp
        lib.gomem_error_message.argtypes = [vp]
        lib.gomem_error_message.restype = cp
        lib.gomem_error_destroy.argtypes = [vp]
        lib.gomem_target_destroy.argtypes = [vp]
        lib.gomem_free.argtypes = [vp]
        self.t = vp()
        self.check(lib.gomem_target_open_core(exe.encode(), core.encode(), ctypes.byref(self.t)))

    def check(self, err):
        if err:
            msg = self.lib.gomem_error_message(err).decode()
            self.lib.gomem_error_destroy(err)
            pytest.fail(msg)

    def run(self, verb, *args):
        argv = (ctypes.c_char_p * len(args))(*[a.encode() for a in args])
        out, partial = ctypes.c_void_p(), ctypes.c_int()
        self.check(self.lib.gomem_run(self.t, verb.encode(), len(args), argv, ctypes.byref(out),
                                      ctypes.byref(partial)))
        try:
            return json.loads(ctypes.string_at(out).decode())
        finally:
            self.lib.gomem_free(out)

    def close(self):
        self.lib.gomem_target_destroy(self.t)


def test_probes_reachability_via_whatis(case):
    fixture, kind, _ = case
    t = Target(fixture.exe, fixture.cores[kind])
    try:
        for p in fixture.truth["objgraph"]["probes"]:
            obj = t.run("whatis", "--json", str(p["addr"]))["object"]
            assert obj and obj["allocated"], p
            want = p["reachable"] and p["type"] not in ONLY_STACK_HELD
            assert obj["reachable"] is want, (p["type"], p["expr"], obj)
        garbage = fixture.truth["objgraph_garbage"]
        for name in ("garbage", "small_garbage", "weak_only"):
            for addr in garbage[name]:
                obj = t.run("whatis", "--json", str(addr))["object"]
                assert obj["allocated"] and obj["reachable"] is False, (name, addr, obj)
    finally:
        t.close()


def test_text_output_has_the_checks(case):
    fixture, kind, doc = case
    r = run_cli("objects", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    assert "reachable" in r.stdout and "by root kind" in r.stdout
    assert r.stdout.count("\n  ok   ") == 3, r.stdout


def test_summary_objects_adds_the_reachable_bytes(case):
    """summary --objects: heap.reachable_bytes and unreachable_bytes, the numbers of gomem
    objects; the default summary reads metadata only and has neither."""
    fixture, kind, doc = case
    core = fixture.cores[kind]
    r = run_cli("summary", "--objects", "--json", fixture.exe, core)
    assert r.returncode == 0, r.stderr
    heap = json.loads(r.stdout)["heap"]
    assert heap["reachable_bytes"] == doc["reachable"]["bytes"]
    assert heap["unreachable_bytes"] == doc["unreachable"]["bytes"]
    assert heap["reachable_bytes"] + heap["unreachable_bytes"] == fixture.truth["HeapAlloc"]
    assert "reachable_bytes" not in cli_json("summary", fixture.exe, core)["heap"]
    text = run_cli("summary", "--objects", fixture.exe, core).stdout
    assert "reachable from the roots" in text


def test_gdb_objects_is_the_cli_s():
    """The GDB command prints the same report as the CLI (both rendered by libcore)."""
    f = OBJGRAPH[-1]
    core = f.cores["kernel"]
    _, out, err = run_gdb(f.exe, core, "gomem objects --json", "gomem whatis --json %d" %
                          f.truth["objgraph"]["probes"][0]["addr"])
    assert json_from_gdb(out) == cli_json("objects", f.exe, core), err
    assert '"reachable": true' in out.split('"gomem/whatis/v1"')[1], out


@pytest.mark.parametrize("fixture,kind", ORACLE, ids=ORACLE_IDS)
def test_gc_oracle_no_unreachable_object_from_before_the_last_gc(fixture, kind):
    """A core taken after runtime.GC() (GO-OBJECTS.md §5.7): every object the GC left
    allocated was reachable then and still is (nothing unlinks it without allocating);
    only objects allocated since can be unreachable."""
    doc = cli_json("objects", fixture.exe, fixture.cores[kind])
    assert doc["unreachable_before_gc"] == {"objects": 0, "bytes": 0}, doc["unreachable_before_gc"]


def test_live_process_objects_and_the_pause():
    """gomem objects --pid on a running objgraph: the same checks; the time the process
    stands still is bounded by the command's run, printed."""
    f = next((f for f in OBJGRAPH if "-" not in f.name.split("go1.")[1]), None)
    assert f, "no objgraph fixture without an experiment"
    with tempfile.TemporaryDirectory() as tmp:
        proc, truth = start_until_truth(f.exe, tmp, f.name)
        try:
            t0 = time.monotonic()
            r = run_cli("objects", "--json", "--pid", str(proc.pid))
            pause = time.monotonic() - t0
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["reachable"]["objects"] + doc["unreachable"]["objects"] == truth["HeapObjects"]
    assert doc["reachable"]["bytes"] + doc["unreachable"]["bytes"] == truth["HeapAlloc"]
    assert all(c["ok"] for c in doc["checks"]), doc["checks"]
    print("gomem objects --pid: the process stood still at most %.3f s (%d objects)" % (
        pause, truth["HeapObjects"]))
