/*
 * Noise protocol framework, revision 34: CipherState, SymmetricState and
 * HandshakeState for Noise_{NN,XX,XXpsk0,XXpsk3}_25519_{AESGCM,ChaChaPoly}_SHA256.
 * Names below follow the spec's (MixKey, EncryptAndHash, ...) so that the
 * code can be read against it.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "net/noise.h"

/* CipherState: a key, whether it is set, a nonce, and the cipher to use. */
struct noise_cipher {
	uint8_t k[NOISE_KEY_LEN];
	uint64_t n;
	int haskey;
	enum noise_suite suite;
};

/* Tokens of a message pattern; TOK_END (0) ends a message. */
enum token { TOK_END = 0, TOK_E, TOK_S, TOK_EE, TOK_ES, TOK_SE, TOK_PSK };

#define MAX_MESSAGES 3
#define MAX_TOKENS 4

struct pattern {
	const char *name;
	int psk;     /* A psk modifier: the e token also calls MixKey. */
	int needs_s; /* Both sides send a static key. */
	size_t nmsgs;
	enum token msgs[MAX_MESSAGES][MAX_TOKENS + 1];
};

/* No pre-messages in these patterns; message i is sent by the initiator iff i is even. */
static const struct pattern patterns[] = {
    [NOISE_PATTERN_NN] = {"NN", 0, 0, 2, {{TOK_E}, {TOK_E, TOK_EE}}},
    [NOISE_PATTERN_XX] =
        {"XX", 0, 1, 3, {{TOK_E}, {TOK_E, TOK_EE, TOK_S, TOK_ES}, {TOK_S, TOK_SE}}},
    [NOISE_PATTERN_XXPSK3] =
        {"XXpsk3", 1, 1, 3, {{TOK_E}, {TOK_E, TOK_EE, TOK_S, TOK_ES}, {TOK_S, TOK_SE, TOK_PSK}}},
    /* psk first: message 1's payload is then encrypted under the psk, so a
     * responder learns at message 1 whether the initiator knows it, before it
     * sends its static key in message 2. */
    [NOISE_PATTERN_XXPSK0] =
        {"XXpsk0", 1, 1, 3, {{TOK_PSK, TOK_E}, {TOK_E, TOK_EE, TOK_S, TOK_ES}, {TOK_S, TOK_SE}}},
};

/* HandshakeState, with its SymmetricState (ck, h) and CipherState (cs). */
struct noise_handshake {
	struct noise_cipher cs;
	uint8_t ck[NOISE_HASH_LEN];
	uint8_t h[NOISE_HASH_LEN];
	uint8_t s_priv[NOISE_KEY_LEN];
	uint8_t s_pub[NOISE_KEY_LEN];
	uint8_t e_priv[NOISE_KEY_LEN];
	uint8_t e_pub[NOISE_KEY_LEN];
	uint8_t rs[NOISE_KEY_LEN];
	uint8_t re[NOISE_KEY_LEN];
	uint8_t psk[NOISE_KEY_LEN];
	int e_fixed; /* e_priv was given (test vectors): do not generate it. */
	int has_rs;  /* rs has been received. */
	const struct pattern *pattern;
	int initiator;
	size_t msg; /* Index of the next message. */
	int failed;
};

static const char *const cipher_names[] = {
    [NOISE_SUITE_AESGCM] = "AESGCM",
    [NOISE_SUITE_CHACHAPOLY] = "ChaChaPoly",
};

static int
suite_valid(int suite)
{

	return (suite == NOISE_SUITE_AESGCM || suite == NOISE_SUITE_CHACHAPOLY);
}

/* Return 1 if ${suite} can be used on this CPU, else 0. */
int
noise_suite_available(enum noise_suite suite)
{

	if (!suite_valid(suite) || sodium_init() < 0)
		return (0);
	if (suite == NOISE_SUITE_AESGCM)
		return (crypto_aead_aes256gcm_is_available());
	return (1);
}

