/*
 * journal_int: what the files of the journal module share, and nothing
 * outside core/journal*.c includes.  The journal is one module (prefix
 * journal_ for the API in journal.h, jn_ for these internals) split by
 * concern:
 *   journal_store.c   the LMDB environment, its named databases, the one
 *                     LMDB->errno map, the transaction runner, map growth,
 *                     and the typed values of the databases (meta, vv,
 *                     registers)
 *   journal_apply.c   applying a change: registers (rules in crdt.c),
 *                     superseded ids, the rendered records and collections
 *   journal.c         open, create, close, sync; batching and the wal's
 *                     replay; local metadata
 *   journal_write.c   local writes: each is at most one change
 *   journal_read.c    reads, listings, counts and conflicts
 *   journal_reject.c  the rejected bytes kept for records (local only)
 *   journal_clock.c   the clock local changes are stamped with and what is
 *                     known of skewed clocks (local only)
 *   journal_trust.c   members, the trust root, signatures, equivocation
 *   journal_sync.c    what the network reads and applies: vv, missing
 *                     changes, remote changes
 *
 * Internal functions return 0 or a code: an errno (> 0) or an LMDB code,
 * which jn_errno turns into -1 with errno at the module's edge.
 */
#ifndef BLAZEFS_JOURNAL_INT_H
#define BLAZEFS_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <lmdb.h>

#include "core/crdt.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "core/wal.h"

#define MAX_GROW 16 /* doublings of the map one write may make */
/* Group commit: a batch is committed once the owner's writes pause for
 * BATCH_IDLE_US (a lone save commits about 1 ms after it), and at the latest
 * BATCH_MAX_MS after it began (a stream of saves pays one commit, one
 * fdatasync, per BATCH_MAX_MS instead of one per few records). */
#define BATCH_IDLE_US 1000
#define BATCH_MAX_MS 20
/* ... or once the wal holds this much: what a full disk leaves to apply
 * again (and needs room for) stays as small as 2 ms batches left it. */
#define BATCH_MAX_WAL (64 * 1024)

struct journal {
	MDB_env *env;
	MDB_dbi meta, changes, vv, fields, superseded, records, cols, conflicts, rejects;
	MDB_dbi members, evidence; /* journal_trust.c */
	uint64_t self;
	int trust; /* a trust root is set: changes are signed and checked (journal_trust.c) */
	uint8_t dbid[32];
	int flags;
	/* The highest LMDB transaction id known durable (atomic): 0 at open, as
	 * a kill -9 may leave commits in the page cache that never reached the
	 * disk.  Only jn_sync raises it (D4). */
	size_t synced_txnid;
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
	uint64_t retry_ms; /* a commit failed: not again before this (monotonic) */
	int replaying;     /* applying the wal: do not log again */
	int map_full;      /* applying the wal ran out of map */
	uint64_t batch_ms; /* when it began (monotonic) */
	int batch_local;   /* it holds a local change */
	/* The batch's last local write (monotonic, µs): it commits when idle. */
	uint64_t batch_last_us;
	/* journal_clock.c: ms taken off the wall for local stamps (atomic), and
	 * what the saved clock was beyond the bound at open. */
	uint64_t clock_offset;
	uint64_t clock_dropped;
	int clock_reset; /* the offset grew: restart the clock from the wall (atomic) */
	/* jn_trim: set while the map may move (mdb_env_set_mapsize) or its
	 * pages are dropped (journal_store.c); when the resident size was last
	 * looked at (µs).  Both atomic. */
	int map_busy;
	uint64_t trim_us;
};

/* Records touched by a change, for re-rendering and notification. */
struct touch {
	char *coll, *rec;
};
struct touched {
	size_t n;
	struct touch *t;
};

/* A write transaction's work: returns 0, TXN_NOOP, an errno or an LMDB code. */
typedef int txn_fn(struct journal *j, MDB_txn *txn, void *arg);

/* What a txn_fn returns when it changed nothing: commit nothing, succeed. */
#define TXN_NOOP (-1)

/* An MDB_val of n bytes at p (LMDB does not write through it). */
static inline MDB_val
jn_val(const void *p, size_t n)
{
	MDB_val v = {n, (void *)p};
	return v;
}

/* ---- journal_store.c ---- */

/* Maps an LMDB code or errno to -1 with errno (MDB_NOTFOUND -> ENOENT,
 * MDB_MAP_FULL -> ENOSPC, other LMDB codes -> EIO); 0 stays 0. */
int jn_errno(int rc);

/* Opens the environment of dir and its named databases (creating them with
 * create = MDB_CREATE).  Returns a journal or NULL with errno. */
struct journal *jn_env(const char *dir, int flags, unsigned int create);

/* mdb_txn_begin, adopting a map another process grew.  An LMDB code. */
int jn_txn_begin(struct journal *j, MDB_txn *parent, unsigned int flags, MDB_txn **txn);

