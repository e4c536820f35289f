#!/bin/sh
# vfio-hook setup into temporary roots (--root), the way an image builder or a user runs it.
# sources: setup setup-manifest setup-root hostconf accounts sha256
# The files it writes, the diff --dry-run prints, re-runs that change nothing, --undo, and the
# rollback of a run that fails half way; then the states of a root directory, of a crash or of
# a second run that could break a promise (nothing written outside --root; every read has a
# deadline; recorded before the write; a failed run leaves what was there; the output says
# what was done). Nothing outside the roots is written: the suite runs with VFIO_HOOK_TEST=1,
# under which setup refuses to run without --root (tested below); the --root / case is a
# --dry-run, which writes nothing (checked with strace as well). The early = yes scenario runs
# on a umockdev fixture machine (tests/fakesys) for its PCI devices. doctor's checks of the
# session users are in tests/doctor.sh.
# Environment (from tests/run-tests.sh): VFIO_HOOK_BIN, VFIO_HOOK_TEST_HWDB, VFIO_HOOK_TEST_PRELOAD.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/setup-env.sh"
have_strace=$(command -v strace || true)
HEAD="# Written by vfio-hook setup from $map.
# Change the map and run \"vfio-hook setup\" again rather than editing this file;
# \"vfio-hook setup --undo\" removes it."
RELOGIN="(group kvm and the memlock limit apply to new sessions and the qemu:///session daemon started in them)"


# A fresh Debian root (grub-mkconfig reads /etc/default/grub.d there) with accounts alice, bob,
# carol and group kvm; CPU vendor $1 (none: no cpuinfo).
mkroot() {
	mkaccounts
	echo 12.5 >"$root/etc/debian_version"
	[ "${1:-none}" = none ] || printf 'processor\t: 0\nvendor_id\t: %s\nflags\t\t: fpu\n' "$1" >"$root/proc/cpuinfo"
}

# A listing of every file under the root with its checksum and mode: equal listings, equal trees.
snapshot() { (cd "$root" && find . -type f -exec sha256sum {} + | sort && find . -printf '%p %m\n' | sort); }

# setup ARGS...: sets $out, $err, $rc
setup() {
	"$bin" setup "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
	rc=$?
	out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
}

# file NAME PATH EXPECTED-BODY: the file holds the header and exactly this body
file() {
	if [ -f "$root$2" ]; then check "$1" "$HEAD
$3" "$(cat "$root$2")"; else not_ok "$1" "no $root$2"; fi
}
absent() { if [ -e "$root$2" ]; then not_ok "$1" "$root$2 exists"; else ok "$1"; fi; }
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

DESKTOP_MAP='[host]
users   = alice bob ; may use VFIO devices and the mapped USB devices from qemu:///session
memlock = unlimited
iommu   = intel
[pci gpu]
device = 10de:1e84  VGA controller
[usb receiver]
device = 046d:c539  Logitech Unifying Receiver
device = 0416
[vm win10]
pci = gpu
usb = receiver 1234:abcd
[vm linux]
usb = 046d:c539 ; the receiver again: one rule'
RULES='# For alice bob (group kvm), from qemu:///session: the IOMMU groups (/dev/vfio/N),
# iommufd'"'"'s device nodes (/dev/vfio/devices/*), and the map'"'"'s USB devices.
SUBSYSTEM=="vfio", GROUP="kvm", MODE="0660"
SUBSYSTEM=="vfio-dev", GROUP="kvm", MODE="0660"
# [usb receiver] 046d:c539 Logitech Unifying Receiver
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="046d", ATTR{idProduct}=="c539", GROUP="kvm", MODE="0660"
# [usb receiver] 0416
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="0416", GROUP="kvm", MODE="0660"
# [vm win10] 1234:abcd
SUBSYSTEM=="usb", ENV{DEVTYPE}=="usb_device", ATTR{idVendor}=="1234", ATTR{idProduct}=="abcd", GROUP="kvm", MODE="0660"'
LIMITS='# A VM with a passed-through device locks all its memory.
alice soft memlock unlimited
alice hard memlock unlimited
bob soft memlock unlimited
bob hard memlock unlimited'
MODULES='vfio_pci
vfio_iommu_type1'
GRUB_INTEL='GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT intel_iommu=on iommu=pt"'

## Never this machine: under VFIO_HOOK_TEST, no --root, no run
mkroot none
mkmap "$DESKTOP_MAP"
setup
check "no --root under VFIO_HOOK_TEST: exit 1" 1 "$rc"
check "no --root under VFIO_HOOK_TEST: says why, one line" \
	"vfio-hook: setup: refused: VFIO_HOOK_TEST is set and no --root DIR was given (pass --root DIR: a test never writes this machine's /etc)" "$err"
