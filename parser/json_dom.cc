// SPDX-License-Identifier: MIT
//
// simdjson DOM behind a C interface. A json_val carries a dom::element
// (a document pointer and a tape index) by value; both are trivially
// copyable. Only the error-code API is used, and each entry point catches
// anything else, so no C++ exception reaches C.
#include "json_dom.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <new>
#include <string_view>
#include <type_traits>

#include <simdjson.h>

using namespace simdjson;

struct json_doc {
	dom::parser parser;
	dom::element root;
};

static_assert(sizeof(dom::element) <= sizeof(json_val::opaque), "dom::element must fit");
static_assert(std::is_trivially_copyable<dom::element>::value, "dom::element is copied as bytes");

namespace
{

json_val wrap(dom::element e)
{
	json_val v;

	memset(&v, 0, sizeof(v));
	memcpy(v.opaque, &e, sizeof(e));
	return v;
}

dom::element unwrap(json_val v)
{
	dom::element e;

	memcpy(static_cast<void *>(&e), v.opaque, sizeof(e));
	return e;
}

} // namespace

extern "C" int json_doc_parse(const char *data, size_t len, struct json_doc **out, char *err,
			      size_t err_len)
{
	try {
		json_doc *d = new (std::nothrow) json_doc;

		if (!d) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		padded_string copy(data, len);
		auto r = d->parser.parse(copy);
		// parse() of a temporary padded_string would dangle; this one
		// outlives the call and the parser copies what the tape needs.
		if (r.error()) {
			snprintf(err, err_len, "not valid JSON (%s)", error_message(r.error()));
			delete d;
			return r.error() == MEMALLOC ? -ENOMEM : -EPROTO;
		}
		d->root = r.value_unsafe();
		*out = d;
		return 0;
	} catch (...) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
}

extern "C" int json_doc_load(const char *path, struct json_doc **out, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	char *buf = nullptr;
	size_t cap = 0, len = 0;
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, err_len, "%s", strerror(errno));
		return ret;
	}
	for (;;) {
		if (len == cap) {
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			char *nb = static_cast<char *>(realloc(buf, ncap));

			if (!nb) {
				free(buf);
				fclose(f);
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		snprintf(err, err_len, "read error");
		return -EIO;
	}
	fclose(f);
	ret = json_doc_parse(buf ? buf : "", len, out, err, err_len);
	free(buf);
	return ret;
}

extern "C" void json_doc_free(struct json_doc *d)
{
	delete d;
}

extern "C" struct json_val json_doc_root(const struct json_doc *d)
{
	return wrap(d->root);
}

extern "C" enum json_type json_type_of(struct json_val v)
{
	switch (unwrap(v).type()) {
	case dom::element_type::ARRAY:
		return JSON_T_ARRAY;
	case dom::element_type::OBJECT:
		return JSON_T_OBJECT;
	case dom::element_type::INT64:
	case dom::element_type::UINT64:
	case dom::element_type::DOUBLE:
		return JSON_T_NUMBER;
	case dom::element_type::STRING:
		return JSON_T_STRING;
	case dom::element_type::BOOL:
		return JSON_T_BOOL;
	default:
		return JSON_T_NULL;
	}
}

extern "C" bool json_get(struct json_val v, const char *key, struct json_val *out)
{
	dom::object o;
	dom::element e;

	if (unwrap(v).get_object().get(o))
		return false;
	if (o.at_key(key).get(e))
		return false;
	*out = wrap(e);
	return true;
}

extern "C" bool json_path(struct json_val v, const char *path, struct json_val *out)
{
	char key[256];

	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return false;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_get(v, key, &v))
			return false;
		path += n + (dot ? 1 : 0);
	}
	*out = v;
	return true;
}

extern "C" bool json_as_double(struct json_val v, double *out)
{
	dom::element e = unwrap(v);

	if (!e.is_number())
		return false;
	return !e.get_double().get(*out);
}

extern "C" bool json_as_u64(struct json_val v, uint64_t *out)
{
	return !unwrap(v).get_uint64().get(*out);
}

extern "C" bool json_as_bool(struct json_val v, bool *out)
{
	return !unwrap(v).get_bool().get(*out);
}

extern "C" const char *json_as_str(struct json_val v, size_t *len)
{
	std::string_view s;

	if (unwrap(v).get_string().get(s))
		return nullptr;
	*len = s.size();
	return s.data();
}

extern "C" size_t json_arr_len(struct json_val v)
{
	dom::array a;

	if (unwrap(v).get_array().get(a))
		return 0;
	return a.size();
}

extern "C" bool json_arr_at(struct json_val v, size_t i, struct json_val *out)
{
	dom::array a;
	dom::element e;

	if (unwrap(v).get_array().get(a) || a.at(i).get(e))
		return false;
	*out = wrap(e);
	return true;
}

extern "C" int json_each(struct json_val v, json_each_fn cb, void *arg)
{
	dom::element e = unwrap(v);
	dom::array a;
	dom::object o;
	size_t i = 0;

	if (!e.get_array().get(a)) {
		for (dom::element x : a) {
			int ret = cb(i++, nullptr, 0, wrap(x), arg);

			if (ret)
				return ret;
		}
		return 0;
	}
	if (!e.get_object().get(o)) {
		for (dom::key_value_pair kv : o) {
			int ret = cb(i++, kv.key.data(), kv.key.size(), wrap(kv.value), arg);

			if (ret)
				return ret;
		}
		return 0;
	}
	return -EINVAL;
}

extern "C" double json_path_num(struct json_val v, const char *path, double dflt)
{
	double d;

	if (!json_path(v, path, &v) || !json_as_double(v, &d))
		return dflt;
	return d;
}
