/*
 * Live processes. Memory comes from /proc/PID/mem (pread; a fault is an
 * error naming the address, never zeros), the address space from
 * /proc/PID/maps, resident bytes from /proc/PID/smaps (whole mappings) and
 * /proc/PID/pagemap (any page range), the load address from /proc/PID/auxv.
 *
 * Stopping: every thread of /proc/PID/task is seized (PTRACE_SEIZE does not
 * stop it or change its signals) and interrupted, then waited for. Detaching
 * hands back the signal a thread was stopped with, and the kernel puts a
 * thread that was in a group stop (state T) back into it, so the process
 * goes on exactly as before. gomem never writes to the process.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/u64map.h"
#include "target/live.h"

#define PROC_PATH_MAX	    64
#define MAX_PROC_FILE_BYTES (256u << 20) /* maps/smaps of 65530 mappings fit */
#define MAX_MAPPINGS	    (1u << 20)
#define MAX_THREADS	    (1u << 16)
#define MAX_SEIZE_ROUNDS    64
#define STOP_TIMEOUT_MS	    5000
#define PAGEMAP_BATCH	    512 /* entries per pread of pagemap */
#define PM_PRESENT	    (1ULL << 63)
#define PM_FILE		    (1ULL << 61) /* a page of a file, or shared anonymous memory */
#define PM_MMAP_EXCLUSIVE   (1ULL << 56) /* mapped here only */
#define BITMAP_MAX_BYTES    (64u << 20)	 /* pagemap bitmaps kept per read of the mappings */
#define CACHE_PAGE	    4096u	 /* the unit of the stopped process's page cache */
#define CACHE_MAX_PAGES	    16384u	 /* 64 MiB */

struct live_thread {
	pid_t tid;
	bool stopped;	   /* in a ptrace stop: detach it */
	bool gone;	   /* exited while we stopped the process */
	int resume_signal; /* a signal it was stopped with, handed back on detach */
};

/*
 * A mapping's resident bytes. smaps says how many; pagemap says which pages,
 * read once per mapping into a bitmap the first time a question needs it.
 * From then on every answer about the mapping, whole or part, comes from that
 * one read: the kernel may still move pages of a stopped process (khugepaged,
 * reclaim), and two reads of one range must not disagree within a report.
 */
struct live_rss {
	uint64_t start, end, rss, anon; /* smaps Rss and Anonymous */
	uint64_t *present;		/* a bit per page; NULL until read, or when too large */
	bool tried;			/* present was read, or could not be */
};

struct gm_live {
	int pid;
	uint64_t page_size; /* the process's (AT_PAGESZ): pagemap has an entry per page */
	int mem_fd;	    /* /proc/PID/mem, -1 for a callback target */
	int pagemap_fd;	    /* -1 when unreadable */
	gomem_read_fn cb;
	void *cb_arg;
	char *maps; /* a callback target's maps text */
	struct live_thread *threads;
	size_t nthreads, cap_threads;
	struct gm_core_thread *regs; /* the stopped threads' registers (PTRACE_GETREGSET) */
	size_t nregs;
	struct live_rss *rss; /* sorted; built with the mappings */
	size_t nrss;
	uint64_t bitmap_bytes; /* held by rss[].present, at most BITMAP_MAX_BYTES */
	bool have_rss;
	/* The mappings reads are checked against (/proc/PID/mem would read PROT_NONE ones). */
	struct gm_mapping *ranges;
	size_t nranges;
	uint64_t pagemap[PAGEMAP_BATCH];
	/* GOMEM_PID_STOP: stopped by gm_live_stop, resumed by gm_live_resume, and timed. */
	bool stop_wanted, stopped;
	struct timespec stop_start;
	uint64_t pause_ns; /* every stop so far, from the first seize to the last detach */
	unsigned nstops;
	/*
	 * While gomem holds the process stopped its memory cannot change: each
	 * 4 KiB page read is kept (at most CACHE_MAX_PAGES), so that the many
	 * small reads of one page (a chunk of mspans, of Gs) cost one pread.
	 * Dropped when the process is resumed.
	 */
	struct gm_u64map cache_index; /* page address -> 1 + its slot in cache */
	uint8_t *cache;
	size_t ncache;
	/*
	 * The snapshot (gm_live_snapshot): while active, every read is served
	 * from it, never from the process, which runs again.
	 */
	struct snap_extent *snap;
	size_t nsnap, cap_snap;
	struct snap_file *snap_files;
	size_t nsnap_files, cap_snap_files;
	struct snap_hole *snap_holes; /* pages of copied ranges that could not be read */
	size_t nsnap_holes, cap_snap_holes;
	uint8_t *snap_buf; /* mmap'd: the copied pages, in address order */
	size_t snap_buf_bytes;
	bool snap_active;
	uint64_t max_snapshot; /* 0: half of MemAvailable */
	/* This run's snapshot (reset by gm_live_stop): whether one was taken, its bytes. */
	bool snap_taken;
	uint64_t snap_bytes;
};

static bool parse_maps_line(char *line, struct gm_mapping *m, const char **path_ret);
static struct gomem_error *snap_read(struct gm_live *l, uint64_t addr, uint8_t *out, size_t len);
static void snap_drop(struct gm_live *l);
static struct gomem_error *parse_maps(const char *what, char *text, struct gm_mapping **ret,
				      size_t *n_ret);
static void free_mappings(struct gm_mapping *m, size_t n);
static struct gomem_error *load_ranges(struct gm_live *l);

GM_DEFINE_GROW(grow_threads, struct live_thread)
GM_DEFINE_GROW(grow_mappings, struct gm_mapping)
GM_DEFINE_GROW(grow_rss, struct live_rss)

static void free_rss(struct gm_live *l)
{
	for (size_t i = 0; i < l->nrss; i++)
		free(l->rss[i].present);
	free(l->rss);
	l->rss = NULL;
	l->nrss = 0;
	l->bitmap_bytes = 0;
}

static void proc_path(char buf[PROC_PATH_MAX], int pid, const char *name)
{
	snprintf(buf, PROC_PATH_MAX, "/proc/%d/%s", pid, name);
}

/* The state letter of /proc/PID/stat (R, S, D, T, t, Z, X...), 0 when there is no such process. */
static char proc_state(int pid)
{
	char path[PROC_PATH_MAX], buf[512];
	proc_path(path, pid, "stat");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: the state follows the last ')'. */
	const char *p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || !p[2])
		return 0;
	return p[2];
}

static bool process_gone(int pid)
{
	char st = proc_state(pid);
	return st == 0 || st == 'Z' || st == 'X';
}

/* An error for a failed access to /proc/PID/what, in the user's words. */
static struct gomem_error *proc_error(int pid, const char *what, int e)
{
	if (e == ENOENT || e == ESRCH) {
		if (proc_state(pid) == 0)
			return gm_error(GOMEM_ERROR_IO, "no process with pid %d", pid);
		return gm_error(GOMEM_ERROR_IO, "process %d exited while gomem was reading it",
				pid);
	}
	if (e == EACCES || e == EPERM)
		return gm_error(GOMEM_ERROR_IO,
				"process %d: permission denied (%s): run gomem as the process's "
				"user or as root, and check the ptrace policy "
				"(kernel.yama.ptrace_scope)",
				pid, what);
	return gm_error_errno(GOMEM_ERROR_IO, e, "process %d: %s", pid, what);
}

static struct gomem_error *check_pid(int pid)
{
	if (pid <= 0)
		return gm_error(GOMEM_ERROR_USAGE, "bad pid %d", pid);
	char st = proc_state(pid);
	if (st == 0)
		return gm_error(GOMEM_ERROR_IO, "no process with pid %d", pid);
	if (st == 'Z' || st == 'X')
		return gm_error(GOMEM_ERROR_IO, "process %d has exited (it is a zombie)", pid);
	return NULL;
}

