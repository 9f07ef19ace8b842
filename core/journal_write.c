#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lmdb.h>

#include "core/bytes.h"
#include "core/journal_int.h"
#include "core/record.h"

/* ---- building a local change ---- */

/* Starts a local change: the next seq of this device and a fresh clock. */
static void
jn_local_begin(struct journal *j, MDB_txn *txn, struct change *c)
{
	memset(c, 0, sizeof(*c));
	c->origin = j->self;
	c->seq = jn_vv_get(j, txn, j->self) + 1;
	c->hlc = jn_clock_stamp(j);
}

/* The ids of every entry of r, for an op that replaces them all. */
static struct cid *
reg_ids(const struct crdt_reg *r)
{
	struct cid *ids;
	size_t i;

	if (r->n == 0 || (ids = malloc(r->n * sizeof(*ids))) == NULL)
		return NULL;
	for (i = 0; i < r->n; i++) {
		ids[i].origin = r->e[i].origin;
		ids[i].seq = r->e[i].seq;
	}
	return ids;
}

/* Adds op to c replacing every entry of r (value NULL: DEL). */
static int
jn_add_over(struct change *c, const char *coll, const char *rec, const char *field,
            const char *value, const struct crdt_reg *r)
{
	struct cid *ids = reg_ids(r);
	int rc;

	if (r->n > 0 && ids == NULL)
		return ENOMEM;
	rc = change_add(c, value ? OP_SET : OP_DEL, coll, rec, field, value, ids, r->n);
	free(ids);
	return rc ? ENOMEM : 0;
}

struct diff_ctx {
	struct journal *j;
	MDB_txn *txn;
	struct change *c;
	const char *coll, *rec;
	const json_t *obj;  /* NULL: delete the record */
	const json_t *base; /* what the writer started from, or NULL */
	int marker;         /* the record's marker has entries */
	int err;
};

/* Adds op to c replacing the entries of r whose value is seen (all of them
 * when seen is NULL); a DEL that replaces nothing is left out. */
static int
jn_add_seen(struct change *c, const char *coll, const char *rec, const char *field,
            const char *value, const struct crdt_reg *r, const char *seen)
{
	struct crdt_reg sub = {NULL, 0, NULL};
	size_t i;
	int rc;

	if (seen == NULL)
		return jn_add_over(c, coll, rec, field, value, r);
	if ((sub.e = malloc((r->n ? r->n : 1) * sizeof(*sub.e))) == NULL)
		return ENOMEM;
	for (i = 0; i < r->n; i++)
		if (strcmp(r->e[i].value, seen) == 0)
			sub.e[sub.n++] = r->e[i];
	rc = value == NULL && sub.n == 0 ? 0 : jn_add_over(c, coll, rec, field, value, &sub);
	free(sub.e);
	return rc;
}

/*
 * A field against what the writer started from: untouched fields make no
 * op, so a change that arrived meanwhile is kept; a touched one replaces the
 * entries the writer saw: all of them if what it saw is still what shows,
 * else only those (the newer value stays, as a conflict).
 */
static int
diff_field_from_base(struct diff_ctx *d, struct crdt_reg *r, const json_t *nv)
{
	const json_t *bv = json_object_get(d->base, r->field);
	char *bt = NULL, *nt = NULL;
	size_t w;

	if ((bv != NULL && (bt = record_value_text(bv)) == NULL) ||
	    (nv != NULL && (nt = record_value_text(nv)) == NULL)) {
		d->err = ENOMEM;
		goto out;
	}
	if ((bt == NULL && nt == NULL) || (bt != NULL && nt != NULL && strcmp(bt, nt) == 0))
		goto out;
	w = jn_winner(d->j, d->txn, r);
	/* It already shows what the writer wants (an edit applied again). */
	if (nt != NULL && strcmp(r->e[w].value, nt) == 0)
		goto out;
	d->err = jn_add_seen(d->c, d->coll, d->rec, r->field, nt, r,
	                     bt != NULL && strcmp(r->e[w].value, bt) == 0 ? NULL
	                     : bt != NULL                                 ? bt
	                                                                  : "");
out:
	free(bt);
	free(nt);
	return d->err;
}

