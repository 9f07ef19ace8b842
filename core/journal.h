/*
 * journal: the database of one device — the only user of LMDB.
 *
 * One LMDB environment per database directory (open it after any fork), one
 * per process.  Every local write is one change, appended to the journal
 * together with the state it produces in one transaction; remote changes are
 * applied idempotently in per-origin order.  Named databases:
 *   meta        "self" -> origin, "dbid" -> 32 bytes, "hlc" -> last clock, ...
 *   changes     origin|seq -> change blob (as sealed at its origin)
 *   vv          origin -> highest contiguous seq applied
 *   fields      register key -> entries (multi-value register)
 *   superseded  origin|seq -> register keys replaced before it arrived
 *   records     coll\0rec -> mtime | canonical length | canonical | raw bytes
 *   collections coll -> "" (visible collections)
 *   conflicts   register key -> "" (registers holding several entries)
 *   rejects     coll\0rec -> reason \0 rejected bytes (local only)
 *
 * Register keys are coll\0rec\0 then M (marker), F+field (fields up to
 * 100 bytes) or G+BLAKE2b(field); the register value starts with the field
 * name.  superseded is a dupsort db.
 *
 * Durability (DESIGN §3): commits flush data pages (MDB_NOMETASYNC), so the
 * database is never corrupted (D3); a write whose call returned survives a
 * crash of the process (D1: committed, or logged to DB/wal with
 * JOURNAL_BATCH, applied again by journal_recover); journal_sync() commits
 * and flushes the meta page too (D2),
 * and journal_missing() hands out changes only from a snapshot whose LMDB
 * transaction id is known durable, syncing first if it is not (D4; nothing
 * counts as durable at open, so a reopened device syncs before it sends).
 * MDB_MAP_FULL grows the map and retries; a full disk is ENOSPC.
 *
 * Threads: any thread may call any function (read transactions are
 * MDB_NOTLS).  With JOURNAL_BATCH the opening thread owns the batch: its
 * reads see its uncommitted writes; other threads read what is committed
 * and their writes wait for the batch's commit.  Only the owner begins,
 * writes into and commits the batch (LMDB's writer lock is a robust mutex
 * held by the thread that began the write transaction, so the commit, and
 * the fdatasync of data pages inside it, cannot move to another thread; and
 * committing without that sync, to sync later elsewhere, would let the meta
 * page reach the disk before the pages it points to: D3).  journal_sync()
 * from another thread syncs what is committed (jn_sync: mdb_env_sync needs
 * no lock) but not the owner's batch.  So the mount serves FUSE requests from
 * one thread (fs/loop.c), the owner; the network thread reads snapshots and
 * applies remote changes in transactions of its own.
 *
 * Errors: functions return 0 (or a count) or -1 with errno; LMDB codes map
 * to errno in one place: MDB_NOTFOUND -> ENOENT, MDB_MAP_FULL -> ENOSPC, else
 * EIO (or the system errno LMDB passed through).
 *
 * The module is core/journal*.c: core/journal_int.h says which file owns
 * what; registers merge by the rules of core/crdt.h, the wal is core/wal.h.
 */
#ifndef BLAZEFS_JOURNAL_H
#define BLAZEFS_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/change.h"
#include "core/vv.h"

struct journal;

#define JOURNAL_NOSYNC 0x1 /* tests and benchmarks of the floor only: no fsync */
#define JOURNAL_RDONLY 0x2 /* read-only (status, log, export) */
#define JOURNAL_BATCH 0x4  /* group the opening thread's writes (see journal_flush) */

/*
 * Seals and opens change blobs (DESIGN §4).  seal turns an encoded change
 * (header in clear) into the blob stored and sent, carrying prev, the hash of
 * the blob its origin made before it (CHANGE_PREV_BYTES); open turns a blob
 * back.  Both return a malloc'd buffer in *out, 0, or -1 (open: forged or
 * corrupt).  Without hooks, blobs are the encoded changes.
 */
