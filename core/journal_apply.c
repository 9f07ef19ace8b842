#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lmdb.h>

#include "core/bytes.h"
#include "core/journal_int.h"
#include "core/record.h"

/* ---- merge: the winner and the priority of devices ---- */

/* A journal and the transaction in hand: the ctx of crdt.c's callbacks. */
struct txn_ctx {
	struct journal *j;
	MDB_txn *txn;
};

/* The priority of a device: the "priority" field of .devices/<devid>. */
static int64_t
jn_priority(void *ctx, uint64_t origin)
{
	struct txn_ctx *p = ctx;
	char id[DEVID_LEN + 1];
	uint8_t k[CRDT_KEY_MAX];
	struct crdt_reg r;
	int64_t prio;

	change_devid(origin, id);
	if (jn_reg_get(p->j, p->txn, k, crdt_reg_key(k, ".devices", id, "priority"), &r))
		return 0;
	prio = crdt_priority_value(&r);
	crdt_reg_clear(&r);
	return prio;
}

size_t
jn_winner(struct journal *j, MDB_txn *txn, const struct crdt_reg *r)
{
	struct txn_ctx p = {j, txn};

	return crdt_winner(r, jn_priority, &p);
}

/* ---- records: rendering and the records db ---- */

int
jn_each_reg(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, jn_reg_fn *fn,
            void *ctx)
{
	uint8_t p[CRDT_KEY_MAX];
	size_t pl = crdt_record_key(p, coll, rec);
	MDB_cursor *cur;
	MDB_val k, v;
	struct crdt_reg r;
	int rc, op = MDB_SET_RANGE;

	p[pl++] = 0;
	if ((rc = mdb_cursor_open(txn, j->fields, &cur)))
		return rc;
	k = jn_val(p, pl);
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size <= pl || memcmp(k.mv_data, p, pl) != 0)
			break;
		if ((rc = crdt_reg_decode(v.mv_data, v.mv_size, &r)))
			break;
		rc = fn(ctx, k.mv_data, k.mv_size, &r);
		crdt_reg_clear(&r);
		if (rc)
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* A record's visible fields, collected for rendering: each register's
 * field name and winning value, taken from the decoded register. */
struct render_ctx {
	struct journal *j;
	MDB_txn *txn;
	size_t n, cap;
	struct record_field *f; /* its strings owned */
	int any;                /* a register exists (a marker too): the record is visible */
};

static int
render_reg(void *ctx, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	struct render_ctx *c = ctx;
	struct record_field *f;
	size_t w;

	(void)k;
	(void)kl;
	c->any = 1;
	if (r->field == NULL || r->n == 0)
		return 0;
	if (c->n == c->cap) {
		if ((f = realloc(c->f, (c->cap ? 2 * c->cap : 8) * sizeof(*f))) == NULL)
			return ENOMEM;
		c->f = f;
		c->cap = c->cap ? 2 * c->cap : 8;
	}
	w = jn_winner(c->j, c->txn, r);
	/* Taken over: crdt_reg_clear frees what is left. */
	c->f[c->n++] = (struct record_field){r->field, r->e[w].value, r->e[w].vlen};
	r->field = NULL;
	r->e[w].value = NULL;
	return 0;
}

static int
field_cmp(const void *a, const void *b)
{
	return strcmp(((const struct record_field *)a)->name,
	              ((const struct record_field *)b)->name);
}

/* The canonical rendering of the fields: straight from their value texts
 * when those are canonical, else through jansson. */
