/*
 * Go's pclntab, decoded from the executable's bytes (see pclntab.h).
 *
 * Layout (runtime/symtab.go, cmd/link/internal/ld/pcln.go@1.19-1.27): a
 * pcHeader, then funcnametab, cutab, filetab, pctab and pclntable, at the
 * offsets the header gives. pclntable starts with the functab, nfunc + 1
 * pairs {entryoff, funcoff uint32} sorted by entry (the last one is the end
 * of the text), followed by the _func records that funcoff points at.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <string.h>

#include "pclntab.h"

#ifndef EM_AARCH64
#define EM_AARCH64 183
#endif
#ifndef R_AARCH64_RELATIVE
#define R_AARCH64_RELATIVE 1027
#endif

#define MAX_LOADS	    64
#define PCHEADER_SIZE	    72 /* with 8-byte pointers */
#define FUNCTAB_ENTRY_SIZE  8
#define MAX_SCAN_CANDIDATES 8

/* The members of runtime.moduledata read here: the same offsets in 1.19-1.27 (symtab.go). */
#define MD_PCHEADER    0
#define MD_FUNCNAMETAB 8
#define MD_FTAB_LEN    136
#define MD_MINPC       160
#define MD_MAXPC       168
#define MD_TEXT	       176

struct load {
	uint64_t vaddr, memsz, offset, filesz; /* filesz already cut to the file's size */
	uint32_t flags;
};

struct gm_pclntab {
	const uint8_t *image;
	uint64_t image_size;
	struct load loads[MAX_LOADS];
	size_t nloads;
	uint64_t rela_offset, rela_count; /* the dynamic relocations (DT_RELA), in the file */
	uint32_t relative_type;		  /* R_X86_64_RELATIVE or R_AARCH64_RELATIVE */
	struct gm_pclntab_info info;
	const uint8_t *tab; /* the pcHeader, in the image; info.size bytes */
	/* The sub-tables: offsets from tab, and their sizes in bytes. */
	uint64_t funcnametab, funcnametab_size;
	uint64_t cutab, cutab_count; /* uint32 entries */
	uint64_t filetab, filetab_size;
	uint64_t pctab, pctab_size;
	uint64_t pclntable, pclntable_size;
	unsigned func_size; /* 40 (1.18-1.19), 44 with startLine (1.20+) */
	unsigned inl_size;  /* inlinedCall: 20 (1.19), 16 (1.20+) */
	uint64_t text, gofunc;
	bool have_text, have_gofunc;
};

static uint32_t le32(const uint8_t *b)
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t le64(const uint8_t *b)
{
	return (uint64_t)le32(b) | (uint64_t)le32(b + 4) << 32;
}

static int32_t to_int32(uint32_t v)
{
	int32_t r;
	memcpy(&r, &v, sizeof(r));
	return r;
}

static struct gomem_error *corrupt(const char *what)
{
	return gm_error(GOMEM_ERROR_FORMAT, "pclntab: corrupt %s", what);
}

static struct gomem_error *corrupt_or_null(const char *why)
{
	return why ? corrupt(why) : NULL;
}

/* ---- the ELF file ---- */

/* The file's bytes of [addr, addr + len) at link-time addresses, or NULL. */
static const uint8_t *at_addr(const struct gm_pclntab *p, uint64_t addr, uint64_t len)
{
	for (size_t i = 0; i < p->nloads; i++) {
		const struct load *l = &p->loads[i];
		if (addr < l->vaddr || addr - l->vaddr >= l->filesz)
			continue;
		uint64_t in = addr - l->vaddr;
		if (len > l->filesz - in)
			return NULL;
		return p->image + l->offset + in;
	}
	return NULL;
}

/* The file offset of link-time address addr with len bytes after it, or UINT64_MAX. */
static uint64_t addr_to_offset(const struct gm_pclntab *p, uint64_t addr, uint64_t len)
{
	const uint8_t *b = at_addr(p, addr, len);
	return b ? (uint64_t)(b - p->image) : UINT64_MAX;
}

/*
 * A pointer-sized word of the file at link-time address addr as the
 * dynamic loader leaves it before it adds the load bias: the addend of a
 * RELATIVE relocation of that word (a linker may leave zeros there), else
 * the word in the file.
 */
static bool link_word(const struct gm_pclntab *p, uint64_t addr, uint64_t *ret)
{
	for (uint64_t i = 0; i < p->rela_count; i++) {
		Elf64_Rela r;
		memcpy(&r, p->image + p->rela_offset + i * sizeof(r), sizeof(r));
		if (r.r_offset == addr && ELF64_R_TYPE(r.r_info) == p->relative_type) {
			*ret = (uint64_t)r.r_addend;
			return true;
		}
	}
	const uint8_t *b = at_addr(p, addr, 8);
	if (!b)
		return false;
	*ret = le64(b);
	return true;
}

