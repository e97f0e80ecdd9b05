"""gomem on linux/arm64 cores (issue 15).

The arm64 fixtures (fixtures/mkcore-qemu.sh: the fixture programs built with GOARCH=arm64 and
run under qemu-user; conftest.arm64_fixtures(), one of them committed) each have two guest
cores of the same bytes: "qemu", as QEMU wrote it (every page written: residency unknown), and
"kernel", with the host kernel's holes punched in (the pages the guest never touched). On each:
every MemStats field exact, every check ok, goarch and the OS page size from the core, the
guest's VSZ, every byte owned, residency known only where the holes are. The drill-down verbs'
invariants run on them in test_drilldown.py, their JSON against the schemas in test_schemas.py.
Also here: the architecture must be the executable's, and an x86-64 core of 16 KiB pages is a
kernel core too. And GDB: the plugin in plain gdb (which reads no registers or threads of an
arm64 core) and in gdb-multiarch (which does).
"""

import json
import os
import re
import shutil
import struct
import subprocess
import sys

import pytest

from conftest import (EXACT_FIELDS, PLUGIN, TOP, arm64_fixtures, assert_one_line_error,
                      built_fixtures, committed_fixtures, is_server, json_from_gdb,
                      program_headers, run_cli)

sys.path.insert(0, os.path.join(TOP, "fixtures"))
import qemucore  # noqa: E402  (the fixtures' own ELF reader)

FIXTURES = arm64_fixtures()
CASES = [(f, kind) for f in FIXTURES for kind in ("kernel", "qemu")]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]
PT_LOAD, PT_NOTE = 1, 4
NT_AUXV, AT_PAGESZ = 6, 6


