# shellcheck shell=sh
# Sourced after hook-env.sh by the claims suite: a fixture root ($VFIO_HOOK_TEST_ROOT) with the
# host's side of what VMs claim besides their devices: 8 online CPUs with cpufreq (and EPP),
# cgroup v2 with the cpuset controller and the host's units, hugepage pools of 2 MiB and 1 GiB
# on two nodes (fakekernel.so plays them), /proc/meminfo, and systemd (run/systemd/system).
R=$work/root
export VFIO_HOOK_TEST_ROOT="$R"

host() {
	reset; rm -rf "$R"; mkdir -p "$R/units" "$R/run/systemd/system" "$R/run/systemd/seats" "$R/proc/sys/vm"; : >"$R/calls"
	mkdir -p "$R/sys/devices/system/cpu" "$R/sys/fs/cgroup"
	echo 0-7 >"$R/sys/devices/system/cpu/online"
	echo 0-7 >"$R/sys/devices/system/cpu/possible"
	for c in 0 1 2 3 4 5 6 7; do
		d=$R/sys/devices/system/cpu/cpu$c/cpufreq; mkdir -p "$d"
		echo powersave >"$d/scaling_governor"; echo balance_performance >"$d/energy_performance_preference"
	done
	echo "cpuset cpu io memory pids" >"$R/sys/fs/cgroup/cgroup.controllers"
	for u in system.slice user.slice init.scope machine.slice; do
		mkdir -p "$R/sys/fs/cgroup/$u"; : >"$R/sys/fs/cgroup/$u/cpuset.cpus"; echo 0-7 >"$R/sys/fs/cgroup/$u/cpuset.cpus.effective"
	done
	for s in 2048 1048576; do
		pool "$R/sys/kernel/mm/hugepages/hugepages-${s}kB" 0 0
		for n in 0 1; do pool "$R/sys/devices/system/node/node$n/hugepages/hugepages-${s}kB" 0 0; done
	done
	printf 'MemTotal:       24576000 kB\nHugepagesize:       2048 kB\n' >"$R/proc/meminfo"
	: >"$R/proc/sys/vm/drop_caches"; : >"$R/proc/sys/vm/compact_memory"
	# Another program's inhibitor, as logind records it: the record and its FIFO (reading that
	# blocks for as long as the inhibitor is held).
	mkdir -p "$R/run/systemd/inhibit"; mkfifo "$R/run/systemd/inhibit/1.ref"
	printf '# This is private data. Do not parse.\nWHAT=sleep\nMODE=delay\nUID=0\nPID=300\nWHO=NetworkManager\nWHY=NetworkManager needs to turn off networks\nFIFO=/run/systemd/inhibit/1.ref\n' \
		>"$R/run/systemd/inhibit/1"
}
pool() { mkdir -p "$1"; echo "$2" >"$1/nr_hugepages"; echo "$3" >"$1/free_hugepages"; }
P2M=$R/sys/kernel/mm/hugepages/hugepages-2048kB
# cxml NAME [CPUTUNE [MEMORY_KIB [MEMORYBACKING [EXTRA]]]]: a domain XML without devices.
cxml() {
	printf "<domain type='kvm'><name>%s</name><memory unit='KiB'>%s</memory>" "$1" "${3:-1048576}"
	[ -n "${4:-}" ] && printf "<memoryBacking>%s</memoryBacking>" "$4"
	[ -n "${2:-}" ] && printf "<cputune>%s</cputune>" "$2"
	printf "%s<devices/></domain>\n" "${5:-}"
}
pins() { # CPU...: a vcpupin for each, vCPU 0 up
	i=0; for c in "$@"; do printf "<vcpupin vcpu='%d' cpuset='%s'/>" $i "$c"; i=$((i + 1)); done
}
# The host as the checks compare it: each unit's AllowedCPUs and effective CPUs.
UNITS='for u in system.slice user.slice init.scope machine.slice; do printf "%s=%s/%s " $u "$(cat $VFIO_HOOK_TEST_ROOT/sys/fs/cgroup/$u/AllowedCPUs 2>/dev/null)" "$(cat $VFIO_HOOK_TEST_ROOT/sys/fs/cgroup/$u/cpuset.cpus.effective)"; done; echo'
UNITS0="system.slice=/0-7 user.slice=/0-7 init.scope=/0-7 machine.slice=/0-7 "
# A hugepage pool: nr/free.
POOL='pool() { echo "$(cat $1/nr_hugepages)/$(cat $1/free_hugepages)"; }'
GOV='for c in 0 1 2 3 4 5 6 7; do d=$VFIO_HOOK_TEST_ROOT/sys/devices/system/cpu/cpu$c/cpufreq; printf "%s:%s/%s " $c $(cat $d/scaling_governor) $(cat $d/energy_performance_preference); done; echo'
SLEEPING='echo "inhibitor=$(cat $VFIO_HOOK_TEST_ROOT/units/vfio-hook-sleep.service 2>/dev/null || echo none)"'
export UNITS POOL GOV SLEEPING P2M