/* DT_RELA of PT_DYNAMIC, when it is consistent; otherwise none is used. */
static void read_dynamic(struct gm_pclntab *p, uint64_t off, uint64_t filesz)
{
	uint64_t rela = 0, relasz = 0, relaent = sizeof(Elf64_Rela);
	bool have_rela = false;
	if (off > p->image_size || filesz > p->image_size - off)
		return;
	for (uint64_t i = 0; i < filesz / sizeof(Elf64_Dyn); i++) {
		Elf64_Dyn d;
		memcpy(&d, p->image + off + i * sizeof(d), sizeof(d));
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_RELA) {
			rela = d.d_un.d_ptr;
			have_rela = true;
		} else if (d.d_tag == DT_RELASZ) {
			relasz = d.d_un.d_val;
		} else if (d.d_tag == DT_RELAENT) {
			relaent = d.d_un.d_val;
		}
	}
	if (!have_rela || relaent != sizeof(Elf64_Rela) || relasz % sizeof(Elf64_Rela))
		return;
	uint64_t at = addr_to_offset(p, rela, relasz);
	if (at == UINT64_MAX)
		return;
	p->rela_offset = at;
	p->rela_count = relasz / sizeof(Elf64_Rela);
}

static struct gomem_error *read_elf(struct gm_pclntab *p)
{
	Elf64_Ehdr eh;
	if (p->image_size < sizeof(eh) || memcmp(p->image, ELFMAG, SELFMAG) != 0)
		return gm_error(GOMEM_ERROR_FORMAT, "pclntab: not an ELF file");
	memcpy(&eh, p->image, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"pclntab: not a 64-bit little-endian ELF file");
	if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_AARCH64)
		return gm_error(GOMEM_ERROR_UNSUPPORTED,
				"pclntab: ELF machine %u is neither x86-64 nor AArch64",
				eh.e_machine);
	p->info.machine = eh.e_machine;
	p->relative_type = eh.e_machine == EM_X86_64 ? R_X86_64_RELATIVE : R_AARCH64_RELATIVE;
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > p->image_size ||
	    eh.e_phnum > (p->image_size - eh.e_phoff) / sizeof(Elf64_Phdr))
		return corrupt("ELF program headers");
	uint64_t dyn_off = 0, dyn_size = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, p->image + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_DYNAMIC) {
			dyn_off = ph.p_offset;
			dyn_size = ph.p_filesz;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		if (p->nloads == MAX_LOADS)
			return corrupt("ELF program headers (too many PT_LOADs)");
		struct load *l = &p->loads[p->nloads];
		l->vaddr = ph.p_vaddr;
		l->memsz = ph.p_memsz;
		l->offset = ph.p_offset;
		l->flags = ph.p_flags;
		/* Bytes past the file's end (a truncated file) or past memsz are not there. */
		l->filesz = ph.p_filesz < ph.p_memsz ? ph.p_filesz : ph.p_memsz;
		if (l->offset > p->image_size)
			l->filesz = 0;
		else if (l->filesz > p->image_size - l->offset)
			l->filesz = p->image_size - l->offset;
		if (l->vaddr > UINT64_MAX - l->memsz)
			return corrupt("ELF program headers (a PT_LOAD wraps)");
		p->nloads++;
	}
	if (dyn_size)
		read_dynamic(p, dyn_off, dyn_size);
	return NULL;
}

/* The section called name: its address, file offset and size. */
static bool find_section(const struct gm_pclntab *p, const char *name, uint64_t *addr,
			 uint64_t *off, uint64_t *size)
{
	Elf64_Ehdr eh;
	memcpy(&eh, p->image, sizeof(eh));
	uint64_t n = eh.e_shnum;
	if (eh.e_shoff == 0 || eh.e_shentsize != sizeof(Elf64_Shdr) || eh.e_shoff > p->image_size ||
	    n > (p->image_size - eh.e_shoff) / sizeof(Elf64_Shdr) || eh.e_shstrndx >= n)
		return false;
	Elf64_Shdr strsh, sh;
	memcpy(&strsh, p->image + eh.e_shoff + eh.e_shstrndx * sizeof(sh), sizeof(sh));
	if (strsh.sh_offset > p->image_size || strsh.sh_size > p->image_size - strsh.sh_offset)
		return false;
	const char *names = (const char *)p->image + strsh.sh_offset;
	size_t want = strlen(name) + 1;
	for (uint64_t i = 0; i < n; i++) {
		memcpy(&sh, p->image + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_name >= strsh.sh_size || strsh.sh_size - sh.sh_name < want ||
		    memcmp(names + sh.sh_name, name, want) != 0)
			continue;
		if (sh.sh_type == SHT_NOBITS || sh.sh_offset > p->image_size ||
		    sh.sh_size > p->image_size - sh.sh_offset)
			return false;
		*addr = sh.sh_addr;
		*off = sh.sh_offset;
		*size = sh.sh_size;
		return true;
	}
	return false;
}

/* ---- the header and the functab ---- */

static uint32_t ftab_entryoff(const struct gm_pclntab *p, uint64_t i)
{
	return le32(p->tab + p->pclntable + i * FUNCTAB_ENTRY_SIZE);
}

static uint32_t ftab_funcoff(const struct gm_pclntab *p, uint64_t i)
{
	return le32(p->tab + p->pclntable + i * FUNCTAB_ENTRY_SIZE + 4);
}