/* Reads a whole /proc file (at most MAX_PROC_FILE_BYTES) into a NUL-terminated buffer. */
static struct gomem_error *read_proc_file(int pid, const char *name, char **ret, size_t *len_ret)
{
	char path[PROC_PATH_MAX];
	proc_path(path, pid, name);
	/* The tests make a file vanish as it does when the process exits meanwhile. */
	int fd = gm_fault_injected("proc file", name) ? (errno = ENOENT, -1)
						      : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return proc_error(pid, path, errno);
	struct gm_strbuf b = {0};
	struct gomem_error *err = NULL;
	while (!err) {
		if (b.len + 1 >= b.cap) {
			if (b.cap >= MAX_PROC_FILE_BYTES) {
				err =
				    gm_error(GOMEM_ERROR_IO, "process %d: %s is larger than %u MiB",
					     pid, path, MAX_PROC_FILE_BYTES >> 20);
				break;
			}
			if (!gm_strbuf_reserve(&b, b.cap ? b.cap : 64 << 10)) {
				err = &gm_error_no_memory;
				break;
			}
		}
		ssize_t n = read(fd, b.s + b.len, b.cap - 1 - b.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			err = proc_error(pid, path, errno);
		else if (n == 0)
			break;
		else
			b.len += (size_t)n;
	}
	close(fd);
	if (err) {
		gm_strbuf_deinit(&b);
		return err;
	}
	b.s[b.len] = '\0';
	if (len_ret)
		*len_ret = b.len;
	*ret = b.s;
	return NULL;
}

/* ---- stopping and resuming ---- */

static struct live_thread *find_thread(struct gm_live *l, pid_t tid)
{
	for (size_t i = 0; i < l->nthreads; i++) {
		if (l->threads[i].tid == tid)
			return &l->threads[i];
	}
	return NULL;
}

/* The tracer of a thread (TracerPid in its status), 0 when none or unknown. */
static long tracer_of(int pid, pid_t tid)
{
	char path[PROC_PATH_MAX + 32], *text;
	snprintf(path, sizeof(path), "task/%d/status", (int)tid);
	struct gomem_error *err = read_proc_file(pid, path, &text, NULL);
	if (err) {
		gomem_error_destroy(err);
		return 0;
	}
	const char *p = strstr(text, "\nTracerPid:");
	long tracer = p ? strtol(p + strlen("\nTracerPid:"), NULL, 10) : 0;
	free(text);
	return tracer;
}

static void sleep_us(long us);

static struct gomem_error *seize_error(int pid, pid_t tid, int e)
{
	long tracer = e == EPERM ? tracer_of(pid, tid) : 0;
	/*
	 * A process being killed refuses PTRACE_SEIZE (EPERM) before it is a
	 * zombie: give it a moment to finish dying, so the error says what
	 * happened (at most 200 ms, only on this error path).
	 */
	for (int i = 0; e == EPERM && tracer <= 0 && i < 20 && !process_gone(pid); i++)
		sleep_us(10000);
	if (process_gone(pid))
		return gm_error(GOMEM_ERROR_IO, "process %d exited while gomem was reading it",
				pid);
	if (tracer > 0)
		return gm_error(GOMEM_ERROR_IO,
				"process %d is traced by process %ld (a debugger?): read it with "
				"--no-stop, or with gomem inside that debugger",
				pid, tracer);
	return proc_error(pid, "ptrace seize", e);
}

/* Seizes and interrupts each thread of /proc/PID/task not seized yet; *new_ret counts them. */
static struct gomem_error *seize_new_threads(struct gm_live *l, size_t *new_ret)
{
	char path[PROC_PATH_MAX];
	proc_path(path, l->pid, "task");
	DIR *dir = opendir(path);
	if (!dir)
		return proc_error(l->pid, path, errno);
	struct gomem_error *err = NULL;
	size_t added = 0;
	struct dirent *de;
	while (!err && (de = readdir(dir))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (*end || tid <= 0 || find_thread(l, (pid_t)tid))
			continue;
		if (l->nthreads == MAX_THREADS) {
			err = gm_error(GOMEM_ERROR_UNSUPPORTED,
				       "process %d has more than %u threads", l->pid, MAX_THREADS);
			break;
		}
		if (ptrace(PTRACE_SEIZE, (pid_t)tid, NULL, NULL) < 0) {
			if (errno == ESRCH)
				continue; /* the thread exited meanwhile */
			err = seize_error(l->pid, (pid_t)tid, errno);
			break;
		}
		struct live_thread *t = grow_threads(&l->threads, &l->nthreads, &l->cap_threads);
		if (!t) {
			ptrace(PTRACE_DETACH, (pid_t)tid, NULL, NULL);
			err = &gm_error_no_memory;
			break;
		}
		*t = (struct live_thread){.tid = (pid_t)tid};
		added++;
		if (ptrace(PTRACE_INTERRUPT, (pid_t)tid, NULL, NULL) < 0 && errno != ESRCH)
			err = proc_error(l->pid, "ptrace interrupt", errno);
	}
	closedir(dir);
	if (!err)
		*new_ret = added;
	return err;
}

static void sleep_us(long us)
{
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Waits (bounded) until every seized thread is in a ptrace stop or gone. */
static struct gomem_error *wait_stopped(struct gm_live *l)
{
	/* Polled every 50 us: the process stands still while this waits. */
	for (long waited_us = 0;; waited_us += 50) {
		size_t pending = 0;
		for (size_t i = 0; i < l->nthreads; i++) {
			struct live_thread *t = &l->threads[i];
			if (t->stopped || t->gone)
				continue;
			int status;
			pid_t r = waitpid(t->tid, &status, __WALL | WNOHANG);
			if (r == 0 || (r < 0 && errno == EINTR)) {
				pending++;
				continue;
			}
			if (r < 0 || WIFEXITED(status) || WIFSIGNALED(status)) {
				t->gone = true;
				continue;
			}
			if (WIFSTOPPED(status)) {
				t->stopped = true;
				/*
				 * A signal-delivery stop (no event) came first: the signal
				 * is handed back on detach. PTRACE_EVENT_STOP is our
				 * interrupt or a group stop, which the kernel restores.
				 */
				if ((status >> 16) == 0)
					t->resume_signal = WSTOPSIG(status);
			}
		}
		if (!pending)
			return NULL;
		if (waited_us >= STOP_TIMEOUT_MS * 1000L)
			return gm_error(GOMEM_ERROR_IO,
					"process %d: %zu threads did not stop within %d s "
					"(uninterruptible sleep?); try --no-stop",
					l->pid, pending, STOP_TIMEOUT_MS / 1000);
		sleep_us(50);
	}
}

static struct gomem_error *stop_process(struct gm_live *l)
{
	/* Threads may be created while we seize the others: repeat until none is new. */
	for (int round = 0; round < MAX_SEIZE_ROUNDS; round++) {
		size_t added = 0;
		struct gomem_error *err = seize_new_threads(l, &added);
		if (!err)
			err = wait_stopped(l);
		if (err)
			return err;
		if (!added)
			break;
		if (round == MAX_SEIZE_ROUNDS - 1)
			return gm_error(GOMEM_ERROR_IO,
					"process %d kept creating threads while gomem stopped it",
					l->pid);
	}
	struct live_thread *leader = find_thread(l, l->pid);
	if (!leader || leader->gone || process_gone(l->pid))
		return gm_error(GOMEM_ERROR_IO, "process %d exited while gomem was stopping it",
				l->pid);
	return NULL;
}

static void resume_process(struct gm_live *l)
{
	for (size_t i = 0; i < l->nthreads; i++) {
		struct live_thread *t = &l->threads[i];
		/* A thread not yet stopped cannot be detached: our exit detaches it. */
		if (t->stopped)
			ptrace(PTRACE_DETACH, t->tid, NULL, (void *)(long)t->resume_signal);
	}
	free(l->threads);
	l->threads = NULL;
	l->nthreads = l->cap_threads = 0;
}

/* ---- registers ---- */

/*
 * One stopped thread's registers: pr_reg by PTRACE_GETREGSET with
 * NT_PRSTATUS (the layout of a core's NT_PRSTATUS, on every architecture),
 * and the thread pointer's own regset where it has one (NT_ARM_TLS).
 */
static bool read_thread_regs(pid_t tid, const struct gm_arch *arch, struct gm_core_thread *ret)
{
	uint64_t buf[GM_MAX_REGS];
	struct iovec iov = {buf, sizeof(buf)};
	*ret = (struct gm_core_thread){.tid = (uint64_t)tid};
	if (ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)NT_PRSTATUS, &iov) < 0)
		return false;
	gm_regs_decode(arch, (const uint8_t *)buf, iov.iov_len, &ret->regs);
	if (arch->tp_note) {
		uint64_t tls[2];
		struct iovec tiov = {tls, sizeof(tls)};
		if (ptrace(PTRACE_GETREGSET, tid, (void *)(uintptr_t)arch->tp_note, &tiov) == 0)
			gm_regs_set_tp_note(&ret->regs, (const uint8_t *)tls, tiov.iov_len);
	}
	gm_regs_sp(&ret->regs, &ret->sp);
	ret->tp = ret->regs.has_tp ? ret->regs.tp : 0;
	return true;
}

