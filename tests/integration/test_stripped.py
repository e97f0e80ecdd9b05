"""Stripped binaries (issue 16): programs built with -trimpath -ldflags="-s -w", or stripped
after the build, read three ways: gomem's layout tables, --layout-from an empty program of
the same Go and configuration, and --debug-file the unstripped twin.

./setup test builds them (fixtures/matrix.txt, "-s" lines) into build/fixtures-stripped/
PROG-goVERSION[-EXPERIMENT][-race][-pie]-sw|-strip: exe (the program that ran, no DWARF, no
symbols), exe.debug (its unstripped twin: a -trimpath rebuild without -s -w, or the file
before strip), empty (func main(){} of the same Go and configuration, with DWARF),
core.kernel and truth.json.

What needs DWARF or symbols, and so differs from the run with the debug file (README,
"Stripped binaries"): target.exe and target.debug_info; one warning that says where the
layouts came from; the name of the largest variable of .bss in a mapping's detail; the
names of variables in whatis.
"""

import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import (BUILD, EXACT_FIELDS, TOP, assert_one_line_error, json_from_gdb,
                      program_headers, run_cli, run_gdb)

STRIPPED = os.path.join(BUILD, "fixtures-stripped")
RECORD = os.path.join(BUILD, "tools", "gomem-layout-record")
VERBS = ["summary", "mappings", "arenas", "spans", "classes", "stacks"]


class Stripped:
    def __init__(self, name):
        d = os.path.join(STRIPPED, name)
        self.name = name
        self.exe = os.path.join(d, "exe")
        self.debug = os.path.join(d, "exe.debug")
        self.empty = os.path.join(d, "empty")
        self.core = os.path.join(d, "core.kernel")
        with open(os.path.join(d, "truth.json")) as f:
            self.truth = json.load(f)
        self.minor = int(re.match(r"go1\.(\d+)", self.truth["go_version"]).group(1))

    @property
    def debug_matches(self):
        """A -trimpath rebuild matches from Go 1.22; before, -s -w moves sections
        (STRIPPED.md). The file before strip always matches."""
        return self.name.endswith("-strip") or self.minor >= 22

    def __repr__(self):
        return self.name


def stripped_fixtures():
    if not os.path.isdir(STRIPPED):
        return []
    return [Stripped(n) for n in sorted(os.listdir(STRIPPED))
            if os.path.isfile(os.path.join(STRIPPED, n, "truth.json"))]


FIXTURES = stripped_fixtures()


def test_the_stripped_fixtures_were_built():
    """A missing fixture fails and says why: the matrix has "-s" lines for every Go."""
    with open(os.path.join(TOP, "fixtures", "matrix.txt")) as f:
        wanted = sum(1 for line in f if re.match(r"^[a-z]+\s.*\s-s\s", line))
    assert len(FIXTURES) == wanted, (
        "build/fixtures-stripped has %d fixtures, fixtures/matrix.txt wants %d: run "
        "./setup fixtures" % (len(FIXTURES), wanted))


def gomem_json(verb, fx, *options, operands=()):
    r = run_cli(verb, "--json", *options, fx.exe, fx.core, *operands)
    assert r.returncode in (0, 1), "gomem %s %s failed (%d): %s" % (verb, fx, r.returncode,
                                                                   r.stderr)
    return json.loads(r.stdout)


WAYS = {
    "tables": lambda fx: (),
    "layout-from": lambda fx: ("--layout-from", fx.empty),
    "debug-file": lambda fx: ("--debug-file", fx.debug),
}


# A rebuild by an old Go is no debug file of its stripped twin: those pairs are left out
# here and test_old_go_rebuild_is_refused_as_debug_file checks that they are refused.
@pytest.mark.parametrize("fx,way", [(fx, way) for fx in FIXTURES for way in sorted(WAYS)
                                    if way != "debug-file" or fx.debug_matches],
                         ids=lambda x: str(x))
