/* SPDX-License-Identifier: MIT */
/*
 * The ownership ledger (ledger.h). One line per fact, fields "key=value" separated by single
 * spaces; VM names and XML are percent-encoded, so names with spaces (libvirt allows any byte
 * but '/') round-trip exactly. A line that cannot be read is kept verbatim and reported each
 * time, and the function it names (when its address is readable) can still be given back.
 */
#define _GNU_SOURCE
#include "ledger.h"

#include "ledger-kinds.h"

#include "log.h"
#include "state.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEDGER_MAGIC "vfio-hook-ledger 1"
/* A damaged line as it is written back: never read as an entry again, always reported. */
#define DAMAGED "damaged "
/* What a function was on before, when that could not be read: the kernel picks at give-back. */
#define DRIVER_UNKNOWN "?"

/* A look before the real one (ledger_peek): its damaged lines are reported by the real one. */
static bool quiet;

const char *ledger_path(void)
{
	static char path[4096];

	snprintf(path, sizeof(path), "%s/ledger", state_dir());
	return path;
}

/* Bytes that would split a field or a line, and '%' itself, as %XX (a value may hold '='). */
char *ledger_escape(const char *s)
{
	return pct_encode(s, true);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)toupper((unsigned char)c);
	return c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* NULL when S is not a valid encoding (or decodes to an empty string or a NUL byte). */
char *ledger_unescape(const char *s)
{
	char *r = xmalloc(strlen(s) + 1), *w = r;

	for (; *s; s++) {
		if (*s != '%') {
			*w++ = *s;
			continue;
		}
		int hi = hexval(s[1]), lo = hi < 0 ? -1 : hexval(s[2]);

		if (lo < 0 || (hi == 0 && lo == 0)) {
			free(r);
			return NULL;
		}
		*w++ = (char)(hi << 4 | lo);
		s += 2;
	}
	*w = '\0';
	if (!*r) {
		free(r);
		return NULL;
	}
	return r;
}