static int
diff_reg(void *ctx, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	struct diff_ctx *d = ctx;
	const json_t *nv;
	char *text;
	size_t w;

	(void)k;
	(void)kl;
	if (r->field == NULL) {
		d->marker = 1;
		if (d->obj == NULL)
			d->err = jn_add_over(d->c, d->coll, d->rec, NULL, NULL, r);
		return d->err;
	}
	nv = d->obj ? json_object_get(d->obj, r->field) : NULL;
	if (d->base != NULL && d->obj != NULL)
		return diff_field_from_base(d, r, nv);
	if (nv == NULL) {
		d->err = jn_add_over(d->c, d->coll, d->rec, r->field, NULL, r);
		return d->err;
	}
	/* Writing back the visible value is no change (conflicts stay listed). */
	if ((text = record_value_text(nv)) == NULL)
		return d->err = ENOMEM;
	w = jn_winner(d->j, d->txn, r);
	if (strcmp(text, r->e[w].value) != 0)
		d->err = jn_add_over(d->c, d->coll, d->rec, r->field, text, r);
	free(text);
	return d->err;
}

/*
 * Appends to c the ops that turn (coll, rec) into obj (NULL: delete it).
 * With base (what the writer read), only the fields the writer changed.
 */
static int
jn_diff(struct journal *j, MDB_txn *txn, struct change *c, const char *coll, const char *rec,
        const json_t *obj, const json_t *base)
{
	struct diff_ctx d = {j, txn, c, coll, rec, obj, base, 0, 0};
	struct crdt_reg none = {0};
	const json_t *bv;
	const char *key;
	json_t *v;
	uint8_t k[CRDT_KEY_MAX];
	MDB_val kv, x;
	char *text;
	size_t first = c->nops;
	int rc;

	if ((rc = jn_each_reg(j, txn, coll, rec, diff_reg, &d)) || (rc = d.err))
		return rc;
	if (obj == NULL)
		return 0;
	json_object_foreach ((json_t *)obj, key, v) {
		kv = jn_val(k, crdt_reg_key(k, coll, rec, key));
		if ((rc = mdb_get(txn, j->fields, &kv, &x)) == 0)
			continue; /* handled above */
		if (rc != MDB_NOTFOUND)
			return rc;
		/* Deleted meanwhile and not touched by the writer: stays deleted. */
		if (base != NULL && (bv = json_object_get(base, key)) != NULL && json_equal(bv, v))
			continue;
		if ((text = record_value_text(v)) == NULL)
			return ENOMEM;
		rc = jn_add_over(c, coll, rec, key, text, &none);
		free(text);
		if (rc)
			return rc;
	}
	/* An edit of a record deleted meanwhile brings back what it changed. */
	if (!d.marker && (base == NULL || c->nops > first) &&
	    (rc = jn_add_over(c, coll, rec, NULL, "true", &none)))
		return rc;
	/* The first record of a collection creates it. */
	kv = jn_val(coll, strlen(coll));
	if ((rc = mdb_get(txn, j->cols, &kv, &x)) == MDB_NOTFOUND)
		return jn_add_over(c, coll, "", NULL, "true", &none);
	return rc;
}

/* Seals and commits local change c (nothing if it has no ops). */
static int
jn_local_commit(struct journal *j, MDB_txn *txn, struct change *c, const char *raw_coll,
                const char *raw_rec, const char *raw, size_t rawlen)
{
	struct touched t = {0};
	uint8_t *enc = NULL, *blob = NULL, h[8], prev[CHANGE_PREV_BYTES];
	size_t elen, blen;
	int rc;

	if (change_encode(c, &enc, &elen))
		return errno;
	/* With a trust root, a change that is not signed would be refused
	 * everywhere: never make one. */
	if (j->trust && j->crypto.seal == NULL) {
		free(enc);
		return EPERM;
	}
	if (j->crypto.seal != NULL) {
		if ((rc = jn_prev_hash(j, txn, c->origin, c->seq, prev))) {
			free(enc);
			return rc;
		}
		if (j->crypto.seal(j->crypto.ctx, enc, elen, prev, &blob, &blen)) {
			free(enc);
			return EIO;
		}
	} else {
		blob = enc;
		blen = elen;
		enc = NULL;
	}
	be64(h, c->hlc);
	j->local_commit = 1;
	if ((rc = jn_commit_change(j, txn, c, blob, blen, &t, raw_coll, raw_rec, raw, rawlen)) == 0)
		rc = jn_meta_put(j, txn, "hlc", h, 8);
	jn_touched_clear(&t);
	free(enc);
	free(blob);
	return rc;
}

