#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <lmdb.h>
#include <sodium.h>

#include "core/bytes.h"
#include "core/journal_int.h"

int
jn_vv_load(struct journal *j, MDB_txn *txn, struct vv *out)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc, op = MDB_FIRST;

	memset(out, 0, sizeof(*out));
	if ((rc = mdb_cursor_open(txn, j->vv, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0) {
			op = MDB_NEXT;
			if (k.mv_size == 8 && v.mv_size == 8 &&
			    vv_set(out, get64(k.mv_data), get64(v.mv_data))) {
				rc = ENOMEM;
				break;
			}
		}
		mdb_cursor_close(cur);
	}
	if (rc == MDB_NOTFOUND)
		return 0;
	vv_clear(out);
	return rc;
}

int
journal_vv(struct journal *j, struct vv *out)
{
	MDB_txn *txn;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = jn_snapshot(j, &txn)))
		return jn_errno(rc);
	rc = jn_vv_load(j, txn, out);
	mdb_txn_abort(txn);
	return jn_errno(rc);
}

struct remote_arg {
	struct jn_batch b;
	int *results;
	struct touched t; /* every record the batch touched (repeats too), for the observer */
};

/* Applies one blob in txn: an enum journal_result (a refusal writes nothing,
 * an equivocation only its evidence); an LMDB failure is returned in *rc. */
static int
remote_one(struct journal *j, MDB_txn *txn, struct jn_batch *b, size_t i, struct touched *all,
           int *rc)
{
	const uint8_t *blob = b->blobs[i];
	size_t len = b->lens[i];
	struct touched t = {0};
	struct change *c = NULL;
	uint8_t *plain = NULL;
	const uint8_t *p = blob;
	uint64_t origin, seq, have;
	size_t n = len;
	int result = JOURNAL_REFUSED;

	*rc = 0;
	if (change_peek(blob, len, &origin, &seq) || seq == 0)
		return JOURNAL_REFUSED;
	have = jn_vv_get(j, txn, origin);
	if (j->trust && (result = jn_trust_check(j, txn, b, i, origin, seq, have, rc)) != 0)
		return result;
	if (seq <= have)
		return JOURNAL_DUPLICATE;
	if (seq > have + 1)
		return JOURNAL_GAP;
	result = JOURNAL_REFUSED;
	if (j->crypto.open != NULL) {
		/* A key this device has not been given yet: not a forgery. */
		if (j->crypto.open(j->crypto.ctx, blob, len, &plain, &n))
			return errno == ENOKEY ? JOURNAL_GAP : JOURNAL_REFUSED;
		p = plain;
	} else if (j->trust) {
		n -= CHANGE_SIG_BYTES; /* checked: longer than a signature */
	}
	if (change_decode(p, n, &c) != 0 || c->origin != origin || c->seq != seq)
		goto out;
	if (j->trust && (result = jn_trust_allowed(j, txn, c, rc)) != 0)
		goto out;
	result = JOURNAL_REFUSED;
	/* A clock far ahead is stored as is but does not drag ours along. */
	if ((*rc = jn_clock_recv(j, txn, c)) == 0 &&
	    (*rc = jn_commit_change(j, txn, c, blob, len, &t, NULL, NULL, NULL, 0)) == 0) {
		result = JOURNAL_APPLIED;
		b->last = i + 1;
		b->last_origin = origin;
		b->last_seq = seq;
	}
	if (*rc == 0)
		*rc = jn_touched_move(all, &t);
out:
	jn_touched_clear(&t);
	change_free(c);
	free(plain);
	return result;
}

static int
remote_fn(struct journal *j, MDB_txn *txn, void *arg)
{
	struct remote_arg *a = arg;
	size_t i;
	int rc, any = 0;

	jn_touched_clear(&a->t);
	a->b.last = 0; /* a retried transaction starts over */
	for (i = 0; i < a->b.n; i++) {
		a->results[i] = remote_one(j, txn, &a->b, i, &a->t, &rc);
		if (rc)
			return rc;
		/* Evidence of an equivocation is kept too. */
		any |= a->results[i] == JOURNAL_APPLIED || a->results[i] == JOURNAL_EQUIVOCATION;
	}
	return any ? 0 : TXN_NOOP;
}

