#!/bin/sh
# The host's display on a function: what is detected, and the start refused by default.
# sources: display plan groups world report
# On the desktop fixture (issue 11): its boot GPU 0b:00.0 has fb0, card0 and renderD128, fbcon
# bound on vtcon1, and efi-framebuffer.0. The rest of the machine the hook looks at is a root
# directory built here ($VFIO_HOOK_TEST_ROOT, tests/lib/display-env.sh): /proc (processes with
# their fd links and comm, /proc/iomem), the display-manager.service link, and the units the
# systemctl stand-in (tests/lib/bin) starts and stops. Nothing here reaches the machine's own.
# The hand-over (host-display = handoff) is in tests/handoff.sh and tests/handoff-faults.sh; the
# display keys' map errors in tests/map.sh; what a user, or a confined root, cannot see of the
# display in tests/as-user.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

. "$here/lib/display-env.sh"
domxml win10 $GPU >"$work/nv.xml"
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

## detection's reads have a deadline: display_detect() reads /sys/class/vtconsole/vtconN/bind
## and /sys/class/tty/tty0/active, for which the kernel takes console_lock (a console driver
## stuck in the kernel holds it). Here the attribute blocks (a FIFO nobody writes): read in the
## hook's own process with no deadline, prepare would never return, libvirt would wait on it
## holding the domain, and every later run would wait on the state lock.
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

## a second GPU's framebuffer is not the console: fbcon draws on the framebuffer its consoles
## map to (fb0, the boot GPU's, by default), while a second GPU on a DRM driver gets an fbM of
## its own (fbdev emulation: amdgpu, nouveau, nvidia-drm.fbdev=1 by default since 570). Here the
## host's desktop and console are on 0b:00.0 (fb0); 09:00.0 has fb1 and nothing uses it. Were
## any fbM of a function taken for fbcon's as soon as fbcon is bound, the default policy would
## refuse the passthrough GPU of the common two-GPU set-up as "the host's display", and with
## host-display = handoff in [options] starting the VM would stop the host's gdm (on the other
## GPU) and unbind its console.
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

## a process's command name (any bytes but NUL, set with prctl(PR_SET_NAME) by any user) goes
## into the refusal line without its control characters: as it is, a newline would split the
## one-line error (here forging a second "vfio-hook:" line in the journal) and an escape
## sequence would reach the terminal.
desktop; rm -rf "$R/proc/812" "$R/proc/1403"; proc 900 "$(printf 'x\nvfio-hook: ok\033[2J')" /dev/dri/card0
map "[vm win10]" "pci = 0b:00.0 0b:00.1"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"')
check "comm_control_chars_in_line: refused, in one line, with no control character" "rc=1 1 0" \
	"$out $(grep -c '' "$work/err") $(tr -d '\n' <"$work/err" | tr -dc '\001-\037' | wc -c)"

tap_done
