#!/bin/sh
# The display hand-over (host-display = handoff): its steps in order, recorded, and all given back.
# sources: handoff step-display display engine start stop plan ledger report
# On the desktop fixture and the root directory of tests/lib/display-env.sh (see
# tests/display.sh): the display manager stopped and started again, the processes that do not
# let go, the display following the GPU to the VM still using it, and what the hand-over must
# never signal. systemctl, kill and modprobe are the stand-ins in tests/lib/bin: nothing
# reaches the machine running the tests. NVIDIA's driver is in tests/handoff-nvidia.sh; a step
# that fails or is cut short in tests/handoff-faults.sh, one stuck in the kernel in
# tests/handoff-stuck.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

. "$here/lib/display-env.sh"
DGIVEN="0000:0b:00.0=vfio-pci 0000:0b:00.1=vfio-pci vtcon1=0 efifb=none gdm=inactive"
NAME="0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590])"
ALL="fbcon on tty1; the firmware framebuffer efi-framebuffer.0 in its BAR 0; Xorg pid 812 and gnome-shell pid 1403 use /dev/dri/card0, /dev/dri/renderD128"

## the hand-over, and back
desktop; handoff_map
out=$(on desktop '$H --check win10 --xml $W/win10.xml; echo "rc=$?"')
check "--check prints the whole sequence, in order" "$(printf '%s\n' "win10: 2 PCI functions" \
	"  hand over the host's display (host-display = handoff), in this order:" \
	"    $NAME drives it: $ALL" \
	"    1. stop gdm.service if it runs (the display manager)" \
	"    2. nvidia-persistenced: nothing to stop (not on NVIDIA's driver)" \
	"    3. wait up to 2 s until no process uses /dev/dri/card0, /dev/dri/renderD128; then fail naming what is left (host-display-kill = no)" \
	"    4. unbind fbcon from vtcon1" \
	"    5. unbind the firmware framebuffer efi-framebuffer.0 from efi-framebuffer" \
	"    6. NVIDIA modules: nothing to unload" \
	"    7. move to vfio-pci (below); when the VM stops, all of it is undone in reverse" \
	"  move $NAME: amdgpu -> vfio-pci, IOMMU group 26" \
	"  move 0000:0b:00.1 (Ellesmere HDMI Audio [Radeon RX 470/480 / 570/580/590]): snd_hda_intel -> vfio-pci, IOMMU group 26" \
	"the hook would start this VM")
rc=0" "$out"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$DSTATE"; grep ^display $W/state/ledger; $H status | grep "^win10"
$H win10 started begin - </dev/null; $H win10 release end destroyed </dev/null; echo "rc=$?"; eval "$DSTATE"; ls $W/state; cat $VFIO_HOOK_TEST_ROOT/calls')
check "handoff: each step recorded in order, status shows it, release gives all back" "$(printf '%s\n' "rc=0" "$DGIVEN" \
	"display 0000:0b:00.0 owner=win10 step=display-manager what=gdm.service driver=- state=done" \
	"display 0000:0b:00.0 owner=win10 step=wait what=- driver=- state=done" \
	"display 0000:0b:00.0 owner=win10 step=vtcon what=vtcon1 driver=- state=done" \
	"display 0000:0b:00.0 owner=win10 step=framebuffer what=efi-framebuffer.0 driver=efi-framebuffer state=done" \
	"win10 (starting): 0000:0b:00.0(moved, was amdgpu) 0000:0b:00.1(moved, was snd_hda_intel) holds the host's display (gdm.service stopped, vtcon1 unbound, efi-framebuffer.0 unbound)" \
	"rc=0" "$DORIG" "lock" "systemctl is-active gdm.service" "systemctl stop gdm.service" "systemctl start gdm.service")" "$out"

# gdm not running: nothing is stopped, so nothing is started again.
desktop; handoff_map; echo inactive >"$R/units/gdm.service"; rm -rf "$R/proc/812" "$R/proc/1403"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; $H win10 release end - </dev/null; eval "$DSTATE"; cat $VFIO_HOOK_TEST_ROOT/calls')
check "a display manager that does not run is left alone" "$(printf '%s\n' "rc=0" \
	"0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=1 efifb=efi-framebuffer gdm=inactive" "systemctl is-active gdm.service")" "$out"

## the GPU stays with another running VM: so does the display, until the last one stops
# win10's start handed the display over; linux runs with the GPU's group when win10 stops (a
# hand-over by eviction or give-back ends the same way): linux owns the GPU and its display
# steps, gdm stays stopped, and linux's stop brings the display back.
desktop; status linux 0000:0b:00.0 0000:0b:00.1; mv "$work/run/linux.xml" "$work/linux-status.xml"; map "[options]" "timeout = 2" "[vm win10]" "pci = 0b:00.0 0b:00.1" "host-display = handoff" "[vm linux]" "pci = 0b:00.0 0b:00.1" "host-display = handoff"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - </dev/null
cp $W/linux-status.xml $W/run/linux.xml
$H win10 release end - </dev/null; echo "rc=$?"; eval "$DSTATE"; grep -c "^display 0000:0b:00.0 owner=linux" $W/state/ledger; $H status | grep "^linux"
rm $W/run/linux.xml; $H linux release end - </dev/null; echo "rc=$?"; eval "$DSTATE"; ls $W/state; grep -c "systemctl stop" $VFIO_HOOK_TEST_ROOT/calls' 2>&1)
check "display steps follow the GPU to the VM still using it; back when it stops too" "$(printf '%s\n' "rc=0" "$DGIVEN" 4 \
	"linux (running): 0000:0b:00.0(moved, was amdgpu) 0000:0b:00.1(moved, was snd_hda_intel) holds the host's display (gdm.service stopped, vtcon1 unbound, efi-framebuffer.0 unbound)" \
	"rc=0" "$DORIG" "lock" 1)" "$out"

