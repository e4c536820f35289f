/* SPDX-License-Identifier: MIT */
#ifndef VH_BIND_H
#define VH_BIND_H

#include "discover.h"
#include "ledger.h"

/*
 * One function's driver, moved as libvirt moves it (driver_override, unbind, drivers_probe),
 * each write with a deadline, each checked by reading back what is bound. The engine (engine.h)
 * decides what moves and records it before; these only move, and say in WHY which write failed.
 */

/* vfio-pci loaded (modprobe vfio-pci when it is not): 0, or -errno with the one line logged. */
int bind_vfio_loaded(unsigned timeout_s);

/* F to vfio-pci, and its group's /dev/vfio node there for QEMU. */
int bind_vfio(const struct pci_func *f, unsigned timeout_s, char *why, size_t n);
/* A (known only by its address: a give-back) to vfio-pci. */
int bind_vfio_addr(const struct pci_addr *a, unsigned timeout_s, char *why, size_t n);

/* How bind_host left a function. */
enum bind_end {
	BIND_HOST,  /* on what its entry recorded (or, unknown, what the kernel picks) */
	BIND_GONE,  /* not on this machine any more (hot-removed): nothing to give back */
	BIND_VFIO,  /* its driver did not take it back: on vfio-pci again, still vfio-hook's */
	BIND_NONE,  /* not even vfio-pci took it; WHY says which write failed, and what it is on now */
	BIND_STUCK, /* a write did not finish in time: the kernel holds it; leave it alone */
};

/*
 * The function of E back to what it was on before, never driverless: the probe is tried twice
 * (a driver's probe can fail once, as firmware loading does), and a function its driver still
 * will not take goes back to vfio-pci rather than to no driver at all. A driver not loaded (a
 * hand-over unloaded NVIDIA's) is loaded first, by the device's modalias as udev would, then by
 * name. An override that named another driver than the one bound (a pending driverctl
 * override) is put back after the probe, as it was. WHY says what failed, for all but BIND_HOST.
 */
enum bind_end bind_host(const struct ledger_func *e, unsigned timeout_s, char *why, size_t n);

/* What F is on now, into its fresh ledger entry E, before the first write. */
void bind_record(struct ledger_func *e, const struct pci_func *f);

/* The IOMMU group of A from its sysfs link (no device lock taken); -1: none. */
int bind_group_of(const struct pci_addr *a);

#endif
