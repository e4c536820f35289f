#!/bin/sh
# make install / uninstall into a DESTDIR, as a packager or a user runs them.
# sources: (none: run-tests.sh --changed runs it for scripts/install.sh and etc/)
# The hook goes where libvirt runs it, a foreign hook is never overwritten, an existing map is
# kept, and uninstall removes exactly what install added.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib/tap.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

inst() { make -s -C "$top" "$1" DESTDIR="$2" PREFIX=/usr/local >"$work/log" 2>&1; }
tree() { (cd "$1" && find . | LC_ALL=C sort); }

# 1. fresh system: hook is a link to the program, example map installed
d=$work/fresh
mkdir -p "$d"
inst install "$d"; check "fresh: install succeeds" 0 $?
check "fresh: program installed" yes "$([ -x "$d/usr/local/sbin/vfio-hook" ] && echo yes)"
check "fresh: hook links to the program" /usr/local/sbin/vfio-hook "$(readlink "$d/etc/libvirt/hooks/qemu")"
# The example with its [vm] sections commented out: an existing VM named win10 (virt-manager's
# default) must not have its devices moved before the user writes their own [vm].
check "fresh: example map installed with every [vm] section commented out" \
	"$(sed -n 's/^\[vm /;[vm /p' "$top/etc/vfio-hook.ini")" "$(grep '^;\[vm ' "$d/etc/vfio-hook.ini")"
check "fresh: the installed map gives no VM anything" "" \
	"$(VFIO_HOOK_TEST= "$top/hook/vfio-hook" -c "$d/etc/vfio-hook.ini" config --names vm 2>&1)"
check "fresh: with those lines uncommented (and its three opening lines gone) it is the example" \
	"$(cat "$top/etc/vfio-hook.ini")" "$(sed '1,3d; s/^;\(\[vm \|pci \|usb \|evict \)/\1/' "$d/etc/vfio-hook.ini")"
check "fresh: map mode 644" 644 "$(stat -c %a "$d/etc/vfio-hook.ini")"
check "fresh: the example as it is, beside the documentation (where the line for a missing map points)" yes \
	"$(cmp -s "$d/usr/local/share/doc/vfio-hook/examples/vfio-hook.ini" "$top/etc/vfio-hook.ini" && echo yes)"
check "fresh: vfio-hook(8) installed" yes "$(cmp -s "$d/usr/local/share/man/man8/vfio-hook.8" "$top/man/vfio-hook.8" && echo yes)"
check "fresh: vfio-hook.ini(5) installed" yes "$(cmp -s "$d/usr/local/share/man/man5/vfio-hook.ini.5" "$top/man/vfio-hook.ini.5" && echo yes)"
check "fresh: bash completion installed" yes \
	"$(cmp -s "$d/usr/local/share/bash-completion/completions/vfio-hook" "$top/etc/bash-completion/vfio-hook" && echo yes)"
check "fresh: the program is also vfio, the NixOS module's name for it" vfio-hook "$(readlink "$d/usr/local/sbin/vfio")"
check "fresh: vfio completes as vfio-hook does" vfio-hook "$(readlink "$d/usr/local/share/bash-completion/completions/vfio")"
check "fresh: pages and completion mode 644" "644 644 644" "$(stat -c %a "$d/usr/local/share/man/man8/vfio-hook.8" \
	"$d/usr/local/share/man/man5/vfio-hook.ini.5" "$d/usr/local/share/bash-completion/completions/vfio-hook" | tr '\n' ' ' | sed 's/ $//')"
case $(cat "$work/log") in *"restart libvirtd"*) ok "fresh: says to restart libvirtd" ;; *) not_ok "fresh: says to restart libvirtd" "$(cat "$work/log")" ;; esac
inst install "$d"; check "fresh: reinstall keeps our hook in place" /usr/local/sbin/vfio-hook "$(readlink "$d/etc/libvirt/hooks/qemu")"
check "fresh: reinstall adds no qemu.d entry" no "$([ -e "$d/etc/libvirt/hooks/qemu.d" ] && echo yes || echo no)"
inst uninstall "$d"; check "fresh: uninstall succeeds" 0 $?
check "fresh: uninstall leaves nothing" "." "$(tree "$d")"