int
jn_names_valid(const char *coll, const char *rec)
{
	if (record_name_valid(coll, strlen(coll)))
		return -1;
	if (rec != NULL && record_name_valid(rec, strlen(rec)))
		return -1;
	return 0;
}

/* ---- records ---- */

struct write_arg {
	const char *coll, *rec, *c2, *r2;
	const json_t *obj, *base;
	const char *buf;
	size_t len;
	struct journal_stat *st; /* filled after a write, if not NULL */
};

static int
write_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	struct change c;
	int rc;

	jn_local_begin(j, txn, &c);
	if ((rc = jn_reject_del(j, txn, a->coll, a->rec)) ||
	    (rc = jn_diff(j, txn, &c, a->coll, a->rec, a->obj, a->base)))
		goto out;
	if (c.nops > 0)
		rc = jn_local_commit(j, txn, &c, a->coll, a->rec, a->buf, a->len);
	else /* no change; still remember how the user formatted it */
		rc = jn_record_update(j, txn, a->coll, a->rec, 0, a->buf, a->len);
	if (rc == 0 && a->st != NULL)
		rc = jn_stat(j, txn, a->coll, a->rec, a->st);
out:
	change_clear(&c);
	return rc;
}

/*
 * Logged as WAL_WRITE, WAL_EDIT (with a base) or, for a device,
 * WAL_DEVICE.  A base that does not parse counts as none.
 */
static int
jn_write_record(struct journal *j, const char *coll, const char *rec, const char *base,
                size_t baselen, const char *buf, size_t len, const char **why,
                struct journal_stat *st)
{
	struct write_arg a = {coll, rec, NULL, NULL, NULL, NULL, buf, len, st};
	struct wal_arg w[4] = {
	    {coll, strlen(coll)}, {rec, strlen(rec)}, {base, baselen}, {buf, len}};
	const char *ignored;
	json_t *obj, *b = NULL;
	int rc;

	if ((obj = record_parse(buf, len, why)) == NULL)
		return -1;
	if (base != NULL)
		b = record_parse(base, baselen, &ignored);
	a.obj = obj;
	a.base = b;
	if (coll[0] == '.')
		rc = jn_local(j, write_fn, &a, WAL_DEVICE, (struct wal_arg[]){w[1], w[3]}, 2);
	else if (b != NULL)
		rc = jn_local(j, write_fn, &a, WAL_EDIT, w, 4);
	else
		rc = jn_local(j, write_fn, &a, WAL_WRITE, (struct wal_arg[]){w[0], w[1], w[3]}, 3);
	json_decref(obj);
	json_decref(b);
	return rc;
}

int
journal_write_record(struct journal *j, const char *coll, const char *rec, const char *buf,
                     size_t len, const char **why)
{
	return journal_edit_record(j, coll, rec, NULL, 0, buf, len, why);
}

int
journal_edit_record(struct journal *j, const char *coll, const char *rec, const char *base,
                    size_t baselen, const char *buf, size_t len, const char **why)
{
	*why = NULL;
	if (jn_names_valid(coll, rec)) {
		*why = "invalid name";
		return -1;
	}
	return jn_write_record(j, coll, rec, base, baselen, buf, len, why, NULL);
}

int
journal_save_record(struct journal *j, const char *coll, const char *rec, const char *base,
                    size_t baselen, const char *buf, size_t len, const char **why,
                    struct journal_stat *st)
{
	int e;

	*why = NULL;
	memset(st, 0, sizeof(*st));
	if (jn_names_valid(coll, rec)) {
		*why = "invalid name";
		return -1;
	}
	/* On success the write itself dropped any rejected bytes (write_fn). */
	if (jn_write_record(j, coll, rec, base, baselen, buf, len, why, st) == 0)
		return 0;
	if ((e = errno) != EINVAL && e != EFBIG)
		return -1;
	if (*why == NULL)
		*why = "invalid record";
	/* Rejected before any transaction: keeping the bytes is the one entry. */
	if (journal_reject_put(j, coll, rec, *why, buf, len))
		return -1;
	errno = e;
	return -1;
}

