/* SPDX-License-Identifier: MIT */
/*
 * `brood run` flags. One table drives getopt_long, the help text and the
 * error messages, so a flag's name is written once.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <math.h>
#include <unistd.h>

#include "opts.h"

#define DEFAULT_HOST		"http://localhost:80"
#define DEFAULT_USERS		1
#define DEFAULT_PROMPT_TOKENS	512
#define DEFAULT_MAX_TOKENS	128
#define DEFAULT_TIMEOUT_NS	(600ull * 1000000000ull)
#define DEFAULT_MAX_EVENT_BYTES 4096
#define DEFAULT_GRACE_NS	(2ull * 1000000000ull)
#define SPAWN_RATE_MAX		1e6
#define PATH_ROOM		32 /* longest suffix we append: "/v1/chat/completions" */

enum {
	OPT_CHAT = 256,
	OPT_PROMPT_TEXT,
	OPT_STREAM,
	OPT_NO_STREAM,
	OPT_NO_IGNORE_EOS,
	OPT_SHARDS,
	OPT_JSON,
	OPT_SUMMARY_FILE,
	OPT_TIMEOUT,
	OPT_TRACE,
	OPT_TRACE_CHUNKS,
	OPT_MAX_EVENT_BYTES,
	OPT_SEED,
	OPT_BATCH_US,
	OPT_NO_PIN,
	OPT_TOKENIZER,
	OPT_TOKENIZER_THREADS,
	OPT_TOKENIZER_MAX_BYTES,
	OPT_TRACE_TOKENS,
	OPT_HTML,
	OPT_METRICS_PORT,
	OPT_METRICS_LINGER,
	OPT_CACERT,
	OPT_INSECURE,
	OPT_TLS_VERSION,
	OPT_QPS,
	OPT_QPS_DIST,
	OPT_BURSTINESS,
	OPT_MAX_QUEUE,
	OPT_WAIT,
	OPT_BURST,
	OPT_WARMUP,
	OPT_SHAPE,
	OPT_STEP_SIZE,
	OPT_STEP_TIME,
	OPT_RAMP_TIME,
	OPT_STAGES,
	OPT_MT_DIST,
	OPT_MT_RANGE,
	OPT_MT_CAP,
	OPT_MT_STDDEV,
	OPT_MIN_TOKENS,
	OPT_SLO,
	OPT_CONCURRENCY,
	OPT_LEVEL_TIME,
	OPT_CONNECT_TIMEOUT,
	OPT_FIRST_BYTE_TIMEOUT,
	OPT_FIRST_TOKEN_TIMEOUT,
	OPT_IDLE_TIMEOUT,
	OPT_GRACE,
	OPT_RETRIES,
	OPT_SOURCE_IPS,
};

struct flag {
	const char *name;
	int id;		  /* the short letter, or OPT_* */
	const char *arg;  /* value's name in help; NULL = takes no value */
	const char *eg;	  /* an example value for "needs a value" */
	const char *help; /* one line */
};

