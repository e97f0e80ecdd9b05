/*
 * The architecture description (target/arch.c): the register layouts of
 * x86-64 and arm64, and the registers of a live process's threads read by
 * PTRACE_GETREGSET, checked against /proc on a Go program of this machine.
 *
 *   GOMEM_TEST_EXE  a Go fixture program (heapmix): it writes its truth to
 *                   argv[1] and then sleeps, so that it can be read live
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <elf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "verbs/verbs.h"
#include "unit.h"

static void test_amd64_pr_reg_is_user_regs_struct(void **state)
{
	const struct gm_arch *a = gm_arch_for_machine(EM_X86_64);
	assert_non_null(a);
	assert_string_equal(a->goarch, "amd64");
	assert_int_equal(a->nregs, 27);
	assert_string_equal(a->reg_names[a->sp], "rsp");
	assert_string_equal(a->reg_names[a->pc], "rip");
	assert_string_equal(a->reg_names[a->fp], "rbp");
	assert_string_equal(a->reg_names[a->g], "r14");
	assert_string_equal(a->reg_names[a->tp], "fs_base");
	assert_int_equal(a->lr, -1);
	assert_int_equal(a->vsyscall_addr, 0xffffffffff600000ULL);
	assert_int_equal(a->arena_base_offset, 0xffff800000000000ULL);
	(void)state;
}

static void test_arm64_pr_reg_is_user_pt_regs(void **state)
{
	const struct gm_arch *a = gm_arch_for_machine(EM_AARCH64);
	assert_non_null(a);
	assert_string_equal(a->goarch, "arm64");
	assert_int_equal(a->nregs, 34);
	assert_int_equal(a->sp, 31);
	assert_int_equal(a->pc, 32);
	assert_string_equal(a->reg_names[a->g], "x28");
	assert_string_equal(a->reg_names[a->lr], "x30");
	assert_string_equal(a->reg_names[a->fp], "x29");
	assert_int_equal(a->tp, -1);
	assert_int_equal(a->tp_note, NT_ARM_TLS);
	assert_int_equal(a->vsyscall_addr, 0);
	assert_int_equal(a->arena_base_offset, 0);
	assert_int_equal(a->arena_hint, 0x4000000000ULL);
	(void)state;
}

static void test_other_machines_have_no_description(void **state)
{
	assert_null(gm_arch_for_machine(EM_RISCV));
	assert_null(gm_arch_for_machine(EM_386));
	assert_null(gm_arch_for_machine(EM_S390));
	(void)state;
}

/* Every register of x86-64's pr_reg, decoded in order; the GPRs are r15 ... rdi. */
static void test_amd64_registers_decode_in_order(void **state)
{
	const struct gm_arch *a = gm_arch_for_machine(EM_X86_64);
	uint64_t pr_reg[27], v, gprs[GM_MAX_REGS];
	for (unsigned i = 0; i < 27; i++)
		pr_reg[i] = 0x1000 + i;
	struct gm_regs regs = {0};
	gm_regs_decode(a, (const uint8_t *)pr_reg, sizeof(pr_reg), &regs);
	assert_int_equal(regs.n, 27);
	assert_true(gm_regs_sp(&regs, &v));
	assert_int_equal(v, 0x1000 + 19);
	assert_true(gm_regs_pc(&regs, &v));
	assert_int_equal(v, 0x1000 + 16);
	assert_true(gm_regs_g(&regs, &v));
	assert_int_equal(v, 0x1000 + 1);
	assert_true(regs.has_tp);
	assert_int_equal(regs.tp, 0x1000 + 21);
	assert_int_equal(gm_regs_gprs(&regs, gprs), 15);
	assert_int_equal(gprs[14], 0x1000 + 14); /* rdi; orig_rax (15) is no register */
	(void)state;
}

/* ---- a live Go program's threads ---- */

static bool file_exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* Whether addr lies in a mapping of /proc/PID/maps whose permissions contain perm ('x', 'w'). */
static bool mapped_with(int pid, uint64_t addr, char perm)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	bool found = false;
	while (!found && fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char perms[5];
		if (sscanf(line, "%llx-%llx %4s", &lo, &hi, perms) == 3 && lo <= addr && addr < hi)
			found = strchr(perms, perm) != NULL;
	}
	fclose(f);
	return found;
}

static size_t task_count(int pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/*
 * gomem stops the program, reads each thread's registers (PTRACE_GETREGSET
 * with NT_PRSTATUS, the layout of the machine gomem runs on) and resumes it:
 * one entry per thread, the main thread first, each sp in a writable
 * mapping and each pc in an executable one, the page size AT_PAGESZ.
 */
static void test_live_threads_registers_by_ptrace(void **state)
{
	const char *exe = getenv("GOMEM_TEST_EXE");
	if (!exe)
		fail_msg("GOMEM_TEST_EXE is not set: a Go fixture program (./setup test sets it)");
	char dir[256], truth[300];
	assert_int_equal(unit_make_tmpdir(dir, sizeof(dir), "gomem-test-arch"), 0);
	snprintf(truth, sizeof(truth), "%s/truth.json", dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		freopen("/dev/null", "w", stderr);
		execl(exe, exe, truth, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 600 && !file_exists(truth); i++)
		sleep_ms(100);
	assert_true(file_exists(truth));
	sleep_ms(300); /* into its final sleep */

	struct gm_target t;
	assert_gomem_ok(gm_target_init_pid(&t, pid, NULL, GOMEM_PID_STOP, NULL));
	/* The process runs until a verb needs it stopped; the registers are read then. */
	assert_gomem_ok(gm_target_stop(&t));
	const struct gm_core_thread *th;
	size_t n;
	gm_target_threads(&t, &th, &n);
	assert_ptr_equal(t.arch, gm_arch_host());
	assert_int_equal(t.page_size, (uint64_t)sysconf(_SC_PAGESIZE));
	assert_int_equal(n, task_count(pid));
	assert_int_equal(th[0].tid, (uint64_t)pid);
	for (size_t i = 0; i < n; i++) {
		uint64_t pc = 0, sp = 0;
		assert_true(gm_regs_pc(&th[i].regs, &pc));
		assert_true(gm_regs_sp(&th[i].regs, &sp));
		assert_int_equal(sp, th[i].sp);
		assert_true(mapped_with(pid, sp, 'w'));
		assert_true(mapped_with(pid, pc, 'x'));
		assert_true(th[i].regs.has_tp);
	}
	gm_target_deinit(&t);

	/* Without stopping it, gomem cannot read registers, and does not claim to. */
	assert_gomem_ok(gm_target_init_pid(&t, pid, NULL, 0, NULL));
	gm_target_threads(&t, &th, &n);
	assert_int_equal(n, 0);
	gm_target_deinit(&t);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	unit_remove_tree(dir);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_amd64_pr_reg_is_user_regs_struct),
	    cmocka_unit_test(test_arm64_pr_reg_is_user_pt_regs),
	    cmocka_unit_test(test_other_machines_have_no_description),
	    cmocka_unit_test(test_amd64_registers_decode_in_order),
	    cmocka_unit_test(test_live_threads_registers_by_ptrace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
