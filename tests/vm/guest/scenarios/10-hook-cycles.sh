# 20 start/destroy cycles: the devices always come back, no records are left; the time the
# hook's prepare takes is reported per cycle (from its own syslog line "prepare took N ms, K of
# them the kernel's bind and unbind"), split into the kernel's time and vfio-hook's own. Figures
# only: nothing here fails because a machine is slow.
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
bad=0 times="" prep="" kern="" own=""
for i in $(seq 20); do
	log_mark
	s=$(date +%s%N)
	virsh start a >/tmp/start.out 2>&1 || { bad=$((bad + 1)); info "cycle $i: start failed: $(tr '\n' ' ' </tmp/start.out)"; }
	e=$(date +%s%N)
	line=$(log_since_mark | grep "a: 2 PCI functions on vfio-pci; prepare took" | tail -n1)
	p=$(echo "$line" | sed -n 's/.*prepare took \([0-9]*\) ms.*/\1/p') k=$(echo "$line" | sed -n 's/.*ms, \([0-9]*\) of them the kernel.*/\1/p')
	prep="$prep $p" kern="$kern $k"
	[ -z "$p" ] || [ -z "$k" ] || own="$own $((p - k))"
	[ "$(gpu_state)" = "$VFIO_GPU" ] || { bad=$((bad + 1)); info "cycle $i: running with $(gpu_state)"; }
	virsh destroy a >/dev/null 2>&1
	[ "$(gpu_state)" = "$HOST_GPU" ] || { bad=$((bad + 1)); info "cycle $i: stopped with $(gpu_state)"; }
	times="$times $(( (e - s) / 1000000 ))"
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "?" }'; }
info "hook prepare (ms), 20 cycles:$prep"
info "of which the kernel's bind/unbind (ms):$kern"
info "vfio-hook's own (ms):$own"
info "whole virsh start (ms), 20 cycles:$times"
info "FIGURE hook prepare, 2 functions: median $(echo $prep | median) ms = kernel $(echo $kern | median) ms + vfio-hook $(echo $own | median) ms"
expect "cycles: every prepare reported its time" 20 "$(echo $prep | wc -w)"
expect "cycles: every prepare reported the kernel's share" 20 "$(echo $kern | wc -w)"
expect "cycles: 20 start/destroy cycles without a fault" 0 "$bad"
expect "cycles: no records left" 0 "$(records)"
host_works cycles $GPU_FUNCS
virsh undefine a >/dev/null 2>&1
