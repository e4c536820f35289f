# The NixOS options etc/nixos/module.nix sets, declared with the types nixpkgs gives them (its
# nixos/modules, 2025), so that a value NixOS would refuse is refused here too, with the
# option's name. lib has no nixos/: only what the module touches is here.
{ lib, ... }:

let
  inherit (lib) mkOption types;
  # boot.kernelModules and boot.initrd.kernelModules since 2025: a list is still taken.
  attrNamesToTrue = types.coercedTo (types.listOf types.str) (
    enabledList: lib.genAttrs enabledList (_attrName: true)
  ) (types.attrsOf types.bool);
  # security.pam.loginLimits (nixos/modules/security/pam.nix).
  limitsType = types.listOf (
    types.submodule {
      options = {
        domain = mkOption { type = types.str; };
        type = mkOption {
          type = types.enum [
            "-"
            "hard"
            "soft"
          ];
          default = "-";
        };
        item = mkOption {
          type = types.enum [
            "core"
            "data"
            "fsize"
            "memlock"
            "nofile"
            "rss"
            "stack"
            "cpu"
            "nproc"
            "as"
            "maxlogins"
            "maxsyslogins"
            "priority"
            "locks"
            "sigpending"
            "msgqueue"
            "nice"
            "rtprio"
          ];
        };
        value = mkOption {
          type = types.oneOf [
            types.str
            types.int
          ];
        };
      };
    }
  );
in
{
  options = {
    assertions = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    warnings = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    boot.kernelParams = mkOption {
      type = types.listOf (types.strMatching ''([^"[:space:]]|"[^"]*")+'');
      default = [ ];
    };
    boot.kernelModules = mkOption {
      type = attrNamesToTrue;
      default = { };
    };
    boot.initrd.kernelModules = mkOption {
      type = attrNamesToTrue;
      default = { };
    };
    boot.extraModprobeConfig = mkOption {
      type = types.lines;
      default = "";
    };
    services.udev.extraRules = mkOption {
      type = types.lines;
      default = "";
    };
    services.udev.packages = mkOption {
      type = types.listOf types.path;
      default = [ ];
    };
    security.pam.loginLimits = mkOption {
      type = limitsType;
      default = [ ];
    };
    users.users = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.extraGroups = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          options.isNormalUser = mkOption {
            type = types.bool;
            default = false;
          };
        }
      );
      default = { };
    };
    users.groups = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.gid = mkOption {
            type = types.nullOr types.int;
            default = null;
          };
          options.members = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
        }
      );
      default = { };
    };
    environment.etc = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              enable = mkOption {
                type = types.bool;
                default = true;
              };
              target = mkOption {
                type = types.str;
                default = name;
              };
              text = mkOption {
                type = types.nullOr types.lines;
                default = null;
              };
              source = mkOption { type = types.path; };
              mode = mkOption {
                type = types.str;
                default = "symlink";
              };
              user = mkOption {
                type = types.str;
                default = "+0";
              };
              group = mkOption {
                type = types.str;
                default = "+0";
              };
            };
          }
        )
      );
      default = { };
    };
    environment.systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    virtualisation.libvirtd.enable = mkOption {
      type = types.bool;
      default = false;
    };
    virtualisation.libvirtd.hooks.qemu = mkOption {
      type = types.attrsOf types.path;
      default = { };
    };
    systemd.services = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.path = mkOption {
            type = types.listOf (
              types.oneOf [
                types.package
                types.str
              ]
            );
            default = [ ];
          };
        }
      );
      default = { };
    };
  };
}
