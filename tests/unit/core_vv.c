#include "tests/unit/core_test.h"

#include "core/vv.h"

/* A fixed-seed generator: every run tests the same vectors. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
assert_sorted(const struct vv *v)
{
	for (size_t i = 1; i < v->n; i++)
		assert_true(v->e[i - 1].origin < v->e[i].origin);
}

static void
test_set_get_sorted(void **state)
{
	struct vv v = {0};
	uint64_t s = 42, ref[64] = {0}, o;
	int i;

	(void)state;
	for (i = 0; i < 2000; i++) {
		o = rnd(&s) % 64;
		ref[o] = rnd(&s) % 1000 + 1;
		assert_int_equal(vv_set(&v, o * 7, ref[o]), 0);
	}
	assert_sorted(&v);
	for (o = 0; o < 64; o++) {
		assert_int_equal(vv_get(&v, o * 7), ref[o]);
		assert_int_equal(vv_get(&v, o * 7 + 1), 0);
	}
	vv_clear(&v);
	assert_int_equal(v.n, 0);
	assert_int_equal(vv_get(&v, 7), 0);
}

static void
test_merge_takes_the_max_of_each_origin(void **state)
{
	uint64_t s = 7, o, ra[32], rb[32];
	int round, i;

	(void)state;
	for (round = 0; round < 200; round++) {
		struct vv a = {0}, b = {0};

		memset(ra, 0, sizeof(ra));
		memset(rb, 0, sizeof(rb));
		for (i = 0; i < (int)(rnd(&s) % 20); i++) {
			o = rnd(&s) % 32;
			ra[o] = rnd(&s) % 100 + 1;
			assert_int_equal(vv_set(&a, o, ra[o]), 0);
		}
		for (i = 0; i < (int)(rnd(&s) % 20); i++) {
			o = rnd(&s) % 32;
			rb[o] = rnd(&s) % 100 + 1;
			assert_int_equal(vv_set(&b, o, rb[o]), 0);
		}
		assert_int_equal(vv_merge(&a, &b), 0);
		assert_sorted(&a);
		for (o = 0; o < 32; o++)
			assert_int_equal(vv_get(&a, o), ra[o] > rb[o] ? ra[o] : rb[o]);
		vv_clear(&a);
		vv_clear(&b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_set_get_sorted),
	    cmocka_unit_test(test_merge_takes_the_max_of_each_origin),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
