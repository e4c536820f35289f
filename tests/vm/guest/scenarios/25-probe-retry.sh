# vm-time: 240
# A give-back whose host driver's probe fails: tried again, and when the driver will not take
# the function at all it stays on vfio-pci, recorded, never on no driver. The hook's release
# runs as libvirt runs it, with failprobe.so (tests/vm/failprobe.c) preloaded: the first write
# of the NIC's address to /sys/bus/pci/drivers_probe fails with EIO, as a transient probe
# failure does. libvirt runs /etc/libvirt/hooks/qemu, here for this scenario a wrapper that
# preloads it for the release call only (the hook's writer child, forked, inherits it).
nic=0000:03:00.0 other=0000:02:00.0
hook=/etc/libvirt/hooks/qemu
write_map "[options]" "timeout = 20" "[vm n]" "pci = $nic"
define_l2 n none no $nic
# The hook's symlink as installed, and its time (doctor compares it with libvirtd's start).
hook_target=$(readlink $hook) hook_mtime=$(stat -c %Y $hook)
cat >/tmp/hook-wrapper <<WRAP
#!/bin/sh
[ "\$2" = release ] && [ -f /tmp/failprobe.env ] && . /tmp/failprobe.env
exec $hook_target "\$@"
WRAP
chmod 755 /tmp/hook-wrapper
ln -sfn /tmp/hook-wrapper $hook
failprobe() { # COUNT-FILE: the next release's first probe of the NIC fails
	rm -f "$1"
	echo "export LD_PRELOAD=$VM_LIB/failprobe.so FAILPROBE_ADDR=$nic FAILPROBE_COUNT=$1" >/tmp/failprobe.env
}
release_line() { log_since_mark | grep -F "$1" >/dev/null; }

# 1. The probe fails once: the hook probes again, and e1000e takes the NIC.
failprobe /tmp/failprobe.1
within 120 /tmp/start.out virsh start n; rc=$?
expect "probe-retry: n starts with the NIC on vfio-pci" "0 vfio-pci" "$rc $(driver_of $nic)"
log_mark
within 120 /tmp/destroy.out virsh destroy n
expect "probe-retry: the release's first probe of $nic failed (injected)" 1 "$(cat /tmp/failprobe.1 2>&1)"
expect "probe-retry: $nic back on e1000e, no driver_override" "e1000e/(null)" "$(driver_of $nic)/$(override_of $nic)"
host_works probe-retry $nic
expect "probe-retry: nothing recorded" 0 "$(records)"
wait_for 10 release_line "n: gave $nic back to e1000e" && pass "probe-retry: the hook says it gave $nic back to e1000e" ||
	fail "probe-retry: the hook says it gave $nic back to e1000e" "$(log_since_mark | grep vfio-hook | tail -n 5)"

# 2. Its driver cannot take it: e1000e unloaded (the other NIC loses it too, until the end) and
# kept from loading (blacklisted, and its install command fails). The first probe fails, the
# second binds nothing: the NIC goes back to vfio-pci, where nothing uses it, recorded as n's.
failprobe /tmp/failprobe.2
within 120 /tmp/start.out virsh start n; rc=$?
expect "probe-retry, no driver: n starts" "0 vfio-pci" "$rc $(driver_of $nic)"
modprobe -r e1000e
printf 'blacklist e1000e\ninstall e1000e /bin/false\n' >/etc/modprobe.d/zz-no-e1000e.conf
expect "probe-retry, no driver: e1000e unloaded" "no none" "$([ -d /sys/module/e1000e ] && echo yes || echo no) $(driver_of $other)"
log_mark
within 120 /tmp/destroy.out virsh destroy n
expect "probe-retry, no driver: the release's first probe failed (injected)" 1 "$(cat /tmp/failprobe.2 2>&1)"
expect "probe-retry, no driver: $nic on vfio-pci, not on no driver" vfio-pci "$(driver_of $nic)"
expect "probe-retry, no driver: n owns it in the ledger" 1 "$(record_lines n "^func $nic ")"
wait_for 10 release_line "n: $nic could not go back to e1000e: " && pass "probe-retry, no driver: the hook says it could not go back to e1000e" ||
	fail "probe-retry, no driver: the hook says it could not go back to e1000e" "$(log_since_mark | grep vfio-hook | tail -n 5)"
log_since_mark | grep -F "n: $nic could not go back to e1000e: " | grep -q "; it is on vfio-pci again (it stays recorded: run 'vfio-hook restore n' once the cause is gone)" &&
	pass "probe-retry, no driver: the line says it is on vfio-pci, recorded, and to run restore" ||
	fail "probe-retry, no driver: the line says it is on vfio-pci, recorded, and to run restore" "$(log_since_mark | grep vfio-hook | tail -n 5)"
log_since_mark | grep vfio-hook | sed 's/^/INFO log: /'
vfio-hook status >/tmp/status.out 2>&1
grep -q "^${nic#0000:} .*driver=vfio-pci.*owner=n" /tmp/status.out && pass "probe-retry, no driver: status shows it on vfio-pci, n's" ||
	fail "probe-retry, no driver: status shows it on vfio-pci, n's" "$(cat /tmp/status.out)"

# The cause gone: restore gives it to e1000e (loading the module), and the other NIC comes back with it.
rm -f /etc/modprobe.d/zz-no-e1000e.conf /tmp/failprobe.env
within 120 /tmp/restore.out vfio-hook restore n; rc=$?
sed 's/^/INFO restore: /' /tmp/restore.out
expect "probe-retry, no driver: restore n once the cause is gone" 0 "$rc"
expect "probe-retry, no driver: $nic on e1000e after the restore, nothing recorded" "e1000e 0" "$(driver_of $nic) $(records)"
host_works "probe-retry, restored" $nic
[ "$(driver_of $other)" = e1000e ] || echo $other >/sys/bus/pci/drivers_probe
host_works "probe-retry, the other NIC" $other
ln -sfn "$hook_target" $hook && touch -h -d "@$hook_mtime" $hook
cleanup n
