/*
 * Unit tests for the network secret (net/netkey), its place in the WELCOME
 * (net/msg, net/join), and the hourly mDNS announcement (mdns_advert): no
 * field of one hour's announcement but the protocol version appears in the
 * next, t= is the members' tag, j= the pending invite's (or filler).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/unit/core_test.h"

#include "core/journal.h"
#include "net/join.h"
#include "net/mdns.h"
#include "net/msg.h"
#include "net/netkey.h"

static void
test_file(void **state)
{
	uint8_t key[NETKEY_LEN], got[NETKEY_LEN];
	char *dir = test_tmpdir(), path[256];
	struct stat st;
	int fd;

	(void)state;
	randombytes_buf(key, sizeof(key));
	assert_int_equal(netkey_read(dir, got), -1);
	assert_int_equal(errno, ENOENT); /* an older database */
	assert_int_equal(netkey_write(dir, key), 0);
	assert_int_equal(netkey_read(dir, got), 0);
	assert_memory_equal(got, key, NETKEY_LEN);
	snprintf(path, sizeof(path), "%s/" NETKEY_FILE, dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(netkey_write(dir, key), -1); /* never overwritten */
	assert_int_equal(errno, EEXIST);
	assert_int_equal(truncate(path, 31), 0);
	assert_int_equal(netkey_read(dir, got), -1);
	assert_int_equal(errno, EINVAL);
	assert_true((fd = open(path, O_WRONLY | O_APPEND)) >= 0);
	assert_int_equal(write(fd, "xy", 2), 2); /* 33 bytes: too long */
	close(fd);
	assert_int_equal(netkey_read(dir, got), -1);
	assert_int_equal(errno, EINVAL);
	test_rmdir(dir);
}

/* One key per purpose: none equals another or the secret itself. */
static void
test_derive(void **state)
{
	uint8_t key[NETKEY_LEN] = {1}, other[NETKEY_LEN] = {2}, a[32], b[32], c[32], d[32];

	(void)state;
	netkey_psk(a, key);
	netkey_tag_key(b, key);
	netkey_invite_tag_key(c, key);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(a, c, 32);
	assert_memory_not_equal(b, c, 32);
	assert_memory_not_equal(a, key, 32);
	netkey_psk(d, key);
	assert_memory_equal(a, d, 32); /* every member derives the same */
	netkey_psk(d, other);
	assert_memory_not_equal(a, d, 32);
}

/* The network key is WELCOME's last field (join_welcome fills it in: net_join). */
static void
test_welcome(void **state)
{
	struct msg_welcome w = {{3}, {{4}}, 1, 5, {6}, {7}, {0}}, r;
	uint8_t *m;
	size_t len;

	(void)state;
	randombytes_buf(w.netkey, sizeof(w.netkey));
	assert_int_equal(msg_welcome_encode(&w, &m, &len), 0);
	assert_memory_equal(m + len - 32, w.netkey, 32);
	assert_int_equal(msg_welcome_decode(m, len, &r), 0);
	assert_memory_equal(r.netkey, w.netkey, 32);
	/* Without its last field it is no WELCOME. */
	assert_int_equal(msg_welcome_decode(m, len - 32, &r), -1);
	free(m);
}

static int
matches(const struct mdns_advert *a, const uint8_t key[32], uint64_t hour, int invite)
{
	const char *txt[3] = {a->v, a->t, a->j};
	size_t len[3] = {strlen(a->v), strlen(a->t), strlen(a->j)};

	return invite ? mdns_txt_match_invite(txt, len, 3, key, hour)
	              : mdns_txt_match(txt, len, 3, key, hour);
}

/* Two successive hours share no field (the version aside, which every
 * blazefs device shows); t= and j= match what they should and nothing else. */
static void
test_advert(void **state)
{
	uint8_t key[32], inv[32], salt[32], salt2[32];
	struct mdns_advert a, b, c;
	const uint64_t h = 493000;

	(void)state;
	randombytes_buf(key, sizeof(key));
	randombytes_buf(inv, sizeof(inv));
	randombytes_buf(salt, sizeof(salt));
	randombytes_buf(salt2, sizeof(salt2));
	for (int with_invite = 0; with_invite < 2; with_invite++) {
		mdns_advert(&a, key, with_invite ? inv : NULL, salt, h);
		mdns_advert(&b, key, with_invite ? inv : NULL, salt, h + 1);
		assert_string_not_equal(a.name, b.name);
		assert_string_not_equal(a.t, b.t);
		assert_string_not_equal(a.j, b.j);
		/* Not even a shared piece: no 8-hex window of one is in the other. */
		for (size_t i = 2; i + 8 <= strlen(a.t); i++) {
			char w[9];

			memcpy(w, a.t + i, 8);
			w[8] = '\0';
			assert_null(strstr(b.t, w));
			assert_null(strstr(b.j, w));
			assert_null(strstr(b.name, w));
			memcpy(w, a.j + i, 8);
			assert_null(strstr(b.t, w));
			assert_null(strstr(b.j, w));
		}
		assert_string_equal(a.v, b.v);
		assert_string_equal(a.v, "v=1");
		assert_int_equal(strncmp(a.name, "blazefs-", 8), 0);
		/* Within an hour it is stable: re-announcing changes nothing. */
		mdns_advert(&c, key, with_invite ? inv : NULL, salt, h);
		assert_string_equal(a.name, c.name);
		assert_string_equal(a.j, c.j);
		/* Members find each other by t=... */
		assert_true(matches(&a, key, h, 0));
		assert_false(matches(&a, inv, h, 0));
		/* ...a joiner finds the inviter by j=, only while it invites. */
		assert_int_equal(matches(&a, inv, h, 1), with_invite);
		assert_false(matches(&a, key, h, 1));
		/* Another mount of the same database: the same t=, nothing else. */
		mdns_advert(&c, key, with_invite ? inv : NULL, salt2, h);
		assert_string_equal(a.t, c.t);
		assert_string_not_equal(a.name, c.name);
	}
	/* With or without an invite, j= has the same shape. */
	mdns_advert(&a, key, NULL, salt, h);
	mdns_advert(&b, key, inv, salt, h);
	assert_int_equal(strlen(a.j), strlen(b.j));
	assert_string_not_equal(a.j, b.j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_file),
	    cmocka_unit_test(test_derive),
	    cmocka_unit_test(test_welcome),
	    cmocka_unit_test(test_advert),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
