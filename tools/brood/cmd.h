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

#endif
