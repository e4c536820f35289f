# vm-boot: systemd
# vm-time: 420
# What a VM takes from the host besides its devices (issue 19), on the real kernel with systemd as
# PID 1 (cgroup v2): the CPUs its <cputune> pins are kept from system.slice, user.slice and
# init.scope (AllowedCPUs, read back from cpuset.cpus.effective), for two VMs with disjoint pins
# started and stopped in both orders, exactly given back; a pin another running VM keeps is
# refused naming both; the 2 MiB hugepage pool raised by what each VM's <memoryBacking> needs
# and lowered exactly, with a second VM still holding its pages; a VM wanting more pages than
# the guest can give refused with the pool put back; logind's sleep inhibitor listed by
# systemd-inhibit while a VM runs and gone after; the hook SIGKILLed at points across the
# claims' steps, then 'vfio-hook restore', leaves the host as it was.
expect "claims: systemd is PID 1, four CPUs online, logind runs" "systemd 0-3 active" \
	"$(cat /proc/1/comm) $(cat /sys/devices/system/cpu/online) $(systemctl is-active systemd-logind.service)"
P2M=/sys/kernel/mm/hugepages/hugepages-2048kB
# Each unit's effective CPUs; a unit without the cpuset controller (or not started yet) runs on
# what the root has.
eff() { cat "/sys/fs/cgroup/$1/cpuset.cpus.effective" 2>/dev/null | grep . || cat /sys/fs/cgroup/cpuset.cpus.effective; }
units() { for u in system.slice user.slice init.scope; do printf '%s=%s ' "$u" "$(eff $u)"; done; }
allowed() { for u in system.slice user.slice init.scope; do printf '%s=%s ' "$u" "$(timeout 30 systemctl show -p AllowedCPUs --value $u)"; done; }
pool() { echo "$(cat $P2M/nr_hugepages)/$(cat $P2M/free_hugepages)"; }
inhibited() { timeout 30 systemd-inhibit --list --no-legend 2>/dev/null | grep -c vfio-hook; }
units0=$(units) allowed0=$(allowed) pool0=$(pool)
info "claims: before: $units0 | $allowed0 | pool $pool0"
expect "claims: the host's units run on every CPU, no hugepages reserved" "system.slice=0-3 user.slice=0-3 init.scope=0-3 0/0" \
	"$units0$pool0"
pinned() { echo "<cputune><vcpupin vcpu='0' cpuset='$1'/><emulatorpin cpuset='$1'/></cputune>"; }
HUGE="<memoryBacking><hugepages/></memoryBacking>"
write_map "[options]" "timeout = 30" "block-sleep = yes" "[vm ca]" "evict = refuse" "[vm cb]" "evict = refuse" \
	"[vm cc]" "evict = refuse" "[vm cd]" "evict = refuse"
L2_MEMORY_MIB=64 L2_XML="$(pinned 1)$HUGE" define_l2 ca none
L2_MEMORY_MIB=64 L2_XML="$(pinned 2)$HUGE" define_l2 cb none
L2_MEMORY_MIB=64 L2_XML="$(pinned 2)" define_l2 cc none
L2_MEMORY_MIB=4096 L2_XML="$HUGE" define_l2 cd none

