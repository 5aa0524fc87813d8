/* SPDX-License-Identifier: MIT */
/*
 * Incremental Server-Sent Events parser (WHATWG event-stream rules): data
 * (several lines joined with '\n'), event, id, retry ignored, comments,
 * '\n' / "\r\n" / '\r' line ends (also split across feeds), a leading BOM.
 * An event may span any number of feeds. When an event lies whole inside one
 * feed and has a single data line, the event's views point into that feed's
 * buffer (no copy); otherwise its bytes are gathered in the spill buffer the
 * caller gave to sse_init. Never allocates.
 */
#ifndef BROOD_PARSER_SSE_H
#define BROOD_PARSER_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct sse_event {
	const char *data; /* data lines joined with '\n'; no trailing '\n' */
	size_t data_len;
	const char *event; /* event type; empty when the event had none */
	size_t event_len;
	const char *id; /* id field of this event; empty when none */
	size_t id_len;
	bool done; /* data is exactly "[DONE]" (OpenAI end of stream) */
};

struct sse_parser {
	char *spill;	       /* caller's buffer for events that span feeds */
	size_t spill_cap;      /* bytes */
	size_t spill_len;      /* bytes of the pending event gathered so far */
	unsigned state;	       /* private: bytes of a leading BOM matched so far */
	unsigned flags;	       /* private */
	unsigned nr_oversized; /* private: oversized events not yet reported */
	size_t raw_len;	       /* private: bytes of the pending event's field lines */
	size_t line_off;       /* private: an unfinished line's start in spill */
	size_t event_off;      /* private: the pending event type's place in spill */
	size_t event_len;      /* private: bytes */
	size_t id_off;	       /* private: the pending id's place in spill */
	size_t id_len;	       /* private: bytes */
};

/*
 * spill must stay valid while the parser is used; an event (all its fields
 * and line ends) larger than spill_cap makes sse_feed return -EPROTO. The
 * size counts every line of the event but comments, each line end as one
 * byte, whether or not the event is gathered in spill, so that the result
 * does not depend on how the stream was cut into feeds.
 * For JSON parsing in place, give the spill buffer JSON_PADDING extra bytes
 * beyond spill_cap.
 */
void sse_init(struct sse_parser *p, char *spill, size_t spill_cap);

/* Forgets any partial event and the BOM state: a new stream begins. */
void sse_reset(struct sse_parser *p);

/*
 * Feeds stream bytes. Returns the bytes consumed (> 0) up to and including
 * the blank line that ended an event, and fills *ev; the event's views stay
 * valid until the next call or until buf changes. Returns -EAGAIN when all
 * of buf was consumed without completing an event (the partial event is
 * kept), and -EPROTO when an event is larger than the spill buffer (the
 * parser then skips to the end of that event). Events with no data field
 * are not dispatched, per the spec.
 * -EPROTO, like -EAGAIN, means all of buf was consumed: it is returned once
 * for each oversized event, in place of a later -EAGAIN (good events that
 * followed it in buf are returned first). Feed on after it.
 */
ssize_t sse_feed(struct sse_parser *p, const char *buf, size_t len, struct sse_event *ev);

/*
 * True when bytes of an event are pending: field lines (or part of one) were
 * fed and no blank line has ended the event yet. A stream that ends in this
 * state was cut inside an event.
 */
bool sse_pending(const struct sse_parser *p);

#endif
