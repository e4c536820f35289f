/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "virt.h"

#include "child.h"
#include "dl.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static void quiet(void *data, virErrorPtr err)
{
	(void)data;
	(void)err;
}

static int last_error(FILE *out, int fallback)
{
	const virError *e = sym_virGetLastError();

	fprintf(out, "%s", e && e->message ? e->message : "unknown libvirt error");
	if (e && e->code == VIR_ERR_NO_DOMAIN)
		return -ENOENT;
	return fallback;
}

static int list_defined(virConnectPtr conn, FILE *out)
{
	virDomainPtr *doms = NULL;
	int n = sym_virConnectListAllDomains(conn, &doms, 0);

	if (n < 0)
		return last_error(out, -EIO);
	for (int i = 0; i < n; i++) {
		fprintf(out, "%s\n", sym_virDomainGetName(doms[i]));
		sym_virDomainFree(doms[i]);
	}
	free(doms);
	return 0;
}

static int on_domain(virDomainPtr dom, const struct virt_req *q, FILE *out)
{
	char *xml;
	int r;

	switch (q->op) {
	case VIRT_DETACH_ALIAS:
		r = sym_virDomainDetachDeviceAlias(dom, q->arg, VIR_DOMAIN_AFFECT_LIVE);
		break;
	case VIRT_DETACH:
		r = sym_virDomainDetachDeviceFlags(dom, q->arg, q->flags);
		break;
	case VIRT_ATTACH:
		r = sym_virDomainAttachDeviceFlags(dom, q->arg, q->flags);
		break;
	case VIRT_SHUTDOWN:
		r = sym_virDomainShutdown(dom);
		break;
	case VIRT_ACTIVE:
		r = sym_virDomainIsActive(dom);
		if (r < 0)
			return last_error(out, -EIO);
		fprintf(out, "%d", r);
		return 0;
	case VIRT_XML:
		xml = sym_virDomainGetXMLDesc(dom, q->flags);
		if (!xml)
			return last_error(out, -EIO);
		fputs(xml, out);
		free(xml);
		return 0;
	default:
		return -EINVAL;
	}
	return r < 0 ? last_error(out, -EIO) : 0;
}

static int do_call(const void *p, FILE *out)
{
	const struct virt_req *q = p;
	virConnectPtr conn;
	virDomainPtr dom;
	int r;

	sym_virSetErrorFunc(NULL, quiet);
	conn = sym_virConnectOpen(q->uri);
	if (!conn)
		return last_error(out, -ECONNREFUSED);
	if (q->op == VIRT_LIST_DEFINED) {
		r = list_defined(conn, out);
	} else if (!(dom = sym_virDomainLookupByName(conn, q->dom))) {
		r = last_error(out, -ENOENT);
	} else {
		r = on_domain(dom, q, out);
		sym_virDomainFree(dom);
	}
	sym_virConnectClose(conn);
	return r;
}

/*
 * The test suite's libvirt: under VFIO_HOOK_TEST the URI standin:/// is played by the stand-in
 * $VFIO_HOOK_TEST_BIN/libvirt (OP DOMAIN FLAGS, the device XML in $VIRT_ARG), which plugs,
 * unplugs and shuts down by editing the status files as libvirt would. Its exit status is the
 * errno of the answer (2 no such domain, 111 cannot connect, 5 anything else), its output the
 * answer or libvirt's message. Never anything else: the real daemon is libvirt's.
 */
static bool standin(const char *uri)
{
	return getenv("VFIO_HOOK_TEST") && uri && startswith(uri, "standin:");
}

static int standin_call(const void *p, FILE *out)
{
	static const char *const ops[] = { "detach-alias", "detach", "attach", "shutdown", "xml", "list-defined", "active" };
	const struct virt_req *q = p;
	const char *bin = getenv("VFIO_HOOK_TEST_BIN");
	_cleanup_free_ char *prog = xasprintf("%s/libvirt", bin ? bin : "/nonexistent");
	char flags[16];

	snprintf(flags, sizeof(flags), "%u", q->flags);
	if (setenv("VIRT_ARG", q->arg ? q->arg : "", 1) < 0 || fflush(out) != 0 || dup2(fileno(out), STDOUT_FILENO) < 0)
		return -EIO;
	execl(prog, prog, ops[q->op], q->dom ? q->dom : "", flags, (char *)NULL);
	return -ENOEXEC;
}

