/* SPDX-License-Identifier: MIT */
/*
 * The token-timing pipeline: the shard side (push a delta, push the end)
 * and the tokenizer threads (assemble, tokenise once, time every token).
 *
 * Each connection of shard s goes to tokenizer thread conn % nr_threads,
 * through ring (s, thread); that thread keeps one slot per such connection:
 * the text so far and, per content delta, where it ends and when it came.
 * Slots live in one MAP_NORESERVE mapping per thread, so a slot costs memory
 * only for the text it has actually held. Nothing is allocated once the
 * threads run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "engine_int.h"

#define TP_BATCH 256 /* records taken from one ring before looking at the next */
/* Sleep when every ring is empty. Nothing waits on a tokenizer thread but
 * the ring's room: 1 ms of records at a million chunks/s is ~48 KB, far
 * under the smallest ring; a shorter sleep only costs wake-ups (at 200 us,
 * 5,000 a second cost 1 s of CPU in a 30 s run on the shared VM). */
#define TP_IDLE_NS	   1000000
#define TP_RING_DEFAULT	   (4u << 20) /* per (shard, thread) ring, at most */
#define TP_RING_MIN	   (256u << 10)
#define TP_RINGS_BUDGET	   (256ull << 20) /* all rings together, when sizing by default */
#define TP_TEXT_MIN	   4096u
#define TP_TRACE_BYTES	   (1u << 20) /* per thread: --trace-tokens lines between writes */
#define TP_TRACE_LINE_BASE 160	      /* a trace line without its token times */

unsigned tokpipe_default_threads(unsigned nr_cpus)
{
	/* Tokenising a response costs about as much CPU as receiving it (a
	 * few hundred ns per token either way, see bench/RESULTS.md), but
	 * only once per request and off the I/O path: one tokenizer thread
	 * per four CPUs keeps shards the larger share. */
	return nr_cpus >= 8 ? nr_cpus / 4 : 1;
}

/* ---- shard side ---- */

static struct spsc *ring_of(struct shard *s, const struct conn *c)
{
	return &s->tok_rings[c->idx % s->nr_tok];
}

void tokpipe_data(struct shard *s, struct conn *c, const char *text, size_t len)
{
	struct tp_rec r;

	if (!s->nr_tok || c->tok.lost || !len)
		return;
	if ((uint64_t)c->tok.off + len > s->tok_max_text) {
		c->tok.lost = true;
		CTR_ADD(s, tok_overflow, 1);
		return;
	}
	r = (struct tp_rec){ .kind = TP_DATA,
			     .conn = c->idx,
			     .seq = c->tok.seq,
			     .offset = c->tok.off,
			     .t_ns = s->now_ns };
	if (!spsc_push2(ring_of(s, c), &r, sizeof(r), text, len)) {
		c->tok.lost = true;
		CTR_ADD(s, tok_ring_drops, 1);
		return;
	}
	c->tok.off += (uint32_t)len;
}

void tokpipe_end(struct shard *s, struct conn *c, bool ok, bool stream, bool has_usage,
		 uint64_t usage)
{
	struct tp_rec r;

	if (!s->nr_tok || (!ok && !c->tok.off))
		return; /* a failure that pushed nothing leaves nothing to discard */
	r = (struct tp_rec){ .kind = TP_END,
			     .flags =
				 (uint8_t)((ok ? TP_OK : 0) | (c->tok.lost ? TP_LOST : 0) |
					   (stream ? TP_STREAM : 0) | (has_usage ? TP_USAGE : 0)),
			     .conn = c->idx,
			     .seq = c->tok.seq,
			     .offset = c->tok.off,
			     /* latency base: the intended send time in an open loop */
			     .t_ns = c->t_intended_ns ? c->t_intended_ns : c->t_send_ns,
			     .usage = usage };
	struct tp_end_id id = { .user = c->user };
	size_t id_len = 0;

	if (s->run && s->run->tok_trace) {
		memcpy(id.request_id, c->request_id, sizeof(id.request_id));
		id_len = sizeof(id);
	}
	if (!spsc_push2(ring_of(s, c), &r, sizeof(r), &id, id_len)) {
		CTR_ADD(s, tok_ring_drops, 1);
		c->tok.lost = true;
	}
	if (ok && c->tok.lost)
		CTR_ADD(s, tok_lost, 1);
}

/* ---- tokenizer thread ---- */