static bool uuid_valid(const char *s)
{
	size_t n = strlen(s);

	if (n != 36)
		return n == 0;
	for (size_t i = 0; i < n; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* The value of KEY= among the fields (a NULL-terminated array), or NULL. */
const char *ledger_field(char **fields, const char *key)
{
	size_t k = strlen(key);

	for (; *fields; fields++)
		if (strncmp(*fields, key, k) == 0 && (*fields)[k] == '=')
			return *fields + k + 1;
	return NULL;
}

/* A driver field: "" or a valid name; false when unreadable, or "?" (known to be unknown). */
static bool copy_driver(char *dst, size_t n, const char *v)
{
	if (!v || streq(v, DRIVER_UNKNOWN) || (*v && !driver_name_valid(v)))
		return false;
	snprintf(dst, n, "%s", v);
	return true;
}

static bool parse_vm(struct ledger *l, char **f, int bad)
{
	(void)bad;
	_cleanup_free_ char *name = f[1] ? ledger_unescape(f[1]) : NULL;
	const char *uuid = ledger_field(f + 2, "uuid"), *state = ledger_field(f + 2, "state");
	struct ledger_vm *v;

	if (!name || !uuid || !uuid_valid(uuid) || !state || (!streq(state, "starting") && !streq(state, "started")) ||
	    ledger_vm(l, name))
		return false;
	v = ledger_vm_add(l, name, uuid);
	v->started = streq(state, "started");
	return true;
}

static bool parse_func(struct ledger *l, char **f, int bad)
{
	struct ledger_func e = { .bad = bad };
	const char *owner = ledger_field(f + 2, "owner"), *state = ledger_field(f + 2, "state");
	bool ok;

	if (!f[1] || pci_addr_parse(f[1], &e.addr) < 0 || ledger_func(l, &e.addr))
		return false;
	const char *drv = ledger_field(f + 2, "driver"), *ovr = ledger_field(f + 2, "override");
	bool unknown = drv && ovr && streq(drv, DRIVER_UNKNOWN) && streq(ovr, DRIVER_UNKNOWN);

	e.owner = owner ? ledger_unescape(owner) : NULL;
	e.known = copy_driver(e.driver, sizeof(e.driver), drv) && copy_driver(e.override, sizeof(e.override), ovr);
	e.plugging = state && streq(state, "plugging");
	e.moved = state && (streq(state, "moved") || e.plugging);
	ok = e.owner && (e.known || unknown) && state && (e.moved || streq(state, "moving"));
	if (!ok && !bad) {
		free(e.owner);
		return false; /* the caller keeps the line and comes back with bad set */
	}
	if (!e.known)
		e.driver[0] = e.override[0] = '\0';
	*(struct ledger_func *)array_push(&l->funcs, &l->n_funcs, sizeof(e)) = e;
	return true;
}

static bool parse_took(struct ledger *l, char **f, int bad)
{
	(void)bad;
	const char *owner = ledger_field(f + 2, "owner"), *from = ledger_field(f + 2, "from"), *uuid = ledger_field(f + 2, "from-uuid");
	const char *id = ledger_field(f + 2, "from-id"), *state = ledger_field(f + 2, "state"), *xml = ledger_field(f + 2, "xml");
	_cleanup_free_ char *o = NULL, *fr = NULL, *x = NULL;
	struct ledger_took *t;
	struct pci_addr a;
	char *end;
	long n;

	if (!f[1] || pci_addr_parse(f[1], &a) < 0 || !owner || !from || !uuid || !uuid_valid(uuid) || !id || !state ||
	    !xml || (!streq(state, "pending") && !streq(state, "done")))
		return false;
	errno = 0;
	n = strtol(id, &end, 10);
	if (errno || *end || end == id || n < -1 || n > 1000000000L)
		return false;
	o = ledger_unescape(owner);
	fr = ledger_unescape(from);
	x = *xml ? ledger_unescape(xml) : xstrdup("");
	if (!o || !fr || !x)
		return false;
	for (size_t i = 0; i < l->n_took; i++)
		if (pci_addr_eq(&l->took[i].addr, &a) && streq(l->took[i].owner, o))
			return false;
	t = ledger_took_add(l, &a, o, fr, uuid, (int)n, x);
	t->pending = streq(state, "pending");
	return true;
}

static bool parse_display(struct ledger *l, char **f, int bad)
{
	(void)bad;
	const char *owner = ledger_field(f + 2, "owner"), *step = ledger_field(f + 2, "step"), *what = ledger_field(f + 2, "what");
	const char *drv = ledger_field(f + 2, "driver"), *state = ledger_field(f + 2, "state");
	_cleanup_free_ char *o = NULL, *w = NULL;
	struct ledger_display *d;
	struct pci_addr a;
	int k;

	if (!f[1] || pci_addr_parse(f[1], &a) < 0 || !owner || !step || !what || !drv || !state ||
	    (!streq(state, "doing") && !streq(state, "done") && !streq(state, "stuck")))
		return false;
	k = (int)display_step_parse(step);
	o = ledger_unescape(owner);
	w = ledger_unescape(what);
	if (k == DSTEP_N || !o || !w || !display_what_valid((enum display_step)k, w) ||
	    (k == DSTEP_FB ? !driver_name_valid(drv) : !streq(drv, "-")))
		return false;
	d = ledger_display_add(l, &a, o, (enum display_step)k, w, k == DSTEP_FB ? drv : "");
	d->done = streq(state, "done");
	d->stuck = streq(state, "stuck");
	return true;
}

/* ---- the record kinds, one table ---- */

/* Appends to a growing string. */
void ledger_put(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	*buf = xrealloc(*buf, *len + (size_t)n + 1);
	memcpy(*buf + *len, s, (size_t)n + 1);
	*len += (size_t)n;
	free(s);
}

static void format_vms(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	for (size_t i = 0; i < l->n_vms; i++) {
		_cleanup_free_ char *name = NULL;

		if (prune && !ledger_has_vm(l, l->vms[i].name))
			continue;
		name = ledger_escape(l->vms[i].name);
		ledger_put(buf, len, "vm %s uuid=%s state=%s\n", name, l->vms[i].uuid, l->vms[i].started ? "started" : "starting");
	}
}

static void format_funcs(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_funcs; i++) {
		const struct ledger_func *f = &l->funcs[i];
		_cleanup_free_ char *owner = NULL;
		char a[PCI_ADDR_LEN];

		if (f->bad)
			continue; /* its line is written as it was */
		owner = ledger_escape(f->owner);
		pci_addr_format(&f->addr, a, sizeof(a));
		ledger_put(buf, len, "func %s owner=%s driver=%s override=%s state=%s\n", a, owner,
		    f->known ? f->driver : DRIVER_UNKNOWN, f->known ? f->override : DRIVER_UNKNOWN,
		    f->plugging ? "plugging" : f->moved ? "moved" : "moving");
	}
}

static void format_took(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_took; i++) {
		const struct ledger_took *t = &l->took[i];
		_cleanup_free_ char *owner = ledger_escape(t->owner), *from = ledger_escape(t->from), *xml = ledger_escape(t->xml);
		char a[PCI_ADDR_LEN];

		pci_addr_format(&t->addr, a, sizeof(a));
		ledger_put(buf, len, "took %s owner=%s from=%s from-uuid=%s from-id=%d state=%s xml=%s\n", a, owner, from,
		    t->from_uuid, t->from_id, t->pending ? "pending" : "done", xml);
	}
}

