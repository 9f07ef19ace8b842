/*
 * Unit tests for trust between devices (DESIGN §4, core/journal_trust.c):
 * real keys, real seals and signatures, journals exchanging blobs as the
 * network does.  A founds the database (the root, an admin) and adds B and
 * M as members; M turns hostile: it forges another device's changes, claims
 * the receiver's own origin, equivocates, changes membership without
 * authority; X is no member at all.  Every attempt is refused (or kept as
 * evidence) and the honest devices still agree.
 */
#include <errno.h>
#include <sodium.h>

#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/seal.h"
#include "tests/unit/core_test.h"

static const uint8_t dbid[32] = {42}, ckey[32] = {1, 2, 3};

struct dev {
	char *dir;
	struct journal *j;
	struct seal *s;
	uint8_t box[32], sign[32];
	uint64_t id;
};

static void
dev_new(struct dev *d, const struct dev *root)
{
	struct journal_crypto jc;

	d->dir = test_tmpdir();
	assert_int_equal(identity_create(d->dir, d->box, d->sign), 0);
	assert_int_equal(identity_write_secret(d->dir, "content.key", ckey, 32), 0);
	d->id = journal_key_origin(d->box);
	assert_int_equal(journal_create(d->dir, d->id, dbid), 0);
	assert_non_null(d->j = journal_open(d->dir, JOURNAL_NOSYNC));
	if (root == NULL)
		assert_int_equal(identity_found(d->j, d->dir, 0), 0);
	else
		assert_int_equal(journal_set_root(d->j, root->id, root->sign, root->box), 0);
	assert_non_null(d->s = seal_load(d->dir));
	seal_hooks(d->s, &jc);
	journal_set_crypto(d->j, &jc);
}

static void
dev_free(struct dev *d)
{
	journal_close(d->j);
	seal_free(d->s);
	test_rmdir(d->dir);
}

/* A adds d as a member (or an admin). */
static void
add(struct dev *a, const struct dev *d, const char *name, int admin)
{
	struct identity_device id = {.name = name, .admin = admin};

	memcpy(id.box_pub, d->box, 32);
	memcpy(id.sign_pub, d->sign, 32);
	assert_int_equal(identity_register(a->j, &id), 0);
}

struct pull {
	struct journal *dst;
	int results[64];
	uint64_t origins[64];
	int n;
};

static int
pull_one(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob, size_t len)
{
	struct pull *p = ctx;

	(void)seq;
	assert_int_equal(journal_apply_batch(p->dst, &blob, &len, 1, &p->results[p->n]), 0);
	p->origins[p->n++] = origin;
	return p->n == 64;
}

/* dst takes what it lacks from src; every blob applies. */
static void
pull(struct dev *dst, struct dev *src, struct pull *p)
{
	struct vv have;

	memset(p, 0, sizeof(*p));
	p->dst = dst->j;
	assert_int_equal(journal_vv(dst->j, &have), 0);
	assert_true(journal_missing(src->j, &have, 1 << 20, pull_one, p) >= 0);
	vv_clear(&have);
	for (int i = 0; i < p->n; i++)
		assert_int_equal(p->results[i], JOURNAL_APPLIED);
}

/* A blob that signer seals and signs, claiming (origin, seq), setting
 * coll/rec's field to value, chained to the blob before it that signer
 * holds (if any). */
static void
forge(struct dev *signer, uint64_t origin, uint64_t seq, const char *coll, const char *rec,
      const char *field, const char *value, uint8_t **blob, size_t *len)
{
	struct change c = {origin, seq, 1700000000000ULL << 16, 0, NULL};
	uint8_t *enc, prev[CHANGE_PREV_BYTES] = {0};
	size_t elen;

	if (seq > 1 && journal_get_change(signer->j, origin, seq - 1, &enc, &elen) == 0) {
		crypto_generichash(prev, sizeof(prev), enc, elen, NULL, 0);
		free(enc);
	}
	assert_int_equal(change_add(&c, OP_SET, coll, rec, field, value, NULL, 0), 0);
	assert_int_equal(change_encode(&c, &enc, &elen), 0);
	assert_int_equal(seal_seal(signer->s, enc, elen, prev, blob, len), 0);
	change_clear(&c);
	free(enc);
}