GM_DEFINE_GROW(grow_regs, struct gm_core_thread)

static void add_registers(struct gm_live *l, const struct gm_arch *arch, pid_t tid, size_t *cap)
{
	struct gm_core_thread th, *slot;
	/* Out of memory: fewer threads are known, nothing else. */
	if (read_thread_regs(tid, arch, &th) && (slot = grow_regs(&l->regs, &l->nregs, cap)))
		*slot = th;
}

/*
 * Reads every stopped thread's registers once, while the process stands
 * still, the thread group leader first as in a core: gomem's own stopped
 * threads, or (by_caller) each thread of /proc/PID/task, which only the
 * debugger that stopped them can read (its ptrace calls come from the
 * thread this one runs on). A thread that cannot be read is left out.
 */
static void read_registers(struct gm_live *l, bool by_caller)
{
	const struct gm_arch *arch = gm_arch_host();
	size_t cap = 0;
	if (!arch)
		return;
	if (!by_caller) {
		struct live_thread *leader = find_thread(l, l->pid);
		if (leader && leader->stopped)
			add_registers(l, arch, leader->tid, &cap);
		for (size_t i = 0; i < l->nthreads && l->nregs < MAX_THREADS; i++) {
			struct live_thread *t = &l->threads[i];
			if (t != leader && t->stopped)
				add_registers(l, arch, t->tid, &cap);
		}
		return;
	}
	add_registers(l, arch, l->pid, &cap);
	char path[PROC_PATH_MAX];
	proc_path(path, l->pid, "task");
	DIR *dir = opendir(path);
	struct dirent *de;
	while (dir && l->nregs < MAX_THREADS && (de = readdir(dir))) {
		char *end;
		long tid = strtol(de->d_name, &end, 10);
		if (!*end && tid > 0 && tid != l->pid)
			add_registers(l, arch, (pid_t)tid, &cap);
	}
	if (dir)
		closedir(dir);
}

void gm_live_threads(const struct gm_live *l, const struct gm_core_thread **ret, size_t *n_ret)
{
	*ret = l->regs;
	*n_ret = l->nregs;
}

/* ---- the stop ---- */

static uint64_t ns_since(const struct timespec *t0)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t ns =
	    (int64_t)(now.tv_sec - t0->tv_sec) * 1000000000LL + (now.tv_nsec - t0->tv_nsec);
	return ns > 0 ? (uint64_t)ns : 0;
}

struct gomem_error *gm_live_stop(struct gm_live *l)
{
	if (!l->stop_wanted || l->stopped)
		return NULL;
	/* A new run: the last one's copy goes (a buffer prepared for this one stays). */
	if (l->snap_active)
		snap_drop(l);
	l->snap_taken = false;
	l->snap_bytes = 0;
	clock_gettime(CLOCK_MONOTONIC, &l->stop_start);
	l->stopped = true;
	l->nstops++;
	free(l->regs);
	l->regs = NULL;
	l->nregs = 0;
	TRY(stop_process(l));
	read_registers(l, false);
	/* The maps as they are now: the process may have mapped more since it was opened. */
	return load_ranges(l);
}

static void drop_cache(struct gm_live *l)
{
	gm_u64map_deinit(&l->cache_index);
	memset(&l->cache_index, 0, sizeof(l->cache_index));
	free(l->cache);
	l->cache = NULL;
	l->ncache = 0;
}

void gm_live_resume(struct gm_live *l)
{
	if (!l->stopped)
		return;
	resume_process(l);
	l->stopped = false;
	l->pause_ns += ns_since(&l->stop_start);
	drop_cache(l);
}

bool gm_live_pause(const struct gm_live *l, uint64_t *ns_ret, unsigned *stops_ret)
{
	*ns_ret = l->pause_ns;
	*stops_ret = l->nstops;
	return l->stop_wanted;
}

bool gm_live_maps_unchanged(const struct gm_live *l, const struct gm_mapping *m, size_t n)
{
	if (n != l->nranges)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct gm_mapping *a = &m[i], *b = &l->ranges[i];
		if (a->start != b->start || a->end != b->end || a->flags != b->flags ||
		    a->offset != b->offset || a->share != b->share ||
		    strcmp(a->path ? a->path : "", b->path ? b->path : "") != 0)
			return false;
	}
	return true;
}

bool gm_live_stopped(const struct gm_live *l)
{
	return l->stopped;
}

/* ---- opening and closing ---- */

static struct gm_live *live_alloc(int pid)
{
	struct gm_live *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->pid = pid;
	l->page_size = 4096;
	l->mem_fd = -1;
	l->pagemap_fd = -1;
	return l;
}

struct gomem_error *gm_live_create_pid(int pid, unsigned flags, struct gm_live **ret)
{
	struct gomem_error *err = check_pid(pid);
	if (err)
		return err;
	struct gm_live *l = live_alloc(pid);
	if (!l)
		return &gm_error_no_memory;
	char path[PROC_PATH_MAX];
	proc_path(path, pid, "mem");
	l->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (l->mem_fd < 0)
		err = proc_error(pid, path, errno);
	/* GOMEM_PID_STOP: not yet; gm_live_stop() when everything else is ready. */
	l->stop_wanted = flags & GOMEM_PID_STOP;
	if (!err && (flags & GOMEM_PID_STOPPED_BY_CALLER))
		read_registers(l, true);
	if (!err)
		err = load_ranges(l);
	if (err) {
		gm_live_destroy(l);
		return err;
	}
	/* Without it only residency is unknown. */
	proc_path(path, pid, "pagemap");
	l->pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	*ret = l;
	return NULL;
}

struct gomem_error *gm_live_create_callback(int pid, const char *maps, gomem_read_fn fn, void *arg,
					    struct gm_live **ret)
{
	if (!fn)
		return gm_error(GOMEM_ERROR_USAGE, "a read callback is needed");
	struct gm_live *l = live_alloc(pid);
	if (!l)
		return &gm_error_no_memory;
	l->cb = fn;
	l->cb_arg = arg;
	if (maps) {
		l->maps = strdup(maps);
		if (!l->maps) {
			gm_live_destroy(l);
			return &gm_error_no_memory;
		}
	}
	*ret = l;
	return NULL;
}

void gm_live_destroy(struct gm_live *l)
{
	if (!l)
		return;
	gm_live_resume(l);
	resume_process(l);
	drop_cache(l);
	snap_drop(l);
	if (l->mem_fd >= 0)
		close(l->mem_fd);
	if (l->pagemap_fd >= 0)
		close(l->pagemap_fd);
	free(l->maps);
	free(l->regs);
	free_rss(l);
	free_mappings(l->ranges, l->nranges);
	free(l);
}