# 1b. PREFIX=/usr and a distribution's existing man and completion directories: they are kept
d=$work/usr
mkdir -p "$d/usr/share/man/man8" "$d/usr/share/bash-completion/completions"
: >"$d/usr/share/man/man8/virsh.1"
before=$(tree "$d")
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >"$work/log" 2>&1; check "PREFIX=/usr: install succeeds" 0 $?
check "PREFIX=/usr: vfio-hook(8) in /usr/share/man" yes "$([ -f "$d/usr/share/man/man8/vfio-hook.8" ] && echo yes)"
check "PREFIX=/usr: completion where bash-completion loads it" yes \
	"$([ -f "$d/usr/share/bash-completion/completions/vfio-hook" ] && echo yes)"
make -s -C "$top" uninstall DESTDIR="$d" PREFIX=/usr >"$work/log" 2>&1
check "PREFIX=/usr: uninstall keeps the directories it did not create" "$before" "$(tree "$d")"

# 2. another hook is there: it stays, we go to qemu.d; an existing map is kept
d=$work/foreign
mkdir -p "$d/etc/libvirt/hooks"
printf '#!/bin/sh\necho theirs\n' >"$d/etc/libvirt/hooks/qemu"; chmod 755 "$d/etc/libvirt/hooks/qemu"
printf '[vm mine]\npci = 09:00.0\n' >"$d/etc/vfio-hook.ini"
before=$(tree "$d")
inst install "$d"; check "foreign: install succeeds" 0 $?
check "foreign: their hook untouched" "$(printf '#!/bin/sh\necho theirs')" "$(cat "$d/etc/libvirt/hooks/qemu")"
check "foreign: we go to qemu.d" /usr/local/sbin/vfio-hook "$(readlink "$d/etc/libvirt/hooks/qemu.d/vfio-hook")"
case $(cat "$work/log") in *"qemu.d/vfio-hook instead"*) ok "foreign: install says so" ;; *) not_ok "foreign: install says so" "$(cat "$work/log")" ;; esac
check "foreign: existing map kept" "$(printf '[vm mine]\npci = 09:00.0')" "$(cat "$d/etc/vfio-hook.ini")"
inst uninstall "$d"
check "foreign: uninstall restores the tree exactly" "$before" "$(tree "$d")"

# 2a. another program called vfio: it stays, and uninstall leaves it
d=$work/vfio
mkdir -p "$d/usr/local/sbin"
printf '#!/bin/sh\necho theirs\n' >"$d/usr/local/sbin/vfio"; chmod 755 "$d/usr/local/sbin/vfio"
before=$(tree "$d")
inst install "$d"; check "another vfio: install succeeds" 0 $?
check "another vfio: theirs untouched" "$(printf '#!/bin/sh\necho theirs')" "$(cat "$d/usr/local/sbin/vfio")"
case $(cat "$work/log") in *"/usr/local/sbin/vfio is not vfio-hook's, left as it is"*) ok "another vfio: install says so" ;;
*) not_ok "another vfio: install says so" "$(cat "$work/log")" ;; esac
inst uninstall "$d"
check "another vfio: uninstall restores the tree exactly" "$before" "$(tree "$d")"
# ... also when theirs is a link to another vfio-hook (another prefix, another install)
d=$work/vfio-link
mkdir -p "$d/usr/local/sbin" "$d/opt/bin"
ln -s /opt/bin/vfio-hook "$d/usr/local/sbin/vfio"
inst install "$d"; check "a vfio linked to another vfio-hook: install succeeds" 0 $?
check "a vfio linked to another vfio-hook: left pointing there" /opt/bin/vfio-hook "$(readlink "$d/usr/local/sbin/vfio")"
inst uninstall "$d"
check "a vfio linked to another vfio-hook: uninstall leaves it" /opt/bin/vfio-hook "$(readlink "$d/usr/local/sbin/vfio")"

