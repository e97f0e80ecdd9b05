#!/usr/bin/env bash
# tests/check.sh [BUILD]: what `make check` runs after building, the fast loop.
#
# The unit tests (test_dwarf on a committed fixture's executable, and on the same file with
# its DWARF stripped by objcopy), then test_summary.py, test_arm64.py and test_schemas.py on
# the committed cores of fixtures/demo only (GOMEM_FIXTURES=committed; the arm64 one too). No Go toolchain, no fixture
# building, nothing installed: ./setup test runs everything.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
build=$(realpath -m "${1:-$top/build}")
cd "$top"
say() { printf '==> %s\n' "$*"; }

# The newest committed heapmix: a Go binary with DWARF for the unit tests.
name=$(cd fixtures/demo && ls heapmix-*.exe.xz | sort -V | tail -n 1)
name=${name%.exe.xz}
[ -n "$name" ] || { echo "check: no committed heapmix in fixtures/demo" >&2; exit 1; }
exe=$build/committed/$name/exe
fixtures/unpack.sh "$name" "$build/committed/$name" >/dev/null
nodwarf=$build/check/$name-nodwarf
if [ ! -f "$nodwarf" ] || [ "$exe" -nt "$nodwarf" ]; then
	mkdir -p "$build/check"
	objcopy --strip-debug "$exe" "$nodwarf.tmp" && mv "$nodwarf.tmp" "$nodwarf"
fi

failed=0
say "unit tests (cmocka), GOMEM_TEST_EXE: committed $name"
for t in "$build"/tests/test_*; do
	# Unit tests that read the fixtures ./setup test builds (not committed): said, not run.
	case $(basename "$t") in
	test_gotypes)
		printf '%-16s not run: it reads build/fixtures/objgraph-* (./setup test builds them)\n' \
			"$(basename "$t")"
		continue
		;;
	esac
	out=$(GOMEM_TEST_EXE=$exe GOMEM_TEST_EXE_NODWARF=$nodwarf "$t" 2>&1) && status=0 || status=$?
	if [ "$status" -eq 0 ]; then
		printf '%-16s %s\n' "$(basename "$t")" "$(grep -o 'PASSED.*' <<<"$out" | tail -n 1)"
	else
		printf '%s\n' "$out"
		failed=1
	fi
done

py=python3
if ! "$py" -c "import pytest, jsonschema" 2>/dev/null; then
	py=/usr/bin/python3
	"$py" -c "import pytest, jsonschema" 2>/dev/null || {
		echo "check: python3 with pytest and jsonschema needed (apt install python3-pytest python3-jsonschema, or ./setup test)" >&2
		exit 1
	}
fi
say "committed cores: summary against their truth, every verb's JSON against its schema"
GOMEM_BUILD=$build GOMEM_FIXTURES=committed "$py" -m pytest -q -p no:cacheprovider \
	-k "not fixture_cores_exist and not live_process and not gdb" \
	tests/integration/test_summary.py tests/integration/test_arm64.py \
	tests/integration/test_schemas.py || failed=1

if [ "$failed" -ne 0 ]; then
	say "make check FAILED"
	exit 1
fi
say "make check passed"
