/*
 * The history and the conflicts of a database, on the command line:
 *   blazefs log DB|MNT [COLLECTION[/ID]] [--json]   who changed what, newest first
 *   blazefs export DB|MNT                           every record, one JSON line each
 *                                                   (an empty collection: its name)
 *   blazefs import DB|MNT                           the lines of an export, as local writes
 *   blazefs conflicts DB|MNT [--json]               the fields holding concurrent values
 *   blazefs resolve MNT/COLL/ID.json FIELD --keep DEVICE | --value JSON
 * Changes are sealed (net/seal.h), so reading the history opens them with
 * this device's content keys; writes (import, resolve) are sealed and signed
 * like the mount's, and a running mount sends them on from the journal within
 * its next tick (it pumps every 100 ms), as it does the devices command's.
 */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <sodium.h>

#include "cli/cli.h"
#include "core/change.h"
#include "core/hlc.h"
#include "core/journal.h"
#include "core/record.h"
#include "net/seal.h"

/* Opens the database at (or mounted at) arg; *db is the database's path
 * (malloc'd).  Readers wait for a mount's pending batch (read-your-writes).
 * NULL with the error printed. */
static struct journal *
open_db(const char *cmd, const char *arg, int flags, char **db)
{
	struct journal *j;

	if ((*db = cli_db_of_mount(arg)) == NULL && (*db = strdup(arg)) == NULL)
		return NULL;
	if ((flags & JOURNAL_RDONLY) && journal_wait_settled(*db, 2000))
		fprintf(stderr, "%s %s: DB/wal holds writes not committed yet\n", cli_prog, cmd);
	if ((j = journal_open(*db, flags)) == NULL) {
		fprintf(stderr, "%s %s: %s: no blazefs database or mount there (%s)\n", cli_prog,
		        cmd, arg, strerror(errno));
		free(*db);
		*db = NULL;
	}
	return j;
}

/* The members' names by device id (a new object; empty if unreadable). */
static json_t *
device_names(struct journal *j)
{
	json_t *a = journal_members_json(j), *names = json_object(), *m;
	size_t i;

	json_array_foreach (a, i, m)
		json_object_set(names, json_string_value(json_object_get(m, "device")),
		                json_object_get(m, "name"));
	json_decref(a);
	return names;
}

static const char *
name_of(json_t *names, const char *dev)
{
	const char *n = json_string_value(json_object_get(names, dev));

	return n && *n ? n : "?";
}

