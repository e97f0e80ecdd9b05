"""The drill-down verbs (arenas, spans, classes, stacks, whatis) against each fixture's truth.

The fixture programs log runtime.MemStats, runtime.NumGoroutine and the
addresses of objects they keep or drop, then block with GC off before the
cores are taken (see test_summary.py): every sum below is compared exactly.
Nothing here depends on a fixture's particular sizes or addresses: only on
what each program logged about itself.
"""

import json
import re
import shutil

import pytest

from conftest import (arm64_fixtures, built_fixtures, json_from_gdb, run_cli, run_gdb,
                      start_until_truth)

PAGE = 8192

# Go's size classes (sizeclasses.go, the same in 1.19 to 1.27): class i holds objects of
# at most CLASS_SIZES[i] bytes.
CLASS_SIZES = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256,
    288, 320, 352, 384, 416, 448, 480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280,
    1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096, 4864, 5376, 6144, 6528,
    6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432,
    19072, 20480, 21760, 24576, 27264, 28672, 32768,
]
MAX_SMALL = CLASS_SIZES[-1]

BUILT = built_fixtures()
# The arm64 fixtures too (issue 15): their cores "kernel" (holes punched) and "qemu".
CASES = [(f, kind) for f in BUILT + arm64_fixtures() for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]


def run_json(verb, fixture, kind, *args, operands=()):
    r = run_cli(verb, "--json", *args, fixture.exe, fixture.cores[kind], *operands)
    assert r.returncode == 0, "gomem %s failed (%d): %s" % (verb, r.returncode, r.stderr)
    assert r.stderr == ""
    return json.loads(r.stdout)


def run_text(verb, fixture, kind, *args, operands=()):
    r = run_cli(verb, *args, fixture.exe, fixture.cores[kind], *operands)
    assert r.returncode == 0, "gomem %s failed (%d): %s" % (verb, r.returncode, r.stderr)
    return r.stdout


def whatis(fixture, kind, addr):
    return run_json("whatis", fixture, kind, operands=["0x%x" % addr])


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, run_json("summary", fixture, kind)


# ---- classes ----

def test_classes_add_up_to_heapobjects_and_heapalloc(case):
    fixture, kind, _ = case
    t = fixture.truth
    c = run_json("classes", fixture, kind)
    assert c["schema"] == "gomem/classes/v1"
    large = c["large"]
    assert sum(k["objects"] for k in c["classes"]) + large["objects"] == t["HeapObjects"]
    assert sum(k["object_bytes"] for k in c["classes"]) + large["object_bytes"] == t["HeapAlloc"]
    assert all(ch["ok"] for ch in c["checks"]), c["checks"]


def test_classes_rows_are_consistent(case):
    fixture, kind, summary = case
    c = run_json("classes", fixture, kind)
    rows = c["classes"]
    assert len({k["class"] for k in rows}) == len(rows)
    for k in rows:
        assert 1 <= k["class"] < len(CLASS_SIZES)
        assert k["object_size"] == CLASS_SIZES[k["class"]]
        assert k["object_bytes"] == k["objects"] * k["object_size"]
        assert k["free_slot_bytes"] == k["free_slots"] * k["object_size"]
        assert k["spans"] >= 1
    # Sorted by the bytes of their spans, largest first.
    sizes = [k["object_bytes"] + k["free_slot_bytes"] + k["tail_waste_bytes"] for k in rows]
    assert sizes == sorted(sizes, reverse=True)
    heap = summary["heap"]
    assert sum(k["free_slot_bytes"] for k in rows) == heap["free_slot_bytes"]
    # Large objects have no tail, except user arena chunks: their pointer bitmap is there.
    large_tail = c["large"]["tail_waste_bytes"]
    assert large_tail == 0 or heap["user_arenas"] > 0
    assert sum(k["tail_waste_bytes"] for k in rows) + large_tail == heap["tail_waste_bytes"]
    assert sum(k["spans"] for k in rows) + c["large"]["spans"] == heap["spans"]["in_use"]


# ---- spans ----

