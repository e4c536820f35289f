# vm-needs: linux-l2
# vm-time: 150
# The Linux L2 helper: an L2 that runs an OS boots (the shared one, la, booted in the background
# since the guest came up), and acknowledges a live hot-unplug of a PCI hostdev (a no-OS L2 never
# does), after which libvirt gives the managed NIC back to e1000e. The NIC is hot-plugged with
# managed='yes', so libvirt itself moves it to vfio-pci first.
nic=0000:03:00.0
if l2_ready la; then pass "linux-l2: L2 Linux booted ($(l2_boot_s la) s)"
else fail "linux-l2: L2 Linux booted" "see above"; exit 0; fi
cat >/tmp/nic-hostdev.xml <<XML
<hostdev mode='subsystem' type='pci' managed='yes'><source><address domain='0x0000' bus='0x03' slot='0x00' function='0x0'/></source></hostdev>
XML
within 120 /tmp/attach.out virsh attach-device la /tmp/nic-hostdev.xml --live || fail "linux-l2: attach" "$(cat /tmp/attach.out)"
expect "linux-l2: NIC on vfio-pci in the L2" "vfio-pci 1" "$(driver_of $nic) $(hostdevs la)"
t0=$(date +%s)
virsh detach-device la /tmp/nic-hostdev.xml --live >/tmp/detach.out 2>&1 || fail "linux-l2: detach request" "$(cat /tmp/detach.out)"
no_hostdev() { ! timeout 30 virsh dumpxml la | grep -q "<hostdev"; }
if wait_for 60 no_hostdev; then pass "linux-l2: L2 acknowledges hot-unplug ($(( $(date +%s) - t0 )) s)"
else fail "linux-l2: L2 acknowledges hot-unplug" "hostdev still in the live XML after 60 s"; fi
expect "linux-l2: L2 still running" running "$(domstate la)"
expect "linux-l2: NIC back on e1000e" e1000e "$(driver_of $nic)"
why=$(host_driver_works $nic) && pass "linux-l2: e1000e works again" || fail "linux-l2: e1000e works again" "$why"
l2_reset la