/* Write "blazefs/1" || selector into ${prologue}. */
int
noise_suite_prologue(uint8_t prologue[NOISE_SUITE_PROLOGUE_LEN], uint8_t selector)
{
	static const char tag[] = "blazefs/1";

	memset(prologue, 0, NOISE_SUITE_PROLOGUE_LEN);
	if (!suite_valid(selector)) {
		errno = EINVAL;
		return (-1);
	}
	memcpy(prologue, tag, sizeof(tag) - 1);
	prologue[sizeof(tag) - 1] = selector;
	return (0);
}

/* Generate a random X25519 key pair. */
int
noise_keypair(uint8_t pub[NOISE_KEY_LEN], uint8_t priv[NOISE_KEY_LEN])
{

	if (sodium_init() < 0)
		goto err0;
	randombytes_buf(priv, NOISE_KEY_LEN);
	if (noise_public_key(pub, priv))
		goto err1;
	return (0);

err1:
	sodium_memzero(priv, NOISE_KEY_LEN);
err0:
	errno = EINVAL;
	return (-1);
}

/* Compute the X25519 public key of ${priv}. */
int
noise_public_key(uint8_t pub[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN])
{

	if (crypto_scalarmult_curve25519_base(pub, priv)) {
		memset(pub, 0, NOISE_KEY_LEN);
		errno = EINVAL;
		return (-1);
	}
	return (0);
}

/* DH(): X25519, refusing an all-zero result (a low-order peer key). */
static int
dh(uint8_t out[NOISE_KEY_LEN], const uint8_t priv[NOISE_KEY_LEN], const uint8_t pub[NOISE_KEY_LEN])
{

	if (crypto_scalarmult_curve25519(out, priv, pub) || sodium_is_zero(out, NOISE_KEY_LEN)) {
		sodium_memzero(out, NOISE_KEY_LEN);
		errno = EBADMSG;
		return (-1);
	}
	return (0);
}

/* HMAC-SHA256(key, a || b). */
static void
hmac(uint8_t out[NOISE_HASH_LEN], const uint8_t key[NOISE_HASH_LEN], const uint8_t *a, size_t alen,
     const uint8_t *b, size_t blen)
{
	crypto_auth_hmacsha256_state st;

	crypto_auth_hmacsha256_init(&st, key, NOISE_HASH_LEN);
	crypto_auth_hmacsha256_update(&st, a, alen);
	crypto_auth_hmacsha256_update(&st, b, blen);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof(st));
}

/* HKDF(ck, ikm) into ${out1}, ${out2} and, unless NULL, ${out3}. */
static void
hkdf(const uint8_t ck[NOISE_HASH_LEN], const uint8_t *ikm, size_t ikmlen,
     uint8_t out1[NOISE_HASH_LEN], uint8_t out2[NOISE_HASH_LEN], uint8_t *out3)
{
	static const uint8_t one = 1, two = 2, three = 3;
	uint8_t temp_key[NOISE_HASH_LEN];

	hmac(temp_key, ck, ikm, ikmlen, NULL, 0);
	hmac(out1, temp_key, &one, 1, NULL, 0);
	hmac(out2, temp_key, out1, NOISE_HASH_LEN, &two, 1);
	if (out3 != NULL)
		hmac(out3, temp_key, out2, NOISE_HASH_LEN, &three, 1);
	sodium_memzero(temp_key, sizeof(temp_key));
}

/* The 96-bit AEAD nonce: 4 zero bytes then n, big-endian for AESGCM. */
static void
make_nonce(uint8_t nonce[12], enum noise_suite suite, uint64_t n)
{
	size_t i;

	memset(nonce, 0, 4);
	for (i = 0; i < 8; i++) {
		if (suite == NOISE_SUITE_AESGCM)
			nonce[11 - i] = (uint8_t)(n >> (8 * i));
		else
			nonce[4 + i] = (uint8_t)(n >> (8 * i));
	}
}

