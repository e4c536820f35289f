#!/bin/sh
# libvirt and libxml2 loaded only where used (hook/dl.c), and a host without them.
# sources: dl virt domxml holders start stop usb step-evict engine
# The hook calls for the many VMs the map does not name load neither library, and a host
# without them gets one line saying what to install, with nothing moved (NOLIB_BIN: a build
# whose sonames do not exist). A host whose libxml2 cannot be loaded while libvirt can (a
# distribution's libxml2 2.14 ships libxml2.so.16; vfio-hook built from source against
# libxml2.so.2 keeps running, where it once did not start at all; NOXML_BIN) cannot read which
# domains run: nothing that needs to know is done as if no VM were running. Last, the Makefile
# takes the libraries' paths from its command line (LIBVIRT_SONAME=, as the Nix package does).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
nolib=${NOLIB_BIN:?}
noxml=${NOXML_BIN:?}
export NOXML="$noxml"

## every call libvirt makes for a VM the map does not name: neither library is loaded
reset; full_map; domxml other >"$work/other.xml"
for call in "prepare begin -" "start begin -" "started begin -" "stopped end -" "release end -"; do
	out=$(on desktop "LD_DEBUG=files \$H other $call <\$W/other.xml >\$W/out 2>\$W/err; echo rc=\$?; grep -o 'lib\\(virt\\|xml2\\)\\.so[.0-9]*' \$W/err | sort -u; grep -v '^ *[0-9]*:' \$W/err")
	check "not in the map, $call: exits 0, loads neither library, says nothing" "rc=0" "$out"
done

## a managed VM still loads them: the same probe sees a load when there is one
reset; full_map; domxml win10 $GPU >"$work/win10.xml"
out=$(on desktop 'LD_DEBUG=files $H win10 prepare begin - <$W/win10.xml 2>$W/err; echo rc=$?; grep -o "libxml2\.so[.0-9]*" $W/err | sort -u; $H win10 release end - </dev/null; echo rc=$?')
check "in the map: prepare loads libxml2 and succeeds" "$(printf 'rc=0\nlibxml2.so.2\nrc=0')" "$out"

## the libraries missing (a build whose sonames do not exist)
reset; full_map
out=$(on desktop "VFIO_HOOK_BIN=$nolib; $nolib other prepare begin - <\$W/other.xml; echo rc=\$?")
check "libraries missing: a VM not in the map still starts, silently" "rc=0" "$out"
reset
out=$(on desktop "$nolib win10 prepare begin - <\$W/win10.xml 2>&1 | head -1; eval \"\$STATE\"")
check "libraries missing: a managed VM's start is refused with what to install, nothing moved" \
	"$(printf '%s\n%s' 'vfio-hook: cannot load libxml2: libxml2-missing.so.2: cannot open shared object file: No such file or directory (install libxml2)' "$ORIG")" "$out"
