# NixOS module for vfio-hook, in two layers:
# - services.vfio-hook.*: enable, package, and settings (RFC 42: the device map as Nix values,
#   rendered to /etc/vfio-hook.ini and checked by the program's own parser when it is built);
# - vfio.*: the options of the NixOS module vfio-hook grew out of, mapped onto settings, so a
#   configuration written for it keeps working with only its flake input changed.
# What the map's [host] asks of the system comes from the program itself: its files are those
# `vfio-hook setup --root` writes, made in a derivation (the udev rules, the modules to load);
# what NixOS takes only as values (kernel parameters, limits, groups, the initrd's modprobe
# options) is computed here the way setup computes it, and the project's tests compare the two.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  inherit (lib)
    concatLists
    concatMap
    concatMapStrings
    concatMapStringsSep
    concatStringsSep
    filter
    filterAttrs
    getExe
    hasInfix
    hasPrefix
    isAttrs
    isBool
    isList
    isString
    literalExpression
    mapAttrsToList
    mkDefault
    mkEnableOption
    mkIf
    mkMerge
    mkOption
    optional
    optionals
    toLower
    types
    unique
    ;

  cfg = config.services.vfio-hook;
  host = cfg.settings.host;
  seed = config.vfio;

  # ---- Values of the map ----

  # One line of the map: inih ends a value at a newline, and at " ;" (a comment).
  mapLine =
    types.addCheck types.str (s: !(hasInfix "\n" s || hasInfix " ;" s || hasInfix "\t;" s))
    // {
      description = "single-line string without \" ;\" (which would start a comment in the map)";
    };
  # A word of a list the map splits at spaces: a section name, an id or an address.
  mapWord = types.strMatching "[^[:space:];#,]+";
  hex4 = "[0-9a-fA-F]{4}";
  pciIdRe = "${hex4}:${hex4}";
  pciAddrRe = "(${hex4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-7]";
  usbIdRe = "${hex4}(:${hex4})?";
  # "ID [description]": what a device line of a [pci] or [usb] section holds.
  deviceLine = re: types.addCheck (types.strMatching "(${re})([ \t]+[^\n]*)?") mapLine.check;
  pciId = types.strMatching pciIdRe;
  usbId = types.strMatching usbIdRe;
  # As useradd takes it: what /etc/group and limits.d can hold (the map's parser checks the same).
  userName = types.strMatching "[A-Za-z_][A-Za-z0-9._-]*[$]?";
  # [pci NAME], [usb NAME]: the names the map's parser accepts.
  setNameRe = "[A-Za-z0-9_.+-]+";
  # [vm NAME]: a libvirt domain name the map can hold in its header: no control character (a
  # newline would begin a section of its own), no '/' or ']', no space at either end, and no
  # " ;" or " #", which the map's parser reads as the start of a comment.
  vmNameOk = n: builtins.match "[^]/[:cntrl:]]+" n != null && builtins.match "( .*|.* |.* [;#].*)" n == null;
  # A key of [options], [host] or [vm]: a word of the map's, never a line of its own.
  keyRe = "[a-z][a-z0-9-]*";

  atom = types.oneOf [
    types.bool
    types.int
    mapLine
  ];
  # Any key of a section the map knows more keys for than are declared here ([options], [vm]).
  freeformSection =
    options:
    types.submodule {
      freeformType = types.attrsOf (types.either atom (types.listOf atom));
      inherit options;
    };

  settingsType = types.submodule {
    options = {
      options = mkOption {
        type = freeformSection { };
        default = { };
        example = {
          evict = "shutdown";
          giveback = true;
        };
        description = "The map's `[options]`: uri, timeout, evict, giveback, host-display, ... (vfio-hook.ini(5)).";
      };
      host = mkOption {
        default = { };
        description = "The map's `[host]`: what the system is given for the map's devices.";
        type = types.submodule {
          options = {
            users = mkOption {
              type = types.listOf userName;
              default = [ ];
              example = [ "alice" ];
              description = ''
                Users who may use the VFIO devices and the mapped USB devices from
                qemu:///session: they join group kvm, and udev gives `/dev/vfio/*` and each
                `[usb]` device (by vendor and product where both are given) to group kvm, mode 0660.
              '';
            };
            memlock = mkOption {
              type = types.nullOr (types.either (types.enum [ "unlimited" ]) types.ints.positive);
              default = null;
              example = "unlimited";
              description = "Those users' locked-memory limit in KiB, or `\"unlimited\"` (a VM with a passed-through device locks all its memory).";
            };
            iommu = mkOption {
              # "auto" reads the CPU of the machine setup runs on: a system may be built on another.
              type = types.enum [
                "intel"
                "amd"
                "off"
              ];
              example = "amd";
              description = ''
                The CPU's IOMMU: `intel` adds `intel_iommu=on iommu=pt` to the kernel command line,
                `amd` adds `iommu=pt` (the AMD IOMMU is on by default; `amd_iommu=on` is not a valid
                value), `off` adds nothing.
              '';
            };
            early = mkOption {
              type = types.bool;
              default = false;
              description = ''
                Bind the map's PCI ids to vfio-pci at boot (in the initrd), for devices the host must
                never use. By default the hook moves a VM's devices when it starts and gives them back
                when it stops.
              '';
            };
          };
        };
      };
      pci = mkOption {
        default = { };
        example = {
          nvidia-rtx-2070-super.device = [
            "10de:1e84  VGA compatible controller"
            "10de:10f8  HD Audio Controller"
          ];
        };
        description = "`[pci NAME]` sections: one `device = ID [description]` line per entry, ID a vendor:device id or an address.";
        type = types.attrsOf (
          types.submodule {
            options.device = mkOption { type = types.listOf (deviceLine "${pciIdRe}|${pciAddrRe}"); };
          }
        );
      };
      usb = mkOption {
        default = { };
        example = {
          logitech-receiver.device = [ "046d:c539  Lightspeed Receiver" ];
        };
        description = "`[usb NAME]` sections: one `device = vvvv[:pppp] [description]` line per entry.";
        type = types.attrsOf (
          types.submodule {
            options.device = mkOption { type = types.listOf (deviceLine usbIdRe); };
          }
        );
      };
      vm = mkOption {
        default = { };
        example = {
          win10 = {
            pci = [ "nvidia-rtx-2070-super" ];
            usb = [ "logitech-receiver" ];
          };
        };
        description = "`[vm NAME]` sections, NAME the libvirt domain: `pci`, `usb` (section names or ids), and any other key of the map's `[vm]`.";
        type = types.attrsOf (freeformSection {
          pci = mkOption {
            type = types.listOf mapWord;
            default = [ ];
          };
          usb = mkOption {
            type = types.listOf mapWord;
            default = [ ];
          };
        });
      };
    };
  };

  # ---- The map ----

  render = v: if isBool v then (if v then "yes" else "no") else toString v;
  # A device list is a line per entry (descriptions have spaces); other lists are one line.
  renderKey =
    name: v:
    if v == null || v == [ ] then
      [ ]
    else if isList v && name == "device" then
      map (d: "device = ${render d}") v
    else if isList v then
      [ "${name} = ${concatMapStringsSep " " render (unique v)}" ]
    else
      [ "${name} = ${render v}" ];
  renderSection =
    header: attrs:
    [ "[${header}]" ] ++ concatLists (mapAttrsToList renderKey (removeAttrs attrs [ "_module" ])) ++ [ "" ];
  renderKind = kind: sections: concatLists (mapAttrsToList (name: renderSection "${kind} ${name}") sections);

  mapText = concatStringsSep "\n" (
    [
      "; Made by NixOS from services.vfio-hook.settings: change it there (vfio-hook.ini(5) explains each key)."
      ""
    ]
    ++ optionals (removeAttrs cfg.settings.options [ "_module" ] != { }) (renderSection "options" cfg.settings.options)
    ++ renderSection "host" host
    ++ renderKind "pci" cfg.settings.pci
    ++ renderKind "usb" cfg.settings.usb
    ++ renderKind "vm" cfg.settings.vm
  );

  mapFile = pkgs.writeTextFile {
    name = "vfio-hook.ini";
    text = mapText;
    # The program's own parser, when the system is built: a mistake fails the build with its
    # FILE:LINE line instead of the next VM start.
    checkPhase = ''
      ${getExe cfg.package} -c "$target" config --names vm >/dev/null
    '';
  };

  # ---- What setup writes for the map's [host] ----

  hostFilePaths = [
    "etc/modules-load.d/vfio-hook.conf"
    "etc/modprobe.d/vfio-hook.conf"
    "etc/udev/rules.d/70-vfio-hook.rules"
    "etc/security/limits.d/vfio-hook.conf"
  ];
  # The program's setup into a directory of the build's own (no /etc/NIXOS there). It checks the
  # users' accounts and group kvm in that root: NixOS makes them from users.users, so they are
  # given to it. Like a build, it sees no PCI device: early binding is by id only.
  hostFiles = pkgs.runCommand "vfio-hook-host-files" { } ''
    root=$PWD/root
    mkdir -p "$root/etc"
    cat >"$root/etc/passwd" <<'EOF'
    ${concatMapStringsSep "\n" (u: "${u}:x:1000:100::/var/empty:/bin/sh") (unique host.users)}
    EOF
    printf 'kvm:x:302:\n' >"$root/etc/group"
    ${getExe cfg.package} -c ${mapFile} setup --root "$root" >/dev/null
    for f in ${concatStringsSep " " hostFilePaths}; do
      if [ -e "$root/$f" ]; then install -D -m 644 "$root/$f" "$out/$f"; fi
    done
  '';

  # What early binding binds, as setup finds it: the [pci] sections' ids and addresses, then
  # those a [vm] lists itself.
  pciSelectors =
    concatMap (s: map (d: builtins.head (builtins.split "[ \t]" d)) s.device) (builtins.attrValues cfg.settings.pci)
    ++ concatMap (v: v.pci) (builtins.attrValues cfg.settings.vm);
  earlyIds = unique (map toLower (filter (t: builtins.match pciIdRe t != null) pciSelectors));
  earlyAddresses = filter (t: builtins.match pciAddrRe t != null) pciSelectors;
  vfioModules = [
    "vfio_pci"
    "vfio"
    "vfio_iommu_type1"
  ];
  # NixOS loads the initrd's modules in no fixed order (an attribute set since 2025): vfio-pci goes
  # before each of the others, so a GPU driver loaded there cannot take a device first.
  initrdModules =
    let
      m = config.boot.initrd.kernelModules;
    in
    filter (n: !hasPrefix "vfio" n) (
      if isAttrs m then builtins.attrNames (filterAttrs (_: on: on) m) else m
    );

  iommuParams =
    {
      intel = [
        "intel_iommu=on"
        "iommu=pt"
      ];
      amd = [ "iommu=pt" ];
      off = [ ];
    }
    .${host.iommu};

  # ---- The seed's options ----

  # Its names may hold spaces ("Logitech Mouse Receiver"); the map's section names may not.
  sectionName =
    name:
    let
      words = filter (w: isString w && w != "") (builtins.split "[^a-z0-9_.+]+" (toLower name));
    in
    if words == [ ] then "device" else concatStringsSep "-" words;
  withDescription = id: description: if description == "" then id else "${id}  ${description}";
  # The seed's list of plain ids and named sets as sections: the plain ids in one named after
  # the option, each set (LINES: its device lines) in one of its name; equal names together.
  seedSections =
    entries: plainName: lines:
    builtins.mapAttrs (_: ls: { device = unique (concatLists ls); }) (
      lib.zipAttrsWith (_: vs: vs) (
        optional (builtins.any isString entries) { ${plainName} = filter isString entries; }
        ++ map (e: { ${sectionName e.name} = lines e; }) (filter isAttrs entries)
      )
    );
  seedPci = seedSections seed.pcie-ids "pcie-ids" (s: map (i: withDescription i.id i.description) s.ids);
  seedUsb = seedSections seed.usb-ids "usb-ids" (u: [ (withDescription u.id u.name) ]);
