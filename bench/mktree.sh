#!/bin/sh
# Builds a fake sysfs tree of N PCI functions in DIR (an ordinary directory, never /sys itself):
# the desktop fixture's functions (tests/fixtures/machines/desktop.umockdev) copied into PCI
# domains 0000, 0001, ... until there are N, with what the kernel makes around them (the
# bus/pci/devices and iommu_groups/N/devices links, the drivers' directories), as
# tests/lib/fakesys-kernel does for umockdev.
#   bench/mktree.sh N DIR
set -eu
n=$1 dir=$2
here=$(cd "$(dirname "$0")" && pwd)
fixture=$here/../tests/fixtures/machines/desktop.umockdev
case $dir in /sys | /sys/*) echo "mktree: refusing to write under /sys" >&2; exit 2 ;; esac
mkdir -p "$dir"
cd "$dir"
mkdir -p bus/pci/devices bus/pci/drivers/vfio-pci kernel/iommu_groups module/vfio_pci
awk -v want="$n" '
function flush(   i, c, up, rel, addr, g) {
	if (!path || !pci) { path = ""; return 0 }
	if (made >= want) { path = ""; return 0 }
	c = split(path, parts, "/") - 1 # path starts with "/"
	up = ""
	for (i = 0; i < c; i++) up = up "../"
	rel = substr(path, 2)
	addr = parts[c + 1]
	printf "mkdir -p %s\n", rel
	printf "ln -s %sbus/pci %s/subsystem\n", up, rel
	printf "printf %%s \047%s\047 >%s/uevent\n", uevent, rel
	for (i = 1; i <= na; i++) printf "printf \047%%s\\n\047 \047%s\047 >%s/%s\n", aval[i], rel, aname[i]
	printf "printf \047%s\047 >%s/config\n", config, rel
	printf "ln -s ../../..%s bus/pci/devices/%s\n", path, addr
	if (drv != "") {
		printf "mkdir -p bus/pci/drivers/%s\n", drv
		printf "ln -s %sbus/pci/drivers/%s %s/driver\n", up, drv, rel
		printf "ln -s ../../../..%s bus/pci/drivers/%s/%s\n", path, drv, addr
	}
	if (grp != "") {
		g = grp + 100 * copy
		printf "mkdir -p kernel/iommu_groups/%d/devices\n", g
		printf "ln -s %skernel/iommu_groups/%d %s/iommu_group\n", up, g, rel
		printf "ln -s ../../../..%s kernel/iommu_groups/%d/devices/%s\n", path, g, addr
	}
	made++
	path = ""
	return 1
}
function dom(s) { gsub(/pci0000:/, sprintf("pci%04x:", copy), s); gsub(/0000:/, sprintf("%04x:", copy), s); return s }
function octal(hex,   i, out, v) {
	out = ""
	for (i = 1; i < length(hex); i += 2) {
		v = index("0123456789abcdef", tolower(substr(hex, i, 1))) - 1
		v = v * 16 + index("0123456789abcdef", tolower(substr(hex, i + 1, 1))) - 1
		out = out sprintf("\\%03o", v)
	}
	return out
}
{ line[NR] = $0 }
END {
	for (copy = 0; made < want; copy++) {
		path = ""
		for (l = 1; l <= NR; l++) {
			$0 = line[l]
			if (/^P: /) { flush(); path = dom(substr($0, 4)); pci = 0; uevent = ""; na = 0; drv = ""; grp = ""; config = ""; continue }
			if (/^E: /) { e = dom(substr($0, 4)); uevent = uevent e "\n"; if (e == "SUBSYSTEM=pci") pci = 1; continue }
			if (/^A: /) { eq = index($0, "="); na++; aname[na] = substr($0, 4, eq - 4); aval[na] = substr($0, eq + 1); continue }
			if (/^H: config=/) { config = octal(substr($0, 11)); continue }
			if (/^L: driver=/) { drv = $0; sub(/.*\//, "", drv); continue }
			if (/^L: iommu_group=/) { grp = $0; sub(/.*\//, "", grp); continue }
		}
		flush()
		if (copy > 255) break
	}
}' "$fixture" | sh
