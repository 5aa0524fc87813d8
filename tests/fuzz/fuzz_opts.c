/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the `brood run` command line. The input is split at NUL
 * bytes into argv; parsing must either succeed or give one line of error,
 * and never crash. File-reading flags see a fixed, harmless path set.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "opts.h"

#define MAX_ARGS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[MAX_ARGS + 2];
	char *copy;
	int argc = 0;
	struct brood_opts o;
	char err[1024];
	int ret;

	if (size > 4096)
		return 0;
	copy = malloc(size + 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	copy[size] = '\0';
	argv[argc++] = "run";
	for (size_t i = 0; i <= size && argc < MAX_ARGS;) {
		char *s = copy + i;
		size_t n = strlen(s);

		/* No @FILE prompts, no output files: the fuzzer must not touch the disk. */
		if (!strchr(s, '@') && !strchr(s, '/'))
			argv[argc++] = s;
		i += n + 1;
	}
	argv[argc] = NULL;
	optind = 0; /* getopt: start over for every input */
	err[0] = '\0';
	ret = opts_parse_run(argc, argv, &o, err, sizeof(err));
	assert(ret == 0 || ret == -EINVAL);
	if (ret < 0) {
		assert(err[0] && !strchr(err, '\n'));
	} else {
		assert(o.nr_urls >= 1 && o.users >= 1);
		opts_close(&o);
	}
	free(copy);
	return 0;
}
