# vm-boot: noiommu novtd
# vm-time: 30
# vfio-hook doctor on a host whose IOMMU is off says so with the exact fix, and exits 1; run in
# both boots where it is off:
# noiommu — booted with intel_iommu=off, VT-d on in the firmware (the DMAR table is there): the
#   fix is the command line's;
# novtd — a fresh host with VT-d off in the firmware (no DMAR table) and no intel_iommu=on:
#   Debian 12's kernel would turn the IOMMU on by itself, so the fix is the firmware's.
case $VM_BOOT in
noiommu) tag="doctor (intel_iommu=off)" ;;
novtd) tag="doctor (VT-d off)" ;;
esac
doctor_iommu_off "$tag"
case $VM_BOOT in
noiommu)
	GRUB_HOW="(GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
	doctor_has "$tag: the IOMMU FAIL with the fix" \
		"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty — replace intel_iommu=off with intel_iommu=on on the kernel command line $GRUB_HOW"
	doctor_has "$tag: the command line FAIL with the fix" \
		"FAIL  the kernel command line has intel_iommu=off — replace intel_iommu=off with intel_iommu=on on the kernel command line $GRUB_HOW"
	doctor_has "$tag: the firmware part is fine" "PASS  the firmware describes its IOMMU (ACPI DMAR table)"
	;;
novtd)
	doctor_has "$tag: the IOMMU FAIL with the fix" \
		"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty — enable VT-d in the firmware setup and reboot"
	doctor_has "$tag: no DMAR table, with the fix" \
		"FAIL  the firmware has no ACPI DMAR table (/sys/firmware/acpi/tables/DMAR): VT-d is off or missing — enable VT-d in the firmware setup and reboot"
	doctor_has "$tag: this kernel needs no intel_iommu=on" \
		"PASS  intel_iommu=on is not needed: this kernel turns the Intel IOMMU on by default (CONFIG_INTEL_IOMMU_DEFAULT_ON_INTGPU_OFF=y)"
	;;
esac
