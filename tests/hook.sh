#!/bin/sh
# The hook as libvirt runs it, on fixture machines whose fake kernel really moves devices
# (tests/lib/fakekernel.c): prepare moves a VM's functions to vfio-pci, release gives them
# back, refusals change nothing, and after an injected fault at any step every function is
# on its original driver or on vfio-pci, never on none.
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
map "[vm win10" "pci = gpu"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; $H win10 release end - </dev/null; echo "rc=$?"')
check "broken map: prepare fails with its line, release still exits 0" "$(printf '%s\nrc=1\nrc=0' "$work/map.ini:1: not a [section], a \"key = value\" line or a comment (fix or remove this line)")" "$out"
out=$(on desktop '$H --check nosuchvm; echo "rc=$?"')
check "--check on a broken map exits 2" "$(printf '%s\nrc=2' "$work/map.ini:1: not a [section], a \"key = value\" line or a comment (fix or remove this line)")" "$out"
# A map broken elsewhere, or with the wrong owner or mode, stops only the VMs it names: a router
# VM that autostarts at boot is not in it and must still come up.
domxml router >"$work/router.xml"; domxml broken >"$work/broken.xml"
full_map; printf '%s\n' "[vm broken]" "pci gpu" >>"$work/map.ini"
SYN="$work/map.ini:13: not a [section], a \"key = value\" line or a comment (fix or remove this line)"
out=$(on desktop 'for vm in router win10 broken; do $H $vm prepare begin - <$W/$vm.xml; echo "$vm rc=$?"; done; eval "$STATE"')
check "broken map: a VM it does not name starts, the VMs it names are refused" "$(printf '%s\n' "$SYN" \
	"vfio-hook: router: starting without vfio-hook: it has no [vm router] in $work/map.ini, which vfio-hook cannot use (see above)" \
	"router rc=0" "$SYN" "win10 rc=1" "$SYN" "broken rc=1" "$ORIG")" "$out"
full_map; chmod 666 "$work/map.ini"
PERM="$work/map.ini: refused: writable by group or others (run: chmod go-w $work/map.ini)"
out=$(on desktop 'for vm in router win10; do $H $vm prepare begin - <$W/$vm.xml; echo "$vm rc=$?"; done; eval "$STATE"')
check "writable map: a VM it does not name starts, a VM it names is refused" "$(printf '%s\n' "$PERM" \
	"vfio-hook: router: starting without vfio-hook: it has no [vm router] in $work/map.ini, which vfio-hook cannot use (see above)" \
	"router rc=0" "$PERM" "win10 rc=1" "$ORIG")" "$out"
mkdir -p "$work/map.d"
out=$(VFIO_HOOK_CONFIG="$work/map.d" on desktop '$H router prepare begin - <$W/router.xml; echo "rc=$?"')
check "unreadable map: nobody can tell, so every VM is refused" "$(printf '%s\nrc=1' \
	"$work/map.d: not a regular file (point -c or VFIO_HOOK_CONFIG at the map file)")" "$out"
full_map
out=$(on desktop '$H --check nosuchvm; echo "rc=$?"')
check "--check on an unknown VM exits 2" "$(printf 'vfio-hook: nosuchvm is not in %s (add a [vm nosuchvm] section)\nrc=2' "$work/map.ini")" "$out"

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
# A step that hangs holds the device in the kernel (its lock) until whatever blocks it lets go:
# meanwhile nothing can put that function back. The start fails within its deadline, every
# other function goes back, the record keeps the stuck one and the line says to restore it;
# once the hang is over, restore puts it back.
for a in $GPU; do
	for step in override unbind probe; do
		case $step in
		override) after=$ORIG ;;
		unbind) after=$(echo "$ORIG" | sed "s|$a=\([^/]*\)/(null)|$a=\1/vfio-pci|") ;;
		probe) after=$(echo "$ORIG" | sed "s|$a=[^/]*/(null)|$a=none/vfio-pci|") ;;
		esac
		reset; full_map 1
		out=$(FAKEKERNEL_FAULT="$step:$a:hang" on desktop '
		timeout 30 $H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"
		kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid)
		eval "$STATE"; ls $W/state
		FAKEKERNEL_FAULT= $H restore win10 >/dev/null 2>&1; echo "rc=$?"; eval "$STATE"; ls $W/state')
		check "hang at $step of $a: exit 1, the rest back, restore ends it" \
			"$(printf 'rc=1\n%s\nledger\nlock\nrc=0\n%s\nlock' "$after" "$ORIG")" "$out"
		err=$(cat "$work/err")
		case "$err" in
		"vfio-hook: win10: $a ("*"did not finish in time"*"; some devices could not be put back: run 'vfio-hook restore win10' when the cause is gone") ok "hang at $step of $a: one line naming it" ;;
		*) not_ok "hang at $step of $a: one line naming it" "$err" ;;
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

