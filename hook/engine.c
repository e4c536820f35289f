/* SPDX-License-Identifier: MIT */
/*
 * The engine (engine.h): a take climbs the ladder below, a give walks its steps backwards.
 * A step is one file (step-*.c) and one entry here (step.h says what it provides).
 */
#define _GNU_SOURCE
#include "engine.h"

#include "claims.h"
#include "dl.h"
#include "log.h"
#include "state.h"
#include "step.h"
#include "util.h"

#include <errno.h>
#include <string.h>

/* The order a take runs its steps in; a failure undoes the steps run so far, in reverse. */
static const struct step *const ladder[] = { &step_evict, &step_pages,	&step_cpus,  &step_sleep,
					     &step_display, &step_bind, &step_claim, &step_plug };

/*
 * The order a give runs them in: what was taken goes back into the VMs it came from first
 * (still on vfio-pci, as those VMs expect), then the rest to the host, then the host's display,
 * once its GPU is back, then what the VM claimed of the host. Claim and plug have nothing to
 * give: the VM is gone.
 */
static const struct step *const give_order[] = { &step_evict, &step_bind,  &step_display,
						 &step_pages, &step_cpus, &step_sleep };

/* ---- selections ---- */

void selection_vm(const struct config *c, const struct vm *v, struct selection *ret)
{
	(void)c;
	*ret = (struct selection){ .vm = v, .mapped = v };
}

/* A selection of its own, named after VM, with its [vm] section's settings when it has one. */
static void selection_own(const struct config *c, const char *vm, struct selection *s)
{
	*s = (struct selection){ .vm = &s->own_vm, .mapped = config_find_vm(c, vm) };
	s->own_vm.name = (char *)vm;
	if (s->mapped) {
		s->own_vm.evict = s->mapped->evict;
		s->own_vm.evict_line = s->mapped->evict_line;
		s->own_vm.giveback = s->mapped->giveback;
		s->own_vm.giveback_line = s->mapped->giveback_line;
		s->own_vm.display = s->mapped->display;
	}
}

static void select_entry(struct selection *s, const struct pci_entry *e, const struct pci_set *set, int line)
{
	*(struct vm_pci *)array_push(&s->own_vm.pci, &s->own_vm.n_pci, sizeof(struct vm_pci)) =
		(struct vm_pci){ e, set, line };
}

int selection_device(const struct config *c, const char *vm, const char *device, struct selection *ret)
{
	const struct pci_set *set = config_find_pci_set(c, device);

	selection_own(c, vm, ret);
	if (set) {
		for (size_t i = 0; i < set->n_entries; i++)
			select_entry(ret, &set->entries[i], set, set->line);
		return 0;
	}
	ret->own = xcalloc(1, sizeof(*ret->own));
	if (pci_sel_parse(device, &ret->own[0].sel) < 0) {
		log_error("unknown device \"%s\": not a [pci] name in %s, nor a vendor:device id or an address (see "
			  "'vfio-hook groups')",
			  device, c->path);
		return -EINVAL;
	}
	ret->n_own = 1;
	select_entry(ret, &ret->own[0], NULL, 0);
	return 0;
}

void selection_addrs(const struct config *c, const char *vm, const struct pci_addr *addrs, char *const *xml, size_t n,
		     struct selection *ret)
{
	selection_own(c, vm, ret);
	ret->own = xcalloc(n ? n : 1, sizeof(*ret->own));
	ret->xml = xcalloc(n ? n : 1, sizeof(char *));
	ret->n_own = n;
	for (size_t i = 0; i < n; i++) {
		ret->own[i].sel = (struct pci_sel){ .is_addr = true, .addr = addrs[i] };
		ret->xml[i] = xml && xml[i] && *xml[i] ? xstrdup(xml[i]) : NULL;
	}
	for (size_t i = 0; i < n; i++)
		select_entry(ret, &ret->own[i], NULL, 0);
}

const char *selection_xml(const struct selection *s, const struct pci_addr *a)
{
	for (size_t i = 0; s->xml && i < s->n_own; i++)
		if (s->own[i].sel.is_addr && pci_addr_eq(&s->own[i].sel.addr, a))
			return s->xml[i];
	return NULL;
}

void selection_clear(struct selection *s)
{
	for (size_t i = 0; s->xml && i < s->n_own; i++)
		free(s->xml[i]);
	free(s->xml);
	free(s->own);
	free(s->own_vm.pci);
	*s = (struct selection){ 0 };
}

/* ---- planning ---- */

