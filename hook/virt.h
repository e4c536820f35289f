/* SPDX-License-Identifier: MIT */
#ifndef VH_VIRT_H
#define VH_VIRT_H

#include <libvirt/libvirt.h> /* VIR_DOMAIN_AFFECT_*, VIR_DOMAIN_XML_* for virt_req.flags */
#include <stdbool.h>
#include <stddef.h>

/*
 * Every libvirt call goes through here: in a child process with a hard deadline (child.h).
 * From the hook this is the only safe way: at daemon start libvirt runs the hooks of autostarted
 * VMs before it answers connections, and a call about a busy domain can wait on its job.
 */
enum virt_op {
	VIRT_DETACH_ALIAS, /* arg: device alias; asynchronous, LIVE */
	VIRT_DETACH,       /* arg: device XML; flags: VIR_DOMAIN_AFFECT_* */
	VIRT_ATTACH,       /* arg: device XML; flags: VIR_DOMAIN_AFFECT_* */
	VIRT_SHUTDOWN,     /* the guest is asked (ACPI power button, or its agent) */
	VIRT_XML,          /* out: the domain XML; flags: VIR_DOMAIN_XML_* */
	VIRT_LIST_DEFINED, /* out: every defined domain's name, one per line; dom unused */
	VIRT_ACTIVE,       /* out: "1" when the domain is running (or starting), else "0" */
};

struct virt_req {
	const char *uri;
	const char *dom;
	enum virt_op op;
	const char *arg;
	unsigned flags;
};

/*
 * 0 with *ret_out set to the answer (VIRT_XML, VIRT_LIST_DEFINED; else ""), or -errno with
 * *ret_out set to libvirt's message: -ENOENT no such domain, -ECONNREFUSED cannot connect,
 * -ETIMEDOUT no answer within timeout_ms ("" message), -EIO anything else. Caller frees *ret_out.
 */
int virt_call(const struct virt_req *q, long timeout_ms, char **ret_out);

/* "no answer from libvirt (URI) within N s" or libvirt's message, for the one-line errors. */
const char *virt_why(int r, const char *msg, const char *uri, long timeout_ms, char *buf, unsigned n);

/* 0 when libvirt knows the domain VM; else logs "unknown VM" (or why it cannot tell), -errno. */
int virt_known(const char *uri, unsigned timeout_s, const char *vm);

/*
 * Whether the command line may ask libvirt at URI what only advises (which VMs are defined):
 * under VFIO_HOOK_TEST only the suite's own libvirts are asked (test:, standin:, a socket=
 * of its own), so that its results never depend on a daemon of the machine running it.
 */
bool virt_may_ask(const char *uri);
/*
 * Every domain libvirt at URI defines, running or not, in *RET (virt_names_free()): 0, or
 * -errno with *RET_WHY saying why not (the caller frees it; -EPERM: not asked, see above).
 */
int virt_list_defined(const char *uri, unsigned timeout_s, char ***ret, size_t *ret_n, char **ret_why);
void virt_names_free(char **names, size_t n);
/*
 * NULL when VM is one of NAMES; else the line saying libvirt has none of that name, and the
 * closest (in *RET_NEAR too, NULL when none is close).
 */
char *virt_unknown_vm(const char *uri, const char *vm, char *const *names, size_t n, const char **ret_near);

#endif