/* ENCRYPT(k, n, ad, m): ${mlen} + NOISE_TAG_LEN bytes into ${c}. */
static void
aead_encrypt(const struct noise_cipher *cs, uint64_t n, uint8_t *c, const uint8_t *m, size_t mlen,
             const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[12];

	make_nonce(nonce, cs->suite, n);
	if (cs->suite == NOISE_SUITE_AESGCM)
		crypto_aead_aes256gcm_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce, cs->k);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, mlen, ad, adlen, NULL, nonce,
		                                          cs->k);
}

/* DECRYPT(k, n, ad, c): ${clen} - NOISE_TAG_LEN bytes into ${m}. */
static int
aead_decrypt(const struct noise_cipher *cs, uint64_t n, uint8_t *m, const uint8_t *c, size_t clen,
             const uint8_t *ad, size_t adlen)
{
	uint8_t nonce[12];

	make_nonce(nonce, cs->suite, n);
	if (cs->suite == NOISE_SUITE_AESGCM)
		return (
		    crypto_aead_aes256gcm_decrypt(m, NULL, NULL, c, clen, ad, adlen, nonce, cs->k));
	return (crypto_aead_chacha20poly1305_ietf_decrypt(m, NULL, NULL, c, clen, ad, adlen, nonce,
	                                                  cs->k));
}

/* InitializeKey(k). */
static void
cipher_init_key(struct noise_cipher *cs, const uint8_t k[NOISE_KEY_LEN])
{

	memcpy(cs->k, k, NOISE_KEY_LEN);
	cs->haskey = 1;
	cs->n = 0;
}

/*
 * EncryptWithAd(ad, m): ${mlen} bytes, plus a tag if a key is set, into
 * ${c}.  The nonce 2^64-1 is reserved, so it is never used.
 */
static int
cipher_encrypt_ad(struct noise_cipher *cs, uint8_t *c, const uint8_t *m, size_t mlen,
                  const uint8_t *ad, size_t adlen)
{

	if (!cs->haskey) {
		if (mlen > 0)
			memmove(c, m, mlen);
		return (0);
	}
	if (cs->n == UINT64_MAX) {
		errno = EOVERFLOW;
		return (-1);
	}
	aead_encrypt(cs, cs->n, c, m, mlen, ad, adlen);
	cs->n++;
	return (0);
}

/* DecryptWithAd(ad, c): the nonce advances only on success. */
static int
cipher_decrypt_ad(struct noise_cipher *cs, uint8_t *m, const uint8_t *c, size_t clen,
                  const uint8_t *ad, size_t adlen)
{

	if (!cs->haskey) {
		if (clen > 0)
			memmove(m, c, clen);
		return (0);
	}
	if (cs->n == UINT64_MAX) {
		errno = EOVERFLOW;
		return (-1);
	}
	if (clen < NOISE_TAG_LEN || aead_decrypt(cs, cs->n, m, c, clen, ad, adlen)) {
		errno = EBADMSG;
		return (-1);
	}
	cs->n++;
	return (0);
}

/* MixHash(data): h = SHA256(h || data). */
static void
mix_hash(struct noise_handshake *hs, const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state st;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, hs->h, NOISE_HASH_LEN);
	crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, hs->h);
}

/* MixKey(ikm): ck, temp_k = HKDF(ck, ikm, 2); InitializeKey(temp_k). */
static void
mix_key(struct noise_handshake *hs, const uint8_t *ikm, size_t ikmlen)
{
	uint8_t ck[NOISE_HASH_LEN], temp_k[NOISE_HASH_LEN];

	hkdf(hs->ck, ikm, ikmlen, ck, temp_k, NULL);
	memcpy(hs->ck, ck, NOISE_HASH_LEN);
	cipher_init_key(&hs->cs, temp_k);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(temp_k, sizeof(temp_k));
}

