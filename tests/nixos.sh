#!/bin/sh
# The NixOS flake, package and module (etc/nixos/), evaluated by Nix against nixpkgs' lib.
# sources: setup hostconf config config-keys main discover scripts/install.sh etc/nixos/flake.nix etc/nixos/package.nix etc/nixos/module.nix tests/nixos/eval.nix tests/nixos/stubs.nix tests/nixos/nixos-options.nix tests/nixos/seed-strings.nix tests/nixos/seed-sets.nix tests/nixos/native.nix
# Nix (Debian's nix-bin) evaluates as root with no daemon, into a store of the test's own
# (--store). nixpkgs cannot be fetched here, but its lib (the module system) can be given:
# NIXPKGS_LIB, else ../shared/nixpkgs-lib beside the tree; without Nix or that lib the suite is
# one line saying which is missing. The NixOS options the module sets are declared with
# nixpkgs' types (tests/nixos/nixos-options.nix) and packages are stubs whose out paths are
# directories of the test (tests/nixos/stubs.nix): what the module would build (the map, the
# files of "vfio-hook setup --root") is built here by running its build script with the
# package installed as package.nix installs it (make install with its flags, the program
# rebuilt with its libraries' paths). Then: the seed's README configurations (through the
# flake's nixosModules."x86_64-linux".vfio) and a native one install the hook, the map, the
# kernel parameters, udev rules, groups and limits they ask for; those equal what setup writes
# for the same map; the map passes the program's parser, and its owner/mode check behind the
# symlinks NixOS puts in /etc; wrong values are refused with the option's name.
# Environment (from tests/run-tests.sh): VFIO_HOOK_BIN, VFIO_HOOK_TEST_PRELOAD.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib/tap.sh"
bin=${VFIO_HOOK_BIN:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

## What it needs
nixlib=${NIXPKGS_LIB:-$top/../shared/nixpkgs-lib}
if ! command -v nix-instantiate >/dev/null; then
	skip "etc/nixos: the NixOS flake, package and module" "nix-instantiate is missing (apt-get install nix-bin)"
	tap_done; exit
fi
if [ ! -f "$nixlib/lib/default.nix" ] && [ ! -f "$nixlib/default.nix" ]; then
	skip "etc/nixos: the NixOS flake, package and module" \
		"nixpkgs' lib is missing: no $nixlib (set NIXPKGS_LIB to a nixpkgs or nixpkgs.lib checkout)"
	tap_done; exit
fi
nixlib=$(cd "$nixlib" && pwd)

# Nothing of the machine's Nix: no nix.conf, a store and state of the test's own.
export HOME="$work" NIX_CONF_DIR="$work" XDG_CONFIG_HOME="$work" XDG_CACHE_HOME="$work"
nixeval() { nix-instantiate --option build-users-group "" --store "$work/nix" --eval --strict --json "$@"; }
# ran NAME STATUS LOG: a step that must exit 0, its log shown when it did not
ran() { if [ "$2" -eq 0 ]; then ok "$1"; else not_ok "$1" "$(printf 'exit %s\n%s' "$2" "$(tail -n 5 "$3")")"; fi; }
# evaluate NAME ARG...: tests/nixos/eval.nix into $work/NAME.json (stderr $work/NAME.err); $rc
evaluate() {
	n=$1; shift
	nixeval "$here/nixos/eval.nix" --arg lib "$nixlib" "$@" >"$work/$n.json" 2>"$work/$n.err"
	rc=$?
}
# j NAME KEY/KEY...: a value of $work/NAME.json, strings as they are, the rest as JSON
j() {
	python3 -c 'import json, sys
v = json.load(open(sys.argv[1]))
for k in sys.argv[2].split("/"):
    v = v[int(k)] if isinstance(v, list) else v[k]
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True), end="")' "$work/$1.json" "$2"
}
# refused NAME CONFIG-EXPR WANTED: CONFIG (a Nix expression) does not evaluate, and the error
# names WANTED (an option, or an assertion's message)
refused() {
	printf '%s\n' "$2" >"$work/$1.nix"
	evaluate "$1" --argstr store "$work/store-$1" --arg config "$work/$1.nix"
	if [ "$rc" -ne 0 ] && grep -qF -- "$3" "$work/$1.err"; then ok "$1: refused, naming $3"
	else not_ok "$1: refused, naming $3" "$(printf 'exit %s\n%s' "$rc" "$(tail -n 5 "$work/$1.err")")"; fi
}

