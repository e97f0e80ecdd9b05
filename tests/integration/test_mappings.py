"""`gomem mappings` and the breakdown tree of `gomem summary`, against the cores themselves.

Every number is checked against something gomem did not compute: the core's
program headers and notes (read here in Python), the executable's program
headers, the files the process mapped, and the MemStats, VmSize and RssAnon
that each fixture program logged about itself right before its cores were
taken.
"""

import os
import struct
import xml.etree.ElementTree as ET

import pytest

from conftest import (built_fixtures, cli_json, json_from_gdb, program_headers, run_cli,
                      run_gdb)

OWNERS = {"go-heap", "go-heap-reserved", "go-runtime-metadata", "go-runtime-reserved",
          "thread-stack", "main-stack", "c-heap", "binary", "shared-library", "file-mapping",
          "kernel", "unknown"}
TOP_NODES = ["Go heap", "Go runtime metadata", "Go reserved address space", "thread stacks",
             "C heap", "binary", "shared libraries", "file mappings", "kernel", "unknown"]
VSYSCALL = 0xffffffffff600000
PAGE = 4096
PF_X, PF_W, PF_R = 1, 2, 4

BUILT = built_fixtures()
CASES = [(f, kind) for f in BUILT for kind in sorted(f.cores)]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]
KERNEL = [(f, "kernel") for f in BUILT if "kernel" in f.cores]
KERNEL_IDS = [f.name for f, _ in KERNEL]


# ---- the core, read independently ----

class Core:
    """PT_LOADs and the notes gomem uses, parsed here without libcore."""

    def __init__(self, path):
        self.path = path
        self.loads, self.files, self.auxv, self.tids = [], [], {}, []
        with open(path, "rb") as f:
            for typ, flags, off, vaddr, _, filesz, memsz, _ in program_headers(path)[1]:
                if typ == 1:
                    self.loads.append((vaddr, memsz, off, filesz, flags))
                elif typ == 4:
                    f.seek(off)
                    self._notes(f.read(filesz))

    def _notes(self, data):
        p = 0
        while p + 12 <= len(data):
            namesz, descsz, typ = struct.unpack_from("<III", data, p)
            name = data[p + 12:p + 12 + namesz]
            d = p + 12 + ((namesz + 3) & ~3)
            desc = data[d:d + descsz]
            if name.startswith(b"CORE") and typ == 0x46494c45:  # NT_FILE
                count, pagesz = struct.unpack_from("<QQ", desc, 0)
                names = desc[16 + 24 * count:].split(b"\0")
                for j in range(count):
                    s, e, o = struct.unpack_from("<QQQ", desc, 16 + 24 * j)
                    self.files.append((s, e, o * pagesz, names[j].decode()))
            elif name.startswith(b"CORE") and typ == 6:  # NT_AUXV
                for k in range(0, len(desc) - 15, 16):
                    a, v = struct.unpack_from("<QQ", desc, k)
                    self.auxv[a] = v
            elif name.startswith(b"CORE") and typ == 1:  # NT_PRSTATUS
                self.tids.append(struct.unpack_from("<i", desc, 32)[0])
            p = d + ((descsz + 3) & ~3)

    def memsz_total(self):
        return sum(m for _, m, _, _, _ in self.loads)

    def present_pages(self, off, length):
        """File offsets of the pages of [off, off+length) that are data, not holes."""
        fd = os.open(self.path, os.O_RDONLY)
        try:
            pos, end = off, off + length
            while pos < end:
                try:
                    d = os.lseek(fd, pos, os.SEEK_DATA)
                except OSError:
                    break
                if d >= end:
                    break
                h = min(os.lseek(fd, d, os.SEEK_HOLE), end)
                for p in range(d, h, PAGE):
                    yield p
                pos = h
        finally:
            os.close(fd)

    def anonymous_resident(self, exe_path):
        """Bytes present in the core, less the pages of file mappings equal to their file.

        The kernel dumps a private file mapping whole once any page of it was
        written; its other pages are the file's (page cache, counted in
        RssFile, not RssAnon).
        """
        total = 0
        with open(self.path, "rb") as core:
            for vaddr, memsz, off, filesz, _ in self.loads:
                if vaddr == VSYSCALL:
                    continue
                f = [x for x in self.files if x[0] <= vaddr < x[1]]
                for p in self.present_pages(off, filesz):
                    if f:
                        s, _, foff, name = f[0]
                        if os.path.basename(name) == os.path.basename(exe_path):
                            name = exe_path  # the fixture may have moved since
                        core.seek(p)
                        page = core.read(PAGE)
                        try:
                            with open(name, "rb") as fh:
                                fh.seek(foff + (vaddr - s) + (p - off))
                                want = fh.read(PAGE)
                        except OSError:
                            want = None
                        if want is not None and page == want + b"\0" * (PAGE - len(want)):
                            continue
                    total += PAGE
        return total


