#!/bin/sh
# The first hour as the README walks it, and vfio-hook map: the map written from groups, in place.
# sources: mapgen mapedit main groups config config-keys resolve virt util
# The README's path on the desktop fixture — groups, the map from `vfio-hook map --add`, config,
# --check, a start and a stop on the fake kernel — then map's own cases: what it prints for a
# group, an address, an id of identical cards, a VM of the map or of libvirt (the stand-in), a
# group shared with another device; and --add on a new map, the example, a map saved on Windows,
# one with a mistake, a read-only one, one only root may write, a link, odd VM names. Every edit
# keeps the map's own lines, and nothing is written when the result would be refused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/tap.sh"
. "$here/lib/hook-env.sh"
. "$here/lib/cli-env.sh"

# has NAME TEXT LINE: TEXT has exactly this line
has() {
	if printf '%s\n' "$2" | grep -Fxq -- "$3"; then ok "$1"; else
		not_ok "$1" "$(printf 'expected the line:\n%s\nin:\n%s' "$3" "$2")"
	fi
}

# The section map writes for the desktop's RTX, with the comment that says what it is.
RTX=$(cat <<'EOF'
; IOMMU group 24: 09:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU104 [GeForce RTX 2070 SUPER] [10de:1e84] (rev a1), and the 3 other functions of its card
[pci nvidia-geforce-rtx-2070-super]
device = 10de:1e84  VGA compatible controller: TU104 [GeForce RTX 2070 SUPER]
device = 10de:10f8  Audio device: TU104 HD Audio Controller
device = 10de:1ad8  USB controller: TU104 USB 3.1 Host Controller
device = 10de:1ad9  Serial bus controller: TU104 USB Type-C UCSI Controller
EOF
)

## the README's path: groups → the map from vfio-hook map → config → --check → start and stop
# The map as a newcomer has it: there, with nothing in it yet.
reset
map
: >"$work/map.ini"
run desktop groups --gpu
group=$(printf '%s\n' "$out" | awk '/^IOMMU Group/ { g = $3 } /GeForce RTX 2070 SUPER/ { sub(":", "", g); print g; exit }')
check "groups --gpu: the RTX's group, read off the listing as a newcomer does" 24 "$group"
run desktop map "$group" --add win10
check "map GROUP --add VM on a map with nothing in it: it writes it" "$(printf '%s\n' \
	"added [pci nvidia-geforce-rtx-2070-super] (4 functions of IOMMU group 24) to $work/map.ini" \
	"added \"pci = nvidia-geforce-rtx-2070-super\" to a new [vm win10] in $work/map.ini" \
	"next: vfio-hook doctor, then vfio-hook --check win10 before virsh start win10")" "$out"
check "map --add: exit 0, nothing on stderr" "0 " "$rc $err"
check "the map it wrote" "$(cat <<EOF
; vfio-hook device map: which PCI functions and USB devices each libvirt VM gets (see vfio-hook.ini(5)).
; Begun by "vfio-hook map"; "vfio-hook config" checks it. Only root may write it (chmod 644).

; added by vfio-hook map for win10
$RTX

[vm win10]
pci = nvidia-geforce-rtx-2070-super
EOF
)" "$(cat "$work/map.ini")"
check "the map it wrote: mode 644, as every run wants it" 644 "$(stat -c %a "$work/map.ini")"
run desktop config
check "config accepts the map it wrote, and warns of nothing" "0 " "$rc $err"
domxml win10 $GPU >"$work/win10.xml"
run desktop --check win10 --xml "$work/win10.xml"
check "--check: the hook would start win10" "0 the hook would start this VM" "$rc $(printf '%s\n' "$out" | tail -n1)"
out=$(on desktop '$H win10 prepare begin - <$W/win10.xml; echo "rc=$?"; eval "$STATE"; $H win10 release end - </dev/null; echo "rc=$?"; eval "$STATE"')
check "a start moves the card to vfio-pci, the stop gives it back" "$(printf 'rc=0\n%s\nrc=0\n%s' "$VFIO" "$ORIG")" "$out"

