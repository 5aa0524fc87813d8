/* SPDX-License-Identifier: MIT */
/*
 * The `brood run` command line. Flags that fireworks' llm_bench (Locust)
 * also has keep its names and meanings: -H base URL before /v1/..., -m, -u,
 * -r, -t, -p, --prompt-text [@file], -o/--max-tokens, --chat, --stream, -k,
 * --summary-file. Parsing is done once at start-up, before any load; every
 * user mistake becomes one line in err that names the flag and the fix.
 */
#ifndef BROOD_TOOLS_OPTS_H
#define BROOD_TOOLS_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine.h"
#include "load.h"

#define URL_HOST_MAX	  256  /* bytes, with the NUL */
#define URL_PATH_MAX	  1024 /* bytes, with the NUL */
#define URL_STR_MAX	  (URL_HOST_MAX + URL_PATH_MAX + 32)
#define OPTS_MODEL_MAX	  256		      /* bytes, with the NUL */
#define OPTS_PROMPT_MAX	  (16u * 1024 * 1024) /* --prompt-text bytes */
#define OPTS_USERS_MAX	  1000000u
#define OPTS_TOKENS_MAX	  1000000u /* -p and -o */
#define OPTS_REQUESTS_MAX 1000000000000ull
#define OPTS_EVENT_MIN	  256u
#define OPTS_EVENT_MAX	  (16u * 1024 * 1024)
#define OPTS_BATCH_US_MAX 10000u			       /* --batch-us */
#define OPTS_DURATION_MAX (366ull * 24 * 3600 * 1000000000ull) /* ns, a year */
#define OPTS_TOK_TEXT_MIN 4096u				       /* --tokenizer-max-bytes */
#define OPTS_TOK_TEXT_MAX (64u * 1024 * 1024)
#define OPTS_QPS_MAX	  1e6	    /* --qps */
#define OPTS_QUEUE_MAX	  10000000u /* --max-queue */
#define OPTS_OPEN_USERS	  1000u	    /* connections of an open loop without -u */

enum opts_shape {
	OPTS_SHAPE_NONE,
	OPTS_SHAPE_STEP, /* --shape step */
	OPTS_SHAPE_RAMP, /* --shape ramp */
};
#define OPTS_RETRIES_MAX 100u

/* A target's base URL: what precedes /v1/... */
struct url {
	bool tls;		 /* https */
	bool ipv6;		 /* host is an IPv6 literal; written in [] */
	uint16_t port;		 /* explicit, else 80 (http) or 443 (https) */
	char host[URL_HOST_MAX]; /* name or address, without brackets */
	char path[URL_PATH_MAX]; /* "" or "/a/b": no trailing slash, no query */
};

struct brood_opts {
	struct url urls[ENGINE_MAX_TARGETS]; /* -H, in order given */
	unsigned nr_urls;		     /* >= 1 after a successful parse */
	char model[OPTS_MODEL_MAX];	     /* -m; "" = none given (ask /v1/models) */
	bool chat;			     /* --chat: /v1/chat/completions */
	bool stream;			     /* true unless --no-stream */
	bool ignore_eos;		     /* send "ignore_eos": true; off with --no-ignore-eos */
	unsigned users;			     /* -u, 1..OPTS_USERS_MAX */
	double spawn_rate;		     /* -r, users/s; 0 = all at once */
	uint64_t run_time_ns;		     /* -t; 0 = until Ctrl-C (or -n) */
	uint64_t max_requests;		     /* -n; 0 = no limit */
	uint32_t prompt_tokens;		     /* -p; 0 when --prompt-text is given */
	char *prompt_text;		     /* --prompt-text, owned, NUL-terminated; or NULL */
	size_t prompt_text_len;		     /* bytes, without the NUL */
	const char *prompt_file;	     /* the FILE of --prompt-text @FILE, or NULL */
	uint32_t max_tokens;		     /* -o, tokens to generate per request */
	const char *api_key;		     /* -k or $OPENAI_API_KEY; NULL when neither */
	unsigned nr_shards;		     /* --shards; 0 = online cores */
	const char *json_path;		     /* --json, or NULL */
	const char *summary_path;	     /* --summary-file (CSV), or NULL */
	uint64_t timeout_ns;		     /* --timeout, whole request; > 0 */
	uint64_t connect_timeout_ns;	     /* --connect-timeout; 0 = none */
	uint64_t first_byte_timeout_ns;	     /* --first-byte-timeout; 0 = none */
	uint64_t first_token_timeout_ns;     /* --first-token-timeout; 0 = none */
	uint64_t idle_timeout_ns;	     /* --idle-timeout; 0 = none */
	uint64_t grace_ns;		     /* --grace: in-flight time after Ctrl-C */
	unsigned retries;		     /* --retries; 0 = none */
	struct engine_source sources[ENGINE_MAX_SOURCES]; /* --source-ips */
	unsigned nr_sources;
	const char *trace_path;	       /* --trace, or NULL */
	bool trace_chunks;	       /* --trace-chunks (needs --trace) */
	uint32_t max_event_bytes;      /* --max-event-bytes */
	bool no_pin;		       /* --no-pin: shards float between CPUs */
	uint32_t batch_us;	       /* --batch-us: completions gather this long */
	const char *html_path;	       /* --html, or NULL */
	int metrics_port;	       /* --metrics-port; -1 = no endpoint, 0 = any free port */
	char metrics_addr[16];	       /* its IPv4 address (127.0.0.1) */
	uint64_t metrics_linger_ns;    /* --metrics-linger: serve on after the load */
	const char *cacert;	       /* --cacert: PEM CA file, or NULL (system store) */
	bool insecure;		       /* --insecure: no certificate verification */
	int tls_version;	       /* --tls-version: 0 = 1.2 and 1.3, 12, 13 */
	bool quiet;		       /* -q */
	uint64_t seed;		       /* --seed: varies the synthetic prompt */
	const char *tokenizer;	       /* --tokenizer SPEC (tok_load's), or NULL */
	unsigned tokenizer_threads;    /* --tokenizer-threads; 0 = sized from CPUs */
	uint32_t tokenizer_max_bytes;  /* --tokenizer-max-bytes: one response's text */
	const char *trace_tokens_path; /* --trace-tokens FILE, or NULL */
	char *synth_prompt;	       /* owned: -p's prompt cut to exact tokens, or NULL */
	size_t synth_prompt_len;
	uint32_t prompt_tokens_counted; /* the prompt's tokens under --tokenizer; 0 = none */
	const char *tokenizer_kind;	/* tok_kind_name of the loaded tokenizer, or NULL */
	bool help;			/* -h: print opts_usage, run nothing */

