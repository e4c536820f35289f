# vm-needs: linux-l2
# vm-time: 300
# A give-back never takes a disk the host uses. The chain, on the NVMe (05:00.0, on nvme), with
# evict = detach: VM a (the shared Linux L2 la) runs with it; VM b (the shared Linux L2 lb,
# giveback = yes) takes it from a, live (la acknowledges the unplug), and its record says it came
# from a; VM c (giveback = no) starts and takes it from b (lb acknowledges). c stops: the NVMe goes
# back to nvme, and the host mounts the ext4 on it and writes a file. Then b stops: its give-back
# to a meets the guard a start meets, the filesystem is mounted, and is refused with the hook's
# line; the NVMe stays on nvme under the mounted filesystem, the file intact. lb is gone after
# this (no later scenario uses it).
nv=0000:05:00.0
l2_ready la lb || exit 0
expect "nvme giveback: the NVMe is $nv, on nvme" "$nv nvme" "$(nvme_addr) $(driver_of $nv)"
disk=$(nvme_disk $nv 20) || { fail "nvme giveback: the NVMe has a namespace" "no block device under $nv"; exit 0; }
mkfs.ext4 -q -F -L giveback "$disk" >/tmp/mkfs.out 2>&1 || fail "nvme giveback: mkfs.ext4 $disk" "$(cat /tmp/mkfs.out)"
write_map "[options]" "timeout = 40" "evict = detach" "[pci nvme]" "device = $nv" \
	"[vm la]" "pci = nvme" "[vm lb]" "pci = nvme" "giveback = yes" "[vm c]" "pci = nvme" "giveback = no"
define_l2 c none no $nv

l2_give la nvme && pass "nvme giveback: a takes the NVMe" || fail "nvme giveback: a takes the NVMe" "$(cat /tmp/give.out)"
expect "nvme giveback: a runs with it on vfio-pci, its owner" "running 1 vfio-pci 1" \
	"$(domstate la) $(hostdevs la) $(driver_of $nv) $(record_lines la "^func $nv ")"
l2_give lb nvme && pass "nvme giveback: b takes it from a" || fail "nvme giveback: b takes it from a" "$(cat /tmp/give.out)"
grep -q "^took $nv from la" /tmp/give.out && pass "nvme giveback: b says it took it from a" ||
	fail "nvme giveback: b says it took it from a" "$(cat /tmp/give.out)"
expect "nvme giveback: b has it live, a not, both run" "1 0 running running vfio-pci" \
	"$(hostdevs lb) $(hostdevs la) $(domstate la) $(domstate lb) $(driver_of $nv)"
expect "nvme giveback: b's record says it came from a" 1 "$(record_lines lb "^took $nv .*from=la\( \|$\)")"

within 120 /tmp/startc.out virsh start c; rc=$?
expect "nvme giveback: c starts, taking it from b" "0 running 1" "$rc $(domstate c) $(hostdevs c)"
[ $rc = 0 ] || info "c's start said: $(tr '\n' ' ' </tmp/startc.out)"
expect "nvme giveback: b keeps running without it" "running 0" "$(domstate lb) $(hostdevs lb)"
expect "nvme giveback: c's record says it came from b" 1 "$(record_lines c "^took $nv .*from=lb\( \|$\)")"
within 60 /tmp/destroy.out virsh destroy c
expect "nvme giveback: c stopped (giveback = no): the NVMe back on nvme, b still without it" "nvme running 0" \
	"$(driver_of $nv) $(domstate lb) $(hostdevs lb)"
expect "nvme giveback: b's record of a is still there" 1 "$(record_lines lb "^took $nv .*from=la\( \|$\)")"

# The host uses the disk now.
mkdir -p /mnt/nvme
if disk=$(nvme_disk $nv 30) && within 30 /tmp/mount.out mount -t ext4 "$disk" /mnt/nvme; then
	pass "nvme giveback: the host mounts the ext4 on $disk"
else
	fail "nvme giveback: the host mounts the ext4 on the NVMe" "$(cat /tmp/mount.out 2>&1)"
fi
proof="written by the host after c stopped, $(date +%s)"
echo "$proof" >/mnt/nvme/proof && sync
expect "nvme giveback: the host writes its file" "$proof" "$(cat /mnt/nvme/proof 2>&1)"

# b stops: its record says it took the NVMe from a, which runs: the give-back is planned, and
# the guard refuses it (mounted), as it refuses a start.
log_mark
within 120 /tmp/destroy.out virsh destroy lb; rc=$?
expect "nvme giveback: b stops" "0 shut off" "$rc $(domstate lb)"
gb_line() { log_since_mark | grep -q "lb: could not give $nv back to la: .*is mounted on /mnt/nvme.*; it stays with the host"; }
wait_for 10 gb_line && pass "nvme giveback: the give-back to a is refused: mounted on /mnt/nvme, it stays with the host" ||
	fail "nvme giveback: the give-back to a is refused: mounted on /mnt/nvme, it stays with the host" "$(log_since_mark | grep vfio-hook | tail -n 5)"
log_since_mark | grep "vfio-hook" | grep -F "$nv" | sed 's/^/INFO log: /'
expect "nvme giveback: the NVMe still on nvme, no driver_override" "nvme/(null)" "$(driver_of $nv)/$(override_of $nv)"
expect "nvme giveback: still mounted, the file intact" "yes $proof" \
	"$(grep -q " /mnt/nvme ext4 " /proc/mounts && echo yes) $(cat /mnt/nvme/proof 2>&1)"
echo more >>/mnt/nvme/proof && sync && pass "nvme giveback: the filesystem still takes writes" ||
	fail "nvme giveback: the filesystem still takes writes" "$(tail -n 3 /mnt/nvme/proof 2>&1)"
expect "nvme giveback: a runs without it" "running 0" "$(domstate la) $(hostdevs la)"
expect "nvme giveback: no records left" 0 "$(records)"
within 30 /tmp/umount.out umount /mnt/nvme
cleanup c
l2_reset la
