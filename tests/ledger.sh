#!/bin/sh
# The ownership ledger: one owner per device, as libvirt and users exercise it.
# sources: ledger state engine start stop report step-bind bind plan resolve
# On fixture machines whose fake kernel moves devices (README "Who owns a device"): a restore
# while the VM runs, two VMs racing through the status-file gap, a damaged ledger, a state
# directory that is not ours, identical GPUs, the lock and its deadline. What an
# eviction took, as the ledger records it, is in tests/ledger-takes.sh; evictions as users ask
# for them in tests/evict.sh, swap in tests/swap.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"
domxml linux $GPU >"$work/linux.xml"
domxml test $GPU >"$work/test.xml"
domxml win10 0000:09:00.0 >"$work/win10-video.xml"

## restore of a VM that runs with its devices refuses, per function, naming it (also --all)
for how in "restore win10" "restore --all"; do
	reset; gpu_map
	out=$(HOW=$how on desktop "$RUNNING"'
	$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
	running $W/win10.xml win10
	$H $HOW 2>$W/err; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "$how while win10 runs: refused, nothing unbound" "$(printf 'rc=0\nrc=1\n%s\nledger\nlock' "$VFIO")" "$out"
	check "$how while win10 runs: one line per function naming it" \
		"4 vfio-hook: win10: 0000:09:00.3 stays on vfio-pci: the running VM win10 uses it (shut win10 down first)" \
		"$(grep -c "stays on vfio-pci: the running VM win10 uses it" "$work/err") $(head -n1 "$work/err")"
done

## restore by hand of a VM whose start vfio-hook prepared and that has no status file yet: libvirt
## is asked, and a domain it says is active keeps its devices (test:///default's "test" runs)
reset; gpu_map
out=$(on desktop '$H test prepare begin - <$W/test.xml; $H restore test; echo "rc=$?"; eval "$STATE"; $H restore win10; echo "rc=$?"')
check "restore of a VM libvirt says is starting: refused" "$(printf '%s\nrc=1\n%s\nwin10: nothing recorded, nothing to restore\nrc=0' \
	"vfio-hook: test: is starting or running (vfio-hook prepared its start and libvirt says it is active): its devices stay; run 'vfio-hook restore test' again once it is off" "$VFIO")" "$out"

## restore of a running VM keeps the whole IOMMU group it uses on vfio-pci, also the functions
## its domain XML does not name: a host driver bound into a group a VM holds would fail its
## probe on a real kernel, leaving the function with no driver (on an old one, the group's
## isolation would be gone)
reset; gpu_map
out=$(on desktop "$RUNNING"'
$H win10 prepare begin - <$W/win10-video.xml 2>/dev/null; echo "rc=$?"
running $W/win10-video.xml win10
$H restore win10 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "restore_running_vm_keeps_its_iommu_group: nothing of group 24 leaves vfio-pci" "$(printf 'rc=0\nrc=1\n%s' "$VFIO")" "$out"

## the status-file gap: win10's prepare succeeded, libvirt has not written its status yet;
## linux (evict = detach) must not take win10's devices, and its failed start changes nothing
reset; gpu_map "evict = detach"
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
$H linux prepare begin - <$W/linux.xml; echo "rc=$?"
$H linux stopped end - </dev/null; $H linux release end failed <$W/linux.xml; echo "rc=$?"
eval "$STATE"; grep -c "^func .* owner=win10 .*state=moved" $W/state/ledger')
check "gap: linux refused, win10 keeps its devices and owns them" "$(printf 'rc=0\n%s\nrc=1\nrc=0\n%s\n4' \
	"vfio-hook: linux: $G0 belongs to win10, which is starting or stopped without vfio-hook seeing it: if win10 is not running (virsh domstate win10), run 'vfio-hook restore win10', then try again (and 3 more problems: run 'vfio-hook --check linux')" "$VFIO")" "$out"
out=$(on desktop '$H --check linux --xml $W/linux.xml | grep -c "belongs to win10"; $H status | grep "^win10"')
check "gap: --check and status say who owns them" "$(printf '4\nwin10 (starting): 0000:09:00.0(moved, was nvidia) 0000:09:00.1(moved, was snd_hda_intel) 0000:09:00.2(moved, was xhci_hcd) 0000:09:00.3(moved, was nvidia-gpu)')" "$out"
out=$(on desktop '$H win10 started begin - <$W/win10.xml; $H status | grep "^win10" | cut -d: -f1
$H win10 release end destroyed </dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "gap: win10 started, then its release gives them back" "$(printf 'win10 (not running)\nrc=0\n%s\nlock' "$ORIG")" "$out"

## names round-trip: an owner with a space (libvirt allows any character but /)
reset; gpu_map
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml
sed -i "s/owner=win10/owner=my%20vm/; s/^vm win10 /vm my%20vm /" $W/state/ledger
$H status | grep "^my vm"
$H restore "my vm" 2>/dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "an owner named with a space: status and restore" "$(printf 'my vm (starting): 0000:09:00.0(moved, was nvidia) 0000:09:00.1(moved, was snd_hda_intel) 0000:09:00.2(moved, was xhci_hcd) 0000:09:00.3(moved, was nvidia-gpu)\nmy vm: restored\nrc=0\n%s\nlock' "$ORIG")" "$out"

## a damaged ledger: reported as FILE:LINE, kept, and release still gives back every function
## whose address it can read (the kernel picks the driver where the recorded one is unreadable)
reset; gpu_map
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml
sed -i "s/driver=snd_hda_intel /driver=snd_hda_intel;x /; \$a garbage that no one wrote" $W/state/ledger
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"; cat $W/state/ledger | grep -v "^#"')
check "damaged line: every function back, the garbage kept" "$(printf 'rc=0\n%s\nvfio-hook-ledger 1\ndamaged garbage that no one wrote' "$ORIG")" "$out"
check "damaged line: reported with its line" "2 vfio-hook: $work/state/ledger:5: cannot read this entry; it is kept as it is (check it, then 'vfio-hook restore --all' gives back the device it names): func 0000:09:00.1 owner=win10 driver=snd_hda_intel;x override= state=moved" \
	"$(grep -c "cannot read this entry" "$work/err") $(head -n1 "$work/err")"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; grep -c "garbage that no one wrote" $W/state/ledger; $H win10 release end - </dev/null 2>/dev/null; eval "$STATE"')
check "damaged line: a later start keeps it too" "$(printf 'rc=0\n1\n%s' "$ORIG")" "$out"
# An owner that cannot be read: no start takes the device; restore --all gives it back.
reset; gpu_map
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml
sed -i "s/^func 0000:09:00.0 owner=win10 .*/func 0000:09:00.0 owner/" $W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; eval "$STATE"
$H linux prepare begin - <$W/linux.xml 2>&1 | grep "damaged entry" | sed "s|has a damaged entry in .*|has a damaged entry|"; $H restore --all 2>/dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "unreadable owner: kept from every start, restore --all gives it back" "$(printf '%s\n%s\n%s\nrc=0\n%s\nlock' \
	"0000:09:00.0=vfio-pci/vfio-pci 0000:09:00.1=snd_hda_intel/(null) 0000:09:00.2=xhci_hcd/(null) 0000:09:00.3=nvidia-gpu/(null) " \
	"vfio-hook: linux: $G0 has a damaged entry" \
	"damaged entries: restored" "$ORIG")" "$out"

## a duplicate func line (a damaged ledger) is reported and kept, and stays reported once the
## entry it duplicates is given back: read as valid again, silently, its owner (never seen
## starting or running) would block the next start of the VM that really had the device
reset; gpu_map
out=$(on desktop '
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
echo "func 0000:09:00.0 owner=linux driver=nvidia override= state=moved" >>$W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; echo "rc=$?"; eval "$STATE"
$H status 2>&1 >/dev/null | grep -c "cannot read this entry"
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"')
check "duplicate_line_stays_reported_not_resurrected: still reported, win10 starts again" \
	"$(printf 'rc=0\nrc=0\n%s\n1\nrc=0' "$ORIG")" "$out"

## the state directory decides what root writes to sysfs: a symlink, or one others may write, is refused
for bad in symlink writable; do
	reset; gpu_map
	if [ $bad = symlink ]; then mkdir -p "$work/elsewhere"; ln -s "$work/elsewhere" "$work/state"
	else mkdir -p "$work/state"; chmod 777 "$work/state"; fi
	out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"')
	check "state directory ($bad): refused, nothing changed" "$(printf '%s\nrc=1\n%s' \
		"vfio-hook: refusing to use $work/state: it must be a directory (not a symlink) owned by root and writable by nobody else (remove it; vfio-hook creates it again)" "$ORIG")" "$out"
	rm -rf "$work/state" "$work/elsewhere"
done

## a ledger that is a FIFO (a damaged or hostile state directory) is refused like a symlink
## is: opened, it would block with no writer, holding the lock, in libvirt's prepare and in
## every later run
reset; gpu_map
mkdir -m 700 "$work/state"; mkfifo "$work/state/ledger"
out=$(on desktop 'timeout -s KILL 8 $H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; eval "$STATE"
timeout -s KILL 8 $H status >/dev/null 2>&1; echo "rc=$?"')
check "ledger_fifo_is_refused_not_waited_on: prepare fails at once, status answers" "$(printf 'rc=1\n%s\nrc=1' "$ORIG")" "$out"

## identical GPUs: an id matching several functions takes the one the domain XML names (and its
## IOMMU group); when the XML names none of them, it is refused, with the addresses to pin
reset
map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1c03" "device = 10de:10f1" "[vm win10]" "pci = gpu"
domxml win10 0000:0b:00.0 >"$work/second.xml"
domxml win10 0000:00:03.1 >"$work/none.xml"
TWO='for a in 0000:0a:00.0 0000:0a:00.1 0000:0b:00.0 0000:0b:00.1; do d=$(basename $(readlink /sys/bus/pci/devices/$a/driver)); printf "%s=%s " $a $d; done; echo'
out=$(TWO=$TWO on two-gpus '$H win10 prepare begin - <$W/second.xml; echo "rc=$?"; eval "$TWO"; $H win10 release end - </dev/null; eval "$TWO"')
check "identical GPUs: the one the XML names, with its audio" "$(printf 'rc=0\n%s\n%s' \
	"0000:0a:00.0=nvidia 0000:0a:00.1=snd_hda_intel 0000:0b:00.0=vfio-pci 0000:0b:00.1=vfio-pci " \
	"0000:0a:00.0=nvidia 0000:0a:00.1=snd_hda_intel 0000:0b:00.0=nvidia 0000:0b:00.1=snd_hda_intel ")" "$out"
ambig="10de:1c03 ($work/map.ini:4) matches 2 functions (0000:0a:00.0, 0000:0b:00.0) and the domain XML names none of them: pin the one to pass through by its address (device = ADDRESS) and add it to the domain XML"
out=$(TWO=$TWO on two-gpus '$H win10 prepare begin - <$W/none.xml; echo "rc=$?"; eval "$TWO"')
check "identical GPUs, XML names none: refused as ambiguous" "$(printf 'vfio-hook: win10: %s (and 1 more problems: run '"'"'vfio-hook --check win10'"'"')\nrc=1\n%s' "$ambig" \
	"0000:0a:00.0=nvidia 0000:0a:00.1=snd_hda_intel 0000:0b:00.0=nvidia 0000:0b:00.1=snd_hda_intel ")" "$out"
out=$(on two-gpus '$H --check win10 --xml $W/none.xml | grep -c "refuse: 10de:1c03 .* matches 2 functions"')
check "identical GPUs: --check says the same" 1 "$out"

## the lock: a holder that said it needs longer than our deadline is waited for
reset; gpu_map "timeout = 1"
map "[options]" "timeout = 1" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu"
out=$(on desktop 'mkdir -p $W/state; up=$(cut -d" " -f1 /proc/uptime | tr -d .)
printf "pid 1 until %s0 a long swap\n" $((up + 600)) >$W/state/lock
flock $W/state/lock sleep 4.5 & sleep 0.3; s=$(date +%s)
$H win10 prepare begin - <$W/win10.xml; echo "rc=$? waited=$(( $(date +%s) - s ))"; eval "$STATE"; $H win10 release end - </dev/null')
case "$out" in
"rc=0 waited="[45]"
$VFIO") ok "lock: waited past its own deadline for a holder that said it needs longer" ;;
*) not_ok "lock: waited past its own deadline for a holder that said it needs longer" "$out" ;;
esac

## the lock has a deadline: a holder that said nothing of the time it needs is given up on after it
# (The holder's sleep writes nowhere: the session's output ends with the hook, not 10 s later.)
reset; full_map 1
out=$(on desktop 'mkdir -p $W/state; flock $W/state/lock sleep 10 >/dev/null 2>&1 & sleep 0.3; s=$(date +%s); $H win10 prepare begin - <$W/win10.xml; echo "rc=$? waited=$(( $(date +%s) - s ))"; eval "$STATE"; kill %1 2>/dev/null')
case "$out" in
"vfio-hook: win10: another vfio-hook run (unknown) has held $work/state/lock for 3 s, past the time it said it would need; gave up waiting"*"
rc=1 waited="[345]"
$ORIG") ok "a held lock makes prepare fail after its deadline" ;;
*) not_ok "a held lock makes prepare fail after its deadline" "$out" ;;
esac

## README: "VMs not in the map exit 0 at once", the release of a VM vfio-hook never touched (a
## router VM) too: it does not wait for the lock as long as its holder said it may need it
## (here a swap that said 10 minutes and holds it 4 s), which would hang libvirt's shutdown of
## that VM meanwhile
reset; gpu_map
out=$(on desktop 'mkdir -p -m 700 $W/state; up=$(cut -d" " -f1 /proc/uptime | tr -d .)
printf "pid 1 until %s0 swap\n" $((up + 60000)) >$W/state/lock
flock $W/state/lock sleep 4 & sleep 0.3; s=$(date +%s%N)
$H router release end - </dev/null; echo "rc=$? waited=$(( ($(date +%s%N) - s) / 1000000000 ))"; wait')
check "release_of_an_unmapped_vm_does_not_wait_for_the_lock" "rc=0 waited=0" "$out"

tap_done
