# gomem for GDB: where a Go program's memory went.
#
#   gdb -x plugin/memplug.py ./main core      then   gomem summary
#
# Every analysis runs in libcore (C), reached through ctypes; this file only
# parses arguments and prints. It never walks runtime structures through
# gdb.Value.

import ctypes
import json
import os
import textwrap

import gdb

_HERE = os.path.dirname(os.path.abspath(os.path.realpath(__file__)))

# gomem_target_open_pid flags (gomem.h).
_PID_STOPPED_BY_CALLER = 2

# int read(void *arg, uint64_t addr, void *buf, size_t len): gomem_read_fn.
_READ_FN = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p,
                            ctypes.c_size_t)


# Where `make install` put the library, relative to this file (it rewrites this line);
# None in a checkout, where the library is ../build/libgomem.so.
_INSTALLED_LIB = None


def _library_path():
    env = os.environ.get("GOMEM_LIB")
    if env:
        return env
    if _INSTALLED_LIB:
        return os.path.join(_HERE, _INSTALLED_LIB)
    return os.path.join(_HERE, os.pardir, "build", "libgomem.so")


class _Lib:
    """libcore's C API, with argtypes and restype on every function."""


    def __init__(self, path):
        lib = ctypes.CDLL(os.path.normpath(path))
        vp, cp = ctypes.c_void_p, ctypes.c_char_p
        lib.gomem_error_message.argtypes = [vp]
        lib.gomem_error_message.restype = cp
        lib.gomem_error_destroy.argtypes = [vp]
        lib.gomem_error_destroy.restype = None
        lib.gomem_target_open_core.argtypes = [cp, cp, ctypes.POINTER(vp)]
        lib.gomem_target_open_core.restype = vp
        lib.gomem_target_open_pid.argtypes = [ctypes.c_int, cp, ctypes.c_uint,
                                              ctypes.POINTER(vp)]
        lib.gomem_target_open_pid.restype = vp
        lib.gomem_target_open_callback.argtypes = [cp, ctypes.c_int, ctypes.c_uint64, cp,
                                                   _READ_FN, vp, ctypes.POINTER(vp)]
        lib.gomem_target_open_callback.restype = vp
        lib.gomem_target_open_core_with.argtypes = [cp, cp, cp, cp, ctypes.POINTER(vp)]
        lib.gomem_target_open_core_with.restype = vp
        lib.gomem_target_open_pid_with.argtypes = [ctypes.c_int, cp, ctypes.c_uint, cp, cp,
                                                   ctypes.POINTER(vp)]
        lib.gomem_target_open_pid_with.restype = vp
        lib.gomem_target_open_callback_with.argtypes = [cp, ctypes.c_int, ctypes.c_uint64, cp,
                                                        _READ_FN, vp, cp, cp,
                                                        ctypes.POINTER(vp)]
        lib.gomem_target_open_callback_with.restype = vp
        lib.gomem_target_destroy.argtypes = [vp]
        lib.gomem_target_destroy.restype = None
        lib.gomem_run.argtypes = [vp, cp, ctypes.c_int, ctypes.POINTER(cp),
                                  ctypes.POINTER(vp), ctypes.POINTER(ctypes.c_int)]
        lib.gomem_run.restype = vp
        lib.gomem_check_args.argtypes = [cp, ctypes.c_int, ctypes.POINTER(cp)]
        lib.gomem_check_args.restype = vp
        lib.gomem_verbs_json.argtypes = []
        lib.gomem_verbs_json.restype = vp
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

    def open_core(self, exe, core, debug_file=None):
        target = ctypes.c_void_p()
        self.check(self.lib.gomem_target_open_core_with(
            os.fsencode(exe), os.fsencode(core), _fsencode(debug_file), None,
            ctypes.byref(target)))
        return target

    def open_pid(self, pid, exe, flags, debug_file=None):
        target = ctypes.c_void_p()
        self.check(self.lib.gomem_target_open_pid_with(
            pid, _fsencode(exe), flags, _fsencode(debug_file), None, ctypes.byref(target)))
        return target

    def open_callback(self, exe, pid, at_entry, maps, read_fn, debug_file=None):
        """read_fn is a _READ_FN: the caller keeps it referenced while the target lives."""
        target = ctypes.c_void_p()
        self.check(self.lib.gomem_target_open_callback_with(
            os.fsencode(exe), pid, at_entry, maps.encode() if maps is not None else None,
            read_fn, None, _fsencode(debug_file), None, ctypes.byref(target)))
        return target

    def _take_string(self, ptr):
        try:
            return ctypes.string_at(ptr).decode("utf-8", "replace")
        finally:
            self.lib.gomem_free(ptr)

    @staticmethod
    def _argv(args):
        argv = (ctypes.c_char_p * (len(args) + 1))()
        for i, a in enumerate(args):
            argv[i] = os.fsencode(a)
        return argv

    def check_args(self, verb, args):
        self.check(self.lib.gomem_check_args(verb.encode(), len(args), self._argv(args)))

    def run(self, target, verb, args):
        out = ctypes.c_void_p()
        partial = ctypes.c_int(0)
        self.check(self.lib.gomem_run(target, verb.encode(), len(args), self._argv(args),
                                      ctypes.byref(out), ctypes.byref(partial)))
        return self._take_string(out.value)

    def verbs(self):
        ptr = self.lib.gomem_verbs_json()
        if not ptr:
            raise gdb.GdbError("gomem: out of memory")
        return json.loads(self._take_string(ptr))["verbs"]


