#!/bin/sh
# vfio-hook doctor on fixture machines, the way a user runs it.
# sources: doctor doctor-devices doctor-host doctor-libvirt doctor-users accounts hostconf config
# /sys, /dev and /proc/cpuinfo come from umockdev (tests/fakesys), every other file of the
# system (/proc/cmdline, the kernel config and modules, the ACPI tables, libvirt's hooks and
# daemon, OVMF) from a root directory this script builds per scenario (VFIO_HOOK_TEST_ROOT).
# Nothing of this machine is read.
# Environment (from tests/run-tests.sh): VFIO_HOOK_BIN, VFIO_HOOK_TEST_HWDB, VFIO_HOOK_TEST_PRELOAD.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/setup-env.sh"
rel=6.1.0-doctor
export VFIO_HOOK_STATE_DIR="$work/state" VFIO_HOOK_LIBVIRT_RUN_DIR="$work/run"
GRUB="(GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"

gpu_map() {
	mkmap "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" \
		"[usb receiver]" "device = 046d:c539" "[vm win10]" "pci = gpu" "usb = receiver 0416"
}

# A healthy host's files for CPU VENDOR (intel|amd), booted with CMDLINE; libvirtd (pid 4242)
# started at 1700001000 and the hook installed at 1700000500, before it.
mkroot() { # VENDOR CMDLINE
	rm -rf "$root"
	mkdir -p "$root/proc/sys/kernel" "$root/proc/4242" "$root/boot" "$root/lib/modules/$rel" \
		"$root/sys/firmware/acpi/tables" "$root/etc/libvirt/hooks" "$root/usr/share/qemu/firmware"
	echo "BOOT_IMAGE=/vmlinuz-$rel root=/dev/sda1 ro quiet $2" >"$root/proc/cmdline"
	echo "$rel" >"$root/proc/sys/kernel/osrelease"
	printf ' 24:          0   IR-PCI-MSI 512000-edge      ahci[0000:00:17.0]\n' >"$root/proc/interrupts"
	printf 'cpu  1 2 3 4\nbtime 1700000000\n' >"$root/proc/stat"
	echo libvirtd >"$root/proc/4242/comm"
	# starttime (field 22) 100000 ticks after boot: at 100 Hz, 1000 s.
	echo "4242 (libvirtd) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 1 0 0 20 0 18 0 100000 100 50 18446744073709551615" \
		>"$root/proc/4242/stat"
	echo "# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set" >"$root/boot/config-$rel"
	printf 'kernel/drivers/vfio/vfio.ko.zst:\nkernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/vfio.ko.zst\nkernel/drivers/vfio/vfio_iommu_type1.ko.zst: kernel/drivers/vfio/vfio.ko.zst\n' \
		>"$root/lib/modules/$rel/modules.dep"
	: >"$root/lib/modules/$rel/modules.builtin"
	if [ "$1" = intel ]; then : >"$root/sys/firmware/acpi/tables/DMAR"; else : >"$root/sys/firmware/acpi/tables/IVRS"; fi
	ln -s "$bin" "$root/etc/libvirt/hooks/qemu"
	touch -h -d @1700000500 "$root/etc/libvirt/hooks/qemu"
	echo '{"description": "OVMF"}' >"$root/usr/share/qemu/firmware/60-edk2-x86_64.json"
}

# What the session adds to umockdev's machine: the CPU's flags, /dev/kvm, the loaded vfio
# modules; then $SETUP (sh, may change the fake /sys).
SESSION='printf "flags\t\t: fpu vme de pse %s\n" "$FLAG" >>"$UMOCKDEV_DIR/proc/cpuinfo"
mkdir -p "$UMOCKDEV_DIR/dev" && touch "$UMOCKDEV_DIR/dev/kvm"
mkdir -p "$UMOCKDEV_DIR/sys/module/vfio" "$UMOCKDEV_DIR/sys/module/vfio_iommu_type1"
sys=$UMOCKDEV_DIR/sys/bus/pci/devices
eval "$SETUP"
: >"$W/before"
"$H" "$@"
rc=$?
# The fake kernel keeps device locks there: test machinery, not a write of doctor.
find "$UMOCKDEV_DIR" "$W" -newer "$W/before" ! -type d ! -path "$UMOCKDEV_DIR/fakekernel/*" \
	! -name stdout ! -name stderr ! -name written >"$W/written"
exit $rc'

# doctor MACHINE-ARGS FLAG SETUP [ARGS...]: sets $out, $err, $rc
doctor() {
	m=$1 flag=$2 setup=$3; shift 3
	# shellcheck disable=SC2086 # MACHINE-ARGS is "NAME [--cpu VENDOR]"
	VFIO_HOOK_TEST_ROOT=$root FLAG=$flag SETUP=$setup H=$bin W=$work \
		"$here/fakesys" $m -- sh -c "$SESSION" doctor-session doctor "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
	rc=$?
	out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
}

