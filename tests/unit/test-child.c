/* SPDX-License-Identifier: MIT */
/* The abandonable child: deadlines, streaming, and what a timeout leaves behind (nothing). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "child.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

struct lines {
	char got[16][32];
	size_t n;
};

static void collect(void *ctx, char *line)
{
	struct lines *l = ctx;

	if (l->n < 16)
		snprintf(l->got[l->n++], sizeof(l->got[0]), "%s", line);
}

/* Two items answer, the third blocks for good (as a read of a device a stuck unbind holds). */
static int two_then_stuck(const void *arg, FILE *out)
{
	(void)arg;
	fputs("one\n", out);
	fputs("two\n", out);
	sleep(30);
	return 0;
}

static void test_stream_gives_up_on_silence(void **state)
{
	struct lines l = { 0 };
	long t0 = now_ms(), ms;

	(void)state;
	assert_int_equal(child_stream(two_then_stuck, NULL, 300, collect, &l), -ETIMEDOUT);
	ms = now_ms() - t0;
	assert_int_equal(l.n, 2);
	assert_string_equal(l.got[0], "one");
	assert_string_equal(l.got[1], "two");
	assert_true(ms >= 300 && ms < 2000);
}

/* Slow but alive: each line comes within the deadline, all of them together do not. */
static int slow_lines(const void *arg, FILE *out)
{
	(void)arg;
	for (int i = 0; i < 6; i++) {
		usleep(150 * 1000);
		fprintf(out, "item %d\n", i);
	}
	return -ENOENT;
}

static void test_stream_deadline_is_per_line(void **state)
{
	struct lines l = { 0 };

	(void)state;
	assert_int_equal(child_stream(slow_lines, NULL, 400, collect, &l), -ENOENT);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.got[5], "item 5");
}

/* The child starts a helper (as do_exec starts modprobe), then both block. */
static int starts_a_helper(const void *arg, FILE *out)
{
	const char *pidfile = arg;
	pid_t pid = fork();
	FILE *f;

	(void)out;
	if (pid == 0) {
		sleep(30);
		_exit(0);
	}
	f = fopen(pidfile, "w");
	if (!f)
		return -EIO;
	fprintf(f, "%ld\n", (long)pid);
	fclose(f);
	sleep(30);
	return 0;
}

static void test_timeout_kills_the_group_and_reaps(void **state)
{
	char pidfile[] = "/tmp/vfio-hook-test-child.XXXXXX";
	long helper = 0;
	int fd = mkstemp(pidfile), status = 0;
	pid_t r = 0;
	FILE *f;

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	/* Orphans come to us, so we can see how the helper ended. */
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
	assert_int_equal(child_run(starts_a_helper, pidfile, 300, NULL), -ETIMEDOUT);
	f = fopen(pidfile, "r");
	assert_non_null(f);
	assert_int_equal(fscanf(f, "%ld", &helper), 1);
	fclose(f);
	unlink(pidfile);
	for (int i = 0; i < 200 && r == 0; i++) {
		r = waitpid((pid_t)helper, &status, WNOHANG);
		if (r == 0)
			usleep(10 * 1000);
	}
	if (r == 0)
		kill((pid_t)helper, SIGKILL);
	assert_int_equal(r, (pid_t)helper);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The killed child itself was reaped: no zombie is left. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static int writes_result(const void *arg, FILE *out)
{
	(void)arg;
	fputs("<xml/>", out);
	return -EACCES;
}

static void test_run_returns_output_and_result(void **state)
{
	char *out = NULL;

	(void)state;
	assert_int_equal(child_run(writes_result, NULL, 5000, &out), -EACCES);
	assert_non_null(out);
	assert_string_equal(out, "<xml/>");
	free(out);
}

/*
 * The kept child: requests are lines; "hang" blocks for good (a write stuck in the kernel),
 * "die" ends the server without an answer, anything else is answered "PID LINE".
 */
static int echo_server(int in, FILE *out)
{
	char line[64];
	FILE *f = fdopen(in, "r");

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (strcmp(line, "hang") == 0)
			sleep(30);
		if (strcmp(line, "die") == 0)
			_exit(3);
		fprintf(out, "%ld %s\n", (long)getpid(), line);
	}
	return 0;
}

