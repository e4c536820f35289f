#!/bin/sh
# A driver operation stuck in the kernel: every command still ends; a slow one is waited for.
# sources: bind sysfs child plan groups report discover state start engine
# An unbind that never finishes holds the device lock: every command ends and says what it
# can, the rest goes on and the stuck function is left alone. An operation that is only slow
# is waited for up to the map's timeout, not called stuck. A driver step of the run itself that
# hangs is in tests/deadlines.sh, the writer child in tests/writer.sh; the lock's deadline in
# tests/ledger.sh, libvirt's in tests/evict.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml store 0000:01:00.0 >"$work/store.xml"

## a driver operation stuck in the kernel: the rest goes on, and the stuck function is left alone
# An unbind that never finishes holds 09:00.1's device lock (as vfio-pci's remove() does while
# QEMU keeps the device); reading its driver_override or config would block for good.
reset; map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm store]" "pci = 0000:01:00.0"
out=$(on desktop '
$H groups >$W/groups.before 2>/dev/null
FAKEKERNEL_FAULT=unbind:0000:09:00.1:hang sh -c "echo 0000:09:00.1 >/sys/bus/pci/devices/0000:09:00.1/driver/unbind" 2>/dev/null &
i=0; while [ $i -lt 100 ] && [ ! -s $UMOCKDEV_DIR/fakekernel/hung.pid ]; do sleep 0.1; i=$((i+1)); done
for c in "groups" "status" "--check win10 --xml $W/win10.xml" "--check store --xml $W/store.xml"; do
	timeout 15 $H $c >$W/out 2>$W/err; echo "$c: rc=$?"; cat $W/out >>$W/all
	[ "$c" = groups ] && cp $W/out $W/groups
done
timeout 15 $H store prepare begin - <$W/store.xml 2>&1; echo "store prepare: rc=$?"; eval "$NVME"
timeout 15 $H win10 prepare begin - <$W/win10.xml 2>&1; echo "win10 prepare: rc=$?"
kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); wait
$H store release end - </dev/null; eval "$STATE"; eval "$NVME"; ls $W/state')
stuck_line="a driver operation on 0000:09:00.1 is stuck in the kernel (TU104 HD Audio Controller, IOMMU group 24: an unbind is waiting for whatever uses the device to let go; see dmesg): try again once it finishes"
check "stuck unbind: every command ends, each says what it can" "$(printf '%s\n' "groups: rc=0" "status: rc=0" \
	"--check win10 --xml $work/win10.xml: rc=1" "--check store --xml $work/store.xml: rc=0" "store prepare: rc=0" \
	"nvme=vfio-pci" "vfio-hook: win10: $stuck_line" "win10 prepare: rc=1" "$ORIG" "nvme=nvme" "lock")" "$out"
check "stuck unbind: groups marks the stuck function" \
	"09:00.1 Audio device [0403]: NVIDIA Corporation TU104 HD Audio Controller [10de:10f8] (rev a1)  driver=snd_hda_intel  stuck in the kernel (a driver operation on it has not finished; see dmesg)  map=gpu  vm=win10" \
	"$(grep "stuck in the kernel" "$work/groups")"
check "stuck unbind: groups prints every other function as before" "$(grep -v "^09:00.1 " "$work/groups.before")" \
	"$(grep -v "stuck in the kernel" "$work/groups")"
check "stuck unbind: status marks it" "1" "$(grep -c "^09:00.1 .*  stuck in the kernel (see dmesg)" "$work/all")"
check "stuck unbind: --check refuses with the line" "1" "$(grep -cxF "  refuse: $stuck_line" "$work/all")"

## a slow step is not a stuck one: a driver operation that takes 3 s (a host driver's probe,
## e.g. a GPU driver loading its firmware at boot while libvirtd autostarts VMs) holds the
## device lock for 3 s; the map says driver steps may take 10 s, so reads of driver_override
## and config wait as long. Reads that gave up after a fixed 2 s would report the function
## "stuck in the kernel" and refuse the start
reset; full_map 10
out=$(on desktop 'flock $UMOCKDEV_DIR/fakekernel/lock-0000:09:00.1 sleep 3 & sleep 0.2
$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$STATE"; wait')
check "slow_driver_operation_is_not_stuck: a 3 s probe with timeout = 10 is waited for" "$(printf 'rc=0\n%s' "$VFIO")" "$out"
out=$(on desktop 'flock $UMOCKDEV_DIR/fakekernel/lock-0000:09:00.1 sleep 3 & sleep 0.2
$H groups 2>/dev/null | grep -c "stuck in the kernel"; wait')
check "slow_driver_operation_is_not_stuck: groups does not call a 3 s probe stuck (timeout = 10)" "0" "$out"

tap_done