out=$(on desktop "$nolib win10 prepare begin - <\$W/win10.xml >/dev/null 2>&1; echo rc=\$?")
check "libraries missing: the refused start exits 1" "rc=1" "$out"
map "[vm win10]" "usb = 046d:c539"
out=$(on desktop "$nolib usb add win10 046d:c539; echo rc=\$?")
check "libraries missing: a libvirt call says which library to install, in one line" \
	"$(printf '%s\n%s' "vfio-hook: cannot ask libvirt about win10: cannot load libvirt: libvirt-missing.so.0: cannot open shared object file: No such file or directory (install libvirt's client library: libvirt0 on Debian and Ubuntu, libvirt-libs on Fedora)" rc=1)" "$out"
out=$(on desktop "$nolib groups | head -2; echo rc=\$?")
check "libraries missing: groups needs neither" "$(printf 'IOMMU Group 0:\n00:00.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]  driver=none\nrc=0')" "$out"

## libxml2 missing, libvirt there
domxml win10 $GPU >"$work/win10.xml"
domxml linux $GPU >"$work/linux.xml"
domxml test $GPU >"$work/test.xml"

## 'vfio-hook restore win10' while win10 runs, libxml2 not loadable: the running domains cannot
## be read, and restore is refused, as with libxml2. Taking the failed read for "win10 does not
## run" would give its GPU back to the host drivers under the running VM, exiting 0 saying
## "restored".
for how in "restore win10" "restore --all"; do
	reset; full_map
	out=$(HOW=$how on desktop '$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - <$W/win10.xml
	eval "$RUNNING"; running $W/win10.xml win10
	$NOXML $HOW >/dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"')
	check "restore_unbinds_running_vm: $how while win10 runs, no libxml2: refused, nothing unbound" \
		"$(printf 'rc=1\n%s' "$VFIO")" "$out"
done

## win10 is released while the running VM linux uses the same functions (its status file names
## them), libxml2 not loadable: they stay on vfio-pci, still recorded (as win10's: which VM uses
## them cannot be read), with one line saying what to do; with libxml2 they stay and become
## linux's. Ignoring the failed read would unbind them from under linux.
reset; full_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; $H win10 started begin - <$W/win10.xml
eval "$RUNNING"; running $W/linux.xml linux
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

## linux's failed start left a pending unplug from the running VM test (a took line,
## state=pending); win10's start, libxml2 not loadable, is refused and leaves the ledger as it
## was: the give-back that runs first must not take the failed read of the running domains for
## "test is not running" and drop the record ("it stays with the host").
reset; full_map; mkdir -p "$work/state"
status test 0000:09:00.0
took='took 0000:09:00.0 owner=linux from=test from-uuid= from-id=-1 state=pending xml=<hostdev%20mode="subsystem"%20type="pci"%20managed="no"><source><address%20domain="0x0000"%20bus="0x09"%20slot="0x00"%20function="0x0"/></source></hostdev>'
printf '%s\n' "# vfio-hook: who owns each PCI device vfio-hook moved ('vfio-hook status' shows it)" "vfio-hook-ledger 1" "$took" \
	>"$work/state/ledger"
out=$(on desktop '$NOXML win10 prepare begin - <$W/win10.xml >/dev/null 2>&1; echo "rc=$?"; grep -c "^took 0000:09:00.0 owner=linux from=test .*state=pending" $W/state/ledger')
check "refused_start_drops_pending_take: no libxml2: start refused, the pending unplug still recorded" \
	"$(printf 'rc=1\n1')" "$out"

## win10 took the GPU from the running VM test (evict = shutdown, giveback = yes); at win10's
## release, libxml2 not loadable, the give-back is tried, or one line says it cannot be and why:
## never an info-level "test is not running any more" with the functions sent to the host without
## a warning. With libxml2 each is offered back to test (this libvirt refuses: one warning per
## function). Without libxml2 the status file of test cannot be read, so whether test uses them
## cannot be told: they stay on vfio-pci, recorded, and the line says to run restore once libxml2
## is back.
reset
map "[options]" "timeout = 2" "uri = test:///default" "evict = shutdown" "giveback = yes" "[pci gpu]" "device = 10de:1e84" \
	"device = 10de:10f8" "device = 10de:1ad8" "device = 10de:1ad9" "[vm win10]" "pci = gpu" "[vm test]" "pci = gpu"
out=$(on desktop '$H test prepare begin - <$W/test.xml >/dev/null 2>&1
eval "$RUNNING"; running $W/test.xml test
( sleep 1; rm $W/run/test.xml ) &
$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; sleep 0.2
echo "<domstatus state=\"running\"><domain><name>test</name><devices/></domain></domstatus>" >$W/run/test.xml
$NOXML win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$STATE"')
check "release_skips_give_back: nothing unbound while who runs what cannot be read" "$(printf 'rc=0\nrc=0\n%s' "$VFIO")" "$out"
check "release_skips_give_back: no libxml2: the give-back to the running test is tried or refused in one line" \
	"yes" "$(grep -q "back to test\|cannot give .* test\|nothing given back: which VMs are running cannot be read" "$work/err" && echo yes || cat "$work/err")"

## 'vfio-hook usb add test' while test runs, libxml2 not loadable: one line, the libxml2 one.
## Taking the failed read of the running domain for "not running", libvirt knowing test, it would
## add a false second line, "test is not running ... (virsh start test)".
reset
map "[options]" "uri = test:///default" "[vm test]" "usb = 046d:c539"
out=$(on desktop 'eval "$RUNNING"; running $W/test.xml test; $NOXML usb add test 046d:c539 2>&1 >/dev/null')
check "usb_says_not_running: no libxml2: one line saying what to install, not that test is not running" \
	"$(printf '%s' "vfio-hook: cannot load libxml2: libxml2-missing.so.2: cannot open shared object file: No such file or directory (install libxml2)")" "$out"

## when scripts/soname.sh cannot tell a library's soname (here objdump fails; a -dev package
## whose lib*.so is a linker script does the same), make stops with soname.sh's message. Were its
## exit status swallowed by the Makefile's $(shell), SONAMES would become -DLIBVIRT_SONAME='""',
## a #error guard testing only "defined" would let it through and the build would succeed:
## dlopen("") is the program itself, so every libvirt and libxml2 use would fail at run time
## ("cannot use : it has no virConnectClose").
mkdir -p "$work/bin"
printf '#!/bin/sh\nexit 1\n' >"$work/bin/objdump"; chmod +x "$work/bin/objdump"
out=$(cd "$here/.." && PATH="$work/bin:$PATH" make -n -B build/plain/vfio-hook 2>/dev/null; echo "rc=$?")
check "empty_soname_builds: soname.sh failing stops the build" "stopped" \
	"$(case $out in *rc=0) echo "built with $(echo "$out" | grep -o "LIBVIRT_SONAME='[^ ]*" | head -n1)" ;; *) echo stopped ;; esac)"

## LIBVIRT_SONAME/LIBXML2_SONAME on make's command line (a Nix package gives the libraries' store
## paths): an absolute one is what dlopen() gets, and one that names no file stops the build
## rather than every libvirt call failing at run time.
lib=$(pkg-config --variable=libdir libvirt)/$(cd "$here/.." && scripts/soname.sh libvirt)
out=$(cd "$here/.." && make -n -B build/plain/obj/dl.o LIBVIRT_SONAME="$lib" 2>&1)
check "soname_from_command_line: an absolute LIBVIRT_SONAME is compiled in" "-DLIBVIRT_SONAME='\"$lib\"'" \
	"$(echo "$out" | grep -o "\-DLIBVIRT_SONAME='[^ ]*" | head -n1)"
out=$(cd "$here/.." && make -n -B build/plain/obj/dl.o LIBXML2_SONAME=/nonexistent/libxml2.so.2 2>&1; echo "rc=$?")
check "soname_from_command_line: one that names no file stops make, saying so" \
	"LIBXML2_SONAME=/nonexistent/libxml2.so.2: no such file (give the path of the installed library, or leave LIBXML2_SONAME out to use the soname).  Stop.
rc=2" "$(echo "$out" | sed -n 's/.*\*\*\* //p; /^rc=/p')"

tap_done
