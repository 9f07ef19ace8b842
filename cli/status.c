/*
 * blazefs status [--json] [--watch] DB|MNT: this device, the database, every
 * member and, while a mount of DB runs, its peers (net_status_load: what the
 * mount's network thread last reported).  Text in the manner of `wg show` by
 * default, one JSON object with --json; --watch redraws the text every
 * second, with the catch-up's progress, rate and time left.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/journal.h"
#include "core/mode.h"
#include "net/msg.h"
#include "net/net.h"

/* Undoes the octal escapes of /proc mount tables in place. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

/*
 * The database behind mountpoint mnt, from /proc/self/mountinfo, where mount
 * names its source "blazefs:DB" (with "\\ooo" escapes); NULL if mnt is not
 * a blazefs mount.  The result is malloc'd.
 */
char *
cli_db_of_mount(const char *mnt)
{
	char real[PATH_MAX], *line = NULL, *db = NULL;
	size_t cap = 0;
	FILE *f;

	if (realpath(mnt, real) == NULL || (f = fopen("/proc/self/mountinfo", "r")) == NULL)
		return NULL;
	while (db == NULL && getline(&line, &cap, f) > 0) {
		char point[PATH_MAX], type[64], src[PATH_MAX];

		/* id parent maj:min root point opts... - type source superopts */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    strstr(line, " - ") == NULL ||
		    sscanf(strstr(line, " - "), " - %63s %4095s", type, src) != 2)
			continue;
		if (strcmp(type, "fuse.blazefs") != 0 || strncmp(src, "blazefs:", 8) != 0)
			continue;
		unescape(point);
		if (strcmp(point, real) == 0) {
			unescape(src);
			db = strdup(src + 8);
		}
	}
	free(line);
	fclose(f);
	return db;
}

static const char *str(const json_t *o, const char *key);

/* How many of our changes member m lacked when last in session here (meta
 * "acked/<dev>", kept by the network) plus all made since: -1 if unknown. */
static json_int_t
lag_since_seen(struct journal *j, const struct vv *mine, const char *dev)
{
	char key[8 + DEVID_LEN];
	struct vv had = {0, NULL};
	json_int_t n = 0;
	void *val;
	size_t len;
	int rc;

	snprintf(key, sizeof(key), "acked/%s", dev);
	if (journal_meta_get(j, key, &val, &len))
		return -1;
	rc = msg_ack_decode(val, len, &had);
	free(val);
	if (rc)
		return -1;
	for (size_t i = 0; i < mine->n; i++)
		if (mine->e[i].seq > vv_get(&had, mine->e[i].origin))
			n += (json_int_t)(mine->e[i].seq - vv_get(&had, mine->e[i].origin));
	vv_clear(&had);
	return n;
}

/* Everything status shows, as one JSON object; NULL (after a message). */
static json_t *
build(const char *db, const char *arg)
{
	char dev[DEVID_LEN + 1], hex[65], *name = NULL, *conf;
	uint64_t ncols, nrecs, nconf;
	uint8_t dbid[32];
	struct vv v = {0, NULL};
	struct journal *j;
	json_t *o, *vo, *run, *c;
	void *val;
	size_t len;

	/* Read-your-writes: a write whose close() returned may still be in the
	 * mount's batch for a millisecond or two. */
	if (journal_wait_settled(db, 2000))
		fprintf(stderr,
		        "%s status: DB/wal holds writes not committed yet (a full disk, or a crash "
		        "the next mount recovers from)\n",
		        cli_prog);
	if ((j = journal_open(db, JOURNAL_RDONLY)) == NULL) {
		fprintf(stderr, "%s status: %s: no blazefs database or mount there (%s)\n",
		        cli_prog, arg, strerror(errno));
		return NULL;
	}
	if (journal_counts(j, &ncols, &nrecs, &nconf) || journal_vv(j, &v)) {
		fprintf(stderr, "%s status: %s: %s\n", cli_prog, arg, strerror(errno));
		journal_close(j);
		return NULL;
	}
	if (journal_meta_get(j, "name", &val, &len) == 0) {
		name = strndup(val, len);
		free(val);
	}
	change_devid(journal_self(j), dev);
	journal_dbid(j, dbid);
	sodium_bin2hex(hex, sizeof(hex), dbid, 32);
	vo = json_object();
	for (size_t i = 0; i < v.n; i++) {
		char d[DEVID_LEN + 1];

		change_devid(v.e[i].origin, d);
		json_object_set_new(vo, d, json_integer((json_int_t)v.e[i].seq));
	}
	o = json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:o}", "device", dev, "name",
	              name ? name : "", "database", hex, "collections", (json_int_t)ncols,
	              "records", (json_int_t)nrecs, "conflicts", (json_int_t)nconf,
	              "version_vector", vo);
	if ((conf = journal_conflicts_json(j, NULL, NULL)) != NULL) {
		if ((c = json_loads(conf, 0, NULL)) != NULL)
			json_object_set_new(o, "conflict_list", c);
		free(conf);
	}
	json_object_set_new(o, "path", json_string(db));
	/* The sync mode (blazefs mode), a setting of this copy alone. */
	json_object_set_new(o, "mode", json_string(mode_name(mode_get(j))));
	/* The members, with any device flagged for equivocating. */
	if ((c = journal_members_json(j)) != NULL) {
		json_t *m;
		size_t i;

		/* What each lacked at its last session and what was made since:
		 * how far an offline device will have to catch up. */
		json_array_foreach (c, i, m) {
			json_int_t lag = lag_since_seen(j, &v, str(m, "device"));

			if (lag >= 0)
				json_object_set_new(m, "lacks_since_seen", json_integer(lag));
		}
		json_object_set_new(o, "devices", c);
	}
	if ((run = net_status_load(db)) != NULL) {
		static const char *keys[] = {"listen", "peers",  "discovered", "dialling",
		                             "clock",  "relays", "ignored"};

		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (json_object_get(run, keys[i]) != NULL)
				json_object_set(o, keys[i], json_object_get(run, keys[i]));
		json_object_set(o, "pid", json_object_get(run, "pid"));
		json_decref(run);
	}
	/* Not mounted (or an older mount): what the journal knows of clocks. */
	if (json_object_get(o, "clock") == NULL && (c = journal_clock_json(j)) != NULL)
		json_object_set_new(o, "clock", c);
	json_object_set_new(o, "mounted", json_boolean(run != NULL));
	free(name);
	vv_clear(&v);
	journal_close(j);
	return o;
}

