/* SPDX-License-Identifier: MIT */
/*
 * libvirt's QEMU hook. libvirt writes the domain XML to stdin for every call and waits for EOF
 * on our stdout/stderr with no timeout; stdout is taken as XML for migrate/restore, so nothing
 * is ever written there. A failing prepare aborts the start, and our one stderr line is what
 * `virsh start` shows.
 */
#include "hook.h"

#include "actions.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static const char *const hook_ops[] = {
	"prepare", "start", "started", "stopped", "release", "migrate", "restore", "reconnect", "attach",
};

/* libvirt's SUBOP: "begin", "end", or "-" when there is none. */
static const char *const hook_subops[] = { "begin", "end", "-" };

/*
 * libvirt's EXTRA: "-" (what it passes for every QEMU call), or a domain's shut-off reason as
 * libvirt words it (virDomainShutoffReason, "from snapshot" with its space), which a release may
 * be given. Only a call by another name is held to this list: libvirt may add reasons.
 */
static const char *const hook_extras[] = {
	"-", "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot", "daemon",
};

static bool among(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(s, set[i]))
			return true;
	return false;
}

/* Called by the name libvirt runs hooks by: /etc/libvirt/hooks/qemu, or a file in hooks/qemu.d/. */
static bool libvirt_name(const char *argv0)
{
	const char *base = strrchr(argv0, '/'), *dir;

	if (!base)
		return streq(argv0, "qemu");
	for (dir = base; dir > argv0 && dir[-1] != '/'; dir--)
		;
	return streq(base + 1, "qemu") || (base - dir == 6 && strncmp(dir, "qemu.d", 6) == 0);
}

bool hook_argv(int argc, char **argv)
{
	/*
	 * Called by the hook's name, four words are libvirt's, whatever they are: a domain may be
	 * named "-x", and an operation or a shut-off reason libvirt adds later must still reach the
	 * hook (exit 0 for what it does not handle), never the command line's "unexpected argument"
	 * (a release that gives nothing back, a start that fails). By another name, exactly
	 * libvirt's four words, each from its own set but the VM's name: "--check start --xml FILE",
	 * "swap start end -cFILE" and "swap start - -cFILE" (a VM named like an operation, a device
	 * like a SUBOP) are the command line.
	 */
	if (argc == 5 && libvirt_name(argv[0]))
		return true;
	return argc == 5 && argv[1][0] != '-' && among(argv[2], hook_ops, ARRAY_SIZE(hook_ops)) &&
	       among(argv[3], hook_subops, ARRAY_SIZE(hook_subops)) && among(argv[4], hook_extras, ARRAY_SIZE(hook_extras));
}

/* The whole domain XML: libvirt's write fails if we leave it unread. */
static char *read_stdin(size_t *ret_len)
{
	size_t len = 0, cap = 8192;
	char *buf = xmalloc(cap + 1);

	for (;;) {
		ssize_t n;

		if (cap - len < 4096) {
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(STDIN_FILENO, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_len = len;
	return buf;
}

int hook_main(int argc, char **argv)
{
	const char *vm = argv[1], *op = argv[2], *sub = argv[3];
	_cleanup_free_ char *xml = NULL;
	size_t len;

	(void)argc;
	log_open_syslog();
	xml = read_stdin(&len);
	log_info("libvirt hook call: %s %s %s %s", vm, op, sub, argv[4]);
	if (streq(op, "prepare") && streq(sub, "begin"))
		return action_prepare(NULL, vm, xml, len) < 0 ? 1 : 0;
	/* Started, or found running by a restarted daemon: either way its start did not fail. */
	if ((streq(op, "started") || streq(op, "reconnect")) && streq(sub, "begin"))
		action_started(vm, streq(op, "reconnect"));
	if (streq(op, "release"))
		action_release(NULL, vm, argv[4]);
	/* Everything else, and any failure at release (libvirt ignores it), exits 0. */
	return 0;
}
