#!/bin/sh
# libvirt and libxml2 are loaded only by the code that uses them (hook/dl.c): the hook calls
# for the many VMs the map does not name load neither, and a host without them gets one line
# saying what to install, with nothing moved.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
nolib=${NOLIB_BIN:?}

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

tap_done
