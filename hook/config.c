/* SPDX-License-Identifier: MIT */
/*
 * The device map. inih does the INI syntax; this file gives it meaning and turns every
 * mistake into one "FILE:LINE: what (how to fix)" line. The file decides what a root
 * process does to PCI devices, so it is refused when others could have written it.
 */
#define _GNU_SOURCE
#include "config.h"
#include "config-parser.h"


#include "log.h"
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


int config_fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	if (p->err)
		return 0;
	va_start(ap, fmt);
	if (vasprintf(&p->err, fmt, ap) < 0)
		p->err = NULL;
	va_end(ap);
	p->err_line = line;
	return 0; /* inih: stop */
}

/*
 * What a header line names, as inih takes it (the text between '[' and ']'); NULL when the
 * line is no header. An unclosed header gives the rest of the line: the name its author meant.
 */
static char *header_of(const char *line, bool *ret_closed, const char **ret_tail)
{
	size_t n;

	while (*line == ' ' || *line == '\t')
		line++;
	if (*line++ != '[')
		return NULL;
	n = strcspn(line, "]\r\n");
	*ret_closed = line[n] == ']';
	*ret_tail = line + n + (line[n] == ']');
	*ret_tail += strspn(*ret_tail, " \t\r\n");
	return xasprintf("%.*s", (int)n, line);
}

const char *config_header_comment(const char *header)
{
	for (const char *p = header; *p; p++)
		if ((*p == ';' || *p == '#') && p > header && isspace((unsigned char)p[-1]))
			return p - 1;
	return NULL;
}

/* inih reads through this so each handler call knows its line. */
static char *reader(char *buf, int size, void *stream)
{
	struct parser *p = stream;
	bool starts_line = p->line_done;
	int n = 0, ch = 0;
	char *header;
	const char *tail = "";
	bool closed = false;

	if (p->err)
		return NULL;
	/* Not fgets: a NUL byte would cut its line short, newline included, without a word. */
	while (n < size - 1 && ch != '\n' && (ch = getc(p->f)) != EOF) {
		if (ch == '\0') {
			/* inih goes on with what BUF continued, so leave that terminated. */
			buf[0] = '\0';
			config_fail(p, p->line_done ? p->line + 1 : p->line,
			     "NUL byte in the map (it is a text file: save it as plain text)");
			return NULL;
		}
		buf[n++] = (char)ch;
	}
	if (n == 0)
		return NULL;
	buf[n] = '\0';
	if (p->line_done) {
		p->line++;
		p->line_len = 0;
	}
	p->line_len += (size_t)n;
	p->line_done = buf[n - 1] == '\n';
	/* inih would read the rest of a longer line as a line of its own: a comment's tail as a key. */
	if (!p->line_done && p->line_len >= (size_t)ini_max_line - 1) {
		config_fail(p, p->line, "line longer than %d bytes (shorten it)", ini_max_line - 2);
		return NULL;
	}
	/* inih skips a UTF-8 byte order mark at the start of the file. */
	header = starts_line ? header_of(p->line == 1 && startswith(buf, "\xEF\xBB\xBF") ? buf + 3 : buf, &closed, &tail) : NULL;
	if (!header)
		return buf;
	/* inih drops what follows a header's ']': a key there, or a second header, would vanish unsaid. */
	if (closed && *tail && *tail != ';' && *tail != '#') {
		config_fail(p, p->line, "text after [%s] on the same line (\"%.*s\"): put it on a line of its own", strip(header),
		     (int)strcspn(tail, "\r\n"), tail);
		free(header);
		return NULL;
	}
	/*
	 * inih ends a header at " ;" (a comment) and finds no ']': a VM named so would get a bare
	 * syntax error. " #" is a comment after a value here, so a header holding it is read one way
	 * by inih and meant another by its author: neither is taken.
	 */
	if (closed && config_header_comment(header)) {
		config_fail(p, p->line, "[%s]: \"%.2s\" in a section header begins a comment, so the name cannot be read back "
			    "(a VM's name must not have \" ;\" or \" #\" in it: rename the VM, virsh domrename, and this section with it)",
			    header, config_header_comment(header));
		free(header);
		return NULL;
	}
	/* inih sees no section change when a header repeats the current one: the two would merge. */
	if (closed && p->header && streq(p->header, header))
		config_fail(p, p->line, "duplicate section [%s] (first at line %d; merge the two)", strip(header), p->header_line);
	free(p->header);
	p->header = header;
	p->header_line = p->line;
	return buf;
}

