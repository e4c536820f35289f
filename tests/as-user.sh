#!/bin/sh
# --check, status and groups run by an ordinary user, and by root whose reads are denied.
# sources: report plan world state ledger domxml display guard groups start holders
# Whatever root's files, libvirt's and other users' processes hide from a user must be named (a
# warning, "the hook may start this VM", "?" in status), never taken for "nothing there". Root
# whose reads are denied (a security module, a device cgroup: emulated by dropping
# CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set) is not told "run it as root",
# does not take what it could not see for nothing there, and its --check says what the hook
# does. The user is nobody (runuser).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/display-env.sh"

domxml store 0000:01:00.0 >"$work/store.xml"
domxml win10 $GPU >"$work/win10g.xml"
users=""; [ "$(id -u)" = 0 ] && command -v runuser >/dev/null && users=yes
# Root, denied what it does not own (as under an LSM or in a confined service): euid 0 still.
as_confined_root() { (cd / && setpriv --bounding-set -dac_override,-dac_read_search -- "$here/fakesys" "$1" -- env H="$bin" W="$work" sh -c "$2" 2>&1); }

## groups: an ordinary user gets the same listing as root (without the map columns when the map
## is root's). Both run with no map, state or run directory of this suite's.
if [ -n "$users" ]; then
	plain() { env -u VFIO_HOOK_CONFIG -u VFIO_HOOK_STATE_DIR -u VFIO_HOOK_LIBVIRT_RUN_DIR -u VFIO_HOOK_TEST_ROOT "$@"; }
	root_out=$(cd "$work" && plain "$here/fakesys" desktop -- "$bin" groups 2>/dev/null </dev/null)
	(cd / && plain runuser -u nobody -- "$here/fakesys" desktop -- "$bin" groups >"$work/stdout" 2>"$work/stderr")
	rc=$?
	check "groups as an ordinary user exits 0" 0 "$rc"
	check "groups as an ordinary user lists the same" "$root_out" "$(cat "$work/stdout")"
else
	skip "groups as an ordinary user" "needs root and runuser to switch user"
fi

