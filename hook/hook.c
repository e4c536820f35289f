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

static bool among(const char *s, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (streq(s, set[i]))
			return true;
	return false;
}

bool hook_argv(int argc, char **argv)
{
	/*
	 * The SUBOP too, and an EXTRA that is no option: "--check start --xml FILE" and "swap start
	 * end --force" (a VM named like an operation, a device like a SUBOP) are the command line.
	 */
	return argc == 5 && among(argv[2], hook_ops, ARRAY_SIZE(hook_ops)) &&
	       among(argv[3], hook_subops, ARRAY_SIZE(hook_subops)) && !startswith(argv[4], "--");
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
