#!/bin/sh
# Claims: what a starting VM takes from the host besides its devices (its CPUs, hugepages, the
# host's sleep), recorded per VM, shared among VMs, given back whatever fails and in whatever
# order VMs stop. The host is a fixture root (tests/lib/claims-env.sh): cgroup v2 files,
# cpufreq with EPP, hugepage pools per node that fakekernel.so plays, and the systemctl and
# systemd-run stand-ins of tests/lib/bin. Nothing here reaches the machine's own.
# sources: claims step-cpus step-pages step-sleep ledger-claims cpuset domxml engine start stop report config-keys
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/claims-env.sh"

START='start() { $H $1 prepare begin - <$W/$1.xml; echo "$1 rc=$?"; }; stop() { $H $1 release end - </dev/null; echo "$1 stopped rc=$?"; }'
export START
cxml win10 "$(pins 2 3)<emulatorpin cpuset='3'/>" >"$work/win10.xml"
cxml linux "$(pins 4 5)" >"$work/linux.xml"
two_map() { map "[options]" "timeout = 2" "[vm win10]" "block-sleep = yes" "$@" "[vm linux]" "block-sleep = yes"; }

## CPUs: what the domain XML pins is kept from the host's own units, and comes back exactly
host; two_map
out=$(on desktop "$START"'
start win10; eval "$UNITS"; $H status
stop win10; eval "$UNITS"; ls $W/state')
check "CPUs: the pins are kept from system.slice, user.slice and init.scope (never machine.slice), then given back" \
	"$(printf '%s\n' "win10 rc=0" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 " \
		"win10 (starting): cpus(2-3) sleep(blocked)" "win10 stopped rc=0" "$UNITS0" "lock")" "$out"

