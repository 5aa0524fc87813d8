// SPDX-License-Identifier: MIT
//
// The few JSON fields brood needs, over simdjson On-Demand. Every object is
// walked once, field by field, so that field order does not matter and
// nothing is looked up twice. Only the error-code API is used: no simdjson
// exception can be thrown, and a catch-all at each entry point keeps any
// other C++ exception from crossing into C.
#include "json.h"

#include <errno.h>
#include <string.h>

#include <utility>

#include <simdjson.h>

using namespace simdjson;

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
		// Grow geometrically so that a run of growing documents does not
		// reallocate each time.
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

// Starts iterating data, which is followed by JSON_PADDING readable bytes.
int start(const char *data, size_t len, ondemand::document &doc, ondemand::object &root)
{
	ondemand::parser *p = thread_parser(len);

	if (!p)
		return -ENOMEM;
	if (p->iterate(padded_string_view(data, len, len + SIMDJSON_PADDING)).get(doc))
		return -EPROTO;
	if (doc.get_object().get(root))
		return -EPROTO;
	return 0;
}

// After the root object was walked: nothing but whitespace may follow it.
int finish(ondemand::document &doc)
{
	return doc.current_location().error() == OUT_OF_BOUNDS ? 0 : -EPROTO;
}

// A string or null; *s is empty and *is_null true for null.
int string_or_null(ondemand::value v, std::string_view *s, bool *is_null)
{
	ondemand::json_type t;

	if (v.type().get(t))
		return -EPROTO;
	*s = std::string_view();
	*is_null = t == ondemand::json_type::null;
	if (*is_null)
		return v.is_null().error() ? -EPROTO : 0;
	return v.get_string().get(*s) ? -EPROTO : 0;
}

// An unsigned integer, or null (left as *n is).
int uint_or_null(ondemand::value v, uint64_t *n)
{
	bool is_null;

	if (v.is_null().get(is_null))
		return -EPROTO;
	if (is_null)
		return 0;
	return v.get_uint64().get(*n) ? -EPROTO : 0;
}

// A boolean, or null (left as *b is).
int bool_or_null(ondemand::value v, bool *b)
{
	bool is_null;

	if (v.is_null().get(is_null))
		return -EPROTO;
	if (is_null)
		return 0;
	return v.get_bool().get(*b) ? -EPROTO : 0;
}

// What one choice carries, before it is turned into a json_delta.
struct choice {
	bool role;		 // a delta or message with a role
	std::string_view text;	 // content, text, or reasoning content
	std::string_view finish; // finish_reason, when a string
	bool has_finish;
};

// Content of a delta or a message: "content" (and, for reasoning models,
// "reasoning_content" when content is empty), and "role".
int parse_delta(ondemand::value v, choice *c)
{
	ondemand::object obj;
	std::string_view content, reasoning;

	if (v.get_object().get(obj))
		return -EPROTO;
	for (auto field : obj) {
		ondemand::field f;
		std::string_view s;
		bool is_null;

		if (std::move(field).get(f))
			return -EPROTO;
		if (f.key() == "content") {
			if (string_or_null(f.value(), &content, &is_null))
				return -EPROTO;
		} else if (f.key() == "reasoning_content") {
			if (string_or_null(f.value(), &reasoning, &is_null))
				return -EPROTO;
		} else if (f.key() == "role") {
			if (string_or_null(f.value(), &s, &is_null))
				return -EPROTO;
			c->role = c->role || !is_null;
		}
	}
	c->text = content.empty() ? reasoning : content;
	return 0;
}

int parse_choice(ondemand::value v, choice *c)
{
	ondemand::object obj;

	if (v.get_object().get(obj))
		return -EPROTO;
	for (auto field : obj) {
		ondemand::field f;
		bool is_null;

		if (std::move(field).get(f))
			return -EPROTO;
		ondemand::raw_json_string key = f.key();
		if (key == "delta" || key == "message") {
			if (parse_delta(f.value(), c))
				return -EPROTO;
		} else if (key == "text") {
			if (string_or_null(f.value(), &c->text, &is_null))
				return -EPROTO;
		} else if (key == "finish_reason") {
			if (string_or_null(f.value(), &c->finish, &is_null))
				return -EPROTO;
			c->has_finish = !is_null;
		}
	}
	return 0;
}

// choices[0], if any; later choices are skipped unread.
int parse_choices(ondemand::value v, choice *c, bool *has_choice)
{
	ondemand::array arr;

	if (v.get_array().get(arr))
		return -EPROTO;
	for (auto elem : arr) {
		ondemand::value first;

		if (std::move(elem).get(first) || parse_choice(first, c))
			return -EPROTO;
		*has_choice = true;
		break;
	}
	return 0;
}

