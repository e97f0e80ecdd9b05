/*
 * The core reader (core.c) and the memory reader (memory.c), on small
 * synthetic ELF core files that each test writes to a fresh temporary
 * directory.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <elf.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verbs/verbs.h"
#include "unit.h"

#define PAGE		 4096u
#define PRSTATUS_SIZE	 336u /* sizeof(struct elf_prstatus) on x86-64 */
#define ARM64_PRSTATUS	 392u /* on arm64: pr_reg is user_pt_regs, 34 words */
#define PRSTATUS_PID_OFF 32u
#define TEST_PID	 4242
#define TEST_AT_ENTRY	 0x401020u
#define TEST_AT_PHDR	 0x400040u
#define TEST_SP		 0xc000123450ULL   /* pr_reg.rsp: user_regs_struct word 19 at 112 */
#define TEST_FS_BASE	 0x7f0000001000ULL /* pr_reg.fs_base: word 21 */
#define TEST_ARM64_PC	 0x95fc0ULL	   /* arm64 pr_reg word 32 */
#define TEST_ARM64_G	 0x4000002380ULL   /* x28 */
#define TEST_ARM64_LR	 0x12345ULL	   /* x30 */
#define TEST_ARM64_TP	 0x7f0000002000ULL /* TPIDR_EL0, NT_ARM_TLS */
#define TEST_AT_RANDOM	 0x7ffc00000100ULL
#define TEST_AT_VDSO	 0x7ffc00010000ULL
#define VSYSCALL_ADDR	 0xffffffffff600000ULL
#define MAX_TEST_LOADS	 8

/* Owned by the fixture, so that teardown releases them even after a failed assertion. */
struct fixture {
	char dir[256];
	struct gm_core core;
	struct gm_memory mem;
};

/* One PT_LOAD of a synthetic core. */
struct tload {
	uint64_t vaddr, memsz;
	uint64_t filesz;      /* bytes present in the file, filled with pattern(vaddr + i) */
	uint64_t hole_before; /* bytes of hole left in the file before this load's data */
};

/* A synthetic core: the ELF header, a PT_NOTE first (unless no_notes), then the PT_LOADs. */
struct tcore {
	struct tload loads[MAX_TEST_LOADS];
	size_t nloads;
	uint64_t p_align; /* of every PT_LOAD; 0 means 4096, like the kernel */
	bool no_notes;
	uint32_t prstatus_descsz; /* 0 means PRSTATUS_SIZE; larger than the note = corrupt */
	uint16_t e_type;	  /* 0 means ET_CORE */
	uint16_t e_machine;	  /* 0 means EM_X86_64; EM_AARCH64 writes arm64 registers */
	enum { NT_FILE_NONE, NT_FILE_GOOD, NT_FILE_HUGE_COUNT, NT_FILE_NO_NUL } nt_file;
	uint64_t at_pagesz; /* AT_PAGESZ in NT_AUXV; 0: none */
	bool prpsinfo;	    /* an NT_PRPSINFO: with nothing else, the notes QEMU writes */
	bool fpregs;	    /* an NT_PRFPREG, as the kernel and gcore write */
};

/* The NT_FILE entries of a synthetic core (page size 4096). */
static const struct {
	uint64_t start, end, pgoff;
	const char *path;
} nt_file_entries[] = {
    {0x400000, 0x401000, 0, "/usr/bin/prog"},
    {0x401000, 0x403000, 1, "/usr/bin/prog"},
    {0x7f0000000000, 0x7f0000002000, 3, "/lib/x86_64-linux-gnu/libc.so.6"},
};

/* The byte that a synthetic core holds at address a: it differs between neighbours. */
static uint8_t pattern(uint64_t a)
{
	return (uint8_t)(a ^ (a >> 8) ^ (a >> 16) ^ 0x5a);
}

static int setup_tmpdir(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx)
		return -1;
	fx->core.fd = -1;
	if (unit_make_tmpdir(fx->dir, sizeof(fx->dir), "gomem-test-core") != 0) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown_tmpdir(void **state)
{
	struct fixture *fx = *state;
	gm_memory_deinit(&fx->mem);
	gm_core_deinit(&fx->core);
	unit_remove_tree(fx->dir);
	free(fx);
	return 0;
}

static void path_in(const struct fixture *fx, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", fx->dir, name);
	assert_true(n > 0 && (size_t)n < size);
}

static void put_bytes(int fd, const void *buf, size_t len, uint64_t off)
{
	assert_int_equal(pwrite(fd, buf, len, (off_t)off), (ssize_t)len);
}

static uint64_t align_up(uint64_t n, uint64_t a)
{
	return (n + a - 1) / a * a;
}

/* Appends one ELF note named name ("CORE", "LINUX") to buf at *off. */
static void add_named_note(uint8_t *buf, size_t *off, const char *name, uint32_t type,
			   const void *desc, uint32_t len, uint32_t claimed_len)
{
	uint32_t namesz = (uint32_t)strlen(name) + 1;
	Elf64_Nhdr nh = {.n_namesz = namesz, .n_descsz = claimed_len, .n_type = type};
	memcpy(buf + *off, &nh, sizeof(nh));
	*off += sizeof(nh);
	memset(buf + *off, 0, align_up(namesz, 4));
	memcpy(buf + *off, name, namesz);
	*off += align_up(namesz, 4);
	memcpy(buf + *off, desc, len);
	*off += align_up(len, 4);
}

/* Appends one ELF note (name "CORE") to buf at *off. */
static void add_note(uint8_t *buf, size_t *off, uint32_t type, const void *desc, uint32_t len,
		     uint32_t claimed_len)
{
	add_named_note(buf, off, "CORE", type, desc, len, claimed_len);
}