# has NAME LINE: the output has exactly this line
has() {
	if printf '%s\n' "$out" | grep -Fxq -- "$2"; then ok "$1"; else
		not_ok "$1" "$(printf 'expected the line:\n%s\noutput:\n%s\nstderr:\n%s' "$2" "$out" "$err")"
	fi
}
# fails NAME N: the output has exactly N FAIL lines
fails() { check "$1" "$2" "$(printf '%s\n' "$out" | grep -c '^FAIL')"; }
hasnt() { # NAME PATTERN (grep -E)
	if printf '%s\n' "$out" | grep -Eq -- "$2"; then
		not_ok "$1" "$(printf 'unexpected %s in:\n%s' "$2" "$out")"
	else ok "$1"; fi
}

## Intel, booted without intel_iommu=on, a kernel that does not turn it on by itself
mkroot intel ""
mkmap "[vm none]"
doctor no-iommu vmx ""
check "IOMMU off on Intel: exit status 1" 1 "$rc"
has "IOMMU off on Intel: one FAIL, why and the whole fix, iommu=pt with it" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the kernel command line has no intel_iommu=on, and this kernel does not turn the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set)) — on the kernel command line, add intel_iommu=on iommu=pt $GRUB"
fails "IOMMU off on Intel: that FAIL is the only one (the command line's is in it)" 1
has "IOMMU off on Intel: DMAR table present" "PASS  the firmware describes its IOMMU (ACPI DMAR table)"
has "IOMMU off on Intel: vmx" "PASS  CPU virtualization: vmx (Intel VT-x)"
check "doctor writes nothing (not /run/vfio-hook, not the state dir, not /sys)" "" "$(cat "$work/written")"
check "doctor creates no state directory" no "$([ -e "$work/state" ] && echo yes || echo no)"

## The same without VT-d in the firmware: both fixes
rm "$root/sys/firmware/acpi/tables/DMAR"
doctor no-iommu vmx ""
has "no DMAR, no intel_iommu=on: one FAIL, both causes, both fixes" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the firmware has VT-d off: it gives no ACPI DMAR table; the kernel command line has no intel_iommu=on, and this kernel does not turn the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON is not set)) — enable VT-d in the firmware setup; on the kernel command line, add intel_iommu=on iommu=pt $GRUB"
fails "no DMAR, no intel_iommu=on: no second FAIL for the DMAR table" 1

## A kernel that turns the Intel IOMMU on by default needs no intel_iommu=on
mkroot intel "iommu=pt"
echo "CONFIG_INTEL_IOMMU=y
CONFIG_INTEL_IOMMU_DEFAULT_ON=y" >"$root/boot/config-$rel"
mkmap "[vm none]"
doctor bridge-group vmx ""
has "Intel, IOMMU on by default: PASS" \
	"PASS  intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON=y)"
has "Intel, IOMMU on: groups PASS" "PASS  the IOMMU is on: 6 IOMMU groups"
rm "$root/boot/config-$rel"
printf 'CONFIG_INTEL_IOMMU=y\nCONFIG_INTEL_IOMMU_DEFAULT_ON=y\n' | gzip >"$root/proc/config.gz"
doctor bridge-group vmx ""
has "the kernel config from /proc/config.gz when /boot has none" \
	"PASS  intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON=y)"
rm "$root/proc/config.gz"
doctor no-iommu vmx ""
has "no kernel config anywhere, IOMMU off: FAIL, add intel_iommu=on" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the kernel command line has no intel_iommu=on, and this kernel's config (/boot/config-RELEASE, /proc/config.gz) is not readable to tell whether it turns the Intel IOMMU on by default) — on the kernel command line, add intel_iommu=on $GRUB"
## Debian 12's kernel: the Intel IOMMU on by default, but for integrated graphics
mkroot intel "iommu=pt"
printf 'CONFIG_INTEL_IOMMU=y\n# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\nCONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y\n' >"$root/boot/config-$rel"
doctor bridge-group vmx ""
has "Intel, on by default but for integrated graphics: no intel_iommu=on needed" \
	"PASS  intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y)"
## The same kernel booted with intel_iommu=off: the fix is the command line, not "check dmesg"
echo "BOOT_IMAGE=/vmlinuz-$rel root=/dev/sda1 ro quiet intel_iommu=off" >"$root/proc/cmdline"
doctor no-iommu vmx ""
has "intel_iommu=off on a default-on kernel: the IOMMU FAIL says to replace it" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the kernel command line has intel_iommu=off) — on the kernel command line, replace intel_iommu=off with intel_iommu=on iommu=pt $GRUB"
fails "intel_iommu=off on a default-on kernel: the one FAIL" 1
mkroot intel "intel_iommu=on,sm_on iommu=pt"
doctor bridge-group vmx ""
has "intel_iommu=on,sm_on counts as on" "PASS  the kernel command line has intel_iommu=on"
check "Intel, IOMMU on: exit status 0" 0 "$rc"