/* ---- memory ---- */

/* Whether /proc/PID/maps maps addr: 1 yes, 0 no, -1 no maps at all (the process is exiting). */
static int addr_mapped(int pid, uint64_t addr)
{
	char *text;
	struct gomem_error *err = read_proc_file(pid, "maps", &text, NULL);
	if (err) {
		gomem_error_destroy(err);
		return -1;
	}
	int found = text[0] ? 0 : -1;
	for (char *line = text, *next; found == 0 && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct gm_mapping m;
		const char *path;
		if (parse_maps_line(line, &m, &path) && m.start <= addr && addr < m.end)
			found = 1;
	}
	free(text);
	return found;
}

/*
 * A read that failed. A process being killed loses its memory before it
 * becomes a zombie: when the address is still mapped (or nothing is), give
 * it a moment to finish dying, so the error says what happened.
 */
static struct gomem_error *read_fault(struct gm_live *l, uint64_t addr, int e)
{
	if (!process_gone(l->pid) && addr_mapped(l->pid, addr) != 0) {
		for (int i = 0; i < 100 && !process_gone(l->pid); i++)
			sleep_us(10000);
	}
	if (process_gone(l->pid))
		return gm_error(GOMEM_ERROR_IO, "process %d exited while gomem was reading it",
				l->pid);
	if (e == EIO || e == EFAULT || e == 0)
		return gm_error(GOMEM_ERROR_FAULT, "cannot read 0x%llx: not mapped in process %d",
				(unsigned long long)addr, l->pid);
	return gm_error_errno(GOMEM_ERROR_FAULT, e, "cannot read 0x%llx of process %d",
			      (unsigned long long)addr, l->pid);
}

/* /proc/PID/maps, parsed and sorted. */
static struct gomem_error *read_maps(int pid, struct gm_mapping **ret, size_t *n_ret)
{
	char *text, what[PROC_PATH_MAX];
	proc_path(what, pid, "maps");
	TRY(read_proc_file(pid, "maps", &text, NULL));
	struct gomem_error *err = parse_maps(what, text, ret, n_ret);
	free(text);
	return err;
}

static struct gomem_error *load_ranges(struct gm_live *l)
{
	struct gm_mapping *m;
	size_t n;
	TRY(read_maps(l->pid, &m, &n));
	free_mappings(l->ranges, l->nranges);
	l->ranges = m;
	l->nranges = n;
	return NULL;
}

static const struct gm_mapping *find_range(const struct gm_live *l, uint64_t addr)
{
	return GM_FIND_RANGE(l->ranges, l->nranges, start, end, addr);
}

/*
 * The readable mapping that holds addr. /proc/PID/mem reads with FOLL_FORCE,
 * so it would return zeros from a PROT_NONE reservation (and map the zero
 * page there) where the process itself, or a core, faults: refuse those.
 * A miss re-reads the maps once, for a process that runs (--no-stop).
 */
static struct gomem_error *readable_range(struct gm_live *l, uint64_t addr,
					  const struct gm_mapping **ret)
{
	const struct gm_mapping *r = find_range(l, addr);
	if (!r) {
		struct gomem_error *err = load_ranges(l);
		if (err) {
			gomem_error_destroy(err);
			return read_fault(l, addr, EIO);
		}
		r = find_range(l, addr);
	}
	if (!r)
		return read_fault(l, addr, EIO);
	if (!(r->flags & PF_R))
		return gm_error(GOMEM_ERROR_FAULT,
				"cannot read 0x%llx: in a mapping of process %d without read "
				"permission (a reservation)",
				(unsigned long long)addr, l->pid);
	*ret = r;
	return NULL;
}

/* The cached copy of the page at page (CACHE_PAGE-aligned, in range r), or NULL. */
static const uint8_t *cached_page(struct gm_live *l, uint64_t page, const struct gm_mapping *r)
{
	uint64_t slot = gm_u64map_get(&l->cache_index, page);
	if (slot)
		return l->cache + (slot - 1) * CACHE_PAGE;
	if (page < r->start || page + CACHE_PAGE > r->end || page > (uint64_t)INT64_MAX)
		return NULL;
	if (!l->cache && !(l->cache = malloc((size_t)CACHE_MAX_PAGES * CACHE_PAGE)))
		return NULL;
	if (l->ncache == CACHE_MAX_PAGES)
		return NULL;
	uint8_t *p = l->cache + l->ncache * CACHE_PAGE;
	ssize_t n;
	do
		n = pread(l->mem_fd, p, CACHE_PAGE, (off_t)page);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)CACHE_PAGE || !gm_u64map_put(&l->cache_index, page, l->ncache + 1))
		return NULL;
	l->ncache++;
	return p;
}

/* A read of a stopped process through its page cache; false: read it directly. */
static bool read_cached(struct gm_live *l, uint64_t addr, uint8_t *out, size_t len)
{
	while (len) {
		const struct gm_mapping *r = NULL;
		struct gomem_error *err = readable_range(l, addr, &r);
		if (err) {
			gomem_error_destroy(err);
			return false;
		}
		uint64_t page = addr & ~(uint64_t)(CACHE_PAGE - 1), off = addr - page;
		const uint8_t *p = cached_page(l, page, r);
		if (!p)
			return false;
		size_t n = CACHE_PAGE - off < len ? (size_t)(CACHE_PAGE - off) : len;
		memcpy(out, p + off, n);
		out += n;
		addr += n;
		len -= n;
	}
	return true;
}

struct gomem_error *gm_live_read(void *arg, uint64_t addr, void *buf, size_t len)
{
	struct gm_live *l = arg;
	if (l->snap_active)
		return snap_read(l, addr, buf, len);
	/* Small reads only: a large one is one pread anyway. */
	if (l->stopped && !l->cb && len <= 4 * CACHE_PAGE && read_cached(l, addr, buf, len))
		return NULL;
	if (l->cb) {
		if (l->cb(l->cb_arg, addr, buf, len) != 0)
			return gm_error(GOMEM_ERROR_FAULT, "cannot read 0x%llx: not readable in %s",
					(unsigned long long)addr,
					l->pid > 0 ? "the debugger's target" : "the target");
		return NULL;
	}
	uint8_t *out = buf;
	while (len) {
		/* pread takes a signed offset: user addresses are far below 2^63. */
		if (addr > (uint64_t)INT64_MAX - len)
			return read_fault(l, addr, EIO);
		const struct gm_mapping *r = NULL;
		struct gomem_error *err = readable_range(l, addr, &r);
		if (err)
			return err;
		size_t want = r->end - addr < len ? (size_t)(r->end - addr) : len;
		ssize_t n = pread(l->mem_fd, out, want, (off_t)addr);
		if (n < 0 && errno == EINTR)
			continue;
		/* 0: the process's memory is gone (it exited); < 0: an unreadable page. */
		if (n <= 0)
			return read_fault(l, addr, n < 0 ? errno : 0);
		out += n;
		addr += (uint64_t)n;
		len -= (size_t)n;
	}
	return NULL;
}

/* ---- the snapshot ---- */

/*
 * What the object graph reads, copied while the process stands still, so
 * that it can go on while gomem analyses. The copy holds every page of
 * every private readable mapping that pagemap says is in memory or swapped
 * out, read with large process_vm_readv calls. The rest of such a mapping
 * reads as the process itself would read it: zeros where an anonymous page
 * was never touched, the file where a page of a file was never brought in
 * (nor written: a private page once written is anonymous, so in memory or
 * in swap, so copied). Shared mappings (MAP_SHARED: files, never the Go
 * heap) are not copied, and a read of one fails. So a read served by the
 * snapshot never goes to the process, and what it returns is what the
 * process held when it was stopped.
 */
