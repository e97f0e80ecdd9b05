/* libdw's handle of a program's own DWARF, for the files of this folder only. */
#ifndef GOMEM_DWARF_LIBDW_H
#define GOMEM_DWARF_LIBDW_H

#include <elfutils/libdw.h>

#include "dwarf/dwarf.h"

/* NULL when the answers do not come from this program's DWARF (gm_dwarf_is_program). */
Dwarf *gm_dwarf_libdw(const struct gm_dwarf *d);

#endif /* GOMEM_DWARF_LIBDW_H */
