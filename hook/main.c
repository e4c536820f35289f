/* SPDX-License-Identifier: MIT */
/* Dispatch only: libvirt's hook argv, or the command line tool. */
#include "actions.h"
#include "config.h"
#include "discover.h"
#include "doctor.h"
#include "groups.h"
#include "hook.h"
#include "log.h"
#include "resolve.h"
#include "setup.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#ifndef VERSION
#define VERSION "0.0"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vfio-hook [-c FILE] COMMAND\n"
		"       vfio-hook [-c FILE] --check VM [--xml FILE]\n"
		"Moves PCI devices to vfio-pci for the libvirt VMs they are mapped to, and back.\n"
		"\n"
		"Commands:\n"
		"  groups [--json]   list IOMMU groups, each function as lspci -nn shows it, its driver\n"
		"                    and which VMs of the map get it\n"
		"  config            check the device map and show what each VM gets on this machine\n"
		"  config --names vm|pci|usb\n"
		"                    print the map's [vm], [pci] or [usb] section names, one a line (for\n"
		"                    shell completion)\n"
		"  doctor [--json]   check that this host is ready for passthrough (firmware, kernel, libvirt,\n"
		"                    the map, each mapped device): PASS/WARN/FAIL lines with the fix; exit 1\n"
		"                    if anything FAILs. Read-only; run as root to check everything\n"
		"  setup [--dry-run] [--root DIR]\n"
		"                    write the host configuration the map's [host] section asks for (vfio\n"
		"                    modules, boot-time binding, udev rules, group kvm, memlock, IOMMU\n"
		"                    kernel parameters), then print what is left to do; --dry-run: print\n"
		"                    the diff only; --root: write under DIR instead of /\n"
		"  setup --undo [--root DIR]\n"
		"                    remove what setup wrote, except files edited since\n"
		"  status            every mapped function: driver, VMs, the running VM using it; open records\n"
		"  restore VM|--all  give back to the host what a VM's start moved (after a crash)\n"
		"  swap [--force] [--config] VM DEVICE\n"
		"                    move a PCI device ([pci] name: the whole set; vendor:device; address)\n"
		"                    into the running VM VM, taking it from the VM that has it (evict\n"
		"                    policy; --force: shut that VM down); --config: move the <hostdev>\n"
		"                    entries in the persistent definitions instead (VM shut off)\n"
		"  usb add|remove VM DEVICE\n"
		"                    hot-plug a USB device ([usb] name, vendor:product, or bus.device as\n"
		"                    lsusb shows it) into the running VM VM, or out of it\n"
		"  add VM DEVICE     usb add VM DEVICE (the NixOS module's \"vfio add\")\n"
		"  remove VM DEVICE  usb remove VM DEVICE (the NixOS module's \"vfio remove\")\n"
		"  --check VM        print what the hook would do to start VM, and why it would refuse;\n"
		"                    exit 0: it would start, 1: it would refuse (domain XML from libvirt,\n"
		"                    or --xml FILE)\n"
		"\n"
		"Options:\n"
		"  -c, --config FILE device map (default: $VFIO_HOOK_CONFIG, else " CONFIG_DEFAULT_PATH ")\n"
		"  -h, --help        this text\n"
		"  -V, --version     print the version\n"
		"\n"
		"As libvirt's QEMU hook (/etc/libvirt/hooks/qemu) it is called as: vfio-hook VM OP SUBOP EXTRA\n");
}

/*
 * The map for commands that only annotate: none is fine when the user did not ask for one,
 * and an ordinary user who cannot read root's map still gets the listing.
 */
static int load_optional_map(const char *cli_path, struct config **ret)
{
	const char *path = config_path(cli_path);
	bool asked = cli_path || getenv("VFIO_HOOK_CONFIG");

	*ret = NULL;
	if (!asked && access(path, R_OK) < 0) {
		if (errno == EACCES)
			log_warning("cannot read %s as this user: the map columns are left out (run as root to see them)",
				    path);
		return 0;
	}
	return config_load(path, ret);
}

/* For shell completion, which must never parse the map itself: names of one kind, one a line. */
static int print_names(const struct config *c, const char *kind)
{
	if (streq(kind, "vm"))
		for (size_t i = 0; i < c->n_vms; i++)
			puts(c->vms[i].name);
	else if (streq(kind, "pci"))
		for (size_t i = 0; i < c->n_pci_sets; i++)
			puts(c->pci_sets[i].name);
	else
		for (size_t i = 0; i < c->n_usb_sets; i++)
			puts(c->usb_sets[i].name);
	return 0;
}

