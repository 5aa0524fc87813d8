/* SPDX-License-Identifier: MIT */
/*
 * brood-mock, end to end: starts the built binary on a free loopback port
 * with a truth file, talks to it over plain blocking sockets, reads the
 * answers with brood's own parsers, then stops it with SIGTERM and checks
 * the truth file against what was received. The timing checks are lower
 * bounds the mock guarantees by construction (it never sends early), so
 * they cannot flake on a slow machine.
 *
 * Usage: test_mock PATH_TO_BROOD_MOCK
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "http1.h"
#include "json.h"
#include "sse.h"

#define TTFT_MS		 30
#define ITL_MS		 5
#define TOKENS_PER_CHUNK 3
#define RESP_CAP	 (256 * 1024)
#define MAX_EVENTS	 64
#define MAX_STREAMS	 8
#define STR_(x)		 #x
#define STR(x)		 STR_(x)

static const char *mock_bin;

/* What a client saw of one streamed response, checked against the truth file. */
struct stream_seen {
	uint64_t id;		     /* x-request-id */
	uint64_t sent_ns;	     /* CLOCK_MONOTONIC just before the request was written */
	unsigned nr_events;	     /* role, content..., usage, [DONE] */
	char kinds[MAX_EVENTS];	     /* 'r', 'c', 'u', 'd' */
	unsigned tokens[MAX_EVENTS]; /* content events: tokens received */
};

static struct {
	pid_t pid;
	int port;
	char dir[64];
	char truth[128];
	struct stream_seen streams[MAX_STREAMS];
	unsigned nr_streams;
} mock;

/* One HTTP exchange's result, parsed. */
struct reply {
	char buf[RESP_CAP + JSON_PADDING];
	size_t len;
	struct http1_response head;
	size_t head_len;
	char body[RESP_CAP + JSON_PADDING]; /* de-chunked */
	size_t body_len;
	unsigned nr_chunks;
	bool chunks_are_events; /* every chunk: "data: ...\r\n\r\n" */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int mock_start(void)
{
	const char *argv[] = { mock_bin,
			       "--port",
			       "0",
			       "--host",
			       "127.0.0.1",
			       "--threads",
			       "2",
			       "--max-conns",
			       "64",
			       "--ttft-ms",
			       STR(TTFT_MS),
			       "--itl-ms",
			       STR(ITL_MS),
			       "--tokens-per-chunk",
			       STR(TOKENS_PER_CHUNK),
			       "--truth",
			       mock.truth,
			       NULL };
	char line[128];
	int out[2];
	FILE *f;

	if (pipe(out))
		return -1;
	mock.pid = fork();
	if (mock.pid < 0)
		return -1;
	if (!mock.pid) {
		dup2(out[1], STDOUT_FILENO);
		close(out[0]);
		close(out[1]);
		execv(mock_bin, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	f = fdopen(out[0], "r");
	if (!f || !fgets(line, sizeof(line), f) ||
	    sscanf(line, "brood-mock listening on 127.0.0.1:%d", &mock.port) != 1)
		return -1;
	fclose(f);
	return 0;
}

static int group_setup(void **state)
{
	(void)state;
	strcpy(mock.dir, "/tmp/brood-test-mock-XXXXXX");
	if (!mkdtemp(mock.dir))
		return -1;
	snprintf(mock.truth, sizeof(mock.truth), "%s/truth.tsv", mock.dir);
	if (json_thread_init())
		return -1;
	return mock_start();
}

static int group_teardown(void **state)
{
	(void)state;
	if (mock.pid > 0) {
		kill(mock.pid, SIGKILL);
		waitpid(mock.pid, NULL, 0);
	}
	unlink(mock.truth);
	rmdir(mock.dir);
	return 0;
}

static int connect_mock(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)mock.port) };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n > 0);
		buf += n;
		len -= (size_t)n;
	}
}

/* Writes a request; returns CLOCK_MONOTONIC just before. */
static uint64_t send_request(int fd, const char *method, const char *path, const char *body)
{
	char req[4096];
	uint64_t t;
	int len;

	if (body)
		len = snprintf(
		    req, sizeof(req),
		    "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
		    "Content-Length: %zu\r\n\r\n%s",
		    method, path, strlen(body), body);
	else
		len = snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
			       method, path);
	assert_true(len > 0 && (size_t)len < sizeof(req));
	t = now_ns();
	send_all(fd, req, (size_t)len);
	return t;
}

