"""Hostile and broken input (issue 7): one clear error line, exit status 2, GDB alive after.

Each case makes a bad file (or a real core of a broken setup) and checks the CLI (exit
status 2, one stderr line naming the file and the problem) and GDB with the plugin (a
gdb.GdbError with that line, no traceback, and the next command still runs). The CLI
cases that test_errors.py already checks (empty, directory, random bytes, truncated
headers, executable as core) are only checked in GDB here.

Some cases need a real core of a process in a given state (a coredump_filter without
anonymous memory, a program without DWARF, a program that is not Go): the tests run the
program, then SIGABRT it, as fixtures/mkcore.sh does; they are skipped where the kernel
does not write cores into the working directory.
"""

import json
import os
import re
import resource
import shutil
import signal
import stat
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import (BUILD, built_fixtures, json_from_gdb, program_headers as phdrs, run_cli,
                      run_gdb)


def _machine_go():
    try:
        return subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True,
                              timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def _base_fixtures():
    """One fixture per program: the one built with the machine's Go where there is one
    (not the version matrix's), else a plain build (no PIE, no experiment)."""
    mine = _machine_go()
    out = {}
    for f in built_fixtures():
        prog, _, rest = f.name.partition("-go")
        if "go" + rest == mine:
            out[prog] = f
        elif "-" not in rest:  # heapmix-go1.26.8, not heapmix-go1.25.12-pie
            out.setdefault(prog, f)
    return out


FIXTURES = _base_fixtures()
NODWARF = os.path.join(BUILD, "fixtures", "nodwarf")


@pytest.fixture(scope="module")
def heapmix():
    if "heapmix" not in FIXTURES:
        pytest.fail("no heapmix fixture: run ./setup fixtures")
    return FIXTURES["heapmix"]


