# vm-time: 90
# B (same group) while A runs, evict = refuse: refused naming A; A keeps running; B's release
# leaves A's devices alone and returns promptly.
write_map "[options]" "timeout = 20" "evict = refuse" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu" "[vm b]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS
virsh start a >/tmp/start.out 2>&1 || fail "held: A starts" "$(cat /tmp/start.out)"
t0=$(date +%s)
if virsh start b >/tmp/startb.out 2>&1; then fail "held: B refused" "B started"; else pass "held: B refused"; fi
t1=$(date +%s)
grep -q "vfio-hook: b: 0000:01:00.0 (.*) is in use by the running VM a" /tmp/startb.out &&
	pass "held: the refusal names A" || fail "held: the refusal names A" "$(cat /tmp/startb.out)"
expect "held: B's start and release returned within 20 s" yes "$([ $((t1 - t0)) -lt 20 ] && echo yes)"
expect "held: A still running" running "$(domstate a)"
expect "held: A's devices still on vfio-pci" "$VFIO_GPU" "$(gpu_state)"
expect "held: virsh list answers" 0 "$(timeout 10 virsh list >/dev/null 2>&1; echo $?)"
virsh destroy a >/dev/null 2>&1
expect "held: after A stops, host drivers back" "$HOST_GPU" "$(gpu_state)"
host_works held $GPU_FUNCS
virsh undefine a >/dev/null 2>&1; virsh undefine b >/dev/null 2>&1
