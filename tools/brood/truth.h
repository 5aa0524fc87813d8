/* SPDX-License-Identifier: MIT */
/*
 * Ground truth: brood's receive time of every event against brood-mock's
 * send time of it (see truth.c).
 */
#ifndef BROOD_TOOLS_TRUTH_H
#define BROOD_TOOLS_TRUTH_H

#include <stdint.h>
#include <stdio.h>

#include "hist.h"

struct truth_diff {
	uint64_t truth_events;	     /* lines in the truth file */
	uint64_t requests;	     /* trace lines with a numeric request id */
	uint64_t requests_unknown;   /* trace lines whose id brood-mock did not give */
	uint64_t events_matched;     /* received events with a send time */
	uint64_t events_unmatched;   /* received events the mock never sent */
	uint64_t events_missing;     /* sent events of traced requests brood never saw */
	uint64_t events_before_send; /* received before sent: a clock or matching bug */
	struct hist delay;	     /* send -> receive, ns */
};

/* Compares a --trace-chunks trace with a --truth file. Returns 0 or -errno
 * with one line in err. Release d with truth_diff_close either way. */
int truth_diff(const char *trace_path, const char *truth_path, struct truth_diff *d, char *err,
	       size_t err_len);
void truth_diff_close(struct truth_diff *d);
void truth_diff_print(FILE *f, const struct truth_diff *d);

/* `brood truth-diff TRACE TRUTH`: exits 0 when every event matched. */
int truth_diff_main(int argc, char **argv);

#endif