/* A clock as local time. */
static void
when(uint64_t hlc, char *out, size_t n)
{
	time_t t = (time_t)(hlc_ms(hlc) / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || strftime(out, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, n, "%llu", (unsigned long long)hlc_ms(hlc));
}

/* ---- log ---- */

struct history {
	struct change **c; /* by (origin, seq): journal order */
	size_t n, cap;
};

static int
cid_cmp(const void *a, const void *b)
{
	const struct change *x = *(struct change *const *)a, *y = *(struct change *const *)b;

	if (x->origin != y->origin)
		return x->origin < y->origin ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int
newest_first(const void *a, const void *b)
{
	const struct change *x = *(struct change *const *)a, *y = *(struct change *const *)b;

	if (x->hlc != y->hlc)
		return x->hlc > y->hlc ? -1 : 1;
	return -cid_cmp(a, b);
}

/* Reads and opens every change the journal holds. */
static int
history_load(struct journal *j, struct seal *s, struct history *h)
{
	struct vv v = {0, NULL};
	uint8_t *blob, *enc;
	size_t len, elen;
	struct change *c;
	int rc = 0;

	if (journal_vv(j, &v))
		return -1;
	for (size_t i = 0; i < v.n && rc == 0; i++)
		for (uint64_t seq = 1; seq <= v.e[i].seq && rc == 0; seq++) {
			if (journal_get_change(j, v.e[i].origin, seq, &blob, &len))
				continue; /* not kept */
			enc = blob;
			elen = len;
			/* Sealed with a key this device lacks: not readable here. */
			if (s != NULL && seal_open(s, blob, len, &enc, &elen)) {
				free(blob);
				continue;
			}
			if (change_decode(enc, elen, &c) == 0) {
				if (h->n == h->cap) {
					size_t cap = h->cap ? 2 * h->cap : 256;
					struct change **p = realloc(h->c, cap * sizeof(*p));

					if (p == NULL) {
						change_free(c);
						rc = -1;
					} else {
						h->c = p;
						h->cap = cap;
					}
				}
				if (rc == 0)
					h->c[h->n++] = c;
			}
			if (enc != blob)
				free(enc);
			free(blob);
		}
	vv_clear(&v);
	return rc;
}

static int
same(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The values op replaced: those its `over` changes set in the same register. */
static json_t *
old_values(const struct history *h, const struct op *op)
{
	json_t *old = json_array();

	for (size_t i = 0; i < op->nover; i++) {
		struct change key = {op->over[i].origin, op->over[i].seq, 0, 0, NULL}, *kp = &key;
		struct change **hit = bsearch(&kp, h->c, h->n, sizeof(*h->c), cid_cmp);

		if (hit == NULL)
			continue;
		for (size_t k = 0; k < (*hit)->nops; k++) {
			const struct op *o = &(*hit)->ops[k];

			if (o->kind == OP_SET && same(o->coll, op->coll) && same(o->rec, op->rec) &&
			    same(o->field, op->field))
				json_array_append_new(
				    old, record_value_parse(o->value, strlen(o->value)));
		}
	}
	return old;
}

static int
op_matches(const struct op *op, const char *coll, const char *rec)
{
	if (coll == NULL) /* everything but the internal collections */
		return op->coll[0] != '.';
	return strcmp(op->coll, coll) == 0 && (rec == NULL || strcmp(op->rec, rec) == 0);
}

static json_t *
op_json(const struct history *h, const struct op *op)
{
	json_t *o = json_object();

	json_object_set_new(o, "collection", json_string(op->coll));
	json_object_set_new(o, "record", json_string(op->rec));
	json_object_set_new(o, "field", op->field ? json_string(op->field) : json_null());
	json_object_set_new(o, "op", json_string(op->kind == OP_SET ? "set" : "delete"));
	json_object_set_new(o, "value",
	                    op->kind == OP_SET ? record_value_parse(op->value, strlen(op->value))
	                                       : json_null());
	json_object_set_new(o, "old", old_values(h, op));
	return o;
}

static void
print_values(json_t *a)
{
	size_t i;
	json_t *v;

	if (json_array_size(a) == 0)
		printf("(none)");
	json_array_foreach (a, i, v) {
		char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);

		printf("%s%s", i ? " | " : "", t ? t : "?");
		free(t);
	}
}

/* One op in words: "  c/r  field: old -> new". */
static void
print_op(json_t *o)
{
	const char *coll = json_string_value(json_object_get(o, "collection"));
	const char *rec = json_string_value(json_object_get(o, "record"));
	const char *field = json_string_value(json_object_get(o, "field"));
	int set = strcmp(json_string_value(json_object_get(o, "op")), "set") == 0;
	char *v;

	if (*rec == '\0') {
		printf("    %s/  collection %s\n", coll, set ? "created" : "removed");
		return;
	}
	if (field == NULL) {
		if (set && json_array_size(json_object_get(o, "old")) > 0)
			return; /* a record kept in existence: nothing to tell */
		printf("    %s/%s  record %s\n", coll, rec, set ? "created" : "deleted");
		return;
	}
	printf("    %s/%s  %s: ", coll, rec, field);
	print_values(json_object_get(o, "old"));
	printf(" -> ");
	if (!set) {
		printf("(removed)\n");
		return;
	}
	v = json_dumps(json_object_get(o, "value"),
	               JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
	printf("%s\n", v ? v : "?");
	free(v);
}

static int
cmd_log(int argc, char **argv)
{
	const char *where = NULL, *dbarg = NULL;
	char *coll = NULL, *rec = NULL, *db = NULL, *text;
	struct history h = {NULL, 0, 0};
	struct journal *j;
	struct seal *s;
	json_t *names, *out;
	int as_json = 0, rc = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			as_json = 1;
		else if (argv[i][0] == '-' || (dbarg && where)) {
			fprintf(stderr, "Usage: %s log DB|MNT [COLLECTION[/ID]] [--json]\n",
			        cli_prog);
			return strcmp(argv[i], "--help") == 0 ? 0 : 1;
		} else if (dbarg == NULL)
			dbarg = argv[i];
		else
			where = argv[i];
	}
	if (dbarg == NULL) {
		fprintf(stderr, "Usage: %s log DB|MNT [COLLECTION[/ID]] [--json]\n", cli_prog);
		return 1;
	}
	if (where != NULL) {
		coll = strdup(where);
		if (coll != NULL && (rec = strchr(coll, '/')) != NULL) {
			*rec++ = '\0';
			if (*rec == '\0')
				rec = NULL;
			else if (strlen(rec) > 5 && strcmp(rec + strlen(rec) - 5, ".json") == 0)
				rec[strlen(rec) - 5] = '\0'; /* a file name stands for its id */
		}
	}
	if (sodium_init() < 0 || (j = open_db("log", dbarg, JOURNAL_RDONLY, &db)) == NULL) {
		free(coll);
		return 1;
	}
	/* Without keys (a database being joined) the changes stay sealed. */
	s = seal_load(db);
	if (history_load(j, s, &h)) {
		fprintf(stderr, "%s log: %s: %s\n", cli_prog, dbarg, strerror(errno));
		goto out;
	}
	names = device_names(j);
	out = json_array();
	/* The values replaced are looked up by id: sort by id, then by time. */
	qsort(h.c, h.n, sizeof(*h.c), cid_cmp);
	{
		struct change **order = malloc((h.n ? h.n : 1) * sizeof(*order));

		if (order == NULL) {
			json_decref(out);
			goto out_names;
		}
		memcpy(order, h.c, h.n * sizeof(*order));
		qsort(order, h.n, sizeof(*order), newest_first);
		for (size_t i = 0; i < h.n; i++) {
			struct change *c = order[i];
			char dev[DEVID_LEN + 1], t[64];
			json_t *ops = json_array(), *e;

			for (size_t k = 0; k < c->nops; k++)
				if (op_matches(&c->ops[k], coll, rec))
					json_array_append_new(ops, op_json(&h, &c->ops[k]));
			if (json_array_size(ops) == 0) {
				json_decref(ops);
				continue;
			}
			change_devid(c->origin, dev);
			when(c->hlc, t, sizeof(t));
			e = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:o}", "device", dev, "name",
			              name_of(names, dev), "seq", (json_int_t)c->seq, "hlc",
			              (json_int_t)c->hlc, "time_ms", (json_int_t)hlc_ms(c->hlc),
			              "time", t, "ops", ops);
			json_array_append_new(out, e);
		}
		free(order);
	}
	if (as_json) {
		text = json_dumps(out, JSON_INDENT(2));
		printf("%s\n", text ? text : "[]");
		free(text);
	} else {
		size_t i, k;
		json_t *e, *o;

		json_array_foreach (out, i, e) {
			printf("%s  %s (%s)  #%lld\n",
			       json_string_value(json_object_get(e, "time")),
			       json_string_value(json_object_get(e, "name")),
			       json_string_value(json_object_get(e, "device")),
			       (long long)json_integer_value(json_object_get(e, "seq")));
			json_array_foreach (json_object_get(e, "ops"), k, o)
				print_op(o);
		}
	}
	rc = 0;
	json_decref(out);
out_names:
	json_decref(names);
out:
	for (size_t i = 0; i < h.n; i++)
		change_free(h.c[i]);
	free(h.c);
	seal_free(s);
	journal_close(j);
	free(db);
	free(coll);
	return rc;
}

