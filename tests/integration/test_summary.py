"""`gomem summary` against the MemStats that each fixture program logged about itself.

The fixture programs call runtime.ReadMemStats, write the result without
allocating, and block with GC off (so neither the GC nor the scavenger moves
anything) before the cores are taken. Every MemStats field is therefore
asserted exactly: no tolerance is needed or allowed.
"""

import pytest

from conftest import (EXACT_FIELDS, built_fixtures, cli_json, committed_fixtures, is_server,
                      json_from_gdb, run_gdb)


BUILT = built_fixtures()
CASES = [(f, kind) for f in BUILT + committed_fixtures() for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]


def test_fixture_cores_exist():
    """./setup test builds a kernel core and a gcore of every fixture program."""
    names = {f.name.split("-go")[0] for f in BUILT}
    assert {"heapmix", "hello", "threads"} <= names, names
    for f in BUILT:
        assert sorted(f.cores) == ["gcore", "kernel"], f.name


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, cli_json("summary", fixture.exe, fixture.cores[kind])


@pytest.mark.parametrize("field", EXACT_FIELDS)
def test_memstats_field_equals_logged_value(case, field):
    fixture, _, summary = case
    assert summary["memstats"][field] == fixture.truth[field]


def test_walk_agrees_with_memstats(case):
    fixture, _, s = case
    t, heap = fixture.truth, s["heap"]
    assert heap["in_use_bytes"] == t["HeapInuse"]
    assert heap["free_released_bytes"] == t["HeapReleased"]
    assert heap["free_retained_bytes"] == t["HeapIdle"] - t["HeapReleased"]
    assert heap["stack_bytes"] == t["StackInuse"]
    assert heap["objects"] == t["HeapObjects"]
    assert heap["object_bytes"] == t["HeapAlloc"]
    assert heap["in_flight_bytes"] == 0  # the program held still: no pages between owners


def test_every_check_passes(case):
    _, _, s = case
    failed = [c for c in s["checks"] if not c["ok"]]
    assert s["checks"] and not failed, failed


def test_target_identifies_the_program(case):
    fixture, kind, s = case
    target = s["target"]
    assert s["schema"] == "gomem/summary/v1"
    assert target["source"] == "core"
    assert target["go_version"] == fixture.truth["go_version"].split()[0].split("-X:")[0]
    assert target["goarch"] == "amd64"
    assert target["core_kind"] == kind
    if kind == "kernel":
        assert target["pid"] == fixture.truth["pid"]


def test_heap_totals_are_consistent(case):
    _, _, s = case
    heap = s["heap"]
    assert heap["arenas"] >= 1
    assert heap["arena_bytes"] == heap["arenas"] * 64 << 20
    assert (heap["in_use_bytes"] == heap["object_bytes"] + heap["free_slot_bytes"]
            + heap["tail_waste_bytes"])
    assert heap["mapped_bytes"] + heap["unmapped_arena_bytes"] == heap["arena_bytes"]


def test_kernel_core_vsz_equals_logged_vmsize(case):
    fixture, kind, s = case
    if kind != "kernel":
        # A gcore holds only the mappings GDB chose to save, and says so.
        assert s["rss_bytes"] is None
        assert any("residency unknown" in w for w in s["warnings"])
        return
    assert s["vsz_bytes"] == fixture.truth["VmSize"]
    assert s["rss_bytes"] is not None and s["rss_bytes"] > 0


def test_breakdown_children_sum_to_parent(case):
    _, _, s = case

    def walk(node):
        kids = node["children"]
        if kids:
            assert sum(k["vsz_bytes"] for k in kids) == node["vsz_bytes"], node["name"]
        for k in kids:
            walk(k)
    root = s["breakdown"]
    assert root["vsz_bytes"] == s["vsz_bytes"]
    walk(root)


@pytest.mark.parametrize("fixture", BUILT, ids=[f.name for f in BUILT])
def test_gdb_summary_json_equals_cli(fixture):
    core = fixture.cores["kernel"]
    rc, out, err = run_gdb(fixture.exe, core, "gomem summary --json")
    assert "Traceback" not in err + out
    assert json_from_gdb(out) == cli_json("summary", fixture.exe, core)


def test_gdb_summary_text_matches_cli_text():
    # A fixture program: it logged its HeapAlloc (a server did not).
    fixture = next(f for f in BUILT if not is_server(f))
    core = fixture.cores["kernel"]
    _, out, _ = run_gdb(fixture.exe, core, "gomem summary")
    assert "runtime.MemStats, as ReadMemStats would report them:" in out
    assert "HeapAlloc" in out and str(fixture.truth["HeapAlloc"]) in out
    assert "FAIL" not in out