static const char *
str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

static long long
num(const json_t *o, const char *key)
{
	return (long long)json_integer_value(json_object_get(o, key));
}

/* "12 s ago", "3 min ago", or a date; "never" for 0. */
static void
ago(char *out, size_t len, long long ms)
{
	long long s = (long long)time(NULL) - ms / 1000;
	time_t t = (time_t)(ms / 1000);

	if (ms <= 0)
		snprintf(out, len, "never");
	else if (s < 120)
		snprintf(out, len, "%lld s ago", s < 0 ? 0 : s);
	else if (s < 7200)
		snprintf(out, len, "%lld min ago", s / 60);
	else
		strftime(out, len, "%Y-%m-%d %H:%M", localtime(&t));
}

/* The session with member dev, if any. */
static const json_t *
peer_of(const json_t *o, const char *dev)
{
	const json_t *p;
	size_t i;

	json_array_foreach (json_object_get(o, "peers"), i, p)
		if (strcmp(str(p, "device"), dev) == 0 && strcmp(str(p, "state"), "syncing") == 0)
			return p;
	return NULL;
}

/* The catch-up line of a peer we lack changes from (watch: with a bar). */
static void
progress(const json_t *p, int watch)
{
	long long lacking = num(p, "lacking"), got = num(p, "changes_received");
	long long bytes = num(p, "bytes_received"), rate = num(p, "rate_received"), total;
	char bar[33];
	int fill;

	total = got + lacking;
	if (lacking == 0 || total == 0)
		return;
	fill = (int)(32 * (total - lacking) / total);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(32 - fill));
	bar[32] = '\0';
	printf("    catching up: %lld of %lld changes", total - lacking, total);
	/* Bytes to come are estimated from the changes' mean size so far. */
	if (got > 0 && bytes > 0)
		printf(" (%.1f of ~%.1f MB)", (double)bytes / 1e6,
		       (double)bytes / 1e6 * (double)total / (double)got);
	if (watch)
		printf(" [%s]", bar);
	if (rate > 0)
		printf(", %lld/s, %lld s left", rate, (lacking + rate - 1) / rate);
	else if (json_object_get(p, "rate_received") != NULL)
		printf(", stalled");
	printf("\n");
}

