#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>
#include <sodium.h>

#include "core/bytes.h"
#include "core/crdt.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "core/record.h"
#include "core/wal.h"

#define DEFAULT_MAPSIZE ((size_t)64 << 30) /* address space only: the file grows as used */
#define MAX_GROW 16
#define BATCH_MS 2 /* the longest a local write waits to be committed */

struct journal {
	MDB_env *env;
	MDB_dbi meta, changes, vv, fields, superseded, records, cols, conflicts, rejects;
	uint64_t self;
	uint8_t dbid[32];
	int flags;
	int unsynced;     /* commits not yet flushed with the meta page (atomic) */
	int local_commit; /* the transaction in hand made a local change */
	struct hlc clock; /* protected by the LMDB write lock */
	struct journal_crypto crypto;
	journal_observer *observer;
	void *observer_ctx;
	void (*on_local)(void *ctx);
	void *on_local_ctx;
	/* JOURNAL_BATCH: owned by the thread that opened the journal. */
	pid_t owner;
	struct wal *wal;   /* the write-ahead file, NULL without batching */
	MDB_txn *batch;    /* open write transaction holding local writes */
	int wal_kept;      /* the wal holds writes no commit has covered */
	int replaying;     /* applying the wal: do not log again */
	int map_full;      /* applying the wal ran out of map */
	uint64_t batch_ms; /* when it began (monotonic) */
	int batch_local;   /* it holds a local change */
};

static size_t initial_mapsize;

/* Records touched by a change, for re-rendering and notification. */
struct touched {
	size_t n;
	struct {
		char *coll, *rec;
	} * t;
};

/* ---- errors: LMDB codes map to errno here and only here ---- */

static int
jn_errno(int rc)
{
	if (rc == 0)
		return 0;
	if (rc == MDB_NOTFOUND)
		errno = ENOENT;
	else if (rc == MDB_MAP_FULL)
		errno = ENOSPC;
	else if (rc > 0)
		errno = rc;
	else
		errno = EIO;
	return -1;
}

/* ---- small encoders ---- */

static MDB_val
val(const void *p, size_t n)
{
	MDB_val v = {n, (void *)p};
	return v;
}

/* ---- registers (their rules are crdt.c's; here they are stored) ---- */

static int
reg_get(struct journal *j, MDB_txn *txn, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	MDB_val key = val(k, kl), v;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = mdb_get(txn, j->fields, &key, &v)) == MDB_NOTFOUND)
		return 0;
	return rc ? rc : crdt_reg_decode(v.mv_data, v.mv_size, r);
}

