# vm-time: 40
# Only function 0 mapped: the group is not viable, the hook refuses, virsh start shows the
# line naming 01:00.1, and the host drivers are untouched and still work.
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111  bochs-display" "[vm a]" "pci = gpu"
define_l2 a none no 0000:01:00.0
if virsh start a >/tmp/start.out 2>&1; then fail "refuse-group: start refused" "it started"; virsh destroy a >/dev/null 2>&1
else pass "refuse-group: start refused"; fi
grep -q "vfio-hook: a: 0000:01:00.1 (.*) shares IOMMU group [0-9]* with this VM's devices but is not mapped: add \"device = 8086:293e\" to \[pci gpu\] in /etc/vfio-hook.ini" /tmp/start.out &&
	pass "refuse-group: virsh start shows the line naming 01:00.1" || fail "refuse-group: virsh start shows the line naming 01:00.1" "$(cat /tmp/start.out)"
info "virsh said: $(tr '\n' ' ' </tmp/start.out)"
expect "refuse-group: host drivers untouched" "$HOST_GPU" "$(gpu_state)"
expect "refuse-group: no record" 0 "$(records)"
host_works refuse-group $GPU_FUNCS
virsh undefine a >/dev/null 2>&1