check "no --root under VFIO_HOOK_TEST: prints nothing" "" "$out"
setup --dry-run
check "no --root under VFIO_HOOK_TEST, even a dry run: exit 1" 1 "$rc"
setup --root relative/dir
check "--root not absolute: exit 2" 2 "$rc"
check "--root not absolute: says why" \
	"vfio-hook: setup: --root relative/dir: not an existing directory given as an absolute path (create it, or fix the path)" "$err"
"$bin" doctor --root "$root" >/dev/null 2>"$work/stderr"
check "--root is for setup only: exit 2" 2 "$?"
check "--root is for setup only: says so" \
	"vfio-hook: doctor: --root is only for setup: vfio-hook setup --root DIR (see vfio-hook --help)" "$(cat "$work/stderr")"

## --dry-run prints the diff and changes nothing
before=$(snapshot)
setup --dry-run --root "$root"
check "dry run: exit 0" 0 "$rc"
check "dry run: nothing under the root changed" "$before" "$(snapshot)"
check "dry run: the whole output, a diff per file, then what is left to do" "--- /dev/null
+++ $root/etc/modules-load.d/vfio-hook.conf
@@ -0,0 +1,5 @@
$(printf '%s\n%s\n' "$HEAD" "$MODULES" | sed 's/^/+/')
--- /dev/null
+++ $root/etc/udev/rules.d/70-vfio-hook.rules
@@ -0,0 +1,13 @@
$(printf '%s\n%s\n' "$HEAD" "$RULES" | sed 's/^/+/')
--- /dev/null
+++ $root/etc/security/limits.d/vfio-hook.conf
@@ -0,0 +1,8 @@
$(printf '%s\n%s\n' "$HEAD" "$LIMITS" | sed 's/^/+/')
--- /dev/null
+++ $root/etc/default/grub.d/vfio-hook.cfg
@@ -0,0 +1,4 @@
$(printf '%s\n%s\n' "$HEAD" "$GRUB_INTEL" | sed 's/^/+/')
would add alice to group kvm
would add bob to group kvm
would write $root/var/lib/vfio-hook/setup.manifest
Left to do after that:
  update-grub
  alice bob: log out and in again $RELOGIN
  reboot
dry run: nothing was changed" "$out"

## The run: exactly these files
setup --root "$root"
check "setup: exit 0" 0 "$rc"
check "setup: nothing on stderr" "" "$err"
check "setup: says what it wrote and what is left to do" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/etc/udev/rules.d/70-vfio-hook.rules
wrote $root/etc/security/limits.d/vfio-hook.conf
wrote $root/etc/default/grub.d/vfio-hook.cfg
added alice to group kvm
added bob to group kvm
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  update-grub
  alice bob: log out and in again $RELOGIN
  reboot" "$out"
file "modules-load.d: vfio_pci and vfio_iommu_type1" /etc/modules-load.d/vfio-hook.conf "$MODULES"
file "udev rules: /dev/vfio/* and each USB device by vendor and product, group kvm, 0660" \
	/etc/udev/rules.d/70-vfio-hook.rules "$RULES"
if grep -q 0666 "$root/etc/udev/rules.d/70-vfio-hook.rules"; then not_ok "udev rules: never 0666"; else ok "udev rules: never 0666"; fi
check "udev rules: every rule has GROUP=\"kvm\", MODE=\"0660\"" "" \
	"$(grep -v '^#' "$root/etc/udev/rules.d/70-vfio-hook.rules" | grep -v 'GROUP="kvm", MODE="0660"$')"
file "limits.d: soft and hard memlock for each listed user only" /etc/security/limits.d/vfio-hook.conf "$LIMITS"
file "grub.d: Intel's parameters appended" /etc/default/grub.d/vfio-hook.cfg "$GRUB_INTEL"
absent "no modprobe.d file without early = yes" /etc/modprobe.d/vfio-hook.conf
check "group kvm: alice and bob added after carol, other lines as they were" \
	"root:x:0:
kvm:x:992:carol,alice,bob
alice:x:1000:
bob:x:1001:
carol:x:1002:" "$(cat "$root/etc/group")"
check "gshadow: the same members, its mode kept" "kvm:!::carol,alice,bob 640" \
	"$(grep '^kvm:' "$root/etc/gshadow") $(stat -c %a "$root/etc/gshadow")"
check "written files are 0644" "0644 0644 0644 0644 0644" \
	"$(stat -c %04a "$root/etc/modules-load.d/vfio-hook.conf" "$root/etc/udev/rules.d/70-vfio-hook.rules" \
		"$root/etc/security/limits.d/vfio-hook.conf" "$root/etc/default/grub.d/vfio-hook.cfg" \
		"$root/var/lib/vfio-hook/setup.manifest" | tr '\n' ' ' | sed 's/ $//')"
check "the manifest: each file with its sha256, the members setup added (not carol), the directories it made" \
	"# vfio-hook setup: what it wrote from $map, with SHA-256 checksums.
