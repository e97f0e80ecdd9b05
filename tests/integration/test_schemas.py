"""Every verb's JSON against its JSON Schema (schemas/VERB.schema.json).

On every fixture core (built by ./setup test and committed, kernel core and gcore), each verb's
--json output must validate: summary, mappings, arenas, spans, classes, stacks, whatis (on
addresses of every kind the core holds), diff (two cores, and two saved summaries) and each line
of batch; once more on a live process. The schemas must also reject documents that break them,
so that a validation that passes proves something.
"""

import copy
import ctypes
import json
import os
import subprocess

import jsonschema
import pytest

from conftest import (BUILD, TOP, arm64_fixtures, built_fixtures, cli_json,
                      committed_fixtures, is_server, run_cli, start_until_truth,
                      system_go_fixtures)

SCHEMAS = os.path.join(TOP, "schemas")
VERBS = ["summary", "mappings", "arenas", "spans", "classes", "stacks", "objects", "types", "top"]

BUILT = built_fixtures()
COMMITTED = committed_fixtures()
# With the arm64 fixtures (issue 15): their cores "kernel" (holes punched) and "qemu".
CASES = [(f, kind) for f in BUILT + COMMITTED + arm64_fixtures() for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]


# ---- the schemas, and a validator that resolves the references between them ----

def load_schemas():
    out = {}
    for name in sorted(os.listdir(SCHEMAS)):
        if name.endswith(".schema.json"):
            with open(os.path.join(SCHEMAS, name)) as f:
                out[name] = json.load(f)
    return out


SCHEMA_FILES = load_schemas()


def validator(verb):
    """A Draft 2020-12 validator of schemas/VERB.schema.json. A reference to another file
    ("summary.schema.json#/$defs/target") is resolved among the files of schemas/, with the
    `referencing` library (jsonschema 4.18 and later) or RefResolver (Debian 12's 4.10)."""
    schema = SCHEMA_FILES["%s.schema.json" % verb]
    cls = jsonschema.Draft202012Validator
    try:
        import referencing
        import referencing.jsonschema
    except ImportError:
        resolver = jsonschema.RefResolver("", schema, store=dict(SCHEMA_FILES))
        return cls(schema, resolver=resolver)
    registry = referencing.Registry().with_resources(
        (name, referencing.Resource(s, referencing.jsonschema.DRAFT202012))
        for name, s in SCHEMA_FILES.items())
    return cls(schema, registry=registry)


VALIDATORS = {}


def cli_doc(*args):
    """The JSON document that a successful `gomem ARGS...` prints."""
    r = run_cli(*args)
    assert r.returncode == 0 and r.stderr == "", "gomem %s failed (%d): %s" % (
        " ".join(args), r.returncode, r.stderr)
    return json.loads(r.stdout)


def errors(verb, doc):
    """Every way doc breaks schemas/VERB.schema.json, one line each."""
    if verb not in VALIDATORS:
        VALIDATORS[verb] = validator(verb)
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(top)", e.message)
            for e in VALIDATORS[verb].iter_errors(doc)]


def assert_valid(verb, doc, what):
    errs = errors(verb, doc)
    assert not errs, "%s does not match schemas/%s.schema.json:\n  %s" % (
        what, verb, "\n  ".join(errs[:20]))


# ---- the schemas themselves ----

def verbs_of_libcore():
    lib = ctypes.CDLL(os.path.join(BUILD, "libgomem.so"))
    lib.gomem_verbs_json.restype = ctypes.c_void_p
    lib.gomem_free.argtypes = [ctypes.c_void_p]
    p = lib.gomem_verbs_json()
    assert p
    try:
        return [v["name"] for v in json.loads(ctypes.string_at(p).decode())["verbs"]]
    finally:
        lib.gomem_free(p)


def test_every_verb_has_a_schema():
    names = verbs_of_libcore() + ["batch"]
    assert set(VERBS + ["whatis", "diff", "batch"]) <= set(names), names
    for verb in names:
        assert "%s.schema.json" % verb in SCHEMA_FILES, "schemas/%s.schema.json is missing" % verb


@pytest.mark.parametrize("name", sorted(SCHEMA_FILES))
def test_schema_is_a_valid_draft_2020_12_schema(name):
    schema = SCHEMA_FILES[name]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("additionalProperties", True) is not False
    # Open to added fields everywhere (DESIGN.md: fields may be added, none renamed).
    assert '"additionalProperties": false' not in json.dumps(schema), name


# ---- every verb on every fixture core ----