## The expressions parse
for f in flake.nix package.nix module.nix; do
	if err=$(nix-instantiate --option build-users-group "" --store "$work/nix" --parse "$top/etc/nixos/$f" 2>&1 >/dev/null)
	then ok "etc/nixos/$f parses"; else not_ok "etc/nixos/$f parses" "$err"; fi
done

## package.nix as nixpkgs builds it, and the flake's outputs
store=$work/store
evaluate package --argstr store "$store" --argstr what package
check "package: evaluates against stub pkgs" 0 "$rc"
check "package: stdenv.mkDerivation (finalAttrs: ...) with pname and version" "vfio-hook 0.1.0" "$(j package pname) $(j package version)"
check "package: its version is the Makefile's" "$(sed -n 's/^VERSION *:= *//p' "$top/Makefile")" "$(j package version)"
check "package: strictDeps, parallel, pkg-config native, the libraries as build inputs" \
	'true true ["pkg-config"] ["libvirt", "libxml2", "inih", "systemd"]' \
	"$(j package strictDeps) $(j package enableParallelBuilding) $(j package nativeBuildInputs) $(j package buildInputs)"
check "package: meta (licence, Linux, main program)" "MIT true vfio-hook" \
	"$(j package license) $(j package linux) $(j package mainProgram)"
check "package: the source is this tree" true "$(j package srcIsTheTree)"
check "package: the flake's packages, overlay and callPackage give the one package" true "$(j package sameEverywhere)"
check "flake: nixosModules.default, .vfio-hook and the seed's .\"x86_64-linux\".vfio are module.nix" \
	'{"default": true, "seed": true, "vfio-hook": true}' "$(j package modules)"
check "package: dlopen()ed libraries by their store paths, not a wrapper" \
	"LIBVIRT_SONAME=$store/libvirt/lib/libvirt.so.0 LIBXML2_SONAME=$store/libxml2/lib/libxml2.so.2" \
	"$(j package makeFlags | tr -d '[]",' | tr ' ' '\n' | grep SONAME | tr '\n' ' ' | sed 's/ $//')"
evaluate package214 --argstr store "$store" --argstr what package --argstr libxml2Version 2.14.4
check "package: libxml2 2.14's soname is libxml2.so.16" "LIBXML2_SONAME=$store/libxml2/lib/libxml2.so.16" \
	"$(j package214 makeFlags | tr -d '[]",' | tr ' ' '\n' | grep LIBXML2)"

# Built and installed as the package builds and installs it: its make flags, $out a directory
# here, the libraries at their "store" paths. Only dl.c reads the flags that differ from the
# suite's own build: the other objects are reused.
placeholder=$(j package placeholder)
flags() { j package "$1" | python3 -c 'import json, sys; print("\n".join(json.load(sys.stdin)))' | sed "s|$placeholder|$inst|g"; }
inst=$work/pkg
mkdir -p "$store/libvirt/lib" "$store/libxml2/lib" "$work/src/build/plain"
for l in libvirt:libvirt.so.0 libxml-2.0:libxml2.so.2; do
	ln -s "$(pkg-config --variable=libdir "${l%%:*}")/${l#*:}" "$store/$(echo "${l%%:*}" | sed 's/-2.0/2/')/lib/${l#*:}"