int
journal_write_device(struct journal *j, const char *devid, const char *json, const char **why)
{
	struct journal_member me;
	uint64_t origin;

	*why = NULL;
	if (change_devid_parse(devid, &origin)) {
		*why = "invalid device id";
		errno = EINVAL;
		return -1;
	}
	/* Every other member would refuse it (journal_trust.c). */
	if (j->trust && (journal_member(j, j->self, &me) || !(me.flags & JOURNAL_ADMIN))) {
		*why = "only an admin device changes membership";
		errno = EPERM;
		return -1;
	}
	return jn_write_record(j, ".devices", devid, NULL, 0, json, strlen(json), why, NULL);
}

/* Deleting a record also drops its rejected bytes; either must exist. */
static int
delete_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = jn_val(k, crdt_record_key(k, a->coll, a->rec)), v;
	struct change c;
	int rc, rejected;

	jn_local_begin(j, txn, &c);
	if ((rc = mdb_del(txn, j->rejects, &key, NULL)) && rc != MDB_NOTFOUND)
		goto out;
	rejected = rc == 0;
	if ((rc = jn_record_get(j, txn, a->coll, a->rec, &v))) {
		if (rc == MDB_NOTFOUND && rejected)
			rc = 0;
		goto out;
	}
	if ((rc = jn_diff(j, txn, &c, a->coll, a->rec, NULL, NULL)) == 0)
		rc = jn_local_commit(j, txn, &c, NULL, NULL, NULL, 0);
out:
	change_clear(&c);
	return rc;
}

int
journal_delete_record(struct journal *j, const char *coll, const char *rec)
{
	struct write_arg a = {coll, rec, NULL, NULL, NULL, NULL, NULL, 0, NULL};
	struct wal_arg w[2] = {{coll, strlen(coll)}, {rec, strlen(rec)}};

	if (jn_names_valid(coll, rec))
		return -1;
	return jn_local(j, delete_fn, &a, WAL_DELETE, w, 2);
}

static int
rename_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	const char *why, *p;
	struct change c;
	json_t *obj = NULL;
	char *raw = NULL;
	size_t n;
	MDB_val v;
	int rc;

	jn_local_begin(j, txn, &c);
	if ((rc = jn_record_get(j, txn, a->coll, a->rec, &v)))
		goto out;
	jn_visible(&v, &p, &n);
	/* Copy: the page under v may move while this transaction writes. */
	if ((raw = malloc(n + 1)) == NULL) {
		rc = ENOMEM;
		goto out;
	}
	memcpy(raw, p, n);
	if ((obj = record_parse(raw, n, &why)) == NULL) {
		rc = EIO;
		goto out;
	}
	if ((rc = jn_diff(j, txn, &c, a->coll, a->rec, NULL, NULL)) ||
	    (rc = jn_diff(j, txn, &c, a->c2, a->r2, obj, NULL)) ||
	    (rc = jn_reject_del(j, txn, a->coll, a->rec)) ||
	    (rc = jn_reject_del(j, txn, a->c2, a->r2)))
		goto out;
	rc = jn_local_commit(j, txn, &c, a->c2, a->r2, raw, n);
out:
	json_decref(obj);
	free(raw);
	change_clear(&c);
	return rc;
}

int
journal_rename_record(struct journal *j, const char *c1, const char *r1, const char *c2,
                      const char *r2)
{
	struct write_arg a = {c1, r1, c2, r2, NULL, NULL, NULL, 0, NULL};
	struct wal_arg w[4] = {
	    {c1, strlen(c1)}, {r1, strlen(r1)}, {c2, strlen(c2)}, {r2, strlen(r2)}};

	if (jn_names_valid(c1, r1) || jn_names_valid(c2, r2))
		return -1;
	if (strcmp(c1, c2) == 0 && strcmp(r1, r2) == 0)
		return journal_stat_record(j, c1, r1, &(struct journal_stat){0});
	return jn_local(j, rename_fn, &a, WAL_RENAME, w, 4);
}

/* ---- collections ---- */

