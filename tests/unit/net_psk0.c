/*
 * Unit tests for Noise_XXpsk0 in net/noise: snow's known-answer vector
 * (tests/vectors/noise-xxpsk0-snow.json: the cacophony vectors have no
 * XXpsk0), round trips in both suites, and what a dialler without the psk
 * learns: nothing, since the responder fails message 1 and never writes
 * message 2, the one carrying its static key (plain XX shows the contrast).
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>

#include "net/noise.h"
#include "tests/unit/core_test.h"

#define VECTOR "tests/vectors/noise-xxpsk0-snow.json"

static size_t
hexfield(const json_t *o, const char *key, uint8_t *out, size_t max)
{
	const char *hex = json_string_value(json_object_get(o, key));
	size_t len;

	assert_non_null(hex);
	assert_int_equal(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &len, NULL), 0);
	return len;
}

/* snow's vector: every length and message 3's bytes, and both sides agree. */
static void
test_vector(void **state)
{
	uint8_t si[32], sr[32], ei[32], er[32], psk[32], pro[16], pay[64], want[128];
	uint8_t msg[256], out[256], hi_h[32], hr_h[32];
	struct noise_handshake *hs[2];
	json_error_t err;
	json_t *root, *v, *msgs;
	size_t prolen, n, m, i;

	(void)state;
	if (!noise_suite_available(NOISE_SUITE_AESGCM)) {
		print_message("no AES-NI: the XXpsk0 vector (AESGCM) is skipped\n");
		return;
	}
	assert_non_null(root = json_load_file(VECTOR, 0, &err));
	v = json_array_get(json_object_get(root, "vectors"), 0);
	assert_string_equal(json_string_value(json_object_get(v, "protocol_name")),
	                    "Noise_XXpsk0_25519_AESGCM_SHA256");
	hexfield(v, "init_static", si, 32);
	hexfield(v, "resp_static", sr, 32);
	hexfield(v, "init_ephemeral", ei, 32);
	hexfield(v, "resp_ephemeral", er, 32);
	hexfield(v, "psk", psk, 32);
	prolen = hexfield(v, "prologue", pro, sizeof(pro));
	assert_non_null(hs[0] = noise_handshake_new(NOISE_PATTERN_XXPSK0, NOISE_SUITE_AESGCM, 1,
	                                            pro, prolen, si, ei, psk));
	assert_non_null(hs[1] = noise_handshake_new(NOISE_PATTERN_XXPSK0, NOISE_SUITE_AESGCM, 0,
	                                            pro, prolen, sr, er, psk));
	msgs = json_object_get(v, "messages");
	assert_int_equal(json_array_size(msgs), 3);
	for (i = 0; i < 3; i++) {
		json_t *e = json_array_get(msgs, i);
		size_t plen = hexfield(e, "payload", pay, sizeof(pay));

		assert_int_equal(
		    noise_handshake_write_message(hs[i % 2], pay, plen, msg, sizeof(msg), &n), 0);
		assert_int_equal(n, (size_t)json_integer_value(json_object_get(e, "length")));
		if (json_object_get(e, "ciphertext") != NULL) {
			assert_int_equal(hexfield(e, "ciphertext", want, sizeof(want)), n);
			assert_memory_equal(msg, want, n);
		}
		assert_int_equal(
		    noise_handshake_read_message(hs[1 - i % 2], msg, n, out, sizeof(out), &m), 0);
		assert_int_equal(m, plen);
		assert_memory_equal(out, pay, plen);
	}
	assert_int_equal(noise_handshake_hash(hs[0], hi_h), 0);
	assert_int_equal(noise_handshake_hash(hs[1], hr_h), 0);
	assert_memory_equal(hi_h, hr_h, 32);
	noise_handshake_free(hs[0]);
	noise_handshake_free(hs[1]);
	json_decref(root);
}

