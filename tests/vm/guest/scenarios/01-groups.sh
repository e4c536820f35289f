# vm-time: 30
# The guest sees IOMMU groups like a passthrough desktop: the GPU-like device's two functions
# share one group; each NIC, the xHCI and the NVMe have their own; host drivers are bound.
g0=$(group_of 0000:01:00.0)
g1=$(group_of 0000:01:00.1)
if [ -n "$g0" ] && [ "$g0" = "$g1" ]; then pass "groups: 01:00.0 and 01:00.1 share group $g0"
else fail "groups: 01:00.0 and 01:00.1 share a group" "groups '$g0' and '$g1'"; fi
expect "groups: GPU group holds just its two functions" 2 "$(group_size 0000:01:00.0)"
for a in 0000:02:00.0 0000:03:00.0 0000:04:00.0 0000:05:00.0; do
	expect "groups: $a alone in its group" 1 "$(group_size "$a")"
done
expect "groups: 01:00.0 on bochs-drm" bochs-drm "$(driver_of 0000:01:00.0)"
expect "groups: 01:00.1 on snd_hda_intel" snd_hda_intel "$(driver_of 0000:01:00.1)"
expect "groups: 02:00.0 on e1000e" e1000e "$(driver_of 0000:02:00.0)"
expect "groups: 04:00.0 on xhci_hcd" xhci_hcd "$(driver_of 0000:04:00.0)"
expect "groups: the NVMe is 05:00.0, on nvme" "0000:05:00.0 nvme" "$(nvme_addr) $(driver_of 0000:05:00.0)"
for a in 0000:01:00.0 0000:01:00.1 0000:02:00.0; do
	why=$(host_driver_works "$a") && pass "groups: host driver of $a works" || fail "groups: host driver of $a works" "$why"
done