## killed between steps: the record lets restore, or the next release, undo it
for undo in "\$H restore win10 >/dev/null 2>&1" "\$H win10 release end - </dev/null" "\$H restore --all >/dev/null 2>&1"; do
	reset; full_map 30
	out=$(FAKEKERNEL_FAULT="unbind:0000:09:00.2:hang" on desktop '
	$H win10 prepare begin - <$W/win10.xml 2>/dev/null & pid=$!
	i=0; while [ $i -lt 100 ] && [ ! -s $UMOCKDEV_DIR/fakekernel/hung.pid ]; do sleep 0.1; i=$((i+1)); done
	kill -9 $pid $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); wait $pid 2>/dev/null
	eval "$STATE"; '"$undo"'; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "SIGKILL mid-prepare, then ${undo%% *} ${undo#* }: all back" \
		"$(printf '0000:09:00.0=vfio-pci/vfio-pci 0000:09:00.1=vfio-pci/vfio-pci 0000:09:00.2=xhci_hcd/vfio-pci 0000:09:00.3=nvidia-gpu/(null) \nrc=0\n%s\nlock' "$ORIG")" "$out"
done

## guards: what the host needs stays with the host
NVME='d=none; [ -e /sys/bus/pci/devices/0000:01:00.0/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)); echo "nvme=$d"'
P1=/sys/devices/pci0000:00/0000:00:01.1/0000:01:00.0/nvme/nvme0/nvme0n1/nvme0n1p1
export NVME P1
reset; map "[vm store]" "pci = 0000:01:00.0"
domxml store 0000:01:00.0 >"$work/store.xml"
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