/*
 * Reads the pcHeader at tab (avail bytes of the file from there) into p;
 * the reason it is not a usable pclntab, or NULL. Every offset is checked
 * against avail. With full, also the functab's order and record offsets
 * (the lookups rely on them); without, only its first and last entries,
 * which keeps a scan of the whole file linear.
 */
static const char *parse_header(struct gm_pclntab *p, const uint8_t *tab, uint64_t avail, bool full)
{
	if (avail < PCHEADER_SIZE)
		return "header (truncated)";
	uint32_t magic = le32(tab);
	if (magic != GM_PCLNTAB_MAGIC_GO118 && magic != GM_PCLNTAB_MAGIC_GO120)
		return "header (unknown magic)";
	uint8_t min_lc = p->info.machine == EM_AARCH64 ? 4 : 1;
	if (tab[4] != 0 || tab[5] != 0 || tab[6] != min_lc || tab[7] != 8)
		return "header (instruction size or pointer size)";
	uint64_t nfunc = le64(tab + 8), offs[5];
	for (int i = 0; i < 5; i++)
		offs[i] = le64(tab + 32 + 8 * i);
	/* funcnametab, cutab, filetab, pctab, pclntable: in this order (pcln.go). */
	if (offs[0] < PCHEADER_SIZE)
		return "header (table offsets)";
	for (int i = 1; i < 5; i++) {
		if (offs[i] < offs[i - 1])
			return "header (table offsets)";
	}
	if (offs[4] > avail)
		return "header (tables past its end)";
	uint64_t pclntable_size = avail - offs[4];
	if (nfunc == 0 || nfunc >= pclntable_size / FUNCTAB_ENTRY_SIZE)
		return "header (function count)";
	p->tab = tab;
	p->info.magic = magic;
	p->info.min_lc = min_lc;
	p->info.nfunc = nfunc;
	p->info.nfiles = le64(tab + 16);
	p->funcnametab = offs[0];
	p->funcnametab_size = offs[1] - offs[0];
	p->cutab = offs[1];
	p->cutab_count = (offs[2] - offs[1]) / 4;
	p->filetab = offs[2];
	p->filetab_size = offs[3] - offs[2];
	p->pctab = offs[3];
	p->pctab_size = offs[4] - offs[3];
	p->pclntable = offs[4];
	p->pclntable_size = pclntable_size;
	/* _func grew startLine in 1.20, inlinedCall lost parent/file/line (runtime2.go@1.20). */
	p->func_size = magic == GM_PCLNTAB_MAGIC_GO118 ? 40 : 44;
	p->inl_size = magic == GM_PCLNTAB_MAGIC_GO118 ? 20 : 16;
	if (ftab_entryoff(p, 0) > ftab_entryoff(p, nfunc) ||
	    (uint64_t)ftab_funcoff(p, 0) + p->func_size > pclntable_size)
		return "functab";
	uint32_t prev = 0;
	for (uint64_t i = 0; full && i <= nfunc; i++) {
		uint32_t e = ftab_entryoff(p, i);
		if (e < prev)
			return "functab (not sorted)";
		prev = e;
		if (i < nfunc && (uint64_t)ftab_funcoff(p, i) + p->func_size > pclntable_size)
			return "functab (a record past the table)";
	}
	return NULL;
}

static struct gomem_error *check_text(const struct gm_pclntab *p, uint64_t text)
{
	uint64_t lo = ftab_entryoff(p, 0), hi = ftab_entryoff(p, p->info.nfunc);
	if (text > UINT64_MAX - hi)
		return gm_error(GOMEM_ERROR_INCONSISTENT, "pclntab: text start 0x%llx wraps",
				(unsigned long long)text);
	for (size_t i = 0; i < p->nloads; i++) {
		const struct load *l = &p->loads[i];
		if ((l->flags & PF_X) && text + lo >= l->vaddr && text + hi <= l->vaddr + l->memsz)
			return NULL;
	}
	return gm_error(GOMEM_ERROR_INCONSISTENT,
			"pclntab: functions at text start 0x%llx are not in an executable segment",
			(unsigned long long)text);
}

struct gomem_error *gm_pclntab_set_text(struct gm_pclntab *p, uint64_t text)
{
	TRY(check_text(p, text));
	p->text = text;
	p->have_text = true;
	return NULL;
}

bool gm_pclntab_has_text(const struct gm_pclntab *p)
{
	return p->have_text;
}

void gm_pclntab_set_gofunc(struct gm_pclntab *p, uint64_t gofunc)
{
	p->gofunc = gofunc;
	p->have_gofunc = true;
}

