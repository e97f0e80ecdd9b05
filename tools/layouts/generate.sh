#!/usr/bin/env bash
# tools/layouts/generate.sh [-c] [-b BUILD] [1.N[/CONFIG]...]
#
# Writes gomem's layout tables, libcore/layouts/go1.N.txt: for each Go
# release and each configuration that changes a layout, every answer
# gomem's resolver gets from the DWARF of an empty program (empty/) built
# by Debian's golang-1.N (fixtures/toolchain.sh), recorded by
# gomem-layout-record (record.c), which also checks the code patterns that
# find the runtime's globals against that DWARF (0 wrong, or it fails).
# A configuration whose answers are those of one before it is written as
# an alias: "[go1.N amd64 X:arenas] = [go1.N amd64]".
#
#   1.N          the releases to write (default: every release below)
#   1.N/CONFIG   with -c: one configuration only (default, race, or an
#                experiment as GOEXPERIMENT spells it)
#   -c           check instead of write: the committed tables must be what
#                this script makes today, byte for byte. When Debian has
#                moved to a newer patch release than the table was made
#                from, the answers are compared without the "from" version,
#                and a note says to regenerate.
#   -b BUILD     gomem's build folder (default: build); the empty programs
#                are built under BUILD/layouts/ (cached by the go command)
#
# To add a release: add its line to configs() below (its configurations:
# the defaults, race, staticlockranking, and every GOEXPERIMENT of that
# release that changes a runtime layout: see internal/goexperiment/flags.go
# and `go doc runtime`), make fixtures/toolchain.sh know its Debian suite,
# run this script for it, and commit libcore/layouts/go1.N.txt.
#
# Exit status: 0; 1 when a table differs (-c) or a global was found at a
# wrong address; 2 on bad usage or a failed build.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
build=$top/build
check=""
while getopts "cb:h" opt; do
	case $opt in
	c) check=1 ;;
	b) build=$(cd "$OPTARG" && pwd -P) ;;
	*) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))

die() {
	printf 'generate.sh: %s\n' "$*" >&2
	exit 2
}

# The configurations of each release: "default", "race", or a GOEXPERIMENT.
configs() {
	case $1 in
	1.19) echo "default staticlockranking race" ;;
	1.21) echo "default staticlockranking arenas race" ;;
	1.22) echo "default staticlockranking noallocheaders arenas race" ;;
	1.23) echo "default staticlockranking arenas race" ;;
	1.24) echo "default staticlockranking nospinbitmutex noswissmap arenas race" ;;
	1.25) echo "default staticlockranking greenteagc noswissmap arenas race" ;;
	1.26) echo "default staticlockranking nogreenteagc norandomizedheapbase64 arenas race" ;;
	1.27) echo "default staticlockranking nogreenteagc nosizespecializedmalloc mapsplitgroup arenas race" ;;
	*) return 1 ;;
	esac
}
releases="1.19 1.21 1.22 1.23 1.24 1.25 1.26 1.27"

make -s -C "$top" BUILD="$build" tools >&2 || die "cannot build gomem-layout-record"
rec=$build/tools/gomem-layout-record

# record VERSION CONFIG OUT: the section of one configuration into OUT.
record() {
	local v=$1 config=$2 out=$3 go dir exe
	go=$("$top/fixtures/toolchain.sh" "$v") || die "no Go $v toolchain"
	dir=$build/layouts/go$v-$config
	exe=$dir/empty
	mkdir -p "$dir"
	local env=(env -u GOFLAGS -u GOEXPERIMENT -u GOOS -u GOARCH -u GOAMD64 -u GOROOT
		GOTOOLCHAIN=local GOWORK=off GO111MODULE=on CGO_ENABLED=0)
	local flags=()
	case $config in
	default) ;;
	race) env+=(CGO_ENABLED=1) flags+=(-race) ;;
	*) env+=("GOEXPERIMENT=$config") ;;
	esac
	(cd "$top/tools/layouts/empty" && "${env[@]}" "$go" build "${flags[@]}" -o "$exe" .) \
		>"$dir/build.log" 2>&1 || die "go$v $config: build failed (see $dir/build.log)"
	"$rec" "$exe" >"$out" || {
		"$rec" --globals "$exe" >&2 || true
		printf 'generate.sh: go%s %s: a global was found at a wrong address\n' "$v" "$config" >&2
		exit 1
	}
}

