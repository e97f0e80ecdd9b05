/*
 * linux/amd64 and linux/arm64, side by side. Register layouts are the
 * kernel's: x86-64 struct user_regs_struct (arch/x86/include/asm/user_64.h),
 * arm64 struct user_pt_regs (arch/arm64/include/uapi/asm/ptrace.h); both
 * sit at offset 112 of struct elf_prstatus, after pr_info, pr_cursig,
 * pr_sigpend, pr_sighold, the four ids and four timevals.
 */
#include <elf.h>
#include <string.h>

#include "target/arch.h"

static const char *const amd64_regs[] = {
    "r15",    "r14", "r13", "r12",     "rbp",	  "rbx", "r11",	     "r10", "r9",
    "r8",     "rax", "rcx", "rdx",     "rsi",	  "rdi", "orig_rax", "rip", "cs",
    "eflags", "rsp", "ss",  "fs_base", "gs_base", "ds",	 "es",	     "fs",  "gs",
};

static const char *const arm64_regs[] = {
    "x0",  "x1",  "x2",	 "x3",	"x4",  "x5",  "x6",  "x7",  "x8",  "x9",     "x10", "x11",
    "x12", "x13", "x14", "x15", "x16", "x17", "x18", "x19", "x20", "x21",    "x22", "x23",
    "x24", "x25", "x26", "x27", "x28", "x29", "x30", "sp",  "pc",  "pstate",
};

static const struct gm_arch amd64 = {
    .id = GM_ARCH_AMD64,
    .goarch = "amd64",
    .name = "x86-64",
    .machine = EM_X86_64,
    .nregs = GM_ARRAY_SIZE(amd64_regs),
    .reg_names = amd64_regs,
    .prstatus_reg_offset = 112,
    .sp = 19,
    .pc = 16,
    .fp = 4,
    .lr = -1,
    .g = 1, /* R14 */
    .tp = 21,
    .tp_name = "fs_base",
    .gpr_mask = (1ULL << 15) - 1, /* r15 ... rdi */
    .vsyscall_addr = 0xffffffffff600000ULL,
    .brk_random_range = 1ULL << 30, /* arch/x86/kernel/process.c */
    .arena_base_offset = 0xffff800000000000ULL,
    .arena_hint = 0x00c0ULL << 32,
};

static const struct gm_arch arm64 = {
    .id = GM_ARCH_ARM64,
    .goarch = "arm64",
    .name = "AArch64",
    .machine = EM_AARCH64,
    .nregs = GM_ARRAY_SIZE(arm64_regs),
    .reg_names = arm64_regs,
    .prstatus_reg_offset = 112,
    .sp = 31,
    .pc = 32,
    .fp = 29,
    .lr = 30,
    .g = 28,
    .tp = -1,
    .tp_note = NT_ARM_TLS,
    .tp_name = "TPIDR_EL0",
    .gpr_mask = (1ULL << 31) - 1,   /* x0 ... x30 */
    .min_stack_guard = 64 << 10,    /* sysdeps/aarch64/nptl/pthreaddef.h */
    .brk_random_range = 1ULL << 30, /* arch/arm64/kernel/process.c, 64-bit tasks */
    .arena_base_offset = 0,
    .arena_hint = 0x0040ULL << 32,
};

const struct gm_arch *gm_arch_for_machine(unsigned machine)
{
	switch (machine) {
	case EM_X86_64:
		return &amd64;
	case EM_AARCH64:
		return &arm64;
	default:
		return NULL;
	}
}

const struct gm_arch *gm_arch_host(void)
{
#if defined(__x86_64__)
	return &amd64;
#elif defined(__aarch64__)
	return &arm64;
#else
	return NULL;
#endif
}

void gm_regs_decode(const struct gm_arch *arch, const uint8_t *pr_reg, size_t len,
		    struct gm_regs *ret)
{
	ret->arch = arch;
	ret->n = 0;
	if (len < (size_t)arch->nregs * 8)
		return;
	memcpy(ret->r, pr_reg, (size_t)arch->nregs * 8);
	ret->n = arch->nregs;
	if (arch->tp >= 0) {
		ret->tp = ret->r[arch->tp];
		ret->has_tp = true;
	}
}

void gm_regs_set_tp_note(struct gm_regs *regs, const uint8_t *desc, size_t len)
{
	if (len < 8)
		return;
	memcpy(&regs->tp, desc, 8);
	regs->has_tp = true;
}

bool gm_regs_get(const struct gm_regs *regs, int i, uint64_t *ret)
{
	if (i < 0 || (unsigned)i >= regs->n)
		return false;
	*ret = regs->r[i];
	return true;
}

unsigned gm_regs_gprs(const struct gm_regs *r, uint64_t out[GM_MAX_REGS])
{
	unsigned n = 0;
	for (unsigned i = 0; r->arch && i < r->n && i < 64; i++) {
		if (r->arch->gpr_mask >> i & 1)
			out[n++] = r->r[i];
	}
	return n;
}
