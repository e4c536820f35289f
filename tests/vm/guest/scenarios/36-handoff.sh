# vm-boot: systemd
# The host's display on the GPU-like device (fbcon on it, display-manager.service holding
# /dev/dri/card0): refused by default, nothing changed; handed over with host-display = handoff
# and given back when the VM stops; a holder that ignores SIGTERM fails the start within the
# deadline, named, and everything is put back.
gpu=0000:01:00.0
vtcon=$(fbcon_vtcon)
info "fbcon is ${vtcon##*/}"
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu"
define_l2 a none no $GPU_FUNCS

# 1. Default policy: refused, with the line naming fbcon and the unit's process.
virsh start a >/tmp/start.out 2>&1 && { fail "handoff: refused by default" "it started"; virsh destroy a >/dev/null 2>&1; } || pass "handoff: refused by default"
want="0000:01:00.0 (Display controller) drives the host's display (fbcon on tty1; fakedm pid $(dm_pid) uses /dev/dri/card0): set host-display = handoff in [vm a] to let vfio-hook stop fakedm.service while a runs, or give the host another GPU"
grep -Fq "$want" /tmp/start.out && pass "handoff: the refusal names fbcon and the display manager's process" ||
	fail "handoff: the refusal names fbcon and the display manager's process" "wanted '$want' in: $(cat /tmp/start.out)"
display_back "handoff: refused" "$vtcon"

# 2. host-display = handoff: the unit stopped, fbcon unbound, the group on vfio-pci while A runs; all back after.
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu" "host-display = handoff"
t0=$(date +%s)
virsh start a >/tmp/start.out 2>&1 && pass "handoff: A starts ($(( $(date +%s) - t0 )) s)" || fail "handoff: A starts" "$(cat /tmp/start.out)"
expect "handoff: A running" running "$(domstate a)"
expect "handoff: the group on vfio-pci" "$VFIO_GPU" "$(gpu_state)"
expect "handoff: display-manager.service stopped" inactive "$(systemctl is-active display-manager.service)"
# Unbound, or gone with the last framebuffer.
expect "handoff: fbcon bound on no vtconsole" "" "$(fbcon_bound)"
vfio-hook status >/tmp/status.out 2>&1
grep -q "holds the host's display" /tmp/status.out && pass "handoff: status shows A holding the host's display" ||
	fail "handoff: status shows A holding the host's display" "$(cat /tmp/status.out)"
t0=$(date +%s)
virsh destroy a >/dev/null 2>&1
info "destroy and give-back took $(( $(date +%s) - t0 )) s"
display_back "handoff: after A stops" "$vtcon"
host_works handoff $GPU_FUNCS

# 3. A second holder that ignores SIGTERM, host-display-kill = no: the start fails within the deadline, naming it.
/usr/local/lib/vfio-hook-vm/fakedm --ignore-term 2>/dev/null &
stuck=$!
sleep 1
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu" "host-display = handoff" "host-display-timeout = 5"
within 90 /tmp/start.out virsh start a; rc=$?
in_time "handoff: a stuck holder fails the start" 90 "$rc"
[ "$rc" != 0 ] && pass "handoff: the start fails" || { fail "handoff: the start fails" "it started"; virsh destroy a >/dev/null 2>&1; }
grep -q "fakedm pid $stuck" /tmp/start.out && pass "handoff: the line names fakedm pid $stuck" ||
	fail "handoff: the line names fakedm pid $stuck" "$(cat /tmp/start.out)"
alive "$stuck" && pass "handoff: host-display-kill = no leaves it running" || fail "handoff: host-display-kill = no leaves it running" "it is gone"
display_back "handoff: rolled back" "$vtcon"
kill -9 "$stuck" 2>/dev/null
cleanup a
rm -f /etc/vfio-hook.ini
