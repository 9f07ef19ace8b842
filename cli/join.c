/*
 * blazefs join DB CODE [--peer HOST:PORT] [--name NAME]:
 * makes DB a new replica of the database the code invites to.  Runs
 * Noise_XXpsk3 with the code's secret against the inviter's running mount,
 * sends this device's name and signing key, receives the database id, the
 * content key and the trust root, and only then creates DB (so a refused
 * code leaves nothing).  The inviter sets this device's priority and role.
 * The records arrive at the first mount.  Without --peer or an address in
 * the code, the inviter is found by mDNS: while the invite is pending its
 * announcement carries, in j=, a tag keyed by the invite's psk (mdns.h).
 * The code is hex(secret(32))[@HOST:PORT]; the database id and the network
 * key arrive in the WELCOME.
 */
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
#include "net/dial.h"
#include "net/identity.h"
#include "net/join.h"
#include "net/mdns.h"
#include "net/msg.h"
#include "net/netkey.h"
#include "net/relayjoin.h"
#include "net/relaylink.h"

#define JOIN_USAGE "Usage: %s join DB CODE [--peer HOST:PORT] [--name NAME]\n"
#define JOIN_FIND_MS 10000 /* browsing for the inviter */
#define JOIN_FIND_MAX 8

/* Why a join with the inviter at peer failed (errno e from join_exchange). */
static void
join_why(const char *peer, int e, int shortc)
{
	const char *why;

	switch (e) {
	case ETIMEDOUT:
		why = "timed out waiting for the inviting device";
		break;
	case EPROTO:
		why = "no blazefs answered there: is it the port the inviting device's mount "
		      "listens on (its 'blazefs status')?";
		break;
	case ENOENT:
		why =
		    "the inviting device refused the code: it has no invite pending (make one with "
		    "'blazefs invite')";
		break;
	case ESTALE:
		why = "the inviting device refused the code: a newer invite replaced it (use the "
		      "newest code)";
		break;
	case ETIME:
		why = "the inviting device refused the code: it has expired (make a new one with "
		      "'blazefs invite')";
		break;
	case EALREADY:
		why = "the inviting device refused the code: it was already used, or burnt by a "
		      "wrong guess (make a new one with 'blazefs invite')";
		break;
	case ECONNREFUSED:
		why = shortc
		          ? "the inviting device refused the code: wrong code, and the invite is "
		            "burnt now (a code allows one try; make a new one with 'blazefs "
		            "invite')"
		          : "the inviting device refused the code: it is wrong, expired or "
		            "already used (make a new one with 'blazefs invite')";
		break;
	case EACCES:
		why = "the inviting device refused the code after the handshake: it was used "
		      "meanwhile (make a new one with 'blazefs invite')";
		break;
	default:
		why = strerror(e);
	}
	fprintf(stderr, "%s join: %s: %s\n", cli_prog, peer, why);
}

