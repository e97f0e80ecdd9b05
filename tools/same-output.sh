#!/usr/bin/env bash
# tools/same-output.sh [-j JOBS] [-f FIXTURES] [-o OUTDIR] OLD NEW
#
# Proves that a change of libcore changes no output: builds the commits OLD
# and NEW (anything git rev-parse takes; NEW may also be "." for the working
# tree) in temporary folders, runs every verb, as text and as --json, on
# every committed fixture core (fixtures/demo, unpacked by fixtures/unpack.sh)
# and every fixture core built in FIXTURES (default: build/fixtures), and
# compares the outputs byte for byte: stdout, stderr and the exit status of
# each run, and the SVG that summary --svg writes.
#
# The verbs: summary (and --svg), mappings, arenas, spans (also --limit 0,
# --state free, --class 5), classes, stacks (also --limit 0), whatis on the
# addresses the program logged (truth.json) and on addresses of every owner
# and of goroutine and thread stacks (found with OLD's own output), diff
# against the other core of the same program and between two saved
# summaries, and the help texts.
#
#   -j JOBS      parallel runs (default 2)
#   -f DIR       the folder of built fixtures (each DIR/NAME/ holds exe and core.*)
#   -o OUTDIR    keep the outputs there (default: a temporary folder, removed)
#
# Exit status 0 when every output is identical, 1 when some differ (a diff of
# the first ones is printed), 2 on a usage or build error.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

# One run: same-output.sh --run-one GOMEM OUTFILE SVGFILE ARGS... (the svg
# placeholder @SVG@ in ARGS is replaced by SVGFILE).
if [ "${1:-}" = --run-one ]; then
	bin=$2 out=$3 svg=$4
	shift 4
	args=()
	for a in "$@"; do
		if [ "$a" = @SVG@ ]; then args+=("$svg"); else args+=("$a"); fi
	done
	mkdir -p "$(dirname "$out")"
	set +e
	"$bin" "${args[@]}" >"$out.stdout" 2>"$out.stderr"
	rc=$?
	set -e
	{
		cat "$out.stdout"
		echo "--- stderr"
		cat "$out.stderr"
		echo "--- exit $rc"
		if [ -f "$svg" ]; then
			echo "--- svg"
			cat "$svg"
		fi
	} >"$out"
	rm -f "$out.stdout" "$out.stderr" "$svg"
	exit 0
fi

jobs=2
fixdir=$top/build/fixtures
outdir=""
while getopts "j:f:o:h" opt; do
	case $opt in
	j) jobs=$OPTARG ;;
	f) fixdir=$OPTARG ;;
	o) outdir=$OPTARG ;;
	*) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 2 ] || { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
old=$1 new=$2

say() { printf '==> %s\n' "$*"; }
die() { printf 'same-output: %s\n' "$*" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/same-output.XXXXXX")
if [ -z "$outdir" ]; then
	trap 'rm -rf "$tmp"' EXIT
	outdir=$tmp/out
fi
mkdir -p "$outdir"

# Builds REV (or the working tree for ".") into $tmp/NAME; prints the CLI's path.
build() {
	local rev=$1 name=$2 src=$tmp/src-$2
	mkdir -p "$src"
	if [ "$rev" = . ]; then
		(cd "$top" && git ls-files -z --cached --others --exclude-standard |
			xargs -0 tar -cf - 2>/dev/null) | tar -xf - -C "$src"
	else
		git -C "$top" rev-parse --verify -q "$rev^{commit}" >/dev/null || die "no commit $rev"
		git -C "$top" archive "$rev" | tar -xf - -C "$src"
	fi
	make -s -C "$src" -j"$jobs" BUILD="$tmp/build-$name" all >"$tmp/make-$name.log" 2>&1 ||
		{ cat "$tmp/make-$name.log" >&2; die "cannot build $rev"; }
	echo "$tmp/build-$name/gomem"
}

say "building $old and $new"
old_bin=$(build "$old" old)
new_bin=$(build "$new" new)

# The fixtures: NAME EXE CORE... lines.
fixtures=$tmp/fixtures.txt
: >"$fixtures"
for f in "$top"/fixtures/demo/*.core.tar.xz; do
	[ -e "$f" ] || continue
	name=${f##*/}
	name=${name%.core.tar.xz}
	"$top/fixtures/unpack.sh" "$name" "$tmp/demo/$name" >/dev/null ||
		die "cannot unpack the committed fixture $name"
	echo "demo-$name $tmp/demo/$name/exe $tmp/demo/$name/core.kernel" >>"$fixtures"
done
for d in "$fixdir"/*/; do
	d=${d%/}
	[ -f "$d/exe" ] || continue
	cores=""
	for c in core.kernel core.gcore; do
		[ -f "$d/$c" ] && cores+=" $d/$c"
	done
	[ -n "$cores" ] && echo "${d##*/} $d/exe$cores" >>"$fixtures"
done
nfix=$(wc -l <"$fixtures")
[ "$nfix" -gt 0 ] || die "no fixture found"

