#!/bin/sh
# Runs the suites (the shell suites by subject, the unit tests under cmocka, the fuzz replays,
# install, man, lint) for each build variant, prints their TAP output in the order they are
# listed, a time per suite, and ends with one line: "N passed, N failed".
#   tests/run-tests.sh                 every suite
#   tests/run-tests.sh NAME...         those suites only (ledger, display, test-config, ...)
#   tests/run-tests.sh --changed       the suites whose subject the uncommitted change touches
#                                      (each shell suite names its sources on a "# sources:" line)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
export VFIO_HOOK_TEST_HWDB="$top/build/hwdb/etc/udev/hwdb.bin"
export VFIO_HOOK_TEST_PRELOAD="$top/build/hwdb-redirect.so"
export VFIO_HOOK_TEST_FAKEKERNEL="$top/build/fakekernel.so"
# Proof for the program that it runs sandboxed: with this set it writes only to umockdev's /sys.
export VFIO_HOOK_TEST=1
export EXAMPLE_MAP="$top/etc/vfio-hook.ini"
export CMOCKA_MESSAGE_OUTPUT=TAP
# The sanitizers' runtime cannot come first in LD_PRELOAD under umockdev; that is fine here.
export ASAN_OPTIONS=verify_asan_link_order=0:detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LC_ALL=C

ms() { echo $(($(date +%s%N) / 1000000)); }

# One suite: its TAP output, its time, and a failure of its own when it died without its plan.
run_suite() { # INDEX
	# shellcheck disable=SC2046 # the suite's command, as words
	set -- $(cat "$dir/$1.suite")
	name=$1; shift
	t0=$(ms)
	"$@" >"$dir/$name.log" 2>&1
	rc=$?
	echo "$(($(ms) - t0)) $name" >"$dir/$INDEX.time"
	{
		echo "# suite $name"
		cat "$dir/$name.log"
		# A suite that dies without its TAP plan has failed, whatever it printed before.
		if ! grep -q '^1\.\.[0-9]' "$dir/$name.log" || { [ $rc -ne 0 ] && ! grep -q '^not ok' "$dir/$name.log"; }; then
			echo "not ok - suite $name exited with status $rc"
		fi
	} >"$dir/$INDEX.out"
}
# (xargs runs this script again for each suite: --one DIR INDEX)
if [ "${1:-}" = --one ]; then
	dir=$2 INDEX=$3
	mkdir -p "$dir/$(dirname "$(cut -d' ' -f1 "$dir/$INDEX.suite")")"
	run_suite "$INDEX"
	exit 0
fi

# The shell suites, named by subject, slowest first (as "time per suite" printed them) so that
# the last to start are short; each is run in every variant before the next starts. Each
# opens with a line on what it covers, then a "# sources:" line naming the hook/ modules whose
# change should run it again (--changed).
SHELL_SUITES="giveback claims first-hour nixos as-user doctor evict deadlines hook ledger stuck guard map ledger-takes handoff handoff-faults writer handoff-stuck display handoff-nvidia libraries swap cli groups setup completion"

