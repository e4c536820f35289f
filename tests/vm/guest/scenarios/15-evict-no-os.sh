# vm-time: 120
# A no-OS L2 holds the group and never acknowledges hot-unplug: B's start with evict = detach
# fails within timeout (+ a margin) with the line; A keeps the device; libvirt answers at once.
# Then evict = refuse: refused at once, naming A.
write_map "[options]" "timeout = 8" "evict = detach" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu" "[vm b]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS
virsh start a >/tmp/start.out 2>&1 || fail "no-os: A starts" "$(cat /tmp/start.out)"
holds_group() { [ "$(domstate a) $(hostdevs a)" = "running 2" ]; }
wait_for 10 holds_group
t0=$(date +%s)
if virsh start b >/tmp/startb.out 2>&1; then fail "no-os: B refused" "B started"; else pass "no-os: B refused"; fi
t=$(( $(date +%s) - t0 ))
expect "no-os: B gave up within timeout + 12 s ($t s)" yes "$([ "$t" -le 20 ] && echo yes)"
grep -q "vfio-hook: b: the running VM a did not release 0000:01:00.0 (.*) within 8 s of a hot-unplug request .*set evict = shutdown in \[vm b\]" /tmp/startb.out &&
	pass "no-os: the line names A and the fix" || fail "no-os: the line names A and the fix" "$(cat /tmp/startb.out)"
expect "no-os: A still has the device" "running 2 $VFIO_GPU" "$(domstate a) $(hostdevs a) $(gpu_state)"
expect "no-os: virsh list answers" 0 "$(timeout 10 virsh list >/dev/null 2>&1; echo $?)"
expect "no-os: B owns nothing" 0 "$(record_lines b '^func')"
expect "no-os: B's unplug requests stay pending (A may still act on them)" 2 "$(record_lines b '^took .* state=pending')"
write_map "[options]" "timeout = 8" "evict = detach" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu" "[vm b]" "pci = gpu" "evict = refuse"
t0=$(date +%s)
if virsh start b >/tmp/startb.out 2>&1; then fail "refuse: B refused" "B started"; else pass "refuse: B refused"; fi
grep -q "vfio-hook: b: 0000:01:00.0 (.*) is in use by the running VM a and evict = refuse" /tmp/startb.out &&
	pass "refuse: the line names A" || fail "refuse: the line names A" "$(cat /tmp/startb.out)"
expect "refuse: at once" yes "$([ $(( $(date +%s) - t0 )) -lt 8 ] && echo yes)"
expect "refuse: A untouched" "running 2" "$(domstate a) $(hostdevs a)"
# A no-OS holder also ignores the ACPI shutdown request.
write_map "[options]" "timeout = 5" "evict = shutdown" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu" "[vm b]" "pci = gpu"
if virsh start b >/tmp/startb.out 2>&1; then fail "shutdown ignored: B refused" "B started"; else pass "shutdown ignored: B refused"; fi
grep -q "vfio-hook: b: the running VM a holds 0000:01:00.0 (.*) and did not shut down within 5 s" /tmp/startb.out &&
	pass "shutdown ignored: the line" || fail "shutdown ignored: the line" "$(cat /tmp/startb.out)"
expect "shutdown ignored: A still runs with it" "running 2" "$(domstate a) $(hostdevs a)"
cleanup a b
expect "no-os: host drivers back" "$HOST_GPU" "$(gpu_state)"
expect "no-os: nothing pending once A is gone" 0 "$(records)"