def exe_segments(exe, at_entry):
    """The executable's PT_LOADs where the process had them, page-aligned: [(start, end)].
    A PIE is placed by its load bias: the core's AT_ENTRY less the file's e_entry."""
    with open(exe, "rb") as f:
        ehdr = f.read(64)
        etype, = struct.unpack_from("<H", ehdr, 16)
        entry, = struct.unpack_from("<Q", ehdr, 0x18)
        phoff, = struct.unpack_from("<Q", ehdr, 0x20)
        phnum, = struct.unpack_from("<H", ehdr, 0x38)
        f.seek(phoff)
        ph = f.read(56 * phnum)
    assert etype in (2, 3), "not an executable"
    bias = at_entry - entry if etype == 3 else 0
    segs = []
    for i in range(phnum):
        typ, _, _, vaddr, _, _, memsz, _ = struct.unpack_from("<IIQQQQQQ", ph, 56 * i)
        if typ == 1:
            vaddr += bias
            segs.append((vaddr & ~(PAGE - 1), (vaddr + memsz + PAGE - 1) & ~(PAGE - 1)))
    return segs


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    core = fixture.cores[kind]
    return (fixture, kind, Core(core), cli_json("mappings", fixture.exe, core),
            cli_json("summary", fixture.exe, core))


def parts(m, **want):
    return [p for p in m["mappings"] if all(p[k] == v for k, v in want.items())]


# ---- mappings ----

def test_mappings_are_sorted_disjoint_and_owned(case):
    _, _, _, m, _ = case
    assert m["schema"] == "gomem/mappings/v1"
    prev_end = 0
    for p in m["mappings"]:
        assert p["start"] >= prev_end and p["end"] > p["start"], p
        assert p["vsz_bytes"] == p["end"] - p["start"]
        assert p["owner"] in OWNERS
        assert p["detail"]
        prev_end = p["end"]


def test_mappings_cover_every_pt_load_exactly(case):
    """Σ parts = Σ PT_LOAD p_memsz; each PT_LOAD is covered by parts, nothing more."""
    _, kind, core, m, _ = case
    loads = sorted((v, v + s) for v, s, _, _, _ in core.loads)
    covered = [(p["start"], p["end"]) for p in m["mappings"]]
    in_loads = sum(min(e, b) - max(s, a) for s, e in covered for a, b in loads
                   if s < b and a < e)
    assert in_loads == core.memsz_total()
    if kind == "kernel":
        assert sum(e - s for s, e in covered) == core.memsz_total()
    else:
        # A gcore leaves out file mappings it lists in NT_FILE: gomem adds them back.
        extra = sum(e - s for s, e in covered) - core.memsz_total()
        nt_file = sum(e - s for s, e, _, _ in core.files
                      if not any(a < e and s < b for a, b in loads))
        assert extra == nt_file


def test_vsz_is_vmsize_and_by_owner_adds_up(case):
    fixture, kind, core, m, s = case
    vsyscall = sum(e - v for v, e in ((v, v + s) for v, s, _, _, _ in core.loads)
                   if v == VSYSCALL)
    in_vsz = sum(p["vsz_bytes"] for p in m["mappings"] if p["in_vsz"])
    assert in_vsz == m["vsz_bytes"] == s["vsz_bytes"]
    assert sum(o["vsz_bytes"] for o in m["by_owner"]) == m["vsz_bytes"]
    assert [p["start"] for p in m["mappings"] if not p["in_vsz"]] == (
        [VSYSCALL] if vsyscall else [])
    if kind == "kernel":
        assert m["vsz_bytes"] == core.memsz_total() - vsyscall
        if core.memsz_total() - vsyscall != fixture.truth["VmSize"]:
            pytest.xfail("this core holds %d bytes more than the VmSize its program logged "
                         "(something was mapped between the log and the crash)"
                         % (core.memsz_total() - vsyscall - fixture.truth["VmSize"]))
        assert m["vsz_bytes"] == fixture.truth["VmSize"]


