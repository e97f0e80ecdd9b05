"""The Go version matrix (fixtures/matrix.txt): every version and variant was built and read.

test_summary.py runs every MemStats and walk assertion on every fixture core,
matrix ones included; this file checks that the matrix is complete and that
gomem identified each build (version, experiments, PIE) correctly.
"""

import json
import os
import re
import subprocess

import pytest

from conftest import TOP, built_fixtures, cli_json, committed_names

MATRIX = os.path.join(TOP, "fixtures", "matrix.txt")


def matrix_entries():
    entries = []
    with open(MATRIX) as f:
        for line in f:
            words = line.split("#")[0].split()
            if not words:
                continue
            prog, version, flags = words[0], words[1], words[2:]
            if "-a" in flags:  # another GOARCH under qemu-user: test_arm64_fixtures.py
                continue
            if "-s" in flags:  # stripped builds (queues has no other): test_stripped.py
                continue
            experiment = flags[flags.index("-e") + 1] if "-e" in flags else None
            entries.append((prog, version, experiment, "-p" in flags))
    return entries


def fixture_for(prog, version, experiment, pie):
    """The built fixture of one matrix line: PROG-goVERSION.PATCH[-EXPERIMENT][-pie]."""
    suffix = ("-" + experiment if experiment else "") + ("-pie" if pie else "")
    pattern = re.compile(r"^%s-go%s(\.\d+)?%s$" % (re.escape(prog), re.escape(version),
                                                   re.escape(suffix)))
    found = [f for f in built_fixtures() if pattern.match(f.name)]
    return found[0] if found else None


ENTRIES = matrix_entries()
IDS = ["%s-%s%s%s" % (p, v, "-" + e if e else "", "-pie" if pie else "")
       for p, v, e, pie in ENTRIES]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_matrix_fixture_was_built_and_read(entry):
    prog, version, experiment, pie = entry
    f = fixture_for(*entry)
    assert f is not None, "no fixture core for %s: ./setup test builds the matrix" % (entry,)
    s = cli_json("summary", f.exe, f.cores["kernel"])
    assert s["target"]["go_version"].startswith("go" + version + ".")
    if experiment:
        assert experiment in s["target"]["experiments"]
    failed = [c["name"] for c in s["checks"] if not c["ok"]]
    assert not failed
    elf_type = subprocess.run(["readelf", "-h", f.exe], capture_output=True, text=True).stdout
    assert ("DYN" in elf_type) == pie


def test_matrix_covers_the_supported_releases():
    versions = {v for _, v, _, _ in ENTRIES}
    assert {"1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27"} <= versions


def test_every_supported_release_has_a_committed_core():
    """Frozen cores, so the matrix is also tested from files that do not change."""
    versions = {re.match(r".*-go(1\.\d+)$", name).group(1) for name in committed_names()}
    assert {"1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27"} <= versions


def test_committed_fixtures_stay_under_30_mib():
    total = 0
    for root, _, files in os.walk(os.path.join(TOP, "fixtures")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    assert total < 30 << 20, total


def _with_version(fixture, tmp_path, new):
    """A copy of the fixture's executable whose .go.buildinfo names another Go release
    (same length, so nothing else moves)."""
    with open(fixture.exe, "rb") as f:
        data = f.read()
    old = fixture.truth["go_version"].split()[0].split("-X:")[0].encode()
    assert len(new) == len(old) and data.count(b"\xff Go buildinf:") == 1
    start = data.index(b"\xff Go buildinf:")
    at = data.index(old, start)
    path = tmp_path / "exe"
    path.write_bytes(data[:at] + new.encode() + data[at + len(old):])
    return str(path)


def _system_heapmix():
    from conftest import system_go_fixtures
    return system_go_fixtures()["heapmix"]


def test_newer_go_than_tested_is_read_with_a_warning(tmp_path):
    f = _system_heapmix()
    old = f.truth["go_version"]
    newer = "go1.99" + old[len("go1.26"):]  # go1.26.8 -> go1.99.8
    exe = _with_version(f, tmp_path, newer)
    r = subprocess.run([os.path.join(os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build")),
                                     "gomem"), "summary", "--json", exe, f.cores["kernel"]],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["target"]["go_version"] == newer
    assert any("newer than the newest Go gomem was tested with" in w for w in s["warnings"])
    assert all(c["ok"] for c in s["checks"])


def test_go_older_than_1_19_is_one_clear_error(tmp_path):
    f = _system_heapmix()
    old = f.truth["go_version"]
    older = "go1.18" + old[len("go1.26"):]
    exe = _with_version(f, tmp_path, older)
    r = subprocess.run([os.path.join(os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build")),
                                     "gomem"), "summary", exe, f.cores["kernel"]],
                       capture_output=True, text=True)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and "gomem reads Go 1.19 and newer" in r.stderr, r.stderr