# \"vfio-hook setup --undo\" removes each file that is unchanged, then this one and the empty directories it made.
$(cd "$root" && for f in /etc/modules-load.d/vfio-hook.conf /etc/udev/rules.d/70-vfio-hook.rules \
	/etc/security/limits.d/vfio-hook.conf /etc/default/grub.d/vfio-hook.cfg; do
	echo "file $(sha256sum <".$f" | cut -d' ' -f1) $f"; done)
member kvm alice
member kvm bob
dir /var
dir /var/lib
dir /var/lib/vfio-hook
dir /etc/modules-load.d
dir /etc/udev
dir /etc/udev/rules.d
dir /etc/security
dir /etc/security/limits.d
dir /etc/default
dir /etc/default/grub.d" "$(cat "$root/var/lib/vfio-hook/setup.manifest")"
check "no temporary file left" "" "$(find "$root" -name '*.vfio-hook-tmp*')"

## A re-run changes nothing
before=$(snapshot)
touch -d @1600000000 "$root/etc/modules-load.d/vfio-hook.conf"
setup --root "$root"
check "re-run: exit 0" 0 "$rc"
check "re-run: nothing to do" "nothing to do: this host already has what $map asks for" "$out"
check "re-run: nothing changed" "$before" "$(snapshot)"
check "re-run: not even rewritten" 1600000000 "$(stat -c %Y "$root/etc/modules-load.d/vfio-hook.conf")"
setup --dry-run --root "$root"
check "dry run after a run: nothing to do" "nothing to do: this host already has what $map asks for" "$out"

## A file the user edited is never overwritten
echo "alice - nofile 4096" >>"$root/etc/security/limits.d/vfio-hook.conf"
before=$(snapshot)
setup --root "$root"
check "edited file: exit 1" 1 "$rc"
check "edited file: named, with the fix" \
	"vfio-hook: $root/etc/security/limits.d/vfio-hook.conf: edited since vfio-hook setup wrote it: move it away (or merge what it adds into the map), then run vfio-hook setup again" "$err"
check "edited file: nothing changed" "$before" "$(snapshot)"

## --undo removes exactly its files, and keeps the edited one
setup --undo --dry-run --root "$root"
check "undo --dry-run: nothing changed" "$before" "$(snapshot)"
check "undo --dry-run: the removal as a diff" "--- $root/etc/modules-load.d/vfio-hook.conf
+++ /dev/null
@@ -1,5 +0,0 @@
$(printf '%s\n%s\n' "$HEAD" "$MODULES" | sed 's/^/-/')" "$(printf '%s\n' "$out" | sed -n 1,8p)"
setup --undo --root "$root"
check "undo: exit 0" 0 "$rc"
check "undo: what it removed, the file it kept, what is left to do" "removed $root/etc/modules-load.d/vfio-hook.conf
removed $root/etc/udev/rules.d/70-vfio-hook.rules
removed $root/etc/default/grub.d/vfio-hook.cfg
removed alice from group kvm
removed bob from group kvm
removed $root/var/lib/vfio-hook/setup.manifest
kept $root/etc/security/limits.d/vfio-hook.conf: edited since vfio-hook setup wrote it (remove it yourself if it is no longer wanted)
Left to do:
  update-grub
  alice bob: log out and in again $RELOGIN
  reboot" "$out"
# The directories setup made went with its last file: only the kept file's are left.
check "undo: the directories setup made are gone, but for the kept file's" "./etc/security
./etc/security/limits.d" "$(cd "$root" && find . -mindepth 1 -type d ! -path ./etc ! -path ./proc | LC_ALL=C sort)"
mv "$root/etc/security/limits.d/vfio-hook.conf" "$work/kept"
rmdir "$root/etc/security/limits.d" "$root/etc/security"
after=$(snapshot)
mkroot none
check "undo: the root is as before setup, but for the kept file (and empty directories)" "$(snapshot)" "$after"
check "undo: the kept file has the user's edit" "alice - nofile 4096" "$(tail -n 1 "$work/kept")"
setup --undo --root "$root"
check "undo again: nothing to undo" "nothing to undo: no file of vfio-hook setup is left" "$out"
check "undo again: exit 0" 0 "$rc"
absent "undo with nothing to undo: it makes no directory for a record it has none of" /var/lib/vfio-hook

## A manifest naming a file setup never writes is reported, not followed
mkroot none
mkdir -p "$root/var/lib/vfio-hook"
echo "file $(sha256sum <"$root/etc/passwd" | cut -d' ' -f1) /etc/passwd" >"$root/var/lib/vfio-hook/setup.manifest"
before=$(snapshot)
setup --undo --root "$root"
check "a manifest naming /etc/passwd: exit 1" 1 "$rc"
check "a manifest naming /etc/passwd: the line, and what to do" \
	"$root/var/lib/vfio-hook/setup.manifest:1: not a line vfio-hook setup writes (edit it back to \"file SHA256 PATH\", \"member kvm USER\" or \"dir PATH\", or remove the line; nothing was changed)" "$err"