# Addresses for whatis, from the truth and from OLD's own view of the core.
addresses() {
	local exe=$1 core=$2 truth=$3
	python3 - "$old_bin" "$exe" "$core" "$truth" <<'EOF'
import json, subprocess, sys
gomem, exe, core, truth = sys.argv[1:5]
addrs = []
def run(verb):
    p = subprocess.run([gomem, verb, "--json", "--limit", "0", exe, core] if verb == "stacks"
                       else [gomem, verb, "--json", exe, core], capture_output=True, text=True)
    try:
        return json.loads(p.stdout)
    except ValueError:
        return {}
try:
    t = json.load(open(truth))
    for o in t.get("live_objects", []) + t.get("freed_objects", []):
        addrs += [o["addr"], o["addr"] + max(o.get("size", 1) - 1, 0)]
except (OSError, ValueError):
    pass
seen = set()
for p in run("mappings").get("mappings", []):
    key = (p["owner"], p["detail"].split(" ")[0])
    if key in seen:
        continue
    seen.add(key)
    addrs += [p["start"], (p["start"] + p["end"]) // 2, p["end"] - 1]
s = run("stacks")
for g in s.get("goroutines", [])[:4]:
    addrs += [g["stack_lo"], (g["stack_lo"] + g["stack_hi"]) // 2]
for th in s.get("threads", [])[:3]:
    addrs += [th["g0_stack_lo"] + 64]
addrs += [0, 1, 0xffffffffff600000, 2**64 - 1]
out = []
for a in addrs:
    if a not in out:
        out.append(a)
print("\n".join(hex(a) for a in out[:40]))
EOF
}

# The jobs: one file each, OUTNAME then the CLI's arguments, one a line.
mkdir -p "$tmp/jobs"
njobs=0
job() {
	njobs=$((njobs + 1))
	printf '%s\n' "$@" >"$tmp/jobs/$njobs"
}
verbs_plain=(summary mappings arenas spans classes stacks)
job help --help
for v in "${verbs_plain[@]}" whatis diff batch; do
	job "help-$v" "$v" --help
done
while read -r name exe cores; do
	set -- $cores
	first=$1
	truth=$(dirname "$exe")/truth.json
	for core in "$@"; do
		tag=$name-${core##*/}
		for v in "${verbs_plain[@]}"; do
			job "$tag/$v" "$v" "$exe" "$core"
			job "$tag/$v.json" "$v" --json "$exe" "$core"
		done
		job "$tag/summary.svg" summary --svg @SVG@ "$exe" "$core"
		job "$tag/spans-all.json" spans --json --limit 0 "$exe" "$core"
		job "$tag/spans-free" spans --state free --limit 0 "$exe" "$core"
		job "$tag/spans-class5" spans --class 5 "$exe" "$core"
		job "$tag/spans-manual.json" spans --state manual --json "$exe" "$core"
		job "$tag/stacks-all" stacks --limit 0 "$exe" "$core"
		other=${2:-$first}
		[ "$core" = "$first" ] || other=$first
		job "$tag/diff" diff "$exe" "$core" "$other"
		job "$tag/diff.json" diff --json "$exe" "$core" "$other"
		i=0
		while read -r a; do
			job "$tag/whatis-$i" whatis "$exe" "$core" "$a"
			job "$tag/whatis-$i.json" whatis --json "$exe" "$core" "$a"
			i=$((i + 1))
		done < <(addresses "$exe" "$core" "$truth")
	done
done <"$fixtures"
# Two saved summaries (OLD's) compared by each build.
saved=$tmp/saved
mkdir -p "$saved"
read -r _ e1 c1 _ < <(sed -n 1p "$fixtures")
read -r _ e2 c2 _ < <(sed -n "${nfix}p" "$fixtures")
"$old_bin" summary --json "$e1" "$c1" >"$saved/a.json" || true
"$old_bin" summary --json "$e2" "$c2" >"$saved/b.json" || true
job saved-diff diff "$saved/a.json" "$saved/b.json"
job saved-diff.json diff --json "$saved/a.json" "$saved/b.json"
job batch batch --jobs 1 "$e1" "$c1"
say "$njobs runs on $nfix fixtures, for each build"

# Runs every job with one build into $outdir/NAME.
run_all() {
	local bin=$1 name=$2
	mkdir -p "$outdir/$name"
	seq 1 "$njobs" | xargs -P "$jobs" -I{} bash -c '
		mapfile -t f <"$1/jobs/$5"
		exec "$3" --run-one "$4" "$6/$2/${f[0]}" "$1/svg-$5.svg" "${f[@]:1}"
	' _ "$tmp" "$name" "$top/tools/same-output.sh" "$bin" {} "$outdir"
}

start=$(date +%s)
say "running $old"
run_all "$old_bin" old
say "running $new"
run_all "$new_bin" new
say "ran both in $(($(date +%s) - start)) s"

if diff -r -q "$outdir/old" "$outdir/new" >"$tmp/differ.txt"; then
	say "identical: $njobs outputs of each build are the same, byte for byte ($outdir)"
	exit 0
fi
ndiff=$(wc -l <"$tmp/differ.txt")
say "$ndiff of $njobs outputs differ:"
head -20 "$tmp/differ.txt"
diff -r "$outdir/old" "$outdir/new" | head -60 || true
exit 1
