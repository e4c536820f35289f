#!/bin/sh
# The built binary run the way users and libvirt run it: argv, stdin, exit status, stdout and
# the one stderr line, on fixture machines (tests/fixtures/machines) with the suite's hwdb.
# Environment (from tests/tests.mk): VFIO_HOOK_BIN, VFIO_HOOK_TEST_HWDB, VFIO_HOOK_TEST_PRELOAD.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
bin=${VFIO_HOOK_BIN:?}
fx=$here/fixtures
exp=$here/expected
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

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

## groups on the fixture machines
for m in desktop two-gpus bridge-group; do
	run "$m" -c maps/example.ini groups
	check "groups on $m exits 0" 0 "$rc"
	golden "groups-$m.out" "$out"
	golden "groups-$m.err" "$err"
done
run desktop -c maps/example.ini groups --json
check "groups --json exits 0" 0 "$rc"
golden "groups-desktop.json" "$out"

# An ordinary user gets the same listing (without the map columns when the map is root's).
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	run desktop groups
	root_out=$out
	cd / && runuser -u nobody -- "$here/fakesys" desktop -- "$bin" groups >"$work/stdout" 2>"$work/stderr"
	rc=$?; cd "$work" || exit 1
	check "groups as an ordinary user exits 0" 0 "$rc"
	check "groups as an ordinary user lists the same" "$root_out" "$(cat "$work/stdout")"
else
	skip "groups as an ordinary user" "needs root and runuser to switch user"
fi

# Every function line starts exactly as the real lspci -nn prints that function.
if command -v lspci >/dev/null; then
	: >"$work/empty.ids"
	for m in desktop two-gpus bridge-group; do
		awk -f "$here/lib/umockdev-to-lspci-dump.awk" "$fx/machines/$m.umockdev" >"$work/$m.dump"
		LD_PRELOAD=$VFIO_HOOK_TEST_PRELOAD VFIO_HOOK_TEST_HWDB=$VFIO_HOOK_TEST_HWDB \
			lspci -A dump -O "dump.name=$work/$m.dump" -i "$work/empty.ids" -nn >"$work/lspci" 2>&1
		run "$m" groups
		bad=""
		while IFS= read -r line; do
			slot=${line%% *}
			mine=$(printf '%s\n' "$out" | grep "^$slot ")
			case "$mine" in "$line"*) ;; *) bad="$bad
lspci: $line
ours:  $mine" ;; esac
		done <"$work/lspci"
		if [ -s "$work/lspci" ] && [ -z "$bad" ]; then ok "every line on $m starts as lspci -nn prints it"
		else not_ok "every line on $m starts as lspci -nn prints it" "$bad$(cat "$work/lspci")"; fi
	done
else
	skip "lines match lspci" "lspci (pciutils) not installed"
fi

## IOMMU off: one line that says what to do for this CPU vendor
run no-iommu groups
check "groups without IOMMU exits 1" 1 "$rc"
check "groups without IOMMU prints nothing on stdout" "" "$out"
check "Intel: IOMMU off message" "vfio-hook: the IOMMU is off: /sys/kernel/iommu_groups is empty (Intel CPU: enable VT-d in the firmware setup, add intel_iommu=on to the kernel command line and reboot)" "$err"
"$here/fakesys" no-iommu --cpu AuthenticAMD -- "$bin" groups >/dev/null 2>"$work/stderr"
check "AMD: IOMMU off message" "vfio-hook: the IOMMU is off: /sys/kernel/iommu_groups is empty (AMD CPU: the IOMMU is on by default in Linux, so enable it in the firmware setup — AMD-Vi/IOMMU/SVM — and reboot; amd_iommu=on is not a valid value)" "$(cat "$work/stderr")"

