#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <lmdb.h>

#include "core/bytes.h"
#include "core/journal_int.h"

/* ---- batching: local writes share one transaction (group commit) ---- */

/*
 * With JOURNAL_BATCH, the owner's local writes run as nested transactions of
 * one open write transaction, committed once the writes pause for
 * BATCH_IDLE_US, at most BATCH_MAX_MS after the first or once the wal holds
 * BATCH_MAX_WAL bytes (or at journal_flush / journal_sync): one fdatasync
 * for many writes.  Each write
 * is first appended to the write-ahead file DB/wal (write(2), no fsync), so a
 * write whose call returned survives a crash of the process (D1).  Each
 * entry carries the LMDB txn id of the batch it belongs to, and each batch
 * commits its own id as meta WAL_TXN_META, in the same transaction as its
 * writes.  The wal holds the writes not known to be committed: it is
 * emptied after each commit, and whatever it holds at the next mount (or
 * after a failed commit) is applied again before anything else
 * (journal_recover), with the seal hooks in place — but only the entries of
 * a batch newer than the last one committed.  So applying the wal again is
 * harmless: a crash between a commit and the emptying, or a stale wal that a
 * power cut left beside a newer database (its emptying never reached the
 * disk, a later sync did), applies nothing, and nothing older is written
 * over what is committed (D2).  Another process's commits take txn ids too,
 * which is why the batch's own id is committed rather than compared with the
 * env's last txn id.  The network side reads only snapshots whose txn is
 * synced (D4).
 *
 * A commit that fails (a full disk) keeps the writes: the wal still holds
 * them, the next read or write of the owner opens a new batch that applies
 * them again (so they stay readable and listed), and the commit is retried
 * every RETRY_MS until it succeeds.
 *
 * The wal's format is core/wal.h's.
 */

#define WAL_TXN_META "wal_txn" /* u64: the txn id of the last batch committed */
#define RETRY_MS 50            /* between attempts to commit after a failure */

/* A failed commit's code, told as ENOSPC when the disk is full: LMDB says
 * EIO for a short write, which is what a disk filling up mid-commit gives. */
static int
jn_commit_error(struct journal *j, int rc)
{
	struct statvfs sv;
	int fd;

	if (rc == EIO && mdb_env_get_fd(j->env, &fd) == 0 && fstatvfs(fd, &sv) == 0 &&
	    sv.f_bavail == 0)
		return ENOSPC;
	return rc;
}

/*
 * Commits the open batch, with its txn id as WAL_TXN_META, then empties the
 * wal; with sync, the commit is made durable before the wal is emptied.
 * Returns 0 or an LMDB code / errno.
 */
static int
jn_flush_sync(struct journal *j, int sync)
{
	uint8_t id[8];
	int rc, local = j->batch_local;

	if (j->batch == NULL)
		return 0;
	be64(id, mdb_txn_id(j->batch));
	if ((rc = jn_meta_put(j, j->batch, WAL_TXN_META, id, 8)) == 0) {
		jn_trim(j);
		rc = mdb_txn_commit(j->batch);
	} else {
		mdb_txn_abort(j->batch);
	}
	j->batch = NULL;
	j->batch_local = 0;
	if (rc) {
		/* The batch is gone from LMDB but not from the wal: the next batch
		 * starts by applying it again, and so would a reopen. */
		j->wal_kept = 1;
		j->retry_ms = hlc_mono_ms() + RETRY_MS;
		return jn_commit_error(j, rc);
	}
	j->wal_kept = 0;
	j->retry_ms = 0;
	if (local && j->on_local != NULL)
		j->on_local(j->on_local_ctx);
	/* A failed sync keeps the wal: its entries are committed, so applying
	 * it again would skip them. */
	if (sync && (rc = jn_sync(j)))
		return rc;
	wal_truncate(j->wal, 0); /* a failure only leaves entries a reopen skips */
	return 0;
}

/* Commits the open batch (no sync).  Returns 0 or an LMDB code / errno. */
static int
jn_flush(struct journal *j)
{
	return jn_flush_sync(j, 0);
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
	uint8_t *b;
	size_t n;
	int rc, tries;

	for (tries = 0;; tries++) {
		if ((rc = jn_txn_begin(j, NULL, 0, &j->batch))) {
			j->batch = NULL;
			return rc;
		}
		j->batch_ms = hlc_mono_ms();
		j->batch_last_us = 0;
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
		if ((rc = jn_grow(j)))
			return rc;
	}
}

int
jn_local(struct journal *j, txn_fn *fn, void *arg, enum wal_op op, const struct wal_arg *wa,
         int nwa)
{
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
			rc = wal_append(j->wal, op, mdb_txn_id(j->batch), wa, nwa) ? errno : 0;
		if (rc == 0) {
			if ((rc = mdb_txn_commit(child)))
				wal_truncate(j->wal, mark);
		} else {
			mdb_txn_abort(child);
		}
		if (rc == 0) {
			j->batch_local |= j->local_commit;
			j->batch_last_us = hlc_mono_us();
		}
		if (rc == MDB_MAP_FULL && j->replaying)
			j->map_full = 1; /* jn_batch_begin grows the map and starts over */
		if (rc != MDB_MAP_FULL || j->replaying || tries >= MAX_GROW)
			return jn_errno(rc);
		/* Commit what the batch holds, then grow the map and retry. */
		if (mark > 0)
			wal_truncate(j->wal, mark);
		if ((rc = jn_flush(j)) || (rc = jn_grow(j)))
			return jn_errno(rc);
	}
}

