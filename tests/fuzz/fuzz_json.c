/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the simdjson wrapper (streamed events, whole bodies,
 * requests, model lists), on inputs followed by JSON_PADDING bytes as the
 * engine gives them.
 */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct json_event ev;
	struct json_request req;
	char id[64];
	unsigned nr = 0;
	char *buf;
	int ret;

	if (!ready) {
		assert(json_thread_init() == 0);
		ready = 1;
	}
	buf = malloc(size + JSON_PADDING);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(buf + size, 0, JSON_PADDING);

	ret = json_parse_event(buf, size, &ev);
	assert(ret == 0 || ret == -EPROTO || ret == -ENOMEM);
	if (ret == 0 && ev.text_len)
		assert(ev.text != NULL);
	ret = json_parse_request(buf, size, &req);
	assert(ret == 0 || ret == -EPROTO || ret == -ENOMEM);
	if (ret == 0)
		assert(memchr(req.model, '\0', sizeof(req.model)));
	ret = json_parse_models(buf, size, id, sizeof(id), &nr);
	assert(ret == 0 || ret == -EPROTO || ret == -ENOMEM);
	if (ret == 0)
		assert(memchr(id, '\0', sizeof(id)));
	free(buf);
	return 0;
}
