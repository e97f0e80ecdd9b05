"""gomem top: retained sizes from the dominator tree, against the objgraph fixture's truth on
every line of the Go matrix (1.19-1.27, the experiments that change the heap's layout, PIE)
and both core kinds.

What is exact here, and why (fixtures/README.md, "The objgraph truth"): each program type's
size is a size class, so its objects fill their slots and a retained size is a count times
the truth's slot_size, exactly:
- main.aloneRoot alone holds its 64-node list: it retains 64 x 256 bytes and nothing else;
- main.sharedA and main.sharedB point to one list: each retains nothing, and the list's head
  retains the whole list (no single root does: the pseudo-root dominates it);
- main.listHead retains its 1000 x 32 bytes; main.bigOne its large object and 320 elements;
  main.hook its closure object and the value it captured; goroutine 18's main.holder its
  local x's tree of 127 x 48 bytes (the truth's `retained`);
- the roots' and the shared objects' retained bytes add up to the reachable bytes, which
  marking counts independently (gomem objects).
"""

import json

import pytest

from conftest import built_fixtures, cli_json, json_from_gdb, run_cli, run_gdb

ALL = built_fixtures()
OBJGRAPH = [f for f in ALL if f.truth.get("program") == "objgraph"]
CASES = [(f, kind) for f in OBJGRAPH for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]
LIMIT = "100000"  # every root and object of the small fixture


def test_objgraph_fixtures_exist():
    """Without the objgraph cores (./setup test builds them) nothing here would run."""
    assert OBJGRAPH, "no objgraph fixture under build/fixtures: run ./setup test"


