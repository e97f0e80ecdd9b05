"""The object graph of a live process (issue 13): gomem stops the process only to copy it.

`gomem objects|types|top --pid` stop the process, copy every page of its private readable
mappings that is in memory or in swap (target/live.c, the snapshot), resume it, and build
the graph from the copy. What is proved here, on a running objgraph (blocked after its
truth, GC off, so its heap stands still and the truth is exact):

- the counts are the truth's (per type, and reachable + unreachable = HeapObjects);
- the process runs again while gomem analyses: gomem is itself run under GDB with a
  breakpoint where the graph is built (gm_graph_create); there the process's threads are
  all running or sleeping and untraced, and then the process is killed: gomem still prints
  the truth's counts, so nothing after the copy was read from the process;
- the bytes copied (target.snapshot_bytes) are what the rule says, counted again here from
  /proc/PID/maps and pagemap after gomem is done (the process does not change them: it is
  blocked, and gomem's reads after the copy go to the copy);
- the process is left as it was: same threads, running or sleeping, untraced;
- --max-snapshot refuses a copy above it with one error line, before stopping the process;
  --no-stop copies nothing.
"""

import json
import os
import signal
import struct
import subprocess
import tempfile

import pytest

from conftest import (GOMEM, assert_one_line_error, built_fixtures, run_cli,
                      start_until_truth, status_field, thread_states)

ALL = built_fixtures()
OBJGRAPH = [f for f in ALL if f.truth.get("program") == "objgraph"]
HELLO = [f for f in ALL if f.truth.get("program") == "hello" and "-" not in f.name.split("go1.")[1]]
# Closures' captured objects are typed from Go 1.23 (test_types.py, CLOSURE_HELD).
CLOSURE_HELD = ["main.closureVal", "main.finalFnVal"]


def fixture():
    """The newest objgraph built without an experiment (a live test needs one)."""
    plain = [f for f in OBJGRAPH if "-" not in f.name.split("go1.")[1]]
    assert plain, "no objgraph fixture without an experiment is built (fixtures/mkcore.sh)"
    return plain[-1]


def go_minor(f):
    return int(f.truth["go_version"][len("go"):].split(".")[1])


@pytest.fixture()
def live():
    f = fixture()
    with tempfile.TemporaryDirectory() as tmp:
        proc, truth = start_until_truth(f.exe, tmp, f.name)
        try:
            yield f, proc, truth
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)


def tids(pid):
    return sorted(os.listdir("/proc/%d/task" % pid))


def assert_left_as_it_was(pid, threads):
    states = thread_states(pid)
    assert set(states) <= {"S", "R"}, states
    assert status_field(pid, "TracerPid") == "0"
    assert tids(pid) == threads


def assert_types_are_the_truth(f, doc, truth):
    got = {t["type"]: t for t in doc["types"]}
    for row in truth["objgraph"]["types"]:
        if row["type"] in CLOSURE_HELD and go_minor(f) < 23:
            continue
        assert got.get(row["type"], {}).get("reachable_objects", 0) == row["reachable"], row