static char *
render_fields(struct record_field *f, size_t n, size_t *len, int *rc)
{
	json_t *obj, *v;
	char *out;
	size_t i;

	*rc = 0;
	if (n > 1)
		qsort(f, n, sizeof(*f), field_cmp);
	if ((out = record_render_fields(f, n, len)) != NULL || errno != EINVAL) {
		*rc = out == NULL ? ENOMEM : 0;
		return out;
	}
	if ((obj = json_object()) == NULL) {
		*rc = ENOMEM;
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((v = record_value_parse(f[i].text, f[i].len)) == NULL ||
		    json_object_set_new(obj, f[i].name, v) != 0) {
			json_decref(obj);
			*rc = EIO;
			return NULL;
		}
	if ((out = record_render(obj, len)) == NULL)
		*rc = ENOMEM;
	json_decref(obj);
	return out;
}

/* The current state of a record rendered canonically (length in *len), or
 * NULL if not visible (*rc = 0) or on error (*rc set). */
static char *
jn_render(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, size_t *len, int *rc)
{
	struct render_ctx c = {j, txn, 0, 0, NULL, 0};
	char *out = NULL;
	size_t i;

	if ((*rc = jn_each_reg(j, txn, coll, rec, render_reg, &c)) == 0 && c.any)
		out = render_fields(c.f, c.n, len, rc);
	for (i = 0; i < c.n; i++) {
		free((char *)c.f[i].name);
		free((char *)c.f[i].text);
	}
	free(c.f);
	return out;
}

int
jn_record_get(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, MDB_val *v)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = jn_val(k, crdt_record_key(k, coll, rec));
	int rc = mdb_get(txn, j->records, &key, v);

	if (rc == 0 && (v->mv_size < 12 || get32((uint8_t *)v->mv_data + 8) > v->mv_size - 12))
		rc = EIO;
	return rc;
}

void
jn_visible(const MDB_val *v, const char **p, size_t *n)
{
	const uint8_t *b = v->mv_data;
	size_t clen = get32(b + 8);

	if (v->mv_size > 12 + clen) {
		*p = (const char *)b + 12 + clen;
		*n = v->mv_size - 12 - clen;
	} else {
		*p = (const char *)b + 12;
		*n = clen;
	}
}

/* Does buf parse to the record whose canonical rendering is canon? */
static int
jn_renders_as(const char *buf, size_t len, const char *canon, size_t clen)
{
	const char *why;
	json_t *o = record_parse(buf, len, &why);
	char *r = o ? record_render(o, &len) : NULL;
	int same = r != NULL && len == clen && memcmp(r, canon, clen) == 0;

	json_decref(o);
	free(r);
	return same;
}

