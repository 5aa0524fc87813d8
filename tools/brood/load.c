/* SPDX-License-Identifier: MIT */
/*
 * Load-model specs from the command line and stage files: see load.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "load.h"
#include "opts.h"

#define STAGES_FILE_MAX (1u << 20) /* bytes */
#define LEVEL_MAX	1e7

/* A plain decimal number (no sign, exponent, hex, inf or nan). */
static int parse_decimal(const char *s, size_t len, double *v)
{
	char buf[64], *end;

	if (!len || len >= sizeof(buf) || strspn(s, "0123456789.") < len)
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	*v = strtod(buf, &end);
	if (errno || *end || end == buf || !isfinite(*v))
		return -EINVAL;
	return 0;
}

int load_parse_slo(const char *s, struct engine_slo *slo, double *attainment, char *err,
		   size_t err_len)
{
	const char *p = s;
	bool any = false;

	memset(slo, 0, sizeof(*slo));
	*attainment = 0.9;
	while (*p) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		char key[16], val[64];
		uint64_t *dst = NULL;
		size_t klen = eq ? (size_t)(eq - p) : 0;

		if (!eq || !klen || klen >= sizeof(key) || len - klen - 1 >= sizeof(val) ||
		    len - klen - 1 == 0) {
			opts_set_err(
			    err, err_len,
			    "--slo %s: write KEY=VALUE pairs, e.g. ttft=500ms,itl=50ms,e2e=20s", s);
			return -EINVAL;
		}
		memcpy(key, p, klen);
		key[klen] = '\0';
		memcpy(val, eq + 1, len - klen - 1);
		val[len - klen - 1] = '\0';
		if (!strcmp(key, "attainment")) {
			if (parse_decimal(val, strlen(val), attainment) || *attainment <= 0 ||
			    *attainment > 1) {
				opts_set_err(
				    err, err_len,
				    "--slo attainment=%s: give a share above 0, at most 1, "
				    "e.g. 0.9",
				    val);
				return -EINVAL;
			}
		} else {
			if (!strcmp(key, "ttft"))
				dst = &slo->ttft_ns;
			else if (!strcmp(key, "itl"))
				dst = &slo->itl_ns;
			else if (!strcmp(key, "itl_max"))
				dst = &slo->itl_max_ns;
			else if (!strcmp(key, "tpot"))
				dst = &slo->tpot_ns;
			else if (!strcmp(key, "e2e"))
				dst = &slo->e2e_ns;
			if (!dst) {
				opts_set_err(
				    err, err_len,
				    "--slo: unknown bound '%s'; use ttft, itl, itl_max, tpot, e2e "
				    "or attainment",
				    key);
				return -EINVAL;
			}
			if (opts_parse_duration(val, dst)) {
				opts_set_err(
				    err, err_len,
				    "--slo %s=%s: not a positive duration; write e.g. 500ms", key,
				    val);
				return -EINVAL;
			}
			any = true;
		}
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!any) {
		opts_set_err(err, err_len, "--slo %s: name at least one bound, e.g. ttft=500ms", s);
		return -EINVAL;
	}
	return 0;
}

int load_parse_range(const char *flag, const char *s, uint32_t max, uint32_t *lo, uint32_t *hi,
		     char *err, size_t err_len)
{
	const char *colon = strchr(s, ':');
	double a, b;

	if (!colon || parse_decimal(s, (size_t)(colon - s), &a) ||
	    parse_decimal(colon + 1, strlen(colon + 1), &b) || a != floor(a) || b != floor(b) ||
	    a < 1 || b < a || b > max) {
		opts_set_err(err, err_len,
			     "%s %s: write LO:HI, whole numbers with 1 <= LO <= HI <= %u", flag, s,
			     max);
		return -EINVAL;
	}
	*lo = (uint32_t)a;
	*hi = (uint32_t)b;
	return 0;
}

