# vm-time: 40
# libvirtd really runs the installed hook, in libvirt's order, for a start and a destroy:
# proven from the lines the hook writes to syslog.
expect "hook-called: hook installed as /etc/libvirt/hooks/qemu" /usr/local/sbin/vfio-hook "$(readlink /etc/libvirt/hooks/qemu)"
define_l2 hooked none
log_mark
virsh start hooked >/dev/null 2>&1 || fail "hook-called: start" "virsh start failed"
virsh destroy hooked >/dev/null 2>&1
released() { log_since_mark | grep -q "libvirt hook call: hooked release end"; }
wait_for 10 released
calls=$(log_since_mark | sed -n 's/.*libvirt hook call: hooked \(.*\)$/\1/p' | tr '\n' ';')
expect "hook-called: prepare, start, started, stopped, release in order" \
	"prepare begin -;start begin -;started begin -;stopped end -;release end -;" "$calls"
virsh undefine hooked >/dev/null 2>&1
