#!/bin/sh
# The hook as libvirt calls it: start and stop, refusals, calls not ours, a fault at every step.
# sources: hook start stop engine step-bind bind sysfs plan state ledger world domxml main
# On fixture machines whose fake kernel really moves devices (tests/lib/fakekernel.c): prepare
# moves a VM's functions to vfio-pci, release gives them back, refusals change nothing, and
# after an injected fault at any step every function is on its original driver or on vfio-pci,
# never on none. A step that hangs, and a run killed between steps, are in tests/deadlines.sh; a
# driver operation stuck in the kernel in tests/stuck.sh; the guards in tests/guard.sh; the hook
# on a broken map in tests/map.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

## a start and a stop
reset; full_map; domxml win10 $GPU >"$work/win10.xml"
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml >$W/out 2>$W/err; echo "rc=$?"
eval "$STATE"; ls /dev/vfio; ls $W/state
$H win10 start begin - <$W/win10.xml >>$W/out 2>>$W/err
$H win10 started begin - <$W/win10.xml >>$W/out 2>>$W/err
$H win10 stopped end - <$W/win10.xml >>$W/out 2>>$W/err
$H win10 release end destroyed <$W/win10.xml >>$W/out 2>>$W/err; echo "rc=$?"
eval "$STATE"; ls /dev/vfio 2>&1 | wc -l; ls $W/state')
check "prepare+release: what happened" "$(printf 'rc=0\n%s\n24\nledger\nlock\nrc=0\n%s\n0\nlock' "$VFIO" "$ORIG")" "$out"
check "prepare+release: nothing on stdout" "" "$(cat "$work/out")"
check "prepare+release: nothing on stderr" "" "$(cat "$work/err")"

## the hook called by its name: any reason libvirt gives a release is a release
# libvirt words the shut-off reason of a revert to a shut-off snapshot "from snapshot", with its
# space; a reason or an operation libvirt adds later is still the hook's call, never the command line.
reset; domxml win10 $GPU >"$work/win10.xml"
out=$(on desktop '
mkdir -p $W/hooks; ln -sf $H $W/hooks/qemu
$W/hooks/qemu win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"
$W/hooks/qemu win10 release end "from snapshot" </dev/null; echo "rc=$?"; eval "$STATE"
$W/hooks/qemu win10 prepare begin - <$W/win10.xml; echo "rc=$?"
$W/hooks/qemu win10 release end some-later-reason </dev/null; echo "rc=$?"; eval "$STATE"
$W/hooks/qemu win10 some-later-op begin - <$W/win10.xml; echo "rc=$?"; ls $W/state')
check "hook by its name: release end \"from snapshot\" and a later reason give back, a later operation exits 0" \
	"$(printf 'rc=0\n%s\nrc=0\n%s\nrc=0\nrc=0\n%s\nrc=0\nlock' "$VFIO" "$ORIG" "$ORIG")" "$out"

## vfio-pci not loaded yet: the hook loads it
reset
out=$(FAKESYS_VFIO_UNLOADED=1 on desktop '$H win10 prepare begin - <$W/win10.xml 2>&1; echo "rc=$?"; eval "$STATE"; $H win10 release end - </dev/null; eval "$STATE"')
check "vfio-pci loaded by the hook" "$(printf 'rc=0\n%s\n%s' "$VFIO" "$ORIG")" "$out"
reset
out=$(FAKESYS_VFIO_UNLOADED=1 FAKEKERNEL_MODPROBE_FAIL=1 on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "vfio-pci cannot be loaded: refused, nothing changed" "$(printf 'vfio-hook: cannot load vfio-pci: modprobe vfio-pci failed (is the module installed for this kernel?)\nrc=1\n%s\nlock' "$ORIG")" "$out"

# Under test no program of the host runs: without a stand-in, not even the modprobe in PATH.
mkdir -p "$work/host"; printf '#!/bin/sh\ntouch %s/host-modprobe-ran\n' "$work" >"$work/host/modprobe"; chmod 755 "$work/host/modprobe"
reset
out=$(FAKESYS_VFIO_UNLOADED=1 on desktop 'VFIO_HOOK_TEST_BIN= PATH=$W/host:$PATH $H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; ls $W/state; [ -e $W/host-modprobe-ran ] && echo "host modprobe ran"')
check "no stand-in for modprobe: the host's never runs" "$(printf '%s\n%s\nrc=1\n%s\nlock' \
	'vfio-hook: refusing to run modprobe: VFIO_HOOK_TEST is set and $VFIO_HOOK_TEST_BIN has no stand-in for it' \
	'vfio-hook: cannot load vfio-pci: modprobe vfio-pci Operation not permitted (is the module installed for this kernel?)' "$ORIG")" "$out"

## refusals change nothing and say what to do
reset; map "[pci gpu]" "device = 10de:1e84" "[vm win10]" "pci = gpu"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "group not viable: refused with the fix" "$(printf '%s\nrc=1\n%s\nlock' \
	"vfio-hook: win10: 0000:09:00.1 (TU104 HD Audio Controller) shares IOMMU group 24 with this VM's devices but is not mapped: add \"device = 10de:10f8\" to [pci gpu] in $work/map.ini (and 2 more problems: run 'vfio-hook --check win10')" "$ORIG")" "$out"
out=$(on desktop '$H --check win10 --xml $W/win10.xml; echo "rc=$?"')
check "--check shows every refusal" "$(printf '%s\n' "win10: 1 PCI function" \
	"  move 0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]): nvidia -> vfio-pci, IOMMU group 24" \
	"  refuse: 0000:09:00.1 (TU104 HD Audio Controller) shares IOMMU group 24 with this VM's devices but is not mapped: add \"device = 10de:10f8\" to [pci gpu] in $work/map.ini" \
	"  refuse: 0000:09:00.2 (TU104 USB 3.1 Host Controller) shares IOMMU group 24 with this VM's devices but is not mapped: add \"device = 10de:1ad8\" to [pci gpu] in $work/map.ini" \
	"  refuse: 0000:09:00.3 (TU104 USB Type-C UCSI Controller) shares IOMMU group 24 with this VM's devices but is not mapped: add \"device = 10de:1ad9\" to [pci gpu] in $work/map.ini" \
	"the hook would refuse to start this VM")
