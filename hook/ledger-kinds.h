/* SPDX-License-Identifier: MIT */
#ifndef VH_LEDGER_KINDS_H
#define VH_LEDGER_KINDS_H

/*
 * Inside the ledger (ledger.c): what a kind of record provides, and the helpers every kind
 * reads and writes its fields with. The kinds of the host's claims live in ledger-claims.c.
 */
#include "ledger.h"

struct record_kind {
	const char *name;
	size_t n_fields;
	bool holds;    /* a VM holds something by it (a VM line alone holds nothing) */
	bool salvages; /* a damaged line of this kind is still read for its key (release gives its function back) */
	bool (*parse)(struct ledger *l, char **f, int bad);
	void (*format)(const struct ledger *l, bool prune, char **buf, size_t *len);
	size_t (*count)(const struct ledger *l);
	const char *(*owner)(const struct ledger *l, size_t i); /* NULL: unreadable */
	void (*clear)(struct ledger *l);
	bool host; /* the host's own (what a claim changed): no VM's, kept while it is recorded */
};

/* A name or XML as a field: bytes that would split it, and '%', as %XX. */
char *ledger_escape(const char *s);
/* NULL when S is not a valid encoding (or decodes to an empty string or a NUL byte). */
char *ledger_unescape(const char *s);
/* The value of KEY= among the fields (a NULL-terminated array), or NULL. */
const char *ledger_field(char **fields, const char *key);
/* Appends to a growing string. */
void ledger_put(char **buf, size_t *len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define LEDGER_KIND(name) \
	bool parse_##name(struct ledger *l, char **f, int bad); \
	void format_##name(const struct ledger *l, bool prune, char **buf, size_t *len); \
	size_t count_##name(const struct ledger *l); \
	void clear_##name(struct ledger *l)
LEDGER_KIND(cpus);
LEDGER_KIND(pages);
LEDGER_KIND(sleep);
LEDGER_KIND(slices);
LEDGER_KIND(governors);
LEDGER_KIND(pools);
#undef LEDGER_KIND
const char *owner_of_cpus(const struct ledger *l, size_t i);
const char *owner_of_pages(const struct ledger *l, size_t i);
const char *owner_of_sleep(const struct ledger *l, size_t i);

/* The claims' entries in the table of kinds (ledger.c), in the order they are written. */
#define LEDGER_CLAIM_KINDS \
	{ "cpus", 5, true, false, parse_cpus, format_cpus, count_cpus, owner_of_cpus, clear_cpus, false }, \
	{ "pages", 7, true, false, parse_pages, format_pages, count_pages, owner_of_pages, clear_pages, false }, \
	{ "sleep", 3, true, false, parse_sleep, format_sleep, count_sleep, owner_of_sleep, clear_sleep, false }, \
	{ "slice", 3, false, false, parse_slices, format_slices, count_slices, NULL, clear_slices, true }, \
	{ "governor", 4, false, false, parse_governors, format_governors, count_governors, NULL, clear_governors, true }, \
	{ "pool", 5, false, false, parse_pools, format_pools, count_pools, NULL, clear_pools, true }

#endif
