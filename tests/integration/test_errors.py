"""Bad input: one clear line on stderr, exit status 2, and GDB stays alive."""

import os
import shutil

import pytest

from conftest import BUILD, assert_one_line_error, run_cli, run_gdb, system_go_fixtures

FIXTURES = system_go_fixtures()


@pytest.fixture(scope="module")
def heapmix():
    return FIXTURES["heapmix"]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    return tmp_path_factory.mktemp("bad")


def test_missing_core_names_the_file(heapmix):
    assert_one_line_error(run_cli("summary", heapmix.exe, "/nonexistent/core"),
                          "/nonexistent/core", "No such file")


def test_empty_core(heapmix, scratch):
    p = scratch / "empty"
    p.write_bytes(b"")
    assert_one_line_error(run_cli("summary", heapmix.exe, str(p)), str(p), "empty")


def test_directory_as_core(heapmix, scratch):
    assert_one_line_error(run_cli("summary", heapmix.exe, str(scratch)), "directory")


def test_random_bytes_are_not_a_core(heapmix, scratch):
    p = scratch / "random"
    p.write_bytes(os.urandom(4096))
    assert_one_line_error(run_cli("summary", heapmix.exe, str(p)), "not an ELF file")


def test_executable_passed_as_core(heapmix):
    assert_one_line_error(run_cli("summary", heapmix.exe, heapmix.exe), "not a core file")


def test_core_passed_as_executable(heapmix):
    core = heapmix.cores["kernel"]
    assert_one_line_error(run_cli("summary", core, core), "is a core file")


def test_truncated_core_headers(heapmix, scratch):
    p = scratch / "truncated"
    with open(heapmix.cores["kernel"], "rb") as f:
        p.write_bytes(f.read(100))
    assert_one_line_error(run_cli("summary", heapmix.exe, str(p)), "truncated")


def test_core_of_another_program():
    a, b = FIXTURES["heapmix"], FIXTURES["threads"]
    assert_one_line_error(run_cli("summary", b.exe, a.cores["kernel"]),
                          "not from executable")


def test_non_go_executable(heapmix):
    true = shutil.which("true")
    assert_one_line_error(run_cli("summary", true, heapmix.cores["kernel"]), "not a Go program")


def test_executable_without_dwarf(heapmix):
    nodwarf = os.path.join(BUILD, "fixtures", "nodwarf")
    assert os.path.exists(nodwarf), "./setup test builds fixtures/heapmix with -ldflags=-w"
    r = run_cli("summary", nodwarf, heapmix.cores["kernel"])
    # The core is not from this build either; whichever is found first, one line.
    assert r.returncode == 2 and len(r.stderr.splitlines()) == 1, r.stderr


def test_usage_errors():
    r = run_cli("summary")
    assert_one_line_error(r, "expected EXE CORE")
    assert_one_line_error(run_cli("frobnicate"), "unknown verb")
    assert_one_line_error(run_cli("summary", "--bogus", "a", "b"), "unknown option")
    r = run_cli("--help")
    assert r.returncode == 0 and "summary" in r.stdout


def test_gdb_error_is_one_line_and_gdb_survives(heapmix):
    true = shutil.which("true")
    rc, out, err = run_gdb(None, None, "file " + true, "core-file " + heapmix.cores["kernel"],
                           "gomem summary", "echo ALIVE\\n")
    assert "Traceback" not in out + err
    assert "gomem: " in err and "not a Go program" in err, err
    assert "ALIVE" in out


def test_gdb_without_target_says_so():
    rc, out, err = run_gdb(None, None, "gomem summary", "echo ALIVE\\n")
    assert "Traceback" not in out + err
    assert "gomem: no target" in err
    assert "ALIVE" in out


def test_gdb_prefix_alone_prints_help():
    rc, out, err = run_gdb(None, None, "gomem")
    assert "gomem summary" in out