#define SNAP_PAGEMAP_BATCH 8192u	/* pagemap entries per pread while planning */
#define SNAP_IOV	   1024u	/* ranges per process_vm_readv (IOV_MAX) */
#define SNAP_MAX_SCAN	   (1ULL << 26) /* pages of readable private mappings planned */
#define PM_SWAPPED	   (1ULL << 62)

enum snap_kind { SNAP_COPY, SNAP_ZERO, SNAP_FILE };

struct snap_extent {
	uint64_t start, end;
	uint64_t at;   /* SNAP_COPY: offset in snap_buf; SNAP_FILE: offset in the file */
	uint32_t kind; /* enum snap_kind */
	uint32_t file; /* SNAP_FILE: index in snap_files */
};

/* A file some private mapping maps: read where the process never brought a page of it in. */
struct snap_file {
	char *path;
	uint64_t start, end; /* the mapping, for /proc/PID/map_files */
	uint64_t dev, ino;   /* as /proc/PID/maps shows them: the file opened must be that one */
	int fd;		     /* -1 until opened */
	bool failed;
};

struct snap_hole {
	uint64_t start, end; /* pages of a copied range that could not be read */
};

GM_DEFINE_GROW(grow_snap, struct snap_extent)
GM_DEFINE_GROW(grow_snap_file, struct snap_file)
GM_DEFINE_GROW(grow_snap_hole, struct snap_hole)

/* Forgets the plan: its extents, files and holes (not the buffer). */
static void snap_drop_plan(struct gm_live *l)
{
	for (size_t i = 0; i < l->nsnap_files; i++) {
		free(l->snap_files[i].path);
		if (l->snap_files[i].fd >= 0)
			close(l->snap_files[i].fd);
	}
	free(l->snap_files);
	free(l->snap);
	free(l->snap_holes);
	l->snap_files = NULL;
	l->snap = NULL;
	l->snap_holes = NULL;
	l->nsnap_files = l->cap_snap_files = l->nsnap = l->cap_snap = 0;
	l->nsnap_holes = l->cap_snap_holes = 0;
	l->snap_active = false;
}

static void snap_drop(struct gm_live *l)
{
	snap_drop_plan(l);
	if (l->snap_buf)
		munmap(l->snap_buf, l->snap_buf_bytes);
	l->snap_buf = NULL;
	l->snap_buf_bytes = 0;
}

/*
 * A buffer of at least bytes for the copy: the prepared one when it is
 * large enough. prefault: touch every page now (huge pages where the kernel
 * gives them), so that the copy made while the process stands still takes
 * no page fault.
 */
static struct gomem_error *snap_buffer(struct gm_live *l, uint64_t bytes, bool prefault)
{
	if (l->snap_buf && l->snap_buf_bytes >= bytes)
		return NULL;
	if (l->snap_buf)
		munmap(l->snap_buf, l->snap_buf_bytes);
	l->snap_buf = NULL;
	l->snap_buf_bytes = 0;
	if (!bytes || bytes > SIZE_MAX)
		return bytes ? &gm_error_no_memory : NULL;
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return gm_error(GOMEM_ERROR_NO_MEMORY,
				"process %d: cannot allocate %llu bytes for its copy", l->pid,
				(unsigned long long)bytes);
	madvise(p, bytes, MADV_HUGEPAGE);
	if (prefault) {
		for (uint64_t off = 0; off < bytes; off += CACHE_PAGE)
			((volatile uint8_t *)p)[off] = 0;
	}
	l->snap_buf = p;
	l->snap_buf_bytes = bytes;
	return NULL;
}

/* Appends [start, end) of kind, merged with the last extent where it continues it. */
static bool snap_add(struct gm_live *l, uint64_t start, uint64_t end, enum snap_kind kind,
		     uint64_t at, uint32_t file)
{
	struct snap_extent *last = l->nsnap ? &l->snap[l->nsnap - 1] : NULL;
	if (last && last->end == start && last->kind == (uint32_t)kind &&
	    (kind == SNAP_ZERO || (last->at + (last->end - last->start) == at &&
				   (kind == SNAP_COPY || last->file == file)))) {
		last->end = end;
		return true;
	}
	struct snap_extent *e = grow_snap(&l->snap, &l->nsnap, &l->cap_snap);
	if (!e)
		return false;
	*e = (struct snap_extent){start, end, at, (uint32_t)kind, file};
	return true;
}

/* One line of /proc/PID/maps with the device and inode of its file. */
struct snap_map {
	uint64_t start, end, offset, dev, ino;
	bool readable, private_;
	const char *path; /* NULL, "[heap]"-style names, or a file's path */
};

static bool parse_snap_map(char *line, struct snap_map *m)
{
	unsigned long long start, end, off, ino;
	unsigned maj, min;
	char perms[5];
	int n = 0;
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, perms, &off, &maj, &min,
		   &ino, &n) < 7 ||
	    end < start || strlen(perms) != 4)
		return false;
	const char *path = n > 0 ? line + n : "";
	*m = (struct snap_map){.start = start,
			       .end = end,
			       .offset = off,
			       .dev = makedev(maj, min),
			       .ino = ino,
			       .readable = perms[0] == 'r',
			       .private_ = perms[3] == 'p',
			       .path = *path ? path : NULL};
	return true;
}

/* The pages of one mapping, by kind, appended to the plan; *bytes grows by those to copy. */
static struct gomem_error *snap_plan_mapping(struct gm_live *l, const struct snap_map *m,
					     uint64_t *pm, uint64_t *bytes, uint64_t *scanned)
{
	const uint64_t psz = l->page_size;
	/* A file's path (not "[stack]", "[vdso]"...): its pages not in memory are the file's. */
	bool file = m->path && m->path[0] == '/' && m->ino;
	uint32_t fidx = 0;
	if (file) {
		struct snap_file *f =
		    grow_snap_file(&l->snap_files, &l->nsnap_files, &l->cap_snap_files);
		if (!f)
			return &gm_error_no_memory;
		*f = (struct snap_file){.path = strdup(m->path),
					.start = m->start,
					.end = m->end,
					.dev = m->dev,
					.ino = m->ino,
					.fd = -1};
		if (!f->path)
			return &gm_error_no_memory;
		fidx = (uint32_t)(l->nsnap_files - 1);
	}
	uint64_t first = m->start / psz, pages = (m->end - m->start) / psz;
	if (pages > SNAP_MAX_SCAN - *scanned)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"process %d maps more than %llu GiB of readable private memory: "
				"too much to plan a copy of; read it with --no-stop",
				l->pid, (unsigned long long)((SNAP_MAX_SCAN * psz) >> 30));
	*scanned += pages;
	for (uint64_t i = 0; i < pages;) {
		uint64_t want = pages - i < SNAP_PAGEMAP_BATCH ? pages - i : SNAP_PAGEMAP_BATCH;
		ssize_t got = -1;
		if (l->pagemap_fd >= 0) {
			do
				got = pread(l->pagemap_fd, pm, want * 8, (off_t)((first + i) * 8));
			while (got < 0 && errno == EINTR);
		}
		/* Without pagemap (or past its end) every page is copied. */
		uint64_t have = got > 0 ? (uint64_t)got / 8 : 0;
		for (uint64_t k = 0; k < want; k++) {
			uint64_t a = m->start + (i + k) * psz;
			bool in = k >= have || (pm[k] & (PM_PRESENT | PM_SWAPPED));
			enum snap_kind kind = in ? SNAP_COPY : file ? SNAP_FILE : SNAP_ZERO;
			uint64_t at = kind == SNAP_COPY ? *bytes : m->offset + (a - m->start);
			if (!snap_add(l, a, a + psz, kind, at, fidx))
				return &gm_error_no_memory;
			if (in)
				*bytes += psz;
		}
		i += want;
	}
	return NULL;
}