int parse_usage(ondemand::value v, json_event *ev)
{
	ondemand::object obj;
	bool is_null, has_prompt = false, has_completion = false;

	if (v.is_null().get(is_null))
		return -EPROTO;
	if (is_null)
		return 0;
	if (v.get_object().get(obj))
		return -EPROTO;
	for (auto field : obj) {
		ondemand::field f;

		if (std::move(field).get(f))
			return -EPROTO;
		if (f.key() == "prompt_tokens") {
			if (f.value().get_uint64().get(ev->prompt_tokens))
				return -EPROTO;
			has_prompt = true;
		} else if (f.key() == "completion_tokens") {
			if (f.value().get_uint64().get(ev->completion_tokens))
				return -EPROTO;
			has_completion = true;
		}
	}
	ev->has_usage = has_prompt && has_completion;
	return 0;
}

// "error": an object with a "message", or a string (null is no error).
int parse_error(ondemand::value v, std::string_view *message, bool *has_error)
{
	ondemand::json_type t;
	bool is_null;

	if (v.type().get(t))
		return -EPROTO;
	if (t == ondemand::json_type::null)
		return v.is_null().error() ? -EPROTO : 0;
	*has_error = true;
	if (t == ondemand::json_type::string)
		return v.get_string().get(*message) ? -EPROTO : 0;
	ondemand::object obj;
	if (v.get_object().get(obj))
		return -EPROTO;
	for (auto field : obj) {
		ondemand::field f;

		if (std::move(field).get(f))
			return -EPROTO;
		if (f.key() == "message" && string_or_null(f.value(), message, &is_null))
			return -EPROTO;
	}
	return 0;
}

void set_view(std::string_view s, const char **p, size_t *len)
{
	*p = s.data();
	*len = s.size();
}

int parse_event(const char *data, size_t len, json_event *ev)
{
	ondemand::document doc;
	ondemand::object root;
	choice c = {};
	std::string_view error_message, top_message;
	bool has_choice = false, is_null, object_error = false;
	int ret;

	memset(ev, 0, sizeof(*ev));
	ret = start(data, len, doc, root);
	if (ret)
		return ret;
	for (auto field : root) {
		ondemand::field f;

		if (std::move(field).get(f))
			return -EPROTO;
		ondemand::raw_json_string key = f.key();
		if (key == "choices") {
			ret = parse_choices(f.value(), &c, &has_choice);
		} else if (key == "usage") {
			ret = parse_usage(f.value(), ev);
		} else if (key == "error") {
			ret = parse_error(f.value(), &error_message, &ev->has_error);
		} else if (key == "object") {
			// vLLM answers a bad request with {"object":"error","message":...}.
			ondemand::raw_json_string s;
			ret = f.value().get_raw_json_string().get(s) ? -EPROTO : 0;
			object_error = !ret && s == "error";
		} else if (key == "message") {
			ret = string_or_null(f.value(), &top_message, &is_null);
		}
		if (ret)
			return -EPROTO;
	}
	if (finish(doc))
		return -EPROTO;

	if (object_error && !ev->has_error) {
		ev->has_error = true;
		error_message = top_message;
	}
	if (ev->has_error && error_message.data())
		set_view(error_message, &ev->error_message, &ev->error_message_len);
	if (has_choice) {
		if (!c.text.empty())
			ev->delta = JSON_DELTA_CONTENT;
		else
			ev->delta = c.role ? JSON_DELTA_ROLE : JSON_DELTA_EMPTY;
		if (!c.text.empty())
			set_view(c.text, &ev->text, &ev->text_len);
		if (c.has_finish)
			set_view(c.finish, &ev->finish_reason, &ev->finish_reason_len);
	}
	return 0;
}

// Bytes of text in a message's content: a string, or an array of parts.
int content_len(ondemand::value v, uint64_t *len)
{
	ondemand::json_type t;
	std::string_view s;

	if (v.type().get(t))
		return -EPROTO;
	if (t == ondemand::json_type::null)
		return v.is_null().error() ? -EPROTO : 0;
	if (t == ondemand::json_type::string) {
		if (v.get_string().get(s))
			return -EPROTO;
		*len += s.size();
		return 0;
	}
	ondemand::array parts;
	if (v.get_array().get(parts))
		return -EPROTO;
	for (auto part : parts) {
		ondemand::object obj;

		if (part.get_object().get(obj))
			return -EPROTO;
		for (auto field : obj) {
			ondemand::field f;

			if (std::move(field).get(f))
				return -EPROTO;
			if (f.key() == "text") {
				if (f.value().get_string().get(s))
					return -EPROTO;
				*len += s.size();
			}
		}
	}
	return 0;
}