/* Takes the table at link-time address addr, file offset off, avail bytes. */
static const char *use_table(struct gm_pclntab *p, uint64_t addr, uint64_t off, uint64_t avail)
{
	const char *why = parse_header(p, p->image + off, avail, true);
	if (why)
		return why;
	p->info.addr = addr;
	p->info.file_offset = off;
	p->info.size = avail;
	uint64_t text = 0;
	if (!link_word(p, addr + 24, &text))
		text = le64(p->tab + 24);
	p->info.header_text_start = text;
	p->have_text = false;
	/* 0 from 1.26 (cmd/link/internal/ld/pcln.go@1.26): then moduledata.text. */
	if (text) {
		struct gomem_error *err = check_text(p, text);
		if (err) {
			gomem_error_destroy(err);
			return "header (text start outside the text)";
		}
		p->text = text;
		p->have_text = true;
	}
	return NULL;
}

/*
 * Without section headers: the pointer-aligned places of the loaded file
 * that start with the magic, 0, 0, minLC, 8 and whose header and functab
 * hold together. When several do (a Go binary that carries another as
 * data), the one that a moduledata points at.
 */
static struct gomem_error *scan_for_table(struct gm_pclntab *p)
{
	struct {
		uint64_t addr, off, avail;
	} cands[MAX_SCAN_CANDIDATES];
	size_t ncands = 0;
	uint8_t min_lc = p->info.machine == EM_AARCH64 ? 4 : 1;
	const char *rejected = NULL; /* why the first place with the magic is not a table */
	for (size_t i = 0; i < p->nloads; i++) {
		const struct load *l = &p->loads[i];
		uint64_t skip = (8 - l->vaddr % 8) % 8;
		for (uint64_t in = skip; in + PCHEADER_SIZE <= l->filesz; in += 8) {
			const uint8_t *b = p->image + l->offset + in;
			uint32_t magic = le32(b);
			if ((magic != GM_PCLNTAB_MAGIC_GO118 && magic != GM_PCLNTAB_MAGIC_GO120) ||
			    b[4] || b[5] || b[6] != min_lc || b[7] != 8)
				continue;
			const char *why = parse_header(p, b, l->filesz - in, false);
			if (why) {
				rejected = rejected ? rejected : why;
				continue;
			}
			if (ncands == MAX_SCAN_CANDIDATES)
				return corrupt("file (too many pclntab candidates)");
			cands[ncands].addr = l->vaddr + in;
			cands[ncands].off = l->offset + in;
			cands[ncands].avail = l->filesz - in;
			ncands++;
		}
	}
	size_t pick = 0, picked = 0;
	const char *why = NULL;
	for (size_t i = 0; i < ncands; i++) {
		uint64_t md;
		why = use_table(p, cands[i].addr, cands[i].off, cands[i].avail);
		if (why)
			continue;
		struct gomem_error *err = gm_pclntab_find_moduledata(p, &md);
		if (!err || ncands == 1) {
			pick = i;
			picked++;
		}
		gomem_error_destroy(err);
	}
	if (ncands == 1 && why)
		rejected = why;
	if (ncands == 0 || (ncands == 1 && why))
		return gm_error(GOMEM_ERROR_NOT_GO,
				"pclntab: no .gopclntab section and no Go pclntab in the file%s%s",
				rejected ? ": its magic is there, with a corrupt " : "",
				rejected ? rejected : "");
	if (picked != 1)
		return gm_error(GOMEM_ERROR_FORMAT,
				"pclntab: %zu pclntabs in the file, and not one in use", ncands);
	return corrupt_or_null(use_table(p, cands[pick].addr, cands[pick].off, cands[pick].avail));
}

struct gomem_error *gm_pclntab_open(const uint8_t *image, uint64_t size, struct gm_pclntab **ret)
{
	struct gm_pclntab *p = calloc(1, sizeof(*p));
	if (!p)
		return &gm_error_no_memory;
	p->image = image;
	p->image_size = size;
	struct gomem_error *err = read_elf(p);
	if (err)
		goto fail;
	uint64_t addr, off, len;
	/* PIE before 1.26 puts it in .data.rel.ro.gopclntab (textStart needs a relocation). */
	if (find_section(p, ".gopclntab", &addr, &off, &len) ||
	    find_section(p, ".data.rel.ro.gopclntab", &addr, &off, &len)) {
		const char *why = use_table(p, addr, off, len);
		if (why) {
			err = corrupt(why);
			goto fail;
		}
		p->info.from_section = true;
	} else {
		err = scan_for_table(p);
		if (err)
			goto fail;
	}
	/* From 1.26 only moduledata.text gives the text start; the file has it too. */
	if (!p->have_text) {
		uint64_t md, text;
		struct gomem_error *e = gm_pclntab_find_moduledata(p, &md);
		if (!e)
			e = gm_pclntab_moduledata_text(p, md, &text);
		if (!e) {
			p->text = text;
			p->have_text = true;
		}
		gomem_error_destroy(e);
	}
	*ret = p;
	return NULL;
fail:
	free(p);
	return err;
}

void gm_pclntab_destroy(struct gm_pclntab *p)
{
	free(p);
}

const struct gm_pclntab_info *gm_pclntab_info(const struct gm_pclntab *p)
{
	return &p->info;
}

/* ---- moduledata ---- */

