#!/bin/sh
# Runs every suite (unit tests under cmocka, the CLI and install suites, lint) for each build
# variant, prints their TAP output, and ends with one line: "N passed, N failed".
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
log=$(mktemp)
trap 'rm -f "$log"' EXIT

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

suite() { # NAME COMMAND...
	name=$1; shift
	echo "# suite $name"
	"$@" >"$log" 2>&1
	rc=$?
	cat "$log"
	# A suite that dies without its TAP plan has failed, whatever it printed before.
	if ! grep -q '^1\.\.[0-9]' "$log" || { [ $rc -ne 0 ] && ! grep -q '^not ok' "$log"; }; then
		echo "not ok - suite $name exited with status $rc"
	fi
}

{
	for v in ${VARIANTS:-plain}; do
		for t in build/$v/test-*; do
			suite "$v/$(basename "$t")" "$t"
		done
		suite "$v/cli" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/cli.sh
		suite "$v/hook" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/hook.sh
		suite "$v/ledger" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/ledger.sh
		suite "$v/attack" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/attack.sh
		suite "$v/attack2" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" MUTE_SOCKET="$top/build/mute-socket" tests/attack2.sh
		suite "$v/doctor" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/doctor.sh
		suite "$v/setup" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/setup.sh
		suite "$v/dl" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" NOLIB_BIN="$top/build/nolib/vfio-hook" tests/dl.sh
		suite "$v/attack-speed" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" NOXML_BIN="$top/build/noxml/vfio-hook" tests/attack-speed.sh
		suite "$v/attack-setup" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/attack-setup.sh
		suite "$v/guard" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/guard.sh
		suite "$v/display" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/display.sh
		suite "$v/attack-display" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/attack-display.sh
		suite "$v/evict" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" MUTE_SOCKET="$top/build/mute-socket" tests/evict.sh
		suite "$v/completion" env VFIO_HOOK_BIN="$top/build/$v/vfio-hook" tests/completion.sh
	done
	suite install tests/install.sh
	suite man tests/man.sh
	[ -n "${NO_LINT:-}" ] || suite lint tests/lint.sh
} | tee "$log.all"
passed=$(grep -c '^ok ' "$log.all")
failed=$(grep -c '^not ok' "$log.all")
rm -f "$log.all"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
