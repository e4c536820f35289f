#!/bin/sh
# Give-back: what a start took from a running VM goes back into it, whole, with a start's guards.
# sources: step-evict step-plug step-claim step-bind step-display engine stop start bind virt holders plan
# libvirt here is the suite's stand-in (uri = standin:///, tests/lib/bin/libvirt), which plugs,
# unplugs and shuts down by editing the status files as libvirt does, so that a give-back can
# succeed, come late or be refused at will. Eviction itself, and give-back against libvirt's
# own test driver, which refuses every hot-plug, are in tests/evict.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml test $GPU >"$work/test.xml"
domxml test $GPU | sed "s/managed='no'/managed='yes'/g" >"$work/test-managed.xml"
# In a fixture session: the PCI addresses a running VM's status file lists ("off": not running).
HAS='has() { [ -f $W/run/$1.xml ] || { echo "$1: off"; return; }; echo "$1: $(grep -o "bus=.0x... slot=.0x... function=.0x.." $W/run/$1.xml | sed "s/bus=.0x\(..\). slot=.0x\(..\). function=.0x\(.\)./\1:\2.\3/" | tr "\n" " ")"; }'
OWNERS='sed -n "s/^func \([^ ]*\) owner=\([^ ]*\) .*/\1 \2/p" $W/state/ledger 2>/dev/null | tr "\n" " "; echo'
export HAS OWNERS
STANDIN=$work/run/standin
gb_map() { # [KEY = VALUE]... for [vm win10]
	map "[options]" "timeout = 2" "uri = standin:///" "giveback = yes" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" \
		"device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "$@" "[vm test]" "pci = gpu"
}

