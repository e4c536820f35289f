/* SPDX-License-Identifier: MIT */
/*
 * The ledger's records of what VMs take from the host besides their devices (ledger.h):
 *   cpus OWNER set=2-5 governor=yes state=done
 *   pages OWNER size=2048 node=- pages=512 added=512 state=done
 *   sleep OWNER state=done
 * and what the host had before the first claim changed it, given back with the last one:
 *   slice system.slice was=-
 *   governor 3 was=powersave epp=balance_performance
 *   pool 2048 - was=100 set=612
 */
#define _GNU_SOURCE
#include "ledger-kinds.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool state_of(const char *v, bool *done)
{
	if (!v || (!streq(v, "doing") && !streq(v, "done")))
		return false;
	*done = streq(v, "done");
	return true;
}

static const char *state_name(bool done)
{
	return done ? "done" : "doing";
}

/* A decimal number up to MAX, nothing else. */
static bool number(const char *v, unsigned long long max, unsigned long long *ret)
{
	char *end;

	if (!v || *v < '0' || *v > '9')
		return false;
	errno = 0;
	*ret = strtoull(v, &end, 10);
	return !errno && !*end && *ret <= max;
}

/* A scaling_governor or an energy_performance_preference: a word of the kernel's. */
static bool word_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (!n || n >= max)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* A unit whose CPUs a claim sets: a slice or a scope, by name. */
static bool unit_valid(const char *s)
{
	if (!s || (!endswith(s, ".slice") && !endswith(s, ".scope")) || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '.' ||
		      *s == '-' || *s == '_' || *s == '@'))
			return false;
	return true;
}

/* ---- cpus ---- */

bool parse_cpus(struct ledger *l, char **f, int bad)
{
	_cleanup_free_ char *owner = f[1] ? ledger_unescape(f[1]) : NULL;
	const char *set = ledger_field(f + 2, "set"), *gov = ledger_field(f + 2, "governor");
	struct cpuset cs;
	bool done;

	(void)bad;
	if (!owner || ledger_cpus_of(l, owner) || !set || cpuset_parse(set, &cs) < 0 || cpuset_empty(&cs) || !gov ||
	    (!streq(gov, "yes") && !streq(gov, "no")) || !state_of(ledger_field(f + 2, "state"), &done))
		return false;
	ledger_cpus_add(l, owner, &cs, streq(gov, "yes"))->done = done;
	return true;
}

void format_cpus(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_cpus; i++) {
		_cleanup_free_ char *owner = ledger_escape(l->cpus[i].owner);
		char set[CPUSET_TEXT_MAX];

		cpuset_format(&l->cpus[i].set, set, sizeof(set));
		ledger_put(buf, len, "cpus %s set=%s governor=%s state=%s\n", owner, set, l->cpus[i].governor ? "yes" : "no",
			   state_name(l->cpus[i].done));
	}
}

size_t count_cpus(const struct ledger *l) { return l->n_cpus; }
const char *owner_of_cpus(const struct ledger *l, size_t i) { return l->cpus[i].owner; }

void clear_cpus(struct ledger *l)
{
	for (size_t i = 0; i < l->n_cpus; i++)
		free(l->cpus[i].owner);
	free(l->cpus);
}

struct ledger_cpus *ledger_cpus_of(const struct ledger *l, const char *owner)
{
	for (size_t i = 0; i < l->n_cpus; i++)
		if (streq(l->cpus[i].owner, owner))
			return &l->cpus[i];
	return NULL;
}

struct ledger_cpus *ledger_cpus_add(struct ledger *l, const char *owner, const struct cpuset *set, bool governor)
{
	struct ledger_cpus *c = ledger_cpus_of(l, owner);

	if (!c) {
		c = array_push(&l->cpus, &l->n_cpus, sizeof(*c));
		c->owner = xstrdup(owner);
	}
	c->set = *set;
	c->governor = governor;
	c->done = false;
	return c;
}