int load_parse_levels(const char *flag, const char *s, bool whole, double *levels, unsigned *nr,
		      char *err, size_t err_len)
{
	const char *c1 = strchr(s, ':');

	*nr = 0;
	if (c1) {
		const char *c2 = strchr(c1 + 1, ':');
		double a, b, step;
		bool mul;

		if (!c2 || (c2[1] != 'x' && c2[1] != '+') ||
		    parse_decimal(s, (size_t)(c1 - s), &a) ||
		    parse_decimal(c1 + 1, (size_t)(c2 - c1 - 1), &b) ||
		    parse_decimal(c2 + 2, strlen(c2 + 2), &step))
			goto bad;
		mul = c2[1] == 'x';
		if (a <= 0 || b < a || b > LEVEL_MAX || (mul ? step <= 1 : step <= 0))
			goto bad;
		for (double v = a; v <= b * (1 + 1e-12); v = mul ? v * step : v + step) {
			if (*nr == LOAD_MAX_LEVELS) {
				opts_set_err(err, err_len,
					     "%s %s: more than %d levels; take bigger steps", flag,
					     s, LOAD_MAX_LEVELS);
				return -EINVAL;
			}
			levels[(*nr)++] = whole ? floor(v + 1e-9) : v;
		}
	} else {
		const char *p = s;

		for (;;) {
			const char *comma = strchr(p, ',');
			size_t len = comma ? (size_t)(comma - p) : strlen(p);
			double v;

			if (parse_decimal(p, len, &v) || v <= 0 || v > LEVEL_MAX)
				goto bad;
			if (*nr == LOAD_MAX_LEVELS) {
				opts_set_err(err, err_len, "%s: more than %d levels", flag,
					     LOAD_MAX_LEVELS);
				return -EINVAL;
			}
			if (*nr && v <= levels[*nr - 1]) {
				opts_set_err(err, err_len, "%s %s: list levels in increasing order",
					     flag, s);
				return -EINVAL;
			}
			levels[(*nr)++] = v;
			if (!comma)
				break;
			p = comma + 1;
		}
	}
	for (unsigned i = 0; i < *nr; i++) {
		if (whole && (levels[i] != floor(levels[i]) || levels[i] < 1))
			goto bad;
		if (i && levels[i] <= levels[i - 1]) {
			opts_set_err(err, err_len,
				     "%s %s: the steps repeat a level; take bigger steps", flag, s);
			return -EINVAL;
		}
	}
	return 0;
bad:
	opts_set_err(err, err_len,
		     "%s %s: write levels as 1,2,4,8 or START:END:xFACTOR (1:64:x2) or "
		     "START:END:+STEP (8:64:+8)%s",
		     flag, s, whole ? ", whole numbers" : "");
	return -EINVAL;
}

int load_shape_step(double target, double step_size, uint64_t step_ns, struct sched_stage *stages,
		    unsigned *nr, char *err, size_t err_len)
{
	unsigned n = 0;

	if (!(step_size > 0) || !step_ns || !(target > 0)) {
		opts_set_err(err, err_len,
			     "--shape step needs --step-size N above 0 and --step-time DURATION");
		return -EINVAL;
	}
	for (double v = step_size; v < target + step_size - 1e-9; v += step_size) {
		double level = v < target ? v : target;

		if (n == LOAD_MAX_STAGES) {
			opts_set_err(err, err_len,
				     "--shape step: more than %d steps; take bigger steps",
				     LOAD_MAX_STAGES);
			return -EINVAL;
		}
		stages[n++] = (struct sched_stage){ step_ns, level, level };
	}
	*nr = n;
	return 0;
}

int load_shape_ramp(double target, uint64_t ramp_ns, struct sched_stage *stages, unsigned *nr,
		    char *err, size_t err_len)
{
	if (!ramp_ns || !(target > 0)) {
		opts_set_err(err, err_len, "--shape ramp needs --ramp-time DURATION (or -t)");
		return -EINVAL;
	}
	stages[0] = (struct sched_stage){ ramp_ns, 0, target };
	*nr = 1;
	return 0;
}

/* ---- stages files ---- */

