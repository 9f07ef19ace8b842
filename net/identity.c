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

uint64_t
identity_origin(const uint8_t pub[32])
{
	uint8_t h[32];

	crypto_generichash(h, sizeof(h), pub, 32, NULL, 0);
	return get64(h);
}

int
identity_load(const char *db, uint8_t priv[32], uint8_t pub[32])
{
	uint8_t buf[65], chk[32];
	char path[PATH_MAX];
	ssize_t n;
	int fd, rc = -1;

	if ((size_t)snprintf(path, sizeof(path), "%s/device.key", db) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	/* The public key must be the secret key's. */
	if (n != 64 || crypto_scalarmult_base(chk, buf) || sodium_memcmp(chk, buf + 32, 32)) {
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
identity_register(struct journal *j, const uint8_t pub[32], const char *name, long long priority)
{
	char dev[DEVID_LEN + 1], hex[65], *text;
	const char *why;
	json_t *o;
	int rc = -1;

	change_devid(identity_origin(pub), dev);
	sodium_bin2hex(hex, sizeof(hex), pub, 32);
	if ((o = json_pack("{s:s, s:s, s:I}", "name", name, "public_key", hex, "priority",
	                   (json_int_t)priority)) == NULL) {
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
identity_register_self(struct journal *j, const char *db, long long priority)
{
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	uint8_t priv[32], pub[32];
	struct seal *s;
	char *name = NULL;
	void *v;
	size_t n;
	int rc;

	if (identity_load(db, priv, pub) || (s = seal_load(db)) == NULL)
		return -1;
	sodium_memzero(priv, sizeof(priv));
	if (journal_meta_get(j, "name", &v, &n) == 0) {
		if ((name = malloc(n + 1)) != NULL) {
			memcpy(name, v, n);
			name[n] = '\0';
		}
		free(v);
	}
	/* Like every change, it leaves sealed. */
	seal_hooks(s, &jc);
	journal_set_crypto(j, &jc);
	rc = identity_register(j, pub, name ? name : "blazefs", priority);
	journal_set_crypto(j, &none);
	seal_free(s);
	free(name);
	return rc;
}

int
identity_is_member(struct journal *j, const uint8_t pub[32])
{
	char dev[DEVID_LEN + 1], hex[65], *buf;
	json_t *o, *k;
	size_t len;
	int rc;

	/* The device that let us join is trusted before its record arrives. */
	if (journal_meta_get(j, IDENTITY_INTRODUCER_META, (void **)&buf, &len) == 0) {
		rc = len == 32 && sodium_memcmp(buf, pub, 32) == 0;
		free(buf);
		if (rc)
			return 1;
	}
	change_devid(identity_origin(pub), dev);
	if (journal_read_record(j, ".devices", dev, &buf, &len))
		return errno == ENOENT ? 0 : -1;
	sodium_bin2hex(hex, sizeof(hex), pub, 32);
	o = json_loadb(buf, len, 0, NULL);
	free(buf);
	k = json_object_get(o, "public_key");
	rc = json_is_string(k) && strcmp(json_string_value(k), hex) == 0;
	json_decref(o);
	return rc;
}
