"""Heap pages in flight: a core taken while the scavenger was releasing pages.

The scavenger marks the pages it releases as allocated in the page allocator's
bitmap, drops the heap lock and calls madvise (mgcscavenge.go, scavengeOne);
the runtime's counters still count those pages as free until it is done. A
core taken in that window has pages that neither a span nor the free bitmap
accounts for. The fixture processes are quiescent, so this test makes such a
core: it copies a fixture's kernel core and sets the allocation bits of eight
free, retained pages, exactly as scavengeOne's allocRange does, leaving every
runtime counter as it was.
"""

import json
import struct
import subprocess

import pytest

from conftest import built_fixtures, cli_json, program_headers, run_cli

# Go's page allocator on linux/amd64 (mpagealloc.go, mpagealloc_64bit.go, malloc.go).
PAGE = 8192
CHUNK_PAGES = 512  # pallocChunkPages
CHUNK_BYTES = CHUNK_PAGES * PAGE  # pallocChunkBytes, 4 MiB
ARENA_BASE_OFFSET = 0xFFFF800000000000  # arenaBaseOffset
L2_BITS = 13  # pallocChunksL2Bits = heapAddrBits - logPallocChunkBytes - L1 bits
PALLOC_DATA = 128  # sizeof(pallocData): pallocBits [8]uint64, scavenged [8]uint64
HELD = 8  # pages the "scavenger" holds

HEAPMIX = [f for f in built_fixtures() if f.name.startswith("heapmix-go")
           and "-" not in f.name[len("heapmix-go"):]]


def loads(core):
    return [(vaddr, off, filesz) for typ, _, off, vaddr, _, filesz, _, _ in
            program_headers(core)[1] if typ == 1]


def file_offset(core, addr, size):
    for vaddr, off, filesz in loads(core):
        if vaddr <= addr and addr + size <= vaddr + filesz:
            return off + addr - vaddr
    raise AssertionError("0x%x is not in the core's file data" % addr)


def read_u64(core, addr):
    with open(core, "rb") as f:
        f.seek(file_offset(core, addr, 8))
        return struct.unpack("<Q", f.read(8))[0]


def chunks_address(exe, core):
    """&mheap_.pages.chunks, from the executable's DWARF through GDB."""
    r = subprocess.run(["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off", exe, core,
                        "-ex", "set language c",
                        "-ex", "p/x (unsigned long)&'runtime.mheap_'.pages.chunks"],
                       capture_output=True, text=True, timeout=300)
    for line in r.stdout.splitlines():
        if line.startswith("$1 = 0x"):
            return int(line.split("=")[1], 16)
    raise AssertionError("GDB did not find mheap_.pages.chunks: " + r.stdout + r.stderr)


@pytest.fixture(scope="module")
def in_flight(tmp_path_factory):
    assert HEAPMIX, "no heapmix fixture built with a plain toolchain: run ./setup fixtures"
    fixture = HEAPMIX[0]
    exe, core = fixture.exe, fixture.cores["kernel"]
    before = cli_json("summary", exe, core)
    r = run_cli("spans", "--json", "--state", "free", "--limit", "0", exe, core)
    assert r.returncode == 0, r.stderr
    runs = json.loads(r.stdout)["spans"]
    # A retained free run with HELD pages inside one chunk of the page allocator.
    start = None
    for r in runs:
        if r["released"]:
            continue
        for p in range(r["npages"] - HELD + 1):
            a = r["start"] + p * PAGE
            ci_first = ((a - ARENA_BASE_OFFSET) % 2**64) // CHUNK_BYTES
            ci_last = ((a + (HELD - 1) * PAGE - ARENA_BASE_OFFSET) % 2**64) // CHUNK_BYTES
            if ci_first == ci_last:
                start = a
                break
        if start is not None:
            break
    assert start is not None, "the fixture has no retained free run of %d pages" % HELD
    ci = ((start - ARENA_BASE_OFFSET) % 2**64) // CHUNK_BYTES
    l2 = read_u64(core, chunks_address(exe, core) + 8 * (ci >> L2_BITS))
    bits = l2 + PALLOC_DATA * (ci & ((1 << L2_BITS) - 1))
    first = (((start - ARENA_BASE_OFFSET) % 2**64) % CHUNK_BYTES) // PAGE

    copy = str(tmp_path_factory.mktemp("in-flight") / "core.kernel")
    subprocess.run(["cp", "--sparse=always", core, copy], check=True)
    with open(copy, "r+b") as f:
        for page in range(first, first + HELD):
            word = bits + 8 * (page // 64)
            off = file_offset(copy, word, 8)
            f.seek(off)
            v, = struct.unpack("<Q", f.read(8))
            assert not v & (1 << (page % 64)), "page %d of the chunk is not free" % page
            f.seek(off)
            f.write(struct.pack("<Q", v | (1 << (page % 64))))
    return fixture, before, exe, copy


def test_pages_in_flight_are_counted_and_allowed_by_the_checks(in_flight):
    fixture, before, exe, core = in_flight
    s = cli_json("summary", exe, core)
    held = HELD * PAGE
    assert before["heap"]["in_flight_bytes"] == 0
    assert s["heap"]["in_flight_bytes"] == held
    assert s["heap"]["free_retained_bytes"] == before["heap"]["free_retained_bytes"] - held
    # The runtime's counters did not move: they still count the pages as free.
    assert s["memstats"] == before["memstats"]
    assert all(c["ok"] for c in s["checks"]), [c for c in s["checks"] if not c["ok"]]
    allowed = {c["name"]: c for c in s["checks"] if c["runtime"] != c["reconstructed"]}
    assert set(allowed) == {"HeapIdle - HeapReleased = retained free pages",
                            "HeapSys = in-use + free pages"}, allowed
    for c in allowed.values():
        assert c["runtime"] - c["reconstructed"] == held and c["tolerance_bytes"] == held
    assert any("in flight" in w for w in s["warnings"]), s["warnings"]


def test_pages_in_flight_in_text(in_flight):
    _, _, exe, core = in_flight
    r = run_cli("summary", exe, core)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert not [line for line in lines if line.startswith("  FAIL")]
    assert [line for line in lines if line.endswith("(in flight)")]
    assert [line for line in lines if line.startswith("warning: %d bytes" % (HELD * PAGE))]


def test_a_quiescent_core_allows_nothing(in_flight):
    """The tolerance is the pages in flight: on the untouched core every check is exact."""
    _, before, _, _ = in_flight
    assert all(c["tolerance_bytes"] == 0 for c in before["checks"])
    assert all(c["runtime"] == c["reconstructed"] for c in before["checks"])