static int
apply(struct dev *d, const uint8_t *blob, size_t len)
{
	int r;

	assert_int_equal(journal_apply_batch(d->j, &blob, &len, 1, &r), 0);
	return r;
}

static char *
read_rec(struct dev *d, const char *coll, const char *rec)
{
	char *buf;
	size_t len;

	return journal_read_record(d->j, coll, rec, &buf, &len) == 0 ? buf : NULL;
}

static uint64_t
vv_of(struct dev *d, uint64_t origin)
{
	struct vv v;
	uint64_t s;

	assert_int_equal(journal_vv(d->j, &v), 0);
	s = vv_get(&v, origin);
	vv_clear(&v);
	return s;
}

struct world {
	struct dev a, b, m, x;
};

static int
setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	struct pull p;

	assert_true(sodium_init() >= 0);
	dev_new(&w->a, NULL);
	dev_new(&w->b, &w->a);
	dev_new(&w->m, &w->a);
	dev_new(&w->x, &w->a);
	add(&w->a, &w->b, "b", 0);
	add(&w->a, &w->m, "m", 0);
	pull(&w->b, &w->a, &p);
	pull(&w->m, &w->a, &p);
	*state = w;
	return 0;
}

static int
teardown(void **state)
{
	struct world *w = *state;

	dev_free(&w->a);
	dev_free(&w->b);
	dev_free(&w->m);
	dev_free(&w->x);
	free(w);
	return 0;
}

static void
test_members_sync(void **state)
{
	struct world *w = *state;
	const char *why;
	struct pull p;
	char *r;

	assert_int_equal(journal_write_record(w->a.j, "c", "r", "{\"v\":1}", 7, &why), 0);
	assert_int_equal(journal_write_record(w->m.j, "c", "m", "{\"v\":2}", 7, &why), 0);
	pull(&w->b, &w->a, &p);
	assert_int_equal(p.n, 1);
	pull(&w->b, &w->m, &p);
	assert_int_equal(p.n, 1);
	assert_non_null(r = read_rec(&w->b, "c", "m"));
	free(r);
}

/* M claims A's next change: refused, and A's own change of that id still
 * arrives (the split the forgery made before: one id, two changes). */
static void
test_forgery(void **state)
{
	struct world *w = *state;
	uint64_t next = vv_of(&w->a, w->a.id) + 1;
	const char *why;
	uint8_t *blob, *bad;
	size_t len;
	struct pull p;
	char *r;

	forge(&w->m, w->a.id, next, "c", "f", "v", "\"forged\"", &blob, &len);
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_REFUSED);
	assert_int_equal(vv_of(&w->b, w->a.id), next - 1);
	/* A change of M's own, with one bit of its signature flipped. */
	forge(&w->m, w->m.id, vv_of(&w->m, w->m.id) + 1, "c", "f", "v", "\"x\"", &bad, &len);
	bad[len - 1] ^= 1;
	assert_int_equal(apply(&w->b, bad, len), JOURNAL_REFUSED);
	free(bad);
	assert_int_equal(journal_write_record(w->a.j, "c", "f", "{\"v\":\"real\"}", 12, &why), 0);
	pull(&w->b, &w->a, &p);
	assert_non_null(r = read_rec(&w->b, "c", "f"));
	assert_non_null(strstr(r, "real"));
	free(r);
	/* The forged blob is no equivocation of A: it is not A's signature. */
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_REFUSED);
	free(blob);
}

/* B takes M's blobs first..first+n-1 (as M holds them, or as given) in one
 * batch. */
static void
batch(struct dev *b, uint8_t **blobs, size_t *lens, size_t n, int *results)
{
	assert_int_equal(journal_apply_batch(b->j, (const uint8_t *const *)blobs, lens, n, results),
	                 0);
}

static void
m_blobs(struct world *w, uint64_t first, size_t n, uint8_t **blobs, size_t *lens)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    journal_get_change(w->m.j, w->m.id, first + i, &blobs[i], &lens[i]), 0);
}

