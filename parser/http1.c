/* SPDX-License-Identifier: MIT */
/*
 * HTTP/1.1 heads and chunked bodies, after RFC 9112. Strict where the RFC lets
 * a recipient choose: lines end in CRLF (no bare LF), no whitespace between a
 * field name and its colon, no obs-fold, status codes of three digits. A
 * server that sends anything else is measured as malformed, not guessed at.
 */
#include "http1.h"

#include <errno.h>
#include <string.h>

/* Character classes, one bit each. */
#define C_TOKEN	 1 /* tchar: field names, methods, chunk-ext names and tokens */
#define C_VALUE	 2 /* field-value octets: VCHAR, obs-text, SP, HTAB */
#define C_QDTEXT 4 /* quoted-string text: HTAB, SP, VCHAR except '"' and '\\', obs-text */
#define C_HEX	 8

static const unsigned char cclass[256] = {
	['\t'] = C_VALUE | C_QDTEXT,
	[' '] = C_VALUE | C_QDTEXT,
	['!'] = C_TOKEN | C_VALUE | C_QDTEXT,
	['"'] = C_VALUE,
	['#' ... '\''] = C_TOKEN | C_VALUE | C_QDTEXT,
	['(' ... ')'] = C_VALUE | C_QDTEXT,
	['*' ... '+'] = C_TOKEN | C_VALUE | C_QDTEXT,
	[','] = C_VALUE | C_QDTEXT,
	['-' ... '.'] = C_TOKEN | C_VALUE | C_QDTEXT,
	['/'] = C_VALUE | C_QDTEXT,
	['0' ... '9'] = C_TOKEN | C_VALUE | C_QDTEXT | C_HEX,
	[':' ... '@'] = C_VALUE | C_QDTEXT,
	['A' ... 'F'] = C_TOKEN | C_VALUE | C_QDTEXT | C_HEX,
	['G' ... 'Z'] = C_TOKEN | C_VALUE | C_QDTEXT,
	['['] = C_VALUE | C_QDTEXT,
	['\\'] = C_VALUE,
	[']'] = C_VALUE | C_QDTEXT,
	['^' ... '`'] = C_TOKEN | C_VALUE | C_QDTEXT,
	['a' ... 'f'] = C_TOKEN | C_VALUE | C_QDTEXT | C_HEX,
	['g' ... 'z'] = C_TOKEN | C_VALUE | C_QDTEXT,
	['{'] = C_VALUE | C_QDTEXT,
	['|'] = C_TOKEN | C_VALUE | C_QDTEXT,
	['}'] = C_VALUE | C_QDTEXT,
	['~'] = C_TOKEN | C_VALUE | C_QDTEXT,
	[0x80 ... 0xff] = C_VALUE | C_QDTEXT,
};

static inline int is_class(unsigned char c, unsigned cls)
{
	return cclass[c] & cls;
}

