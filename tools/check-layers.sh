#!/usr/bin/env bash
# tools/check-layers.sh [-s SRC] [-o OBJ]
#
# Checks that libcore follows its data flow (libcore/src/README.md): the
# layers, earliest first, are
#
#   base < target < dwarf < runtime < objects < addrspace < verbs
#
# and a file uses only its own layer and earlier ones.
#
#   1. includes: every #include "LAYER/..." of a file in SRC/LAYER/ names a
#      layer that is not later than its own (and an include without a folder
#      names a header of the file's own folder);
#   2. symbols (with -o): no object file OBJ/LAYER/*.o uses (nm -u) a symbol
#      that an object file of a later layer defines.
#
#   -s SRC   the library's source folder (default: libcore/src of this checkout)
#   -o OBJ   the folder of its object files, one subfolder per layer (build/obj)
#
# Prints one line per violation; exit status 0 when there is none, 1 when
# there are, 2 on bad usage (an unknown layer folder included).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
layers=(base target dwarf runtime objects addrspace verbs)
src=$top/libcore/src
obj=""
while getopts "s:o:h" opt; do
	case $opt in
	s) src=$OPTARG ;;
	o) obj=$OPTARG ;;
	*) sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done

rank() {
	local i
	for i in "${!layers[@]}"; do
		[ "${layers[$i]}" = "$1" ] && { echo "$i"; return; }
	done
	echo -1
}

bad=0
complain() {
	echo "check-layers: $*"
	bad=1
}

[ -d "$src" ] || { echo "check-layers: no folder $src" >&2; exit 2; }
for d in "$src"/*/; do
	d=${d%/}
	[ "$(rank "${d##*/}")" -ge 0 ] ||
		{ echo "check-layers: $d is no layer (add it to the list in $0)" >&2; exit 2; }
done

# 1. includes
for f in "$src"/*/*.[ch]; do
	[ -e "$f" ] || continue
	dir=${f%/*}
	layer=${dir##*/}
	mine=$(rank "$layer")
	while IFS=: read -r line inc; do
		case $inc in
		gomem.h) continue ;;
		*/*)
			want=${inc%%/*}
			r=$(rank "$want")
			if [ "$r" -lt 0 ]; then
				complain "${f#"$src"/}:$line includes \"$inc\": $want is no layer"
			elif [ "$r" -gt "$mine" ]; then
				complain "${f#"$src"/}:$line includes \"$inc\": $want comes after $layer"
			elif [ ! -e "$src/$inc" ]; then
				complain "${f#"$src"/}:$line includes \"$inc\", which does not exist"
			fi
			;;
		*)
			[ -e "$dir/$inc" ] ||
				complain "${f#"$src"/}:$line includes \"$inc\": not a header of $layer/"
			;;
		esac
	done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
		sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/' || true)
done

# 2. symbols: "LAYER SYMBOL" for each definition, then for each use.
if [ -n "$obj" ]; then
	[ -d "$obj" ] || { echo "check-layers: no folder $obj" >&2; exit 2; }
	# The objects of sources that exist, not stale ones.
	objs=()
	for o in "$obj"/*/*.o; do
		[ -e "$src/$(basename "$(dirname "$o")")/$(basename "$o" .o).c" ] && objs+=("$o")
	done
	[ ${#objs[@]} -gt 0 ] || { echo "check-layers: no object files in $obj" >&2; exit 2; }
	syms() { # nm options; prints "LAYER FILE SYMBOL" lines
		nm -A "$@" "${objs[@]}" | awk -v obj="$obj/" '{
			f = $1; sub(/:$/, "", f)
			if (index(f, obj) == 1) f = substr(f, length(obj) + 1)
			l = f; sub(/\/.*/, "", l)
			print l, f, $NF }'
	}
	order="${layers[*]}"
	while read -r line; do
		complain "$line"
	done < <(awk -v order="$order" '
		BEGIN { n = split(order, a, " "); for (i = 1; i <= n; i++) rank[a[i]] = i }
		FNR == NR { def[$3] = $1; next }
		($3 in def) && rank[def[$3]] > rank[$1] {
			print $2 " uses " $3 ", defined in " def[$3] "/, which comes after " $1
		}' <(syms -g --defined-only) <(syms -u))
fi
exit "$bad"