static bool chunk_is_event(const char *data, size_t len)
{
	return len >= 10 && !memcmp(data, "data: ", 6) && !memcmp(data + len - 4, "\r\n\r\n", 4);
}

/* Decodes what the chunked body holds so far; returns true once it is complete. */
static bool dechunk(struct reply *r, struct http1_chunked *dec, size_t *off)
{
	while (*off < r->len && !http1_chunked_done(dec)) {
		const char *data;
		size_t data_len;
		ssize_t n = http1_chunked_feed(dec, r->buf + *off, r->len - *off, &data, &data_len);

		assert_true(n >= 0);
		if (!n)
			break;
		*off += (size_t)n;
		if (!data_len)
			continue;
		/* The whole reply sits in one buffer: one run per chunk. */
		r->nr_chunks++;
		r->chunks_are_events = r->chunks_are_events && chunk_is_event(data, data_len);
		assert_true(r->body_len + data_len <= RESP_CAP);
		memcpy(r->body + r->body_len, data, data_len);
		r->body_len += data_len;
	}
	return http1_chunked_done(dec);
}

/* Reads one whole response (content-length or chunked) from fd. */
static void read_reply(int fd, struct reply *r)
{
	struct http1_chunked dec;
	size_t off = 0;
	int head = -EAGAIN;

	memset(r, 0, sizeof(*r));
	r->chunks_are_events = true;
	http1_chunked_init(&dec);
	for (;;) {
		ssize_t n;

		if (head == -EAGAIN) {
			head = http1_parse_response(r->buf, r->len, &r->head);
			assert_true(head > 0 || head == -EAGAIN);
			if (head > 0)
				off = r->head_len = (size_t)head;
		}
		if (head > 0 && r->head.framing == HTTP1_FRAMING_LENGTH &&
		    r->len >= r->head_len + r->head.content_length)
			break;
		if (head > 0 && r->head.framing == HTTP1_FRAMING_CHUNKED && dechunk(r, &dec, &off))
			break;
		assert_true(r->len < RESP_CAP);
		n = read(fd, r->buf + r->len, RESP_CAP - r->len);
		if (n < 0 && errno == EINTR)
			continue; /* task work from the probe ring's teardown, say */
		assert_true(n > 0);
		r->len += (size_t)n;
	}
	if (r->head.framing == HTTP1_FRAMING_LENGTH) {
		memcpy(r->body, r->buf + r->head_len, r->head.content_length);
		r->body_len = r->head.content_length;
		/* Exactly one answer: nothing may follow it. */
		assert_int_equal(r->len, r->head_len + r->head.content_length);
	} else {
		assert_int_equal(off, r->len);
	}
}

static bool header_is(const struct reply *r, const char *name, const char *value)
{
	const struct http1_header *h = http1_find_header(r->head.headers, r->head.nr_headers, name);

	return h && h->value_len == strlen(value) && !memcmp(h->value, value, h->value_len);
}

static uint64_t request_id(const struct reply *r)
{
	const struct http1_header *h =
	    http1_find_header(r->head.headers, r->head.nr_headers, "x-request-id");
	char tmp[32];

	assert_non_null(h);
	assert_true(h->value_len > 0 && h->value_len < sizeof(tmp));
	memcpy(tmp, h->value, h->value_len);
	tmp[h->value_len] = 0;
	return strtoull(tmp, NULL, 10);
}

/* Tokens all start with a space and hold no other: count the spaces. */
static unsigned count_tokens(const char *text, size_t len)
{
	unsigned n = 0;

	for (size_t i = 0; i < len; i++)
		n += text[i] == ' ';
	return n;
}

/*
 * Walks the SSE events of a streamed reply and checks their shape: optional
 * role delta, ceil(max_tokens / K) content events of K tokens (the last
 * fewer) with finish_reason only on the last, optional usage, [DONE].
 */
