/* SPDX-License-Identifier: MIT */
/*
 * Server-Sent Events, after the WHATWG "event stream interpretation".
 *
 * The common case costs one scan: an event that lies in one feed with one
 * data line is handed back as views into that feed. Anything else (an event
 * cut by a feed boundary, several data lines) is gathered in the caller's
 * spill buffer as "segments" in arrival order: each data line's value plus
 * '\n', and the last event type and id values, whose places are kept in
 * event_off/id_off. At dispatch the event type and id are rotated behind the
 * data, so that the data is one run at the start of spill.
 */
#include "sse.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
	F_BOM_DONE = 1u << 0,  /* the stream's first bytes were checked for a BOM */
	F_CR = 1u << 1,	       /* a '\r' line end ended the last feed: skip one '\n' */
	F_PARTIAL = 1u << 2,   /* spill[line_off, spill_len) is an unfinished line */
	F_DROP_LINE = 1u << 3, /* the rest of the current line is ignored */
	F_SKIP = 1u << 4,      /* dropping an oversized event up to its blank line */
	F_DATA = 1u << 5,      /* data segments of the pending event are in spill */
	F_EVENT = 1u << 6,     /* the pending event type is in spill */
	F_ID = 1u << 7,	       /* the pending id is in spill */
};
#define F_FIELDS (F_DATA | F_EVENT | F_ID)

/*
 * The pending event while its fields are views into the current feed. The
 * fields of one event are either all views or all in spill (p->flags).
 */
struct views {
	const char *data, *event, *id;
	size_t data_len, event_len, id_len;
	unsigned has; /* F_DATA, F_EVENT, F_ID */
};

static const char empty[] = "";

void sse_reset(struct sse_parser *p)
{
	p->spill_len = 0;
	p->state = 0;
	p->flags = 0;
	p->nr_oversized = 0;
	p->raw_len = 0;
	p->line_off = 0;
	p->event_off = p->event_len = 0;
	p->id_off = p->id_len = 0;
}

void sse_init(struct sse_parser *p, char *spill, size_t spill_cap)
{
	p->spill = spill;
	p->spill_cap = spill_cap;
	sse_reset(p);
}

/*
 * First '\r' or '\n' in [s, end), or end. Bytes from lo up are readable: the
 * last short block is read as the 16 bytes ending at end, so that nothing
 * past end is touched.
 */
static const char *find_eol(const char *lo, const char *s, const char *end)
{
#ifdef __SSE2__
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	unsigned mask;

	for (; end - s >= 16; s += 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);

		mask = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		if (mask)
			return s + __builtin_ctz(mask);
	}
	if (s != end && end - lo >= 16) {
		__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(end - 16));

		mask = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, lf)));
		mask >>= 16 - (end - s);
		return mask ? s + __builtin_ctz(mask) : end;
	}
#else
	(void)lo;
#endif
	for (; s != end; s++)
		if (*s == '\r' || *s == '\n')
			return s;
	return end;
}

/* Steps over the line end at eol; a '\r' that ends the feed may own a '\n'. */
static const char *after_eol(struct sse_parser *p, const char *eol, const char *end)
{
	if (*eol == '\n')
		return eol + 1;
	if (eol + 1 == end) {
		p->flags |= F_CR;
		return end;
	}
	return eol + 1 + (eol[1] == '\n');
}

/*
 * Appends to spill; src may lie in spill above spill_len. Never overflows:
 * what spill holds is never more than raw_len, which is kept <= spill_cap.
 */
static void spill_put(struct sse_parser *p, const char *src, size_t n)
{
	memmove(p->spill + p->spill_len, src, n);
	p->spill_len += n;
}

static void spill_data(struct sse_parser *p, const char *src, size_t n)
{
	spill_put(p, src, n);
	p->spill[p->spill_len++] = '\n';
	p->flags |= F_DATA;
}

/* Sets the event type (which == F_EVENT) or the id (F_ID): the last one wins. */
static void spill_set(struct sse_parser *p, unsigned which, const char *src, size_t n)
{
	bool is_event = which == F_EVENT;
	size_t *off = is_event ? &p->event_off : &p->id_off;
	size_t *len = is_event ? &p->event_len : &p->id_len;
	size_t *other_off = is_event ? &p->id_off : &p->event_off;
	unsigned other = is_event ? F_ID : F_EVENT;
	size_t new_off = p->spill_len;

	spill_put(p, src, n);
	if (p->flags & which) {
		/* Drop the value this one replaces: what follows it moves down. */
		size_t old_end = *off + *len;

		memmove(p->spill + *off, p->spill + old_end, p->spill_len - old_end);
		p->spill_len -= *len;
		new_off -= *len;
		if ((p->flags & other) && *other_off > *off)
			*other_off -= *len;
	}
	*off = new_off;
	*len = n;
	p->flags |= which;
}

