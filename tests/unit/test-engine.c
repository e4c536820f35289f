/* SPDX-License-Identifier: MIT */
/*
 * The engine (hook/engine.c) below the binary, as libvirt's virhostdevtest drives its prepare
 * and reattach: takes and gives on the desktop fixture machine, with the fake kernel, and after
 * each call the drivers and the ledger. The test runs itself under tests/fakesys: nothing here
 * touches the real /sys.
 * sources: engine step-bind step-claim step-display step-evict step-plug bind plan ledger world sysfs
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bind.h"
#include "engine.h"
#include "ledger.h"
#include "log.h"
#include "state.h"
#include "sysfs.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GPU0 "0000:09:00.0"
#define GPU1 "0000:09:00.1"
#define GPU2 "0000:09:00.2"
#define GPU3 "0000:09:00.3"
#define NVME "0000:01:00.0"

static char tmp[] = "/tmp/vfio-hook-test-engine.XXXXXX";
static struct world w;

static void put_file(const char *path, const char *text, const char *mode)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* The function's driver now, "none" for none. */
static const char *driver(const char *addr)
{
	static char buf[64];
	struct pci_addr a;

	assert_int_equal(pci_addr_parse(addr, &a), 0);
	if (sysfs_driver(&a, buf, sizeof(buf)) < 0 || !*buf)
		snprintf(buf, sizeof(buf), "none");
	return buf;
}

static const char *owner(const char *addr)
{
	struct pci_addr a;
	const char *o;

	assert_int_equal(pci_addr_parse(addr, &a), 0);
	o = ledger_owner(&w.l, &a);
	return o ? o : "-";
}

/* The map, loaded into the world; the lock taken, the ledger loaded. */
static void world_with(const char *map)
{
	_cleanup_free_ char *path = xasprintf("%s/map.ini", tmp);

	put_file(path, map, "w");
	chmod(path, 0644);
	w = (struct world){ .lock = -1 };
	assert_int_equal(config_load(path, &w.cfg), 0);
	assert_int_equal(world_lock(&w, "test", w.cfg->opt.timeout), 0);
}

static void world_done(void)
{
	world_unlock(&w);
	world_clear(&w);
}

/* A fault of the fake kernel for the writes from now on (a fresh writer sees it). */
static void fault(const char *spec)
{
	if (spec)
		setenv("FAKEKERNEL_FAULT", spec, 1);
	else
		unsetenv("FAKEKERNEL_FAULT");
	sysfs_end();
}

static const char *const gpu_map = "[options]\ntimeout = 2\n[pci gpu]\ndevice = 10de:1e84\ndevice = 10de:10f8\n"
				   "device = 10de:1ad8\ndevice = 10de:1ad9\n[vm win10]\npci = gpu\n[vm store]\npci = " NVME "\n";

static int take(const char *vm)
{
	struct selection s;
	const struct vm *v = config_find_vm(w.cfg, vm);
	const struct take_req q = { .vm = vm, .sel = &s, .policy = EVICT_REFUSE, .retry = "retry", .starting = true };
	int r;

	assert_non_null(v);
	selection_vm(w.cfg, v, &s);
	r = engine_take(&w, &q);
	selection_clear(&s);
	return r;
}

static int give(const char *vm)
{
	const struct give_req q = { .owner = vm, .stuck_s = 1, .prio = LOG_NOTICE };

	return engine_give(&w, &q);
}

static void assert_gpu_home(void)
{
	assert_string_equal(driver(GPU0), "nvidia");
	assert_string_equal(driver(GPU1), "snd_hda_intel");
	assert_string_equal(driver(GPU2), "xhci_hcd");
	assert_string_equal(driver(GPU3), "nvidia-gpu");
}

