#!/bin/sh
# Adversarial scenarios for --check and status run by an ordinary user: whatever root's files,
# libvirt's and other users' processes hide from them must be named (a warning, "the hook may
# start this VM", "?" in status), never taken for "nothing there". Each case is a state of the
# world where root (the hook) sees what the user does not; every check says what must happen,
# and a failing one is a finding. The user is nobody (runuser), as in tests/hook.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/display-env.sh"

if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null; then
	skip "attack-user" "needs root and runuser to switch user"
	tap_done
	exit 0
fi
chmod 755 "$work"
domxml store 0000:01:00.0 >"$work/store.xml"
chmod 644 "$work/store.xml" "$work/win10.xml"

## FINDING holders_dir_closed: libvirt's run directory itself closed to the user (/run/libvirt/qemu
## mode 0711 or 0700: it may not be listed). holders_load fails with EACCES, world_discover only
## warns "cannot read running domains" and goes on with no running VM and n_closed = 0: --check
## promises the start without the eviction root plans (linux runs with the NVMe), and status
## shows in-use-by=- (nothing uses it) instead of ?. Root sees linux.
reset; map "[vm store]" "pci = 0000:01:00.0"; status linux 0000:01:00.0; chmod 644 "$work/run/linux.xml"; chmod 711 "$work/run"
out=$(on desktop '$H --check store --xml $W/store.xml 2>&1 | grep -c "evict 0000:01:00.0 (SSD 660P Series) from the running VM linux"')
check "holders_dir_closed: root sees linux use the NVMe (the premise)" "1" "$out"
out=$(as_user desktop '$H --check store --xml $W/store.xml 2>&1 | grep -cx "the hook would start this VM"' | tail -n 1)
check "holders_dir_closed: --check as a user does not promise a start it cannot judge (which VMs run is unknown)" "0" "$out"
out=$(as_user desktop '$H status 2>/dev/null | grep -c "^01:00.0 .*in-use-by=?"')
check "holders_dir_closed: status as a user shows in-use-by=? (it cannot know), not -" "1" "$out"
chmod 755 "$work/run"

## FINDING other_users_fds: /proc/PID/fd of another user's process (root's Xorg, gdm's greeter,
## a QEMU run by libvirt-qemu) cannot be opened by the user: read_fds() takes the failed
## opendir for "no fds". The DRM holder that makes root refuse the start is then unseen and
## --check as the user promises the start, with no warning. Emulated: Xorg's fd directory is
## root's, mode 0500, as the kernel makes it.
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

## FINDING iomem_closed: /proc/iomem that the user may not read at all (mode 0400, as hardened
## kernels and some containers make it): display_iomem_blind() sees no line and says "not
## blind", fw_bar() finds no firmware framebuffer: --check as the user promises the start that
## root refuses (efi-framebuffer in BAR 0), with no warning.
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

## FINDING root_unchecked_disk_moved: the guard now knows when an exclusive open was refused
## (EACCES/EPERM: a device cgroup or an LSM denying root, as in a container or a confined
## libvirtd) and calls the disk "not checked", but the hook itself (root) takes that for
## clear: the NVMe moves to vfio-pci with only a NOTICE in the log ("opening it needs root",
## said to root), though the kernel may hold a partition (a ZFS pool names no device in
## mountinfo). The stuck-open case refuses "rather than guessing"; this one guesses.
reset; map "[vm store]" "pci = 0000:01:00.0"
out=$(on desktop 'FAKEKERNEL_BUSY=nvme0n1p1:denied,nvme0n1:denied $H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"
d=none; [ -e /sys/bus/pci/devices/0000:01:00.0/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)); echo "nvme=$d"')
check "root_unchecked_disk_moved: a disk root could not check is not taken from the host" "$(printf 'rc=1\nnvme=nvme')" "$out"
check "root_unchecked_disk_moved: a disk root could not check is not taken from the host" "$(printf 'rc=1\nnvme=nvme')" "$out"
out=$(on desktop 'FAKEKERNEL_BUSY=nvme0n1p1:denied,nvme0n1:denied $H store prepare begin - <$W/store.xml 2>&1 >/dev/null')
check "root_unchecked_disk_moved: the line says why" "vfio-hook: store: 0000:01:00.0 (SSD 660P Series): /dev/nvme0n1p1 cannot be opened: whether the kernel holds it (a ZFS pool, or another exclusive user) is not checked; refusing rather than guessing (something confines vfio-hook even as root: a security module or a cgroup, see the audit log)" "$out"

chmod 700 "$work"
tap_done
