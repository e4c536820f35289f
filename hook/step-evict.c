/* SPDX-License-Identifier: MIT */
/*
 * The engine's first step: taking functions from the running VMs that hold them (evict =
 * detach: hot-unplug and wait until the holder's status file no longer lists them; shutdown:
 * ACPI shutdown and wait until it is off), and its give: what a VM took goes back into the VM
 * it came from, through engine_take (the same guards as a start). Every libvirt call is about
 * the holder, never about the VM being started or released (libvirt holds that one's lock
 * while its hook runs), runs in an abandonable child with a deadline (virt.h), and success is
 * read from the holder's status file, not asked of libvirt.
 */
#define _GNU_SOURCE
#include "evict.h"

#include "child.h"
#include "domxml.h"
#include "log.h"
#include "step.h"
#include "sysfs.h"
#include "util.h"
#include "virt.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#define POLL_MS 200

void evict_nap(void)
{
	struct timespec ts = { 0, POLL_MS * 1000000L };

	nanosleep(&ts, NULL);
}

/* Every eviction done: detach waits for the hostdevs to go, shutdown for the holder to stop. */
static bool all_gone(const struct plan *p)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		struct domain d;
		bool there = domain_load_running(e->holder, &d) != -ENOENT;

		if (there && p->policy != EVICT_SHUTDOWN)
			there = domain_has(&d, &e->f->addr);
		domain_clear(&d);
		if (there)
			return false;
	}
	return true;
}

/*
 * Sends the requests: one unplug per hostdev, or one shutdown per holder. *ret_sent[i] says
 * whether eviction i was asked for (a holder may act on it later): a request libvirt did not
 * answer in time was sent all the same (its call may be waiting for the domain's job, or for
 * the guest), and libvirt may carry it out after the take gave up.
 */
static int request(const struct config *c, const struct plan *p, long deadline, const char *retry, bool *ret_sent)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		struct virt_req q = { c->opt.uri, e->holder, VIRT_SHUTDOWN, NULL, 0 };
		_cleanup_free_ char *msg = NULL, *qh = NULL;
		char a[PCI_ADDR_LEN], why[512];
		bool seen = false;
		int r;

		for (size_t k = 0; k < i && !seen; k++)
			seen = streq(p->evictions[k].holder, e->holder) && ret_sent[k];
		ret_sent[i] = p->policy == EVICT_SHUTDOWN && seen;
		if (ret_sent[i])
			continue;
		if (p->policy == EVICT_DETACH) {
			q.op = e->hd->alias ? VIRT_DETACH_ALIAS : VIRT_DETACH;
			q.arg = e->hd->alias ? e->hd->alias : e->hd->xml;
			q.flags = VIR_DOMAIN_AFFECT_LIVE;
		}
		r = virt_call(&q, deadline - now_ms(), &msg);
		ret_sent[i] = r == 0 || r == -ETIMEDOUT;
		if (r == 0)
			continue;
		pci_addr_format(&e->f->addr, a, sizeof(a));
		qh = shell_quote(e->holder);
		log_error("%s: cannot %s the running VM %s, which holds %s (%s): %s%s; %s keeps it: shut %s down first "
			  "(virsh shutdown %s), then %s",
			  p->vm->name, p->policy == EVICT_SHUTDOWN ? "shut down" : "hot-unplug a device from", e->holder, a,
			  pci_func_name(e->f), virt_why(r, msg, c->opt.uri, (long)c->opt.timeout * 1000L, why, sizeof(why)),
			  r == -ETIMEDOUT ? " (libvirt does not answer hooks while it autostarts VMs)" : "", e->holder,
			  e->holder, qh, retry);
		return r;
	}
	return 0;
}

