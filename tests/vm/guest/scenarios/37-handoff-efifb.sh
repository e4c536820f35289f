# vm-boot: ovmf
# The firmware framebuffer (efifb, fbcon on it) holds the GPU-like device's BAR: with
# host-display = handoff the start releases it and vfio-pci binds with no "can't reserve" in the
# kernel log; after the VM stops the framebuffer and fbcon are back.
gpu=0000:01:00.0
vtcon=$(fbcon_vtcon)
fw=$(basename "$(readlink -f /sys/class/graphics/fb0/device)")
info "fbcon is ${vtcon##*/}, fb0 is $fw"
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu"
define_l2 a none no $GPU_FUNCS
virsh start a >/tmp/start.out 2>&1 && { fail "efifb handoff: refused by default" "it started"; virsh destroy a >/dev/null 2>&1; } || pass "efifb handoff: refused by default"
grep -Fq "drives the host's display (fbcon on tty1; the firmware framebuffer $fw in its BAR 0)" /tmp/start.out &&
	pass "efifb handoff: the refusal names fbcon and $fw in BAR 0" || fail "efifb handoff: the refusal names fbcon and $fw in BAR 0" "$(cat /tmp/start.out)"
write_map "[options]" "timeout = 20" "[pci gpu]" "device = 1234:1111" "device = 8086:293e" "[vm a]" "pci = gpu" "host-display = handoff"
dmesg -c >/dev/null
virsh start a >/tmp/start.out 2>&1 && pass "efifb handoff: A starts" || fail "efifb handoff: A starts" "$(cat /tmp/start.out)"
expect "efifb handoff: the group on vfio-pci" "$VFIO_GPU" "$(gpu_state)"
expect "efifb handoff: $fw unbound" no "$([ -e /sys/bus/platform/devices/$fw/driver ] && echo yes || echo no)"
dmesg >/tmp/dmesg.out
grep -q "can't reserve" /tmp/dmesg.out && fail "efifb handoff: no \"can't reserve\" in the kernel log" "$(grep "can't reserve" /tmp/dmesg.out)" ||
	pass "efifb handoff: no \"can't reserve\" in the kernel log"
virsh destroy a >/dev/null 2>&1
expect "efifb handoff: 01:00.0 has no driver again, 01:00.1 on snd_hda_intel" "none/(null) snd_hda_intel/(null)" "$(gpu_state)"
expect "efifb handoff: $fw bound again" yes "$([ -e /sys/bus/platform/devices/$fw/driver ] && echo yes || echo no)"
expect "efifb handoff: /dev/fb0 present" yes "$([ -c /dev/fb0 ] && echo yes)"
expect "efifb handoff: fbcon bound on ${vtcon##*/} again" 1 "$(cat "$vtcon/bind")"
cleanup a
rm -f /etc/vfio-hook.ini
