# vm-boot: systemd ovmf
# vm-time: 40
# The host's display on the GPU-like device, as the hand-over (36-handoff) finds it, in both
# boots where it is there:
# systemd — a desktop: bochs-drm drives it, fbcon is on it, display-manager.service (fakedm,
#   started by systemd) holds /dev/dri/card0, libvirtd is a unit;
# ovmf — booted through UEFI with bochs-drm kept out: the firmware framebuffer holds the device's
#   memory and fbcon sits on it, as on a host whose display GPU has no driver loaded yet, or whose
#   driver is vfio-pci's. This is where a hand-over must release efifb.
# In both, a framebuffer on the GPU with fbcon bound on it.
gpu=0000:01:00.0
case $VM_BOOT in
systemd)
	tag=desktop
	expect "desktop: systemd is PID 1" systemd "$(cat /proc/1/comm)"
	expect "desktop: 01:00.0 on bochs-drm" bochs-drm "$(driver_of $gpu)"
	expect "desktop: display-manager.service active" active "$(systemctl is-active display-manager.service)"
	expect "desktop: display-manager.service is fakedm.service" fakedm.service "$(systemctl show -p Id --value display-manager.service)"
	card=$(ls /sys/bus/pci/devices/$gpu/drm 2>/dev/null | grep '^card' | head -n1)
	expect "desktop: the GPU's DRM node is card0" card0 "$card"
	expect "desktop: the display manager (pid $(dm_pid)) holds /dev/dri/card0" 1 "$(dm_holds)"
	fb=$(gpu_fb $gpu)
	[ -n "$fb" ] && [ -c "/dev/$fb" ] && pass "desktop: /dev/$fb is the GPU's framebuffer ($(cat /sys/class/graphics/$fb/name))" ||
		fail "desktop: a framebuffer on the GPU" "$(ls -l /sys/class/graphics/ 2>&1)"
	;;
ovmf)
	tag=efifb
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
	info "platform framebuffer devices: $(ls /sys/bus/platform/devices | grep -iE 'efi|simple|vesa' | tr '\n' ' ')"
	;;
esac
bound=$(fbcon_bound | tail -n1)
[ -n "$bound" ] && pass "$tag: fbcon bound on $bound" || fail "$tag: fbcon bound on a vtconsole" "$(vtcons)"
[ "$VM_BOOT" = systemd ] || exit 0
grep -qw tty0 /proc/consoles && grep -qw ttyS0 /proc/consoles && pass "desktop: the console is on tty and serial" ||
	fail "desktop: the console is on tty and serial" "$(cat /proc/consoles)"
expect "desktop: libvirtd.service active" active "$(systemctl is-active libvirtd.service)"
expect "desktop: the hook installed" /usr/local/sbin/vfio-hook "$(readlink /etc/libvirt/hooks/qemu)"
# systemd stops and starts it again, and it holds the card again.
systemctl stop display-manager.service
expect "desktop: stopped by systemd, nothing holds card0" "inactive 0" "$(systemctl is-active display-manager.service) $(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c ' -> /dev/dri/card0$')"
systemctl start display-manager.service
dm_holding() { [ "$(dm_holds)" = 1 ]; }
wait_for 10 dm_holding
expect "desktop: started again, holds card0" "active 1" "$(systemctl is-active display-manager.service) $(dm_holds)"
