/* SPDX-License-Identifier: MIT */
/*
 * What each key of the map means, section by section ([options], [host], [pci]/[usb] device
 * lines, [vm] lines), and the one line each mistake gets (config-parser.h).
 */
#define _GNU_SOURCE
#include "config-parser.h"

#include "ledger.h"
#include "util.h"

#include <ctype.h>
#include <limits.h>
#include <string.h>

static const char *const option_keys[] = { "uri", "timeout", "evict", "giveback" };
static const char *const host_keys[] = { "users", "memlock", "iommu", "early", "hugepages" };

static int parse_evict(struct parser *p, const char *value, enum evict_policy *ret)
{
	if (streq(value, "detach"))
		*ret = EVICT_DETACH;
	else if (streq(value, "shutdown"))
		*ret = EVICT_SHUTDOWN;
	else if (streq(value, "refuse"))
		*ret = EVICT_REFUSE;
	else
		return config_fail(p, p->line, "evict must be detach, shutdown or refuse, not \"%s\"", value);
	return 1;
}

static int parse_yes_no(struct parser *p, const char *key, const char *value, bool *ret)
{
	if (streq(value, "yes") || streq(value, "true") || streq(value, "on") || streq(value, "1"))
		*ret = true;
	else if (streq(value, "no") || streq(value, "false") || streq(value, "off") || streq(value, "0"))
		*ret = false;
	else
		return config_fail(p, p->line, "%s must be yes or no, not \"%s\"", key, value);
	return 1;
}

static int parse_giveback(struct parser *p, const char *value, bool *ret)
{
	return parse_yes_no(p, "giveback", value, ret);
}

static bool display_key(const char *key)
{
	return streq(key, "host-display") || streq(key, "display-manager") || streq(key, "host-display-kill") ||
	       streq(key, "host-display-timeout");
}

/* host-display =, display-manager =, host-display-kill =, host-display-timeout =, in [options] or [vm]. */
static int set_display(struct parser *p, const char *key, const char *value, struct display_cfg *d, const char *where)
{
	int *line = streq(key, "host-display") ? &d->handoff_line
		    : streq(key, "display-manager") ? &d->manager_line
		    : streq(key, "host-display-kill") ? &d->kill_line : &d->timeout_line;
	char *end;
	long v;

	if (*line)
		return config_fail(p, p->line, "%s is set twice in %s (first at line %d; keep one)", key, where, *line);
	*line = p->line;
	if (line == &d->handoff_line) {
		if (!streq(value, "refuse") && !streq(value, "handoff"))
			return config_fail(p, p->line, "host-display must be refuse or handoff, not \"%s\"", value);
		d->handoff = streq(value, "handoff");
	} else if (line == &d->manager_line) {
		if (!display_what_valid(DSTEP_DM, value))
			return config_fail(p, p->line, "display-manager must be a systemd unit name (e.g. gdm.service), not \"%s\"",
				    value);
		d->manager = strchr(value, '.') ? xstrdup(value) : xasprintf("%s.service", value);
	} else if (line == &d->kill_line) {
		return parse_yes_no(p, key, value, &d->kill);
	} else {
		errno = 0;
		v = strtol(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno || v < 1 || v > 3600)
			return config_fail(p, p->line,
				    "host-display-timeout must be a whole number of seconds from 1 to 3600, not \"%s\"", value);
		d->timeout = (unsigned)v;
	}
	return 1;
}

/* What a VM takes from the host besides its devices: cpus = (a [vm] only), cpu-governor, block-sleep. */
static bool claims_key(const char *key)
{
	return streq(key, "cpus") || streq(key, "cpu-governor") || streq(key, "block-sleep");
}

