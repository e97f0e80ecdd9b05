/*
 * Names in the executable: its ELF symbol table (.symtab, or the debug
 * file's), for the variables whatis names, and its function table
 * (.gopclntab), which every Go binary keeps, stripped or not, for a
 * goroutine's start function and the function that holds a pc. Read from
 * the mapped files, never from the target.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <string.h>

#include "target/pclntab.h"
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

static struct gomem_error *symtab_load(const uint8_t *map, uint64_t size, struct gm_symtab *ret)
{
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

struct gomem_error *gm_symtab_load(const struct gm_exe *exe, struct gm_symtab *ret)
{
	return symtab_load(exe->map, exe->size, ret);
}

struct gomem_error *gm_target_symtab(const struct gm_target *t, struct gm_symtab *ret)
{
	if (t->have_debug)
		return symtab_load(t->debug.map, t->debug.size, ret);
	return gm_symtab_load(&t->exe, ret);
}

struct gm_pclntab *gm_target_pclntab(struct gm_target *t)
{
	if (t->pclntab || t->pclntab_failed)
		return t->pclntab;
	struct gm_pclntab *p = NULL;
	struct gomem_error *err = gm_pclntab_open(t->exe.map, t->exe.size, &p);
	if (!err && !gm_pclntab_has_text(p)) {
		uint64_t md, text;
		err = gm_pclntab_find_moduledata(p, &md);
		if (!err)
			err = gm_pclntab_moduledata_text(p, md, &text);
		if (!err)
			err = gm_pclntab_set_text(p, text);
	}
	if (err) {
		gomem_error_destroy(err);
		gm_pclntab_destroy(p);
		t->pclntab_failed = true;
		return NULL;
	}
	t->pclntab = p;
	return p;
}

const char *gm_target_func_at(struct gm_target *t, uint64_t pc)
{
	struct gm_pclntab *p = gm_target_pclntab(t);
	struct gm_func f;
	bool found = false;
	if (!p)
		return NULL;
	struct gomem_error *err = gm_pclntab_func_by_entry(p, pc, &f, &found);
	gomem_error_destroy(err);
	return !err && found ? f.name : NULL;
}

const char *gm_target_func_holding(struct gm_target *t, uint64_t pc, uint64_t *entry_ret)
{
	struct gm_pclntab *p = gm_target_pclntab(t);
	struct gm_func f;
	bool found = false;
	if (!p)
		return NULL;
	struct gomem_error *err = gm_pclntab_find_func(p, pc, &f, &found);
	gomem_error_destroy(err);
	if (err || !found)
		return NULL;
	*entry_ret = f.entry;
	return f.name;
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
