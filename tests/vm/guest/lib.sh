# Helpers for the scenarios that run inside the test guest.
# shellcheck shell=sh
VM_LIB=/usr/local/lib/vfio-hook-vm
export LIBVIRT_DEFAULT_URI=qemu:///system

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $(printf '%s' "$2" | tr '\n' '|')"; }
info() { echo "INFO $*"; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }

# wait_for SECONDS CMD...: runs CMD every 0.2 s until it succeeds (status 0) or SECONDS have
# passed (status 1): a wait on the condition itself, with a deadline, instead of a fixed sleep.
wait_for() {
	wf_end=$(( $(date +%s) + $1 )); shift
	while :; do
		"$@" && return 0
		[ "$(date +%s)" -lt "$wf_end" ] || return 1
		sleep 0.2
	done
}
# now_s: seconds since the guest booted (for the figures: the wall clock may be stepped).
now_s() { cut -d' ' -f1 /proc/uptime; }

# clock_past T: the wall clock has reached second T. proc_started PID: when PID started (whole
# seconds of the wall clock, from its start in clock ticks after the boot time).
clock_past() { [ "$(date +%s)" -ge "$1" ]; }
proc_started() {
	echo $(( $(awk '/^btime/ {print $2}' /proc/stat) + $(cut -d')' -f2 "/proc/$1/stat" | awk '{print $20}') / $(getconf CLK_TCK) ))
}
libvirtd_answers() { virsh version >/dev/null 2>&1; }
wait_libvirtd() { wait_for "$1" libvirtd_answers; } # SECONDS

driver_of() { # ADDR -> driver name or "none"
	if [ -e "/sys/bus/pci/devices/$1/driver" ]; then basename "$(readlink "/sys/bus/pci/devices/$1/driver")"
	else echo none; fi
}
group_of() { basename "$(readlink "/sys/bus/pci/devices/$1/iommu_group")"; }
override_of() { cat "/sys/bus/pci/devices/$1/driver_override"; }
group_size() { ls "/sys/kernel/iommu_groups/$(group_of "$1")/devices" | wc -l; }

# Does the host driver of ADDR really work again? Prints why not, returns non-zero.
host_driver_works() {
	d=/sys/bus/pci/devices/$1
	case $(driver_of "$1") in
	bochs-drm)
		card=$(ls "$d/drm" 2>/dev/null | grep '^card' | head -n1)
		[ -n "$card" ] && [ -e "/dev/dri/$card" ] || { echo "bochs-drm bound but no DRM card node"; return 1; } ;;
	e1000e)
		ifc=$(ls "$d/net" 2>/dev/null | head -n1)
		[ -n "$ifc" ] || { echo "e1000e bound but no network interface"; return 1; }
		ip link set "$ifc" up || { echo "cannot bring $ifc up"; return 1; }
		ip link show "$ifc" | grep -q '<.*UP.*>' || { echo "$ifc does not come up"; return 1; } ;;
	snd_hda_intel)
		ls "$d/sound" 2>/dev/null | grep -q '^card' || { echo "snd_hda_intel bound but no sound card"; return 1; } ;;
	none) echo "no driver bound"; return 1 ;;
	*) echo "unexpected driver $(driver_of "$1")"; return 1 ;;
	esac
}

