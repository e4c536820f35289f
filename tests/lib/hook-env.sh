# The set-up the hook suites share: a work directory, the map, domain XMLs, fixture sessions.
# shellcheck shell=sh
bin=${VFIO_HOOK_BIN:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export VFIO_HOOK_CONFIG="$work/map.ini" VFIO_HOOK_STATE_DIR="$work/state" VFIO_HOOK_LIBVIRT_RUN_DIR="$work/run"
GPU="0000:09:00.0 0000:09:00.1 0000:09:00.2 0000:09:00.3"

map() { printf '%s\n' "$@" >"$work/map.ini"; chmod 644 "$work/map.ini"; }
full_map() {
	map "[options]" "timeout = ${1:-2}" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" \
		"device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm linux]" "pci = gpu"
}
# gpu_map [KEY = VALUE]...: the GPU for win10, linux and test, libvirt its test driver; the
# lines given go to [options].
gpu_map() {
	map "[options]" "timeout = 2" "uri = test:///default" "$@" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" \
		"device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm linux]" "pci = gpu" "[vm test]" "pci = gpu"
}
# evict_map POLICY URI [KEY = VALUE]...: the GPU for win10 (the lines given go to its [vm]) and
# for the holders "test"/"linux", evict = POLICY, libvirt at URI.
evict_map() {
	p=$1 u=$2; shift 2
	map "[options]" "timeout = 2" "uri = $u" "evict = $p" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" \
		"device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "$@" "[vm linux]" "pci = gpu" \
		"[vm test]" "pci = gpu"
}
domxml() { # NAME ADDR...: a domain XML with these hostdevs
	n=$1; shift
	printf "<domain type='kvm'><name>%s</name><devices>" "$n"
	i=0
	for a in "$@"; do
		b=${a#*:}; s=${b#*:}
		printf "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x%s' bus='0x%s' slot='0x%s' function='0x%s'/></source><alias name='hostdev%d'/></hostdev>" \
			"${a%%:*}" "${b%%:*}" "${s%%.*}" "${a##*.}" "$i"
		i=$((i + 1))
	done
	printf "</devices></domain>\n"
}
# reset: a new case: no state, no running VM, and no stand-in libvirt operation still to come
# from the case before (tests/lib/bin/libvirt's attach-after, detach-late).
reset() {
	if [ -f "$work/run/standin/later" ]; then
		while read -r p; do kill -- "-$p" 2>/dev/null || :; done <"$work/run/standin/later"
	fi
	rm -rf "$work/state" "$work/run"; mkdir -p "$work/run"
}

# In one fixture session: run SCRIPT (sh) with $bin as $H; output of the script is the result.
on() { # MACHINE SCRIPT
	"$here/fakesys" "$1" -- env H="$bin" W="$work" sh -c "$2" 2>&1
}
# The same as the ordinary user nobody (runuser, from root): $work and what the script reads
# in it must be open to that user.
as_user() { # MACHINE SCRIPT
	(cd / && runuser -u nobody -- "$here/fakesys" "$1" -- env H="$bin" W="$work" sh -c "$2" 2>&1)
}
# Prints "ADDR=DRIVER" for the GPU's functions, plus their overrides.
STATE='for a in $GPU; do d=none; [ -e /sys/bus/pci/devices/$a/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/$a/driver)); o=$(cat /sys/bus/pci/devices/$a/driver_override); printf "%s=%s/%s " $a $d $o; done; echo'
# Prints "nvme=DRIVER" for the NVMe 01:00.0, the disk the guards keep with the host.
NVME='d=none; [ -e /sys/bus/pci/devices/0000:01:00.0/driver ] && d=$(basename $(readlink /sys/bus/pci/devices/0000:01:00.0/driver)); echo "nvme=$d"'
# In a fixture session, once "$RUNNING" is evaluated there: running FILE NAME writes libvirt's
# status file of NAME, running (pid 1), from the domain XML in FILE.
RUNNING='running() { sed "s|<domain|<domstatus state=\"running\" pid=\"1\"><domain|; s|</domain>|</domain></domstatus>|" $1 >$W/run/$2.xml; }'
export GPU STATE NVME RUNNING
# The GPU's first function as the program's lines name it.
G0="0000:09:00.0 (TU104 [GeForce RTX 2070 SUPER])"
ORIG="0000:09:00.0=nvidia/(null) 0000:09:00.1=snd_hda_intel/(null) 0000:09:00.2=xhci_hcd/(null) 0000:09:00.3=nvidia-gpu/(null) "
VFIO="0000:09:00.0=vfio-pci/vfio-pci 0000:09:00.1=vfio-pci/vfio-pci 0000:09:00.2=vfio-pci/vfio-pci 0000:09:00.3=vfio-pci/vfio-pci "

# status NAME ADDR...: NAME runs with these hostdevs (libvirt's status file).
status() {
	n=$1; shift
	domxml "$n" "$@" | sed 's|<domain|<domstatus state="running" pid="4242"><domain|; s|</domain>|</domain></domstatus>|' >"$work/run/$n.xml"
}

# A libvirt that accepts and never answers (a daemon busy autostarting VMs), at $work/mute.sock
# (tests/lib/mute-socket.c): mute_start waits until it listens, mute_stop ends it.
mute_start() {
	"${MUTE_SOCKET:?}" "$work/mute.sock" >"$work/mute.out" &
	mute_pid=$!
	i=0; while [ $i -lt 50 ] && ! grep -qs ready "$work/mute.out"; do sleep 0.1; i=$((i + 1)); done
}
mute_stop() { kill "$mute_pid" 2>/dev/null; wait "$mute_pid" 2>/dev/null; }