static const struct flag flags[] = {
	{ "host", 'H', "URL[,URL]", "http://127.0.0.1:8000",
	  "base URLs, before /v1/... (default " DEFAULT_HOST ")" },
	{ "model", 'm', "NAME", "my-model",
	  "model to ask for (default: the server's, via /v1/models)" },
	{ "chat", OPT_CHAT, NULL, NULL, "use /v1/chat/completions (default /v1/completions)" },
	{ "users", 'u', "N", "8", "concurrent users, 1..1000000 (default 1)" },
	{ "spawn-rate", 'r', "N", "2", "users started per second (default: all at once)" },
	{ "run-time", 't', "DURATION", "5min", "stop after 30s, 5min, 1h30m... (default: Ctrl-C)" },
	{ "requests", 'n', "N", "1000", "stop after N requests have finished" },
	{ "prompt-tokens", 'p', "N", "512",
	  "synthetic prompt of N tokens: exactly, with --tokenizer; else about (default 512)" },
	{ "prompt-text", OPT_PROMPT_TEXT, "TEXT|@FILE", "@prompt.txt",
	  "this prompt instead, or @FILE to read it from FILE" },
	{ "max-tokens", 'o', "N", "128", "tokens to generate per request (default 128)" },
	{ "stream", OPT_STREAM, NULL, NULL, "stream with SSE (the default; as in llm_bench)" },
	{ "no-stream", OPT_NO_STREAM, NULL, NULL, "whole responses: no TTFT or ITL" },
	{ "no-ignore-eos", OPT_NO_IGNORE_EOS, NULL, NULL,
	  "don't send ignore_eos (for APIs that reject unknown fields)" },
	{ "api-key", 'k', "KEY", "$API_KEY",
	  "sent as 'Authorization: Bearer KEY' (default $OPENAI_API_KEY)" },
	{ "shards", OPT_SHARDS, "N", "4",
	  "engine threads, 0..256 (default 0: one per CPU brood may use)" },
	{ "json", OPT_JSON, "FILE", "results.json", "write all results as JSON" },
	{ "summary-file", OPT_SUMMARY_FILE, "FILE", "results.csv",
	  "append one CSV row per run (header when new)" },
	{ "timeout", OPT_TIMEOUT, "DURATION", "600s", "limit per request (default 600s)" },
	{ "connect-timeout", OPT_CONNECT_TIMEOUT, "DURATION", "5s",
	  "limit per connect (default 0: none but --timeout)" },
	{ "first-byte-timeout", OPT_FIRST_BYTE_TIMEOUT, "DURATION", "30s",
	  "request sent -> first response byte (default 0: none)" },
	{ "first-token-timeout", OPT_FIRST_TOKEN_TIMEOUT, "DURATION", "60s",
	  "request sent -> first streamed token (default 0: none)" },
	{ "idle-timeout", OPT_IDLE_TIMEOUT, "DURATION", "10s",
	  "longest silence inside a response (default 0: none)" },
	{ "retries", OPT_RETRIES, "N", "2",
	  "retry 429/5xx/refused/dropped requests up to N times, after Retry-After (default 0)" },
	{ "grace", OPT_GRACE, "DURATION", "2s",
	  "after Ctrl-C, requests in flight may finish this long (default 2s; 0: cancel now)" },
	{ "source-ips", OPT_SOURCE_IPS, "IP[,IP]", "127.0.0.2,127.0.0.3",
	  "bind connections to these local addresses in turn (more source ports)" },
	{ "trace", OPT_TRACE, "FILE", "trace.jsonl", "write one JSON line per request" },
	{ "trace-chunks", OPT_TRACE_CHUNKS, NULL, NULL,
	  "add every event's receive time to --trace" },
	{ "max-event-bytes", OPT_MAX_EVENT_BYTES, "N", "4096",
	  "largest SSE event or response head, 256..16777216 (default 4096)" },
	{ "no-pin", OPT_NO_PIN, NULL, NULL,
	  "don't pin shards to CPUs (when brood shares the machine with busy processes)" },
	{ "batch-us", OPT_BATCH_US, "N", "100",
	  "let completions gather up to N us per wake: less CPU, times up to N us late (default "
	  "0)" },
	{ "tokenizer", OPT_TOKENIZER, "SPEC", "cl100k_base",
	  "time every output token: cl100k_base, o200k_base, or a .tiktoken, tokenizer.json or "
	  "sentencepiece .model file" },
	{ "tokenizer-threads", OPT_TOKENIZER_THREADS, "N", "2",
	  "threads re-tokenising responses, 0..256 (default 0: one per 4 CPUs, at least one)" },
	{ "tokenizer-max-bytes", OPT_TOKENIZER_MAX_BYTES, "N", "1048576",
	  "longest response text timed per token, 4096..67108864 (default 65536)" },
	{ "trace-tokens", OPT_TRACE_TOKENS, "FILE", "tokens.jsonl",
	  "write each streamed request's per-token receive times (needs --tokenizer)" },
	{ "cacert", OPT_CACERT, "FILE", "ca.pem",
	  "https: trust the CA certificates in FILE (PEM) instead of the system store" },
	{ "insecure", OPT_INSECURE, NULL, NULL,
	  "https: skip certificate and host name verification" },
	{ "tls-version", OPT_TLS_VERSION, "V", "1.3",
	  "https: only TLS 1.2 or only 1.3 (default both)" },
	{ "html", OPT_HTML, "FILE", "report.html",
	  "write a self-contained HTML report with SVG charts" },
	{ "metrics-port", OPT_METRICS_PORT, "[ADDR:]PORT", "9464",
	  "serve Prometheus metrics on ADDR (127.0.0.1):PORT/metrics; 0 picks a port" },
	{ "metrics-linger", OPT_METRICS_LINGER, "DURATION", "30s",
	  "keep serving metrics this long after the load stops" },
	{ "quiet", 'q', NULL, NULL, "no live view or progress lines" },
	{ "seed", OPT_SEED, "N", "1",
	  "seeds every random choice: prompt, arrivals, max_tokens (default 0)" },
	{ "qps", OPT_QPS, "RATE", "10",
	  "open loop: RATE requests/s at intended times; -u caps connections (default 1000)" },
	{ "qps-distribution", OPT_QPS_DIST, "KIND", "poisson",
	  "open-loop arrivals: constant, poisson (default) or gamma" },
	{ "burstiness", OPT_BURSTINESS, "F", "0.5",
	  "gamma shape: 1 = Poisson, < 1 burstier, > 1 more even (default 1)" },
	{ "max-queue", OPT_MAX_QUEUE, "N", "10000",
	  "open loop: due requests that may wait for a connection; more are dropped (10000)" },
	{ "wait", OPT_WAIT, "DURATION", "1s", "closed loop: think time after each response" },
	{ "burst", OPT_BURST, "DURATION", "10s",
	  "closed loop: users fire together once every DURATION" },
	{ "warmup", OPT_WARMUP, "DURATION", "30s",
	  "requests started this early are reported apart; -t counts after it" },
	{ "shape", OPT_SHAPE, "KIND", "step",
	  "step (--step-size more every --step-time) or ramp (0 to target over --ramp-time)" },
	{ "step-size", OPT_STEP_SIZE, "N", "10", "--shape step: users or QPS added per step" },
	{ "step-time", OPT_STEP_TIME, "DURATION", "30s", "--shape step: time per step" },
	{ "ramp-time", OPT_RAMP_TIME, "DURATION", "5min",
	  "--shape ramp: time to reach the target" },
	{ "stages", OPT_STAGES, "FILE", "stages.csv",
	  "load profile: CSV duration,users|qps[,ramp] or JSON [{duration, users|qps}]" },
	{ "max-tokens-distribution", OPT_MT_DIST, "KIND", "uniform",
	  "constant (default), uniform, normal or exponential around -o" },
	{ "max-tokens-range", OPT_MT_RANGE, "LO:HI", "64:256",
	  "bounds of max_tokens draws (uniform default 1:2*o-1)" },
	{ "max-tokens-cap", OPT_MT_CAP, "N", "4096", "clamp every max_tokens draw to N" },
	{ "max-tokens-stddev", OPT_MT_STDDEV, "N", "32",
	  "normal: standard deviation (default o/4)" },
	{ "min-tokens", OPT_MIN_TOKENS, NULL, NULL,
	  "also send min_tokens = max_tokens (vLLM, SGLang) to force the length" },
	{ "slo", OPT_SLO, "SPEC", "ttft=500ms,itl=50ms",
	  "per-request bounds (ttft, itl, itl_max, tpot, e2e): attainment and goodput" },
	{ "concurrency", OPT_CONCURRENCY, "LIST", "1,2,4,8",
	  "brood sweep: closed-loop levels, 1,2,4 or 1:64:x2 or 8:64:+8" },
	{ "level-time", OPT_LEVEL_TIME, "DURATION", "30s",
	  "brood sweep: measured time per level, after --warmup (default 30s)" },
	{ "help", 'h', NULL, NULL, "show this help" },
};

#define NR_FLAGS (sizeof(flags) / sizeof(flags[0]))

void opts_set_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static const struct flag *flag_by_id(int id)
{
	for (size_t i = 0; i < NR_FLAGS; i++)
		if (flags[i].id == id)
			return &flags[i];
	return NULL;
}

/* "-u/--users" or "--chat": how errors name a flag. */
static const char *flag_label(const struct flag *f, char *buf, size_t len)
{
	if (f->id < 256)
		snprintf(buf, len, "-%c/--%s", f->id, f->name);
	else
		snprintf(buf, len, "--%s", f->name);
	return buf;
}

/* Digits only: no sign, no spaces, no suffix. */
static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

static const struct {
	const char *name;
	uint64_t ns;
} units[] = {
	/* Longest first so "ms" is not read as "m" then "s". */
	{ "min", 60000000000ull }, { "sec", 1000000000ull }, { "ns", 1ull },
	{ "us", 1000ull },	   { "ms", 1000000ull },     { "h", 3600000000000ull },
	{ "m", 60000000000ull },   { "s", 1000000000ull },
};

static uint64_t unit_at(const char **s)
{
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].name);

		if (strncmp(*s, units[i].name, n) == 0 && !isalpha((unsigned char)(*s)[n])) {
			*s += n;
			return units[i].ns;
		}
	}
	return 0;
}

int opts_parse_duration(const char *s, uint64_t *ns)
{
	long double total = 0;
	bool plain = true;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		const char *start = s;
		long double v = 0, scale = 1;
		uint64_t unit;

		while (*s >= '0' && *s <= '9')
			v = v * 10 + (*s++ - '0');
		if (*s == '.') {
			s++;
			while (*s >= '0' && *s <= '9')
				v += (*s++ - '0') * (scale /= 10);
		}
		if (s == start || (s == start + 1 && *start == '.'))
			return -EINVAL; /* no digits */
		if (!*s && plain) {
			total = v * 1e9L; /* a bare number is seconds */
			break;
		}
		unit = unit_at(&s);
		if (!unit)
			return -EINVAL;
		plain = false;
		total += v * (long double)unit;
		if (total > (long double)OPTS_DURATION_MAX)
			return -EINVAL;
	}
	if (total > (long double)OPTS_DURATION_MAX || total < 1)
		return -EINVAL;
	*ns = (uint64_t)(total + 0.5L);
	return 0;
}