/* NT_PRSTATUS of arm64 (user_pt_regs: sp = 31, pc = 32, g in x28), then NT_ARM_TLS. */
static void add_arm64_thread(uint8_t *buf, size_t *off)
{
	uint8_t prstatus[ARM64_PRSTATUS];
	int32_t pid = TEST_PID;
	memset(prstatus, 0, sizeof(prstatus));
	memcpy(prstatus + PRSTATUS_PID_OFF, &pid, sizeof(pid));
	uint64_t regs[][2] = {{28, TEST_ARM64_G},  {30, TEST_ARM64_LR}, {31, TEST_SP},
			      {32, TEST_ARM64_PC}, {29, TEST_SP + 64},	{0, 7}};
	for (size_t i = 0; i < GM_ARRAY_SIZE(regs); i++)
		memcpy(prstatus + 112 + regs[i][0] * 8, &regs[i][1], 8);
	add_note(buf, off, NT_PRSTATUS, prstatus, ARM64_PRSTATUS, ARM64_PRSTATUS);
	uint64_t tls[2] = {TEST_ARM64_TP, 0}; /* TPIDR_EL0, TPIDR2_EL0 */
	add_named_note(buf, off, "LINUX", NT_ARM_TLS, tls, sizeof(tls), sizeof(tls));
}

/* Appends an NT_FILE note: count, page size, {start, end, page offset}..., paths. */
static void add_nt_file(uint8_t *buf, size_t *off, int kind)
{
	uint8_t desc[512];
	size_t n = GM_ARRAY_SIZE(nt_file_entries), len = 16;
	uint64_t count = kind == NT_FILE_HUGE_COUNT ? 1ULL << 60 : n, page_size = PAGE;
	memcpy(desc, &count, 8);
	memcpy(desc + 8, &page_size, 8);
	for (size_t i = 0; i < n; i++) {
		uint64_t e[3] = {nt_file_entries[i].start, nt_file_entries[i].end,
				 nt_file_entries[i].pgoff};
		memcpy(desc + len, e, sizeof(e));
		len += sizeof(e);
	}
	for (size_t i = 0; i < n; i++) {
		size_t plen = strlen(nt_file_entries[i].path) + 1;
		/* The last path without its NUL: the note ends inside the name. */
		if (kind == NT_FILE_NO_NUL && i == n - 1)
			plen--;
		assert_true(len + plen <= sizeof(desc));
		memcpy(desc + len, nt_file_entries[i].path, plen);
		len += plen;
	}
	add_note(buf, off, NT_FILE, desc, (uint32_t)len, (uint32_t)len);
}

/*
 * Writes the core described by spec to path. When cut_at is not 0 the
 * file is cut to that many bytes. Returns the file offset of each load's
 * data in data_off (may be NULL).
 */
static void write_core_cut(const char *path, const struct tcore *spec, uint64_t cut_at,
			   uint64_t data_off[MAX_TEST_LOADS])
{
	uint8_t head[PAGE];
	memset(head, 0, sizeof(head));
	size_t nph = spec->nloads + (spec->no_notes ? 0 : 1);
	size_t notes_off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr);
	size_t off = notes_off;
	if (!spec->no_notes && spec->e_machine == EM_AARCH64) {
		add_arm64_thread(head, &off);
	} else if (!spec->no_notes) {
		uint8_t prstatus[PRSTATUS_SIZE];
		int32_t pid = TEST_PID;
		memset(prstatus, 0, sizeof(prstatus));
		memcpy(prstatus + PRSTATUS_PID_OFF, &pid, sizeof(pid));
		uint64_t sp = TEST_SP, fs_base = TEST_FS_BASE;
		memcpy(prstatus + 112 + 19 * 8, &sp, sizeof(sp));
		memcpy(prstatus + 112 + 21 * 8, &fs_base, sizeof(fs_base));
		uint32_t claimed = spec->prstatus_descsz ? spec->prstatus_descsz : PRSTATUS_SIZE;
		add_note(head, &off, NT_PRSTATUS, prstatus, PRSTATUS_SIZE, claimed);
	}
	if (!spec->no_notes) {
		if (spec->prpsinfo) {
			uint8_t prpsinfo[136] = {0};
			int32_t pid = TEST_PID;
			memcpy(prpsinfo + 24, &pid, sizeof(pid));
			add_note(head, &off, NT_PRPSINFO, prpsinfo, sizeof(prpsinfo),
				 sizeof(prpsinfo));
		}
		if (spec->fpregs) {
			uint8_t fpregs[512] = {0};
			add_note(head, &off, NT_PRFPREG, fpregs, sizeof(fpregs), sizeof(fpregs));
		}
		uint64_t auxv[] = {
		    AT_PHDR,	     TEST_AT_PHDR, AT_ENTRY,
		    TEST_AT_ENTRY,   AT_RANDOM,	   TEST_AT_RANDOM,
		    AT_SYSINFO_EHDR, TEST_AT_VDSO, spec->at_pagesz ? AT_PAGESZ : AT_NULL,
		    spec->at_pagesz, AT_NULL,	   0};
		add_note(head, &off, NT_AUXV, auxv, sizeof(auxv), sizeof(auxv));
		if (spec->nt_file != NT_FILE_NONE)
			add_nt_file(head, &off, spec->nt_file);
	}
	assert_true(off <= sizeof(head));

	Elf64_Ehdr *eh = (Elf64_Ehdr *)head;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = spec->e_type ? spec->e_type : ET_CORE;
	eh->e_machine = spec->e_machine ? spec->e_machine : EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)nph;

	Elf64_Phdr *ph = (Elf64_Phdr *)(head + sizeof(Elf64_Ehdr));
	if (!spec->no_notes) {
		ph->p_type = PT_NOTE;
		ph->p_offset = notes_off;
		ph->p_filesz = off - notes_off;
		ph->p_align = 1;
		ph++;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	uint64_t pos = PAGE;
	for (size_t i = 0; i < spec->nloads; i++) {
		const struct tload *l = &spec->loads[i];
		pos += l->hole_before;
		ph[i].p_type = PT_LOAD;
		ph[i].p_flags = PF_R | PF_W;
		ph[i].p_offset = pos;
		ph[i].p_vaddr = l->vaddr;
		ph[i].p_filesz = l->filesz;
		ph[i].p_memsz = l->memsz;
		ph[i].p_align = spec->p_align ? spec->p_align : PAGE;
		if (data_off)
			data_off[i] = pos;
		uint8_t *data = malloc(l->filesz ? l->filesz : 1);
		assert_non_null(data);
		for (uint64_t j = 0; j < l->filesz; j++)
			data[j] = pattern(l->vaddr + j);
		if (l->filesz)
			put_bytes(fd, data, l->filesz, pos);
		free(data);
		pos = align_up(pos + l->filesz, PAGE);
	}
	put_bytes(fd, head, sizeof(head), 0);
	assert_int_equal(ftruncate(fd, (off_t)(cut_at ? cut_at : pos)), 0);
	assert_int_equal(close(fd), 0);
}

