# vm-time: 60
# libvirt itself moves a managed='yes' NIC to vfio-pci for an L2 domain and back to e1000e.
nic=0000:02:00.0
define_l2 nicvm none yes "$nic"
if virsh start nicvm >/tmp/start.out 2>&1; then pass "managed-nic: L2 with a managed='yes' NIC starts"
else fail "managed-nic: L2 with a managed='yes' NIC starts" "$(cat /tmp/start.out)"; fi
expect "managed-nic: L2 is running" running "$(domstate nicvm)"
expect "managed-nic: NIC on vfio-pci while it runs" vfio-pci "$(driver_of $nic)"
virsh destroy nicvm >/dev/null 2>&1
expect "managed-nic: L2 stopped" "shut off" "$(domstate nicvm)"
expect "managed-nic: NIC back on e1000e" e1000e "$(driver_of $nic)"
why=$(host_driver_works $nic) && pass "managed-nic: e1000e works again" || fail "managed-nic: e1000e works again" "$why"
virsh undefine nicvm >/dev/null 2>&1
