/*
 * journal_trust: who may write what (DESIGN §4; the rules are in journal.h
 * above journal_set_root).  Members live in the named database "members"
 * (origin -> rank | flags | sign_pub | box_pub), the trust root in meta
 * "root" (origin | sign_pub | box_pub); the first signed second version of
 * an (origin, seq) is kept in "evidence" (origin -> seq | blob).
 *
 * Every fact only grows (a member is added once, with its keys and role;
 * removal and equivocation are flags that are never cleared), so replicas
 * that applied the same changes hold the same members whatever the order.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "core/bytes.h"
#include "core/journal_int.h"

#define MEMBER_BYTES (8 + 1 + 32 + 32)
#define ROOT_BYTES (8 + 32 + 32)

static void
member_decode(uint64_t origin, const MDB_val *v, struct journal_member *m)
{
	const uint8_t *p = v->mv_data;

	m->origin = origin;
	m->rank = get64(p);
	m->flags = p[8];
	memcpy(m->sign_pub, p + 9, 32);
	memcpy(m->box_pub, p + 41, 32);
}

/* 0 with *m, MDB_NOTFOUND, or an LMDB error. */
static int
jn_member_get(struct journal *j, MDB_txn *txn, uint64_t origin, struct journal_member *m)
{
	uint8_t id[8];
	MDB_val k = jn_val(id, 8), v;
	int rc;

	be64(id, origin);
	if ((rc = mdb_get(txn, j->members, &k, &v)))
		return rc;
	if (v.mv_size != MEMBER_BYTES)
		return MDB_CORRUPTED;
	member_decode(origin, &v, m);
	return 0;
}

static int
jn_member_put(struct journal *j, MDB_txn *txn, const struct journal_member *m)
{
	uint8_t id[8], b[MEMBER_BYTES];
	MDB_val k = jn_val(id, 8), v = jn_val(b, sizeof(b));

	be64(id, m->origin);
	be64(b, m->rank);
	b[8] = (uint8_t)m->flags;
	memcpy(b + 9, m->sign_pub, 32);
	memcpy(b + 41, m->box_pub, 32);
	return mdb_put(txn, j->members, &k, &v, 0);
}

/* Adds a member with the next rank. */
static int
jn_member_add(struct journal *j, MDB_txn *txn, struct journal_member *m)
{
	uint8_t b[8];
	MDB_val v;
	int rc;

	m->rank = 0;
	if ((rc = jn_meta_get(j, txn, "member_rank", &v)) == 0 && v.mv_size == 8)
		m->rank = get64(v.mv_data);
	else if (rc && rc != MDB_NOTFOUND)
		return rc;
	be64(b, m->rank + 1);
	if ((rc = jn_meta_put(j, txn, "member_rank", b, 8)))
		return rc;
	return jn_member_put(j, txn, m);
}

void
jn_trust_open(struct journal *j, MDB_txn *txn)
{
	MDB_val v;

	j->trust = jn_meta_get(j, txn, "root", &v) == 0 && v.mv_size == ROOT_BYTES;
}

struct root_arg {
	struct journal_member m;
	int exists; /* a root was set already: nothing written */
};

static int
root_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct root_arg *a = arg;
	uint8_t b[ROOT_BYTES];
	MDB_val v;
	int rc;

	if ((rc = jn_meta_get(j, txn, "root", &v)) == 0) {
		a->exists = 1;
		return TXN_NOOP;
	}
	if (rc != MDB_NOTFOUND)
		return rc;
	be64(b, a->m.origin);
	memcpy(b + 8, a->m.sign_pub, 32);
	memcpy(b + 40, a->m.box_pub, 32);
	if ((rc = jn_meta_put(j, txn, "root", b, sizeof(b))))
		return rc;
	return jn_member_add(j, txn, &a->m);
}