/* Moves the pending event from views into spill (empty for it so far). */
static void spill_views(struct sse_parser *p, struct views *v)
{
	if (v->has & F_DATA)
		spill_data(p, v->data, v->data_len);
	if (v->has & F_EVENT)
		spill_set(p, F_EVENT, v->event, v->event_len);
	if (v->has & F_ID)
		spill_set(p, F_ID, v->id, v->id_len);
	v->has = 0;
}

/*
 * One field. from_spill: the line was gathered in spill across feeds, so the
 * event is gathered there too (views would not outlive this call).
 */
static void set_field(struct sse_parser *p, struct views *v, unsigned which, const char *val,
		      size_t n, bool from_spill)
{
	if (!(p->flags & F_FIELDS) && !from_spill) {
		if (!(which & v->has & F_DATA)) {
			if (which == F_DATA) {
				v->data = val;
				v->data_len = n;
			} else if (which == F_EVENT) {
				v->event = val;
				v->event_len = n;
			} else {
				v->id = val;
				v->id_len = n;
			}
			v->has |= which;
			return;
		}
		/* A second data line: the lines are joined in spill. */
		spill_views(p, v);
	}
	if (which == F_DATA)
		spill_data(p, val, n);
	else
		spill_set(p, which, val, n);
}

/* A complete line, not blank and not a comment, without its line end. */
static void field_line(struct sse_parser *p, struct views *v, const char *line, size_t n,
		       bool from_spill)
{
	const char *val, *colon;
	size_t name_len, val_len;
	unsigned which;

	if (n >= 5 && memcmp(line, "data:", 5) == 0) {
		name_len = 4;
		val = line + 5;
	} else {
		colon = memchr(line, ':', n);
		name_len = colon ? (size_t)(colon - line) : n;
		val = colon ? colon + 1 : line + n;
	}
	val_len = (size_t)(line + n - val);
	if (val_len && *val == ' ') {
		val++;
		val_len--;
	}
	if (name_len == 4 && memcmp(line, "data", 4) == 0)
		which = F_DATA;
	else if (name_len == 5 && memcmp(line, "event", 5) == 0)
		which = F_EVENT;
	else if (name_len == 2 && memcmp(line, "id", 2) == 0 && !memchr(val, '\0', val_len))
		which = F_ID;
	else
		return; /* retry, unknown fields, ids with NUL: ignored */
	set_field(p, v, which, val, val_len, from_spill);
}

/* Forgets the pending event: after a blank line, or when it grew too large. */
static void drop_event(struct sse_parser *p, struct views *v)
{
	v->has = 0;
	p->flags &= ~(F_FIELDS | F_PARTIAL | F_SKIP);
	p->spill_len = 0;
	p->raw_len = 0;
}

static void overflow(struct sse_parser *p, struct views *v, bool mid_line)
{
	drop_event(p, v);
	p->flags |= F_SKIP | (mid_line ? F_DROP_LINE : 0);
	p->nr_oversized++;
}

/* Counts n more bytes of field lines; false (and skipping) when over spill_cap. */
static bool account(struct sse_parser *p, struct views *v, size_t n, bool mid_line)
{
	p->raw_len += n;
	if (p->raw_len <= p->spill_cap)
		return true;
	overflow(p, v, mid_line);
	return false;
}

/* Reverses b[lo, hi). */
static void reverse(char *b, size_t lo, size_t hi)
{
	while (lo + 1 < hi) {
		char t = b[lo];

		b[lo++] = b[--hi];
		b[hi] = t;
	}
}

/* Moves b[off, off + n) behind the rest of b[off, total). */
static void rotate_to_end(char *b, size_t off, size_t n, size_t total)
{
	reverse(b, off, off + n);
	reverse(b, off + n, total);
	reverse(b, off, total);
}

static void dispatch(struct sse_parser *p, const struct views *v, struct sse_event *ev)
{
	ev->event = ev->id = empty;
	ev->event_len = ev->id_len = 0;
	if (p->flags & F_FIELDS) {
		size_t total = p->spill_len;

		if (p->flags & F_EVENT) {
			rotate_to_end(p->spill, p->event_off, p->event_len, total);
			if ((p->flags & F_ID) && p->id_off > p->event_off)
				p->id_off -= p->event_len;
			total -= p->event_len;
			ev->event = p->spill + total;
			ev->event_len = p->event_len;
		}
		if (p->flags & F_ID) {
			rotate_to_end(p->spill, p->id_off, p->id_len, total);
			total -= p->id_len;
			ev->id = p->spill + total;
			ev->id_len = p->id_len;
		}
		ev->data = p->spill;
		ev->data_len = total - 1; /* the last data line's '\n' */
	} else {
		ev->data = v->data;
		ev->data_len = v->data_len;
		if (v->has & F_EVENT) {
			ev->event = v->event;
			ev->event_len = v->event_len;
		}
		if (v->has & F_ID) {
			ev->id = v->id;
			ev->id_len = v->id_len;
		}
	}
	ev->done = ev->data_len == 6 && memcmp(ev->data, "[DONE]", 6) == 0;
}

