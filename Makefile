# gomem: libcore (shared library), the gomem CLI and the tests.
# Outputs go to build/ (or $(BUILD)); ./setup drives this file.

BUILD      ?= build
CC         ?= cc
PKGS       := libdw libelf zlib
DEPS_CFLAGS := $(shell pkg-config --cflags $(PKGS))
DEPS_LIBS  := $(shell pkg-config --libs $(PKGS)) -lm
WARN       := -Wall -Wextra -Wformat-security -Wimplicit-fallthrough -Wmissing-prototypes \
              -Wpointer-arith -Wshadow -Wvla -Wno-unused-parameter
ifeq ($(WERROR),1)
WARN       += -Werror
endif
OPT        ?= -O2 -g
SAN        ?=
CFLAGS_ALL := -std=c11 $(OPT) $(SAN) $(WARN) -fPIC -fvisibility=hidden \
              -Ilibcore/include -Ilibcore/src $(DEPS_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SAN) $(LDFLAGS)

# libcore/src has one folder per layer of the data flow (libcore/src/README.md).
LIB_SRCS := $(wildcard libcore/src/*/*.c)
# The layout tables for binaries without DWARF, compiled in (libcore/src/dwarf/tables.h).
LAYOUT_TABLES := $(sort $(wildcard libcore/layouts/*.txt))
LIB_OBJS := $(patsubst libcore/src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS)) $(BUILD)/obj/gen/layouts.o
HEADERS  := $(wildcard libcore/include/*.h libcore/src/*/*.h)

UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))

.PHONY: all lib cli unit tools fuzz clean format format-check check-layers
all: lib cli

lib: $(BUILD)/libgomem.so
cli: $(BUILD)/gomem

$(BUILD)/obj/%.o: libcore/src/%.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/gen/layouts.c: $(LAYOUT_TABLES) tools/layouts/embed.sh
	@mkdir -p $(dir $@)
	tools/layouts/embed.sh $(LAYOUT_TABLES) >$@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/layouts.o: $(BUILD)/gen/layouts.c libcore/src/dwarf/tables.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libgomem.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libgomem.so: $(LIB_OBJS)
	$(CC) -shared $(SO_LDFLAGS) -o $@ $(filter %.o,$^) $(LDFLAGS_ALL) $(DEPS_LIBS)

CLI_SRCS := $(wildcard libcore/cli/*.c)

$(BUILD)/gomem: $(CLI_SRCS) $(wildcard libcore/cli/*.h) $(BUILD)/libgomem.a $(HEADERS)
	$(CC) $(CFLAGS_ALL) -o $@ $(CLI_SRCS) $(BUILD)/libgomem.a $(LDFLAGS_ALL) $(DEPS_LIBS)

# Unit tests link the static library, so they can reach internal functions.
$(BUILD)/tests/%: tests/unit/%.c tests/unit/*.h $(BUILD)/libgomem.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fvisibility=default -Itests/unit -o $@ $< $(BUILD)/libgomem.a \
		$(LDFLAGS_ALL) $(DEPS_LIBS) -lcmocka

unit: $(UNIT_BINS)

# tools/layouts/record.c: the layout tables' recorder (tools/layouts/generate.sh).
$(BUILD)/tools/gomem-layout-record: tools/layouts/record.c $(BUILD)/libgomem.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fvisibility=default -o $@ $< $(BUILD)/libgomem.a $(LDFLAGS_ALL) \
		$(DEPS_LIBS)

tools: $(BUILD)/tools/gomem-layout-record

# libFuzzer targets (tests/fuzz): clang, with libcore built again in
# $(BUILD)/fuzz/lib for coverage, AddressSanitizer and UndefinedBehaviorSanitizer.
# tests/fuzz/run.sh builds and runs them.
FUZZ_CC   ?= clang
FUZZ_SAN  := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

fuzz: $(FUZZ_BINS)

$(BUILD)/fuzz/lib/libgomem.a: FORCE
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz/lib CC=$(FUZZ_CC) OPT="-O1 -g" \
		SAN="-fsanitize=fuzzer-no-link $(FUZZ_SAN)" $@

$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(BUILD)/fuzz/lib/libgomem.a
	$(FUZZ_CC) -std=c11 -O1 -g -fsanitize=fuzzer $(FUZZ_SAN) $(WARN) -Ilibcore/include \
		-Ilibcore/src $(DEPS_CFLAGS) -o $@ $< $(BUILD)/fuzz/lib/libgomem.a $(DEPS_LIBS)

.PHONY: FORCE
FORCE:

FORMAT_FILES = $(wildcard libcore/include/*.h libcore/src/*/*.[ch] libcore/cli/*.[ch] \
		 tests/unit/*.[ch] tests/fuzz/*.[ch] tools/layouts/*.c)

# A file uses only its own layer and earlier ones: includes, and symbols (nm).
check-layers: $(LIB_OBJS)
	tools/check-layers.sh -o $(BUILD)/obj

format:
	clang-format -i $(FORMAT_FILES)

format-check:
	clang-format --dry-run --Werror $(FORMAT_FILES)

clean:
	rm -rf $(BUILD)

include mk/install.mk
