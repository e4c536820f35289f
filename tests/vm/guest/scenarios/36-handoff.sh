# vm-boot: systemd ovmf
# vm-time: 300
# The host's display on the GPU-like device (34-host-display) and the hand-over, in both boots
# where it is there. Refused by default, naming what holds it, nothing changed; handed over with
# host-display = handoff and given back when the VM stops:
# systemd — fbcon on bochs-drm's framebuffer, display-manager.service holding /dev/dri/card0;
#   then the hand-over interrupted: a holder that ignores SIGTERM fails the start within the
#   deadline, named, and everything is put back; the second function refusing vfio-pci after
#   the display steps ran (full rollback, display back, restore finishes what stayed recorded);
#   the hook SIGKILLed while it waits for the card's holders, then restore; and a swap into a
#   running VM whose hot-plug libvirt refuses, after the hand-over: everything put back.
# ovmf — the firmware framebuffer (efifb, fbcon on it) in the device's BAR: the start releases it
#   and vfio-pci binds with no "can't reserve" in the kernel log; after the VM stops the
#   framebuffer and fbcon are back.
gpu=0000:01:00.0
vtcon=$(fbcon_vtcon)
gmap() { write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu" "$@"; }
gmap
define_l2 a none no $GPU_FUNCS

if [ "$VM_BOOT" = ovmf ]; then
	fw=$(basename "$(readlink -f /sys/class/graphics/fb0/device)")
	info "fbcon is ${vtcon##*/}, fb0 is $fw"
	virsh start a >/tmp/start.out 2>&1 && { fail "efifb handoff: refused by default" "it started"; virsh destroy a >/dev/null 2>&1; } || pass "efifb handoff: refused by default"
	grep -Fq "drives the host's display (fbcon on tty1; the firmware framebuffer $fw in its BAR 0)" /tmp/start.out &&
		pass "efifb handoff: the refusal names fbcon and $fw in BAR 0" || fail "efifb handoff: the refusal names fbcon and $fw in BAR 0" "$(cat /tmp/start.out)"
	gmap "host-display = handoff"
	dmesg -c >/dev/null
	virsh start a >/tmp/start.out 2>&1 && pass "efifb handoff: A starts" || fail "efifb handoff: A starts" "$(cat /tmp/start.out)"
	expect "efifb handoff: the group on vfio-pci" "$VFIO_GPU" "$(gpu_state)"
	expect "efifb handoff: $fw unbound" no "$([ -e /sys/bus/platform/devices/$fw/driver ] && echo yes || echo no)"
	dmesg >/tmp/dmesg.out
	grep -q "can't reserve" /tmp/dmesg.out && fail "efifb handoff: no \"can't reserve\" in the kernel log" "$(grep "can't reserve" /tmp/dmesg.out)" ||
		pass "efifb handoff: no \"can't reserve\" in the kernel log"
	virsh destroy a >/dev/null 2>&1
	expect "efifb handoff: 01:00.0 has no driver again, 01:00.1 on snd_hda_intel" "none/(null) snd_hda_intel/(null)" "$(gpu_state)"
	expect "efifb handoff: $fw bound again" yes "$([ -e /sys/bus/platform/devices/$fw/driver ] && echo yes || echo no)"
	expect "efifb handoff: /dev/fb0 present" yes "$([ -c /dev/fb0 ] && echo yes)"
	expect "efifb handoff: fbcon bound on ${vtcon##*/} again" 1 "$(cat "$vtcon/bind")"
	cleanup a
	rm -f /etc/vfio-hook.ini
	exit 0
fi

info "fbcon is ${vtcon##*/}"
# A display manager's stand-in that ignores SIGTERM (only SIGKILL ends it), holding the card.
stuck_holder() {
	/usr/local/lib/vfio-hook-vm/fakedm --ignore-term 2>/dev/null &
	stuck=$!
	wait_for 10 holds_card $stuck || info "fakedm --ignore-term (pid $stuck) does not hold card0 yet"
}

# 1. Default policy: refused, with the line naming fbcon and the unit's process.
virsh start a >/tmp/start.out 2>&1 && { fail "handoff: refused by default" "it started"; virsh destroy a >/dev/null 2>&1; } || pass "handoff: refused by default"
want="0000:01:00.0 (Display controller) drives the host's display (fbcon on tty1; fakedm pid $(dm_pid) uses /dev/dri/card0): set host-display = handoff in [vm a] to let vfio-hook stop fakedm.service while a runs, or give the host another GPU"
grep -Fq "$want" /tmp/start.out && pass "handoff: the refusal names fbcon and the display manager's process" ||
	fail "handoff: the refusal names fbcon and the display manager's process" "wanted '$want' in: $(cat /tmp/start.out)"
display_back "handoff: refused" "$vtcon"

# 2. host-display = handoff: the unit stopped, fbcon unbound, the group on vfio-pci while A runs; all back after.
gmap "host-display = handoff"
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
stuck_holder
gmap "host-display = handoff" "host-display-timeout = 5"
within 90 /tmp/start.out virsh start a; rc=$?
in_time "handoff: a stuck holder fails the start" 90 "$rc"
[ "$rc" != 0 ] && pass "handoff: the start fails" || { fail "handoff: the start fails" "it started"; virsh destroy a >/dev/null 2>&1; }
grep -q "fakedm pid $stuck" /tmp/start.out && pass "handoff: the line names fakedm pid $stuck" ||
	fail "handoff: the line names fakedm pid $stuck" "$(cat /tmp/start.out)"
alive "$stuck" && pass "handoff: host-display-kill = no leaves it running" || fail "handoff: host-display-kill = no leaves it running" "it is gone"
display_back "handoff: rolled back" "$vtcon"
kill -9 "$stuck" 2>/dev/null

# 4. 01:00.1's driver_override cannot be written (made read-only): the move fails after the
# display was handed over.
gmap "host-display = handoff" "host-display-timeout = 30"
echo "(null)" >/tmp/ro-override
mount --bind /tmp/ro-override /sys/bus/pci/devices/0000:01:00.1/driver_override &&
	mount -o remount,ro,bind /sys/bus/pci/devices/0000:01:00.1/driver_override
within 120 /tmp/start.out virsh start a; rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] && pass "handoff failure: the start fails" || { fail "handoff failure: the start fails" "rc=$rc $(cat /tmp/start.out)"; virsh destroy a >/dev/null 2>&1; }
info "$(tr '\n' ' ' </tmp/start.out)"
# The attribute stays read-only while the hook rolls back, so undoing 01:00.1's (failed) write
# fails too: the line says so and the ledger keeps that entry; the display comes back regardless.
grep -q "0000:01:00.1 .*writing driver_override .*some devices could not be put back: run 'vfio-hook restore a' when the cause is gone" /tmp/start.out &&
	pass "handoff failure: the line names 01:00.1 and says to run restore" || fail "handoff failure: the line names 01:00.1 and says to run restore" "$(cat /tmp/start.out)"