/* The plan: every private readable mapping's pages by kind; *bytes_ret those to copy. */
static struct gomem_error *snap_plan(struct gm_live *l, uint64_t *bytes_ret)
{
	char *text;
	TRY(read_proc_file(l->pid, "maps", &text, NULL));
	uint64_t *pm = malloc(SNAP_PAGEMAP_BATCH * sizeof(*pm));
	struct gomem_error *err = pm ? NULL : &gm_error_no_memory;
	uint64_t bytes = 0, scanned = 0;
	for (char *line = text, *next; !err && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct snap_map m;
		if (!parse_snap_map(line, &m))
			err = gm_error(GOMEM_ERROR_FORMAT, "/proc/%d/maps: cannot parse \"%.60s\"",
				       l->pid, line);
		else if (m.readable && m.private_ && m.end > m.start &&
			 m.start % l->page_size == 0 && m.end % l->page_size == 0)
			err = snap_plan_mapping(l, &m, pm, &bytes, &scanned);
	}
	free(pm);
	free(text);
	if (!err)
		*bytes_ret = bytes;
	return err;
}

/* Records [start, end) as unreadable (it is zeros in the copy). Holes come in address order. */
static bool snap_hole(struct gm_live *l, uint64_t start, uint64_t end)
{
	struct snap_hole *last = l->nsnap_holes ? &l->snap_holes[l->nsnap_holes - 1] : NULL;
	if (last && last->end == start) {
		last->end = end;
		return true;
	}
	struct snap_hole *h = grow_snap_hole(&l->snap_holes, &l->nsnap_holes, &l->cap_snap_holes);
	if (!h)
		return false;
	*h = (struct snap_hole){start, end};
	return true;
}

/*
 * Copies [addr, end) of the process to out where process_vm_readv stopped
 * (or cannot be used): through /proc/PID/mem, at once, then a page at a
 * time where that fails; a page that cannot be read becomes a hole.
 */
static struct gomem_error *snap_copy_slowly(struct gm_live *l, uint64_t addr, uint64_t end,
					    uint8_t *out)
{
	const uint64_t psz = l->page_size;
	while (addr < end) {
		ssize_t got;
		do
			got = pread(l->mem_fd, out, end - addr, (off_t)addr);
		while (got < 0 && errno == EINTR);
		if (got > 0) {
			addr += (uint64_t)got;
			out += got;
			continue;
		}
		/* 0: the process's memory is gone (it is exiting). */
		if (got == 0 || process_gone(l->pid))
			return gm_error(GOMEM_ERROR_IO,
					"process %d exited while gomem was copying it", l->pid);
		uint64_t n = psz - addr % psz < end - addr ? psz - addr % psz : end - addr;
		do
			got = pread(l->mem_fd, out, n, (off_t)addr);
		while (got < 0 && errno == EINTR);
		if (got != (ssize_t)n) {
			memset(out, 0, n);
			if (!snap_hole(l, addr, addr + n))
				return &gm_error_no_memory;
		}
		addr += n;
		out += n;
	}
	return NULL;
}

/* Copies every SNAP_COPY extent into snap_buf, SNAP_IOV ranges per call. */
static struct gomem_error *snap_copy(struct gm_live *l)
{
	struct iovec remote[SNAP_IOV];
	size_t index[SNAP_IOV];
	size_t i = 0;
	while (i < l->nsnap) {
		size_t n = 0;
		uint64_t want = 0, at0 = 0;
		for (; i < l->nsnap && n < SNAP_IOV; i++) {
			const struct snap_extent *e = &l->snap[i];
			if (e->kind != SNAP_COPY)
				continue;
			if (!n)
				at0 = e->at;
			remote[n] = (struct iovec){(void *)(uintptr_t)e->start, e->end - e->start};
			index[n++] = i;
			want += e->end - e->start;
		}
		if (!n)
			break;
		struct iovec local = {l->snap_buf + at0, want};
		ssize_t got = process_vm_readv(l->pid, &local, 1, remote, n, 0);
		if (got == (ssize_t)want)
			continue;
		if (got < 0 && errno == ESRCH)
			return gm_error(GOMEM_ERROR_IO,
					"process %d exited while gomem was copying it", l->pid);
		/* Where it stopped: the rest of that range page by page, then on from the next. */
		uint64_t done = got > 0 ? (uint64_t)got : 0;
		size_t k = 0;
		while (k < n && done >= remote[k].iov_len)
			done -= remote[k++].iov_len;
		const struct snap_extent *e = &l->snap[index[k]];
		TRY(snap_copy_slowly(l, e->start + done, e->end, l->snap_buf + e->at + done));
		i = index[k] + 1;
	}
	return NULL;
}

/* The default limit of a copy: half of what the machine has available, 0 when unknown. */
static uint64_t half_available(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	unsigned long long kb = 0;
	char line[128];
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	}
	if (f)
		fclose(f);
	return (uint64_t)kb << 9;
}

static struct gomem_error *snap_too_large(struct gm_live *l, uint64_t bytes)
{
	char h1[32], h2[32];
	uint64_t limit = l->max_snapshot ? l->max_snapshot : half_available();
	if (bytes <= limit)
		return NULL;
	return gm_error(GOMEM_ERROR_UNSUPPORTED,
			"process %d: the object graph needs a copy of %s of its memory, more "
			"than %s allows (%s); raise it with --max-snapshot BYTES, or read the "
			"process while it runs with --no-stop",
			l->pid, gm_human_bytes(bytes, h1),
			l->max_snapshot ? "--max-snapshot" : "half of the available memory",
			gm_human_bytes(limit, h2));
}

void gm_live_set_max_snapshot(struct gm_live *l, uint64_t bytes)
{
	l->max_snapshot = bytes;
}

/*
 * The size of the copy, planned while the process runs (the plan made once
 * it is stopped is the one used), checked against the limit, and a buffer of
 * that size with a margin made ready: the pause is then the copy alone.
 */
struct gomem_error *gm_live_prepare_snapshot(struct gm_live *l)
{
	if (!l->stop_wanted || l->stopped || l->cb)
		return NULL;
	uint64_t bytes = 0;
	struct gomem_error *err = snap_plan(l, &bytes);
	snap_drop_plan(l);
	if (!err)
		err = snap_too_large(l, bytes);
	/* A margin for what the process maps between now and the stop. */
	if (!err)
		err = snap_buffer(l, bytes + bytes / 16 + (4u << 20), true);
	return err;
}

struct gomem_error *gm_live_snapshot(struct gm_live *l)
{
	if (!l->stopped || l->cb || l->snap_active)
		return NULL;
	uint64_t bytes = 0;
	struct gomem_error *err = snap_plan(l, &bytes);
	if (!err)
		err = snap_too_large(l, bytes);
	if (!err)
		err = snap_buffer(l, bytes, false);
	if (!err)
		err = snap_copy(l);
	if (err) {
		snap_drop(l);
		return err;
	}
	drop_cache(l);
	l->snap_active = l->snap_taken = true;
	l->snap_bytes = bytes;
	gm_live_resume(l); /* the process goes on; every read from here is the copy's */
	return NULL;
}

void gm_live_end_snapshot(struct gm_live *l)
{
	snap_drop(l);
}

bool gm_live_snapshot_taken(const struct gm_live *l, uint64_t *bytes_ret)
{
	*bytes_ret = l->snap_bytes;
	return l->snap_taken;
}

/* A read the snapshot does not hold, said as a read of the process would have failed. */
static struct gomem_error *snap_miss(const struct gm_live *l, uint64_t addr)
{
	const struct gm_mapping *r = find_range(l, addr);
	if (r && !(r->flags & PF_R))
		return gm_error(GOMEM_ERROR_FAULT,
				"cannot read 0x%llx: in a mapping of process %d without read "
				"permission (a reservation)",
				(unsigned long long)addr, l->pid);
	if (r)
		return gm_error(GOMEM_ERROR_FAULT,
				"cannot read 0x%llx: in a shared mapping of process %d, which "
				"gomem did not copy while it was stopped",
				(unsigned long long)addr, l->pid);
	return gm_error(GOMEM_ERROR_FAULT, "cannot read 0x%llx: not mapped in process %d",
			(unsigned long long)addr, l->pid);
}

