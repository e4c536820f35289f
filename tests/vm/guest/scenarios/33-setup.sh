# vm-boot: systemd
# vm-time: 180
# vfio-hook setup on a systemd host writes files the real tools accept: udev applies the USB rule
# to the emulated keyboard (0627:0001) and not to the hub next to it, modprobe reads the
# modprobe.d options and softdep, systemd-modules-load loads the modules, PAM gives a user in
# [host] users the memlock limit, the user is in group kvm; a dry run writes nothing, a second
# run changes nothing, --undo removes it all.
useradd -m -s /bin/sh alice
memlock0=$(su - alice -c 'ulimit -l' 2>&1)
info "alice's memlock limit before setup: $memlock0"
nic=0000:02:00.0
write_map "[host]" "users = alice" "memlock = unlimited" "iommu = intel" "early = yes" \
	"[pci nic]" "device = 8086:10d3" "[usb kbd]" "device = 0627:0001" "[vm n]" "pci = nic" "usb = kbd"
files="/etc/modules-load.d/vfio-hook.conf /etc/modprobe.d/vfio-hook.conf /etc/udev/rules.d/70-vfio-hook.rules /etc/security/limits.d/vfio-hook.conf /etc/default/grub.d/vfio-hook.cfg /var/lib/vfio-hook/setup.manifest"
present() { for f in $files; do [ -e "$f" ] && echo "$f"; done; }
vfio-hook setup --dry-run >/tmp/setup.out 2>&1; rc=$?
sed 's/^/INFO setup --dry-run: /' /tmp/setup.out
expect "setup: --dry-run exits 0" 0 "$rc"
expect "setup: --dry-run writes nothing" "" "$(present)"
vfio-hook setup >/tmp/setup.out 2>&1; rc=$?
sed 's/^/INFO setup: /' /tmp/setup.out
expect "setup: exits 0" 0 "$rc"
expect "setup: writes its files" "$(echo $files)" "$(echo $(present))"
for f in $files; do sed "s|^|INFO $f: |" "$f" 2>/dev/null; done
sums=$(md5sum $files 2>/dev/null)
vfio-hook setup >/tmp/setup2.out 2>&1
expect "setup: a second run changes nothing" "$sums" "$(md5sum $files 2>/dev/null)"

# udev: the rule, tested and then applied to the keyboard's node; the root hub (another id) keeps its mode.
kbd="" hub=""
for d in /sys/bus/usb/devices/*; do
	[ "$(cat "$d/product" 2>/dev/null)" = "QEMU USB Keyboard" ] && kbd=$d
	[ "$(cat "$d/idVendor" 2>/dev/null)" = 1d6b ] && hub=$d
done
info "keyboard $kbd, hub $hub"
udevadm test "$kbd" >/tmp/udev-test.out 2>&1
grep -E 'GROUP|MODE' /tmp/udev-test.out | sed 's/^/INFO udevadm test: /'
grep -q '70-vfio-hook.rules' /tmp/udev-test.out && pass "setup: udevadm test applies 70-vfio-hook.rules to the keyboard" ||
	fail "setup: udevadm test applies 70-vfio-hook.rules to the keyboard" "$(tail -n 5 /tmp/udev-test.out)"
udevadm control --reload
udevadm trigger --subsystem-match=usb
udevadm settle --timeout=30
node=/dev/bus/usb/$(printf %03d "$(cat "$kbd/busnum")")/$(printf %03d "$(cat "$kbd/devnum")")
hnode=/dev/bus/usb/$(printf %03d "$(cat "$hub/busnum")")/$(printf %03d "$(cat "$hub/devnum")")
expect "setup: the keyboard's node $node is group kvm, mode 0660" "kvm 660" "$(stat -c '%G %a' "$node")"
expect "setup: the hub's node (another id) keeps root 0664" "root 664" "$(stat -c '%G %a' "$hnode")"
expect "setup: alice is in group kvm" yes "$(id -nG alice | tr ' ' '\n' | grep -qx kvm && echo yes)"

# modprobe reads the options and the softdep (vfio_pci out first, so -n shows what a load would do).
modprobe -r vfio_pci 2>/dev/null
modprobe --show-depends vfio_pci >/tmp/mp.out 2>&1
grep -q 'vfio-pci.ko.* ids=8086:10d3' /tmp/mp.out && pass "setup: modprobe --show-depends vfio_pci has ids=8086:10d3" ||
	fail "setup: modprobe --show-depends vfio_pci has ids=8086:10d3" "$(cat /tmp/mp.out)"
modprobe -n -v vfio_pci >/tmp/mp.out 2>&1
grep -q 'insmod .*vfio-pci.ko.* ids=8086:10d3' /tmp/mp.out && pass "setup: modprobe -n -v vfio_pci loads it with ids=8086:10d3" ||
	fail "setup: modprobe -n -v vfio_pci loads it with ids=8086:10d3" "$(cat /tmp/mp.out)"
modprobe --show-depends e1000e >/tmp/mp.out 2>&1
grep -q 'vfio-pci.ko' /tmp/mp.out && pass "setup: e1000e's softdep loads vfio-pci first" ||
	fail "setup: e1000e's softdep loads vfio-pci first" "$(cat /tmp/mp.out)"
systemctl restart systemd-modules-load.service
expect "setup: systemd-modules-load loads vfio_pci and vfio_iommu_type1" "yes yes" \
	"$([ -d /sys/module/vfio_pci ] && echo yes) $([ -d /sys/module/vfio_iommu_type1 ] && echo yes)"
# PAM: a login shell of alice gets the limit (pam_limits in su's session stack reads limits.d).
expect "setup: su - alice gets memlock unlimited" unlimited "$(su - alice -c 'ulimit -l' 2>&1)"
grub=$(sh -c '. /etc/default/grub.d/vfio-hook.cfg; echo "$GRUB_CMDLINE_LINUX_DEFAULT"' 2>&1)
case $grub in *"intel_iommu=on iommu=pt"*) pass "setup: grub.d adds intel_iommu=on iommu=pt ($grub)" ;;
*) fail "setup: grub.d adds intel_iommu=on iommu=pt" "$grub" ;; esac

vfio-hook setup --undo >/tmp/setup.out 2>&1; rc=$?
sed 's/^/INFO setup --undo: /' /tmp/setup.out
expect "setup: --undo exits 0" 0 "$rc"
expect "setup: --undo removes its files" "" "$(present)"
# udev no longer applies it (a node it already changed keeps its group until the device is added again).
udevadm test "$kbd" >/tmp/udev-test.out 2>&1
grep -q '70-vfio-hook.rules' /tmp/udev-test.out && fail "setup: after --undo udevadm test applies no vfio-hook rule" "$(grep 70-vfio-hook /tmp/udev-test.out)" ||
	pass "setup: after --undo udevadm test applies no vfio-hook rule"
expect "setup: after --undo alice is not in group kvm" no "$(id -nG alice | tr ' ' '\n' | grep -qx kvm && echo yes || echo no)"
expect "setup: after --undo su - alice gets the limit she had before" "$memlock0" "$(su - alice -c 'ulimit -l' 2>&1)"
rm -f /etc/vfio-hook.ini
