/*
 * Hostile and broken input (issue 7): each problem the fuzzers or a review
 * found, reproduced on a small synthetic file, and the errors that must
 * name the problem (another architecture, a truncated core, a core without
 * its anonymous memory, a core of another build).
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

#define PAGE 4096u

struct fixture {
	char dir[256];
	char path[512];
	struct gm_core core;
	struct gm_memory mem;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	if (!fx || unit_make_tmpdir(fx->dir, sizeof(fx->dir), "gomem-hostile") != 0)
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/core", fx->dir);
	fx->core.fd = -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	gm_memory_deinit(&fx->mem);
	gm_core_deinit(&fx->core);
	unit_remove_tree(fx->dir);
	free(fx);
	return 0;
}

/* ---- a small core writer ---- */

struct hload {
	uint64_t vaddr, memsz, filesz; /* filesz: what the header claims */
	uint32_t flags;
};

struct hfile {
	uint64_t start, end, pgoff;
	const char *path;
};

struct hcore {
	uint16_t machine;	   /* 0: EM_X86_64 */
	uint8_t ei_class, ei_data; /* 0: ELFCLASS64, ELFDATA2LSB */
	const struct hload *loads;
	size_t nloads;
	const struct hfile *files; /* NT_FILE entries */
	size_t nfiles;
	uint64_t cut; /* when not 0, the file is cut to this many bytes */
};

static size_t put_note(uint8_t *buf, size_t off, uint32_t type, const void *desc, uint32_t len)
{
	Elf64_Nhdr nh = {.n_namesz = 5, .n_descsz = len, .n_type = type};
	memcpy(buf + off, &nh, sizeof(nh));
	memcpy(buf + off + sizeof(nh), "CORE\0\0\0", 8);
	memcpy(buf + off + sizeof(nh) + 8, desc, len);
	return off + sizeof(nh) + 8 + ((len + 3) & ~3u);
}

/* Writes spec to path: ELF header, PT_NOTE (NT_FILE), PT_LOADs page-aligned after. */
static void write_hcore(const char *path, const struct hcore *spec)
{
	static uint8_t head[2 * PAGE];
	memset(head, 0, sizeof(head));
	size_t nph = 1 + spec->nloads;
	size_t notes_off = sizeof(Elf64_Ehdr) + nph * sizeof(Elf64_Phdr), off = notes_off;
	uint8_t desc[1024];
	uint64_t count = spec->nfiles, page = PAGE;
	size_t dlen = 16;
	memcpy(desc, &count, 8);
	memcpy(desc + 8, &page, 8);
	for (size_t i = 0; i < spec->nfiles; i++) {
		uint64_t e[3] = {spec->files[i].start, spec->files[i].end, spec->files[i].pgoff};
		memcpy(desc + dlen, e, sizeof(e));
		dlen += sizeof(e);
	}
	for (size_t i = 0; i < spec->nfiles; i++) {
		size_t n = strlen(spec->files[i].path) + 1;
		assert_true(dlen + n <= sizeof(desc));
		memcpy(desc + dlen, spec->files[i].path, n);
		dlen += n;
	}
	off = put_note(head, off, NT_FILE, desc, (uint32_t)dlen);
	assert_true(off <= PAGE);

	Elf64_Ehdr *eh = (Elf64_Ehdr *)head;
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = spec->ei_class ? spec->ei_class : ELFCLASS64;
	eh->e_ident[EI_DATA] = spec->ei_data ? spec->ei_data : ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_CORE;
	eh->e_machine = spec->machine ? spec->machine : EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_phoff = sizeof(Elf64_Ehdr);
	eh->e_ehsize = sizeof(Elf64_Ehdr);
	eh->e_phentsize = sizeof(Elf64_Phdr);
	eh->e_phnum = (uint16_t)nph;
	if (eh->e_ident[EI_DATA] == ELFDATA2MSB) {
		uint16_t m = eh->e_machine;
		eh->e_machine = (uint16_t)(m >> 8 | m << 8);
	}
	Elf64_Phdr *ph = (Elf64_Phdr *)(head + sizeof(Elf64_Ehdr));
	ph[0] = (Elf64_Phdr){.p_type = PT_NOTE, .p_offset = notes_off, .p_filesz = off - notes_off};

	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	uint64_t pos = PAGE;
	for (size_t i = 0; i < spec->nloads; i++) {
		const struct hload *l = &spec->loads[i];
		ph[1 + i] = (Elf64_Phdr){.p_type = PT_LOAD,
					 .p_flags = l->flags ? l->flags : PF_R | PF_W,
					 .p_offset = pos,
					 .p_vaddr = l->vaddr,
					 .p_filesz = l->filesz,
					 .p_memsz = l->memsz,
					 .p_align = PAGE};
		for (uint64_t j = 0; j < l->filesz; j += 8) {
			uint64_t v = l->vaddr + j;
			assert_int_equal(pwrite(fd, &v, 8, (off_t)(pos + j)), 8);
		}
		pos += (l->filesz + PAGE - 1) / PAGE * PAGE;
	}
	assert_int_equal(pwrite(fd, head, PAGE, 0), PAGE);
	assert_int_equal(ftruncate(fd, (off_t)(spec->cut ? spec->cut : pos)), 0);
	assert_int_equal(close(fd), 0);
}

