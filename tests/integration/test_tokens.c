/* SPDX-License-Identifier: MIT */
/*
 * Token-exact timing end to end: brood-mock streams text whose tokens under
 * cl100k_base it knows (--tokenizer), 0 to 3 of them per event (empty deltas
 * included), and writes each event's send time and token count (--truth);
 * brood re-tokenises with cl100k_base and writes every token's receive time
 * (--trace-tokens). Every request's tokens are matched one by one:
 * the same count, tokens of one event received together, none received
 * before the mock sent it. The checks are orderings and equalities, not
 * timings, so a busy machine cannot make them flake.
 *
 * argv[1] = brood-mock, argv[2] = brood.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "e2e_util.h"

#define REQUESTS   40
#define MAX_TOKENS 24
#define MAX_REQ	   4096

static const char *mock_bin;
static const char *brood_bin;

/* Send time of every token of one request, from the truth file. */
struct truth_req {
	uint64_t id;
	unsigned nr;
	uint64_t send_ns[MAX_TOKENS];
	unsigned event[MAX_TOKENS]; /* which content event carried it */
	unsigned empty_events;	    /* content events with no token */
};

static struct truth_req truth[MAX_REQ];
static unsigned nr_truth;
/* Tokens that have a later event, and those of them received before that
 * event was sent: a token given a later chunk's time is never. */
static unsigned nr_before_next, nr_with_next;

static struct truth_req *truth_find(uint64_t id, bool add)
{
	for (unsigned i = 0; i < nr_truth; i++)
		if (truth[i].id == id)
			return &truth[i];
	if (!add)
		return NULL;
	assert_true(nr_truth < MAX_REQ);
	truth[nr_truth].id = id;
	return &truth[nr_truth++];
}

static void load_truth(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		uint64_t id, ns;
		unsigned ev, tokens;
		char kind[16];
		struct truth_req *r;

		if (line[0] == '#')
			continue;
		if (sscanf(line, "%" SCNu64 "\t%u\t%15s\t%" SCNu64 "\t%u", &id, &ev, kind, &ns,
			   &tokens) != 5)
			continue; /* not a content line */
		r = truth_find(id, true);
		if (!tokens)
			r->empty_events++;
		for (unsigned k = 0; k < tokens; k++) {
			assert_true(r->nr < MAX_TOKENS);
			r->send_ns[r->nr] = ns;
			r->event[r->nr++] = ev;
		}
	}
	fclose(f);
}

/* Checks one --trace-tokens line against the truth; returns its tokens. */
static unsigned check_line(const char *line)
{
	const char *rid = strstr(line, "\"request_id\":\"");
	const char *p = strstr(line, "\"token_ns\":[");
	uint64_t recv_ns[MAX_TOKENS];
	struct truth_req *r;
	unsigned n = 0;
	char *end;

	assert_non_null(rid);
	assert_non_null(p);
	r = truth_find(strtoull(rid + 14, NULL, 10), false);
	assert_non_null(r);
	for (p += 12; *p != ']'; p = end + (*end == ',')) {
		assert_true(n < MAX_TOKENS);
		recv_ns[n++] = strtoull(p, &end, 10);
		assert_ptr_not_equal(end, p);
	}
	assert_int_equal(n, r->nr);
	for (unsigned k = 0; k < n; k++) {
		/* never before the mock sent it: a token given an earlier chunk's time fails here
		 */
		if (recv_ns[k] < r->send_ns[k])
			fail_msg("request %" PRIu64 " token %u received %" PRIu64
				 " ns before it was sent",
				 r->id, k, r->send_ns[k] - recv_ns[k]);
		/* tokens of one event arrive in one chunk: the same time */
		if (k && r->event[k] == r->event[k - 1])
			assert_true(recv_ns[k] == recv_ns[k - 1]);
		if (k)
			assert_true(recv_ns[k] >= recv_ns[k - 1]);
		for (unsigned j = k + 1; j < n; j++) {
			if (r->event[j] == r->event[k])
				continue;
			nr_with_next++;
			nr_before_next += recv_ns[k] < r->send_ns[j];
			break;
		}
	}
	return n;
}

