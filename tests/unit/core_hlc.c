#include "tests/unit/core_test.h"

#include "core/hlc.h"

static void
test_monotonic_when_wall_steps_back(void **state)
{
	struct hlc c = {0};
	uint64_t a, b, d;

	(void)state;
	a = hlc_now(&c, 1000000);
	b = hlc_now(&c, 1000000);
	d = hlc_now(&c, 500000); /* the wall clock went back 500 s */
	assert_true(b > a);
	assert_true(d > b);
	assert_int_equal(hlc_ms(d), 1000000);
	assert_int_equal(hlc_ms(hlc_now(&c, 2000000)), 2000000);
}

static void
test_counter_overflow_carries(void **state)
{
	struct hlc c = {0};
	uint64_t prev = 0, t;
	int i;

	(void)state;
	for (i = 0; i < 70000; i++) {
		t = hlc_now(&c, 5000);
		assert_true(t > prev);
		prev = t;
	}
	assert_int_equal(hlc_ms(prev), 5001);
}

static void
test_recv_merges_and_is_bounded(void **state)
{
	struct hlc c = {0};
	uint64_t wall = 1000000, t;

	(void)state;
	/* A remote clock a little ahead moves ours past it. */
	assert_int_equal(hlc_recv(&c, (wall + 500) << 16, wall), 0);
	t = hlc_now(&c, wall);
	assert_true(t > ((wall + 500) << 16));
	/* One a day ahead does not drag ours beyond the documented bound. */
	assert_int_equal(hlc_recv(&c, (wall + 86400000ULL) << 16, wall), -1);
	t = hlc_now(&c, wall);
	assert_true(hlc_ms(t) <= wall + HLC_MAX_DRIFT_MS + 1);
	/* An older remote clock changes nothing. */
	assert_int_equal(hlc_recv(&c, 1 << 16, wall), 0);
	assert_true(hlc_now(&c, wall) > t);
}

static void
test_far_ahead_remote_is_ignored(void **state)
{
	struct hlc c = {0};
	uint64_t wall = 1000000, t;

	(void)state;
	t = hlc_now(&c, wall);
	/* An hour ahead: a skewed clock, not news.  Ours stays where it was. */
	assert_int_equal(hlc_recv(&c, hlc_from_ms(wall + 3600000), wall), -1);
	assert_true(c.last == t);
	/* Just within the bound: merged as usual. */
	assert_int_equal(hlc_recv(&c, hlc_from_ms(wall + HLC_MAX_DRIFT_MS), wall), 0);
	assert_int_equal(hlc_ms(c.last), wall + HLC_MAX_DRIFT_MS);
}

static void
test_bound_takes_back_a_skewed_clock(void **state)
{
	struct hlc c = {0};
	uint64_t wall = 1000000;

	(void)state;
	/* Saved by a device an hour ahead, since fixed. */
	hlc_now(&c, wall + 3600000);
	assert_int_equal(hlc_bound(&c, wall), 3600000 - HLC_MAX_DRIFT_MS);
	assert_true(hlc_now(&c, wall) <= hlc_from_ms(wall + HLC_MAX_DRIFT_MS) + 1);
	/* Within the bound: untouched (a wall clock that stepped back a little
	 * still gives increasing stamps). */
	c.last = hlc_from_ms(wall + 1000);
	assert_int_equal(hlc_bound(&c, wall), 0);
	assert_true(c.last == hlc_from_ms(wall + 1000));
	assert_true(hlc_now(&c, wall) > hlc_from_ms(wall + 1000));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_monotonic_when_wall_steps_back),
	    cmocka_unit_test(test_counter_overflow_carries),
	    cmocka_unit_test(test_recv_merges_and_is_bounded),
	    cmocka_unit_test(test_far_ahead_remote_is_ignored),
	    cmocka_unit_test(test_bound_takes_back_a_skewed_clock),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