/* Whether a moduledata at md refers to this pclntab. */
static bool is_moduledata(const struct gm_pclntab *p, uint64_t md)
{
	uint64_t hdr, names, nftab;
	return link_word(p, md + MD_PCHEADER, &hdr) && hdr == p->info.addr &&
	       link_word(p, md + MD_FUNCNAMETAB, &names) &&
	       names == p->info.addr + p->funcnametab && link_word(p, md + MD_FTAB_LEN, &nftab) &&
	       nftab == p->info.nfunc + 1;
}

#define MAX_MODULEDATA_WORDS 64 /* words equal to the pclntab's address that are looked at */

struct md_search {
	uint64_t found[2]; /* the first two distinct moduledata */
	size_t nfound, nwords;
};

/* A word at md equals the pclntab's address: is a moduledata there? */
static void note_candidate(const struct gm_pclntab *p, uint64_t md, struct md_search *s)
{
	if (++s->nwords > MAX_MODULEDATA_WORDS)
		return;
	for (size_t i = 0; i < s->nfound && i < 2; i++) {
		if (s->found[i] == md)
			return;
	}
	if (!is_moduledata(p, md))
		return;
	if (s->nfound < 2)
		s->found[s->nfound] = md;
	s->nfound++;
}

struct gomem_error *gm_pclntab_find_moduledata(const struct gm_pclntab *p, uint64_t *ret)
{
	struct md_search s = {{0, 0}, 0, 0};
	for (size_t i = 0; i < p->nloads && s.nwords <= MAX_MODULEDATA_WORDS; i++) {
		const struct load *l = &p->loads[i];
		if (!(l->flags & PF_W))
			continue;
		uint64_t skip = (8 - l->vaddr % 8) % 8;
		for (uint64_t in = skip; in + 8 <= l->filesz; in += 8) {
			if (le64(p->image + l->offset + in) == p->info.addr)
				note_candidate(p, l->vaddr + in, &s);
		}
	}
	for (uint64_t i = 0; i < p->rela_count && s.nwords <= MAX_MODULEDATA_WORDS; i++) {
		Elf64_Rela r;
		memcpy(&r, p->image + p->rela_offset + i * sizeof(r), sizeof(r));
		if (ELF64_R_TYPE(r.r_info) == p->relative_type &&
		    (uint64_t)r.r_addend == p->info.addr)
			note_candidate(p, r.r_offset, &s);
	}
	if (s.nwords > MAX_MODULEDATA_WORDS)
		return gm_error(
		    GOMEM_ERROR_FORMAT,
		    "pclntab: more than %d words of the file hold the pclntab's address",
		    MAX_MODULEDATA_WORDS);
	if (s.nfound == 0)
		return gm_error(GOMEM_ERROR_FORMAT,
				"pclntab: no moduledata in the file refers to the pclntab");
	if (s.nfound > 1)
		return gm_error(GOMEM_ERROR_FORMAT,
				"pclntab: %zu moduledata candidates refer to the pclntab",
				s.nfound);
	*ret = s.found[0];
	return NULL;
}

struct gomem_error *gm_pclntab_moduledata_text(const struct gm_pclntab *p, uint64_t md,
					       uint64_t *ret)
{
	uint64_t text, minpc, maxpc;
	if (md > UINT64_MAX - MD_TEXT - 8 || !is_moduledata(p, md) ||
	    !link_word(p, md + MD_TEXT, &text) || !link_word(p, md + MD_MINPC, &minpc) ||
	    !link_word(p, md + MD_MAXPC, &maxpc))
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"pclntab: no moduledata of this pclntab at 0x%llx",
				(unsigned long long)md);
	/* moduledataverify: minpc and maxpc are the first and the end functab entries. */
	if (minpc - text != ftab_entryoff(p, 0) || maxpc - text != ftab_entryoff(p, p->info.nfunc))
		return gm_error(GOMEM_ERROR_INCONSISTENT,
				"pclntab: moduledata at 0x%llx: text 0x%llx does not match minpc "
				"0x%llx and maxpc 0x%llx",
				(unsigned long long)md, (unsigned long long)text,
				(unsigned long long)minpc, (unsigned long long)maxpc);
	TRY(check_text(p, text));
	*ret = text;
	return NULL;
}

/* ---- functions ---- */

uint64_t gm_pclntab_nfunc(const struct gm_pclntab *p)
{
	return p->info.nfunc;
}

static struct gomem_error *need_text(const struct gm_pclntab *p)
{
	if (p->have_text)
		return NULL;
	return gm_error(GOMEM_ERROR_USAGE,
			"pclntab: the text start is unknown (Go 1.26+: it is moduledata.text)");
}

/* The NUL-terminated string at off of a table of size bytes at base, or NULL. */
static const char *table_string(const struct gm_pclntab *p, uint64_t base, uint64_t size,
				uint64_t off)
{
	if (off >= size)
		return NULL;
	const char *s = (const char *)p->tab + base + off;
	return memchr(s, '\0', size - off) ? s : NULL;
}

static struct gomem_error *func_name(const struct gm_pclntab *p, int32_t nameoff, const char **ret)
{
	const char *s =
	    nameoff < 0 ? NULL
			: table_string(p, p->funcnametab, p->funcnametab_size, (uint64_t)nameoff);
	if (!s)
		return corrupt("function name offset");
	*ret = s;
	return NULL;
}

