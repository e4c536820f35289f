# vm-time: 60
# usb add/remove: the guest's emulated USB keyboard (0627:0001, like the tablet next to it) into
# a running L2 and out; the errors a user can hit.
write_map "[usb kbd]" "device = 0627:0001  QEMU HID devices" "[vm u]" "usb = kbd"
define_l2 u none no
define_l2 off none no
virsh start u >/tmp/start.out 2>&1 || fail "usb: U starts" "$(cat /tmp/start.out)"
kbd=""
for d in /sys/bus/usb/devices/*; do
	[ "$(cat "$d/product" 2>/dev/null)" = "QEMU USB Keyboard" ] && kbd="$(cat "$d/busnum").$(cat "$d/devnum")"
done
info "keyboard at $kbd"
vfio-hook usb add u kbd >/tmp/usb.out 2>&1; rc=$?
# Named from the hwdb, as lsusb names them (the product string is read under the device's lock):
# the two share an id, so bus.device tells them apart.
grep -q "several USB devices match kbd: Bus 00[0-9] Device 0[0-9][0-9]: ID 0627:0001 .*, Bus 00[0-9] Device 0[0-9][0-9]: ID 0627:0001 .*; pick one by its bus.device" /tmp/usb.out && [ $rc -ne 0 ] &&
	pass "usb: several match, listed with how to pick" || fail "usb: several match, listed with how to pick" "rc=$rc $(cat /tmp/usb.out)"
vfio-hook usb add u "$kbd" >/tmp/usb.out 2>&1 && pass "usb: add by bus.device" || fail "usb: add by bus.device" "$(cat /tmp/usb.out)"
expect "usb: U has it live" 1 "$(usb_hostdevs u)"
vfio-hook usb add u "$kbd" >/tmp/usb.out 2>&1
grep -q "is already attached to u" /tmp/usb.out && pass "usb: already attached" || fail "usb: already attached" "$(cat /tmp/usb.out)"
vfio-hook usb remove u kbd >/tmp/usb.out 2>&1 && pass "usb: remove by name" || fail "usb: remove by name" "$(cat /tmp/usb.out)"
expect "usb: U no longer has it" 0 "$(usb_hostdevs u)"
vfio-hook usb remove u kbd >/tmp/usb.out 2>&1
expect "usb: remove again: not attached" "vfio-hook: kbd is not attached to u (nothing to remove)" "$(cat /tmp/usb.out)"
vfio-hook usb add u 1234:5678 >/tmp/usb.out 2>&1
expect "usb: not plugged in" "vfio-hook: 1234:5678 is not plugged in: no USB device matches it (see lsusb)" "$(cat /tmp/usb.out)"
vfio-hook usb add off "$kbd" >/tmp/usb.out 2>&1
expect "usb: VM not running" "vfio-hook: off is not running: USB devices are hot-plugged into a running VM (virsh start off)" "$(cat /tmp/usb.out)"
vfio-hook usb add nosuch "$kbd" >/tmp/usb.out 2>&1
expect "usb: unknown VM" "vfio-hook: unknown VM \"nosuch\": libvirt (qemu:///system) has no such domain (see 'virsh list --all')" "$(cat /tmp/usb.out)"
cleanup u off