done
(cd "$top" && tar cf - --exclude=./.git --exclude=./build --exclude=./hook/vfio-hook .) | (cd "$work/src" && tar xpf -)
cp -pr "$top/build/plain/obj" "$work/src/build/plain/"
rm -f "$work/src/build/plain/obj/dl.o"
flags makeFlags >"$work/makeflags"
flags installFlags >"$work/installflags"
# shellcheck disable=SC2046 # the flags, one a line, have no spaces
make -s -C "$work/src" -j2 all $(cat "$work/makeflags") >"$work/build.log" 2>&1
ran "package: builds with its make flags" $? "$work/build.log"
# shellcheck disable=SC2046
make -s -C "$work/src" install $(cat "$work/makeflags" "$work/installflags") >"$work/install.log" 2>&1
ran "package: installs with its install flags" $? "$work/install.log"
check "package: \$out holds the program, its vfio name, pages, completion and example map; no /etc" \
	"bin/vfio bin/vfio-hook share/bash-completion/completions/vfio share/bash-completion/completions/vfio-hook share/doc/vfio-hook/examples/vfio-hook.ini share/man/man5/vfio-hook.ini.5 share/man/man8/vfio-hook.8" \
	"$(cd "$inst" && find . ! -type d | sed 's|^\./||' | LC_ALL=C sort | tr '\n' ' ' | sed 's/ $//')"
check "package: the program names the libraries by their store paths" "1 1" \
	"$(grep -c -aF "$store/libvirt/lib/libvirt.so.0" "$inst/bin/vfio-hook") $(grep -c -aF "$store/libxml2/lib/libxml2.so.2" "$inst/bin/vfio-hook")"
out=$inst sh -ec "$(j package postInstallCheck)"
check "package: its install check (vfio --version) passes" 0 $?
check "package: version check (versionCheckHook runs --version)" "vfio-hook $(j package version)" "$("$inst/bin/vfio-hook" --version)"
# What libvirt's hook environment gives it: no LD_LIBRARY_PATH. --check asks libvirt (its test
# driver) for the domain and parses it with libxml2: the loader's trace shows where from.
printf '[options]\nuri = test:///default\n[vm test]\npci = 10de:1e84\n' >"$work/dl.ini"; chmod 644 "$work/dl.ini"
"$here/fakesys" desktop -- env -u LD_LIBRARY_PATH LD_DEBUG=files "$inst/bin/vfio-hook" -c "$work/dl.ini" --check test \
	>/dev/null 2>"$work/ld.log"
check "package: libvirt and libxml2 are loaded from their store paths" "yes yes" \
	"$(grep -q "file=$store/libvirt/lib/libvirt.so.0 .*dynamically loaded" "$work/ld.log" && echo yes || echo no) $(grep -q "file=$store/libxml2/lib/libxml2.so.2 .*dynamically loaded" "$work/ld.log" && echo yes || echo no)"

