# vm-time: 90
# vfio-hook --check A, before a start, says what the start then does.
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
out=$(vfio-hook --check a 2>/tmp/check.err); rc=$?
expect "check: exit 0 (would start)" 0 "$rc"
moves=$(printf '%s\n' "$out" | sed -n 's/^  move \([0-9a-f:.]*\) .*: \([^ ]*\) -> vfio-pci.*/\1 \2/p' | tr '\n' ' ')
expect "check: plans to move both functions from their drivers" "0000:01:00.0 bochs-drm 0000:01:00.1 snd_hda_intel " "$moves"
expect "check: it read the domain XML from libvirt (no warning)" "" "$(cat /tmp/check.err)"
virsh start a >/dev/null 2>&1 && pass "check: the start succeeds as predicted" || fail "check: the start succeeds as predicted" "start failed"
expect "check: and does what was planned" "$VFIO_GPU" "$(gpu_state)"
virsh destroy a >/dev/null 2>&1
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "[vm a]" "pci = gpu"
vfio-hook --check a >/tmp/check.out 2>&1; rc=$?
expect "check: a map the hook would refuse exits 1" 1 "$rc"
virsh start a >/dev/null 2>&1 && { fail "check: the start is refused as predicted" "it started"; virsh destroy a >/dev/null 2>&1; } || pass "check: the start is refused as predicted"
expect "check: host drivers untouched" "$HOST_GPU" "$(gpu_state)"
virsh undefine a >/dev/null 2>&1
