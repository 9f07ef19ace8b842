/*
 * Unit tests for net/noise: the cacophony test vectors for every suite
 * blazefs uses, then the failures a peer or an attacker can cause.
 *
 * The vectors are read at run time from $BLAZEFS_VECTORS, or else from
 * tests/vectors/noise-25519-sha256.json (the public-domain cacophony
 * vectors, vendored) relative to the repository root, which is the working
 * directory of the tests.
 */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

#include "net/noise.h"

#define VECTORS_DEFAULT "tests/vectors/noise-25519-sha256.json"
#define BUFLEN 1024

static json_t *vectors;

static const enum noise_pattern all_patterns[] = {NOISE_PATTERN_NN, NOISE_PATTERN_XX,
                                                  NOISE_PATTERN_XXPSK3};
static const enum noise_suite all_suites[] = {NOISE_SUITE_AESGCM, NOISE_SUITE_CHACHAPOLY};

/* Handshake messages in each pattern. */
static size_t
pattern_nmsgs(enum noise_pattern p)
{

	return (p == NOISE_PATTERN_NN ? 2 : 3);
}

static const char *
pattern_name(enum noise_pattern p)
{

	return (p == NOISE_PATTERN_NN ? "NN" : p == NOISE_PATTERN_XX ? "XX" : "XXpsk3");
}

static const char *
suite_name(enum noise_suite s)
{

	return (s == NOISE_SUITE_AESGCM ? "AESGCM" : "ChaChaPoly");
}

/* Decode the hex string ${key} of ${obj} into ${out}; return its length. */
static size_t
hexfield(const json_t *obj, const char *key, uint8_t *out, size_t max)
{
	const char *hex;
	size_t len;

	hex = json_string_value(json_object_get(obj, key));
	assert_non_null(hex);
	assert_int_equal(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &len, NULL), 0);
	return (len);
}

/* Load the vector file once for the whole group. */
static int
setup(void **state)
{
	const char *path;
	json_error_t err;

	(void)state;
	if (sodium_init() < 0)
		return (-1);
	if ((path = getenv("BLAZEFS_VECTORS")) == NULL)
		path = VECTORS_DEFAULT;
	if ((vectors = json_load_file(path, 0, &err)) == NULL) {
		print_error("cannot load test vectors %s: %s (line %d)\n", path, err.text,
		            err.line);
		return (-1);
	}
	return (0);
}

static int
teardown(void **state)
{

	(void)state;
	json_decref(vectors);
	return (0);
}

/*
 * Run one vector: both sides reproduce every handshake message byte for
 * byte and read the other's payloads, agree on the expected handshake hash
 * and on each other's static keys, then do the same for the transport
 * messages that follow.  Message i is sent by the initiator iff i is even.
 * Return 0 if the vector was run, 1 if its cipher is not available here.
 */
