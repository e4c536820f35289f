#!/bin/sh
# The display hand-over on NVIDIA's driver: persistenced, the modules, and the nodes of other GPUs.
# sources: handoff step-display display engine start stop plan
# 09:00.0 (nvidia) drives the host's display: Xorg (gdm's) has /dev/nvidia0 open. On the
# desktop fixture and the root directory of tests/lib/display-env.sh (see tests/display.sh):
# nvidia-persistenced stopped and started again, the modules unloaded in order and loaded back
# in reverse (never a built-in one, nor while another function uses them), and a process on
# another NVIDIA GPU's node left alone. The hand-over in general is in tests/handoff.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

. "$here/lib/display-env.sh"
domxml win10 $GPU >"$work/nv.xml"
# NVIDIA: 09:00.0 (nvidia) drives the display: Xorg (gdm's) has /dev/nvidia0 open.
nvinfo() { # ADDR MINOR: what NVIDIA's driver says of a GPU it drives
	mkdir -p "$R/proc/driver/nvidia/gpus/$1"; printf 'Model: \t\t NVIDIA GeForce\nDevice Minor: \t %s\n' "$2" >"$R/proc/driver/nvidia/gpus/$1/information"
}
nv_desktop() { # [KEY = VALUE]... for [vm win10]
	desktop; rm -rf "$R/proc/812"; proc 812 Xorg /dev/nvidia0 /dev/nvidiactl; echo active >"$R/units/nvidia-persistenced.service"
	map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" \
		"[vm win10]" "pci = gpu" "host-display = handoff" "$@"
}
NVMODS='for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do mkdir -p $UMOCKDEV_DIR/sys/module/$m; echo live >$UMOCKDEV_DIR/sys/module/$m/initstate; done'
NVSTATE='for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do [ -d /sys/module/$m ] && printf "%s " $m; done; echo "persistenced=$(cat $VFIO_HOOK_TEST_ROOT/units/nvidia-persistenced.service) gdm=$(cat $VFIO_HOOK_TEST_ROOT/units/gdm.service)"; eval "$STATE"'
# A second NVIDIA GPU the host keeps (0b:00.0 on nvidia too).
NV2='ln -s ../../../devices/pci0000:00/0000:00:03.2/0000:0b:00.0 $UMOCKDEV_DIR/sys/bus/pci/drivers/nvidia/0000:0b:00.0'
export NVMODS NVSTATE NV2

## NVIDIA's driver: persistenced and the modules, only when nothing else uses them; the GPU's
## driver loaded again by its modalias (as udev loads drivers) before its probe, the rest after
nv_desktop
out=$(on desktop "$NVMODS"'; $H win10 prepare begin - <$W/nv.xml; echo "rc=$?"; eval "$NVSTATE"; $H win10 release end - </dev/null; echo "rc=$?"; eval "$NVSTATE"; cat $VFIO_HOOK_TEST_ROOT/calls')
check "nvidia: persistenced stopped, modules unloaded in order, and all back in reverse" "$(printf '%s\n' "rc=0" \
	"persistenced=inactive gdm=inactive" "$VFIO" "rc=0" "nvidia nvidia_modeset nvidia_drm nvidia_uvm persistenced=active gdm=active" "$ORIG" \
	"systemctl is-active gdm.service" "systemctl stop gdm.service" "systemctl is-active nvidia-persistenced.service" \
	"systemctl stop nvidia-persistenced.service" "modprobe -r nvidia_drm" "modprobe -r nvidia_modeset" "modprobe -r nvidia_uvm" \
	"modprobe -r nvidia" "modprobe -b pci:v000010DEd00001E84sv00001043sd00008707bc03sc00i00" "modprobe nvidia" "modprobe nvidia_uvm" "modprobe nvidia_modeset" "modprobe nvidia_drm" \
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

## nvidia-persistenced is stopped before the wait until no process holds the GPU's nodes: on
## NVIDIA's driver every /dev/nvidia* holder counts, and nvidia-persistenced keeps /dev/nvidia0
## and /dev/nvidiactl open (that is what it is for). Waited for first, it would make the
## hand-over always fail naming nvidia-persistenced (with host-display-kill = yes, be SIGKILLed
## instead of stopped).
nv_desktop; nvinfo 0000:09:00.0 0; proc 700 nvidia-persistenced /dev/nvidia0 /dev/nvidiactl; echo 700 >"$R/units/nvidia-persistenced.service.pids"
out=$(on desktop "$NVMODS"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; eval "$NVSTATE"; grep -c "^kill" $VFIO_HOOK_TEST_ROOT/calls')
check "persistenced_blocks_its_own_step: nvidia-persistenced running: the hand-over stops it and succeeds" \
	"$(printf '%s\n' "rc=0" "persistenced=inactive gdm=inactive" "$VFIO" 0)" "$out"

## on NVIDIA's driver the handed-over GPU's nodes are its own /dev/nvidiaN (the minor the
## driver gives in /proc/driver/nvidia), not /dev/nvidia1 of another NVIDIA GPU the host keeps
## (the modules stay loaded for it): a CUDA job on that other GPU neither makes the start fail
## nor, with host-display-kill = yes, gets SIGTERM/SIGKILL from a VM start that has nothing to
## do with it.
nv_desktop; nvinfo 0000:09:00.0 0; proc 3000 cuda-job /dev/nvidia1
out=$(on desktop "$NVMODS; $NV2"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "other_nvidia_gpu_users_killed: a process on another NVIDIA GPU does not block the hand-over" \
	"$(printf '%s\n' "rc=0" "$VFIO")" "$out"
nv_desktop "host-display-kill = yes"; nvinfo 0000:09:00.0 0; proc 3000 cuda-job /dev/nvidia1
out=$(on desktop "$NVMODS; $NV2"'; $H win10 prepare begin - <$W/nv.xml 2>/dev/null; echo "rc=$?"; grep "^kill" $VFIO_HOOK_TEST_ROOT/calls; [ -d $VFIO_HOOK_TEST_ROOT/proc/3000 ] && echo "cuda-job alive"')
check "other_nvidia_gpu_users_killed: host-display-kill = yes never signals a process of another GPU" \
	"$(printf '%s\n' "rc=0" "cuda-job alive")" "$out"

# Without the driver's word on the minor, /dev/nvidia1 may be this GPU's: it blocks, the line
# says why, and it is never signalled.
nv_desktop "host-display-kill = yes"; nvinfo 0000:09:00.0 0; proc 3000 cuda-job /dev/nvidia1; rm -rf "$R/proc/driver"
out=$(on desktop "$NVMODS; $NV2"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; grep "^kill" $VFIO_HOOK_TEST_ROOT/calls; [ -d $VFIO_HOOK_TEST_ROOT/proc/3000 ] && echo "cuda-job alive"; eval "$STATE"')
check "other_nvidia_gpu_users_killed: minor unknown: refused, the other GPU's user never signalled" \
	"$(printf '%s\n' "rc=1" "cuda-job alive" "$ORIG")" "$out"
case $(cat "$work/err") in
*"cuda-job pid 3000 uses /dev/nvidia1"*"the device minor of 0000:09:00.0 is unknown"*) ok "other_nvidia_gpu_users_killed: the line says the minor is unknown" ;;
*) not_ok "other_nvidia_gpu_users_killed: the line says the minor is unknown" "$(cat "$work/err")" ;;
esac

tap_done
