/* SPDX-License-Identifier: MIT */
/*
 * brood-mock fault injection: flag parsing, seeded draws and the log of
 * what was injected. Where each fault acts on the wire is in http.c (the
 * response plan and its bytes) and worker.c (the reset).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fault.h"

static const char *const names[FAULT_NR] = {
	[FAULT_NONE] = "none",
	[FAULT_RESET] = "reset",
	[FAULT_STALL] = "stall",
	[FAULT_SLOW_FIRST_BYTE] = "slow-first-byte",
	[FAULT_SLOW_FIRST_TOKEN] = "slow-first-token",
	[FAULT_429] = "429",
	[FAULT_500] = "500",
	[FAULT_503] = "503",
	[FAULT_BAD_SSE] = "bad-sse",
	[FAULT_BAD_JSON] = "bad-json",
	[FAULT_TRUNCATED_CHUNKED] = "truncated-chunked",
	[FAULT_HUGE_HEADERS] = "huge-headers",
	[FAULT_NO_ANSWER] = "no-answer",
	[FAULT_CLOSE] = "close",
};

const char *fault_name(enum fault_kind k)
{
	return (unsigned)k < FAULT_NR ? names[k] : "unknown";
}

void fault_config_init(struct fault_config *f)
{
	memset(f, 0, sizeof(*f));
	f->param_ns[FAULT_STALL] = 5000000000ull;
	f->param_ns[FAULT_SLOW_FIRST_BYTE] = 2000000000ull;
	f->param_ns[FAULT_SLOW_FIRST_TOKEN] = 2000000000ull;
	f->retry_after_s = 1;
}

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* "5s", "500ms", "2" (seconds): 0..3600 s. Returns 0 or -EINVAL. */
static int parse_dur(const char *s, size_t len, uint64_t *ns)
{
	char buf[32], *end;
	double v, scale = 1e9;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtod(buf, &end);
	if (end == buf)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		scale = 1e6;
	else if (*end && strcmp(end, "s"))
		return -EINVAL;
	if (!isfinite(v) || v < 0 || v > 3600)
		return -EINVAL;
	*ns = (uint64_t)llround(v * scale);
	return 0;
}

/* One KIND=RATE[:PARAM] of len bytes. */
static int parse_one(struct fault_config *f, const char *s, size_t len, char *err, size_t err_len)
{
	const char *eq = memchr(s, '=', len), *colon, *end = s + len;
	char rate_buf[32], *rate_end;
	int kind = -1;
	double rate;

	if (!eq)
		return fail(err, err_len, "--fault: '%.*s' wants KIND=RATE, e.g. reset=0.1",
			    (int)len, s);
	for (int k = FAULT_NONE + 1; k < FAULT_NR; k++)
		if ((size_t)(eq - s) == strlen(names[k]) && !memcmp(s, names[k], (size_t)(eq - s)))
			kind = k;
	if (kind < 0)
		return fail(
		    err, err_len,
		    "--fault: unknown kind '%.*s' (reset, stall, slow-first-byte, "
		    "slow-first-token, 429, 500, 503, bad-sse, bad-json, truncated-chunked, "
		    "huge-headers, no-answer, close)",
		    (int)(eq - s), s);
	colon = memchr(eq, ':', (size_t)(end - eq));
	if ((size_t)((colon ? colon : end) - eq - 1) >= sizeof(rate_buf))
		return fail(err, err_len, "--fault %s: bad rate", names[kind]);
	memcpy(rate_buf, eq + 1, (size_t)((colon ? colon : end) - eq - 1));
	rate_buf[(colon ? colon : end) - eq - 1] = '\0';
	rate = strtod(rate_buf, &rate_end);
	if (rate_end == rate_buf || *rate_end || !isfinite(rate) || rate < 0 || rate > 1)
		return fail(err, err_len, "--fault %s: the rate must be from 0 to 1, not '%s'",
			    names[kind], rate_buf);
	f->rate[kind] = rate;
	if (!colon)
		return 0;
	colon++;
	switch (kind) {
	case FAULT_STALL:
	case FAULT_SLOW_FIRST_BYTE:
	case FAULT_SLOW_FIRST_TOKEN:
		if (parse_dur(colon, (size_t)(end - colon), &f->param_ns[kind]))
			return fail(err, err_len,
				    "--fault %s: '%.*s' is not a duration from 0 to 3600s (5s, "
				    "500ms)",
				    names[kind], (int)(end - colon), colon);
		return 0;
	case FAULT_429: {
		char *e;
		unsigned long v;

		if (!strncmp(colon, "retry-after=", 12))
			colon += 12;
		v = strtoul(colon, &e, 10);
		if (e == colon || e != end || v > 3600)
			return fail(err, err_len,
				    "--fault 429: Retry-After wants whole seconds from 0 to 3600");
		f->retry_after_s = (uint32_t)v;
		return 0;
	}
	default:
		return fail(err, err_len, "--fault %s takes no parameter", names[kind]);
	}
}

int fault_parse(struct fault_config *f, const char *arg, char *err, size_t err_len)
{
	const char *p = arg;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		int ret = parse_one(f, p, len, err, err_len);

		if (ret)
			return ret;
		if (!comma)
			break;
		p = comma + 1;
	}
	f->any = false;
	for (int k = FAULT_NONE + 1; k < FAULT_NR; k++)
		f->any |= f->rate[k] > 0;
	return 0;
}

static uint64_t splitmix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double uniform(uint64_t *prng)
{
	return (double)(splitmix(prng) >> 11) * (1.0 / 9007199254740992.0);
}

uint64_t fault_prng_init(const struct fault_config *f, unsigned worker)
{
	uint64_t x = f->seed ^ ((uint64_t)worker * 0xd1b54a32d192ed03ull);

	splitmix(&x);
	return x;
}

static bool needs_stream(enum fault_kind k)
{
	return k == FAULT_RESET || k == FAULT_STALL || k == FAULT_SLOW_FIRST_TOKEN ||
	       k == FAULT_BAD_SSE || k == FAULT_BAD_JSON || k == FAULT_TRUNCATED_CHUNKED;
}

enum fault_kind fault_draw(const struct fault_config *f, uint64_t *prng, bool stream, bool *close)
{
	enum fault_kind got = FAULT_NONE;

	*close = false;
	if (!f->any)
		return FAULT_NONE;
	/* Every kind draws every time, so one kind's rate does not shift the
	 * sequence the others see. */
	for (int k = FAULT_NONE + 1; k < FAULT_CLOSE; k++) {
		bool hit = f->rate[k] > 0 && uniform(prng) < f->rate[k];

		if (hit && got == FAULT_NONE && (stream || !needs_stream((enum fault_kind)k)))
			got = (enum fault_kind)k;
	}
	*close = f->rate[FAULT_CLOSE] > 0 && uniform(prng) < f->rate[FAULT_CLOSE];
	return got;
}

int fault_log_write(const char *path, uint64_t requests, const uint64_t counts[FAULT_NR])
{
	char buf[1024];
	size_t len = 0;
	int fd, ret = 0;

	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "{\"requests\": %llu, \"faults\": {",
				(unsigned long long)requests);
	for (int k = FAULT_NONE + 1; k < FAULT_NR; k++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s\"%s\": %llu",
					k > FAULT_NONE + 1 ? ", " : "", names[k],
					(unsigned long long)counts[k]);
	len += (size_t)snprintf(buf + len, sizeof(buf) - len, "}}\n");
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, buf, len) != (ssize_t)len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	return ret;
}
