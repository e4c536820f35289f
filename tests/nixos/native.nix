# services.vfio-hook as a new user writes it: the README's map, per-VM binding (early off).
{
  services.vfio-hook = {
    enable = true;
    settings = {
      options = {
        timeout = 15;
        evict = "shutdown";
        giveback = true;
      };
      host = {
        users = [ "alice" ];
        memlock = 16777216;
        iommu = "intel";
      };
      pci.nvidia-rtx-2070-super.device = [
        "10de:1e84  VGA compatible controller"
        "10de:10f8  HD Audio Controller"
        "10de:1ad8  USB 3.1 Host Controller"
        "10de:1ad9  USB Type-C UCSI Controller"
      ];
      pci.intel-m1-drive.device = [ "0000:01:00.0  Non-Volatile memory controller" ];
      usb.logitech-receiver.device = [ "046d:c539  Lightspeed Receiver" ];
      vm.win10 = {
        pci = [
          "nvidia-rtx-2070-super"
          "intel-m1-drive"
        ];
        usb = [ "logitech-receiver" ];
      };
      vm.linux = {
        pci = [ "nvidia-rtx-2070-super" ];
        host-display = "handoff";
      };
    };
  };
  virtualisation.libvirtd.enable = true;
}