static int setup(void **state)
{
	const char *tb = getenv("UMOCKDEV_DIR");
	_cleanup_free_ char *cmd = xasprintf("rm -rf %s/state %s/run %s/fakekernel/count-*; mkdir -p %s/run", tmp, tmp, tb, tmp);

	(void)state;
	fault(NULL);
	unsetenv("FAKEKERNEL_MODPROBE_FAIL");
	assert_int_equal(system(cmd), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	world_done();
	fault(NULL);
	return 0;
}

static void test_take_then_give(void **state)
{
	struct pci_addr a;

	(void)state;
	world_with(gpu_map);
	assert_int_equal(take("win10"), 4);
	assert_string_equal(driver(GPU0), "vfio-pci");
	assert_string_equal(driver(GPU3), "vfio-pci");
	assert_string_equal(owner(GPU2), "win10");
	assert_int_equal(pci_addr_parse(GPU2, &a), 0);
	assert_string_equal(ledger_func(&w.l, &a)->driver, "xhci_hcd");
	assert_true(ledger_func(&w.l, &a)->moved);
	assert_false(ledger_vm(&w.l, "win10")->started);
	assert_int_equal(give("win10"), 0);
	assert_gpu_home();
	assert_int_equal(w.l.n_funcs, 0);
}

/* A bind that fails half-way: the ladder undoes what it did, the failed function included. */
static void test_take_undoes_a_failed_bind(void **state)
{
	(void)state;
	world_with(gpu_map);
	fault("probe:" GPU2 ":fail1");
	assert_true(take("win10") < 0);
	assert_gpu_home();
	assert_int_equal(w.l.n_funcs, 0);
}

/* A guard refuses: nothing is written, nothing recorded. */
static void test_take_refused_by_a_guard_changes_nothing(void **state)
{
	_cleanup_free_ char *mounts = xasprintf("%s/proc/self/mountinfo", getenv("UMOCKDEV_DIR"));

	(void)state;
	put_file(mounts, "40 22 259:1 / /home rw - ext4 /dev/nvme0n1p1 rw\n", "a");
	world_with(gpu_map);
	assert_int_equal(take("store"), -EPERM);
	assert_string_equal(driver(NVME), "nvme");
	assert_int_equal(w.l.n_funcs, 0);
	put_file(mounts, "22 1 254:1 / / rw,relatime - ext4 /dev/sda1 rw\n", "w");
}

/* A probe that fails once at give-back is tried again: the function ends on its driver. */
static void test_give_retries_a_probe_that_fails_once(void **state)
{
	(void)state;
	world_with(gpu_map);
	assert_int_equal(take("win10"), 4);
	fault("probe:" GPU2 ":fail1");
	assert_int_equal(give("win10"), 0);
	assert_gpu_home();
	assert_int_equal(w.l.n_funcs, 0);
}

/* Its driver will not take it back: on vfio-pci again, still recorded, never on no driver. */
static void test_give_never_leaves_a_function_driverless(void **state)
{
	_cleanup_free_ char *drv = xasprintf("rm -rf %s/sys/bus/pci/drivers/xhci_hcd", getenv("UMOCKDEV_DIR"));
	_cleanup_free_ char *back = xasprintf("mkdir -p %s/sys/bus/pci/drivers/xhci_hcd", getenv("UMOCKDEV_DIR"));

	(void)state;
	world_with(gpu_map);
	assert_int_equal(take("win10"), 4);
	assert_int_equal(system(drv), 0);
	setenv("FAKEKERNEL_MODPROBE_FAIL", "1", 1);
	assert_int_equal(give("win10"), -EIO);
	assert_string_equal(driver(GPU2), "vfio-pci");
	assert_string_equal(owner(GPU2), "win10");
	assert_string_equal(driver(GPU1), "snd_hda_intel");
	unsetenv("FAKEKERNEL_MODPROBE_FAIL");
	assert_int_equal(system(back), 0);
	assert_int_equal(give("win10"), 0);
	assert_gpu_home();
}

/* A driver loaded by the device's modalias, as udev would: xhci_hcd is xhci_pci's driver. */
static void test_give_loads_a_driver_by_modalias(void **state)
{
	_cleanup_free_ char *drv = xasprintf("rm -rf %s/sys/bus/pci/drivers/xhci_hcd", getenv("UMOCKDEV_DIR"));

	(void)state;
	world_with(gpu_map);
	assert_int_equal(take("win10"), 4);
	assert_int_equal(system(drv), 0);
	assert_int_equal(give("win10"), 0);
	assert_gpu_home();
}

/* vfio-pci that cannot be loaded: what an earlier, cut-short start of the VM recorded stays. */
static void test_failed_vfio_load_keeps_earlier_entries(void **state)
{
	_cleanup_free_ char *ledger = xasprintf("%s/state/ledger", tmp);
	_cleanup_free_ char *vfio = xasprintf("rm -rf %s/sys/bus/pci/drivers/vfio-pci", getenv("UMOCKDEV_DIR"));
	_cleanup_free_ char *back = xasprintf("mkdir -p %s/sys/bus/pci/drivers/vfio-pci", getenv("UMOCKDEV_DIR"));
	_cleanup_free_ char *dir = xasprintf("%s/state", tmp);
	struct pci_addr a;

	(void)state;
	mkdir(dir, 0700);
	put_file(ledger, "vfio-hook-ledger 1\nvm win10 uuid= state=starting\n"
			 "func " GPU0 " owner=win10 driver=nvidia override= state=moving\n", "w");
	chmod(ledger, 0600);
	world_with(gpu_map);
	assert_int_equal(system(vfio), 0);
	setenv("FAKEKERNEL_MODPROBE_FAIL", "1", 1);
	assert_true(take("win10") < 0);
	unsetenv("FAKEKERNEL_MODPROBE_FAIL");
	assert_int_equal(system(back), 0);
	assert_string_equal(owner(GPU0), "win10");
	assert_int_equal(pci_addr_parse(GPU0, &a), 0);
	assert_string_equal(ledger_func(&w.l, &a)->driver, "nvidia");
	assert_int_equal(w.l.n_funcs, 1);
	assert_int_equal(give("win10"), 0);
	assert_gpu_home();
}

/* An override that named another driver than the bound one (a pending driverctl override) is put back as it was. */
static void test_give_puts_back_a_pending_override(void **state)
{
	char buf[64] = "";
	_cleanup_free_ char *path = xstrdup("/sys/bus/pci/devices/" GPU1 "/driver_override");
	FILE *f;

	(void)state;
	assert_int_equal(sysfs_write(path, "vfio-pci", 2), 0);
	world_with(gpu_map);
	assert_int_equal(take("win10"), 4);
	assert_int_equal(give("win10"), 0);
	assert_gpu_home();
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "vfio-pci\n");
	assert_int_equal(sysfs_write(path, "\n", 2), 0);
}