## AMD with the IOMMU off in the firmware and amd_iommu=on on the command line
mkroot amd "amd_iommu=on"
rm "$root/sys/firmware/acpi/tables/IVRS"
mkmap "[vm none]"
doctor "no-iommu --cpu AuthenticAMD" svm ""
check "IOMMU off on AMD: exit status 1" 1 "$rc"
has "IOMMU off on AMD with amd_iommu=on: one FAIL, amd_iommu=on named invalid, fix: the firmware and remove it" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (amd_iommu=on on the kernel command line is not a valid value and turns nothing on: the IOMMU is on by default on AMD, so the firmware has it off) — enable AMD-Vi (IOMMU, sometimes under \"AMD CBS\" or \"NBIO\") in the firmware setup; on the kernel command line, remove amd_iommu=on $GRUB"
fails "IOMMU off on AMD: that FAIL is the only one (no IVRS, amd_iommu=on: both in it)" 1
mkroot amd ""
rm "$root/sys/firmware/acpi/tables/IVRS"
doctor "no-iommu --cpu AuthenticAMD" svm ""
has "IOMMU off on AMD: enable AMD-Vi in the firmware" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the IOMMU is on by default on AMD, so the firmware has it off) — enable AMD-Vi (IOMMU, sometimes under \"AMD CBS\" or \"NBIO\") in the firmware setup and reboot"
mkroot amd ""
doctor desktop svm ""
has "no iommu=pt: WARN, read the right way round" \
	"WARN  the kernel command line has no iommu=pt: the host's own devices go through IOMMU translation too, which slows their DMA (with iommu=pt they skip it; devices given to VMs are translated either way) — add iommu=pt to the kernel command line $GRUB"

## Inside a VM (the CPU's hypervisor flag): no VT-d to enable, the hypervisor must give an IOMMU
mkroot intel ""
rm "$root/sys/firmware/acpi/tables/DMAR"
doctor no-iommu "vmx hypervisor" ""
has "inside a VM: the hypervisor must give it a virtual IOMMU" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (this system is a virtual machine, and its hypervisor gives it no IOMMU) — give this VM a virtual IOMMU: QEMU -device intel-iommu,intremap=on with -machine q35,kernel-irqchip=split; libvirt <iommu model='intel'/> in its <devices> (virsh edit, on its host); then intel_iommu=on on this kernel's command line, and reboot it"
hasnt "inside a VM: no VT-d in a firmware setup it does not have" "VT-d"
fails "inside a VM: one FAIL" 1
# A VM that has a virtual IOMMU (a DMAR table) booted with intel_iommu=off: the command line's fix, as on any host.
mkroot intel "intel_iommu=off"
doctor no-iommu "vmx hypervisor" ""
has "inside a VM with a virtual IOMMU, intel_iommu=off: the command line's fix" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the kernel command line has intel_iommu=off) — on the kernel command line, replace intel_iommu=off with intel_iommu=on iommu=pt $GRUB"
fails "inside a VM with a virtual IOMMU: one FAIL" 1
doctor no-iommu "hypervisor" ""
has "inside a VM without vmx: nested virtualization, from its host" \
	"FAIL  the CPU shows neither the vmx nor the svm flag in /proc/cpuinfo — this system is a virtual machine: give it the host's CPU with nested virtualization (libvirt <cpu mode='host-passthrough'/>; on its host kvm_intel or kvm_amd with nested=1)"

## AMD, everything fine, the RTX mapped
mkroot amd "iommu=pt"
gpu_map
doctor desktop svm 'printf "flr bus\n" >"$sys/0000:09:00.0/reset_method"'
check "a ready AMD host: exit status 0" 0 "$rc"
hasnt "a ready AMD host: no FAIL" '^FAIL'
for line in "CPU and firmware" "Kernel" "libvirt" "Map" "Devices" \
	"PASS  CPU virtualization: svm (AMD-V)" \
	"PASS  /dev/kvm is usable" \
	"PASS  the firmware describes its IOMMU (ACPI IVRS table)" \
	"PASS  the IOMMU is on: 11 IOMMU groups" \
	"PASS  kernel command line: nothing needed on AMD (the IOMMU is on by default)" \
	"PASS  the kernel command line has iommu=pt" \
	"PASS  interrupt remapping is on (IR- interrupts in /proc/interrupts)" \
	"PASS  vfio is loaded" "PASS  vfio_pci is loaded" "PASS  vfio_iommu_type1 is loaded" \
	"PASS  /etc/libvirt/hooks/qemu is vfio-hook, executable" \
	"PASS  libvirtd (pid 4242) started after the hook was installed" \
	"PASS  1 firmware descriptor in /usr/share/qemu/firmware (OVMF)" \
	"PASS  $work/map.ini parses (1 VM) and only its owner can write it" \
	"PASS  [vm win10] the dry run (--check) says the hook would start it: 4 PCI functions" \
	"PASS  0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]) can be reset: flr bus" \
	"PASS  0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]) is not the host's boot GPU" \
	"WARN  0000:09:00.1 (TU104 HD Audio Controller): the kernel does not say how it can be reset (no reset_method) — check dmesg for reset errors after a VM stops; a kernel from 5.15 on tells" \
	"WARN  [usb receiver] 046d:c539 is not plugged in — plug it in before starting a VM that uses it, or check the id with lsusb" \
	"WARN  [usb vm win10] 0416 is not plugged in — plug it in before starting a VM that uses it, or check the id with lsusb"; do
	has "a ready AMD host: $line" "$line"
