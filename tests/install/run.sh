#!/usr/bin/env bash
# tests/install/run.sh [BUILD]
#
# Installs gomem into a temporary DESTDIR (PREFIX=/usr/local) with `make install` and uses
# the installed tree alone, as a user would:
#   - the files are there; libgomem.so.0 has its soname and exports gomem_* only (nm -D),
#     every function of gomem.h among them;
#   - pkg-config --cflags --libs gomem, and hello_gomem.c compiled with those flags (and once
#     statically, with --static) prints memstats.HeapAlloc of a committed core: the value
#     the program logged in its truth.json;
#   - the installed CLI prints the same;
#   - GDB with the installed plugin (GOMEM_LIB unset) loads the installed library, not the
#     checkout's (the GDB process's own mappings say which), and prints the same; still so
#     after the installed tree is moved elsewhere;
#   - make uninstall leaves no file behind.
# Prints one line per check; exit status 1 at the first failure.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
build=$(realpath -m "${1:-$top/build}")
prefix=/usr/local
fixture=hello-go1.26 # a committed core (fixtures/demo), with cgo: a dynamic executable

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gomem-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
dest=$tmp/dest
root=$dest$prefix

fail() {
	printf 'install test: FAIL: %s\n' "$*" >&2
	exit 1
}
ok() { printf 'install test: ok   %s\n' "$*"; }

unset GOMEM_LIB
make -s -C "$top" BUILD="$build" install DESTDIR="$dest" PREFIX="$prefix" >"$tmp/install.log" 2>&1 ||
	fail "make install: $(tail -n 3 "$tmp/install.log")"
for f in lib/libgomem.so.0 lib/libgomem.a include/gomem.h lib/pkgconfig/gomem.pc bin/gomem \
	share/gomem/memplug.py; do
	[ -f "$root/$f" ] || fail "make install did not install $prefix/$f"
done
[ "$(readlink "$root/lib/libgomem.so")" = libgomem.so.0 ] ||
	fail "$prefix/lib/libgomem.so is not a symlink to libgomem.so.0"
ok "make install DESTDIR=\$tmp PREFIX=$prefix: $(cd "$dest" && find . -type f -o -type l | sort | tr '\n' ' ')"

soname=$(readelf -d "$root/lib/libgomem.so.0" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libgomem.so.0 ] || fail "soname is '$soname', not libgomem.so.0"
exported=$(nm -D --defined-only "$root/lib/libgomem.so.0" | awk '$2 != "A" { print $3 }' | sort)
others=$(grep -v '^gomem_[a-z_0-9]*@@GOMEM_0$' <<<"$exported" || true)
[ -z "$others" ] || fail "libgomem.so.0 exports more than gomem_*: $others"
declared=$(grep -oE 'GOMEM_EXPORT [^(]*\b(gomem_[a-z_0-9]+)\(' "$top/libcore/include/gomem.h" |
	grep -oE 'gomem_[a-z_0-9]+\($' | tr -d '(' | sort)
[ -n "$declared" ] || fail "no GOMEM_EXPORT function found in gomem.h"
missing=$(comm -23 <(echo "$declared") <(sed 's/@@.*//' <<<"$exported"))
[ -z "$missing" ] || fail "gomem.h declares functions libgomem.so.0 does not export: $missing"
ok "soname libgomem.so.0; nm -D: $(wc -l <<<"$exported") symbols, all gomem_*@@GOMEM_0, every function of gomem.h"

export PKG_CONFIG_PATH=$root/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$dest
flags=$(pkg-config --cflags --libs gomem) || fail "pkg-config --cflags --libs gomem failed"
flags=$(echo $flags) # one blank between words
case " $flags " in *" -I$root/include "*" -L$root/lib -lgomem "*) ;;
*) fail "pkg-config --cflags --libs gomem gives '$flags'" ;; esac
case " $flags " in *" -ldw "* | *" -lelf "*) fail "pkg-config --libs gomem (not --static) gives $flags" ;; esac
static_flags=$(pkg-config --static --cflags --libs gomem)
case " $static_flags " in *" -ldw "*" -lelf "*) ;; *) fail "pkg-config --static lacks libdw/libelf: $static_flags" ;; esac
version=$("$root/bin/gomem" --version)
[ "gomem $(pkg-config --modversion gomem)" = "$version" ] ||
	fail "gomem.pc's version is not that of '$version'"
