/*
 * Go's function table (pclntab) of an executable, decoded from the file's
 * bytes: no target memory and no DWARF. It gives each function's entry,
 * name, file and line at a pc, the pc-value tables (pcsp, pcfile, pcln,
 * pcdata), funcdata (stack maps, the inline tree), and the frames at a pc
 * with inlining expanded, for ELF executables of linux/amd64 and
 * linux/arm64 built by Go 1.19 to 1.27, with or without section headers,
 * symbols and DWARF.
 *
 * Addresses are link-time addresses (the caller applies a PIE bias).
 * Where a Go release changed a layout, the pclntab's own magic tells
 * which (it is the table's format version, written by the linker).
 * Everything read from the file is checked: a corrupt table gives an
 * error (GOMEM_ERROR_FORMAT) or "not found", never a read out of bounds.
 * A gm_pclntab is read-only after gm_pclntab_set_text()/_set_gofunc():
 * any number of threads may query it at once.
 */
#ifndef GOMEM_TARGET_PCLNTAB_H
#define GOMEM_TARGET_PCLNTAB_H

#include "base/base.h"

/*
 * The indexes of the pcdata tables and funcdata entries: the same numbers
 * in every release 1.19-1.27 (runtime/funcdata.h, runtime/symtab.go@1.19,
 * internal/abi/symtab.go@1.21-1.27); PCDATA_PanicBounds exists from 1.26.
 */
enum {
	GM_PCDATA_UNSAFE_POINT = 0,
	GM_PCDATA_STACK_MAP_INDEX = 1,
	GM_PCDATA_INL_TREE_INDEX = 2,
	GM_PCDATA_ARG_LIVE_INDEX = 3,
	GM_PCDATA_PANIC_BOUNDS = 4, /* 1.26+ */
};

enum {
	GM_FUNCDATA_ARGS_POINTER_MAPS = 0,
	GM_FUNCDATA_LOCALS_POINTER_MAPS = 1,
	GM_FUNCDATA_STACK_OBJECTS = 2,
	GM_FUNCDATA_INL_TREE = 3,
	GM_FUNCDATA_OPEN_CODED_DEFER_INFO = 4,
	GM_FUNCDATA_ARG_INFO = 5,
	GM_FUNCDATA_ARG_LIVE_INFO = 6,
	GM_FUNCDATA_WRAP_INFO = 7,
};

/* _func.flag bits (abi.FuncFlag, the same 1.19-1.27). FuncIDs are renumbered: match names. */
enum {
	GM_FUNCFLAG_TOPFRAME = 1,
	GM_FUNCFLAG_SPWRITE = 2,
	GM_FUNCFLAG_ASM = 4,
};

#define GM_ARGS_SIZE_UNKNOWN INT32_MIN /* _func.args of C varargs and some asm */

#define GM_PCLNTAB_MAGIC_GO118 0xfffffff0u /* Go 1.18-1.19 */
#define GM_PCLNTAB_MAGIC_GO120 0xfffffff1u /* Go 1.20-1.27 */

/* Inline chains longer than this are refused as corrupt (real ones are a few dozen deep). */
#define GM_PCLNTAB_MAX_INLINE_DEPTH 256

struct gm_pclntab;

/* What gm_pclntab_open found. */
struct gm_pclntab_info {
	uint64_t addr;	      /* link-time address of the pcHeader */
	uint64_t file_offset; /* where it starts in the file */
	uint64_t size;	   /* bytes of the table, as far as known (the section, or its segment) */
	bool from_section; /* found by section name, not by a scan for its magic */
	uint16_t machine;  /* EM_X86_64 or EM_AARCH64 */
	uint32_t magic;	   /* GM_PCLNTAB_MAGIC_* */
	uint8_t min_lc;	   /* pc quantum: 1 on amd64, 4 on arm64 */
	uint64_t nfunc, nfiles;
	uint64_t header_text_start; /* pcHeader.textStart: 0 from Go 1.26 (unused there) */
};

