"""The goroutine stacks as roots (objects/stackroots.c) and their unwinder (runtime/frames.c),
checked against the runtime itself on every fixture of the matrix.

Each fixture program runs with GOTRACEBACK=crash and is killed with SIGABRT for its kernel core:
the runtime then prints every goroutine's traceback to stderr.log (fixtures/mkcore.sh), with
runtime frames, inlined calls and each physical frame's pc, sp and fp. The unwinder must give
the same frames (names, innermost first, inlined ones included) at the same pc/sp/fp, for every
goroutine, on every Go version, PIE and arm64 line built. The gcore (taken before the SIGABRT)
must agree for the goroutines the truth lists (they are blocked for good).

The driver is the unit test binary build/tests/test_stackroots in its driver mode (see the top
of tests/unit/test_stackroots.c).
"""

import os
import re
import subprocess

import pytest

from conftest import ARM64_FIXTURES, BUILD, built_fixtures

DRIVER = os.path.join(BUILD, "tests", "test_stackroots")
HEADER = re.compile(r"^goroutine (\d+)(?: gp=\S+)?(?: m=\S+)?(?: mp=\S+)? \[(.*)\]:$")
PHYSICAL = re.compile(r"\bfp=(0x[0-9a-f]+) sp=(0x[0-9a-f]+) pc=(0x[0-9a-f]+)")
ELIDED = re.compile(r"^\.\.\.(\d+ frames elided|additional frames elided)\.\.\.$")


def all_fixtures():
    """Every built fixture: the matrix, arm64 (qemu-user) and stripped ones (no DWARF: the
    layout tables answer, and the moduledata comes from the pclntab's own search)."""
    return (built_fixtures() + built_fixtures(ARM64_FIXTURES, ("kernel", "qemu")) +
            built_fixtures(os.path.join(BUILD, "fixtures-stripped"), ("kernel",)))


def dumped(fixture):
    path = os.path.join(os.path.dirname(fixture.exe), "stderr.log")
    return os.path.isfile(path) and "kernel" in fixture.cores and any(
        HEADER.match(line) for line in open(path, errors="replace"))


