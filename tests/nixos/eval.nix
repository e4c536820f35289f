# Evaluates etc/nixos/ against nixpkgs' lib (LIB), the NixOS options the module sets
# (nixos-options.nix) and stub packages (stubs.nix), and returns what tests/nixos.sh checks.
#   what = "system":  CONFIG (a configuration module) through MODULE ("module": module.nix,
#                     "default": the flake's nixosModules.default, "seed": its
#                     nixosModules."x86_64-linux".vfio), with the package at PREFIX if given.
#   what = "package": package.nix through callPackage, and the flake's outputs.
# A failed assertion throws, as nixos-rebuild does.
{
  lib,
  store,
  what ? "system",
  config ? null,
  module ? "module",
  prefix ? "",
  libxml2Version ? "2.13.8",
}:

let
  nixLib = import (if builtins.pathExists (lib + "/lib/default.nix") then lib + "/lib" else lib);
  inherit (nixLib)
    concatMapStrings
    filter
    mapAttrs
    ;
  stubs = import ./stubs.nix {
    lib = nixLib;
    inherit store libxml2Version;
  };
  flake = (import ../../etc/nixos/flake.nix).outputs {
    self = flake;
    inherit (stubs) nixpkgs;
  };
  modules = {
    module = ../../etc/nixos/module.nix;
    default = flake.nixosModules.default;
    seed = flake.nixosModules."x86_64-linux".vfio;
  };

  system =
    let
      eval = nixLib.evalModules {
        modules = [
          ./nixos-options.nix
          modules.${module}
          config
          { _module.args.pkgs = stubs.pkgs; }
        ]
        ++ nixLib.optional (prefix != "") { services.vfio-hook.package = stubs.installed prefix; };
      };
      c = eval.config;
      failed = map (a: a.message) (filter (a: !a.assertion) c.assertions);
      etc = mapAttrs (_: e: {
        inherit (e) mode;
        source = "${e.source}";
      }) c.environment.etc;
      mapFile = c.environment.etc."vfio-hook.ini".source;
      inherit (c.services.vfio-hook) hostFiles;
    in
    if failed != [ ] then
      throw "Failed assertions:\n${concatMapStrings (m: "- ${m}\n") failed}"
    else
      {
        etcMap = etc."vfio-hook.ini" or null;
        etcModulesLoad = etc."modules-load.d/vfio-hook.conf" or null;
        map = {
          inherit (mapFile) text checkPhase;
          path = "${mapFile}";
        };
        hostFiles = {
          inherit (hostFiles) buildCommand;
          path = "${hostFiles}";
        };
        kernelParams = c.boot.kernelParams;
        initrdKernelModules = c.boot.initrd.kernelModules;
        extraModprobeConfig = c.boot.extraModprobeConfig;
        udevPackages = map toString c.services.udev.packages;
        # As NixOS writes them (makeLimitsConf in nixos/modules/security/pam.nix).
        limits = concatMapStrings (l: "${l.domain} ${l.type} ${l.item} ${toString l.value}\n") c.security.pam.loginLimits;
        users = mapAttrs (_: u: u.extraGroups) c.users.users;
        groups = builtins.attrNames c.users.groups;
        systemPackages = map toString c.environment.systemPackages;
        hooks = mapAttrs (_: toString) c.virtualisation.libvirtd.hooks.qemu;
        libvirtdPath = map toString (c.systemd.services.libvirtd.path or [ ]);
        inherit (c) warnings;
      };

  package =
    let
      p = flake.packages.x86_64-linux.default;
      names = map (d: d.name);
    in
    {
      inherit (p)
        pname
        version
        strictDeps
        enableParallelBuilding
        makeFlags
        installFlags
        doCheck
        doInstallCheck
        postInstallCheck
        ;
      nativeBuildInputs = names p.nativeBuildInputs;
      buildInputs = names p.buildInputs;
      nativeInstallCheckInputs = names p.nativeInstallCheckInputs;
      inherit (p.meta) description mainProgram;
      license = p.meta.license.spdxId;
      linux = builtins.elem "x86_64-linux" p.meta.platforms && builtins.elem "aarch64-linux" p.meta.platforms;
      # The repository this file is in, cleaned (compared as paths: nothing is copied).
      srcIsTheTree = p.src.origSrc == ../..;
      placeholder = builtins.placeholder "out";
      # The flake's outputs: one package, one module, under every name they are given.
      sameEverywhere =
        flake.packages.x86_64-linux.vfio-hook.name == p.name
        && (flake.overlays.default stubs.pkgs stubs.pkgs).vfio-hook.name == p.name
        && stubs.pkgs.callPackage ../../etc/nixos/package.nix { } == p;
      modules = {
        default = flake.nixosModules.default == ../../etc/nixos/module.nix;
        vfio-hook = flake.nixosModules.vfio-hook == ../../etc/nixos/module.nix;
        seed = flake.nixosModules."x86_64-linux".vfio == ../../etc/nixos/module.nix;
      };
    };
in
{ inherit system package; }.${what}