def summary_json(fixture, kind, *args):
    r = run_cli("summary", "--json", *args, fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, "gomem summary failed (%d): %s" % (r.returncode, r.stderr)
    assert r.stderr == ""
    return json.loads(r.stdout)


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    fixture, kind = request.param
    return fixture, kind, summary_json(fixture, kind)


def test_there_are_arm64_fixtures():
    assert FIXTURES, "no arm64 fixture: fixtures/demo has a committed one (fixtures/unpack.sh)"


def test_every_memstats_field_is_exact(case):
    fixture, kind, s = case
    t = fixture.truth
    assert {f: s["memstats"][f] for f in EXACT_FIELDS} == {f: t[f] for f in EXACT_FIELDS}


def test_every_check_is_ok(case):
    _, _, s = case
    assert s["checks"] and [c for c in s["checks"] if not c["ok"]] == []


def test_target_is_arm64_with_the_guests_page_size(case):
    fixture, _, s = case
    t = fixture.truth
    assert s["target"]["goarch"] == t["goarch"] == "arm64"
    assert s["target"]["page_size"] == t["page_size"]
    assert s["target"]["core_kind"] == "qemu"
    assert t["go_version"].startswith(s["target"]["go_version"])


def test_vsz_is_the_guests(case):
    """VSZ is the sum of the guest core's PT_LOADs (QEMU writes one per guest mapping), which
    is the VmSize of the guest's /proc/self/maps where the truth knows it."""
    fixture, kind, s = case
    _, table = program_headers(fixture.cores[kind])
    assert s["vsz_bytes"] == sum(p[6] for p in table if p[0] == PT_LOAD)
    if fixture.truth["VmSize"] is not None:
        assert s["vsz_bytes"] == fixture.truth["VmSize"]


def nodes(tree, path=()):
    yield path + (tree["name"],), tree
    for child in tree["children"]:
        yield from nodes(child, path + (tree["name"],))


def test_residency_only_where_the_core_has_holes(case):
    fixture, kind, s = case
    tree = dict(nodes(s["breakdown"]))
    heap = ("process", "Go heap")
    if kind == "qemu":
        assert s["rss_bytes"] is None
        assert all(n["rss_bytes"] is None for n in tree.values())
        assert any(w.startswith("residency unknown: %s: it was written by QEMU" %
                                fixture.cores[kind]) for w in s["warnings"]), s["warnings"]
        return
    assert s["rss_bytes"] is not None and 0 < s["rss_bytes"] < s["vsz_bytes"]
    assert any("written by QEMU" in w and "holes were made afterwards" in w
               for w in s["warnings"]), s["warnings"]
    # Reservations were never touched: holes. So are the pages released to the OS where an
    # OS page is no larger than the runtime's (8 KiB); with 64 KiB OS pages the runtime
    # counts released runs in its own pages, but the kernel frees only whole OS pages, so an
    # OS page shared with memory in use stays resident (mgcscavenge.go, physPageSize).
    released = tree[heap + ("free, released to the OS",)]
    if fixture.truth["page_size"] <= 8192:
        assert released["rss_bytes"] == 0
    else:
        assert released["rss_bytes"] < released["vsz_bytes"]
    assert tree[heap + ("reserved, not mapped",)]["rss_bytes"] == 0
    assert tree[("process", "Go reserved address space")]["rss_bytes"] == 0
    # The live objects were written: their pages are resident.
    assert tree[heap + ("in-use spans", "objects")]["rss_bytes"] > 0
    # The executable's read-only data is the file's own (QEMU wrote it, the kernel would not).
    assert tree[("process", "binary", "read-only data")]["rss_bytes"] == 0


def test_every_byte_has_an_owner(case):
    fixture, kind, s = case
    r = run_cli("mappings", "--json", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)
    owners = {o["owner"]: o["vsz_bytes"] for o in m["by_owner"]}
    assert owners.get("unknown", 0) == 0, [p for p in m["mappings"] if p["owner"] == "unknown"]
    assert sum(owners.values()) == m["vsz_bytes"] == s["vsz_bytes"]
    # A dynamically linked executable (cgo, PIE) has ld.so, named by its link map.
    libs = {os.path.basename(p["file"]) for p in m["mappings"]
            if p["owner"] == "shared-library" and p["file"]}
    dynamic = fixture.truth["cgo"] or fixture.truth["buildmode"] == "pie"
    assert any(n.startswith("ld-linux-aarch64") for n in libs) == dynamic, libs
    assert any(n.startswith("libc.so") for n in libs) == fixture.truth["cgo"], libs
    assert "[vsyscall]" not in {p["file"] for p in m["mappings"]}


def test_text_says_linux_arm64_and_the_page_size(case):
    fixture, kind, _ = case
    r = run_cli("summary", fixture.exe, fixture.cores[kind])
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()[:2]
    assert ", linux/arm64), qemu core %s" % fixture.cores[kind] in first
    page = fixture.truth["page_size"]
    assert second.endswith("OS page %s KiB" % ("%.1f" % (page / 1024)))


# ---- the architecture is the executable's ----

def amd64_fixture():
    """A fixture program's amd64 core (not a real server's: their MemStats move)."""
    found = [f for f in built_fixtures() + committed_fixtures() if not is_server(f)]
    assert found, "no amd64 fixture (fixtures/demo has committed ones)"
    return found[0]


def test_arm64_core_with_an_amd64_executable_is_one_clear_error():
    arm, amd = FIXTURES[0], amd64_fixture()
    r = run_cli("summary", amd.exe, arm.cores["kernel"])
    assert_one_line_error(r, "not from executable", arm.cores["kernel"], amd.exe,
                          "AArch64 (linux/arm64)", "x86-64 (linux/amd64)")


def test_amd64_core_with_an_arm64_executable_is_one_clear_error():
    arm, amd = FIXTURES[0], amd64_fixture()
    r = run_cli("summary", arm.exe, amd.cores["kernel"])
    assert_one_line_error(r, "not from executable", amd.cores["kernel"], arm.exe,
                          "x86-64 (linux/amd64)", "AArch64 (linux/arm64)")


# ---- an x86-64 core of 16 KiB pages (synthetic) ----

def rewrite_page_size(src, dst, p_align, at_pagesz):
    """A sparse copy of a kernel core with every PT_LOAD's p_align and NT_AUXV's AT_PAGESZ
    rewritten: a kernel of another page size aligns its core's segments to it."""
    subprocess.run(["cp", "--sparse=always", src, dst], check=True)
    phoff, table = program_headers(dst)
    with open(dst, "r+b") as f:
        for i, p in enumerate(table):
            if p[0] == PT_LOAD:
                f.seek(phoff + 56 * i + 48)
                f.write(struct.pack("<Q", p_align))
        note = next(p for p in table if p[0] == PT_NOTE)
        f.seek(note[2])
        notes = f.read(note[5])
        off, found = 0, False
        while off + 12 <= len(notes):
            namesz, descsz, ntype = struct.unpack_from("<III", notes, off)
            desc = off + 12 + (namesz + 3) // 4 * 4
            if ntype == NT_AUXV and notes[off + 12:off + 16] == b"CORE":
                for a in range(desc, desc + descsz, 16):
                    key, _ = struct.unpack_from("<QQ", notes, a)
                    if key == AT_PAGESZ:
                        f.seek(note[2] + a + 8)
                        f.write(struct.pack("<Q", at_pagesz))
                        found = True
            off = desc + (descsz + 3) // 4 * 4
        assert found, "no AT_PAGESZ in %s" % src


def test_x86_64_core_of_16k_pages_is_a_kernel_core(tmp_path):
    amd = amd64_fixture()
    core = str(tmp_path / "core-16k")
    rewrite_page_size(amd.cores["kernel"], core, 16384, 16384)
    r = run_cli("summary", "--json", amd.exe, core)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["target"]["core_kind"] == "kernel" and s["target"]["page_size"] == 16384
    assert s["target"]["goarch"] == "amd64"
    assert {f: s["memstats"][f] for f in EXACT_FIELDS} == {f: amd.truth[f] for f in EXACT_FIELDS}
    assert [c for c in s["checks"] if not c["ok"]] == []
    assert s["rss_bytes"] is not None


def test_p_align_that_is_not_the_page_size_is_no_kernel_core(tmp_path):
    """p_align 16 KiB with AT_PAGESZ 4 KiB: not what a kernel writes; still read, as a gcore
    (residency unknown)."""
    amd = amd64_fixture()
    core = str(tmp_path / "core-align")
    rewrite_page_size(amd.cores["kernel"], core, 16384, 4096)
    r = run_cli("summary", "--json", amd.exe, core)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["target"]["core_kind"] == "gcore" and s["target"]["page_size"] == 4096
    assert s["rss_bytes"] is None
    assert {f: s["memstats"][f] for f in EXACT_FIELDS} == {f: amd.truth[f] for f in EXACT_FIELDS}


# ---- GDB: plain gdb and gdb-multiarch ----

def run_gdb_binary(gdb, exe, core, *commands):
    path = shutil.which(gdb)
    assert path, "%s is not installed (./setup test installs it)" % gdb
    argv = [path, "-nx", "-q", "-batch", "-iex", "set auto-load off", "-x", PLUGIN]
    for c in commands:
        argv += ["-ex", c]
    r = subprocess.run(argv + [exe, core], capture_output=True, text=True, timeout=300)
    return r.stdout, r.stderr


@pytest.mark.parametrize("gdb", ["gdb", "gdb-multiarch"])
def test_plugin_in_gdb_gives_the_clis_summary(gdb):
    """The plugin opens the core itself: plain gdb, which reads no registers or threads of an
    arm64 core, gives the same summary as gdb-multiarch and the CLI."""
    fixture = FIXTURES[-1]
    core = fixture.cores["kernel"]
    out, err = run_gdb_binary(gdb, fixture.exe, core, "gomem summary --json",
                              "info threads")
    assert "Traceback" not in out + err
    assert json_from_gdb(out) == summary_json(fixture, "kernel")
    threads = [line for line in out.splitlines() if re.match(r"^\*?\s+\d+\s+LWP \d+", line)]
    if gdb == "gdb-multiarch":
        assert len(threads) == len(qemucore.Elf(core).notes_of(qemucore.NT_PRSTATUS)) > 0
    else:
        assert threads == []  # plain gdb: no threads of an arm64 core, and gomem needs none


def test_gdb_multiarch_whatis_of_the_stack_pointer():
    fixture = FIXTURES[-1]
    out, err = run_gdb_binary("gdb-multiarch", fixture.exe, fixture.cores["kernel"],
                              "gomem whatis --json $sp")
    assert "Traceback" not in out + err
    w = json_from_gdb(out)
    assert w["mapping"] is not None and w["owner"] in ("go-heap", "main-stack", "thread-stack")


def test_live_process_of_another_machine_is_one_clear_error():
    """/proc/PID/mem and ptrace read a process of gomem's own machine: with an arm64 executable
    on this x86-64 machine, a pid is refused before anything of it is read or stopped."""
    fixture = FIXTURES[0]
    proc = subprocess.Popen(["sleep", "60"])
    try:
        r = run_cli("summary", "--pid", str(proc.pid), fixture.exe)
        assert_one_line_error(r, "process %d" % proc.pid, fixture.exe, "AArch64 (linux/arm64)",
                              "gomem runs on x86-64")
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
