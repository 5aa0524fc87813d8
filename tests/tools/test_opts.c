/* SPDX-License-Identifier: MIT */
/*
 * `brood run` flags: defaults, every flag, every error path (one line naming
 * the flag and the fix), durations and base URLs.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sys/socket.h>

#include <cmocka.h>

#include "opts.h"

#define S_NS (1000000000ull)

static char err[256];

/* parse(&o, "-u", "8", NULL): argv[0] is "run". */
static int parse(struct brood_opts *o, ...)
{
	char *argv[64] = { "run" };
	int argc = 1;
	va_list ap;

	va_start(ap, o);
	while ((argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	memset(err, 0, sizeof(err));
	return opts_parse_run(argc, argv, o, err, sizeof(err));
}

static int setup(void **state)
{
	(void)state;
	unsetenv("OPENAI_API_KEY");
	return 0;
}

/* The parse fails with one line in err that holds want (and want2). */
static void expect_error(int ret, const char *want, const char *want2)
{
	if (ret != -EINVAL || !strstr(err, want) || (want2 && !strstr(err, want2)))
		fail_msg("ret %d, err '%s', wanted '%s' / '%s'", ret, err, want,
			 want2 ? want2 : "");
	assert_null(strchr(err, '\n'));
}

static void test_defaults(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	assert_int_equal(o.nr_urls, 1);
	assert_string_equal(o.urls[0].host, "localhost");
	assert_int_equal(o.urls[0].port, 80);
	assert_false(o.urls[0].tls);
	assert_string_equal(o.urls[0].path, "");
	assert_string_equal(o.model, "");
	assert_false(o.chat);
	assert_true(o.stream);
	assert_int_equal(o.users, 1);
	assert_true(o.spawn_rate == 0);
	assert_int_equal(o.run_time_ns, 0);
	assert_int_equal(o.max_requests, 0);
	assert_int_equal(o.prompt_tokens, 512);
	assert_null(o.prompt_text);
	assert_int_equal(o.max_tokens, 128);
	assert_null(o.api_key);
	assert_int_equal(o.nr_shards, 0);
	assert_null(o.json_path);
	assert_null(o.summary_path);
	assert_int_equal(o.timeout_ns, 600 * S_NS);
	assert_null(o.trace_path);
	assert_false(o.trace_chunks);
	assert_int_equal(o.max_event_bytes, 4096);
	assert_false(o.quiet);
	assert_int_equal(o.seed, 0);
	assert_false(o.help);
	opts_close(&o);
}

static void test_short_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, "-H", "http://127.0.0.1:8000", "-m", "llama", "-u", "8", "-r",
			       "2.5", "-t", "1min", "-n", "100", "-p", "64", "-o", "32", "-k",
			       "sk-1", "-q", NULL),
			 0);
	assert_int_equal(o.nr_urls, 1);
	assert_string_equal(o.urls[0].host, "127.0.0.1");
	assert_int_equal(o.urls[0].port, 8000);
	assert_string_equal(o.model, "llama");
	assert_int_equal(o.users, 8);
	assert_true(o.spawn_rate == 2.5);
	assert_int_equal(o.run_time_ns, 60 * S_NS);
	assert_int_equal(o.max_requests, 100);
	assert_int_equal(o.prompt_tokens, 64);
	assert_int_equal(o.max_tokens, 32);
	assert_string_equal(o.api_key, "sk-1");
	assert_true(o.quiet);
	opts_close(&o);
}

