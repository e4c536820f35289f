# vm-boot: ovmf
# Booted through UEFI (OVMF) with bochs-drm kept out: the firmware framebuffer holds the
# GPU-like device's memory and fbcon sits on it, as on a host whose display GPU has no driver
# loaded yet, or whose driver is vfio-pci's. This is where a hand-over must release efifb.
gpu=0000:01:00.0
[ -d /sys/firmware/efi ] && pass "efifb: booted through UEFI" || fail "efifb: booted through UEFI" "no /sys/firmware/efi"
expect "efifb: no driver on 01:00.0 (bochs-drm blacklisted)" none "$(driver_of $gpu)"
expect "efifb: no display manager" inactive "$(systemctl is-active display-manager.service)"
name=$(cat /sys/class/graphics/fb0/name 2>/dev/null)
[ -c /dev/fb0 ] && pass "efifb: /dev/fb0 present ($name)" || fail "efifb: /dev/fb0 present" "$(ls /dev/fb* /sys/class/graphics 2>&1)"
# The framebuffer's memory, from /proc/iomem, inside one of the function's BARs.
fbmem=$(grep -iE 'efifb|simple-framebuffer|BOOTFB|vesafb' /proc/iomem | head -n1 | sed 's/^ *\([0-9a-f]*\)-\([0-9a-f]*\) .*/\1 \2/')
inbar=""
if [ -n "$fbmem" ]; then
	set -- $fbmem
	while read -r s e _; do
		[ "$s" != 0x0000000000000000 ] || continue
		[ $((0x$1)) -ge $((s)) ] && [ $((0x$2)) -le $((e)) ] && inbar=yes
	done <"/sys/bus/pci/devices/$gpu/resource"
fi
[ -n "$inbar" ] && pass "efifb: its memory ($fbmem) lies in a BAR of 01:00.0" ||
	fail "efifb: its memory lies in a BAR of 01:00.0" "iomem: $(grep -iE 'fb|frame' /proc/iomem | tr '\n' ';') resource: $(head -n3 /sys/bus/pci/devices/$gpu/resource | tr '\n' ';')"
bound=$(fbcon_bound | tail -n1)
[ -n "$bound" ] && pass "efifb: fbcon bound on $bound" || fail "efifb: fbcon bound on a vtconsole" "$(vtcons)"
info "platform framebuffer devices: $(ls /sys/bus/platform/devices | grep -iE 'efi|simple|vesa' | tr '\n' ' ')"