struct gomem_error *gm_pclntab_func(const struct gm_pclntab *p, uint64_t i, struct gm_func *ret)
{
	if (i >= p->info.nfunc)
		return gm_error(GOMEM_ERROR_USAGE, "pclntab: no function %llu",
				(unsigned long long)i);
	TRY(need_text(p));
	uint64_t rec = p->pclntable + ftab_funcoff(p, i); /* parse_header checked its size */
	const uint8_t *b = p->tab + rec;
	struct gm_func f = {0};
	f.index = (uint32_t)i;
	uint32_t entryoff = le32(b);
	if (entryoff != ftab_entryoff(p, i))
		return corrupt("function record (entry differs from the functab)");
	f.entry = p->text + entryoff;
	f.end = p->text + ftab_entryoff(p, i + 1);
	f.args = to_int32(le32(b + 8));
	f.deferreturn = le32(b + 12);
	f.pcsp = le32(b + 16);
	f.pcfile = le32(b + 20);
	f.pcln = le32(b + 24);
	f.npcdata = le32(b + 28);
	f.cu_offset = le32(b + 32);
	unsigned tail = 36;
	if (p->func_size == 44) {
		f.start_line = to_int32(le32(b + 36));
		tail = 40;
	}
	f.funcid = b[tail];
	f.flag = b[tail + 1];
	f.nfuncdata = b[tail + 3];
	uint64_t arrays = 4 * ((uint64_t)f.npcdata + f.nfuncdata);
	if (arrays > p->pclntable_size - (rec - p->pclntable) - p->func_size)
		return corrupt("function record (pcdata past the table)");
	f.record = p->info.file_offset + rec;
	TRY(func_name(p, to_int32(le32(b + 4)), &f.name));
	*ret = f;
	return NULL;
}

struct gomem_error *gm_pclntab_find_func(const struct gm_pclntab *p, uint64_t pc,
					 struct gm_func *ret, bool *found)
{
	TRY(need_text(p));
	uint64_t n = p->info.nfunc;
	if (pc < p->text || pc - p->text >= ftab_entryoff(p, n) ||
	    pc - p->text < ftab_entryoff(p, 0)) {
		*found = false;
		return NULL;
	}
	uint32_t off = (uint32_t)(pc - p->text);
	/* The last entry at or below off: findfunc's choice among equal entries. */
	uint64_t lo = 0, hi = n;
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (ftab_entryoff(p, mid) <= off)
			lo = mid;
		else
			hi = mid;
	}
	TRY(gm_pclntab_func(p, lo, ret));
	*found = true;
	return NULL;
}

struct gomem_error *gm_pclntab_func_by_entry(const struct gm_pclntab *p, uint64_t entry,
					     struct gm_func *ret, bool *found)
{
	struct gm_func f;
	bool in;
	TRY(gm_pclntab_find_func(p, entry, &f, &in));
	if (!in || f.entry != entry) {
		*found = false;
		return NULL;
	}
	*ret = f;
	*found = true;
	return NULL;
}

/* ---- pc-value tables ---- */

/* A varint of the pc-value tables: at most 5 bytes, 32 bits kept (readvarint, symtab.go). */
static bool read_varint(const uint8_t **q, const uint8_t *end, uint32_t *ret)
{
	uint32_t v = 0;
	for (unsigned shift = 0; shift <= 28 && *q < end; shift += 7) {
		uint8_t b = *(*q)++;
		v |= (uint32_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*ret = v;
			return true;
		}
	}
	return false;
}

struct gomem_error *gm_pclntab_pcvalue(const struct gm_pclntab *p, const struct gm_func *f,
				       uint32_t table, uint64_t pc, int32_t *ret)
{
	if (table == 0 || pc < f->entry) {
		*ret = -1;
		return NULL;
	}
	if (table >= p->pctab_size)
		return corrupt("pc-value table offset");
	const uint8_t *q = p->tab + p->pctab + table, *end = p->tab + p->pctab + p->pctab_size;
	uint64_t target = pc - f->entry, at = 0;
	uint32_t val = UINT32_MAX; /* -1 */
	/* Each step reads at least two bytes of the table: the loop ends. */
	for (;;) {
		uint32_t uv, pcdelta;
		if (q == end)
			return corrupt("pc-value table (no end)");
		/* A zero value delta ends the table, except at entry (step's first). */
		if (*q == 0 && at != 0)
			break;
		if (!read_varint(&q, end, &uv) || !read_varint(&q, end, &pcdelta))
			return corrupt("pc-value table (varint)");
		val += (0u - (uv & 1)) ^ (uv >> 1);
		at += (uint64_t)pcdelta * p->info.min_lc;
		if (target < at) {
			*ret = to_int32(val);
			return NULL;
		}
	}
	*ret = -1;
	return NULL;
}

/* The uint32 at index i of the arrays after the _func record: pcdata then funcdata. */
static uint32_t func_tail(const struct gm_pclntab *p, const struct gm_func *f, uint64_t i)
{
	return le32(p->image + f->record + p->func_size + 4 * i);
}