def test_fixture_cores_exist():
    """Both kinds of core of the fixture programs, and the committed cores, are there."""
    names = {f.name.split("-go")[0] for f in BUILT}
    assert {"heapmix", "hello", "threads"} <= names, (
        "build/fixtures lacks fixture cores (./setup fixtures builds them): %s" % sorted(names))
    assert all(sorted(f.cores) == ["gcore", "kernel"] for f in BUILT)
    assert COMMITTED, "no committed core in fixtures/demo"


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, fixture.cores[kind]


@pytest.mark.parametrize("verb", VERBS)
def test_verb_json_matches_its_schema(case, verb):
    fixture, _, core = case
    assert_valid(verb, cli_json(verb, fixture.exe, core), "gomem %s --json of %s" % (
        verb, core))


class Target:
    """A target opened once in libcore, for many whatis calls (a CLI run a call would
    cost a process and a fresh read of the core each)."""

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


def interesting_addresses(fixture, core):
    """Addresses of every kind the core holds, found from gomem's own lists: each mapping
    part (its first and last byte), each span state and kind, free runs, arena space never
    mapped, goroutine and g0 stacks, an M, the objects the program logged (live and freed),
    and addresses no mapping holds."""
    addrs = {0, 1, 2**64 - 1}
    for p in cli_json("mappings", fixture.exe, core)["mappings"]:
        addrs |= {p["start"], p["end"] - 1}
    seen = set()
    for s in cli_json("spans", fixture.exe, core)["spans"]:
        key = (s["state"], s.get("kind"), s.get("released"), s["class"] == 0)
        if key not in seen:
            seen.add(key)
            addrs |= {s["start"], s["start"] + s["bytes"] - 1}
    for a in cli_json("arenas", fixture.exe, core)["arenas"]:
        addrs |= {a["base"], a["end"] - 1}
    st = cli_json("stacks", fixture.exe, core)
    for g in st["goroutines"][:3] + st["goroutines"][-3:]:
        if g["stack_hi"] > g["stack_lo"]:
            addrs.add(g["stack_hi"] - 8)
    for t in st["threads"]:
        addrs.add(t["m_addr"])
        if t["g0_stack_hi"] > t["g0_stack_lo"]:
            addrs.add(t["g0_stack_hi"] - 8)
    for obj in fixture.truth["live_objects"] + fixture.truth["freed_objects"]:
        addrs |= {obj["addr"], obj["addr"] + 8}
    return sorted(addrs)


def test_whatis_json_matches_its_schema(case):
    fixture, _, core = case
    target = Target(fixture.exe, core)
    kinds = set()
    try:
        for addr in interesting_addresses(fixture, core):
            w = target.run("whatis", "--json", "%d" % addr)
            assert_valid("whatis", w, "gomem whatis --json %#x of %s" % (addr, core))
            kinds.add((w["owner"], w["span"] and w["span"]["state"],
                       w["stack"] and w["stack"]["kind"], w["object"] is not None,
                       w["symbol"] is not None))
        # The CLI prints what libcore returned.
        addr = fixture.truth["live_objects"][0]["addr"]
        assert cli_doc("whatis", "--json", fixture.exe, core, "%d" % addr) == \
            target.run("whatis", "--json", "%d" % addr)
    finally:
        target.close()
    # The addresses reached every section of the schema, each null and not null.
    assert {k[1] for k in kinds} >= {None, "in-use", "manual", "free"}, kinds
    assert {k[2] for k in kinds} >= {None, "goroutine", "g0"}, kinds
    assert {k[3] for k in kinds} == {True, False} and {k[4] for k in kinds} == {True, False}


def test_diff_json_matches_its_schema(case):
    fixture, kind, core = case
    other = fixture.cores["gcore" if kind == "kernel" and "gcore" in fixture.cores else kind]
    assert_valid("diff", cli_doc("diff", "--json", fixture.exe, core, other),
                 "gomem diff --json %s %s" % (core, other))


