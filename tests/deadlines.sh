#!/bin/sh
# A driver step that hangs fails the start within its deadline; a run killed mid-way is undone.
# sources: engine step-bind bind sysfs child state start stop
# Every step that can block has a deadline. Here a write that hangs at each step of each
# function: the start fails within its deadline, the rest goes back and the record lets restore
# finish once the hang is over; and a run killed between two steps, undone by the next restore
# or release. What a run waits for (a driver operation stuck in the kernel or only slow, the
# lock, libvirt) is in tests/stuck.sh; the writer child in tests/writer.sh; the hand-over's steps
# stuck in the kernel in tests/handoff-faults.sh; a map or a ledger whose open would block in
# tests/map.sh and tests/ledger.sh; display detection's reads in tests/display.sh; setup's and
# doctor's reads in tests/setup.sh and tests/doctor.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"

## a driver step that hangs
# A step that hangs holds the device in the kernel (its lock) until whatever blocks it lets go:
# meanwhile nothing can put that function back. The start fails within its deadline, every
# other function goes back, the record keeps the stuck one and the line says to restore it;
# once the hang is over, restore puts it back.
for a in $GPU; do
	for step in override unbind probe; do
		case $step in
		override) after=$ORIG ;;
		unbind) after=$(echo "$ORIG" | sed "s|$a=\([^/]*\)/(null)|$a=\1/vfio-pci|") ;;
		probe) after=$(echo "$ORIG" | sed "s|$a=[^/]*/(null)|$a=none/vfio-pci|") ;;
		esac
		reset; full_map 1
		out=$(FAKEKERNEL_FAULT="$step:$a:hang" on desktop '
		timeout 30 $H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"
		kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid)
		eval "$STATE"; ls $W/state
		FAKEKERNEL_FAULT= $H restore win10 >/dev/null 2>&1; echo "rc=$?"; eval "$STATE"; ls $W/state')
		check "hang at $step of $a: exit 1, the rest back, restore ends it" \
			"$(printf 'rc=1\n%s\nledger\nlock\nrc=0\n%s\nlock' "$after" "$ORIG")" "$out"
		err=$(cat "$work/err")
		case "$err" in
		"vfio-hook: win10: $a ("*"did not finish in time"*"; some devices could not be put back: run 'vfio-hook restore win10' when the cause is gone") ok "hang at $step of $a: one line naming it" ;;
		*) not_ok "hang at $step of $a: one line naming it" "$err" ;;
		esac
	done
done

## killed between steps: the record lets restore, or the next release, undo it
for undo in "\$H restore win10 >/dev/null 2>&1" "\$H win10 release end - </dev/null" "\$H restore --all >/dev/null 2>&1"; do
	reset; full_map 30
	out=$(FAKEKERNEL_FAULT="unbind:0000:09:00.2:hang" on desktop '
	$H win10 prepare begin - <$W/win10.xml 2>/dev/null & pid=$!
	i=0; while [ $i -lt 100 ] && [ ! -s $UMOCKDEV_DIR/fakekernel/hung.pid ]; do sleep 0.1; i=$((i+1)); done
	kill -9 $pid $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); wait $pid 2>/dev/null
	eval "$STATE"; '"$undo"'; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "SIGKILL mid-prepare, then ${undo%% *} ${undo#* }: all back" \
		"$(printf '0000:09:00.0=vfio-pci/vfio-pci 0000:09:00.1=vfio-pci/vfio-pci 0000:09:00.2=xhci_hcd/vfio-pci 0000:09:00.3=nvidia-gpu/(null) \nrc=0\n%s\nlock' "$ORIG")" "$out"
done

tap_done
