#!/bin/sh
# Adversarial scenarios for vfio-hook setup (issue 10) and doctor's session-user checks: the
# states of a root directory, of a crash or of a second run that break a promise of the README
# or of the invariants (nothing written outside --root; every read has a deadline; recorded
# before the write; a failed run leaves what was there; the output says what was done). Every
# check says what must happen; a failing one is a finding. setup only ever runs with --root in
# a temporary directory (VFIO_HOOK_TEST=1); the --root / case is a --dry-run, which writes
# nothing (checked here with strace as well).
# Environment (from tests/tests.mk): VFIO_HOOK_BIN, VFIO_HOOK_TEST_HWDB, VFIO_HOOK_TEST_PRELOAD.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/setup-env.sh"
have_strace=$(command -v strace || true)

mkroot() { # accounts alice, bob, carol; group kvm (carol); an Intel CPU
	mkaccounts
	printf 'processor\t: 0\nvendor_id\t: GenuineIntel\n' >"$root/proc/cpuinfo"
}
setup() { # ARGS...: sets $out, $err, $rc
	"$bin" setup "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
	rc=$?
	out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
}
# crash N ARGS...: setup killed (SIGKILL) on entry to its Nth renameat(2) (setup renames relative
# to the root's directories), the step that makes a written file visible: the moment between one
# file and the next (a power cut, the OOM killer). The record comes first: rename 1 is the
# manifest, then modules-load.d, the udev rule, limits.d, /etc/group, /etc/gshadow.
crash() {
	n=$1; shift
	strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:signal=KILL:when="$n" \
		"$bin" setup "$@" >/dev/null 2>&1 </dev/null
}
DESKTOP="[host]
users = alice
memlock = unlimited
iommu = intel"

## Finding 1: a directory of the root that is a symlink is followed out of --root. An image's
## /etc/security/limits.d (or /etc/udev/rules.d, or /etc itself) that is an absolute symlink
## means a path inside the image, but setup resolves it on the machine it runs on: it writes
## (and --undo removes) files outside DIR: with a symlink to /etc/..., this machine's /etc.
## At fault: hook/setup.c write_atomic()/mkdir_parents()/remove_file() open ROOT+path with
## every directory component followed (O_NOFOLLOW covers only the last one).
mkroot
mkdir -p "$work/outside/limits.d" "$root/etc/security"
ln -s "$work/outside/limits.d" "$root/etc/security/limits.d"
mkmap "$DESKTOP"
setup --root "$root"
check "symlink_out_of_root_is_not_followed: nothing written outside --root" "" "$(ls -A "$work/outside/limits.d")"
check "symlink_out_of_root_is_not_followed: refused, exit 1" 1 "$rc"
case $err in
*"$root/etc/security/limits.d"*) ok "symlink_out_of_root_is_not_followed: the error names the symlink" ;;
*) not_ok "symlink_out_of_root_is_not_followed: the error names the symlink" "stderr: $err" ;;
esac

## Finding 2: setup's reads have no deadline. A FIFO (or a stalled network file) at any path
## setup reads in the root, its own file, the manifest, /etc/passwd, /proc/cpuinfo, blocks
## setup forever in open(2): even --dry-run and --undo hang. At fault: hook/setup.c read_at()
## (and hook/accounts.c find_line(), hook/hostconf.c cpu_vendor_params()) read with
## util.c read_file(), a blocking fopen() with no deadline and no regular-file check.
for where in /etc/modules-load.d/vfio-hook.conf /var/lib/vfio-hook/setup.manifest /etc/passwd /proc/cpuinfo; do
	mkroot
	mkmap "[host]" "users = alice" "iommu = auto"
	mkdir -p "$root${where%/*}"
	rm -f "$root$where"
	mkfifo "$root$where"
	s=$(date +%s)
	timeout -s KILL 10 "$bin" setup --dry-run --root "$root" >/dev/null 2>"$work/stderr" </dev/null
	r=$?
	t=$(($(date +%s) - s))
	if [ $r -ne 137 ] && [ $t -le 5 ]; then ok "fifo_in_root_does_not_hang_setup: $where answered in ${t}s"; else
		not_ok "fifo_in_root_does_not_hang_setup: $where answered in ${t}s" "killed after 10 s (exit $r)"; fi
	check "fifo_in_root_does_not_hang_setup: $where refused, exit 1" 1 "$r"
done