static int
run_vector(const json_t *v)
{
	const char *name = json_string_value(json_object_get(v, "protocol_name"));
	enum noise_pattern pattern = 0;
	enum noise_suite suite = 0;
	uint8_t iprol[BUFLEN], rprol[BUFLEN], ie[32], re[32], is[32], rs[32];
	uint8_t ipsk[32], rpsk[32], ispub[32], rspub[32], key[32], hash[32];
	uint8_t payload[BUFLEN], ct[BUFLEN], out[BUFLEN], in[BUFLEN];
	size_t iprollen, rprollen, plen, ctlen, outlen, inlen, i, nmsgs;
	struct noise_handshake *hi, *hr, *snd, *rcv;
	struct noise_cipher *isend, *irecv, *rsend, *rrecv;
	const json_t *msgs, *m;
	int has_s, has_psk;

	assert_non_null(name);
	if (strncmp(name, "Noise_NN_", 9) == 0)
		pattern = NOISE_PATTERN_NN;
	else if (strncmp(name, "Noise_XX_", 9) == 0)
		pattern = NOISE_PATTERN_XX;
	else if (strncmp(name, "Noise_XXpsk3_", 13) == 0)
		pattern = NOISE_PATTERN_XXPSK3;
	else
		fail_msg("unexpected vector %s", name);
	if (strstr(name, "_25519_AESGCM_SHA256") != NULL)
		suite = NOISE_SUITE_AESGCM;
	else if (strstr(name, "_25519_ChaChaPoly_SHA256") != NULL)
		suite = NOISE_SUITE_CHACHAPOLY;
	else
		fail_msg("unexpected vector %s", name);
	if (!noise_suite_available(suite)) {
		print_message("SKIPPED %s: no AES-NI on this CPU\n", name);
		return (1);
	}
	nmsgs = pattern_nmsgs(pattern);
	has_s = (pattern != NOISE_PATTERN_NN);
	has_psk = (pattern == NOISE_PATTERN_XXPSK3);

	/* No pattern we use has pre-messages. */
	assert_null(json_object_get(v, "init_remote_static"));
	assert_null(json_object_get(v, "resp_remote_static"));

	iprollen = hexfield(v, "init_prologue", iprol, sizeof(iprol));
	rprollen = hexfield(v, "resp_prologue", rprol, sizeof(rprol));
	assert_int_equal(hexfield(v, "init_ephemeral", ie, 32), 32);
	assert_int_equal(hexfield(v, "resp_ephemeral", re, 32), 32);
	if (has_s) {
		assert_int_equal(hexfield(v, "init_static", is, 32), 32);
		assert_int_equal(hexfield(v, "resp_static", rs, 32), 32);
		assert_int_equal(noise_public_key(ispub, is), 0);
		assert_int_equal(noise_public_key(rspub, rs), 0);
	} else {
		assert_null(json_object_get(v, "init_static"));
	}
	if (has_psk) {
		assert_int_equal(json_array_size(json_object_get(v, "init_psks")), 1);
		assert_int_equal(json_array_size(json_object_get(v, "resp_psks")), 1);
		assert_int_equal(sodium_hex2bin(ipsk, 32,
		                                json_string_value(json_array_get(
		                                    json_object_get(v, "init_psks"), 0)),
		                                64, NULL, &plen, NULL),
		                 0);
		assert_int_equal(plen, 32);
		assert_int_equal(sodium_hex2bin(rpsk, 32,
		                                json_string_value(json_array_get(
		                                    json_object_get(v, "resp_psks"), 0)),
		                                64, NULL, &plen, NULL),
		                 0);
		assert_int_equal(plen, 32);
	} else {
		assert_null(json_object_get(v, "init_psks"));
	}

	hi = noise_handshake_new(pattern, suite, 1, iprol, iprollen, has_s ? is : NULL, ie,
	                         has_psk ? ipsk : NULL);
	hr = noise_handshake_new(pattern, suite, 0, rprol, rprollen, has_s ? rs : NULL, re,
	                         has_psk ? rpsk : NULL);
	assert_non_null(hi);
	assert_non_null(hr);
	isend = irecv = rsend = rrecv = NULL;

	msgs = json_object_get(v, "messages");
	assert_true(json_array_size(msgs) > nmsgs);
	for (i = 0; i < json_array_size(msgs); i++) {
		m = json_array_get(msgs, i);
		plen = hexfield(m, "payload", payload, sizeof(payload));
		ctlen = hexfield(m, "ciphertext", ct, sizeof(ct));

		if (i < nmsgs) {
			snd = (i % 2 == 0) ? hi : hr;
			rcv = (i % 2 == 0) ? hr : hi;
			assert_int_equal(noise_handshake_action(snd), NOISE_ACTION_WRITE);
			assert_int_equal(noise_handshake_action(rcv), NOISE_ACTION_READ);
			assert_int_equal(noise_handshake_write_message(snd, payload, plen, out,
			                                               sizeof(out), &outlen),
			                 0);
			assert_int_equal(outlen, ctlen);
			assert_memory_equal(out, ct, ctlen);
			assert_int_equal(
			    noise_handshake_read_message(rcv, out, outlen, in, sizeof(in), &inlen),
			    0);
			assert_int_equal(inlen, plen);
			assert_memory_equal(in, payload, plen);
			continue;
		}

		if (i == nmsgs) {
			/* The handshake is over: check its outcome, split. */
			assert_int_equal(noise_handshake_action(hi), NOISE_ACTION_SPLIT);
			assert_int_equal(noise_handshake_action(hr), NOISE_ACTION_SPLIT);
			assert_int_equal(hexfield(v, "handshake_hash", hash, 32), 32);
			assert_int_equal(noise_handshake_hash(hi, key), 0);
			assert_memory_equal(key, hash, 32);
			assert_int_equal(noise_handshake_hash(hr, key), 0);
			assert_memory_equal(key, hash, 32);
			if (has_s) {
				assert_int_equal(noise_handshake_remote_static(hi, key), 0);
				assert_memory_equal(key, rspub, 32);
				assert_int_equal(noise_handshake_remote_static(hr, key), 0);
				assert_memory_equal(key, ispub, 32);
			} else {
				assert_int_equal(noise_handshake_remote_static(hi, key), -1);
			}
			assert_int_equal(noise_handshake_split(hi, &isend, &irecv), 0);
			assert_int_equal(noise_handshake_split(hr, &rsend, &rrecv), 0);
			noise_handshake_free(hi);
			noise_handshake_free(hr);
		}

		assert_int_equal(ctlen, plen + NOISE_TAG_LEN);
		assert_int_equal(
		    noise_cipher_encrypt((i % 2 == 0) ? isend : rsend, out, payload, plen, NULL, 0),
		    0);
		assert_memory_equal(out, ct, ctlen);
		assert_int_equal(
		    noise_cipher_decrypt((i % 2 == 0) ? rrecv : irecv, in, out, ctlen, NULL, 0), 0);
		assert_memory_equal(in, payload, plen);
	}

	noise_cipher_free(isend);
	noise_cipher_free(irecv);
	noise_cipher_free(rsend);
	noise_cipher_free(rrecv);
	return (0);
}