int
journal_set_root(struct journal *j, uint64_t origin, const uint8_t sign_pub[32],
                 const uint8_t box_pub[32])
{
	struct root_arg a = {{origin, 0, JOURNAL_ADMIN, {0}, {0}}, 0};

	memcpy(a.m.sign_pub, sign_pub, 32);
	memcpy(a.m.box_pub, box_pub, 32);
	if (jn_write(j, root_fn, &a))
		return -1;
	if (a.exists) {
		errno = EEXIST;
		return -1;
	}
	j->trust = 1;
	return 0;
}

int
journal_root(struct journal *j, struct journal_member *m)
{
	MDB_txn *txn;
	MDB_val v;
	int rc, borrowed;

	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	if ((rc = jn_meta_get(j, txn, "root", &v)) == 0) {
		if (v.mv_size != ROOT_BYTES)
			rc = MDB_CORRUPTED;
		else
			rc = jn_member_get(j, txn, get64(v.mv_data), m);
	}
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}

int
journal_member(struct journal *j, uint64_t origin, struct journal_member *m)
{
	MDB_txn *txn;
	int rc, borrowed;

	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	rc = jn_member_get(j, txn, origin, m);
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}

/* ---- checking a remote blob ---- */

static int
jn_signed_by(const uint8_t *blob, size_t len, const uint8_t pub[32])
{
	return len > CHANGE_HEADER_BYTES + CHANGE_SIG_BYTES &&
	       crypto_sign_verify_detached(blob + len - CHANGE_SIG_BYTES, blob,
	                                   len - CHANGE_SIG_BYTES, pub) == 0;
}

/* A version-2 blob's prev, or NULL. */
static const uint8_t *
jn_prev_of(const uint8_t *blob, size_t len)
{
	const size_t at = CHANGE_HEADER_BYTES + CHANGE_KEYID_BYTES;

	return len > at + CHANGE_PREV_BYTES + CHANGE_SIG_BYTES && blob[0] >= 2 ? blob + at : NULL;
}

int
jn_prev_hash(struct journal *j, MDB_txn *txn, uint64_t origin, uint64_t seq,
             uint8_t prev[CHANGE_PREV_BYTES])
{
	uint8_t id[16];
	MDB_val k = jn_val(id, 16), v;
	int rc;

	memset(prev, 0, CHANGE_PREV_BYTES);
	if (seq <= 1)
		return 0;
	be64(id, origin);
	be64(id + 8, seq - 1);
	if ((rc = mdb_get(txn, j->changes, &k, &v)) == 0)
		crypto_generichash(prev, CHANGE_PREV_BYTES, v.mv_data, v.mv_size, NULL, 0);
	return rc;
}

/* 1 if blob i + 1 is the next of blob i's origin and names blob i's hash. */
static int
jn_chained(const struct jn_batch *b, size_t i)
{
	const uint8_t *prev = jn_prev_of(b->blobs[i + 1], b->lens[i + 1]);
	uint64_t o1, s1, o2, s2;

	return prev != NULL && b->hash != NULL &&
	       change_peek(b->blobs[i], b->lens[i], &o1, &s1) == 0 &&
	       change_peek(b->blobs[i + 1], b->lens[i + 1], &o2, &s2) == 0 && o1 == o2 &&
	       s2 == s1 + 1 && sodium_memcmp(b->hash[i], prev, CHANGE_PREV_BYTES) == 0;
}

/*
 * 1 if blob i is its origin's (signed with pub).  A blob that a later one of
 * the batch chains back to is authenticated by that one's signature (the
 * chain covers every byte of it): a run of one origin's blobs costs one
 * verification, its last.  A run whose last signature fails falls back to
 * checking its blobs one by one.
 */
static int
jn_batch_signed(struct jn_batch *b, size_t i, const uint8_t pub[32])
{
	size_t k, m;

	if (b->auth[i] == 0) {
		for (k = i; b->auth[k] == 0 && k + 1 < b->n && jn_chained(b, k); k++)
			;
		if (b->auth[k] == 0)
			b->auth[k] = jn_signed_by(b->blobs[k], b->lens[k], pub) ? 1 : -1;
		for (m = i; m < k && b->auth[k] > 0; m++)
			b->auth[m] = 1;
		if (b->auth[i] == 0)
			b->auth[i] = jn_signed_by(b->blobs[i], b->lens[i], pub) ? 1 : -1;
	}
	return b->auth[i] > 0;
}