rc=1" "$out"
out=$(on desktop '$H win10 stopped end - </dev/null; $H win10 release end failed <$W/win10.xml; echo "rc=$?"; eval "$STATE"')
check "release after a refused start: no record, nothing to do" "$(printf 'rc=0\n%s' "$ORIG")" "$out"

## VMs and calls that are not ours
reset; full_map
out=$(on desktop 'for op in "prepare begin -" "start begin -" "reconnect begin -" "release end -"; do $H other $op <$W/win10.xml; echo "rc=$?"; done; $H win10 reconnect begin - </dev/null; echo "rc=$?"; eval "$STATE"')
check "other VMs and ops: exit 0, nothing changed" "$(printf 'rc=0\nrc=0\nrc=0\nrc=0\nrc=0\n%s' "$ORIG")" "$out"
out=$(on desktop '$H --check nosuchvm; echo "rc=$?"')
check "--check on an unknown VM exits 2" "$(printf 'vfio-hook: nosuchvm is not in %s (add a [vm nosuchvm] section)\nrc=2' "$work/map.ini")" "$out"

# A VM not in the map, each call libvirt makes: stdin read to EOF, nothing on stdout, exit 0.
cp "$here/../etc/vfio-hook.ini" "$work/example.ini"; chmod 644 "$work/example.ini"
printf '<domain type="kvm"><name>othervm</name>%04096d</domain>\n' 0 >"$work/domain.xml"
for op in "prepare begin -" "start begin -" "started begin -" "stopped end -" "release end destroyed" "reconnect begin -" "migrate begin -"; do
	# shellcheck disable=SC2086
	( VFIO_HOOK_CONFIG="$work/example.ini" VFIO_HOOK_STATE_DIR="$work/state" "$bin" othervm $op >"$work/stdout" 2>"$work/stderr"; echo "rc=$?"; cat ) <"$work/domain.xml" >"$work/after"
	check "hook $op: exits 0, reads all of stdin" "rc=0" "$(cat "$work/after")"
	check "hook $op: nothing on stdout" "" "$(cat "$work/stdout")"
done

## an injected fault at every step of every function: everything goes back, one clear line
for a in $GPU; do
	# Transient faults (…1: the first such write only), and an unbind that always fails.
	for f in override:fail1 unbind:fail probe:fail1 probe:nobind1; do
		reset; full_map 1
		out=$(FAKEKERNEL_FAULT="${f%%:*}:$a:${f#*:}" on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
		check "fault ${f} at $a: exit 1, all back, no record" "$(printf 'rc=1\n%s\nlock' "$ORIG")" "$out"
		err=$(cat "$work/err")
		case "$err" in
		"vfio-hook: win10: $a ("*"; every device was put back on its driver") ok "fault ${f} at $a: one line naming it" ;;
		*) not_ok "fault ${f} at $a: one line naming it" "$err" ;;
		esac
	done
