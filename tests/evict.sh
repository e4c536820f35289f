#!/bin/sh
# Eviction and give-back: devices taken from a running VM at prepare, and given back at release.
# sources: step-evict step-plug step-claim virt domxml holders plan engine start stop ledger report
# evict = detach | shutdown | refuse, on fixture machines. libvirt is the in-process test driver
# (test:///default, where the domain "test" runs), a socket that is missing, or one that accepts
# and never answers (a daemon busy autostarting VMs): every wait must end within timeout, that
# of --check VM too. How the ledger records what an eviction took, and swap against a VM in its
# status-file gap, are in tests/ledger-takes.sh; swap and usb as users run them in tests/swap.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml test $GPU >"$work/test.xml"
ms() { echo $(($(date +%s%N) / 1000000)); }

## refuse (here set for the one VM): the line names the holder; nothing changes; release is a no-op
reset; evict_map detach "test:///default" "evict = refuse"; status linux $GPU
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; $H win10 release end - </dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "refuse: refused naming the holder, release leaves it alone" "$(printf '%s\nrc=1\n%s\nrc=0\n%s\nlock' \
	"vfio-hook: win10: $G0 is in use by the running VM linux and evict = refuse: shut linux down first (virsh shutdown linux), or set evict = detach in [vm win10] of $work/map.ini (and 3 more problems: run 'vfio-hook --check win10')" "$ORIG" "$ORIG")" "$out"

## a NIC function the running VM has as an <interface>: direct, or from a hostdev network pool
NIC="<mac address='52:54:00:6d:90:02'/><source><address type='pci' domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></source><alias name='hostdev0'/>"
for ifc in "<interface type='hostdev' managed='yes'>$NIC</interface>" \
	"<interface type='network'><source network='sriov-pool'/><actual type='hostdev' managed='yes'>${NIC%<alias*}</actual><alias name='hostdev0'/></interface>"; do
	reset; map "[options]" "evict = refuse" "[vm nas]" "pci = 0000:05:00.0"
	domxml nas 0000:05:00.0 >"$work/nas.xml"
	printf "<domstatus state='running' pid='4242'><domain type='kvm' id='3'><name>router</name><devices>%s</devices></domain></domstatus>\n" "$ifc" >"$work/run/router.xml"
	out=$(on desktop '$H nas prepare begin - <$W/nas.xml; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/0000:05:00.0/driver)')
	check "NIC held as $(echo "$ifc" | cut -c1-27)…: refused naming the holder" "$(printf '%s\nrc=1\nigb' \
		"vfio-hook: nas: 0000:05:00.0 (I211 Gigabit Network Connection) is in use by the running VM router and evict = refuse: shut router down first (virsh shutdown router), or set evict = detach in [vm nas] of $work/map.ini")" "$out"
done

## --check says what it would take, from whom, how
reset; evict_map detach "test:///default"; status linux 0000:09:00.0
out=$(on desktop '$H --check win10 --xml $W/win10.xml; echo "rc=$?"' | grep -v "^  move")
check "--check: the eviction is planned" "$(printf '%s\n' "win10: 4 PCI functions" \
	"  evict $G0 from the running VM linux: hot-unplug it (evict = detach)" "the hook would start this VM" "rc=0")" "$out"
evict_map shutdown "test:///default"
out=$(on desktop '$H --check win10 --xml $W/win10.xml' | grep "^  evict")
check "--check: shutdown planned" "  evict $G0 from the running VM linux: shut it down (evict = shutdown)" "$out"

## libvirt unreachable: one line saying so, holder untouched, nothing moved
for p in detach shutdown; do
	reset; evict_map $p "qemu+unix:///system?socket=$work/nosock"; status linux $GPU
	cp "$work/run/linux.xml" "$work/linux.before"
	out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "$p, no libvirt: refused, nothing changed" "$(printf 'rc=1\n%s\nlock' "$ORIG")" "$out"
	case $p in detach) what="hot-unplug a device from" ;; *) what="shut down" ;; esac
	check "$p, no libvirt: the line" "vfio-hook: win10: cannot $what the running VM linux, which holds $G0: Failed to connect socket to '$work/nosock': No such file or directory; linux keeps it: shut linux down first (virsh shutdown linux), then start win10 again" "$(cat "$work/err")"
	check "$p, no libvirt: holder's status untouched" "" "$(cmp "$work/run/linux.xml" "$work/linux.before")"