# Two VMs, disjoint pins, both orders: each stop gives back its own CPUs and pages only.
for order in "ca cb" "cb ca"; do
	first=${order% *} second=${order#* }
	log_mark
	within 120 /tmp/ca.out virsh start ca || info "start ca: $(tr '\n' ' ' </tmp/ca.out)"
	# logind's records, not the FIFOs beside them (a read of one blocks while its inhibitor is held).
	info "logind's inhibitors: $(timeout 30 systemd-inhibit --list --no-legend 2>&1 | tr '\n' '|'); its records: $(
		for f in /run/systemd/inhibit/*; do [ -f "$f" ] && printf '%s: %s; ' "$f" "$(tr '\n' ' ' <"$f")"; done)"
	log_since_mark | grep "vfio-hook.*sleep" | sed 's/^/INFO hook: /' | tail -n 3
	expect "claims ($order): ca runs; its CPU 1 kept from the host's units; 32 pages raised; the inhibitor held" \
		"running system.slice=0,2-3 user.slice=0,2-3 init.scope=0,2-3  32 1" "$(domstate ca) $(units) $(cat $P2M/nr_hugepages) $(inhibited)"
	within 120 /tmp/cb.out virsh start cb || info "start cb: $(tr '\n' ' ' </tmp/cb.out)"
	expect "claims ($order): cb runs too; the host on CPU 0,3; 64 pages" \
		"running system.slice=0,3 user.slice=0,3 init.scope=0,3  64 1" "$(domstate cb) $(units) $(cat $P2M/nr_hugepages) $(inhibited)"
	within 60 /tmp/d.out virsh destroy "$first"
	left=$([ "$first" = ca ] && echo 0-1,3 || echo 0,2-3)
	expect "claims ($order): $first stopped; $second keeps its CPU and its 32 pages, the inhibitor stays" \
		"system.slice=$left user.slice=$left init.scope=$left  32 1" "$(units) $(cat $P2M/nr_hugepages) $(inhibited)"
	within 60 /tmp/d.out virsh destroy "$second"
	expect "claims ($order): both stopped: every CPU, every page and sleep back, nothing recorded" \
		"$units0 | $allowed0 | $pool0 0 0" "$(units) | $(allowed) | $(pool) $(inhibited) $(grep -c . $LEDGER 2>/dev/null || echo 0)"
done

# A pin another running VM keeps: refused naming both, nothing changes.
within 120 /tmp/cb.out virsh start cb
within 120 /tmp/cc.out virsh start cc; rc=$?
expect "claims: cc, pinned to cb's CPU 2, is refused" "1 shut off" "$([ $rc = 0 ] && echo 0 || echo 1) $(domstate cc)"
grep -q "CPU 2 (its <cputune>) is kept for cb already" /tmp/cc.out && pass "claims: the refusal names CPU 2 and cb" ||
	fail "claims: the refusal names CPU 2 and cb" "$(cat /tmp/cc.out)"
expect "claims: after the refusal the host's units are as cb left them" \
	"system.slice=0-1,3 user.slice=0-1,3 init.scope=0-1,3  32" "$(units) $(cat $P2M/nr_hugepages)"

# More pages than the guest can give (4 GiB of 2 MiB pages in 2 GiB): refused, the pool put back.
# The kernel reclaims all it can for them until the hook's writer is killed at the map's timeout
# (30 s), and the guest barely runs meanwhile: virsh's keepalive (a reply within 30 s) once
# dropped the connection ("keepalive timeout") before libvirt could say the start failed, so
# this virsh sends none; within's deadline still bounds it.
within 180 /tmp/cd.out virsh -k 0 start cd; rc=$?
expect "claims: cd (4 GiB of hugepages) is refused, cb's 32 pages still there" "1 shut off 32" \
	"$([ $rc = 0 ] && echo 0 || echo 1) $(domstate cd) $(cat $P2M/nr_hugepages)"
grep -q "2 MiB hugepages are missing: it needs 2048" /tmp/cd.out && pass "claims: the refusal says how many pages are missing" ||
	fail "claims: the refusal says how many pages are missing" "$(cat /tmp/cd.out)"
within 60 /tmp/d.out virsh destroy cb
expect "claims: all stopped: the host as it was" "$units0 | $allowed0 | $pool0 0" "$(units) | $(allowed) | $(pool) $(inhibited)"

# The hook SIGKILLed at points across its steps (pages, CPUs, sleep), then restore.
virsh dumpxml ca >/tmp/ca-def.xml
for t in 0.1 0.3 0.6 1 2; do
	timeout -s KILL "$t" /etc/libvirt/hooks/qemu ca prepare begin - </tmp/ca-def.xml >/dev/null 2>&1
	state="$(units) $(pool) $(inhibited)"
	timeout 120 vfio-hook restore ca >/tmp/restore.out 2>&1
	expect "claims: hook killed after ${t}s (left: $state), then restore: the host as it was" \
		"$units0 | $allowed0 | $pool0 0 0" "$(units) | $(allowed) | $(pool) $(inhibited) $(grep -c . $LEDGER 2>/dev/null || echo 0)"
done
cleanup ca cb cc cd