/* ---- export / import ---- */

struct names {
	char **v;
	size_t n;
};

static int
collect(void *ctx, const char *name)
{
	struct names *a = ctx;
	char **p = realloc(a->v, (a->n + 1) * sizeof(*p));

	if (p == NULL)
		return 1;
	a->v = p;
	if ((a->v[a->n] = strdup(name)) == NULL)
		return 1;
	a->n++;
	return 0;
}

static void
names_free(struct names *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	a->v = NULL;
	a->n = 0;
}

static int
cmd_export(int argc, char **argv)
{
	struct names cols = {NULL, 0}, recs = {NULL, 0};
	struct journal *j;
	char *db = NULL;
	int rc = 0;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: %s export DB|MNT > dump.jsonl\n", cli_prog);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	if ((j = open_db("export", argv[1], JOURNAL_RDONLY, &db)) == NULL)
		return 1;
	if (journal_list_cols(j, "", collect, &cols))
		rc = 1;
	for (size_t c = 0; c < cols.n && rc == 0; c++) {
		if (cols.v[c][0] == '.') /* internal: membership is not content */
			continue;
		if (journal_list_records(j, cols.v[c], "", collect, &recs))
			rc = 1;
		/* An empty collection is a directory too: a line of its own. */
		if (rc == 0 && recs.n == 0) {
			json_t *o = json_pack("{s:s}", "collection", cols.v[c]);
			char *line = o ? record_value_text(o) : NULL;

			if (line == NULL)
				rc = 1;
			else
				printf("%s\n", line);
			free(line);
			json_decref(o);
		}
		for (size_t r = 0; r < recs.n && rc == 0; r++) {
			const char *why;
			char *buf, *line;
			size_t len;
			json_t *obj, *o;

			if (journal_read_record(j, cols.v[c], recs.v[r], &buf, &len)) {
				rc = 1;
				break;
			}
			/* The state the stored bytes parse to, in canonical form. */
			obj = record_parse(buf, len, &why);
			free(buf);
			if (obj == NULL) {
				fprintf(stderr, "%s export: %s/%s: %s\n", cli_prog, cols.v[c],
				        recs.v[r], why);
				rc = 1;
				break;
			}
			o = json_pack("{s:s, s:s, s:o}", "collection", cols.v[c], "id", recs.v[r],
			              "record", obj);
			if ((line = record_value_text(o)) == NULL)
				rc = 1;
			else
				printf("%s\n", line);
			free(line);
			json_decref(o);
		}
		names_free(&recs);
	}
	if (rc)
		fprintf(stderr, "%s export: %s: %s\n", cli_prog, argv[1], strerror(errno));
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "%s export: writing: %s\n", cli_prog, strerror(errno));
		rc = 1;
	}
	names_free(&cols);
	journal_close(j);
	free(db);
	return rc;
}