/* An origin's blobs chain by hash, so a batch's run is checked by its last
 * signature: a tampered blob anywhere in it is still refused, and a run whose
 * last signature fails is checked blob by blob. */
static void
test_chain(void **state)
{
	struct world *w = *state;
	uint64_t first = vv_of(&w->m, w->m.id) + 1;
	uint8_t *blobs[3];
	size_t lens[3];
	const char *why;
	int r[3];
	char *rec;

	for (int i = 0; i < 3; i++) {
		char name[8];

		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(journal_write_record(w->m.j, "c", name, "{\"v\":1}", 7, &why), 0);
	}
	/* The middle one's signature flipped: the chain breaks there (it covers
	 * every byte), so it is checked alone. */
	m_blobs(w, first, 3, blobs, lens);
	blobs[1][lens[1] - 1] ^= 1;
	batch(&w->b, blobs, lens, 3, r);
	assert_int_equal(r[0], JOURNAL_APPLIED);
	assert_int_equal(r[1], JOURNAL_REFUSED);
	assert_int_equal(r[2], JOURNAL_GAP);
	assert_null(read_rec(&w->b, "c", "k1"));
	/* The last one's signature flipped: the others still apply. */
	blobs[1][lens[1] - 1] ^= 1;
	blobs[2][lens[2] - 1] ^= 1;
	batch(&w->b, blobs, lens, 3, r);
	assert_int_equal(r[0], JOURNAL_DUPLICATE);
	assert_int_equal(r[1], JOURNAL_APPLIED);
	assert_int_equal(r[2], JOURNAL_REFUSED);
	blobs[2][lens[2] - 1] ^= 1;
	batch(&w->b, blobs + 2, lens + 2, 1, r);
	assert_int_equal(r[0], JOURNAL_APPLIED);
	assert_non_null(rec = read_rec(&w->b, "c", "k2"));
	free(rec);
	for (int i = 0; i < 3; i++)
		free(blobs[i]);
	/* Three more, untouched, in one batch: each builds on the one before. */
	for (int i = 3; i < 6; i++) {
		char name[8];

		snprintf(name, sizeof(name), "k%d", i);
		assert_int_equal(journal_write_record(w->m.j, "c", name, "{\"v\":1}", 7, &why), 0);
	}
	m_blobs(w, first + 3, 3, blobs, lens);
	batch(&w->b, blobs, lens, 3, r);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(r[i], JOURNAL_APPLIED);
		free(blobs[i]);
	}
	assert_int_equal(vv_of(&w->b, w->m.id), first + 5);
}

/* M signs its next change on a history B does not hold (another
 * predecessor): refused, though the signature is M's. */
static void
test_fork(void **state)
{
	struct world *w = *state;
	const char *why;
	struct pull p;
	uint64_t seq;
	struct change c = {w->m.id, 0, 1700000000000ULL << 16, 0, NULL};
	uint8_t *enc, *blob, prev[CHANGE_PREV_BYTES] = {1};
	size_t elen, len;

	assert_int_equal(journal_write_record(w->m.j, "c", "m", "{\"v\":1}", 7, &why), 0);
	pull(&w->b, &w->m, &p);
	c.seq = seq = vv_of(&w->m, w->m.id) + 1;
	assert_int_equal(vv_of(&w->b, w->m.id), seq - 1);
	assert_int_equal(change_add(&c, OP_SET, "c", "fork", "v", "1", NULL, 0), 0);
	assert_int_equal(change_encode(&c, &enc, &elen), 0);
	assert_int_equal(seal_seal(w->m.s, enc, elen, prev, &blob, &len), 0);
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_REFUSED);
	assert_int_equal(vv_of(&w->b, w->m.id), seq - 1);
	free(blob);
	/* The same change on the history B holds applies. */
	forge(&w->m, w->m.id, seq, "c", "fork", "v", "1", &blob, &len);
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_APPLIED);
	change_clear(&c);
	free(enc);
	free(blob);
}

