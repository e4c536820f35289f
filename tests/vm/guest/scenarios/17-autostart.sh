# vm-time: 120
# Two autostart VMs mapped to the same group, libvirtd restarted: no hang; the first runs, the
# second's start fails within the bound with the hook's line (libvirt logs it).
write_map "[options]" "timeout = 8" "evict = detach" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" \
	"[vm a]" "pci = gpu" "[vm b]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
define_l2 b none no $GPU_FUNCS
virsh autostart a >/dev/null && virsh autostart b >/dev/null
log_mark
pkill -x libvirtd
libvirtd_gone() { ! pgrep -x libvirtd >/dev/null; }
wait_for 30 libvirtd_gone
# libvirt autostarts once per boot of the host: forget that it did.
rm -f /run/libvirt/qemu/autostarted
t0=$(date +%s)
libvirtd -d
wait_libvirtd 90 && pass "autostart: libvirtd answers again ($(( $(date +%s) - t0 )) s)" || fail "autostart: libvirtd answers again" "not within 90 s"
expect "autostart: libvirtd came up within 2 x timeout + 30 s" yes "$([ $(( $(date +%s) - t0 )) -le 46 ] && echo yes)"
one_runs() { case "$(domstate a),$(domstate b)" in "running,shut off" | "shut off,running") return 0 ;; esac; return 1; }
wait_for 30 one_runs
states="$(domstate a),$(domstate b)"
case $states in
"running,shut off" | "shut off,running") pass "autostart: one runs, the other does not ($states)" ;;
*) fail "autostart: one runs, the other does not" "$states" ;;
esac
log_since_mark | grep "vfio-hook" | grep -q -E "(cannot hot-unplug a device from|did not release) .*" &&
	pass "autostart: the second's start failed with the hook's line" ||
	fail "autostart: the second's start failed with the hook's line" "$(log_since_mark | grep vfio-hook | tail -n 5)"
expect "autostart: virsh list answers" 0 "$(timeout 10 virsh list >/dev/null 2>&1; echo $?)"
virsh autostart --disable a >/dev/null 2>&1; virsh autostart --disable b >/dev/null 2>&1
cleanup a b
expect "autostart: host drivers back" "$HOST_GPU" "$(gpu_state)"
