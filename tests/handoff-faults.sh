#!/bin/sh
# The display hand-over when a step fails or the run is cut short: everything put back.
# sources: handoff step-display display engine start stop ledger sysfs
# On the desktop fixture and the root directory of tests/lib/display-env.sh (see
# tests/display.sh): a failure at every step puts everything back as it was; an undo step that
# fails and a run killed mid-way stay recorded for restore, or for libvirt's release; a damaged
# display line is never dropped. The hand-over that works is in tests/handoff.sh (NVIDIA's in
# tests/handoff-nvidia.sh), a step stuck in the kernel in tests/handoff-stuck.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

. "$here/lib/display-env.sh"

## a failure at every step: everything as it was
fails() { # NAME ENV EXPECTED-LINE-PATTERN
	desktop; handoff_map
	out=$(env $2 "$here/fakesys" desktop -- env H="$bin" W="$work" sh -c '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; ls $W/state' 2>&1)
	check "failure at $1: rc=1, everything as it was, no record left" "$(printf 'rc=1\n%s\nlock' "$DORIG")" "$out"
	case $(cat "$work/err") in $3) ok "failure at $1: the line says what" ;; *) not_ok "failure at $1: the line says what" "$(cat "$work/err")" ;; esac
}
fails "1 (stopping gdm)" FAKE_SYSTEMCTL_FAIL=stop:gdm.service "vfio-hook: win10: cannot hand the host's display on 0000:0b:00.0 (*) over: systemctl stop gdm.service failed; everything was put back as it was"
fails "1 (gdm does not stop in time)" FAKE_SYSTEMCTL_HANG=stop:gdm.service "*systemctl stop gdm.service did not finish in time; everything was put back as it was"
fails "4 (fbcon)" FAKEKERNEL_FAULT=vtbind:vtcon1:fail1 "*unbinding fbcon from vtcon1 Input/output error; everything was put back as it was"
fails "5 (the firmware framebuffer)" FAKEKERNEL_FAULT=punbind:efi-framebuffer.0:fail "*unbinding the firmware framebuffer efi-framebuffer.0 from efi-framebuffer Input/output error; everything was put back as it was"
fails "7 (the move: the second function refuses vfio-pci)" FAKEKERNEL_FAULT=probe:0000:0b:00.1:nobind1 "vfio-hook: win10: 0000:0b:00.1 (*): vfio-pci did not bind*; every device was put back on its driver"

## 'systemctl is-active' that does not answer in time is a failure of step 1, not "not running":
## taken so, with systemd slow to answer, gdm would never be stopped (nor recorded), and the
## wait would then fail naming gdm's own processes "after the display manager stopped", or with
## host-display-kill = yes SIGTERM Xorg and gnome-shell under a running gdm and move the GPU
## while gdm is active.
desktop; handoff_map "host-display-kill = yes"
out=$(FAKE_SYSTEMCTL_HANG=is-active:gdm.service on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "^kill" $VFIO_HOOK_TEST_ROOT/calls')
check "is_active_timeout_means_inactive: is-active that does not answer: the start fails, nothing signalled, all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG" 0)" "$out"
case $(cat "$work/err") in
*"systemctl is-active gdm.service did not finish in time"*) ok "is_active_timeout_means_inactive: the line says is-active did not answer" ;;
*) not_ok "is_active_timeout_means_inactive: the line says is-active did not answer" "$(cat "$work/err")" ;;
esac

# systemctl that fails otherwise (no systemd bus: status 1) tells nothing either.
desktop; handoff_map
out=$(FAKE_SYSTEMCTL_FAIL=is-active:gdm.service on desktop '$H win10 prepare begin - <$W/win10.xml 2>$W/err; echo "rc=$?"; eval "$DSTATE"')
check "is_active_timeout_means_inactive: is-active that fails: the start fails, all as it was" \
	"$(printf '%s\n' "rc=1" "$DORIG")" "$out"
check "is_active_timeout_means_inactive: its line" "vfio-hook: win10: cannot hand the host's display on 0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]) over: systemctl is-active gdm.service failed (check that systemd answers: systemctl status gdm.service); everything was put back as it was" "$(cat "$work/err")"

