/* cpace: CPace over ristretto255 with SHA-512; see cpace.h. */
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "net/cpace.h"

static const char cpace_dsi[] = "CPaceRistretto255";
#define CPACE_S_IN_BYTES 128 /* SHA-512's block: the password fills its own block */

/* The draft's prepend_len: the length as LEB128, then the bytes. */
static void
cpace_lv(crypto_hash_sha512_state *h, const uint8_t *p, size_t len)
{
	uint8_t b[10];
	size_t n = 0, l = len;

	do {
		b[n] = (uint8_t)(l & 0x7f);
		l >>= 7;
		if (l)
			b[n] |= 0x80;
		n++;
	} while (l);
	crypto_hash_sha512_update(h, b, n);
	if (len)
		crypto_hash_sha512_update(h, p, len);
}

static size_t
cpace_lv_len(size_t len)
{
	size_t n = 1;

	while (len >= 0x80) {
		len >>= 7;
		n++;
	}
	return n;
}

int
cpace_generator(uint8_t g[CPACE_POINT], const uint8_t *prs, size_t prslen, const uint8_t *ci,
                size_t cilen, const uint8_t *sid, size_t sidlen)
{
	static const uint8_t zero[CPACE_S_IN_BYTES];
	crypto_hash_sha512_state h;
	uint8_t d[crypto_hash_sha512_BYTES];
	size_t dsil = sizeof(cpace_dsi) - 1, used, zpad;
	int rc;

	/* Zero padding puts the password at the end of the first hash block,
	 * so an attacker cannot precompute the state after it. */
	used = 1 + cpace_lv_len(prslen) + prslen + cpace_lv_len(dsil) + dsil;
	zpad = used < CPACE_S_IN_BYTES ? CPACE_S_IN_BYTES - used : 0;
	crypto_hash_sha512_init(&h);
	cpace_lv(&h, (const uint8_t *)cpace_dsi, dsil);
	cpace_lv(&h, prs, prslen);
	cpace_lv(&h, zero, zpad);
	cpace_lv(&h, ci, cilen);
	cpace_lv(&h, sid, sidlen);
	crypto_hash_sha512_final(&h, d);
	crypto_core_ristretto255_from_hash(g, d);
	sodium_memzero(d, sizeof(d));
	sodium_memzero(&h, sizeof(h));
	rc = sodium_is_zero(g, CPACE_POINT) ? -1 : 0;
	return rc;
}

int
cpace_share_from(const uint8_t y[CPACE_SCALAR], uint8_t Y[CPACE_POINT],
                 const uint8_t g[CPACE_POINT])
{
	return crypto_scalarmult_ristretto255(Y, y, g) ? -1 : 0;
}

int
cpace_share(uint8_t y[CPACE_SCALAR], uint8_t Y[CPACE_POINT], const uint8_t g[CPACE_POINT])
{
	crypto_core_ristretto255_scalar_random(y);
	return cpace_share_from(y, Y, g);
}

int
cpace_key(uint8_t K[CPACE_POINT], const uint8_t y[CPACE_SCALAR], const uint8_t Yo[CPACE_POINT])
{
	/* libsodium refuses a non-canonical encoding and an identity result. */
	if (!crypto_core_ristretto255_is_valid_point(Yo) ||
	    crypto_scalarmult_ristretto255(K, y, Yo)) {
		sodium_memzero(K, CPACE_POINT);
		errno = EBADMSG;
		return -1;
	}
	return 0;
}

/* lv_cat(Y, AD) into the hash. */
static void
cpace_lv_pair(crypto_hash_sha512_state *h, const uint8_t Y[CPACE_POINT], const uint8_t *ad,
              size_t adlen)
{
	cpace_lv(h, Y, CPACE_POINT);
	cpace_lv(h, ad, adlen);
}

/* The draft's lexiographically_larger on lv_cat(Ya, ADa) and lv_cat(Yb, ADb),
 * compared without building them: 1 if a's is larger. */
