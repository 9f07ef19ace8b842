#include <errno.h>

#include "tests/unit/core_test.h"

#include "core/record.h"

static json_t *
parse(const char *s, const char **why)
{
	return record_parse(s, strlen(s), why);
}

static void
expect_reject(const char *s, int err, const char *why_part)
{
	const char *why;

	errno = 0;
	assert_null(parse(s, &why));
	assert_int_equal(errno, err);
	assert_non_null(why);
	if (strstr(why, why_part) == NULL)
		fail_msg("reason '%s' lacks '%s' for input %.40s", why, why_part, s);
}

static void
test_bad_input_is_refused_with_a_reason(void **state)
{
	(void)state;
	expect_reject("{\"a\": 1", EINVAL, "invalid JSON");
	expect_reject("", EINVAL, "invalid JSON");
	expect_reject("[1, 2]", EINVAL, "must be a JSON object");
	expect_reject("\"text\"", EINVAL, "invalid JSON"); /* jansson refuses non-containers */
	expect_reject("{\"a\": \"\xff\xfe\"}", EINVAL, "invalid JSON");
	expect_reject("{\"a\": 1, \"a\": 2}", EINVAL, "duplicate");
	expect_reject("{\"n\": 99999999999999999999}", EINVAL, "too big");
	expect_reject("{\"a\": 1} trailing", EINVAL, "invalid JSON");
}

static char *
nested(int depth)
{
	char *s = malloc((size_t)depth * 6 + 16);
	size_t n = 0;
	int i;

	/* depth levels: one object, then arrays */
	n += (size_t)sprintf(s, "{\"a\":");
	for (i = 1; i < depth; i++)
		s[n++] = '[';
	s[n++] = '1';
	for (i = 1; i < depth; i++)
		s[n++] = ']';
	s[n++] = '}';
	s[n] = '\0';
	return s;
}

static void
test_nesting_limit(void **state)
{
	const char *why;
	char *ok = nested(RECORD_MAX_DEPTH), *deep = nested(RECORD_MAX_DEPTH + 1);
	json_t *v;

	(void)state;
	assert_non_null(v = parse(ok, &why));
	json_decref(v);
	expect_reject(deep, EINVAL, "nesting");
	free(ok);
	free(deep);
}

static void
test_size_limit(void **state)
{
	size_t n = RECORD_MAX_BYTES + 1;
	char *s = malloc(n + 1);
	const char *why;

	(void)state;
	memset(s, ' ', n);
	s[0] = '{';
	s[n - 1] = '}';
	s[n] = '\0';
	assert_null(record_parse(s, n, &why));
	assert_int_equal(errno, EFBIG);
	free(s);
}

static void
test_render_is_canonical(void **state)
{
	const char *why;
	json_t *v = parse("{\"b\":[1,{\"y\":2,\"x\":null}],\"a\":\"\\u00e9\\n\",\"B\":true,"
	                  "\"\xc3\xa9\":{},\"e\":[]}",
	                  &why);
	size_t len;
	char *s;

	(void)state;
	assert_non_null(v);
	s = record_render(v, &len);
	assert_string_equal(s, "{\n"
	                       "  \"B\": true,\n"
	                       "  \"a\": \"\xc3\xa9\\n\",\n"
	                       "  \"b\": [\n"
	                       "    1,\n"
	                       "    {\n"
	                       "      \"x\": null,\n"
	                       "      \"y\": 2\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"e\": [],\n"
	                       "  \"\xc3\xa9\": {}\n"
	                       "}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	json_decref(v);
}

static void
test_numbers_round_trip(void **state)
{
	const char *why;
	json_t *v = parse("{\"max\": 9223372036854775807, \"min\": -9223372036854775808,"
	                  " \"tenth\": 0.1, \"third\": 0.3333333333333333, \"big\": 1e300,"
	                  " \"one\": 1.0, \"tiny\": 5e-324}",
	                  &why);
	char *s;

	(void)state;
	assert_non_null(v);
	s = record_value_text(v);
	assert_string_equal(s, "{\"big\":1e+300,\"max\":9223372036854775807,"
	                       "\"min\":-9223372036854775808,\"one\":1.0,\"tenth\":0.1,"
	                       "\"third\":0.3333333333333333,\"tiny\":5e-324}");
	free(s);
	json_decref(v);
}

/* What record_render_fields gives of one field "k" with text t, or NULL. */
static char *
render_one(const char *t)
{
	struct record_field f = {"k", t, strlen(t)};
	size_t len;

	return record_render_fields(&f, 1, &len);
}

static void
test_canonical_texts(void **state)
{
	static const char *const yes[] = {"0",
	                                  "-1",
	                                  "123456789012345678",
	                                  "true",
	                                  "false",
	                                  "null",
	                                  "\"\"",
	                                  "\"a\\\"\\\\\\n\\t\\r\\b\\f\\u001f\\u0001 \x7f\xc3\xa9\"",
	                                  "[]",
	                                  "{}",
	                                  "[1,[2,{}],{\"a\":[]}]",
	                                  "{\"\":0,\"B\":1,\"a\":2,\"ab\":3,\"\xc3\xa9\":4}"};
	static const char *const no[] = {"",
	                                 " 1",
	                                 "1 ",
	                                 "01",
	                                 "-0",
	                                 "+1",
	                                 "1.0",
	                                 "1e5",
	                                 "1234567890123456789",
	                                 "tru",
	                                 "nul",
	                                 "\"\\/\"",
	                                 "\"\\u000a\"",
	                                 "\"\\u0000\"",
	                                 "\"\\u001F\"",
	                                 "\"\\u0020\"",
	                                 "\"\x01\"",
	                                 "\"\xff\"",
	                                 "\"a",
	                                 "[1,]",
	                                 "[,1]",
	                                 "[1 ]",
	                                 "{\"a\": 1}",
	                                 "{\"b\":1,\"a\":2}",
	                                 "{\"a\":1,\"a\":2}",
	                                 "{\"\\n\":1}",
	                                 "{1:2}",
	                                 "[1]]",
	                                 "[1}",
	                                 "{\"a\"}"};
	char deep[2 * RECORD_MAX_DEPTH + 3];
	size_t i;
	char *s;

	(void)state;
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		json_t *v = record_value_parse(yes[i], strlen(yes[i]));
		json_t *o = json_pack("{s:O}", "k", v);
		char *want = o ? record_render(o, NULL) : NULL;

		if (!record_value_canonical(yes[i], strlen(yes[i])))
			fail_msg("not told canonical: %s", yes[i]);
		/* It is what record_value_text gives, and renders as jansson's. */
		assert_non_null(v);
		assert_non_null(s = record_value_text(v));
		assert_string_equal(s, yes[i]);
		free(s);
		assert_non_null(s = render_one(yes[i]));
		assert_string_equal(s, want);
		free(s);
		free(want);
		json_decref(o);
		json_decref(v);
	}
	for (i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		if (record_value_canonical(no[i], strlen(no[i])))
			fail_msg("told canonical: %s", no[i]);
		errno = 0;
		assert_null(render_one(no[i]));
		assert_int_equal(errno, EINVAL);
	}
	/* Nesting past RECORD_MAX_DEPTH is left to the parser. */
	memset(deep, '[', RECORD_MAX_DEPTH + 1);
	memset(deep + RECORD_MAX_DEPTH + 1, ']', RECORD_MAX_DEPTH + 1);
	deep[2 * RECORD_MAX_DEPTH + 2] = '\0';
	assert_false(record_value_canonical(deep, strlen(deep)));
	assert_true(record_value_canonical(deep + 1, strlen(deep) - 2));
}

