#!/bin/sh
# The manual pages: man(1) formats both without a warning, and they document what the program has.
# sources: main config config-keys
# Every command of --help and every option it parses (man/vfio-hook.8), every section and key
# the map's parser names in its messages (man/vfio-hook.ini.5), and the version it is.
# Environment: VFIO_HOOK_BIN (default: the tree's hook/vfio-hook).
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib/tap.sh"
bin=${VFIO_HOOK_BIN:-$top/hook/vfio-hook}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LC_ALL=C MANWIDTH=80

if ! command -v man >/dev/null || ! command -v groff >/dev/null; then
	skip "manual pages" "man-db and groff-base are not installed (apt-get install man-db)"
	tap_done
	exit
fi

# render PAGE: plain text, wide, unhyphenated, so each heading is one line to look for
render() { groff -man -Tascii -P-cbou -rLL=250n -rHY=0 "$1" 2>&1; }

version=$(sed -n 's/^VERSION *:= *//p' "$top/Makefile")
for page in vfio-hook.8 vfio-hook.ini.5; do
	f=$top/man/$page
	check "$page: man --warnings is silent" "" "$(man --warnings -l "$f" 2>&1 >/dev/null)"
	check "$page: .TH names version $version" "vfio-hook $version" \
		"$(sed -n 's/^\.TH [^ ]* [0-9] [^ ]* "\([^"]*\)".*/\1/p' "$f")"
done

# Program page: each command heads an entry under COMMANDS; each option appears as a word.
render "$top/man/vfio-hook.8" | sed -n '/^COMMANDS/,/^OPTIONS/p' >"$work/commands"
render "$top/man/vfio-hook.8" >"$work/page8"
"$bin" --help >"$work/help"
cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z-][a-z-]*\) .*/\1/p' "$work/help" | sort -u)
check "--help lists commands" yes "$([ -n "$cmds" ] && echo yes)"
missing=""
for c in $cmds; do
	grep -Eq "^ {7}$c( |$)" "$work/commands" || missing="$missing $c"
done
check "vfio-hook.8: every command of --help has its entry under COMMANDS" "" "$missing"
# The options main.c parses ("config-only" is --config after swap, rewritten before parsing).
longs=$(sed -n 's/^[[:space:]]*{ "\([a-z-]*\)", [a-z_]*_argument,.*/\1/p' "$top/hook/main.c" | grep -vx config-only)
shorts=$(sed -n 's/.*getopt_long(argc, argv, "\([^"]*\)".*/\1/p' "$top/hook/main.c" | tr -d ':' | sed 's/./& /g')
check "main.c's options found" yes "$([ -n "$longs" ] && [ -n "$shorts" ] && echo yes)"
missing=""
for o in $longs; do grep -Eq -- "(^|[^a-z-])--$o([^a-z-]|$)" "$work/page8" || missing="$missing --$o"; done
for o in $shorts; do grep -Eq -- "(^|[^a-z-])-$o([^a-z-]|$)" "$work/page8" || missing="$missing -$o"; done
check "vfio-hook.8: every option main.c parses is documented" "" "$missing"

# Map page: each section the parser names is a subsection, each key it names heads an entry.
render "$top/man/vfio-hook.ini.5" >"$work/page5"
sections=$(grep -ho 'sections are [^)]*' "$top"/hook/*.c | grep -o '\[[a-z]*' | tr -d '[' | sort -u)
# Messages split over adjacent string literals are joined first.
keys=$(cat "$top"/hook/*.c | tr '\n' ' ' | sed 's/"[[:space:]]*"//g' | grep -o 'valid keys: [a-z, -]*' |
	sed 's/valid keys: //; s/,/ /g' | tr ' ' '\n' | sort -u)
check "config.c's sections and keys found" yes "$([ -n "$sections" ] && [ -n "$keys" ] && echo yes)"
keys="$keys $(grep -ho 'the only key here is [a-z]*' "$top"/hook/*.c | sed 's/.* //' | sort -u)"
missing=""
for s in $sections; do grep -Eq "^ {3}\[$s( |\])" "$work/page5" || missing="$missing [$s]"; done
check "vfio-hook.ini.5: every section has its subsection" "" "$missing"
missing=""
for k in $keys; do grep -Eq "^ {7}$k = " "$work/page5" || missing="$missing $k"; done
check "vfio-hook.ini.5: every key heads its entry" "" "$missing"

# The maps the documentation shows parse: the README's translation of the NixOS example, and
# the example map with its commented [host] section turned on. Until the parser knows [host],
# the [host] lines are left out.
host_known=$(grep -q 'sections are[^)]*\[host' "$top"/hook/*.c && echo yes)
awk '/^## Coming from the NixOS module/ { f = 1 } f && /^```ini/ { g = 1; next } g && /^```/ { exit } g' \
	"$top/README.md" >"$work/nixos.ini"
sed 's/^;\(\[host\]\|users  \|memlock\|iommu  \|early  \)/\1/' "$top/etc/vfio-hook.ini" >"$work/host.ini"
for m in nixos host; do
	[ -n "$host_known" ] || sed -i '/^\[host\]/,/^$/d; /^\(users\|memlock\|iommu\|early\) /d' "$work/$m.ini"
	chmod 644 "$work/$m.ini"
done
check "README's NixOS example has its [vm win10]" "win10" "$("$bin" -c "$work/nixos.ini" config --names vm 2>&1)"
check "README's NixOS example: its [usb] sections" "$(printf 'logitech-receiver\nvarmilo-keyboard')" \
	"$("$bin" -c "$work/nixos.ini" config --names usb 2>&1)"
check "example map with [host] turned on parses" "$(printf 'win10\nlinux')" "$("$bin" -c "$work/host.ini" config --names vm 2>&1)"
check "example map: [host] is really there to turn on" 5 "$(grep -c '^;\(\[host\]\|users   =\|memlock =\|iommu   =\|early   =\)' "$top/etc/vfio-hook.ini")"

# The test fails when it should: a page that lacks a command, or makes man warn.
sed '/^\.TP$/{N;/\\fBswap\\fR/d}' "$top/man/vfio-hook.8" >"$work/noswap.8"
case $(render "$work/noswap.8" | sed -n '/^COMMANDS/,/^OPTIONS/p') in
*"       swap "*) not_ok "a page without swap's entry is caught" ;;
*) ok "a page without swap's entry is caught" ;;
esac
printf '.TH X 8\n.SH NAME\nx \\- y\n.BOGUS\n' >"$work/bad.8"
check "a page with an unknown macro makes man warn" yes \
	"$([ -n "$(man --warnings -l "$work/bad.8" 2>&1 >/dev/null)" ] && echo yes)"

tap_done
