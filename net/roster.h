/*
 * roster: what a blind relay knows of a database's members, signed by an
 * admin (README "Choices", relay).  The relay cannot read .devices (its
 * changes are sealed), so an admin hands it this instead:
 *     "BZR1" | 32 dbid | u64 issued_ms | u64 signer | u32 n |
 *     n * (u64 device | u8 flags | 32 sign_pub | 32 box_pub) |
 *     Ed25519 signature (64) by the signer's sign_pub of every byte before it
 * flags are JOURNAL_ADMIN / JOURNAL_REMOVED.  The signer must be a listed
 * admin that is not removed.  A relay keeps the first roster it is paired
 * with and takes a later one only if it is newer (issued_ms) and signed by an
 * admin of the roster it has (roster_supersedes): a member cannot promote
 * itself, an old roster cannot be replayed.
 *
 * roster_decode is pure and takes untrusted bytes (the wire and the relay's
 * own disk): it never reads outside its input and refuses anything
 * malformed with EBADMSG.  Decoded arrays are malloc'd (roster_clear).
 */
#ifndef NET_ROSTER_H
#define NET_ROSTER_H

#include <stddef.h>
#include <stdint.h>

struct journal;

#define ROSTER_MAGIC "BZR1"
#define ROSTER_MAX 1024 /* members a roster may list */
#define ROSTER_ENTRY_BYTES (8 + 1 + 32 + 32)
#define ROSTER_FIXED_BYTES (4 + 32 + 8 + 8 + 4 + 64)

struct roster_member {
	uint64_t device;
	unsigned flags; /* JOURNAL_ADMIN, JOURNAL_REMOVED */
	uint8_t sign_pub[32], box_pub[32];
};

struct roster {
	uint8_t dbid[32];
	uint64_t issued_ms;
	uint64_t signer;
	size_t n;
	struct roster_member *m;
};

/* Decodes and checks the signature of a roster.  0, or -1 with EBADMSG
 * (malformed, unsigned, or signed by no listed admin) or ENOMEM. */
int roster_decode(const uint8_t *buf, size_t len, struct roster *r);

/* Frees what roster_decode allocated (r zeroed; NULL or empty: nothing). */
void roster_clear(struct roster *r);

/* The member device (NULL if not listed). */
const struct roster_member *roster_find(const struct roster *r, uint64_t device);

/* 1 if pub is the Noise static key of a listed member that is not removed. */
int roster_admits(const struct roster *r, const uint8_t pub[32]);

/* 1 if next may replace cur: the same database, issued later, signed by an
 * admin of cur that is not removed. */
int roster_supersedes(const struct roster *cur, const struct roster *next);

/*
 * Checks a sealed change blob against r: its origin is a listed member (not
 * removed, unless removed_ok: what it signed before its removal) and signed
 * it.  0 with *origin, *seq set, or -1 (EBADMSG: malformed or forged;
 * EACCES: origin not a member).
 */
int roster_check_blob(const struct roster *r, const uint8_t *blob, size_t len, int removed_ok,
                      uint64_t *origin, uint64_t *seq);

/*
 * The roster of j's members now, signed by this device (sign_sk, an admin;
 * self its device id): malloc'd *out.  0, or -1 with errno (EPERM: not an
 * admin).
 */
int roster_build(struct journal *j, const uint8_t sign_sk[64], uint8_t **out, size_t *len);

#endif