/*
 * A leading UTF-8 BOM is skipped, also when cut across feeds. Bytes taken
 * for one that turn out not to be start the first line, in spill.
 */
static const char *skip_bom(struct sse_parser *p, const char *s, const char *end)
{
	static const char bom[3] = { '\xef', '\xbb', '\xbf' };

	for (; s != end; s++) {
		if (*s != bom[p->state]) {
			p->flags |= F_BOM_DONE;
			if (p->state) {
				p->raw_len = p->state;
				p->line_off = 0;
				if (p->raw_len > p->spill_cap) {
					p->raw_len = 0;
					p->flags |= F_SKIP | F_DROP_LINE;
					p->nr_oversized++;
				} else {
					spill_put(p, bom, p->state);
					p->flags |= F_PARTIAL;
				}
			}
			p->state = 0;
			return s;
		}
		if (++p->state == 3) {
			p->flags |= F_BOM_DONE;
			p->state = 0;
			return s + 1;
		}
	}
	return s;
}

/* A line that does not end in this feed. */
static void start_partial(struct sse_parser *p, struct views *v, const char *s, const char *end)
{
	if ((p->flags & F_SKIP) || *s == ':') {
		p->flags |= F_DROP_LINE;
		return;
	}
	if (!account(p, v, (size_t)(end - s), true))
		return;
	if (v->has)
		spill_views(p, v);
	p->line_off = p->spill_len;
	spill_put(p, s, (size_t)(end - s));
	p->flags |= F_PARTIAL;
}

/* The rest of a line that began in an earlier feed. */
static const char *finish_line(struct sse_parser *p, struct views *v, const char *lo, const char *s,
			       const char *end)
{
	const char *eol = find_eol(lo, s, end);
	size_t n = (size_t)(eol - s);

	if (p->flags & F_DROP_LINE) {
		if (eol == end)
			return end;
		p->flags &= ~F_DROP_LINE;
		return after_eol(p, eol, end);
	}
	if (!account(p, v, n + (eol != end), eol == end))
		return eol == end ? end : after_eol(p, eol, end);
	spill_put(p, s, n);
	if (eol == end)
		return end;
	p->flags &= ~F_PARTIAL;
	n = p->spill_len - p->line_off;
	p->spill_len = p->line_off;
	field_line(p, v, p->spill + p->line_off, n, true);
	return after_eol(p, eol, end);
}

ssize_t sse_feed(struct sse_parser *p, const char *buf, size_t len, struct sse_event *ev)
{
	const char *s = buf, *end = buf + len, *eol;
	struct views v = { .has = 0 };

	if (!(p->flags & F_BOM_DONE))
		s = skip_bom(p, s, end);
	while (s != end) {
		if (p->flags & F_CR) {
			p->flags &= ~F_CR;
			if (*s == '\n') {
				s++;
				continue;
			}
		}
		if (p->flags & (F_PARTIAL | F_DROP_LINE)) {
			s = finish_line(p, &v, buf, s, end);
			continue;
		}
		if (*s == '\n' || *s == '\r') {
			bool has_data = ((p->flags | v.has) & F_DATA) && !(p->flags & F_SKIP);

			s = after_eol(p, s, end);
			if (has_data) {
				dispatch(p, &v, ev);
				drop_event(p, &v);
				return s - buf;
			}
			drop_event(p, &v);
			continue;
		}
		eol = find_eol(buf, s, end);
		if (eol == end) {
			start_partial(p, &v, s, end);
			break;
		}
		if (!(p->flags & F_SKIP) && *s != ':' &&
		    account(p, &v, (size_t)(eol - s) + 1, false))
			field_line(p, &v, s, (size_t)(eol - s), false);
		s = after_eol(p, eol, end);
	}
	if (v.has)
		spill_views(p, &v);
	if (p->nr_oversized) {
		p->nr_oversized--;
		return -EPROTO;
	}
	return -EAGAIN;
}

bool sse_pending(const struct sse_parser *p)
{
	return p->raw_len || (p->flags & (F_PARTIAL | F_SKIP | F_DROP_LINE));
}