done
# A fault that outlives the rollback: the record keeps what could not go back, the line says
# so, and restore finishes the job once the cause is gone.
reset; full_map 1
out=$(FAKEKERNEL_FAULT="probe:0000:09:00.2:fail" on desktop '
$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; ls $W/state; grep -c "^func .* owner=win10 " $W/state/ledger
FAKEKERNEL_FAULT= $H restore win10 2>/dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "failed rollback keeps the record; restore puts everything back" "$(printf 'rc=1\nledger\nlock\n1\nwin10: restored\nrc=0\n%s\nlock' "$ORIG")" "$out"
check "failed rollback: the line says so" "vfio-hook: win10: 0000:09:00.2 (TU104 USB 3.1 Host Controller): probing for vfio-pci Input/output error; some devices could not be put back: run 'vfio-hook restore win10' when the cause is gone" "$(head -n1 "$work/err")"

## at release, never on no driver: a probe that fails once at release: the function is tried again and ends on its driver
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
FAKEKERNEL_FAULT=probe:0000:09:00.2:fail1 $H win10 release end - </dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "a probe failing once at release: every function back on its driver, nothing recorded" \
	"$(printf 'rc=0\nrc=0\n%s\nlock' "$ORIG")" "$out"

## a driver that will not take its function back at release: on vfio-pci, recorded, never on no driver
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd
FAKEKERNEL_MODPROBE_FAIL=1 $H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; grep -c "^func 0000:09:00.2 owner=win10 " $W/state/ledger
mkdir -p $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd; $H restore win10 2>/dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "its driver gone at release: on vfio-pci again and recorded; restore finishes once it is back" \
	"$(printf 'rc=0\nrc=0\n%s\n1\nwin10: restored\nrc=0\n%s\nlock' \
	"0000:09:00.0=nvidia/(null) 0000:09:00.1=snd_hda_intel/(null) 0000:09:00.2=vfio-pci/vfio-pci 0000:09:00.3=nvidia-gpu/(null) " "$ORIG")" "$out"
check "its driver gone at release: the line says where it is" \
	"vfio-hook: win10: 0000:09:00.2 could not go back to xhci_hcd: xhci_hcd did not bind (driver now: none; see dmesg); it is on vfio-pci again (it stays recorded: run 'vfio-hook restore win10' once the cause is gone)" \
	"$(cat "$work/err")"

## its driver gone at release, and the way back to vfio-pci fails or sticks in the kernel: the
## line keeps both reasons, and one stuck is said to be stuck, recorded for restore
reset; full_map 1
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd
FAKEKERNEL_FAULT=probe:0000:09:00.2:nobind FAKEKERNEL_MODPROBE_FAIL=1 $H win10 release end - </dev/null 2>$W/err; echo "rc=$?"
grep -c "^func 0000:09:00.2 owner=win10 " $W/state/ledger')
check "its driver gone, vfio-pci binding nothing: recorded" "$(printf 'rc=0\nrc=0\n1')" "$out"
check "its driver gone, vfio-pci binding nothing: the line gives both reasons" \
	"vfio-hook: win10: 0000:09:00.2 could not go back to xhci_hcd: xhci_hcd did not bind (driver now: none; see dmesg); vfio-pci did not take it either: vfio-pci did not bind (driver now: none; see dmesg) (it stays recorded: run 'vfio-hook restore win10' once the cause is gone)" \
	"$(cat "$work/err")"
reset; full_map 1
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd
FAKEKERNEL_FAULT=override:0000:09:00.2:hang3 FAKEKERNEL_MODPROBE_FAIL=1 $H win10 release end - </dev/null 2>$W/err; echo "rc=$?"
kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); grep -c "^func 0000:09:00.2 owner=win10 " $W/state/ledger')
check "its driver gone, the way back to vfio-pci stuck: recorded" "$(printf 'rc=0\nrc=0\n1')" "$out"
check "its driver gone, the way back to vfio-pci stuck: the line says stuck in the kernel" \
	"vfio-hook: win10: 0000:09:00.2 could not go back to xhci_hcd: xhci_hcd did not bind (driver now: none; see dmesg); the way back to vfio-pci is stuck in the kernel: writing driver_override did not finish in time (it stays recorded: run 'vfio-hook restore win10' once the cause is gone)" \
	"$(cat "$work/err")"

