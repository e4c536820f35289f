/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/vfio-hook-test-config.XXXXXX";

/* Writes text to a 0644 file and loads it. */
static int load_text(const char *text, struct config **ret)
{
	char path[sizeof(tmpdir) + 16];
	FILE *f;

	snprintf(path, sizeof(path), "%s/map.ini", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
	return config_load(path, ret);
}

static void test_example(void **state)
{
	const char *path = getenv("EXAMPLE_MAP");
	char copy[sizeof(tmpdir) + 16], cmd[512];
	struct config *c = NULL;
	const struct vm *win, *lin;
	const struct pci_set *gpu;

	(void)state;
	assert_non_null(path);
	snprintf(copy, sizeof(copy), "%s/ex.ini", tmpdir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 644 '%s'", path, copy, copy);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(config_load(copy, &c), 0);

	assert_string_equal(c->opt.uri, "qemu:///system");
	assert_int_equal(c->opt.timeout, 10);
	assert_int_equal(c->opt.evict, EVICT_DETACH);
	assert_false(c->opt.giveback);

	assert_int_equal(c->n_pci_sets, 2);
	gpu = config_find_pci_set(c, "nvidia-rtx-2070-super");
	assert_non_null(gpu);
	assert_int_equal(gpu->n_entries, 4);
	assert_int_equal(gpu->entries[0].sel.vendor, 0x10de);
	assert_int_equal(gpu->entries[0].sel.device, 0x1e84);
	assert_string_equal(gpu->entries[0].desc, "VGA compatible controller");
	assert_int_equal(gpu->entries[3].sel.device, 0x1ad9);
	assert_string_equal(gpu->entries[3].desc, "USB Type-C UCSI Controller");
	assert_true(c->pci_sets[1].entries[0].sel.is_addr);
	assert_int_equal(c->pci_sets[1].entries[0].sel.addr.bus, 1);
	/* The inline comment is not part of the description. */
	assert_string_equal(c->pci_sets[1].entries[0].desc, "Non-Volatile memory controller");

	assert_int_equal(c->n_usb_sets, 2);
	assert_int_equal(c->usb_sets[0].entries[0].sel.product, 0xc539);
	assert_true(c->usb_sets[1].entries[0].sel.any_product);
	assert_int_equal(c->usb_sets[1].entries[0].sel.vendor, 0x0416);
	assert_null(c->usb_sets[1].entries[0].desc);

	assert_int_equal(c->n_vms, 2);
	win = config_find_vm(c, "win10");
	assert_non_null(win);
	assert_int_equal(win->n_pci, 5);
	assert_ptr_equal(win->pci[0].set, gpu);
	assert_string_equal(win->pci[4].set->name, "intel-m1-drive");
	assert_int_equal(win->n_usb, 2);
	assert_string_equal(win->usb[1].set->name, "varmilo-keyboard");

	lin = config_find_vm(c, "linux");
	assert_non_null(lin);
	assert_int_equal(lin->n_pci, 4);
	for (size_t i = 0; i < lin->n_pci; i++)
		assert_null(lin->pci[i].set); /* bare ids */
	assert_int_equal(lin->pci[1].entry->sel.device, 0x10f8);
	assert_int_equal(lin->pci[1].line, lin->line + 1);
	assert_null(config_find_vm(c, "macos"));
	config_free(c);
}

static void test_defaults_and_forms(void **state)
{
	struct config *c = NULL;

	(void)state;
	assert_int_equal(load_text("# no options at all\n"
				   "[vm a]\n"
				   "pci = 0000:0a:00.0, 0b:00.1\n"
				   "pci = gpu\n"
				   "usb = 046d 1234:abcd\n"
				   "[pci gpu]\n"
				   "  device = 10de:1c03\n"
				   "[options]\n"
				   "evict = shutdown\n"
				   "giveback = yes\n",
				   &c),
			 0);
	assert_int_equal(c->opt.timeout, 10);
	assert_int_equal(c->opt.evict, EVICT_SHUTDOWN);
	assert_true(c->opt.giveback);
	assert_int_equal(c->vms[0].n_pci, 3);
	assert_int_equal(c->vms[0].pci[1].entry->sel.addr.bus, 0x0b);
	assert_int_equal(c->vms[0].pci[2].entry->sel.device, 0x1c03); /* defined after use */
	assert_int_equal(c->vms[0].n_usb, 2);
	assert_true(c->vms[0].usb[0].entry->sel.any_product);
	config_free(c);
}

static void test_errors_leave_nothing(void **state)
{
	struct config *c = (struct config *)0x1;

	(void)state;
	assert_int_equal(load_text("[vm a]\npci = nothere\n", &c), -22);
	assert_ptr_equal(c, (struct config *)0x1); /* set only on success */
	assert_int_not_equal(config_load("/nonexistent/vfio-hook.ini", &c), 0);
}

/* The tolerant second look at a map config_load refused: which VMs does it name? */
static void test_names_vm_in_broken_map(void **state)
{
	char path[sizeof(tmpdir) + 16];
	struct config *c = NULL;

	(void)state;
	assert_int_equal(load_text("[vm a]\n"
				   "pci = 09:00.0\n"
				   "this line is broken\n"
				   "[ vm  b ]\n"
				   "pci = 0a:00.0\n"
				   "[vm c]\n"
				   "pci 0b:00.0\n"
				   "[vm d\n",
				   &c),
			 -22);
	snprintf(path, sizeof(path), "%s/map.ini", tmpdir);
	assert_int_equal(config_names_vm(path, "a"), 1);
	assert_int_equal(config_names_vm(path, "b"), 1); /* after the broken line, spaced */
	assert_int_equal(config_names_vm(path, "c"), 1); /* no valid key at all */
	assert_int_equal(config_names_vm(path, "d"), 1); /* its header unclosed: still meant */
	assert_int_equal(config_names_vm(path, "router"), 0);
	assert_int_equal(config_names_vm(path, "vm"), 0);
	assert_int_equal(config_names_vm("/nonexistent/vfio-hook.ini", "router"), -2);
	assert_int_equal(config_names_vm(tmpdir, "router"), -22);
}


/* inih splits a line longer than its limit and reads the rest as a line of its own. */
static void test_long_comment_tail_is_no_key(void **state)
{
	/* "; " and x up to inih's 65535-byte cut, then what looks like a key after it. */
	static const char head[] = "[vm a]\npci = 10de:1e84\n; ", tail[] = "pci = 0000:01:00.0\n";
	size_t fill = 65535 - 2, n = strlen(head);
	char *text = malloc(n + fill + sizeof(tail));
	struct config *c = NULL;
	int r;

	(void)state;
	assert_non_null(text);
	memcpy(text, head, n);
	memset(text + n, 'x', fill);
	memcpy(text + n + fill, tail, sizeof(tail));
	r = load_text(text, &c);
	if (r == 0) /* the bug: the host's NVMe 01:00.0 added to VM a from inside a comment */
		fail_msg("loaded with %zu functions for [vm a]", c->vms[0].n_pci);
	assert_int_equal(r, -22);
	free(text);
}

/* Loads TEXT, which must be refused, and returns what config_load said on stderr (one line). */
static char *load_error(const char *text)
{
	char path[sizeof(tmpdir) + 16];
	static char msg[1024];
	struct config *c = NULL;
	int saved = dup(2), fd, r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/stderr", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	close(fd);
	r = load_text(text, &c);
	fflush(stderr);
	/* Back to the real stderr before any assertion: cmocka reports there. */
	dup2(saved, 2);
	close(saved);
	if (r != -22)
		fail_msg("not refused (%d): %s", r, text);
	assert_null(c);
	f = fopen(path, "r");
	assert_non_null(f);
	if (!fgets(msg, sizeof(msg), f))
		msg[0] = '\0';
	fclose(f);
	msg[strcspn(msg, "\n")] = '\0';
	/* Without the directory: the file name is map.ini. */
	return strstr(msg, "/map.ini:") ? strstr(msg, "/map.ini:") + 1 : msg;
}

static void test_host(void **state)
{
	struct config *c = NULL;

	(void)state;
	/* No [host]: setup's defaults. */
	assert_int_equal(load_text("[vm a]\n", &c), 0);
	assert_int_equal(c->host.line, 0);
	assert_int_equal(c->host.n_users, 0);
	assert_false(c->host.memlock_set);
	assert_int_equal(c->host.iommu, IOMMU_AUTO);
	assert_false(c->host.early);
	config_free(c);

	assert_int_equal(load_text("[vm a]\n"
				   "[host]\n"
				   "users = alice  bob\t_svc-1 ; comment\n"
				   "memlock = unlimited\n"
				   "iommu = amd\n"
				   "early = yes\n",
				   &c),
			 0);
	assert_int_equal(c->host.line, 2);
	assert_int_equal(c->host.n_users, 3);
	assert_string_equal(c->host.users[0], "alice");
	assert_string_equal(c->host.users[1], "bob");
	assert_string_equal(c->host.users[2], "_svc-1");
	assert_true(c->host.memlock_set);
	assert_true(c->host.memlock_unlimited);
	assert_int_equal(c->host.iommu, IOMMU_AMD);
	assert_string_equal(iommu_mode_name(c->host.iommu), "amd");
	assert_true(c->host.early);
	config_free(c);

	assert_int_equal(load_text("[host]\nusers = alice\nmemlock = 16777216\niommu = off\nearly = no\n", &c), 0);
	assert_false(c->host.memlock_unlimited);
	assert_int_equal(c->host.memlock_kib, 16777216ULL);
	assert_int_equal(c->host.iommu, IOMMU_OFF);
	assert_false(c->host.early);
	config_free(c);
	assert_int_equal(load_text("[host]\niommu = intel\n", &c), 0);
	assert_int_equal(c->host.iommu, IOMMU_INTEL);
	config_free(c);
}

static void test_host_errors(void **state)
{
	(void)state;
	assert_string_equal(load_error("[host]\nusers = alice b@d\n"),
			    "map.ini:2: bad user name \"b@d\" in [host] users (names start with a letter or '_', then letters, digits, '.', '_' or '-'; separate names with spaces)");
	assert_string_equal(load_error("[host]\nusers = 1alice\n"),
			    "map.ini:2: bad user name \"1alice\" in [host] users (names start with a letter or '_', then letters, digits, '.', '_' or '-'; separate names with spaces)");
	assert_string_equal(load_error("[host]\nusers = alice,bob\n"),
			    "map.ini:2: bad user name \"alice,bob\" in [host] users (names start with a letter or '_', then letters, digits, '.', '_' or '-'; separate names with spaces)");
	assert_string_equal(load_error("[host]\nusers = a23456789012345678901234567890123\n"),
			    "map.ini:2: bad user name \"a23456789012345678901234567890123\" in [host] users (names start with a letter or '_', then letters, digits, '.', '_' or '-'; separate names with spaces)");
	assert_string_equal(load_error("[host]\nusers =\n"),
			    "map.ini:2: users = is empty in [host] (list user names, e.g. users = alice bob, or remove the line)");
	assert_string_equal(load_error("[host]\nusers = alice bob alice\n"),
			    "map.ini:2: user alice is listed twice in [host] users (remove one)");
	assert_string_equal(load_error("[host]\nusers = alice\nmemlock = 16G\n"),
			    "map.ini:3: memlock must be a number of KiB (e.g. 16777216 for 16 GiB) or unlimited, not \"16G\"");
	assert_string_equal(load_error("[host]\nusers = alice\nmemlock = 0\n"),
			    "map.ini:3: memlock must be a number of KiB (e.g. 16777216 for 16 GiB) or unlimited, not \"0\"");
	assert_string_equal(load_error("[host]\nusers = alice\nmemlock = -1\n"),
			    "map.ini:3: memlock must be a number of KiB (e.g. 16777216 for 16 GiB) or unlimited, not \"-1\"");
	assert_string_equal(load_error("[host]\nusers = alice\nmemlock = 99999999999999999999\n"),
			    "map.ini:3: memlock must be a number of KiB (e.g. 16777216 for 16 GiB) or unlimited, not \"99999999999999999999\"");
	assert_string_equal(load_error("[vm a]\n[host]\nmemlock = unlimited\n"),
			    "map.ini:3: memlock is set in [host] but users is not (list the users it is for: users = alice bob)");
	assert_string_equal(load_error("[host]\niommu = amd_iommu=on\n"),
			    "map.ini:2: iommu must be auto, intel, amd or off, not \"amd_iommu=on\"");
	assert_string_equal(load_error("[host]\niommu = Intel\n"),
			    "map.ini:2: iommu must be auto, intel, amd or off, not \"Intel\"");
	assert_string_equal(load_error("[host]\nearly = maybe\n"), "map.ini:2: early must be yes or no, not \"maybe\"");
	assert_string_equal(load_error("[host]\nearly = yes\nearly = no\n"),
			    "map.ini:3: early is set twice in [host] (first at line 2; keep one)");
	assert_string_equal(load_error("[host]\ncpu-type = intel\n"),
			    "map.ini:2: unknown key \"cpu-type\" in [host] (valid keys: users, memlock, iommu, early, hugepages)");
	assert_string_equal(load_error("[host desk]\niommu = off\n"),
			    "map.ini:1: [host desk]: [host] takes no name (write [host])");
	assert_string_equal(load_error("[host]\niommu = off\n[vm a]\n[host]\nearly = no\n"),
			    "map.ini:4: duplicate section [host] (first at line 1; merge the two)");
	/* Empty sections between two headers of the same section do not merge them either. */
	assert_string_equal(load_error("[vm a]\npci = 10de:1e84\n[vm b]\n[vm a]\npci = 10de:10f8\n"),
			    "map.ini:4: duplicate section [vm a] (first at line 1; merge the two)");
	assert_string_equal(load_error("[hosts]\niommu = off\n"),
			    "map.ini:1: unknown section [hosts] (sections are [options], [host], [pci NAME], [usb NAME] and [vm NAME])");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[sizeof(tmpdir) + 16];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_defaults_and_forms),
		cmocka_unit_test(test_errors_leave_nothing),
		cmocka_unit_test(test_names_vm_in_broken_map),
		cmocka_unit_test(test_long_comment_tail_is_no_key),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_host_errors),
	};

	return cmocka_run_group_tests_name("config", tests, setup, teardown);
}
