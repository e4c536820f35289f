/* SPDX-License-Identifier: MIT */
/* The map against this machine: which functions each entry matches, and `vfio-hook config`. */
#include "resolve.h"

#include "log.h"
#include "util.h"
#include "virt.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool pci_sel_matches(const struct pci_sel *s, const struct pci_func *f)
{
	if (s->is_addr)
		return pci_addr_eq(&s->addr, &f->addr);
	return s->vendor == f->vendor && s->device == f->device;
}

const struct vm_pci *vm_gets(const struct vm *v, const struct pci_func *f)
{
	for (size_t i = 0; i < v->n_pci; i++)
		if (pci_sel_matches(&v->pci[i].entry->sel, f))
			return &v->pci[i];
	return NULL;
}

/* Where the findings go: logged as FILE:LINE warnings, or kept (their lines aside) for a caller. */
struct findings {
	bool keep;
	char **msgs;
	int *lines;
	size_t n, n_lines;
};

static void finding(struct findings *fs, const struct config *c, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void finding(struct findings *fs, const struct config *c, int line, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	va_end(ap);
	if (!fs->keep) {
		log_at(LOG_WARNING, c->path, line, "%s", msg);
		fs->n++;
		return;
	}
	*(int *)array_push(&fs->lines, &fs->n_lines, sizeof(int)) = line;
	*(char **)array_push(&fs->msgs, &fs->n, sizeof(char *)) = xstrdup(msg);
}

static size_t report_entry(const struct config *c, const struct machine *m, const struct pci_entry *e, struct findings *fs)
{
	char id[PCI_ADDR_LEN], list[512] = "", first[PCI_ADDR_LEN] = "";
	size_t n = 0, len = 0;

	pci_sel_format(&e->sel, id, sizeof(id));
	for (size_t i = 0; i < m->n_funcs; i++) {
		char a[PCI_ADDR_LEN];

		if (!pci_sel_matches(&e->sel, &m->funcs[i]))
			continue;
		pci_addr_format(&m->funcs[i].addr, a, sizeof(a));
		if (!n++)
			memcpy(first, a, sizeof(a));
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "", a);
	}
	if (n == 0) {
		finding(fs, c, e->line,
		       "%s%s%s%s matches no PCI function on this machine (check it with \"vfio-hook groups\", or remove it)",
		       id, e->desc ? " (" : "", e->desc ? e->desc : "", e->desc ? ")" : "");
		return 1;
	}
	if (n > 1) {
		finding(fs, c, e->line,
		       "%s matches %zu functions: %s (identical devices: to pass through only one, pin it by address, e.g. \"device = %s\")",
		       id, n, list, first);
		return 1;
	}
	return 0;
}

static size_t report_twice(const struct config *c, const struct machine *m, const struct vm *v, struct findings *fs)
{
	size_t found = 0;

	for (size_t i = 0; i < m->n_funcs; i++) {
		const struct pci_func *f = &m->funcs[i];
		const struct vm_pci *first = NULL;

		for (size_t k = 0; k < v->n_pci; k++) {
			char a[PCI_ADDR_LEN], s1[PCI_ADDR_LEN], s2[PCI_ADDR_LEN];

			if (!pci_sel_matches(&v->pci[k].entry->sel, f))
				continue;
			if (!first) {
				first = &v->pci[k];
				continue;
			}
			pci_addr_format(&f->addr, a, sizeof(a));
			pci_sel_format(&first->entry->sel, s1, sizeof(s1));
			pci_sel_format(&v->pci[k].entry->sel, s2, sizeof(s2));
			finding(fs, c, v->pci[k].entry->line,
			       "[vm %s] gets %s twice, as %s (line %d) and as %s (list each device once)", v->name, a,
			       s1, first->entry->line, s2);
			found++;
			break;
		}
	}
	return found;
}