/* One function (a _func record); give it only to the gm_pclntab it came from. */
struct gm_func {
	uint32_t index;		     /* in functab order, which is entry order */
	uint64_t entry;		     /* link-time address */
	uint64_t end;		     /* the next function's entry (or the end of the text) */
	const char *name;	     /* in the file's bytes, as the linker wrote it */
	int32_t args;		     /* bytes of arguments and results; GM_ARGS_SIZE_UNKNOWN */
	uint32_t deferreturn;	     /* offset from entry of the deferreturn call, 0 when none */
	uint32_t pcsp, pcfile, pcln; /* offsets of the tables in pctab */
	uint32_t npcdata, cu_offset;
	int32_t start_line; /* line of the func keyword (Go 1.20+); 0 before */
	uint8_t funcid, flag, nfuncdata;
	uint64_t record; /* offset of the _func in the file, for pcdata and funcdata */
};

/* One frame at a pc, inlined or not. */
struct gm_frame {
	const char *function; /* name of the (possibly inlined) function */
	const char *file;     /* "?" when unknown */
	int32_t line;	      /* 0 when unknown */
	int32_t start_line;   /* of function: 0 when unknown (before Go 1.20) */
	uint8_t funcid;	      /* of function */
	bool inlined;	      /* inlined into the frame that follows */
	uint64_t entry;	      /* entry of the real (outermost) function */
	uint64_t pc; /* where this frame is: the pc asked for, then each call site's (parentPc) */
};

/* A stack map (runtime.stackmap): n bit vectors of nbit bits each. */
struct gm_stackmap {
	uint64_t addr;		 /* link-time address of the stackmap */
	int32_t n, nbit;	 /* both >= 0 */
	const uint8_t *bytedata; /* n * ((nbit + 7) / 8) bytes, all present in the file */
};

/* Bit vector i (0 <= i < n) of a stack map: bit j of it is bits[j / 8] >> (j % 8) & 1. */
static inline const uint8_t *gm_stackmap_bits(const struct gm_stackmap *sm, int32_t i)
{
	return sm->bytedata + (size_t)i * (((size_t)sm->nbit + 7) / 8);
}

/*
 * Finds and checks the pclntab of the ELF executable image[0..size) (the
 * whole file, which must stay mapped while the gm_pclntab lives): the
 * .gopclntab or .data.rel.ro.gopclntab section, or without section
 * headers the one table that its magic and a consistent header identify.
 * The text start comes from the header before Go 1.26, and from 1.26 from
 * the file's moduledata (gm_pclntab_moduledata_text) when it is found;
 * when neither gives it (gm_pclntab_has_text), call gm_pclntab_set_text()
 * before any question that involves an address.
 */
struct gomem_error *gm_pclntab_open(const uint8_t *image, uint64_t size, struct gm_pclntab **ret);
void gm_pclntab_destroy(struct gm_pclntab *p);
const struct gm_pclntab_info *gm_pclntab_info(const struct gm_pclntab *p);

/*
 * Sets moduledata.text, the base of function entry offsets (link-time),
 * in place of what open found. Checked: every function must lie in an
 * executable PT_LOAD.
 */
struct gomem_error *gm_pclntab_set_text(struct gm_pclntab *p, uint64_t text);
/* Whether the text start is known (set, or from the header). */
bool gm_pclntab_has_text(const struct gm_pclntab *p);
/* Sets moduledata.gofunc (link-time), the base of funcdata offsets. */
void gm_pclntab_set_gofunc(struct gm_pclntab *p, uint64_t gofunc);

/*
 * runtime.firstmoduledata without symbols: the one pointer-aligned word
 * of a writable PT_LOAD equal to the pclntab's address (in the file's
 * bytes, or as the addend of a RELATIVE dynamic relocation) whose
 * moduledata also points at the pclntab's funcnametab and has nfunc+1
 * functab entries. Its link-time address.
 */
struct gomem_error *gm_pclntab_find_moduledata(const struct gm_pclntab *p, uint64_t *ret);
/*
 * moduledata.text of the moduledata at md (link-time), read from the file,
 * checked against moduledata.minpc and maxpc. The members used sit at the
 * same offsets in 1.19-1.27 (runtime/symtab.go).
 */
