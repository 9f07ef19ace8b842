/* blazefs init DB [--name NAME] [--priority N]: a new database and this device's identity. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/netkey.h"

int
cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {{"name", required_argument, NULL, 'n'},
	                                     {"priority", required_argument, NULL, 'p'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	unsigned char box_pub[32], sign_pub[32], content[32], dbid[32], net[NETKEY_LEN];
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
	randombytes_buf(content, sizeof(content));
	randombytes_buf(dbid, sizeof(dbid));
	/* The network secret: members prove it to each other and derive their
	 * discovery tags from it (netkey.h). */
	randombytes_buf(net, sizeof(net));

	/* The keys first: the journal is made for the device id they give. */
	if (mkdir(db, 0700) && errno != EEXIST) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	if (identity_create(db, box_pub, sign_pub) ||
	    identity_write_secret(db, "content.key", content, sizeof(content))) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db,
		        errno == EEXIST ? "a database is already there" : strerror(errno));
		goto out;
	}
	origin = journal_key_origin(box_pub);
	if (journal_create(db, origin, dbid)) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	if (netkey_write(db, net)) {
		fprintf(stderr, "%s init: %s/%s: %s\n", cli_prog, db, NETKEY_FILE, strerror(errno));
		goto out;
	}
	if ((j = journal_open(db, 0)) == NULL) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	/* This device is the trust root and the first member, an admin. */
	if (journal_meta_put(j, "name", name, strlen(name)) || identity_found(j, db, priority) ||
	    journal_sync(j)) {
		fprintf(stderr, "%s init: %s: %s\n", cli_prog, db, strerror(errno));
		journal_close(j);
		goto out;
	}
	journal_close(j);
	change_devid(origin, dev);
	printf("%s\n", dev);
	rc = 0;
out:
	sodium_memzero(content, sizeof(content));
	sodium_memzero(net, sizeof(net));
	return rc;
}