def _fsencode(path):
    return os.fsencode(path) if path else None


def _info_target_file(heading):
    """The file named on the line after HEADING in `info target`, or None."""
    text = gdb.execute("info target", to_string=True)
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(heading) and i + 1 < len(lines):
            entry = lines[i + 1].strip()
            if entry.startswith("`") and "', file type" in entry:
                return entry[1:entry.rindex("', file type")]
    return None


def _exec_file():
    """The file that ran: GDB's exec file (after `symbol-file DEBUG`, Progspace.filename
    is DEBUG), else the main symbol file."""
    return _info_target_file("Local exec file:") or gdb.current_progspace().filename


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a == b


def _is_go_file(path):
    """Whether the file holds a Go build info blob (a Go executable or its debug file)."""
    try:
        with open(path, "rb") as f:
            return b"\xff Go buildinf:" in f.read()
    except OSError:
        return False


def _debug_file(exe):
    """The symbol file the user gave GDB for the executable, if any: `symbol-file`,
    `add-symbol-file`, or a separate debug file GDB found (build-id, debuginfod).
    libcore checks it against the executable, section by section."""
    main = gdb.current_progspace().filename
    if main and exe and not _same_file(main, exe):
        return main
    exe_build_id = None
    for o in gdb.objfiles():
        if o.is_valid() and o.filename and _same_file(o.filename, exe):
            exe_build_id = o.build_id
    for o in gdb.objfiles():
        if not o.is_valid() or not o.filename or _same_file(o.filename, exe):
            continue
        owner = o.owner
        if owner is not None and owner.filename and _same_file(owner.filename, exe):
            return o.filename
        if exe_build_id and o.build_id == exe_build_id:
            return o.filename
    for o in gdb.objfiles():
        if (o.is_valid() and o.filename and o.owner is None and os.path.isfile(o.filename)
                and not _same_file(o.filename, exe) and _is_go_file(o.filename)):
            return o.filename
    return None


def _core_file(inferior):
    """The core file's path: Inferior.corefile on GDB 17+, else `info target`."""
    corefile = getattr(inferior, "corefile", None)
    if corefile is not None:
        return corefile.filename
    return _info_target_file("Local core dump file:")


def _live_exe(pid, exe):
    """The executable to pass for a live process: GDB's, unless it is not the
    running file (then None: libcore reads /proc/PID/exe, which survives the
    file on disk being replaced or deleted)."""
    proc_exe = "/proc/%d/exe" % pid
    if not exe or not os.path.isfile(exe):
        return None
    try:
        if os.path.samefile(exe, proc_exe) or exe == os.readlink(proc_exe):
            return None
    except OSError:
        pass
    return exe


def _remote_auxv_entry():
    """AT_ENTRY from `info auxv` (GDB reads the auxv from the remote), 0 if unknown."""
    try:
        text = gdb.execute("info auxv", to_string=True)
    except gdb.error:
        return 0
    for line in text.splitlines():
        words = line.split()
        if len(words) > 2 and words[1] == "AT_ENTRY":
            try:
                return int(words[-1], 0)
            except ValueError:
                return 0
    return 0