struct gomem_error *gm_pclntab_moduledata_text(const struct gm_pclntab *p, uint64_t md,
					       uint64_t *ret);

/* Functions, in entry order: 0 <= i < nfunc. */
uint64_t gm_pclntab_nfunc(const struct gm_pclntab *p);
struct gomem_error *gm_pclntab_func(const struct gm_pclntab *p, uint64_t i, struct gm_func *ret);
/* The function whose code holds pc (as the runtime's findfunc); *found false when none. */
struct gomem_error *gm_pclntab_find_func(const struct gm_pclntab *p, uint64_t pc,
					 struct gm_func *ret, bool *found);
/* The function whose entry is exactly entry (a goroutine's start function). */
struct gomem_error *gm_pclntab_func_by_entry(const struct gm_pclntab *p, uint64_t entry,
					     struct gm_func *ret, bool *found);

/*
 * The value of the pc-value table at pctab offset table of f at pc, as the
 * runtime's pcvalue: -1 when table is 0 or does not cover pc.
 */
struct gomem_error *gm_pclntab_pcvalue(const struct gm_pclntab *p, const struct gm_func *f,
				       uint32_t table, uint64_t pc, int32_t *ret);
/* pcdata table i of f at pc (GM_PCDATA_*); -1 when f has none. */
struct gomem_error *gm_pclntab_pcdata(const struct gm_pclntab *p, const struct gm_func *f,
				      uint32_t i, uint64_t pc, int32_t *ret);
/* The stack pointer's offset from its value at entry, at pc (the pcsp table). */
struct gomem_error *gm_pclntab_spdelta(const struct gm_pclntab *p, const struct gm_func *f,
				       uint64_t pc, int32_t *ret);
/*
 * The link-time address of funcdata i of f (GM_FUNCDATA_*), 0 when f has
 * none. Needs gm_pclntab_set_gofunc().
 */
struct gomem_error *gm_pclntab_funcdata(const struct gm_pclntab *p, const struct gm_func *f,
					uint32_t i, uint64_t *ret);
/* File and line of pc in f (the innermost inlined position): "?" and 0 when unknown. */
struct gomem_error *gm_pclntab_file_line(const struct gm_pclntab *p, const struct gm_func *f,
					 uint64_t pc, const char **file_ret, int32_t *line_ret);
/*
 * The frames at pc, innermost first, with inlined calls expanded as
 * runtime.CallersFrames and go tool pprof show them. Writes at most max
 * frames and sets *n_ret to the number there are (0 when no function
 * holds pc). For a return address, ask for pc - 1.
 */
struct gomem_error *gm_pclntab_frames(const struct gm_pclntab *p, uint64_t pc,
				      struct gm_frame *frames, size_t max, size_t *n_ret);
/*
 * The stack map of funcdata which (GM_FUNCDATA_ARGS_POINTER_MAPS or
 * GM_FUNCDATA_LOCALS_POINTER_MAPS) of f; *found false when f has none.
 */
struct gomem_error *gm_pclntab_stackmap(const struct gm_pclntab *p, const struct gm_func *f,
					uint32_t which, struct gm_stackmap *ret, bool *found);
/*
 * A function name as the runtime prints it (runtime.Frame.Function,
 * tracebacks, pprof): type arguments shown as "[...]"; funcNamePiecesForPrint
 * in traceback.go@1.27 (1.21-1.26 give the same for every name they make;
 * 1.19's linker wrote "[...]" itself). Writes at most size bytes with the
 * NUL, returns the length of the whole, like snprintf.
 */
size_t gm_go_func_name_for_print(const char *name, char *buf, size_t size);

/*
 * len bytes of the file at link-time address addr (funcdata, moduledata,
 * read-only data); an error when they are not all in the file.
 */
struct gomem_error *gm_pclntab_image_bytes(const struct gm_pclntab *p, uint64_t addr, uint64_t len,
					   const uint8_t **ret);

#endif /* GOMEM_TARGET_PCLNTAB_H */
