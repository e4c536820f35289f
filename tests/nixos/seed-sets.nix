# The seed's README with its attribute-set examples (pcie-ids with names and descriptions,
# usb-ids with names that have spaces), on an Intel CPU.
{
  vfio.enable = true;
  vfio.cpu-type = "intel";
  vfio.users = [ "alice" ];
  vfio.pcie-ids = [
    {
      name = "nvidia-rtx-2070-super";
      ids = [
        {
          id = "10de:1e84";
          description = "VGA compatible controller";
        }
        {
          id = "10de:10f8";
          description = "HD Audio Controller";
        }
        {
          id = "10de:1ad8";
          description = "Host Controller";
        }
        {
          id = "10de:1ad9";
          description = "USB Type-C UCSI Controller";
        }
      ];
    }
    {
      name = "intel-m1-drive";
      ids = [
        {
          id = "8086:f1a8";
          description = "Non-Volatile memory controller";
        }
      ];
    }
  ];
  vfio.usb-ids = [
    {
      name = "Logitech Mouse Receiver";
      id = "046d";
    }
    {
      name = "Varmillo Keyboard";
      id = "0416";
    }
  ];
  vfio.pam-fix.enable = true;
  virtualisation.libvirtd.enable = true;
  # A host driver the initrd loads (early KMS): vfio-pci must come first.
  boot.initrd.kernelModules = [ "amdgpu" ];
}