static bool host_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static bool path_char(char c)
{
	/* Printable ASCII that may stand in a request line; no query/fragment. */
	return c > ' ' && c < 0x7f && c != '?' && c != '#';
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int parse_authority(const char *s, size_t len, struct url *u, const char *url, char *err,
			   size_t err_len)
{
	const char *port = NULL;
	size_t host_len;

	if (memchr(s, '@', len)) {
		opts_set_err(err, err_len,
			     "-H %s: user names in URLs are not supported; pass the key with -k",
			     url);
		return -EINVAL;
	}
	if (len && s[0] == '[') {
		const char *close = memchr(s, ']', len);
		struct in6_addr a;

		host_len = close ? (size_t)(close - s - 1) : 0;
		if (!close || host_len >= URL_HOST_MAX) {
			opts_set_err(err, err_len,
				     "-H %s: unterminated IPv6 address; write it as [::1]", url);
			return -EINVAL;
		}
		memcpy(u->host, s + 1, host_len);
		u->host[host_len] = '\0';
		if (inet_pton(AF_INET6, u->host, &a) != 1) {
			opts_set_err(err, err_len, "-H %s: '%s' is not an IPv6 address", url,
				     u->host);
			return -EINVAL;
		}
		u->ipv6 = true;
		if (close + 1 < s + len) {
			if (close[1] != ':') {
				opts_set_err(err, err_len, "-H %s: expected ':PORT' after ']'",
					     url);
				return -EINVAL;
			}
			port = close + 2;
		}
	} else {
		const char *colon = memchr(s, ':', len);

		if (colon && memchr(colon + 1, ':', len - (size_t)(colon + 1 - s))) {
			opts_set_err(
			    err, err_len,
			    "-H %s: write an IPv6 address in brackets, e.g. http://[::1]:8000",
			    url);
			return -EINVAL;
		}
		host_len = colon ? (size_t)(colon - s) : len;
		if (host_len >= URL_HOST_MAX) {
			opts_set_err(err, err_len, "-H: host name too long (%zu bytes, at most %d)",
				     host_len, URL_HOST_MAX - 1);
			return -EINVAL;
		}
		if (!host_len) {
			opts_set_err(err, err_len,
				     "-H %s: no host name; write e.g. http://localhost:8000", url);
			return -EINVAL;
		}
		for (size_t i = 0; i < host_len; i++) {
			if (!host_char(s[i])) {
				opts_set_err(
				    err, err_len,
				    "-H %s: bad character '%c' in host name (IPv6 goes in [])", url,
				    s[i]);
				return -EINVAL;
			}
		}
		memcpy(u->host, s, host_len);
		u->host[host_len] = '\0';
		port = colon ? colon + 1 : NULL;
	}
	if (port) {
		char buf[8];
		size_t port_len = (size_t)(s + len - port);
		uint64_t v;

		if (port_len == 0 || port_len >= sizeof(buf)) {
			opts_set_err(err, err_len, "-H %s: bad port; use 1..65535", url);
			return -EINVAL;
		}
		memcpy(buf, port, port_len);
		buf[port_len] = '\0';
		if (parse_u64(buf, 1, 65535, &v)) {
			opts_set_err(err, err_len, "-H %s: bad port '%s'; use 1..65535", url, buf);
			return -EINVAL;
		}
		u->port = (uint16_t)v;
	}
	return 0;
}

static int parse_path(const char *p, struct url *u, const char *url, char *err, size_t err_len)
{
	size_t len = strlen(p);

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '?' || p[i] == '#') {
			opts_set_err(err, err_len,
				     "-H %s: a base URL takes no query or fragment; drop '%s'", url,
				     p + i);
			return -EINVAL;
		}
		if (!path_char(p[i])) {
			opts_set_err(
			    err, err_len,
			    "-H %s: the path holds a space or control character; percent-encode it",
			    url);
			return -EINVAL;
		}
	}
	while (len && p[len - 1] == '/')
		len--;
	if (len >= URL_PATH_MAX - PATH_ROOM) {
		opts_set_err(err, err_len, "-H: base path too long (%zu bytes, at most %d)", len,
			     URL_PATH_MAX - PATH_ROOM - 1);
		return -EINVAL;
	}
	memcpy(u->path, p, len);
	u->path[len] = '\0';
	if (ends_with(u->path, "/v1") || ends_with(u->path, "/v1/completions") ||
	    ends_with(u->path, "/v1/chat/completions")) {
		opts_set_err(
		    err, err_len,
		    "-H %s: give the base URL that precedes /v1/... (brood adds the API path)",
		    url);
		return -EINVAL;
	}
	return 0;
}

int url_parse(const char *s, struct url *u, char *err, size_t err_len)
{
	const char *rest, *slash, *sep;
	char shown[96]; /* the URL as errors quote it: long ones cut, so the fix still shows */
	int ret;

	memset(u, 0, sizeof(*u));
	if (!s || !*s) {
		opts_set_err(err, err_len, "-H: empty URL; write e.g. http://localhost:8000");
		return -EINVAL;
	}
	if (strlen(s) < sizeof(shown))
		strcpy(shown, s);
	else
		snprintf(shown, sizeof(shown), "%.*s...", (int)sizeof(shown) - 4, s);
	if (strncasecmp(s, "http://", 7) == 0) {
		rest = s + 7;
		u->port = 80;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		rest = s + 8;
		u->tls = true;
		u->port = 443;
	} else if ((sep = strstr(s, "://"))) {
		opts_set_err(err, err_len,
			     "-H %s: unsupported scheme '%.*s'; use http:// or https://", shown,
			     (int)(sep - s) < 16 ? (int)(sep - s) : 16, s);
		return -EINVAL;
	} else {
		opts_set_err(err, err_len, "-H %s: no scheme; write http://%s (or https://)", shown,
			     shown);
		return -EINVAL;
	}
	slash = strchr(rest, '/');
	if (!slash)
		slash = rest + strlen(rest);
	if (memchr(rest, '?', (size_t)(slash - rest)) ||
	    memchr(rest, '#', (size_t)(slash - rest))) {
		opts_set_err(err, err_len, "-H %s: a base URL takes no query or fragment", shown);
		return -EINVAL;
	}
	ret = parse_authority(rest, (size_t)(slash - rest), u, shown, err, err_len);
	if (ret)
		return ret;
	return parse_path(slash, u, shown, err, err_len);
}

int url_format(const struct url *u, char *buf, size_t len)
{
	return snprintf(buf, len, "%s://%s%s%s:%u%s", u->tls ? "https" : "http", u->ipv6 ? "[" : "",
			u->host, u->ipv6 ? "]" : "", u->port, u->path);
}

