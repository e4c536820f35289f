/* SPDX-License-Identifier: MIT */
/*
 * A unix socket that accepts connections and never answers: a libvirt daemon that is busy (as
 * while it autostarts VMs). Usage: mute-socket PATH; prints "ready" once it listens.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (argc != 2 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: mute-socket PATH\n");
		return 2;
	}
	strcpy(sa.sun_path, argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	unlink(argv[1]);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		perror(argv[1]);
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	/* Accepted connections stay open and unread. */
	for (;;)
		if (accept(fd, NULL, NULL) < 0)
			return 1;
}
