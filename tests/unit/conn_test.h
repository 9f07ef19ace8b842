/*
 * Shared by the net/conn unit tests: two connection state machines talking
 * through memory, with a byte of either stream flipped on request.
 */
#ifndef BLAZEFS_CONN_TEST_H
#define BLAZEFS_CONN_TEST_H

#include "net/conn.h"
#include "tests/unit/core_test.h"

struct side {
	struct conn *c;
	int ready, dead;
	uint8_t *last; /* the last message received (malloc'd) */
	size_t lastlen;
	size_t sent; /* bytes of this side's stream moved to the other */
	size_t got;  /* bytes received from the other side */
};

/* Takes every event of s: ready, a message (kept as s->last), dead. */
static inline void
poll_side(struct side *s)
{
	const uint8_t *m;
	size_t n;
	int ev;

	while ((ev = conn_poll(s->c, &m, &n)) > 0) {
		if (ev == CONN_READY)
			s->ready = 1;
		if (ev == CONN_MSG) {
			free(s->last);
			assert_non_null(s->last = malloc(n ? n : 1));
			memcpy(s->last, m, n);
			s->lastlen = n;
		}
	}
	if (ev == CONN_DEAD)
		s->dead = 1;
}

/* Moves a's output into b; flips byte `at` of a's stream (counted from its
 * start) by xor if at >= 0. */
static inline void
pipe_bytes(struct side *a, struct side *b, long at, uint8_t xor)
{
	const uint8_t *p;
	uint8_t *flipped = NULL;
	size_t n = conn_out(a->c, &p);

	if (at >= 0 && (size_t)at >= a->sent && (size_t)at < a->sent + n) {
		assert_non_null(flipped = malloc(n));
		memcpy(flipped, p, n);
		flipped[(size_t)at - a->sent] ^= xor;
		p = flipped;
	}
	assert_int_equal(conn_feed(b->c, p, n), 0);
	free(flipped);
	a->sent += n;
	b->got += n;
	conn_drain(a->c, n);
}

/* Ten rounds both ways (a handshake and a few messages), flipping byte
 * at_ab of a's stream or at_ba of b's (-1: none). */
static inline void
pump(struct side *a, struct side *b, long at_ab, long at_ba, uint8_t xor)
{
	for (int i = 0; i < 10; i++) {
		poll_side(a);
		pipe_bytes(a, b, at_ab, xor);
		poll_side(b);
		pipe_bytes(b, a, at_ba, xor);
	}
}

/* Frees both sides' connections and kept messages. */
static inline void
unpair(struct side *a, struct side *b)
{
	conn_free(a->c);
	conn_free(b->c);
	free(a->last);
	free(b->last);
}

#endif