static void format_display(const struct ledger *l, bool prune, char **buf, size_t *len)
{
	(void)prune;
	for (size_t i = 0; i < l->n_display; i++) {
		const struct ledger_display *d = &l->display[i];
		_cleanup_free_ char *owner = ledger_escape(d->owner), *what = ledger_escape(d->what);
		char a[PCI_ADDR_LEN];

		pci_addr_format(&d->gpu, a, sizeof(a));
		ledger_put(buf, len, "display %s owner=%s step=%s what=%s driver=%s state=%s\n", a, owner,
		    display_step_name(d->step), what, *d->driver ? d->driver : "-", d->done ? "done" : d->stuck ? "stuck" : "doing");
	}
}

static void clear_vms(struct ledger *l)
{
	for (size_t i = 0; i < l->n_vms; i++)
		free(l->vms[i].name);
	free(l->vms);
}

static void clear_funcs(struct ledger *l)
{
	for (size_t i = 0; i < l->n_funcs; i++)
		free(l->funcs[i].owner);
	free(l->funcs);
}

static void clear_took(struct ledger *l)
{
	for (size_t i = 0; i < l->n_took; i++) {
		free(l->took[i].owner);
		free(l->took[i].from);
		free(l->took[i].xml);
	}
	free(l->took);
}

static void clear_display(struct ledger *l)
{
	for (size_t i = 0; i < l->n_display; i++) {
		free(l->display[i].owner);
		free(l->display[i].what);
	}
	free(l->display);
}

static size_t count_vms(const struct ledger *l) { return l->n_vms; }
static size_t count_funcs(const struct ledger *l) { return l->n_funcs; }
static size_t count_took(const struct ledger *l) { return l->n_took; }
static size_t count_display(const struct ledger *l) { return l->n_display; }

static const char *owner_of_vm(const struct ledger *l, size_t i) { return l->vms[i].name; }
static const char *owner_of_func(const struct ledger *l, size_t i) { return l->funcs[i].owner; }
static const char *owner_of_took(const struct ledger *l, size_t i) { return l->took[i].owner; }
static const char *owner_of_display(const struct ledger *l, size_t i) { return l->display[i].owner; }

/*
 * What the ledger records, one entry a kind: a line starts with the kind's name and has exactly
 * its number of fields (the name, the key, then key=value fields); anything else is a damaged
 * line. A new kind of record is one more entry here (and its functions above).
 */
static const struct record_kind kinds[] = {
	{ "vm", 4, false, false, parse_vm, format_vms, count_vms, owner_of_vm, clear_vms, false },
	{ "func", 6, true, true, parse_func, format_funcs, count_funcs, owner_of_func, clear_funcs, false },
	{ "took", 8, true, false, parse_took, format_took, count_took, owner_of_took, clear_took, false },
	{ "display", 7, true, false, parse_display, format_display, count_display, owner_of_display, clear_display, false },
	LEDGER_CLAIM_KINDS,
};

/* Splits LINE at single spaces into a NULL-terminated array (pointers into LINE). */
static char **split(char *line)
{
	char **f = NULL, *save = NULL;
	size_t n = 0;

	for (char *t = strtok_r(line, " ", &save); t; t = strtok_r(NULL, " ", &save))
		*(char **)array_push(&f, &n, sizeof(char *)) = t;
	array_push(&f, &n, sizeof(char *));
	return f;
}

static size_t count(char **f)
{
	size_t n = 0;

	while (f[n])
		n++;
	return n;
}

/* A line of one kind, read; BAD (a damaged line's index+1): only a kind that salvages reads it, for its key. */
static bool parse_line(struct ledger *l, const char *line, int bad)
{
	_cleanup_free_ char *copy = xstrdup(line);
	_cleanup_free_ char **f = split(copy);
	size_t n = count(f);

	if (n < 2)
		return false; /* the kind and the key (name or address) at least */
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		if (streq(f[0], kinds[k].name))
			return bad ? kinds[k].salvages && kinds[k].parse(l, f, bad)
				   : n == kinds[k].n_fields && kinds[k].parse(l, f, 0);
	return false;
}