struct journal_crypto {
	int (*seal)(void *ctx, const uint8_t *in, size_t len, const uint8_t *prev, uint8_t **out,
	            size_t *outlen);
	int (*open)(void *ctx, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen);
	void *ctx;
};

/*
 * Called after a remote change is committed, once for every record it
 * touched (rec is "" for a change to a collection marker).
 */
typedef void journal_observer(void *ctx, const char *coll, const char *rec);

/* fn(ctx) runs after every local change commits (to wake the network). */
void journal_set_local_hook(struct journal *j, void (*fn)(void *ctx), void *ctx);

/* Called for each name listed; return nonzero to stop the listing. */
typedef int journal_list_cb(void *ctx, const char *name);

/*
 * Creates a database in directory dir (made 0700 if missing, set to 0700 if
 * it exists) for device self,
 * with database id dbid.  Fails with EEXIST if one is there.  Returns 0 or -1.
 */
int journal_create(const char *dir, uint64_t self, const uint8_t dbid[32]);

/* Opens the database in dir.  Returns a journal or NULL with errno. */
struct journal *journal_open(const char *dir, int flags);

/* Closes j.  journal_close(NULL) does nothing. */
void journal_close(struct journal *j);

uint64_t journal_self(const struct journal *j);
/* Copies the database id. */
void journal_dbid(const struct journal *j, uint8_t dbid[32]);
/* Installs the seal/open hooks (copied). */
void journal_set_crypto(struct journal *j, const struct journal_crypto *c);
void journal_set_observer(struct journal *j, journal_observer *cb, void *ctx);

/* Flushes everything to disk (D2).  Returns 0 or -1. */
int journal_sync(struct journal *j);

/*
 * With JOURNAL_BATCH, the writes of the thread that opened the journal (the
 * owner) share one LMDB transaction (group commit), committed once they
 * pause for about 1 ms and at most 20 ms after the first: each is logged to DB/wal before its call
 * returns, so a crash of the process loses none (D1) and a reopen replays them.  The owner calls
 * journal_batch_due() for how many milliseconds remain before it must call
 * journal_flush() (-1: nothing pending).  Other threads' calls never see or
 * join the batch: their writes wait for it to be committed.
 */
int journal_batch_due(struct journal *j);
/* Commits the owner's batch (no fsync: journal_sync does that).  A commit
 * that failed (ENOSPC) keeps its writes readable, in a batch the owner's next
 * read or write opens again; journal_batch_due() then says when to retry.
 * 0 or -1. */
int journal_flush(struct journal *j);
/*
 * Applies and commits the writes DB/wal still holds after a crash of a
 * mount (owner only; install the seal hooks first, as they seal these
 * writes' changes).  Returns 0, or -1 with errno (the wal is then kept).
 */
int journal_recover(struct journal *j);

/* Local metadata (not synced): small values by key. */
int journal_meta_put(struct journal *j, const char *key, const void *val, size_t len);
/* *val is malloc'd.  -1 with ENOENT if absent. */
int journal_meta_get(struct journal *j, const char *key, void **val, size_t *len);

/* What a read of a record returns, and when its record last changed. */
struct journal_stat {
	uint64_t size;     /* bytes a read returns */
	uint64_t mtime_ms; /* of the record's last change */
	uint64_t version;  /* hlc of that change */
};

/* ---- local writes: each is at most one change, in one transaction ---- */

/*
 * Writes record rec of coll from the bytes a user wrote.  Creates the
 * collection's marker if it has none.  An unchanged write makes no change.
 * Bad content fails with EINVAL (or EFBIG) and *why set; the record is then
 * untouched.  Remembers the bytes so reads return them as written while the
 * record keeps the state they parse to.
 */
int journal_write_record(struct journal *j, const char *coll, const char *rec, const char *buf,
                         size_t len, const char **why);