/*
 * The pages of the map a process has touched count in its RSS (and for the
 * OOM killer), though they are the page cache's: a device catching up on a
 * million records, or listing them, would show the whole database.  Past
 * MAP_RSS_MAX they are dropped from the process (MADV_DONTNEED on LMDB's
 * shared read-only map: the next access maps the same page of the page cache
 * again), holding the map in place as its moves do.  Looks at most once per
 * TRIM_US; any thread.
 */
void jn_trim(struct journal *j);

/* Doubles the map after MDB_MAP_FULL.  0 or an LMDB code. */
int jn_grow(struct journal *j);

/*
 * Runs fn in a write transaction and commits it.  MDB_MAP_FULL grows the map
 * and runs fn again.  Returns 0 or -1 with errno.
 */
int jn_write(struct journal *j, txn_fn *fn, void *arg);

/* A read transaction of what is committed: MDB_NOTLS lets any thread hold
 * one.  An LMDB code. */
int jn_snapshot(struct journal *j, MDB_txn **txn);

/*
 * Makes every committed transaction durable: reads the last committed txn id
 * before mdb_env_sync(env, 1) (commits fdatasync their data pages, the sync
 * covers the meta pages written before it), then raises synced_txnid to it.
 * Read-only journals do nothing.  An LMDB code.
 */
int jn_sync(struct journal *j);

/* A snapshot whose transaction is durable (synced first if need be): what
 * the network hands out comes only from these (D4).  An LMDB code. */
int jn_snapshot_synced(struct journal *j, MDB_txn **txn);
/* Makes snapshot txn durable if it is not yet (jn_sync).  An LMDB code. */
int jn_durable(struct journal *j, MDB_txn *txn);

/* The calling thread's id, cached (no thread library in core/). */
pid_t jn_tid(void);

/* Is the caller the thread that owns the batch? */
int jn_owner(const struct journal *j);

/*
 * A read transaction: the owner's open batch (every write of its own visible
 * at once) or a snapshot.  *borrowed says which, for jn_read_end: only the
 * owner ever looks at j->batch.  An LMDB code.
 */
int jn_read_begin(struct journal *j, MDB_txn **txn, int *borrowed);
/* Ends what jn_read_begin began (a borrowed batch stays open). */
void jn_read_end(MDB_txn *txn, int borrowed);

/* Local metadata by key.  LMDB codes. */
int jn_meta_get(struct journal *j, MDB_txn *txn, const char *key, MDB_val *v);
int jn_meta_put(struct journal *j, MDB_txn *txn, const char *key, const void *p, size_t n);

/* The register of key k (empty if absent), to be crdt_reg_clear'ed. */
int jn_reg_get(struct journal *j, MDB_txn *txn, const uint8_t *k, size_t kl, struct crdt_reg *r);
/* Stores r (deleting it when empty) and keeps the conflicts db in step. */
int jn_reg_put(struct journal *j, MDB_txn *txn, const uint8_t *k, size_t kl, struct crdt_reg *r);

/* The highest seq of origin applied here (0 if none or unreadable). */
uint64_t jn_vv_get(struct journal *j, MDB_txn *txn, uint64_t origin);
int jn_vv_put(struct journal *j, MDB_txn *txn, uint64_t origin, uint64_t seq);

/* ---- journal_apply.c ---- */

/* Index of the visible entry of r, the priorities read in txn. */
size_t jn_winner(struct journal *j, MDB_txn *txn, const struct crdt_reg *r);

/* Iterates the registers of (coll, rec) in key order; fn returns nonzero to
 * stop (that value is returned). */
typedef int jn_reg_fn(void *ctx, const uint8_t *k, size_t kl, struct crdt_reg *r);
int jn_each_reg(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, jn_reg_fn *fn,
                void *ctx);

/*
 * The records value of (coll, rec): u64 mtime hlc | u32 canonical length |
 * canonical | raw.  raw (the bytes a local write used) is kept while it
 * parses to the state.  An LMDB code (EIO if malformed).
 */
int jn_record_get(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, MDB_val *v);
/* The visible bytes of a records value: raw if kept, else canonical. */
void jn_visible(const MDB_val *v, const char **p, size_t *n);

/*
 * Re-renders a record after a change at hlc (0: keep the stored mtime).  raw,
 * if not NULL, is what a local write used (kept if it parses to the state);
 * otherwise the stored raw bytes survive if the canonical rendering did not
 * change.
 */
int jn_record_update(struct journal *j, MDB_txn *txn, const char *coll, const char *rec,
                     uint64_t hlc, const char *raw, size_t rawlen);

/* Adds (coll, rec) to t once.  0 or ENOMEM. */
int jn_touched_add(struct touched *t, const char *coll, const char *rec);
/* Moves t's entries to the end of all, repeats and all (t is left empty).
 * 0 or ENOMEM (t unchanged). */
int jn_touched_move(struct touched *all, struct touched *t);
/* Sorts t and drops its repeated entries. */
void jn_touched_uniq(struct touched *t);
void jn_touched_clear(struct touched *t);

/*
 * Stores blob as change c and applies it: registers, version vector,
 * rendered records and collections; t gets the records touched.  raw is the
 * local write's bytes for (raw_coll, raw_rec), or NULL.
 */
