/* SPDX-License-Identifier: MIT */
/*
 * json.cc: real vLLM and OpenAI payloads. Each input is followed by exactly
 * JSON_PADDING bytes and then a guard page, so that simdjson reading past the
 * promised padding faults.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "guard.h"
#include "json.h"

static struct guard g;

static int setup(void **state)
{
	(void)state;
	return guard_init(&g, 1 << 20) ? -1 : 0;
}

static int teardown(void **state)
{
	(void)state;
	guard_close(&g);
	return 0;
}

static int event(const char *s, struct json_event *ev)
{
	size_t len = strlen(s);

	return json_parse_event(guard_place(&g, s, len, JSON_PADDING), len, ev);
}

static int request(const char *s, struct json_request *req)
{
	size_t len = strlen(s);

	return json_parse_request(guard_place(&g, s, len, JSON_PADDING), len, req);
}

static int models(const char *s, char *id, size_t id_cap, unsigned *nr)
{
	size_t len = strlen(s);

	return json_parse_models(guard_place(&g, s, len, JSON_PADDING), len, id, id_cap, nr);
}

static void expect_view(const char *p, size_t len, const char *want)
{
	if (!want) {
		assert_null(p);
		assert_int_equal(len, 0);
		return;
	}
	assert_non_null(p);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(p, want, len);
}

/* Runs first, before any json_thread_init: the parser is made on demand. */
static void test_lazy_init(void **state)
{
	struct json_event ev;

	(void)state;
	assert_int_equal(event("{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}", &ev), 0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	assert_int_equal(json_thread_init(), 0);
	assert_int_equal(json_thread_init(), 0);
}

static void test_vllm_chat_stream(void **state)
{
	struct json_event ev;

	(void)state;
	/* vLLM's first chunk: a role, with content "". */
	assert_int_equal(
	    event("{\"id\":\"chatcmpl-5f0c\",\"object\":\"chat.completion.chunk\","
		  "\"created\":1718000000,\"model\":\"meta-llama/Llama-3.1-8B-Instruct\","
		  "\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},"
		  "\"logprobs\":null,\"finish_reason\":null}]}",
		  &ev),
	    0);
	assert_int_equal(ev.delta, JSON_DELTA_ROLE);
	expect_view(ev.text, ev.text_len, NULL);
	expect_view(ev.finish_reason, ev.finish_reason_len, NULL);
	assert_false(ev.has_usage);
	assert_false(ev.has_error);

	/* A content delta with escapes and non-ASCII text. */
	assert_int_equal(event("{\"id\":\"chatcmpl-5f0c\",\"object\":\"chat.completion.chunk\","
			       "\"created\":1718000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
			       "\"delta\":{\"content\":\" \\\"Hi\\\"\\n\\t\\\\ "
			       "\\u00e9\\ud83d\\ude00 \xe4\xb8\xad\"},"
			       "\"logprobs\":null,\"finish_reason\":null}]}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	expect_view(ev.text, ev.text_len, " \"Hi\"\n\t\\ \xc3\xa9\xf0\x9f\x98\x80 \xe4\xb8\xad");

	/* The last content chunk names its finish reason. */
	assert_int_equal(
	    event("{\"id\":\"chatcmpl-5f0c\",\"object\":\"chat.completion.chunk\","
		  "\"created\":1718000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
		  "\"delta\":{\"content\":\"\"},\"logprobs\":null,\"finish_reason\":\"length\","
		  "\"stop_reason\":null}]}",
		  &ev),
	    0);
	assert_int_equal(ev.delta, JSON_DELTA_EMPTY);
	expect_view(ev.finish_reason, ev.finish_reason_len, "length");

	/* stream_options.include_usage: a usage-only chunk with no choices. */
	assert_int_equal(event("{\"id\":\"chatcmpl-5f0c\",\"object\":\"chat.completion.chunk\","
			       "\"created\":1718000000,\"model\":\"m\",\"choices\":[],"
			       "\"usage\":{\"prompt_tokens\":17,\"total_tokens\":4113,"
			       "\"completion_tokens\":4096}}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_NONE);
	assert_true(ev.has_usage);
	assert_true(ev.prompt_tokens == 17);
	assert_true(ev.completion_tokens == 4096);
}

static void test_openai_chat_stream(void **state)
{
	struct json_event ev;

	(void)state;
	assert_int_equal(
	    event("{\"id\":\"chatcmpl-AB\",\"object\":\"chat.completion.chunk\","
		  "\"created\":1718000000,\"model\":\"gpt-4o-mini-2024-07-18\","
		  "\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{\"index\":0,"
		  "\"delta\":{\"role\":\"assistant\",\"content\":\"\",\"refusal\":null},"
		  "\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
		  &ev),
	    0);
	assert_int_equal(ev.delta, JSON_DELTA_ROLE);
	assert_false(ev.has_usage);

	/* A role-only delta, and one with a role and a token. */
	assert_int_equal(event("{\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}", &ev), 0);
	assert_int_equal(ev.delta, JSON_DELTA_ROLE);
	assert_int_equal(event("{\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":"
			       "\"Hi\"}}]}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	expect_view(ev.text, ev.text_len, "Hi");

	/* An empty delta closes the stream. */
	assert_int_equal(event("{\"id\":\"chatcmpl-AB\",\"object\":\"chat.completion.chunk\","
			       "\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,"
			       "\"finish_reason\":\"stop\"}],\"usage\":null}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_EMPTY);
	expect_view(ev.finish_reason, ev.finish_reason_len, "stop");

	assert_int_equal(event("{\"choices\":[{\"delta\":{\"content\":null}}]}", &ev), 0);
	assert_int_equal(ev.delta, JSON_DELTA_EMPTY);

	/* Reasoning models stream their thinking as reasoning_content. */
	assert_int_equal(event("{\"choices\":[{\"delta\":{\"reasoning_content\":\"Hmm\","
			       "\"content\":null}}]}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	expect_view(ev.text, ev.text_len, "Hmm");
}

static void test_field_order(void **state)
{
	struct json_event ev;

	(void)state;
	/* usage before choices, finish_reason before delta, a second choice. */
	assert_int_equal(event("{\"usage\":{\"completion_tokens\":2,\"prompt_tokens\":1},"
			       "\"choices\":[{\"finish_reason\":\"stop\",\"index\":0,"
			       "\"delta\":{\"content\":\"a\",\"role\":\"assistant\"}},"
			       "{\"index\":1,\"delta\":{\"content\":\"b\"}}],"
			       "\"model\":\"m\"}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	expect_view(ev.text, ev.text_len, "a");
	expect_view(ev.finish_reason, ev.finish_reason_len, "stop");
	assert_true(ev.has_usage);
	assert_true(ev.prompt_tokens == 1 && ev.completion_tokens == 2);

	/* Fields after a choices array whose later elements were skipped. */
	assert_int_equal(
	    event("{\"choices\":[{\"text\":\"a\"},{\"text\":\"b\",\"x\":[1,{\"y\":[]}]}],"
		  "\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4}}",
		  &ev),
	    0);
	expect_view(ev.text, ev.text_len, "a");
	assert_true(ev.has_usage && ev.prompt_tokens == 3 && ev.completion_tokens == 4);

	/* A usage object without both counts is no usage. */
	assert_int_equal(event("{\"choices\":[],\"usage\":{\"prompt_tokens\":3}}", &ev), 0);
	assert_false(ev.has_usage);
}

static void test_completions_and_full(void **state)
{
	struct json_event ev;

	(void)state;
	assert_int_equal(event("{\"id\":\"cmpl-1\",\"object\":\"text_completion\","
			       "\"created\":1718000000,\"model\":\"m\",\"choices\":[{\"index\":0,"
			       "\"text\":\" world\",\"logprobs\":null,\"finish_reason\":null,"
			       "\"stop_reason\":null}],\"usage\":null}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	expect_view(ev.text, ev.text_len, " world");
	assert_int_equal(event("{\"choices\":[{\"index\":0,\"text\":\"\","
			       "\"finish_reason\":\"length\"}]}",
			       &ev),
			 0);
	assert_int_equal(ev.delta, JSON_DELTA_EMPTY);
	expect_view(ev.finish_reason, ev.finish_reason_len, "length");

	/* A whole non-streamed chat response. */
	assert_int_equal(
	    event("{\"id\":\"chatcmpl-9\",\"object\":\"chat.completion\",\"created\":1718000000,"
		  "\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
		  "\"content\":\"Hello there, friend.\",\"tool_calls\":[]},\"logprobs\":null,"
		  "\"finish_reason\":\"stop\",\"stop_reason\":null}],\"usage\":{"
		  "\"prompt_tokens\":5,\"total_tokens\":15,\"completion_tokens\":10,"
		  "\"prompt_tokens_details\":null},\"prompt_logprobs\":null}",
		  &ev),
	    0);
	assert_int_equal(ev.delta, JSON_DELTA_CONTENT);
	expect_view(ev.text, ev.text_len, "Hello there, friend.");
	expect_view(ev.finish_reason, ev.finish_reason_len, "stop");
	assert_true(ev.has_usage && ev.prompt_tokens == 5 && ev.completion_tokens == 10);

	/* A long document grows the thread's parser. */
	static char big[300000];
	static const char head[] = "{\"choices\":[{\"text\":\"", tail[] = "\"}]}";
	size_t text_len = sizeof(big) - sizeof(head) - sizeof(tail);
	memcpy(big, head, sizeof(head) - 1);
	memset(big + sizeof(head) - 1, 'x', text_len);
	memcpy(big + sizeof(head) - 1 + text_len, tail, sizeof(tail));
	assert_int_equal(event(big, &ev), 0);
	assert_int_equal(ev.text_len, text_len);
}

static void test_errors(void **state)
{
	struct json_event ev;

	(void)state;
	/* vLLM's mid-stream error event. */
	assert_int_equal(event("{\"error\":{\"object\":\"error\",\"message\":\"The model `x` does "
			       "not exist.\",\"type\":\"NotFoundError\",\"param\":null,"
			       "\"code\":404}}",
			       &ev),
			 0);
	assert_true(ev.has_error);
	expect_view(ev.error_message, ev.error_message_len, "The model `x` does not exist.");
	assert_int_equal(ev.delta, JSON_DELTA_NONE);

	/* vLLM's error response body, not nested. */
	assert_int_equal(event("{\"object\":\"error\",\"message\":\"max_tokens is too large\","
			       "\"type\":\"BadRequestError\",\"param\":null,\"code\":400}",
			       &ev),
			 0);
	assert_true(ev.has_error);
	expect_view(ev.error_message, ev.error_message_len, "max_tokens is too large");

	assert_int_equal(event("{\"error\":\"overloaded\"}", &ev), 0);
	assert_true(ev.has_error);
	expect_view(ev.error_message, ev.error_message_len, "overloaded");

	assert_int_equal(event("{\"error\":{\"code\":500}}", &ev), 0);
	assert_true(ev.has_error);
	assert_null(ev.error_message);

	assert_int_equal(event("{\"error\":null,\"message\":\"not an error\"}", &ev), 0);
	assert_false(ev.has_error);
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
		"",
		"   ",
		"null",
		"[]",
		"42",
		"\"chunk\"",
		"[DONE]",
		"{",
		"{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]",
		"{\"choices\":[{\"delta\":{\"content\":\"hi}}]}",
		"{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]} x",
		"{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}}",
		"{\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}{}",
		"{\"choices\":}",
		"{\"choices\" []}",
		"{'choices':[]}",
		"{choices:[]}",
		"{\"choices\":[],}",
		"{\"choices\":{}}",
		"{\"choices\":[1]}",
		"{\"choices\":[{\"delta\":[]}]}",
		"{\"choices\":[{\"delta\":{\"content\":12}}]}",
		"{\"choices\":[{\"text\":true}]}",
		"{\"choices\":[{\"finish_reason\":1}]}",
		"{\"choices\":[{\"delta\":{\"content\":\"\\x\"}}]}",
		"{\"choices\":[{\"delta\":{\"content\":\"a\nb\"}}]}",
		"{\"choices\":[{\"delta\":{\"content\":\"\xff\"}}]}",
		"{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1}}",
		"{\"usage\":{\"prompt_tokens\":1.5,\"completion_tokens\":1}}",
		"{\"usage\":[]}",
		"{\"error\":1}",
		/* Malformed values no field of ours reads. */
		"{\"created\":tru,\"choices\":[]}",
		"{\"created\":1.2.3,\"choices\":[]}",
		"{\"created\":01,\"choices\":[]}",
		"{\"created\":-,\"choices\":[]}",
		"{\"x\":{\"a\" 1},\"choices\":[]}",
		"{\"x\":[1,2,],\"choices\":[]}",
		"{\"x\":{\"a\":1,},\"choices\":[]}",
		"{\"id\":\"chatcmpl-\\q\",\"choices\":[]}",
		"{\"\\q\":1,\"choices\":[]}",
		"{\"choices\":[{\"logprobs\":nul,\"text\":\"a\"}]}",
		"{\"choices\":[{\"text\":\"a\"},{\"text\":\"b\",\"index\":x}]}",
		"{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":}]}}]}",
	};
	struct json_event ev;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = event(bad[i], &ev);

		if (ret != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
	}
}

static void test_request(void **state)
{
	struct json_request req;

	(void)state;
	assert_int_equal(request("{\"model\":\"meta-llama/Llama-3.1-8B-Instruct\","
				 "\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
				 "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":"
				 "\"caf\\u00e9\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
				 "\"x\"}},{\"type\":\"text\",\"text\":\"!\"}]},"
				 "{\"role\":\"assistant\",\"content\":null}],"
				 "\"max_tokens\":128,\"stream\":true,"
				 "\"stream_options\":{\"include_usage\":true},"
				 "\"temperature\":0.0,\"min_tokens\":128,\"ignore_eos\":true}",
				 &req),
			 0);
	assert_string_equal(req.model, "meta-llama/Llama-3.1-8B-Instruct");
	assert_true(req.chat);
	assert_true(req.prompt_len == strlen("Be brief.") + strlen("caf\xc3\xa9") + 1);
	assert_true(req.max_tokens == 128);
	assert_true(req.stream);
	assert_true(req.include_usage);
	assert_true(req.min_tokens == 128);
	assert_true(req.ignore_eos);

	assert_int_equal(request("{\"prompt\":\"Once upon a time\",\"model\":\"m\","
				 "\"max_completion_tokens\":7,\"max_tokens\":9,\"stream\":false,"
				 "\"stream_options\":null,\"ignore_eos\":null}",
				 &req),
			 0);
	assert_false(req.chat);
	assert_true(req.prompt_len == 16);
	assert_true(req.max_tokens == 7);
	assert_false(req.stream);
	assert_false(req.include_usage);
	assert_false(req.ignore_eos);

	assert_int_equal(request("{\"prompt\":[\"ab\",\"cde\",[1,2]],\"max_tokens\":null}", &req),
			 0);
	assert_true(req.prompt_len == 5);
	assert_true(req.max_tokens == 0);
	assert_string_equal(req.model, "");

	assert_int_equal(request("{\"prompt\":[1,2,3],\"max_tokens\":3}", &req), 0);
	assert_true(req.prompt_len == 0);
	assert_true(req.max_tokens == 3);

	/* Long model names are cut to fit. */
	char body[512];
	sprintf(body, "{\"model\":\"%0300d\"}", 1);
	assert_int_equal(request(body, &req), 0);
	assert_int_equal(strlen(req.model), sizeof(req.model) - 1);

	static const char *const bad[] = {
		"",
		"[]",
		"{\"model\":1}",
		"{\"max_tokens\":-1}",
		"{\"max_tokens\":\"9\"}",
		"{\"stream\":\"yes\"}",
		"{\"messages\":{}}",
		"{\"messages\":[{\"content\":1}]}",
		"{\"messages\":[{\"content\":[{\"text\":1}]}]}",
		"{\"prompt\":1}",
		"{\"stream_options\":{\"include_usage\":1}}",
		"{\"model\":\"m\"",
		"{\"model\":\"m\"} {}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (request(bad[i], &req) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
}

static void test_models(void **state)
{
	char id[64];
	unsigned nr = 99;

	(void)state;
	assert_int_equal(
	    models("{\"object\":\"list\",\"data\":[{\"id\":\"meta-llama/"
		   "Llama-3.1-8B-Instruct\",\"object\":\"model\",\"created\":1718000000,"
		   "\"owned_by\":\"vllm\",\"root\":\"/models/llama\",\"parent\":null,"
		   "\"max_model_len\":8192,\"permission\":[{\"id\":\"modelperm-1\","
		   "\"allow_sampling\":true}]},{\"id\":\"lora-1\",\"object\":\"model\"}]}",
		   id, sizeof(id), &nr),
	    0);
	assert_int_equal(nr, 2);
	assert_string_equal(id, "meta-llama/Llama-3.1-8B-Instruct");

	assert_int_equal(models("{\"data\":[{\"object\":\"model\",\"id\":\"abcdef\"}],"
				"\"object\":\"list\"}",
				id, 4, &nr),
			 0);
	assert_int_equal(nr, 1);
	assert_string_equal(id, "abc");

	assert_int_equal(models("{\"object\":\"list\",\"data\":[]}", id, sizeof(id), &nr), 0);
	assert_int_equal(nr, 0);
	assert_string_equal(id, "");

	static const char *const bad[] = {
		"{\"object\":\"list\"}",
		"{\"data\":{}}",
		"{\"data\":[1]}",
		"{\"data\":[{\"id\":1}]}",
		"[]",
		"{\"data\":[{\"id\":\"a\"}]",
		"{\"data\":[{\"id\":\"a\"},]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (models(bad[i], id, sizeof(id), &nr) != -EPROTO)
			fail_msg("accepted: %s", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_init),
		cmocka_unit_test(test_vllm_chat_stream),
		cmocka_unit_test(test_openai_chat_stream),
		cmocka_unit_test(test_field_order),
		cmocka_unit_test(test_completions_and_full),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_models),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
