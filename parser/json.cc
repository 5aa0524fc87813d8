// SPDX-License-Identifier: MIT
//
// The few JSON fields brood needs, over simdjson On-Demand. Every object is
// walked once, field by field, so that field order does not matter and
// nothing is looked up twice. On-Demand checks only what is read, so values
// brood does not need are walked too (validate()): malformed JSON anywhere
// in the document is -EPROTO, not just in the fields read.
//
// Only the error-code API is used: no simdjson exception can be thrown, and a
// catch-all at each entry point keeps any other C++ exception out of C.
#include "json.h"

#include <errno.h>
#include <string.h>

#include <string_view>
#include <utility>

#include <simdjson.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

using namespace simdjson;
using std::string_view;

static_assert(JSON_PADDING == SIMDJSON_PADDING, "JSON_PADDING must match SIMDJSON_PADDING");

namespace
{

// Bytes of JSON the thread's parser takes without growing: a streamed event
// is a few hundred bytes, a whole non-streamed response some kilobytes.
constexpr size_t initial_capacity_bytes = 64 * 1024;

thread_local ondemand::parser tls_parser;

// This thread's parser, able to take len bytes; nullptr when memory ran out.
ondemand::parser *thread_parser(size_t len)
{
	ondemand::parser &p = tls_parser;

	if (p.capacity() < len || p.capacity() == 0) {
		// Grow geometrically: a run of growing documents reallocates rarely.
		size_t cap = p.capacity() * 2;

		if (cap < initial_capacity_bytes)
			cap = initial_capacity_bytes;
		if (cap < len)
			cap = len;
		if (p.allocate(cap) != SUCCESS)
			return nullptr;
	}
	return &p;
}

// The first '"' or '\\' at or after p. JSON_PADDING bytes are readable past
// the end of the input, so reading a block beyond the string's end is safe.
const char *quote_or_backslash(const char *p)
{
#ifdef __SSE2__
	const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');

	for (;; p += 16) {
		__m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i *>(p));
		unsigned mask = (unsigned)_mm_movemask_epi8(
		    _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));

		if (mask)
			return p + __builtin_ctz(mask);
	}
#else
	while (*p != '"' && *p != '\\')
		p++;
	return p;
#endif
}

// A field's key. Stage 1 has checked that it is closed, UTF-8 and free of
// control characters: only escapes are left to check, and unescaping (a copy)
// is needed only where there is a backslash.
int field_key(ondemand::field &f, string_view *key)
{
	const char *raw = f.key().raw(), *end = quote_or_backslash(raw);

	if (*end == '"') {
		*key = string_view(raw, (size_t)(end - raw));
		return 0;
	}
	return f.unescaped_key().get(*key) ? -EPROTO : 0;
}

// Calls fn(key, value) for each field of an object value; fn returns 0 or
// -EPROTO. Keys are unescaped, which checks their escapes.
template <typename Fn> int each_field(ondemand::object obj, Fn &&fn)
{
	for (auto field : obj) {
		string_view key;

		// By reference: copying a field out stalls on store forwarding.
		if (field.error() || field_key(field.value_unsafe(), &key))
			return -EPROTO;
		if (fn(key, field.value_unsafe().value()))
			return -EPROTO;
	}
	return 0;
}

template <typename Fn> int each_field(ondemand::value &v, Fn &&fn)
{
	ondemand::object obj;

	if (v.get_object().get(obj))
		return -EPROTO;
	return each_field(obj, std::forward<Fn>(fn));
}

// Calls fn(index, value) for each element of an array value.
template <typename Fn> int each_element(ondemand::value &v, Fn &&fn)
{
	ondemand::array arr;
	size_t i = 0;

	if (v.get_array().get(arr))
		return -EPROTO;
	for (auto elem : arr)
		if (elem.error() || fn(i++, elem.value_unsafe()))
			return -EPROTO;
	return 0;
}