void ledger_cpus_drop(struct ledger *l, const char *owner)
{
	struct ledger_cpus *c = ledger_cpus_of(l, owner);

	if (!c)
		return;
	free(c->owner);
	memmove(c, c + 1, (l->n_cpus - (size_t)(c - l->cpus) - 1) * sizeof(*c));
	l->n_cpus--;
}

/* ---- pages ---- */

bool parse_pages(struct ledger *l, char **f, int bad)
{
	_cleanup_free_ char *owner = f[1] ? ledger_unescape(f[1]) : NULL;
	const char *node = ledger_field(f + 2, "node");
	unsigned long long size, pages, added, n = 0;
	bool done;

	(void)bad;
	if (!owner || !number(ledger_field(f + 2, "size"), 1ULL << 40, &size) || !size || !node ||
	    (!streq(node, "-") && !number(node, 4095, &n)) || !number(ledger_field(f + 2, "pages"), 1UL << 40, &pages) ||
	    !number(ledger_field(f + 2, "added"), pages, &added) || !state_of(ledger_field(f + 2, "state"), &done) ||
	    ledger_pages_of(l, owner, size, streq(node, "-") ? -1 : (int)n))
		return false;
	ledger_pages_add(l, owner, size, streq(node, "-") ? -1 : (int)n, (unsigned long)pages, (unsigned long)added)->done = done;
	return true;
}

void format_pages(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_pages; i++) {
		const struct ledger_pages *p = &l->pages[i];
		_cleanup_free_ char *owner = ledger_escape(p->owner);
		char node[16] = "-";

		if (p->node >= 0)
			snprintf(node, sizeof(node), "%d", p->node);
		ledger_put(buf, len, "pages %s size=%llu node=%s pages=%lu added=%lu state=%s\n", owner, p->size_kib, node,
			   p->pages, p->added, state_name(p->done));
	}
}

size_t count_pages(const struct ledger *l) { return l->n_pages; }
const char *owner_of_pages(const struct ledger *l, size_t i) { return l->pages[i].owner; }

void clear_pages(struct ledger *l)
{
	for (size_t i = 0; i < l->n_pages; i++)
		free(l->pages[i].owner);
	free(l->pages);
}

struct ledger_pages *ledger_pages_of(const struct ledger *l, const char *owner, unsigned long long size_kib, int node)
{
	for (size_t i = 0; i < l->n_pages; i++)
		if (streq(l->pages[i].owner, owner) && l->pages[i].size_kib == size_kib && l->pages[i].node == node)
			return &l->pages[i];
	return NULL;
}

struct ledger_pages *ledger_pages_add(struct ledger *l, const char *owner, unsigned long long size_kib, int node,
				      unsigned long pages, unsigned long added)
{
	struct ledger_pages *p = ledger_pages_of(l, owner, size_kib, node);

	if (!p) {
		p = array_push(&l->pages, &l->n_pages, sizeof(*p));
		p->owner = xstrdup(owner);
		p->size_kib = size_kib;
		p->node = node;
	}
	p->pages = pages;
	p->added = added;
	p->done = false;
	return p;
}

void ledger_pages_drop(struct ledger *l, const struct ledger_pages *p)
{
	size_t i = (size_t)(p - l->pages);

	free(l->pages[i].owner);
	memmove(&l->pages[i], &l->pages[i + 1], (l->n_pages - i - 1) * sizeof(*p));
	l->n_pages--;
}

/* ---- sleep ---- */

bool parse_sleep(struct ledger *l, char **f, int bad)
{
	_cleanup_free_ char *owner = f[1] ? ledger_unescape(f[1]) : NULL;
	bool done;

	(void)bad;
	if (!owner || ledger_sleep_of(l, owner) || !state_of(ledger_field(f + 2, "state"), &done))
		return false;
	ledger_sleep_add(l, owner)->done = done;
	return true;
}

void format_sleep(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_sleep; i++) {
		_cleanup_free_ char *owner = ledger_escape(l->sleep[i].owner);

		ledger_put(buf, len, "sleep %s state=%s\n", owner, state_name(l->sleep[i].done));
	}
}

