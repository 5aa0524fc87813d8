/* SPDX-License-Identifier: MIT */
/*
 * What the commands in main.c and sweep_cmd.c share: checking the targets,
 * building the request bytes and the engine's configuration.
 */
#ifndef BROOD_TOOLS_CMD_H
#define BROOD_TOOLS_CMD_H

#include <stddef.h>

#include "engine.h"
#include "opts.h"

/* SIGINT/SIGTERM stop the engine (results kept); SIGPIPE ignored. */
void install_signals(void);
/* Resolves and connects to every target; asks /v1/models for -m. Returns
 * 0 or -errno with one line in err. */
int preflight(struct brood_opts *o, struct engine_config *cfg, char *err, size_t err_len);
/* The request bytes per target, into reqs[] (caller frees each). Returns 0 or -errno. */
int build_requests(const struct brood_opts *o, struct engine_config *cfg, char **reqs);
/* Everything of cfg but the targets, from o. */
void fill_config(const struct brood_opts *o, struct engine_config *cfg);

#define EXIT_USAGE 2
#define EXIT_SETUP 1

struct tok;

/* What a command does before any load: the tokenizer first (a bad one is a
 * usage error, before anything touches a server; *tok and *tk set when given),
 * then preflight() and build_requests(). Returns 0, or prints one line and
 * returns the exit code (EXIT_USAGE or EXIT_SETUP); the caller frees what was
 * made either way. */
int cmd_prepare(struct brood_opts *o, struct engine_config *cfg, struct tok **tok,
		struct engine_tokenizer *tk, char **reqs);

#endif
