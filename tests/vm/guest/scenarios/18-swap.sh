# vm-needs: linux-l2
# vm-time: 240
# swap, live between two running Linux L2s (the shared la and lb), and --config between two
# shut-off VMs. lb is not mapped to the group.
write_map "[options]" "timeout = 40" "evict = detach" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm la]" "pci = gpu"
l2_ready la lb || exit 0
# la running with the group as its own, as its start would have left it.
l2_give la gpu || fail "swap: A gets the group" "$(cat /tmp/give.out)"
t0=$(date +%s)
vfio-hook swap lb gpu >/tmp/swap.out 2>&1 && pass "swap: a -> c ($(( $(date +%s) - t0 )) s)" || fail "swap: a -> c" "$(cat /tmp/swap.out)"
expect "swap: C has the group live, A not, both run" "2 0 running running $VFIO_GPU" "$(hostdevs lb) $(hostdevs la) $(domstate la) $(domstate lb) $(gpu_state)"
grep -q "^took 0000:01:00.0 from la" /tmp/swap.out && pass "swap: says whom it took it from" || fail "swap: says whom it took it from" "$(cat /tmp/swap.out)"
vfio-hook swap lb gpu >/tmp/swap.out 2>&1
expect "swap: again says so, changes nothing" "lb already has gpu; nothing changed 2" "$(cat /tmp/swap.out) $(hostdevs lb)"
vfio-hook swap la gpu >/tmp/swap.out 2>&1 && pass "swap: c -> a" || fail "swap: c -> a" "$(cat /tmp/swap.out)"
expect "swap: A has it again" "2 0 $VFIO_GPU" "$(hostdevs la) $(hostdevs lb) $(gpu_state)"
# Both L2s as they were: the group unplugged (la acknowledges) and given back by restore.
l2_reset la lb
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