## Finding 3: doctor reads limits.conf and every limits.d/*.conf for the session users with no
## deadline: a FIFO there hangs doctor for good. At fault: hook/doctor.c read_limits() via
## sys_read()/read_file() (a blocking fopen()); the same for /etc/passwd and /etc/group
## (hook/accounts.c find_line()).
if [ -n "${VFIO_HOOK_TEST_PRELOAD:-}" ]; then
	mkroot
	mkdir -p "$root/etc/security/limits.d"
	mkfifo "$root/etc/security/limits.d/zz-local.conf"
	mkmap "[host]" "users = alice" "memlock = unlimited" "[vm none]"
	s=$(date +%s)
	VFIO_HOOK_TEST_ROOT=$root timeout -s KILL 20 "$here/fakesys" desktop -- "$bin" doctor >"$work/stdout" 2>&1 </dev/null
	r=$?
	t=$(($(date +%s) - s))
	if [ $r -ne 137 ] && [ $t -le 10 ]; then ok "fifo_in_limits_d_does_not_hang_doctor: answered in ${t}s"; else
		not_ok "fifo_in_limits_d_does_not_hang_doctor: answered in ${t}s" "killed after 20 s (exit $r)"; fi
	case $(cat "$work/stdout") in
	*WARN*"/etc/security/limits.d/zz-local.conf is not a regular file"*) ok "fifo_in_limits_d_is_a_warning_naming_it" ;;
	*) not_ok "fifo_in_limits_d_is_a_warning_naming_it" "doctor said: $(cat "$work/stdout")" ;;
	esac
else
	skip "fifo_in_limits_d_does_not_hang_doctor" "needs the fixture machines (run through make check)"
fi

## Finding 4: a crash between a file and the manifest. setup writes every file first and the
## manifest last, so what it wrote is not recorded before the write: after a SIGKILL there,
## (a) --undo says "no file of vfio-hook setup is left" and leaves the files it wrote;
## (b) a re-run finds alice already in group kvm and does not record her, so --undo never
##     takes her out again, and /etc/gshadow, never edited, disagrees with /etc/group;
## (c) once the map changed, the file it wrote is "not written by vfio-hook setup" for good.
## At fault: hook/setup.c setup_run()/plan_manifest(): the manifest step is planned after
## the writes (apply() runs the steps in order), not recorded before them.
if [ -n "$have_strace" ]; then
	mkroot
	mkmap "$DESKTOP"
	crash 3 --root "$root" # killed making the udev rule visible: the modules-load.d file is there
	setup --undo --root "$root"
	if [ -e "$root/etc/modules-load.d/vfio-hook.conf" ]; then
		not_ok "crash_before_manifest_undo_removes_what_was_written: modules-load.d file removed" "undo said: $out"
	else ok "crash_before_manifest_undo_removes_what_was_written: modules-load.d file removed"; fi

	mkroot
	mkmap "$DESKTOP"
	crash 6 --root "$root" # killed making the gshadow edit visible: /etc/group has alice
	setup --root "$root"
	check "crash_after_group_edit: the re-run completes, exit 0" 0 "$rc"
	check "crash_after_group_edit: gshadow's kvm members as group's" "carol,alice" \
		"$(sed -n 's/^kvm:[^:]*:[^:]*:\(.*\)$/\1/p' "$root/etc/gshadow")"
	setup --undo --root "$root"
	check "crash_after_group_edit: --undo takes alice out of kvm again (setup added her)" "kvm:x:992:carol" \
		"$(grep '^kvm:' "$root/etc/group")"

	mkroot
	mkmap "$DESKTOP"
	crash 4 --root "$root" # killed making the limits.d file visible: the udev rule is there
	mkmap "[host]" "users = alice bob" "memlock = unlimited" "iommu = intel"
	setup --root "$root"
	check "crash_then_map_changed: the file setup wrote is not foreign, exit 0" 0 "$rc"
	check "crash_then_map_changed: nothing on stderr" "" "$err"
else
	skip "crash_before_manifest" "needs strace to kill setup between two steps"
fi

