/* SPDX-License-Identifier: MIT */
/*
 * The few JSON fields brood needs, through a thin extern "C" wrapper over
 * simdjson On-Demand. Each thread has its own simdjson parser, made by
 * json_thread_init (call it at thread start-up so the data plane never
 * allocates). Every input must be followed by JSON_PADDING readable bytes;
 * their contents do not matter.
 */
#ifndef BROOD_PARSER_JSON_H
#define BROOD_PARSER_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define JSON_PADDING 64 /* == SIMDJSON_PADDING, checked in json.cc */

enum json_delta {
	JSON_DELTA_NONE,    /* no choices[0] (e.g. a usage-only chunk) */
	JSON_DELTA_ROLE,    /* chat delta with a role and no content */
	JSON_DELTA_EMPTY,   /* content/text present but "" or null */
	JSON_DELTA_CONTENT, /* non-empty content: a token or more */
};

struct json_event {
	enum json_delta delta;
	const char *text; /* unescaped content; valid until the thread's next json_* call */
	size_t text_len;
	const char *finish_reason; /* NULL when absent or null */
	size_t finish_reason_len;
	bool has_usage; /* a usage object with the two counts below */
	uint64_t prompt_tokens;
	uint64_t completion_tokens;
	bool has_error;		   /* an "error" object (or string) */
	const char *error_message; /* may be NULL even when has_error */
	size_t error_message_len;
};

/*
 * Pulls the fields above from one streamed event (chat: choices[0].delta
 * .content, or .reasoning_content when content is empty; completions:
 * choices[0].text) or from a whole non-streamed response
 * (choices[0].message.content / choices[0].text).
 * Returns 0, -EPROTO when data is not a JSON object or is malformed
 * anywhere, or -ENOMEM when this thread's parser could not grow to len.
 */
int json_parse_event(const char *data, size_t len, struct json_event *ev);

struct json_request {
	char model[256];     /* NUL-terminated; empty when absent */
	uint64_t max_tokens; /* max_tokens / max_completion_tokens; 0 when absent */
	bool stream;	     /* "stream": true */
	bool include_usage;  /* stream_options.include_usage */
	bool chat;	     /* has "messages" */
	uint64_t prompt_len; /* bytes of prompt text (all message contents) */
	uint64_t min_tokens; /* 0 when absent */
	bool ignore_eos;
};

/* Reads an OpenAI completions or chat request body (brood-mock).
 * Returns 0, -EPROTO when body is not a JSON object or is malformed,
 * or -ENOMEM as json_parse_event does. */
int json_parse_request(const char *body, size_t len, struct json_request *req);

/* Reads a /v1/models response: the number of models and the first id
 * (NUL-terminated, truncated to id_cap). Returns 0, -EPROTO or -ENOMEM. */
int json_parse_models(const char *body, size_t len, char *id, size_t id_cap, unsigned *nr_models);

/* Creates this thread's parser. Returns 0 or -ENOMEM. */
int json_thread_init(void);

#ifdef __cplusplus
}
#endif

#endif