def test_memstats_exact_without_dwarf(fx, way):
    s = gomem_json("summary", fx, *WAYS[way](fx))
    for field in EXACT_FIELDS:
        assert s["memstats"][field] == fx.truth[field], (fx, way, field)
    assert all(c["ok"] for c in s["checks"]), [c for c in s["checks"] if not c["ok"]]
    source = {"tables": "table", "layout-from": "layout_from", "debug-file": "debug_file"}
    assert s["target"]["debug_info"]["source"] == source[way]
    said = [w for w in s["warnings"] if "no DWARF" in w]
    assert len(said) == (0 if way == "debug-file" else 1), s["warnings"]


@pytest.mark.parametrize("fx", [f for f in FIXTURES if not f.debug_matches], ids=str)
def test_old_go_rebuild_is_refused_as_debug_file(fx):
    assert_one_line_error(run_cli("summary", "--debug-file", fx.debug, fx.exe, fx.core),
                          "does not match", "section", "Go 1.21 and older")


def normalized(obj, verb):
    """A report less what needs DWARF or symbols (the module's docstring)."""
    obj = json.loads(json.dumps(obj))
    if "target" in obj:
        obj["target"].pop("exe", None)
        obj["target"].pop("debug_info", None)
    if "warnings" in obj:
        obj["warnings"] = [w for w in obj["warnings"]
                           if "no DWARF" not in w and "without DWARF" not in w]
    for m in obj.get("mappings", []):
        m["detail"] = re.sub(r"; largest: [^[]*?(?= \[)", "", m.get("detail") or "")
    return obj


def addresses(fx):
    """Addresses for whatis: the logged objects, freed ones, a function and the heap's start."""
    objs = fx.truth["live_objects"][:4] + fx.truth["freed_objects"][:2]
    return ["0x%x" % o["addr"] for o in objs]


def reference(fx, verb, *operands):
    """The run with DWARF: the debug file when it matches, else --layout-from (old Go)."""
    way = "debug-file" if fx.debug_matches else "layout-from"
    return gomem_json(verb, fx, *WAYS[way](fx), operands=operands)


@pytest.mark.parametrize("verb", VERBS)
@pytest.mark.parametrize("fx", FIXTURES, ids=str)
def test_every_verb_equals_the_run_with_dwarf(fx, verb):
    want = normalized(reference(fx, verb), verb)
    for way in ("tables", "layout-from"):
        got = normalized(gomem_json(verb, fx, *WAYS[way](fx)), verb)
        if verb == "stacks":
            got, want_here = without_unknown_wait_reasons(got, want)
        else:
            want_here = want
        assert got == want_here, (fx, verb, way)


def without_unknown_wait_reasons(got, want):
    """runtime.waitReasonStrings is found by its symbol: a binary without DWARF and .symtab
    has no wait reasons, and says so in a warning. Then the goroutines are compared without
    them (and without the groups, whose key they are part of); otherwise exactly."""
    said = [w for w in got["warnings"] if w.startswith("wait reasons unknown")]
    if not said:
        return got, want
    assert all(g["wait_reason"] is None for g in got["goroutines"]), got["goroutines"]
    got, want = json.loads(json.dumps(got)), json.loads(json.dumps(want))
    for doc in (got, want):
        doc["warnings"] = [w for w in doc["warnings"] if w not in said]
        doc.pop("groups", None)
        for g in doc["goroutines"]:
            g.pop("wait_reason", None)
    return got, want


