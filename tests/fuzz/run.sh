#!/bin/sh
# make fuzz: runs each libFuzzer target (build/fuzz/fuzz-TARGET) from a fresh copy of its seeds
# and regressions, for FUZZ_RUNS inputs, or FUZZ_SECONDS seconds when that is set. The tree is
# never written: the working corpus, logs and crash inputs stay under build/fuzz/. The targets
# run side by side, FUZZ_JOBS at a time (default: one per core; each is one process), longest
# first; their lines are printed in the order of FUZZ_TARGETS, then "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
secs=${FUZZ_SECONDS:-}
if [ -n "$secs" ]; then runs=${FUZZ_RUNS:--1}; else runs=${FUZZ_RUNS:-500000}; fi

# A leak fails a target like a crash does; -timeout makes a hang (10 s on one input) fail it too.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

fuzz_one() { # TARGET: its lines into build/fuzz/TARGET.result
	t=$1
	bin=build/fuzz/fuzz-$t corpus=build/fuzz/corpus/$t art=build/fuzz/artifacts/$t log=build/fuzz/$t.log
	rm -rf "$corpus" "$art"
	mkdir -p "$corpus" "$art"
	# Regressions are part of the starting corpus, so each is run again first.
	[ -d "tests/fuzz/$t" ] && cp -R "tests/fuzz/$t/." "$corpus/"
	set -- -runs="$runs" -timeout=10 -rss_limit_mb=2048 -close_fd_mask=2 -artifact_prefix="$art/"
	[ -n "$secs" ] && set -- "$@" -max_total_time="$secs"
	[ -f "tests/fuzz/$t.dict" ] && set -- "$@" -dict="tests/fuzz/$t.dict"
	start=$(date +%s)
	"$bin" "$@" "$corpus" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	done_line=$(grep '^Done ' "$log" | tail -n 1)
	{
	if [ $rc -eq 0 ] && [ -n "$done_line" ]; then
		echo "ok - fuzz $t: ${done_line#Done } (${took}s wall), corpus $(find "$corpus" -type f | wc -l) inputs"
	else
		echo "not ok - fuzz $t: exit $rc after ${took}s; log $log"
		found=""
		for a in "$art"/*; do
			[ -f "$a" ] || continue
			found=1
			echo "#   input kept as $a (once fixed, add it as tests/fuzz/$t/regressions/NAME); it gives:"
			# The report up to its summary; the target's own stderr is not closed on a replay.
			"$bin" -timeout=10 "$a" 2>&1 | sed -n '/^Running: /,/^SUMMARY: /p' | grep -v ' in fuzzer::\| in main \| in __libc_start\| in _start ' |
				sed 's/^/#     /' | head -n 60
		done
		[ -n "$found" ] || sed 's/^/#   /' "$log" | grep -v '^#   #[0-9]' | tail -n 30
	fi
	} >"build/fuzz/$t.result"
}

# (xargs runs this script again for each target: --one TARGET)
if [ "${1:-}" = --one ]; then
	fuzz_one "$2"
	exit 0
fi
# Each target once, whatever the list repeats.
targets=$(for t in ${FUZZ_TARGETS:-config domxml}; do echo "$t"; done | awk '!seen[$0]++' | tr '\n' ' ')
[ -n "${targets% }" ] || { echo "not ok - fuzz: FUZZ_TARGETS names no target"; echo "0 passed, 1 failed"; exit 1; }
for t in $targets; do rm -f "build/fuzz/$t.result" "build/fuzz/$t.log"; done
# Longest first: at 500000 runs the ledger's takes about 85 s here, domxml's 60, config's 20.
for t in ledger domxml $targets; do
	case " $targets " in *" $t "*) echo "$t" ;; esac
done | awk '!seen[$0]++' | xargs -r -P "${FUZZ_JOBS:-$(nproc)}" -n 1 sh "$top/tests/fuzz/run.sh" --one
passed=0 failed=0
for t in $targets; do
	if [ -f "build/fuzz/$t.result" ]; then cat "build/fuzz/$t.result"
	else echo "not ok - fuzz $t: ended without a result (see build/fuzz/$t.log)"; fi
	if grep -q '^ok - ' "build/fuzz/$t.result" 2>/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
