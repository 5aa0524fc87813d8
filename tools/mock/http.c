/* SPDX-License-Identifier: MIT */
/*
 * Requests in, responses out: input buffering, routing, the response plan
 * and the bytes of every answer, shaped like vLLM's OpenAI server behind
 * uvicorn. Nothing here touches the ring: the worker sends what these
 * functions write into the connection's output buffer.
 */
#include <errno.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http1.h"
#include "json.h"
#include "mock.h"

#define PUT(p, lit)   put(p, lit, sizeof(lit) - 1)
#define EVENT_RESERVE 10 /* chunk-size line room: 8 hex digits and CRLF */

static char *put(char *p, const char *s, size_t len)
{
	memcpy(p, s, len);
	return p + len;
}

static bool equals(const char *s, size_t len, const char *lit)
{
	return len == strlen(lit) && !memcmp(s, lit, len);
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 411:
		return "Length Required";
	case 413:
		return "Request Entity Too Large";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	default:
		return "Service Unavailable";
	}
}

static void refresh_date(struct mock_worker *w, int64_t now_s)
{
	time_t t = (time_t)now_s;
	struct tm tm;

	if (now_s == w->date_s)
		return;
	gmtime_r(&t, &tm);
	strftime(w->date, sizeof(w->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	w->date_s = now_s;
}

/*
 * A response head as uvicorn writes it. content_len < 0 means chunked;
 * id 0 means no x-request-id. At most MOCK_HEAD_MAX_BYTES.
 */
static char *put_head(struct mock_worker *w, char *p, int status, const char *ctype,
		      int64_t content_len, uint64_t id, bool close)
{
	const char *why = reason(status);

	refresh_date(w, (int64_t)time(NULL));
	p = PUT(p, "HTTP/1.1 ");
	p = gen_u64(p, (uint64_t)status);
	*p++ = ' ';
	p = put(p, why, strlen(why));
	p = PUT(p, "\r\ndate: ");
	p = put(p, w->date, strlen(w->date));
	p = PUT(p, "\r\nserver: uvicorn\r\n");
	if (content_len >= 0) {
		p = PUT(p, "content-length: ");
		p = gen_u64(p, (uint64_t)content_len);
		p = PUT(p, "\r\n");
	}
	p = PUT(p, "content-type: ");
	p = put(p, ctype, strlen(ctype));
	p = PUT(p, "\r\n");
	if (content_len < 0)
		p = PUT(p, "transfer-encoding: chunked\r\n");
	if (id) {
		p = PUT(p, "x-request-id: ");
		p = gen_u64(p, id);
		p = PUT(p, "\r\n");
	}
	if (close)
		p = PUT(p, "connection: close\r\n");
	return PUT(p, "\r\n");
}

/*
 * Turns the head that ends at p ("\r\n\r\n") into a FAULT_HUGE_HEADERS one:
 * FAULT_HUGE_HEAD_BYTES of padding fields before the blank line.
 */
static char *put_huge_headers(char *p)
{
	p -= 2;
	for (int i = 0; i < FAULT_HUGE_HEAD_BYTES / 1024; i++) {
		p = PUT(p, "x-pad-");
		*p++ = (char)('0' + i / 10);
		*p++ = (char)('0' + i % 10);
		p = PUT(p, ": ");
		memset(p, 'a', 1012);
		p = PUT(p + 1012, "\r\n");
	}
	return PUT(p, "\r\n");
}

/* A response head with the faults of the response's plan applied. */
static char *put_head_planned(struct mock_worker *w, struct mock_conn *c, char *p, int status,
			      const char *ctype, int64_t content_len, uint64_t id)
{
	struct mock_resp *r = &c->resp;

	if (r->plan.close_fault && !r->close_after) {
		r->close_after = true;
		w->stats.faults[FAULT_CLOSE]++;
	}
	p = put_head(w, p, status, ctype, content_len, id, r->close_after);
	if (r->plan.fault == FAULT_HUGE_HEADERS) {
		p = put_huge_headers(p);
		w->stats.faults[FAULT_HUGE_HEADERS]++;
	}
	return p;
}

/* A whole answer at once: head and body. body_len is at most 2 KiB. */
static void answer(struct mock_worker *w, struct mock_conn *c, int status, const char *body,
		   size_t body_len)
{
	char *p = worker_out(w, c);

	if (status >= 400) {
		w->stats.http_errors++;
		if (status == 411 || status == 413 || status == 503)
			c->resp.close_after = true;
	}
	p = put_head(w, p, status, "application/json", (int64_t)body_len, 0, c->resp.close_after);
	if (status == 429) {
		p = PUT(p - 2, "retry-after: ");
		p = gen_u64(p, w->cfg->fault.retry_after_s);
		p = PUT(p, "\r\n\r\n");
	}
	p = put(p, body, body_len);
	c->out_len = (uint32_t)(p - c->out);
	c->resp.kind = RESP_FIXED;
	c->resp.stage = STAGE_DONE;
}

/* An OpenAI-style error object, as vLLM returns it. msg is escaped here. */
static void answer_error(struct mock_worker *w, struct mock_conn *c, int status, const char *type,
			 const char *msg, size_t msg_len)
{
	char *body = w->scratch;
	char *p = body;

	p = PUT(p, "{\"error\":{\"message\":\"");
	p = gen_json_escape(p, msg, msg_len);
	p = PUT(p, "\",\"type\":\"");
	p = put(p, type, strlen(type));
	p = PUT(p, "\",\"code\":");
	p = gen_u64(p, (uint64_t)status);
	p = PUT(p, "}}");
	answer(w, c, status, body, (size_t)(p - body));
}

static void answer_bad(struct mock_worker *w, struct mock_conn *c, int status, const char *msg)
{
	answer_error(w, c, status, status == 503 ? "ServiceUnavailableError" : "BadRequestError",
		     msg, strlen(msg));
}

#define ANSWER_LIT(w, c, status, lit) answer(w, c, status, lit, sizeof(lit) - 1)

static void answer_models(struct mock_worker *w, struct mock_conn *c)
{
	const struct mock_config *cfg = w->cfg;
	char *body = w->scratch;
	char *p = body;

	p = PUT(p, "{\"object\":\"list\",\"data\":[{\"id\":\"");
	p = put(p, cfg->model, cfg->model_len);
	p = PUT(p, "\",\"object\":\"model\",\"owned_by\":\"brood\"}]}");
	answer(w, c, 200, body, (size_t)(p - body));
}

static void answer_no_model(struct mock_worker *w, struct mock_conn *c, const char *model)
{
	char *msg = w->scratch + 2048;
	char *p = msg;

	p = PUT(p, "The model `");
	p = put(p, model, strlen(model));
	p = PUT(p, "` does not exist.");
	answer_error(w, c, 404, "NotFoundError", msg, (size_t)(p - msg));
}

/* {"id":...,"object":...,"created":...,"model":"...  (the model's closing
 * quote is the caller's); chat_object names the chat kind of object. */
static char *put_envelope(const struct mock_config *cfg, const struct mock_resp *r, char *p,
			  const char *chat_object)
{
	p = r->chat ? PUT(p, "{\"id\":\"chatcmpl-") : PUT(p, "{\"id\":\"cmpl-");
	p = gen_u64(p, r->id);
	p = PUT(p, "\",\"object\":\"");
	p = r->chat ? put(p, chat_object, strlen(chat_object)) : PUT(p, "text_completion");
	p = PUT(p, "\",\"created\":");
	p = gen_u64(p, (uint64_t)r->created_s);
	p = PUT(p, ",\"model\":\"");
	return put(p, cfg->model, cfg->model_len);
}

/* The envelope of a streamed chunk, then "choices":[ */
static char *put_chunk_start(const struct mock_config *cfg, const struct mock_resp *r, char *p)
{
	p = put_envelope(cfg, r, p, "chat.completion.chunk");
	return PUT(p, "\",\"choices\":[");
}

static char *put_usage(const struct mock_resp *r, char *p)
{
	p = PUT(p, "\"usage\":{\"prompt_tokens\":");
	p = gen_u64(p, r->prompt_tokens);
	p = PUT(p, ",\"completion_tokens\":");
	p = gen_u64(p, r->plan.nr_tokens);
	p = PUT(p, ",\"total_tokens\":");
	p = gen_u64(p, (uint64_t)r->prompt_tokens + r->plan.nr_tokens);
	return PUT(p, "}");
}

/* Opens an SSE event inside its own HTTP chunk; the chunk size comes later. */
static char *event_begin(char *start)
{
	return PUT(start + EVENT_RESERVE, "data: ");
}

/* Closes the event that event_begin opened at start; returns the chunk's end. */
static char *event_end(const struct mock_config *cfg, char *start, char *p)
{
	size_t len, hex_len;
	char hex[16];

	p = cfg->sse_lf ? PUT(p, "\n\n") : PUT(p, "\r\n\r\n");
	len = (size_t)(p - start - EVENT_RESERVE);
	hex_len = (size_t)(gen_hex(hex, len) - hex);
	memmove(start + hex_len + 2, start + EVENT_RESERVE, len);
	p = put(start, hex, hex_len);
	p = PUT(p, "\r\n") + len;
	return PUT(p, "\r\n");
}

static char *put_role_event(const struct mock_config *cfg, struct mock_resp *r, char *start)
{
	char *p = event_begin(start);

	p = put_chunk_start(cfg, r, p);
	p = PUT(p, "{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
		   "\"logprobs\":null,\"finish_reason\":null}]}");
	r->ev_next++;
	return event_end(cfg, start, p);
}

static char *put_tokens(struct mock_resp *r, char *p, uint32_t nr)
{
	for (uint32_t i = 0; i < nr; i++) {
		size_t len;
		const char *tok = gen_token(&r->prng, &len);

		p = put(p, tok, len);
	}
	r->tokens_done += nr;
	return p;
}

/* Tokens content event k draws: the plan's range, from the request id alone. */
static uint32_t chunk_draw(const struct mock_resp *r, uint32_t k)
{
	uint32_t lo = r->plan.tokens_per_chunk_min, hi = r->plan.tokens_per_chunk;
	uint64_t z = r->id * 0x9e3779b97f4a7c15ull + k + 1;

	if (lo == hi)
		return hi;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	z ^= z >> 31;
	return lo + (uint32_t)(z % (hi - lo + 1));
}

/* Tokens of content event k given the tokens before it: the draw, cut at the end. */
static uint32_t chunk_tokens(const struct mock_resp *r, uint32_t k, uint32_t before)
{
	uint32_t nr = chunk_draw(r, k);
	uint32_t left = r->plan.nr_tokens - before;

	return nr < left ? nr : left;
}

/* Content events a response of the plan's tokens takes. */
static uint32_t content_events(const struct mock_resp *r)
{
	uint32_t k = 0, done = 0;

	if (r->plan.tokens_per_chunk_min == r->plan.tokens_per_chunk)
		return (r->plan.nr_tokens + r->plan.tokens_per_chunk - 1) /
		       r->plan.tokens_per_chunk;
	while (done < r->plan.nr_tokens)
		done += chunk_tokens(r, k++, done);
	return k;
}

/* The tokens event ev carries (0 unless content), given the tokens before it. */
uint32_t resp_event_tokens(const struct mock_resp *r, uint32_t ev, uint32_t tokens_before)
{
	if (resp_event_kind(r, ev) != TRUTH_CONTENT)
		return 0;
	return chunk_tokens(r, ev - (r->chat ? 1 : 0), tokens_before);
}

static char *put_content_event(const struct mock_config *cfg, struct mock_resp *r, char *start)
{
	uint32_t nr = resp_event_tokens(r, r->ev_next, r->tokens_done);
	char *p = event_begin(start);
	bool last;

	last = r->tokens_done + nr == r->plan.nr_tokens;
	p = put_chunk_start(cfg, r, p);
	p = r->chat ? PUT(p, "{\"index\":0,\"delta\":{\"content\":\"")
		    : PUT(p, "{\"index\":0,\"text\":\"");
	p = put_tokens(r, p, nr);
	p = r->chat ? PUT(p, "\"},") : PUT(p, "\",");
	p = last ? PUT(p, "\"logprobs\":null,\"finish_reason\":\"length\"}]}")
		 : PUT(p, "\"logprobs\":null,\"finish_reason\":null}]}");
	r->ev_next++;
	return event_end(cfg, start, p);
}

static char *put_usage_event(const struct mock_config *cfg, struct mock_resp *r, char *start)
{
	char *p = event_begin(start);

	p = put_chunk_start(cfg, r, p);
	p = PUT(p, "],");
	p = put_usage(r, p);
	p = PUT(p, "}");
	r->ev_next++;
	return event_end(cfg, start, p);
}

static char *put_done_event(const struct mock_config *cfg, struct mock_resp *r, char *start)
{
	char *p = event_begin(start);

	p = PUT(p, "[DONE]");
	r->ev_next++;
	p = event_end(cfg, start, p);
	return PUT(p, "0\r\n\r\n");
}

static char *put_stream_head(struct mock_worker *w, struct mock_conn *c, char *p)
{
	struct mock_resp *r = &c->resp;

	p = put_head_planned(w, c, p, 200, "text/event-stream; charset=utf-8", -1, r->id);
	if (r->chat)
		p = put_role_event(w->cfg, r, p);
	return p;
}

/*
 * The faults that change a stream where its next content event is due.
 * Returns true when the fault took the place of the event.
 */
static bool stream_fault(struct mock_worker *w, struct mock_conn *c)
{
	const struct mock_config *cfg = w->cfg;
	struct mock_resp *r = &c->resp;
	bool first = r->ev_next == (r->chat ? 1u : 0u); /* the first content event is due */
	uint32_t next = resp_event_tokens(r, r->ev_next, r->tokens_done);
	bool last = r->tokens_done + next >= r->plan.nr_tokens;
	char *start, *p;

	switch (r->plan.fault) {
	case FAULT_SLOW_FIRST_BYTE:
		if (!r->head_pending)
			return false;
		p = put_stream_head(w, c, worker_out(w, c));
		c->out_len = (uint32_t)(p - c->out);
		r->head_pending = false;
		r->due = false;
		worker_timer_set(w, c, mock_now_ns() + r->plan.ttft_ns);
		return true;
	case FAULT_STALL:
		if (!first)
			r->plan.itl_ns = cfg->itl_ns; /* stalled once: back to the ITL */
		return false;
	case FAULT_RESET:
		/* After the first content event, or instead of a lone one. */
		if (first && !last)
			return false;
		w->stats.faults[FAULT_RESET]++;
		worker_conn_reset(w, c);
		return true;
	case FAULT_BAD_JSON:
		if (!first)
			return false;
		start = worker_out(w, c);
		p = event_begin(start);
		p = PUT(p, "{\"choices\":[{\"index\":0,\"delta\":{\"content\":\" broken");
		r->ev_next++;
		r->tokens_done += next;
		p = event_end(cfg, start, p);
		if (last) {
			p = put_done_event(cfg, r, p);
			r->stage = STAGE_DONE;
		}
		c->out_len = (uint32_t)(p - c->out);
		r->due = false;
		w->stats.faults[FAULT_BAD_JSON]++;
		return true;
	case FAULT_BAD_SSE:
	case FAULT_TRUNCATED_CHUNKED: {
		size_t len, hex_len;
		char hex[16];

		start = worker_out(w, c);
		p = put_content_event(cfg, r, start); /* a whole chunk: size, event, CRLF */
		if (r->plan.fault == FAULT_BAD_SSE) {
			/* The same event without its blank line, then the last chunk. */
			p = start + (size_t)(strchr(start, '\n') - start) + 1;
			len = (size_t)(strstr(p, cfg->sse_lf ? "\n\n" : "\r\n\r\n") - p) + 1;
			p[len - 1] = '\n';
			hex_len = (size_t)(gen_hex(hex, len) - hex);
			memmove(start + hex_len + 2, p, len);
			p = put(start, hex, hex_len);
			p = PUT(p, "\r\n") + len;
			p = PUT(p, "\r\n0\r\n\r\n");
		} else {
			/* Half of the chunk, then the connection closes. */
			p = start + (p - start) / 2;
			r->close_after = true;
		}
		c->out_len = (uint32_t)(p - c->out);
		r->stage = STAGE_DONE;
		r->due = false;
		w->stats.faults[r->plan.fault]++;
		return true;
	}
	default:
		return false;
	}
}

/* Streamed: the next content event, and after the last one usage and [DONE]. */
static void stream_produce(struct mock_worker *w, struct mock_conn *c)
{
	const struct mock_config *cfg = w->cfg;
	struct mock_resp *r = &c->resp;
	char *p;

	if (!r->due || r->stage != STAGE_TOKENS)
		return;
	/* Room for a content event, usage and [DONE]: the worst case. */
	if (cfg->out_cap_bytes - c->out_len < 2 * cfg->event_max_bytes + 64)
		return;
	if (r->plan.fault != FAULT_NONE && stream_fault(w, c))
		return;
	p = worker_out(w, c);
	p = put_content_event(cfg, r, p);
	if (r->plan.fault == FAULT_STALL && r->ev_next == (r->chat ? 2u : 1u) &&
	    r->tokens_done < r->plan.nr_tokens) {
		/* The next event comes after the stall instead of one ITL. */
		r->plan.itl_ns = r->plan.fault_ns;
		w->stats.faults[FAULT_STALL]++;
	}
	r->due = false;
	if (r->tokens_done == r->plan.nr_tokens) {
		if (r->usage)
			p = put_usage_event(cfg, r, p);
		p = put_done_event(cfg, r, p);
		r->stage = STAGE_DONE;
	}
	c->out_len = (uint32_t)(p - c->out);
}

static char *put_full_prefix(const struct mock_config *cfg, const struct mock_resp *r, char *p)
{
	p = put_envelope(cfg, r, p, "chat.completion");
	return r->chat ? PUT(p, "\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
				"\"content\":\"")
		       : PUT(p, "\",\"choices\":[{\"index\":0,\"text\":\"");
}

static char *put_full_suffix(const struct mock_resp *r, char *p)
{
	p = r->chat ? PUT(p, "\"},") : PUT(p, "\",");
	p = PUT(p, "\"logprobs\":null,\"finish_reason\":\"length\"}],");
	p = put_usage(r, p);
	return PUT(p, "}");
}

/* content-length of a non-streamed answer: its bytes, counted without writing them. */
static uint64_t full_body_bytes(struct mock_worker *w, const struct mock_resp *r)
{
	uint64_t prng = r->prng;
	uint64_t bytes = (uint64_t)(put_full_prefix(w->cfg, r, w->scratch) - w->scratch);

	bytes += (uint64_t)(put_full_suffix(r, w->scratch) - w->scratch);
	for (uint32_t i = 0; i < r->plan.nr_tokens; i++) {
		size_t len;

		gen_token(&prng, &len);
		bytes += len;
	}
	return bytes;
}

/* Not streamed: as much of the body as the output buffer takes. */
static void full_produce(struct mock_worker *w, struct mock_conn *c)
{
	const struct mock_config *cfg = w->cfg;
	size_t tok_max = gen_token_max_bytes();
	struct mock_resp *r = &c->resp;
	char *p, *end;

	if (!r->due || r->stage == STAGE_DONE)
		return;
	p = worker_out(w, c);
	end = c->out + cfg->out_cap_bytes;
	if (r->stage == STAGE_HEAD) {
		if ((size_t)(end - p) <
		    MOCK_HEAD_MAX_BYTES + 512 + cfg->model_len +
			(r->plan.fault == FAULT_HUGE_HEADERS ? FAULT_HUGE_HEAD_BYTES : 0))
			return;
		p = put_head_planned(w, c, p, 200, "application/json", (int64_t)r->body_bytes,
				     r->id);
		p = put_full_prefix(cfg, r, p);
		r->stage = STAGE_TOKENS;
	}
	while (r->stage == STAGE_TOKENS && r->tokens_done < r->plan.nr_tokens &&
	       (size_t)(end - p) >= tok_max)
		p = put_tokens(r, p, 1);
	if (r->stage == STAGE_TOKENS && r->tokens_done == r->plan.nr_tokens)
		r->stage = STAGE_SUFFIX;
	if (r->stage == STAGE_SUFFIX && (size_t)(end - p) >= 512) {
		p = put_full_suffix(r, p);
		r->stage = STAGE_DONE;
	}
	c->out_len = (uint32_t)(p - c->out);
}

/*
 * Writes whatever of the current response is due and fits. Called when the
 * connection's timer fires and when a send completes (freeing room).
 */
void resp_produce(struct mock_worker *w, struct mock_conn *c)
{
	if (c->flags & CONN_CLOSING)
		return;
	if (c->resp.kind == RESP_STREAM)
		stream_produce(w, c);
	else if (c->resp.kind == RESP_FULL)
		full_produce(w, c);
}

/* The kind of event ev of a streamed response. */
enum truth_kind resp_event_kind(const struct mock_resp *r, uint32_t ev)
{
	uint32_t first = r->chat ? 1 : 0;

	if (r->chat && ev == 0)
		return TRUTH_ROLE;
	if (ev < first + r->nr_content)
		return TRUTH_CONTENT;
	if (r->usage && ev == first + r->nr_content)
		return TRUTH_USAGE;
	return TRUTH_DONE;
}

/* True while a streamed response still has content events to write. */
bool resp_streaming_more(const struct mock_resp *r)
{
	return r->kind == RESP_STREAM && r->stage == STAGE_TOKENS;
}

/* The plan of a completion request: the one place that decides timing and faults. */
static void plan_make(struct mock_worker *w, uint32_t nr_tokens, bool stream,
		      struct mock_plan *plan)
{
	const struct mock_config *cfg = w->cfg;
	bool close;

	plan->ttft_ns = cfg->ttft_ns;
	plan->itl_ns = cfg->itl_ns;
	plan->nr_tokens = nr_tokens;
	plan->tokens_per_chunk = cfg->tokens_per_chunk;
	plan->tokens_per_chunk_min = cfg->tokens_per_chunk_min;
	plan->fault = (uint8_t)fault_draw(&cfg->fault, &w->fault_prng, stream, &close);
	plan->close_fault = close && plan->fault == FAULT_NONE;
	plan->fault_ns = cfg->fault.param_ns[plan->fault];
	if (plan->fault == FAULT_SLOW_FIRST_TOKEN) {
		plan->ttft_ns += plan->fault_ns;
		w->stats.faults[FAULT_SLOW_FIRST_TOKEN]++;
	}
}

/*
 * Faults that replace the whole answer. Returns true when c's request is
 * answered (or, for no-answer, never will be).
 */
static bool answer_fault(struct mock_worker *w, struct mock_conn *c)
{
	struct mock_resp *r = &c->resp;

	switch (r->plan.fault) {
	case FAULT_429:
		answer_error(w, c, 429, "RateLimitError", "Too many requests: retry later", 30);
		break;
	case FAULT_500:
		answer_error(w, c, 500, "InternalServerError", "Internal error", 14);
		break;
	case FAULT_503:
		answer_error(w, c, 503, "ServiceUnavailableError", "Overloaded", 10);
		break;
	case FAULT_NO_ANSWER:
		/* Busy with a response that never comes: nothing more is read. */
		r->kind = RESP_FIXED;
		r->stage = STAGE_TOKENS;
		break;
	default:
		return false;
	}
	w->stats.faults[r->plan.fault]++;
	return true;
}

static void start_completion(struct mock_worker *w, struct mock_conn *c, bool chat,
			     const struct json_request *jr)
{
	const struct mock_config *cfg = w->cfg;
	struct mock_resp *r = &c->resp;
	uint32_t nr_tokens = jr->max_tokens ? (uint32_t)jr->max_tokens : MOCK_DEFAULT_MAX_TOKENS;
	uint32_t nr_chunks;

	plan_make(w, nr_tokens, jr->stream, &r->plan);
	if (answer_fault(w, c))
		return;
	r->id = w->next_id;
	w->next_id += cfg->nr_threads;
	r->prng = r->id;
	nr_chunks = content_events(r);
	r->created_s = (int64_t)time(NULL);
	r->prompt_tokens = jr->prompt_len / 4 ? (uint32_t)(jr->prompt_len / 4) : 1;
	r->chat = chat;
	r->nr_content = nr_chunks;
	if (jr->stream) {
		char *p = worker_out(w, c);

		r->kind = RESP_STREAM;
		r->usage = jr->include_usage;
		r->stage = STAGE_TOKENS;
		if (r->plan.fault == FAULT_SLOW_FIRST_BYTE) {
			r->head_pending = true;
			w->stats.faults[FAULT_SLOW_FIRST_BYTE]++;
			admit_request(w, c, r->plan.fault_ns); /* the head, once admitted */
			return;
		}
		p = put_stream_head(w, c, p);
		c->out_len = (uint32_t)(p - c->out);
		admit_request(w, c, r->plan.ttft_ns);
		return;
	}
	r->kind = RESP_FULL;
	r->stage = STAGE_HEAD;
	r->body_bytes = full_body_bytes(w, r);
	if (r->plan.fault == FAULT_SLOW_FIRST_BYTE) {
		r->plan.ttft_ns += r->plan.fault_ns;
		w->stats.faults[FAULT_SLOW_FIRST_BYTE]++;
	}
	admit_request(w, c, r->plan.ttft_ns + r->plan.itl_ns * (nr_chunks - 1));
}

static void serve_completion(struct mock_worker *w, struct mock_conn *c, bool chat,
			     const char *body, size_t body_len)
{
	struct json_request jr;

	if (json_parse_request(body, body_len, &jr) < 0) {
		answer_bad(w, c, 400, "Invalid JSON in the request body");
		return;
	}
	if (chat && !jr.chat) {
		answer_bad(w, c, 400, "Field required: messages");
		return;
	}
	if (jr.model[0] && strcmp(jr.model, w->cfg->model)) {
		answer_no_model(w, c, jr.model);
		return;
	}
	if (jr.max_tokens > MOCK_MAX_TOKENS) {
		answer_bad(w, c, 400, "max_tokens must be at most 1048576");
		return;
	}
	start_completion(w, c, chat, &jr);
}

static void route(struct mock_worker *w, struct mock_conn *c, const struct http1_request *req,
		  const char *body, size_t body_len)
{
	const char *q = memchr(req->path, '?', req->path_len);
	size_t path_len = q ? (size_t)(q - req->path) : req->path_len;
	bool get = equals(req->method, req->method_len, "GET");
	bool post = equals(req->method, req->method_len, "POST");
	bool chat = equals(req->path, path_len, "/v1/chat/completions");

	if (chat || equals(req->path, path_len, "/v1/completions")) {
		if (post)
			serve_completion(w, c, chat, body, body_len);
		else
			ANSWER_LIT(w, c, 405, "{\"detail\":\"Method Not Allowed\"}");
	} else if (equals(req->path, path_len, "/v1/models")) {
		if (get)
			answer_models(w, c);
		else
			ANSWER_LIT(w, c, 405, "{\"detail\":\"Method Not Allowed\"}");
	} else if (equals(req->path, path_len, "/health")) {
		if (get)
			answer(w, c, 200, "", 0);
		else
			ANSWER_LIT(w, c, 405, "{\"detail\":\"Method Not Allowed\"}");
	} else {
		ANSWER_LIT(w, c, 404, "{\"detail\":\"Not Found\"}");
	}
}

/* Clients such as curl wait for "100 Continue" before a large body, as uvicorn sends it. */
static void maybe_continue(struct mock_worker *w, struct mock_conn *c,
			   const struct http1_request *req)
{
	const struct http1_header *h = http1_find_header(req->headers, req->nr_headers, "expect");
	char *p;

	if (!h || h->value_len != 12 || strncasecmp(h->value, "100-continue", 12))
		return;
	p = worker_out(w, c);
	p = PUT(p, "HTTP/1.1 100 Continue\r\n\r\n");
	c->out_len = (uint32_t)(p - c->out);
}

/*
 * Serves the request at the start of data when it is whole. Returns the
 * bytes it consumed, or -EAGAIN when the request is not whole yet (its
 * length, once the head is known, goes to c->in_need). A request waiting
 * behind a pipelined one starts its clock when its turn comes.
 */
static int serve_one(struct mock_worker *w, struct mock_conn *c, const char *data, size_t len)
{
	const uint64_t max_body = w->cfg->max_body_bytes;
	struct http1_request req;
	size_t need = 0;
	int head;

	if (c->in_need && len < c->in_need)
		return -EAGAIN;
	head = http1_parse_request(data, len, &req);
	if (head == -EAGAIN)
		return -EAGAIN;
	if (head >= 0 && !req.chunked && req.content_length <= max_body) {
		need = (size_t)head + (size_t)req.content_length;
		if (len < need) {
			if (!c->in_need)
				maybe_continue(w, c, &req);
			c->in_need = (uint32_t)need;
			return -EAGAIN;
		}
	}
	c->in_need = 0;
	c->resp = (struct mock_resp){ .t0_ns = mock_now_ns(), .close_after = true };
	w->stats.requests++;
	if (head < 0) {
		answer_bad(w, c, 400, "Malformed HTTP request");
		return (int)len;
	}
	if (req.chunked) {
		answer_bad(w, c, 411,
			   "Chunked request bodies are not supported: send Content-Length");
		return (int)len;
	}
	if (req.content_length > max_body) {
		answer_bad(w, c, 413, "Request body larger than --max-body");
		return (int)len;
	}
	c->resp.close_after = !req.keep_alive || (w->cfg->requests_per_conn &&
						  ++c->nr_answers >= w->cfg->requests_per_conn);
	route(w, c, &req, data + head, (size_t)req.content_length);
	return (int)need;
}

/* Serves whole requests from data while the connection is idle; returns bytes used. */
static size_t serve(struct mock_worker *w, struct mock_conn *c, const char *data, size_t len)
{
	size_t done = 0;

	while (done < len && c->resp.kind == RESP_NONE && !(c->flags & CONN_CLOSING)) {
		int n = serve_one(w, c, data + done, len - done);

		if (n < 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static void in_release(struct mock_worker *w, struct mock_conn *c)
{
	if (!c->in)
		return;
	pool_put(c->in_large ? &w->large_pool : &w->in_pool, c->in);
	c->in = NULL;
	c->in_len = 0;
	c->in_need = 0;
	c->in_large = false;
}

/* Makes c->in hold at least len bytes, keeping its contents. Returns 0 or -ENOBUFS. */
static int in_reserve(struct mock_worker *w, struct mock_conn *c, size_t len)
{
	size_t large_cap = w->large_pool.stride - JSON_PADDING;
	char *buf;

	if (c->in && len <= c->in_cap)
		return 0;
	if (len <= MOCK_SMALL_IN_BYTES - JSON_PADDING) {
		buf = pool_get(&w->in_pool);
		c->in_cap = MOCK_SMALL_IN_BYTES - JSON_PADDING;
		c->in_large = false;
		c->in = buf;
		return 0;
	}
	if (len > large_cap || c->in_large || !(buf = pool_get(&w->large_pool)))
		return -ENOBUFS;
	if (c->in) {
		memcpy(buf, c->in, c->in_len);
		pool_put(&w->in_pool, c->in);
	}
	c->in = buf;
	c->in_cap = (uint32_t)large_cap;
	c->in_large = true;
	return 0;
}

/* Bytes that do not fit: refuse politely when idle, else drop the connection. */
static void in_overflow(struct mock_worker *w, struct mock_conn *c)
{
	in_release(w, c);
	if (c->resp.kind == RESP_NONE) {
		c->resp = (struct mock_resp){ .close_after = true };
		answer_bad(w, c, 503, "No buffer for a request this large: raise --large-bufs");
		return;
	}
	w->stats.conn_errors++;
	worker_conn_close(w, c);
}

/* Serves what c->in holds, then keeps the rest at its start. */
static void in_drain(struct mock_worker *w, struct mock_conn *c)
{
	size_t done = serve(w, c, c->in, c->in_len);

	if (!c->in)
		return;
	if (done == c->in_len) {
		in_release(w, c);
		return;
	}
	memmove(c->in, c->in + done, c->in_len - done);
	c->in_len -= (uint32_t)done;
}

/*
 * Takes bytes received on c: serves whole requests straight from data when
 * nothing is pending, and keeps the rest in a borrowed input buffer. data
 * must be followed by JSON_PADDING readable bytes. Returns nothing: errors
 * become answers or a closed connection.
 */
void http_input(struct mock_worker *w, struct mock_conn *c, const char *data, size_t len)
{
	size_t have = c->in ? c->in_len : 0;
	bool fresh = !c->in;

	if (c->resp.close_after && c->resp.kind != RESP_NONE)
		return; /* the answer ends the connection: what follows is moot */
	if (fresh) {
		size_t done = serve(w, c, data, len);

		data += done;
		len -= done;
		if (!len)
			return;
	}
	if (in_reserve(w, c, have + len) < 0) {
		in_overflow(w, c);
		return;
	}
	memcpy(c->in + have, data, len);
	c->in_len = (uint32_t)(have + len);
	if (!fresh && c->resp.kind == RESP_NONE && (!c->in_need || c->in_len >= c->in_need))
		in_drain(w, c);
}

/*
 * The current response is written and sent: closes the connection when the
 * answer said so, else serves the next pipelined request, if any.
 */
void http_resp_sent(struct mock_worker *w, struct mock_conn *c)
{
	bool close = c->resp.close_after;

	admit_release(w, c);
	c->resp.kind = RESP_NONE;
	if (close) {
		worker_conn_close(w, c);
		return;
	}
	if (c->in)
		in_drain(w, c);
}

/* Gives back the connection's input buffer (the connection is closing). */
void http_conn_closed(struct mock_worker *w, struct mock_conn *c)
{
	admit_release(w, c);
	in_release(w, c);
}
