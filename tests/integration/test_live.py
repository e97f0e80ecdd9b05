"""gomem on live processes: `gdb -p PID` with the plugin, and `gomem summary --pid PID`.

Each test starts a fixture program from a copy of its executable, waits for
the MemStats it logs about itself (truth.json), reads it live, and checks that
it goes on as before. The fixture programs block with GC off after logging
and nothing in them allocates afterwards (fixtures/internal/truth), so a live
process is as still as a core: every MemStats field is asserted exactly.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import (EXACT_FIELDS, GOMEM, PLUGIN, assert_one_line_error, json_from_gdb,
                      run_cli, start_until_truth, status_field, system_go_fixtures,
                      thread_states)

FIXTURES = system_go_fixtures()
PROGRAMS = ["heapmix", "hello", "threads"]


def proc_state(pid):
    """The state letter of /proc/PID/stat, None when there is no such process."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


class LiveProgram:
    """A fixture program running from its own copy of the executable."""

    def __init__(self, name, workdir):
        self.name = name
        self.dir = str(workdir)
        self.exe = os.path.join(self.dir, "exe")
        shutil.copy(FIXTURES[name].exe, self.exe)
        self.stderr_path = os.path.join(self.dir, "stderr.log")
        self.proc = self.pid = self.truth = None

    def wait_truth(self):
        self.proc, self.truth = start_until_truth(self.exe, self.dir, self.name)
        self.pid = self.proc.pid
        return self

    def kill(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=30)

    def assert_running_and_untraced(self):
        assert proc_state(self.pid) in ("S", "R"), proc_state(self.pid)
        assert set(thread_states(self.pid)) <= {"S", "R"}, thread_states(self.pid)
        assert status_field(self.pid, "TracerPid") == "0"

    def listening_port(self):
        """The TCP port the process listens on (hello's server), from /proc."""
        inodes = set()
        fd_dir = "/proc/%d/fd" % self.pid
        for fd in os.listdir(fd_dir):
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[len("socket:["):-1])
        with open("/proc/%d/net/tcp" % self.pid) as f:
            for line in f.readlines()[1:]:
                words = line.split()
                if words[3] == "0A" and words[9] in inodes:  # TCP_LISTEN
                    return int(words[1].split(":")[1], 16)
        return None

    def assert_answers(self):
        """The program still runs its Go code: hello serves HTTP; every program
        answers SIGQUIT with the runtime's goroutine dump (and exits)."""
        self.assert_running_and_untraced()
        if self.name == "hello":
            port = self.listening_port()
            assert port, "hello listens on no TCP port"
            with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
                s.sendall(b"GET /live HTTP/1.0\r\nHost: localhost\r\n\r\n")
                reply = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    reply += chunk
            assert reply.startswith(b"HTTP/1.0 200 OK"), reply
            assert reply.endswith(b"Hello, live!\n"), reply
        os.kill(self.pid, signal.SIGQUIT)
        assert self.proc.wait(timeout=30) == 2
        with open(self.stderr_path) as f:
            err = f.read()
        assert "SIGQUIT: quit" in err and "main.main()" in err, err[-2000:]


@pytest.fixture
def start(tmp_path):
    """start(name) runs a fixture program and waits for its truth; all are killed afterwards."""
    started = []

    def run(name):
        d = tmp_path / ("%s-%d" % (name, len(started)))
        d.mkdir()
        p = LiveProgram(name, d)
        started.append(p)
        return p.wait_truth()
    try:
        yield run
    finally:
        for p in started:
            p.kill()


def gdb_attach(pid, *commands):
    argv = ["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off", "-p", str(pid),
            "-x", PLUGIN]
    for c in commands:
        argv += ["-ex", c]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL)


def cli_pid_json(pid, *extra):
    r = run_cli("summary", "--json", "--pid", str(pid), *extra)
    assert r.returncode == 0, "gomem summary --pid failed (%d): %s" % (r.returncode, r.stderr)
    assert r.stderr == ""
    return json.loads(r.stdout)


