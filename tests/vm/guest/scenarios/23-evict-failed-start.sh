# vm-needs: linux-l2
# vm-time: 150
# A (a Linux L2: the shared la) runs with the GPU-like group; B takes it with evict = detach
# (giveback = no), then libvirt itself fails B's start: B's XML also has a managed='no' NIC that
# is on its host driver, which libvirt refuses after the prepare hook. A start that failed after
# evicting gives the group back into A, live, whatever giveback says, and A owns it again.
nic=0000:03:00.0
write_map "[options]" "timeout = 40" "evict = detach" "giveback = no" "[pci gpu]" "device = 1234:1111" \
	"device = 8086:293e" "[vm la]" "pci = gpu" "[vm b]" "pci = gpu"
l2_ready la || exit 0
define_l2 b none no $GPU_FUNCS $nic
l2_give la gpu || fail "failed start: A gets the group" "$(cat /tmp/give.out)"
expect "failed start: A has the group" "2 $VFIO_GPU" "$(hostdevs la) $(gpu_state)"
if virsh start b >/tmp/startb.out 2>&1; then fail "failed start: libvirt refuses B" "B started"; else
	pass "failed start: libvirt refuses B"; fi
info "failed start: B's start said: $(tr '\n' ' ' </tmp/startb.out | cut -c1-300)"
has_group() { [ "$(hostdevs la)" = 2 ]; }
wait_for 30 has_group
expect "failed start: A has the group back, live, and keeps running" "running 2 $VFIO_GPU" "$(domstate la) $(hostdevs la) $(gpu_state)"
expect "failed start: nothing taken is left in the ledger" 0 "$(grep -c '^took' /run/vfio-hook/ledger 2>/dev/null || true)"
expect "failed start: A owns the group again" 2 "$(record_lines la '^func')"
cleanup b
l2_reset la
expect "failed start: host drivers back" "$HOST_GPU" "$(gpu_state)"
