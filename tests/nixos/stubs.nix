# nixpkgs as far as etc/nixos/ uses it, for evaluation without nixpkgs: every package is a
# derivation-shaped set whose out path is a directory of the test (STORE/NAME), and the
# builders (writeTextFile, runCommand) keep what they would build (text, checkPhase,
# buildCommand) so that tests/nixos.sh can run it. libxml2Version picks the libxml2 release.
{
  lib,
  store,
  libxml2Version ? "2.13.8",
}:

let
  drv =
    name: attrs:
    attrs
    // {
      type = "derivation";
      inherit name;
      outPath = "${store}/${name}";
    };
  dep = name: drv name { version = "1.0"; };

  pkgs = {
    inherit lib;
    callPackage =
      fn: args:
      let
        f = if builtins.isFunction fn then fn else import fn;
      in
      f (builtins.intersectAttrs (builtins.functionArgs f) pkgs // args);
    stdenv = {
      cc.targetPrefix = "";
      hostPlatform.extensions.sharedLibrary = ".so";
      # The fixed point nixpkgs gives a (finalAttrs: ...) function.
      mkDerivation =
        f:
        let
          final = drv "${attrs.pname}-${attrs.version}" attrs;
          attrs = if builtins.isFunction f then f final else f;
        in
        final;
    };
    writeTextFile =
      {
        name,
        text,
        checkPhase ? "",
        ...
      }:
      drv name { inherit text checkPhase; };
    runCommand = name: env: buildCommand: drv name (env // { inherit buildCommand; });
    pkg-config = dep "pkg-config";
    libvirt = dep "libvirt";
    libxml2 = drv "libxml2" { version = libxml2Version; };
    inih = dep "inih";
    systemd = dep "systemd";
    versionCheckHook = dep "version-check-hook";
    kmod = dep "kmod";
  };
in
{
  inherit pkgs;
  # What a flake's nixpkgs input gives.
  nixpkgs = {
    inherit lib;
    legacyPackages.x86_64-linux = pkgs;
  };
  # A package installed by the test (make install) at PREFIX.
  installed = prefix: (drv "vfio-hook-installed" { meta.mainProgram = "vfio-hook"; }) // { outPath = prefix; };
}
