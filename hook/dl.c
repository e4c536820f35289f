/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "dl.h"

#include "log.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

/* Found by pkg-config at build time (Makefile): the library the headers above describe. */
#ifndef LIBVIRT_SONAME
#error "LIBVIRT_SONAME is not defined: build with make, which finds it with pkg-config"
#endif
#ifndef LIBXML2_SONAME
#error "LIBXML2_SONAME is not defined: build with make, which finds it with pkg-config"
#endif

#define DL_DEFINE(f) __typeof__(f) *sym_##f;
DL_LIBVIRT_SYMS(DL_DEFINE)
DL_LIBXML2_SYMS(DL_DEFINE)
#undef DL_DEFINE

/* A variable in libxml2 (a function pointer), not a function. */
static xmlFreeFunc *sym_xmlFree;

struct dl_sym {
	const char *name;
	void **ptr;
};

struct dl_lib {
	const char *name;
	const char *soname;
	const char *package; /* what to install, in the error */
	const struct dl_sym *syms;
	size_t n_syms;
	int state; /* 1: not tried; 0: loaded; -ENOPKG: failed (why says) */
	char why[512];
};

#define DL_ENTRY(f) { #f, (void **)&sym_##f },
static const struct dl_sym libvirt_syms[] = { DL_LIBVIRT_SYMS(DL_ENTRY) };
static const struct dl_sym libxml2_syms[] = { DL_LIBXML2_SYMS(DL_ENTRY){ "xmlFree", (void **)&sym_xmlFree } };
#undef DL_ENTRY

static struct dl_lib libvirt = {
	"libvirt", LIBVIRT_SONAME, "libvirt's client library: libvirt0 on Debian and Ubuntu, libvirt-libs on Fedora", libvirt_syms,
	sizeof(libvirt_syms) / sizeof(libvirt_syms[0]), 1, "",
};
static struct dl_lib libxml2 = {
	"libxml2", LIBXML2_SONAME, "libxml2", libxml2_syms,
	sizeof(libxml2_syms) / sizeof(libxml2_syms[0]), 1, "",
};

static int dl_load(struct dl_lib *l)
{
	void *h;

	if (l->state <= 0)
		return l->state;
	/* Never closed: the pointers stay valid for the life of the process. */
	h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		snprintf(l->why, sizeof(l->why), "cannot load %s: %s (install %s)", l->name, dlerror(), l->package);
		return l->state = -ENOPKG;
	}
	for (size_t i = 0; i < l->n_syms; i++) {
		*l->syms[i].ptr = dlsym(h, l->syms[i].name);
		if (!*l->syms[i].ptr) {
			snprintf(l->why, sizeof(l->why),
				 "cannot use %s: it has no %s, which vfio-hook was built against (install the version it was built with, or rebuild vfio-hook)",
				 l->soname, l->syms[i].name);
			return l->state = -ENOPKG;
		}
	}
	return l->state = 0;
}

int dlopen_libvirt(const char **ret_why)
{
	int r = dl_load(&libvirt);

	*ret_why = libvirt.why;
	return r;
}

int dlopen_libxml2(void)
{
	static bool logged;
	int r = dl_load(&libxml2);

	if (r < 0 && !logged) {
		log_error("%s", libxml2.why);
		logged = true;
	}
	return r;
}

void dl_xml_free(void *p)
{
	if (p)
		(*sym_xmlFree)(p);
}