## the way back fails: the ledger keeps it for restore
desktop; handoff_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; FAKE_SYSTEMCTL_FAIL=start:gdm.service $H win10 release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep ^display $W/state/ledger; $H status | grep "^win10"; $H restore win10; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
check "an undo step that fails stays recorded; status shows it; restore finishes" "$(printf '%s\n' "rc=0" \
	"0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=1 efifb=efi-framebuffer gdm=inactive" \
	"display 0000:0b:00.0 owner=win10 step=display-manager what=gdm.service driver=- state=done" \
	"win10 (not running): holds the host's display (gdm.service stopped)" "vfio-hook: win10: started gdm.service again" \
	"win10: restored" "rc=0" "$DORIG" "lock")" "$out"
check "the failed undo: one line, with the fix" "vfio-hook: win10: cannot give the host's display back (display-manager of 0000:0b:00.0): systemctl start gdm.service failed (it stays recorded: run 'vfio-hook restore win10' once the cause is gone)" "$(cat "$work/err")"

## killed in the middle of the hand-over: restore (or libvirt's release) brings it all back
for undo in "\$H restore win10 >/dev/null 2>&1" "\$H win10 release end failed </dev/null" "\$H restore --all >/dev/null 2>&1"; do
	desktop; handoff_map
	out=$(FAKEKERNEL_FAULT=punbind:efi-framebuffer.0:hang on desktop '
	$H win10 prepare begin - <$W/win10.xml 2>/dev/null & pid=$!
	i=0; while [ $i -lt 100 ] && [ ! -s $UMOCKDEV_DIR/fakekernel/hung.pid ]; do sleep 0.1; i=$((i+1)); done
	kill -9 $pid $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); wait $pid 2>/dev/null
	eval "$DSTATE"; grep -c ^display $W/state/ledger; FAKEKERNEL_FAULT= '"$undo"'; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
	check "SIGKILL mid-hand-over, then ${undo%% *} ${undo#* }: display back" "$(printf '%s\n' \
		"0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=0 efifb=efi-framebuffer gdm=inactive" 4 "rc=0" "$DORIG" "lock")" "$out"
done

## a display line that cannot be read is kept by release (and reported with "'vfio-hook restore
## --all' gives back the device it names"), and 'restore --all' then gives back what it names,
## or keeps it and fails: dropping it with rc=0, giving back nothing, would leave gdm stopped
## and the only record that vfio-hook stopped it gone. Here only the state field is damaged;
## the step, the unit and the owner are all readable.
desktop; handoff_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; sed -i "/step=display-manager/s/state=done/state=dne/" $W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; $H restore --all >/dev/null 2>&1; echo "rc=$?"; eval "$DSTATE"; grep -c "step=display-manager" $W/state/ledger 2>/dev/null')
case $out in
*"gdm=active"*|"rc=1"*1) ok "damaged_display_line_dropped: restore --all gives gdm back or keeps the record and fails" ;;
*) not_ok "damaged_display_line_dropped: restore --all gives gdm back or keeps the record and fails" "$out" ;;
esac

# The step itself unreadable: nothing is guessed; restore --all keeps the line, fails, and says what to do by hand.
desktop; handoff_map
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; sed -i "/step=display-manager/s/step=display-manager/step=dsplay-manager/" $W/state/ledger
$H win10 release end - </dev/null 2>/dev/null; $H restore --all >/dev/null 2>$W/err; echo "rc=$?"; eval "$DSTATE"; grep -c "step=dsplay-manager" $W/state/ledger')
check "damaged_display_line_dropped: an unreadable step: restore --all fails and keeps the line" \
	"$(printf '%s\n' "rc=1" "0000:0b:00.0=amdgpu 0000:0b:00.1=snd_hda_intel vtcon1=1 efifb=efi-framebuffer gdm=inactive" 1)" "$out"
case $(grep -v "cannot read this entry" "$work/err") in
*"ledger:"*": a damaged display entry is kept (the step it names cannot be read): give back by hand what it names ('systemctl start UNIT'"*"then delete the line: display 0000:0b:00.0 owner=win10 step=dsplay-manager"*) ok "damaged_display_line_dropped: the line names the entry and what to do by hand" ;;
*) not_ok "damaged_display_line_dropped: the line names the entry and what to do by hand" "$(cat "$work/err")" ;;
esac

