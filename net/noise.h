#ifndef NET_NOISE_H
#define NET_NOISE_H

/*
 * Noise protocol framework (revision 34), as pure functions over bytes.
 *
 * Supported: DH 25519, hash SHA256, ciphers AESGCM and ChaChaPoly, handshake
 * patterns NN, XX, XXpsk0 and XXpsk3, prologues.  Nothing here touches a socket or a
 * file: the caller moves the bytes (and their lengths) over the network.
 *
 * Ownership: this module owns two opaque objects.
 *   - struct noise_handshake, made by noise_handshake_new(), freed by
 *     noise_handshake_free().  It holds copies of every key handed to it.
 *   - struct noise_cipher, a transport CipherState, made in pairs by
 *     noise_handshake_split() (or singly by noise_cipher_new()) and freed by
 *     noise_cipher_free().  The two ciphers outlive the handshake state they
 *     were split from.
 * Both live in sodium_malloc'd memory; the *_free functions wipe them and
 * accept NULL.  Keys passed in are copied; the caller keeps and wipes its own.
 * The caller allocates every output buffer.  Neither object is thread-safe.
 *
 * Errors: functions return 0 / -1 (or a pointer / NULL) with errno set:
 * EINVAL for a bad argument or a call out of turn, EMSGSIZE for a message or
 * buffer of the wrong size, EBADMSG for input that does not authenticate or
 * does not parse, ENOTSUP for AESGCM on a CPU without AES-NI, ENOMEM.
 */

#include <stddef.h>
#include <stdint.h>

#define NOISE_KEY_LEN 32  /* X25519 keys, cipher keys and PSKs. */
#define NOISE_HASH_LEN 32 /* SHA256 output: the handshake hash. */
#define NOISE_TAG_LEN 16  /* AEAD tag added to every encrypted field. */
#define NOISE_MAX_MESSAGE 65535
/* The most bytes a handshake message adds to its payload (e, encrypted s, tag). */
#define NOISE_HANDSHAKE_OVERHEAD_MAX (NOISE_KEY_LEN * 2 + NOISE_TAG_LEN * 2)

/* The cipher; its value is the choice byte of conn.h's suite negotiation. */
enum noise_suite {
	NOISE_SUITE_AESGCM = 1,    /* Noise_*_25519_AESGCM_SHA256 */
	NOISE_SUITE_CHACHAPOLY = 2 /* Noise_*_25519_ChaChaPoly_SHA256 */
};

/* "blazefs/1" followed by one selector byte (conn.h now uses its own
 * "blazefs/2" prologue, which binds both the offer and the choice). */
#define NOISE_SUITE_PROLOGUE_LEN 10

enum noise_pattern {
	NOISE_PATTERN_NN = 1,
	NOISE_PATTERN_XX = 2,
	NOISE_PATTERN_XXPSK3 = 3,
	NOISE_PATTERN_XXPSK0 = 4 /* psk mixed in before message 1 (members, DESIGN §4) */
};

/* What the handshake expects next from its caller. */
enum noise_action {
	NOISE_ACTION_WRITE = 1, /* call noise_handshake_write_message */
	NOISE_ACTION_READ = 2,  /* call noise_handshake_read_message */
	NOISE_ACTION_SPLIT = 3, /* handshake complete: hash, remote key, split */
	NOISE_ACTION_FAILED = 4 /* a step failed: the handshake is dead */
};

struct noise_handshake;
struct noise_cipher;

/**
 * noise_suite_available(suite):
 * Return 1 if ${suite} can be used on this CPU (AESGCM needs AES-NI), else 0.
 */
int noise_suite_available(enum noise_suite);

/**
 * noise_suite_prologue(prologue, selector):
 * Write the prologue "blazefs/1" || ${selector} into ${prologue}, which binds
 * the suite selector byte into the handshake.  Return -1 (EINVAL) and leave
 * ${prologue} zeroed if ${selector} is not a known enum noise_suite value.
 */
int noise_suite_prologue(uint8_t[NOISE_SUITE_PROLOGUE_LEN], uint8_t);

/**
 * noise_keypair(pub, priv):
 * Generate a random X25519 key pair.  Return 0, or -1 on failure.
 */
int noise_keypair(uint8_t[NOISE_KEY_LEN], uint8_t[NOISE_KEY_LEN]);

/**
 * noise_public_key(pub, priv):
 * Compute the X25519 public key ${pub} of the private key ${priv}.
 * Return 0, or -1 (${pub} zeroed) on failure.
 */
int noise_public_key(uint8_t[NOISE_KEY_LEN], const uint8_t[NOISE_KEY_LEN]);

/**
 * noise_handshake_new(pattern, suite, initiator, prologue, prologuelen,
 *     s_priv, e_priv, psk):
 * Start a handshake of ${pattern} with cipher ${suite}, as initiator if
 * ${initiator} is nonzero, else as responder.  ${prologue} (${prologuelen}
 * bytes, may be NULL if 0) must be the same on both sides.  ${s_priv} is the
 * local static private key: required for XX and XXpsk3, must be NULL for NN.
 * ${e_priv} fixes the ephemeral private key and exists FOR TEST VECTORS ONLY:
 * pass NULL and a fresh one is generated.  ${psk} is the 32-byte pre-shared
 * key: required for XXpsk0 and XXpsk3, must be NULL otherwise.  All keys are copied.
 * Return the state, to free with noise_handshake_free(), or NULL.
 */
struct noise_handshake *noise_handshake_new(enum noise_pattern, enum noise_suite, int,
                                            const uint8_t *, size_t, const uint8_t *,
                                            const uint8_t *, const uint8_t *);

/**
 * noise_handshake_action(hs):
 * Return what ${hs} expects next (enum noise_action).
 */
