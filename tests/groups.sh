#!/bin/sh
# Discovery and groups on the fixture machines: each listing, --json, lspci's own lines, IOMMU off.
# sources: groups discover pciaddr world
# A fixture (tests/fixtures/machines) is a real layout written as umockdev data; names come from
# the suite's hwdb, so the expected outputs (tests/expected) never drift with the host's. What an
# ordinary user's groups shows is in tests/as-user.sh; groups on a map of identical GPUs, with
# the map's warnings, in tests/map.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/cli-env.sh"

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

tap_done
