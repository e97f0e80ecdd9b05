/*
 * Helpers shared by the libFuzzer targets of libcore.
 *
 * The targets hand files to libcore by path, exactly as the CLI does: a file
 * is a memfd (in RAM) named /proc/self/fd/N. The overlay targets copy a real
 * fixture file (executable or core) into a memfd once, keeping its holes, then
 * for each input write a list of patches into it, run, and put the original
 * bytes (and holes) back, so that each input sees the real file plus its own
 * patches only.
 */
#ifndef GOMEM_FUZZ_H
#define GOMEM_FUZZ_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verbs/verbs.h"

#define FZ_PAGE 4096ULL

static inline void fz_die(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	abort();
}

/* A file in RAM that libcore opens by path. */
struct fz_file {
	int fd;
	char path[64];
	uint64_t size;
	uint8_t *hole; /* one byte per page: 1 where the original file had a hole */
};

static inline void fz_file_create(struct fz_file *f, const char *name)
{
	memset(f, 0, sizeof(*f));
	f->fd = memfd_create(name, MFD_CLOEXEC);
	if (f->fd < 0)
		fz_die("memfd_create", strerror(errno));
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
}

/* Replaces the whole content with buf (the arbitrary-bytes targets). */
static inline void fz_file_set(struct fz_file *f, const uint8_t *buf, size_t len)
{
	if (ftruncate(f->fd, 0) < 0 || (len && pwrite(f->fd, buf, len, 0) != (ssize_t)len))
		fz_die("memfd write", strerror(errno));
	f->size = len;
}

/*
 * A copy of the file at src, with its holes (a kernel core is mostly holes),
 * as an unnamed file in $TMPDIR: a disk file system answers SEEK_DATA (the
 * residency of each span) far faster than tmpfs does.
 */
static inline void fz_file_copy(struct fz_file *f, const char *src)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (in < 0 || fstat(in, &st) < 0)
		fz_die(src, strerror(errno));
	const char *dir = getenv("TMPDIR");
	memset(f, 0, sizeof(*f));
	f->fd = open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (f->fd < 0)
		fz_die("O_TMPFILE", strerror(errno));
	snprintf(f->path, sizeof(f->path), "/proc/self/fd/%d", f->fd);
	f->size = (uint64_t)st.st_size;
	if (ftruncate(f->fd, st.st_size) < 0)
		fz_die("ftruncate", strerror(errno));
	uint64_t npages = (f->size + FZ_PAGE - 1) / FZ_PAGE;
	f->hole = malloc(npages ? npages : 1);
	if (!f->hole)
		fz_die("out of memory", NULL);
	memset(f->hole, 1, npages);
	static uint8_t buf[1 << 20];
	for (off_t pos = 0; (uint64_t)pos < f->size;) {
		off_t data = lseek(in, pos, SEEK_DATA);
		if (data < 0)
			break;
		off_t hole = lseek(in, data, SEEK_HOLE);
		if (hole < 0)
			hole = st.st_size;
		for (off_t p = data; p < hole;) {
			size_t n =
			    (size_t)(hole - p) < sizeof(buf) ? (size_t)(hole - p) : sizeof(buf);
			ssize_t r = pread(in, buf, n, p);
			if (r <= 0 || pwrite(f->fd, buf, (size_t)r, p) != r)
				fz_die("copy", src);
			p += r;
		}
		for (uint64_t pg = (uint64_t)data / FZ_PAGE; pg * FZ_PAGE < (uint64_t)hole; pg++)
			f->hole[pg] = 0;
		pos = hole;
	}
	close(in);
}

/* ---- patches, and undoing them ---- */

#define FZ_MAX_PATCHES	  64
#define FZ_MAX_PATCH_LEN  255
#define FZ_PATCH_HDR_SIZE 10

struct fz_undo {
	uint64_t off;
	size_t len;
	uint8_t old[FZ_MAX_PATCH_LEN];
};

struct fz_overlay {
	struct fz_file *file;
	struct fz_undo undo[2 * FZ_MAX_PATCHES];
	size_t n;
};

/* Writes len bytes at off (clipped to the file), remembering what was there. */
static inline void fz_patch(struct fz_overlay *o, uint64_t off, const uint8_t *b, size_t len)
{
	struct fz_file *f = o->file;
	if (off >= f->size || o->n == GM_ARRAY_SIZE(o->undo))
		return;
	if (len > f->size - off)
		len = (size_t)(f->size - off);
	if (len > FZ_MAX_PATCH_LEN)
		len = FZ_MAX_PATCH_LEN;
	if (!len)
		return;
	struct fz_undo *u = &o->undo[o->n];
	if (pread(f->fd, u->old, len, (off_t)off) != (ssize_t)len)
		fz_die("pread", strerror(errno));
	if (pwrite(f->fd, b, len, (off_t)off) != (ssize_t)len)
		fz_die("pwrite", strerror(errno));
	u->off = off;
	u->len = len;
	o->n++;
}