static bool valid_set_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("-_.+", *s))
			return false;
	return true;
}

/*
 * A libvirt domain name: any character but '/' (libvirt refuses it, as its name becomes a file
 * name) and control characters (a newline cannot be in the map's header). Spaces and non-ASCII
 * letters are fine: virt-manager accepts "Windows 10".
 */
static bool valid_vm_name(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/')
			return false;
	return true;
}

/* "…" or '…' around a value: the quoting of libvirt's own .conf files, which the map does not use. */
static bool quoted(const char *s)
{
	size_t n = strlen(s);

	return n >= 2 && (s[0] == '"' || s[0] == '\'') && s[n - 1] == s[0];
}

static int find_set(const struct parser *p, enum section_kind kind, const char *name)
{
	const struct config *c = p->c;

	for (size_t i = 0; kind == SEC_PCI && i < c->n_pci_sets; i++)
		if (streq(c->pci_sets[i].name, name))
			return c->pci_sets[i].line;
	for (size_t i = 0; kind == SEC_USB && i < c->n_usb_sets; i++)
		if (streq(c->usb_sets[i].name, name))
			return c->usb_sets[i].line;
	for (size_t i = 0; kind == SEC_VM && i < c->n_vms; i++)
		if (streq(c->vms[i].name, name))
			return c->vms[i].line;
	return 0;
}

