#!/bin/sh
# make vm-check's plan (tests/vm/run.sh, VFIO_HOOK_VM_PLAN=1): every scenario in each boot it names, once, whatever the lanes; budgets; bad settings refused.
# Nothing is fetched, built or booted: the plan is made before any of that.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
. tests/lib/tap.sh
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
export VFIO_HOOK_VM_CACHE="$w/cache"
plan() { env VFIO_HOOK_VM_PLAN=1 "$@" bash tests/vm/run.sh; }
header() { sed -n "s/^# $2: *//p" "$1" | head -n1; }

# What the scenarios' headers say, read here on their own: "PROFILE SCENARIO" for each boot
# profile a scenario names (none: default), and each scenario's allowance (default 60).
for s in tests/vm/guest/scenarios/*.sh; do
	n=$(basename "$s" .sh) b=$(header "$s" vm-boot)
	for p in ${b:-default}; do echo "$p $n"; done
done | sort >"$w/want"

pairs() { # PLAN-FILE: "PROFILE SCENARIO" for each scenario of each boot
	while read -r id prof budget list; do
		for n in $(echo "$list" | tr ',' ' '); do echo "$prof $n"; done
	done <"$1" | sort
}

plan VFIO_HOOK_VM_JOBS=1 >"$w/p1" 2>&1
check "one at a time: a boot per profile, in run.sh's order" "default noiommu novtd systemd ovmf" "$(cut -d' ' -f1 "$w/p1" | tr '\n' ' ' | sed 's/ $//')"
check "one at a time: each scenario in each profile its header names, once" "$(cat "$w/want")" "$(pairs "$w/p1")"
# default's budget: its base (240 s), every allowance, the Linux L2s' boot (300 s), times 2.
sum=0
for s in tests/vm/guest/scenarios/*.sh; do
	[ -z "$(header "$s" vm-boot)" ] || continue
	t=$(header "$s" vm-time); sum=$((sum + ${t:-60}))
done
check "one at a time: default's budget is (240 + its allowances + 300) x 2" "$(( (240 + sum + 300) * 2 ))" "$(awk '$1 == "default" {print $3}' "$w/p1")"
check "VFIO_HOOK_VM_TIMEOUT=3x: budgets times 3" "$(( (240 + sum + 300) * 3 ))" "$(plan VFIO_HOOK_VM_JOBS=1 VFIO_HOOK_VM_TIMEOUT=3x | awk '$1 == "default" {print $3}')"
check "VFIO_HOOK_VM_TIMEOUT=900: every boot 900 s" "900 900 900 900 900" "$(plan VFIO_HOOK_VM_JOBS=1 VFIO_HOOK_VM_TIMEOUT=900 | awk '{print $3}' | tr '\n' ' ' | sed 's/ $//')"

for j in 2 3 4; do
	plan VFIO_HOOK_VM_JOBS=$j >"$w/p$j" 2>&1
	check "$j at a time: each scenario in each profile its header names, once" "$(cat "$w/want")" "$(pairs "$w/p$j")"
	check "$j at a time: default is split into shards" yes "$([ "$(grep -c '^default\.' "$w/p$j")" -ge 2 ] && echo yes)"
	# The scenarios that share the Linux L2s in one boot, which alone gets the L2s' allowance.
	l2=$(for s in tests/vm/guest/scenarios/*.sh; do case $(header "$s" vm-needs) in *linux-l2*) basename "$s" .sh ;; esac; done)
	boots=$(for n in $l2; do grep -E "[ ,]$n(,|\$)" "$w/p$j" | cut -d' ' -f1; done | sort -u)
	check "$j at a time: the Linux L2s' scenarios share one boot" 1 "$(echo "$boots" | grep -c .)"
	# Each boot's command line holds its list: far below the kernel's 2048 bytes.
	check "$j at a time: every boot's scenario list under 1000 bytes" "" "$(awk 'length($4) >= 1000 {print $1}' "$w/p$j")"
done

# Bad settings: refused with a line naming them, before anything is fetched.
refused() { # NAME PATTERN SETTING...
	name=$1 pat=$2; shift 2
	out=$(plan "$@" 2>&1); rc=$?
	if [ $rc -ne 0 ] && echo "$out" | grep -q "^FAIL vm-check: .*$pat" && [ "$(echo "$out" | tail -n1)" = "0 passed, 1 failed" ]; then ok "$name"
	else not_ok "$name" "status $rc: $out"; fi
}
refused "a scenario list with a typo is refused, naming it" "'nosuch' names no scenario" VFIO_HOOK_VM_SCENARIOS=swap,nosuch
refused "a list that names nothing is refused" "matches no scenario" VFIO_HOOK_VM_SCENARIOS=,,
refused "VFIO_HOOK_VM_TIMEOUT=0 (no deadline at all) is refused" "at least 1" VFIO_HOOK_VM_TIMEOUT=0
refused "VFIO_HOOK_VM_TIMEOUT=0.0001x is refused" "at least 1" VFIO_HOOK_VM_TIMEOUT=0.0001x
refused "VFIO_HOOK_VM_TIMEOUT=soon is refused" "give a factor" VFIO_HOOK_VM_TIMEOUT=soon
for j in 0 9 x; do refused "VFIO_HOOK_VM_JOBS=$j is refused" "VFIO_HOOK_VM_JOBS=$j" VFIO_HOOK_VM_JOBS=$j; done
check "a subset: swap's number may be left out, and only its boot is planned" "default default 18-swap" \
	"$(plan VFIO_HOOK_VM_JOBS=1 VFIO_HOOK_VM_SCENARIOS=swap | cut -d' ' -f1,2,4)"
check "the plan fetched and built nothing" no "$([ -e "$w/cache" ] && echo yes || echo no)"
tap_done
