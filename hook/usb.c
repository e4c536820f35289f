/* SPDX-License-Identifier: MIT */
/*
 * vfio-hook usb add|remove VM DEVICE: hot-plugs a USB device (a [usb] name, vvvv:pppp, or the
 * bus.device lsusb shows) into a running VM, or out of it. USB devices are found with libudev.
 */
#define _GNU_SOURCE
#include "actions.h"

#include "config.h"
#include "discover.h"
#include "holders.h"
#include "log.h"
#include "usbdevs.h"
#include "util.h"
#include "virt.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

struct usb_dev {
	unsigned vendor, product, bus, device;
	char name[128];
};

/* What DEVICE asks for: selectors (from a [usb] section, or one id), or one bus.device. */
struct usb_want {
	struct usb_sel *sels;
	size_t n_sels;
	unsigned bus, device; /* bus 0: any */
};

static bool wants(const struct usb_want *w, unsigned vendor, unsigned product, unsigned bus, unsigned device)
{
	if (w->bus)
		return bus == w->bus && device == w->device;
	for (size_t i = 0; i < w->n_sels; i++)
		if (w->sels[i].vendor == vendor && (w->sels[i].any_product || w->sels[i].product == product))
			return true;
	return false;
}

static int parse_want(const struct config *c, const char *device, struct usb_want *w)
{
	struct usb_sel sel;
	unsigned bus, dev;
	char end;

	*w = (struct usb_want){ 0 };
	for (size_t i = 0; c && i < c->n_usb_sets; i++) {
		if (!streq(c->usb_sets[i].name, device))
			continue;
		for (size_t k = 0; k < c->usb_sets[i].n_entries; k++)
			*(struct usb_sel *)array_push(&w->sels, &w->n_sels, sizeof(sel)) = c->usb_sets[i].entries[k].sel;
		return 0;
	}
	if (sscanf(device, "%u.%u%c", &bus, &dev, &end) == 2 && bus > 0) {
		w->bus = bus;
		w->device = dev;
		return 0;
	}
	if (strchr(device, ':') && usb_sel_parse(device, &sel) == 0) {
		*(struct usb_sel *)array_push(&w->sels, &w->n_sels, sizeof(sel)) = sel;
		return 0;
	}
	log_error("unknown USB device \"%s\": not a [usb] name in %s, a vendor:product id (046d:c539) or a bus.device "
		  "as lsusb shows it (3.2)",
		  device, c ? c->path : "the map");
	return -EINVAL;
}

/* The plugged-in USB devices DEVICE names, with the name lsusb prints from the hwdb. */
static size_t find_plugged(const struct usb_want *w, struct usb_dev **ret)
{
	struct usb_device *all;
	size_t n_all = usb_devices_list(&all), n = 0;

	*ret = NULL;
	for (size_t i = 0; i < n_all; i++) {
		const struct usb_device *a = &all[i];
		struct usb_dev u = { a->vendor, a->product, a->bus, a->device, "" };

		if (!a->bus || !wants(w, a->vendor, a->product, a->bus, a->device))
			continue;
		snprintf(u.name, sizeof(u.name), "%s", a->model ? a->model : "unknown device");
		*(struct usb_dev *)array_push(ret, &n, sizeof(u)) = u;
	}
	usb_devices_free(all, n_all);
	return n;
}

static void describe(const struct usb_dev *u, size_t n, char *buf, size_t len)
{
	size_t k = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && k < len; i++)
		k += (size_t)snprintf(buf + k, len - k, "%sBus %03u Device %03u: ID %04x:%04x %s", i ? ", " : "", u[i].bus,
				      u[i].device, u[i].vendor, u[i].product, u[i].name);
}

/* The live hot-plug (IN) or unplug of the USB hostdev XML; LIST names the device for the user. */
static int plug(const struct options *o, const char *vm, bool in, const char *xml, const char *device,
		const char *list)
{
	const struct virt_req q = { o->uri, vm, in ? VIRT_ATTACH : VIRT_DETACH, xml, VIR_DOMAIN_AFFECT_LIVE };
	_cleanup_free_ char *out = NULL;
	int r = virt_call(&q, (long)o->timeout * 1000L, &out);

	if (r < 0) {
		char why[512];

		log_error("cannot %s %s (%s) %s %s: %s", in ? "attach" : "detach", device, list, in ? "to" : "from", vm,
			  virt_why(r, out, o->uri, (long)o->timeout * 1000L, why, sizeof(why)));
		return r;
	}
	printf("%s %s %s %s\n", in ? "attached" : "detached", list, in ? "to" : "from", vm);
	return 0;
}