## what map prints: ready sections, named as lspci names the card
: >"$work/map.ini"
run desktop map 09:00.1
check "an address: its card, every function of its slot" "$(cat <<EOF
$RTX
; give it to a VM: vfio-hook map 09:00.1 --add VM (or list its name under pci = in its [vm] section)
EOF
)" "$out"
run two-gpus map 10de:1c03
check "identical cards: each its section, each function pinned by address" "$(printf '%s\n' \
	"[pci nvidia-geforce-gtx-1060-6gb]" "device = 0000:0a:00.0  VGA compatible controller: GP106 [GeForce GTX 1060 6GB]" \
	"device = 0000:0a:00.1  Audio device: GP106 High Definition Audio Controller" \
	"[pci nvidia-geforce-gtx-1060-6gb-2]" "device = 0000:0b:00.0  VGA compatible controller: GP106 [GeForce GTX 1060 6GB]" \
	"device = 0000:0b:00.1  Audio device: GP106 High Definition Audio Controller")" "$(printf '%s\n' "$out" | grep -v '^;' | grep .)"
run desktop -c maps/example.ini map linux
check "a [vm] of the map that lists ids: the sections it can name instead" "$(printf '%s\n' \
	"; IOMMU group 24: 09:00.0 VGA compatible controller [0300]: NVIDIA Corporation TU104 [GeForce RTX 2070 SUPER] [10de:1e84] (rev a1): already in the map as [pci nvidia-rtx-2070-super]" \
	"; [vm linux] can list them by name: pci = nvidia-rtx-2070-super")" "$out"
# A group the board shares between a card and another device the host uses (no ACS): the
# other device is named, never taken along behind the user's back.
run bridge-group map 04:01.0
has "a group shared with another device: it is left out, and said" "$out" \
	"; left out: 0000:04:00.0 (PCI 9865 Multi-I/O Controller) shares IOMMU group 7 but is another device; see vfio-hook --check"
check "a group shared with another device: the line with the choices" "vfio-hook: 0000:04:00.0 (PCI 9865 Multi-I/O Controller) shares IOMMU group 7 with 0000:04:01.0 but is another device, which the host uses (driver parport_serial): the hook refuses the VM until the whole group goes; put the card in another slot (one whose group is its own), ask for the group by number to give the VM both (vfio-hook map 7), or see the ACS override in vfio-hook(8)" "$err"
# The hook's refusal of such a group says the same choices, and what the ACS override risks.
map "[vm w]" "pci = 04:01.0"
domxml w 0000:04:01.0 >"$work/w.xml"
run bridge-group --check w --xml "$work/w.xml"
has "a group not viable for a device the host uses: the choices, in the refusal" "$out" \
	"  refuse: 0000:04:00.0 (PCI 9865 Multi-I/O Controller, driver parport_serial) shares IOMMU group 7 with this VM's devices but is another device, which the host uses (the board does not isolate them: no ACS between them, and an IOMMU group goes to a VM whole): put the card in another slot (one whose IOMMU group is its own: see vfio-hook groups), give the VM that device too (add 9710:9865 to \"pci =\" in [vm w] in $work/map.ini), or boot a kernel with the ACS override patch (pcie_acs_override=downstream,multifunction), which splits the group by pretending an isolation the hardware does not give: the two can still reach each other's memory by DMA, so a guest could read or corrupt the host's"
: >"$work/map.ini"
run bridge-group map 7
check "the group by number: all of it" "$(printf '%s\n' "[pci moschip-pci-9865-multi-i-o-controller]" \
	"device = 9710:9865  Serial controller: PCI 9865 Multi-I/O Controller" "device = 1234:5678  Wireless controller")" \
	"$(printf '%s\n' "$out" | grep -v '^;')"
run desktop map 0
check "a group of bridges only" "$(printf '%s\nrc=2' "vfio-hook: IOMMU group 0 holds only bridges of the board: nothing in it can be passed through (see vfio-hook groups 0)")" "$(printf '%s\nrc=%s' "$err" "$rc")"
run desktop map 42
check "a group that does not exist" "vfio-hook: no IOMMU group 42 on this machine (see vfio-hook groups)" "$err"
run desktop map 00:03.1
check "a bridge by address" "vfio-hook: 0000:00:03.1 (Starship/Matisse GPP Bridge, asked for as 00:03.1) is a bridge of the board: a VM is given the devices behind it, never the bridge (see vfio-hook groups)" "$err"
run no-iommu map 01:00.0
check "the IOMMU off: its line" "1 vfio-hook: the IOMMU is off: /sys/kernel/iommu_groups is empty (Intel CPU: enable VT-d in the firmware setup, add intel_iommu=on to the kernel command line and reboot)" "$rc $err"
# A VM libvirt has and the map has not (libvirt played by the stand-in): its <hostdev>s.
map "[options]" "uri = standin:///" "timeout = 2"
reset
domxml gaming 0000:0b:00.0 >"$work/run/gaming.xml"
run desktop map gaming
check "a VM of libvirt's, not in the map: its hostdevs' cards, and its [vm]" "$(printf '%s\n' "[pci amd-ellesmere]" \
	"device = 1002:67df  VGA compatible controller: Ellesmere [Radeon RX 470/480/570/570X/580/580X/590]" \
	"device = 1002:aaf0  Audio device: Ellesmere HDMI Audio [Radeon RX 470/480 / 570/580/590]" "" "[vm gaming]" "pci = amd-ellesmere")" \
	"$(printf '%s\n' "$out" | grep -v '^;')"
