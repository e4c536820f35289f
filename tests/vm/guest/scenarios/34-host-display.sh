# vm-boot: systemd
# The systemd boot is a desktop whose display is the GPU-like device: bochs-drm drives it,
# fbcon is on it, display-manager.service (fakedm, started by systemd) holds /dev/dri/card0,
# libvirtd is a unit. This is what the host-display hand-over starts from.
gpu=0000:01:00.0
expect "desktop: systemd is PID 1" systemd "$(cat /proc/1/comm)"
expect "desktop: 01:00.0 on bochs-drm" bochs-drm "$(driver_of $gpu)"
expect "desktop: display-manager.service active" active "$(systemctl is-active display-manager.service)"
expect "desktop: display-manager.service is fakedm.service" fakedm.service "$(systemctl show -p Id --value display-manager.service)"
dm=$(systemctl show -p MainPID --value display-manager.service)
card=$(ls /sys/bus/pci/devices/$gpu/drm 2>/dev/null | grep '^card' | head -n1)
expect "desktop: the GPU's DRM node is card0" card0 "$card"
held=$(ls -l /proc/"$dm"/fd 2>/dev/null | grep -c ' -> /dev/dri/card0$')
expect "desktop: the display manager (pid $dm) holds /dev/dri/card0" 1 "$held"
fb=""
for f in /sys/class/graphics/fb*; do
	[ "$(basename "$(readlink -f "$f/device")")" = "$gpu" ] && fb=${f##*/}
done
[ -n "$fb" ] && [ -c "/dev/$fb" ] && pass "desktop: /dev/$fb is the GPU's framebuffer ($(cat /sys/class/graphics/$fb/name))" ||
	fail "desktop: a framebuffer on the GPU" "$(ls -l /sys/class/graphics/ 2>&1)"
bound=$(fbcon_bound | tail -n1)
[ -n "$bound" ] && pass "desktop: fbcon bound on $bound" || fail "desktop: fbcon bound on a vtconsole" "$(vtcons)"
grep -qw tty0 /proc/consoles && grep -qw ttyS0 /proc/consoles && pass "desktop: the console is on tty and serial" ||
	fail "desktop: the console is on tty and serial" "$(cat /proc/consoles)"
expect "desktop: libvirtd.service active" active "$(systemctl is-active libvirtd.service)"
expect "desktop: the hook installed" /usr/local/sbin/vfio-hook "$(readlink /etc/libvirt/hooks/qemu)"
# systemd stops and starts it again, and it holds the card again.
systemctl stop display-manager.service
expect "desktop: stopped by systemd, nothing holds card0" "inactive 0" "$(systemctl is-active display-manager.service) $(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c ' -> /dev/dri/card0$')"
systemctl start display-manager.service
sleep 1
dm=$(systemctl show -p MainPID --value display-manager.service)
expect "desktop: started again, holds card0" "active 1" "$(systemctl is-active display-manager.service) $(ls -l /proc/"$dm"/fd 2>/dev/null | grep -c ' -> /dev/dri/card0$')"
