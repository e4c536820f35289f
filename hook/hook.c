/* SPDX-License-Identifier: MIT */
/*
 * libvirt's QEMU hook. libvirt writes the domain XML to stdin for every call and waits for EOF
 * on our stdout/stderr with no timeout; stdout is taken as XML for migrate/restore.
 */
#include "hook.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <unistd.h>

static const char *const hook_ops[] = {
	"prepare", "start", "started", "stopped", "release", "migrate", "restore", "reconnect", "attach",
};

bool hook_argv(int argc, char **argv)
{
	if (argc != 5)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(hook_ops); i++)
		if (streq(argv[2], hook_ops[i]))
			return true;
	return false;
}

/* libvirt writes the whole domain XML; leaving it unread can fail its write. */
static void drain_stdin(void)
{
	char buf[4096];
	ssize_t n;

	do
		n = read(STDIN_FILENO, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
}

int hook_main(int argc, char **argv)
{
	(void)argc;
	log_open_syslog();
	log_info("libvirt hook call: %s %s %s %s", argv[1], argv[2], argv[3], argv[4]);
	drain_stdin();
	return 0;
}