## A system: a configuration evaluated with the module, and what it would build, built
# system NAME CONFIG MODULE: evaluates; builds the map and setup's files as the module's
# derivations would (the map's checkPhase, then setup in a root of its own on a machine
# without PCI devices, as in Nix's build sandbox); runs setup itself for the same map into
# $work/NAME.root (a Debian root, so that it writes the kernel parameters too).
system() {
	n=$1
	evaluate "$n" --argstr store "$work/store-$n" --arg config "$here/nixos/$2" --argstr module "$3" --argstr prefix "$inst"
	check "$n: evaluates ($3 module)" 0 "$rc"
	[ "$rc" -eq 0 ] || { cat "$work/$n.err"; return; }
	mapf=$(j "$n" map/path)
	mkdir -p "$(dirname "$mapf")"
	j "$n" map/text >"$mapf"
	chmod 444 "$mapf"
	target=$mapf sh -ec "$(j "$n" map/checkPhase)" 2>"$work/$n.check"
	ran "$n: the map's build check (the program's parser) passes" $? "$work/$n.check"
	mkdir -p "$work/$n.build"
	(cd "$work/$n.build" && out=$(j "$n" hostFiles/path) umockdev-run -- bash -euc "$(j "$n" hostFiles/buildCommand)") \
		>"$work/$n.hostfiles.log" 2>&1
	ran "$n: setup's files build as the module's derivation builds them" $? "$work/$n.hostfiles.log"
	r=$work/$n.root
	mkdir -p "$r/etc"
	j "$n" users | python3 -c 'import json, sys
for u in json.load(sys.stdin): print("%s:x:1000:100::/home/%s:/bin/sh" % (u, u))' >"$r/etc/passwd"
	printf 'kvm:x:302:\n' >"$r/etc/group"
	echo 12.11 >"$r/etc/debian_version"
	umockdev-run -- "$bin" -c "$mapf" setup --root "$r" >"$work/$n.setup.log" 2>&1
	ran "$n: setup --root writes the same map's files" $? "$work/$n.setup.log"
}
# body FILE: a file setup wrote, without its three-line header
body() { sed '1,3d' "$1"; }
# same NAME: what NAME's system installs is what setup wrote for its map
same() {
	n=$1 r=$work/$1.root
	check "$n: the udev rules (services.udev.packages) are setup's" "$(cat "$r/etc/udev/rules.d/70-vfio-hook.rules")" \
		"$(for p in $(j "$n" udevPackages | tr -d '[]",'); do cat "$p/etc/udev/rules.d/70-vfio-hook.rules"; done)"
	check "$n: the modules to load (environment.etc) are setup's" "$(cat "$r/etc/modules-load.d/vfio-hook.conf")" \
		"$(cat "$(j "$n" etcModulesLoad/source)")"
	check "$n: the limits (security.pam.loginLimits, as NixOS writes them) are setup's" \
		"$(body "$r/etc/security/limits.d/vfio-hook.conf" | grep -v '^#')" "$(j "$n" limits)"
	check "$n: the kernel parameters (boot.kernelParams) are setup's" \
		"$(sed -n 's/^GRUB_CMDLINE_LINUX_DEFAULT="$GRUB_CMDLINE_LINUX_DEFAULT \(.*\)"$/\1/p' "$r/etc/default/grub.d/vfio-hook.cfg")" \
		"$(j "$n" kernelParams | tr -d '[]",')"
	check "$n: the users in group kvm (users.users.*.extraGroups) are setup's" \
		"$(sed -n 's/^kvm:x:302://p' "$r/etc/group" | tr ',' '\n' | sort | tr '\n' ' ')" \
		"$(j "$n" users | python3 -c 'import json, sys; print(" ".join(sorted(u for u, g in json.load(sys.stdin).items() if "kvm" in g)), end=" ")')"
	check "$n: group kvm is declared" '["kvm"]' "$(j "$n" groups)"
}
# hooked NAME: the hook where NixOS's libvirt runs it, the CLI, modprobe on libvirtd's PATH
hooked() {
	check "$1: the hook (virtualisation.libvirtd.hooks.qemu) is the package's program" \
		"$inst/bin/vfio-hook yes" "$(j "$1" hooks/vfio-hook) $([ -x "$(j "$1" hooks/vfio-hook)" ] && echo yes)"
	check "$1: the map is /etc/vfio-hook.ini, the module's built map" "$(j "$1" map/path) symlink" \
		"$(j "$1" etcMap/source) $(j "$1" etcMap/mode)"
	check "$1: the command line (vfio-hook, vfio) in environment.systemPackages" "[\"$inst\"] yes" \
		"$(j "$1" systemPackages) $([ -x "$inst/bin/vfio" ] && echo yes)"
	check "$1: kmod on libvirtd's PATH (the hook runs modprobe)" "[\"$work/store-$1/kmod\"]" "$(j "$1" libvirtdPath)"
	check "$1: no warning" "[]" "$(j "$1" warnings)"
}

## The seed's README, plain strings, through the flake's nixosModules."x86_64-linux".vfio
system seed-strings seed-strings.nix seed
check "seed-strings: the map it asked for" "; Made by NixOS from services.vfio-hook.settings: change it there (vfio-hook.ini(5) explains each key).

[host]
early = yes
iommu = amd
memlock = unlimited
users = alice bob

[pci pcie-ids]
device = 10de:1e84
device = 10de:10f8
device = 10de:1ad8
device = 10de:1ad9
device = 8086:f1a8

