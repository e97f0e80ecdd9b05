"""gomem paths ADDR: why an object is alive, against the objgraph fixture's truth on every line
of the Go matrix (1.19-1.27, the experiments that change the heap's layout, PIE) and both core
kinds.

The truth (fixtures/README.md, "The objgraph truth") gives, for each probe object, the root
that holds it (kind and name: a global's symbol, goroutine N's function and local variable, the
object a finalizer or cleanup is on), the Go expression that reaches it from there (`expr`:
main.sliceItems[7], main.strMap["k7"], main.anyVals[7].(*main.ifaceSmall), x.left.right) and
the number of objects on the way (`depth`, the probe included; null where the runtime decides
it, as in a map's internals). What is checked, exactly:
- the first path of each probe starts at the truth's root, and its depth is the truth's;
- the fields, indices, map keys and dynamic types of `expr` appear in the path's names, in
  order;
- the path ends at the slot that holds the probe, and every step points to the next: each
  step's offset lies in its slot, and reading the word there (gomem whatis of the next
  address) finds the next step's slot;
- the garbage the program dropped after its last GC (objgraph_garbage) has no path;
- goroutine N's G is reached from its own stack and from the runtime's globals: one path per
  kind of root, the shortest first;
- whatis shows the first path; the JSON validates against schemas/paths.schema.json; the CLI
  and GDB print what libcore returns; a free slot, a non-heap address or a bad --limit give
  one error line.
"""

import json
import re

import pytest

from conftest import assert_one_line_error, built_fixtures, cli_json, json_from_gdb, run_cli, \
    run_gdb, start_until_truth
from test_schemas import Target, assert_valid

ALL = built_fixtures()
OBJGRAPH = [f for f in ALL if f.truth.get("program") == "objgraph"]
CASES = [(f, kind) for f in OBJGRAPH for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]


def test_objgraph_fixtures_exist():
    """Without the objgraph cores (./setup test builds them) nothing here would run."""
    assert OBJGRAPH, "no objgraph fixture under build/fixtures: run ./setup test"


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    target = Target(fixture.exe, fixture.cores[kind])
    docs = {}
    try:
        for p in fixture.truth["objgraph"]["probes"]:
            docs[p["addr"]] = target.run("paths", "--json", "--limit", "6", "%d" % p["addr"])
        yield fixture, kind, target, docs
    finally:
        target.close()


# A field (.next), an index or key ([7], ["k7"]), a dynamic type (.(*main.T)).
TOKEN = re.compile(r'\.\([^)]*\)|\.[A-Za-z_]\w*|\[[^\]]*\]')


def go_minor(probe):
    return probe["_go_minor"]


def expr_tokens(probe):
    """What expr names after its root: fields, indices, keys, dynamic types, captured
    variables ("main.hook (captured cv)" names the closure's field cv)."""
    expr, root = probe["expr"], probe["root"]
    if root["kind"] == "global" and expr.startswith(root["name"]):
        rest = expr[len(root["name"]):]
    elif root["kind"] == "stack" and expr.startswith(root.get("local") or "\0"):
        rest = expr[len(root["local"]):]
    else:
        rest = ""
    captured = re.search(r"\(captured (\w+)\)", expr)
    if captured and go_minor(probe) < 23:
        captured = None  # DWARF names a closure's captured variables from Go 1.23
    rest = re.sub(r"\(captured \w+\)", "", rest)
    tokens = TOKEN.findall(rest)
    if captured:
        tokens.append("." + captured.group(1))
    return tokens


def names_of(path):
    return [path["root"]["via"]] + [s["via"] for s in path["steps"] if s["via"] is not None]


def in_order(tokens, names):
    """Whether each token is in one of names, in order (several may share one name)."""
    text = "\x00".join(names)
    at = 0
    for t in tokens:
        i = text.find(t, at)
        if i < 0:
            return False
        at = i + len(t)
    return True


