# vm-time: 30
# vfio-hook doctor on a host booted with intel_iommu=on iommu=pt: the IOMMU checks pass.
# (31-doctor-iommu-off boots the same machine with the IOMMU off, two ways.)
vfio-hook doctor >/tmp/doctor.out 2>&1
info "doctor exit $?; CPU $(sed -n 's/^vendor_id[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
sed 's/^/INFO doctor: /' /tmp/doctor.out
ngroups=$(ls /sys/kernel/iommu_groups | wc -l)
doctor_has "doctor: the IOMMU is on" "PASS  the IOMMU is on: $ngroups IOMMU groups"
doctor_has "doctor: the firmware's DMAR table" "PASS  the firmware describes its IOMMU (ACPI DMAR table)"
doctor_has "doctor: intel_iommu=on" "PASS  the kernel command line has intel_iommu=on"
doctor_has "doctor: iommu=pt" "PASS  the kernel command line has iommu=pt"
grep -qE "^FAIL  (the IOMMU|the kernel command line|the firmware)" /tmp/doctor.out && fail "doctor: no IOMMU FAIL" "$(grep '^FAIL' /tmp/doctor.out)" || pass "doctor: no IOMMU FAIL"