[usb usb-ids]
device = 046d
device = 0416" "$(cat "$(j seed-strings map/path)")"
hooked seed-strings
same seed-strings
check "seed-strings: cpu-type amd: iommu=pt, never amd_iommu=on" '["iommu=pt"]' "$(j seed-strings kernelParams)"
check "seed-strings: its users join group kvm" '{"alice": ["kvm"], "bob": ["kvm"]}' "$(j seed-strings users)"
check "seed-strings: pam-fix: their memlock limits, soft and hard" "alice soft memlock unlimited
alice hard memlock unlimited
bob soft memlock unlimited
bob hard memlock unlimited" "$(j seed-strings limits)"
check "seed-strings: its devices still go to vfio-pci at boot: vfio in the initrd" \
	'{"vfio": true, "vfio_iommu_type1": true, "vfio_pci": true}' "$(j seed-strings initrdKernelModules)"
check "seed-strings: ... with their ids (boot.extraModprobeConfig), as setup writes them" \
	"$(body "$work/seed-strings.root/etc/modprobe.d/vfio-hook.conf")" "$(j seed-strings extraModprobeConfig)"
check "seed-strings: USB rules by vendor, group kvm, never 0666" \
	"2 0 2" "$(grep -c 'ATTR{idVendor}=="0416"\|ATTR{idVendor}=="046d"' "$(j seed-strings hostFiles/path)/etc/udev/rules.d/70-vfio-hook.rules") $(grep -c 0666 "$(j seed-strings hostFiles/path)/etc/udev/rules.d/70-vfio-hook.rules") $(grep -c 'usb_device.*GROUP="kvm", MODE="0660"' "$(j seed-strings hostFiles/path)/etc/udev/rules.d/70-vfio-hook.rules")"
"$here/fakesys" desktop -- "$bin" -c "$(j seed-strings map/path)" config >"$work/config.out" 2>&1
ran "seed-strings: vfio-hook config accepts the map on the seed's machine" $? "$work/config.out"

## The seed's README, attribute sets, USB names with spaces, on Intel, an initrd GPU driver
system seed-sets seed-sets.nix seed
hooked seed-sets
same seed-sets
check "seed-sets: each named set is a [pci NAME] with its descriptions, a USB name with spaces a [usb] name" \
	"[pci intel-m1-drive]
device = 8086:f1a8  Non-Volatile memory controller
[pci nvidia-rtx-2070-super]
device = 10de:1e84  VGA compatible controller
device = 10de:10f8  HD Audio Controller
device = 10de:1ad8  Host Controller
device = 10de:1ad9  USB Type-C UCSI Controller
[usb logitech-mouse-receiver]
device = 046d  Logitech Mouse Receiver
[usb varmillo-keyboard]
device = 0416  Varmillo Keyboard" "$(sed -n '/^\[pci\|^\[usb\|^device/p' "$(j seed-sets map/path)")"
check "seed-sets: cpu-type intel: intel_iommu=on iommu=pt" '["intel_iommu=on", "iommu=pt"]' "$(j seed-sets kernelParams)"
check "seed-sets: vfio-pci before the initrd's GPU driver (NixOS loads the initrd's modules in no fixed order)" \
	"$(body "$work/seed-sets.root/etc/modprobe.d/vfio-hook.conf")
softdep amdgpu pre: vfio-pci" "$(j seed-sets extraModprobeConfig)"
"$here/fakesys" desktop -- "$bin" -c "$(j seed-sets map/path)" config >"$work/config.out" 2>&1
ran "seed-sets: vfio-hook config accepts the map on the seed's machine" $? "$work/config.out"

## services.vfio-hook.settings: the README's map, devices moved per start
system native native.nix default
hooked native
same native
check "native: nothing at boot: no initrd modules, no modprobe options" '{} ' \
	"$(j native initrdKernelModules) $(j native extraModprobeConfig)"
check "native: the USB rule by vendor and product" 1 \
	"$(grep -c 'ATTR{idVendor}=="046d", ATTR{idProduct}=="c539", GROUP="kvm", MODE="0660"' "$(j native hostFiles/path)/etc/udev/rules.d/70-vfio-hook.rules")"
