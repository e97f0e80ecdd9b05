"""gomem types: every object's type against the objgraph fixture's truth, on every line of the
Go matrix (1.19-1.27, the experiments that change the heap's layout, PIE) and both core kinds,
and on the arm64 lines (qemu-user: kernel and qemu cores).

What is exact here, and why:
- reachable objects of each program type = the truth's count: objgraph makes every type's
  size a size class, so one object is one slot, and logs its counts after the heap stopped
  moving (an object that only a goroutine's stack holds too: typed by the DWARF variable of
  its frame that covers the live slot), a closure's captured object too: from Go 1.23 DWARF
  gives captured variables' offsets (GO-OBJECTS.md §4.7); before, the closure function's
  loads from its context register (amd64 DX, arm64 R26) with the DWARF locations right after
  them do.
- unreachable objects of each self-typed garbage type (a malloc header: Go 1.22+) = the
  truth's count; garbage that carries no type of its own and that nothing typed points to is
  unknown, never counted under another program type.
- the types' objects and bytes add up to HeapObjects and HeapAlloc (every allocated slot is
  counted once, under its type or as unknown).
- each probe's type through whatis (object.type) = the truth's.
The unknown share of reachable bytes is at most 1% (the issue's target) on objgraph and hello;
the lines that miss it are named by over_target(), with the reason, and are strict xfails.
"""

import json
import os
import tempfile

import pytest

from conftest import (ARM64_FIXTURES, built_fixtures, cli_json, json_from_gdb, run_cli,
                      run_gdb, start_until_truth)

# Types that only a goroutine's stack holds and that stay unknown: none (main.stackOnly is typed
# by main.holder's local x, GO-OBJECTS.md §5.5a).
ONLY_STACK_HELD = []
# Objects that only a closure holds: typed from Go 1.23 (DW_AT_go_closure_offset), and before
# on amd64 and arm64 (the closure's code: typing.c code_fields, the x86 and the A64 decoder);
# not before 1.23 on another architecture.
CLOSURE_HELD = ["main.closureVal", "main.finalFnVal"]
CLOSURE_CODE_ARCHES = ("amd64", "arm64")

ALL = built_fixtures()
OBJGRAPH = [f for f in ALL if f.truth.get("program") == "objgraph"]
HELLO = [f for f in ALL if f.truth.get("program") == "hello"]
# The arm64 objgraph lines (build/fixtures-arm64): every check of a core below runs on them too;
# the checks of one fixture (text, GDB, a live process) stay on amd64's OBJGRAPH[-1].
OBJGRAPH_ARM64 = [f for f in built_fixtures(ARM64_FIXTURES, ("kernel", "qemu"))
                  if f.truth.get("program") == "objgraph"]
CASES = [(f, kind) for f in OBJGRAPH + OBJGRAPH_ARM64 for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]


def go_minor(fixture):
    v = fixture.truth["go_version"][len("go"):]
    return int(v.split(".")[1].split("-")[0].split(" ")[0])


def expected_unknown(fixture, type_name):
    """Whether a program type is expected unknown on this fixture, and why."""
    if type_name in ONLY_STACK_HELD:
        return True
    from_code = fixture.truth.get("goarch", "amd64") in CLOSURE_CODE_ARCHES
    return type_name in CLOSURE_HELD and go_minor(fixture) < 23 and not from_code


# Lines whose unknown share of reachable bytes is over 1%, with the reason: none. Measured
# before each source that brought a line under it (which unknown objects weigh most, and what
# points to them):
# - objgraph before 1.23 (2.7-4.9%): the closures' captured objects (no DW_AT_go_closure_offset
#   before 1.23): main.main's truth.JSON func1's slice (24-32 KiB), setFinalizer.func1's 10 x
#   160 B; typed from the closures' code (typing's closure_code_layouts); on 1.19 also 12 KiB
#   that only sync.Map entries' *any boxes reach (typing's iface_typed): now 0.03-0.14%.
#   On arm64 (1.22: 2.2%) the same closures, their loads off R26 (typing's a64_step): 0.02%.
# - hello on 1.21 (5.2%): maps that statically allocated values hold (hpack.staticTable's
#   headerFieldTable maps, 10 KiB; http.DefaultTransport's Transport), which no DWARF
#   variable covers (typing's statics): now 0.18%.
# - hello on 1.25-1.27 (1.2-1.3%): runtime.allgs' array reached first as one *g through
#   runtime.allgptr (**g), so the g objects it holds were unknown (typing's widened); then
#   0.6%: what stays is two 512 B noscan objects of runtime.gcBgMarkWorker's frame (no DWARF
#   variable covers the slot) and runtime-internal objects behind untyped words.
def over_target(fixture):
    return False


