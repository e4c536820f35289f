/* SPDX-License-Identifier: MIT */
/* The ownership ledger: one owner per function, exact round trips, damaged lines kept and reported. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ledger.h"
#include "state.h"
#include "util.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vfio-hook-ledger-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	setenv("VFIO_HOOK_STATE_DIR", dir, 1);
	return 0;
}

static int teardown(void **state)
{
	_cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);

	(void)state;
	return system(cmd) == 0 ? 0 : -1;
}

static const struct pci_addr gpu = { 0, 1, 0, 0 }, audio = { 0, 1, 0, 1 };

/* libvirt allows any byte but '/' in a name: a space, '%', '=', a newline, UTF-8. */
static void test_names_round_trip(void **state)
{
	static const char *const names[] = { "win 10", "50%=half", "line\nbreak", "\xc3\xa9t\xc3\xa9", "tab\there" };
	struct ledger l = { 0 }, back = { 0 };

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct pci_addr a = { 0, 2, (unsigned)i, 0 };
		struct ledger_func *e = ledger_claim(&l, &a, names[i]);

		strcpy(e->driver, "e1000e");
		e->moved = true;
		ledger_vm_add(&l, names[i], "0b0c0d0e-0000-4000-8000-000000000001");
		ledger_took_add(&l, &a, names[i], names[(i + 1) % ARRAY_SIZE(names)], "", 7,
				"<hostdev mode='subsystem' type='pci' managed='no'><source/></hostdev>");
	}
	assert_int_equal(ledger_save(&l), 0);
	assert_int_equal(ledger_load(&back), 0);
	assert_int_equal(back.n_bad, 0);
	assert_int_equal(back.n_funcs, ARRAY_SIZE(names));
	assert_int_equal(back.n_took, ARRAY_SIZE(names));
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		struct pci_addr a = { 0, 2, (unsigned)i, 0 };

		assert_string_equal(ledger_owner(&back, &a), names[i]);
		assert_non_null(ledger_vm(&back, names[i]));
		assert_string_equal(back.took[i].from, names[(i + 1) % ARRAY_SIZE(names)]);
		assert_string_equal(back.took[i].xml, l.took[i].xml);
		assert_int_equal(back.took[i].from_id, 7);
	}
	ledger_clear(&l);
	ledger_clear(&back);
}

/* Handing a function over changes its owner and keeps what it was on before. */
static void test_one_owner(void **state)
{
	struct ledger l = { 0 };
	struct ledger_func *e;

	(void)state;
	e = ledger_claim(&l, &gpu, "a");
	strcpy(e->driver, "bochs-drm");
	ledger_claim(&l, &audio, "a");
	assert_true(ledger_has_vm(&l, "a"));
	e = ledger_claim(&l, &gpu, "b");
	assert_int_equal(l.n_funcs, 2);
	assert_string_equal(e->owner, "b");
	assert_string_equal(e->driver, "bochs-drm");
	ledger_drop(&l, &audio);
	assert_false(ledger_has_vm(&l, "a"));
	assert_null(ledger_owner(&l, &audio));
	ledger_clear(&l);
}