static void test_long_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(
	    parse(&o, "--host=http://a:1,http://b:2/x", "--model", "m", "--chat", "--users",
		  "1000000", "--spawn-rate", "0.5", "--run-time", "1h30m", "--requests", "7",
		  "--max-tokens", "1000000", "--no-stream", "--api-key", "k", "--shards", "256",
		  "--json", "/tmp/out.json", "--summary-file", "sum.csv", "--timeout", "30s",
		  "--trace", "/tmp/trace.jsonl", "--trace-chunks", "--max-event-bytes", "16777216",
		  "--quiet", "--seed", "18446744073709551615", "--prompt-tokens", "1", NULL),
	    0);
	assert_int_equal(o.nr_urls, 2);
	assert_string_equal(o.urls[0].host, "a");
	assert_int_equal(o.urls[1].port, 2);
	assert_string_equal(o.urls[1].path, "/x");
	assert_true(o.chat);
	assert_false(o.stream);
	assert_int_equal(o.users, 1000000);
	assert_true(o.spawn_rate == 0.5);
	assert_int_equal(o.run_time_ns, 5400 * S_NS);
	assert_int_equal(o.max_requests, 7);
	assert_int_equal(o.max_tokens, 1000000);
	assert_int_equal(o.nr_shards, 256);
	assert_string_equal(o.json_path, "/tmp/out.json");
	assert_string_equal(o.summary_path, "sum.csv");
	assert_int_equal(o.timeout_ns, 30 * S_NS);
	assert_string_equal(o.trace_path, "/tmp/trace.jsonl");
	assert_true(o.trace_chunks);
	assert_int_equal(o.max_event_bytes, 16777216);
	assert_int_equal(o.seed, UINT64_MAX);
	assert_int_equal(o.prompt_tokens, 1);
	opts_close(&o);
}

static void test_stream_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, "--stream", NULL), 0);
	assert_true(o.stream);
	assert_int_equal(parse(&o, "--no-stream", NULL), 0);
	assert_false(o.stream);
	assert_int_equal(parse(&o, "--no-stream", "--stream", NULL), 0);
	assert_true(o.stream); /* the last one wins */
}

static void test_ignore_eos_and_batch(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	assert_true(o.ignore_eos);
	assert_int_equal(o.batch_us, 0);
	assert_int_equal(parse(&o, "--no-ignore-eos", "--batch-us", "250", NULL), 0);
	assert_false(o.ignore_eos);
	assert_int_equal(o.batch_us, 250);
	assert_int_equal(parse(&o, "--batch-us", "10001", NULL), -EINVAL);
	assert_non_null(strstr(err, "--batch-us"));
}

/* Timeouts per kind (0 or "off": none), --grace, --retries, --source-ips. */
static void test_fault_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	assert_int_equal(o.connect_timeout_ns, 0);
	assert_int_equal(o.idle_timeout_ns, 0);
	assert_int_equal(o.grace_ns, 2 * S_NS);
	assert_int_equal(o.retries, 0);
	assert_int_equal(o.nr_sources, 0);
	assert_int_equal(parse(&o, "--connect-timeout", "3s", "--first-byte-timeout", "500ms",
			       "--first-token-timeout", "1m", "--idle-timeout", "off", "--grace",
			       "0", "--retries", "5", "--source-ips", "127.0.0.2,::1", NULL),
			 0);
	assert_int_equal(o.connect_timeout_ns, 3 * S_NS);
	assert_int_equal(o.first_byte_timeout_ns, S_NS / 2);
	assert_int_equal(o.first_token_timeout_ns, 60 * S_NS);
	assert_int_equal(o.idle_timeout_ns, 0);
	assert_int_equal(o.grace_ns, 0);
	assert_int_equal(o.retries, 5);
	assert_int_equal(o.nr_sources, 2);
	assert_int_equal(o.sources[0].addr.ss_family, AF_INET);
	assert_int_equal(o.sources[1].addr.ss_family, AF_INET6);
	expect_error(parse(&o, "--idle-timeout", "soon", NULL), "--idle-timeout soon",
		     "0 for none");
	expect_error(parse(&o, "--retries", "101", NULL), "--retries", "0 to 100");
	expect_error(parse(&o, "--source-ips", "127.0.0.2,,127.0.0.3", NULL), "--source-ips",
		     "empty");
	expect_error(parse(&o, "--source-ips", "localhost", NULL), "--source-ips",
		     "'localhost' is not an IP address");
}

