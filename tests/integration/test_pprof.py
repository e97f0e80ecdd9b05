"""gomem pprof: the object graph as a profile (the default, --profile=objects), and
--profile=runtime: the program's own heap profile, from a core or a live process.

The objects profile, on every objgraph fixture (the Go matrix, kernel core and gcore): go tool
pprof -raw parses it and its samples add up to the reachable objects and bytes of `gomem objects`
exactly (every reachable object is in one sample); -top (inuse_objects) lists each of the
program's own types with its reachable count of the truth (flat: the objects whose stack ends at
the type), and the roots' and types' cum values are what `gomem top --by root` and `--by type`
say they retain (each sample's stack is its dominator-tree chain, so a frame's cum is retained
size); the samples of a type that one global (or one goroutine's frame) alone holds have that
root as their top frame.

The memprof fixture samples every allocation (runtime.MemProfileRate = 1), allocates at known
call sites, runs two GCs, and writes its own heap profile (pprof.WriteHeapProfile: heap.pprof)
and the runtime's records of those sites (truth.json, "memprof") right before the core. gomem's
profile of the core must hold the same samples as heap.pprof: each stack (every location's
address, mapping, and function, file, line and start line of each of its frames, inlined ones
included), its four values and its "bytes" label, compared through `go tool pprof -raw` of both
files; and `go tool pprof -top` must print the same for every sample type.

The core holds more samples than heap.pprof, all of them zero: the program allocated after it
wrote heap.pprof (its truth), and a new bucket is in the profile with zero counts until a GC
publishes it, as the program itself would serve it at the moment of the core. So: the nonzero
samples are equal, and every zero sample of heap.pprof is in gomem's profile too.
"""

import collections
import json
import os
import re
import shutil
import subprocess

import pytest

from conftest import (assert_one_line_error, built_fixtures, cli_json, realserver, run_cli,
                      run_gdb, server_fixtures, start_until_truth, system_go_fixtures,
                      thread_states)
from test_types import expected_unknown

GO = shutil.which("go") or "/usr/local/go/bin/go"
MEMPROF = [f for f in built_fixtures() if f.name.startswith("memprof-")]
CASES = [(f, kind) for f in MEMPROF for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]
# Programs that never read their heap profile: the linker turns profiling off (rate 0).
NO_PROFILE = [f for f in built_fixtures() if f.name.startswith("heapmix-")]
OBJGRAPH = [f for f in built_fixtures() if f.truth.get("program") == "objgraph"]
OBJ_CASES = [(f, kind) for f in OBJGRAPH for kind in sorted(f.cores)]
OBJ_IDS = ["%s-%s" % (f.name, kind) for f, kind in OBJ_CASES]


