#include "tests/unit/core_test.h"

#include "net/netlog.h"

/* Peer text cannot break a log line, hide itself or run on. */
static void
test_clean(void **state)
{
	char out[NETLOG_TEXT_MAX + 1], small[8], big[300];

	(void)state;
	assert_string_equal(netlog_clean(out, sizeof(out), "laptop", 255), "laptop");
	assert_string_equal(netlog_clean(out, sizeof(out), "a\nblazefs: forged", 255),
	                    "a?blazefs: forged");
	assert_string_equal(netlog_clean(out, sizeof(out), "\r\t\x1b[31m\x7f", 255), "???[31m?");
	/* UTF-8 passes; invalid bytes, C1 controls, bidi overrides do not. */
	assert_string_equal(netlog_clean(out, sizeof(out), "Zo\xc3\xab", 255), "Zo\xc3\xab");
	assert_string_equal(netlog_clean(out, sizeof(out), "\xff\xc3x\xc2\x85", 255), "??x?");
	assert_string_equal(netlog_clean(out, sizeof(out), "x\xe2\x80\xaey\xe2\x80\xa8", 255),
	                    "x?y?");
	/* Capped, never splitting a character. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(strlen(netlog_clean(out, sizeof(out), big, sizeof(big))), NETLOG_TEXT_MAX);
	assert_string_equal(netlog_clean(small, sizeof(small), "abcdefghij", 255), "abcdefg");
	assert_string_equal(netlog_clean(small, sizeof(small), "abcdef\xc3\xab", 255), "abcdef");
	assert_string_equal(netlog_clean(small, sizeof(small), "abc", 2), "ab");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_clean),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
