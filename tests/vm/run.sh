#!/bin/bash
# make vm-check: boots a real Debian 12 kernel with an emulated Intel IOMMU, a GPU-like
# two-function device, two NICs, an xHCI and an NVMe under QEMU, with a real libvirtd inside and this
# tree's vfio-hook installed by `make install DESTDIR=`, runs the scenarios of
# tests/vm/guest/scenarios in it, and prints one PASS/FAIL line per check and a final
# "N passed, N failed". Nothing on the host's PCI devices is touched.
#
# The NVMe sits on a fifth root port, after the others so their bus numbers stay (it gets bus
# 05); its medium is a scratch image made on every run.
# Kernel, initramfs and root image are cached in $VFIO_HOOK_VM_CACHE (default
# /var/cache/vfio-hook-vm), keyed by package versions; only the small payload disk (this
# tree's install and the scenarios) is made on every run.
# Environment: VFIO_HOOK_VM_SCENARIOS=a,b (default all), VFIO_HOOK_VM_ACCEL=tcg|kvm|auto,
# VFIO_HOOK_VM_TIMEOUT (seconds, default 1500).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${VFIO_HOOK_VM_CACHE:-/var/cache/vfio-hook-vm}
timeout_s=${VFIO_HOOK_VM_TIMEOUT:-1500}
log() { echo "# vm-check: $*"; }
die() { echo "FAIL vm-check: $*"; echo "0 passed, 1 failed"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap builds the guest's root file system)"

# Host tools, installed when missing. The initramfs needs busybox-static's binary.
need=""
for p in qemu-system-x86 debootstrap busybox-static e2fsprogs kmod cpio; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
if [ -n "$need" ]; then
	log "installing$need"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q $need >/dev/null || die "apt-get install$need failed"
fi
busybox_static=/bin/busybox
mkdir -p "$cache"

# --- kernel: the current Debian 12 image package, unpacked, never installed -------------
kpkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/ {print $2; exit}')
[ -n "$kpkg" ] || die "cannot find the kernel package (run apt-get update)"
kver=${kpkg#linux-image-}
kpkgver=$(apt-cache show "$kpkg" | awk '/^Version:/ {print $2; exit}')
kdir=$cache/kernel-$kver-$kpkgver
if [ ! -f "$kdir/.done" ]; then
	log "fetching $kpkg $kpkgver"
	rm -rf "$kdir" && mkdir -p "$kdir/dl"
	(cd "$kdir/dl" && apt-get download "$kpkg" >/dev/null 2>&1) || die "apt-get download $kpkg failed"
	dpkg -x "$kdir"/dl/*.deb "$kdir/x"
	rm -rf "$kdir/dl"
	depmod -b "$kdir/x" "$kver"
	touch "$kdir/.done"
fi
kmods=$kdir/x/lib/modules/$kver
vmlinuz=$kdir/x/boot/vmlinuz-$kver

# Module files (relative to the root) needed for MODULES, dependencies first.
module_closure() {
	for m in "$@"; do
		modprobe -d "$kdir/x" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
	done | sed "s|^$kdir/x/||" | awk '!seen[$0]++'
}

# --- initramfs: busybox, the disk drivers, stage-1 init -----------------------------------
boot_mods="virtio_pci virtio_blk crc32c_generic ext4"
ikey=$(cat "$here/initramfs-init" "$busybox_static" | sha256sum | cut -c1-12)
initrd=$cache/initramfs-$kver-$kpkgver-$ikey.cpio.gz
if [ ! -f "$initrd" ]; then
	log "building the initramfs"
	w=$(mktemp -d)
	mkdir -p "$w/bin"
	cp "$busybox_static" "$w/bin/busybox"
	cp "$here/initramfs-init" "$w/init"
	module_closure $boot_mods >"$w/modules.list"
	while read -r f; do mkdir -p "$w/$(dirname "$f")"; cp "$kdir/x/$f" "$w/$f"; done <"$w/modules.list"
	(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp" && mv "$initrd.tmp" "$initrd"
	rm -rf "$w"
fi

# --- root image: debootstrapped Debian 12 with libvirt (recipe in build-root.sh) -----------
. "$here/build-root.sh"

# --- payload: this tree, installed the way users install it -------------------------------
run=$cache/run
rm -rf "$run" && mkdir -p "$run/payload/root"
make -s -C "$top" all >/dev/null || die "make failed"
make -s -C "$top" install DESTDIR="$run/payload/root" PREFIX=/usr/local >"$run/install.log" 2>&1 ||
	die "make install DESTDIR=… failed: $(tail -n1 "$run/install.log")"
mkdir -p "$run/payload/root/usr/local/lib/vfio-hook-vm"
cp -r "$here/guest/." "$run/payload/root/usr/local/lib/vfio-hook-vm/"
mke2fs -q -t ext4 -L payload -d "$run/payload" "$run/payload.img" 64M >/dev/null
# The NVMe's medium: scratch, fresh (sparse) on every run; a scenario puts a filesystem on it.
truncate -s 256M "$run/nvme.img"

# --- accelerator: KVM only if it really boots this kernel ---------------------------------
accel=${VFIO_HOOK_VM_ACCEL:-auto}
if [ "$accel" = auto ]; then
	accel=tcg
	if [ -w /dev/kvm ] && timeout 30 qemu-system-x86_64 -machine q35,accel=kvm -cpu host -m 256 -nodefaults \
		-display none -serial stdio -no-reboot -kernel "$vmlinuz" -initrd "$initrd" \
		-append "console=ttyS0 vfio_hook.probe=1 panic=-1" </dev/null 2>/dev/null | grep -q VFIO-HOOK-PROBE-OK; then
		accel=kvm
	fi
fi
if [ "$accel" = kvm ]; then machine=q35,accel=kvm,kernel-irqchip=split cpu=host
else machine=q35,accel=tcg cpu=max; fi
log "booting the guest ($accel; console log in $run/console.log)"

scen=${VFIO_HOOK_VM_SCENARIOS:-all}
qemu=(qemu-system-x86_64 -machine "$machine" -cpu "$cpu" -smp 2 -m 2048 -nodefaults -no-reboot
	-display none -serial stdio -monitor none
	-kernel "$vmlinuz" -initrd "$initrd"
	-append "console=ttyS0 intel_iommu=on iommu=pt panic=-1 quiet loglevel=3 vfio_hook.scenarios=$scen"
	-device intel-iommu,intremap=on,caching-mode=on
	-drive "file=$rootimg,if=none,id=root,format=raw,snapshot=on" -device virtio-blk-pci,drive=root,serial=root,bus=pcie.0,addr=0x5
	-drive "file=$run/payload.img,if=none,id=payload,format=raw,readonly=on" -device virtio-blk-pci,drive=payload,serial=payload,bus=pcie.0,addr=0x6
	-device pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1,addr=0x2.0x0,multifunction=on
	-device pcie-root-port,id=rp2,bus=pcie.0,chassis=2,slot=2,addr=0x2.0x1
	-device pcie-root-port,id=rp3,bus=pcie.0,chassis=3,slot=3,addr=0x2.0x2
	-device pcie-root-port,id=rp4,bus=pcie.0,chassis=4,slot=4,addr=0x2.0x3
	-device bochs-display,bus=rp1,addr=0x0.0x0,multifunction=on
	-device ich9-intel-hda,bus=rp1,addr=0x0.0x1,id=hda -device hda-output,bus=hda.0
	-netdev user,id=n1,restrict=on -device e1000e,bus=rp2,netdev=n1
	-netdev user,id=n2,restrict=on -device e1000e,bus=rp3,netdev=n2
	-device qemu-xhci,bus=rp4,id=xhci -device usb-kbd,bus=xhci.0 -device usb-tablet,bus=xhci.0
	-device pcie-root-port,id=rp5,bus=pcie.0,chassis=5,slot=5,addr=0x2.0x4
	-drive "file=$run/nvme.img,if=none,id=nvme,format=raw" -device nvme,serial=vfio-hook-nvme,drive=nvme,bus=rp5)

start=$(date +%s)
set +e
timeout "$timeout_s" "${qemu[@]}" </dev/null 2>"$run/qemu.err" | stdbuf -oL tr -d '\r' | tee "$run/console.log" |
	grep --line-buffered -E '^(PASS|FAIL|INFO|VFIO-HOOK-VM-DONE)'
qrc=${PIPESTATUS[0]}
set -e
passed=$(grep -c '^PASS ' "$run/console.log" || true)
failed=$(grep -c '^FAIL ' "$run/console.log" || true)
if ! grep -q '^VFIO-HOOK-VM-DONE' "$run/console.log"; then
	if [ "$qrc" = 124 ]; then echo "FAIL vm-check: the guest did not finish within $timeout_s s"
	else echo "FAIL vm-check: the guest stopped early (qemu status $qrc: $(tail -n3 "$run/qemu.err" | tr '\n' ' '))"; fi
	tail -n 30 "$run/console.log" | sed 's/^/# console: /'
	failed=$((failed + 1))
fi
log "guest ran $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