"$here/fakesys" desktop -- "$bin" -c "$(j native map/path)" config >"$work/config.out" 2>&1
ran "native: vfio-hook config: every entry matches the machine" $? "$work/config.out"
check "native: [vm] keys the module does not declare pass through" "host-display = handoff" \
	"$(grep '^host-display' "$(j native map/path)")"

# /etc/vfio-hook.ini on NixOS: a link to /etc/static/vfio-hook.ini, a link to the store file
# (root's, mode 0444). The map check looks at what the links lead to.
mkdir -p "$work/etc/static"
ln -s "$(j native map/path)" "$work/etc/static/vfio-hook.ini"
ln -s "$work/etc/static/vfio-hook.ini" "$work/etc/vfio-hook.ini"
[ "$(id -u)" -ne 0 ] || chown root:root "$(j native map/path)"
check "native: the map through NixOS's links, a store file, passes the owner and mode check" \
	"$(printf 'linux\nwin10')" "$("$bin" -c "$work/etc/vfio-hook.ini" config --names vm 2>&1)"
chmod 664 "$(j native map/path)"
check "native: ... a check that does look behind the links (a group-writable file is refused)" \
	"$work/etc/vfio-hook.ini: refused: writable by group or others (run: chmod go-w $work/etc/vfio-hook.ini)" \
	"$("$bin" -c "$work/etc/vfio-hook.ini" config --names vm 2>&1 | sed 's/^vfio-hook: //')"

## The README's configuration (On NixOS) evaluates, and its map passes the program's parser
awk '/^## On NixOS/ { f = 1 } f && /^# configuration.nix/ { g = 1; print "{"; next } g && /^```/ { print "}"; exit } g' \
	"$top/README.md" >"$work/readme.nix"
evaluate readme --argstr store "$work/store-readme" --arg config "$work/readme.nix" --argstr prefix "$inst"
ran "README's configuration evaluates" "$rc" "$work/readme.err"
mapf=$(j readme map/path)
mkdir -p "$(dirname "$mapf")"; j readme map/text >"$mapf"; chmod 444 "$mapf"
target=$mapf sh -ec "$(j readme map/checkPhase)" 2>"$work/readme.check"
ran "README's configuration: its map passes the program's parser" $? "$work/readme.check"
check "README's configuration: the VM it gives the GPU" "win10" "$("$bin" -c "$mapf" config --names vm 2>&1)"

