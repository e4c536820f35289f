/* An LD_PRELOAD for the test guest: a probe that fails. The first FAILPROBE_TIMES (default 1)
 * writes of FAILPROBE_ADDR to /sys/bus/pci/drivers_probe fail with EIO without reaching the
 * kernel, as a host driver's probe that fails once (firmware not ready, a transient error)
 * does; every other write goes through. The count is kept in the file FAILPROBE_COUNT, under
 * flock, so that it holds across the processes that inherit the preload (the hook's writer
 * child, the hooks libvirt runs one after the other). Nothing is done without both variables.
 * Built on the host by run.sh, used only inside the guest. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);

static int is_probe(int fd)
{
	char link[64], target[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return 0;
	target[n] = '\0';
	return strcmp(target, "/sys/bus/pci/drivers_probe") == 0;
}

/* One more failure is due: counted in the file (1) or not (0). */
static int take_one(const char *path, long times)
{
	char buf[32] = "";
	long done;
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644), due = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_EX) == 0) {
		n = pread(fd, buf, sizeof(buf) - 1, 0);
		done = n > 0 ? strtol(buf, NULL, 10) : 0;
		if (done < times) {
			int len = snprintf(buf, sizeof(buf), "%ld\n", done + 1);

			due = ftruncate(fd, 0) == 0 && pwrite(fd, buf, (size_t)len, 0) == len;
		}
	}
	close(fd);
	return due;
}

ssize_t write(int fd, const void *data, size_t n)
{
	const char *addr = getenv("FAILPROBE_ADDR"), *count = getenv("FAILPROBE_COUNT");
	const char *times = getenv("FAILPROBE_TIMES");
	size_t len = addr ? strlen(addr) : 0;

	if (!real_write)
		real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
	if (addr && count && len && n >= len && memcmp(data, addr, len) == 0 &&
	    (n == len || ((const char *)data)[len] == '\n') && is_probe(fd) &&
	    take_one(count, times ? strtol(times, NULL, 10) : 1)) {
		errno = EIO;
		return -1;
	}
	return real_write(fd, data, n);
}