## --check and status as an ordinary user: root's records (the state directory, 0700) and
## libvirt's status files (0600) are closed to them, and so is the disk's exclusive open. What
## they cannot see is named, --check promises no start, status shows "?" where it cannot know.
if [ -n "$users" ]; then
	reset; map "[vm win10]" "pci = 09:00.0 09:00.1 09:00.2 09:00.3" "[vm store]" "pci = 0000:01:00.0"
	out=$(on desktop '$H win10 prepare begin - <$W/win10g.xml; echo "rc=$?"')
	check "as a user: root's start recorded first" "rc=0" "$out"
	status linux 0000:01:00.0; chmod 600 "$work/run/linux.xml"
	chmod 755 "$work"; chmod 644 "$work/store.xml" "$work/win10g.xml" "$work/map.ini"
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
	out=$(as_user desktop '$H --check win10 --xml $W/win10g.xml | tail -n 1; echo "rc=$?"; $H status | tail -n 1
	[ -e $W/state ] || echo "no state directory"')
	check "as a user, no state directory: the start is promised, nothing is created" "$(printf '%s\n' \
		"the hook would start this VM" "rc=0" "no devices recorded" "no state directory")" "$out"
	chmod 700 "$work"
else
	skip "--check and status as an ordinary user" "needs root and runuser to switch user"
fi

## what root's files and other users' processes hide from a user
if [ -n "$users" ]; then
chmod 755 "$work"
chmod 644 "$work/store.xml" "$work/win10.xml"

## libvirt's run directory itself closed to the user (/run/libvirt/qemu mode 0711 or 0700: it may
## not be listed): which VMs run is unknown, not "none". Taken for no running VM, --check would
## promise the start without the eviction root plans (linux runs with the NVMe), and status would
## show in-use-by=- (nothing uses it) instead of ?. Root sees linux.
reset; map "[vm store]" "pci = 0000:01:00.0"; status linux 0000:01:00.0; chmod 644 "$work/run/linux.xml"; chmod 711 "$work/run"
out=$(on desktop '$H --check store --xml $W/store.xml 2>&1 | grep -c "evict 0000:01:00.0 (SSD 660P Series) from the running VM linux"')
check "holders_dir_closed: root sees linux use the NVMe (the premise)" "1" "$out"
out=$(as_user desktop '$H --check store --xml $W/store.xml 2>&1 | grep -cx "the hook would start this VM"' | tail -n 1)
check "holders_dir_closed: --check as a user does not promise a start it cannot judge (which VMs run is unknown)" "0" "$out"
out=$(as_user desktop '$H status 2>/dev/null | grep -c "^01:00.0 .*in-use-by=?"')
check "holders_dir_closed: status as a user shows in-use-by=? (it cannot know), not -" "1" "$out"
chmod 755 "$work/run"

## /proc/PID/fd of another user's process (root's Xorg, gdm's greeter, a QEMU run by
## libvirt-qemu) cannot be opened by the user: a failed opendir is not "no fds". Taken so, the
## DRM holder that makes root refuse the start would be unseen, and --check as the user would
## promise the start with no warning. Emulated: Xorg's fd directory is root's, mode 0500, as the
## kernel makes it.
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1"; iomem 90000000; rm -rf "$R/proc/1403"; chmod -R a+rX "$R"
chmod 500 "$R/proc/812/fd"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml | tail -n 1')
check "other_users_fds: root refuses, Xorg holds card0 (the premise)" "the hook would refuse to start this VM" "$out"
out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -cx "the hook would start this VM"' | tail -n 1)
check "other_users_fds: --check as a user does not promise a start (Xorg's fds are closed to it)" "0" "$out"
out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -c "warning: .*the open files of 1 process cannot be looked at"' | tail -n 1)
check "other_users_fds: --check as a user warns that other users' processes were not checked" "1" "$out"
out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep "warning: .*the open files of"; $H groups 2>&1 >/dev/null' | tail -n 2)
check "other_users_fds: the warnings of --check and groups, in one line each" "$(printf '%s\n' \
	"  warning: 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]): the open files of 1 process cannot be looked at: which of them use its nodes (the host's display, a running VM's QEMU) is not checked; run it as root to know" \
	"vfio-hook: the open files of 1 process cannot be looked at: a GPU drawn on there (the host's display) is not seen; run it as root to know")" "$out"

## /proc/iomem that the user may not read at all (mode 0400, as hardened kernels and some
## containers make it) is blind, not empty: seeing no line, and so no firmware framebuffer,
## --check as the user would promise the start that root refuses (efi-framebuffer in BAR 0), with
## no warning.
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1"; rm -rf "$R/proc/812" "$R/proc/1403"; chmod -R a+rX "$R"
chmod 400 "$R/proc/iomem"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml | tail -n 1')
check "iomem_closed: root refuses, the firmware framebuffer is in BAR 0 (the premise)" "the hook would refuse to start this VM" "$out"
out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -cx "the hook would start this VM"' | tail -n 1)
check "iomem_closed: --check as a user does not promise a start (/proc/iomem closed to it)" "0" "$out"
out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -e "warning: /proc/iomem" -e "the hook"' | tail -n 2)
check "iomem_closed: --check as a user names /proc/iomem and says the hook may start it" "$(printf '%s\n' \
	"  warning: /proc/iomem does not show its addresses to this process: whether a firmware framebuffer lies in 0000:0b:00.0's BARs (the host's display) is not checked; run it as root to know" \
	"the hook may start this VM: what the warnings above say was not checked")" "$out"