/* The one line for an eviction that did not complete in time, naming the first holder still holding. */
static void log_not_released(const struct config *c, const struct plan *p, const char *retry)
{
	const struct eviction *e = &p->evictions[0];
	_cleanup_free_ char *qh = NULL, *qhi = NULL;
	char a[PCI_ADDR_LEN];

	for (size_t i = 0; i < p->n_evictions; i++) {
		struct domain d;
		bool there;

		e = &p->evictions[i];
		there = domain_load_running(e->holder, &d) != -ENOENT &&
			(p->policy == EVICT_SHUTDOWN || domain_has(&d, &e->f->addr));
		domain_clear(&d);
		if (there)
			break;
	}
	pci_addr_format(&e->f->addr, a, sizeof(a));
	qh = shell_quote(e->holder);
	qhi = shell_quote_inner(e->holder);
	if (p->policy == EVICT_SHUTDOWN)
		log_error("%s: the running VM %s holds %s (%s) and did not shut down within %u s of an ACPI shutdown "
			  "request; it keeps running: shut it down from inside or with 'virsh destroy %s', then %s",
			  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, qhi, retry);
	else if (config_find_vm(c, p->vm->name) == p->vm)
		log_error("%s: the running VM %s did not release %s (%s) within %u s of a hot-unplug request (a guest "
			  "without an OS or without PCI hotplug never does); %s keeps it: shut %s down first (virsh "
			  "shutdown %s), or set evict = shutdown in [vm %s] of %s",
			  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, e->holder, qh,
			  p->vm->name, c->path);
	else /* a swap by hand */
		log_error("%s: the running VM %s did not release %s (%s) within %u s of a hot-unplug request (a guest "
			  "without an OS or without PCI hotplug never does); %s keeps it: shut %s down first, or add "
			  "--force to have swap shut it down",
			  p->vm->name, e->holder, a, pci_func_name(e->f), c->opt.timeout, e->holder, e->holder);
}

static bool evict_needed(const struct take *t)
{
	return t->p.n_evictions > 0;
}

/*
 * Each function is in the ledger as taken by the VM, with the holder's UUID, id and hostdev,
 * before it is asked for; then the requests, and the wait, all within the map's timeout. Then
 * the machine is planned again (libvirt gives a managed device back to its host driver), with
 * no further eviction. A failure logs its own line (the take's retry says what to run again).
 */
static int evict_run(struct take *t)
{
	const struct config *c = t->w->cfg;
	const struct plan *p = &t->p;
	struct ledger *l = &t->w->l;
	long deadline = now_ms() + (long)c->opt.timeout * 1000L;
	_cleanup_free_ bool *sent = xcalloc(p->n_evictions, sizeof(bool));
	char a[PCI_ADDR_LEN];
	bool requested;
	int r;

	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];

		ledger_took_add(l, &e->f->addr, p->vm->name, e->holder, e->d ? e->d->uuid : "", e->d ? e->d->id : -1,
				e->hd->xml)->pending = true;
		*(struct pci_addr *)array_push(&t->taken, &t->n_taken, sizeof(struct pci_addr)) = e->f->addr;
	}
	r = ledger_save(l);
	if (r < 0)
		goto fail;
	r = request(c, p, deadline, t->q->retry, sent);
	requested = r == 0;
	while (r == 0 && !all_gone(p)) {
		if (now_ms() >= deadline) {
			r = -ETIMEDOUT;
			break;
		}
		evict_nap();
	}
	if (r == 0 || (r == -ETIMEDOUT && all_gone(p))) {
		for (size_t i = 0; i < l->n_took; i++)
			if (streq(l->took[i].owner, p->vm->name))
				l->took[i].pending = false;
		for (size_t i = 0; i < p->n_evictions; i++) {
			pci_addr_format(&p->evictions[i].f->addr, a, sizeof(a));
			log_info("%s: took %s from %s (evict = %s)", p->vm->name, a, p->evictions[i].holder,
				 evict_policy_name(p->policy));
			if (t->q->say)
				printf("took %s from %s\n", a, p->evictions[i].holder);
		}
		r = ledger_save(l);
		/* Drivers changed (libvirt gives managed devices back to the host): look again. */
		return r < 0 ? r : take_replan(t, EVICT_REFUSE);
	}
	if (requested)
		log_not_released(c, p, t->q->retry);
fail:
	/* Never asked for (or refused): nothing will come of it. What was asked stays pending for a later run. */
	for (size_t i = 0; i < p->n_evictions; i++)
		for (size_t k = 0; !sent[i] && k < l->n_took; k++)
			if (l->took[k].pending && streq(l->took[k].owner, p->vm->name) &&
			    pci_addr_eq(&l->took[k].addr, &p->evictions[i].f->addr)) {
				ledger_took_drop(l, k);
				break;
			}
	return r < 0 ? r : -EIO;
}

