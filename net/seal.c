/* seal: XChaCha20-Poly1305 sealing of change blobs; see seal.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/change.h"
#include "net/identity.h"
#include "net/seal.h"

struct seal {
	uint8_t key[SEAL_KEY_LEN];
	uint8_t sign_sk[64];
};

struct seal *
seal_new(const uint8_t key[SEAL_KEY_LEN], const uint8_t sign_sk[64])
{
	struct seal *s;

	if (sodium_init() < 0) {
		errno = EIO;
		return NULL;
	}
	if ((s = sodium_malloc(sizeof(*s))) == NULL)
		return NULL;
	memcpy(s->key, key, SEAL_KEY_LEN);
	memcpy(s->sign_sk, sign_sk, 64);
	return s;
}

int
seal_read_key(const char *db, uint8_t key[SEAL_KEY_LEN])
{
	uint8_t buf[SEAL_KEY_LEN + 1];
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/content.key", db) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* One byte more than a key, to notice a file that is too long. */
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == SEAL_KEY_LEN)
		memcpy(key, buf, SEAL_KEY_LEN);
	else
		errno = n < 0 ? errno : EINVAL;
	/* Whatever was read, whole or in part, is a secret. */
	sodium_memzero(buf, sizeof(buf));
	return n == SEAL_KEY_LEN ? 0 : -1;
}

struct seal *
seal_load(const char *db)
{
	uint8_t key[SEAL_KEY_LEN], sk[64];
	struct seal *s = NULL;

	if (seal_read_key(db, key) == 0 && identity_sign_load(db, sk) == 0)
		s = seal_new(key, sk);
	sodium_memzero(key, sizeof(key));
	sodium_memzero(sk, sizeof(sk));
	return s;
}

void
seal_free(struct seal *s)
{
	if (s == NULL)
		return;
	sodium_free(s); /* sodium_free wipes */
}

int
seal_seal(void *ctx, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	struct seal *s = ctx;
	unsigned long long clen;
	uint8_t *b;

	*out = NULL;
	*outlen = 0;
	if (len < CHANGE_HEADER_BYTES) {
		errno = EINVAL;
		return -1;
	}
	if ((b = malloc(len + SEAL_OVERHEAD)) == NULL)
		return -1;
	memcpy(b, in, CHANGE_HEADER_BYTES);
	randombytes_buf(b + CHANGE_HEADER_BYTES, SEAL_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    b + CHANGE_HEADER_BYTES + SEAL_NONCE_LEN, &clen, in + CHANGE_HEADER_BYTES,
	    len - CHANGE_HEADER_BYTES, b, CHANGE_HEADER_BYTES, NULL, b + CHANGE_HEADER_BYTES,
	    s->key);
	len = CHANGE_HEADER_BYTES + SEAL_NONCE_LEN + (size_t)clen;
	crypto_sign_detached(b + len, NULL, b, len, s->sign_sk);
	*out = b;
	*outlen = len + CHANGE_SIG_BYTES;
	return 0;
}

int
seal_open(void *ctx, const uint8_t *in, size_t len, uint8_t **out, size_t *outlen)
{
	struct seal *s = ctx;
	unsigned long long mlen;
	uint8_t *b;

	*out = NULL;
	*outlen = 0;
	if (len < CHANGE_HEADER_BYTES + SEAL_OVERHEAD) {
		errno = EINVAL;
		return -1;
	}
	if ((b = malloc(len - SEAL_OVERHEAD)) == NULL)
		return -1;
	memcpy(b, in, CHANGE_HEADER_BYTES);
	/* The signature was checked by the journal, against the origin's key. */
	len -= CHANGE_SIG_BYTES;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
	        b + CHANGE_HEADER_BYTES, &mlen, NULL, in + CHANGE_HEADER_BYTES + SEAL_NONCE_LEN,
	        len - CHANGE_HEADER_BYTES - SEAL_NONCE_LEN, in, CHANGE_HEADER_BYTES,
	        in + CHANGE_HEADER_BYTES, s->key) != 0) {
		free(b);
		errno = EINVAL;
		return -1;
	}
	*out = b;
	*outlen = CHANGE_HEADER_BYTES + (size_t)mlen;
	return 0;
}

void
seal_hooks(struct seal *s, struct journal_crypto *c)
{
	c->seal = seal_seal;
	c->open = seal_open;
	c->ctx = s;
}
