# Helpers for the scenarios that run inside the test guest.
# shellcheck shell=sh
VM_LIB=/usr/local/lib/vfio-hook-vm
export LIBVIRT_DEFAULT_URI=qemu:///system

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $(printf '%s' "$2" | tr '\n' '|')"; }
info() { echo "INFO $*"; }
# expect NAME WANT GOT
expect() { if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi; }

wait_libvirtd() { # SECONDS
	i=0
	while [ "$i" -lt "$1" ]; do
		virsh version >/dev/null 2>&1 && return 0
		sleep 1; i=$((i + 1))
	done
	return 1
}

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
# PCI hot-unplug; takes a minute or two to boot under TCG-in-TCG). MANAGED is yes or no.
define_l2() {
	name=$1 os=$2; shift 2
	xml=/tmp/$name.xml
	{
		echo "<domain type='qemu'><name>$name</name><memory unit='MiB'>${L2_MEMORY_MIB:-96}</memory><vcpu>1</vcpu>"
		echo "<os><type arch='x86_64' machine='q35'>hvm</type>"
		if [ "$os" = linux ]; then
			echo "<kernel>$VM_LIB/l2/vmlinuz</kernel><initrd>$VM_LIB/l2/initrd</initrd>"
			echo "<cmdline>console=ttyS0 quiet panic=-1</cmdline>"
		else
			echo "<boot dev='network'/>"
		fi
		echo "</os><features><acpi/></features><on_reboot>destroy</on_reboot><devices>"
		echo "<emulator>/usr/bin/qemu-system-x86_64</emulator>"
		echo "<serial type='file'><source path='/tmp/$name.console'/></serial>"
		echo "<memballoon model='none'/>"
		# Free PCIe ports: hot-plug (give-back, swap) needs an empty slot.
		echo "<controller type='pci' index='0' model='pcie-root'/>"
		for i in 1 2 3 4 5 6; do echo "<controller type='pci' index='$i' model='pcie-root-port'/>"; done
		# The GPU's audio function is conventional PCI: it needs a PCI slot to be hot-plugged into.
		echo "<controller type='pci' index='7' model='pcie-to-pci-bridge'/>"
		managed=${1:-no}; [ $# -gt 0 ] && shift
		for a in "$@"; do
			bus=${a#*:}; slot=${bus#*:}
			echo "<hostdev mode='subsystem' type='pci' managed='$managed'><source>"
			echo "<address domain='0x${a%%:*}' bus='0x${bus%%:*}' slot='0x${slot%%.*}' function='0x${a##*.}'/>"
			echo "</source></hostdev>"
		done
		echo "</devices></domain>"
	} >"$xml"
	virsh define "$xml" >/dev/null 2>/tmp/define.err || info "define_l2 $name: $(tr "\n" " " </tmp/define.err)"
}

# Queries about a domain wait for its object lock, which libvirt holds while that domain's hook
# runs: a deadline each, so a hook hung in the kernel makes a FAIL, not a hung run.
domstate() { timeout 30 virsh domstate "$1" 2>/dev/null | head -n1; }

# wait_l2_up NAME SECONDS: a Linux L2 has booted to its init.
wait_l2_up() {
	i=0
	while [ "$i" -lt "$2" ]; do
		grep -q L2-UP "/tmp/$1.console" 2>/dev/null && return 0
		sleep 1; i=$((i + 1))
	done
	return 1
}

# The hook's own log lines (syslog) since MARK was set with log_mark: busybox syslogd's file,
# or the journal when systemd is PID 1 (journald owns /dev/log there).
if [ -d /run/systemd/system ]; then
	log_mark() { journalctl --show-cursor -n 1 -q -o cat 2>/dev/null | sed -n 's/^-- cursor: //p' >/tmp/log.mark; }
	log_since_mark() { journalctl --sync 2>/dev/null; journalctl -q --no-pager -o short --after-cursor="$(cat /tmp/log.mark)"; }
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
# The host's display on the GPU-like device (the systemd and ovmf profiles: fakedm, as
# display-manager.service, holds /dev/dri/card0). fbcon_vtcon: the vtconsole fbcon draws on.
fbcon_vtcon() { for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "$v/name" && echo "$v"; done | tail -n1; }
# fbcon_bound: the vtconsoles fbcon is bound on now; vtcons: all of them, for a failure's detail.
fbcon_bound() { for v in /sys/class/vtconsole/vtcon*; do grep -q 'frame buffer' "$v/name" 2>/dev/null && [ "$(cat "$v/bind")" = 1 ] && echo "${v##*/}"; done; }
vtcons() { for v in /sys/class/vtconsole/vtcon*; do echo "$v: $(cat "$v/name") bind=$(cat "$v/bind")"; done; }
dm_pid() { systemctl show -p MainPID --value display-manager.service; }
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
wait_state() {
	i=0
	while [ "$i" -lt "$3" ]; do
		[ "$(domstate "$1")" = "$2" ] && return 0
		sleep 1; i=$((i + 1))
	done
	return 1
}
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