static inline int lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of a view with a lower-case literal. */
static bool eq_lower(const char *s, size_t len, const char *lit, size_t lit_len)
{
	if (len != lit_len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (lower((unsigned char)s[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

#define EQ_LIT(s, len, lit) eq_lower(s, len, lit, sizeof(lit) - 1)

/* Expects "\r\n" at *pp. */
static int parse_crlf(const char **pp, const char *end)
{
	const char *p = *pp;

	if (p == end)
		return -EAGAIN;
	if (*p != '\r')
		return -EPROTO;
	if (++p == end)
		return -EAGAIN;
	if (*p != '\n')
		return -EPROTO;
	*pp = p + 1;
	return 0;
}

/* "HTTP/1.x" */
static int parse_version(const char **pp, const char *end, int *minor_version)
{
	static const char prefix[] = "HTTP/1.";
	const char *p = *pp;
	size_t n = (size_t)(end - p);

	if (n > sizeof(prefix) - 1)
		n = sizeof(prefix) - 1;
	if (memcmp(p, prefix, n) != 0)
		return -EPROTO;
	p += n;
	if (n < sizeof(prefix) - 1 || p == end)
		return -EAGAIN;
	if (*p != '0' && *p != '1')
		return -EPROTO;
	*minor_version = *p - '0';
	*pp = p + 1;
	return 0;
}

/* One "name: value\r\n" line, with *pp at its first byte (not a CR). */
static int parse_header(const char **pp, const char *end, struct http1_header *h)
{
	const char *p = *pp, *v, *vend;
	int ret;

	h->name = p;
	while (p != end && is_class((unsigned char)*p, C_TOKEN))
		p++;
	if (p == end)
		return -EAGAIN;
	if (*p != ':' || p == h->name)
		return -EPROTO;
	h->name_len = (size_t)(p - h->name);
	p++;
	while (p != end && (*p == ' ' || *p == '\t'))
		p++;
	v = p;
	while (p != end && is_class((unsigned char)*p, C_VALUE))
		p++;
	vend = p;
	ret = parse_crlf(&p, end);
	if (ret < 0)
		return ret;
	while (vend != v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	h->value = v;
	h->value_len = (size_t)(vend - v);
	*pp = p;
	return 0;
}

/* Header lines up to and including the blank line. */
static int parse_headers(const char **pp, const char *end, struct http1_header *headers,
			 size_t *nr_headers)
{
	const char *p = *pp;
	size_t nr = 0;
	int ret;

	for (;;) {
		if (p == end)
			return -EAGAIN;
		if (*p == '\r')
			break;
		if (nr == HTTP1_MAX_HEADERS)
			return -EPROTO;
		ret = parse_header(&p, end, &headers[nr]);
		if (ret < 0)
			return ret;
		nr++;
	}
	ret = parse_crlf(&p, end);
	if (ret < 0)
		return ret;
	*nr_headers = nr;
	*pp = p;
	return 0;
}

/* What the framing headers say, before the status code or method is applied. */
struct framing {
	bool has_length;
	uint64_t content_length; /* bytes */
	bool has_te;		 /* a Transfer-Encoding header was seen */
	bool chunked;		 /* ... and its final coding is chunked */
	bool conn_close;
	bool conn_keep_alive;
};

static int parse_content_length(const struct http1_header *h, struct framing *f)
{
	uint64_t n = 0;

	if (h->value_len == 0)
		return -EPROTO;
	for (size_t i = 0; i < h->value_len; i++) {
		unsigned d = (unsigned char)h->value[i] - '0';

		if (d > 9 || n > (UINT64_MAX - d) / 10)
			return -EPROTO;
		n = n * 10 + d;
	}
	/* RFC 9110 8.6: identical duplicates may stand, differing ones may not. */
	if (f->has_length && f->content_length != n)
		return -EPROTO;
	f->has_length = true;
	f->content_length = n;
	return 0;
}

/*
 * Calls fn on each comma-separated element of a list-valued header, with
 * optional whitespace trimmed and empty elements skipped (RFC 9110 5.6.1).
 */
static void for_each_element(const struct http1_header *h, struct framing *f,
			     void (*fn)(const char *, size_t, struct framing *))
{
	const char *p = h->value, *end = h->value + h->value_len;

	while (p != end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *s = p;

		while (s != e && (*s == ' ' || *s == '\t'))
			s++;
		while (e != s && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e != s)
			fn(s, (size_t)(e - s), f);
		p = comma ? comma + 1 : end;
	}
}

static void te_element(const char *s, size_t len, struct framing *f)
{
	/* Only the final coding counts: "chunked, gzip" is not chunked. */
	f->chunked = EQ_LIT(s, len, "chunked");
}

static void connection_element(const char *s, size_t len, struct framing *f)
{
	if (EQ_LIT(s, len, "close"))
		f->conn_close = true;
	else if (EQ_LIT(s, len, "keep-alive"))
		f->conn_keep_alive = true;
}

static int scan_framing(const struct http1_header *headers, size_t nr_headers, struct framing *f)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < nr_headers; i++) {
		const struct http1_header *h = &headers[i];

		switch (h->name_len) {
		case 10:
			if (EQ_LIT(h->name, h->name_len, "connection"))
				for_each_element(h, f, connection_element);
			break;
		case 14:
			if (EQ_LIT(h->name, h->name_len, "content-length") &&
			    parse_content_length(h, f) < 0)
				return -EPROTO;
			break;
		case 17:
			if (EQ_LIT(h->name, h->name_len, "transfer-encoding")) {
				f->has_te = true;
				f->chunked = false;
				for_each_element(h, f, te_element);
			}
			break;
		}
	}
	return 0;
}

static bool keep_alive(const struct framing *f, int minor_version)
{
	if (f->conn_close)
		return false;
	return minor_version >= 1 || f->conn_keep_alive;
}

static int parse_status_line(const char **pp, const char *end, struct http1_response *resp)
{
	const char *p = *pp;
	int ret, status = 0;

	ret = parse_version(&p, end, &resp->minor_version);
	if (ret < 0)
		return ret;
	if (p == end)
		return -EAGAIN;
	if (*p++ != ' ')
		return -EPROTO;
	for (int i = 0; i < 3; i++, p++) {
		if (p == end)
			return -EAGAIN;
		if (*p < '0' || *p > '9')
			return -EPROTO;
		status = status * 10 + (*p - '0');
	}
	if (status < 100)
		return -EPROTO;
	resp->status = status;
	if (p == end)
		return -EAGAIN;
	/* The reason phrase may be empty, and so may the space before it. */
	if (*p == ' ')
		p++;
	else if (*p != '\r')
		return -EPROTO;
	resp->reason = p;
	while (p != end && is_class((unsigned char)*p, C_VALUE))
		p++;
	resp->reason_len = (size_t)(p - resp->reason);
	ret = parse_crlf(&p, end);
	if (ret < 0)
		return ret;
	*pp = p;
	return 0;
}

static int response_head(const char *buf, size_t len, struct http1_response *resp)
{
	const char *p = buf, *end = buf + len;
	struct framing f;
	int ret;

	ret = parse_status_line(&p, end, resp);
	if (ret < 0)
		return ret;
	ret = parse_headers(&p, end, resp->headers, &resp->nr_headers);
	if (ret < 0)
		return ret;
	if (scan_framing(resp->headers, resp->nr_headers, &f) < 0)
		return -EPROTO;

	resp->content_length = 0;
	resp->keep_alive = keep_alive(&f, resp->minor_version);
	if (resp->status < 200 || resp->status == 204 || resp->status == 304) {
		resp->framing = HTTP1_FRAMING_NONE;
	} else if (f.chunked) {
		/* RFC 9112 6.3: Transfer-Encoding overrides Content-Length. */
		resp->framing = HTTP1_FRAMING_CHUNKED;
	} else if (f.has_te) {
		/* A final coding other than chunked: the body runs to close. */
		resp->framing = HTTP1_FRAMING_CLOSE;
	} else if (f.has_length) {
		resp->framing = HTTP1_FRAMING_LENGTH;
		resp->content_length = f.content_length;
	} else {
		resp->framing = HTTP1_FRAMING_CLOSE;
	}
	if (resp->framing == HTTP1_FRAMING_CLOSE)
		resp->keep_alive = false;
	return (int)(p - buf);
}

/*
 * Both heads are parsed over at most HTTP1_MAX_HEAD_BYTES: a head that has
 * not ended by then is over the limit.
 */
static size_t head_window(size_t len)
{
	return len < HTTP1_MAX_HEAD_BYTES ? len : HTTP1_MAX_HEAD_BYTES;
}

int http1_parse_response(const char *buf, size_t len, struct http1_response *resp)
{
	int ret = response_head(buf, head_window(len), resp);

	if (ret == -EAGAIN && len >= HTTP1_MAX_HEAD_BYTES)
		return -EPROTO;
	return ret;
}

static int parse_request_line(const char **pp, const char *end, struct http1_request *req)
{
	const char *p = *pp;
	int ret;

	req->method = p;
	while (p != end && is_class((unsigned char)*p, C_TOKEN))
		p++;
	if (p == end)
		return -EAGAIN;
	if (*p != ' ' || p == req->method)
		return -EPROTO;
	req->method_len = (size_t)(p - req->method);
	req->path = ++p;
	/* request-target: visible octets only; obs-text is no part of a URI. */
	while (p != end && (unsigned char)*p > ' ' && (unsigned char)*p < 0x7f)
		p++;
	if (p == end)
		return -EAGAIN;
	if (*p != ' ' || p == req->path)
		return -EPROTO;
	req->path_len = (size_t)(p - req->path);
	p++;
	ret = parse_version(&p, end, &req->minor_version);
	if (ret < 0)
		return ret;
	ret = parse_crlf(&p, end);
	if (ret < 0)
		return ret;
	*pp = p;
	return 0;
}

static int request_head(const char *buf, size_t len, struct http1_request *req)
{
	const char *p = buf, *end = buf + len;
	struct framing f;
	int ret;

	ret = parse_request_line(&p, end, req);
	if (ret < 0)
		return ret;
	ret = parse_headers(&p, end, req->headers, &req->nr_headers);
	if (ret < 0)
		return ret;
	if (scan_framing(req->headers, req->nr_headers, &f) < 0)
		return -EPROTO;
	/* RFC 9112 6.3: a request whose final coding is not chunked is a 400. */
	if (f.has_te && !f.chunked)
		return -EPROTO;
	req->chunked = f.chunked;
	req->content_length = f.chunked ? 0 : f.content_length;
	req->keep_alive = keep_alive(&f, req->minor_version);
	return (int)(p - buf);
}

int http1_parse_request(const char *buf, size_t len, struct http1_request *req)
{
	int ret = request_head(buf, head_window(len), req);

	if (ret == -EAGAIN && len >= HTTP1_MAX_HEAD_BYTES)
		return -EPROTO;
	return ret;
}

const struct http1_header *http1_find_header(const struct http1_header *headers, size_t nr_headers,
					     const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < nr_headers; i++) {
		const struct http1_header *h = &headers[i];

		if (h->name_len != len)
			continue;
		size_t j = 0;
		while (j < len && lower((unsigned char)h->name[j]) == lower((unsigned char)name[j]))
			j++;
		if (j == len)
			return h;
	}
	return NULL;
}

/*
 * Chunked decoder states. The framing is walked one byte at a time (a few
 * bytes per chunk); chunk data is handed back as one view without a scan.
 *
 *   chunk-size [ BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ]* CRLF
 *   data CRLF ... "0" [ ext ] CRLF *( trailer-line CRLF ) CRLF
 */
enum {
	CH_SIZE_START,	/* the first hex digit of a chunk size */
	CH_SIZE,	/* more hex digits, ';', BWS or CR */
	CH_BWS,		/* whitespace that must lead to ';' */
	CH_NAME_START,	/* after ';': BWS, then an extension name */
	CH_NAME,	/* in an extension name */
	CH_NAME_BWS,	/* whitespace after a name: '=' or ';' must follow */
	CH_VALUE_START, /* after '=': BWS, then a token or a quoted string */
	CH_TOKEN,	/* in an unquoted extension value */
	CH_QUOTED,	/* in a quoted extension value */
	CH_QUOTED_PAIR, /* after a backslash in a quoted value */
	CH_QUOTED_END,	/* after the closing quote */
	CH_SIZE_LF,	/* the LF ending the chunk-size line */
	CH_DATA,	/* c->remaining data bytes to hand back */
	CH_DATA_CR,	/* the CRLF after chunk data */
	CH_DATA_LF,
	CH_TRAILER, /* the start of a trailer line or of the final CRLF */
	CH_TRAILER_TEXT,
	CH_TRAILER_LF,
	CH_END_LF, /* the LF of the final CRLF */
	CH_DONE,
	CH_ERROR,
};

/* Size lines (with extensions) and the trailer section have this limit. */
#define CH_MAX_LINE_BYTES HTTP1_MAX_HEAD_BYTES

void http1_chunked_init(struct http1_chunked *c)
{
	c->remaining = 0;
	c->state = CH_SIZE_START;
	c->count = 0;
}

bool http1_chunked_done(const struct http1_chunked *c)
{
	return c->state == CH_DONE;
}

static inline bool is_ws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

static int hex_value(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	return lower(ch) - 'a' + 10;
}

/* The state after ';', CR or whitespace that may end an extension part. */
static uint32_t ext_next(unsigned char ch)
{
	if (ch == ';')
		return CH_NAME_START;
	if (ch == '\r')
		return CH_SIZE_LF;
	if (is_ws(ch))
		return CH_BWS;
	return CH_ERROR;
}

/* Takes one framing byte; returns the next state (CH_ERROR when malformed). */
static uint32_t size_line_step(struct http1_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_SIZE_START:
	case CH_SIZE:
		if (is_class(ch, C_HEX)) {
			/* Sizes stop below 2^60: 15 significant hex digits. */
			if (c->remaining >> 56)
				return CH_ERROR;
			c->remaining = c->remaining << 4 | (uint64_t)hex_value(ch);
			return CH_SIZE;
		}
		if (c->state == CH_SIZE_START)
			return CH_ERROR;
		return ext_next(ch);
	case CH_BWS:
		if (is_ws(ch))
			return CH_BWS;
		return ch == ';' ? CH_NAME_START : CH_ERROR;
	case CH_NAME_START:
		if (is_ws(ch))
			return CH_NAME_START;
		return is_class(ch, C_TOKEN) ? CH_NAME : CH_ERROR;
	case CH_NAME:
		if (is_class(ch, C_TOKEN))
			return CH_NAME;
		if (ch == '=')
			return CH_VALUE_START;
		return is_ws(ch) ? CH_NAME_BWS : ext_next(ch);
	case CH_NAME_BWS:
		if (is_ws(ch))
			return CH_NAME_BWS;
		if (ch == '=')
			return CH_VALUE_START;
		return ch == ';' ? CH_NAME_START : CH_ERROR;
	case CH_VALUE_START:
		if (is_ws(ch))
			return CH_VALUE_START;
		if (ch == '"')
			return CH_QUOTED;
		return is_class(ch, C_TOKEN) ? CH_TOKEN : CH_ERROR;
	case CH_TOKEN:
		return is_class(ch, C_TOKEN) ? CH_TOKEN : ext_next(ch);
	case CH_QUOTED:
		if (ch == '"')
			return CH_QUOTED_END;
		if (ch == '\\')
			return CH_QUOTED_PAIR;
		return is_class(ch, C_QDTEXT) ? CH_QUOTED : CH_ERROR;
	case CH_QUOTED_PAIR:
		return is_class(ch, C_VALUE) ? CH_QUOTED : CH_ERROR;
	case CH_QUOTED_END:
		return ext_next(ch);
	case CH_SIZE_LF:
		if (ch != '\n')
			return CH_ERROR;
		return c->remaining ? CH_DATA : CH_TRAILER;
	}
	return CH_ERROR;
}

static uint32_t framing_step(struct http1_chunked *c, unsigned char ch)
{
	switch (c->state) {
	case CH_DATA_CR:
		return ch == '\r' ? CH_DATA_LF : CH_ERROR;
	case CH_DATA_LF:
		return ch == '\n' ? CH_SIZE_START : CH_ERROR;
	case CH_TRAILER:
		if (ch == '\r')
			return CH_END_LF;
		/* A trailer field starts with its name: no obs-fold. */
		return is_class(ch, C_TOKEN) ? CH_TRAILER_TEXT : CH_ERROR;
	case CH_TRAILER_TEXT:
		if (ch == '\r')
			return CH_TRAILER_LF;
		return is_class(ch, C_VALUE) ? CH_TRAILER_TEXT : CH_ERROR;
	case CH_TRAILER_LF:
		return ch == '\n' ? CH_TRAILER : CH_ERROR;
	case CH_END_LF:
		return ch == '\n' ? CH_DONE : CH_ERROR;
	default:
		return size_line_step(c, ch);
	}
}

ssize_t http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len, const char **data,
			   size_t *data_len)
{
	const char *p = buf, *end = buf + len;

	*data = NULL;
	*data_len = 0;
	if (c->state == CH_ERROR)
		return -EPROTO;
	while (p != end) {
		uint32_t next;

		if (c->state == CH_DATA) {
			size_t n = (size_t)(end - p);

			if (n > c->remaining)
				n = (size_t)c->remaining;
			*data = p;
			*data_len = n;
			p += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			break;
		}
		if (c->state == CH_DONE)
			break;
		next = framing_step(c, (unsigned char)*p++);
		if (next == CH_ERROR || ++c->count > CH_MAX_LINE_BYTES) {
			c->state = CH_ERROR;
			return -EPROTO;
		}
		/* count covers one size line, or the whole trailer section. */
		if (next == CH_DATA || next == CH_SIZE_START ||
		    (next == CH_TRAILER && c->state == CH_SIZE_LF))
			c->count = 0;
		c->state = next;
	}
	return p - buf;
}