// Reads a value nobody needs, only to check it.
int validate(ondemand::value &v)
{
	ondemand::json_type t;
	string_view s;
	ondemand::number n;
	bool b;

	if (v.type().get(t))
		return -EPROTO;
	switch (t) {
	case ondemand::json_type::object:
		return each_field(v, [](string_view, ondemand::value &f) { return validate(f); });
	case ondemand::json_type::array:
		return each_element(v, [](size_t, ondemand::value &e) { return validate(e); });
	case ondemand::json_type::string:
		// As for keys: only a string with a backslash needs unescaping.
		if (*quote_or_backslash(v.raw_json_token().data() + 1) == '"')
			return 0;
		return v.get_string().get(s) ? -EPROTO : 0;
	case ondemand::json_type::number:
		return v.get_number().get(n) ? -EPROTO : 0;
	case ondemand::json_type::boolean:
		return v.get_bool().get(b) ? -EPROTO : 0;
	case ondemand::json_type::null:
		return v.is_null().get(b) || !b ? -EPROTO : 0;
	}
	return -EPROTO;
}

// Walks the root object of data, which is followed by JSON_PADDING readable
// bytes; nothing but whitespace may follow the object.
template <typename Fn> int walk_root(const char *data, size_t len, Fn &&fn)
{
	ondemand::parser *p = thread_parser(len);
	ondemand::document doc;
	ondemand::object root;

	if (!p)
		return -ENOMEM;
	if (p->iterate(padded_string_view(data, len, len + SIMDJSON_PADDING)).get(doc) ||
	    doc.get_object().get(root))
		return -EPROTO;
	if (each_field(root, std::forward<Fn>(fn)))
		return -EPROTO;
	return doc.current_location().error() == OUT_OF_BOUNDS ? 0 : -EPROTO;
}

bool is_null(ondemand::value &v, int *err)
{
	ondemand::json_type t;
	bool b;

	if (v.type().get(t)) {
		*err = -EPROTO;
		return false;
	}
	if (t != ondemand::json_type::null)
		return false;
	if (v.is_null().get(b) || !b)
		*err = -EPROTO;
	return true;
}

// A string, or null (s left empty, with a null data()).
int string_or_null(ondemand::value &v, string_view *s)
{
	int err = 0;

	*s = string_view();
	if (is_null(v, &err))
		return err;
	return err || v.get_string().get(*s) ? -EPROTO : 0;
}

// An unsigned integer, or null (*n left as it is).
int uint_or_null(ondemand::value &v, uint64_t *n)
{
	int err = 0;

	if (is_null(v, &err))
		return err;
	return err || v.get_uint64().get(*n) ? -EPROTO : 0;
}

// A boolean, or null (*b left as it is).
int bool_or_null(ondemand::value &v, bool *b)
{
	int err = 0;

	if (is_null(v, &err))
		return err;
	return err || v.get_bool().get(*b) ? -EPROTO : 0;
}

// Whether a value's raw JSON starts with lit (the value is not consumed).
bool v_starts_with(ondemand::value &v, string_view lit)
{
	string_view raw = v.raw_json_token();

	return raw.substr(0, lit.size()) == lit;
}

// What choices[0] carries, before it becomes a json_delta.
struct choice {
	bool role;	     // a delta or message with a role
	string_view content; // content, or text (completions)
	string_view reasoning;
	string_view finish; // finish_reason; null data() when absent or null
};

// A chat delta (streamed) or message (whole response).
int parse_delta(ondemand::value &v, choice *c)
{
	return each_field(v, [c](string_view key, ondemand::value &f) {
		if (key == "content")
			return string_or_null(f, &c->content);
		if (key == "reasoning_content")
			return string_or_null(f, &c->reasoning);
		if (key == "role") {
			string_view role;
			int ret = string_or_null(f, &role);

			c->role = c->role || role.data();
			return ret;
		}
		return validate(f);
	});
}

int parse_choice(ondemand::value &v, choice *c)
{
	return each_field(v, [c](string_view key, ondemand::value &f) {
		if (key == "delta" || key == "message")
			return parse_delta(f, c);
		if (key == "text")
			return string_or_null(f, &c->content);
		if (key == "finish_reason")
			return string_or_null(f, &c->finish);
		return validate(f);
	});
}