static bool give_back(struct world *w, const char *owner, bool force, bool final, const struct pci_addr *only, size_t n,
		      bool host_now, char *refused, size_t refused_n, bool *ret_left);

/*
 * What left its holder goes back into it; the rest stays pending in the ledger. What a VM
 * would not take back goes to the host now, and the take's line says so.
 */
static bool evict_undo(struct take *t)
{
	char refused[256] = "";
	bool left = false;

	give_back(t->w, t->q->vm, true, false, t->taken, t->n_taken, true, refused, sizeof(refused), &left);
	/* Put back, but not where it was: the line says where (what stayed, it says to restore). */
	if (*refused && !left) {
		size_t len = strlen(t->hint);

		snprintf(t->hint + len, sizeof(t->hint) - len, ", but %s did not take back what was taken from it: the host "
			 "has it now", refused);
	}
	return !left;
}

/* Is the VM a function was taken from still the one that ran then? Its status, or NULL. */
static const struct domain *same_holder(const struct holders *h, const struct ledger_took *t)
{
	const struct domain *d = holders_running(h, t->from, t->from_uuid);

	if (d && t->from_id >= 0 && d->id >= 0 && d->id != t->from_id)
		return NULL; /* restarted since: it does not expect the device back */
	return d;
}

/*
 * What could not go back into the VM it came from goes to the host through the engine's give
 * (never unbound under a VM that has it, or its IOMMU group; never to no driver), as the VM
 * that took it gives it: what stays is recorded as that VM's, for 'vfio-hook restore' of the VM
 * the lines name. False when something stayed.
 */
static bool to_host(struct world *w, const char *taker, const struct pci_addr *addrs, size_t n)
{
	const struct give_req q = { .owner = taker, .only = addrs, .n_only = n, .prio = LOG_WARNING };

	return n == 0 || engine_give(w, &q) == 0;
}

/*
 * What was taken from one VM, back into it, as a take of that VM's with the same guards as its
 * start: all of it in one take, so that an IOMMU group goes back whole (the plan judges the
 * group with every function of it it gives back), plugged in with the <hostdev> each had. What
 * the VM that took them (being released, or whose start failed) owns of them is free to take.
 * What that VM will not take back becomes the taker's again: it goes to the host now (HOST_NOW),
 * or with the rest of a release's. One line a function, with its own reason. False when the VM
 * did not take them; *ret_left when something of them stayed recorded for restore.
 */
static bool return_to(struct world *w, const struct ledger_took *t, size_t n, bool host_now, bool *ret_left)
{
	_cleanup_free_ struct pci_addr *addrs = xcalloc(n, sizeof(*addrs));
	_cleanup_free_ struct pci_addr *mine = xcalloc(n, sizeof(*mine));
	_cleanup_free_ char **xml = xcalloc(n, sizeof(*xml));
	_cleanup_free_ char *taker = xstrdup(t[0].owner), *from = xstrdup(t[0].from);
	struct ledger *l = &w->l;
	struct selection s;
	struct domain d = { 0 };
	char why[1024] = "", at[PCI_ADDR_LEN] = "";
	const struct take_req q = { .vm = from, .sel = &s, .policy = EVICT_REFUSE, .retry = "", .giver = taker,
				    .plug = true, .why = why, .why_n = sizeof(why), .why_at = at };
	_cleanup_free_ bool *mine_at = xcalloc(n, sizeof(bool));
	size_t n_mine = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		addrs[i] = t[i].addr;
		xml[i] = t[i].xml;
	}
	selection_addrs(w->cfg, from, addrs, xml, n, &s);
	r = engine_take(w, &q);
	selection_clear(&s);
	if (r >= 0) {
		/* A hot-plug libvirt did not answer may land later: the VM owns it meanwhile (step-plug.c). */
		domain_load_running(from, &d);
		for (size_t i = 0; i < n; i++) {
			char a[PCI_ADDR_LEN];

			pci_addr_format(&addrs[i], a, sizeof(a));
			if (domain_has(&d, &addrs[i]))
				log_info("%s: gave %s back to the running VM %s", taker, a, from);
			else
				log_warning("%s: %s is %s's again, on vfio-pci, but %s does not have it: libvirt did not answer its "
					    "hot-plug in time and may still plug it (if it never does, %s's stop gives it back to "
					    "the host)", taker, a, from, from, from);
		}
		domain_clear(&d);
		return true;
	}
	if (!*why)
		snprintf(why, sizeof(why), "its give-back failed (see above)");
	/* The taker's again (the undo of that take gave what it had claimed back to the giver, the taker). */
	for (size_t i = 0; i < n; i++) {
		const char *owner = ledger_owner(l, &addrs[i]);

		if (!owner || (!streq(owner, from) && !streq(owner, taker)))
			continue;
		if (!streq(owner, taker))
			ledger_claim(l, &addrs[i], taker);
		mine[n_mine++] = addrs[i];
		mine_at[i] = true;
	}
	if (host_now && !to_host(w, taker, mine, n_mine))
		*ret_left = true;
	ledger_save(l);
	for (size_t i = 0; i < n; i++) {
		const char *owner = ledger_owner(l, &addrs[i]);
		char a[PCI_ADDR_LEN], whose[256];

		pci_addr_format(&addrs[i], a, sizeof(a));
		if (!owner)
			snprintf(whose, sizeof(whose), "%s", mine_at[i] ? "it went back to the host" : "it stays with the host");
		else if (!streq(owner, taker))
			snprintf(whose, sizeof(whose), "it stays on vfio-pci, %s's: %s uses it, or its IOMMU group", owner, owner);
		else if (!host_now)
			snprintf(whose, sizeof(whose), "it goes back to the host");
		else
			snprintf(whose, sizeof(whose), "it stays on vfio-pci, recorded (see above): run 'vfio-hook restore %s' "
				 "once the cause is gone", taker);
		if (!*at || streq(at, a))
			log_warning("%s: could not give %s back to %s: %s; %s", taker, a, from, why, whose);
		else
			log_warning("%s: could not give %s back to %s: what was taken from %s goes back in one take, and %s "
				    "could not; %s", taker, a, from, from, at, whose);
	}
	return false;
}

