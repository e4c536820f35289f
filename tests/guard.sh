#!/bin/sh
# The disk guard as a user meets it: a disk of the NVMe the VM is given is in use by the host in
# a way no mount of the disk itself shows (a loop device over a partition, a running VM's raw
# disk, a native-multipath head disk). Each start is refused and the NVMe stays with the host.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml store 0000:01:00.0 >"$work/store.xml"
NVME='d=none; [ -e /sys/bus/pci/devices/0000:01:00.0/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)); echo "nvme=$d"'
export NVME

## disk guard: a loop device backed by a partition of the disk (mount -o loop /dev/nvme0n1p1,
## losetup on a partition) is mounted; loop opens its backing device without O_EXCL and is no
## holder in sysfs, and mountinfo names /dev/loop0: the NVMe under it is taken
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

## disk guard: a running VM uses a partition of the disk as its raw disk (<disk type='block'>,
## a common way to give a VM real storage); QEMU opens it without O_EXCL, so the exclusive
## open succeeds, and the holders are read only for <hostdev>/<interface>: the NVMe is unbound
## from under that VM's disk
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

## disk guard: an NVMe whose subsystem supports several controllers (CMIC set: dual-port
## U.2/enterprise drives) gets a native-multipath head disk, /sys/block/nvme0n1 ->
## /sys/devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1, with no PCI address in its path
## (the per-controller path device nvme0c0n1 under the controller has no /sys/block entry):
## the guard finds no disk on the function, and the root file system's NVMe is taken
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

tap_done
