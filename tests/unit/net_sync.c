/*
 * Unit tests for net/sync: two sessions between two real journals, with the
 * messages carried by hand (no sockets): they converge, nothing goes twice
 * or back, a gap restarts streaming, and a HELLO that lies is refused.
 */
#include <errno.h>

#include <jansson.h>

#include "tests/unit/core_test.h"

#include "core/journal.h"
#include "net/msg.h"
#include "net/sync.h"

#define ID_A 0x1111
#define ID_B 0x2222
#define OUT_MAX 256

/* The messages one side sent, in order, not yet delivered. */
struct outbox {
	uint8_t *m[OUT_MAX];
	size_t len[OUT_MAX];
	size_t n;
};

/* One device: its journal, its config and its outbox. */
struct side {
	char *dir;
	struct journal *j;
	struct sync_config cfg;
	struct outbox out;
};

static int
queue(void *ctx, const uint8_t *m, size_t len)
{
	struct outbox *o = ctx;

	assert_true(o->n < OUT_MAX);
	assert_non_null(o->m[o->n] = malloc(len));
	memcpy(o->m[o->n], m, len);
	o->len[o->n++] = len;
	return 0;
}

static void
outbox_clear(struct outbox *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->m[i]);
	o->n = 0;
}

static void
side_open(struct side *s, uint64_t self, const char *name)
{
	uint8_t dbid[32] = {7};

	memset(s, 0, sizeof(*s));
	s->dir = test_tmpdir();
	assert_int_equal(journal_create(s->dir, self, dbid), 0);
	assert_non_null(s->j = journal_open(s->dir, JOURNAL_NOSYNC));
	s->cfg.j = s->j;
	s->cfg.self = self;
	memcpy(s->cfg.dbid, dbid, 32);
	snprintf(s->cfg.name, sizeof(s->cfg.name), "%s", name);
}

static void
side_close(struct side *s)
{
	outbox_clear(&s->out);
	journal_close(s->j);
	test_rmdir(s->dir);
}

static void
put(struct journal *j, int i, size_t pad)
{
	char rec[32], *json;
	const char *why = NULL;

	assert_non_null(json = malloc(pad + 64));
	snprintf(rec, sizeof(rec), "r-%d", i);
	snprintf(json, pad + 64, "{\"n\": %d, \"pad\": \"%0*d\"}", i, (int)pad, 0);
	assert_int_equal(journal_write_record(j, "things", rec, json, strlen(json), &why), 0);
	free(json);
}

/* Delivers (and empties) outbox o to session s, as the network does: CHANGES
 * messages in a row together (sync_recv_changes); the events or'ed together. */
static int
deliver(struct outbox *o, struct sync *s)
{
	int ev, all = 0;
	size_t i, k;

	for (i = 0; i < o->n; i = k) {
		for (k = i; k < o->n && msg_type(o->m[k], o->len[k]) == MSG_CHANGES; k++)
			;
		if (k > i) {
			ev = sync_recv_changes(s, (const uint8_t *const *)&o->m[i], &o->len[i],
			                       k - i);
		} else {
			ev = sync_recv(s, o->m[i], o->len[i]);
			k = i + 1;
		}
		assert_true(ev >= 0);
		all |= ev;
	}
	outbox_clear(o);
	return all;
}

/* Pumps and delivers both ways until neither side has anything to say. */
static void
run(struct side *a, struct sync *sa, struct side *b, struct sync *sb)
{
	for (int rounds = 0; rounds < 1000; rounds++) {
		int rc;

		while ((rc = sync_pump(sa)) == 1 && a->out.n < OUT_MAX / 2)
			;
		assert_true(rc >= 0);
		while ((rc = sync_pump(sb)) == 1 && b->out.n < OUT_MAX / 2)
			;
		assert_true(rc >= 0);
		if (a->out.n == 0 && b->out.n == 0)
			return;
		deliver(&a->out, sb);
		deliver(&b->out, sa);
	}
	fail_msg("the sessions never went quiet");
}

/* A with n records (padded by pad), B empty, in session with each other. */
static void
pair(struct side *a, struct sync **sa, struct side *b, struct sync **sb, int n, size_t pad)
{
	side_open(a, ID_A, "alpha");
	side_open(b, ID_B, "beta");
	for (int i = 0; i < n; i++)
		put(a->j, i, pad);
	assert_non_null(*sa = sync_new(&a->cfg, ID_B, "b:1", queue, &a->out));
	assert_non_null(*sb = sync_new(&b->cfg, ID_A, "a:1", queue, &b->out));
	assert_int_equal(sync_start(*sa), 0);
	assert_int_equal(sync_start(*sb), 0);
	deliver(&a->out, *sb);
	deliver(&b->out, *sa);
}