/* SECTION as inih names it; WHOLE the same header as its line has it (inih keeps 49 bytes of it). */
static int begin_section(struct parser *p, const char *inih_section, const char *section)
{
	_cleanup_free_ char *copy = xstrdup(section);
	static const char *const kinds[] = { "pci", "usb", "vm" };
	char *kind_s = strip(copy), *name;
	int line = p->header_line ? p->header_line : p->line;
	enum section_kind kind = SEC_NONE;
	int first;

	free(p->section);
	p->section = xstrdup(inih_section);
	p->section_line = p->header_line;
	name = kind_s + strcspn(kind_s, " \t");
	if (*name)
		*name++ = '\0';
	name = strip(name);

	if (streq(kind_s, "options")) {
		if (*name)
			return config_fail(p, line, "[%s]: [options] takes no name (write [options])", section);
		if (p->options_line)
			return config_fail(p, line, "duplicate section [options] (first at line %d; merge the two)",
				    p->options_line);
		p->options_line = line;
		p->kind = SEC_OPTIONS;
		return 1;
	}
	if (streq(kind_s, "host")) {
		if (*name)
			return config_fail(p, line, "[%s]: [host] takes no name (write [host])", section);
		if (p->c->host.line)
			return config_fail(p, line, "duplicate section [host] (first at line %d; merge the two)", p->c->host.line);
		p->c->host.line = line;
		p->kind = SEC_HOST;
		return 1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
		if (streq(kind_s, kinds[i]))
			kind = (enum section_kind)(SEC_PCI + i);
	if (kind == SEC_NONE)
		return config_fail(p, line, "unknown section [%s] (sections are [options], [host], [pci NAME], [usb NAME] and [vm NAME])",
			    section);
	if (!*name)
		return config_fail(p, line, "[%s] needs a name, as in [%s my-%s]", kind_s, kind_s,
			    kind == SEC_VM ? "vm" : "device");
	if (kind == SEC_VM && quoted(name))
		return config_fail(p, line, "[%s]: write the VM's name without quotes, spaces and all: [vm %.*s]", section,
			    (int)strlen(name) - 2, name + 1);
	if (kind == SEC_VM && !valid_vm_name(name))
		return config_fail(p, line, "bad VM name \"%s\" in [%s] (libvirt's names take any character but '/' and control characters)",
			    name, section);
	if (kind != SEC_VM && strpbrk(name, " \t"))
		return config_fail(p, line, "section name \"%s\" has a space (write [%s NAME] with NAME one word)", name,
			    kind_s);
	if (kind != SEC_VM && !valid_set_name(name))
		return config_fail(p, line, "bad name \"%s\" in [%s] (use letters, digits, '-', '_', '.' and '+')", name,
			    section);
	first = find_set(p, kind, name);
	if (first)
		return config_fail(p, line, "duplicate section [%s %s] (first at line %d; merge the two)", kind_s, name,
			    first);

	p->kind = kind;
	if (kind == SEC_PCI) {
		struct pci_set *s = array_push(&p->c->pci_sets, &p->c->n_pci_sets, sizeof(*s));
		s->name = xstrdup(name);
		s->line = line;
		p->idx = p->c->n_pci_sets - 1;
	} else if (kind == SEC_USB) {
		struct usb_set *s = array_push(&p->c->usb_sets, &p->c->n_usb_sets, sizeof(*s));
		s->name = xstrdup(name);
		s->line = line;
		p->idx = p->c->n_usb_sets - 1;
	} else {
		struct vm *v = array_push(&p->c->vms, &p->c->n_vms, sizeof(*v));
		v->name = xstrdup(name);
		v->line = line;
		p->idx = p->c->n_vms - 1;
	}
	return 1;
}

/* evict = and giveback =, in [options] and in a [vm] section. */
#define SYNTAX_ERROR "not a [section], a \"key = value\" line or a comment (fix or remove this line)"

/* What each kind of section does with its keys (config-keys.c). */
static int (*const key_handlers[])(struct parser *p, const char *key, const char *value) = {
	[SEC_OPTIONS] = config_key_option,
	[SEC_HOST] = config_key_host,
	[SEC_PCI] = config_key_device,
	[SEC_USB] = config_key_device,
	[SEC_VM] = config_key_vm,
};

/*
 * VALUE without a comment that starts with '#' after a space: inih ends a value only at " ;",
 * and "pci = gpu # the RTX" would give a VM a device named "#". A device line's description
 * keeps its '#' (lspci names hold "#1"): config_key_device() drops only one that starts with it.
 */
static void cut_hash_comment(char *value)
{
	for (char *c = value; (c = strchr(c, '#')); c++)
		if (c == value || c[-1] == ' ' || c[-1] == '\t') {
			*c = '\0';
			break;
		}
	for (size_t n = strlen(value); n && (value[n - 1] == ' ' || value[n - 1] == '\t'); n--)
		value[n - 1] = '\0';
}

static int handler(void *user, const char *section, const char *key, const char *raw)
{
	struct parser *p = user;
	_cleanup_free_ char *value = xstrdup(raw);

	if (p->err)
		return 0;
	/* inih also splits at ':', so "device 10de:10f8" arrives as key "device 10de". */
	if (strpbrk(key, " \t"))
		return config_fail(p, p->line, SYNTAX_ERROR);

	/*
	 * inih sees no change when a section repeats the one before an empty section in
	 * between ([host] [vm a] [host]); the header line does change.
	 */
	if (!p->section || !streq(p->section, section) || p->section_line != p->header_line) {
		if (!*section)
			return config_fail(p, p->line, "\"%s\" is outside any section (put it under [options], [host], [pci NAME], [usb NAME] or [vm NAME])",
				    key);
		/* A long VM name is cut short by inih: its header line has it whole. */
		const char *whole = p->header && startswith(p->header, section) ? p->header : section;

		if (!begin_section(p, section, whole))
			return 0;
	}
	if (p->kind == SEC_NONE)
		return 0;
	if (!streq(key, "device") || (p->kind != SEC_PCI && p->kind != SEC_USB))
		cut_hash_comment(value);
	if (quoted(value))
		return config_fail(p, p->line, "%s = %s: the map's values take no quotes (write %s = %.*s)", key, value, key,
			    (int)strlen(value) - 2, value + 1);
	return key_handlers[p->kind](p, key, value);
}

static int resolve_pci(struct parser *p, struct vm *v, const struct vm_token *t)
{
	const struct config *c = p->c;
	struct pci_sel sel;

	if (strchr(t->text, ':')) {
		if (pci_sel_parse(t->text, &sel) < 0)
			return config_fail(p, t->line,
				    "malformed PCI id or address \"%s\" in [vm %s] (write vendor:device in hex, e.g. 10de:1e84, or an address, e.g. 0000:09:00.0)",
				    t->text, v->name);
		struct pci_entry *e = array_push(&v->bare_pci, &v->n_bare_pci, sizeof(*e));
		*e = (struct pci_entry){ .sel = sel, .line = t->line };
		return 1;
	}
	if (!config_find_pci_set(c, t->text)) {
		for (size_t i = 0; i < c->n_usb_sets; i++)
			if (streq(c->usb_sets[i].name, t->text))
				return config_fail(p, t->line,
					    "[vm %s] lists \"%s\" under pci =, but it is a [usb] section (move it to usb =)",
					    v->name, t->text);
		return config_fail(p, t->line, "[vm %s] uses \"%s\" but there is no [pci %s] (define it, or fix the name)",
			    v->name, t->text, t->text);
	}
	return 1;
}

static int resolve_usb(struct parser *p, struct vm *v, const struct vm_token *t)
{
	const struct config *c = p->c;
	struct usb_sel sel;

	for (size_t i = 0; i < c->n_usb_sets; i++)
		if (streq(c->usb_sets[i].name, t->text))
			return 1;
	if (strchr(t->text, ':') || (strlen(t->text) == 4 && strspn(t->text, "0123456789abcdefABCDEF") == 4)) {
		if (usb_sel_parse(t->text, &sel) < 0)
			return config_fail(p, t->line,
				    "malformed USB id \"%s\" in [vm %s] (write vendor:product or just vendor in hex, e.g. 046d:c539 or 046d)",
				    t->text, v->name);
		struct usb_entry *e = array_push(&v->bare_usb, &v->n_bare_usb, sizeof(*e));
		*e = (struct usb_entry){ .sel = sel, .line = t->line };
		return 1;
	}
	if (config_find_pci_set(c, t->text))
		return config_fail(p, t->line, "[vm %s] lists \"%s\" under usb =, but it is a [pci] section (move it to pci =)",
			    v->name, t->text);
	return config_fail(p, t->line, "[vm %s] uses \"%s\" but there is no [usb %s] (define it, or fix the name)", v->name,
		    t->text, t->text);
}

static int vm_add_pci(struct parser *p, struct vm *v, const struct pci_entry *e, const struct pci_set *set, int line)
{
	char id[PCI_ADDR_LEN];

	for (size_t i = 0; i < v->n_pci; i++) {
		if (!pci_sel_eq(&v->pci[i].entry->sel, &e->sel))
			continue;
		pci_sel_format(&e->sel, id, sizeof(id));
		if (v->pci[i].set)
			return config_fail(p, line, "[vm %s] gets %s twice (already from [pci %s] at line %d; list each device once)",
				    v->name, id, v->pci[i].set->name, v->pci[i].line);
		return config_fail(p, line, "[vm %s] gets %s twice (already at line %d; list each device once)", v->name, id,
			    v->pci[i].line);
	}
	struct vm_pci *vp = array_push(&v->pci, &v->n_pci, sizeof(*vp));
	*vp = (struct vm_pci){ .entry = e, .set = set, .line = line };
	return 1;
}

static int vm_add_usb(struct parser *p, struct vm *v, const struct usb_entry *e, const struct usb_set *set, int line)
{
	char id[16];

	for (size_t i = 0; i < v->n_usb; i++) {
		if (!usb_sel_eq(&v->usb[i].entry->sel, &e->sel))
			continue;
		usb_sel_format(&e->sel, id, sizeof(id));
		return config_fail(p, line, "[vm %s] gets USB %s twice (already at line %d; list each device once)", v->name,
			    id, v->usb[i].line);
	}
	struct vm_usb *vu = array_push(&v->usb, &v->n_usb, sizeof(*vu));
	*vu = (struct vm_usb){ .entry = e, .set = set, .line = line };
	return 1;
}

/* Once the whole file is read: names to sections, and what each VM gets, flattened. */
static int finish(struct parser *p)
{
	struct config *c = p->c;

	/* pam_limits needs a name to give the limit to; a limit for everyone is not what the map means. */
	if (c->host.memlock_set && !c->host.n_users)
		return config_fail(p, c->host.lines[1],
			    "memlock is set in [host] but users is not (list the users it is for: users = alice bob)");
	for (size_t i = 0; i < c->n_vms; i++) {
		struct vm *v = &c->vms[i];
		size_t bare = 0;

		for (size_t t = 0; t < v->n_pci_tokens; t++)
			if (!resolve_pci(p, v, &v->pci_tokens[t]))
				return 0;
		for (size_t t = 0; t < v->n_usb_tokens; t++)
			if (!resolve_usb(p, v, &v->usb_tokens[t]))
				return 0;
		/* The bare arrays are complete now, so pointers into them stay valid. */
		for (size_t t = 0; t < v->n_pci_tokens; t++) {
			const struct vm_token *tok = &v->pci_tokens[t];
			const struct pci_set *s = strchr(tok->text, ':') ? NULL : config_find_pci_set(c, tok->text);

			if (!s) {
				if (!vm_add_pci(p, v, &v->bare_pci[bare++], NULL, tok->line))
					return 0;
				continue;
			}
			for (size_t e = 0; e < s->n_entries; e++)
				if (!vm_add_pci(p, v, &s->entries[e], s, tok->line))
					return 0;
		}
		bare = 0;
		for (size_t t = 0; t < v->n_usb_tokens; t++) {
			const struct vm_token *tok = &v->usb_tokens[t];
			const struct usb_set *s = NULL;

			for (size_t k = 0; k < c->n_usb_sets; k++)
				if (streq(c->usb_sets[k].name, tok->text))
					s = &c->usb_sets[k];
			if (!s) {
				if (!vm_add_usb(p, v, &v->bare_usb[bare++], NULL, tok->line))
					return 0;
				continue;
			}
			for (size_t e = 0; e < s->n_entries; e++)
				if (!vm_add_usb(p, v, &s->entries[e], s, tok->line))
					return 0;
		}
	}
	return 1;
}

/* "PATH:LINE: what" (LINE 0: "PATH: what"): logged, or kept in *RET_MSG for a caller that shows it itself. */
static void say(char **ret_msg, const char *path, int line, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void say(char **ret_msg, const char *path, int line, const char *fmt, ...)
{
	_cleanup_free_ char *what = NULL;
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(&what, fmt, ap) < 0)
		what = NULL;
	va_end(ap);
	if (!ret_msg)
		log_at(LOG_ERR, path, line, "%s", what ? what : "out of memory");
	else if (line > 0)
		*ret_msg = xasprintf("%s:%d: %s", path, line, what ? what : "out of memory");
	else
		*ret_msg = xasprintf("%s: %s", path, what ? what : "out of memory");
}

/* Like sshd with its keys: a map others can write would let them choose what root unbinds. */
static int check_owner(const char *path, int fd, char **ret_msg)
{
	struct stat st;

	if (fstat(fd, &st) < 0) {
		int r = -errno;

		say(ret_msg, path, 0, "cannot stat: %s (check the path)", strerror(-r));
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		say(ret_msg, path, 0, "not a regular file (point -c or VFIO_HOOK_CONFIG at the map file)");
		return -EINVAL;
	}
	if (st.st_uid != 0 && st.st_uid != getuid()) {
		say(ret_msg, path, 0, "refused: owned by uid %u, not root (run: chown root %s)", (unsigned)st.st_uid, path);
		return -EPERM;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		say(ret_msg, path, 0, "refused: writable by group or others (run: chmod go-w %s)", path);
		return -EPERM;
	}
	return 0;
}

static void ini_setup(bool stop_on_first_error)
{
	/* A continuation line would silently glue an indented key onto the previous one. */
	ini_allow_multiline = false;
	ini_stop_on_first_error = stop_on_first_error;
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = 64 * 1024;
}

struct config *config_defaults(const char *path)
{
	struct config *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	c->opt = (struct options){ .uri = xstrdup(CONFIG_DEFAULT_URI), .timeout = CONFIG_DEFAULT_TIMEOUT, .evict = EVICT_DETACH,
				   .claims = { .block_sleep = true } };
	return c;
}

/* Why the map cannot be opened, and what to do: a map closed to this user is not a missing one. */
static void say_open_error(char **ret_msg, const char *path, int err)
{
	if (err == ENOENT)
		say(ret_msg, path, 0,
		    "cannot read the device map: %s (write one with 'vfio-hook map GROUP --add VM' from what 'vfio-hook groups' "
		    "lists, or start from the example " EXAMPLE_MAP "; or pass -c FILE)",
		    strerror(err));
	else if (err == EACCES)
		say(ret_msg, path, 0, "cannot read the device map: %s (it is closed to this user: run vfio-hook as root, with sudo)",
		    strerror(err));
	else
		say(ret_msg, path, 0, "cannot read the device map: %s (check the path, or pass -c FILE)", strerror(err));
}

int config_load_msg(const char *path, struct config **ret, char **ret_msg)
{
	struct parser p = { .line_done = true };
	struct config *c;
	int fd, r;

	/* Non-blocking: a FIFO there must be refused below, not waited on. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		say_open_error(ret_msg, path, -r);
		return r;
	}
	r = check_owner(path, fd, ret_msg);
	if (r < 0) {
		close(fd);
		return r;
	}
	p.f = fdopen(fd, "re");
	if (!p.f) {
		r = -errno;
		close(fd);
		say(ret_msg, path, 0, "cannot read the device map: %s", strerror(-r));
		return r;
	}

	c = config_defaults(path);
	p.c = c;

	ini_setup(true);
	r = ini_parse_stream(reader, &p, handler, &p);
	if (ferror(p.f) && !p.err) {
		p.err = xasprintf("cannot read the device map: %s", strerror(EIO));
		p.err_line = 0;
	}
	if (r > 0 && !p.err)
		config_fail(&p, r, SYNTAX_ERROR);
	if (!p.err)
		finish(&p);
	fclose(p.f);
	free(p.section);
	free(p.header);
	if (p.err) {
		say(ret_msg, path, p.err_line, "%s", p.err);
		free(p.err);
		config_free(c);
		return -EINVAL;
	}
	*ret = c;
	return 0;
}

int config_load(const char *path, struct config **ret)
{
	return config_load_msg(path, ret, NULL);
}

/* The second, tolerant pass over a map config_load refused: only "is [vm NAME] in it?". */
struct name_search {
	FILE *f;
	const char *vm;
	bool line_done;
	bool found;
};

/* "vm  NAME" as a header or inih section names it, spaced as it may be. */
static bool section_is_vm(const char *section, const char *vm)
{
	_cleanup_free_ char *copy = xstrdup(section);
	char *kind = strip(copy), *name = kind + strcspn(kind, " \t");

	if (*name)
		*name++ = '\0';
	return streq(kind, "vm") && streq(strip(name), vm);
}

static char *names_reader(char *buf, int size, void *stream)
{
	struct name_search *n = stream;
	_cleanup_free_ char *header = NULL;
	bool starts_line = n->line_done, closed = false;
	const char *tail;
	char *r = fgets(buf, size, n->f);

	if (!r)
		return NULL;
	n->line_done = strchr(buf, '\n') != NULL;
	/* inih names only sections that have a valid key; a header whose every line is broken counts too. */
	header = starts_line ? header_of(startswith(buf, "\xEF\xBB\xBF") ? buf + 3 : buf, &closed, &tail) : NULL; /* a BOM, as inih skips it */
	if (header && section_is_vm(header, n->vm))
		n->found = true;
	return r;
}

static int names_handler(void *user, const char *section, const char *key, const char *value)
{
	struct name_search *n = user;

	(void)key;
	(void)value;
	if (section_is_vm(section, n->vm))
		n->found = true;
	return 1;
}

int config_names_vm(const char *path, const char *vm)
{
	struct name_search n = { .vm = vm, .line_done = true };
	struct stat st;
	int fd, r;

	/* Read whoever owns it: this only decides whether a VM may start without the map. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	n.f = fdopen(fd, "re");
	if (!n.f) {
		r = -errno;
		close(fd);
		return r;
	}
	/* inih goes on after a broken line, so sections after it are seen too. */
	ini_setup(false);
	ini_parse_stream(names_reader, &n, names_handler, &n);
	r = ferror(n.f) ? -EIO : n.found;
	fclose(n.f);
	return r;
}

void config_free(struct config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n_pci_sets; i++) {
		for (size_t e = 0; e < c->pci_sets[i].n_entries; e++)
			free(c->pci_sets[i].entries[e].desc);
		free(c->pci_sets[i].entries);
		free(c->pci_sets[i].name);
	}
	for (size_t i = 0; i < c->n_usb_sets; i++) {
		for (size_t e = 0; e < c->usb_sets[i].n_entries; e++)
			free(c->usb_sets[i].entries[e].desc);
		free(c->usb_sets[i].entries);
		free(c->usb_sets[i].name);
	}
	for (size_t i = 0; i < c->n_vms; i++) {
		struct vm *v = &c->vms[i];

		for (size_t t = 0; t < v->n_pci_tokens; t++)
			free(v->pci_tokens[t].text);
		for (size_t t = 0; t < v->n_usb_tokens; t++)
			free(v->usb_tokens[t].text);
		free(v->pci_tokens);
		free(v->usb_tokens);
		free(v->bare_pci);
		free(v->bare_usb);
		free(v->pci);
		free(v->usb);
		free(v->name);
		free(v->display.manager);
	}
	for (size_t i = 0; i < c->host.n_users; i++)
		free(c->host.users[i]);
	free(c->host.users);
	free(c->host.pages);
	free(c->pci_sets);
	free(c->usb_sets);
	free(c->vms);
	free(c->opt.uri);
	free(c->opt.display.manager);
	free(c->path);
	free(c);
}

const struct vm *config_find_vm(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_vms; i++)
		if (streq(c->vms[i].name, name))
			return &c->vms[i];
	return NULL;
}