## Every path of the package that the package and the module name is installed
missing=""
for p in $(grep -oh "$inst/[A-Za-z0-9_./-]*" "$work"/*.json "$work/makeflags" "$work/installflags" | sort -u); do
	[ -e "$p" ] || missing="$missing $p"
done
check "the paths the package and the systems name under the package are installed (and some are)" \
	"yes " "$(grep -qh "$inst/bin/vfio-hook" "$work"/*.json && echo yes) $missing"

## Wrong values: refused by the module system, naming the option, as NixOS would
seed='vfio.enable = true; vfio.cpu-type = "amd"; vfio.users = [ "alice" ]; vfio.pcie-ids = [ "10de:1e84" ];'
refused bad-id "{ $seed vfio.usb-ids = [ \"046d:c53\" ]; }" "vfio.usb-ids"
refused bad-pcie-id "{ vfio.enable = true; vfio.cpu-type = \"amd\"; vfio.users = [ \"alice\" ]; vfio.pcie-ids = [ \"10de-1e84\" ]; }" "vfio.pcie-ids"
refused bad-cpu "{ vfio.enable = true; vfio.cpu-type = \"amd_iommu=on\"; vfio.users = [ \"alice\" ]; vfio.pcie-ids = [ \"10de:1e84\" ]; }" "vfio.cpu-type"
refused user-number "{ vfio.enable = true; vfio.cpu-type = \"amd\"; vfio.users = [ 1000 ]; vfio.pcie-ids = [ \"10de:1e84\" ]; }" "vfio.users"
refused no-cpu "{ vfio.enable = true; vfio.users = [ \"alice\" ]; vfio.pcie-ids = [ \"10de:1e84\" ]; }" "vfio.cpu-type"
refused no-users "{ vfio.enable = true; vfio.cpu-type = \"amd\"; vfio.pcie-ids = [ \"10de:1e84\" ]; }" "vfio.users: list the users"
refused auto "{ services.vfio-hook.enable = true; services.vfio-hook.settings.host.iommu = \"auto\"; }" \
	"services.vfio-hook.settings.host.iommu"
refused comment "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = \"amd\"; pci.gpu.device = [ \"10de:1e84 VGA ; mine\" ]; }; }" \
	"services.vfio-hook.settings.pci.gpu.device"
refused unknown-section "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = \"amd\"; hosts.users = [ \"alice\" ]; }; }" \
	"services.vfio-hook.settings.hosts"
# What the module writes into the map's headers and keys: never a line, a section or a comment of its own.
refused vm-name-newline "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = \"amd\"; pci.gpu.device = [ \"10de:1e84\" ]; vm.\"win10]\\n[options]\\nevict = shutdown\\n[vm linux\".pci = [ \"gpu\" ]; }; }" \
	"services.vfio-hook.settings.vm: a VM name the map cannot hold"
refused vm-name-comment "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = \"amd\"; pci.gpu.device = [ \"10de:1e84\" ]; vm.\"Win 11 ; test\".pci = [ \"gpu\" ]; }; }" \
	"services.vfio-hook.settings.vm: a VM name the map cannot hold (Win 11 ; test)"
refused vm-key-newline "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = \"amd\"; pci.gpu.device = [ \"10de:1e84\" ]; vm.test.\"evict = detach\\npci = gpu\\n[vm backup]\\nhost-display\" = \"handoff\"; }; }" \
	"services.vfio-hook.settings.vm.\"test\": keys are lowercase words of the map"
refused options-key "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = \"amd\"; options.\"uri = x\\n[vm a]\\npci\" = \"gpu\"; }; }" \
	"services.vfio-hook.settings.options: keys are lowercase words of the map"
refused early-address "{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host = { iommu = \"amd\"; early = true; }; pci.nvme.device = [ \"0000:01:00.0\" ]; }; }" \
	"services.vfio-hook.settings.host.early: 0000:01:00.0: a function pinned by address"
# The declarations are NixOS's types, not looser ones: values NixOS refuses are refused.
native='services.vfio-hook = { enable = true; settings.host.iommu = "amd"; };'
refused nixos-kernel-param "{ $native boot.kernelParams = [ \"iommu=pt amd_iommu=on\" ]; }" "boot.kernelParams"
refused nixos-limit "{ $native security.pam.loginLimits = [ { domain = \"alice\"; item = \"memlok\"; value = 1; } ]; }" \
	"security.pam.loginLimits"
refused nixos-hook "{ $native virtualisation.libvirtd.hooks.qemu.x = \"vfio-hook\"; }" "virtualisation.libvirtd.hooks.qemu.x"
# A mistake only the program's parser sees fails the map's build, with its FILE:LINE line.
printf '%s\n' '{ services.vfio-hook.enable = true; services.vfio-hook.settings = { host.iommu = "amd"; vm.win10.pci = [ "nosuch" ]; }; }' \
	>"$work/nosuch.nix"
evaluate nosuch --argstr store "$work/store-nosuch" --arg config "$work/nosuch.nix" --argstr prefix "$inst"
mapf=$(j nosuch map/path)
mkdir -p "$(dirname "$mapf")"; j nosuch map/text >"$mapf"
target=$mapf sh -ec "$(j nosuch map/checkPhase)" 2>"$work/nosuch.check"
rc=$?
check "a map the program refuses fails its build, with the program's FILE:LINE line" \
	"2 $mapf:$(grep -n '^pci = nosuch$' "$mapf" | cut -d: -f1): [vm win10] uses \"nosuch\"" "$rc $(sed 's/ but .*//' "$work/nosuch.check")"

tap_done