/* Stores r (deleting it when empty) and keeps the conflicts db in step. */
static int
reg_put(struct journal *j, MDB_txn *txn, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	MDB_val key = val(k, kl), v;
	uint8_t *b;
	size_t n;
	int rc;

	if (r->n == 0) {
		rc = mdb_del(txn, j->fields, &key, NULL);
		if (rc == 0 || rc == MDB_NOTFOUND)
			rc = mdb_del(txn, j->conflicts, &key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	if ((rc = crdt_reg_encode(r, &b, &n)))
		return rc;
	v = val(b, n);
	rc = mdb_put(txn, j->fields, &key, &v, 0);
	free(b);
	if (rc)
		return rc;
	if (crdt_reg_conflict(r)) {
		v = val("", 0);
		return mdb_put(txn, j->conflicts, &key, &v, 0);
	}
	rc = mdb_del(txn, j->conflicts, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- version vectors ---- */

static uint64_t
jn_vv_get(struct journal *j, MDB_txn *txn, uint64_t origin)
{
	uint8_t k[8];
	MDB_val key = val(k, 8), v;

	be64(k, origin);
	if (mdb_get(txn, j->vv, &key, &v) != 0 || v.mv_size != 8)
		return 0;
	return get64(v.mv_data);
}

static int
jn_vv_put(struct journal *j, MDB_txn *txn, uint64_t origin, uint64_t seq)
{
	uint8_t k[8], s[8];
	MDB_val key = val(k, 8), v = val(s, 8);

	be64(k, origin);
	be64(s, seq);
	return mdb_put(txn, j->vv, &key, &v, 0);
}

/* ---- merge: the winner and the priority of devices ---- */

struct prio_ctx {
	struct journal *j;
	MDB_txn *txn;
};

/* The priority of a device: the "priority" field of .devices/<devid>. */
static int64_t
jn_priority(void *ctx, uint64_t origin)
{
	struct prio_ctx *p = ctx;
	char id[DEVID_LEN + 1];
	uint8_t k[CRDT_KEY_MAX];
	struct crdt_reg r;
	int64_t prio;

	change_devid(origin, id);
	if (reg_get(p->j, p->txn, k, crdt_reg_key(k, ".devices", id, "priority"), &r))
		return 0;
	prio = crdt_priority_value(&r);
	crdt_reg_clear(&r);
	return prio;
}

/* Index of the visible entry, the priorities read in txn. */
static size_t
jn_winner(struct journal *j, MDB_txn *txn, const struct crdt_reg *r)
{
	struct prio_ctx p = {j, txn};

	return crdt_winner(r, jn_priority, &p);
}

/* ---- records: rendering and the records db ---- */

/* Iterates the registers of (coll, rec); fn returns nonzero to stop. */
typedef int reg_fn(void *ctx, const uint8_t *k, size_t kl, struct crdt_reg *r);

static int
jn_each_reg(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, reg_fn *fn,
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
	k = val(p, pl);
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

struct render_ctx {
	struct journal *j;
	MDB_txn *txn;
	json_t *obj;
	int any;
	int err;
};

static int
render_reg(void *ctx, const uint8_t *k, size_t kl, struct crdt_reg *r)
{
	struct render_ctx *c = ctx;
	struct prio_ctx p = {c->j, c->txn};

	(void)k;
	(void)kl;
	c->any = 1;
	return (c->err = crdt_render_field(c->obj, r, jn_priority, &p)) != 0;
}

/* The current state of a record as a JSON object, or NULL if not visible
 * (*rc = 0) or on error (*rc set). */
static json_t *
jn_state(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, int *rc)
{
	struct render_ctx c = {j, txn, json_object(), 0, 0};

	if (c.obj == NULL) {
		*rc = ENOMEM;
		return NULL;
	}
	*rc = jn_each_reg(j, txn, coll, rec, render_reg, &c);
	if (*rc == 0)
		*rc = c.err;
	if (*rc || !c.any) {
		json_decref(c.obj);
		return NULL;
	}
	return c.obj;
}

/*
 * records value: u64 mtime hlc | u32 canonical length | canonical | raw.
 * raw (the bytes a local write used) is kept while it parses to the state.
 */
static int
jn_record_get(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, MDB_val *v)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = val(k, crdt_record_key(k, coll, rec));
	int rc = mdb_get(txn, j->records, &key, v);

	if (rc == 0 && (v->mv_size < 12 || get32((uint8_t *)v->mv_data + 8) > v->mv_size - 12))
		rc = EIO;
	return rc;
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

/*
 * Re-renders a record after a change at hlc (0: keep the stored mtime).  raw,
 * if not NULL, is what a local write used (kept if it parses to the state);
 * otherwise the stored raw bytes survive if the canonical rendering did not
 * change.
 */
static int
jn_record_update(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, uint64_t hlc,
                 const char *raw, size_t rawlen)
{
	int mine = raw != NULL; /* raw is this write's, not the stored bytes */
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = val(k, crdt_record_key(k, coll, rec)), old, v;
	char *canon = NULL;
	uint8_t *b;
	size_t clen = 0, n;
	json_t *obj;
	int rc;

	if ((obj = jn_state(j, txn, coll, rec, &rc)) == NULL) {
		if (rc)
			return rc;
		rc = mdb_del(txn, j->records, &key, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	canon = record_render(obj, &clen);
	json_decref(obj);
	if (canon == NULL)
		return ENOMEM;
	if ((rc = jn_record_get(j, txn, coll, rec, &old)) == 0) {
		if (hlc == 0)
			hlc = get64(old.mv_data);
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
	v = val(b, n);
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

	if ((rc = reg_get(j, txn, k, crdt_reg_key(k, coll, "", NULL), &r)))
		return rc;
	visible = r.n > 0;
	crdt_reg_clear(&r);
	if (!visible) {
		pl = crdt_record_key(k, coll, "");
		key = val(k, pl);
		if ((rc = mdb_cursor_open(txn, j->records, &cur)))
			return rc;
		rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
		visible = rc == 0 && key.mv_size > pl && memcmp(key.mv_data, k, pl) == 0;
		mdb_cursor_close(cur);
		if (rc && rc != MDB_NOTFOUND)
			return rc;
	}
	key = val(coll, strlen(coll));
	if (visible) {
		v = val("", 0);
		return mdb_put(txn, j->cols, &key, &v, 0);
	}
	rc = mdb_del(txn, j->cols, &key, NULL);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/* ---- applying changes ---- */

static int
touched_add(struct touched *t, const char *coll, const char *rec)
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

static void
touched_clear(struct touched *t)
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
	struct prio_ctx *p = ctx;

	return seq <= jn_vv_get(p->j, p->txn, origin);
}

static int
jn_supersede(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl)
{
	struct prio_ctx *p = ctx;
	uint8_t id[16];
	MDB_val key = val(id, 16), v = val(k, kl);
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
	struct prio_ctx *p = ctx;
	uint8_t id[16];
	MDB_val key = val(id, 16), v = val(k, kl);
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
	struct prio_ctx p = {j, txn};
	struct crdt_hooks h = {jn_arrived, jn_supersede, jn_superseded_take, &p};
	uint8_t k[CRDT_KEY_MAX];
	size_t kl = crdt_reg_key(k, op->coll, op->rec, op->field);
	struct crdt_reg r;
	int rc;

	if ((rc = reg_get(j, txn, k, kl, &r)) == 0 && (rc = crdt_apply(&r, k, kl, c, op, &h)) == 0)
		rc = reg_put(j, txn, k, kl, &r);
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
		if ((rc = touched_add(t, coll, coll + strlen(coll) + 1)))
			break;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

/*
 * Stores blob as change c and applies it: registers, version vector,
 * rendered records and collections.  raw is the local write's bytes for
 * (raw_coll, raw_rec), or NULL.
 */
static int
jn_commit_change(struct journal *j, MDB_txn *txn, const struct change *c, const uint8_t *blob,
                 size_t blen, struct touched *t, const char *raw_coll, const char *raw_rec,
                 const char *raw, size_t rawlen)
{
	uint8_t id[16];
	MDB_val key = val(id, 16), v = val(blob, blen);
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

		if ((rc = jn_apply_op(j, txn, c, op)) || (rc = touched_add(t, op->coll, op->rec)))
			return rc;
		if (strcmp(op->coll, ".devices") == 0 && op->field != NULL &&
		    strcmp(op->field, "priority") == 0)
			prio = 1;
	}
	if ((rc = jn_vv_put(j, txn, c->origin, c->seq)))
		return rc;
	if (prio && (rc = jn_touch_conflicts(j, txn, t)))
		return rc;
	for (i = 0; i < t->n; i++) {
		const char *coll = t->t[i].coll, *rec = t->t[i].rec;
		int mine = raw != NULL && strcmp(coll, raw_coll) == 0 && strcmp(rec, raw_rec) == 0;

		if (rec[0] != '\0' &&
		    (rc = jn_record_update(j, txn, coll, rec, c->hlc, mine ? raw : NULL, rawlen)))
			return rc;
	}
	for (i = 0; i < t->n; i++)
		if ((rc = jn_col_update(j, txn, t->t[i].coll)))
			return rc;
	return 0;
}

/* ---- transactions ---- */

typedef int txn_fn(struct journal *j, MDB_txn *txn, void *arg);

/* What a txn_fn returns when it changed nothing: commit nothing, succeed. */
#define TXN_NOOP (-1)

/*
 * Runs fn in a write transaction and commits it.  MDB_MAP_FULL grows the map
 * and runs fn again.  fn returns 0, TXN_NOOP, an errno or an LMDB code.
 * Returns 0 or -1 with errno.
 */
static int
jn_write(struct journal *j, txn_fn *fn, void *arg)
{
	MDB_envinfo info;
	MDB_txn *txn;
	int rc, tries, local;

	for (tries = 0;; tries++) {
		if ((rc = mdb_txn_begin(j->env, NULL, 0, &txn)) == MDB_MAP_RESIZED) {
			if ((rc = mdb_env_set_mapsize(j->env, 0)))
				return jn_errno(rc);
			continue;
		}
		if (rc)
			return jn_errno(rc);
		j->local_commit = 0; /* protected by the write lock, like the clock */
		if ((rc = fn(j, txn, arg)) == TXN_NOOP) {
			mdb_txn_abort(txn);
			return 0;
		}
		if (rc == 0) {
			local = j->local_commit; /* read while still holding the lock */
			/* Marked before the commit: a sender must never see it unmarked. */
			__atomic_store_n(&j->unsynced, 1, __ATOMIC_RELEASE);
			rc = mdb_txn_commit(txn);
			if (rc == 0 && local && j->on_local != NULL)
				j->on_local(j->on_local_ctx);
		} else {
			mdb_txn_abort(txn);
		}
		if (rc != MDB_MAP_FULL || tries >= MAX_GROW)
			return jn_errno(rc);
		/* The map is full: double it and try again. */
		if ((rc = mdb_env_info(j->env, &info)) ||
		    (rc = mdb_env_set_mapsize(j->env, info.me_mapsize * 2)))
			return jn_errno(rc);
	}
}

/* A read transaction of what is committed: MDB_NOTLS lets any thread hold
 * one.  The network side reads only these (D4). */
static int
jn_snapshot(struct journal *j, MDB_txn **txn)
{
	int rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, txn);

	if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(j->env, 0)) == 0)
		rc = mdb_txn_begin(j->env, NULL, MDB_RDONLY, txn);
	return rc;
}

/* The calling thread's id, cached (no thread library in core/). */
static pid_t
jn_tid(void)
{
	static __thread pid_t tid;

	if (tid == 0)
		tid = gettid();
	return tid;
}

static int
jn_owner(const struct journal *j)
{
	return j->wal != NULL && j->owner == jn_tid();
}

/* Reads of the owner see its open batch: every write is visible at once. */
static int
jn_read_begin(struct journal *j, MDB_txn **txn)
{
	if (jn_owner(j) && j->batch != NULL) {
		*txn = j->batch;
		return 0;
	}
	return jn_snapshot(j, txn);
}

static void
jn_read_end(struct journal *j, MDB_txn *txn)
{
	if (txn != j->batch)
		mdb_txn_abort(txn);
}

/* ---- batching: local writes share one transaction for BATCH_MS ---- */

/*
 * With JOURNAL_BATCH, the owner's local writes run as nested transactions of
 * one open write transaction, committed at most BATCH_MS later (or at
 * journal_flush / journal_sync): one fdatasync for many writes.  Each write
 * is first appended to the write-ahead file DB/wal (write(2), no fsync), so a
 * write whose call returned survives a crash of the process (D1).  The wal
 * holds exactly the writes not known to be committed: it is emptied after
 * each commit, and whatever it holds at the next mount (or after a failed
 * commit) is applied again before anything else (journal_recover), with the
 * seal hooks in place.  Applying a committed write again changes nothing, so
 * a crash between a commit and the emptying is harmless.  The network side
 * reads committed snapshots only, and only after they are synced (D4).
 *
 * The wal's format is core/wal.h's.
 */
/* Commits the open batch.  Returns 0 or an LMDB code / errno. */
static int
jn_flush(struct journal *j)
{
	int rc, local = j->batch_local;

	if (j->batch == NULL)
		return 0;
	/* Marked before the commit: a sender must never see it unmarked (D4). */
	__atomic_store_n(&j->unsynced, 1, __ATOMIC_RELEASE);
	rc = mdb_txn_commit(j->batch);
	j->batch = NULL;
	j->batch_local = 0;
	if (rc) {
		/* The batch is gone from LMDB but not from the wal: the next batch
		 * starts by applying it again, and so would a reopen. */
		j->wal_kept = 1;
		return rc;
	}
	wal_truncate(j->wal, 0); /* a failure only makes the next mount replay */
	if (local && j->on_local != NULL)
		j->on_local(j->on_local_ctx);
	return 0;
}

static int jn_replay(struct journal *j, const uint8_t *b, size_t n);

static void
jn_abort_batch(struct journal *j)
{
	mdb_txn_abort(j->batch);
	j->batch = NULL;
	j->batch_local = 0;
}

/*
 * Opens the owner's batch.  If the wal holds writes no commit has covered,
 * they are applied first, without logging them again; a map too small for
 * them grows and they are applied again from the start.
 */
static int
jn_batch_begin(struct journal *j)
{
	MDB_envinfo info;
	uint8_t *b;
	size_t n;
	int rc, tries;

	for (tries = 0;; tries++) {
		rc = mdb_txn_begin(j->env, NULL, 0, &j->batch);
		if (rc == MDB_MAP_RESIZED && (rc = mdb_env_set_mapsize(j->env, 0)) == 0)
			rc = mdb_txn_begin(j->env, NULL, 0, &j->batch);
		if (rc) {
			j->batch = NULL;
			return rc;
		}
		j->batch_ms = hlc_mono_ms();
		if (!j->wal_kept)
			return 0;
		j->replaying = 1;
		j->map_full = 0;
		if ((rc = wal_read(j->wal, &b, &n) ? errno : 0) == 0) {
			rc = jn_replay(j, b, n);
			free(b);
		}
		j->replaying = 0;
		if (rc == 0) {
			j->wal_kept = 0;
			return 0;
		}
		jn_abort_batch(j);
		if (!j->map_full || tries >= MAX_GROW)
			return rc;
		if ((rc = mdb_env_info(j->env, &info)) ||
		    (rc = mdb_env_set_mapsize(j->env, info.me_mapsize * 2)))
			return rc;
	}
}

/*
 * A local write: in the owner's batch (logged to the wal first) or, for
 * other threads and without batching, in a transaction of its own.
 */
static int
jn_local(struct journal *j, txn_fn *fn, void *arg, enum wal_op op, const struct wal_arg *wa,
         int nwa)
{
	MDB_envinfo info;
	MDB_txn *child;
	off_t mark;
	int rc, tries;

	if (!jn_owner(j))
		return jn_write(j, fn, arg);
	for (tries = 0;; tries++) {
		if (j->batch == NULL && (rc = jn_batch_begin(j)))
			return jn_errno(rc);
		if ((rc = mdb_txn_begin(j->env, j->batch, 0, &child)))
			return jn_errno(rc);
		j->local_commit = 0;
		mark = wal_size(j->wal);
		if ((rc = fn(j, child, arg)) == TXN_NOOP) {
			mdb_txn_abort(child);
			return 0;
		}
		if (rc == 0 && !j->replaying)
			rc = wal_append(j->wal, op, wa, nwa) ? errno : 0;
		if (rc == 0) {
			if ((rc = mdb_txn_commit(child)))
				wal_truncate(j->wal, mark);
		} else {
			mdb_txn_abort(child);
		}
		if (rc == 0)
			j->batch_local |= j->local_commit;
		if (rc == MDB_MAP_FULL && j->replaying)
			j->map_full = 1; /* jn_batch_begin grows the map and starts over */
		if (rc != MDB_MAP_FULL || j->replaying || tries >= MAX_GROW)
			return jn_errno(rc);
		/* Commit what the batch holds, then grow the map and retry. */
		if (mark > 0)
			wal_truncate(j->wal, mark);
		if ((rc = jn_flush(j)) || (rc = mdb_env_info(j->env, &info)) ||
		    (rc = mdb_env_set_mapsize(j->env, info.me_mapsize * 2)))
			return jn_errno(rc);
	}
}

int
journal_flush(struct journal *j)
{
	if (!jn_owner(j))
		return 0;
	return jn_errno(jn_flush(j));
}

/* Applies and commits what the wal holds, if anything (owner only). */
static int
jn_recover(struct journal *j)
{
	int rc;

	if (!j->wal_kept || j->batch != NULL)
		return 0;
	if ((rc = jn_batch_begin(j)))
		return rc;
	return jn_flush(j);
}

int
journal_recover(struct journal *j)
{
	if (!jn_owner(j))
		return 0;
	return jn_errno(jn_recover(j));
}

int
journal_batch_due(struct journal *j)
{
	uint64_t age;

	if (!jn_owner(j) || j->batch == NULL)
		return -1;
	age = hlc_mono_ms() - j->batch_ms;
	return age >= BATCH_MS ? 0 : (int)(BATCH_MS - age);
}

/* A NUL-terminated copy of a logged argument. */
static char *
jn_wal_str(const struct wal_arg *a)
{
	char *s = malloc(a->n + 1);

	if (s != NULL) {
		memcpy(s, a->p, a->n);
		s[a->n] = '\0';
	}
	return s;
}

/*
 * Re-runs one logged write.  Returns 0, or the errno of a failure that must
 * not drop the entry (a full disk, an I/O error); failures that only say the
 * write is moot now (ENOENT, EEXIST, ENOTEMPTY, EINVAL) count as done.
 */
static int
jn_replay_one(struct journal *j, const struct wal_entry *e)
{
	char *a[WAL_MAX_ARGS] = {0};
	size_t len[WAL_MAX_ARGS] = {0};
	const char *why;
	int i, rc = 0;

	for (i = 0; i < e->nargs; i++) {
		if ((a[i] = jn_wal_str(&e->arg[i])) == NULL)
			goto out;
		len[i] = e->arg[i].n;
	}
	switch (e->op) {
	case WAL_WRITE:
		rc = journal_write_record(j, a[0], a[1], a[2], len[2], &why);
		break;
	case WAL_EDIT:
		rc = journal_edit_record(j, a[0], a[1], a[2], len[2], a[3], len[3], &why);
		break;
	case WAL_DEVICE:
		rc = journal_write_device(j, a[0], a[1], &why);
		break;
	case WAL_DELETE:
		rc = journal_delete_record(j, a[0], a[1]);
		break;
	case WAL_RENAME:
		rc = journal_rename_record(j, a[0], a[1], a[2], a[3]);
		break;
	case WAL_MKCOL:
		rc = journal_mkcol(j, a[0]);
		break;
	case WAL_RMCOL:
		rc = journal_rmcol(j, a[0]);
		break;
	case WAL_META_PUT:
		rc = journal_meta_put(j, a[0], a[1], len[1]);
		break;
	case WAL_REJECT_PUT:
		rc = journal_reject_put(j, a[0], a[1], a[2], a[3], len[3]);
		break;
	case WAL_REJECT_DEL:
		rc = journal_reject_del(j, a[0], a[1]);
		break;
	case WAL_NONE:
		break;
	}
	if (rc && errno != ENOENT && errno != EEXIST && errno != ENOTEMPTY && errno != EINVAL)
		rc = errno;
	else
		rc = 0;
out:
	for (i = 0; i < WAL_MAX_ARGS; i++)
		free(a[i]);
	return rc;
}

/*
 * Re-runs the writes logged in b.  Entries after a damaged one are dropped
 * (only a power loss tears the file).  Returns 0 or the first errno that
 * must keep the wal.
 */
static int
jn_replay(struct journal *j, const uint8_t *b, size_t n)
{
	struct wal_entry e;
	size_t off = 0;
	int rc;

	while (wal_next(b, n, &off, &e))
		if ((rc = jn_replay_one(j, &e)))
			return rc;
	return 0;
}

/* ---- open, create, close ---- */

static int
jn_open_dbs(struct journal *j, MDB_txn *txn, unsigned int create)
{
	static const struct {
		const char *name;
		size_t off;
		unsigned int flags;
	} dbs[] = {
	    {"meta", offsetof(struct journal, meta), 0},
	    {"changes", offsetof(struct journal, changes), 0},
	    {"vv", offsetof(struct journal, vv), 0},
	    {"fields", offsetof(struct journal, fields), 0},
	    {"superseded", offsetof(struct journal, superseded), MDB_DUPSORT},
	    {"records", offsetof(struct journal, records), 0},
	    {"collections", offsetof(struct journal, cols), 0},
	    {"conflicts", offsetof(struct journal, conflicts), 0},
	    {"rejects", offsetof(struct journal, rejects), 0},
	};
	size_t i;
	int rc;

	for (i = 0; i < sizeof(dbs) / sizeof(dbs[0]); i++)
		if ((rc = mdb_dbi_open(txn, dbs[i].name, dbs[i].flags | create,
		                       (MDB_dbi *)((char *)j + dbs[i].off))))
			return rc;
	return 0;
}

static struct journal *
jn_env(const char *dir, int flags, unsigned int create)
{
	struct journal *j;
	unsigned int ef = MDB_NOTLS | MDB_NOSUBDIR;
	char *path = NULL;
	MDB_txn *txn;
	int rc;

	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return NULL;
	j->flags = flags;
	if (flags & JOURNAL_NOSYNC)
		ef |= MDB_NOSYNC;
	else
		ef |= MDB_NOMETASYNC;
	if (flags & JOURNAL_RDONLY)
		ef |= MDB_RDONLY;
	if (asprintf(&path, "%s/data.mdb", dir) < 0) {
		path = NULL;
		rc = ENOMEM;
		goto err;
	}
	if ((rc = mdb_env_create(&j->env)) || (rc = mdb_env_set_maxdbs(j->env, 16)) ||
	    (rc = mdb_env_set_mapsize(j->env, initial_mapsize ? initial_mapsize : DEFAULT_MAPSIZE)))
		goto err;
	if (!create) {
		struct stat st;

		if (stat(path, &st) != 0) {
			rc = errno == ENOENT ? ENOENT : errno;
			goto err;
		}
	}
	if ((rc = mdb_env_open(j->env, path, ef, 0600)))
		goto err;
	free(path);
	path = NULL;
	if ((rc = mdb_txn_begin(j->env, NULL, flags & JOURNAL_RDONLY ? MDB_RDONLY : 0, &txn)))
		goto err;
	if ((rc = jn_open_dbs(j, txn, create ? MDB_CREATE : 0))) {
		mdb_txn_abort(txn);
		goto err;
	}
	if ((rc = mdb_txn_commit(txn)))
		goto err;
	return j;
err:
	free(path);
	if (j->env != NULL)
		mdb_env_close(j->env);
	free(j);
	jn_errno(rc);
	return NULL;
}

static int
jn_meta_get(struct journal *j, MDB_txn *txn, const char *key, MDB_val *v)
{
	MDB_val k = val(key, strlen(key));

	return mdb_get(txn, j->meta, &k, v);
}

static int
jn_meta_put(struct journal *j, MDB_txn *txn, const char *key, const void *p, size_t n)
{
	MDB_val k = val(key, strlen(key)), v = val(p, n);

	return mdb_put(txn, j->meta, &k, &v, 0);
}

int
journal_create(const char *dir, uint64_t self, const uint8_t dbid[32])
{
	struct journal *j;
	uint8_t s[8];
	MDB_txn *txn;
	MDB_val v;
	int rc;

	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return -1;
	if ((j = jn_env(dir, 0, MDB_CREATE)) == NULL)
		return -1;
	if ((rc = mdb_txn_begin(j->env, NULL, 0, &txn)))
		goto out;
	if (jn_meta_get(j, txn, "self", &v) == 0) {
		mdb_txn_abort(txn);
		rc = EEXIST;
		goto out;
	}
	be64(s, self);
	if ((rc = jn_meta_put(j, txn, "self", s, 8)) ||
	    (rc = jn_meta_put(j, txn, "dbid", dbid, 32))) {
		mdb_txn_abort(txn);
		goto out;
	}
	if ((rc = mdb_txn_commit(txn)) == 0)
		rc = mdb_env_sync(j->env, 1);
out:
	mdb_env_close(j->env);
	free(j);
	return jn_errno(rc);
}

struct journal *
journal_open(const char *dir, int flags)
{
	struct journal *j;
	MDB_txn *txn;
	MDB_val v;
	int rc;

	if ((j = jn_env(dir, flags, 0)) == NULL)
		return NULL;
	if ((rc = jn_read_begin(j, &txn)))
		goto err;
	if ((rc = jn_meta_get(j, txn, "self", &v)) || v.mv_size != 8) {
		mdb_txn_abort(txn);
		rc = rc ? rc : EIO;
		goto err;
	}
	j->self = get64(v.mv_data);
	if ((rc = jn_meta_get(j, txn, "dbid", &v)) || v.mv_size != 32) {
		mdb_txn_abort(txn);
		rc = rc ? rc : EIO;
		goto err;
	}
	memcpy(j->dbid, v.mv_data, 32);
	/* The clock restarts after every timestamp used before, even if the wall
	 * clock went back while we were down. */
	if (jn_meta_get(j, txn, "hlc", &v) == 0 && v.mv_size == 8)
		j->clock.last = get64(v.mv_data);
	mdb_txn_abort(txn);
	if (flags & JOURNAL_BATCH) {
		if (wal_open(dir, &j->wal)) {
			rc = errno;
			goto err;
		}
		j->wal_kept = wal_size(j->wal) > 0;
		j->owner = jn_tid();
	}
	return j;
err:
	mdb_env_close(j->env);
	free(j);
	jn_errno(rc);
	return NULL;
}

void
journal_close(struct journal *j)
{
	if (j == NULL)
		return;
	if (jn_owner(j))
		jn_flush(j);
	wal_close(j->wal);
	if (!(j->flags & JOURNAL_RDONLY))
		mdb_env_sync(j->env, 1);
	mdb_env_close(j->env);
	free(j);
}

uint64_t
journal_self(const struct journal *j)
{
	return j->self;
}

void
journal_dbid(const struct journal *j, uint8_t dbid[32])
{
	memcpy(dbid, j->dbid, 32);
}

void
journal_set_crypto(struct journal *j, const struct journal_crypto *c)
{
	j->crypto = *c;
}

void
journal_set_observer(struct journal *j, journal_observer *cb, void *ctx)
{
	j->observer = cb;
	j->observer_ctx = ctx;
}

void
journal_set_local_hook(struct journal *j, void (*fn)(void *ctx), void *ctx)
{
	j->on_local = fn;
	j->on_local_ctx = ctx;
}

void
journal_set_initial_mapsize(size_t bytes)
{
	initial_mapsize = bytes;
}

int
journal_sync(struct journal *j)
{
	int rc;

	if (j->flags & JOURNAL_RDONLY)
		return 0;
	if (jn_owner(j) && ((rc = jn_recover(j)) || (rc = jn_flush(j))))
		return jn_errno(rc);
	__atomic_store_n(&j->unsynced, 0, __ATOMIC_RELEASE);
	if ((rc = mdb_env_sync(j->env, 1))) {
		__atomic_store_n(&j->unsynced, 1, __ATOMIC_RELEASE);
		return jn_errno(rc);
	}
	return 0;
}

/* ---- metadata ---- */

struct meta_arg {
	const char *key;
	const void *val;
	size_t len;
};

static int
meta_put_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct meta_arg *a = arg;

	return jn_meta_put(j, txn, a->key, a->val, a->len);
}

int
journal_meta_put(struct journal *j, const char *key, const void *v, size_t len)
{
	struct meta_arg a = {key, v, len};
	struct wal_arg w[2] = {{key, strlen(key)}, {v, len}};

	return jn_local(j, meta_put_fn, &a, WAL_META_PUT, w, 2);
}

int
journal_meta_get(struct journal *j, const char *key, void **out, size_t *len)
{
	MDB_txn *txn;
	MDB_val v;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	if ((rc = jn_meta_get(j, txn, key, &v)) == 0) {
		if ((*out = malloc(v.mv_size + 1)) == NULL) {
			rc = ENOMEM;
		} else {
			memcpy(*out, v.mv_data, v.mv_size);
			((char *)*out)[v.mv_size] = '\0';
			*len = v.mv_size;
		}
	}
	jn_read_end(j, txn);
	return jn_errno(rc);
}

/* ---- local writes ---- */

/* Starts a local change: the next seq of this device and a fresh clock. */
static void
jn_local_begin(struct journal *j, MDB_txn *txn, struct change *c)
{
	memset(c, 0, sizeof(*c));
	c->origin = j->self;
	c->seq = jn_vv_get(j, txn, j->self) + 1;
	c->hlc = hlc_now(&j->clock, hlc_wall_ms());
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
		kv = val(k, crdt_reg_key(k, coll, rec, key));
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
	kv = val(coll, strlen(coll));
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
	uint8_t *enc = NULL, *blob = NULL, h[8];
	size_t elen, blen;
	int rc;

	if (change_encode(c, &enc, &elen))
		return errno;
	if (j->crypto.seal != NULL) {
		if (j->crypto.seal(j->crypto.ctx, enc, elen, &blob, &blen)) {
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
	touched_clear(&t);
	free(enc);
	free(blob);
	return rc;
}

static int
jn_reject_del(struct journal *j, MDB_txn *txn, const char *coll, const char *rec)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = val(k, crdt_record_key(k, coll, rec));
	int rc = mdb_del(txn, j->rejects, &key, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct write_arg {
	const char *coll, *rec, *c2, *r2;
	const json_t *obj, *base;
	const char *buf;
	size_t len;
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
out:
	change_clear(&c);
	return rc;
}

static int
jn_names_valid(const char *coll, const char *rec)
{
	if (record_name_valid(coll, strlen(coll)))
		return -1;
	if (rec != NULL && record_name_valid(rec, strlen(rec)))
		return -1;
	return 0;
}

/*
 * Logged as WAL_WRITE, WAL_EDIT (with a base) or, for a device,
 * WAL_DEVICE.  A base that does not parse counts as none.
 */
static int
jn_write_record(struct journal *j, const char *coll, const char *rec, const char *base,
                size_t baselen, const char *buf, size_t len, const char **why)
{
	struct write_arg a = {coll, rec, NULL, NULL, NULL, NULL, buf, len};
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
	return jn_write_record(j, coll, rec, base, baselen, buf, len, why);
}

int
journal_write_device(struct journal *j, const char *devid, const char *json, const char **why)
{
	uint64_t origin;

	*why = NULL;
	if (change_devid_parse(devid, &origin)) {
		*why = "invalid device id";
		errno = EINVAL;
		return -1;
	}
	return jn_write_record(j, ".devices", devid, NULL, 0, json, strlen(json), why);
}

/* Deleting a record also drops its rejected bytes; either must exist. */
static int
delete_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = val(k, crdt_record_key(k, a->coll, a->rec)), v;
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
	struct write_arg a = {coll, rec, NULL, NULL, NULL, NULL, NULL, 0};
	struct wal_arg w[2] = {{coll, strlen(coll)}, {rec, strlen(rec)}};

	if (jn_names_valid(coll, rec))
		return -1;
	return jn_local(j, delete_fn, &a, WAL_DELETE, w, 2);
}

/* The visible bytes of a record: raw if kept, else canonical. */
static void
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
	struct write_arg a = {c1, r1, c2, r2, NULL, NULL, NULL, 0};
	struct wal_arg w[4] = {
	    {c1, strlen(c1)}, {r1, strlen(r1)}, {c2, strlen(c2)}, {r2, strlen(r2)}};

	if (jn_names_valid(c1, r1) || jn_names_valid(c2, r2))
		return -1;
	if (strcmp(c1, c2) == 0 && strcmp(r1, r2) == 0)
		return journal_stat_record(j, c1, r1, &(struct journal_stat){0});
	return jn_local(j, rename_fn, &a, WAL_RENAME, w, 4);
}

static int
mkcol_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	struct crdt_reg none = {0};
	struct change c;
	MDB_val key = val(a->coll, strlen(a->coll)), v;
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
	struct write_arg a = {coll, NULL, NULL, NULL, NULL, NULL, NULL, 0};
	struct wal_arg w = {coll, strlen(coll)};

	if (jn_names_valid(coll, NULL))
		return -1;
	return jn_local(j, mkcol_fn, &a, WAL_MKCOL, &w, 1);
}

/* Does coll hold any record? 1, 0, or an error code < 0. */
static int
jn_col_has_records(struct journal *j, MDB_txn *txn, const char *coll)
{
	uint8_t k[CRDT_KEY_MAX];
	size_t pl = crdt_record_key(k, coll, "");
	MDB_val key = val(k, pl), v;
	MDB_cursor *cur;
	int rc;

	if ((rc = mdb_cursor_open(txn, j->records, &cur)))
		return -rc;
	rc = mdb_cursor_get(cur, &key, &v, MDB_SET_RANGE);
	mdb_cursor_close(cur);
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc)
		return rc > 0 ? -rc : -EIO;
	return key.mv_size > pl && memcmp(key.mv_data, k, pl) == 0;
}

static int
rmcol_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct write_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	struct change c;
	struct crdt_reg r;
	MDB_val key = val(a->coll, strlen(a->coll)), v;
	int rc;

	if ((rc = mdb_get(txn, j->cols, &key, &v)))
		return rc;
	if ((rc = jn_col_has_records(j, txn, a->coll)) != 0)
		return rc > 0 ? ENOTEMPTY : -rc;
	if ((rc = reg_get(j, txn, k, crdt_reg_key(k, a->coll, "", NULL), &r)))
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
	struct write_arg a = {coll, NULL, NULL, NULL, NULL, NULL, NULL, 0};
	struct wal_arg w = {coll, strlen(coll)};

	if (jn_names_valid(coll, NULL))
		return -1;
	return jn_local(j, rmcol_fn, &a, WAL_RMCOL, &w, 1);
}

/* ---- reads ---- */

int
journal_stat_record(struct journal *j, const char *coll, const char *rec, struct journal_stat *st)
{
	MDB_txn *txn;
	MDB_val v;
	const char *p;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	if ((rc = jn_record_get(j, txn, coll, rec, &v)) == 0) {
		jn_visible(&v, &p, &st->size);
		st->version = get64(v.mv_data);
		st->mtime_ms = hlc_ms(st->version);
	}
	jn_read_end(j, txn);
	return jn_errno(rc);
}

int
journal_read_record(struct journal *j, const char *coll, const char *rec, char **buf, size_t *len)
{
	MDB_txn *txn;
	MDB_val v;
	const char *p;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	if ((rc = jn_record_get(j, txn, coll, rec, &v)) == 0) {
		jn_visible(&v, &p, len);
		if ((*buf = malloc(*len + 1)) == NULL) {
			rc = ENOMEM;
		} else {
			memcpy(*buf, p, *len);
			(*buf)[*len] = '\0';
		}
	}
	jn_read_end(j, txn);
	return jn_errno(rc);
}

int
journal_col_exists(struct journal *j, const char *coll)
{
	MDB_txn *txn;
	MDB_val key = val(coll, strlen(coll)), v;
	int rc;

	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	rc = mdb_get(txn, j->cols, &key, &v);
	jn_read_end(j, txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? jn_errno(rc) : 1;
}

/* Lists keys of db that start with prefix, after prefix+after, passing the
 * rest of the key (NUL-terminated) to cb. */
static int
jn_list(struct journal *j, MDB_dbi db, const uint8_t *prefix, size_t pl, const char *after,
        journal_list_cb *cb, void *ctx)
{
	char name[CRDT_KEY_MAX];
	uint8_t k[CRDT_KEY_MAX];
	size_t al = strlen(after);
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val key, v;
	int rc, op = MDB_SET_RANGE;

	if (pl + al >= sizeof(k)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(k, prefix, pl);
	memcpy(k + pl, after, al);
	key = val(k, pl + al);
	if (pl + al == 0)
		op = MDB_FIRST; /* LMDB refuses empty keys */
	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	if ((rc = mdb_cursor_open(txn, db, &cur))) {
		jn_read_end(j, txn);
		return jn_errno(rc);
	}
	while ((rc = mdb_cursor_get(cur, &key, &v, op)) == 0) {
		op = MDB_NEXT;
		if (key.mv_size < pl || memcmp(key.mv_data, prefix, pl) != 0)
			break;
		if (key.mv_size - pl >= sizeof(name))
			continue;
		memcpy(name, (char *)key.mv_data + pl, key.mv_size - pl);
		name[key.mv_size - pl] = '\0';
		if (al > 0 && strcmp(name, after) <= 0)
			continue;
		if (cb(ctx, name))
			break;
	}
	mdb_cursor_close(cur);
	jn_read_end(j, txn);
	return rc == MDB_NOTFOUND ? 0 : jn_errno(rc);
}

int
journal_list_cols(struct journal *j, const char *after, journal_list_cb *cb, void *ctx)
{
	return jn_list(j, j->cols, (const uint8_t *)"", 0, after, cb, ctx);
}

int
journal_list_records(struct journal *j, const char *coll, const char *after, journal_list_cb *cb,
                     void *ctx)
{
	uint8_t k[CRDT_KEY_MAX];

	if (strcmp(coll, ".devices") != 0 && jn_names_valid(coll, NULL))
		return -1;
	return jn_list(j, j->records, k, crdt_record_key(k, coll, ""), after, cb, ctx);
}

/* How many keys of db start with the n bytes of prefix. */
static int
jn_count_prefix(MDB_txn *txn, MDB_dbi db, const char *prefix, size_t n, uint64_t *count)
{
	MDB_cursor *cur;
	MDB_val k = val(prefix, n), v;
	int rc, op = MDB_SET_RANGE;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, db, &cur)))
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0 && k.mv_size >= n &&
	       memcmp(k.mv_data, prefix, n) == 0) {
		op = MDB_NEXT;
		(*count)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

int
journal_counts(struct journal *j, uint64_t *ncols, uint64_t *nrecs, uint64_t *nconflicts)
{
	MDB_txn *txn;
	MDB_stat st;
	uint64_t n;
	int rc;

	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	if ((rc = mdb_stat(txn, j->cols, &st)) == 0) {
		*ncols = st.ms_entries;
		if ((rc = mdb_stat(txn, j->records, &st)) == 0) {
			*nrecs = st.ms_entries;
			if ((rc = mdb_stat(txn, j->conflicts, &st)) == 0)
				*nconflicts = st.ms_entries;
		}
	}
	/* The internal .devices collection is not the user's. */
	if (rc == 0 && (rc = jn_count_prefix(txn, j->records, ".devices", 9, &n)) == 0) {
		*nrecs -= n;
		if ((rc = jn_count_prefix(txn, j->cols, ".devices", 8, &n)) == 0)
			*ncols -= n;
	}
	jn_read_end(j, txn);
	return jn_errno(rc);
}

/* ---- conflicts ---- */

static json_t *
jn_conflict_json(struct journal *j, MDB_txn *txn, const MDB_val *k, const struct crdt_reg *r)
{
	const char *coll = k->mv_data;
	const char *rec = coll + strlen(coll) + 1;
	char id[DEVID_LEN + 1];
	json_t *o, *entries, *e;
	size_t w = jn_winner(j, txn, r), i, n;

	o = json_object();
	entries = json_array();
	if (o == NULL || entries == NULL)
		goto err;
	json_object_set_new(o, "collection", json_string(coll));
	json_object_set_new(o, "record", json_string(rec));
	json_object_set_new(o, "field", r->field ? json_string(r->field) : json_null());
	json_object_set_new(o, "value", record_value_parse(r->e[w].value, r->e[w].vlen));
	for (n = 0; n < r->n; n++) {
		i = n == 0 ? w : (n <= w ? n - 1 : n);
		change_devid(r->e[i].origin, id);
		e = json_object();
		json_object_set_new(e, "device", json_string(id));
		json_object_set_new(e, "hlc", json_integer((json_int_t)r->e[i].hlc));
		json_object_set_new(e, "value", record_value_parse(r->e[i].value, r->e[i].vlen));
		json_array_append_new(entries, e);
	}
	json_object_set_new(o, "entries", entries);
	return o;
err:
	json_decref(o);
	json_decref(entries);
	return NULL;
}

char *
journal_conflicts_json(struct journal *j, const char *coll, const char *rec)
{
	uint8_t p[CRDT_KEY_MAX];
	size_t pl = 0;
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v, x;
	struct crdt_reg r;
	json_t *arr;
	char *s = NULL;
	int rc, op = MDB_SET_RANGE;

	if (coll != NULL) {
		pl = crdt_record_key(p, coll, rec);
		p[pl++] = 0;
	}
	if ((arr = json_array()) == NULL)
		return NULL;
	if ((rc = jn_read_begin(j, &txn)))
		goto out;
	if ((rc = mdb_cursor_open(txn, j->conflicts, &cur))) {
		jn_read_end(j, txn);
		goto out;
	}
	k = val(p, pl);
	if (pl == 0)
		op = MDB_FIRST;
	while ((rc = mdb_cursor_get(cur, &k, &x, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < pl || memcmp(k.mv_data, p, pl) != 0)
			break;
		if (mdb_get(txn, j->fields, &k, &v) != 0 ||
		    crdt_reg_decode(v.mv_data, v.mv_size, &r) != 0)
			continue;
		if (r.n > 1)
			json_array_append_new(arr, jn_conflict_json(j, txn, &k, &r));
		crdt_reg_clear(&r);
	}
	mdb_cursor_close(cur);
	jn_read_end(j, txn);
	rc = rc == MDB_NOTFOUND ? 0 : rc;
out:
	if (rc == 0)
		s = json_dumps(arr, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(arr);
	if (rc)
		jn_errno(rc);
	return s;
}

/* ---- rejects ---- */

struct reject_arg {
	const char *coll, *rec, *why, *buf;
	size_t len;
};

static int
reject_put_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct reject_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = val(k, crdt_record_key(k, a->coll, a->rec)), v;
	size_t wl = strlen(a->why);
	char *b;
	int rc;

	if ((b = malloc(wl + 1 + a->len)) == NULL)
		return ENOMEM;
	memcpy(b, a->why, wl + 1);
	memcpy(b + wl + 1, a->buf, a->len);
	v = val(b, wl + 1 + a->len);
	rc = mdb_put(txn, j->rejects, &key, &v, 0);
	free(b);
	return rc;
}

int
journal_reject_put(struct journal *j, const char *coll, const char *rec, const char *why,
                   const char *buf, size_t len)
{
	struct reject_arg a = {coll, rec, why, buf, len};
	struct wal_arg w[4] = {
	    {coll, strlen(coll)}, {rec, strlen(rec)}, {why, strlen(why)}, {buf, len}};

	if (jn_names_valid(coll, rec))
		return -1;
	return jn_local(j, reject_put_fn, &a, WAL_REJECT_PUT, w, 4);
}

int
journal_reject_get(struct journal *j, const char *coll, const char *rec, char **buf, size_t *len,
                   char **why)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key, v;
	MDB_txn *txn;
	size_t wl;
	int rc;

	*buf = NULL;
	*why = NULL;
	*len = 0;
	if (jn_names_valid(coll, rec))
		return -1;
	key = val(k, crdt_record_key(k, coll, rec));
	if ((rc = jn_read_begin(j, &txn)))
		return jn_errno(rc);
	if ((rc = mdb_get(txn, j->rejects, &key, &v)) == 0) {
		wl = strnlen(v.mv_data, v.mv_size);
		if (wl == v.mv_size) {
			rc = EIO;
		} else if ((*why = strdup(v.mv_data)) == NULL ||
		           (*buf = malloc(v.mv_size - wl)) == NULL) {
			rc = ENOMEM;
		} else {
			*len = v.mv_size - wl - 1;
			memcpy(*buf, (char *)v.mv_data + wl + 1, *len);
			(*buf)[*len] = '\0';
		}
	}
	jn_read_end(j, txn);
	if (rc) {
		free(*why);
		free(*buf);
		*why = NULL;
		*buf = NULL;
	}
	return jn_errno(rc);
}

static int
reject_del_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct reject_arg *a = arg;

	return jn_reject_del(j, txn, a->coll, a->rec);
}

int
journal_reject_del(struct journal *j, const char *coll, const char *rec)
{
	struct reject_arg a = {coll, rec, NULL, NULL, 0};
	struct wal_arg w[2] = {{coll, strlen(coll)}, {rec, strlen(rec)}};

	if (jn_names_valid(coll, rec))
		return -1;
	return jn_local(j, reject_del_fn, &a, WAL_REJECT_DEL, w, 2);
}

char *
journal_rejects_json(struct journal *j)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	json_t *arr, *o;
	char *s = NULL;
	int rc, op = MDB_FIRST;

	if ((arr = json_array()) == NULL)
		return NULL;
	if ((rc = jn_read_begin(j, &txn)))
		goto out;
	if ((rc = mdb_cursor_open(txn, j->rejects, &cur))) {
		jn_read_end(j, txn);
		goto out;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		const char *coll = k.mv_data;
		size_t cl = strnlen(coll, k.mv_size);

		op = MDB_NEXT;
		if (cl == k.mv_size || strnlen(v.mv_data, v.mv_size) == v.mv_size)
			continue;
		o = json_object();
		json_object_set_new(o, "collection", json_stringn(coll, cl));
		json_object_set_new(o, "record", json_stringn(coll + cl + 1, k.mv_size - cl - 1));
		json_object_set_new(o, "error", json_string(v.mv_data));
		json_array_append_new(arr, o);
	}
	mdb_cursor_close(cur);
	jn_read_end(j, txn);
	rc = rc == MDB_NOTFOUND ? 0 : rc;
out:
	if (rc == 0)
		s = json_dumps(arr, JSON_INDENT(2));
	json_decref(arr);
	if (rc)
		jn_errno(rc);
	return s;
}

