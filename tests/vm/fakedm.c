/* The test guest's display manager: holds /dev/dri/card0 open until it is stopped, as a
 * compositor does. --ignore-term: survives SIGTERM, as a hung one does (only SIGKILL ends it).
 * It waits for the card to appear (udev loads bochs-drm while systemd starts units). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *card = "/dev/dri/card0";
	int fd = -1;

	if (argc > 1 && strcmp(argv[1], "--ignore-term") == 0)
		signal(SIGTERM, SIG_IGN);
	for (int i = 0; i < 600 && fd < 0; i++) {
		fd = open(card, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			usleep(100 * 1000);
	}
	if (fd < 0) {
		fprintf(stderr, "fakedm: cannot open %s: %s\n", card, strerror(errno));
		return 1;
	}
	fprintf(stderr, "fakedm: holding %s\n", card);
	for (;;)
		pause();
}
