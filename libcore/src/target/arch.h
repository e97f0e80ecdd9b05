/*
 * The architecture of a target: everything gomem reads differently on
 * linux/amd64 and linux/arm64 (../../../shared/ARM64.md), in one table
 * chosen from the executable's ELF machine. The registers of a thread, as
 * the kernel lays them out in NT_PRSTATUS (and PTRACE_GETREGSET with
 * NT_PRSTATUS), the thread pointer, the vsyscall page, and the fallbacks
 * the Go runtime's own sources fix per architecture.
 */
#ifndef GOMEM_ARCH_H
#define GOMEM_ARCH_H

#include "base/base.h"

enum gm_arch_id { GM_ARCH_AMD64, GM_ARCH_ARM64 };

/* The most registers of any architecture's pr_reg (arm64: x0-x30, sp, pc, pstate). */
#define GM_MAX_REGS 34

struct gm_arch;

/* A thread's registers: pr_reg of NT_PRSTATUS, and its thread pointer. */
struct gm_regs {
	const struct gm_arch *arch;
	uint64_t r[GM_MAX_REGS];
	unsigned n;  /* registers read: arch->nregs, or 0 when unknown (a short note) */
	uint64_t tp; /* the thread pointer (fs_base; TPIDR_EL0) */
	bool has_tp;
};

struct gm_arch {
	enum gm_arch_id id;
	const char *goarch; /* runtime.GOARCH: "amd64", "arm64" */
	const char *name;   /* the ELF machine in words: "x86-64", "AArch64" */
	unsigned machine;   /* e_machine */
	/* pr_reg (user_regs_struct; user_pt_regs): its registers and their names. */
	unsigned nregs;
	const char *const *reg_names;
	size_t prstatus_reg_offset; /* pr_reg in struct elf_prstatus: 112 on every LP64 Linux */
	/* Indices into pr_reg; -1 when the architecture has none. */
	int sp, pc, fp, lr;
	/*
	 * The register that holds the current g while a thread runs Go code
	 * (ABIInternal: R14 on amd64, x28 on arm64); in C code, a signal
	 * handler's frame or a system call's vdso it holds whatever C left.
	 */
	int g;
	int tp;		     /* the thread pointer in pr_reg (fs_base), or -1: in tp_note */
	unsigned tp_note;    /* the note (and regset) of the thread pointer (NT_ARM_TLS), or 0 */
	const char *tp_name; /* "fs_base", "TPIDR_EL0" */
	/* pr_reg indices of the general-purpose registers: what a conservative scan reads. */
	uint64_t gpr_mask;
	/* The kernel's fixed [vsyscall] page (x86-64 only), 0 when none. */
	uint64_t vsyscall_addr;
	/* glibc's smallest guard below a thread stack (ARCH_MIN_GUARD_SIZE; 0: one page). */
	uint64_t min_stack_guard;
	/* arch_randomize_brk: how far above the executable the kernel may put the brk heap. */
	uint64_t brk_random_range;
	/*
	 * The Go runtime's constants for this GOARCH, where a binary's DWARF
	 * lacks them: arenaBaseOffset (malloc.go), and the first heap arena
	 * hint without heap randomisation (mallocinit in malloc.go, before 1.26).
	 */
	uint64_t arena_base_offset;
	uint64_t arena_hint;
};

/* The description of ELF machine e_machine; NULL for one gomem does not read. */
const struct gm_arch *gm_arch_for_machine(unsigned machine);
/* The architecture gomem itself runs on (ptrace of a live process needs it to match). */
const struct gm_arch *gm_arch_host(void);

/* Every platform gomem reads, for messages. */
#define GM_ARCH_SUPPORTED "linux/amd64 and linux/arm64"

/*
 * Decodes pr_reg (len bytes: a note's rest from pr_reg on, or what
 * PTRACE_GETREGSET returned) into *ret, which keeps a thread pointer it
 * already holds. Fewer bytes than the architecture's registers leave
 * ret->n 0: registers unknown.
 */
void gm_regs_decode(const struct gm_arch *arch, const uint8_t *pr_reg, size_t len,
		    struct gm_regs *ret);
/* The thread pointer from the tp_note's descriptor (NT_ARM_TLS: TPIDR_EL0 first). */
void gm_regs_set_tp_note(struct gm_regs *regs, const uint8_t *desc, size_t len);

/* Register number i of pr_reg: false when unknown. */
bool gm_regs_get(const struct gm_regs *regs, int i, uint64_t *ret);

static inline bool gm_regs_sp(const struct gm_regs *r, uint64_t *ret)
{
	return r->arch && gm_regs_get(r, r->arch->sp, ret);
}

static inline bool gm_regs_pc(const struct gm_regs *r, uint64_t *ret)
{
	return r->arch && gm_regs_get(r, r->arch->pc, ret);
}

/* The frame pointer (rbp; x29). */
static inline bool gm_regs_fp(const struct gm_regs *r, uint64_t *ret)
{
	return r->arch && gm_regs_get(r, r->arch->fp, ret);
}

/* The link register (x30); amd64 has none: the return address is on the stack. */
static inline bool gm_regs_lr(const struct gm_regs *r, uint64_t *ret)
{
	return r->arch && gm_regs_get(r, r->arch->lr, ret);
}

/* The g register (see struct gm_arch). */
static inline bool gm_regs_g(const struct gm_regs *r, uint64_t *ret)
{
	return r->arch && gm_regs_get(r, r->arch->g, ret);
}

/*
 * The general-purpose registers' values, into out[] (GM_MAX_REGS room):
 * what a conservative scan of a running thread reads. Returns how many.
 */
unsigned gm_regs_gprs(const struct gm_regs *r, uint64_t out[GM_MAX_REGS]);

#endif /* GOMEM_ARCH_H */
