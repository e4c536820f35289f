# vm-boot: systemd
# vm-reboot: yes
# vm-time: 360
# early = yes pins one of two identical functions by its address: the guest's two e1000e NICs
# are both 8086:10d3; the map pins 03:00.0 ([pci nic2] device = 0000:03:00.0). vfio-hook setup
# writes an install command for e1000e that gives 03:00.0 to vfio-pci before e1000e loads, and
# no "options vfio-pci ids=8086:10d3" (which would take both). The guest then reboots (the root
# file system's overlay keeps what setup wrote): udev's coldplug loads e1000e by modalias, which
# runs that install command; afterwards only 03:00.0 is on vfio-pci, and 02:00.0 is on e1000e
# with a working interface. setup --undo removes it all again.
nic1=0000:02:00.0 nic2=0000:03:00.0
conf=/etc/modprobe.d/vfio-hook.conf
if [ -z "$VM_RESUMED" ]; then
	write_map "[host]" "early = yes" "[pci nic2]" "device = $nic2" "[vm n2]" "pci = nic2"
	vfio-hook setup >/tmp/setup.out 2>&1; rc=$?
	sed 's/^/INFO setup: /' /tmp/setup.out
	expect "early pin: setup exits 0" 0 "$rc"
	sed "s|^|INFO $conf: |" $conf 2>/dev/null
	want="install e1000e /sbin/modprobe vfio-pci; echo vfio-pci >/sys/bus/pci/devices/$nic2/driver_override; echo $nic2 >/sys/bus/pci/drivers_probe; exec /sbin/modprobe --ignore-install e1000e \$CMDLINE_OPTS"
	grep -Fqx -- "$want" $conf && pass "early pin: $conf gives $nic2 to vfio-pci before e1000e loads" ||
		fail "early pin: $conf gives $nic2 to vfio-pci before e1000e loads" "no line '$want' in: $(cat $conf 2>&1)"
	expect "early pin: $conf never names $nic1" 0 "$(grep -c "$nic1" $conf)"
	expect "early pin: no options vfio-pci ids= (it would take both NICs)" 0 "$(grep -c '^options vfio-pci.*ids=' $conf)"
	expect "early pin: before the reboot both NICs on e1000e" "e1000e e1000e" "$(driver_of $nic1) $(driver_of $nic2)"
	vm_reboot
fi
info "early pin: after the reboot, e1000e loaded by $(journalctl -b -q -o cat _COMM=systemd-udevd 2>/dev/null | grep -c e1000e) udev lines; modules: $(lsmod | grep -E '^(e1000e|vfio_pci) ' | awk '{print $1}' | tr '\n' ' ')"
expect "early pin: after the reboot $nic2 is on vfio-pci (driver_override vfio-pci)" "vfio-pci/vfio-pci" "$(driver_of $nic2)/$(override_of $nic2)"
expect "early pin: after the reboot $nic1 is on e1000e" "e1000e/(null)" "$(driver_of $nic1)/$(override_of $nic1)"
host_works "early pin: after the reboot" $nic1
vfio-hook setup --undo >/tmp/setup.out 2>&1; rc=$?
sed 's/^/INFO setup --undo: /' /tmp/setup.out
expect "early pin: setup --undo exits 0 and removes $conf" "0 no" "$rc $([ -e $conf ] && echo yes || echo no)"
# 03:00.0 back on e1000e by hand, as a host would after the next reboot.
echo > /sys/bus/pci/devices/$nic2/driver_override
echo $nic2 >/sys/bus/pci/drivers/vfio-pci/unbind
echo $nic2 >/sys/bus/pci/drivers_probe
expect "early pin: $nic2 back on e1000e once the override is cleared" e1000e "$(driver_of $nic2)"
rm -f /etc/vfio-hook.ini