# table VERSION OUT [ONLY]: the whole table of a release (or one configuration) into OUT.
table() {
	local v=$1 out=$2 only=${3:-} tmp config i j header
	tmp=$(mktemp -d)
	local bodies=() headers=()
	{
		printf '# gomem layout table for Go %s: written by tools/layouts/generate.sh, do not edit.\n' "$v"
		printf '# The answers gomem asks of DWARF, from an empty program built by Debian'"'"'s\n'
		printf '# golang-%s with each configuration that changes a layout (libcore/src/dwarf/tables.h).\n' "$v"
	} >"$out"
	i=0
	for config in $(configs "$v"); do
		[ -z "$only" ] || [ "$only" = "$config" ] || continue
		record "$v" "$config" "$tmp/$i"
		header=$(head -n 1 "$tmp/$i")
		tail -n +2 "$tmp/$i" >"$tmp/$i.body"
		local alias=""
		for ((j = 0; j < i; j++)); do
			if [ -n "${headers[$j]:-}" ] && cmp -s "$tmp/$j.body" "$tmp/$i.body"; then
				alias=${headers[$j]%% from *}
				break
			fi
		done
		if [ -n "$alias" ]; then
			printf '%s = %s\n' "${header%% from *}" "$alias" >>"$out"
		else
			cat "$tmp/$i" >>"$out"
			headers[$i]=$header
		fi
		i=$((i + 1))
	done
	rm -rf "$tmp"
}

# Without the "from VERSION" of the section headers.
strip_from() { sed 's/^\(\[[^]]*\]\) from .*/\1/' "$1"; }

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($releases)
failed=0
for t in "${targets[@]}"; do
	v=${t%%/*}
	only=""
	[ "$t" = "$v" ] || only=${t#*/}
	configs "$v" >/dev/null || die "no configurations for Go $v (add them to configs())"
	committed=$top/libcore/layouts/go$v.txt
	if [ -z "$check" ]; then
		[ -z "$only" ] || die "-c is needed to make one configuration ($t)"
		table "$v" "$committed.tmp"
		mv "$committed.tmp" "$committed"
		echo "wrote libcore/layouts/go$v.txt"
		continue
	fi
	[ -f "$committed" ] || { echo "generate.sh: no committed table for Go $v"; failed=1; continue; }
	made=$(mktemp)
	table "$v" "$made" "$only"
	# One configuration: its section of the committed table (up to the next header).
	want=$(mktemp)
	if [ -n "$only" ]; then
		key=$(sed -n '4p' "$made" | sed 's/^\(\[[^]]*\]\).*/\1/')
		head -n 3 "$committed" >"$want"
		awk -v k="$key" 'index($0, k) == 1 { on = 1; print; next } /^\[/ { on = 0 } on' \
			"$committed" >>"$want"
	else
		cp "$committed" "$want"
	fi
	if cmp -s "$made" "$want"; then
		echo "go$v${only:+ $only}: the committed table is what the script makes (byte for byte)"
	elif cmp -s <(strip_from "$made") <(strip_from "$want"); then
		echo "go$v${only:+ $only}: same answers, but made from $(sed -n '4s/.* from //p' "$made") here" \
			"and $(sed -n '4s/.* from //p' "$want") in the table: regenerate it (tools/layouts/generate.sh $v)"
	else
		echo "go$v${only:+ $only}: the committed table differs from what the script makes:"
		diff "$want" "$made" | head -n 20
		failed=1
	fi
	rm -f "$made" "$want"
done
exit "$failed"