static char *slot_text(struct tok_thread *t, uint32_t i)
{
	return t->area + (size_t)i * t->slot_stride;
}

static uint32_t *slot_chunk_end(struct tok_thread *t, uint32_t i)
{
	return (uint32_t *)(slot_text(t, i) + t->tp->max_text);
}

static uint64_t *slot_chunk_ns(struct tok_thread *t, uint32_t i)
{
	return (uint64_t *)(slot_text(t, i) + t->tp->max_text +
			    (size_t)t->tp->max_chunks * sizeof(uint32_t));
}

static void slot_reset(struct tp_slot *sl, uint32_t seq)
{
	sl->seq = seq;
	sl->len = 0;
	sl->nr_chunks = 0;
	sl->active = true;
	sl->bad = false;
	sl->overflowed = false;
}

static void on_data(struct tok_thread *t, uint32_t i, const struct tp_rec *r, const char *bytes,
		    size_t len)
{
	struct tp_slot *sl = &t->slots[i];
	uint32_t n;

	if (!sl->active || sl->seq != r->seq)
		slot_reset(sl, r->seq); /* a new request; an unfinished one was cancelled */
	if (sl->bad)
		return;
	if (r->offset != sl->len) {
		sl->bad = true; /* out of step: cannot happen without a drop, which END says */
		return;
	}
	if ((uint64_t)sl->len + len > t->tp->max_text || sl->nr_chunks == t->tp->max_chunks) {
		sl->bad = sl->overflowed = true;
		t->c.overflow_requests++;
		return;
	}
	memcpy(slot_text(t, i) + sl->len, bytes, len);
	sl->len += (uint32_t)len;
	n = sl->nr_chunks;
	/* Deltas of one receive batch share a time: one chunk entry will do. */
	if (n && slot_chunk_ns(t, i)[n - 1] == r->t_ns) {
		slot_chunk_end(t, i)[n - 1] = sl->len;
		return;
	}
	slot_chunk_end(t, i)[n] = sl->len;
	slot_chunk_ns(t, i)[n] = r->t_ns;
	sl->nr_chunks = n + 1;
}

/* Each token takes the receive time of the chunk that holds its last byte. */
static void time_tokens(struct tok_thread *t, uint32_t i, long n)
{
	const uint32_t *cend = slot_chunk_end(t, i);
	const uint64_t *cns = slot_chunk_ns(t, i);
	uint32_t nr_chunks = t->slots[i].nr_chunks;
	uint32_t j = 0;

	for (long k = 0; k < n; k++) {
		uint32_t e = t->ends[k];

		while (j + 1 < nr_chunks && cend[j] < e)
			j++;
		t->tok_ns[k] = cns[j];
	}
}

static void record_request(struct tok_thread *t, const struct tp_rec *r, long n)
{
	t->c.requests++;
	t->c.output_tokens += (uint64_t)n;
	if (r->flags & TP_USAGE) {
		uint64_t diff =
		    r->usage > (uint64_t)n ? r->usage - (uint64_t)n : (uint64_t)n - r->usage;

		t->c.usage_requests++;
		if (diff) {
			t->c.usage_mismatch_requests++;
			t->c.usage_mismatch_abs_sum += diff;
			if (diff > t->c.usage_mismatch_max)
				t->c.usage_mismatch_max = diff;
		}
	}
	if (!(r->flags & TP_STREAM) || n < 1)
		return;
	hist_record(&t->ttft, t->tok_ns[0] > r->t_ns ? t->tok_ns[0] - r->t_ns : 0);
	for (long k = 1; k < n; k++)
		hist_record(&t->itl, t->tok_ns[k] - t->tok_ns[k - 1]);
	if (n > 1)
		hist_record(&t->tpot, (t->tok_ns[n - 1] - t->tok_ns[0]) / (uint64_t)(n - 1));
}