/* Puts the original bytes back, newest patch first, and punches the holes again. */
static inline void fz_restore(struct fz_overlay *o)
{
	struct fz_file *f = o->file;
	while (o->n) {
		struct fz_undo *u = &o->undo[--o->n];
		if (pwrite(f->fd, u->old, u->len, (off_t)u->off) != (ssize_t)u->len)
			fz_die("pwrite", strerror(errno));
		for (uint64_t pg = u->off / FZ_PAGE; pg * FZ_PAGE < u->off + u->len; pg++) {
			if (f->hole && f->hole[pg] &&
			    fallocate(f->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      (off_t)(pg * FZ_PAGE), (off_t)FZ_PAGE) < 0)
				fz_die("fallocate", strerror(errno));
		}
	}
}

/*
 * One patch record of a fuzz input:
 *   kind u8, index u32 LE, offset u32 LE, len u8, then len bytes.
 * kind picks a list of regions (what each target calls interesting), index
 * a region of that list (modulo its length), offset a byte in it (modulo its
 * size). Returns false at the end of the input.
 */
struct fz_record {
	uint8_t kind;
	uint32_t index, offset;
	const uint8_t *bytes;
	size_t len;
};

static inline bool fz_next_record(const uint8_t **p, const uint8_t *end, struct fz_record *r)
{
	if ((size_t)(end - *p) < FZ_PATCH_HDR_SIZE)
		return false;
	const uint8_t *q = *p;
	r->kind = q[0];
	memcpy(&r->index, q + 1, 4);
	memcpy(&r->offset, q + 5, 4);
	r->len = q[9];
	if (r->len > (size_t)(end - q) - FZ_PATCH_HDR_SIZE)
		r->len = (size_t)(end - q) - FZ_PATCH_HDR_SIZE;
	r->bytes = q + FZ_PATCH_HDR_SIZE;
	*p = q + FZ_PATCH_HDR_SIZE + r->len;
	return true;
}

/* A byte range of a file that a patch may hit. */
struct fz_region {
	uint64_t off, len;
};

struct fz_regions {
	struct fz_region *r;
	size_t n, cap;
};

static inline void fz_regions_add(struct fz_regions *l, uint64_t off, uint64_t len)
{
	if (!len)
		return;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->r = reallocarray(l->r, l->cap, sizeof(*l->r));
		if (!l->r)
			fz_die("out of memory", NULL);
	}
	l->r[l->n++] = (struct fz_region){off, len};
}

/* One record of the input, resolved: its kind, where it lands, its bytes cut to the region. */
typedef void (*fz_record_fn)(void *arg, unsigned kind, uint64_t at, const uint8_t *bytes,
			     size_t len);

/* Calls fn for each of the input's records (at most FZ_MAX_PATCHES) over lists[0..nlists). */
static inline void fz_each_record(const struct fz_regions *lists, size_t nlists,
				  const uint8_t *data, size_t size, fz_record_fn fn, void *arg)
{
	const uint8_t *p = data, *end = data + size;
	struct fz_record rec;
	for (int i = 0; i < FZ_MAX_PATCHES && fz_next_record(&p, end, &rec); i++) {
		unsigned kind = rec.kind % nlists;
		const struct fz_regions *l = &lists[kind];
		if (!l->n)
			continue;
		const struct fz_region *r = &l->r[rec.index % l->n];
		uint64_t at = r->off + rec.offset % r->len;
		size_t len = rec.len;
		if (len > r->off + r->len - at)
			len = (size_t)(r->off + r->len - at);
		fn(arg, kind, at, rec.bytes, len);
	}
}

/* ---- running libcore ---- */

static inline const char *fz_env(const char *name)
{
	const char *v = getenv(name);
	if (!v || !*v)
		fz_die("set the environment variable", name);
	return v;
}

/* Every error must be one non-empty line; anything else is a bug. */
static inline void fz_check_error(struct gomem_error *err)
{
	if (!err)
		return;
	const char *msg = gomem_error_message(err);
	if (!msg || !*msg || strchr(msg, '\n'))
		fz_die("an error message is empty or not one line", msg);
	gomem_error_destroy(err);
}

/* The verb runs an input can ask for (its verb byte, modulo this count). */
#define FZ_NVERBS 8

/*
 * Runs one verb on t as the CLI would (0: summary --json, 1: summary,
 * 2: mappings --json, 3: arenas --json, 4: spans --json, 5: classes --json,
 * 6: stacks --json, 7: whatis ADDR) and checks the outcome's shape.
 */
static inline void fz_run_verb(struct gomem_target *t, unsigned which, uint64_t whatis_addr)
{
	static const char *const verbs[FZ_NVERBS] = {"summary", "summary", "mappings", "arenas",
						     "spans",	"classes", "stacks",   "whatis"};
	char addr[32];
	const char *argv[2];
	int argc = 0;
	which %= FZ_NVERBS;
	if (which != 1 && which != 7)
		argv[argc++] = "--json";
	if (which == 7) {
		snprintf(addr, sizeof(addr), "0x%llx", (unsigned long long)whatis_addr);
		argv[argc++] = addr;
	}
	char *out = NULL;
	int partial = 0;
	struct gomem_error *err = gomem_run(t, verbs[which], argc, argv, &out, &partial);
	if (!err && (!out || (argc && argv[0][2] == 'j' && out[0] != '{')))
		fz_die("gomem_run succeeded without its output", verbs[which]);
	gomem_free(out);
	fz_check_error(err);
}

#endif /* GOMEM_FUZZ_H */
