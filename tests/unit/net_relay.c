/* Unit tests for the blind relay's pure parts: net/roster (decode, who may
 * supersede, blob checks) and net/rstore (append, duplicates, gaps, quota,
 * a log cut short or altered on disk). */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/bytes.h"
#include "core/journal.h"
#include "net/roster.h"
#include "net/rstore.h"
#include "net/seal.h"
#include "tests/unit/core_test.h"

/* Two devices: 0 an admin, 1 a member. */
static uint8_t box_pk[2][32], box_sk[2][32], sign_pk[2][32], sign_sk[2][64];
static const uint8_t content_key[32] = {4, 5, 6}, netkey[32] = {8}, prev[CHANGE_PREV_BYTES];

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	for (int i = 0; i < 2; i++) {
		crypto_box_keypair(box_pk[i], box_sk[i]);
		crypto_sign_keypair(sign_pk[i], sign_sk[i]);
	}
	return 0;
}

static int
by_dev(const void *a, const void *b)
{
	uint64_t x = get64(a), y = get64(b);

	return x < y ? -1 : x > y;
}

/* A roster of the first n devices issued at t, signed by device signer;
 * flags1 are device 1's.  Malloc'd. */
static uint8_t *
make_roster(size_t n, uint64_t t, int signer, unsigned flags1, size_t *len)
{
	uint8_t *b, *p;

	*len = ROSTER_FIXED_BYTES + n * ROSTER_ENTRY_BYTES;
	assert_non_null(b = calloc(1, *len));
	memcpy(b, ROSTER_MAGIC, 4);
	memset(b + 4, 3, 32);
	be64(b + 36, t);
	be64(b + 44, journal_key_origin(box_pk[signer]));
	be32(b + 52, (uint32_t)n);
	for (size_t i = 0; i < n; i++) {
		p = b + 56 + i * ROSTER_ENTRY_BYTES;
		be64(p, journal_key_origin(box_pk[i]));
		p[8] = (uint8_t)(i == 0 ? JOURNAL_ADMIN : flags1);
		memcpy(p + 9, sign_pk[i], 32);
		memcpy(p + 41, box_pk[i], 32);
	}
	qsort(b + 56, n, ROSTER_ENTRY_BYTES, by_dev);
	crypto_sign_detached(b + *len - 64, NULL, b, *len - 64, sign_sk[signer]);
	return b;
}

/* A sealed, signed change blob of device dev, seq seq. */
static uint8_t *
blob(int dev, uint64_t seq, size_t *len)
{
	struct change c = {journal_key_origin(box_pk[dev]), seq, 1000 + seq, 0, NULL};
	struct seal *s = seal_new(content_key, 1, sign_sk[dev]);
	uint8_t *in, *out;
	size_t inlen;

	assert_non_null(s);
	assert_int_equal(change_add(&c, OP_SET, "secretcoll", "r", "f", "\"v\"", NULL, 0), 0);
	assert_int_equal(change_encode(&c, &in, &inlen), 0);
	assert_int_equal(seal_seal(s, in, inlen, prev, &out, len), 0);
	change_clear(&c);
	free(in);
	seal_free(s);
	return out;
}