/*
 * Writes the internal, synced record .devices/<devid> (DESIGN §4: id, name,
 * public key, priority).  Its "priority" field orders concurrent writes.
 */
int journal_write_device(struct journal *j, const char *devid, const char *json, const char **why);
/*
 * Like journal_write_record, for a writer that read base (the bytes of the
 * record when it opened it) before writing buf: only the fields it changed
 * are written, so a change that arrived meanwhile to another field is kept,
 * and one to the same field stays as a conflict.  base NULL (or not a
 * record) is a plain write.
 */
int journal_edit_record(struct journal *j, const char *coll, const char *rec, const char *base,
                        size_t baselen, const char *buf, size_t len, const char **why);
/*
 * What a writer closing a record calls, once: journal_edit_record, and in the
 * same call the rejected bytes kept for the record (journal_reject_get) are
 * dropped on success or, if buf is rejected, replaced by buf and the reason;
 * either way one transaction and at most one wal entry.  Returns 0 with *st
 * the record's stat after the write; or -1 with *why set and errno EINVAL or
 * EFBIG: rejected, buf kept; or -1 with another errno: failed (if *why is
 * set, buf was rejected and keeping it failed).  An invalid name is EINVAL
 * or ENAMETOOLONG with *why "invalid name" and nothing kept.
 */
int journal_save_record(struct journal *j, const char *coll, const char *rec, const char *base,
                        size_t baselen, const char *buf, size_t len, const char **why,
                        struct journal_stat *st);
/* Deletes a record (ENOENT if not visible) and any rejected bytes kept for it. */
int journal_delete_record(struct journal *j, const char *coll, const char *rec);
/* Renames a record in one change: the old one deleted, the new one written
 * (replacing what was there). */
int journal_rename_record(struct journal *j, const char *c1, const char *r1, const char *c2,
                          const char *r2);
/*
 * Settles field of record (coll, rec): one change that sets it to value
 * (canonical JSON text) replacing every entry it holds, so a conflict is
 * gone even when value is what already shows (a plain write of that is no
 * change).  ENOENT if the record is not visible; EINVAL for a journal opened
 * with JOURNAL_BATCH (the command line's, not a mount's) or a value that is
 * not JSON.
 */
int journal_settle_field(struct journal *j, const char *coll, const char *rec, const char *field,
                         const char *value);
/* Creates a collection (EEXIST if visible). */
int journal_mkcol(struct journal *j, const char *coll);
/* Removes an empty collection (ENOENT, ENOTEMPTY if it holds records). */
int journal_rmcol(struct journal *j, const char *coll);

/* ---- reads ---- */

int journal_stat_record(struct journal *j, const char *coll, const char *rec,
                        struct journal_stat *st);
/* The bytes a read of the record returns (malloc'd, NUL-terminated). */
int journal_read_record(struct journal *j, const char *coll, const char *rec, char **buf,
                        size_t *len);
/* 1 if the collection is visible, 0 if not, -1 on error. */
int journal_col_exists(struct journal *j, const char *coll);
/* Lists collections (or coll's records) in byte order, from the first name
 * after `after` ("" for the start), without loading them all.  coll may be
 * the internal ".devices" (whose records journal_read_record reads too). */
int journal_list_cols(struct journal *j, const char *after, journal_list_cb *cb, void *ctx);
int journal_list_records(struct journal *j, const char *coll, const char *after,
                         journal_list_cb *cb, void *ctx);
/* Lists the records of coll that have a rejected write, the same way (some
 * may also be stored records). */
int journal_list_rejects(struct journal *j, const char *coll, const char *after,
                         journal_list_cb *cb, void *ctx);
/*
 * The version vector as the caller reads: the owner's open batch included, so
 * a write whose close() returned is in it (read-your-writes, for status);
 * other threads get the last commit, as journal_vv.  0 or -1; vv_clear v.
 */