static long call(struct child_srv *s, const char *req, long timeout_ms, int *r)
{
	char reply[64] = "", word[32] = "";
	long pid = 0;

	*r = child_srv_call(s, req, strlen(req), timeout_ms, reply, sizeof(reply));
	if (*r == 0 && (sscanf(reply, "%ld %31s", &pid, word) != 2 || strncmp(req, word, strlen(word)) != 0))
		return -1;
	return pid;
}

/* A run's many writes are served by one child: a start forks once. */
static void test_server_keeps_one_child(void **state)
{
	struct child_srv s = { .serve = echo_server };
	long first;
	int r;

	(void)state;
	first = call(&s, "a\n", 2000, &r);
	assert_int_equal(r, 0);
	assert_true(first > 1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(call(&s, "b\n", 2000, &r), first);
		assert_int_equal(r, 0);
	}
	child_srv_stop(&s);
	/* Its input closed, it ends by itself. */
	assert_int_equal(waitpid((pid_t)first, NULL, 0), (pid_t)first);
}

/* A request that blocks for good costs its deadline, and the next one gets a fresh child. */
static void test_server_stuck_then_fresh(void **state)
{
	struct child_srv s = { .serve = echo_server };
	long t0, ms, first, second;
	int r;

	(void)state;
	first = call(&s, "a\n", 2000, &r);
	t0 = now_ms();
	call(&s, "hang\n", 300, &r);
	ms = now_ms() - t0;
	assert_int_equal(r, -ETIMEDOUT);
	assert_true(ms >= 300 && ms < 2000);
	second = call(&s, "c\n", 2000, &r);
	assert_int_equal(r, 0);
	assert_true(second > 1 && second != first);
	child_srv_stop(&s);
	waitpid((pid_t)second, NULL, 0);
	/* The stuck one was killed and reaped. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

/*
 * A server killed between two requests (by a user, the OOM killer) never saw the next one: it
 * is sent to a fresh child, and the dead one's pipe does not kill us with SIGPIPE.
 */
static void test_server_dead_between_requests(void **state)
{
	struct child_srv s = { .serve = echo_server };
	long first, second;
	int r;

	(void)state;
	first = call(&s, "a\n", 2000, &r);
	assert_true(first > 1);
	kill((pid_t)first, SIGKILL);
	assert_int_equal(waitpid((pid_t)first, NULL, 0), (pid_t)first);
	second = call(&s, "b\n", 2000, &r);
	assert_int_equal(r, 0);
	assert_true(second > 1 && second != first);
	child_srv_stop(&s);
	waitpid((pid_t)second, NULL, 0);
}

/* One that dies with the request in hand may or may not have done it: that is an error. */
static void test_server_dies_on_a_request(void **state)
{
	struct child_srv s = { .serve = echo_server };
	long pid;
	int r;

	(void)state;
	call(&s, "die\n", 2000, &r);
	assert_int_equal(r, -EIO);
	pid = call(&s, "d\n", 2000, &r);
	assert_int_equal(r, 0);
	child_srv_stop(&s);
	waitpid((pid_t)pid, NULL, 0);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_gives_up_on_silence),
		cmocka_unit_test(test_stream_deadline_is_per_line),
		cmocka_unit_test(test_timeout_kills_the_group_and_reaps),
		cmocka_unit_test(test_run_returns_output_and_result),
		cmocka_unit_test(test_server_keeps_one_child),
		cmocka_unit_test(test_server_stuck_then_fresh),
		cmocka_unit_test(test_server_dead_between_requests),
		cmocka_unit_test(test_server_dies_on_a_request),
	};

	return cmocka_run_group_tests_name("child", tests, NULL, NULL);
}