def test_in_use_spans_listed_equal_summary(case):
    fixture, kind, summary = case
    t = fixture.truth
    s = run_json("spans", fixture, kind)  # JSON lists every span unless --limit says otherwise
    assert s["schema"] == "gomem/spans/v1"
    assert s["left_out"] == 0 and s["matched"] == len(s["spans"])
    by_state = {st: [x for x in s["spans"] if x["state"] == st] for st in ("in-use", "manual", "free")}
    assert len(s["spans"]) == sum(len(v) for v in by_state.values())
    in_use = by_state["in-use"]
    assert len(in_use) == summary["heap"]["spans"]["in_use"] == s["counts"]["in-use"]
    assert len(by_state["manual"]) == summary["heap"]["spans"]["manual"]
    assert sum(x["npages"] for x in in_use) * PAGE == t["HeapInuse"]
    assert sum(x["allocated"] * x["elemsize"] for x in in_use) == t["HeapAlloc"]
    assert sum(x["allocated"] for x in in_use) == t["HeapObjects"]
    stacks = [x for x in by_state["manual"] if x["elemsize"] > 0]
    assert sum(x["npages"] for x in stacks) * PAGE == t["StackInuse"]
    free = by_state["free"]
    assert sum(x["npages"] for x in free if x["released"]) * PAGE == t["HeapReleased"]
    assert (sum(x["npages"] for x in free if not x["released"]) * PAGE
            == t["HeapIdle"] - t["HeapReleased"])
    sizes = [x["npages"] for x in s["spans"]]
    assert sizes == sorted(sizes, reverse=True)


def test_span_fields(case):
    fixture, kind, _ = case
    s = run_json("spans", fixture, kind)
    for x in s["spans"]:
        assert x["bytes"] == x["npages"] * PAGE
        if x["state"] == "in-use":
            assert x["free_slots"] == x["nelems"] - x["allocated"] >= 0
            if x["class"] == 0 and x["user_arena_chunk"]:
                # One object; the chunk's pointer bitmap takes its tail (arena.go).
                assert x["nelems"] == 1 and 0 < x["elemsize"] < x["bytes"]
            elif x["class"] == 0:
                assert x["nelems"] == 1 and x["elemsize"] == x["bytes"]
            else:
                assert x["elemsize"] == CLASS_SIZES[x["class"]]
                assert x["nelems"] * x["elemsize"] <= x["bytes"]
        elif x["state"] == "free":
            assert isinstance(x["released"], bool) and x["class"] is None


def test_spans_state_and_class_filters(case):
    fixture, kind, _ = case
    everything = run_json("spans", fixture, kind)["spans"]
    for state in ("in-use", "manual", "free"):
        only = run_json("spans", fixture, kind, "--state", state)["spans"]
        assert only == [x for x in everything if x["state"] == state]
    classes = run_json("classes", fixture, kind)
    top = classes["classes"][0]
    only = run_json("spans", fixture, kind, "--class", str(top["class"]))["spans"]
    assert len(only) == top["spans"]
    assert all(x["class"] == top["class"] and x["state"] == "in-use" for x in only)
    large = run_json("spans", fixture, kind, "--class", "0")["spans"]
    assert len(large) == classes["large"]["spans"]


def test_spans_limit_says_how_many_were_left_out(case):
    fixture, kind, _ = case
    s = run_json("spans", fixture, kind, "--limit", "5")
    assert len(s["spans"]) == 5
    assert s["left_out"] == s["matched"] - 5 > 0
    text = run_text("spans", fixture, kind, "--limit", "5")
    assert "... %d more spans not shown" % s["left_out"] in text


# ---- arenas ----

def test_arena_pages_match_memstats(case):
    fixture, kind, summary = case
    t, heap = fixture.truth, summary["heap"]
    a = run_json("arenas", fixture, kind)
    assert a["schema"] == "gomem/arenas/v1"
    arenas = a["arenas"]
    assert len(arenas) == heap["arenas"]

    def total(state):
        return sum(x["pages"][state] for x in arenas) * a["page_bytes"]

    assert total("in_use") == t["HeapInuse"]
    assert total("free_released") == t["HeapReleased"]
    assert total("free_retained") == t["HeapIdle"] - t["HeapReleased"]
    assert total("manual") == t["StackInuse"] + heap["work_buf_bytes"]
    assert total("unmapped") == heap["unmapped_arena_bytes"]
    bases = [x["base"] for x in arenas]
    assert bases == sorted(bases)
    for x in arenas:
        assert sum(x["pages"].values()) * a["page_bytes"] == x["end"] - x["base"]
        assert len(x["map"]) * a["map_group_pages"] == a["arena_pages"]
        assert set(x["map"]) <= set(a["map_legend"])
        if summary["rss_bytes"] is None:  # a gcore, a QEMU core without holes
            assert x["resident_bytes"] is None
        else:
            assert 0 <= x["resident_bytes"] <= x["end"] - x["base"]


