/*
 * Unit tests for the inviter's half of net/join: an invite is found while it
 * is valid, burns after one use, expires, and the WELCOME answering a JOIN
 * carries the database id and the content key and records the new device.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <sodium.h>

#include "tests/unit/core_test.h"

#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/join.h"
#include "net/msg.h"

static const uint8_t dbid[32] = {5, 6, 7}, ckey[32] = {42, 43, 44}, secret[32] = {9};

struct db {
	char *dir;
	struct journal *j;
};

static void
db_open(struct db *d)
{
	char path[256];
	int fd;

	d->dir = test_tmpdir();
	assert_int_equal(journal_create(d->dir, 0x1234, dbid), 0);
	assert_non_null(d->j = journal_open(d->dir, JOURNAL_NOSYNC));
	snprintf(path, sizeof(path), "%s/content.key", d->dir);
	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) >= 0);
	assert_int_equal(write(fd, ckey, sizeof(ckey)), (ssize_t)sizeof(ckey));
	close(fd);
}

static void
db_close(struct db *d)
{
	journal_close(d->j);
	test_rmdir(d->dir);
}

static void
test_invite_psk_burn(void **state)
{
	struct db d;
	uint8_t psk[32], want[32];

	(void)state;
	db_open(&d);
	assert_int_equal(join_invite_psk(d.j, psk), 0); /* none yet */
	assert_int_equal(join_burn(d.j), -1);

	assert_int_equal(join_invite(d.j, secret, 3600), 0);
	join_psk(want, secret);
	memset(psk, 0, sizeof(psk));
	assert_int_equal(join_invite_psk(d.j, psk), 1);
	assert_memory_equal(psk, want, 32);
	/* Single use: the first handshake burns it, a second finds nothing. */
	assert_int_equal(join_burn(d.j), 0);
	assert_int_equal(join_burn(d.j), -1);
	assert_int_equal(join_invite_psk(d.j, psk), 0);

	/* A new invite replaces the burnt one; one with no time left is void. */
	assert_int_equal(join_invite(d.j, secret, 3600), 0);
	assert_int_equal(join_invite_psk(d.j, psk), 1);
	assert_int_equal(join_invite(d.j, secret, 0), 0);
	usleep(2000);
	assert_int_equal(join_invite_psk(d.j, psk), 0);
	db_close(&d);
}

static void
test_welcome(void **state)
{
	struct db d;
	uint8_t pk[32], sk[32], *m, *w, got_id[32], got_key[32];
	char dev[DEVID_LEN + 1], *rec;
	size_t len, wlen, rlen;

	(void)state;
	assert_true(sodium_init() >= 0);
	db_open(&d);
	crypto_box_keypair(pk, sk);
	assert_int_equal(msg_join_encode("phone", 3, &m, &len), 0);
	assert_int_equal(join_welcome(d.j, d.dir, pk, m, len, &w, &wlen), 0);
	assert_int_equal(msg_welcome_decode(w, wlen, got_id, got_key), 0);
	assert_memory_equal(got_id, dbid, 32);
	assert_memory_equal(got_key, ckey, 32);
	free(w);
	/* The new device is a member now. */
	assert_int_equal(identity_is_member(d.j, pk), 1);
	change_devid(identity_origin(pk), dev);
	assert_int_equal(journal_read_record(d.j, ".devices", dev, &rec, &rlen), 0);
	assert_non_null(strstr(rec, "phone"));
	free(rec);

	/* Anything but a JOIN is refused, and sends nothing. */
	assert_int_equal(join_welcome(d.j, d.dir, pk, m, len - 1, &w, &wlen), -1);
	assert_null(w);
	free(m);
	assert_int_equal(msg_empty_encode(MSG_PING, &m, &len), 0);
	assert_int_equal(join_welcome(d.j, d.dir, pk, m, len, &w, &wlen), -1);
	free(m);
	db_close(&d);
}

/* No content key: no WELCOME (the joiner would get nothing it can use). */
static void
test_welcome_no_key(void **state)
{
	struct db d;
	char path[256];
	uint8_t pk[32] = {1}, *m, *w;
	size_t len, wlen;

	(void)state;
	db_open(&d);
	snprintf(path, sizeof(path), "%s/content.key", d.dir);
	assert_int_equal(truncate(path, 16), 0);
	assert_int_equal(msg_join_encode("phone", 0, &m, &len), 0);
	errno = 0;
	assert_int_equal(join_welcome(d.j, d.dir, pk, m, len, &w, &wlen), -1);
	assert_int_equal(errno, EINVAL);
	assert_null(w);
	free(m);
	db_close(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invite_psk_burn),
	    cmocka_unit_test(test_welcome),
	    cmocka_unit_test(test_welcome_no_key),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
