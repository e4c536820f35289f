/* SPDX-License-Identifier: MIT */
/* What every action looks at: the map, the machine, the running VMs (world.h). */
#define _GNU_SOURCE
#include "world.h"

#include "dl.h"
#include "log.h"
#include "state.h"
#include "util.h"

#include <errno.h>
#include <unistd.h>

void world_clear(struct world *w)
{
	ledger_clear(&w->l);
	holders_clear(&w->h);
	machine_free(w->m);
	config_free(w->cfg);
}

int world_look(const struct config *c, struct machine **ret_m, struct holders *ret_h)
{
	int r;

	if (c)
		machine_set_read_deadline((long)c->opt.timeout * 1000L);
	r = machine_discover(ret_m);
	if (r < 0)
		return r;
	/* Without libxml2 (logged) neither the VMs' XML nor running VMs can be read: nothing may move. */
	r = dlopen_libxml2();
	if (r < 0)
		return r;
	r = holders_load(ret_h);
	if (r < 0) {
		errno = -r;
		log_warning("cannot read running domains from %s: %m", holders_dir());
		/* Which VMs run is unknown: the plan refuses (root), or promises nothing (a user). */
		ret_h->closed = true;
	}
	return 0;
}

int world_discover(struct world *w)
{
	holders_clear(&w->h);
	machine_free(w->m);
	w->m = NULL;
	return world_look(w->cfg, &w->m, &w->h);
}

int world_load(const char *cfg_path, struct world *w)
{
	*w = (struct world){ .lock = -1 };
	if (config_load(config_path(cfg_path), &w->cfg) < 0)
		return -EINVAL;
	return world_discover(w);
}

struct config *world_map_or_defaults(const char *cfg_path)
{
	struct config *c = NULL;
	const char *path = config_path(cfg_path);

	if (access(path, R_OK) == 0 && config_load(path, &c) == 0)
		return c;
	return config_defaults(path);
}

int world_lock(struct world *w, const char *what, unsigned timeout_s)
{
	int r;

	w->lock = state_lock(what, state_lock_timeout(timeout_s));
	if (w->lock < 0) {
		r = w->lock;
		w->lock = -1;
		return r;
	}
	r = ledger_load(&w->l);
	if (r < 0)
		world_unlock(w);
	return r;
}

void world_unlock(struct world *w)
{
	state_unlock(w->lock);
	w->lock = -1;
}