int virt_call(const struct virt_req *q, long timeout_ms, char **ret_out)
{
	char *out = NULL;
	const char *why;
	int r = standin(q->uri) ? 0 : dlopen_libvirt(&why);

	/* Loaded here, before the fork, so that each call's child does not load it again. */
	if (r < 0) {
		*ret_out = xstrdup(why);
		return -EIO;
	}
	r = child_run(standin(q->uri) ? standin_call : do_call, q, timeout_ms, &out);

	if (!out)
		out = xstrdup("");
	*ret_out = out;
	return r;
}

const char *virt_why(int r, const char *msg, const char *uri, long timeout_ms, char *buf, unsigned n)
{
	if (r == -ETIMEDOUT)
		snprintf(buf, n, "no answer from libvirt (%s) within %ld s", uri, timeout_ms / 1000);
	else if (msg && *msg)
		snprintf(buf, n, "%s", msg);
	else
		snprintf(buf, n, "libvirt call failed: %s", strerror(-r));
	/* Inside one line of error, and ending where the message does. */
	for (char *c = buf; *c; c++)
		if (*c == '\n')
			*c = ' ';
	for (size_t len = strlen(buf); len && buf[len - 1] == ' '; len--)
		buf[len - 1] = '\0';
	return buf;
}

/* What to do when libvirt cannot be reached: its daemon is not running, as often as not. */
#define START_LIBVIRT "is libvirtd running? start it: systemctl start libvirtd (or virtqemud, with the modular daemons)"

int virt_known(const char *uri, unsigned timeout_s, const char *vm)
{
	const struct virt_req q = { uri, vm, VIRT_XML, NULL, VIR_DOMAIN_XML_INACTIVE };
	_cleanup_free_ char *out = NULL;
	char why[512];
	int r = virt_call(&q, (long)timeout_s * 1000L, &out);

	if (r == -ENOENT)
		log_error("unknown VM \"%s\": libvirt (%s) has no such domain (see 'virsh list --all')", vm, uri);
	else if (r == -ECONNREFUSED)
		log_error("cannot ask libvirt (%s) about %s: %s (%s)", uri, vm,
			  virt_why(r, out, uri, (long)timeout_s * 1000L, why, sizeof(why)), START_LIBVIRT);
	else if (r < 0)
		log_error("cannot ask libvirt about %s: %s", vm, virt_why(r, out, uri, (long)timeout_s * 1000L, why, sizeof(why)));
	return r;
}

bool virt_may_ask(const char *uri)
{
	return !getenv("VFIO_HOOK_TEST") || startswith(uri, "test:") || startswith(uri, "standin:") ||
	       strstr(uri, "socket=") != NULL;
}

int virt_list_defined(const char *uri, unsigned timeout_s, char ***ret, size_t *ret_n, char **ret_why)
{
	const struct virt_req q = { uri, NULL, VIRT_LIST_DEFINED, NULL, 0 };
	_cleanup_free_ char *out = NULL;
	char *line, *save = NULL;
	int r;

	*ret = NULL;
	*ret_n = 0;
	*ret_why = NULL;
	if (!virt_may_ask(uri)) {
		*ret_why = xasprintf("not asked under VFIO_HOOK_TEST (%s is no libvirt of the test suite's)", uri);
		return -EPERM;
	}
	r = virt_call(&q, (long)timeout_s * 1000L, &out);
	if (r < 0) {
		char why[512];

		virt_why(r, out, uri, (long)timeout_s * 1000L, why, sizeof(why));
		*ret_why = r == -ECONNREFUSED ? xasprintf("%s (%s)", why, START_LIBVIRT) : xstrdup(why);
		return r;
	}
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		*(char **)array_push(ret, ret_n, sizeof(char *)) = xstrdup(line);
	return 0;
}

void virt_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

char *virt_unknown_vm(const char *uri, const char *vm, char *const *names, size_t n, const char **ret_near)
{
	const char *near = closest_name(vm, (const char *const *)names, n);

	*ret_near = NULL;
	for (size_t i = 0; i < n; i++)
		if (streq(names[i], vm))
			return NULL;
	*ret_near = near;
	if (near)
		return xasprintf("libvirt (%s) has no VM named %s: the closest it has is %s", uri, vm, near);
	return xasprintf("libvirt (%s) has no VM named %s (it has %zu: see virsh list --all)", uri, vm, n);
}
