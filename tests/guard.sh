#!/bin/sh
# What the host needs stays with it: disks, a VF's PF, a vGPU's parent, the console's GPU.
# sources: guard plan world domxml display holders
# Each start that would take it is refused and the device stays on its host driver: a disk
# mounted, swap, held by md/dm/LVM or ZFS, or open exclusively by the kernel; a disk in use in a
# way no mount of the disk itself shows (a loop device over a partition, a running VM's raw
# disk, a native-multipath head disk); the physical function of a VF a running VM uses; the
# parent of a running vGPU; the boot GPU with the framebuffer console. What root that is denied
# its reads does with a disk it could not check is in tests/as-user.sh; the host's display in
# tests/display.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml store 0000:01:00.0 >"$work/store.xml"
domxml win10 $GPU >"$work/win10.xml"
domxml nas 0000:05:00.0 >"$work/nas.xml"
NIC='basename $(readlink /sys/bus/pci/devices/0000:05:00.0/driver)'
P1=/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1
export NIC P1

## disks
reset; map "[vm store]" "pci = 0000:01:00.0"
guard() { # NAME SETUP EXPECTED-LINE
	out=$(on desktop "$2"'
	$H store prepare begin - <$W/store.xml; echo "rc=$?"; eval "$NVME"; ls $W/state')
	check "guard: $1" "$(printf '%s\nrc=1\nnvme=nvme\nlock' "$3")" "$out"
}
guard "mounted filesystem" 'echo "40 22 259:1 / /home rw - ext4 /dev/nvme0n1p1 rw" >>$UMOCKDEV_DIR/proc/self/mountinfo' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 is mounted on /home: the host needs it (unmount or stop using it first, or remove the device from the map)"
guard "active swap" 'echo "/dev/nvme0n1p2 partition 8388604 0 -2" >>$UMOCKDEV_DIR/proc/swaps' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p2 is active swap: the host needs it (unmount or stop using it first, or remove the device from the map)"
guard "LVM/dm holder" 'mkdir -p $UMOCKDEV_DIR$P1/holders/dm-0' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 is part of dm-0 (md, dm or LVM): the host needs it (unmount or stop using it first, or remove the device from the map)"
# btrfs shows an anonymous 0:NN device in mountinfo: only the source names the partition.
guard "btrfs on a partition" 'echo "41 22 0:45 / /data rw,relatime shared:30 - btrfs /dev/nvme0n1p2 rw,ssd,space_cache=v2,subvolid=5,subvol=/" >>$UMOCKDEV_DIR/proc/self/mountinfo' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p2 is mounted on /data: the host needs it (unmount or stop using it first, or remove the device from the map)"
guard "mounted by UUID" 'mkdir -p $UMOCKDEV_DIR/dev/disk/by-uuid; : >$UMOCKDEV_DIR/dev/nvme0n1p1
	ln -s ../../nvme0n1p1 $UMOCKDEV_DIR/dev/disk/by-uuid/4f1c7d02-5a7e-4b9e-9c53-2d7a3c1b8e61
	printf "%s\\n" "42 22 0:47 / /srv/my\\040files rw - btrfs /dev/disk/by-uuid/4f1c7d02-5a7e-4b9e-9c53-2d7a3c1b8e61 rw" >>$UMOCKDEV_DIR/proc/self/mountinfo' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 is mounted on /srv/my files: the host needs it (unmount or stop using it first, or remove the device from the map)"
# A ZFS dataset names its pool, not a device: only the kernel's exclusive open tells.
guard "ZFS pool member" 'echo "43 22 0:52 / /tank/data rw,noatime shared:40 - zfs tank/data rw,xattr,noacl" >>$UMOCKDEV_DIR/proc/self/mountinfo
	export FAKEKERNEL_BUSY=nvme0n1p1,nvme0n1' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 is in use by the kernel (a filesystem, RAID/LVM member, swap or ZFS pool): the host needs it (unmount or stop using it first, or remove the device from the map)"
guard "whole disk held" 'export FAKEKERNEL_BUSY=nvme0n1' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1 is in use by the kernel (a filesystem, RAID/LVM member, swap or ZFS pool): the host needs it (unmount or stop using it first, or remove the device from the map)"
out=$(on desktop 'export FAKEKERNEL_BUSY=nvme0n1p2:hang; s=$(date +%s)
	$H store prepare begin - <$W/store.xml; echo "rc=$? waited=$(( $(date +%s) - s ))"; eval "$NVME"')
case "$out" in
"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p2 did not answer an exclusive open within 5 s: its disk or driver may be stuck (see dmesg); refusing rather than guessing
rc=1 waited="[5678]"
nvme=nvme") ok "guard: a disk whose open never returns is refused at the deadline" ;;
*) not_ok "guard: a disk whose open never returns is refused at the deadline" "$out" ;;
esac
# Other disks' btrfs, ZFS and by-UUID mounts, and another disk held, leave this one free.
out=$(on desktop 'mkdir -p $UMOCKDEV_DIR/dev/disk/by-uuid; : >$UMOCKDEV_DIR/dev/sda2; : >$UMOCKDEV_DIR/dev/nvme0n1p1
	ln -s ../../sda2 $UMOCKDEV_DIR/dev/disk/by-uuid/0b5e2f6a-77c1-4d0e-8a3b-5f9d2c4e1a70
	printf "%s\n" "41 22 0:45 / /home rw - btrfs /dev/sda2 rw" "42 22 0:52 / /tank rw - zfs tank rw" \
		"43 22 0:46 / /srv rw - btrfs /dev/disk/by-uuid/0b5e2f6a-77c1-4d0e-8a3b-5f9d2c4e1a70 rw" >>$UMOCKDEV_DIR/proc/self/mountinfo
	export FAKEKERNEL_BUSY=sda,sda2,sdb
	$H store prepare begin - <$W/store.xml; echo "rc=$?"; eval "$NVME"; $H store release end - </dev/null; eval "$NVME"')
check "guard: an unused disk moves and comes back" "$(printf 'rc=0\nnvme=vfio-pci\nnvme=nvme')" "$out"

## a loop device backed by a partition of the disk (mount -o loop /dev/nvme0n1p1, losetup on a
## partition) is mounted: the NVMe under it stays. Loop opens its backing device without O_EXCL
## and is no holder in sysfs, and mountinfo names /dev/loop0: only the loop device's backing
## file tells
reset; map "[vm store]" "pci = 0000:01:00.0"
out=$(on desktop 'L=$UMOCKDEV_DIR/sys/devices/virtual/block/loop0; mkdir -p $L/loop
echo /dev/nvme0n1p1 >$L/loop/backing_file; echo 7:0 >$L/dev; echo 0 >$L/loop/offset
ln -s ../devices/virtual/block/loop0 $UMOCKDEV_DIR/sys/block/loop0
echo "44 22 7:0 / /mnt/img rw,relatime - ext4 /dev/loop0 rw" >>$UMOCKDEV_DIR/proc/self/mountinfo
$H store prepare begin - <$W/store.xml 2>/dev/null; echo "rc=$?"; eval "$NVME"')
check "guard_sees_a_loop_device_on_a_partition: refused, the NVMe stays with the host" "$(printf 'rc=1\nnvme=nvme')" "$out"

## a loop device attached to the whole disk (losetup /dev/nvme0n1) and used by nothing yet: its
## I/O still goes to the disk, so the start is refused with how to detach it
reset; map "[vm store]" "pci = 0000:01:00.0"
out=$(on desktop 'L=$UMOCKDEV_DIR/sys/devices/virtual/block/loop3; mkdir -p $L/loop
echo /dev/nvme0n1 >$L/loop/backing_file; echo 7:3 >$L/dev
ln -s ../devices/virtual/block/loop3 $UMOCKDEV_DIR/sys/block/loop3
$H store prepare begin - <$W/store.xml; echo "rc=$?"; eval "$NVME"')
check "guard_sees_an_unused_loop_device_on_the_disk: refused with the fix" "$(printf '%s\nrc=1\nnvme=nvme' \
	"vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1 backs /dev/loop3: the host needs it (detach it with 'losetup -d /dev/loop3' first, or remove the device from the map)")" "$out"

## a running VM uses a partition of the disk as its raw disk (<disk type='block'>, a common way
## to give a VM real storage): the NVMe is not unbound from under that VM's disk. QEMU opens it
## without O_EXCL, so the exclusive open succeeds: only the running VM's <disk> elements tell,
## not its <hostdev>/<interface> alone
reset; map "[vm store]" "pci = 0000:01:00.0"
for src in /dev/nvme0n1p2 /dev/disk/by-id/nvme-INTEL_SSDPEKNW010T8_BTNH0000000000-part2; do
	printf "<domstatus state='running' pid='4242'><domain type='kvm' id='3'><name>other</name><devices><disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='%s'/><target dev='vdb' bus='virtio'/><alias name='virtio-disk1'/></disk></devices></domain></domstatus>\n" "$src" >"$work/run/other.xml"
	out=$(on desktop 'mkdir -p $UMOCKDEV_DIR/dev/disk/by-id; : >$UMOCKDEV_DIR/dev/nvme0n1p2
	ln -s ../../nvme0n1p2 $UMOCKDEV_DIR/dev/disk/by-id/nvme-INTEL_SSDPEKNW010T8_BTNH0000000000-part2
	$H --check store --xml $W/store.xml >/dev/null 2>&1; echo "check rc=$?"
	$H store prepare begin - <$W/store.xml 2>/dev/null; echo "rc=$?"; eval "$NVME"')
	check "guard_sees_a_running_vms_raw_disk ($src): refused, the other VM keeps its disk" \
		"$(printf 'check rc=1\nrc=1\nnvme=nvme')" "$out"
done

## an NVMe whose subsystem supports several controllers (CMIC set: dual-port U.2/enterprise
## drives) gets a native-multipath head disk, /sys/block/nvme0n1 ->
## /sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1, with no PCI address in its path
## (the per-controller path device nvme0c0n1 under the controller has no /sys/block entry): the
## guard follows the head disk's paths to the function, or it would find no disk on it and
## take the root file system's NVMe
reset; map "[vm store]" "pci = 0000:01:00.0"
out=$(on desktop 'S=$UMOCKDEV_DIR/sys; C=$S/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0
V=$S/devices/virtual/nvme-subsystem/nvme-subsys0; mkdir -p $V
mv $C/nvme0n1 $V/nvme0n1; mkdir $C/nvme0c0n1; ln -s ../../../pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0 $V/nvme0
for b in nvme0n1 nvme0n1p1 nvme0n1p2; do rm $S/block/$b; done
ln -s ../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1 $S/block/nvme0n1
mkdir -p $V/nvme0n1/multipath; ln -s ../../../../pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0c0n1 $V/nvme0n1/multipath/nvme0c0n1
echo "40 22 259:1 / / rw - ext4 /dev/nvme0n1p1 rw" >>$UMOCKDEV_DIR/proc/self/mountinfo
$H store prepare begin - <$W/store.xml 2>/dev/null; echo "rc=$?"; eval "$NVME"')
check "guard_follows_an_nvme_multipath_head_disk: / on it is refused" "$(printf 'rc=1\nnvme=nvme')" "$out"

## the boot GPU with the framebuffer console (the display itself: tests/display.sh)
reset; map "[vm hostgpu]" "pci = 0b:00.0 0b:00.1"
domxml hostgpu 0000:0b:00.0 0000:0b:00.1 >"$work/hostgpu.xml"
out=$(on desktop '$H hostgpu prepare begin - <$W/hostgpu.xml; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/0000:0b:00.0/driver)')
check "guard: the boot GPU with the framebuffer console stays" "$(printf '%s\nrc=1\namdgpu' \
	"vfio-hook: hostgpu: 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]) drives the host's display (fbcon on tty1): set host-display = handoff in [vm hostgpu] to let vfio-hook stop display-manager.service while hostgpu runs, or give the host another GPU")" "$out"
out=$(on desktop 'echo 0 >$UMOCKDEV_DIR/sys/devices/virtual/vtconsole/vtcon1/bind; $H hostgpu prepare begin - <$W/hostgpu.xml; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/0000:0b:00.0/driver)')
check "guard: with the console unbound it may go" "$(printf 'rc=0\nvfio-pci')" "$out"

## an SR-IOV NIC: a running VM has a virtual function (05:10.0, its own IOMMU group) of the
## physical function 05:00.0. Unbinding the PF's driver disables SR-IOV, which removes the VF
## from under that VM (or hangs in vfio-pci's remove while QEMU holds it): the PF stays, though
## its own IOMMU group holds nothing a running VM uses
reset; map "[vm nas]" "pci = 0000:05:00.0"
status router 0000:05:10.0
out=$(on desktop 'PF=$UMOCKDEV_DIR$(readlink -f /sys/bus/pci/devices/0000:05:00.0)
echo 1 >$PF/sriov_numvfs; echo 7 >$PF/sriov_totalvfs; mkdir -p ${PF%/*}/0000:05:10.0
ln -s ../0000:05:10.0 $PF/virtfn0; ln -s ../0000:05:00.0 ${PF%/*}/0000:05:10.0/physfn
$H nas prepare begin - <$W/nas.xml 2>/dev/null; echo "rc=$?"; eval "$NIC"')
check "pf_of_a_vf_a_running_vm_uses_is_not_taken: refused, igb keeps the PF" "$(printf 'rc=1\nigb')" "$out"

## a mediated device (vGPU: GVT-g, NVIDIA vGPU, <hostdev type='mdev'>) of the GPU runs in a VM;
## the mdev lives on the parent's host driver, so unbinding that driver would tear the vGPU out
## of the running VM (or hang on it): the GPU stays, though no PCI hostdev of a running VM
## names it
reset; map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm win10]" "pci = gpu"
U=4b20d080-1b54-4048-85b3-a6a62d165c01
printf "<domstatus state='running' pid='4242'><domain type='kvm' id='4'><name>vgpu</name><devices><hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci'><source><address uuid='%s'/></source><alias name='hostdev0'/></hostdev></devices></domain></domstatus>\n" "$U" >"$work/run/vgpu.xml"
out=$(on desktop 'G=$UMOCKDEV_DIR$(readlink -f /sys/bus/pci/devices/0000:09:00.0); mkdir -p $G/'"$U"' $UMOCKDEV_DIR/sys/bus/mdev/devices
ln -s ../../../devices/pci0000:00/0000:00:03.1/0000:09:00.0/'"$U"' $UMOCKDEV_DIR/sys/bus/mdev/devices/'"$U"'
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; eval "$STATE"')
check "parent_of_a_running_vgpu_is_not_taken: refused, the GPU stays on nvidia" "$(printf 'rc=1\n%s' "$ORIG")" "$out"

tap_done