static int set_claims(struct parser *p, const char *key, const char *value, struct claims_cfg *k, const char *where)
{
	int *line = streq(key, "cpus") ? &k->cpus_line : streq(key, "cpu-governor") ? &k->governor_line : &k->sleep_line;

	if (*line)
		return config_fail(p, p->line, "%s is set twice in %s (first at line %d; keep one)", key, where, *line);
	*line = p->line;
	if (line == &k->cpus_line) {
		k->cpus_from = streq(value, "pinned") ? CPUS_PINNED : streq(value, "none") ? CPUS_NONE : CPUS_LIST;
		if (k->cpus_from == CPUS_LIST && (cpuset_parse(value, &k->cpus) < 0 || cpuset_empty(&k->cpus)))
			return config_fail(p, p->line,
					   "cpus must be pinned (what the domain XML's <cputune> pins), none, or a list of CPU "
					   "numbers and ranges, as in cpus = 2-5,8 (see lscpu), not \"%s\"",
					   value);
		return 1;
	}
	if (line == &k->governor_line) {
		if (!streq(value, "performance") && !streq(value, "keep"))
			return config_fail(p, p->line, "cpu-governor must be performance or keep, not \"%s\"", value);
		k->governor = streq(value, "performance");
		return 1;
	}
	return parse_yes_no(p, key, value, &k->block_sleep);
}

int config_key_option(struct parser *p, const char *key, const char *value)
{
	struct options *o = &p->c->opt;
	size_t k;

	if (display_key(key))
		return set_display(p, key, value, &o->display, "[options]");
	if (claims_key(key) && !streq(key, "cpus"))
		return set_claims(p, key, value, &o->claims, "[options]");
	for (k = 0; k < ARRAY_SIZE(option_keys); k++)
		if (streq(key, option_keys[k]))
			break;
	if (k == ARRAY_SIZE(option_keys))
		return config_fail(p, p->line,
			    "unknown key \"%s\" in [options] (valid keys: uri, timeout, evict, giveback, host-display, "
			    "display-manager, host-display-kill, host-display-timeout, cpu-governor, block-sleep%s)",
			    key, streq(key, "cpus") ? "; cpus = belongs in a [vm] section" : "");
	if (p->opt_lines[k])
		return config_fail(p, p->line, "%s is set twice in [options] (first at line %d; keep one)", key,
			    p->opt_lines[k]);
	p->opt_lines[k] = p->line;

	if (streq(key, "uri")) {
		if (!*value)
			return config_fail(p, p->line, "uri is empty (write a libvirt URI, e.g. uri = qemu:///system)");
		free(o->uri);
		o->uri = xstrdup(value);
	} else if (streq(key, "timeout")) {
		char *end;
		long v;

		errno = 0;
		v = strtol(value, &end, 10);
		if (!isdigit((unsigned char)*value) || *end || errno || v < 1 || v > 3600)
			return config_fail(p, p->line, "timeout must be a whole number of seconds from 1 to 3600, not \"%s\"",
				    value);
		o->timeout = (unsigned)v;
	} else if (streq(key, "evict")) {
		return parse_evict(p, value, &o->evict);
	} else {
		return parse_giveback(p, value, &o->giveback);
	}
	return 1;
}

/* A login name as useradd takes it on every distribution: what a group or limits file can hold. */
static bool valid_user_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 32 || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]) && !(s[i] == '$' && i == n - 1))
			return false;
	return true;
}

static int set_users(struct parser *p, const char *value)
{
	struct host *h = &p->c->host;
	_cleanup_free_ char *copy = xstrdup(value);
	char *save = NULL, *tok;

	if (!*value)
		return config_fail(p, p->line, "users = is empty in [host] (list user names, e.g. users = alice bob, or remove the line)");
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!valid_user_name(tok))
			return config_fail(p, p->line,
				    "bad user name \"%s\" in [host] users (names start with a letter or '_', then letters, digits, '.', '_' or '-'; separate names with spaces)",
				    tok);
		for (size_t i = 0; i < h->n_users; i++)
			if (streq(h->users[i], tok))
				return config_fail(p, p->line, "user %s is listed twice in [host] users (remove one)", tok);
		*(char **)array_push(&h->users, &h->n_users, sizeof(char *)) = xstrdup(tok);
	}
	return 1;
}