static void open_memory(struct fixture *fx)
{
	assert_gomem_ok(gm_core_open(fx->path, &fx->core));
	for (size_t i = 0; i < fx->core.nloads; i++)
		assert_gomem_ok(gm_memory_add_segment(&fx->mem, &fx->core.loads[i]));
	assert_gomem_ok(gm_memory_finish(&fx->mem));
	fx->mem.core_path = fx->core.path;
}

static const struct hload two_loads[] = {
    {.vaddr = 0x400000, .memsz = PAGE, .filesz = PAGE, .flags = PF_R | PF_X},
    {.vaddr = 0xc000000000, .memsz = 4 * PAGE, .filesz = 4 * PAGE},
};

/* ---- the memory reader ---- */

/* Found by fuzz_core (regressions/fuzz_core/qsort-null-no-segments): qsort(NULL, 0). */
static void test_memory_finish_with_nothing_added_is_fine(void **state)
{
	struct fixture *fx = *state;
	uint8_t b;
	assert_gomem_ok(gm_memory_finish(&fx->mem));
	assert_gomem_error(gm_read(&fx->mem, 0x1000, &b, 1), GOMEM_ERROR_FAULT,
			   "not mapped in the target");
}

/*
 * Found by fuzz_overlay (regressions/fuzz_overlay/addrspace-brk-probe-leaks-read-error):
 * probes that only wanted to know whether a read works leaked its error.
 */
static void test_read_ok_releases_the_error_of_a_failed_probe(void **state)
{
	struct fixture *fx = *state;
	uint64_t v = 0;
	struct hcore spec = {.loads = two_loads, .nloads = 2};
	write_hcore(fx->path, &spec);
	open_memory(fx);
	assert_true(gm_read_ok(&fx->mem, 0xc000000000, &v, 8));
	assert_int_equal(v, 0xc000000000);
	assert_false(gm_read_ok(&fx->mem, 0x1000, &v, 8)); /* LeakSanitizer checks the rest */
}

static void test_read_past_the_cut_of_a_truncated_core_says_truncated(void **state)
{
	struct fixture *fx = *state;
	uint64_t v;
	struct hcore spec = {.loads = two_loads, .nloads = 2, .cut = 3 * PAGE + 100};
	write_hcore(fx->path, &spec);
	open_memory(fx);
	assert_gomem_ok(gm_read_u64(&fx->mem, 0xc000000000 + 8, &v));
	assert_int_equal(v, 0xc000000000 + 8);
	/* Past the cut: the error names the core and says it is truncated. */
	assert_gomem_error(gm_read_u64(&fx->mem, 0xc000000000 + 2 * PAGE, &v), GOMEM_ERROR_FAULT,
			   "truncated");
	assert_gomem_error(gm_read_u64(&fx->mem, 0xc000000000 + 2 * PAGE, &v), GOMEM_ERROR_FAULT,
			   fx->path);
}

