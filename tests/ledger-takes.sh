#!/bin/sh
# What an eviction took, as the ledger records it: given back, handed over, never taken twice.
# sources: ledger engine start stop step-evict step-claim step-bind swap holders
# On fixture machines whose fake kernel moves devices, libvirt played by its test driver
# (test:///default, where the domain "test" runs and accepts a shutdown request): a failed
# start gives back what it took, give-back goes to the same VM only, a holder's late release
# leaves what the taker runs with, a retried eviction, a damaged line handed over, a taker
# against a VM in its status-file gap. The ledger's other rules are in tests/ledger.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml test $GPU >"$work/test.xml"
domxml win10 0000:09:00.0 >"$work/win10-video.xml"
domxml test 0000:05:00.0 >"$work/test-nic.xml"

## a start that fails after evicting gives back, whatever giveback says: libvirt never said
## "started"; once it did, giveback = no sends them to the host
for started in no yes; do
	reset; gpu_map "evict = shutdown" "giveback = no"
	out=$(STARTED=$started on desktop "$RUNNING"'
	$H test prepare begin - <$W/test.xml >/dev/null 2>&1
	running $W/test.xml test
	( sleep 1; rm $W/run/test.xml ) &
	$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; sleep 0.2
	[ $STARTED = yes ] && $H win10 started begin - <$W/win10.xml
	echo "<domstatus state=\"running\"><domain><name>test</name><devices/></domain></domstatus>" >$W/run/test.xml
	$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "failed start (started=$started): host drivers at the end" "$(printf 'rc=0\nrc=0\n%s\nlock' "$ORIG")" "$out"
	check "failed start (started=$started): give-back tried only for the failed start" \
		"$([ $started = no ] && echo 4 || echo 0)" "$(grep -c "could not give .* back to test" "$work/err")"
done

## give-back goes to the same VM only: a holder that restarted (another domain id) gets nothing
reset; gpu_map "evict = shutdown" "giveback = yes"
out=$(on desktop '
$H test prepare begin - <$W/test.xml >/dev/null 2>&1
sed "s|<domain|<domstatus state=\"running\" pid=\"1\"><domain id=\"5\"|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; sleep 0.2
$H win10 started begin - <$W/win10.xml
grep -c "^took .* from=test from-uuid= from-id=5 state=done" $W/state/ledger
echo "<domstatus state=\"running\"><domain id=\"6\"><name>test</name><devices/></domain></domstatus>" >$W/run/test.xml
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "holder restarted: no give-back, host drivers" "$(printf 'rc=0\n4\nrc=0\n%s\nlock' "$ORIG")" "$out"
check "holder restarted: no give-back attempted" 0 "$(grep -c "could not give" "$work/err")"

## an eviction that timed out leaves its requests pending (the holder may still act); the
## retried start records each function taken once: a second took line for it would be one the
## ledger's own parser refuses as a duplicate, reported as damaged on every run, and nothing
## would remove it
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

## the release of a VM whose function a shutdown eviction took leaves the rest of the IOMMU
## group on vfio-pci while the taker runs with the group: test owns the whole GPU, win10
## (mapped to the video function only, evict = shutdown) takes it; test's release, late on the
## lock, must not hand 09:00.1-3 to host drivers under win10
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
## handed over in the ledger, not in memory only (where the damaged line, owner and all, would
## be what is written back). test owns the GPU (09:00.3's line damaged); win10 (evict =
## shutdown) takes it; test's release, late on the lock while win10 is in its status-file gap,
## must leave 09:00.3 to win10
reset; gpu_map "evict = shutdown"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml; echo "rc=$?"; running $W/test.xml test
sed -i "s/driver=nvidia-gpu /driver=nvidia-gpu;x /" $W/state/ledger
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; sleep 0.2
grep "^func 0000:09:00.3 " $W/state/ledger | grep -o "owner=[^ ]*"
$H test release end - </dev/null 2>/dev/null; echo "rc=$?"; eval "$STATE"')
check "damaged_line_handover_is_saved: win10 owns 09:00.3 and test's release leaves it" "$(printf 'rc=0\nrc=0\nowner=win10\nrc=0\n%s' "$VFIO")" "$out"

## a VM in its status-file gap keeps what its prepare moved (README: "also in the seconds before
## libvirt writes its status file"), also from a taker that once took something from a VM of
## that name: win10 took the GPU from test (evict = shutdown) and runs; test starts again with
## the NIC and has no status file yet; 'swap win10 nic' must be refused (taking the NIC, its
## failed hot-plug's "undo" would give it to igb under test's starting QEMU)
reset
map "[options]" "timeout = 2" "uri = test:///default" "evict = shutdown" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[pci nic]" "device = 0000:05:00.0" \
	"[vm win10]" "pci = gpu" "[vm test]" "pci = gpu"
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

tap_done