def test_diff_of_saved_summaries_matches_its_schema(tmp_path):
    """Two summaries of different programs and Go versions, one of them without its
    classes section (a summary saved by an older gomem): classes is then null."""
    (a, _), (b, kind) = CASES[0], CASES[-1]
    sa = cli_json("summary", a.exe, a.cores["kernel"])
    sb = cli_json("summary", b.exe, b.cores[kind])
    del sb["classes"]
    for name, s in (("a.json", sa), ("b.json", sb)):
        (tmp_path / name).write_text(json.dumps(s))
    r = run_cli("diff", "--json", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert d["classes"] is None and d["warnings"]
    assert_valid("diff", d, "gomem diff --json of two saved summaries")
    r = run_cli("diff", "--json", str(tmp_path / "b.json"), str(tmp_path / "a.json"))
    assert r.returncode == 0, r.stderr
    assert_valid("diff", json.loads(r.stdout), "gomem diff --json B A")


@pytest.mark.parametrize("fixture", BUILT + COMMITTED, ids=[f.name for f in BUILT + COMMITTED])
def test_batch_lines_match_their_schema(fixture):
    """Each core's summary line, and the error line of a file that is no core."""
    cores = [fixture.cores[k] for k in sorted(fixture.cores)]
    r = run_cli("batch", fixture.exe, *cores, fixture.exe)
    assert r.returncode == 1, r.stderr  # the executable given as a core is an error line
    lines = r.stdout.splitlines()
    assert len(lines) == len(cores) + 1
    for i, line in enumerate(lines):
        doc = json.loads(line)
        assert ("error" in doc) == (i == len(cores)), doc
        assert_valid("batch", doc, "line %d of gomem batch" % (i + 1))
        if "error" not in doc:
            assert_valid("summary", doc, "line %d of gomem batch" % (i + 1))


def test_live_process_json_matches_the_schemas(tmp_path):
    """Every verb of a live process: target.source "live", no core, residency from smaps."""
    fixture = system_go_fixtures().get("heapmix")
    assert fixture, "no heapmix fixture built with the machine's Go in build/fixtures"
    exe = str(tmp_path / "exe")
    subprocess.run(["cp", fixture.exe, exe], check=True)
    proc, truth = start_until_truth(exe, str(tmp_path), fixture.name)
    try:
        for verb in VERBS:
            r = run_cli(verb, "--json", "--pid", str(proc.pid))
            assert r.returncode == 0, r.stderr
            doc = json.loads(r.stdout)
            if verb in ("summary", "mappings"):
                t = doc["target"]
                assert t["source"] == "live" and t["core"] is None and t["core_kind"] is None
            assert_valid(verb, doc, "gomem %s --json --pid" % verb)
        for obj in truth["live_objects"][:3] + truth["freed_objects"][:2]:
            r = run_cli("whatis", "--json", "--pid", str(proc.pid), "%d" % obj["addr"])
            assert r.returncode == 0, r.stderr
            assert_valid("whatis", json.loads(r.stdout), "gomem whatis --json --pid")
    finally:
        proc.kill()
        proc.wait(timeout=30)


# ---- the schemas reject what breaks them ----

@pytest.fixture(scope="module")
def sample():
    """Real documents of a kernel core (the diff: against the program's other core), of a
    fixture program: whatis needs an object address it logged, which a server does not."""
    f = next(f for f, kind in CASES if kind == "kernel" and not is_server(f))
    core, other = f.cores["kernel"], f.cores.get("gcore", f.cores["kernel"])
    docs = {v: cli_json(v, f.exe, core) for v in VERBS}
    # Short lists are enough to break, and quick to validate.
    docs["spans"] = cli_doc("spans", "--json", "--limit", "40", f.exe, core)
    docs["stacks"] = cli_doc("stacks", "--json", "--limit", "10", f.exe, core)
    addr = f.truth["live_objects"][0]["addr"]
    docs["whatis"] = cli_doc("whatis", "--json", f.exe, core, "%d" % addr)
    docs["diff"] = cli_doc("diff", "--json", f.exe, core, other)
    return docs


def broken(doc, path, value=None, delete=False):
    d = copy.deepcopy(doc)
    node = d
    for key in path[:-1]:
        node = node[key]
    if delete:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return d


# (verb, document, path, new value or DELETE): each makes the document invalid.
DELETE = object()
BREAKAGES = [
    ("summary", "summary", ["memstats", "HeapAlloc"], DELETE),
    ("summary", "summary", ["memstats", "HeapAlloc"], -1),
    ("summary", "summary", ["memstats", "HeapAlloc"], "37104976"),
    ("summary", "summary", ["memstats", "HeapAlloc"], None),
    ("summary", "summary", ["schema"], "gomem/summary/v2"),
    ("summary", "summary", ["target", "exe"], None),
    ("summary", "summary", ["target", "source"], "remote"),
    ("summary", "summary", ["target", "core"], None),
    ("summary", "summary", ["vsz_bytes"], None),
    ("summary", "summary", ["breakdown", "children", 0, "children", 0, "vsz_bytes"], 1.5),
    ("summary", "summary", ["breakdown", "children", 0, "name"], DELETE),
    ("summary", "summary", ["checks", 0, "ok"], "true"),
    ("summary", "summary", ["heap", "spans", "in_use"], DELETE),
    ("summary", "summary", ["warnings"], "none"),
    ("summary", "summary", ["target", "core_kind"], "gcore"),  # a gcore's RSS is unknown
    ("mappings", "mappings", ["mappings", 0, "owner"], "heap"),
    ("mappings", "mappings", ["mappings", 0, "perms"], "rwx"),
    ("mappings", "mappings", ["mappings", 0, "perms"], "rwxq"),
    ("mappings", "mappings", ["rss_anon_bytes"], DELETE),
    ("summary", "summary", ["rss_file_bytes"], "0"),
    ("mappings", "mappings", ["by_owner", 0, "rss_bytes"], DELETE),
    ("arenas", "arenas", ["arenas", 0, "map"], "#?#"),
    ("arenas", "arenas", ["totals", "pages", "in_use"], DELETE),
    ("spans", "spans", ["spans", 0, "state"], "used"),
    ("spans", "spans", ["counts", "in-use"], DELETE),
    ("classes", "classes", ["classes", 0, "class"], 0),
    ("classes", "classes", ["large", "objects"], None),
    ("stacks", "stacks", ["goroutines", 0, "status"], "sleeping"),
    ("stacks", "stacks", ["goroutines", 0, "sp_source"], None),
    ("stacks", "stacks", ["threads", 0, "kind"], "c"),
    ("stacks", "stacks", ["totals", "StackInuse"], DELETE),
    ("whatis", "whatis", ["object", "allocated"], 1),
    ("whatis", "whatis", ["span", "class"], None),
    ("whatis", "whatis", ["owner"], "go-stack"),
    ("whatis", "whatis", ["stack"], DELETE),
    ("diff", "diff", ["vsz_bytes", "delta"], None),
    ("diff", "diff", ["memstats", "HeapAlloc"], 0),
    ("diff", "diff", ["breakdown"], None),
    ("batch", "summary", ["memstats"], DELETE),
]


@pytest.mark.parametrize("verb,doc,path,value", BREAKAGES,
                         ids=["%s:%s=%s" % (v, "/".join(map(str, p)), "DELETE" if x is DELETE
                                            else json.dumps(x))
                              for v, _, p, x in BREAKAGES])
def test_a_broken_document_is_rejected(sample, verb, doc, path, value):
    good = sample[doc]
    assert_valid(verb, good, "the unbroken %s document" % doc)
    bad = broken(good, path, delete=True) if value is DELETE else broken(good, path, value)
    assert errors(verb, bad), "schemas/%s.schema.json accepted %s = %r" % (verb, path, value)


def test_batch_error_line_needs_its_fields():
    assert not errors("batch", {"core": "c", "exe": "e", "error": "not a core file"})
    assert errors("batch", {"core": "c", "exe": "e"})
    assert errors("batch", {"core": "c", "exe": "e", "error": ""})


def test_added_fields_are_accepted(sample):
    """Fields may be added, none renamed: a field the schema does not know is fine."""
    for verb in VERBS + ["whatis", "diff"]:
        d = copy.deepcopy(sample[verb])
        d["added_by_a_later_gomem"] = {"x": [1, "two", None]}
        assert_valid(verb, d, "%s with an added field" % verb)
    s = broken(sample["summary"], ["memstats", "NumCgoCall"], 12)
    s["heap"]["new_counter"] = "text"
    assert_valid("summary", s, "a summary with added fields")


def test_paths_json_matches_its_schema(case):
    """gomem paths (issue 14) on the object that retains most and on one it retains: the
    document validates, with its paths and its roots' names; a broken one is rejected."""
    fixture, _, core = case
    top = cli_doc("top", "--json", "--by", "object", "--limit", "1", fixture.exe, core)
    assert top["entries"], "no reachable object in %s" % core
    doc = cli_doc("paths", "--json", fixture.exe, core, "%d" % top["entries"][0]["addr"])
    assert_valid("paths", doc, "gomem paths --json of %s" % core)
    assert doc["paths"], "the object that retains most has no path in %s" % core
    for path, value in ((["paths", 0, "depth"], 0), (["paths", 0, "root", "kind"], "heap"),
                        (["object", "reachable"], "yes")):
        assert errors("paths", broken(doc, path, value)), (path, value)
