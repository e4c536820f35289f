#!/bin/sh
# make bench: how fast vfio-hook is where it runs most, side by side with what it replaces.
# Prints figures (medians over repeated runs, and their ratios); it never fails because a
# machine is slow.
#
# Each tree of N PCI functions (bench/mktree.sh) is built on a tmpfs and bind-mounted over /sys
# inside a private mount namespace (unshare), so that nothing here is seen by, or written to,
# the host's /sys; bench/sysfs-magic.c lets libudev take that tmpfs for sysfs.
#   BENCH_RUNS=21 BENCH_SEED_RUNS=3 BENCH_SIZES="14 125 500" bench/bench.sh
# The stopwatch's figures, and a hook call's arguments, are split into words on purpose.
# shellcheck disable=SC2046,SC2086
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
bin=${BENCH_BIN:-$top/hook/vfio-hook}
runs_bin=$top/build/bench/runs
magic=$top/build/bench/sysfs-magic.so
fakekernel=$top/build/fakekernel.so
runs=${BENCH_RUNS:-21}
seed_runs=${BENCH_SEED_RUNS:-3}
sizes=${BENCH_SIZES:-14 125 500}

die() { echo "bench: $*" >&2; exit 2; }

if [ -z "${BENCH_INSIDE:-}" ]; then
	for tool in unshare mount lspci bash; do
		command -v "$tool" >/dev/null || die "needs $tool (util-linux, pciutils, bash)"
	done
	if ! [ -x "$bin" ] || ! [ -x "$runs_bin" ] || ! [ -f "$magic" ] || ! [ -f "$fakekernel" ]; then die "run it as: make bench"; fi
	host_ns=$(readlink /proc/self/ns/mnt)
	# Root gets a mount namespace; anyone else a user namespace too, where they may mount.
	if [ "$(id -u)" -eq 0 ]; then set -- unshare --mount --propagation private
	else set -- unshare --user --map-root-user --mount --propagation private; fi
	exec env BENCH_INSIDE=1 BENCH_HOST_NS="$host_ns" "$@" sh "$0"
fi

# ---- from here on, in the private mount namespace ----
[ "$(readlink /proc/self/ns/mnt)" != "$BENCH_HOST_NS" ] || die "not in a private mount namespace: stopping"
# Nothing mounted here may reach the host: no mount may be a shared one.
! grep -q ' shared:' /proc/self/mountinfo || die "a mount here still propagates to the host: stopping"

work=$(mktemp -d /tmp/vfio-hook-bench.XXXXXX)
mount -t tmpfs -o mode=0755 vfio-hook-bench "$work"
sys_mounted= dev_mounted=
cleanup() {
	[ -z "$dev_mounted" ] || umount -R /dev
	[ -z "$sys_mounted" ] || umount -R /sys
	umount -R "$work" && rmdir "$work"
}
trap cleanup EXIT

# The hook's and --check's inputs: a map giving the GPU at 0000:09:00 to win10 (the same 4
# functions at every size), and no other VM.
mkdir -p "$work/state" "$work/run"
printf '%s\n' "[pci gpu]" "device = 0000:09:00.0" "device = 0000:09:00.1" "device = 0000:09:00.2" "device = 0000:09:00.3" \
	"[vm win10]" "pci = gpu" >"$work/map.ini"
chmod 644 "$work/map.ini"
printf "<domain type='kvm'><name>other</name><uuid>c7a5fdbd-edaf-9455-926a-d65c16db1809</uuid><devices><disk type='file' device='disk'><source file='/var/lib/libvirt/images/other.qcow2'/></disk></devices></domain>\n" >"$work/other.xml"
printf "<domain type='kvm'><name>win10</name><devices>%s</devices></domain>\n" \
	"$(for f in 0 1 2 3; do printf "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x09' slot='0x00' function='0x%s'/></source></hostdev>" $f; done)" >"$work/win10.xml"
export VFIO_HOOK_CONFIG="$work/map.ini" VFIO_HOOK_STATE_DIR="$work/state" VFIO_HOOK_LIBVIRT_RUN_DIR="$work/run"
# The seed's listing, the script its README points to (Arch wiki, PCI passthrough, 2.2).
cat >"$work/seed.sh" <<'SEED'
#!/bin/bash
shopt -s nullglob
for g in $(find /sys/kernel/iommu_groups/* -maxdepth 0 -type d | sort -V); do
    echo "IOMMU Group ${g##*/}:"
    for d in $g/devices/*; do
        echo -e "\t$(lspci -nns ${d##*/})"
    done;
done;
SEED

# run N [-i FILE] -- CMD... [-- CMD...]: per command "MEDIAN_US MAX_RSS_KB STATUS", one line
# each, the commands taking turns; the preload on.
run() { LD_PRELOAD="$magic${LD_PRELOAD:+:$LD_PRELOAD}" "$runs_bin" "$@"; }
ms() { awk -v us="$1" 'BEGIN { printf(us < 10000 ? "%.2f ms" : us < 100000 ? "%.1f ms" : "%.0f ms", us / 1000) }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { r = a / b; printf(r < 10 ? "%.2fx" : "%.0fx", r) }'; }
mib() { awk -v kb="$1" 'BEGIN { printf("%.1f MiB", kb / 1024) }'; }

mount_tree() { # DIR N: DIR over /sys, and proof that /sys is now it
	mount --bind "$1" /sys
	sys_mounted=1
	awk '$5 == "/sys" { last = $0 } END { exit !(last ~ / - tmpfs /) }' /proc/self/mountinfo || die "/sys is not the bench's tmpfs: stopping"
	[ "$(find /sys/bus/pci/devices -mindepth 1 -maxdepth 1 | wc -l)" -eq "$2" ] || die "/sys does not hold the bench's $2 functions: stopping"
}
unmount_tree() { umount /sys; sys_mounted=; }