static void check_stream(const struct reply *r, bool chat, unsigned max_tokens, bool usage,
			 struct stream_seen *seen)
{
	static char spill[4096 + JSON_PADDING];
	unsigned nr_content = (max_tokens + TOKENS_PER_CHUNK - 1) / TOKENS_PER_CHUNK;
	unsigned tokens = 0, content = 0;
	struct sse_parser p;
	struct sse_event ev;
	size_t off = 0;
	bool done = false;

	sse_init(&p, spill, 4096);
	while (off < r->body_len) {
		struct json_event je;
		ssize_t n = sse_feed(&p, r->body + off, r->body_len - off, &ev);

		if (n == -EAGAIN)
			break;
		assert_true(n > 0);
		off += (size_t)n;
		assert_false(done);
		assert_true(seen->nr_events < MAX_EVENTS);
		if (ev.done) {
			seen->kinds[seen->nr_events++] = 'd';
			done = true;
			continue;
		}
		assert_int_equal(json_parse_event(ev.data, ev.data_len, &je), 0);
		assert_false(je.has_error);
		if (seen->nr_events == 0 && chat) {
			assert_int_equal(je.delta, JSON_DELTA_ROLE);
			assert_null(je.finish_reason);
			seen->kinds[seen->nr_events++] = 'r';
			continue;
		}
		if (je.has_usage) {
			assert_true(usage);
			assert_int_equal(content, nr_content);
			assert_int_equal(je.delta, JSON_DELTA_NONE);
			assert_int_equal(je.completion_tokens, max_tokens);
			assert_true(je.prompt_tokens >= 1);
			seen->kinds[seen->nr_events++] = 'u';
			continue;
		}
		assert_int_equal(je.delta, JSON_DELTA_CONTENT);
		content++;
		tokens += count_tokens(je.text, je.text_len);
		assert_int_equal(count_tokens(je.text, je.text_len),
				 content < nr_content
				     ? TOKENS_PER_CHUNK
				     : max_tokens - (nr_content - 1) * TOKENS_PER_CHUNK);
		if (content == nr_content) {
			assert_non_null(je.finish_reason);
			assert_int_equal(je.finish_reason_len, 6);
			assert_memory_equal(je.finish_reason, "length", 6);
		} else {
			assert_null(je.finish_reason);
		}
		seen->tokens[seen->nr_events] = count_tokens(je.text, je.text_len);
		seen->kinds[seen->nr_events++] = 'c';
	}
	assert_true(done);
	assert_int_equal(off, r->body_len);
	assert_int_equal(content, nr_content);
	assert_int_equal(tokens, max_tokens);
	/* Each event is its own chunk. */
	assert_true(r->chunks_are_events);
	assert_int_equal(r->nr_chunks, seen->nr_events);
}

static void stream_request(const char *path, const char *body, bool chat, unsigned max_tokens,
			   bool usage)
{
	static struct reply r;
	struct stream_seen *seen;
	int fd = connect_mock();

	assert_true(mock.nr_streams < MAX_STREAMS);
	seen = &mock.streams[mock.nr_streams++];
	memset(seen, 0, sizeof(*seen));
	seen->sent_ns = send_request(fd, "POST", path, body);
	read_reply(fd, &r);
	close(fd);
	assert_int_equal(r.head.status, 200);
	assert_int_equal(r.head.framing, HTTP1_FRAMING_CHUNKED);
	assert_true(r.head.keep_alive);
	assert_true(header_is(&r, "content-type", "text/event-stream; charset=utf-8"));
	assert_true(header_is(&r, "server", "uvicorn"));
	assert_non_null(http1_find_header(r.head.headers, r.head.nr_headers, "date"));
	seen->id = request_id(&r);
	check_stream(&r, chat, max_tokens, usage, seen);
}

static void test_stream_chat(void **state)
{
	(void)state;
	stream_request("/v1/chat/completions",
		       "{\"model\":\"brood-mock\",\"messages\":[{\"role\":\"user\",\"content\":"
		       "\"Say something long enough.\"}],\"max_tokens\":10,\"stream\":true,"
		       "\"stream_options\":{\"include_usage\":true}}",
		       true, 10, true);
}

static void test_stream_completion(void **state)
{
	(void)state;
	/* No model field is fine; no usage unless asked. */
	stream_request("/v1/completions",
		       "{\"prompt\":\"Once upon a time\",\"max_tokens\":7,\"stream\":true}", false,
		       7, false);
}