check "a manifest naming /etc/passwd: nothing removed" "$before" "$(snapshot)"

## A file setup did not write is never overwritten
mkroot none
mkdir -p "$root/etc/modules-load.d"
echo vfio_pci >"$root/etc/modules-load.d/vfio-hook.conf"
mkmap "[host]" "iommu = off"
setup --root "$root"
check "a foreign file at setup's path: exit 1" 1 "$rc"
check "a foreign file at setup's path: refused, named" \
	"vfio-hook: $root/etc/modules-load.d/vfio-hook.conf: exists and vfio-hook setup did not write it: move it away (or merge what it adds into the map), then run vfio-hook setup again" "$err"

## iommu = off, amd, auto: the kernel parameters
mkroot none
mkmap "[host]" "iommu = off"
setup --root "$root"
check "iommu = off: only modules-load.d" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/var/lib/vfio-hook/setup.manifest" "$out"
absent "iommu = off: no grub.d file" /etc/default/grub.d/vfio-hook.cfg
absent "no users: no udev rules" /etc/udev/rules.d/70-vfio-hook.rules
absent "no memlock: no limits.d file" /etc/security/limits.d/vfio-hook.conf
mkmap "[host]" "iommu = amd"
setup --root "$root"
file "iommu = amd: iommu=pt only" /etc/default/grub.d/vfio-hook.cfg \
	'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt"'
check "iommu = amd: update-grub and reboot left" "wrote $root/etc/default/grub.d/vfio-hook.cfg
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  update-grub
  reboot" "$out"
mkmap "[host]" "iommu = off" "hugepages = 1G:8 2M:512"
setup --root "$root"
file "hugepages = 1G:8 2M:512: reserved at boot on the kernel command line, after the IOMMU's (none here)" \
	/etc/default/grub.d/vfio-hook.cfg \
	'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT hugepagesz=1G hugepages=8 hugepagesz=2M hugepages=512"'
mkmap "[host]" "hugepages = 1G"
setup --root "$root"
check "hugepages without a count: a map error (exit 2) with the line and the form" \
	"2 $work/map.ini:2: hugepages must be SIZE:COUNT pairs, as in hugepages = 1G:8 (eight 1 GiB pages reserved at boot) or 2M:2048, not \"1G\"" \
	"$rc $err"
mkroot AuthenticAMD
mkmap "[host]" "iommu = auto"
setup --root "$root"
file "iommu = auto on an AMD CPU: iommu=pt" /etc/default/grub.d/vfio-hook.cfg \
	'GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT iommu=pt"'
mkroot GenuineIntel
mkmap "[vm a]"
setup --root "$root"
file "no [host] at all: auto, on an Intel CPU" /etc/default/grub.d/vfio-hook.cfg "$GRUB_INTEL"
mkroot CyrixInstead
mkmap "[host]" "iommu = auto"
setup --root "$root"
check "iommu = auto, a CPU of neither: exit 2" 2 "$rc"
check "iommu = auto, a CPU of neither: the map line and the fix" \
	"$map:2: iommu = auto: /proc/cpuinfo names no Intel or AMD CPU (set iommu = intel, amd or off in [host])" "$err"
absent "iommu = auto, a CPU of neither: nothing written" /etc/modules-load.d/vfio-hook.conf

## The map changed: what it no longer asks for goes
mkroot GenuineIntel
mkmap "$DESKTOP_MAP"
setup --root "$root"
mkmap "[host]" "users = bob" "iommu = off"
setup --root "$root"
check "users shrunk, iommu off: stale files removed, alice out of kvm" \
	"wrote $root/etc/udev/rules.d/70-vfio-hook.rules
removed $root/etc/security/limits.d/vfio-hook.conf
removed $root/etc/default/grub.d/vfio-hook.cfg
removed alice from group kvm
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  update-grub
  alice bob: log out and in again $RELOGIN
  reboot" "$out"
check "users shrunk: kvm keeps carol (not setup's) and bob" "kvm:x:992:carol,bob" "$(grep '^kvm:' "$root/etc/group")"