NAME="0000:0b:00.0 (Ellesmere [Radeon RX 470/480/570/570X/580/580X/590])"
GIVEN="0000:0b:00.0=vfio-pci 0000:0b:00.1=vfio-pci vtcon1=0 efifb=none gdm=inactive"

## a swap whose hot-plug libvirt refuses gives the host's display back with the GPU
desktop; map "[options]" "timeout = 2" "uri = test:///default" "host-display = handoff" "[pci rx]" "device = 0b:00.0" "device = 0b:00.1" "[vm test]" "pci = rx"
printf "<domstatus state='running' pid='4242'><domain type='kvm' id='3'><name>test</name><devices/></domain></domstatus>\n" >"$work/run/test.xml"
out=$(on desktop '$H swap test rx 2>$W/err; echo "rc=$?"; eval "$DSTATE"; ls $W/state; tail -n 3 $VFIO_HOOK_TEST_ROOT/calls')
check "swap refused by libvirt under handoff: the display is back with the GPU, nothing recorded" \
	"$(printf '%s\n' "rc=1" "$DORIG" "lock" "systemctl is-active gdm.service" "systemctl stop gdm.service" "systemctl start gdm.service")" "$out"
check "swap refused by libvirt under handoff: the line says all was put back, and it was" \
	"vfio-hook: test: cannot hot-plug $NAME: this function is not supported by the connection driver: virDomainAttachDeviceFlags; everything was put back" \
	"$(grep 'cannot hot-plug' "$work/err")"

