# vm-boot: systemd
# vm-time: 120
# libvirt looks for hooks only when it starts: a hook installed after libvirtd started is
# flagged by doctor with the fix, and after that fix (systemctl restart libvirtd) it passes and
# libvirt really runs it (its syslog lines, from the journal, for a start and a destroy).
hook=/etc/libvirt/hooks/qemu
pid=$(systemctl show -p MainPID --value libvirtd.service)
vfio-hook doctor >/tmp/doctor.out 2>&1
doctor_has "hook order: the hook is there" "PASS  $hook is vfio-hook, executable"
doctor_has "hook order: installed before libvirtd started" "PASS  libvirtd (pid $pid) started after the hook was installed"
# Installed again while libvirtd runs, as `make install` on a running host does: in a later
# second than the daemon's start (doctor compares whole seconds of the hook's time).
started=$(proc_started "$pid")
wait_for 5 clock_past $((started + 1))
ln -sfn /usr/local/sbin/vfio-hook "$hook"
vfio-hook doctor >/tmp/doctor.out 2>&1
doctor_has "hook order: a hook installed after libvirtd started is flagged, with the fix" \
	"WARN  libvirtd (pid $pid) started before the hook was installed: libvirt looks for hooks only when it starts, so it may not run vfio-hook — systemctl restart libvirtd"
# The daemon's start time is known to clock ticks after a boot time rounded down to the second:
# restarted two seconds after the hook's time at least.
wait_for 5 clock_past $(( $(stat -c %Y "$hook") + 2 ))
systemctl restart libvirtd.service && wait_libvirtd 60 && pass "hook order: systemctl restart libvirtd" ||
	fail "hook order: systemctl restart libvirtd" "$(systemctl status libvirtd.service 2>&1 | tail -n 5)"
pid2=$(systemctl show -p MainPID --value libvirtd.service)
vfio-hook doctor >/tmp/doctor.out 2>&1
doctor_has "hook order: passes after the restart" "PASS  libvirtd (pid $pid2) started after the hook was installed"
nic=0000:02:00.0
write_map "[options]" "timeout = 20" "[vm n]" "pci = $nic"
define_l2 n none no $nic
log_mark
virsh start n >/tmp/start.out 2>&1 && pass "hook order: the restarted libvirtd starts a VM" || fail "hook order: the restarted libvirtd starts a VM" "$(cat /tmp/start.out)"
expect "hook order: the hook moved its NIC to vfio-pci" vfio-pci "$(driver_of $nic)"
virsh destroy n >/dev/null 2>&1
expect "hook order: and back to e1000e" e1000e "$(driver_of $nic)"
calls=$(log_since_mark | sed -n 's/.*libvirt hook call: n \(.*\)$/\1/p' | tr '\n' ';')
expect "hook order: its calls, in the journal" "prepare begin -;start begin -;started begin -;stopped end -;release end -;" "$calls"
cleanup n