## --check and status as an ordinary user: root's records (the state directory, 0700) and
## libvirt's status files (0600) are closed to them, and so is the disk's exclusive open. What
## they cannot see is named, --check promises no start, status shows "?" where it cannot know.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	domxml win10 $GPU >"$work/win10.xml"
	reset; map "[vm win10]" "pci = 09:00.0 09:00.1 09:00.2 09:00.3" "[vm store]" "pci = 0000:01:00.0"
	out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"')
	check "as a user: root's start recorded first" "rc=0" "$out"
	status linux 0000:01:00.0; chmod 600 "$work/run/linux.xml"
	chmod 755 "$work"; chmod 644 "$work/store.xml" "$work/win10.xml" "$work/map.ini"
	closed_ledger="  warning: $work/state/ledger cannot be read: what vfio-hook holds now (its moves, the host's display) is not checked; run it as root to know"
	closed_run="  warning: libvirt's status files of running VMs in $work/run cannot be read: which devices running VMs use is not checked; run it as root to know"
	out=$(as_user desktop 'FAKEKERNEL_BUSY=nvme0n1p1:denied $H --check store --xml $W/store.xml; echo "rc=$?"')
	check "as a user: --check names what it cannot see and promises no start" "$(printf '%s\n' "store: 1 PCI function" \
		"  move 0000:01:00.0 (SSD 660P Series): nvme -> vfio-pci, IOMMU group 15" "$closed_run" \
		"  warning: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 cannot be opened: whether the kernel holds it (a ZFS pool, or another exclusive user) is not checked; run it as root to know" \
		"$closed_ledger" "the hook may start this VM: what the warnings above say was not checked" "rc=0")" "$out"
	out=$(on desktop '$H --check store --xml $W/store.xml | tail -n 2; echo "rc=$?"')
	check "as root the same --check sees the running VM" "$(printf '%s\n' \
		"  evict 0000:01:00.0 (SSD 660P Series) from the running VM linux: hot-unplug it (evict = detach)" \
		"the hook would start this VM" "rc=0")" "$out"
	out=$(as_user desktop '$H status; echo "rc=$?"')
	check "as a user: status says what it cannot know, and shows ? there" "$(printf '%s\n' \
		"vfio-hook: $work/state/ledger cannot be read: what vfio-hook holds is not known (owner=?); run 'vfio-hook status' as root to see it" \
		"vfio-hook: libvirt's status files of running VMs in $work/run cannot be read: which running VM uses what is not known (in-use-by=?); run it as root to know" \
		"01:00.0 Non-Volatile memory controller [0108]: Intel Corporation SSD 660P Series [8086:f1a8] (rev 03)  driver=nvme  vm=store  in-use-by=?  owner=?")" \
		"$(printf '%s\n' "$out" | head -n 3)"
	check "as a user: status exits 0, and does not say nothing is recorded" "rc=0" "$(printf '%s\n' "$out" | grep -e "^rc=" -e "no devices recorded")"
	# No state directory at all (no VM started since boot): nothing recorded, nothing created.
	rm -rf "$work/state"; chmod 644 "$work/run/linux.xml"
	out=$(as_user desktop '$H --check win10 --xml $W/win10.xml | tail -n 1; echo "rc=$?"; $H status | tail -n 1
	[ -e $W/state ] || echo "no state directory"')
	check "as a user, no state directory: the start is promised, nothing is created" "$(printf '%s\n' \
		"the hook would start this VM" "rc=0" "no devices recorded" "no state directory")" "$out"
	chmod 700 "$work"
else
	skip "--check and status as an ordinary user" "needs root and runuser to switch user"
fi

reset; map "[vm hostgpu]" "pci = 0b:00.0 0b:00.1"
domxml hostgpu 0000:0b:00.0 0000:0b:00.1 >"$work/hostgpu.xml"
out=$(on desktop '$H hostgpu prepare begin - <$W/hostgpu.xml; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/0000:0b:00.0/driver)')
check "guard: the boot GPU with the framebuffer console stays" "$(printf '%s\nrc=1\namdgpu' \
	"vfio-hook: hostgpu: 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]) drives the host's display (fbcon on tty1): set host-display = handoff in [vm hostgpu] to let vfio-hook stop display-manager.service while hostgpu runs, or give the host another GPU")" "$out"
out=$(on desktop 'echo 0 >$UMOCKDEV_DIR/sys/devices/virtual/vtconsole/vtcon1/bind; $H hostgpu prepare begin - <$W/hostgpu.xml; echo "rc=$?"; basename $(readlink /sys/bus/pci/devices/0000:0b:00.0/driver)')
check "guard: with the console unbound it may go" "$(printf 'rc=0\nvfio-pci')" "$out"

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

## the lock has a deadline
reset; full_map 1
out=$(on desktop 'mkdir -p $W/state; flock $W/state/lock sleep 10 & sleep 0.3; s=$(date +%s); $H win10 prepare begin - <$W/win10.xml; echo "rc=$? waited=$(( $(date +%s) - s ))"; eval "$STATE"; kill %1 2>/dev/null')
case "$out" in
"vfio-hook: win10: another vfio-hook run (unknown) has held $work/state/lock for 3 s, past the time it said it would need; gave up waiting"*"
rc=1 waited="[345]"
$ORIG") ok "a held lock makes prepare fail after its deadline" ;;
*) not_ok "a held lock makes prepare fail after its deadline" "$out" ;;
esac

tap_done
