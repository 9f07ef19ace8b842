/*
 * Unit tests for the inviter's half of net/join: an invite is found while it
 * is valid, burns after one use, expires, and the WELCOME answering a JOIN
 * carries the database id, the content key and the trust root, and records
 * the new device with the priority and role the invite (not the joiner) set.
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
#include "net/netkey.h"
#include "net/seal.h"

static const uint8_t dbid[32] = {5, 6, 7}, ckey[32] = {42, 43, 44}, nkey[32] = {8, 8},
                     secret[32] = {9};

struct db {
	char *dir;
	struct journal *j;
	struct seal *s;
	uint8_t box[32], sign[32];
};

/* A database founded by this device (its root, an admin), as init makes it,
 * with the seal hooks a mount installs. */
static void
db_open(struct db *d)
{
	struct journal_crypto jc;

	assert_true(sodium_init() >= 0);
	d->dir = test_tmpdir();
	assert_int_equal(identity_create(d->dir, d->box, d->sign), 0);
	assert_int_equal(identity_write_secret(d->dir, "content.key", ckey, sizeof(ckey)), 0);
	assert_int_equal(netkey_write(d->dir, nkey), 0);
	assert_int_equal(journal_create(d->dir, journal_key_origin(d->box), dbid), 0);
	assert_non_null(d->j = journal_open(d->dir, JOURNAL_NOSYNC));
	assert_int_equal(identity_found(d->j, d->dir, 0), 0);
	assert_non_null(d->s = seal_load(d->dir));
	seal_hooks(d->s, &jc);
	journal_set_crypto(d->j, &jc);
}

static void
db_close(struct db *d)
{
	journal_close(d->j);
	seal_free(d->s);
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

	assert_int_equal(join_invite(d.j, secret, 3600, 0, 0), 0);
	join_psk(want, secret);
	memset(psk, 0, sizeof(psk));
	assert_int_equal(join_invite_psk(d.j, psk), 1);
	assert_memory_equal(psk, want, 32);
	/* Single use: the first handshake burns it, a second finds nothing. */
	assert_int_equal(join_burn(d.j), 0);
	assert_int_equal(join_burn(d.j), -1);
	assert_int_equal(join_invite_psk(d.j, psk), 0);

	/* A new invite replaces the burnt one; one with no time left is void. */
	assert_int_equal(join_invite(d.j, secret, 3600, 0, 0), 0);
	assert_int_equal(join_invite_psk(d.j, psk), 1);
	assert_int_equal(join_invite(d.j, secret, 0, 0, 0), 0);
	usleep(2000);
	assert_int_equal(join_invite_psk(d.j, psk), 0);
	db_close(&d);
}

static void
test_welcome(void **state)
{
	struct db d;
	struct journal_member m;
	struct msg_welcome w;
	uint8_t pk[32], sk[32], spk[32] = {7}, *msg, *out;
	char dev[DEVID_LEN + 1], *rec;
	size_t len, wlen, rlen;

	(void)state;
	db_open(&d);
	crypto_box_keypair(pk, sk);
	assert_int_equal(join_invite(d.j, secret, 3600, 5, 0), 0);
	assert_int_equal(msg_join_encode("phone", spk, &msg, &len), 0);
	assert_int_equal(join_welcome(d.j, d.dir, pk, msg, len, &out, &wlen), 0);
	assert_int_equal(msg_welcome_decode(out, wlen, &w), 0);
	assert_memory_equal(w.dbid, dbid, 32);
	assert_int_equal(w.nkeys, 1);
	assert_memory_equal(w.keys[0], ckey, 32);
	assert_memory_equal(w.netkey, nkey, 32);
	/* The trust root is this (founding) device. */
	assert_true(w.root == journal_key_origin(d.box));
	assert_memory_equal(w.root_sign, d.sign, 32);
	assert_memory_equal(w.root_box, d.box, 32);
	free(out);
	/* The new device is a member now, with its signing key, as a member
	 * (not an admin) of the priority the invite gave. */
	assert_int_equal(identity_is_member(d.j, pk), 1);
	assert_int_equal(journal_member(d.j, journal_key_origin(pk), &m), 0);
	assert_memory_equal(m.sign_pub, spk, 32);
	assert_int_equal(m.flags, 0);
	change_devid(journal_key_origin(pk), dev);
	assert_int_equal(journal_read_record(d.j, ".devices", dev, &rec, &rlen), 0);
	assert_non_null(strstr(rec, "phone"));
	assert_non_null(strstr(rec, "\"priority\": 5"));
	free(rec);

	/* Anything but a JOIN is refused, and sends nothing. */
	assert_int_equal(join_welcome(d.j, d.dir, pk, msg, len - 1, &out, &wlen), -1);
	assert_null(out);
	free(msg);
	assert_int_equal(msg_empty_encode(MSG_PING, &msg, &len), 0);
	assert_int_equal(join_welcome(d.j, d.dir, pk, msg, len, &out, &wlen), -1);
	free(msg);
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
	assert_int_equal(join_invite(d.j, secret, 3600, 0, 0), 0);
	assert_int_equal(msg_join_encode("phone", pk, &m, &len), 0);
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
