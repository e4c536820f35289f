#!/bin/sh
# make install / make uninstall. Installs the program, hooks it into libvirt without ever
# overwriting a foreign hook, installs the example map (its [vm] sections commented out) only
# where none exists, and records
# what it created so uninstall removes exactly that. The manual pages, the bash completion and
# the example map as it is go under DATADIR (MANDIR, BASHCOMPDIR, DATADIR/doc/vfio-hook). The
# program is also "vfio", the name the NixOS module it grew out of gave its commands, unless
# another program has that name. HOOK=no installs the program, its pages, completion and example
# only, for a system whose configuration installs the hook and the map itself (NixOS's module)
# and whose package manager removes what it installed.
#   scripts/install.sh install|uninstall   (SBINDIR, HOOKDIR, SYSCONFDIR, DATADIR, MANDIR,
#                                           BASHCOMPDIR, DESTDIR, HOOK from make)
set -eu
action=${1:?install or uninstall}
: "${SBINDIR:?}" "${HOOKDIR:?}" "${SYSCONFDIR:?}" "${DATADIR:?}"
DESTDIR=${DESTDIR:-}
MANDIR=${MANDIR:-$DATADIR/man}
BASHCOMPDIR=${BASHCOMPDIR:-$DATADIR/bash-completion/completions}
HOOK=${HOOK:-yes}
case $HOOK in yes | no) ;; *) echo "vfio-hook install: HOOK=$HOOK: give yes or no" >&2; exit 2 ;; esac
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$SBINDIR/vfio-hook
alias=$SBINDIR/vfio
hook=$HOOKDIR/qemu
hookd=$HOOKDIR/qemu.d/vfio-hook
map=$SYSCONFDIR/vfio-hook.ini
manifest=$DATADIR/vfio-hook/installed
say() { echo "vfio-hook install: $*"; }

# Is PATH (inside DESTDIR) a link this install makes: to this program ($bin), or an alias's
# "vfio-hook" beside it? A link to another vfio-hook (another prefix, another install) is not.
is_ours() { [ -L "$DESTDIR$1" ] && { [ "$(readlink "$DESTDIR$1")" = "$bin" ] || [ "$(readlink "$DESTDIR$1")" = vfio-hook ]; }; }
# Is nothing at PATH (inside DESTDIR), or our link?
free_or_ours() { { [ ! -e "$DESTDIR$1" ] && [ ! -L "$DESTDIR$1" ]; } || is_ours "$1"; }

# LINK -> vfio-hook beside it (relative: DESTDIR is the packager's), unless another program is there.
link_alias() {
	if free_or_ours "$1"; then
		ln -sfn vfio-hook "$DESTDIR$1"
		echo "link $1" >>"$new"
	else
		say "$1 is not vfio-hook's, left as it is (vfio-hook takes the same commands)"
	fi
}

mkdirs() { # records each directory it creates (under DESTDIR: DESTDIR itself is the packager's)
	d=$1; missing=""
	while [ "$d" != / ] && [ "$d" != . ] && [ ! -d "$DESTDIR$d" ]; do missing="$d $missing"; d=$(dirname "$d"); done
	for d in $missing; do mkdir -m 755 "$DESTDIR$d"; echo "dir $d" >>"$new"; done
}

