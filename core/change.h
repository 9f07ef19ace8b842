/*
 * change: what one local commit produces — an atomic set of register
 * operations with an id (origin device, seq) and a hybrid logical clock — and
 * its binary, versioned codec.
 *
 * A register is addressed by (collection, record, field):
 *   record == "" and field == NULL  the collection's existence marker;
 *   field == NULL                   the record's existence marker;
 *   otherwise                       one top-level field of the record.
 * A SET carries a value (canonical JSON text; "true" for markers); both SET
 * and DEL name the entries they replace (over).
 *
 * Encoded form (all integers big-endian, strings as u32 length + bytes):
 *   u8 version(1) | u64 origin | u64 seq | u64 hlc | u32 nops | ops...
 *   op: u8 kind | str coll | str rec | u8 has_field | [str field] |
 *       [str value if SET] | u32 nover | nover * (u64 origin, u64 seq)
 * The first CHANGE_HEADER_BYTES (version, origin, seq) stay in clear when the
 * rest is sealed; they are the associated data of the seal.  Version 2 has
 * the same encoding as version 1 (both are read); it marks a sealed blob that
 * carries its predecessor's hash (net/seal.h).
 */
#ifndef BLAZEFS_CHANGE_H
#define BLAZEFS_CHANGE_H

#include <stddef.h>
#include <stdint.h>

#define CHANGE_VERSION 2
#define CHANGE_VERSION_MIN 1
#define CHANGE_HEADER_BYTES 17
#define CHANGE_MAX_BYTES (4 * 1024 * 1024)
#define CHANGE_MAX_OPS 100000
#define DEVID_LEN 13 /* base32 of a 64-bit device id */
/* A stored or sent blob ends with its origin's Ed25519 signature over every
 * byte before it (DESIGN §4: authorship, checkable without the content key). */
#define CHANGE_SIG_BYTES 64
/* A sealed blob's header is followed by the id of the content key that
 * sealed it (net/seal.h), in clear. */
#define CHANGE_KEYID_BYTES 8
/* From version 2, the key id is followed by the BLAKE2b-256 hash of the
 * whole blob its origin made before it (seq - 1; zeros for seq 1), in clear
 * and signed: an origin's blobs form a hash chain, so one signature
 * authenticates every blob it chains back to (DESIGN §4). */
#define CHANGE_PREV_BYTES 32

enum op_kind { OP_SET = 1, OP_DEL = 2 };

struct cid {
	uint64_t origin;
	uint64_t seq;
};

struct op {
	enum op_kind kind;
	char *coll;
	char *rec;   /* "" for the collection marker */
	char *field; /* NULL for a marker */
	char *value; /* SET only: canonical JSON text, NUL-terminated */
	size_t nover;
	struct cid *over;
};

struct change {
	uint64_t origin;
	uint64_t seq;
	uint64_t hlc;
	size_t nops;
	struct op *ops;
};

/* Serialises c into a malloc'd buffer.  Returns 0, or -1 with errno. */
int change_encode(const struct change *c, uint8_t **buf, size_t *len);

/*
 * Decodes len bytes; rejects anything malformed (bad version, short or
 * trailing bytes, invalid names, values that are not JSON, empty changes,
 * records over the size limit: change_fits)
 * with -1 and errno EINVAL, never reading outside buf.  *out is set to NULL on
 * entry and to a change owned by the caller (change_free) on success.
 */
int change_decode(const uint8_t *buf, size_t len, struct change **out);

/*
 * The record size limit as a rule on one change, so that every replica
 * refuses the same changes (local and remote alike): for each record the
 * change touches, the field names and values it sets sum to at most
 * RECORD_MAX_BYTES.  A record file within the limit always passes (its
 * rendering holds every key and value, and more).  0, or -1 with errno EFBIG
 * (ENOMEM).  change_decode applies it.
 */
int change_fits(const struct change *c);

/* Reads origin and seq from an encoded (or sealed) change header. */
int change_peek(const uint8_t *buf, size_t len, uint64_t *origin, uint64_t *seq);

/* Appends an op to c (copies the strings and over).  Returns 0 or -1. */
int change_add(struct change *c, enum op_kind kind, const char *coll, const char *rec,
               const char *field, const char *value, const struct cid *over, size_t nover);

/* Frees the ops of c (not c itself); leaves c with no ops. */
void change_clear(struct change *c);

/* Frees a change returned by change_decode.  change_free(NULL) does nothing. */
void change_free(struct change *c);

/* Formats a device id as DEVID_LEN base32 characters plus NUL. */
void change_devid(uint64_t origin, char out[DEVID_LEN + 1]);

/* Parses a device id; returns 0 or -1. */
int change_devid_parse(const char *s, uint64_t *origin);

#endif
