/* SPDX-License-Identifier: MIT */
/*
 * Helpers for tests that run the real binaries: start brood-mock on a free
 * loopback port, run brood, read its JSON. Every child is bounded in time.
 */
#ifndef BROOD_TESTS_E2E_UTIL_H
#define BROOD_TESTS_E2E_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

struct mock {
	pid_t pid;
	int port;
};

/* Starts brood-mock with --port 0 and the extra arguments (NULL-terminated);
 * waits for its "listening on" line. Returns 0 or -1. */
int mock_start(struct mock *m, const char *bin, const char *const *args);
/* SIGTERM, then waits; returns the exit status (or -1). */
int mock_stop(struct mock *m);

/* SIGKILLs and reaps every mock still running: a cmocka teardown, so that a
 * failed assertion (which skips the test's own mock_stop) leaves nothing. */
int mocks_reap(void **state);

/* Runs argv (NULL-terminated) with stdout and stderr to files, killing it
 * after timeout_s. Returns the exit status, 128+signal, or -1. */
int run_cmd(const char *const *argv, const char *out_path, const char *err_path, int timeout_s);

/* Like run_cmd, but sends SIGINT after sigint_after_ms. */
int run_cmd_sigint(const char *const *argv, const char *out_path, const char *err_path,
		   int sigint_after_ms, int timeout_s);

/* Whole file, NUL-terminated, malloc'd; NULL if unreadable. */
char *slurp(const char *path);

/*
 * Finds the keys of path in order ("summary", "ttft_ms", "p50") in a JSON
 * document brood wrote, each after the previous, and returns the number
 * after the last one. Fails the test when a key is missing.
 */
double json_num(const char *doc, const char *const *path);

/* A fresh temporary directory for one test's files. */
void tmpdir_make(char *buf, size_t len);

/* Milliseconds on CLOCK_MONOTONIC. */
long now_ms(void);

/* Starts argv (NULL-terminated) with stdout and stderr to files; returns the
 * pid (or -1) for wait_exit(). */
pid_t spawn(const char *const *argv, const char *out_path, const char *err_path);
/* Exit status of pid (or 128+signal) within timeout_s, or -1 (then killed). */
int wait_exit(pid_t pid, int timeout_s);

/* char var[512] = dir/name. */
#define PATH(var, dir, name)                                                                       \
	char var[512];                                                                             \
	snprintf(var, sizeof(var), "%s/%s", dir, name)

/* One test's files, in a fresh directory, and its mock on a free port. */
struct fixture {
	char dir[64];
	char json[512];
	char trace[512];
	char out[512];
	char err[512];
	char url[64];
	struct mock m;
};

/* Makes f's directory and names (out.json, trace.jsonl, stdout, stderr),
 * starts mock_bin with mock_args and sets f->url; fails the test if the
 * mock does not start. */
void fixture_start(struct fixture *f, const char *mock_bin, const char *const *mock_args);

/* json_num() of summary.a.b (b may be NULL). */
double summary_num(const char *doc, const char *a, const char *b);

#endif