static void write_core(const char *path, const struct tcore *spec)
{
	write_core_cut(path, spec, 0, NULL);
}

static void write_file(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (len)
		put_bytes(fd, buf, len, 0);
	assert_int_equal(close(fd), 0);
}

/* Three loads: two adjacent ones, then one of 3 pages of which only 1 is in the file. */
static const struct tcore three_loads = {
    .loads = {{.vaddr = 0x10000, .memsz = 2 * PAGE, .filesz = 2 * PAGE},
	      {.vaddr = 0x12000, .memsz = PAGE, .filesz = PAGE},
	      {.vaddr = 0x20000, .memsz = 3 * PAGE, .filesz = PAGE}},
    .nloads = 3,
};

/* Opens a core and builds the memory reader from its loads, as target.c does. */
static void open_core_memory(const char *path, struct gm_core *core, struct gm_memory *mem)
{
	memset(mem, 0, sizeof(*mem));
	assert_gomem_ok(gm_core_open(path, core));
	for (size_t i = 0; i < core->nloads; i++)
		assert_gomem_ok(gm_memory_add_segment(mem, &core->loads[i]));
	assert_gomem_ok(gm_memory_finish(mem));
}

static void assert_pattern(const uint8_t *buf, uint64_t addr, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != pattern(addr + i))
			fail_msg("byte at 0x%llx is 0x%02x, expected 0x%02x",
				 (unsigned long long)(addr + i), buf[i], pattern(addr + i));
	}
}

static void test_open_parses_pid_threads_and_auxv_from_notes(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->pid, TEST_PID);
	assert_int_equal(core->nthreads, 1);
	assert_int_equal(core->nthread_notes, 1);
	assert_int_equal(core->threads[0].tid, TEST_PID);
	assert_int_equal(core->threads[0].sp, TEST_SP);
	assert_int_equal(core->threads[0].tp, TEST_FS_BASE);
	assert_ptr_equal(core->arch, gm_arch_for_machine(EM_X86_64));
	uint64_t v = 0;
	assert_true(gm_regs_sp(&core->threads[0].regs, &v));
	assert_int_equal(v, TEST_SP);
	assert_false(gm_regs_lr(&core->threads[0].regs, &v)); /* x86-64 has no link register */
	assert_true(core->have_auxv);
	assert_int_equal(core->at_entry, TEST_AT_ENTRY);
	assert_int_equal(core->at_phdr, TEST_AT_PHDR);
	assert_int_equal(core->at_random, TEST_AT_RANDOM);
	assert_int_equal(core->at_sysinfo_ehdr, TEST_AT_VDSO);
	assert_int_equal(core->nloads, 3);
	assert_int_equal(core->loads[2].start, 0x20000);
	assert_int_equal(core->loads[2].end, 0x23000);
	assert_int_equal(core->loads[2].data_len, PAGE);
	assert_int_equal(core->nwarnings, 0);
	gm_core_deinit(core);
}

static void test_read_inside_one_segment(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct gm_memory *mem = &fx->mem;
	uint8_t buf[100];
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	open_core_memory(path, core, mem);
	assert_gomem_ok(gm_read(mem, 0x10123, buf, sizeof(buf)));
	assert_pattern(buf, 0x10123, sizeof(buf));
	uint64_t v;
	assert_gomem_ok(gm_read_u64(mem, 0x20008, &v));
	uint64_t want = 0;
	for (int i = 7; i >= 0; i--)
		want = want << 8 | pattern(0x20008 + (uint64_t)i);
	assert_int_equal(v, want);
	gm_memory_deinit(mem);
	gm_core_deinit(core);
}

static void test_read_straddles_two_adjacent_segments(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct gm_memory *mem = &fx->mem;
	uint8_t buf[64];
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	open_core_memory(path, core, mem);
	/* 0x12000 is where the first load ends and the second begins. */
	assert_gomem_ok(gm_read(mem, 0x12000 - 24, buf, sizeof(buf)));
	assert_pattern(buf, 0x12000 - 24, sizeof(buf));
	gm_memory_deinit(mem);
	gm_core_deinit(core);
}