/* Keeps the first other version of one of m's changes, and flags m. */
static int
jn_equivocation(struct journal *j, MDB_txn *txn, struct journal_member *m, uint64_t seq,
                const uint8_t *blob, size_t len, int *rc)
{
	uint8_t id[8], *b;
	MDB_val k = jn_val(id, 8), v = {8 + len, NULL};

	/* One piece of evidence is enough, and bounds what a member can make
	 * us keep: later ones are duplicates. */
	if (m->flags & JOURNAL_EQUIVOCATED)
		return JOURNAL_DUPLICATE;
	be64(id, m->origin);
	if ((*rc = mdb_put(txn, j->evidence, &k, &v, MDB_RESERVE)))
		return JOURNAL_EQUIVOCATION;
	b = v.mv_data;
	be64(b, seq);
	memcpy(b + 8, blob, len);
	m->flags |= JOURNAL_EQUIVOCATED;
	*rc = jn_member_put(j, txn, m);
	return JOURNAL_EQUIVOCATION;
}

int
jn_trust_check(struct journal *j, MDB_txn *txn, struct jn_batch *b, size_t i, uint64_t origin,
               uint64_t seq, uint64_t have, int *rc)
{
	const uint8_t *blob = b->blobs[i], *prev;
	size_t len = b->lens[i];
	struct journal_member m;
	uint8_t id[16], h[CHANGE_PREV_BYTES];
	MDB_val k = jn_val(id, 16), v;

	*rc = 0;
	if (origin == j->self && seq > have)
		return JOURNAL_OWN_ORIGIN;
	if ((*rc = jn_member_get(j, txn, origin, &m)))
		return *rc == MDB_NOTFOUND ? (*rc = 0, JOURNAL_NOT_MEMBER) : JOURNAL_REFUSED;
	if (seq <= have) {
		/* The same bytes: a plain duplicate, nothing to verify. */
		be64(id, origin);
		be64(id + 8, seq);
		if ((*rc = mdb_get(txn, j->changes, &k, &v)) == MDB_NOTFOUND) {
			*rc = 0;
			return JOURNAL_DUPLICATE;
		}
		if (*rc)
			return JOURNAL_REFUSED;
		if (v.mv_size == len && memcmp(v.mv_data, blob, len) == 0)
			return JOURNAL_DUPLICATE;
		if (!jn_batch_signed(b, i, m.sign_pub))
			return JOURNAL_REFUSED;
		return jn_equivocation(j, txn, &m, seq, blob, len, rc);
	}
	if (!jn_batch_signed(b, i, m.sign_pub))
		return JOURNAL_REFUSED;
	/* The next of an origin's chain must build on the blob this device
	 * holds before it: one that does not comes from a history its origin
	 * forked (refused here, so no replica holds a broken chain). */
	if (seq == have + 1 && (prev = jn_prev_of(blob, len)) != NULL) {
		if (b->last && b->hash != NULL && b->last_origin == origin &&
		    b->last_seq == seq - 1)
			memcpy(h, b->hash[b->last - 1], sizeof(h)); /* just applied */
		else if ((*rc = jn_prev_hash(j, txn, origin, seq, h)) != 0) {
			if (*rc == MDB_NOTFOUND)
				*rc = 0; /* nothing held to build on */
			return JOURNAL_REFUSED;
		}
		return sodium_memcmp(h, prev, sizeof(h)) ? JOURNAL_REFUSED : 0;
	}
	return 0;
}

