"""No byte of any fixture core is `unknown` (issue 11): every core ./setup test built under
build/fixtures (the fixture programs for every Go version and variant, and the real server),
kernel cores and gcores, and the committed ones.

The last bytes that used to stay unknown on real programs: the vDSO getrandom states of the Go
runtime (runtime.vgetrandomAlloc: a MAP_DROPPABLE mapping, in a kernel core without data and
left out of a gcore), the pages ld.so's startup allocator (minimal malloc) mapped, and the
initial thread's TLS block (from NT_PRSTATUS fs_base; live, from its registers: test_live.py).

The arm64 fixtures (build/fixtures-arm64) are not read here: this gomem reads amd64 cores only
(test_arm64_fixtures.py checks them without gomem).
"""

import pytest

from conftest import built_fixtures, cli_json, committed_fixtures

CASES = [(f, kind) for f in built_fixtures() + committed_fixtures() for kind in sorted(f.cores)]


def test_there_are_fixture_cores():
    assert CASES, "no fixture core in build/fixtures or fixtures/demo: ./setup test makes them"


@pytest.mark.parametrize("fixture,kind", CASES,
                         ids=["%s-%s" % (f.name, kind) for f, kind in CASES])
def test_no_byte_is_unknown(fixture, kind):
    core = fixture.cores[kind]
    m = cli_json("mappings", fixture.exe, core)
    unknown = [p for p in m["mappings"] if p["owner"] == "unknown"]
    assert not unknown, unknown
    assert "unknown" not in [o["owner"] for o in m["by_owner"]]
    s = cli_json("summary", fixture.exe, core)
    top = {n["name"]: n for n in s["breakdown"]["children"]}
    assert top["unknown"]["vsz_bytes"] == 0 and top["unknown"]["children"] == []