/* Several CHANGES messages taken at once apply together, and are answered
 * with one ACK. */
static void
test_messages_together(void **state)
{
	struct side a, b;
	struct sync *sa, *sb;
	char *text;
	size_t len;

	(void)state;
	pair(&a, &sa, &b, &sb, 200, 1000);
	while (sync_pump(sa) == 1)
		;
	assert_true(a.out.n >= 3); /* 200 kB: several messages */
	assert_int_equal(deliver(&a.out, sb), SYNC_APPLIED);
	assert_int_equal(sync_changes_in(sb), 200);
	assert_int_equal(b.out.n, 1);
	assert_int_equal(msg_type(b.out.m[0], b.out.len[0]), MSG_ACK);
	assert_int_equal(journal_read_record(b.j, "things", "r-199", &text, &len), 0);
	free(text);
	sync_free(sa);
	sync_free(sb);
	side_close(&a);
	side_close(&b);
}

static void
test_converge(void **state)
{
	struct side a, b;
	struct sync *sa, *sb;
	struct vv va = {0, NULL}, vb = {0, NULL};
	char *ra, *rb;
	size_t la, lb;
	json_t *ja, *jb;

	(void)state;
	side_open(&a, ID_A, "alpha");
	side_open(&b, ID_B, "beta");
	/* About 150 KB from A: more than two CHANGES batches. */
	for (int i = 0; i < 50; i++)
		put(a.j, i, 3000);
	put(b.j, 1000, 10);
	assert_non_null(sa = sync_new(&a.cfg, ID_B, "b:1", queue, &a.out));
	assert_non_null(sb = sync_new(&b.cfg, ID_A, "a:1", queue, &b.out));
	assert_int_equal(sync_in_session(sa), 0);
	assert_int_equal(sync_pump(sa), 0); /* no session: nothing to stream yet */
	assert_int_equal(sync_start(sa), 0);
	assert_int_equal(sync_start(sb), 0);
	assert_int_equal(a.out.n, 1);
	assert_int_equal(msg_type(a.out.m[0], a.out.len[0]), MSG_HELLO);
	assert_int_equal(deliver(&a.out, sb), SYNC_SESSION);
	assert_int_equal(deliver(&b.out, sa), SYNC_SESSION);
	assert_int_equal(sync_in_session(sa), 1);
	assert_int_equal(sync_device(sa), ID_B);
	assert_string_equal(sync_name(sa), "beta");
	assert_string_equal(sync_name(sb), "alpha");

	/* The first batch is at most MSG_BATCH_BYTES: A needs several. */
	assert_int_equal(sync_pump(sa), 1);
	assert_true(a.out.len[0] <= MSG_BATCH_BYTES + 4096);
	assert_int_equal(deliver(&a.out, sb) & SYNC_APPLIED, SYNC_APPLIED);
	run(&a, sa, &b, sb);

	assert_int_equal(journal_vv(a.j, &va), 0);
	assert_int_equal(journal_vv(b.j, &vb), 0);
	assert_int_equal(va.n, 2);
	assert_int_equal(vb.n, 2);
	assert_int_equal(vv_get(&vb, ID_A), vv_get(&va, ID_A));
	assert_int_equal(vv_get(&va, ID_B), vv_get(&vb, ID_B));
	for (int i = 0; i < 50; i += 7) {
		char rec[32];

		snprintf(rec, sizeof(rec), "r-%d", i);
		assert_int_equal(journal_read_record(a.j, "things", rec, &ra, &la), 0);
		assert_int_equal(journal_read_record(b.j, "things", rec, &rb, &lb), 0);
		/* A reads the bytes as written, B the record they parse to. */
		ja = json_loadb(ra, la, 0, NULL);
		jb = json_loadb(rb, lb, 0, NULL);
		assert_non_null(ja);
		assert_true(json_equal(ja, jb));
		json_decref(ja);
		json_decref(jb);
		free(ra);
		free(rb);
	}
	/* Each change went once, and none went back to where it came from. */
	assert_int_equal(sync_changes_out(sa), vv_get(&va, ID_A));
	assert_int_equal(sync_changes_in(sb), vv_get(&va, ID_A));
	assert_int_equal(sync_changes_out(sb), vv_get(&vb, ID_B));
	assert_int_equal(sync_pump(sa), 0);
	assert_int_equal(sync_pump(sb), 0);
	/* And each knows what the other has (what status reports as acked). */
	assert_int_equal(vv_get(sync_acked(sa), ID_A), vv_get(&va, ID_A));
	assert_int_equal(vv_get(sync_acked(sb), ID_B), vv_get(&vb, ID_B));

	/* A new local change streams at the next pump, alone. */
	put(a.j, 99, 10);
	assert_int_equal(sync_pump(sa), 1);
	assert_int_equal(sync_pump(sa), 0);
	assert_int_equal(deliver(&a.out, sb), SYNC_APPLIED);
	assert_int_equal(b.out.n, 1);
	assert_int_equal(msg_type(b.out.m[0], b.out.len[0]), MSG_ACK);
	deliver(&b.out, sa);

	vv_clear(&va);
	vv_clear(&vb);
	sync_free(sa);
	sync_free(sb);
	sync_free(NULL);
	side_close(&a);
	side_close(&b);
}