## the give-back that works: the VM it came from has it all again, owns it, and nothing says otherwise
reset; gb_map
out=$(on desktop "$HAS"'
$H test prepare begin - <$W/test.xml
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
$H test started begin - </dev/null
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; has test
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; has test; eval "$STATE"; '"$OWNERS")
check "a give-back that works: test has the GPU again, on vfio-pci, and owns it" "$(printf '%s\n' "rc=0" "test: " "rc=0" \
	"test: 09:00.0 09:00.1 09:00.2 09:00.3 " "$VFIO" \
	"0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"
check "a give-back that works: nothing said about it failing" "" "$(cat "$work/err")"

## a hot-plug that libvirt does not answer in time but does (pinning the VM's memory takes long):
## the function is the VM's, on vfio-pci, never unbound under it
reset; gb_map
out=$(on desktop "$HAS"'
$H test prepare begin - <$W/test.xml
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
$H test started begin - </dev/null
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
mkdir -p $W/run/standin; : >$W/run/standin/attach-late
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; has test; eval "$STATE"; '"$OWNERS")
check "a late hot-plug: the VM keeps what libvirt plugged, on vfio-pci, and owns it" "$(printf '%s\n' "rc=0" "rc=0" \
	"test: 09:00.0 09:00.1 09:00.2 09:00.3 " "$VFIO" \
	"0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"

## a failed start gives back, whole, a managed='yes' group the VM had: libvirt gave it to the host
## drivers when it left the VM, so the give-back is a start of test's with the same guards, and
## the group goes back in one take (one function at a time, its siblings on host drivers would
## make it refused as not viable)
reset; gb_map
out=$(on desktop "$HAS"'
for a in $GPU; do echo vfio-pci >/sys/bus/pci/devices/$a/driver_override; echo $a >/sys/bus/pci/devices/$a/driver/unbind; echo $a >/sys/bus/pci/drivers_probe; done
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test-managed.xml >$W/run/test.xml
FAKEKERNEL_FAULT=probe:0000:09:00.2:fail1 $H win10 prepare begin - <$W/win10.xml >/dev/null 2>$W/err; echo "rc=$?"; has test; eval "$STATE"; '"$OWNERS")
check "a failed start: test gets its managed='yes' group back whole" "$(printf '%s\n' "rc=1" \
	"test: 09:00.0 09:00.1 09:00.2 09:00.3 " "$VFIO" \
	"0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"
check "a failed start: no give-back said to fail" 0 "$(grep -c "could not give" "$work/err")"

## after a give-back, what the released VM still owns of the group stays on vfio-pci: test runs
## with the group (a host driver bound into it would break its isolation)
reset; map "[options]" "timeout = 2" "uri = standin:///" "giveback = yes" "[vm win10]" "pci = $GPU" "[vm test]" "pci = 09:00.0 09:00.1"
domxml test 0000:09:00.0 0000:09:00.1 >"$work/test2.xml"
out=$(on desktop "$HAS"'
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
echo "took 0000:09:00.0 owner=win10 from=test from-uuid= from-id=-1 state=done xml=$(sed -n "s/.*<devices>\(<hostdev.*function=.0x0.\/><\/source>\)<alias[^>]*>\(<\/hostdev>\).*/\1\2/p" $W/win10.xml | sed "s/ /%20/g")" >>$W/state/ledger
echo "<domstatus state=\"running\" pid=\"4242\"><domain type=\"kvm\"><name>test</name><devices></devices></domain></domstatus>" >$W/run/test.xml
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; has test; eval "$STATE"; '"$OWNERS")
check "a give-back of one function: the rest of its IOMMU group stays on vfio-pci, test's" "$(printf '%s\n' "rc=0" "rc=0" \
	"test: 09:00.0 " "$VFIO" "0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"

## a release while the VM that took the group is starting (before libvirt writes its status
## file): what the released VM still owns of that group stays on vfio-pci, the starting VM's
reset; map "[options]" "timeout = 2" "uri = standin:///" "evict = shutdown" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = 0000:09:00.0" "[vm test]" "pci = gpu"
domxml win10 0000:09:00.0 >"$work/win10-video.xml"
out=$(on desktop '
$H test prepare begin - <$W/test.xml; sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
$H test started begin - </dev/null
$H win10 prepare begin - <$W/win10-video.xml; echo "rc=$?"
$H test release end - </dev/null; echo "rc=$?"; eval "$STATE"; '"$OWNERS")
check "a release in the taker's status-file gap: the group stays on vfio-pci, the starting VM's" "$(printf '%s\n' "rc=0" "rc=0" \
	"$VFIO" "0000:09:00.0 win10 0000:09:00.1 win10 0000:09:00.2 win10 0000:09:00.3 win10 ")" "$out"

## a function recorded with its driver unknown ('?') that no driver takes (its module gone): never left on no driver
reset; full_map
mkdir -p "$work/state"; chmod 700 "$work/state"
printf '%s\n' "vfio-hook-ledger 1" "func 0000:09:00.3 owner=win10 driver=? override=? state=moved" >"$work/state/ledger"
chmod 600 "$work/state/ledger"
out=$(on desktop 'a=0000:09:00.3; echo vfio-pci >/sys/bus/pci/devices/$a/driver_override; echo $a >/sys/bus/pci/devices/$a/driver/unbind; echo $a >/sys/bus/pci/drivers_probe
rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/nvidia-gpu
FAKEKERNEL_MODPROBE_FAIL=1 $H restore win10 >/dev/null 2>$W/err; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/$a/driver); grep -c "^func $a owner=win10" $W/state/ledger')
check "its driver unknown, its probe binding nothing: on vfio-pci again, recorded, never on no driver" \
	"$(printf '%s\n' "rc=1" "vfio-pci" "1")" "$out"

## restore tells those waiting for the lock how long it may hold it: a start behind a restore
## whose unbinds are stuck in the kernel (a deadline each, 1 s here, 4 s in all) waits for it,
## rather than giving up after the 3 s a lock holder is trusted for unless it says more
reset; map "[options]" "timeout = 1" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm linux]" "pci = gpu"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
FAKEKERNEL_FAULT=unbind:0000:09:00.0:hang,unbind:0000:09:00.1:hang,unbind:0000:09:00.2:hang,unbind:0000:09:00.3:hang \
	$H restore win10 >/dev/null 2>&1 &
sleep 0.5; $H linux prepare begin - <$W/win10.xml 2>$W/err; wait
grep -c "past the time it said it would need" $W/err')
check "a start behind a restore stuck in the kernel waits for it, as long as the restore said" "$(printf 'rc=0\n0')" "$out"

## an eviction's hot-unplug that libvirt does not answer in time but carries out later: the
## request was sent, its record stays, and the next run plugs the device back into its VM
reset; map "[options]" "timeout = 2" "uri = standin:///" "evict = detach" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm test]" "pci = gpu" \
	"[vm other]" "pci = 05:00.0"
domxml other 0000:05:00.0 >"$work/other.xml"
out=$(on desktop "$HAS"'
$H test prepare begin - <$W/test.xml
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
$H test started begin - </dev/null
mkdir -p $W/run/standin; echo 5 >$W/run/standin/detach-late
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; echo "took: $(grep -c "^took 0000:09:00.0 owner=win10 from=test .*state=pending" $W/state/ledger)"
$H win10 release end - </dev/null; rm $W/run/standin/detach-late
i=0; while [ $i -lt 50 ] && grep -q "function=.0x0./></source><alias name=.hostdev0" $W/run/test.xml; do sleep 0.1; i=$((i + 1)); done
has test
$H other prepare begin - <$W/other.xml; echo "rc=$?"; has test; eval "$STATE"; '"$OWNERS")
check "a late unplug of an eviction: its record stays, and the next run gives it back to test" "$(printf '%s\n' "rc=1" "took: 1" \
	"test: 09:00.1 09:00.2 09:00.3 " "rc=0" "test: 09:00.1 09:00.2 09:00.3 09:00.0 " "$VFIO" \
	"0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test 0000:05:00.0 other ")" "$out"

## a failed start whose give-back the VM refuses: what was taken from it goes to the host, as
## the lines say (never left on vfio-pci recorded as the VM's, which has it not), each line with
## its own function's reason
ev_map() {
	map "[options]" "timeout = 2" "uri = standin:///" "evict = detach" "[pci gpu]" "device = 10de:1e84" \
		"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm test]" "pci = gpu" "[vm win10]" "pci = gpu $1"
}
domxml win10 $GPU 0000:05:00.0 >"$work/win10-nic.xml"
TEST_UP='$H test prepare begin - <$W/test.xml
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
$H test started begin - </dev/null'
export TEST_UP
reset; ev_map 05:00.0
out=$(on desktop "$HAS; $TEST_UP"'
mkdir -p $W/run/standin; : >$W/run/standin/attach-fail-0000:09:00.2
FAKEKERNEL_FAULT=probe:0000:05:00.0:nobind1 $H win10 prepare begin - <$W/win10-nic.xml 2>$W/err; echo "rc=$?"
has test; eval "$STATE"; '"$OWNERS"'; $H restore win10')
check "a failed start, its give-back refused: the GPU is the host's, on its drivers, nobody's" "$(printf '%s\n' "rc=1" \
	"test: " "$ORIG" "" "win10: nothing recorded, nothing to restore")" "$out"
refused="internal error: unable to execute QEMU command 'device_add': the guest refused 0000:09:00.2"
check "a failed start, its give-back refused: a line a function, its own reason, the truth" \
	"vfio-hook: win10: could not give 0000:09:00.0 back to test: what was taken from test goes back in one take, and 0000:09:00.2 could not; it went back to the host
vfio-hook: win10: could not give 0000:09:00.1 back to test: what was taken from test goes back in one take, and 0000:09:00.2 could not; it went back to the host
vfio-hook: win10: could not give 0000:09:00.2 back to test: $refused; it went back to the host
vfio-hook: win10: could not give 0000:09:00.3 back to test: what was taken from test goes back in one take, and 0000:09:00.2 could not; it went back to the host
vfio-hook: win10: 0000:05:00.0 (I211 Gigabit Network Connection): vfio-pci did not bind (driver now: none; see dmesg); every device was put back on its driver, but test did not take back what was taken from it: the host has it now" \
	"$(cat "$work/err")"

## ... and when one of them will not go back to its host driver either: on vfio-pci, recorded as
## the VM's whose start failed, as the lines say, and 'vfio-hook restore' of it finishes
reset; ev_map 05:00.0
out=$(on desktop "$HAS; $TEST_UP"'
mkdir -p $W/run/standin; : >$W/run/standin/attach-fail-test; rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd
FAKEKERNEL_MODPROBE_FAIL=1 FAKEKERNEL_FAULT=probe:0000:05:00.0:nobind1 $H win10 prepare begin - <$W/win10-nic.xml 2>$W/err; echo "rc=$?"
eval "$STATE"; '"$OWNERS"'
mkdir -p $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd; $H restore win10 2>/dev/null; eval "$STATE"; '"$OWNERS")
check "a refused give-back its host driver will not take either: on vfio-pci, win10's; restore win10 ends it" \
	"$(printf '%s\n' "rc=1" "0000:09:00.0=nvidia/(null) 0000:09:00.1=snd_hda_intel/(null) 0000:09:00.2=vfio-pci/vfio-pci 0000:09:00.3=nvidia-gpu/(null) " \
	"0000:09:00.2 win10 " "win10: restored" "$ORIG" "")" "$out"
check "a refused give-back its host driver will not take either: the lines name the VM to restore" \
	"vfio-hook: win10: could not give 0000:09:00.2 back to test: what was taken from test goes back in one take, and 0000:09:00.0 could not; it stays on vfio-pci, recorded (see above): run 'vfio-hook restore win10' once the cause is gone
vfio-hook: win10: 0000:05:00.0 (I211 Gigabit Network Connection): vfio-pci did not bind (driver now: none; see dmesg); some devices could not be put back: run 'vfio-hook restore win10' when the cause is gone" \
	"$(grep "09:00.2 back\|05:00.0" "$work/err")"

## a swap libvirt refuses both ways (into win10, and test's give-back): the GPU goes to the host
reset; gb_map "evict = detach"
domxml win10 >"$work/win10-empty.xml"
out=$(on desktop "$HAS; $TEST_UP"'
sed "s|<domain|<domstatus state=\"running\" pid=\"4343\"><domain|; s|</domain>|</domain></domstatus>|" $W/win10-empty.xml >$W/run/win10.xml
mkdir -p $W/run/standin; : >$W/run/standin/attach-fail
$H swap win10 gpu >/dev/null 2>$W/err; echo "rc=$?"; has test; has win10; eval "$STATE"; '"$OWNERS")
check "a swap refused both ways: the GPU is the host's, nobody's" "$(printf '%s\n' "rc=1" "test: " "win10: " "$ORIG" "")" "$out"
check "a swap refused both ways: the line says where it went" \
	"vfio-hook: win10: cannot hot-plug $G0: internal error: unable to execute QEMU command 'device_add': the guest refused 0000:09:00.0; everything was put back, but test did not take back what was taken from it: the host has it now
4" "$(grep "cannot hot-plug" "$work/err"; grep -c "back to test: .*; it went back to the host$" "$work/err")"

## a give-back hot-plug libvirt never answers but carries out later than every wait of the hook:
## the functions stay the VM's, on vfio-pci, never given to the host under it; it gets them
reset; map "[options]" "timeout = 1" "uri = standin:///" "giveback = yes" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm test]" "pci = gpu"
out=$(on desktop "$HAS; $TEST_UP"'
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; $H win10 started begin - </dev/null
mkdir -p $W/run/standin; echo 5 >$W/run/standin/attach-after
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; '"$OWNERS"'
i=0; while [ $i -lt 100 ] && [ "$(has test)" != "test: 09:00.0 09:00.1 09:00.2 09:00.3 " ]; do sleep 0.1; i=$((i + 1)); done
has test')
check "a give-back hot-plug that lands after every wait: test's on vfio-pci meanwhile, then test has it all" \
	"$(printf '%s\n' "rc=0" "rc=0" "$VFIO" "0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test " \
	"test: 09:00.0 09:00.1 09:00.2 09:00.3 ")" "$out"
check "a give-back hot-plug that lands after every wait: the line says test may get it still" \
	"vfio-hook: win10: 0000:09:00.3 is test's again, on vfio-pci, but test does not have it: libvirt did not answer its hot-plug in time and may still plug it (if it never does, test's stop gives it back to the host)" \
	"$(grep "09:00.3" "$work/err")"

## ... and while that hot-plug is unanswered: a restore of the running VM unbinds none of it, a
## third VM's start is refused naming it, status says so; when it lands, test has it on vfio-pci
reset; map "[options]" "timeout = 1" "uri = standin:///" "giveback = yes" "evict = detach" "[pci gpu]" \
	"device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" \
	"[vm test]" "pci = gpu" "[vm linux]" "pci = gpu"
domxml linux $GPU >"$work/linux.xml"
out=$(on desktop "$HAS; $TEST_UP"'
$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - </dev/null
mkdir -p $W/run/standin; echo 14 >$W/run/standin/attach-after
$H win10 release end - </dev/null 2>/dev/null; rm $W/run/standin/attach-after
$H status 2>/dev/null | grep -c "hot-plug unanswered"
$H restore test 2>$W/err; echo "restore rc=$?"; eval "$STATE"; '"$OWNERS"'
$H linux prepare begin - <$W/linux.xml 2>$W/err2; echo "linux rc=$?"; eval "$STATE"; '"$OWNERS"'
i=0; while [ $i -lt 250 ] && [ "$(has test)" = "test: " ]; do sleep 0.1; i=$((i + 1)); done
has test; eval "$STATE"; '"$OWNERS")
check "an unanswered give-back hot-plug: restore and another start leave test's group on vfio-pci, test's" \
	"$(printf '%s\n' 1 "restore rc=1" "$VFIO" "0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test " \
	"linux rc=1" "$VFIO" "0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test " \
	"test: 09:00.0 " "$VFIO" "0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"
check "an unanswered give-back hot-plug: restore says why each function stays" \
	"vfio-hook: test: 0000:09:00.0 stays on vfio-pci: libvirt has not answered the hot-plug of it into the running VM test, which may get it any time (test's stop gives it back if it never does)" \
	"$(grep "09:00.0" "$work/err")"
check "an unanswered give-back hot-plug: the start is refused naming it" \
	"vfio-hook: linux: 0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]): libvirt has not answered the hot-plug of 0000:09:00.0 into the running VM test, which may get it any time: start again once 'vfio-hook status' no longer says \"hot-plug unanswered\", or shut test down (virsh shutdown test) (and 3 more problems: run 'vfio-hook --check linux')" \
	"$(cat "$work/err2")"

## a running VM whose libvirt status file cannot be parsed: which VMs run is unknown, so restore
## unbinds nothing of it and says which file, and status does not call it stopped
reset; gb_map
out=$(on desktop "$TEST_UP"'
head -c 150 $W/run/test.xml >$W/run/t; mv $W/run/t $W/run/test.xml
$H status 2>/dev/null | sed -n "s/^test (\([^)]*\)).*/\1/p"
$H restore test 2>$W/err; echo "rc=$?"; eval "$STATE"; '"$OWNERS")
check "a status file that cannot be parsed: restore gives nothing back, status says it may run" \
	"$(printf '%s\n' "running or not: unknown" "rc=1" "$VFIO" "0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"
check "a status file that cannot be parsed: the line names it, with the fix" \
	"vfio-hook: libvirt's status file $work/run/test.xml cannot be parsed: which VMs run is unknown (if 'virsh domstate test' says shut off, remove the file; else restart libvirtd, which writes it again)
vfio-hook: restore: nothing given back: which VMs are running cannot be read (see above); fix that, then run it again" \
	"$(cat "$work/err")"

## the same for swap: what libvirt did not answer for is win10's on vfio-pci, the command says
## so and fails; win10 gets it when libvirt gets to it
reset; map "[options]" "timeout = 1" "uri = standin:///" "[vm win10]" "pci = 05:00.0"
NIC='d=$(basename $(readlink /sys/bus/pci/devices/0000:05:00.0/driver)); echo "nic=$d"'
export NIC
out=$(on desktop "$HAS"'
sed "s|<domain|<domstatus state=\"running\" pid=\"4343\"><domain|; s|</domain>|</domain></domstatus>|" $W/win10-empty.xml >$W/run/win10.xml
mkdir -p $W/run/standin; echo 3 >$W/run/standin/attach-after
$H swap win10 05:00.0 >$W/out 2>$W/err; echo "rc=$?"; has win10; eval "$NIC"; '"$OWNERS"'
i=0; while [ $i -lt 50 ] && [ "$(has win10)" = "win10: " ]; do sleep 0.1; i=$((i + 1)); done
has win10; eval "$NIC"')
check "a swap whose hot-plug lands after every wait: win10's on vfio-pci, exit 1; then win10 has it" \
	"$(printf '%s\n' "rc=1" "win10: " "nic=vfio-pci" "0000:05:00.0 win10 " "win10: 05:00.0 " "nic=vfio-pci")" "$out"
check "a swap whose hot-plug lands after every wait: the line says so, nothing says it is in win10" \
	"vfio-hook: win10: 0000:05:00.0 (I211 Gigabit Network Connection) is win10's, on vfio-pci, but win10 does not have it: libvirt did not answer its hot-plug in time and may still plug it (check with 'virsh dumpxml win10'; if it never does, win10's stop gives it back to the host)
stdout: " "$(grep "does not have it" "$work/err"; echo "stdout: $(cat "$work/out")")"

## five words that are not libvirt's call: swap of a device named like a SUBOP into a VM named like an operation
reset; full_map
out=$(on desktop 'timeout 5 $H swap start end --force </dev/null; echo "rc=$?"')
check "swap start end --force is the command line, not the hook (which would wait for stdin and do nothing)" \
	"$(printf '%s\n' 'vfio-hook: unknown device "end": not a [pci] name in '"$work"'/map.ini, nor a vendor:device id or an address (see '"'"'vfio-hook groups'"'"')' "rc=2")" "$out"

## a swap whose hot-plug libvirt refuses: what it took goes back into the VM it came from, and the
## lines say so, not that it went to the host
reset; gb_map
domxml win10 >"$work/win10-empty.xml"
out=$(on desktop "$HAS"'
$H test prepare begin - <$W/test.xml
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
$H test started begin - </dev/null
sed "s|<domain|<domstatus state=\"running\" pid=\"4343\"><domain|; s|</domain>|</domain></domstatus>|" $W/win10-empty.xml >$W/run/win10.xml
mkdir -p $W/run/standin; : >$W/run/standin/attach-fail-win10
$H swap win10 gpu >/dev/null 2>$W/err; echo "rc=$?"; has test; has win10; eval "$STATE"; '"$OWNERS")
check "a swap libvirt refuses: test has the GPU back, owns it; win10 has nothing" "$(printf '%s\n' "rc=1" \
	"test: 09:00.0 09:00.1 09:00.2 09:00.3 " "win10: " "$VFIO" \
	"0000:09:00.0 test 0000:09:00.1 test 0000:09:00.2 test 0000:09:00.3 test ")" "$out"
check "a swap libvirt refuses: the line says all was put back, and nothing says it went to the host" \
	"vfio-hook: win10: cannot hot-plug $G0: internal error: unable to execute QEMU command 'device_add': the guest refused 0000:09:00.0; everything was put back
0" "$(grep "cannot hot-plug" "$work/err"; grep -c "to the host\|could not give\|restore" "$work/err")"

tap_done
