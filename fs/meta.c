/*
 * meta: the read-only files of .blazefs/.  status and conflicts and errors
 * come from the journal; peers and the pending count from the status source
 * the owner of the mount set (fs_set_status_source): fs/ knows nothing of the
 * network but what it says.  Each text is made whole at open (and at
 * getattr, for its size).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "core/change.h"
#include "core/journal.h"
#include "fs/fs_int.h"

static const char *const meta_names[] = {"conflicts", "errors", "peers", "status"};

/* A snapshot of the network's state (a new reference), or NULL if there is
 * no network: fs/ knows nothing of it but what its status source says. */
static json_t *
meta_net(struct fs *fs)
{
	return fs->status ? fs->status(fs->status_ctx) : NULL;
}

static char *
meta_peers(struct fs *fs)
{
	json_t *o = meta_net(fs), *p = o ? json_object_get(o, "peers") : NULL;
	char *s = p ? json_dumps(p, JSON_INDENT(2) | JSON_SORT_KEYS) : strdup("[]");

	json_decref(o);
	return s;
}

/* The version vector as {devid: seq}.  A new reference, or NULL. */
static json_t *
meta_vv(struct fs *fs)
{
	struct vv v = {0};
	json_t *o;

	if (journal_vv_read(fs->j, &v))
		return NULL;
	if ((o = json_object()) == NULL)
		goto err0;
	for (size_t i = 0; i < v.n; i++) {
		char d[DEVID_LEN + 1];

		change_devid(v.e[i].origin, d);
		if (json_object_set_new(o, d, json_integer((json_int_t)v.e[i].seq)))
			goto err1;
	}
	vv_clear(&v);
	return o;
err1:
	json_decref(o);
err0:
	vv_clear(&v);
	errno = ENOMEM;
	return NULL;
}

/* What is known of skewed clocks: the network's view (which holds the
 * journal's) or, without a network, the journal's.  A new reference. */
static json_t *
meta_clock(struct fs *fs)
{
	json_t *net = meta_net(fs), *c = net ? json_object_get(net, "clock") : NULL;

	if (c != NULL)
		json_incref(c);
	json_decref(net);
	return c ? c : journal_clock_json(fs->j);
}

/* Appends {"device"?, "error"} to a. */
static void
meta_error(json_t *a, const char *dev, const char *fmt, long long x)
{
	char why[200];
	json_t *e = json_object();

	snprintf(why, sizeof(why), fmt, x);
	if (dev != NULL)
		json_object_set_new(e, "device", json_string(dev));
	json_object_set_new(e, "error", json_string(why));
	json_array_append_new(a, e);
}

/* The rejected writes, then the clocks found skewed (by more than the
 * bound: HLC_MAX_DRIFT_MS), as a JSON text. */
static char *
meta_errors(struct fs *fs)
{
	char *s = journal_rejects_json(fs->j);
	json_t *a, *c, *e;
	size_t i;
	long long ms;

	if (s == NULL || (c = meta_clock(fs)) == NULL)
		return s;
	a = json_loads(s, 0, NULL);
	free(s);
	if (a == NULL) {
		json_decref(c);
		errno = ENOMEM;
		return NULL;
	}
	if ((ms = json_integer_value(json_object_get(c, "offset_ms"))) != 0)
		meta_error(a, NULL,
		           "this device's clock is %lld s ahead of every peer's: its changes are "
		           "stamped that far back",
		           ms / 1000);
	if ((ms = json_integer_value(json_object_get(c, "saved_clock_dropped_ms"))) != 0)
		meta_error(a, NULL,
		           "the clock saved here was %lld s ahead of this device's wall clock: "
		           "not carried forward",
		           ms / 1000);
	json_array_foreach (json_object_get(c, "skewed_peers"), i, e) {
		ms = json_integer_value(json_object_get(e, "skew_ms"));
		meta_error(a, json_string_value(json_object_get(e, "device")),
		           ms > 0 ? "its clock is %lld s ahead of this device's"
		                  : "its clock is %lld s behind this device's",
		           (ms < 0 ? -ms : ms) / 1000);
	}
	json_array_foreach (json_object_get(c, "changes_ahead"), i, e)
		meta_error(a, json_string_value(json_object_get(e, "device")),
		           "its changes came with a clock %lld s ahead of this device's",
		           json_integer_value(json_object_get(e, "ahead_ms")) / 1000);
	json_decref(c);
	if ((s = json_dumps(a, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		errno = ENOMEM;
	json_decref(a);
	return s;
}

static char *
meta_status(struct fs *fs)
{
	char dev[DEVID_LEN + 1], hex[65];
	uint8_t dbid[32];
	uint64_t ncols = 0, nrecs = 0, nconf = 0;
	json_t *o, *vvo, *net, *clock;
	/* Changes some connected peer still lacks (the network counts them). */
	json_int_t pending;
	void *name = NULL;
	size_t namelen = 0;
	char *s;

	change_devid(journal_self(fs->j), dev);
	journal_dbid(fs->j, dbid);
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", dbid[i]);
	if (journal_counts(fs->j, &ncols, &nrecs, &nconf) || (vvo = meta_vv(fs)) == NULL)
		return NULL;
	if (journal_meta_get(fs->j, "name", &name, &namelen))
		name = NULL;
	net = meta_net(fs);
	pending = net ? json_integer_value(json_object_get(net, "pending")) : 0;
	json_decref(net);
	clock = meta_clock(fs);
	/* "o" hands vvo over to o, even when the pack fails. */
	o = json_pack("{s:s, s:s%, s:s, s:I, s:I, s:I, s:o, s:I}", "device", dev, "name",
	              name ? (char *)name : "", name ? namelen : 0, "database", hex, "collections",
	              (json_int_t)ncols, "records", (json_int_t)nrecs, "conflicts",
	              (json_int_t)nconf, "version_vector", vvo, "pending", pending);
	free(name);
	if (o == NULL) {
		json_decref(clock);
		errno = ENOMEM;
		return NULL;
	}
	if (clock != NULL)
		json_object_set_new(o, "clock", clock);
	if ((s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS)) == NULL)
		errno = ENOMEM;
	json_decref(o);
	return s;
}

int
fs_meta_text(struct fs *fs, const char *name, char **text, size_t *len)
{
	char *s, *t;

	if (strcmp(name, "status") == 0)
		s = meta_status(fs);
	else if (strcmp(name, "conflicts") == 0)
		s = journal_conflicts_json(fs->j, NULL, NULL);
	else if (strcmp(name, "errors") == 0)
		s = meta_errors(fs);
	else if (strcmp(name, "peers") == 0)
		s = meta_peers(fs);
	else
		return ENOENT;
	if (s == NULL)
		return errno ? errno : EIO;
	*len = strlen(s);
	if ((t = realloc(s, *len + 2)) == NULL) {
		free(s);
		return ENOMEM;
	}
	t[(*len)++] = '\n';
	t[*len] = '\0';
	*text = t;
	return 0;
}

int
fs_meta_is_name(const char *name)
{
	for (size_t i = 0; i < sizeof(meta_names) / sizeof(meta_names[0]); i++)
		if (strcmp(name, meta_names[i]) == 0)
			return 1;
	return 0;
}

const char *
fs_meta_name(size_t i)
{
	return i < sizeof(meta_names) / sizeof(meta_names[0]) ? meta_names[i] : NULL;
}