@pytest.fixture(scope="module")
def threads():
    if "threads" not in FIXTURES:
        pytest.fail("no threads fixture: run ./setup fixtures")
    return FIXTURES["threads"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("hostile")


def assert_cli_error(r, *words, status=2):
    assert r.returncode == status, (r.returncode, r.stdout[-2000:], r.stderr)
    lines = r.stderr.splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("gomem: "), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


def gdb_error(exe, core, *words):
    """Runs `gomem summary` in GDB on exe and core, then a command after it: returns the
    gomem line. GDB must survive: no traceback, and the next command runs."""
    rc, out, err = run_gdb(exe, core, "gomem summary", "echo ALIVE-1\\n", "gomem summary --json",
                           "echo ALIVE-2\\n")
    assert "Traceback" not in out + err, out + err
    assert "ALIVE-1" in out and "ALIVE-2" in out, (out, err)
    lines = [line for line in err.splitlines() if line.startswith("gomem: ")]
    assert len(lines) == 2 and lines[0] == lines[1], err
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


# ---- files made here -------------------------------------------------------------------

def copy_sparse(src, dst):
    subprocess.run(["cp", "--sparse=always", src, str(dst)], check=True)
    return str(dst)


def elf_header(machine, e_type=4, ei_class=2, ei_data=1):
    ident = b"\x7fELF" + bytes([ei_class, ei_data, 1, 0]) + b"\0" * 8
    pack = "<" if ei_data == 1 else ">"
    return ident + struct.pack(pack + "HHIQQQIHHHHHH", e_type, machine, 1, 0, 64, 0, 0, 64, 56,
                               2, 64, 0, 0)


def arm64_core(path):
    """An aarch64 ET_CORE: its header, a PT_NOTE, a PT_LOAD with a page of data."""
    ph = struct.pack("<IIQQQQQQ", 4, 0, 176, 0, 0, 0, 0, 4)
    ph += struct.pack("<IIQQQQQQ", 1, 6, 4096, 0x400000, 0, 4096, 4096, 4096)
    data = elf_header(183) + ph
    data += b"\0" * (4096 - len(data)) + b"\xaa" * 4096
    path.write_bytes(data)
    return str(path)


def patch(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def go_build_id(exe):
    """The Go build ID from the .note.go.buildid note in the executable's first page."""
    with open(exe, "rb") as f:
        page = f.read(4096)
    m = re.search(rb"\x04\0\0\0(.)\0\0\0\x04\0\0\0Go\0\0", page, re.S)
    assert m, "no Go build ID note in %s" % exe
    n = m.group(1)[0]
    return page[m.end():m.end() + n].decode()


# ---- real cores of processes in a given state ------------------------------------------

def _core_pattern_usable():
    try:
        with open("/proc/sys/kernel/core_pattern") as f:
            pattern = f.read().strip()
    except OSError:
        return False
    return not pattern.startswith("|") and "/" not in pattern


def take_core(argv, workdir, ready, before_abort=None, env=None):
    """Runs argv in workdir until ready() is true, calls before_abort(pid), SIGABRTs it and
    returns the path of the core the kernel wrote there."""
    if not _core_pattern_usable():
        pytest.fail("kernel.core_pattern does not write cores into the working directory")
    os.makedirs(workdir, exist_ok=True)

    def unlimited():
        try:
            resource.setrlimit(resource.RLIMIT_CORE,
                               (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):  # a lower hard limit: as much as it allows
            hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
            resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))

    before = set(os.listdir(workdir))
    p = subprocess.Popen(argv, cwd=workdir, preexec_fn=unlimited, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 60
        while not ready():
            assert p.poll() is None, "%s exited with %s" % (argv[0], p.returncode)
            assert time.time() < deadline, "%s never got ready" % argv[0]
            time.sleep(0.05)
        time.sleep(0.3)  # let the program block
        if before_abort:
            before_abort(p.pid)
        p.send_signal(signal.SIGABRT)
        p.wait(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    new = [n for n in set(os.listdir(workdir)) - before if n.startswith("core")]
    if not new:
        pytest.fail("no core was written (ulimit -c, core_pattern?)")
    return os.path.join(workdir, new[0])


def go_program_core(exe, workdir, before_abort=None):
    """A core of a fixture program (it writes its truth file, then blocks)."""
    truth = os.path.join(workdir, "truth.json")
    env = dict(os.environ, GOTRACEBACK="crash")
    for k in ("GOGC", "GOMEMLIMIT", "GODEBUG", "GOMAXPROCS"):
        env.pop(k, None)
    return take_core([exe, truth], workdir, lambda: os.path.exists(truth), before_abort, env)


@pytest.fixture(scope="module")
def filtered_core(threads, scratch):
    """threads with coredump_filter 0x32: the default 0x33 without bit 0 (anonymous private)."""
    def set_filter(pid):
        with open("/proc/%d/coredump_filter" % pid, "w") as f:
            f.write("0x32")
    return threads.exe, go_program_core(threads.exe, str(scratch / "filtered"), set_filter)


@pytest.fixture(scope="module")
def nodwarf_core(scratch):
    if not os.path.exists(NODWARF):
        pytest.fail("no nodwarf fixture: run ./setup fixtures")
    return NODWARF, go_program_core(NODWARF, str(scratch / "nodwarf"))


@pytest.fixture(scope="module")
def c_program_core(scratch):
    """A core of a program that is not Go: sleep(1)."""
    sleep = shutil.which("sleep")
    core = take_core([sleep, "1000"], str(scratch / "c"), lambda: True)
    return sleep, core


# ---- the cases: each in the CLI and in GDB -----------------------------------------------

@pytest.fixture(params=["cli", "gdb"])
def where(request):
    """Each case runs in the CLI and in GDB (`-k "not gdb"` leaves GDB out, as the
    sanitizer run of ./setup test does: GDB cannot load an ASan-built library)."""
    return request.param


def check(where, exe, core, words, gdb_words=None):
    """The CLI's one line, or GDB's gomem line (GDB refuses some bad cores itself: then
    gdb_words, often just "gomem: ", since the plugin only knows there is no core)."""
    if where == "cli":
        return assert_cli_error(run_cli("summary", exe, core), *words)
    # GDB names the executable by its real path.
    words = [os.path.realpath(w) if w == exe else w
             for w in (words if gdb_words is None else gdb_words)]
    return gdb_error(exe, core, *words)


def test_truncated_core_data_names_the_core_and_says_truncated(heapmix, scratch, where):
    core = copy_sparse(heapmix.cores["kernel"], scratch / ("cut-data-" + where))
    os.truncate(core, os.path.getsize(core) // 2)
    check(where, heapmix.exe, core, [core, "truncated", "not saved in the core"])


def test_truncated_core_headers_in_gdb(heapmix, scratch):
    """The CLI's case is test_errors.py's; GDB refuses the file itself."""
    core = scratch / "cut-headers"
    with open(heapmix.cores["kernel"], "rb") as f:
        core.write_bytes(f.read(100))
    gdb_error(heapmix.exe, str(core), "gomem: ")


def test_corrupt_program_header_size_is_named(heapmix, scratch, where):
    core = copy_sparse(heapmix.cores["kernel"], scratch / ("bad-phentsize-" + where))
    patch(core, 54, struct.pack("<H", 40))  # e_phentsize
    check(where, heapmix.exe, core, [core, "corrupt ELF header", "e_phentsize"], ["gomem: "])


def test_program_headers_past_the_end_are_named(heapmix, scratch, where):
    core = copy_sparse(heapmix.cores["kernel"], scratch / ("bad-phoff-" + where))
    patch(core, 32, struct.pack("<Q", 1 << 40))  # e_phoff
    check(where, heapmix.exe, core, [core, "truncated", "program headers"], ["gomem: "])


def test_corrupt_note_is_a_warning_of_a_partial_result(heapmix, scratch, where):
    """A note whose size runs past its segment: the notes after it are lost, which the
    summary says in a warning, with exit status 1."""
    core = copy_sparse(heapmix.cores["kernel"], scratch / ("bad-note-" + where))
    phoff, table = phdrs(core)
    note = next(p for p in table if p[0] == 4)
    patch(core, note[2] + 4, struct.pack("<I", 0x7FFFFFF0))  # n_descsz of the first note
    if where == "cli":
        r = run_cli("summary", heapmix.exe, core)
        assert r.returncode == 1, (r.returncode, r.stderr)
        assert "corrupt note header" in r.stdout, r.stdout[-2000:]
        return
    rc, out, err = run_gdb(heapmix.exe, core, "gomem summary", "echo ALIVE\\n")
    assert "Traceback" not in out + err and "ALIVE" in out
    # GDB refuses such a core itself ("not a core dump"): then the plugin says it has none.
    assert "corrupt note header" in out or "gomem: no target" in err, (out, err)


def test_arm64_core_of_an_amd64_executable_names_both_machines(heapmix, scratch, where):
    """arm64 is read (issue 15), but a core must be of the executable's machine."""
    core = arm64_core(scratch / ("arm64.core-" + where))
    check(where, heapmix.exe, core, [core, "not from executable", "AArch64 (linux/arm64)",
                                     "x86-64 (linux/amd64)"], ["gomem: "])


def test_core_of_another_build_names_both_build_ids(heapmix, threads, where):
    core = threads.cores["kernel"]
    check(where, heapmix.exe, core, ["not from executable", core, heapmix.exe,
                                     go_build_id(threads.exe), go_build_id(heapmix.exe)])


def test_core_without_anonymous_memory_names_coredump_filter(filtered_core, where):
    exe, core = filtered_core
    check(where, exe, core, [core, "coredump_filter", "anonymous memory"])


def test_executable_without_dwarf_is_read_and_says_why(nodwarf_core, where):
    """-ldflags=-w: read with gomem's layout tables and the globals found in code
    (issue 16; test_stripped.py has the rest), and the report says so once."""
    exe, core = nodwarf_core
    if where == "cli":
        r = run_cli("summary", "--json", exe, core)
        assert r.returncode == 0, r.stderr
        warnings = json.loads(r.stdout)["warnings"]
    else:
        code, out, err = run_gdb(exe, core, "gomem summary --json")
        warnings = json_from_gdb(out)["warnings"]
    assert [w for w in warnings if "no DWARF" in w and "table" in w] != [], warnings


def test_core_of_a_program_that_is_not_go(c_program_core, where):
    exe, core = c_program_core
    check(where, exe, core, [exe, "not a Go program"])


@pytest.mark.parametrize("which", ["core", "exe"])
def test_fifo_is_refused_without_hanging(heapmix, scratch, which):
    """A FIFO (or a device) given as the core or the executable: refused at once, not read
    (opening a FIFO nobody writes to would block for ever)."""
    fifo = str(scratch / ("fifo-" + which))
    os.mkfifo(fifo)
    args = [heapmix.exe, fifo] if which == "core" else [fifo, heapmix.cores["kernel"]]
    r = subprocess.run([os.path.join(BUILD, "gomem"), "summary", *args], capture_output=True,
                       text=True, timeout=30)
    assert_cli_error(r, fifo, "not a regular file")


@pytest.mark.parametrize("case", ["empty", "directory", "random", "text", "exe-as-core"])
def test_unreadable_core_in_gdb_leaves_gdb_alive(heapmix, scratch, case):
    """The files that test_errors.py checks in the CLI, in GDB: GDB refuses most of them
    itself; the plugin then says there is no core, in one line, and GDB goes on."""
    if case == "directory":
        core = str(scratch)
    elif case == "exe-as-core":
        core = heapmix.exe
    else:
        p = scratch / ("gdb-" + case)
        p.write_bytes({"empty": b"", "random": os.urandom(8192),
                       "text": b"this is not a core\n" * 100}[case])
        core = str(p)
    gdb_error(heapmix.exe, core, "gomem: ")


@pytest.fixture(scope="module")
def hello():
    if "hello" not in FIXTURES:
        pytest.fail("no hello fixture: run ./setup fixtures")
    return FIXTURES["hello"]


def test_files_named_in_nt_file_that_are_not_regular_are_not_opened(hello, scratch):
    """A core whose NT_FILE note names a FIFO where the program had its libraries: gomem
    must not open it (nobody writes to it: opening it to read would block forever)."""
    core = copy_sparse(hello.cores["kernel"], scratch / "nt-file")
    short = tempfile.mkdtemp(prefix="g", dir="/tmp")
    fifo = os.path.join(short, "f")
    os.mkfifo(fifo)
    try:
        phoff, table = phdrs(core)
        note = next(p for p in table if p[0] == 4)
        with open(core, "rb") as f:
            f.seek(note[2])
            notes = f.read(note[5])
        renamed = 0
        # Every library path, as the same number of bytes: the FIFO's path after slashes.
        for m in set(re.findall(rb"/[^\0]*\.so[^\0]*\0", notes)):
            name = m[:-1]
            if len(name) < len(fifo):
                continue
            new = fifo.encode().rjust(len(name), b"/")
            for at in [i.start() for i in re.finditer(re.escape(m), notes)]:
                patch(core, note[2] + at, new)
                renamed += 1
        assert renamed, "no library in the hello fixture's NT_FILE note"
        for verb in ("summary", "mappings"):
            r = subprocess.run([os.path.join(BUILD, "gomem"), verb, hello.exe, core],
                               capture_output=True, text=True, timeout=60)  # a hang fails
            assert r.returncode in (0, 1), r.stderr
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    finally:
        shutil.rmtree(short)