static int
mkcol_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	struct crdt_reg none = {0};
	struct change c;
	MDB_val key = jn_val(a->coll, strlen(a->coll)), v;
	int rc;

	if ((rc = mdb_get(txn, j->cols, &key, &v)) == 0)
		return EEXIST;
	if (rc != MDB_NOTFOUND)
		return rc;
	jn_local_begin(j, txn, &c);
	if ((rc = jn_add_over(&c, a->coll, "", NULL, "true", &none)) == 0)
		rc = jn_local_commit(j, txn, &c, NULL, NULL, NULL, 0);
	change_clear(&c);
	return rc;
}

int
journal_mkcol(struct journal *j, const char *coll)
{
	struct write_arg a = {coll, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL};
	struct wal_arg w = {coll, strlen(coll)};

	if (jn_names_valid(coll, NULL))
		return -1;
	return jn_local(j, mkcol_fn, &a, WAL_MKCOL, &w, 1);
}

/* Does coll hold any record?  Sets *has; returns 0 or an LMDB code. */
static int
jn_col_has_records(struct journal *j, MDB_txn *txn, const char *coll, int *has)
{
	uint8_t k[CRDT_KEY_MAX];
	size_t pl = crdt_record_key(k, coll, "");
	MDB_val key = jn_val(k, pl), v;
	MDB_cursor *cur;
	int rc;

	*has = 0;
	if ((rc = mdb_cursor_open(txn, j->records, &cur)))
		return rc;
	rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0)
		*has = key.mv_size > pl && memcmp(key.mv_data, k, pl) == 0;
	return rc;
}

static int
rmcol_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	struct change c;
	struct crdt_reg r;
	MDB_val key = jn_val(a->coll, strlen(a->coll)), v;
	int rc, has;

	if ((rc = mdb_get(txn, j->cols, &key, &v)))
		return rc;
	if ((rc = jn_col_has_records(j, txn, a->coll, &has)))
		return rc; /* an LMDB failure, not a verdict on the collection */
	if (has)
		return ENOTEMPTY;
	if ((rc = jn_reg_get(j, txn, k, crdt_reg_key(k, a->coll, "", NULL), &r)))
		return rc;
	jn_local_begin(j, txn, &c);
	if ((rc = jn_add_over(&c, a->coll, "", NULL, NULL, &r)) == 0)
		rc = jn_local_commit(j, txn, &c, NULL, NULL, NULL, 0);
	crdt_reg_clear(&r);
	change_clear(&c);
	return rc;
}

int
journal_rmcol(struct journal *j, const char *coll)
{
	struct write_arg a = {coll, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL};
	struct wal_arg w = {coll, strlen(coll)};

	if (jn_names_valid(coll, NULL))
		return -1;
	return jn_local(j, rmcol_fn, &a, WAL_RMCOL, &w, 1);
}

/* ---- settling a conflict ---- */

struct settle_arg {
	const char *coll, *rec, *field, *value;
};

static int
settle_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct settle_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	struct crdt_reg r;
	struct change c;
	MDB_val v;
	int rc;

	if ((rc = jn_record_get(j, txn, a->coll, a->rec, &v)))
		return rc;
	if ((rc = jn_reg_get(j, txn, k, crdt_reg_key(k, a->coll, a->rec, a->field), &r)))
		return rc;
	/* One SET naming every entry, even when value is what shows: that is
	 * what a plain write of the visible value leaves out (no change). */
	jn_local_begin(j, txn, &c);
	if ((rc = jn_add_over(&c, a->coll, a->rec, a->field, a->value, &r)) == 0)
		rc = jn_local_commit(j, txn, &c, NULL, NULL, NULL, 0);
	crdt_reg_clear(&r);
	change_clear(&c);
	return rc;
}

int
journal_settle_field(struct journal *j, const char *coll, const char *rec, const char *field,
                     const char *value)
{
	struct settle_arg a = {coll, rec, field, value};
	json_t *v;

	if (jn_names_valid(coll, rec))
		return -1;
	/* The batch owner logs each write kind to the wal; this one has none,
	 * and only the command line (no batch) settles conflicts. */
	if (jn_owner(j) || (v = record_value_parse(value, strlen(value))) == NULL) {
		errno = EINVAL;
		return -1;
	}
	json_decref(v);
	return jn_write(j, settle_fn, &a);
}
