/*
 * conn: one peer connection as a pure state machine over bytes (no sockets):
 * the caller feeds what it read with conn_feed(), calls conn_poll() for
 * events, and writes out what conn_out() shows, then conn_drain()s it.
 *
 * Wire format (DESIGN §4):
 *   initiator -> responder   1 selector byte: enum noise_suite, with
 *                            CONN_SEL_JOIN or'ed in for a join (XXpsk3)
 *   then, both ways          frames: u16 big-endian length | bytes (<= 65535)
 *   handshake                Noise XX (or XXpsk3), prologue "blazefs/1"|suite,
 *                            empty payloads, one message per frame
 *   transport                each frame is a Noise transport ciphertext of
 *                            u8 more | fragment; a message is its fragments up
 *                            to the first with more == 0 (at most MSG_MAX bytes).
 * Both directions rekey (Noise REKEY) after every CONN_REKEY_FRAMES frames.
 * Any frame that does not authenticate, is out of order, replayed or too
 * long kills the connection (CONN_DEAD): no byte after it is looked at.
 *
 * Ownership: conn_new copies the keys into sodium_malloc'd memory; conn_free
 * wipes and frees everything (NULL is a no-op).  Message pointers returned by
 * conn_poll stay valid until the next conn_poll/conn_free.
 */
#ifndef NET_CONN_H
#define NET_CONN_H

#include <stddef.h>
#include <stdint.h>

#define CONN_SEL_JOIN 0x80
#define CONN_REKEY_FRAMES 65536
#define CONN_FRAME_MAX 65535

enum conn_event {
	CONN_DEAD = -1, /* the connection is over: close it */
	CONN_AGAIN = 0, /* needs more input (or output drained) */
	CONN_READY = 1, /* handshake complete: check conn_remote_key, then go on */
	CONN_MSG = 2    /* a complete message */
};

struct conn;

/*
 * A connection using the static private key s_priv.  An initiator picks its
 * suite (AESGCM where available, else ChaChaPoly) and joins with XXpsk3 if
 * psk is not NULL.  A responder accepts XX, and XXpsk3 only if psk is not
 * NULL.  Returns NULL with errno.
 */
struct conn *conn_new(int initiator, const uint8_t s_priv[32], const uint8_t *psk);
void conn_free(struct conn *c);

/* Appends len received bytes.  0, or -1 (ENOMEM). */
int conn_feed(struct conn *c, const uint8_t *buf, size_t len);

/* Advances the state machine (enum conn_event); sets *msg, *len on CONN_MSG. */
int conn_poll(struct conn *c, const uint8_t **msg, size_t *len);

/* Queues a message (only after CONN_READY).  0, or -1 (EINVAL, EMSGSIZE, ENOMEM). */
int conn_send(struct conn *c, const uint8_t *msg, size_t len);

/* Bytes waiting to be written, and consuming n of them. */
size_t conn_out(const struct conn *c, const uint8_t **p);
void conn_drain(struct conn *c, size_t n);

/* After CONN_READY: the peer's static public key; whether this was a join. */
void conn_remote_key(const struct conn *c, uint8_t rs[32]);
int conn_is_join(const struct conn *c);
/* The suite selector byte in use (0 before it is known). */
int conn_selector(const struct conn *c);

#endif