enum noise_action noise_handshake_action(const struct noise_handshake *);

/**
 * noise_handshake_write_message(hs, payload, payloadlen, out, outmax, outlen):
 * Write the next handshake message, carrying ${payload} (${payloadlen}
 * bytes, may be NULL if 0), into ${out}, which has room for ${outmax} bytes
 * and must not overlap ${payload}; set ${outlen} to its length, at most
 * ${payloadlen} + NOISE_HANDSHAKE_OVERHEAD_MAX and NOISE_MAX_MESSAGE.
 * Return 0, or -1 with ${outlen} set to 0: if it is not our turn (EINVAL) or
 * the message does not fit (EMSGSIZE), ${hs} is unchanged; on any other
 * failure ${hs} is dead.  The early payloads of a handshake are not
 * encrypted (NN and XX message 1) or not authenticated to a known peer:
 * put nothing secret there.
 */
int noise_handshake_write_message(struct noise_handshake *, const uint8_t *, size_t, uint8_t *,
                                  size_t, size_t *);

/**
 * noise_handshake_read_message(hs, msg, msglen, payload, payloadmax,
 *     payloadlen):
 * Read the next handshake message ${msg} (${msglen} bytes) and write its
 * payload into ${payload}, which has room for ${payloadmax} bytes (${msglen}
 * always suffices); set ${payloadlen} to its length.  Return 0, or -1 with
 * ${payloadlen} set to 0: if it is not our turn (EINVAL) or ${payload} is too
 * small (EMSGSIZE), ${hs} is unchanged; if the message is too short, too long
 * or does not authenticate (EBADMSG), or on any other failure, ${hs} is dead.
 */
int noise_handshake_read_message(struct noise_handshake *, const uint8_t *, size_t, uint8_t *,
                                 size_t, size_t *);

/**
 * noise_handshake_hash(hs, h):
 * Copy the handshake hash of the completed handshake ${hs} into ${h}; it is
 * the same on both sides and names this session (channel binding).
 * Return 0, or -1 (EINVAL, ${h} zeroed) if the handshake is not complete.
 */
int noise_handshake_hash(const struct noise_handshake *, uint8_t[NOISE_HASH_LEN]);

/**
 * noise_handshake_remote_static(hs, rs):
 * Copy the peer's static public key, once received, into ${rs}.  It is only
 * authenticated once the handshake is complete: check it against the member
 * list before trusting the peer.  Return 0, or -1 (EINVAL, ${rs} zeroed) if
 * no static key has been received.
 */
int noise_handshake_remote_static(const struct noise_handshake *, uint8_t[NOISE_KEY_LEN]);

/**
 * noise_handshake_split(hs, send, recv):
 * Derive the two transport ciphers of the completed handshake ${hs}: ${send}
 * encrypts what we send, ${recv} decrypts what we receive.  The caller frees
 * both with noise_cipher_free(); ${hs} may be freed first.  Return 0, or -1
 * with both set to NULL (EINVAL if the handshake is not complete).
 */
int noise_handshake_split(struct noise_handshake *, struct noise_cipher **, struct noise_cipher **);

/**
 * noise_handshake_free(hs):
 * Wipe and free ${hs}.  Do nothing if ${hs} is NULL.
 */
void noise_handshake_free(struct noise_handshake *);

/**
 * noise_cipher_new(suite, k):
 * Make a transport cipher with key ${k} (copied) and nonce 0: the spec's
 * InitializeKey().  Transport ciphers normally come from
 * noise_handshake_split(); this is for tests and derived keys.  Return the
 * cipher, to free with noise_cipher_free(), or NULL (EINVAL, ENOTSUP, ENOMEM).
 */
struct noise_cipher *noise_cipher_new(enum noise_suite, const uint8_t[NOISE_KEY_LEN]);

/**
 * noise_cipher_encrypt(cs, c, m, mlen, ad, adlen):
 * Encrypt ${m} (${mlen} bytes) with associated data ${ad} (${adlen} bytes,
 * may be NULL if 0) under the next nonce of ${cs}, writing ${mlen} +
 * NOISE_TAG_LEN bytes to ${c}.  Return 0, or -1 if the message would exceed
 * NOISE_MAX_MESSAGE (EMSGSIZE) or the nonces are used up (EOVERFLOW); ${c}
 * is then untouched.
 */
int noise_cipher_encrypt(struct noise_cipher *, uint8_t *, const uint8_t *, size_t, const uint8_t *,
                         size_t);

/**
 * noise_cipher_decrypt(cs, m, c, clen, ad, adlen):
 * Decrypt ${c} (${clen} bytes) with associated data ${ad} (${adlen} bytes)
 * under the next nonce of ${cs}, writing ${clen} - NOISE_TAG_LEN bytes to
 * ${m}.  The nonce is implicit, so a replayed, reordered, dropped or altered
 * frame fails.  Return 0, or -1 (EBADMSG, EMSGSIZE, EOVERFLOW); as the Noise
 * spec says, a failure does not advance the nonce, but a caller over a
 * stream should treat any failure as the end of the connection.
 */
int noise_cipher_decrypt(struct noise_cipher *, uint8_t *, const uint8_t *, size_t, const uint8_t *,
                         size_t);

/**
 * noise_cipher_rekey(cs):
 * Replace the key of ${cs} by REKEY(k) as the Noise spec defines it; the
 * nonce carries on.  Both ends must rekey at the same point in the stream.
 * Return 0, or -1.
 */
int noise_cipher_rekey(struct noise_cipher *);

/**
 * noise_cipher_free(cs):
 * Wipe and free ${cs}.  Do nothing if ${cs} is NULL.
 */
void noise_cipher_free(struct noise_cipher *);

#endif /* !NET_NOISE_H */