static size_t resolve_all(const struct config *c, const struct machine *m, struct findings *fs)
{
	size_t found = 0;

	for (size_t i = 0; i < c->n_pci_sets; i++)
		for (size_t e = 0; e < c->pci_sets[i].n_entries; e++)
			found += report_entry(c, m, &c->pci_sets[i].entries[e], fs);
	for (size_t i = 0; i < c->n_vms; i++) {
		for (size_t e = 0; e < c->vms[i].n_bare_pci; e++)
			found += report_entry(c, m, &c->vms[i].bare_pci[e], fs);
		found += report_twice(c, m, &c->vms[i], fs);
	}
	return found;
}

size_t resolve_report(const struct config *c, const struct machine *m)
{
	struct findings fs = { 0 };

	return resolve_all(c, m, &fs);
}

size_t resolve_findings(const struct config *c, const struct machine *m, char ***ret_msgs, int **ret_lines)
{
	struct findings fs = { .keep = true };

	resolve_all(c, m, &fs);
	*ret_msgs = fs.msgs;
	*ret_lines = fs.lines;
	return fs.n;
}

int config_print(const struct machine *m, const struct config *c)
{
	printf("%s: uri=%s timeout=%u evict=%s giveback=%s\n", c->path, c->opt.uri, c->opt.timeout,
	       evict_policy_name(c->opt.evict), c->opt.giveback ? "yes" : "no");
	for (size_t i = 0; i < c->n_vms; i++) {
		const struct vm *v = &c->vms[i];

		printf("[vm %s]", v->name);
		if (v->evict_line || v->giveback_line)
			printf(" evict=%s giveback=%s", evict_policy_name(vm_evict(c, v)), vm_giveback(c, v) ? "yes" : "no");
		putchar('\n');
		for (size_t f = 0; f < m->n_funcs; f++) {
			const struct pci_func *fn = &m->funcs[f];
			const struct vm_pci *vp = vm_gets(v, fn);
			char line[1024];

			if (!vp)
				continue;
			pci_func_lspci(fn, line, sizeof(line));
			printf("  pci %s  group=%d driver=%s  from ", line, fn->iommu_group,
			       fn->driver ? fn->driver : "none");
			if (vp->set)
				printf("[pci %s]\n", vp->set->name);
			else
				printf("line %d\n", vp->line);
		}
		for (size_t u = 0; u < v->n_usb; u++) {
			const struct vm_usb *vu = &v->usb[u];
			char id[16];

			usb_sel_format(&vu->entry->sel, id, sizeof(id));
			printf("  usb %s%s%s  from ", id, vu->entry->desc ? "  " : "",
			       vu->entry->desc ? vu->entry->desc : "");
			if (vu->set)
				printf("[usb %s]\n", vu->set->name);
			else
				printf("line %d\n", vu->line);
		}
	}
	return (resolve_report(c, m) + resolve_report_vms(c)) ? 1 : 0;
}

size_t resolve_report_vms(const struct config *c)
{
	_cleanup_free_ char *why = NULL;
	char **names = NULL;
	size_t n = 0, found = 0;

	/* Only when libvirt answers: config checks the map, and a daemon that is down is doctor's to say. */
	if (!c->n_vms || virt_list_defined(c->opt.uri, c->opt.timeout, &names, &n, &why) < 0)
		return 0;
	for (size_t i = 0; i < c->n_vms; i++) {
		const char *near;
		_cleanup_free_ char *line = virt_unknown_vm(c->opt.uri, c->vms[i].name, names, n, &near);

		if (!line)
			continue;
		found++;
		if (near)
			log_at(LOG_WARNING, c->path, c->vms[i].line,
			       "[vm %s]: %s; the hook acts only for the VM named exactly so (rename the section [vm %s])",
			       c->vms[i].name, line, near);
		else
			log_at(LOG_WARNING, c->path, c->vms[i].line,
			       "[vm %s]: %s; the hook acts only for the VM named exactly so (define it, or fix the name)",
			       c->vms[i].name, line);
	}
	virt_names_free(names, n);
	return found;
}