in
{
  options.services.vfio-hook = {
    enable = mkEnableOption "vfio-hook, the libvirt QEMU hook that moves the mapped PCI devices of a starting VM to vfio-pci, and back when it stops";

    package = mkOption {
      type = types.package;
      default = pkgs.callPackage ./package.nix { };
      defaultText = literalExpression "pkgs.callPackage ./package.nix { }";
      description = "The vfio-hook package: the hook, and the command line (also as `vfio`).";
    };

    hostFiles = mkOption {
      type = types.package;
      readOnly = true;
      internal = true;
      default = hostFiles;
      description = "What `vfio-hook setup --root` writes for the map's `[host]`, built: the files this module installs.";
    };

    settings = mkOption {
      type = settingsType;
      default = { };
      description = ''
        The device map, /etc/vfio-hook.ini, as Nix values: `options`, `host`, and attribute sets of
        `pci`, `usb` and `vm` sections (vfio-hook.ini(5)). Lists become one `device =` line per
        entry, other lists one line of words; booleans yes or no.
      '';
      example = literalExpression ''
        {
          host = { users = [ "alice" ]; memlock = "unlimited"; iommu = "amd"; };
          pci.nvidia-rtx-2070-super.device = [ "10de:1e84  VGA compatible controller" "10de:10f8  HD Audio Controller" ];
          vm.win10.pci = [ "nvidia-rtx-2070-super" ];
        }
      '';
    };
  };

  # The options of the NixOS module vfio-hook grew out of (its README: vfio.enable, pcie-ids,
  # cpu-type, users, usb-ids, pam-fix.enable, script.enable), with the same meaning.
  options.vfio = {
    enable = mkEnableOption "VFIO passthrough as the vfio.* options describe it (through services.vfio-hook)";
    pcie-ids = mkOption {
      type = types.listOf (
        types.either pciId (
          types.submodule {
            options = {
              name = mkOption { type = types.str; };
              ids = mkOption {
                type = types.listOf (
                  types.submodule {
                    options = {
                      id = mkOption { type = pciId; };
                      description = mkOption {
                        type = mapLine;
                        default = "";
                      };
                    };
                  }
                );
              };
            };
          }
        )
      );
      default = [ ];
      example = [ "10de:1e84" ];
      description = "PCI ids (vendor:device) bound to vfio-pci at boot: plain strings, or `{ name; ids = [ { id; description; } ]; }` sets (each a `[pci NAME]` section).";
    };
    cpu-type = mkOption {
      type = types.enum [
        "amd"
        "intel"
      ];
      description = "The CPU's vendor, for the IOMMU's kernel parameters (settings.host.iommu).";
    };
    users = mkOption {
      type = types.listOf userName;
      default = [ ];
      description = "Users allowed to use the VFIO devices (settings.host.users: group kvm).";
    };
    usb-ids = mkOption {
      type = types.listOf (
        types.either usbId (
          types.submodule {
            options = {
              name = mkOption { type = mapLine; };
              id = mkOption { type = usbId; };
            };
          }
        )
      );
      default = [ ];
      example = [ "046d:c539" ];
      description = "USB devices (vendor, or vendor:product) for hot-plug and the users' udev rules: plain strings or `{ name; id; }` sets.";
    };
    pam-fix.enable = mkEnableOption "an unlimited locked-memory limit for those users (settings.host.memlock)";
    script.enable = mkEnableOption "the command line (always installed: `vfio groups`, `vfio swap VM DEVICE`, `vfio add VM DEVICE`)";
  };

  config = mkMerge [
    (mkIf seed.enable {
      assertions = [
        {
          assertion = seed.users != [ ];
          message = "vfio.users: list the users allowed to use VFIO devices.";
        }
        {
          assertion = seed.pcie-ids != [ ];
          message = "vfio.pcie-ids: list the PCI ids to pass through.";
        }
      ];
      services.vfio-hook = {
        enable = true;
        settings = {
          host = {
            inherit (seed) users;
            iommu = seed.cpu-type;
            memlock = mkIf seed.pam-fix.enable "unlimited";
            # Those devices went to vfio-pci at boot: they still do.
            early = mkDefault true;
          };
          pci = seedPci;
          usb = seedUsb;
        };
      };
    })

    (mkIf cfg.enable {
      assertions =
        map (kind: {
          assertion = builtins.all (n: builtins.match setNameRe n != null) (builtins.attrNames cfg.settings.${kind});
          message = "services.vfio-hook.settings.${kind}: section names are letters, digits, '-', '_', '.' and '+' (${concatStringsSep ", " (builtins.attrNames cfg.settings.${kind})}).";
        }) [ "pci" "usb" ]
        ++ [
          {
            assertion = builtins.all vmNameOk (builtins.attrNames cfg.settings.vm);
            message = "services.vfio-hook.settings.vm: a VM name the map cannot hold (${concatStringsSep ", " (builtins.filter (n: !vmNameOk n) (builtins.attrNames cfg.settings.vm))}): no control characters, '/' or ']', no space at either end, no \" ;\" or \" #\"; rename the domain (virsh domrename).";
          }
        ]
        ++ map (section: {
          assertion = builtins.all (k: builtins.match keyRe k != null) (builtins.attrNames section.value);
          message = "services.vfio-hook.settings.${section.name}: keys are lowercase words of the map (vfio-hook.ini(5)), not ${concatStringsSep ", " (builtins.filter (k: builtins.match keyRe k == null) (builtins.attrNames section.value))}.";
        }) ([ { name = "options"; value = cfg.settings.options; } { name = "host"; value = cfg.settings.host; } ]
          ++ lib.mapAttrsToList (n: v: { name = "vm.\"${n}\""; value = v; }) cfg.settings.vm)
        ++ [
          {
            assertion = host.memlock == null || host.users != [ ];
            message = "services.vfio-hook.settings.host.memlock is for the users of settings.host.users: list them.";
          }
          {
            assertion = !host.early || earlyIds != [ ];
            message = "services.vfio-hook.settings.host.early: the map lists no PCI id to bind at boot (add [pci] sections, or set early = false).";
          }
          {
            assertion = !host.early || earlyAddresses == [ ];
            message = "services.vfio-hook.settings.host.early: ${concatStringsSep " " earlyAddresses}: a function pinned by address is bound at boot through its host driver's module, which a NixOS build cannot see: name it by its id, or set early = false (the hook then moves it when its VM starts).";
          }
        ];
      warnings = optional (!config.virtualisation.libvirtd.enable) "services.vfio-hook: virtualisation.libvirtd.enable is false: libvirt, which runs the hook, is not installed.";

      environment.systemPackages = [ cfg.package ];
      environment.etc."vfio-hook.ini".source = mapFile;
      # libvirtd-config.service links each entry into /var/lib/libvirt/hooks/qemu.d/, where
      # NixOS's libvirt looks for hooks.
      virtualisation.libvirtd.hooks.qemu.vfio-hook = getExe cfg.package;
      # The hook loads drivers with modprobe; libvirtd's PATH has no kmod on NixOS.
      systemd.services.libvirtd.path = mkIf config.virtualisation.libvirtd.enable [ pkgs.kmod ];

      environment.etc."modules-load.d/vfio-hook.conf".source = "${hostFiles}/etc/modules-load.d/vfio-hook.conf";
      services.udev.packages = optional (host.users != [ ]) hostFiles;
      boot.kernelParams = iommuParams;
      boot.initrd.kernelModules = mkIf host.early vfioModules;
      boot.extraModprobeConfig = mkIf host.early (
        concatMapStrings (l: "${l}\n") (
          [
            "# Bind these ids to vfio-pci at boot, before any host driver can take them."
            "options vfio-pci ids=${concatStringsSep "," earlyIds}"
          ]
          ++ map (m: "softdep ${m} pre: vfio-pci") initrdModules
        )
      );

      users.groups.kvm = { };
      users.users = lib.genAttrs (unique host.users) (_: {
        extraGroups = [ "kvm" ];
      });
      security.pam.loginLimits = optionals (host.memlock != null) (
        concatMap (
          u:
          map
            (type: {
              domain = u;
              inherit type;
              item = "memlock";
              value = host.memlock;
            })
            [
              "soft"
              "hard"
            ]
        ) (unique host.users)
      );
    })
  ];
}
