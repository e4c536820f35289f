/* SPDX-License-Identifier: MIT */
/* What every action looks at: the map, the machine, the running domains. */
#define _GNU_SOURCE
#include "world.h"

#include "apply.h"
#include "dl.h"
#include "evict.h"
#include "log.h"
#include "util.h"

#include <errno.h>

void world_clear(struct world *w)
{
	ledger_clear(&w->l);
	holders_clear(&w->h);
	machine_free(w->m);
	config_free(w->cfg);
}

int world_discover(struct world *w)
{
	int r;

	if (w->cfg)
		machine_set_read_deadline((long)w->cfg->opt.timeout * 1000L);
	r = machine_discover(&w->m);

	if (r < 0)
		return r;
	/* Without libxml2 (logged) neither the VMs' XML nor running VMs can be read: nothing may move. */
	r = dlopen_libxml2();
	if (r < 0)
		return r;
	r = holders_load(&w->h);
	if (r < 0) {
		errno = -r;
		log_warning("cannot read running domains from %s: %m", holders_dir());
		/* Which VMs run is unknown: the plan refuses (root), or promises nothing (a user). */
		w->h.closed = true;
	}
	return 0;
}

int world_load(const char *cfg_path, struct world *w)
{
	*w = (struct world){ .lock = -1 };
	if (config_load(config_path(cfg_path), &w->cfg) < 0)
		return -EINVAL;
	return world_discover(w);
}

int plan_now(struct world *w, const struct vm *vm, enum evict_policy policy, const struct domain *dom,
		    struct plan *p)
{
	int r;

	plan_clear(p);
	holders_clear(&w->h);
	machine_free(w->m);
	w->m = NULL;
	r = world_discover(w);
	return r < 0 ? r : plan_build(w->cfg, vm, policy, w->m, &w->h, &w->l, dom, p);
}


int plan_or_refuse(struct world *w, const struct vm *vm, enum evict_policy policy, const struct domain *dom,
		   struct plan *p)
{
	int r = plan_now(w, vm, policy, dom, p);

	if (r < 0)
		return r;
	log_plan_problems(p);
	return p->n_refusals ? -EPERM : 0;
}

int evict_and_apply(struct world *w, const struct vm *vm, const struct domain *dom, const char *retry, struct plan *p)
{
	const struct options *o = &w->cfg->opt;
	bool took = p->n_evictions > 0;
	int r = 0;

	if (took) {
		r = evict_run(w->cfg, p, &w->l, retry);
		if (r < 0)
			return r;
		/* Drivers changed (libvirt gives managed devices back to the host): look again. */
		r = plan_or_refuse(w, vm, EVICT_REFUSE, dom, p);
	}
	/* Steps 1-6 of a hand-over of the host's display, then the move; a failed move gives the display back. */
	if (r == 0 && p->display)
		r = display_handoff(p->display, vm->name, &w->l, o->timeout);
	if (r == 0) {
		r = apply_prepare(p, &w->l, o->timeout);
		if (r < 0 && p->display)
			display_give_back(&w->l, vm->name, o->timeout, 0, LOG_ERR);
	}
	/* A start that fails after evicting leaves the holders as they were, whatever giveback says. */
	if (r < 0 && took)
		evict_give_back(o->uri, o->timeout, &w->l, vm->name, true, false);
	return r;
}
