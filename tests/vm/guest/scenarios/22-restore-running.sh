# vm-time: 60
# vfio-hook restore of a running VM: refused, naming it, and the VM keeps running with its
# device on vfio-pci (a no-OS L2 never acknowledges the device request an unbind under it
# would send, so a restore that tried would block in the kernel). The same for restore --all.
nic=0000:03:00.0
write_map "[options]" "timeout = 5" "[vm a]" "pci = $nic"
define_l2 a none no $nic
virsh start a >/tmp/start.out 2>&1 || fail "restore-running: A starts" "$(cat /tmp/start.out)"
expect "restore-running: A runs with the NIC on vfio-pci" "running 1 vfio-pci" "$(domstate a) $(hostdevs a) $(driver_of $nic)"
for how in a --all; do
	within 30 /tmp/restore.out vfio-hook restore $how; rc=$?
	[ $rc != 0 ] && [ $rc != 124 ] && pass "restore-running: restore $how refuses (exit $rc, $WITHIN_S s)" ||
		fail "restore-running: restore $how refuses" "exit $rc: $(cat /tmp/restore.out)"
	grep -q -E "$nic.*the running VM a uses it|the running VM a uses it.*$nic" /tmp/restore.out &&
		pass "restore-running: restore $how says the running VM a uses $nic" ||
		fail "restore-running: restore $how says the running VM a uses $nic" "$(cat /tmp/restore.out)"
	expect "restore-running: after restore $how, A still runs with the NIC on vfio-pci" "running 1 vfio-pci" \
		"$(domstate a) $(hostdevs a) $(driver_of $nic)"
done
within 30 /tmp/destroy.out virsh destroy a
expect "restore-running: after A, the NIC is back on e1000e" e1000e "$(driver_of $nic)"
host_works restore-running $nic
cleanup a
expect "restore-running: no records left" 0 "$(records)"