struct gomem_error *gm_pclntab_pcdata(const struct gm_pclntab *p, const struct gm_func *f,
				      uint32_t i, uint64_t pc, int32_t *ret)
{
	if (i >= f->npcdata) {
		*ret = -1;
		return NULL;
	}
	return gm_pclntab_pcvalue(p, f, func_tail(p, f, i), pc, ret);
}

struct gomem_error *gm_pclntab_spdelta(const struct gm_pclntab *p, const struct gm_func *f,
				       uint64_t pc, int32_t *ret)
{
	return gm_pclntab_pcvalue(p, f, f->pcsp, pc, ret);
}

struct gomem_error *gm_pclntab_funcdata(const struct gm_pclntab *p, const struct gm_func *f,
					uint32_t i, uint64_t *ret)
{
	if (i >= f->nfuncdata) {
		*ret = 0;
		return NULL;
	}
	uint32_t off = func_tail(p, f, (uint64_t)f->npcdata + i);
	if (off == UINT32_MAX) {
		*ret = 0;
		return NULL;
	}
	if (!p->have_gofunc)
		return gm_error(GOMEM_ERROR_USAGE,
				"pclntab: funcdata needs moduledata.gofunc, which is unknown");
	*ret = p->gofunc + off;
	return NULL;
}

struct gomem_error *gm_pclntab_image_bytes(const struct gm_pclntab *p, uint64_t addr, uint64_t len,
					   const uint8_t **ret)
{
	const uint8_t *b = at_addr(p, addr, len ? len : 1);
	if (!b)
		return gm_error(GOMEM_ERROR_FORMAT,
				"pclntab: %llu bytes at 0x%llx are not in the executable file",
				(unsigned long long)len, (unsigned long long)addr);
	*ret = b;
	return NULL;
}

struct gomem_error *gm_pclntab_file_line(const struct gm_pclntab *p, const struct gm_func *f,
					 uint64_t pc, const char **file_ret, int32_t *line_ret)
{
	int32_t fileno, line;
	TRY(gm_pclntab_pcvalue(p, f, f->pcfile, pc, &fileno));
	TRY(gm_pclntab_pcvalue(p, f, f->pcln, pc, &line));
	if (fileno == -1 || line == -1) {
		*file_ret = "?";
		*line_ret = 0;
		return NULL;
	}
	/* funcfile: cutab[cuOffset + fileno] is the file's offset in filetab, ^0 if none. */
	uint64_t cu = (uint64_t)f->cu_offset + (uint64_t)fileno;
	if (fileno < 0 || cu >= p->cutab_count)
		return corrupt("file number");
	uint32_t off = le32(p->tab + p->cutab + 4 * cu);
	if (off == UINT32_MAX) {
		*file_ret = "?";
		*line_ret = 0;
		return NULL;
	}
	const char *file = table_string(p, p->filetab, p->filetab_size, off);
	if (!file)
		return corrupt("file table offset");
	*file_ret = file;
	*line_ret = line;
	return NULL;
}

/* ---- inlining ---- */

struct inlined_call {
	const char *name;
	int32_t parent_pc, start_line;
	uint8_t funcid;
};

/* Entry ix of the inline tree at tree (runtime.inlinedCall). */
static struct gomem_error *inlined_call(const struct gm_pclntab *p, uint64_t tree, int32_t ix,
					struct inlined_call *ret)
{
	const uint8_t *b;
	uint64_t at = tree + (uint64_t)ix * p->inl_size;
	if (at < tree || !(b = at_addr(p, at, p->inl_size)))
		return corrupt("inline tree (an entry is not in the file)");
	struct inlined_call c = {0};
	if (p->inl_size == 20) {
		/* 1.19: parent int16, funcID, _, file, line, func_ int32, parentPc int32. */
		c.funcid = b[2];
		TRY(func_name(p, to_int32(le32(b + 12)), &c.name));
		c.parent_pc = to_int32(le32(b + 16));
	} else {
		/* 1.20+: funcID, _ [3]byte, nameOff, parentPc, startLine int32 (symtabinl.go). */
		c.funcid = b[0];
		TRY(func_name(p, to_int32(le32(b + 4)), &c.name));
		c.parent_pc = to_int32(le32(b + 8));
		c.start_line = to_int32(le32(b + 12));
	}
	*ret = c;
	return NULL;
}

static void put_frame(struct gm_frame *frames, size_t max, size_t n, const struct gm_frame *fr)
{
	if (n < max)
		frames[n] = *fr;
}

/*
 * The runtime's inlineUnwinder (symtabinl.go@1.21, gentraceback@1.19): the
 * inline tree index at pc names the inlined function, the file and line at
 * pc are its position; its parentPc is a pc of the caller at the call site.
 */