/* 0: done; 1: refused or failed; 2: the map or the command line is wrong. */
static int exit_status(int r)
{
	return r == 0 ? 0 : r == -EINVAL ? 2 : 1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "check", required_argument, NULL, 'C' },
		{ "xml", required_argument, NULL, 'x' },
		{ "all", no_argument, NULL, 'a' },
		{ "force", no_argument, NULL, 'f' },
		{ "config-only", no_argument, NULL, 'P' },
		{ "names", required_argument, NULL, 'N' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "undo", no_argument, NULL, 'u' },
		{ "root", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_path = NULL, *check_vm = NULL, *xml_file = NULL, *names = NULL, *root = NULL;
	struct config *cfg = NULL;
	struct machine *m = NULL;
	bool json = false, all = false, force = false, persistent = false, dry_run = false, undo = false;
	const char *cmd;
	int opt, r;

	if (hook_argv(argc, argv))
		return hook_main(argc, argv);
	/* After "swap", --config is swap's flag (the persistent definitions), not the map's path. */
	for (int i = 1; i < argc; i++)
		if (streq(argv[i], "swap") && !(i > 1 && (streq(argv[i - 1], "-c") || streq(argv[i - 1], "--config")))) {
			for (int k = i + 1; k < argc; k++)
				if (streq(argv[k], "--config"))
					argv[k] = (char *)"--config-only";
			break;
		}

	while ((opt = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'C':
			check_vm = optarg;
			break;
		case 'x':
			xml_file = optarg;
			break;
		case 'a':
			all = true;
			break;
		case 'f':
			force = true;
			break;
		case 'P':
			persistent = true;
			break;
		case 'N':
			names = optarg;
			break;
		case 'n':
			dry_run = true;
			break;
		case 'u':
			undo = true;
			break;
		case 'R':
			root = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vfio-hook %s\n", VERSION);
			return 0;
		default:
			log_error("unknown option (see vfio-hook --help)");
			return 2;
		}
	}
	if (names && (check_vm || optind + 1 != argc || !streq(argv[optind], "config"))) {
		log_error("--names is only for config: vfio-hook config --names vm|pci|usb");
		return 2;
	}
	if (names && !streq(names, "vm") && !streq(names, "pci") && !streq(names, "usb")) {
		log_error("config: --names takes vm, pci or usb, not \"%s\"", names);
		return 2;
	}
	if (check_vm) {
		if (optind < argc) {
			log_error("--check: unexpected argument \"%s\" (see vfio-hook --help)", argv[optind]);
			return 2;
		}
		return exit_status(action_check(cfg_path, check_vm, xml_file));
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if ((dry_run || undo || root) && !streq(cmd, "setup")) {
		log_error("%s: --dry-run, --undo and --root are for setup only (see vfio-hook --help)", cmd);
		return 2;
	}
	if (streq(cmd, "restore")) {
		if (all == (optind + 1 < argc) || optind + 2 < argc) {
			log_error("restore: name one VM or --all (see vfio-hook --help)");
			return 2;
		}
		return exit_status(action_restore(cfg_path, all ? NULL : argv[optind + 1]));
	}
	if (streq(cmd, "swap")) {
		if (optind + 3 != argc) {
			log_error("swap: name a VM and a device: vfio-hook swap [--force] [--config] VM DEVICE");
			return 2;
		}
		return exit_status(action_swap(cfg_path, argv[optind + 1], argv[optind + 2], force, persistent));
	}
	if (streq(cmd, "usb")) {
		if (optind + 4 != argc || !(streq(argv[optind + 1], "add") || streq(argv[optind + 1], "remove"))) {
			log_error("usb: vfio-hook usb add|remove VM DEVICE");
			return 2;
		}
		return exit_status(action_usb(cfg_path, streq(argv[optind + 1], "add"), argv[optind + 2], argv[optind + 3]));
	}
	/* The verbs the NixOS module vfio-hook grew out of planned for USB hot-plug ("vfio add VM DEVICE"). */
	if (streq(cmd, "add") || streq(cmd, "remove")) {
		if (optind + 3 != argc) {
			log_error("%s: name a VM and a USB device: vfio-hook %s VM DEVICE (the same as usb %s)", cmd, cmd, cmd);
			return 2;
		}
		return exit_status(action_usb(cfg_path, streq(cmd, "add"), argv[optind + 1], argv[optind + 2]));
	}
	if (streq(cmd, "status") && optind + 1 == argc)
		return exit_status(action_status(cfg_path));
	if (optind + 1 < argc) {
		log_error("%s: unexpected argument \"%s\" (see vfio-hook --help)", cmd, argv[optind + 1]);
		return 2;
	}
	if (streq(cmd, "doctor"))
		return doctor_run(cfg_path, json);
	if (streq(cmd, "setup"))
		return setup_run(cfg_path, root, dry_run, undo);
	if (streq(cmd, "groups")) {
		if (load_optional_map(cfg_path, &cfg) < 0)
			return 2;
	} else if (streq(cmd, "config")) {
		if (json) {
			log_error("config: --json is only for groups");
			return 2;
		}
		if (config_load(config_path(cfg_path), &cfg) < 0)
			return 2;
		if (names) {
			r = print_names(cfg, names);
			config_free(cfg);
			return r;
		}
	} else {
		log_error("unknown command \"%s\" (see vfio-hook --help)", cmd);
		return 2;
	}

	if (cfg)
		machine_set_read_deadline((long)cfg->opt.timeout * 1000L);
	r = machine_discover(&m);
	if (r < 0) {
		config_free(cfg);
		return 1;
	}
	r = streq(cmd, "groups") ? groups_print(m, cfg, json) : config_print(m, cfg);
	machine_free(m);
	config_free(cfg);
	return r;
}
