# shellcheck shell=sh
# Sourced by the setup and doctor suites after tap.sh: the program, a work directory removed on
# exit, the root directory setup writes into (--root) and doctor reads, the map, and the
# accounts every root starts with.
bin=$(cd "$(dirname "${VFIO_HOOK_BIN:?}")" && pwd)/$(basename "$VFIO_HOOK_BIN")
export VFIO_HOOK_TEST=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work" || exit 1
root=$work/root
map=$work/map.ini
export VFIO_HOOK_CONFIG="$map"

mkmap() { printf '%s\n' "$@" >"$map"; chmod 644 "$map"; }
mkaccounts() { # a new root: accounts alice, bob, carol; group kvm (carol)
	rm -rf "$root"
	mkdir -p "$root/etc" "$root/proc"
	printf 'root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\nbob:x:1001:1001::/home/bob:/bin/sh\ncarol:x:1002:1002::/home/carol:/bin/sh\n' \
		>"$root/etc/passwd"
	printf 'root:x:0:\nkvm:x:992:carol\nalice:x:1000:\nbob:x:1001:\ncarol:x:1002:\n' >"$root/etc/group"
	printf 'root:*::\nkvm:!::carol\n' >"$root/etc/gshadow"
	chmod 640 "$root/etc/gshadow"
}
mkroot_intel() { # a new root: those accounts, and an Intel CPU in its /proc/cpuinfo
	mkaccounts
	printf 'processor\t: 0\nvendor_id\t: GenuineIntel\n' >"$root/proc/cpuinfo"
}