done
doctor desktop svm 'printf "flr bus\n" >"$sys/0000:09:00.0/reset_method"' --json
check "--json: exit status 0" 0 "$rc"
if printf '%s\n' "$out" | python3 -m json.tool >/dev/null 2>&1; then ok "--json parses (python3 -m json.tool)"
else not_ok "--json parses (python3 -m json.tool)" "$out"; fi
check "--json: an array of {group, status, what, fix}" \
	'Kernel|PASS|the kernel command line has iommu=pt|None' \
	"$(printf '%s\n' "$out" | python3 -c 'import json,sys
for c in json.load(sys.stdin):
    assert sorted(c) == ["fix", "group", "status", "what"], c
    if c["what"] == "the kernel command line has iommu=pt": print("%s|%s|%s|%s" % (c["group"], c["status"], c["what"], c["fix"]))')"

## A GPU without a reset method
doctor desktop svm 'printf "\n" >"$sys/0000:09:00.0/reset_method"'
has "a GPU without reset method: WARN" \
	"WARN  0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]) has no reset method — it keeps its state from one VM to the next: pass the whole card (every function) so a bus reset can work, and expect to reboot the host after a guest crash"
check "a GPU without reset method: exit status 0 (a warning)" 0 "$rc"

## A GPU with the reset bug: the boot GPU made a Vega 10 (1002:687f), mapped
mkmap "[vm linux]" "pci = 1002:687f 1002:aaf0"
doctor desktop svm 'printf "0x687f\n" >"$sys/0000:0b:00.0/device"'
has "a Vega 10: vendor-reset suggested" \
	"WARN  0000:0b:00.0 (VGA compatible controller) is an AMD Vega 10 GPU: it does not come back after a reset without vendor-reset — install vendor-reset (https://github.com/gnif/vendor-reset) and load it at boot; on kernels from 5.15 on also: echo device_specific > /sys/bus/pci/devices/0000:0b:00.0/reset_method"
has "the boot GPU: WARN" \
	"WARN  0000:0b:00.0 (VGA compatible controller) is the boot GPU: the host's console and display start on it — give the host another GPU: make that one primary in the firmware setup, or set host-display = handoff in the [vm] that gets it (the hook refuses it while the host's display is on it)"
if printf '%s\n' "$out" | grep -qF "FAIL  [vm linux] the hook would refuse to start it: 0000:0b:00.0 (VGA compatible controller) drives the host's display (fbcon on tty1): set host-display = handoff in [vm linux] to let vfio-hook stop display-manager.service while linux runs, or give the host another GPU"; then
	ok "the boot GPU with the console on it: the planner's refusal is a FAIL"
else not_ok "the boot GPU with the console on it: the planner's refusal is a FAIL" "$out"; fi
check "the boot GPU with the console on it: exit status 1" 1 "$rc"

## A group that is not viable under the map: the planner says so
mkroot amd "iommu=pt"
mkmap "[vm win10]" "pci = 10de:1e84"
doctor desktop svm ""
has "a group not viable: the planner's refusal with its fix" \
	"FAIL  [vm win10] the hook would refuse to start it: 0000:09:00.1 (TU104 HD Audio Controller) shares IOMMU group 24 with this VM's devices but is not mapped: add 10de:10f8 to \"pci =\" in [vm win10] in $work/map.ini"

## The hook installed after libvirtd started, then after virtqemud started
gpu_map
touch -h -d @1700002000 "$root/etc/libvirt/hooks/qemu"
doctor desktop svm ""
has "hook newer than libvirtd: restart libvirtd" \
	"WARN  libvirtd (pid 4242) started before the hook was installed: libvirt looks for hooks only when it starts, so it may not run vfio-hook — systemctl restart libvirtd"
mkroot amd "iommu=pt"
echo virtqemud >"$root/proc/4242/comm"
touch -h -d @1700002000 "$root/etc/libvirt/hooks/qemu"
doctor desktop svm ""
has "hook newer than virtqemud: restart virtqemud" \
	"WARN  virtqemud (pid 4242) started before the hook was installed: libvirt looks for hooks only when it starts, so it may not run vfio-hook — systemctl restart virtqemud"
rm -r "$root/proc/4242"
doctor desktop svm ""
has "no daemon running: WARN" \
	"WARN  neither libvirtd nor virtqemud is running — systemctl start libvirtd (or virtqemud, with the modular daemons)"

## SELinux enforcing (Fedora): libvirt runs hooks confined unless virt_hooks_unconfined is on
mkroot amd "iommu=pt"
SELINUX='mkdir -p "$UMOCKDEV_DIR/sys/fs/selinux/booleans"; echo 1 >"$UMOCKDEV_DIR/sys/fs/selinux/enforce"'
doctor desktop svm "$SELINUX; echo '0 0' >\"\$UMOCKDEV_DIR/sys/fs/selinux/booleans/virt_hooks_unconfined\""
has "SELinux enforcing, virt_hooks_unconfined off: WARN, setsebool" \
	"WARN  SELinux is enforcing and virt_hooks_unconfined is off: libvirt runs its hooks confined, and a confined hook cannot move devices in /sys — setsebool -P virt_hooks_unconfined on"