## systemd-boot and kernelstub: the command, not a file
mkroot GenuineIntel
mkdir -p "$root/boot/loader/entries"
: >"$root/boot/loader/loader.conf"
printf 'title Linux\nlinux /vmlinuz\noptions root=/dev/sda1 rw quiet\n' >"$root/boot/loader/entries/linux.conf"
mkmap "[host]" "iommu = intel"
setup --root "$root"
check "systemd-boot: the exact command, then reboot" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  sed -i '/^options / s/\$/ intel_iommu=on iommu=pt/' /boot/loader/entries/*.conf
  reboot" "$out"
absent "systemd-boot: no grub.d file" /etc/default/grub.d/vfio-hook.cfg
check "systemd-boot: the entry untouched" "options root=/dev/sda1 rw quiet" "$(grep ^options "$root/boot/loader/entries/linux.conf")"
sed -i '/^options / s/$/ intel_iommu=on iommu=pt/' "$root/boot/loader/entries/linux.conf"
setup --root "$root"
check "systemd-boot, entries done: nothing to do" "nothing to do: this host already has what $map asks for" "$out"
mkroot AuthenticAMD
mkdir -p "$root/etc/kernelstub"
echo '{"user": {"kernel_options": ["quiet", "splash"]}}' >"$root/etc/kernelstub/configuration"
mkmap "[host]"  "early = no"
setup --root "$root"
check "kernelstub: the exact command" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  kernelstub -a \"iommu=pt\"
  reboot" "$out"

## The manifest's directory cannot be made: nothing is done (the record comes first)
mkroot GenuineIntel
mkmap "$DESKTOP_MAP"
mkdir -p "$root/var/lib"
: >"$root/var/lib/vfio-hook" # a file where the manifest's directory goes
before=$(snapshot)
setup --root "$root"
check "the manifest's directory cannot be made: exit 1" 1 "$rc"
check "the manifest's directory cannot be made: the file, the error, the fix" \
	"vfio-hook: $root/var/lib/vfio-hook: cannot create or open it to lock it: Not a directory (check that $root is writable)" "$err"
check "the manifest's directory cannot be made: nothing printed as done" "" "$out"
check "the manifest's directory cannot be made: the root as it was" "$before" \
	"$(find "$root" -depth -type d -empty -delete; snapshot)"

## Arch, Fedora without BLS: grub-mkconfig reads /etc/default/grub alone, so the edit is printed
mkroot GenuineIntel
rm "$root/etc/debian_version"
mkdir -p "$root/etc/default" "$root/boot/grub"
printf 'GRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT="loglevel=3 quiet"\nGRUB_CMDLINE_LINUX=""\n' >"$root/etc/default/grub"
mkmap "[host]" "iommu = intel"
setup --root "$root"
check "GRUB without grub.d: the exact edit and grub-mkconfig, no drop-in" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  echo 'GRUB_CMDLINE_LINUX=\"\$GRUB_CMDLINE_LINUX intel_iommu=on iommu=pt\"' >>/etc/default/grub && grub-mkconfig -o /boot/grub/grub.cfg
  reboot" "$out"
absent "GRUB without grub.d: no grub.d file (its grub-mkconfig would not read it)" /etc/default/grub.d/vfio-hook.cfg
(cd "$root" && sh -c "$(printf '%s\n' "$out" | sed -n 's/^  \(echo .*\) && grub-mkconfig.*/\1/p' | sed 's|/etc/default/grub|etc/default/grub|')")
check "GRUB without grub.d: the printed edit puts the parameters where grub-mkconfig reads them" \
	" intel_iommu=on iommu=pt" "$(sh -c '. "$1/etc/default/grub"; echo "$GRUB_CMDLINE_LINUX"' grub "$root")"
setup --root "$root"
check "GRUB without grub.d, edit made: nothing to do" "nothing to do: this host already has what $map asks for" "$out"

## Fedora with BLS entries: grubby, and nothing once every entry has the parameters
mkroot AuthenticAMD
rm "$root/etc/debian_version"
mkdir -p "$root/etc/default" "$root/boot/grub2" "$root/boot/loader/entries"
printf 'GRUB_CMDLINE_LINUX="rhgb quiet"\nGRUB_ENABLE_BLSCFG=true\n' >"$root/etc/default/grub"
printf 'title Fedora\nlinux /vmlinuz\noptions root=UUID=x ro rhgb quiet\n' >"$root/boot/loader/entries/fedora.conf"
mkmap "[host]" "iommu = auto"
setup --root "$root"
check "BLS: the exact grubby command, then reboot" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  grubby --update-kernel=ALL --args=\"iommu=pt\"
  reboot" "$out"
sed -i '/^options / s/$/ iommu=pt/' "$root/boot/loader/entries/fedora.conf"
setup --root "$root"
check "BLS, entries done: nothing to do" "nothing to do: this host already has what $map asks for" "$out"

## A failure half way: every earlier change undone
mkroot GenuineIntel
mkmap "$DESKTOP_MAP"
printf 'root:*::\nkvm:!\n' >"$root/etc/gshadow" # a kvm line too short to take a member
before=$(snapshot)
setup --root "$root"
check "gshadow cannot be edited: exit 1" 1 "$rc"
check "gshadow cannot be edited: the file, the line, the fix; then the rollback" \
	"vfio-hook: $root/etc/gshadow: its kvm line has too few fields to add alice (fix it: kvm:!::MEMBERS), then run vfio-hook setup again
