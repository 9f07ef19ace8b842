/* netkey: the network secret and the keys derived from it; see netkey.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "net/netkey.h"

static int
key_path(char *path, size_t len, const char *db)
{
	if ((size_t)snprintf(path, len, "%s/" NETKEY_FILE, db) >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
netkey_write(const char *db, const uint8_t key[NETKEY_LEN])
{
	char path[PATH_MAX];
	int fd, saved;

	if (key_path(path, sizeof(path), db))
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write(fd, key, NETKEY_LEN) != NETKEY_LEN || fsync(fd)) {
		saved = errno ? errno : EIO;
		close(fd);
		unlink(path);
		errno = saved;
		return -1;
	}
	return close(fd);
}

int
netkey_read(const char *db, uint8_t key[NETKEY_LEN])
{
	uint8_t buf[NETKEY_LEN + 1];
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (key_path(path, sizeof(path), db))
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* One byte more than a key, to notice a file that is too long. */
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == NETKEY_LEN)
		memcpy(key, buf, NETKEY_LEN);
	else
		errno = n < 0 ? errno : EINVAL;
	sodium_memzero(buf, sizeof(buf));
	return n == NETKEY_LEN ? 0 : -1;
}

/* BLAKE2b-256 keyed with key over a context string: one key per purpose. */
static void
derive(uint8_t out[32], const uint8_t key[32], const char *ctx)
{
	crypto_generichash(out, 32, (const uint8_t *)ctx, strlen(ctx), key, 32);
}

void
netkey_psk(uint8_t psk[32], const uint8_t key[NETKEY_LEN])
{
	derive(psk, key, "blazefs/network/psk");
}

void
netkey_tag_key(uint8_t out[32], const uint8_t key[NETKEY_LEN])
{
	derive(out, key, "blazefs/network/mdns-tag");
}

void
netkey_invite_tag_key(uint8_t out[32], const uint8_t invite_psk[32])
{
	derive(out, invite_psk, "blazefs/invite/mdns-tag");
}
