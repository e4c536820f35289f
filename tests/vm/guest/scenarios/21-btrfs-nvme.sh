# vm-time: 120
# btrfs on the NVMe. A mounted btrfs shows an anonymous device number in mountinfo, not the
# disk's, so only its mount source (and an exclusive open of the disk) say the NVMe backs it:
# the start of a VM mapped to the NVMe is refused naming the mount, and nothing moves. Once
# unmounted, the VM starts with the NVMe on vfio-pci; after its stop the NVMe is back on nvme
# and the filesystem still holds the file written before.
nv=$(nvme_addr) || { fail "btrfs: the guest has an NVMe" "no function of class 0x010802"; exit 0; }
disk=$(nvme_disk "$nv" 20) || { fail "btrfs: the NVMe has a namespace" "no block device under $nv"; exit 0; }
mkfs.btrfs -f -q "$disk" >/tmp/mkfs.out 2>&1 || fail "btrfs: mkfs.btrfs $disk" "$(cat /tmp/mkfs.out)"
mkdir -p /mnt/nvme
mount -t btrfs "$disk" /mnt/nvme 2>/tmp/mount.out || fail "btrfs: mount $disk" "$(cat /tmp/mount.out)"
proof="written before the VM start, $(date +%s)"
echo "$proof" >/mnt/nvme/proof && sync
info "btrfs: mountinfo says: $(grep ' /mnt/nvme ' /proc/self/mountinfo)"
write_map "[options]" "timeout = 20" "[vm s]" "pci = $nv"
define_l2 s none no "$nv"

within 30 /tmp/check.out vfio-hook --check s; rc=$?
expect "btrfs: --check s says the start would be refused" 1 $rc
grep -q "$nv .*is mounted on /mnt/nvme" /tmp/check.out &&
	pass "btrfs: --check s names the mount" || fail "btrfs: --check s names the mount" "$(cat /tmp/check.out)"
within 60 /tmp/start.out virsh start s; rc=$?
if [ $rc = 0 ]; then
	fail "btrfs: the start is refused while mounted" "it started ($nv on $(driver_of "$nv"))"
	within 30 /tmp/destroy.out virsh destroy s
else
	in_time "btrfs: the start is refused while mounted" 60 $rc
fi
grep -q "vfio-hook: s: $nv .*is mounted on /mnt/nvme" /tmp/start.out &&
	pass "btrfs: the refusal names the mount" || fail "btrfs: the refusal names the mount" "$(cat /tmp/start.out)"
expect "btrfs: the NVMe stays on nvme, the file readable" "nvme $proof" "$(driver_of "$nv") $(cat /mnt/nvme/proof 2>&1)"

within 30 /tmp/umount.out umount /mnt/nvme; rc=$?
expect "btrfs: unmounted" 0 $rc
within 60 /tmp/start.out virsh start s; rc=$?
expect "btrfs: unmounted, s starts with the NVMe on vfio-pci" "0 running vfio-pci" "$rc $(domstate s) $(driver_of "$nv")"
[ $rc = 0 ] || info "s's start said: $(tr '\n' ' ' </tmp/start.out)"
within 30 /tmp/destroy.out virsh destroy s
expect "btrfs: after s, the NVMe is back on nvme" nvme "$(driver_of "$nv")"
if disk=$(nvme_disk "$nv" 30); then
	pass "btrfs: its namespace is back ($disk)"
	within 30 /tmp/mount.out mount -t btrfs "$disk" /mnt/nvme; rc=$?
	expect "btrfs: mounted again, the file reads as written" "0 $proof" "$rc $(cat /mnt/nvme/proof 2>&1)"
	within 30 /tmp/umount.out umount /mnt/nvme
else
	fail "btrfs: its namespace is back" "no block device under $nv within 30 s"
fi
cleanup s
expect "btrfs: no records left" 0 "$(records)"
