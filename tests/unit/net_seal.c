/* Unit tests for net/seal: round trip, forgeries, and a journal that applies
 * only changes sealed under its own content key. */
#include <errno.h>
#include <sodium.h>

#include "core/journal.h"
#include "net/seal.h"
#include "tests/unit/core_test.h"

static const uint8_t key1[32] = {1, 2, 3}, key2[32] = {9, 9, 9}, prev[CHANGE_PREV_BYTES] = {7};
static uint8_t sign_pk[32], sign_sk[64];

static int
setup(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
	crypto_sign_keypair(sign_pk, sign_sk);
	return 0;
}

/* An encoded change (header in clear) to seal. */
static void
sample(uint8_t **buf, size_t *len, uint64_t origin, uint64_t seq)
{
	struct change c = {origin, seq, 1234, 0, NULL};

	assert_int_equal(change_add(&c, OP_SET, "bugs", "b-1", "title", "\"hello\"", NULL, 0), 0);
	assert_int_equal(change_encode(&c, buf, len), 0);
	change_clear(&c);
}

static void
test_round_trip(void **state)
{
	struct seal *s = seal_new(key1, 1, sign_sk);
	uint8_t *in, *sealed, *opened;
	size_t inlen, slen, olen;

	(void)state;
	assert_non_null(s);
	sample(&in, &inlen, 7, 1);
	assert_int_equal(seal_seal(s, in, inlen, prev, &sealed, &slen), 0);
	assert_int_equal(slen, inlen + SEAL_OVERHEAD);
	assert_memory_equal(sealed, in, CHANGE_HEADER_BYTES);
	/* The origin's previous blob's hash follows the key id, in clear (and
	 * authenticated: flipping it is refused below). */
	assert_memory_equal(sealed + CHANGE_HEADER_BYTES + CHANGE_KEYID_BYTES, prev,
	                    CHANGE_PREV_BYTES);
	assert_int_equal(seal_open(s, sealed, slen, &opened, &olen), 0);
	assert_int_equal(olen, inlen);
	assert_memory_equal(opened, in, inlen);
	free(opened);

	/* It ends with the signature of what comes before it. */
	assert_int_equal(crypto_sign_verify_detached(sealed + slen - CHANGE_SIG_BYTES, sealed,
	                                             slen - CHANGE_SIG_BYTES, sign_pk),
	                 0);
	/* Every flipped bit of the sealed part is refused (the signature is the
	 * journal's to check, against the origin's key: net_trust). */
	for (size_t i = 0; i < (slen - CHANGE_SIG_BYTES) * 8; i++) {
		sealed[i / 8] ^= (uint8_t)(1 << (i % 8));
		assert_int_equal(seal_open(s, sealed, slen, &opened, &olen), -1);
		/* The key id names a key this sealer does not hold. */
		assert_int_equal(errno, i / 8 >= CHANGE_HEADER_BYTES &&
		                                i / 8 < CHANGE_HEADER_BYTES + CHANGE_KEYID_BYTES
		                            ? ENOKEY
		                            : EINVAL);
		assert_null(opened);
		sealed[i / 8] ^= (uint8_t)(1 << (i % 8));
	}
	/* Truncated is refused. */
	for (size_t n = 0; n < slen; n++)
		assert_int_equal(seal_open(s, sealed, n, &opened, &olen), -1);
	free(sealed);
	free(in);
	seal_free(s);
	seal_free(NULL);
}

static void
test_header_swap(void **state)
{
	struct seal *s = seal_new(key1, 1, sign_sk), *other = seal_new(key2, 1, sign_sk);
	uint8_t *a, *b, *sa, *sb, *o;
	size_t alen, blen, salen, sblen, olen;

	(void)state;
	sample(&a, &alen, 7, 1);
	sample(&b, &blen, 7, 2);
	assert_int_equal(seal_seal(s, a, alen, prev, &sa, &salen), 0);
	assert_int_equal(seal_seal(s, b, blen, prev, &sb, &sblen), 0);
	/* Moving change 1's sealed body under change 2's id fails. */
	memcpy(sa, sb, CHANGE_HEADER_BYTES);
	assert_int_equal(seal_open(s, sa, salen, &o, &olen), -1);
	/* The other key cannot open it. */
	assert_int_equal(seal_open(other, sb, sblen, &o, &olen), -1);
	assert_int_equal(seal_open(s, sb, sblen, &o, &olen), 0);
	free(o);
	free(a);
	free(b);
	free(sa);
	free(sb);
	seal_free(s);
	seal_free(other);
}

/* A blob as release 2 sealed it (version 1, no prev), under key1, of
 * sample(7, 1): databases made then keep opening. */
