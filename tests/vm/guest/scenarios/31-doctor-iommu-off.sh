# vm-boot: noiommu novtd
# vm-time: 30
# vfio-hook doctor on a host whose IOMMU is off says so with the exact fix, and exits 1; run in
# both boots where it is off:
# noiommu — booted with intel_iommu=off, VT-d on in the firmware (the DMAR table is there): the
#   fix is the command line's;
# novtd — a VM with no virtual IOMMU (no DMAR table) and no intel_iommu=on: the fix is the
#   hypervisor's (vfio-hook sees the hypervisor CPU flag), never a firmware setting of its own.
case $VM_BOOT in
noiommu) tag="doctor (intel_iommu=off)" ;;
novtd) tag="doctor (VT-d off)" ;;
esac
doctor_iommu_off "$tag"
case $VM_BOOT in
noiommu)
	GRUB_HOW="(GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub or grub2-mkconfig -o /boot/grub2/grub.cfg) and reboot"
	doctor_has "$tag: one IOMMU FAIL, its cause the command line, with the fix" \
		"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (the kernel command line has intel_iommu=off) — on the kernel command line, replace intel_iommu=off with intel_iommu=on iommu=pt $GRUB_HOW"
	doctor_has "$tag: the firmware part is fine" "PASS  the firmware describes its IOMMU (ACPI DMAR table)"
	;;
novtd)
	# The guest is a VM (the hypervisor CPU flag) with no virtual IOMMU: its hypervisor must give one.
	doctor_has "$tag: the IOMMU FAIL says the hypervisor gives this VM no IOMMU, and how to give it one" \
		"FAIL  the IOMMU is off: /sys/kernel/iommu_groups is empty (this system is a virtual machine, and its hypervisor gives it no IOMMU) — give this VM a virtual IOMMU: QEMU -device intel-iommu,intremap=on with -machine q35,kernel-irqchip=split; libvirt <iommu model='intel'/> in its <devices> (virsh edit, on its host); then intel_iommu=on on this kernel's command line, and reboot it"
	;;
esac