static void test_hosts_accumulate(void **state)
{
	struct brood_opts o;
	char list[64 * 24 + 32];
	size_t off = 0;

	(void)state;
	assert_int_equal(parse(&o, "-H", "http://a", "-H", " http://b:81 , https://c ", NULL), 0);
	assert_int_equal(o.nr_urls, 3);
	assert_string_equal(o.urls[1].host, "b");
	assert_true(o.urls[2].tls);
	assert_int_equal(o.urls[2].port, 443);

	for (int i = 0; i < ENGINE_MAX_TARGETS; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%shttp://h%d",
					i ? "," : "", i);
	assert_int_equal(parse(&o, "-H", list, NULL), 0);
	assert_int_equal(o.nr_urls, ENGINE_MAX_TARGETS);
	expect_error(parse(&o, "-H", list, "-H", "http://one-more", NULL), "-H", "at most 64");
	expect_error(parse(&o, "-H", "http://a,,http://b", NULL), "-H", "empty URL");
	expect_error(parse(&o, "-H", "http://a,", NULL), "-H", "empty URL");
	expect_error(parse(&o, "-H", "localhost:8000", NULL), "-H localhost:8000",
		     "http://localhost:8000");
}

static void test_prompt_text(void **state)
{
	char path[] = "/tmp/brood_prompt_XXXXXX";
	struct brood_opts o;
	int fd;

	(void)state;
	assert_int_equal(parse(&o, "--prompt-text", "Hello \"world\"", NULL), 0);
	assert_string_equal(o.prompt_text, "Hello \"world\"");
	assert_int_equal(o.prompt_text_len, 13);
	assert_int_equal(o.prompt_tokens, 0);
	assert_null(o.prompt_file);
	opts_close(&o);
	assert_null(o.prompt_text);

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "from a file\n", 12), 12);
	close(fd);
	{
		char arg[64];

		snprintf(arg, sizeof(arg), "@%s", path);
		assert_int_equal(parse(&o, "--prompt-text", "first", "--prompt-text", arg, NULL),
				 0);
		assert_string_equal(o.prompt_text, "from a file\n");
		assert_int_equal(o.prompt_text_len, 12);
		assert_string_equal(o.prompt_file, path);
		opts_close(&o);

		/* -p and --prompt-text exclude each other, in either order. */
		expect_error(parse(&o, "-p", "10", "--prompt-text", arg, NULL),
			     "-p/--prompt-tokens", "--prompt-text");
		expect_error(parse(&o, "--prompt-text", "x", "--prompt-tokens", "10", NULL),
			     "exclude", NULL);
	}
	assert_int_equal(truncate(path, 0), 0);
	{
		char arg[64];

		snprintf(arg, sizeof(arg), "@%s", path);
		expect_error(parse(&o, "--prompt-text", arg, NULL), "--prompt-text", "empty");
	}
	unlink(path);
	expect_error(parse(&o, "--prompt-text", "@/nonexistent/p.txt", NULL),
		     "--prompt-text @/nonexistent/p.txt", "cannot open");
	expect_error(parse(&o, "--prompt-text", "@", NULL), "--prompt-text", "no file name");
	expect_error(parse(&o, "--prompt-text", "@/tmp", NULL), "--prompt-text @/tmp",
		     "regular file");
	expect_error(parse(&o, "--prompt-text", "@p.jsonl", NULL), "JSONL", NULL);
	expect_error(parse(&o, "--prompt-text", "", NULL), "--prompt-text", "empty");
}

static void test_api_key_env(void **state)
{
	struct brood_opts o;

	(void)state;
	setenv("OPENAI_API_KEY", "from-env", 1);
	assert_int_equal(parse(&o, NULL), 0);
	assert_string_equal(o.api_key, "from-env");
	assert_int_equal(parse(&o, "-k", "from-flag", NULL), 0);
	assert_string_equal(o.api_key, "from-flag");
	setenv("OPENAI_API_KEY", "", 1);
	assert_int_equal(parse(&o, NULL), 0);
	assert_null(o.api_key);
	setenv("OPENAI_API_KEY", "bad\r\nkey", 1);
	expect_error(parse(&o, NULL), "OPENAI_API_KEY", "control");
	unsetenv("OPENAI_API_KEY");
	expect_error(parse(&o, "-k", "a\nb", NULL), "-k/--api-key", "control");
	expect_error(parse(&o, "--api-key", "", NULL), "-k/--api-key", "empty");
}