run desktop map gamign
check "a word that is nothing: one line" "vfio-hook: \"gamign\" is not an IOMMU group, a PCI address (09:00.0) or id (10de:1e84), nor a VM of the map or of libvirt (standin:///) (see vfio-hook groups, virsh list --all)" "$err"

## --add into a map someone wrote: its own lines kept, checked before it replaces it
cp maps/example.ini "$work/ex.ini"
run desktop -c "$work/ex.ini" map 0b:00.0 --add linux
check "--add to a [vm] of the example: said" "$(printf '%s\n' \
	"added [pci amd-ellesmere] (2 functions of IOMMU group 26) to $work/ex.ini" \
	"added \"pci = amd-ellesmere\" to [vm linux] in $work/ex.ini" \
	"next: vfio-hook doctor, then vfio-hook --check linux before virsh start linux")" "$out"
check "--add: no line of the map changed or dropped, its comments kept" "" "$(diff maps/example.ini "$work/ex.ini" | grep '^[<]')"
check "--add: the pci = line right under [vm linux]" "$(printf '[vm linux]\npci = amd-ellesmere\npci = 10de:1e84 10de:10f8 10de:1ad8 10de:1ad9   ; plain ids work too')" \
	"$(grep -A2 '^\[vm linux\]' "$work/ex.ini")"
run desktop -c "$work/ex.ini" config
check "config on the edited example: linux gets the RX 580 too" 6 "$(printf '%s\n' "$out" | sed -n '/^\[vm linux\]/,$p' | grep -c '^  pci')"
cp "$work/ex.ini" "$work/ex.before"
run desktop -c "$work/ex.ini" map 26 --add linux
check "--add of what the VM gets already: nothing to change, nothing written" \
	"linux already gets it: nothing to change in $work/ex.ini|same" "$out|$(cmp -s "$work/ex.ini" "$work/ex.before" && echo same)"
# A map saved on Windows: the lines added end as the map's do.
printf '[vm win10]\r\npci = 01:00.0\r\n' >"$work/crlf.ini"; chmod 644 "$work/crlf.ini"
run desktop -c "$work/crlf.ini" map 24 --add win10
check "a CRLF map: every line still ends in CRLF" "$(wc -l <"$work/crlf.ini")" "$(grep -c "$(printf '\r')\$" "$work/crlf.ini")"
run desktop -c "$work/crlf.ini" config --names pci
check "a CRLF map: the parser reads what was added" "nvidia-geforce-rtx-2070-super" "$out"
# A map with a mistake already: refused with its line, left as it is.
printf '[vm win10]\npci gpu\n' >"$work/broken.ini"; chmod 644 "$work/broken.ini"; cp "$work/broken.ini" "$work/broken.before"
run desktop -c "$work/broken.ini" map 24 --add win10
check "a map with a mistake: its line, nothing written" "$(printf '%s\nrc=2 same' "vfio-hook: $work/broken.ini:2: not a [section], a \"key = value\" line or a comment (fix or remove this line); fix that first: --add changes only a map config accepts")" \
	"$(printf '%s\nrc=%s %s' "$err" "$rc" "$(cmp -s "$work/broken.ini" "$work/broken.before" && echo same)")"
# A read-only map: left as it is.
cp "$work/ex.before" "$work/ro.ini"; chmod 444 "$work/ro.ini"
run desktop -c "$work/ro.ini" map 20 --add linux
check "a read-only map: refused, nothing written" "$(printf '%s\nrc=1 same' "vfio-hook: $work/ro.ini is read-only (mode 0444): nothing was changed; make it writable (chmod u+w $work/ro.ini) for vfio-hook to edit it, or paste the sections printed without --add")" \
	"$(printf '%s\nrc=%s %s' "$err" "$rc" "$(cmp -s "$work/ro.ini" "$work/ex.before" && echo same)")"
