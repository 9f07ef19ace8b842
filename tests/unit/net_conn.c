/* Unit tests for net/conn: two state machines talking through memory. */
#include <errno.h>
#include <sodium.h>

#include "net/conn.h"
#include "net/msg.h"
#include "net/noise.h"
#include "tests/unit/conn_test.h"

static uint8_t ka[32], kb[32], pa[32], pb[32];

static void
pair(struct side *a, struct side *b, const uint8_t *psk_a, const uint8_t *psk_b)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	assert_non_null(a->c = conn_new(1, ka, psk_a));
	assert_non_null(b->c = conn_new(0, kb, psk_b));
	pump(a, b, -1, -1, 0);
}

static int
setup(void **state)
{
	(void)state;
	assert_int_equal(noise_keypair(pa, ka), 0);
	assert_int_equal(noise_keypair(pb, kb), 0);
	return 0;
}

static void
test_handshake_and_messages(void **state)
{
	struct side a, b;
	uint8_t rs[32], *big;
	size_t bign = 3 * 1024 * 1024 + 17;

	(void)state;
	pair(&a, &b, NULL, NULL);
	assert_true(a.ready && b.ready);
	assert_false(a.dead || b.dead);
	conn_remote_key(a.c, rs);
	assert_memory_equal(rs, pb, 32);
	conn_remote_key(b.c, rs);
	assert_memory_equal(rs, pa, 32);
	assert_false(conn_is_join(b.c));

	assert_int_equal(conn_send(a.c, (const uint8_t *)"hello", 5), 0);
	pump(&a, &b, -1, -1, 0);
	assert_int_equal(b.lastlen, 5);
	assert_memory_equal(b.last, "hello", 5);

	/* A message over many frames is reassembled. */
	big = malloc(bign);
	randombytes_buf(big, bign);
	assert_int_equal(conn_send(b.c, big, bign), 0);
	pump(&a, &b, -1, -1, 0);
	assert_int_equal(a.lastlen, bign);
	assert_memory_equal(a.last, big, bign);
	free(big);
	/* Too long: refused before anything is queued. */
	assert_int_equal(conn_send(a.c, (const uint8_t *)"", MSG_MAX + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	unpair(&a, &b);
}

/* Damaging any byte of a transport frame in flight kills the receiver. */
static void
test_tamper(void **state)
{
	struct side a, b;
	const uint8_t *p;
	uint8_t *copy;
	size_t n;

	(void)state;
	for (size_t i = 0; i < 2 + 1 + 5 + 16; i++) {
		pair(&a, &b, NULL, NULL);
		assert_int_equal(conn_send(a.c, (const uint8_t *)"hello", 5), 0);
		n = conn_out(a.c, &p);
		copy = malloc(n);
		memcpy(copy, p, n);
		copy[i] ^= 0x20;
		conn_drain(a.c, n);
		conn_feed(b.c, copy, n);
		poll_side(&b);
		/* A damaged length makes it wait for bytes that never form a
		 * valid frame (the keepalive timeout ends it); any other byte
		 * kills it at once.  Nothing is delivered either way. */
		if (i >= 2)
			assert_true(b.dead);
		assert_null(b.last);
		free(copy);
		unpair(&a, &b);
	}
}

/* A replayed or reordered frame kills the receiver. */
static void
test_replay(void **state)
{
	struct side a, b;
	const uint8_t *p;
	uint8_t f1[64], f2[64];
	size_t n1, n2;

	(void)state;
	pair(&a, &b, NULL, NULL);
	conn_send(a.c, (const uint8_t *)"one", 3);
	n1 = conn_out(a.c, &p);
	memcpy(f1, p, n1);
	conn_drain(a.c, n1);
	conn_send(a.c, (const uint8_t *)"two", 3);
	n2 = conn_out(a.c, &p);
	memcpy(f2, p, n2);
	conn_drain(a.c, n2);
	conn_feed(b.c, f2, n2); /* reordered */
	poll_side(&b);
	assert_true(b.dead);
	unpair(&a, &b);

	pair(&a, &b, NULL, NULL);
	conn_send(a.c, (const uint8_t *)"one", 3);
	n1 = conn_out(a.c, &p);
	memcpy(f1, p, n1);
	conn_drain(a.c, n1);
	conn_feed(b.c, f1, n1);
	poll_side(&b);
	assert_false(b.dead);
	assert_memory_equal(b.last, "one", 3);
	conn_feed(b.c, f1, n1); /* replayed */
	poll_side(&b);
	assert_true(b.dead);
	unpair(&a, &b);
}

static void
test_join(void **state)
{
	struct side a, b;
	uint8_t psk[32] = {5}, wrong[32] = {6};

	(void)state;
	pair(&a, &b, psk, psk);
	assert_true(a.ready && b.ready);
	assert_true(conn_is_join(b.c));
	unpair(&a, &b);
	pair(&a, &b, psk, wrong);
	assert_false(a.ready && b.ready);
	assert_true(a.dead || b.dead);
	unpair(&a, &b);
	/* A responder without a pending invite refuses joins. */
	pair(&a, &b, psk, NULL);
	assert_true(b.dead);
	assert_false(a.ready);
	unpair(&a, &b);
	/* A responder with one still accepts plain XX. */
	pair(&a, &b, NULL, psk);
	assert_true(a.ready && b.ready);
	assert_false(conn_is_join(b.c));
	unpair(&a, &b);
}

static void
test_bad_selector(void **state)
{
	struct conn *c = conn_new(0, kb, NULL);
	const uint8_t *m;
	size_t n;
	uint8_t sel = 3;

	(void)state;
	conn_feed(c, &sel, 1);
	assert_int_equal(conn_poll(c, &m, &n), CONN_DEAD);
	assert_int_equal(conn_send(c, (const uint8_t *)"x", 1), -1);
	conn_free(c);
	conn_free(NULL);
}

/* Both sides rekey at the same frame: many frames still flow. */
static void
test_rekey(void **state)
{
	struct side a, b;
	char m[8];

	(void)state;
	pair(&a, &b, NULL, NULL);
	for (int i = 0; i < CONN_REKEY_FRAMES + 10; i++) {
		snprintf(m, sizeof(m), "%d", i % 1000);
		assert_int_equal(conn_send(a.c, (const uint8_t *)m, strlen(m)), 0);
		if (i % 1000 == 999) {
			pipe_bytes(&a, &b, -1, 0);
			poll_side(&b);
			assert_false(b.dead);
		}
	}
	pipe_bytes(&a, &b, -1, 0);
	poll_side(&b);
	assert_false(b.dead);
	assert_memory_equal(b.last, m, strlen(m));
	unpair(&a, &b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_handshake_and_messages),
	    cmocka_unit_test(test_tamper),
	    cmocka_unit_test(test_replay),
	    cmocka_unit_test(test_join),
	    cmocka_unit_test(test_bad_selector),
	    cmocka_unit_test(test_rekey),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
