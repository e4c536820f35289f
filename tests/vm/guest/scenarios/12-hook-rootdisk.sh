# vm-time: 30
# The guest's own root disk mapped to a VM: refused as backing /, and nothing moves.
root=$(basename "$(readlink -f /sys/class/block/vda/device/..)")
write_map "[options]" "timeout = 20" "[vm d]" "pci = $root"
define_l2 d none no "$root"
if virsh start d >/tmp/start.out 2>&1; then fail "rootdisk: refused" "it started"; virsh destroy d >/dev/null 2>&1
else pass "rootdisk: refused"; fi
grep -q "vfio-hook: d: $root (.*): /dev/vda is mounted on /: the host needs it" /tmp/start.out &&
	pass "rootdisk: the line says /dev/vda is mounted on /" || fail "rootdisk: the line says /dev/vda is mounted on /" "$(cat /tmp/start.out)"
expect "rootdisk: still on virtio-pci" virtio-pci "$(driver_of "$root")"
virsh undefine d >/dev/null 2>&1
