/* SPDX-License-Identifier: MIT */
/*
 * `brood compare A.json B.json`: two run results side by side, with the
 * change of each metric (absolute and percent) and whether it is better or
 * worse. Report time only.
 */
#ifndef BROOD_TOOLS_COMPARE_H
#define BROOD_TOOLS_COMPARE_H

#include <stdio.h>

#include "json_dom.h"

/* Prints the comparison of two parsed run results to f. Returns 0, or
 * -EPROTO with one line in err when either is not a run result. */
int compare_print(FILE *f, struct json_val a, struct json_val b, const char *name_a,
		  const char *name_b, char *err, size_t err_len);

/* The command; returns the exit status. */
int compare_main(int argc, char **argv);

#endif