def assert_matches_truth(s, p):
    """Every MemStats field equals the logged one; VSZ and RSS are the kernel's."""
    t = p.truth
    for field in EXACT_FIELDS:
        assert s["memstats"][field] == t[field], field
    assert s["target"]["source"] == "live"
    assert s["target"]["core"] is None
    assert s["target"]["pid"] == p.pid
    assert s["target"]["go_version"] == t["go_version"].split()[0].split("-X:")[0]
    # VSZ is exact: the VmSize of the quiescent process (see wait_truth for
    # why not always the logged one).
    assert s["vsz_bytes"] == status_field(p.pid, "VmSize")
    # VmRSS comes from the kernel's per-mm counters, which threads update in
    # batches, while rss_bytes sums smaps' page-table walk: they agree only
    # to within a few pages, so 5% (of ~10-45 MiB) is allowed.
    vmrss = status_field(p.pid, "VmRSS")
    assert abs(s["rss_bytes"] - vmrss) <= 0.05 * vmrss, (s["rss_bytes"], vmrss)
    # RSS split as smaps splits it: Anonymous, and the rest (page cache, shmem), adding up.
    # Against the same per-mm counters, the same 5%.
    assert s["rss_anon_bytes"] + s["rss_file_bytes"] == s["rss_bytes"]
    anon = status_field(p.pid, "RssAnon")
    file = status_field(p.pid, "RssFile") + status_field(p.pid, "RssShmem")
    assert abs(s["rss_anon_bytes"] - anon) <= 0.05 * anon, (s["rss_anon_bytes"], anon)
    assert abs(s["rss_file_bytes"] - file) <= 0.05 * file, (s["rss_file_bytes"], file)
    # Every byte has an owner; the initial thread's TLS from its registers (ptrace).
    top = {n["name"]: n for n in s["breakdown"]["children"]}
    assert top["unknown"]["vsz_bytes"] == 0, top["unknown"]
    failed = [c for c in s["checks"] if not c["ok"]]
    assert s["checks"] and not failed, failed
    heap = s["breakdown"]["children"][0]
    assert heap["name"] == "Go heap"
    by_name = {c["name"]: c for c in heap["children"]}
    # Released pages were given back with MADV_DONTNEED: pagemap shows none
    # resident (Go 1.21.1+ asks for no huge pages that khugepaged could refill).
    assert by_name["free, released to the OS"]["rss_bytes"] == 0
    assert by_name["reserved, not mapped"]["rss_bytes"] == 0
    spans = by_name["in-use spans"]
    assert 0 < spans["rss_bytes"] <= spans["vsz_bytes"]


def without_residency(report):
    """The report less what depends on resident pages (rss_bytes, and the
    sentences that quote them) and on the reader (pause_seconds: how long the
    CLI stopped the process; null under GDB, which holds it stopped)."""
    def strip(node):
        if isinstance(node, dict):
            return {k: strip(v) for k, v in node.items()
                    if k not in ("rss_bytes", "rss_anon_bytes", "rss_file_bytes",
                                 "explanation", "pause_seconds")}
        if isinstance(node, list):
            return [strip(v) for v in node]
        return node
    return strip(report)


@pytest.mark.parametrize("name", PROGRAMS)
def test_gdb_attach_then_cli_pid_equal_logged_memstats(start, name):
    """GDB attaches, runs `gomem summary --json` and detaches; then the CLI
    stops, reads and resumes the process; both see exactly the logged
    MemStats, and the program goes on as before."""
    p = start(name)
    r = gdb_attach(p.pid, "gomem summary --json")
    assert "Traceback" not in r.stdout + r.stderr
    from_gdb = json_from_gdb(r.stdout)
    assert from_gdb["warnings"] == []
    assert_matches_truth(from_gdb, p)
    assert "detached" in r.stdout
    p.assert_running_and_untraced()

    from_cli = cli_pid_json(p.pid)
    assert from_cli["warnings"] == []
    assert_matches_truth(from_cli, p)
    assert from_cli["target"]["exe"] == p.exe
    # The same process, the same report: GDB and the CLI agree on everything
    # but residency, which reading itself moves: a read of a never-touched
    # page maps the kernel's zero page there, so the second reader can see a
    # page or two more resident than the first (seen: 4 KiB on 9 MiB).
    assert without_residency(from_gdb) == without_residency(from_cli)
    assert abs(from_gdb["rss_bytes"] - from_cli["rss_bytes"]) <= 0.01 * from_cli["rss_bytes"]
    p.assert_answers()