def test_objgraph_fixtures_exist():
    assert OBJGRAPH, "no objgraph fixture under build/fixtures: run ./setup test"
    assert HELLO, "no hello fixture under build/fixtures: run ./setup test"
    assert any(go_minor(f) < 23 for f in OBJGRAPH_ARM64), (
        "no arm64 objgraph fixture before Go 1.23 under %s: run ./setup fixtures" % ARM64_FIXTURES)


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, cli_json("types", fixture.exe, fixture.cores[kind])


def rows(doc):
    return {r["type"]: r for r in doc["types"]}


def test_types_add_up_to_heapobjects_and_heapalloc(case):
    fixture, _, doc = case
    t, tot = fixture.truth, doc["total"]
    assert tot["reachable_objects"] + tot["unreachable_objects"] == t["HeapObjects"]
    assert tot["reachable_bytes"] + tot["unreachable_bytes"] == t["HeapAlloc"]
    objects = sum(r["reachable_objects"] + r["unreachable_objects"] for r in doc["types"])
    u = doc["unknown"]
    assert objects + u["reachable_objects"] + u["unreachable_objects"] == t["HeapObjects"]
    assert doc["types_not_shown"] == 0


def test_reachable_objects_per_program_type_equal_the_truth(case):
    fixture, _, doc = case
    got = rows(doc)
    for row in fixture.truth["objgraph"]["types"]:
        name = row["type"]
        have = got.get(name, {}).get("reachable_objects", 0)
        if expected_unknown(fixture, name):
            assert have == 0, (name, have)
            continue
        assert have == row["reachable"], (name, have, row["reachable"])
        if have:
            assert got[name]["reachable_bytes"] == row["reachable_bytes"], name


def test_unreachable_garbage_types_equal_the_truth(case):
    fixture, _, doc = case
    got = rows(doc)
    checked = 0
    for row in fixture.truth["objgraph"]["types"]:
        have = got.get(row["type"], {}).get("unreachable_objects", 0)
        if row["unreachable"] and row["self_typed"]:
            assert have == row["unreachable"], (row["type"], have, row["unreachable"])
            assert got[row["type"]]["unreachable_bytes"] == row["unreachable_bytes"]
            checked += 1
        else:
            assert have == 0, (row["type"], have)
    assert checked > 0 or not fixture.truth["objgraph"]["malloc_headers"]


def test_propagations_are_checked_and_mostly_accepted(case):
    """Rejections are counted and said in a warning; on this program they stay rare (the
    runtime's own unsafe conversions: a few dozen at most). A word read as a type descriptor
    that is none (a stale interface word) is counted, never followed: at most a couple."""
    _, _, doc = case
    ty = doc["typing"]
    assert ty["typed_globals"] > 0 and ty["propagated"] > 1000
    assert ty["rejected"] < 50, ty
    assert ty["unreadable_types"] <= 2, ty
    assert any("rejected" in w for w in doc["warnings"]) == (ty["rejected"] > 0)


