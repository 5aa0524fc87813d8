/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "e2e_util.h"

long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define MAX_LIVE_MOCKS 8

static pid_t live[MAX_LIVE_MOCKS]; /* mocks started and not yet stopped */

static void live_set(pid_t old, pid_t now)
{
	for (int i = 0; i < MAX_LIVE_MOCKS; i++) {
		if (live[i] == old) {
			live[i] = now;
			return;
		}
	}
}

int mocks_reap(void **state)
{
	(void)state;
	for (int i = 0; i < MAX_LIVE_MOCKS; i++) {
		if (live[i] > 0) {
			kill(live[i], SIGKILL);
			waitpid(live[i], NULL, 0);
			live[i] = 0;
		}
	}
	return 0;
}

int mock_start(struct mock *m, const char *bin, const char *const *args)
{
	const char *argv[64];
	int pipefd[2], n = 0;
	char line[256];
	size_t len = 0;
	long deadline = now_ms() + 10000;

	argv[n++] = bin;
	argv[n++] = "--port";
	argv[n++] = "0";
	for (int i = 0; args && args[i] && n < 62; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -1;
	m->pid = fork();
	if (m->pid < 0)
		return -1;
	if (m->pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	close(pipefd[1]);
	live_set(0, m->pid);
	m->port = 0;
	while (now_ms() < deadline && len < sizeof(line) - 1) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		r = read(pipefd[0], line + len, sizeof(line) - 1 - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		line[len] = '\0';
		char *at = strstr(line, "listening on ");
		char *colon = at ? strchr(at + 13, '\n') : NULL;
		if (colon) {
			*colon = '\0';
			m->port = atoi(strrchr(at, ':') + 1);
			break;
		}
	}
	close(pipefd[0]);
	if (m->port <= 0) {
		kill(m->pid, SIGKILL);
		waitpid(m->pid, NULL, 0);
		live_set(m->pid, 0);
		return -1;
	}
	return 0;
}

static int wait_bounded(pid_t pid, int timeout_s, int sigint_after_ms)
{
	long start = now_ms();
	bool sent_int = false;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			break;
		if (r < 0)
			return -1;
		if (sigint_after_ms >= 0 && !sent_int && now_ms() - start >= sigint_after_ms) {
			kill(pid, SIGINT);
			sent_int = true;
		}
		if (now_ms() - start > timeout_s * 1000L) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		usleep(10000);
	}
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

int mock_stop(struct mock *m)
{
	if (m->pid <= 0)
		return -1;
	kill(m->pid, SIGTERM);
	int ret = wait_bounded(m->pid, 10, -1);
	live_set(m->pid, 0);
	m->pid = 0;
	return ret;
}

pid_t spawn(const char *const *argv, const char *out_path, const char *err_path)
{
	pid_t pid = fork();

	if (pid == 0) {
		int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (out < 0 || err < 0)
			_exit(127);
		dup2(out, STDOUT_FILENO);
		dup2(err, STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

int wait_exit(pid_t pid, int timeout_s)
{
	return wait_bounded(pid, timeout_s, -1);
}

int run_cmd(const char *const *argv, const char *out_path, const char *err_path, int timeout_s)
{
	pid_t pid = spawn(argv, out_path, err_path);

	return pid < 0 ? -1 : wait_bounded(pid, timeout_s, -1);
}

int run_cmd_sigint(const char *const *argv, const char *out_path, const char *err_path,
		   int sigint_after_ms, int timeout_s)
{
	pid_t pid = spawn(argv, out_path, err_path);

	return pid < 0 ? -1 : wait_bounded(pid, timeout_s, sigint_after_ms);
}

char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long len;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)len + 1);
	if (buf && fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	if (buf)
		buf[len] = '\0';
	fclose(f);
	return buf;
}

double json_num(const char *doc, const char *const *path)
{
	const char *p = doc;
	char key[128];

	for (int i = 0; path[i]; i++) {
		snprintf(key, sizeof(key), "\"%s\"", path[i]);
		p = strstr(p, key);
		if (!p)
			fail_msg("key %s missing in JSON", path[i]);
		p += strlen(key);
	}
	while (*p == ' ' || *p == ':')
		p++;
	char *end;
	double v = strtod(p, &end);
	if (end == p)
		fail_msg("no number after key %s", path[0]);
	return v;
}

void tmpdir_make(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/brood-test-XXXXXX");
	assert_non_null(mkdtemp(buf));
}

void fixture_start(struct fixture *f, const char *mock_bin, const char *const *mock_args)
{
	tmpdir_make(f->dir, sizeof(f->dir));
	snprintf(f->json, sizeof(f->json), "%s/out.json", f->dir);
	snprintf(f->trace, sizeof(f->trace), "%s/trace.jsonl", f->dir);
	snprintf(f->out, sizeof(f->out), "%s/stdout", f->dir);
	snprintf(f->err, sizeof(f->err), "%s/stderr", f->dir);
	assert_int_equal(mock_start(&f->m, mock_bin, mock_args), 0);
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->m.port);
}

double summary_num(const char *doc, const char *a, const char *b)
{
	const char *path[] = { "summary", a, b, NULL };

	return json_num(doc, path);
}