static void
test_render_fields(void **state)
{
	struct record_field f[] = {
	    {"B", "true", 4}, {"a", "[1,{\"x\":null}]", 14}, {"b", "\"x\"", 3}};
	size_t len;
	char *s;

	(void)state;
	assert_non_null(s = record_render_fields(f, 3, &len));
	assert_string_equal(s, "{\n"
	                       "  \"B\": true,\n"
	                       "  \"a\": [\n"
	                       "    1,\n"
	                       "    {\n"
	                       "      \"x\": null\n"
	                       "    }\n"
	                       "  ],\n"
	                       "  \"b\": \"x\"\n"
	                       "}\n");
	assert_int_equal(len, strlen(s));
	free(s);
	assert_non_null(s = record_render_fields(f, 0, &len));
	assert_string_equal(s, "{}\n");
	free(s);
	/* Unsorted or repeated names: the caller renders the object instead. */
	f[0].name = "c";
	assert_null(record_render_fields(f, 3, &len));
	assert_int_equal(errno, EINVAL);
	f[0].name = "a";
	assert_null(record_render_fields(f, 3, &len));
	assert_int_equal(errno, EINVAL);
}

static void
test_names(void **state)
{
	char id[NAME_MAX_BYTES + 1], long_name[NAME_MAX_BYTES + 2];

	(void)state;
	assert_int_equal(record_name_valid("bugs", 4), 0);
	assert_int_equal(record_name_valid("\xc3\xa9t\xc3\xa9", 5), 0);
	assert_int_equal(record_name_valid(".hidden", 7), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(record_name_valid("a/b", 3), -1);
	assert_int_equal(record_name_valid("", 0), -1);
	assert_int_equal(record_name_valid("a\xff", 2), -1);
	memset(long_name, 'x', sizeof(long_name) - 1);
	assert_int_equal(record_name_valid(long_name, NAME_MAX_BYTES), 0);
	assert_int_equal(record_name_valid(long_name, NAME_MAX_BYTES + 1), -1);
	assert_int_equal(errno, ENAMETOOLONG);

	assert_int_equal(record_file_id("b-1042.json", id), 0);
	assert_string_equal(id, "b-1042");
	assert_int_equal(record_file_id(".b-1042.json.swp", id), -1);
	assert_int_equal(record_file_id("4913", id), -1);
	assert_int_equal(record_file_id("x.json~", id), -1);
	assert_int_equal(record_file_id(".json", id), -1);
	assert_int_equal(record_file_id(".x.json", id), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_input_is_refused_with_a_reason),
	    cmocka_unit_test(test_nesting_limit),
	    cmocka_unit_test(test_size_limit),
	    cmocka_unit_test(test_render_is_canonical),
	    cmocka_unit_test(test_numbers_round_trip),
	    cmocka_unit_test(test_canonical_texts),
	    cmocka_unit_test(test_render_fields),
	    cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
