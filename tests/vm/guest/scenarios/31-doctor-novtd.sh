# vm-boot: novtd
# A fresh host with VT-d off in the firmware (no DMAR table) and no intel_iommu=on: Debian 12's
# kernel would turn the IOMMU on by itself, so the fix doctor gives is the firmware's; exit 1.
vfio-hook doctor >/tmp/doctor.out 2>&1
rc=$?
grep -E '^(PASS|WARN|FAIL)  .*(IOMMU|iommu|DMAR)' /tmp/doctor.out | sed 's/^/INFO doctor: /'
expect "doctor (VT-d off): the machine has no IOMMU groups" 0 "$(ls /sys/kernel/iommu_groups | wc -l)"
expect "doctor (VT-d off): exits 1" 1 "$rc"
doctor_has "doctor (VT-d off): the IOMMU FAIL with the fix" \
	"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty — enable VT-d in the firmware setup and reboot"
doctor_has "doctor (VT-d off): no DMAR table, with the fix" \
	"FAIL  the firmware has no ACPI DMAR table (/sys/firmware/acpi/tables/DMAR): VT-d is off or missing — enable VT-d in the firmware setup and reboot"
doctor_has "doctor (VT-d off): this kernel needs no intel_iommu=on" \
	"PASS  intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y)"