def strip_args(line):
    """`runtime.(*scavengerState).park(0x5f9600)` -> `runtime.(*scavengerState).park`."""
    assert line.endswith(")"), line
    depth = 0
    for i in range(len(line) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(line[i], 0)
        if depth == 0:
            return line[:i]
    raise AssertionError("unbalanced: " + line)


def parse_dump(path):
    """{goid: {"status", "frames": [[name, (fp, sp, pc) or None], ...], "elided": bool}}, the
    first traceback with frames of each goroutine in the runtime's crash output (goroutine 0,
    the Ms' g0 stacks, left out)."""
    gs, cur = {}, None
    for raw in open(path, errors="replace"):
        line = raw.rstrip("\n")
        m = HEADER.match(line)
        if m:
            goid = int(m.group(1))
            cur = None
            # A running goroutine is first listed as "running on other thread; stack
            # unavailable"; its thread prints its frames later.
            if goid and (goid not in gs or not gs[goid]["frames"]):
                cur = gs[goid] = {"status": m.group(2), "frames": [], "elided": False}
            continue
        if cur is None:
            continue
        if not line or line.startswith("created by"):
            cur = None
            continue
        if ELIDED.match(line):
            cur["elided"] = True
            cur["frames"].append(["...", None])
        elif line.startswith("\t"):
            p = PHYSICAL.search(line)
            if p and cur["frames"]:
                cur["frames"][-1][1] = tuple(int(x, 16) for x in p.groups())
        elif line.endswith(")"):
            cur["frames"].append([strip_args(line), None])
        else:
            cur = None  # registers or anything else: the traceback ended
    return gs


def run_driver(mode, fixture, kind, *extra):
    assert os.access(DRIVER, os.X_OK), "%s is not built (make unit)" % DRIVER
    r = subprocess.run([DRIVER, mode, fixture.exe, fixture.cores[kind], *extra],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, "%s %s failed: %s" % (DRIVER, mode, r.stderr)
    return r.stdout


def unwound(fixture, kind):
    """{goid: {"status", "source", "end", "frames": [(names, fp, sp, pc, conservative)]}}"""
    gs, cur = {}, None
    for line in run_driver("--frames", fixture, kind).splitlines():
        w = line.split(" ")
        if w[0] == "g":
            cur = gs[int(w[1])] = {"status": w[2], "source": w[3], "frames": []}
        elif w[0] == "f":
            cur["frames"].append((" ".join(w[5:]).split(";"), int(w[3], 16), int(w[2], 16),
                                  int(w[1], 16), w[4] == "1"))
        elif w[0] == "end":
            cur["end"] = w[1]
    return gs


def printed(name):
    """A function's name as a traceback prints it (printFuncName, traceback.go)."""
    return "panic" if name == "runtime.gopanic" else name


def flatten(frames):
    """The names, innermost first, and the (fp, sp, pc) of each physical frame at its last name,
    as the runtime prints them."""
    out = []
    for names, fp, sp, pc, _ in frames:
        for name in names[:-1]:
            out.append([printed(name), None])
        out.append([printed(names[-1]), (fp, sp, pc)])
    return out


def compare(want, got):
    """Whether the runtime's frames (possibly with an elided middle) equal the unwinder's."""
    if "..." not in [n for n, _ in want]:
        return want == got
    i = [n for n, _ in want].index("...")
    head, tail = want[:i], want[i + 1:]
    return got[:len(head)] == head and (not tail or got[-len(tail):] == tail)


STACK_FIXTURES = [f for f in all_fixtures() if dumped(f)]


def test_fixtures_with_tracebacks_exist():
    names = [f.name for f in STACK_FIXTURES]
    assert any(n.startswith("goroutines-") for n in names), \
        "no goroutines fixture with its crash traceback in build/fixtures (./setup fixtures)"
    assert any(n.startswith("objgraph-") for n in names), \
        "no objgraph fixture with its crash traceback in build/fixtures (./setup fixtures)"


@pytest.mark.parametrize("fixture", STACK_FIXTURES, ids=lambda f: f.name)
def test_frames_equal_the_runtimes_traceback(fixture):
    want = parse_dump(os.path.join(os.path.dirname(fixture.exe), "stderr.log"))
    got = unwound(fixture, "kernel")
    assert want, "no goroutine in the traceback"
    bad = []
    for goid, w in sorted(want.items()):
        if goid not in got:
            bad.append("goroutine %d: not unwound (status %s)" % (goid, w["status"]))
            continue
        g = got[goid]
        if g["end"] != "top" or not compare(w["frames"], flatten(g["frames"])):
            bad.append("goroutine %d (%s): runtime %s\n  gomem (%s) %s" % (
                goid, w["status"], w["frames"], g["end"], flatten(g["frames"])))
    assert not bad, "\n".join(bad[:5])
    wrong = [(goid, g["frames"][i][0]) for goid, g in got.items()
             for i in range(len(g["frames"]))
             if g["frames"][i][4] != should_be_conservative(g, i)]
    assert not wrong, "frames conservative or not against the runtime's rule: %s" % wrong[:5]


PREEMPT = ("runtime.asyncPreempt", "runtime.debugCallV2")


def should_be_conservative(g, i):
    """scanframeworker: asyncPreempt and debugCallV2 and the frame each interrupted; and (the
    tool's rule, GO-OBJECTS.md §3.4) the innermost frame of a thread caught running."""
    frames = g["frames"]
    return (frames[i][0][-1] in PREEMPT or (i > 0 and frames[i - 1][0][-1] in PREEMPT)
            or (i == 0 and g["source"] in ("thread", "signal")))


GOROUTINES = [f for f in STACK_FIXTURES if f.name.startswith("goroutines-") and "gcore" in f.cores]


@pytest.mark.parametrize("fixture", GOROUTINES, ids=lambda f: f.name)
def test_gcore_frames_equal_the_runtimes_traceback(fixture):
    """The gcore, taken before the SIGABRT: the truth's goroutines, blocked for good, unwind to
    the same frames."""
    want = parse_dump(os.path.join(os.path.dirname(fixture.exe), "stderr.log"))
    got = unwound(fixture, "gcore")
    goids = [goid for grp in fixture.truth["goroutines"]["groups"] for goid in grp["goids"]]
    assert len(goids) == 139 + 1
    for goid in goids:
        assert goid in got, "goroutine %d not unwound" % goid
        g = got[goid]
        assert g["end"] == "top"
        assert compare(want[goid]["frames"], flatten(g["frames"])), \
            "goroutine %d: runtime %s, gomem %s" % (goid, want[goid]["frames"], g["frames"])
        assert not any(f[4] for f in g["frames"])
    # And what the truth logged from runtime.Stack: each group's innermost shown frame, user
    # frame and start function are among the goroutine's frames, the start function outermost
    # under runtime.goexit (or a wrapper of it: F.gowrapN from 1.22).
    for grp in fixture.truth["goroutines"]["groups"]:
        for goid in grp["goids"]:
            names = [n for n, _ in flatten(got[goid]["frames"])]
            assert grp["function"] in names and grp["user_function"] in names, (grp, names)
            assert names[-1] == "runtime.goexit"
            assert grp["start_function"] in names[-3:-1], (grp, names)


def slots(fixture, kind):
    rows, stats = [], None
    for line in run_driver("--slots", fixture, kind).splitlines():
        w = line.split(" ")
        if w[0] == "s":
            rows.append({"kind": w[1], "goid": int(w[2]), "frame_pc": int(w[3], 16),
                         "frame_sp": int(w[4], 16), "func": w[5], "addr": int(w[6], 16),
                         "value": int(w[7], 16), "conservative": w[8] == "1", "heap": w[9]})
        elif w[0] == "stats":
            stats = dict(zip(("goroutines", "frames", "frames_conservative", "slots",
                              "words_conservative"), map(int, w[1:])))
    return rows, stats


def words(fixture, kind, addrs):
    out = run_driver("--words", fixture, kind, *["0x%x" % a for a in addrs]).split()
    return [None if w == "fault" else int(w, 16) for w in out]


OBJGRAPH = [(f, k) for f in all_fixtures() if f.name.startswith("objgraph-")
            for k in sorted(f.cores)]


def test_objgraph_fixtures_exist():
    assert OBJGRAPH, "no objgraph fixture in build/fixtures (./setup fixtures)"


@pytest.mark.parametrize("fixture,kind", OBJGRAPH, ids=lambda x: getattr(x, "name", x))
def test_holders_local_is_a_precise_root_of_its_tree(fixture, kind):
    """main.holder's local x holds a tree of 127 main.stackOnly; the truth's probe is
    x.left.right (left at offset 0, right at 8: fixtures/objgraph/main.go). Exactly the precise
    local slots of main.holder's frame whose value v has *(*(v+0)+8) == the probe hold it."""
    probe = [p for p in fixture.truth["objgraph"]["probes"] if p["type"] == "main.stackOnly"]
    assert len(probe) == 1 and probe[0]["expr"] == "x.left.right"
    probe, goid = probe[0], probe[0]["root"]["goroutine"]
    rows, stats = slots(fixture, kind)
    assert stats["slots"] == len(rows)
    assert stats["goroutines"] >= 2
    holder = [r for r in rows if r["goid"] == goid and r["func"] == "main.holder"]
    assert holder, "no slot in goroutine %d's main.holder frame" % goid
    locals_ = [r for r in holder if r["kind"] == "local" and not r["conservative"]]
    lefts = words(fixture, kind, [r["value"] for r in locals_])
    rights = words(fixture, kind, [(v or 0) + 8 for v in lefts])
    roots = [r for r, right in zip(locals_, rights) if right == probe["addr"]]
    assert len(roots) == 1, "precise locals of main.holder: %s" % locals_
    # Parked goroutines only: nothing conservative in this quiescent core.
    assert stats["frames_conservative"] == 0, stats
    assert not any(r["conservative"] for r in rows)


SPINNERS = [f for f in all_fixtures() if f.name.startswith("spinners-")]


def test_spinners_fixtures_exist():
    assert SPINNERS, "no spinners fixture in build/fixtures (./setup fixtures; matrix.txt)"


@pytest.mark.parametrize("fixture", SPINNERS, ids=lambda f: f.name)
def test_preempted_goroutines_are_scanned_conservatively_below_async_preempt(fixture):
    """In the kernel core the crash stopped every spinner: each waits with runtime.asyncPreempt
    on its stack, which is scanned conservatively, with main.spin, the frame it interrupted;
    the frames above them are precise; every other goroutine is precise."""
    got = unwound(fixture, "kernel")
    spinners = [g for g in got.values() if any("main.spin" in f[0] for f in g["frames"])]
    assert len(spinners) >= 2
    preempted = [g for g in spinners if g["source"] == "sched"]
    assert preempted, "no spinner was preempted"
    for g in preempted:
        names = [f[0][-1] for f in g["frames"]]
        i = names.index("runtime.asyncPreempt")
        assert names[i + 1] == "main.spin"
        assert [f[4] for f in g["frames"]] == [j in (i, i + 1) for j in range(len(names))]
    rows, stats = slots(fixture, "kernel")
    assert stats["frames_conservative"] == conservative_frames(got)
    assert stats["words_conservative"] > 0
    assert all(r["conservative"] == (r["kind"] in ("conservative", "register")) or
               r["kind"] == "object" for r in rows)


@pytest.mark.parametrize("fixture", SPINNERS, ids=lambda f: f.name)
def test_a_goroutine_running_at_the_crash_starts_at_its_signals_context(fixture):
    """main.spinAsm's loop (assembly) cannot be preempted: at the crash its thread is in the
    signal handler on its gsignal stack, and the walk starts at the registers the signal's
    ucontext saved (runtime.sigtramp's frame): the same frames as the runtime's traceback
    (test_frames_equal_the_runtimes_traceback compares them), the innermost conservative."""
    got = unwound(fixture, "kernel")
    asm = [g for g in got.values() if any(f[0][-1] == "main.spinForever" for f in g["frames"])]
    assert len(asm) == 1
    g = asm[0]
    assert g["status"] == "running" and g["source"] == "signal" and g["end"] == "top"
    assert [f[0][-1] for f in g["frames"]][:2] == ["main.spinForever", "main.spinAsm"]
    assert [f[4] for f in g["frames"]] == [True] + [False] * (len(g["frames"]) - 1)


@pytest.mark.parametrize("fixture", [f for f in SPINNERS if "gcore" in f.cores],
                         ids=lambda f: f.name)
def test_running_goroutines_start_at_their_threads_registers(fixture):
    """The gcore froze GOMAXPROCS spinners on their threads, in main.spin: each is unwound from
    its thread's registers, its innermost frame and its registers scanned conservatively."""
    got = unwound(fixture, "gcore")
    running = [(goid, g) for goid, g in got.items() if g["status"] == "running"]
    assert len(running) >= 1, "no goroutine was running"
    for goid, g in running:
        assert g["source"] == "thread" and g["end"] == "top"
        assert g["frames"][0][0][-1] in ("main.spin", "main.spinForever") and g["frames"][0][4]
        assert not any(f[4] for f in g["frames"][1:])
    rows, stats = slots(fixture, "gcore")
    for goid, _ in running:
        regs = [r for r in rows if r["goid"] == goid and r["kind"] == "register"]
        assert regs and all(r["conservative"] and r["addr"] == 0 for r in regs)
        # main.spin has no locals ([sp, varp) is empty): only its argument's spill slot, when
        # not nil.
        inner = [r for r in rows if r["goid"] == goid and r["kind"] == "conservative"]
        assert all(r["func"] in ("main.spin", "main.spinForever") for r in inner)
    assert stats["frames_conservative"] == conservative_frames(got)


REFLECT_STUBS = ("reflect.makeFuncStub", "reflect.methodValueCall")


def conservative_frames(got):
    """The frames gm_stack_roots counts as conservative: those the unwinder flags, and the
    reflect stubs' (their locals, an abi.RegArgs, are scanned conservatively)."""
    return sum(f[4] or f[0][-1] in REFLECT_STUBS for g in got.values() for f in g["frames"])


@pytest.mark.parametrize("fixture,kind", [(f, k) for f in SPINNERS for k in sorted(f.cores)],
                         ids=lambda x: getattr(x, "name", x))
def test_reflect_stubs_arguments_are_precise_roots(fixture, kind):
    """Two goroutines block under reflect.makeFuncStub and reflect.methodValueCall, each passed
    20 *node: the last ones go on the stack, mapped only by the method value's bitvector
    (argMapInternal). The last argument, logged as a live object, is a precise argument slot
    of the stub's frame."""
    live = {o["kind"]: o["addr"] for o in fixture.truth["live_objects"]}
    rows, _ = slots(fixture, kind)
    for what, stub in (("reflect-makefunc-arg", "reflect.makeFuncStub"),
                       ("reflect-method-arg", "reflect.methodValueCall")):
        held = [r for r in rows if r["value"] == live[what] and r["func"] == stub]
        assert [(r["kind"], r["conservative"]) for r in held] == [("arg", False)], held


@pytest.mark.parametrize("fixture,kind", [(f, k) for f in SPINNERS for k in sorted(f.cores)],
                         ids=lambda x: getattr(x, "name", x))
def test_defer_and_panic_records_are_roots(fixture, kind):
    """main.deferWaiter blocks with two defer records (defers in a loop): their fn words and
    the link between them are defer slots. main.panicWaiter blocks in the deferred call of a
    panic: g._panic is a panic slot pointing into its own stack (at gopanic's frame), and the
    panic's value (logged "panic-value") is held by precise slots only."""
    frames = unwound(fixture, kind)
    rows, _ = slots(fixture, kind)

    def goroutine_of(func):
        found = [goid for goid, g in frames.items() if any(func in f[0] for f in g["frames"])]
        assert len(found) == 1, func
        return found[0], frames[found[0]]

    goid, _ = goroutine_of("main.deferWaiter")
    defers = [r for r in rows if r["goid"] == goid and r["kind"] == "defer"]
    assert len(defers) >= 3, defers  # two fn, one link (and heap records themselves)
    assert not any(r["conservative"] for r in defers)

    goid, g = goroutine_of("main.panicWaiter")
    panics = [r for r in rows if r["goid"] == goid and r["kind"] == "panic"]
    assert len(panics) == 1
    gopanic = [f for f in g["frames"] if f[0][-1] == "runtime.gopanic"]
    assert len(gopanic) == 1
    fp, sp = gopanic[0][1], gopanic[0][2]
    assert sp <= panics[0]["value"] < fp
    value = {o["kind"]: o["addr"] for o in fixture.truth["live_objects"]}["panic-value"]
    held = [r for r in rows if r["value"] == value]
    precise = [r for r in held if not r["conservative"]]
    assert precise and all(r["goid"] == goid for r in precise), held
    # A frame scanned conservatively (an asynchronously preempted one) may keep a dead copy
    # of any word: CI once saw goroutine 8 of spinners 1.19 hold the value so, which the
    # runtime would also treat as a root. Such a word is no precise slot.
    assert all(r["conservative"] for r in held if r["goid"] != goid), held


@pytest.mark.parametrize("fixture", STACK_FIXTURES, ids=lambda f: f.name)
def test_precise_slots_never_point_to_free_heap_slots(fixture):
    """A word the stack maps call a live pointer points to an allocated object, outside the
    heap, or nil; never into a free slot or a span's tail (a dead slot's stale pointer would:
    that is what the maps at pc-1 and the stack objects' reachability keep out)."""
    rows, stats = slots(fixture, "kernel")
    assert stats["slots"] == len(rows)
    bad = [r for r in rows if not r["conservative"] and r["heap"] in ("free", "tail")]
    assert not bad, bad[:5]
    assert any(r["heap"] == "alloc" for r in rows)