doctor desktop svm "$SELINUX; echo '1 1' >\"\$UMOCKDEV_DIR/sys/fs/selinux/booleans/virt_hooks_unconfined\""
has "SELinux enforcing, virt_hooks_unconfined on: PASS" "PASS  SELinux is enforcing and virt_hooks_unconfined is on"
doctor desktop svm "$SELINUX"
hasnt "no SELinux line when the policy has no such boolean" '^[A-Z]{4}  SELinux'

## Where the hook is, and whether libvirt can run it
mkroot amd "iommu=pt"
rm "$root/etc/libvirt/hooks/qemu"
doctor desktop svm ""
has "no hook: FAIL, how to install it" \
	"FAIL  vfio-hook is not installed as libvirt's QEMU hook (/etc/libvirt/hooks/qemu or /etc/libvirt/hooks/qemu.d/) — make install, or: ln -s /usr/local/sbin/vfio-hook /etc/libvirt/hooks/qemu (/etc/libvirt/hooks/qemu.d/vfio-hook when another hook is there); then restart libvirtd"
check "no hook: exit status 1" 1 "$rc"
printf '#!/bin/sh\nexit 0\n' >"$root/etc/libvirt/hooks/qemu"
chmod 755 "$root/etc/libvirt/hooks/qemu"
mkdir "$root/etc/libvirt/hooks/qemu.d"
printf '#!/bin/sh\nexec /usr/local/sbin/vfio-hook "$@"\n' >"$root/etc/libvirt/hooks/qemu.d/vfio-hook"
chmod 644 "$root/etc/libvirt/hooks/qemu.d/vfio-hook"
doctor desktop svm ""
has "another hook in qemu, vfio-hook in qemu.d but not executable: FAIL, chmod" \
	"FAIL  /etc/libvirt/hooks/qemu.d/vfio-hook is vfio-hook but not executable: libvirt cannot run it — chmod 755 /etc/libvirt/hooks/qemu.d/vfio-hook"
mkroot amd "iommu=pt"
mkdir -p "$root/var/lib/libvirt/hooks"
: >"$root/etc/NIXOS"
doctor desktop svm ""
has "NixOS, no hook: FAIL, the module is the fix (its libvirt empties qemu.d at every start)" \
	"FAIL  vfio-hook is not installed as libvirt's QEMU hook (/var/lib/libvirt/hooks/qemu or /var/lib/libvirt/hooks/qemu.d/) — set services.vfio-hook.enable = true (the NixOS module in vfio-hook's etc/nixos/), then nixos-rebuild switch"
mv "$root/etc/libvirt/hooks/qemu" "$root/var/lib/libvirt/hooks/qemu"
doctor desktop svm ""
has "NixOS: the hook in /var/lib/libvirt/hooks" "PASS  /var/lib/libvirt/hooks/qemu is vfio-hook, executable"

## Modules, interrupt remapping, OVMF
mkroot amd "iommu=pt"
printf 'kernel/drivers/vfio/vfio.ko\n' >"$root/lib/modules/$rel/modules.builtin"
sed -i '/vfio_iommu_type1/d' "$root/lib/modules/$rel/modules.dep"
: >"$root/proc/interrupts"
rm "$root/usr/share/qemu/firmware/60-edk2-x86_64.json"
doctor desktop svm 'rmdir "$UMOCKDEV_DIR/sys/module/vfio_iommu_type1" "$UMOCKDEV_DIR/sys/module/vfio_pci"'
has "a built-in module" "PASS  vfio is built into the kernel"
has "a module available, not loaded: WARN, modprobe" \
	"WARN  vfio_pci is available but not loaded — modprobe vfio_pci (the hook loads vfio-pci when it needs it; to load it at boot: echo vfio_pci >> /etc/modules-load.d/vfio.conf)"
has "a module missing: FAIL" \
	"FAIL  vfio_iommu_type1 is not available for kernel $rel (not in modules.dep nor modules.builtin) — install the modules package of kernel $rel, or use a kernel built with CONFIG_VFIO_PCI"
has "no interrupt remapping: WARN" \
	"WARN  interrupt remapping looks off (no IR-PCI-MSI in /proc/interrupts) — enable interrupt remapping (VT-d/AMD-Vi with x2APIC) in the firmware setup; else vfio needs \"options vfio_iommu_type1 allow_unsafe_interrupts=1\" in /etc/modprobe.d/ (unsafe)"
has "no OVMF: WARN" \
	"WARN  no UEFI firmware descriptors in /usr/share/qemu/firmware: GPU passthrough needs an OVMF guest — install OVMF: apt install ovmf (Debian, Ubuntu), dnf install edk2-ovmf (Fedora), pacman -S edk2-ovmf (Arch)"
check "a missing module: exit status 1" 1 "$rc"

## The map
mkroot amd "iommu=pt"
gpu_map
chmod 666 "$work/map.ini"
doctor desktop svm ""
has "a map others can write: FAIL, with the map's own line" \
	"FAIL  the map is refused: $work/map.ini: refused: writable by group or others (run: chmod go-w $work/map.ini) — correct it, then check the map again: vfio-hook config"
