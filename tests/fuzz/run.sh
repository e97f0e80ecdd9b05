#!/usr/bin/env bash
# tests/fuzz/run.sh [-b BUILD] [-t SECONDS] [-r] [TARGET...]
#
# Builds libcore's libFuzzer targets into BUILD/fuzz (make fuzz), replays
# every input that ever crashed them (tests/fuzz/regressions/TARGET/, and
# TARGET@PROGRAM/ for inputs found on another fixture program), then
# fuzzes each target for SECONDS, one after the other, from the committed
# seeds (tests/fuzz/corpus/TARGET/) plus seeds made from the fixture.
#
#   -b BUILD     build directory (default: build); its fixtures are used
#   -t SECONDS   how long to fuzz each target (default 60)
#   -r           replay the regressions and the seeds only, no fuzzing
#   TARGET       fuzz_core, fuzz_overlay, fuzz_exe, fuzz_json, fuzz_pclntab, ...
#                (default: every tests/fuzz/fuzz_*.c)
#
# Environment: GOMEM_FUZZ_EXE and GOMEM_FUZZ_CORE pick the fixture (default:
# BUILD/fixtures/heapmix-<the machine's Go>/exe and core.kernel); FUZZ_FLAGS
# adds libFuzzer flags. Exit status 0 when nothing crashed; a crash leaves
# its input in BUILD/fuzz/artifacts/TARGET/: fix the bug, then add the input
# to tests/fuzz/regressions/TARGET/ so that it is replayed from then on.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
cd "$top"
build=build
seconds=60
replay_only=""
while getopts "b:t:rh" opt; do
	case $opt in
	b) build=$OPTARG ;;
	t) seconds=$OPTARG ;;
	r) replay_only=1 ;;
	*) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for src in tests/fuzz/fuzz_*.c; do
		targets+=("$(basename "$src" .c)")
	done
fi
case $build in /*) ;; *) build=$top/$build ;; esac

say() { printf '==> %s\n' "$*"; }

command -v clang >/dev/null || { echo "fuzz: clang is missing (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
make -s BUILD="$build" WERROR=1 fuzz

# The fixture: the heapmix program built with the machine's Go, else any heapmix.
if [ -z "${GOMEM_FUZZ_EXE:-}" ] || [ -z "${GOMEM_FUZZ_CORE:-}" ]; then
	dir=""
	if command -v go >/dev/null && [ -d "$build/fixtures/heapmix-$(go env GOVERSION)" ]; then
		dir=$build/fixtures/heapmix-$(go env GOVERSION)
	else
		dir=$(ls -d "$build"/fixtures/heapmix-go* 2>/dev/null | head -1)
	fi
	[ -n "$dir" ] && [ -f "$dir/core.kernel" ] ||
		{ echo "fuzz: no fixture core in $build/fixtures (run ./setup fixtures)" >&2; exit 1; }
	export GOMEM_FUZZ_EXE=$dir/exe GOMEM_FUZZ_CORE=$dir/core.kernel
fi
say "fuzz fixture: $GOMEM_FUZZ_EXE, $GOMEM_FUZZ_CORE"

fz=$build/fuzz
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
python3 tests/fuzz/mkseeds.py --exe "$GOMEM_FUZZ_EXE" "$fz/seeds"

# Replays regressions/TARGET/ on the fixture, and regressions/TARGET@PROGRAM/ on PROGRAM's
# fixture of the same Go build (an input found on the hello core crashes only there).
replay() {
	local t=$1 bin=$2 log=$3 dir prog base fixture inputs
	for dir in tests/fuzz/regressions/"$t" tests/fuzz/regressions/"$t"@*; do
		inputs=("$dir"/*)
		[ -e "${inputs[0]}" ] || continue
		fixture=$(dirname "$GOMEM_FUZZ_EXE")
		case $dir in
		*@*)
			prog=${dir##*@}
			base=${fixture##*/} # heapmix-go1.26.8: hello's is hello-go1.26.8
			fixture=$(dirname "$fixture")/$prog-go${base#*-go}
			[ -f "$fixture/core.kernel" ] || {
				say "$t: no $fixture for ${dir##*/}: not replayed"
				continue
			}
			;;
		esac
		say "$t: replaying ${#inputs[@]} inputs of ${dir#tests/fuzz/} on ${fixture##*/}"
		if ! GOMEM_FUZZ_EXE=$fixture/exe GOMEM_FUZZ_CORE=$fixture/core.kernel \
			"$bin" -timeout=20 "${inputs[@]}" >"$log" 2>&1; then
			grep -E "^(==|SUMMARY|fuzz:)|ERROR|runtime error" "$log" | head -20 >&2
			echo "fuzz: $t crashes on a regression input again (see $log)" >&2
			return 1
		fi
	done
}

failed=0
for t in "${targets[@]}"; do
	bin=$fz/$t
	[ -x "$bin" ] || { echo "fuzz: no target $t" >&2; failed=1; continue; }
	log=$fz/$t.log
	mkdir -p "$fz/corpus/$t" "$fz/artifacts/$t" "$fz/seeds/$t"
	if ! replay "$t" "$bin" "$log"; then
		failed=1
		continue
	fi
	if [ -n "$replay_only" ]; then
		runs=(-runs=0)
		say "$t: replaying the seeds"
	else
		runs=(-max_total_time="$seconds")
		say "$t: fuzzing for $seconds s"
	fi
	# New inputs go to the first folder (build/), never into the committed seeds.
	# shellcheck disable=SC2086
	# -len_control=0: inputs are lists of patch records; let them grow to max_len at once.
	if "$bin" "${runs[@]}" -timeout=20 -rss_limit_mb=3072 -max_len=4096 -len_control=0 \
		-artifact_prefix="$fz/artifacts/$t/" -print_final_stats=1 ${FUZZ_FLAGS:-} \
		"$fz/corpus/$t" "tests/fuzz/corpus/$t" "$fz/seeds/$t" >"$log" 2>&1; then
		grep -E "^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)" "$log" |
			tr '\n' ' ' | sed 's/^/    /'
		echo
	else
		grep -E "^(==|SUMMARY)|ERROR|runtime error|Test unit written" "$log" | head -20 >&2
		echo "fuzz: $t crashed (see $log); its input is in $fz/artifacts/$t/:" \
			"fix the bug, then add the input to tests/fuzz/regressions/$t/" >&2
		failed=1
	fi
done
exit $failed