sed 's/^/INFO ledger: /' "$LEDGER" 2>/dev/null
umount /sys/bus/pci/devices/0000:01:00.1/driver_override
within 60 /tmp/restore.out vfio-hook restore a; rc=$?
sed 's/^/INFO restore: /' /tmp/restore.out
expect "handoff failure: restore once the cause is gone" 0 "$rc"
display_back "handoff failure" "$vtcon"; expect "handoff failure: no ledger line left" 0 "$(records)"

# 5. A holder that ignores SIGTERM keeps the hook waiting; the hook is killed there.
stuck_holder
virsh start a >/tmp/start.out 2>&1 &
vs=$!
hook_waiting() {
	[ "$(systemctl is-active display-manager.service)" = inactive ] && hookpid=$(pgrep -f 'hooks/qemu a prepare begin' | head -n1) && [ -n "$hookpid" ]
}
hookpid=""
wait_for 30 hook_waiting && pass "handoff killed: the hook waits for the holder, the display manager stopped" ||
	fail "handoff killed: the hook waits for the holder, the display manager stopped" "no hook process found"
[ -n "$hookpid" ] && kill -9 "$hookpid"
wait "$vs"
kill -9 "$stuck" 2>/dev/null
info "start after the kill: $(tr '\n' ' ' </tmp/start.out)"
expect "handoff killed: A is not running" "shut off" "$(domstate a)"
vfio-hook status >/tmp/status.out 2>&1
sed 's/^/INFO status: /' /tmp/status.out
within 120 /tmp/restore.out vfio-hook restore a; rc=$?
sed 's/^/INFO restore: /' /tmp/restore.out
expect "handoff killed: vfio-hook restore a succeeds" 0 "$rc"
display_back "handoff killed, restored" "$vtcon"; expect "handoff killed, restored: no ledger line left" 0 "$(records)"
cleanup a

# 6. A swap into a running VM that cannot take the group: libvirt refuses the hot-plug (the L2
# has no slot that takes one) after the hand-over and the move ran; everything is put back, the
# display too, and nothing stays recorded. full's own start takes nothing (no pci = in its [vm]:
# a mapped group would be moved at its start, and the swap would have nothing to move), and no
# sleep inhibitor (a claim of its own would keep the ledger, which is checked for nothing left).
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm full]" \
	"host-display = handoff" "block-sleep = no"
L2_SLOTS=none define_l2 full none no
within 120 /tmp/start.out virsh start full; rc=$?
expect "handoff swap refused: full runs, without the group" "0 running 0" "$rc $(domstate full) $(hostdevs full)"
within 120 /tmp/swap.out vfio-hook swap full gpu; rc=$?
sed 's/^/INFO swap: /' /tmp/swap.out
[ "$rc" != 0 ] && [ "$rc" != 124 ] && pass "handoff swap refused: the swap fails (exit $rc)" || fail "handoff swap refused: the swap fails" "exit $rc: $(cat /tmp/swap.out)"
grep -q "full: cannot hot-plug 0000:01:00.0 (.*; everything was put back$" /tmp/swap.out &&
	pass "handoff swap refused: the line says the hot-plug failed and everything was put back" ||
	fail "handoff swap refused: the line says the hot-plug failed and everything was put back" "$(cat /tmp/swap.out)"
display_back "handoff swap refused" "$vtcon"
host_works "handoff swap refused" $GPU_FUNCS
expect "handoff swap refused: no record left (no ledger)" "absent 0" "$([ -e "$LEDGER" ] && echo present || echo absent) $(records)"
expect "handoff swap refused: full still runs, without the group" "running 0" "$(domstate full) $(hostdevs full)"
sed 's/^/INFO ledger: /' "$LEDGER" 2>/dev/null
cleanup full
rm -f /etc/vfio-hook.ini
