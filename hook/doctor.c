/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook doctor: checks, one by one, what a host needs before passthrough can work (the
 * firmware, the kernel, libvirt, the map, each mapped device), and says for each what to do.
 * It only reads. /sys, /dev and /proc/cpuinfo are read as they are (the test suite fakes them
 * with umockdev); every other file of the system is read through sys_path(), which the test
 * suite points at a directory of its own.
 */
#define _GNU_SOURCE
#include "doctor.h"
#include "doctor-check.h"

#include "log.h"
#include "util.h"

#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static const char *const status_names[] = { "PASS", "WARN", "FAIL", "SKIP" };

void doctor_report(struct doctor *d, enum status st, const char *fix, const char *fmt, ...)
{
	struct check *c = array_push(&d->checks, &d->n, sizeof(*c));
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&c->what, fmt, ap) < 0)
		c->what = xstrdup("out of memory");
	va_end(ap);
	c->group = d->group;
	c->status = st;
	c->fix = fix ? xstrdup(fix) : NULL;
}

char *doctor_sys_path(const struct doctor *d, const char *path)
{
	return xasprintf("%s%s", d->root, path);
}

bool doctor_sys_exists(const struct doctor *d, const char *path)
{
	_cleanup_free_ char *p = doctor_sys_path(d, path);

	return access(p, F_OK) == 0;
}

char *doctor_sys_read(const struct doctor *d, const char *path)
{
	_cleanup_free_ char *p = doctor_sys_path(d, path);

	return read_file(p);
}

/* Is WORD one of the whitespace-separated words of S? */
bool doctor_has_word(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = s ? strstr(s, word) : NULL; p; p = strstr(p + 1, word))
		if ((p == s || isspace((unsigned char)p[-1])) && (!p[n] || isspace((unsigned char)p[n])))
			return true;
	return false;
}

/*
 * The value of KEY= on the kernel command line, as an item of its comma list: 1 when ITEM is
 * in it, 0 when KEY is there without ITEM, -1 when KEY is absent. The last KEY= wins.
 */
int doctor_cmdline_item(const char *cmdline, const char *key, const char *item)
{
	_cleanup_free_ char *copy = xstrdup(cmdline ? cmdline : "");
	char *tok, *save = NULL;
	int r = -1;

	for (tok = strtok_r(copy, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
		char *val, *it, *save2 = NULL;

		if (!startswith(tok, key) || tok[strlen(key)] != '=')
			continue;
		val = tok + strlen(key) + 1;
		r = 0;
		for (it = strtok_r(val, ",", &save2); it; it = strtok_r(NULL, ",", &save2))
			if (streq(it, item))
				r = 1;
	}
	return r;
}

bool doctor_cpu_is_intel(const struct doctor *d)
{
	return d->m && streq(d->m->cpu_vendor, "GenuineIntel");
}

bool doctor_cpu_is_amd(const struct doctor *d)
{
	return d->m && (streq(d->m->cpu_vendor, "AuthenticAMD") || streq(d->m->cpu_vendor, "HygonGenuine"));
}


/* ---- Output ---- */

static void json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(out, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(out, "\\u%04x", ch);
		else
			fputc(ch, out);
	}
	fputc('"', out);
}

static void print_json(const struct doctor *d)
{
	putchar('[');
	for (size_t i = 0; i < d->n; i++) {
		const struct check *c = &d->checks[i];

		printf("%s\n{\"group\":", i ? "," : "");
		json_str(stdout, c->group);
		printf(",\"status\":\"%s\",\"what\":", status_names[c->status]);
		json_str(stdout, c->what);
		printf(",\"fix\":");
		json_str(stdout, c->fix);
		putchar('}');
	}
	printf("\n]\n");
}

static void print_text(const struct doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct check *c = &d->checks[i];

		if (i == 0 || !streq(c->group, d->checks[i - 1].group))
			printf("%s%s\n", i ? "\n" : "", c->group);
		printf("%s  %s%s%s\n", status_names[c->status], c->what, c->fix ? " — " : "", c->fix ? c->fix : "");
	}
}

static char *kernel_release(const struct doctor *d)
{
	_cleanup_free_ char *rel = doctor_sys_read(d, "/proc/sys/kernel/osrelease");
	struct utsname u;

	if (rel && *strip(rel))
		return xstrdup(strip(rel));
	return xstrdup(uname(&u) == 0 ? u.release : "unknown");
}

static void doctor_free(struct doctor *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->checks[i].what);
		free(d->checks[i].fix);
	}
	free(d->checks);
	machine_free(d->m);
	config_free(d->c);
	free(d->cmdline);
	free(d->release);
}

/* The groups of checks, in the order they are printed: one file each (doctor-check.h). */
static const struct group {
	const char *name;
	void (*run)(struct doctor *d);
} groups[] = {
	{ "CPU and firmware", doctor_firmware },
	{ "Kernel", doctor_kernel },
	{ "libvirt", doctor_libvirt },
	{ "Map", doctor_map },
	{ "Devices", doctor_devices },
	{ "Session users ([host] users)", doctor_users },
};

int doctor_run(const char *cfg_path, bool json)
{
	struct doctor d = { .root = "" };
	bool failed = false;

	if (getenv("VFIO_HOOK_TEST")) {
		/* The suite's results must not depend on the machine running it. */
		d.root = getenv("VFIO_HOOK_TEST_ROOT");
		if (!d.root || *d.root != '/') {
			log_error("doctor: VFIO_HOOK_TEST is set but VFIO_HOOK_TEST_ROOT is not an absolute directory to read the system's files from");
			return 2;
		}
	}
	d.cmdline = doctor_sys_read(&d, "/proc/cmdline");
	d.release = kernel_release(&d);
	if (machine_discover(&d.m) < 0)
		d.m = NULL;

	d.cfg_path = cfg_path;
	for (size_t i = 0; i < ARRAY_SIZE(groups); i++) {
		d.group = groups[i].name;
		groups[i].run(&d);
	}

	if (json)
		print_json(&d);
	else
		print_text(&d);
	for (size_t i = 0; i < d.n; i++)
		failed |= d.checks[i].status == ST_FAIL;
	doctor_free(&d);
	return failed ? 1 : 0;
}