/* MixKeyAndHash(ikm): the psk token. */
static void
mix_key_and_hash(struct noise_handshake *hs, const uint8_t *ikm, size_t ikmlen)
{
	uint8_t ck[NOISE_HASH_LEN], temp_h[NOISE_HASH_LEN];
	uint8_t temp_k[NOISE_HASH_LEN];

	hkdf(hs->ck, ikm, ikmlen, ck, temp_h, temp_k);
	memcpy(hs->ck, ck, NOISE_HASH_LEN);
	mix_hash(hs, temp_h, NOISE_HASH_LEN);
	cipher_init_key(&hs->cs, temp_k);
	sodium_memzero(ck, sizeof(ck));
	sodium_memzero(temp_h, sizeof(temp_h));
	sodium_memzero(temp_k, sizeof(temp_k));
}

/*
 * The DH tokens, the same when writing and reading: es pairs the
 * initiator's e with the responder's s, se the initiator's s with the
 * responder's e.
 */
static int
mix_dh(struct noise_handshake *hs, enum token t)
{
	uint8_t dhout[NOISE_KEY_LEN];
	const uint8_t *priv, *pub;

	if (t == TOK_EE) {
		priv = hs->e_priv;
		pub = hs->re;
	} else if ((t == TOK_ES) == (hs->initiator == 1)) {
		priv = hs->e_priv;
		pub = hs->rs;
	} else {
		priv = hs->s_priv;
		pub = hs->re;
	}
	if (dh(dhout, priv, pub))
		return (-1);
	mix_key(hs, dhout, NOISE_KEY_LEN);
	sodium_memzero(dhout, sizeof(dhout));
	return (0);
}

/* EncryptAndHash(m) into ${c}. */
static int
encrypt_and_hash(struct noise_handshake *hs, uint8_t *c, const uint8_t *m, size_t mlen)
{
	size_t clen = mlen + (hs->cs.haskey ? NOISE_TAG_LEN : 0);

	if (cipher_encrypt_ad(&hs->cs, c, m, mlen, hs->h, NOISE_HASH_LEN))
		return (-1);
	mix_hash(hs, c, clen);
	return (0);
}

/* DecryptAndHash(c) into ${m}. */
static int
decrypt_and_hash(struct noise_handshake *hs, uint8_t *m, const uint8_t *c, size_t clen)
{

	if (cipher_decrypt_ad(&hs->cs, m, c, clen, hs->h, NOISE_HASH_LEN))
		return (-1);
	mix_hash(hs, c, clen);
	return (0);
}

/*
 * The bytes the next message adds to its payload: this depends only on the
 * tokens and on when a key gets set, so it is known before touching state.
 */
static size_t
message_overhead(const struct noise_handshake *hs)
{
	const enum token *t = hs->pattern->msgs[hs->msg];
	int haskey = hs->cs.haskey;
	size_t len = 0;

	for (; *t != TOK_END; t++) {
		switch (*t) {
		case TOK_E:
			len += NOISE_KEY_LEN;
			if (hs->pattern->psk)
				haskey = 1;
			break;
		case TOK_S:
			len += NOISE_KEY_LEN + (haskey ? NOISE_TAG_LEN : 0);
			break;
		default:
			haskey = 1;
			break;
		}
	}
	return (len + (haskey ? NOISE_TAG_LEN : 0));
}

/* Wipe every secret of ${hs} and mark it dead. */
static void
handshake_fail(struct noise_handshake *hs)
{

	sodium_memzero(hs, sizeof(*hs));
	hs->failed = 1;
}