check "a map others can write: nothing on stderr (the line is in the check)" "" "$err"
chmod 644 "$work/map.ini"
printf 'pci gpu\n' >>"$work/map.ini"
doctor desktop svm "" --json
check "a broken map: its FILE:LINE line is the check's, in --json too" \
	"Map|FAIL|the map is refused: $work/map.ini:11: not a [section], a \"key = value\" line or a comment (fix or remove this line)|correct it, then check the map again: vfio-hook config" \
	"$(printf '%s\n' "$out" | python3 -c 'import json,sys
for c in json.load(sys.stdin):
    if c["group"] == "Map" and c["status"] == "FAIL": print("%s|%s|%s|%s" % (c["group"], c["status"], c["what"], c["fix"]))')"
rm "$work/map.ini"
doctor desktop svm ""
has "no map: WARN, with the command that writes one and the example's path" \
	"WARN  no device map at $work/map.ini — write one: vfio-hook map GROUP --add VM (GROUP from vfio-hook groups); or start from the example /usr/local/share/doc/vfio-hook/examples/vfio-hook.ini"
check "no map, a ready host: exit status 0" 0 "$rc"
doctor desktop "" ""
has "no vmx/svm flag: FAIL" \
	"FAIL  the CPU shows neither the vmx nor the svm flag in /proc/cpuinfo — enable Intel VT-x or AMD-V (SVM) in the firmware setup and reboot"

## [vm] names against libvirt's VMs (its test driver: one domain, "test"), and each VM's dry run
mkroot amd "iommu=pt"
mkmap "[options]" "uri = test:///default" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm Test]" "pci = gpu" "[vm router]" "pci = 8086:1539"
doctor desktop svm ""
has "a [vm] libvirt has not, one close: FAIL, rename it" \
	"FAIL  [vm Test]: libvirt (test:///default) has no VM named Test: the closest it has is test, so the hook does nothing for it — rename the section [vm test] ($work/map.ini:8)"
has "a [vm] libvirt has not, none close: FAIL, define it" \
	"FAIL  [vm router]: libvirt (test:///default) has no VM named router (it has 1: see virsh list --all), so the hook does nothing for it — define the VM in libvirt, or fix the name at $work/map.ini:10 (virsh list --all)"
mkmap "[options]" "uri = test:///default" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm test]" "pci = gpu"
doctor desktop svm ""
has "every [vm] names a VM of libvirt's: PASS" "PASS  libvirt (test:///default) has a VM of each [vm] name"
has "the dry run of a VM libvirt has: its verdict" "PASS  [vm test] the dry run (--check) says the hook would start it: 4 PCI functions"
has "the dry run with the VM's XML: what it lacks, as --check says it" \
	"WARN  [vm test] 0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER]) is mapped to test but not in its domain XML; to pass it through add: <hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x09' slot='0x00' function='0x0'/></source></hostdev>"
hasnt "the dry run had the VM's XML" "^SKIP  \\[vm test\\] whether"
check "the dry runs create no state directory" no "$([ -e "$work/state" ] && echo yes || echo no)"
mkmap "[options]" "uri = qemu+unix:///system?socket=$work/none.sock" "[vm win10]" "pci = 10de:1e84 10de:10f8 10de:1ad8 10de:1ad9"
doctor desktop svm ""
case $(printf '%s\n' "$out" | grep '^SKIP  whether libvirt') in
"SKIP  whether libvirt has a VM of each [vm] name: cannot ask it: "*"(is libvirtd running? start it: systemctl start libvirtd (or virtqemud, with the modular daemons)) — systemctl start libvirtd (or virtqemud, with the modular daemons)")
	ok "libvirt not running: the [vm] names are a SKIP saying to start it" ;;
*) not_ok "libvirt not running: the [vm] names are a SKIP saying to start it" "$out" ;;
esac
has "libvirt not running: the dry run still gives its verdict" "PASS  [vm win10] the dry run (--check) says the hook would start it: 4 PCI functions"
has "libvirt not running: what the dry run could not check is a SKIP" \
	"SKIP  [vm win10] whether its libvirt definition passes these functions through (<hostdev>) is not checked: libvirt (qemu+unix:///system?socket=$work/none.sock) did not give it — vfio-hook --check win10 --xml FILE, with the VM's XML (virsh dumpxml win10)"

## As an ordinary user: what needs root says so
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	gpu_map
	chmod 600 "$work/map.ini"
	chmod 755 "$work"
	mkdir "$work/user" && chown nobody "$work/user"
	VFIO_HOOK_TEST_ROOT=$root FLAG=svm SETUP="" H=$bin W=$work/user runuser -u nobody -- \
		"$here/fakesys" desktop -- sh -c "$SESSION" doctor-session doctor >"$work/stdout" 2>"$work/stderr" </dev/null
	rc=$?
	out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
	has "as a user: the unreadable map is a SKIP saying root is needed" \
		"SKIP  cannot read $work/map.ini as this user: the map and device checks need root — run as root (sudo vfio-hook doctor)"
	check "as a user: exit status 0 on a ready host" 0 "$rc"