# The map as installed: the example with its [vm] sections commented out. A VM of the same name
# (win10 is virt-manager's default) must not have its devices moved before the user says so.
starter_map() {
	awk 'BEGIN { print "; Installed by make install from the example: every [vm] section is commented out, so this map"
		print "; changes nothing until you write your own (remove the \";\" in front of one, and adapt it)."
		print ";" }
	/^\[/ { vm = /^\[vm[ \t]/ }
	{ print (vm && $0 != "" && $0 !~ /^;/ ? ";" $0 : $0) }' "$top/etc/vfio-hook.ini"
}

install_all() {
	new=$(mktemp)
	trap 'rm -f "$new"' EXIT
	# A packager's DESTDIR (dpkg, rpm, Nix) need not exist yet.
	[ -z "$DESTDIR" ] || mkdir -p "$DESTDIR"
	mkdirs "$SBINDIR"
	install -m 755 "$top/hook/vfio-hook" "$DESTDIR$bin"
	echo "file $bin" >>"$new"
	link_alias "$alias"
	for page in vfio-hook.8 vfio-hook.ini.5; do
		mkdirs "$MANDIR/man${page##*.}"
		install -m 644 "$top/man/$page" "$DESTDIR$MANDIR/man${page##*.}/$page"
		echo "file $MANDIR/man${page##*.}/$page" >>"$new"
	done
	mkdirs "$BASHCOMPDIR"
	install -m 644 "$top/etc/bash-completion/vfio-hook" "$DESTDIR$BASHCOMPDIR/vfio-hook"
	echo "file $BASHCOMPDIR/vfio-hook" >>"$new"
	# The example as it is, where the program's "no map" line points (EXAMPLE_MAP, Makefile).
	mkdirs "$DATADIR/doc/vfio-hook/examples"
	install -m 644 "$top/etc/vfio-hook.ini" "$DESTDIR$DATADIR/doc/vfio-hook/examples/vfio-hook.ini"
	echo "file $DATADIR/doc/vfio-hook/examples/vfio-hook.ini" >>"$new"
	# bash-completion loads a command's completion by the command's name.
	link_alias "$BASHCOMPDIR/vfio"
	if [ "$HOOK" = no ]; then
		say "HOOK=no: the hook and the map are left to the system's configuration"
		return 0
	fi

	mkdirs "$SYSCONFDIR"
	if free_or_ours "$hook"; then
		mkdirs "$HOOKDIR"
		ln -sfn "$bin" "$DESTDIR$hook"
		echo "link $hook" >>"$new"
		say "$hook -> $bin"
	else
		mkdirs "$HOOKDIR/qemu.d"
		ln -sfn "$bin" "$DESTDIR$hookd"
		echo "link $hookd" >>"$new"
		say "$hook is another program, left as it is; installed $hookd instead (libvirt runs it after $hook)"
	fi

	if [ -e "$DESTDIR$map" ]; then
		say "$map exists, left as it is (the example is $top/etc/vfio-hook.ini)"
	else
		starter_map >"$DESTDIR$map"
		chmod 644 "$DESTDIR$map"
		echo "map $map" >>"$new"
		say "installed the example map $map with its [vm] sections commented out: nothing changes until you give a VM its devices there"
	fi
	# A reinstall keeps what the first install created, so uninstall still finds it.
	mkdirs "$(dirname "$manifest")"
	[ -f "$DESTDIR$manifest" ] && cat "$DESTDIR$manifest" >>"$new"
	sort -u "$new" >"$DESTDIR$manifest"
	say "libvirt finds hooks when it starts: run 'systemctl restart libvirtd' (or virtqemud on modular daemons)"
}

uninstall_all() {
	[ -f "$DESTDIR$manifest" ] || { say "nothing to uninstall: no $manifest"; return 0; }
	# Files first, then directories, deepest first.
	while read -r kind path; do
		case $kind in
		file) rm -f "$DESTDIR$path" ;;
		link) if is_ours "$path"; then rm -f "$DESTDIR$path"; else say "$path is no longer ours, left as it is"; fi ;;
		map) if starter_map | cmp -s "$DESTDIR$path" -; then rm -f "$DESTDIR$path"
		     else say "$path was edited, left as it is (remove it by hand if you no longer need it)"; fi ;;
		esac
	done <"$DESTDIR$manifest"
	dirs=$(grep '^dir ' "$DESTDIR$manifest" | cut -d' ' -f2- | sort -r)
	rm -f "$DESTDIR$manifest"
	for path in $dirs; do rmdir "$DESTDIR$path" 2>/dev/null || true; done
	say "removed; restart libvirtd (or virtqemud) so it forgets the hook"
}

case $action in
install) install_all ;;
uninstall) uninstall_all ;;
*) echo "usage: $0 install|uninstall" >&2; exit 2 ;;
esac
