{
  description = "vfio-hook: a libvirt QEMU hook that moves the PCI devices a map gives a VM to vfio-pci, and back";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs =
    { self, nixpkgs }:
    let
      system = "x86_64-linux";
      pkgs = nixpkgs.legacyPackages.${system};
    in
    {
      packages.${system} = {
        vfio-hook = pkgs.callPackage ./package.nix { };
        default = self.packages.${system}.vfio-hook;
      };

      overlays.default = final: _prev: { vfio-hook = final.callPackage ./package.nix { }; };

      nixosModules = {
        vfio-hook = ./module.nix;
        default = self.nixosModules.vfio-hook;
        # Where the NixOS module vfio-hook grew out of was: a configuration that imports
        # inputs.vfio-module.nixosModules."x86_64-linux".vfio changes only its input's URL.
        ${system}.vfio = self.nixosModules.vfio-hook;
      };
    };
}
