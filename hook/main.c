/* SPDX-License-Identifier: MIT */
/* Dispatch only: libvirt's hook argv, or the command line tool. */
#include "actions.h"
#include "config.h"
#include "discover.h"
#include "doctor.h"
#include "groups.h"
#include "hook.h"
#include "log.h"
#include "mapgen.h"
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
		"  groups [GROUP|ADDRESS] [--gpu] [--json]\n"
		"                    list IOMMU groups, each function as lspci -nn shows it, its driver\n"
		"                    and which VMs of the map get it, the USB devices behind each USB\n"
		"                    controller; one group (or an address's), or --gpu: those with a GPU\n"
		"  map GROUP|ADDRESS|VM... [--add VM]\n"
		"                    print ready [pci NAME] sections for an IOMMU group, a PCI address or\n"
		"                    vendor:device id (its whole card), or a VM (the map's, or libvirt's\n"
		"                    <hostdev>s); --add VM: write them into the map with a [vm VM] entry,\n"
		"                    keeping its comments, and check it as config does before replacing it\n"
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

/* The options that belong to one command or another; a command refuses those that are not its own. */
enum {
	O_JSON = 1 << 0,
	O_GPU = 1 << 1,
	O_NAMES = 1 << 2,
	O_XML = 1 << 3,
	O_ALL = 1 << 4,
	O_FORCE = 1 << 5,
	O_PERSIST = 1 << 6,
	O_DRY = 1 << 7,
	O_UNDO = 1 << 8,
	O_ROOT = 1 << 9,
	O_ADD = 1 << 10,
};

static const struct {
	unsigned bit;
	const char *name;
	const char *where; /* the commands it is for, and how it is written there */
} option_homes[] = {
	{ O_JSON, "--json", "groups and doctor" },
	{ O_GPU, "--gpu", "groups: vfio-hook groups --gpu" },
	{ O_NAMES, "--names", "config: vfio-hook config --names vm|pci|usb" },
	{ O_XML, "--xml", "--check: vfio-hook --check VM --xml FILE" },
	{ O_ALL, "--all", "restore: vfio-hook restore --all" },
	{ O_FORCE, "--force", "swap: vfio-hook swap --force VM DEVICE" },
	{ O_PERSIST, "--config", "swap" },
	{ O_DRY, "--dry-run", "setup" },
	{ O_UNDO, "--undo", "setup" },
	{ O_ROOT, "--root", "setup: vfio-hook setup --root DIR" },
	{ O_ADD, "--add", "map: vfio-hook map GROUP|ADDRESS|VM --add VM" },
};

static const struct {
	const char *name;
	unsigned options;
} commands[] = {
	{ "groups", O_JSON | O_GPU }, { "config", O_NAMES },	 { "doctor", O_JSON },	  { "map", O_ADD },
	{ "setup", O_DRY | O_UNDO | O_ROOT }, { "status", 0 },	 { "restore", O_ALL },	  { "swap", O_FORCE | O_PERSIST },
	{ "usb", 0 },	    { "add", 0 },	     { "remove", 0 },
};

static bool known_command(const char *cmd)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, cmd))
			return true;
	return false;
}

/*
 * Each option given that CMD does not take (CMD "--check": --check; NULL: no command at all):
 * one line saying where it belongs.
 */
static int refuse_foreign(const char *cmd, unsigned given)
{
	unsigned own = cmd && streq(cmd, "--check") ? O_XML : 0;

	for (size_t i = 0; cmd && i < ARRAY_SIZE(commands); i++)
		if (streq(commands[i].name, cmd))
			own = commands[i].options;
	for (size_t i = 0; i < ARRAY_SIZE(option_homes); i++)
		if ((given & option_homes[i].bit) && !(own & option_homes[i].bit)) {
			log_error("%s%s%s is only for %s (see vfio-hook --help)", cmd ? cmd : "", cmd ? ": " : "",
				  option_homes[i].name, option_homes[i].where);
			return -EINVAL;
		}
	return 0;
}

