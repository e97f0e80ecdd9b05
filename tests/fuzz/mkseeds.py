#!/usr/bin/env python3
"""Writes the fuzzers' seed inputs: the recipe of every file in tests/fuzz/corpus.

    mkseeds.py CORPUS_DIR                 the committed seeds (CORPUS_DIR/TARGET/NAME)
    mkseeds.py --exe EXE CORPUS_DIR       also seeds made from a real Go executable
                                          (tests/fuzz/run.sh writes those to build/)

Seeds are small and only guide the fuzzers: fuzz_core's are synthetic x86-64
cores (notes, segments, an executable's first page where it would be mapped),
fuzz_overlay's and fuzz_exe's are lists of patch records (see fuzz.h):
kind u8, index u32, offset u32, len u8, bytes; fuzz_pclntab's are a small
hand-made pclntab, or patch records over the fixture's pclntab.
"""

import os
import struct
import sys

PT_LOAD, PT_NOTE = 1, 4
NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE, NT_ARM_TLS = 1, 3, 6, 0x46494C45, 0x401
AT_PHDR, AT_PAGESZ, AT_ENTRY, AT_NULL = 3, 6, 9, 0
EM_X86_64, EM_AARCH64 = 62, 183
PAGE = 4096


def note(name, ntype, desc):
    name = name + b"\0"
    pad = lambda b: b + b"\0" * (-len(b) % 4)
    return struct.pack("<III", len(name), len(desc), ntype) + pad(name) + pad(desc)


def prstatus(pid, size=336):
    """NT_PRSTATUS: 336 bytes on x86-64, 392 on arm64 (pr_reg at 112 on both)."""
    desc = bytearray(size)
    struct.pack_into("<i", desc, 32, pid)
    return note(b"CORE", NT_PRSTATUS, bytes(desc))


def auxv(entry, phdr, pagesz=None):
    extra = (AT_PAGESZ, pagesz) if pagesz else ()
    words = (AT_PHDR, phdr, AT_ENTRY, entry) + extra + (AT_NULL, 0)
    return note(b"CORE", NT_AUXV, struct.pack("<%dQ" % len(words), *words))


def nt_file(entries):
    """entries: (start, end, page_offset, path)."""
    desc = struct.pack("<QQ", len(entries), PAGE)
    desc += b"".join(struct.pack("<QQQ", s, e, o) for s, e, o, _ in entries)
    desc += b"".join(p + b"\0" for *_, p in entries)
    return note(b"CORE", NT_FILE, desc)


def core(loads, notes, align=PAGE, phnum_override=None, machine=EM_X86_64):
    """loads: (vaddr, memsz, data, flags). A kernel-style core: notes first, pages aligned."""
    phnum = 1 + len(loads)
    off = 64 + 56 * phnum
    notes_off = off
    off += len(notes)
    phdrs = [struct.pack("<IIQQQQQQ", PT_NOTE, 0, notes_off, 0, 0, len(notes), 0, 4)]
    body = bytearray(notes)
    data_at = []
    for vaddr, memsz, data, flags in loads:
        off = (off + align - 1) // align * align
        data_at.append(off)
        phdrs.append(struct.pack("<IIQQQQQQ", PT_LOAD, flags, off, vaddr, 0, len(data), memsz,
                                 align))
        off += len(data)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    eh = ident + struct.pack("<HHIQQQIHHHHHH", 4, machine, 1, 0, 64, 0, 0, 64, 56,
                             phnum_override if phnum_override is not None else phnum, 64, 0, 0)
    out = bytearray(eh + b"".join(phdrs))
    out += body
    for (vaddr, memsz, data, flags), at in zip(loads, data_at):
        out += b"\0" * (at - len(out)) + data
    return bytes(out)


