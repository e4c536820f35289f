#!/bin/sh
# Adversarial scenarios for a hand-over step stuck in the kernel (fbcon's vtconsole unbind, the
# firmware framebuffer's platform unbind) that the failed start leaves recorded for restore:
# the desktop fixture and the root directory of tests/display.sh (tests/lib/display-env.sh).
# Every check says what must happen; a failing one is a finding.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/display-env.sh"

## status shows the kept step (the VM "starting" until libvirt's release end, which a failed
## prepare always gets); that release end undoes the kept step once the kernel lets go.
desktop; handoff_map
out=$(FAKEKERNEL_FAULT=vtbind:vtcon1:hang on desktop '
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"
$H status | grep "^win10"
kill -9 $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); sleep 0.2
FAKEKERNEL_FAULT= $H win10 release end failed </dev/null 2>/dev/null; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
check "vtbind stuck: status names the kept step; release end binds fbcon again and clears the record" "$(printf '%s\n' "rc=1" \
	"win10 (starting): holds the host's display (vtcon1 unbound maybe [stuck in the kernel])" \
	"rc=0" "$DORIG" "lock")" "$out"

## FINDING stuck_costs_release_end (fixed: the step is saved as state=stuck, and the failed
## start's release, which libvirt runs at once, gives it 1 s, not the map's timeout): the
## release end after a failed prepare must not wait a second deadline for a step the kernel
## still holds; the step stays recorded for restore, as the prepare run decided.
desktop; handoff_map
out=$(FAKEKERNEL_FAULT=vtbind:vtcon1:hang on desktop '
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"
s=$(date +%s%N); $H win10 release end failed </dev/null 2>$W/err; e=$(date +%s%N)
[ $(( (e - s) / 1000000 )) -lt 1500 ] && echo "release end without a second deadline" || echo "release end took $(( (e - s) / 1000000 )) ms"
grep -c ^display $W/state/ledger
kill -9 $(cat $UMOCKDEV_DIR/fakekernel/hung.pid) 2>/dev/null; sleep 0.2
FAKEKERNEL_FAULT= $H restore win10 >/dev/null 2>&1; echo "rc=$?"; eval "$DSTATE"')
check "stuck_costs_release_end: vtbind stuck: libvirt's release end right after the failed start does not cost a second deadline" \
	"$(printf '%s\n' "rc=1" "release end without a second deadline" 1 "rc=0" "$DORIG")" "$out"

## a retried start after the kernel let go (nobody ran restore): it hands over and gives back cleanly
desktop; handoff_map
out=$(FAKEKERNEL_FAULT=punbind:efi-framebuffer.0:hang1 on desktop '
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"
kill -9 $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); sleep 0.2
$H win10 prepare begin - <$W/win10.xml 2>&1; echo "rc=$?"; eval "$DSTATE"
$H win10 release end - </dev/null >/dev/null 2>&1; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
check "punbind stuck, then a retried start: handed over, then all back, nothing left recorded" "$(printf '%s\n' "rc=1" \
	"rc=0" "0000:0b:00.0=vfio-pci 0000:0b:00.1=vfio-pci vtcon1=0 efifb=none gdm=inactive" "rc=0" "$DORIG" "lock")" "$out"

## a fast failure (not a timeout) of the same step is undone at once, not kept
desktop; handoff_map
out=$(FAKEKERNEL_FAULT=vtbind:vtcon1:fail1 on desktop '$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
check "vtbind fails fast: undone at once, nothing kept" "$(printf '%s\n' "rc=1" "$DORIG" "lock")" "$out"

tap_done
