"""Shared helpers: where the build and the fixture cores are, and how to run gomem."""

import json
import os
import subprocess

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GOMEM_BUILD", os.path.join(TOP, "build"))
GOMEM = os.path.join(BUILD, "gomem")
PLUGIN = os.path.join(TOP, "plugin", "memplug.py")


class Fixture:
    """One fixture program's executable, its cores and its logged truth."""

    def __init__(self, name, exe, cores, truth_path):
        self.name = name
        self.exe = exe
        self.cores = cores  # {"kernel": path, "gcore": path}
        with open(truth_path) as f:
            self.truth = json.load(f)

    def __repr__(self):
        return self.name


def built_fixtures():
    """Fixture cores made by ./setup test (fixtures/mkcore.sh) under build/fixtures."""
    root = os.path.join(BUILD, "fixtures")
    found = []
    if os.path.isdir(root):
        for name in sorted(os.listdir(root)):
            d = os.path.join(root, name)
            truth = os.path.join(d, "truth.json")
            if not os.path.isfile(truth):
                continue
            cores = {k: os.path.join(d, "core." + k) for k in ("kernel", "gcore")
                     if os.path.isfile(os.path.join(d, "core." + k))}
            found.append(Fixture(name, os.path.join(d, "exe"), cores, truth))
    return found


def committed_fixtures():
    """The committed, compressed cores, unpacked into build/committed."""
    root = os.path.join(TOP, "fixtures", "demo")
    out = []
    if not os.path.isdir(root):
        return out
    for entry in sorted(os.listdir(root)):
        if not entry.endswith(".exe.xz"):
            continue
        name = entry[: -len(".exe.xz")]
        dest = os.path.join(BUILD, "committed", name)
        subprocess.run([os.path.join(TOP, "fixtures", "unpack.sh"), name, dest], check=True,
                       stdout=subprocess.DEVNULL)
        out.append(Fixture("committed-" + name, os.path.join(dest, "exe"),
                           {"kernel": os.path.join(dest, "core.kernel")},
                           os.path.join(dest, "truth.json")))
    return out


def run_cli(*args):
    return subprocess.run([GOMEM, *args], capture_output=True, text=True, timeout=120)


def cli_json(verb, exe, core):
    r = run_cli(verb, "--json", exe, core)
    assert r.returncode == 0, "gomem %s failed (%d): %s" % (verb, r.returncode, r.stderr)
    assert r.stderr == ""
    return json.loads(r.stdout)


def run_gdb(exe, core, *commands):
    """Runs GDB in batch mode with the plugin; returns (returncode, stdout, stderr)."""
    argv = ["gdb", "-nx", "-q", "-batch", "-iex", "set auto-load off",
            "-x", PLUGIN]
    for c in commands:
        argv += ["-ex", c]
    argv += [a for a in (exe, core) if a]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    return r.returncode, r.stdout, r.stderr


def json_from_gdb(stdout):
    """The JSON object that a `gomem ... --json` printed among GDB's own lines."""
    start = stdout.index('{"schema"')
    obj, _ = json.JSONDecoder().raw_decode(stdout[start:])
    return obj


@pytest.fixture(scope="session")
def gomem_built():
    assert os.access(GOMEM, os.X_OK), "build/gomem is missing: run ./setup first"
    return GOMEM