static int plan_with(const struct world *w, const struct take_req *q, enum evict_policy policy, const struct machine *m,
		     const struct holders *h, struct plan *p)
{
	const struct plan_in in = { w->cfg, q->sel->vm, policy, m, h, &w->l, q->dom, q->giver };
	int r = plan_build(&in, p);

	if (r == 0 && q->claims) {
		/* Its reads of the host may block each up to the timeout: a VM waiting for the lock is told so first. */
		state_lock_hold(w->lock, claims_plan_hold_ms(w->cfg, q->sel->mapped, q->dom));
		claims_plan_build(w->cfg, q->sel->mapped, q->vm, q->dom, &w->l, h, p);
	}
	return r;
}

int engine_plan(const struct world *w, const struct take_req *q, struct plan *ret)
{
	return plan_with(w, q, q->policy, w->m, &w->h, ret);
}

/* A fresh look at the machine and the running VMs, and the plan on it. */
int take_replan(struct take *t, enum evict_policy policy)
{
	int r;

	plan_clear(&t->p);
	holders_clear(&t->h);
	machine_free(t->m);
	t->m = NULL;
	r = world_look(t->w->cfg, &t->m, &t->h);
	if (r < 0)
		return r;
	r = plan_with(t->w, t->q, policy, t->m, &t->h, &t->p);
	if (r == 0 && t->p.n_refusals) {
		plan_problem_line(&t->p, t->what, sizeof(t->what));
		return -EPERM;
	}
	return r;
}

void engine_describe(const struct plan *p, FILE *out)
{
	fprintf(out, "%s: %zu PCI function%s\n", p->vm->name, p->n_funcs, p->n_funcs == 1 ? "" : "s");
	/* The display first, as the ladder hands it over before the move; the evictions after the moves. */
	step_display.describe(p, out);
	step_bind.describe(p, out);
	step_evict.describe(p, out);
	step_cpus.describe(p, out);
	step_pages.describe(p, out);
	step_sleep.describe(p, out);
	for (size_t i = 0; i < p->n_warnings; i++)
		fprintf(out, "  warning: %s\n", p->warnings[i]);
	for (size_t i = 0; i < p->n_refusals; i++)
		fprintf(out, "  refuse: %s\n", p->refusals[i]);
	fprintf(out, "%s\n", p->n_refusals ? "the hook would refuse to start this VM"
			      : p->unsure ? "the hook may start this VM: what the warnings above say was not checked"
					  : "the hook would start this VM");
}

/* ---- a take ---- */

static void take_clear(struct take *t)
{
	for (size_t i = 0; i < t->n_claims; i++)
		free(t->claims[i].was);
	free(t->claims);
	free(t->taken);
	free(t->moving);
	free(t->fresh);
	free(t->plugged);
	domain_clear(&t->live);
	plan_clear(&t->p);
	holders_clear(&t->h);
	machine_free(t->m);
}

/* TMPL with its "%s" (at most one, a command's argument in quotes) replaced by VM, quoted for the shell. */
static void fill_in(char *buf, size_t n, const char *tmpl, const char *name)
{
	const char *at = strstr(tmpl, "%s");
	_cleanup_free_ char *vm = shell_quote_inner(name);

	if (at)
		snprintf(buf, n, "%.*s%s%s", (int)(at - tmpl), tmpl, vm, at + 2);
	else
		snprintf(buf, n, "%s", tmpl);
}

/*
 * The one line a take ends with: to the log (the VM's name first); or to the caller, who says
 * what happens next itself: then only why (the step's reason, when it gave one).
 */
static void take_say(const struct take *t, const char *line)
{
	if (!*line)
		return;
	if (t->q->why)
		snprintf(t->q->why, t->q->why_n, "%s", *t->reason ? t->reason : *t->what ? t->what : line);
	else
		log_error("%s: %s", t->q->vm, line);
}

static void take_refused(struct take *t)
{
	for (size_t i = 0; i < t->p.n_warnings; i++)
		log_msg(LOG_NOTICE, "%s: warning: %s", t->q->vm, t->p.warnings[i]);
	plan_problem_line(&t->p, t->what, sizeof(t->what));
	take_say(t, t->what);
	for (size_t i = 1; i < t->p.n_refusals; i++)
		log_msg(LOG_NOTICE, "%s: also: %s", t->q->vm, t->p.refusals[i]);
}

/* How long the take may hold the lock: the plan's steps, and as long again for plugging in. */
static long hold_ms(const struct take *t)
{
	long ms = plan_hold_ms(&t->p, t->w->cfg->opt.timeout) + claims_hold_ms(t->p.claims, t->w->cfg->opt.timeout);

	return t->q->plug ? ms + (long)t->p.n_funcs * t->w->cfg->opt.timeout * 2000L : ms;
}