static int snap_file_fd(struct gm_live *l, struct snap_file *f)
{
	if (f->fd >= 0 || f->failed)
		return f->fd;
	char path[PROC_PATH_MAX + 48];
	snprintf(path, sizeof(path), "/proc/%d/map_files/%llx-%llx", l->pid,
		 (unsigned long long)f->start, (unsigned long long)f->end);
	const char *tries[] = {path, f->path};
	for (size_t i = 0; i < GM_ARRAY_SIZE(tries) && f->fd < 0; i++) {
		int fd = open(tries[i], O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd >= 0 && fstat(fd, &st) == 0 && (uint64_t)st.st_ino == f->ino &&
		    (uint64_t)st.st_dev == f->dev)
			f->fd = fd;
		else if (fd >= 0)
			close(fd);
	}
	f->failed = f->fd < 0;
	return f->fd;
}

static struct gomem_error *snap_read_file(struct gm_live *l, const struct snap_extent *e,
					  uint64_t addr, uint8_t *out, size_t n)
{
	struct snap_file *f = &l->snap_files[e->file];
	int fd = snap_file_fd(l, f);
	uint64_t off = e->at + (addr - e->start);
	ssize_t got = -1;
	if (fd >= 0 && off <= (uint64_t)INT64_MAX) {
		do
			got = pread(fd, out, n, (off_t)off);
		while (got < 0 && errno == EINTR);
	}
	if (got == (ssize_t)n)
		return NULL;
	/* Past the file's end the process would fault (SIGBUS) too. */
	return gm_error(GOMEM_ERROR_FAULT,
			"cannot read 0x%llx: a page of %s that process %d had not brought in, "
			"and the file cannot be read (changed or gone since)",
			(unsigned long long)addr, f->path, l->pid);
}

static struct gomem_error *snap_read(struct gm_live *l, uint64_t addr, uint8_t *out, size_t len)
{
	while (len) {
		const struct snap_extent *e = GM_FIND_RANGE(l->snap, l->nsnap, start, end, addr);
		if (!e)
			return snap_miss(l, addr);
		size_t n = e->end - addr < len ? (size_t)(e->end - addr) : len;
		if (e->kind == SNAP_COPY) {
			size_t h = GM_UPPER_BOUND(l->snap_holes, l->nsnap_holes, end, addr);
			if (h < l->nsnap_holes && l->snap_holes[h].start < addr + n)
				return gm_error(GOMEM_ERROR_FAULT,
						"cannot read 0x%llx: process %d could not be read "
						"there when gomem copied it",
						(unsigned long long)(l->snap_holes[h].start > addr
									 ? l->snap_holes[h].start
									 : addr),
						l->pid);
			memcpy(out, l->snap_buf + e->at + (addr - e->start), n);
		} else if (e->kind == SNAP_ZERO) {
			memset(out, 0, n);
		} else {
			TRY(snap_read_file(l, e, addr, out, n));
		}
		out += n;
		addr += n;
		len -= n;
	}
	return NULL;
}

/* ---- mappings ---- */

/* Parses "start-end perms offset dev inode [path]"; false when the line is not one. */
static bool parse_maps_line(char *line, struct gm_mapping *ret, const char **path_ret)
{
	struct gm_mapping out = {0}, *m = &out;
	char *p = line, *end;
	errno = 0;
	m->start = strtoull(p, &end, 16);
	if (end == p || *end != '-')
		return false;
	p = end + 1;
	m->end = strtoull(p, &end, 16);
	if (end == p || *end != ' ' || errno || m->end < m->start)
		return false;
	p = end + 1;
	if (strlen(p) < 5 || p[4] != ' ')
		return false;
	m->flags = (p[0] == 'r' ? PF_R : 0) | (p[1] == 'w' ? PF_W : 0) | (p[2] == 'x' ? PF_X : 0);
	m->share = p[3] == 's' || p[3] == 'p' ? p[3] : '?';
	p += 5;
	m->offset = strtoull(p, &end, 16);
	if (end == p || *end != ' ')
		return false;
	p = end + 1;
	/* dev (major:minor) and inode */
	p = strchr(p, ' ');
	if (!p)
		return false;
	strtoull(p + 1, &end, 10);
	p = end;
	while (*p == ' ')
		p++;
	*path_ret = *p ? p : NULL;
	*ret = out;
	return true;
}

