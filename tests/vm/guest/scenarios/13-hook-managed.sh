# vm-time: 60
# The same VM with managed='yes' hostdevs: the hook has moved them before libvirt looks, and
# start and stop both work; the host gets them back.
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu"
define_l2 a none yes $GPU_FUNCS
virsh start a >/tmp/start.out 2>&1 && pass "managed: starts" || fail "managed: starts" "$(cat /tmp/start.out)"
expect "managed: on vfio-pci while it runs" vfio-pci "$(driver_of 0000:01:00.0)"
virsh destroy a >/tmp/destroy.out 2>&1 && pass "managed: stops" || fail "managed: stops" "$(cat /tmp/destroy.out)"
expect "managed: back on host drivers" "$HOST_GPU" "$(gpu_state)"
expect "managed: no record left" 0 "$(records)"
host_works managed $GPU_FUNCS
virsh undefine a >/dev/null 2>&1
