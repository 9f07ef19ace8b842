#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <lmdb.h>

#include "core/bytes.h"
#include "core/journal_int.h"
#include "core/record.h"

/* ---- reads ---- */

int
jn_stat(struct journal *j, MDB_txn *txn, const char *coll, const char *rec, struct journal_stat *st)
{
	const char *p;
	MDB_val v;
	int rc;

	memset(st, 0, sizeof(*st));
	if ((rc = jn_record_get(j, txn, coll, rec, &v)) == 0) {
		jn_visible(&v, &p, &st->size);
		st->version = get64(v.mv_data);
		st->mtime_ms = hlc_ms(st->version);
	}
	return rc;
}

int
journal_stat_record(struct journal *j, const char *coll, const char *rec, struct journal_stat *st)
{
	MDB_txn *txn;
	int rc, borrowed;

	memset(st, 0, sizeof(*st));
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	rc = jn_stat(j, txn, coll, rec, st);
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}

int
journal_read_record(struct journal *j, const char *coll, const char *rec, char **buf, size_t *len)
{
	MDB_txn *txn;
	int borrowed;
	MDB_val v;
	const char *p;
	int rc;

	*buf = NULL;
	*len = 0;
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	if ((rc = jn_record_get(j, txn, coll, rec, &v)) == 0) {
		jn_visible(&v, &p, len);
		if ((*buf = malloc(*len + 1)) == NULL) {
			rc = ENOMEM;
		} else {
			memcpy(*buf, p, *len);
			(*buf)[*len] = '\0';
		}
	}
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}

int
journal_col_exists(struct journal *j, const char *coll)
{
	MDB_txn *txn;
	int borrowed;
	MDB_val key = jn_val(coll, strlen(coll)), v;
	int rc;

	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	rc = mdb_get(txn, j->cols, &key, &v);
	jn_read_end(txn, borrowed);
	if (rc == MDB_NOTFOUND)
		return 0;
	return rc ? jn_errno(rc) : 1;
}

/* Lists keys of db that start with prefix, after prefix+after, passing the
 * rest of the key (NUL-terminated) to cb. */
static int
jn_list(struct journal *j, MDB_dbi db, const uint8_t *prefix, size_t pl, const char *after,
        journal_list_cb *cb, void *ctx)
{
	char name[CRDT_KEY_MAX];
	uint8_t k[CRDT_KEY_MAX];
	size_t al = strlen(after);
	MDB_cursor *cur;
	MDB_txn *txn;
	int borrowed;
	MDB_val key, v;
	int rc, op = MDB_SET_RANGE;

	if (pl + al >= sizeof(k)) {
		errno = EINVAL;
		return -1;
	}
	memcpy(k, prefix, pl);
	memcpy(k + pl, after, al);
	key = jn_val(k, pl + al);
	if (pl + al == 0)
		op = MDB_FIRST; /* LMDB refuses empty keys */
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	if ((rc = mdb_cursor_open(txn, db, &cur))) {
		jn_read_end(txn, borrowed);
		return jn_errno(rc);
	}
	while ((rc = mdb_cursor_get(cur, &key, &v, op)) == 0) {
		op = MDB_NEXT;
		if (key.mv_size < pl || memcmp(key.mv_data, prefix, pl) != 0)
			break;
		if (key.mv_size - pl >= sizeof(name))
			continue;
		memcpy(name, (char *)key.mv_data + pl, key.mv_size - pl);
		name[key.mv_size - pl] = '\0';
		if (al > 0 && strcmp(name, after) <= 0)
			continue;
		if (cb(ctx, name))
			break;
	}
	mdb_cursor_close(cur);
	jn_read_end(txn, borrowed);
	return rc == MDB_NOTFOUND ? 0 : jn_errno(rc);
}

int
journal_list_cols(struct journal *j, const char *after, journal_list_cb *cb, void *ctx)
{
	return jn_list(j, j->cols, (const uint8_t *)"", 0, after, cb, ctx);
}

