"""The Go version matrix (fixtures/matrix.txt): every version and variant was built and read.

test_summary.py runs every MemStats and walk assertion on every fixture core,
matrix ones included; this file checks that the matrix is complete and that
gomem identified each build (version, experiments, PIE) correctly.
"""

import os
import re
import subprocess

import pytest

from conftest import TOP, built_fixtures, cli_json

MATRIX = os.path.join(TOP, "fixtures", "matrix.txt")


def matrix_entries():
    entries = []
    with open(MATRIX) as f:
        for line in f:
            words = line.split("#")[0].split()
            if not words:
                continue
            prog, version, flags = words[0], words[1], words[2:]
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
    demo = os.path.join(TOP, "fixtures", "demo")
    versions = {re.match(r".*-go(1\.\d+)\.exe\.xz$", f).group(1)
                for f in os.listdir(demo) if f.endswith(".exe.xz")}
    assert {"1.19", "1.21", "1.22", "1.23", "1.24", "1.25", "1.26", "1.27"} <= versions


def test_committed_fixtures_stay_under_30_mib():
    total = 0
    for root, _, files in os.walk(os.path.join(TOP, "fixtures")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    assert total < 30 << 20, total
