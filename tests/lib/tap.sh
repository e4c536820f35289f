# Minimal TAP helpers shared by the shell suites: one "ok"/"not ok" line per check.
tap_n=0
tap_fail=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
not_ok() {
	tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1))
	echo "not ok $tap_n - $1"
	[ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'
	return 0
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then ok "$1"; else
		not_ok "$1" "$(printf 'expected:\n%s\nactual:\n%s' "$2" "$3")"
	fi
}
tap_done() { echo "1..$tap_n"; [ "$tap_fail" -eq 0 ]; }
