# make install, make uninstall, make check: included by the Makefile.
#
#   make install [PREFIX=/usr/local] [DESTDIR=]   the shared and static library, gomem.h,
#                                                 gomem.pc, the CLI and the GDB plugin
#   make uninstall [PREFIX=...] [DESTDIR=]        removes what install put there
#   make check                                    the unit tests and the committed cores
#                                                 (fixtures/demo): no Go, no fixture building
#
# BINDIR, LIBDIR, INCLUDEDIR, DATADIR and PKGCONFIGDIR follow PREFIX unless given.

PREFIX       ?= /usr/local
BINDIR       ?= $(PREFIX)/bin
LIBDIR       ?= $(PREFIX)/lib
INCLUDEDIR   ?= $(PREFIX)/include
DATADIR      ?= $(PREFIX)/share
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig
INSTALL      ?= install

# The soname, and a version script that exports gomem_* only (the Makefile's link line of
# $(BUILD)/libgomem.so takes SO_LDFLAGS).
SONAME     := libgomem.so.0
LIB_MAP    := libcore/libgomem.map
SO_LDFLAGS := -Wl,-soname,$(SONAME) -Wl,--version-script=$(LIB_MAP)
$(BUILD)/libgomem.so: $(LIB_MAP)

# The version gomem_version() returns, for gomem.pc.
GOMEM_PC_VERSION = $(shell grep -rhoE 'define[[:space:]]+GOMEM_VERSION[[:space:]]+"[^"]+"' \
                     libcore/src | sed -E 's/.*"(.*)"/\1/' | head -n 1)

# The plugin loads the library by this path relative to its own file, so an installed tree
# still works when it is staged (DESTDIR) or moved as a whole.
PLUGIN_LIB_REL = $(shell realpath -m --relative-to='$(DATADIR)/gomem' '$(LIBDIR)/$(SONAME)')

.PHONY: install uninstall check

install: $(BUILD)/libgomem.so $(BUILD)/libgomem.a $(BUILD)/gomem
	@[ -n '$(GOMEM_PC_VERSION)' ] || { echo "install: no GOMEM_VERSION in libcore/src" >&2; \
		exit 1; }
	sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(GOMEM_PC_VERSION)|' mk/gomem.pc.in >$(BUILD)/gomem.pc
	sed 's|^_INSTALLED_LIB = None$$|_INSTALLED_LIB = "$(PLUGIN_LIB_REL)"|' plugin/memplug.py \
		>$(BUILD)/memplug.py
	@grep -q '^_INSTALLED_LIB = "' $(BUILD)/memplug.py || { echo "install:" \
		"plugin/memplug.py has no '_INSTALLED_LIB = None' line to point at the library" >&2; \
		exit 1; }
	$(INSTALL) -d '$(DESTDIR)$(LIBDIR)' '$(DESTDIR)$(PKGCONFIGDIR)' '$(DESTDIR)$(INCLUDEDIR)' \
		'$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(DATADIR)/gomem'
	$(INSTALL) -m 755 $(BUILD)/libgomem.so '$(DESTDIR)$(LIBDIR)/$(SONAME)'
	ln -sfn $(SONAME) '$(DESTDIR)$(LIBDIR)/libgomem.so'
	$(INSTALL) -m 644 $(BUILD)/libgomem.a '$(DESTDIR)$(LIBDIR)/libgomem.a'
	$(INSTALL) -m 644 libcore/include/gomem.h '$(DESTDIR)$(INCLUDEDIR)/gomem.h'
	$(INSTALL) -m 644 $(BUILD)/gomem.pc '$(DESTDIR)$(PKGCONFIGDIR)/gomem.pc'
	$(INSTALL) -m 755 $(BUILD)/gomem '$(DESTDIR)$(BINDIR)/gomem'
	$(INSTALL) -m 644 $(BUILD)/memplug.py '$(DESTDIR)$(DATADIR)/gomem/memplug.py'
	@if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
		echo ldconfig; ldconfig; fi

uninstall:
	rm -f '$(DESTDIR)$(LIBDIR)/$(SONAME)' '$(DESTDIR)$(LIBDIR)/libgomem.so' \
		'$(DESTDIR)$(LIBDIR)/libgomem.a' '$(DESTDIR)$(INCLUDEDIR)/gomem.h' \
		'$(DESTDIR)$(PKGCONFIGDIR)/gomem.pc' '$(DESTDIR)$(BINDIR)/gomem' \
		'$(DESTDIR)$(DATADIR)/gomem/memplug.py'
	rmdir '$(DESTDIR)$(DATADIR)/gomem' 2>/dev/null || true
	@if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then \
		echo ldconfig; ldconfig; fi

check: all unit
	@tests/check.sh '$(BUILD)'