def test_arenas_text_has_a_legend(case):
    fixture, kind, _ = case
    text = run_text("arenas", fixture, kind)
    assert "# in-use spans" in text and "- free, released to the OS" in text


# ---- stacks ----

def test_stacks_list_every_goroutine_the_program_counted(case):
    fixture, kind, _ = case
    s = run_json("stacks", fixture, kind)
    assert s["schema"] == "gomem/stacks/v1"
    tot = s["totals"]
    gs = s["goroutines"]
    assert s["left_out"] == 0 and len(gs) == tot["goroutines"]
    # runtime.NumGoroutine leaves out the runtime's own goroutines (isSystemGoroutine).
    assert tot["user_goroutines"] == fixture.truth["num_goroutine"]
    assert len([g for g in gs if not g["system"]]) == tot["user_goroutines"]
    assert len({g["goid"] for g in gs}) == len(gs)
    assert any(g["start"] == "runtime.main" and not g["system"] for g in gs)
    for g in gs:
        assert g["status"] not in ("dead", "deadextra")
        assert g["stack_bytes"] == g["stack_hi"] - g["stack_lo"] > 0
        assert g["in_heap"]
        if g["used_bytes"] is not None:
            assert 0 <= g["used_bytes"] <= g["stack_bytes"]
    sizes = [g["stack_bytes"] for g in gs]
    assert sizes == sorted(sizes, reverse=True)


def test_stack_totals_reconcile_with_stackinuse(case):
    fixture, kind, summary = case
    s = run_json("stacks", fixture, kind)
    tot = s["totals"]
    parts = ["goroutine_stack_bytes", "dead_goroutine_stack_bytes", "g0_stack_bytes",
             "gsignal_stack_bytes", "crash_stack_bytes", "stack_pool_free_bytes",
             "stack_cache_bytes", "stack_large_free_bytes"]
    assert tot["unexplained_bytes"] == 0
    assert sum(tot[p] for p in parts) == fixture.truth["StackInuse"] == tot["StackInuse"]
    assert tot["stack_span_bytes"] == summary["heap"]["stack_bytes"]
    assert sum(g["stack_bytes"] for g in s["goroutines"]) == tot["goroutine_stack_bytes"]
    assert all(c["ok"] for c in s["checks"]), s["checks"]
    assert len(s["checks"]) == 3  # the ngsys check needs the symbol table, which they have


def test_threads_kinds_follow_cgo(case):
    fixture, kind, _ = case
    s = run_json("stacks", fixture, kind)
    threads = s["threads"]
    assert threads and len({t["m"] for t in threads}) == len(threads)
    assert [t["kind"] for t in threads if t["m"] == 0] == ["os"]
    others = {t["kind"] for t in threads if t["m"] != 0}
    # Without cgo every M's g0 stack comes from the Go heap; with cgo, from pthread_create.
    assert others == ({"pthread"} if fixture.truth["cgo"] else {"go"})
    for t in threads:
        if t["tid"]:
            assert t["sp"] is not None  # every thread's registers are in the core
    g0_in_heap = sum(t["g0_stack_bytes"] for t in threads if t["kind"] == "go")
    assert g0_in_heap == s["totals"]["g0_stack_bytes"]


def test_stacks_limit(case):
    fixture, kind, _ = case
    s = run_json("stacks", fixture, kind, "--limit", "1")
    assert len(s["goroutines"]) == 1
    assert s["left_out"] == s["totals"]["goroutines"] - 1


# ---- whatis ----

def has_malloc_headers(fixture):
    """Go 1.22 put a type header in scan objects of 513 B to 32 KiB (GOEXPERIMENT=allocheaders,
    the default; noallocheaders turned it off in 1.22 only)."""
    t = fixture.truth
    minor = int(t["go_version"].split(".")[1].split("-")[0].split(" ")[0])
    return minor >= 22 and "noallocheaders" not in t["goexperiment"] + t["go_version"]


