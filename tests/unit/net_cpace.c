/*
 * Unit tests for net/cpace: every value of the CFRG draft's ristretto255
 * vectors (tests/vectors/cpace-ristretto255.json, or $BLAZEFS_CPACE_VECTORS),
 * then the failures: an invalid share, a wrong password.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "net/cpace.h"

#define VECTORS_DEFAULT "tests/vectors/cpace-ristretto255.json"

static json_t *vectors;

/* The base64 field key of obj into out: its length. */
static size_t
b64(const json_t *obj, const char *key, uint8_t *out, size_t max)
{
	const char *s = json_string_value(json_object_get(obj, key));
	size_t len;

	assert_non_null(s);
	assert_int_equal(sodium_base642bin(out, max, s, strlen(s), NULL, &len, NULL,
	                                   sodium_base64_VARIANT_ORIGINAL),
	                 0);
	return len;
}

struct vec {
	uint8_t prs[64], ci[128], sid[64], g[32], ya[32], Ya[32], yb[32], Yb[32], K[32];
	uint8_t ada[16], adb[16], isk_ir[64], isk_oc[64], sid_ir[64], sid_oc[64];
	size_t prsl, cil, sidl, adal, adbl;
};

static void
load(struct vec *v)
{
	const json_t *o = json_object_get(vectors, "G_Coffee25519");

	assert_non_null(o);
	v->prsl = b64(o, "PRS", v->prs, sizeof(v->prs));
	v->cil = b64(o, "CI", v->ci, sizeof(v->ci));
	v->sidl = b64(o, "sid", v->sid, sizeof(v->sid));
	assert_int_equal(b64(o, "g", v->g, 32), 32);
	assert_int_equal(b64(o, "ya", v->ya, 32), 32);
	assert_int_equal(b64(o, "Ya", v->Ya, 32), 32);
	assert_int_equal(b64(o, "yb", v->yb, 32), 32);
	assert_int_equal(b64(o, "Yb", v->Yb, 32), 32);
	assert_int_equal(b64(o, "K", v->K, 32), 32);
	v->adal = b64(o, "ADa", v->ada, sizeof(v->ada));
	v->adbl = b64(o, "ADb", v->adb, sizeof(v->adb));
	assert_int_equal(b64(o, "ISK_IR", v->isk_ir, 64), 64);
	assert_int_equal(b64(o, "ISK_SY", v->isk_oc, 64), 64);
	assert_int_equal(b64(o, "sid_output_ir", v->sid_ir, 64), 64);
	assert_int_equal(b64(o, "sid_output_oc", v->sid_oc, 64), 64);
}

static void
test_generator(void **state)
{
	struct vec v;
	uint8_t g[32];

	(void)state;
	load(&v);
	assert_int_equal(cpace_generator(g, v.prs, v.prsl, v.ci, v.cil, v.sid, v.sidl), 0);
	assert_memory_equal(g, v.g, 32);
}

static void
test_shares_and_key(void **state)
{
	struct vec v;
	uint8_t Y[32], K[32];

	(void)state;
	load(&v);
	assert_int_equal(cpace_share_from(v.ya, Y, v.g), 0);
	assert_memory_equal(Y, v.Ya, 32);
	assert_int_equal(cpace_share_from(v.yb, Y, v.g), 0);
	assert_memory_equal(Y, v.Yb, 32);
	assert_int_equal(cpace_key(K, v.ya, v.Yb), 0);
	assert_memory_equal(K, v.K, 32);
	assert_int_equal(cpace_key(K, v.yb, v.Ya), 0);
	assert_memory_equal(K, v.K, 32);
}

