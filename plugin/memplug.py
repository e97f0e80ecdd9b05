# gomem for GDB: where a Go program's memory went.
#
#   gdb -x plugin/memplug.py ./main core      then   gomem summary
#
# Every analysis runs in libcore (C), reached through ctypes; this file only
# parses arguments and prints. It never walks runtime structures through
# gdb.Value.

import ctypes
import os

import gdb

_HERE = os.path.dirname(os.path.abspath(os.path.realpath(__file__)))


def _library_path():
    env = os.environ.get("GOMEM_LIB")
    if env:
        return env
    return os.path.join(_HERE, os.pardir, "build", "libgomem.so")


class _Lib:
    """libcore's C API, with argtypes and restype on every function."""

    FORMAT_TEXT = 0
    FORMAT_JSON = 1

    def __init__(self, path):
        lib = ctypes.CDLL(os.path.normpath(path))
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        lib.gomem_error_message.argtypes = [vp]
        lib.gomem_error_message.restype = cp
        lib.gomem_error_destroy.argtypes = [vp]
        lib.gomem_error_destroy.restype = None
        lib.gomem_target_open_core.argtypes = [cp, cp, ctypes.POINTER(vp)]
        lib.gomem_target_open_core.restype = vp
        lib.gomem_target_destroy.argtypes = [vp]
        lib.gomem_target_destroy.restype = None
        lib.gomem_report.argtypes = [vp, cp, ctypes.c_int, ctypes.POINTER(vp),
                                     ctypes.POINTER(ctypes.c_int)]
        lib.gomem_report.restype = vp
        lib.gomem_free.argtypes = [vp]
        lib.gomem_free.restype = None
        lib.gomem_version.argtypes = []
        lib.gomem_version.restype = cp
        self.lib = lib

    def check(self, err):
        """Turns a struct gomem_error * into one gdb.GdbError line."""
        if err:
            msg = self.lib.gomem_error_message(err).decode("utf-8", "replace")
            self.lib.gomem_error_destroy(err)
            raise gdb.GdbError("gomem: " + msg)

    def open_core(self, exe, core):
        target = ctypes.c_void_p()
        self.check(self.lib.gomem_target_open_core(
            os.fsencode(exe), os.fsencode(core), ctypes.byref(target)))
        return target

    def report(self, target, verb, fmt):
        out = ctypes.c_void_p()
        partial = ctypes.c_int(0)
        self.check(self.lib.gomem_report(target, verb.encode(), fmt,
                                         ctypes.byref(out), ctypes.byref(partial)))
        try:
            return ctypes.string_at(out.value).decode("utf-8", "replace")
        finally:
            self.lib.gomem_free(out)


def _core_file(inferior):
    """The core file's path: Inferior.corefile on GDB 17+, else `info target`."""
    corefile = getattr(inferior, "corefile", None)
    if corefile is not None:
        return corefile.filename
    text = gdb.execute("info target", to_string=True)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("Local core dump file:") and i + 1 < len(lines):
            entry = lines[i + 1].strip()
            if entry.startswith("`") and "', file type" in entry:
                return entry[1:entry.rindex("', file type")]
    return None


class _Session:
    """The one cached state: the library and the open target."""

    def __init__(self):
        self._lib = None
        self._key = None
        self._target = None

    def lib(self):
        if self._lib is None:
            path = _library_path()
            try:
                self._lib = _Lib(path)
            except OSError as e:
                raise gdb.GdbError(
                    "gomem: cannot load libcore (%s): run ./setup first, or set "
                    "GOMEM_LIB to libgomem.so" % e)
        return self._lib

    def drop(self, *_args):
        if self._target is not None and self._lib is not None:
            self._lib.lib.gomem_target_destroy(self._target)
        self._target = None
        self._key = None

    def target(self):
        inferior = gdb.selected_inferior()
        conn = getattr(inferior, "connection", None)
        kind = conn.type if conn is not None else None
        exe = gdb.current_progspace().filename
        if kind is None:
            raise gdb.GdbError("gomem: no target: load an executable and a core file "
                               "(gdb -x memplug.py EXE CORE)")
        if kind != "core":
            raise gdb.GdbError("gomem: live processes (%s target) are not supported yet; "
                               "take a core with `gcore` and open it" % kind)
        if not exe:
            raise gdb.GdbError("gomem: no executable: load one with `file EXE`")
        core = _core_file(inferior)
        if not core:
            raise gdb.GdbError("gomem: cannot find the core file's name in `info target`")
        key = (exe, core)
        if self._key != key:
            self.drop()
            self._target = self.lib().open_core(exe, core)
            self._key = key
        return self._target


_SESSION = _Session()


def _parse(arg, allowed):
    """Splits arguments into a set of known flags; rejects anything else."""
    flags = set()
    for word in gdb.string_to_argv(arg):
        if word not in allowed:
            raise gdb.GdbError("gomem: unknown argument %r (expected one of: %s)"
                               % (word, ", ".join(sorted(allowed))))
        flags.add(word)
    return flags


class GomemCommand(gdb.Command):
    """Where a Go program's memory went, from a core file.

Usage: gomem SUBCOMMAND [OPTIONS]

Subcommands:
  gomem summary [--json]   reserved versus used: the breakdown tree, MemStats
                           as the runtime sees them, and the checks

Load with: gdb -x plugin/memplug.py EXE CORE"""

    def __init__(self):
        super().__init__("gomem", gdb.COMMAND_DATA, gdb.COMPLETE_COMMAND, True)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("gomem: unknown subcommand %r (try `help gomem`)"
                               % arg.split()[0])
        gdb.write(self.__doc__ + "\n")


class GomemSummary(gdb.Command):
    """Reserved versus used: where the address space goes, MemStats, checks.

Usage: gomem summary [--json]

Prints the breakdown of the process's address space (Go heap arenas: in-use
spans, stacks, free retained and released pages, reserved space), the
runtime.MemStats values exactly as runtime.ReadMemStats would report them, and
the checks between the runtime's counters and the walk of its structures.
With --json, prints the gomem/summary/v1 object (the same as the CLI's)."""

    def __init__(self):
        super().__init__("gomem summary", gdb.COMMAND_DATA)

    def complete(self, text, word):
        return [o for o in ("--json",) if o.startswith(word or "")]

    def invoke(self, arg, from_tty):
        flags = _parse(arg, {"--json"})
        fmt = _Lib.FORMAT_JSON if "--json" in flags else _Lib.FORMAT_TEXT
        target = _SESSION.target()
        gdb.write(_SESSION.lib().report(target, "summary", fmt))


def _register():
    GomemCommand()
    GomemSummary()
    for event in ("new_objfile", "clear_objfiles", "exited", "cont", "stop"):
        registry = getattr(gdb.events, event, None)
        if registry is not None:
            registry.connect(_SESSION.drop)


_register()
