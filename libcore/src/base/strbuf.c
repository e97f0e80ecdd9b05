/* A growable string for reports. */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

bool gm_strbuf_reserve(struct gm_strbuf *sb, size_t extra)
{
	if (sb->failed)
		return false;
	if (sb->len + extra + 1 <= sb->cap)
		return true;
	size_t cap = sb->cap ? sb->cap : 256;
	while (cap < sb->len + extra + 1) {
		if (cap > SIZE_MAX / 2) {
			sb->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *s = realloc(sb->s, cap);
	if (!s) {
		sb->failed = true;
		return false;
	}
	sb->s = s;
	sb->cap = cap;
	return true;
}

void gm_strbuf_append(struct gm_strbuf *sb, const char *s, size_t n)
{
	if (!gm_strbuf_reserve(sb, n))
		return;
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
}

void gm_strbuf_printf(struct gm_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !gm_strbuf_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

char *gm_strbuf_steal(struct gm_strbuf *sb)
{
	char *s = sb->failed ? NULL : sb->s;
	if (!s && !sb->failed)
		s = strdup("");
	if (sb->failed)
		free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
	sb->failed = false;
	return s;
}

void gm_strbuf_deinit(struct gm_strbuf *sb)
{
	free(sb->s);
	sb->s = NULL;
	sb->len = sb->cap = 0;
	sb->failed = false;
}

const char *gm_human_bytes(uint64_t n, char buf[32])
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	if (n < 1024) {
		snprintf(buf, 32, "%llu B", (unsigned long long)n);
		return buf;
	}
	double v = (double)n / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < GM_ARRAY_SIZE(units)) {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, 32, "%.1f %s", v, units[u]);
	return buf;
}

struct gomem_error *gm_strlist_vadd(char ***list, size_t *n, const char *fmt, va_list ap)
{
	char *msg = NULL;
	if (vasprintf(&msg, fmt, ap) < 0)
		return &gm_error_no_memory;
	char **grown = reallocarray(*list, *n + 1, sizeof(*grown));
	if (!grown) {
		free(msg);
		return &gm_error_no_memory;
	}
	*list = grown;
	(*list)[(*n)++] = msg;
	return NULL;
}