/* A line with NUL bytes, each written %00: no field can hold that, so it stays a damaged line. */
static char *without_nul(const char *s, size_t n)
{
	char *r = xmalloc(n * 3 + 1), *w = r;

	for (size_t i = 0; i < n; i++) {
		if (s[i]) {
			*w++ = s[i];
			continue;
		}
		memcpy(w, "%00", 3);
		w += 3;
	}
	*w = '\0';
	return r;
}

int ledger_parse(const char *text, size_t len, const char *path, struct ledger *ret)
{
	struct ledger l = { 0 };
	size_t i = 0;
	int lineno = 0;
	const char *text_of;

	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t e = nl ? (size_t)(nl - text) : len;
		bool nul = memchr(text + i, '\0', e - i) != NULL;
		_cleanup_free_ char *line = nul ? without_nul(text + i, e - i) : xasprintf("%.*s", (int)(e - i), text + i);

		i = e + 1;
		lineno++;
		if (line[0] == '#' || (!nul && (!*line || streq(line, LEDGER_MAGIC))))
			continue;
		/* Damaged before: what it said is kept, and it stays damaged whatever it says. */
		text_of = startswith(line, DAMAGED) ? line + strlen(DAMAGED) : line;
		if (!nul && text_of == line && parse_line(&l, line, 0))
			continue;
		struct ledger_bad b = { lineno, xstrdup(text_of) };

		*(struct ledger_bad *)array_push(&l.bad, &l.n_bad, sizeof(b)) = b;
		/* Its address, if readable, still tells release what to give back. */
		parse_line(&l, text_of, (int)l.n_bad);
		if (!quiet)
			log_warning("%s:%d: cannot read this entry; it is kept as it is (check it, then 'vfio-hook restore --all' "
			    "gives back %s): %.200s",
			    path, lineno,
			    startswith(text_of, "display ")		  ? "the display step it names, or says what to do by hand"
			    : ledger_bad_is_host(&l.bad[l.n_bad - 1]) ? "what it records once it is correct"
								  : "the device it names",
			    line);
	}
	*ret = l;
	return 0;
}

/* PRUNE: leave out VM lines with nothing left to say (saved, not parsed-and-formatted). */
static char *format(const struct ledger *l, bool prune)
{
	char *buf = NULL;
	size_t len = 0;

	ledger_put(&buf, &len, "# vfio-hook: who owns each PCI device vfio-hook moved ('vfio-hook status' shows it)\n");
	ledger_put(&buf, &len, "%s\n", LEDGER_MAGIC);
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		kinds[k].format(l, prune, &buf, &len);
	for (size_t i = 0; i < l->n_bad; i++)
		if (l->bad[i].text)
			ledger_put(&buf, &len, DAMAGED "%s\n", l->bad[i].text);
	return buf;
}

char *ledger_format(const struct ledger *l)
{
	return format(l, false);
}

void ledger_clear(struct ledger *l)
{
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		kinds[k].clear(l);
	for (size_t i = 0; i < l->n_bad; i++)
		free(l->bad[i].text);
	free(l->bad);
	*l = (struct ledger){ 0 };
}

static bool ledger_empty(const struct ledger *l)
{
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		if ((kinds[k].holds || kinds[k].host) && kinds[k].count(l))
			return false;
	for (size_t i = 0; i < l->n_bad; i++)
		if (l->bad[i].text)
			return false;
	return true;
}

int ledger_load(struct ledger *ret)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	*ret = (struct ledger){ 0 };
	r = state_read(ledger_path(), &text, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return r; /* logged, but for -EACCES: root's records, closed to this user */
	return ledger_parse(text, len, ledger_path(), ret);
}

int ledger_peek(struct ledger *ret)
{
	int r;

	quiet = true;
	r = ledger_load(ret);
	quiet = false;
	return r;
}

int ledger_save(const struct ledger *l)
{
	_cleanup_free_ char *text = NULL;

	if (ledger_empty(l))
		return state_remove(ledger_path());
	/* A VM that owns and took nothing has nothing to say. */
	text = format(l, true);
	return state_write(ledger_path(), text);
}

struct ledger_func *ledger_func(const struct ledger *l, const struct pci_addr *a)
{
	for (size_t i = 0; i < l->n_funcs; i++)
		if (pci_addr_eq(&l->funcs[i].addr, a))
			return &l->funcs[i];
	return NULL;
}