int journal_vv_read(struct journal *j, struct vv *v);
/*
 * For a reader in another process (JOURNAL_RDONLY) of a mounted database:
 * waits (at most timeout_ms) until the batch pending in DB/wal when called
 * is committed, so what it reads next includes every write whose close()
 * returned before the call.  0 once settled (or nothing pending), -1 with
 * ETIMEDOUT if not (a batch that cannot commit: a full disk).
 */
int journal_wait_settled(const char *dir, int timeout_ms);
/* Counts the user's collections and records, and the conflicts (for status). */
int journal_counts(struct journal *j, uint64_t *ncols, uint64_t *nrecs, uint64_t *nconflicts);

/*
 * The conflicts of one record, or of the whole database when coll is NULL,
 * as a malloc'd JSON text: an array of {"collection", "record", "field",
 * "value", "entries": [{"device", "hlc", "value"}...]} with the visible
 * winner first.
 */
char *journal_conflicts_json(struct journal *j, const char *coll, const char *rec);

/* ---- rejected writes (DESIGN §7), local only ---- */

int journal_reject_put(struct journal *j, const char *coll, const char *rec, const char *why,
                       const char *buf, size_t len);
/* The rejected bytes (malloc'd) and reason; -1 ENOENT if none. */
int journal_reject_get(struct journal *j, const char *coll, const char *rec, char **buf,
                       size_t *len, char **why);
int journal_reject_del(struct journal *j, const char *coll, const char *rec);
/* All rejects as a malloc'd JSON array of {"collection","record","error"}. */
char *journal_rejects_json(struct journal *j);

/* ---- sync ---- */

/* The version vector.  Returns 0 or -1; v is to be vv_clear'ed. */
int journal_vv(struct journal *j, struct vv *v);

/*
 * What applying one remote blob came to.  Refusals are negative: nothing of
 * the blob is written, the sender broke the rules (journal_refusal names why).
 */
enum journal_result {
	JOURNAL_APPLIED = 0,
	JOURNAL_DUPLICATE = 1,    /* seq <= vv[origin], the same bytes */
	JOURNAL_GAP = 2,          /* seq > vv[origin] + 1: it does not follow */
	JOURNAL_EQUIVOCATION = 3, /* seq <= vv[origin], other bytes, validly signed:
	                           * kept as evidence, the origin flagged (the
	                           * first time; then a duplicate) */
	JOURNAL_REFUSED = -1,     /* forged (bad signature), corrupt or undecodable */
	JOURNAL_NOT_MEMBER = -2,  /* its origin is not a member */
	JOURNAL_OWN_ORIGIN = -3,  /* claims this device's origin, beyond what it wrote */
	JOURNAL_NO_AUTHORITY = -4 /* changes membership, and its origin is not an admin */
};

/* Why a result was a refusal, in words ("" if it was not). */
const char *journal_refusal(int result);

/*
 * Applies a remote change blob: enum journal_result, or -1 with errno
 * (EINVAL: refused; ENOSPC; EIO).
 */
int journal_apply_remote(struct journal *j, const uint8_t *blob, size_t len);

/*
 * Applies n remote blobs in one transaction, in order; results[i] is the
 * enum journal_result of blob i.  Returns 0, or -1 with errno if the transaction failed (then
 * nothing was applied).
 */
int journal_apply_batch(struct journal *j, const uint8_t *const *blobs, const size_t *lens,
                        size_t n, int *results);

/*
 * Calls cb for the changes not covered by have, per origin in seq order,
 * up to max_bytes of blobs (at least one).  Only durable changes are handed
 * out.  Returns how many were handed out, or -1.  cb returns nonzero to stop.
 */
typedef int journal_blob_cb(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob,
                            size_t len);
long journal_missing(struct journal *j, const struct vv *have, size_t max_bytes,
                     journal_blob_cb *cb, void *ctx);
/* journal_missing for the origins want(wctx, origin) says 1 to (want NULL:
 * all): a peer pulls each origin from one source (net/sync.c). */