/* Does anyone still run as, or start as, VM NAME? */
static bool alive(const struct holders *h, const struct ledger *l, const char *name)
{
	return holders_get(h, name) || ledger_vm(l, name);
}

static bool among(const struct pci_addr *a, const struct pci_addr *only, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (pci_addr_eq(a, &only[i]))
			return true;
	return !only;
}

/*
 * engine_return, and for the take's undo (HOST_NOW) what a VM would not take back goes to the
 * host at once, where a release's own give takes it later; REFUSED: the name of a VM that did
 * not take back what was taken from it; *RET_LEFT: something stayed recorded for restore.
 */
static bool give_back(struct world *w, const char *owner, bool force, bool final, const struct pci_addr *only, size_t n,
		      bool host_now, char *refused, size_t refused_n, bool *ret_left)
{
	struct ledger *l = &w->l;
	struct holders h = { 0 };
	struct ledger_took *todo = NULL;
	struct pci_addr *gone = NULL;
	size_t n_todo = 0, n_gone = 0;
	bool all = true;

	/* Without the running VMs no record can be judged: all stay for a later run. */
	if (holders_load(&h) < 0)
		return false;
	for (size_t i = 0; i < l->n_took;) {
		struct ledger_took *t = &l->took[i];
		const struct domain *d;
		char a[PCI_ADDR_LEN];

		if ((owner ? !streq(t->owner, owner) : alive(&h, l, t->owner)) || !among(&t->addr, only, n)) {
			i++;
			continue;
		}
		pci_addr_format(&t->addr, a, sizeof(a));
		d = same_holder(&h, t);
		if (d && domain_has(d, &t->addr)) {
			/* Never taken after all, or not yet: a late unplug is given back by a later run. */
			if (t->pending && !final) {
				i++;
				continue;
			}
		} else if (!d) {
			log_info("%s: %s, which %s came from, is not running any more: it stays with the host", t->owner,
				 t->from, a);
			/* Still the taker's (its start failed): the host's now, as the line says. */
			if (host_now && ledger_owner(l, &t->addr) && streq(ledger_owner(l, &t->addr), t->owner))
				*(struct pci_addr *)array_push(&gone, &n_gone, sizeof(t->addr)) = t->addr;
		} else if (!force && !t->pending && owner) {
			/* giveback = no: it goes to the host with the rest of OWNER's devices. */
		} else if (holders_find(&h, &t->addr, t->from) ||
			   (ledger_owner(l, &t->addr) && !streq(ledger_owner(l, &t->addr), t->owner) &&
			    !streq(ledger_owner(l, &t->addr), t->from))) {
			log_info("%s: %s is another VM's now: it does not go back to %s", t->owner, a, t->from);
		} else {
			/* Given back below, once the records are settled: a take saves the ledger. */
			struct ledger_took copy = *t;

			copy.owner = xstrdup(t->owner);
			copy.from = xstrdup(t->from);
			copy.xml = xstrdup(t->xml);
			*(struct ledger_took *)array_push(&todo, &n_todo, sizeof(copy)) = copy;
		}
		ledger_took_drop(l, i);
	}
	holders_clear(&h);
	ledger_save(l);
	if (n_gone && owner && !to_host(w, owner, gone, n_gone))
		*ret_left = true;
	free(gone);
	/* One take per VM they go back to (and per VM that took them), in the order they were taken. */
	for (size_t i = 0; i < n_todo;) {
		size_t k = i + 1;
		bool back;

		for (size_t j = i + 1; j < n_todo; j++)
			if (streq(todo[j].from, todo[i].from) && streq(todo[j].owner, todo[i].owner)) {
				struct ledger_took x = todo[j];

				memmove(&todo[k + 1], &todo[k], (j - k) * sizeof(x));
				todo[k++] = x;
			}
		back = return_to(w, &todo[i], k - i, host_now, ret_left);
		if (!back && refused && !*refused)
			snprintf(refused, refused_n, "%s", todo[i].from);
		all = back && all;
		i = k;
	}
	for (size_t i = 0; i < n_todo; i++) {
		free(todo[i].owner);
		free(todo[i].from);
		free(todo[i].xml);
	}
	free(todo);
	return all;
}

