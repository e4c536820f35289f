#!/bin/sh
# The host's display on a function to move (issue 11), on the desktop fixture: its boot GPU
# 0b:00.0 has fb0, card0 and renderD128, fbcon bound on vtcon1, and efi-framebuffer.0. The
# rest of the machine the hook looks at is a root directory built here ($VFIO_HOOK_TEST_ROOT):
# /proc (processes with their fd links and comm, /proc/iomem), the display-manager.service
# link, and the units the systemctl stand-in (tests/lib/bin) starts and stops. Signals go to
# the kill stand-in, which ends fake processes only: nothing here reaches the machine's own.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

. "$here/lib/display-env.sh"
DGIVEN="0000:0b:00.0=vfio-pci 0000:0b:00.1=vfio-pci vtcon1=0 efifb=none gdm=inactive"
NAME="0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590])"
FIX="set host-display = handoff in [vm win10] to let vfio-hook stop gdm.service while win10 runs, or give the host another GPU"

## detection, and the refusal by default
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1"
ALL="fbcon on tty1; the firmware framebuffer efi-framebuffer.0 in its BAR 0; Xorg pid 812 and gnome-shell pid 1403 use /dev/dri/card0, /dev/dri/renderD128"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$DSTATE"; ls $W/state; cat $VFIO_HOOK_TEST_ROOT/calls')
check "default: refused with the line naming fbcon, the firmware framebuffer, the processes and the fix; nothing changed" \
	"$(printf '%s\nrc=1\n%s\nlock' "vfio-hook: win10: $NAME drives the host's display ($ALL): $FIX" "$DORIG")" "$out"
out=$(on desktop '$H --check win10 --xml $W/win10.xml; echo "rc=$?"')
check "--check: the same refusal" "$(printf '%s\n  move %s\n  move %s\n  refuse: %s\n%s\nrc=1' "win10: 2 PCI functions" \
	"$NAME: amdgpu -> vfio-pci, IOMMU group 26" \
	"0000:0b:00.1 (Ellesmere HDMI Audio [Radeon RX 470/480 / 570/580/590]): snd_hda_intel -> vfio-pci, IOMMU group 26" \
	"$NAME drives the host's display ($ALL): $FIX" "the hook would refuse to start this VM")" "$out"
out=$(on desktop '$H groups | grep "^0b:00"')
check "groups marks the function that drives the display, and only it" "1 1" \
	"$(printf '%s\n' "$out" | grep -c 'host-display') $(printf '%s\n' "$out" | grep -c '^0b:00.0 .*boot_vga  host-display  vm=win10$')"
out=$(on desktop '$H groups --json' | python3 -c 'import json,sys; print([f["address"] for g in json.load(sys.stdin)["groups"] for f in g["functions"] if f["host_display"]])' 2>&1)
check "groups --json: host_display" "['0000:0b:00.0']" "$out"

# Each kind alone: fbcon only, the firmware framebuffer only, DRM holders only.
desktop; rm -rf "$R/proc/812" "$R/proc/1403"; iomem 90000000
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"')
check "fbcon alone" "$(printf '%s\nrc=1' "vfio-hook: win10: $NAME drives the host's display (fbcon on tty1): $FIX")" "$out"
desktop; rm -rf "$R/proc/812" "$R/proc/1403"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H win10 prepare begin - <$W/win10.xml; echo "rc=$?"')
check "a firmware framebuffer in a BAR alone" "$(printf '%s\nrc=1' "vfio-hook: win10: $NAME drives the host's display (the firmware framebuffer efi-framebuffer.0 in its BAR 0): $FIX")" "$out"
desktop; iomem 90000000
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H win10 prepare begin - <$W/win10.xml; echo "rc=$?"')
check "DRM holders alone, named by pid and command" "$(printf '%s\nrc=1' "vfio-hook: win10: $NAME drives the host's display (Xorg pid 812 and gnome-shell pid 1403 use /dev/dri/card0, /dev/dri/renderD128): $FIX")" "$out"
desktop; rm -rf "$R/proc/812" "$R/proc/1403"; iomem 90000000
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; $H win10 release end - </dev/null; cat $VFIO_HOOK_TEST_ROOT/calls')
check "nothing of the display on it (a framebuffer outside its BARs): it moves, no unit touched" "rc=0" "$out"
desktop; map "[vm win10]" "pci = 0b:00.0 0b:00.1" "display-manager = sddm"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>&1 | grep -o "stop [^ ]* while"')
check "display-manager = sddm: the line names sddm.service" "stop sddm.service while" "$out"

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