## CPUs: two VMs with disjoint pins, started and stopped in both orders: the host's CPUs are every
## online CPU but the running VMs', and come back exactly
for order in "win10 linux" "linux win10"; do
	host; two_map
	out=$(on desktop "$START"'
start win10; start linux; eval "$UNITS"
stop '"${order% *}"'; eval "$UNITS"
stop '"${order#* }"'; eval "$UNITS"')
	left=$([ "${order% *}" = win10 ] && echo "0-3,6-7" || echo "0-1,4-7")
	check "CPUs: two VMs, stopped $order: each stop gives back its own CPUs only" "$(printf '%s\n' "win10 rc=0" "linux rc=0" \
		"system.slice=0-1,6-7/0-1,6-7 user.slice=0-1,6-7/0-1,6-7 init.scope=0-1,6-7/0-1,6-7 machine.slice=/0-7 " \
		"${order% *} stopped rc=0" "system.slice=$left/$left user.slice=$left/$left init.scope=$left/$left machine.slice=/0-7 " \
		"${order#* } stopped rc=0" "$UNITS0")" "$out"
done

## CPUs: a pin another running VM keeps is refused, naming both, and nothing changes
host; two_map
cxml linux "$(pins 3 4)" >"$work/linux.xml"
out=$(on desktop "$START; $RUNNING"'
start win10; running $W/win10.xml win10; $H win10 started begin - </dev/null
start linux 2>&1; eval "$UNITS"; grep -c "linux" $W/state/ledger')
check "CPUs: an overlapping pin is refused with one line naming both VMs; the host's CPUs stay as they were" \
	"$(printf '%s\n' "win10 rc=0" \
		"vfio-hook: linux: CPU 3 (its <cputune>) is kept for win10 already (running); give each VM CPUs of its own (cpus = in [vm linux], or its <vcpupin>), or stop win10 first" \
		"linux rc=1" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 " "0")" "$out"
out=$(on desktop '$H --check linux --xml $W/linux.xml; echo rc=$?')
check "CPUs: --check refuses as the start would" "$(printf '%s\n' "linux: 0 PCI functions" \
	"  keep CPU 3-4 for it (its <cputune>): the host's own units on 0-1,5-7" \
	"  the host does not sleep while it runs (vfio-hook-sleep.service)" \
	"  refuse: CPU 3 (its <cputune>) is kept for win10 already (running); give each VM CPUs of its own (cpus = in [vm linux], or its <vcpupin>), or stop win10 first" \
	"the hook would refuse to start this VM" "rc=1")" "$out"
cxml linux "$(pins 4 5)" >"$work/linux.xml"

## CPUs: a unit the user keeps on some CPUs (its AllowedCPUs, set before any claim): --check
## plans with them as the start sets them, and refuses what the start would refuse
host; two_map; echo 2-3 | tee "$R/sys/fs/cgroup/system.slice/cpuset.cpus" "$R/sys/fs/cgroup/system.slice/AllowedCPUs" >"$R/sys/fs/cgroup/system.slice/cpuset.cpus.effective"
cxml win10 "$(pins 2 3)" >"$work/win10.xml"
refusal="keeping CPU 2-3 (its <cputune>) would leave system.slice no CPU: it may only run on CPU 2-3 (its AllowedCPUs); keep other CPUs for win10 (cpus = in [vm win10], or its <vcpupin>), or widen system.slice's AllowedCPUs"
out=$(on desktop "$START"'
$H --check win10 --xml $W/win10.xml | grep "refuse\|hook would"; start win10 2>&1; eval "$UNITS"; ls $W/state')
check "CPUs: a unit whose AllowedCPUs the VM would all take: --check and the start refuse alike, nothing changes" \
	"$(printf '%s\n' "  refuse: $refusal" "the hook would refuse to start this VM" "vfio-hook: win10: $refusal" "win10 rc=1" \
		"system.slice=2-3/2-3 user.slice=/0-7 init.scope=/0-7 machine.slice=/0-7 " "lock")" "$out"
host; two_map; echo 0-3 | tee "$R/sys/fs/cgroup/user.slice/cpuset.cpus" "$R/sys/fs/cgroup/user.slice/AllowedCPUs" >"$R/sys/fs/cgroup/user.slice/cpuset.cpus.effective"
out=$(on desktop "$START"'
$H --check win10 --xml $W/win10.xml | grep "keep CPU"; start win10 2>&1; eval "$UNITS"; stop win10; eval "$UNITS"')
check "CPUs: a unit on fewer CPUs (its AllowedCPUs): --check says what it will run on, the start sets that, the stop puts it back" \
	"$(printf '%s\n' "  keep CPU 2-3 for it (its <cputune>): the host's own units on 0-1,4-7 (user.slice on 0-1: its AllowedCPUs)" \
		"win10 rc=0" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1/0-1 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 " \
		"win10 stopped rc=0" "system.slice=/0-7 user.slice=0-3/0-3 init.scope=/0-7 machine.slice=/0-7 ")" "$out"
cxml win10 "$(pins 2 3)<emulatorpin cpuset='3'/>" >"$work/win10.xml"

## CPUs: cpus = in the map decides over the pins: a list, or none
host; two_map "cpus = 6-7"
out=$(on desktop "$START"'
start win10; eval "$UNITS"; stop win10')
check "CPUs: cpus = 6-7 keeps those, whatever the domain XML pins" "$(printf '%s\n' "win10 rc=0" \
	"system.slice=0-5/0-5 user.slice=0-5/0-5 init.scope=0-5/0-5 machine.slice=/0-7 " "win10 stopped rc=0")" "$out"
host; two_map "cpus = none"
out=$(on desktop "$START"'
start win10; eval "$UNITS"; grep -c "^cpus" $W/state/ledger; stop win10')
check "CPUs: cpus = none keeps nothing from the host" "$(printf '%s\n' "win10 rc=0" "$UNITS0" "0" "win10 stopped rc=0")" "$out"

## CPUs: a VM that would leave the host no CPU is refused
host; two_map "cpus = 0-7"
out=$(on desktop "$START"'
start win10 2>&1; eval "$UNITS"; ls $W/state')
check "CPUs: keeping every online CPU is refused; nothing changes" "$(printf '%s\n' \
	"vfio-hook: win10: keeping CPU 0-7 (cpus = in [vm win10]) would leave the host no CPU of the online 0-7; leave it at least one" \
	"win10 rc=1" "$UNITS0" "lock")" "$out"
host; two_map "cpus = 2-9"
out=$(on desktop "$START"'
start win10 2>&1')
check "CPUs: a CPU that is not online is refused" "$(printf '%s\n' \
	"vfio-hook: win10: CPU 8-9 (cpus = in [vm win10]) is not online on this host (online: 0-7); fix cpus =" "win10 rc=1")" "$out"

## CPUs: a long list (a host of many CPUs) is recorded and sent whole: a record cut short would
## let another VM keep a CPU this one has, an AllowedCPUs= cut short would give the host CPUs back
odd=$(seq -s, 1 2 1023) even=$(seq -s, 0 2 1022)
host; two_map "cpus = $odd"; echo "0,$odd" >"$R/sys/devices/system/cpu/online"
for u in system.slice user.slice init.scope machine.slice; do echo "0,$odd" >"$R/sys/fs/cgroup/$u/cpuset.cpus.effective"; done
cxml linux "<vcpupin vcpu='0' cpuset='1021'/>" >"$work/linux.xml"
out=$(on desktop "$START; $RUNNING"'
start win10 2>&1; running $W/win10.xml win10; $H win10 started begin - </dev/null
[ "$(sed -n "s/^cpus win10 set=\([^ ]*\) .*/\1/p" $W/state/ledger)" = '"$odd"' ] && echo "recorded whole"
start linux 2>&1')
check "CPUs: 512 CPUs of a sparse host are recorded whole, and a VM pinned to the last of them is refused" "$(printf '%s\n' \
	"win10 rc=0" "recorded whole" \
	"vfio-hook: linux: CPU 1021 (its <cputune>) is kept for win10 already (running); give each VM CPUs of its own (cpus = in [vm linux], or its <vcpupin>), or stop win10 first" \
	"linux rc=1")" "$out"
host; two_map "cpus = $odd"; echo 0-1023 >"$R/sys/devices/system/cpu/online"
for u in system.slice user.slice init.scope machine.slice; do echo 0-1023 >"$R/sys/fs/cgroup/$u/cpuset.cpus.effective"; done
out=$(on desktop "$START"'
start win10 2>&1; for u in system.slice user.slice init.scope; do [ "$(cat $VFIO_HOOK_TEST_ROOT/sys/fs/cgroup/$u/cpuset.cpus)" = '"$even"' ] && echo "$u: whole"; done')
check "CPUs: the 512 CPUs a dense host keeps for itself are sent whole to each unit" \
	"$(printf '%s\n' "win10 rc=0" "system.slice: whole" "user.slice: whole" "init.scope: whole")" "$out"
cxml linux "$(pins 4 5)" >"$work/linux.xml"

## CPUs: without cgroup v2's cpuset controller they cannot be kept: refused, with the fix
host; two_map; echo "cpu io memory pids" >"$R/sys/fs/cgroup/cgroup.controllers"
out=$(on desktop "$START"'
start win10 2>&1')
check "CPUs: no cgroup v2 cpuset controller: refused, with the kernel parameter and cpus = none" "$(printf '%s\n' \
	"vfio-hook: win10: cannot keep CPU 2-3 from the host: it has no cgroup v2 cpuset controller ($R/sys/fs/cgroup/cgroup.controllers); boot with systemd.unified_cgroup_hierarchy=1, or set cpus = none in [vm win10]" \
	"win10 rc=1")" "$out"

## CPUs: a unit whose effective CPUs do not follow (a shortfall) fails the start, and every unit
## already narrowed is put back
host; two_map
out=$(FAKE_CGROUP_STUCK=user.slice on desktop "$START"'
start win10 2>&1; eval "$UNITS"; ls $W/state')
check "CPUs: a shortfall read back fails the start, and every unit is put back" "$(printf '%s\n' \
	"vfio-hook: win10: cannot keep CPU 2-3 for it: user.slice runs on CPU 0-7 after systemctl set-property, not on 0-1,4-7 ($R/sys/fs/cgroup/user.slice/cpuset.cpus.effective); everything was put back" \
	"win10 rc=1" "system.slice=/0-7 user.slice=/0-7 init.scope=/0-7 machine.slice=/0-7 " "lock")" "$out"
host; two_map
out=$(FAKE_SYSTEMCTL_FAIL_ONCE=set-property:init.scope on desktop "$START"'
start win10 2>&1; eval "$UNITS"; ls $W/state')
check "CPUs: systemctl failing on one unit fails the start, and the others are put back" "$(printf '%s\n' \
	"vfio-hook: win10: cannot keep CPU 2-3 for it: 'systemctl set-property --runtime init.scope AllowedCPUs=0-1,4-7' failed (exit status 1); everything was put back" \
	"win10 rc=1" "$UNITS0" "lock")" "$out"
host; two_map
out=$(FAKE_SYSTEMCTL_FAIL=set-property:init.scope on desktop "$START"'
start win10 2>&1; eval "$UNITS"; grep "^cpus\|^slice" $W/state/ledger | tr "\n" " "; echo
$H win10 release end - </dev/null 2>&1; $H status')
check "CPUs: what cannot be put back stays recorded, for restore, and the line says so" "$(printf '%s\n' \
	"vfio-hook: win10: cannot keep CPU 2-3 for it: 'systemctl set-property --runtime init.scope AllowedCPUs=0-1,4-7' failed (exit status 1); not everything could be put back: run 'vfio-hook restore win10' when the cause is gone" \
	"win10 rc=1" "$UNITS0" "cpus win10 set=2-3 governor=no state=doing slice init.scope was=- " \
	"vfio-hook: win10: its CPUs stay kept from the host: 'systemctl set-property --runtime init.scope AllowedCPUs=0-7' failed (exit status 1); run 'vfio-hook restore win10' when the cause is gone" \
	"win10 (not running): cpus(2-3, claiming)")" "$out"
out=$(on desktop '$H restore win10; echo rc=$?; eval "$UNITS"; ls $W/state')
check "CPUs: restore gives them back once the cause is gone" "$(printf '%s\n' "win10: restored" "rc=0" "$UNITS0" "lock")" "$out"

## CPUs: the governor (and EPP) of the VM's CPUs, opt-in, put back as they were
host; two_map "cpu-governor = performance"
out=$(on desktop "$START"'
start win10; eval "$GOV"; stop win10; eval "$GOV"')
check "CPUs: cpu-governor = performance sets the VM's CPUs' governor and EPP, and puts back both" "$(printf '%s\n' "win10 rc=0" \
	"0:powersave/balance_performance 1:powersave/balance_performance 2:performance/performance 3:performance/performance 4:powersave/balance_performance 5:powersave/balance_performance 6:powersave/balance_performance 7:powersave/balance_performance " \
	"win10 stopped rc=0" \
	"0:powersave/balance_performance 1:powersave/balance_performance 2:powersave/balance_performance 3:powersave/balance_performance 4:powersave/balance_performance 5:powersave/balance_performance 6:powersave/balance_performance 7:powersave/balance_performance ")" "$out"

## hugepages: the pool of the VM's page size is raised by what it needs beyond what is free, and
## lowered at its stop by exactly that
HP="<hugepages/>"
cxml win10 "" 1048576 "$HP" >"$work/win10.xml"
cxml linux "" 524288 "$HP" >"$work/linux.xml"
host; two_map
out=$(on desktop "$START; $POOL"'
start win10; pool $P2M; $H status; stop win10; pool $P2M')
check "hugepages: 1 GiB of 2 MiB pages raises the pool to 512, and its stop lowers it back" "$(printf '%s\n' "win10 rc=0" "512/512" \
	"win10 (starting): hugepages(512 x 2048 KiB, 512 added) sleep(blocked)" "win10 stopped rc=0" "0/0")" "$out"
host; two_map; pool "$P2M" 600 600
out=$(on desktop "$START; $POOL"'
start win10; pool $P2M; stop win10; pool $P2M')
check "hugepages: pages reserved already (at boot) are used, and never freed by a stop" "$(printf '%s\n' "win10 rc=0" "600/600" \
	"win10 stopped rc=0" "600/600")" "$out"

## hugepages: a second VM's pages stay when the first stops, in either order; a VM still starting
## has not taken its pages yet: a second start does not count them as free
for order in "win10 linux" "linux win10"; do
	host; two_map
	out=$(on desktop "$START; $POOL; $RUNNING"'
take() { echo $(( $(cat $P2M/free_hugepages) - $1 )) >$P2M/free_hugepages; }
start win10; pool $P2M
start linux; pool $P2M
running $W/win10.xml win10; $H win10 started begin - </dev/null; take 512
running $W/linux.xml linux; $H linux started begin - </dev/null; take 256; pool $P2M
first='"${order% *}"'; rm $W/run/$first.xml; take -$( [ $first = win10 ] && echo 512 || echo 256 ); stop $first; pool $P2M
second='"${order#* }"'; rm $W/run/$second.xml; take -$( [ $second = win10 ] && echo 512 || echo 256 ); stop $second; pool $P2M')
	kept=$([ "${order% *}" = win10 ] && echo "256/0" || echo "512/0")
	check "hugepages: two VMs, stopped $order: each stop lowers the pool by its own pages only" "$(printf '%s\n' "win10 rc=0" "512/512" \
		"linux rc=0" "768/768" "768/0" "${order% *} stopped rc=0" "$kept" "${order#* } stopped rc=0" "0/0")" "$out"
done

## hugepages: a pool the kernel cannot raise far enough: the caches are dropped and memory
## compacted between tries; short at the end, the pool is put back and the start refused
host; two_map; echo 300 >"$P2M/capacity"
out=$(on desktop "$START; $POOL"'
start win10 2>&1; pool $P2M; ls $W/state; echo "drop_caches=$(cat $VFIO_HOOK_TEST_ROOT/proc/sys/vm/drop_caches) compact_memory=$(cat $VFIO_HOOK_TEST_ROOT/proc/sys/vm/compact_memory)"')
check "hugepages: too few pages: one line with how many of which size are missing, and the pool put back" "$(printf '%s\n' \
	"vfio-hook: win10: 212 2 MiB hugepages are missing: it needs 512, 0 were free and the kernel found 300 more of 512 (3 tries, the caches dropped and memory compacted); free memory, reserve them at boot (hugepages = in [host], then 'vfio-hook setup'), or give it less memory; everything was put back" \
	"win10 rc=1" "0/0" "lock" "drop_caches=3 compact_memory=1")" "$out"
host; two_map; echo 300 >"$P2M/capacity"; echo 1000 >"$P2M/capacity.compacted"
out=$(on desktop "$START; $POOL"'
start win10 2>&1; pool $P2M')
check "hugepages: memory compacted finds the rest: the start goes on" "$(printf '%s\n' "win10 rc=0" "512/512")" "$out"

## hugepages: <numatune> on one host node raises that node's pool; 1 GiB pages by <page>
host; two_map
cxml win10 "" 2097152 "<hugepages><page size='1' unit='GiB'/></hugepages>" "<numatune><memory mode='strict' nodeset='1'/></numatune>" >"$work/win10.xml"
out=$(on desktop "$START; $POOL"'
N1=$VFIO_HOOK_TEST_ROOT/sys/devices/system/node/node1/hugepages/hugepages-1048576kB
G=$VFIO_HOOK_TEST_ROOT/sys/kernel/mm/hugepages/hugepages-1048576kB
start win10 2>&1; pool $N1; pool $G; stop win10; pool $N1; pool $G')
check "hugepages: node 1's pool of 1 GiB pages, as <numatune> and <page> say, raised and lowered" "$(printf '%s\n' "win10 rc=0" "2/2" "2/2" \
	"win10 stopped rc=0" "0/0" "0/0")" "$out"
out=$(on desktop '$H --check win10 --xml $W/win10.xml')
check "hugepages: --check says what the pool would be raised to, and that 1 GiB pages are best reserved at boot" "$(printf '%s\n' \
	"win10: 0 PCI functions" "  hugepages: 2 1 GiB hugepages on node 1; 0 free: raise the pool from 0 to 2" \
	"  the host does not sleep while it runs (vfio-hook-sleep.service)" \
	"  warning: 2 more 1 GiB hugepages on node 1 are wanted: pages this large can rarely be had once the host runs; reserve them at boot (hugepages = in [host], then 'vfio-hook setup')" \
	"the hook would start this VM")" "$out"
cxml win10 "" 1048576 "<hugepages><page size='3' unit='MiB'/></hugepages>" >"$work/win10.xml"
out=$(on desktop "$START"'
start win10 2>&1')
check "hugepages: a page size the host has not: refused, saying where to look" "$(printf '%s\n' \
	"vfio-hook: win10: the host has no 3 MiB hugepages (no $R/sys/kernel/mm/hugepages/hugepages-3072kB/nr_hugepages): name a size it has in <page size=...> ('virsh edit win10'; see /sys/kernel/mm/hugepages)" \
	"win10 rc=1")" "$out"

## sleep: the inhibitor runs while at least one VM runs, started once, stopped with the last
cxml win10 "" >"$work/win10.xml"
cxml linux "" >"$work/linux.xml"
host; two_map
out=$(on desktop "$START"'
start win10; eval "$SLEEPING"; start linux; grep -c systemd-run $VFIO_HOOK_TEST_ROOT/calls
stop win10; eval "$SLEEPING"; stop linux; eval "$SLEEPING"; cat $VFIO_HOOK_TEST_ROOT/units/vfio-hook-sleep.service.cmd')
check "sleep: one inhibitor while either VM runs, gone with the last" "$(printf '%s\n' "win10 rc=0" "inhibitor=active" "linux rc=0" "1" \
	"win10 stopped rc=0" "inhibitor=active" "linux stopped rc=0" "inhibitor=inactive" \
	"systemd-inhibit --what=sleep --who=vfio-hook --why=VMs with passed-through devices run --mode=block sleep infinity")" "$out"
host; map "[options]" "timeout = 2" "block-sleep = no" "[vm win10]" "evict = detach"
out=$(on desktop "$START"'
start win10; eval "$SLEEPING"')
check "sleep: block-sleep = no takes no inhibitor" "$(printf '%s\n' "win10 rc=0" "inhibitor=none")" "$out"
host; two_map "cpus = 2-3"
out=$(FAKE_SYSTEMD_RUN_FAIL=1 on desktop "$START"'
start win10 2>&1; eval "$SLEEPING"; eval "$UNITS"; ls $W/state')
check "sleep: no inhibitor: the start is refused, with the fix, and the CPUs it kept are back" "$(printf '%s\n' \
	"vfio-hook: win10: cannot keep the host from sleeping while it runs: systemd-run of vfio-hook-sleep.service failed (exit status 1); everything was put back (or set block-sleep = no in [vm win10])" \
	"win10 rc=1" "inhibitor=inactive" "$UNITS0" "lock")" "$out"
# The unit keeps running, and logind's record of its inhibitor is not where it is looked for:
# held (systemd-inhibit runs its command only with the lock taken).
host; two_map "cpus = 2-3"
out=$(FAKE_NO_LOGIND=1 on desktop "$START"'
start win10 2>&1; eval "$SLEEPING"')
check "sleep: a unit that keeps running with no inhibitor record seen: held" "$(printf '%s\n' "win10 rc=0" "inhibitor=active")" "$out"
# logind's FIFOs beside its records: never read (a read blocks while their inhibitor is held).
# A map timeout of 30 s: a read that waits it out kills the start at 15 s.
host; map "[options]" "timeout = 30" "[vm win10]" "evict = detach"
out=$(FAKE_NO_LOGIND=1 on desktop "$START"'
timeout 15 $H win10 prepare begin - <$W/win10.xml 2>&1; echo "win10 rc=$?"; eval "$SLEEPING"')
check "sleep: logind's FIFOs are not read (it would block)" "$(printf '%s\n' "win10 rc=0" "inhibitor=active")" "$out"
# No logind at all (a minimal server): there is no inhibitor to hold; --check says so, the start goes on.
host; rmdir "$R/run/systemd/seats"; two_map
out=$(on desktop "$START"'
$H --check win10 --xml $W/win10.xml 2>&1 | grep -c "systemd-logind does not run here"; start win10; eval "$SLEEPING"')
check "sleep: without logind nothing is held, --check says so, the start goes on" "$(printf '%s\n' 1 "win10 rc=0" "inhibitor=none")" "$out"

## a failed start undoes its claims too: a device that will not bind, after the CPUs, the pages
## and the inhibitor were claimed, leaves the host as it was
host; map "[options]" "timeout = 2" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" \
	"[vm win10]" "pci = gpu" "cpus = 2-3" "cpu-governor = performance"
domxml win10 $GPU | sed "s|<devices>|<memory unit='KiB'>1048576</memory><memoryBacking><hugepages/></memoryBacking><devices>|" >"$work/win10.xml"
out=$(FAKEKERNEL_FAULT=probe:0000:09:00.2:nobind1 on desktop "$START; $POOL"'
start win10 2>&1; eval "$STATE"; eval "$UNITS"; eval "$GOV"; pool $P2M; eval "$SLEEPING"; ls $W/state')
check "a failed bind after the claims: devices, CPUs, governors, pages and sleep all as they were" "$(printf '%s\n' \
	"vfio-hook: win10: 0000:09:00.2 (TU104 USB 3.1 Host Controller): vfio-pci did not bind (driver now: none; see dmesg); every device was put back on its driver" \
	"win10 rc=1" "$ORIG" "$UNITS0" \
	"0:powersave/balance_performance 1:powersave/balance_performance 2:powersave/balance_performance 3:powersave/balance_performance 4:powersave/balance_performance 5:powersave/balance_performance 6:powersave/balance_performance 7:powersave/balance_performance " \
	"0/0" "inhibitor=inactive" "lock")" "$out"

## deadlines: a systemctl that never returns fails the start in time; what it left is restored
cxml win10 "$(pins 2 3)" 1048576 "$HP" >"$work/win10.xml"
host; two_map
out=$(FAKE_SYSTEMCTL_HANG=set-property:user.slice on desktop "$START"'
t0=$(date +%s); start win10 2>&1; echo "in time: $(( $(date +%s) - t0 < 12 ))"; eval "$UNITS"
FAKE_SYSTEMCTL_HANG= $H restore win10; eval "$UNITS"; ls $W/state')
check "deadlines: a hung systemctl fails the start in time; restore, once it answers, gives everything back" "$(printf '%s\n' \
	"vfio-hook: win10: cannot keep CPU 2-3 for it: 'systemctl set-property --runtime user.slice AllowedCPUs=0-1,4-7' did not finish in time; not everything could be put back: run 'vfio-hook restore win10' when the cause is gone" \
	"win10 rc=1" "in time: 1" "system.slice=/0-7 user.slice=/0-7 init.scope=/0-7 machine.slice=/0-7 " "win10: restored" "$UNITS0" "lock")" "$out"
host; two_map
out=$(FAKEKERNEL_POOL_HANG=1 on desktop "$START; $POOL"'
start win10 2>&1; pool $P2M; eval "$UNITS"; ls $W/state')
check "deadlines: a pool the kernel never finishes raising fails the start in time, and what it claimed goes back" "$(printf '%s\n' \
	"vfio-hook: win10: 512 2 MiB hugepages are missing: it needs 512, 0 were free and the kernel found 0 more of 512 (in the 2 s of the map's timeout, 1 try); free memory, reserve them at boot (hugepages = in [host], then 'vfio-hook setup'), or give it less memory; everything was put back" \
	"win10 rc=1" "0/0" "$UNITS0" "lock")" "$out"
# The kernel found some pages when the timeout ran out (a large pool on a machine short of
# memory): the line says how many were missing, and those found go back.
host; two_map
out=$(FAKEKERNEL_POOL_HANG=found:200 on desktop "$START; $POOL"'
start win10 2>&1; pool $P2M; eval "$UNITS"; ls $W/state')
check "deadlines: a raise still looking when the timeout ran out says how many pages were missing, and gives back those found" "$(printf '%s\n' \
	"vfio-hook: win10: 312 2 MiB hugepages are missing: it needs 512, 0 were free and the kernel found 200 more of 512 (in the 2 s of the map's timeout, 1 try); free memory, reserve them at boot (hugepages = in [host], then 'vfio-hook setup'), or give it less memory; everything was put back" \
	"win10 rc=1" "0/0" "$UNITS0" "lock")" "$out"

## deadlines: the plan reads the host with the map's timeout (each read here never answers: a
## FIFO; four of them, longer than the lock's first hold), and a VM waiting for the lock meanwhile
## is told how long those reads may take: it waits
cxml win10 "$(pins 2 3)" 1048576 "<hugepages><page size='2048' unit='KiB'/></hugepages>" >"$work/win10.xml"
cxml linux "" >"$work/linux.xml"
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no" "[vm linux]" "block-sleep = no" "cpus = none"
for f in sys/fs/cgroup/system.slice/cpuset.cpus sys/fs/cgroup/cgroup.controllers proc/meminfo $P2M/nr_hugepages; do
	f=${f#"$R"/}; rm -f "$R/$f"; mkfifo "$R/$f"
done
out=$(on desktop "$START"'
t0=$(date +%s)
( start win10 2>&1; echo "win10 in time: $(( $(date +%s) - t0 < 14 ))" ) >$W/win10.out &
sleep 1; start linux 2>&1; wait; cat $W/win10.out')
check "deadlines: the plan's reads that hang take the map's timeout each; a start waiting for the lock waits them out" \
	"$(printf '%s\n' "linux rc=0" \
		"vfio-hook: win10: cannot keep CPU 2-3 (its <cputune>) from the host: reading $R/sys/fs/cgroup/system.slice/cpuset.cpus did not finish in time; set cpus = none in [vm win10] to start it without (and 2 more problems: run 'vfio-hook --check win10')" \
		"win10 rc=1" "win10 in time: 1")" "$out"
cxml win10 "$(pins 2 3)" 1048576 "$HP" >"$work/win10.xml"

## the hook killed in the middle of a step: restore leaves the host as it was
host; two_map
out=$(FAKE_SYSTEMCTL_HANG=set-property:init.scope on desktop "$START; $POOL"'
sh -c "timeout -s KILL 1 $H win10 prepare begin - <$W/win10.xml" 2>/dev/null; echo "killed rc=$?"; pool $P2M; eval "$UNITS"; $H status
FAKE_SYSTEMCTL_HANG= $H restore win10; pool $P2M; eval "$UNITS"; eval "$SLEEPING"; ls $W/state')
check "killed while keeping CPUs: status shows what it claimed, restore gives back all of it" "$(printf '%s\n' "killed rc=137" "512/512" \
	"system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=/0-7 machine.slice=/0-7 " \
	"win10 (starting): cpus(2-3, claiming) hugepages(512 x 2048 KiB, 512 added)" "win10: restored" "0/0" "$UNITS0" "inhibitor=none" "lock")" "$out"

## restore: a running VM keeps its claims; reconnect sets a missing inhibitor again and never fails
host; two_map
out=$(on desktop "$START; $RUNNING; $POOL"'
start win10; running $W/win10.xml win10; $H win10 started begin - </dev/null
$H restore win10 >/dev/null 2>&1; pool $P2M; eval "$UNITS"; eval "$SLEEPING"
echo inactive >$VFIO_HOOK_TEST_ROOT/units/vfio-hook-sleep.service
$H win10 reconnect begin - </dev/null; echo "reconnect rc=$?"; eval "$SLEEPING"
echo inactive >$VFIO_HOOK_TEST_ROOT/units/vfio-hook-sleep.service
FAKE_SYSTEMD_RUN_FAIL=1 $H win10 reconnect begin - </dev/null; echo "reconnect rc=$?"')
check "restore leaves a running VM its claims; reconnect restarts the inhibitor, and exits 0 when it cannot" "$(printf '%s\n' "win10 rc=0" \
	"512/512" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 " "inhibitor=active" \
	"reconnect rc=0" "inhibitor=active" \
	"vfio-hook: win10: the host's sleep could not be blocked again (systemd-run of vfio-hook-sleep.service failed (exit status 1))" \
	"reconnect rc=0")" "$out"

## bad input: a pin libvirt's XML gives that is not a CPU list is refused; a damaged claim line is
## reported and kept, never guessed
host; two_map
cxml win10 "<vcpupin vcpu='0' cpuset='2-x'/>" >"$work/win10.xml"
out=$(on desktop "$START"'
start win10 2>&1')
check "bad input: an unreadable pin refuses the start with where to fix it" "$(printf '%s\n' \
	"vfio-hook: win10: its domain XML pins CPUs vfio-hook cannot read: <vcpupin cpuset='2-x'> is not a set of CPUs; fix it with 'virsh edit win10', or set cpus = none in [vm win10]" \
	"win10 rc=1")" "$out"
mkdir -p "$work/state"; printf '%s\n' "vfio-hook-ledger 1" "cpus win10 set=2-x governor=no state=done" >"$work/state/ledger"
out=$(on desktop '$H status 2>&1; $H restore --all 2>&1; echo rc=$?; ls $W/state')
R2="what it records once it is correct"
check "bad input: a damaged claim line is reported and kept, also by restore --all, which says how to correct it" "$(printf '%s\n' \
	"vfio-hook: $work/state/ledger:2: cannot read this entry; it is kept as it is (check it, then 'vfio-hook restore --all' gives back $R2): cpus win10 set=2-x governor=no state=done" \
	"damaged entries in $work/state/ledger: see the warnings above; 'vfio-hook restore --all' gives them back" \
	"vfio-hook: $work/state/ledger:2: cannot read this entry; it is kept as it is (check it, then 'vfio-hook restore --all' gives back $R2): cpus win10 set=2-x governor=no state=done" \
	"vfio-hook: $work/state/ledger:2: a damaged record of a claim, or of what the host had before one, is kept: correct it (cpus VM set=CPUS governor=yes|no state=done, pages VM size=KIB node=N|- pages=N added=N state=done, sleep VM state=done, slice UNIT was=CPUS|-, governor CPU was=GOVERNOR epp=EPP|-, pool SIZE_KIB NODE|- was=PAGES), then run 'vfio-hook restore --all' again; or delete it once the host is as it should be. Until then no VM's CPUs, hugepages or sleep are claimed or given back on a guess" \
	"rc=1" "ledger" "lock")" "$out"

## hugepages whatever races and failures came between: each pool ends as it was before the first
## claim (the "pool" record), never lower, never higher
RACE='started() { running $W/$1.xml $1; $H $1 started begin - </dev/null; }; gone() { rm -f $W/run/$1.xml; }; take() { echo $(( $(cat $2/free_hugepages) - $1 )) >$2/free_hugepages; }'
export RACE
# A raise that never finishes (the kernel stuck finding pages, or the hook killed in it): its
# claim says 412 were added, none were; restore keeps the 100 pages reserved at boot.
cxml win10 "" 1048576 "<hugepages/>" >"$work/win10.xml"
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no"; pool "$P2M" 100 100
out=$(on desktop "$START; $POOL"'
(FAKEKERNEL_POOL_HANG=1 timeout -s KILL 1 $H win10 prepare begin - <$W/win10.xml) 2>/dev/null; echo "killed rc=$?"
grep -c "^pool 2048 - was=100 set=100$" $W/state/ledger
$H restore win10 2>&1; pool $P2M')
check "hugepages: a raise killed before it finished, then restore: the boot's 100 pages stay" \
	"$(printf '%s\n' "killed rc=137" 1 "win10: restored" "100/100")" "$(echo "$out" | grep -v "^Killed$")"
# A release whose lowering hung keeps its claim; the VM started again before any restore: its
# next stop still lowers the pool to what it had before the first claim.
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no"
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
start win10; started win10; take 512 $P2M
gone win10; take -512 $P2M; FAKEKERNEL_POOL_HANG=1 stop win10 >/dev/null 2>&1; pool $P2M
start win10; started win10; take 512 $P2M; gone win10; take -512 $P2M; stop win10; pool $P2M; ls $W/state')
check "hugepages: a stop that could not lower, a restart, a stop: the pool back to 0" \
	"$(printf '%s\n' "win10 rc=0" "512/512" "win10 rc=0" "win10 stopped rc=0" "0/0" "lock")" "$out"
# A release announces on the lock how long its claims' gives may take (each unit set and read
# back, each pool, the inhibitor: the map's timeout each), not only its devices' time: a start
# waiting for the lock waits that long. Here 90 s with timeout = 5; the lock's first
# announcement is 30 s.
cxml win10 "$(pins 2 3)" 1048576 "<hugepages/>" >"$work/win10.xml"
host; map "[options]" "timeout = 5" "[vm win10]" "block-sleep = yes"
out=$(on desktop "$START; $RUNNING; $RACE"'
start win10; started win10; gone win10
(FAKE_SYSTEMCTL_HANG=set-property:system.slice stop win10 >/dev/null 2>&1) &
sleep 1; perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -ne \
	'"'"'/until (\d+)/ and printf "the lock held for at least 80 s more: %s\n", $1 - 1000 * clock_gettime(CLOCK_MONOTONIC) >= 80000 ? "yes" : "no"'"'"' \
	$W/state/lock; wait')
check "deadlines: a release announces on the lock the time its claims' gives may take" \
	"$(printf '%s\n' "win10 rc=0" "the lock held for at least 80 s more: yes")" "$out"
# Three VMs on one pool; A's release comes after B prepared (counting A's free pages as free).
cxml C "" 524288 "<hugepages/>" >"$work/C.xml"; cxml A "" 1048576 "<hugepages/>" >"$work/A.xml"
cxml B "" 1048576 "<hugepages/>" >"$work/B.xml"
host; map "[options]" "timeout = 2" "block-sleep = no" "[vm C]" "cpus = none" "[vm A]" "cpus = none" "[vm B]" "cpus = none"
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
start C; started C; take 256 $P2M; start A; started A; take 512 $P2M
gone A; take -512 $P2M; start B; stop A; started B; take 512 $P2M
gone B; take -512 $P2M; stop B; gone C; take -256 $P2M; stop C; pool $P2M; ls $W/state')
check "hugepages: a release racing another's start, three VMs: every pool back to 0 in the end" \
	"$(printf '%s\n' "C rc=0" "A rc=0" "B rc=0" "A stopped rc=0" "B stopped rc=0" "C stopped rc=0" "0/0" "lock")" "$out"
# One VM on node 0's pool while another, still starting, claims from the pool of all nodes.
cxml linux "" 1048576 "<hugepages/>" >"$work/linux.xml"
cxml win10 "" 524288 "<hugepages/>" "<numatune><memory mode='strict' nodeset='0'/></numatune>" >"$work/win10.xml"
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no" "[vm linux]" "block-sleep = no"
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
N0=$VFIO_HOOK_TEST_ROOT/sys/devices/system/node/node0/hugepages/hugepages-2048kB
start linux; start win10; started win10; take 256 $N0; take 256 $P2M
gone win10; take -256 $N0; take -256 $P2M; stop win10
started linux; take 512 $P2M; gone linux; take -512 $P2M; stop linux; echo "all=$(pool $P2M) node0=$(pool $N0)"; ls $W/state')
check "hugepages: node 0's pool and the pool of all nodes, one VM still starting: both back to 0" \
	"$(printf '%s\n' "linux rc=0" "win10 rc=0" "win10 stopped rc=0" "linux stopped rc=0" "all=0/0 node0=0/0" "lock")" "$out"
# A raise of node 0's pool still looking when the timeout ran out, while another VM runs on pages
# of the pool of all nodes: the pages found go back from both pools, the other VM keeps its 256.
cxml linux "" 524288 "<hugepages/>" >"$work/linux.xml"
cxml win10 "" 1048576 "<hugepages/>" "<numatune><memory mode='strict' nodeset='0'/></numatune>" >"$work/win10.xml"
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no" "[vm linux]" "block-sleep = no"
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
N0=$VFIO_HOOK_TEST_ROOT/sys/devices/system/node/node0/hugepages/hugepages-2048kB
start linux; started linux; take 256 $P2M; echo "all=$(pool $P2M) node0=$(pool $N0)"
FAKEKERNEL_POOL_HANG=found:200 start win10 2>&1 | sed "s/ (in the .*//"; echo "all=$(pool $P2M) node0=$(pool $N0)"
gone linux; take -256 $P2M; stop linux; echo "all=$(pool $P2M) node0=$(pool $N0)"; ls $W/state')
check "hugepages: node 0's raise timed out while another VM runs on the pool of all nodes: both pools put back exactly" \
	"$(printf '%s\n' "linux rc=0" "all=256/0 node0=0/0" \
	"vfio-hook: win10: 312 2 MiB hugepages on node 0 are missing: it needs 512, 0 were free and the kernel found 200 more of 512" \
	"win10 rc=1" "all=256/0 node0=0/0" "linux stopped rc=0" "all=0/0 node0=0/0" "lock")" "$out"
cxml win10 "$(pins 2 3)<emulatorpin cpuset='3'/>" >"$work/win10.xml"
cxml linux "$(pins 4 5)" >"$work/linux.xml"

## a damaged record of what VMs keep, or of what the host's units had: no CPU is claimed or given
## back on a guess; once the line is put right, restore gives the host its CPUs back exactly
host; map "[options]" "timeout = 2" "block-sleep = no" "[vm win10]" "evict = refuse" "[vm linux]" "evict = refuse"
out=$(on desktop "$START; $RUNNING; $RACE"'
start win10; started win10
sed -i "s/^slice user.slice was=-$/slice user.slice was=-x/" $W/state/ledger
start linux 2>&1 | grep -v "cannot read this entry"; eval "$UNITS"
gone win10; stop win10 2>&1 | grep -v "cannot read this entry"; eval "$UNITS"
$H restore --all 2>&1 | grep -c "a damaged record of a claim, or of what the host had before one, is kept"
sed -i "s/^damaged slice user.slice was=-x$/slice user.slice was=-/" $W/state/ledger
$H restore --all; eval "$UNITS"; ls $W/state')
check "CPUs: a damaged slice line: the next claim refused, the stop keeps the CPUs, restore --all keeps the line; put right, restore gives all back" \
	"$(printf '%s\n' "win10 rc=0" \
	"vfio-hook: linux: its CPUs cannot be kept: a damaged cpus, slice or governor line in $work/state/ledger (its FILE:LINE above) hides which CPUs VMs keep or what the host's units had; correct or delete it, or set cpus = none in [vm linux]" \
	"linux rc=1" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 " \
	"vfio-hook: win10: its CPUs stay kept from the host: a damaged cpus or slice line in $work/state/ledger (its FILE:LINE above) hides which CPUs VMs keep or what the host's units had: correct or delete it; run 'vfio-hook restore win10' when the cause is gone" \
	"win10 stopped rc=0" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 " \
	1 "win10: restored" "$UNITS0" "lock")" "$out"
host; map "[options]" "timeout = 2" "block-sleep = no" "[vm win10]" "evict = refuse" "[vm linux]" "evict = refuse"
cxml linux "$(pins 3 4)" >"$work/linux.xml"
out=$(on desktop "$START; $RUNNING; $RACE"'
start win10; started win10
sed -i "s/^\(cpus win10 .*\) state=done$/\1 state=dnoe/" $W/state/ledger
start linux 2>&1 | grep -v "cannot read this entry"; eval "$UNITS"')
check "CPUs: a damaged cpus line of a running VM: another VM's claim is refused, the host's CPUs stay" \
	"$(printf '%s\n' "win10 rc=0" \
	"vfio-hook: linux: its CPUs cannot be kept: a damaged cpus, slice or governor line in $work/state/ledger (its FILE:LINE above) hides which CPUs VMs keep or what the host's units had; correct or delete it, or set cpus = none in [vm linux]" \
	"linux rc=1" "system.slice=0-1,4-7/0-1,4-7 user.slice=0-1,4-7/0-1,4-7 init.scope=0-1,4-7/0-1,4-7 machine.slice=/0-7 ")" "$out"
cxml linux "$(pins 4 5)" >"$work/linux.xml"

## the second review's: a pool raised by hand, a node's pool started first, damaged lines of
## pages and sleep, an inhibitor unit that holds nothing
# The user raises the pool by hand while a VM that added nothing runs: its stop leaves it raised.
cxml win10 "" 1048576 "<hugepages/>" >"$work/win10.xml"
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no"; pool "$P2M" 1024 1024
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
start win10; started win10; take 512 $P2M; echo 2048 >$P2M/nr_hugepages; echo 1536 >$P2M/free_hugepages
gone win10; take -512 $P2M; stop win10; pool $P2M')
check "hugepages: a pool the user raised by hand stays raised when a VM that added nothing stops" \
	"$(printf '%s\n' "win10 rc=0" "win10 stopped rc=0" "2048/2048")" "$out"
# Node 0's pool claimed first, then the pool of all nodes: each back to 0.
cxml linux "" 2097152 "<hugepages/>" >"$work/linux.xml"
cxml win10 "" 1048576 "<hugepages/>" "<numatune><memory mode='strict' nodeset='0'/></numatune>" >"$work/win10.xml"
host; map "[options]" "timeout = 2" "[vm win10]" "block-sleep = no" "[vm linux]" "block-sleep = no"
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
N0=$VFIO_HOOK_TEST_ROOT/sys/devices/system/node/node0/hugepages/hugepages-2048kB
start win10; started win10; take 512 $N0; take 512 $P2M; start linux; started linux; take 1024 $P2M
gone win10; take -512 $N0; take -512 $P2M; stop win10; gone linux; take -1024 $P2M; stop linux
echo "all=$(pool $P2M) node0=$(pool $N0)"; ls $W/state')
check "hugepages: node 0's pool first, then the pool of all nodes: both back to 0" \
	"$(printf '%s\n' "win10 rc=0" "linux rc=0" "win10 stopped rc=0" "linux stopped rc=0" "all=0/0 node0=0/0" "lock")" "$out"
# Another VM's pages line damaged: a stop is not the pool's last, the baseline stays; once the
# line is put right, the last stop lowers the pool to the 100 pages reserved at boot.
cxml A "" 1048576 "<hugepages/>" >"$work/A.xml"; cxml B "" 1048576 "<hugepages/>" >"$work/B.xml"
host; map "[options]" "timeout = 2" "block-sleep = no" "[vm A]" "cpus = none" "[vm B]" "cpus = none"; pool "$P2M" 100 100
out=$(on desktop "$START; $RUNNING; $POOL; $RACE"'
start A; started A; take 512 $P2M; start B; started B; take 512 $P2M
sed -i "s/^\(pages B .*\) state=done$/\1 state=dnoe/" $W/state/ledger
gone A; take -512 $P2M; stop A 2>/dev/null; grep -c "^pool 2048 - was=100 " $W/state/ledger
sed -i "s/^damaged \(pages B .*\) state=dnoe$/\1 state=done/" $W/state/ledger
gone B; take -512 $P2M; stop B; pool $P2M; ls $W/state')
check "hugepages: a damaged pages line keeps the pool's baseline; put right, the pool ends at the boot's 100" \
	"$(printf '%s\n' "A rc=0" "B rc=0" "A stopped rc=0" 1 "B stopped rc=0" "100/100" "lock")" "$out"
# Another running VM's sleep line damaged: the inhibitor stays while it may run.
cxml win10 "" >"$work/win10.xml"; cxml linux "" >"$work/linux.xml"
host; two_map
out=$(on desktop "$START; $RUNNING; $RACE"'
start win10; started win10; start linux; started linux
sed -i "s/^sleep linux state=done$/sleep linux state=dnoe/" $W/state/ledger
gone win10; stop win10 2>&1 | grep -v "cannot read this entry"; eval "$SLEEPING"')
check "sleep: a damaged sleep line of another VM keeps the inhibitor, saying why" "$(printf '%s\n' "win10 rc=0" "linux rc=0" \
	"vfio-hook: win10: the host's sleep stays blocked: a damaged sleep line in $work/state/ledger (its FILE:LINE above) may be another running VM's; correct or delete it, then run 'vfio-hook restore win10'" \
	"win10 stopped rc=0" "inhibitor=active")" "$out"
cxml win10 "$(pins 2 3)<emulatorpin cpuset='3'/>" >"$work/win10.xml"
cxml linux "$(pins 4 5)" >"$work/linux.xml"
# A CPU offline when the CPUs are given back: every possible CPU is sent, so it is the host's
# again when it comes back, and the next claim takes nothing for a setting of the user's.
host; two_map
out=$(on desktop "$START; $RUNNING; $RACE"'
start win10; started win10; echo 0-6 >$VFIO_HOOK_TEST_ROOT/sys/devices/system/cpu/online
gone win10; stop win10; cat $VFIO_HOOK_TEST_ROOT/sys/fs/cgroup/system.slice/cpuset.cpus
echo 0-7 >$VFIO_HOOK_TEST_ROOT/sys/devices/system/cpu/online
start linux; started linux; grep "^slice system.slice" $W/state/ledger; gone linux; stop linux; eval "$UNITS"')
check "CPUs: a CPU offline at the give-back is the host's again when it comes back; the next claim's record says nothing was set" \
	"$(printf '%s\n' "win10 rc=0" "win10 stopped rc=0" "0-7" "linux rc=0" "slice system.slice was=-" "linux stopped rc=0" \
	"system.slice=/0-7 user.slice=/0-7 init.scope=/0-7 machine.slice=/0-7 ")" "$out"

tap_done