## a process that does not let go
desktop; handoff_map; proc 2000 steam /dev/dri/card0
out=$(on desktop 't0=$(date +%s); $H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; t=$(( $(date +%s) - t0 )); [ $t -le 6 ] && echo "in time"; eval "$DSTATE"; ls $W/state')
check "a survivor, kill off: the start fails in time naming it, all put back" "$(printf '%s\n' \
	"vfio-hook: win10: cannot hand the host's display on $NAME over: steam pid 2000 uses /dev/dri/card0 2 s after the display manager stopped; everything was put back as it was (stop them, or set host-display-kill = yes)" \
	"rc=1" "in time" "$DORIG" "lock")" "$out"
desktop; handoff_map "host-display-kill = yes"; proc 2000 steam /dev/dri/card0; touch "$R/proc/2000/ignore-TERM"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; eval "$DSTATE"; grep ^kill $VFIO_HOOK_TEST_ROOT/calls; $H win10 release end - </dev/null; eval "$DSTATE"')
check "host-display-kill = yes: SIGTERM, then SIGKILL, and the start goes on" "$(printf '%s\n' "rc=0" "$DGIVEN" "kill TERM 2000" "kill KILL 2000" "$DORIG")" "$out"

## host-display-kill = yes signals the processes left on the GPU's nodes, never a running VM's
## QEMU: here linux runs (libvirt's status file, pid 4242) and its QEMU renders on the host GPU
## (virtio-gpu with virgl/venus holds renderD128). SIGTERM, then SIGKILL, would destroy another
## running VM by this VM's start: the start is refused, naming the VM.
desktop; handoff_map "host-display-kill = yes"; proc 4242 qemu-system-x86 /dev/dri/renderD128; touch "$R/proc/4242/ignore-TERM"
status linux
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "^kill" $VFIO_HOOK_TEST_ROOT/calls')
check "running_vm_qemu_killed: a running VM's QEMU on the GPU is never signalled; the start is refused, all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG" 0)" "$out"
check "running_vm_qemu_killed: the line names the VM" "vfio-hook: win10: 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]) is used by the running VM linux (its QEMU, pid 4242, has /dev/dri/renderD128 open): shut linux down first, or give it another GPU to render on" "$(cat "$work/err")"

## a VM started during the wait (its QEMU rendering on the GPU's renderD128) is a running VM too:
## the wait reads the running VMs again each pass. Read once, before the hand-over, they would
## leave it a plain leftover process, and host-display-kill = yes would signal it.
desktop; handoff_map "host-display-kill = yes"; proc 4242 qemu-system-x86 /dev/dri/renderD128; touch "$R/proc/4242/ignore-TERM"
mkdir -p "$work/later"; mv "$R/proc/4242" "$work/later/4242"; status linux; mv "$work/run/linux.xml" "$work/later/linux.xml"
proc 999 slow-client /dev/dri/card0 # lets go of the GPU by itself, 1 s after the start began
out=$(on desktop '( sleep 0.3; mv $W/later/linux.xml $W/run/linux.xml; mv $W/later/4242 $VFIO_HOOK_TEST_ROOT/proc/4242; sleep 0.7; rm -r $VFIO_HOOK_TEST_ROOT/proc/999 ) &
$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; wait; eval "$DSTATE"; grep -c "^kill.* 4242" $VFIO_HOOK_TEST_ROOT/calls')
check "vm_started_during_wait: a VM's QEMU that appears during the wait is never signalled; all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG" 0)" "$out"
check "vm_started_during_wait: the line names the VM" "yes" "$(grep -q "running VM linux (its QEMU, pid 4242" "$work/err" && echo yes || cat "$work/err")"

## the display manager another VM's record says it stopped, started again by hand since: stopped and recorded again
desktop; map "[options]" "timeout = 2" "[vm win10]" "pci = 0b:00.0 0b:00.1" "host-display = handoff"
mkdir -p "$work/state"; chmod 700 "$work/state"
printf '%s\n' "vfio-hook-ledger 1" "display 0000:09:00.0 owner=other step=display-manager what=gdm.service driver=- state=done" \
	"func 0000:09:00.0 owner=other driver=nvidia override= state=moved" >"$work/state/ledger"
chmod 600 "$work/state/ledger"
printf "<domstatus state='running' pid='4343'><domain type='kvm' id='4'><name>other</name><devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></source></hostdev></devices></domain></domstatus>\n" >"$work/run/other.xml"
out=$(on desktop 'echo 0000:09:00.0 >/sys/bus/pci/devices/0000:09:00.0/driver/unbind
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$DSTATE"; grep -c "owner=win10 step=display-manager what=gdm.service" $W/state/ledger')
check "a display manager started by hand after another VM stopped it: this start stops it again, and records it" \
	"$(printf '%s\n' "rc=0" "$DGIVEN" "1")" "$out"

## a QEMU that is no VM of libvirt's system instance (qemu:///session) on the GPU: never signalled, named
desktop; handoff_map "host-display-kill = yes"
proc 2222 qemu-system-x86 /dev/dri/renderD128
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "kill.* 2222" $VFIO_HOOK_TEST_ROOT/calls')
check "a session VM's QEMU on the GPU: refused, never signalled" "$(printf '%s\n' "rc=1" "$DORIG" "0")" "$out"
check "a session VM's QEMU on the GPU: the line names it" \
	"vfio-hook: win10: $NAME is used by a QEMU that is no VM of libvirt's system instance (pid 2222, has /dev/dri/renderD128 open: a qemu:///session VM, or one started by hand): shut it down first, or give it another GPU to render on" \
	"$(head -n1 "$work/err")"

tap_done