static void
test_roster(void **state)
{
	struct roster r, r2;
	uint8_t *b, *b2, *x;
	size_t len, len2, xl;
	uint64_t origin, seq;

	(void)state;
	b = make_roster(2, 10, 0, 0, &len);
	assert_int_equal(roster_decode(b, len, &r), 0);
	assert_int_equal(r.n, 2);
	assert_true(roster_admits(&r, box_pk[1]));
	/* Every flipped bit is refused. */
	for (size_t i = 0; i < len * 8; i += 7) {
		b[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(roster_decode(b, len, &r2), -1);
		assert_int_equal(errno, EBADMSG);
		b[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	assert_int_equal(roster_decode(b, len - 1, &r2), -1);
	/* A member signs no roster. */
	b2 = make_roster(2, 20, 1, 0, &len2);
	assert_int_equal(roster_decode(b2, len2, &r2), -1);
	free(b2);
	/* Newer and by an admin: supersedes; older or equal: not. */
	b2 = make_roster(2, 20, 0, JOURNAL_REMOVED, &len2);
	assert_int_equal(roster_decode(b2, len2, &r2), 0);
	assert_true(roster_supersedes(&r, &r2));
	assert_false(roster_supersedes(&r2, &r));
	assert_false(roster_admits(&r2, box_pk[1]));
	/* Blobs: signed by a member, refused when altered or removed. */
	x = blob(1, 1, &xl);
	assert_int_equal(roster_check_blob(&r, x, xl, 0, &origin, &seq), 0);
	assert_int_equal(seq, 1);
	assert_int_equal(roster_check_blob(&r2, x, xl, 0, &origin, &seq), -1);
	assert_int_equal(errno, EACCES);
	assert_int_equal(roster_check_blob(&r2, x, xl, 1, &origin, &seq), 0);
	x[xl / 2] ^= 1;
	assert_int_equal(roster_check_blob(&r, x, xl, 0, &origin, &seq), -1);
	assert_int_equal(errno, EBADMSG);
	free(x);
	roster_clear(&r);
	roster_clear(&r2);
	free(b);
	free(b2);
}

static void
test_store(void **state)
{
	char *d = test_tmpdir(), dir[300], log[320];
	struct rstore *s;
	struct vv v = {0, NULL};
	uint8_t *ro, *b1, *b2, *b3, *other;
	size_t rl, l1, l2, l3, ol;
	struct stat st;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/db", d);
	snprintf(log, sizeof(log), "%s/changes.log", dir);
	ro = make_roster(2, 10, 0, 0, &rl);
	assert_int_equal(rstore_create(dir, netkey, ro, rl), 0);
	assert_non_null(s = rstore_open(dir, 0));
	b1 = blob(1, 1, &l1);
	b2 = blob(1, 2, &l2);
	b3 = blob(1, 3, &l3);
	assert_int_equal(rstore_add(s, b2, l2), RSTORE_GAP);
	assert_int_equal(rstore_add(s, b1, l1), RSTORE_STORED);
	assert_int_equal(rstore_add(s, b1, l1), RSTORE_DUPLICATE);
	assert_int_equal(rstore_add(s, b2, l2), RSTORE_STORED);
	/* Another blob under a stored (origin, seq): not forwarded. */
	other = blob(1, 2, &ol);
	assert_int_equal(rstore_add(s, other, ol), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(rstore_vv(s, &v), 0);
	assert_int_equal(vv_get(&v, journal_key_origin(box_pk[1])), 2);
	assert_int_equal(rstore_sync(s), 0);
	rstore_close(s);

	/* The quota: the third does not fit. */
	assert_non_null(s = rstore_open(dir, 4 + l1 + 4 + l2 + 10));
	assert_int_equal(rstore_add(s, b3, l3), -1);
	assert_int_equal(errno, EDQUOT);
	rstore_close(s);

	/* A crash mid-append: the tail is cut, the rest stays. */
	assert_non_null(s = rstore_open(dir, 0));
	assert_int_equal(rstore_add(s, b3, l3), RSTORE_STORED);
	rstore_close(s);
	assert_int_equal(stat(log, &st), 0);
	assert_int_equal(truncate(log, st.st_size - 5), 0);
	assert_non_null(s = rstore_open(dir, 0));
	assert_int_equal(rstore_bytes(s), 4 + l1 + 4 + l2);
	rstore_close(s);

	/* A byte altered on disk: cut there. */
	assert_true((fd = open(log, O_RDWR)) >= 0);
	assert_int_equal(pwrite(fd, "\xff", 1, 4 + l1 + 4 + l2 / 2), 1);
	close(fd);
	assert_non_null(s = rstore_open(dir, 0));
	assert_int_equal(rstore_bytes(s), 4 + l1);
	assert_int_equal(rstore_vv(s, &v), 0);
	assert_int_equal(vv_get(&v, journal_key_origin(box_pk[1])), 1);
	rstore_close(s);

	vv_clear(&v);
	free(ro);
	free(b1);
	free(b2);
	free(b3);
	free(other);
	test_rmdir(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roster),
	    cmocka_unit_test(test_store),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
