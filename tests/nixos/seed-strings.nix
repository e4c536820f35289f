# The seed's README, "Base Setup" with its plain-string examples (pcie-ids, usb-ids), pam-fix
# and the script: a configuration written for the NixOS module vfio-hook grew out of.
{
  vfio.enable = true;
  vfio.cpu-type = "amd";
  vfio.users = [
    "alice"
    "bob"
  ];
  vfio.pcie-ids = [
    "10de:1e84"
    "10de:10f8"
    "10de:1ad8"
    "10de:1ad9"
    "8086:f1a8"
  ];
  vfio.usb-ids = [
    "046d"
    "0416"
  ];
  vfio.pam-fix.enable = true;
  vfio.script.enable = true;
  # The rest of such a configuration.
  virtualisation.libvirtd.enable = true;
}