const char *ledger_owner(const struct ledger *l, const struct pci_addr *a)
{
	const struct ledger_func *f = ledger_func(l, a);

	return !f ? NULL : f->owner ? f->owner : "";
}

struct ledger_func *ledger_claim(struct ledger *l, const struct pci_addr *a, const char *owner)
{
	struct ledger_func *f = ledger_func(l, a);

	if (!f) {
		f = array_push(&l->funcs, &l->n_funcs, sizeof(*f));
		f->addr = *a;
		f->known = true;
	}
	/* Handed over: a proper entry from now on (what could not be read stays unknown). */
	if (f->bad) {
		free(l->bad[f->bad - 1].text);
		l->bad[f->bad - 1].text = NULL;
		f->bad = 0;
	}
	if (!f->owner || !streq(f->owner, owner))
		f->plugging = false;
	free(f->owner);
	f->owner = xstrdup(owner);
	/* The host's display given up for this function goes with it: its new owner's stop gives it back. */
	for (size_t i = 0; i < l->n_display; i++)
		if (pci_addr_eq(&l->display[i].gpu, a) && !streq(l->display[i].owner, owner)) {
			free(l->display[i].owner);
			l->display[i].owner = xstrdup(owner);
		}
	return f;
}

void ledger_drop(struct ledger *l, const struct pci_addr *a)
{
	struct ledger_func *f = ledger_func(l, a);
	size_t i;

	if (!f)
		return;
	i = (size_t)(f - l->funcs);
	if (f->bad) {
		free(l->bad[f->bad - 1].text);
		l->bad[f->bad - 1].text = NULL;
	}
	free(f->owner);
	memmove(f, f + 1, (l->n_funcs - i - 1) * sizeof(*f));
	l->n_funcs--;
}

struct ledger_vm *ledger_vm(const struct ledger *l, const char *name)
{
	for (size_t i = 0; i < l->n_vms; i++)
		if (streq(l->vms[i].name, name))
			return &l->vms[i];
	return NULL;
}

struct ledger_vm *ledger_vm_add(struct ledger *l, const char *name, const char *uuid)
{
	struct ledger_vm *v = ledger_vm(l, name);

	if (!v) {
		v = array_push(&l->vms, &l->n_vms, sizeof(*v));
		v->name = xstrdup(name);
	}
	if (uuid && uuid_valid(uuid))
		snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
	return v;
}

bool ledger_has_vm(const struct ledger *l, const char *name)
{
	for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
		for (size_t i = 0; kinds[k].holds && i < kinds[k].count(l); i++)
			if (kinds[k].owner(l, i) && streq(kinds[k].owner(l, i), name))
				return true;
	return false;
}

void ledger_vm_tidy(struct ledger *l, const char *name)
{
	if (!ledger_has_vm(l, name))
		ledger_vm_drop(l, name);
}

void ledger_vm_drop(struct ledger *l, const char *name)
{
	struct ledger_vm *v = ledger_vm(l, name);

	if (!v)
		return;
	free(v->name);
	memmove(v, v + 1, (l->n_vms - (size_t)(v - l->vms) - 1) * sizeof(*v));
	l->n_vms--;
}

struct ledger_took *ledger_took_add(struct ledger *l, const struct pci_addr *a, const char *owner, const char *from,
				    const char *from_uuid, int from_id, const char *xml)
{
	struct ledger_took *t = NULL;

	/* One entry per function and taker: a retried eviction replaces the one before. */
	for (size_t i = 0; i < l->n_took && !t; i++)
		if (pci_addr_eq(&l->took[i].addr, a) && streq(l->took[i].owner, owner)) {
			t = &l->took[i];
			free(t->owner);
			free(t->from);
			free(t->xml);
		}
	if (!t)
		t = array_push(&l->took, &l->n_took, sizeof(*t));
	t->addr = *a;
	t->owner = xstrdup(owner);
	t->from = xstrdup(from);
	snprintf(t->from_uuid, sizeof(t->from_uuid), "%s", from_uuid && uuid_valid(from_uuid) ? from_uuid : "");
	t->from_id = from_id;
	t->pending = false;
	t->xml = xstrdup(xml ? xml : "");
	return t;
}

void ledger_took_drop(struct ledger *l, size_t i)
{
	free(l->took[i].owner);
	free(l->took[i].from);
	free(l->took[i].xml);
	memmove(&l->took[i], &l->took[i + 1], (l->n_took - i - 1) * sizeof(*l->took));
	l->n_took--;
}

