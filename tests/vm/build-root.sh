# Sourced by run.sh: the guest's root image, rebuilt only when this recipe, the kernel or the
# candidate versions of its packages change.
# shellcheck shell=bash
include=systemd,dbus,libvirt-daemon,libvirt-daemon-driver-qemu,libvirt-clients,qemu-system-x86,kmod,pciutils,procps,iproute2,psmisc,busybox,udev,libinih1,libudev1,libxml2,e2fsprogs,btrfs-progs
l2_mods="button evdev"
guest_mods="e1000e snd_hda_intel snd_hda_codec_generic bochs xhci_pci usbhid hid_generic nvme btrfs vfio_pci vfio_iommu_type1 $boot_mods"
mirror=$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || die "no Debian mirror in the host's apt sources"
pkgvers=$(apt-cache policy ${include//,/ } 2>/dev/null | awk '/^[a-z0-9]/ {p=$1} /Candidate:/ {print p $2}' | tr -d '\n')
rkey=$(printf '%s\n' "$kver$kpkgver" "$include" "$guest_mods" "$l2_mods" "$pkgvers" | cat - "$here/l2-init" "$here/build-root.sh" | sha256sum | cut -c1-12)
rootimg=$cache/root-$rkey.img
if [ ! -f "$rootimg" ]; then
	log "building the guest root image (debootstrap from $mirror; a few minutes)"
	rm -f "$cache"/root-*.img
	r=$cache/rootfs.tmp
	rm -rf "$r"
	debootstrap --variant=minbase --include="$include" bookworm "$r" "$mirror" >"$cache/debootstrap.log" 2>&1 ||
		die "debootstrap failed (see $cache/debootstrap.log)"
	# Without libvirt-daemon-system these do not exist (user, group and kvm), and the QEMU driver refuses to load.
	chroot "$r" sh -c 'getent group kvm >/dev/null || groupadd -r kvm; getent group libvirt-qemu >/dev/null || groupadd -r libvirt-qemu; id libvirt-qemu >/dev/null 2>&1 || useradd -r -g kvm -d /var/lib/libvirt -s /usr/sbin/nologin libvirt-qemu'
	printf 'user = "root"\ngroup = "root"\nsecurity_driver = "none"\nstdio_handler = "file"\n' >>"$r/etc/libvirt/qemu.conf"
	module_closure $guest_mods | while read -r f; do mkdir -p "$r/$(dirname "$f")"; cp "$kdir/x/$f" "$r/$f"; done
	cp "$kmods"/modules.builtin* "$kmods/modules.order" "$r/lib/modules/$kver/"
	depmod -b "$r" "$kver"
	# The Linux L2: the same kernel and a busybox init that only waits.
	l2=$r/usr/local/lib/vfio-hook-vm/l2
	mkdir -p "$l2"
	cp "$vmlinuz" "$l2/vmlinuz"
	# ... and uncompressed: QEMU boots an ELF vmlinux through its PVH entry (CONFIG_PVH), which
	# spares the L2 unpacking an xz bzImage (to its init under plain TCG: 3.2 s against 14.5 s;
	# under TCG-in-TCG, where the rest of its boot weighs far more, 239 s against 262-297 s on a
	# busy host). define_l2 falls back to the bzImage without it.
	# (xz stops at the bzImage's trailer, with an error the output does not need.)
	xzat=$(LC_ALL=C grep -abo $'\xfd7zXZ' "$vmlinuz" | head -n1 | cut -d: -f1) || true
	if [ -n "$xzat" ]; then tail -c +$((xzat + 1)) "$vmlinuz" | xz -dc >"$l2/vmlinux" 2>/dev/null || true; fi
	if [ "$(head -c4 "$l2/vmlinux" 2>/dev/null | od -An -tx1 | tr -d ' ')" != 7f454c46 ] ||
		! grep -qx 'CONFIG_PVH=y' "$kdir/x/boot/config-$kver"; then
		log "no PVH vmlinux from $kpkg: the Linux L2 boots its bzImage"
		rm -f "$l2/vmlinux"
	fi
	w=$(mktemp -d); mkdir -p "$w/bin" "$w/lib"; cp "$busybox_static" "$w/bin/busybox"; cp "$here/l2-init" "$w/init"
	# The ACPI power button as an input device, for evict = shutdown.
	module_closure $l2_mods | while read -r f; do cp "$kdir/x/$f" "$w/lib/"; echo "/lib/${f##*/}"; done >"$w/lib/modules.list"
	(cd "$w" && find . | cpio -o -H newc --quiet | gzip -1) >"$l2/initrd"; rm -rf "$w"
	rm -rf "$r"/var/cache/apt/archives/*.deb "$r"/var/lib/apt/lists/* "$r"/usr/share/doc "$r"/usr/share/man "$r"/usr/share/locale
	mke2fs -q -t ext4 -L root -d "$r" "$rootimg.tmp" 1600M >/dev/null || die "mke2fs of the root image failed"
	mv "$rootimg.tmp" "$rootimg"
	rm -rf "$r"
fi

