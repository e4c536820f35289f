#!/bin/sh
# Adversarial scenarios for issue 12 (libvirt and libxml2 dlopen()ed on first use, hook/dl.c):
# a host whose libxml2 cannot be loaded while libvirt can (a distribution's libxml2 2.14 ships
# libxml2.so.16; vfio-hook built from source against libxml2.so.2 keeps running, where before
# it did not start at all). holders_load() then returns -ENOPKG with no running domain read,
# and every caller but world_discover() goes on as if no VM were running. Every check says what
# must happen; a failing one is a finding.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
noxml=${NOXML_BIN:?}

domxml win10 $GPU >"$work/win10.xml"
domxml linux $GPU >"$work/linux.xml"
domxml test $GPU >"$work/test.xml"
# The status file of a running domain, from its XML on stdin: eval'd in the fixture session.
# shellcheck disable=SC2089,SC2090
RUNNING='sed "s|<domain|<domstatus state=\"running\" pid=\"1\"><domain|; s|</domain>|</domain></domstatus>|"'
# shellcheck disable=SC2090
export RUNNING NOXML="$noxml"

## finding restore_unbinds_running_vm: 'vfio-hook restore win10' while win10 runs, libxml2 not
## loadable: holders_load() fails (actions.c action_restore, return value ignored), so
## restore_one() sees no running win10 and apply_restore() gives its GPU back to the host
## drivers under the running VM; exits 0 saying "restored". Expected: refused, as with libxml2.
for how in "restore win10" "restore --all"; do
	reset; full_map
	out=$(HOW=$how on desktop '$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - <$W/win10.xml
	eval "$RUNNING" <$W/win10.xml >$W/run/win10.xml
	$NOXML $HOW >/dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"')
	check "restore_unbinds_running_vm: $how while win10 runs, no libxml2: refused, nothing unbound" \
		"$(printf 'rc=1\n%s' "$VFIO")" "$out"
done

## finding release_unbinds_other_running_vm: win10 is released while the running VM linux uses
## the same functions (its status file names them), libxml2 not loadable: action_release()
## ignores holders_load()'s -ENOPKG and apply_restore() unbinds them from under linux.
## With libxml2 they stay on vfio-pci and become linux's. Expected: they stay, still recorded
## (as win10's: which VM uses them cannot be read), with one line saying what to do.
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - <$W/win10.xml
eval "$RUNNING" <$W/linux.xml >$W/run/linux.xml
$NOXML win10 release end - </dev/null 2>$W/err; eval "$STATE"; grep -c "^func .* owner=win10" $W/state/ledger
grep -c "win10: nothing given back: which VMs are running cannot be read" $W/err')
check "release_unbinds_other_running_vm: no libxml2: what linux runs with stays on vfio-pci, recorded" \
	"$(printf '%s\n4\n1' "$VFIO")" "$out"
# The same release with no other VM running must still give everything back (no library is
# needed to know that a device goes home).
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - <$W/win10.xml
$NOXML win10 release end - </dev/null 2>/dev/null; echo "rc=$?"; eval "$STATE"')
check "release without libxml2, no other VM running: everything goes back" "$(printf 'rc=0\n%s' "$ORIG")" "$out"

## finding refused_start_drops_pending_take: linux's failed start left a pending unplug from
## the running VM test (a took line, state=pending); win10's start, libxml2 not loadable, is
## refused, but action_prepare() first runs evict_give_back(), whose holders_load() failed
## (evict.c give_back, return value ignored): test seems not running and the record is
## dropped ("it stays with the host"). A refused start must leave the ledger as it was.
reset; full_map; mkdir -p "$work/state"
status test 0000:09:00.0
took='took 0000:09:00.0 owner=linux from=test from-uuid= from-id=-1 state=pending xml=<hostdev%20mode="subsystem"%20type="pci"%20managed="no"><source><address%20domain="0x0000"%20bus="0x09"%20slot="0x00"%20function="0x0"/></source></hostdev>'
printf '%s\n' "# vfio-hook: who owns each PCI device vfio-hook moved ('vfio-hook status' shows it)" "vfio-hook-ledger 1" "$took" \
	>"$work/state/ledger"
out=$(on desktop '$NOXML win10 prepare begin - <$W/win10.xml >/dev/null 2>&1; echo "rc=$?"; grep -c "^took 0000:09:00.0 owner=linux from=test .*state=pending" $W/state/ledger')
check "refused_start_drops_pending_take: no libxml2: start refused, the pending unplug still recorded" \
	"$(printf 'rc=1\n1')" "$out"

## finding release_skips_give_back: win10 took the GPU from the running VM test (evict =
## shutdown, giveback = yes); at win10's release, libxml2 not loadable, give_back() sees no
## running test (holders_load() ignored), logs at info level that test "is not running any
## more" and never tries to give the functions back: they go to the host with no warning.
## With libxml2 each is offered back to test (this libvirt refuses: one warning per function).
## Expected: the give-back is tried, or one line says it cannot be and why. Without libxml2
## the status file of test cannot be read, so whether test uses them cannot be told: they
## stay on vfio-pci, recorded, and the line says to run restore once libxml2 is back.
reset
map "[options]" "timeout = 2" "uri = test:///default" "evict = shutdown" "giveback = yes" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm test]" "pci = gpu"
out=$(on desktop '$H test prepare begin - <$W/test.xml >/dev/null 2>&1
eval "$RUNNING" <$W/test.xml >$W/run/test.xml
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; sleep 0.2
echo "<domstatus state=\"running\"><domain><name>test</name><devices/></domain></domstatus>" >$W/run/test.xml
$NOXML win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "release_skips_give_back: nothing unbound while who runs what cannot be read" "$(printf 'rc=0\nrc=0\n%s' "$VFIO")" "$out"
check "release_skips_give_back: no libxml2: the give-back to the running test is tried or refused in one line" \
	"yes" "$(grep -q "back to test\|cannot give .* test\|nothing given back: which VMs are running cannot be read" "$work/err" && echo yes || cat "$work/err")"

## finding usb_says_not_running: 'vfio-hook usb add test' while test runs, libxml2 not
## loadable: domain_load_running() returns -ENOPKG, which action_usb() (usb.c) takes for "not
## running", and libvirt knowing test, it says "test is not running ... (virsh start test)"
## after the libxml2 line: two lines, the second false. Expected: one line, the libxml2 one.
reset
map "[options]" "uri = test:///default" "[vm test]" "usb = 046d:c539"
out=$(on desktop 'eval "$RUNNING" <$W/test.xml >$W/run/test.xml; $NOXML usb add test 046d:c539 2>&1 >/dev/null')
check "usb_says_not_running: no libxml2: one line saying what to install, not that test is not running" \
	"$(printf '%s' "vfio-hook: cannot load libxml2: libxml2-missing.so.2: cannot open shared object file: No such file or directory (install libxml2)")" "$out"

## finding empty_soname_builds: when scripts/soname.sh cannot tell a library's soname (here
## objdump fails; a -dev package whose lib*.so is a linker script does the same), the Makefile's
## $(shell) swallows its exit status: SONAMES becomes -DLIBVIRT_SONAME='""', hook/dl.c's #error
## guard (it tests only "defined") lets it through, and the build succeeds. dlopen("") is the
## program itself, so every libvirt and libxml2 use fails at run time ("cannot use : it has no
## virConnectClose"). Expected: make stops with soname.sh's message.
mkdir -p "$work/bin"
printf '#!/bin/sh\nexit 1\n' >"$work/bin/objdump"; chmod +x "$work/bin/objdump"
out=$(cd "$here/.." && PATH="$work/bin:$PATH" make -n -B build/plain/vfio-hook 2>/dev/null; echo "rc=$?")
check "empty_soname_builds: soname.sh failing stops the build" "stopped" \
	"$(case $out in *rc=0) echo "built with $(echo "$out" | grep -o "LIBVIRT_SONAME='[^ ]*" | head -n1)" ;; *) echo stopped ;; esac)"

tap_done
