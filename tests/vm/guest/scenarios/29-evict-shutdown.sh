# evict = shutdown: A (a Linux L2 that powers off on the ACPI button) holds the group; B's start
# shuts A down and takes the group; A's late release changes nothing; B's stop gives it to the host.
write_map "[options]" "timeout = 60" "evict = shutdown" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu" "[vm b]" "pci = gpu"
define_l2 a linux no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS
virsh start a >/tmp/start.out 2>&1 || fail "shutdown: A starts" "$(cat /tmp/start.out)"
wait_l2_up a 300 || fail "shutdown: A's Linux boots" "no L2-UP within 300 s"
t0=$(date +%s)
virsh start b >/tmp/startb.out 2>&1 && pass "shutdown: B starts ($(( $(date +%s) - t0 )) s)" || fail "shutdown: B starts" "$(cat /tmp/startb.out)"
grep -q L2-POWEROFF /tmp/a.console && pass "shutdown: A powered off from inside" || fail "shutdown: A powered off from inside" "$(tail -c 300 /tmp/a.console)"
expect "shutdown: A is off, B runs with the group" "shut off running 2 $VFIO_GPU" "$(domstate a) $(domstate b) $(hostdevs b) $(gpu_state)"
expect "shutdown: the records" "0 2" "$(record_lines a '.') $(record_lines b '^func')"
virsh destroy b >/dev/null 2>&1
expect "shutdown: host drivers back after B" "$HOST_GPU" "$(gpu_state)"
host_works shutdown $GPU_FUNCS
cleanup a b