static int add_stage(struct sched_stage *stages, unsigned *nr, uint64_t dur_ns, double level,
		     bool ramp, const char *name, unsigned where, char *err, size_t err_len)
{
	double prev = *nr ? stages[*nr - 1].to : 0;

	if (*nr == LOAD_MAX_STAGES) {
		opts_set_err(err, err_len, "%s: more than %d stages", name, LOAD_MAX_STAGES);
		return -EINVAL;
	}
	if (!(level >= 0) || level > LEVEL_MAX) {
		opts_set_err(err, err_len, "%s: stage %u: the level must be from 0 to %g", name,
			     where, LEVEL_MAX);
		return -EINVAL;
	}
	stages[(*nr)++] = (struct sched_stage){ dur_ns, ramp ? prev : level, level };
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int parse_csv(const char *name, char *text, struct sched_stage *stages, unsigned *nr,
		     bool *qps, char *err, size_t err_len)
{
	char *save = NULL, *line;
	bool header = false, has_ramp = false;
	unsigned lineno = 0;

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[3] = { 0 }, *p = trim(line);
		unsigned nf = 0;
		uint64_t dur;
		double level;

		lineno++;
		if (!*p || *p == '#')
			continue;
		while (nf < 3 && p)
			f[nf++] = trim(strsep(&p, ","));
		if (p) {
			opts_set_err(err, err_len, "%s:%u: more than 3 columns", name, lineno);
			return -EINVAL;
		}
		if (!header) {
			if (nf < 2 || strcasecmp(f[0], "duration") ||
			    (strcasecmp(f[1], "users") && strcasecmp(f[1], "qps")) ||
			    (nf == 3 && strcasecmp(f[2], "ramp"))) {
				opts_set_err(
				    err, err_len,
				    "%s:%u: the first line must be the header duration,users or "
				    "duration,qps (then optionally ,ramp)",
				    name, lineno);
				return -EINVAL;
			}
			*qps = !strcasecmp(f[1], "qps");
			has_ramp = nf == 3;
			header = true;
			continue;
		}
		if (nf != (has_ramp ? 3u : 2u) || opts_parse_duration(f[0], &dur) ||
		    parse_decimal(f[1], strlen(f[1]), &level) ||
		    (has_ramp && strcmp(f[2], "0") && strcmp(f[2], "1"))) {
			opts_set_err(err, err_len, "%s:%u: write DURATION,LEVEL%s, e.g. 30s,10%s",
				     name, lineno, has_ramp ? ",RAMP(0|1)" : "",
				     has_ramp ? ",0" : "");
			return -EINVAL;
		}
		if (add_stage(stages, nr, dur, level, has_ramp && f[2][0] == '1', name, lineno, err,
			      err_len))
			return -EINVAL;
	}
	if (!header) {
		opts_set_err(err, err_len, "%s: empty; write a header duration,users then stages",
			     name);
		return -EINVAL;
	}
	return 0;
}

/* A tiny JSON reader for [{"key": value, ...}, ...] with string, number
 * and boolean values: all a stages file holds. */
struct jr {
	const char *p, *end;
};

static void jr_ws(struct jr *j)
{
	while (j->p < j->end && isspace((unsigned char)*j->p))
		j->p++;
}

static bool jr_lit(struct jr *j, char ch)
{
	jr_ws(j);
	if (j->p < j->end && *j->p == ch) {
		j->p++;
		return true;
	}
	return false;
}

/* A string without escapes into buf. */
static bool jr_str(struct jr *j, char *buf, size_t len)
{
	const char *q;

	if (!jr_lit(j, '"'))
		return false;
	q = memchr(j->p, '"', (size_t)(j->end - j->p));
	if (!q || (size_t)(q - j->p) >= len || memchr(j->p, '\\', (size_t)(q - j->p)))
		return false;
	memcpy(buf, j->p, (size_t)(q - j->p));
	buf[q - j->p] = '\0';
	j->p = q + 1;
	return true;
}

/* A scalar: string (copied), number or true/false (as text) into buf. */
static bool jr_scalar(struct jr *j, char *buf, size_t len, bool *is_str)
{
	size_t n = 0;

	jr_ws(j);
	*is_str = j->p < j->end && *j->p == '"';
	if (*is_str)
		return jr_str(j, buf, len);
	while (j->p + n < j->end && (isalnum((unsigned char)j->p[n]) || j->p[n] == '.'))
		n++;
	if (!n || n >= len)
		return false;
	memcpy(buf, j->p, n);
	buf[n] = '\0';
	j->p += n;
	return true;
}