static void write_ledger(const char *text)
{
	_cleanup_free_ char *p = xasprintf("%s/ledger", dir);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *read_ledger(void)
{
	_cleanup_free_ char *p = xasprintf("%s/ledger", dir);

	return read_file(p);
}

/*
 * A damaged line is kept as it is when the ledger is written again, and the function it names
 * can still be given back (driver unknown: the kernel chooses).
 */
/* A hot-plug libvirt did not answer: read back as moved and pending; a new owner ends it. */
static void test_plugging_round_trip(void **state)
{
	struct ledger l = { 0 };
	_cleanup_free_ char *after = NULL;
	struct ledger_func *e;

	(void)state;
	write_ledger("vfio-hook-ledger 1\n"
		     "func 0000:01:00.0 owner=a driver=bochs-drm override= state=plugging\n");
	assert_int_equal(ledger_load(&l), 0);
	assert_int_equal(l.n_bad, 0);
	e = ledger_func(&l, &gpu);
	assert_non_null(e);
	assert_true(e->moved);
	assert_true(e->plugging);
	assert_int_equal(ledger_save(&l), 0);
	after = read_ledger();
	assert_non_null(strstr(after, "func 0000:01:00.0 owner=a driver=bochs-drm override= state=plugging\n"));
	/* The same owner again keeps it; another owner's claim ends it. */
	assert_true(ledger_claim(&l, &gpu, "a")->plugging);
	assert_false(ledger_claim(&l, &gpu, "b")->plugging);
	ledger_clear(&l);
}

static void test_damaged_line_kept(void **state)
{
	struct ledger l = { 0 };
	_cleanup_free_ char *after = NULL;
	const struct ledger_func *e;

	(void)state;
	write_ledger("vfio-hook-ledger 1\n"
		     "func 0000:01:00.0 owner=a driver=bochs-drm override= state=moved\n"
		     "func 0000:01:00.1 owner=a driver=snd_hda_intel;reboot override= state=moved\n"
		     "func 0000:03:00.0 own\n"
		     "garbage line\n");
	assert_int_equal(ledger_load(&l), 0);
	assert_int_equal(l.n_bad, 3);
	assert_int_equal(l.bad[0].line, 3);
	assert_string_equal(ledger_owner(&l, &gpu), "a");
	/* The driver is not a driver name: never written to sysfs; the owner is still known. */
	e = ledger_func(&l, &audio);
	assert_non_null(e);
	assert_false(e->known);
	assert_string_equal(e->owner, "a");
	/* An address alone: owner unreadable. */
	assert_string_equal(ledger_owner(&l, &(struct pci_addr){ 0, 3, 0, 0 }), "");
	/* Writing keeps every damaged line as it was. */
	ledger_drop(&l, &gpu);
	assert_int_equal(ledger_save(&l), 0);
	after = read_ledger();
	assert_non_null(strstr(after, "func 0000:01:00.1 owner=a driver=snd_hda_intel;reboot override= state=moved\n"));
	assert_non_null(strstr(after, "func 0000:03:00.0 own\n"));
	assert_non_null(strstr(after, "garbage line\n"));
	assert_null(strstr(after, "0000:01:00.0"));
	/* Given back: its damaged line goes. */
	ledger_drop(&l, &audio);
	assert_int_equal(ledger_save(&l), 0);
	free(after);
	after = read_ledger();
	assert_null(strstr(after, "snd_hda_intel"));
	assert_non_null(strstr(after, "garbage line\n"));
	ledger_clear(&l);
}

/* The state directory decides what root writes to sysfs: a symlink or a writable one is refused. */
static void test_state_dir_trusted(void **state)
{
	_cleanup_free_ char *link = xasprintf("%s/link", dir), *sub = xasprintf("%s/sub", dir);
	struct ledger l = { 0 };

	(void)state;
	assert_int_equal(symlink(dir, link), 0);
	setenv("VFIO_HOOK_STATE_DIR", link, 1);
	assert_int_equal(ledger_load(&l), -EPERM);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(chmod(sub, 0777), 0);
	setenv("VFIO_HOOK_STATE_DIR", sub, 1);
	assert_int_equal(ledger_load(&l), -EPERM);
	assert_int_equal(state_lock("test", 1), -EPERM);
	setenv("VFIO_HOOK_STATE_DIR", dir, 1);
	/* The ledger itself as a symlink: not followed. */
	{
		_cleanup_free_ char *p = xasprintf("%s/ledger", dir);

		unlink(p);
		assert_int_equal(symlink("/etc/passwd", p), 0);
		assert_true(ledger_load(&l) < 0);
		unlink(p);
	}
}

/* Bad values never come back as valid fields. */
static void test_parse_rejects(void **state)
{
	static const char *const bad[] = {
		"vm a uuid=not-a-uuid state=started\n",
		"vm a%00b uuid= state=started\n",
		"func 0000:01:00.0 owner=a driver=../../x override= state=moved\n",
		"took 0000:01:00.0 owner=a from=b from-uuid= from-id=x state=done xml=\n",
		"took 0000:01:00.0 owner=a from=b from-uuid= from-id=1 state=maybe xml=\n",
		"func 0000:01:00.0 owner=a driver= override= state=moved\nfunc 0000:01:00.0 owner=b driver= override= state=moved\n",
		"cpus a set=2-x governor=no state=done\n",
		"cpus a set= governor=no state=done\n",
		"cpus a set=2 governor=maybe state=done\n",
		"cpus a set=2 governor=no state=done\ncpus a set=3 governor=no state=done\n",
		"pages a size=0 node=- pages=1 added=0 state=done\n",
		"pages a size=2048 node=x pages=1 added=0 state=done\n",
		"pages a size=2048 node=- pages=1 added=2 state=done\n",
		"sleep a state=asleep\n",
		"slice ../x.slice was=-\n",
		"slice system.slice was=0-x\n",
		"governor 3 was=power\\x20save epp=-\n",
		"governor 4096 was=powersave epp=-\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ledger l = { 0 };

		assert_int_equal(ledger_parse(bad[i], strlen(bad[i]), "ledger", &l), 0);
		assert_int_equal(l.n_bad, 1);
		ledger_clear(&l);
	}
	assert_true(driver_name_valid("vfio-pci"));
	assert_true(driver_name_valid("snd_hda_intel"));
	assert_false(driver_name_valid(""));
	assert_false(driver_name_valid("a/b"));
	assert_false(driver_name_valid("x\n"));
}

/*
 * The steps of a hand-over of the host's display: they round-trip in order, whatever the
 * owner's name; a hand-over of the GPU to another VM (an eviction) takes them along, so the
 * display manager is not stopped twice and comes back when the last VM using the GPU stops.
 */
static void test_display_steps(void **state)
{
	struct ledger l = { 0 }, back = { 0 };
	_cleanup_free_ char *text = NULL;

	(void)state;
	ledger_display_add(&l, &gpu, "win 10%", DSTEP_DM, "gdm.service", NULL)->done = true;
	ledger_display_add(&l, &gpu, "win 10%", DSTEP_WAIT, "-", NULL)->done = true;
	ledger_display_add(&l, &gpu, "win 10%", DSTEP_VTCON, "vtcon1", NULL)->done = true;
	ledger_display_add(&l, &gpu, "win 10%", DSTEP_FB, "efi-framebuffer.0", "efi-framebuffer");
	ledger_display_add(&l, &audio, "other", DSTEP_MODULE, "nvidia_drm", NULL)->stuck = true;
	assert_true(ledger_has_vm(&l, "win 10%"));
	assert_int_equal(ledger_save(&l), 0);
	assert_int_equal(ledger_load(&back), 0);
	assert_int_equal(back.n_bad, 0);
	assert_int_equal(back.n_display, 5);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(back.display[i].step, l.display[i].step);
		assert_string_equal(back.display[i].owner, l.display[i].owner);
		assert_string_equal(back.display[i].what, l.display[i].what);
		assert_string_equal(back.display[i].driver, l.display[i].driver);
		assert_int_equal(back.display[i].done, l.display[i].done);
		assert_int_equal(back.display[i].stuck, l.display[i].stuck);
	}
	text = ledger_format(&back);
	assert_non_null(strstr(text, "display 0000:01:00.0 owner=win%2010%25 step=framebuffer what=efi-framebuffer.0 "
				     "driver=efi-framebuffer state=doing\n"));
	/* A step whose write did not finish in time is kept as such, for the release that follows. */
	assert_non_null(strstr(text, "display 0000:01:00.1 owner=other step=module what=nvidia_drm driver=- state=stuck\n"));
	/* The GPU handed to b: its display steps are b's now, the other GPU's stay. */
	ledger_claim(&back, &gpu, "b");
	assert_string_equal(back.display[0].owner, "b");
	assert_string_equal(back.display[3].owner, "b");
	assert_string_equal(back.display[4].owner, "other");
	assert_false(ledger_has_vm(&back, "win 10%"));
	ledger_display_drop(&back, 0);
	assert_int_equal(back.n_display, 4);
	assert_int_equal(back.display[0].step, DSTEP_WAIT);
	ledger_clear(&l);
	ledger_clear(&back);
}

