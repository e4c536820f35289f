#!/bin/sh
# The device map: every mistake one FILE:LINE line, config, and the hook on a broken map.
# sources: config config-keys resolve hook main world start report
# The map resolved against the fixture machines (config), each broken map of
# tests/fixtures/maps/bad (whose first line carries its expected message), how the map is
# chosen, its owner and mode; then the hook as libvirt runs it on a map it cannot use: it stops
# only the VMs the map names, and a map that would block its open is refused, not waited on.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/cli-env.sh"

## the map resolved against the machine
run desktop -c maps/example.ini config
check "config on desktop exits 0" 0 "$rc"
golden "config-desktop.out" "$out"
check "config on desktop warns about nothing" "" "$err"
run two-gpus -c maps/example.ini config
check "config with unmatched ids exits 1" 1 "$rc"
golden "config-two-gpus.err" "$err"
cat >maps/two-gpus.ini <<'MAP'
[pci gtx1060]
device = 10de:1c03  VGA compatible controller
device = 10de:10f1  HD Audio
[vm gaming]
pci = gtx1060 0000:0a:00.0
MAP
chmod 644 maps/two-gpus.ini
run two-gpus -c maps/two-gpus.ini config
check "config with identical GPUs exits 1" 1 "$rc"
golden "config-identical.err" "$err"
run two-gpus -c maps/two-gpus.ini groups
check "groups still lists with identical-GPU warnings" 0 "$rc"
golden "groups-identical.out" "$out"

## the map: every mistake is one FILE:LINE line and exit 2
# Each broken map is run as run() would, all in one fixture session (a session costs more than
# the runs): its exit status, stderr and stdout kept per map in $work/bad.
mkdir -p "$work/bad"
"$here/fakesys" desktop -- sh -c 'b=$1; shift; for f in "$@"; do n=$(basename "$f" .ini)
	"$b" -c "maps/$n.ini" groups >"bad/$n.out" 2>"bad/$n.err" </dev/null; echo $? >"bad/$n.rc"; done' \
	bad-maps "$bin" "$fx"/maps/bad/*.ini
for f in "$fx"/maps/bad/*.ini; do
	name=maps/$(basename "$f")
	want=$(sed -n '1s/^; expect: //p' "$f")
	n=$(basename "$f" .ini)
	rc=$(cat "$work/bad/$n.rc"); out=$(cat "$work/bad/$n.out"); err=$(cat "$work/bad/$n.err")
	check "$(basename "$f" .ini): exit 2" 2 "$rc"
	check "$(basename "$f" .ini): message" "$name:$want" "$err"
	check "$(basename "$f" .ini): nothing on stdout" "" "$out"
done
run desktop -c maps/missing.ini groups
check "missing map: exit 2" 2 "$rc"
check "missing map: message, with the command that writes one and the example's path" "maps/missing.ini: cannot read the device map: No such file or directory (write one with 'vfio-hook map GROUP --add VM' from what 'vfio-hook groups' lists, or start from the example /usr/local/share/doc/vfio-hook/examples/vfio-hook.ini; or pass -c FILE)" "$err"
# A map closed to this user is not a missing one: the advice is root, not the example.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	cp maps/example.ini maps/closed.ini && chmod 600 maps/closed.ini && chmod 755 "$work" "$work/maps"
	runuser -u nobody -- "$bin" -c "$work/maps/closed.ini" config >/dev/null 2>"$work/stderr"
	check "a map closed to the user (mode 600): says to run as root" \
		"$work/maps/closed.ini: cannot read the device map: Permission denied (it is closed to this user: run vfio-hook as root, with sudo)" \
		"$(cat "$work/stderr")"
else
	skip "a map closed to the user (mode 600): says to run as root" "needs root and runuser to switch user"
fi

## names as libvirt takes them, comments after values, one device per line
cat >maps/names.ini <<'MAP'
[pci gpu]
device = 10de:1e84  VGA compatible controller   # the RTX
device = 10de:10f8  # its audio
device = 10de:1ad8  USB controller #1
device = 10de:1ad9
[vm Windows 10]
pci = gpu # the whole card
[vm Wíndows 10 @home]
pci = gpu
[vm a-VM-name-libvirt-takes-that-is-longer-than-the-49-bytes-inih-keeps]
pci = gpu
MAP
chmod 644 maps/names.ini
run desktop -c maps/names.ini config --names vm
check "VM names with spaces, non-ASCII letters and past inih's 49 bytes are read whole" \
	"$(printf '%s\n' "Windows 10" "Wíndows 10 @home" "a-VM-name-libvirt-takes-that-is-longer-than-the-49-bytes-inih-keeps")" "$out"
check "VM names as libvirt takes them: no complaint" "" "$err"
run desktop -c maps/names.ini config
check "a '#' comment after a [vm] list is no name: [vm Windows 10] gets the card" 4 \
	"$(printf '%s\n' "$out" | sed -n '/^\[vm Windows 10\]/,/^\[vm W/p' | grep -c '^  pci .*from \[pci gpu\]$')"
run two-gpus -c maps/names.ini config
check "a '#' comment after a device id is no description; a '#1' in one is kept" \
	"$(printf '%s\n' "2: 10de:1e84 (VGA compatible controller)" "3: 10de:10f8" "4: 10de:1ad8 (USB controller #1)" "5: 10de:1ad9")" \
	"$(printf '%s\n' "$err" | sed -n 's/^maps\/names.ini:\([0-9]*\): \(.*\) matches no PCI function.*/\1: \2/p')"
