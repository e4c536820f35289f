# vm-time: 40
# A NIC mapped to a VM: it goes to vfio-pci for the VM, and comes back on a working e1000e.
nic=0000:02:00.0
write_map "[options]" "timeout = 20" "[vm n]" "pci = $nic"
define_l2 n none no $nic
virsh start n >/tmp/start.out 2>&1 && pass "nic: starts" || fail "nic: starts" "$(cat /tmp/start.out)"
expect "nic: on vfio-pci while it runs" vfio-pci "$(driver_of $nic)"
virsh destroy n >/dev/null 2>&1
expect "nic: back on e1000e" e1000e "$(driver_of $nic)"
host_works nic $nic
virsh undefine n >/dev/null 2>&1
