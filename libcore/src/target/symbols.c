/*
 * The executable's ELF symbol table (.symtab): the names of functions and
 * global variables, for a goroutine's start function and for whatis of an
 * address in the binary. Read from the mapped file, never from the target.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <string.h>

#include "target/target.h"

static int cmp_sym(const void *a, const void *b)
{
	const struct gm_sym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

static struct gomem_error *load_section(const uint8_t *map, uint64_t size, const Elf64_Shdr *sh,
					const Elf64_Shdr *strsh, struct gm_symtab *st)
{
	if (sh->sh_offset > size || sh->sh_size > size - sh->sh_offset || strsh->sh_offset > size ||
	    strsh->sh_size > size - strsh->sh_offset)
		return NULL;
	uint64_t count = sh->sh_size / sizeof(Elf64_Sym);
	st->syms = calloc(count ? count : 1, sizeof(*st->syms));
	if (!st->syms)
		return &gm_error_no_memory;
	const char *strs = (const char *)map + strsh->sh_offset;
	for (uint64_t j = 0; j < count; j++) {
		Elf64_Sym sym;
		memcpy(&sym, map + sh->sh_offset + j * sizeof(sym), sizeof(sym));
		unsigned type = ELF64_ST_TYPE(sym.st_info);
		if ((type != STT_FUNC && type != STT_OBJECT) || !sym.st_value ||
		    sym.st_name >= strsh->sh_size ||
		    !memchr(strs + sym.st_name, '\0', strsh->sh_size - sym.st_name))
			continue;
		st->syms[st->n++] = (struct gm_sym){sym.st_value, sym.st_size, strs + sym.st_name,
						    type == STT_FUNC};
	}
	qsort(st->syms, st->n, sizeof(*st->syms), cmp_sym);
	return NULL;
}

struct gomem_error *gm_symtab_load(const struct gm_exe *exe, struct gm_symtab *ret)
{
	const uint8_t *map = exe->map;
	uint64_t size = exe->size;
	Elf64_Ehdr eh;
	struct gm_symtab st = {0}; /* stripped, or unreadable: no names */
	if (map && size >= sizeof(eh)) {
		memcpy(&eh, map, sizeof(eh));
		if (eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > size ||
		    (size - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
			eh.e_shnum = 0;
		for (unsigned i = 0; i < eh.e_shnum; i++) {
			Elf64_Shdr sh, strsh;
			memcpy(&sh, map + eh.e_shoff + i * sizeof(sh), sizeof(sh));
			if (sh.sh_type != SHT_SYMTAB || sh.sh_link >= eh.e_shnum)
				continue;
			memcpy(&strsh, map + eh.e_shoff + sh.sh_link * sizeof(sh), sizeof(sh));
			TRY(load_section(map, size, &sh, &strsh, &st));
			break;
		}
	}
	*ret = st;
	return NULL;
}

void gm_symtab_deinit(struct gm_symtab *st)
{
	free(st->syms);
	memset(st, 0, sizeof(*st));
}

/* The last symbol that starts at or before addr, or NULL. */
static const struct gm_sym *floor_sym(const struct gm_symtab *st, uint64_t addr)
{
	size_t i = GM_UPPER_BOUND(st->syms, st->n, addr, addr);
	return i ? &st->syms[i - 1] : NULL;
}

const char *gm_symtab_func_at(const struct gm_symtab *st, uint64_t pc)
{
	const struct gm_sym *s = floor_sym(st, pc);
	/* A function and a variable never share an address; look at the few that start at pc. */
	for (; s && s >= st->syms && s->addr == pc; s--) {
		if (s->func)
			return s->name;
	}
	return NULL;
}

const struct gm_sym *gm_symtab_find(const struct gm_symtab *st, uint64_t addr)
{
	const struct gm_sym *s = floor_sym(st, addr);
	return s && addr - s->addr < (s->size ? s->size : 1) ? s : NULL;
}