	/* Load model */
	bool users_set;		    /* -u was given */
	double qps;		    /* --qps: open loop when > 0 (sweep: the first level) */
	enum dist_arrival qps_dist; /* --qps-distribution; default poisson */
	double burstiness;	    /* --burstiness: gamma shape; default 1 */
	uint32_t max_queue;	    /* --max-queue: due requests waiting for a connection */
	uint64_t wait_ns;	    /* --wait: closed-loop think time */
	uint64_t burst_ns;	    /* --burst: closed-loop burst period */
	uint64_t warmup_ns;	    /* --warmup */
	enum opts_shape shape;	    /* --shape */
	double step_size;	    /* --step-size: users or qps added per step */
	uint64_t step_ns;	    /* --step-time */
	uint64_t ramp_ns;	    /* --ramp-time */
	const char *stages_path;    /* --stages FILE, or NULL */
	struct sched_stage *stages; /* the profile (shape or file), owned; NULL = flat */
	unsigned nr_stages;
	struct dist_tokens max_tokens_dist; /* --max-tokens-*; mean is max_tokens */
	bool min_tokens;		    /* --min-tokens: send min_tokens = max_tokens */
	struct engine_slo slo;		    /* --slo */
	bool has_slo;
	double slo_attainment; /* share of requests a sweep level needs to meet the SLO */

	/* brood sweep */
	bool sweep;			/* parsed as `brood sweep` */
	double levels[LOAD_MAX_LEVELS]; /* --concurrency or --qps levels, ascending */
	unsigned nr_levels;
	bool levels_qps;	/* the levels are QPS (open loop), else users */
	uint64_t level_time_ns; /* --level-time */
};

/*
 * Parses `brood run` flags. argv[0] is the command's name and is skipped;
 * argv is not modified. String fields point into argv or the environment,
 * which must outlive o, except prompt_text, which o owns. Reads
 * $OPENAI_API_KEY and, for --prompt-text @FILE, the file; checks that the
 * directories of --json, --summary-file and --trace are writable.
 * Returns 0 (o filled; o->help may be set, the rest then is defaults), or
 * -EINVAL with one line in err (nothing to release). Uses getopt's globals:
 * call from one thread at a time.
 */
int opts_parse_run(int argc, char **argv, struct brood_opts *o, char *err, size_t err_len);

/* The same for `brood sweep`: adds --concurrency LIST, --qps LIST and
 * --level-time, and requires one level list. */
int opts_parse_sweep(int argc, char **argv, struct brood_opts *o, char *err, size_t err_len);

/* True when max_tokens varies per request (a distribution other than constant). */
bool opts_tokens_vary(const struct brood_opts *o);

/* Releases what o owns; o may be a zeroed struct. */
void opts_close(struct brood_opts *o);

/* Writes the `brood run` help text. */
void opts_usage(FILE *f);

/*
 * Parses a duration: a plain number of seconds ("90", "0.5"), or one or more
 * number+unit parts ("500ms", "20s", "5m", "5min", "1h30m"); units ns, us,
 * ms, s, sec, m, min, h. Returns 0 with *ns > 0, or -EINVAL (malformed,
 * zero, or more than OPTS_DURATION_MAX).
 */
int opts_parse_duration(const char *s, uint64_t *ns);

/* Formats one error line into err (err_len bytes; nothing when err is NULL
 * or err_len is 0), for the flag parsers and the load-model parsers. */
void opts_set_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Parses one base URL: http:// or https://, a host name, IPv4 address or
 * [IPv6] literal, an optional port, an optional base path (trailing slashes
 * dropped). Returns 0, or -EINVAL with one line in err.
 */
int url_parse(const char *s, struct url *u, char *err, size_t err_len);

/* Writes "scheme://host:port/path" (port always shown) into buf; returns
 * what snprintf returns. */
int url_format(const struct url *u, char *buf, size_t len);

#endif