/* Start a handshake (Initialize() in the spec). */
struct noise_handshake *
noise_handshake_new(enum noise_pattern pattern, enum noise_suite suite, int initiator,
                    const uint8_t *prologue, size_t prologuelen, const uint8_t *s_priv,
                    const uint8_t *e_priv, const uint8_t *psk)
{
	struct noise_handshake *hs;
	const struct pattern *p;
	char name[64];
	size_t namelen;

	/* Each pattern takes the keys it needs, and only those. */
	if (pattern < NOISE_PATTERN_NN || pattern > NOISE_PATTERN_XXPSK0 || !suite_valid(suite) ||
	    (prologue == NULL && prologuelen > 0)) {
		errno = EINVAL;
		goto err0;
	}
	p = &patterns[pattern];
	if ((s_priv != NULL) != p->needs_s || (psk != NULL) != p->psk) {
		errno = EINVAL;
		goto err0;
	}
	if (!noise_suite_available(suite)) {
		errno = ENOTSUP;
		goto err0;
	}

	/* Keys live in guarded, locked memory. */
	if ((hs = sodium_malloc(sizeof(*hs))) == NULL)
		goto err0;
	memset(hs, 0, sizeof(*hs));
	hs->pattern = p;
	hs->initiator = initiator ? 1 : 0;
	hs->cs.suite = suite;
	if (s_priv != NULL) {
		memcpy(hs->s_priv, s_priv, NOISE_KEY_LEN);
		if (noise_public_key(hs->s_pub, hs->s_priv))
			goto err1;
	}
	if (e_priv != NULL) {
		memcpy(hs->e_priv, e_priv, NOISE_KEY_LEN);
		hs->e_fixed = 1;
	}
	if (psk != NULL)
		memcpy(hs->psk, psk, NOISE_KEY_LEN);

	/* InitializeSymmetric(protocol_name): hashed only if over 32 bytes. */
	namelen = (size_t)snprintf(name, sizeof(name), "Noise_%s_25519_%s_SHA256", p->name,
	                           cipher_names[suite]);
	if (namelen <= NOISE_HASH_LEN)
		memcpy(hs->h, name, namelen);
	else
		crypto_hash_sha256(hs->h, (const uint8_t *)name, namelen);
	memcpy(hs->ck, hs->h, NOISE_HASH_LEN);

	/* MixHash(prologue); none of our patterns has pre-messages. */
	mix_hash(hs, prologue, prologuelen);

	return (hs);

err1:
	noise_handshake_free(hs);
err0:
	/* Failure! */
	return (NULL);
}

/* What the handshake expects next. */
enum noise_action
noise_handshake_action(const struct noise_handshake *hs)
{

	if (hs->failed)
		return (NOISE_ACTION_FAILED);
	if (hs->msg == hs->pattern->nmsgs)
		return (NOISE_ACTION_SPLIT);
	if ((hs->msg % 2 == 0) == hs->initiator)
		return (NOISE_ACTION_WRITE);
	return (NOISE_ACTION_READ);
}

/* WriteMessage(payload). */
int
noise_handshake_write_message(struct noise_handshake *hs, const uint8_t *payload, size_t payloadlen,
                              uint8_t *out, size_t outmax, size_t *outlen)
{
	const enum token *t;
	size_t len, total;

	*outlen = 0;

	/* Refuse, leaving ${hs} as it is, a call out of turn or too big. */
	if (noise_handshake_action(hs) != NOISE_ACTION_WRITE ||
	    (payload == NULL && payloadlen > 0)) {
		errno = EINVAL;
		return (-1);
	}
	total = message_overhead(hs);
	if (payloadlen > NOISE_MAX_MESSAGE - total || total + payloadlen > outmax) {
		errno = EMSGSIZE;
		return (-1);
	}
	total += payloadlen;

	len = 0;
	for (t = hs->pattern->msgs[hs->msg]; *t != TOK_END; t++) {
		switch (*t) {
		case TOK_E:
			if (!hs->e_fixed)
				randombytes_buf(hs->e_priv, NOISE_KEY_LEN);
			if (noise_public_key(hs->e_pub, hs->e_priv))
				goto err1;
			memcpy(&out[len], hs->e_pub, NOISE_KEY_LEN);
			len += NOISE_KEY_LEN;
			mix_hash(hs, hs->e_pub, NOISE_KEY_LEN);
			if (hs->pattern->psk)
				mix_key(hs, hs->e_pub, NOISE_KEY_LEN);
			break;
		case TOK_S:
			if (encrypt_and_hash(hs, &out[len], hs->s_pub, NOISE_KEY_LEN))
				goto err1;
			len += NOISE_KEY_LEN + (hs->cs.haskey ? NOISE_TAG_LEN : 0);
			break;
		case TOK_EE:
		case TOK_ES:
		case TOK_SE:
			if (mix_dh(hs, *t))
				goto err1;
			break;
		case TOK_PSK:
			mix_key_and_hash(hs, hs->psk, NOISE_KEY_LEN);
			break;
		case TOK_END:
			break;
		}
	}
	if (encrypt_and_hash(hs, &out[len], payload, payloadlen))
		goto err1;
	len += payloadlen + (hs->cs.haskey ? NOISE_TAG_LEN : 0);

	hs->msg++;
	*outlen = len;
	return (0);

err1:
	sodium_memzero(out, total);
	handshake_fail(hs);
	return (-1);
}

