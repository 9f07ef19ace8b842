/* Unit tests for the pure parts of net/mdns: the rotating tag and the TXT check
 * (which hours are accepted, strangers and other protocols refused). */
#include <string.h>
#include <sodium.h>

#include "net/mdns.h"
#include "tests/unit/core_test.h"

static const uint8_t db1[32] = {1, 2, 3}, db2[32] = {4, 5, 6};

/* Checks a TXT of two strings "v=V" and "t=TAG". */
static int
check(const char *v, const char *tag, const uint8_t dbid[32], uint64_t hour)
{
	char sv[32], st[64];
	const char *txt[2] = {sv, st};
	size_t len[2];

	snprintf(sv, sizeof(sv), "v=%s", v);
	snprintf(st, sizeof(st), "t=%s", tag);
	len[0] = strlen(sv);
	len[1] = strlen(st);
	return mdns_txt_match(txt, len, 2, dbid, hour);
}

static void
test_tag(void **state)
{
	char a[MDNS_TAG_HEX + 1], b[MDNS_TAG_HEX + 1], c[MDNS_TAG_HEX + 1];

	(void)state;
	assert_int_equal(sodium_init() >= 0, 1);
	mdns_tag(a, db1, 480000);
	mdns_tag(b, db1, 480000);
	assert_int_equal(strlen(a), MDNS_TAG_HEX);
	assert_string_equal(a, b); /* members compute the same tag */
	mdns_tag(c, db1, 480001);
	assert_string_not_equal(a, c); /* it rotates every hour */
	mdns_tag(c, db2, 480000);
	assert_string_not_equal(a, c); /* and differs per database */
	assert_int_equal(mdns_hour(3600 * 480000 + 3599), 480000);
	assert_int_equal(mdns_hour(3600 * 480001), 480001);
}

static void
test_match(void **state)
{
	char t[MDNS_TAG_HEX + 1];

	(void)state;
	mdns_tag(t, db1, 1000);
	assert_int_equal(check("1", t, db1, 1000), 1);
	assert_int_equal(check("1", t, db1, 1001), 1); /* the previous hour's tag */
	assert_int_equal(check("1", t, db1, 999), 1);  /* a peer's clock a bit ahead */
	assert_int_equal(check("1", t, db1, 1002), 0); /* stale */
	assert_int_equal(check("1", t, db1, 998), 0);
	assert_int_equal(check("1", t, db2, 1000), 0); /* another database */
	assert_int_equal(check("2", t, db1, 1000), 0); /* another protocol */
	assert_int_equal(check("", t, db1, 1000), 0);
	t[5] ^= 1;
	assert_int_equal(check("1", t, db1, 1000), 0); /* altered */
	t[MDNS_TAG_HEX - 1] = '\0';
	assert_int_equal(check("1", t, db1, 1000), 0); /* short */
	assert_int_equal(mdns_txt_match(NULL, NULL, 0, db1, 1000), 0);
	mdns_tag(t, db1, 0);
	assert_int_equal(check("1", t, db1, 0), 1); /* no underflow at hour 0 */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tag),
	    cmocka_unit_test(test_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
