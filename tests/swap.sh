#!/bin/sh
# swap and usb as users run them: every error a user can hit, one line each, nothing changed.
# sources: swap usb step-plug step-evict step-claim virt engine plan holders
# On the desktop fixture, libvirt played by its in-process test driver (test:///default, whose
# domain "test" runs, accepts a shutdown request but no hot-plug): unknown devices and VMs, a
# VM not running, a group not viable, a refused hot-plug putting everything back, and swap
# --force shutting the holder down. Eviction at a VM's start is in tests/evict.sh; swap against
# a VM in its status-file gap in tests/ledger-takes.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml test $GPU >"$work/test.xml"

## swap and usb: the errors a user can hit, each one line, nothing changed
reset; evict_map detach "test:///default"
swap_err() { # NAME EXPECTED-LINE ARGS...
	n=$1 e=$2; shift 2
	out=$(ARGS="$*" on desktop '$H $ARGS; echo "rc=$?"; eval "$STATE"')
	check "$n" "$(printf '%s\nrc=%s\n%s' "vfio-hook: $e" "${RC:-1}" "$ORIG")" "$out"
}
RC=2 swap_err "swap: unknown device" "unknown device \"nosuch\": not a [pci] name in $work/map.ini, nor a vendor:device id or an address (see 'vfio-hook groups')" swap win10 nosuch
swap_err "swap: device not present" "1234:5678 matches no PCI function on this machine (see 'vfio-hook groups')" swap win10 1234:5678
swap_err "swap: unknown VM" "unknown VM \"nosuch\": libvirt (test:///default) has no such domain (see 'virsh list --all')" swap nosuch gpu
RC=2 swap_err "swap: VM not running, no --config" "test is not running: start it first, or add --config to move gpu in the persistent definitions" swap test gpu
swap_err "swap --config: libvirt refuses, says so" "cannot add 0000:09:00.0 to test's definition: this function is not supported by the connection driver: virDomainAttachDeviceFlags (0 changes made before this one)" swap --config test gpu
RC=2 swap_err "usb: unknown device" "unknown USB device \"nosuch\": not a [usb] name in $work/map.ini, a vendor:product id (046d:c539) or a bus.device as lsusb shows it (3.2)" usb add test nosuch
RC=2 swap_err "usb: VM not running" "test is not running: USB devices are hot-plugged into a running VM (virsh start test)" usb add test 046d:c539
# No libvirtd running (its socket is not there): the line says to start it, not only libvirt's error.
evict_map detach "qemu+unix:///system?socket=$work/none.sock"
swap_err "usb add, no libvirtd running: start libvirtd" "cannot ask libvirt (qemu+unix:///system?socket=$work/none.sock) about test: Failed to connect socket to '$work/none.sock': No such file or directory (is libvirtd running? start it: systemctl start libvirtd (or virtqemud, with the modular daemons))" usb add test 046d:c539
evict_map detach "test:///default"
status test
swap_err "usb: not plugged in" "046d:c539 is not plugged in: no USB device matches it (see lsusb)" usb add test 046d:c539
swap_err "usb: not attached" "046d:c539 is not attached to test (nothing to remove)" usb remove test 046d:c539
# The NixOS module's verbs ("vfio add VM DEVICE") are usb add and remove.
swap_err "add: usb add, not plugged in" "046d:c539 is not plugged in: no USB device matches it (see lsusb)" add test 046d:c539
swap_err "remove: usb remove, not attached" "046d:c539 is not attached to test (nothing to remove)" remove test 046d:c539
RC=2 swap_err "add without a device: how to call it" "add: name a VM and a USB device: vfio-hook add VM DEVICE (the same as usb add)" add test
out=$(on desktop '$H swap test 0000:09:00.0 2>&1 | head -n1; eval "$STATE"')
check "swap: group not viable" "$(printf '%s\n%s' "vfio-hook: test: 0000:09:00.1 (TU104 HD Audio Controller) shares IOMMU group 24 with this VM's devices but is not mapped: add 10de:10f8 to \"pci =\" in [vm test] in $work/map.ini (and 2 more problems: run 'vfio-hook --check test')" "$ORIG")" "$out"
out=$(on desktop '$H swap test gpu 2>&1 | grep -v "moved\|gave"; echo "rc=$?"; eval "$STATE"')
check "swap: hot-plug refused, everything put back" "$(printf '%s\nrc=0\n%s' "vfio-hook: test: cannot hot-plug 0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]): this function is not supported by the connection driver: virDomainAttachDeviceFlags; everything was put back" "$ORIG")" "$out"

## swap --force shuts the holder down; a refused hot-plug then sends everything to the host
reset; evict_map detach "test:///default"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml >/dev/null 2>&1
running $W/test.xml test
echo "<domstatus state=\"running\"><domain><name>win10</name><devices/></domain></domstatus>" >$W/run/win10.xml
( sleep 1; rm $W/run/test.xml ) &
$H swap --force win10 gpu 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "swap --force: the holder shut down, taken, put back on the hot-plug failure" "$(printf '%s\n' \
	"took 0000:09:00.0 from test" "took 0000:09:00.1 from test" "took 0000:09:00.2 from test" "took 0000:09:00.3 from test" \
	"rc=1" "$ORIG" "lock")" "$out"
check "swap --force: the line" "vfio-hook: win10: cannot hot-plug $G0: Domain not found; everything was put back" "$(grep "cannot hot-plug" "$work/err")"

tap_done
