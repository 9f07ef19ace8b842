#include <errno.h>

#include "tests/unit/core_test.h"

#include "core/change.h"
#include "core/record.h"

static void
sample(struct change *c)
{
	struct cid over[2] = {{7, 3}, {9, 1}};

	memset(c, 0, sizeof(*c));
	c->origin = 0x0102030405060708ULL;
	c->seq = 42;
	c->hlc = 0x1122334455667788ULL;
	assert_int_equal(change_add(c, OP_SET, "bugs", "b-1", "title", "\"hello\"", over, 2), 0);
	assert_int_equal(change_add(c, OP_DEL, "bugs", "b-1", "old", NULL, over, 1), 0);
	assert_int_equal(change_add(c, OP_SET, "bugs", "b-1", NULL, "true", NULL, 0), 0);
	assert_int_equal(change_add(c, OP_SET, "bugs", "", NULL, "true", NULL, 0), 0);
}

static void
test_round_trip(void **state)
{
	struct change c, *d;
	uint8_t *buf, *buf2;
	size_t len, len2, i;
	uint64_t o, s;

	(void)state;
	sample(&c);
	assert_int_equal(change_encode(&c, &buf, &len), 0);
	assert_int_equal(change_decode(buf, len, &d), 0);
	assert_int_equal(d->origin, c.origin);
	assert_int_equal(d->seq, 42);
	assert_int_equal(d->hlc, c.hlc);
	assert_int_equal(d->nops, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(d->ops[i].kind, c.ops[i].kind);
		assert_string_equal(d->ops[i].coll, c.ops[i].coll);
		assert_string_equal(d->ops[i].rec, c.ops[i].rec);
		assert_int_equal(d->ops[i].nover, c.ops[i].nover);
	}
	assert_string_equal(d->ops[0].field, "title");
	assert_string_equal(d->ops[0].value, "\"hello\"");
	assert_null(d->ops[2].field);
	assert_int_equal(d->ops[0].over[1].origin, 9);
	/* Re-encoding gives the same bytes. */
	assert_int_equal(change_encode(d, &buf2, &len2), 0);
	assert_int_equal(len2, len);
	assert_memory_equal(buf, buf2, len);
	assert_int_equal(change_peek(buf, len, &o, &s), 0);
	assert_int_equal(o, c.origin);
	assert_int_equal(s, 42);
	change_free(d);
	change_clear(&c);
	free(buf);
	free(buf2);
}

static void
test_every_truncation_and_extension_is_refused(void **state)
{
	struct change c, *d;
	uint8_t *buf, *big;
	size_t len, n;

	(void)state;
	sample(&c);
	assert_int_equal(change_encode(&c, &buf, &len), 0);
	for (n = 0; n < len; n++) {
		/* A copy of exactly n bytes, so ASan sees any read past it. */
		uint8_t *cut = malloc(n ? n : 1);

		memcpy(cut, buf, n);
		errno = 0;
		assert_int_equal(change_decode(cut, n, &d), -1);
		assert_int_equal(errno, EINVAL);
		assert_null(d);
		free(cut);
	}
	big = malloc(len + 1);
	memcpy(big, buf, len);
	big[len] = 0;
	assert_int_equal(change_decode(big, len + 1, &d), -1);
	free(big);
	change_clear(&c);
	free(buf);
}

/* Encodes a one-op change built from the given parts. */
static int
decode_one(const char *coll, const char *rec, const char *field, const char *value, uint64_t seq)
{
	struct change c = {1, seq, 1, 0, NULL}, *d;
	uint8_t *buf;
	size_t len;
	int rc;

	assert_int_equal(change_add(&c, value ? OP_SET : OP_DEL, coll, rec, field, value, NULL, 0),
	                 0);
	assert_int_equal(change_encode(&c, &buf, &len), 0);
	rc = change_decode(buf, len, &d);
	change_free(d);
	change_clear(&c);
	free(buf);
	return rc;
}

