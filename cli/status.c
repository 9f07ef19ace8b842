/*
 * blazefs status DB|MNT: this device, the database and, while a mount of DB
 * runs, its peers (net_status_load: what the mount's network thread last
 * reported), as one JSON object on stdout.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/journal.h"
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
static char *
db_of_mount(const char *mnt)
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

int
cmd_status(int argc, char **argv)
{
	char dev[DEVID_LEN + 1], hex[65], *name = NULL, *text, *conf;
	uint64_t ncols, nrecs, nconf;
	uint8_t dbid[32];
	struct vv v = {0, NULL};
	struct journal *j;
	json_t *o, *vo, *run, *c;
	const char *db;
	char *fromfs;
	void *val;
	size_t len;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: %s status DB|MNT\n", cli_prog);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	/* A mountpoint stands for the database mounted there. */
	fromfs = db_of_mount(argv[1]);
	db = fromfs ? fromfs : argv[1];
	/* Read-your-writes: a write whose close() returned may still be in the
	 * mount's batch for a millisecond or two. */
	if (journal_wait_settled(db, 2000))
		fprintf(stderr,
		        "%s status: DB/wal holds writes not committed yet (a full disk, or a crash "
		        "the next mount recovers from)\n",
		        cli_prog);
	if ((j = journal_open(db, JOURNAL_RDONLY)) == NULL) {
		fprintf(stderr, "%s status: %s: no blazefs database or mount there (%s)\n",
		        cli_prog, argv[1], strerror(errno));
		free(fromfs);
		return 1;
	}
	if (journal_counts(j, &ncols, &nrecs, &nconf) || journal_vv(j, &v)) {
		fprintf(stderr, "%s status: %s: %s\n", cli_prog, argv[1], strerror(errno));
		journal_close(j);
		free(fromfs);
		return 1;
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
	/* The members, with any device flagged for equivocating. */
	if ((c = journal_members_json(j)) != NULL)
		json_object_set_new(o, "devices", c);
	if ((run = net_status_load(db)) != NULL) {
		json_object_set(o, "listen", json_object_get(run, "listen"));
		json_object_set(o, "peers", json_object_get(run, "peers"));
		if (json_object_get(run, "discovered") != NULL)
			json_object_set(o, "discovered", json_object_get(run, "discovered"));
		if (json_object_get(run, "dialling") != NULL)
			json_object_set(o, "dialling", json_object_get(run, "dialling"));
		if (json_object_get(run, "clock") != NULL)
			json_object_set(o, "clock", json_object_get(run, "clock"));
		json_decref(run);
	}
	/* Not mounted (or an older mount): what the journal knows of clocks. */
	if (json_object_get(o, "clock") == NULL && (c = journal_clock_json(j)) != NULL)
		json_object_set_new(o, "clock", c);
	json_object_set_new(o, "mounted", json_boolean(run != NULL));
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	printf("%s\n", text ? text : "{}");
	free(text);
	json_decref(o);
	free(name);
	vv_clear(&v);
	journal_close(j);
	free(fromfs);
	return 0;
}
