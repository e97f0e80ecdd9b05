"""libcore follows its data flow: tools/check-layers.sh passes on the tree, and
fails, naming the file, on a deliberately wrong include or symbol in a copy."""

import os
import shutil
import subprocess

from conftest import BUILD, TOP

CHECK = os.path.join(TOP, "tools", "check-layers.sh")
SRC = os.path.join(TOP, "libcore", "src")


def check(*args):
    return subprocess.run([CHECK, *args], capture_output=True, text=True, timeout=120)


def test_libcore_includes_and_symbols_follow_the_layers():
    obj = os.path.join(BUILD, "obj")
    assert os.path.isdir(obj), "%s is missing: build libcore first (make)" % obj
    r = check("-o", obj)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == ""


def test_include_of_a_later_layer_fails_naming_the_file(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SRC, src)
    victim = src / "base" / "strbuf.c"
    text = victim.read_text()
    victim.write_text(text.replace('#include "base/base.h"',
                                   '#include "base/base.h"\n#include "verbs/verbs.h"', 1))
    r = check("-s", str(src))
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'base/strbuf.c:' in r.stdout
    assert 'includes "verbs/verbs.h": verbs comes after base' in r.stdout
    assert len(r.stdout.splitlines()) == 1


def test_include_of_a_header_of_another_folder_without_its_folder_fails(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SRC, src)
    victim = src / "runtime" / "heap.c"
    victim.write_text('#include "target.h"\n' + victim.read_text())
    r = check("-s", str(src))
    assert r.returncode == 1
    assert 'runtime/heap.c:1 includes "target.h": not a header of runtime/' in r.stdout


def test_a_folder_that_is_no_layer_is_refused(tmp_path):
    src = tmp_path / "src"
    shutil.copytree(SRC, src)
    (src / "misc").mkdir()
    (src / "misc" / "x.c").write_text("int x;\n")
    r = check("-s", str(src))
    assert r.returncode == 2
    assert "is no layer" in r.stderr


def test_use_of_a_symbol_of_a_later_layer_fails_naming_both(tmp_path):
    """An object of base/ that calls a function of verbs/, declared by hand: no include
    shows it, nm does."""
    src, obj = tmp_path / "src", tmp_path / "obj"
    for layer, name, code in (
            ("base", "early.c", "int gm_late(void);\nint gm_early(void) { return gm_late(); }\n"),
            ("verbs", "late.c", "int gm_late(void);\nint gm_late(void) { return 1; }\n")):
        (src / layer).mkdir(parents=True)
        (obj / layer).mkdir(parents=True)
        (src / layer / name).write_text(code)
        subprocess.run(["cc", "-c", "-o", str(obj / layer / name.replace(".c", ".o")),
                        str(src / layer / name)], check=True)
    r = check("-s", str(src), "-o", str(obj))
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stdout.strip() == \
        "check-layers: base/early.o uses gm_late, defined in verbs/, which comes after base"
    # The other way round is the data flow: allowed.
    (src / "base" / "early.c").write_text("int gm_early(void);\nint gm_early(void) { return 0; }\n")
    (src / "verbs" / "late.c").write_text("int gm_early(void);\nint gm_late(void);\n"
                                          "int gm_late(void) { return gm_early(); }\n")
    for layer, name in (("base", "early"), ("verbs", "late")):
        subprocess.run(["cc", "-c", "-o", str(obj / layer / (name + ".o")),
                        str(src / layer / (name + ".c"))], check=True)
    r = check("-s", str(src), "-o", str(obj))
    assert r.returncode == 0, r.stdout + r.stderr