echo "vfio-hook bench: $(nproc) CPUs, Linux $(uname -r), $(lspci --version 2>&1 | head -1)"
echo "medians of $runs runs (seed loop: $seed_runs); fake sysfs trees on tmpfs in a private mount namespace"
echo
printf '%9s  %10s  %10s  %12s  %10s  %11s  %10s  %10s\n' functions groups "lspci -nn" groups/lspci "seed loop" seed/groups --check "groups RSS"
first=
for n in $sizes; do
	"$here/mktree.sh" "$n" "$work/tree-$n"
	mount_tree "$work/tree-$n" "$n"
	[ -n "$first" ] || first=$n
	# groups and lspci take turns, and so do the seed's loop and groups: each pair shares the load.
	set -- $(run "$runs" -- "$bin" groups -- lspci -nn); g=$1 grss=$2 gst=$3 l=$4
	[ "$gst" -eq 0 ] || echo "bench: vfio-hook groups exited with status $gst on $n functions" >&2
	set -- $(run "$seed_runs" -- bash "$work/seed.sh" -- "$bin" groups); s=$1 gs=$4
	set -- $(run "$runs" -- "$bin" --check win10 --xml "$work/win10.xml"); c=$1
	printf '%9s  %10s  %10s  %12s  %10s  %11s  %10s  %10s\n' "$n" "$(ms "$g")" "$(ms "$l")" "$(ratio "$g" "$l")" \
		"$(ms "$s")" "$(ratio "$s" "$gs")" "$(ms "$c")" "$(mib "$grss")"
	unmount_tree
done

echo
echo "the hook for a VM not in the map, as libvirt runs it: sh -c 'HOOK VM OP SUBOP - < domain.xml'"
mount_tree "$work/tree-$first" "$first"
for call in "prepare begin -" "started begin -" "release end -"; do
	set -- $(run "$runs" -- sh -c "$bin other $call <$work/other.xml" -- sh -c "/bin/true other $call <$work/other.xml"); h=$1 t=$4
	set -- $(run 3 -i "$work/other.xml" -- "$bin" other $call); hrss=$2
	printf '  %-16s %10s   /bin/true %10s   %6s   peak RSS %s\n' "$call" "$(ms "$h")" "$(ms "$t")" "$(ratio "$h" "$t")" "$(mib "$hrss")"
done

# A start and a stop of the GPU's 4 functions, as libvirt runs them, on the smallest tree with
# the test suite's fake kernel (tests/lib/fakekernel.c) doing the bind and unbind: its writes
# take microseconds, so the whole run is vfio-hook's own work (discovery, the checks, the
# records, a child for the writes), to be kept under 10 ms. VFIO_HOOK_TEST keeps every
# write in the tree (the fake kernel's testbed is the same tmpfs, seen at $work/fake/sys) and
# every program (modprobe) a stand-in; a tmpfs over /dev, private to this namespace, takes the
# /dev/vfio nodes it makes.
echo
echo "a start and a stop of a 4-function GPU, the fake kernel doing the bind and unbind: vfio-hook's own time"
mount_tree "$work/tree-$first" "$first"
mkdir -p "$work/fake/sys"
mount --bind "$work/tree-$first" "$work/fake/sys"
mkdir -p "$work/fake/dev/vfio" "$work/fake/fakekernel/native" "$work/fake/proc" "$work/olddev"
# The display checks read the host's /proc through the test root; what a stand-in would note
# there ($VFIO_HOOK_TEST_ROOT/calls) stays in the bench's tmpfs.
mount --bind /proc "$work/fake/proc"
for link in /sys/bus/pci/devices/*; do
	d=$(readlink "$link/driver") && echo "${d##*/}" >"$work/fake/fakekernel/native/${link##*/}"
done
mount --bind /dev "$work/olddev"
mount -t tmpfs -o mode=0755 vfio-hook-bench-dev /dev
dev_mounted=1
for node in null zero full random urandom; do
	: >"/dev/$node"
	mount --bind "$work/olddev/$node" "/dev/$node"
done
mkdir /dev/vfio
mount --bind "$work/fake/dev/vfio" /dev/vfio
drivers() { for f in 0 1 2 3; do d=$(readlink "/sys/bus/pci/devices/0000:09:00.$f/driver") && printf '%s ' "${d##*/}"; done; }
before=$(drivers)
set -- $(VFIO_HOOK_TEST=1 VFIO_HOOK_TEST_BIN="$top/tests/lib/bin" VFIO_HOOK_TEST_ROOT="$work/fake" UMOCKDEV_DIR="$work/fake" LD_PRELOAD="$fakekernel" \
	run "$runs" -i "$work/win10.xml" -- "$bin" win10 prepare begin - -- "$bin" win10 release end -)
p=$1 prss=$2 pst=$3 rl=$4 rst=$6
[ "$pst" -eq 0 ] && [ "$rst" -eq 0 ] && [ "$(drivers)" = "$before" ] ||
	echo "bench: the start or the stop failed (status $pst, $rst; drivers now: $(drivers))" >&2
printf '  %-16s %10s   peak RSS %s\n' "prepare begin" "$(ms "$p")" "$(mib "$prss")"
printf '  %-16s %10s\n' "release end" "$(ms "$rl")"
umount -R /dev
dev_mounted=
unmount_tree