size_t count_sleep(const struct ledger *l) { return l->n_sleep; }
const char *owner_of_sleep(const struct ledger *l, size_t i) { return l->sleep[i].owner; }

void clear_sleep(struct ledger *l)
{
	for (size_t i = 0; i < l->n_sleep; i++)
		free(l->sleep[i].owner);
	free(l->sleep);
}

struct ledger_sleep *ledger_sleep_of(const struct ledger *l, const char *owner)
{
	for (size_t i = 0; i < l->n_sleep; i++)
		if (streq(l->sleep[i].owner, owner))
			return &l->sleep[i];
	return NULL;
}

struct ledger_sleep *ledger_sleep_add(struct ledger *l, const char *owner)
{
	struct ledger_sleep *s = ledger_sleep_of(l, owner);

	if (!s) {
		s = array_push(&l->sleep, &l->n_sleep, sizeof(*s));
		s->owner = xstrdup(owner);
	}
	s->done = false;
	return s;
}

void ledger_sleep_drop(struct ledger *l, const char *owner)
{
	struct ledger_sleep *s = ledger_sleep_of(l, owner);

	if (!s)
		return;
	free(s->owner);
	memmove(s, s + 1, (l->n_sleep - (size_t)(s - l->sleep) - 1) * sizeof(*s));
	l->n_sleep--;
}

/* ---- slice ---- */

bool parse_slices(struct ledger *l, char **f, int bad)
{
	const char *was = ledger_field(f + 2, "was");
	struct cpuset cs;

	(void)bad;
	if (!unit_valid(f[1]) || ledger_slice(l, f[1]) || !was || (!streq(was, "-") && (cpuset_parse(was, &cs) < 0 || !*was)))
		return false;
	ledger_slice_add(l, f[1], streq(was, "-") ? "" : was);
	return true;
}

void format_slices(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_slices; i++)
		ledger_put(buf, len, "slice %s was=%s\n", l->slices[i].unit, *l->slices[i].was ? l->slices[i].was : "-");
}

size_t count_slices(const struct ledger *l) { return l->n_slices; }

void clear_slices(struct ledger *l)
{
	for (size_t i = 0; i < l->n_slices; i++) {
		free(l->slices[i].unit);
		free(l->slices[i].was);
	}
	free(l->slices);
}

struct ledger_slice *ledger_slice(const struct ledger *l, const char *unit)
{
	for (size_t i = 0; i < l->n_slices; i++)
		if (streq(l->slices[i].unit, unit))
			return &l->slices[i];
	return NULL;
}

struct ledger_slice *ledger_slice_add(struct ledger *l, const char *unit, const char *was)
{
	struct ledger_slice *s = ledger_slice(l, unit);

	if (!s) {
		s = array_push(&l->slices, &l->n_slices, sizeof(*s));
		s->unit = xstrdup(unit);
	} else {
		free(s->was);
	}
	s->was = xstrdup(was);
	return s;
}

void ledger_slice_drop(struct ledger *l, const char *unit)
{
	struct ledger_slice *s = ledger_slice(l, unit);

	if (!s)
		return;
	free(s->unit);
	free(s->was);
	memmove(s, s + 1, (l->n_slices - (size_t)(s - l->slices) - 1) * sizeof(*s));
	l->n_slices--;
}

/* ---- governor ---- */

bool parse_governors(struct ledger *l, char **f, int bad)
{
	const char *was = ledger_field(f + 2, "was"), *epp = ledger_field(f + 2, "epp");
	unsigned long long cpu;

	(void)bad;
	if (!number(f[1], CPUSET_MAX - 1, &cpu) || ledger_governor(l, (unsigned)cpu) || !was ||
	    !word_valid(was, sizeof(l->governors->was)) || !epp ||
	    (!streq(epp, "-") && !word_valid(epp, sizeof(l->governors->epp))))
		return false;
	ledger_governor_add(l, (unsigned)cpu, was, streq(epp, "-") ? "" : epp);
	return true;
}

