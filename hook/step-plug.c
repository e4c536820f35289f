/* SPDX-License-Identifier: MIT */
/*
 * The engine's plug step, for a take into a VM that runs (swap, a give-back): each function it
 * does not have yet is hot-plugged with the <hostdev> it should have; the undo unplugs them
 * again and waits, at most the map's timeout, for the VM to let go. What the VM keeps (a guest
 * that does not acknowledge the unplug) is never unbound under it: the bind step's give sees
 * it in the VM's status file. A hot-plug libvirt never answers may land at any time: from then
 * on the take stands (nothing of it is undone), and what the VM has not got stays its, on
 * vfio-pci; the caller says which functions it has.
 */
#define _GNU_SOURCE
#include "evict.h"
#include "child.h"
#include "domxml.h"
#include "log.h"
#include "step.h"
#include "util.h"
#include "virt.h"

static bool plug_needed(const struct take *t)
{
	return t->q->plug;
}

/* Waits at most WAIT_MS for the VM's status file to list A: a plug libvirt did not answer in time. */
static bool plugged_late(const struct take *t, const struct pci_addr *a, long wait_ms)
{
	long deadline = now_ms() + wait_ms;

	for (;;) {
		struct domain d = { 0 };
		bool there = domain_load_running(t->q->vm, &d) == 0 && domain_has(&d, a);

		domain_clear(&d);
		if (there)
			return true;
		if (now_ms() >= deadline)
			return false;
		evict_nap();
	}
}

static int plug_run(struct take *t)
{
	const struct options *o = &t->w->cfg->opt;
	bool unanswered = false;

	for (size_t i = 0; i < t->p.n_funcs; i++) {
		const struct pci_func *f = t->p.funcs[i].f;
		const char *given = selection_xml(t->q->sel, &f->addr);
		_cleanup_free_ char *made = given ? NULL : pci_hostdev_xml(&f->addr, false), *out = NULL;
		const struct virt_req q = { o->uri, t->q->vm, VIRT_ATTACH, given ? given : made, VIR_DOMAIN_AFFECT_LIVE };
		struct ledger_func *e;
		char a[PCI_ADDR_LEN];
		int r;

		if (domain_has(&t->live, &f->addr))
			continue;
		pci_addr_format(&f->addr, a, sizeof(a));
		/*
		 * Recorded before the request: until libvirt answers, the running VM may get it any
		 * time, and nothing may unbind it (or its group) or give it to another VM meanwhile.
		 */
		e = ledger_func(&t->w->l, &f->addr);
		if (e) {
			e->plugging = true;
			if (ledger_save(&t->w->l) < 0) {
				e->plugging = false;
				snprintf(t->what, sizeof(t->what), "cannot record the hot-plug of %s (%s) in %s", a,
					 pci_func_name(f), ledger_path());
				snprintf(t->reason, sizeof(t->reason), "cannot write %s", ledger_path());
				return -EIO;
			}
		}
		r = virt_call(&q, (long)o->timeout * 1000L, &out);
		/*
		 * No answer in time is no refusal: libvirt may plug it still (pinning the guest's memory
		 * for its first device takes long; the call may wait for the domain's job). Plugged after
		 * a while, it is. Not even then, it may be any time: undoing the take would unbind it, or
		 * its IOMMU group, under the VM when it lands. So the take stands: the function is the
		 * VM's, on vfio-pci, whether or not it gets it (its stop gives back what it did not),
		 * and the rest is plugged too.
		 */
		if (r == -ETIMEDOUT && plugged_late(t, &f->addr, (long)o->timeout * 1000L))
			r = 0;
		if (r == -ETIMEDOUT) {
			unanswered = true;
			continue;
		}
		if (e)
			e->plugging = false; /* answered: it has it, or it was refused (saved with the rest) */
		if (r < 0) {
			char why[512];

			virt_why(r, out, o->uri, (long)o->timeout * 1000L, why, sizeof(why));
			if (unanswered) {
				log_warning("%s: cannot hot-plug %s (%s): %s; it stays on vfio-pci, %s's, with the rest: libvirt "
					    "may still plug one it did not answer for",
					    t->q->vm, a, pci_func_name(f), why, t->q->vm);
				continue;
			}
			snprintf(t->what, sizeof(t->what), "cannot hot-plug %s (%s): %s", a, pci_func_name(f), why);
			snprintf(t->reason, sizeof(t->reason), "%s", why);
			if (t->q->why_at)
				snprintf(t->q->why_at, PCI_ADDR_LEN, "%s", a);
			return r;
		}
		*(struct pci_addr *)array_push(&t->plugged, &t->n_plugged, sizeof(f->addr)) = f->addr;
	}
	return 0;
}

/* Unplugs what this take plugged in, waiting at most the timeout for each to go. */
static bool plug_undo(struct take *t)
{
	const struct options *o = &t->w->cfg->opt;
	long deadline = now_ms() + (long)o->timeout * 1000L;

	for (size_t i = 0; i < t->n_plugged; i++) {
		struct domain d = { 0 };
		const struct hostdev *hd;
		_cleanup_free_ char *out = NULL;

		if (domain_load_running(t->q->vm, &d) == 0 && (hd = domain_hostdev(&d, &t->plugged[i])) && hd->alias) {
			const struct virt_req q = { o->uri, t->q->vm, VIRT_DETACH_ALIAS, hd->alias, VIR_DOMAIN_AFFECT_LIVE };

			virt_call(&q, deadline - now_ms(), &out);
		}
		domain_clear(&d);
	}
	for (;;) {
		struct domain d = { 0 };
		bool left = false;

		if (domain_load_running(t->q->vm, &d) == 0)
			for (size_t i = 0; i < t->n_plugged; i++)
				left = left || domain_has(&d, &t->plugged[i]);
		domain_clear(&d);
		if (!left)
			return true;
		if (now_ms() >= deadline)
			return false;
		evict_nap();
	}
}

const struct step step_plug = {
	.name = "plug",
	.needed = plug_needed,
	.run = plug_run,
	.undo = plug_undo,
	.undone = STEP_UNDONE,
	.left = STEP_LEFT,
};
