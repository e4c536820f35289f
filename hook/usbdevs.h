/* SPDX-License-Identifier: MIT */
#ifndef VH_USBDEVS_H
#define VH_USBDEVS_H

#include "pciaddr.h"

#include <stdbool.h>
#include <stddef.h>

/* A USB device plugged in, as libudev enumerates it, with the PCI function its bus is on. */
struct usb_device {
	unsigned vendor, product, bus, device;
	bool root_hub;             /* the bus itself (its parent is the controller) */
	bool on_pci;               /* ctrl is the PCI function (USB controller) of its bus */
	struct pci_addr ctrl;
	char *vendor_name, *model; /* from the udev hwdb, as lsusb names it; NULL: not in it */
};

/* Every USB device plugged in, ordered by bus and device number, in *RET; returns how many. */
size_t usb_devices_list(struct usb_device **ret);
void usb_devices_free(struct usb_device *devs, size_t n);

#endif
