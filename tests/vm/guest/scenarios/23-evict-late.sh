# A (a Linux L2) holds the GPU-like group; B starts with evict = detach and timeout = 1, so it
# gives up before A's guest acknowledges the unplug (1.4-3.3 s under TCG). B's failed start must
# not leave A without the group: B's release waits up to timeout for the unplugs it asked for
# and plugs back what left, and the next vfio-hook run (here C's start, an unrelated NIC) plugs
# back what left later still. giveback = no: a failed start gives back whatever it says.
nic=0000:02:00.0
write_map "[options]" "timeout = 1" "evict = detach" "giveback = no" "[pci gpu]" "device = 1234:1111" \
	"device = 8086:293e" "[vm a]" "pci = gpu" "[vm b]" "pci = gpu" "[vm c]" "pci = $nic"
define_l2 a linux no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS
define_l2 c none no $nic
virsh start a >/tmp/start.out 2>&1 || fail "late: A starts" "$(cat /tmp/start.out)"
wait_l2_up a 300 || fail "late: A's Linux boots" "no L2-UP within 300 s"
expect "late: A has the group" "2 $VFIO_GPU" "$(hostdevs a) $(gpu_state)"
if virsh start b >/tmp/startb.out 2>&1; then fail "late: B gives up at its 1 s deadline" "B started"; else
	pass "late: B gives up at its 1 s deadline"; fi
info "late: after B's failed start A has $(hostdevs a) hostdevs; ledger: $(grep -c '^took' /run/vfio-hook/ledger 2>/dev/null) pending"
sleep 8
virsh start c >/tmp/startc.out 2>&1 && pass "late: C starts (and looks at the pending unplugs)" ||
	fail "late: C starts (and looks at the pending unplugs)" "$(cat /tmp/startc.out)"
i=0; while [ $i -lt 20 ] && [ "$(hostdevs a)" != 2 ]; do sleep 1; i=$((i + 1)); done
expect "late: A has the group back, live, and keeps running" "running 2 $VFIO_GPU" "$(domstate a) $(hostdevs a) $(gpu_state)"
expect "late: nothing is left pending" 0 "$(grep -c '^took' /run/vfio-hook/ledger 2>/dev/null || echo 0)"
expect "late: A owns the group" 2 "$(grep -c '^func 0000:01:00\.[01] owner=a ' /run/vfio-hook/ledger 2>/dev/null || echo 0)"
cleanup a b c
expect "late: host drivers back" "$HOST_GPU e1000e" "$(gpu_state) $(driver_of $nic)"