## an exclusive open refused to root (EACCES/EPERM: a device cgroup or an LSM denying root, as in
## a container or a confined libvirtd) leaves the disk "not checked", and the hook (root) refuses
## rather than guessing, as it does for an open that never returns: the kernel may hold a
## partition (a ZFS pool names no device in mountinfo). Taken for clear, the NVMe would move to
## vfio-pci with only a NOTICE in the log.
reset; map "[vm store]" "pci = 0000:01:00.0"
out=$(on desktop 'FAKEKERNEL_BUSY=nvme0n1p1:denied,nvme0n1:denied $H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"
eval "$NVME"')
check "root_unchecked_disk_moved: a disk root could not check is not taken from the host" "$(printf 'rc=1\nnvme=nvme')" "$out"
check "root_unchecked_disk_moved: a disk root could not check is not taken from the host" "$(printf 'rc=1\nnvme=nvme')" "$out"
out=$(on desktop 'FAKEKERNEL_BUSY=nvme0n1p1:denied,nvme0n1:denied $H store prepare begin - <$W/store.xml 2>&1 >/dev/null')
check "root_unchecked_disk_moved: the line says why" "vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 cannot be opened: whether the kernel holds it (a ZFS pool, or another exclusive user) is not checked; refusing rather than guessing (something confines vfio-hook even as root: a security module or a cgroup, see the audit log)" "$out"

chmod 700 "$work"
else
	skip "what root's files and other users' processes hide from a user" "needs root and runuser to switch user"
fi

## /proc/iomem shows every address as 0 to a non-root reader (and other users' /proc/PID/fd are
## unreadable): the firmware framebuffer in the BAR is then not seen, and '--check' (which a user
## runs to ask whether the start will work) and 'groups' say so rather than call the GPU free,
## while the hook (root) refuses it. Emulated: iomem as a user reads it. Root itself reads zeros
## only when confined (no CAP_SYS_ADMIN): it warns, naming what confines it, and starts (root
## denied /proc/iomem, below).
desktop; rm -rf "$R/proc/812" "$R/proc/1403"; sed -i 's/^\( *\)[0-9a-f]*-[0-9a-f]* :/\100000000-00000000 :/' "$R/proc/iomem"
map "[vm win10]" "pci = 0b:00.0 0b:00.1"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -c "the hook would start this VM"')
check "check_blind_without_root: as root (confined) --check says what the hook does: it starts, with a warning" "1" "$out"
blind="/proc/iomem does not show its addresses to this process: whether a firmware framebuffer lies in 0000:0b:00.0's BARs (the host's display) is not checked"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep "/proc/iomem"; $H groups 2>&1 >/dev/null')
check "check_blind_without_root: as root (confined) --check and groups warn, naming what confines it" \
	"$(printf '%s\n' "  warning: $blind (something confines vfio-hook even as root: a security module or a cgroup, see the audit log)" \
		"vfio-hook: /proc/iomem does not show its addresses to this process: a firmware framebuffer in a GPU's BARs (the host's display) is not seen; something confines vfio-hook even as root: a security module or a cgroup, see the audit log")" "$out"