static void test_help(void **state)
{
	struct brood_opts o;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_int_equal(parse(&o, "-u", "3", "-h", "--bogus", NULL), 0);
	assert_true(o.help);
	assert_int_equal(o.users, 1); /* help alone: the rest is defaults */
	assert_int_equal(parse(&o, "--help", NULL), 0);
	assert_true(o.help);

	f = open_memstream(&buf, &len);
	assert_non_null(f);
	opts_usage(f);
	fclose(f);
	for (const char *flag = "--host\0--model\0--chat\0--users\0--spawn-rate\0--run-time\0"
				"--requests\0--prompt-tokens\0--prompt-text\0--max-tokens\0"
				"--stream\0--no-stream\0--api-key\0--shards\0--json\0"
				"--summary-file\0--timeout\0--trace\0--trace-chunks\0"
				"--max-event-bytes\0--quiet\0--seed\0--help\0--no-ignore-eos\0"
				"--batch-us\0";
	     *flag; flag += strlen(flag) + 1)
		assert_non_null(strstr(buf, flag));
	assert_non_null(strstr(buf, "-H, --host"));
	free(buf);
}

static void test_getopt_errors(void **state)
{
	struct brood_opts o;

	(void)state;
	expect_error(parse(&o, "--bogus", NULL), "unknown", "'--bogus'");
	expect_error(parse(&o, "-x", NULL), "unknown flag '-x'", "--help");
	expect_error(parse(&o, "-u", NULL), "-u/--users needs a value", "--users 8");
	expect_error(parse(&o, "--model", NULL), "-m/--model needs a value", NULL);
	expect_error(parse(&o, "--timeout", NULL), "--timeout needs a value", "600s");
	expect_error(parse(&o, "--chat=yes", NULL), "--chat takes no value", "=yes");
	expect_error(parse(&o, "run2", NULL), "unexpected argument 'run2'", NULL);
	expect_error(parse(&o, "-u", "2", "--", "x", NULL), "unexpected argument 'x'", NULL);
	/* A second parse after an error starts afresh. */
	assert_int_equal(parse(&o, "-u", "4", NULL), 0);
	assert_int_equal(o.users, 4);
	/* Abbreviations are getopt_long's (and argparse's): unique prefixes work. */
	assert_int_equal(parse(&o, "--user", "5", NULL), 0);
	assert_int_equal(o.users, 5);
	expect_error(parse(&o, "--trace-c", "--tr", "x", NULL), "unknown or ambiguous", "--tr");
}

static void test_tokenizer_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	assert_null(o.tokenizer);
	assert_int_equal(parse(&o, "--tokenizer", "cl100k_base", "--tokenizer-threads", "3",
			       "--tokenizer-max-bytes", "1048576", "--trace-tokens", "/tmp/t.jsonl",
			       NULL),
			 0);
	assert_string_equal(o.tokenizer, "cl100k_base");
	assert_int_equal(o.tokenizer_threads, 3);
	assert_int_equal(o.tokenizer_max_bytes, 1048576);
	assert_string_equal(o.trace_tokens_path, "/tmp/t.jsonl");
	assert_int_equal(parse(&o, "--tokenizer", "o200k_base", NULL), 0);
	/* a file: its contents are tok_load's to judge, later */
	assert_int_equal(parse(&o, "--tokenizer", "/etc/hostname", NULL), 0);
	expect_error(parse(&o, "--tokenizer", "cl100k", NULL), "--tokenizer cl100k",
		     "No such file");
	expect_error(parse(&o, "--tokenizer", "/tmp", NULL), "--tokenizer /tmp", "not a regular");
	expect_error(parse(&o, "--tokenizer", "", NULL), "--tokenizer", "cl100k_base");
	expect_error(parse(&o, "--tokenizer-threads", "2", NULL), "need --tokenizer", NULL);
	expect_error(parse(&o, "--trace-tokens", "/tmp/x", NULL), "need --tokenizer", NULL);
	expect_error(parse(&o, "--tokenizer", "cl100k_base", "--tokenizer-threads", "257", NULL),
		     "--tokenizer-threads 257", "0 to 256");
	expect_error(parse(&o, "--tokenizer", "cl100k_base", "--tokenizer-max-bytes", "100", NULL),
		     "--tokenizer-max-bytes 100", "4096");
}

