"""`gomem batch`: many cores at once, one JSON summary a line, in the order given.

Each line must be exactly what `gomem summary --json` prints for that core
(which test_summary.py checks against the programs' own MemStats; here the
MemStats are checked against truth.json again), a core that cannot be read
gives an error line and the batch goes on, and the exit status says whether
anything failed.
"""

import json
import os
import pty
import resource
import subprocess

import pytest

from conftest import EXACT_FIELDS, GOMEM, cli_json, run_cli, system_go_fixtures

FIXTURES = system_go_fixtures()
PROGRAMS = ["heapmix", "hello", "threads"]


@pytest.fixture(scope="module")
def heapmix():
    return FIXTURES["heapmix"]


@pytest.fixture(scope="module")
def broken(tmp_path_factory):
    p = tmp_path_factory.mktemp("batch") / "not-a-core"
    p.write_bytes(b"this is not an ELF core\n" * 100)
    return str(p)


def lines_of(stdout):
    assert stdout.endswith("\n")
    return [json.loads(line) for line in stdout.splitlines()]


def assert_summary_of(line, fixture, kind):
    """A batch line is the summary --json of the core, and its MemStats are the truth."""
    assert line == cli_json("summary", fixture.exe, fixture.cores[kind])
    assert line["target"]["core"] == fixture.cores[kind]
    for field in EXACT_FIELDS:
        assert line["memstats"][field] == fixture.truth[field], field


def test_batch_lines_are_the_summaries_and_a_broken_core_is_an_error_line(heapmix, broken):
    r = run_cli("batch", heapmix.exe, heapmix.cores["kernel"], broken, heapmix.cores["gcore"])
    assert r.returncode == 1, r.stderr
    assert r.stderr == ""
    lines = lines_of(r.stdout)
    assert len(lines) == 3
    assert_summary_of(lines[0], heapmix, "kernel")
    assert lines[1] == {"core": broken, "exe": heapmix.exe,
                        "error": "core %s: not an ELF file" % broken}
    assert_summary_of(lines[2], heapmix, "gcore")


def test_batch_of_good_cores_exits_0(heapmix):
    r = run_cli("batch", heapmix.exe, heapmix.cores["gcore"], heapmix.cores["kernel"])
    assert r.returncode == 0, r.stderr
    lines = lines_of(r.stdout)
    assert [l["target"]["core"] for l in lines] == [heapmix.cores["gcore"],
                                                    heapmix.cores["kernel"]]
    assert_summary_of(lines[0], heapmix, "gcore")
    assert_summary_of(lines[1], heapmix, "kernel")


def manifest_text(broken):
    """Every program's kernel core, a core of another program, a missing file and a broken one."""
    f = [FIXTURES[p] for p in PROGRAMS]
    return ("# fixtures of gomem batch\n\n"
            "%s %s\n" % (f[0].exe, f[0].cores["kernel"]) +
            "%s\t%s\n" % (f[1].exe, f[1].cores["kernel"]) +  # split at the tab
            "   %s   %s   \n" % (f[2].exe, f[2].cores["kernel"]) +
            "%s %s\n" % (f[0].exe, f[1].cores["kernel"]) +  # hello's core, heapmix's exe
            "%s %s\n" % (f[2].exe, "/nonexistent/core") +
            "%s %s\n" % (f[0].exe, broken))


def check_manifest_lines(lines, broken):
    f = [FIXTURES[p] for p in PROGRAMS]
    assert len(lines) == 6
    for i in range(3):
        assert_summary_of(lines[i], f[i], "kernel")
    assert lines[3]["core"] == f[1].cores["kernel"] and lines[3]["exe"] == f[0].exe
    assert "is not from executable" in lines[3]["error"]
    assert lines[4]["core"] == "/nonexistent/core"
    assert "No such file" in lines[4]["error"]
    assert lines[5]["error"] == "core %s: not an ELF file" % broken
    for line in lines[3:]:
        assert sorted(line) == ["core", "error", "exe"]


def test_batch_manifest_lists_cores_of_several_executables(broken, tmp_path):
    manifest = tmp_path / "manifest"
    manifest.write_text(manifest_text(broken))
    r = run_cli("batch", "--manifest", str(manifest))
    assert r.returncode == 1, r.stderr
    check_manifest_lines(lines_of(r.stdout), broken)