/* A FIFO given as the core: refused by its type, not opened for a read that blocks. */
static void test_fifo_as_core_is_refused_without_blocking(void **state)
{
	struct fixture *fx = *state;
	assert_int_equal(mkfifo(fx->path, 0600), 0);
	assert_gomem_error(gm_core_open(fx->path, &fx->core), GOMEM_ERROR_IO, "not a regular file");
}

/* ---- the architecture of a core ---- */

/* arm64 is read (issue 15); its registers are another layout, checked in test_core. */
static void test_arm64_core_opens_as_arm64(void **state)
{
	struct fixture *fx = *state;
	struct hcore spec = {.machine = EM_AARCH64, .loads = two_loads, .nloads = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_ok(gm_core_open(fx->path, &fx->core));
	assert_string_equal(fx->core.arch->goarch, "arm64");
}

static void test_riscv64_core_says_it_is_riscv64(void **state)
{
	struct fixture *fx = *state;
	struct hcore spec = {.machine = EM_RISCV, .loads = two_loads, .nloads = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_error(gm_core_open(fx->path, &fx->core), GOMEM_ERROR_FORMAT, "riscv64");
	assert_gomem_error(gm_core_open(fx->path, &fx->core), GOMEM_ERROR_FORMAT,
			   "gomem reads linux/amd64 and linux/arm64 only");
}

static void test_32bit_arm64_core_says_it_is_not_64bit(void **state)
{
	struct fixture *fx = *state;
	struct hcore spec = {
	    .machine = EM_AARCH64, .ei_class = ELFCLASS32, .loads = two_loads, .nloads = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_error(gm_core_open(fx->path, &fx->core), GOMEM_ERROR_FORMAT,
			   "32-bit ELF file for AArch64");
}

static void test_big_endian_s390x_core_says_it_is_s390x(void **state)
{
	struct fixture *fx = *state;
	struct hcore spec = {
	    .machine = EM_S390, .ei_data = ELFDATA2MSB, .loads = two_loads, .nloads = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_error(gm_core_open(fx->path, &fx->core), GOMEM_ERROR_FORMAT, "s390x");
}

static void test_core_of_unknown_machine_gives_its_number(void **state)
{
	struct fixture *fx = *state;
	struct hcore spec = {.machine = 0x1234, .loads = two_loads, .nloads = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_error(gm_core_open(fx->path, &fx->core), GOMEM_ERROR_FORMAT, "4660");
}

/* ---- coredump_filter ---- */

/* Text mapped from the executable, its data, and anonymous heap, with no bytes in the core. */
static const struct hfile exe_files[] = {
    {0x400000, 0x401000, 0, "/x/exe"},
    {0x500000, 0x501000, 1, "/x/exe"},
};

static void test_core_without_anonymous_memory_is_flagged(void **state)
{
	struct fixture *fx = *state;
	const struct hload loads[] = {
	    {.vaddr = 0x400000, .memsz = PAGE, .filesz = 0, .flags = PF_R | PF_X},
	    {.vaddr = 0x500000, .memsz = PAGE, .filesz = 0},	 /* file-backed data */
	    {.vaddr = 0x501000, .memsz = 8 * PAGE, .filesz = 0}, /* bss */
	    {.vaddr = 0xc000000000, .memsz = 16 * PAGE, .filesz = 0},
	};
	struct hcore spec = {.loads = loads, .nloads = 4, .files = exe_files, .nfiles = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_ok(gm_core_open(fx->path, &fx->core));
	assert_true(fx->core.anon_missing);
}

static void test_core_with_anonymous_memory_is_not_flagged(void **state)
{
	struct fixture *fx = *state;
	const struct hload loads[] = {
	    {.vaddr = 0x400000, .memsz = PAGE, .filesz = 0, .flags = PF_R | PF_X},
	    {.vaddr = 0x500000, .memsz = PAGE, .filesz = 0},
	    {.vaddr = 0x501000, .memsz = 8 * PAGE, .filesz = 0}, /* never touched */
	    {.vaddr = 0xc000000000, .memsz = 2 * PAGE, .filesz = 2 * PAGE},
	};
	struct hcore spec = {.loads = loads, .nloads = 4, .files = exe_files, .nfiles = 2};
	write_hcore(fx->path, &spec);
	assert_gomem_ok(gm_core_open(fx->path, &fx->core));
	assert_false(fx->core.anon_missing);
}

/* A truncated core lost its bytes to the cut, not to a filter: that is another error. */
static void test_truncated_core_is_not_taken_for_a_filtered_one(void **state)
{
	struct fixture *fx = *state;
	struct hcore spec = {.loads = two_loads, .nloads = 2, .cut = PAGE + 10};
	write_hcore(fx->path, &spec);
	assert_gomem_ok(gm_core_open(fx->path, &fx->core));
	assert_false(fx->core.anon_missing);
}

/* ---- build IDs in an executable's first page ---- */

/* A note whose n_namesz is namesz (Go's linker writes "Go\0\0" with 4, not 3). */
static size_t put_id_note(uint8_t *page, size_t off, const char *name, uint32_t namesz,
			  uint32_t type, const void *desc, uint32_t len)
{
	size_t nlen = strlen(name) + 1;
	Elf64_Nhdr nh = {.n_namesz = namesz, .n_descsz = len, .n_type = type};
	memcpy(page + off, &nh, sizeof(nh));
	memcpy(page + off + sizeof(nh), name, nlen);
	off += sizeof(nh) + ((nlen + 3) & ~(size_t)3);
	memcpy(page + off, desc, len);
	return off + ((len + 3) & ~(size_t)3);
}

static void test_build_ids_are_found_in_the_first_page(void **state)
{
	static uint8_t page[PAGE];
	char go[128], gnu[80];
	const char *id = "abc/def/ghi";
	const uint8_t gnu_id[4] = {0xde, 0xad, 0xbe, 0xef};
	memset(page, 0x5a, sizeof(page));
	memset(page + 0xf78, 0, 16);
	size_t off = put_id_note(page, 0xf78, "Go", 4, 4, id, (uint32_t)strlen(id));
	put_id_note(page, off, "GNU", 4, NT_GNU_BUILD_ID, gnu_id, sizeof(gnu_id));
	gm_find_build_ids(page, sizeof(page), go, sizeof(go), gnu, sizeof(gnu));
	assert_string_equal(go, id);
	assert_string_equal(gnu, "deadbeef");
}

static void test_build_id_note_running_past_the_page_is_ignored(void **state)
{
	static uint8_t page[PAGE];
	char go[128], gnu[80];
	memset(page, 0, sizeof(page));
	put_id_note(page, PAGE - 24, "Go", 4, 4, "x", 1);
	/* Claim more than the page holds. */
	Elf64_Nhdr nh = {.n_namesz = 3, .n_descsz = 4000, .n_type = 4};
	memcpy(page + PAGE - 24, &nh, sizeof(nh));
	gm_find_build_ids(page, sizeof(page), go, sizeof(go), gnu, sizeof(gnu));
	assert_string_equal(go, "");
	assert_string_equal(gnu, "");
	/* A name of 3 bytes, as a strict writer would put it, is found too. */
	put_id_note(page, 64, "Go", 3, 4, "y/z", 3);
	gm_find_build_ids(page, sizeof(page), go, sizeof(go), gnu, sizeof(gnu));
	assert_string_equal(go, "y/z");
	/* And a short image: nothing read past its end. */
	gm_find_build_ids(page, 5, go, sizeof(go), gnu, sizeof(gnu));
	assert_string_equal(go, "");
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_memory_finish_with_nothing_added_is_fine),
	    T(test_read_ok_releases_the_error_of_a_failed_probe),
	    T(test_read_past_the_cut_of_a_truncated_core_says_truncated),
	    T(test_fifo_as_core_is_refused_without_blocking),
	    T(test_arm64_core_opens_as_arm64),
	    T(test_riscv64_core_says_it_is_riscv64),
	    T(test_32bit_arm64_core_says_it_is_not_64bit),
	    T(test_big_endian_s390x_core_says_it_is_s390x),
	    T(test_core_of_unknown_machine_gives_its_number),
	    T(test_core_without_anonymous_memory_is_flagged),
	    T(test_core_with_anonymous_memory_is_not_flagged),
	    T(test_truncated_core_is_not_taken_for_a_filtered_one),
	    T(test_build_ids_are_found_in_the_first_page),
	    T(test_build_id_note_running_past_the_page_is_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
