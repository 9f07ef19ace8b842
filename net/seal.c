/* seal: XChaCha20-Poly1305 sealing of change blobs, and the keyring; see seal.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/change.h"
#include "net/identity.h"
#include "net/seal.h"

#define BOX_LEN (crypto_box_SEALBYTES + SEAL_KEY_LEN)
#define FIELD_PREFIX "key_"

struct seal {
	pthread_mutex_t mu;
	size_t n, cur; /* keys held; the one sealing */
	uint8_t keys[SEAL_KEYS_MAX][SEAL_KEY_LEN];
	uint8_t ids[SEAL_KEYS_MAX][CHANGE_KEYID_BYTES];
	uint8_t sign_sk[64];
	int have_box; /* box_sk, box_pub: this device's X25519 key, to open boxes */
	uint8_t box_sk[32], box_pub[32];
};

static void
key_id(const uint8_t key[SEAL_KEY_LEN], uint8_t id[CHANGE_KEYID_BYTES])
{
	uint8_t h[crypto_generichash_BYTES_MIN];

	crypto_generichash(h, sizeof(h), key, SEAL_KEY_LEN, NULL, 0);
	memcpy(id, h, CHANGE_KEYID_BYTES);
}

/* The index of key id in s, or -1 (under the lock). */
static int
find(const struct seal *s, const uint8_t *id)
{
	for (size_t i = 0; i < s->n; i++)
		if (memcmp(s->ids[i], id, CHANGE_KEYID_BYTES) == 0)
			return (int)i;
	return -1;
}

/* Adds a key if new (under the lock).  1 if added, 0 if known, -1 if full. */
static int
add(struct seal *s, const uint8_t key[SEAL_KEY_LEN])
{
	uint8_t id[CHANGE_KEYID_BYTES];

	key_id(key, id);
	if (find(s, id) >= 0)
		return 0;
	if (s->n == SEAL_KEYS_MAX) {
		errno = ENOSPC;
		return -1;
	}
	memcpy(s->keys[s->n], key, SEAL_KEY_LEN);
	memcpy(s->ids[s->n], id, CHANGE_KEYID_BYTES);
	s->n++;
	return 1;
}

