# A (a Linux L2) runs with the GPU-like group; B takes it with evict = detach (giveback = no),
# then libvirt itself fails B's start: B's XML also has a managed='no' NIC that is on its host
# driver, which libvirt refuses after the prepare hook. A start that failed after evicting gives
# the group back into A, live, whatever giveback says, and A owns it again.
nic=0000:03:00.0
write_map "[options]" "timeout = 40" "evict = detach" "giveback = no" "[pci gpu]" "device = 1234:1111" \
	"device = 8086:293e" "[vm a]" "pci = gpu" "[vm b]" "pci = gpu"
define_l2 a linux no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS $nic
virsh start a >/tmp/start.out 2>&1 || fail "failed start: A starts" "$(cat /tmp/start.out)"
wait_l2_up a 300 || fail "failed start: A's Linux boots" "no L2-UP within 300 s"
expect "failed start: A has the group" "2 $VFIO_GPU" "$(hostdevs a) $(gpu_state)"
if virsh start b >/tmp/startb.out 2>&1; then fail "failed start: libvirt refuses B" "B started"; else
	pass "failed start: libvirt refuses B"; fi
info "failed start: B's start said: $(tr '\n' ' ' </tmp/startb.out | cut -c1-300)"
i=0; while [ $i -lt 30 ] && [ "$(hostdevs a)" != 2 ]; do sleep 1; i=$((i + 1)); done
expect "failed start: A has the group back, live, and keeps running" "running 2 $VFIO_GPU" "$(domstate a) $(hostdevs a) $(gpu_state)"
expect "failed start: nothing taken is left in the ledger" 0 "$(grep -c '^took' /run/vfio-hook/ledger 2>/dev/null || true)"
expect "failed start: A owns the group again" 2 "$(record_lines a '^func')"
cleanup a b
expect "failed start: host drivers back" "$HOST_GPU" "$(gpu_state)"