static void
test_isk(void **state)
{
	struct vec v;
	uint8_t out[64];

	(void)state;
	load(&v);
	cpace_isk_ir(out, v.sid, v.sidl, v.K, v.Ya, v.ada, v.adal, v.Yb, v.adb, v.adbl);
	assert_memory_equal(out, v.isk_ir, 64);
	cpace_isk_oc(out, v.sid, v.sidl, v.K, v.Ya, v.ada, v.adal, v.Yb, v.adb, v.adbl);
	assert_memory_equal(out, v.isk_oc, 64);
	/* Symmetric order: either party's view gives the same key. */
	cpace_isk_oc(out, v.sid, v.sidl, v.K, v.Yb, v.adb, v.adbl, v.Ya, v.ada, v.adal);
	assert_memory_equal(out, v.isk_oc, 64);
	cpace_sid_output(out, 0, v.Ya, v.ada, v.adal, v.Yb, v.adb, v.adbl);
	assert_memory_equal(out, v.sid_ir, 64);
	cpace_sid_output(out, 1, v.Ya, v.ada, v.adal, v.Yb, v.adb, v.adbl);
	assert_memory_equal(out, v.sid_oc, 64);
}

static void
test_points(void **state)
{
	const json_t *p = json_object_get(vectors, "G_Coffee25519_points");
	const json_t *ok = json_object_get(p, "Valid");
	uint8_t s[32], X[32], want[32], K[32];

	(void)state;
	assert_non_null(ok);
	b64(ok, "s", s, 32);
	b64(ok, "X", X, 32);
	b64(ok, "G.scalar_mult(s,decode(X))", want, 32);
	assert_int_equal(cpace_share_from(s, K, X), 0);
	assert_memory_equal(K, want, 32);
	b64(ok, "G.scalar_mult_vfy(s,X)", want, 32);
	assert_int_equal(cpace_key(K, s, X), 0);
	assert_memory_equal(K, want, 32);
	b64(p, "Invalid Y", X, 32);
	assert_int_equal(cpace_key(K, s, X), -1);
	/* The identity is a valid encoding but no share. */
	memset(X, 0, 32);
	assert_int_equal(cpace_key(K, s, X), -1);
}

/* Both sides with fresh scalars: equal ISKs on the same password, unequal
 * on another one. */
static void
run(const char *pa, const char *pb, uint8_t ia[64], uint8_t ib[64])
{
	static const uint8_t ci[] = "blazefs/join";
	uint8_t ga[32], gb[32], ya[32], yb[32], Ya[32], Yb[32], Ka[32], Kb[32];

	assert_int_equal(cpace_generator(ga, (const uint8_t *)pa, strlen(pa), ci, 12, NULL, 0), 0);
	assert_int_equal(cpace_generator(gb, (const uint8_t *)pb, strlen(pb), ci, 12, NULL, 0), 0);
	assert_int_equal(cpace_share(ya, Ya, ga), 0);
	assert_int_equal(cpace_share(yb, Yb, gb), 0);
	assert_int_equal(cpace_key(Ka, ya, Yb), 0);
	assert_int_equal(cpace_key(Kb, yb, Ya), 0);
	cpace_isk_ir(ia, NULL, 0, Ka, Ya, NULL, 0, Yb, NULL, 0);
	cpace_isk_ir(ib, NULL, 0, Kb, Ya, NULL, 0, Yb, NULL, 0);
}

static void
test_wrong_password(void **state)
{
	uint8_t a[64], b[64];

	(void)state;
	run("7-amber-falcon-river", "7-amber-falcon-river", a, b);
	assert_memory_equal(a, b, 64);
	run("7-amber-falcon-river", "7-amber-falcon-rivet", a, b);
	assert_memory_not_equal(a, b, 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_generator),
	    cmocka_unit_test(test_shares_and_key),
	    cmocka_unit_test(test_isk),
	    cmocka_unit_test(test_points),
	    cmocka_unit_test(test_wrong_password),
	};
	const char *path = getenv("BLAZEFS_CPACE_VECTORS");

	if (sodium_init() < 0)
		return 1;
	if ((vectors = json_load_file(path ? path : VECTORS_DEFAULT, 0, NULL)) == NULL) {
		fprintf(stderr, "cannot read %s\n", path ? path : VECTORS_DEFAULT);
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