struct seal *
seal_new(const uint8_t *keys, size_t nkeys, const uint8_t sign_sk[64])
{
	struct seal *s;

	if (sodium_init() < 0 || nkeys == 0 || nkeys > SEAL_KEYS_MAX) {
		errno = sodium_init() < 0 ? EIO : EINVAL;
		return NULL;
	}
	if ((s = sodium_malloc(sizeof(*s))) == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	for (size_t i = 0; i < nkeys; i++)
		add(s, keys + i * SEAL_KEY_LEN);
	s->cur = s->n - 1;
	memcpy(s->sign_sk, sign_sk, 64);
	return s;
}

static int
keyring_path(const char *db, char path[PATH_MAX])
{
	if ((size_t)snprintf(path, PATH_MAX, "%s/content.key", db) >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
seal_read_keys(const char *db, uint8_t keys[SEAL_KEYS_MAX][SEAL_KEY_LEN])
{
	uint8_t buf[SEAL_KEYS_MAX * SEAL_KEY_LEN + 1];
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (keyring_path(db, path) || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* One byte more than the most keys, to notice a file that is too long. */
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n > 0 && n % SEAL_KEY_LEN == 0 && n < (ssize_t)sizeof(buf))
		memcpy(keys, buf, (size_t)n);
	else
		errno = n < 0 ? errno : EINVAL;
	/* Whatever was read, whole or in part, is a secret. */
	sodium_memzero(buf, sizeof(buf));
	return n > 0 && n % SEAL_KEY_LEN == 0 && n < (ssize_t)sizeof(buf) ? (int)(n / SEAL_KEY_LEN)
	                                                                  : -1;
}

struct seal *
seal_load(const char *db)
{
	uint8_t(*keys)[SEAL_KEY_LEN], sk[64];
	struct seal *s = NULL;
	int n;

	if ((keys = sodium_malloc(SEAL_KEYS_MAX * SEAL_KEY_LEN)) == NULL)
		return NULL;
	if ((n = seal_read_keys(db, keys)) > 0 && identity_sign_load(db, sk) == 0 &&
	    (s = seal_new(keys[0], (size_t)n, sk)) != NULL)
		s->have_box = identity_load(db, s->box_sk, s->box_pub) == 0;
	sodium_free(keys);
	sodium_memzero(sk, sizeof(sk));
	return s;
}

void
seal_free(struct seal *s)
{
	if (s == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	sodium_free(s); /* sodium_free wipes */
}

int
seal_seal(void *ctx, const uint8_t *in, size_t len, const uint8_t *prev, uint8_t **out,
          size_t *outlen)
{
	const size_t ad = CHANGE_HEADER_BYTES + CHANGE_KEYID_BYTES + CHANGE_PREV_BYTES;
	struct seal *s = ctx;
	unsigned long long clen;
	uint8_t *b;

	*out = NULL;
	*outlen = 0;
	if (len < CHANGE_HEADER_BYTES || in[0] != CHANGE_VERSION) {
		errno = EINVAL;
		return -1;
	}
	if ((b = malloc(len + SEAL_OVERHEAD)) == NULL)
		return -1;
	memcpy(b, in, CHANGE_HEADER_BYTES);
	memcpy(b + ad - CHANGE_PREV_BYTES, prev, CHANGE_PREV_BYTES);
	randombytes_buf(b + ad, SEAL_NONCE_LEN);
	pthread_mutex_lock(&s->mu);
	memcpy(b + CHANGE_HEADER_BYTES, s->ids[s->cur], CHANGE_KEYID_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(
	    b + ad + SEAL_NONCE_LEN, &clen, in + CHANGE_HEADER_BYTES, len - CHANGE_HEADER_BYTES, b,
	    ad, NULL, b + ad, s->keys[s->cur]);
	pthread_mutex_unlock(&s->mu);
	len = ad + SEAL_NONCE_LEN + (size_t)clen;
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
	/* A version-1 blob has no prev. */
	const size_t prev = len > 0 && in[0] >= 2 ? CHANGE_PREV_BYTES : 0;
	const size_t ad = CHANGE_HEADER_BYTES + CHANGE_KEYID_BYTES + prev;
	const size_t over = SEAL_OVERHEAD - CHANGE_PREV_BYTES + prev;
	uint8_t *b;
	int k, rc;

	*out = NULL;
	*outlen = 0;
	if (len < CHANGE_HEADER_BYTES + over) {
		errno = EINVAL;
		return -1;
	}
	if ((b = malloc(len - over)) == NULL)
		return -1;
	memcpy(b, in, CHANGE_HEADER_BYTES);
	/* The signature was checked by the journal, against the origin's key. */
	len -= CHANGE_SIG_BYTES;
	pthread_mutex_lock(&s->mu);
	if ((k = find(s, in + CHANGE_HEADER_BYTES)) < 0)
		rc = -2;
	else
		rc = crypto_aead_xchacha20poly1305_ietf_decrypt(
		    b + CHANGE_HEADER_BYTES, &mlen, NULL, in + ad + SEAL_NONCE_LEN,
		    len - ad - SEAL_NONCE_LEN, in, ad, in + ad, s->keys[k]);
	pthread_mutex_unlock(&s->mu);
	if (rc != 0) {
		free(b);
		errno = rc == -2 ? ENOKEY : EINVAL;
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

/* ---- the keyring ---- */

/* Appends key to DB/content.key, synced.  0 or -1. */
static int
keyring_append(const char *db, const uint8_t key[SEAL_KEY_LEN])
{
	char path[PATH_MAX];
	int fd, saved;

	if (keyring_path(db, path) || (fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) < 0)
		return -1;
	if (write(fd, key, SEAL_KEY_LEN) != SEAL_KEY_LEN || fsync(fd)) {
		saved = errno ? errno : EIO;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

/* The keys boxed to this device in its .devices record, taken in. */
static int
take_boxes(struct seal *s, struct journal *j, const char *db)
{
	char dev[DEVID_LEN + 1], *buf;
	uint8_t box[BOX_LEN], key[SEAL_KEY_LEN], id[CHANGE_KEYID_BYTES];
	const char *field;
	size_t len;
	json_t *rec, *v;
	int added = 0, r;

	change_devid(journal_self(j), dev);
	if (!s->have_box || journal_read_record(j, ".devices", dev, &buf, &len))
		return 0;
	rec = json_loadb(buf, len, 0, NULL);
	free(buf);
	json_object_foreach (rec, field, v) {
		const char *hex = json_string_value(v);

		if (strncmp(field, FIELD_PREFIX, strlen(FIELD_PREFIX)) ||
		    strlen(field) != strlen(FIELD_PREFIX) + 2 * CHANGE_KEYID_BYTES || hex == NULL ||
		    sodium_hex2bin(id, sizeof(id), field + strlen(FIELD_PREFIX),
		                   2 * CHANGE_KEYID_BYTES, NULL, NULL, NULL) ||
		    sodium_hex2bin(box, sizeof(box), hex, strlen(hex), NULL, &len, NULL) ||
		    len != sizeof(box))
			continue;
		pthread_mutex_lock(&s->mu);
		r = find(s, id);
		pthread_mutex_unlock(&s->mu);
		if (r >= 0 || crypto_box_seal_open(key, box, sizeof(box), s->box_pub, s->box_sk))
			continue;
		/* On disk first: a key in use must survive a crash. */
		if (keyring_append(db, key) == 0) {
			pthread_mutex_lock(&s->mu);
			added += add(s, key) == 1;
			pthread_mutex_unlock(&s->mu);
		}
		sodium_memzero(key, sizeof(key));
	}
	json_decref(rec);
	return added;
}

/* 1 if the journal knows where key i was handed out (the first key always). */
static int
handed_out(struct seal *s, struct journal *j, size_t i)
{
	char hex[2 * CHANGE_KEYID_BYTES + 1], meta[8 + sizeof(hex)];
	void *v;
	size_t n;

	if (i == 0)
		return 1;
	sodium_bin2hex(hex, sizeof(hex), s->ids[i], CHANGE_KEYID_BYTES);
	snprintf(meta, sizeof(meta), "key/%s", hex);
	if (journal_meta_get(j, meta, &v, &n))
		return 0;
	free(v);
	return 1;
}

int
seal_refresh(struct seal *s, struct journal *j, const char *db)
{
	uint8_t(*keys)[SEAL_KEY_LEN];
	int n, added;
	size_t i, cur;

	added = take_boxes(s, j, db);
	/* Keys another process (devices remove) appended. */
	if ((keys = sodium_malloc(SEAL_KEYS_MAX * SEAL_KEY_LEN)) == NULL)
		return -1;
	n = seal_read_keys(db, keys);
	pthread_mutex_lock(&s->mu);
	for (int k = 0; k < n; k++)
		added += add(s, keys[k]) == 1;
	pthread_mutex_unlock(&s->mu);
	sodium_free(keys);
	/* The newest key handed out seals from now on.  (Only this thread
	 * adds keys, so s->n holds still outside the lock.) */
	for (i = s->n, cur = 0; i-- > 1;)
		if (handed_out(s, j, i)) {
			cur = i;
			break;
		}
	pthread_mutex_lock(&s->mu);
	s->cur = cur;
	pthread_mutex_unlock(&s->mu);
	return n < 0 ? -1 : added;
}

int
seal_rotate(struct seal *s, struct journal *j, const char *db)
{
	uint8_t key[SEAL_KEY_LEN], box[BOX_LEN];
	char hex[2 * CHANGE_KEYID_BYTES + 1], field[8 + sizeof(hex)], bhex[2 * BOX_LEN + 1];
	json_t *members, *m;
	size_t i, k;
	int rc = -1;

	if ((members = journal_members_json(j)) == NULL)
		return -1;
	randombytes_buf(key, sizeof(key));
	pthread_mutex_lock(&s->mu);
	k = s->n;
	rc = add(s, key);
	pthread_mutex_unlock(&s->mu);
	if (rc != 1 || keyring_append(db, key)) {
		rc = -1;
		goto out;
	}
	sodium_bin2hex(hex, sizeof(hex), s->ids[k], CHANGE_KEYID_BYTES);
	snprintf(field, sizeof(field), FIELD_PREFIX "%s", hex);
	rc = 0;
	json_array_foreach (members, i, m) {
		const char *dev = json_string_value(json_object_get(m, "device"));
		struct journal_member jm;
		uint64_t origin;
		const char *why;
		char *buf, *text;
		size_t len;
		json_t *rec;

		/* This device too: its box is where the key is handed out
		 * even when no other member is left. */
		if (json_is_true(json_object_get(m, "removed")) ||
		    change_devid_parse(dev, &origin) || journal_member(j, origin, &jm) ||
		    journal_read_record(j, ".devices", dev, &buf, &len))
			continue;
		rec = json_loadb(buf, len, 0, NULL);
		free(buf);
		crypto_box_seal(box, key, sizeof(key), jm.box_pub);
		sodium_bin2hex(bhex, sizeof(bhex), box, sizeof(box));
		json_object_set_new(rec, field, json_string(bhex));
		text = json_dumps(rec, JSON_SORT_KEYS);
		json_decref(rec);
		if (text == NULL || journal_write_device(j, dev, text, &why))
			rc = -1;
		free(text);
		if (rc)
			break;
	}
out:
	sodium_memzero(key, sizeof(key));
	json_decref(members);
	return rc;
}
