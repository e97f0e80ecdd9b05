"""gomem on a real server while it serves (issue 11): etcd (the executable of the etcd
fixture) under a bounded loopback load of puts and ranges from 8 keep-alive connections,
read with `gomem ... --pid` several times (fixtures/servers/realserver.py: LiveHarness).

Each run is checked against what is known from outside: the checks, /proc/PID/status and
maps read around it, the load's own record of every request (none may fail), and an
independent pause measurement (a separate process samples every thread's state in
/proc/PID/task/*/stat about every millisecond). The server must go on serving, untraced.
Durations are reported by tests/bench/bench_live_pause.py, never asserted here.

The pause (target.pause_seconds) and --no-stop's skew are issue 11's points 3 and 5.
"""

import json
import os
import shutil

import pytest

from conftest import realserver, run_cli, server_fixtures

RUNS = 5


@pytest.fixture(scope="module")
def harness(tmp_path_factory):
    servers = server_fixtures()
    assert servers, ("no real-server fixture in build/fixtures: ./setup test builds etcd "
                     "(fixtures/servers/build.sh) and takes its cores")
    d = tmp_path_factory.mktemp("etcd-live")
    exe = os.path.join(str(d), "exe")
    shutil.copy(servers[0].exe, exe)
    h = realserver().LiveHarness(exe, str(d), fill_puts=10000)
    try:
        yield h
    finally:
        h.close()


# A thread stopped inside the runtime's allocator (mallocgc: m.mallocing; mheap.allocSpan:
# pages in flight) leaves the heap mid-update, and then these checks can differ by that one
# allocation. Seen under load in 2 of 120 stops of etcd (an 8 KiB large object: HeapObjects
# and HeapAlloc off by 1 and 8192; a 64 KiB gcBits arena: metadata found off by 65536).
# gomem marks such a differing check skew ("ok": null, "skew": true) with the reason in the
# text; such a read is taken again (twice at most), and counted.
IN_FLIGHT_CHECKS = ("HeapObjects = ", "HeapAlloc = ", "metadata found = ")


def caught_mid_allocation(s):
    """The skew checks of a summary taken while a thread was inside the allocator (and,
    as before gomem said skew, failed ones of a stop with pages in flight)."""
    skew = [c["name"] for c in s["checks"] if c["ok"] is None and c.get("skew")]
    failed = [c["name"] for c in s["checks"] if c["ok"] is False]
    if skew and not failed:
        return skew
    if failed and s["heap"]["in_flight_bytes"] > 0 and all(
            n.startswith(IN_FLIGHT_CHECKS) for n in failed):
        return failed
    return []


def pid_reader(verb, *options):
    """A reader for LiveHarness.run: gomem VERB --json --pid, with /proc/PID/status and the
    db mapping's smaps read just before and just after. A summary caught mid-allocation
    (above) is read again; `reads` says how many reads (and stops) the run made."""
    rs = realserver()

    def read(pid):
        mid_allocation = []
        for _ in range(3):
            before = rs.proc_status(pid)
            db_before = db_mapping(pid)
            r = run_cli(verb, "--json", *options, "--pid", str(pid))
            after = rs.proc_status(pid)
            out = {"rc": r.returncode, "stderr": r.stderr,
                   "json": json.loads(r.stdout) if r.returncode == 0 else None,
                   "status": (before, after), "db": (db_before, db_mapping(pid)),
                   "mid_allocation": mid_allocation, "reads": len(mid_allocation) + 1}
            caught = (verb == "summary" and "--no-stop" not in options and out["json"]
                      and caught_mid_allocation(out["json"]))
            if not caught:
                return out
            mid_allocation.append(caught)
        return out
    return read


def db_mapping(pid):
    rs = realserver()
    maps = [m for m in rs.proc_maps(pid) if m["path"].endswith("/member/snap/db")]
    assert len(maps) == 1, maps
    m = maps[0]
    m["rss"] = rs.proc_smaps(pid)[m["start"]]["Rss"]
    return m


def assert_served_and_left_running(h, res):
    """Zero failed requests over the whole load; the server runs, untraced, and answers."""
    assert res["load"]["failed"] == 0, res["load"]["errors"]
    assert res["load"]["requests"] > 0
    assert not h.check_running()


@pytest.fixture(scope="module")
def summaries(harness):
    res = harness.run(pid_reader("summary"), n=RUNS)
    assert_served_and_left_running(harness, res)
    return res


def test_summary_pid_under_load_every_check_ok(summaries):
    for run in summaries["runs"]:
        r = run["result"]
        assert r["rc"] == 0 and r["stderr"] == "", r["stderr"]
        s = r["json"]
        failed = [c for c in s["checks"] if not c["ok"]]
        assert len(s["checks"]) >= 9 and not failed, failed
        assert s["target"]["source"] == "live"
        # VSZ while the process was stopped: between VmSize just before and just after.
        vm = sorted(st["VmSize"] for st in r["status"])
        assert vm[0] <= s["vsz_bytes"] <= vm[1], (s["vsz_bytes"], vm)


def test_summary_pid_stops_the_server_once_per_run(summaries):
    """The independent sampler saw exactly one stop per read in each run, inside the run:
    gomem stopped the server while it read, and nothing else did."""
    for run in summaries["runs"]:
        assert len(run["stops"]) == run["result"]["reads"], run["stops"]
        for stop in run["stops"]:
            # The end is the first sample that saw every thread running again: one
            # sampling period (max_gap_ms, a few ms at real-time priority) after the fact.
            assert run["start"] <= stop["start"] and stop["end"] <= run["end"] + 0.1, (
                run, stop)
    # Requests were in flight while the server stood still: the load saw every run.
    assert all(run["load"]["requests"] > 0 for run in summaries["runs"])