check "a read-only map: no temporary file left" "" "$(ls -A "$work" | grep '^\.vfio-hook')"
# Root's map, an ordinary user: refused, nothing written.
if [ "$(id -u)" = 0 ] && command -v runuser >/dev/null; then
	mkdir -p "$work/etc" && cp "$work/ex.before" "$work/etc/map.ini" && chmod 755 "$work" "$work/etc" && chmod 644 "$work/etc/map.ini"
	out=$(cd / && runuser -u nobody -- "$here/fakesys" desktop -- "$bin" -c "$work/etc/map.ini" map 20 --add linux 2>&1)
	check "root's map, run as a user: refused, says to run as root" \
		"vfio-hook: cannot write a new map in $work/etc: Permission denied (nothing was changed; the map is root's: run vfio-hook as root, with sudo)" "$out"
else
	skip "root's map, run as a user: refused, says to run as root" "needs root and runuser to switch user"
fi
# A map that is a link (a dotfiles checkout): the file it points to is edited, the link stays.
cp "$work/ex.before" "$work/target.ini"; ln -sf "$work/target.ini" "$work/link.ini"
run desktop -c "$work/link.ini" map 20 --add linux
check "a linked map: the link stays, its file has the addition" "link 1" \
	"$([ -L "$work/link.ini" ] && echo link) $(grep -c '^\[pci intel-i211-gigabit-network-connection\]' "$work/target.ini")"

# A link whose file is not there (a dotfiles checkout not mounted yet): not replaced by a new file.
ln -sf "$work/dotfiles/map.ini" "$work/dangling.ini"
run desktop -c "$work/dangling.ini" map 24 --add win10
check "a link to no file: refused, naming what it points to; the link stays" "$(printf '%s\nrc=1 link' "vfio-hook: $work/dangling.ini is a link to $work/dotfiles/map.ini, which is not there: nothing was changed; mount or restore what it points to, or remove the link to begin a new map there")" \
	"$(printf '%s\nrc=%s %s' "$err" "$rc" "$([ -L "$work/dangling.ini" ] && echo link)")"

## --add to a VM that gets part of the card already: only the rest, and config still accepts it
printf '[vm win10]\npci = 0000:09:00.0\n' >"$work/part.ini"; chmod 644 "$work/part.ini"
run desktop -c "$work/part.ini" map 24 --add win10
check "a VM with the GPU by address: it is given the 3 other functions" "$(printf '%s\n' \
	"added [pci nvidia-tu104-hd-audio-controller] (3 functions of IOMMU group 24) to $work/part.ini" \
	"added \"pci = nvidia-tu104-hd-audio-controller\" to [vm win10] in $work/part.ini" \
	"next: vfio-hook doctor, then vfio-hook --check win10 before virsh start win10")" "$out"
check "the section it wrote says what it holds, and why not the GPU" "; IOMMU group 24: the 3 functions of it that [vm win10] does not get yet (it gets the other 1 already)" \
	"$(grep '^; IOMMU' "$work/part.ini")"
run desktop -c "$work/part.ini" config
check "config accepts it: each function of the card once" "0 4 " "$rc $(printf '%s\n' "$out" | grep -c '^  pci .*\[10de:') $err"
printf '[pci a]\ndevice = 10de:1e84\n[vm win10]\npci = a\n' >"$work/part2.ini"; chmod 644 "$work/part2.ini"
run desktop -c "$work/part2.ini" map 24 --add win10
run desktop -c "$work/part2.ini" config
check "a VM with the GPU from another section: config accepts what --add wrote" "0 4 " "$rc $(printf '%s\n' "$out" | grep -c '^  pci .*\[10de:') $err"
# A section of the map that gives the card but names its GPU twice: --add would make config
# warn for the VM; refused with config's line, the file as it was.
printf '[pci x]\ndevice = 10de:1e84\ndevice = 10de:10f8\ndevice = 10de:1ad8\ndevice = 10de:1ad9\ndevice = 0000:09:00.0\n' >"$work/dup.ini"
chmod 644 "$work/dup.ini"; cp "$work/dup.ini" "$work/dup.before"
run desktop -c "$work/dup.ini" map 24 --add win10
check "what config would warn of on this machine: refused, naming the user's map, nothing written" "$(printf '%s\nrc=1 same' \
	"vfio-hook: $work/dup.ini: nothing was changed: with these additions, vfio-hook config would warn on this machine, at line 6 of the result: [vm win10] gets 0000:09:00.0 twice, as 10de:1e84 (line 2) and as 0000:09:00.0 (list each device once)")" \
	"$(printf '%s\nrc=%s %s' "$err" "$rc" "$(cmp -s "$work/dup.ini" "$work/dup.before" && echo same)")"
