#!/bin/bash
# Bash completion (etc/bash-completion/vfio-hook) as bash runs it, for a line typed at the prompt.
# sources: main config config-keys
# COMP_WORDS and COMP_CWORD set as for that line, the function called, COMPREPLY compared. The
# names come from the built program's "config --names" on fixture maps: the one -c/--config
# names on the line being completed, else $VFIO_HOOK_CONFIG.
# Environment (from tests/run-tests.sh): VFIO_HOOK_BIN.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
bin=${VFIO_HOOK_BIN:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cp "$here/../etc/vfio-hook.ini" "$work/example.ini"
cat >"$work/other.ini" <<'EOF'
[pci other-gpu]
device = 1002:687f
[usb other-mouse]
device = 1532:0084
[vm other-vm]
pci = other-gpu
[vm other-2]
pci = 0000:03:00.0
EOF
printf '[vm broken]\npci = nothing-here\n' >"$work/broken.ini"
chmod 644 "$work"/*.ini
mkdir "$work/files" "$work/files/dir"
: >"$work/files/domain.xml"
export VFIO_HOOK_CONFIG=$work/example.ini

# shellcheck source=../etc/bash-completion/vfio-hook
. "$here/../etc/bash-completion/vfio-hook"

# comp WORD... : completes the last WORD (bash's split of the line, '=' a word of its own)
comp() {
	COMP_WORDS=("$bin" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="${COMP_WORDS[*]}"
	COMP_POINT=${#COMP_LINE}
	_vfio_hook 2>"$work/stderr"
	printf '%s\n' "${COMPREPLY[*]-}"
}
# expect NAME EXPECTED WORD...
expect() {
	name=$1 want=$2; shift 2
	check "$name" "$want" "$(comp "$@")"
}

## the command behind it
out=$("$bin" -c "$work/example.ini" config --names vm); check "config --names vm: exit 0" 0 $?
check "config --names vm: the [vm] names in map order" "$(printf 'win10\nlinux')" "$out"
check "config --names pci" "$(printf 'nvidia-rtx-2070-super\nintel-m1-drive')" "$("$bin" config --names pci)"
check "config --names usb" "$(printf 'logitech-receiver\nvarmilo-keyboard')" "$("$bin" config --names usb)"
err=$("$bin" config --names gpu 2>&1); rc=$?
check "config --names gpu: exit 2" 2 "$rc"
check "config --names gpu: says what it takes" 'vfio-hook: config: --names takes vm, pci or usb, not "gpu"' "$err"
err=$("$bin" groups --names vm 2>&1); rc=$?
check "--names with groups: exit 2" 2 "$rc"
check "--names with groups: message" 'vfio-hook: groups: --names is only for config: vfio-hook config --names vm|pci|usb (see vfio-hook --help)' "$err"
out=$("$bin" -c "$work/broken.ini" config --names vm 2>"$work/err"); rc=$?
check "a map the program refuses: exit 2" 2 "$rc"
check "a map the program refuses: no names" "" "$out"
check "a map the program refuses: its FILE:LINE line" \
	"$work/broken.ini:2: [vm broken] uses \"nothing-here\" but there is no [pci nothing-here] (define it, or fix the name)" \
	"$(cat "$work/err")"

## commands and options
expect "first word: every command" "groups map config doctor status restore swap usb add remove setup" ""
expect "first word, prefix s" "status swap setup" s
expect "first word, a dash: global options" "-c --config --check -h --help -V --version" -
expect "groups options" "--gpu --json" groups -
expect "map options" "--add" map 24 -
expect "map --add: VM names" "win10 linux" map 24 --add ""
expect "map: the map's VMs (groups and addresses are groups' to list)" "win10 linux" map ""
expect "doctor options" "--json" doctor --
expect "config options" "--names" config -
expect "config --names kinds" "vm pci usb" config --names ""
expect "swap options" "--force --config" swap -
expect "setup options" "--dry-run --root --undo" setup -
expect "usb: add or remove" "add remove" usb ""
expect "--check VM: then --xml" "--xml" --check win10 -
expect "nothing after status" "" status ""
help_cmds=$("$bin" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' | sort -u)
offered=$(comp "" | tr ' ' '\n')
missing=$(printf '%s\n' "$help_cmds" | while read -r c; do printf '%s\n' "$offered" | grep -qx -- "$c" || echo "$c"; done)
check "every command of --help is completed" "" "$missing"

## names from the map in VFIO_HOOK_CONFIG
expect "--check: VM names" "win10 linux" --check ""
expect "--check w: win10" "win10" --check w
expect "restore: VM names" "win10 linux" restore ""
expect "restore --all: nothing more" "" restore --all ""
expect "restore VM: nothing more" "" restore win10 ""
expect "swap: VM names" "win10 linux" swap ""
expect "swap VM: [pci] names" "nvidia-rtx-2070-super intel-m1-drive" swap win10 ""
expect "swap --force VM i: [pci] names with i" "intel-m1-drive" swap --force win10 i
expect "swap --config: --config is swap's flag, VM names follow" "win10 linux" swap --config ""
expect "swap VM DEVICE: nothing more" "" swap win10 intel-m1-drive ""
expect "usb add: VM names" "win10 linux" usb add ""
expect "usb add VM: [usb] names" "logitech-receiver varmilo-keyboard" usb add win10 ""
expect "usb remove VM v: [usb] names with v" "varmilo-keyboard" usb remove linux v
expect "add (usb add): VM names" "win10 linux" add ""
expect "remove VM (usb remove): [usb] names" "logitech-receiver varmilo-keyboard" remove win10 ""
expect "add VM DEVICE: nothing more" "" add win10 logitech-receiver ""

## the map the line names
expect "-c FILE: its VM names" "other-vm other-2" -c "$work/other.ini" swap ""
expect "-c FILE: its [pci] names" "other-gpu" -c "$work/other.ini" swap other-vm ""
expect "--config FILE: its [usb] names" "other-mouse" --config "$work/other.ini" usb add other-vm ""
expect "--config=FILE: its VM names" "other-vm other-2" --config = "$work/other.ini" restore ""
expect "-cFILE: its VM names" "other-vm other-2" "-c$work/other.ini" --check ""
# shellcheck disable=SC2088
HOME=$work expect "-c ~/FILE as typed: its VM names" "other-vm other-2" -c '~/other.ini' restore ""
expect "swap --config after swap is not the map" "win10 linux" swap --config ""
expect "-c after swap still names the map" "other-vm other-2" swap -c "$work/other.ini" --config ""
expect "a map the program refuses: no names" "" -c "$work/broken.ini" swap ""
check "a map the program refuses: nothing on the terminal" "" "$(cat "$work/stderr")"
expect "a map that does not exist: no names" "" -c "$work/none.ini" restore ""
check "a map that does not exist: nothing on the terminal" "" "$(cat "$work/stderr")"

# Completing "sudo vfio-hook": the word is the bare name, which this user's PATH may lack.
mkdir "$work/sbin" && ln -s "$bin" "$work/sbin/vfio-hook"
check "bare name on PATH: VM names" "win10 linux" \
	"$(PATH=$work/sbin:$PATH; COMP_WORDS=(vfio-hook restore ''); COMP_CWORD=2; _vfio_hook; echo "${COMPREPLY[*]}")"
if PATH=/usr/local/sbin:/usr/sbin:/sbin command -v vfio-hook >/dev/null; then
	skip "no program to ask: no names" "vfio-hook is installed on this machine"
else
	# shellcheck disable=SC2123
	check "no program to ask: no names, nothing on the terminal" "" \
		"$(PATH=/nonexistent; COMP_WORDS=(vfio-hook restore ''); COMP_CWORD=2; _vfio_hook 2>&1; echo "${COMPREPLY[*]}")"
fi

## files
cd "$work/files" || exit 1
expect "-c: files" "dir domain.xml" -c ""
expect "--xml d: files and directories" "dir domain.xml" --check win10 --xml d
expect "--xml=: files" "dir domain.xml" --check win10 --xml = ""
expect "setup --root: directories" "dir" setup --root ""
expect "swap --config takes no file" "win10 linux" -c "$work/example.ini" swap --config ""

tap_done