static const uint8_t v1_blob[] = {
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x43, 0x14, 0x40, 0x02, 0x69, 0x33, 0x3b, 0xb9, 0xa6, 0xe1, 0xf9, 0xb2, 0x6c, 0x79, 0x7f,
    0xd9, 0x3b, 0xad, 0xcc, 0x52, 0x1b, 0x32, 0x82, 0x03, 0x5c, 0x42, 0x76, 0x5e, 0xd1, 0x3c, 0x03,
    0xdf, 0x30, 0xea, 0x87, 0xaf, 0xcc, 0x44, 0x9c, 0x0a, 0xd9, 0xac, 0x3b, 0x18, 0x35, 0xd2, 0xe2,
    0x26, 0xf5, 0x49, 0xc9, 0x8c, 0x5b, 0xb4, 0x31, 0xfe, 0xfa, 0x60, 0xbd, 0xcc, 0xec, 0x56, 0xa5,
    0xc3, 0xb5, 0x38, 0x5b, 0xad, 0x8f, 0x8a, 0xa1, 0x19, 0xd4, 0x74, 0xa8, 0x90, 0x02, 0xb2, 0x42,
    0x4f, 0x78, 0xb3, 0xf6, 0x00, 0x23, 0xea, 0x27, 0x26, 0x34, 0x37, 0x44, 0x57, 0x89, 0x8e, 0x00,
    0x67, 0xe5, 0x8e, 0x3a, 0x17, 0x60, 0x5e, 0xe4, 0x18, 0xf5, 0xf7, 0x75, 0x1c, 0x6a, 0x8b, 0xcf,
    0x42, 0x8d, 0x58, 0xca, 0x2a, 0xd1, 0x94, 0xa3, 0x9f, 0x99, 0x12, 0x4c, 0x75, 0xf4, 0x6e, 0xa7,
    0x57, 0x7d, 0xbd, 0x47, 0x61, 0xe3, 0x08, 0x14, 0x72, 0x1b, 0x85, 0xff, 0xd9, 0x3e, 0x13, 0x60,
    0x1d, 0xdb, 0x4d, 0xe5, 0xb5, 0x19, 0xba, 0xee, 0x0d, 0x62, 0xea, 0x86, 0x07, 0xf5, 0xa8, 0xa3,
    0x82, 0x05, 0xdb, 0xf3, 0xd1, 0x06};

static void
test_version1(void **state)
{
	struct seal *s = seal_new(key1, 1, sign_sk);
	uint8_t *in, *opened;
	size_t inlen, olen;

	(void)state;
	sample(&in, &inlen, 7, 1);
	assert_int_equal(v1_blob[0], 1);
	assert_int_equal(seal_open(s, v1_blob, sizeof(v1_blob), &opened, &olen), 0);
	assert_int_equal(olen, inlen);
	/* The same change, but for its version byte. */
	assert_int_equal(opened[0], 1);
	assert_memory_equal(opened + 1, in + 1, inlen - 1);
	free(opened);
	free(in);
	seal_free(s);
}

struct copy {
	struct journal *dst;
	int rc[16];
	int n;
};

static int
copy_apply(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct copy *c = ctx;

	(void)origin;
	(void)seq;
	c->rc[c->n++] = journal_apply_remote(c->dst, blob, len);
	return c->n >= 16;
}

static struct journal *
mkjournal(const char *dir, uint64_t self, const uint8_t key[32], struct seal **s)
{
	uint8_t dbid[32] = {42};
	struct journal_crypto c;
	struct journal *j;

	assert_int_equal(journal_create(dir, self, dbid), 0);
	assert_non_null(j = journal_open(dir, JOURNAL_NOSYNC));
	assert_non_null(*s = seal_new(key, 1, sign_sk));
	seal_hooks(*s, &c);
	journal_set_crypto(j, &c);
	return j;
}

static void
test_journal(void **state)
{
	char *d = test_tmpdir(), a[512], b[512], c[512];
	struct seal *sa, *sb, *sc;
	struct journal *ja, *jb, *jc;
	struct vv none = {0, NULL}, v = {0, NULL};
	struct copy cp;
	const char *why;
	char *buf;
	size_t len;
	uint64_t n1, n2, n3;

	(void)state;
	snprintf(a, sizeof(a), "%s/a", d);
	snprintf(b, sizeof(b), "%s/b", d);
	snprintf(c, sizeof(c), "%s/c", d);
	ja = mkjournal(a, 1, key1, &sa);
	jb = mkjournal(b, 2, key1, &sb);
	jc = mkjournal(c, 3, key2, &sc);
	assert_int_equal(journal_write_record(ja, "bugs", "b-1", "{\"t\":1}", 7, &why), 0);

	/* The stored blob is sealed: the plaintext value is nowhere in it. */
	{
		uint8_t *blob;
		size_t blen;

		assert_int_equal(journal_get_change(ja, 1, 1, &blob, &blen), 0);
		assert_null(memmem(blob, blen, "bugs", 4));
		free(blob);
	}

	memset(&cp, 0, sizeof(cp));
	cp.dst = jb;
	assert_int_equal(journal_missing(ja, &none, 65536, copy_apply, &cp), 1);
	assert_int_equal(cp.rc[0], 0);
	assert_int_equal(journal_read_record(jb, "bugs", "b-1", &buf, &len), 0);
	assert_string_equal(buf, "{\n  \"t\": 1\n}\n");
	free(buf);

	/* A key it does not hold: not yet applied (a key handed out later
	 * would open it), nothing changes. */
	memset(&cp, 0, sizeof(cp));
	cp.dst = jc;
	assert_int_equal(journal_missing(ja, &none, 65536, copy_apply, &cp), 1);
	assert_int_equal(cp.rc[0], JOURNAL_GAP);
	assert_int_equal(journal_vv(jc, &v), 0);
	assert_int_equal(vv_get(&v, 1), 0);
	vv_clear(&v);
	assert_int_equal(journal_counts(jc, &n1, &n2, &n3), 0);
	assert_int_equal(n2, 0);

	journal_close(ja);
	journal_close(jb);
	journal_close(jc);
	seal_free(sa);
	seal_free(sb);
	seal_free(sc);
	test_rmdir(d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_header_swap),
	    cmocka_unit_test(test_version1),
	    cmocka_unit_test(test_journal),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