bool ledger_bad_is_display(const struct ledger_bad *b)
{
	return b->text && startswith(b->text, "display ");
}

bool ledger_bad_is_host(const struct ledger_bad *b)
{
	static const char *const claim_kinds[] = { "slice ", "governor ", "pool ", "cpus ", "pages ", "sleep " };

	for (size_t i = 0; b->text && i < ARRAY_SIZE(claim_kinds); i++)
		if (startswith(b->text, claim_kinds[i]))
			return true;
	return false;
}

int ledger_display_salvage(const char *text, struct ledger_display *ret)
{
	_cleanup_free_ char *copy = xstrdup(text);
	_cleanup_free_ char **f = split(copy);
	const char *owner, *step, *what, *drv;
	struct ledger_display d = { 0 };
	int k;

	if (count(f) != 7 || !streq(f[0], "display") || pci_addr_parse(f[1], &d.gpu) < 0)
		return -EINVAL;
	owner = ledger_field(f + 2, "owner");
	step = ledger_field(f + 2, "step");
	what = ledger_field(f + 2, "what");
	drv = ledger_field(f + 2, "driver");
	k = step ? (int)display_step_parse(step) : DSTEP_N;
	if (!step || k == DSTEP_N || !what || !drv)
		return -EINVAL;
	d.step = (enum display_step)k;
	d.what = ledger_unescape(what);
	if (!d.what || !display_what_valid(d.step, d.what) ||
	    (d.step == DSTEP_FB ? !driver_name_valid(drv) : !streq(drv, "-"))) {
		free(d.what);
		return -EINVAL;
	}
	snprintf(d.driver, sizeof(d.driver), "%s", d.step == DSTEP_FB ? drv : "");
	d.owner = owner ? ledger_unescape(owner) : NULL;
	*ret = d;
	return 0;
}

void ledger_display_free(struct ledger_display *d)
{
	free(d->owner);
	free(d->what);
	*d = (struct ledger_display){ 0 };
}

size_t ledger_drop_damaged(struct ledger *l)
{
	size_t n = 0;

	for (size_t i = 0; i < l->n_bad; i++) {
		bool named = ledger_bad_is_display(&l->bad[i]) || ledger_bad_is_host(&l->bad[i]);

		for (size_t k = 0; k < l->n_funcs && !named; k++)
			named = l->funcs[k].bad == (int)i + 1;
		if (named || !l->bad[i].text)
			continue;
		log_info("%s: dropped the damaged entry from line %d: %.200s", ledger_path(), l->bad[i].line, l->bad[i].text);
		free(l->bad[i].text);
		l->bad[i].text = NULL;
		n++;
	}
	return n;
}

bool ledger_took_from(const struct ledger *l, const char *name)
{
	for (size_t i = 0; i < l->n_took; i++)
		if (streq(l->took[i].from, name))
			return true;
	return false;
}

struct ledger_display *ledger_display_add(struct ledger *l, const struct pci_addr *gpu, const char *owner,
					  enum display_step step, const char *what, const char *driver)
{
	struct ledger_display *d = array_push(&l->display, &l->n_display, sizeof(*d));

	d->gpu = *gpu;
	d->owner = xstrdup(owner);
	d->step = step;
	d->what = xstrdup(what);
	snprintf(d->driver, sizeof(d->driver), "%s", driver ? driver : "");
	d->done = false;
	d->stuck = false;
	return d;
}

void ledger_display_drop(struct ledger *l, size_t i)
{
	free(l->display[i].owner);
	free(l->display[i].what);
	memmove(&l->display[i], &l->display[i + 1], (l->n_display - i - 1) * sizeof(*l->display));
	l->n_display--;
}

static void add_owner(char ***names, size_t *n, const char *o)
{
	for (size_t k = 0; k < *n; k++)
		if (streq((*names)[k], o))
			return;
	*(char **)array_push(names, n, sizeof(char *)) = xstrdup(o);
}

size_t ledger_names(const struct ledger *l, char ***ret, bool *ret_damaged)
{
	char **names = NULL;
	size_t n = 0;

	*ret_damaged = false;
	/* What VMs hold first, in the table's order, then the VMs that only have a line. */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t k = 0; k < ARRAY_SIZE(kinds); k++)
			for (size_t i = 0; !kinds[k].host && kinds[k].holds == (pass == 0) && i < kinds[k].count(l); i++) {
				if (kinds[k].owner(l, i))
					add_owner(&names, &n, kinds[k].owner(l, i));
				else
					*ret_damaged = true;
			}
	*ret = names;
	return n;
}