int
journal_apply_batch(struct journal *j, const uint8_t *const *blobs, const size_t *lens, size_t n,
                    int *results)
{
	struct remote_arg a = {{blobs, lens, n, NULL, NULL, 0, 0, 0}, results, {0}};
	size_t i;
	int rc = -1;

	if ((a.b.auth = calloc(n ? n : 1, 1)) == NULL ||
	    (j->trust && (a.b.hash = malloc((n ? n : 1) * CHANGE_PREV_BYTES)) == NULL))
		goto out;
	for (i = 0; j->trust && i < n; i++)
		crypto_generichash(a.b.hash[i], CHANGE_PREV_BYTES, blobs[i], lens[i], NULL, 0);
	if ((rc = jn_write(j, remote_fn, &a)) == 0 && j->observer != NULL) {
		jn_touched_uniq(&a.t);
		for (i = 0; i < a.t.n; i++)
			j->observer(j->observer_ctx, a.t.t[i].coll, a.t.t[i].rec);
	}
out:
	jn_touched_clear(&a.t);
	free(a.b.auth);
	free(a.b.hash);
	return rc;
}

int
journal_apply_remote(struct journal *j, const uint8_t *blob, size_t len)
{
	int result;

	if (journal_apply_batch(j, &blob, &len, 1, &result))
		return -1;
	if (result < 0)
		errno = EINVAL;
	return result;
}

long
journal_missing(struct journal *j, const struct vv *have, size_t max_bytes, journal_blob_cb *cb,
                void *ctx)
{
	return journal_missing_from(j, have, NULL, NULL, max_bytes, cb, ctx);
}

long
journal_missing_from(struct journal *j, const struct vv *have, journal_origin_fn *want, void *wctx,
                     size_t max_bytes, journal_blob_cb *cb, void *ctx)
{
	MDB_cursor *cc = NULL;
	MDB_txn *txn;
	MDB_val ck, cv;
	uint8_t id[16];
	uint64_t *origins = NULL;
	size_t bytes = 0, norigins = 0, i;
	long count = 0;
	int rc, stop = 0;

	/* D4: nothing leaves this device before it is durable here: the
	 * snapshot's transaction is synced before the first change is handed
	 * out (and not at all when there is none: a device catching up asks
	 * after each batch it applies). */
	if ((rc = jn_snapshot(j, &txn)))
		return jn_errno(rc);
	/* Members in the order this device learnt of them, so a receiver has
	 * applied the change that made a device a member before its changes. */
	if ((rc = jn_trust_order(j, txn, &origins, &norigins)) ||
	    (rc = mdb_cursor_open(txn, j->changes, &cc)))
		goto out;
	for (i = 0; !stop && i < norigins; i++) {
		uint64_t origin = origins[i], top = jn_vv_get(j, txn, origin);
		uint64_t from = vv_get(have, origin) + 1;
		int cop = MDB_SET_KEY;

		if (from > top || (want != NULL && !want(wctx, origin)))
			continue;
		be64(id, origin);
		be64(id + 8, from);
		ck = jn_val(id, 16);
		while ((rc = mdb_cursor_get(cc, &ck, &cv, cop)) == 0) {
			cop = MDB_NEXT;
			if (ck.mv_size != 16 || get64(ck.mv_data) != origin)
				break;
			if (count > 0 && bytes + cv.mv_size > max_bytes) {
				stop = 1;
				break;
			}
			/* Sealed with a key the peer cannot have yet: this
			 * origin waits until the peer has the key's hand-out. */
			if (!jn_trust_ready(j, txn, cv.mv_data, cv.mv_size, have))
				break;
			if (count == 0 && (rc = jn_durable(j, txn)))
				goto out;
			bytes += cv.mv_size;
			count++;
			if (cb(ctx, origin, get64((uint8_t *)ck.mv_data + 8), cv.mv_data,
			       cv.mv_size)) {
				stop = 1;
				break;
			}
		}
		if (rc != 0 && rc != MDB_NOTFOUND)
			goto out;
	}
	rc = 0;
out:
	mdb_cursor_close(cc);
	mdb_txn_abort(txn);
	free(origins);
	if (rc && rc != MDB_NOTFOUND)
		return jn_errno(rc);
	return count;
}

int
journal_get_change(struct journal *j, uint64_t origin, uint64_t seq, uint8_t **blob, size_t *len)
{
	uint8_t id[16];
	MDB_val k = jn_val(id, 16), v;
	MDB_txn *txn;
	int rc;

	*blob = NULL;
	*len = 0;
	be64(id, origin);
	be64(id + 8, seq);
	if ((rc = jn_snapshot_synced(j, &txn)))
		return jn_errno(rc);
	if ((rc = mdb_get(txn, j->changes, &k, &v)) == 0) {
		if ((*blob = malloc(v.mv_size)) == NULL) {
			rc = ENOMEM;
		} else {
			memcpy(*blob, v.mv_data, v.mv_size);
			*len = v.mv_size;
		}
	}
	mdb_txn_abort(txn);
	return jn_errno(rc);
}
