"""gomem on a real server's cores (issue 11): etcd, built from the Go module proxy, under a
bounded loopback load, then a gcore and a kernel core (fixtures/servers/realserver.py).

A server cannot log its own MemStats. Its truth is what was read from outside right before
each core (truth.json): /proc/PID/status, maps and smaps, and the server's own /metrics
scrape of the Go runtime, once before and once after the gcore. Everything gomem prints is
checked against those, exactly where they are exact; every tolerance says why.
"""

import struct

import pytest

from conftest import cli_json, program_headers, run_cli, server_fixtures

SERVERS = server_fixtures()
CASES = [(f, kind) for f in SERVERS for kind in ("kernel", "gcore")]
IDS = ["%s-%s" % (f.name, kind) for f, kind in CASES]
VSYSCALL = 0xffffffffff600000


def test_server_fixture_was_built():
    """./setup test makes build/fixtures/etcd-<go version> (fixtures/servers/)."""
    assert SERVERS, ("no real-server fixture in build/fixtures: ./setup test builds etcd and "
                     "takes its cores (fixtures/servers/build.sh, realserver.py)")
    for f in SERVERS:
        assert sorted(f.cores) == ["gcore", "kernel"], f.name
        assert f.truth["load"]["failed"] == 0 and f.truth["load"]["requests"] > 0


class CoreFile:
    """A core's PT_LOADs and NT_FILE ranges, read here without libcore."""

    def __init__(self, path):
        self.loads, self.files = [], []
        with open(path, "rb") as f:
            for typ, _, off, vaddr, _, filesz, memsz, _ in program_headers(path)[1]:
                if typ == 1:  # PT_LOAD
                    self.loads.append((vaddr, vaddr + memsz))
                elif typ == 4:  # PT_NOTE
                    f.seek(off)
                    self._notes(f.read(filesz))

    def _notes(self, data):
        p = 0
        while p + 12 <= len(data):
            namesz, descsz, typ = struct.unpack_from("<III", data, p)
            d = p + 12 + ((namesz + 3) & ~3)
            desc = data[d:d + descsz]
            if data[p + 12:p + 12 + namesz].startswith(b"CORE") and typ == 0x46494c45:
                count, _ = struct.unpack_from("<QQ", desc, 0)
                for j in range(count):
                    s, e, _ = struct.unpack_from("<QQQ", desc, 16 + 24 * j)
                    self.files.append((s, e))
            p = d + ((descsz + 3) & ~3)

    def covers(self, start, end):
        return any(a < end and start < b for a, b in self.loads + self.files)


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def case(request):
    f, kind = request.param
    core = f.cores[kind]
    return (f, kind, cli_json("summary", f.exe, core), cli_json("mappings", f.exe, core),
            CoreFile(core))


def maps_before(f, kind):
    """/proc/PID/maps and status right before this core was taken."""
    return f.truth[kind]["before"]


def union(ranges):
    out = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [tuple(x) for x in out]


def test_every_check_is_ok(case):
    _, _, s, _, _ = case
    failed = [c for c in s["checks"] if not c["ok"]]
    assert len(s["checks"]) >= 9 and not failed, failed
    assert s["heap"]["in_flight_bytes"] == 0  # the server was quiet: no pages between owners


def test_text_has_no_fail_line(case):
    f, kind, _, _, _ = case
    r = run_cli("summary", f.exe, f.cores[kind])
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert "FAIL" not in r.stdout


def test_vsz_is_vmsize(case):
    """A kernel core holds every mapping: VSZ = VmSize. A gcore leaves out what GDB neither
    saves nor finds in NT_FILE ([vvar], [vvar_vclock], the MAP_DROPPABLE vgetrandom page):
    VSZ = VmSize less exactly the mappings of /proc/PID/maps that it does not cover."""
    f, kind, s, m, core = case
    before = maps_before(f, kind)
    if kind == "kernel":
        assert s["vsz_bytes"] == m["vsz_bytes"] == before["VmSize"] == f.truth["VmSize"]
        return
    missing = [x for x in before["maps"]
               if x["start"] != VSYSCALL and not core.covers(x["start"], x["end"])]
    assert s["vsz_bytes"] == before["VmSize"] - sum(x["end"] - x["start"] for x in missing)
    named = {w.split(": ")[-1] for w in s["warnings"] if w.startswith("VSZ from a gcore")}
    assert named, s["warnings"]