static void test_stream_default_tokens(void **state)
{
	(void)state;
	stream_request("/v1/completions",
		       "{\"model\":\"brood-mock\",\"prompt\":\"x\",\"stream\":true,"
		       "\"stream_options\":{\"include_usage\":true}}",
		       false, 16, true);
}

static void exchange(int fd, const char *method, const char *path, const char *body,
		     struct reply *r)
{
	send_request(fd, method, path, body);
	read_reply(fd, r);
}

static void test_full_chat(void **state)
{
	static struct reply r;
	struct json_event je;
	int fd = connect_mock();
	uint64_t t0 = now_ns();

	(void)state;
	exchange(fd, "POST", "/v1/chat/completions",
		 "{\"model\":\"brood-mock\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
		 "\"max_tokens\":20}",
		 &r);
	/* ttft + itl * (ceil(20 / 3) - 1) = 30 + 5 * 6 ms, never less. */
	assert_true(now_ns() - t0 >= (TTFT_MS + ITL_MS * 6) * 1000000ull);
	assert_int_equal(r.head.status, 200);
	assert_int_equal(r.head.framing, HTTP1_FRAMING_LENGTH);
	assert_true(header_is(&r, "content-type", "application/json"));
	assert_int_equal(json_parse_event(r.body, r.body_len, &je), 0);
	assert_int_equal(je.delta, JSON_DELTA_CONTENT);
	assert_int_equal(count_tokens(je.text, je.text_len), 20);
	assert_true(je.has_usage);
	assert_int_equal(je.completion_tokens, 20);
	assert_non_null(je.finish_reason);
	assert_memory_equal(je.finish_reason, "length", 6);
	assert_non_null(strstr(r.body, "\"object\":\"chat.completion\""));

	/* Same connection, keep-alive: a completion without a model field. */
	exchange(fd, "POST", "/v1/completions", "{\"prompt\":\"abcdefgh\",\"max_tokens\":2}", &r);
	assert_int_equal(r.head.status, 200);
	assert_int_equal(json_parse_event(r.body, r.body_len, &je), 0);
	assert_int_equal(count_tokens(je.text, je.text_len), 2);
	assert_int_equal(je.prompt_tokens, 2);
	assert_non_null(strstr(r.body, "\"object\":\"text_completion\""));
	close(fd);
}

static void test_models_health(void **state)
{
	static struct reply r;
	char id[64];
	unsigned nr = 0;
	int fd = connect_mock();

	(void)state;
	exchange(fd, "GET", "/v1/models", NULL, &r);
	assert_int_equal(r.head.status, 200);
	assert_int_equal(json_parse_models(r.body, r.body_len, id, sizeof(id), &nr), 0);
	assert_int_equal(nr, 1);
	assert_string_equal(id, "brood-mock");
	exchange(fd, "GET", "/health", NULL, &r);
	assert_int_equal(r.head.status, 200);
	assert_int_equal(r.body_len, 0);
	close(fd);
}

static void expect_error(int fd, const char *method, const char *path, const char *body, int status,
			 const char *needle)
{
	static struct reply r;
	struct json_event je;

	exchange(fd, method, path, body, &r);
	assert_int_equal(r.head.status, status);
	assert_true(header_is(&r, "content-type", "application/json"));
	assert_non_null(strstr(r.body, needle));
	if (strstr(r.body, "\"error\"")) {
		assert_int_equal(json_parse_event(r.body, r.body_len, &je), 0);
		assert_true(je.has_error);
	}
}

static void test_errors(void **state)
{
	int fd = connect_mock();

	(void)state;
	expect_error(fd, "GET", "/v1/nope", NULL, 404, "Not Found");
	expect_error(fd, "POST", "/v1/chat/completions", "{\"model\":", 400, "BadRequestError");
	expect_error(fd, "POST", "/v1/completions", "not json", 400, "BadRequestError");
	expect_error(fd, "POST", "/v1/chat/completions",
		     "{\"model\":\"gpt-x\",\"messages\":[],\"stream\":true}", 404,
		     "{\"error\":{\"message\":\"The model `gpt-x` does not exist.\","
		     "\"type\":\"NotFoundError\",\"code\":404}}");
	expect_error(fd, "GET", "/v1/chat/completions", NULL, 405, "Method Not Allowed");
	/* The connection survives every one of them. */
	expect_error(fd, "GET", "/nope", NULL, 404, "Not Found");
	close(fd);
}