/* A display step whose name is not fit for it never reaches sysfs or a command line: a damaged line. */
static void test_display_rejects(void **state)
{
	static const char *const bad[] = {
		"display 0000:01:00.0 owner=a step=vtcon what=../../bus/pci/drivers_probe driver=- state=done\n",
		"display 0000:01:00.0 owner=a step=vtcon what=vtcon1x driver=- state=done\n",
		"display 0000:01:00.0 owner=a step=display-manager what=--now driver=- state=done\n",
		"display 0000:01:00.0 owner=a step=module what=vfio_pci driver=- state=done\n",
		"display 0000:01:00.0 owner=a step=module what=-r driver=- state=done\n",
		"display 0000:01:00.0 owner=a step=framebuffer what=efi-framebuffer.0 driver=../x state=done\n",
		"display 0000:01:00.0 owner=a step=framebuffer what=../x driver=efifb state=done\n",
		"display 0000:01:00.0 owner=a step=reboot what=x driver=- state=done\n",
		"display 0000:01:00.0 owner=a step=vtcon what=vtcon1 driver=- state=maybe\n",
		"display 0000:01:00.0 owner=a step=vtcon what=vtcon1 driver=- state=done extra=1\n",
		"display 0000:01:00.0 step=vtcon what=vtcon1 driver=- state=done\n",
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		struct ledger l = { 0 };
		_cleanup_free_ char *text = NULL;

		assert_int_equal(ledger_parse(bad[i], strlen(bad[i]), "ledger", &l), 0);
		assert_int_equal(l.n_bad, 1);
		assert_int_equal(l.n_display, 0);
		/* Kept as it was, marked damaged. */
		text = ledger_format(&l);
		assert_non_null(strstr(text, "damaged display 0000:01:00.0"));
		ledger_clear(&l);
	}
}

