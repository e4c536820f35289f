#!/bin/sh
# The command line itself: an argument too many, an unknown command, --version and --help, and
# each slip a newcomer makes, answered in one line with what to type instead, and which argv is
# libvirt's hook call and which the command line.
# sources: main hook
# The map's own errors are in tests/map.sh, discovery and groups in tests/groups.sh, the hook's
# calls in tests/hook.sh, what an ordinary user sees in tests/as-user.sh.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/cli-env.sh"

run desktop groups extra
check "unexpected argument: exit 2" 2 "$rc"
run desktop frobnicate
check "unknown command: exit 2" 2 "$rc"
check "unknown command: message" 'vfio-hook: unknown command "frobnicate" (see vfio-hook --help)' "$err"
run desktop --version
check "--version" "vfio-hook 0.1.0" "$out"
run desktop --help
case "$out" in *"groups [GROUP|ADDRESS] [--gpu] [--json]"*) ok "--help lists groups" ;; *) not_ok "--help lists groups" "$out" ;; esac
case "$out" in *"map GROUP|ADDRESS|VM... [--add VM]"*) ok "--help lists map" ;; *) not_ok "--help lists map" "$out" ;; esac

## the slips: one line each, saying what to type instead, and exit 2
# slip NAME EXPECTED-LINE ARGS...: the line on stderr, nothing on stdout. The command line is
# refused before anything is looked at, so no fixture machine is needed (and none is touched).
slip() {
	n=$1 e=$2; shift 2
	"$bin" "$@" >"$work/stdout" 2>"$work/stderr" </dev/null
	rc=$?
	out=$(cat "$work/stdout"); err=$(cat "$work/stderr")
	check "$n" "$(printf 'vfio-hook: %s\nrc=2' "$e")" "$(printf '%s\nrc=%s%s' "$err" "$rc" "${out:+ stdout: $out}")"
}
slip "an option's value left out: one line, how it is written" \
	"--names needs a value: vfio-hook config --names vm|pci|usb (see vfio-hook --help)" config --names
slip "--check without its VM" "--check needs a value: vfio-hook --check VM (see vfio-hook --help)" --check
slip "--check whose VM is left out before --xml: not the VM \"--xml\"" \
	"--check needs a value: vfio-hook --check VM (see vfio-hook --help)" --check --xml win10.xml
slip "-c without its file" "-c needs a value: vfio-hook -c FILE COMMAND (see vfio-hook --help)" groups -c
slip "map --add without its VM" "--add needs a value: vfio-hook map GROUP|ADDRESS|VM --add VM (see vfio-hook --help)" map 24 --add
slip "check for --check" "unknown command \"check\": did you mean vfio-hook --check win10? (see vfio-hook --help)" check win10
slip "check for --check, a VM name with a space quoted" \
	"unknown command \"check\": did you mean vfio-hook --check 'Windows 10'? (see vfio-hook --help)" check "Windows 10"
slip "help for --help" "unknown command \"help\": did you mean vfio-hook --help? (see vfio-hook --help)" help
slip "a command mistyped: the closest" "unknown command \"group\": did you mean vfio-hook groups? (see vfio-hook --help)" group
slip "status --json: refused, not ignored" "status: --json is only for groups and doctor (see vfio-hook --help)" status --json
slip "doctor --force: refused, not ignored" \
	"doctor: --force is only for swap: vfio-hook swap --force VM DEVICE (see vfio-hook --help)" doctor --force
slip "config --json" "config: --json is only for groups and doctor (see vfio-hook --help)" config --json
slip "--check VM --json" "--check: --json is only for groups and doctor (see vfio-hook --help)" --check win10 --json
slip "groups --all" "groups: --all is only for restore: vfio-hook restore --all (see vfio-hook --help)" groups --all
slip "an option without a command" "--names is only for config: vfio-hook config --names vm|pci|usb (see vfio-hook --help)" --names vm
slip "an unknown long option, named" "unknown option \"--frobnicate\" (see vfio-hook --help)" groups --frobnicate
slip "an unknown short option, named" "unknown option -q (see vfio-hook --help)" groups -q
slip "groups with two groups" "groups: unexpected argument \"26\" (see vfio-hook --help)" groups 24 26
slip "map with nothing to map" \
	"map: name what to map: an IOMMU group, a PCI address or id, or a VM (vfio-hook map GROUP|ADDRESS|VM [--add VM])" map

# Five words whose second is an operation libvirt passes are the hook's call only with libvirt's
# SUBOP (begin, end or -) third: --check of a VM named like an operation is the command line.
cp maps/example.ini maps/start.ini
printf '[vm start]\npci = nvidia-rtx-2070-super\n' >>maps/start.ini
printf "<domain><name>start</name></domain>\n" >start.xml
run desktop -c maps/start.ini --check start --xml start.xml
check "--check of a VM named start, with --xml: the command line, not the hook" "0 start: 4 PCI functions" "$rc $(echo "$out" | head -n1)"

# The hook's call is exactly libvirt's four words, EXTRA "-" or a shut-off reason: an option
# anywhere makes it the command line, which says what is wrong, never a hook that waits for stdin.
unknown_dev() { echo "vfio-hook: unknown device \"$1\": not a [pci] name in maps/example.ini, nor a vendor:device id or an address (see 'vfio-hook groups')"; }
run desktop swap start end -cmaps/example.ini
check "swap start end -cMAP: the command line (swap), not the hook" "2 $(unknown_dev end)" "$rc $err"
run desktop swap start - -cmaps/example.ini
check "swap start - -cMAP: the command line (swap), not the hook" "2 $(unknown_dev -)" "$rc $err"
mkfifo "$work/never"; sleep 30 >"$work/never" & never=$!
out=$(timeout 10 "$here/fakesys" desktop -- "$bin" swap start end -cmaps/example.ini <"$work/never" 2>&1); rc=$?
kill "$never"
check "swap start end -cMAP with a stdin that never ends: answers at once" "2 $(unknown_dev end)" "$rc $out"
run desktop -cmaps/example.ini prepare begin -
check "an option first, four words: the command line" "2 vfio-hook: unknown command \"prepare\" (see vfio-hook --help)" "$rc $err"
run desktop win10 prepare begin whatever
check "an EXTRA libvirt never passes, not by the hook's name: the command line" "2 vfio-hook: unknown command \"win10\" (see vfio-hook --help)" "$rc $err"
# libvirt's own words: EXTRA a shut-off reason; a domain named like an option when called by the hook's name.
ln -s "$bin" "$work/qemu"
for args in "nosuchvm release end destroyed" "nosuchvm release end failed" "nosuchvm stopped end -" "-x release end -"; do
	# shellcheck disable=SC2086
	out=$(VFIO_HOOK_CONFIG=maps/example.ini "$here/fakesys" desktop -- "$work/qemu" $args </dev/null 2>&1); rc=$?
	check "hook qemu $args: the hook (exit 0, silent)" "0 " "$rc $out"
done
out=$(VFIO_HOOK_CONFIG=maps/example.ini "$here/fakesys" desktop -- "$bin" -x release end - </dev/null 2>&1); rc=$?
check "vfio-hook -x release end -, not by the hook's name: the command line" "2" "$rc"

tap_done
