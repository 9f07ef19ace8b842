/* identity: device keys and member records; see identity.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "core/bytes.h"
#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/seal.h"

/* Reads exactly n bytes of secret file DB/name into buf.  0 or -1. */
static int
read_secret(const char *db, const char *name, uint8_t *buf, size_t n)
{
	uint8_t tmp[65];
	char path[PATH_MAX];
	ssize_t r;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", db, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	r = read(fd, tmp, sizeof(tmp));
	close(fd);
	if (r == (ssize_t)n)
		memcpy(buf, tmp, n);
	else
		errno = r < 0 ? errno : EINVAL;
	sodium_memzero(tmp, sizeof(tmp));
	return r == (ssize_t)n ? 0 : -1;
}

int
identity_write_secret(const char *db, const char *name, const uint8_t *buf, size_t n)
{
	char path[PATH_MAX];
	int fd, saved;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", db, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write(fd, buf, n) != (ssize_t)n || fsync(fd)) {
		saved = errno ? errno : EIO;
		close(fd);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
identity_load(const char *db, uint8_t priv[32], uint8_t pub[32])
{
	uint8_t buf[64], chk[32];
	int rc = -1;

	if (read_secret(db, "device.key", buf, sizeof(buf)))
		return -1;
	/* The public key must be the secret key's. */
	if (crypto_scalarmult_base(chk, buf) || sodium_memcmp(chk, buf + 32, 32)) {
		errno = EINVAL;
		goto out;
	}
	memcpy(priv, buf, 32);
	memcpy(pub, buf + 32, 32);
	rc = 0;
out:
	sodium_memzero(buf, sizeof(buf));
	return rc;
}

int
identity_sign_load(const char *db, uint8_t sk[64])
{
	uint8_t pk[32];

	if (read_secret(db, "sign.key", sk, 64))
		return -1;
	/* The public half it ends with must be the secret half's. */
	if (crypto_sign_ed25519_sk_to_pk(pk, sk) || sodium_memcmp(pk, sk + 32, 32)) {
		sodium_memzero(sk, 64);
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int
identity_create(const char *db, uint8_t box_pub[32], uint8_t sign_pub[32])
{
	uint8_t *k;
	int rc = -1;

	if ((k = sodium_malloc(64 + 64)) == NULL)
		return -1;
	/* device.key: secret then public; sign.key: libsodium's layout. */
	crypto_box_keypair(k + 32, k);
	crypto_sign_keypair(sign_pub, k + 64);
	memcpy(box_pub, k + 32, 32);
	if (identity_write_secret(db, "device.key", k, 64) == 0 &&
	    identity_write_secret(db, "sign.key", k + 64, 64) == 0)
		rc = 0;
	sodium_free(k);
	return rc;
}

int
identity_register(struct journal *j, const struct identity_device *d)
{
	char dev[DEVID_LEN + 1], box[65], sign[65], *text;
	const char *why;
	json_t *o;
	int rc = -1;

	if (d->priority < -IDENTITY_PRIORITY_MAX || d->priority > IDENTITY_PRIORITY_MAX) {
		errno = ERANGE;
		return -1;
	}
	change_devid(journal_key_origin(d->box_pub), dev);
	sodium_bin2hex(box, sizeof(box), d->box_pub, 32);
	sodium_bin2hex(sign, sizeof(sign), d->sign_pub, 32);
	if ((o = json_pack("{s:s, s:s, s:s, s:I, s:s}", "name", d->name, "public_key", box,
	                   "sign_key", sign, "priority", (json_int_t)d->priority, "role",
	                   d->admin ? "admin" : "member")) == NULL) {
		errno = EINVAL;
		return -1;
	}
	if ((text = json_dumps(o, JSON_SORT_KEYS)) == NULL) {
		errno = ENOMEM;
		goto out;
	}
	rc = journal_write_device(j, dev, text, &why);
	free(text);
out:
	json_decref(o);
	return rc;
}

int
identity_found(struct journal *j, const char *db, long long priority)
{
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	struct identity_device d = {.priority = priority, .admin = 1};
	uint8_t priv[32], sk[64];
	struct seal *s;
	char *name = NULL;
	void *v;
	size_t n;
	int rc = -1;

	if (identity_load(db, priv, d.box_pub))
		return -1;
	sodium_memzero(priv, sizeof(priv));
	if (identity_sign_load(db, sk))
		return -1;
	memcpy(d.sign_pub, sk + 32, 32);
	sodium_memzero(sk, sizeof(sk));
	if ((s = seal_load(db)) == NULL)
		return -1;
	if (journal_meta_get(j, "name", &v, &n) == 0) {
		if ((name = malloc(n + 1)) != NULL) {
			memcpy(name, v, n);
			name[n] = '\0';
		}
		free(v);
	}
	d.name = name ? name : "blazefs";
	/* Like every change, it leaves sealed and signed. */
	seal_hooks(s, &jc);
	journal_set_crypto(j, &jc);
	if (journal_set_root(j, journal_key_origin(d.box_pub), d.sign_pub, d.box_pub) == 0)
		rc = identity_register(j, &d);
	journal_set_crypto(j, &none);
	seal_free(s);
	free(name);
	return rc;
}

int
identity_is_member(struct journal *j, const uint8_t pub[32])
{
	struct journal_member m;
	uint8_t *buf;
	size_t len;
	int rc;

	if (journal_member(j, journal_key_origin(pub), &m) == 0)
		return !(m.flags & JOURNAL_REMOVED) && sodium_memcmp(m.box_pub, pub, 32) == 0;
	if (errno != ENOENT)
		return -1;
	/* The device that let us join is trusted before its record arrives. */
	if (journal_meta_get(j, IDENTITY_INTRODUCER_META, (void **)&buf, &len))
		return errno == ENOENT ? 0 : -1;
	rc = len == 32 && sodium_memcmp(buf, pub, 32) == 0;
	free(buf);
	return rc;
}
