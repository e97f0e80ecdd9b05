/*
 * The target's memory: sorted segments backed by the core file, with
 * file-backed fallbacks (the executable) for bytes the core left out.
 * Nothing is copied: segments point into mmap'd files. A live target
 * instead sets a read callback (live.c), and every read goes there.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "target/target.h"

GM_DEFINE_GROW(grow_segments, struct gm_segment)
GM_DEFINE_GROW(grow_file_ranges, struct gm_file_range)

struct gomem_error *gm_memory_add_segment(struct gm_memory *mem, const struct gm_segment *seg)
{
	if (seg->end < seg->start || seg->data_len > seg->end - seg->start)
		return gm_error(GOMEM_ERROR_FORMAT, "bad segment 0x%llx-0x%llx",
				(unsigned long long)seg->start, (unsigned long long)seg->end);
	struct gm_segment *s = grow_segments(&mem->segs, &mem->nsegs, &mem->cap_segs);
	if (!s)
		return &gm_error_no_memory;
	*s = *seg;
	return NULL;
}

struct gomem_error *gm_memory_add_file_range(struct gm_memory *mem,
					     const struct gm_file_range *range)
{
	if (range->end <= range->start)
		return NULL;
	struct gm_file_range *f = grow_file_ranges(&mem->files, &mem->nfiles, &mem->cap_files);
	if (!f)
		return &gm_error_no_memory;
	*f = *range;
	return NULL;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct gm_segment *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static int cmp_file(const void *a, const void *b)
{
	const struct gm_file_range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

struct gomem_error *gm_memory_finish(struct gm_memory *mem)
{
	gm_sort(mem->segs, mem->nsegs, sizeof(*mem->segs), cmp_seg);
	gm_sort(mem->files, mem->nfiles, sizeof(*mem->files), cmp_file);
	for (size_t i = 1; i < mem->nsegs; i++) {
		if (mem->segs[i].start < mem->segs[i - 1].end)
			return gm_error(GOMEM_ERROR_FORMAT,
					"segments 0x%llx-0x%llx and 0x%llx-0x%llx overlap",
					(unsigned long long)mem->segs[i - 1].start,
					(unsigned long long)mem->segs[i - 1].end,
					(unsigned long long)mem->segs[i].start,
					(unsigned long long)mem->segs[i].end);
	}
	for (size_t i = 1; i < mem->nfiles; i++) {
		if (mem->files[i].start < mem->files[i - 1].end)
			return gm_error(GOMEM_ERROR_FORMAT, "file ranges overlap at 0x%llx",
					(unsigned long long)mem->files[i].start);
	}
	mem->hint = 0;
	return NULL;
}

void gm_memory_deinit(struct gm_memory *mem)
{
	free(mem->segs);
	free(mem->files);
	memset(mem, 0, sizeof(*mem));
}

const struct gm_segment *gm_memory_find(struct gm_memory *mem, uint64_t addr)
{
	if (mem->hint < mem->nsegs) {
		const struct gm_segment *s = &mem->segs[mem->hint];
		if (addr >= s->start && addr < s->end)
			return s;
	}
	const struct gm_segment *s = GM_FIND_RANGE(mem->segs, mem->nsegs, start, end, addr);
	if (s)
		mem->hint = (size_t)(s - mem->segs);
	return s;
}

static const struct gm_file_range *find_file(const struct gm_memory *mem, uint64_t addr)
{
	return GM_FIND_RANGE(mem->files, mem->nfiles, start, end, addr);
}

size_t gm_memory_first_segment_after(const struct gm_memory *mem, uint64_t addr)
{
	return GM_UPPER_BOUND(mem->segs, mem->nsegs, end, addr);
}

/* Start of the first segment above addr, or UINT64_MAX. */
static uint64_t next_segment_start(const struct gm_memory *mem, uint64_t addr)
{
	size_t i = GM_UPPER_BOUND(mem->segs, mem->nsegs, start, addr);
	return i < mem->nsegs ? mem->segs[i].start : UINT64_MAX;
}

/* A read at addr that neither the core (segment s, or none) nor a file can answer. */
static struct gomem_error *fault(const struct gm_memory *mem, const struct gm_segment *s,
				 uint64_t addr)
{
	const char *core = mem->core_path ? mem->core_path : "", *sep = mem->core_path ? " " : "";
	if (s && s->truncated)
		return gm_error(GOMEM_ERROR_FAULT,
				"cannot read 0x%llx: not saved in the core%s%s, which is truncated "
				"(the file ends inside the segment 0x%llx-0x%llx)",
				(unsigned long long)addr, sep, core, (unsigned long long)s->start,
				(unsigned long long)s->end);
	if (s)
		return gm_error(GOMEM_ERROR_FAULT, "cannot read 0x%llx: not saved in the core%s%s",
				(unsigned long long)addr, sep, core);
	return gm_error(GOMEM_ERROR_FAULT, "cannot read 0x%llx: not mapped in the target",
			(unsigned long long)addr);
}

struct gomem_error *gm_read(struct gm_memory *mem, uint64_t addr, void *buf, size_t len)
{
	uint8_t *out = buf;
	if (len && addr + len - 1 < addr)
		return gm_error(GOMEM_ERROR_FAULT, "cannot read %zu bytes at 0x%llx: wraps around",
				len, (unsigned long long)addr);
	/* A live target reads through its callback, which reports its own faults. */
	if (mem->read_fn)
		return len ? mem->read_fn(mem->read_arg, addr, buf, len) : NULL;
	while (len) {
		const struct gm_segment *s = gm_memory_find(mem, addr);
		size_t n = 0;
		if (s && addr - s->start < s->data_len) {
			uint64_t avail = s->data_len - (addr - s->start);
			n = avail < len ? (size_t)avail : len;
			memcpy(out, s->data + (addr - s->start), n);
		} else {
			const struct gm_file_range *f = find_file(mem, addr);
			if (!f)
				return fault(mem, s, addr);
			uint64_t avail = f->end - addr;
			/* The core's bytes win: stop the file's at the next core segment. */
			uint64_t stop = s ? s->end : next_segment_start(mem, addr);
			if (stop - addr < avail)
				avail = stop - addr;
			n = avail < len ? (size_t)avail : len;
			memcpy(out, f->data + (addr - f->start), n);
		}
		out += n;
		addr += n;
		len -= n;
	}
	return NULL;
}

bool gm_read_ok(struct gm_memory *mem, uint64_t addr, void *buf, size_t len)
{
	struct gomem_error *err = gm_read(mem, addr, buf, len);
	gomem_error_destroy(err);
	return !err;
}

struct gomem_error *gm_read_u64(struct gm_memory *mem, uint64_t addr, uint64_t *ret)
{
	uint64_t v;
	struct gomem_error *err = gm_read(mem, addr, &v, sizeof(v));
	if (err)
		return err;
	*ret = v;
	return NULL;
}

struct gomem_error *gm_read_uint(struct gm_memory *mem, uint64_t addr, unsigned size, uint64_t *ret)
{
	uint8_t b[8];
	if (size == 0 || size > 8 || (size & (size - 1)))
		return gm_error(GOMEM_ERROR_INCONSISTENT, "cannot read an integer of %u bytes",
				size);
	struct gomem_error *err = gm_read(mem, addr, b, size);
	if (err)
		return err;
	uint64_t v = 0;
	for (unsigned i = 0; i < size; i++)
		v |= (uint64_t)b[i] << (8 * i);
	*ret = v;
	return NULL;
}