struct gomem_error *gm_pclntab_frames(const struct gm_pclntab *p, uint64_t pc,
				      struct gm_frame *frames, size_t max, size_t *n_ret)
{
	struct gm_func f;
	bool found;
	TRY(gm_pclntab_find_func(p, pc, &f, &found));
	if (!found) {
		*n_ret = 0;
		return NULL;
	}
	uint64_t tree = 0;
	if (f.nfuncdata > GM_FUNCDATA_INL_TREE && f.npcdata > GM_PCDATA_INL_TREE_INDEX)
		TRY(gm_pclntab_funcdata(p, &f, GM_FUNCDATA_INL_TREE, &tree));
	size_t n = 0;
	for (;;) {
		if (n == GM_PCLNTAB_MAX_INLINE_DEPTH)
			return corrupt("inline tree (a cycle, or too deep)");
		int32_t ix = -1;
		struct gm_frame fr = {.entry = f.entry, .pc = pc};
		if (tree)
			TRY(gm_pclntab_pcdata(p, &f, GM_PCDATA_INL_TREE_INDEX, pc, &ix));
		TRY(gm_pclntab_file_line(p, &f, pc, &fr.file, &fr.line));
		if (ix < 0) {
			fr.function = f.name;
			fr.start_line = f.start_line;
			fr.funcid = f.funcid;
			put_frame(frames, max, n++, &fr);
			break;
		}
		struct inlined_call c = {0};
		TRY(inlined_call(p, tree, ix, &c));
		fr.function = c.name;
		fr.start_line = c.start_line;
		fr.funcid = c.funcid;
		fr.inlined = true;
		put_frame(frames, max, n++, &fr);
		if (c.parent_pc < 0 || (uint64_t)c.parent_pc >= f.end - f.entry)
			return corrupt("inline tree (a parent pc outside its function)");
		pc = f.entry + (uint64_t)c.parent_pc;
	}
	*n_ret = n;
	return NULL;
}

/* ---- names ---- */

/* Appends n bytes of s to buf (size bytes) at *len, counting what does not fit. */
static void append(char *buf, size_t size, size_t *len, const char *s, size_t n)
{
	if (*len < size) {
		size_t room = size - *len - 1;
		memcpy(buf + *len, s, n < room ? n : room);
	}
	*len += n;
}

size_t gm_go_func_name_for_print(const char *name, char *buf, size_t size)
{
	size_t len = 0, n = strlen(name);
	const char *open = memchr(name, '[', n), *close = NULL;
	for (const char *c = name + n; open && c > open; c--) {
		if (c[-1] == ']') {
			close = c - 1;
			break;
		}
	}
	if (!close) {
		append(buf, size, &len, name, n);
	} else if (!memchr(open + 1, '[', (size_t)(close - open - 1))) {
		append(buf, size, &len, name, (size_t)(open - name));
		append(buf, size, &len, "[...]", 5);
		append(buf, size, &len, close + 1, strlen(close + 1));
	} else {
		/* A generic method of a generic type (1.27): "...]___[..." inside. */
		int depth = 1;
		const char *rbr = NULL, *lbr = NULL;
		for (const char *c = open + 1; c < close; c++) {
			if (*c == '[' && ++depth == 1) {
				lbr = c;
				break;
			}
			if (*c == ']' && --depth < 0)
				break;
			if (*c == ']' && depth == 0)
				rbr = c;
		}
		if (depth == 1 && rbr && lbr > rbr) {
			append(buf, size, &len, name, (size_t)(open - name));
			append(buf, size, &len, "[...]", 5);
			append(buf, size, &len, rbr + 1, (size_t)(lbr - rbr - 1));
			append(buf, size, &len, "[...]", 5);
			append(buf, size, &len, close + 1, strlen(close + 1));
		} else if (depth == 1 && !rbr && !lbr) {
			append(buf, size, &len, name, (size_t)(open - name));
			append(buf, size, &len, "[...]", 5);
			append(buf, size, &len, close + 1, strlen(close + 1));
		} else {
			append(buf, size, &len, name, n);
		}
	}
	if (size)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

/* ---- stack maps ---- */

struct gomem_error *gm_pclntab_stackmap(const struct gm_pclntab *p, const struct gm_func *f,
					uint32_t which, struct gm_stackmap *ret, bool *found)
{
	if (which != GM_FUNCDATA_ARGS_POINTER_MAPS && which != GM_FUNCDATA_LOCALS_POINTER_MAPS)
		return gm_error(GOMEM_ERROR_USAGE, "pclntab: funcdata %u is not a stack map",
				which);
	uint64_t addr;
	TRY(gm_pclntab_funcdata(p, f, which, &addr));
	if (!addr) {
		*found = false;
		return NULL;
	}
	const uint8_t *hdr = at_addr(p, addr, 8);
	if (!hdr)
		return corrupt("stack map (not in the file)");
	int32_t n = to_int32(le32(hdr)), nbit = to_int32(le32(hdr + 4));
	if (n < 0 || nbit < 0)
		return corrupt("stack map (negative size)");
	uint64_t len = (uint64_t)n * (((uint64_t)nbit + 7) / 8);
	if (len && !at_addr(p, addr + 8, len))
		return corrupt("stack map (bitmaps past the file)");
	ret->addr = addr;
	ret->n = n;
	ret->nbit = nbit;
	ret->bytedata = hdr + 8;
	*found = true;
	return NULL;
}
