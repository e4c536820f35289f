#!/bin/sh
# The command line itself: an argument too many, an unknown command, --version and --help.
# sources: main
# The map's own errors are in tests/map.sh, discovery and groups in tests/groups.sh, the hook's
# argv in tests/hook.sh, what an ordinary user sees in tests/as-user.sh.
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
case "$out" in *"groups [--json]"*) ok "--help lists groups" ;; *) not_ok "--help lists groups" "$out" ;; esac

# Five words whose second is an operation libvirt passes are the hook's call only with libvirt's
# SUBOP (begin, end or -) third: --check of a VM named like an operation is the command line.
cp maps/example.ini maps/start.ini
printf '[vm start]\npci = nvidia-rtx-2070-super\n' >>maps/start.ini
printf "<domain><name>start</name></domain>\n" >start.xml
run desktop -c maps/start.ini --check start --xml start.xml
check "--check of a VM named start, with --xml: the command line, not the hook" "0 start: 4 PCI functions" "$rc $(echo "$out" | head -n1)"

tap_done