# What config said of the map before is not --add's to refuse: a laptop's card, not on this machine.
printf '[pci laptop]\ndevice = 10de:1c8d\n[vm win10]\npci = laptop\n' >"$work/laptop.ini"; chmod 644 "$work/laptop.ini"
run desktop -c "$work/laptop.ini" map 24 --add win10
check "a warning the map had before: --add still adds" "0 added \"pci = nvidia-geforce-rtx-2070-super\" to [vm win10] in $work/laptop.ini" \
	"$rc $(printf '%s\n' "$out" | sed -n 2p)"

## NixOS: /etc/vfio-hook.ini is a link into the read-only store, made from configuration.nix
mkdir -p "$work/nixos/etc" "$work/nixos/store"; : >"$work/nixos/etc/NIXOS"
printf '; Made by NixOS from services.vfio-hook.settings\n[options]\ntimeout = 2\n' >"$work/nixos/store/abc-vfio-hook.ini"
chmod 444 "$work/nixos/store/abc-vfio-hook.ini"; ln -sf "$work/nixos/store/abc-vfio-hook.ini" "$work/nixos/etc/vfio-hook.ini"
VFIO_HOOK_TEST_ROOT="$work/nixos" "$here/fakesys" desktop -- "$bin" -c "$work/nixos/etc/vfio-hook.ini" map 24 --add win10 \
	>"$work/stdout" 2>"$work/stderr" </dev/null
rc=$?
check "NixOS: refused, pointing to services.vfio-hook.settings, not to chmod" "$(printf '%s\nrc=1' \
	"vfio-hook: $work/nixos/etc/NIXOS: this is NixOS, whose /etc is built from its configuration: nothing was written to $work/nixos/etc/vfio-hook.ini; put what vfio-hook map 24 prints into services.vfio-hook.settings (pci, vm) in configuration.nix instead, with the module in vfio-hook's etc/nixos/")" \
	"$(printf '%s\nrc=%s' "$(cat "$work/stderr")" "$rc")"
VFIO_HOOK_TEST_ROOT="$work/nixos" "$here/fakesys" desktop -- "$bin" -c "$work/nixos-scratch.ini" map 24 --add win10 \
	>"$work/stdout" 2>"$work/stderr" </dev/null
rc=$?
check "NixOS: a scratch map of the user's, outside /etc, is still written" "0 1" "$rc $(grep -c '^\[vm win10\]' "$work/nixos-scratch.ini")"

## two vfio-hook map --add at once: the second waits for the first and reads what it wrote
# The first is played by a shell holding the lock on the map's directory (flock(1)) while it does
# what a run does: reads the map, then (a second later) renames its new map over it.
mkdir -p "$work/two"; printf '[options]\ntimeout = 2\n' >"$work/two/map.ini"; chmod 644 "$work/two/map.ini"
rm -f "$work/two/ready"
(cd "$work/two" && exec 9<. && flock 9 && cp map.ini .new && printf '[vm first]\npci = 10de:1e84\n' >>.new && : >ready &&
	sleep 1 && mv .new map.ini) &
first=$!
(cd "$work/two" && while [ ! -e ready ]; do sleep 0.05; done)
run desktop -c "$work/two/map.ini" map 26 --add linux
wait "$first"
check "two at once: both exit 0" 0 "$rc"
check "two at once: the map has both additions" "first linux" "$(grep '^\[vm ' "$work/two/map.ini" | sed 's/\[vm \(.*\)\]/\1/' | tr '\n' ' ' | sed 's/ $//')"
# A run that holds it past the deadline: the next one gives up, says so, writes nothing.
cp "$work/two/map.ini" "$work/two/before"; rm -f "$work/two/ready"
(cd "$work/two" && exec 9<. && flock 9 && : >ready && exec sleep 30) &
first=$!
(cd "$work/two" && while [ ! -e ready ]; do sleep 0.05; done)
run desktop -c "$work/two/map.ini" map 24 --add win10
kill "$first" 2>/dev/null; wait "$first" 2>/dev/null
check "held past the deadline: one line, nothing written" "$(printf '%s\nrc=1 same' \
	"vfio-hook: $work/two/map.ini: another vfio-hook map --add has been editing it for 10 s (it holds the lock on $work/two): nothing was changed; let it finish, then run the command again")" \
	"$(printf '%s\nrc=%s %s' "$err" "$rc" "$(cmp -s "$work/two/map.ini" "$work/two/before" && echo same)")"