vfio-hook: setup: undid the 4 changes made before that" "$err"
check "gshadow cannot be edited: nothing printed as done" "" "$out"
check "gshadow cannot be edited: the root as it was (files and manifest gone, group kvm back)" "$before" \
	"$(find "$root" -depth -type d -empty -delete; snapshot)"

## Accounts: a user that does not exist, no group kvm
mkroot GenuineIntel
mkmap "[host]" "users = alice dave"
setup --root "$root"
check "a user without an account: exit 2" 2 "$rc"
check "a user without an account: the map line and the fix" \
	"$map:2: user dave is not in $root/etc/passwd (create the account first, or remove it from users)" "$err"
sed -i '/^kvm:/d' "$root/etc/group"
mkmap "[host]" "users = alice"
setup --root "$root"
check "no group kvm: exit 1" 1 "$rc"
check "no group kvm: how to create it" \
	"vfio-hook: $root/etc/group: no group kvm (create it: groupadd -r kvm), then run vfio-hook setup again" "$err"

## NixOS (/etc/NIXOS under the root): nothing written, one line pointing to the module
for args in "" "--dry-run" "--undo"; do
	mkroot GenuineIntel
	: >"$root/etc/NIXOS"
	mkmap "$DESKTOP_MAP"
	before=$(snapshot)
	# shellcheck disable=SC2086 # no argument, or one
	setup $args --root "$root"
	check "NixOS, setup $args: exit 1" 1 "$rc"
	check "NixOS, setup $args: one line naming the module" \
		"vfio-hook: setup: $root/etc/NIXOS: this is NixOS, whose /etc is built from its configuration: nothing was written; set services.vfio-hook.settings.host (or the vfio.* options) in configuration.nix instead, with the module in vfio-hook's etc/nixos/" "$err"
	check "NixOS, setup $args: nothing printed, nothing changed" "$before" "$out$(snapshot)"
done

## Bad [host] values stop setup before anything is written
mkroot GenuineIntel
for bad in "users = alice,bob|2: bad user name \"alice,bob\" in [host] users (names start with a letter or '_', then letters, digits, '.', '_' or '-'; separate names with spaces)" \
	"memlock = 8G|2: memlock must be a number of KiB (e.g. 16777216 for 16 GiB) or unlimited, not \"8G\"" \
	"iommu = amd_iommu=on|2: iommu must be auto, intel, amd or off, not \"amd_iommu=on\"" \
	"early = sometimes|2: early must be yes or no, not \"sometimes\"" \
	"cpu-type = intel|2: unknown key \"cpu-type\" in [host] (valid keys: users, memlock, iommu, early, hugepages)"; do
	mkmap "[host]" "${bad%%|*}"
	setup --root "$root"
	check "bad [host] ${bad%%|*}: exit 2" 2 "$rc"
	check "bad [host] ${bad%%|*}: FILE:LINE and the fix" "$map:${bad#*|}" "$err"
done
absent "bad [host] values: nothing written" /etc/modules-load.d/vfio-hook.conf

## early = yes: the map's ids to vfio-pci at boot, after the host drivers they would get
mkroot AuthenticAMD
rel=$(uname -r)
mkdir -p "$root/lib/modules/$rel"
printf '%s\n' 'alias pci:v000010DEd*sv*sd*bc03sc*i* nouveau' 'alias pci:v*d*sv*sd*bc04sc03i* snd_hda_intel' \
	'alias pci:v*d*sv*sd*bc0Csc03i30* xhci_pci' 'alias pci:v*d*sv*sd*bc01sc08i02* nvme' \
	'alias usb:v046Dp*d*dc*dsc*dp*ic*isc*ip*in* hid_logitech_dj' >"$root/lib/modules/$rel/modules.alias"
mkmap "[host]" "early = yes" "[pci gpu]" "device = 10de:1e84" "device = 0000:09:00.1  by address" \
	"[vm win10]" "pci = gpu 10de:1ad8"
# The proprietary driver nvidia is bound to the GPU: a module of its own, in no alias of the tree.
SESSION='mkdir -p "$UMOCKDEV_DIR/sys/module/nvidia"
ln -s ../../../../module/nvidia "$UMOCKDEV_DIR/sys/bus/pci/drivers/nvidia/module"
exec "$@"'
"$here/fakesys" desktop -- sh -c "$SESSION" early "$bin" setup --root "$root" >"$work/stdout" 2>"$work/stderr"
rc=$?; out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
check "early = yes: nothing on stderr" "" "$err"
check "early = yes: exit 0" 0 "$rc"
file "early = yes: ids= for what the map names by id, a softdep per host driver; a pinned function by its address only" \
	/etc/modprobe.d/vfio-hook.conf "# Bind these ids to vfio-pci at boot, before any host driver can take them.