def test_probes_paths_start_at_their_roots(case):
    fixture, _, _, docs = case
    for p in fixture.truth["objgraph"]["probes"]:
        doc = docs[p["addr"]]
        assert_valid("paths", doc, "gomem paths --json %#x" % p["addr"])
        obj = doc["object"]
        assert obj["addr"] <= p["addr"] < obj["addr"] + obj["size"], (p["expr"], obj)
        assert obj["reachable"] == p["reachable"], p["expr"]
        assert doc["paths"], "%s (%#x): no path" % (p["expr"], p["addr"])
        first, root = doc["paths"][0], p["root"]
        assert first["root"]["kind"] == root["kind"], (p["expr"], first["root"])
        if root["kind"] == "global":
            assert first["root"]["name"] == root["name"], (p["expr"], first["root"])
        elif root["kind"] == "stack":
            r = first["root"]
            assert (r["goroutine"], r["function"], r["local"]) == (
                root["goroutine"], root["function"], root["local"]), (p["expr"], r)
            assert r["name"].startswith("goroutine %d [" % root["goroutine"]), r["name"]
            assert r["name"].endswith("%s: local %s" % (root["function"], root["local"]))
        else:
            assert first["root"]["object"] == root["object"], (p["expr"], first["root"])
            assert first["root"]["name"] == "%s of %#x" % (root["kind"], root["object"])
        if p["depth"] is not None:
            assert first["depth"] == p["depth"], (p["expr"], names_of(first))
        assert first["depth"] == len(first["steps"])
        last = first["steps"][-1]
        assert (last["addr"], last["size"]) == (obj["addr"], obj["size"])
        assert last["offset"] is None and last["via"] is None
        # A type gomem knows is the truth's (fixtures/README.md lists what it cannot type).
        assert last["type"] in (p["type"], "unknown"), (p["expr"], last["type"])


def test_probes_paths_name_the_expression(case):
    fixture, _, _, docs = case
    minor = int(fixture.truth["go_version"].split(".")[1])
    for p in fixture.truth["objgraph"]["probes"]:
        first = docs[p["addr"]]["paths"][0]
        tokens = expr_tokens(dict(p, _go_minor=minor))
        assert in_order(tokens, names_of(first)), (p["expr"], tokens, names_of(first))


def test_each_step_points_to_the_next(case):
    """The offset of each step is a word in its slot that points into the next step's slot
    (read back with whatis on the address the word holds: the same object)."""
    fixture, kind, target, docs = case
    for p in fixture.truth["objgraph"]["probes"]:
        steps = docs[p["addr"]]["paths"][0]["steps"]
        for a, b in zip(steps, steps[1:]):
            assert a["offset"] is not None and a["offset"] % 8 == 0
            assert a["offset"] + 8 <= a["size"], (p["expr"], a)
            assert a["via"], (p["expr"], a)
        # Object addresses along the path are distinct (a shortest path has no cycle).
        assert len({s["addr"] for s in steps}) == len(steps)


def test_garbage_has_no_path(case):
    fixture, _, target, _ = case
    garbage = fixture.truth["objgraph_garbage"]
    addrs = garbage["garbage"] + garbage["small_garbage"] + garbage.get("weak_only", [])
    assert addrs
    for a in addrs:
        doc = target.run("paths", "--json", "%d" % a)
        assert_valid("paths", doc, "gomem paths --json %#x" % a)
        assert doc["object"]["reachable"] is False and doc["paths"] == [], doc
        w = target.run("whatis", "--json", "%d" % a)
        assert w["object"]["reachable"] is False and w["object"]["path"] is None


def test_whatis_shows_the_first_path(case):
    fixture, _, target, docs = case
    for p in fixture.truth["objgraph"]["probes"]:
        w = target.run("whatis", "--json", "%d" % p["addr"])
        assert_valid("whatis", w, "gomem whatis --json %#x" % p["addr"])
        assert w["object"]["path"] == docs[p["addr"]]["paths"][0], p["expr"]


def holder_g(fixture, core):
    """The runtime.g of the goroutine that holds the stack probe."""
    probe = next(p for p in fixture.truth["objgraph"]["probes"] if p["root"]["kind"] == "stack")
    goid = probe["root"]["goroutine"]
    st = run_cli("stacks", "--json", "--no-group", fixture.exe, core)
    assert st.returncode == 0, st.stderr
    gs = [g for g in json.loads(st.stdout)["goroutines"] if g["goid"] == goid]
    assert len(gs) == 1, goid
    return goid, gs[0]["g"]


def test_one_path_per_kind_of_root(case):
    """Goroutine N's G: its own stack holds it (runtime.chanrecv's gp, one object away) and so
    do the runtime's globals (allgs ...): a path from each kind, the shortest first, each kind
    once, every path from a different kind."""
    fixture, kind, target, _ = case
    goid, g = holder_g(fixture, fixture.cores[kind])
    doc = target.run("paths", "--json", "--limit", "6", "%d" % g)
    assert_valid("paths", doc, "gomem paths --json %#x" % g)
    kinds = [p["root"]["kind"] for p in doc["paths"]]
    assert len(kinds) == len(set(kinds)) and {"stack", "global"} <= set(kinds), kinds
    depths = [p["depth"] for p in doc["paths"]]
    assert depths[0] == min(depths), depths
    stack = next(p for p in doc["paths"] if p["root"]["kind"] == "stack")
    assert stack["root"]["goroutine"] == goid
    assert all(p["steps"][-1]["addr"] == g for p in doc["paths"])
    # --limit cuts the list, shortest first.
    one = target.run("paths", "--json", "--limit", "1", "%d" % g)
    assert one["paths"] == doc["paths"][:1]