def top(verb_args, fixture, kind):
    r = run_cli("top", "--json", *verb_args, fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, "gomem top failed (%d): %s" % (r.returncode, r.stderr)
    assert r.stderr == ""
    return json.loads(r.stdout)


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    by_root = top(["--by", "root", "--limit", LIMIT], fixture, kind)
    by_object = top(["--by", "object", "--limit", LIMIT], fixture, kind)
    return fixture, kind, by_root, by_object


def slot(fixture, type_name):
    return next(t for t in fixture.truth["objgraph"]["types"]
                if t["type"] == type_name)["slot_size"]


def root_entry(doc, name):
    found = [e for e in doc["entries"] if e["name"] == name]
    assert len(found) == 1, "root %s: %s" % (name, found)
    return found[0]


def test_alone_root_retains_its_list_exactly(case):
    fixture, _, doc, _ = case
    e = root_entry(doc, "main.aloneRoot")
    assert e["kind"] == "global"
    assert slot(fixture, "main.aloneNode") == 256
    assert (e["retained_objects"], e["retained_bytes"]) == (64, 64 * 256)


def test_shared_roots_retain_nothing_of_what_they_share(case):
    fixture, _, doc, by_object = case
    for name in ("main.sharedA", "main.sharedB"):
        e = root_entry(doc, name)
        assert (e["retained_objects"], e["retained_bytes"]) == (0, 0), e
    # The list's head is dominated by no root (dominator "roots") and retains all 50 nodes.
    want = next(r for r in fixture.truth["objgraph"]["retained"] if "object" in r)
    head = [e for e in by_object["entries"] if e["addr"] == want["object"]]
    assert len(head) == 1, "the shared list's head 0x%x is not an entry" % want["object"]
    head = head[0]
    assert head["dominator"] == "roots" and head["dominator_addr"] is None
    assert head["type"] == "main.sharedNode"  # typed by gomem types on every line
    assert head["root"]["name"] in ("main.sharedA", "main.sharedB")
    assert (head["retained_objects"], head["retained_bytes"]) == (
        want["objects"], want["bytes"]) == (50, 50 * slot(fixture, "main.sharedNode"))


def test_by_object_gives_the_first_path_of_the_20_largest(case):
    """--by object: each of the 20 largest retainers has its first path from the roots (as
    gomem paths gives it first), ending at the object; a row that one global alone holds has
    a path from that global (every path to it goes through it); later rows have none."""
    _, _, _, by_object = case
    entries = by_object["entries"]
    assert len(entries) > 20
    held_by_global = 0
    for e in entries[:20]:
        p = e["path"]
        assert p is not None, e
        assert p["steps"][-1]["addr"] == e["addr"] and p["depth"] == len(p["steps"])
        if e["dominator"] == "root" and e["root"]["kind"] == "global":
            assert p["root"]["kind"] == "global" and p["root"]["name"] == e["root"]["name"]
            held_by_global += 1
    assert held_by_global > 0
    assert all(e["path"] is None for e in entries[20:])


def test_list_head_retains_its_1000_nodes(case):
    fixture, _, doc, _ = case
    e = root_entry(doc, "main.listHead")
    assert (e["retained_objects"], e["retained_bytes"]) == (1000, 1000 * 32)
    assert slot(fixture, "main.listNode") == 32


def test_every_root_of_the_truth_retains_what_it_says(case):
    """The truth's `retained` rows of globals and of the holder's stack: main.listHead,
    main.hook (closure and captured value), main.bigOne (large object and its elements),
    main.sharedA/B (nothing), main.aloneRoot, goroutine N main.holder (its local's tree;
    gomem's vertex is the goroutine, whose only heap objects are that tree)."""
    fixture, _, doc, _ = case
    checked = 0
    for want in fixture.truth["objgraph"]["retained"]:
        root = want.get("root")
        if not root:
            continue
        if root["kind"] == "global":
            e = root_entry(doc, root["name"])
        else:
            assert root["kind"] == "stack"
            e = [x for x in doc["entries"] if x["kind"] == "stack" and
                 x["goroutine"] == root["goroutine"]]
            assert len(e) == 1, e
            e = e[0]
            assert e["function"] == root["function"]
            assert e["name"] == "goroutine %d %s" % (root["goroutine"], root["function"])
        assert (e["retained_objects"], e["retained_bytes"]) == (
            want["objects"], want["bytes"]), (root, e)
        checked += 1
    assert checked >= 7


def test_retained_bytes_add_up_to_reachable_bytes(case):
    """What the roots retain, plus what several roots share, is every reachable object once;
    marking counts the reachable objects independently (gomem objects)."""
    fixture, kind, doc, by_object = case
    objects = cli_json("objects", fixture.exe, fixture.cores[kind])
    reach = objects["reachable"]
    assert doc["reachable"] == reach
    roots = [e for e in doc["entries"] if e["kind"] is not None]
    assert len(roots) == doc["roots"]
    assert sum(e["retained_bytes"] for e in roots) + doc["shared"]["bytes"] == reach["bytes"]
    assert sum(e["retained_objects"] for e in roots) + doc["shared"]["objects"] == \
        reach["objects"]
    # The children of the pseudo-root that are objects: the shared ones, each once.
    shared = [e for e in by_object["entries"] if e["dominator"] == "roots"]
    assert sum(e["retained_bytes"] for e in shared) == doc["shared"]["bytes"]
    # First reached: every reachable object under exactly one root.
    assert sum(e["objects"] for e in roots) == reach["objects"]
    assert sum(e["bytes"] for e in roots) == reach["bytes"]
    assert all(c["ok"] for c in doc["checks"]), doc["checks"]
    assert by_object["shared"] == doc["shared"]


def test_entries_are_largest_first_and_limited(case):
    fixture, kind, doc, by_object = case
    for d in (doc, by_object):
        r = [e["retained_bytes"] for e in d["entries"]]
        assert r == sorted(r, reverse=True)
    # Every reachable object is an entry of --by object with a large enough limit.
    assert len(by_object["entries"]) == doc["reachable"]["objects"]
    assert all(e["retained_bytes"] >= e["bytes"] > 0 for e in by_object["entries"])
    small = top(["--by", "object", "--limit", "3"], fixture, kind)
    assert small["entries"] == by_object["entries"][:3]
    small = top(["--limit", "2"], fixture, kind)
    assert small["entries"] == doc["entries"][:2]


def test_text_lists_the_roots_with_human_sizes():
    f = OBJGRAPH[0]
    r = run_cli("top", "--limit", "5", f.exe, f.cores["kernel"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("retained sizes (dominator tree): ")
    assert "main.bigOne" in r.stdout and "260.0 KiB" in r.stdout
    assert "... " in r.stdout and "more roots (--limit)" in r.stdout
    assert "  ok   reachable bytes = what the roots retain" in r.stdout
    r = run_cli("top", "--by", "object", "--limit", "5", f.exe, f.cores["kernel"])
    assert r.returncode == 0, r.stderr
    assert "FIRST ROOT" in r.stdout and "global main.bigOne" in r.stdout
    assert "      path  main.bigOne" in r.stdout


def test_bad_options_are_usage_errors():
    f = OBJGRAPH[0]
    r = run_cli("top", "--by", "colour", f.exe, f.cores["kernel"])
    assert r.returncode == 2 and "--by wants root, type or object" in r.stderr
    r = run_cli("top", "--limit", "-1", f.exe, f.cores["kernel"])
    assert r.returncode == 2 and "--limit" in r.stderr


def test_gdb_prints_what_the_cli_prints():
    """The GDB command is the same verb through the plugin: the same JSON, bytes for bytes
    apart from the paths GDB resolves."""
    f = OBJGRAPH[0]
    core = f.cores["kernel"]
    _, out, err = run_gdb(f.exe, core, "gomem top --by object --limit 5 --json")
    assert "Traceback" not in err
    doc = json_from_gdb(out)
    want = top(["--by", "object", "--limit", "5"], f, "kernel")
    assert doc["entries"] == want["entries"] and doc["checks"] == want["checks"]
    _, out, err = run_gdb(f.exe, core, "gomem top --by colour")
    assert "--by wants root, type or object" in err and "Traceback" not in err


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def by_type(request):
    fixture, kind = request.param
    return fixture, top(["--by", "type", "--limit", LIMIT], fixture, kind)


def test_types_retain_what_the_truth_says(by_type):
    """--by type: what the objects of a type that no other object of the type dominates
    retain = the truth's retained_bytes (each program type points only to its own type, or,
    main.largeObj, to its 320 elements). Exact for every type gomem types fully (its
    reachable count = the truth's); the types it cannot type on some versions (main.largeObj
    on 1.22-1.23, main.closureVal before 1.23: fixtures/README.md) are the only ones left
    out, and they are listed so, with main.stackOnly (only a goroutine's stack holds it: its
    frames' DWARF variables do not type it yet, tests/integration/test_types.py) and
    main.finalFnVal (closure-held, like main.closureVal)."""
    fixture, doc = by_type
    assert doc["by"] == "type"
    rows = {e["name"]: e for e in doc["entries"]}
    checked, untyped = [], []
    for t in fixture.truth["objgraph"]["types"]:
        if t["retained_bytes"] is None or t["tiny"]:
            continue
        e = rows.get(t["type"])
        if not e or e["objects"] != t["reachable"]:
            untyped.append(t["type"])
            continue
        assert e["retained_bytes"] == t["retained_bytes"], (t["type"], e)
        assert e["bytes"] == t["reachable_bytes"]
        checked.append(t["type"])
    assert set(untyped) <= {"main.largeObj", "main.largeElem", "main.closureVal",
                            "main.finalFnVal", "main.stackOnly"}, untyped
    assert len(checked) >= 12, checked  # 14 before 1.24 (no weak, cleanup types)
    # Every reachable object is under exactly one type row.
    assert sum(e["objects"] for e in doc["entries"]) == doc["reachable"]["objects"]
    assert sum(e["bytes"] for e in doc["entries"]) == doc["reachable"]["bytes"]
    r = [e["retained_bytes"] for e in doc["entries"]]
    assert r == sorted(r, reverse=True)