## a failed start's undo keeps a function on vfio-pci for a running VM only if that VM's domain
## uses its IOMMU group, never for one the ledger says owns a sibling it does not use; and never
## on no driver. On two-gpus: test runs and owns 0a:00.1 (its prepare moved it) without a
## function of group 13 in its domain; 0a:00.0 had no driver then, and nvidia took it since.
TWO='for a in 0000:0a:00.0 0000:0a:00.1 0000:0b:00.0; do d=none; [ -e /sys/bus/pci/devices/$a/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/$a/driver)); printf "%s=%s " $a $d; done; echo'
TEST_UP='echo 0000:0a:00.0 >/sys/bus/pci/devices/0000:0a:00.0/driver/unbind
$H test prepare begin - <$W/test-none.xml; sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test-none.xml >$W/run/test.xml
$H test started begin - </dev/null; echo 0000:0a:00.0 >/sys/bus/pci/drivers_probe'
OWNERS='sed -n "s/^func \([^ ]*\) owner=\([^ ]*\) .*/\1 \2/p" $W/state/ledger 2>/dev/null | tr "\n" " "; echo'
export TWO TEST_UP OWNERS
domxml test >"$work/test-none.xml"
domxml win10 0000:0a:00.0 0000:0a:00.1 0000:0b:00.0 0000:0b:00.1 >"$work/win10-two.xml"
for f in probe:0000:0b:00.0:nobind1 probe:0000:0a:00.0:nobind1; do
	reset; map "[options]" "timeout = 2" "[vm test]" "pci = 0a:00.1" "[vm win10]" "pci = 0a:00.0 0a:00.1 0b:00.0 0b:00.1"
	out=$(on two-gpus "$TEST_UP"'
FAKEKERNEL_FAULT='"$f"' $H win10 prepare begin - <$W/win10-two.xml 2>$W/err; echo "rc=$?"; eval "$TWO"; '"$OWNERS")
	check "fault $f at a failed start: 0a:00.0 back on nvidia, not kept for test, which does not use group 13" \
		"$(printf '%s\n' "rc=1" "0000:0a:00.0=nvidia 0000:0a:00.1=vfio-pci 0000:0b:00.0=nvidia " "0000:0a:00.1 test ")" "$out"
	case $(cat "$work/err") in
	"vfio-hook: win10: "*"; every device was put back on its driver") ok "fault $f: the line says all went back, and it did" ;;
	*) not_ok "fault $f: the line says all went back, and it did" "$(cat "$work/err")" ;;
	esac
done
# test's domain has 0a:00.1 now: a swap of 0a:00.0 into it whose vfio-pci probe binds nothing
# keeps 0a:00.0 in the group test uses, on vfio-pci, as its line says: not on no driver.
reset; map "[options]" "timeout = 2" "[vm test]" "pci = 0a:00.1"
domxml test 0000:0a:00.1 >"$work/test-none.xml"
out=$(on two-gpus "$TEST_UP"'
FAKEKERNEL_FAULT=probe:0000:0a:00.0:nobind1 $H swap test 0a:00.0 2>$W/err; echo "rc=$?"; eval "$TWO"; '"$OWNERS")
check "a failed swap into the VM that uses the group: kept on vfio-pci, test's, never on no driver" \
	"$(printf '%s\n' "rc=1" "0000:0a:00.0=vfio-pci 0000:0a:00.1=vfio-pci 0000:0b:00.0=nvidia " "0000:0a:00.1 test 0000:0a:00.0 test ")" "$out"
check "a failed swap into the VM that uses the group: the line says where it is" \
	"vfio-hook: test: 0000:0a:00.0 stays on vfio-pci: the running VM test uses IOMMU group 13 (shut test down first)" \
	"$(head -n1 "$work/err")"

## a driver named otherwise than its module (xhci_hcd is xhci_pci's) unloaded meanwhile: loaded by the device's modalias
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/xhci_hcd
$H win10 release end - </dev/null; echo "rc=$?"; eval "$STATE"')
check "a host driver unloaded meanwhile is loaded by the device's modalias" "$(printf 'rc=0\n%s' "$ORIG")" "$out"

## vfio-pci cannot be loaded: what an earlier, cut-short start of the VM recorded is kept
reset; full_map
mkdir -p "$work/state"; chmod 700 "$work/state"
printf '%s\n' "vfio-hook-ledger 1" "vm win10 uuid= state=starting" "func 0000:09:00.0 owner=win10 driver=nvidia override= state=moving" >"$work/state/ledger"
chmod 600 "$work/state/ledger"
out=$(FAKESYS_VFIO_UNLOADED=1 on desktop 'echo vfio-pci >/sys/bus/pci/devices/0000:09:00.0/driver_override; echo 0000:09:00.0 >/sys/bus/pci/devices/0000:09:00.0/driver/unbind
FAKEKERNEL_MODPROBE_FAIL=1 $H win10 prepare begin - <$W/win10.xml >/dev/null 2>&1; echo "rc=$?"; grep "^func" $W/state/ledger
$H restore win10 2>/dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "vfio-pci not loadable: the earlier start's record stays; restore gives the function back" \
	"$(printf 'rc=1\nfunc 0000:09:00.0 owner=win10 driver=nvidia override= state=moving\nwin10: restored\nrc=0\n%s\nlock' "$ORIG")" "$out"

tap_done