@pytest.mark.parametrize("fx", FIXTURES, ids=str)
def test_whatis_and_diff_equal_the_run_with_dwarf(fx):
    for addr in addresses(fx):
        want = normalized(reference(fx, "whatis", addr), "whatis")
        got = normalized(gomem_json("whatis", fx, operands=[addr]), "whatis")
        # An object's type: without DWARF only what the runtime's own descriptors say (a
        # malloc header, largeType, interface words); the types propagated from DWARF-typed
        # globals are unknown there. Never another type than the run with DWARF gives.
        types = [x.get("object", {}).pop("type", None) for x in (want, got)]
        assert types[1] in (None, types[0]), (fx, addr, types)
        # The first path (issue 14): the same objects from the same root word; its names
        # (types, fields, a global's symbol) only where the binary keeps them.
        paths = [x.get("object", {}).pop("path", None) for x in (want, got)]
        assert (paths[0] is None) == (paths[1] is None), (fx, addr, paths)
        if paths[0]:
            assert [s["addr"] for s in paths[1]["steps"]] == \
                [s["addr"] for s in paths[0]["steps"]], (fx, addr, paths)
            assert all(b["type"] in ("unknown", a["type"])
                       for a, b in zip(paths[0]["steps"], paths[1]["steps"])), (fx, addr)
            assert (paths[1]["root"]["kind"], paths[1]["root"]["word"]) == \
                (paths[0]["root"]["kind"], paths[0]["root"]["word"]), (fx, addr, paths)
        assert got == want, (fx, addr)
    want = normalized(reference(fx, "diff", fx.core), "diff")
    got = normalized(gomem_json("diff", fx, operands=[fx.core]), "diff")
    assert got == want


@pytest.mark.parametrize("fx", FIXTURES, ids=str)
def test_function_names_come_from_gopclntab(fx):
    """whatis names a function of a binary without symbols, and the goroutines are told
    apart from the runtime's by their start functions (no 'cannot be read' warning)."""
    r = run_cli("whatis", fx.exe, fx.core, "0x%x" % (entry_of(fx.debug, "runtime.main") +
                                                       load_bias(fx)))
    assert r.returncode == 0, r.stderr
    assert "function runtime.main+0" in r.stdout
    st = gomem_json("stacks", fx)
    assert not [w for w in st["warnings"] if "gopclntab" in w], st["warnings"]


def load_bias(fx):
    """Where a PIE was loaded: its lowest mapping of the executable, less its first PT_LOAD."""
    _, phdrs = program_headers(fx.exe)
    first = min(p[3] for p in phdrs if p[0] == 1) & ~0xfff
    maps = gomem_json("mappings", fx)["mappings"]
    return min(m["start"] for m in maps if m["owner"] == "binary") - first