# [vm] names against the VMs libvirt has (its test driver, whose one domain is "test"): a name it
# does not have makes the hook do nothing, silently; config names it, with the closest.
printf '[options]\nuri = test:///default\n[vm Test]\npci = 10de:1e84\n[vm router]\npci = 8086:1539\n' >maps/libvirt-names.ini
chmod 644 maps/libvirt-names.ini
run desktop -c maps/libvirt-names.ini config
check "[vm] names libvirt does not have: exit 1" 1 "$rc"
check "[vm] names libvirt does not have: each its line, with the closest name it has" "$(printf '%s\n' \
	"maps/libvirt-names.ini:3: [vm Test]: libvirt (test:///default) has no VM named Test: the closest it has is test; the hook acts only for the VM named exactly so (rename the section [vm test])" \
	"maps/libvirt-names.ini:5: [vm router]: libvirt (test:///default) has no VM named router (it has 1: see virsh list --all); the hook acts only for the VM named exactly so (define it, or fix the name)")" "$err"
cp maps/example.ini maps/writable.ini && chmod 664 maps/writable.ini
run desktop -c maps/writable.ini groups
check "group-writable map refused" "maps/writable.ini: refused: writable by group or others (run: chmod go-w maps/writable.ini)" "$err"
check "group-writable map: exit 2" 2 "$rc"
if [ "$(id -u)" = 0 ]; then
	cp maps/example.ini maps/foreign.ini && chown 4321 maps/foreign.ini
	run desktop -c maps/foreign.ini groups
	check "map owned by another user refused" "maps/foreign.ini: refused: owned by uid 4321, not root (run: chown root maps/foreign.ini)" "$err"
else
	skip "map owned by another user refused" "needs root to chown"
fi
VFIO_HOOK_CONFIG=maps/bad-timeout.ini "$here/fakesys" desktop -- "$bin" groups >/dev/null 2>"$work/stderr"
check "VFIO_HOOK_CONFIG chooses the map" "maps/bad-timeout.ini:3: timeout must be a whole number of seconds from 1 to 3600, not \"ten\"" "$(cat "$work/stderr")"
run desktop --config maps/example.ini groups
check "--config works like -c" 0 "$rc"