def test_mappings_add_up_to_the_process_maps(case):
    """The parts are sorted and disjoint, add up to VSZ (by owner and in the tree), and
    cover exactly the address ranges that /proc/PID/maps listed before the core (the
    gcore: less those it left out)."""
    f, kind, s, m, core = case
    prev = 0
    for p in m["mappings"]:
        assert prev <= p["start"] < p["end"] and p["vsz_bytes"] == p["end"] - p["start"], p
        prev = p["end"]
    assert sum(p["vsz_bytes"] for p in m["mappings"] if p["in_vsz"]) == m["vsz_bytes"]
    assert sum(o["vsz_bytes"] for o in m["by_owner"]) == m["vsz_bytes"] == s["vsz_bytes"]
    assert s["breakdown"]["vsz_bytes"] == s["vsz_bytes"]
    maps = [(x["start"], x["end"]) for x in maps_before(f, kind)["maps"]]
    if kind == "gcore":
        maps = [(a, b) for a, b in maps if core.covers(a, b)]
    assert union((p["start"], p["end"]) for p in m["mappings"]) == union(maps)


def db_parts(f, m):
    return [p for p in m["mappings"] if p["file"] == f.truth["db_path"]]


def test_db_file_mapping_has_its_range_and_size(case):
    """etcd's bbolt database file, mapped MAP_SHARED read-only: one range, as in maps."""
    f, kind, _, m, _ = case
    db = maps_before(f, kind)["db_mapping"]
    parts = db_parts(f, m)
    assert parts, "no mapping of %s" % f.truth["db_path"]
    assert union((p["start"], p["end"]) for p in parts) == [(db["start"], db["end"])]
    assert sum(p["vsz_bytes"] for p in parts) == db["end"] - db["start"] == db["vsz"]
    assert db["perms"] == "r--s" and db["offset"] == 0
    if kind == "kernel":  # the PT_LOAD's flags; a gcore does not save the mapping
        assert {p["perms"][:3] for p in parts} == {db["perms"][:3]}


def test_db_file_mapping_is_a_file_mapping(case):
    """Owner file-mapping, one node under "file mappings" named by its path (not under
    "shared libraries"), a detail that says how it is mapped."""
    f, kind, s, m, _ = case
    parts = db_parts(f, m)
    assert {p["owner"] for p in parts} == {"file-mapping"}
    top = {n["name"]: n for n in s["breakdown"]["children"]}
    assert f.truth["db_path"] not in [c["name"] for c in top["shared libraries"]["children"]]
    node = [c for c in top["file mappings"]["children"] if c["name"] == f.truth["db_path"]]
    assert len(node) == 1 and node[0]["vsz_bytes"] == maps_before(f, kind)["db_mapping"]["vsz"]
    for p in parts:
        assert "file mapping of db from offset 0x0" in p["detail"], p


def test_perms_agree_with_proc_maps(case):
    """Every part's permissions against the /proc/PID/maps line that holds it, read before
    the core: rwx equal (a kernel core; a gcore records none of what it leaves out, and
    PROT_NONE as r--), and p or s equal wherever gomem prints one rather than '?'. The db
    mapping (MAP_SHARED: never dumped) is '?', said once."""
    f, kind, _, m, _ = case
    maps = maps_before(f, kind)["maps"]
    for p in m["mappings"]:
        line = [x for x in maps if x["start"] <= p["start"] and p["end"] <= x["end"]]
        assert len(line) == 1, p
        perms = line[0]["perms"]
        if kind == "kernel":
            assert p["perms"][:3] == perms[:3], (p, perms)
        assert p["perms"][3] in (perms[3], "?"), (p, perms)
        if p["perms"][3] == "?":
            assert p["owner"] == "file-mapping", p
    assert {p["perms"][3] for p in db_parts(f, m)} == {"?"}
    assert len([w for w in m["warnings"] if w.startswith("perms: '?'")]) == 1


def test_kernel_core_rss_is_the_anonymous_rss(case):
    """A kernel core holds anonymous pages (and written private file pages), not the page
    cache: rss_bytes is RssAnon, far from VmRSS for a server with a hot file mapping.
    Tolerance 2%: RssAnon is the kernel's per-mm counter, which threads update in batches,
    and the SIGABRT handler's traceback touched a few more pages after it was read."""
    f, kind, s, m, _ = case
    if kind == "gcore":
        assert s["rss_bytes"] is None and m["rss_bytes"] is None
        return
    before = maps_before(f, kind)
    assert abs(s["rss_bytes"] - before["RssAnon"]) <= before["RssAnon"] // 50, (
        s["rss_bytes"], before["RssAnon"])
    assert before["RssFile"] > before["db_mapping"]["rss"] > 0  # the db file's pages are hot
    assert s["rss_bytes"] < before["VmRSS"] - before["db_mapping"]["rss"]


def test_rss_says_what_it_counts(case):
    """A kernel core's RSS is anonymous (RssAnon, as above) and its file-backed RSS unknown
    (null), and the text says so; a gcore knows neither."""
    f, kind, s, m, _ = case
    text = run_cli("summary", f.exe, f.cores[kind]).stdout
    if kind == "gcore":
        for x in (s, m):
            assert x["rss_anon_bytes"] is None and x["rss_file_bytes"] is None
        assert "RSS unknown" in text
        return
    for x in (s, m):
        assert x["rss_anon_bytes"] == x["rss_bytes"] and x["rss_file_bytes"] is None
    assert "RSS %s resident (anonymous)" % human(s["rss_bytes"]) in text
    assert "file-backed pages are not in a kernel core" in text