ok "pkg-config --cflags --libs gomem: $flags"

"$top/fixtures/unpack.sh" "$fixture" "$tmp/core" >/dev/null || fail "cannot unpack $fixture"
exe=$tmp/core/exe core=$tmp/core/core.kernel
want=$(sed -n 's/.*"HeapAlloc": *\([0-9]*\).*/\1/p' "$tmp/core/truth.json")
[ -n "$want" ] || fail "no HeapAlloc in $fixture's truth.json"

# shellcheck disable=SC2086 # the flags are words
cc -std=c11 -Wall -Wextra -Werror -o "$tmp/hello" "$top/tests/install/hello_gomem.c" $flags ||
	fail "hello_gomem.c does not compile with the installed gomem"
readelf -d "$tmp/hello" | grep -q 'NEEDED.*\[libgomem\.so\.0\]' ||
	fail "hello_gomem is not linked against libgomem.so.0"
loaded=$(LD_LIBRARY_PATH=$root/lib ldd "$tmp/hello" | awk '$1 == "libgomem.so.0" { print $3 }')
[ "$loaded" = "$root/lib/libgomem.so.0" ] || fail "hello_gomem loads '$loaded'"
got=$(LD_LIBRARY_PATH=$root/lib "$tmp/hello" "$exe" "$core") || fail "hello_gomem failed"
[ "$got" = "$want" ] || fail "hello_gomem printed HeapAlloc $got, the truth is $want"
ok "hello_gomem.c with those flags, on $root/lib/libgomem.so.0: HeapAlloc $got = truth.json"

# shellcheck disable=SC2086
cc -std=c11 -static -o "$tmp/hello-static" "$top/tests/install/hello_gomem.c" $static_flags \
	2>"$tmp/static.log" || fail "static link failed: $(head -n 3 "$tmp/static.log")"
got=$("$tmp/hello-static" "$exe" "$core") || fail "the static hello_gomem failed"
[ "$got" = "$want" ] || fail "the static hello_gomem printed HeapAlloc $got, the truth is $want"
ok "hello_gomem.c linked -static with pkg-config --static (libgomem.a): HeapAlloc $got"

got=$("$root/bin/gomem" summary --json "$exe" "$core" |
	sed -n '/"memstats"/,$p' | grep -o '"HeapAlloc": [0-9]*' | head -n 1 | grep -o '[0-9]*$')
[ "$got" = "$want" ] || fail "the installed CLI printed HeapAlloc '$got', the truth is $want"
ok "installed bin/gomem summary --json: HeapAlloc $got"

# GDB with the installed plugin: which libgomem the GDB process mapped, and the summary.
gdb_check() {
	local plugin=$1 lib=$2 out
	out=$(gdb -nx -q -batch -iex "set auto-load off" -x "$plugin" -ex "gomem summary --json" \
		-ex "python import re; print('libgomem mapped:', sorted({l.split()[-1] for l in open('/proc/self/maps') if 'libgomem' in l}))" \
		"$exe" "$core" 2>&1) || true
	grep -qF "libgomem mapped: ['$lib']" <<<"$out" ||
		fail "GDB with $plugin did not load $lib alone: $(grep 'libgomem\|gomem:' <<<"$out" | head -n 3)"
	got=$(sed -n '/"memstats"/,$p' <<<"$out" | grep -o '"HeapAlloc": [0-9]*' | head -n 1 |
		grep -o '[0-9]*$')
	[ "$got" = "$want" ] || fail "gomem summary in GDB printed HeapAlloc '$got', the truth is $want"
	ok "gdb -x ${plugin#"$tmp"/}: loaded ${lib#"$tmp"/} (and no other libgomem), HeapAlloc $got"
}
gdb_check "$root/share/gomem/memplug.py" "$root/lib/libgomem.so.0"
mv "$root" "$tmp/moved"
gdb_check "$tmp/moved/share/gomem/memplug.py" "$tmp/moved/lib/libgomem.so.0"
mv "$tmp/moved" "$root"

make -s -C "$top" BUILD="$build" uninstall DESTDIR="$dest" PREFIX="$prefix" >"$tmp/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -n 3 "$tmp/uninstall.log")"
left=$(find "$dest" ! -type d)
[ -z "$left" ] || fail "make uninstall left $left"
ok "make uninstall removed every file"