static void
test_vectors(void **state)
{
	const json_t *list;
	int seen[4][3] = {{0}};
	size_t i, run = 0, skipped = 0;
	const char *name;
	int p, s;

	(void)state;
	list = json_object_get(vectors, "vectors");
	assert_true(json_is_array(list));
	for (i = 0; i < json_array_size(list); i++) {
		if (run_vector(json_array_get(list, i)))
			skipped++;
		else
			run++;
		name = json_string_value(json_object_get(json_array_get(list, i), "protocol_name"));
		p = strncmp(name, "Noise_NN_", 9) == 0   ? 1
		    : strncmp(name, "Noise_XX_", 9) == 0 ? 2
		                                         : 3;
		s = strstr(name, "AESGCM") != NULL ? 1 : 2;
		seen[p][s]++;
	}

	/* Every suite blazefs uses has a vector; none was silently skipped. */
	for (p = 1; p <= 3; p++)
		for (s = 1; s <= 2; s++)
			assert_int_equal(seen[p][s], 1);
	assert_int_equal(run + skipped, 6);
	if (noise_suite_available(NOISE_SUITE_AESGCM))
		assert_int_equal(run, 6);
	print_message("%zu vectors reproduced, %zu skipped\n", run, skipped);
}

/* Fixed, distinct keys for the handshakes below (ephemerals stay random). */
static const uint8_t psk_a[32] = "blazefs test psk A..............";
static const uint8_t psk_b[32] = "blazefs test psk B..............";

static void
make_pair(enum noise_pattern p, enum noise_suite s, const uint8_t *iprol, size_t iprollen,
          const uint8_t *rprol, size_t rprollen, const uint8_t *ipsk, const uint8_t *rpsk,
          struct noise_handshake **hi, struct noise_handshake **hr)
{
	uint8_t is[32], rs[32];

	memset(is, 0x11, sizeof(is));
	memset(rs, 0x22, sizeof(rs));
	*hi = noise_handshake_new(p, s, 1, iprol, iprollen, p == NOISE_PATTERN_NN ? NULL : is, NULL,
	                          p == NOISE_PATTERN_XXPSK3 ? ipsk : NULL);
	*hr = noise_handshake_new(p, s, 0, rprol, rprollen, p == NOISE_PATTERN_NN ? NULL : rs, NULL,
	                          p == NOISE_PATTERN_XXPSK3 ? rpsk : NULL);
	assert_non_null(*hi);
	assert_non_null(*hr);
}

/* How to damage one handshake message on its way. */
struct mutation {
	size_t msg; /* Which message. */
	long bit;   /* Bit to flip, or -1. */
	long len;   /* New length (shorter or one byte longer), or -1. */
};

/*
 * Run a handshake between ${hi} and ${hr}, applying ${mut} if not NULL.
 * Return the index of the message whose read failed, or -1 if the handshake
 * completed; a side that failed must then report NOISE_ACTION_FAILED.  The
 * lengths of the messages are stored in ${lens} if not NULL.
 */
static long
drive(struct noise_handshake *hi, struct noise_handshake *hr, size_t nmsgs,
      const struct mutation *mut, size_t *lens)
{
	static const uint8_t payload[] = "hello";
	uint8_t msg[BUFLEN], in[BUFLEN], hash1[32], hash2[32];
	struct noise_handshake *snd, *rcv;
	size_t i, len, inlen;
	int mutated;

	for (i = 0; i < nmsgs; i++) {
		snd = (i % 2 == 0) ? hi : hr;
		rcv = (i % 2 == 0) ? hr : hi;
		if (noise_handshake_write_message(snd, payload, 5, msg, sizeof(msg), &len))
			fail_msg("write of message %zu failed", i);
		if (lens != NULL)
			lens[i] = len;
		mutated = (mut != NULL && mut->msg == i);
		if (mutated) {
			if (mut->bit >= 0)
				msg[mut->bit / 8] ^= (uint8_t)(1 << (mut->bit % 8));
			if (mut->len >= 0)
				len = (size_t)mut->len;
		}
		if (noise_handshake_read_message(rcv, msg, len, in, sizeof(in), &inlen)) {
			assert_int_equal(errno, EBADMSG);
			assert_int_equal(inlen, 0);
			assert_int_equal(noise_handshake_action(rcv), NOISE_ACTION_FAILED);
			return ((long)i);
		}
		/* An unauthenticated message may be read wrong, not trusted. */
		if (!mutated) {
			assert_int_equal(inlen, 5);
			assert_memory_equal(in, payload, 5);
		}
	}

	/* Both sides completed: they must agree. */
	assert_int_equal(noise_handshake_hash(hi, hash1), 0);
	assert_int_equal(noise_handshake_hash(hr, hash2), 0);
	assert_memory_equal(hash1, hash2, 32);
	return (-1);
}

