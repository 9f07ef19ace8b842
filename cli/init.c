/* blazefs init DB [--name NAME] [--priority N]: a new database and this device's identity. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/netkey.h"

/* Writes len bytes to DB/name, mode 0600, failing if it exists. */
static int
write_secret(const char *db, const char *name, const unsigned char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t w;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", db, name) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		goto err0;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		goto err0;
	if ((w = write(fd, buf, len)) != (ssize_t)len) {
		if (w >= 0)
			errno = EIO;
		goto err1;
	}
	if (fsync(fd))
		goto err1;
	if (close(fd))
		goto err0;
	return 0;

err1:
	close(fd);
err0:
	fprintf(stderr, "%s init: %s/%s: %s\n", cli_prog, db, name, strerror(errno));
	return -1;
}

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
	                                     {"priority", required_argument, NULL, 'p'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	unsigned char key[crypto_box_SECRETKEYBYTES + crypto_box_PUBLICKEYBYTES];
	unsigned char content[32], dbid[32], net[NETKEY_LEN];
	char host[256], dev[DEVID_LEN + 1];
	const char *db, *name = NULL;
	struct journal *j;
	uint64_t origin;
	long long priority = 0;
	char *end;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "n:p:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			name = optarg;
			break;
		case 'p':
			priority = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0') {
				fprintf(stderr, "%s init: --priority takes an integer\n", cli_prog);
				return 1;
			}
			break;
		case 'h':
			printf("Usage: %s init DB [--name NAME] [--priority N]\n", cli_prog);
			return 0;
		default:
			fprintf(stderr, "Usage: %s init DB [--name NAME] [--priority N]\n",
			        cli_prog);
			return 1;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "Usage: %s init DB [--name NAME] [--priority N]\n", cli_prog);
		return 1;
	}
	db = argv[optind];
	if (name == NULL) {
		if (gethostname(host, sizeof(host) - 1))
			snprintf(host, sizeof(host), "blazefs");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "%s init: libsodium failed to initialise\n", cli_prog);
		return 1;
	}
	/* The secret key first, then the public key. */
	crypto_box_keypair(key + crypto_box_SECRETKEYBYTES, key);
	origin = identity_origin(key + crypto_box_SECRETKEYBYTES);
	randombytes_buf(content, sizeof(content));
	randombytes_buf(dbid, sizeof(dbid));
	/* The network secret: members prove it to each other and derive their
	 * discovery tags from it (netkey.h). */
	randombytes_buf(net, sizeof(net));

	if (journal_create(db, origin, dbid)) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db,
		        errno == EEXIST ? "a database is already there" : strerror(errno));
		goto out;
	}
	if (write_secret(db, "device.key", key, sizeof(key)) ||
	    write_secret(db, "content.key", content, sizeof(content)))
		goto out;
	if (netkey_write(db, net)) {
		fprintf(stderr, "%s init: %s/%s: %s\n", cli_prog, db, NETKEY_FILE, strerror(errno));
		goto out;
	}
	if ((j = journal_open(db, 0)) == NULL) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	/* This device's own record in .devices: the first member. */
	if (journal_meta_put(j, "name", name, strlen(name)) ||
	    identity_register_self(j, db, priority) || journal_sync(j)) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db, strerror(errno));
		journal_close(j);
		goto out;
	}
	journal_close(j);
	change_devid(origin, dev);
	printf("%s\n", dev);
	rc = 0;
out:
	sodium_memzero(key, sizeof(key));
	sodium_memzero(content, sizeof(content));
	sodium_memzero(net, sizeof(net));
	return rc;
}
