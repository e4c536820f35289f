# vm-needs: linux-l2
# vm-time: 180
# A (a Linux L2: the shared la) runs with the GPU-like group; B starts with the same group, evict
# = detach: the group leaves A live (A keeps running) and B starts with it. B stops: with
# giveback = yes A gets the group back live; with giveback = no the host drivers do.
gmap() { write_map "[options]" "timeout = 40" "evict = detach" "giveback = $1" "[pci gpu]" "device = 1234:1111" \
	"device = 8086:293e" "[vm la]" "pci = gpu" "[vm b]" "pci = gpu"; }
gmap yes
l2_ready la || exit 0
define_l2 b none no $GPU_FUNCS
# A running with the group as its own, as its start would have left it.
l2_give la gpu || fail "detach: A gets the group" "$(cat /tmp/give.out)"
expect "detach: A has the group" "2 $VFIO_GPU" "$(hostdevs la) $(gpu_state)"
t0=$(date +%s)
virsh start b >/tmp/startb.out 2>&1 && pass "detach: B starts ($(( $(date +%s) - t0 )) s)" || fail "detach: B starts" "$(cat /tmp/startb.out)"
expect "detach: A keeps running" running "$(domstate la)"
expect "detach: the group left A" 0 "$(hostdevs la)"
expect "detach: B runs with the group" "running 2 $VFIO_GPU" "$(domstate b) $(hostdevs b) $(gpu_state)"
expect "detach: the ledger says B took them from A" 2 "$(record_lines b '^took .* from=la\( \|$\)')"
expect "detach: the ledger makes B their owner, not A" "0 2" "$(record_lines la '^func') $(record_lines b '^func')"
t0=$(date +%s)
virsh destroy b >/dev/null 2>&1
expect "giveback: A got the group back, live" "running 2 $VFIO_GPU" "$(domstate la) $(hostdevs la) $(gpu_state)"
info "giveback took $(( $(date +%s) - t0 )) s"
expect "giveback: the ledger makes A their owner again" "2 0" "$(record_lines la '^func') $(record_lines b "^func")"
# Once more with giveback = no: the host gets them when B stops.
gmap no
virsh start b >/tmp/startb.out 2>&1 && pass "detach again: B starts" || fail "detach again: B starts" "$(cat /tmp/startb.out)"
expect "detach again: the group left A" "running 0" "$(domstate la) $(hostdevs la)"
virsh destroy b >/dev/null 2>&1
expect "giveback = no: host drivers back, A still without" "$HOST_GPU running 0" "$(gpu_state) $(domstate la) $(hostdevs la)"
host_works "giveback = no" $GPU_FUNCS
cleanup b
l2_reset la
expect "detach: no records left" 0 "$(records)"