def expected_class(obj, header):
    """The smallest class that holds the object and its malloc header."""
    need = obj["size"] + header
    return next(i for i in range(1, len(CLASS_SIZES)) if CLASS_SIZES[i] >= need)


def test_whatis_of_live_objects(case):
    fixture, kind, _ = case
    objs = fixture.truth["live_objects"]
    if not objs:
        pytest.fail("%s logs no objects: every fixture program records some" % fixture.name)
    for obj in objs:
        addr = obj["addr"]
        w = whatis(fixture, kind, addr)
        assert w["schema"] == "gomem/whatis/v1" and w["addr"] == addr
        assert w["owner"] == "go-heap"
        assert w["mapping"]["start"] <= addr < w["mapping"]["end"]
        span, o = w["span"], w["object"]
        assert span["state"] == "in-use", (obj, w)
        assert span["start"] <= addr < span["start"] + span["npages"] * PAGE
        assert span["elemsize"] >= obj["size"]
        assert o["allocated"] is True, (obj, w)
        if obj["kind"] == "tiny":
            # Tiny allocations share 16-byte blocks of class 2 (malloc.go).
            assert span["class"] == 2 and span["noscan"]
            assert o["offset"] == addr - o["base"] < 16
        elif span["class"] == 0:
            # Large: more than 32 KiB, or (1.22+) more than 32 KiB less the malloc header.
            assert obj["size"] > MAX_SMALL - 8, (obj, w)
            assert o["base"] == addr and o["offset"] == 0 and o["header_bytes"] == 0
            assert span["elemsize"] == span["npages"] * PAGE
        else:
            # Scan objects of more than 512 bytes start with an 8-byte malloc header.
            want = 8 if has_malloc_headers(fixture) and obj["kind"] == "small-scan" and \
                obj["size"] > 512 else 0
            assert o["header_bytes"] == want, (obj, w)
            assert span["class"] == expected_class(obj, o["header_bytes"])
            assert o["base"] + o["header_bytes"] == addr
            assert o["offset"] == o["header_bytes"]
        plus8 = whatis(fixture, kind, addr + 8)
        assert plus8["object"]["base"] == o["base"]
        assert plus8["object"]["offset"] == o["offset"] + 8


def test_whatis_of_freed_objects(case):
    fixture, kind, _ = case
    objs = fixture.truth["freed_objects"]
    assert objs, "%s logs no freed objects: every fixture program records one" % fixture.name
    for obj in objs:
        w = whatis(fixture, kind, obj["addr"])
        assert w["owner"] == "go-heap"
        if obj["size"] > MAX_SMALL - 8:
            # A freed large object's span is gone: its pages are free.
            assert w["span"]["state"] == "free" and w["object"] is None, (obj, w)
        else:
            assert w["span"]["state"] == "in-use", (obj, w)
            assert w["object"]["allocated"] is False, (obj, w)
            assert w["object"]["base"] + w["object"]["header_bytes"] == obj["addr"]


def test_whatis_of_goroutine_stacks(case):
    fixture, kind, _ = case
    s = run_json("stacks", fixture, kind, "--limit", "3")
    for g in s["goroutines"]:
        w = whatis(fixture, kind, g["stack_hi"] - 8)
        assert w["owner"] == "go-heap"
        assert w["span"]["state"] == "manual" and w["object"] is None
        assert w["stack"]["kind"] == "goroutine" and w["stack"]["goid"] == g["goid"]


def test_whatis_outside_the_heap(case):
    fixture, kind, _ = case
    s = run_json("stacks", fixture, kind)
    m0 = next(t for t in s["threads"] if t["m"] == 0)
    w = whatis(fixture, kind, m0["g0_stack_hi"] - 8)
    assert w["owner"] == "main-stack" and w["stack"]["kind"] == "g0" and w["stack"]["m"] == 0
    assert w["span"] is None and w["arena"] is None
    # runtime.m0 is a global of the executable (its .bss, also in a PIE).
    w = whatis(fixture, kind, m0["m_addr"])
    assert w["owner"] == "binary" and w["span"] is None and w["stack"] is None
    assert w["symbol"] == {"name": "runtime.m0", "offset": 0, "function": False}
    w = whatis(fixture, kind, 0)
    assert w["mapping"] is None and w["owner"] == "unknown"