int engine_take(struct world *w, const struct take_req *q)
{
	struct take t = { .w = w, .q = q };
	bool ran[ARRAY_SIZE(ladder)] = { false }, all = true;
	size_t i;
	int r;

	r = take_replan(&t, q->policy);
	if (r == -EPERM) {
		take_refused(&t);
		goto out;
	}
	if (r < 0)
		goto out;
	for (size_t k = 0; k < t.p.n_warnings; k++)
		log_msg(LOG_NOTICE, "%s: warning: %s", q->vm, t.p.warnings[k]);
	/* A VM starting owns what it gets from here on, whether or not libvirt has written its status yet. */
	if (q->starting)
		ledger_vm_add(&w->l, q->vm, q->dom ? q->dom->uuid : NULL)->started = false;
	if (q->plug) {
		domain_load_running(q->vm, &t.live);
		/* Running (it has a status file); libvirt's "started" may still be ahead: that stays as it was. */
		if (!ledger_vm(&w->l, q->vm))
			ledger_vm_add(&w->l, q->vm, t.live.uuid)->started = true;
	}
	state_lock_hold(w->lock, hold_ms(&t));
	for (i = 0; i < ARRAY_SIZE(ladder); i++) {
		if (!ladder[i]->needed(&t))
			continue;
		ran[i] = true;
		t.what[0] = t.reason[0] = '\0';
		r = ladder[i]->run(&t);
		if (r < 0)
			break;
	}
	if (r < 0) {
		char line[1536], left[256];

		/*
		 * Step i failed: it and every step before it are undone, in reverse; the display's last,
		 * once what was taken is back where it came from (a GPU given back to the VM it was
		 * taken from keeps the hand-over that VM's; the host gets its display only with the GPU).
		 */
		for (size_t pass = 0; pass < 2; pass++)
			for (size_t k = i + 1; k-- > 0;)
				if (ran[k] && ladder[k]->undo && ladder[k]->undo_last == (pass == 1))
					all = ladder[k]->undo(&t) && all;
		if (r == -EPERM && !*t.what)
			plan_problem_line(&t.p, t.what, sizeof(t.what));
		fill_in(left, sizeof(left), ladder[i]->left, q->vm);
		snprintf(line, sizeof(line), "%s%s%s", t.what, *t.what ? all ? ladder[i]->undone : left : "",
			 *t.what ? t.hint : "");
		take_say(&t, line);
	}
out:
	ledger_vm_tidy(&w->l, q->vm);
	if (ledger_save(&w->l) < 0 && r == 0)
		r = -EIO;
	if (r == 0)
		r = (int)t.p.n_funcs;
	take_clear(&t);
	return r;
}

/* ---- a give ---- */

bool give_wants_claims(const struct give *g)
{
	return g->q->owner && !g->q->only && !holders_get(&g->h, g->q->owner);
}

bool give_wants(const struct give *g, const struct pci_addr *a, const char *owner)
{
	const struct give_req *q = g->q;

	if (q->owner && (!owner || !streq(owner, q->owner)))
		return false;
	for (size_t i = 0; q->only && i < q->n_only; i++)
		if (pci_addr_eq(&q->only[i], a))
			return true;
	return !q->only;
}

void take_undo_give(struct take *t, const struct pci_addr *addrs, size_t n, struct give_req *rq, struct give *g)
{
	*rq = (struct give_req){ .owner = t->q->vm, .only = addrs, .n_only = n, .prio = LOG_NOTICE };
	*g = (struct give){ .w = t->w, .q = rq };
	/* What a VM still has (an unplug it did not acknowledge) is never unbound under it. */
	if (holders_load(&g->h) < 0) {
		log_msg(LOG_NOTICE, "%s: what was moved stays on vfio-pci: which VMs are running cannot be read", t->q->vm);
		rq->n_only = 0; /* ONLY with nothing in it: nothing is wanted */
		rq->only = addrs;
		g->left = true;
	}
}

void take_undo_give_end(struct give *g)
{
	holders_clear(&g->h);
}

int engine_give(struct world *w, const struct give_req *q)
{
	struct give g = { .w = w, .q = q };

	/*
	 * Which VMs run is read again before each step: a give-back just plugged functions into
	 * one, and what that VM has now (in its IOMMU group, too) is never unbound.
	 */
	for (size_t i = 0; i < ARRAY_SIZE(give_order); i++) {
		holders_clear(&g.h);
		if (holders_load(&g.h) < 0) {
			_cleanup_free_ char *arg = shell_quote_inner(q->owner ? q->owner : "--all");

			log_msg(q->prio, "%s: nothing more given back: which VMs are running cannot be read (see above); fix "
				"that, then run 'vfio-hook restore %s'", q->owner ? q->owner : "restore", arg);
			g.left = true;
			break;
		}
		give_order[i]->give(&g);
	}
	holders_clear(&g.h);
	if (ledger_save(&w->l) < 0)
		g.left = true;
	return g.left ? -EIO : 0;
}
