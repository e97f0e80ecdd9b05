"""The heap against the last GC and the next one (issue 11, point 6).

`summary` states what the last GC marked live (gcController.heapMarked), what was allocated
since (HeapAlloc - heapMarked, 0 when the heap is below it), and the next GC's goal, or
"GC off". The fixture programs log MemStats but not heapMarked: the tests assert the
identity with the printed HeapAlloc, NumGC and NextGC (which test_summary.py compares with
the truth exactly), GC off on every fixture program (they block with GOGC=off), and a GC
that is on on the real server (etcd: GOGC=100, no memory limit), whose goal is then at
least twice the heap marked live (mgcpacer.go: gcPercentHeapGoal = heapMarked +
(heapMarked + stacks + globals) * GOGC/100).
"""

import pytest

from conftest import (built_fixtures, cli_json, committed_fixtures, is_server, run_cli,
                      server_fixtures)

CASES = [(f, kind) for f in built_fixtures() + committed_fixtures() for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]
GC_OFF_ABOVE = 1 << 62  # GOGC=off leaves NextGC near 2^63-1 (less the limit's headroom)


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, cli_json("summary", fixture.exe, fixture.cores[kind])


def test_allocated_since_gc_is_heapalloc_less_marked(case):
    _, _, s = case
    heap, ms = s["heap"], s["memstats"]
    live, since = heap["live_at_last_gc_bytes"], heap["allocated_since_gc_bytes"]
    # heapMarked is 0 until the first GC ends (a program that never ran one: spinners).
    assert isinstance(live, int) and (live > 0) == (ms["NumGC"] > 0)
    assert since == max(0, ms["HeapAlloc"] - live)


def test_gc_off_as_the_program_set_it(case):
    fixture, _, s = case
    if is_server(fixture):
        assert s["heap"]["gc_off"] is False
        assert s["memstats"]["NextGC"] >= 2 * s["heap"]["live_at_last_gc_bytes"]
    else:
        # Every fixture program blocks with GOGC=off: its logged NextGC says so.
        assert fixture.truth["NextGC"] > GC_OFF_ABOVE
        assert s["heap"]["gc_off"] is True
        assert s["memstats"]["NextGC"] == fixture.truth["NextGC"]


def test_text_states_the_last_gc_and_gc_off(case):
    fixture, kind, s = case
    r = run_cli("summary", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())  # the sentence is wrapped at 100 columns
    assert "the heap since the last GC:" in r.stdout
    assert "(gcController.heapMarked)" in text
    assert "HeapAlloc - heapMarked" in text
    if s["heap"]["gc_off"]:
        assert "GC off (GOGC=off" in text
        nextgc = [ln for ln in r.stdout.splitlines() if ln.split()[:1] == ["NextGC"]]
        assert nextgc and "GC off" in nextgc[0] and "EiB" not in nextgc[0], nextgc
    else:
        assert "the next GC is due when the heap reaches" in text
    # The explanation in JSON holds the same sentence.
    assert any("gcController.heapMarked" in x for x in s["explanation"])


def test_a_server_core_has_the_gc_on():
    """etcd runs with GOGC=100: its cores show a GC that is on (see the module docstring)."""
    servers = server_fixtures()
    assert servers, ("no real-server fixture in build/fixtures: ./setup test builds etcd "
                     "(fixtures/servers/build.sh) and takes its cores")
    for f in servers:
        for kind in sorted(f.cores):
            s = cli_json("summary", f.exe, f.cores[kind])
            assert s["heap"]["gc_off"] is False
            assert s["memstats"]["NextGC"] >= 2 * s["heap"]["live_at_last_gc_bytes"]