## Finding 5: two setup runs at once (an image build script and the admin, a package's
## postinst and a retry) are not serialised. Both use the same FILE.vfio-hook-tmp: one run
## unlinks the other's temporary file, fails, and its rollback removes the files the other run
## wrote and recorded: the run that exited 0 leaves the host half-configured, its manifest
## listing files that are gone. Here run A is slowed (strace delays its 2nd rename 1.5 s) and
## run B runs whole in between. At fault: hook/setup.c setup_run() takes no lock (e.g. flock on
## the manifest's directory) and write_atomic() unlinks a temporary file it did not create.
if [ -n "$have_strace" ]; then
	mkroot
	mkmap "$DESKTOP"
	strace -f -qq -o /dev/null -e trace=renameat -e inject=renameat:delay_enter=1500000:when=2 \
		"$bin" setup --root "$root" >"$work/a.out" 2>"$work/a.err" </dev/null &
	pa=$!
	sleep 0.5
	setup --root "$root"
	rb=$rc
	wait "$pa"
	setup --dry-run --root "$root"
	if [ "$rb" -eq 0 ]; then
		check "concurrent_setup_runs_are_serialised: after a run that exited 0, nothing is left to do" \
			"nothing to do: this host already has what $map asks for" "$out"
	else
		ok "concurrent_setup_runs_are_serialised: the second run was refused (exit $rb)"
	fi
else
	skip "concurrent_setup_runs_are_serialised" "needs strace to slow one run down"
fi

## Finding 6: on Fedora/RHEL (a root with /boot/grub2, which setup itself recognises: it tells
## to run grub2-mkconfig) the IOMMU parameters never reach the kernel: their grub2-mkconfig
## (rhboot/grub2 util/grub-mkconfig.in) sources /etc/default/grub only; the
## /etc/default/grub.d/*.cfg drop-in is a Debian/Ubuntu patch (Arch's grub-mkconfig lacks it
## too), and with BLS entries the options live in /boot/loader/entries/*.conf (grubby). setup
## writes grub.d/vfio-hook.cfg, prints "grub2-mkconfig", and every re-run says "nothing to
## do" while intel_iommu=on is never on the command line. At fault: hook/hostconf.c want_grub()
## writes the drop-in whatever the bootloader tooling; expected: the grubby command (as for
## systemd-boot and kernelstub), or a change the generator reads.
mkroot
mkdir -p "$root/boot/grub2" "$root/boot/loader/entries" "$root/etc/default"
printf 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX="rhgb quiet"\nGRUB_ENABLE_BLSCFG=true\n' >"$root/etc/default/grub"
printf 'title Fedora\nlinux /vmlinuz\noptions root=UUID=x ro rhgb quiet\n' >"$root/boot/loader/entries/fedora.conf"
mkmap "[host]" "iommu = intel"
setup --root "$root"
# What Fedora's grub2-mkconfig reads, sourced as it does; and any command setup leaves to do.
fedora=$(sh -c '. "$1/etc/default/grub"; echo "$GRUB_CMDLINE_LINUX $GRUB_CMDLINE_LINUX_DEFAULT"' fedora "$root")
case "$fedora|$out" in
*intel_iommu=on*"|"* | *"|"*grubby*intel_iommu=on*) ok "fedora_grub_gets_the_iommu_parameters" ;;
*) not_ok "fedora_grub_gets_the_iommu_parameters" \
	"$(printf 'grub2-mkconfig would read: %s\nsetup printed:\n%s' "$fedora" "$out")" ;;
esac

## Finding 7: --root / (or --root //, or "$DIR/" with DIR empty in a script) is this machine:
## s.root becomes "" and setup writes /etc and runs usermod/gpasswd, even under VFIO_HOOK_TEST,
## whose whole point is that a test cannot touch the machine ("without --root there is
## nothing to write to"). Shown with --dry-run, which writes nothing (strace confirms it).
## At fault: hook/setup.c check_root() returns before the VFIO_HOOK_TEST refusal whenever a
## root is given, and setup_run() then strips "/" to "".
mkmap "[host]" "iommu = off"
for r in / //; do
	if [ -n "$have_strace" ]; then
		strace -f -qq -e trace=%file -o "$work/trace" "$bin" setup --dry-run --root "$r" >"$work/stdout" 2>"$work/stderr" </dev/null
		rc=$?
		check "root_slash_under_test_writes_nothing: --dry-run --root $r opened nothing for writing" "" \
			"$(grep -E 'O_WRONLY|O_RDWR|O_CREAT|unlink|rename|mkdir|chmod|chown' "$work/trace")"
	else
		"$bin" setup --dry-run --root "$r" >"$work/stdout" 2>"$work/stderr" </dev/null
		rc=$?
	fi
	check "root_slash_is_refused_under_VFIO_HOOK_TEST: --root $r, exit 1" 1 "$rc"
	check "root_slash_is_refused_under_VFIO_HOOK_TEST: --root $r, no plan for /etc printed" "" "$(cat "$work/stdout")"