static void test_read_in_absent_part_of_segment_faults_instead_of_zeros(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct gm_memory *mem = &fx->mem;
	uint8_t buf[16];
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	open_core_memory(path, core, mem);
	/* The third load has p_filesz 1 page of p_memsz 3. */
	memset(buf, 0xee, sizeof(buf));
	assert_gomem_error(gm_read(mem, 0x21000, buf, sizeof(buf)), GOMEM_ERROR_FAULT,
			   "not saved in the core");
	assert_gomem_error(gm_read(mem, 0x22ff0, buf, sizeof(buf)), GOMEM_ERROR_FAULT, "0x22ff0");
	/* A read that starts in the saved part and runs into the absent part faults too. */
	assert_gomem_error(gm_read(mem, 0x21000 - 8, buf, sizeof(buf)), GOMEM_ERROR_FAULT,
			   "not saved in the core");
	uint64_t v;
	assert_gomem_error(gm_read_u64(mem, 0x21800, &v), GOMEM_ERROR_FAULT,
			   "not saved in the core");
	/* The last saved bytes are still readable. */
	assert_gomem_ok(gm_read(mem, 0x21000 - 8, buf, 8));
	assert_pattern(buf, 0x21000 - 8, 8);
	gm_memory_deinit(mem);
	gm_core_deinit(core);
}

static void test_read_of_unmapped_address_faults(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct gm_memory *mem = &fx->mem;
	uint8_t buf[8];
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	open_core_memory(path, core, mem);
	assert_gomem_error(gm_read(mem, 0x5000, buf, sizeof(buf)), GOMEM_ERROR_FAULT, "not mapped");
	/* Between two loads, and just past the last one. */
	assert_gomem_error(gm_read(mem, 0x13000, buf, sizeof(buf)), GOMEM_ERROR_FAULT,
			   "not mapped");
	assert_gomem_error(gm_read(mem, 0x23000, buf, sizeof(buf)), GOMEM_ERROR_FAULT, "0x23000");
	/* A read that runs off the end of a load into unmapped memory. */
	assert_gomem_error(gm_read(mem, 0x13000 - 4, buf, sizeof(buf)), GOMEM_ERROR_FAULT,
			   "not mapped");
	gm_memory_deinit(mem);
	gm_core_deinit(core);
}

static void test_read_wrapping_past_the_top_of_the_address_space_faults(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	uint8_t buf[16];
	static const uint8_t top[16];
	struct gm_segment s = {
	    .start = UINT64_MAX - 15, .end = UINT64_MAX, .data = top, .data_len = 15};
	assert_gomem_ok(gm_memory_add_segment(mem, &s));
	assert_gomem_ok(gm_memory_finish(mem));
	assert_gomem_error(gm_read(mem, UINT64_MAX - 7, buf, sizeof(buf)), GOMEM_ERROR_FAULT,
			   "wraps");
	gm_memory_deinit(mem);
}

static void test_file_range_supplies_bytes_the_core_left_out(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct gm_memory *mem = &fx->mem;
	uint8_t exe_bytes[3 * PAGE], buf[PAGE + 32];
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	assert_gomem_ok(gm_core_open(path, core));
	for (size_t i = 0; i < core->nloads; i++)
		assert_gomem_ok(gm_memory_add_segment(mem, &core->loads[i]));
	/* The "executable" maps the whole third load; its bytes are ~pattern. */
	for (size_t i = 0; i < sizeof(exe_bytes); i++)
		exe_bytes[i] = (uint8_t)~pattern(0x20000 + i);
	struct gm_file_range r = {.start = 0x20000, .end = 0x23000, .data = exe_bytes};
	assert_gomem_ok(gm_memory_add_file_range(mem, &r));
	assert_gomem_ok(gm_memory_finish(mem));

	/* From the saved page into the absent ones: core bytes first, then the file's. */
	assert_gomem_ok(gm_read(mem, 0x21000 - 32, buf, sizeof(buf)));
	assert_pattern(buf, 0x21000 - 32, 32);
	for (size_t i = 32; i < sizeof(buf); i++)
		assert_int_equal(buf[i], exe_bytes[0x1000 - 32 + i]);
	/* The saved page still comes from the core, not from the file. */
	assert_gomem_ok(gm_read(mem, 0x20000, buf, 64));
	assert_pattern(buf, 0x20000, 64);
	/* The file range ends with the segment: past it is still unmapped. */
	assert_gomem_error(gm_read(mem, 0x23000 - 4, buf, 8), GOMEM_ERROR_FAULT, "not mapped");
	gm_memory_deinit(mem);
	gm_core_deinit(core);
}

/*
 * A file range that starts before a core segment (no segment at its start)
 * must not hide the bytes that the core saved further on: the core's
 * bytes are the process's memory, the file's are only a fallback.
 */
static void test_file_range_does_not_hide_core_bytes_of_a_later_segment(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	uint8_t core_bytes[PAGE], file_bytes[2 * PAGE], buf[2 * PAGE];
	memset(core_bytes, 0xc0, sizeof(core_bytes));
	memset(file_bytes, 0xf1, sizeof(file_bytes));
	struct gm_segment s = {
	    .start = 0x31000, .end = 0x32000, .data = core_bytes, .data_len = PAGE};
	struct gm_file_range r = {.start = 0x30000, .end = 0x32000, .data = file_bytes};
	assert_gomem_ok(gm_memory_add_segment(mem, &s));
	assert_gomem_ok(gm_memory_add_file_range(mem, &r));
	assert_gomem_ok(gm_memory_finish(mem));
	assert_gomem_ok(gm_read(mem, 0x30000, buf, sizeof(buf)));
	assert_int_equal(buf[0], 0xf1);
	assert_int_equal(buf[PAGE - 1], 0xf1);
	assert_int_equal(buf[PAGE], 0xc0); /* from the core segment at 0x31000 */
	assert_int_equal(buf[2 * PAGE - 1], 0xc0);
	gm_memory_deinit(mem);
}