/* The message at which damage to message ${k} must be caught. */
static long
caught_at(enum noise_pattern p, size_t k)
{

	/* Message 1 of NN and XX is unauthenticated: the next read fails. */
	if (k == 0 && p != NOISE_PATTERN_XXPSK3)
		return (1);
	return ((long)k);
}

static void
test_handshake_random_keys(void **state)
{
	struct noise_handshake *hi, *hr;
	uint8_t rs[32], pub[32], priv[32];
	size_t p, s;

	(void)state;
	for (p = 0; p < 3; p++) {
		for (s = 0; s < 2; s++) {
			if (!noise_suite_available(all_suites[s]))
				continue;
			make_pair(all_patterns[p], all_suites[s], NULL, 0, NULL, 0, psk_a, psk_a,
			          &hi, &hr);
			assert_int_equal(drive(hi, hr, pattern_nmsgs(all_patterns[p]), NULL, NULL),
			                 -1);
			if (all_patterns[p] != NOISE_PATTERN_NN) {
				memset(priv, 0x22, 32);
				assert_int_equal(noise_public_key(pub, priv), 0);
				assert_int_equal(noise_handshake_remote_static(hi, rs), 0);
				assert_memory_equal(rs, pub, 32);
			}
			noise_handshake_free(hi);
			noise_handshake_free(hr);
		}
	}

	/* Two fresh key pairs differ and match their public keys. */
	assert_int_equal(noise_keypair(pub, priv), 0);
	assert_int_equal(noise_public_key(rs, priv), 0);
	assert_memory_equal(rs, pub, 32);
	assert_int_equal(noise_keypair(rs, priv), 0);
	assert_memory_not_equal(rs, pub, 32);
}

static void
test_bitflip(void **state)
{
	struct noise_handshake *hi, *hr;
	struct mutation mut;
	size_t lens[3], p, s, k, nmsgs;
	long bit;

	(void)state;
	for (p = 0; p < 3; p++) {
		for (s = 0; s < 2; s++) {
			if (!noise_suite_available(all_suites[s]))
				continue;
			nmsgs = pattern_nmsgs(all_patterns[p]);
			make_pair(all_patterns[p], all_suites[s], NULL, 0, NULL, 0, psk_a, psk_a,
			          &hi, &hr);
			assert_int_equal(drive(hi, hr, nmsgs, NULL, lens), -1);
			noise_handshake_free(hi);
			noise_handshake_free(hr);

			/* Every bit of every message. */
			for (k = 0; k < nmsgs; k++) {
				for (bit = 0; bit < (long)lens[k] * 8; bit++) {
					mut.msg = k;
					mut.bit = bit;
					mut.len = -1;
					make_pair(all_patterns[p], all_suites[s], NULL, 0, NULL, 0,
					          psk_a, psk_a, &hi, &hr);
					if (drive(hi, hr, nmsgs, &mut, NULL) !=
					    caught_at(all_patterns[p], k))
						fail_msg("%s %s: flip of bit %ld"
						         " of message %zu not caught",
						         pattern_name(all_patterns[p]),
						         suite_name(all_suites[s]), bit, k);
					noise_handshake_free(hi);
					noise_handshake_free(hr);
				}
			}
		}
	}
}

static void
test_truncate_extend(void **state)
{
	struct noise_handshake *hi, *hr;
	struct mutation mut;
	size_t lens[3], p, k, nmsgs;
	long len, want;

	(void)state;
	for (p = 0; p < 3; p++) {
		nmsgs = pattern_nmsgs(all_patterns[p]);
		make_pair(all_patterns[p], NOISE_SUITE_CHACHAPOLY, NULL, 0, NULL, 0, psk_a, psk_a,
		          &hi, &hr);
		assert_int_equal(drive(hi, hr, nmsgs, NULL, lens), -1);
		noise_handshake_free(hi);
		noise_handshake_free(hr);

		for (k = 0; k < nmsgs; k++) {
			for (len = 0; len <= (long)lens[k] + 1; len++) {
				if (len == (long)lens[k])
					continue;
				mut.msg = k;
				mut.bit = -1;
				mut.len = len;
				/* Too short for the e key: caught at once. */
				want = len < 32 ? (long)k : caught_at(all_patterns[p], k);
				make_pair(all_patterns[p], NOISE_SUITE_CHACHAPOLY, NULL, 0, NULL, 0,
				          psk_a, psk_a, &hi, &hr);
				if (drive(hi, hr, nmsgs, &mut, NULL) != want)
					fail_msg("%s: message %zu cut to %ld"
					         " bytes not caught",
					         pattern_name(all_patterns[p]), k, len);
				noise_handshake_free(hi);
				noise_handshake_free(hr);
			}
		}
	}
}

