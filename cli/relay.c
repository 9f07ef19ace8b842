/*
 * blazefs relay init DIR                      makes a relay's directory
 * blazefs relay DIR --listen [ADDR:]PORT [-f] [--quota BYTES]
 *                                             runs the relay (in the
 *                                             background unless -f)
 * blazefs relay add DB HOST:PORT              pairs database DB (this device
 *                                             an admin) with the relay there
 * The relay (net/relay.h) stores and forwards sealed changes it cannot read.
 * A pairing hands it the network key and the admin-signed roster, never the
 * content key, and writes the relay's address and key into this device's
 * .devices record, from where every member learns it and dials it.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/journal.h"
#include "net/identity.h"
#include "net/net.h"
#include "net/relay.h"
#include "net/relaylink.h"
#include "net/seal.h"

#define RELAY_USAGE                                                                                \
	"Usage: %s relay init DIR\n"                                                               \
	"       %s relay DIR --listen [ADDR:]PORT [-f] [--quota BYTES]\n"                          \
	"       %s relay add DB HOST:PORT\n"

static struct relay *running;

static void
on_signal(int sig)
{
	(void)sig;
	if (running)
		relay_stop(running);
}

static int
run(int argc, char **argv)
{
	struct relay_config cfg = {0};
	char *addr = NULL, *end;
	int foreground = 0, rc = 1, port = -1;
	struct sigaction sa;

	cfg.dir = argv[1];
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "-f") == 0)
			foreground = 1;
		else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
			free(addr);
			if (net_parse_listen(argv[++i], &addr, &port) || port <= 0) {
				fprintf(stderr, "%s relay: bad --listen %s (want [ADDR:]PORT)\n",
				        cli_prog, argv[i]);
				free(addr);
				return 1;
			}
		} else if (strcmp(argv[i], "--quota") == 0 && i + 1 < argc) {
			cfg.quota = strtoull(argv[++i], &end, 10);
			if (*argv[i] == '\0' || *end != '\0' || cfg.quota == 0) {
				fprintf(stderr, "%s relay: bad --quota %s (want bytes)\n", cli_prog,
				        argv[i]);
				free(addr);
				return 1;
			}
		} else {
			fprintf(stderr, RELAY_USAGE, cli_prog, cli_prog, cli_prog);
			free(addr);
			return 1;
		}
	}
	if (port <= 0) {
		fprintf(stderr, "%s relay: --listen [ADDR:]PORT is needed\n", cli_prog);
		return 1;
	}
	cfg.listen_addr = addr;
	cfg.port = port;
	/* Errors before serving go to stderr: a relay that cannot start says so. */
	openlog("blazefs-relay", LOG_PID | LOG_PERROR, LOG_DAEMON);
	if ((running = relay_open(&cfg)) == NULL)
		goto out;
	if (!foreground) {
		pid_t pid = fork();
		int nul;

		if (pid < 0) {
			fprintf(stderr, "%s relay: %s\n", cli_prog, strerror(errno));
			goto out;
		}
		if (pid > 0) {
			printf("relay serving on %s:%d (pid %d)\n", addr ? addr : "*", port,
			       (int)pid);
			fflush(stdout);
			_exit(0);
		}
		if (setsid() < 0 || chdir("/") || (nul = open("/dev/null", O_RDWR)) < 0)
			goto out;
		dup2(nul, 0);
		dup2(nul, 1);
		dup2(nul, 2);
		if (nul > 2)
			close(nul);
		closelog();
		openlog("blazefs-relay", LOG_PID, LOG_DAEMON);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = relay_run(running) ? 1 : 0;
out:
	relay_close(running);
	running = NULL;
	free(addr);
	return rc;
}

/* Writes the relay into this device's .devices record, sealed and signed
 * like any membership change, so every member learns it. */
static int
remember(const char *db, const char *hostport, const uint8_t pub[32])
{
	struct journal_crypto jc, none = {NULL, NULL, NULL};
	struct journal *j;
	struct seal *s = NULL;
	char dev[DEVID_LEN + 1], hex[65], *buf = NULL, *text = NULL;
	const char *why = NULL;
	json_t *rec = NULL;
	size_t len;
	int rc = -1;

	if ((j = journal_open(db, 0)) == NULL)
		return -1;
	change_devid(journal_self(j), dev);
	sodium_bin2hex(hex, sizeof(hex), pub, 32);
	if (journal_read_record(j, ".devices", dev, &buf, &len) ||
	    (rec = json_loadb(buf, len, 0, NULL)) == NULL || (s = seal_load(db)) == NULL)
		goto out;
	json_object_set_new(rec, RELAYLINK_FIELD,
	                    json_pack("{s:s, s:s}", "address", hostport, "key", hex));
	if ((text = json_dumps(rec, JSON_SORT_KEYS)) == NULL)
		goto out;
	seal_hooks(s, &jc);
	journal_set_crypto(j, &jc);
	rc = journal_write_device(j, dev, text, &why) || journal_sync(j) ? -1 : 0;
	journal_set_crypto(j, &none);
	if (rc && why)
		fprintf(stderr, "%s relay add: %s\n", cli_prog, why);
out:
	seal_free(s);
	json_decref(rec);
	free(buf);
	free(text);
	journal_close(j);
	return rc;
}

static int
add(const char *db, const char *hostport)
{
	uint8_t pub[32];
	const char *why;
	char hex[65];

	if (relay_pair(db, hostport, pub, &why)) {
		fprintf(stderr, "%s relay add: %s: %s%s%s\n", cli_prog, hostport, why,
		        errno ? ": " : "", errno ? strerror(errno) : "");
		return 1;
	}
	if (remember(db, hostport, pub)) {
		fprintf(stderr, "%s relay add: paired, but cannot record the relay in %s: %s\n",
		        cli_prog, db, strerror(errno));
		return 1;
	}
	sodium_bin2hex(hex, sizeof(hex), pub, 32);
	printf("paired with the relay at %s (key %.16s...): every member dials it from now on\n",
	       hostport, hex);
	return 0;
}

int
cmd_relay(int argc, char **argv)
{
	uint8_t pub[32];
	char hex[65];

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc == 2 ? stdout : stderr, RELAY_USAGE, cli_prog, cli_prog, cli_prog);
		return argc == 2 ? 0 : 1;
	}
	if (sodium_init() < 0)
		return 1;
	if (strcmp(argv[1], "init") == 0 && argc == 3) {
		if (relay_init(argv[2]) || relay_public(argv[2], pub)) {
			fprintf(stderr, "%s relay init: %s: %s\n", cli_prog, argv[2],
			        errno == EEXIST ? "a relay is there already" : strerror(errno));
			return 1;
		}
		sodium_bin2hex(hex, sizeof(hex), pub, 32);
		printf("relay made in %s (key %s)\n", argv[2], hex);
		return 0;
	}
	if (strcmp(argv[1], "add") == 0 && argc == 4)
		return add(argv[2], argv[3]);
	if (argc >= 2 && argv[1][0] != '-' && strcmp(argv[1], "init") && strcmp(argv[1], "add"))
		return run(argc, argv);
	fprintf(stderr, RELAY_USAGE, cli_prog, cli_prog, cli_prog);
	return 1;
}
