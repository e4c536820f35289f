#!/bin/sh
# Adversarial scenarios for the host display hand-over (issue 11): detection, the hand-over's
# steps and their records, on the desktop fixture and a root directory built here as
# tests/display.sh builds it ($VFIO_HOOK_TEST_ROOT: /proc, units, the display-manager.service
# link). systemctl, kill and modprobe are the stand-ins in tests/lib/bin: nothing reaches the
# machine running the tests. Every check says what must happen; a failing one is a finding.
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
nv_desktop() {
	desktop; rm -rf "$R/proc/812"; proc 812 Xorg /dev/nvidia0 /dev/nvidiactl; echo active >"$R/units/nvidia-persistenced.service"
	nvinfo 0000:09:00.0 0
	map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" \
		"[vm win10]" "pci = gpu" "host-display = handoff" "$@"
}
NVMODS='for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do mkdir -p $UMOCKDEV_DIR/sys/module/$m; echo live >$UMOCKDEV_DIR/sys/module/$m/initstate; done'
NVSTATE='for m in nvidia nvidia_modeset nvidia_drm nvidia_uvm; do [ -d /sys/module/$m ] && printf "%s " $m; done; echo "persistenced=$(cat $VFIO_HOOK_TEST_ROOT/units/nvidia-persistenced.service) gdm=$(cat $VFIO_HOOK_TEST_ROOT/units/gdm.service)"; eval "$STATE"'
# A second NVIDIA GPU the host keeps (0b:00.0 on nvidia too, as in tests/display.sh).
NV2='ln -s ../../../devices/pci0000:00/0000:00:03.2/0000:0b:00.0 $UMOCKDEV_DIR/sys/bus/pci/drivers/nvidia/0000:0b:00.0'
export NVMODS NVSTATE NV2

## FINDING persistenced_blocks_its_own_step: step 2 (wait until no process holds the GPU's
## nodes) runs before step 3 (stop nvidia-persistenced), and on NVIDIA's driver every
## /dev/nvidia* holder counts: nvidia-persistenced keeps /dev/nvidia0 and /dev/nvidiactl open
## (that is what it is for), so with it running the hand-over always fails at step 2 naming
## nvidia-persistenced (with host-display-kill = yes it is SIGKILLed instead of stopped).
nv_desktop; proc 700 nvidia-persistenced /dev/nvidia0 /dev/nvidiactl; echo 700 >"$R/units/nvidia-persistenced.service.pids"
out=$(on desktop "$NVMODS"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; eval "$NVSTATE"; grep -c "^kill" $VFIO_HOOK_TEST_ROOT/calls')
check "persistenced_blocks_its_own_step: nvidia-persistenced running: the hand-over stops it and succeeds" \
	"$(printf '%s\n' "rc=0" "persistenced=inactive gdm=inactive" "$VFIO" 0)" "$out"

## FINDING other_nvidia_gpu_users_killed: on NVIDIA's driver node_of() counts every /dev/nvidia*
## as the handed-over GPU's, also /dev/nvidia1 of another NVIDIA GPU the host keeps (the modules
## stay loaded for it). A CUDA job on that other GPU makes the start fail, or with
## host-display-kill = yes gets SIGTERM/SIGKILL from a VM start that has nothing to do with it.
nv_desktop; proc 3000 cuda-job /dev/nvidia1
out=$(on desktop "$NVMODS; $NV2"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "other_nvidia_gpu_users_killed: a process on another NVIDIA GPU does not block the hand-over" \
	"$(printf '%s\n' "rc=0" "$VFIO")" "$out"
nv_desktop "host-display-kill = yes"; proc 3000 cuda-job /dev/nvidia1
out=$(on desktop "$NVMODS; $NV2"'; $H win10 prepare begin - <$W/nv.xml 2>/dev/null; echo "rc=$?"; grep "^kill" $VFIO_HOOK_TEST_ROOT/calls; [ -d $VFIO_HOOK_TEST_ROOT/proc/3000 ] && echo "cuda-job alive"')
check "other_nvidia_gpu_users_killed: host-display-kill = yes never signals a process of another GPU" \
	"$(printf '%s\n' "rc=0" "cuda-job alive")" "$out"

# Without the driver's word on the minor, /dev/nvidia1 may be this GPU's: it blocks, the line
# says why, and it is never signalled.
nv_desktop "host-display-kill = yes"; proc 3000 cuda-job /dev/nvidia1; rm -rf "$R/proc/driver"
out=$(on desktop "$NVMODS; $NV2"'; $H win10 prepare begin - <$W/nv.xml 2>$W/err; echo "rc=$?"; grep "^kill" $VFIO_HOOK_TEST_ROOT/calls; [ -d $VFIO_HOOK_TEST_ROOT/proc/3000 ] && echo "cuda-job alive"; eval "$STATE"')
check "other_nvidia_gpu_users_killed: minor unknown: refused, the other GPU's user never signalled" \
	"$(printf '%s\n' "rc=1" "cuda-job alive" "$ORIG")" "$out"
case $(cat "$work/err") in
*"cuda-job pid 3000 uses /dev/nvidia1"*"the device minor of 0000:09:00.0 is unknown"*) ok "other_nvidia_gpu_users_killed: the line says the minor is unknown" ;;
*) not_ok "other_nvidia_gpu_users_killed: the line says the minor is unknown" "$(cat "$work/err")" ;;
esac