static void
test_own_origin(void **state)
{
	struct world *w = *state;
	uint8_t *blob;
	size_t len;

	forge(&w->m, w->b.id, vv_of(&w->b, w->b.id) + 1, "c", "o", "v", "1", &blob, &len);
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_OWN_ORIGIN);
	free(blob);
}

static void
test_not_member(void **state)
{
	struct world *w = *state;
	uint8_t *blob;
	size_t len;

	/* X signs its own change: X is no member. */
	forge(&w->x, w->x.id, 1, "c", "x", "v", "1", &blob, &len);
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_NOT_MEMBER);
	free(blob);
	/* A made-up origin (the version vector bloat attack). */
	for (uint64_t o = 1; o <= 100; o++) {
		forge(&w->m, o * 7919, 1, "c", "x", "v", "1", &blob, &len);
		assert_int_equal(apply(&w->b, blob, len), JOURNAL_NOT_MEMBER);
		free(blob);
	}
	assert_int_equal(vv_of(&w->b, 7919), 0);
}

static void
test_equivocation(void **state)
{
	struct world *w = *state;
	uint64_t seq = vv_of(&w->m, w->m.id) + 1;
	struct journal_member m;
	uint8_t *one, *two;
	size_t l1, l2;
	json_t *a;
	char *r;

	forge(&w->m, w->m.id, seq, "c", "e", "v", "\"one\"", &one, &l1);
	forge(&w->m, w->m.id, seq, "c", "e", "v", "\"two\"", &two, &l2);
	assert_int_equal(apply(&w->b, one, l1), JOURNAL_APPLIED);
	assert_int_equal(apply(&w->b, one, l1), JOURNAL_DUPLICATE);
	assert_int_equal(journal_member(w->b.j, w->m.id, &m), 0);
	assert_int_equal(m.flags & JOURNAL_EQUIVOCATED, 0);
	assert_int_equal(apply(&w->b, two, l2), JOURNAL_EQUIVOCATION);
	assert_int_equal(journal_member(w->b.j, w->m.id, &m), 0);
	assert_true(m.flags & JOURNAL_EQUIVOCATED);
	/* Once flagged, later copies are duplicates; the first version stays. */
	assert_int_equal(apply(&w->b, two, l2), JOURNAL_DUPLICATE);
	assert_non_null(r = read_rec(&w->b, "c", "e"));
	assert_non_null(strstr(r, "one"));
	free(r);
	assert_non_null(a = journal_members_json(w->b.j));
	for (size_t i = 0; i < json_array_size(a); i++) {
		json_t *o = json_array_get(a, i);

		assert_int_equal(json_is_true(json_object_get(o, "equivocated")),
		                 strcmp(json_string_value(json_object_get(o, "name")), "m") == 0);
	}
	json_decref(a);
	free(one);
	free(two);
}

static void
test_authority(void **state)
{
	struct world *w = *state;
	char dev[DEVID_LEN + 1];
	const char *why;
	uint8_t *blob;
	size_t len;

	/* M (a member) raises its own priority: refused by B. */
	change_devid(w->m.id, dev);
	forge(&w->m, w->m.id, vv_of(&w->b, w->m.id) + 1, ".devices", dev, "priority", "99", &blob,
	      &len);
	assert_int_equal(apply(&w->b, blob, len), JOURNAL_NO_AUTHORITY);
	free(blob);
	/* ... and M's own journal does not make such a change. */
	assert_int_equal(journal_write_device(w->m.j, dev, "{\"priority\":99}", &why), -1);
	assert_int_equal(errno, EPERM);
}

/* Handed out in the order members were learnt: whoever added a device comes
 * before it, so a fresh device applies everything in one pass. */