bool engine_return(struct world *w, const char *owner, bool force, bool final, const struct pci_addr *only, size_t n)
{
	bool left = false;

	return give_back(w, owner, force, final, only, n, true, NULL, 0, &left);
}

/* A release gives back what its VM took (giveback = yes, or a failed start); restore keeps it on the host. */
static void evict_give(struct give *g)
{
	const struct give_req *q = g->q;
	struct ledger *l = &g->w->l;

	if (!q->owner)
		return;
	if (q->returns) {
		/* What a VM will not take back goes to the host with the rest of OWNER's, by the steps after this. */
		bool left = false;

		g->left |= !give_back(g->w, q->owner, q->forced, false, q->only, q->n_only, false, NULL, 0, &left);
		return;
	}
	if (!q->keep_taken)
		return;
	for (size_t i = 0; i < l->n_took;)
		if (streq(l->took[i].owner, q->owner) && among(&l->took[i].addr, q->only, q->n_only))
			ledger_took_drop(l, i);
		else
			i++;
}

static void evict_describe(const struct plan *p, FILE *out)
{
	for (size_t i = 0; i < p->n_evictions; i++) {
		const struct eviction *e = &p->evictions[i];
		char a[PCI_ADDR_LEN];

		pci_addr_format(&e->f->addr, a, sizeof(a));
		fprintf(out, "  evict %s (%s) from the running VM %s: %s (evict = %s)\n", a, pci_func_name(e->f),
			e->holder, p->policy == EVICT_SHUTDOWN ? "shut it down" : "hot-unplug it",
			evict_policy_name(p->policy));
	}
}

const struct step step_evict = {
	.name = "evict",
	.needed = evict_needed,
	.run = evict_run,
	.undo = evict_undo,
	.give = evict_give,
	.describe = evict_describe,
	.undone = "",
	.left = "",
};

void evict_settle(struct ledger *l, const char *owner, unsigned timeout_s)
{
	long deadline = now_ms() + (long)timeout_s * 1000L;

	for (;;) {
		struct holders h = { 0 };
		bool waiting = false;

		if (holders_load(&h) < 0)
			return;
		for (size_t i = 0; i < l->n_took && !waiting; i++) {
			const struct ledger_took *t = &l->took[i];
			const struct domain *d;

			if (t->pending && streq(t->owner, owner) && (d = same_holder(&h, t)))
				waiting = domain_has(d, &t->addr);
		}
		holders_clear(&h);
		if (!waiting || now_ms() >= deadline)
			return;
		evict_nap();
	}
}