@pytest.mark.parametrize("fixture", BUILT, ids=[f.name for f in BUILT])
def test_whatis_owner_agrees_with_mappings(fixture):
    """One address of every owner that `gomem mappings` names, at both ends of its part."""
    parts = run_json("mappings", fixture, "kernel")["mappings"]
    seen = set()
    for p in parts:
        if p["owner"] in seen or not p["in_vsz"]:
            continue
        seen.add(p["owner"])
        for addr in (p["start"], p["end"] - 1):
            w = whatis(fixture, "kernel", addr)
            assert w["owner"] == p["owner"], (p, w)
            assert w["mapping"]["start"] <= addr < w["mapping"]["end"]
    assert {"go-heap", "binary", "main-stack"} <= seen


# ---- GDB ----

@pytest.mark.parametrize("fixture", BUILT, ids=[f.name for f in BUILT])
def test_gdb_whatis_equals_cli(fixture):
    core = fixture.cores["kernel"]
    addr = (fixture.truth["live_objects"] or [{"addr": 0}])[0]["addr"]
    rc, out, err = run_gdb(fixture.exe, core, "gomem whatis --json 0x%x" % addr,
                           "gomem whatis $sp")
    assert "Traceback" not in out + err
    assert json_from_gdb(out) == whatis(fixture, "kernel", addr)
    assert re.search(r"^0x[0-9a-f]+: .*\n  owner ", out, re.M), out


def test_gdb_drilldown_verbs_equal_cli():
    fixture = BUILT[0]
    core = fixture.cores["kernel"]
    for verb in ("arenas", "classes", "stacks", "spans"):
        rc, out, err = run_gdb(fixture.exe, core, "gomem %s --json" % verb)
        assert "Traceback" not in out + err
        assert json_from_gdb(out) == run_json(verb, fixture, "kernel"), verb


def test_gdb_help_and_errors():
    fixture = BUILT[0]
    rc, out, err = run_gdb(fixture.exe, fixture.cores["kernel"], "help gomem spans",
                           "help gomem whatis", "gomem spans --state bogus",
                           "gomem whatis no_such_symbol", "gomem")
    text = out + err
    assert "Traceback" not in text
    assert "Usage: gomem spans [--state in-use|manual|free] [--class N] [--limit N]" in text
    assert "--state S" in text and "--limit N" in text
    assert "Usage: gomem whatis [--json] ADDR" in text
    assert 'gomem: spans: --state wants in-use, manual or free, not "bogus"' in text
    assert "gomem: whatis: cannot evaluate no_such_symbol" in text
    for verb in ("arenas", "spans", "classes", "stacks", "whatis"):
        assert "gomem %s" % verb in text


def test_gdb_tab_completion():
    fixture = BUILT[0]
    rc, out, err = run_gdb(fixture.exe, fixture.cores["kernel"], "complete gomem cla",
                           "complete gomem spans --st", "complete gomem spans --limit 3 --cl",
                           "complete gomem whatis --j", "complete gomem stacks --l")
    lines = out.splitlines()
    for want in ("gomem classes", "gomem spans --state", "gomem spans --limit 3 --class",
                 "gomem whatis --json", "gomem stacks --limit"):
        assert want in lines, (want, out)


# ---- the CLI's errors and text ----

# (verb, options, operands after EXE CORE, words of the error line)
BAD_ARGS = [
    ("spans", ["--state", "bogus"], [], "--state wants in-use, manual or free"),
    ("spans", ["--limit", "many"], [], "--limit wants a non-negative number"),
    ("spans", ["--class", "99"], [], "--class wants a size class"),
    ("spans", ["--state", "free", "--class", "3"], [], "--class selects in-use spans"),
    ("spans", ["--bogus"], [], "unknown option --bogus"),
    ("stacks", ["--limit", "-1"], [], "--limit wants a non-negative number"),
    ("whatis", [], ["xyz"], "ADDR must be a number"),
    ("whatis", [], ["0xzz"], "ADDR must be a number"),
    ("whatis", [], [], "missing operand"),
    ("arenas", [], ["extra"], "unexpected argument"),
]


@pytest.mark.parametrize("verb,options,operands,words", BAD_ARGS,
                         ids=[" ".join([v] + o + a) for v, o, a, _ in BAD_ARGS])