options vfio-pci ids=10de:1e84,10de:1ad8
softdep nouveau pre: vfio-pci
softdep nvidia pre: vfio-pci
softdep xhci_pci pre: vfio-pci
# These functions by their address (an identical card the host keeps has their ids): to vfio-pci before their driver loads.
install snd_hda_intel /sbin/modprobe vfio-pci; echo vfio-pci >/sys/bus/pci/devices/0000:09:00.1/driver_override; echo 0000:09:00.1 >/sys/bus/pci/drivers_probe; exec /sbin/modprobe --ignore-install snd_hda_intel \$CMDLINE_OPTS"
check "early = yes: the initramfs and reboot left" "wrote $root/etc/modules-load.d/vfio-hook.conf
wrote $root/etc/modprobe.d/vfio-hook.conf
wrote $root/etc/default/grub.d/vfio-hook.cfg
wrote $root/var/lib/vfio-hook/setup.manifest
Left to do:
  update-grub
  update-initramfs -u
  reboot" "$out"
# Two identical cards (10de:1c03 at 0a:00.0 and 0b:00.0): the second one pinned by address. Its
# ids in ids= would give vfio-pci the host's own card at boot too.
mkmap "[host]" "early = yes" "[pci second]" "device = 0000:0b:00.0" "device = 0000:0b:00.1" "[vm a]" "pci = second"
"$here/fakesys" two-gpus -- sh -c "$SESSION" early "$bin" setup --root "$root" >"$work/stdout" 2>"$work/stderr"
check "early = yes, the second of two identical GPUs pinned: exit 0" "0 " "$? $(cat "$work/stderr")"
file "early = yes, the second of two identical GPUs pinned: no ids=, each of its drivers loaded after it is vfio-pci's" \
	/etc/modprobe.d/vfio-hook.conf "# These functions by their address (an identical card the host keeps has their ids): to vfio-pci before their driver loads.
install nouveau /sbin/modprobe vfio-pci; echo vfio-pci >/sys/bus/pci/devices/0000:0b:00.0/driver_override; echo 0000:0b:00.0 >/sys/bus/pci/drivers_probe; exec /sbin/modprobe --ignore-install nouveau \$CMDLINE_OPTS
install nvidia /sbin/modprobe vfio-pci; echo vfio-pci >/sys/bus/pci/devices/0000:0b:00.0/driver_override; echo 0000:0b:00.0 >/sys/bus/pci/drivers_probe; exec /sbin/modprobe --ignore-install nvidia \$CMDLINE_OPTS
install snd_hda_intel /sbin/modprobe vfio-pci; echo vfio-pci >/sys/bus/pci/devices/0000:0b:00.1/driver_override; echo 0000:0b:00.1 >/sys/bus/pci/drivers_probe; exec /sbin/modprobe --ignore-install snd_hda_intel \$CMDLINE_OPTS"
mkmap "[host]" "early = yes" "[vm a]" "pci = 0000:42:00.0"
"$here/fakesys" desktop -- "$bin" setup --root "$root" >"$work/stdout" 2>"$work/stderr"
check "early = yes, an address not on this machine: exit 2" 2 "$?"
check "early = yes, an address not on this machine: the line and the fix" \
	"$map:4: early = yes cannot bind 0000:42:00.0 at boot: it is not on this machine (fix the address, or remove it)" \
	"$(cat "$work/stderr")"

## The states of a root, of a crash or of a second run that could break a promise
# (a root whose accounts are alice, bob and carol, group kvm with carol, an Intel CPU: mkroot_intel)

## A directory of the root that is a symlink is not followed out of --root. An image's
## /etc/security/limits.d (or /etc/udev/rules.d, or /etc itself) that is an absolute symlink
## means a path inside the image; resolved on the machine setup runs on, it would have setup
## write (and --undo remove) files outside DIR: with a symlink to /etc/..., this machine's /etc.
## (hook/setup.c write_atomic(), mkdir_parents(), remove_file(): O_NOFOLLOW covers only the last
## component of a path.)
mkroot_intel
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

## setup's reads have a deadline. A FIFO (or a stalled network file) at any path setup reads in
## the root, its own file, the manifest, /etc/passwd, /proc/cpuinfo, would block a plain open(2)
## forever: even --dry-run and --undo would hang. (hook/setup.c read_at(), hook/accounts.c
## find_line(), hook/hostconf.c cpu_vendor_params(): util.c read_file() is a blocking fopen()
## with no deadline and no regular-file check.)
for where in /etc/modules-load.d/vfio-hook.conf /var/lib/vfio-hook/setup.manifest /etc/passwd /proc/cpuinfo; do
	mkroot_intel
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

