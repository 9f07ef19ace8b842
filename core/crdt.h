/*
 * crdt: the merge rules of blazefs's records, over plain structs and bytes
 * (no database, no I/O), so they can be tested on their own.
 *
 * A record is a set of registers, one per field plus a marker (field NULL)
 * that says the record exists.  A register is multi-valued: it holds one
 * entry per concurrent write, identified by the change (origin, seq) that
 * made it.  An op replaces the entries it names (its "over" ids) and, if it
 * is a SET, adds its own; an id replaced before its change arrived here is
 * remembered as superseded, so it is never added when it comes.  Applying
 * the same changes in any order, each once, gives the same registers; the
 * stored form sorts entries by id, so replicas store identical bytes.  The
 * visible value of a register is its winner: the largest (priority of the
 * origin device, hlc, origin, seq).
 *
 * The caller owns every struct crdt_reg (zero-initialised = empty) and frees
 * it with crdt_reg_clear.  Functions returning int return 0, or a positive
 * errno, or the nonzero code a caller's hook returned (passed through).
 */
#ifndef BLAZEFS_CRDT_H
#define BLAZEFS_CRDT_H

#include <stddef.h>
#include <stdint.h>

#include "core/change.h"

#define CRDT_KEY_MAX 512          /* the longest record or register key */
#define CRDT_FIELD_INLINE_MAX 100 /* longer field names are hashed in keys */

/* One register entry: a value written by change (origin, seq) at hlc. */
struct crdt_entry {
	uint64_t origin, seq, hlc;
	char *value; /* NUL-terminated canonical JSON */
	size_t vlen;
};

/* A register: its field name (NULL for a marker) and its entries. */
struct crdt_reg {
	char *field;
	size_t n;
	struct crdt_entry *e;
};

/*
 * Where the caller keeps what a register does not hold (all return 0 or a
 * nonzero code, passed through by crdt_apply):
 *   arrived   - has change (origin, seq) been applied here?  (1 or 0)
 *   supersede - remember that (origin, seq) is replaced in register k
 *   take      - was (origin, seq) superseded in register k?  Sets *found
 *               and forgets it (the change has arrived now).
 */
struct crdt_hooks {
	int (*arrived)(void *ctx, uint64_t origin, uint64_t seq);
	int (*supersede)(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl);
	int (*take)(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *k, size_t kl,
	            int *found);
	void *ctx;
};

/* The priority of device origin (higher wins concurrent writes). */
typedef int64_t crdt_priority_fn(void *ctx, uint64_t origin);

/* coll\0rec: the key of a record (k has CRDT_KEY_MAX bytes).  Its length. */
size_t crdt_record_key(uint8_t *k, const char *coll, const char *rec);

/*
 * coll\0rec\0 + M (marker, field NULL) | F field | G BLAKE2b(field) for
 * names longer than CRDT_FIELD_INLINE_MAX.  A record's registers sort
 * after its record key + \0, marker first.  Returns the length.
 */
size_t crdt_reg_key(uint8_t *k, const char *coll, const char *rec, const char *field);

/* Frees the field and entries of r and empties it. */
void crdt_reg_clear(struct crdt_reg *r);

/*
 * Decodes a stored register: u32 namelen | name | entries (u64 origin, u64
 * seq, u64 hlc, u32 vlen, value); a marker has namelen 0xffffffff.  Returns
 * 0, or EIO (corrupt) / ENOMEM with r empty.
 */
int crdt_reg_decode(const uint8_t *p, size_t n, struct crdt_reg *r);

/*
 * Sorts r's entries by id and encodes r into a malloc'd buffer (*out, *n):
 * every replica stores the same register as the same bytes.  0 or ENOMEM.
 */
int crdt_reg_encode(struct crdt_reg *r, uint8_t **out, size_t *n);

/* Index of entry (origin, seq) in r, or -1. */
int crdt_reg_find(const struct crdt_reg *r, uint64_t origin, uint64_t seq);

/*
 * Does r hold a conflict: several entries of a field whose values are not
 * all the same bytes?  (A marker's entries, or equal concurrent values, are
 * none.)  A function of the set of entries only, so identical on replicas.
 */
int crdt_reg_conflict(const struct crdt_reg *r);

/*
 * Applies op of change c to r, the register whose key is k: removes the
 * entries op replaces (remembering through h those not arrived yet) and, for
 * a SET, adds c's entry unless it was superseded or is there already.  The
 * caller applies each change once (duplicates are its to drop).
 */
int crdt_apply(struct crdt_reg *r, const uint8_t *k, size_t kl, const struct change *c,
               const struct op *op, const struct crdt_hooks *h);

/* Index of the visible entry of r (r->n > 0): the largest (priority, hlc,
 * origin, seq).  prio is called only when r holds several entries. */
size_t crdt_winner(const struct crdt_reg *r, crdt_priority_fn *prio, void *ctx);

/*
 * The priority a device's "priority" register gives: the integer value of
 * its latest entry by (hlc, origin) (all devices count as equal among
 * concurrent priorities), 0 if none or not an integer.
 */
int64_t crdt_priority_value(const struct crdt_reg *r);

#endif