def entry_of(path, symbol):
    out = subprocess.run(["nm", path], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == symbol:
            return int(parts[0], 16)
    raise AssertionError("%s: no symbol %s" % (path, symbol))


@pytest.mark.parametrize("fx", FIXTURES, ids=str)
def test_globals_found_in_code_are_the_twins_symbols(fx):
    """The code patterns against the unstripped twin's DWARF and symbol table: 0 wrong,
    and every global the rules look for found."""
    r = subprocess.run([RECORD, "--globals", fx.debug], capture_output=True, text=True)
    assert r.returncode == 0 and " 0 wrong, 0 not found" in r.stdout, r.stdout + r.stderr
    found = dict(re.findall(r"^(runtime\.\S+)\s+ok\s+0x([0-9a-f]+)", r.stdout, re.M))
    out = subprocess.run(["nm", fx.debug], capture_output=True, text=True, check=True).stdout
    symbols = {p[2]: p[0].lstrip("0") for p in (l.split() for l in out.splitlines())
               if len(p) == 3}
    for name, addr in found.items():
        assert symbols[name] == addr, (name, addr, symbols.get(name))


# -gcflags=all=-N -l: the runtime's atomics are calls; the rules still find every global.
NL_DIR = os.path.join(STRIPPED, "..", "patterns")


@pytest.mark.parametrize("minor", sorted({f.minor for f in FIXTURES}))
def test_globals_found_in_code_of_unoptimized_builds(minor):
    go = subprocess.run([os.path.join(TOP, "fixtures", "toolchain.sh"), "1.%d" % minor],
                        capture_output=True, text=True, check=True).stdout.strip()
    out = os.path.join(NL_DIR, "heapmix-go1.%d-nl" % minor)
    src = os.path.join(TOP, "fixtures", "heapmix", "main.go")
    if not os.path.exists(out) or os.path.getmtime(out) < os.path.getmtime(src):
        os.makedirs(NL_DIR, exist_ok=True)
        env = dict(os.environ, CGO_ENABLED="0", GOTOOLCHAIN="local", GOWORK="off")
        env.pop("GOFLAGS", None)
        subprocess.run([go, "build", "-gcflags=all=-N -l", "-o", out, "./heapmix"],
                       cwd=os.path.join(TOP, "fixtures"), env=env, check=True)
    r = subprocess.run([RECORD, "--globals", out], capture_output=True, text=True)
    assert r.returncode == 0 and " 0 wrong, 0 not found" in r.stdout, r.stdout + r.stderr


def globals_of_stripped_code(fx):
    """The rules run on the stripped program's own code (exe), each address checked against
    the DWARF of its unstripped twin (exe.debug): {name: (verdict, found, dwarf)}."""
    r = subprocess.run([RECORD, "--globals", fx.debug, fx.exe], capture_output=True, text=True)
    assert r.returncode == 0 and " 0 wrong, 0 not found" in r.stdout, r.stdout + r.stderr
    return {m[0]: (m[1], int(m[2], 16), int(m[3], 16)) for m in re.findall(
        r"^(runtime\.\S+)\s+(ok|WRONG|not found)\s+0x([0-9a-f]+) \(DWARF 0x([0-9a-f]+)\)",
        r.stdout, re.M)}


@pytest.mark.parametrize("fx", FIXTURES, ids=str)
def test_queue_roots_found_in_the_stripped_code_are_the_twins(fx):
    """runtime.allfin (every Go) and runtime.gcCleanups (Go 1.25+), the roots of the
    finalizer and cleanup queues, found in the code of the program without DWARF: exactly
    the twin's DWARF address and symbol; gcCleanups never asked before 1.25."""
    found = globals_of_stripped_code(fx)
    want = ["runtime.allfin"] + (["runtime.gcCleanups"] if fx.minor >= 25 else [])
    assert sorted(n for n in found if n in ("runtime.allfin", "runtime.gcCleanups")) == \
        sorted(want), found
    out = subprocess.run(["nm", fx.debug], capture_output=True, text=True, check=True).stdout
    symbols = {p[2]: int(p[0], 16) for p in (l.split() for l in out.splitlines())
               if len(p) == 3}
    for name in want:
        verdict, addr, dwarf = found[name]
        assert verdict == "ok" and addr == dwarf == symbols[name], (name, found[name])


GRAPH_FIXTURES = [f for f in FIXTURES if f.name.startswith(("objgraph-", "queues-"))]


def test_the_stripped_graph_fixtures_were_built():
    """The matrix's stripped objgraph and queues lines, each one built: none left out of
    test_stripped_object_graph_equals_the_twins."""
    with open(os.path.join(TOP, "fixtures", "matrix.txt")) as f:
        wanted = sum(1 for line in f if re.match(r"^(objgraph|queues)\s.*\s-s\s", line))
    assert wanted >= 4 and len(GRAPH_FIXTURES) == wanted, (
        "build/fixtures-stripped has %d objgraph and queues fixtures, fixtures/matrix.txt "
        "wants %d: run ./setup fixtures" % (len(GRAPH_FIXTURES), wanted))
    assert {f.minor for f in GRAPH_FIXTURES if f.name.startswith("queues-")} & \
        set(range(25, 100)), "no stripped queues fixture with a cleanup queue (Go 1.25+)"


QUEUE_WARNINGS = ("runtime.allfin", "runtime.gcCleanups")


def root_objects(objects, kind):
    return sum(r["objects"] for r in objects["roots"] if r["kind"] == kind)


@pytest.mark.parametrize("fx", GRAPH_FIXTURES, ids=str)
def test_stripped_object_graph_equals_the_twins(fx):
    """gomem objects and types of a stripped program, with the tables and with
    --layout-from: the reachable (and unreachable) objects and bytes, by root kind, equal
    the run with the twin's DWARF, and no warning says a queue is not a root. queues holds
    objects that only its finalizer queue (and from Go 1.25 its cleanup queue) reaches:
    without those roots they would be unreachable."""
    want_o = gomem_json("objects", fx, "--debug-file", fx.debug)
    want_t = gomem_json("types", fx, "--debug-file", fx.debug)
    if fx.name.startswith("queues-"):
        assert root_objects(want_o, "finalizer") >= 70, want_o["roots"]
        assert fx.minor < 25 or root_objects(want_o, "cleanup") >= 70, want_o["roots"]
    for way in ("tables", "layout-from"):
        got_o = gomem_json("objects", fx, *WAYS[way](fx))
        for key in ("reachable", "unreachable", "roots", "edges", "large"):
            assert got_o[key] == want_o[key], (fx, way, key)
        assert all(c["ok"] for c in got_o["checks"]), (fx, way, got_o["checks"])
        got_t = gomem_json("types", fx, *WAYS[way](fx))
        assert got_t["total"] == want_t["total"], (fx, way)
        said = [w for w in got_o["warnings"] + got_t["warnings"]
                if any(q in w for q in QUEUE_WARNINGS)]
        assert said == [], (fx, way, said)


def disassembly(path, start=None, stop=None):
    """objdump's instructions of path: [(address, bytes, text)]."""
    args = ["objdump", "-d", "--insn-width=16"]
    if start is not None:
        args += ["--start-address=0x%x" % start, "--stop-address=0x%x" % stop]
    out = subprocess.run(args + [path], capture_output=True, text=True, check=True).stdout
    return [(int(m[0], 16), bytes.fromhex(m[1]), m[2].strip()) for m in re.findall(
        r"^ +([0-9a-f]+):\t([0-9a-f ]+?) *\t(.*)$", out, re.M)]


def file_offset(path, addr):
    _, phdrs = program_headers(path)
    for p in phdrs:
        if p[0] == 1 and p[3] <= addr < p[3] + p[5]:
            return p[2] + addr - p[3]
    raise AssertionError("%s: 0x%x is in no PT_LOAD" % (path, addr))


def queue_root_patches(fx):
    """Three copies of fx.exe, each one instruction changed (addresses from the twin,
    whose .text is the same bytes from Go 1.22): allfin's store into the new block made a
    register move (no candidate), finq's store at block.next moved to alllink (two
    candidates), one receiver of a (*cleanupQueue) method moved 8 bytes on (receivers
    differ). {name: (global, [(file offset, new bytes)])}."""
    out = subprocess.run(["nm", fx.debug], capture_output=True, text=True, check=True).stdout
    sym = {p[2]: int(p[0], 16) for p in (l.split() for l in out.splitlines()) if len(p) == 3}
    qf = sym["runtime.queuefinalizer"]
    ins = disassembly(fx.debug, qf, qf + 0x400)
    patches = {}
    for i in range(1, len(ins)):
        (_, _, prev), (addr, code, text) = ins[i - 1], ins[i]
        if "<runtime.allfin>" in prev and re.match(r"mov +%\w+,\(%\w+\)$", text):
            assert code[-1] >> 6 == 0, text  # mod 00: make it 11, a register move
            patches["allfin: no candidate"] = ("runtime.allfin", [
                (addr + len(code) - 1, bytes([code[-1] | 0xc0]))])
        if "<runtime.finq>" in prev and re.match(r"mov +%\w+,0x8\(%\w+\)$", text):
            assert code[-1] == 8, text  # disp8 8 (next) becomes 0 (alllink)
            patches["allfin: two candidates"] = ("runtime.allfin", [
                (addr + len(code) - 1, b"\x00")])
    if fx.minor >= 25:
        ins = disassembly(fx.debug)
        for i in range(len(ins) - 1):
            addr, code, text = ins[i]
            if "<runtime.gcCleanups>" in text and text.startswith("lea") and \
                    "<runtime.(*cleanupQueue)." in ins[i + 1][2]:
                rel = int.from_bytes(code[3:7], "little", signed=True) + 8
                patches["gcCleanups: receivers differ"] = ("runtime.gcCleanups", [
                    (addr + 3, rel.to_bytes(4, "little", signed=True))])
                break
    assert len(patches) == (3 if fx.minor >= 25 else 2), sorted(patches)
    for _, edits in patches.values():  # the same code in the stripped program
        for addr, new in edits:
            with open(fx.exe, "rb") as a, open(fx.debug, "rb") as b:
                a.seek(file_offset(fx.exe, addr))
                b.seek(file_offset(fx.debug, addr))
                assert a.read(16) == b.read(16)
    return {name: (g, [(file_offset(fx.exe, a), new) for a, new in edits])
            for name, (g, edits) in patches.items()}


@pytest.mark.parametrize("minor", [22, 26])
def test_queue_roots_stay_unknown_when_the_code_is_not_the_pattern(tmp_path, minor):
    """No candidate, or two, or receivers that differ: the global stays unknown (never a
    guess), every other global is still found, and gomem objects says which queue is not
    a root."""
    fx = by_name("objgraph-", minor)
    for name, (glob, edits) in queue_root_patches(fx).items():
        exe = tmp_path / "exe"
        data = bytearray(open(fx.exe, "rb").read())
        for off, new in edits:
            data[off:off + len(new)] = new
        exe.write_bytes(bytes(data))
        exe.chmod(0o755)
        r = subprocess.run([RECORD, "--globals", fx.debug, str(exe)], capture_output=True,
                           text=True)
        assert r.returncode == 0 and " 0 wrong, 1 not found" in r.stdout, (name, r.stdout)
        reason = {"no candidate": "no candidate", "two candidates": "more than one candidate",
                  "receivers differ": "the receivers differ"}[name.split(": ")[1]]
        assert re.search(r"^%s\s+not found .*: %s$" % (re.escape(glob), reason), r.stdout,
                         re.M), (name, r.stdout)
        r = run_cli("objects", "--json", str(exe), fx.core)
        assert r.returncode == 1, (name, r.returncode, r.stderr)  # a partial result
        got = json.loads(r.stdout)
        said = [w for w in got["warnings"] if glob in w]
        assert any("queued" in w and "not roots" in w for w in said), (name, got["warnings"])
        assert all(c["ok"] for c in got["checks"]), (name, got["checks"])


def by_name(prefix, minor=None):
    for f in FIXTURES:
        if f.name.startswith(prefix) and (minor is None or f.minor == minor) and \
                f.debug_matches and f.name.endswith("-sw") and "race" not in f.name and \
                "pie" not in f.name and f.name.count("-") == 2:
            return f
    pytest.fail("no stripped fixture %s (go1.%s): run ./setup fixtures" % (prefix, minor))


def test_wrong_debug_files_are_refused_with_one_clear_line():
    fx = by_name("heapmix-", 26)
    # A rebuild without -trimpath: the ordinary fixture of the same Go (build/fixtures).
    plain = os.path.join(BUILD, "fixtures", "heapmix-%s" % fx.truth["go_version"], "exe")
    assert os.path.exists(plain), "no %s: run ./setup fixtures" % plain
    assert_one_line_error(run_cli("summary", "--debug-file", plain, fx.exe, fx.core),
                          "does not match", "-trimpath")
    # Another program, and another Go version.
    other = by_name("hello-", 26)
    assert_one_line_error(run_cli("summary", "--debug-file", other.debug, fx.exe, fx.core),
                          "does not match", "section")
    older = by_name("heapmix-", 25)
    assert_one_line_error(run_cli("summary", "--debug-file", older.debug, fx.exe, fx.core),
                          "does not match")
    # --layout-from a program of another Go.
    assert_one_line_error(run_cli("summary", "--layout-from", older.empty, fx.exe, fx.core),
                          "--layout-from", older.truth["go_version"], "same Go release")


def test_unknown_configuration_names_it_and_the_two_ways(tmp_path):
    """A release gomem has no table for (Go 1.20: Debian has none): one line that names
    the release and configuration, --debug-file and --layout-from."""
    fx = by_name("heapmix-", 26)
    exe = tmp_path / "exe"
    data = bytearray(open(fx.exe, "rb").read())
    version = fx.truth["go_version"].split()[0].split("-")[0].encode()
    at = data.index(b"\xff Go buildinf:")
    i = data.index(version, at)
    data[i:i + len(b"go1.26")] = b"go1.20"
    exe.write_bytes(bytes(data))
    exe.chmod(0o755)
    r = run_cli("summary", str(exe), fx.core)
    assert_one_line_error(r, "no layout table for go1.20 amd64", "--debug-file", "--layout-from")


@pytest.mark.parametrize("how", ["symbol-file", "add-symbol-file"])
def test_gdb_symbol_file_equals_cli_debug_file(how):
    for fx in (by_name("heapmix-", 26), [f for f in FIXTURES if f.name.endswith("-strip")][-1]):
        code, out, err = run_gdb(fx.exe, fx.core, "%s %s" % (how, fx.debug),
                                 "gomem summary --json")
        got = json_from_gdb(out)
        want = gomem_json("summary", fx, "--debug-file", fx.debug)
        got["target"]["debug_info"]["file"] = os.path.realpath(got["target"]["debug_info"]["file"])
        want["target"]["debug_info"]["file"] = os.path.realpath(want["target"]["debug_info"]["file"])
        got["target"]["exe"] = os.path.realpath(got["target"]["exe"])
        want["target"]["exe"] = os.path.realpath(want["target"]["exe"])
        assert got == want, (fx, how, err)


def test_gdb_without_symbol_file_uses_the_tables():
    fx = by_name("heapmix-", 27)
    code, out, err = run_gdb(fx.exe, fx.core, "gomem summary --json")
    s = json_from_gdb(out)
    assert s["target"]["debug_info"] == {"source": "table", "file": None}
    for field in EXACT_FIELDS:
        assert s["memstats"][field] == fx.truth[field], field


def test_batch_takes_the_debug_file_for_every_core():
    fx = by_name("heapmix-", 24)
    r = run_cli("batch", "--debug-file", fx.debug, fx.exe, fx.core, fx.core)
    assert r.returncode == 0, r.stderr
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(lines) == 2
    for s in lines:
        assert s["target"]["debug_info"]["source"] == "debug_file"
        assert s["memstats"]["HeapAlloc"] == fx.truth["HeapAlloc"]


def test_committed_layout_tables_are_what_the_script_makes():
    """One configuration in every run; GOMEM_LAYOUTS_ALL=1 checks every table (all
    releases and configurations: minutes)."""
    args = [] if os.environ.get("GOMEM_LAYOUTS_ALL") == "1" else ["1.26/default"]
    r = subprocess.run([os.path.join(TOP, "tools", "layouts", "generate.sh"), "-c",
                        "-b", BUILD, *args], capture_output=True, text=True, timeout=3600)
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("way", sorted(WAYS))
def test_reports_without_dwarf_follow_the_schemas(way):
    from test_schemas import errors
    fx = by_name("hello-", 27)
    for verb in VERBS + ["whatis"]:
        operands = addresses(fx)[:1] if verb == "whatis" else ()
        doc = gomem_json(verb, fx, *WAYS[way](fx), operands=operands)
        assert errors(verb, doc) == [], (verb, way)


def test_live_stripped_process_exact_with_tables_and_debug_file(tmp_path):
    """A running stripped program (--pid): its own executable through /proc/PID/exe,
    read with the tables, and with its debug file."""
    import time
    from conftest import RUN_ENV
    fx = by_name("heapmix-", 27)
    truth_path = tmp_path / "truth.json"
    p = subprocess.Popen([fx.exe, str(truth_path)], env=RUN_ENV, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if truth_path.exists() and truth_path.stat().st_size:
                break
            time.sleep(0.1)
        truth = json.loads(truth_path.read_text())
        for options in ((), ("--debug-file", fx.debug)):
            r = run_cli("summary", "--json", "--pid", str(p.pid), *options)
            assert r.returncode == 0, r.stderr
            s = json.loads(r.stdout)
            for field in ("HeapAlloc", "HeapSys", "HeapInuse", "HeapObjects", "StackInuse",
                          "Mallocs", "Frees", "Sys"):
                assert s["memstats"][field] == truth[field], (options, field)
    finally:
        p.kill()
        p.wait()
