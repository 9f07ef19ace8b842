/*
 * Unit tests for the suite negotiation and the network psk in net/conn:
 * mixed hardware (BLAZEFS_NO_AESNI on either end) agrees on ChaChaPoly, any
 * change to the offer or the choice byte in flight kills the handshake, and
 * a dialler without the network psk is dropped having received one byte.
 */
#include <errno.h>
#include <sodium.h>
#include <stdlib.h>

#include "net/conn.h"
#include "net/noise.h"
#include "tests/unit/conn_test.h"

static uint8_t ka[32], kb[32], pa[32], pb[32], net1[32], net2[32];

/*
 * Runs initiator a (no AES-NI if a_noaes) against responder b, both with
 * network psks na and nb (NULL: none); tampers with byte `at` of the
 * initiator's stream (`from_b`: of the responder's) if at >= 0.
 */
static void
run(struct side *a, struct side *b, int a_noaes, int b_noaes, const uint8_t *na, const uint8_t *nb,
    long at, int from_b, uint8_t xor)
{
	memset(a, 0, sizeof(*a));
	memset(b, 0, sizeof(*b));
	/* Capabilities are read when a conn is made: the knob per side. */
	if (a_noaes)
		setenv("BLAZEFS_NO_AESNI", "1", 1);
	else
		unsetenv("BLAZEFS_NO_AESNI");
	assert_non_null(a->c = conn_new(1, ka, NULL));
	if (b_noaes)
		setenv("BLAZEFS_NO_AESNI", "1", 1);
	else
		unsetenv("BLAZEFS_NO_AESNI");
	assert_non_null(b->c = conn_new(0, kb, NULL));
	unsetenv("BLAZEFS_NO_AESNI");
	if (na)
		assert_int_equal(conn_set_network(a->c, na), 0);
	if (nb)
		assert_int_equal(conn_set_network(b->c, nb), 0);
	pump(a, b, from_b ? -1 : at, from_b ? at : -1, xor);
}

static int
setup(void **state)
{
	(void)state;
	if (sodium_init() < 0)
		return -1;
	assert_int_equal(noise_keypair(pa, ka), 0);
	assert_int_equal(noise_keypair(pb, kb), 0);
	randombytes_buf(net1, sizeof(net1));
	randombytes_buf(net2, sizeof(net2));
	return 0;
}

/* The responder's rule, exhaustively over every offer byte. */
static void
test_choose(void **state)
{
	const uint8_t both = CONN_CAP_AESGCM | CONN_CAP_CHACHAPOLY;

	(void)state;
	assert_int_equal(conn_choose(CONN_OFFER | both, both), NOISE_SUITE_AESGCM);
	assert_int_equal(conn_choose(CONN_OFFER | both, CONN_CAP_CHACHAPOLY),
	                 NOISE_SUITE_CHACHAPOLY);
	assert_int_equal(conn_choose(CONN_OFFER | CONN_CAP_CHACHAPOLY, both),
	                 NOISE_SUITE_CHACHAPOLY);
	assert_int_equal(conn_choose(CONN_OFFER | CONN_SEL_JOIN | CONN_CAP_CHACHAPOLY, both),
	                 NOISE_SUITE_CHACHAPOLY);
	assert_int_equal(conn_choose(CONN_OFFER | CONN_CAP_AESGCM, CONN_CAP_CHACHAPOLY), -1);
	assert_int_equal(conn_choose(CONN_OFFER, both), -1);
	for (int o = 0; o < 256; o++) {
		int r = conn_choose((uint8_t)o, both);

		/* Old selectors (1, 2), unknown bits, no CONN_OFFER: refused. */
		if (!(o & CONN_OFFER) || (o & 0x3c))
			assert_int_equal(r, -1);
		else if (r != -1)
			assert_true(
			    o & (r == NOISE_SUITE_AESGCM ? CONN_CAP_AESGCM : CONN_CAP_CHACHAPOLY));
	}
}

/* Mixed hardware: either end without AES-NI, both settle on ChaChaPoly. */
static void
test_mixed_hardware(void **state)
{
	struct side a, b;

	(void)state;
	for (int k = 0; k < 3; k++) {
		run(&a, &b, k == 1, k == 2, net1, net1, -1, 0, 0);
		assert_true(a.ready && b.ready);
		if (k == 0 && noise_suite_available(NOISE_SUITE_AESGCM)) {
			assert_int_equal(conn_suite(a.c), NOISE_SUITE_AESGCM);
		} else {
			assert_int_equal(conn_suite(a.c), NOISE_SUITE_CHACHAPOLY);
			assert_string_equal(conn_suite_name(conn_suite(b.c)), "ChaChaPoly");
		}
		assert_int_equal(conn_suite(a.c), conn_suite(b.c));
		unpair(&a, &b);
	}
	assert_string_equal(conn_suite_name(0), "");
}

/*
 * Every change to the offer byte (e.g. clearing the AESGCM bit to force
 * ChaChaPoly) or to the choice byte fails the handshake on both ends: the
 * prologues then differ.  With and without the network psk.
 */
static void
test_tampered_bytes(void **state)
{
	static const uint8_t flips[] = {
	    CONN_CAP_AESGCM, CONN_CAP_CHACHAPOLY, 0x03, CONN_SEL_JOIN, 0x40, 0x10};
	struct side a, b;

	(void)state;
	for (int with_net = 0; with_net < 2; with_net++)
		for (int from_b = 0; from_b < 2; from_b++)
			for (size_t f = 0; f < sizeof(flips); f++) {
				run(&a, &b, 0, 0, with_net ? net1 : NULL, with_net ? net1 : NULL, 0,
				    from_b, flips[f]);
				assert_false(a.ready);
				assert_false(b.ready);
				assert_true(a.dead || b.dead);
				unpair(&a, &b);
			}
	/* Untampered, the same runs succeed (the test above can fail). */
	run(&a, &b, 0, 0, net1, net1, -1, 0, 0);
	assert_true(a.ready && b.ready);
	unpair(&a, &b);
}

/* A dialler with another network psk: the responder drops it after
 * message 1, having sent only its choice byte; no key, no message 2. */
static void
test_stranger(void **state)
{
	struct side a, b;

	(void)state;
	run(&a, &b, 0, 0, net2, net1, -1, 0, 0);
	assert_false(a.ready || b.ready);
	assert_true(b.dead);
	assert_true(conn_stranger(b.c));
	assert_int_equal(a.got, 1);
	unpair(&a, &b);
	/* A responder with a network psk refuses a dialler without one too. */
	run(&a, &b, 0, 0, NULL, net1, -1, 0, 0);
	assert_true(b.dead && conn_stranger(b.c));
	assert_int_equal(a.got, 1);
	unpair(&a, &b);
	/* Members: not strangers. */
	run(&a, &b, 0, 0, net1, net1, -1, 0, 0);
	assert_true(a.ready && b.ready);
	assert_false(conn_stranger(b.c));
	unpair(&a, &b);
}

/* Setting the network psk once the handshake started is refused. */
static void
test_set_network_late(void **state)
{
	struct conn *c = conn_new(1, ka, NULL);
	const uint8_t *m;
	size_t n;

	(void)state;
	conn_poll(c, &m, &n);
	assert_int_equal(conn_set_network(c, net1), -1);
	assert_int_equal(errno, EINVAL);
	conn_free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_choose),           cmocka_unit_test(test_mixed_hardware),
	    cmocka_unit_test(test_tampered_bytes),   cmocka_unit_test(test_stranger),
	    cmocka_unit_test(test_set_network_late),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
