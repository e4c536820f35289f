#!/bin/sh
# Adversarial scenarios, second round: the stuck-read machinery, the disk guard, hook-mode map
# handling and the hook's contract, each the state of the world that breaks a promise of the
# README or of the invariants (every step that can block has a deadline; nothing is taken from
# a running VM; the host keeps what it needs). Every check says what must happen; a failing one
# is a finding.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
mute=${MUTE_SOCKET:?}

domxml win10 $GPU >"$work/win10.xml"
domxml router >"$work/router.xml"
domxml store 0000:01:00.0 >"$work/store.xml"
domxml nas 0000:05:00.0 >"$work/nas.xml"
NVME='d=none; [ -e /sys/bus/pci/devices/0000:01:00.0/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)); echo "nvme=$d"'
NIC='basename $(readlink /sys/bus/pci/devices/0000:05:00.0/driver)'
export NVME NIC

## --check VM without --xml asks libvirt for the domain XML in the main process, with no
## deadline: while libvirtd autostarts VMs (it answers nothing then), or when it is wedged on a
## hook, '--check win10' hangs for good. Every other libvirt call has the map's timeout.
"$mute" "$work/mute.sock" >"$work/mute.out" &
mute_pid=$!
i=0; while [ $i -lt 50 ] && ! grep -qs ready "$work/mute.out"; do sleep 0.1; i=$((i + 1)); done
reset; map "[options]" "timeout = 2" "uri = qemu+unix:///system?socket=$work/mute.sock" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu"
out=$(on desktop 's=$(date +%s); timeout -s KILL 20 $H --check win10 >/dev/null 2>&1; echo "rc=$?"
[ $(( $(date +%s) - s )) -le 8 ] && echo "ended within the deadline"')
check "check_without_xml_has_a_deadline: a mute libvirt costs timeout, not forever" \
	"$(printf 'rc=0\nended within the deadline')" "$out"
kill "$mute_pid" 2>/dev/null; wait "$mute_pid" 2>/dev/null

## the map is opened with a blocking open(): a FIFO there (or anything whose open waits) hangs
## every run before the "not a regular file" check. win10 owns the GPU; the map is replaced by
## a FIFO; win10's release (libvirt waits for it, with no timeout) hangs holding the lock, so
## the GPU never comes back and every later run waits; a VM not in the map cannot start either
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
rm $W/map.ini; mkfifo -m 644 $W/map.ini
timeout -s KILL 8 $H win10 release end - </dev/null 2>/dev/null; echo "release rc=$?"; eval "$STATE"
timeout -s KILL 8 $H router prepare begin - <$W/router.xml 2>/dev/null; echo "router rc=$?"
timeout -s KILL 8 $H status >/dev/null 2>&1; echo "status rc=$?"')
check "map_that_blocks_on_open_is_refused_not_waited_on: release gives back, others answer" \
	"$(printf 'rc=0\nrelease rc=0\n%s\nrouter rc=1\nstatus rc=2' "$ORIG")" "$out"
rm -f "$work/map.ini"

## a driver operation that takes 3 s (a host driver's probe, e.g. a GPU driver loading its
## firmware at boot while libvirtd autostarts VMs) holds the device lock for 3 s; the map says
## driver steps may take 10 s, but reads of driver_override/config give up after a fixed 2 s:
## the function is reported "stuck in the kernel" and the start is refused
reset; full_map 10
out=$(on desktop 'flock $UMOCKDEV_DIR/fakekernel/lock-0000:09:00.1 sleep 3 & sleep 0.2
$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$STATE"; wait')
check "slow_driver_operation_is_not_stuck: a 3 s probe with timeout = 10 is waited for" "$(printf 'rc=0\n%s' "$VFIO")" "$out"
out=$(on desktop 'flock $UMOCKDEV_DIR/fakekernel/lock-0000:09:00.1 sleep 3 & sleep 0.2
$H groups 2>/dev/null | grep -c "stuck in the kernel"; wait')
check "slow_driver_operation_is_not_stuck: groups does not call a 3 s probe stuck (timeout = 10)" "0" "$out"


## an SR-IOV NIC: a running VM has a virtual function (05:10.0, its own IOMMU group) of the
## physical function 05:00.0. Unbinding the PF's driver disables SR-IOV, which removes the VF
## from under that VM (or hangs in vfio-pci's remove while QEMU holds it); the hook looks only
## at the PF's own IOMMU group and takes it
reset; map "[vm nas]" "pci = 0000:05:00.0"
status router 0000:05:10.0
out=$(on desktop 'PF=$UMOCKDEV_DIR$(readlink -f /sys/bus/pci/devices/0000:05:00.0)
echo 1 >$PF/sriov_numvfs; echo 7 >$PF/sriov_totalvfs; mkdir -p ${PF%/*}/0000:05:10.0
ln -s ../0000:05:10.0 $PF/virtfn0; ln -s ../0000:05:00.0 ${PF%/*}/0000:05:10.0/physfn
$H nas prepare begin - <$W/nas.xml 2>/dev/null; echo "rc=$?"; eval "$NIC"')
check "pf_of_a_vf_a_running_vm_uses_is_not_taken: refused, igb keeps the PF" "$(printf 'rc=1\nigb')" "$out"

## a mediated device (vGPU: GVT-g, NVIDIA vGPU, <hostdev type='mdev'>) of the GPU runs in a VM;
## the mdev lives on the parent's host driver, so unbinding that driver tears the vGPU out of
## the running VM (or hangs on it). Holders are read only from PCI hostdevs: the GPU is taken
reset; map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm win10]" "pci = gpu"
U=4b20d080-1b54-4048-85b3-a6a62d165c01
printf "<domstatus state='running' pid='4242'><domain type='kvm' id='4'><name>vgpu</name><devices><hostdev mode='subsystem' type='mdev' managed='no' model='vfio-pci'><source><address uuid='%s'/></source><alias name='hostdev0'/></hostdev></devices></domain></domstatus>\n" "$U" >"$work/run/vgpu.xml"
out=$(on desktop 'G=$UMOCKDEV_DIR$(readlink -f /sys/bus/pci/devices/0000:09:00.0); mkdir -p $G/'"$U"' $UMOCKDEV_DIR/sys/bus/mdev/devices
ln -s ../../../devices/pci0000:00/0000:00:03.1/0000:09:00.0/'"$U"' $UMOCKDEV_DIR/sys/bus/mdev/devices/'"$U"'
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; eval "$STATE"')
check "parent_of_a_running_vgpu_is_not_taken: refused, the GPU stays on nvidia" "$(printf 'rc=1\n%s' "$ORIG")" "$out"

## hook mode, a broken map: a map saved with a UTF-8 byte order mark (Notepad) whose first
## section is [vm win10]; config_load skips the mark as inih does, the search for the VM's
## header does not, so win10 starts without vfio-hook and the log says the map has no [vm win10]
reset
printf '\357\273\277[vm win10]\npci gpu\n[pci gpu]\ndevice = 10de:1e84\n' >"$work/map.ini"; chmod 644 "$work/map.ini"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"')
check "broken_map_with_a_bom_still_refuses_the_vm_it_names" "rc=1" "$out"

tap_done