static void trace_write(struct tok_thread *t)
{
	const char *p = t->trace_buf;
	size_t left = t->trace_len;

	while (left) {
		ssize_t n = write(t->tp->trace_fd, p, left);

		if (n <= 0) {
			t->c.trace_dropped++;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	t->trace_len = 0;
}

/* One line per timed request: who it was and when each token came. */
static void trace_tokens(struct tok_thread *t, unsigned shard, const struct tp_rec *r,
			 const struct tp_end_id *id, long n)
{
	size_t need = TP_TRACE_LINE_BASE + (size_t)n * 21;
	char *p;

	if (t->trace_len + need > t->trace_cap)
		trace_write(t);
	if (need > t->trace_cap) {
		t->c.trace_dropped++;
		return;
	}
	p = t->trace_buf + t->trace_len;
	p += sprintf(p,
		     "{\"shard\":%u,\"user\":%u,\"request_id\":\"%.29s\",\"t_send_ns\":%" PRIu64
		     ",\"tokens\":%ld,\"token_ns\":[",
		     shard, id->user, id->request_id, r->t_ns, n);
	for (long k = 0; k < n; k++)
		p += sprintf(p, k ? ",%" PRIu64 : "%" PRIu64, t->tok_ns[k]);
	p += sprintf(p, "]}\n");
	t->trace_len = (size_t)(p - t->trace_buf);
}

static void on_end(struct tok_thread *t, unsigned shard, uint32_t i, const struct tp_rec *r,
		   const void *extra, size_t extra_len)
{
	const struct engine_tokenizer *tk = t->tp->tk;
	struct tp_slot *sl = &t->slots[i];
	bool mine = sl->active && sl->seq == r->seq;
	long n = 0;

	sl->active = false;
	if (!(r->flags & TP_OK) || (r->flags & TP_LOST))
		return; /* failed, or counted lost by the shard */
	if (mine && sl->overflowed)
		return; /* counted in on_data */
	if ((mine && sl->bad) || r->offset != (mine ? sl->len : 0)) {
		t->c.discarded_requests++;
		return;
	}
	if (mine && sl->len) {
		n = tk->encode(t->st, slot_text(t, i), sl->len, t->ends, t->tp->max_text);
		if (n < 0 || (uint64_t)n > t->tp->max_text) {
			t->c.encode_errors++;
			return;
		}
		time_tokens(t, i, n);
	}
	record_request(t, r, n);
	if (t->trace_buf && (r->flags & TP_STREAM) && extra_len >= sizeof(struct tp_end_id)) {
		struct tp_end_id id;

		memcpy(&id, extra, sizeof(id));
		id.request_id[sizeof(id.request_id) - 1] = '\0';
		trace_tokens(t, shard, r, &id, n);
	}
}

static void on_record(struct tok_thread *t, unsigned shard, const void *p, size_t len)
{
	const struct tp_rec *r = p;
	uint32_t i;

	if (len < sizeof(*r))
		return;
	i = t->slot_base[shard] + r->conn / t->tp->nr_threads;
	if (i >= t->nr_slots)
		return;
	if (r->kind == TP_DATA)
		on_data(t, i, r, (const char *)p + sizeof(*r), len - sizeof(*r));
	else if (r->kind == TP_END)
		on_end(t, shard, i, r, (const char *)p + sizeof(*r), len - sizeof(*r));
}

/* One pass over this thread's rings; returns the records handled. */
static unsigned drain_once(struct tok_thread *t)
{
	struct tokpipe *tp = t->tp;
	unsigned done = 0;

	for (unsigned s = 0; s < tp->nr_shards; s++) {
		struct spsc *ring = &tp->rings[s * tp->nr_threads + t->id];

		for (unsigned k = 0; k < TP_BATCH; k++) {
			size_t len;
			const void *p = spsc_peek(ring, &len);

			if (!p)
				break;
			on_record(t, s, p, len);
			spsc_pop(ring);
			done++;
		}
	}
	return done;
}

static void *tok_thread_main(void *arg)
{
	struct tok_thread *t = arg;
	struct timespec cpu0, cpu1;
	char name[16];

	snprintf(name, sizeof(name), "brood-tok%u", t->id);
	pthread_setname_np(pthread_self(), name);
	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu0);
	for (;;) {
		/* Read before the pass: stop is set after every shard was
		 * joined, so a pass that starts after it sees every record. */
		bool stop = __atomic_load_n(&t->tp->stop, __ATOMIC_ACQUIRE);
		struct timespec ts = { .tv_nsec = TP_IDLE_NS };

		if (drain_once(t))
			continue;
		if (stop)
			break;
		nanosleep(&ts, NULL);
	}
	if (t->trace_buf)
		trace_write(t);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu1);
	t->cpu_seconds =
	    (double)(cpu1.tv_sec - cpu0.tv_sec) + (double)(cpu1.tv_nsec - cpu0.tv_nsec) / 1e9;
	return NULL;
}

/* ---- set-up and results ---- */