## a failure at every step: everything as it was
fails() { # NAME ENV EXPECTED-LINE-PATTERN
	desktop; handoff_map
	out=$(env $2 "$here/fakesys" desktop -- env H="$bin" W="$work" sh -c '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; ls $W/state' 2>&1)
	check "failure at $1: rc=1, everything as it was, no record left" "$(printf 'rc=1\n%s\nlock' "$DORIG")" "$out"
	case $(cat "$work/err") in $3) ok "failure at $1: the line says what" ;; *) not_ok "failure at $1: the line says what" "$(cat "$work/err")" ;; esac
}
fails "1 (stopping gdm)" FAKE_SYSTEMCTL_FAIL=stop:gdm.service "vfio-hook: win10: cannot hand the host's display on 0000:0b:00.0 (*) over: systemctl stop gdm.service failed; everything was put back as it was"
fails "1 (gdm does not stop in time)" FAKE_SYSTEMCTL_HANG=stop:gdm.service "*systemctl stop gdm.service did not finish in time; everything was put back as it was"
fails "4 (fbcon)" FAKEKERNEL_FAULT=vtbind:vtcon1:fail1 "*unbinding fbcon from vtcon1 Input/output error; everything was put back as it was"
fails "5 (the firmware framebuffer)" FAKEKERNEL_FAULT=punbind:efi-framebuffer.0:fail "*unbinding the firmware framebuffer efi-framebuffer.0 from efi-framebuffer Input/output error; everything was put back as it was"
fails "7 (the move: the second function refuses vfio-pci)" FAKEKERNEL_FAULT=probe:0000:0b:00.1:nobind1 "vfio-hook: win10: 0000:0b:00.1 (*): vfio-pci did not bind*; every device was put back on its driver"

## the way back fails: the ledger keeps it for restore
desktop; handoff_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; FAKE_SYSTEMCTL_FAIL=start:gdm.service $H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep ^display $W/state/ledger; $H status | grep "^win10"; $H restore win10; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
check "an undo step that fails stays recorded; status shows it; restore finishes" "$(printf '%s\n' "rc=0" \
	"0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=1 efifb=efi-framebuffer gdm=inactive" \
	"display 0000:0b:00.0 owner=win10 step=display-manager what=gdm.service driver=- state=done" \
	"win10 (not running): holds the host's display (gdm.service stopped)" "vfio-hook: win10: started gdm.service again" \
	"win10: restored" "rc=0" "$DORIG" "lock")" "$out"
check "the failed undo: one line, with the fix" "vfio-hook: win10: cannot give the host's display back (display-manager of 0000:0b:00.0): systemctl start gdm.service failed (it stays recorded: run 'vfio-hook restore win10' once the cause is gone)" "$(cat "$work/err")"

## killed in the middle of the hand-over: restore (or libvirt's release) brings it all back
for undo in "\$H restore win10 >/dev/null 2>&1" "\$H win10 release end failed </dev/null" "\$H restore --all >/dev/null 2>&1"; do
	desktop; handoff_map
	out=$(FAKEKERNEL_FAULT=punbind:efi-framebuffer.0:hang on desktop '
	$H win10 prepare begin - <$W/win10.xml 2>/dev/null & pid=$!
	i=0; while [ $i -lt 100 ] && [ ! -s $UMOCKDEV_DIR/fakekernel/hung.pid ]; do sleep 0.1; i=$((i+1)); done
	kill -9 $pid $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); wait $pid 2>/dev/null
	eval "$DSTATE"; grep -c ^display $W/state/ledger; FAKEKERNEL_FAULT= '"$undo"'; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
	check "SIGKILL mid-hand-over, then ${undo%% *} ${undo#* }: display back" "$(printf '%s\n' \
		"0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=0 efifb=efi-framebuffer gdm=inactive" 4 "rc=0" "$DORIG" "lock")" "$out"