int
journal_list_records(struct journal *j, const char *coll, const char *after, journal_list_cb *cb,
                     void *ctx)
{
	uint8_t k[CRDT_KEY_MAX];

	if (strcmp(coll, ".devices") != 0 && jn_names_valid(coll, NULL))
		return -1;
	return jn_list(j, j->records, k, crdt_record_key(k, coll, ""), after, cb, ctx);
}

int
journal_list_rejects(struct journal *j, const char *coll, const char *after, journal_list_cb *cb,
                     void *ctx)
{
	uint8_t k[CRDT_KEY_MAX];

	if (jn_names_valid(coll, NULL))
		return -1;
	return jn_list(j, j->rejects, k, crdt_record_key(k, coll, ""), after, cb, ctx);
}

int
journal_vv_read(struct journal *j, struct vv *out)
{
	MDB_txn *txn;
	int rc, borrowed;

	memset(out, 0, sizeof(*out));
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	rc = jn_vv_load(j, txn, out);
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}

/* The txn id of the first entry of dir/wal (wal.h: "BWL2" | u32 | 16-byte
 * hash | u64 txn), 0 if the wal is empty or absent, 1 if it is of the old
 * format or cut short. */
static uint64_t
jn_wal_head(const char *dir)
{
	char path[4096];
	uint8_t h[32];
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/wal", dir) >= sizeof(path) ||
	    (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return 0;
	n = pread(fd, h, sizeof(h), 0);
	close(fd);
	if (n <= 0)
		return 0;
	if (n < (ssize_t)sizeof(h) || memcmp(h, "BWL2", 4) != 0)
		return 1;
	return get64(h + 24) ? get64(h + 24) : 1;
}

int
journal_wait_settled(const char *dir, int timeout_ms)
{
	uint64_t first = jn_wal_head(dir), now;
	struct timespec ms = {0, 1000000};

	/* The mount cuts the wal right after each commit (README
	 * "Durability"): the batch seen now is committed once the wal is empty
	 * or starts with a later batch. */
	if (first == 0)
		return 0;
	for (int i = 0; i < timeout_ms; i++) {
		nanosleep(&ms, NULL);
		if ((now = jn_wal_head(dir)) == 0 || now != first)
			return 0;
	}
	errno = ETIMEDOUT;
	return -1;
}

/* How many keys of db start with the n bytes of prefix. */
static int
jn_count_prefix(MDB_txn *txn, MDB_dbi db, const char *prefix, size_t n, uint64_t *count)
{
	MDB_cursor *cur;
	MDB_val k = jn_val(prefix, n), v;
	int rc, op = MDB_SET_RANGE;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, db, &cur)))
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0 && k.mv_size >= n &&
	       memcmp(k.mv_data, prefix, n) == 0) {
		op = MDB_NEXT;
		(*count)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND || rc == 0 ? 0 : rc;
}

/*
 * The registers listed in conflicts that hold one (a database written before
 * equal values stopped counting may list others until they are written).
 */
