#!/bin/sh
# Adversarial scenarios against the ownership ledger, each the state of the world that breaks
# a promise of README "Who owns a device": an IOMMU group a running VM uses, a damaged line
# handed over, an eviction retried, a VM in its status-file gap, a state directory that is not
# a plain file. Every check says what must happen; a failing one is a finding.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml test $GPU >"$work/test.xml"
G0="0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER])"
gpu_map() { # [KEY = VALUE]... for [options]; the GPU for win10, linux and test
	map "[options]" "timeout = 2" "uri = test:///default" "$@" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" \
		"device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm linux]" "pci = gpu" "[vm test]" "pci = gpu"
}
# TORUN FILE: FILE's domain, running (its status file).
RUNNING='running() { sed "s|<domain|<domstatus state=\"running\" pid=\"1\"><domain|; s|</domain>|</domain></domstatus>|" $1 >$W/run/$2.xml; }'
export RUNNING

## restore of a running VM gives back the functions of the IOMMU group it uses that its domain
## XML does not name: a host driver bound into a group a VM holds (on a real kernel the probe
## fails, the function is left with no driver; on an old one the group's isolation is gone)
reset; gpu_map
domxml win10 0000:09:00.0 >"$work/win10-video.xml"
out=$(on desktop "$RUNNING"'
$H win10 prepare begin - <$W/win10-video.xml 2>/dev/null; echo "rc=$?"
running $W/win10-video.xml win10
$H restore win10 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "restore_running_vm_keeps_its_iommu_group: nothing of group 24 leaves vfio-pci" "$(printf 'rc=0\nrc=1\n%s' "$VFIO")" "$out"

## release of a VM whose function a shutdown eviction took gives back the rest of the IOMMU
## group while the taker runs with the group: test owns the whole GPU, win10 (mapped to the
## video function only, evict = shutdown) takes it; test's release, late on the lock, hands
## 09:00.1-3 to host drivers under win10
reset
map "[options]" "timeout = 2" "uri = test:///default" "evict = shutdown" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = 0000:09:00.0" "[vm test]" "pci = gpu"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml; echo "rc=$?"; running $W/test.xml test
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10-video.xml 2>/dev/null; echo "rc=$?"; sleep 0.2
$H win10 started begin - <$W/win10-video.xml; running $W/win10-video.xml win10
$H test release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "release_keeps_group_of_a_running_taker: test's release leaves group 24 on vfio-pci" "$(printf 'rc=0\nrc=0\nrc=0\n%s' "$VFIO")" "$out"

## a function whose ledger line is damaged (its driver unreadable, its owner readable) is
## handed over in memory only: the damaged line, owner and all, is what is written back. test
## owns the GPU (09:00.3's line damaged); win10 (evict = shutdown) takes it; test's release,
## late on the lock while win10 is in its status-file gap, unbinds 09:00.3 from under win10
reset; gpu_map "evict = shutdown"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml; echo "rc=$?"; running $W/test.xml test
sed -i "s/driver=nvidia-gpu /driver=nvidia-gpu;x /" $W/state/ledger
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; sleep 0.2
grep "^func 0000:09:00.3 " $W/state/ledger | grep -o "owner=[^ ]*"
$H test release end - </dev/null 2>/dev/null; echo "rc=$?"; eval "$STATE"')
check "damaged_line_handover_is_saved: win10 owns 09:00.3 and test's release leaves it" "$(printf 'rc=0\nrc=0\nowner=win10\nrc=0\n%s' "$VFIO")" "$out"

## an eviction that timed out leaves its requests pending (the holder may still act); the
## retried start records the same function taken again: the ledger then holds a line its own
## parser refuses as a duplicate, reported as damaged on every run, and nothing removes it
reset; gpu_map "evict = shutdown"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml; echo "rc=$?"; running $W/test.xml test
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"
$H win10 stopped end - </dev/null; $H win10 release end failed <$W/win10.xml 2>/dev/null
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; sleep 0.2
grep -c "^took 0000:09:00.0 " $W/state/ledger
$H status 2>&1 >/dev/null | grep -c "cannot read this entry"')
check "retried_eviction_writes_no_duplicate: one took line per function, nothing damaged" "$(printf 'rc=0\nrc=1\nrc=0\n1\n0')" "$out"
out=$(on desktop '$H win10 started begin - </dev/null 2>/dev/null; $H win10 release end - </dev/null 2>/dev/null; eval "$STATE"; ls $W/state')
check "retried_eviction_writes_no_duplicate: after win10's release nothing of it is left" "$(printf '%s\nlock' "$ORIG")" "$out"

## a VM in its status-file gap keeps what its prepare moved (README: "also in the seconds before
## libvirt writes its status file"), unless the taker once took something from a VM of that
## name: win10 took the GPU from test (evict = shutdown) and runs; test starts again with the
## NIC and has no status file yet; 'swap win10 nic' must be refused, and takes the NIC instead
## (here the hot-plug fails and the "undo" gives it to igb under test's starting QEMU)
reset
map "[options]" "timeout = 2" "uri = test:///default" "evict = shutdown" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[pci nic]" "device = 0000:05:00.0" \
	"[vm win10]" "pci = gpu" "[vm test]" "pci = gpu"
domxml test 0000:05:00.0 >"$work/test-nic.xml"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml; echo "rc=$?"; running $W/test.xml test
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; sleep 0.2
$H win10 started begin - </dev/null; running $W/win10.xml win10
$H test release end - </dev/null
sed -i "\$s/.*/pci = nic/" $W/map.ini
$H test prepare begin - <$W/test-nic.xml; echo "rc=$?"
$H swap win10 nic >/dev/null 2>$W/err; echo "rc=$?"
grep -c "belongs to test" $W/err
grep -o "^func 0000:05:00.0 owner=[^ ]*" $W/state/ledger; readlink /sys/bus/pci/devices/0000:05:00.0/driver | xargs basename')
check "swap_refuses_a_vm_in_its_status_gap_it_once_took_from: test keeps its NIC" \
	"$(printf 'rc=0\nrc=0\nrc=0\nrc=1\n1\nfunc 0000:05:00.0 owner=test\nvfio-pci')" "$out"

## a ledger that is a FIFO (a damaged or hostile state directory): the open blocks with no
## writer, holding the lock, in libvirt's prepare and in every later run; it must be refused
## like a symlink is
reset; gpu_map
mkdir -m 700 "$work/state"; mkfifo "$work/state/ledger"
out=$(on desktop 'timeout -s KILL 8 $H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; eval "$STATE"
timeout -s KILL 8 $H status >/dev/null 2>&1; echo "rc=$?"')
check "ledger_fifo_is_refused_not_waited_on: prepare fails at once, status answers" "$(printf 'rc=1\n%s\nrc=1' "$ORIG")" "$out"

## a duplicate func line (a damaged ledger) is reported and kept; once the entry it duplicates
## is given back, the kept line is read as valid again, silently: its owner, never seen starting
## or running, now blocks the next start of the VM that really had the device
reset; gpu_map
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
echo "func 0000:09:00.0 owner=linux driver=nvidia override= state=moved" >>$W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; echo "rc=$?"; eval "$STATE"
$H status 2>&1 >/dev/null | grep -c "cannot read this entry"
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"')
check "duplicate_line_stays_reported_not_resurrected: still reported, win10 starts again" \
	"$(printf 'rc=0\nrc=0\n%s\n1\nrc=0' "$ORIG")" "$out"

## README: "VMs not in the map exit 0 at once". The release of a VM vfio-hook never touched
## (a router VM) waits for the lock as long as its holder said it may need it (here a swap
## that said 10 minutes and holds it 4 s): libvirt's shutdown of that VM hangs meanwhile
reset; gpu_map
out=$(on desktop 'mkdir -p -m 700 $W/state; up=$(cut -d" " -f1 /proc/uptime | tr -d .)
printf "pid 1 until %s0 swap\n" $((up + 60000)) >$W/state/lock
flock $W/state/lock sleep 4 & sleep 0.3; s=$(date +%s%N)
$H router release end - </dev/null; echo "rc=$? waited=$(( ($(date +%s%N) - s) / 1000000000 ))"; wait')
check "release_of_an_unmapped_vm_does_not_wait_for_the_lock" "rc=0 waited=0" "$out"

tap_done