static void test_core_cut_inside_a_segment_opens_with_warning_and_faults_past_cut(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct gm_memory *mem = &fx->mem;
	uint64_t data_off[MAX_TEST_LOADS];
	uint8_t buf[8];
	path_in(fx, "core", path, sizeof(path));
	/* Cut 100 bytes into the second page of the first load. */
	write_core_cut(path, &three_loads, 0, data_off);
	write_core_cut(path, &three_loads, data_off[0] + PAGE + 100, NULL);
	open_core_memory(path, core, mem);
	assert_true(core->nwarnings >= 1);
	bool found = false;
	for (size_t i = 0; i < core->nwarnings; i++)
		found = found ||
			(strstr(core->warnings[i], "truncated") && strstr(core->warnings[i], path));
	assert_true(found);
	assert_int_equal(core->loads[0].data_len, PAGE + 100);
	/* Bytes before the cut are read; the byte at the cut and later ones fault. */
	assert_gomem_ok(gm_read(mem, 0x10000 + PAGE + 99, buf, 1));
	assert_pattern(buf, 0x10000 + PAGE + 99, 1);
	assert_gomem_error(gm_read(mem, 0x10000 + PAGE + 100, buf, 1), GOMEM_ERROR_FAULT,
			   "not saved in the core");
	assert_gomem_error(gm_read(mem, 0x10000 + PAGE + 96, buf, 8), GOMEM_ERROR_FAULT, NULL);
	/* Loads wholly past the cut have no data at all. */
	assert_int_equal(core->loads[1].data_len, 0);
	assert_gomem_error(gm_read(mem, 0x12000, buf, 1), GOMEM_ERROR_FAULT,
			   "not saved in the core");
	gm_memory_deinit(mem);
	gm_core_deinit(core);
}

static void test_core_cut_inside_program_headers_fails_with_format_error(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	path_in(fx, "core", path, sizeof(path));
	/* PT_NOTE + 3 PT_LOADs; cut in the middle of the third header. */
	write_core_cut(path, &three_loads, sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) + 20, NULL);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "truncated");
	gm_core_deinit(core);
}

static void test_open_empty_file_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	path_in(fx, "empty", path, sizeof(path));
	write_file(path, "", 0);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "empty");
	gm_core_deinit(core);
}

static void test_open_non_elf_file_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512], text[200];
	struct gm_core *core = &fx->core;
	memset(text, 'x', sizeof(text));
	path_in(fx, "notes.txt", path, sizeof(path));
	write_file(path, text, sizeof(text));
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "not an ELF file");
	gm_core_deinit(core);
	/* Shorter than an ELF header. */
	path_in(fx, "short", path, sizeof(path));
	write_file(path, "\177ELF", 4);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
}

static void test_open_32bit_elf_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	uint8_t buf[sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr)];
	struct gm_core *core = &fx->core;
	memset(buf, 0, sizeof(buf));
	Elf32_Ehdr *eh = (Elf32_Ehdr *)buf;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS32;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_CORE;
	eh->e_machine = EM_386;
	eh->e_phoff = sizeof(Elf32_Ehdr);
	eh->e_phentsize = sizeof(Elf32_Phdr);
	eh->e_phnum = 1;
	path_in(fx, "core32", path, sizeof(path));
	write_file(path, buf, sizeof(buf));
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "64-bit");
	gm_core_deinit(core);
}

static void test_open_wrong_machine_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.e_machine = EM_RISCV;
	path_in(fx, "core-riscv64", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "riscv64");
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT,
			   "linux/amd64 and linux/arm64 only");
	gm_core_deinit(core);
}

static void test_arm64_core_gives_registers_by_user_pt_regs_and_nt_arm_tls(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.e_machine = EM_AARCH64;
	spec.at_pagesz = PAGE;
	path_in(fx, "core-arm64", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_ptr_equal(core->arch, gm_arch_for_machine(EM_AARCH64));
	assert_string_equal(core->arch->goarch, "arm64");
	assert_int_equal(core->nthreads, 1);
	const struct gm_core_thread *th = &core->threads[0];
	assert_int_equal(th->tid, TEST_PID);
	assert_int_equal(th->sp, TEST_SP);
	assert_int_equal(th->tp, TEST_ARM64_TP);
	uint64_t v = 0, gprs[GM_MAX_REGS];
	assert_true(gm_regs_pc(&th->regs, &v));
	assert_int_equal(v, TEST_ARM64_PC);
	assert_true(gm_regs_g(&th->regs, &v));
	assert_int_equal(v, TEST_ARM64_G);
	assert_true(gm_regs_lr(&th->regs, &v));
	assert_int_equal(v, TEST_ARM64_LR);
	assert_true(gm_regs_fp(&th->regs, &v));
	assert_int_equal(v, TEST_SP + 64);
	/* x0 ... x30 for a conservative scan: not sp, pc or pstate. */
	assert_int_equal(gm_regs_gprs(&th->regs, gprs), 31);
	assert_int_equal(gprs[0], 7);
	assert_int_equal(gprs[28], TEST_ARM64_G);
	assert_int_equal(core->vsyscall_bytes, 0);
	gm_core_deinit(core);
}

static void test_short_arm64_prstatus_leaves_registers_unknown(void **state)
{
	struct gm_regs regs = {0};
	uint8_t pr_reg[33 * 8] = {0};
	gm_regs_decode(gm_arch_for_machine(EM_AARCH64), pr_reg, sizeof(pr_reg), &regs);
	uint64_t v = 1;
	assert_int_equal(regs.n, 0);
	assert_false(gm_regs_sp(&regs, &v));
	assert_false(gm_regs_pc(&regs, &v));
	assert_int_equal(gm_regs_gprs(&regs, (uint64_t[GM_MAX_REGS]){0}), 0);
	(void)state;
}

static void test_open_executable_instead_of_core_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.e_type = ET_EXEC;
	path_in(fx, "a.out", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "not a core file");
	gm_core_deinit(core);
}

