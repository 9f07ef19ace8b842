/*
 * msg: the sync messages of DESIGN §5 as pure encoders and decoders over
 * bytes.  Every message is
 *     u8 MSG_VERSION | u8 type | body
 * with integers big-endian:
 *   HELLO    u16 protocol | 32 dbid | u64 device | u8 namelen | name |
 *            vv                                   (vv: u32 n | n * (u64 origin, u64 seq),
 *                                                  origins strictly increasing)
 *            [| u64 wall_ms]                      (protocol >= 2: the sender's wall clock)
 *   CHANGES  u32 n | n * (u32 len | sealed change blob)
 *   ACK      vv (the sender's version vector); protocol >= 3 also sends it
 *            unasked to every peer when it grows (an announcement)
 *   WANT     vv (protocol >= 3: the origins the sender pulls from this peer,
 *            each with the seq the sender has; replaces the previous WANT)
 *   PING, PONG  (no body)
 *   JOIN     u8 namelen | name | 32 sign_pub      (joiner -> inviter, after XXpsk3)
 *   WELCOME  32 dbid | u8 nkeys | nkeys * 32 content keys (oldest first) |
 *            u64 root | 32 root sign_pub | 32 root box_pub | 32 network key
 *            [| u8 nrelays (1..MSG_RELAYS_MAX) | nrelays * (32 relay key |
 *               u8 len | HOST:PORT)]          (the relays it is paired with,
 *                                              relaylink.h; absent if none)
 *                                                 (inviter -> joiner)
 * Messages travel in conn frames (conn.h reassembles ones longer than a frame).
 *
 * Decoders never read outside their input and reject anything malformed,
 * short, long or with trailing bytes with -1 (errno EBADMSG).  Encoders
 * return a malloc'd buffer the caller frees.  A decoded HELLO/ACK vv is
 * malloc'd (vv_clear it).
 */
#ifndef NET_MSG_H
#define NET_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "core/journal.h"

#define MSG_VERSION 1
/*
 * Protocol 2 adds the sender's wall clock to HELLO (peers measure each
 * other's clock skew).  A HELLO of protocol 1 is still accepted (wall_ms 0:
 * unknown, that peer's clock is not counted); a protocol-1 device refuses
 * ours, so devices are upgraded together.
 */
/*
 * Protocol 3 adds WANT: a receiver pulls each origin from one peer (net/gossip.c)
 * and a sender streams a protocol-3 peer only the origins it wants; ACKs go
 * to every peer as announcements.  Older peers are streamed everything, as
 * before, and are never sent a WANT.
 */
/*
 * Protocol 4: change blobs of version 2, each carrying its predecessor's hash
 * (core/change.h), so a receiver verifies one signature per run of an
 * origin's changes.  A protocol-3 device cannot decode them and refuses our
 * HELLO: as before, devices are upgraded together.
 */
#define MSG_PROTOCOL 4
#define MSG_PROTOCOL_MIN 1
#define MSG_BATCH_BYTES 65536             /* a CHANGES batch holds up to this (or one change) */
#define MSG_MAX (CHANGE_MAX_BYTES + 4096) /* the longest message accepted */
#define MSG_NAME_MAX 255

enum msg_type {
	MSG_HELLO = 1,
	MSG_CHANGES = 2,
	MSG_ACK = 3,
	MSG_PING = 4,
	MSG_PONG = 5,
	MSG_JOIN = 6,
	MSG_WELCOME = 7,
	MSG_WANT = 8
};

struct msg_hello {
	uint16_t protocol;
	uint8_t dbid[32];
	uint64_t device;
	char name[MSG_NAME_MAX + 1];
	struct vv vv;
	uint64_t wall_ms; /* protocol >= 2; 0 when not sent */
};

/* A growable output buffer (p malloc'd; free(p) when done). */
struct msg_buf {
	uint8_t *p;
	size_t len, cap;
};

/* The type of message buf, or -1 (EBADMSG) if the header is bad. */
int msg_type(const uint8_t *buf, size_t len);

int msg_hello_encode(const struct msg_hello *h, uint8_t **buf, size_t *len);
/* On success h->vv is malloc'd; on failure h->vv is empty. */
int msg_hello_decode(const uint8_t *buf, size_t len, struct msg_hello *h);

int msg_ack_encode(const struct vv *v, uint8_t **buf, size_t *len);
int msg_ack_decode(const uint8_t *buf, size_t len, struct vv *v);

/* WANT: the origins (and the seq held of each) the sender pulls from us. */
int msg_want_encode(const struct vv *v, uint8_t **buf, size_t *len);
int msg_want_decode(const uint8_t *buf, size_t len, struct vv *v);

/* PING or PONG. */
int msg_empty_encode(enum msg_type t, uint8_t **buf, size_t *len);

/* CHANGES: start an empty batch in b, add blobs (0 or -1 ENOMEM). */
int msg_changes_init(struct msg_buf *b);
int msg_changes_add(struct msg_buf *b, const uint8_t *blob, size_t len);
/* Checks a CHANGES message is well formed; returns the count or -1. */
long msg_changes_check(const uint8_t *buf, size_t len);
/* Iterates a checked CHANGES message: *off starts at 0; returns 1 with the
 * next blob (pointing into buf), 0 at the end, -1 if malformed. */
int msg_changes_next(const uint8_t *buf, size_t len, size_t *off, const uint8_t **blob,
                     size_t *blen);

int msg_join_encode(const char *name, const uint8_t sign_pub[32], uint8_t **buf, size_t *len);
int msg_join_decode(const uint8_t *buf, size_t len, char name[MSG_NAME_MAX + 1],
                    uint8_t sign_pub[32]);

#define MSG_KEYS_MAX 64  /* content keys in a WELCOME (SEAL_KEYS_MAX) */
#define MSG_RELAYS_MAX 4 /* relays in a WELCOME (RELAYLINK_MAX) */

/* What a joiner is told: the database, its content keys and its trust root. */
struct msg_welcome {
	uint8_t dbid[32];
	uint8_t keys[MSG_KEYS_MAX][32];
	size_t nkeys;
	uint64_t root;
	uint8_t root_sign[32], root_box[32];
	uint8_t netkey[32]; /* the network secret (netkey.h) */
};

int msg_welcome_encode(const struct msg_welcome *w, uint8_t **buf, size_t *len);
int msg_welcome_decode(const uint8_t *buf, size_t len, struct msg_welcome *w);

/* The relays a WELCOME may end with (relaylink.h). */
struct msg_relays {
	size_t n;
	uint8_t key[MSG_RELAYS_MAX][32];
	char addr[MSG_RELAYS_MAX][256]; /* HOST:PORT, NUL-terminated */
};

/* Appends r (if r->n > 0) to an encoded WELCOME in *buf (realloc'd).  0 or -1. */
int msg_welcome_add_relays(uint8_t **buf, size_t *len, const struct msg_relays *r);

/* msg_welcome_decode (w may be NULL) of a WELCOME that may end with relays
 * (msg_welcome_decode refuses those): r->n 0 if none.  0 or -1 (EBADMSG). */
int msg_welcome_decode_relays(const uint8_t *buf, size_t len, struct msg_welcome *w,
                              struct msg_relays *r);

#endif
