#!/bin/sh
# The writer child a run keeps for its sysfs writes: killed, stopped or stuck, holding nothing.
# sources: child sysfs bind step-bind engine start stop
# The one writer child (hook/child.c child_srv_call, hook/sysfs.c serve_writes): what it
# holds, the hook's stdout/stderr as libvirt's pipes, the next run after a write stuck in the
# kernel. A driver step that hangs is in tests/deadlines.sh, a driver operation stuck in the
# kernel in tests/stuck.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"

domxml win10 $GPU >"$work/win10.xml"

# A moment between two writes of a run: at release, a function whose native driver is not
# loaded gets "modprobe DRIVER" after its unbind and before its probe. The modprobe stand-in
# used here ($work/bin) first does $DO to every other child of the hook (the writer), then runs
# the suite's own stand-in.
mkdir -p "$work/bin"
cp "$here/lib/bin/"* "$work/bin/"
mv "$work/bin/modprobe" "$work/bin/modprobe.real"
cat >"$work/bin/modprobe" <<'EOF'
#!/bin/sh
hook=$(ps -o ppid= -p $PPID | tr -d ' ')
for c in $(ps -o pid= --ppid "$hook"); do
	[ "$c" = "$PPID" ] && continue
	case ${DO:-} in
	fds) ls -l /proc/$c/fd | sed -n 's/.* \([0-9]*\) -> \([^:[]*\).*/\1 \2/p' >"$W/writer-fds" ;;
	KILL|TERM|STOP) kill -$DO "$c" ;;
	esac
done
exec "$(dirname "$0")/modprobe.real" "$@"
EOF
chmod 755 "$work/bin/modprobe"
# win10 takes the GPU; nvidia's driver "goes away" so that the release runs modprobe for 09:00.0.
TAKE='export VFIO_HOOK_TEST_BIN=$W/bin; $H win10 prepare begin - <$W/win10.xml; rm -rf $UMOCKDEV_DIR/sys/bus/pci/drivers/nvidia'

