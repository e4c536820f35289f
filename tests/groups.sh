#!/bin/sh
# Discovery and groups on the fixture machines: each listing, --json, lspci's own lines, the USB
# devices behind each USB controller, one group or the GPUs' only, IOMMU off (inside a VM too).
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

## the USB devices behind each USB controller, as lsusb shows them (root hubs left out), with the
## [usb] sections that name them: what passing the controller takes from the host
run bridge-group -c maps/example.ini groups 00:14.0
check "one group, by the address of one of its functions" "$(printf '%s\n' "IOMMU Group 4:" \
	"00:14.0 USB controller [0c03]: Intel Corporation 200 Series/Z370 Chipset Family USB 3.0 xHCI Controller [8086:a2af]  driver=xhci_hcd" \
	"    Bus 001 Device 002: ID 046d:c31c Logitech, Inc. Keyboard K120" \
	"    Bus 001 Device 003: ID 046d:c539 Logitech, Inc. Lightspeed Receiver  map=logitech-receiver")" "$out"
# Each USB device's line is the one lsusb prints for it (the fixture has its descriptors), root
# hubs left out.
if command -v lsusb >/dev/null; then
	for m in desktop bridge-group; do
		"$here/fakesys" "$m" -- lsusb 2>&1 | grep -v ' 1d6b:000[23] ' | sort >"$work/lsusb"
		run "$m" groups
		if [ -s "$work/lsusb" ]; then
			check "$m: the USB devices' lines are lsusb's" "$(cat "$work/lsusb")" \
				"$(printf '%s\n' "$out" | sed -n 's/^    \(Bus .*\)/\1/p' | sed 's/  map=.*//' | sort)"
		else
			not_ok "$m: the USB devices' lines are lsusb's" "lsusb listed nothing on the fixture"
		fi
	done
else
	skip "the USB devices' lines are lsusb's" "lsusb (usbutils) not installed"
fi
run desktop groups 24
check "groups GROUP: that group only, its USB devices under the GPU's own controller" "$(printf '%s\n' \
	"$(sed -n '/^IOMMU Group 24:/,/^IOMMU Group 26:/p' "$exp/groups-desktop.out" | sed '$d' | sed 's/  map=.*//')")" "$out"
run desktop groups --gpu --json
check "groups --gpu --json: the groups with a display controller" "24 26" \
	"$(printf '%s\n' "$out" | python3 -c 'import json, sys; print(" ".join(str(g["group"]) for g in json.load(sys.stdin)["groups"]))')"
check "groups --json: the USB devices under their controller" "003.002 1050:0407 Yubico.com|Yubikey 4/5 OTP+U2F+CCID 004.002 0781:5581 SanDisk Corp.|Ultra" \
	"$(printf '%s\n' "$out" | python3 -c 'import json, sys
for g in json.load(sys.stdin)["groups"]:
    for f in g["functions"]:
        for u in f["usb"]:
            print("%03d.%03d %s:%s %s|%s" % (u["bus"], u["device"], u["vendor"], u["product"], u["vendor_name"], u["product_name"]), end=" ")' | sed 's/ $//')"
run desktop groups 99
check "groups GROUP that does not exist: one line, the groups there are" \
	"$(printf '%s\nrc=2' "vfio-hook: no IOMMU group 99 on this machine (its groups are 0 to 26: see vfio-hook groups)")" "$(printf '%s\nrc=%s' "$err" "$rc")"
run desktop groups 07:00.0
check "groups ADDRESS that is not on the machine" "vfio-hook: no PCI function 0000:07:00.0 on this machine (see vfio-hook groups)" "$err"

## IOMMU off: one line that says what to do for this CPU vendor
run no-iommu groups
check "groups without IOMMU exits 1" 1 "$rc"
check "groups without IOMMU prints nothing on stdout" "" "$out"
check "Intel: IOMMU off message" "vfio-hook: the IOMMU is off: /sys/kernel/iommu_groups is empty (Intel CPU: enable VT-d in the firmware setup, add intel_iommu=on to the kernel command line and reboot)" "$err"
"$here/fakesys" no-iommu --cpu AuthenticAMD -- "$bin" groups >/dev/null 2>"$work/stderr"
check "AMD: IOMMU off message" "vfio-hook: the IOMMU is off: /sys/kernel/iommu_groups is empty (AMD CPU: the IOMMU is on by default in Linux, so enable it in the firmware setup — AMD-Vi/IOMMU/SVM — and reboot; amd_iommu=on is not a valid value)" "$(cat "$work/stderr")"
# Inside a VM (the CPU's "hypervisor" flag) there is no VT-d to enable: the hypervisor gives an IOMMU.
FAKESYS_CPU_FLAGS="fpu vme vmx hypervisor" "$here/fakesys" no-iommu -- "$bin" groups >/dev/null 2>"$work/stderr"
check "inside a VM: the hypervisor must give it a virtual IOMMU" "vfio-hook: the IOMMU is off: /sys/kernel/iommu_groups is empty (this system is a virtual machine: its hypervisor must give it a virtual IOMMU — QEMU: -device intel-iommu,intremap=on with -machine q35,kernel-irqchip=split; libvirt: <iommu model='intel'/> in the VM's <devices> — and on Intel this kernel needs intel_iommu=on)" "$(cat "$work/stderr")"

tap_done