done

## fbcon's or the firmware framebuffer's unbind stuck in the kernel: one deadline, not two
# Undoing the step would wait for the same lock: the start fails within its deadline, the rest
# is put back, and the step stays recorded for restore once the kernel lets go.
for stuck in "vtbind:vtcon1:vtcon:fbcon from vtcon1:bound fbcon to vtcon1 again" \
	"punbind:efi-framebuffer.0:framebuffer:the firmware framebuffer efi-framebuffer.0 from efi-framebuffer:bound efi-framebuffer.0 to efi-framebuffer again"; do
	IFS=: read -r fstep fdev lstep what again <<EOF
$stuck
EOF
	desktop; handoff_map
	out=$(FAKEKERNEL_FAULT=$fstep:$fdev:hang on desktop '
	s=$(date +%s%N); $H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; e=$(date +%s%N)
	[ $(( (e - s) / 1000000 )) -lt 3500 ] && echo "within one deadline" || echo "took $(( (e - s) / 1000000 )) ms"
	eval "$DSTATE"; grep ^display $W/state/ledger | grep -v state=done
	kill -9 $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); sleep 0.2
	FAKEKERNEL_FAULT= $H restore win10; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
	drv=-; [ "$lstep" = framebuffer ] && drv=efi-framebuffer
	check "$fstep stuck: fails within one deadline, the rest back, the step kept; restore ends it" "$(printf '%s\n' "rc=1" \
		"within one deadline" "$DORIG" "display 0000:0b:00.0 owner=win10 step=$lstep what=$fdev driver=$drv state=stuck" \
		"vfio-hook: win10: $again" "win10: restored" "rc=0" "$DORIG" "lock")" "$out"
	check "$fstep stuck: one line, with the fix" "vfio-hook: win10: cannot hand the host's display on $NAME over: unbinding $what did not finish in time; some steps could not be undone: run 'vfio-hook restore win10' when the cause is gone" "$(cat "$work/err")"
done

## NVIDIA's driver: persistenced and the modules, only when nothing else uses them
# 09:00.0 (nvidia) drives the display here: a process has /dev/nvidia0 open.
nv_desktop() {
	desktop; rm -rf "$R/proc/812"; proc 812 Xorg /dev/nvidia0 /dev/nvidiactl; echo active >"$R/units/nvidia-persistenced.service"
	map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" \
		"[vm win10]" "pci = gpu" "host-display = handoff"
}
NVMODS='for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do mkdir -p $UMOCKDEV_DIR/sys/module/$m; echo live >$UMOCKDEV_DIR/sys/module/$m/initstate; done'
NVSTATE='for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do [ -d /sys/module/$m ] && printf "%s " $m; done; echo "persistenced=$(cat $VFIO_HOOK_TEST_ROOT/units/nvidia-persistenced.service) gdm=$(cat $VFIO_HOOK_TEST_ROOT/units/gdm.service)"; eval "$STATE"'
export NVMODS NVSTATE
domxml win10 $GPU >"$work/nv.xml"
nv_desktop
out=$(on desktop "$NVMODS"'; $H win10 prepare begin - <$W/nv.xml; echo "rc=$?"; eval "$NVSTATE"; $H win10 release end - </dev/null; echo "rc=$?"; eval "$NVSTATE"; cat $VFIO_HOOK_TEST_ROOT/calls')
check "nvidia: persistenced stopped, modules unloaded in order, and all back in reverse" "$(printf '%s\n' "rc=0" \
	"persistenced=inactive gdm=inactive" "$VFIO" "rc=0" "nvidia nvidia_modeset nvidia_drm nvidia_uvm persistenced=active gdm=active" "$ORIG" \
	"systemctl is-active gdm.service" "systemctl stop gdm.service" "systemctl is-active nvidia-persistenced.service" \
	"systemctl stop nvidia-persistenced.service" "modprobe -r nvidia_drm" "modprobe -r nvidia_modeset" "modprobe -r nvidia_uvm" \
	"modprobe -r nvidia" "modprobe nvidia" "modprobe nvidia" "modprobe nvidia_uvm" "modprobe nvidia_modeset" "modprobe nvidia_drm" \
	"systemctl start nvidia-persistenced.service" "systemctl start gdm.service")" "$out"