static size_t ring_size(const struct engine_config *cfg, unsigned nr_rings)
{
	uint64_t want = cfg->tok_ring_bytes ? cfg->tok_ring_bytes : TP_RINGS_BUDGET / nr_rings;
	size_t size = SPSC_MIN_BYTES;

	if (!cfg->tok_ring_bytes) {
		if (want > TP_RING_DEFAULT)
			want = TP_RING_DEFAULT;
		if (want < TP_RING_MIN)
			want = TP_RING_MIN;
	}
	while (size * 2 <= want && size < SPSC_MAX_BYTES)
		size *= 2;
	return size;
}

static int thread_setup(struct tok_thread *t, struct shard *shards, char *err, size_t err_len)
{
	struct tokpipe *tp = t->tp;
	uint32_t n = 0;
	int ret;

	for (unsigned s = 0; s < tp->nr_shards; s++) {
		uint32_t conns = shards[s].nr_conns;

		t->slot_base[s] = n;
		n += conns > t->id ? (conns - t->id + tp->nr_threads - 1) / tp->nr_threads : 0;
	}
	t->nr_slots = n;
	t->slots = calloc(n ? n : 1, sizeof(*t->slots));
	t->ends = malloc((size_t)tp->max_text * sizeof(*t->ends));
	t->tok_ns = malloc((size_t)tp->max_text * sizeof(*t->tok_ns));
	if (!t->slots || !t->ends || !t->tok_ns)
		goto nomem;
	t->slot_stride =
	    tp->max_text + (size_t)tp->max_chunks * (sizeof(uint32_t) + sizeof(uint64_t));
	t->slot_stride = (t->slot_stride + 4095) & ~(size_t)4095;
	t->area_len = t->slot_stride * (n ? n : 1);
	t->area = mmap(NULL, t->area_len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (t->area == MAP_FAILED) {
		t->area = NULL;
		snprintf(err, err_len,
			 "cannot map %zu MiB for tokenizer thread %u's response texts: lower "
			 "--max-text-bytes",
			 t->area_len >> 20, t->id);
		return -ENOMEM;
	}
	ret = tp->tk->state_new(tp->tk->tok, tp->max_text, &t->st);
	if (ret < 0) {
		snprintf(err, err_len, "cannot make tokenizer state for %u-byte texts: %s",
			 tp->max_text, strerror(-ret));
		return ret;
	}
	if (tp->trace_fd >= 0) {
		t->trace_cap = TP_TRACE_BYTES;
		if (t->trace_cap < TP_TRACE_LINE_BASE + (size_t)tp->max_text * 21)
			t->trace_cap = TP_TRACE_LINE_BASE + (size_t)tp->max_text * 21;
		t->trace_buf = malloc(t->trace_cap);
		if (!t->trace_buf)
			goto nomem;
	}
	if (hist_init_latency(&t->ttft) || hist_init_latency(&t->itl) ||
	    hist_init_latency(&t->tpot))
		goto nomem;
	return 0;
nomem:
	snprintf(err, err_len, "out of memory for tokenizer thread %u", t->id);
	return -ENOMEM;
}

int tokpipe_start(struct tokpipe *tp, const struct engine_config *cfg, struct shard *shards,
		  unsigned nr_shards, unsigned nr_threads, const int *cpus, char *err,
		  size_t err_len)
{
	unsigned nr_rings = nr_shards * nr_threads;
	int ret;

	memset(tp, 0, sizeof(*tp));
	tp->trace_fd = -1;
	tp->tk = cfg->tokenizer;
	tp->nr_shards = nr_shards;
	tp->nr_threads = nr_threads;
	tp->max_text = cfg->tok_max_text ? cfg->tok_max_text : ENGINE_TOK_MAX_TEXT_DEFAULT;
	if (tp->max_text < TP_TEXT_MIN)
		tp->max_text = TP_TEXT_MIN;
	/* A delta holds a byte at least; two per chunk covers token-per-chunk
	 * streams of one-byte tokens. */
	tp->max_chunks = tp->max_text / 2;
	tp->ring_bytes = ring_size(cfg, nr_rings);
	if (cfg->tok_trace_path) {
		tp->trace_fd = open(cfg->tok_trace_path,
				    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (tp->trace_fd < 0) {
			ret = -errno;
			snprintf(err, err_len, "cannot open token trace file %s: %s",
				 cfg->tok_trace_path, strerror(errno));
			return ret;
		}
	}
	tp->rings = calloc(nr_rings, sizeof(*tp->rings));
	tp->threads = calloc(nr_threads, sizeof(*tp->threads));
	if (!tp->rings || !tp->threads) {
		snprintf(err, err_len, "out of memory for %u tokenizer threads", nr_threads);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < nr_rings; i++) {
		ret = spsc_init(&tp->rings[i], tp->ring_bytes);
		if (ret < 0) {
			snprintf(err, err_len, "cannot allocate tokenizer rings (%u of %zu bytes)",
				 nr_rings, tp->ring_bytes);
			return ret;
		}
	}
	for (unsigned s = 0; s < nr_shards; s++) {
		shards[s].tok_rings = &tp->rings[s * nr_threads];
		shards[s].nr_tok = nr_threads;
		shards[s].tok_max_text = tp->max_text;
	}
	for (unsigned i = 0; i < nr_threads; i++) {
		struct tok_thread *t = &tp->threads[i];

		t->tp = tp;
		t->id = i;
		t->cpu = cpus ? cpus[i] : -1;
		ret = thread_setup(t, shards, err, err_len);
		if (ret < 0)
			return ret;
	}
	for (unsigned i = 0; i < nr_threads; i++) {
		struct tok_thread *t = &tp->threads[i];

		ret = pthread_create(&t->thread, NULL, tok_thread_main, t);
		if (ret) {
			snprintf(err, err_len, "cannot start tokenizer thread: %s", strerror(ret));
			return -ret;
		}
		t->started = true;
	}
	return 0;
}

void tokpipe_stop(struct tokpipe *tp)
{
	__atomic_store_n(&tp->stop, 1, __ATOMIC_RELEASE);
	for (unsigned i = 0; tp->threads && i < tp->nr_threads; i++) {
		if (tp->threads[i].started)
			pthread_join(tp->threads[i].thread, NULL);
		tp->threads[i].started = false;
	}
}

static void tokens_add(struct engine_tokens *d, const struct engine_tokens *s)
{
	d->requests += s->requests;
	d->output_tokens += s->output_tokens;
	d->usage_requests += s->usage_requests;
	d->usage_mismatch_requests += s->usage_mismatch_requests;
	d->usage_mismatch_abs_sum += s->usage_mismatch_abs_sum;
	if (s->usage_mismatch_max > d->usage_mismatch_max)
		d->usage_mismatch_max = s->usage_mismatch_max;
	d->overflow_requests += s->overflow_requests;
	d->discarded_requests += s->discarded_requests;
	d->encode_errors += s->encode_errors;
	d->trace_dropped += s->trace_dropped;
}

int tokpipe_merge(struct tokpipe *tp, struct engine_result *res)
{
	hist_reset(&res->h.ttft);
	hist_reset(&res->h.itl);
	hist_reset(&res->h.tpot);
	for (unsigned i = 0; i < tp->nr_threads; i++) {
		struct tok_thread *t = &tp->threads[i];

		if (hist_merge(&res->h.ttft, &t->ttft) || hist_merge(&res->h.itl, &t->itl) ||
		    hist_merge(&res->h.tpot, &t->tpot))
			return -EINVAL;
		tokens_add(&res->tok, &t->c);
		res->tok_cpu_seconds += t->cpu_seconds;
	}
	res->tok.overflow_requests += res->c.tok_overflow;
	res->tokenized = true;
	res->nr_tok_threads = tp->nr_threads;
	res->c.output_tokens = res->tok.output_tokens;
	return 0;
}

void tokpipe_close(struct tokpipe *tp)
{
	if (tp->threads) {
		tokpipe_stop(tp);
		for (unsigned i = 0; i < tp->nr_threads; i++) {
			struct tok_thread *t = &tp->threads[i];

			if (t->st)
				tp->tk->state_free(t->st);
			if (t->area)
				munmap(t->area, t->area_len);
			free(t->slots);
			free(t->ends);
			free(t->tok_ns);
			free(t->trace_buf);
			hist_close(&t->ttft);
			hist_close(&t->itl);
			hist_close(&t->tpot);
		}
	}
	if (tp->rings) {
		unsigned n = tp->nr_shards * tp->nr_threads;

		for (unsigned i = 0; i < n; i++)
			spsc_close(&tp->rings[i]);
	}
	free(tp->rings);
	free(tp->threads);
	if (tp->trace_fd >= 0)
		close(tp->trace_fd);
	memset(tp, 0, sizeof(*tp));
	tp->trace_fd = -1;
}