/* The text form, in the manner of `wg show`. */
static void
print_text(const json_t *o, int watch)
{
	const json_t *m, *p, *conf = json_object_get(o, "clock");
	char when[32];
	size_t i;

	printf("database %.16s…  %s\n", str(o, "database"), str(o, "path"));
	if (json_is_true(json_object_get(o, "mounted")))
		printf("  mounted: yes (pid %lld), listening on %s\n", num(o, "pid"),
		       str(o, "listen"));
	else
		printf("  mounted: no\n");
	printf("  records: %lld in %lld collections; conflicts: %lld\n", num(o, "records"),
	       num(o, "collections"), num(o, "conflicts"));
	printf("  sync mode: %s", str(o, "mode"));
	if (strcmp(str(o, "mode"), "send-only") == 0)
		printf(" (others' changes are not applied here; ignoring %lld)", num(o, "ignored"));
	else if (strcmp(str(o, "mode"), "receive-only") == 0)
		printf(" (read-only mount; nothing made here is sent)");
	printf("\n");
	if (conf != NULL && num(conf, "offset_ms") != 0)
		printf("  clock: stamped %lld s behind the wall (ahead of every peer)\n",
		       num(conf, "offset_ms") / 1000);
	json_array_foreach (json_object_get(o, "devices"), i, m) {
		const char *dev = str(m, "device");
		int self = strcmp(dev, str(o, "device")) == 0;

		printf("\n%s: %s (%s)%s\n", self ? "this device" : "device", str(m, "name"), dev,
		       json_is_true(json_object_get(m, "removed"))       ? ", REMOVED"
		       : json_is_true(json_object_get(m, "equivocated")) ? ", FLAGGED: signed two "
		                                                           "different changes"
		                                                         : "");
		printf("  role: %s, priority %lld\n", str(m, "role"), num(m, "priority"));
		if (self)
			continue;
		if ((p = peer_of(o, dev)) != NULL) {
			printf("  connected: %s (%s, %s), suite %s\n", str(p, "address"),
			       strcmp(str(p, "direction"), "out") ? "it dialled" : "we dialled",
			       str(p, "source"), str(p, "suite"));
			printf("  it lacks %lld changes; we lack %lld; %lld sent, %lld received\n",
			       num(p, "pending"), num(p, "lacking"), num(p, "changes_sent"),
			       num(p, "changes_received"));
			progress(p, watch);
		} else {
			ago(when, sizeof(when), num(m, "last_seen_ms"));
			printf("  offline: last seen %s", when);
			if (json_object_get(m, "lacks_since_seen") != NULL)
				printf("; lacks %lld changes (what it lacked then and all since)",
				       num(m, "lacks_since_seen"));
			printf("\n");
		}
	}
	if (json_array_size(json_object_get(o, "dialling")) > 0) {
		printf("\ndialling:");
		json_array_foreach (json_object_get(o, "dialling"), i, p)
			printf(" %s:%s (%s%s)", str(p, "address"), str(p, "port"), str(p, "source"),
			       json_is_true(json_object_get(p, "connected")) ? ", connected" : "");
		printf("\n");
	}
	if (json_array_size(json_object_get(o, "relays")) > 0) {
		printf("\nrelays:");
		json_array_foreach (json_object_get(o, "relays"), i, p)
			printf(" %s (%s)", str(p, "address"),
			       json_is_true(json_object_get(p, "connected")) ? "connected"
			                                                     : "not connected");
		printf("\n");
	}
}

static volatile sig_atomic_t stop_watch;

static void
on_signal(int sig)
{
	(void)sig;
	stop_watch = 1;
}

int
cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {{"json", no_argument, NULL, 'j'},
	                                     {"watch", no_argument, NULL, 'w'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	int c, as_json = 0, watch = 0, rc = 1;
	char *fromfs, *text;
	const char *db;
	json_t *o;

	optind = 1;
	while ((c = getopt_long(argc, argv, "jwh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			as_json = 1;
			break;
		case 'w':
			watch = 1;
			break;
		case 'h':
			printf("Usage: %s status [--json] [--watch] DB|MNT\n", cli_prog);
			return 0;
		default:
			fprintf(stderr, "Usage: %s status [--json] [--watch] DB|MNT\n", cli_prog);
			return 1;
		}
	}
	if (optind != argc - 1 || (as_json && watch)) {
		fprintf(stderr, "Usage: %s status [--json] [--watch] DB|MNT\n", cli_prog);
		return 1;
	}
	/* A mountpoint stands for the database mounted there. */
	fromfs = cli_db_of_mount(argv[optind]);
	db = fromfs ? fromfs : argv[optind];
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	do {
		if ((o = build(db, argv[optind])) == NULL) {
			rc = 1;
			break;
		}
		if (as_json) {
			text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
			printf("%s\n", text ? text : "{}");
			free(text);
		} else {
			/* A terminal redraws in place; a pipe gets one screen after another. */
			if (watch && isatty(STDOUT_FILENO))
				printf("\033[H\033[J");
			print_text(o, watch);
		}
		fflush(stdout);
		json_decref(o);
		rc = 0;
	} while (watch && !stop_watch && sleep(1) == 0 && !stop_watch);
	free(fromfs);
	return rc;
}