## FINDING is_active_timeout_means_inactive: step_unit() treats any non-zero result of
## 'systemctl is-active' as "not running", a deadline that expired included: with systemd slow
## to answer, gdm is never stopped (nor recorded), and the wait then fails naming gdm's own
## processes "after the display manager stopped", or with host-display-kill = yes SIGTERMs
## Xorg and gnome-shell under a running gdm and moves the GPU while gdm is active.
desktop; handoff_map "host-display-kill = yes"
out=$(FAKE_SYSTEMCTL_HANG=is-active:gdm.service on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "^kill" $VFIO_HOOK_TEST_ROOT/calls')
check "is_active_timeout_means_inactive: is-active that does not answer: the start fails, nothing signalled, all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG" 0)" "$out"
case $(cat "$work/err") in
*"systemctl is-active gdm.service did not finish in time"*) ok "is_active_timeout_means_inactive: the line says is-active did not answer" ;;
*) not_ok "is_active_timeout_means_inactive: the line says is-active did not answer" "$(cat "$work/err")" ;;
esac

# systemctl that fails otherwise (no systemd bus: status 1) tells nothing either.
desktop; handoff_map
out=$(FAKE_SYSTEMCTL_FAIL=is-active:gdm.service on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"')
check "is_active_timeout_means_inactive: is-active that fails: the start fails, all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG")" "$out"
check "is_active_timeout_means_inactive: its line" "vfio-hook: win10: cannot hand the host's display on 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]) over: systemctl is-active gdm.service failed (check that systemd answers: systemctl status gdm.service); everything was put back as it was" "$(cat "$work/err")"

## FINDING vtconsole_read_no_deadline: display_detect() reads /sys/class/vtconsole/vtconN/bind
## and /sys/class/tty/tty0/active with read_file(), in the hook's own process, with no
## deadline; the kernel takes console_lock for both (a console driver stuck in the kernel holds
## it). Here the attribute blocks (a FIFO nobody writes): prepare never returns, and libvirt
## waits on it holding the domain; every later run waits on the state lock.
desktop; handoff_map
out=$(on desktop 'b=$UMOCKDEV_DIR/sys/devices/virtual/vtconsole/vtcon1/bind; rm -f $b; mkfifo $b
s=$(date +%s); timeout -s KILL 20 $H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; [ $(( $(date +%s) - s )) -le 10 ] && echo "in time"')
check "vtconsole_read_no_deadline: a vtconsole bind read that blocks: prepare fails within the deadline" \
	"$(printf 'rc=1\nin time')" "$out"
desktop; map "[options]" "timeout = 2" "[vm win10]" "pci = 0b:00.0 0b:00.1"
out=$(on desktop 'b=$UMOCKDEV_DIR/sys/devices/virtual/tty/tty0/active; rm -f $b; mkfifo $b
s=$(date +%s); timeout -s KILL 20 $H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; [ $(( $(date +%s) - s )) -le 10 ] && echo "in time"')
check "vtconsole_read_no_deadline: tty0/active that blocks (the refusal line's tty): refused within the deadline" \
	"$(printf 'rc=1\nin time')" "$out"

## FINDING secondary_gpu_fb_is_not_the_console: find_vtcons() says fbcon uses a function as soon
## as fbcon is bound and the function has any fbM. fbcon draws on the framebuffer its consoles
## map to (fb0, the boot GPU's, by default); a second GPU on a DRM driver gets an fbM of its own
## (fbdev emulation: amdgpu, nouveau, nvidia-drm.fbdev=1 by default since 570). Here the host's
## desktop and console are on 0b:00.0 (fb0); 09:00.0 has fb1 and nothing uses it. Default
## policy: the passthrough GPU of the common two-GPU set-up is refused as "the host's display";
## with host-display = handoff in [options], starting the VM stops the host's gdm (on the other
## GPU) and unbinds its console.
FB1='d=$UMOCKDEV_DIR/sys/devices/pci0000:00/0000:00:03.1/0000:09:00.0/graphics/fb1; mkdir -p $d; echo 29:1 >$d/dev
ln -s ../../devices/pci0000:00/0000:00:03.1/0000:09:00.0/graphics/fb1 $UMOCKDEV_DIR/sys/class/graphics/fb1'
export FB1
desktop; map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu"
out=$(on desktop "$FB1"'; $H win10 prepare begin - <$W/nv.xml; echo "rc=$?"; eval "$STATE"')
check "secondary_gpu_fb_is_not_the_console: a second GPU with an unused fb1: not the host's display, it moves" \
	"$(printf '%s\n' "rc=0" "$VFIO")" "$out"
desktop; map "[options]" "timeout = 2" "host-display = handoff" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" \
	"device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu"
out=$(on desktop "$FB1"'; $H win10 prepare begin - <$W/nv.xml; echo "rc=$?"; eval "$DSTATE"')
check "secondary_gpu_fb_is_not_the_console: handoff in [options]: the host's desktop on the other GPU is left alone" \
	"$(printf '%s\n' "rc=0" "$DORIG")" "$out"

# fbcon=map:1 on the kernel's command line: the consoles are on fb1, the second GPU's; it is the display.
desktop; map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu"
echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1 fbcon=font:TER16x32,map:1 quiet" >"$R/proc/cmdline"
out=$(on desktop "$FB1"'; $H win10 prepare begin - <$W/nv.xml 2>&1; echo "rc=$?"; eval "$STATE"')
check "secondary_gpu_fb_is_not_the_console: fbcon=map:1: fb1's GPU has the console, refused" \
	"$(printf '%s\n' "vfio-hook: win10: 0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]) drives the host's display (fbcon on tty1): set host-display = handoff in [vm win10] to let vfio-hook stop gdm.service while win10 runs, or give the host another GPU" "rc=1" "$ORIG")" "$out"