## the map resolved against the machine
run desktop -c maps/example.ini config
check "config on desktop exits 0" 0 "$rc"
golden "config-desktop.out" "$out"
check "config on desktop warns about nothing" "" "$err"
run two-gpus -c maps/example.ini config
check "config with unmatched ids exits 1" 1 "$rc"
golden "config-two-gpus.err" "$err"
cat >maps/two-gpus.ini <<'MAP'
[pci gtx1060]
device = 10de:1c03  VGA compatible controller
device = 10de:10f1  HD Audio
[vm gaming]
pci = gtx1060 0000:0a:00.0
MAP
chmod 644 maps/two-gpus.ini
run two-gpus -c maps/two-gpus.ini config
check "config with identical GPUs exits 1" 1 "$rc"
golden "config-identical.err" "$err"
run two-gpus -c maps/two-gpus.ini groups
check "groups still lists with identical-GPU warnings" 0 "$rc"
golden "groups-identical.out" "$out"

## the map: every mistake is one FILE:LINE line and exit 2
for f in "$fx"/maps/bad/*.ini; do
	name=maps/$(basename "$f")
	want=$(sed -n '1s/^; expect: //p' "$f")
	run desktop -c "$name" groups
	check "$(basename "$f" .ini): exit 2" 2 "$rc"
	check "$(basename "$f" .ini): message" "$name:$want" "$err"
	check "$(basename "$f" .ini): nothing on stdout" "" "$out"
done
run desktop -c maps/missing.ini groups
check "missing map: exit 2" 2 "$rc"
check "missing map: message" "maps/missing.ini: cannot read the device map: No such file or directory (create it from the example, or pass -c FILE)" "$err"
cp maps/example.ini maps/writable.ini && chmod 664 maps/writable.ini
run desktop -c maps/writable.ini groups
check "group-writable map refused" "maps/writable.ini: refused: writable by group or others (run: chmod go-w maps/writable.ini)" "$err"
check "group-writable map: exit 2" 2 "$rc"
if [ "$(id -u)" = 0 ]; then
	cp maps/example.ini maps/foreign.ini && chown 4321 maps/foreign.ini
	run desktop -c maps/foreign.ini groups
	check "map owned by another user refused" "maps/foreign.ini: refused: owned by uid 4321, not root (run: chown root maps/foreign.ini)" "$err"
else
	skip "map owned by another user refused" "needs root to chown"
fi
VFIO_HOOK_CONFIG=maps/bad-timeout.ini "$here/fakesys" desktop -- "$bin" groups >/dev/null 2>"$work/stderr"
check "VFIO_HOOK_CONFIG chooses the map" "maps/bad-timeout.ini:3: timeout must be a whole number of seconds from 1 to 3600, not \"ten\"" "$(cat "$work/stderr")"
run desktop --config maps/example.ini groups
check "--config works like -c" 0 "$rc"

## hook mode for a VM not in the map: read stdin to EOF, nothing on stdout, exit 0
## (tests/hook.sh covers the VMs that are mapped)
printf '<domain type="kvm"><name>othervm</name>%04096d</domain>\n' 0 >"$work/domain.xml"
for op in "prepare begin -" "start begin -" "started begin -" "stopped end -" "release end destroyed" "reconnect begin -" "migrate begin -"; do
	# shellcheck disable=SC2086
	( VFIO_HOOK_CONFIG=maps/example.ini VFIO_HOOK_STATE_DIR="$work/state" "$bin" othervm $op >"$work/stdout" 2>"$work/stderr"; echo "rc=$?"; cat ) <"$work/domain.xml" >"$work/after"
	check "hook $op: exits 0, reads all of stdin" "rc=0" "$(cat "$work/after")"
	check "hook $op: nothing on stdout" "" "$(cat "$work/stdout")"
done
run desktop groups extra
check "unexpected argument: exit 2" 2 "$rc"
run desktop frobnicate
check "unknown command: exit 2" 2 "$rc"
check "unknown command: message" 'vfio-hook: unknown command "frobnicate" (see vfio-hook --help)' "$err"
run desktop --version
check "--version" "vfio-hook 0.1.0" "$out"
run desktop --help
case "$out" in *"groups [--json]"*) ok "--help lists groups" ;; *) not_ok "--help lists groups" "$out" ;; esac

tap_done