# 2b. HOOK=no, as the Nix package installs it: the program, its names, pages, completion and example,
# and nothing of the system's (no hook, no map, no record: the package manager removes it)
d=$work/nohook
make -s -C "$top" install PREFIX=/ SBINDIR=/bin HOOK=no DESTDIR="$d" >"$work/log" 2>&1
check "HOOK=no: install succeeds" 0 $?
check "HOOK=no: exactly the program, its names, pages, completion and example" "$(printf '%s\n' . ./bin ./bin/vfio ./bin/vfio-hook \
	./share ./share/bash-completion ./share/bash-completion/completions ./share/bash-completion/completions/vfio \
	./share/bash-completion/completions/vfio-hook ./share/doc ./share/doc/vfio-hook ./share/doc/vfio-hook/examples \
	./share/doc/vfio-hook/examples/vfio-hook.ini ./share/man ./share/man/man5 ./share/man/man5/vfio-hook.ini.5 \
	./share/man/man8 ./share/man/man8/vfio-hook.8)" "$(tree "$d")"
case $(cat "$work/log") in *"HOOK=no: the hook and the map are left to the system's configuration"*) ok "HOOK=no: says so" ;;
*) not_ok "HOOK=no: says so" "$(cat "$work/log")" ;; esac
make -s -C "$top" install PREFIX=/ HOOK=maybe DESTDIR="$d" >"$work/log" 2>&1
check "HOOK=maybe: refused" "2 vfio-hook install: HOOK=maybe: give yes or no" "$? $(head -n1 "$work/log")"

# 2c. a DESTDIR that does not exist yet, as dpkg, rpm and Nix builds give it
d=$work/pkg/not/yet
timeout 20 make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >"$work/log" 2>&1
check "DESTDIR not there yet: install succeeds, in time" 0 $?
check "DESTDIR not there yet: the program is there" yes "$([ -x "$d/usr/sbin/vfio-hook" ] && echo yes)"
timeout 20 make -s -C "$top" uninstall DESTDIR="$d" PREFIX=/usr >"$work/log" 2>&1
check "DESTDIR not there yet: uninstall leaves the directory itself, empty" "." "$(tree "$d")"

# 3. an edited map survives uninstall
d=$work/edited
mkdir -p "$d"
inst install "$d"
echo "; mine now" >>"$d/etc/vfio-hook.ini"
inst uninstall "$d"
check "edited: map kept on uninstall" yes "$([ -f "$d/etc/vfio-hook.ini" ] && echo yes)"
check "edited: hook removed" no "$([ -e "$d/etc/libvirt/hooks/qemu" ] && echo yes || echo no)"

# 4. a plain make (a user's, a packager's) only warns: a newer compiler's new warning must not
#    break it. make check (and so CI) builds every source with -Werror.
out=$(make -s -n -B -C "$top" hook/vfio-hook 2>&1)
check "make: each source compiled for the program" "$(ls "$top"/hook/*.c | wc -l | tr -d ' ')" \
	"$(printf '%s\n' "$out" | grep -c ' -c -o build/user/obj/')"
check "make: no source of the program compiled with -Werror" "" "$(printf '%s\n' "$out" | grep ' -c -o build/user/obj/' | grep -- -Werror)"
out=$(make -s -n -B -C "$top" build/plain/obj/main.o build/asan/obj/main.o build/plain/obj/test-config.o 2>&1)
check "make check: the test variants' sources compiled with -Werror" 3 "$(printf '%s\n' "$out" | grep -c -- ' -Werror .* -c -o build/')"

tap_done