/* -H a,b,c; each -H adds to the list. */
static int add_hosts(struct brood_opts *o, const char *arg, char *err, size_t err_len)
{
	const char *p = arg;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char one[URL_STR_MAX];
		int ret;

		while (len && isspace((unsigned char)*p)) {
			p++;
			len--;
		}
		while (len && isspace((unsigned char)p[len - 1]))
			len--;
		if (!len) {
			opts_set_err(err, err_len,
				     "-H %s: empty URL in the list; separate URLs with one comma",
				     arg);
			return -EINVAL;
		}
		if (len >= sizeof(one)) {
			opts_set_err(err, err_len, "-H: URL too long (%zu bytes)", len);
			return -EINVAL;
		}
		if (o->nr_urls == ENGINE_MAX_TARGETS) {
			opts_set_err(err, err_len, "-H: more than %d targets; give at most %d URLs",
				     ENGINE_MAX_TARGETS, ENGINE_MAX_TARGETS);
			return -EINVAL;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		ret = url_parse(one, &o->urls[o->nr_urls], err, err_len);
		if (ret)
			return ret;
		o->nr_urls++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return true;
	return false;
}

static int read_prompt_file(struct brood_opts *o, const char *path, char *err, size_t err_len)
{
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd;

	if (!*path) {
		opts_set_err(err, err_len,
			     "--prompt-text @: no file name after '@'; write @prompt.txt");
		return -EINVAL;
	}
	if (ends_with(path, ".jsonl")) {
		opts_set_err(
		    err, err_len,
		    "--prompt-text @%s: JSONL prompt sets are not supported yet; pass a text file",
		    path);
		return -EINVAL;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		opts_set_err(err, err_len, "--prompt-text @%s: cannot open: %s", path,
			     strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)OPTS_PROMPT_MAX) {
		opts_set_err(err, err_len,
			     "--prompt-text @%s: not a regular file of at most %u bytes", path,
			     OPTS_PROMPT_MAX);
		goto err;
	}
	o->prompt_text = malloc((size_t)st.st_size + 1);
	if (!o->prompt_text) {
		opts_set_err(err, err_len, "--prompt-text @%s: out of memory", path);
		goto err;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, o->prompt_text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			opts_set_err(err, err_len, "--prompt-text @%s: read failed: %s", path,
				     n ? strerror(errno) : "file shrank");
			goto err;
		}
		got += (size_t)n;
	}
	close(fd);
	o->prompt_text[got] = '\0';
	o->prompt_text_len = got;
	o->prompt_file = path;
	return 0;
err:
	free(o->prompt_text);
	o->prompt_text = NULL;
	close(fd);
	return -EINVAL;
}

static int set_prompt_text(struct brood_opts *o, const char *arg, char *err, size_t err_len)
{
	int ret;

	free(o->prompt_text); /* the last --prompt-text wins */
	o->prompt_text = NULL;
	o->prompt_file = NULL;
	if (arg[0] == '@') {
		ret = read_prompt_file(o, arg + 1, err, err_len);
		if (ret)
			return ret;
	} else {
		o->prompt_text_len = strlen(arg);
		o->prompt_text = strdup(arg);
		if (!o->prompt_text) {
			opts_set_err(err, err_len, "--prompt-text: out of memory");
			return -EINVAL;
		}
	}
	if (!o->prompt_text_len) {
		opts_set_err(err, err_len, "--prompt-text %s: the prompt is empty", arg);
		return -EINVAL;
	}
	return 0;
}

/* An output file's directory must exist and be writable before load starts. */
static int check_out_path(const char *flag, const char *path, char *err, size_t err_len)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (!*path) {
		opts_set_err(err, err_len, "--%s: empty file name", flag);
		return -EINVAL;
	}
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		opts_set_err(err, err_len, "--%s %s: is a directory; name a file in it", flag,
			     path);
		return -EINVAL;
	}
	if (!slash) {
		strcpy(dir, ".");
	} else if (slash == path) {
		strcpy(dir, "/");
	} else {
		size_t n = (size_t)(slash - path);

		if (n >= sizeof(dir)) {
			opts_set_err(err, err_len, "--%s: path too long", flag);
			return -EINVAL;
		}
		memcpy(dir, path, n);
		dir[n] = '\0';
	}
	if (access(dir, W_OK | X_OK)) {
		opts_set_err(
		    err, err_len,
		    "--%s %s: cannot write in directory '%s' (%s); create it or pick another path",
		    flag, path, dir, strerror(errno));
		return -EINVAL;
	}
	return 0;
}

static void set_defaults(struct brood_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->qps_dist = DIST_ARRIVAL_POISSON;
	o->max_queue = 10000;
	o->slo_attainment = 0.9;
	o->max_tokens_dist.kind = DIST_TOKENS_CONSTANT;
	o->stream = true;
	o->ignore_eos = true;
	o->users = DEFAULT_USERS;
	o->prompt_tokens = DEFAULT_PROMPT_TOKENS;
	o->max_tokens = DEFAULT_MAX_TOKENS;
	o->timeout_ns = DEFAULT_TIMEOUT_NS;
	o->grace_ns = DEFAULT_GRACE_NS;
	o->max_event_bytes = DEFAULT_MAX_EVENT_BYTES;
	o->metrics_port = -1;
}

static int number(const struct flag *f, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
		  char *err, size_t err_len)
{
	char label[64];

	*out = 0;
	if (parse_u64(arg, min, max, out) == 0)
		return 0;
	opts_set_err(err, err_len, "%s %s: use a whole number from %llu to %llu",
		     flag_label(f, label, sizeof(label)), arg, (unsigned long long)min,
		     (unsigned long long)max);
	return -EINVAL;
}

static int duration(const struct flag *f, const char *arg, uint64_t *ns, char *err, size_t err_len)
{
	char label[64];

	if (opts_parse_duration(arg, ns) == 0)
		return 0;
	opts_set_err(
	    err, err_len,
	    "%s %s: not a positive duration; write e.g. 90s, 500ms, 5min or 1h30m (at most 8784h)",
	    flag_label(f, label, sizeof(label)), arg);
	return -EINVAL;
}

/* A duration, or 0 / "off" for none. */
static int duration_or_off(const struct flag *f, const char *arg, uint64_t *ns, char *err,
			   size_t err_len)
{
	char label[64];

	if (!strcmp(arg, "0") || !strcmp(arg, "off")) {
		*ns = 0;
		return 0;
	}
	if (opts_parse_duration(arg, ns) == 0)
		return 0;
	opts_set_err(err, err_len,
		     "%s %s: not a duration; write e.g. 10s, 500ms or 2min (or 0 for none)",
		     flag_label(f, label, sizeof(label)), arg);
	return -EINVAL;
}