## the writer holds /dev/null as stdio and its two pipes, nothing else: not the lock, not
## libvirt's pipes (the hook's stdout and stderr are pipes here)
reset; full_map 2
out=$(DO=fds on desktop "$TAKE"'
$H win10 release end - </dev/null 2>&1 | cat; echo "rc=$?"; cat $W/writer-fds')
check "writer_holds_nothing_of_ours: null as stdio, requests on 4, answers on 3" \
	"$(printf 'rc=0\n0 /dev/null\n1 /dev/null\n2 /dev/null\n3 pipe\n4 pipe')" "$out"

## the writer killed between two writes (a user, the OOM killer): the next write goes to a
## fresh one, the release finishes and nothing stays recorded
for sig in KILL TERM; do
	reset; full_map 2
	out=$(DO=$sig on desktop "$TAKE"'
	$H win10 release end - </dev/null; echo "rc=$?"; eval "$STATE"; ls $W/state')
	check "writer_killed_between_writes ($sig): the release finishes, all back" "$(printf 'rc=0\n%s\nlock' "$ORIG")" "$out"
done

## the writer stopped between two writes: the write after costs its deadline, not forever; the
## function stays recorded and restore puts it back; the other functions go back
reset; full_map 2
out=$(DO=STOP on desktop "$TAKE"'
s=$(date +%s); $H win10 release end - </dev/null 2>/dev/null; echo "rc=$?"; [ $(( $(date +%s) - s )) -le 4 ] && echo "in time"
eval "$STATE"; grep -c "^func" $W/state/ledger; VFIO_HOOK_TEST_BIN= $H restore win10 >/dev/null 2>&1; echo "rc=$?"; eval "$STATE"')
check "writer_stopped_between_writes: the deadline, the rest back, restore ends it" "$(printf '%s\n' "rc=0" "in time" \
	"0000:09:00.0=none/(null) 0000:09:00.1=snd_hda_intel/(null) 0000:09:00.2=xhci_hcd/(null) 0000:09:00.3=nvidia-gpu/(null) " \
	1 "rc=0" "$ORIG")" "$out"

## the writer killed while an unbind is stuck in the kernel: the start fails at once, the
## rollback gets a fresh writer (the stuck function costs one deadline), the record keeps the
## stuck one, restore ends it once the kernel lets go
reset; full_map 2
out=$(FAKEKERNEL_FAULT="unbind:0000:09:00.2:hang" on desktop '
s=$(date +%s); $H win10 prepare begin - <$W/win10.xml 2>/dev/null & pid=$!
i=0; while [ $i -lt 100 ] && [ ! -s $UMOCKDEV_DIR/fakekernel/hung.pid ]; do sleep 0.05; i=$((i+1)); done
for c in $(ps -o pid= --ppid $pid); do kill -9 $c; done
wait $pid; echo "rc=$?"; [ $(( $(date +%s) - s )) -le 4 ] && echo "in time"
kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); eval "$STATE"; grep -c "^func" $W/state/ledger
FAKEKERNEL_FAULT= $H restore win10 >/dev/null 2>&1; echo "rc=$?"; eval "$STATE"; ls $W/state')
check "writer_killed_in_a_stuck_unbind: the rest back, the stuck one recorded, restore ends it" "$(printf '%s\n' "rc=1" "in time" \
	"0000:09:00.0=nvidia/(null) 0000:09:00.1=snd_hda_intel/(null) 0000:09:00.2=xhci_hcd/vfio-pci 0000:09:00.3=nvidia-gpu/(null) " \
	1 "rc=0" "$ORIG" "lock")" "$out"

## a write stuck in the kernel, the hook's stdout and stderr libvirt's pipes: libvirt's read of
## them ends with the hook (nothing it left behind keeps them), within the deadline
reset; full_map 2
out=$(FAKEKERNEL_FAULT="probe:0000:09:00.1:hang" on desktop '
s=$(date +%s); $H win10 prepare begin - <$W/win10.xml 2>&1 | cat >/dev/null; [ $(( $(date +%s) - s )) -le 4 ] && echo "pipes closed in time"
kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid); sleep 0.3
# This suite'"'"'s own: other suites run the same program at the same time.
n=0; for p in $(ps -eo pid=,args= | awk -v h="$H" '"'"'$2 == h && $3 == "win10" && $4 == "prepare" { print $1 }'"'"'); do
	# (a process that ended meanwhile has no environ: the shell'"'"'s word on that is not the test'"'"'s)
	{ tr "\0" "\n" </proc/$p/environ; } 2>/dev/null | grep -qx "VFIO_HOOK_STATE_DIR=$W/state" && n=$((n + 1))
done; echo $n')
check "stuck_write_does_not_hold_libvirts_pipes: EOF within the deadline, no writer left behind" \
	"$(printf 'pipes closed in time\n0')" "$out"

## the next run after a stuck write: it is not blocked by anything the last run left. It reads
## the stuck function's attributes once, for the map's timeout (2 s), and says so; waiting for
## the lock would cost 3 timeouts (6 s).
reset; full_map 2
out=$(FAKEKERNEL_FAULT="unbind:0000:09:00.0:hang" on desktop '
$H win10 prepare begin - <$W/win10.xml 2>/dev/null; echo "rc=$?"
s=$(date +%s%N); timeout 10 $H status >$W/status 2>&1; echo "status rc=$?"
[ $(( ($(date +%s%N) - s) / 1000000 )) -lt 4500 ] && echo "status in time"
grep -c "^09:00.0 .*stuck in the kernel" $W/status
kill $(cat $UMOCKDEV_DIR/fakekernel/hung.pid)')
check "stuck_write_leaves_no_lock_behind: the next command answers within one read deadline, naming the stuck function" \
	"$(printf 'rc=1\nstatus rc=0\nstatus in time\n1')" "$out"

tap_done
