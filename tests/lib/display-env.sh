# shellcheck shell=sh
# Sourced after hook-env.sh by the display suites: the root directory the hook reads as the
# machine's /proc and /etc ($VFIO_HOOK_TEST_ROOT), its processes, /proc/iomem and the display
# manager, and the display's state as the checks compare it.
R=$work/root
export VFIO_HOOK_TEST_ROOT="$R"
domxml win10 0000:0b:00.0 0000:0b:00.1 >"$work/win10.xml"

proc() { # PID COMM NODE...: a process with these nodes open
	p=$1 c=$2; shift 2
	mkdir -p "$R/proc/$p/fd"; printf '%s\n' "$c" >"$R/proc/$p/comm"; ln -s /dev/null "$R/proc/$p/fd/0"
	fd=3; for n in "$@"; do ln -s "$n" "$R/proc/$p/fd/$fd"; fd=$((fd + 1)); done
}
iomem() { # the firmware framebuffer at START (hex), in BAR 0 of 0b:00.0 (e0000000-efffffff) or not
	printf '%s\n' "00000000-00000fff : Reserved" "e0000000-efffffff : PCI Bus 0000:0b" \
		"  e0000000-efffffff : 0000:0b:00.0" "d0000000-dfffffff : PCI Bus 0000:09" "    $1-$(printf '%x' $((0x$1 + 0x7e8fff))) : BOOTFB" \
		"      $1-$(printf '%x' $((0x$1 + 0x7e8fff))) : efifb" >"$R/proc/iomem"
}
# A desktop: gdm (display-manager.service) runs Xorg on card0 and gnome-shell on renderD128.
desktop() {
	reset; rm -rf "$R"; mkdir -p "$R/units" "$R/etc/systemd/system"; : >"$R/calls"
	ln -s /lib/systemd/system/gdm.service "$R/etc/systemd/system/display-manager.service"
	proc 812 Xorg /dev/dri/card0; proc 1403 gnome-shell /dev/dri/renderD128
	echo active >"$R/units/gdm.service"; echo "812 1403" >"$R/units/gdm.service.pids"
	iomem e0000000
}
handoff_map() { map "[options]" "timeout = 2" "[vm win10]" "pci = 0b:00.0 0b:00.1" "host-display = handoff" "$@"; }
# The display's state: the GPU's functions, fbcon on vtcon1, efi-framebuffer.0's driver, gdm.
DSTATE='for a in 0000:0b:00.0 0000:0b:00.1; do d=none; [ -e /sys/bus/pci/devices/$a/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/$a/driver)); printf "%s=%s " $a $d; done
f=none; [ -e /sys/bus/platform/devices/efi-framebuffer.0/driver ] && f=$(basename $(readlink /sys/bus/platform/devices/efi-framebuffer.0/driver))
echo "vtcon1=$(cat /sys/class/vtconsole/vtcon1/bind) efifb=$f gdm=$(cat $VFIO_HOOK_TEST_ROOT/units/gdm.service)"'
export DSTATE
DORIG="0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=1 efifb=efi-framebuffer gdm=active"