/* A batch that skips a change: nothing applied past the gap, and the
 * receiver answers with a HELLO saying where it really is. */
static void
test_gap_restarts(void **state)
{
	struct side a, b;
	struct sync *sa, *sb;
	struct msg_buf mb;
	uint8_t *blob;
	size_t len;
	int ev;

	(void)state;
	pair(&a, &sa, &b, &sb, 3, 10);

	/* Changes 2 and 3 of A, without 1. */
	assert_int_equal(msg_changes_init(&mb), 0);
	for (uint64_t seq = 2; seq <= 3; seq++) {
		assert_int_equal(journal_get_change(a.j, ID_A, seq, &blob, &len), 0);
		assert_int_equal(msg_changes_add(&mb, blob, len), 0);
		free(blob);
	}
	assert_int_equal(sync_recv(sb, mb.p, mb.len), 0);
	assert_int_equal(b.out.n, 1);
	assert_int_equal(msg_type(b.out.m[0], b.out.len[0]), MSG_HELLO);
	/* The same batch again: still nothing applied. */
	assert_int_equal(sync_recv(sb, mb.p, mb.len), 0);
	free(mb.p);
	outbox_clear(&b.out);
	assert_int_equal(sync_start(sb), 0);

	/* A restarts from B's HELLO and sends all three. */
	ev = deliver(&b.out, sa);
	assert_int_equal(ev, 0); /* a HELLO on a running session: no new session */
	run(&a, sa, &b, sb);
	assert_int_equal(sync_changes_in(sb), 3);
	assert_int_equal(journal_read_record(b.j, "things", "r-0", (char **)&blob, &len), 0);
	free(blob);

	sync_free(sa);
	sync_free(sb);
	side_close(&a);
	side_close(&b);
}

/* A HELLO must come from the device the handshake proved, for this
 * database, and not claim to be this device. */
static void
test_hello_refused(void **state)
{
	struct side a, b, other;
	struct sync *s;

	(void)state;
	side_open(&a, ID_A, "alpha");
	side_open(&b, ID_B, "beta");
	side_open(&other, ID_B, "beta");
	other.cfg.dbid[0] ^= 1; /* another database */
	assert_non_null(s = sync_new(&a.cfg, ID_A, "x", queue, &a.out));
	assert_int_equal(sync_start(s), 0);

	/* B's HELLO on a connection whose key proved a third device. */
	{
		struct sync *sx = sync_new(&b.cfg, 0x3333, "x", queue, &b.out);

		assert_non_null(sx);
		assert_int_equal(sync_start(sx), 0); /* B's own HELLO, into b.out */
		sync_free(sx);
	}
	{
		struct sync *sa = sync_new(&a.cfg, 0x3333, "x", queue, &a.out);

		errno = 0;
		assert_int_equal(sync_recv(sa, b.out.m[0], b.out.len[0]), -1);
		assert_int_equal(errno, EPROTO);
		assert_int_equal(sync_in_session(sa), 0);
		sync_free(sa);
	}
	outbox_clear(&b.out);

	/* A HELLO for another database. */
	{
		struct sync *so = sync_new(&other.cfg, ID_A, "x", queue, &other.out);
		struct sync *sa = sync_new(&a.cfg, ID_B, "x", queue, &a.out);

		assert_int_equal(sync_start(so), 0);
		assert_int_equal(sync_recv(sa, other.out.m[0], other.out.len[0]), -1);
		assert_int_equal(errno, EPROTO);
		sync_free(so);
		sync_free(sa);
	}

	/* A's own HELLO sent back to it (a reflected connection). */
	outbox_clear(&a.out);
	assert_int_equal(sync_start(s), 0);
	assert_int_equal(sync_recv(s, a.out.m[0], a.out.len[0]), -1);
	assert_int_equal(errno, EPROTO);

	sync_free(s);
	side_close(&a);
	side_close(&b);
	side_close(&other);
}

