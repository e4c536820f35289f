#!/bin/bash
# make vm-check: boots a real Debian 12 kernel with an emulated Intel IOMMU, a GPU-like
# two-function device, two NICs, an xHCI and an NVMe under QEMU, with a real libvirtd inside and this
# tree's vfio-hook installed by `make install DESTDIR=`, runs the scenarios of
# tests/vm/guest/scenarios in it, and prints one PASS/FAIL line per check and a final
# "N passed, N failed", always the last line; before it, each scenario's wall time (slowest
# first) and each boot's. Nothing on the host's PCI devices is touched. The same image is booted
# once per boot profile (see profile() below) that the chosen scenarios name, or once per shard
# of it when guests run side by side (see "jobs" below); a scenario may name several profiles
# ("# vm-boot: noiommu novtd") and runs in each.
#
# The NVMe sits on a fifth root port, after the others so their bus numbers stay (it gets bus
# 05); its medium is a scratch image made on every run.
# Kernel, initramfs and root image are cached in $VFIO_HOOK_VM_CACHE (default
# /var/cache/vfio-hook-vm), keyed by package versions; only the small payload disk (this
# tree's install and the scenarios) is made on every run.
# Environment: VFIO_HOOK_VM_SCENARIOS=a,b (default all; names with or without their number),
# VFIO_HOOK_VM_ACCEL=tcg|kvm|auto, VFIO_HOOK_VM_JOBS=N: guests at once (default one per two
# cores, see "jobs" below), VFIO_HOOK_VM_TIMEOUT: each boot has a budget of its own,
# derived from what its scenarios need (see "budget" below); "3x" multiplies those budgets by 3
# instead of the default 2, a plain number gives every boot that many seconds (at least 1).
# VFIO_HOOK_VM_PLAN=1 prints the plan, a line per boot, and stops (tests/vm-plan.sh).
set -euo pipefail
# The whole script is one compound command, read before it runs: a run takes most of an hour,
# and an edit of this file meanwhile must not change what the running one does.
{
t_run=$(date +%s)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
cache=${VFIO_HOOK_VM_CACHE:-/var/cache/vfio-hook-vm}
log() { echo "# vm-check: $*"; }
die() { echo "FAIL vm-check: $*"; echo "0 passed, 1 failed"; exit 1; }

# --- boots: the same kernel, initramfs and root image, each with its own command line, init
# or firmware, running the scenarios that name it ("# vm-boot: NAME..."; none: default) -------
# The CPU says GenuineIntel, as on the Intel desktop the rest mimics (TCG's "max" says AMD).
# Every boot has mitigations=off (the Linux L2s too, tests/vm/guest/lib.sh): an Intel CPU that
# does not say it is immune gets page-table isolation, which switches page tables on each
# system call and interrupt, and TCG flushes its whole emulated TLB on each switch. With it off
# a virsh start of a no-OS L2 took 7 s instead of 15-23 s; these guests hold nothing to protect.
boots="default noiommu novtd systemd ovmf"
# profile NAME: sets p_append (kernel command line), p_fw (firmware), p_iommu (the IOMMU device)
# and p_base (the budget's part for booting to libvirtd and powering off, in seconds: see below).
profile() {
	p_fw=() p_iommu=(-device intel-iommu,intremap=on,caching-mode=on) p_base=240 p_smp=2
	case $1 in
	# A host whose GPU-like device is a second GPU: no framebuffer console on it (fbcon maps
	# the consoles to an fb1 there is not), so the hook may take it without a hand-over.
	default) p_append="console=ttyS0 intel_iommu=on iommu=pt fbcon=map:1" ;;
	# The IOMMU off on the command line (Debian 12's kernel turns it on without intel_iommu=on).
	noiommu) p_append="console=ttyS0 intel_iommu=off" p_base=180 ;;
	# VT-d off in the firmware: no DMAR table, no intel_iommu=on either.
	novtd) p_append="console=ttyS0" p_iommu=() p_base=180 ;;
	# A desktop: systemd as PID 1 (udev, journald, libvirtd and display-manager.service as units),
	# bochs-drm with the framebuffer console on the GPU-like device; the console on tty1 too.
	# Four CPUs: two VMs with CPUs of their own, and the host's units on what is left (40-claims).
	systemd) p_append="console=tty0 console=ttyS0 intel_iommu=on iommu=pt init=/lib/systemd/systemd systemd.show_status=0" p_base=300 p_smp=4 ;;
	# The same through UEFI (OVMF) with bochs-drm kept out: the firmware's framebuffer (efifb)
	# holds the GPU-like device's BAR and fbcon sits on it; no display manager (no DRM device).
	ovmf) p_append="console=tty0 console=ttyS0 intel_iommu=on iommu=pt init=/lib/systemd/systemd systemd.show_status=0 modprobe.blacklist=bochs systemd.mask=fakedm.service"
		p_fw=(-bios /usr/share/ovmf/OVMF.fd) p_base=420 ;;
	*) return 1 ;;
	esac
}
scen=${VFIO_HOOK_VM_SCENARIOS:-all}
selected() { # SCENARIO-FILE: chosen by VFIO_HOOK_VM_SCENARIOS (the guest's init matches the same way)
	n=$(basename "$1" .sh)
	case ",$scen," in *",all,"* | *",$n,"* | *",${n#*-},"*) return 0 ;; esac
	return 1
}
header() { sed -n "s/^# $2: *//p" "$1" | head -n1; } # SCENARIO-FILE KEY: the value of its "# KEY:" line
boots_of() { b=$(header "$1" vm-boot); echo "${b:-default}"; }
# The plan: each profile's scenarios, in order, with their allowances; each scenario's headers
# read once: its allowance (t_of), whether it needs the shared Linux L2s (l2_of) and whether it
# reboots the guest (rb_of).
declare -A allow=() plist=() t_of=() l2_of=() rb_of=()
for s in "$here"/guest/scenarios/*.sh; do
	selected "$s" || continue
	n=$(basename "$s" .sh) t=$(header "$s" vm-time)
	case $t in '' | *[!0-9]*) t=60 ;; esac
	t_of[$n]=$t
	case $(header "$s" vm-needs) in *linux-l2*) l2_of[$n]=1 ;; esac
	[ "$(header "$s" vm-reboot)" != yes ] || rb_of[$n]=1
	for b in $(boots_of "$s"); do
		profile "$b" || die "$n.sh names boot profile '$b', which run.sh does not define"
		allow[$b]=$(( ${allow[$b]:-0} + t )) plist[$b]="${plist[$b]:-} $n"
	done
done
[ ${#allow[@]} -gt 0 ] || die "VFIO_HOOK_VM_SCENARIOS=$scen matches no scenario in tests/vm/guest/scenarios"
# Each name in the list names a scenario: a typo fails the run instead of leaving one out.
for w in ${scen//,/ }; do
	[ "$w" != all ] || continue
	for s in "$here"/guest/scenarios/*.sh; do
		n=$(basename "$s" .sh)
		[ "$w" != "$n" ] && [ "$w" != "${n#*-}" ] || continue 2
	done
	die "VFIO_HOOK_VM_SCENARIOS: '$w' names no scenario in tests/vm/guest/scenarios (names with or without their number)"
done

# Boots run side by side, VFIO_HOOK_VM_JOBS at a time: by default one per two cores, as many as
# the memory holds (a guest takes 2 GiB and its L2s), at most 4. A guest under TCG keeps most
# of two cores busy: on a 2-core machine two at once ran each about 1.6 times slower (the
# Linux L2s' boot 1.8 times), a gain of a few percent for timing checks missed, so there one
# runs at a time. With more than one at a time, a profile whose allowances are large is split
# into shards, each a boot of its own running part of its scenarios: about two shards per lane,
# so that the lanes end together. The scenarios that share the Linux L2s ("# vm-needs:
# linux-l2") stay in one shard, which boots the L2s once.
# VFIO_HOOK_VM_JOBS=N asks for N (1 to 8), as many as the memory holds.
memk=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
fit=$(( ${memk:-0} / (3 * 1024 * 1024) ))
[ "$fit" -ge 1 ] || fit=1
jobs=${VFIO_HOOK_VM_JOBS:-}
if [ -z "$jobs" ]; then
	jobs=$(( $(nproc) / 2 ))
	[ "$jobs" -le 4 ] || jobs=4
	[ "$jobs" -ge 1 ] || jobs=1
fi
case $jobs in [1-8]) ;; *) die "VFIO_HOOK_VM_JOBS=$jobs: give the number of guests to run at once, 1 to 8" ;; esac
if [ "$jobs" -gt "$fit" ]; then
	log "$jobs guests at once do not fit in $(( ${memk:-0} / 1024 )) MiB of available memory (3 GiB each): $fit at a time"
	jobs=$fit
fi
declare -A s_prof=() s_list=() s_allow=()
shards=""
total=0
for b in $boots; do
	[ -n "${allow[$b]:-}" ] || continue
	profile "$b"; total=$(( total + p_base + ${allow[$b]} ))
done
target=$(( total / (2 * jobs) ))
for b in $boots; do
	[ -n "${allow[$b]:-}" ] || continue
	profile "$b"
	k=1
	[ "$jobs" = 1 ] || k=$(( (p_base + ${allow[$b]} + target - 1) / target ))
	# Units: each scenario, but those that share the Linux L2s are one. The largest first, each
	# to the shard with the least so far (ties: the first).
	units=$(for n in ${plist[$b]}; do
		if [ -n "${l2_of[$n]:-}" ]; then echo "${t_of[$n]} l2 $n"; else echo "${t_of[$n]} $n $n"; fi
	done | awk '{ w[$2] += $1; m[$2] = m[$2] "," $3 } END { for (u in w) print w[u], substr(m[u], 2) }' | sort -k1,1nr -k2)
	declare -A fill=() mem=()
	for i in $(seq "$k"); do fill[$i]=0 mem[$i]=""; done
	while read -r w names; do
		best=1
		for i in $(seq "$k"); do [ "${fill[$i]}" -ge "${fill[$best]}" ] || best=$i; done
		fill[$best]=$(( ${fill[$best]} + w )) mem[$best]="${mem[$best]},$names"
	done <<<"$units"
	used=0
	for i in $(seq "$k"); do [ -z "${mem[$i]}" ] || used=$((used + 1)); done
	for i in $(seq "$k"); do
		[ -n "${mem[$i]}" ] || continue
		id=$b; [ "$used" = 1 ] || id=$b.$i
		shards="$shards $id"
		s_prof[$id]=$b s_allow[$id]=${fill[$i]}
		s_list[$id]=$(echo "${mem[$i]}" | tr ',' '\n' | grep . | sort | tr '\n' ',' | sed 's/,$//')
	done
	unset fill mem
done
# A shard's budget, its own: its profile's p_base, plus each of its scenarios' allowance ("#
# vm-time: SECONDS", default 60: what it takes on a busy 2-core machine under TCG, its reboot
# included), plus L2_POOL_S if one of them needs the shared Linux L2s (they boot once, in the
# background), times VFIO_HOOK_VM_TIMEOUT when that is a factor ("3x"; default 2x); a plain
# number of seconds there is every boot's budget instead. A boot that runs out fails with its
# line, and the others still get their own budgets.
L2_POOL_S=300
mult=2 fixed=""
vmt=${VFIO_HOOK_VM_TIMEOUT:-2x}
case $vmt in
*x) mult=${vmt%x} ;;
x*) mult=${vmt#x} ;;
*) fixed=$vmt ;;
esac
case ${fixed:-$mult} in '' | *[!0-9.]* | .*) die "VFIO_HOOK_VM_TIMEOUT=$vmt: give a factor (3x) or seconds per boot (3600)" ;; esac
shard_has() { # SHARD ARRAY: one of its scenarios is in ARRAY (l2_of, rb_of)
	local -n members=$2
	for n in ${s_list[$1]//,/ }; do [ -z "${members[$n]:-}" ] || return 0; done
	return 1
}
declare -A s_budget=()
for id in $shards; do
	profile "${s_prof[$id]}"
	pool=0; ! shard_has "$id" l2_of || pool=$L2_POOL_S
	if [ -n "$fixed" ]; then s_budget[$id]=$fixed
	else s_budget[$id]=$(awk -v s=$(( p_base + ${s_allow[$id]} + pool )) -v m="$mult" 'BEGIN { printf "%d\n", s * m }'); fi
	# A budget under a second would be no deadline at all (timeout 0 waits for ever).
	[ "${s_budget[$id]}" -ge 1 ] || die "VFIO_HOOK_VM_TIMEOUT=$vmt gives boot $id a budget of ${s_budget[$id]} s: give a factor (3x) or seconds per boot (3600), at least 1"
done
# VFIO_HOOK_VM_PLAN=1: the plan only, a line per boot ("BOOT PROFILE BUDGET SCENARIO,..."),
# nothing fetched, built or booted.
if [ -n "${VFIO_HOOK_VM_PLAN:-}" ]; then
	for id in $shards; do echo "$id ${s_prof[$id]} ${s_budget[$id]} ${s_list[$id]}"; done
	exit 0
fi

[ "$(id -u)" = 0 ] || die "needs root (debootstrap builds the guest's root file system)"


# Host tools, installed when missing. The initramfs needs busybox-static's binary, the ovmf boot OVMF.
need=""
for p in qemu-system-x86 debootstrap busybox-static e2fsprogs kmod cpio ovmf; do
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
# What a Debian host has and doctor reads: the kernel's config.
mkdir -p "$run/payload/root/boot" && cp "$kdir/x/boot/config-$kver" "$run/payload/root/boot/"
# The systemd boots' units (libvirtd's own are in libvirt-daemon-system, not installed), and the
# display manager's stand-in: a program that holds /dev/dri/card0 like a compositor.
mkdir -p "$run/payload/root/etc/systemd/system" && cp -a "$here/systemd/." "$run/payload/root/etc/systemd/system/"
cc -O2 -Wall -Wextra -Werror -o "$run/payload/root/usr/local/lib/vfio-hook-vm/fakedm" "$here/fakedm.c" || die "cannot build tests/vm/fakedm.c"
# A probe that fails once, for the give-back's retry (scenario probe-retry): an LD_PRELOAD.
cc -O2 -Wall -Wextra -Werror -shared -fPIC -o "$run/payload/root/usr/local/lib/vfio-hook-vm/failprobe.so" "$here/failprobe.c" -ldl ||
	die "cannot build tests/vm/failprobe.c"
mke2fs -q -t ext4 -L payload -d "$run/payload" "$run/payload.img" 64M >/dev/null

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
else machine=q35,accel=tcg cpu=max,vendor=GenuineIntel; fi

# One boot: QEMU under its budget, its console into console-SHARD.log, what it printed and how
# it ended into SHARD.out and SHARD.end.
lines='^(PASS|FAIL|INFO|TIME|VFIO-HOOK-VM-DONE)'
boot() { # SHARD
	set +e
	id=$1 b=${s_prof[$1]}
	profile "$b"
	budget=${s_budget[$id]}
	con=$run/console-$id.log
	t0=$(date +%s)
	# A boot whose scenario reboots the guest keeps QEMU running across the reboot.
	noreboot=(-no-reboot)
	! shard_has "$id" rb_of || noreboot=()
	qemu=(qemu-system-x86_64 -machine "$machine" -cpu "$cpu" -smp "$p_smp" -m 2048 -nodefaults "${noreboot[@]}"
		-display none -serial stdio -monitor none "${p_fw[@]}"
		-kernel "$vmlinuz" -initrd "$initrd"
		-append "$p_append mitigations=off panic=-1 quiet loglevel=3 vfio_hook.boot=$b vfio_hook.scenarios=${s_list[$id]}"
		"${p_iommu[@]}"
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
		-drive "file=$run/nvme-$id.img,if=none,id=nvme,format=raw" -device nvme,serial=vfio-hook-nvme,drive=nvme,bus=rp5)
	# A fresh scratch medium for the NVMe on every boot.
	rm -f "$run/nvme-$id.img" && truncate -s 256M "$run/nvme-$id.img"
	# OVMF paints the serial line with terminal escapes: drop them with the carriage returns.
	# One boot at a time: its lines as they come; else when it ends.
	timeout -k 30 "$budget" "${qemu[@]}" -pidfile "$run/qemu-$id.pid" </dev/null 2>"$run/qemu-$id.err" | sed -u -e 's/\r//g' -e 's/\x1b\[[0-9;=?]*[A-Za-z]//g' | tee "$con" |
		if [ "$jobs" = 1 ]; then grep --line-buffered -E "$lines"; else cat >/dev/null; fi
	qrc=${PIPESTATUS[0]}
	{
		[ "$jobs" = 1 ] || grep -E "$lines" "$con"
		if ! grep -q '^VFIO-HOOK-VM-DONE' "$con"; then
			if [ "$qrc" = 124 ]; then echo "FAIL vm-check: boot $id did not finish within its budget of $budget s"
			else echo "FAIL vm-check: boot $id stopped early (qemu status $qrc: $(tail -n3 "$run/qemu-$id.err" | tr '\n' ' '))"; fi
			tail -n 30 "$con" | sed 's/^/# console: /'
		fi
	} >"$run/$id.out"
	rm -f "$run/nvme-$id.img"
	echo "$(( $(date +%s) - t0 )) $budget" >"$run/$id.end"
}

# One at a time: the profiles in their order. Side by side: the largest shards first, a boot
# starting as soon as a lane is free, each boot's lines printed when it ends, whole.
order=$shards
[ "$jobs" = 1 ] || order=$(for id in $shards; do echo "${s_budget[$id]} $id"; done | sort -k1,1nr | awk '{print $2}')
log "kernel, initramfs, root image and payload ready after $(( $(date +%s) - t_run )) s"
log "boots, $jobs at a time ($accel): $(for id in $order; do printf '%s[%s] ' "$id" "${s_list[$id]}"; done)"
start=$(date +%s)
declare -A pid_of=()
running=0
# A run that ends early (interrupted, or a failure of its own) leaves no guest running: each
# QEMU runs in timeout's process group, not in ours.
stop_guests() {
	for f in "$run"/qemu-*.pid; do
		p=$(cat "$f" 2>/dev/null) || continue
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" != qemu-system-x86 ] || kill "$p" 2>/dev/null || true
	done
}
trap stop_guests EXIT
finish() { # SHARD: print what it ran
	read -r took budget <"$run/$1.end"
	cat "$run/$1.out" 2>/dev/null || true
	log "boot $1 ran $took s (budget $budget s; console log in $run/console-$1.log)"
	ran="$ran$1 $took $budget"$'\n'
}
ran=""
reap() { # wait for one boot to end, and print it
	wait -n || true
	for r in "${!pid_of[@]}"; do
		kill -0 "${pid_of[$r]}" 2>/dev/null && continue
		wait "${pid_of[$r]}" 2>/dev/null || true
		unset "pid_of[$r]"; running=$((running - 1))
		# A boot killed before it could say how it ended (a signal, a full disk) is a failure.
		[ -f "$run/$r.end" ] || echo "0 0" >"$run/$r.end"
		[ -f "$run/$r.out" ] || echo "FAIL vm-check: boot $r ended without a result (killed?); its console is $run/console-$r.log" >"$run/$r.out"
		finish "$r"
	done
}
for id in $order; do
	while [ "$running" -ge "$jobs" ]; do reap; done
	log "boot $id starts (budget ${s_budget[$id]} s; $(( $(date +%s) - start )) s in)"
	boot "$id" &
	pid_of[$id]=$!; running=$((running + 1))
done
while [ "$running" -gt 0 ]; do reap; done
failed_boots=$(cat "$run"/*.out | grep -c '^FAIL vm-check: boot ' || true)
for id in $shards; do cat "$run/console-$id.log" 2>/dev/null || true; done >"$run/console.log"
# The figures: each scenario's wall time in the guest (its TIME line), slowest first; one that
# did not finish (its boot ran out or stopped) is named; then each boot's time.
log "scenario times, slowest first:"
for b in $shards; do
	[ -f "$run/console-$b.log" ] || continue
	awk -v b="$b" '$1 == "TIME" { done[$3] = 1; print $4, $3, b } $1 == "INFO" && $2 == "scenario" && NF == 3 { last = $3 }
		END { if (last != "" && !(last in done)) print -1, last, b }' "$run/console-$b.log"
done | sort -k1,1nr | awk '{ printf "# vm-check: %6s  %s (%s)\n", $1 < 0 ? "unfinished" : $1 " s", $2, $3 }'
# Each planned scenario has its TIME line, or is named: one its boot never reached, after that
# boot's failure; one a finished boot left out is a failure of its own.
notrun=0
for id in $shards; do
	con=$run/console-$id.log
	for n in ${s_list[$id]//,/ }; do
		! grep -q "^TIME [^ ]* $n " "$con" 2>/dev/null || continue
		! grep -qx "INFO scenario $n" "$con" 2>/dev/null || continue
		if grep -q '^VFIO-HOOK-VM-DONE' "$con" 2>/dev/null; then
			echo "FAIL vm-check: boot $id finished without running $n"; notrun=$((notrun + 1))
		else log "   not run  $n ($id)"; fi
	done
done
printf '%s' "$ran" | while read -r b took budget; do log "boot $b: $took s of its $budget s budget"; done
log "guests ran $(( $(date +%s) - start )) s"
passed=$(grep -c '^PASS ' "$run/console.log" || true)
failed=$(( $(grep -c '^FAIL ' "$run/console.log" || true) + failed_boots + notrun ))
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
exit
}
