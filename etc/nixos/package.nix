# vfio-hook as nixpkgs packages a C program with a Makefile. libvirt and libxml2 are dlopen()ed
# by the code that uses them: NixOS has no /usr/lib and libvirt runs its hooks with a bare
# environment, so the build is given their absolute store paths (the Makefile's
# LIBVIRT_SONAME/LIBXML2_SONAME), never an LD_LIBRARY_PATH wrapper that would leak into the
# programs the hook starts (modprobe, systemctl).
{
  lib,
  stdenv,
  pkg-config,
  libvirt,
  libxml2,
  inih,
  systemd,
  versionCheckHook,
}:

stdenv.mkDerivation (finalAttrs: {
  pname = "vfio-hook";
  version = "0.1.0";

  # The repository this file is in (etc/nixos/ of it).
  src = lib.cleanSource ../..;

  strictDeps = true;
  enableParallelBuilding = true;

  nativeBuildInputs = [ pkg-config ];

  buildInputs = [
    libvirt
    libxml2
    inih
    systemd # libudev
  ];

  makeFlags = [
    "CC=${stdenv.cc.targetPrefix}cc"
    "PKG_CONFIG=${stdenv.cc.targetPrefix}pkg-config"
    # The Makefile stops when either file is missing, so a soname change cannot slip through.
    "LIBVIRT_SONAME=${lib.getLib libvirt}/lib/libvirt${stdenv.hostPlatform.extensions.sharedLibrary}.0"
    # libxml2 2.14 changed its soname from libxml2.so.2 to libxml2.so.16.
    "LIBXML2_SONAME=${lib.getLib libxml2}/lib/libxml2${stdenv.hostPlatform.extensions.sharedLibrary}.${
      if lib.versionAtLeast libxml2.version "2.14" then "16" else "2"
    }"
    # A newer compiler's new warnings must not fail a distribution's build.
    "WERROR="
  ];

  installFlags = [
    "PREFIX=${placeholder "out"}"
    "SBINDIR=${placeholder "out"}/bin"
    # The hook and the map are the NixOS module's (module.nix), not the package's.
    "HOOK=no"
  ];

  # The test suite needs umockdev, cmocka, QEMU and root: it runs in the project's CI.
  doCheck = false;

  nativeInstallCheckInputs = [ versionCheckHook ];
  doInstallCheck = true;
  # The name the NixOS module vfio-hook grew out of gave its commands is the same program.
  postInstallCheck = ''
    [ "$($out/bin/vfio --version)" = "vfio-hook ${finalAttrs.version}" ]
  '';

  meta = {
    description = "libvirt QEMU hook that moves PCI devices to vfio-pci for the VMs a map names, and back";
    longDescription = ''
      vfio-hook moves the PCI functions a device map gives a libvirt VM from their host
      drivers to vfio-pci when the VM starts, and gives them back when it stops, with every
      refusal one line saying what, where and how to fix it. Its command line lists IOMMU
      groups, checks the map and the host (doctor), swaps devices between VMs and hot-plugs
      USB devices. On NixOS, use its module (services.vfio-hook).
    '';
    license = lib.licenses.mit;
    platforms = lib.platforms.linux;
    mainProgram = "vfio-hook";
    maintainers = [ ];
  };
})
