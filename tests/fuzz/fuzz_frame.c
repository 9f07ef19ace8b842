/*
 * libFuzzer: the connection state machine fed arbitrary bytes, as a
 * responder (selector, handshake frames), as both ends of a short-code join
 * (the CPace frames before Noise) and, after a real handshake, as the
 * receiver of arbitrary transport frames.  It never crashes, never reads out
 * of bounds, and never delivers a message from bytes it did not authenticate.
 */
#include <stdlib.h>
#include <string.h>

#include "net/conn.h"
#include "net/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key_a[32] = {1}, key_b[32] = {2}, psk[32] = {3}, prs[4] = {7, 1, 2, 3};

static void
move(struct conn *from, struct conn *to)
{
	const uint8_t *p;
	size_t n = conn_out(from, &p);

	conn_feed(to, p, n);
	conn_drain(from, n);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn *a, *b;
	const uint8_t *m;
	size_t n;
	int ev;

	/* 1: raw bytes at a responder that holds a psk. */
	if ((b = conn_new(0, key_b, psk)) == NULL)
		abort();
	conn_feed(b, data, size);
	while ((ev = conn_poll(b, &m, &n)) > 0)
		if (ev == CONN_MSG)
			abort(); /* nobody could have completed a handshake */
	conn_free(b);

	/* 2: raw bytes as transport frames after an honest handshake. */
	if ((a = conn_new(1, key_a, NULL)) == NULL || (b = conn_new(0, key_b, NULL)) == NULL)
		abort();
	for (int i = 0; i < 4; i++) {
		conn_poll(a, &m, &n);
		move(a, b);
		conn_poll(b, &m, &n);
		move(b, a);
	}
	conn_feed(b, data, size);
	while ((ev = conn_poll(b, &m, &n)) > 0)
		if (ev == CONN_MSG)
			abort();
	conn_free(a);
	conn_free(b);

	/* 3: raw bytes at a short-code responder (CPace before Noise), and at
	 * a short-code dialler (the inviter's status | Yb frame). */
	if ((b = conn_new(0, key_b, psk)) == NULL || conn_set_pake(b, CONN_PAKE_OK, 7, prs, 4))
		abort();
	conn_feed(b, data, size);
	while ((ev = conn_poll(b, &m, &n)) > 0)
		if (ev == CONN_MSG)
			abort();
	conn_free(b);
	if ((a = conn_new(1, key_a, NULL)) == NULL || conn_set_pake(a, 0, 7, prs, 4))
		abort();
	conn_poll(a, &m, &n);
	conn_feed(a, data, size);
	while ((ev = conn_poll(a, &m, &n)) > 0)
		if (ev == CONN_MSG)
			abort();
	conn_free(a);
	return 0;
}