int
jn_record_update(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, uint64_t hlc,
                 const char *raw, size_t rawlen)
{
	int mine = raw != NULL; /* raw is this write's, not the stored bytes */
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = jn_val(k, crdt_record_key(k, coll, rec)), old, v;
	char *canon;
	uint8_t *b;
	size_t clen = 0, n;
	int rc;

	if ((canon = jn_render(j, txn, coll, rec, &clen, &rc)) == NULL) {
		if (rc)
			return rc;
		rc = mdb_del(txn, j->records, &key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if ((rc = jn_record_get(j, txn, coll, rec, &old)) == 0) {
		if (hlc == 0)
			hlc = get64(old.mv_data);
		else if (hlc == get64(old.mv_data))
			hlc++; /* the version must change with the content (fs caches by it) */
		if (raw == NULL && get32((uint8_t *)old.mv_data + 8) == clen &&
		    memcmp((uint8_t *)old.mv_data + 12, canon, clen) == 0) {
			raw = (const char *)old.mv_data + 12 + clen;
			rawlen = old.mv_size - 12 - clen;
		}
	} else if (rc != MDB_NOTFOUND) {
		free(canon);
		return rc;
	}
	if (raw != NULL && rawlen == clen && memcmp(raw, canon, clen) == 0)
		rawlen = 0;
	else if (raw != NULL && mine && !jn_renders_as(raw, rawlen, canon, clen))
		raw = NULL; /* the write kept changes made meanwhile: show the state */
	n = 12 + clen + (raw ? rawlen : 0);
	if ((b = malloc(n)) == NULL) {
		free(canon);
		return ENOMEM;
	}
	be64(b, hlc);
	be32(b + 8, (uint32_t)clen);
	memcpy(b + 12, canon, clen);
	if (raw != NULL)
		memcpy(b + 12 + clen, raw, rawlen);
	free(canon);
	v = jn_val(b, n);
	rc = mdb_put(txn, j->records, &key, &v, 0);
	free(b);
	return rc;
}

/* A collection is visible while it has a marker or a record. */
static int
jn_col_update(struct journal *j, MDB_txn *txn, const char *coll)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key, v;
	MDB_cursor *cur;
	struct crdt_reg r;
	size_t pl;
	int rc, visible;

	if ((rc = jn_reg_get(j, txn, k, crdt_reg_key(k, coll, "", NULL), &r)))
		return rc;
	visible = r.n > 0;
	crdt_reg_clear(&r);
	if (!visible) {
		pl = crdt_record_key(k, coll, "");
		key = jn_val(k, pl);
		if ((rc = mdb_cursor_open(txn, j->records, &cur)))
			return rc;
		rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
		visible = rc == 0 && key.mv_size > pl && memcmp(key.mv_data, k, pl) == 0;
		mdb_cursor_close(cur);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	key = jn_val(coll, strlen(coll));
	if (visible) {
		/* Most changes leave a listed collection listed: no write. */
		if ((rc = mdb_get(txn, j->cols, &key, &v)) != MDB_NOTFOUND)
			return rc;
		v = jn_val("", 0);
		return mdb_put(txn, j->cols, &key, &v, 0);
	}
	rc = mdb_del(txn, j->cols, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- applying changes ---- */

int
jn_touched_add(struct touched *t, const char *coll, const char *rec)
{
	size_t i;
	void *p;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->t[i].coll, coll) == 0 && strcmp(t->t[i].rec, rec) == 0)
			return 0;
	if ((p = realloc(t->t, (t->n + 1) * sizeof(*t->t))) == NULL)
		return ENOMEM;
	t->t = p;
	if ((t->t[t->n].coll = strdup(coll)) == NULL)
		return ENOMEM;
	if ((t->t[t->n].rec = strdup(rec)) == NULL) {
		free(t->t[t->n].coll);
		return ENOMEM;
	}
	t->n++;
	return 0;
}

int
jn_touched_move(struct touched *all, struct touched *t)
{
	void *p;

	if (t->n == 0)
		return 0;
	if ((p = realloc(all->t, (all->n + t->n) * sizeof(*all->t))) == NULL)
		return ENOMEM;
	all->t = p;
	memcpy(all->t + all->n, t->t, t->n * sizeof(*t->t));
	all->n += t->n;
	free(t->t);
	memset(t, 0, sizeof(*t));
	return 0;
}

static int
touched_cmp(const void *a, const void *b)
{
	const struct touch *x = a, *y = b;
	int d = strcmp(x->coll, y->coll);

	return d ? d : strcmp(x->rec, y->rec);
}

void
jn_touched_uniq(struct touched *t)
{
	size_t i, k = 0;

	if (t->n < 2)
		return;
	qsort(t->t, t->n, sizeof(*t->t), touched_cmp);
	for (i = 0; i < t->n; i++) {
		if (k > 0 && touched_cmp(&t->t[k - 1], &t->t[i]) == 0) {
			free(t->t[i].coll);
			free(t->t[i].rec);
			continue;
		}
		t->t[k++] = t->t[i];
	}
	t->n = k;
}

void
jn_touched_clear(struct touched *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->t[i].coll);
		free(t->t[i].rec);
	}
	free(t->t);
	memset(t, 0, sizeof(*t));
}

/* The crdt_hooks of a write transaction: superseded ids in LMDB. */
static int
jn_arrived(void *ctx, uint64_t origin, uint64_t seq)
{
	struct txn_ctx *p = ctx;

	return seq <= jn_vv_get(p->j, p->txn, origin);
}