struct truth_line {
	uint64_t id;
	unsigned ev;
	char kind; /* first letter */
	uint64_t ns;
	unsigned tokens; /* content lines: tokens of the event */
};

static unsigned read_truth(struct truth_line *lines, unsigned cap)
{
	char buf[256];
	unsigned n = 0;
	FILE *f = fopen(mock.truth, "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "# request_id event_index kind send_ns [tokens]\n");
	while (fgets(buf, sizeof(buf), f)) {
		char kind[16];
		int got;

		assert_true(n < cap);
		got = sscanf(buf, "%" SCNu64 "\t%u\t%15s\t%" SCNu64 "\t%u", &lines[n].id,
			     &lines[n].ev, kind, &lines[n].ns, &lines[n].tokens);
		/* content lines, and only they, carry a token count */
		assert_int_equal(got, strcmp(kind, "content") ? 4 : 5);
		assert_true(!strcmp(kind, "role") || !strcmp(kind, "content") ||
			    !strcmp(kind, "usage") || !strcmp(kind, "done"));
		lines[n++].kind = kind[0];
	}
	fclose(f);
	return n;
}

/* The truth file against what the client saw: one line per event, in order. */
static void check_truth(const struct stream_seen *s, const struct truth_line *lines, unsigned nr)
{
	const uint64_t ttft_ns = TTFT_MS * 1000000ull, itl_ns = ITL_MS * 1000000ull;
	uint64_t prev_ns = 0, prev_content_ns = 0;
	unsigned got = 0;

	for (unsigned i = 0; i < nr; i++) {
		const struct truth_line *l = &lines[i];

		if (l->id != s->id)
			continue;
		assert_int_equal(l->ev, got);
		assert_true(got < s->nr_events);
		assert_int_equal(l->kind, s->kinds[got]);
		assert_true(l->ns >= prev_ns);
		assert_true(l->ns >= s->sent_ns);
		if (l->kind == 'c' && !prev_content_ns)
			assert_true(l->ns - s->sent_ns >= ttft_ns);
		if (l->kind == 'c' && prev_content_ns)
			assert_true(l->ns - prev_content_ns >= itl_ns);
		if (l->kind == 'c') {
			assert_int_equal(l->tokens, s->tokens[got]);
			prev_content_ns = l->ns;
		}
		prev_ns = l->ns;
		got++;
	}
	assert_int_equal(got, s->nr_events);
}

static void test_stop_and_truth(void **state)
{
	static struct truth_line lines[1024];
	unsigned nr;
	int status;

	(void)state;
	assert_int_equal(kill(mock.pid, SIGTERM), 0);
	assert_int_equal(waitpid(mock.pid, &status, 0), mock.pid);
	mock.pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	nr = read_truth(lines, 1024);
	assert_true(mock.nr_streams > 0);
	for (unsigned i = 0; i < mock.nr_streams; i++)
		check_truth(&mock.streams[i], lines, nr);
}

/* brood-mock needs SINGLE_ISSUER and DEFER_TASKRUN (Linux 6.1). */
static bool kernel_has_rings(void)
{
	struct io_uring_params p = { .flags =
					 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
	struct io_uring ring;

	if (io_uring_queue_init_params(8, &ring, &p) < 0)
		return false;
	io_uring_queue_exit(&ring);
	return true;
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_chat),
		cmocka_unit_test(test_stream_completion),
		cmocka_unit_test(test_stream_default_tokens),
		cmocka_unit_test(test_full_chat),
		cmocka_unit_test(test_models_health),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_stop_and_truth),
	};

	if (argc < 2) {
		fprintf(stderr, "usage: %s PATH_TO_BROOD_MOCK\n", argv[0]);
		return 2;
	}
	mock_bin = argv[1];
	if (!kernel_has_rings()) {
		fprintf(stderr, "test_mock: io_uring lacks SINGLE_ISSUER/DEFER_TASKRUN: skipped\n");
		return 77;
	}
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