## FINDING comm_control_chars_in_line: a process's command name (any bytes but NUL, set with
## prctl(PR_SET_NAME) by any user) goes into the refusal line as it is: a newline splits the
## one-line error (here it forges a second "vfio-hook:" line in the journal), an escape sequence
## reaches the terminal.
desktop; rm -rf "$R/proc/812" "$R/proc/1403"; proc 900 "$(printf 'x\nvfio-hook: ok\033[2J')" /dev/dri/card0
map "[vm win10]" "pci = 0b:00.0 0b:00.1"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"')
check "comm_control_chars_in_line: refused, in one line, with no control character" "rc=1 1 0" \
	"$out $(grep -c '' "$work/err") $(tr -d '\n' <"$work/err" | tr -dc '\001-\037' | wc -c)"

## FINDING damaged_display_line_dropped: a display line that cannot be read is kept by release
## (and reported with "'vfio-hook restore --all' gives back the device it names"), but
## 'restore --all' then drops it with rc=0 and gives back nothing: gdm stays stopped and the only
## record that vfio-hook stopped it is gone. Here only the state field is damaged; the step, the
## unit and the owner are all readable.
desktop; handoff_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; sed -i "/step=display-manager/s/state=done/state=dne/" $W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; $H restore --all >/dev/null 2>&1; echo "rc=$?"; eval "$DSTATE"; grep -c "step=display-manager" $W/state/ledger 2>/dev/null')
case $out in
*"gdm=active"*|"rc=1"*1) ok "damaged_display_line_dropped: restore --all gives gdm back or keeps the record and fails" ;;
*) not_ok "damaged_display_line_dropped: restore --all gives gdm back or keeps the record and fails" "$out" ;;
esac

# The step itself unreadable: nothing is guessed; restore --all keeps the line, fails, and says what to do by hand.
desktop; handoff_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; sed -i "/step=display-manager/s/step=display-manager/step=dsplay-manager/" $W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; $H restore --all >/dev/null 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "step=dsplay-manager" $W/state/ledger')
check "damaged_display_line_dropped: an unreadable step: restore --all fails and keeps the line" \
	"$(printf '%s\n' "rc=1" "0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=1 efifb=efi-framebuffer gdm=inactive" 1)" "$out"
case $(grep -v "cannot read this entry" "$work/err") in
*"ledger:"*": a damaged display entry is kept (the step it names cannot be read): give back by hand what it names ('systemctl start UNIT'"*"then delete the line: display 0000:0b:00.0 owner=win10 step=dsplay-manager"*) ok "damaged_display_line_dropped: the line names the entry and what to do by hand" ;;
*) not_ok "damaged_display_line_dropped: the line names the entry and what to do by hand" "$(cat "$work/err")" ;;
esac