static int cmp_mapping(const void *a, const void *b)
{
	const struct gm_mapping *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static void free_mappings(struct gm_mapping *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

static struct gomem_error *parse_maps(const char *what, char *text, struct gm_mapping **ret,
				      size_t *n_ret)
{
	size_t cap = 0, n = 0;
	struct gm_mapping *maps = NULL;
	struct gomem_error *err = NULL;
	for (char *line = text, *next; !err && line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct gm_mapping m = {0};
		const char *path;
		if (!parse_maps_line(line, &m, &path)) {
			err =
			    gm_error(GOMEM_ERROR_FORMAT, "%s: cannot parse \"%.60s\"", what, line);
			break;
		}
		if (n == MAX_MAPPINGS) {
			err = gm_error(GOMEM_ERROR_UNSUPPORTED, "%s: more than %u mappings", what,
				       MAX_MAPPINGS);
			break;
		}
		if (path && !(m.path = strdup(path))) {
			err = &gm_error_no_memory;
			break;
		}
		struct gm_mapping *slot = grow_mappings(&maps, &n, &cap);
		if (!slot) {
			free(m.path);
			err = &gm_error_no_memory;
			break;
		}
		*slot = m;
	}
	if (err) {
		free_mappings(maps, n);
		return err;
	}
	gm_sort(maps, n, sizeof(*maps), cmp_mapping);
	*ret = maps;
	*n_ret = n;
	return NULL;
}

/* Resident bytes per mapping from /proc/PID/smaps: the "Rss:" and "Anonymous:" lines of each. */
static struct gomem_error *read_smaps(struct gm_live *l)
{
	char *text;
	struct gomem_error *err = read_proc_file(l->pid, "smaps", &text, NULL);
	if (err)
		return err;
	size_t cap = 0;
	for (char *line = text, *next; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		struct gm_mapping m = {0};
		const char *path;
		unsigned long long kb;
		if (parse_maps_line(line, &m, &path)) {
			if (l->nrss == MAX_MAPPINGS)
				break;
			struct live_rss *r = grow_rss(&l->rss, &l->nrss, &cap);
			if (!r) {
				free(text);
				return &gm_error_no_memory;
			}
			*r = (struct live_rss){.start = m.start, .end = m.end};
		} else if (l->nrss && sscanf(line, "Rss: %llu kB", &kb) == 1) {
			l->rss[l->nrss - 1].rss = (uint64_t)kb << 10;
		} else if (l->nrss && sscanf(line, "Anonymous: %llu kB", &kb) == 1) {
			l->rss[l->nrss - 1].anon = (uint64_t)kb << 10;
		}
	}
	free(text);
	return NULL;
}

struct gomem_error *gm_live_mappings(struct gm_live *l, struct gm_mapping **ret, size_t *n_ret)
{
	if (l->cb) {
		if (!l->maps)
			return gm_error(GOMEM_ERROR_UNSUPPORTED,
					"the address space of this target is unknown: the debugger "
					"could not read /proc/%d/maps",
					l->pid);
		char *copy = strdup(l->maps);
		if (!copy)
			return &gm_error_no_memory;
		struct gomem_error *err = parse_maps("the target's maps", copy, ret, n_ret);
		free(copy);
		return err;
	}
	struct gm_mapping *maps;
	size_t n;
	TRY(read_maps(l->pid, &maps, &n));
	/* smaps is read right after maps, so that both describe the same moment. */
	free_rss(l);
	l->have_rss = false;
	struct gomem_error *err = read_smaps(l);
	if (err) {
		free_rss(l);
		free_mappings(maps, n);
		return err;
	}
	l->have_rss = l->pagemap_fd >= 0;
	/* Both lists are in address order: each mapping takes its smaps entry. */
	for (size_t i = 0, j = 0; i < n && j < l->nrss; i++) {
		struct gm_mapping *m = &maps[i];
		while (j < l->nrss && l->rss[j].start < m->start)
			j++;
		if (j < l->nrss && l->rss[j].start == m->start && l->rss[j].end == m->end) {
			m->has_smaps = true;
			m->smaps_rss = l->rss[j].rss;
			m->smaps_anon = l->rss[j].anon;
		}
	}
	*ret = maps;
	*n_ret = n;
	return NULL;
}

bool gm_live_residency_known(const struct gm_live *l)
{
	return !l->cb && l->pagemap_fd >= 0;
}

/*
 * Calls fn for each run of pagemap entries of pages [first, last], a batch at
 * a time; stops early where pagemap ends (past the user address space, or
 * the process is gone).
 */
static void pagemap_pages(struct gm_live *l, uint64_t first, uint64_t last,
			  void (*fn)(void *arg, uint64_t page, const uint64_t *pm, uint64_t n),
			  void *arg)
{
	uint64_t page = first;
	while (page <= last) {
		uint64_t n = last - page + 1;
		if (n > PAGEMAP_BATCH)
			n = PAGEMAP_BATCH;
		ssize_t got = pread(l->pagemap_fd, l->pagemap, n * 8, (off_t)(page * 8));
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		uint64_t entries = (uint64_t)got / 8;
		fn(arg, page, l->pagemap, entries);
		page += entries;
	}
}

struct range_count {
	uint64_t page_size, start, end, total;
};

/*
 * Whether a pagemap entry is a page that RSS counts. A read of a page the
 * process never touched (gomem's own, through /proc/PID/mem, or the
 * program's) maps the kernel's shared zero page there: present, but neither
 * a file's page nor mapped here only, and not in smaps' Rss or in VmRSS.
 */
static bool resident_entry(uint64_t pm)
{
	return (pm & PM_PRESENT) && (pm & (PM_FILE | PM_MMAP_EXCLUSIVE));
}

static void count_present(void *arg, uint64_t page, const uint64_t *pm, uint64_t n)
{
	struct range_count *c = arg;
	for (uint64_t i = 0; i < n; i++) {
		if (!resident_entry(pm[i]))
			continue;
		uint64_t a = (page + i) * c->page_size, b = a + c->page_size;
		c->total += (b < c->end ? b : c->end) - (a > c->start ? a : c->start);
	}
}

struct bitmap_fill {
	uint64_t *bits, first;
};

static void fill_present(void *arg, uint64_t page, const uint64_t *pm, uint64_t n)
{
	struct bitmap_fill *f = arg;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t bit = page + i - f->first;
		if (resident_entry(pm[i]))
			f->bits[bit / 64] |= 1ULL << (bit % 64);
	}
}

/* Reads the mapping's pagemap into r->present once, unless it would take too much memory. */
static void read_present(struct gm_live *l, struct live_rss *r)
{
	if (r->tried)
		return;
	r->tried = true;
	uint64_t page_bytes = l->page_size;
	uint64_t pages = (r->end - r->start) / page_bytes, bytes = (pages + 63) / 64 * 8;
	if (!pages || bytes > BITMAP_MAX_BYTES - l->bitmap_bytes)
		return;
	r->present = calloc(1, bytes);
	if (!r->present)
		return;
	l->bitmap_bytes += bytes;
	struct bitmap_fill f = {r->present, r->start / page_bytes};
	pagemap_pages(l, f.first, f.first + pages - 1, fill_present, &f);
}

/* Resident bytes of [a, b) of the mapping r. */
static uint64_t mapping_resident(struct gm_live *l, struct live_rss *r, uint64_t a, uint64_t b)
{
	const uint64_t page_bytes = l->page_size;
	if (!r->rss)
		return 0; /* nothing resident: nothing a stopped process can change */
	read_present(l, r);
	if (!r->present) {
		if (a == r->start && b == r->end)
			return r->rss;
		struct range_count c = {page_bytes, a, b, 0};
		pagemap_pages(l, a / page_bytes, (b - 1) / page_bytes, count_present, &c);
		return c.total;
	}
	uint64_t total = 0, first = r->start / page_bytes;
	/* Bounded by the mapping's bitmap: whole 64-page words where they fit. */
	for (uint64_t page = a / page_bytes; page * page_bytes < b;) {
		uint64_t bit = page - first, pa = page * page_bytes;
		if (bit % 64 == 0 && pa >= a && pa + 64 * page_bytes <= b) {
			total += (uint64_t)__builtin_popcountll(r->present[bit / 64]) * page_bytes;
			page += 64;
			continue;
		}
		if ((r->present[bit / 64] >> (bit % 64)) & 1) {
			uint64_t lo = pa > a ? pa : a,
				 hi = pa + page_bytes < b ? pa + page_bytes : b;
			total += hi - lo;
		}
		page++;
	}
	return total;
}

uint64_t gm_live_resident(struct gm_live *l, uint64_t start, uint64_t end)
{
	if (!gm_live_residency_known(l) || !l->have_rss || end <= start)
		return 0;
	/* The first mapping that ends after start, then each one that overlaps. */
	uint64_t total = 0;
	for (size_t i = GM_UPPER_BOUND(l->rss, l->nrss, end, start);
	     i < l->nrss && l->rss[i].start < end; i++) {
		struct live_rss *r = &l->rss[i];
		uint64_t a = r->start > start ? r->start : start;
		uint64_t b = r->end < end ? r->end : end;
		if (a < b)
			total += mapping_resident(l, r, a, b);
	}
	return total;
}

/* ---- auxv and the executable ---- */

void gm_live_set_page_size(struct gm_live *l, uint64_t page_size)
{
	l->page_size = page_size;
	free_rss(l); /* bitmaps of the old page size */
	l->have_rss = false;
}

struct gomem_error *gm_live_auxv(int pid, uint64_t *entry_ret, uint64_t *page_size_ret)
{
	char *buf;
	size_t len;
	struct gomem_error *err = read_proc_file(pid, "auxv", &buf, &len);
	if (err)
		return err;
	struct gm_auxv a = {0};
	gm_auxv_parse((const uint8_t *)buf, len, &a);
	free(buf);
	*entry_ret = a.entry;
	*page_size_ret = a.pagesz;
	return NULL;
}

struct gomem_error *gm_live_exe(int pid, char **open_ret, char **name_ret, bool *replaced_ret)
{
	struct gomem_error *err = check_pid(pid);
	if (err)
		return err;
	char link[PROC_PATH_MAX], target[4096];
	proc_path(link, pid, "exe");
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	if (n < 0) {
		if (errno == ENOENT && proc_state(pid) != 0)
			return gm_error(GOMEM_ERROR_NOT_GO,
					"process %d has no executable (a kernel thread?)", pid);
		return proc_error(pid, link, errno);
	}
	target[n] = '\0';
	/* The file at that path is still the running one when it is the same inode. */
	struct stat running, on_disk;
	if (stat(link, &running) < 0)
		return proc_error(pid, link, errno);
	bool same = stat(target, &on_disk) == 0 && on_disk.st_dev == running.st_dev &&
		    on_disk.st_ino == running.st_ino;
	char *open_path = strdup(same ? target : link);
	char *name = strdup(target);
	if (!open_path || !name) {
		free(open_path);
		free(name);
		return &gm_error_no_memory;
	}
	*open_ret = open_path;
	*name_ret = name;
	*replaced_ret = !same;
	return NULL;
}