def _remote_maps(pid):
    """The remote process's /proc/PID/maps, fetched by GDB; None when it cannot."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        local = os.path.join(tmp, "maps")
        try:
            gdb.execute("remote get /proc/%d/maps %s" % (pid, local), to_string=True)
            with open(local) as f:
                return f.read()
        except (gdb.error, OSError):
            return None


def _remote_reader(inferior):
    """A gomem_read_fn over Inferior.read_memory. Nothing may propagate
    through C: every exception becomes a read error."""
    def read(_arg, addr, buf, size):
        try:
            data = inferior.read_memory(addr, size).tobytes()
            if len(data) != size:
                return -1
            ctypes.memmove(buf, data, size)
            return 0
        except BaseException:
            return -1
    return _READ_FN(read)


class _Session:
    """The one cached state: the library and the open target."""

    def __init__(self):
        self._lib = None
        self._key = None
        self._target = None
        self._reader = None  # a remote target's read callback, referenced while it lives

    def lib(self):
        if self._lib is None:
            path = _library_path()
            try:
                self._lib = _Lib(path)
            except OSError as e:
                raise gdb.GdbError(
                    "gomem: cannot load libcore (%s): %s, or set GOMEM_LIB to "
                    "libgomem.so" % (e, "reinstall gomem" if _INSTALLED_LIB and
                                     not os.environ.get("GOMEM_LIB") else "run ./setup first"))
        return self._lib

    def drop(self, *_args):
        if self._target is not None and self._lib is not None:
            self._lib.lib.gomem_target_destroy(self._target)
        self._target = None
        self._key = None
        self._reader = None

    def _open_live(self, inferior, kind, exe):
        """A live inferior: /proc/PID/mem when GDB runs it here, else reads through GDB."""
        pid = inferior.pid
        debug = _debug_file(exe) if exe else None
        if kind == "native":
            exe = _live_exe(pid, exe)
            # GDB traces the inferior: it is stopped unless some thread runs (non-stop mode).
            stopped = all(t.is_stopped() for t in inferior.threads())
            flags = _PID_STOPPED_BY_CALLER if stopped else 0
            key = ("native", pid, exe, flags, debug)
            if self._key != key:
                self.drop()
                self._target = self.lib().open_pid(pid, exe, flags, debug)
                self._key = key
            return self._target
        if not exe or not os.path.isfile(exe):
            raise gdb.GdbError("gomem: no local copy of the executable: load one with "
                               "`file EXE`")
        key = (kind, pid, exe, debug)
        if self._key != key:
            self.drop()
            reader = _remote_reader(inferior)
            self._target = self.lib().open_callback(exe, pid, _remote_auxv_entry(),
                                                    _remote_maps(pid), reader, debug)
            self._reader = reader
            self._key = key
        return self._target

    def target(self):
        inferior = gdb.selected_inferior()
        conn = getattr(inferior, "connection", None)
        kind = conn.type if conn is not None else None
        exe = _exec_file()
        if kind is None:
            raise gdb.GdbError("gomem: no target: load an executable and a core file "
                               "(gdb -x memplug.py EXE CORE)")
        if kind in ("native", "remote", "extended-remote"):
            if not inferior.pid:
                raise gdb.GdbError("gomem: no process: start or attach to one first")
            return self._open_live(inferior, kind, exe)
        if kind != "core":
            raise gdb.GdbError("gomem: %s targets are not supported" % kind)
        if not exe:
            raise gdb.GdbError("gomem: no executable: load one with `file EXE`")
        core = _core_file(inferior)
        if not core:
            raise gdb.GdbError("gomem: cannot find the core file's name in `info target`")
        debug = _debug_file(exe)
        key = (exe, core, debug)
        if self._key != key:
            self.drop()
            self._target = self.lib().open_core(exe, core, debug)
            self._key = key
        return self._target


_SESSION = _Session()


class GomemCommand(gdb.Command):
    """Where a Go program's memory went, from a core file.

Usage: gomem SUBCOMMAND [OPTIONS]

Load with: gdb -x plugin/memplug.py EXE CORE
Every subcommand takes --json. `help gomem SUBCOMMAND` gives its usage."""

    def __init__(self, verbs):
        lines = ["", "Subcommands:"]
        lines += ["  gomem %-10s %s" % (v["name"], v["summary"]) for v in verbs]
        self.__doc__ = GomemCommand.__doc__ + "\n".join(lines)
        super().__init__("gomem", gdb.COMMAND_DATA, gdb.COMPLETE_COMMAND, True)

    def invoke(self, arg, from_tty):
        if arg.strip():
            raise gdb.GdbError("gomem: unknown subcommand %r (try `help gomem`)"
                               % arg.split()[0])
        gdb.write(self.__doc__ + "\n")


class VerbCommand(gdb.Command):
    """One verb of libcore, with its help text and options from libcore's table."""

    def __init__(self, verb):
        self.verb = verb["name"]
        self.options = [o["name"] for o in verb["options"]]
        opts = "\n".join("  %-18s %s" % (o["name"] + (" " + o["value"] if o["value"] else ""),
                                         o["help"]) for o in verb["options"])
        self.__doc__ = "%s\n\nUsage: gomem %s\n\n%s\n\nOptions:\n%s" % (
            verb["summary"][:1].upper() + verb["summary"][1:] + ".", verb["usage"],
            textwrap.fill(verb["help"], 78), opts)
        super().__init__("gomem " + self.verb, gdb.COMMAND_DATA)

    def complete(self, text, word):
        # GDB breaks words at '-', so complete the whole last token and hand
        # back only the part that replaces `word`.
        word = word or ""
        last = "" if not text or text[-1].isspace() else text.split()[-1]
        cut = len(last) - len(word)
        return [o[cut:] for o in self.options if o.startswith(last)]

    def arguments(self, arg):
        """The verb's arguments; subclasses may evaluate expressions here."""
        return gdb.string_to_argv(arg)

    def invoke(self, arg, from_tty):
        args = self.arguments(arg)
        lib = _SESSION.lib()
        lib.check_args(self.verb, args)
        gdb.write(lib.run(_SESSION.target(), self.verb, args))