/* Before the peer's HELLO only PING is answered; junk is refused. */
static void
test_before_session(void **state)
{
	struct side a;
	struct sync *s;
	struct vv v = {0, NULL};
	struct msg_buf mb;
	uint8_t *m, junk[3] = {MSG_VERSION, 99, 0};
	size_t len;

	(void)state;
	side_open(&a, ID_A, "alpha");
	assert_non_null(s = sync_new(&a.cfg, ID_B, "b:1", queue, &a.out));

	assert_int_equal(msg_empty_encode(MSG_PING, &m, &len), 0);
	assert_int_equal(sync_recv(s, m, len), 0);
	free(m);
	assert_int_equal(a.out.n, 1);
	assert_int_equal(msg_type(a.out.m[0], a.out.len[0]), MSG_PONG);
	outbox_clear(&a.out);
	assert_int_equal(msg_empty_encode(MSG_PONG, &m, &len), 0);
	assert_int_equal(sync_recv(s, m, len), 0);
	free(m);
	assert_int_equal(a.out.n, 0);

	assert_int_equal(sync_ping(s), 0);
	assert_int_equal(msg_type(a.out.m[0], a.out.len[0]), MSG_PING);
	outbox_clear(&a.out);

	assert_int_equal(msg_ack_encode(&v, &m, &len), 0);
	assert_int_equal(sync_recv(s, m, len), -1);
	free(m);
	assert_int_equal(msg_changes_init(&mb), 0);
	assert_int_equal(sync_recv(s, mb.p, mb.len), -1);
	free(mb.p);
	errno = 0;
	assert_int_equal(sync_recv(s, junk, sizeof(junk)), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(sync_recv(s, junk, 1), -1);
	assert_int_equal(a.out.n, 0);

	sync_free(s);
	side_close(&a);
}

static uint64_t
wall_now(void)
{
	return 1767225600000ULL;
}

static uint64_t
wall_hour_ahead(void)
{
	return 1767225600000ULL + 3600000;
}

static void
test_hello_measures_the_peer_clock(void **state)
{
	struct side a, b;
	struct sync *sa, *sb;
	int64_t skew;

	(void)state;
	side_open(&a, ID_A, "alpha");
	side_open(&b, ID_B, "beta");
	a.cfg.wall = wall_now;
	b.cfg.wall = wall_hour_ahead;
	assert_non_null(sa = sync_new(&a.cfg, ID_B, "b", queue, &a.out));
	assert_non_null(sb = sync_new(&b.cfg, ID_A, "a", queue, &b.out));
	assert_int_equal(sync_skew(sa, &skew), 0); /* no HELLO yet */
	assert_int_equal(sync_start(sa), 0);
	assert_int_equal(sync_start(sb), 0);
	run(&a, sa, &b, sb);
	assert_int_equal(sync_skew(sa, &skew), 1);
	assert_true(skew == 3600000);
	assert_int_equal(sync_skew(sb, &skew), 1);
	assert_true(skew == -3600000);
	sync_free(sa);
	sync_free(sb);
	/* A side that sends no clock: unknown to the other. */
	a.cfg.wall = NULL;
	assert_non_null(sa = sync_new(&a.cfg, ID_B, "b", queue, &a.out));
	assert_non_null(sb = sync_new(&b.cfg, ID_A, "a", queue, &b.out));
	assert_int_equal(sync_start(sa), 0);
	assert_int_equal(sync_start(sb), 0);
	run(&a, sa, &b, sb);
	assert_int_equal(sync_skew(sb, &skew), 0);
	sync_free(sa);
	sync_free(sb);
	side_close(&a);
	side_close(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_converge),
	    cmocka_unit_test(test_messages_together),
	    cmocka_unit_test(test_gap_restarts),
	    cmocka_unit_test(test_hello_refused),
	    cmocka_unit_test(test_before_session),
	    cmocka_unit_test(test_hello_measures_the_peer_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
