"""`gomem diff`: what grew or shrank between two cores, or two saved summaries.

The classdiff fixture runs twice: with GOMEM_CLASSDIFF=A it keeps 2,000
objects of 3,200 bytes (size class 42), with B 2,500, and nothing else
differs by design. So the diff must report exactly 500 objects and
500 x 3,200 bytes more in class 42, and MemStats deltas equal to the
differences of the two truth.json files (the runtime itself allocates a
few objects of other classes at random moments, so those are checked
against the truths, not against zero).
"""

import json
import os
import subprocess

import pytest

from conftest import BUILD, EXACT_FIELDS, TOP, cli_json, json_from_gdb, run_cli, run_gdb, \
    system_go_fixtures, Fixture

CLASS, SIZE, EXTRA = 42, 3200, 500

FIXTURES = system_go_fixtures()


def make_classdiff(mode):
    """fixtures/mkcore.sh builds (or finds up to date) the classdiff cores of one mode."""
    out = os.path.join(BUILD, "classdiff", mode.lower())  # a and b: paths of one length
    env = dict(os.environ, GOMEM_CLASSDIFF=mode)
    r = subprocess.run([os.path.join(TOP, "fixtures", "mkcore.sh"), "-g", "system", "classdiff",
                        out], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return Fixture("classdiff-" + mode, os.path.join(out, "exe"),
                   {k: os.path.join(out, "core." + k) for k in ("kernel", "gcore")},
                   os.path.join(out, "truth.json"))


@pytest.fixture(scope="module")
def pair():
    a, b = make_classdiff("A"), make_classdiff("B")
    assert b.truth["HeapObjects"] > a.truth["HeapObjects"]
    return a, b


def diff_json(*args):
    r = run_cli("diff", "--json", *args)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    d = json.loads(r.stdout)
    assert d["schema"] == "gomem/diff/v1"
    return d


def truth_delta(a, b, field):
    return b.truth[field] - a.truth[field]


def assert_memstats_deltas_are_the_truths(d, a, b):
    for field in EXACT_FIELDS:
        m = d["memstats"][field]
        assert (m["a"], m["b"]) == (a.truth[field], b.truth[field]), field
        assert m["delta"] == truth_delta(a, b, field), field


def test_summary_classes_are_the_classes_verb_and_add_up_to_memstats():
    f = FIXTURES["heapmix"]
    s = cli_json("summary", f.exe, f.cores["kernel"])
    c = cli_json("classes", f.exe, f.cores["kernel"])
    small = {r["class"]: r for r in s["classes"] if r["class"]}
    assert small == {r["class"]: {k: r[k] for k in ("class", "object_size", "spans", "objects",
                                                    "object_bytes", "free_slots",
                                                    "free_slot_bytes", "tail_waste_bytes")}
                     for r in c["classes"]}
    large = [r for r in s["classes"] if r["class"] == 0]
    assert len(large) == 1 and large[0]["object_size"] == 0
    keys = ("spans", "objects", "object_bytes")
    assert {k: large[0][k] for k in keys} == {k: c["large"][k] for k in keys}
    assert sum(r["objects"] for r in s["classes"]) == f.truth["HeapObjects"]
    assert sum(r["object_bytes"] for r in s["classes"]) == f.truth["HeapAlloc"]
    assert sum(r["spans"] for r in s["classes"]) == s["heap"]["spans"]["in_use"]


def test_diff_of_two_cores_finds_the_class_that_grew(pair):
    a, b = pair
    d = diff_json(a.exe, a.cores["kernel"], b.cores["kernel"])
    assert d["a"]["core"] == a.cores["kernel"] and d["b"]["core"] == b.cores["kernel"]
    assert d["a"]["pid"] == a.truth["pid"] and d["b"]["pid"] == b.truth["pid"]
    top = d["classes"][0]  # largest change first
    assert top["class"] == CLASS and top["object_size"] == SIZE
    assert top["objects"]["delta"] == EXTRA
    assert top["object_bytes"]["delta"] == EXTRA * SIZE
    assert top["objects"]["a"] == 2000 and top["objects"]["b"] == 2000 + EXTRA
    # The classes together make up HeapObjects and HeapAlloc on each side.
    assert_memstats_deltas_are_the_truths(d, a, b)
    objects = sum(c["objects"]["delta"] for c in d["classes"])
    assert objects == truth_delta(a, b, "HeapObjects")
    assert sum(c["object_bytes"]["delta"] for c in d["classes"]) == truth_delta(a, b, "HeapAlloc")
    weights = [max(abs(c["object_bytes"]["delta"]),
                   abs(sum(c[k]["b"] - c[k]["a"] for k in ("object_bytes", "free_slot_bytes",
                                                           "tail_waste_bytes"))))
               for c in d["classes"]]
    assert weights == sorted(weights, reverse=True)


def test_diff_breakdown_nodes_largest_first_and_objects_node_is_heapalloc(pair):
    a, b = pair
    d = diff_json(a.exe, a.cores["kernel"], b.cores["kernel"])
    nodes = {tuple(n["path"]): n for n in d["breakdown"]}
    objects = nodes[("process", "Go heap", "in-use spans", "objects")]
    assert objects["vsz_bytes"]["delta"] == truth_delta(a, b, "HeapAlloc")
    in_use = nodes[("process", "Go heap", "in-use spans")]
    assert in_use["vsz_bytes"]["delta"] == truth_delta(a, b, "HeapInuse")
    assert nodes[("process",)]["vsz_bytes"]["delta"] == truth_delta(a, b, "VmSize")
    weights = [max(abs(n["vsz_bytes"]["delta"]), abs(n["rss_bytes"]["delta"]))
               for n in d["breakdown"]]
    assert weights == sorted(weights, reverse=True)
    for n in d["breakdown"]:
        assert n["name"] == n["path"][-1] and n["depth"] == len(n["path"]) - 1
        assert n["vsz_bytes"]["delta"] or n["rss_bytes"]["delta"]  # only what changed
    assert d["vsz_bytes"]["delta"] == truth_delta(a, b, "VmSize")


def test_diff_text_names_the_class_and_the_memstats(pair):
    a, b = pair
    r = run_cli("diff", a.exe, a.cores["kernel"], b.cores["kernel"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "A: %s (%s), kernel core %s, pid %d" % (
        a.exe, a.truth["go_version"], a.cores["kernel"], a.truth["pid"])
    row = [l for l in lines if l.split()[:2] == [str(CLASS), str(SIZE)]]
    assert row and row[0].split()[2:5] == ["2000", "2500", "+500"], row
    assert "+1.5 MiB" in row[0]  # 1,600,000 bytes
    heapalloc = [l for l in lines if l.split()[:1] == ["HeapAlloc"]]
    assert heapalloc[0].split() == ["HeapAlloc", str(a.truth["HeapAlloc"]), "->",
                                    str(b.truth["HeapAlloc"]),
                                    "+%d" % truth_delta(a, b, "HeapAlloc")]


def test_diff_of_saved_summaries_equals_diff_of_cores(pair, tmp_path):
    a, b = pair
    paths = []
    for f, name in ((a, "a.json"), (b, "b.json")):
        p = tmp_path / name
        r = run_cli("summary", "--json", f.exe, f.cores["kernel"])
        assert r.returncode == 0
        p.write_text(r.stdout)
        paths.append(str(p))
    saved = diff_json(*paths)
    cores = diff_json(a.exe, a.cores["kernel"], b.exe, b.cores["kernel"])
    assert saved == cores
    verb = diff_json(a.exe, a.cores["kernel"], b.cores["kernel"])
    # The verb reads B with A's executable; the executables are two builds of one program.
    assert saved["b"]["exe"] == b.exe and verb["b"]["exe"] == a.exe
    for k in ("vsz_bytes", "rss_bytes", "memstats", "heap", "breakdown", "classes"):
        assert saved[k] == verb[k], k
    assert saved["warnings"] == ["A and B are different executables (%s, %s)" % (a.exe, b.exe)]
    # One saved side and one core.
    mixed = diff_json(a.exe, a.cores["kernel"], paths[1])
    assert mixed["classes"] == verb["classes"]


def test_diff_of_a_core_with_itself_is_no_change(pair):
    a, _ = pair
    d = diff_json(a.exe, a.cores["kernel"], a.cores["kernel"])
    assert d["breakdown"] == [] and d["classes"] == []
    assert all(m["delta"] == 0 for m in d["memstats"].values())
    r = run_cli("diff", a.exe, a.cores["kernel"], a.cores["kernel"])
    assert "  nothing: the breakdowns are the same\n" in r.stdout
    assert "MemStats: no change\n" in r.stdout


def test_diff_kernel_core_against_gcore_is_only_vvar(pair):
    """gcore saves neither [vvar] nor residency: that is all that differs."""
    a, _ = pair
    d = diff_json(a.exe, a.cores["kernel"], a.cores["gcore"])
    assert [n["path"] for n in d["breakdown"]] == [["process"], ["process", "kernel"],
                                                  ["process", "kernel", "vvar"]]
    assert d["rss_bytes"]["b"] is None and d["rss_bytes"]["delta"] is None
    assert d["classes"] == []


def test_diff_of_two_programs_gives_the_truth_deltas(tmp_path):
    heapmix, hello = FIXTURES["heapmix"], FIXTURES["hello"]
    d = diff_json(heapmix.exe, heapmix.cores["kernel"], hello.exe, hello.cores["kernel"])
    assert_memstats_deltas_are_the_truths(d, heapmix, hello)
    assert d["vsz_bytes"]["delta"] == truth_delta(heapmix, hello, "VmSize")
    assert sum(c["objects"]["delta"] for c in d["classes"]) == \
        truth_delta(heapmix, hello, "HeapObjects")


def test_gdb_diff_compares_the_loaded_core_with_another(pair):
    a, b = pair
    rc, out, err = run_gdb(a.exe, a.cores["kernel"], "gomem diff --json " + b.cores["kernel"])
    assert "Traceback" not in err, err
    assert json_from_gdb(out) == diff_json(a.exe, a.cores["kernel"], b.cores["kernel"])
    rc, out, err = run_gdb(a.exe, a.cores["kernel"], "gomem diff " + b.cores["kernel"])
    assert "     %d   %d       2000       2500       +500" % (CLASS, SIZE) in out, out


@pytest.mark.parametrize("content,words", [
    ('{"schema": "gomem/mappings/v1"}', "is not a gomem summary"),
    ('{"schema": "gomem/summary/v1", "memstats": {}', "is not valid JSON"),
    ('{"schema": "gomem/summary/v1"}', "a gomem summary without memstats"),
    ('{"a": "\\ud800"}', "bad escape"),
    ('{"a": ' * 100 + "1" + "}" * 100, "nested too deep"),
    ("[" * 100 + "]" * 100, None),  # starts with '[': not a saved summary at all
])
def test_diff_of_bad_saved_summaries_is_one_error_line(tmp_path, content, words):
    good = tmp_path / "good.json"
    f = FIXTURES["heapmix"]
    good.write_text(run_cli("summary", "--json", f.exe, f.cores["kernel"]).stdout)
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    r = run_cli("diff", str(good), str(bad))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("gomem: "), r.stderr
    assert (words or "expected EXE CORE_A CORE_B") in r.stderr


def test_diff_with_a_missing_core_is_one_error_line(pair):
    a, _ = pair
    r = run_cli("diff", a.exe, a.cores["kernel"], "/nonexistent/core")
    assert r.returncode == 2 and r.stdout == ""
    assert "/nonexistent/core" in r.stderr and len(r.stderr.splitlines()) == 1


def test_diff_with_a_fifo_is_one_error_line_not_a_hang(pair, tmp_path):
    """A FIFO never ends (or never opens): it is refused before any read."""
    a, _ = pair
    fifo = str(tmp_path / "fifo")
    os.mkfifo(fifo)
    good = tmp_path / "good.json"
    good.write_text(run_cli("summary", "--json", a.exe, a.cores["kernel"]).stdout)
    for argv in ([str(good), fifo], [fifo, str(good)], [a.exe, a.cores["kernel"], fifo]):
        r = run_cli("diff", *argv)  # run_cli's timeout fails the test on a hang
        assert r.returncode == 2 and r.stdout == "", (argv, r.stderr)
        assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("gomem: "), r.stderr


# ---- by type (--types) ----

def types_of(fixture, kind):
    """`gomem types --json --limit 0` of a core: type -> its four numbers, (unknown) too."""
    doc = json.loads(run_cli("types", "--json", "--limit", "0", fixture.exe,
                             fixture.cores[kind]).stdout)
    keys = ("reachable_objects", "reachable_bytes", "unreachable_objects", "unreachable_bytes")
    out = {}
    for r in doc["types"] + [dict(doc["unknown"], type="(unknown)")]:
        prev = out.get(r["type"], (0, 0, 0, 0))
        out[r["type"]] = tuple(p + r[k] for p, k in zip(prev, keys))
    return out


def assert_types_are_the_difference(d, ta, tb):
    """Each type's row = the two `gomem types` reports; every type that changed is there."""
    names = ("objects", "bytes", "unreachable_objects", "unreachable_bytes")
    rows = {r["type"]: r for r in d["types"]}
    assert len(rows) == len(d["types"])
    want = {}
    for name in set(ta) | set(tb):
        a, b = ta.get(name, (0, 0, 0, 0)), tb.get(name, (0, 0, 0, 0))
        if a != b:
            want[name] = (a, b)
    assert set(rows) == set(want), (set(rows) ^ set(want))
    for name, (a, b) in want.items():
        for i, k in enumerate(names):
            assert rows[name][k] == {"a": a[i], "b": b[i], "delta": b[i] - a[i]}, (name, k)
    keys = [(abs(r["bytes"]["delta"]), abs(r["unreachable_bytes"]["delta"]),
             abs(r["objects"]["delta"])) for r in d["types"]]
    assert keys == sorted(keys, reverse=True)


def test_diff_by_type_is_the_difference_of_the_types_of_each_core(pair):
    """classdiff B keeps 500 more []byte of 3,200 bytes: they are uint8 arrays (types names
    an array by its element type), so uint8 leads with +500 x 3,200 bytes of the change, and
    every type's change is what `gomem types` says of each core."""
    from test_schemas import assert_valid
    a, b = pair
    d = diff_json("--types", "--limit", "0", a.exe, a.cores["kernel"], b.cores["kernel"])
    assert_valid("diff", d, "diff --types")
    assert d["types_not_shown"] == 0
    ta, tb = types_of(a, "kernel"), types_of(b, "kernel")
    assert_types_are_the_difference(d, ta, tb)
    top = d["types"][0]
    assert top["type"] == "uint8"
    # Other uint8 arrays of the runtime may come and go between two runs: the 500 are the
    # bulk of the change, exactly as the two types reports say (above).
    assert top["bytes"]["delta"] >= EXTRA * SIZE - 4096
    assert abs(top["objects"]["delta"] - EXTRA) <= 4


def test_diff_by_type_of_kernel_core_and_gcore_of_one_objgraph_process(tmp_path):
    """gcore first, then the kernel core: the same process, so the types that changed (if any)
    are exactly what `gomem types` of each finds."""
    from conftest import built_fixtures
    objgraph = [f for f in built_fixtures() if f.truth.get("program") == "objgraph"]
    assert objgraph, "no build/fixtures/objgraph-*: run ./setup fixtures"
    f = objgraph[-1]
    d = diff_json("--types", "--limit", "0", f.exe, f.cores["kernel"], f.cores["gcore"])
    assert_types_are_the_difference(d, types_of(f, "kernel"), types_of(f, "gcore"))


def test_diff_types_limit_and_text(pair):
    a, b = pair
    d = diff_json("--types", "--limit", "1", a.exe, a.cores["kernel"], b.cores["kernel"])
    full = diff_json("--types", "--limit", "0", a.exe, a.cores["kernel"], b.cores["kernel"])
    assert d["types"] == full["types"][:1]
    assert d["types_not_shown"] == len(full["types"]) - 1
    plain = diff_json(a.exe, a.cores["kernel"], b.cores["kernel"])
    assert plain["types"] is None
    r = run_cli("diff", "--types", a.exe, a.cores["kernel"], b.cores["kernel"])
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    i = lines.index("types, largest change first (B - A; reachable objects and bytes, then "
                    "garbage):")
    top = full["types"][0]
    row = lines[i + 2].split()
    assert row[:3] == [str(top["objects"]["a"]), str(top["objects"]["b"]),
                       "%+d" % top["objects"]["delta"]] and row[-1] == "uint8", row
    assert "+1.5 MiB" in lines[i + 2]


def test_diff_types_of_a_saved_summary_is_one_error_line(pair, tmp_path):
    a, b = pair
    saved = tmp_path / "b.json"
    saved.write_text(run_cli("summary", "--json", b.exe, b.cores["kernel"]).stdout)
    r = run_cli("diff", "--types", a.exe, a.cores["kernel"], str(saved))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and "carries no types" in r.stderr, r.stderr
    r = run_cli("diff", "--limit", "3", a.exe, a.cores["kernel"], b.cores["kernel"])
    assert r.returncode == 2 and "--limit is for --types" in r.stderr, r.stderr
