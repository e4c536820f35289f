# The Linux L2 helper: an L2 that runs an OS boots, and acknowledges a live hot-unplug of a
# PCI hostdev (a no-OS L2 never does), after which libvirt gives the managed NIC back to e1000e.
nic=0000:03:00.0
define_l2 linuxvm linux yes "$nic"
t0=$(date +%s)
virsh start linuxvm >/tmp/start.out 2>&1 || fail "linux-l2: start" "$(cat /tmp/start.out)"
if wait_l2_up linuxvm 300; then pass "linux-l2: L2 Linux booted ($(( $(date +%s) - t0 )) s)"
else fail "linux-l2: L2 Linux booted" "no L2-UP on its console within 300 s: $(tail -c 300 /tmp/linuxvm.console)"; fi
expect "linux-l2: NIC on vfio-pci in the L2" vfio-pci "$(driver_of $nic)"
cat >/tmp/nic-hostdev.xml <<XML
<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
XML
t0=$(date +%s)
virsh detach-device linuxvm /tmp/nic-hostdev.xml --live >/tmp/detach.out 2>&1 || fail "linux-l2: detach request" "$(cat /tmp/detach.out)"
i=0
while [ $i -lt 60 ] && virsh dumpxml linuxvm | grep -q "<hostdev"; do sleep 1; i=$((i + 1)); done
if virsh dumpxml linuxvm | grep -q "<hostdev"; then fail "linux-l2: L2 acknowledges hot-unplug" "hostdev still in the live XML after 60 s"
else pass "linux-l2: L2 acknowledges hot-unplug ($(( $(date +%s) - t0 )) s)"; fi
expect "linux-l2: L2 still running" running "$(domstate linuxvm)"
expect "linux-l2: NIC back on e1000e" e1000e "$(driver_of $nic)"
why=$(host_driver_works $nic) && pass "linux-l2: e1000e works again" || fail "linux-l2: e1000e works again" "$why"
virsh destroy linuxvm >/dev/null 2>&1
virsh undefine linuxvm >/dev/null 2>&1