def test_perms_are_those_of_proc_maps(case):
    """rwx from the PT_LOAD flags, then p or s: every part without a file, and every part of
    an ELF image (mapped MAP_PRIVATE by the kernel or ld.so), is p; a file mapping is p only
    where the core holds its pages, else '?', with one warning that says why."""
    _, kind, core, m, _ = case
    files = [(s, e, name) for s, e, _, name in core.files]
    unknown = 0
    for p in m["mappings"]:
        assert len(p["perms"]) == 4 and p["perms"][3] in "ps?", p
        named = [name for s, e, name in files if s <= p["start"] and p["end"] <= e]
        if not p["file"] or p["file"].startswith("["):
            assert p["perms"][3] == "p", p
        elif p["owner"] in ("binary", "shared-library"):
            assert p["perms"][3] == "p" and is_elf(named[0] if named else p["file"]), p
        else:
            assert p["owner"] == "file-mapping", p
            unknown += p["perms"][3] == "?"
    said = [w for w in m["warnings"] if w.startswith("perms: '?'")]
    assert len(said) == (1 if unknown else 0), (unknown, said)


def test_kernel_core_rss_is_anonymous_pages_present_in_the_core(case):
    """rss_bytes = pages present in the core file, less file pages equal to their file.

    Against RssAnon the tolerance is 10%: the program logged it, then ran on
    until the kernel core (gcore attached and detached, the SIGABRT handler
    printed every goroutine's traceback), touching a few more pages.
    """
    fixture, kind, core, m, s = case
    if kind != "kernel":
        for x in (m, s):
            assert x["rss_bytes"] is x["rss_anon_bytes"] is x["rss_file_bytes"] is None
        assert all(p["rss_bytes"] is None for p in m["mappings"])
        assert any("residency unknown" in w for w in m["warnings"])
        return
    expected = core.anonymous_resident(fixture.exe)
    assert m["rss_bytes"] == s["rss_bytes"] == expected
    # What a kernel core holds is anonymous; the page cache is not in it.
    for x in (m, s):
        assert x["rss_anon_bytes"] == expected and x["rss_file_bytes"] is None
    assert sum(p["rss_bytes"] for p in m["mappings"] if p["in_vsz"]) == expected
    assert abs(expected - fixture.truth["RssAnon"]) <= fixture.truth["RssAnon"] // 10
    for p in m["mappings"]:
        assert 0 <= p["rss_bytes"] <= p["vsz_bytes"]
        if p["perms"][:3] == "---":
            assert p["rss_bytes"] == 0, p


def test_go_heap_is_the_mapped_heap_of_memstats(case):
    fixture, _, _, m, s = case
    t, heap = fixture.truth, s["heap"]
    heap_bytes = sum(p["vsz_bytes"] for p in parts(m, owner="go-heap"))
    reserved = sum(p["vsz_bytes"] for p in parts(m, owner="go-heap-reserved"))
    assert heap_bytes == t["HeapSys"] + t["StackInuse"] + heap["work_buf_bytes"]
    assert heap_bytes + reserved == heap["arenas"] * (64 << 20)


def test_runtime_metadata_found_equals_memstats(case):
    """Every byte the runtime counts in a *Sys outside the heap was located."""
    fixture, _, _, _, s = case
    t = fixture.truth
    check = [c for c in s["checks"] if c["name"].startswith("metadata found")]
    assert len(check) == 1 and check[0]["ok"], check
    assert check[0]["runtime"] == (t["Sys"] - t["HeapSys"] - t["StackInuse"]
                                   - s["heap"]["work_buf_bytes"])


def test_arena_index_is_one_32_mib_mapping(case):
    _, _, _, m, _ = case
    idx = [p for p in parts(m, owner="go-runtime-metadata") if "arena index" in p["detail"]]
    assert [p["vsz_bytes"] for p in idx] == [(1 << 22) * 8]  # [1 << arenaL2Bits]*heapArena


def test_binary_is_the_executable_segments(case):
    fixture, _, core, m, _ = case
    segs = exe_segments(fixture.exe, core.auxv[9])
    binary = parts(m, owner="binary")
    assert sum(p["vsz_bytes"] for p in binary) == sum(e - s for s, e in segs)
    for p in binary:
        assert any(s <= p["start"] and p["end"] <= e for s, e in segs), p