/* --source-ips a,b,c: IPv4 or IPv6 literals, port 0. */
static int add_sources(struct brood_opts *o, const char *arg, char *err, size_t err_len)
{
	const char *p = arg;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		struct engine_source *src = &o->sources[o->nr_sources];
		char one[INET6_ADDRSTRLEN];

		if (o->nr_sources == ENGINE_MAX_SOURCES) {
			opts_set_err(err, err_len, "--source-ips: at most %d addresses",
				     ENGINE_MAX_SOURCES);
			return -EINVAL;
		}
		if (!len || len >= sizeof(one)) {
			opts_set_err(err, err_len,
				     "--source-ips: empty or overlong address; write e.g. "
				     "127.0.0.2,127.0.0.3");
			return -EINVAL;
		}
		memcpy(one, p, len);
		one[len] = '\0';
		memset(src, 0, sizeof(*src));
		struct sockaddr_in *in = (struct sockaddr_in *)&src->addr;
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&src->addr;

		if (inet_pton(AF_INET, one, &in->sin_addr) == 1) {
			in->sin_family = AF_INET;
			src->addr_len = sizeof(*in);
		} else if (inet_pton(AF_INET6, one, &in6->sin6_addr) == 1) {
			in6->sin6_family = AF_INET6;
			src->addr_len = sizeof(*in6);
		} else {
			opts_set_err(
			    err, err_len,
			    "--source-ips: '%s' is not an IP address; write e.g. 127.0.0.2", one);
			return -EINVAL;
		}
		o->nr_sources++;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

static int spawn_rate(const struct flag *f, const char *arg, double *rate, char *err,
		      size_t err_len)
{
	char label[64], *end;
	double v;

	/* Plain decimals only: strtod would also take hex, "inf" and exponents. */
	if (!*arg || strspn(arg, "0123456789.") != strlen(arg))
		goto bad;
	errno = 0;
	v = strtod(arg, &end);
	if (end != arg && !*end && !errno && v > 0 && v <= SPAWN_RATE_MAX) {
		*rate = v;
		return 0;
	}
bad:
	opts_set_err(err, err_len,
		     "%s %s: give users per second as a number above 0, at most 1000000",
		     flag_label(f, label, sizeof(label)), arg);
	return -EINVAL;
}

/*
 * The names tok_load knows, or a readable regular file; what is in the file
 * is tok_load's to judge (main loads it before any load is sent).
 */
static int set_tokenizer(struct brood_opts *o, const char *arg, char *err, size_t err_len)
{
	struct stat st;

	o->tokenizer = arg;
	if (!strcmp(arg, "cl100k_base") || !strcmp(arg, "o200k_base"))
		return 0;
	if (!*arg) {
		opts_set_err(err, err_len, "--tokenizer: give cl100k_base, o200k_base or a file");
		return -EINVAL;
	}
	errno = 0;
	if (stat(arg, &st) || !S_ISREG(st.st_mode) || access(arg, R_OK)) {
		opts_set_err(
		    err, err_len,
		    "--tokenizer %s: not cl100k_base or o200k_base, and not a readable file "
		    "(%s); give a .tiktoken, tokenizer.json or sentencepiece .model path",
		    arg, errno ? strerror(errno) : "not a regular file");
		return -EINVAL;
	}
	return 0;
}

/* --metrics-port [ADDR:]PORT: an IPv4 address (loopback by default). */
static int metrics_addr(struct brood_opts *o, const char *arg, char *err, size_t err_len)
{
	const char *colon = strrchr(arg, ':');
	const char *port = colon ? colon + 1 : arg;
	struct in_addr in;
	uint64_t v;

	strcpy(o->metrics_addr, "127.0.0.1");
	if (colon) {
		size_t n = (size_t)(colon - arg);

		if (n == 0 || n >= sizeof(o->metrics_addr))
			goto bad;
		memcpy(o->metrics_addr, arg, n);
		o->metrics_addr[n] = '\0';
		if (inet_pton(AF_INET, o->metrics_addr, &in) != 1)
			goto bad;
	}
	if (parse_u64(port, 0, 65535, &v))
		goto bad;
	o->metrics_port = (int)v;
	return 0;
bad:
	opts_set_err(err, err_len,
		     "--metrics-port %s: give PORT (0..65535, 0 picks one) or IPv4ADDR:PORT, e.g. "
		     "9464 or 0.0.0.0:9464",
		     arg);
	return -EINVAL;
}

/* A positive decimal of at most max. */
static int positive(const struct flag *f, const char *arg, double max, double *out, char *err,
		    size_t err_len)
{
	char label[64], *end;
	double v;

	if (*arg && strspn(arg, "0123456789.") == strlen(arg)) {
		errno = 0;
		v = strtod(arg, &end);
		if (end != arg && !*end && !errno && v > 0 && v <= max) {
			*out = v;
			return 0;
		}
	}
	opts_set_err(err, err_len, "%s %s: give a number above 0, at most %g",
		     flag_label(f, label, sizeof(label)), arg, max);
	return -EINVAL;
}

/* The load-model flags. */
static int apply_load(struct brood_opts *o, const struct flag *f, const char *arg, char *err,
		      size_t err_len)
{
	uint64_t v;
	int ret;

	switch (f->id) {
	case OPT_QPS:
		if (o->sweep) {
			o->levels_qps = true;
			ret = load_parse_levels("--qps", arg, false, o->levels, &o->nr_levels, err,
						err_len);
			o->qps = ret ? 0 : o->levels[0];
			return ret;
		}
		return positive(f, arg, OPTS_QPS_MAX, &o->qps, err, err_len);
	case OPT_CONCURRENCY:
		if (!o->sweep) {
			opts_set_err(err, err_len,
				     "--concurrency is for 'brood sweep'; use -u with run");
			return -EINVAL;
		}
		o->levels_qps = false;
		return load_parse_levels("--concurrency", arg, true, o->levels, &o->nr_levels, err,
					 err_len);
	case OPT_LEVEL_TIME:
		if (!o->sweep) {
			opts_set_err(err, err_len,
				     "--level-time is for 'brood sweep'; use -t with run");
			return -EINVAL;
		}
		return duration(f, arg, &o->level_time_ns, err, err_len);
	case OPT_QPS_DIST:
		if (dist_arrival_parse(arg, &o->qps_dist)) {
			opts_set_err(err, err_len,
				     "--qps-distribution %s: use constant, poisson or gamma", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_BURSTINESS:
		return positive(f, arg, 1000, &o->burstiness, err, err_len);
	case OPT_MAX_QUEUE:
		ret = number(f, arg, 0, OPTS_QUEUE_MAX, &v, err, err_len);
		o->max_queue = (uint32_t)v;
		return ret;
	case OPT_WAIT:
		return duration(f, arg, &o->wait_ns, err, err_len);
	case OPT_BURST:
		return duration(f, arg, &o->burst_ns, err, err_len);
	case OPT_WARMUP:
		return duration(f, arg, &o->warmup_ns, err, err_len);
	case OPT_SHAPE:
		if (!strcmp(arg, "step")) {
			o->shape = OPTS_SHAPE_STEP;
		} else if (!strcmp(arg, "ramp")) {
			o->shape = OPTS_SHAPE_RAMP;
		} else {
			opts_set_err(err, err_len,
				     "--shape %s: use step or ramp (or --stages FILE)", arg);
			return -EINVAL;
		}
		return 0;
	case OPT_STEP_SIZE:
		return positive(f, arg, 1e7, &o->step_size, err, err_len);
	case OPT_STEP_TIME:
		return duration(f, arg, &o->step_ns, err, err_len);
	case OPT_RAMP_TIME:
		return duration(f, arg, &o->ramp_ns, err, err_len);
	case OPT_STAGES:
		o->stages_path = arg;
		return 0;
	case OPT_MT_DIST:
		if (dist_tokens_parse(arg, &o->max_tokens_dist.kind)) {
			opts_set_err(
			    err, err_len,
			    "--max-tokens-distribution %s: use constant, uniform, normal or "
			    "exponential",
			    arg);
			return -EINVAL;
		}
		return 0;
	case OPT_MT_RANGE:
		return load_parse_range("--max-tokens-range", arg, OPTS_TOKENS_MAX,
					&o->max_tokens_dist.lo, &o->max_tokens_dist.hi, err,
					err_len);
	case OPT_MT_CAP:
		ret = number(f, arg, 1, OPTS_TOKENS_MAX, &v, err, err_len);
		o->max_tokens_dist.cap = (uint32_t)v;
		return ret;
	case OPT_MT_STDDEV:
		return positive(f, arg, OPTS_TOKENS_MAX, &o->max_tokens_dist.stddev, err, err_len);
	case OPT_MIN_TOKENS:
		o->min_tokens = true;
		return 0;
	case OPT_SLO:
		o->has_slo = true;
		return load_parse_slo(arg, &o->slo, &o->slo_attainment, err, err_len);
	}
	return 0;
}

/* Handles one flag with its value. Returns 0 or -EINVAL (err set). */
static int apply(struct brood_opts *o, const struct flag *f, const char *arg,
		 bool *prompt_tokens_set, char *err, size_t err_len)
{
	uint64_t v;
	int ret = 0;

	switch (f->id) {
	case 'H':
		return add_hosts(o, arg, err, err_len);
	case 'm':
		if (!*arg || strlen(arg) >= OPTS_MODEL_MAX || has_control(arg)) {
			opts_set_err(err, err_len,
				     "-m/--model: give a name of 1 to %d printable bytes",
				     OPTS_MODEL_MAX - 1);
			return -EINVAL;
		}
		strcpy(o->model, arg);
		return 0;
	case OPT_CHAT:
		o->chat = true;
		return 0;
	case 'u':
		ret = number(f, arg, 1, OPTS_USERS_MAX, &v, err, err_len);
		o->users = (unsigned)v;
		o->users_set = true;
		return ret;
	case 'r':
		return spawn_rate(f, arg, &o->spawn_rate, err, err_len);
	case 't':
		return duration(f, arg, &o->run_time_ns, err, err_len);
	case 'n':
		return number(f, arg, 1, OPTS_REQUESTS_MAX, &o->max_requests, err, err_len);
	case 'p':
		*prompt_tokens_set = true;
		ret = number(f, arg, 1, OPTS_TOKENS_MAX, &v, err, err_len);
		o->prompt_tokens = (uint32_t)v;
		return ret;
	case OPT_PROMPT_TEXT:
		return set_prompt_text(o, arg, err, err_len);
	case 'o':
		ret = number(f, arg, 1, OPTS_TOKENS_MAX, &v, err, err_len);
		o->max_tokens = (uint32_t)v;
		return ret;
	case OPT_STREAM:
		o->stream = true;
		return 0;
	case OPT_NO_STREAM:
		o->stream = false;
		return 0;
	case OPT_NO_IGNORE_EOS:
		o->ignore_eos = false;
		return 0;
	case 'k':
		if (!*arg || has_control(arg)) {
			opts_set_err(err, err_len,
				     "-k/--api-key: the key is empty or holds a control character");
			return -EINVAL;
		}
		o->api_key = arg;
		return 0;
	case OPT_SHARDS:
		ret = number(f, arg, 0, ENGINE_MAX_SHARDS, &v, err, err_len);
		o->nr_shards = (unsigned)v;
		return ret;
	case OPT_JSON:
		o->json_path = arg;
		return check_out_path(f->name, arg, err, err_len);
	case OPT_SUMMARY_FILE:
		o->summary_path = arg;
		return check_out_path(f->name, arg, err, err_len);
	case OPT_TIMEOUT:
		return duration(f, arg, &o->timeout_ns, err, err_len);
	case OPT_CONNECT_TIMEOUT:
		return duration_or_off(f, arg, &o->connect_timeout_ns, err, err_len);
	case OPT_FIRST_BYTE_TIMEOUT:
		return duration_or_off(f, arg, &o->first_byte_timeout_ns, err, err_len);
	case OPT_FIRST_TOKEN_TIMEOUT:
		return duration_or_off(f, arg, &o->first_token_timeout_ns, err, err_len);
	case OPT_IDLE_TIMEOUT:
		return duration_or_off(f, arg, &o->idle_timeout_ns, err, err_len);
	case OPT_GRACE:
		return duration_or_off(f, arg, &o->grace_ns, err, err_len);
	case OPT_RETRIES:
		ret = number(f, arg, 0, OPTS_RETRIES_MAX, &v, err, err_len);
		o->retries = (unsigned)v;
		return ret;
	case OPT_SOURCE_IPS:
		return add_sources(o, arg, err, err_len);
	case OPT_TRACE:
		o->trace_path = arg;
		return check_out_path(f->name, arg, err, err_len);
	case OPT_TRACE_CHUNKS:
		o->trace_chunks = true;
		return 0;
	case OPT_MAX_EVENT_BYTES:
		ret = number(f, arg, OPTS_EVENT_MIN, OPTS_EVENT_MAX, &v, err, err_len);
		o->max_event_bytes = (uint32_t)v;
		return ret;
	case OPT_NO_PIN:
		o->no_pin = true;
		return 0;
	case OPT_BATCH_US:
		ret = number(f, arg, 0, OPTS_BATCH_US_MAX, &v, err, err_len);
		o->batch_us = (uint32_t)v;
		return ret;
	case OPT_TOKENIZER:
		return set_tokenizer(o, arg, err, err_len);
	case OPT_TOKENIZER_THREADS:
		ret = number(f, arg, 0, ENGINE_MAX_TOK_THREADS, &v, err, err_len);
		o->tokenizer_threads = (unsigned)v;
		return ret;
	case OPT_TOKENIZER_MAX_BYTES:
		ret = number(f, arg, OPTS_TOK_TEXT_MIN, OPTS_TOK_TEXT_MAX, &v, err, err_len);
		o->tokenizer_max_bytes = (uint32_t)v;
		return ret;
	case OPT_TRACE_TOKENS:
		o->trace_tokens_path = arg;
		return check_out_path(f->name, arg, err, err_len);
	case OPT_HTML:
		o->html_path = arg;
		return check_out_path(f->name, arg, err, err_len);
	case OPT_METRICS_PORT:
		return metrics_addr(o, arg, err, err_len);
	case OPT_METRICS_LINGER:
		return duration(f, arg, &o->metrics_linger_ns, err, err_len);
	case OPT_CACERT:
		if (access(arg, R_OK) < 0) {
			opts_set_err(err, err_len, "--cacert %s: %s; give a readable PEM file", arg,
				     strerror(errno));
			return -EINVAL;
		}
		o->cacert = arg;
		return 0;
	case OPT_INSECURE:
		o->insecure = true;
		return 0;
	case OPT_TLS_VERSION:
		if (strcmp(arg, "1.2") && strcmp(arg, "1.3")) {
			opts_set_err(err, err_len, "--tls-version %s: give 1.2 or 1.3", arg);
			return -EINVAL;
		}
		o->tls_version = arg[2] == '2' ? 12 : 13;
		return 0;
	case 'q':
		o->quiet = true;
		return 0;
	case OPT_SEED:
		return number(f, arg, 0, UINT64_MAX, &o->seed, err, err_len);
	case 'h':
		o->help = true;
		return 0;
	default:
		return apply_load(o, f, arg, err, err_len);
	}
	return 0;
}

static void build_getopt(struct option *longopts, char *shortopts)
{
	char *s = shortopts;

	*s++ = '+'; /* stop at the first non-flag: no argv permutation */
	*s++ = ':'; /* a missing value returns ':' */
	for (size_t i = 0; i < NR_FLAGS; i++) {
		longopts[i] =
		    (struct option){ flags[i].name, flags[i].arg ? required_argument : no_argument,
				     NULL, flags[i].id };
		if (flags[i].id < 256) {
			*s++ = (char)flags[i].id;
			if (flags[i].arg)
				*s++ = ':';
		}
	}
	longopts[NR_FLAGS] = (struct option){ 0 };
	*s = '\0';
}

static int getopt_error(int c, int argc, char **argv, char *err, size_t err_len)
{
	const struct flag *f = flag_by_id(optopt);
	const char *word = optind > 0 && optind <= argc ? argv[optind - 1] : "";
	char label[64];

	if (c == ':' && f) {
		opts_set_err(err, err_len, "%s needs a value, e.g. --%s %s",
			     flag_label(f, label, sizeof(label)), f->name, f->eg);
	} else if (f && !f->arg) {
		opts_set_err(err, err_len, "--%s takes no value; drop '%s'", f->name,
			     strchr(word, '=') ? strchr(word, '=') : word);
	} else if (optopt && optopt < 256 && isprint(optopt)) {
		opts_set_err(err, err_len, "unknown flag '-%c'; see 'brood run --help'", optopt);
	} else {
		opts_set_err(err, err_len, "unknown or ambiguous flag '%s'; see 'brood run --help'",
			     word);
	}
	return -EINVAL;
}

bool opts_tokens_vary(const struct brood_opts *o)
{
	return o->max_tokens_dist.kind != DIST_TOKENS_CONSTANT;
}

static int check_tokens(struct brood_opts *o, char *err, size_t err_len)
{
	struct dist_tokens *d = &o->max_tokens_dist;

	d->mean = o->max_tokens;
	if (!opts_tokens_vary(o)) {
		if (d->lo || d->stddev > 0) {
			opts_set_err(err, err_len,
				     "--max-tokens-range and --max-tokens-stddev need "
				     "--max-tokens-distribution uniform, normal or exponential");
			return -EINVAL;
		}
		d->lo = d->hi = o->max_tokens;
		if (d->cap && o->max_tokens > d->cap)
			o->max_tokens = d->mean = d->lo = d->hi = d->cap;
		return 0;
	}
	if (d->stddev > 0 && d->kind != DIST_TOKENS_NORMAL) {
		opts_set_err(err, err_len,
			     "--max-tokens-stddev is for --max-tokens-distribution normal");
		return -EINVAL;
	}
	if (!d->lo) {
		d->lo = 1;
		d->hi = d->kind == DIST_TOKENS_UNIFORM ? 2 * o->max_tokens - 1 : OPTS_TOKENS_MAX;
	}
	if (d->kind == DIST_TOKENS_NORMAL && !(d->stddev > 0))
		d->stddev = o->max_tokens / 4.0;
	return 0;
}

/* The profile from --shape or --stages; target is -u or --qps. */
static int build_profile(struct brood_opts *o, char *err, size_t err_len)
{
	bool file_qps = false;
	double target = o->qps > 0 ? o->qps : o->users;
	int ret;

	if (o->shape == OPTS_SHAPE_NONE && !o->stages_path) {
		if (o->step_size > 0 || o->step_ns || o->ramp_ns) {
			opts_set_err(err, err_len,
				     "--step-size, --step-time and --ramp-time need --shape");
			return -EINVAL;
		}
		return 0;
	}
	if (o->sweep) {
		opts_set_err(err, err_len,
			     "brood sweep sets its own levels: drop --shape and --stages");
		return -EINVAL;
	}
	if (o->shape != OPTS_SHAPE_NONE && o->stages_path) {
		opts_set_err(err, err_len, "--shape and --stages exclude each other; keep one");
		return -EINVAL;
	}
	o->stages = calloc(LOAD_MAX_STAGES, sizeof(*o->stages));
	if (!o->stages) {
		opts_set_err(err, err_len, "out of memory");
		return -EINVAL;
	}
	if (o->shape == OPTS_SHAPE_STEP)
		ret = load_shape_step(target, o->step_size, o->step_ns, o->stages, &o->nr_stages,
				      err, err_len);
	else if (o->shape == OPTS_SHAPE_RAMP)
		ret = load_shape_ramp(target, o->ramp_ns ? o->ramp_ns : o->run_time_ns, o->stages,
				      &o->nr_stages, err, err_len);
	else
		ret = load_read_stages(o->stages_path, o->stages, &o->nr_stages, &file_qps, err,
				       err_len);
	if (ret)
		return ret;
	if (o->stages_path) {
		struct sched_profile p = { o->stages, o->nr_stages };
		double top = sched_level_max(&p);

		if (file_qps && o->qps > 0) {
			opts_set_err(err, err_len, "--stages %s gives the rates: drop --qps",
				     o->stages_path);
			return -EINVAL;
		}
		if (!file_qps && o->qps > 0) {
			opts_set_err(
			    err, err_len,
			    "--stages %s gives users (a closed loop): drop --qps, or give qps "
			    "in the file",
			    o->stages_path);
			return -EINVAL;
		}
		if (!(top > 0)) {
			opts_set_err(err, err_len, "--stages %s: every level is 0", o->stages_path);
			return -EINVAL;
		}
		if (file_qps) {
			o->qps = top;
		} else if (!o->users_set) {
			o->users = (unsigned)ceil(top - 1e-9);
		} else if (o->users < top - 1e-9) {
			opts_set_err(err, err_len,
				     "--stages %s reaches %g users: raise -u or drop it",
				     o->stages_path, top);
			return -EINVAL;
		}
		if (!file_qps && top > OPTS_USERS_MAX) {
			opts_set_err(err, err_len, "--stages %s: at most %u users", o->stages_path,
				     OPTS_USERS_MAX);
			return -EINVAL;
		}
	}
	if (!o->run_time_ns) {
		struct sched_profile p = { o->stages, o->nr_stages };

		o->run_time_ns = sched_duration(&p); /* the profile's end ends the run */
	}
	return 0;
}

/* The load model's flags together. */
static int check_load(struct brood_opts *o, char *err, size_t err_len)
{
	int ret;

	if (o->sweep) {
		if (!o->nr_levels) {
			opts_set_err(
			    err, err_len,
			    "brood sweep needs levels: --concurrency 1,2,4,8 or --qps 1:64:x2");
			return -EINVAL;
		}
		if (o->run_time_ns) {
			opts_set_err(err, err_len,
				     "brood sweep: give --level-time per level, not -t");
			return -EINVAL;
		}
		if (!o->level_time_ns)
			o->level_time_ns = 30ull * 1000000000ull;
		if (!o->levels_qps)
			o->users = (unsigned)o->levels[o->nr_levels - 1];
	}
	if (o->qps <= 0 && !o->stages_path) {
		if (o->qps_dist != DIST_ARRIVAL_POISSON || o->burstiness > 0 ||
		    o->max_queue != 10000) {
			opts_set_err(
			    err, err_len,
			    "--qps-distribution, --burstiness and --max-queue are for the open "
			    "loop: add --qps RATE");
			return -EINVAL;
		}
	}
	if (o->burstiness > 0 && o->qps_dist != DIST_ARRIVAL_GAMMA) {
		opts_set_err(err, err_len,
			     "--burstiness shapes gamma arrivals: add --qps-distribution gamma");
		return -EINVAL;
	}
	if (!(o->burstiness > 0))
		o->burstiness = 1;
	ret = build_profile(o, err, err_len);
	if (ret)
		return ret;
	if (o->qps > 0) {
		if (o->wait_ns || o->burst_ns) {
			opts_set_err(
			    err, err_len,
			    "--wait and --burst pace closed-loop users; with --qps the schedule "
			    "sets the pace: drop them");
			return -EINVAL;
		}
		if (!o->users_set)
			o->users = OPTS_OPEN_USERS;
	}
	return check_tokens(o, err, err_len);
}

static int check_combination(struct brood_opts *o, bool prompt_tokens_set, char *err,
			     size_t err_len)
{
	if (o->prompt_text && prompt_tokens_set) {
		opts_set_err(
		    err, err_len,
		    "-p/--prompt-tokens and --prompt-text exclude each other; keep one of them");
		return -EINVAL;
	}
	if (o->prompt_text)
		o->prompt_tokens = 0;
	if ((o->tokenizer_threads || o->tokenizer_max_bytes || o->trace_tokens_path) &&
	    !o->tokenizer) {
		opts_set_err(err, err_len,
			     "--tokenizer-threads, --tokenizer-max-bytes and --trace-tokens need "
			     "--tokenizer SPEC");
		return -EINVAL;
	}
	if (o->metrics_linger_ns && o->metrics_port < 0) {
		opts_set_err(err, err_len,
			     "--metrics-linger needs --metrics-port PORT to serve on");
		return -EINVAL;
	}
	if (o->cacert && o->insecure) {
		opts_set_err(err, err_len,
			     "--cacert and --insecure exclude each other; keep one of them");
		return -EINVAL;
	}
	if (o->trace_chunks && !o->trace_path) {
		opts_set_err(err, err_len, "--trace-chunks needs --trace FILE to write to");
		return -EINVAL;
	}
	if (!o->api_key) {
		const char *env = getenv("OPENAI_API_KEY");

		if (env && *env) {
			if (has_control(env)) {
				opts_set_err(
				    err, err_len,
				    "$OPENAI_API_KEY holds a control character; fix it or pass -k");
				return -EINVAL;
			}
			o->api_key = env;
		}
	}
	if (!o->nr_urls) {
		int ret = url_parse(DEFAULT_HOST, &o->urls[0], err, err_len);

		if (ret)
			return ret;
		o->nr_urls = 1;
	}
	return check_load(o, err, err_len);
}

static int parse(int argc, char **argv, struct brood_opts *o, bool sweep, char *err, size_t err_len)
{
	struct option longopts[NR_FLAGS + 1];
	char shortopts[2 * NR_FLAGS + 3];
	bool prompt_tokens_set = false;
	int c, ret = 0;

	set_defaults(o);
	o->sweep = sweep;
	if (err && err_len)
		err[0] = '\0';
	build_getopt(longopts, shortopts);
	optind = 0; /* glibc: full re-initialisation, so parse can be called again */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?' || c == ':') {
			ret = getopt_error(c, argc, argv, err, err_len);
			goto err;
		}
		ret = apply(o, flag_by_id(c), optarg, &prompt_tokens_set, err, err_len);
		if (ret)
			goto err;
		if (o->help) {
			opts_close(o);
			set_defaults(o);
			o->help = true;
			o->sweep = sweep;
			return 0;
		}
	}
	if (optind < argc) {
		opts_set_err(
		    err, err_len,
		    "unexpected argument '%s'; flags start with '-' (see 'brood run --help')",
		    argv[optind]);
		ret = -EINVAL;
		goto err;
	}
	ret = check_combination(o, prompt_tokens_set, err, err_len);
	if (ret)
		goto err;
	return 0;
err:
	opts_close(o);
	return -EINVAL;
}

int opts_parse_run(int argc, char **argv, struct brood_opts *o, char *err, size_t err_len)
{
	return parse(argc, argv, o, false, err, err_len);
}

int opts_parse_sweep(int argc, char **argv, struct brood_opts *o, char *err, size_t err_len)
{
	return parse(argc, argv, o, true, err, err_len);
}

void opts_close(struct brood_opts *o)
{
	free(o->synth_prompt);
	o->synth_prompt = NULL;
	o->synth_prompt_len = 0;
	free(o->stages);
	o->stages = NULL;
	o->nr_stages = 0;
	free(o->prompt_text);
	o->prompt_text = NULL;
	o->prompt_text_len = 0;
	o->prompt_file = NULL;
}

void opts_usage(FILE *f)
{
	fputs("usage: brood run [flags]\n"
	      "Drives an OpenAI-compatible server (vLLM, SGLang, TGI, ...) with streaming\n"
	      "requests from closed-loop users, or at --qps in an open loop (latency from\n"
	      "the intended send time); flags shared with llm_bench mean the same.\n\n",
	      f);
	for (size_t i = 0; i < NR_FLAGS; i++) {
		char left[64];

		if (flags[i].id < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", flags[i].id, flags[i].name,
				 flags[i].arg ? " " : "", flags[i].arg ? flags[i].arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", flags[i].name,
				 flags[i].arg ? " " : "", flags[i].arg ? flags[i].arg : "");
		fprintf(f, "  %-32s %s\n", left, flags[i].help);
	}
	fputs("\nDURATION: 90 (seconds), 500ms, 20s, 5m or 5min, 1h30m.\n"
	      "Example: brood run -H http://127.0.0.1:8000 -m my-model -u 8 -r 2 -p 512 -o 128 -t "
	      "1min\n",
	      f);
}
