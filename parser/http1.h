/* SPDX-License-Identifier: MIT */
/*
 * Incremental HTTP/1.1 parsing: response heads, request heads (for
 * brood-mock) and chunked bodies. Nothing here allocates, logs or keeps
 * hidden state: results are views (pointer + length) into the caller's
 * buffer, and every function returns bytes consumed, -EAGAIN (need more
 * bytes) or -EPROTO (malformed, or over a limit below).
 *
 * Any thread may call any function; each state struct belongs to one caller.
 */
#ifndef BROOD_PARSER_HTTP1_H
#define BROOD_PARSER_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP1_MAX_HEADERS    64	   /* more headers than this is -EPROTO */
#define HTTP1_MAX_HEAD_BYTES 16384 /* a head longer than this is -EPROTO */

struct http1_header {
	const char *name; /* view, not NUL-terminated */
	size_t name_len;
	const char *value; /* view, leading/trailing spaces trimmed */
	size_t value_len;
};

enum http1_framing {
	HTTP1_FRAMING_NONE,    /* no body: 1xx, 204, 304 */
	HTTP1_FRAMING_LENGTH,  /* Content-Length bytes follow */
	HTTP1_FRAMING_CHUNKED, /* Transfer-Encoding: chunked */
	HTTP1_FRAMING_CLOSE,   /* body runs until the server closes */
};

struct http1_response {
	int minor_version; /* 0 or 1 */
	int status;	   /* 100..999 */
	const char *reason;
	size_t reason_len;
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t nr_headers;
	enum http1_framing framing;
	uint64_t content_length; /* bytes; valid when framing == LENGTH */
	bool keep_alive;	 /* connection reusable after this response */
};

struct http1_request {
	const char *method;
	size_t method_len;
	const char *path;
	size_t path_len;
	int minor_version;
	struct http1_header headers[HTTP1_MAX_HEADERS];
	size_t nr_headers;
	uint64_t content_length; /* bytes; 0 when absent */
	bool chunked;		 /* Transfer-Encoding: chunked request body */
	bool keep_alive;
};

/*
 * Parses a response head (status line, headers, blank line) at the start of
 * buf. Stateless: when it returns -EAGAIN, call again with the same bytes
 * and more appended. Returns the head's length in bytes (> 0) when complete;
 * the body starts right after it. Views in *resp point into buf.
 */
int http1_parse_response(const char *buf, size_t len, struct http1_response *resp);

/* The same for a request head; used by brood-mock. */
int http1_parse_request(const char *buf, size_t len, struct http1_request *req);

/* First header named name (case-insensitive), or NULL. */
const struct http1_header *http1_find_header(const struct http1_header *headers, size_t nr_headers,
					     const char *name);

/* Chunked transfer-coding decoder state; zero it with http1_chunked_init. */
struct http1_chunked {
	uint64_t remaining; /* data bytes left in the current chunk */
	uint32_t state;	    /* private */
	uint32_t count;	    /* private: digits or bytes seen in the current line */
};

void http1_chunked_init(struct http1_chunked *c);

/*
 * Decodes chunked body bytes incrementally; chunk boundaries may fall
 * anywhere. Consumes framing (sizes, extensions, CRLFs, trailers) and at most
 * one run of chunk data, which it hands back as a view into buf through
 * *data / *data_len (data_len is 0 when the call consumed only framing).
 * Returns bytes consumed (>= 0; the caller calls again with the rest),
 * or -EPROTO. Once the last chunk and the trailers are consumed,
 * http1_chunked_done() is true and the call consumes nothing more.
 */
ssize_t http1_chunked_feed(struct http1_chunked *c, const char *buf, size_t len, const char **data,
			   size_t *data_len);

bool http1_chunked_done(const struct http1_chunked *c);

#endif