def is_elf(path):
    """Whether the file at path (on this machine, where the fixtures ran) is an ELF file."""
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def test_files_are_binary_shared_libraries_or_file_mappings(case):
    """The executable's mappings are binary, other ELF files' shared-library, and any other
    file a file-mapping, named by its path in the breakdown."""
    fixture, _, core, m, summary = case
    # Adjacent segments merged: ld.so's RELRO mprotect splits a PIE's data
    # mappings across the boundary of two PT_LOADs.
    segs = []
    for a, b in sorted(exe_segments(fixture.exe, core.auxv[9])):
        if segs and a <= segs[-1][1]:
            segs[-1] = (segs[-1][0], max(b, segs[-1][1]))
        else:
            segs.append((a, b))
    for s, e, _, name in core.files:
        exe = any(a <= s and e <= b for a, b in segs)
        assert exe == (os.path.basename(name) == os.path.basename(fixture.exe)), name
        owner = "binary" if exe else "shared-library" if is_elf(name) else "file-mapping"
        for p in m["mappings"]:
            if p["start"] < e and s < p["end"]:
                assert p["owner"] == owner, p
    files = {n["name"]: n for n in summary["breakdown"]["children"]}["file mappings"]
    mapped = {}
    for p in parts(m, owner="file-mapping"):
        mapped[p["file"]] = mapped.get(p["file"], 0) + p["vsz_bytes"]
    assert {n["name"]: n["vsz_bytes"] for n in files["children"]} == mapped


def test_kernel_pages_from_auxv(case):
    """The vdso starts at AT_SYSINFO_EHDR; the main stack holds AT_RANDOM."""
    _, _, core, m, _ = case
    vdso = [p for p in m["mappings"] if p["start"] == core.auxv[33]]
    assert len(vdso) == 1 and vdso[0]["owner"] == "kernel"
    stack = [p for p in m["mappings"] if p["start"] <= core.auxv[25] < p["end"]]
    assert len(stack) == 1 and stack[0]["owner"] == "main-stack"
    assert len(parts(m, owner="main-stack")) == 1


def test_cgo_threads_have_pthread_stacks(case):
    """With cgo every thread but the main one runs on a pthread stack with a guard page."""
    fixture, _, core, m, _ = case
    stacks = [p for p in parts(m, owner="thread-stack")
              if p["detail"].startswith("pthread stack")]
    guards = [p for p in parts(m, owner="thread-stack") if p["detail"].startswith("guard page")]
    if not fixture.truth["cgo"]:
        assert stacks == [] and guards == []
        return
    assert len(stacks) == len(core.tids) - 1
    assert len(guards) == len(stacks)
    for g in guards:
        assert g["perms"] in ("---p", "r--p") and any(s["start"] == g["end"] for s in stacks)


# ---- the breakdown tree ----

def walk(node, depth=0):
    yield node, depth
    for k in node["children"]:
        yield from walk(k, depth + 1)


def test_breakdown_sums_at_every_level(case):
    _, kind, _, _, s = case
    root = s["breakdown"]
    assert root["vsz_bytes"] == s["vsz_bytes"]
    assert root["rss_bytes"] == s["rss_bytes"]
    for node, _ in walk(root):
        if node["children"]:
            assert sum(k["vsz_bytes"] for k in node["children"]) == node["vsz_bytes"]
            if kind == "kernel":
                assert sum(k["rss_bytes"] for k in node["children"]) == node["rss_bytes"]
        if kind == "kernel":
            assert 0 <= node["rss_bytes"] <= node["vsz_bytes"], node["name"]
        else:
            assert node["rss_bytes"] is None


def test_breakdown_top_level_matches_owners(case):
    _, _, _, m, s = case
    top = {k["name"]: k["vsz_bytes"] for k in s["breakdown"]["children"]}
    assert list(top) == TOP_NODES
    owner = {o["owner"]: o["vsz_bytes"] for o in m["by_owner"]}
    get = owner.get
    assert top["Go heap"] == get("go-heap", 0) + get("go-heap-reserved", 0)
    assert top["Go runtime metadata"] == get("go-runtime-metadata", 0)
    assert top["Go reserved address space"] == get("go-runtime-reserved", 0)
    assert top["thread stacks"] == get("thread-stack", 0) + get("main-stack", 0)
    assert top["C heap"] == get("c-heap", 0)
    assert top["binary"] == get("binary", 0)
    assert top["shared libraries"] == get("shared-library", 0)
    assert top["file mappings"] == get("file-mapping", 0)
    assert top["kernel"] == get("kernel", 0)
    assert top["unknown"] == get("unknown", 0)


