# vm-boot: noiommu
# A host booted with intel_iommu=off (VT-d on in the firmware: the DMAR table is there):
# vfio-hook doctor says the IOMMU is off and the exact fix; it exits 1.
GRUB_HOW="(GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
vfio-hook doctor >/tmp/doctor.out 2>&1
rc=$?
grep -E '^(PASS|WARN|FAIL)  .*(IOMMU|iommu|DMAR)' /tmp/doctor.out | sed 's/^/INFO doctor: /'
expect "doctor (intel_iommu=off): the machine has no IOMMU groups" 0 "$(ls /sys/kernel/iommu_groups | wc -l)"
expect "doctor (intel_iommu=off): exits 1" 1 "$rc"
doctor_has "doctor (intel_iommu=off): the IOMMU FAIL with the fix" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty — replace intel_iommu=off with intel_iommu=on on the kernel command line $GRUB_HOW"
doctor_has "doctor (intel_iommu=off): the command line FAIL with the fix" \
	"FAIL  the kernel command line has intel_iommu=off — replace intel_iommu=off with intel_iommu=on on the kernel command line $GRUB_HOW"
doctor_has "doctor (intel_iommu=off): the firmware part is fine" "PASS  the firmware describes its IOMMU (ACPI DMAR table)"
