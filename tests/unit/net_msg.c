/* Unit tests for net/msg: every message round-trips; every truncation,
 * extension and bad header is refused. */
#include <errno.h>

#include "net/msg.h"
#include "tests/unit/core_test.h"

/* Every proper prefix and a one-byte extension of buf must fail dec. */
static void
refuse_damage(const uint8_t *buf, size_t len, int (*dec)(const uint8_t *, size_t))
{
	uint8_t *x = malloc(len + 1);

	assert_non_null(x);
	memcpy(x, buf, len);
	x[len] = 0;
	for (size_t n = 0; n < len; n++)
		assert_int_equal(dec(x, n), -1);
	assert_int_equal(dec(x, len + 1), -1);
	x[0] ^= 1;
	assert_int_equal(dec(x, len), -1);
	free(x);
}

static int
dec_hello(const uint8_t *b, size_t n)
{
	struct msg_hello h;
	int rc = msg_hello_decode(b, n, &h);

	vv_clear(&h.vv);
	return rc;
}

static int
dec_ack(const uint8_t *b, size_t n)
{
	struct vv v;
	int rc = msg_ack_decode(b, n, &v);

	vv_clear(&v);
	return rc;
}

static int
dec_changes(const uint8_t *b, size_t n)
{
	return msg_changes_check(b, n) < 0 ? -1 : 0;
}

static void
test_hello(void **state)
{
	struct msg_hello h = {0}, g;
	uint8_t *buf;
	size_t len;

	(void)state;
	h.protocol = MSG_PROTOCOL;
	memset(h.dbid, 7, 32);
	h.device = 0x1122334455667788ULL;
	strcpy(h.name, "laptop");
	assert_int_equal(vv_set(&h.vv, 5, 10), 0);
	assert_int_equal(vv_set(&h.vv, 2, 3), 0);
	assert_int_equal(msg_hello_encode(&h, &buf, &len), 0);
	assert_int_equal(msg_type(buf, len), MSG_HELLO);
	assert_int_equal(msg_hello_decode(buf, len, &g), 0);
	assert_int_equal(g.protocol, MSG_PROTOCOL);
	assert_memory_equal(g.dbid, h.dbid, 32);
	assert_true(g.device == h.device);
	assert_string_equal(g.name, "laptop");
	assert_int_equal(g.vv.n, 2);
	assert_int_equal(vv_get(&g.vv, 5), 10);
	assert_int_equal(vv_get(&g.vv, 2), 3);
	vv_clear(&g.vv);
	refuse_damage(buf, len, dec_hello);
	/* Unsorted vv entries are refused. */
	{
		size_t off = len - 32;
		uint8_t t[16];

		memcpy(t, buf + off, 16);
		memmove(buf + off, buf + off + 16, 16);
		memcpy(buf + off + 16, t, 16);
		assert_int_equal(msg_hello_decode(buf, len, &g), -1);
		assert_int_equal(errno, EBADMSG);
	}
	free(buf);
	vv_clear(&h.vv);
}

static void
test_hello_carries_the_wall_clock(void **state)
{
	struct msg_hello h = {0}, g;
	uint8_t *buf, *b1;
	size_t len, l1;

	(void)state;
	h.protocol = MSG_PROTOCOL;
	h.device = 9;
	h.wall_ms = 1767225600123ULL;
	strcpy(h.name, "n");
	assert_int_equal(msg_hello_encode(&h, &buf, &len), 0);
	assert_int_equal(msg_hello_decode(buf, len, &g), 0);
	assert_true(g.wall_ms == h.wall_ms);
	/* Protocol 2 without its clock is short. */
	assert_int_equal(msg_hello_decode(buf, len - 8, &g), -1);
	/* A protocol-1 HELLO has none: accepted, the clock unknown (0)... */
	h.protocol = 1;
	assert_int_equal(msg_hello_encode(&h, &b1, &l1), 0);
	assert_int_equal(l1, len - 8);
	assert_int_equal(msg_hello_decode(b1, l1, &g), 0);
	assert_int_equal(g.protocol, 1);
	assert_true(g.wall_ms == 0);
	refuse_damage(buf, len, dec_hello);
	/* ... and one with trailing bytes is refused as before. */
	buf[2] = 0;
	buf[3] = 1;
	assert_int_equal(msg_hello_decode(buf, len, &g), -1);
	assert_int_equal(errno, EBADMSG);
	free(buf);
	free(b1);
}

static void
test_ack_ping(void **state)
{
	struct vv v = {0, NULL}, w;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(msg_ack_encode(&v, &buf, &len), 0);
	assert_int_equal(msg_ack_decode(buf, len, &w), 0);
	assert_int_equal(w.n, 0);
	free(buf);
	vv_set(&v, 1, 99);
	assert_int_equal(msg_ack_encode(&v, &buf, &len), 0);
	assert_int_equal(msg_ack_decode(buf, len, &w), 0);
	assert_int_equal(vv_get(&w, 1), 99);
	vv_clear(&w);
	refuse_damage(buf, len, dec_ack);
	free(buf);
	vv_clear(&v);
	assert_int_equal(msg_empty_encode(MSG_PING, &buf, &len), 0);
	assert_int_equal(msg_type(buf, len), MSG_PING);
	assert_int_equal(len, 2);
	free(buf);
}

static void
test_changes(void **state)
{
	struct msg_buf b;
	const uint8_t *blob;
	size_t off = 0, blen;
	int n = 0;

	(void)state;
	assert_int_equal(msg_changes_init(&b), 0);
	assert_int_equal(msg_changes_check(b.p, b.len), 0);
	assert_int_equal(msg_changes_add(&b, (const uint8_t *)"abc", 3), 0);
	assert_int_equal(msg_changes_add(&b, (const uint8_t *)"", 0), 0);
	assert_int_equal(msg_changes_add(&b, (const uint8_t *)"hello", 5), 0);
	assert_int_equal(msg_changes_check(b.p, b.len), 3);
	while (msg_changes_next(b.p, b.len, &off, &blob, &blen) == 1) {
		if (n == 0)
			assert_memory_equal(blob, "abc", 3);
		if (n == 2)
			assert_memory_equal(blob, "hello", 5);
		n++;
	}
	assert_int_equal(n, 3);
	refuse_damage(b.p, b.len, dec_changes);
	/* A count that disagrees with the blobs is refused. */
	b.p[5] = 4;
	assert_int_equal(msg_changes_check(b.p, b.len), -1);
	free(b.p);
}

static void
test_join_welcome(void **state)
{
	uint8_t *buf, spk[32] = {3}, got[32];
	struct msg_welcome w = {{1}, {{2}, {6}}, 2, 0x0102030405060708ULL, {4}, {5}, {8}}, r;
	char name[MSG_NAME_MAX + 1];
	size_t len;

	(void)state;
	assert_int_equal(msg_join_encode("phone", spk, &buf, &len), 0);
	assert_int_equal(msg_join_decode(buf, len, name, got), 0);
	assert_string_equal(name, "phone");
	assert_memory_equal(got, spk, 32);
	assert_int_equal(msg_join_decode(buf, len - 1, name, got), -1);
	free(buf);
	assert_int_equal(msg_welcome_encode(&w, &buf, &len), 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(msg_welcome_decode(buf, len, &r), 0);
	assert_memory_equal(&r, &w, sizeof(w));
	assert_int_equal(msg_welcome_decode(buf, len - 1, &r), -1);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hello),
	    cmocka_unit_test(test_hello_carries_the_wall_clock),
	    cmocka_unit_test(test_ack_ping),
	    cmocka_unit_test(test_changes),
	    cmocka_unit_test(test_join_welcome),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