static void test_open_directory_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	path_in(fx, "subdir", path, sizeof(path));
	assert_int_equal(mkdir(path, 0700), 0);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_IO, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_IO, "directory");
	gm_core_deinit(core);
}

static void test_open_missing_file_fails_naming_it(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	path_in(fx, "no-such-core", path, sizeof(path));
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_IO, path);
	gm_core_deinit(core);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_IO, "No such file");
	gm_core_deinit(core);
}

static void test_open_core_without_loads_fails(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = {.nloads = 0};
	path_in(fx, "core-noloads", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, "no memory segments");
	gm_core_deinit(core);
}

/*
 * gomem_target_open_core does not call gm_core_deinit when gm_core_open
 * fails, so a failed open must release what it took itself: the file
 * descriptor and the mapping (and the path copy).
 */
static void test_failed_open_releases_its_file_descriptor(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.e_type = ET_EXEC;
	path_in(fx, "a.out", path, sizeof(path));
	write_core(path, &spec);
	int before = unit_count_fds();
	assert_true(before > 0);
	assert_gomem_error(gm_core_open(path, core), GOMEM_ERROR_FORMAT, path);
	int after = unit_count_fds();
	gm_core_deinit(core); /* harmless either way: deinit of a reset core is a no-op */
	assert_int_equal(after, before);
}

static void test_kernel_dump_detected_from_note_first_and_page_alignment(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &three_loads);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_KERNEL);
	assert_true(core->holes_untouched);
	assert_int_equal(core->page_size, PAGE);
	gm_core_deinit(core);
}

/* An OS page of 16 KiB (arm64, and a synthetic x86-64): the kernel aligns to it. */
static void test_kernel_dump_aligned_to_16k_at_pagesz_is_a_kernel_dump(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.p_align = spec.at_pagesz = 4 * PAGE;
	spec.fpregs = true;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_KERNEL);
	assert_int_equal(core->page_size, 4 * PAGE);
	gm_core_deinit(core);
}

/* p_align that is not the page the process had (AT_PAGESZ) is not the kernel's. */
static void test_p_align_other_than_at_pagesz_is_not_a_kernel_dump(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.p_align = 4 * PAGE;
	spec.at_pagesz = PAGE;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_GCORE);
	assert_false(core->holes_untouched);
	assert_int_equal(core->page_size, PAGE);
	gm_core_deinit(core);
}

/* NT_PRSTATUS, NT_PRPSINFO, NT_AUXV and nothing else: qemu-user's guest core. */
static void test_qemu_notes_make_a_qemu_core_whose_holes_mean_nothing_unless_punched(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads; /* x86-64: QEMU writes no NT_ARM_TLS either */
	spec.prpsinfo = true;
	spec.at_pagesz = PAGE;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_QEMU);
	assert_false(core->holes_untouched); /* every page written */
	assert_int_equal(core->page_size, PAGE);
	gm_core_deinit(core);
	/* The same core with a hole in a segment's data: punched from the host's core. */
	spec.loads[0].filesz = spec.loads[0].memsz = 32 * PAGE;
	spec.loads[1].vaddr = 0x10000 + 32 * PAGE;
	write_core(path, &spec);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	int punched = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2 * PAGE + 8 * PAGE,
				16 * PAGE);
	close(fd);
	assert_int_equal(punched, 0); /* TMPDIR on a file system with holes */
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_QEMU);
	assert_true(core->holes_untouched);
	gm_core_deinit(core);
	/* A kernel core has more notes (NT_PRFPREG): not QEMU's, whatever its holes. */
	spec.fpregs = true;
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_KERNEL);
	gm_core_deinit(core);
}

static void test_gcore_style_align_1_is_not_a_kernel_dump(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.p_align = 1;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_GCORE);
	assert_false(core->holes_untouched);
	gm_core_deinit(core);
}

static void test_core_without_leading_note_is_not_a_kernel_dump(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.no_notes = true;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->kind, GM_CORE_GCORE);
	assert_false(core->have_auxv);
	assert_int_equal(core->pid, 0);
	gm_core_deinit(core);
}

static void test_nt_file_note_lists_file_backed_mappings(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.nt_file = NT_FILE_GOOD;
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->nwarnings, 0);
	assert_int_equal(core->nfiles, GM_ARRAY_SIZE(nt_file_entries));
	for (size_t i = 0; i < core->nfiles; i++) {
		const struct gm_core_file *f = &core->files[i];
		assert_int_equal(f->start, nt_file_entries[i].start);
		assert_int_equal(f->end, nt_file_entries[i].end);
		assert_int_equal(f->offset, nt_file_entries[i].pgoff * PAGE);
		assert_int_equal(f->path_len, strlen(nt_file_entries[i].path));
		assert_int_equal(memcmp(f->path, nt_file_entries[i].path, f->path_len), 0);
	}
	/* The notes after NT_FILE are still read. */
	assert_int_equal(core->pid, TEST_PID);
	gm_core_deinit(core);
}

static void test_corrupt_nt_file_note_gives_warning_not_crash(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	path_in(fx, "core", path, sizeof(path));

	spec.nt_file = NT_FILE_HUGE_COUNT;
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->nfiles, 0);
	assert_int_equal(core->nwarnings, 1);
	assert_non_null(strstr(core->warnings[0], "NT_FILE"));
	assert_non_null(strstr(core->warnings[0], path));
	assert_int_equal(core->nloads, 3);
	gm_core_deinit(core);

	/* The last path runs off the end of the note: the entries before it stay. */
	spec.nt_file = NT_FILE_NO_NUL;
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->nfiles, GM_ARRAY_SIZE(nt_file_entries) - 1);
	assert_int_equal(core->nwarnings, 1);
	assert_non_null(strstr(core->warnings[0], "NT_FILE"));
	gm_core_deinit(core);
}