def test_summary_pid_prints_its_pause_and_it_agrees(summaries):
    """target.pause_seconds lies within the sampler's bounds of the stop it saw (one
    sampling period, about 1 ms, either side; 2 ms more for the time between gomem's
    clock readings and the threads' state changes)."""
    for run in summaries["runs"]:
        stop = run["stops"][-1]
        pause = run["result"]["json"]["target"]["pause_seconds"]
        assert stop["min_seconds"] - 0.002 <= pause <= stop["max_seconds"] + 0.002, (pause, stop)


def test_summary_pid_rss_anon_and_file(summaries):
    """Live, both are known from smaps, and they add up to rss_bytes. Tolerance 5%: VmRSS,
    RssAnon and RssFile are the kernel's per-mm counters, updated in batches by each thread,
    while smaps walks the page tables; and the server runs on between the reads."""
    for run in summaries["runs"]:
        s, st = run["result"]["json"], run["result"]["status"]
        assert s["rss_anon_bytes"] + s["rss_file_bytes"] == s["rss_bytes"]
        for key, field in (("rss_anon_bytes", "RssAnon"), ("rss_file_bytes", "RssFile")):
            lo = min(x[field] for x in st) * 0.95
            hi = max(x[field] for x in st) * 1.05
            assert lo <= s[key] <= hi, (key, s[key], lo, hi)


def test_summary_pid_explanation_names_the_db_with_its_resident_bytes(summaries):
    """The explanation names the file mapping, its size and its resident bytes, which lie
    between smaps' before and after (the load only grows the db's page cache)."""
    for run in summaries["runs"]:
        r = run["result"]
        text = " ".join(r["json"]["explanation"])
        db = r["db"][0]
        head = "%s (%s, MAP_SHARED read-only; " % (db["path"], human(db["end"] - db["start"]))
        assert head in text, text
        resident = text.split(head, 1)[1].split(" resident")[0]
        assert resident in {human(x) for x in range(r["db"][0]["rss"],
                                                     r["db"][1]["rss"] + 4096, 4096)}, (
            resident, r["db"])


def human(n):
    """gomem's "52.7 MiB"."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return "%d B" % n if unit == "B" else "%.1f %s" % (n, unit)
        n /= 1024


def test_summary_pid_nothing_is_unknown(summaries):
    for run in summaries["runs"]:
        unknown = [n for n in run["result"]["json"]["breakdown"]["children"]
                   if n["name"] == "unknown"]
        assert not unknown or unknown[0]["vsz_bytes"] == 0, unknown


@pytest.fixture(scope="module")
def mappings(harness):
    res = harness.run(pid_reader("mappings"), n=2)
    assert_served_and_left_running(harness, res)
    return res


def test_mappings_pid_shows_the_db_file_mapping(mappings):
    """The db mapping's range and size are /proc/PID/maps'; its resident bytes (smaps, the
    page cache of the db file; only grown by the load) lie between smaps' before and after."""
    for run in mappings["runs"]:
        r = run["result"]
        assert r["rc"] == 0 and r["stderr"] == "", r["stderr"]
        db = r["db"][0]
        assert (db["start"], db["end"]) == (r["db"][1]["start"], r["db"][1]["end"])
        parts = [p for p in r["json"]["mappings"] if p["file"] == db["path"]]
        assert [(p["start"], p["end"]) for p in parts] == [(db["start"], db["end"])]
        assert parts[0]["vsz_bytes"] == db["end"] - db["start"]
        assert parts[0]["perms"][:3] == db["perms"][:3] == "r--"
        assert db["rss"] <= parts[0]["rss_bytes"] <= r["db"][1]["rss"], (parts[0], r["db"])
        assert parts[0]["rss_bytes"] > 0


def test_mappings_pid_db_is_a_shared_file_mapping(mappings):
    for run in mappings["runs"]:
        r = run["result"]
        parts = [p for p in r["json"]["mappings"] if p["file"] == r["db"][0]["path"]]
        assert [(p["owner"], p["perms"]) for p in parts] == [("file-mapping", "r--s")]


@pytest.fixture(scope="module")
def unstopped(harness):
    json_reader = pid_reader("summary", "--no-stop")

    def read(pid):
        out = json_reader(pid)
        out["text"] = run_cli("summary", "--no-stop", "--pid", str(pid)).stdout
        return out
    res = harness.run(read, n=3)
    assert_served_and_left_running(harness, res)
    return res


def test_no_stop_does_not_stop_the_server(unstopped):
    for run in unstopped["runs"]:
        assert run["result"]["rc"] == 0, run["result"]["stderr"]
        assert run["stops"] == [], run["stops"]


def test_no_stop_under_load_marks_skew_not_fail(unstopped):
    """Under load the counters move while gomem reads: a differing check is skew
    ("ok": null, "skew": true), never FAIL."""
    for run in unstopped["runs"]:
        for c in run["result"]["json"]["checks"]:
            assert c["ok"] is True or (c["ok"] is None and c.get("skew") is True), c
        text = run["result"]["text"]
        assert "FAIL" not in text
        # Said once, when some check was skew.
        assert text.count("skew: the process ran while gomem read it (--no-stop)") == (
            1 if any(c["ok"] is None for c in run["result"]["json"]["checks"]) else 0)