/* A function gone from the machine (an eGPU unplugged) has nothing to give back: its record goes. */
static void test_give_drops_a_function_gone(void **state)
{
	const char *tb = getenv("UMOCKDEV_DIR");
	_cleanup_free_ char *link = xasprintf("%s/sys/bus/pci/devices/" GPU3, tb), *keep = xasprintf("%s.away", link);
	struct ledger_func e = { .known = true };

	(void)state;
	world_with(gpu_map);
	assert_int_equal(take("win10"), 4);
	assert_int_equal(rename(link, keep), 0);
	assert_int_equal(give("win10"), 0);
	assert_int_equal(w.l.n_funcs, 0);
	assert_int_equal(rename(keep, link), 0);
	/* Back on the machine: to its driver by hand, for the tests after this one. */
	assert_int_equal(pci_addr_parse(GPU3, &e.addr), 0);
	snprintf(e.driver, sizeof(e.driver), "nvidia-gpu");
	{
		char why[256];

		assert_int_equal(bind_host(&e, 2, why, sizeof(why)), BIND_HOST);
	}
	assert_gpu_home();
}

/*
 * A give-back runs the guards of a start: the function came back to the host, which mounted a
 * filesystem from it since; the VM it was taken from still runs; the taker's record says to
 * give it back. It stays with the host.
 */
static void test_give_back_runs_the_guards(void **state)
{
	_cleanup_free_ char *mounts = xasprintf("%s/proc/self/mountinfo", getenv("UMOCKDEV_DIR"));
	_cleanup_free_ char *status = xasprintf("%s/run/a.xml", tmp);
	struct pci_addr a;

	(void)state;
	put_file(mounts, "40 22 259:1 / /home rw - ext4 /dev/nvme0n1p1 rw\n", "a");
	put_file(status, "<domstatus state='running' pid='4242'><domain type='kvm' id='3'><name>a</name>"
			 "<uuid>c7a5fdbd-cdaf-9455-926a-d65c16db1809</uuid><devices/></domain></domstatus>\n", "w");
	world_with("[options]\ntimeout = 2\nuri = test:///default\n[vm a]\npci = " NVME "\n[vm b]\npci = " NVME "\n");
	assert_int_equal(pci_addr_parse(NVME, &a), 0);
	ledger_took_add(&w.l, &a, "b", "a", "c7a5fdbd-cdaf-9455-926a-d65c16db1809", 3,
			"<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x01' "
			"slot='0x00' function='0x0'/></source></hostdev>");
	assert_false(engine_return(&w, "b", true, false, NULL, 0));
	assert_string_equal(driver(NVME), "nvme");
	assert_int_equal(w.l.n_took, 0);
	assert_int_equal(w.l.n_funcs, 0);
	put_file(mounts, "22 1 254:1 / / rw,relatime - ext4 /dev/sda1 rw\n", "w");
	unlink(status);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_take_then_give, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_undoes_a_failed_bind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_take_refused_by_a_guard_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_retries_a_probe_that_fails_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_never_leaves_a_function_driverless, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_loads_a_driver_by_modalias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_vfio_load_keeps_earlier_entries, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_puts_back_a_pending_override, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_drops_a_function_gone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_give_back_runs_the_guards, setup, teardown),
	};
	char *tb = getenv("UMOCKDEV_DIR");
	int r;

	/* Not on the fixture machine yet: run again there (run-tests.sh runs from the top of the tree). */
	if (!tb || !*tb) {
		execl("tests/fakesys", "tests/fakesys", "desktop", "--", argv[0], (char *)NULL);
		fprintf(stderr, "cannot run tests/fakesys (run from the top of the tree, through make check): %m\n");
		return 1;
	}
	(void)argc;
	if (!mkdtemp(tmp))
		return 1;
	{
		_cleanup_free_ char *state = xasprintf("%s/state", tmp), *run = xasprintf("%s/run", tmp);

		setenv("VFIO_HOOK_STATE_DIR", state, 1);
		setenv("VFIO_HOOK_LIBVIRT_RUN_DIR", run, 1);
	}
	r = cmocka_run_group_tests(tests, NULL, NULL);
	{
		_cleanup_free_ char *cmd = xasprintf("rm -rf %s", tmp);

		if (system(cmd) != 0)
			r = r ? r : 1;
	}
	return r;
}