/*
 * What VMs claim of the host: CPUs, hugepage pools, sleep, and what the host had before; they
 * round-trip exactly, a VM holding only claims is still named, and the host's records keep the
 * ledger until the last goes.
 */
static void test_claims(void **state)
{
	struct ledger l = { 0 }, back = { 0 };
	struct cpuset cs;
	char **names;
	bool damaged;
	size_t n;
	_cleanup_free_ char *text = NULL, *again = NULL;

	(void)state;
	assert_int_equal(cpuset_parse("2-3,6", &cs), 0);
	ledger_cpus_add(&l, "win 10", &cs, true)->done = true;
	ledger_pages_add(&l, "win 10", 2048, -1, 512, 500)->done = true;
	ledger_pages_add(&l, "linux", 1048576, 1, 4, 4);
	ledger_sleep_add(&l, "linux")->done = true;
	ledger_slice_add(&l, "system.slice", "");
	ledger_slice_add(&l, "user.slice", "0-5");
	ledger_governor_add(&l, 3, "schedutil", "");
	ledger_governor_add(&l, 2, "powersave", "balance_performance");
	text = ledger_format(&l);
	assert_int_equal(ledger_parse(text, strlen(text), "ledger", &back), 0);
	assert_int_equal(back.n_bad, 0);
	again = ledger_format(&back);
	assert_string_equal(text, again);
	assert_non_null(strstr(text, "cpus win%2010 set=2-3,6 governor=yes state=done\n"));
	assert_non_null(strstr(text, "pages linux size=1048576 node=1 pages=4 added=4 state=doing\n"));
	assert_non_null(strstr(text, "slice system.slice was=-\n"));
	assert_non_null(strstr(text, "governor 2 was=powersave epp=balance_performance\n"));
	assert_non_null(strstr(text, "governor 3 was=schedutil epp=-\n"));
	n = ledger_names(&back, &names, &damaged);
	assert_int_equal(n, 2);
	assert_false(damaged);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	assert_true(ledger_has_vm(&back, "linux"));
	assert_non_null(ledger_pages_of(&back, "win 10", 2048, -1));
	assert_null(ledger_pages_of(&back, "win 10", 2048, 0));
	/* Every VM's claims gone, the host's records still hold the file; then nothing does. */
	ledger_cpus_drop(&back, "win 10");
	ledger_pages_drop(&back, ledger_pages_of(&back, "win 10", 2048, -1));
	ledger_pages_drop(&back, ledger_pages_of(&back, "linux", 1048576, 1));
	ledger_sleep_drop(&back, "linux");
	assert_false(ledger_has_vm(&back, "linux"));
	assert_int_equal(ledger_save(&back), 0);
	assert_int_equal(access(ledger_path(), F_OK), 0);
	ledger_slice_drop(&back, "system.slice");
	ledger_slice_drop(&back, "user.slice");
	ledger_governor_drop(&back, 2);
	ledger_governor_drop(&back, 3);
	assert_int_equal(ledger_save(&back), 0);
	assert_int_equal(access(ledger_path(), F_OK), -1);
	ledger_clear(&l);
	ledger_clear(&back);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_names_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_owner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_line_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plugging_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_state_dir_trusted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_display_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_display_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_claims, setup, teardown),
	};

	return cmocka_run_group_tests_name("ledger", tests, NULL, NULL);
}