## A crash between a file and the manifest: what setup writes is recorded before the write. Were
## every file written first and the manifest last, after a SIGKILL there (a) --undo would say "no
## file of vfio-hook setup is left" and leave the files it wrote; (b) a re-run would find alice
## already in group kvm and not record her, so --undo would never take her out again, and
## /etc/gshadow, never edited, would disagree with /etc/group; (c) once the map changed, the file
## it wrote would be "not written by vfio-hook setup" for good. (hook/setup.c setup_run(),
## plan_manifest(): apply() runs the steps in order.)
if [ -n "$have_strace" ]; then
	mkroot_intel
	mkmap "$DESKTOP"
	crash 3 --root "$root" # killed making the udev rule visible: the modules-load.d file is there
	setup --undo --root "$root"
	if [ -e "$root/etc/modules-load.d/vfio-hook.conf" ]; then
		not_ok "crash_before_manifest_undo_removes_what_was_written: modules-load.d file removed" "undo said: $out"
	else ok "crash_before_manifest_undo_removes_what_was_written: modules-load.d file removed"; fi

	mkroot_intel
	mkmap "$DESKTOP"
	crash 6 --root "$root" # killed making the gshadow edit visible: /etc/group has alice
	setup --root "$root"
	check "crash_after_group_edit: the re-run completes, exit 0" 0 "$rc"
	check "crash_after_group_edit: gshadow's kvm members as group's" "carol,alice" \
		"$(sed -n 's/^kvm:[^:]*:[^:]*:\(.*\)$/\1/p' "$root/etc/gshadow")"
	setup --undo --root "$root"
	check "crash_after_group_edit: --undo takes alice out of kvm again (setup added her)" "kvm:x:992:carol" \
		"$(grep '^kvm:' "$root/etc/group")"

	mkroot_intel
	mkmap "$DESKTOP"
	crash 4 --root "$root" # killed making the limits.d file visible: the udev rule is there
	mkmap "[host]" "users = alice bob" "memlock = unlimited" "iommu = intel"
	setup --root "$root"
	check "crash_then_map_changed: the file setup wrote is not foreign, exit 0" 0 "$rc"
	check "crash_then_map_changed: nothing on stderr" "" "$err"
else
	skip "crash_before_manifest" "needs strace to kill setup between two steps"
fi

## Two setup runs at once (an image build script and the admin, a package's postinst and a retry)
## are serialised. Unserialised, both using the same FILE.vfio-hook-tmp, one run would unlink the
## other's temporary file and fail, and its rollback would remove the files the other run wrote
## and recorded: the run that exited 0 would leave the host half-configured, its manifest listing
## files that are gone. Here run A is slowed (strace delays its 2nd rename 1.5 s) and run B runs
## whole in between. (hook/setup.c setup_run(), write_atomic().)
if [ -n "$have_strace" ]; then
	mkroot_intel
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

## On Fedora/RHEL (a root with /boot/grub2, which setup itself recognises: it tells to run
## grub2-mkconfig) the IOMMU parameters reach the kernel. Their grub2-mkconfig (rhboot/grub2
## util/grub-mkconfig.in) sources /etc/default/grub only; the /etc/default/grub.d/*.cfg drop-in
## is a Debian/Ubuntu patch (Arch's grub-mkconfig lacks it too), and with BLS entries the options
## live in /boot/loader/entries/*.conf (grubby). Writing grub.d/vfio-hook.cfg there and printing
## "grub2-mkconfig", every re-run would say "nothing to do" while intel_iommu=on is never on the
## command line. Expected: the grubby command (as for systemd-boot and kernelstub), or a change
## the generator reads. (hook/hostconf.c want_grub().)
mkroot_intel
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

## --root / (or --root //, or "$DIR/" with DIR empty in a script) is this machine, and is refused
## under VFIO_HOOK_TEST, whose whole point is that a test cannot touch the machine ("without
## --root there is nothing to write to"): with the root stripped to "", setup would write /etc
## and run usermod/gpasswd. Shown with --dry-run, which writes nothing (strace confirms it).
## (hook/setup.c check_root(), setup_run().)
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

## A kvm line of /etc/group without its fourth field ("kvm:x:992", as a hand edit or a minimal
## image leaves it) is edited, or refused naming /etc/group: left unedited, setup would still say
## "added alice to group kvm", record her in the manifest and exit 0, and say it again on every
## re-run. (hook/accounts.c edit_line(), accounts_edit_members().)
mkroot_intel
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

## The map's path cannot break out of the header comment of the files setup writes, nor of the
## manifest. Printed raw, a directory name with a newline (sudo vfio-hook setup -c on a map in a
## directory another user named) would write a udev rule line that makes every USB device
## world-writable, a line of shell that grub-mkconfig runs as root when it sources
## grub.d/vfio-hook.cfg, and a manifest setup itself then calls damaged. (hook/hostconf.c
## header(), hook/setup.c manifest_text().)
mkroot_intel
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

## A damaged manifest line that still starts like one of setup's ("member kvm alice bob", two
## records run together) is reported, not taken as "alice": the next run would rewrite the
## manifest without bob, whom setup added, so --undo would never take him out of kvm again: an
## unreadable record silently rewritten. The same for "file SHA PATH trailing-words".
## (hook/setup.c manifest_read(): sscanf() ignores whatever follows the last field.)
mkroot_intel
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