/* Data written in page-sized pieces around a 64 KiB hole: exact on ext4, xfs and tmpfs. */
static void test_data_bytes_counts_data_not_holes_of_sparse_core(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	uint64_t data_off[MAX_TEST_LOADS];
	struct tcore spec = {
	    .loads = {{.vaddr = 0x10000, .memsz = PAGE, .filesz = PAGE},
		      {.vaddr = 0x40000, .memsz = PAGE, .filesz = PAGE, .hole_before = 0x10000}},
	    .nloads = 2,
	};
	path_in(fx, "sparse-core", path, sizeof(path));
	write_core_cut(path, &spec, 0, data_off);
	assert_int_equal(data_off[1], data_off[0] + PAGE + 0x10000);
	assert_gomem_ok(gm_core_open(path, core));
	struct stat st;
	assert_int_equal(fstat(core->fd, &st), 0);
	if ((uint64_t)st.st_blocks * 512 >= core->size)
		fail_msg("%s is not sparse on this filesystem (set TMPDIR to ext4, xfs or "
			 "tmpfs)",
			 path);
	/* Both loads and the hole between them: two pages of data. */
	assert_int_equal(gm_core_data_bytes(core, data_off[0], 2 * PAGE + 0x10000), 2 * PAGE);
	/* The hole alone. */
	assert_int_equal(gm_core_data_bytes(core, data_off[0] + PAGE, 0x10000), 0);
	/* One load. */
	assert_int_equal(gm_core_data_bytes(core, data_off[1], PAGE), PAGE);
	/* The whole file: the header page and the two loads. */
	assert_int_equal(gm_core_data_bytes(core, 0, core->size), 3 * PAGE);
	/* A range past the end of the file is cut to it. */
	assert_int_equal(gm_core_data_bytes(core, data_off[1], 1ULL << 40), PAGE);
	assert_int_equal(gm_core_data_bytes(core, core->size + PAGE, PAGE), 0);
	gm_core_deinit(core);
}

static void test_note_with_huge_descsz_gives_warning_not_crash(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.prstatus_descsz = 0xfffffff0u;
	path_in(fx, "core-badnote", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_true(core->nwarnings >= 1);
	assert_non_null(strstr(core->warnings[0], "note"));
	assert_non_null(strstr(core->warnings[0], path));
	/* The loads are still there. */
	assert_int_equal(core->nloads, 3);
	gm_core_deinit(core);

	/* A descsz that fits the segment but not the NT_PRSTATUS layout. */
	spec.prstatus_descsz = 8;
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->nloads, 3);
	assert_int_equal(core->pid, 0);
	assert_int_equal(core->nthreads, 0);
	gm_core_deinit(core);

	/* Long enough for the thread id, too short for the registers: no stack pointer. */
	spec.prstatus_descsz = 40;
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->pid, TEST_PID);
	assert_int_equal(core->nthreads, 1);
	assert_int_equal(core->threads[0].tid, TEST_PID);
	assert_int_equal(core->threads[0].sp, 0);
	gm_core_deinit(core);
}

static void test_read_uint_reads_sizes_1_2_4_8_little_endian(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	static const uint8_t bytes[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
					  0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98};
	struct gm_segment s = {.start = 0x1000, .end = 0x1010, .data = bytes, .data_len = 16};
	uint64_t v;
	assert_gomem_ok(gm_memory_add_segment(mem, &s));
	assert_gomem_ok(gm_memory_finish(mem));
	assert_gomem_ok(gm_read_uint(mem, 0x1008, 1, &v));
	assert_int_equal(v, 0x89);
	assert_gomem_ok(gm_read_uint(mem, 0x1008, 2, &v));
	assert_int_equal(v, 0xab89);
	assert_gomem_ok(gm_read_uint(mem, 0x1008, 4, &v));
	assert_int_equal(v, 0xefcdab89);
	assert_gomem_ok(gm_read_uint(mem, 0x1008, 8, &v));
	assert_int_equal(v, 0x98badcfeefcdab89ULL);
	assert_gomem_ok(gm_read_uint(mem, 0x1001, 4, &v)); /* unaligned */
	assert_int_equal(v, 0x05040302);
	/* Past the end: a fault, and *ret is not changed. */
	v = 77;
	assert_gomem_error(gm_read_uint(mem, 0x100c, 8, &v), GOMEM_ERROR_FAULT, NULL);
	assert_int_equal(v, 77);
	gm_memory_deinit(mem);
}

static void test_read_uint_rejects_sizes_0_3_16(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	static const uint8_t bytes[16];
	struct gm_segment s = {.start = 0x1000, .end = 0x1010, .data = bytes, .data_len = 16};
	uint64_t v = 5;
	assert_gomem_ok(gm_memory_add_segment(mem, &s));
	assert_gomem_ok(gm_memory_finish(mem));
	assert_gomem_error(gm_read_uint(mem, 0x1000, 3, &v), GOMEM_ERROR_INCONSISTENT, "3 bytes");
	assert_gomem_error(gm_read_uint(mem, 0x1000, 0, &v), GOMEM_ERROR_INCONSISTENT, NULL);
	assert_gomem_error(gm_read_uint(mem, 0x1000, 16, &v), GOMEM_ERROR_INCONSISTENT, NULL);
	assert_int_equal(v, 5);
	gm_memory_deinit(mem);
}