/* ReadMessage(message). */
int
noise_handshake_read_message(struct noise_handshake *hs, const uint8_t *msg, size_t msglen,
                             uint8_t *payload, size_t payloadmax, size_t *payloadlen)
{
	const enum token *t;
	size_t overhead, len, slen;

	*payloadlen = 0;

	/* Refuse, leaving ${hs} as it is, a call out of turn or a small buffer. */
	if (noise_handshake_action(hs) != NOISE_ACTION_READ || (msg == NULL && msglen > 0)) {
		errno = EINVAL;
		return (-1);
	}
	overhead = message_overhead(hs);
	if (msglen >= overhead && msglen - overhead > payloadmax) {
		errno = EMSGSIZE;
		return (-1);
	}

	/* A message of the wrong size is the peer's doing: end the handshake. */
	if (msglen < overhead || msglen > NOISE_MAX_MESSAGE) {
		errno = EBADMSG;
		goto err0;
	}

	len = 0;
	for (t = hs->pattern->msgs[hs->msg]; *t != TOK_END; t++) {
		switch (*t) {
		case TOK_E:
			memcpy(hs->re, &msg[len], NOISE_KEY_LEN);
			len += NOISE_KEY_LEN;
			mix_hash(hs, hs->re, NOISE_KEY_LEN);
			if (hs->pattern->psk)
				mix_key(hs, hs->re, NOISE_KEY_LEN);
			break;
		case TOK_S:
			slen = NOISE_KEY_LEN + (hs->cs.haskey ? NOISE_TAG_LEN : 0);
			if (decrypt_and_hash(hs, hs->rs, &msg[len], slen))
				goto err1;
			hs->has_rs = 1;
			len += slen;
			break;
		case TOK_EE:
		case TOK_ES:
		case TOK_SE:
			if (mix_dh(hs, *t))
				goto err1;
			break;
		case TOK_PSK:
			mix_key_and_hash(hs, hs->psk, NOISE_KEY_LEN);
			break;
		case TOK_END:
			break;
		}
	}
	if (decrypt_and_hash(hs, payload, &msg[len], msglen - len))
		goto err1;

	hs->msg++;
	*payloadlen = msglen - len - (hs->cs.haskey ? NOISE_TAG_LEN : 0);
	return (0);

err1:
	if (payload != NULL)
		sodium_memzero(payload, msglen - overhead);
	errno = EBADMSG;
err0:
	handshake_fail(hs);
	return (-1);
}

/* GetHandshakeHash(), once complete. */
int
noise_handshake_hash(const struct noise_handshake *hs, uint8_t h[NOISE_HASH_LEN])
{

	if (noise_handshake_action(hs) != NOISE_ACTION_SPLIT) {
		memset(h, 0, NOISE_HASH_LEN);
		errno = EINVAL;
		return (-1);
	}
	memcpy(h, hs->h, NOISE_HASH_LEN);
	return (0);
}

