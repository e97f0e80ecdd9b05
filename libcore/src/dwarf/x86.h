/*
 * An x86-64 instruction decoder for the code patterns that find the Go
 * runtime's globals in a binary without DWARF (globals.c): the length of
 * every instruction, its opcode, its ModRM operands, RIP-relative memory
 * operands, immediates and branch targets. Enough for what Go's compiler
 * and assembler emit (legacy, REX, VEX and EVEX encodings); it never reads
 * past the bytes it is given.
 */
#ifndef GOMEM_DWARF_X86_H
#define GOMEM_DWARF_X86_H

#include "base/base.h"

enum { GM_X86_RAX = 0, GM_X86_RCX = 1, GM_X86_RDX = 2, GM_X86_RBX = 3, GM_X86_RSP = 4 };
#define GM_X86_NO_REG 0xff

struct gm_x86_insn {
	uint8_t len;
	uint8_t map; /* 0: one-byte opcodes, 1: 0F, 2: 0F 38, 3: 0F 3A */
	uint8_t op;
	bool vex;     /* VEX or EVEX encoded */
	bool lock;    /* F0 */
	bool fs;      /* FS segment override (64) */
	bool rex_w;   /* 64-bit operand size */
	bool opsize;  /* 66 */
	bool modrm;   /* has a ModRM byte */
	uint8_t mod;  /* ModRM.mod */
	uint8_t reg;  /* ModRM.reg with REX.R: 0-15 */
	uint8_t rm;   /* ModRM.rm with REX.B (a register when mod == 3) */
	bool mem;     /* a memory operand (mod != 3) */
	bool rip;     /* ... addressed RIP-relative: its address is end + disp */
	uint8_t base; /* ... its base register (GM_X86_NO_REG when none) */
	uint8_t index;
	int64_t disp;
	uint8_t imm_size;
	int64_t imm;
	bool rel;	 /* a relative branch: call, jmp, jcc */
	int64_t rel_off; /* its target is end + rel_off */
};

/*
 * Decodes the instruction at p (at most n bytes). False when the bytes are
 * not an instruction it knows, or run past n.
 */
bool gm_x86_decode(const uint8_t *p, size_t n, struct gm_x86_insn *ret);

#endif /* GOMEM_DWARF_X86_H */