void format_governors(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_governors; i++) {
		const struct ledger_governor *g = &l->governors[i];

		ledger_put(buf, len, "governor %u was=%s epp=%s\n", g->cpu, g->was, *g->epp ? g->epp : "-");
	}
}

size_t count_governors(const struct ledger *l) { return l->n_governors; }

void clear_governors(struct ledger *l)
{
	free(l->governors);
}

struct ledger_governor *ledger_governor(const struct ledger *l, unsigned cpu)
{
	for (size_t i = 0; i < l->n_governors; i++)
		if (l->governors[i].cpu == cpu)
			return &l->governors[i];
	return NULL;
}

struct ledger_governor *ledger_governor_add(struct ledger *l, unsigned cpu, const char *was, const char *epp)
{
	struct ledger_governor *g = ledger_governor(l, cpu);

	if (!g)
		g = array_push(&l->governors, &l->n_governors, sizeof(*g));
	g->cpu = cpu;
	snprintf(g->was, sizeof(g->was), "%s", was);
	snprintf(g->epp, sizeof(g->epp), "%s", epp);
	return g;
}

void ledger_governor_drop(struct ledger *l, unsigned cpu)
{
	struct ledger_governor *g = ledger_governor(l, cpu);

	if (!g)
		return;
	memmove(g, g + 1, (l->n_governors - (size_t)(g - l->governors) - 1) * sizeof(*g));
	l->n_governors--;
}

/* ---- pool ---- */

bool parse_pools(struct ledger *l, char **f, int bad)
{
	unsigned long long size, was, set, n = 0;

	(void)bad;
	if (!number(f[1], 1ULL << 40, &size) || !size || !f[2] || (!streq(f[2], "-") && !number(f[2], 4095, &n)) ||
	    !number(ledger_field(f + 3, "was"), 1UL << 40, &was) || !number(ledger_field(f + 3, "set"), 1UL << 40, &set) ||
	    ledger_pool(l, size, streq(f[2], "-") ? -1 : (int)n))
		return false;
	ledger_pool_add(l, size, streq(f[2], "-") ? -1 : (int)n, (unsigned long)was, (unsigned long)set);
	return true;
}

void format_pools(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_pools; i++) {
		const struct ledger_pool *p = &l->pools[i];
		char node[16] = "-";

		if (p->node >= 0)
			snprintf(node, sizeof(node), "%d", p->node);
		ledger_put(buf, len, "pool %llu %s was=%lu set=%lu\n", p->size_kib, node, p->was, p->set);
	}
}

size_t count_pools(const struct ledger *l) { return l->n_pools; }

void clear_pools(struct ledger *l)
{
	free(l->pools);
}

struct ledger_pool *ledger_pool(const struct ledger *l, unsigned long long size_kib, int node)
{
	for (size_t i = 0; i < l->n_pools; i++)
		if (l->pools[i].size_kib == size_kib && l->pools[i].node == node)
			return &l->pools[i];
	return NULL;
}

struct ledger_pool *ledger_pool_add(struct ledger *l, unsigned long long size_kib, int node, unsigned long was,
				    unsigned long set)
{
	struct ledger_pool *p = ledger_pool(l, size_kib, node);

	if (!p)
		p = array_push(&l->pools, &l->n_pools, sizeof(*p));
	*p = (struct ledger_pool){ size_kib, node, was, set };
	return p;
}

void ledger_pool_drop(struct ledger *l, unsigned long long size_kib, int node)
{
	struct ledger_pool *p = ledger_pool(l, size_kib, node);

	if (!p)
		return;
	memmove(p, p + 1, (l->n_pools - (size_t)(p - l->pools) - 1) * sizeof(*p));
	l->n_pools--;
}

bool ledger_bad_kind(const struct ledger *l, const char *kind)
{
	size_t n = strlen(kind);

	for (size_t i = 0; i < l->n_bad; i++) {
		const char *t = l->bad[i].text;

		if (t && strncmp(t, kind, n) == 0 && (t[n] == ' ' || t[n] == '\t' || !t[n]))
			return true;
	}
	return false;
}