/* ---- sync ---- */

int
journal_vv(struct journal *j, struct vv *out)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	memset(out, 0, sizeof(*out));
	if ((rc = jn_snapshot(j, &txn)))
		return jn_errno(rc);
	if ((rc = mdb_cursor_open(txn, j->vv, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
			op = MDB_NEXT;
			if (k.mv_size == 8 && v.mv_size == 8 &&
			    vv_set(out, get64(k.mv_data), get64(v.mv_data))) {
				rc = ENOMEM;
				break;
			}
		}
		mdb_cursor_close(cur);
	}
	mdb_txn_abort(txn);
	if (rc == MDB_NOTFOUND)
		return 0;
	vv_clear(out);
	return jn_errno(rc);
}

struct remote_arg {
	const uint8_t *const *blobs;
	const size_t *lens;
	size_t n;
	int *results;
	struct touched t; /* every record the batch touched, for the observer */
};

/* Applies one blob in txn: 0 applied, 1 duplicate, 2 gap, -1 refused
 * (forged or corrupt: nothing written); an LMDB failure is returned in *rc. */
static int
remote_one(struct journal *j, MDB_txn *txn, const uint8_t *blob, size_t len, struct touched *all,
           int *rc)
{
	struct touched t = {0};
	struct change *c = NULL;
	uint8_t *plain = NULL;
	const uint8_t *p = blob;
	uint64_t origin, seq, have;
	size_t n = len, i;
	int result = -1;

	*rc = 0;
	if (change_peek(blob, len, &origin, &seq) || seq == 0)
		return -1;
	have = jn_vv_get(j, txn, origin);
	if (seq <= have)
		return 1;
	if (seq > have + 1)
		return 2;
	if (j->crypto.open != NULL) {
		if (j->crypto.open(j->crypto.ctx, blob, len, &plain, &n))
			return -1;
		p = plain;
	}
	if (change_decode(p, n, &c) != 0 || c->origin != origin || c->seq != seq)
		goto out;
	/* A clock far ahead is stored as is but does not drag ours along. */
	hlc_recv(&j->clock, c->hlc, hlc_wall_ms());
	if ((*rc = jn_commit_change(j, txn, c, blob, len, &t, NULL, NULL, NULL, 0)) == 0)
		result = 0;
	for (i = 0; i < t.n && *rc == 0; i++)
		*rc = touched_add(all, t.t[i].coll, t.t[i].rec);
out:
	touched_clear(&t);
	change_free(c);
	free(plain);
	return result;
}