int jn_commit_change(struct journal *j, MDB_txn *txn, const struct change *c, const uint8_t *blob,
                     size_t blen, struct touched *t, const char *raw_coll, const char *raw_rec,
                     const char *raw, size_t rawlen);

/* ---- journal.c ---- */

/*
 * A local write: in the owner's batch (logged to the wal first as op with
 * args wa) or, for other threads and without batching, in a transaction of
 * its own.  Returns 0 or -1 with errno.
 */
int jn_local(struct journal *j, txn_fn *fn, void *arg, enum wal_op op, const struct wal_arg *wa,
             int nwa);

/*
 * The owner's reads see the writes of a commit that failed: if the wal
 * holds writes no commit covers and no batch is open, opens one that applies
 * them again.  0 (nothing to do, or done) or an LMDB code / errno.
 */
int jn_batch_resume(struct journal *j);

/* ---- journal_write.c ---- */

/* 0 if coll (and rec, unless NULL) are valid names, else -1 with errno. */
int jn_names_valid(const char *coll, const char *rec);

/* ---- journal_read.c ---- */

/* The stat of (coll, rec) in txn (zeroed first).  An LMDB code. */
int jn_stat(struct journal *j, MDB_txn *txn, const char *coll, const char *rec,
            struct journal_stat *st);

/* ---- journal_clock.c ---- */

/* The wall clock local changes are stamped with: the system's, less the
 * offset the network set (journal_set_clock_offset). */
uint64_t jn_wall(struct journal *j);

/* A fresh timestamp for a local change (under the write lock): the clock
 * kept within the bound of jn_wall. */
uint64_t jn_clock_stamp(struct journal *j);

/* At open, in txn: loads the offset and brings a saved clock beyond the
 * bound back (remembered for journal_clock_json). */
void jn_clock_open(struct journal *j, MDB_txn *txn);

/*
 * Merges the clock of remote change c into ours and remembers, as local
 * metadata, the devices whose changes came more than HLC_MAX_DRIFT_MS ahead
 * (forgotten when one of theirs comes within it).  An LMDB code.
 */
int jn_clock_recv(struct journal *j, MDB_txn *txn, const struct change *c);

/* The local mtime of a change stamped hlc: its time in this device's
 * frame, never later than this device's wall clock. */
uint64_t jn_clock_mtime(struct journal *j, uint64_t hlc);

/* ---- journal_reject.c ---- */

/* Drops the rejected bytes kept for (coll, rec), if any.  An LMDB code. */
int jn_reject_del(struct journal *j, MDB_txn *txn, const char *coll, const char *rec);

/* ---- journal_trust.c ---- */

/* Reads whether a trust root is set (j->trust). */
void jn_trust_open(struct journal *j, MDB_txn *txn);
/* Remote blobs applied in one transaction, with what is known of each one's
 * authorship (auth[i]: 0 not checked yet, 1 its origin's, -1 not), each
 * one's hash (with a trust root), and the last one applied (its index + 1,
 * 0 if none yet): the blob the next of its origin builds on. */
struct jn_batch {
	const uint8_t *const *blobs;
	const size_t *lens;
	size_t n;
	int8_t *auth;
	uint8_t (*hash)[CHANGE_PREV_BYTES];
	size_t last;
	uint64_t last_origin, last_seq;
};
/* The hash of the blob before (origin, seq) into prev (zeros for seq 1):
 * what a version-2 blob (origin, seq) carries.  0 or an LMDB code. */
int jn_prev_hash(struct journal *j, MDB_txn *txn, uint64_t origin, uint64_t seq,
                 uint8_t prev[CHANGE_PREV_BYTES]);
/*
 * Checks remote blob b->blobs[i] (origin, seq; have = vv[origin]) before it
 * is opened: 0 to go on, JOURNAL_DUPLICATE, JOURNAL_EQUIVOCATION (kept,
 * flagged) or a refusal; an LMDB failure in *rc.
 */
int jn_trust_check(struct journal *j, MDB_txn *txn, struct jn_batch *b, size_t i, uint64_t origin,
                   uint64_t seq, uint64_t have, int *rc);
/* 0 if c's origin may make c (membership changes need an admin), else a refusal. */
int jn_trust_allowed(struct journal *j, MDB_txn *txn, const struct change *c, int *rc);
/* Updates the members from c's .devices ops (after it is applied). */
int jn_trust_update(struct journal *j, MDB_txn *txn, const struct change *c);
/* 1 if a peer that has `have` can open blob: it has the change that handed
 * out the blob's content key (or that key is not known to be a later one). */
int jn_trust_ready(struct journal *j, MDB_txn *txn, const uint8_t *blob, size_t len,
                   const struct vv *have);
/* The origins of the vv in the order they are handed out: members by rank,
 * then others (malloc'd). */
int jn_trust_order(struct journal *j, MDB_txn *txn, uint64_t **origins, size_t *n);

/* ---- journal_sync.c ---- */

/* The whole version vector as txn sees it (out vv_clear'ed on failure).
 * 0 or an LMDB error. */
int jn_vv_load(struct journal *j, MDB_txn *txn, struct vv *out);

#endif
