"""The arm64 fixtures (issue 15), checked without gomem.

fixtures/mkcore-qemu.sh builds a fixture program with GOARCH=arm64, runs it under qemu-user and
keeps two guest cores of the same bytes: core.qemu as QEMU wrote it (every page written) and
core.kernel with the host kernel's holes (pages never touched) punched in. ./setup test makes one
per "-a arm64" line of fixtures/matrix.txt into build/fixtures-arm64; one is committed in
fixtures/demo. conftest.arm64_fixtures() lists them all; these tests check that each line was
built and that each fixture is what the gomem tests on arm64 rely on. Also here: the truth of
the amd64 fixtures records the page size and that they did not run under emulation.
"""

import os
import re
import subprocess
import sys

import pytest

from conftest import ARM64_FIXTURES, TOP, arm64_fixtures, built_fixtures

sys.path.insert(0, os.path.join(TOP, "fixtures"))
import qemucore  # noqa: E402  (the fixtures' own ELF reader)

MATRIX = os.path.join(TOP, "fixtures", "matrix.txt")
EM_AARCH64 = 183
# What QEMU 7.2 writes in a guest core (ARM64.md): these three notes, nothing else.
QEMU_NOTES = {qemucore.NT_PRSTATUS, qemucore.NT_PRPSINFO, qemucore.NT_AUXV}


def arm64_entries():
    """(program, version, experiment, pie, page size) of every -a arm64 line of the matrix."""
    entries = []
    with open(MATRIX) as f:
        for line in f:
            words = line.split("#")[0].split()
            if len(words) < 2 or "-a" not in words:
                continue
            flags = words[2:]
            if flags[flags.index("-a") + 1] != "arm64":
                continue
            experiment = flags[flags.index("-e") + 1] if "-e" in flags else None
            page = int(flags[flags.index("-P") + 1]) if "-P" in flags else None
            entries.append((words[0], words[1], experiment, "-p" in flags, page))
    return entries


ENTRIES = arm64_entries()
FIXTURES = arm64_fixtures()