def copied_bytes(pid):
    """The snapshot's rule counted from outside: pages present or swapped (pagemap bits 63,
    62) of every private readable mapping."""
    page = os.sysconf("SC_PAGE_SIZE")
    total = 0
    with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/pagemap" % pid, "rb") as pm:
        for line in maps:
            words = line.split()
            start, end = (int(x, 16) for x in words[0].split("-"))
            perms = words[1]
            if perms[0] != "r" or perms[3] != "p":
                continue
            pm.seek(start // page * 8)
            data = pm.read((end - start) // page * 8)
            for (entry,) in struct.iter_unpack("<Q", data):
                if entry & (3 << 62):
                    total += page
            # Past pagemap's end (nothing here) every page would be copied.
            total += (end - start) - len(data) // 8 * page
    return total


def test_objects_from_the_copy_are_the_truth_and_the_process_is_left_as_it_was(live):
    f, proc, truth = live
    threads = tids(proc.pid)
    r = run_cli("objects", "--json", "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["reachable"]["objects"] + doc["unreachable"]["objects"] == truth["HeapObjects"]
    assert doc["reachable"]["bytes"] + doc["unreachable"]["bytes"] == truth["HeapAlloc"]
    assert all(c["ok"] is True for c in doc["checks"]), doc["checks"]
    target = doc["target"]
    assert target["pause_seconds"] is not None and target["pause_seconds"] > 0
    assert target["snapshot_bytes"] == copied_bytes(proc.pid)
    assert target["snapshot_bytes"] >= truth["HeapInuse"] // 2  # sanity: the heap is in it
    assert_left_as_it_was(proc.pid, threads)


def test_types_top_and_pprof_from_the_copy(live):
    f, proc, truth = live
    threads = tids(proc.pid)
    r = run_cli("types", "--json", "--limit", "0", "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert_types_are_the_truth(f, doc, truth)
    assert doc["target"]["snapshot_bytes"] > 0
    r = run_cli("top", "--json", "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["target"]["snapshot_bytes"] > 0
    with tempfile.TemporaryDirectory() as tmp:
        r = run_cli("pprof", "--json", "-o", os.path.join(tmp, "heap.pb.gz"),
                    "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["target"]["snapshot_bytes"] > 0
    assert_left_as_it_was(proc.pid, threads)


def test_text_says_the_pause_and_the_bytes_copied(live):
    f, proc, truth = live
    r = run_cli("objects", "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith("live process %d, stopped " % proc.pid), first
    assert "ms while gomem copied" in first and "analysed from the copy while it ran" in first


GDB_SCRIPT = r"""
import gdb, json, os, signal, time
pid = int(os.environ["LIVE_PID"])
out = os.environ["LIVE_OUT"]
gdb.execute("set pagination off")
gdb.execute("set confirm off")
gdb.execute("break gm_graph_create")
# "run > FILE" would replace the arguments: set them with the redirection.
gdb.execute("set args %s > %s" % (os.environ["LIVE_ARGS"], os.environ["LIVE_RESULT"]))
gdb.execute("run", to_string=True)
seen = {"stopped_at": gdb.selected_frame().name()}
states = []
for tid in os.listdir("/proc/%d/task" % pid):
    with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
        states.append(f.read().rsplit(")", 1)[1].split()[0])
seen["states"] = states
with open("/proc/%d/status" % pid) as f:
    seen["tracer"] = [l.split()[1] for l in f if l.startswith("TracerPid:")][0]
os.kill(pid, signal.SIGKILL)
for _ in range(500):  # until its memory is gone (a zombie: the test reaps it)
    with open("/proc/%d/stat" % pid) as f:
        if f.read().rsplit(")", 1)[1].split()[0] in "ZX":
            break
    time.sleep(0.01)
seen["killed"] = True
with open(out, "w") as f:
    json.dump(seen, f)
gdb.execute("delete")
gdb.execute("continue", to_string=True)
"""


def test_the_graph_is_built_after_the_process_runs_again_and_reads_only_the_copy(live):
    """Deterministic, no timing: GDB holds gomem where it starts building the graph."""
    f, proc, truth = live
    with tempfile.TemporaryDirectory() as tmp:
        script = os.path.join(tmp, "hold.py")
        with open(script, "w") as s:
            s.write(GDB_SCRIPT)
        seen_path = os.path.join(tmp, "seen.json")
        result = os.path.join(tmp, "types.json")
        env = dict(os.environ, LIVE_PID=str(proc.pid), LIVE_OUT=seen_path,
                   LIVE_RESULT=result,
                   LIVE_ARGS="types --json --limit 0 --pid %d" % proc.pid)
        r = subprocess.run(["gdb", "-nx", "-batch", "-x", script, GOMEM], env=env,
                           capture_output=True, text=True, timeout=300)
        assert os.path.exists(seen_path), (r.stdout[-2000:], r.stderr[-2000:])
        with open(seen_path) as fp:
            seen = json.load(fp)
        with open(result) as fp:
            out = fp.read()
    assert seen["stopped_at"] == "gm_graph_create"
    assert set(seen["states"]) <= {"S", "R"}, seen["states"]  # none stopped ("t")
    assert seen["tracer"] == "0"  # gomem detached every thread before the graph
    assert seen["killed"]
    proc.wait(timeout=30)
    doc = json.loads(out)
    assert_types_are_the_truth(f, doc, truth)
    total = doc["total"]
    assert total["reachable_objects"] + total["unreachable_objects"] == truth["HeapObjects"]
    assert total["reachable_bytes"] + total["unreachable_bytes"] == truth["HeapAlloc"]


def test_max_snapshot_refuses_before_stopping(live):
    f, proc, truth = live
    threads = tids(proc.pid)
    r = run_cli("objects", "--max-snapshot", "64K", "--pid", str(proc.pid))
    assert_one_line_error(r)
    assert "--max-snapshot" in r.stderr and "copy of" in r.stderr, r.stderr
    assert_left_as_it_was(proc.pid, threads)
    r = run_cli("objects", "--max-snapshot", "lots", "--pid", str(proc.pid))
    assert_one_line_error(r)
    assert "--max-snapshot wants a number" in r.stderr
    r = run_cli("objects", "--max-snapshot", "1G", "--json", "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["target"]["snapshot_bytes"] > 0


def test_no_stop_copies_nothing(live):
    f, proc, truth = live
    r = run_cli("objects", "--json", "--no-stop", "--pid", str(proc.pid))
    assert r.returncode in (0, 1), r.stderr
    target = json.loads(r.stdout)["target"]
    assert target["snapshot_bytes"] is None and target["pause_seconds"] is None


def test_summary_copies_only_with_objects(live):
    f, proc, truth = live
    plain = json.loads(run_cli("summary", "--json", "--pid", str(proc.pid)).stdout)
    assert plain["target"]["snapshot_bytes"] is None
    r = run_cli("summary", "--json", "--objects", "--pid", str(proc.pid))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["target"]["snapshot_bytes"] > 0
    assert doc["heap"]["reachable_bytes"] + doc["heap"]["unreachable_bytes"] == truth["HeapAlloc"]


def test_hello_with_cgo_from_the_copy_adds_up():
    """net/http with cgo: C heap, pthread stacks, shared libraries, and type names in pages of
    the executable the process never read (served from the file, not from the process)."""
    assert HELLO, "no hello fixture without an experiment is built (fixtures/mkcore.sh)"
    f = HELLO[-1]
    with tempfile.TemporaryDirectory() as tmp:
        proc, truth = start_until_truth(f.exe, tmp, f.name)
        try:
            threads = tids(proc.pid)
            r = run_cli("objects", "--json", "--pid", str(proc.pid))
            assert r.returncode == 0, r.stderr
            doc = json.loads(r.stdout)
            assert doc["target"]["snapshot_bytes"] == copied_bytes(proc.pid)
            assert_left_as_it_was(proc.pid, threads)
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert doc["reachable"]["objects"] + doc["unreachable"]["objects"] == truth["HeapObjects"]
    assert doc["reachable"]["bytes"] + doc["unreachable"]["bytes"] == truth["HeapAlloc"]
    assert all(c["ok"] is True for c in doc["checks"]), doc["checks"]