static int
jn_count_conflicts(struct journal *j, MDB_txn *txn, uint64_t *count)
{
	MDB_cursor *cur;
	MDB_val k, v, x;
	struct crdt_reg r;
	int rc, op = MDB_FIRST;

	*count = 0;
	if ((rc = mdb_cursor_open(txn, j->conflicts, &cur)))
		return rc;
	while ((rc = mdb_cursor_get(cur, &k, &x, op)) == 0) {
		op = MDB_NEXT;
		if (mdb_get(txn, j->fields, &k, &v) != 0 ||
		    crdt_reg_decode(v.mv_data, v.mv_size, &r) != 0)
			continue;
		*count += crdt_reg_conflict(&r) != 0;
		crdt_reg_clear(&r);
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
journal_counts(struct journal *j, uint64_t *ncols, uint64_t *nrecs, uint64_t *nconflicts)
{
	MDB_txn *txn;
	int borrowed;
	MDB_stat st;
	uint64_t n;
	int rc;

	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	if ((rc = mdb_stat(txn, j->cols, &st)) == 0) {
		*ncols = st.ms_entries;
		if ((rc = mdb_stat(txn, j->records, &st)) == 0) {
			*nrecs = st.ms_entries;
			rc = jn_count_conflicts(j, txn, nconflicts);
		}
	}
	/* The internal .devices collection is not the user's. */
	if (rc == 0 && (rc = jn_count_prefix(txn, j->records, ".devices", 9, &n)) == 0) {
		*nrecs -= n;
		if ((rc = jn_count_prefix(txn, j->cols, ".devices", 8, &n)) == 0)
			*ncols -= n;
	}
	jn_read_end(txn, borrowed);
	return jn_errno(rc);
}

/* ---- conflicts ---- */

static json_t *
jn_conflict_json(struct journal *j, MDB_txn *txn, const MDB_val *k, const struct crdt_reg *r)
{
	const char *coll = k->mv_data;
	const char *rec = coll + strlen(coll) + 1;
	char id[DEVID_LEN + 1];
	json_t *o, *entries, *e;
	size_t w = jn_winner(j, txn, r), i, n;

	o = json_object();
	entries = json_array();
	if (o == NULL || entries == NULL)
		goto err;
	json_object_set_new(o, "collection", json_string(coll));
	json_object_set_new(o, "record", json_string(rec));
	json_object_set_new(o, "field", r->field ? json_string(r->field) : json_null());
	json_object_set_new(o, "value", record_value_parse(r->e[w].value, r->e[w].vlen));
	for (n = 0; n < r->n; n++) {
		i = n == 0 ? w : (n <= w ? n - 1 : n);
		change_devid(r->e[i].origin, id);
		e = json_object();
		json_object_set_new(e, "device", json_string(id));
		json_object_set_new(e, "hlc", json_integer((json_int_t)r->e[i].hlc));
		json_object_set_new(e, "value", record_value_parse(r->e[i].value, r->e[i].vlen));
		json_array_append_new(entries, e);
	}
	json_object_set_new(o, "entries", entries);
	return o;
err:
	json_decref(o);
	json_decref(entries);
	return NULL;
}

char *
journal_conflicts_json(struct journal *j, const char *coll, const char *rec)
{
	uint8_t p[CRDT_KEY_MAX];
	size_t pl = 0;
	MDB_cursor *cur;
	MDB_txn *txn;
	int borrowed;
	MDB_val k, v, x;
	struct crdt_reg r;
	json_t *arr;
	char *s = NULL;
	int rc, op = MDB_SET_RANGE;

	if (coll != NULL) {
		pl = crdt_record_key(p, coll, rec);
		p[pl++] = 0;
	}
	if ((arr = json_array()) == NULL)
		return NULL;
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		goto out;
	if ((rc = mdb_cursor_open(txn, j->conflicts, &cur))) {
		jn_read_end(txn, borrowed);
		goto out;
	}
	k = jn_val(p, pl);
	if (pl == 0)
		op = MDB_FIRST;
	while ((rc = mdb_cursor_get(cur, &k, &x, op)) == 0) {
		op = MDB_NEXT;
		if (k.mv_size < pl || memcmp(k.mv_data, p, pl) != 0)
			break;
		if (mdb_get(txn, j->fields, &k, &v) != 0 ||
		    crdt_reg_decode(v.mv_data, v.mv_size, &r) != 0)
			continue;
		/* Databases written before equal values stopped counting may
		 * still list such a register. */
		if (crdt_reg_conflict(&r))
			json_array_append_new(arr, jn_conflict_json(j, txn, &k, &r));
		crdt_reg_clear(&r);
	}
	mdb_cursor_close(cur);
	jn_read_end(txn, borrowed);
	rc = rc == MDB_NOTFOUND ? 0 : rc;
out:
	if (rc == 0)
		s = json_dumps(arr, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(arr);
	if (rc)
		jn_errno(rc);
	return s;
}
