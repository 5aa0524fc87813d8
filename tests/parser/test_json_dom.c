/* SPDX-License-Identifier: MIT */
/*
 * The DOM reader used at report time: paths, types, numbers, strings,
 * arrays and objects in order; malformed documents are -EPROTO with a
 * reason; unreadable files are -errno.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "json_dom.h"

static const char doc[] = "{\"a\": {\"b\": [1, 2.5, null, \"x\\u00e9\"], \"c\": true},"
			  " \"n\": 18446744073709551615, \"neg\": -3, \"s\": \"hi\","
			  " \"o\": {\"z\": 1, \"y\": 2}}";

struct keys {
	char buf[64];
	size_t n;
};

static int collect(size_t i, const char *key, size_t key_len, struct json_val v, void *arg)
{
	struct keys *k = arg;
	double d;

	(void)i;
	if (key) {
		memcpy(k->buf + k->n, key, key_len);
		k->n += key_len;
	} else {
		k->buf[k->n++] = json_as_double(v, &d) ? 'N' : '-';
	}
	k->buf[k->n] = '\0';
	return 0;
}

static void test_access(void **state)
{
	struct json_doc *d;
	struct json_val root, v;
	char err[128];
	double x;
	uint64_t u;
	bool b;
	size_t len;
	struct keys k = { .n = 0 };

	(void)state;
	assert_int_equal(json_doc_parse(doc, strlen(doc), &d, err, sizeof(err)), 0);
	root = json_doc_root(d);
	assert_int_equal(json_type_of(root), JSON_T_OBJECT);
	assert_true(json_path(root, "a.b", &v));
	assert_int_equal(json_type_of(v), JSON_T_ARRAY);
	assert_int_equal(json_arr_len(v), 4);
	assert_true(json_arr_at(v, 1, &v) && json_as_double(v, &x) && x == 2.5);
	assert_false(json_as_u64(v, &u));
	assert_true(json_path(root, "a.b", &v) && json_arr_at(v, 2, &v));
	assert_int_equal(json_type_of(v), JSON_T_NULL);
	assert_true(json_path(root, "a.b", &v) && !json_arr_at(v, 4, &v));
	assert_true(json_path(root, "a.b", &v) && json_arr_at(v, 3, &v));
	assert_string_equal(json_as_str(v, &len), "x\xc3\xa9");
	assert_int_equal(len, 3);
	assert_true(json_path(root, "a.c", &v) && json_as_bool(v, &b) && b);
	assert_true(json_path(root, "n", &v) && json_as_u64(v, &u) && u == UINT64_MAX);
	assert_true(json_path(root, "neg", &v) && !json_as_u64(v, &u));
	assert_true(json_path_num(root, "neg", 0) == -3);
	assert_true(isnan(json_path_num(root, "s", NAN)));
	assert_true(isnan(json_path_num(root, "a.zz", NAN)));
	assert_false(json_path(root, "s.t", &v));
	assert_null(json_as_str(root, &len));
	assert_int_equal(json_arr_len(root), 0);
	/* Object members keep their order; arrays give NULL keys. */
	assert_true(json_path(root, "o", &v));
	assert_int_equal(json_each(v, collect, &k), 0);
	assert_string_equal(k.buf, "zy");
	k.n = 0;
	assert_true(json_path(root, "a.b", &v));
	assert_int_equal(json_each(v, collect, &k), 0);
	assert_string_equal(k.buf, "NN--");
	assert_true(json_path(root, "s", &v));
	assert_int_equal(json_each(v, collect, &k), -EINVAL);
	json_doc_free(d);
}

static void test_errors(void **state)
{
	static const char *const bad[] = {
		"", "{", "{\"a\": 1,}", "[1 2]", "{\"a\": nan}", "{\"a\": \"\x01\"}"
	};
	struct json_doc *d;
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(json_doc_parse(bad[i], strlen(bad[i]), &d, err, sizeof(err)),
				 -EPROTO);
		assert_non_null(strstr(err, "not valid JSON"));
	}
	assert_int_equal(json_doc_load("/nonexistent/x.json", &d, err, sizeof(err)), -ENOENT);
	assert_int_equal(json_doc_load("/", &d, err, sizeof(err)) < 0, 1);
	json_doc_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_access),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
