/*
 * blazefs invite DB [--ttl SECONDS] [--address HOST:PORT]: prints a one-time
 * join code.  The code is hex(secret(32)) then, if known, "@HOST:PORT"
 * (where the inviter listens).  It holds no database id and no network key:
 * the joiner learns both in the WELCOME, and someone who saw the code (even
 * used) cannot compute the members' discovery tags (README "Choices").  Only the psk derived from
 * the secret is kept, in journal meta with its expiry; the running mount answers one join with it
 * and burns it.  A new invite replaces the previous one.
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "cli/cli.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/join.h"
#include "net/net.h"

#define INVITE_USAGE "Usage: %s invite DB [--ttl SECONDS] [--address HOST:PORT]\n"

/* The listen address of the running mount, from its status. */
static void
running_address(const char *db, char *out, size_t len)
{
	char host[256];
	const char *l;
	json_t *o;

	out[0] = '\0';
	if ((o = net_status_load(db)) == NULL)
		return;
	l = json_string_value(json_object_get(o, "listen"));
	if (l != NULL && strncmp(l, "*:", 2) == 0) {
		if (gethostname(host, sizeof(host)))
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		snprintf(out, len, "%s%s", host, l + 1);
	} else if (l != NULL && strcmp(l, "none") != 0) {
		snprintf(out, len, "%s", l);
	}
	json_decref(o);
}

/*
 * The priority this device joined with (meta "priority", written by join;
 * 0 if none): recording itself with it writes the same values the inviter
 * wrote for it, so the two records are no conflict.
 */
static long long
own_priority(struct journal *j)
{
	char buf[24];
	long long p = 0;
	void *v;
	size_t n;

	if (journal_meta_get(j, "priority", &v, &n) == 0) {
		if (n < sizeof(buf)) {
			memcpy(buf, v, n);
			buf[n] = '\0';
			p = strtoll(buf, NULL, 10);
		}
		free(v);
	}
	return p;
}

int
cmd_invite(int argc, char **argv)
{
	static const struct option opts[] = {{"ttl", required_argument, NULL, 't'},
	                                     {"address", required_argument, NULL, 'a'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	uint8_t secret[32];
	char hex[65], addr[300] = "", dev[DEVID_LEN + 1], *buf;
	const char *db;
	struct journal *j;
	long ttl = 3600;
	size_t len;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			ttl = strtol(optarg, NULL, 10);
			break;
		case 'a':
			snprintf(addr, sizeof(addr), "%s", optarg);
			break;
		case 'h':
			printf(INVITE_USAGE, cli_prog);
			return 0;
		default:
			fprintf(stderr, INVITE_USAGE, cli_prog);
			return 1;
		}
	}
	if (optind != argc - 1 || ttl < 0) {
		fprintf(stderr, INVITE_USAGE, cli_prog);
		return 1;
	}
	db = argv[optind];
	if (sodium_init() < 0)
		return 1;
	if ((j = journal_open(db, 0)) == NULL) {
		fprintf(stderr, "%s invite: %s: no blazefs database there (%s)\n", cli_prog, db,
		        strerror(errno));
		return 1;
	}
	/* The inviter must be a listed member for the new device to trust it. */
	change_devid(journal_self(j), dev);
	if (journal_read_record(j, ".devices", dev, &buf, &len) == 0)
		free(buf);
	else if (identity_register_self(j, db, own_priority(j))) {
		fprintf(stderr, "%s invite: %s: cannot record this device: %s\n", cli_prog, db,
		        strerror(errno));
		goto out;
	}
	randombytes_buf(secret, sizeof(secret));
	if (join_invite(j, secret, ttl) || journal_sync(j)) {
		fprintf(stderr, "%s invite: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	sodium_bin2hex(hex, sizeof(hex), secret, sizeof(secret));
	if (addr[0] == '\0')
		running_address(db, addr, sizeof(addr));
	printf("%s%s%s\n", hex, addr[0] ? "@" : "", addr);
	if (addr[0] == '\0')
		fprintf(stderr,
		        "%s invite: no mount of %s is listening: mount it with --listen "
		        "before the other device joins\n",
		        cli_prog, db);
	rc = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(hex, sizeof(hex));
	journal_close(j);
	return rc;
}