int
cmd_join(int argc, char **argv)
{
	static const struct option opts[] = {{"peer", required_argument, NULL, 'p'},
	                                     {"name", required_argument, NULL, 'n'},
	                                     {"priority", required_argument, NULL, 'P'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	uint8_t raw[32], psk[32], rs[32], sign_pub[32], tagkey[32], *kp = NULL;
	char host[256], *name = NULL, dev[DEVID_LEN + 1];
	struct msg_welcome w;
	struct msg_relays relays = {0};
	const char *db, *code, *peer = NULL, *at;
	struct join_code sc, *shortc = NULL;
	size_t clen;
	struct journal *j;
	struct stat st;
	uint64_t origin;
	char found[JOIN_FIND_MAX][MDNS_HOST_MAX], hp[MDNS_HOST_MAX + 8];
	int ports[JOIN_FIND_MAX], nfound = 0, k;
	int c, fd = -1, rc = 1, e, from_relay = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:n:P:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			peer = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'P':
			fprintf(stderr,
			        "%s join: the inviting device sets the priority: '%s invite "
			        "--priority N'\n",
			        cli_prog, cli_prog);
			return 1;
		case 'h':
			printf(JOIN_USAGE, cli_prog);
			return 0;
		default:
			fprintf(stderr, JOIN_USAGE, cli_prog);
			return 1;
		}
	}
	if (optind != argc - 2) {
		fprintf(stderr, JOIN_USAGE, cli_prog);
		return 1;
	}
	db = argv[optind];
	code = argv[optind + 1];
	if (sodium_init() < 0)
		return 1;
	at = strchr(code, '@');
	clen = at ? (size_t)(at - code) : strlen(code);
	if (clen == 128) {
		fprintf(stderr, "%s join: this code was made by an older blazefs: make a new one\n",
		        cli_prog);
		return 1;
	}
	/* A short code (7-amber-falcon-river) or the long hex one (--long). */
	if (join_code_parse(code, clen, &sc) == 0) {
		shortc = &sc;
	} else if (clen != 64 || sodium_hex2bin(raw, sizeof(raw), code, clen, NULL, NULL, NULL)) {
		fprintf(stderr,
		        "%s join: this is not a join code (expected what '%s invite' "
		        "printed, e.g. 7-amber-falcon-river)\n",
		        cli_prog, cli_prog);
		return 1;
	}
	if (peer == NULL && at != NULL)
		peer = at + 1;
	if (stat(db, &st) == 0) {
		fprintf(stderr, "%s join: %s already exists: give a new directory\n", cli_prog, db);
		goto out;
	}
	if (name == NULL) {
		if (gethostname(host, sizeof(host) - 1))
			snprintf(host, sizeof(host), "blazefs");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	/* This device's identity: the X25519 secret key then public key, as in
	 * DB/device.key, then the Ed25519 secret key, as in DB/sign.key. */
	if ((kp = sodium_malloc(128)) == NULL)
		goto out;
	crypto_box_keypair(kp + 32, kp);
	crypto_sign_keypair(sign_pub, kp + 64);
	origin = journal_key_origin(kp + 32);
	/* The mDNS tag: a short code's from its number alone (the words are
	 * the secret), a long code's from its psk. */
	if (shortc != NULL) {
		join_slot_key(psk, sc.slot);
		netkey_invite_tag_key(tagkey, psk);
		sodium_memzero(psk, sizeof(psk));
	} else {
		join_psk(psk, raw);
		netkey_invite_tag_key(tagkey, psk);
	}
	/* No address: the inviter announces the invite's tag over mDNS. */
	if (peer == NULL &&
	    (nfound = mdns_find(tagkey, JOIN_FIND_MS, found, ports, JOIN_FIND_MAX)) <= 0) {
		if (nfound == 0)
			fprintf(stderr,
			        "%s join: no device of that database found by mDNS (is the "
			        "inviting device mounted, on this network?): give --peer "
			        "HOST:PORT\n",
			        cli_prog);
		goto out;
	}
	/* Several members may announce it: the one holding the invite answers. */
	for (k = 0;; k++) {
		if (nfound > 0) {
			snprintf(hp, sizeof(hp), "%s:%d", found[k], ports[k]);
			peer = hp;
		}
		if ((fd = join_dial(peer)) < 0)
			fprintf(stderr, "%s join: cannot connect to %s: %s\n", cli_prog, peer,
			        strerror(errno));
		else if (join_exchange_relays(fd, kp, psk, shortc, name, sign_pub, &w, rs,
		                              &relays) == 0)
			break;
		else if ((e = errno, shortc == NULL) &&
		         relayjoin_fetch(peer, psk, kp, rs, &w, &relays) == 0) {
			/* A relay holding an invite's box: the inviter made this
			 * device's keys and registered it (relayjoin.h). */
			from_relay = 1;
			break;
		} else
			join_why(peer, errno == ENOENT ? ENOENT : e, shortc != NULL);
		if (fd >= 0)
			close(fd);
		fd = -1;
		if (k + 1 >= nfound)
			goto out;
	}
	if (from_relay)
		origin = journal_key_origin(kp + 32);
	/* The code holds no database id: the WELCOME's is authentic, as only
	 * the device holding the invite's psk could complete the handshake. */
	if (journal_create(db, origin, w.dbid) || identity_write_secret(db, "device.key", kp, 64) ||
	    identity_write_secret(db, "sign.key", kp + 64, 64) ||
	    identity_write_secret(db, "content.key", w.keys[0], 32 * w.nkeys) ||
	    netkey_write(db, w.netkey) || (j = journal_open(db, 0)) == NULL) {
		fprintf(stderr, "%s join: %s: %s\n", cli_prog, db, strerror(errno));
		goto out;
	}
	if (journal_set_root(j, w.root, w.root_sign, w.root_box) ||
	    journal_meta_put(j, "name", name, strlen(name)) ||
	    journal_meta_put(j, IDENTITY_INTRODUCER_META, rs, 32) || dial_remember(j, peer) ||
	    relaylink_remember(j, &relays) || journal_sync(j))
		fprintf(stderr, "%s join: %s: %s\n", cli_prog, db, strerror(errno));
	else
		rc = 0;
	journal_close(j);
	change_devid(origin, dev);
	if (rc == 0)
		printf("%s\n", dev);
out:
	if (fd >= 0)
		close(fd);
	if (kp)
		sodium_free(kp);
	sodium_memzero(raw, sizeof(raw));
	sodium_memzero(psk, sizeof(psk));
	sodium_memzero(&w, sizeof(w));
	sodium_memzero(tagkey, sizeof(tagkey));
	return rc;
}