else
	skip "doctor as an ordinary user" "needs root and runuser to switch user"
fi

## Session users ([host] users): group kvm, /dev/vfio, the memlock limit from PAM's files
mkroot amd "iommu=pt"
g=$(id -g) # the group of the fake /dev nodes this suite creates: kvm, in the fake root
printf 'alice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\ndave:x:1003:1003::/home/dave:/bin/sh\n' >"$root/etc/passwd"
printf 'kvm:x:%s:alice,dave\nalice:x:1000:\nbob:x:1001:\ndave:x:1003:\n' "$g" >"$root/etc/group"
mkdir -p "$root/etc/security/limits.d"
printf '# pam\n*    hard  memlock  64\n@kvm  soft  memlock  65536\n@kvm  hard  memlock  65536\n' >"$root/etc/security/limits.conf"
printf 'alice soft memlock unlimited\nalice hard memlock unlimited\n' >"$root/etc/security/limits.d/vfio-hook.conf"
mkmap "[host]" "users = alice bob carol dave" "memlock = unlimited" "[vm none]"
VFIO='mkdir -p "$UMOCKDEV_DIR/dev/vfio/devices" && : >"$UMOCKDEV_DIR/dev/vfio/24" && : >"$UMOCKDEV_DIR/dev/vfio/vfio" && chmod 666 "$UMOCKDEV_DIR/dev/vfio/vfio"'
doctor desktop svm "$VFIO && chmod 660 \"\$UMOCKDEV_DIR/dev/vfio/24\""
has "session users: a heading" "Session users ([host] users)"
has "session user in kvm: PASS" "PASS  alice is in group kvm (a session started before that still lacks it)"
has "session user in kvm, node 0660 group kvm: PASS" "PASS  alice can open the 2 nodes in /dev/vfio"
has "session user with memlock unlimited in limits.d: PASS" \
	"PASS  alice's memlock limit is unlimited (/etc/security/limits.d/vfio-hook.conf), as [host] memlock asks"
has "session user not in kvm: FAIL, how" "FAIL  bob is not in group kvm — vfio-hook setup (or: usermod -a -G kvm bob), then log in again"
has "session user who cannot open a group node: FAIL, the node and the fix" \
	"FAIL  bob cannot open /dev/vfio/24 (owner $(id -u), group $g, mode 0660) — vfio-hook setup (its udev rule gives group kvm 0660), then udevadm trigger --subsystem-match=vfio"
has "session user without a limit: FAIL (the wildcard hard 64 alone is no soft limit)" \
	"FAIL  no soft memlock limit for bob in /etc/security/limits.conf or limits.d: the kernel's default (8 MiB) cannot hold a VM's memory, which passthrough locks — set memlock = unlimited (or the guests' RAM in KiB) in [host], then vfio-hook setup"
has "session user without an account: FAIL" \
	"FAIL  [host] users: carol has no account in /etc/passwd — create the account (useradd carol), or remove it from [host] users"
has "session user limited through @kvm (over the wildcard) below [host] memlock: FAIL" \
	"FAIL  dave's memlock limit is 65536 KiB (/etc/security/limits.conf), below [host] memlock — vfio-hook setup (it writes /etc/security/limits.d/vfio-hook.conf), then log in again"
check "session users failing: exit status 1" 1 "$rc"
doctor desktop svm "$VFIO && chmod 600 \"\$UMOCKDEV_DIR/dev/vfio/24\""
has "a group node 0600: even a kvm member cannot open it" \
	"FAIL  alice cannot open /dev/vfio/24 (owner $(id -u), group $g, mode 0600) — vfio-hook setup (its udev rule gives group kvm 0660), then udevadm trigger --subsystem-match=vfio"
mkmap "[host]" "users = alice" "[vm none]"
doctor desktop svm ""
has "no /dev/vfio node and no rule: WARN" \
	"WARN  no /dev/vfio node yet, and no udev rule of vfio-hook setup gives group kvm access to them: alice could not open them — vfio-hook setup (it writes /etc/udev/rules.d/70-vfio-hook.rules)"
has "a limit without [host] memlock: said, no verdict on a size doctor cannot know" \
	"PASS  alice's memlock limit is unlimited (/etc/security/limits.d/vfio-hook.conf)"
mkdir -p "$root/etc/udev/rules.d" && : >"$root/etc/udev/rules.d/70-vfio-hook.rules"
doctor desktop svm ""
has "no /dev/vfio node, setup's rule there: PASS" \
	"PASS  no /dev/vfio node yet (binding a device to vfio-pci makes one): 70-vfio-hook.rules gives group kvm access to it"
check "session users fine: exit status 0" 0 "$rc"