done

## Finding 8: a kvm line of /etc/group without its fourth field ("kvm:x:992", as a hand edit or
## a minimal image leaves it) is not edited, yet setup says "added alice to group kvm", records
## her in the manifest and exits 0; every re-run says it again. At fault: hook/accounts.c
## edit_line() returns the line unchanged when it has fewer than three ':' and
## accounts_edit_members() reports success all the same.
mkroot
printf 'root:x:0:\nkvm:x:992\nalice:x:1000:\n' >"$root/etc/group"
mkmap "[host]" "users = alice" "iommu = off"
setup --root "$root"
if [ "$rc" -eq 0 ]; then
	check "group_line_without_members_field: when setup says it added alice, she is in kvm" "kvm:x:992:alice" \
		"$(grep '^kvm' "$root/etc/group")"
else
	case $err in
	*"$root/etc/group"*) ok "group_line_without_members_field: refused, naming /etc/group" ;;
	*) not_ok "group_line_without_members_field: refused, naming /etc/group" "stderr: $err" ;;
	esac
fi

## Finding 9: the map's path goes raw into the header comment of every file setup writes and
## into the manifest. A directory name with a newline (sudo vfio-hook setup -c on a map in a
## directory another user named) breaks out of the comment: a udev rule line that makes every
## USB device world-writable, a line of shell that grub-mkconfig runs as root when it sources
## grub.d/vfio-hook.cfg, and a manifest setup itself then calls damaged. At fault:
## hook/hostconf.c header() and hook/setup.c manifest_text() print s->map unescaped.
mkroot
echo 12.5 >"$root/etc/debian_version" # a Debian root: the grub.d file is written, and sourced below
evil="$work/maps
SUBSYSTEM==\"usb\", MODE=\"0666\"
GRUB_CMDLINE_LINUX_DEFAULT=\$(:>injected)
#"
mkdir -p "$evil"
printf '[host]\nusers = alice\niommu = intel\n' >"$evil/map.ini"
chmod 644 "$evil/map.ini"
setup -c "$evil/map.ini" --root "$root"
if [ -f "$root/etc/udev/rules.d/70-vfio-hook.rules" ]; then
	check "map_path_cannot_inject_udev_rules: every rule line is setup's own (group kvm, 0660)" "" \
		"$(grep -v '^#' "$root/etc/udev/rules.d/70-vfio-hook.rules" | grep -v 'GROUP="kvm", MODE="0660"$')"
else
	check "map_path_cannot_inject_udev_rules: refused, exit 2" 2 "$rc"
fi
if [ -f "$root/etc/default/grub.d/vfio-hook.cfg" ]; then
	(cd "$work" && sh -c '. "$1"' grub "$root/etc/default/grub.d/vfio-hook.cfg")
	if [ -e "$work/injected" ]; then not_ok "map_path_cannot_inject_grub_shell: sourcing the cfg runs no code of the path"
	else ok "map_path_cannot_inject_grub_shell: sourcing the cfg runs no code of the path"; fi
else
	not_ok "map_path_cannot_inject_grub_shell: the cfg of a Debian root is written" "exit $rc: $err"
fi

## Finding 10: a damaged manifest line that still starts like one of setup's ("member kvm alice
## bob", two records run together) is taken as "alice", not reported; the next run rewrites the
## manifest without bob, whom setup added, so --undo never takes him out of kvm again: an
## unreadable record silently rewritten. The same for "file SHA PATH trailing-words". At fault:
## hook/setup.c manifest_read(): sscanf() ignores whatever follows the last field.
mkroot
mkmap "[host]" "users = alice bob" "iommu = off"
setup --root "$root"
man=$root/var/lib/vfio-hook/setup.manifest
sed -i '/^member kvm alice$/d; s/^member kvm bob$/member kvm alice bob/' "$man"
before=$(cat "$man")
setup --root "$root"
check "damaged_manifest_line_is_reported: exit 1" 1 "$rc"
check "damaged_manifest_line_is_reported: the manifest is not rewritten" "$before" "$(cat "$man")"
case $err in
*"$man:"*) ok "damaged_manifest_line_is_reported: FILE:LINE on stderr" ;;
*) not_ok "damaged_manifest_line_is_reported: FILE:LINE on stderr" "stderr: $err" ;;
esac

tap_done