int parse_messages(ondemand::value v, uint64_t *len)
{
	ondemand::array arr;

	if (v.get_array().get(arr))
		return -EPROTO;
	for (auto msg : arr) {
		ondemand::object obj;

		if (msg.get_object().get(obj))
			return -EPROTO;
		for (auto field : obj) {
			ondemand::field f;

			if (std::move(field).get(f))
				return -EPROTO;
			if (f.key() == "content" && content_len(f.value(), len))
				return -EPROTO;
		}
	}
	return 0;
}

// "prompt": a string, or an array of strings (or of token ids, not counted).
int prompt_len(ondemand::value v, uint64_t *len)
{
	ondemand::json_type t;
	std::string_view s;

	if (v.type().get(t))
		return -EPROTO;
	if (t == ondemand::json_type::string) {
		if (v.get_string().get(s))
			return -EPROTO;
		*len += s.size();
		return 0;
	}
	ondemand::array arr;
	if (v.get_array().get(arr))
		return -EPROTO;
	for (auto elem : arr) {
		ondemand::value e;
		ondemand::json_type et;

		if (std::move(elem).get(e) || e.type().get(et))
			return -EPROTO;
		if (et == ondemand::json_type::string) {
			if (e.get_string().get(s))
				return -EPROTO;
			*len += s.size();
		}
	}
	return 0;
}

int stream_options(ondemand::value v, bool *include_usage)
{
	ondemand::object obj;
	bool is_null;

	if (v.is_null().get(is_null))
		return -EPROTO;
	if (is_null)
		return 0;
	if (v.get_object().get(obj))
		return -EPROTO;
	for (auto field : obj) {
		ondemand::field f;

		if (std::move(field).get(f))
			return -EPROTO;
		if (f.key() == "include_usage" && bool_or_null(f.value(), include_usage))
			return -EPROTO;
	}
	return 0;
}

int parse_request(const char *body, size_t len, json_request *req)
{
	ondemand::document doc;
	ondemand::object root;
	uint64_t max_tokens = 0, max_completion_tokens = 0;
	int ret;

	memset(req, 0, sizeof(*req));
	ret = start(body, len, doc, root);
	if (ret)
		return ret;
	for (auto field : root) {
		ondemand::field f;
		std::string_view s;
		bool is_null;

		if (std::move(field).get(f))
			return -EPROTO;
		ondemand::raw_json_string key = f.key();
		ret = 0;
		if (key == "model") {
			ret = string_or_null(f.value(), &s, &is_null);
			size_t n =
			    s.size() < sizeof(req->model) ? s.size() : sizeof(req->model) - 1;
			memcpy(req->model, s.data(), n);
			req->model[n] = '\0';
		} else if (key == "max_tokens") {
			ret = uint_or_null(f.value(), &max_tokens);
		} else if (key == "max_completion_tokens") {
			ret = uint_or_null(f.value(), &max_completion_tokens);
		} else if (key == "stream") {
			ret = bool_or_null(f.value(), &req->stream);
		} else if (key == "stream_options") {
			ret = stream_options(f.value(), &req->include_usage);
		} else if (key == "messages") {
			req->chat = true;
			ret = parse_messages(f.value(), &req->prompt_len);
		} else if (key == "prompt") {
			ret = prompt_len(f.value(), &req->prompt_len);
		} else if (key == "min_tokens") {
			ret = uint_or_null(f.value(), &req->min_tokens);
		} else if (key == "ignore_eos") {
			ret = bool_or_null(f.value(), &req->ignore_eos);
		}
		if (ret)
			return -EPROTO;
	}
	if (finish(doc))
		return -EPROTO;
	// The newer name wins where a client sends both.
	req->max_tokens = max_completion_tokens ? max_completion_tokens : max_tokens;
	return 0;
}

int parse_models(const char *body, size_t len, char *id, size_t id_cap, unsigned *nr_models)
{
	ondemand::document doc;
	ondemand::object root;
	bool has_data = false;
	unsigned nr = 0;
	int ret;

	if (id_cap)
		id[0] = '\0';
	ret = start(body, len, doc, root);
	if (ret)
		return ret;
	for (auto field : root) {
		ondemand::field f;
		ondemand::array arr;

		if (std::move(field).get(f))
			return -EPROTO;
		if (f.key() != "data")
			continue;
		if (f.value().get_array().get(arr))
			return -EPROTO;
		has_data = true;
		for (auto elem : arr) {
			ondemand::object model;
			std::string_view s;

			if (elem.get_object().get(model))
				return -EPROTO;
			if (nr++ > 0)
				continue;
			for (auto mf : model) {
				ondemand::field g;

				if (std::move(mf).get(g))
					return -EPROTO;
				if (g.key() == "id" && g.value().get_string().get(s))
					return -EPROTO;
			}
			if (id_cap) {
				size_t n = s.size() < id_cap ? s.size() : id_cap - 1;
				memcpy(id, s.data(), n);
				id[n] = '\0';
			}
		}
	}
	if (!has_data || finish(doc))
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