# The keys of the host's display (tests/display.sh, tests/handoff.sh): each bad value is its line.
domxml win10 0000:0b:00.0 0000:0b:00.1 >"$work/win10-display.xml"
for case in "host-display = maybe|host-display must be refuse or handoff, not \"maybe\"" \
	"host-display-kill = sometimes|host-display-kill must be yes or no, not \"sometimes\"" \
	"display-manager = -x|display-manager must be a systemd unit name (e.g. gdm.service), not \"-x\"" \
	"host-display-timeout = 0|host-display-timeout must be a whole number of seconds from 1 to 3600, not \"0\""; do
	map "[vm win10]" "pci = 0b:00.0 0b:00.1" "${case%%|*}"
	out=$(on desktop '$H --check win10 --xml $W/win10-display.xml; echo "rc=$?"')
	check "map: ${case%%|*}" "$(printf '%s\nrc=2' "$work/map.ini:3: ${case#*|}")" "$out"
done

## the hook on a broken map: prepare fails with its line, release still exits 0
reset; domxml win10 $GPU >"$work/win10.xml"
map "[vm win10" "pci = gpu"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; $H win10 release end - </dev/null; echo "rc=$?"')
check "broken map: prepare fails with its line, release still exits 0" "$(printf '%s\nrc=1\nrc=0' "$work/map.ini:1: not a [section], a \"key = value\" line or a comment (fix or remove this line)")" "$out"
out=$(on desktop '$H --check nosuchvm; echo "rc=$?"')
check "--check on a broken map exits 2" "$(printf '%s\nrc=2' "$work/map.ini:1: not a [section], a \"key = value\" line or a comment (fix or remove this line)")" "$out"
# A map broken elsewhere, or with the wrong owner or mode, stops only the VMs it names: a router
# VM that autostarts at boot is not in it and must still come up.
domxml router >"$work/router.xml"; domxml broken >"$work/broken.xml"
full_map; printf '%s\n' "[vm broken]" "pci gpu" >>"$work/map.ini"
SYN="$work/map.ini:13: not a [section], a \"key = value\" line or a comment (fix or remove this line)"
out=$(on desktop 'for vm in router win10 broken; do $H $vm prepare begin - <$W/$vm.xml; echo "$vm rc=$?"; done; eval "$STATE"')
check "broken map: a VM it does not name starts, the VMs it names are refused" "$(printf '%s\n' "$SYN" \
	"vfio-hook: router: starting without vfio-hook: it has no [vm router] in $work/map.ini, which vfio-hook cannot use (see above)" \
	"router rc=0" "$SYN" "win10 rc=1" "$SYN" "broken rc=1" "$ORIG")" "$out"
full_map; chmod 666 "$work/map.ini"
PERM="$work/map.ini: refused: writable by group or others (run: chmod go-w $work/map.ini)"
out=$(on desktop 'for vm in router win10; do $H $vm prepare begin - <$W/$vm.xml; echo "$vm rc=$?"; done; eval "$STATE"')
check "writable map: a VM it does not name starts, a VM it names is refused" "$(printf '%s\n' "$PERM" \
	"vfio-hook: router: starting without vfio-hook: it has no [vm router] in $work/map.ini, which vfio-hook cannot use (see above)" \
	"router rc=0" "$PERM" "win10 rc=1" "$ORIG")" "$out"
mkdir -p "$work/map.d"
out=$(VFIO_HOOK_CONFIG="$work/map.d" on desktop '$H router prepare begin - <$W/router.xml; echo "rc=$?"')
check "unreadable map: nobody can tell, so every VM is refused" "$(printf '%s\nrc=1' \
	"$work/map.d: not a regular file (point -c or VFIO_HOOK_CONFIG at the map file)")" "$out"

## a map whose open would block (a FIFO, or anything whose open waits) is refused, not waited
## on: a blocking open() there would hang every run before the "not a regular file" check.
## win10 owns the GPU and the map is replaced by a FIFO: win10's release (libvirt waits for it,
## with no timeout) must not hang holding the lock, or the GPU would never come back and every
## later run would wait; it gives the GPU back, and the others answer at once
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"
rm $W/map.ini; mkfifo -m 644 $W/map.ini
timeout -s KILL 8 $H win10 release end - </dev/null 2>/dev/null; echo "release rc=$?"; eval "$STATE"
timeout -s KILL 8 $H router prepare begin - <$W/router.xml 2>/dev/null; echo "router rc=$?"
timeout -s KILL 8 $H status >/dev/null 2>&1; echo "status rc=$?"')
check "map_that_blocks_on_open_is_refused_not_waited_on: release gives back, others answer" \
	"$(printf 'rc=0\nrelease rc=0\n%s\nrouter rc=1\nstatus rc=2' "$ORIG")" "$out"
rm -f "$work/map.ini"

## a map saved with a UTF-8 byte order mark (Notepad) whose first section is [vm win10], and
## broken further down: the map's loader skips the mark as inih does, so must the search for
## the VM's header, or win10 would start without vfio-hook, the log saying the map has no
## [vm win10]. The VM it names is refused
reset
printf '\357\273\277[vm win10]\npci gpu\n[pci gpu]\ndevice = 10de:1e84\n' >"$work/map.ini"; chmod 644 "$work/map.ini"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"')
check "broken_map_with_a_bom_still_refuses_the_vm_it_names" "rc=1" "$out"

tap_done