int
jn_trust_allowed(struct journal *j, MDB_txn *txn, const struct change *c, int *rc)
{
	struct journal_member m;
	size_t i;

	*rc = 0;
	for (i = 0; i < c->nops; i++)
		if (strcmp(c->ops[i].coll, ".devices") == 0)
			break;
	if (i == c->nops)
		return 0;
	if ((*rc = jn_member_get(j, txn, c->origin, &m)))
		return *rc == MDB_NOTFOUND ? (*rc = 0, JOURNAL_NOT_MEMBER) : JOURNAL_REFUSED;
	return m.flags & JOURNAL_ADMIN ? 0 : JOURNAL_NO_AUTHORITY;
}

const char *
journal_refusal(int result)
{
	switch (result) {
	case JOURNAL_REFUSED:
		return "forged (bad signature) or corrupt";
	case JOURNAL_NOT_MEMBER:
		return "its origin is not a member";
	case JOURNAL_OWN_ORIGIN:
		return "it claims this device's origin";
	case JOURNAL_NO_AUTHORITY:
		return "it changes membership and its origin is not an admin";
	default:
		return "";
	}
}

/* ---- what .devices writes do to the members ---- */

/* A canonical JSON string of 64 hex digits into 32 bytes; 0 or -1. */
static int
hex_key(const char *value, uint8_t out[32])
{
	size_t n = value ? strlen(value) : 0;

	if (n != 66 || value[0] != '"' || value[65] != '"')
		return -1;
	return sodium_hex2bin(out, 32, value + 1, 64, NULL, NULL, NULL) == 0 ? 0 : -1;
}

/* The facts one change states about device rec. */
struct facts {
	int have_box, have_sign, admin, removed;
	uint8_t box[32], sign[32];
};

static void
facts_of(const struct change *c, const char *rec, struct facts *f)
{
	size_t i;

	memset(f, 0, sizeof(*f));
	for (i = 0; i < c->nops; i++) {
		const struct op *op = &c->ops[i];

		if (op->kind != OP_SET || op->field == NULL || strcmp(op->coll, ".devices") ||
		    strcmp(op->rec, rec))
			continue;
		if (strcmp(op->field, "public_key") == 0)
			f->have_box = hex_key(op->value, f->box) == 0;
		else if (strcmp(op->field, "sign_key") == 0)
			f->have_sign = hex_key(op->value, f->sign) == 0;
		else if (strcmp(op->field, "role") == 0)
			f->admin = strcmp(op->value, "\"admin\"") == 0;
		else if (strcmp(op->field, "removed") == 0)
			f->removed = strcmp(op->value, "true") == 0;
	}
}

/* The member id of an X25519 public key (DESIGN §4: a hash of it). */
uint64_t
journal_key_origin(const uint8_t pub[32])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), pub, 32, NULL, 0);
	return get64(h);
}

static int
jn_trust_device(struct journal *j, MDB_txn *txn, const struct change *c, const char *rec)
{
	struct journal_member m;
	struct facts f;
	uint64_t origin;
	int rc;

	if (change_devid_parse(rec, &origin))
		return 0;
	facts_of(c, rec, &f);
	if ((rc = jn_member_get(j, txn, origin, &m)) == MDB_NOTFOUND) {
		/* A new member: both keys, and the id is the key's. */
		if (!f.have_box || !f.have_sign || journal_key_origin(f.box) != origin)
			return 0;
		memset(&m, 0, sizeof(m));
		m.origin = origin;
		m.flags = (f.admin ? JOURNAL_ADMIN : 0) | (f.removed ? JOURNAL_REMOVED : 0);
		memcpy(m.box_pub, f.box, 32);
		memcpy(m.sign_pub, f.sign, 32);
		return jn_member_add(j, txn, &m);
	}
	if (rc || !f.removed || (m.flags & JOURNAL_REMOVED))
		return rc;
	m.flags |= JOURNAL_REMOVED;
	return jn_member_put(j, txn, &m);
}