/* Applies and commits what the wal holds, if anything (owner only); with
 * sync, durably before the wal is emptied. */
static int
jn_recover(struct journal *j, int sync)
{
	int rc;

	if (!j->wal_kept || j->batch != NULL)
		return 0;
	if ((rc = jn_batch_begin(j))) {
		/* Not again before RETRY_MS: journal_batch_due would say "now"
		 * forever, and the owner's loop would do nothing else. */
		j->retry_ms = hlc_mono_ms() + RETRY_MS;
		return rc;
	}
	return jn_flush_sync(j, sync);
}

/* A commit failed and no batch holds its writes again yet.  Only then does
 * anything but journal_recover (or a write) apply the wal: a wal left by a
 * crash waits for journal_recover, which runs once the seal hooks are in. */
static int
jn_retrying(const struct journal *j)
{
	return j->batch == NULL && j->wal_kept && j->retry_ms != 0;
}

int
jn_batch_resume(struct journal *j)
{
	if (!jn_owner(j) || !jn_retrying(j))
		return 0;
	return jn_batch_begin(j);
}

int
journal_flush(struct journal *j)
{
	if (!jn_owner(j))
		return 0;
	if (jn_retrying(j))
		return jn_errno(jn_recover(j, 0));
	return jn_errno(jn_flush(j));
}

int
journal_recover(struct journal *j)
{
	if (!jn_owner(j))
		return 0;
	/* Synced before the wal is emptied: the writes it held were
	 * acknowledged, and nothing but the wal holds them yet. */
	return jn_errno(jn_recover(j, 1));
}

int
journal_batch_due(struct journal *j)
{
	uint64_t now, due, idle;

	if (!jn_owner(j) || (j->batch == NULL && !jn_retrying(j)))
		return -1;
	now = hlc_mono_us();
	due = now;
	if (j->batch != NULL) {
		due = (j->batch_ms + BATCH_MAX_MS) * 1000u;
		idle = (j->batch_last_us ? j->batch_last_us : j->batch_ms * 1000u) + BATCH_IDLE_US;
		if (idle < due)
			due = idle;
		if (wal_size(j->wal) >= BATCH_MAX_WAL)
			due = now;
	}
	if (j->retry_ms * 1000u > due)
		due = j->retry_ms * 1000u; /* a failed commit: not before the retry */
	return due <= now ? 0 : (int)((due - now + 999) / 1000);
}

/* ---- the wal applied again ---- */

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
 * Re-runs the writes logged in b that no committed batch covers.  Entries
 * after a damaged one are dropped (only a power loss tears the file).
 * Returns 0 or the first errno that must keep the wal.
 */
static int
jn_replay(struct journal *j, const uint8_t *b, size_t n)
{
	struct wal_entry e;
	uint64_t done = 0;
	size_t off = 0;
	MDB_val v;
	int rc;

	/* The batches up to the last one committed are in LMDB already. */
	if (jn_meta_get(j, j->batch, WAL_TXN_META, &v) == 0 && v.mv_size == 8)
		done = get64(v.mv_data);
	while (wal_next(b, n, &off, &e)) {
		/* An old-format entry (txn 0) cannot be ordered: applied, as the
		 * version that wrote it would have (after a kill -9 it holds
		 * acknowledged writes; only a power cut could make it stale). */
		if (e.txn != 0 && e.txn <= done)
			continue;
		if ((rc = jn_replay_one(j, &e)))
			return rc;
	}
	return 0;
}

/* ---- open, create, close ---- */

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
	/* An existing directory (made by hand, say 0755) holds the keys too:
	 * it is tightened before anything goes into it. */
	if (chmod(dir, 0700))
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
	if ((rc = jn_snapshot(j, &txn)))
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
	jn_clock_open(j, txn); /* ... but not a skew beyond the bound */
	jn_trust_open(j, txn);
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
	/* A failure leaves the writes in the wal for the next open. */
	if (jn_owner(j))
		(void)(jn_retrying(j) ? jn_recover(j, 1) : jn_flush_sync(j, 1));
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

int
journal_sync(struct journal *j)
{
	int rc;

	if (j->flags & JOURNAL_RDONLY)
		return 0;
	/* The wal is emptied only after the sync covers what it held. */
	if (jn_owner(j) && ((rc = jn_recover(j, 1)) || (rc = jn_flush_sync(j, 1))))
		return jn_errno(rc);
	return jn_errno(jn_sync(j));
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
	int borrowed;
	MDB_val v;
	int rc;

	*out = NULL;
	*len = 0;
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
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
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}