## a give-back of the display's GPU refused: the host gets its display back with the GPU
## (x ran with it and its hand-over; y took it; at y's stop x refuses the hot-plug)
desktop; map "[options]" "timeout = 2" "uri = test:///default" "giveback = yes" "host-display = handoff" "[vm x]" "pci = 0b:00.0 0b:00.1" "[vm y]" "pci = 0b:00.0 0b:00.1"
domxml x 0000:0b:00.0 0000:0b:00.1 >"$work/x.xml"
out=$(on desktop '$H x prepare begin - <$W/x.xml; echo "rc=$?"; eval "$DSTATE"
echo "<domstatus state=\"running\" pid=\"4242\"><domain type=\"kvm\" id=\"3\"><name>x</name><devices/></domain></domstatus>" >$W/run/x.xml
sed -i "s/owner=x /owner=y /; s/^vm x /vm y /" $W/state/ledger
echo "took 0000:0b:00.0 owner=y from=x from-uuid= from-id=3 state=done xml=$(sed -n "s/.*\(<hostdev.*<\/hostdev>\).*/\1/p" $W/x.xml | cut -d">" -f1-3 | sed "s/ /%20/g")></hostdev>" >>$W/state/ledger
$H y release end - </dev/null 2>$W/err; echo "rc=$?"; eval "$DSTATE"; cat $W/state/ledger 2>/dev/null | grep -c "^display"')
check "a refused give-back of the display's GPU: the GPU and the display both back with the host" \
	"$(printf '%s\n' "rc=0" "$GIVEN" "rc=0" "$DORIG" "0")" "$out"

## restore --all, the display's GPU with a damaged record (its owner unreadable): the display comes back too
desktop; map "[options]" "timeout = 2" "[vm x]" "pci = 0b:00.0 0b:00.1" "host-display = handoff"
domxml x 0000:0b:00.0 0000:0b:00.1 >"$work/x.xml"
out=$(on desktop '$H x prepare begin - <$W/x.xml; echo "rc=$?"
sed -i "s/^func 0000:0b:00.0 owner=x /func 0000:0b:00.0 owner=%zz /" $W/state/ledger
$H restore --all >/dev/null 2>&1; echo "rc=$?"; eval "$DSTATE"; ls $W/state')
check "restore --all with the GPU's line damaged: the display is given back as well" \
	"$(printf '%s\n' "rc=0" "rc=0" "$DORIG" "lock")" "$out"

## the hook killed while a command of its runs (systemctl stop that does not return): the command goes too
desktop; handoff_map "host-display-timeout = 30" "timeout = 30"
handoff_map
out=$(FAKE_SYSTEMCTL_HANG=stop:gdm.service on desktop '$H win10 prepare begin - <$W/win10.xml >/dev/null 2>&1 & pid=$!
i=0; while [ $i -lt 100 ] && ! grep -q "systemctl stop gdm.service" $VFIO_HOOK_TEST_ROOT/calls; do sleep 0.1; i=$((i+1)); done
sleep 0.3; kill -9 $pid; wait $pid 2>/dev/null; sleep 0.5
left=none; for p in $(pgrep -x sleep); do grep -qa "VFIO_HOOK_TEST_ROOT=$VFIO_HOOK_TEST_ROOT" /proc/$p/environ 2>/dev/null && left="pid $p"; done
echo "left: $left"; [ "$left" = none ] || kill $(echo $left | cut -d" " -f2)')
check "the hook killed mid-step: no command of its is left running" "left: none" "$out"

## a failed start that took the display's GPU from a running VM (managed='yes': libvirt gave it
## to the host's drivers as it left) gives it back to that VM before the host gets its display:
## the VM has its GPU again, and the hand-over waits, that VM's, until it stops
desktop; map "[options]" "timeout = 2" "uri = standin:///" "evict = detach" "[vm win10]" "pci = 0b:00.0 0b:00.1 05:00.0" "host-display = handoff"
domxml test 0000:0b:00.0 0000:0b:00.1 | sed "s/managed='no'/managed='yes'/g" >"$work/test.xml"
domxml win10 0000:0b:00.0 0000:0b:00.1 0000:05:00.0 >"$work/win10-nic.xml"
out=$(on desktop 'for a in 0000:0b:00.0 0000:0b:00.1; do echo vfio-pci >/sys/bus/pci/devices/$a/driver_override; echo $a >/sys/bus/pci/devices/$a/driver/unbind; echo $a >/sys/bus/pci/drivers_probe; done
sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
FAKEKERNEL_FAULT=probe:0000:05:00.0:nobind1 $H win10 prepare begin - <$W/win10-nic.xml >/dev/null 2>$W/err; echo "rc=$?"
grep -o "bus=.0x0b." $W/run/test.xml | wc -l; eval "$DSTATE"; grep -c "^display .* owner=test " $W/state/ledger')
check "a failed start: the display's GPU back in the VM it came from first, the hand-over that VM's now" \
	"$(printf '%s\n' "rc=1" "2" "$GIVEN" "4")" "$out"
check "a failed start: no give-back refused" 0 "$(grep -c "could not give" "$work/err")"

## a give-back of the display's GPU to a managed='yes' VM keeps the hand-over with the GPU: the
## host's console and framebuffer are not bound into a BAR of a GPU that a VM runs
desktop; map "[options]" "timeout = 2" "uri = standin:///" "evict = detach" "giveback = yes" "[vm win10]" "pci = 0b:00.0 0b:00.1" "host-display = handoff"
out=$(on desktop 'sed "s|<domain|<domstatus state=\"running\" pid=\"4242\"><domain|; s|</domain>|</domain></domstatus>|" $W/test.xml >$W/run/test.xml
for a in 0000:0b:00.0 0000:0b:00.1; do echo vfio-pci >/sys/bus/pci/devices/$a/driver_override; echo $a >/sys/bus/pci/devices/$a/driver/unbind; echo $a >/sys/bus/pci/drivers_probe; done
$H win10 prepare begin - <$W/win10.xml >/dev/null 2>&1; echo "rc=$?"; $H win10 started begin - </dev/null
$H win10 release end - </dev/null 2>$W/err; echo "rc=$?"
grep -o "bus=.0x0b." $W/run/test.xml | wc -l; eval "$DSTATE"; grep -c "^display .* owner=test " $W/state/ledger')
check "a managed='yes' give-back of the display's GPU: the VM has it, and the display stays handed over, its" \
	"$(printf '%s\n' "rc=0" "rc=0" "2" "$GIVEN" "4")" "$out"

tap_done