def pattern(n, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


def core_seeds(first_page=None, exe_vaddr=0x400000, entry=0x401000):
    """Synthetic cores; first_page (an executable's first 4 KiB) is mapped at exe_vaddr."""
    files = [(exe_vaddr, exe_vaddr + 2 * PAGE, 0, b"/nonexistent/exe"),
             (0x7F0000000000, 0x7F0000001000, 3, b"/nonexistent/lib.so")]
    notes = prstatus(1234) + auxv(entry, exe_vaddr + 64) + nt_file(files)
    text = first_page if first_page is not None else pattern(PAGE, 1)
    loads = [
        (exe_vaddr, 2 * PAGE, text, 5),             # text: only its first page dumped
        (0x500000, PAGE, pattern(PAGE, 2), 6),
        (0xC000000000, 4 * PAGE, pattern(PAGE, 3), 6),  # a heap arena, mostly absent
        (0xC000004000, PAGE, pattern(PAGE, 4), 6),      # adjacent: reads straddle
        (0x7FFFFFFDE000, PAGE, pattern(64, 5), 6),      # cut short: absent bytes
        (0xFFFFFFFFFF600000, PAGE, b"", 5),             # vsyscall
    ]
    seeds = {"kernel-style": core(loads, notes)}
    seeds["gcore-style"] = core(loads, notes, align=1)
    seeds["no-notes"] = core(loads, b"")
    c = bytearray(seeds["kernel-style"])
    seeds["truncated-data"] = bytes(c[: len(c) - 3000])
    seeds["truncated-headers"] = bytes(c[:200])
    # linux/arm64 (issue 15): a kernel core of 16 KiB pages with its NT_ARM_TLS, and a
    # QEMU guest core (NT_PRSTATUS, NT_PRPSINFO, NT_AUXV and nothing else).
    arm = [l for l in loads if l[0] != 0xFFFFFFFFFF600000]
    arm_notes = (prstatus(1234, 392) + note(b"LINUX", NT_ARM_TLS, struct.pack("<QQ", 1 << 40, 0))
                 + auxv(entry, exe_vaddr + 64, 16384) + nt_file(files))
    seeds["arm64-kernel-16k"] = core(arm, arm_notes, align=16384, machine=EM_AARCH64)
    qemu_notes = (prstatus(1234, 392) + note(b"CORE", NT_PRPSINFO, bytes(136))
                  + auxv(entry, exe_vaddr + 64, PAGE))
    seeds["arm64-qemu"] = core(arm, qemu_notes, machine=EM_AARCH64)
    seeds["x86-64-qemu"] = core(loads, prstatus(1234) + note(b"CORE", NT_PRPSINFO, bytes(136))
                                + auxv(entry, exe_vaddr + 64, PAGE))
    return seeds


def record(kind, index, offset, data):
    return struct.pack("<BIIB", kind, index, offset, len(data)) + data


def overlay_seeds():
    """fuzz_overlay: a verb byte, then records over its region kinds (0..12)."""
    seeds = {"verb%d" % v: bytes([v]) for v in range(8)}
    for kind in range(13):
        seeds["kind%d-ones" % kind] = bytes([0]) + record(kind, 0, 0, b"\xff" * 8)
        seeds["kind%d-zero" % kind] = bytes([kind % 8]) + record(kind, 1, 8, b"\0" * 8)
        seeds["kind%d-small" % kind] = bytes([4]) + record(kind, 2, 24, struct.pack("<Q", 3))
    return seeds


def objects_seeds():
    """fuzz_objects: a verb byte (even: objects, odd: whatis), then records over its region
    kinds (0..7): spans, allocation bits, heap bytes, arenas, modules, specials, types."""
    seeds = {"objects": bytes([0]), "whatis": bytes([1])}
    for kind in range(8):
        seeds["kind%d-ones" % kind] = bytes([kind % 2]) + record(kind, 0, 0, b"\xff" * 8)
        seeds["kind%d-zero" % kind] = bytes([0]) + record(kind, 1, 8, b"\0" * 8)
        seeds["kind%d-self" % kind] = bytes([0]) + record(kind, 3, 0, struct.pack("<Q", 0xc000000000))
    return seeds


def exe_seeds():
    """fuzz_exe: records over the executable's regions (see fuzz_exe.c)."""
    seeds = {"none": b""}
    for kind in range(8):
        seeds["kind%d-ones" % kind] = record(kind, 0, 0, b"\xff" * 8)
        seeds["kind%d-zero" % kind] = record(kind, 1, 16, b"\0" * 8)
    return seeds


def uvarint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def pc_table(pairs):
    """A pc-value table from (value, pc end) pairs: zig-zag value deltas, pc deltas, a 0."""
    out, prev, prevpc = bytearray(), -1, 0
    for val, end in pairs:
        d = val - prev
        out += uvarint(((d << 1) ^ (d >> 31)) & 0xFFFFFFFF) + uvarint(end - prevpc)
        prev, prevpc = val, end
    return bytes(out) + b"\0"


def pclntab(text_start=0x402000, magic=0xFFFFFFF1):
    """A small Go 1.20+ pclntab (fuzz_pclntab's wrapped input): main.a and main.b,
    an inline tree and a stack map, funcdata offsets from the table's own start."""
    names = b"\0main.a\0main.b\0main.inl\0"
    pctab = bytearray(b"\0")
    offs = {}
    for key, pairs in [("sp", [(0, 4), (8, 0x1C), (0, 0x20)]), ("ln", [(10, 0x10), (12, 0x20)]),
                       ("file", [(0, 0x20)]), ("inl", [(-1, 8), (0, 0x10), (-1, 0x20)]),
                       ("bln", [(20, 4), (21, 8), (30, 0x10), (22, 0x20)]),
                       ("stk", [(0, 8), (1, 0x20)])]:
        offs[key] = len(pctab)
        pctab += pc_table(pairs)
    t = bytearray(0x720)
    struct.pack_into("<IBBBBQQQQQQQQ", t, 0, magic, 0, 0, 1, 8, 2, 1, text_start,
                     72, 0x100, 0x110, 0x120, 0x200)
    t[72:72 + len(names)] = names
    t[0x110:0x115] = b"a.go\0"
    t[0x120:0x120 + len(pctab)] = pctab
    struct.pack_into("<IIIIII", t, 0x200, 0, 0x400, 0x20, 0x480, 0x40, 0)

    def func(at, entry, name, pcln, tail, nfuncdata):
        struct.pack_into("<IiiIIIIIIiBBBB", t, 0x200 + at, entry, name, 16, 0, offs["sp"],
                         offs["file"], pcln, len(tail) - nfuncdata, 0, 9, 0, 0, 0, nfuncdata)
        for i, v in enumerate(tail):
            struct.pack_into("<I", t, 0x200 + at + 44 + 4 * i, v)

    func(0x400, 0, 1, offs["ln"], [], 0)
    func(0x480, 0x20, 8, offs["bln"], [0, offs["stk"], offs["inl"], 0xFFFFFFFF, 0x710,
                                      0xFFFFFFFF, 0x700], 4)
    struct.pack_into("<BxxxiiiiiBB", t, 0x700, 0, 15, 4, 40, 2, 3, 5, 2)
    return bytes(t)


def pclntab_seeds():
    """fuzz_pclntab: an even byte and a table, or an odd byte and records (kinds 0..7)."""
    seeds = {"wrapped": b"\0" + pclntab(), "wrapped-no-textstart": b"\0" + pclntab(0),
             "wrapped-go119-magic": b"\2" + pclntab(magic=0xFFFFFFF0), "fixture": b"\1"}
    for kind in range(8):
        seeds["kind%d-ones" % kind] = b"\1" + record(kind, 0, 0, b"\xff" * 8)
        seeds["kind%d-zero" % kind] = b"\1" + record(kind, 1, 8, b"\0" * 8)
        seeds["kind%d-small" % kind] = b"\1" + record(kind, 2, 4, struct.pack("<I", 3))
    return seeds


def write(corpus, target, seeds):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def exe_first_page(exe):
    """The executable's first page, where it is mapped and the entry point (a PIE is
    placed where Linux puts one)."""
    with open(exe, "rb") as f:
        head = f.read(PAGE)
    e_type = struct.unpack_from("<H", head, 16)[0]
    e_entry, e_phoff = struct.unpack_from("<QQ", head, 24)
    e_phnum = struct.unpack_from("<H", head, 56)[0]
    bias = 0x555555554000 if e_type == 3 else 0
    for i in range(e_phnum):
        p_type, _, p_offset, p_vaddr = struct.unpack_from("<IIQQ", head, e_phoff + 56 * i)
        if p_type == PT_LOAD and p_offset == 0:
            return head, p_vaddr + bias, e_entry + bias
    return head, 0x400000, e_entry


def main(argv):
    exe = None
    if len(argv) >= 2 and argv[0] == "--exe":
        exe, argv = argv[1], argv[2:]
    if len(argv) != 1:
        sys.exit(__doc__)
    corpus = argv[0]
    if exe:
        page, vaddr, entry = exe_first_page(exe)
        write(corpus, "fuzz_core", {"with-exe-" + k: v
                                    for k, v in core_seeds(page, vaddr, entry).items()})
        return
    write(corpus, "fuzz_core", core_seeds())
    write(corpus, "fuzz_overlay", overlay_seeds())
    write(corpus, "fuzz_objects", objects_seeds())
    write(corpus, "fuzz_exe", exe_seeds())
    write(corpus, "fuzz_pclntab", pclntab_seeds())


if __name__ == "__main__":
    main(sys.argv[1:])