static void
test_rank_order(void **state)
{
	struct world *w = *state;
	struct dev c;
	struct pull p;
	const char *why;
	int i;

	assert_int_equal(journal_write_record(w->b.j, "c", "b", "{\"v\":3}", 7, &why), 0);
	pull(&w->a, &w->b, &p);
	pull(&w->a, &w->m, &p);
	dev_new(&c, &w->a);
	pull(&c, &w->a, &p);
	assert_true(p.n >= 4);
	assert_true(p.origins[0] == w->a.id);
	for (i = 1; i < p.n && p.origins[i] == w->a.id; i++)
		;
	for (; i < p.n; i++)
		assert_true(p.origins[i] == w->b.id || p.origins[i] == w->m.id);
	assert_true(vv_of(&c, w->b.id) > 0);
	dev_free(&c);
}

static int apply_all(struct dev *d, struct dev *src);

static void
test_removal(void **state)
{
	struct world *w = *state;
	struct journal_member m;
	char dev[DEVID_LEN + 1];
	const char *why;
	struct pull p;

	assert_int_equal(identity_is_member(w->b.j, w->m.box), 1);
	change_devid(w->m.id, dev);
	/* What `blazefs devices A remove M` does: the flag, then a new key. */
	assert_int_equal(journal_write_device(w->a.j, dev, "{\"removed\":true}", &why), 0);
	assert_int_equal(seal_rotate(w->a.s, w->a.j, w->a.dir), 0);
	assert_int_equal(seal_refresh(w->a.s, w->a.j, w->a.dir), 0);
	pull(&w->b, &w->a, &p);
	assert_int_equal(identity_is_member(w->b.j, w->m.box), 0);
	assert_int_equal(identity_is_member(w->a.j, w->m.box), 0);
	assert_int_equal(journal_member(w->b.j, w->m.id, &m), 0);
	assert_true(m.flags & JOURNAL_REMOVED);
	assert_int_equal(identity_is_member(w->b.j, w->a.box), 1);
	/* B takes in the key boxed to it; M finds none for itself. */
	assert_int_equal(seal_refresh(w->b.s, w->b.j, w->b.dir), 1);
	assert_int_equal(apply_all(&w->m, &w->a), 0);
	assert_int_equal(seal_refresh(w->m.s, w->m.j, w->m.dir), 0);

	/* Written after the removal: B reads it, M cannot open it. */
	assert_int_equal(journal_write_record(w->a.j, "c", "after", "{\"v\":9}", 7, &why), 0);
	{
		uint64_t seq = vv_of(&w->a, w->a.id);
		uint8_t *blob, *plain;
		size_t len, plen;

		assert_int_equal(journal_get_change(w->a.j, w->a.id, seq, &blob, &len), 0);
		assert_int_equal(seal_open(w->m.s, blob, len, &plain, &plen), -1);
		assert_int_equal(errno, ENOKEY);
		assert_int_equal(apply(&w->m, blob, len), JOURNAL_GAP);
		assert_int_equal(seal_open(w->b.s, blob, len, &plain, &plen), 0);
		free(plain);
		free(blob);
	}
	pull(&w->b, &w->a, &p);
	assert_int_equal(p.n, 1);
	/* Old changes stay readable with the old key, kept in the keyring. */
	{
		uint8_t keys[SEAL_KEYS_MAX][SEAL_KEY_LEN], *blob, *plain;
		size_t len, plen;

		assert_int_equal(seal_read_keys(w->b.dir, keys), 2);
		assert_memory_equal(keys[0], ckey, 32);
		assert_int_equal(journal_get_change(w->a.j, w->a.id, 1, &blob, &len), 0);
		assert_int_equal(seal_open(w->b.s, blob, len, &plain, &plen), 0);
		free(plain);
		free(blob);
	}
}

/* Applies everything src has that d lacks; how many were refused. */
static int
apply_all(struct dev *d, struct dev *src)
{
	struct pull p;
	struct vv have;
	int bad = 0;

	memset(&p, 0, sizeof(p));
	p.dst = d->j;
	assert_int_equal(journal_vv(d->j, &have), 0);
	assert_true(journal_missing(src->j, &have, 1 << 20, pull_one, &p) >= 0);
	vv_clear(&have);
	for (int i = 0; i < p.n; i++)
		bad += p.results[i] < 0;
	return bad;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_members_sync, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_forgery, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_own_origin, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_chain, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_fork, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_not_member, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_equivocation, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_authority, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rank_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_removal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