/* The writable journal at arg with this device's seal hooks installed. */
static struct journal *
open_sealed(const char *cmd, const char *arg, struct seal **s, char **db)
{
	struct journal_crypto jc;
	struct journal *j;

	if (sodium_init() < 0 || (j = open_db(cmd, arg, 0, db)) == NULL)
		return NULL;
	if ((*s = seal_load(*db)) == NULL) {
		fprintf(stderr, "%s %s: %s: cannot load the content keys (%s)\n", cli_prog, cmd,
		        *db, strerror(errno));
		journal_close(j);
		free(*db);
		return NULL;
	}
	seal_hooks(*s, &jc);
	journal_set_crypto(j, &jc);
	return j;
}

static void
close_sealed(struct journal *j, struct seal *s)
{
	struct journal_crypto none = {NULL, NULL, NULL};

	journal_set_crypto(j, &none);
	journal_close(j);
	seal_free(s);
}

static int
cmd_import(int argc, char **argv)
{
	char *line = NULL, *buf, *db = NULL;
	size_t cap = 0, len;
	unsigned long lineno = 0, done = 0, bad = 0;
	struct journal *j;
	struct seal *s;
	ssize_t n;

	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "Usage: %s import DB|MNT < dump.jsonl\n", cli_prog);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	if ((j = open_sealed("import", argv[1], &s, &db)) == NULL)
		return 1;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		const char *why = NULL, *coll, *id;
		json_error_t err;
		json_t *o, *rec;

		lineno++;
		if (strspn(line, " \t\r\n") == (size_t)n)
			continue;
		if ((o = json_loads(line, 0, &err)) == NULL) {
			fprintf(stderr, "%s import: line %lu: not JSON: %s\n", cli_prog, lineno,
			        err.text);
			bad++;
			continue;
		}
		coll = json_string_value(json_object_get(o, "collection"));
		id = json_string_value(json_object_get(o, "id"));
		rec = json_object_get(o, "record");
		if (coll != NULL && json_object_size(o) == 1) {
			/* An empty collection. */
			if (journal_mkcol(j, coll) && errno != EEXIST) {
				fprintf(stderr, "%s import: line %lu: %s: %s\n", cli_prog, lineno,
				        coll, strerror(errno));
				bad++;
			}
		} else if (coll == NULL || id == NULL || !json_is_object(rec)) {
			fprintf(stderr,
			        "%s import: line %lu: not {\"collection\", \"id\", \"record\": "
			        "{...}} nor {\"collection\"}\n",
			        cli_prog, lineno);
			bad++;
		} else if ((buf = record_render(rec, &len)) == NULL ||
		           journal_write_record(j, coll, id, buf, len, &why)) {
			fprintf(stderr, "%s import: line %lu: %s/%s: %s\n", cli_prog, lineno, coll,
			        id, why ? why : strerror(errno));
			bad++;
			free(buf);
		} else {
			done++;
			free(buf);
		}
		json_decref(o);
	}
	free(line);
	if (ferror(stdin)) {
		fprintf(stderr, "%s import: reading: %s\n", cli_prog, strerror(errno));
		bad++;
	}
	if (journal_sync(j)) {
		fprintf(stderr, "%s import: %s\n", cli_prog, strerror(errno));
		bad++;
	}
	close_sealed(j, s);
	free(db);
	fprintf(stderr, "%s import: %lu records written%s", cli_prog, done, bad ? ", " : "\n");
	if (bad)
		fprintf(stderr, "%lu errors\n", bad);
	return bad ? 1 : 0;
}