def pprof(*args):
    """The output of `go tool pprof ARGS`."""
    r = subprocess.run([GO, "tool", "pprof", *args], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, "go tool pprof %s failed: %s" % (" ".join(args), r.stderr)
    return r.stdout


def parse_raw(text):
    """The samples of `go tool pprof -raw` output, resolved: a Counter of
    (values, ((address, mapping file's base name, (frame lines...)), ...), labels)."""
    samples, locs, maps = [], {}, {}
    section, cur = None, None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            m = re.match(r"^\s*(-?\d+(?:\s+-?\d+)*):((?:\s+\d+)*)\s*$", line)
            if m:
                cur = [tuple(int(x) for x in m.group(1).split()),
                       tuple(int(x) for x in m.group(2).split()), []]
                samples.append(cur)
                continue
            m = re.match(r"^\s+(\S+):\[(.*)\]$", line)
            if m and cur:
                cur[2].append((m.group(1), m.group(2)))
        elif section == "Locations":
            m = re.match(r"^\s*(\d+): (0x[0-9a-f]+) (?:M=(\d+) )?(.*)$", line)
            if m:
                cur = [int(m.group(2), 16), m.group(3), [m.group(4).strip()]]
                locs[int(m.group(1))] = cur
            elif line.startswith(" " * 13) and cur:
                cur[2].append(line.strip())
        elif section == "Mappings":
            m = re.match(r"^(\d+): 0x[0-9a-f]+/0x[0-9a-f]+/0x[0-9a-f]+ (\S*)", line)
            if m:
                maps[m.group(1)] = os.path.basename(m.group(2))
    assert samples and locs, "no samples or locations in:\n" + text[:2000]
    out = collections.Counter()
    for values, ids, labels in samples:
        stack = tuple((locs[i][0], maps.get(locs[i][1]), tuple(locs[i][2])) for i in ids)
        out[(values, stack, tuple(sorted(labels)))] += 1
    return out


def nonzero(c):
    return collections.Counter({k: n for k, n in c.items() if any(k[0])})


def zero(c):
    return collections.Counter({k: n for k, n in c.items() if not any(k[0])})


def gomem_profile(tmp_path, *target, extra=()):
    """Runs gomem pprof --profile=runtime on a target; (path of the profile, stdout)."""
    out = str(tmp_path / "heap.pb.gz")
    r = run_cli("pprof", "--profile=runtime", "-o", out, *extra, *target)
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    return out, r.stdout


def assert_same_samples(exe, program_profile, gomem_file):
    want = parse_raw(pprof("-raw", exe, program_profile))
    got = parse_raw(pprof("-raw", exe, gomem_file))
    missing, extra = nonzero(want) - nonzero(got), nonzero(got) - nonzero(want)
    assert not missing and not extra, "samples only in the program's profile: %s\n" \
        "samples only in gomem's: %s" % (list(missing)[:3], list(extra)[:3])
    assert not zero(want) - zero(got), "zero samples of the program's profile missing: %s" % (
        list(zero(want) - zero(got))[:3])
    return got


def test_the_fixtures_are_built():
    """The parametrized tests below need these (./setup test builds them all): without them
    they would have no case at all."""
    assert MEMPROF, "no build/fixtures/memprof-* with a core: run ./setup fixtures"
    assert NO_PROFILE, "no build/fixtures/heapmix-*: run ./setup fixtures"
    assert server_fixtures(), "no build/fixtures/etcd-*: ./setup test builds it"
    assert OBJGRAPH, "no build/fixtures/objgraph-*: run ./setup fixtures"


@pytest.mark.parametrize("fixture,kind", CASES, ids=IDS)
def test_runtime_profile_has_the_programs_own_samples(fixture, kind, tmp_path):
    program = os.path.join(os.path.dirname(fixture.exe), "heap.pprof")
    assert os.path.isfile(program), "%s wrote no heap.pprof" % fixture.name
    out, _ = gomem_profile(tmp_path, fixture.exe, fixture.cores[kind])
    assert_same_samples(fixture.exe, program, out)


@pytest.mark.parametrize("fixture", MEMPROF, ids=[f.name for f in MEMPROF])
def test_runtime_profile_has_the_runtimes_records_of_each_site(fixture, tmp_path):
    """Each call site of truth.json: the sample whose first main function and its caller are
    the site's has the counts the runtime recorded (MemProfileRate 1: no scaling) and the
    object size as its bytes label."""
    truth = fixture.truth["memprof"]
    assert truth["rate"] == 1
    out, text = gomem_profile(tmp_path, fixture.exe, fixture.cores["kernel"])
    assert "runtime.MemProfileRate 1 (every allocation)" in text
    got = parse_raw(pprof("-raw", fixture.exe, out))
    for site in truth["sites"]:
        found = []
        for (values, stack, labels), n in got.items():
            funcs = [line.split()[0] for loc in stack for line in loc[2]]
            mains = [i for i, f in enumerate(funcs) if f.startswith("main.")]
            if mains and funcs[mains[0]] == site["function"] and \
                    mains[0] + 1 < len(funcs) and funcs[mains[0] + 1] == site["caller"]:
                found += [(values, labels)] * n
        assert len(found) == 1, (site, found)
        values, labels = found[0]
        assert values == (site["alloc_objects"], site["alloc_space"], site["inuse_objects"],
                          site["inuse_space"]), site
        assert labels == (("bytes", str(site["object_bytes"])),), site


@pytest.mark.parametrize("fixture", MEMPROF, ids=[f.name for f in MEMPROF])
def test_go_tool_pprof_top_is_the_programs_own(fixture, tmp_path):
    """What the user reads: -top for each of the four sample types, after the header (which
    names the file, the time, and gomem's comments)."""
    program = os.path.join(os.path.dirname(fixture.exe), "heap.pprof")
    out, _ = gomem_profile(tmp_path, fixture.exe, fixture.cores["kernel"])

    def body(text):
        return text[text.index("Showing nodes"):]

    # Two of the four (each call takes a second); -raw above compares all four values.
    for index in ("inuse_space", "alloc_objects"):
        want = pprof("-top", "-sample_index=" + index, fixture.exe, program)
        got = pprof("-top", "-sample_index=" + index, fixture.exe, out)
        assert body(got) == body(want), index


@pytest.mark.parametrize("fixture", MEMPROF, ids=[f.name for f in MEMPROF])
def test_json_report_adds_up_to_the_profile(fixture, tmp_path):
    from test_schemas import assert_valid
    out, text = gomem_profile(tmp_path, fixture.exe, fixture.cores["kernel"], extra=("--json",))
    doc = json.loads(text)
    assert_valid("pprof", doc, "pprof --json of %s" % fixture.name)
    assert doc["profile"] == "runtime" and doc["file"] == out
    assert doc["file_bytes"] == os.path.getsize(out)
    assert doc["memprofile_rate"] == 1 and doc["num_gc"] == fixture.truth["NumGC"]
    assert doc["warnings"] == []
    got = parse_raw(pprof("-raw", fixture.exe, out))
    assert doc["samples"] == sum(got.values()) == doc["buckets"]
    sums = [sum(k[0][i] * n for k, n in got.items()) for i in range(4)]
    t = doc["totals"]
    assert [t["alloc_objects"], t["alloc_space"], t["inuse_objects"], t["inuse_space"]] == sums
    # Every in-use sample is an object the program still holds: at most its heap.
    assert 0 < t["inuse_space"] <= fixture.truth["HeapAlloc"]


def test_gdb_writes_the_profile_the_cli_writes(tmp_path):
    fixture = MEMPROF[0]
    cli, _ = gomem_profile(tmp_path, fixture.exe, fixture.cores["kernel"])
    out = str(tmp_path / "gdb.pb.gz")
    rc, stdout, stderr = run_gdb(fixture.exe, fixture.cores["kernel"],
                                 "gomem pprof --profile=runtime -o %s" % out)
    assert "wrote %s" % out in stdout, stdout + stderr
    assert parse_raw(pprof("-raw", fixture.exe, out)) == parse_raw(
        pprof("-raw", fixture.exe, cli))


def test_gdb_help_completion_and_errors(tmp_path):
    fixture = MEMPROF[0]
    (tmp_path / "heap-a.pb.gz").write_bytes(b"")
    (tmp_path / "heap-b.pb.gz").write_bytes(b"")
    rc, out, err = run_gdb(fixture.exe, fixture.cores["kernel"], "help gomem pprof",
                           "complete gomem pprof --pro",
                           "complete gomem pprof --profile=runtime -o %s/heap-" % tmp_path,
                           "gomem pprof --profile=x", "gomem pprof --profile=runtime -o")
    text = out + err
    assert "Traceback" not in text
    assert "Usage: gomem pprof [--profile=objects|runtime] [-o FILE] [--json]" in text
    assert "-o FILE" in text and "--profile KIND" in text
    lines = out.splitlines()
    assert "gomem pprof --profile" in lines
    for name in ("heap-a.pb.gz", "heap-b.pb.gz"):
        assert "gomem pprof --profile=runtime -o %s/%s" % (tmp_path, name) in lines, out
    assert 'gomem: pprof: unknown profile "x"' in text
    assert "gomem: pprof: -o needs a value (FILE)" in text


def test_live_process_serves_the_same_profile(tmp_path):
    """gomem pprof --pid on the running memprof program: the same samples as its own heap.pprof,
    and the process goes on as before (not stopped, not traced)."""
    fixture = system_go_fixtures().get("memprof")
    assert fixture, "no memprof fixture built with the machine's Go: run ./setup fixtures"
    exe = str(tmp_path / "exe")
    shutil.copy(fixture.exe, exe)
    proc, truth = start_until_truth(exe, str(tmp_path), "memprof")
    try:
        out, text = gomem_profile(tmp_path, "--pid", str(proc.pid))
        assert "live process" in pprof("-comments", out)
        assert_same_samples(exe, str(tmp_path / "heap.pprof"), out)
        assert proc.poll() is None
        with open("/proc/%d/status" % proc.pid) as f:
            assert "TracerPid:\t0\n" in f.read()
        assert not set(thread_states(proc.pid)) & {"t", "T"}
    finally:
        proc.kill()
        proc.wait(timeout=30)


SERVER_CASES = [(f, kind) for f in server_fixtures() for kind in sorted(f.cores)]


@pytest.mark.parametrize("fixture,kind", SERVER_CASES,
                         ids=["%s-%s" % (f.name, k) for f, k in SERVER_CASES])
def test_real_server_core_gives_a_whole_profile(fixture, kind, tmp_path):
    """etcd's core (it links net/http/pprof, so it samples at the default rate): every bucket
    read, every location symbolized (the executable's mapping says it has functions), the
    in-use samples add up to what the JSON says."""
    out, text = gomem_profile(tmp_path, fixture.exe, fixture.cores[kind], extra=("--json",))
    doc = json.loads(text)
    assert doc["warnings"] == [] and doc["memprofile_rate"] == 512 * 1024
    raw = pprof("-raw", fixture.exe, out)
    exe_mapping = [line for line in raw.splitlines() if line.startswith("1: ")]
    assert exe_mapping and exe_mapping[0].endswith("[FN]"), exe_mapping
    got = parse_raw(raw)
    assert sum(got.values()) == doc["samples"] == doc["buckets"] > 100
    assert sum(k[0][3] * n for k, n in got.items()) == doc["totals"]["inuse_space"] > 0


def test_real_server_serves_the_profile_gomem_reads(tmp_path):
    """etcd (fixtures/servers) with --enable-pprof, after some load: its own /debug/pprof/heap
    and gomem pprof --pid hold the same samples. MemProfileRate is the default 512 KiB here, so
    every value is scaled, by runtime/pprof's arithmetic on one side and gomem's on the other.
    The profile changes when a GC publishes one (at its end, and when its sweep is done), so
    the pair is taken between two reads of NumGC that agree, up to five times."""
    servers = server_fixtures()
    assert servers, "no build/fixtures/etcd-*: ./setup test builds the real-server fixture"
    rs = realserver()
    exe = servers[0].exe
    etcd = rs.Etcd(exe, str(tmp_path / "etcd"), extra_args=["--enable-pprof"]).start()
    try:
        rs.fill(etcd, puts=2000, reads=200, seconds=60)
        served = str(tmp_path / "served.pb.gz")
        for _ in range(5):
            _, before = gomem_profile(tmp_path, "--pid", str(etcd.pid), extra=("--json",))
            with open(served, "wb") as f:
                f.write(etcd.request("GET", "/debug/pprof/heap", timeout=30))
            out, after = gomem_profile(tmp_path, "--pid", str(etcd.pid), extra=("--json",))
            if json.loads(before)["num_gc"] == json.loads(after)["num_gc"]:
                break
        else:
            pytest.fail("etcd ran a GC between every pair of reads")
        doc = json.loads(after)
        assert doc["memprofile_rate"] == 512 * 1024 and doc["warnings"] == []
        got = assert_same_samples(exe, served, out)
        assert len(nonzero(got)) > 10
        assert etcd.alive()
    finally:
        etcd.kill()


@pytest.mark.parametrize("fixture", NO_PROFILE, ids=[f.name for f in NO_PROFILE])
def test_rate_zero_is_one_line_and_no_file(fixture, tmp_path):
    out = str(tmp_path / "heap.pb.gz")
    r = run_cli("pprof", "--profile=runtime", "-o", out, fixture.exe, fixture.cores["kernel"])
    assert_one_line_error(r, "no heap profile", "runtime.MemProfileRate is 0", "no file written")
    assert not os.path.exists(out)


@pytest.mark.parametrize("args,words", [
    (("--profile=heap",), ('unknown profile "heap"', "objects", "runtime")),
    (("-o", "/nonexistent-dir/heap.pb.gz"), ("cannot create /nonexistent-dir/heap.pb.gz",)),
    (("--profile", "runtime", "-o", "/nonexistent-dir/heap.pb.gz"),
     ("cannot create /nonexistent-dir/heap.pb.gz",)),
], ids=["unknown-profile", "unwritable-objects", "unwritable"])
def test_bad_arguments_are_one_line(args, words):
    fixture = MEMPROF[0]
    assert_one_line_error(run_cli("pprof", *args, fixture.exe, fixture.cores["kernel"]), *words)


def test_o_without_a_file_is_a_usage_error():
    fixture = MEMPROF[0]
    r = run_cli("pprof", "--profile=runtime", fixture.exe, fixture.cores["kernel"], "-o")
    assert_one_line_error(r, "-o needs a value")


# ---- the object graph as a profile (the default) ----

def objects_profile(tmp_path, fixture, kind, *extra):
    """gomem pprof --json on a core: (path of the profile, the JSON report)."""
    out = str(tmp_path / ("objects-%s.pb.gz" % kind))
    r = run_cli("pprof", "--json", "-o", out, *extra, fixture.exe, fixture.cores[kind])
    assert r.returncode == 0 and r.stderr == "", (r.returncode, r.stderr)
    return out, json.loads(r.stdout)


def raw_stacks(path):
    """The samples of `go tool pprof -raw`: [(objects, bytes, (function names, leaf first))]."""
    text = pprof("-raw", path)
    samples, names, section, cur = [], {}, None, None
    for line in text.splitlines():
        if line in ("Samples:", "Locations", "Mappings"):
            section = line
            continue
        if section == "Samples:":
            m = re.match(r"^\s*(\d+)\s+(\d+):((?:\s+\d+)*)\s*$", line)
            if m:
                samples.append((int(m.group(1)), int(m.group(2)),
                                [int(x) for x in m.group(3).split()]))
        elif section == "Locations":
            # "  12: 0x0 M=1 main.listNode :0:0 s=0(type)": no file or line; the system name
            # (in parentheses) says what the frame is (type, global, stack, roots, cut...)
            m = re.match(r"^\s*(\d+): 0x0 (?:M=\d+ )?(.*?) :0(?::0)? s=0(?:\([\w ]+\))?$", line)
            assert m, "an unexpected location line: %r" % line
            names[int(m.group(1))] = m.group(2)
    assert samples and names, text[:2000]
    return [(n, b, tuple(names[i] for i in ids)) for n, b, ids in samples]


def cum(stacks):
    """What -top's cum column holds: per frame name, the sum over the samples it is in (once
    per sample, as pprof counts a recursive function once), objects and bytes."""
    out = collections.defaultdict(lambda: [0, 0])
    for n, b, names in stacks:
        for name in set(names):
            out[name][0] += n
            out[name][1] += b
    return out


def parse_top(text):
    """-top's rows: name -> (flat, cum), for a sample index in counts (plain integers)."""
    rows = {}
    for line in text[text.index("flat  flat%"):].splitlines()[1:]:
        m = re.match(r"^\s*(\d+)\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(.*)$", line)
        assert m, "an unexpected -top line: %r" % line
        rows[m.group(3)] = (int(m.group(1)), int(m.group(2)))
    return rows


@pytest.mark.parametrize("fixture,kind", OBJ_CASES, ids=OBJ_IDS)
def test_objects_profile_adds_up_to_the_reachable_heap(fixture, kind, tmp_path):
    from test_schemas import assert_valid
    out, doc = objects_profile(tmp_path, fixture, kind)
    assert_valid("pprof", doc, "pprof --json of %s" % fixture.name)
    objects = cli_json("objects", fixture.exe, fixture.cores[kind])
    reach = objects["reachable"]
    assert doc["profile"] == "objects" and doc["file"] == out
    assert doc["file_bytes"] == os.path.getsize(out)
    assert doc["reachable"] == reach
    assert doc["totals"] == {"inuse_objects": reach["objects"], "inuse_space": reach["bytes"]}
    assert all(c["ok"] for c in doc["checks"]), doc["checks"]
    stacks = raw_stacks(out)
    assert len(stacks) == doc["samples"]
    assert sum(s[0] for s in stacks) == reach["objects"]
    assert sum(s[1] for s in stacks) == reach["bytes"]
    # Samples are aggregated: one per distinct stack.
    assert len(set(s[2] for s in stacks)) == len(stacks)
    # No chain of objgraph is 64 types deep (the list is one frame: runs collapse).
    assert doc["cut"] == {"objects": 0, "bytes": 0}
    assert max(len(s[2]) for s in stacks) <= doc["max_frames"] == 64
    for _, _, names in stacks:
        assert all(a != b for a, b in zip(names, names[1:])), names
    types = cli_json("types", fixture.exe, fixture.cores[kind])
    assert doc["unknown"] == {"objects": types["unknown"]["reachable_objects"],
                              "bytes": types["unknown"]["reachable_bytes"]}


@pytest.mark.parametrize("fixture", OBJGRAPH, ids=[f.name for f in OBJGRAPH])
def test_objects_profile_top_lists_the_programs_types_with_their_counts(fixture, tmp_path):
    out, doc = objects_profile(tmp_path, fixture, "kernel")
    rows = parse_top(pprof("-top", "-sample_index=inuse_objects", "-nodefraction=0",
                           "-nodecount=100000", out))
    types = {r["type"]: r for r in cli_json("types", fixture.exe,
                                            fixture.cores["kernel"])["types"]}
    checked = 0
    for row in fixture.truth["objgraph"]["types"]:
        name = row["type"]
        if not row["reachable"] or expected_unknown(fixture, name):
            assert name not in rows, name
            continue
        assert rows[name][0] == row["reachable"], (name, rows[name], row["reachable"])
        checked += 1
    assert checked >= 15
    # Every type of `gomem types` with reachable objects is a line with its count.
    for name, r in types.items():
        if r["reachable_objects"]:
            assert rows[name][0] == r["reachable_objects"], name


@pytest.mark.parametrize("fixture", OBJGRAPH, ids=[f.name for f in OBJGRAPH])
def test_objects_profile_cum_is_what_top_says_is_retained(fixture, tmp_path):
    """The stacks are the dominator tree's chains: a root's cum is what it retains (top --by
    root), a type's cum what its objects that no other of the type dominates retain (top --by
    type); -top prints the same numbers for inuse_objects."""
    out, doc = objects_profile(tmp_path, fixture, "kernel")
    c = cum(raw_stacks(out))
    rows = parse_top(pprof("-top", "-sample_index=inuse_objects", "-nodefraction=0",
                           "-nodecount=100000", out))
    for name, (n, _) in c.items():
        assert rows[name][1] == n, name
    exe, core = fixture.exe, fixture.cores["kernel"]
    by_root = run_cli("top", "--by", "root", "--limit", "1000000", "--json", exe, core)
    by_type = run_cli("top", "--by", "type", "--limit", "1000000", "--json", exe, core)
    assert by_root.returncode == 0 and by_type.returncode == 0
    roots = json.loads(by_root.stdout)["entries"]
    assert roots
    # What no single root retains is all under (several roots).
    assert doc["shared"] == json.loads(by_root.stdout)["shared"]
    if doc["shared"]["objects"]:
        assert c["(several roots)"] == [doc["shared"]["objects"], doc["shared"]["bytes"]]
    for e in roots:
        if e["retained_objects"]:
            assert c[e["name"]] == [e["retained_objects"], e["retained_bytes"]], e
    for e in json.loads(by_type.stdout)["entries"]:
        name = e["type"] or "(unknown)"
        assert c[name] == [e["retained_objects"], e["retained_bytes"]], e


@pytest.mark.parametrize("fixture", OBJGRAPH, ids=[f.name for f in OBJGRAPH])
def test_objects_profile_chain_of_a_type_held_by_one_root_starts_at_it(fixture, tmp_path):
    out, _ = objects_profile(tmp_path, fixture, "kernel")
    stacks = raw_stacks(out)
    checked = 0
    for row in fixture.truth["objgraph"]["types"]:
        if len(row["roots"]) != 1 or not row["reachable"] or \
                expected_unknown(fixture, row["type"]):
            continue
        root = row["roots"][0]
        if root["kind"] == "global":
            want = root["name"]
        elif root["kind"] == "stack":
            want = "goroutine %d %s" % (root["goroutine"], root["function"])
        else:
            continue
        mine = [s for s in stacks if s[2][0] == row["type"]]
        assert sum(s[0] for s in mine) == row["reachable"], row["type"]
        for s in mine:
            assert s[2][-1] == want, (row["type"], s)
        checked += 1
    assert checked >= 12


def test_objects_profile_text_says_what_it_wrote(tmp_path):
    fixture = OBJGRAPH[0]
    out = str(tmp_path / "heap.pb.gz")
    r = run_cli("pprof", "-o", out, fixture.exe, fixture.cores["kernel"])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    doc = cli_json("objects", fixture.exe, fixture.cores["kernel"])["reachable"]
    assert "wrote %s (" % out in r.stdout
    assert "samples: %d objects, " % doc["objects"] in r.stdout
    assert "(%d bytes)" % doc["bytes"] in r.stdout
    assert "unknown type: " in r.stdout and "held by no single root: " in r.stdout
    assert "  ok   samples = the reachable objects and bytes" in r.stdout
    assert "go tool pprof -top %s" % out in r.stdout


def test_objects_profile_from_gdb_is_the_clis(tmp_path):
    fixture = OBJGRAPH[-1]
    cli, _ = objects_profile(tmp_path, fixture, "kernel")
    out = str(tmp_path / "gdb.pb.gz")
    rc, stdout, stderr = run_gdb(fixture.exe, fixture.cores["kernel"], "gomem pprof -o %s" % out)
    assert "Traceback" not in stderr, stderr
    assert "wrote %s (" % out in stdout, stdout + stderr
    assert sorted(raw_stacks(out)) == sorted(raw_stacks(cli))


def test_objects_profile_of_a_live_process_has_the_programs_types(tmp_path):
    """gomem pprof --pid on a running objgraph (blocked after its truth, its heap still):
    -top's counts of the program's types are the truth's, as from its core."""
    f = next((f for f in OBJGRAPH if "-" not in f.name.split("go1.")[1]), None)
    assert f, "no objgraph fixture without an experiment"
    out = str(tmp_path / "live.pb.gz")
    proc, truth = start_until_truth(f.exe, str(tmp_path), f.name)
    try:
        r = run_cli("pprof", "--json", "-o", out, "--pid", str(proc.pid))
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    doc = json.loads(r.stdout)
    assert all(c["ok"] for c in doc["checks"]) and "live process" in pprof("-comments", out)
    flat = collections.Counter()
    for n, _, names in raw_stacks(out):
        flat[names[0]] += n
    for row in truth["objgraph"]["types"]:
        if row["reachable"] and not expected_unknown(f, row["type"]):
            assert flat[row["type"]] == row["reachable"], row