static void test_tokens_match_truth(void **state)
{
	char dir[64], truth_path[128], tok_path[128], json[128], out[128], err[128], url[64];
	struct mock m;
	char *doc, *lines, *line, *save;
	unsigned timed = 0, empties = 0;
	uint64_t tokens = 0;

	(void)state;
	tmpdir_make(dir, sizeof(dir));
	snprintf(truth_path, sizeof(truth_path), "%s/truth.tsv", dir);
	snprintf(tok_path, sizeof(tok_path), "%s/tokens.jsonl", dir);
	snprintf(json, sizeof(json), "%s/out.json", dir);
	snprintf(out, sizeof(out), "%s/stdout", dir);
	snprintf(err, sizeof(err), "%s/stderr", dir);
	const char *margs[] = { "--tokenizer", "cl100k_base", "--tokens-per-chunk",
				"0-3",	       "--ttft-ms",   "20",
				"--itl-ms",    "10",	      "--truth",
				truth_path,    NULL };
	assert_int_equal(mock_start(&m, mock_bin, margs), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", m.port);
	const char *argv[] = {
		brood_bin, "run",    "-H", url,	 "--chat",	"-u",	       "8",
		"-n",	   "40",     "-o", "24", "--tokenizer", "cl100k_base", "--trace-tokens",
		tok_path,  "--json", json, "-q", NULL
	};
	assert_int_equal(run_cmd(argv, out, err, 120), 0);
	assert_int_equal(mock_stop(&m), 0);

	doc = slurp(json);
	assert_non_null(doc);
	assert_non_null(strstr(doc, "\"method\": \"tokenizer\""));
	assert_non_null(strstr(doc, "\"complete\": true"));
	assert_int_equal(json_num(doc, (const char *[]){ "summary", "requests_ok", NULL }),
			 REQUESTS);
	assert_int_equal(json_num(doc, (const char *[]){ "tokens", "output_total", NULL }),
			 REQUESTS * MAX_TOKENS);
	assert_int_equal(
	    json_num(doc, (const char *[]){ "tokens", "usage_mismatch_requests", NULL }), 0);
	assert_int_equal(json_num(doc, (const char *[]){ "tokens", "ring_drops", NULL }), 0);
	assert_int_equal(json_num(doc, (const char *[]){ "tokens", "timed_requests", NULL }),
			 REQUESTS);
	/* per token, the ITL count is tokens - 1 per request */
	assert_int_equal(json_num(doc, (const char *[]){ "itl_ms", "count", NULL }),
			 REQUESTS * (MAX_TOKENS - 1));
	free(doc);

	load_truth(truth_path);
	lines = slurp(tok_path);
	assert_non_null(lines);
	for (line = strtok_r(lines, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		tokens += check_line(line);
		timed++;
	}
	free(lines);
	assert_int_equal(timed, REQUESTS);
	assert_int_equal(tokens, REQUESTS * MAX_TOKENS);
	/* the 0-3 mix did send empty deltas */
	for (unsigned i = 0; i < nr_truth; i++)
		empties += truth[i].empty_events;
	assert_true(empties > 0);
	/* Loopback delivers in far less than the 10 ms between events; a busy
	 * machine may delay some, never most. */
	assert_true(nr_with_next > 0);
	if (nr_before_next * 2 < nr_with_next)
		fail_msg("only %u of %u tokens arrived before the next event was sent",
			 nr_before_next, nr_with_next);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_tokens_match_truth, mocks_reap),
	};

	if (argc < 3) {
		fprintf(stderr, "usage: %s BROOD_MOCK BROOD\n", argv[0]);
		return 2;
	}
	mock_bin = argv[1];
	brood_bin = argv[2];
	return cmocka_run_group_tests(tests, NULL, NULL);
}
