/*
 * conn: one peer connection as a pure state machine over bytes (no sockets):
 * the caller feeds what it read with conn_feed(), calls conn_poll() for
 * events, and writes out what conn_out() shows, then conn_drain()s it.
 *
 * Wire format (DESIGN §4):
 *   initiator -> responder   1 offer byte: CONN_OFFER | the suites this
 *                            device can run (CONN_CAP_*), with CONN_SEL_JOIN
 *                            or'ed in for a join
 *   responder -> initiator   1 choice byte: the suite (enum noise_suite),
 *                            AESGCM only if both offered it, else ChaChaPoly;
 *                            a responder that can run nothing offered closes
 *   then, both ways          frames: u16 big-endian length | bytes (<= 65535)
 *   handshake                prologue "blazefs/2" | offer | choice, empty
 *                            payloads, one message per frame:
 *                              member  Noise_XXpsk0, psk = the network psk
 *                                      (netkey.h, from DB/network.key)
 *                              join    Noise_XXpsk0, psk = the invite psk
 *                              join by short code: the joiner's first
 *                                      frame is 33 bytes (message 1 is 48):
 *                                      one CPace round (cpace.h, CI
 *                                      "blazefs/join", no sid, no AD):
 *                                      initiator frame slot(1) | Ya(32),
 *                                      responder frame status(1) | Yb(32)
 *                                      (status CONN_PAKE_*; Yb zero unless
 *                                      OK, and then it says no more), then
 *                                      Noise_XXpsk0 with psk =
 *                                      BLAKE2b("blazefs/join-psk", ISK) and
 *                                      the prologue followed by slot|Ya|Yb
 *   transport                each frame is a Noise transport ciphertext of
 *                            u8 more | fragment; a message is its fragments up
 *                            to the first with more == 0 (at most MSG_MAX bytes).
 *
 * Suite negotiation: both ends' capabilities decide the suite, and both
 * bytes are in the prologue, so an attacker who rewrites either (to push two
 * AES-NI devices down to ChaChaPoly, or to pick a suite one end cannot run)
 * makes the prologues differ and message 1 fail to authenticate: no
 * downgrade.  It costs one round trip before message 1.  BLAZEFS_NO_AESNI=1
 * in the environment (a test knob) makes a device offer and accept
 * ChaChaPoly only, as a CPU without AES-NI does.
 *
 * Privacy: with psk0 the psk is mixed in before message 1, whose payload is
 * then encrypted and authenticated under it; a responder reads message 1
 * before it writes message 2 (the one carrying its static key), so a dialler
 * without the secret is dropped having seen only the choice byte and no key
 * (conn_stranger() says so).  A prologue secret would not do: message 2's
 * static key is encrypted under a key derived from ee alone, which a
 * stranger computes, and the failing tag does not stop it from decrypting.
 * Without conn_set_network() (unit tests only: net_start always sets it) a
 * member connection runs plain Noise_XX.
 *
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

#define CONN_SEL_JOIN 0x80       /* in the offer byte: a join */
#define CONN_OFFER 0x40          /* set in every offer byte (this wire format) */
#define CONN_CAP_AESGCM 0x01     /* in the offer byte: can run AESGCM */
#define CONN_CAP_CHACHAPOLY 0x02 /* in the offer byte: can run ChaChaPoly */
#define CONN_PROLOGUE_TAG "blazefs/2"
#define CONN_PROLOGUE_LEN 11 /* the tag, the offer byte, the choice byte */
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
 * A connection using the static private key s_priv.  An initiator offers the
 * suites this device can run and joins (psk0 with psk) if psk is not NULL.
 * A responder accepts members, and joins only if psk (the pending invite's)
 * is not NULL.  Returns NULL with errno.
 */
struct conn *conn_new(int initiator, const uint8_t s_priv[32], const uint8_t *psk);

/* Member connections prove the network psk (copied) with Noise_XXpsk0.
 * Call before the first conn_poll.  0, or -1 (EINVAL: too late). */
int conn_set_network(struct conn *c, const uint8_t psk[32]);

/* The CONN_CAP_* bits of this device: AESGCM if the CPU has AES-NI and
 * BLAZEFS_NO_AESNI is not "1", and always ChaChaPoly. */
uint8_t conn_caps(void);

/* The responder's rule: the suite (enum noise_suite) for offer byte offer
 * on a device with capabilities caps, or -1 if the offer is malformed or
 * names no suite both can run.  AESGCM wins when both can run it. */
int conn_choose(uint8_t offer, uint8_t caps);

/* Writes the handshake prologue "blazefs/2" | offer | choice.  Returns 0. */
int conn_prologue(uint8_t prologue[CONN_PROLOGUE_LEN], uint8_t offer, uint8_t choice);
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
/* The suite in use, or'ed with CONN_SEL_JOIN for a join (0 before it is known). */
int conn_selector(const struct conn *c);

/* The suite in use (enum noise_suite; 0 before it is known), and its name
 * as status shows it ("AESGCM", "ChaChaPoly", "" for 0). */
int conn_suite(const struct conn *c);
const char *conn_suite_name(int suite);

/* The inviter's verdict on a short-code join, in its CPace frame. */
enum conn_pake_status {
	CONN_PAKE_OK = 0,
	CONN_PAKE_NONE = 1,     /* no invite pending */
	CONN_PAKE_REPLACED = 2, /* the code's slot is not the pending invite's */
	CONN_PAKE_EXPIRED = 3,
	CONN_PAKE_USED = 4 /* used, or burnt by a wrong guess */
};
#define CONN_PRS_MAX 32

/*
 * A join by short code: CPace on password prs (prslen bytes) before the
 * Noise handshake.  An initiator (conn_new with psk NULL) sends slot, the
 * invite slot its code names.  A responder passes the pending invite's
 * status (enum conn_pake_status), slot and password; it answers a short-code
 * dialler with that status (REPLACED if the slots differ).  Call before the
 * first conn_poll.  0, or -1 (EINVAL).
 */
int conn_set_pake(struct conn *c, int status, uint8_t slot, const uint8_t *prs, size_t prslen);

/* An initiator's view: -1 before the responder's choice byte arrived (no
 * blazefs answered), else the responder's CPace status (0 once both shares
 * are exchanged, or for a join without CPace). */
int conn_pake_status(const struct conn *c);

/* 1 if c died as a short-code responder because message 1 did not prove the
 * CPace key: the dialler's code was wrong (the caller burns the invite). */
int conn_pake_wrong(const struct conn *c);

/* 1 if c died as a responder because the dialler's message 1 did not prove
 * the network psk (a stranger, or a database made by an older blazefs). */
int conn_stranger(const struct conn *c);

#endif