# define_l2 NAME OS [MANAGED ADDR...]: OS is "none" (boots nothing, starts in seconds, never
# acknowledges hot-unplug) or "linux" (the guest's kernel with a busybox init that answers
# PCI hot-unplug; takes a minute or two to boot under TCG-in-TCG: see the pool below). MANAGED
# is yes or no.
define_l2() {
	name=$1 os=$2; shift 2
	xml=/tmp/$name.xml
	{
		echo "<domain type='qemu'><name>$name</name><memory unit='MiB'>${L2_MEMORY_MIB:-96}</memory><vcpu>1</vcpu>"
		# L2_XML: more of the domain, after <vcpu> (<cputune>, <memoryBacking>).
		echo "${L2_XML:-}"
		echo "<os><type arch='x86_64' machine='q35'>hvm</type>"
		if [ "$os" = linux ]; then
			# The uncompressed kernel if the image has it (build-root.sh): a boot several times faster.
			l2k=$VM_LIB/l2/vmlinux; [ -e "$l2k" ] || l2k=$VM_LIB/l2/vmlinuz
			echo "<kernel>$l2k</kernel><initrd>$VM_LIB/l2/initrd</initrd>"
			# mitigations=off: see run.sh (the L2 under TCG in TCG pays the TLB flushes twice).
			echo "<cmdline>console=ttyS0 quiet panic=-1 mitigations=off</cmdline>"
		else
			echo "<boot dev='network'/>"
		fi
		echo "</os><features><acpi/></features><on_reboot>destroy</on_reboot><devices>"
		echo "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
		echo "<serial type='file'><source path='/tmp/$name.console'/></serial>"
		echo "<memballoon model='none'/>"
		# Free PCIe ports: hot-plug (give-back, swap) needs an empty slot. L2_SLOTS=none: no
		# slot that takes a hot-plug (no USB controller, and the ports libvirt would add for
		# anything else made hotplug='off'), so libvirt refuses any hot-plug into the domain.
		echo "<controller type='pci' index='0' model='pcie-root'/>"
		if [ "${L2_SLOTS:-free}" != none ]; then
			for i in 1 2 3 4 5 6; do echo "<controller type='pci' index='$i' model='pcie-root-port'/>"; done
			# The GPU's audio function is conventional PCI: it needs a PCI slot to be hot-plugged into.
			echo "<controller type='pci' index='7' model='pcie-to-pci-bridge'/>"
		else
			echo "<controller type='usb' model='none'/>"
			for i in 1 2; do echo "<controller type='pci' index='$i' model='pcie-root-port'><target hotplug='off'/></controller>"; done
		fi
		managed=${1:-no}; [ $# -gt 0 ] && shift
		for a in "$@"; do
			bus=${a#*:}; slot=${bus#*:}
			echo "<hostdev mode='subsystem' type='pci' managed='$managed'><source>"
			echo "<address domain='0x${a%%:*}' bus='0x${bus%%:*}' slot='0x${slot%%.*}' function='0x${a##*.}'/>"
			echo "</source></hostdev>"
		done
		echo "</devices></domain>"
	} >"$xml"
	# A deadline, as on every virsh: a libvirtd that hangs makes a line, not a run that never ends.
	timeout 60 virsh define "$xml" >/dev/null 2>/tmp/define.err || info "define_l2 $name (status $?): $(tr "\n" " " </tmp/define.err)"
}

# Queries about a domain wait for its object lock, which libvirt holds while that domain's hook
# runs: a deadline each, so a hook hung in the kernel makes a FAIL, not a hung run.
domstate() { timeout 30 virsh domstate "$1" 2>/dev/null | head -n1; }

# wait_l2_up NAME SECONDS: a Linux L2 has booted to its init (seen once: l2_ready marks it; a
# restore from its saved state may start its console file afresh).
l2_up() { [ -e "/tmp/$1.up" ] || grep -q L2-UP "/tmp/$1.console" 2>/dev/null; }
wait_l2_up() { wait_for "$2" l2_up "$1"; }

# The hook's own log lines (syslog) since MARK was set with log_mark: busybox syslogd's file,
# or the journal when systemd is PID 1 (journald owns /dev/log there).
if [ -d /run/systemd/system ]; then
	log_mark() { timeout 30 journalctl --show-cursor -n 1 -q -o cat 2>/dev/null | sed -n 's/^-- cursor: //p' >/tmp/log.mark; }
	log_since_mark() { timeout 30 journalctl --sync 2>/dev/null; timeout 30 journalctl -q --no-pager -o short --after-cursor="$(cat /tmp/log.mark)"; }
else
	log_mark() { wc -l </var/log/messages >/tmp/log.mark 2>/dev/null || echo 0 >/tmp/log.mark; }
	log_since_mark() { tail -n +"$(($(cat /tmp/log.mark) + 1))" /var/log/messages; }
fi

# write_map LINE...: the device map the installed hook reads (/etc/vfio-hook.ini).
write_map() {
	printf '%s\n' "$@" >/etc/vfio-hook.ini
	chmod 644 /etc/vfio-hook.ini
}
GPU_FUNCS="0000:01:00.0 0000:01:00.1"
# gpu_state: "DRIVER/OVERRIDE DRIVER/OVERRIDE" of the GPU-like device's two functions.
gpu_state() { echo "$(driver_of 0000:01:00.0)/$(override_of 0000:01:00.0) $(driver_of 0000:01:00.1)/$(override_of 0000:01:00.1)"; }
HOST_GPU="bochs-drm/(null) snd_hda_intel/(null)"
VFIO_GPU="vfio-pci/vfio-pci vfio-pci/vfio-pci"
# The hook's ownership ledger: one line per function it moved ("func ADDR owner=NAME ...") and
# per function a VM took from another ("took ADDR owner=NAME from=NAME ..."); NAME is
# percent-encoded where it has spaces or unusual bytes.
LEDGER=/run/vfio-hook/ledger
# records: how many VMs own something in the ledger.
records() { awk '$1 == "func" || $1 == "took" { for (i = 3; i <= NF; i++) if ($i ~ /^owner=/) print $i }' "$LEDGER" 2>/dev/null | sort -u | wc -l; }
# doctor_has NAME LINE: vfio-hook doctor printed exactly LINE (its output in /tmp/doctor.out,
# shown when it did not).
doctor_has() {
	grep -Fqx -- "$2" /tmp/doctor.out && pass "$1" || { fail "$1" "no line '$2'"; sed 's/^/INFO doctor: /' /tmp/doctor.out; }
}
# doctor_iommu_off TAG: vfio-hook doctor on a machine without IOMMU groups (its output in
# /tmp/doctor.out, the IOMMU lines shown): no groups, and doctor exits 1.
doctor_iommu_off() {
	vfio-hook doctor >/tmp/doctor.out 2>&1
	di_rc=$?
	grep -E '^(PASS|WARN|FAIL)  .*(IOMMU|iommu|DMAR)' /tmp/doctor.out | sed 's/^/INFO doctor: /'
	expect "$1: the machine has no IOMMU groups" 0 "$(ls /sys/kernel/iommu_groups | wc -l)"
	expect "$1: exits 1" 1 "$di_rc"
}
# The host's display on the GPU-like device (the systemd and ovmf profiles: fakedm, as
# display-manager.service, holds /dev/dri/card0). fbcon_vtcon: the vtconsole fbcon draws on.
fbcon_vtcon() { for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "$v/name" && echo "$v"; done | tail -n1; }
# fbcon_bound: the vtconsoles fbcon is bound on now; vtcons: all of them, for a failure's detail.
fbcon_bound() { for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "$v/name" 2>/dev/null && [ "$(cat "$v/bind")" = 1 ] && echo "${v##*/}"; done; }
vtcons() { for v in /sys/class/vtconsole/vtcon*; do echo "$v: $(cat "$v/name") bind=$(cat "$v/bind")"; done; }
dm_pid() { systemctl show -p MainPID --value display-manager.service; }
# gpu_fb ADDR: the framebuffer (fbN) whose device is the PCI function ADDR.
gpu_fb() { for f in /sys/class/graphics/fb*; do [ "$(basename "$(readlink -f "$f/device")")" = "$1" ] && echo "${f##*/}"; done | head -n1; }
# holds_card PID: the process has /dev/dri/card0 open.
holds_card() { ls -l /proc/"$1"/fd 2>/dev/null | grep -q ' -> /dev/dri/card0$'; }
dm_holds() { ls -l /proc/"$(dm_pid)"/fd 2>/dev/null | grep -c ' -> /dev/dri/card0$'; }
# display_back NAME VTCON: the host's display as it was: bochs-drm, fbcon bound on VTCON,
# /dev/fb0, the unit active holding card0 (given a few seconds to open it again).
display_back() {
	i=0
	while [ $i -lt 20 ] && [ "$(dm_holds)" != 1 ]; do sleep 0.5; i=$((i + 1)); done
	expect "$1: GPU back on its host drivers" "$HOST_GPU" "$(gpu_state)"
	expect "$1: fbcon bound on ${2##*/} again" 1 "$(cat "$2/bind" 2>/dev/null)"
	expect "$1: /dev/fb0 present" yes "$([ -c /dev/fb0 ] && echo yes)"
	expect "$1: display-manager.service active, holding card0" "active 1" "$(systemctl is-active display-manager.service) $(dm_holds)"
}
# ledger_lines VM: the ledger's lines owned by VM (owner= decoded before comparing).
ledger_lines() {
	awk -v vm="$1" '
	function hex(h) { return index("0123456789abcdef", tolower(substr(h, 1, 1))) * 16 + index("0123456789abcdef", tolower(substr(h, 2, 1))) - 17 }
	function unesc(s,   o, i) {
		o = ""
		while ((i = index(s, "%")) > 0 && i + 2 <= length(s)) { o = o substr(s, 1, i - 1) sprintf("%c", hex(substr(s, i + 1, 2))); s = substr(s, i + 3) }
		return o s
	}
	$1 != "func" && $1 != "took" { next }
	{ for (f = 3; f <= NF; f++) if (substr($f, 1, 6) == "owner=" && unesc(substr($f, 7)) == vm) { print; next } }
	' "$LEDGER" 2>/dev/null
}
# host_works NAME ADDR...: a PASS/FAIL line per function for "its host driver works".
host_works() {
	n=$1; shift
	for a in "$@"; do
		why=$(host_driver_works "$a") && pass "$n: host driver of $a works" || fail "$n: host driver of $a works" "$why"
	done
}

# hostdevs NAME [--inactive]: how many PCI hostdevs the domain has (live, or its definition).
hostdevs() { timeout 30 virsh dumpxml "$@" 2>/dev/null | grep -c "<hostdev mode='subsystem' type='pci'"; }
# usb_hostdevs NAME: how many USB hostdevs the running domain has.
usb_hostdevs() { timeout 30 virsh dumpxml "$1" 2>/dev/null | grep -c "<hostdev mode='subsystem' type='usb'"; }
# record_lines VM PATTERN: how many of the ledger's lines owned by VM match PATTERN.
record_lines() { ledger_lines "$1" | grep -c "$2"; }
# wait_state NAME STATE SECONDS
state_is() { [ "$(domstate "$1")" = "$2" ]; }
wait_state() { wait_for "$3" state_is "$1" "$2"; }
# in_time NAME SECONDS RC: after `within SECONDS … ; RC=$?`, PASS if the command ended (whatever
# its status), FAIL if it had to be left behind.
in_time() {
	if [ "$3" = 124 ]; then fail "$1 within $2 s" "still running after $WITHIN_S s (left behind)"
	else pass "$1 within $2 s ($WITHIN_S s, exit $3)"; fi
}
# alive PID: the process has not ended (a zombie has).
alive() { [ -d "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# within SECONDS OUT CMD...: runs CMD (stdout and stderr to OUT) and gives it at most SECONDS.
# Returns CMD's exit status, or 124 if it had not ended; WITHIN_S is the time it took. A
# process blocked in the kernel ignores even SIGKILL and waiting for it would hang the whole run
# (that is what timeout(1) does), so one that overruns is killed and left behind, not waited for.
within() {
	w_t0=$(date +%s) w_out=$2
	w_end=$((w_t0 + $1)); shift 2
	"$@" >"$w_out" 2>&1 &
	w_pid=$!
	while alive "$w_pid"; do
		if [ "$(date +%s)" -ge "$w_end" ]; then
			WITHIN_S=$(( $(date +%s) - w_t0 ))
			kill -9 "$w_pid" 2>/dev/null
			return 124
		fi
		sleep 0.2
	done
	wait "$w_pid"
	w_rc=$?
	WITHIN_S=$(( $(date +%s) - w_t0 ))
	return "$w_rc"
}

# The NVMe controller's PCI address (the first function of class 0x010802).
nvme_addr() {
	for d in /sys/bus/pci/devices/*; do
		[ "$(cat "$d/class")" = 0x010802 ] && { echo "${d##*/}"; return 0; }
	done
	return 1
}
# nvme_disk ADDR SECONDS: the /dev node of the namespace under the NVMe at ADDR, once the
# driver has scanned it (asynchronously, after the probe).
nvme_disk() {
	i=0
	while [ "$i" -lt "$(($2 * 5))" ]; do
		for b in /sys/block/nvme*; do
			case $(readlink -f "$b") in */"$1"/*) [ -e "/dev/${b##*/}" ] && { echo "/dev/${b##*/}"; return 0; } ;; esac
		done
		sleep 0.2; i=$((i + 1))
	done
	return 1
}

# cleanup NAME...: destroyed and undefined, whatever state they are in.
cleanup() { for d in "$@"; do timeout 60 virsh destroy "$d" >/dev/null 2>&1; timeout 30 virsh undefine "$d" >/dev/null 2>&1; done; }

# --- The Linux L2s, shared ---------------------------------------------------------------
# A Linux L2 takes 90-110 s to boot under TCG-in-TCG (minutes on a busy machine), so a guest
# boot whose scenarios say "# vm-needs: linux-l2" boots two, "la" and "lb", once (names no other
# scenario uses for its own VMs): the guest's init
# starts them in the background as soon as libvirtd answers (l2_pool_start), and the scenarios
# share them. Between scenarios each is in a known state: running, booted (L2-UP on its
# console), with no PCI hostdev, owning nothing in the ledger. A scenario waits for the ones it
# uses with l2_ready, gives one devices with l2_give (vfio-hook swap: the hook moves them to
# vfio-pci, hot-plugs them and makes the L2 their owner, as its start would have), and leaves it
# as it found it with l2_reset (a live unplug the L2 acknowledges, then vfio-hook restore gives
# back what it owned). One that ends switched off (evict = shutdown) is booted again by the next
# l2_ready that needs it.
L2_POOL="la lb"
l2_boot() { # NAME: defined with no hostdev and started; not waited for (/tmp/NAME.starting while virsh start runs)
	touch "/tmp/$1.starting"
	rm -f "/tmp/$1.console" "/tmp/$1.up"
	define_l2 "$1" linux no
	date +%s >"/tmp/$1.t0"
	timeout 300 virsh start "$1" >"/tmp/$1.start" 2>&1 || info "L2 $1: virsh start failed: $(tr '\n' ' ' <"/tmp/$1.start")"
	rm -f "/tmp/$1.starting"
}
l2_started() { [ ! -e "/tmp/$1.starting" ]; }
# l2_pool_start: both started in the background (l2_ready waits for that start first).
l2_pool_start() {
	for n in $L2_POOL; do touch "/tmp/$n.starting"; done
	for n in $L2_POOL; do l2_boot "$n" & done
}
# l2_boot_s NAME: seconds from its start to L2-UP (or until now, if not up yet).
l2_boot_s() {
	t1=$(stat -c %Y "/tmp/$1.up" 2>/dev/null || date +%s)
	echo $(( t1 - $(cat "/tmp/$1.t0" 2>/dev/null || date +%s) ))
}
# l2_ready NAME...: each running, booted and in the known state; waits for its boot (at most
# L2_BOOT_S, default 900 s). Says why not (FAIL, naming the scenario) and returns 1 if one is not.
l2_ready() {
	lr_rc=0
	for n in "$@"; do
		# The background start (l2_pool_start) first, if it is still on.
		wait_for 330 l2_started "$n"
		if ! state_is "$n" running; then
			info "L2 $n is $(domstate "$n"): booting it again"
			l2_boot "$n"
		fi
		if ! wait_l2_up "$n" "${L2_BOOT_S:-900}"; then
			fail "$VM_SCENARIO: the Linux L2 $n boots" "no L2-UP within ${L2_BOOT_S:-900} s ($(domstate "$n")): $(tail -c 300 "/tmp/$n.console" 2>&1 | tr -cd '[:print:]\n')"
			lr_rc=1; continue
		fi
		[ -e "/tmp/$n.up" ] || { touch -r "/tmp/$n.console" "/tmp/$n.up"; info "L2 $n booted in $(l2_boot_s "$n") s"; }
		if [ "$(hostdevs "$n")" != 0 ] || [ -n "$(ledger_lines "$n")" ]; then
			info "L2 $n was not left as found: $(hostdevs "$n") hostdevs, ledger: $(ledger_lines "$n" | tr '\n' ';')"
			l2_reset "$n" || { fail "$VM_SCENARIO: the Linux L2 $n in its known state" "$(hostdevs "$n") hostdevs, ledger: $(ledger_lines "$n" | tr '\n' ';')"; lr_rc=1; }
		fi
	done
	return $lr_rc
}
# l2_give NAME DEVICE: DEVICE (a [pci] name of the map, an id or an address) into the running
# L2 NAME with vfio-hook swap; its output in /tmp/give.out. Returns swap's status.
l2_give() {
	within 300 /tmp/give.out vfio-hook swap "$1" "$2"; lg_rc=$?
	[ $lg_rc = 0 ] || info "l2_give $1 $2: exit $lg_rc: $(tr '\n' ' ' </tmp/give.out)"
	return $lg_rc
}
# l2_reset NAME...: back to the known state: every PCI hostdev unplugged live (the L2
# acknowledges) and what the ledger says it owns given back (vfio-hook restore). What it took
# from another VM (a swap between the two) stays in the ledger while it runs, for its release:
# then it is stopped and started again as libvirt and the hook see it, without booting Linux
# again (virsh managedsave, then virsh start restores the saved state), under a map that gives
# nothing back. A shut-off one is left for l2_ready. Returns 1 if one is not in the known state.
l2_reset() {
	lx_rc=0
	for n in "$@"; do
		state_is "$n" running || continue
		for alias in $(timeout 30 virsh dumpxml "$n" 2>/dev/null | awk '/<hostdev mode=.subsystem. type=.pci./ {h = 1} h && /<alias name=/ {sub(/.*<alias name=./, ""); sub(/[^a-z0-9].*/, ""); print; h = 0}'); do
			timeout 60 virsh detach-device-alias "$n" "$alias" --live >/tmp/reset.out 2>&1 || info "l2_reset $n: detach $alias: $(tr '\n' ' ' </tmp/reset.out)"
		done
		no_hostdevs() { [ "$(hostdevs "$1")" = 0 ]; }
		wait_for 60 no_hostdevs "$n" || { info "l2_reset $n: still $(hostdevs "$n") hostdevs after 60 s"; lx_rc=1; }
		if [ -n "$(ledger_lines "$n")" ]; then
			within 120 /tmp/reset.out vfio-hook restore "$n" || info "l2_reset $n: restore: $(tr '\n' ' ' </tmp/reset.out)"
		fi
		if [ -n "$(ledger_lines "$n")" ] || [ -n "$(took_from "$n")" ]; then
			info "l2_reset $n: the ledger still says: $(ledger_lines "$n" | tr '\n' ';') $(took_from "$n" | tr '\n' ';'); stopping and starting it"
			cp /etc/vfio-hook.ini /tmp/reset.ini 2>/dev/null
			write_map "[options]" "giveback = no"
			within 300 /tmp/reset.out virsh managedsave "$n" || info "l2_reset $n: managedsave: $(tr '\n' ' ' </tmp/reset.out)"
			within 300 /tmp/reset.out virsh start "$n" || info "l2_reset $n: start: $(tr '\n' ' ' </tmp/reset.out)"
			cp /tmp/reset.ini /etc/vfio-hook.ini 2>/dev/null
			state_is "$n" running || lx_rc=1
		fi
		[ -z "$(ledger_lines "$n")" ] && [ -z "$(took_from "$n")" ] || lx_rc=1
	done
	return $lx_rc
}
# took_from NAME: the ledger's lines of what another VM took from NAME.
took_from() { awk -v vm="$1" '$1 == "took" { for (i = 3; i <= NF; i++) if ($i == "from=" vm) print }' "$LEDGER" 2>/dev/null; }

# vm_reboot: reboots the guest; the guest's init runs this scenario again after the reboot with
# VM_RESUMED=1 (its second stage), then the ones after it. Only in a boot profile that lets the
# guest reboot (run.sh: a scenario with a "# vm-reboot: yes" line). Never returns.
vm_reboot() {
	echo "$VM_SCENARIO $VM_T0" >/var/lib/vfio-hook-vm/resume
	sync
	info "$VM_SCENARIO: rebooting the guest"
	# systemctl asks logind first, which this guest has not (no D-Bus), then systemd itself.
	if [ -d /run/systemd/system ]; then systemctl reboot 2>/dev/null; else busybox reboot -f; fi
	sleep 600
	fail "$VM_SCENARIO: the guest reboots" "still running 600 s after the reboot request"
	exit 1
}
