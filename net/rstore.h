/*
 * rstore: a blind relay's store of one database (README "Choices", relay),
 * in its own directory RELAY/db/<dbid hex>/:
 *   network.key   the database's network key (netkey.h), 32 bytes, 0600:
 *                 members prove it in the handshake
 *   roster        the admin-signed member list (roster.h)
 *   changes.log   the sealed, signed change blobs as members sent them,
 *                 appended: u32 len | blob, per origin in seq order
 * Nothing here is readable without the content key, which the relay never
 * has: a blob's header (origin, seq) is in clear, the rest is sealed.
 *
 * Every blob is checked before it is stored (its origin a member of the
 * roster, its signature by that origin, its seq the next of that origin), and
 * again when the log is read back at open: a log cut short by a crash is
 * truncated at the last whole record; one altered on disk stops the load there
 * (what follows is dropped and fetched again from members).  The bytes the log
 * holds are bounded by a quota: a blob that would pass it is refused with
 * EDQUOT.  Single-threaded (the relay's loop).
 */
#ifndef NET_RSTORE_H
#define NET_RSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "core/vv.h"
#include "net/roster.h"

struct rstore;

/* Results of rstore_add (0 or positive), refusals are -1 with errno. */
enum rstore_result { RSTORE_STORED = 0, RSTORE_DUPLICATE = 1, RSTORE_GAP = 2 };

/* Creates dir (0700) for a database paired with the relay: its network key
 * and roster (checked).  0, or -1 with errno (EEXIST if there). */
int rstore_create(const char *dir, const uint8_t netkey[32], const uint8_t *roster, size_t len);

/* Opens the store in dir with a quota of quota bytes (0: none).  NULL with
 * errno. */
struct rstore *rstore_open(const char *dir, uint64_t quota);

/* Closes and frees s (NULL: nothing). */
void rstore_close(struct rstore *s);

const struct roster *rstore_roster(const struct rstore *s);
const uint8_t *rstore_netkey(const struct rstore *s);
uint64_t rstore_bytes(const struct rstore *s);
uint64_t rstore_quota(const struct rstore *s);

/* Replaces the roster with buf if roster_supersedes allows it (written
 * first).  1 if taken, 0 if not newer, -1 with errno (EBADMSG, EPERM). */
int rstore_set_roster(struct rstore *s, const uint8_t *buf, size_t len);

/* Replaces the network key (an admin re-paired).  0 or -1. */
int rstore_set_netkey(struct rstore *s, const uint8_t netkey[32]);

/* The version vector of what is stored (v vv_clear'ed first).  0 or -1. */
int rstore_vv(const struct rstore *s, struct vv *v);

/*
 * Checks and appends a blob (written, not yet synced: rstore_sync).  enum
 * rstore_result, or -1 with errno: EBADMSG forged or malformed, EACCES its
 * origin is not a member, EDQUOT over the quota, or an I/O error.  A
 * duplicate of a stored (origin, seq) with other bytes is EBADMSG too: the
 * origin signed both, but the relay forwards only the first.
 */
int rstore_add(struct rstore *s, const uint8_t *blob, size_t len);

/* Flushes what was appended to disk.  0 or -1. */
int rstore_sync(struct rstore *s);

/*
 * Calls cb for the blobs not covered by have, per origin in seq order, up to
 * max_bytes (at least one).  The count handed out, or -1.
 */
typedef int rstore_blob_cb(void *ctx, uint64_t origin, uint64_t seq, const uint8_t *blob,
                           size_t len);
long rstore_missing(struct rstore *s, const struct vv *have, size_t max_bytes, rstore_blob_cb *cb,
                    void *ctx);

/*
 * rstore_missing, of only the origins listed in only (whatever their seq
 * there; NULL: every origin): what a protocol-3 member asked for.
 */
long rstore_missing_of(struct rstore *s, const struct vv *have, const struct vv *only,
                       size_t max_bytes, rstore_blob_cb *cb, void *ctx);

/*
 * Parses one log record at buf (untrusted: the disk): 1 with *blob, *blen
 * and *used set, 0 if buf holds only the start of one, -1 (EBADMSG) if it is
 * not a record.  Pure: the fuzzer's entry.
 */
int rstore_parse(const uint8_t *buf, size_t len, const uint8_t **blob, size_t *blen, size_t *used);

#endif
