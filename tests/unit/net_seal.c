/* Unit tests for net/seal: round trip, forgeries, and a journal that applies
 * only changes sealed under its own content key. */
#include <errno.h>
#include <sodium.h>

#include "core/journal.h"
#include "net/seal.h"
#include "tests/unit/core_test.h"

static const uint8_t key1[32] = {1, 2, 3}, key2[32] = {9, 9, 9};
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
	assert_int_equal(seal_seal(s, in, inlen, &sealed, &slen), 0);
	assert_int_equal(slen, inlen + SEAL_OVERHEAD);
	assert_memory_equal(sealed, in, CHANGE_HEADER_BYTES);
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
	assert_int_equal(seal_seal(s, a, alen, &sa, &salen), 0);
	assert_int_equal(seal_seal(s, b, blen, &sb, &sblen), 0);
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
	    cmocka_unit_test(test_journal),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