def test_gdb_remote_target_reads_through_gdb(start):
    """Under gdbserver GDB's inferior is 'remote': the plugin reads memory
    through Inferior.read_memory, the mappings through `remote get
    /proc/PID/maps` and AT_ENTRY through `info auxv`."""
    assert shutil.which("gdbserver"), "gdbserver is missing: ./setup installs it"
    p = start("heapmix")
    r = subprocess.run(
        ["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off", "-x", PLUGIN,
         "-ex", "target remote | exec gdbserver --attach - %d" % p.pid,
         "-ex", "gomem summary --json", p.exe],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert "Traceback" not in r.stdout + r.stderr
    s = json_from_gdb(r.stdout)
    for field in EXACT_FIELDS:
        assert s["memstats"][field] == p.truth[field], field
    assert s["target"]["source"] == "live" and s["target"]["pid"] == p.pid
    assert s["vsz_bytes"] == status_field(p.pid, "VmSize")
    assert s["rss_bytes"] is None
    assert s["warnings"] == [
        "residency unknown: process %d is read through the debugger, not /proc" % p.pid]
    assert not [c for c in s["checks"] if not c["ok"]]
    p.assert_answers()


def test_cli_text_names_the_live_process(start):
    p = start("heapmix")
    r = run_cli("summary", "--pid", str(p.pid))
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    head = "%s (%s, linux/amd64), live process %d, stopped " % (
        p.exe, p.truth["go_version"], p.pid)
    assert first.startswith(head) and first.endswith(" ms while gomem read it"), first
    float(first[len(head):-len(" ms while gomem read it")])
    assert "FAIL" not in r.stdout
    assert str(p.truth["HeapAlloc"]) in r.stdout
    p.assert_answers()


def test_stopped_process_stays_stopped(start):
    p = start("threads")
    os.kill(p.pid, signal.SIGSTOP)
    for _ in range(100):
        if set(thread_states(p.pid)) == {"T"}:
            break
        time.sleep(0.05)
    assert set(thread_states(p.pid)) == {"T"}
    s = cli_pid_json(p.pid)
    assert_matches_truth(s, p)
    time.sleep(0.2)  # a thread wrongly resumed would show by now
    assert set(thread_states(p.pid)) == {"T"}, thread_states(p.pid)
    assert status_field(p.pid, "TracerPid") == "0"
    os.kill(p.pid, signal.SIGCONT)
    for _ in range(100):
        if proc_state(p.pid) in ("S", "R"):
            break
        time.sleep(0.05)
    p.assert_answers()


def test_no_stop_reads_a_running_process_and_warns(start):
    p = start("hello")
    s = cli_pid_json(p.pid, "--no-stop")
    # The program is quiescent, so even unstopped the numbers are exact.
    assert_matches_truth(s, p)
    assert s["warnings"] == [
        "process %d was not stopped while it was read (--no-stop): the view may be "
        "inconsistent" % p.pid]
    r = run_cli("summary", "--pid", str(p.pid), "--no-stop")
    assert r.returncode == 0
    assert r.stdout.rstrip().endswith("the view may be inconsistent")
    p.assert_answers()


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_executable_gone_from_disk_is_read_through_proc_exe(start, how):
    p = start("heapmix")
    os.unlink(p.exe)
    if how == "replaced":
        shutil.copy(FIXTURES["threads"].exe, p.exe)  # another Go program at the same path
    s = cli_pid_json(p.pid)
    assert_matches_truth(s, p)
    # The running file's inode is unlinked either way: the kernel names it so.
    assert s["target"]["exe"] == p.exe + " (deleted)"
    assert s["warnings"] == [
        "the executable %s was replaced or deleted on disk: read the running one through "
        "/proc/%d/exe" % (s["target"]["exe"], p.pid)]
    r = gdb_attach(p.pid, "gomem summary --json")
    assert "Traceback" not in r.stdout + r.stderr
    assert json_from_gdb(r.stdout)["memstats"] == s["memstats"]
    p.assert_answers()


# ---- errors: one line on stderr, exit status 2 ----

def test_no_such_process():
    child = subprocess.Popen(["true"])
    child.wait()  # reaped: the pid is free
    assert_one_line_error(run_cli("summary", "--pid", str(child.pid)),
                          "no process with pid %d" % child.pid)


def test_process_that_exited_but_was_not_reaped():
    child = subprocess.Popen(["true"])
    try:
        for _ in range(100):
            if proc_state(child.pid) == "Z":
                break
            time.sleep(0.02)
        assert proc_state(child.pid) == "Z"
        assert_one_line_error(run_cli("summary", "--pid", str(child.pid)),
                              "process %d has exited" % child.pid)
    finally:
        child.wait()


def test_not_a_go_program_is_left_alone():
    sleeper = subprocess.Popen(["sleep", "100"])
    try:
        time.sleep(0.1)
        assert_one_line_error(run_cli("summary", "--pid", str(sleeper.pid)),
                              shutil.which("sleep"), "not a Go program")
        assert proc_state(sleeper.pid) == "S"
        assert status_field(sleeper.pid, "TracerPid") == "0"
        r = gdb_attach(sleeper.pid, "gomem summary", "echo ALIVE\\n")
        assert "Traceback" not in r.stdout + r.stderr
        assert "gomem: " in r.stderr and "not a Go program" in r.stderr, r.stderr
        assert "ALIVE" in r.stdout
        assert proc_state(sleeper.pid) == "S"
    finally:
        sleeper.kill()
        sleeper.wait()


def run_as_nobody(*args):
    return subprocess.run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                           GOMEM, *args], capture_output=True, text=True, timeout=120)