static void
test_psk_mismatch(void **state)
{
	struct noise_handshake *hi, *hr;
	size_t s;

	(void)state;
	for (s = 0; s < 2; s++) {
		if (!noise_suite_available(all_suites[s]))
			continue;
		make_pair(NOISE_PATTERN_XXPSK3, all_suites[s], NULL, 0, NULL, 0, psk_a, psk_b, &hi,
		          &hr);
		/* The psk is mixed in message 3: the responder catches it. */
		assert_int_equal(drive(hi, hr, 3, NULL, NULL), 2);
		assert_int_equal(noise_handshake_action(hr), NOISE_ACTION_FAILED);
		noise_handshake_free(hi);
		noise_handshake_free(hr);
	}
}

static void
test_prologue_mismatch(void **state)
{
	struct noise_handshake *hi, *hr;
	uint8_t pa[NOISE_SUITE_PROLOGUE_LEN], pb[NOISE_SUITE_PROLOGUE_LEN];
	size_t p;

	(void)state;
	assert_int_equal(noise_suite_prologue(pa, NOISE_SUITE_AESGCM), 0);
	assert_int_equal(noise_suite_prologue(pb, NOISE_SUITE_CHACHAPOLY), 0);
	for (p = 0; p < 3; p++) {
		/* A suite selector changed on the wire. */
		make_pair(all_patterns[p], NOISE_SUITE_CHACHAPOLY, pa, sizeof(pa), pb, sizeof(pb),
		          psk_a, psk_a, &hi, &hr);
		assert_int_equal(drive(hi, hr, pattern_nmsgs(all_patterns[p]), NULL, NULL),
		                 caught_at(all_patterns[p], 0));
		noise_handshake_free(hi);
		noise_handshake_free(hr);

		/* A prologue on one side only. */
		make_pair(all_patterns[p], NOISE_SUITE_CHACHAPOLY, pa, sizeof(pa), NULL, 0, psk_a,
		          psk_a, &hi, &hr);
		assert_int_equal(drive(hi, hr, pattern_nmsgs(all_patterns[p]), NULL, NULL),
		                 caught_at(all_patterns[p], 0));
		noise_handshake_free(hi);
		noise_handshake_free(hr);

		/* The same prologue works. */
		make_pair(all_patterns[p], NOISE_SUITE_CHACHAPOLY, pb, sizeof(pb), pb, sizeof(pb),
		          psk_a, psk_a, &hi, &hr);
		assert_int_equal(drive(hi, hr, pattern_nmsgs(all_patterns[p]), NULL, NULL), -1);
		noise_handshake_free(hi);
		noise_handshake_free(hr);
	}
}

