/* SPDX-License-Identifier: MIT */
/*
 * Whole JSON documents read back at report time (brood report, brood
 * compare, tests): a thin extern "C" wrapper over simdjson's DOM. Not for
 * the data plane: parsing allocates the document.
 */
#ifndef BROOD_PARSER_JSON_DOM_H
#define BROOD_PARSER_JSON_DOM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct json_doc; /* a parsed document; owns every value in it */

/* A value inside a document; valid while the document lives. */
struct json_val {
	uint64_t opaque[2];
};

enum json_type {
	JSON_T_NULL,
	JSON_T_BOOL,
	JSON_T_NUMBER,
	JSON_T_STRING,
	JSON_T_ARRAY,
	JSON_T_OBJECT,
};

/* Parses len bytes (copied; no padding needed). Returns 0 with *out set,
 * -EPROTO (malformed; a short reason in err) or -ENOMEM. */
int json_doc_parse(const char *data, size_t len, struct json_doc **out, char *err, size_t err_len);
/* Reads and parses a file. Returns 0, -errno (unreadable), -EPROTO or -ENOMEM;
 * err says which. */
int json_doc_load(const char *path, struct json_doc **out, char *err, size_t err_len);
void json_doc_free(struct json_doc *d);
struct json_val json_doc_root(const struct json_doc *d);

enum json_type json_type_of(struct json_val v);
/* The member key of object v; false when v is no object or lacks it. */
bool json_get(struct json_val v, const char *key, struct json_val *out);
/* Members by a dotted path ("summary.ttft_ms.p50"); false when any step fails. */
bool json_path(struct json_val v, const char *path, struct json_val *out);
/* Numbers (any JSON number; u64 only for non-negative integers). False otherwise. */
bool json_as_double(struct json_val v, double *out);
bool json_as_u64(struct json_val v, uint64_t *out);
bool json_as_bool(struct json_val v, bool *out);
/* A string's bytes (not NUL-terminated in general; simdjson keeps a NUL
 * after them) and length; NULL when v is no string. */
const char *json_as_str(struct json_val v, size_t *len);
/* Elements of an array; 0 for anything else. */
size_t json_arr_len(struct json_val v);
/* Element i of an array (O(i): for short arrays; walk long ones with
 * json_each); false when out of range or v is no array. */
bool json_arr_at(struct json_val v, size_t i, struct json_val *out);

/*
 * Calls cb for each element of an array (key NULL) or member of an object,
 * in order. Returns the first non-zero cb result, 0 at the end, or -EINVAL
 * when v is neither.
 */
typedef int (*json_each_fn)(size_t i, const char *key, size_t key_len, struct json_val v,
			    void *arg);
int json_each(struct json_val v, json_each_fn cb, void *arg);

/* Convenience: the number at path, or dflt when missing or not a number. */
double json_path_num(struct json_val v, const char *path, double dflt);

#ifdef __cplusplus
}
#endif

#endif