def test_the_matrix_has_the_arm64_lines_issue_15_asks_for():
    versions = {v for _, v, _, _, _ in ENTRIES}
    assert {"1.19", "1.22", "1.26", "1.27"} <= versions
    assert any(pie for _, _, _, pie, _ in ENTRIES)
    assert any(prog == "hello" for prog, _, _, _, _ in ENTRIES)  # cgo
    assert any(page == 65536 for _, _, _, _, page in ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: "%s-%s%s%s%s" % (
    e[0], e[1], "-" + e[2] if e[2] else "", "-pie" if e[3] else "",
    "-%dk" % (e[4] // 1024) if e[4] else ""))
def test_each_arm64_matrix_line_was_built(entry):
    prog, version, experiment, pie, page = entry
    name = r"^%s-go%s(\.\d+)?%s-arm64%s%s$" % (
        re.escape(prog), re.escape(version), re.escape("-" + experiment) if experiment else "",
        "-pie" if pie else "", "-%dk" % (page // 1024) if page else "")
    found = [f for f in FIXTURES if re.match(name, f.name)]
    assert found, "no fixture %s in %s: run ./setup fixtures (GOMEM_ARM64=1)" % (name,
                                                                                ARM64_FIXTURES)
    t = found[0].truth
    assert t["goarch"] == "arm64" and t["emulated"] is True
    assert t["go_version"].startswith("go" + version)
    assert t["page_size"] == (page or 4096)
    assert t["buildmode"] == ("pie" if pie else "exe")
    assert t["cgo"] == (prog == "hello")
    assert sorted(found[0].cores) == ["kernel", "qemu"]


def test_one_arm64_fixture_is_committed():
    assert any(f.name.startswith("committed-") for f in FIXTURES)


@pytest.mark.parametrize("fixture", FIXTURES, ids=str)
def test_arm64_truth_is_the_guests_own(fixture):
    """Under QEMU /proc/self/status is QEMU's: what the guest cannot know is null, with why."""
    t = fixture.truth
    for key in ("VmRSS", "RssAnon", "RssFile", "Threads"):
        assert t[key] is None, key
    assert "/proc/self/status is the emulator's" in t["unknown_why"]
    # QEMU 7.2 emulates the guest's /proc/self/maps faithfully with 4 KiB pages only.
    assert (t["VmSize"] is None) == (t["page_size"] != 4096)
    assert t["host_VmSize"] > 0 and t["host_Threads"] > 0
    assert t["kernel_arch"] in (None, "x86_64")
    assert len(t["live_objects"]) > 0


@pytest.mark.parametrize("fixture", FIXTURES, ids=str)
def test_arm64_cores_are_qemus(fixture):
    t = fixture.truth
    kernel = qemucore.Elf(fixture.cores["kernel"])
    qemu = qemucore.Elf(fixture.cores["qemu"])
    exe = qemucore.Elf(fixture.exe)
    assert exe.machine == kernel.machine == qemu.machine == EM_AARCH64
    assert kernel.phdrs == qemu.phdrs and kernel.notes == qemu.notes
    assert os.path.getsize(fixture.cores["kernel"]) == os.path.getsize(fixture.cores["qemu"])
    assert {ntype for _, ntype, _ in qemu.notes} == QEMU_NOTES
    prstatus = qemu.notes_of(qemucore.NT_PRSTATUS)
    assert prstatus and all(len(d) == 392 for d in prstatus)  # the kernel's arm64 size
    assert qemu.auxv(qemucore.AT_PAGESZ) == t["page_size"]
    if t["VmSize"] is not None:
        assert sum(p[6] for p in qemu.loads) == t["VmSize"]
    for o in t["live_objects"] + t["freed_objects"]:
        assert qemu.segment_of(o["addr"], 8), hex(o["addr"])
    # QEMU writes no PROT_NONE region (p_filesz 0), and every byte of the rest.
    assert all(p[5] == 0 for p in qemu.loads if p[1] & 7 == 0)
    assert qemucore.hole_bytes(fixture.cores["qemu"]) == 0
    # The kernel's holes: untouched pages of the heap and the stacks, whole guest pages.
    holes = qemucore.hole_bytes(fixture.cores["kernel"])
    assert holes > 0 and holes % t["page_size"] == 0


def test_committed_arm64_core_reads_in_gdb_multiarch():
    """The committed core, unpacked: gdb-multiarch reads every thread's registers,
    runtime.buildVersion and the logged objects; core.qemu (a dense copy) has the same bytes."""
    committed = [f for f in FIXTURES if f.name.startswith("committed-")]
    assert committed, "no committed arm64 fixture in fixtures/demo"
    for f in committed:
        d = os.path.dirname(f.exe)
        r = subprocess.run([sys.executable, os.path.join(TOP, "fixtures", "qemucore.py"), "check",
                            f.exe, f.cores["kernel"], os.path.join(d, "truth.json"),
                            f.cores["qemu"]], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
        assert "the same bytes as core.qemu" in r.stdout


def test_qemucore_check_refuses_a_core_of_another_program():
    """The check is not vacuous: an arm64 core with the truth of another arm64 fixture fails."""
    sized = [f for f in FIXTURES if f.truth["VmSize"] is not None]
    pairs = [(a, b) for a in sized for b in sized if a.truth["VmSize"] != b.truth["VmSize"]]
    assert pairs, "two arm64 fixtures of different VmSize are needed"
    a, b = pairs[0]
    r = subprocess.run([sys.executable, os.path.join(TOP, "fixtures", "qemucore.py"), "check",
                        a.exe, a.cores["kernel"], os.path.join(os.path.dirname(b.exe),
                                                               "truth.json")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and r.stderr.startswith("qemucore.py: "), r


def test_amd64_truths_have_the_page_size_and_were_not_emulated():
    built = built_fixtures()
    assert built, "no amd64 fixture in build/fixtures: run ./setup fixtures"
    for fixture in built:
        t = fixture.truth
        assert "page_size" in t, ("%s was made before truth.go recorded the page size: "
                                  "./setup fixtures" % fixture)
        assert t["emulated"] is False and t["goarch"] == "amd64"
        core = qemucore.Elf(fixture.cores["kernel"])
        assert core.auxv(qemucore.AT_PAGESZ) == t["page_size"], fixture
        assert t["kernel_arch"] in (None, "x86_64")