def human(n):
    """gomem's "52.7 MiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return "%d B" % n if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024


def test_explanation_names_the_db_file_mapping(case):
    """The explanation names the file mapping with its size, and no longer calls what it
    holds never touched."""
    f, kind, s, _, _ = case
    text = " ".join(s["explanation"])
    db = maps_before(f, kind)["db_mapping"]
    assert "%s (%s" % (f.truth["db_path"], human(db["vsz"])) in text
    assert "%s (%d%%) is file mappings" % (human(db["vsz"]), round(
        100 * db["vsz"] / s["vsz_bytes"])) in text


def test_nothing_is_unknown(case):
    """Every byte has an owner: the MAP_DROPPABLE vgetrandom page (the kernel core has it,
    without data; a gcore leaves it out) from runtime.vgetrandomAlloc, ld.so's startup
    allocations, the initial thread's TLS from NT_PRSTATUS fs_base."""
    f, kind, s, m, _ = case
    unknown = [p for p in m["mappings"] if p["owner"] == "unknown"]
    assert not unknown, unknown
    maps = maps_before(f, kind)["maps"]
    droppable = [x for x in maps if "dp" in x["vmflags"].split()]
    for x in droppable if kind == "kernel" else []:
        parts = [p for p in m["mappings"] if x["start"] <= p["start"] < x["end"]]
        assert parts and all(p["owner"] == "go-runtime-metadata" and
                             "vDSO getrandom states" in p["detail"] for p in parts), parts
        assert sum(p["vsz_bytes"] for p in parts) == x["end"] - x["start"]


# MemStats against the server's own /metrics scrape. client_golang derives go_memstats_*
# from runtime/metrics (memStatsFromRM), which count the objects of a span only when an
# mcache hands the span back, while ReadMemStats (and gomem) flush every mcache first: so
# the scrape's HeapAlloc, HeapObjects, TotalAlloc, Mallocs and Frees lag behind by what
# the cached spans hold. What moves only when the heap grows, a GC ends or a thread starts
# is exact; the lagging counters are bounded below by any earlier scrape.
EXACT_WHEN_STILL = ["Sys", "HeapSys", "HeapInuse", "HeapIdle", "HeapReleased", "StackInuse",
                    "StackSys", "MSpanInuse", "MSpanSys", "MCacheInuse", "MCacheSys",
                    "BuckHashSys", "GCSys", "OtherSys", "NextGC", "NumGC"]
MONOTONE = ["TotalAlloc", "Mallocs", "Frees", "NumGC", "Sys", "HeapSys"]


def test_memstats_agree_with_the_servers_metrics(case):
    """gcore: a field equal in the scrapes before and after the gcore held still in between
    (the fixture script takes the cores again unless Sys, HeapSys, NumGC and NextGC did):
    gomem must print exactly that value. The kernel core was taken a second after the last
    scrape, the server idle: Sys, NextGC, NumGC and HeapSys + StackSys equal that scrape. Monotone
    counters are at least the last scrape before the core."""
    f, kind, s, _, _ = case
    ms = s["memstats"]
    if kind == "gcore":
        a, b = f.truth["gcore"]["scrape_before"], f.truth["gcore"]["scrape_after"]
        still = [x for x in EXACT_WHEN_STILL if a[x] == b[x]]
        assert {"Sys", "HeapSys", "NumGC", "NextGC"} <= set(still)
        assert {x: ms[x] for x in still} == {x: a[x] for x in still}
        last = a
    else:
        last = f.truth["kernel"]["scrape_before"]
        exact = ["Sys", "NextGC", "NumGC"]
        assert {x: ms[x] for x in exact} == {x: last[x] for x in exact}
        # A goroutine's stack span can go back to the heap (or come from it) in that second
        # without a GC: Sys stays, HeapSys and StackSys move by the span in opposite
        # directions (mstats.go: both are parts of mappedReady). CI saw HeapSys +32 KiB,
        # StackInuse and StackSys -32 KiB. Their sum is exact.
        assert ms["HeapSys"] + ms["StackSys"] == last["HeapSys"] + last["StackSys"], \
            {x: (ms[x], last[x]) for x in ("HeapSys", "StackSys", "StackInuse")}
        assert (ms["HeapSys"] - last["HeapSys"]) % (8 << 10) == 0
    low = {x: (ms[x], last[x]) for x in MONOTONE if ms[x] < last[x]}
    assert not low, low
    # Bytes freed so far (TotalAlloc - HeapAlloc) are counted by the sweeper in both views,
    # lag-free: with no GC in between (NumGC is equal, and the server idled long after
    # its last sweep) they are exact.
    assert ms["TotalAlloc"] - ms["HeapAlloc"] == last["TotalAlloc"] - last["HeapAlloc"]