static void
test_suite_prologue(void **state)
{
	uint8_t pro[NOISE_SUITE_PROLOGUE_LEN];

	(void)state;
	assert_int_equal(noise_suite_prologue(pro, 1), 0);
	assert_memory_equal(pro, "blazefs/1\x01", 10);
	assert_int_equal(noise_suite_prologue(pro, 2), 0);
	assert_memory_equal(pro, "blazefs/1\x02", 10);
	assert_int_equal(noise_suite_prologue(pro, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_true(sodium_is_zero(pro, sizeof(pro)));
	assert_int_equal(noise_suite_prologue(pro, 3), -1);
	assert_int_equal(noise_suite_available(NOISE_SUITE_CHACHAPOLY), 1);
	assert_int_equal(noise_suite_available(NOISE_SUITE_AESGCM),
	                 crypto_aead_aes256gcm_is_available());
	assert_int_equal(noise_suite_available(0), 0);
}

/* A completed XX handshake, split into the four transport ciphers. */
static void
transport_pair(enum noise_suite s, struct noise_cipher **isend, struct noise_cipher **irecv,
               struct noise_cipher **rsend, struct noise_cipher **rrecv)
{
	struct noise_handshake *hi, *hr;

	make_pair(NOISE_PATTERN_XX, s, NULL, 0, NULL, 0, NULL, NULL, &hi, &hr);
	assert_int_equal(drive(hi, hr, 3, NULL, NULL), -1);
	assert_int_equal(noise_handshake_split(hi, isend, irecv), 0);
	assert_int_equal(noise_handshake_split(hr, rsend, rrecv), 0);
	noise_handshake_free(hi);
	noise_handshake_free(hr);
}

static void
free4(struct noise_cipher *a, struct noise_cipher *b, struct noise_cipher *c,
      struct noise_cipher *d)
{

	noise_cipher_free(a);
	noise_cipher_free(b);
	noise_cipher_free(c);
	noise_cipher_free(d);
}

static void
test_replay_reorder(void **state)
{
	struct noise_cipher *isend, *irecv, *rsend, *rrecv;
	uint8_t f[4][5 + NOISE_TAG_LEN], m[5], bad[5 + NOISE_TAG_LEN];
	const size_t flen = 5 + NOISE_TAG_LEN;
	size_t s, i;

	(void)state;
	for (s = 0; s < 2; s++) {
		if (!noise_suite_available(all_suites[s]))
			continue;
		transport_pair(all_suites[s], &isend, &irecv, &rsend, &rrecv);
		for (i = 0; i < 4; i++)
			assert_int_equal(
			    noise_cipher_encrypt(isend, f[i], (const uint8_t *)"frame", 5, NULL, 0),
			    0);
		/* The same plaintext never gives the same frame twice. */
		assert_memory_not_equal(f[0], f[1], flen);

		assert_int_equal(noise_cipher_decrypt(rrecv, m, f[0], flen, NULL, 0), 0);
		assert_memory_equal(m, "frame", 5);
		/* Replayed. */
		assert_int_equal(noise_cipher_decrypt(rrecv, m, f[0], flen, NULL, 0), -1);
		assert_int_equal(errno, EBADMSG);
		/* Reordered. */
		assert_int_equal(noise_cipher_decrypt(rrecv, m, f[2], flen, NULL, 0), -1);
		/* Reflected back to its sender. */
		assert_int_equal(noise_cipher_decrypt(irecv, m, f[1], flen, NULL, 0), -1);
		/* Altered, truncated, or with different associated data. */
		for (i = 0; i < flen * 8; i++) {
			memcpy(bad, f[1], flen);
			bad[i / 8] ^= (uint8_t)(1 << (i % 8));
			assert_int_equal(noise_cipher_decrypt(rrecv, m, bad, flen, NULL, 0), -1);
		}
		for (i = 0; i < flen; i++)
			assert_int_equal(noise_cipher_decrypt(rrecv, m, f[1], i, NULL, 0), -1);
		assert_int_equal(
		    noise_cipher_decrypt(rrecv, m, f[1], flen, (const uint8_t *)"x", 1), -1);
		/* A failure does not advance the nonce (Noise spec). */
		assert_int_equal(noise_cipher_decrypt(rrecv, m, f[1], flen, NULL, 0), 0);
		assert_int_equal(noise_cipher_decrypt(rrecv, m, f[2], flen, NULL, 0), 0);
		assert_int_equal(noise_cipher_decrypt(rrecv, m, f[3], flen, NULL, 0), 0);
		assert_memory_equal(m, "frame", 5);

		/* The other direction has its own key and nonces. */
		assert_int_equal(noise_cipher_encrypt(rsend, f[0], (const uint8_t *)"reply", 5,
		                                      (const uint8_t *)"ad", 2),
		                 0);
		assert_int_equal(
		    noise_cipher_decrypt(irecv, m, f[0], flen, (const uint8_t *)"ad", 2), 0);
		assert_memory_equal(m, "reply", 5);
		free4(isend, irecv, rsend, rrecv);
	}
}

static void
test_rekey(void **state)
{
	struct noise_cipher *isend, *irecv, *rsend, *rrecv;
	uint8_t f[5 + NOISE_TAG_LEN], g[5 + NOISE_TAG_LEN], m[5];
	size_t s, i;

	(void)state;
	for (s = 0; s < 2; s++) {
		if (!noise_suite_available(all_suites[s]))
			continue;
		transport_pair(all_suites[s], &isend, &irecv, &rsend, &rrecv);
		for (i = 0; i < 6; i++) {
			/* Both sides rekey at the same point: still in step. */
			if (i == 2 || i == 3) {
				assert_int_equal(noise_cipher_rekey(isend), 0);
				assert_int_equal(noise_cipher_rekey(rrecv), 0);
			}
			assert_int_equal(
			    noise_cipher_encrypt(isend, f, (const uint8_t *)"abcde", 5, NULL, 0),
			    0);
			assert_int_equal(noise_cipher_decrypt(rrecv, m, f, sizeof(f), NULL, 0), 0);
			assert_memory_equal(m, "abcde", 5);
		}

		/* Only the sender rekeys: the receiver cannot follow... */
		assert_int_equal(noise_cipher_rekey(rsend), 0);
		assert_int_equal(
		    noise_cipher_encrypt(rsend, f, (const uint8_t *)"abcde", 5, NULL, 0), 0);
		assert_int_equal(noise_cipher_decrypt(irecv, m, f, sizeof(f), NULL, 0), -1);
		/* ...until it rekeys too, at the same nonce. */
		assert_int_equal(noise_cipher_rekey(irecv), 0);
		assert_int_equal(noise_cipher_decrypt(irecv, m, f, sizeof(f), NULL, 0), 0);
		assert_memory_equal(m, "abcde", 5);
		free4(isend, irecv, rsend, rrecv);
	}

	/* Rekey changes the key: same nonce, same plaintext, other frame. */
	transport_pair(NOISE_SUITE_CHACHAPOLY, &isend, &irecv, &rsend, &rrecv);
	assert_int_equal(noise_cipher_encrypt(isend, f, (const uint8_t *)"abcde", 5, NULL, 0), 0);
	assert_int_equal(noise_cipher_decrypt(rrecv, m, f, sizeof(f), NULL, 0), 0);
	assert_int_equal(noise_cipher_rekey(rrecv), 0);
	assert_int_equal(noise_cipher_encrypt(rsend, g, (const uint8_t *)"abcde", 5, NULL, 0), 0);
	assert_memory_not_equal(f, g, sizeof(f));
	free4(isend, irecv, rsend, rrecv);
}

/* What a cipher with key ${k} must output at nonce ${n}, done by hand. */
static void
expect_frame(enum noise_suite s, const uint8_t k[32], uint64_t n, const uint8_t *m, size_t mlen,
             uint8_t *c)
{
	uint8_t nonce[12] = {0};
	size_t i;

	/* 4 zero bytes, then n: little-endian for ChaChaPoly, big for AESGCM. */
	for (i = 0; i < 8; i++)
		nonce[s == NOISE_SUITE_AESGCM ? 11 - i : 4 + i] = (uint8_t)(n >> (8 * i));
	if (s == NOISE_SUITE_AESGCM)
		crypto_aead_aes256gcm_encrypt(c, NULL, m, mlen, NULL, 0, NULL, nonce, k);
	else
		crypto_aead_chacha20poly1305_ietf_encrypt(c, NULL, m, mlen, NULL, 0, NULL, nonce,
		                                          k);
}

static void
test_rekey_known_answer(void **state)
{
	static const uint8_t zeros[32];
	struct noise_cipher *cs;
	uint8_t k[32], k2[48], want[5 + NOISE_TAG_LEN], got[5 + NOISE_TAG_LEN];
	size_t s, i;

	(void)state;
	for (s = 0; s < 2; s++) {
		if (!noise_suite_available(all_suites[s]))
			continue;
		memset(k, 0x5a, sizeof(k));
		assert_non_null(cs = noise_cipher_new(all_suites[s], k));
		for (i = 0; i < 300; i++) {
			expect_frame(all_suites[s], k, i, (const uint8_t *)"abcde", 5, want);
			assert_int_equal(
			    noise_cipher_encrypt(cs, got, (const uint8_t *)"abcde", 5, NULL, 0), 0);
			assert_memory_equal(got, want, sizeof(want));
		}

		/* REKEY(k) = ENCRYPT(k, 2^64-1, "", 32 zeros)[0..32]. */
		expect_frame(all_suites[s], k, UINT64_MAX, zeros, 32, k2);
		memcpy(k, k2, 32);
		assert_int_equal(noise_cipher_rekey(cs), 0);
		/* The nonce carries on from 300. */
		expect_frame(all_suites[s], k, 300, (const uint8_t *)"abcde", 5, want);
		assert_int_equal(
		    noise_cipher_encrypt(cs, got, (const uint8_t *)"abcde", 5, NULL, 0), 0);
		assert_memory_equal(got, want, sizeof(want));
		noise_cipher_free(cs);
	}
	assert_null(noise_cipher_new(0, k));
	assert_int_equal(errno, EINVAL);
}

static void
test_low_order_key(void **state)
{
	struct noise_handshake *hi, *hr;
	uint8_t msg[BUFLEN], in[BUFLEN];
	size_t len, inlen;

	(void)state;
	/* A message 1 whose e is the all-zero point: the DH is refused. */
	make_pair(NOISE_PATTERN_NN, NOISE_SUITE_CHACHAPOLY, NULL, 0, NULL, 0, NULL, NULL, &hi, &hr);
	memset(msg, 0, 32);
	assert_int_equal(noise_handshake_read_message(hr, msg, 32, in, sizeof(in), &inlen), 0);
	assert_int_equal(noise_handshake_write_message(hr, NULL, 0, msg, sizeof(msg), &len), -1);
	assert_int_equal(len, 0);
	assert_int_equal(noise_handshake_action(hr), NOISE_ACTION_FAILED);
	noise_handshake_free(hi);
	noise_handshake_free(hr);
}

static void
test_misuse(void **state)
{
	struct noise_handshake *hi, *hr;
	struct noise_cipher *c1, *c2, *c3, *c4;
	static uint8_t big[NOISE_MAX_MESSAGE + 2], out[NOISE_MAX_MESSAGE + 2];
	uint8_t key[32], h[32];
	size_t len, inlen;

	(void)state;
	memset(key, 0x33, sizeof(key));

	/* Keys a pattern needs, and only those. */
	assert_null(noise_handshake_new(NOISE_PATTERN_XX, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0, NULL,
	                                NULL, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(noise_handshake_new(NOISE_PATTERN_XX, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0, key,
	                                NULL, key));
	assert_null(noise_handshake_new(NOISE_PATTERN_XXPSK3, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0,
	                                key, NULL, NULL));
	assert_null(noise_handshake_new(NOISE_PATTERN_NN, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0, key,
	                                NULL, NULL));
	assert_null(noise_handshake_new(0, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0, NULL, NULL, NULL));
	assert_null(noise_handshake_new(NOISE_PATTERN_NN, 0, 1, NULL, 0, NULL, NULL, NULL));
	noise_handshake_free(NULL);
	noise_cipher_free(NULL);

	make_pair(NOISE_PATTERN_NN, NOISE_SUITE_CHACHAPOLY, NULL, 0, NULL, 0, NULL, NULL, &hi, &hr);

	/* Out of turn, or asking for results too early: refused, no harm. */
	assert_int_equal(noise_handshake_write_message(hr, NULL, 0, out, sizeof(out), &len), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(noise_handshake_read_message(hi, big, 40, out, sizeof(out), &inlen), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(noise_handshake_hash(hi, h), -1);
	assert_true(sodium_is_zero(h, sizeof(h)));
	assert_int_equal(noise_handshake_split(hi, &c1, &c2), -1);
	assert_null(c1);
	assert_null(c2);

	/* Message 1 of NN is e (32 bytes) and the payload in clear. */
	assert_int_equal(
	    noise_handshake_write_message(hi, big, NOISE_MAX_MESSAGE - 31, out, sizeof(out), &len),
	    -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(noise_handshake_write_message(hi, big, 10, out, 41, &len), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(noise_handshake_action(hi), NOISE_ACTION_WRITE);
	assert_int_equal(
	    noise_handshake_write_message(hi, big, NOISE_MAX_MESSAGE - 32, out, sizeof(out), &len),
	    0);
	assert_int_equal(len, NOISE_MAX_MESSAGE);

	/* A payload buffer too small is refused without harm... */
	assert_int_equal(noise_handshake_read_message(hr, out, len, big, 100, &inlen), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(noise_handshake_action(hr), NOISE_ACTION_READ);
	/* ...but an oversized message ends the handshake. */
	assert_int_equal(noise_handshake_read_message(hr, out, len + 1, big, sizeof(big), &inlen),
	                 -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(noise_handshake_action(hr), NOISE_ACTION_FAILED);
	assert_int_equal(noise_handshake_remote_static(hr, h), -1);
	noise_handshake_free(hi);
	noise_handshake_free(hr);

	/* Transport size limits. */
	transport_pair(NOISE_SUITE_CHACHAPOLY, &c1, &c2, &c3, &c4);
	assert_int_equal(
	    noise_cipher_encrypt(c1, out, big, NOISE_MAX_MESSAGE - NOISE_TAG_LEN + 1, NULL, 0), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(
	    noise_cipher_encrypt(c1, out, big, NOISE_MAX_MESSAGE - NOISE_TAG_LEN, NULL, 0), 0);
	assert_int_equal(noise_cipher_encrypt(c1, out, NULL, 0, NULL, 0), 0);
	free4(c1, c2, c3, c4);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vectors),        cmocka_unit_test(test_handshake_random_keys),
	    cmocka_unit_test(test_bitflip),        cmocka_unit_test(test_truncate_extend),
	    cmocka_unit_test(test_psk_mismatch),   cmocka_unit_test(test_prologue_mismatch),
	    cmocka_unit_test(test_suite_prologue), cmocka_unit_test(test_replay_reorder),
	    cmocka_unit_test(test_rekey),          cmocka_unit_test(test_rekey_known_answer),
	    cmocka_unit_test(test_low_order_key),  cmocka_unit_test(test_misuse),
	};

	return (cmocka_run_group_tests(tests, setup, teardown));
}