static int set_memlock(struct parser *p, const char *value)
{
	struct host *h = &p->c->host;
	unsigned long long v;
	char *end;

	h->memlock_set = true;
	if (streq(value, "unlimited")) {
		h->memlock_unlimited = true;
		return 1;
	}
	errno = 0;
	v = strtoull(value, &end, 10);
	/* pam_limits takes a signed long of KiB. */
	if (!isdigit((unsigned char)*value) || *end || errno || v < 1 || v > (unsigned long long)LONG_MAX / 1024)
		return config_fail(p, p->line, "memlock must be a number of KiB (e.g. 16777216 for 16 GiB) or unlimited, not \"%s\"",
			    value);
	h->memlock_kib = v;
	return 1;
}

/* A page size as the kernel's hugepagesz= takes it: 2M, 1G (K, M, G; in KiB); 0 when it is not one. */
static unsigned long long page_size_kib(const char *s, const char **end)
{
	char *e;
	unsigned long long v;

	if (!isdigit((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtoull(s, &e, 10);
	if (errno || !v || v > 1024ULL * 1024)
		return 0;
	switch (*e) {
	case 'K': case 'k': break;
	case 'M': case 'm': v *= 1024; break;
	case 'G': case 'g': v *= 1024ULL * 1024ULL; break;
	default: return 0;
	}
	*end = e + 1;
	return v;
}

/* hugepages = 1G:8 2M:1024: SIZE:COUNT, each size once. */
static int set_boot_pages(struct parser *p, const char *value)
{
	_cleanup_free_ char *copy = xstrdup(value);
	struct host *h = &p->c->host;
	char *save = NULL;

	for (char *tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		const char *end = tok;
		unsigned long long size = page_size_kib(tok, &end), count;
		char *e;

		errno = 0;
		count = *end == ':' && isdigit((unsigned char)end[1]) ? strtoull(end + 1, &e, 10) : 0;
		if (!size || *end != ':' || errno || !count || *e || count > 1UL << 30)
			return config_fail(p, p->line,
					   "hugepages must be SIZE:COUNT pairs, as in hugepages = 1G:8 (eight 1 GiB pages reserved at "
					   "boot) or 2M:2048, not \"%s\"",
					   tok);
		for (size_t i = 0; i < h->n_pages; i++)
			if (h->pages[i].size_kib == size)
				return config_fail(p, p->line, "hugepages names the size %s twice (keep one count for it)", tok);
		*(struct boot_pages *)array_push(&h->pages, &h->n_pages, sizeof(struct boot_pages)) =
			(struct boot_pages){ size, (unsigned long)count };
	}
	if (!h->n_pages)
		return config_fail(p, p->line, "hugepages = is empty in [host] (as in hugepages = 1G:8, or remove the line)");
	return 1;
}

int config_key_host(struct parser *p, const char *key, const char *value)
{
	struct host *h = &p->c->host;
	static const char *const modes[] = { "auto", "intel", "amd", "off" };
	size_t k;

	for (k = 0; k < ARRAY_SIZE(host_keys); k++)
		if (streq(key, host_keys[k]))
			break;
	if (k == ARRAY_SIZE(host_keys))
		return config_fail(p, p->line, "unknown key \"%s\" in [host] (valid keys: users, memlock, iommu, early, hugepages)",
				   key);
	if (h->lines[k])
		return config_fail(p, p->line, "%s is set twice in [host] (first at line %d; keep one)", key, h->lines[k]);
	h->lines[k] = p->line;

	if (k == 0)
		return set_users(p, value);
	if (k == 1)
		return set_memlock(p, value);
	if (k == 3)
		return parse_yes_no(p, "early", value, &h->early);
	if (k == 4)
		return set_boot_pages(p, value);
	for (size_t i = 0; i < ARRAY_SIZE(modes); i++)
		if (streq(value, modes[i])) {
			h->iommu = (enum iommu_mode)i;
			return 1;
		}
	return config_fail(p, p->line, "iommu must be auto, intel, amd or off, not \"%s\"", value);
}

/* Splits "ID  free description" into its id and (possibly NULL) description. */
static char *split_desc(char *value, char **ret_desc)
{
	char *rest = value + strcspn(value, " \t");

	if (*rest)
		*rest++ = '\0';
	rest = strip(rest);
	*ret_desc = *rest ? xstrdup(rest) : NULL;
	return value;
}

/* Does WORD name a device of the section's kind? */
static bool names_device(bool pci, const char *word)
{
	struct pci_sel ps;
	struct usb_sel us;

	return pci ? pci_sel_parse(word, &ps) == 0 : usb_sel_parse(word, &us) == 0;
}

/*
 * "device = 10de:1e84, 10de:10f8" or "device = 10de:1e84 10de:10f8": several devices on one
 * line, each word after a comma or naming a device. 0 after saying so, with the lines to
 * write; 1 when VALUE has one device (the rest is its description).
 */
static int one_per_line(struct parser *p, bool pci, const char *value)
{
	char *words[16];
	_cleanup_free_ char *lines = xstrdup("");
	const char *s = value;
	bool after_comma = true; /* the first word is the id */
	size_t n = 0;

	while (*s && n < ARRAY_SIZE(words)) {
		size_t len = strcspn(s, ", \t");

		if (len) {
			words[n] = xasprintf("%.*s", (int)len, s);
			if (!after_comma && !names_device(pci, words[n])) {
				free(words[n]);
				break;
			}
			n++;
			after_comma = false;
			s += len;
		}
		for (; *s == ' ' || *s == '\t' || *s == ','; s++)
			after_comma |= *s == ',';
	}
	for (size_t i = 0; i < n; i++) {
		char *more = xasprintf("%s%s\"device = %s\"", lines, !i ? "" : i + 1 < n ? ", " : " and ", words[i]);

		free(lines);
		lines = more;
		free(words[i]);
	}
	if (n < 2)
		return 1;
	return config_fail(p, p->line, "device = %s: one device per line (write %s on lines of their own)", value, lines);
}

int config_key_device(struct parser *p, const char *key, const char *value)
{
	bool pci = p->kind == SEC_PCI;
	const char *kind_s = pci ? "pci" : "usb";
	const char *set_name = pci ? p->c->pci_sets[p->idx].name : p->c->usb_sets[p->idx].name;
	_cleanup_free_ char *copy = xstrdup(value);
	char *desc, *id;

	if (!streq(key, "device"))
		return config_fail(p, p->line, "unknown key \"%s\" in [%s %s] (the only key here is device)", key, kind_s,
			    set_name);
	if (!one_per_line(p, pci, value))
		return 0;
	id = split_desc(copy, &desc);
	/* "device = 10de:1e84  VGA  # the GPU": a comment, where "USB EHCI #1" is the name lspci gives. */
	for (char *c = desc; c && (c = strchr(c, '#')); c++)
		if ((c == desc || c[-1] == ' ' || c[-1] == '\t') && (!c[1] || c[1] == ' ' || c[1] == '\t')) {
			*c = '\0';
			break;
		}
	/* split_desc() left no space in front: strip() trims the end, in place. */
	if (desc && !*strip(desc)) {
		free(desc);
		desc = NULL;
	}
	if (!*id)
		return config_fail(p, p->line, "device needs %s, as in \"device = %s\"",
			    pci ? "a PCI id or address" : "a USB id",
			    pci ? "10de:1e84  VGA controller" : "046d:c539  Receiver");
	if (pci) {
		struct pci_set *s = &p->c->pci_sets[p->idx];
		struct pci_sel sel;

		if (pci_sel_parse(id, &sel) < 0) {
			free(desc);
			return config_fail(p, p->line,
				    "malformed PCI id or address \"%s\" (write vendor:device in hex, e.g. 10de:1e84, or an address, e.g. 0000:09:00.0)",
				    id);
		}
		for (size_t i = 0; i < s->n_entries; i++)
			if (pci_sel_eq(&s->entries[i].sel, &sel)) {
				char canon[PCI_ADDR_LEN];

				free(desc);
				pci_sel_format(&sel, canon, sizeof(canon));
				return config_fail(p, p->line, "%s is listed twice in [pci %s] (first at line %d; remove one)",
					    canon, s->name, s->entries[i].line);
			}
		struct pci_entry *e = array_push(&s->entries, &s->n_entries, sizeof(*e));
		*e = (struct pci_entry){ .sel = sel, .desc = desc, .line = p->line };
	} else {
		struct usb_set *s = &p->c->usb_sets[p->idx];
		struct usb_sel sel;

		if (usb_sel_parse(id, &sel) < 0) {
			free(desc);
			return config_fail(p, p->line,
				    "malformed USB id \"%s\" (write vendor:product or just vendor in hex, e.g. 046d:c539 or 046d)",
				    id);
		}
		for (size_t i = 0; i < s->n_entries; i++)
			if (usb_sel_eq(&s->entries[i].sel, &sel)) {
				char canon[16];

				free(desc);
				usb_sel_format(&sel, canon, sizeof(canon));
				return config_fail(p, p->line, "%s is listed twice in [usb %s] (first at line %d; remove one)",
					    canon, s->name, s->entries[i].line);
			}
		struct usb_entry *e = array_push(&s->entries, &s->n_entries, sizeof(*e));
		*e = (struct usb_entry){ .sel = sel, .desc = desc, .line = p->line };
	}
	return 1;
}

int config_key_vm(struct parser *p, const char *key, const char *value)
{
	struct vm *v = &p->c->vms[p->idx];
	_cleanup_free_ char *copy = xstrdup(value);
	char *save = NULL, *tok;
	struct vm_token **toks;
	size_t *n;

	if (streq(key, "pci")) {
		toks = &v->pci_tokens;
		n = &v->n_pci_tokens;
	} else if (streq(key, "usb")) {
		toks = &v->usb_tokens;
		n = &v->n_usb_tokens;
	} else if (streq(key, "evict") || streq(key, "giveback")) {
		int *line = streq(key, "evict") ? &v->evict_line : &v->giveback_line;

		if (*line)
			return config_fail(p, p->line, "%s is set twice in [vm %s] (first at line %d; keep one)", key, v->name,
				    *line);
		*line = p->line;
		return *key == 'e' ? parse_evict(p, value, &v->evict) : parse_giveback(p, value, &v->giveback);
	} else if (display_key(key) || claims_key(key)) {
		_cleanup_free_ char *where = xasprintf("[vm %s]", v->name);

		return display_key(key) ? set_display(p, key, value, &v->display, where)
					: set_claims(p, key, value, &v->claims, where);
	} else {
		return config_fail(p, p->line,
			    "unknown key \"%s\" in [vm %s] (valid keys: pci, usb, evict, giveback, host-display, "
			    "display-manager, host-display-kill, host-display-timeout, cpus, cpu-governor, block-sleep)",
			    key, v->name);
	}
	if (!*value)
		return config_fail(p, p->line, "%s = is empty in [vm %s] (list [%s] names or ids, or remove the line)", key,
			    v->name, key);
	for (tok = strtok_r(copy, " \t,", &save); tok; tok = strtok_r(NULL, " \t,", &save)) {
		struct vm_token *t = array_push(toks, n, sizeof(*t));
		t->text = xstrdup(tok);
		t->line = p->line;
	}
	return 1;
}

