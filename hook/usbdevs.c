/* SPDX-License-Identifier: MIT */
/*
 * The USB devices plugged in, for groups (what is behind each USB controller) and usb (what to
 * hot-plug): libudev's enumeration, names from the udev hwdb. Never the device's own strings:
 * they are read under the USB device's lock, which a driver stuck in a USB device's remove()
 * holds for good.
 */
#define _GNU_SOURCE
#include "usbdevs.h"

#include "discover.h"
#include "util.h"

#include <libudev.h>
#include <string.h>

static unsigned attr_num(struct udev_device *d, const char *name, int base)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	return v ? (unsigned)strtoul(v, NULL, base) : 0;
}

static int cmp_usb(const void *a, const void *b)
{
	const struct usb_device *x = a, *y = b;

	return x->bus != y->bus ? (x->bus > y->bus) - (x->bus < y->bus) : (x->device > y->device) - (x->device < y->device);
}

/* What libudev says of the usb_device D. */
static void read_device(struct udev_device *d, struct udev_hwdb *hwdb, struct usb_device *u)
{
	struct udev_device *pci = udev_device_get_parent_with_subsystem_devtype(d, "pci", NULL);
	const char *sysname = pci ? udev_device_get_sysname(pci) : NULL;
	char alias[32];

	u->vendor = attr_num(d, "idVendor", 16);
	u->product = attr_num(d, "idProduct", 16);
	u->bus = attr_num(d, "busnum", 10);
	u->device = attr_num(d, "devnum", 10);
	u->root_hub = !streq(udev_device_get_devtype(udev_device_get_parent(d)), "usb_device");
	u->on_pci = sysname && pci_addr_parse(sysname, &u->ctrl) == 0;
	snprintf(alias, sizeof(alias), "usb:v%04Xp%04X*", u->vendor, u->product);
	u->vendor_name = hwdb_get(hwdb, alias, "ID_VENDOR_FROM_DATABASE");
	u->model = hwdb_get(hwdb, alias, "ID_MODEL_FROM_DATABASE");
}

size_t usb_devices_list(struct usb_device **ret)
{
	struct udev *udev = udev_new();
	struct udev_hwdb *hwdb = udev ? udev_hwdb_new(udev) : NULL;
	struct udev_enumerate *en = udev ? udev_enumerate_new(udev) : NULL;
	size_t n = 0;

	*ret = NULL;
	if (en && udev_enumerate_add_match_subsystem(en, "usb") >= 0 && udev_enumerate_scan_devices(en) >= 0) {
		struct udev_list_entry *e;

		udev_list_entry_foreach(e, udev_enumerate_get_list_entry(en)) {
			struct udev_device *d = udev_device_new_from_syspath(udev, udev_list_entry_get_name(e));

			/* Interfaces are usb too: only the devices, by their DEVTYPE. */
			if (d && streq(udev_device_get_devtype(d), "usb_device"))
				read_device(d, hwdb, array_push(ret, &n, sizeof(**ret)));
			if (d)
				udev_device_unref(d);
		}
	}
	if (en)
		udev_enumerate_unref(en);
	if (hwdb)
		udev_hwdb_unref(hwdb);
	if (udev)
		udev_unref(udev);
	if (n)
		qsort(*ret, n, sizeof(**ret), cmp_usb);
	return n;
}

void usb_devices_free(struct usb_device *devs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(devs[i].vendor_name);
		free(devs[i].model);
	}
	free(devs);
}