static int usb_add(const struct options *o, const char *vm, const char *device, const struct usb_want *w,
		   const struct domain *live)
{
	_cleanup_free_ struct usb_dev *devs = NULL;
	_cleanup_free_ char *xml = NULL;
	size_t n = find_plugged(w, &devs);
	char list[1024];

	if (n == 0) {
		log_error("%s is not plugged in: no USB device matches it (see lsusb)", device);
		return -ENODEV;
	}
	describe(devs, n, list, sizeof(list));
	if (n > 1) {
		_cleanup_free_ char *q = shell_quote_inner(vm);

		log_error("several USB devices match %s: %s; pick one by its bus.device, e.g. 'vfio-hook usb add %s %u.%u'",
			  device, list, q, devs[0].bus, devs[0].device);
		return -EINVAL;
	}
	for (size_t i = 0; i < live->n_usbdevs; i++) {
		const struct usbdev *u = &live->usbdevs[i];

		if (u->vendor == devs[0].vendor && u->product == devs[0].product &&
		    (!u->bus || (u->bus == devs[0].bus && u->device == devs[0].device))) {
			log_error("%s (%s) is already attached to %s", device, list, vm);
			return -EEXIST;
		}
	}
	xml = xasprintf("<hostdev mode='subsystem' type='usb' managed='yes'><source><vendor id='0x%04x'/><product "
			"id='0x%04x'/><address bus='%u' device='%u'/></source></hostdev>",
			devs[0].vendor, devs[0].product, devs[0].bus, devs[0].device);
	return plug(o, vm, true, xml, device, list);
}

static int usb_remove(const struct options *o, const char *vm, const char *device, const struct usb_want *w,
		      const struct domain *live)
{
	const struct usbdev *found[16];
	char list[1024] = "";
	size_t n = 0, k = 0;

	for (size_t i = 0; i < live->n_usbdevs && n < ARRAY_SIZE(found); i++)
		if (wants(w, live->usbdevs[i].vendor, live->usbdevs[i].product, live->usbdevs[i].bus, live->usbdevs[i].device))
			found[n++] = &live->usbdevs[i];
	for (size_t i = 0; i < n && k < sizeof(list); i++)
		k += (size_t)snprintf(list + k, sizeof(list) - k, "%sBus %03u Device %03u: ID %04x:%04x", i ? ", " : "",
				      found[i]->bus, found[i]->device, found[i]->vendor, found[i]->product);
	if (n == 0) {
		log_error("%s is not attached to %s (nothing to remove)", device, vm);
		return -ENODEV;
	}
	if (n > 1) {
		_cleanup_free_ char *q = shell_quote_inner(vm);

		log_error("several USB devices attached to %s match %s: %s; pick one by its bus.device, e.g. 'vfio-hook usb "
			  "remove %s %u.%u'",
			  vm, device, list, q, found[0]->bus, found[0]->device);
		return -EINVAL;
	}
	return plug(o, vm, false, found[0]->xml, device, list);
}

int action_usb(const char *cfg_path, bool add, const char *vm, const char *device)
{
	const char *path = config_path(cfg_path);
	struct config *c = NULL;
	struct options dflt = { .uri = (char *)"qemu:///system", .timeout = CONFIG_DEFAULT_TIMEOUT };
	const struct options *o;
	struct usb_want w = { 0 };
	struct domain live = { 0 };
	int r;

	/* The map is needed only for [usb] names and the uri; vvvv:pppp works without one. */
	if ((cfg_path || getenv("VFIO_HOOK_CONFIG") || access(path, R_OK) == 0) && config_load(path, &c) < 0)
		return -EINVAL;
	o = c ? &c->opt : &dflt;
	r = parse_want(c, device, &w);
	if (r < 0)
		goto out;
	r = domain_load_running(vm, &live);
	if (r == -ENOPKG)
		goto out;
	if (r < 0) {
		int k = virt_known(o->uri, o->timeout, vm);

		if (k == 0) {
			_cleanup_free_ char *q = shell_quote(vm);

			log_error("%s is not running: USB devices are hot-plugged into a running VM (virsh start %s)", vm, q);
		}
		r = k < 0 ? k : -EINVAL;
		goto out;
	}
	r = add ? usb_add(o, vm, device, &w, &live) : usb_remove(o, vm, device, &w, &live);
out:
	domain_clear(&live);
	free(w.sels);
	config_free(c);
	return r;
}