int parse_usage(ondemand::value &v, json_event *ev)
{
	bool has_prompt = false, has_completion = false;
	int err = 0;

	if (is_null(v, &err))
		return err;
	if (each_field(v, [&](string_view key, ondemand::value &f) {
		    if (key == "prompt_tokens") {
			    has_prompt = true;
			    return f.get_uint64().get(ev->prompt_tokens) ? -EPROTO : 0;
		    }
		    if (key == "completion_tokens") {
			    has_completion = true;
			    return f.get_uint64().get(ev->completion_tokens) ? -EPROTO : 0;
		    }
		    return validate(f);
	    }))
		return -EPROTO;
	ev->has_usage = has_prompt && has_completion;
	return 0;
}

// "error": an object with a "message", or a string; null is no error.
int parse_error(ondemand::value &v, string_view *message, bool *has_error)
{
	ondemand::json_type t;
	int err = 0;

	if (is_null(v, &err))
		return err;
	*has_error = true;
	if (v.type().get(t))
		return -EPROTO;
	if (t == ondemand::json_type::string)
		return v.get_string().get(*message) ? -EPROTO : 0;
	return each_field(v, [message](string_view key, ondemand::value &f) {
		return key == "message" ? string_or_null(f, message) : validate(f);
	});
}

void set_view(string_view s, const char **p, size_t *len)
{
	*p = s.data();
	*len = s.size();
}

int parse_event(const char *data, size_t len, json_event *ev)
{
	choice c = {};
	string_view error_message, top_message;
	bool has_choice = false, object_error = false;

	memset(ev, 0, sizeof(*ev));
	int ret = walk_root(data, len, [&](string_view key, ondemand::value &f) {
		if (key == "choices")
			return each_element(f, [&](size_t i, ondemand::value &e) {
				if (i > 0)
					return validate(e);
				has_choice = true;
				return parse_choice(e, &c);
			});
		if (key == "usage")
			return parse_usage(f, ev);
		if (key == "error")
			return parse_error(f, &error_message, &ev->has_error);
		if (key == "object") {
			// vLLM answers a bad request with {"object":"error","message":...}.
			object_error = v_starts_with(f, "\"error\"");
			return validate(f);
		}
		if (key == "message")
			return string_or_null(f, &top_message);
		return validate(f);
	});
	if (ret)
		return ret;

	if (object_error && !ev->has_error) {
		ev->has_error = true;
		error_message = top_message;
	}
	if (ev->has_error && error_message.data())
		set_view(error_message, &ev->error_message, &ev->error_message_len);
	if (has_choice) {
		string_view text = c.content.empty() ? c.reasoning : c.content;

		if (!text.empty()) {
			ev->delta = JSON_DELTA_CONTENT;
			set_view(text, &ev->text, &ev->text_len);
		} else {
			ev->delta = c.role ? JSON_DELTA_ROLE : JSON_DELTA_EMPTY;
		}
		if (c.finish.data())
			set_view(c.finish, &ev->finish_reason, &ev->finish_reason_len);
	}
	return 0;
}

// Adds the bytes of a string value to *len.
int add_string_len(ondemand::value &v, uint64_t *len)
{
	string_view s;

	if (v.get_string().get(s))
		return -EPROTO;
	*len += s.size();
	return 0;
}

// Bytes of text in a message's content: a string, or an array of parts.
int content_len(ondemand::value &v, uint64_t *len)
{
	ondemand::json_type t;
	int err = 0;

	if (is_null(v, &err))
		return err;
	if (v.type().get(t))
		return -EPROTO;
	if (t == ondemand::json_type::string)
		return add_string_len(v, len);
	return each_element(v, [len](size_t, ondemand::value &part) {
		return each_field(part, [len](string_view key, ondemand::value &f) {
			return key == "text" ? add_string_len(f, len) : validate(f);
		});
	});
}