def test_go_heap_leaves_equal_memstats(case):
    fixture, _, _, _, s = case
    t, heap = fixture.truth, s["heap"]
    node = {n["name"]: n for n in s["breakdown"]["children"]}["Go heap"]
    kids = {k["name"]: k for k in node["children"]}
    spans = {k["name"]: k["vsz_bytes"] for k in kids["in-use spans"]["children"]}
    assert kids["in-use spans"]["vsz_bytes"] == t["HeapInuse"]
    assert spans["objects"] == t["HeapAlloc"]
    assert spans["free slots"] == heap["free_slot_bytes"]
    assert spans["tail waste"] == heap["tail_waste_bytes"]
    assert kids["stack spans (goroutines, g0, gsignal)"]["vsz_bytes"] == t["StackInuse"]
    assert kids["free, retained"]["vsz_bytes"] == t["HeapIdle"] - t["HeapReleased"]
    assert kids["free, released to the OS"]["vsz_bytes"] == t["HeapReleased"]
    assert kids["reserved, not mapped"]["vsz_bytes"] == heap["unmapped_arena_bytes"]
    assert "mapped, in no span or free run" not in kids


def test_explanation_answers_why(case):
    _, _, _, _, s = case
    sentences = s["explanation"]
    # 3 to 6 on VSZ against RSS, then the one on the heap since the last GC (summary).
    assert "gcController.heapMarked" in sentences[-1]
    assert 3 <= len(sentences) - 1 <= 6
    assert all(x.endswith(".") for x in sentences)
    assert sentences[0].startswith("VSZ is ")
    assert "largest reservations" in " ".join(sentences)


def test_text_fits_100_columns():
    fixture = BUILT[0]
    for verb in ("summary", "mappings"):
        r = run_cli(verb, fixture.exe, fixture.cores["kernel"])
        assert r.returncode == 0, r.stderr
        for line in r.stdout.splitlines():
            # File names are printed whole; warnings are one line each.
            if line.startswith("warning:") or "/" in line:
                continue
            assert len(line) <= 100, line


# ---- the picture ----

def check_svg(path, summary):
    root = ET.parse(path).getroot()
    ns = "{http://www.w3.org/2000/svg}"
    nodes = [g for g in root.iter(ns + "g") if g.get("class") == "node"]
    tree = [n for n, _ in walk(summary["breakdown"])]
    assert sorted(g.get("data-name") for g in nodes) == sorted(n["name"] for n in tree)
    rects = []
    for g in nodes:
        assert g.find(ns + "title").text
        r = g.find(ns + "rect")
        x, y, w, h = (float(r.get(a)) for a in ("x", "y", "width", "height"))
        rects.append((g.get("data-name"), int(g.get("data-vsz")), x, y, w, h))
    name0, total, x0, y0, w0, h0 = rects[0]
    assert name0 == "process" and total == summary["vsz_bytes"]
    for name, vsz, x, y, w, h in rects:
        # Areas proportional to VSZ; the coordinates are printed with 4 decimals.
        want = w0 * h0 * vsz / total
        assert abs(w * h - want) <= 0.001 * (w + h) + 1e-6, (name, w * h, want)
        assert x0 - 1e-3 <= x and x + w <= x0 + w0 + 1e-3, name
        assert y0 - 1e-3 <= y and y + h <= y0 + h0 + 1e-3, name


@pytest.mark.parametrize("fixture", BUILT, ids=[f.name for f in BUILT])
def test_svg_treemap_areas_are_proportional(fixture, tmp_path):
    core = fixture.cores["kernel"]
    out = tmp_path / "map.svg"
    r = run_cli("summary", "--svg", str(out), fixture.exe, core)
    assert r.returncode == 0, r.stderr
    assert "written to %s" % out in r.stdout
    check_svg(str(out), cli_json("summary", fixture.exe, core))


def test_svg_into_a_missing_directory_fails_cleanly(tmp_path):
    fixture = BUILT[0]
    r = run_cli("summary", "--svg", str(tmp_path / "no" / "map.svg"), fixture.exe,
                fixture.cores["kernel"])
    assert r.returncode == 2 and "--svg" in r.stderr and r.stdout == ""


# ---- GDB ----

@pytest.mark.parametrize("fixture", BUILT[:3], ids=[f.name for f in BUILT[:3]])
def test_gdb_mappings_json_equals_cli(fixture):
    core = fixture.cores["kernel"]
    _, out, err = run_gdb(fixture.exe, core, "gomem mappings --json")
    assert "Traceback" not in err + out
    assert json_from_gdb(out) == cli_json("mappings", fixture.exe, core)


def test_gdb_summary_writes_the_same_svg(tmp_path):
    fixture = BUILT[0]
    core = fixture.cores["kernel"]
    a, b = tmp_path / "gdb.svg", tmp_path / "cli.svg"
    _, out, err = run_gdb(fixture.exe, core, "gomem summary --svg %s" % a)
    assert "Traceback" not in err + out and "written to" in out
    assert run_cli("summary", "--svg", str(b), fixture.exe, core).returncode == 0
    assert a.read_bytes() == b.read_bytes()
