"""`gomem stacks`: what each goroutine is doing (issue 11, point 7).

The goroutines fixture (fixtures/README.md, "The goroutines truth") starts 139 goroutines
in 14 groups and logs what the runtime's own traceback says of each: status, wait reason
(the runtime's waitReasonStrings entry), start function (g.startpc), and every goid. gomem
reads g.waitreason and names it from the binary's runtime.waitReasonStrings, takes the
top frame from g.sched.pc (g.syscallpc in a system call) and the start function from
g.startpc. Asserted exactly, on every goroutines fixture of the matrix, both cores, and
through the GDB plugin:

- the user goroutines' groups are the truth's groups, with the same counts (main included);
- each logged goid has its group's status, wait reason and start function;
- the top frame of a waiting goroutine is runtime.gopark (every park goes through it; the
  runtime's traceback hides it, so the truth's `function` is the first frame it shows),
  and of a goroutine in a system call the truth's function (entersyscall's caller).
"""

import pytest

from conftest import built_fixtures, json_from_gdb, run_cli, run_gdb, cli_json

FIXTURES = [f for f in built_fixtures() if "goroutines" in f.truth]
CASES = [(f, kind) for f in FIXTURES for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]


def test_goroutines_fixtures_exist():
    assert FIXTURES, ("no goroutines fixture in build/fixtures: ./setup test builds them "
                      "(fixtures/matrix.txt, goroutines lines)")


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, cli_json("stacks", fixture.exe, fixture.cores[kind])


def truth_key(g):
    return (g["status"], g["wait_reason"] or None, g["start_function"])


def gomem_key(g):
    return (g["status"], g["wait_reason"], g["start_function"])


def user_groups(s):
    """gomem's groups of user goroutines by (status, wait reason, start), over the top frame."""
    out = {}
    for g in s["groups"]:
        if g["start_function"] and g["start_function"].startswith("runtime.") and \
                g["start_function"] != "runtime.main":
            continue
        out.setdefault(gomem_key(g), []).append(g)
    return out


def test_groups_and_counts_are_the_runtimes(case):
    fixture, _, s = case
    truth = fixture.truth["goroutines"]["groups"]
    got = user_groups(s)
    want = {truth_key(t): t for t in truth}
    assert sorted(got, key=str) == sorted(want, key=str)
    for key, t in want.items():
        assert len(got[key]) == 1, got[key]  # one top frame per group
        g = got[key][0]
        assert g["count"] == t["count"], (key, g, t)
        if t["status"] == "waiting":
            assert g["function"] == "runtime.gopark", g
        elif t["status"] == "syscall":
            assert g["function"] == t["function"], (g, t)
    assert sum(g["count"] for gs in got.values() for g in gs) == fixture.truth["num_goroutine"]


def test_every_goroutine_counted_once_and_described(case):
    fixture, _, s = case
    gs = {g["goid"]: g for g in s["goroutines"]}
    assert len(gs) == len(s["goroutines"]) == sum(g["count"] for g in s["groups"])
    stack = sum(g["stack_bytes"] for g in s["goroutines"])
    assert sum(g["stack_bytes"] for g in s["groups"]) == stack
    for t in fixture.truth["goroutines"]["groups"]:
        for goid in t["goids"]:
            g = gs[goid]
            assert gomem_key(g) == truth_key(t), (goid, g, t)
            assert g["start"] == g["start_function"]
            assert g["pc"] and g["pc_source"] in ("sched", "syscall")
    for g in s["goroutines"]:
        assert (g["wait_reason"] is not None) == (g["status"] == "waiting"), g
    sizes = [g["stack_bytes"] for g in s["groups"]]
    assert sizes == sorted(sizes, reverse=True)


def test_text_groups_by_default(case):
    fixture, kind, s = case
    r = run_cli("stacks", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    assert " COUNT " in r.stdout and "WAIT REASON" in r.stdout
    lines = r.stdout.splitlines()
    for t in fixture.truth["goroutines"]["groups"]:
        # COUNT, STACK (a number and its unit), STATUS, WAIT REASON, ..., START
        want = [t["status"]] + (t["wait_reason"].split() or ["-"])
        hits = [ln for ln in lines if ln.split()[:1] == [str(t["count"])] and
                ln.split()[3:3 + len(want)] == want and
                ln.rstrip().endswith(t["start_function"][-20:])]  # cut to fit 100 columns
        assert len(hits) == 1, (t, hits)
    r = run_cli("stacks", "--no-group", "--limit", "0", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    assert " GOID " in r.stdout and " COUNT " not in r.stdout
    rows = [ln for ln in r.stdout.splitlines() if ln[:8].strip().isdigit() and
            ln.split()[1] in ("waiting", "syscall", "running", "runnable")]
    assert len(rows) == len(s["goroutines"])


def test_gdb_groups_equal_cli(case):
    fixture, kind, s = case
    rc, out, err = run_gdb(fixture.exe, fixture.cores[kind], "gomem stacks --json")
    assert rc == 0, err
    assert json_from_gdb(out)["groups"] == s["groups"]