// "prompt": a string, or an array of strings (or of token ids, not counted).
int prompt_len(ondemand::value &v, uint64_t *len)
{
	ondemand::json_type t;

	if (v.type().get(t))
		return -EPROTO;
	if (t == ondemand::json_type::string)
		return add_string_len(v, len);
	return each_element(v, [len](size_t, ondemand::value &e) {
		ondemand::json_type et;

		if (e.type().get(et))
			return -EPROTO;
		return et == ondemand::json_type::string ? add_string_len(e, len) : validate(e);
	});
}

int parse_request(const char *body, size_t len, json_request *req)
{
	uint64_t max_tokens = 0, max_completion_tokens = 0;

	memset(req, 0, sizeof(*req));
	int ret = walk_root(body, len, [&](string_view key, ondemand::value &f) {
		if (key == "model") {
			string_view s;
			int err = string_or_null(f, &s);
			size_t n =
			    s.size() < sizeof(req->model) ? s.size() : sizeof(req->model) - 1;

			if (n)
				memcpy(req->model, s.data(), n);
			req->model[n] = '\0';
			return err;
		}
		if (key == "max_tokens")
			return uint_or_null(f, &max_tokens);
		if (key == "max_completion_tokens")
			return uint_or_null(f, &max_completion_tokens);
		if (key == "stream")
			return bool_or_null(f, &req->stream);
		if (key == "stream_options") {
			int err = 0;

			if (is_null(f, &err))
				return err;
			return each_field(f, [req](string_view k, ondemand::value &o) {
				return k == "include_usage" ? bool_or_null(o, &req->include_usage)
							    : validate(o);
			});
		}
		if (key == "messages") {
			req->chat = true;
			return each_element(f, [req](size_t, ondemand::value &msg) {
				return each_field(msg, [req](string_view k, ondemand::value &m) {
					return k == "content" ? content_len(m, &req->prompt_len)
							      : validate(m);
				});
			});
		}
		if (key == "prompt")
			return prompt_len(f, &req->prompt_len);
		if (key == "min_tokens")
			return uint_or_null(f, &req->min_tokens);
		if (key == "ignore_eos")
			return bool_or_null(f, &req->ignore_eos);
		return validate(f);
	});
	if (ret)
		return ret;
	// The newer name wins where a client sends both.
	req->max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
	return 0;
}

int parse_models(const char *body, size_t len, char *id, size_t id_cap, unsigned *nr_models)
{
	bool has_data = false;
	unsigned nr = 0;

	if (id_cap)
		id[0] = '\0';
	int ret = walk_root(body, len, [&](string_view key, ondemand::value &f) {
		if (key != "data")
			return validate(f);
		has_data = true;
		return each_element(f, [&](size_t i, ondemand::value &model) {
			nr++;
			return each_field(model, [&](string_view k, ondemand::value &m) {
				string_view s;

				if (i > 0 || k != "id")
					return validate(m);
				if (m.get_string().get(s))
					return -EPROTO;
				if (id_cap) {
					size_t n = s.size() < id_cap ? s.size() : id_cap - 1;

					if (n)
						memcpy(id, s.data(), n);
					id[n] = '\0';
				}
				return 0;
			});
		});
	});
	if (ret)
		return ret;
	if (!has_data)
		return -EPROTO;
	*nr_models = nr;
	return 0;
}

} // namespace

extern "C" int json_parse_event(const char *data, size_t len, struct json_event *ev)
{
	try {
		return parse_event(data, len, ev);
	} catch (...) {
		return -EPROTO;
	}
}

extern "C" int json_parse_request(const char *body, size_t len, struct json_request *req)
{
	try {
		return parse_request(body, len, req);
	} catch (...) {
		return -EPROTO;
	}
}

extern "C" int json_parse_models(const char *body, size_t len, char *id, size_t id_cap,
				 unsigned *nr_models)
{
	try {
		return parse_models(body, len, id, id_cap, nr_models);
	} catch (...) {
		return -EPROTO;
	}
}

extern "C" int json_thread_init(void)
{
	try {
		return thread_parser(initial_capacity_bytes) ? 0 : -ENOMEM;
	} catch (...) {
		return -ENOMEM;
	}
}