# --changed: the shell suites whose own file, or one of the sources its "# sources:" line names,
# the uncommitted change (against HEAD, untracked files included) touches; a unit test when its
# module changed. A change to a header, the Makefile or the test library runs them all.
changed_suites() {
	files=$( (git diff --name-only HEAD; git ls-files --others --exclude-standard) 2>/dev/null | sort -u)
	[ -n "$files" ] || return 0
	for f in $files; do
		case $f in hook/*.h | Makefile | tests/*.mk | tests/lib/* | tests/run-tests.sh | tests/fixtures/*)
			echo "$SHELL_SUITES $(cd build/plain && ls test-* 2>/dev/null)"; return 0 ;;
		esac
	done
	for s in $SHELL_SUITES; do
		srcs=$(sed -n 's/^# sources: *//p' "tests/$s.sh")
		for f in $files; do
			m=${f#hook/}; m=${m%.c}
			case " tests/$s.sh $srcs " in *" $f "* | *" $m "*) echo "$s"; break ;; esac
		done
	done
	# A unit test goes with its module, and with those its "sources:" line names.
	for u in tests/unit/test-*.c; do
		srcs="$(basename "$u" .c | sed 's/^test-//') $(sed -n 's/.*sources: *\([^*]*\).*/\1/p' "$u")"
		for f in $files; do
			m=${f#hook/}; m=${m%.c}
			case " $u $srcs " in *" $f "* | *" $m "*) basename "$u" .c; break ;; esac
		done
	done
	for f in $files; do
		case $f in
		tests/fuzz/*) ls build/plain/ | grep '^test-fuzz-' ;;
		man/* | etc/bash-completion/*) echo man completion ;;
		scripts/install.sh | etc/*) echo install ;;
		tests/vm/run.sh | tests/vm/guest/scenarios/* | tests/vm-plan.sh) echo vm-plan ;;
		esac
	done
}

only=""
if [ "${1:-}" = --changed ]; then
	only=$(changed_suites | tr ' ' '\n' | sort -u | tr '\n' ' ')
	if [ -z "$only" ]; then
		echo "# no change against HEAD touches a suite's subject: nothing to run (name suites: SUITES='ledger display')"
		echo "0 passed, 0 failed"
		exit 0
	fi
	echo "# the change touches: $only"
elif [ $# -gt 0 ]; then
	only=" $* "
fi
wanted() {
	[ -z "$only" ] && return 0
	case " $only " in *" $1 "*) return 0 ;; esac
	return 1
}

# Suites run side by side (TEST_JOBS at a time, 4 by default: most of a suite's time is spent
# waiting out the deadlines it tests; on 2 cores 4 at a time took 288 s against 335 s for 3,
# with both cores still not quite full), each into its own file; their output is printed in the
# order they are listed, whatever order they end in.
jobs=${TEST_JOBS:-4}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
add() { # NAME COMMAND...: one suite, its command as words (paths without spaces)
	wanted "${1#*/}" || return 0
	n=$((n + 1))
	echo "$*" >"$dir/$n.suite"
}
suites() { # VARIANT SUITE...: the shell suites, each with what it needs
	v=$1 b=$top/build/$1/vfio-hook; shift
	for s in "$@"; do
		add "$v/$s" env VFIO_HOOK_BIN="$b" MUTE_SOCKET="$top/build/mute-socket" NOLIB_BIN="$top/build/nolib/vfio-hook" \
			NOXML_BIN="$top/build/noxml/vfio-hook" "tests/$s.sh"
	done
}
# lint first: clang-tidy keeps both cores busy while the suites after it mostly wait out deadlines.
[ -n "${NO_LINT:-}" ] || add lint tests/lint.sh
for sn in $SHELL_SUITES; do
	for v in ${VARIANTS:-plain}; do suites "$v" "$sn"; done
done
for v in ${VARIANTS:-plain}; do
	for t in build/$v/test-*; do
		[ -x "$t" ] && add "$v/$(basename "$t")" "$t"
	done
done
add install tests/install.sh
add man tests/man.sh
add vm-plan tests/vm-plan.sh
if [ "$n" -eq 0 ]; then
	echo "not ok - no suite is named $only (see SHELL_SUITES in tests/run-tests.sh, and build/plain/test-*)"
	echo "0 passed, 1 failed"
	exit 1
fi

t0=$(ms)
seq "$n" | xargs -P "$jobs" -I{} sh "$0" --one "$dir" {}
wall=$(($(ms) - t0))
i=0
while [ $i -lt $n ]; do
	i=$((i + 1))
	cat "$dir/$i.out" 2>/dev/null || echo "not ok - suite $(cut -d' ' -f1 "$dir/$i.suite") did not run"
done >"$dir/all"
cat "$dir/all"
# Where the time goes, for whoever makes the loop faster next.
echo "# time per suite (s), slowest first; $n suites, $jobs at a time, $((wall / 1000)).$((wall % 1000 / 100)) s in all:"
cat "$dir"/*.time 2>/dev/null | sort -rn | awk '{ printf "#   %6.1f  %s\n", $1 / 1000, $2 }'
passed=$(grep -c '^ok ' "$dir/all")
failed=$(grep -c '^not ok' "$dir/all")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