static void
test_invalid_contents_are_refused(void **state)
{
	char long_name[300];

	(void)state;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_int_equal(decode_one("bugs", "b", "f", "1", 1), 0);
	assert_int_equal(decode_one(".devices", "abc", "priority", "1", 1), 0);
	assert_int_equal(decode_one("bugs", "b", "f", "not json", 1), -1);
	assert_int_equal(decode_one("bugs", "b", "f", "1 2", 1), -1);
	assert_int_equal(decode_one(".hidden", "b", "f", "1", 1), -1);
	assert_int_equal(decode_one("a/b", "b", "f", "1", 1), -1);
	assert_int_equal(decode_one("bugs", long_name, "f", "1", 1), -1);
	assert_int_equal(decode_one("bugs", "", "f", "1", 1), -1);  /* field on a collection */
	assert_int_equal(decode_one("bugs", "b", "f", "1", 0), -1); /* seq 0 */
}

static void
test_random_corruption_never_crashes(void **state)
{
	struct change c, *d;
	uint8_t *buf, *cp;
	size_t len;
	int i, k, ok = 0;

	(void)state;
	srand(1);
	sample(&c);
	assert_int_equal(change_encode(&c, &buf, &len), 0);
	cp = malloc(len);
	for (i = 0; i < 20000; i++) {
		memcpy(cp, buf, len);
		for (k = 0; k < 1 + rand() % 4; k++)
			cp[rand() % len] ^= (uint8_t)(1 + rand() % 255);
		if (change_decode(cp, len, &d) == 0) {
			ok++;
			change_free(d);
		}
	}
	/* Flips inside values or over ids can still decode; most cannot. */
	assert_true(ok < 20000);
	free(cp);
	free(buf);
	change_clear(&c);
}

static void
test_devid(void **state)
{
	char id[DEVID_LEN + 1];
	uint64_t o;

	(void)state;
	change_devid(0, id);
	assert_string_equal(id, "aaaaaaaaaaaaa");
	change_devid(0xffffffffffffffffULL, id);
	assert_string_equal(id, "7777777777776");
	change_devid(0x0123456789abcdefULL, id);
	assert_int_equal(change_devid_parse(id, &o), 0);
	assert_int_equal(o, 0x0123456789abcdefULL);
	assert_int_equal(change_devid_parse("777777777777z", &o), -1); /* stray low bit */
	assert_int_equal(change_devid_parse("short", &o), -1);
	assert_int_equal(change_devid_parse("AAAAAAAAAAAAA", &o), -1);
}

/* A string value of n bytes of JSON text ("xxx...x"), malloc'd. */
static char *
big_value(size_t n)
{
	char *v = malloc(n + 1);

	assert_non_null(v);
	memset(v, 'x', n);
	v[0] = v[n - 1] = '"';
	v[n] = '\0';
	return v;
}

/* The record limit holds per record in one change, whatever the sender. */
static void
test_record_limit(void **state)
{
	struct change c;
	struct change *d;
	uint8_t *buf;
	size_t len, half = RECORD_MAX_BYTES / 2;
	char *v = big_value(half);

	(void)state;
	memset(&c, 0, sizeof(c));
	c.origin = 5;
	c.seq = 1;
	/* Two halves in two records: fine.  Interleaved with another record. */
	assert_int_equal(change_add(&c, OP_SET, "bugs", "a", "f", v, NULL, 0), 0);
	assert_int_equal(change_add(&c, OP_SET, "bugs", "b", "f", v, NULL, 0), 0);
	assert_int_equal(change_fits(&c), 0);
	assert_int_equal(change_encode(&c, &buf, &len), 0);
	assert_int_equal(change_decode(buf, len, &d), 0);
	change_free(d);
	free(buf);
	/* A third half on record a: over the limit, refused by the decoder. */
	assert_int_equal(change_add(&c, OP_SET, "bugs", "a", "g", v, NULL, 0), 0);
	assert_int_equal(change_fits(&c), -1);
	assert_int_equal(errno, EFBIG);
	assert_int_equal(change_encode(&c, &buf, &len), 0);
	assert_int_equal(change_decode(buf, len, &d), -1);
	assert_null(d);
	free(buf);
	/* The same bytes split between collections are fine again. */
	free(c.ops[2].coll);
	c.ops[2].coll = strdup("notes");
	assert_int_equal(change_fits(&c), 0);
	change_clear(&c);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_every_truncation_and_extension_is_refused),
	    cmocka_unit_test(test_invalid_contents_are_refused),
	    cmocka_unit_test(test_random_corruption_never_crashes),
	    cmocka_unit_test(test_devid),
	    cmocka_unit_test(test_record_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