typedef int journal_origin_fn(void *wctx, uint64_t origin);
long journal_missing_from(struct journal *j, const struct vv *have, journal_origin_fn *want,
                          void *wctx, size_t max_bytes, journal_blob_cb *cb, void *ctx);

/* Reads one change blob (malloc'd).  -1 ENOENT if absent. */
int journal_get_change(struct journal *j, uint64_t origin, uint64_t seq, uint8_t **blob,
                       size_t *len);

/* ---- trust (DESIGN §4, core/journal_trust.c) ---- */

/*
 * Once a trust root is set (init and join set it), every remote change must
 * come from a member and carry its origin's signature (CHANGE_SIG_BYTES at
 * the end of the blob, made by the seal hook), and only admins may change
 * .devices.  Members are what .devices says, read as facts that only grow,
 * so every replica that applied the same changes agrees whatever the order:
 * a device becomes a member when an admin writes its record with both keys
 * (public_key, whose hash is its id, and sign_key), with the role it is
 * given then ("admin" or not, fixed from then on); "removed": true removes it
 * for good.  A journal without a root (tests of the merge alone) checks none
 * of this.
 */
#define JOURNAL_ADMIN 0x1
#define JOURNAL_REMOVED 0x2
#define JOURNAL_EQUIVOCATED 0x4 /* signed two changes with one (origin, seq) */

struct journal_member {
	uint64_t origin;
	uint64_t rank; /* the order this replica learnt of members in: 0 the root */
	unsigned flags;
	uint8_t sign_pub[32]; /* Ed25519 */
	uint8_t box_pub[32];  /* X25519: the Noise static key */
};

/* A device's id: the hash of its X25519 public key (DESIGN §4). */
uint64_t journal_key_origin(const uint8_t pub[32]);

/* Sets the trust root: the database's first device, an admin.  Once. */
int journal_set_root(struct journal *j, uint64_t origin, const uint8_t sign_pub[32],
                     const uint8_t box_pub[32]);
/* The root (-1 ENOENT if none). */
int journal_root(struct journal *j, struct journal_member *m);
/* One member (-1 ENOENT if not one). */
int journal_member(struct journal *j, uint64_t origin, struct journal_member *m);
/*
 * The members in rank order as a new JSON array of {"device", "name",
 * "priority", "role", "removed", "equivocated", "last_seen_ms" (wall clock,
 * 0: never; journal meta "seen/<device>", kept by the network)}.  NULL with
 * errno.
 */
json_t *journal_members_json(struct journal *j);

/* ---- clocks (local metadata, see core/journal_clock.c) ---- */

/*
 * Sets how many milliseconds local changes are stamped behind the wall clock
 * (the network sets it when this device's clock is ahead of every peer's by
 * more than HLC_MAX_DRIFT_MS; 0 otherwise).  Kept across restarts.  0 or -1.
 */
int journal_set_clock_offset(struct journal *j, uint64_t ms);
uint64_t journal_clock_offset(struct journal *j);

/*
 * What this device knows of skewed clocks, as a new JSON object:
 * {"offset_ms": N, "saved_clock_dropped_ms": N (the saved clock was that far
 * beyond the bound at open, and was not carried forward),
 * "changes_ahead": [{"device", "ahead_ms", "seen_ms"}] (devices whose last
 * change came more than the bound ahead of this device's clock)}.  NULL
 * with errno.
 */
json_t *journal_clock_json(struct journal *j);

/* Test hook: initial map size in bytes (0 = default).  Set before open. */
void journal_set_initial_mapsize(size_t bytes);
/* Drops the database's pages from the process if too many are resident
 * (they are the page cache's; a listing of a million records maps them
 * all).  Cheap: looks at most every 50 ms.  Any thread. */
void journal_trim(struct journal *j);
/* Test hook: how much of the map may stay resident (0 = default). */
void journal_set_map_rss_max(size_t bytes);

#endif
