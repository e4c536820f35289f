# shellcheck shell=sh
# Sourced after tap.sh (and after hook-env.sh, whose work directory it then shares) by the suites
# that run the built binary the way users and libvirt run it (cli, map, groups): the example map
# and the broken ones of tests/fixtures/maps/bad in $work/maps, the work directory as the current
# one, run and golden. Environment (from tests/run-tests.sh): VFIO_HOOK_BIN, VFIO_HOOK_TEST_HWDB,
# VFIO_HOOK_TEST_PRELOAD.
bin=${VFIO_HOOK_BIN:?}
fx=$here/fixtures
exp=$here/expected
if [ -z "${work:-}" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
fi

# Maps are copied with safe modes: a checkout made under umask 002 would be group-writable.
mkdir -p "$work/maps"
cp "$here/../etc/vfio-hook.ini" "$work/maps/example.ini"
cp "$fx"/maps/bad/*.ini "$work/maps/"
chmod 644 "$work"/maps/*.ini
cd "$work" || exit 1

# run MACHINE [ARGS...]: sets $out, $err, $rc
run() {
	m=$1; shift
	"$here/fakesys" "$m" -- "$bin" "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
	rc=$?
	out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
}

# golden NAME TEXT: compare with tests/expected/NAME (UPDATE_GOLDEN=1 rewrites it)
golden() {
	if [ "${UPDATE_GOLDEN:-}" = 1 ]; then printf '%s\n' "$2" >"$exp/$1"; fi
	check "$1 matches tests/expected/$1" "$(cat "$exp/$1" 2>/dev/null)" "$2"
}
