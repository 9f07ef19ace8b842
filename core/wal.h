/*
 * wal: the write-ahead file DB/wal of a batching journal (DESIGN §3, D1).
 * It owns the file: open and lock it, append entries, cut it back, read it
 * whole.  What an entry means is the journal's business; this module only
 * frames them.
 *
 * Entry: "BWL2" | u32 body length | 16-byte BLAKE2b of (txn | body) |
 * u64 txn | body, where body is u8 op | args (u32 length + bytes each) and
 * txn is the id of the LMDB write transaction (the owner's batch) the
 * write belongs to: what orders the entry against the database (the journal
 * applies an entry again only if no batch at least as new was committed).
 * The old format (before the txn id: u32 body length | 16-byte BLAKE2b of
 * body | body) is still decoded, with txn 0, so a wal left by an older
 * version after a kill -9 is applied as that version would have.  The
 * decoder (wal_next) is a pure function over bytes: it does no I/O and never
 * allocates.
 */
#ifndef BLAZEFS_WAL_H
#define BLAZEFS_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The operations logged, with their on-disk byte (never change these). */
enum wal_op {
	WAL_NONE = 0,         /* decoded: unknown op or malformed args (skip it) */
	WAL_WRITE = 'W',      /* coll, rec, buf */
	WAL_EDIT = 'E',       /* coll, rec, base, buf */
	WAL_DEVICE = 'V',     /* devid, json */
	WAL_DELETE = 'D',     /* coll, rec */
	WAL_RENAME = 'R',     /* coll1, rec1, coll2, rec2 */
	WAL_MKCOL = 'M',      /* coll */
	WAL_RMCOL = 'X',      /* coll */
	WAL_META_PUT = 'P',   /* key, value */
	WAL_REJECT_PUT = 'J', /* coll, rec, why, buf */
	WAL_REJECT_DEL = 'K', /* coll, rec */
};

#define WAL_MAX_ARGS 4

/* One argument: n bytes at p (not NUL-terminated). */
struct wal_arg {
	const void *p;
	size_t n;
};

/* A decoded entry; its args point into the buffer it was decoded from. */
struct wal_entry {
	enum wal_op op;
	uint64_t txn; /* the batch's LMDB txn id; 0: an old-format entry */
	int nargs;
	struct wal_arg arg[WAL_MAX_ARGS];
};

struct wal;

/*
 * Opens (creating it 0600) and locks dir/wal.  Returns 0 with *w set, or -1
 * with errno (EBUSY: another process holds it).  Free with wal_close.
 */
int wal_open(const char *dir, struct wal **w);

/* Closes w (and drops its lock).  wal_close(NULL) does nothing. */
void wal_close(struct wal *w);

/* The length of the file: 0 means it holds nothing to apply again. */
off_t wal_size(const struct wal *w);

/*
 * Encodes one entry of transaction txn into a malloc'd buffer (*out, *len).
 * Pure.  Returns 0, or -1 with errno (EINVAL: txn 0, more than WAL_MAX_ARGS
 * args or one too long).
 */
int wal_encode(enum wal_op op, uint64_t txn, const struct wal_arg *a, int na, uint8_t **out,
               size_t *len);

/*
 * Appends one entry of transaction txn (write(2), no fsync: it must survive
 * the process, not the machine; what a power cut leaves is ordered by txn).
 * A failed write leaves no torn entry.  0, or -1 with errno.
 */
int wal_append(struct wal *w, enum wal_op op, uint64_t txn, const struct wal_arg *a, int na);

/* Cuts the file back to len bytes (0: empties it).  0, or -1 with errno. */
int wal_truncate(struct wal *w, off_t len);

/* Reads the whole file into a malloc'd buffer.  0, or -1 with errno. */
int wal_read(struct wal *w, uint8_t **buf, size_t *len);

/*
 * Decodes the entry of buf at *off and advances *off past it.  Returns 1
 * with *e set (e->op WAL_NONE: an entry of an unknown op or with malformed
 * args, to be skipped), or 0 at the end of buf or at a damaged entry: only
 * a power loss tears the file, and the entries after a torn one are dropped.
 */
int wal_next(const uint8_t *buf, size_t len, size_t *off, struct wal_entry *e);

#endif
