/*
 * Unit tests for the short join code (net/join: format and parse) and the
 * short-code join of net/conn (CPace, then Noise_XXpsk0 with its key): the
 * right code joins, a wrong one fails message 1 and marks the responder
 * (its caller burns the invite), a refused slot says why.
 */
#include <errno.h>
#include <sodium.h>

#include "net/conn.h"
#include "net/join.h"
#include "tests/unit/conn_test.h"

static void
test_format_parse(void **state)
{
	struct join_code c, d;
	char s[JOIN_CODE_MAX];

	(void)state;
	for (int i = 0; i < 2000; i++) {
		c.slot = (uint8_t)randombytes_uniform(JOIN_SLOTS);
		randombytes_buf(c.w, sizeof(c.w));
		assert_int_equal(join_code_format(s, sizeof(s), &c), 0);
		assert_int_equal(join_code_parse(s, strlen(s), &d), 0);
		assert_memory_equal(&c, &d, sizeof(c));
	}
	c.slot = 7;
	c.w[0] = 0;
	c.w[1] = 1;
	c.w[2] = 255;
	assert_int_equal(join_code_format(s, sizeof(s), &c), 0);
	assert_string_equal(s, "7-able-acid-plum");
	/* A person's spelling: any case, spaces. */
	assert_int_equal(join_code_parse("7 Able ACID-plum", 16, &d), 0);
	assert_memory_equal(&c, &d, sizeof(c));
	assert_int_equal(join_code_format(s, 10, &c), -1);
	assert_int_equal(errno, ENOSPC);
	static const char *bad[] = {"",
	                            "7",
	                            "7-able-acid",
	                            "able-acid-plum",
	                            "100-a-b-c",
	                            "7-able-acid-plumb",
	                            "7-able-acid-plum-",
	                            "7-able-acid-plum x",
	                            "-7-able-acid-plum",
	                            "007-able-acid-plum",
	                            "7-able-acid-zzzz"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_int_equal(join_code_parse(bad[i], strlen(bad[i]), &d), -1);
		assert_int_equal(errno, EINVAL);
	}
}

/* A short-code join between an initiator with code ci and a responder whose
 * invite has status st, slot and code cr. */
static void
pake_pair(struct side *i, struct side *r, const struct join_code *ci, int st,
          const struct join_code *cr)
{
	uint8_t ki[32], kr[32], pi[JOIN_PRS_LEN], pr[JOIN_PRS_LEN], decoy[32];

	randombytes_buf(ki, sizeof(ki));
	randombytes_buf(kr, sizeof(kr));
	randombytes_buf(decoy, sizeof(decoy));
	join_code_prs(pi, ci);
	join_code_prs(pr, cr);
	memset(i, 0, sizeof(*i));
	memset(r, 0, sizeof(*r));
	assert_non_null(i->c = conn_new(1, ki, NULL));
	assert_non_null(r->c = conn_new(0, kr, decoy));
	assert_int_equal(conn_set_pake(i->c, CONN_PAKE_OK, ci->slot, pi, sizeof(pi)), 0);
	assert_int_equal(conn_set_pake(r->c, st, cr->slot, pr, sizeof(pr)), 0);
	pump(i, r, -1, -1, 0);
}

static void
test_pake_join(void **state)
{
	struct join_code a = {3, {10, 20, 30}}, b = a, other = {4, {10, 20, 30}};
	struct side i, r;

	(void)state;
	/* right */
	pake_pair(&i, &r, &a, CONN_PAKE_OK, &a);
	assert_true(i.ready && r.ready);
	assert_true(conn_is_join(i.c) && conn_is_join(r.c));
	assert_int_equal(conn_pake_status(i.c), CONN_PAKE_OK);
	assert_int_equal(conn_pake_wrong(r.c), 0);
	unpair(&i, &r);
	/* one word wrong: message 1 fails, the responder says it was a guess */
	b.w[2] ^= 1;
	pake_pair(&i, &r, &b, CONN_PAKE_OK, &a);
	assert_false(i.ready || r.ready);
	assert_true(r.dead);
	assert_int_equal(conn_pake_wrong(r.c), 1);
	unpair(&i, &r);
	/* another slot: refused as replaced, no guess spent */
	pake_pair(&i, &r, &other, CONN_PAKE_OK, &a);
	assert_true(i.dead);
	assert_false(r.dead);
	assert_int_equal(conn_pake_status(i.c), CONN_PAKE_REPLACED);
	assert_int_equal(conn_pake_wrong(r.c), 0);
	unpair(&i, &r);
	/* each state the responder reports */
	for (int st = CONN_PAKE_NONE; st <= CONN_PAKE_USED; st++) {
		pake_pair(&i, &r, &a, st, &a);
		assert_true(i.dead);
		assert_int_equal(conn_pake_status(i.c), st);
		unpair(&i, &r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_format_parse),
	    cmocka_unit_test(test_pake_join),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