## FINDING check_blind_without_root: /proc/iomem shows every address as 0 to a non-root reader
## (and other users' /proc/PID/fd are unreadable): the firmware framebuffer in the BAR is then
## not seen, and '--check' (which a user runs to ask whether the start will work) and 'groups'
## say the GPU is free, while the hook (root) refuses it. Emulated: iomem as a user reads it.
## Root itself reads zeros only when confined (no CAP_SYS_ADMIN): it refuses rather than guesses.
desktop; rm -rf "$R/proc/812" "$R/proc/1403"; sed -i 's/^\( *\)[0-9a-f]*-[0-9a-f]* :/\100000000-00000000 :/' "$R/proc/iomem"
map "[vm win10]" "pci = 0b:00.0 0b:00.1"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -c "the hook would start this VM"')
check "check_blind_without_root: as root (confined) --check says what the hook does: it starts, with a warning" "1" "$out"
blind="/proc/iomem does not show its addresses to this process: whether a firmware framebuffer lies in 0000:0b:00.0's BARs (the host's display) is not checked"
out=$(on desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep "/proc/iomem"; $H groups 2>&1 >/dev/null')
check "check_blind_without_root: as root (confined) --check and groups warn, naming what confines it" \
	"$(printf '%s\n' "  warning: $blind (something confines vfio-hook even as root: a security module or a cgroup, see the audit log)" \
		"vfio-hook: /proc/iomem does not show its addresses to this process: a firmware framebuffer in a GPU's BARs (the host's display) is not seen; something confines vfio-hook even as root: a security module or a cgroup, see the audit log")" "$out"
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	chmod -R a+rX "$R"; chmod 755 "$work"; chmod 644 "$work"/*.xml "$work/map.ini"
	out=$(as_user desktop 'echo 0 >/sys/class/vtconsole/vtcon1/bind; $H --check win10 --xml $W/win10.xml 2>&1 | grep -e "/proc/iomem" -e "the hook"; $H groups 2>&1 >/dev/null')
	chmod 700 "$work"
	check "check_blind_without_root: as a user --check warns and promises nothing, groups warns" \
		"$(printf '%s\n' "  warning: $blind; run it as root to know" "the hook may start this VM: what the warnings above say was not checked" \
			"vfio-hook: /proc/iomem does not show its addresses to this process: a firmware framebuffer in a GPU's BARs (the host's display) is not seen; run it as root to know")" "$out"
else
	skip "check_blind_without_root: as a user" "needs root and runuser to switch user"
fi

## FINDING running_vm_qemu_killed: host-display-kill = yes signals every process left on the
## GPU's nodes, a running VM's QEMU included: here linux runs (libvirt's status file, pid 4242)
## and its QEMU renders on the host GPU (virtio-gpu with virgl/venus holds renderD128). Starting
## win10 SIGTERMs, then SIGKILLs it: another running VM is destroyed by this VM's start.
desktop; handoff_map "host-display-kill = yes"; proc 4242 qemu-system-x86 /dev/dri/renderD128; touch "$R/proc/4242/ignore-TERM"
status linux
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "^kill" $VFIO_HOOK_TEST_ROOT/calls')
check "running_vm_qemu_killed: a running VM's QEMU on the GPU is never signalled; the start is refused, all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG" 0)" "$out"

check "running_vm_qemu_killed: the line names the VM" "vfio-hook: win10: 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]) is used by the running VM linux (its QEMU, pid 4242, has /dev/dri/renderD128 open): shut linux down first, or give it another GPU to render on" "$(cat "$work/err")"


## FINDING vm_started_during_wait: the running VMs were read once, before the hand-over; a VM
## started during the wait (its QEMU rendering on the GPU's renderD128) was a plain leftover
## process, and host-display-kill = yes signalled it. The wait now reads them again each pass.
desktop; handoff_map "host-display-kill = yes"; proc 4242 qemu-system-x86 /dev/dri/renderD128; touch "$R/proc/4242/ignore-TERM"
mkdir -p "$work/later"; mv "$R/proc/4242" "$work/later/4242"; status linux; mv "$work/run/linux.xml" "$work/later/linux.xml"
proc 999 slow-client /dev/dri/card0 # lets go of the GPU by itself, 1 s after the start began
out=$(on desktop '( sleep 0.3; mv $W/later/linux.xml $W/run/linux.xml; mv $W/later/4242 $VFIO_HOOK_TEST_ROOT/proc/4242; sleep 0.7; rm -r $VFIO_HOOK_TEST_ROOT/proc/999 ) &
$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; wait; eval "$DSTATE"; grep -c "^kill.* 4242" $VFIO_HOOK_TEST_ROOT/calls')
check "vm_started_during_wait: a VM's QEMU that appears during the wait is never signalled; all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG" 0)" "$out"
check "vm_started_during_wait: the line names the VM" "yes" "$(grep -q "running VM linux (its QEMU, pid 4242" "$work/err" && echo yes || cat "$work/err")"
tap_done
