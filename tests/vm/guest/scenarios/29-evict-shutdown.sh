# vm-needs: linux-l2
# vm-time: 150
# evict = shutdown: A (a Linux L2 that powers off on the ACPI button: the shared la) holds the
# group; B's start shuts A down and takes the group; A's late release changes nothing; B's stop
# gives it to the host. The last of the scenarios that use la: it ends switched off (a later
# l2_ready would boot it again).
write_map "[options]" "timeout = 60" "evict = shutdown" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm la]" "pci = gpu" "[vm b]" "pci = gpu"
l2_ready la || exit 0
define_l2 b none no $GPU_FUNCS
l2_give la gpu || fail "shutdown: A gets the group" "$(cat /tmp/give.out)"
t0=$(date +%s)
virsh start b >/tmp/startb.out 2>&1 && pass "shutdown: B starts ($(( $(date +%s) - t0 )) s)" || fail "shutdown: B starts" "$(cat /tmp/startb.out)"
grep -q L2-POWEROFF /tmp/la.console && pass "shutdown: A powered off from inside" || fail "shutdown: A powered off from inside" "$(tail -c 300 /tmp/la.console)"
expect "shutdown: A is off, B runs with the group" "shut off running 2 $VFIO_GPU" "$(domstate la) $(domstate b) $(hostdevs b) $(gpu_state)"
expect "shutdown: the records" "0 2" "$(record_lines la '.') $(record_lines b '^func')"
virsh destroy b >/dev/null 2>&1
expect "shutdown: host drivers back after B" "$HOST_GPU" "$(gpu_state)"
host_works shutdown $GPU_FUNCS
cleanup b
