/*
 * blazefs invite DB [--ttl SECONDS] [--address HOST:PORT] [--priority N] [--admin]:
 * prints a one-time join code (admins only).  The joining device gets
 * priority N (default 0) and, with --admin, the admin role.  The code is a
 * short one to read aloud, "7-amber-falcon-river" (join.h: the invite slot
 * and 24 secret bits, run through CPace), on stdout, and on stderr the
 * command to run on the other device; with --long (for scripts) it is
 * hex(secret(32)) then, if known, "@HOST:PORT" (where the inviter listens).
 * It holds no database id and no network key: the joiner learns both in the
 * WELCOME, and someone who saw the code (even used) cannot compute the
 * members' discovery tags (README "Choices").  Only the psk derived from the
 * secret (or the short code's CPace password) is kept, in journal meta with its expiry; the running
 * mount answers one join with it and burns it.  A new invite replaces the previous one.
 * With --relay [--name NAME] the invite does not wait for the joiner: it
 * registers the new device now (named NAME) and leaves what it needs at the
 * database's relay, sealed to a long code (net/relayjoin.h), printed with
 * the relay's address; the inviter may then go offline.
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
#include "net/relayjoin.h"

/* An invite is a secret in transit: it should not outlive its use by long. */
#define INVITE_TTL_MAX (7 * 24 * 3600)
#define INVITE_USAGE                                                                               \
	"Usage: %s invite DB [--ttl SECONDS] [--address HOST:PORT] [--priority N] [--admin] "      \
	"[--long] [--wait] [--relay [--name NAME]]\n"

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

int
cmd_invite(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"ttl", required_argument, NULL, 't'},      {"address", required_argument, NULL, 'a'},
	    {"priority", required_argument, NULL, 'p'}, {"admin", no_argument, NULL, 'A'},
	    {"long", no_argument, NULL, 'L'},           {"wait", no_argument, NULL, 'W'},
	    {"relay", no_argument, NULL, 'R'},          {"name", required_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
	uint8_t secret[32];
	char hex[65], addr[300] = "", *end, sc[JOIN_CODE_MAX];
	struct join_code code;
	struct journal_member me;
	const char *db;
	struct journal *j;
	long ttl = 3600;
	long long prio = 0;
	int c, rc = 1, admin = 0, longc = 0, wait = 0, how, relay = 0;
	const char *name = "invited", *why;
	uint8_t psk[32];
	uint8_t slot = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "t:a:p:ALWRn:h", opts, NULL)) != -1) {
		switch (c) {
		case 'R':
			relay = 1;
			break;
		case 'n':
			name = optarg;
			break;
		case 't':
			errno = 0;
			ttl = strtol(optarg, &end, 10);
			if (errno || end == optarg || *end != '\0' || ttl < 0 ||
			    ttl > INVITE_TTL_MAX) {
				fprintf(stderr,
				        "%s invite: --ttl %s: want a number of seconds from 0 to "
				        "%d (7 days)\n",
				        cli_prog, optarg, INVITE_TTL_MAX);
				return 1;
			}
			break;
		case 'a':
			snprintf(addr, sizeof(addr), "%s", optarg);
			break;
		case 'p':
			prio = strtoll(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || prio < -IDENTITY_PRIORITY_MAX ||
			    prio > IDENTITY_PRIORITY_MAX) {
				fprintf(stderr,
				        "%s invite: --priority takes an integer from %d to %d\n",
				        cli_prog, -IDENTITY_PRIORITY_MAX, IDENTITY_PRIORITY_MAX);
				return 1;
			}
			break;
		case 'A':
			admin = 1;
			break;
		case 'L':
			longc = 1;
			break;
		case 'W':
			wait = 1;
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
	/* The new device's record is a membership change: an admin's to make. */
	if (journal_member(j, journal_self(j), &me) || !(me.flags & JOURNAL_ADMIN)) {
		fprintf(stderr,
		        "%s invite: only an admin device can invite, and this one %s (see "
		        "'%s devices %s')\n",
		        cli_prog,
		        errno == ENOENT ? "is not a member yet: mount it until it has synced"
		                        : "is a member, not an admin",
		        cli_prog, db);
		goto out;
	}
	if (relay) {
		/* The joiner's half, done now; its box waits at the relay. */
		randombytes_buf(secret, sizeof(secret));
		join_psk(psk, secret);
		if (relayjoin_deposit(j, db, psk, ttl, name, prio, admin, addr, sizeof(addr),
		                      &why)) {
			fprintf(stderr, "%s invite: %s: %s\n", cli_prog, db, why);
			sodium_memzero(psk, sizeof(psk));
			goto out;
		}
		sodium_memzero(psk, sizeof(psk));
		sodium_bin2hex(hex, sizeof(hex), secret, sizeof(secret));
		printf("%s@%s\n", hex, addr);
		fflush(stdout);
		fprintf(stderr,
		        "%s invite: %s is registered and what it needs waits at the relay %s "
		        "(for %ld s, one use): this device may go offline\n",
		        cli_prog, name, addr, ttl);
		rc = 0;
		goto out;
	}
	if (addr[0] == '\0')
		running_address(db, addr, sizeof(addr));
	if (longc) {
		/* For scripts: 256 bits, no PAKE needed, the address inside. */
		randombytes_buf(secret, sizeof(secret));
		if (join_invite(j, secret, ttl, prio, admin) || journal_sync(j)) {
			fprintf(stderr, "%s invite: %s: %s\n", cli_prog, db, strerror(errno));
			goto out;
		}
		sodium_bin2hex(hex, sizeof(hex), secret, sizeof(secret));
		printf("%s%s%s\n", hex, addr[0] ? "@" : "", addr);
	} else {
		/* For people: a code to read aloud, safe through CPace (one
		 * guess, 2^-24), and the command for the other device. */
		if (join_invite_code(j, &code, ttl, prio, admin) || journal_sync(j) ||
		    join_code_format(sc, sizeof(sc), &code)) {
			fprintf(stderr, "%s invite: %s: %s\n", cli_prog, db, strerror(errno));
			goto out;
		}
		printf("%s\n", sc);
		fflush(stdout);
		slot = code.slot;
		fprintf(stderr,
		        "%s invite: on the other device run (within %ld s; the code allows one "
		        "try):\n  %s join %s %s%s%s\n",
		        cli_prog, ttl, cli_prog, db, sc, addr[0] ? " --peer " : "", addr);
		sodium_memzero(sc, sizeof(sc));
	}
	if (addr[0] == '\0')
		fprintf(stderr,
		        "%s invite: no mount of %s is listening: mount it with --listen "
		        "before the other device joins\n",
		        cli_prog, db);
	fflush(stdout);
	rc = 0;
	/* --wait: until the running mount says how the invite ended. */
	while (wait && (how = join_invite_outcome(j, slot)) == 0)
		usleep(200 * 1000);
	if (wait) {
		if (how == JOIN_USED_JOINED)
			fprintf(stderr, "%s invite: a device joined (see '%s devices %s')\n",
			        cli_prog, cli_prog, db);
		else
			fprintf(stderr, "%s invite: %s\n", cli_prog,
			        how == JOIN_USED_WRONG
			            ? "a wrong join code was tried: the invite is burnt"
			        : how == -2 ? "the invite expired"
			                    : "a newer invite replaced this one");
		rc = how == JOIN_USED_JOINED ? 0 : 1;
	}
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(hex, sizeof(hex));
	journal_close(j);
	return rc;
}