/* ---- conflicts / resolve ---- */

/* The conflicts (of one record, or all when coll is NULL), each entry with
 * its device's name and time added.  A new array, or NULL. */
static json_t *
conflicts(struct journal *j, const char *coll, const char *rec)
{
	char *text = journal_conflicts_json(j, coll, rec), t[64];
	json_t *a = text ? json_loads(text, 0, NULL) : NULL, *names, *c, *e;
	size_t i, k;

	free(text);
	if (a == NULL)
		return NULL;
	names = device_names(j);
	json_array_foreach (a, i, c)
		json_array_foreach (json_object_get(c, "entries"), k, e) {
			const char *dev = json_string_value(json_object_get(e, "device"));

			when((uint64_t)json_integer_value(json_object_get(e, "hlc")), t, sizeof(t));
			json_object_set_new(e, "name", json_string(name_of(names, dev)));
			json_object_set_new(e, "time", json_string(t));
			json_object_set_new(e, "shown", json_boolean(k == 0));
		}
	json_decref(names);
	return a;
}

static int
cmd_conflicts(int argc, char **argv)
{
	int as_json = argc == 3 && strcmp(argv[2], "--json") == 0;
	struct journal *j;
	char *db = NULL, *text;
	json_t *a, *c, *e;
	size_t i, k;

	if ((argc != 2 && !as_json) || argv[1][0] == '-') {
		fprintf(stderr, "Usage: %s conflicts DB|MNT [--json]\n", cli_prog);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	if ((j = open_db("conflicts", argv[1], JOURNAL_RDONLY, &db)) == NULL)
		return 1;
	a = conflicts(j, NULL, NULL);
	journal_close(j);
	free(db);
	if (a == NULL) {
		fprintf(stderr, "%s conflicts: %s: %s\n", cli_prog, argv[1], strerror(errno));
		return 1;
	}
	if (as_json) {
		text = json_dumps(a, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", text ? text : "[]");
		free(text);
	} else if (json_array_size(a) == 0) {
		printf("no conflicts\n");
	}
	if (!as_json)
		json_array_foreach (a, i, c) {
			printf("%s/%s.json  field %s:\n",
			       json_string_value(json_object_get(c, "collection")),
			       json_string_value(json_object_get(c, "record")),
			       json_string_value(json_object_get(c, "field")));
			json_array_foreach (json_object_get(c, "entries"), k, e) {
				text = json_dumps(json_object_get(e, "value"),
				                  JSON_COMPACT | JSON_ENCODE_ANY | JSON_SORT_KEYS);
				printf("  %s %-30s  %s (%s)  %s%s\n", k == 0 ? "*" : " ",
				       text ? text : "?",
				       json_string_value(json_object_get(e, "name")),
				       json_string_value(json_object_get(e, "device")),
				       json_string_value(json_object_get(e, "time")),
				       k == 0 ? "  (shown)" : "");
				free(text);
			}
		}
	json_decref(a);
	return 0;
}

#define RESOLVE_USAGE                                                                              \
	"Usage: %s resolve MNT/COLLECTION/ID.json FIELD --keep DEVICE | --value JSON\n"

static int
cmd_resolve(int argc, char **argv)
{
	char dir[PATH_MAX], file[PATH_MAX], id[NAME_MAX_BYTES + 1], *coll, *mnt, *db = NULL;
	char *value = NULL;
	const char *field, *pick = NULL, *newval = NULL;
	struct journal *j;
	struct seal *s;
	json_t *a, *c, *e, *target = NULL, *v;
	size_t i, k;
	int rc = 1;

	if (argc != 5 || (strcmp(argv[3], "--keep") != 0 && strcmp(argv[3], "--value") != 0)) {
		fprintf(argc == 2 && strcmp(argv[1], "--help") == 0 ? stdout : stderr,
		        RESOLVE_USAGE, cli_prog);
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 1;
	}
	field = argv[2];
	if (strcmp(argv[3], "--keep") == 0)
		pick = argv[4];
	else
		newval = argv[4];
	/* MNT/COLL/ID.json: the mount, the collection and the id. */
	snprintf(file, sizeof(file), "%s", argv[1]);
	snprintf(dir, sizeof(dir), "%s", argv[1]);
	if (record_file_id(basename(file), id)) {
		fprintf(stderr, "%s resolve: %s: not a record file (COLLECTION/ID.json)\n",
		        cli_prog, argv[1]);
		return 1;
	}
	mnt = dirname(dir);
	if ((coll = strrchr(mnt, '/')) == NULL) { /* COLL/ID.json, in the mount */
		coll = mnt;
		mnt = ".";
	} else if (coll == mnt) {
		fprintf(stderr, "%s resolve: %s: give the path in the mount, MNT/COLL/ID.json\n",
		        cli_prog, argv[1]);
		return 1;
	} else {
		*coll++ = '\0';
	}
	if ((j = open_sealed("resolve", mnt, &s, &db)) == NULL)
		return 1;
	if ((a = conflicts(j, coll, id)) == NULL) {
		fprintf(stderr, "%s resolve: %s: %s\n", cli_prog, argv[1], strerror(errno));
		goto out;
	}
	json_array_foreach (a, i, c)
		if (json_is_string(json_object_get(c, "field")) &&
		    strcmp(json_string_value(json_object_get(c, "field")), field) == 0)
			target = c;
	if (target == NULL) {
		fprintf(stderr, "%s resolve: %s: no conflict on field %s\n", cli_prog, argv[1],
		        field);
		goto out_a;
	}
	if (pick != NULL) {
		json_array_foreach (json_object_get(target, "entries"), k, e)
			if (value == NULL &&
			    (strcmp(json_string_value(json_object_get(e, "device")), pick) == 0 ||
			     strcmp(json_string_value(json_object_get(e, "name")), pick) == 0))
				value = record_value_text(json_object_get(e, "value"));
		if (value == NULL) {
			fprintf(stderr, "%s resolve: no value of %s from device %s\n", cli_prog,
			        field, pick);
			goto out_a;
		}
	} else {
		if ((v = json_loads(newval, JSON_DECODE_ANY, NULL)) == NULL) {
			fprintf(stderr, "%s resolve: %s is not a JSON value\n", cli_prog, newval);
			goto out_a;
		}
		value = record_value_text(v);
		json_decref(v);
	}
	if (value == NULL || journal_settle_field(j, coll, id, field, value) || journal_sync(j))
		fprintf(stderr, "%s resolve: %s: %s\n", cli_prog, argv[1], strerror(errno));
	else {
		printf("%s/%s.json %s = %s\n", coll, id, field, value);
		rc = 0;
	}
out_a:
	json_decref(a);
out:
	free(value);
	close_sealed(j, s);
	free(db);
	return rc;
}

/* The table entries of cli/main.c. */
int
cmd_history(int argc, char **argv)
{
	if (strcmp(argv[0], "log") == 0)
		return cmd_log(argc, argv);
	if (strcmp(argv[0], "export") == 0)
		return cmd_export(argc, argv);
	if (strcmp(argv[0], "import") == 0)
		return cmd_import(argc, argv);
	if (strcmp(argv[0], "conflicts") == 0)
		return cmd_conflicts(argc, argv);
	return cmd_resolve(argc, argv);
}
