/*
 * journal_clock: the clock local changes are stamped with, and what this
 * device knows of skewed clocks (see journal_int.h and journal.h).
 *
 * Why: a change's hlc orders it against concurrent ones (crdt_winner), so a
 * device whose wall clock runs ahead would win every concurrent edit.  The
 * network measures peers' clocks and, when this device is ahead of every
 * one of them by more than HLC_MAX_DRIFT_MS, sets an offset taken off the
 * wall for our stamps; a saved clock beyond the bound is brought back at
 * open and at every stamp; remote clocks beyond the bound are not merged.
 * The order itself stays a function of the stored changes only.
 *
 * Local metadata (never synced): "clock_offset" (u64 ms) and, per device
 * whose change came too far ahead, "clock_ahead/<devid>" -> u64 hlc of that
 * change | u64 our stamping clock (jn_wall) then.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "core/bytes.h"
#include "core/journal_int.h"

#define CLOCK_OFFSET_META "clock_offset"
#define CLOCK_AHEAD_META "clock_ahead/"

uint64_t
jn_wall(struct journal *j)
{
	uint64_t off = __atomic_load_n(&j->clock_offset, __ATOMIC_RELAXED);

	return hlc_wall_ms() - off;
}

void
jn_clock_open(struct journal *j, MDB_txn *txn)
{
	MDB_val v;

	if (jn_meta_get(j, txn, CLOCK_OFFSET_META, &v) == 0 && v.mv_size == 8)
		j->clock_offset = get64(v.mv_data);
	j->clock_dropped = hlc_bound(&j->clock, jn_wall(j));
}

uint64_t
jn_clock_stamp(struct journal *j)
{
	uint64_t wall = jn_wall(j);

	/* The offset just grew: the stamps made before were this device's skew,
	 * not time; the next ones start from the corrected wall. */
	if (__atomic_exchange_n(&j->clock_reset, 0, __ATOMIC_RELAXED) &&
	    j->clock.last > hlc_from_ms(wall))
		j->clock.last = hlc_from_ms(wall);
	/* A clock carried beyond the bound (the wall stepped back) comes back. */
	hlc_bound(&j->clock, wall);
	return hlc_now(&j->clock, wall);
}

int
jn_clock_recv(struct journal *j, MDB_txn *txn, const struct change *c)
{
	char key[sizeof(CLOCK_AHEAD_META) + DEVID_LEN];
	uint8_t b[16];
	uint64_t wall = jn_wall(j);
	int rc;

	change_devid(c->origin, key + snprintf(key, sizeof(key), CLOCK_AHEAD_META));
	if (hlc_recv(&j->clock, c->hlc, wall) == 0) {
		/* A change of that device within the bound: its clock is fine now
		 * (or was when it wrote this). */
		MDB_val k = jn_val(key, strlen(key));

		rc = mdb_del(txn, j->meta, &k, NULL);
		return rc == MDB_NOTFOUND ? 0 : rc;
	}
	be64(b, c->hlc);
	be64(b + 8, wall);
	return jn_meta_put(j, txn, key, b, 16);
}

uint64_t
jn_clock_mtime(struct journal *j, uint64_t hlc)
{
	uint64_t off = hlc_from_ms(__atomic_load_n(&j->clock_offset, __ATOMIC_RELAXED));
	uint64_t now = hlc_from_ms(hlc_wall_ms() + 1) - 1;

	/* Our stamps are the wall less the offset: add it back, so a change made
	 * here shows the time of this device's clock; and no change shows a time
	 * after this device's now, whatever its origin's clock said. */
	hlc += off;
	return hlc < now ? hlc : now;
}

int
journal_set_clock_offset(struct journal *j, uint64_t ms)
{
	uint8_t b[8];
	uint64_t old = __atomic_exchange_n(&j->clock_offset, ms, __ATOMIC_RELAXED);

	if (old == ms)
		return 0;
	if (ms > old)
		__atomic_store_n(&j->clock_reset, 1, __ATOMIC_RELAXED);
	/* Kept, so edits made offline after a restart are stamped alike. */
	be64(b, ms);
	return journal_meta_put(j, CLOCK_OFFSET_META, b, 8);
}

uint64_t
journal_clock_offset(struct journal *j)
{
	return __atomic_load_n(&j->clock_offset, __ATOMIC_RELAXED);
}

json_t *
journal_clock_json(struct journal *j)
{
	json_t *o = json_object(), *a = json_array();
	MDB_cursor *cur = NULL;
	MDB_txn *txn = NULL;
	MDB_val k = jn_val(CLOCK_AHEAD_META, strlen(CLOCK_AHEAD_META)), v;
	size_t pl = k.mv_size;
	int borrowed, rc, op = MDB_SET_RANGE;

	if (o == NULL || a == NULL)
		goto err;
	json_object_set_new(o, "offset_ms", json_integer((json_int_t)journal_clock_offset(j)));
	json_object_set_new(o, "saved_clock_dropped_ms",
	                    json_integer((json_int_t)j->clock_dropped));
	if ((rc = jn_read_begin(j, &txn, &borrowed)))
		goto err;
	if ((rc = mdb_cursor_open(txn, j->meta, &cur)) == 0) {
		while ((rc = mdb_cursor_get(cur, &k, &v, op)) == 0 && k.mv_size > pl &&
		       memcmp(k.mv_data, CLOCK_AHEAD_META, pl) == 0) {
			json_t *e;

			op = MDB_NEXT;
			if (v.mv_size != 16)
				continue;
			e = json_pack("{s:s%, s:I, s:I}", "device", (char *)k.mv_data + pl,
			              k.mv_size - pl, "ahead_ms",
			              (json_int_t)(hlc_ms(get64(v.mv_data)) -
			                           get64((uint8_t *)v.mv_data + 8)),
			              "seen_ms", (json_int_t)get64((uint8_t *)v.mv_data + 8));
			if (e != NULL)
				json_array_append_new(a, e);
		}
		mdb_cursor_close(cur);
	}
	jn_read_end(txn, borrowed);
	json_object_set_new(o, "changes_ahead", a);
	return o;
err:
	json_decref(o);
	json_decref(a);
	errno = ENOMEM;
	return NULL;
}