## VM names as libvirt takes them, quoted in what the user is told to run
rm -f "$work/names.ini"
run desktop -c "$work/names.ini" map 24 --add "Mom's \"gaming\" PC"
check "a name with a space and quotes: written as it is, quoted in the next step" \
	"next: vfio-hook doctor, then vfio-hook --check 'Mom'\\''s \"gaming\" PC' before virsh start 'Mom'\\''s \"gaming\" PC'" \
	"$(printf '%s\n' "$out" | tail -n1)"
run desktop -c "$work/names.ini" config --names vm
check "a name with a space and quotes: read back whole" "Mom's \"gaming\" PC" "$out"
run desktop -c "$work/names.ini" map 26 --add "a]b"
check "a name a [vm] header cannot hold: refused before anything is written" "vfio-hook: cannot write [vm a]b] in the map: a name with ']', '/', a control character or a space at either end cannot be read back from a [vm NAME] header (rename the VM: virsh domrename)" "$err"
# libvirt takes names inih reads otherwise in a header: " ;" begins a comment there, and a name
# wholly in quotes is read as the one inside them. Refused up front, nothing written: no line of
# a file the user does not have.
rm -f "$work/names.ini"
run desktop -c "$work/names.ini" map 24 --add "Win 11 ; test"
check "a name with \" ;\": refused up front, no map begun" "$(printf '%s\nrc=2 map: no' "vfio-hook: cannot write [vm Win 11 ; test] in the map: \" ;\" in a [vm NAME] header begins a comment, so the name cannot be read back (rename the VM to a name without \" ;\" or \" #\": virsh domrename)")" \
	"$(printf '%s\nrc=%s map: %s' "$err" "$rc" "$([ -e "$work/names.ini" ] && echo yes || echo no)")"
run desktop -c "$work/names.ini" map 24 --add "win10 # gaming"
check "a name with \" #\": refused up front" "vfio-hook: cannot write [vm win10 # gaming] in the map: \" #\" in a [vm NAME] header begins a comment, so the name cannot be read back (rename the VM to a name without \" ;\" or \" #\": virsh domrename)" "$err"
run desktop -c "$work/names.ini" map 24 --add '"q"'
check "a name wholly in quotes: refused up front, no advice naming another VM" "vfio-hook: cannot write [vm \"q\"] in the map: a name wholly in quotes is read as the name inside them, another VM (rename the VM to a name not wholly in quotes: virsh domrename)" "$err"
# One VM per run, and a VM it is.
run desktop -c "$work/once.ini" map 24 --add win10 --add linux
check "--add twice: refused, not the first one dropped" "2 vfio-hook: map: --add given twice (win10 and linux): one VM per run; run vfio-hook map again for the other" "$rc $err"
run desktop -c "$work/once.ini" map 24 --add ''
check "--add '': says it needs a VM name" "2 vfio-hook: --add needs a VM name: vfio-hook map GROUP|ADDRESS|VM --add VM (see vfio-hook --help)" "$rc $err"
check "--add twice or empty: no map begun" "no" "$([ -e "$work/once.ini" ] && echo yes || echo no)"
# The hook's own lines quote such a name wherever they say what to run.
map "[options]" "evict = refuse" "[pci gpu]" "device = 10de:1e84" "device = 10de:10f8" "device = 10de:1ad8" \
	"device = 10de:1ad9" "[vm Windows 10]" "pci = gpu" "[vm Dad's PC]" "pci = gpu"
reset; status "Dad's PC" $GPU
domxml "Windows 10" $GPU >"$work/w10.xml"
run desktop --check "Windows 10" --xml "$work/w10.xml"
has "a holder named with a quote: virsh's argument quoted" "$out" \
	"  refuse: $G0 is in use by the running VM Dad's PC and evict = refuse: shut Dad's PC down first (virsh shutdown 'Dad'\\''s PC'), or set evict = detach in [vm Windows 10] of $work/map.ini"
out=$(on desktop '$H "Windows 10" prepare begin - <$W/w10.xml; echo "rc=$?"')
case $out in *"(and 3 more problems: run 'vfio-hook --check \"Windows 10\"')"*"rc=1") ok "the hook's line: the --check to run, the name quoted inside its quotes" ;;
*) not_ok "the hook's line: the --check to run, the name quoted inside its quotes" "$out" ;; esac

tap_done