/* The meta key naming where content key id (hex) was handed out. */
static void
key_meta(char out[4 + 2 * CHANGE_KEYID_BYTES + 1], const char *hex)
{
	memcpy(out, "key/", 4);
	memcpy(out + 4, hex, 2 * CHANGE_KEYID_BYTES);
	out[4 + 2 * CHANGE_KEYID_BYTES] = '\0';
}

/* A box of content key id (field "key_<id hex>") in c: the key is handed out
 * once c has arrived, and from one origin its last such change counts. */
static int
jn_key_handed(struct journal *j, MDB_txn *txn, const struct change *c, const char *field)
{
	char meta[4 + 2 * CHANGE_KEYID_BYTES + 1];
	uint8_t b[16];
	MDB_val v;
	int rc;

	if (strncmp(field, "key_", 4) || strlen(field) != 4 + 2 * CHANGE_KEYID_BYTES ||
	    strspn(field + 4, "0123456789abcdef") != 2 * CHANGE_KEYID_BYTES)
		return 0;
	key_meta(meta, field + 4);
	if ((rc = jn_meta_get(j, txn, meta, &v)) == 0 && v.mv_size == 16 &&
	    (get64(v.mv_data) != c->origin || get64((uint8_t *)v.mv_data + 8) >= c->seq))
		return 0;
	if (rc && rc != MDB_NOTFOUND)
		return rc;
	be64(b, c->origin);
	be64(b + 8, c->seq);
	return jn_meta_put(j, txn, meta, b, 16);
}

int
jn_trust_update(struct journal *j, MDB_txn *txn, const struct change *c)
{
	size_t i;
	int rc;

	for (i = 0; i < c->nops; i++) {
		const struct op *op = &c->ops[i];

		if (op->field != NULL && strcmp(op->coll, ".devices") == 0 &&
		    (rc = jn_key_handed(j, txn, c, op->field)))
			return rc;
	}
	for (i = 0; i < c->nops; i++) {
		const struct op *op = &c->ops[i];

		/* Once per record: at its first op in the change. */
		if (strcmp(op->coll, ".devices") || op->rec[0] == '\0')
			continue;
		if (i > 0 && strcmp(c->ops[i - 1].coll, ".devices") == 0 &&
		    strcmp(c->ops[i - 1].rec, op->rec) == 0)
			continue;
		if ((rc = jn_trust_device(j, txn, c, op->rec)))
			return rc;
	}
	return 0;
}

/* ---- the order changes are handed out in ---- */

int
jn_trust_ready(struct journal *j, MDB_txn *txn, const uint8_t *blob, size_t len,
               const struct vv *have)
{
	char hex[2 * CHANGE_KEYID_BYTES + 1], meta[4 + sizeof(hex)];
	MDB_val v;

	if (!j->trust || len < CHANGE_HEADER_BYTES + CHANGE_KEYID_BYTES)
		return 1;
	sodium_bin2hex(hex, sizeof(hex), blob + CHANGE_HEADER_BYTES, CHANGE_KEYID_BYTES);
	key_meta(meta, hex);
	if (jn_meta_get(j, txn, meta, &v) || v.mv_size != 16)
		return 1;
	return vv_get(have, get64(v.mv_data)) >= get64((uint8_t *)v.mv_data + 8);
}

static int
rank_cmp(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

int
jn_trust_order(struct journal *j, MDB_txn *txn, uint64_t **origins, size_t *n)
{
	MDB_cursor *cur;
	MDB_val k, v;
	uint64_t *pairs = NULL, *p;
	size_t cap = 0, i;
	int rc, op = MDB_FIRST;

	*origins = NULL;
	*n = 0;
	if ((rc = mdb_cursor_open(txn, j->vv, &cur)))
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		struct journal_member m;
		uint64_t origin;

		op = MDB_NEXT;
		if (k.mv_size != 8)
			continue;
		origin = get64(k.mv_data);
		if (*n == cap) {
			cap = cap ? 2 * cap : 16;
			if ((p = realloc(pairs, cap * 2 * sizeof(*pairs))) == NULL) {
				rc = ENOMEM;
				break;
			}
			pairs = p;
		}
		/* An origin that is not a member (a journal without a root)
		 * goes last, in id order. */
		if ((rc = jn_member_get(j, txn, origin, &m)) && rc != MDB_NOTFOUND)
			break;
		pairs[2 * *n] = rc ? UINT64_MAX : m.rank;
		pairs[2 * *n + 1] = origin;
		(*n)++;
	}
	mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		free(pairs);
		*n = 0;
		return rc;
	}
	if (*n > 1)
		qsort(pairs, *n, 2 * sizeof(*pairs), rank_cmp);
	for (i = 0; i < *n; i++)
		pairs[i] = pairs[2 * i + 1];
	*origins = pairs;
	return 0;
}

