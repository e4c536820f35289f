# vm-time: 30
# `vfio-hook groups` on a real kernel: every function is listed under its group, and its line
# starts exactly as this guest's own `lspci -nns ADDR` prints it.
out=$(vfio-hook groups 2>/tmp/groups.err)
expect "groups-cli: exit status" 0 $?
# The installed example map names devices this guest lacks: those reports are all stderr may hold.
expect "groups-cli: stderr holds only map reports" "" "$(grep -v '^/etc/vfio-hook.ini:[0-9]*: ' /tmp/groups.err)"
grep -q '^/etc/vfio-hook.ini:[0-9]*: 10de:1e84 (VGA compatible controller) matches no PCI function' /tmp/groups.err &&
	pass "groups-cli: the installed map is read and resolved" || fail "groups-cli: the installed map is read and resolved" "$(cat /tmp/groups.err)"
bad=""
n=0
for d in /sys/bus/pci/devices/*; do
	a=${d##*/}
	want=$(lspci -nns "$a")
	slot=${want%% *}
	got=$(printf '%s\n' "$out" | grep "^$slot ")
	case "$got" in "$want"*) n=$((n + 1)) ;; *) bad="$bad | lspci: $want | ours: $got" ;; esac
	# ... and under the right group header.
	g=$(group_of "$a")
	hdr=$(printf '%s\n' "$out" | awk -v s="$slot" '/^IOMMU Group /{h=$3} index($0, s" ")==1{sub(":","",h); print h}')
	[ "$hdr" = "$g" ] || bad="$bad | $a listed under group '$hdr', kernel says '$g'"
done
if [ -z "$bad" ] && [ "$n" -gt 5 ]; then pass "groups-cli: all $n functions match lspci -nns and their group"
else fail "groups-cli: lines match lspci -nns" "$bad"; fi
info "vfio-hook groups output:"
printf '%s\n' "$out" | sed 's/^/INFO   /'
