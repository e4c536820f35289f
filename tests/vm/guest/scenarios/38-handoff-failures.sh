# vm-boot: systemd
# The hand-over interrupted: (4) the second function refuses vfio-pci after the display steps
# ran (its driver_override made read-only): full rollback, display back; (5) the hook SIGKILLed
# while it waits for the card's holders, then `vfio-hook restore`: display back.
vtcon=$(fbcon_vtcon)
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu" \
	"host-display = handoff" "host-display-timeout = 30"
define_l2 a none no $GPU_FUNCS

# 4. 01:00.1's driver_override cannot be written: the move fails after the display was handed over.
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
/usr/local/lib/vfio-hook-vm/fakedm --ignore-term 2>/dev/null &
stuck=$!
sleep 1
virsh start a >/tmp/start.out 2>&1 &
vs=$!
hookpid=""
i=0
while [ $i -lt 60 ] && [ -z "$hookpid" ]; do
	[ "$(systemctl is-active display-manager.service)" = inactive ] && hookpid=$(pgrep -f 'hooks/qemu a prepare begin' | head -n1)
	sleep 0.5; i=$((i + 1))
done
[ -n "$hookpid" ] && pass "handoff killed: the hook waits for the holder, the display manager stopped" ||
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
rm -f /etc/vfio-hook.ini