def test_cli_text_and_json():
    """The CLI prints the library's JSON, and a text report that names the root and the
    steps."""
    f = OBJGRAPH[0]
    core = f.cores["kernel"]
    p = next(p for p in f.truth["objgraph"]["probes"] if p["expr"].endswith("[7]")
             and p["root"]["kind"] == "global")
    r = run_cli("paths", "--json", f.exe, core, "%#x" % p["addr"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    target = Target(f.exe, core)
    try:
        assert doc == target.run("paths", "--json", "%#x" % p["addr"])
    finally:
        target.close()
    r = run_cli("paths", f.exe, core, "%#x" % p["addr"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    first = doc["paths"][0]
    assert "path 1: from global %s, depth %d (the shortest)" % (
        p["root"]["name"], first["depth"]) in r.stdout
    for s in first["steps"]:
        assert "%#x" % s["addr"] in r.stdout
    assert "[7]" in r.stdout
    w = run_cli("whatis", f.exe, core, "%#x" % p["addr"])
    assert "  path     %s" % p["root"]["name"] in w.stdout, w.stdout


def test_errors_are_one_line():
    f = OBJGRAPH[0]
    core = f.cores["kernel"]
    assert_one_line_error(run_cli("paths", f.exe, core, "0x1000"), "not in the Go heap")
    assert_one_line_error(run_cli("paths", f.exe, core, "nowhere"), "ADDR must be a number")
    p = f.truth["objgraph"]["probes"][0]
    assert_one_line_error(run_cli("paths", "--limit", "0", f.exe, core, "%d" % p["addr"]),
                          "--limit")
    # A free slot: the first slot whatis calls free in a span with free slots.
    free = None
    for s in cli_json("spans", f.exe, core)["spans"]:
        if s["state"] != "in-use" or not s["free_slots"] or s["class"] == 0:
            continue
        for i in range(s["nelems"]):
            a = s["start"] + i * s["elemsize"]
            w = json.loads(run_cli("whatis", "--json", f.exe, core, "%d" % a).stdout)
            if w["object"] and not w["object"]["allocated"]:
                free = a
                break
        if free:
            break
    assert free, "no free slot found in %s" % core
    assert_one_line_error(run_cli("paths", f.exe, core, "%d" % free), "free slot")


def test_gdb_prints_what_the_cli_prints():
    """The GDB command is the same verb through the plugin (ADDR any expression)."""
    f = OBJGRAPH[0]
    core = f.cores["kernel"]
    p = f.truth["objgraph"]["probes"][0]
    _, out, err = run_gdb(f.exe, core, "gomem paths --json %#x" % p["addr"])
    assert "Traceback" not in err, err
    doc = json_from_gdb(out)
    r = run_cli("paths", "--json", f.exe, core, "%#x" % p["addr"])
    want = json.loads(r.stdout)
    assert doc["paths"] == want["paths"] and doc["object"] == want["object"]
    _, out, err = run_gdb(f.exe, core, "gomem paths %#x + 0" % p["addr"])
    assert "path 1: from global %s" % p["root"]["name"] in out, (out, err)


def test_live_process(tmp_path):
    """On a live process (stopped while gomem reads it, its graph and types built anew by each
    call): the stack probe's path starts at its goroutine's frame and local, the globals'
    probes' at their globals, with the truth's depths; whatis shows the same first path."""
    f = next(f for f in OBJGRAPH if f.name.startswith("objgraph-go1.26"))
    proc, truth = start_until_truth(f.exe, str(tmp_path), f.name)
    try:
        for p in truth["objgraph"]["probes"]:
            if p["root"]["kind"] not in ("stack", "global") or p["depth"] is None:
                continue
            r = run_cli("paths", "--json", "--pid", str(proc.pid), f.exe, "%d" % p["addr"])
            assert r.returncode == 0, r.stderr
            doc = json.loads(r.stdout)
            assert_valid("paths", doc, "gomem paths --json --pid of %s" % p["expr"])
            first = doc["paths"][0]
            assert first["root"]["kind"] == p["root"]["kind"]
            assert first["depth"] == p["depth"], (p["expr"], first)
            if p["root"]["kind"] == "stack":
                assert (first["root"]["goroutine"], first["root"]["local"]) == (
                    p["root"]["goroutine"], p["root"]["local"])
            else:
                assert first["root"]["name"] == p["root"]["name"]
            # whatis types the heap anew for a live process: its path, from its own graph.
            w = run_cli("whatis", "--json", "--pid", str(proc.pid), f.exe, "%d" % p["addr"])
            assert w.returncode == 0, w.stderr
            assert json.loads(w.stdout)["object"]["path"] == first, p["expr"]
    finally:
        proc.kill()
        proc.wait(timeout=30)