done

## libvirt accepts and never answers (autostart): the start fails within timeout, not forever
mute_start
for p in detach shutdown; do
	reset; evict_map $p "qemu+unix:///system?socket=$work/mute.sock"; status linux $GPU
	t0=$(ms)
	out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state
	grep "^took" $W/state/ledger | sed "s/ from-uuid.* state=/ /; s/ xml=.*//"')
	t=$(($(ms) - t0))
	# The request libvirt did not answer was sent all the same: it stays recorded, for a run
	# after it is carried out to give back what it unplugged.
	check "$p, libvirt mute: refused, nothing moved, the unanswered request recorded" \
		"$(printf 'rc=1\n%s\nledger\nlock\n%s' "$ORIG" "took 0000:09:00.0 owner=win10 from=linux pending")" "$out"
	case $p in detach) what="hot-unplug a device from" ;; *) what="shut down" ;; esac
	check "$p, libvirt mute: the line" "vfio-hook: win10: cannot $what the running VM linux, which holds $G0: no answer from libvirt (qemu+unix:///system?socket=$work/mute.sock) within 2 s (libvirt does not answer hooks while it autostarts VMs); linux keeps it: shut linux down first (virsh shutdown linux), then start win10 again" "$(cat "$work/err")"
	# timeout = 2 s, plus the fixture session's own start-up.
	check "$p, libvirt mute: gave up within the bound ($t ms)" yes "$([ "$t" -lt 6000 ] && echo yes)"
