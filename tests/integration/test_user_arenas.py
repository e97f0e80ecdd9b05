"""User arenas (GOEXPERIMENT=arenas): fixtures/userarenas, from fixtures/matrix.txt.

test_summary.py already holds these cores to every MemStats field exactly; this
file checks what is particular to them: the chunks are heap spans that the
arena code maps outside the page allocator, in arenas listed nowhere before Go
1.25 (gomem finds them in mheap_.arenas) and in mheap_.userArenaArenas since.
A chunk the program freed after its last GC waits in the quarantine list as an
in-use span that no counter counts: gomem must leave it out, or HeapInuse would
be off by a chunk.
"""

import json

import pytest

from conftest import built_fixtures, cli_json, run_cli

CHUNK = 8 << 20  # userArenaChunkBytes on linux/amd64: min(8 MiB, heapArenaBytes)
FIXTURES = [f for f in built_fixtures() if f.name.startswith("userarenas-")]
CASES = [(f, kind) for f in FIXTURES for kind in sorted(f.cores)]


def test_matrix_has_user_arena_fixtures():
    """One before Go 1.25 (no list of user arenas) and one after."""
    minors = sorted(int(f.name.split("-go1.")[1].split(".")[0]) for f in FIXTURES)
    assert minors and minors[0] < 25 <= minors[-1], [f.name for f in FIXTURES]


@pytest.mark.parametrize("fixture,kind", CASES, ids=["%s-%s" % (f.name, k) for f, k in CASES])
def test_chunks_are_heap_and_exact(fixture, kind):
    s = cli_json("summary", fixture.exe, fixture.cores[kind])
    heap = s["heap"]
    assert heap["user_arenas"] >= 1
    # 20 + 10 slices of 1 MiB live in two arenas: at least four chunks in use.
    assert heap["user_chunk_bytes"] >= 4 * CHUNK and heap["user_chunk_bytes"] % CHUNK == 0
    assert heap["in_use_bytes"] == fixture.truth["HeapInuse"]
    assert all(c["ok"] and c["runtime"] == c["reconstructed"] for c in s["checks"])
    assert not s["warnings"] or kind == "gcore", s["warnings"]
    unknown = [n for n in s["breakdown"]["children"] if n["name"] == "unknown"]
    assert not unknown or unknown[0]["vsz_bytes"] == 0


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_arenas_and_spans_mark_user_arenas(fixture):
    core = fixture.cores["kernel"]
    a = cli_json("arenas", fixture.exe, core)
    user = [x for x in a["arenas"] if x["user"]]
    assert user and a["totals"]["user_arenas"] == len(user)
    r = run_cli("spans", "--json", "--state", "in-use", "--limit", "0", fixture.exe, core)
    assert r.returncode == 0, r.stderr
    chunks = [x for x in json.loads(r.stdout)["spans"] if x["user_arena_chunk"]]
    assert chunks and all(x["bytes"] == CHUNK and x["class"] == 0 for x in chunks)
    s = cli_json("summary", fixture.exe, core)
    assert sum(x["bytes"] for x in chunks) == s["heap"]["user_chunk_bytes"]
    # Every chunk lies in a user arena.
    for x in chunks:
        assert any(u["base"] <= x["start"] < u["end"] for u in user), x
    m = cli_json("mappings", fixture.exe, core)
    details = " ".join(p.get("detail") or "" for p in m["mappings"])
    assert "user arena chunks in use" in details
    w = run_cli("whatis", fixture.exe, core, "0x%x" % (chunks[0]["start"] + 4096))
    assert w.returncode == 0 and "user arena chunk" in w.stdout, w.stdout + w.stderr