static int
cpace_a_larger(const uint8_t Ya[CPACE_POINT], const uint8_t *ada, size_t adalen,
               const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen)
{
	uint8_t a[CPACE_POINT + 24], b[CPACE_POINT + 24];
	size_t al = 0, bl = 0, i, l, n;

	/* The prefix up to the AD bytes: len(Y) byte, Y, len(AD) LEB128. */
	a[al++] = CPACE_POINT;
	memcpy(a + al, Ya, CPACE_POINT);
	al += CPACE_POINT;
	for (l = adalen; a[al] = (uint8_t)(l & 0x7f), (l >>= 7) != 0; al++)
		a[al] |= 0x80;
	al++;
	b[bl++] = CPACE_POINT;
	memcpy(b + bl, Yb, CPACE_POINT);
	bl += CPACE_POINT;
	for (l = adblen; b[bl] = (uint8_t)(l & 0x7f), (l >>= 7) != 0; bl++)
		b[bl] |= 0x80;
	bl++;
	/* Compare the two virtual strings a || ada and b || adb byte by byte. */
	n = (al + adalen < bl + adblen) ? al + adalen : bl + adblen;
	for (i = 0; i < n; i++) {
		uint8_t x = i < al ? a[i] : ada[i - al];
		uint8_t y = i < bl ? b[i] : adb[i - bl];

		if (x != y)
			return x > y;
	}
	return al + adalen > bl + adblen;
}

static void
cpace_transcript(crypto_hash_sha512_state *h, int oc, const uint8_t Ya[CPACE_POINT],
                 const uint8_t *ada, size_t adalen, const uint8_t Yb[CPACE_POINT],
                 const uint8_t *adb, size_t adblen)
{
	if (!oc) {
		cpace_lv_pair(h, Ya, ada, adalen);
		cpace_lv_pair(h, Yb, adb, adblen);
		return;
	}
	crypto_hash_sha512_update(h, (const uint8_t *)"oc", 2);
	if (cpace_a_larger(Ya, ada, adalen, Yb, adb, adblen)) {
		cpace_lv_pair(h, Ya, ada, adalen);
		cpace_lv_pair(h, Yb, adb, adblen);
	} else {
		cpace_lv_pair(h, Yb, adb, adblen);
		cpace_lv_pair(h, Ya, ada, adalen);
	}
}

static void
cpace_isk(uint8_t isk[CPACE_ISK], int oc, const uint8_t *sid, size_t sidlen,
          const uint8_t K[CPACE_POINT], const uint8_t Ya[CPACE_POINT], const uint8_t *ada,
          size_t adalen, const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen)
{
	static const char label[] = "CPaceRistretto255_ISK";
	crypto_hash_sha512_state h;

	crypto_hash_sha512_init(&h);
	cpace_lv(&h, (const uint8_t *)label, sizeof(label) - 1);
	cpace_lv(&h, sid, sidlen);
	cpace_lv(&h, K, CPACE_POINT);
	cpace_transcript(&h, oc, Ya, ada, adalen, Yb, adb, adblen);
	crypto_hash_sha512_final(&h, isk);
	sodium_memzero(&h, sizeof(h));
}

void
cpace_isk_ir(uint8_t isk[CPACE_ISK], const uint8_t *sid, size_t sidlen,
             const uint8_t K[CPACE_POINT], const uint8_t Ya[CPACE_POINT], const uint8_t *ada,
             size_t adalen, const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen)
{
	cpace_isk(isk, 0, sid, sidlen, K, Ya, ada, adalen, Yb, adb, adblen);
}

void
cpace_isk_oc(uint8_t isk[CPACE_ISK], const uint8_t *sid, size_t sidlen,
             const uint8_t K[CPACE_POINT], const uint8_t Ya[CPACE_POINT], const uint8_t *ada,
             size_t adalen, const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen)
{
	cpace_isk(isk, 1, sid, sidlen, K, Ya, ada, adalen, Yb, adb, adblen);
}

void
cpace_sid_output(uint8_t out[CPACE_ISK], int oc, const uint8_t Ya[CPACE_POINT], const uint8_t *ada,
                 size_t adalen, const uint8_t Yb[CPACE_POINT], const uint8_t *adb, size_t adblen)
{
	static const char label[] = "CPaceSidOutput";
	crypto_hash_sha512_state h;

	crypto_hash_sha512_init(&h);
	crypto_hash_sha512_update(&h, (const uint8_t *)label, sizeof(label) - 1);
	cpace_transcript(&h, oc, Ya, ada, adalen, Yb, adb, adblen);
	crypto_hash_sha512_final(&h, out);
}