/* ---- listing ---- */

/* When device dev was last in a session with this one (meta "seen/<dev>",
 * written by the network), in wall ms; 0 if never. */
static uint64_t
jn_last_seen(struct journal *j, const char *dev)
{
	char key[8 + DEVID_LEN];
	uint64_t ms = 0;
	void *v;
	size_t n;

	snprintf(key, sizeof(key), "seen/%s", dev);
	if (journal_meta_get(j, key, &v, &n) == 0) {
		if (n == 8)
			ms = get64(v);
		free(v);
	}
	return ms;
}

json_t *
journal_members_json(struct journal *j)
{
	struct journal_member *ms = NULL, *p;
	size_t n = 0, i;
	json_t *a = NULL;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, op = MDB_FIRST, borrowed;

	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc), NULL;
	if ((rc = mdb_cursor_open(txn, j->members, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
			op = MDB_NEXT;
			if (k.mv_size != 8 || v.mv_size != MEMBER_BYTES)
				continue;
			if ((p = realloc(ms, (n + 1) * sizeof(*ms))) == NULL) {
				rc = ENOMEM;
				break;
			}
			ms = p;
			member_decode(get64(k.mv_data), &v, &ms[n++]);
		}
		mdb_cursor_close(cur);
	}
	jn_read_end(txn, borrowed);
	if (rc != MDB_NOTFOUND)
		goto out;
	if ((a = json_array()) == NULL) {
		rc = ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		char dev[DEVID_LEN + 1], *buf = NULL;
		json_t *o, *rec = NULL, *name, *prio;
		size_t len;
		size_t at = i;

		/* In rank order (selection sort: members are few). */
		for (size_t k2 = i + 1; k2 < n; k2++)
			if (ms[k2].rank < ms[at].rank)
				at = k2;
		if (at != i) {
			struct journal_member t = ms[i];

			ms[i] = ms[at];
			ms[at] = t;
		}
		change_devid(ms[i].origin, dev);
		if (journal_read_record(j, ".devices", dev, &buf, &len) == 0)
			rec = json_loadb(buf, len, 0, NULL);
		free(buf);
		name = json_object_get(rec, "name");
		prio = json_object_get(rec, "priority");
		o = json_pack("{s:s, s:s, s:I, s:s, s:b, s:b, s:I}", "device", dev, "name",
		              json_is_string(name) ? json_string_value(name) : "", "priority",
		              (json_int_t)(json_is_integer(prio) ? json_integer_value(prio) : 0),
		              "role", ms[i].flags & JOURNAL_ADMIN ? "admin" : "member", "removed",
		              (ms[i].flags & JOURNAL_REMOVED) != 0, "equivocated",
		              (ms[i].flags & JOURNAL_EQUIVOCATED) != 0, "last_seen_ms",
		              (json_int_t)jn_last_seen(j, dev));
		json_decref(rec);
		if (o == NULL || json_array_append_new(a, o)) {
			rc = ENOMEM;
			goto out;
		}
	}
	rc = 0;
out:
	free(ms);
	if (rc) {
		json_decref(a);
		errno = rc == ENOMEM ? ENOMEM : EIO;
		return NULL;
	}
	return a;
}