const struct pci_set *config_find_pci_set(const struct config *c, const char *name)
{
	for (size_t i = 0; i < c->n_pci_sets; i++)
		if (streq(c->pci_sets[i].name, name))
			return &c->pci_sets[i];
	return NULL;
}

enum evict_policy vm_evict(const struct config *c, const struct vm *v)
{
	return v->evict_line ? v->evict : c->opt.evict;
}

bool vm_giveback(const struct config *c, const struct vm *v)
{
	return v->giveback_line ? v->giveback : c->opt.giveback;
}

struct display_cfg vm_display(const struct config *c, const struct vm *v)
{
	const struct display_cfg *o = &c->opt.display, *m = &v->display;
	struct display_cfg d = *o;

	if (m->handoff_line)
		d.handoff = m->handoff;
	if (m->manager_line)
		d.manager = m->manager;
	if (m->kill_line)
		d.kill = m->kill;
	if (m->timeout_line)
		d.timeout = m->timeout;
	if (!d.timeout)
		d.timeout = c->opt.timeout;
	return d;
}

struct claims_cfg vm_claims(const struct config *c, const struct vm *v)
{
	struct claims_cfg k = c->opt.claims;
	const struct claims_cfg *m = &v->claims;

	k.cpus_from = m->cpus_from;
	k.cpus = m->cpus;
	k.cpus_line = m->cpus_line;
	if (m->governor_line) {
		k.governor = m->governor;
		k.governor_line = m->governor_line;
	}
	if (m->sleep_line) {
		k.block_sleep = m->block_sleep;
		k.sleep_line = m->sleep_line;
	}
	return k;
}

const char *evict_policy_name(enum evict_policy p)
{
	static const char *const names[] = { "detach", "shutdown", "refuse" };

	return names[p];
}

const char *iommu_mode_name(enum iommu_mode m)
{
	static const char *const names[] = { "auto", "intel", "amd", "off" };

	return names[m];
}

const char *config_path(const char *from_cli)
{
	const char *env = getenv("VFIO_HOOK_CONFIG");

	if (from_cli)
		return from_cli;
	if (env && *env)
		return env;
	return CONFIG_DEFAULT_PATH;
}
