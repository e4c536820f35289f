# vm-time: 240
# A stuck unbind: a no-OS L2 (a) holds the GPU-like group on vfio-pci, and an unbind of 01:00.0
# from vfio-pci is started behind its back. The kernel relays the request to a's QEMU, whose
# guest never acknowledges it, so the write blocks holding 01:00.0's device lock for as long as
# a runs: every read of driver_override (and of other attributes that take that lock) blocks
# with it. Meanwhile groups, status, --check and two starts (n, an unrelated NIC: starts; b, the
# GPU: refused) each end within their deadline with a line naming the stuck function, and
# libvirt answers. Destroying a lets the unbind finish; a's release gives both functions to the
# host (the ledger still makes a their owner), and b then starts with them.
# Nothing here reads 01:00.0's driver_override (gpu_state) while the unbind is stuck.
t=5
gpu0=0000:01:00.0 nic=0000:02:00.0
write_map "[options]" "timeout = $t" "evict = refuse" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu" "[vm b]" "pci = gpu" "[vm n]" "pci = $nic"
define_l2 a none no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS
define_l2 n none no $nic
virsh start a >/tmp/start.out 2>&1 || fail "stuck: A starts" "$(cat /tmp/start.out)"
expect "stuck: A holds the group" "running $VFIO_GPU" "$(domstate a) $(gpu_state)"
relays() { dmesg | grep -c "vfio-pci $gpu0: Relaying device request to user"; }
relays0=$(relays)
sh -c "echo $gpu0 >/sys/bus/pci/drivers/vfio-pci/unbind; echo \"unbind exit \$?\"" >/tmp/unbind.out 2>&1 &
ub=$!
# Blocked once the kernel relays the request to a's QEMU (whose guest never answers).
relayed() { [ "$(relays)" -gt "$relays0" ]; }
wait_for 30 relayed || info "stuck: no \"Relaying device request\" for $gpu0 in the kernel log within 30 s"
expect "stuck: the unbind of $gpu0 blocks in the kernel" "yes " "$(alive $ub && echo yes) $(cat /tmp/unbind.out)"
info "stuck: $gpu0's driver link now: $(driver_of $gpu0); kernel: $(dmesg | grep -i -E 'vfio|request' | tail -n 3 | tr '\n' ' ')"
stuck_line() { grep -q -E "${1#0000:}.*stuck in the kernel|stuck in the kernel.*${1#0000:}" "$2"; }

# Each command gets the read deadline a few times over plus its own start-up; starts add libvirt's.
d=$((3 * t + 10)) ds=$((3 * t + 45))
within $d /tmp/groups.out vfio-hook groups; rc=$?
in_time "stuck: groups ends" $d $rc
stuck_line $gpu0 /tmp/groups.out && pass "stuck: groups says $gpu0 is stuck in the kernel" ||
	fail "stuck: groups says $gpu0 is stuck in the kernel" "$(cat /tmp/groups.out)"
missing=""
for dev in /sys/bus/pci/devices/*; do
	a=${dev##*/}
	[ "$a" = $gpu0 ] || grep -q "^${a#0000:} " /tmp/groups.out || missing="$missing $a"
done
expect "stuck: groups still lists every other function" "" "$missing"

within $d /tmp/status.out vfio-hook status; rc=$?
in_time "stuck: status ends" $d $rc
stuck_line $gpu0 /tmp/status.out && pass "stuck: status says $gpu0 is stuck in the kernel" ||
	fail "stuck: status says $gpu0 is stuck in the kernel" "$(cat /tmp/status.out)"
expect "stuck: status still lists 01:00.1 and the NIC" "1 1" "$(grep -c '^01:00.1 ' /tmp/status.out) $(grep -c '^02:00.0 ' /tmp/status.out)"

within $d /tmp/check.out vfio-hook --check b; rc=$?
in_time "stuck: --check b ends" $d $rc
expect "stuck: --check b says the start would be refused" 1 $rc
grep -q "a driver operation on $gpu0 is stuck in the kernel" /tmp/check.out &&
	pass "stuck: --check b names the stuck operation" || fail "stuck: --check b names the stuck operation" "$(cat /tmp/check.out)"

within $ds /tmp/startn.out virsh start n; rcn=$?
in_time "stuck: n's start (an unrelated NIC) ends" $ds $rcn
expect "stuck: n starts, with the NIC on vfio-pci" "0 running vfio-pci" "$rcn $(domstate n) $(driver_of $nic)"
[ $rcn = 0 ] || info "n's start said: $(tr '\n' ' ' </tmp/startn.out)"

within $ds /tmp/startb.out virsh start b; rc=$?
in_time "stuck: b's start (the GPU) ends" $ds $rc
[ $rc != 0 ] && [ $rc != 124 ] && pass "stuck: b's start is refused" || fail "stuck: b's start is refused" "it started"
grep -q "vfio-hook: b: .*a driver operation on $gpu0 is stuck in the kernel" /tmp/startb.out &&
	pass "stuck: b's start fails naming the stuck operation" || fail "stuck: b's start fails naming the stuck operation" "$(cat /tmp/startb.out)"

within 10 /tmp/list.out virsh list; rc=$?
expect "stuck: virsh list answers" 0 $rc
expect "stuck: a still runs with the group, 01:00.1 on vfio-pci" "running 2 vfio-pci" "$(domstate a) $(hostdevs a) $(driver_of 0000:01:00.1)"
expect "stuck: the unbind is still blocked" yes "$(alive $ub && echo yes)"
if [ $rcn = 0 ]; then
	within $ds /tmp/destroyn.out virsh destroy n; rc=$?
	in_time "stuck: n's destroy ends" $ds $rc
	expect "stuck: after n, the NIC is back on e1000e" e1000e "$(driver_of $nic)"
fi

# Recovery: a's QEMU closes the device, the unbind completes, a's release (the owner's) gives
# both functions back to their host drivers; then b starts with them.
within $ds /tmp/destroy.out virsh destroy a; rc=$?
in_time "recover: a's destroy ends" $ds $rc
unbind_done() { ! alive $ub; }
wait_for 20 unbind_done
expect "recover: the unbind finished once a was gone" "unbind exit 0" "$(cat /tmp/unbind.out)"
if alive $ub; then
	fail "recover: the rest" "the unbind is still blocked; 01:00.0 cannot be looked at"
else
	expect "recover: a's release gave both functions to their host drivers" "$HOST_GPU" "$(gpu_state)"
	host_works recover $GPU_FUNCS
	within $d /tmp/check.out vfio-hook --check b; rc=$?
	expect "recover: --check b says b would start" 0 $rc
	within $ds /tmp/startb.out virsh start b; rc=$?
	expect "recover: b starts with the group" "0 $VFIO_GPU" "$rc $(gpu_state)"
	[ $rc = 0 ] || info "b's start said: $(tr '\n' ' ' </tmp/startb.out)"
	within $ds /tmp/destroy.out virsh destroy b
	expect "recover: after b, host drivers again" "$HOST_GPU" "$(gpu_state)"
	host_works "recover after b" $GPU_FUNCS
fi
cleanup a b n
expect "stuck: no records left" 0 "$(records)"