/* A full handshake and a transport message each way, in both suites. */
static void
test_round_trip(void **state)
{
	static const enum noise_suite suites[] = {NOISE_SUITE_AESGCM, NOISE_SUITE_CHACHAPOLY};
	uint8_t pi[32], ki[32], pr[32], kr[32], psk[32], rs[32], msg[256], out[256];
	struct noise_handshake *hs[2];
	struct noise_cipher *tx[2], *rx[2];
	size_t n, m;

	(void)state;
	randombytes_buf(psk, sizeof(psk));
	assert_int_equal(noise_keypair(pi, ki), 0);
	assert_int_equal(noise_keypair(pr, kr), 0);
	for (size_t s = 0; s < 2; s++) {
		if (!noise_suite_available(suites[s]))
			continue;
		assert_non_null(hs[0] =
		                    noise_handshake_new(NOISE_PATTERN_XXPSK0, suites[s], 1,
		                                        (const uint8_t *)"p", 1, ki, NULL, psk));
		assert_non_null(hs[1] =
		                    noise_handshake_new(NOISE_PATTERN_XXPSK0, suites[s], 0,
		                                        (const uint8_t *)"p", 1, kr, NULL, psk));
		for (int i = 0; i < 3; i++) {
			assert_int_equal(
			    noise_handshake_write_message(hs[i % 2], NULL, 0, msg, sizeof(msg), &n),
			    0);
			/* psk0: even message 1 carries a tag (e, then the empty payload's). */
			if (i == 0)
				assert_int_equal(n, 32 + 16);
			assert_int_equal(noise_handshake_read_message(hs[1 - i % 2], msg, n, out,
			                                              sizeof(out), &m),
			                 0);
		}
		assert_int_equal(noise_handshake_remote_static(hs[0], rs), 0);
		assert_memory_equal(rs, pr, 32);
		assert_int_equal(noise_handshake_remote_static(hs[1], rs), 0);
		assert_memory_equal(rs, pi, 32);
		for (int i = 0; i < 2; i++)
			assert_int_equal(noise_handshake_split(hs[i], &tx[i], &rx[i]), 0);
		assert_int_equal(
		    noise_cipher_encrypt(tx[0], msg, (const uint8_t *)"hi", 2, NULL, 0), 0);
		assert_int_equal(noise_cipher_decrypt(rx[1], out, msg, 2 + 16, NULL, 0), 0);
		assert_memory_equal(out, "hi", 2);
		for (int i = 0; i < 2; i++) {
			noise_cipher_free(tx[i]);
			noise_cipher_free(rx[i]);
			noise_handshake_free(hs[i]);
		}
	}
}

/*
 * A stranger (a wrong psk) dials: the responder refuses message 1, and with
 * it dead cannot write message 2, so the stranger never holds the responder's
 * static key.  Under plain XX the same stranger gets it from message 2.
 */
static void
test_stranger_learns_nothing(void **state)
{
	uint8_t pi[32], ki[32], pr[32], kr[32], psk[32], wrong[32], rs[32], msg[256], out[256];
	struct noise_handshake *hi, *hr;
	size_t n, m;

	(void)state;
	randombytes_buf(psk, sizeof(psk));
	memcpy(wrong, psk, sizeof(wrong));
	wrong[31] ^= 1;
	assert_int_equal(noise_keypair(pi, ki), 0);
	assert_int_equal(noise_keypair(pr, kr), 0);

	assert_non_null(hi = noise_handshake_new(NOISE_PATTERN_XXPSK0, NOISE_SUITE_CHACHAPOLY, 1,
	                                         NULL, 0, ki, NULL, wrong));
	assert_non_null(hr = noise_handshake_new(NOISE_PATTERN_XXPSK0, NOISE_SUITE_CHACHAPOLY, 0,
	                                         NULL, 0, kr, NULL, psk));
	assert_int_equal(noise_handshake_write_message(hi, NULL, 0, msg, sizeof(msg), &n), 0);
	assert_int_equal(noise_handshake_read_message(hr, msg, n, out, sizeof(out), &m), -1);
	assert_int_equal(errno, EBADMSG);
	assert_int_equal(noise_handshake_action(hr), NOISE_ACTION_FAILED);
	/* No message 2 can come out of it... */
	assert_int_equal(noise_handshake_write_message(hr, NULL, 0, msg, sizeof(msg), &n), -1);
	assert_int_equal(n, 0);
	/* ...so the stranger has no static key, and none is in the state. */
	assert_int_equal(noise_handshake_remote_static(hi, rs), -1);
	assert_true(sodium_is_zero(rs, 32));
	noise_handshake_free(hi);
	noise_handshake_free(hr);

	/* The contrast: plain XX hands any dialler the static key in message 2. */
	assert_non_null(hi = noise_handshake_new(NOISE_PATTERN_XX, NOISE_SUITE_CHACHAPOLY, 1, NULL,
	                                         0, ki, NULL, NULL));
	assert_non_null(hr = noise_handshake_new(NOISE_PATTERN_XX, NOISE_SUITE_CHACHAPOLY, 0, NULL,
	                                         0, kr, NULL, NULL));
	assert_int_equal(noise_handshake_write_message(hi, NULL, 0, msg, sizeof(msg), &n), 0);
	assert_int_equal(noise_handshake_read_message(hr, msg, n, out, sizeof(out), &m), 0);
	assert_int_equal(noise_handshake_write_message(hr, NULL, 0, msg, sizeof(msg), &n), 0);
	assert_int_equal(noise_handshake_read_message(hi, msg, n, out, sizeof(out), &m), 0);
	assert_int_equal(noise_handshake_remote_static(hi, rs), 0);
	assert_memory_equal(rs, pr, 32);
	noise_handshake_free(hi);
	noise_handshake_free(hr);
}

/* XXpsk0 takes a psk and refuses to start without one. */
static void
test_needs_psk(void **state)
{
	uint8_t k[32] = {1}, psk[32] = {2};

	(void)state;
	assert_null(noise_handshake_new(NOISE_PATTERN_XXPSK0, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0, k,
	                                NULL, NULL));
	assert_int_equal(errno, EINVAL);
	assert_null(noise_handshake_new(NOISE_PATTERN_XX, NOISE_SUITE_CHACHAPOLY, 1, NULL, 0, k,
	                                NULL, psk));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vector),
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_stranger_learns_nothing),
	    cmocka_unit_test(test_needs_psk),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
