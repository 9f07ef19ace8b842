#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <lmdb.h>

#include "core/journal_int.h"

int
jn_reject_del(struct journal *j, MDB_txn *txn, const char *coll, const char *rec)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = jn_val(k, crdt_record_key(k, coll, rec));
	int rc = mdb_del(txn, j->rejects, &key, NULL);

	return rc == MDB_NOTFOUND ? 0 : rc;
}

struct reject_arg {
	const char *coll, *rec, *why, *buf;
	size_t len;
};

static int
reject_put_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct reject_arg *a = arg;
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key = jn_val(k, crdt_record_key(k, a->coll, a->rec)), v;
	size_t wl = strlen(a->why);
	char *b;
	int rc;

	if ((b = malloc(wl + 1 + a->len)) == NULL)
		return ENOMEM;
	memcpy(b, a->why, wl + 1);
	memcpy(b + wl + 1, a->buf, a->len);
	v = jn_val(b, wl + 1 + a->len);
	rc = mdb_put(txn, j->rejects, &key, &v, 0);
	free(b);
	return rc;
}

int
journal_reject_put(struct journal *j, const char *coll, const char *rec, const char *why,
                   const char *buf, size_t len)
{
	struct reject_arg a = {coll, rec, why, buf, len};
	struct wal_arg w[4] = {
	    {coll, strlen(coll)}, {rec, strlen(rec)}, {why, strlen(why)}, {buf, len}};

	if (jn_names_valid(coll, rec))
		return -1;
	return jn_local(j, reject_put_fn, &a, WAL_REJECT_PUT, w, 4);
}

int
journal_reject_get(struct journal *j, const char *coll, const char *rec, char **buf, size_t *len,
                   char **why)
{
	uint8_t k[CRDT_KEY_MAX];
	MDB_val key, v;
	MDB_txn *txn;
	int borrowed;
	size_t wl;
	int rc;

	*buf = NULL;
	*why = NULL;
	*len = 0;
	if (jn_names_valid(coll, rec))
		return -1;
	key = jn_val(k, crdt_record_key(k, coll, rec));
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		return jn_errno(rc);
	if ((rc = mdb_get(txn, j->rejects, &key, &v)) == 0) {
		wl = strnlen(v.mv_data, v.mv_size);
		if (wl == v.mv_size) {
			rc = EIO;
		} else if ((*why = strdup(v.mv_data)) == NULL ||
		           (*buf = malloc(v.mv_size - wl)) == NULL) {
			rc = ENOMEM;
		} else {
			*len = v.mv_size - wl - 1;
			memcpy(*buf, (char *)v.mv_data + wl + 1, *len);
			(*buf)[*len] = '\0';
		}
	}
	jn_read_end(txn, borrowed);
	if (rc) {
		free(*why);
		free(*buf);
		*why = NULL;
		*buf = NULL;
	}
	return jn_errno(rc);
}

static int
reject_del_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct reject_arg *a = arg;

	return jn_reject_del(j, txn, a->coll, a->rec);
}

int
journal_reject_del(struct journal *j, const char *coll, const char *rec)
{
	struct reject_arg a = {coll, rec, NULL, NULL, 0};
	struct wal_arg w[2] = {{coll, strlen(coll)}, {rec, strlen(rec)}};

	if (jn_names_valid(coll, rec))
		return -1;
	return jn_local(j, reject_del_fn, &a, WAL_REJECT_DEL, w, 2);
}

char *
journal_rejects_json(struct journal *j)
{
	MDB_cursor *cur;
	MDB_txn *txn;
	int borrowed;
	MDB_val k, v;
	json_t *arr, *o;
	char *s = NULL;
	int rc, op = MDB_FIRST;

	if ((arr = json_array()) == NULL)
		return NULL;
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		goto out;
	if ((rc = mdb_cursor_open(txn, j->rejects, &cur))) {
		jn_read_end(txn, borrowed);
		goto out;
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
		const char *coll = k.mv_data;
		size_t cl = strnlen(coll, k.mv_size);

		op = MDB_NEXT;
		if (cl == k.mv_size || strnlen(v.mv_data, v.mv_size) == v.mv_size)
			continue;
		o = json_object();
		json_object_set_new(o, "collection", json_stringn(coll, cl));
		json_object_set_new(o, "record", json_stringn(coll + cl + 1, k.mv_size - cl - 1));
		json_object_set_new(o, "error", json_string(v.mv_data));
		json_array_append_new(arr, o);
	}
	mdb_cursor_close(cur);
	jn_read_end(txn, borrowed);
	rc = rc == MDB_NOTFOUND ? 0 : rc;
out:
	if (rc == 0)
		s = json_dumps(arr, JSON_INDENT(2));
	json_decref(arr);
	if (rc)
		jn_errno(rc);
	return s;
}