def test_batch_manifest_from_stdin(broken):
    r = subprocess.run([GOMEM, "batch", "--manifest=-"], input=manifest_text(broken),
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 1, r.stderr
    check_manifest_lines(lines_of(r.stdout), broken)


@pytest.mark.parametrize("jobs", ["2", "3", "6"])
def test_batch_jobs_gives_the_same_lines_in_input_order(broken, tmp_path, jobs):
    manifest = tmp_path / "manifest"
    manifest.write_text(manifest_text(broken))
    one = run_cli("batch", "--manifest", str(manifest))
    many = run_cli("batch", "--jobs", jobs, "--manifest", str(manifest))
    assert many.returncode == one.returncode == 1
    assert many.stdout == one.stdout
    check_manifest_lines(lines_of(many.stdout), broken)


CRASHER = r"""
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

/* open() as usual, but a path with "crash-here" in it kills the process with SIGSEGV. */
int open(const char *path, int flags, ...)
{
	static int (*real)(const char *, int, ...);
	mode_t mode = 0;
	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;
		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (strstr(path, "crash-here"))
		raise(SIGSEGV);
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open");
	return real(path, flags, mode);
}
"""


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def test_batch_survives_a_crash_reading_one_core(heapmix, tmp_path):
    """A child killed by a signal while it reads its core is that core's line, no more.

    The signal is real: an LD_PRELOAD'ed open() raises SIGSEGV in the child
    that opens the core named crash-here (a link to a good core).
    """
    src = tmp_path / "crasher.c"
    src.write_text(CRASHER)
    lib = tmp_path / "crasher.so"
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(lib), str(src), "-ldl"], check=True)
    crash = str(tmp_path / "crash-here")
    os.symlink(heapmix.cores["kernel"], crash)
    r = subprocess.run([GOMEM, "batch", "--jobs", "2", heapmix.exe, heapmix.cores["kernel"],
                        crash, heapmix.cores["gcore"]], capture_output=True, text=True,
                       timeout=300, cwd=str(tmp_path), preexec_fn=no_core_dumps,
                       env=dict(os.environ, LD_PRELOAD=str(lib)))
    assert r.returncode == 1, r.stderr
    lines = lines_of(r.stdout)
    assert len(lines) == 3
    assert_summary_of(lines[0], heapmix, "kernel")
    assert lines[1] == {"core": crash, "exe": heapmix.exe,
                        "error": "gomem crashed reading this core: killed by signal 11 "
                                 "(Segmentation fault)"}
    assert_summary_of(lines[2], heapmix, "gcore")


def test_batch_shows_progress_on_a_terminal_only(heapmix):
    quiet = run_cli("batch", heapmix.exe, heapmix.cores["kernel"])
    assert quiet.returncode == 0 and quiet.stderr == ""
    master, slave = pty.openpty()
    try:
        r = subprocess.run([GOMEM, "batch", heapmix.exe, heapmix.cores["kernel"],
                            heapmix.cores["gcore"]], stdout=subprocess.PIPE, stderr=slave,
                           text=True, timeout=300)
        os.close(slave)
        slave = None
        seen = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if slave is not None:
            os.close(slave)
        os.close(master)
    assert r.returncode == 0
    assert len(lines_of(r.stdout)) == 2
    assert b"\rgomem batch: 1 of 2 cores read, 0 failed, 1 running\x1b[K" in seen, seen
    # The progress line is cleared at the end and the tally stays.
    assert seen.endswith(b"\r\x1b[Kgomem batch: 2 cores read, 0 failed\r\n"), seen


@pytest.mark.parametrize("args,words", [
    ([], "expected EXE CORE"),
    (["EXE"], "no core after the executable"),
    (["--jobs", "0", "a", "b"], "--jobs wants a number"),
    (["--jobs", "x", "a", "b"], "--jobs wants a number"),
    (["--frobnicate", "a", "b"], "unknown option --frobnicate"),
    (["--manifest", "/nonexistent/manifest"], "/nonexistent/manifest"),
    (["--manifest", "M", "a", "b"], "not both"),
])
def test_batch_usage_errors_exit_2(args, words):
    r = run_cli("batch", *args)
    assert r.returncode == 2
    assert r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and words in r.stderr, r.stderr


def test_batch_manifest_with_a_bad_line_names_it(tmp_path, heapmix):
    manifest = tmp_path / "manifest"
    manifest.write_text("%s %s\njust-one-field\n" % (heapmix.exe, heapmix.cores["kernel"]))
    r = run_cli("batch", "--manifest", str(manifest))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "gomem: batch: manifest %s, line 2: want EXE CORE\n" % manifest


def test_batch_help_is_its_own():
    r = run_cli("batch", "--help")
    assert r.returncode == 0
    assert r.stdout.startswith("usage: gomem batch [--jobs N] EXE CORE...\n")
    assert "--manifest FILE" in r.stdout
    top = run_cli("--help")
    assert "gomem batch [--jobs N]" in top.stdout