static int parse_json(const char *name, const char *text, size_t len, struct sched_stage *stages,
		      unsigned *nr, bool *qps, char *err, size_t err_len)
{
	struct jr j = { text, text + len };
	bool wrapped = false, kind_known = false;
	unsigned idx = 0;

	if (jr_lit(&j, '{')) {
		char key[32];

		/* {"stages": [...]} */
		if (!jr_str(&j, key, sizeof(key)) || strcmp(key, "stages") || !jr_lit(&j, ':'))
			goto bad;
		wrapped = true;
	}
	if (!jr_lit(&j, '['))
		goto bad;
	if (jr_lit(&j, ']'))
		goto empty;
	do {
		uint64_t dur = 0;
		double level = -1;
		bool ramp = false, stage_qps = false;

		idx++;
		if (!jr_lit(&j, '{'))
			goto bad;
		do {
			char key[32], val[64];
			bool is_str;

			if (!jr_str(&j, key, sizeof(key)) || !jr_lit(&j, ':') ||
			    !jr_scalar(&j, val, sizeof(val), &is_str))
				goto bad;
			if (!strcmp(key, "duration")) {
				if (opts_parse_duration(val, &dur))
					goto bad_stage;
			} else if (!strcmp(key, "users") || !strcmp(key, "qps")) {
				if (is_str || parse_decimal(val, strlen(val), &level))
					goto bad_stage;
				stage_qps = !strcmp(key, "qps");
				if (kind_known && stage_qps != *qps) {
					opts_set_err(
					    err, err_len,
					    "%s: stage %u: every stage gives users, or every "
					    "stage qps, not both",
					    name, idx);
					return -EINVAL;
				}
				*qps = stage_qps;
				kind_known = true;
			} else if (!strcmp(key, "ramp")) {
				if (is_str || (strcmp(val, "true") && strcmp(val, "false")))
					goto bad_stage;
				ramp = !strcmp(val, "true");
			} else {
				opts_set_err(
				    err, err_len,
				    "%s: stage %u: unknown key '%s'; use duration, users or "
				    "qps, ramp",
				    name, idx, key);
				return -EINVAL;
			}
		} while (jr_lit(&j, ','));
		if (!jr_lit(&j, '}'))
			goto bad;
		if (!dur || level < 0)
			goto bad_stage;
		if (add_stage(stages, nr, dur, level, ramp, name, idx, err, err_len))
			return -EINVAL;
	} while (jr_lit(&j, ','));
	if (!jr_lit(&j, ']') || (wrapped && !jr_lit(&j, '}')))
		goto bad;
	jr_ws(&j);
	if (j.p != j.end)
		goto bad;
	return 0;
bad_stage:
	opts_set_err(
	    err, err_len,
	    "%s: stage %u: give \"duration\" (e.g. \"30s\") and \"users\" or \"qps\" (a number "
	    ">= 0)",
	    name, idx);
	return -EINVAL;
empty:
	opts_set_err(err, err_len, "%s: no stages", name);
	return -EINVAL;
bad:
	opts_set_err(err, err_len,
		     "%s: not a stages list; write [{\"duration\": \"30s\", \"users\": 10}, ...]%s",
		     name, idx ? " (near a stage)" : "");
	return -EINVAL;
}

int load_parse_stages(const char *name, const char *text, size_t len, struct sched_stage *stages,
		      unsigned *nr, bool *qps, char *err, size_t err_len)
{
	size_t i = 0;
	int ret;

	*nr = 0;
	*qps = false;
	while (i < len && isspace((unsigned char)text[i]))
		i++;
	if (i < len && (text[i] == '[' || text[i] == '{')) {
		ret = parse_json(name, text, len, stages, nr, qps, err, err_len);
	} else {
		char *copy = malloc(len + 1);

		if (!copy) {
			opts_set_err(err, err_len, "%s: out of memory", name);
			return -EINVAL;
		}
		memcpy(copy, text, len);
		copy[len] = '\0';
		ret = parse_csv(name, copy, stages, nr, qps, err, err_len);
		free(copy);
	}
	if (!ret && !*nr) {
		opts_set_err(err, err_len, "%s: no stages", name);
		return -EINVAL;
	}
	return ret;
}

int load_read_stages(const char *path, struct sched_stage *stages, unsigned *nr, bool *qps,
		     char *err, size_t err_len)
{
	struct stat st;
	char *text;
	size_t got = 0;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		opts_set_err(err, err_len, "--stages %s: cannot open: %s", path, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)STAGES_FILE_MAX) {
		opts_set_err(err, err_len, "--stages %s: not a regular file of at most %u bytes",
			     path, STAGES_FILE_MAX);
		close(fd);
		return -EINVAL;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		close(fd);
		opts_set_err(err, err_len, "--stages %s: out of memory", path);
		return -EINVAL;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, text + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	ret = load_parse_stages(path, text, got, stages, nr, qps, err, err_len);
	free(text);
	return ret;
}
