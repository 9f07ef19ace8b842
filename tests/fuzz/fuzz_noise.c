/*
 * libFuzzer target for net/noise: arbitrary bytes as the handshake message
 * a peer would send at each reading step, and as a transport frame.
 *
 * The first input byte picks the case, the rest is the message:
 *   bits 0-1  pattern: 0 NN, 1 XX, 2 XXpsk3, 3 XXpsk0
 *   bit 2     suite: ChaChaPoly, or AESGCM where the CPU has it
 *   bits 3-4  step: 0 responder reads message 1, 1 initiator reads
 *             message 2, 2 responder reads message 3 (message 2 for NN),
 *             3 a transport frame after a completed handshake
 * All keys are fixed so that runs are reproducible.  After a read that
 * succeeds the handshake goes on, so that DH meets the fuzzed keys too.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "net/noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const uint8_t key_is[32] = {1}, key_rs[32] = {2};
static const uint8_t key_ie[32] = {3}, key_re[32] = {4};
static const uint8_t psk[32] = {5};

static struct noise_handshake *
side(enum noise_pattern p, enum noise_suite s, int initiator)
{

	return (noise_handshake_new(p, s, initiator, (const uint8_t *)"fuzz", 4,
	                            p == NOISE_PATTERN_NN ? NULL
	                            : initiator           ? key_is
	                                                  : key_rs,
	                            initiator ? key_ie : key_re,
	                            p == NOISE_PATTERN_XXPSK3 || p == NOISE_PATTERN_XXPSK0 ? psk
	                                                                                   : NULL));
}

/* Pass one honest message from ${from} to ${to}. */
static int
relay(struct noise_handshake *from, struct noise_handshake *to)
{
	uint8_t msg[256], payload[256];
	size_t len, plen;

	if (noise_handshake_write_message(from, (const uint8_t *)"hi", 2, msg, sizeof(msg), &len))
		return (-1);
	return (noise_handshake_read_message(to, msg, len, payload, sizeof(payload), &plen));
}

/* Feed ${msg} to ${hs}; if that works, carry the handshake on. */
static void
feed(struct noise_handshake *hs, const uint8_t *msg, size_t len)
{
	uint8_t *payload, out[256], h[32];
	struct noise_cipher *send, *recv;
	size_t plen, outlen;

	/* Exactly as big as the message, so overruns show under ASan. */
	if ((payload = malloc(len + 1)) == NULL)
		abort();
	if (noise_handshake_read_message(hs, msg, len, payload, len, &plen) == 0) {
		if (plen > len)
			abort();
		if (noise_handshake_action(hs) == NOISE_ACTION_WRITE)
			(void)noise_handshake_write_message(hs, payload, plen > 64 ? 64 : plen, out,
			                                    sizeof(out), &outlen);
		if (noise_handshake_action(hs) == NOISE_ACTION_SPLIT) {
			if (noise_handshake_hash(hs, h) || noise_handshake_split(hs, &send, &recv))
				abort();
			noise_cipher_free(send);
			noise_cipher_free(recv);
		}
	} else if (plen != 0 || noise_handshake_action(hs) != NOISE_ACTION_FAILED) {
		/* A rejected message must leave a dead handshake. */
		abort();
	}
	free(payload);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct noise_handshake *hi = NULL, *hr = NULL;
	struct noise_cipher *isend, *irecv, *rsend, *rrecv;
	enum noise_pattern p;
	enum noise_suite s;
	uint8_t *m;
	int step;

	if (size < 1 || sodium_init() < 0)
		return (0);
	p = (data[0] & 3) == 0   ? NOISE_PATTERN_NN
	    : (data[0] & 3) == 2 ? NOISE_PATTERN_XXPSK3
	    : (data[0] & 3) == 3 ? NOISE_PATTERN_XXPSK0
	                         : NOISE_PATTERN_XX;
	s = (data[0] & 4) && noise_suite_available(NOISE_SUITE_AESGCM) ? NOISE_SUITE_AESGCM
	                                                               : NOISE_SUITE_CHACHAPOLY;
	step = (data[0] >> 3) & 3;
	data++;
	size--;

	if ((hi = side(p, s, 1)) == NULL || (hr = side(p, s, 0)) == NULL)
		abort();

	switch (step) {
	case 0:
		feed(hr, data, size);
		break;
	case 1:
		if (relay(hi, hr))
			abort();
		/* The initiator has sent message 1: replace the reply. */
		feed(hi, data, size);
		break;
	case 2:
		if (relay(hi, hr))
			abort();
		if (p == NOISE_PATTERN_NN) {
			feed(hi, data, size);
			break;
		}
		if (relay(hr, hi))
			abort();
		/* The initiator writes message 3; we replace it. */
		feed(hr, data, size);
		break;
	case 3:
		if (relay(hi, hr) || relay(hr, hi) || (p != NOISE_PATTERN_NN && relay(hi, hr)))
			abort();
		if (noise_handshake_split(hi, &isend, &irecv) ||
		    noise_handshake_split(hr, &rsend, &rrecv))
			abort();
		if ((m = malloc(size + 1)) == NULL)
			abort();
		(void)noise_cipher_decrypt(rrecv, m, data, size, NULL, 0);
		(void)noise_cipher_decrypt(irecv, m, data, size, NULL, 0);
		free(m);
		noise_cipher_free(isend);
		noise_cipher_free(irecv);
		noise_cipher_free(rsend);
		noise_cipher_free(rrecv);
		break;
	}

	noise_handshake_free(hi);
	noise_handshake_free(hr);
	return (0);
}