static void test_number_errors(void **state)
{
	struct brood_opts o;

	(void)state;
	expect_error(parse(&o, "-u", "0", NULL), "-u/--users 0", "1 to 1000000");
	expect_error(parse(&o, "-u", "1000001", NULL), "-u/--users", "1 to 1000000");
	expect_error(parse(&o, "-u", "abc", NULL), "-u/--users abc", NULL);
	expect_error(parse(&o, "-u", "-5", NULL), "-u/--users -5", NULL);
	expect_error(parse(&o, "-u", "8 ", NULL), "-u/--users", NULL);
	expect_error(parse(&o, "-u", "99999999999999999999999", NULL), "-u/--users", NULL);
	expect_error(parse(&o, "-n", "0", NULL), "-n/--requests 0", NULL);
	expect_error(parse(&o, "-p", "0", NULL), "-p/--prompt-tokens 0", NULL);
	expect_error(parse(&o, "-o", "1000001", NULL), "-o/--max-tokens", "1 to 1000000");
	expect_error(parse(&o, "--shards", "257", NULL), "--shards 257", "0 to 256");
	expect_error(parse(&o, "--max-event-bytes", "100", NULL), "--max-event-bytes 100", "256");
	expect_error(parse(&o, "--seed", "-1", NULL), "--seed -1", NULL);
	expect_error(parse(&o, "-r", "0", NULL), "-r/--spawn-rate 0", "above 0");
	expect_error(parse(&o, "-r", "abc", NULL), "-r/--spawn-rate abc", NULL);
	expect_error(parse(&o, "-r", "1e3", NULL), "-r/--spawn-rate 1e3", NULL);
	expect_error(parse(&o, "-r", "0x10", NULL), "-r/--spawn-rate", NULL);
	expect_error(parse(&o, "-r", "2000000", NULL), "-r/--spawn-rate", "1000000");
	expect_error(parse(&o, "-t", "0s", NULL), "-t/--run-time 0s", "5min");
	expect_error(parse(&o, "-t", "5x", NULL), "-t/--run-time 5x", NULL);
	expect_error(parse(&o, "--timeout", "-1", NULL), "--timeout -1", NULL);
	expect_error(parse(&o, "-m", "", NULL), "-m/--model", NULL);
	{
		char big[300];

		memset(big, 'm', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		expect_error(parse(&o, "-m", big, NULL), "-m/--model", "255");
	}
}

static void test_output_paths(void **state)
{
	struct brood_opts o;

	(void)state;
	expect_error(parse(&o, "--json", "/nonexistent/dir/r.json", NULL),
		     "--json /nonexistent/dir/r.json", "'/nonexistent/dir'");
	expect_error(parse(&o, "--summary-file", "/nonexistent/s.csv", NULL), "--summary-file",
		     "create it");
	expect_error(parse(&o, "--trace", "/nonexistent/t", NULL), "--trace", NULL);
	expect_error(parse(&o, "--json", "/tmp", NULL), "--json /tmp", "directory");
	expect_error(parse(&o, "--json", "", NULL), "--json", "empty");
	expect_error(parse(&o, "--trace-chunks", NULL), "--trace-chunks", "--trace FILE");
	assert_int_equal(parse(&o, "--json", "r.json", "--summary-file", "/tmp/s.csv", NULL), 0);
	assert_string_equal(o.json_path, "r.json");
}

static void test_report_flags(void **state)
{
	struct brood_opts o;

	(void)state;
	assert_int_equal(parse(&o, NULL), 0);
	assert_int_equal(o.metrics_port, -1);
	assert_null(o.html_path);
	assert_int_equal(parse(&o, "--html", "/tmp/r.html", "--metrics-port", "9464", NULL), 0);
	assert_string_equal(o.html_path, "/tmp/r.html");
	assert_int_equal(o.metrics_port, 9464);
	assert_string_equal(o.metrics_addr, "127.0.0.1");
	assert_int_equal(parse(&o, "--metrics-port", "0.0.0.0:0", "--metrics-linger", "30s", NULL),
			 0);
	assert_int_equal(o.metrics_port, 0);
	assert_string_equal(o.metrics_addr, "0.0.0.0");
	assert_true(o.metrics_linger_ns == 30 * S_NS);
	expect_error(parse(&o, "--html", "/nonexistent/r.html", NULL), "--html", "create it");
	expect_error(parse(&o, "--metrics-port", "65536", NULL), "--metrics-port 65536", NULL);
	expect_error(parse(&o, "--metrics-port", "host:80", NULL), "IPv4ADDR:PORT", NULL);
	expect_error(parse(&o, "--metrics-port", ":80", NULL), "--metrics-port", NULL);
	expect_error(parse(&o, "--metrics-port", "1.2.3.4:", NULL), "--metrics-port", NULL);
	expect_error(parse(&o, "--metrics-linger", "5s", NULL), "--metrics-linger",
		     "--metrics-port");
}

static void test_durations(void **state)
{
	static const struct {
		const char *s;
		uint64_t ns;
	} good[] = {
		{ "20s", 20 * S_NS },
		{ "5m", 300 * S_NS },
		{ "5min", 300 * S_NS },
		{ "1h30m", 5400 * S_NS },
		{ "500ms", 500000000 },
		{ "90", 90 * S_NS },
		{ "0.5", S_NS / 2 },
		{ "1.5h", 5400 * S_NS },
		{ "250us", 250000 },
		{ "10ns", 10 },
		{ "1m30s", 90 * S_NS },
		{ "2sec", 2 * S_NS },
		{ "1h1m1s1ms", 3661001000000ull },
		{ ".5s", S_NS / 2 },
		{ "8784h", OPTS_DURATION_MAX },
	};
	static const char *const bad[] = {
		"",	 "0", "0s",    "s",	 "5x",	 "5 s", "-1s", "1h30", "5mins",
		"8785h", ".", "1..5s", "1.5.5s", "1e3s", "+5s", "5S",  "h",    "0.0000000001s",
	};
	uint64_t ns;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ns = 0;
		if (opts_parse_duration(good[i].s, &ns) || ns != good[i].ns)
			fail_msg("'%s' -> %llu, want %llu", good[i].s, (unsigned long long)ns,
				 (unsigned long long)good[i].ns);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (opts_parse_duration(bad[i], &ns) != -EINVAL)
			fail_msg("'%s' was accepted", bad[i]);
}

static void test_urls_good(void **state)
{
	static const struct {
		const char *in;
		bool tls, ipv6;
		const char *host;
		uint16_t port;
		const char *path, *formatted;
	} cases[] = {
		{ "http://127.0.0.1:8000", false, false, "127.0.0.1", 8000, "",
		  "http://127.0.0.1:8000" },
		{ "http://localhost:8000/inference", false, false, "localhost", 8000, "/inference",
		  "http://localhost:8000/inference" },
		{ "https://api.fireworks.ai/inference/", true, false, "api.fireworks.ai", 443,
		  "/inference", "https://api.fireworks.ai:443/inference" },
		{ "http://[::1]:8080/x", false, true, "::1", 8080, "/x", "http://[::1]:8080/x" },
		{ "http://[::1]", false, true, "::1", 80, "", "http://[::1]:80" },
		{ "HTTP://Example.com", false, false, "Example.com", 80, "",
		  "http://Example.com:80" },
		{ "http://h/a/b///", false, false, "h", 80, "/a/b", "http://h:80/a/b" },
		{ "http://h/", false, false, "h", 80, "", "http://h:80" },
		{ "https://h:65535", true, false, "h", 65535, "", "https://h:65535" },
		{ "http://my_host-1.lan:1/v1beta", false, false, "my_host-1.lan", 1, "/v1beta",
		  "http://my_host-1.lan:1/v1beta" },
	};
	struct url u;
	char buf[URL_STR_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (url_parse(cases[i].in, &u, err, sizeof(err)))
			fail_msg("%s: %s", cases[i].in, err);
		assert_int_equal(u.tls, cases[i].tls);
		assert_int_equal(u.ipv6, cases[i].ipv6);
		assert_string_equal(u.host, cases[i].host);
		assert_int_equal(u.port, cases[i].port);
		assert_string_equal(u.path, cases[i].path);
		url_format(&u, buf, sizeof(buf));
		assert_string_equal(buf, cases[i].formatted);
	}
}

static void test_urls_bad(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "localhost:8000", "no scheme; write http://localhost:8000" },
		{ "ftp://x", "unsupported scheme 'ftp'" },
		{ "", "empty URL" },
		{ "http://", "no host name" },
		{ "http://:80", "no host name" },
		{ "http://x:0", "bad port '0'" },
		{ "http://x:65536", "bad port" },
		{ "http://x:", "bad port" },
		{ "http://x:80a", "bad port '80a'" },
		{ "http://[::1", "unterminated IPv6" },
		{ "http://[zz]:80", "not an IPv6 address" },
		{ "http://[::1]x", "expected ':PORT'" },
		{ "http://::1", "IPv6 address in brackets" },
		{ "http://fe80::1:80", "IPv6 address in brackets" },
		{ "http://u:p@x", "pass the key with -k" },
		{ "http://x?a=1", "no query" },
		{ "http://x/a?b=1", "no query or fragment; drop '?b=1'" },
		{ "http://x/a#f", "no query" },
		{ "http://x/v1", "precedes /v1" },
		{ "http://x/inference/v1/", "precedes /v1" },
		{ "http://x/v1/chat/completions", "precedes /v1" },
		{ "http://x y", "bad character ' '" },
		{ "http://x/a b", "percent-encode" },
	};
	struct url u;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(err, 0, sizeof(err));
		if (url_parse(cases[i].in, &u, err, sizeof(err)) != -EINVAL ||
		    !strstr(err, cases[i].want) || strchr(err, '\n'))
			fail_msg("'%s': err '%s', wanted '%s'", cases[i].in, err, cases[i].want);
	}
	{
		char longpath[URL_PATH_MAX + 32] = "http://h/";

		memset(longpath + 9, 'a', URL_PATH_MAX);
		longpath[9 + URL_PATH_MAX] = '\0';
		assert_int_equal(url_parse(longpath, &u, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "path too long"));
	}
	{
		char longhost[URL_HOST_MAX + 16] = "http://";

		memset(longhost + 7, 'h', URL_HOST_MAX);
		longhost[7 + URL_HOST_MAX] = '\0';
		assert_int_equal(url_parse(longhost, &u, err, sizeof(err)), -EINVAL);
		assert_non_null(strstr(err, "too long"));
	}
}