/* The peer's static public key, once received. */
int
noise_handshake_remote_static(const struct noise_handshake *hs, uint8_t rs[NOISE_KEY_LEN])
{

	if (hs->failed || !hs->has_rs) {
		memset(rs, 0, NOISE_KEY_LEN);
		errno = EINVAL;
		return (-1);
	}
	memcpy(rs, hs->rs, NOISE_KEY_LEN);
	return (0);
}

/* A transport CipherState keyed with ${k}. */
struct noise_cipher *
noise_cipher_new(enum noise_suite suite, const uint8_t k[NOISE_KEY_LEN])
{
	struct noise_cipher *cs;

	if (!suite_valid(suite)) {
		errno = EINVAL;
		return (NULL);
	}
	if (!noise_suite_available(suite)) {
		errno = ENOTSUP;
		return (NULL);
	}
	if ((cs = sodium_malloc(sizeof(*cs))) == NULL)
		return (NULL);
	memset(cs, 0, sizeof(*cs));
	cs->suite = suite;
	cipher_init_key(cs, k);
	return (cs);
}

/* Split(): c1 carries initiator -> responder, c2 the other way. */
int
noise_handshake_split(struct noise_handshake *hs, struct noise_cipher **send,
                      struct noise_cipher **recv)
{
	uint8_t k1[NOISE_HASH_LEN], k2[NOISE_HASH_LEN];
	struct noise_cipher *c1, *c2;

	*send = *recv = NULL;
	if (noise_handshake_action(hs) != NOISE_ACTION_SPLIT) {
		errno = EINVAL;
		goto err0;
	}

	hkdf(hs->ck, NULL, 0, k1, k2, NULL);
	if ((c1 = noise_cipher_new(hs->cs.suite, k1)) == NULL)
		goto err1;
	if ((c2 = noise_cipher_new(hs->cs.suite, k2)) == NULL)
		goto err2;
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));

	*send = hs->initiator ? c1 : c2;
	*recv = hs->initiator ? c2 : c1;
	return (0);

err2:
	noise_cipher_free(c1);
err1:
	sodium_memzero(k1, sizeof(k1));
	sodium_memzero(k2, sizeof(k2));
err0:
	return (-1);
}

/* Wipe and free a handshake state. */
void
noise_handshake_free(struct noise_handshake *hs)
{

	if (hs == NULL)
		return;
	sodium_memzero(hs, sizeof(*hs));
	sodium_free(hs);
}

/* Transport EncryptWithAd. */
int
noise_cipher_encrypt(struct noise_cipher *cs, uint8_t *c, const uint8_t *m, size_t mlen,
                     const uint8_t *ad, size_t adlen)
{

	if (mlen > NOISE_MAX_MESSAGE - NOISE_TAG_LEN) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (cipher_encrypt_ad(cs, c, m, mlen, ad, adlen));
}

/* Transport DecryptWithAd. */
int
noise_cipher_decrypt(struct noise_cipher *cs, uint8_t *m, const uint8_t *c, size_t clen,
                     const uint8_t *ad, size_t adlen)
{

	if (clen > NOISE_MAX_MESSAGE) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (cipher_decrypt_ad(cs, m, c, clen, ad, adlen));
}

/* Rekey(): k = first 32 bytes of ENCRYPT(k, 2^64-1, "", 32 zero bytes). */
int
noise_cipher_rekey(struct noise_cipher *cs)
{
	static const uint8_t zeros[NOISE_KEY_LEN];
	uint8_t out[NOISE_KEY_LEN + NOISE_TAG_LEN];

	aead_encrypt(cs, UINT64_MAX, out, zeros, sizeof(zeros), NULL, 0);
	memcpy(cs->k, out, NOISE_KEY_LEN);
	sodium_memzero(out, sizeof(out));
	return (0);
}

/* Wipe and free a transport cipher. */
void
noise_cipher_free(struct noise_cipher *cs)
{

	if (cs == NULL)
		return;
	sodium_memzero(cs, sizeof(*cs));
	sodium_free(cs);
}