def test_bad_arguments_give_one_clear_line(verb, options, operands, words):
    fixture = BUILT[0]
    r = run_cli(verb, *options, fixture.exe, fixture.cores["kernel"], *operands)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gomem: ") and words in lines[0], r.stderr


@pytest.mark.parametrize("verb", ["arenas", "spans", "classes", "stacks"])
def test_text_fits_100_columns(verb):
    for fixture in BUILT:
        for kind in sorted(fixture.cores):
            text = run_text(verb, fixture, kind, *(["--limit", "0"] if verb in ("spans", "stacks")
                                                    else []))
            wide = [line for line in text.splitlines() if len(line) > 100]
            assert not wide, wide[:3]


@pytest.mark.parametrize("fixture", BUILT, ids=[f.name for f in BUILT])
def test_whatis_text_fits_100_columns(fixture):
    addrs = [o["addr"] for o in fixture.truth["live_objects"] + fixture.truth["freed_objects"]]
    s = run_json("stacks", fixture, "kernel")
    for t in s["threads"]:
        addrs += [t["m_addr"]] + ([t["g0_stack_hi"] - 8] if t["g0_stack_hi"] else [])
    owners = {}
    for p in run_json("mappings", fixture, "kernel")["mappings"]:
        owners.setdefault(p["owner"], p["start"])  # the longest details come from the owners
    addrs += owners.values()
    for addr in addrs:
        text = run_text("whatis", fixture, "kernel", operands=["0x%x" % addr])
        for line in text.splitlines():
            # File names are printed whole, as `gomem mappings` prints them: what is
            # before the mapping's path must fit, whatever directory the files are in.
            if line.startswith("  mapping ") and " /" in line:
                line = line[:line.index(" /")]
            assert len(line) <= 100, text


# ---- live processes ----

@pytest.fixture(scope="module", params=BUILT, ids=[f.name for f in BUILT])
def live(request, tmp_path_factory):
    """A fixture program running from a copy of its executable, after it logged its truth."""
    fixture = request.param
    d = tmp_path_factory.mktemp("live-" + fixture.name)
    exe = str(d / "exe")
    shutil.copy(fixture.exe, exe)
    proc, truth = start_until_truth(exe, str(d), fixture.name)
    try:
        yield proc.pid, truth
    finally:
        proc.kill()
        proc.wait(timeout=30)


def live_json(verb, pid, *args, operands=()):
    r = run_cli(verb, "--json", *args, "--pid", str(pid), *operands)
    assert r.returncode == 0, "gomem %s --pid failed (%d): %s" % (verb, r.returncode, r.stderr)
    return json.loads(r.stdout)


def test_live_drilldown_matches_truth(live):
    pid, t = live
    c = live_json("classes", pid)
    assert (sum(k["objects"] for k in c["classes"]) + c["large"]["objects"]
            == t["HeapObjects"])
    assert (sum(k["object_bytes"] for k in c["classes"]) + c["large"]["object_bytes"]
            == t["HeapAlloc"])
    a = live_json("arenas", pid)
    assert sum(x["pages"]["in_use"] for x in a["arenas"]) * PAGE == t["HeapInuse"]
    assert sum(x["pages"]["free_released"] for x in a["arenas"]) * PAGE == t["HeapReleased"]
    assert all(x["resident_bytes"] is not None for x in a["arenas"])
    summary = live_json("summary", pid)
    s = live_json("spans", pid, "--state", "in-use")
    assert len(s["spans"]) == summary["heap"]["spans"]["in_use"]
    assert sum(x["npages"] for x in s["spans"]) * PAGE == t["HeapInuse"]
    st = live_json("stacks", pid)
    assert st["totals"]["user_goroutines"] == t["num_goroutine"]
    assert st["totals"]["unexplained_bytes"] == 0
    assert st["totals"]["StackInuse"] == t["StackInuse"]
    for obj in t["live_objects"]:
        w = live_json("whatis", pid, operands=["%d" % obj["addr"]])
        assert w["object"]["allocated"] is True
        assert w["object"]["base"] <= obj["addr"] < w["object"]["base"] + w["span"]["elemsize"]
    for obj in t["freed_objects"]:
        w = live_json("whatis", pid, operands=["%d" % obj["addr"]])
        assert w["span"]["state"] == "free" or w["object"]["allocated"] is False