static void test_err_truncation(void **state)
{
	struct brood_opts o;
	char small[8];
	char *argv[] = { "run", "-u", "0", NULL };

	(void)state;
	assert_int_equal(opts_parse_run(3, argv, &o, small, sizeof(small)), -EINVAL);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	assert_int_equal(opts_parse_run(3, argv, &o, NULL, 0), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, setup),
		cmocka_unit_test_setup(test_short_flags, setup),
		cmocka_unit_test_setup(test_long_flags, setup),
		cmocka_unit_test_setup(test_stream_flags, setup),
		cmocka_unit_test_setup(test_ignore_eos_and_batch, setup),
		cmocka_unit_test_setup(test_fault_flags, setup),
		cmocka_unit_test_setup(test_hosts_accumulate, setup),
		cmocka_unit_test_setup(test_prompt_text, setup),
		cmocka_unit_test_setup(test_api_key_env, setup),
		cmocka_unit_test_setup(test_help, setup),
		cmocka_unit_test_setup(test_getopt_errors, setup),
		cmocka_unit_test_setup(test_number_errors, setup),
		cmocka_unit_test_setup(test_output_paths, setup),
		cmocka_unit_test_setup(test_report_flags, setup),
		cmocka_unit_test_setup(test_durations, setup),
		cmocka_unit_test_setup(test_tokenizer_flags, setup),
		cmocka_unit_test_setup(test_urls_good, setup),
		cmocka_unit_test_setup(test_urls_bad, setup),
		cmocka_unit_test_setup(test_err_truncation, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