static int
jn_supersede(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl)
{
	struct txn_ctx *p = ctx;
	uint8_t id[16];
	MDB_val key = jn_val(id, 16), v = jn_val(k, kl);
	int rc;

	be64(id, origin);
	be64(id + 8, seq);
	rc = mdb_put(p->txn, p->j->superseded, &key, &v, 0);
	return rc == MDB_KEYEXIST ? 0 : rc;
}

static int
jn_superseded_take(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl,
                   int *found)
{
	struct txn_ctx *p = ctx;
	uint8_t id[16];
	MDB_val key = jn_val(id, 16), v = jn_val(k, kl);
	int rc;

	be64(id, origin);
	be64(id + 8, seq);
	rc = mdb_del(p->txn, p->j->superseded, &key, &v);
	*found = rc == 0;
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
jn_apply_op(struct journal *j, MDB_txn *txn, const struct change *c, const struct op *op)
{
	struct txn_ctx p = {j, txn};
	struct crdt_hooks h = {jn_arrived, jn_supersede, jn_superseded_take, &p};
	uint8_t k[CRDT_KEY_MAX];
	size_t kl = crdt_reg_key(k, op->coll, op->rec, op->field);
	struct crdt_reg r;
	int rc;

	if ((rc = jn_reg_get(j, txn, k, kl, &r)) == 0 &&
	    (rc = crdt_apply(&r, k, kl, c, op, &h)) == 0)
		rc = jn_reg_put(j, txn, k, kl, &r);
	crdt_reg_clear(&r);
	return rc;
}

/* Adds every record holding a conflict to t (after a priority changed). */
static int
jn_touch_conflicts(struct journal *j, MDB_txn *txn, struct touched *t)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	if ((rc = mdb_cursor_open(txn, j->conflicts, &cur)))
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		const char *coll = k.mv_data;

		op = MDB_NEXT;
		if ((rc = jn_touched_add(t, coll, coll + strlen(coll) + 1)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
jn_commit_change(struct journal *j, MDB_txn *txn, const struct change *c, const uint8_t *blob,
                 size_t blen, struct touched *t, const char *raw_coll, const char *raw_rec,
                 const char *raw, size_t rawlen)
{
	uint8_t id[16];
	MDB_val key = jn_val(id, 16), v = jn_val(blob, blen);
	uint64_t mtime;
	int rc, prio = 0;
	size_t i;

	be64(id, c->origin);
	be64(id + 8, c->seq);
	if ((rc = mdb_put(txn, j->changes, &key, &v, MDB_APPEND)) == MDB_KEYEXIST)
		rc = mdb_put(txn, j->changes, &key, &v, 0);
	if (rc)
		return rc;
	for (i = 0; i < c->nops; i++) {
		const struct op *op = &c->ops[i];

		if ((rc = jn_apply_op(j, txn, c, op)) ||
		    (rc = jn_touched_add(t, op->coll, op->rec)))
			return rc;
		if (strcmp(op->coll, ".devices") == 0 && op->field != NULL &&
		    strcmp(op->field, "priority") == 0)
			prio = 1;
	}
	if ((rc = jn_vv_put(j, txn, c->origin, c->seq)) || (rc = jn_trust_update(j, txn, c)))
		return rc;
	if (prio && (rc = jn_touch_conflicts(j, txn, t)))
		return rc;
	mtime = jn_clock_mtime(j, c->hlc);
	for (i = 0; i < t->n; i++) {
		const char *coll = t->t[i].coll, *rec = t->t[i].rec;
		int mine = raw != NULL && strcmp(coll, raw_coll) == 0 && strcmp(rec, raw_rec) == 0;

		if (rec[0] != '\0' &&
		    (rc = jn_record_update(j, txn, coll, rec, mtime, mine ? raw : NULL, rawlen)))
			return rc;
	}
	for (i = 0; i < t->n; i++)
		if ((rc = jn_col_update(j, txn, t->t[i].coll)))
			return rc;
	return 0;
}