def test_sources_beyond_dwarf_are_counted(case):
    """The sources that brought the unknown share under 1% are counted on their own: closures
    laid out by their code exactly where DWARF has no captured offsets (before 1.23, amd64 and
    arm64: the closure-held types' exact counts above depend on it); statics walked on every
    line (the runtime's and the program's &T{} globals); their refusals and the interface
    words' stay rare (a refusal is a mask or a pointee that disagrees, never followed)."""
    fixture, _, doc = case
    ty = doc["typing"]
    if go_minor(fixture) < 23 and fixture.truth.get("goarch", "amd64") in CLOSURE_CODE_ARCHES:
        assert ty["closure_code_layouts"] >= 3, ty  # makeHook, setFinalizer, truth.JSON's
    else:
        assert ty["closure_code_layouts"] == 0, ty
    assert ty["closure_code_conflicts"] == 0, ty
    assert ty["statics"] > 0 and ty["statics_rejected"] == 0 and ty["statics_skipped"] == 0, ty
    assert ty["iface_rejected"] <= ty["iface_pairs"] and ty["iface_rejected"] < 10, ty


def unknown_share(doc):
    return doc["unknown"]["reachable_bytes"] / doc["total"]["reachable_bytes"]


def share_case(fixture):
    marks = []
    if over_target(fixture):
        marks = [pytest.mark.xfail(strict=True, reason="over 1% of unknown reachable bytes "
                                   "(over_target)")]
    return pytest.param(fixture, marks=marks, id=fixture.name)


@pytest.mark.parametrize("fixture", [share_case(f) for f in OBJGRAPH + OBJGRAPH_ARM64 + HELLO])
def test_unknown_share_of_reachable_bytes_is_at_most_one_percent(fixture):
    doc = cli_json("types", fixture.exe, fixture.cores["kernel"])
    assert unknown_share(doc) <= 0.01, "%.2f%%" % (100 * unknown_share(doc))


def test_probes_types_through_whatis(case):
    fixture, kind, _ = case
    for p in fixture.truth["objgraph"]["probes"]:
        r = run_cli("whatis", "--json", fixture.exe, fixture.cores[kind], hex(p["addr"]))
        assert r.returncode == 0, r.stderr
        obj = json.loads(r.stdout)["object"]
        want = None if expected_unknown(fixture, p["type"]) else p["type"]
        assert obj["type"] == want, (p["pattern"], obj["type"], want)


def test_limit_keeps_the_largest_and_counts_the_rest(case):
    fixture, kind, doc = case
    r = run_cli("types", "--json", "--limit", "3", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    short = json.loads(r.stdout)
    assert short["types"] == doc["types"][:3]
    assert short["types_not_shown"] == len(doc["types"]) - 3
    sizes = [t["reachable_bytes"] + t["unreachable_bytes"] for t in doc["types"]]
    assert sizes == sorted(sizes, reverse=True)


def test_text_states_the_unknown_share_on_its_own_line():
    fixture = OBJGRAPH[-1]
    r = run_cli("types", fixture.exe, fixture.cores["kernel"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert any(line.startswith("unknown: ") and "of the reachable bytes" in line
               for line in lines)
    assert any(line.rstrip().endswith("main.sliceItem") for line in lines)


def test_gdb_prints_what_the_cli_prints():
    fixture = OBJGRAPH[-1]
    core = fixture.cores["kernel"]
    rc, out, err = run_gdb(fixture.exe, core, "gomem types --json")
    assert rc == 0, err
    assert json_from_gdb(out) == cli_json("types", fixture.exe, core)


def test_live_process_types_equal_the_truth():
    """gomem types --pid on a running objgraph (blocked after its truth, so its heap stands
    still): every program type's reachable count, as from its core."""
    f = next((f for f in OBJGRAPH if "-" not in f.name.split("go1.")[1]), None)
    assert f, "no objgraph fixture without an experiment"
    with tempfile.TemporaryDirectory() as tmp:
        proc, truth = start_until_truth(f.exe, tmp, f.name)
        try:
            r = run_cli("types", "--json", "--pid", str(proc.pid))
        finally:
            proc.kill()
            proc.wait(timeout=30)
    assert r.returncode == 0, r.stderr
    got = rows(json.loads(r.stdout))
    for row in truth["objgraph"]["types"]:
        if expected_unknown(f, row["type"]):
            continue
        assert got.get(row["type"], {}).get("reachable_objects", 0) == row["reachable"], row