if [ -n "$users" ]; then
	chmod -R a+rX "$R"; chmod 755 "$work"; chmod 644 "$work"/*.xml "$work/map.ini"
	out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -e "/proc/iomem" -e "the hook"; $H groups 2>&1 >/dev/null')
	chmod 700 "$work"
	check "check_blind_without_root: as a user --check warns and promises nothing, groups warns" \
		"$(printf '%s\n' "  warning: $blind; run it as root to know" "the hook may start this VM: what the warnings above say was not checked" \
			"vfio-hook: /proc/iomem does not show its addresses to this process: a firmware framebuffer in a GPU's BARs (the host's display) is not seen; run it as root to know")" "$out"
else
	skip "check_blind_without_root: as a user" "needs root and runuser to switch user"
fi

## root whose reads are denied
if [ -n "$users" ] && command -v setpriv >/dev/null; then
chmod 755 "$work"
chmod 644 "$work/store.xml" "$work/win10.xml"

## root denied its own ledger (an LSM, a confined shell) is not a user to whom root's records are
## closed: the hook, that same root, refuses the start on that very ledger, so --check and status
## fail as it does, and --check neither tells root to "run it as root" nor promises the start
## ("the hook may start this VM", rc 0), nor status shows owner=? with rc 0.
reset; map "[vm win10]" "pci = 09:00.0 09:00.1 09:00.2 09:00.3" "[vm store]" "pci = 0000:01:00.0"
chmod 644 "$work/win10g.xml"
out=$(on desktop '$H win10 prepare begin - <$W/win10g.xml >/dev/null 2>&1; echo "rc=$?"')
check "root_ledger_closed_check_promises: win10's start is recorded (the premise)" "rc=0" "$out"
chmod 000 "$work/state/ledger"
out=$(as_confined_root desktop '$H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"')
check "root_ledger_closed_check_promises: the hook (root) refuses on the ledger it cannot open (the premise)" "rc=1" "$out"
out=$(as_confined_root desktop '$H --check store --xml $W/store.xml >/dev/null 2>&1; echo "rc=$?"')
check "root_ledger_closed_check_promises: --check as root fails as the hook does" "rc=1" "$out"
out=$(as_confined_root desktop '$H --check store --xml $W/store.xml 2>&1 | grep -c -e "may start" -e "would start" -e "run it as root"')
check "root_ledger_closed_check_promises: --check as root neither promises nor tells root to run it as root" "0" "$out"
out=$(as_confined_root desktop '$H status >/dev/null 2>&1; echo "rc=$?"')
check "root_ledger_closed_check_promises: status as root fails on the ledger it cannot open" "rc=1" "$out"
chmod 600 "$work/state/ledger"

## root denied libvirt's status file (an LSM, a file of another owner without CAP_DAC_OVERRIDE)
## does not take the NVMe from under the running VM "other" whose raw disk is /dev/nvme0n1p2
## (QEMU opens it without O_EXCL: only the status file tells): the hook refuses rather than
## guessing, as for a disk it could not open, where a warning logged as a NOTICE would let it go
## on. --check as root neither promises the start nor tells root to "run it as root".
disk_status() { printf "<domstatus state='running' pid='4242'><domain type='kvm' id='3'><name>other</name><devices><disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/nvme0n1p2'/><target dev='vdb' bus='virtio'/><alias name='virtio-disk1'/></disk></devices></domain></domstatus>\n" >"$work/run/other.xml"; }
PRE='mkdir -p $UMOCKDEV_DIR/dev; : >$UMOCKDEV_DIR/dev/nvme0n1p2'
export PRE
reset; map "[vm store]" "pci = 0000:01:00.0"; disk_status
out=$(on desktop 'eval "$PRE"; $H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"; eval "$NVME"')
check "root_closed_status_file_disk_taken: root that reads the status file refuses (the premise)" "$(printf 'rc=1\nnvme=nvme')" "$out"
chown nobody "$work/run/other.xml"; chmod 600 "$work/run/other.xml"
out=$(as_confined_root desktop 'eval "$PRE"; $H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"; eval "$NVME"')
check "root_closed_status_file_disk_taken: the hook (root) does not take a disk a VM it could not read may use" "$(printf 'rc=1\nnvme=nvme')" "$out"
out=$(as_confined_root desktop 'eval "$PRE"; $H --check store --xml $W/store.xml 2>&1 | grep -c -e "would start" -e "may start" -e "run it as root"')
check "root_closed_status_file_disk_taken: --check as root promises nothing and does not tell root to be root" "0" "$out"

## a run directory closed to root (denied /run/libvirt/qemu) leaves which VMs run unknown, for
## root too, not "no running VM": the hook does not move the NVMe from under the running VM's
## disk, and --check as root does not say "the hook would start this VM" outright.
reset; map "[vm store]" "pci = 0000:01:00.0"; disk_status; chown nobody "$work/run"; chmod 700 "$work/run"
out=$(as_confined_root desktop 'eval "$PRE"; $H --check store --xml $W/store.xml 2>/dev/null | grep -c "would start"')
check "root_closed_run_dir_no_vm: --check as root does not promise a start it cannot judge" "0" "$out"
out=$(as_confined_root desktop 'eval "$PRE"; $H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"; eval "$NVME"')
check "root_closed_run_dir_no_vm: the hook (root) does not take a disk while which VMs run is unknown" "$(printf 'rc=1\nnvme=nvme')" "$out"
chown root "$work/run"; chmod 755 "$work/run"

## processes --check could not look at are warned about also when the display was found on the
## GPU: with host-display = handoff and fbcon on it, a running VM's QEMU (libvirt-qemu's process,
## its fds closed to the user) rendering on renderD128 is unseen by a user, whose --check then
## neither says "the hook would start this VM" nor stays silent; root refuses ("used by the
## running VM linux").
desktop; handoff_map; proc 4242 qemu-system-x86 /dev/dri/renderD128; status linux; chmod 644 "$work/run/linux.xml"
chmod -R a+rX "$R"; chmod 500 "$R/proc/4242/fd"
out=$(on desktop '$H --check win10 --xml $W/win10.xml | tail -n 1')
check "handoff_closed_vm_qemu: root refuses, linux's QEMU renders on the GPU (the premise)" "the hook would refuse to start this VM" "$out"
out=$(as_user desktop '$H --check win10 --xml $W/win10.xml 2>&1 | grep -cx "the hook would start this VM"' | tail -n 1)
check "handoff_closed_vm_qemu: --check as a user does not promise a start (a process on the GPU was closed to it)" "0" "$out"
out=$(as_user desktop '$H --check win10 --xml $W/win10.xml 2>&1 | grep -c "warning: .*the open files of 1 process cannot be looked at"' | tail -n 1)
check "handoff_closed_vm_qemu: --check as a user warns that another user's process was not checked" "1" "$out"

## a kernel thread's /proc/PID/fd (root's, 0500, no fds at all: PF_KTHREAD in /proc/PID/stat,
## empty cmdline) is not another user's closed process: counted, the dozens of them on any real
## machine would make --check as a user warn "N processes of other users" and refuse to promise,
## and groups warn, though no kernel thread can hold a node. Here the only closed /proc/PID/fd is
## kthreadd's.
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1"; iomem 90000000; rm -rf "$R/proc/812" "$R/proc/1403"; chmod -R a+rX "$R"
mkdir -p "$R/proc/2/fd"; echo kthreadd >"$R/proc/2/comm"; : >"$R/proc/2/cmdline"
echo "2 (kthreadd) S 0 0 0 0 -1 2129984 0 0 0 0 0 0 0 0 20 0 1 0 3 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 0 1 0 0 0 0 0 0 0 0 0 0 0 0 0" >"$R/proc/2/stat"
chmod 500 "$R/proc/2/fd"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml | tail -n 1')
check "kthread_counted_closed: root starts it (the premise)" "the hook would start this VM" "$out"
out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -c "the open files of"' | tail -n 1)
check "kthread_counted_closed: --check as a user does not count a kernel thread as another user's process" "0" "$out"
out=$(as_user desktop '$H groups 2>&1 >/dev/null')
check "kthread_counted_closed: groups as a user does not warn for a kernel thread" "" "$out"

## root denied /proc/iomem or another process's /proc/PID/fd (an LSM; emulated without
## CAP_DAC_OVERRIDE) warns, a decision (root_closed_display_taken): libvirtd's own
## AppArmor profile, which its hooks run under, denies reading the open files of processes
## under other profiles (snaps): refusing there would fail every GPU start on such a desktop.
## So root warns, naming what confines it, and --check as root says what the hook will do:
## start. (A GPU a hidden process still uses costs its unbind's deadline, and is rolled back.)
DGPU='for a in 0000:0b:00.0 0000:0b:00.1; do d=none; [ -e /sys/bus/pci/devices/$a/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/$a/driver)); printf "%s=%s " $a $d; done; echo'
export DGPU
confined="something confines vfio-hook even as root: a security module or a cgroup, see the audit log"
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1"; rm -rf "$R/proc/812" "$R/proc/1403"; chmod 000 "$R/proc/iomem"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml | tail -n 1')
check "root_closed_display_taken (iomem): root that reads it refuses (the premise)" "the hook would refuse to start this VM" "$out"
out=$(as_confined_root desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -e "/proc/iomem" -e "the hook"
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"')
check "root_closed_display_taken (iomem): confined root warns naming what confines it, and --check says what the hook does" \
	"$(printf '%s\n' "  warning: /proc/iomem does not show its addresses to this process: whether a firmware framebuffer lies in 0000:0b:00.0's BARs (the host's display) is not checked ($confined)" \
		"the hook would start this VM" "rc=0")" "$out"
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1"; iomem 90000000; rm -rf "$R/proc/1403"; chown -R nobody "$R/proc/812"; chmod 500 "$R/proc/812/fd"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml | tail -n 1')
check "root_closed_display_taken (Xorg): root that reads it refuses (the premise)" "the hook would refuse to start this VM" "$out"
out=$(as_confined_root desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -e "open files" -e "the hook"')
check "root_closed_display_taken (Xorg): confined root warns naming what confines it, and --check says what the hook does" \
	"$(printf '%s\n' "  warning: 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]): the open files of 1 process cannot be looked at: which of them use its nodes (the host's display, a running VM's QEMU) is not checked ($confined)" \
		"the hook would start this VM")" "$out"

chmod 700 "$work"
else
	skip "root whose reads are denied" "needs root, runuser and setpriv"
fi

tap_done