static int
remote_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct remote_arg *a = arg;
	size_t i;
	int rc, any = 0;

	touched_clear(&a->t);
	for (i = 0; i < a->n; i++) {
		a->results[i] = remote_one(j, txn, a->blobs[i], a->lens[i], &a->t, &rc);
		if (rc)
			return rc;
		any |= a->results[i] == 0;
	}
	return any ? 0 : TXN_NOOP;
}

int
journal_apply_batch(struct journal *j, const uint8_t *const *blobs, const size_t *lens, size_t n,
                    int *results)
{
	struct remote_arg a = {blobs, lens, n, results, {0}};
	size_t i;
	int rc;

	if ((rc = jn_write(j, remote_fn, &a)) == 0 && j->observer != NULL)
		for (i = 0; i < a.t.n; i++)
			j->observer(j->observer_ctx, a.t.t[i].coll, a.t.t[i].rec);
	touched_clear(&a.t);
	return rc;
}

int
journal_apply_remote(struct journal *j, const uint8_t *blob, size_t len)
{
	int result;

	if (journal_apply_batch(j, &blob, &len, 1, &result))
		return -1;
	if (result < 0)
		errno = EINVAL;
	return result;
}

long
journal_missing(struct journal *j, const struct vv *have, size_t max_bytes, journal_blob_cb *cb,
                void *ctx)
{
	MDB_cursor *vc = NULL, *cc = NULL;
	MDB_txn *txn;
	MDB_val k, v, ck, cv;
	uint8_t id[16];
	size_t bytes = 0;
	long count = 0;
	int rc, op = MDB_FIRST, stop = 0;

	/* D4: nothing leaves this device before it is durable here.  The
	 * snapshot comes first, so the sync covers all it holds. */
	if ((rc = jn_snapshot(j, &txn)))
		return jn_errno(rc);
	if (__atomic_exchange_n(&j->unsynced, 0, __ATOMIC_ACQ_REL) &&
	    (rc = mdb_env_sync(j->env, 1))) {
		__atomic_store_n(&j->unsynced, 1, __ATOMIC_RELEASE);
		mdb_txn_abort(txn);
		return jn_errno(rc);
	}
	if ((rc = mdb_cursor_open(txn, j->vv, &vc)) || (rc = mdb_cursor_open(txn, j->changes, &cc)))
		goto out;
	while (!stop && (rc = mdb_cursor_get(vc, &k, &v, op)) == 0) {
		uint64_t origin = get64(k.mv_data), top = get64(v.mv_data);
		uint64_t from = vv_get(have, origin) + 1;
		int cop = MDB_SET_KEY;

		op = MDB_NEXT;
		if (from > top)
			continue;
		be64(id, origin);
		be64(id + 8, from);
		ck = val(id, 16);
		while ((rc = mdb_cursor_get(cc, &ck, &cv, cop)) == 0) {
			cop = MDB_NEXT;
			if (ck.mv_size != 16 || get64(ck.mv_data) != origin)
				break;
			if (count > 0 && bytes + cv.mv_size > max_bytes) {
				stop = 1;
				break;
			}
			bytes += cv.mv_size;
			count++;
			if (cb(ctx, origin, get64((uint8_t *)ck.mv_data + 8), cv.mv_data,
			       cv.mv_size)) {
				stop = 1;
				break;
			}
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto out;
	}
	rc = 0;
out:
	mdb_cursor_close(cc);
	mdb_cursor_close(vc);
	mdb_txn_abort(txn);
	if (rc && rc != MDB_NOTFOUND)
		return jn_errno(rc);
	return count;
}

int
journal_get_change(struct journal *j, uint64_t origin, uint64_t seq, uint8_t **blob, size_t *len)
{
	uint8_t id[16];
	MDB_val k = val(id, 16), v;
	MDB_txn *txn;
	int rc;

	*blob = NULL;
	*len = 0;
	be64(id, origin);
	be64(id + 8, seq);
	if ((rc = jn_snapshot(j, &txn)))
		return jn_errno(rc);
	if ((rc = mdb_get(txn, j->changes, &k, &v)) == 0) {
		if ((*blob = malloc(v.mv_size)) == NULL) {
			rc = ENOMEM;
		} else {
			memcpy(*blob, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	mdb_txn_abort(txn);
	return jn_errno(rc);
}