## doctor's reads of limits.conf and every limits.d/*.conf for the session users have a deadline:
## a FIFO there would hang doctor for good; it is a warning naming the file instead.
## (hook/doctor.c read_limits(); for /etc/passwd and /etc/group hook/accounts.c find_line().)
if [ -n "${VFIO_HOOK_TEST_PRELOAD:-}" ]; then
	mkroot_intel
	mkdir -p "$root/etc/security/limits.d"
	mkfifo "$root/etc/security/limits.d/zz-local.conf"
	mkmap "[host]" "users = alice" "memlock = unlimited" "[vm none]"
	s=$(date +%s)
	VFIO_HOOK_TEST_ROOT=$root timeout -s KILL 20 "$here/fakesys" desktop -- "$bin" doctor >"$work/stdout" 2>&1 </dev/null
	r=$?
	t=$(($(date +%s) - s))
	if [ $r -ne 137 ] && [ $t -le 10 ]; then ok "fifo_in_limits_d_does_not_hang_doctor: answered in ${t}s"; else
		not_ok "fifo_in_limits_d_does_not_hang_doctor: answered in ${t}s" "killed after 20 s (exit $r)"; fi
	case $(cat "$work/stdout") in
	*WARN*"/etc/security/limits.d/zz-local.conf is not a regular file"*) ok "fifo_in_limits_d_is_a_warning_naming_it" ;;
	*) not_ok "fifo_in_limits_d_is_a_warning_naming_it" "doctor said: $(cat "$work/stdout")" ;;
	esac
else
	skip "fifo_in_limits_d_does_not_hang_doctor" "needs the fixture machines (run through make check)"
fi

## Under VFIO_HOOK_TEST, never this machine's files
env -u VFIO_HOOK_TEST_ROOT VFIO_HOOK_TEST=1 "$bin" doctor >"$work/stdout" 2>"$work/stderr"
check "VFIO_HOOK_TEST without VFIO_HOOK_TEST_ROOT: exit status 2" 2 "$?"
check "VFIO_HOOK_TEST without VFIO_HOOK_TEST_ROOT: says why" \
	"vfio-hook: doctor: VFIO_HOOK_TEST is set but VFIO_HOOK_TEST_ROOT is not an absolute directory to read the system's files from" \
	"$(cat "$work/stderr")"
check "VFIO_HOOK_TEST without VFIO_HOOK_TEST_ROOT: prints no checks" "" "$(cat "$work/stdout")"

## A VM whose memory is 1 GiB hugepages: doctor says to reserve them at boot, until the kernel
## command line does
mkroot intel "intel_iommu=on"
mkmap "[vm win10]" "block-sleep = yes"
mkdir -p "$root/etc/libvirt/qemu"
printf '%s\n' "<domain type='kvm'><name>win10</name><memory unit='GiB'>8</memory><memoryBacking><hugepages><page size='1' unit='G'/></hugepages></memoryBacking><devices/></domain>" \
	>"$root/etc/libvirt/qemu/win10.xml"
doctor desktop vmx ""
has "1 GiB hugepages not reserved at boot: WARN, with the [host] key and setup" \
	"WARN  [vm win10] its memory takes 8 1 GiB hugepages, 0 reserved at boot: pages this large can rarely be had once the host runs, and its start is refused without them — reserve them at boot: hugepages = 1G:8 in [host] of $work/map.ini, then 'vfio-hook setup' and reboot"
mkroot intel "intel_iommu=on default_hugepagesz=2M hugepagesz=1G hugepages=8"
mkdir -p "$root/etc/libvirt/qemu"
printf '%s\n' "<domain type='kvm'><name>win10</name><memory unit='GiB'>8</memory><memoryBacking><hugepages><page size='1' unit='G'/></hugepages></memoryBacking><devices/></domain>" \
	>"$root/etc/libvirt/qemu/win10.xml"
doctor desktop vmx ""
has "1 GiB hugepages reserved on the kernel command line: PASS" \
	"PASS  [vm win10] its 8 1 GiB hugepages are reserved at boot (8 on the kernel command line)"

## a libvirt that accepts and never answers (busy autostarting VMs) costs doctor one deadline, not
## one per VM: each VM's dry run says libvirt was not asked again
if [ -n "${MUTE_SOCKET:-}" ]; then
	"$MUTE_SOCKET" "$work/mute.sock" >"$work/mute.out" &
	mute=$!
	i=0; while [ $i -lt 50 ] && ! grep -qs ready "$work/mute.out"; do sleep 0.1; i=$((i + 1)); done
	mkroot intel "intel_iommu=on iommu=pt"
	mkmap "[options]" "timeout = 2" "uri = qemu+unix:///system?socket=$work/mute.sock" "[pci gpu]" "device = 10de:1e84" \
		"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm a]" "pci = gpu" "[vm b]" "pci = gpu" "[vm c]" "pci = gpu"
	doctor desktop vmx ""
	kill "$mute"; wait "$mute" 2>/dev/null
	has "a mute libvirt: the names' check says so once" \
		"SKIP  whether libvirt has a VM of each [vm] name: cannot ask it: no answer from libvirt (qemu+unix:///system?socket=$work/mute.sock) within 2 s"
	check "a mute libvirt: no VM's dry run asks it again" 3 \
		"$(printf '%s\n' "$out" | grep -c "did not answer (see above), so it was not asked")"
else
	skip "a mute libvirt costs doctor one deadline" "needs tests/lib/mute-socket (run through make check)"
fi

tap_done
