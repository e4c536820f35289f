#!/bin/sh
# Adversarial scenarios (second round) for --check, status and groups run by an ordinary user,
# and for the hook (root) since its reads learned to tell "closed" from "absent". Root whose
# reads are denied (a security module, a device cgroup: emulated by dropping CAP_DAC_OVERRIDE
# and CAP_DAC_READ_SEARCH from the bounding set) must not be told "run it as root", must not
# take what it could not see for nothing there, and --check as root must say what the hook
# does. Each check says what must happen; a failing one is a finding.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/display-env.sh"

if [ "$(id -u)" != 0 ] || ! command -v runuser >/dev/null || ! command -v setpriv >/dev/null; then
	skip "attack-user2" "needs root, runuser and setpriv"
	tap_done
	exit 0
fi
# Root, denied what it does not own (as under an LSM or in a confined service): euid 0 still.
as_confined_root() { (cd / && setpriv --bounding-set -dac_override,-dac_read_search -- "$here/fakesys" "$1" -- env H="$bin" W="$work" sh -c "$2" 2>&1); }
chmod 755 "$work"
domxml store 0000:01:00.0 >"$work/store.xml"
chmod 644 "$work/store.xml" "$work/win10.xml"
NVME='d=none; [ -e /sys/bus/pci/devices/0000:01:00.0/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)); echo "nvme=$d"'
export NVME

## FINDING root_ledger_closed_check_promises: action_check() and action_status() take
## ledger_load()'s -EACCES for "root's records, closed to this user" whoever runs them. Root
## denied its own ledger (an LSM, a confined shell) gets an error line, then a warning telling
## root to "run it as root", "the hook may start this VM" and rc 0 from --check, and status
## shows owner=? with rc 0; the hook, same root, refuses the start on that very ledger.
reset; map "[vm win10]" "pci = 09:00.0 09:00.1 09:00.2 09:00.3" "[vm store]" "pci = 0000:01:00.0"
domxml win10 $GPU >"$work/win10g.xml"; chmod 644 "$work/win10g.xml"
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

## FINDING root_closed_status_file_disk_taken: holders_load() now knows a status file was closed
## (h.closed), for root too, but plan_build() only adds a warning (plan_unchecked), which the
## hook logs as a NOTICE and goes on. Root denied libvirt's status file (an LSM, a file of
## another owner without CAP_DAC_OVERRIDE) takes the NVMe from under the running VM "other"
## whose raw disk is /dev/nvme0n1p2 (QEMU opens it without O_EXCL: only the status file tells).
## The disk case ("refusing rather than guessing") is not applied here. --check as root tells
## root to "run it as root".
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

## FINDING root_closed_run_dir_no_vm: holders_load() marks a closed run directory only for
## geteuid() != 0; for root it stays -EACCES, which world_discover() turns into one warning and
## "no running VM". The hook (root, denied /run/libvirt/qemu) moves the NVMe from under the
## running VM's disk, and --check as root says "the hook would start this VM" outright.
reset; map "[vm store]" "pci = 0000:01:00.0"; disk_status; chown nobody "$work/run"; chmod 700 "$work/run"
out=$(as_confined_root desktop 'eval "$PRE"; $H --check store --xml $W/store.xml 2>/dev/null | grep -c "would start"')
check "root_closed_run_dir_no_vm: --check as root does not promise a start it cannot judge" "0" "$out"
out=$(as_confined_root desktop 'eval "$PRE"; $H store prepare begin - <$W/store.xml >/dev/null 2>&1; echo "rc=$?"; eval "$NVME"')
check "root_closed_run_dir_no_vm: the hook (root) does not take a disk while which VMs run is unknown" "$(printf 'rc=1\nnvme=nvme')" "$out"
chown root "$work/run"; chmod 755 "$work/run"

## FINDING handoff_closed_vm_qemu: check_display() warns about processes it could not look at
## only when display_detect() found nothing (r == 0). With host-display = handoff and fbcon on
## the GPU (r == 1), a running VM's QEMU (libvirt-qemu's process, its fds closed to the user)
## rendering on renderD128 is unseen: --check as a user says "the hook would start this VM",
## with no warning; root refuses ("used by the running VM linux").
desktop; handoff_map; proc 4242 qemu-system-x86 /dev/dri/renderD128; status linux; chmod 644 "$work/run/linux.xml"
chmod -R a+rX "$R"; chmod 500 "$R/proc/4242/fd"
out=$(on desktop '$H --check win10 --xml $W/win10.xml | tail -n 1')
check "handoff_closed_vm_qemu: root refuses, linux's QEMU renders on the GPU (the premise)" "the hook would refuse to start this VM" "$out"
out=$(as_user desktop '$H --check win10 --xml $W/win10.xml 2>&1 | grep -cx "the hook would start this VM"' | tail -n 1)
check "handoff_closed_vm_qemu: --check as a user does not promise a start (a process on the GPU was closed to it)" "0" "$out"
out=$(as_user desktop '$H --check win10 --xml $W/win10.xml 2>&1 | grep -c "warning: .*the open files of 1 process cannot be looked at"' | tail -n 1)
check "handoff_closed_vm_qemu: --check as a user warns that another user's process was not checked" "1" "$out"

## FINDING kthread_counted_closed: read_fds() counts every /proc/PID/fd it may not open, and a
## kernel thread's (root's, 0500, no fds at all: PF_KTHREAD in /proc/PID/stat, empty cmdline)
## is one: on any real machine dozens of them make --check as a user warn "N processes of
## other users" and refuse to promise, and groups warn, though no kernel thread can hold a node.
## Here the only closed /proc/PID/fd is kthreadd's.
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

## root_closed_display_taken (first a finding; now a decision): root denied /proc/iomem or
## another process's /proc/PID/fd (an LSM; emulated without CAP_DAC_OVERRIDE). libvirtd's own
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
tap_done