def copy_exe(mode):
    """The heapmix executable copied into a new folder of the given mode."""
    d = tempfile.mkdtemp(prefix="gomem-exe-")
    os.chmod(d, mode)
    exe = os.path.join(d, "exe")
    shutil.copy(FIXTURES["heapmix"].exe, exe)
    os.chmod(exe, 0o755)
    return d, exe


def test_permission_denied_for_another_users_process(start):
    p = start("heapmix")
    # An EXE that nobody can read (the checkout may sit in a 0700 folder).
    d, exe = copy_exe(0o755)
    try:
        # With the executable from /proc/PID/exe, and with EXE given (then /proc/PID/mem).
        for extra in ([], [exe]):
            for stop in ([], ["--no-stop"]):
                r = run_as_nobody("summary", "--pid", str(p.pid), *stop, *extra)
                assert_one_line_error(r, "process %d: permission denied" % p.pid,
                                      "run gomem as the process's user or as root")
    finally:
        shutil.rmtree(d)
    p.assert_answers()


def test_exe_that_cannot_be_read_has_its_own_error(start):
    """An EXE in a folder this user may not enter is still the EXE (not a
    verb's operand): the error names it, before the process is touched."""
    p = start("heapmix")
    d, exe = copy_exe(0o700)
    try:
        for args in (["summary", "--pid", str(p.pid), exe],
                     ["whatis", "--pid", str(p.pid), exe, "0x1000"]):
            r = run_as_nobody(*args)
            assert_one_line_error(r, "executable %s: Permission denied" % exe)
    finally:
        shutil.rmtree(d)
    p.assert_answers()


def test_process_killed_while_being_read(start):
    """gomem has stopped the process and is reading it when it is killed:
    GDB holds gomem at gm_runtime_create, the test kills the process, gomem
    goes on and fails with one line."""
    p = start("heapmix")
    r = subprocess.run(
        ["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off",
         "-ex", "break gm_runtime_create", "-ex", "run",
         "-ex", "shell kill -KILL %d" % p.pid, "-ex", "continue",
         "--args", GOMEM, "summary", "--pid", str(p.pid)],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert "Breakpoint 1, gm_runtime_create" in r.stdout, r.stdout + r.stderr
    assert "exited with code 02" in r.stdout, r.stdout
    errors = [l for l in r.stderr.splitlines() if l.startswith("gomem: ")]
    assert errors == ["gomem: process %d exited while gomem was reading it" % p.pid], r.stderr
    assert p.proc.wait(timeout=30) == -signal.SIGKILL


def test_process_traced_by_a_debugger(start):
    """A process that GDB holds cannot be seized: the error names the tracer,
    and --no-stop reads it (GDB keeps it stopped meanwhile)."""
    p = start("heapmix")
    gdb = subprocess.Popen(["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off",
                            "-p", str(p.pid), "-ex", "shell sleep 3"],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if status_field(p.pid, "TracerPid") != "0" and "t" in thread_states(p.pid):
                break
            time.sleep(0.02)
        tracer = int(status_field(p.pid, "TracerPid"))
        assert tracer > 0
        assert_one_line_error(run_cli("summary", "--pid", str(p.pid)),
                              "process %d is traced by process %d" % (p.pid, tracer),
                              "--no-stop")
        s = cli_pid_json(p.pid, "--no-stop")
        assert_matches_truth(s, p)
    finally:
        gdb.wait(timeout=60)  # GDB detaches when its commands are done
    p.assert_answers()


def test_executable_of_another_program(start):
    p = start("heapmix")
    r = run_cli("summary", "--pid", str(p.pid), FIXTURES["threads"].exe)
    assert_one_line_error(r, "process %d is not running executable" % p.pid)
    p.assert_answers()


def test_pid_usage_errors():
    assert_one_line_error(run_cli("summary", "--pid", "abc"), "--pid wants a process id")
    assert_one_line_error(run_cli("summary", "--pid"), "--pid wants a process id")
    assert_one_line_error(run_cli("summary", "--pid=0"), "--pid wants a process id")
    assert_one_line_error(run_cli("summary", "--no-stop", "a", "b"), "--no-stop goes with --pid")
