#!/bin/sh
# Runs every suite (unit tests under cmocka, the CLI and install suites, lint) for each build
# variant, prints their TAP output, and ends with one line: "N passed, N failed".
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

# One suite: its TAP output, and a failure of its own when it died without its plan.
run_suite() { # INDEX
	# shellcheck disable=SC2046 # the suite's command, as words
	set -- $(cat "$dir/$1.suite")
	name=$1; shift
	"$@" >"$dir/$name.log" 2>&1
	rc=$?
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

# Suites run side by side (TEST_JOBS at a time, 3 by default: most of a suite's time is spent
# waiting out the deadlines it tests), each into its own file; their output is printed in the
# order they are listed, whatever order they end in.
jobs=${TEST_JOBS:-3}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
n=0
add() { # NAME COMMAND...: one suite, its command as words (paths without spaces)
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
# The slowest first, for every variant, so that the last to start are short.
for v in ${VARIANTS:-plain}; do suites "$v" evict hook attack2 cli display; done
for v in ${VARIANTS:-plain}; do
	suites "$v" attack-display attack-writer attack-stuck attack-user attack-user2 ledger attack doctor setup dl attack-speed attack-setup guard completion
	for t in build/$v/test-*; do
		add "$v/$(basename "$t")" "$t"
	done
done
add install tests/install.sh
add man tests/man.sh
[ -n "${NO_LINT:-}" ] || add lint tests/lint.sh

seq "$n" | xargs -P "$jobs" -I{} sh "$0" --one "$dir" {}
i=0
while [ $i -lt $n ]; do
	i=$((i + 1))
	cat "$dir/$i.out" 2>/dev/null || echo "not ok - suite $(cut -d' ' -f1 "$dir/$i.suite") did not run"
done >"$dir/all"
cat "$dir/all"
passed=$(grep -c '^ok ' "$dir/all")
failed=$(grep -c '^not ok' "$dir/all")
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