done
## libvirt's deadline: --check VM without --xml asks libvirt for the domain XML, and that call
## has the map's timeout as every other libvirt call does. While libvirtd autostarts VMs (it
## answers nothing then), or when it is wedged on a hook, a call made in the main process with
## no deadline would hang '--check win10' for good.
reset; map "[options]" "timeout = 2" "uri = qemu+unix:///system?socket=$work/mute.sock" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu"
out=$(on desktop 's=$(date +%s); timeout -s KILL 20 $H --check win10 >/dev/null 2>&1; echo "rc=$?"
[ $(( $(date +%s) - s )) -le 8 ] && echo "ended within the deadline"')
check "check_without_xml_has_a_deadline: a mute libvirt costs timeout, not forever" \
	"$(printf 'rc=0\nended within the deadline')" "$out"
mute_stop

## shutdown that works: the holder stops, its record moves to the taker, and its late release
## (blocked on the lock meanwhile) changes nothing
for gb in no yes; do
	reset; evict_map shutdown "test:///default" "giveback = $gb"
	out=$(on desktop "$RUNNING"'
	$H test prepare begin - <$W/test.xml; echo "rc=$?"; eval "$STATE"
	running $W/test.xml test
	( sleep 1; rm $W/run/test.xml ) &
	$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; ls $W/state
	grep -c "^func .* owner=win10 driver=nvidia override= state=moved" $W/state/ledger
	grep -c "^took .* owner=win10 from=test .* state=done xml=<hostdev%20mode=\"subsystem\"%20type=\"pci\"%20managed=\"no\"><source>" $W/state/ledger
	$H test release end - </dev/null; echo "rc=$?"; eval "$STATE"
	$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "shutdown works, giveback = $gb: taken, recorded, given to the host at the end" \
		"$(printf 'rc=0\n%s\nrc=0\n%s\nledger\nlock\n1\n4\nrc=0\n%s\nrc=0\n%s\nlock' "$VFIO" "$VFIO" "$VFIO" "$ORIG")" "$out"
	check "shutdown works, giveback = $gb: release is silent" "" "$(cat "$work/err")"
done

## the holder accepts the shutdown request but stays up: the start fails at the deadline
reset; evict_map shutdown "test:///default"
out=$(on desktop "$RUNNING"'
$H test prepare begin - <$W/test.xml >/dev/null 2>&1
running $W/test.xml test
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "shutdown not done in time: refused, the holder keeps everything" "$(printf '%s\nrc=1\n%s\nledger\nlock' \
	"vfio-hook: win10: the running VM test holds $G0 and did not shut down within 2 s of an ACPI shutdown request; it keeps running: shut it down from inside or with 'virsh destroy test', then start win10 again" "$VFIO")" "$out"

## give-back to a holder that runs again but refuses the hot-plug: the host gets them, with a
## warning each; restore (by hand, after a crash) never gives to another VM
for how in "win10 release end -" "restore win10"; do
	reset; evict_map shutdown "test:///default" "giveback = yes"
	out=$(HOW=$how on desktop "$RUNNING"'
	$H test prepare begin - <$W/test.xml >/dev/null 2>&1
	running $W/test.xml test
	( sleep 1; rm $W/run/test.xml ) &
	$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; sleep 0.2
	echo "<domstatus state=\"running\"><domain><name>test</name><devices/></domain></domstatus>" >$W/run/test.xml
	$H $HOW </dev/null >/dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "give-back refused, then $how: host drivers" "$(printf 'rc=0\nrc=0\n%s\nlock' "$ORIG")" "$out"
	case $how in
	restore*) check "restore: no give-back attempted" 0 "$(grep -c "give .* back to test" "$work/err")" ;;
	*) check "give-back refused: a warning per function" "4 vfio-hook: win10: could not give 0000:09:00.0 back to test: this function is not supported by the connection driver: virDomainAttachDeviceFlags; it goes back to the host" \
		"$(grep -c "could not give" "$work/err") $(head -n1 "$work/err")" ;;
	esac
done

## a give-back runs a start's guards: the NVMe came back to the host and was mounted since
## (a ran with it; b took it; c took it from b and gave it to the host at its stop; the host
## mounted /home from it); b's stop must not unbind nvme under the mount to give it back to a
NV=0000:01:00.0
reset; map "[options]" "timeout = 2" "uri = test:///default" "giveback = yes" "[vm a]" "pci = $NV" "[vm b]" "pci = $NV"
printf "<domstatus state='running' pid='4242'><domain type='kvm' id='3'><name>a</name><uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid><devices/></domain></domstatus>\n" >"$work/run/a.xml"
mkdir -p "$work/state"; chmod 700 "$work/state"
printf '%s\n' "vfio-hook-ledger 1" "vm b uuid= state=started" \
	"took $NV owner=b from=a from-uuid=c7a5fdbd-cdaf-9455-926a-d65c16db1809 from-id=3 state=done xml=<hostdev%20mode='subsystem'%20type='pci'%20managed='no'><source><address%20domain='0x0000'%20bus='0x01'%20slot='0x00'%20function='0x0'/></source></hostdev>" >"$work/state/ledger"
chmod 600 "$work/state/ledger"
out=$(FAKEKERNEL_FAULT="unbind:$NV:fail,override:$NV:fail" on desktop '
echo "40 22 259:1 / /home rw - ext4 /dev/nvme0n1p1 rw" >>$UMOCKDEV_DIR/proc/self/mountinfo
$H b release end - </dev/null 2>$W/err; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/'$NV'/driver); echo "$(cat /sys/bus/pci/devices/'$NV'/driver_override)"
ls $UMOCKDEV_DIR/fakekernel/ | grep -c "^count-"; ls $W/state')
check "give-back to a running VM of a disk the host mounted since: refused, not one write to it" \
	"$(printf 'rc=0\nnvme\n(null)\n0\nlock')" "$out"
check "give-back refused by the guard: the line names the mount" \
	"vfio-hook: b: could not give $NV back to a: $NV (SSD 660P Series): /dev/nvme0n1p1 is mounted on /home: the host needs it (unmount or stop using it first, or remove the device from the map); it stays with the host" \
	"$(grep 'could not give' "$work/err")"

tap_done