nv_desktop
out=$(FAKE_MODPROBE_FAIL=-r:nvidia_uvm on desktop "$NVMODS"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; eval "$NVSTATE"; ls $W/state')
check "failure at 6 (a module will not unload): modules, persistenced, gdm back" "$(printf '%s\n' "rc=1" \
	"nvidia nvidia_modeset nvidia_drm nvidia_uvm persistenced=active gdm=active" "$ORIG" "lock")" "$out"
check "failure at 6: the line" "vfio-hook: win10: cannot hand the host's display on 0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]) over: modprobe -r nvidia_uvm failed; everything was put back as it was" "$(cat "$work/err")"
nv_desktop
out=$(FAKE_SYSTEMCTL_FAIL=stop:nvidia-persistenced.service on desktop "$NVMODS"'; $H win10 prepare begin - <$W/nv.xml 2>/dev/null; echo "rc=$?"; eval "$NVSTATE"')
check "failure at 3 (nvidia-persistenced): gdm back, modules untouched" "$(printf '%s\n' "rc=1" \
	"nvidia nvidia_modeset nvidia_drm nvidia_uvm persistenced=active gdm=active" "$ORIG")" "$out"
# Another function on nvidia (a second card): the modules stay; a built-in module is never unloaded.
nv_desktop
out=$(on desktop "$NVMODS"'; ln -s ../../../devices/pci0000:00/0000:00:03.2/0000:0b:00.0 $UMOCKDEV_DIR/sys/bus/pci/drivers/nvidia/0000:0b:00.0
$H win10 prepare begin - <$W/nv.xml; echo "rc=$?"; grep -c "^modprobe -r" $VFIO_HOOK_TEST_ROOT/calls; $H win10 release end - </dev/null')
check "another function uses NVIDIA's driver: no module unloaded" "$(printf 'rc=0\n0')" "$out"
nv_desktop
out=$(on desktop "$NVMODS"'; rm $UMOCKDEV_DIR/sys/module/nvidia_uvm/initstate
$H win10 prepare begin - <$W/nv.xml; echo "rc=$?"; grep "^modprobe -r" $VFIO_HOOK_TEST_ROOT/calls; $H win10 release end - </dev/null')
check "a built-in module is never unloaded" "$(printf '%s\n' "rc=0" "modprobe -r nvidia_drm" "modprobe -r nvidia_modeset" "modprobe -r nvidia")" "$out"

## map errors
for case in "host-display = maybe|host-display must be refuse or handoff, not \"maybe\"" \
	"host-display-kill = sometimes|host-display-kill must be yes or no, not \"sometimes\"" \
	"display-manager = -x|display-manager must be a systemd unit name (e.g. gdm.service), not \"-x\"" \
	"host-display-timeout = 0|host-display-timeout must be a whole number of seconds from 1 to 3600, not \"0\""; do
	map "[vm win10]" "pci = 0b:00.0 0b:00.1" "${case%%|*}"
	out=$(on desktop '$H --check win10 --xml $W/win10.xml; echo "rc=$?"')
	check "map: ${case%%|*}" "$(printf '%s\nrc=2' "$work/map.ini:3: ${case#*|}")" "$out"
done

tap_done
