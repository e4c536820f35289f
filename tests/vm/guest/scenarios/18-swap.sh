# swap, live between two running Linux L2s, and --config between two shut-off VMs.
# C is not mapped to the group: its own start must not take it.
write_map "[options]" "timeout = 40" "evict = detach" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu"
define_l2 a linux no $GPU_FUNCS
define_l2 c linux no
virsh start a >/tmp/start.out 2>&1 || fail "swap: A starts" "$(cat /tmp/start.out)"
virsh start c >/tmp/startc.out 2>&1 || fail "swap: C starts" "$(cat /tmp/startc.out)"
wait_l2_up a 300 && wait_l2_up c 300 || fail "swap: both Linux L2s boot" "no L2-UP within 300 s"
t0=$(date +%s)
vfio-hook swap c gpu >/tmp/swap.out 2>&1 && pass "swap: a -> c ($(( $(date +%s) - t0 )) s)" || fail "swap: a -> c" "$(cat /tmp/swap.out)"
expect "swap: C has the group live, A not, both run" "2 0 running running $VFIO_GPU" "$(hostdevs c) $(hostdevs a) $(domstate a) $(domstate c) $(gpu_state)"
grep -q "^took 0000:01:00.0 from a" /tmp/swap.out && pass "swap: says whom it took it from" || fail "swap: says whom it took it from" "$(cat /tmp/swap.out)"
vfio-hook swap c gpu >/tmp/swap.out 2>&1
expect "swap: again says so, changes nothing" "c already has gpu; nothing changed 2" "$(cat /tmp/swap.out) $(hostdevs c)"
vfio-hook swap a gpu >/tmp/swap.out 2>&1 && pass "swap: c -> a" || fail "swap: c -> a" "$(cat /tmp/swap.out)"
expect "swap: A has it again" "2 0 $VFIO_GPU" "$(hostdevs a) $(hostdevs c) $(gpu_state)"
cleanup a c
expect "swap: host drivers back, no records" "$HOST_GPU 0" "$(gpu_state) $(records)"
host_works swap $GPU_FUNCS
# --config: both shut off; the definitions change, nothing else.
define_l2 d none no $GPU_FUNCS
define_l2 e none no
vfio-hook swap --config e gpu >/tmp/swap.out 2>&1 && pass "swap --config: done" || fail "swap --config: done" "$(cat /tmp/swap.out)"
expect "swap --config: E's definition has the group, D's not" "2 0" "$(hostdevs e --inactive) $(hostdevs d --inactive)"
expect "swap --config: says what changed" 4 "$(grep -c -E "^(added|removed) 0000:01:00\.[01] .* (to|from) [de]'s definition" /tmp/swap.out)"
vfio-hook swap --config e gpu >/tmp/swap.out 2>&1
expect "swap --config: again changes nothing" "e's definition already has gpu, and no other VM's does; nothing changed" "$(cat /tmp/swap.out)"
expect "swap --config: host drivers untouched" "$HOST_GPU" "$(gpu_state)"
cleanup d e