class WhatisCommand(VerbCommand):
    """gomem whatis: ADDR is any GDB expression (&x, $sp, p + 8), evaluated here."""

    def complete(self, text, word):
        last = "" if not text or text[-1].isspace() else text.split()[-1]
        if last.startswith("-"):
            return VerbCommand.complete(self, text, word)
        return gdb.COMPLETE_EXPRESSION

    def arguments(self, arg):
        # Options first or last; everything between them is one expression.
        tokens = arg.split()
        head = []
        while tokens and tokens[0].startswith("--"):
            head.append(tokens.pop(0))
        tail = []
        while tokens and tokens[-1].startswith("--"):
            tail.insert(0, tokens.pop())
        if not tokens:
            return head + tail
        expr = " ".join(tokens)
        try:
            value = gdb.parse_and_eval(expr)
            try:
                addr = int(value)
            except (gdb.error, TypeError, ValueError):
                u64 = gdb.selected_inferior().architecture().integer_type(64, False)
                addr = int(value.cast(u64))
        except gdb.error as e:
            raise gdb.GdbError("gomem: %s: cannot evaluate %s: %s" % (self.verb, expr, e))
        return head + tail + ["0x%x" % (addr & 0xFFFFFFFFFFFFFFFF)]


class DiffCommand(VerbCommand):
    """gomem diff: OTHER is a file (another core, or a saved summary)."""

    def complete(self, text, word):
        last = "" if not text or text[-1].isspace() else text.split()[-1]
        if last.startswith("-"):
            return VerbCommand.complete(self, text, word)
        return gdb.COMPLETE_FILENAME

    def arguments(self, arg):
        return [a if a.startswith("-") else os.path.expanduser(a)
                for a in gdb.string_to_argv(arg)]


class PprofCommand(VerbCommand):
    """gomem pprof: -o FILE is a file name (~ expanded), written by libcore here."""

    def complete(self, text, word):
        tokens = text.split()
        ends = bool(text) and text[-1].isspace()
        if tokens and ((tokens[-1] == "-o" and ends) or
                       (len(tokens) > 1 and tokens[-2] == "-o" and not ends)):
            # GDB's own filename completer reads the whole argument text, not the
            # word after -o: complete the path here, and hand back the part that
            # replaces `word` (GDB breaks words at '/', '-' and '.').
            last = "" if ends else tokens[-1]
            return [p[len(last) - len(word or ""):] for p in _paths_starting(last)]
        return VerbCommand.complete(self, text, word)

    def arguments(self, arg):
        args = gdb.string_to_argv(arg)
        return [os.path.expanduser(a) if i > 0 and args[i - 1] == "-o" else a
                for i, a in enumerate(args)]


def _paths_starting(prefix):
    """The files and directories (with a '/') whose path starts with prefix, as typed."""
    head, tail = os.path.split(prefix)
    folder = os.path.expanduser(head) or "."
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith(tail) and (tail.startswith(".") or not name.startswith(".")):
            path = os.path.join(head, name)
            out.append(path + "/" if os.path.isdir(os.path.join(folder, name)) else path)
    return out


def _register():
    try:
        verbs = _SESSION.lib().verbs()
    except gdb.GdbError as e:
        gdb.write(str(e) + "\n", gdb.STDERR)
        return
    GomemCommand(verbs)
    for verb in verbs:
        kind = {"whatis": WhatisCommand, "diff": DiffCommand,
                "pprof": PprofCommand,
                "paths": WhatisCommand}.get(verb["name"], VerbCommand)  # paths ADDR: an expression
        kind(verb)
    for event in ("new_objfile", "clear_objfiles", "exited", "cont", "stop"):
        registry = getattr(gdb.events, event, None)
        if registry is not None:
            registry.connect(_SESSION.drop)


_register()
