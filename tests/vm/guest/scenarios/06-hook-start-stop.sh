# vm-time: 60
# virsh start with both GPU-like functions mapped (managed='no'): the hook moves them to
# vfio-pci and A runs; virsh destroy: they are back on working host drivers, nothing left over.
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111  bochs-display" "device = 8086:293e  its audio" "[vm a]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
if virsh start a >/tmp/start.out 2>&1; then pass "start-stop: A starts"; else fail "start-stop: A starts" "$(cat /tmp/start.out)"; fi
expect "start-stop: A running" running "$(domstate a)"
expect "start-stop: both functions on vfio-pci" "$VFIO_GPU" "$(gpu_state)"
expect "start-stop: /dev/vfio/N exists" yes "$([ -e /dev/vfio/$(group_of 0000:01:00.0) ] && echo yes)"
expect "start-stop: one record while A runs" 1 "$(records)"
virsh destroy a >/dev/null 2>&1
expect "start-stop: back on host drivers, no driver_override" "$HOST_GPU" "$(gpu_state)"
expect "start-stop: no record left" 0 "$(records)"
host_works start-stop $GPU_FUNCS
virsh undefine a >/dev/null 2>&1