static void test_overlapping_segments_make_finish_fail(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	static const uint8_t bytes[0x2000];
	struct gm_segment a = {.start = 0x10000, .end = 0x12000, .data = bytes, .data_len = 0x2000};
	struct gm_segment b = {.start = 0x11000, .end = 0x13000, .data = bytes, .data_len = 0x2000};
	/* Added out of order: finish sorts them and still sees the overlap. */
	assert_gomem_ok(gm_memory_add_segment(mem, &b));
	assert_gomem_ok(gm_memory_add_segment(mem, &a));
	assert_gomem_error(gm_memory_finish(mem), GOMEM_ERROR_FORMAT, "overlap");
	gm_memory_deinit(mem);

	/* Adjacent is fine. */
	b.start = 0x12000;
	b.end = 0x14000;
	assert_gomem_ok(gm_memory_add_segment(mem, &b));
	assert_gomem_ok(gm_memory_add_segment(mem, &a));
	assert_gomem_ok(gm_memory_finish(mem));
	gm_memory_deinit(mem);
}

static void test_segment_with_more_data_than_size_is_rejected(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	static const uint8_t bytes[0x2000];
	struct gm_segment s = {.start = 0x10000, .end = 0x11000, .data = bytes, .data_len = 0x2000};
	assert_gomem_error(gm_memory_add_segment(mem, &s), GOMEM_ERROR_FORMAT, "0x10000");
	s.data_len = 0;
	s.end = 0xf000;
	assert_gomem_error(gm_memory_add_segment(mem, &s), GOMEM_ERROR_FORMAT, NULL);
	gm_memory_deinit(mem);
}

static void test_many_segments_are_found_by_address(void **state)
{
	struct fixture *fx = *state;
	struct gm_memory *mem = &fx->mem;
	static uint8_t bytes[100][16];
	/* Added in reverse order, which exercises the sort and the growth of the array. */
	for (int i = 99; i >= 0; i--) {
		memset(bytes[i], i, sizeof(bytes[i]));
		struct gm_segment s = {.start = 0x100000 + (uint64_t)i * 0x1000,
				       .end = 0x100000 + (uint64_t)i * 0x1000 + 16,
				       .data = bytes[i],
				       .data_len = 16};
		assert_gomem_ok(gm_memory_add_segment(mem, &s));
	}
	assert_gomem_ok(gm_memory_finish(mem));
	for (int i = 0; i < 100; i += 7) {
		uint8_t b;
		assert_gomem_ok(gm_read(mem, 0x100000 + (uint64_t)i * 0x1000 + 5, &b, 1));
		assert_int_equal(b, i);
		const struct gm_segment *s = gm_memory_find(mem, 0x100000 + (uint64_t)i * 0x1000);
		assert_non_null(s);
		assert_int_equal(s->start, 0x100000 + (uint64_t)i * 0x1000);
	}
	assert_null(gm_memory_find(mem, 0x100000 + 16));
	assert_null(gm_memory_find(mem, 0xfffff));
	gm_memory_deinit(mem);
}

static void test_vsyscall_page_is_counted_apart(void **state)
{
	struct fixture *fx = *state;
	char path[512];
	struct gm_core *core = &fx->core;
	struct tcore spec = three_loads;
	spec.loads[spec.nloads++] =
	    (struct tload){.vaddr = VSYSCALL_ADDR, .memsz = PAGE, .filesz = PAGE};
	path_in(fx, "core", path, sizeof(path));
	write_core(path, &spec);
	assert_gomem_ok(gm_core_open(path, core));
	assert_int_equal(core->nloads, 4);
	assert_int_equal(core->vsyscall_bytes, PAGE);
	gm_core_deinit(core);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup_tmpdir, teardown_tmpdir)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_open_parses_pid_threads_and_auxv_from_notes),
	    T(test_read_inside_one_segment),
	    T(test_read_straddles_two_adjacent_segments),
	    T(test_read_in_absent_part_of_segment_faults_instead_of_zeros),
	    T(test_read_of_unmapped_address_faults),
	    T(test_read_wrapping_past_the_top_of_the_address_space_faults),
	    T(test_file_range_supplies_bytes_the_core_left_out),
	    T(test_file_range_does_not_hide_core_bytes_of_a_later_segment),
	    T(test_core_cut_inside_a_segment_opens_with_warning_and_faults_past_cut),
	    T(test_core_cut_inside_program_headers_fails_with_format_error),
	    T(test_open_empty_file_fails_naming_it),
	    T(test_open_non_elf_file_fails_naming_it),
	    T(test_open_32bit_elf_fails_naming_it),
	    T(test_open_wrong_machine_fails_naming_it),
	    T(test_arm64_core_gives_registers_by_user_pt_regs_and_nt_arm_tls),
	    T(test_short_arm64_prstatus_leaves_registers_unknown),
	    T(test_open_executable_instead_of_core_fails_naming_it),
	    T(test_open_directory_fails_naming_it),
	    T(test_open_missing_file_fails_naming_it),
	    T(test_open_core_without_loads_fails),
	    T(test_failed_open_releases_its_file_descriptor),
	    T(test_kernel_dump_detected_from_note_first_and_page_alignment),
	    T(test_kernel_dump_aligned_to_16k_at_pagesz_is_a_kernel_dump),
	    T(test_p_align_other_than_at_pagesz_is_not_a_kernel_dump),
	    T(test_qemu_notes_make_a_qemu_core_whose_holes_mean_nothing_unless_punched),
	    T(test_gcore_style_align_1_is_not_a_kernel_dump),
	    T(test_core_without_leading_note_is_not_a_kernel_dump),
	    T(test_nt_file_note_lists_file_backed_mappings),
	    T(test_corrupt_nt_file_note_gives_warning_not_crash),
	    T(test_data_bytes_counts_data_not_holes_of_sparse_core),
	    T(test_note_with_huge_descsz_gives_warning_not_crash),
	    T(test_read_uint_reads_sizes_1_2_4_8_little_endian),
	    T(test_read_uint_rejects_sizes_0_3_16),
	    T(test_overlapping_segments_make_finish_fail),
	    T(test_segment_with_more_data_than_size_is_rejected),
	    T(test_many_segments_are_found_by_address),
	    T(test_vsyscall_page_is_counted_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
