/* SPDX-License-Identifier: MIT */
/*
 * make bench's stopwatch: runs each command N times, the commands taking turns so that they
 * share whatever else the machine is doing, and prints one line per command:
 * "MEDIAN_US MAX_RSS_KB STATUS" (median wall time of a run, largest peak resident set of a
 * run, last run's exit status). stdout and stderr go to /dev/null, stdin is FILE or /dev/null.
 *   runs N [-i FILE] -- COMMAND [ARG...] [-- COMMAND [ARG...]]...
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CMDS 8

static long now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

static int cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return x < y ? -1 : x > y;
}

static int usage(void)
{
	fprintf(stderr, "usage: runs N [-i FILE] -- COMMAND [ARG...] [-- COMMAND [ARG...]]...\n");
	return 2;
}

/* One run of ARGV: its wall time in microseconds; *rss and *status updated. -1 on failure. */
static long run_once(char **argv, const char *in, long *rss, int *status)
{
	struct rusage ru;
	long t0 = now_us();
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(in, O_RDONLY), null = open("/dev/null", O_WRONLY);

		if (fd < 0 || null < 0 || dup2(fd, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (wait4(pid, status, 0, &ru) < 0)
		return -1;
	if (ru.ru_maxrss > *rss)
		*rss = ru.ru_maxrss;
	return now_us() - t0;
}

int main(int argc, char **argv)
{
	const char *in = "/dev/null";
	char **cmds[MAX_CMDS];
	long *t[MAX_CMDS], rss[MAX_CMDS] = { 0 };
	int status[MAX_CMDS] = { 0 };
	int n, i = 2, n_cmds = 0;

	if (argc < 4 || (n = atoi(argv[1])) < 1)
		return usage();
	if (strcmp(argv[i], "-i") == 0) {
		in = argv[i + 1];
		i += 2;
	}
	/* Split at each "--": the commands. */
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") != 0)
			continue;
		argv[i] = NULL;
		if (i + 1 >= argc || strcmp(argv[i + 1], "--") == 0 || n_cmds == MAX_CMDS)
			return usage();
		cmds[n_cmds++] = argv + i + 1;
	}
	if (n_cmds == 0)
		return usage();
	for (int c = 0; c < n_cmds; c++)
		if (!(t[c] = calloc((size_t)n, sizeof(long))))
			return 1;
	for (int k = 0; k < n; k++)
		for (int c = 0; c < n_cmds; c++)
			if ((t[c][k] = run_once(cmds[c], in, &rss[c], &status[c])) < 0) {
				perror("runs");
				return 1;
			}
	for (int c = 0; c < n_cmds; c++) {
		qsort(t[c], (size_t)n, sizeof(long), cmp_long);
		printf("%ld %ld %d\n", n % 2 ? t[c][n / 2] : (t[c][n / 2 - 1] + t[c][n / 2]) / 2, rss[c],
		       WIFEXITED(status[c]) ? WEXITSTATUS(status[c]) : 128 + WTERMSIG(status[c]));
		free(t[c]);
	}
	return 0;
}
