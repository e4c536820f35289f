# 20 start/destroy cycles: the devices always come back, no records are left; the time the
# hook's prepare takes is reported per cycle (from its own syslog line "prepare took N ms").
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
bad=0 times="" prep=""
for i in $(seq 20); do
	log_mark
	s=$(date +%s%N)
	virsh start a >/tmp/start.out 2>&1 || { bad=$((bad + 1)); info "cycle $i: start failed: $(tr '\n' ' ' </tmp/start.out)"; }
	e=$(date +%s%N)
	prep="$prep $(log_since_mark | sed -n 's/.*a: 2 PCI functions on vfio-pci; prepare took \([0-9]*\) ms.*/\1/p' | tail -n1)"
	[ "$(gpu_state)" = "$VFIO_GPU" ] || { bad=$((bad + 1)); info "cycle $i: running with $(gpu_state)"; }
	virsh destroy a >/dev/null 2>&1
	[ "$(gpu_state)" = "$HOST_GPU" ] || { bad=$((bad + 1)); info "cycle $i: stopped with $(gpu_state)"; }
	times="$times $(( (e - s) / 1000000 ))"
done
info "hook prepare (ms), 20 cycles:$prep"
info "whole virsh start (ms), 20 cycles:$times"
expect "cycles: every prepare reported its time" 20 "$(echo $prep | wc -w)"
expect "cycles: 20 start/destroy cycles without a fault" 0 "$bad"
expect "cycles: no records left" 0 "$(records)"
host_works cycles $GPU_FUNCS
virsh undefine a >/dev/null 2>&1