/* The one line for an option given without its value: the option as typed, and how it is written. */
static int missing_value(const char *typed, int opt)
{
	static const struct {
		int opt;
		const char *usage;
	} usages[] = {
		{ 'c', "vfio-hook -c FILE COMMAND" },	      { 'C', "vfio-hook --check VM" },
		{ 'x', "vfio-hook --check VM --xml FILE" },   { 'N', "vfio-hook config --names vm|pci|usb" },
		{ 'R', "vfio-hook setup --root DIR" },	      { 'A', "vfio-hook map GROUP|ADDRESS|VM --add VM" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(usages); i++)
		if (usages[i].opt == opt) {
			log_error("%s needs a value: %s (see vfio-hook --help)", typed, usages[i].usage);
			return 2;
		}
	log_error("%s needs a value (see vfio-hook --help)", typed);
	return 2;
}

/* Is S one of the options (what a value that was left out is followed by)? */
static bool is_option(const char *s, const struct option *longopts)
{
	if (s[0] != '-' || !s[1])
		return false;
	if (s[1] != '-')
		return strchr("chV", s[1]) != NULL;
	for (const struct option *o = longopts; o->name; o++)
		if (streq(s + 2, o->name))
			return true;
	return false;
}

/*
 * An unknown command: the option a user meant ("check" for --check), or the command closest to
 * it, written out with the rest of the line.
 */
static int unknown_command(int argc, char **argv, int at)
{
	static const char *const as_options[][2] = { { "check", "--check" }, { "help", "--help" }, { "version", "--version" } };
	const char *names[ARRAY_SIZE(commands)];
	const char *meant = NULL;
	_cleanup_free_ char *line = NULL;

	for (size_t i = 0; i < ARRAY_SIZE(as_options); i++)
		if (streq(argv[at], as_options[i][0]) || (argv[at][0] == '-' && streq(argv[at] + strspn(argv[at], "-"), as_options[i][0])))
			meant = as_options[i][1];
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		names[i] = commands[i].name;
	if (!meant)
		meant = closest_name(argv[at], names, ARRAY_SIZE(names));
	if (!meant) {
		log_error("unknown command \"%s\" (see vfio-hook --help)", argv[at]);
		return 2;
	}
	line = xasprintf("vfio-hook %s", meant);
	for (int i = at + 1; i < argc; i++) {
		_cleanup_free_ char *q = shell_quote(argv[i]);
		char *more = xasprintf("%s %s", line, q);

		free(line);
		line = more;
	}
	log_error("unknown command \"%s\": did you mean %s? (see vfio-hook --help)", argv[at], line);
	return 2;
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
		{ "gpu", no_argument, NULL, 'g' },
		{ "add", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cfg_path = NULL, *check_vm = NULL, *xml_file = NULL, *names = NULL, *root = NULL, *add_vm = NULL;
	struct config *cfg = NULL;
	struct machine *m = NULL;
	bool json = false, all = false, force = false, persistent = false, dry_run = false, undo = false, gpu = false;
	unsigned given = 0;
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

	/* Quiet getopt ("opterr" off, ':' first): each mistake gets one line of ours, not two. */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":c:hV", longopts, NULL)) != -1) {
		/* "--check --xml f.xml": the value left out, the next option taken for it. */
		if (optarg && strchr("cCxNRA", opt) && is_option(optarg, longopts))
			return missing_value(argv[optind - 2], opt);
		switch (opt) {
		case 'c':
			cfg_path = optarg;
			break;
		case 'j':
			json = true;
			given |= O_JSON;
			break;
		case 'C':
			check_vm = optarg;
			break;
		case 'x':
			xml_file = optarg;
			given |= O_XML;
			break;
		case 'a':
			all = true;
			given |= O_ALL;
			break;
		case 'f':
			force = true;
			given |= O_FORCE;
			break;
		case 'P':
			persistent = true;
			given |= O_PERSIST;
			break;
		case 'N':
			names = optarg;
			given |= O_NAMES;
			break;
		case 'n':
			dry_run = true;
			given |= O_DRY;
			break;
		case 'u':
			undo = true;
			given |= O_UNDO;
			break;
		case 'R':
			root = optarg;
			given |= O_ROOT;
			break;
		case 'g':
			gpu = true;
			given |= O_GPU;
			break;
		case 'A':
			/* A second --add would silently take the place of the first: one VM is edited per run. */
			if (add_vm) {
				log_error("map: --add given twice (%s and %s): one VM per run; run vfio-hook map again for the other",
					  add_vm, optarg);
				return 2;
			}
			if (!optarg || !*optarg) {
				log_error("--add needs a VM name: vfio-hook map GROUP|ADDRESS|VM --add VM (see vfio-hook --help)");
				return 2;
			}
			add_vm = optarg;
			given |= O_ADD;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("vfio-hook %s\n", VERSION);
			return 0;
		case ':':
			return missing_value(argv[optind - 1], optopt);
		default:
			if (optopt && optopt != '?')
				log_error("unknown option -%c (see vfio-hook --help)", optopt);
			else
				log_error("unknown option \"%s\" (see vfio-hook --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (check_vm) {
		if (refuse_foreign("--check", given) < 0)
			return 2;
		if (optind < argc) {
			log_error("--check: unexpected argument \"%s\" (see vfio-hook --help)", argv[optind]);
			return 2;
		}
		return exit_status(action_check(cfg_path, check_vm, xml_file));
	}
	if (optind >= argc) {
		if (refuse_foreign(NULL, given) < 0)
			return 2;
		usage(stderr);
		return 2;
	}
	cmd = argv[optind];
	if (!known_command(cmd))
		return unknown_command(argc, argv, optind);
	if (refuse_foreign(cmd, given) < 0)
		return 2;
	if (names && !streq(names, "vm") && !streq(names, "pci") && !streq(names, "usb")) {
		log_error("config: --names takes vm, pci or usb, not \"%s\"", names);
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
	if (streq(cmd, "map")) {
		if (optind + 1 == argc) {
			log_error("map: name what to map: an IOMMU group, a PCI address or id, or a VM (vfio-hook map GROUP|ADDRESS|VM [--add VM])");
			return 2;
		}
		return exit_status(action_map(cfg_path, (const char *const *)argv + optind + 1, (size_t)(argc - optind - 1), add_vm));
	}
	if (streq(cmd, "status") && optind + 1 == argc)
		return exit_status(action_status(cfg_path));
	/* groups takes one group (or the address of one of its functions). */
	if (optind + 1 < argc && !(streq(cmd, "groups") && optind + 2 == argc)) {
		log_error("%s: unexpected argument \"%s\" (see vfio-hook --help)", cmd, argv[optind + (streq(cmd, "groups") ? 2 : 1)]);
		return 2;
	}
	if (streq(cmd, "doctor"))
		return doctor_run(cfg_path, json);
	if (streq(cmd, "setup"))
		return setup_run(cfg_path, root, dry_run, undo);
	if (streq(cmd, "groups")) {
		if (load_optional_map(cfg_path, &cfg) < 0)
			return 2;
	} else {
		if (config_load(config_path(cfg_path), &cfg) < 0)
			return 2;
		if (names) {
			r = print_names(cfg, names);
			config_free(cfg);
			return r;
		}
	}

	if (cfg)
		machine_set_read_deadline((long)cfg->opt.timeout * 1000L);
	r = machine_discover(&m);
	if (r < 0) {
		config_free(cfg);
		return 1;
	}
	if (streq(cmd, "groups")) {
		const struct groups_filter f = { .json = json, .gpu = gpu, .only = optind + 1 < argc ? argv[optind + 1] : NULL };

		r = groups_print(m, cfg, &f);
	} else {
		r = config_print(m, cfg);
	}
	machine_free(m);
	config_free(cfg);
	return r;
}
